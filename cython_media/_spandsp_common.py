"""What the spandsp bindings share, without ctypes: events, cadences, caller-ID message formats, argument
checks and constants.  Both ``_spandsp.pyx`` (compiled) and ``_spandsp_py.py`` (its ctypes twin) build on
it, so the compiled build never imports ctypes (about 1.5 MiB of a small board's memory).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

SAMPLE_RATE = 8000
FRAME_SAMPLES = 160
DTMF_DIGITS = "0123456789*#ABCD"
MAX_QUEUED_DTMF_DIGITS = 128  # MAX_DTMF_DIGITS in spandsp/dtmf.h
MAX_CADENCE_STEPS = 10  # super_tone_rx keeps the last 10 segments (spandsp/private/super_tone_rx.h)
MISSING_LIBRARY = "libspandsp not found: install the Debian package libspandsp-dev (runtime libspandsp2)"


class SpandspError(Exception):
    """A spandsp binding was misused (bad frame, digit, field or setting) or the library is missing."""


# --------------------------------------------------------------------------------------------------------
# Shared types
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DtmfEvent:
    """A DTMF digit going down (``ended=False``) or up (``ended=True``), per ITU-T Q.24.

    ``start`` counts samples since the detector was created, at the 102-sample block where spandsp
    confirmed the digit (its detection lag is two blocks, about 25 ms).  ``duration`` is the number of
    samples the digit was held (0 in the key-down event); ``level`` is the tone pair's power in dBm0
    when it was confirmed.
    """

    digit: str
    start: int
    duration: int
    level: int
    ended: bool


@dataclass(frozen=True, slots=True)
class ToneSegment:
    """One step of a super_tone_rx cadence: frequencies (0 for silence/none) and a duration window in ms.

    ``max_ms`` 0 means unbounded (a continuous tone).
    """

    f1: int
    f2: int
    min_ms: int
    max_ms: int


@dataclass(frozen=True, slots=True)
class ToneCadence:
    """A call-progress tone as administrations publish it (ITU-T E.180 and its Supplement 2).

    ``frequencies`` holds one or two frequencies in Hz; ``cadence_ms`` alternates on and off times
    (``(500, 500)`` for North American busy, ``(400, 200, 400, 2000)`` for UK ringback) and is empty for a
    continuous tone such as dial tone, which is recognised after ``min_continuous_ms``.  Each duration is
    accepted within ``tolerance`` (relative) plus ``slack_ms`` (the detector measures in 16 ms blocks).
    ``cycles`` is how many whole cycles must match before the tone is reported (Asterisk's
    ``busycount``): short single-frequency cadences need 2-3 to keep speech from matching them.
    """

    name: str
    frequencies: tuple[int, ...]
    cadence_ms: tuple[int, ...] = ()
    tolerance: float = 0.1
    slack_ms: int = 40
    min_continuous_ms: int = 1000
    cycles: int = 1

    def __post_init__(self) -> None:
        # Tables often come from configuration as lists; keep the value hashable and immutable.
        object.__setattr__(self, "frequencies", tuple(self.frequencies))
        object.__setattr__(self, "cadence_ms", tuple(self.cadence_ms))
        if not self.name:
            raise SpandspError("a tone cadence needs a name")
        if not 1 <= len(self.frequencies) <= 2 or any(not 50 <= f <= 3950 for f in self.frequencies):
            raise SpandspError(f"{self.name}: one or two frequencies between 50 and 3950 Hz, got {self.frequencies}")
        if len(self.frequencies) == 2 and abs(self.frequencies[0] - self.frequencies[1]) <= 10:
            raise SpandspError(f"{self.name}: the two frequencies must differ by more than 10 Hz")
        if len(self.cadence_ms) % 2 or not 1 <= self.cycles or len(self.cadence_ms) * self.cycles > MAX_CADENCE_STEPS:
            raise SpandspError(
                f"{self.name}: cadence must be on/off pairs, at most {MAX_CADENCE_STEPS} steps over all cycles"
            )
        if any(d <= 0 for d in self.cadence_ms) or self.min_continuous_ms <= 0:
            raise SpandspError(f"{self.name}: durations must be positive")
        if not 0 <= self.tolerance < 1 or self.slack_ms < 0:
            raise SpandspError(f"{self.name}: tolerance must be in [0, 1) and slack_ms >= 0")

    def segments(self) -> tuple[ToneSegment, ...]:
        """The super_tone_rx elements for this tone: one per on/off step, or one unbounded element."""
        f1 = self.frequencies[0]
        f2 = self.frequencies[1] if len(self.frequencies) == 2 else 0
        if not self.cadence_ms:
            return (ToneSegment(f1, f2, self.min_continuous_ms, 0),)
        steps = []
        for index, duration in enumerate(self.cadence_ms * self.cycles):
            low = max(1, int(duration * (1.0 - self.tolerance)) - self.slack_ms)
            high = int(duration * (1.0 + self.tolerance) + 0.5) + self.slack_ms
            if index % 2 == 0:
                steps.append(ToneSegment(f1, f2, low, high))
            else:
                steps.append(ToneSegment(0, 0, low, high))
        return tuple(steps)


@dataclass(frozen=True, slots=True)
class ToneEvent:
    """A call-progress tone recognised (``detected=True``) or no longer present (``detected=False``).

    ``sample`` counts samples since the detector was created, up to the end of the frame in which
    spandsp reported the change.
    """

    tone: str
    detected: bool
    sample: int


class ModemTone(enum.IntEnum):
    """Modem and fax connect tones (spandsp ``MODEM_CONNECT_TONES_*``; ITU-T T.30, V.25, V.8)."""

    NONE = 0
    CNG = 1  # T.30 calling tone: 1100 Hz, 0.5 s on / 3 s off
    ANS = 2  # V.25 answer tone (also fax CED): 2100 Hz
    ANS_PR = 3  # ANS with phase reversals every 450 ms (V.25 echo-canceller disable)
    ANSAM = 4  # V.8 ANSam: ANS with 15 Hz amplitude modulation
    ANSAM_PR = 5  # ANSam with phase reversals
    FAX_PREAMBLE = 6  # V.21 HDLC flags (a fax answering without CED)
    FAX_CED_OR_PREAMBLE = 7  # detector setting only: reports ANS or FAX_PREAMBLE
    BELL_ANS = 8  # Bell 103 answer tone: 2225 Hz
    CALLING_TONE = 9  # V.25 calling tone: 1300 Hz


CED = ModemTone.ANS


@dataclass(frozen=True, slots=True)
class ModemToneEvent:
    """A modem/fax tone detected (``detected=True``) or ended; ``sample`` as in :class:`ToneEvent`."""

    tone: ModemTone
    detected: bool
    sample: int
    level: int


class CallerIdStandard(enum.IntEnum):
    """On-hook caller ID signalling (spandsp ``ADSI_STANDARD_*``), named like Asterisk's ``cidsignalling``."""

    BELL202 = 1  # Telcordia GR-30-CORE CLASS, Bell 202 FSK (SDMF and MDMF)
    V23 = 2  # ETSI EN 300 659 CLIP, V.23 FSK (MDMF)
    V23_JP = 4  # NTT JCLIP (Japan), V.23 FSK
    DTMF = 5  # ETSI EN 300 659 / ES 200 778 caller ID by DTMF ("A<number>C")


class Absence(str, enum.Enum):
    """Why a number or name is not delivered (GR-30 / EN 300 659 "reason for absence" codes)."""

    UNAVAILABLE = "O"  # out of area / not available
    PRIVATE = "P"  # withheld by the caller (presentation restricted)
    PUBLIC = "C"  # public telephone (JCLIP)
    SERVICE_CONFLICT = "S"  # JCLIP
    INTERNATIONAL = "I"  # DTMF "D2#" variant


@dataclass(frozen=True, slots=True)
class CallerIdMessage:
    """A caller-ID delivery: number or its absence reason, name or its absence reason, date/time.

    ``datetime`` is ``"MMDDHHMM"`` (month, day, hour, minute) as GR-30 and EN 300 659-3 carry it.  A
    standard that cannot carry a field leaves it out: SDMF and DTMF have no name, DTMF and JCLIP no date.
    """

    number: str | None = None
    name: str | None = None
    datetime: str | None = None
    number_absence: Absence | None = None
    name_absence: Absence | None = None


@dataclass(frozen=True, slots=True)
class MessageWaiting:
    """Visual message-waiting indication (VMWI, GR-30 / EN 300 659-3); ``count`` only on ETSI V.23."""

    active: bool
    count: int | None = None


class G726Packing(enum.IntEnum):
    """Order of G.726 code words in an octet (spandsp ``G726_PACKING_*``)."""

    NONE = 0  # one code word per octet
    AAL2 = 1  # first code word in the most significant bits (ITU-T I.366.2; Asterisk "g726aal2")
    RFC3551 = 2  # first code word in the least significant bits (RFC 3551 section 4.5.4)


# --------------------------------------------------------------------------------------------------------
# Shared logic: frames, event bookkeeping, caller-ID layouts, cadence ordering
# --------------------------------------------------------------------------------------------------------


def check_frame(frame: bytes) -> int:
    """Number of samples in ``frame``; raises :class:`SpandspError` when it is not whole 16-bit samples."""
    if len(frame) & 1:
        raise SpandspError(f"linear audio must be whole 16-bit samples, got {len(frame)} bytes")
    return len(frame) >> 1


def check_count(n_samples: int) -> None:
    """Reject a negative or absurd sample count (more than 10 s in one call)."""
    if not 0 <= n_samples <= 10 * 16000:
        raise SpandspError(f"sample count out of range: {n_samples}")


def normalise_digits(digits: str) -> bytes:
    """DTMF digits as spandsp wants them; raises on anything outside 0-9 * # A-D."""
    upper = digits.upper()
    for digit in upper:
        if digit not in DTMF_DIGITS:
            raise SpandspError(f"not a DTMF digit: {digit!r}")
    return upper.encode("ascii")


class DtmfEventLog:
    """Turns spandsp's realtime DTMF reports into :class:`DtmfEvent` values.

    spandsp calls back with the new state (a digit, or 0 for none) and ``delay``, the length in samples of
    the state that just ended, so the running sum of delays is the sample where the change was confirmed.
    A digit replaced by another without a gap (``BBBBCC``) is reported once, so the old digit's end is
    synthesised at the same sample.
    """

    __slots__ = ("clock", "digit", "events", "level", "start")

    def __init__(self) -> None:
        self.events: list[DtmfEvent] = []
        self.clock = 0
        self.digit: str | None = None
        self.start = 0
        self.level = 0

    def report(self, code: int, level: int, delay: int) -> None:
        self.clock += delay
        if self.digit is not None:
            self.events.append(DtmfEvent(self.digit, self.start, self.clock - self.start, self.level, True))
            self.digit = None
        if code:
            self.digit = chr(code)
            self.start = self.clock
            self.level = level
            self.events.append(DtmfEvent(self.digit, self.clock, 0, level, False))

    def take(self) -> list[DtmfEvent]:
        events = self.events
        self.events = []
        return events


class ToneEventLog:
    """Turns super_tone_rx reports (tone index, or -1 when it stops) into :class:`ToneEvent` values."""

    __slots__ = ("clock", "current", "events", "names")

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self.events: list[ToneEvent] = []
        self.current: str | None = None
        self.clock = 0  # the sample count at the end of the frame being processed

    def report(self, code: int) -> None:
        if self.current is not None:
            self.events.append(ToneEvent(self.current, False, self.clock))
            self.current = None
        if 0 <= code < len(self.names):
            self.current = self.names[code]
            self.events.append(ToneEvent(self.current, True, self.clock))

    def take(self) -> list[ToneEvent]:
        events = self.events
        self.events = []
        return events


class ModemToneEventLog:
    """Turns modem_connect_tones_rx reports into :class:`ModemToneEvent` values (one log per receiver)."""

    __slots__ = ("clock", "current", "events")

    def __init__(self) -> None:
        self.events: list[ModemToneEvent] = []
        self.current = ModemTone.NONE
        self.clock = 0  # the sample count at the end of the frame being processed

    def report(self, code: int, level: int) -> None:
        sample = self.clock
        if code == ModemTone.NONE:
            if self.current is not ModemTone.NONE:
                self.events.append(ModemToneEvent(self.current, False, sample, level))
                self.current = ModemTone.NONE
            return
        tone = ModemTone(code)
        if self.current is not ModemTone.NONE and self.current is not tone:
            self.events.append(ModemToneEvent(self.current, False, sample, -99))
        self.current = tone
        self.events.append(ModemToneEvent(tone, True, sample, level))


MODEM_TONE_RECEIVERS = frozenset(
    {
        ModemTone.CNG,
        ModemTone.ANS,
        ModemTone.ANS_PR,
        ModemTone.ANSAM,
        ModemTone.ANSAM_PR,
        ModemTone.FAX_CED_OR_PREAMBLE,
        ModemTone.BELL_ANS,
        ModemTone.CALLING_TONE,
    }
)


def modem_tone_receivers(listen: Iterable[ModemTone]) -> tuple[ModemTone, ...]:
    """Validated, de-duplicated receiver types for a :class:`ModemToneDetector`."""
    kinds: list[ModemTone] = []
    for kind in listen:
        tone = ModemTone(kind)
        if tone not in MODEM_TONE_RECEIVERS:
            raise SpandspError(f"{tone.name} cannot be listened for; use one of the receiver types")
        if tone not in kinds:
            kinds.append(tone)
    if not kinds:
        raise SpandspError("a modem tone detector needs at least one tone to listen for")
    return tuple(kinds)


def modem_tone_generator_kind(tone: ModemTone) -> ModemTone:
    """Validated tone for a :class:`ModemToneGenerator` (CNG, ANS*, BELL_ANS, CALLING_TONE)."""
    tone = ModemTone(tone)
    if tone in (ModemTone.NONE, ModemTone.FAX_PREAMBLE, ModemTone.FAX_CED_OR_PREAMBLE):
        raise SpandspError(f"{tone.name} cannot be generated")
    return tone


class CadencePlan:
    """The super_tone_rx elements of a set of cadences, with each element's two frequencies ordered.

    super_tone_rx numbers frequencies in the order it first sees them (merging those within 10 Hz) and
    compares the two strongest in that order, so an element whose ``f1`` was registered after its ``f2``
    never matches (seen with spandsp 0.0.6: 440+480 Hz ringback after 350+440 Hz dial tone).  The plan
    swaps such pairs; a swap never changes the numbering, because a new frequency always gets the next
    number whichever argument carries it.
    """

    __slots__ = ("elements", "names")

    def __init__(self, tones: Sequence[ToneCadence]) -> None:
        if not tones:
            raise SpandspError("a call-progress detector needs at least one tone")
        names = [tone.name for tone in tones]
        if len(set(names)) != len(names):
            raise SpandspError(f"tone names must be unique: {names}")
        self.names = tuple(names)
        known: list[int] = []
        index_of: dict[int, int] = {}

        def register(freq: int) -> int:
            if freq == 0:
                return -1
            if freq in index_of:
                return index_of[freq]
            for other in known:
                if abs(other - freq) <= 10:
                    index_of[freq] = index_of[other]
                    return index_of[freq]
            index_of[freq] = len(known)
            known.append(freq)
            return index_of[freq]

        self.elements: list[tuple[int, ToneSegment]] = []
        for number, tone in enumerate(tones):
            for segment in tone.segments():
                first, second = register(segment.f1), register(segment.f2)
                if second != -1 and first > second:
                    segment = ToneSegment(segment.f2, segment.f1, segment.min_ms, segment.max_ms)
                self.elements.append((number, segment))


# Message types and field codes of spandsp/adsi.h (GR-30-CORE, EN 300 659-3, NTT JCLIP).
CLASS_SDMF_CALLERID = 0x04
CLASS_SDMF_MSG_WAITING = 0x06
MDMF_CALLERID = 0x80
MDMF_MSG_WAITING = 0x82
JCLIP_MDMF_CALLERID = 0x40
FIELD_DATETIME = 0x01
FIELD_CALLER_NUMBER = 0x02
FIELD_NUMBER_ABSENCE = 0x04
FIELD_CALLER_NAME = 0x07
FIELD_NAME_ABSENCE = 0x08
FIELD_VISUAL_INDICATOR = 0x0B
FIELD_NUM_MESSAGES = 0x13
SDMF_MWI_ON = b"BBB"  # GR-30: 0x42 repeated
SDMF_MWI_OFF = b"ooo"  # GR-30: 0x6F repeated
DTMF_ABSENCE_C = {Absence.UNAVAILABLE: b"00", Absence.PRIVATE: b"10"}
DTMF_ABSENCE_HASH = {b"1": Absence.PRIVATE, b"2": Absence.INTERNATIONAL, b"3": Absence.UNAVAILABLE}


def _text(value: str, what: str) -> bytes:
    try:
        data = value.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise SpandspError(f"caller ID {what} must be 8-bit text: {value!r}") from exc
    if not data or len(data) > 64:
        raise SpandspError(f"caller ID {what} must be 1 to 64 characters: {value!r}")
    return data


def caller_id_fields(
    standard: CallerIdStandard, message: CallerIdMessage | MessageWaiting, sdmf: bool
) -> tuple[int, list[tuple[int, bytes]]]:
    """Message type and (field type, body) list for ``message`` in ``standard``.

    Field type 0 means a body without type/length (SDMF).  For DTMF the message type is the terminator
    ("C") and field types are the digit letters, as spandsp's ``adsi_add_field`` takes them.
    """
    if isinstance(message, MessageWaiting):
        if standard is CallerIdStandard.BELL202 and sdmf:
            return CLASS_SDMF_MSG_WAITING, [(0, SDMF_MWI_ON if message.active else SDMF_MWI_OFF)]
        if standard in (CallerIdStandard.BELL202, CallerIdStandard.V23):
            fields = [(FIELD_VISUAL_INDICATOR, b"\xff" if message.active else b"\x00")]
            if message.count is not None and standard is CallerIdStandard.V23:
                if not 0 <= message.count <= 255:
                    raise SpandspError(f"message count must be 0-255, got {message.count}")
                fields.append((FIELD_NUM_MESSAGES, bytes([message.count])))
            return MDMF_MSG_WAITING, fields
        raise SpandspError(f"{standard.name} caller ID has no message-waiting message")
    if message.number is None and message.number_absence is None:
        raise SpandspError("a caller ID message needs a number or a reason for its absence")
    if message.datetime is not None and (len(message.datetime) != 8 or not message.datetime.isdigit()):
        raise SpandspError(f"caller ID date/time must be MMDDHHMM, got {message.datetime!r}")
    number = _text(message.number, "number") if message.number is not None else None
    if standard is CallerIdStandard.DTMF:
        if number is not None:
            if not all(chr(c) in "0123456789" for c in number):
                raise SpandspError(f"a DTMF caller ID number must be digits only: {message.number!r}")
            return ord("C"), [(ord("A"), number)]
        assert message.number_absence is not None
        code = DTMF_ABSENCE_C.get(message.number_absence)
        if code is None:
            raise SpandspError(f"DTMF caller ID cannot signal absence reason {message.number_absence.name}")
        return ord("C"), [(ord("B"), code)]
    if standard is CallerIdStandard.V23_JP:
        if number is not None:
            return JCLIP_MDMF_CALLERID, [(FIELD_CALLER_NUMBER, number)]
        assert message.number_absence is not None
        return JCLIP_MDMF_CALLERID, [(FIELD_NUMBER_ABSENCE, message.number_absence.value.encode("ascii"))]
    if standard is CallerIdStandard.BELL202 and sdmf:
        if message.datetime is None:
            raise SpandspError("SDMF caller ID needs the date/time (MMDDHHMM)")
        assert number is not None or message.number_absence is not None
        tail = number if number is not None else message.number_absence.value.encode("ascii")  # type: ignore[union-attr]
        return CLASS_SDMF_CALLERID, [(0, message.datetime.encode("ascii") + tail)]
    fields = []
    if message.datetime is not None:
        fields.append((FIELD_DATETIME, message.datetime.encode("ascii")))
    if number is not None:
        fields.append((FIELD_CALLER_NUMBER, number))
    elif message.number_absence is not None:
        fields.append((FIELD_NUMBER_ABSENCE, message.number_absence.value.encode("ascii")))
    if message.name is not None:
        fields.append((FIELD_CALLER_NAME, _text(message.name, "name")))
    elif message.name_absence is not None:
        fields.append((FIELD_NAME_ABSENCE, message.name_absence.value.encode("ascii")))
    return MDMF_CALLERID, fields


def tlv_message(message_type: int, fields: Sequence[tuple[int, bytes]]) -> bytes:
    """A GR-30 / EN 300 659-3 message body (type, length, fields) without its checksum.

    Built here rather than with ``adsi_add_field`` because spandsp 0.0.6 doubles a field length of 0x10
    (JCLIP's DLE escaping leaking into CLASS/CLIP), which corrupts any 16-character field.
    """
    body = bytearray()
    for field_type, value in fields:
        if field_type:
            body += bytes([field_type, len(value)])
        body += value
    if len(body) > 253:
        raise SpandspError(f"caller ID message too long ({len(body)} octets)")
    return bytes([message_type, len(body)]) + bytes(body)


def _absence(value: bytes) -> Absence | None:
    try:
        return Absence(value[:1].decode("latin-1"))
    except ValueError:
        return None


def decode_caller_id(
    standard: CallerIdStandard, message_type: int, fields: Sequence[tuple[int, bytes]]
) -> CallerIdMessage | MessageWaiting | None:
    """The message for fields spandsp's ``adsi_next_field`` returned; None for other message types."""
    if standard is CallerIdStandard.DTMF:
        number: str | None = None
        absence: Absence | None = None
        for field_type, value in fields:
            if field_type in (0, ord("A")):
                number = value.decode("ascii")
            elif field_type == ord("B"):
                absence = {b"00": Absence.UNAVAILABLE, b"10": Absence.PRIVATE}.get(value)
            elif field_type == ord("D") and message_type == ord("#"):
                absence = DTMF_ABSENCE_HASH.get(value)
        if number is None and absence is None:
            return None
        return CallerIdMessage(number=number, number_absence=absence)
    if message_type == CLASS_SDMF_CALLERID and standard is CallerIdStandard.BELL202:
        body = b"".join(value for _, value in fields)
        if len(body) < 9:
            return None
        tail = body[8:]
        absent = _absence(tail) if len(tail) == 1 and not tail.isdigit() else None
        return CallerIdMessage(
            number=None if absent else tail.decode("latin-1"),
            datetime=body[:8].decode("latin-1"),
            number_absence=absent,
        )
    if message_type == CLASS_SDMF_MSG_WAITING and standard is CallerIdStandard.BELL202:
        body = b"".join(value for _, value in fields)
        if body == SDMF_MWI_ON:
            return MessageWaiting(True)
        if body == SDMF_MWI_OFF:
            return MessageWaiting(False)
        return None
    if message_type == MDMF_MSG_WAITING and standard in (CallerIdStandard.BELL202, CallerIdStandard.V23):
        active: bool | None = None
        count: int | None = None
        for field_type, value in fields:
            if field_type == FIELD_VISUAL_INDICATOR and value:
                active = value[0] != 0
            elif field_type == FIELD_NUM_MESSAGES and value:
                count = value[0]
        return None if active is None else MessageWaiting(active, count)
    if message_type in (MDMF_CALLERID, JCLIP_MDMF_CALLERID):
        values: dict[str, Any] = {}
        for field_type, value in fields:
            if field_type == FIELD_DATETIME:
                values["datetime"] = value.decode("latin-1")
            elif field_type == FIELD_CALLER_NUMBER:
                values["number"] = value.decode("latin-1")
            elif field_type == FIELD_NUMBER_ABSENCE:
                values["number_absence"] = _absence(value)
            elif field_type == FIELD_CALLER_NAME:
                values["name"] = value.decode("latin-1")
            elif field_type == FIELD_NAME_ABSENCE:
                values["name_absence"] = _absence(value)
        return CallerIdMessage(**values) if values else None
    return None


def tone_levels(level_dbm0: int | Sequence[int], count: int) -> tuple[int, int]:
    """Per-frequency levels for a two-frequency tone generator."""
    if isinstance(level_dbm0, int):
        levels = [level_dbm0] * count
    else:
        levels = list(level_dbm0)
    if len(levels) != count or any(not -60 <= level <= 3 for level in levels):
        raise SpandspError(f"one level per frequency, each -60..3 dBm0, got {level_dbm0}")
    return levels[0], levels[1] if count == 2 else 0


def tone_generator_cadence(cadence_ms: Sequence[int], repeat: bool) -> tuple[int, int, int, int, int]:
    """tone_gen's four durations and repeat flag for an on/off cadence (empty = continuous)."""
    steps = list(cadence_ms)
    if not steps:
        # on 1 s, off 0, repeated: a continuous tone (the oscillators keep their phase).
        return 1000, 0, 0, 0, 1
    if len(steps) % 2 or len(steps) > 4 or any(d <= 0 for d in steps):
        raise SpandspError(f"tone_gen takes one or two positive on/off pairs, got {cadence_ms}")
    steps += [0] * (4 - len(steps))
    return steps[0], steps[1], steps[2], steps[3], int(repeat)

def _g722_options(rate: int, sample_rate: int) -> int:
    if rate not in (64000, 56000, 48000):
        raise SpandspError(f"G.722 bit rate must be 64000, 56000 or 48000, got {rate}")
    if sample_rate not in (16000, 8000):
        raise SpandspError(f"G.722 linear audio is 16000 or 8000 samples/s, got {sample_rate}")
    options = 0x0001 if sample_rate == 8000 else 0  # G722_SAMPLE_RATE_8000
    if rate != 64000:
        options |= 0x0002  # G722_PACKED: 7- or 6-bit codes packed into octets
    return options



def _g726_args(bit_rate: int, packing: G726Packing) -> tuple[int, G726Packing]:
    if bit_rate not in (16000, 24000, 32000, 40000):
        raise SpandspError(f"G.726 bit rate must be 16000, 24000, 32000 or 40000, got {bit_rate}")
    return bit_rate, G726Packing(packing)


