"""DSP objects made at the first signal (cython_media.deferred): an idle line loads no DSP, and a detector
made late reports exactly what an eager one reports, on the same sample clock."""

from __future__ import annotations

import subprocess
import sys

from cython_media import dsp_signals, spandsp
from cython_media.deferred import DeferredCanceller, DeferredDetector, quiet
from cython_media.spandsp import ToneCadence


def frames(audio: bytes, size: int = 320) -> list[bytes]:
    return [audio[i:i + size] for i in range(0, len(audio), size)]


def test_quiet_frames_are_silence_and_g711_idle_codes() -> None:
    assert quiet(bytes(320))
    assert quiet(dsp_signals.pcm([8, -8] * 80))  # A-law's idle code decodes to +-8
    assert not quiet(dsp_signals.pcm([0] * 159 + [200]))
    assert not quiet(dsp_signals.pcm(dsp_signals.tone([697, 1209], -30.0, 160)))  # a weak digit counts


def test_a_late_dtmf_detector_reports_the_same_digits_on_the_same_clock() -> None:
    audio = dsp_signals.silence(8000)
    for digit in "2002":
        audio += dsp_signals.pcm(dsp_signals.tone([dsp_signals.DTMF_LOW[digit], dsp_signals.DTMF_HIGH[digit]],
                                                  -10.0, 800)) + dsp_signals.silence(800)
    eager, deferred = spandsp.DtmfDetector(), DeferredDetector(lambda: spandsp.DtmfDetector())
    got_eager = [event for frame in frames(audio) for event in eager.feed(frame)]
    got_deferred = [event for frame in frames(audio) for event in deferred.feed(frame)]
    assert "".join(e.digit for e in got_eager if e.ended) == "2002"
    # The same events; spandsp works in 102-sample blocks, so a detector started elsewhere in the stream
    # confirms a digit up to one block apart (its own granularity), on the same clock.
    assert [(e.digit, e.ended) for e in got_deferred] == [(e.digit, e.ended) for e in got_eager]
    for late, early in zip(got_deferred, got_eager, strict=True):
        assert abs(late.start - early.start) <= 102 and abs(late.duration - early.duration) <= 102


def test_a_late_tone_detector_keeps_the_detectors_sample_clock() -> None:
    busy = dsp_signals.pcm(dsp_signals.tone([480, 620], -15.0, 4000)) + dsp_signals.silence(4000)
    audio = dsp_signals.silence(16000) + busy * 3
    cadence = [ToneCadence("busy", (480, 620), min_continuous_ms=200)]
    eager = spandsp.CallProgressDetector(cadence)
    deferred = DeferredDetector(lambda: spandsp.CallProgressDetector(cadence))
    got_eager = [event for frame in frames(audio) for event in eager.feed(frame)]
    got_deferred = [event for frame in frames(audio) for event in deferred.feed(frame)]
    assert got_eager and got_deferred == got_eager


def test_an_echo_canceller_is_made_when_either_direction_carries_a_signal() -> None:
    made = []

    class Canceller:
        def cancel(self, near: bytes, far: bytes) -> bytes:
            return bytes(len(near))

        def reset(self) -> None:
            made.append("reset")

    deferred = DeferredCanceller(lambda: made.append("made") or Canceller())
    near_idle = dsp_signals.pcm([4] * 160)
    assert deferred.cancel(near_idle, bytes(320)) == near_idle and not made  # nothing to cancel yet
    deferred.reset()
    assert not made
    assert deferred.cancel(near_idle, dsp_signals.pcm(dsp_signals.tone([1004], -10.0, 160))) == bytes(320)
    assert made == ["made"]


def test_importing_the_dsp_modules_loads_no_library() -> None:
    code = ("import sys; import cython_media.spandsp, cython_media.speexdsp, core.mediaengine.tdm, board.sim.peers; "
            "print(sorted(m for m in sys.modules if m in ('cython_media._spandsp', 'cython_media._spandsp_py', "
            "'cython_media._speexdsp', 'cython_media._speexdsp_py', 'ctypes')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
