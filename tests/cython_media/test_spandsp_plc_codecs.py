"""Packet loss concealment and the G.722 / G.726 codecs through spandsp, compiled and ctypes twin."""

from __future__ import annotations

import math
from itertools import pairwise
from types import ModuleType

import pytest

from cython_media import _spandsp_py, spandsp
from cython_media import dsp_signals as sig
from cython_media.spandsp import G726Packing

IMPLEMENTATIONS: list[ModuleType] = [_spandsp_py]
try:
    from cython_media import _spandsp as _compiled
except ImportError:
    _compiled = None
else:
    IMPLEMENTATIONS.append(_compiled)


@pytest.fixture(autouse=True, scope="module")
def _library_present() -> None:
    try:
        _spandsp_py.library()
    except _spandsp_py.SpandspError as exc:
        pytest.fail(str(exc))


@pytest.fixture(params=IMPLEMENTATIONS, ids=lambda m: "compiled" if m is _compiled else "ctypes")
def dsp(request: pytest.FixtureRequest) -> ModuleType:
    return request.param  # type: ignore[no-any-return]


TONE_440 = sig.pcm(sig.tone((440,), -10, 8000))


def conceal(dsp: ModuleType, audio: bytes, lost: set[int]) -> list[bytes]:
    concealer = dsp.PacketLossConcealer()
    return [concealer.fill() if i in lost else concealer.good(f) for i, f in enumerate(sig.frames(audio))]


def test_a_lost_frame_is_replaced_by_the_same_pitch_at_nearly_the_same_level(dsp: ModuleType) -> None:
    frames = conceal(dsp, TONE_440, {10})
    filled = frames[10]
    assert sig.tone_level_dbm0(filled, 440) > -13
    assert sig.level_dbm0(filled) == pytest.approx(-10, abs=2.5)
    # no click at either join: the largest step stays that of the clean sine
    values = sig.samples(b"".join(frames[9:12]))
    clean = sig.samples(TONE_440)
    largest_step = max(abs(b - a) for a, b in pairwise(values))
    assert largest_step <= 1.05 * max(abs(b - a) for a, b in pairwise(clean))


def test_long_losses_fade_to_silence_and_audio_returns_smoothly(dsp: ModuleType) -> None:
    frames = conceal(dsp, TONE_440, {10, 11, 12, 13})
    levels = [sig.level_dbm0(f) for f in frames[10:14]]
    assert levels == sorted(levels, reverse=True) and levels[-1] == -120.0  # silent after 50 ms
    original = sig.frames(TONE_440)
    assert frames[14] != original[14]  # the first good frame is blended in
    assert frames[15] == original[15] and frames[9] == original[9]  # otherwise untouched


def test_good_frames_pass_unchanged_without_loss(dsp: ModuleType) -> None:
    speech = sig.pcm(sig.speech_like(4000, -12, 3))
    assert conceal(dsp, speech, set()) == sig.frames(speech)


def wideband_tone(frequency: int, level: int, n_samples: int = 16000) -> bytes:
    return sig.pcm(sig.tone((frequency,), level, n_samples, sample_rate=16000))


def g722_round_trip(dsp: ModuleType, audio: bytes, rate: int = 64000) -> tuple[list[bytes], bytes]:
    encoder, decoder = dsp.G722Encoder(rate), dsp.G722Decoder(rate)
    packets = [encoder.encode(audio[i : i + 640]) for i in range(0, len(audio), 640)]
    return packets, b"".join(decoder.decode(p) for p in packets)


@pytest.mark.parametrize(("frequency", "level"), [(300, -20), (1000, -10), (3400, -16), (6000, -10), (7000, -25)])
def test_g722_carries_the_whole_wideband(dsp: ModuleType, frequency: int, level: int) -> None:
    packets, decoded = g722_round_trip(dsp, wideband_tone(frequency, level))
    assert {len(p) for p in packets} == {160}  # 20 ms of 16 kHz audio = 160 octets at 64 kbit/s
    steady = decoded[2 * 1600 :]
    assert sig.tone_level_dbm0(steady, frequency, sample_rate=16000) == pytest.approx(level, abs=0.6)
    # what comes out is that tone and little else
    assert sig.level_dbm0(steady) == pytest.approx(level, abs=0.6)


@pytest.mark.parametrize("rate", [64000, 56000, 48000])
def test_g722_lower_rates_pack_their_codes(dsp: ModuleType, rate: int) -> None:
    packets, decoded = g722_round_trip(dsp, wideband_tone(1000, -10))
    packets_low, decoded_low = g722_round_trip(dsp, wideband_tone(1000, -10), rate)
    assert {len(p) for p in packets_low} == {160 * rate // 64000}
    assert 0 <= len(decoded) - len(decoded_low) <= 4  # a code's worth of bits may wait for the next packet
    assert sig.tone_level_dbm0(decoded_low[3200:], 1000, sample_rate=16000) == pytest.approx(-10, abs=0.6)


def test_g722_narrowband_interworking_mode_takes_8khz_audio(dsp: ModuleType) -> None:
    encoder, decoder = dsp.G722Encoder(sample_rate=8000), dsp.G722Decoder(sample_rate=8000)
    tone = sig.pcm(sig.tone((1000,), -10, 8000))
    packets = [encoder.encode(f) for f in sig.frames(tone)]
    assert {len(p) for p in packets} == {160}
    decoded = b"".join(decoder.decode(p) for p in packets)
    assert len(decoded) == len(tone)
    assert sig.tone_level_dbm0(decoded[1600:], 1000) == pytest.approx(-10, abs=0.6)


def test_codec_settings_are_checked(dsp: ModuleType) -> None:
    for bad in ({"rate": 32000}, {"sample_rate": 11025}):
        with pytest.raises(spandsp.SpandspError):
            dsp.G722Encoder(**bad)
        with pytest.raises(spandsp.SpandspError):
            dsp.G722Decoder(**bad)
    with pytest.raises(spandsp.SpandspError):
        dsp.G726Encoder(8000)
    with pytest.raises(ValueError):
        dsp.G726Decoder(32000, 7)
    with pytest.raises(spandsp.SpandspError):
        dsp.G722Encoder().encode(b"\x00" * 3)


def snr_db(reference: bytes, decoded: bytes) -> float:
    """SNR of ``decoded`` against ``reference`` at the lag (0-40 samples) that aligns them best."""
    ref, out = sig.samples(reference), sig.samples(decoded)
    best = -math.inf
    for lag in range(40):
        signal = sum(r * r for r in ref[800 : len(ref) - 40])
        noise = sum(
            (r - o) ** 2 for r, o in zip(ref[800 : len(ref) - 40], out[800 + lag : len(ref) - 40 + lag], strict=True)
        )
        best = max(best, 10 * math.log10(signal / noise) if noise else math.inf)
    return best


@pytest.mark.parametrize(("bit_rate", "minimum_snr"), [(16000, 5), (24000, 10), (32000, 15), (40000, 20)])
def test_g726_round_trip_quality_grows_with_the_bit_rate(dsp: ModuleType, bit_rate: int, minimum_snr: float) -> None:
    speech = sig.pcm(sig.speech_like(8000, -15, 21))
    encoder, decoder = dsp.G726Encoder(bit_rate), dsp.G726Decoder(bit_rate)
    packets = [encoder.encode(f) for f in sig.frames(speech)]
    assert {len(p) for p in packets} == {160 * bit_rate // 64000}
    decoded = b"".join(decoder.decode(p) for p in packets)
    assert len(decoded) == len(speech)
    assert snr_db(speech, decoded) >= minimum_snr


def test_g726_packings_are_nibble_orders_of_the_same_code_words(dsp: ModuleType) -> None:
    speech = sig.pcm(sig.speech_like(1600, -15, 22))
    codes = dsp.G726Encoder(32000, G726Packing.NONE).encode(speech)
    rfc3551 = dsp.G726Encoder(32000, G726Packing.RFC3551).encode(speech)
    aal2 = dsp.G726Encoder(32000, G726Packing.AAL2).encode(speech)
    assert max(codes) <= 15 and len(codes) == 2 * len(rfc3551) == 2 * len(aal2)
    # RFC 3551 section 4.5.4: first code word in the least significant bits; AAL2 (I.366.2) the opposite
    assert rfc3551 == bytes(codes[i] | codes[i + 1] << 4 for i in range(0, len(codes), 2))
    assert aal2 == bytes(codes[i] << 4 | codes[i + 1] for i in range(0, len(codes), 2))
    decoded = {
        packing: dsp.G726Decoder(32000, packing).decode(data)
        for packing, data in ((G726Packing.NONE, codes), (G726Packing.RFC3551, rfc3551), (G726Packing.AAL2, aal2))
    }
    assert decoded[G726Packing.NONE] == decoded[G726Packing.RFC3551] == decoded[G726Packing.AAL2]


def test_both_builds_have_the_same_public_api() -> None:
    if _compiled is None:
        pytest.skip("only the ctypes twin is built (CENTRALITA_NO_EXTENSIONS)")
    for name in spandsp.COMPILED_CLASSES:
        twin, compiled = getattr(_spandsp_py, name), getattr(_compiled, name)
        public = {n for n in dir(twin) if not n.startswith("_")}
        assert public == {n for n in dir(compiled) if not n.startswith("_")}, name
        assert compiled.__doc__ == twin.__doc__, name


def test_both_builds_give_identical_bytes() -> None:
    if _compiled is None:
        pytest.skip("only the ctypes twin is built (CENTRALITA_NO_EXTENSIONS)")
    speech = sig.pcm(sig.speech_like(8000, -12, 4))
    lost = {5, 6, 20, 33, 34, 35, 36}
    assert conceal(_compiled, speech, lost) == conceal(_spandsp_py, speech, lost)
    wide = wideband_tone(2500, -12) + sig.pcm(sig.speech_like(4000, -12, 5))
    assert g722_round_trip(_compiled, wide) == g722_round_trip(_spandsp_py, wide)
    for bit_rate in (16000, 40000):
        encoder_c, encoder_t = _compiled.G726Encoder(bit_rate), _spandsp_py.G726Encoder(bit_rate)
        packets = [encoder_t.encode(f) for f in sig.frames(speech)]
        assert [encoder_c.encode(f) for f in sig.frames(speech)] == packets
        decoder_c, decoder_t = _compiled.G726Decoder(bit_rate), _spandsp_py.G726Decoder(bit_rate)
        assert [decoder_c.decode(p) for p in packets] == [decoder_t.decode(p) for p in packets]
