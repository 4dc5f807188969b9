"""Echo cancellation over speexdsp MDF on a synthetic hybrid echo path, compiled and ctypes twin.

ITU-T G.168 measures a line echo canceller by its echo return loss enhancement (ERLE) after convergence
and by what it does to the near end during double-talk; both are measured here with speech-like signals.
"""

from __future__ import annotations

import ctypes.util
import functools
import math
import os
from types import ModuleType

import pytest

from cython_media import _speexdsp_py, speexdsp
from cython_media import dsp_signals as sig

IMPLEMENTATIONS: list[ModuleType] = [_speexdsp_py]
try:
    from cython_media import _speexdsp as _compiled
except ImportError:
    _compiled = None
else:
    IMPLEMENTATIONS.append(_compiled)

SECONDS = 8
# A hybrid plus a few ms of PBX: 12 ms bulk delay, dispersive taps over 25 ms, echo return loss ~14 dB.
ECHO_TAPS = [(96, 0.25), (98, -0.12), (101, 0.08), (110, 0.05), (140, -0.03), (300, 0.02)]


@pytest.fixture(autouse=True, scope="module")
def _library_present() -> None:
    try:
        _speexdsp_py.library()
    except _speexdsp_py.SpeexDspError as exc:
        pytest.fail(str(exc))


@pytest.fixture(params=IMPLEMENTATIONS, ids=lambda m: "compiled" if m is _compiled else "ctypes")
def dsp(request: pytest.FixtureRequest) -> ModuleType:
    return request.param  # type: ignore[no-any-return]


@functools.cache
def signals() -> dict[str, bytes]:
    n = SECONDS * 8000
    far = sig.pcm(sig.speech_like(n, -15, 1))
    echo = sig.echo_path(far, ECHO_TAPS)
    line_noise = sig.pcm(sig.white_noise(n, -60, 2))
    talker = sig.pcm(sig.speech_like(n, -18, 7))
    # the near-end talker speaks only during the last 3 s (double-talk with the far end)
    near_talk = sig.silence(n - 3 * 8000) + talker[2 * (n - 3 * 8000) :]
    return {
        "far": far,
        "echo_only": sig.add(echo, line_noise),
        "double_talk": sig.add(echo, line_noise, near_talk),
        "near_talk": near_talk,
    }


def cancel(dsp: ModuleType, near: bytes, far: bytes, **settings: object) -> bytes:
    canceller = dsp.EchoCanceller(160, 128, **settings)
    return b"".join(canceller.cancel(a, b) for a, b in zip(sig.frames(near), sig.frames(far), strict=True))


def erle_db(near: bytes, out: bytes, start_s: float, end_s: float) -> float:
    a, b = int(start_s * 16000), int(end_s * 16000)
    return sig.level_dbm0(near[a:b]) - sig.level_dbm0(out[a:b])


def test_compiled_build_is_present_unless_pure_mode_is_forced() -> None:
    if os.environ.get("CENTRALITA_NO_EXTENSIONS"):
        assert speexdsp.ACCELERATED is False
    else:
        assert _compiled is not None, "cython_media._speexdsp was not built (needs libspeexdsp-dev and Cython)"
        assert speexdsp.ACCELERATED is True and speexdsp.EchoCanceller is _compiled.EchoCanceller


def test_erle_exceeds_20_db_after_convergence(dsp: ModuleType) -> None:
    s = signals()
    out = cancel(dsp, s["echo_only"], s["far"])
    assert erle_db(s["echo_only"], out, 0.0, 0.5) < 10  # still learning the path
    assert erle_db(s["echo_only"], out, 2.0, 5.0) > 20
    assert erle_db(s["echo_only"], out, 5.0, SECONDS) > 20


def test_residual_echo_suppression_adds_attenuation(dsp: ModuleType) -> None:
    s = signals()
    linear = erle_db(s["echo_only"], cancel(dsp, s["echo_only"], s["far"]), 3.0, 5.0)
    suppressed = erle_db(s["echo_only"], cancel(dsp, s["echo_only"], s["far"], residual_suppression=True), 3.0, 5.0)
    assert suppressed > linear + 10


def near_end_kept_db(out: bytes, talker: bytes, start_s: float, delay: int) -> float:
    """Level of the near talker inside ``out`` relative to the talker alone (projection, not raw level)."""
    a = int(start_s * 8000)
    x, y = sig.samples(talker)[a : -delay or None], sig.samples(out)[a + delay :]
    power = sum(v * v for v in x)
    projection = sum(u * v for u, v in zip(x, y[: len(x)], strict=True)) / power
    return 20 * math.log10(abs(projection))


def best_lag(reference: bytes, out: bytes) -> int:
    x, y = sig.samples(reference), sig.samples(out)
    return max(range(0, 240, 4), key=lambda lag: sum(x[i] * y[i + lag] for i in range(8000, 12000, 2)))


@pytest.mark.parametrize("residual_suppression", [False, True])
def test_double_talk_keeps_the_near_end_speech(dsp: ModuleType, residual_suppression: bool) -> None:
    s = signals()
    out = cancel(dsp, s["double_talk"], s["far"], residual_suppression=residual_suppression)
    start = SECONDS - 3
    # The speex preprocessor's overlap-add delays what it outputs by one frame (20 ms).
    delay = 160 if residual_suppression else 0
    kept = near_end_kept_db(out, s["near_talk"], start, delay)
    assert -3 <= kept <= 1
    # and the talker is what dominates the output, not the echo
    a = 2 * start * 8000
    assert sig.level_dbm0(out[a:]) == pytest.approx(sig.level_dbm0(s["near_talk"][a:]), abs=3)
    # before the near end spoke, the echo was already cancelled
    assert erle_db(s["double_talk"], out, 3.0, start) > 20


def test_residual_suppression_costs_one_frame_of_delay(dsp: ModuleType) -> None:
    talker = sig.pcm(sig.speech_like(2 * 8000, -15, 3))
    silence = sig.silence(2 * 8000)
    assert best_lag(talker, cancel(dsp, talker, silence)) == 0
    assert best_lag(talker, cancel(dsp, talker, silence, residual_suppression=True)) == 160


def test_reset_forgets_the_echo_path(dsp: ModuleType) -> None:
    s = signals()
    canceller = dsp.EchoCanceller(160, 128)
    pairs = list(zip(sig.frames(s["echo_only"]), sig.frames(s["far"]), strict=True))
    out = b"".join(canceller.cancel(a, b) for a, b in pairs[:200])
    assert erle_db(s["echo_only"][: len(out)], out, 3.0, 4.0) > 20
    canceller.reset()
    again = b"".join(canceller.cancel(a, b) for a, b in pairs[200:215])
    assert erle_db(b"".join(a for a, _ in pairs[200:215]), again, 0.0, 0.3) < 6


def test_a_different_frame_size_and_tail_work(dsp: ModuleType) -> None:
    s = signals()
    canceller = dsp.EchoCanceller(80, 64)
    assert (canceller.frame_size, canceller.tail_ms, canceller.residual_suppression) == (80, 64, False)
    out = b"".join(
        canceller.cancel(a, b) for a, b in zip(sig.frames(s["echo_only"], 80), sig.frames(s["far"], 80), strict=True)
    )
    assert erle_db(s["echo_only"], out, 4.0, SECONDS) > 20


@pytest.mark.parametrize(
    "settings",
    [
        {"frame_size": 16},
        {"frame_size": 1000},
        {"tail_ms": 4},
        {"tail_ms": 1000},
        {"sample_rate": 44100},
        {"echo_suppress_db": 10},
        {"noise_suppress_db": -200},
    ],
)
def test_bad_settings_are_refused(dsp: ModuleType, settings: dict[str, int]) -> None:
    with pytest.raises(speexdsp.SpeexDspError):
        dsp.EchoCanceller(**settings)


def test_frames_of_the_wrong_size_are_refused(dsp: ModuleType) -> None:
    canceller = dsp.EchoCanceller()
    with pytest.raises(speexdsp.SpeexDspError):
        canceller.cancel(bytes(320), bytes(318))
    with pytest.raises(speexdsp.SpeexDspError):
        canceller.cancel(bytes(160), bytes(160))


def test_a_missing_library_names_the_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_speexdsp_py, "_library", None)
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    with pytest.raises(speexdsp.SpeexDspError, match="libspeexdsp-dev"):
        _speexdsp_py.EchoCanceller()


def test_a_missing_spandsp_names_the_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    from cython_media import _spandsp_py

    monkeypatch.setattr(_spandsp_py, "_library", None)
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    with pytest.raises(_spandsp_py.SpandspError, match="libspandsp-dev"):
        _spandsp_py.DtmfDetector()


def test_both_builds_have_the_same_public_api() -> None:
    if _compiled is None:
        pytest.skip("only the ctypes twin is built (CENTRALITA_NO_EXTENSIONS)")
    twin, compiled = _speexdsp_py.EchoCanceller, _compiled.EchoCanceller
    assert {n for n in dir(twin) if not n.startswith("_")} == {n for n in dir(compiled) if not n.startswith("_")}
    assert compiled.__doc__ == twin.__doc__


def test_both_builds_give_identical_output() -> None:
    if _compiled is None:
        pytest.skip("only the ctypes twin is built (CENTRALITA_NO_EXTENSIONS)")
    s = signals()
    near, far = s["double_talk"][: 2 * 3 * 8000], s["far"][: 2 * 3 * 8000]
    for settings in ({}, {"residual_suppression": True}):
        assert cancel(_compiled, near, far, **settings) == cancel(_speexdsp_py, near, far, **settings)
