"""On-hook caller ID and VMWI through spandsp ADSI: generate -> decode in every standard, with noise and levels.

Bell 202 (Telcordia GR-30-CORE, SDMF and MDMF), ETSI V.23 CLIP (EN 300 659-3 MDMF), NTT JCLIP and ETSI
caller ID by DTMF; each against the compiled binding and the ctypes twin.
"""

from __future__ import annotations

from types import ModuleType

import pytest

from cython_media import _spandsp_py, spandsp
from cython_media import dsp_signals as sig
from cython_media.spandsp import Absence, CallerIdMessage, CallerIdStandard, MessageWaiting

IMPLEMENTATIONS: list[ModuleType] = [_spandsp_py]
try:
    from cython_media import _spandsp as _compiled
except ImportError:
    _compiled = None
else:
    IMPLEMENTATIONS.append(_compiled)

Message = CallerIdMessage | MessageWaiting


@pytest.fixture(autouse=True, scope="module")
def _library_present() -> None:
    try:
        _spandsp_py.library()
    except _spandsp_py.SpandspError as exc:
        pytest.fail(str(exc))


@pytest.fixture(params=IMPLEMENTATIONS, ids=lambda m: "compiled" if m is _compiled else "ctypes")
def dsp(request: pytest.FixtureRequest) -> ModuleType:
    return request.param  # type: ignore[no-any-return]


def transmit(dsp: ModuleType, standard: CallerIdStandard, message: Message, *, sdmf: bool = False) -> bytes:
    generator = dsp.CallerIdGenerator(standard, sdmf=sdmf)
    generator.send(message)
    out = []
    while not generator.done:
        out.append(generator.generate())
    return b"".join(out)


def receive(dsp: ModuleType, standard: CallerIdStandard, audio: bytes) -> list[Message]:
    decoder = dsp.CallerIdDecoder(standard)
    decoded: list[Message] = []
    for frame in sig.frames(sig.silence(800) + audio + sig.silence(1600)):
        decoded += decoder.feed(frame)
    return decoded


BELL = CallerIdStandard.BELL202
V23 = CallerIdStandard.V23
JCLIP = CallerIdStandard.V23_JP
DTMF = CallerIdStandard.DTMF

ROUND_TRIPS: list[tuple[CallerIdStandard, bool, Message]] = [
    (BELL, False, CallerIdMessage("5551234567", "JOHN Q PUBLIC", "03141592")),
    (BELL, False, CallerIdMessage(None, None, "12312359", Absence.PRIVATE, Absence.PRIVATE)),
    (BELL, False, CallerIdMessage(None, "PAY PHONE", "01010000", Absence.UNAVAILABLE)),
    (BELL, True, CallerIdMessage("5551234567", None, "03141592")),
    (BELL, True, CallerIdMessage(None, None, "07041776", Absence.PRIVATE)),
    (BELL, True, CallerIdMessage(None, None, "07041776", Absence.UNAVAILABLE)),
    (BELL, False, MessageWaiting(True)),
    (BELL, False, MessageWaiting(False)),
    (BELL, True, MessageWaiting(True)),
    (BELL, True, MessageWaiting(False)),
    (V23, False, CallerIdMessage("0049301234567", "Müller GmbH", "11051430")),
    (V23, False, CallerIdMessage(None, None, "11051430", Absence.PRIVATE, Absence.UNAVAILABLE)),
    (V23, False, CallerIdMessage("01632960123")),
    (V23, False, MessageWaiting(True, 3)),
    (V23, False, MessageWaiting(False, 0)),
    (JCLIP, False, CallerIdMessage("0312345678")),
    (JCLIP, False, CallerIdMessage(number_absence=Absence.PRIVATE)),
    (JCLIP, False, CallerIdMessage(number_absence=Absence.PUBLIC)),
    (DTMF, False, CallerIdMessage("4723456789")),
    (DTMF, False, CallerIdMessage(number_absence=Absence.PRIVATE)),
    (DTMF, False, CallerIdMessage(number_absence=Absence.UNAVAILABLE)),
]


def case_id(case: tuple[CallerIdStandard, bool, Message]) -> str:
    standard, sdmf, message = case
    kind = "mwi" if isinstance(message, MessageWaiting) else "cid"
    return f"{standard.name}-{'sdmf' if sdmf else 'mdmf'}-{kind}"


@pytest.mark.parametrize("case", ROUND_TRIPS, ids=[case_id(c) for c in ROUND_TRIPS])
def test_every_standard_round_trips_its_fields(dsp: ModuleType, case: tuple[CallerIdStandard, bool, Message]) -> None:
    standard, sdmf, message = case
    assert receive(dsp, standard, transmit(dsp, standard, message, sdmf=sdmf)) == [message]


FULL = CallerIdMessage("5551234567", "JANE ROE", "02291200")


@pytest.mark.parametrize("standard", [BELL, V23, JCLIP, DTMF], ids=lambda s: s.name)
@pytest.mark.parametrize("level", [-3, -20, -30])
@pytest.mark.parametrize("snr", [20, 30])
def test_caller_id_survives_level_changes_and_noise(
    dsp: ModuleType, standard: CallerIdStandard, level: int, snr: int
) -> None:
    message = FULL if standard in (BELL, V23) else CallerIdMessage(FULL.number)
    if standard is JCLIP:
        level = max(level, -28)  # JCLIP's short mark preamble: spandsp decodes it down to -28 dBm0, not -30
    audio = transmit(dsp, standard, message)
    # spandsp sends FSK at -14 dBm0 and DTMF at -10 dBm0 per tone; bring the signal to `level`.
    native = sig.level_dbm0(audio[1600:-1600])
    scaled = sig.gain(audio, level - native)
    noisy = sig.add(scaled, sig.pcm(sig.white_noise(len(scaled) // 2, level - snr, seed=snr - level)))
    assert receive(dsp, standard, noisy) == [message]


def test_sixteen_character_fields_survive(dsp: ModuleType) -> None:
    # spandsp 0.0.6's adsi_add_field doubles a length octet of 0x10 (DLE) for CLASS/CLIP; we build those.
    message = CallerIdMessage("0123456789012345", "SIXTEEN CHARS OK", "01011230")
    for standard in (BELL, V23):
        assert receive(dsp, standard, transmit(dsp, standard, message)) == [message]


def test_fields_a_standard_cannot_carry_are_left_out(dsp: ModuleType) -> None:
    assert receive(dsp, BELL, transmit(dsp, BELL, FULL, sdmf=True)) == [
        CallerIdMessage(FULL.number, None, FULL.datetime)
    ]
    assert receive(dsp, DTMF, transmit(dsp, DTMF, FULL)) == [CallerIdMessage(FULL.number)]
    assert receive(dsp, JCLIP, transmit(dsp, JCLIP, FULL)) == [CallerIdMessage(FULL.number)]


@pytest.mark.parametrize(
    ("standard", "sdmf", "message"),
    [
        (BELL, True, CallerIdMessage("5551234")),  # SDMF needs the date
        (DTMF, False, CallerIdMessage(number_absence=Absence.INTERNATIONAL)),
        (DTMF, False, CallerIdMessage("555-1234")),
        (DTMF, False, MessageWaiting(True)),
        (JCLIP, False, MessageWaiting(True)),
        (V23, False, CallerIdMessage()),
        (V23, False, CallerIdMessage("5551234", datetime="1231")),
        (V23, False, MessageWaiting(True, 300)),
    ],
)
def test_messages_a_standard_cannot_express_are_refused(
    dsp: ModuleType, standard: CallerIdStandard, sdmf: bool, message: Message
) -> None:
    with pytest.raises(spandsp.SpandspError):
        dsp.CallerIdGenerator(standard, sdmf=sdmf).send(message)


def test_sdmf_only_for_bell_and_one_message_at_a_time(dsp: ModuleType) -> None:
    with pytest.raises(spandsp.SpandspError):
        dsp.CallerIdGenerator(V23, sdmf=True)
    generator = dsp.CallerIdGenerator(BELL)
    generator.send(FULL)
    generator.generate()
    with pytest.raises(spandsp.SpandspError):
        generator.send(FULL)


@pytest.mark.parametrize(("standard", "mark", "other"), [(BELL, 1200, 1300), (V23, 1300, 1200)])
def test_fsk_marks_at_the_standards_frequency_and_level(
    dsp: ModuleType, standard: CallerIdStandard, mark: int, other: int
) -> None:
    audio = transmit(dsp, standard, FULL)
    # 300 bits of channel seizure (250 ms), then 80 mark bits: samples 2000-2400 are pure mark.
    marking = audio[2 * 2000 : 2 * 2400]
    assert sig.tone_level_dbm0(marking, mark) == pytest.approx(-14, abs=0.5)
    assert sig.tone_level_dbm0(marking, other) < -60


def test_alert_tone_is_the_dual_tone_cas(dsp: ModuleType) -> None:
    generator = dsp.CallerIdGenerator(BELL)
    generator.send_alert_tone()
    audio = b"".join(generator.generate() for _ in range(5))
    assert not any(sig.samples(audio[2 * 900 :]))  # 110 ms tone, then nothing queued
    burst = audio[: 2 * 880]
    assert sig.tone_level_dbm0(burst, 2130) == pytest.approx(-13, abs=1)
    assert sig.tone_level_dbm0(burst, 2750) == pytest.approx(-13, abs=1)


@pytest.mark.parametrize(
    ("digits", "message"),
    [
        ("A4723456789#", CallerIdMessage("4723456789")),  # ETSI DTMF variant 2 (Denmark, Netherlands)
        ("D1#", CallerIdMessage(number_absence=Absence.PRIVATE)),
        ("D2#", CallerIdMessage(number_absence=Absence.INTERNATIONAL)),
        ("D3#", CallerIdMessage(number_absence=Absence.UNAVAILABLE)),
        ("A4723456789D0612345678C", CallerIdMessage("4723456789")),  # variant 1 with a redirecting number
        ("B00C", CallerIdMessage(number_absence=Absence.UNAVAILABLE)),
    ],
)
def test_dtmf_caller_id_variants_from_other_exchanges(dsp: ModuleType, digits: str, message: Message) -> None:
    generator = dsp.DtmfGenerator(level_dbm0=-12, on_ms=70, off_ms=70)
    generator.queue(digits)
    audio = b""
    while not generator.idle:
        audio += generator.generate()
    assert receive(dsp, DTMF, audio) == [message]


def test_a_cut_message_is_not_delivered(dsp: ModuleType) -> None:
    audio = transmit(dsp, BELL, FULL)
    assert receive(dsp, BELL, audio[: len(audio) - 2 * 400]) == []


def test_both_builds_give_identical_audio_and_messages() -> None:
    if _compiled is None:
        pytest.skip("only the ctypes twin is built (CENTRALITA_NO_EXTENSIONS)")
    for standard, sdmf, message in ROUND_TRIPS:
        audio = transmit(_spandsp_py, standard, message, sdmf=sdmf)
        assert transmit(_compiled, standard, message, sdmf=sdmf) == audio
        noisy = sig.add(audio, sig.pcm(sig.white_noise(len(audio) // 2, -36, seed=3)))
        assert receive(_compiled, standard, noisy) == receive(_spandsp_py, standard, noisy) == [message]
