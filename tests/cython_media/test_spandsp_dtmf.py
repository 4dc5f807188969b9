"""DTMF through spandsp (ITU-T Q.23/Q.24): generate -> detect with noise, level changes and twist.

Every test runs against the compiled binding and its ctypes twin; a last test checks that both give the
same events on the same noisy input.
"""

from __future__ import annotations

import os
from itertools import pairwise
from types import ModuleType

import pytest

from cython_media import _spandsp_py, spandsp
from cython_media import dsp_signals as sig

IMPLEMENTATIONS: list[ModuleType] = [_spandsp_py]
try:
    from cython_media import _spandsp as _compiled
except ImportError:
    _compiled = None
else:
    IMPLEMENTATIONS.append(_compiled)

ALL_DIGITS = "0123456789*#ABCD"


@pytest.fixture(autouse=True, scope="module")
def _library_present() -> None:
    try:
        _spandsp_py.library()
    except _spandsp_py.SpandspError as exc:
        pytest.fail(str(exc))


@pytest.fixture(params=IMPLEMENTATIONS, ids=lambda m: "compiled" if m is _compiled else "ctypes")
def dsp(request: pytest.FixtureRequest) -> ModuleType:
    return request.param  # type: ignore[no-any-return]


def test_compiled_build_is_present_unless_pure_mode_is_forced() -> None:
    if os.environ.get("CENTRALITA_NO_EXTENSIONS"):
        assert spandsp.ACCELERATED is False
    else:
        assert _compiled is not None, "cython_media._spandsp was not built (needs libspandsp-dev and Cython)"
        assert spandsp.ACCELERATED is True and spandsp.DtmfDetector is _compiled.DtmfDetector


def generated(dsp: ModuleType, digits: str, **settings: int) -> bytes:
    generator = dsp.DtmfGenerator(**settings)
    generator.queue(digits)
    out = []
    while not generator.idle:
        out.append(generator.generate())
    out += [generator.generate() for _ in range(10)]
    return b"".join(out)


def detect(dsp: ModuleType, audio: bytes, **settings: object) -> list[spandsp.DtmfEvent]:
    detector = dsp.DtmfDetector(**settings)
    events: list[spandsp.DtmfEvent] = []
    for frame in sig.frames(audio + sig.silence(800)):
        events += detector.feed(frame)
    assert detector.held is None
    return events


def keyed(events: list[spandsp.DtmfEvent]) -> str:
    return "".join(e.digit for e in events if not e.ended)


def with_noise(audio: bytes, noise_dbm0: float, seed: int) -> bytes:
    return sig.add(audio, sig.pcm(sig.white_noise(len(audio) // 2, noise_dbm0, seed)))


def test_all_sixteen_digits_round_trip_once_each_with_durations(dsp: ModuleType) -> None:
    events = detect(dsp, generated(dsp, ALL_DIGITS, on_ms=60, off_ms=60))
    downs = [e for e in events if not e.ended]
    ups = [e for e in events if e.ended]
    assert keyed(events) == ALL_DIGITS
    assert [e.digit for e in ups] == list(ALL_DIGITS)
    for down, up in zip(downs, ups, strict=True):
        assert (up.start, up.level) == (down.start, down.level)
        # 60 ms = 480 samples, measured in 102-sample detector blocks
        assert abs(up.duration - 480) <= 102
        assert -9 <= down.level <= -5  # two tones at -10 dBm0 = -7 dBm0
    starts = [e.start for e in downs]
    # digits every 120 ms = 960 samples
    assert all(abs((b - a) - 960) <= 102 for a, b in pairwise(starts))


@pytest.mark.parametrize("level", [-3, -10, -20, -30])
@pytest.mark.parametrize("twist", [-4, 0, 4])
@pytest.mark.parametrize("snr", [20, 30])
def test_digits_survive_level_twist_and_noise(dsp: ModuleType, level: int, twist: int, snr: int) -> None:
    low = level - max(0, twist)  # `level` is the louder tone's, so -3 dBm0 with +4 dB twist does not clip
    audio = generated(dsp, "159#D", level_dbm0=low, twist_db=twist)
    pair_level = sig.level_dbm0(sig.pcm(sig.dtmf("5", low, twist, 50)))
    noisy = with_noise(audio, pair_level - snr, seed=level * 100 + twist * 10 + snr)
    # +4 dB reverse twist sits exactly on spandsp's default limit (4 dB), so allow 6 dB as Q.24 margins do.
    assert keyed(detect(dsp, noisy, reverse_twist_db=6)) == "159#D"


@pytest.mark.parametrize("twist", [-4, 4])
def test_independently_generated_digits_with_twist_are_detected(dsp: ModuleType, twist: int) -> None:
    audio = b"".join(sig.pcm(sig.dtmf(d, -15, twist, 70)) + sig.silence(480) for d in "2580*")
    assert keyed(detect(dsp, audio, reverse_twist_db=6)) == "2580*"


def test_twist_settings_widen_or_narrow_what_is_accepted(dsp: ModuleType) -> None:
    def audio(twist: int) -> bytes:
        return b"".join(sig.pcm(sig.dtmf(d, -12, twist, 70)) + sig.silence(480) for d in "147")

    # Defaults: 8 dB normal twist (low group louder), 4 dB reverse (high group louder).
    assert keyed(detect(dsp, audio(-6))) == "147"
    assert keyed(detect(dsp, audio(-10))) == ""
    assert keyed(detect(dsp, audio(-10), twist_db=11)) == "147"
    assert keyed(detect(dsp, audio(6))) == ""
    assert keyed(detect(dsp, audio(6), reverse_twist_db=8)) == "147"
    assert keyed(detect(dsp, audio(-6), twist_db=4)) == ""


def test_reject_level_drops_weak_digits(dsp: ModuleType) -> None:
    weak = b"".join(sig.pcm(sig.dtmf(d, -36, 0, 70)) + sig.silence(480) for d in "369")
    assert keyed(detect(dsp, weak)) == "369"
    assert keyed(detect(dsp, weak, threshold_dbm0=-30)) == ""


def test_dial_tone_filter_lets_digits_through_loud_dial_tone(dsp: ModuleType) -> None:
    digits = generated(dsp, "159#D", level_dbm0=-20)
    dial_tone = sig.pcm(sig.tone((350, 440), -5, len(digits) // 2))
    mixed = sig.add(digits, dial_tone)
    assert keyed(detect(dsp, mixed)) == ""
    assert keyed(detect(dsp, mixed, filter_dial_tone=True)) == "159#D"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_digits_from_speech_like_sound_or_noise(dsp: ModuleType, seed: int) -> None:
    speech = sig.pcm(sig.speech_like(5 * 8000, -8 + 4 * seed, seed))
    assert detect(dsp, speech) == []
    assert detect(dsp, sig.pcm(sig.white_noise(2 * 8000, -10, seed))) == []


def test_long_key_press_is_one_digit_with_its_duration(dsp: ModuleType) -> None:
    audio = sig.silence(800) + sig.pcm(sig.dtmf("7", -10, 0, 1500)) + sig.silence(800)
    events = detect(dsp, audio)
    assert [(e.digit, e.ended) for e in events] == [("7", False), ("7", True)]
    assert abs(events[1].duration - 12000) <= 204
    # confirmed two whole 102-sample blocks after the first block the tone fills
    assert 800 < events[0].start <= 800 + 3 * 102


def test_generator_levels_frequencies_and_timing_follow_the_settings(dsp: ModuleType) -> None:
    audio = generated(dsp, "1", level_dbm0=-13, twist_db=2, on_ms=100, off_ms=50)
    values = sig.samples(audio)
    active = [i for i, v in enumerate(values) if v]
    assert active[0] <= 1 and abs((active[-1] + 1) - 800) <= 1
    tone = audio[: 2 * 800]
    assert sig.tone_level_dbm0(tone, 697) == pytest.approx(-13, abs=0.3)
    assert sig.tone_level_dbm0(tone, 1209) == pytest.approx(-11, abs=0.3)
    assert sig.tone_level_dbm0(tone, 770) < -40


def test_generator_rejects_bad_digits_and_overflow(dsp: ModuleType) -> None:
    generator = dsp.DtmfGenerator()
    with pytest.raises(spandsp.SpandspError):
        generator.queue("12E")
    generator.queue("1" * 128)
    with pytest.raises(spandsp.SpandspError):
        generator.queue("2")
    with pytest.raises(spandsp.SpandspError):
        dsp.DtmfDetector().feed(b"\x00" * 321)
    lower = dsp.DtmfGenerator()
    lower.queue("abcd")
    assert not lower.idle


def test_both_builds_give_identical_events_and_audio() -> None:
    if _compiled is None:
        pytest.skip("only the ctypes twin is built (CENTRALITA_NO_EXTENSIONS)")
    audio_twin = generated(_spandsp_py, "0123*#", level_dbm0=-17, twist_db=-2)
    audio_compiled = generated(_compiled, "0123*#", level_dbm0=-17, twist_db=-2)
    assert audio_twin == audio_compiled
    noisy = with_noise(audio_twin, -35, seed=7) + sig.pcm(sig.speech_like(8000, -12, 9))
    events = detect(_spandsp_py, noisy)
    assert keyed(events) == "0123*#"
    assert detect(_compiled, noisy) == events
