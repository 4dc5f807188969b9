# cython: language_level=3
"""ITU-T G.711 u-law and A-law, compiled.

The twin of ``_g711_py.py``: same API, same bytes.  The tables are filled at import from the same
segment formulas (G.711 decision levels as in ITU-T G.191), then each call is one table lookup per
sample with no Python objects in the loop.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdint cimport int16_t, uint8_t

cdef int ULAW_BIAS = 0x84
cdef uint8_t ULAW_ENC[16384]
cdef uint8_t ALAW_ENC[8192]
cdef int16_t ULAW_DEC[256]
cdef int16_t ALAW_DEC[256]


cdef inline int _top_bit_segment(int v) noexcept:
    # Segment number from the position of the highest set bit of (v | 0xFF), minus 7.
    cdef int seg = 0
    v = (v | 0xFF) >> 8
    while v:
        seg += 1
        v >>= 1
    return seg


cdef uint8_t _ulaw_encode_sample(int x) noexcept:
    cdef int v, mask, seg
    if x < 0:
        v = ULAW_BIAS + ~x
        mask = 0x7F
    else:
        v = ULAW_BIAS + x
        mask = 0xFF
    seg = _top_bit_segment(v)
    if seg >= 8:
        return <uint8_t>(0x7F ^ mask)
    return <uint8_t>(((seg << 4) | ((v >> (seg + 3)) & 0x0F)) ^ mask)


cdef uint8_t _alaw_encode_sample(int x) noexcept:
    cdef int v, mask, seg, shift
    if x < 0:
        v = ~x
        mask = 0x55
    else:
        v = x
        mask = 0xD5
    seg = _top_bit_segment(v)
    if seg >= 8:
        return <uint8_t>(0x7F ^ mask)
    shift = seg + 3 if seg else 4
    return <uint8_t>(((seg << 4) | ((v >> shift) & 0x0F)) ^ mask)


cdef int16_t _ulaw_decode_code(int code) noexcept:
    cdef int u = (~code) & 0xFF
    cdef int t = (((u & 0x0F) << 3) + ULAW_BIAS) << ((u & 0x70) >> 4)
    return <int16_t>(ULAW_BIAS - t if u & 0x80 else t - ULAW_BIAS)


cdef int16_t _alaw_decode_code(int code) noexcept:
    cdef int a = code ^ 0x55
    cdef int i = (a & 0x0F) << 4
    cdef int seg = (a & 0x70) >> 4
    if seg:
        i = (i + 0x108) << (seg - 1)
    else:
        i = i + 8
    return <int16_t>(i if a & 0x80 else -i)


cdef void _fill_tables() noexcept:
    cdef int i
    for i in range(16384):
        ULAW_ENC[i] = _ulaw_encode_sample((i - 0x4000 if i & 0x2000 else i) << 2)
    for i in range(8192):
        ALAW_ENC[i] = _alaw_encode_sample((i - 0x2000 if i & 0x1000 else i) << 3)
    for i in range(256):
        ULAW_DEC[i] = _ulaw_decode_code(i)
        ALAW_DEC[i] = _alaw_decode_code(i)


_fill_tables()


cdef inline Py_ssize_t _sample_count(Py_ssize_t nbytes) except -1:
    if nbytes % 2:
        raise ValueError("linear audio must be whole 16-bit samples (odd byte count)")
    return nbytes // 2


def lin2ulaw(const unsigned char[::1] data) -> bytes:
    """Encode 16-bit signed little-endian linear samples to u-law, one byte per sample."""
    cdef Py_ssize_t n = _sample_count(data.shape[0])
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    cdef uint8_t *o = <uint8_t *>PyBytes_AS_STRING(out)
    cdef Py_ssize_t i
    cdef int16_t s
    for i in range(n):
        s = <int16_t>(data[2 * i] | (data[2 * i + 1] << 8))
        o[i] = ULAW_ENC[(s >> 2) & 0x3FFF]
    return out


def lin2alaw(const unsigned char[::1] data) -> bytes:
    """Encode 16-bit signed little-endian linear samples to A-law, one byte per sample."""
    cdef Py_ssize_t n = _sample_count(data.shape[0])
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    cdef uint8_t *o = <uint8_t *>PyBytes_AS_STRING(out)
    cdef Py_ssize_t i
    cdef int16_t s
    for i in range(n):
        s = <int16_t>(data[2 * i] | (data[2 * i + 1] << 8))
        o[i] = ALAW_ENC[(s >> 3) & 0x1FFF]
    return out


cdef bytes _decode(const unsigned char[::1] data, const int16_t *table):
    cdef Py_ssize_t n = data.shape[0]
    cdef bytes out = PyBytes_FromStringAndSize(NULL, 2 * n)
    cdef uint8_t *o = <uint8_t *>PyBytes_AS_STRING(out)
    cdef Py_ssize_t i
    cdef int16_t s
    for i in range(n):
        s = table[data[i]]
        o[2 * i] = <uint8_t>(s & 0xFF)
        o[2 * i + 1] = <uint8_t>((s >> 8) & 0xFF)
    return out


def ulaw2lin(const unsigned char[::1] data) -> bytes:
    """Decode u-law bytes to 16-bit signed little-endian linear samples."""
    return _decode(data, ULAW_DEC)


def alaw2lin(const unsigned char[::1] data) -> bytes:
    """Decode A-law bytes to 16-bit signed little-endian linear samples."""
    return _decode(data, ALAW_DEC)
