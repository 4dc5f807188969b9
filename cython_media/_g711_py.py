"""ITU-T G.711 u-law and A-law, pure Python.

The twin of ``_g711.pyx`` with the same API and the same bytes for every input.  Linear audio is
16-bit signed little-endian (the PCM highway's and RTP's native order once decoded).  Encoding follows
G.711's segment decision levels as ITU-T G.191's reference code computes them: negative samples are
taken in one's complement (``~x``), so -1 encodes to the same code as 0 on the negative side.

u-law <-> A-law conversion follows G.711 section 4 (Tables 3 and 4): each code maps to the code of the
other law whose decoder output is nearest *in level*, keeping the sign (so u-law's negative zero 0x7F
becomes A-law's smallest negative value).  Levels are compared in dBm0: the theoretical load capacity
is +3.17 dBm0 for u-law (decoder scale 8159, 32636 in 16-bit linear) and +3.14 dBm0 for A-law (4096,
32768).  Built this way, the tables equal G.711's for all 256 codes of each law (the tests check them
against spandsp's ``ulaw_to_alaw``/``alaw_to_ulaw``), including the few codes where decoding to linear
and re-encoding would give a neighbouring code.
"""

from __future__ import annotations

import math
import sys
from array import array

ULAW_BIAS = 0x84
# G.711 Tables 1a/2a: the load capacity (overload point) of each law in dBm0, and in 16-bit linear units.
ULAW_LOAD_CAPACITY_DBM0 = 3.17
ALAW_LOAD_CAPACITY_DBM0 = 3.14
ULAW_OVERLOAD_LINEAR = 32636
ALAW_OVERLOAD_LINEAR = 32768


def _ulaw_encode_sample(x: int) -> int:
    if x < 0:
        v, mask = ULAW_BIAS + ~x, 0x7F
    else:
        v, mask = ULAW_BIAS + x, 0xFF
    seg = (v | 0xFF).bit_length() - 8
    if seg >= 8:
        return 0x7F ^ mask
    return ((seg << 4) | ((v >> (seg + 3)) & 0x0F)) ^ mask


def _alaw_encode_sample(x: int) -> int:
    if x < 0:
        v, mask = ~x, 0x55
    else:
        v, mask = x, 0xD5
    seg = (v | 0xFF).bit_length() - 8
    if seg >= 8:
        return 0x7F ^ mask
    shift = seg + 3 if seg else 4
    return ((seg << 4) | ((v >> shift) & 0x0F)) ^ mask


def _ulaw_decode_code(code: int) -> int:
    u = ~code & 0xFF
    t = (((u & 0x0F) << 3) + ULAW_BIAS) << ((u & 0x70) >> 4)
    return ULAW_BIAS - t if u & 0x80 else t - ULAW_BIAS


def _alaw_decode_code(code: int) -> int:
    a = code ^ 0x55
    i = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    i = (i + 0x108) << (seg - 1) if seg else i + 8
    return i if a & 0x80 else -i


# u-law depends only on the top 14 bits of a sample, A-law on the top 13: index by x >> 2 / x >> 3.
_ULAW_ENC = bytes(_ulaw_encode_sample((i - 0x4000 if i & 0x2000 else i) << 2) for i in range(0x4000))
_ALAW_ENC = bytes(_alaw_encode_sample((i - 0x2000 if i & 0x1000 else i) << 3) for i in range(0x2000))
_ULAW_DEC = [_ulaw_decode_code(c).to_bytes(2, "little", signed=True) for c in range(256)]
_ALAW_DEC = [_alaw_decode_code(c).to_bytes(2, "little", signed=True) for c in range(256)]


def _transcode_table(decode_from: list[int], decode_to: list[int], scale: float) -> bytes:
    """Code of the target law nearest in level (``scale`` converts the magnitude), same sign."""
    table = bytearray(256)
    for code in range(256):
        positive = code & 0x80
        magnitude = abs(decode_from[code]) * scale
        best, best_distance = -1, math.inf
        for candidate in range(256):
            if candidate & 0x80 != positive:
                continue
            distance = abs(abs(decode_to[candidate]) - magnitude)
            if distance < best_distance:
                best, best_distance = candidate, distance
        table[code] = best
    return bytes(table)


# Equal level: 20*log10(u / 32636) + 3.17 == 20*log10(a / 32768) + 3.14.
_U_TO_A_SCALE = (ALAW_OVERLOAD_LINEAR / ULAW_OVERLOAD_LINEAR) * 10.0 ** (
    (ULAW_LOAD_CAPACITY_DBM0 - ALAW_LOAD_CAPACITY_DBM0) / 20.0)
_ULAW_VALUES = [_ulaw_decode_code(c) for c in range(256)]
_ALAW_VALUES = [_alaw_decode_code(c) for c in range(256)]
_ULAW_TO_ALAW = _transcode_table(_ULAW_VALUES, _ALAW_VALUES, _U_TO_A_SCALE)
_ALAW_TO_ULAW = _transcode_table(_ALAW_VALUES, _ULAW_VALUES, 1.0 / _U_TO_A_SCALE)


def _samples(data: bytes | bytearray | memoryview) -> array[int]:
    raw = bytes(data)
    if len(raw) % 2:
        raise ValueError("linear audio must be whole 16-bit samples (odd byte count)")
    samples = array("h")
    samples.frombytes(raw)
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def lin2ulaw(data: bytes | bytearray | memoryview) -> bytes:
    """Encode 16-bit signed little-endian linear samples to u-law, one byte per sample."""
    table = _ULAW_ENC
    return bytes([table[(s >> 2) & 0x3FFF] for s in _samples(data)])


def lin2alaw(data: bytes | bytearray | memoryview) -> bytes:
    """Encode 16-bit signed little-endian linear samples to A-law, one byte per sample."""
    table = _ALAW_ENC
    return bytes([table[(s >> 3) & 0x1FFF] for s in _samples(data)])


def ulaw2lin(data: bytes | bytearray | memoryview) -> bytes:
    """Decode u-law bytes to 16-bit signed little-endian linear samples."""
    table = _ULAW_DEC
    return b"".join([table[c] for c in bytes(data)])


def alaw2lin(data: bytes | bytearray | memoryview) -> bytes:
    """Decode A-law bytes to 16-bit signed little-endian linear samples."""
    table = _ALAW_DEC
    return b"".join([table[c] for c in bytes(data)])


def ulaw2alaw(data: bytes | bytearray | memoryview) -> bytes:
    """Convert u-law bytes to A-law bytes as ITU-T G.711 Table 3 does, without going through linear."""
    return bytes(data).translate(_ULAW_TO_ALAW)


def alaw2ulaw(data: bytes | bytearray | memoryview) -> bytes:
    """Convert A-law bytes to u-law bytes as ITU-T G.711 Table 4 does, without going through linear."""
    return bytes(data).translate(_ALAW_TO_ULAW)
