"""Conference mixer: what each party hears, saturation, gains; the compiled module and its twin agree."""

from __future__ import annotations

import math
import os
import struct
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cython_media import _mix_py, mix

IMPLEMENTATIONS: list[ModuleType] = [_mix_py]
try:
    from cython_media import _mix as _compiled  # type: ignore[attr-defined]
except ImportError:
    _compiled = None
else:
    IMPLEMENTATIONS.append(_compiled)


def pcm(*samples: int) -> bytes:
    return struct.pack(f"<{len(samples)}h", *samples)


def unpack(frame: bytes) -> tuple[int, ...]:
    return struct.unpack(f"<{len(frame) // 2}h", frame)


@pytest.fixture(params=IMPLEMENTATIONS, ids=lambda m: "compiled" if m is _compiled else "pure")
def impl(request: pytest.FixtureRequest) -> ModuleType:
    return request.param  # type: ignore[no-any-return]


def test_compiled_build_is_present_unless_pure_mode_is_forced() -> None:
    if os.environ.get("CENTRALITA_NO_EXTENSIONS"):
        assert mix.ACCELERATED is False
    else:
        assert _compiled is not None, "cython_media._mix was not built"
        assert mix.ACCELERATED is True and mix.mix_minus is _compiled.mix_minus


def test_each_party_hears_everybody_but_itself(impl: ModuleType) -> None:
    a, b, c = pcm(100, -5, 0), pcm(20, 7, 1), pcm(3, 0, -1)
    heard = impl.mix_minus([a, b, c])
    assert [unpack(h) for h in heard] == [(23, 7, 0), (103, -5, -1), (120, 2, 1)]


def test_a_party_alone_hears_silence_and_two_parties_hear_each_other(impl: ModuleType) -> None:
    assert impl.mix_minus([pcm(1234, -99)]) == [pcm(0, 0)]
    a, b = pcm(1, 2, 3), pcm(-7, 8, 9)
    assert impl.mix_minus([a, b]) == [b, a]
    assert impl.mix_minus([]) == []


def test_saturates_instead_of_wrapping(impl: ModuleType) -> None:
    loud = pcm(30000, -30000, 32767, -32768)
    assert unpack(impl.mix([loud, loud])) == (32767, -32768, 32767, -32768)
    # Party 0 hears 1 and 2 (clipped), party 2 hears 0 and 1: a wrapping 16-bit sum would flip the sign.
    heard = impl.mix_minus([loud, loud, pcm(-30000, 30000, 0, 0)])
    assert unpack(heard[0]) == (0, 0, 32767, -32768)
    assert unpack(heard[2]) == (32767, -32768, 32767, -32768)


def test_clamps_only_at_the_end(impl: ModuleType) -> None:
    """Two loud parties cancel a third's overload: clamping partial sums would leave a wrong result."""
    heard = impl.mix_minus([pcm(0), pcm(30000), pcm(30000), pcm(-30000)])
    assert unpack(heard[0]) == (30000,)


def test_gain_q16_values_and_limits(impl: ModuleType) -> None:
    assert impl.gain_q16(0.0) == 65536
    assert impl.gain_q16(-6.0) == round(65536 * 10 ** (-6 / 20))  # 32845: -6 dB is not exactly half
    assert impl.gain_q16(-math.inf) == 0
    assert impl.gain_q16(20.0) == 655360
    with pytest.raises(ValueError):
        impl.gain_q16(49.0)
    with pytest.raises(ValueError):
        impl.gain_q16(math.nan)


def test_gain_rounds_and_saturates(impl: ModuleType) -> None:
    assert impl.gain(pcm(1000, -1000, 1), 0.0) == pcm(1000, -1000, 1)
    assert unpack(impl.gain(pcm(1000, -1000, 20000), 6.0)) == (1995, -1995, 32767)
    assert unpack(impl.gain(pcm(3, -3), -6.0206)) == (2, -1)  # x0.5, round half up: 1.5 -> 2, -1.5 -> -1
    assert impl.gain(pcm(12345, -32768), -math.inf) == pcm(0, 0)


def test_talk_and_listen_gains(impl: ModuleType) -> None:
    a, b, c = pcm(1000), pcm(2000), pcm(4000)
    half = impl.gain_q16(-6.0206)  # 20*log10(0.5)
    assert half == 32768
    heard = impl.mix_minus([a, b, c], talk_gains=[65536, half, 65536])
    assert [unpack(h) for h in heard] == [(5000,), (5000,), (2000,)]
    heard = impl.mix_minus([a, b, c], listen_gains=[half, 65536, 0])
    assert [unpack(h) for h in heard] == [(3000,), (5000,), (0,)]


def test_bad_input_is_refused(impl: ModuleType) -> None:
    with pytest.raises(ValueError):
        impl.mix([])
    with pytest.raises(ValueError):
        impl.mix([pcm(1, 2), pcm(1)])
    with pytest.raises(ValueError):
        impl.mix_minus([b"\x00\x00\x00", b"\x00\x00\x00"])
    with pytest.raises(ValueError):
        impl.mix_minus([pcm(1), pcm(2)], talk_gains=[65536])
    with pytest.raises(ValueError):
        impl.mix_minus([pcm(1), pcm(2)], listen_gains=[65536, -1])


def test_accepts_bytes_like_frames(impl: ModuleType) -> None:
    assert impl.mix([bytearray(pcm(5)), memoryview(pcm(6))]) == pcm(11)
    assert impl.mix_minus([bytearray(pcm(5)), memoryview(pcm(6))]) == [pcm(6), pcm(5)]


samples = st.integers(-32768, 32767)
gains = st.one_of(st.just(65536), st.integers(0, 4 * 65536), st.floats(-60.0, 24.0).map(_mix_py.gain_q16))


@st.composite
def conferences(draw: st.DrawFn) -> tuple[list[bytes], list[int] | None, list[int] | None]:
    parties = draw(st.integers(1, 12))
    length = draw(st.integers(0, 40))
    frames = [pcm(*draw(st.lists(samples, min_size=length, max_size=length))) for _ in range(parties)]
    talk = draw(st.one_of(st.none(), st.lists(gains, min_size=parties, max_size=parties)))
    listen = draw(st.one_of(st.none(), st.lists(gains, min_size=parties, max_size=parties)))
    return frames, talk, listen


@pytest.mark.skipif(_compiled is None, reason="twin comparison needs the compiled module (checked above)")
@settings(max_examples=150, deadline=None)
@given(conferences())
def test_twins_agree_on_mix_minus(conference: tuple[list[bytes], list[int] | None, list[int] | None]) -> None:
    frames, talk, listen = conference
    assert _compiled is not None
    expected = _mix_py.mix_minus(frames, talk, listen)
    assert _compiled.mix_minus(frames, talk, listen) == expected
    if len(frames) > 1 and talk is None and listen is None:
        # Party p hears exactly the clamped sum of the others.
        for p, heard in enumerate(expected):
            others = [f for q, f in enumerate(frames) if q != p]
            assert heard == _mix_py.mix(others)


@pytest.mark.skipif(_compiled is None, reason="twin comparison needs the compiled module (checked above)")
@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(samples, min_size=8, max_size=8), min_size=1, max_size=10),
       st.floats(-96.0, 48.0, allow_nan=False) | st.just(-math.inf))
def test_twins_agree_on_mix_and_gain(frames: list[list[int]], db: float) -> None:
    assert _compiled is not None
    packed = [pcm(*f) for f in frames]
    assert _compiled.mix(packed) == _mix_py.mix(packed)
    assert _compiled.gain_q16(db) == _mix_py.gain_q16(db)
    assert _compiled.gain(packed[0], db) == _mix_py.gain(packed[0], db)
