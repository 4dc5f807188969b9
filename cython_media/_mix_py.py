"""Conference mixing of 16-bit linear audio, pure Python.

The twin of ``_mix.pyx``: same API, same bytes for every input.  Frames are 16-bit signed little-endian
linear samples (8 kHz, any length as long as every frame in one call has the same length).

- :func:`mix` sums frames and saturates at +32767/-32768 (no wrap-around).
- :func:`mix_minus` is the conference ("N-1") mix: every party hears the sum of all the others, never
  itself.  The sum is computed once and each party's own contribution subtracted, all in wide integers,
  and clamped only at the end, so a loud party cannot make another party's mix wrap or clip early.
- Gains are integers in Q16 (65536 = 0 dB) computed from dB by :func:`gain_q16`, so both twins apply
  exactly the same factor: ``(sample * gain + 32768) >> 16`` (round half up).
"""

from __future__ import annotations

import math
import sys
from array import array
from collections.abc import Sequence

GAIN_Q_BITS = 16
UNITY_GAIN = 1 << GAIN_Q_BITS
MAX_GAIN_DB = 48.0
_ROUND = 1 << (GAIN_Q_BITS - 1)

Frame = bytes | bytearray | memoryview


def gain_q16(db: float) -> int:
    """The Q16 integer gain for ``db`` decibels (amplitude: 20*log10); ``-inf`` mutes.

    Raises ``ValueError`` for NaN or gains above +48 dB (a typo, not a volume).
    """
    if math.isnan(db) or db > MAX_GAIN_DB:
        raise ValueError(f"gain must be at most {MAX_GAIN_DB} dB, got {db}")
    if db == -math.inf:
        return 0
    return round(math.pow(10.0, db / 20.0) * 65536.0)


MAX_GAIN_Q16 = gain_q16(MAX_GAIN_DB)


def _samples(frame: Frame) -> array[int]:
    raw = bytes(frame)
    if len(raw) % 2:
        raise ValueError("linear audio must be whole 16-bit samples (odd byte count)")
    samples = array("h")
    samples.frombytes(raw)
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def _to_bytes(values: list[int]) -> bytes:
    out = array("h", [32767 if v > 32767 else -32768 if v < -32768 else v for v in values])
    if sys.byteorder == "big":
        out.byteswap()
    return out.tobytes()


def _same_length(frames: Sequence[Frame]) -> list[array[int]]:
    parsed = [_samples(f) for f in frames]
    if parsed and any(len(p) != len(parsed[0]) for p in parsed):
        raise ValueError("all frames of one mix must have the same length")
    return parsed


def _check_gains(gains: Sequence[int] | None, parties: int, what: str) -> None:
    if gains is None:
        return
    if len(gains) != parties:
        raise ValueError(f"{what}: {len(gains)} gains for {parties} parties")
    for g in gains:
        if not 0 <= g <= MAX_GAIN_Q16:
            raise ValueError(f"{what}: Q16 gain {g} out of range")


def mix(frames: Sequence[Frame]) -> bytes:
    """The saturated sum of ``frames`` (at least one, all the same length)."""
    if not frames:
        raise ValueError("mix needs at least one frame")
    parsed = _same_length(frames)
    return _to_bytes([sum(column) for column in zip(*parsed, strict=True)] if len(parsed) > 1 else list(parsed[0]))


def gain(frame: Frame, db: float) -> bytes:
    """``frame`` scaled by ``db`` decibels (Q16 integer gain, round half up, saturated)."""
    g = gain_q16(db)
    return _to_bytes([(s * g + _ROUND) >> GAIN_Q_BITS for s in _samples(frame)])


def mix_minus(frames: Sequence[Frame], talk_gains: Sequence[int] | None = None,
              listen_gains: Sequence[int] | None = None) -> list[bytes]:
    """Per party, the saturated sum of every *other* party's frame.

    ``talk_gains[p]`` (Q16) scales what party ``p`` contributes to the others; ``listen_gains[p]`` (Q16)
    scales what party ``p`` hears.  ``None`` means 0 dB for everybody.  A party alone hears silence.
    """
    parties = len(frames)
    if not parties:
        return []
    _check_gains(talk_gains, parties, "talk_gains")
    _check_gains(listen_gains, parties, "listen_gains")
    parsed = _same_length(frames)
    contributions: list[list[int]] = []
    for p, samples in enumerate(parsed):
        g = UNITY_GAIN if talk_gains is None else talk_gains[p]
        if g == UNITY_GAIN:
            contributions.append(list(samples))
        else:
            contributions.append([(s * g + _ROUND) >> GAIN_Q_BITS for s in samples])
    total = [sum(column) for column in zip(*contributions, strict=True)]
    heard: list[bytes] = []
    for p, own in enumerate(contributions):
        g = UNITY_GAIN if listen_gains is None else listen_gains[p]
        if g == UNITY_GAIN:
            heard.append(_to_bytes([t - c for t, c in zip(total, own, strict=True)]))
        else:
            heard.append(_to_bytes([((t - c) * g + _ROUND) >> GAIN_Q_BITS for t, c in zip(total, own, strict=True)]))
    return heard
