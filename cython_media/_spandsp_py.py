"""spandsp telephony DSP through ctypes: the twin of ``_spandsp.pyx`` for builds without a compiler.

spandsp cannot be reimplemented here, so this twin binds the same shared library (Debian ``libspandsp2``,
headers in ``libspandsp-dev`` 0.0.6) with :mod:`ctypes`: every state is an opaque pointer from a
``*_init(NULL, ...)`` call, released with the matching ``*_free``.  Audio in and out is 16-bit signed
little-endian linear PCM at 8 kHz as ``bytes`` (160 samples = 20 ms), one library call per frame.

The module also holds what both twins share so their results compare equal: the event and message
dataclasses, the enums, the call-progress cadence model and the caller-ID message layouts.  The compiled
module imports them from here; nothing in this module loads the library until a DSP object is created.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import enum
import sys
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


# --------------------------------------------------------------------------------------------------------
# The library through ctypes
# --------------------------------------------------------------------------------------------------------

_vp = ctypes.c_void_p
_int = ctypes.c_int
_bytes = ctypes.c_char_p
TONE_REPORT = ctypes.CFUNCTYPE(None, _vp, _int, _int, _int)
PUT_MSG = ctypes.CFUNCTYPE(None, _vp, ctypes.POINTER(ctypes.c_uint8), _int)

_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "dtmf_rx_init": (_vp, [_vp, _vp, _vp]),
    "dtmf_rx_set_realtime_callback": (None, [_vp, TONE_REPORT, _vp]),
    "dtmf_rx_parms": (None, [_vp, _int, _int, _int, _int]),
    "dtmf_rx": (_int, [_vp, _bytes, _int]),
    "dtmf_rx_free": (_int, [_vp]),
    "dtmf_tx_init": (_vp, [_vp]),
    "dtmf_tx_set_level": (None, [_vp, _int, _int]),
    "dtmf_tx_set_timing": (None, [_vp, _int, _int]),
    "dtmf_tx_put": (_int, [_vp, _bytes, _int]),
    "dtmf_tx": (_int, [_vp, _vp, _int]),
    "dtmf_tx_free": (_int, [_vp]),
    "adsi_tx_init": (_vp, [_vp, _int]),
    "adsi_tx_put_message": (_int, [_vp, _bytes, _int]),
    "adsi_add_field": (_int, [_vp, _vp, _int, ctypes.c_uint8, _bytes, _int]),
    "adsi_tx": (_int, [_vp, _vp, _int]),
    "adsi_tx_send_alert_tone": (None, [_vp]),
    "adsi_tx_free": (_int, [_vp]),
    "adsi_rx_init": (_vp, [_vp, _int, PUT_MSG, _vp]),
    "adsi_rx": (_int, [_vp, _bytes, _int]),
    "adsi_next_field": (
        _int,
        [_vp, _bytes, _int, _int, ctypes.POINTER(ctypes.c_uint8), ctypes.POINTER(_vp), ctypes.POINTER(_int)],
    ),
    "adsi_rx_free": (_int, [_vp]),
    "super_tone_rx_make_descriptor": (_vp, [_vp]),
    "super_tone_rx_add_tone": (_int, [_vp]),
    "super_tone_rx_add_element": (_int, [_vp, _int, _int, _int, _int, _int]),
    "super_tone_rx_free_descriptor": (_int, [_vp]),
    "super_tone_rx_init": (_vp, [_vp, _vp, TONE_REPORT, _vp]),
    "super_tone_rx": (_int, [_vp, _bytes, _int]),
    "super_tone_rx_free": (_int, [_vp]),
    "modem_connect_tones_rx_init": (_vp, [_vp, _int, TONE_REPORT, _vp]),
    "modem_connect_tones_rx": (_int, [_vp, _bytes, _int]),
    "modem_connect_tones_rx_free": (_int, [_vp]),
    "modem_connect_tones_tx_init": (_vp, [_vp, _int]),
    "modem_connect_tones_tx": (_int, [_vp, _vp, _int]),
    "modem_connect_tones_tx_free": (_int, [_vp]),
    "tone_gen_descriptor_init": (_vp, [_vp, _int, _int, _int, _int, _int, _int, _int, _int, _int]),
    "tone_gen_descriptor_free": (None, [_vp]),
    "tone_gen_init": (_vp, [_vp, _vp]),
    "tone_gen": (_int, [_vp, _vp, _int]),
    "tone_gen_free": (_int, [_vp]),
    "plc_init": (_vp, [_vp]),
    "plc_rx": (_int, [_vp, _vp, _int]),
    "plc_fillin": (_int, [_vp, _vp, _int]),
    "plc_free": (_int, [_vp]),
    "g722_encode_init": (_vp, [_vp, _int, _int]),
    "g722_encode": (_int, [_vp, _vp, _bytes, _int]),
    "g722_encode_free": (_int, [_vp]),
    "g722_decode_init": (_vp, [_vp, _int, _int]),
    "g722_decode": (_int, [_vp, _vp, _bytes, _int]),
    "g722_decode_free": (_int, [_vp]),
    "g726_init": (_vp, [_vp, _int, _int, _int]),
    "g726_encode": (_int, [_vp, _vp, _bytes, _int]),
    "g726_decode": (_int, [_vp, _vp, _bytes, _int]),
    "g726_free": (_int, [_vp]),
}

_library: ctypes.CDLL | None = None


def library() -> ctypes.CDLL:
    """The loaded libspandsp with every function used here typed; raises SpandspError naming the package."""
    global _library
    if _library is None:
        if sys.byteorder != "little":
            raise SpandspError("the spandsp bindings take little-endian linear audio on little-endian hosts only")
        name = ctypes.util.find_library("spandsp")
        if name is None:
            raise SpandspError(MISSING_LIBRARY)
        try:
            lib = ctypes.CDLL(name)
        except OSError as exc:
            raise SpandspError(f"{MISSING_LIBRARY}: {exc}") from exc
        for function, (restype, argtypes) in _SIGNATURES.items():
            entry = getattr(lib, function)
            entry.restype = restype
            entry.argtypes = argtypes
        _library = lib
    return _library


def _state(pointer: int | None, what: str) -> int:
    if not pointer:
        raise SpandspError(f"spandsp could not create the {what} state")
    return pointer


def _frame_bytes(frame: bytes) -> bytes:
    return frame if type(frame) is bytes else bytes(frame)


class _Output:
    """A reusable output buffer for generated samples, zero-padded up to the requested count."""

    __slots__ = ("buffer", "size")

    def __init__(self) -> None:
        self.size = 0
        self.buffer = ctypes.create_string_buffer(0)

    def get(self, n_bytes: int) -> ctypes.Array[ctypes.c_char]:
        if n_bytes > self.size:
            self.size = max(n_bytes, 2 * FRAME_SAMPLES)
            self.buffer = ctypes.create_string_buffer(self.size)
        return self.buffer


def _padded(buffer: ctypes.Array[ctypes.c_char], produced: int, wanted: int) -> bytes:
    if produced >= wanted:
        return buffer.raw[: 2 * wanted]
    return buffer.raw[: 2 * max(produced, 0)] + bytes(2 * (wanted - max(produced, 0)))


class DtmfDetector:
    """DTMF receiver (spandsp ``dtmf_rx``, ITU-T Q.23/Q.24) reporting digits with start and duration.

    Settings go to ``dtmf_rx_parms``: ``twist_db`` is the accepted normal twist (low group louder,
    spandsp default 8 dB), ``reverse_twist_db`` the accepted reverse twist (high group louder, default
    4 dB), ``threshold_dbm0`` the weakest accepted tone (by default digits down to about -40 dBm0 per
    tone are accepted; -36 dBm0 digits are rejected with -30), and
    ``filter_dial_tone`` notches 350 and 440 Hz.  None keeps spandsp's default.
    """

    def __init__(
        self,
        *,
        filter_dial_tone: bool = False,
        twist_db: int | None = None,
        reverse_twist_db: int | None = None,
        threshold_dbm0: int | None = None,
    ) -> None:
        lib = library()
        self._lib = lib
        self._log = DtmfEventLog()
        report = self._log.report

        def realtime(_user_data: int | None, code: int, level: int, delay: int) -> None:
            report(code, level, delay)

        self._callback = TONE_REPORT(realtime)
        self._state = _state(lib.dtmf_rx_init(None, None, None), "DTMF receiver")
        lib.dtmf_rx_set_realtime_callback(self._state, self._callback, None)
        lib.dtmf_rx_parms(
            self._state,
            int(filter_dial_tone),
            -1 if twist_db is None else twist_db,
            -1 if reverse_twist_db is None else reverse_twist_db,
            -99 if threshold_dbm0 is None else threshold_dbm0,
        )
        self._samples = 0

    def __del__(self) -> None:
        state = getattr(self, "_state", None)
        if state:
            self._lib.dtmf_rx_free(state)
            self._state = 0

    @property
    def samples(self) -> int:
        """Samples fed since the detector was created."""
        return self._samples

    @property
    def held(self) -> str | None:
        """The digit currently down, if any."""
        return self._log.digit

    def feed(self, frame: bytes) -> list[DtmfEvent]:
        """Process one frame of 8 kHz linear audio; the digits that went down or up in it."""
        n = check_frame(frame)
        self._lib.dtmf_rx(self._state, _frame_bytes(frame), n)
        self._samples += n
        return self._log.take()


class DtmfGenerator:
    """DTMF transmitter (spandsp ``dtmf_tx``): queued digits become tone pairs, frame by frame.

    ``level_dbm0`` is the low-group tone's level and ``twist_db`` how much louder the high-group tone is
    (ITU-T Q.23); ``on_ms``/``off_ms`` are tone and gap times (spandsp defaults -10 dBm0, 50/55 ms).
    """

    def __init__(self, *, level_dbm0: int = -10, twist_db: int = 0, on_ms: int = 50, off_ms: int = 55) -> None:
        if not -60 <= level_dbm0 <= 3 or not -20 <= twist_db <= 20 or on_ms <= 0 or off_ms < 0:
            raise SpandspError("DTMF level -60..3 dBm0, twist -20..20 dB, positive on/off times")
        lib = library()
        self._lib = lib
        self._state = _state(lib.dtmf_tx_init(None), "DTMF generator")
        lib.dtmf_tx_set_level(self._state, level_dbm0, twist_db)
        lib.dtmf_tx_set_timing(self._state, on_ms, off_ms)
        self._output = _Output()
        self._queued = 0
        self._idle = True

    def __del__(self) -> None:
        state = getattr(self, "_state", None)
        if state:
            self._lib.dtmf_tx_free(state)
            self._state = 0

    @property
    def idle(self) -> bool:
        """True once every queued digit (with its gap) has been generated."""
        return self._idle

    def queue(self, digits: str) -> None:
        """Append digits (0-9 * # A-D) to the transmit queue (at most 128 waiting)."""
        data = normalise_digits(digits)
        if not data:
            return
        # dtmf_tx_put loads all the digits or none, returning how many would not fit.
        if self._lib.dtmf_tx_put(self._state, data, len(data)):
            raise SpandspError(f"DTMF queue full: {MAX_QUEUED_DTMF_DIGITS} digits at most")
        self._idle = False

    def generate(self, n_samples: int = FRAME_SAMPLES) -> bytes:
        """The next ``n_samples`` of audio; silence once the queue is empty."""
        check_count(n_samples)
        buffer = self._output.get(2 * n_samples)
        produced = self._lib.dtmf_tx(self._state, buffer, n_samples)
        if produced < n_samples:
            self._idle = True
        return _padded(buffer, produced, n_samples)


class CallerIdGenerator:
    """On-hook caller ID / VMWI transmitter (spandsp ``adsi_tx``) for one :class:`CallerIdStandard`.

    ``send()`` queues one message; ``generate()`` then returns the FSK (or DTMF) signal frame by frame,
    including the channel seizure and mark preamble (GR-30-CORE, EN 300 659-1).  ``sdmf`` selects the
    Bell 202 single data message format instead of MDMF.
    """

    def __init__(self, standard: CallerIdStandard, *, sdmf: bool = False) -> None:
        self._standard = CallerIdStandard(standard)
        if sdmf and self._standard is not CallerIdStandard.BELL202:
            raise SpandspError("SDMF exists only for Bell 202 (CLASS) caller ID")
        self._sdmf = sdmf
        lib = library()
        self._lib = lib
        self._state = _state(lib.adsi_tx_init(None, int(self._standard)), "caller ID transmitter")
        self._output = _Output()
        self._done = True

    def __del__(self) -> None:
        state = getattr(self, "_state", None)
        if state:
            self._lib.adsi_tx_free(state)
            self._state = 0

    @property
    def standard(self) -> CallerIdStandard:
        """The signalling standard."""
        return self._standard

    @property
    def done(self) -> bool:
        """True when nothing is left to transmit."""
        return self._done

    def _assemble(self, message_type: int, fields: list[tuple[int, bytes]]) -> bytes:
        if self._standard in (CallerIdStandard.BELL202, CallerIdStandard.V23):
            return tlv_message(message_type, fields)
        buffer = ctypes.create_string_buffer(256)
        length = self._lib.adsi_add_field(self._state, buffer, -1, message_type, None, 0)
        for field_type, value in fields:
            if length + 2 * len(value) + 4 > 250:
                raise SpandspError("caller ID message too long")
            length = self._lib.adsi_add_field(self._state, buffer, length, field_type, value, len(value))
        return buffer.raw[:length]

    def send(self, message: CallerIdMessage | MessageWaiting) -> None:
        """Queue ``message``; raises if the previous one is still being transmitted."""
        if not self._done:
            raise SpandspError("a caller ID message is still being transmitted")
        message_type, fields = caller_id_fields(self._standard, message, self._sdmf)
        data = self._assemble(message_type, fields)
        if self._lib.adsi_tx_put_message(self._state, data, len(data)) <= 0:
            raise SpandspError("spandsp refused the caller ID message")
        self._done = False

    def send_alert_tone(self) -> None:
        """Queue the CPE alerting signal (2130 + 2750 Hz, GR-30 CAS / EN 300 659 DT-AS) before a message."""
        self._lib.adsi_tx_send_alert_tone(self._state)
        self._done = False

    def generate(self, n_samples: int = FRAME_SAMPLES) -> bytes:
        """The next ``n_samples`` of signal; silence once the message is out."""
        check_count(n_samples)
        buffer = self._output.get(2 * n_samples)
        produced = self._lib.adsi_tx(self._state, buffer, n_samples)
        if produced < n_samples:
            self._done = True
        return _padded(buffer, produced, n_samples)


class CallerIdDecoder:
    """On-hook caller ID / VMWI receiver (spandsp ``adsi_rx``) for one :class:`CallerIdStandard`.

    Messages whose checksum (or JCLIP CRC) fails are dropped by spandsp; message types other than caller
    ID and message waiting are ignored.
    """

    def __init__(self, standard: CallerIdStandard) -> None:
        self._standard = CallerIdStandard(standard)
        lib = library()
        self._lib = lib
        raw: list[bytes] = []
        self._raw = raw

        def put_message(_user_data: int | None, message: Any, length: int) -> None:
            raw.append(ctypes.string_at(message, length))

        self._callback = PUT_MSG(put_message)
        self._state = _state(lib.adsi_rx_init(None, int(self._standard), self._callback, None), "caller ID receiver")
        self._type = ctypes.c_uint8()
        self._body = ctypes.c_void_p()
        self._length = ctypes.c_int()

    def __del__(self) -> None:
        state = getattr(self, "_state", None)
        if state:
            self._lib.adsi_rx_free(state)
            self._state = 0

    @property
    def standard(self) -> CallerIdStandard:
        """The signalling standard."""
        return self._standard

    def _fields(self, message: bytes) -> tuple[int, list[tuple[int, bytes]]] | None:
        position = -1
        message_type = -1
        fields: list[tuple[int, bytes]] = []
        while True:
            position = self._lib.adsi_next_field(
                self._state,
                message,
                len(message),
                position,
                ctypes.byref(self._type),
                ctypes.byref(self._body),
                ctypes.byref(self._length),
            )
            if position == -1:
                break
            if position < 0:
                return None
            if message_type < 0:
                message_type = self._type.value
            else:
                pointer, length = self._body.value, self._length.value
                body = ctypes.string_at(pointer, length) if pointer and length > 0 else b""
                fields.append((self._type.value, body))
        return (message_type, fields) if message_type >= 0 else None

    def feed(self, frame: bytes) -> list[CallerIdMessage | MessageWaiting]:
        """Process one frame of 8 kHz linear audio; the messages completed in it."""
        n = check_frame(frame)
        self._lib.adsi_rx(self._state, _frame_bytes(frame), n)
        if not self._raw:
            return []
        decoded: list[CallerIdMessage | MessageWaiting] = []
        for message in self._raw:
            parsed = self._fields(message)
            if parsed is not None:
                result = decode_caller_id(self._standard, parsed[0], parsed[1])
                if result is not None:
                    decoded.append(result)
        self._raw.clear()
        return decoded


class CallProgressDetector:
    """Supervisory tone detector (spandsp ``super_tone_rx``) for busy, congestion, dial tone, ringback...

    Built from :class:`ToneCadence` descriptions (a country's table); reports which one is present and
    when it stops, with sample timestamps (ITU-T E.180 / Q.35 tones).  Limits of spandsp 0.0.6 measured
    here: the gaps of a cadence must be quieter than about -42 dBm0 (louder noise reads as tone); two
    frequencies of one table less than about 60 Hz apart blur into each other (16 ms Goertzel blocks); a
    cadence that contains another one (UK busy inside UK congestion) is reported as the first that matches.
    """

    def __init__(self, tones: Sequence[ToneCadence]) -> None:
        plan = CadencePlan(tones)
        lib = library()
        self._lib = lib
        self._descriptor = _state(lib.super_tone_rx_make_descriptor(None), "tone descriptor")
        for _ in plan.names:
            lib.super_tone_rx_add_tone(self._descriptor)
        for number, segment in plan.elements:
            lib.super_tone_rx_add_element(
                self._descriptor, number, segment.f1, segment.f2, segment.min_ms, segment.max_ms
            )
        self._log = ToneEventLog(plan.names)
        report = self._log.report
        self._samples = 0

        def tone_report(_user_data: int | None, code: int, _level: int, _delay: int) -> None:
            report(code)

        self._callback = TONE_REPORT(tone_report)
        self._state = _state(lib.super_tone_rx_init(None, self._descriptor, self._callback, None), "tone detector")

    def __del__(self) -> None:
        state = getattr(self, "_state", None)
        if state:
            self._lib.super_tone_rx_free(state)
            self._state = 0
        descriptor = getattr(self, "_descriptor", None)
        if descriptor:
            self._lib.super_tone_rx_free_descriptor(descriptor)
            self._descriptor = 0

    @property
    def tones(self) -> tuple[str, ...]:
        """Names of the monitored tones, in the order given."""
        return self._log.names

    @property
    def current(self) -> str | None:
        """The tone being heard now, if any."""
        return self._log.current

    @property
    def samples(self) -> int:
        """Samples fed since the detector was created."""
        return self._samples

    def feed(self, frame: bytes) -> list[ToneEvent]:
        """Process one frame of 8 kHz linear audio; tones recognised or ended in it."""
        n = check_frame(frame)
        self._log.clock = self._samples + n
        self._lib.super_tone_rx(self._state, _frame_bytes(frame), n)
        self._samples += n
        return self._log.take()


def _modem_tone_callback(log: ModemToneEventLog) -> Any:
    report = log.report

    def modem_tone_report(_user_data: int | None, code: int, level: int, _delay: int) -> None:
        report(code, level)

    return modem_tone_report


class ModemToneDetector:
    """Fax and modem connect-tone detector (spandsp ``modem_connect_tones_rx``, one receiver per kind).

    ``listen`` names receiver types: CNG, ANS/ANS_PR/ANSAM/ANSAM_PR (each reports whichever 2100 Hz variant
    it hears, so ANSAM covers CED), FAX_CED_OR_PREAMBLE (CED or V.21 flags), BELL_ANS, CALLING_TONE.
    """

    def __init__(self, listen: Iterable[ModemTone] = (ModemTone.CNG, ModemTone.ANSAM)) -> None:
        kinds = modem_tone_receivers(listen)
        lib = library()
        self._lib = lib
        self._kinds = kinds
        self._logs = [ModemToneEventLog() for _ in kinds]
        self._callbacks: list[Any] = []
        self._states: list[int] = []
        self._samples = 0
        for kind, log in zip(kinds, self._logs, strict=True):
            callback = TONE_REPORT(_modem_tone_callback(log))
            self._callbacks.append(callback)
            self._states.append(_state(lib.modem_connect_tones_rx_init(None, int(kind), callback, None), kind.name))

    def __del__(self) -> None:
        for state in getattr(self, "_states", ()):
            self._lib.modem_connect_tones_rx_free(state)
        self._states = []

    @property
    def listening(self) -> tuple[ModemTone, ...]:
        """The receiver types, in the order given."""
        return self._kinds

    @property
    def samples(self) -> int:
        """Samples fed since the detector was created."""
        return self._samples

    def feed(self, frame: bytes) -> list[ModemToneEvent]:
        """Process one frame of 8 kHz linear audio; tones detected or ended in it (receiver order)."""
        n = check_frame(frame)
        data = _frame_bytes(frame)
        for log in self._logs:
            log.clock = self._samples + n
        for state in self._states:
            self._lib.modem_connect_tones_rx(state, data, n)
        self._samples += n
        events: list[ModemToneEvent] = []
        for log in self._logs:
            if log.events:
                events += log.events
                log.events = []
        return events


class ModemToneGenerator:
    """Fax/modem connect-tone generator (spandsp ``modem_connect_tones_tx``): CNG, CED/ANS, ANSam..."""

    def __init__(self, tone: ModemTone) -> None:
        self._tone = modem_tone_generator_kind(tone)
        lib = library()
        self._lib = lib
        self._state = _state(lib.modem_connect_tones_tx_init(None, int(self._tone)), "modem tone generator")
        self._output = _Output()

    def __del__(self) -> None:
        state = getattr(self, "_state", None)
        if state:
            self._lib.modem_connect_tones_tx_free(state)
            self._state = 0

    @property
    def tone(self) -> ModemTone:
        """The tone generated."""
        return self._tone

    def generate(self, n_samples: int = FRAME_SAMPLES) -> bytes:
        """The next ``n_samples`` of the tone (silence after a tone with a fixed length has ended)."""
        check_count(n_samples)
        buffer = self._output.get(2 * n_samples)
        produced = self._lib.modem_connect_tones_tx(self._state, buffer, n_samples)
        return _padded(buffer, produced, n_samples)


class ToneGenerator:
    """Cadenced one- or two-frequency tone (spandsp ``tone_gen``) for dial tone, ringback, busy...

    ``cadence_ms`` holds up to two on/off pairs, repeated when ``repeat``; empty for a continuous tone.
    Levels are per frequency in dBm0.
    """

    def __init__(
        self,
        frequencies: Sequence[int],
        level_dbm0: int | Sequence[int] = -13,
        cadence_ms: Sequence[int] = (),
        *,
        repeat: bool = True,
    ) -> None:
        freqs = list(frequencies)
        if not 1 <= len(freqs) <= 2 or any(not 0 < f < 4000 for f in freqs):
            raise SpandspError(f"one or two frequencies between 0 and 4000 Hz, got {frequencies}")
        level1, level2 = tone_levels(level_dbm0, len(freqs))
        durations = tone_generator_cadence(cadence_ms, repeat)
        lib = library()
        self._lib = lib
        self._descriptor = _state(
            lib.tone_gen_descriptor_init(
                None, freqs[0], level1, freqs[1] if len(freqs) == 2 else 0, level2, *durations
            ),
            "tone descriptor",
        )
        self._state = _state(lib.tone_gen_init(None, self._descriptor), "tone generator")
        self._output = _Output()

    @classmethod
    def from_cadence(cls, tone: ToneCadence, level_dbm0: int = -13) -> ToneGenerator:
        """A generator for a :class:`ToneCadence` (at most two on/off pairs)."""
        return cls(tone.frequencies, level_dbm0, tone.cadence_ms)

    def __del__(self) -> None:
        state = getattr(self, "_state", None)
        if state:
            self._lib.tone_gen_free(state)
            self._state = 0
        descriptor = getattr(self, "_descriptor", None)
        if descriptor:
            self._lib.tone_gen_descriptor_free(descriptor)
            self._descriptor = 0

    def generate(self, n_samples: int = FRAME_SAMPLES) -> bytes:
        """The next ``n_samples`` of the tone (silence once a non-repeating cadence has ended)."""
        check_count(n_samples)
        buffer = self._output.get(2 * n_samples)
        produced = self._lib.tone_gen(self._state, buffer, n_samples)
        return _padded(buffer, produced, n_samples)


class PacketLossConcealer:
    """Packet loss concealment (spandsp ``plc``, after ITU-T G.711 Appendix I): pitch-repeating fill-in.

    Give every good frame to :meth:`good` (it may blend the first frame after a loss, so forward what it
    returns) and call :meth:`fill` for each lost one; the fill-in fades to silence after 50 ms.
    """

    def __init__(self) -> None:
        lib = library()
        self._lib = lib
        self._state = _state(lib.plc_init(None), "PLC")
        self._output = _Output()

    def __del__(self) -> None:
        state = getattr(self, "_state", None)
        if state:
            self._lib.plc_free(state)
            self._state = 0

    def good(self, frame: bytes) -> bytes:
        """Record a received frame; returns it, smoothed into the fill-in if it follows a loss."""
        n = check_frame(frame)
        buffer = ctypes.create_string_buffer(bytes(frame), len(frame))
        self._lib.plc_rx(self._state, buffer, n)
        return buffer.raw

    def fill(self, n_samples: int = FRAME_SAMPLES) -> bytes:
        """Synthesise ``n_samples`` to replace lost audio."""
        check_count(n_samples)
        buffer = self._output.get(2 * n_samples)
        produced = self._lib.plc_fillin(self._state, buffer, n_samples)
        return _padded(buffer, produced, n_samples)


def _g722_options(rate: int, sample_rate: int) -> int:
    if rate not in (64000, 56000, 48000):
        raise SpandspError(f"G.722 bit rate must be 64000, 56000 or 48000, got {rate}")
    if sample_rate not in (16000, 8000):
        raise SpandspError(f"G.722 linear audio is 16000 or 8000 samples/s, got {sample_rate}")
    options = 0x0001 if sample_rate == 8000 else 0  # G722_SAMPLE_RATE_8000
    if rate != 64000:
        options |= 0x0002  # G722_PACKED: 7- or 6-bit codes packed into octets
    return options


class G722Encoder:
    """ITU-T G.722 encoder (spandsp, bit exact): 16 kHz linear in, one octet per two samples at 64 kbit/s.

    ``sample_rate=8000`` takes narrowband audio (spandsp's interworking mode); 56/48 kbit/s pack codes.
    """

    def __init__(self, rate: int = 64000, *, sample_rate: int = 16000) -> None:
        options = _g722_options(rate, sample_rate)
        lib = library()
        self._lib = lib
        self._state = _state(lib.g722_encode_init(None, rate, options), "G.722 encoder")
        self._output = _Output()

    def __del__(self) -> None:
        state = getattr(self, "_state", None)
        if state:
            self._lib.g722_encode_free(state)
            self._state = 0

    def encode(self, pcm: bytes) -> bytes:
        """G.722 octets for ``pcm`` (an even number of samples keeps the sub-band pairs aligned)."""
        n = check_frame(pcm)
        buffer = self._output.get(n + 2)
        produced = self._lib.g722_encode(self._state, buffer, _frame_bytes(pcm), n)
        return buffer.raw[:produced]


class G722Decoder:
    """ITU-T G.722 decoder (spandsp, bit exact): octets in, 16 kHz (or 8 kHz) linear audio out."""

    def __init__(self, rate: int = 64000, *, sample_rate: int = 16000) -> None:
        options = _g722_options(rate, sample_rate)
        lib = library()
        self._lib = lib
        self._state = _state(lib.g722_decode_init(None, rate, options), "G.722 decoder")
        self._output = _Output()

    def __del__(self) -> None:
        state = getattr(self, "_state", None)
        if state:
            self._lib.g722_decode_free(state)
            self._state = 0

    def decode(self, data: bytes) -> bytes:
        """Linear audio for ``data``."""
        buffer = self._output.get(8 * len(data) + 4)
        produced = self._lib.g722_decode(self._state, buffer, _frame_bytes(data), len(data))
        return buffer.raw[: 2 * produced]


def _g726_args(bit_rate: int, packing: G726Packing) -> tuple[int, G726Packing]:
    if bit_rate not in (16000, 24000, 32000, 40000):
        raise SpandspError(f"G.726 bit rate must be 16000, 24000, 32000 or 40000, got {bit_rate}")
    return bit_rate, G726Packing(packing)


class G726Encoder:
    """ITU-T G.726 ADPCM encoder (spandsp, bit exact) from 8 kHz linear audio."""

    def __init__(self, bit_rate: int = 32000, packing: G726Packing = G726Packing.RFC3551) -> None:
        bit_rate, packing = _g726_args(bit_rate, packing)
        lib = library()
        self._lib = lib
        self._state = _state(lib.g726_init(None, bit_rate, 0, int(packing)), "G.726 encoder")
        self._output = _Output()

    def __del__(self) -> None:
        state = getattr(self, "_state", None)
        if state:
            self._lib.g726_free(state)
            self._state = 0

    def encode(self, pcm: bytes) -> bytes:
        """G.726 code words for ``pcm`` (packed unless ``G726Packing.NONE``)."""
        n = check_frame(pcm)
        buffer = self._output.get(n + 2)
        produced = self._lib.g726_encode(self._state, buffer, _frame_bytes(pcm), n)
        return buffer.raw[:produced]


class G726Decoder:
    """ITU-T G.726 ADPCM decoder (spandsp, bit exact) to 8 kHz linear audio."""

    def __init__(self, bit_rate: int = 32000, packing: G726Packing = G726Packing.RFC3551) -> None:
        bit_rate, packing = _g726_args(bit_rate, packing)
        lib = library()
        self._lib = lib
        self._state = _state(lib.g726_init(None, bit_rate, 0, int(packing)), "G.726 decoder")
        self._output = _Output()

    def __del__(self) -> None:
        state = getattr(self, "_state", None)
        if state:
            self._lib.g726_free(state)
            self._state = 0

    def decode(self, data: bytes) -> bytes:
        """Linear audio for ``data``."""
        buffer = self._output.get(16 * len(data) + 4)
        produced = self._lib.g726_decode(self._state, buffer, _frame_bytes(data), len(data))
        return buffer.raw[: 2 * produced]
