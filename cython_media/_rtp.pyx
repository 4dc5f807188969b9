# cython: language_level=3
"""RTP fixed-header helpers (RFC 3550 §5.1), compiled: the twin of ``_rtp_py.py``.

Same API, same results, same error messages.  Every function reads the header straight from the buffer
(bytes and bytearray without a buffer request, anything else through the buffer protocol) and builds no
Python object but its result.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uint8_t, uint32_t
from libc.string cimport memcpy

from cython_media._rtp_py import RTP_HEADER_SIZE, RTP_VERSION, RtpError

# Results of the header walk; the messages are formatted the same way as in the pure twin.
cdef enum:
    OK = 0
    E_SHORT = 1
    E_VERSION = 2
    E_CSRC = 3
    E_EXT_HEADER = 4
    E_EXT = 5
    E_PAD_ZERO = 6
    E_PAD_LONG = 7


cdef inline uint32_t _be32(const uint8_t* p) noexcept nogil:
    return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | <uint32_t>p[3]


cdef inline void _put32(uint8_t* p, uint32_t v) noexcept nogil:
    p[0] = <uint8_t>(v >> 24)
    p[1] = <uint8_t>(v >> 16)
    p[2] = <uint8_t>(v >> 8)
    p[3] = <uint8_t>v


cdef int _walk(const uint8_t* p, Py_ssize_t n, Py_ssize_t* offset, Py_ssize_t* end,
               Py_ssize_t* detail) noexcept nogil:
    # Fixed header, CSRC list, extension, padding (RFC 3550 §5.1, §5.3.1); ``detail`` carries the number
    # a message needs.
    cdef Py_ssize_t off, words, pad
    if n < 12:
        return E_SHORT
    if (p[0] >> 6) != 2:
        return E_VERSION
    off = 12 + 4 * (p[0] & 0x0F)
    if off > n:
        return E_CSRC
    if p[0] & 0x10:
        if off + 4 > n:
            offset[0] = off
            return E_EXT_HEADER
        words = (p[off + 2] << 8) | p[off + 3]
        detail[0] = words
        if off + 4 + 4 * words > n:
            offset[0] = off
            return E_EXT
        off += 4 + 4 * words
    end[0] = n
    if p[0] & 0x20:
        pad = p[n - 1]
        detail[0] = pad
        if pad == 0:
            return E_PAD_ZERO
        if pad > n - off:
            offset[0] = off
            return E_PAD_LONG
        end[0] = n - pad
    offset[0] = off
    return OK


cdef object _walk_error(int code, const uint8_t* p, Py_ssize_t n, Py_ssize_t offset, Py_ssize_t detail):
    if code == E_SHORT:
        return RtpError(f"RTP packet of {n} bytes is shorter than the 12-byte fixed header", 0)
    if code == E_VERSION:
        return RtpError(f"RTP version {p[0] >> 6}, expected 2", 0)
    if code == E_CSRC:
        return RtpError(f"CSRC list ({p[0] & 0x0F} entries) runs past the end of the {n}-byte packet", 12)
    if code == E_EXT_HEADER:
        return RtpError("header extension runs past the end of the packet", offset)
    if code == E_EXT:
        return RtpError(f"header extension ({detail} words) runs past the end of the {n}-byte packet", offset)
    if code == E_PAD_ZERO:
        return RtpError("padding bit set but the padding count is 0", n - 1)
    return RtpError(f"padding of {detail} bytes is longer than the {n - offset}-byte payload", n - 1)


def rtp_header(data):
    """Validate an RTP packet and return its fixed-header fields and payload bounds.

    Returns ``(payload_type, marker, sequence, timestamp, ssrc, payload_offset, payload_end)``; raises
    :class:`RtpError` on a short packet, a version other than 2, a CSRC list or header extension that runs
    past the end, or bad padding (RFC 3550 §5.1, §5.3.1, Appendix A.1).
    """
    cdef Py_buffer view
    cdef const uint8_t* p
    cdef Py_ssize_t n, offset = 0, end = 0, detail = 0
    cdef int code
    cdef bint release = False
    if type(data) is bytes:
        p = <const uint8_t*>PyBytes_AS_STRING(data)
        n = PyBytes_GET_SIZE(data)
    elif type(data) is bytearray:
        p = <const uint8_t*>PyByteArray_AS_STRING(data)
        n = PyByteArray_GET_SIZE(data)
    else:
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        release = True
        p = <const uint8_t*>view.buf
        n = view.len
    try:
        code = _walk(p, n, &offset, &end, &detail)
        if code != OK:
            raise _walk_error(code, p, n, offset, detail)
        return (p[1] & 0x7F, (p[1] & 0x80) != 0, (p[2] << 8) | p[3], _be32(p + 4), _be32(p + 8),
                offset, end)
    finally:
        if release:
            PyBuffer_Release(&view)


cdef int _check_fields(long long payload_type, long long sequence, long long timestamp,
                       long long ssrc) except -1:
    if not 0 <= payload_type <= 0x7F:
        raise RtpError(f"payload type {payload_type} out of range 0-127")
    if not 0 <= sequence <= 0xFFFF:
        raise RtpError(f"sequence number {sequence} out of range 0-65535")
    if not 0 <= timestamp <= 0xFFFFFFFF:
        raise RtpError(f"timestamp {timestamp} out of range 0-4294967295")
    if not 0 <= ssrc <= 0xFFFFFFFF:
        raise RtpError(f"SSRC {ssrc} out of range 0-4294967295")
    return 0


cdef inline void _write_header(uint8_t* p, long long payload_type, bint marker, long long sequence,
                               long long timestamp, long long ssrc) noexcept nogil:
    p[0] = 0x80
    p[1] = <uint8_t>(payload_type | (0x80 if marker else 0))
    p[2] = <uint8_t>(sequence >> 8)
    p[3] = <uint8_t>sequence
    _put32(p + 4, <uint32_t>timestamp)
    _put32(p + 8, <uint32_t>ssrc)


def build_rtp_header(long long payload_type, bint marker, long long sequence, long long timestamp,
                     long long ssrc):
    """The 12-byte RTP fixed header (V=2, no padding, no extension, no CSRC) for these fields.

    Raises :class:`RtpError` when a field is out of its wire range (RFC 3550 §5.1).
    """
    _check_fields(payload_type, sequence, timestamp, ssrc)
    out = PyBytes_FromStringAndSize(NULL, 12)
    _write_header(<uint8_t*>PyBytes_AS_STRING(out), payload_type, marker, sequence, timestamp, ssrc)
    return out


def build_rtp_packet(long long payload_type, bint marker, long long sequence, long long timestamp,
                     long long ssrc, payload):
    """A whole RTP packet: :func:`build_rtp_header` followed by ``payload``, in one allocation."""
    cdef Py_buffer view
    cdef uint8_t* out_p
    _check_fields(payload_type, sequence, timestamp, ssrc)
    PyObject_GetBuffer(payload, &view, PyBUF_SIMPLE)
    try:
        out = PyBytes_FromStringAndSize(NULL, 12 + view.len)
        out_p = <uint8_t*>PyBytes_AS_STRING(out)
        _write_header(out_p, payload_type, marker, sequence, timestamp, ssrc)
        if view.len:
            memcpy(out_p + 12, view.buf, view.len)
        return out
    finally:
        PyBuffer_Release(&view)


cdef inline bint _rewrite_one(uint8_t* p, Py_ssize_t n, uint32_t ssrc, uint32_t seq_add,
                              uint32_t ts_add) noexcept nogil:
    cdef uint32_t sequence
    if n < 12 or (p[0] >> 6) != 2:
        return False
    sequence = (((<uint32_t>p[2] << 8) | p[3]) + seq_add) & 0xFFFF
    p[2] = <uint8_t>(sequence >> 8)
    p[3] = <uint8_t>sequence
    _put32(p + 4, _be32(p + 4) + ts_add)
    _put32(p + 8, ssrc)
    return True


cdef int _deltas(long long ssrc, long long seq_delta, long long ts_delta, uint32_t* out) except -1:
    if not 0 <= ssrc <= 0xFFFFFFFF:
        raise RtpError(f"SSRC {ssrc} out of range 0-4294967295")
    out[0] = <uint32_t>ssrc
    out[1] = <uint32_t>(<unsigned long long>seq_delta & 0xFFFF)
    out[2] = <uint32_t>(<unsigned long long>ts_delta & 0xFFFFFFFF)
    return 0


cdef int _get_writable(object buf, Py_buffer* view) except -1:
    try:
        PyObject_GetBuffer(buf, view, PyBUF_WRITABLE)
    except BufferError:
        raise TypeError("rewrite_rtp needs a writable buffer (bytearray, writable memoryview)") from None
    return 0


cdef object _rewrite_error(const uint8_t* p, Py_ssize_t n):
    if n < 12:
        return RtpError(f"RTP packet of {n} bytes is shorter than the 12-byte fixed header", 0)
    return RtpError(f"RTP version {p[0] >> 6}, expected 2", 0)


def rewrite_rtp(buf, long long ssrc, long long seq_delta, long long ts_delta):
    """Rewrite one RTP packet in place: SSRC := ``ssrc``, sequence += ``seq_delta`` (mod 2^16), timestamp
    += ``ts_delta`` (mod 2^32); payload, marker and payload type are untouched.

    Raises :class:`RtpError` when ``buf`` is not an RTP version 2 packet with a full fixed header,
    ``TypeError`` when it is read-only (RFC 3550 §5.1 fields; §7.3 for a translator's view).
    """
    cdef Py_buffer view
    cdef uint32_t values[3]
    cdef uint8_t* p
    cdef Py_ssize_t n
    if type(buf) is bytearray:
        _deltas(ssrc, seq_delta, ts_delta, values)
        p = <uint8_t*>PyByteArray_AS_STRING(buf)
        n = PyByteArray_GET_SIZE(buf)
        if not _rewrite_one(p, n, values[0], values[1], values[2]):
            raise _rewrite_error(p, n)
        return None
    _get_writable(buf, &view)
    try:
        _deltas(ssrc, seq_delta, ts_delta, values)
        p = <uint8_t*>view.buf
        n = view.len
        if not _rewrite_one(p, n, values[0], values[1], values[2]):
            raise _rewrite_error(p, n)
    finally:
        PyBuffer_Release(&view)
    return None


def rewrite_rtp_batch(packets, long long ssrc, long long seq_delta, long long ts_delta):
    """:func:`rewrite_rtp` on every packet of a batch with the same values.

    Returns the indices of the packets left unchanged because they are not RTP version 2 with a full fixed
    header (the caller drops them); an empty list when all were rewritten.
    """
    cdef Py_buffer view
    cdef uint32_t values[3]
    cdef Py_ssize_t index = 0
    cdef bint done
    _deltas(ssrc, seq_delta, ts_delta, values)
    skipped = []
    for packet in packets:
        if type(packet) is bytearray:
            done = _rewrite_one(<uint8_t*>PyByteArray_AS_STRING(packet), PyByteArray_GET_SIZE(packet),
                                values[0], values[1], values[2])
        else:
            _get_writable(packet, &view)
            done = _rewrite_one(<uint8_t*>view.buf, view.len, values[0], values[1], values[2])
            PyBuffer_Release(&view)
        if not done:
            skipped.append(index)
        index += 1
    return skipped


__all__ = [
    "RTP_HEADER_SIZE",
    "RTP_VERSION",
    "RtpError",
    "build_rtp_header",
    "build_rtp_packet",
    "rewrite_rtp",
    "rewrite_rtp_batch",
    "rtp_header",
]
