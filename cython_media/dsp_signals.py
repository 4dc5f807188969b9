"""Test signals for the DSP bindings: tones, DTMF, noise, speech-like sound, gain, echo paths, levels.

Pure Python and deterministic (seeded), independent of spandsp, so tests and benchmarks can check the
bindings against signals the library did not make.  Levels follow the telephony convention spandsp uses:
a sine at 0 dBm0 has a peak of 32767 * 10 ** (-3.14 / 20) (the G.711 u-law overload point is +3.14 dBm0,
ITU-T G.711 / G.168 test levels), and a noise "at L dBm0" has the same power as a sine at L dBm0.
Audio is 16-bit signed little-endian linear PCM as ``bytes``; sample rate 8000 unless given.
"""

from __future__ import annotations

import math
import random
import sys
from array import array
from collections.abc import Iterable, Sequence

SAMPLE_RATE = 8000
FULL_SCALE_SINE_DBM0 = 3.14
DTMF_LOW = {"1": 697, "2": 697, "3": 697, "A": 697, "4": 770, "5": 770, "6": 770, "B": 770}
DTMF_LOW |= {"7": 852, "8": 852, "9": 852, "C": 852, "*": 941, "0": 941, "#": 941, "D": 941}
DTMF_HIGH = {"1": 1209, "4": 1209, "7": 1209, "*": 1209, "2": 1336, "5": 1336, "8": 1336, "0": 1336}
DTMF_HIGH |= {"3": 1477, "6": 1477, "9": 1477, "#": 1477, "A": 1633, "B": 1633, "C": 1633, "D": 1633}


def amplitude(level_dbm0: float) -> float:
    """Peak amplitude of a sine at ``level_dbm0``."""
    return 32767.0 * math.pow(10.0, (level_dbm0 - FULL_SCALE_SINE_DBM0) / 20.0)


def pcm(samples: Iterable[float]) -> bytes:
    """Round and clip samples into 16-bit little-endian linear audio."""
    out = array("h", (max(-32768, min(32767, round(s))) for s in samples))
    if sys.byteorder != "little":
        out.byteswap()
    return out.tobytes()


def samples(audio: bytes) -> array[int]:
    """The samples of 16-bit little-endian linear audio."""
    out = array("h")
    out.frombytes(audio)
    if sys.byteorder != "little":
        out.byteswap()
    return out


def silence(n_samples: int) -> bytes:
    """``n_samples`` of digital silence."""
    return bytes(2 * n_samples)


def tone(
    frequencies: Sequence[float],
    levels_dbm0: float | Sequence[float],
    n_samples: int,
    *,
    sample_rate: int = SAMPLE_RATE,
    start: int = 0,
) -> list[float]:
    """Sum of sines, one level per frequency (or one for all); ``start`` offsets the phase in samples."""
    levels = [levels_dbm0] * len(frequencies) if isinstance(levels_dbm0, (int, float)) else list(levels_dbm0)
    out = [0.0] * n_samples
    for freq, level in zip(frequencies, levels, strict=True):
        peak = amplitude(level)
        step = 2.0 * math.pi * freq / sample_rate
        for i in range(n_samples):
            out[i] += peak * math.sin(step * (i + start))
    return out


def dtmf(digit: str, level_dbm0: float, twist_db: float, duration_ms: int) -> list[float]:
    """A DTMF digit per ITU-T Q.23: low tone at ``level_dbm0``, high tone ``twist_db`` louder."""
    n = duration_ms * SAMPLE_RATE // 1000
    return tone((DTMF_LOW[digit], DTMF_HIGH[digit]), (level_dbm0, level_dbm0 + twist_db), n)


def white_noise(n_samples: int, level_dbm0: float, seed: int) -> list[float]:
    """Gaussian white noise with the power of a sine at ``level_dbm0``."""
    sigma = amplitude(level_dbm0) / math.sqrt(2.0)
    rng = random.Random(seed)
    return [rng.gauss(0.0, sigma) for _ in range(n_samples)]


def speech_like(n_samples: int, level_dbm0: float, seed: int) -> list[float]:
    """Voiced/unvoiced syllables through two formant resonators, with pauses (a talk-off test signal).

    A glottal pulse train (pitch 90-250 Hz, drifting) or noise excites resonators near 500-800 and
    1200-2400 Hz; syllables last 80-300 ms with 30-200 ms gaps.  The result is scaled so that its
    active parts have the power of a sine at ``level_dbm0``.
    """
    rng = random.Random(seed)
    out = [0.0] * n_samples
    active: list[int] = []
    i = 0
    while i < n_samples:
        length = rng.randint(640, 2400)
        voiced = rng.random() < 0.75
        pitch = rng.uniform(90.0, 250.0)
        drift = rng.uniform(-0.3, 0.3) * pitch / length
        f1, f2 = rng.uniform(500.0, 800.0), rng.uniform(1200.0, 2400.0)
        r = 0.97
        a1, b1 = 2 * r * math.cos(2 * math.pi * f1 / SAMPLE_RATE), -r * r
        a2, b2 = 2 * r * math.cos(2 * math.pi * f2 / SAMPLE_RATE), -r * r
        y1 = y1p = y2 = y2p = 0.0
        phase = 0.0
        end = min(n_samples, i + length)
        for j in range(i, end):
            if voiced:
                phase += (pitch + drift * (j - i)) / SAMPLE_RATE
                excitation = 1.0 if phase >= 1.0 else 0.0
                phase -= math.floor(phase)
                excitation += rng.gauss(0.0, 0.05)
            else:
                excitation = rng.gauss(0.0, 0.3)
            v1 = excitation + a1 * y1 + b1 * y1p
            y1p, y1 = y1, v1
            v2 = excitation + a2 * y2 + b2 * y2p
            y2p, y2 = y2, v2
            envelope = math.sin(math.pi * (j - i) / length)
            out[j] = (v1 + 0.5 * v2) * envelope
            active.append(j)
        i = end + rng.randint(240, 1600)
    power = sum(out[j] * out[j] for j in active) / max(1, len(active))
    scale = amplitude(level_dbm0) / math.sqrt(2.0) / math.sqrt(power) if power > 0 else 0.0
    return [s * scale for s in out]


def add(*signals: bytes) -> bytes:
    """Saturating sample-wise sum of equally long signals."""
    parts = [samples(s) for s in signals]
    if any(len(p) != len(parts[0]) for p in parts):
        raise ValueError("signals to add must have the same length")
    return pcm(map(sum, zip(*parts, strict=True)))


def gain(audio: bytes, db: float) -> bytes:
    """``audio`` scaled by ``db`` (saturating)."""
    factor = math.pow(10.0, db / 20.0)
    return pcm(s * factor for s in samples(audio))


def level_dbm0(audio: bytes) -> float:
    """Power of ``audio`` as the level of a sine of equal power, in dBm0 (-120 for silence)."""
    values = samples(audio)
    if not values:
        return -120.0
    power = sum(v * v for v in values) / len(values)
    if power <= 0:
        return -120.0
    return 10.0 * math.log10(2.0 * power) - 20.0 * math.log10(amplitude(0.0))


def tone_level_dbm0(audio: bytes, frequency: float, *, sample_rate: int = SAMPLE_RATE) -> float:
    """Level of the ``frequency`` component of ``audio`` (Goertzel over the whole signal), in dBm0."""
    values = samples(audio)
    n = len(values)
    if n == 0:
        return -120.0
    coefficient = 2.0 * math.cos(2.0 * math.pi * frequency / sample_rate)
    s1 = s2 = 0.0
    for v in values:
        s1, s2 = v + coefficient * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coefficient * s1 * s2
    peak = 2.0 * math.sqrt(max(power, 0.0)) / n
    if peak <= 0:
        return -120.0
    return 20.0 * math.log10(peak / amplitude(0.0))


def echo_path(far: bytes, taps: Sequence[tuple[int, float]]) -> bytes:
    """``far`` through a sparse echo path: each tap is (delay in samples, linear gain)."""
    source = samples(far)
    out = [0.0] * len(source)
    for delay, factor in taps:
        for i in range(delay, len(source)):
            out[i] += factor * source[i - delay]
    return pcm(out)


def frames(audio: bytes, frame_samples: int = 160) -> list[bytes]:
    """``audio`` cut into frames, the last one padded with silence."""
    size = 2 * frame_samples
    return [audio[i : i + size].ljust(size, b"\x00") for i in range(0, len(audio), size)]
