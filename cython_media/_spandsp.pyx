# cython: language_level=3
"""spandsp telephony DSP, compiled: the twin of ``_spandsp_py.py`` (same API, same results).

The types both twins share come from ``_spandsp_common`` (no ctypes in the compiled build).

Binds Debian's libspandsp (``libspandsp-dev`` 0.0.6) directly: each state comes from a ``*_init(NULL, ...)``
call and is released with the matching ``*_free``, exactly as the ctypes twin does, so both run the same
library code on the same input.  Every call processes a whole frame in C with the GIL released; spandsp's
callbacks (``noexcept with gil``) hand their reports to the event logs shared with the twin, which the
Python method returns after the call.  Audio is 16-bit signed little-endian linear PCM at 8 kHz.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport int16_t, uint8_t
from libc.string cimport memcpy, memset

from cython_media._spandsp_common import (
    FRAME_SAMPLES,
    MAX_QUEUED_DTMF_DIGITS,
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
from cython_media._spandsp_common import _g722_options, _g726_args


cdef extern from "spandsp.h" nogil:
    ctypedef void (*tone_report_func_t)(void *user_data, int code, int level, int delay)
    ctypedef void (*digits_rx_callback_t)(void *user_data, const char *digits, int len)
    ctypedef void (*put_msg_func_t)(void *user_data, const uint8_t *msg, int len)

    ctypedef struct dtmf_rx_state_t:
        pass
    ctypedef struct dtmf_tx_state_t:
        pass
    ctypedef struct adsi_tx_state_t:
        pass
    ctypedef struct adsi_rx_state_t:
        pass
    ctypedef struct super_tone_rx_descriptor_t:
        pass
    ctypedef struct super_tone_rx_state_t:
        pass
    ctypedef struct modem_connect_tones_rx_state_t:
        pass
    ctypedef struct modem_connect_tones_tx_state_t:
        pass
    ctypedef struct tone_gen_descriptor_t:
        pass
    ctypedef struct tone_gen_state_t:
        pass
    ctypedef struct plc_state_t:
        pass
    ctypedef struct g722_encode_state_t:
        pass
    ctypedef struct g722_decode_state_t:
        pass
    ctypedef struct g726_state_t:
        pass

    dtmf_rx_state_t *dtmf_rx_init(dtmf_rx_state_t *s, digits_rx_callback_t callback, void *user_data)
    void dtmf_rx_set_realtime_callback(dtmf_rx_state_t *s, tone_report_func_t callback, void *user_data)
    void dtmf_rx_parms(dtmf_rx_state_t *s, int filter_dialtone, int twist, int reverse_twist, int threshold)
    int dtmf_rx(dtmf_rx_state_t *s, const int16_t *amp, int samples)
    int dtmf_rx_free(dtmf_rx_state_t *s)
    dtmf_tx_state_t *dtmf_tx_init(dtmf_tx_state_t *s)
    void dtmf_tx_set_level(dtmf_tx_state_t *s, int level, int twist)
    void dtmf_tx_set_timing(dtmf_tx_state_t *s, int on_time, int off_time)
    int dtmf_tx_put(dtmf_tx_state_t *s, const char *digits, int len)
    int dtmf_tx(dtmf_tx_state_t *s, int16_t *amp, int max_samples)
    int dtmf_tx_free(dtmf_tx_state_t *s)

    adsi_tx_state_t *adsi_tx_init(adsi_tx_state_t *s, int standard)
    int adsi_tx_put_message(adsi_tx_state_t *s, const uint8_t *msg, int len)
    int adsi_add_field(adsi_tx_state_t *s, uint8_t *msg, int len, uint8_t field_type,
                       const uint8_t *field_body, int field_len)
    int adsi_tx(adsi_tx_state_t *s, int16_t *amp, int max_len)
    void adsi_tx_send_alert_tone(adsi_tx_state_t *s)
    int adsi_tx_free(adsi_tx_state_t *s)
    adsi_rx_state_t *adsi_rx_init(adsi_rx_state_t *s, int standard, put_msg_func_t put_msg, void *user_data)
    int adsi_rx(adsi_rx_state_t *s, const int16_t *amp, int len)
    int adsi_next_field(adsi_rx_state_t *s, const uint8_t *msg, int msg_len, int pos, uint8_t *field_type,
                        const uint8_t **field_body, int *field_len)
    int adsi_rx_free(adsi_rx_state_t *s)

    super_tone_rx_descriptor_t *super_tone_rx_make_descriptor(super_tone_rx_descriptor_t *desc)
    int super_tone_rx_add_tone(super_tone_rx_descriptor_t *desc)
    int super_tone_rx_add_element(super_tone_rx_descriptor_t *desc, int tone, int f1, int f2, int min, int max)
    int super_tone_rx_free_descriptor(super_tone_rx_descriptor_t *desc)
    super_tone_rx_state_t *super_tone_rx_init(super_tone_rx_state_t *s, super_tone_rx_descriptor_t *desc,
                                              tone_report_func_t callback, void *user_data)
    int super_tone_rx(super_tone_rx_state_t *s, const int16_t *amp, int samples)
    int super_tone_rx_free(super_tone_rx_state_t *s)

    modem_connect_tones_rx_state_t *modem_connect_tones_rx_init(modem_connect_tones_rx_state_t *s, int tone_type,
                                                                tone_report_func_t tone_callback, void *user_data)
    int modem_connect_tones_rx(modem_connect_tones_rx_state_t *s, const int16_t *amp, int len)
    int modem_connect_tones_rx_free(modem_connect_tones_rx_state_t *s)
    modem_connect_tones_tx_state_t *modem_connect_tones_tx_init(modem_connect_tones_tx_state_t *s, int tone_type)
    int modem_connect_tones_tx(modem_connect_tones_tx_state_t *s, int16_t *amp, int len)
    int modem_connect_tones_tx_free(modem_connect_tones_tx_state_t *s)

    tone_gen_descriptor_t *tone_gen_descriptor_init(tone_gen_descriptor_t *s, int f1, int l1, int f2, int l2,
                                                    int d1, int d2, int d3, int d4, int repeat)
    void tone_gen_descriptor_free(tone_gen_descriptor_t *s)
    tone_gen_state_t *tone_gen_init(tone_gen_state_t *s, tone_gen_descriptor_t *t)
    int tone_gen(tone_gen_state_t *s, int16_t *amp, int max_samples)
    int tone_gen_free(tone_gen_state_t *s)

    plc_state_t *plc_init(plc_state_t *s)
    int plc_rx(plc_state_t *s, int16_t *amp, int len)
    int plc_fillin(plc_state_t *s, int16_t *amp, int len)
    int plc_free(plc_state_t *s)

    g722_encode_state_t *g722_encode_init(g722_encode_state_t *s, int rate, int options)
    int g722_encode(g722_encode_state_t *s, uint8_t *g722_data, const int16_t *amp, int len)
    int g722_encode_free(g722_encode_state_t *s)
    g722_decode_state_t *g722_decode_init(g722_decode_state_t *s, int rate, int options)
    int g722_decode(g722_decode_state_t *s, int16_t *amp, const uint8_t *g722_data, int len)
    int g722_decode_free(g722_decode_state_t *s)

    g726_state_t *g726_init(g726_state_t *s, int bit_rate, int ext_coding, int packing)
    int g726_encode(g726_state_t *s, uint8_t *g726_data, const int16_t *amp, int len)
    int g726_decode(g726_state_t *s, int16_t *amp, const uint8_t *g726_data, int g726_bytes)
    int g726_free(g726_state_t *s)


cdef enum:
    MAX_MODEM_RECEIVERS = 8


cdef inline bytes _audio_bytes(object frame):
    """``frame`` as bytes, validated as whole 16-bit samples (errors exactly as the twin's ``check_frame``)."""
    if type(frame) is bytes:
        if PyBytes_GET_SIZE(frame) & 1:
            check_frame(frame)
        return <bytes> frame
    check_frame(frame)
    return bytes(frame)


cdef inline bytes _new_audio(int n_samples):
    """A zeroed bytes object for ``n_samples`` of output (filled in place before anyone sees it)."""
    cdef bytes out = PyBytes_FromStringAndSize(NULL, 2 * n_samples)
    memset(PyBytes_AS_STRING(out), 0, 2 * n_samples)
    return out


cdef bytes _trimmed(bytes out, int produced, int capacity):
    if produced >= capacity:
        return out
    return out[:produced if produced > 0 else 0]


def _fail(what):
    raise SpandspError(f"spandsp could not create the {what} state")


# ---- callbacks: spandsp calls these from inside a nogil section --------------------------------------

cdef void _dtmf_report(void *user_data, int code, int level, int delay) noexcept with gil:
    (<object> user_data).report(code, level, delay)


cdef void _tone_report(void *user_data, int code, int level, int delay) noexcept with gil:
    (<object> user_data).report(code)


cdef void _modem_tone_report(void *user_data, int code, int level, int delay) noexcept with gil:
    (<object> user_data).report(code, level)


cdef void _put_message(void *user_data, const uint8_t *msg, int length) noexcept with gil:
    (<list> user_data).append(PyBytes_FromStringAndSize(<const char *> msg, length if length > 0 else 0))


# ---- DTMF ------------------------------------------------------------------------------------------


cdef class DtmfDetector:
    """DTMF receiver (spandsp ``dtmf_rx``, ITU-T Q.23/Q.24) reporting digits with start and duration.

    Settings go to ``dtmf_rx_parms``: ``twist_db`` is the accepted normal twist (low group louder,
    spandsp default 8 dB), ``reverse_twist_db`` the accepted reverse twist (high group louder, default
    4 dB), ``threshold_dbm0`` the weakest accepted tone (by default digits down to about -40 dBm0 per
    tone are accepted; -36 dBm0 digits are rejected with -30), and
    ``filter_dial_tone`` notches 350 and 440 Hz.  None keeps spandsp's default.
    """

    cdef dtmf_rx_state_t *_state
    cdef object _log
    cdef long long _samples

    def __cinit__(self, *, filter_dial_tone=False, twist_db=None, reverse_twist_db=None, threshold_dbm0=None):
        self._log = DtmfEventLog()
        self._state = dtmf_rx_init(NULL, NULL, NULL)
        if self._state is NULL:
            _fail("DTMF receiver")
        dtmf_rx_set_realtime_callback(self._state, _dtmf_report, <void *> self._log)
        dtmf_rx_parms(
            self._state,
            1 if filter_dial_tone else 0,
            -1 if twist_db is None else twist_db,
            -1 if reverse_twist_db is None else reverse_twist_db,
            -99 if threshold_dbm0 is None else threshold_dbm0,
        )

    def __dealloc__(self):
        if self._state is not NULL:
            dtmf_rx_free(self._state)
            self._state = NULL

    @property
    def samples(self):
        """Samples fed since the detector was created."""
        return self._samples

    @property
    def held(self):
        """The digit currently down, if any."""
        return self._log.digit

    def feed(self, frame):
        """Process one frame of 8 kHz linear audio; the digits that went down or up in it."""
        cdef bytes data = _audio_bytes(frame)
        cdef int n = PyBytes_GET_SIZE(data) >> 1
        cdef const int16_t *amp = <const int16_t *> PyBytes_AS_STRING(data)
        if n:
            with nogil:
                dtmf_rx(self._state, amp, n)
        self._samples += n
        return self._log.take()


cdef class DtmfGenerator:
    """DTMF transmitter (spandsp ``dtmf_tx``): queued digits become tone pairs, frame by frame.

    ``level_dbm0`` is the low-group tone's level and ``twist_db`` how much louder the high-group tone is
    (ITU-T Q.23); ``on_ms``/``off_ms`` are tone and gap times (spandsp defaults -10 dBm0, 50/55 ms).
    """

    cdef dtmf_tx_state_t *_state
    cdef bint _idle

    def __cinit__(self, *, int level_dbm0=-10, int twist_db=0, int on_ms=50, int off_ms=55):
        if not -60 <= level_dbm0 <= 3 or not -20 <= twist_db <= 20 or on_ms <= 0 or off_ms < 0:
            raise SpandspError("DTMF level -60..3 dBm0, twist -20..20 dB, positive on/off times")
        self._state = dtmf_tx_init(NULL)
        if self._state is NULL:
            _fail("DTMF generator")
        dtmf_tx_set_level(self._state, level_dbm0, twist_db)
        dtmf_tx_set_timing(self._state, on_ms, off_ms)
        self._idle = True

    def __dealloc__(self):
        if self._state is not NULL:
            dtmf_tx_free(self._state)
            self._state = NULL

    @property
    def idle(self):
        """True once every queued digit (with its gap) has been generated."""
        return self._idle

    def queue(self, digits):
        """Append digits (0-9 * # A-D) to the transmit queue (at most 128 waiting)."""
        cdef bytes data = normalise_digits(digits)
        if not data:
            return
        # dtmf_tx_put loads all the digits or none, returning how many would not fit.
        if dtmf_tx_put(self._state, data, len(data)):
            raise SpandspError(f"DTMF queue full: {MAX_QUEUED_DTMF_DIGITS} digits at most")
        self._idle = False

    def generate(self, int n_samples=FRAME_SAMPLES):
        """The next ``n_samples`` of audio; silence once the queue is empty."""
        check_count(n_samples)
        cdef bytes out = _new_audio(n_samples)
        cdef int16_t *amp = <int16_t *> PyBytes_AS_STRING(out)
        cdef int produced
        with nogil:
            produced = dtmf_tx(self._state, amp, n_samples)
        if produced < n_samples:
            self._idle = True
        return out


# ---- Caller ID -------------------------------------------------------------------------------------


cdef class CallerIdGenerator:
    """On-hook caller ID / VMWI transmitter (spandsp ``adsi_tx``) for one :class:`CallerIdStandard`.

    ``send()`` queues one message; ``generate()`` then returns the FSK (or DTMF) signal frame by frame,
    including the channel seizure and mark preamble (GR-30-CORE, EN 300 659-1).  ``sdmf`` selects the
    Bell 202 single data message format instead of MDMF.
    """

    cdef adsi_tx_state_t *_state
    cdef object _standard
    cdef bint _sdmf
    cdef bint _done

    def __cinit__(self, standard, *, sdmf=False):
        self._standard = CallerIdStandard(standard)
        if sdmf and self._standard is not CallerIdStandard.BELL202:
            raise SpandspError("SDMF exists only for Bell 202 (CLASS) caller ID")
        self._sdmf = bool(sdmf)
        self._state = adsi_tx_init(NULL, <int> self._standard)
        if self._state is NULL:
            _fail("caller ID transmitter")
        self._done = True

    def __dealloc__(self):
        if self._state is not NULL:
            adsi_tx_free(self._state)
            self._state = NULL

    @property
    def standard(self):
        """The signalling standard."""
        return self._standard

    @property
    def done(self):
        """True when nothing is left to transmit."""
        return self._done

    cdef bytes _assemble(self, int message_type, list fields):
        if self._standard in (CallerIdStandard.BELL202, CallerIdStandard.V23):
            return tlv_message(message_type, fields)
        cdef uint8_t buffer[256]
        cdef int length = adsi_add_field(self._state, buffer, -1, <uint8_t> message_type, NULL, 0)
        cdef bytes value
        for field_type, value in fields:
            if length + 2 * len(value) + 4 > 250:
                raise SpandspError("caller ID message too long")
            length = adsi_add_field(self._state, buffer, length, <uint8_t> field_type,
                                    <const uint8_t *> PyBytes_AS_STRING(value), len(value))
        return PyBytes_FromStringAndSize(<const char *> buffer, length)

    def send(self, message):
        """Queue ``message``; raises if the previous one is still being transmitted."""
        if not self._done:
            raise SpandspError("a caller ID message is still being transmitted")
        message_type, fields = caller_id_fields(self._standard, message, self._sdmf)
        cdef bytes data = self._assemble(message_type, fields)
        if adsi_tx_put_message(self._state, <const uint8_t *> PyBytes_AS_STRING(data), len(data)) <= 0:
            raise SpandspError("spandsp refused the caller ID message")
        self._done = False

    def send_alert_tone(self):
        """Queue the CPE alerting signal (2130 + 2750 Hz, GR-30 CAS / EN 300 659 DT-AS) before a message."""
        adsi_tx_send_alert_tone(self._state)
        self._done = False

    def generate(self, int n_samples=FRAME_SAMPLES):
        """The next ``n_samples`` of signal; silence once the message is out."""
        check_count(n_samples)
        cdef bytes out = _new_audio(n_samples)
        cdef int16_t *amp = <int16_t *> PyBytes_AS_STRING(out)
        cdef int produced
        with nogil:
            produced = adsi_tx(self._state, amp, n_samples)
        if produced < n_samples:
            self._done = True
        return out


cdef class CallerIdDecoder:
    """On-hook caller ID / VMWI receiver (spandsp ``adsi_rx``) for one :class:`CallerIdStandard`.

    Messages whose checksum (or JCLIP CRC) fails are dropped by spandsp; message types other than caller
    ID and message waiting are ignored.
    """

    cdef adsi_rx_state_t *_state
    cdef object _standard
    cdef list _raw

    def __cinit__(self, standard):
        self._standard = CallerIdStandard(standard)
        self._raw = []
        self._state = adsi_rx_init(NULL, <int> self._standard, _put_message, <void *> self._raw)
        if self._state is NULL:
            _fail("caller ID receiver")

    def __dealloc__(self):
        if self._state is not NULL:
            adsi_rx_free(self._state)
            self._state = NULL

    @property
    def standard(self):
        """The signalling standard."""
        return self._standard

    cdef object _fields(self, bytes message):
        cdef const uint8_t *msg = <const uint8_t *> PyBytes_AS_STRING(message)
        cdef int position = -1
        cdef int message_type = -1
        cdef uint8_t field_type = 0
        cdef const uint8_t *body = NULL
        cdef int length = 0
        cdef list fields = []
        while True:
            position = adsi_next_field(self._state, msg, len(message), position, &field_type, &body, &length)
            if position == -1:
                break
            if position < 0:
                return None
            if message_type < 0:
                message_type = field_type
            elif body is not NULL and length > 0:
                fields.append((field_type, PyBytes_FromStringAndSize(<const char *> body, length)))
            else:
                fields.append((field_type, b""))
        return (message_type, fields) if message_type >= 0 else None

    def feed(self, frame):
        """Process one frame of 8 kHz linear audio; the messages completed in it."""
        cdef bytes data = _audio_bytes(frame)
        cdef int n = PyBytes_GET_SIZE(data) >> 1
        cdef const int16_t *amp = <const int16_t *> PyBytes_AS_STRING(data)
        if n:
            with nogil:
                adsi_rx(self._state, amp, n)
        if not self._raw:
            return []
        cdef list decoded = []
        for message in self._raw:
            parsed = self._fields(message)
            if parsed is not None:
                result = decode_caller_id(self._standard, parsed[0], parsed[1])
                if result is not None:
                    decoded.append(result)
        self._raw.clear()
        return decoded


# ---- Tone detection and generation ----------------------------------------------------------------


cdef class CallProgressDetector:
    """Supervisory tone detector (spandsp ``super_tone_rx``) for busy, congestion, dial tone, ringback...

    Built from :class:`ToneCadence` descriptions (a country's table); reports which one is present and
    when it stops, with sample timestamps (ITU-T E.180 / Q.35 tones).  Limits of spandsp 0.0.6 measured
    here: the gaps of a cadence must be quieter than about -42 dBm0 (louder noise reads as tone); two
    frequencies of one table less than about 60 Hz apart blur into each other (16 ms Goertzel blocks); a
    cadence that contains another one (UK busy inside UK congestion) is reported as the first that matches.
    """

    cdef super_tone_rx_descriptor_t *_descriptor
    cdef super_tone_rx_state_t *_state
    cdef object _log
    cdef long long _samples

    def __cinit__(self, tones):
        plan = CadencePlan(tones)
        self._descriptor = super_tone_rx_make_descriptor(NULL)
        if self._descriptor is NULL:
            _fail("tone descriptor")
        for _ in plan.names:
            super_tone_rx_add_tone(self._descriptor)
        for number, segment in plan.elements:
            super_tone_rx_add_element(self._descriptor, number, segment.f1, segment.f2, segment.min_ms,
                                      segment.max_ms)
        self._log = ToneEventLog(plan.names)
        self._state = super_tone_rx_init(NULL, self._descriptor, _tone_report, <void *> self._log)
        if self._state is NULL:
            _fail("tone detector")

    def __dealloc__(self):
        if self._state is not NULL:
            super_tone_rx_free(self._state)
            self._state = NULL
        if self._descriptor is not NULL:
            super_tone_rx_free_descriptor(self._descriptor)
            self._descriptor = NULL

    @property
    def tones(self):
        """Names of the monitored tones, in the order given."""
        return self._log.names

    @property
    def current(self):
        """The tone being heard now, if any."""
        return self._log.current

    @property
    def samples(self):
        """Samples fed since the detector was created."""
        return self._samples

    def feed(self, frame):
        """Process one frame of 8 kHz linear audio; tones recognised or ended in it."""
        cdef bytes data = _audio_bytes(frame)
        cdef int n = PyBytes_GET_SIZE(data) >> 1
        cdef const int16_t *amp = <const int16_t *> PyBytes_AS_STRING(data)
        self._log.clock = self._samples + n
        if n:
            with nogil:
                super_tone_rx(self._state, amp, n)
        self._samples += n
        return self._log.take()


cdef class ModemToneDetector:
    """Fax and modem connect-tone detector (spandsp ``modem_connect_tones_rx``, one receiver per kind).

    ``listen`` names receiver types: CNG, ANS/ANS_PR/ANSAM/ANSAM_PR (each reports whichever 2100 Hz variant
    it hears, so ANSAM covers CED), FAX_CED_OR_PREAMBLE (CED or V.21 flags), BELL_ANS, CALLING_TONE.
    """

    cdef modem_connect_tones_rx_state_t *_states[MAX_MODEM_RECEIVERS]
    cdef int _count
    cdef tuple _kinds
    cdef list _logs
    cdef long long _samples

    def __cinit__(self, listen=(ModemTone.CNG, ModemTone.ANSAM)):
        self._kinds = modem_tone_receivers(listen)
        self._logs = [ModemToneEventLog() for _ in self._kinds]
        self._count = 0
        cdef modem_connect_tones_rx_state_t *state
        for kind, log in zip(self._kinds, self._logs, strict=True):
            state = modem_connect_tones_rx_init(NULL, <int> kind, _modem_tone_report, <void *> log)
            if state is NULL:
                _fail(kind.name)
            self._states[self._count] = state
            self._count += 1

    def __dealloc__(self):
        cdef int i
        for i in range(self._count):
            modem_connect_tones_rx_free(self._states[i])
        self._count = 0

    @property
    def listening(self):
        """The receiver types, in the order given."""
        return self._kinds

    @property
    def samples(self):
        """Samples fed since the detector was created."""
        return self._samples

    def feed(self, frame):
        """Process one frame of 8 kHz linear audio; tones detected or ended in it (receiver order)."""
        cdef bytes data = _audio_bytes(frame)
        cdef int n = PyBytes_GET_SIZE(data) >> 1
        cdef const int16_t *amp = <const int16_t *> PyBytes_AS_STRING(data)
        cdef int i
        for log in self._logs:
            log.clock = self._samples + n
        if n:
            with nogil:
                for i in range(self._count):
                    modem_connect_tones_rx(self._states[i], amp, n)
        self._samples += n
        cdef list events = []
        for log in self._logs:
            if log.events:
                events += log.events
                log.events = []
        return events


cdef class ModemToneGenerator:
    """Fax/modem connect-tone generator (spandsp ``modem_connect_tones_tx``): CNG, CED/ANS, ANSam..."""

    cdef modem_connect_tones_tx_state_t *_state
    cdef object _tone

    def __cinit__(self, tone):
        self._tone = modem_tone_generator_kind(tone)
        self._state = modem_connect_tones_tx_init(NULL, <int> self._tone)
        if self._state is NULL:
            _fail("modem tone generator")

    def __dealloc__(self):
        if self._state is not NULL:
            modem_connect_tones_tx_free(self._state)
            self._state = NULL

    @property
    def tone(self):
        """The tone generated."""
        return self._tone

    def generate(self, int n_samples=FRAME_SAMPLES):
        """The next ``n_samples`` of the tone (silence after a tone with a fixed length has ended)."""
        check_count(n_samples)
        cdef bytes out = _new_audio(n_samples)
        cdef int16_t *amp = <int16_t *> PyBytes_AS_STRING(out)
        with nogil:
            modem_connect_tones_tx(self._state, amp, n_samples)
        return out


cdef class ToneGenerator:
    """Cadenced one- or two-frequency tone (spandsp ``tone_gen``) for dial tone, ringback, busy...

    ``cadence_ms`` holds up to two on/off pairs, repeated when ``repeat``; empty for a continuous tone.
    Levels are per frequency in dBm0.
    """

    cdef tone_gen_descriptor_t *_descriptor
    cdef tone_gen_state_t *_state

    def __cinit__(self, frequencies, level_dbm0=-13, cadence_ms=(), *, repeat=True):
        freqs = list(frequencies)
        if not 1 <= len(freqs) <= 2 or any(not 0 < f < 4000 for f in freqs):
            raise SpandspError(f"one or two frequencies between 0 and 4000 Hz, got {frequencies}")
        level1, level2 = tone_levels(level_dbm0, len(freqs))
        d1, d2, d3, d4, rep = tone_generator_cadence(cadence_ms, repeat)
        self._descriptor = tone_gen_descriptor_init(NULL, freqs[0], level1, freqs[1] if len(freqs) == 2 else 0,
                                                    level2, d1, d2, d3, d4, rep)
        if self._descriptor is NULL:
            _fail("tone descriptor")
        self._state = tone_gen_init(NULL, self._descriptor)
        if self._state is NULL:
            _fail("tone generator")

    @classmethod
    def from_cadence(cls, tone, level_dbm0=-13):
        """A generator for a :class:`ToneCadence` (at most two on/off pairs)."""
        return cls(tone.frequencies, level_dbm0, tone.cadence_ms)

    def __dealloc__(self):
        if self._state is not NULL:
            tone_gen_free(self._state)
            self._state = NULL
        if self._descriptor is not NULL:
            tone_gen_descriptor_free(self._descriptor)
            self._descriptor = NULL

    def generate(self, int n_samples=FRAME_SAMPLES):
        """The next ``n_samples`` of the tone (silence once a non-repeating cadence has ended)."""
        check_count(n_samples)
        cdef bytes out = _new_audio(n_samples)
        cdef int16_t *amp = <int16_t *> PyBytes_AS_STRING(out)
        with nogil:
            tone_gen(self._state, amp, n_samples)
        return out


# ---- PLC and codecs --------------------------------------------------------------------------------


cdef class PacketLossConcealer:
    """Packet loss concealment (spandsp ``plc``, after ITU-T G.711 Appendix I): pitch-repeating fill-in.

    Give every good frame to :meth:`good` (it may blend the first frame after a loss, so forward what it
    returns) and call :meth:`fill` for each lost one; the fill-in fades to silence after 50 ms.
    """

    cdef plc_state_t *_state

    def __cinit__(self):
        self._state = plc_init(NULL)
        if self._state is NULL:
            _fail("PLC")

    def __dealloc__(self):
        if self._state is not NULL:
            plc_free(self._state)
            self._state = NULL

    def good(self, frame):
        """Record a received frame; returns it, smoothed into the fill-in if it follows a loss."""
        cdef bytes data = _audio_bytes(frame)
        cdef int n = PyBytes_GET_SIZE(data) >> 1
        cdef bytes out = PyBytes_FromStringAndSize(NULL, 2 * n)
        cdef int16_t *amp = <int16_t *> PyBytes_AS_STRING(out)
        if n:
            memcpy(amp, PyBytes_AS_STRING(data), 2 * n)
            with nogil:
                plc_rx(self._state, amp, n)
        return out

    def fill(self, int n_samples=FRAME_SAMPLES):
        """Synthesise ``n_samples`` to replace lost audio."""
        check_count(n_samples)
        cdef bytes out = _new_audio(n_samples)
        cdef int16_t *amp = <int16_t *> PyBytes_AS_STRING(out)
        with nogil:
            plc_fillin(self._state, amp, n_samples)
        return out


cdef class G722Encoder:
    """ITU-T G.722 encoder (spandsp, bit exact): 16 kHz linear in, one octet per two samples at 64 kbit/s.

    ``sample_rate=8000`` takes narrowband audio (spandsp's interworking mode); 56/48 kbit/s pack codes.
    """

    cdef g722_encode_state_t *_state

    def __cinit__(self, int rate=64000, *, int sample_rate=16000):
        options = _g722_options(rate, sample_rate)
        self._state = g722_encode_init(NULL, rate, options)
        if self._state is NULL:
            _fail("G.722 encoder")

    def __dealloc__(self):
        if self._state is not NULL:
            g722_encode_free(self._state)
            self._state = NULL

    def encode(self, pcm):
        """G.722 octets for ``pcm`` (an even number of samples keeps the sub-band pairs aligned)."""
        cdef bytes data = _audio_bytes(pcm)
        cdef int n = PyBytes_GET_SIZE(data) >> 1
        cdef const int16_t *amp = <const int16_t *> PyBytes_AS_STRING(data)
        cdef bytes out = PyBytes_FromStringAndSize(NULL, n + 2)
        cdef uint8_t *codes = <uint8_t *> PyBytes_AS_STRING(out)
        cdef int produced = 0
        if n:
            with nogil:
                produced = g722_encode(self._state, codes, amp, n)
        return _trimmed(out, produced, n + 2)


cdef class G722Decoder:
    """ITU-T G.722 decoder (spandsp, bit exact): octets in, 16 kHz (or 8 kHz) linear audio out."""

    cdef g722_decode_state_t *_state

    def __cinit__(self, int rate=64000, *, int sample_rate=16000):
        options = _g722_options(rate, sample_rate)
        self._state = g722_decode_init(NULL, rate, options)
        if self._state is NULL:
            _fail("G.722 decoder")

    def __dealloc__(self):
        if self._state is not NULL:
            g722_decode_free(self._state)
            self._state = NULL

    def decode(self, data):
        """Linear audio for ``data``."""
        cdef bytes octets = data if type(data) is bytes else bytes(data)
        cdef int n = PyBytes_GET_SIZE(octets)
        cdef int capacity = 4 * n + 2
        cdef bytes out = PyBytes_FromStringAndSize(NULL, 2 * capacity)
        cdef int16_t *amp = <int16_t *> PyBytes_AS_STRING(out)
        cdef const uint8_t *codes = <const uint8_t *> PyBytes_AS_STRING(octets)
        cdef int produced = 0
        if n:
            with nogil:
                produced = g722_decode(self._state, amp, codes, n)
        return _trimmed(out, 2 * produced, 2 * capacity)


cdef class G726Encoder:
    """ITU-T G.726 ADPCM encoder (spandsp, bit exact) from 8 kHz linear audio."""

    cdef g726_state_t *_state

    def __cinit__(self, bit_rate=32000, packing=G726Packing.RFC3551):
        bit_rate, packing = _g726_args(bit_rate, packing)
        self._state = g726_init(NULL, bit_rate, 0, <int> packing)
        if self._state is NULL:
            _fail("G.726 encoder")

    def __dealloc__(self):
        if self._state is not NULL:
            g726_free(self._state)
            self._state = NULL

    def encode(self, pcm):
        """G.726 code words for ``pcm`` (packed unless ``G726Packing.NONE``)."""
        cdef bytes data = _audio_bytes(pcm)
        cdef int n = PyBytes_GET_SIZE(data) >> 1
        cdef const int16_t *amp = <const int16_t *> PyBytes_AS_STRING(data)
        cdef bytes out = PyBytes_FromStringAndSize(NULL, n + 2)
        cdef uint8_t *codes = <uint8_t *> PyBytes_AS_STRING(out)
        cdef int produced = 0
        if n:
            with nogil:
                produced = g726_encode(self._state, codes, amp, n)
        return _trimmed(out, produced, n + 2)


cdef class G726Decoder:
    """ITU-T G.726 ADPCM decoder (spandsp, bit exact) to 8 kHz linear audio."""

    cdef g726_state_t *_state

    def __cinit__(self, bit_rate=32000, packing=G726Packing.RFC3551):
        bit_rate, packing = _g726_args(bit_rate, packing)
        self._state = g726_init(NULL, bit_rate, 0, <int> packing)
        if self._state is NULL:
            _fail("G.726 decoder")

    def __dealloc__(self):
        if self._state is not NULL:
            g726_free(self._state)
            self._state = NULL

    def decode(self, data):
        """Linear audio for ``data``."""
        cdef bytes octets = data if type(data) is bytes else bytes(data)
        cdef int n = PyBytes_GET_SIZE(octets)
        cdef int capacity = 8 * n + 2
        cdef bytes out = PyBytes_FromStringAndSize(NULL, 2 * capacity)
        cdef int16_t *amp = <int16_t *> PyBytes_AS_STRING(out)
        cdef const uint8_t *codes = <const uint8_t *> PyBytes_AS_STRING(octets)
        cdef int produced = 0
        if n:
            with nogil:
                produced = g726_decode(self._state, amp, codes, n)
        return _trimmed(out, 2 * produced, 2 * capacity)


__all__ = [
    "Absence",
    "CallProgressDetector",
    "CallerIdDecoder",
    "CallerIdGenerator",
    "CallerIdMessage",
    "CallerIdStandard",
    "DtmfDetector",
    "DtmfEvent",
    "DtmfGenerator",
    "G722Decoder",
    "G722Encoder",
    "G726Decoder",
    "G726Encoder",
    "G726Packing",
    "MessageWaiting",
    "ModemTone",
    "ModemToneDetector",
    "ModemToneEvent",
    "ModemToneGenerator",
    "PacketLossConcealer",
    "SpandspError",
    "ToneCadence",
    "ToneEvent",
    "ToneGenerator",
]
