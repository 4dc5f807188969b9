"""Tone lists (Asterisk syntax), the tone generator (frequency, level, cadence, no clicks) and the
per-country indications, measured on the generated audio as a line tester would."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import tones
from core.tones import ToneError, ToneGenerator, TonePart, parse_tone_list
from cython_media import g711

RATE = 8000
# ITU-T G.711 Table 5: the u-law digital milliwatt (1 kHz at 0 dBm0), one period of eight codes.
DIGITAL_MILLIWATT_ULAW = bytes([0x1E, 0x0B, 0x0B, 0x1E, 0x9E, 0x8B, 0x8B, 0x9E])


def samples(data: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(data) // 2}h", data))


def rms(xs: list[int]) -> float:
    return math.sqrt(sum(x * x for x in xs) / len(xs))


def tone_power(xs: list[int], freq: float) -> float:
    """Goertzel: amplitude of ``freq`` in ``xs`` (a sine of peak A gives about A)."""
    coeff = 2 * math.cos(2 * math.pi * freq / RATE)
    s1 = s2 = 0.0
    for x in xs:
        s1, s2 = x + coeff * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    return 2 * math.sqrt(max(power, 0.0)) / len(xs)


def dbm0(xs: list[int]) -> float:
    """Level against the digital milliwatt of G.711 (0 dBm0 by definition), decoded with our codec."""
    reference = rms(samples(g711.ulaw2lin(DIGITAL_MILLIWATT_ULAW)))
    return 20 * math.log10(rms(xs) / reference)


def on_off_pattern(xs: list[int], block_ms: int = 5) -> list[tuple[bool, int]]:
    """Runs of tone/silence in ``block_ms`` blocks: [(on, duration_ms), ...]."""
    n = RATE * block_ms // 1000
    runs: list[tuple[bool, int]] = []
    for i in range(0, len(xs) - n + 1, n):
        on = rms(xs[i:i + n]) > 300
        if runs and runs[-1][0] == on:
            runs[-1] = (on, runs[-1][1] + block_ms)
        else:
            runs.append((on, block_ms))
    return runs


# Parsing ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "parts", "repeat_from"), [
    ("350+440", [TonePart(350, 440)], 0),
    ("480+620/500,0/500", [TonePart(480, 620, duration_ms=500), TonePart(0, duration_ms=500)], 0),
    ("!350+440/100,!0/100,350+440",
     [TonePart(350, 440, False, 100, True), TonePart(0, 0, False, 100, True), TonePart(350, 440)], 2),
    ("!950/330,!1400/330,!1800/330", [TonePart(950, 0, False, 330, True), TonePart(1400, 0, False, 330, True),
                                      TonePart(1800, 0, False, 330, True)], None),
    ("400*25/400,0/200", [TonePart(400, 25, True, 400), TonePart(0, duration_ms=200)], 0),
    ("425/375, 0/375 ,425/375@-20", [TonePart(425, duration_ms=375), TonePart(0, duration_ms=375),
                                     TonePart(425, duration_ms=375, level_dbm0=-20.0)], 0),
    ("440/100|0/100", [TonePart(440, duration_ms=100), TonePart(0, duration_ms=100)], 0),  # '|' separator
    ("M69+M81/200", [TonePart(440, 880, duration_ms=200)], 0),  # MIDI notes
    ("425/0", [TonePart(425)], 0),
])
def test_parse_asterisk_tone_lists(text: str, parts: list[TonePart], repeat_from: int | None) -> None:
    plan = parse_tone_list(text)
    assert list(plan.parts) == parts
    assert plan.repeat_from == repeat_from


@pytest.mark.parametrize(("text", "position"), [
    ("", 0), ("425/", 4), ("abc", 0), ("425+", 4), ("440x", 3), ("425,,440", 4), ("350+440/100,!0/1o0", 16),
    ("M128", 0), ("4000", 0), ("425@4", 4), ("440+M69", 4), ("425/100,", 8), ("425@-", 4), ("425*", 4),
])
def test_parse_errors_carry_the_position(text: str, position: int) -> None:
    with pytest.raises(ToneError) as error:
        parse_tone_list(text)
    assert error.value.position == position
    assert f"position {position}" in str(error.value)


def test_midi_notes_match_asterisks_table() -> None:
    # main/indications.c midi_tohz[]: a few entries across the range.
    assert [tones.midi_note_hz(n) for n in (0, 1, 2, 25, 46, 57, 60, 69, 81, 96, 107)] == [
        8, 8, 9, 34, 116, 220, 261, 440, 880, 2093, 3951]


# Generator -------------------------------------------------------------------------------------------

def test_default_level_is_asterisks_and_levels_are_in_dbm0() -> None:
    # ast_playtones_start plays each frequency at amplitude 7219.
    xs = samples(ToneGenerator("1000").read(RATE))
    assert max(xs) == 7219 and min(xs) == -7219
    for level in (0.0, -10.0, -13.0, -20.0):
        xs = samples(ToneGenerator("1004", level_dbm0=level).read(RATE))
        assert dbm0(xs[RATE // 10:]) == pytest.approx(level, abs=0.05)


def test_per_element_level_extension() -> None:
    xs = samples(ToneGenerator("425/500,425/500@-20", level_dbm0=-10).read(RATE))
    assert dbm0(xs[100:3900]) == pytest.approx(-10, abs=0.1)
    assert dbm0(xs[4100:7900]) == pytest.approx(-20, abs=0.1)


@pytest.mark.parametrize(("text", "present", "absent"), [
    ("350+440", (350, 440), (480, 620)),
    ("480+620", (480, 620), (350, 440)),
    ("1004", (1004,), (950, 1400)),
])
def test_frequencies_are_the_ones_asked_for(text: str, present: tuple[int, ...], absent: tuple[int, ...]) -> None:
    xs = samples(ToneGenerator(text).read(RATE))
    for f in present:
        assert tone_power(xs, f) == pytest.approx(7219, rel=0.01)
    for f in absent:
        assert tone_power(xs, f) < 50


def test_modulated_tone_has_sidebands() -> None:
    """400*25 (India dial tone): the carrier and sidebands at 375/425 Hz, 90 % depth -> sidebands 0.45."""
    xs = samples(ToneGenerator("400*25").read(RATE))
    carrier = tone_power(xs, 400)
    assert tone_power(xs, 375) / carrier == pytest.approx(0.45, abs=0.01)
    assert tone_power(xs, 425) / carrier == pytest.approx(0.45, abs=0.01)
    assert max(abs(x) for x in xs) <= 7220


@pytest.mark.parametrize(("country", "name", "pattern"), [
    ("us", "busy", [500, 500, 500, 500]),
    ("us", "congestion", [250, 250, 250, 250]),
    ("uk", "ring", [400, 200, 400, 2000]),
    ("uk", "congestion", [400, 350, 225, 525]),
    ("de", "busy", [480, 480, 480, 480]),
    ("ar", "ring", [1000, 4500]),
    ("es", "congestion", [200, 200, 200, 200, 200, 600]),
])
def test_cadences_are_played_as_configured(country: str, name: str, pattern: list[int]) -> None:
    cycle = sum(pattern)
    xs = samples(ToneGenerator(tones.indication(country, name)).read(RATE * 2 * cycle // 1000))
    runs = on_off_pattern(xs)
    assert [on for on, _ in runs[:len(pattern)]] == [i % 2 == 0 for i in range(len(pattern))]
    for (_, measured), expected in zip(runs[:len(pattern)], pattern, strict=True):
        assert abs(measured - expected) <= 5  # 5 ms measurement blocks


def test_play_once_lists_stop_and_repeat_from_the_first_repeating_element() -> None:
    gen = ToneGenerator("!425/200,!0/200")
    first = samples(gen.read(RATE // 2))
    assert not gen.finished or gen.samples_generated >= 3200
    assert rms(first[:1600]) > 3000 and rms(first[1700:3200]) == 0
    assert gen.finished and samples(gen.read(800)) == [0] * 800
    # US SIT: three once-only tones then continuous silence.
    gen = ToneGenerator(tones.indication("us", "info"))
    xs = samples(gen.read(RATE * 3))
    assert [round(tone_power(xs[i + 200:i + 2440], f)) > 5000 for i, f in ((0, 950), (2640, 1400), (5280, 1800))] \
        == [True, True, True]
    assert max(abs(x) for x in xs[8000:]) == 0 and not gen.finished
    # Stutter dial tone: six 100 ms beeps, then the steady tone for ever.
    xs = samples(ToneGenerator(tones.indication("us", "stutter")).read(RATE * 3))
    runs = on_off_pattern(xs, 10)
    assert [on for on, _ in runs] == [True, False] * 6 + [True]
    assert runs[-1][1] >= 1700


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 400), min_size=1, max_size=40), st.sampled_from([
    "350+440/750,440/750", "470/400,425/400", "950/330,1400/330,1800/330,0/1000", "480+620/500,0/500",
    "!350+440/100,!0/100,!350+440/100,!0/100,350+440", "400*25/400,0/200,400*25/400,0/2000", "413+438/100,0/40",
]))
def test_frame_borders_do_not_change_the_audio(chunks: list[int], text: str) -> None:
    """Reading in any chunk sizes gives exactly the samples of one long read."""
    whole = ToneGenerator(text).read(sum(chunks))
    gen = ToneGenerator(text)
    assert b"".join(gen.read(n) for n in chunks) == whole


def high_band(xs: list[int]) -> float:
    """Largest Hann-windowed amplitude at 3.5-3.9 kHz: telephony tones have none, a click (a step in the
    waveform) spreads energy up to 4 kHz."""
    n = len(xs)
    window = [0.5 - 0.5 * math.cos(2 * math.pi * i / (n - 1)) for i in range(n)]
    best = 0.0
    for f in (3500, 3700, 3900):
        re = sum(x * w * math.cos(2 * math.pi * f * i / RATE) for i, (x, w) in enumerate(zip(xs, window, strict=True)))
        im = sum(x * w * math.sin(2 * math.pi * f * i / RATE) for i, (x, w) in enumerate(zip(xs, window, strict=True)))
        best = max(best, 4 * math.hypot(re, im) / n)
    return best


@pytest.mark.parametrize("text", [
    "350+440/750,440/750",  # uk stutter: 350 Hz leaves, 440 Hz continues
    "470/400,425/400",  # it dialrecall: a frequency change without silence
    "950/330,1400/330,1800/330,0/1000",  # SIT
    "425/200,0/200,425/600,0/1000",  # it dial tone
    "480+620/500,0/500",
    "425/375,0/375,425/375@-20,0/375",
])
def test_no_clicks_between_elements(text: str) -> None:
    """Around every element boundary the audio has no energy near 4 kHz; the same list played with each
    element's oscillators restarted at an arbitrary phase (and switched on at full amplitude) does."""
    plan = parse_tone_list(text)
    amplitude = tones.level_to_amplitude(tones.DEFAULT_LEVEL_DBM0)
    cycle = sum(p.duration_ms for p in plan.parts) * RATE // 1000
    xs = samples(ToneGenerator(plan).read(2 * cycle + 80))
    boundaries, t = [], 0
    restarted: list[int] = []
    for k, part in enumerate(plan.parts * 2):
        boundaries.append(t)
        n = part.duration_ms * RATE // 1000
        t += n
        phase = 0.3 if k % 2 else 0.8
        freqs = [f for f in (part.freq1, part.freq2) if f]
        restarted += [round(sum(amplitude * math.sin(2 * math.pi * (phase + f * i / RATE)) for f in freqs))
                      for i in range(n)]
    inner = [b for b in boundaries if b >= 40]
    assert max(high_band(xs[b - 40:b + 40]) for b in inner) < 5
    assert max(high_band(restarted[b - 40:b + 40]) for b in inner if b + 40 <= len(restarted)) > 100


def test_phase_is_continuous_where_a_frequency_continues() -> None:
    """uk stutter: 440 Hz plays through the 350+440 -> 440 change with unbroken phase."""
    xs = samples(ToneGenerator("350+440/750,440/750").read(RATE * 3))
    amplitude = tones.level_to_amplitude(tones.DEFAULT_LEVEL_DBM0)
    # After the fade, the 440 Hz alone must be the continuation of the 440 component of the first element:
    # fit the phase on the first element (minus 350 Hz) and predict the second one.
    n0 = 6000 + tones.RAMP_SAMPLES + 10
    predicted = [amplitude * math.sin(2 * math.pi * 440 * n / RATE) for n in range(n0, n0 + 400)]
    assert max(abs(p - x) for p, x in zip(predicted, xs[n0:n0 + 400], strict=True)) <= 1


def test_bad_generator_arguments() -> None:
    with pytest.raises(ValueError):
        ToneGenerator("425", level_dbm0=4.0)
    with pytest.raises(ValueError):
        ToneGenerator("425").read(-1)
    assert ToneGenerator("425").read(0) == b""


# Indications -----------------------------------------------------------------------------------------

REQUIRED_COUNTRIES = ("us", "uk", "de", "fr", "it", "es", "nl", "au", "br", "mx", "ar", "cl", "jp", "in", "ru")


@pytest.mark.parametrize("country", REQUIRED_COUNTRIES)
def test_every_country_has_every_indication_and_they_parse(country: str) -> None:
    zone = tones.tone_zone(country)
    assert zone.country == country and zone.source and zone.ring_cadence
    for name in tones.INDICATIONS:
        plan = parse_tone_list(zone.tones[name])
        assert plan.parts
        assert ToneGenerator(plan).read(160)


@pytest.mark.parametrize(("country", "name", "expected"), [
    # Spot checks against E.180 Supplement 2 / the national specifications the sample file cites.
    ("us", "dial", "350+440"), ("us", "ring", "440+480/2000,0/4000"), ("uk", "busy", "400/375,0/375"),
    ("de", "dial", "425"), ("fr", "ring", "440/1500,0/3500"), ("it", "dial", "425/200,0/200,425/600,0/1000"),
    ("au", "dial", "413+438"), ("in", "dial", "400*25"), ("jp", "ring", "400+15/1000,0/2000"),
    ("ar", "busy", "425/300,0/300"), ("ar", "congestion", "425/200,0/300"), ("ru", "busy", "425/350,0/350"),
    ("cl", "dial", "400"), ("mx", "busy", "425/250,0/250"), ("br", "congestion", "425/250,0/250,425/750,0/250"),
])
def test_indication_values(country: str, name: str, expected: str) -> None:
    assert tones.indication(country, name) == expected


def test_lookup_fallbacks_and_aliases() -> None:
    assert tones.tone_zone("xx").country == "us"
    assert tones.tone_zone(None).country == "us"
    assert tones.tone_zone("GB").country == "uk"
    assert tones.indication("de", "ringback") == "425/1000,0/4000"
    assert tones.indication("fr", "callwait") == "440/300,0/10000"
    with pytest.raises(KeyError):
        tones.indication("us", "fanfare")
    assert tones.tone_plan("busy", "uk") == parse_tone_list("400/375,0/375")
    assert tones.tone_plan("!425/100", "uk") == parse_tone_list("!425/100")
