# cython: language_level=3
"""ITU-T G.711 u-law and A-law, compiled.

The twin of ``_g711_py.py``: same API, same bytes.  The tables are filled at import from the same
segment formulas (G.711 decision levels as in ITU-T G.191), then each call is one table lookup per
sample with no Python objects in the loop.

u-law <-> A-law conversion is G.711 section 4 (Tables 3 and 4): the code of the other law nearest in
level (dBm0), sign kept; see ``_g711_py`` for the derivation.  One 256-byte table lookup per byte.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.math cimport fabs, pow
from libc.stdint cimport int16_t, uint8_t, uint16_t

cdef int ULAW_BIAS = 0x84
cdef uint8_t ULAW_ENC[16384]
cdef uint8_t ALAW_ENC[8192]
cdef int16_t ULAW_DEC[256]
cdef int16_t ALAW_DEC[256]
# The decoders' output as 16-bit words already in little-endian byte order, whatever the host's.
cdef uint16_t ULAW_DEC_LE[256]
cdef uint16_t ALAW_DEC_LE[256]
cdef uint8_t ULAW_TO_ALAW[256]
cdef uint8_t ALAW_TO_ULAW[256]
# G.711 Tables 1a/2a: load capacity +3.17 dBm0 (u-law, 32636 linear) and +3.14 dBm0 (A-law, 32768 linear).
cdef double U_TO_A_SCALE = (32768.0 / 32636.0) * pow(10.0, (3.17 - 3.14) / 20.0)


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


cdef void _fill_transcode(const int16_t *src, const int16_t *dst, double scale, uint8_t *table) noexcept:
    # For each code, the code of the other law with the nearest level and the same sign.
    cdef int code, candidate, best
    cdef double magnitude, distance, best_distance
    for code in range(256):
        magnitude = fabs(<double>src[code]) * scale
        best = -1
        best_distance = 1e300
        for candidate in range(256):
            if (candidate & 0x80) != (code & 0x80):
                continue
            distance = fabs(fabs(<double>dst[candidate]) - magnitude)
            if distance < best_distance:
                best = candidate
                best_distance = distance
        table[code] = <uint8_t>best


cdef inline uint16_t _le(uint16_t v, bint little) noexcept:
    return v if little else <uint16_t>((v >> 8) | (v << 8))


cdef void _fill_tables() noexcept:
    cdef int i
    for i in range(16384):
        ULAW_ENC[i] = _ulaw_encode_sample((i - 0x4000 if i & 0x2000 else i) << 2)
    for i in range(8192):
        ALAW_ENC[i] = _alaw_encode_sample((i - 0x2000 if i & 0x1000 else i) << 3)
    for i in range(256):
        ULAW_DEC[i] = _ulaw_decode_code(i)
        ALAW_DEC[i] = _alaw_decode_code(i)
    cdef uint16_t probe = 1
    cdef bint little = (<uint8_t *>&probe)[0] == 1
    for i in range(256):
        ULAW_DEC_LE[i] = _le(<uint16_t>ULAW_DEC[i], little)
        ALAW_DEC_LE[i] = _le(<uint16_t>ALAW_DEC[i], little)
    _fill_transcode(ULAW_DEC, ALAW_DEC, U_TO_A_SCALE, ULAW_TO_ALAW)
    _fill_transcode(ALAW_DEC, ULAW_DEC, 1.0 / U_TO_A_SCALE, ALAW_TO_ULAW)


_fill_tables()


cdef class _Input:
    # The bytes of an argument: bytes objects directly (no buffer protocol round trip), anything else
    # through the buffer protocol.
    cdef Py_buffer view
    cdef bint has_view
    cdef const uint8_t *data
    cdef Py_ssize_t size

    def __dealloc__(self):
        if self.has_view:
            PyBuffer_Release(&self.view)


cdef _Input _input(object obj):
    cdef _Input inp = _Input.__new__(_Input)
    if type(obj) is bytes:
        inp.data = <const uint8_t *>PyBytes_AS_STRING(obj)
        inp.size = PyBytes_GET_SIZE(obj)
    else:
        PyObject_GetBuffer(obj, &inp.view, PyBUF_SIMPLE)
        inp.has_view = True
        inp.data = <const uint8_t *>inp.view.buf
        inp.size = inp.view.len
    return inp


cdef bytes _encode(object data, const uint8_t *table, int shift, int mask):
    cdef const uint8_t *src
    cdef Py_ssize_t size
    cdef _Input inp = None
    if type(data) is bytes:
        src = <const uint8_t *>PyBytes_AS_STRING(data)
        size = PyBytes_GET_SIZE(data)
    else:
        inp = _input(data)
        src, size = inp.data, inp.size
    if size % 2:
        raise ValueError("linear audio must be whole 16-bit samples (odd byte count)")
    cdef Py_ssize_t n = size // 2
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    cdef uint8_t *o = <uint8_t *>PyBytes_AS_STRING(out)
    cdef Py_ssize_t i
    cdef int16_t s
    for i in range(n):
        s = <int16_t>(src[2 * i] | (src[2 * i + 1] << 8))
        o[i] = table[(s >> shift) & mask]
    return out


def lin2ulaw(data) -> bytes:
    """Encode 16-bit signed little-endian linear samples to u-law, one byte per sample."""
    return _encode(data, ULAW_ENC, 2, 0x3FFF)


def lin2alaw(data) -> bytes:
    """Encode 16-bit signed little-endian linear samples to A-law, one byte per sample."""
    return _encode(data, ALAW_ENC, 3, 0x1FFF)


cdef bytes _decode(object data, const uint16_t *table):
    cdef const uint8_t *src
    cdef Py_ssize_t n
    cdef _Input inp = None
    if type(data) is bytes:
        src = <const uint8_t *>PyBytes_AS_STRING(data)
        n = PyBytes_GET_SIZE(data)
    else:
        inp = _input(data)
        src, n = inp.data, inp.size
    cdef bytes out = PyBytes_FromStringAndSize(NULL, 2 * n)
    cdef uint16_t *o = <uint16_t *>PyBytes_AS_STRING(out)  # bytes storage is suitably aligned
    cdef Py_ssize_t i
    for i in range(n):
        o[i] = table[src[i]]
    return out


def ulaw2lin(data) -> bytes:
    """Decode u-law bytes to 16-bit signed little-endian linear samples."""
    return _decode(data, ULAW_DEC_LE)


def alaw2lin(data) -> bytes:
    """Decode A-law bytes to 16-bit signed little-endian linear samples."""
    return _decode(data, ALAW_DEC_LE)


cdef bytes _translate(object data, const uint8_t *table):
    cdef const uint8_t *src
    cdef Py_ssize_t n
    cdef _Input inp = None
    if type(data) is bytes:
        src = <const uint8_t *>PyBytes_AS_STRING(data)
        n = PyBytes_GET_SIZE(data)
    else:
        inp = _input(data)
        src, n = inp.data, inp.size
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    cdef uint8_t *o = <uint8_t *>PyBytes_AS_STRING(out)
    cdef Py_ssize_t i
    for i in range(n):
        o[i] = table[src[i]]
    return out


def ulaw2alaw(data) -> bytes:
    """Convert u-law bytes to A-law bytes as ITU-T G.711 Table 3 does, without going through linear."""
    return _translate(data, ULAW_TO_ALAW)


def alaw2ulaw(data) -> bytes:
    """Convert A-law bytes to u-law bytes as ITU-T G.711 Table 4 does, without going through linear."""
    return _translate(data, ALAW_TO_ULAW)
