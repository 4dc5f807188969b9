"""Call-progress (super_tone_rx) and fax/modem (modem_connect_tones) tone detection through spandsp.

Generate -> detect with level changes and noise: the right tone is reported, at the right time, and no
other.  North American tones (ITU-T E.180 Supplement 2: dial 350+440 Hz, ringback 440+480 Hz 2/4 s, busy
480+620 Hz 0.5/0.5 s, reorder 0.25/0.25 s) and a European 425 Hz set that only cadence tells apart.
"""

from __future__ import annotations

import functools
from itertools import pairwise
from types import ModuleType

import pytest

from cython_media import _spandsp_py, spandsp
from cython_media import dsp_signals as sig
from cython_media.spandsp import ModemTone, ToneCadence, ToneEvent

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


NORTH_AMERICA = [
    ToneCadence("dial", (350, 440)),
    ToneCadence("ringback", (440, 480), (2000, 4000)),
    ToneCadence("busy", (480, 620), (500, 500)),
    ToneCadence("congestion", (480, 620), (250, 250)),
]
# Germany-like: everything at 425 Hz; dial tone must outlast the 1 s ringback burst to count, and the
# short cadences must repeat (like Asterisk's busycount) or syllables of speech at 425 Hz match them.
EUROPE = [
    ToneCadence("dial", (425,), min_continuous_ms=2500),
    ToneCadence("ringback", (425,), (1000, 4000)),
    ToneCadence("busy", (425,), (480, 480), cycles=2),
    ToneCadence("congestion", (425,), (240, 240), cycles=3),
]
LEAD_IN = 1600  # samples of silence before each tone


def play(dsp: ModuleType, tone: ToneCadence, level: int, seconds: int) -> bytes:
    generator = dsp.ToneGenerator.from_cadence(tone, level)
    return b"".join(generator.generate() for _ in range(50 * seconds))


def listen(dsp: ModuleType, table: list[ToneCadence], audio: bytes) -> list[ToneEvent]:
    detector = dsp.CallProgressDetector(table)
    events: list[ToneEvent] = []
    for frame in sig.frames(sig.silence(LEAD_IN) + audio + sig.silence(5 * 8000)):
        events += detector.feed(frame)
    assert detector.current is None
    return events


def tone_stops(tone: ToneCadence, total: int) -> int:
    """The sample where the last burst of ``tone`` played for ``total`` samples ends."""
    if not tone.cadence_ms:
        return total
    at, step, last = 0, 0, 0
    while at < total:
        length = tone.cadence_ms[step % len(tone.cadence_ms)] * 8
        if step % 2 == 0:
            last = min(at + length, total)
        at += length
        step += 1
    return last


def with_noise(audio: bytes, noise_dbm0: float, seed: int) -> bytes:
    return sig.add(audio, sig.pcm(sig.white_noise(len(audio) // 2, noise_dbm0, seed)))


TABLES = {"north-america": NORTH_AMERICA, "europe": EUROPE}


def seconds_for(tone: ToneCadence) -> int:
    """Long enough for two whole cycles (and dial tone's minimum) plus a second."""
    cycle = sum(tone.cadence_ms) * tone.cycles if tone.cadence_ms else tone.min_continuous_ms
    return max(4, -(-(2 * cycle + 1000) // 1000))


@functools.cache
def tone_audio(table: str, index: int, level: int, noise: int | None) -> bytes:
    # Made once for both builds with the twin's generator (the builds' generators are compared below).
    tone = TABLES[table][index]
    audio = play(_spandsp_py, tone, level, seconds_for(tone))
    return audio if noise is None else with_noise(audio, noise, seed=index - level)


@pytest.mark.parametrize("table", list(TABLES))
@pytest.mark.parametrize("index", range(4), ids=["dial", "ringback", "busy", "congestion"])
@pytest.mark.parametrize(("level", "noise"), [(-3, None), (-13, -50), (-30, -50)])
def test_each_tone_is_recognised_once_and_no_other(
    dsp: ModuleType, table: str, index: int, level: int, noise: int | None
) -> None:
    # Line noise at -50 dBm0 is SNR 20 dB for the -30 dBm0 tones.  super_tone_rx needs the gaps of a
    # cadence quieter than about -42 dBm0: louder noise there reads as tone (see CallProgressDetector).
    tone = TABLES[table][index]
    events = listen(dsp, TABLES[table], tone_audio(table, index, level, noise))
    assert [(e.tone, e.detected) for e in events] == [(tone.name, True), (tone.name, False)]
    start, end = events[0].sample - LEAD_IN, events[1].sample - LEAD_IN
    # Recognised once the cycles asked for have been seen (for dial tone: its minimum duration).
    cycle = sum(tone.cadence_ms) * tone.cycles if tone.cadence_ms else tone.min_continuous_ms
    assert 0.8 * cycle * 8 <= start <= (1.15 * cycle + 100) * 8
    # Ends within one maximum gap (plus detector blocks) after the tone stops.
    last_on = tone_stops(tone, seconds_for(tone) * 8000)
    longest_gap = max(tone.cadence_ms[1::2], default=0)
    assert last_on <= end <= last_on + (1.1 * longest_gap + 200) * 8


@pytest.mark.parametrize("snr", [10, 20, 30])
def test_continuous_dial_tone_is_recognised_in_heavy_noise(dsp: ModuleType, snr: int) -> None:
    audio = with_noise(play(dsp, NORTH_AMERICA[0], -13, 4), -10 - snr, seed=snr)
    assert [(e.tone, e.detected) for e in listen(dsp, NORTH_AMERICA, audio)] == [("dial", True), ("dial", False)]


UNITED_KINGDOM = [
    ToneCadence("dial", (350, 440)),
    ToneCadence("ringback", (400, 450), (400, 200, 400, 2000)),
    ToneCadence("busy", (400,), (375, 375)),
    ToneCadence("congestion", (400,), (400, 350, 225, 525)),
]


def test_tones_of_another_country_are_not_reported(dsp: ModuleType) -> None:
    uk_ringback = play(dsp, UNITED_KINGDOM[1], -13, 9)
    assert listen(dsp, NORTH_AMERICA, uk_ringback) == []
    events = listen(dsp, UNITED_KINGDOM, uk_ringback)
    assert [(e.tone, e.detected) for e in events] == [("ringback", True), ("ringback", False)]
    assert listen(dsp, NORTH_AMERICA, play(dsp, UNITED_KINGDOM[2], -13, 4)) == []


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_speech_like_sound_is_not_a_call_progress_tone(dsp: ModuleType, seed: int) -> None:
    speech = sig.pcm(sig.speech_like(6 * 8000, -12, seed))
    for table in (NORTH_AMERICA, EUROPE, UNITED_KINGDOM):
        assert listen(dsp, table, speech) == []


def test_tone_changes_are_reported_in_order(dsp: ModuleType) -> None:
    audio = play(dsp, NORTH_AMERICA[1], -15, 7) + sig.silence(8000) + play(dsp, NORTH_AMERICA[2], -15, 4)
    events = listen(dsp, NORTH_AMERICA, audio)
    assert [(e.tone, e.detected) for e in events] == [
        ("ringback", True),
        ("ringback", False),
        ("busy", True),
        ("busy", False),
    ]
    assert [e.sample for e in events] == sorted(e.sample for e in events)


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "", "frequencies": (425,)},
        {"name": "x", "frequencies": ()},
        {"name": "x", "frequencies": (425, 430)},
        {"name": "x", "frequencies": (5000,)},
        {"name": "x", "frequencies": (425,), "cadence_ms": (500,)},
        {"name": "x", "frequencies": (425,), "cadence_ms": (500, 0)},
        {"name": "x", "frequencies": (425,), "cadence_ms": (100, 100) * 6},
        {"name": "x", "frequencies": (425,), "cadence_ms": (100, 100, 100, 100), "cycles": 3},
        {"name": "x", "frequencies": (425,), "cadence_ms": (100, 100), "cycles": 0},
    ],
)
def test_impossible_cadences_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(spandsp.SpandspError):
        ToneCadence(**bad)  # type: ignore[arg-type]


def test_duplicate_names_and_empty_tables_are_refused(dsp: ModuleType) -> None:
    with pytest.raises(spandsp.SpandspError):
        dsp.CallProgressDetector([])
    with pytest.raises(spandsp.SpandspError):
        dsp.CallProgressDetector([NORTH_AMERICA[0], NORTH_AMERICA[0]])


@pytest.mark.parametrize(("frequencies", "level"), [((425,), -10), ((350, 440), -13), ((480, 620), -24)])
def test_tone_generator_frequency_level_and_cadence(dsp: ModuleType, frequencies: tuple[int, ...], level: int) -> None:
    generator = dsp.ToneGenerator(frequencies, level, (300, 200))
    audio = b"".join(generator.generate() for _ in range(50))
    burst = audio[: 2 * 2400]
    for frequency in frequencies:
        assert sig.tone_level_dbm0(burst, frequency) == pytest.approx(level, abs=0.3)
    assert sig.tone_level_dbm0(burst, 1000) < level - 30
    on = [any(sig.samples(audio[i : i + 160])) for i in range(0, len(audio), 160)]  # 10 ms blocks
    assert on[:30] == [True] * 30 and on[30:50] == [False] * 20 and on[50:80] == [True] * 30


def test_continuous_tone_has_no_gaps(dsp: ModuleType) -> None:
    generator = dsp.ToneGenerator((350, 440), -13)
    audio = b"".join(generator.generate() for _ in range(150))
    assert all(sig.level_dbm0(audio[i : i + 320]) > -12 for i in range(0, len(audio), 320))


def test_tone_generator_refuses_bad_settings(dsp: ModuleType) -> None:
    for args in [((0,),), ((425, 450, 500),), ((425,), -70), ((425,), -10, (100,)), ((425,), -10, (1, 1, 1, 1, 1, 1))]:
        with pytest.raises(spandsp.SpandspError):
            dsp.ToneGenerator(*args)


ALL_RECEIVERS = (
    ModemTone.CNG,
    ModemTone.FAX_CED_OR_PREAMBLE,
    ModemTone.ANSAM,
    ModemTone.BELL_ANS,
    ModemTone.CALLING_TONE,
)
# tone generated -> (receivers that must report it, at what time in samples at the latest)
MODEM_CASES = [
    (ModemTone.CNG, {ModemTone.CNG}, 4000),
    (ModemTone.ANS, {ModemTone.FAX_CED_OR_PREAMBLE, ModemTone.ANSAM}, 8000),
    (ModemTone.ANS_PR, {ModemTone.FAX_CED_OR_PREAMBLE, ModemTone.ANSAM}, 14400),
    (ModemTone.ANSAM, {ModemTone.FAX_CED_OR_PREAMBLE, ModemTone.ANSAM}, 8000),
    (ModemTone.ANSAM_PR, {ModemTone.FAX_CED_OR_PREAMBLE, ModemTone.ANSAM}, 14400),
    (ModemTone.BELL_ANS, {ModemTone.BELL_ANS}, 8000),
    (ModemTone.CALLING_TONE, {ModemTone.CALLING_TONE}, 4000),
]


@functools.cache
def modem_audio(tone: ModemTone, gain: int, snr: int) -> bytes:
    generator = _spandsp_py.ModemToneGenerator(tone)
    audio = sig.gain(b"".join(generator.generate() for _ in range(50 * 3)), gain)
    level = sig.level_dbm0(audio[: 2 * 4000])  # -11 to -14 dBm0 before the gain: -30 at most gain
    return with_noise(audio, level - snr, seed=int(tone) * 7 + gain)


@pytest.mark.parametrize(("tone", "receivers", "latest"), MODEM_CASES, ids=[c[0].name for c in MODEM_CASES])
@pytest.mark.parametrize(("gain", "snr"), [(0, 30), (-19, 20)])
def test_modem_tones_are_told_apart(
    dsp: ModuleType, tone: ModemTone, receivers: set[ModemTone], latest: int, gain: int, snr: int
) -> None:
    audio = modem_audio(tone, gain, snr)
    heard: dict[ModemTone, list[spandsp.ModemToneEvent]] = {}
    for receiver in ALL_RECEIVERS:
        detector = dsp.ModemToneDetector([receiver])
        events = []
        for frame in sig.frames(audio + sig.silence(8000)):
            events += detector.feed(frame)
        if events:
            heard[receiver] = events
    assert set(heard) == receivers
    for events in heard.values():
        assert events[0].tone is tone and events[0].detected
        assert events[0].sample <= latest
        assert all(e.tone is tone for e in events)
        assert [e.detected for e in events][:2] == [True, False]


def test_cng_cadence_is_reported_burst_by_burst(dsp: ModuleType) -> None:
    generator = dsp.ModemToneGenerator(ModemTone.CNG)
    detector = dsp.ModemToneDetector()  # CNG and ANSam receivers
    events: list[spandsp.ModemToneEvent] = []
    for _ in range(50 * 8):
        events += detector.feed(generator.generate())
    # 0.5 s of 1100 Hz every 3.5 s (T.30): bursts at 0, 3.5 and 7 s
    assert [(e.tone, e.detected) for e in events] == [(ModemTone.CNG, True), (ModemTone.CNG, False)] * 3
    starts = [e.sample for e in events if e.detected]
    assert [b - a for a, b in pairwise(starts)] == [28000, 28000]


def test_speech_like_sound_is_not_a_modem_tone(dsp: ModuleType) -> None:
    detector = dsp.ModemToneDetector(ALL_RECEIVERS)
    for frame in sig.frames(sig.pcm(sig.speech_like(6 * 8000, -10, 5))):
        assert detector.feed(frame) == []


def test_modem_tone_settings_are_checked(dsp: ModuleType) -> None:
    with pytest.raises(spandsp.SpandspError):
        dsp.ModemToneDetector([])
    with pytest.raises(spandsp.SpandspError):
        dsp.ModemToneDetector([ModemTone.FAX_PREAMBLE])
    with pytest.raises(spandsp.SpandspError):
        dsp.ModemToneGenerator(ModemTone.FAX_CED_OR_PREAMBLE)
    assert dsp.ModemToneDetector([ModemTone.CNG, ModemTone.CNG]).listening == (ModemTone.CNG,)


def test_both_builds_report_the_same_events() -> None:
    if _compiled is None:
        pytest.skip("only the ctypes twin is built (CENTRALITA_NO_EXTENSIONS)")
    sequence = [
        (NORTH_AMERICA[1], -17, 7),
        (NORTH_AMERICA[2], -22, 4),
        (NORTH_AMERICA[3], -9, 3),
        (NORTH_AMERICA[0], -8, 3),
    ]
    audio = b"".join(play(_spandsp_py, tone, level, seconds) for tone, level, seconds in sequence)
    assert audio == b"".join(play(_compiled, tone, level, seconds) for tone, level, seconds in sequence)
    noisy = with_noise(audio, -52, seed=1)
    events = listen(_spandsp_py, NORTH_AMERICA, noisy)
    assert [e.tone for e in events if e.detected] == ["ringback", "busy", "congestion", "dial"]
    assert listen(_compiled, NORTH_AMERICA, noisy) == events
    generator = _spandsp_py.ModemToneGenerator(ModemTone.ANSAM_PR)
    modem = b"".join(generator.generate() for _ in range(200))
    twin, compiled = _spandsp_py.ModemToneDetector(ALL_RECEIVERS), _compiled.ModemToneDetector(ALL_RECEIVERS)
    events_seen = 0
    for frame in sig.frames(with_noise(modem, -40, seed=2)):
        twin_events = twin.feed(frame)
        assert compiled.feed(frame) == twin_events
        events_seen += len(twin_events)
    assert events_seen >= 2
