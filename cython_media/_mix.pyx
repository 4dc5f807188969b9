# cython: language_level=3
"""Conference mixing of 16-bit linear audio, compiled.

The twin of ``_mix_py.py``: same API, same bytes.  One pass converts every party's frame to its
(gain-scaled) contribution and adds it to a 64-bit running sum; a second pass gives each party the sum
minus its own contribution, scaled by its listen gain and clamped to 16 bits only then.  No Python
objects inside the sample loops.
"""

import math

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdint cimport int16_t, int64_t, uint8_t
from libc.stdlib cimport calloc, free, malloc

GAIN_Q_BITS = 16
UNITY_GAIN = 1 << 16
MAX_GAIN_DB = 48.0

cdef int _Q = 16
cdef int64_t _ROUND = 32768


def gain_q16(db):
    """The Q16 integer gain for ``db`` decibels (amplitude: 20*log10); ``-inf`` mutes.

    Raises ``ValueError`` for NaN or gains above +48 dB (a typo, not a volume).
    """
    if math.isnan(db) or db > MAX_GAIN_DB:
        raise ValueError(f"gain must be at most {MAX_GAIN_DB} dB, got {db}")
    if db == -math.inf:
        return 0
    # Python float arithmetic, exactly as the pure twin computes it.
    return round(math.pow(10.0, db / 20.0) * 65536.0)


MAX_GAIN_Q16 = gain_q16(MAX_GAIN_DB)


cdef inline int16_t _clamp(int64_t v) noexcept:
    if v > 32767:
        return 32767
    if v < -32768:
        return -32768
    return <int16_t>v


cdef inline int16_t _load(const uint8_t *p, Py_ssize_t i) noexcept:
    return <int16_t>(p[2 * i] | (p[2 * i + 1] << 8))


cdef inline void _store(uint8_t *p, Py_ssize_t i, int16_t v) noexcept:
    p[2 * i] = <uint8_t>(v & 0xFF)
    p[2 * i + 1] = <uint8_t>((v >> 8) & 0xFF)


cdef list _as_bytes(frames):
    cdef list out = [f if type(f) is bytes else bytes(f) for f in frames]
    cdef Py_ssize_t length
    if out:
        length = len(<bytes>out[0])
        if length % 2:
            raise ValueError("linear audio must be whole 16-bit samples (odd byte count)")
        for f in out:
            if len(<bytes>f) != length:
                if len(<bytes>f) % 2:
                    raise ValueError("linear audio must be whole 16-bit samples (odd byte count)")
                raise ValueError("all frames of one mix must have the same length")
    return out


cdef int64_t *_gain_array(gains, Py_ssize_t parties, str what) except? NULL:
    cdef int64_t *out
    cdef Py_ssize_t p
    if gains is None:
        return NULL
    if len(gains) != parties:
        raise ValueError(f"{what}: {len(gains)} gains for {parties} parties")
    for g in gains:
        if not 0 <= g <= MAX_GAIN_Q16:
            raise ValueError(f"{what}: Q16 gain {g} out of range")
    out = <int64_t *>malloc(parties * sizeof(int64_t))
    if out == NULL:
        raise MemoryError()
    for p in range(parties):
        out[p] = gains[p]
    return out


def mix(frames):
    """The saturated sum of ``frames`` (at least one, all the same length)."""
    cdef list data = _as_bytes(frames)
    cdef Py_ssize_t parties = len(data)
    if not parties:
        raise ValueError("mix needs at least one frame")
    cdef Py_ssize_t n = len(<bytes>data[0]) // 2
    cdef int64_t *total = <int64_t *>calloc(n if n else 1, sizeof(int64_t))
    if total == NULL:
        raise MemoryError()
    cdef bytes out = PyBytes_FromStringAndSize(NULL, 2 * n)
    cdef uint8_t *o = <uint8_t *>PyBytes_AS_STRING(out)
    cdef const uint8_t *src
    cdef Py_ssize_t p, i
    try:
        for p in range(parties):
            src = <const uint8_t *>PyBytes_AS_STRING(data[p])
            for i in range(n):
                total[i] += _load(src, i)
        for i in range(n):
            _store(o, i, _clamp(total[i]))
    finally:
        free(total)
    return out


def gain(frame, db):
    """``frame`` scaled by ``db`` decibels (Q16 integer gain, round half up, saturated)."""
    cdef int64_t g = gain_q16(db)
    cdef bytes data = _as_bytes([frame])[0]
    cdef Py_ssize_t n = len(data) // 2
    cdef bytes out = PyBytes_FromStringAndSize(NULL, 2 * n)
    cdef uint8_t *o = <uint8_t *>PyBytes_AS_STRING(out)
    cdef const uint8_t *src = <const uint8_t *>PyBytes_AS_STRING(data)
    cdef Py_ssize_t i
    for i in range(n):
        _store(o, i, _clamp((_load(src, i) * g + _ROUND) >> _Q))
    return out


def mix_minus(frames, talk_gains=None, listen_gains=None):
    """Per party, the saturated sum of every *other* party's frame.

    ``talk_gains[p]`` (Q16) scales what party ``p`` contributes to the others; ``listen_gains[p]`` (Q16)
    scales what party ``p`` hears.  ``None`` means 0 dB for everybody.  A party alone hears silence.
    """
    cdef Py_ssize_t parties = len(frames)
    if not parties:
        return []
    cdef int64_t *talk = NULL
    cdef int64_t *listen = NULL
    cdef int64_t *contrib = NULL
    cdef int64_t *total = NULL
    cdef list data, heard
    cdef Py_ssize_t n, p, i
    cdef const uint8_t *src
    cdef uint8_t *o
    cdef int64_t g, c, v
    cdef int64_t *own
    cdef bytes out
    try:
        talk = _gain_array(talk_gains, parties, "talk_gains")
        listen = _gain_array(listen_gains, parties, "listen_gains")
        data = _as_bytes(frames)
        n = len(<bytes>data[0]) // 2
        contrib = <int64_t *>malloc((parties * n if n else 1) * sizeof(int64_t))
        total = <int64_t *>calloc(n if n else 1, sizeof(int64_t))
        if contrib == NULL or total == NULL:
            raise MemoryError()
        for p in range(parties):
            src = <const uint8_t *>PyBytes_AS_STRING(data[p])
            own = contrib + p * n
            g = UNITY_GAIN if talk == NULL else talk[p]
            if g == UNITY_GAIN:
                for i in range(n):
                    c = _load(src, i)
                    own[i] = c
                    total[i] += c
            else:
                for i in range(n):
                    c = (_load(src, i) * g + _ROUND) >> _Q
                    own[i] = c
                    total[i] += c
        heard = []
        for p in range(parties):
            out = PyBytes_FromStringAndSize(NULL, 2 * n)
            o = <uint8_t *>PyBytes_AS_STRING(out)
            own = contrib + p * n
            g = UNITY_GAIN if listen == NULL else listen[p]
            if g == UNITY_GAIN:
                for i in range(n):
                    _store(o, i, _clamp(total[i] - own[i]))
            else:
                for i in range(n):
                    v = ((total[i] - own[i]) * g + _ROUND) >> _Q
                    _store(o, i, _clamp(v))
            heard.append(out)
        return heard
    finally:
        free(talk)
        free(listen)
        free(contrib)
        free(total)
