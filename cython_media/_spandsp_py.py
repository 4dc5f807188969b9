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
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from cython_media._spandsp_common import (  # noqa: F401  (re-exported: the twin's public API)
    CED,
    CLASS_SDMF_CALLERID,
    CLASS_SDMF_MSG_WAITING,
    DTMF_ABSENCE_C,
    DTMF_ABSENCE_HASH,
    DTMF_DIGITS,
    FIELD_CALLER_NAME,
    FIELD_CALLER_NUMBER,
    FIELD_DATETIME,
    FIELD_NAME_ABSENCE,
    FIELD_NUM_MESSAGES,
    FIELD_NUMBER_ABSENCE,
    FIELD_VISUAL_INDICATOR,
    FRAME_SAMPLES,
    JCLIP_MDMF_CALLERID,
    MAX_CADENCE_STEPS,
    MAX_QUEUED_DTMF_DIGITS,
    MDMF_CALLERID,
    MDMF_MSG_WAITING,
    MISSING_LIBRARY,
    MODEM_TONE_RECEIVERS,
    SAMPLE_RATE,
    SDMF_MWI_OFF,
    SDMF_MWI_ON,
    Absence,
    CadencePlan,
    CallerIdMessage,
    CallerIdStandard,
    DtmfEvent,
    DtmfEventLog,
    G726Packing,
    MessageWaiting,
    ModemTone,
    ModemToneEvent,
    ModemToneEventLog,
    SpandspError,
    ToneCadence,
    ToneEvent,
    ToneEventLog,
    ToneSegment,
    _absence,
    _g722_options,
    _g726_args,
    _text,
    caller_id_fields,
    check_count,
    check_frame,
    decode_caller_id,
    modem_tone_generator_kind,
    modem_tone_receivers,
    normalise_digits,
    tlv_message,
    tone_generator_cadence,
    tone_levels,
)

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
