"""FXO line logic: a telephone line (or a PBX extension) seen from the gateway, as a sans-IO state machine.

:class:`FxoLine` is fed the Si3050's supervision events (ring started/stopped, polarity, battery), the caller
ID decoded from the on-hook audio, tones recognised in the line's audio (dial tone, the disconnect tone),
the loop current while off hook, and the time.  It answers with actions for its shell (seize, release,
send digits) and call events for the PBX (an incoming call with its caller ID, the far end answered, the
far end hung up).

Behaviour follows DAHDI/chan_dahdi on FXO ports and the field complaints in hardware.md §5.2-§5.4:

- ringing is counted and its cadence measured (the driver's debounce delays taken out); caller ID is
  captured before the first ring (ETSI, after a line reversal or an alert) or between the first and the
  second ring (Bell 202); the call is offered to the dialplan as soon as the caller ID is in, at the second
  ring at the latest (``immediate``: at the first), and withdrawn when the ringing stops for
  ``ring_timeout_s`` (chan_dahdi ``ringtimeout`` 8 s);
- outgoing calls seize the line, wait for dial tone (or not), dial by DTMF or by pulses (break/make and
  inter-digit pause of the country; ``w`` waits 0.5 s) and are answered at once (Asterisk's behaviour) or
  on a line reversal where the line gives one (``answeronpolarityswitch``);
- disconnect supervision: battery removal (kewlstart/CPC), loop current drop of ``loop_drop_ms`` after the
  650 ms safe zone (XPP power denial), a line reversal after answer (``hanguponpolarityswitch``; on an
  outgoing call only once the answer was signalled by a reversal, so that an answer reversal is never taken
  for a hang-up), and the busy/disconnect tone with its cadence (``busydetect``/``busypattern``/``busycount``);
- hook flash of the country's length.

:class:`CadenceToneDetector` recognises the disconnect tone (spandsp ``super_tone_rx`` finds the tone's
edges; the cadence is matched here so that a call clears within one on/off period of the tone).
"""

from __future__ import annotations

import enum
import itertools
from collections import deque
from dataclasses import dataclass, field

from core.tones import parse_tone_list
from cython_media import spandsp
from cython_media.deferred import DeferredDetector
from cython_media.spandsp import CallerIdMessage, ToneCadence
from drivers.fxs_fxo.countries import CountryProfile, Disconnect

DTMF_DIAL_ON_MS = 100     # DTMF digits toward the exchange (Q.24 allows >= 40 ms; exchanges like 70-100)
DTMF_DIAL_OFF_MS = 100
PAUSE_MS = 500            # ``w`` in a dial string
CALLERID_VALID_S = 10.0   # caller ID decoded this long before the first ring still belongs to the call


class FxoState(enum.Enum):
    """Where the line is."""

    IDLE = "idle"
    RINGING = "ringing"       # the exchange rings us; caller ID may still come
    OFFERED = "offered"       # the call is in the dialplan, not answered yet
    SEIZED = "seized"         # off hook, waiting for dial tone
    DIALING = "dialing"
    CALLING = "calling"       # dialled, waiting for the answer
    TALKING = "talking"


# ---------------------------------------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class Seize:
    """Go off hook."""


@dataclass(frozen=True, slots=True)
class Release:
    """Go on hook."""


@dataclass(frozen=True, slots=True)
class SendDigits:
    """Play DTMF ``digits`` toward the exchange; report the end with :meth:`FxoLine.digits_sent`."""

    digits: str
    on_ms: int = DTMF_DIAL_ON_MS
    off_ms: int = DTMF_DIAL_OFF_MS


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """The exchange is calling: start call ``call`` in the dialplan with ``caller`` (None: no caller ID)."""

    call: int
    caller: CallerIdMessage | None
    cadence_ms: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class IncomingCancelled:
    """The caller gave up before the call was answered."""

    call: int


@dataclass(frozen=True, slots=True)
class RemoteAnswered:
    """The far end answered call ``call`` (at once after dialling, or on the line's answer reversal)."""

    call: int


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The far end hung up call ``call``; ``how`` says what showed it."""

    call: int
    how: Disconnect


FxoAction = Seize | Release | SendDigits | IncomingCall | IncomingCancelled | RemoteAnswered | Disconnected


@dataclass(frozen=True, slots=True)
class FxoOptions:
    """Per-port behaviour of an FXO line (country data comes from ``profile``).

    ``ring_on_delay_s``/``ring_off_delay_s`` are how late the driver reports ring edges (its debounce), taken
    out of the measured cadence.
    """

    profile: CountryProfile
    immediate: bool = False
    callerid: bool = True
    dial_mode: str = "dtmf"                 # or "pulse"
    wait_for_dialtone: bool = True
    dialtone_timeout_s: float = 3.0         # then dial anyway
    dial_delay_s: float = 0.3               # without waiting for dial tone
    answer_on_polarity: bool | None = None  # None: the country's default
    ring_timeout_s: float = 8.0
    safe_zone_s: float = 0.65               # XPP: no power-denial check this long after going off hook
    loop_drop_ms: int = 100                 # loop current gone this long = far-end disconnect
    loop_threshold_ma: float = 3.0
    ring_on_delay_s: float = 0.064
    ring_off_delay_s: float = 0.256


# ----------------------------------------------------------------------------------- tone detection


@dataclass(frozen=True, slots=True)
class ToneShape:
    """The first tone burst of a tone list: frequencies and on/off times (off 0: continuous)."""

    frequencies: tuple[int, ...]
    on_ms: int
    off_ms: int

    @classmethod
    def of(cls, tone_list: str) -> ToneShape:
        """The shape of ``tone_list`` (Asterisk syntax)."""
        plan = parse_tone_list(tone_list)
        parts = plan.parts
        for index, part in enumerate(parts):
            if part.freq1:
                frequencies = (part.freq1,) if part.modulate or not part.freq2 else (part.freq1, part.freq2)
                following = parts[index + 1] if index + 1 < len(parts) else None
                off = following.duration_ms if following is not None and not following.freq1 else 0
                return cls(frequencies, part.duration_ms, off)
        raise ValueError(f"tone list {tone_list!r} has no tone in it")


class CadenceToneDetector:
    """Recognises a cadenced tone (busy, disconnect) in 20 ms frames of the line's audio.

    spandsp's ``super_tone_rx`` reports when the tone's frequencies have been present for a minimum time
    and when they stop (:class:`~cython_media.spandsp.CallProgressDetector` with a continuous tone); the on
    time is measured from those edges (its detection lags, about 30 ms in and 45 ms out, are taken out)
    and must match within ``tolerance``; the tone counts once the following silence has lasted half the
    off time (so that a 500/500 busy tone clears a call within a second), and is reported after ``count``
    such cycles.  A continuous tone (``off_ms`` 0, e.g. dial tone) is reported once it has lasted
    ``min_ms``.
    """

    DETECT_LAG_MS = 30
    END_LAG_MS = 45

    def __init__(self, name: str, shape: ToneShape, *, count: int = 1, tolerance: float = 0.2,
                 min_ms: int = 300) -> None:
        self.name = name
        self.shape = shape
        self.count = max(1, count)
        self.tolerance = tolerance
        if shape.off_ms and shape.on_ms:
            self.min_ms = max(40, int(shape.on_ms * (1 - tolerance)) - 60)
        else:
            self.min_ms = min_ms if not shape.on_ms else min(min_ms, max(40, int(shape.on_ms * 0.7)))
        cadence = ToneCadence(name, shape.frequencies, min_continuous_ms=self.min_ms)
        self.detector = DeferredDetector(lambda: spandsp.CallProgressDetector([cadence]))
        self._samples = 0
        self._on_since: float | None = None    # ms, tone start estimate
        self._off_since: float | None = None   # ms, silence start estimate after a good burst
        self._cycles = 0
        self.detected = False

    def reset(self) -> None:
        """Forget what was heard (a new call)."""
        self._on_since = self._off_since = None
        self._cycles = 0
        self.detected = False

    def feed(self, frame: bytes) -> bool:
        """Process one frame; True when the tone is recognised (once per recognition)."""
        events = self.detector.feed(frame)
        self._samples += len(frame) // 2
        now_ms = self._samples / 8
        shape = self.shape
        for event in events:
            at_ms = event.sample / 8
            if event.detected:
                self._on_since = at_ms - self.min_ms - self.DETECT_LAG_MS
                if self._off_since is not None and shape.off_ms:
                    gap = self._on_since - self._off_since
                    if not self._within(gap, shape.off_ms):
                        self._cycles = 0
                self._off_since = None
                if not shape.off_ms:
                    return self._report()
            else:
                if self._on_since is None:
                    continue
                on = at_ms - self.END_LAG_MS - self._on_since
                self._on_since = None
                if shape.off_ms and self._within(on, shape.on_ms):
                    self._off_since = at_ms - self.END_LAG_MS
                else:
                    self._off_since = None
                    self._cycles = 0
        if self._off_since is not None and now_ms - self._off_since >= max(100.0, shape.off_ms * 0.5):
            self._off_since = None
            self._cycles += 1
            if self._cycles >= self.count:
                self._cycles = 0
                return self._report()
        return False

    def _within(self, measured: float, expected: int) -> bool:
        return abs(measured - expected) <= expected * self.tolerance + 40

    def _report(self) -> bool:
        self.detected = True
        return True


# ------------------------------------------------------------------------------------------ the line


@dataclass(slots=True)
class _Step:
    kind: str          # release seize wait dtmf done
    ms: int = 0
    digits: str = ""


@dataclass(slots=True)
class _Rings:
    count: int = 0
    on_at: float | None = None
    off_at: float | None = None
    cadence: list[int] = field(default_factory=list)


class FxoLine:
    """The state machine of one FXO port (see the module docstring)."""

    def __init__(self, port: int, options: FxoOptions) -> None:
        self.port = port
        self.options = options
        self.state = FxoState.IDLE
        self.call: int | None = None
        self.direction = ""                   # "in" or "out"
        self.caller: CallerIdMessage | None = None
        self.caller_at = 0.0
        self.message_waiting: bool | None = None
        self.off_hook = False
        self.answered_by_polarity = False
        self.disconnect_reason: Disconnect | None = None
        self._rings = _Rings()
        self._actions: list[FxoAction] = []
        self._timers: dict[str, float] = {}
        self._calls = itertools.count(1)
        self._steps: deque[_Step] = deque()
        self._step_until: float | None = None
        self._awaiting_digits = False
        self._seized_at = 0.0
        self._breaking = False                # on hook on purpose (a pulse, a flash)
        self._low_since: float | None = None
        self._number = ""

    @property
    def profile(self) -> CountryProfile:
        """The port's country data."""
        return self.options.profile

    @property
    def answer_on_polarity(self) -> bool:
        """Whether an outgoing call is answered by the line's reversal."""
        option = self.options.answer_on_polarity
        return self.profile.answer_polarity if option is None else option

    @property
    def cadence_ms(self) -> tuple[int, ...]:
        """The ring cadence measured so far (on, off, on, off... in ms)."""
        return tuple(self._rings.cadence)

    @property
    def rings(self) -> int:
        """Rings counted on the current incoming call."""
        return self._rings.count

    def pop_actions(self) -> list[FxoAction]:
        """What to do, oldest first."""
        actions, self._actions = self._actions, []
        return actions

    def _do(self, *actions: FxoAction) -> None:
        self._actions.extend(actions)

    def _uses(self, method: Disconnect) -> bool:
        return method in self.profile.disconnect

    # ------------------------------------------------------------------------------- ringing in

    def ring_started(self, at: float) -> None:
        """The driver detected ringing (``at``: when it was confirmed)."""
        if self.state not in (FxoState.IDLE, FxoState.RINGING, FxoState.OFFERED):
            return
        rings = self._rings
        start = at - self.options.ring_on_delay_s
        if rings.off_at is not None:
            rings.cadence.append(max(0, round((start - rings.off_at) * 1000)))
        rings.on_at = start
        rings.count += 1
        self._timers.pop("ring_timeout", None)
        if self.state is FxoState.IDLE:
            self.state = FxoState.RINGING
            self.direction = "in"
            if self.caller is not None and at - self.caller_at > CALLERID_VALID_S:
                self.caller = None
        if self.state is FxoState.RINGING:
            wants_cid = self.options.callerid and self.profile.callerid is not None and self.caller is None
            if self.options.immediate or not wants_cid or rings.count >= 2:
                self._offer(at)
            else:
                # Bell 202 / ETSI "with ringing": the data comes in the first silence long enough for it (the
                # 200 ms gap of a double ring is skipped); wait for it until that silence is over, plus 1 s.
                cadence = self.profile.ring_cadence_ms
                wait_ms = 0
                for index in range(0, len(cadence), 2):
                    wait_ms += cadence[index] + cadence[index + 1]
                    if cadence[index + 1] >= 1000:
                        break
                self._timers["cid_wait"] = at + wait_ms / 1000 + 1.0

    def ring_stopped(self, at: float) -> None:
        """The driver saw the ringing stop."""
        if self.state not in (FxoState.RINGING, FxoState.OFFERED):
            return
        rings = self._rings
        end = at - self.options.ring_off_delay_s
        if rings.on_at is not None:
            rings.cadence.append(max(0, round((end - rings.on_at) * 1000)))
        rings.on_at = None
        rings.off_at = end
        self._timers["ring_timeout"] = at + self.options.ring_timeout_s

    def caller_id(self, message: CallerIdMessage, at: float) -> None:
        """Caller ID decoded from the on-hook audio."""
        if self.state not in (FxoState.IDLE, FxoState.RINGING) or not self.options.callerid:
            return
        self.caller = message
        self.caller_at = at
        if self.state is FxoState.RINGING:
            self._offer(at)

    def _offer(self, at: float) -> None:
        self._timers.pop("cid_wait", None)
        self.state = FxoState.OFFERED
        self.call = next(self._calls)
        self._do(IncomingCall(self.call, self.caller, self.cadence_ms))

    def answer(self, call: int, now: float) -> None:
        """The dialplan answered the incoming call: seize the line."""
        if call != self.call or self.state not in (FxoState.OFFERED, FxoState.RINGING):
            return
        self._timers.pop("ring_timeout", None)
        self._seize(now)
        self.state = FxoState.TALKING

    # ------------------------------------------------------------------------------- calling out

    def new_call_id(self) -> int:
        """A call id for an outgoing call (pass it to :meth:`dial`)."""
        return next(self._calls)

    @property
    def available(self) -> bool:
        """True when the line can take an outgoing call (idle, not ringing, battery seen)."""
        return self.state is FxoState.IDLE

    def dial(self, call: int, number: str, now: float) -> bool:
        """Seize the line and dial ``number`` (``w``: a 0.5 s pause); False if the line is busy."""
        if self.state is not FxoState.IDLE:
            return False
        self.call = call
        self.direction = "out"
        self.caller = None
        self._number = number
        self.answered_by_polarity = False
        self._seize(now)
        self.state = FxoState.SEIZED
        if self.options.wait_for_dialtone and number:
            self._timers["dialtone"] = now + self.options.dialtone_timeout_s
        else:
            self._timers["dialtone"] = now + self.options.dial_delay_s
        return True

    def dialtone(self, now: float) -> None:
        """Dial tone heard on the seized line: dial."""
        if self.state is FxoState.SEIZED and self.options.wait_for_dialtone:
            self._start_dialing(now)

    def _start_dialing(self, now: float) -> None:
        self._timers.pop("dialtone", None)
        self.state = FxoState.DIALING
        steps: deque[_Step] = deque()
        p = self.profile
        pulse = self.options.dial_mode == "pulse"
        chunk = ""
        for char in self._number:
            if char in "wW,":
                if chunk:
                    steps.append(_Step("dtmf", digits=chunk))
                    chunk = ""
                steps.append(_Step("wait", ms=PAUSE_MS))
            elif pulse and char.isdigit():
                count = int(char) or 10
                for _ in range(count):
                    steps.append(_Step("release", ms=p.pulse_break_ms))
                    steps.append(_Step("seize", ms=p.pulse_make_ms))
                steps.append(_Step("wait", ms=p.pulse_interdigit_ms))
            elif char.upper() in "0123456789*#ABCD":
                chunk += char.upper()
        if chunk:
            steps.append(_Step("dtmf", digits=chunk))
        steps.append(_Step("done"))
        self._steps = steps
        self._step_until = now
        self._run_steps(now)

    def digits_sent(self, now: float) -> None:
        """The shell finished playing the DTMF digits it was given."""
        if self._awaiting_digits:
            self._awaiting_digits = False
            self._step_until = now
            self._run_steps(now)

    def _run_steps(self, now: float) -> None:
        while self._step_until is not None and now >= self._step_until and not self._awaiting_digits:
            if not self._steps:
                self._step_until = None
                return
            step = self._steps.popleft()
            at = self._step_until
            self._step_until = at + step.ms / 1000
            if step.kind == "release":
                self._breaking = True
                self._do(Release())
            elif step.kind == "seize":
                self._breaking = False
                self._do(Seize())
            elif step.kind == "dtmf":
                self._awaiting_digits = True
                self._do(SendDigits(step.digits))
            elif step.kind == "done":
                self._dialled(at)

    def _dialled(self, now: float) -> None:
        self.state = FxoState.CALLING
        if not self.answer_on_polarity and self.call is not None:
            self.state = FxoState.TALKING
            self._do(RemoteAnswered(self.call))

    # ------------------------------------------------------------------------------- supervision

    def polarity_reversed(self, positive: bool, at: float) -> None:
        """The line's polarity changed (debounced by the driver)."""
        if self.call is None or self._breaking:
            return
        if self.state is FxoState.CALLING and self.direction == "out" and self.answer_on_polarity:
            self.answered_by_polarity = True
            self.state = FxoState.TALKING
            self._do(RemoteAnswered(self.call))
            return
        if self.state is not FxoState.TALKING or not self._uses(Disconnect.POLARITY):
            return
        if at - self._seized_at < self.options.safe_zone_s:
            return  # some lines flip as the loop closes
        if self.direction == "out" and not self.answered_by_polarity:
            return  # without answer reversal, a reversal might be the answer itself: not a hang-up
        self._disconnected(Disconnect.POLARITY, at)

    def battery(self, present: bool, at: float) -> None:
        """Loop battery lost or back (debounced by the driver)."""
        if present or not self.off_hook or self._breaking or not self._uses(Disconnect.BATTERY):
            return
        if self.state in (FxoState.SEIZED, FxoState.DIALING, FxoState.CALLING, FxoState.TALKING):
            self._disconnected(Disconnect.BATTERY, at)

    def loop_current(self, milliamps: float, now: float) -> None:
        """The loop current while off hook (sampled every tick)."""
        if not self.off_hook or self._breaking or not self._uses(Disconnect.LOOP_CURRENT):
            self._low_since = None
            return
        if now - self._seized_at < self.options.safe_zone_s:
            self._low_since = None
            return
        if milliamps >= self.options.loop_threshold_ma:
            self._low_since = None
            return
        if self._low_since is None:
            self._low_since = now
        elif (now - self._low_since) * 1000 >= self.options.loop_drop_ms and self.state in (
                FxoState.DIALING, FxoState.CALLING, FxoState.TALKING):
            self._disconnected(Disconnect.LOOP_CURRENT, now)

    def disconnect_tone(self, now: float) -> None:
        """The disconnect (busy) tone was recognised on the line."""
        if self.state in (FxoState.CALLING, FxoState.TALKING) and self._uses(Disconnect.TONE):
            self._disconnected(Disconnect.TONE, now)

    def _disconnected(self, how: Disconnect, now: float) -> None:
        call = self.call
        self.disconnect_reason = how
        self._release(now)
        if call is not None:
            self._do(Disconnected(call, how))

    # ------------------------------------------------------------------------------------ hook

    def _seize(self, now: float) -> None:
        self.off_hook = True
        self._seized_at = now
        self._low_since = None
        self._breaking = False
        self._do(Seize())

    def _release(self, now: float) -> None:
        if self.off_hook or self._breaking:
            self._do(Release())
        self.off_hook = False
        self._breaking = False
        self._steps.clear()
        self._step_until = None
        self._awaiting_digits = False
        self._timers.clear()
        self.state = FxoState.IDLE
        self.call = None
        self.caller = None
        self._rings = _Rings()

    def hangup(self, call: int, now: float) -> None:
        """The PBX cleared the call: go on hook (or stop waiting for an answer)."""
        if call != self.call:
            return
        self._release(now)

    def flash(self, now: float) -> None:
        """Hook flash of the country's length (call transfer on a PBX, call waiting on a CO line)."""
        if self.state is not FxoState.TALKING or self._breaking:
            return
        self._breaking = True
        self._do(Release())
        self._timers["flash"] = now + self.profile.flash_ms / 1000

    # ------------------------------------------------------------------------------------ time

    def tick(self, now: float) -> None:
        """Advance timers and the dialling sequence to ``now``."""
        for name, due in sorted(self._timers.items(), key=lambda item: item[1]):
            if due > now or self._timers.get(name) != due:
                continue
            del self._timers[name]
            if name == "ring_timeout":
                call = self.call
                offered = self.state is FxoState.OFFERED
                self._release(now)
                if offered and call is not None:
                    self._do(IncomingCancelled(call))
            elif name == "cid_wait" and self.state is FxoState.RINGING:
                self._offer(now)
            elif name == "dialtone" and self.state is FxoState.SEIZED:
                self._start_dialing(now)
            elif name == "flash":
                self._breaking = False
                self._seized_at = now
                self._do(Seize())
        self._run_steps(now)

    def describe(self) -> str:
        """A few words for ``ports show``."""
        text = self.state.value
        if self.state in (FxoState.RINGING, FxoState.OFFERED):
            text += f" ({self._rings.count} ring{'s' if self._rings.count != 1 else ''}"
            if self.caller is not None and self.caller.number:
                text += f", caller {self.caller.number}"
            text += ")"
        return text


__all__ = [
    "CadenceToneDetector",
    "Disconnected",
    "FxoAction",
    "FxoLine",
    "FxoOptions",
    "FxoState",
    "IncomingCall",
    "IncomingCancelled",
    "Release",
    "RemoteAnswered",
    "Seize",
    "SendDigits",
    "ToneShape",
]
