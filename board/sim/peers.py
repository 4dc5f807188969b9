"""The behaviour of the simulated world: the telephones on FXS ports and the central offices behind FXO ports.

:mod:`board.sim.world` is electrical state (a hook switch, a battery, a ring signal, audio queues); this
module makes it act like the real thing, driven from tests and from the console (``sim phone ...``,
``sim line ...``):

- a :class:`VirtualPhone` lifts and hangs up, dials by DTMF (spandsp ``dtmf_tx`` into its microphone) or by
  pulses (its hook switch broken 60 ms / made 40 ms per pulse, 10 pps, 700 ms between digits), flashes,
  measures the cadence of the ringing it sees, decodes on-hook caller ID and VMWI in any standard
  (Bell 202, V.23, DTMF, JCLIP: spandsp ``adsi_rx``), answers a call-waiting alert (CAS) with DTMF ``D`` and
  decodes the type II data that follows (GR-30-CORE), plays test tones, and says what it hears;
- a :class:`VirtualCentralOffice` rings its line with a cadence and sends caller ID before the first ring
  (after a line reversal, a dual-tone or a ring-pulse alert) or in the first silence, gives dial tone when
  the gateway seizes the line, collects the digits it dials (DTMF or pulses), answers (with a line reversal
  if asked), returns an echo of what it hears (a hybrid with a given return loss), and disconnects by
  removing the loop battery, by a line reversal or with busy tone.

Both run on the TDM clock: :meth:`SimPeers.before_exchange` (what the world says in the next 20 ms, hook
switches) and :meth:`SimPeers.after_exchange` (what it heard).  Everything country-specific (cadences, the
caller-ID standard, tones as :class:`ToneSource` factories) is passed in by whoever builds the world, so
nothing here imports ``core`` or ``drivers``.
"""

from __future__ import annotations

import enum
import math
from array import array
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

from board.sim.world import CentralOfficeLine, Phone, World
from cython_media import spandsp
from cython_media.deferred import DeferredDetector
from cython_media.spandsp import (
    CallerIdMessage,
    CallerIdStandard,
    MessageWaiting,
    SpandspError,
    ToneCadence,
)

SAMPLE_RATE = 8000
TICK_SAMPLES = 160
HISTORY_SAMPLES = 8000 * 2          # what a peer keeps of what it heard, for "status"
RELEASE_S = 0.9                      # the exchange takes an open loop this long in a call as a release
CALL_AFTER_S = 1.5                   # no digit for this long: the number is complete
ZERO_DBM0_RMS = 32767 / math.sqrt(2) / 10 ** (3.17 / 20)   # G.711: 0 dBm0 sine, 3.17 dB below overload
ToneSource = Callable[[int], bytes]  # n samples of a tone, 16-bit linear
ToneFactory = Callable[[str], ToneSource]



class _History:
    """The last :data:`HISTORY_SAMPLES` samples a peer heard, kept as 16-bit samples (an idle board's
    peers hold them all the time: a deque of Python ints would cost ten times the memory)."""

    __slots__ = ("_samples",)

    def __init__(self) -> None:
        self._samples: array[int] = array("h")

    def extend(self, samples: array[int]) -> None:
        kept = self._samples
        kept.extend(samples)
        if len(kept) > HISTORY_SAMPLES:
            del kept[:len(kept) - HISTORY_SAMPLES]

    def last(self, count: int) -> array[int]:
        """The last ``count`` samples (all of them for 0, as a ``[-0:]`` slice)."""
        kept = self._samples
        return kept[-count:] if count > 0 else kept[:]

class PeerError(Exception):
    """A simulated phone or line was asked to do something it cannot (dial while on hook...)."""


# ------------------------------------------------------------------------------------------ analysis


@dataclass(frozen=True, slots=True)
class Hearing:
    """What a peer hears: ``level_dbm0`` of the last 200 ms, its strongest ``frequencies`` and a ``name``
    when they are one of the known tones (or "silence")."""

    level_dbm0: float
    frequencies: tuple[int, ...]
    name: str = ""

    def __str__(self) -> str:
        if not self.frequencies:
            return "silence"
        tone = "+".join(str(f) for f in self.frequencies) + " Hz"
        text = f"{tone} at {self.level_dbm0:.1f} dBm0"
        return f"{self.name} ({text})" if self.name else text


def _goertzel(samples: Sequence[float], frequency: float) -> float:
    coefficient = 2 * math.cos(2 * math.pi * frequency / SAMPLE_RATE)
    s1 = s2 = 0.0
    for x in samples:
        s0 = x + coefficient * s1 - s2
        s2, s1 = s1, s0
    return s1 * s1 + s2 * s2 - coefficient * s1 * s2


def analyse(samples: Sequence[int], known: Mapping[str, tuple[int, ...]] | None = None) -> Hearing:
    """Level and main frequencies of 16-bit linear audio at 8 kHz (a coarse Goertzel sweep refined around
    its peaks), named after a ``known`` tone whose frequencies all match within 15 Hz."""
    if not samples:
        return Hearing(-99.0, ())
    rms = math.sqrt(sum(s * s for s in samples) / len(samples))
    level = 20 * math.log10(rms / ZERO_DBM0_RMS) if rms > 0 else -99.0
    if level < -45:
        return Hearing(round(level, 1), (), "silence")
    # 100 ms under a Hann window: main lobe +-20 Hz (440 and 480 Hz, 40 Hz apart, stay two peaks), side
    # lobes 31 dB down (a single tone never shows a second peak); a 10 Hz sweep, then 1 Hz around each peak.
    tail = samples[-800:]
    count = len(tail)
    window = [x * (0.5 - 0.5 * math.cos(2 * math.pi * n / count)) for n, x in enumerate(tail)]
    coarse = {f: _goertzel(window, f) for f in range(200, 3800, 10)}
    ranked = sorted(coarse, key=lambda f: coarse[f], reverse=True)
    peaks: list[int] = []
    top = coarse[ranked[0]]
    for f in ranked:
        if coarse[f] < top * 0.1 or len(peaks) == 2:
            break
        if all(abs(f - p) > 25 for p in peaks):
            peaks.append(f)
    refined = []
    for peak in peaks:
        fine = {f: _goertzel(window, f) for f in range(peak - 8, peak + 9)}
        refined.append(max(fine, key=lambda f: fine[f]))
    frequencies = tuple(sorted(refined))
    name = ""
    for tone, expected in (known or {}).items():
        if len(expected) == len(frequencies) and all(abs(a - b) <= 15 for a, b in zip(sorted(expected), frequencies,
                                                                                       strict=True)):
            name = tone
            break
    return Hearing(round(level, 1), frequencies, name)


def sine(frequency: float, seconds: float, level_dbm0: float = -10.0, *, phase: float = 0.0) -> array[int]:
    """A test tone: ``seconds`` of a sine at ``level_dbm0``."""
    amplitude = ZERO_DBM0_RMS * math.sqrt(2) * 10 ** (level_dbm0 / 20)
    count = round(seconds * SAMPLE_RATE)
    step = 2 * math.pi * frequency / SAMPLE_RATE
    return array("h", (round(amplitude * math.sin(phase + step * n)) for n in range(count)))


class _Stream:
    """Audio a peer sends, moved into the world exactly one tick at a time (what was not taken is dropped,
    so that a signal keeps its timing whether the other side listens or not)."""

    def __init__(self) -> None:
        self.queue: deque[int] = deque()
        self.source: ToneSource | None = None

    def add(self, samples: Sequence[int]) -> None:
        self.queue.extend(samples)

    def clear(self) -> None:
        self.queue.clear()
        self.source = None

    def next_tick(self) -> array[int]:
        out = array("h", bytes(2 * TICK_SAMPLES))
        queued = min(TICK_SAMPLES, len(self.queue))
        for i in range(queued):
            out[i] = self.queue.popleft()
        if self.source is not None and queued < TICK_SAMPLES:
            tone = array("h")
            tone.frombytes(self.source(TICK_SAMPLES - queued))
            out[queued:] = tone
        return out


def _pcm(data: bytes) -> array[int]:
    samples = array("h")
    samples.frombytes(data)
    return samples


def _dtmf_audio(digits: str, on_ms: int, off_ms: int, level_dbm0: int = -8) -> array[int]:
    generator = spandsp.DtmfGenerator(level_dbm0=level_dbm0, on_ms=on_ms, off_ms=off_ms)
    generator.queue(digits)
    out = array("h")
    while not generator.idle:
        out.extend(_pcm(generator.generate(TICK_SAMPLES)))
    return out


def _caller_id_decoder(standard: CallerIdStandard) -> spandsp.CallerIdDecoder:
    return spandsp.CallerIdDecoder(standard)


class _CallerIdReceiver:
    """Decoders for every on-hook standard at once (a multi-standard phone, as most sold in Europe)."""

    def __init__(self, standards: Sequence[CallerIdStandard]) -> None:
        # Each made with the first signal heard (cython_media.deferred): an idle phone loads no DSP.
        self.decoders = [(s, DeferredDetector(partial(_caller_id_decoder, s))) for s in standards]

    def feed(self, frame: bytes) -> list[tuple[CallerIdStandard, CallerIdMessage | MessageWaiting]]:
        found = []
        for standard, decoder in self.decoders:
            for message in decoder.feed(frame):
                found.append((standard, message))
        return found


@dataclass(slots=True)
class _RingMeter:
    """Ring edges seen at tick resolution: on/off durations in ms."""

    ringing: bool = False
    since: float = 0.0
    rings: int = 0
    cadence: list[int] = field(default_factory=list)

    def sample(self, ringing: bool, now: float) -> None:
        if ringing == self.ringing:
            return
        if self.rings or not ringing:
            self.cadence.append(round((now - self.since) * 1000))
        if ringing:
            self.rings += 1
        self.ringing = ringing
        self.since = now

    def reset(self) -> None:
        self.ringing = False
        self.rings = 0
        self.cadence.clear()


# --------------------------------------------------------------------------------------------- phone


class VirtualPhone:
    """The behaviour of the telephone on an FXS port (see the module docstring).

    ``known_tones`` names the tones it may hear ({"dial": (350, 440), ...}) for :meth:`hearing`.
    """

    def __init__(self, number: int, phone: Phone, *, known_tones: Mapping[str, tuple[int, ...]] | None = None,
                 callerid_standards: Sequence[CallerIdStandard] = tuple(CallerIdStandard),
                 type2: bool = True, pulse_break_ms: int = 60, pulse_make_ms: int = 40,
                 pulse_interdigit_ms: int = 700, dtmf_on_ms: int = 80, dtmf_off_ms: int = 80,
                 flash_ms: int = 100) -> None:
        self.number = number
        self.phone = phone
        self.known_tones = dict(known_tones or {})
        self.type2 = type2
        self.pulse_break_ms = pulse_break_ms
        self.pulse_make_ms = pulse_make_ms
        self.pulse_interdigit_ms = pulse_interdigit_ms
        self.dtmf_on_ms = dtmf_on_ms
        self.dtmf_off_ms = dtmf_off_ms
        self.flash_ms = flash_ms
        self._mic = _Stream()
        self._hook_plan: deque[tuple[float, bool]] = deque()   # (at, off_hook)
        self._cid = _CallerIdReceiver(callerid_standards)
        self._type2_rx = _CallerIdReceiver([CallerIdStandard.BELL202, CallerIdStandard.V23])
        cas = ToneCadence("cas", (2130, 2750), min_continuous_ms=50)
        self._cas = DeferredDetector(lambda: spandsp.CallProgressDetector([cas]))
        self._dtmf = DeferredDetector(lambda: spandsp.DtmfDetector())
        self._heard = _History()
        self._now = 0.0
        self.ring = _RingMeter()
        self.caller_id: CallerIdMessage | None = None
        self.caller_id_standard: CallerIdStandard | None = None
        self._caller_id_at = -10.0
        self.caller_ids: list[CallerIdMessage] = []
        self.waiting_caller_id: CallerIdMessage | None = None
        self.message_waiting: MessageWaiting | None = None
        self.digits_heard = ""
        self.cas_heard = 0

    # -- actions -----------------------------------------------------------------------------------------

    @property
    def off_hook(self) -> bool:
        """The hook switch."""
        return self.phone.off_hook

    def lift(self) -> None:
        """Go off hook now."""
        self._hook_plan.clear()
        self.phone.lift()

    def hang_up(self) -> None:
        """Go on hook now (and forget any dialling in progress)."""
        self._hook_plan.clear()
        self._mic.clear()
        self.phone.hang_up()

    def dial(self, digits: str, *, pulse: bool = False) -> float:
        """Dial ``digits`` by DTMF or by pulses (digits only); returns how long it takes, in seconds."""
        if not self.phone.off_hook:
            raise PeerError(f"phone {self.number} is on hook: lift it before dialling")
        if not pulse:
            try:
                audio = _dtmf_audio(digits, self.dtmf_on_ms, self.dtmf_off_ms)
            except SpandspError as exc:
                raise PeerError(str(exc)) from None
            self._mic.add(audio)
            return len(audio) / SAMPLE_RATE
        if not digits.isdigit():
            raise PeerError(f"a rotary dial has only digits: {digits!r}")
        at = max([self._now] + [t for t, _ in self._hook_plan])
        for digit in digits:
            for _ in range(int(digit) or 10):
                self._hook_plan.append((at, False))
                at += self.pulse_break_ms / 1000
                self._hook_plan.append((at, True))
                at += self.pulse_make_ms / 1000
            at += self.pulse_interdigit_ms / 1000
        return at - self._now

    def flash(self, duration_ms: int | None = None) -> None:
        """Hook flash: on hook for ``duration_ms`` (default: the phone's own flash time, e.g. a US phone's
        flash key gives 600-750 ms, a European one 100 ms)."""
        duration_ms = self.flash_ms if duration_ms is None else duration_ms
        if not self.phone.off_hook:
            raise PeerError(f"phone {self.number} is on hook: nothing to flash")
        self._hook_plan.append((self._now, False))
        self._hook_plan.append((self._now + duration_ms / 1000, True))

    def play_tone(self, frequency: float, seconds: float = 2.0, level_dbm0: float = -10.0) -> None:
        """Speak a test tone into the microphone."""
        self._mic.add(sine(frequency, seconds, level_dbm0))

    def speak(self, samples: Sequence[int]) -> None:
        """Speak arbitrary audio into the microphone."""
        self._mic.add(samples)

    @property
    def busy_dialling(self) -> bool:
        """True while digits or a tone are still being sent."""
        return bool(self._hook_plan) or bool(self._mic.queue)

    # -- the clock ---------------------------------------------------------------------------------------

    def before_exchange(self, now: float) -> None:
        """Hook switch changes due by ``now``; the next 20 ms of microphone audio."""
        self._now = now
        while self._hook_plan and self._hook_plan[0][0] <= now + 1e-9:
            _, off = self._hook_plan.popleft()
            self.phone.off_hook = off
        audio = self.phone.audio
        audio.take(audio.pending)
        audio.speak(self._mic.next_tick())

    def after_exchange(self, now: float) -> None:
        """What the phone heard in the last 20 ms: ringing, caller ID, tones, digits."""
        self._now = now
        self.ring.sample(self.phone.ringing, now)
        heard = self.phone.audio.take_heard()
        if not heard:
            return
        frame = heard.tobytes()
        self._heard.extend(heard)
        if not self.phone.off_hook:
            for standard, message in self._cid.feed(frame):
                if isinstance(message, MessageWaiting):
                    self.message_waiting = message
                elif message == self.caller_id and now - self._caller_id_at < 2.0:
                    continue  # the same burst decoded by a second demodulator (V.23 also hears Bell 202)
                else:
                    self.caller_id, self.caller_id_standard = message, standard
                    self._caller_id_at = now
                    self.caller_ids.append(message)
            return
        for digit in self._dtmf.feed(frame):
            if digit.ended:
                self.digits_heard += digit.digit
        for event in self._cas.feed(frame):
            if event.detected:
                self.cas_heard += 1
                if self.type2:
                    # GR-30: a non-ADSI CPE acknowledges the CAS with DTMF "D" within 100 ms.
                    self._mic.add(_dtmf_audio("D", 60, 20))
        if self.type2:
            for _standard, message in self._type2_rx.feed(frame):
                if isinstance(message, CallerIdMessage):
                    self.waiting_caller_id = message

    # -- status ------------------------------------------------------------------------------------------

    def hearing(self, seconds: float = 0.2) -> Hearing:
        """What the phone's earpiece gives now."""
        samples = self._heard.last(round(seconds * SAMPLE_RATE))
        return analyse(samples, self.known_tones)

    def heard_audio(self, seconds: float) -> array[int]:
        """The last ``seconds`` the phone heard (up to 2 s)."""
        return self._heard.last(round(seconds * SAMPLE_RATE))

    def forget(self) -> None:
        """Clear what was measured and decoded (before a new scenario)."""
        self.ring.reset()
        self.caller_id = None
        self.caller_id_standard = None
        self.caller_ids.clear()
        self.waiting_caller_id = None
        self.digits_heard = ""
        self.cas_heard = 0

    def status(self) -> str:
        """The console's ``sim phone N status``."""
        cadence = "/".join(str(ms) for ms in self.ring.cadence[-4:]) or "-"
        lines = [f"phone {self.number}: {'off hook' if self.phone.off_hook else 'on hook'}",
                 f"ringing: {'yes' if self.phone.ringing else 'no'}; rings {self.ring.rings}; cadence {cadence} ms"]
        cid = self.caller_id
        if cid is None:
            lines.append("caller id: -")
        else:
            standard = self.caller_id_standard.name.lower() if self.caller_id_standard is not None else ""
            shown = cid.number or (cid.number_absence.name.lower() if cid.number_absence else "")
            name = f' "{cid.name}"' if cid.name else ""
            lines.append(f"caller id: {shown}{name} ({standard})")
        if self.waiting_caller_id is not None:
            lines.append(f"waiting caller id: {self.waiting_caller_id.number or '-'}")
        mwi = self.message_waiting
        lines.append("message waiting: " + ("-" if mwi is None else ("on" if mwi.active else "off")
                                            + (f" ({mwi.count})" if mwi.count is not None else "")))
        lines.append(f"hearing: {self.hearing()}")
        lines.append(f"digits heard: {self.digits_heard or '-'}")
        return "\n".join(lines)


# ------------------------------------------------------------------------------------ central office


class LineState(enum.Enum):
    """What the simulated exchange is doing with its line."""

    IDLE = "idle"
    RINGING = "ringing"
    DIALTONE = "dial tone"
    COLLECTING = "collecting digits"
    CALLED = "called"            # digits received, the far party not answered yet
    CONNECTED = "connected"
    DISCONNECTING = "disconnecting"


@dataclass(frozen=True, slots=True)
class CentralOfficeSignals:
    """How the simulated exchange rings and sends caller ID (a country's conventions, passed in).

    ``callerid_start`` is ``"before_ring"`` or ``"after_first_ring"``; ``callerid_alert`` ``"none"``,
    ``"polarity"``, ``"dtas"`` or ``"rpas"``; times in ms.
    """

    ring_cadence_ms: tuple[int, ...] = (2000, 4000)
    callerid: CallerIdStandard | None = CallerIdStandard.BELL202
    callerid_start: str = "after_first_ring"
    callerid_alert: str = "none"
    callerid_delay_ms: int = 500
    callerid_ring_gap_ms: int = 300


class VirtualCentralOffice:
    """The behaviour of the exchange behind an FXO port (see the module docstring).

    ``off_hook()`` tells whether the FXO port holds the loop (the DAA model knows); ``tones`` makes the
    exchange's tones by name (``dial``, ``busy``, ``ring``).
    """

    def __init__(self, number: int, line: CentralOfficeLine, off_hook: Callable[[], bool], *,
                 signals: CentralOfficeSignals | None = None, tones: ToneFactory | None = None,
                 known_tones: Mapping[str, tuple[int, ...]] | None = None, echo_return_loss_db: float | None = None,
                 pulse_digit_timeout_ms: int = 300, ring_timeout_s: float = 120.0) -> None:
        self.number = number
        self.line = line
        self.loop_closed = off_hook
        self.signals = signals or CentralOfficeSignals()
        self.tones = tones
        self.known_tones = dict(known_tones or {})
        self.echo_return_loss_db = echo_return_loss_db
        self.pulse_digit_timeout_ms = pulse_digit_timeout_ms
        self.ring_timeout_s = ring_timeout_s
        self.state = LineState.IDLE
        self.reverse_on_answer = False
        self.hangup_method = "battery"   # how this exchange signals a far-end hang-up (the country's way)
        self.digits = ""
        self._out = _Stream()
        self._plan: deque[tuple[str, int, object]] = deque()    # (kind, ms, argument)
        self._plan_until: float | None = None
        self._ring_since = 0.0
        self._was_closed = False
        self._break_at: float | None = None
        self._make_at: float | None = None
        self._pulses = 0
        self._dtmf = DeferredDetector(lambda: spandsp.DtmfDetector())
        self._heard = _History()
        self._echo: array[int] | None = None
        self._now = 0.0
        self._restore_battery_at: float | None = None
        self._reversed_for_call = False
        self._last_digit_at = 0.0
        self.flashes = 0
        self.caller: CallerIdMessage | None = None
        self.answered_at: float | None = None
        self.rings = 0

    # -- actions -----------------------------------------------------------------------------------------

    def ring(self, number: str | None = None, name: str | None = None) -> None:
        """An incoming call for the gateway: ring with the cadence, caller ID per the signals."""
        if self.state is not LineState.IDLE:
            raise PeerError(f"line {self.number} is {self.state.value}")
        s = self.signals
        self.caller = CallerIdMessage(number=number, name=name) if number else None
        self.state = LineState.RINGING
        self.rings = 0
        self._ring_since = self._now
        plan: deque[tuple[str, int, object]] = deque()
        cadence = list(s.ring_cadence_ms)
        data = self._callerid_audio() if self.caller is not None and s.callerid is not None else None
        if data is not None and s.callerid_start == "before_ring":
            if s.callerid_alert in ("polarity", "dtas"):
                plan.append(("reverse", 100, None))
            if s.callerid_alert == "dtas":
                plan.append(("audio", 100, _dtas()))
            if s.callerid_alert == "rpas":
                plan.append(("ring_on", 250, None))
                plan.append(("ring_off", 0, None))
            plan.append(("wait", s.callerid_delay_ms, None))
            plan.append(("audio", round(len(data) / 8), data))
            if s.callerid_alert in ("polarity", "dtas"):
                plan.append(("reverse", 0, None))
            plan.append(("wait", s.callerid_ring_gap_ms, None))
            data = None
        for index in range(0, len(cadence), 2):
            plan.append(("ring_on", cadence[index], None))
            off = cadence[index + 1]
            if data is not None and off >= 1000:
                plan.append(("ring_off", s.callerid_delay_ms, None))
                plan.append(("audio", off - s.callerid_delay_ms, data))
                data = None
            else:
                plan.append(("ring_off", off, None))
        self._plan = plan
        self._plan_until = self._now

    def _callerid_audio(self) -> array[int] | None:
        standard = self.signals.callerid
        caller = self.caller
        if standard is None or caller is None:
            return None
        message = caller
        if standard in (CallerIdStandard.DTMF, CallerIdStandard.V23_JP):
            message = CallerIdMessage(number=caller.number)
        generator = spandsp.CallerIdGenerator(standard)
        generator.send(message)
        out = array("h")
        while not generator.done:
            out.extend(_pcm(generator.generate(TICK_SAMPLES)))
        return out

    def stop_ringing(self) -> None:
        """The caller gave up."""
        if self.state is LineState.RINGING:
            self._end_call()

    def answer(self) -> None:
        """The called party answers a call the gateway made (``reverse_on_answer``: with a line reversal)."""
        if self.state not in (LineState.CALLED, LineState.COLLECTING):
            raise PeerError(f"line {self.number}: nobody to answer ({self.state.value})")
        self._out.clear()
        self.state = LineState.CONNECTED
        self.answered_at = self._now
        if self.reverse_on_answer:
            self.line.reverse_polarity()
            self._reversed_for_call = True

    def reverse(self) -> None:
        """A line reversal now."""
        self.line.reverse_polarity()
        self._reversed_for_call = not self._reversed_for_call

    def disconnect(self, method: str = "battery") -> None:
        """The far end hangs up: ``battery`` (loop battery removed 1 s, CPC), ``polarity`` (a reversal) or
        ``busy`` (busy tone until the gateway releases the line)."""
        self._out.clear()
        self._plan.clear()
        self._plan_until = None
        if self.line.ringing:
            self.line.stop_ringing()
        if method == "battery":
            self.line.remove_battery()
            self._restore_battery_at = self._now + 1.0
        elif method == "polarity":
            self.reverse()
        elif method == "busy":
            self._play("busy")
        else:
            raise PeerError(f"no disconnect method {method!r} (battery, polarity, busy)")
        self.state = LineState.DISCONNECTING

    def play_tone(self, frequency: float, seconds: float = 2.0, level_dbm0: float = -10.0) -> None:
        """The far party speaks a test tone."""
        self._out.add(sine(frequency, seconds, level_dbm0))

    def speak(self, samples: Sequence[int]) -> None:
        """The far party speaks."""
        self._out.add(samples)

    def _play(self, tone: str) -> None:
        if self.tones is None:
            return
        self._out.source = self.tones(tone)

    # -- the clock ---------------------------------------------------------------------------------------

    def before_exchange(self, now: float) -> None:
        """Ringing and signalling due by ``now``; the next 20 ms the exchange sends."""
        self._now = now
        if self._restore_battery_at is not None and now >= self._restore_battery_at:
            self._restore_battery_at = None
            self.line.restore_battery()
        self._run_plan(now)
        frame = self._out.next_tick()
        if self._echo is not None and self.echo_return_loss_db is not None:
            gain = 10 ** (-self.echo_return_loss_db / 20)
            for i, value in enumerate(self._echo[:TICK_SAMPLES]):
                frame[i] = max(-32768, min(32767, frame[i] + round(value * gain)))
        audio = self.line.audio
        audio.take(audio.pending)
        audio.speak(frame)

    def _run_plan(self, now: float) -> None:
        while self._plan_until is not None and now + 1e-9 >= self._plan_until:
            if not self._plan:
                if self.state is LineState.RINGING:
                    cadence = self.signals.ring_cadence_ms
                    for index in range(0, len(cadence), 2):
                        self._plan.append(("ring_on", cadence[index], None))
                        self._plan.append(("ring_off", cadence[index + 1], None))
                else:
                    self._plan_until = None
                    return
            kind, ms, argument = self._plan.popleft()
            at = self._plan_until
            self._plan_until = at + ms / 1000
            if kind == "ring_on":
                self.rings += 1
                self.line.start_ringing(at)
            elif kind == "ring_off":
                self.line.stop_ringing()
            elif kind == "reverse":
                self.line.reverse_polarity()
            elif kind == "audio" and isinstance(argument, array):
                self._out.add(argument)

    def after_exchange(self, now: float) -> None:
        """The line's state seen from the exchange: the FXO's loop, dialled digits, what it heard."""
        self._now = now
        closed = self.loop_closed()
        heard = self.line.audio.take_heard()
        self._echo = heard if len(heard) else None
        if len(heard):
            self._heard.extend(heard)
        if closed != self._was_closed:
            self._loop_changed(closed, now)
            self._was_closed = closed
        state = self.state
        if state is LineState.RINGING and now - self._ring_since > self.ring_timeout_s:
            self._end_call()
        elif not closed and self._break_at is not None and state is not LineState.RINGING:
            # Open longer than a pulse (dialling) or a flash (in a call): the gateway released the line.
            limit = 0.3 if state in (LineState.DIALTONE, LineState.COLLECTING) else RELEASE_S
            if now - self._break_at >= limit:
                self._break_at = None
                self._end_call()
        if closed and state in (LineState.DIALTONE, LineState.COLLECTING) and len(heard):
            for event in self._dtmf.feed(heard.tobytes()):
                if event.ended:
                    self._digit(event.digit, now)
        if (self._pulses and closed and self._make_at is not None
                and (now - self._make_at) * 1000 >= self.pulse_digit_timeout_ms):
            count, self._pulses = self._pulses, 0
            self._digit(str(count % 10), now)
        if state is LineState.COLLECTING and now - self._last_digit_at >= CALL_AFTER_S and not self._pulses:
            self.state = LineState.CALLED  # the number is complete: the far party's phone rings
            self._play("ring")

    def _loop_changed(self, closed: bool, now: float) -> None:
        if not closed:
            self._break_at = now
            return
        brk, self._break_at = self._break_at, None
        if brk is not None and self.state in (LineState.DIALTONE, LineState.COLLECTING):
            if 10 <= (now - brk) * 1000 <= 200:
                self._pulses += 1
                self._make_at = now
            return
        if self.state is LineState.RINGING:
            self._plan.clear()
            self._plan_until = None
            self.line.stop_ringing()
            self._out.clear()
            self.state = LineState.CONNECTED
            self.answered_at = now
        elif self.state is LineState.IDLE:
            self.state = LineState.DIALTONE
            self.digits = ""
            self._play("dial")
        elif brk is not None:
            self.flashes += 1

    def _digit(self, digit: str, now: float) -> None:
        if self.state is LineState.DIALTONE:
            self._out.clear()
            self.state = LineState.COLLECTING
        if self.state is LineState.COLLECTING:
            self.digits += digit
            self._last_digit_at = now

    def _end_call(self) -> None:
        self._plan.clear()
        self._plan_until = None
        if self.line.ringing:
            self.line.stop_ringing()
        self._out.clear()
        if self._reversed_for_call:
            self.line.reverse_polarity()
            self._reversed_for_call = False
        if self._restore_battery_at is not None or not self.line.battery_present:
            self._restore_battery_at = None
            self.line.restore_battery()
        self.state = LineState.IDLE
        self.caller = None
        self._pulses = 0

    # -- status ------------------------------------------------------------------------------------------

    def hearing(self, seconds: float = 0.2) -> Hearing:
        """What the exchange hears from the gateway now."""
        samples = self._heard.last(round(seconds * SAMPLE_RATE))
        return analyse(samples, self.known_tones)

    def status(self) -> str:
        """The console's ``sim line N status``."""
        line = self.line
        polarity = "reversed" if line.polarity < 0 else "normal"
        battery = f"{line.battery_v:.0f} V" if line.battery_present else "removed"
        lines = [f"line {self.number}: {self.state.value}",
                 f"loop: {'closed' if self.loop_closed() else 'open'}; battery {battery}; polarity {polarity}; "
                 f"ringing {'yes' if line.ringing else 'no'} (rings {self.rings})",
                 f"digits dialled: {self.digits or '-'}",
                 f"hearing: {self.hearing()}"]
        return "\n".join(lines)


def _dtas() -> array[int]:
    """The dual-tone alerting signal, 2130 + 2750 Hz for 100 ms at -16 dBm0 per tone (EN 300 659-1)."""
    a, b = sine(2130, 0.1, -16.0), sine(2750, 0.1, -16.0)
    return array("h", (x + y for x, y in zip(a, b, strict=True)))


# ------------------------------------------------------------------------------------------- the world


class SimPeers:
    """Every phone and line of a simulated board, stepped by the TDM clock."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.phones: dict[int, VirtualPhone] = {}
        self.lines: dict[int, VirtualCentralOffice] = {}

    def add_phone(self, phone: VirtualPhone) -> VirtualPhone:
        """Add a phone."""
        self.phones[phone.number] = phone
        return phone

    def add_line(self, line: VirtualCentralOffice) -> VirtualCentralOffice:
        """Add a line."""
        self.lines[line.number] = line
        return line

    def phone(self, number: int) -> VirtualPhone:
        """The phone on FXS port ``number``."""
        try:
            return self.phones[number]
        except KeyError:
            raise PeerError(f"no simulated phone on port {number} (phones: "
                            f"{', '.join(str(n) for n in sorted(self.phones)) or 'none'})") from None

    def line(self, number: int) -> VirtualCentralOffice:
        """The line on FXO port ``number``."""
        try:
            return self.lines[number]
        except KeyError:
            raise PeerError(f"no simulated line on port {number} (lines: "
                            f"{', '.join(str(n) for n in sorted(self.lines)) or 'none'})") from None

    def before_exchange(self, now: float) -> None:
        """TDM clock hook: what the world sends in the next 20 ms."""
        for phone in self.phones.values():
            phone.before_exchange(now)
        for line in self.lines.values():
            line.before_exchange(now)

    def after_exchange(self, now: float) -> None:
        """TDM clock hook: what the world heard."""
        for phone in self.phones.values():
            phone.after_exchange(now)
        for line in self.lines.values():
            line.after_exchange(now)


__all__ = [
    "CentralOfficeSignals",
    "Hearing",
    "LineState",
    "PeerError",
    "SimPeers",
    "ToneFactory",
    "ToneSource",
    "VirtualCentralOffice",
    "VirtualPhone",
    "analyse",
    "sine",
]
