"""FXS line logic: what a telephone plugged into an FXS port expects from the exchange, as a sans-IO state
machine.

:class:`FxsLine` is fed the hook switch (:meth:`~FxsLine.hook`, with the time the new state was first seen,
so that pulse dialling is timed from the edges), DTMF digits found in the line's audio, the calls the PBX
offers and their progress, and the time (:meth:`~FxsLine.tick`).  It answers with :class:`FxsAction`
objects for its shell (the FXS channel driver): ring on/off with the country's cadence, linefeed and
polarity, tones to play, caller-ID data to send -- and call events for the PBX.  It never touches a chip,
a clock or the media path itself.

What it implements (Telcordia GR-506/GR-30 and ETSI EN 300 659 behaviour as DAHDI and Asterisk's chan_dahdi
give it to FXS ports; hardware.md §1.7, §5.4, §5.5):

- off-hook: dial tone of the port's country (stutter dial tone while a message waits); digits by DTMF or
  by pulses (a break of 15-200 ms is a pulse, a make longer than ``pulse_digit_timeout_ms`` ends the digit);
  overlap dialling against the dialplan (``route()`` says complete / could be longer / incomplete /
  invalid, with Asterisk's ``firstdigittimeout`` 16 s, ``gendigittimeout`` 8 s and ``matchdigittimeout``
  3 s); an invalid number or no digits: congestion, then the howler after ``howler_after_s``;
- ringing with the country cadence and type I caller ID: Bell 202 / V.23 / DTMF, before the first ring (after
  a line reversal, a dual-tone or a ring-pulse alert) or in the first long silence, line reversal restored;
- hook flash in a ``flash_min_ms``..``flash_max_ms`` window (DAHDI: longer than a pulse, at most 1250 ms;
  longer is a hang-up); call waiting with the call-waiting tone and type II caller ID (CAS, the phone's
  DTMF acknowledgement, FSK), flash to swap, the held call rings back after a hang-up;
- message waiting: VMWI FSK while on hook, stutter dial tone when lifted;
- answer supervision by polarity reversal and a KEWL open-loop pulse on far-end hang-up (options).
"""

from __future__ import annotations

import enum
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from cython_media.spandsp import CallerIdMessage, CallerIdStandard, MessageWaiting
from drivers.fxs_fxo.countries import CallerIdAlert, CallerIdStart, CountryProfile

DTAS = "!2130+2750/100"
"""Dual-tone alerting signal before on-hook data (EN 300 659-1, BT SIN 227): 2130 + 2750 Hz, 100 ms."""

CAS = "!2130+2750/80"
"""CPE alerting signal before off-hook (type II) data (GR-30-CORE: 2130 + 2750 Hz, 75-85 ms)."""

SIGNAL_TIMEOUT_S = 3.0  # a signal the shell never reports finished does not hang the line
TYPE2_ACK_WINDOW_S = 0.3  # GR-30: the CPE acknowledges within 160 ms of the end of the CAS (plus detection)
RING_PULSE_MS = 250  # ring-pulse alerting signal (EN 300 659-1: 200-300 ms)


class FxsState(enum.Enum):
    """Where the line is."""

    IDLE = "idle"
    RINGING = "ringing"
    DIALTONE = "dialtone"
    DIALING = "dialing"
    CALLING = "calling"      # dialled; the PBX is setting the call up
    TALKING = "talking"
    CLEARED = "cleared"      # the other side is gone (or the number was wrong); still off hook
    HOWLER = "howler"        # off hook far too long


class Route(enum.Enum):
    """What the dialplan says of the digits so far (Asterisk exists / matchmore / canmatch)."""

    COMPLETE = "complete"      # exists, and no longer number could match
    AMBIGUOUS = "ambiguous"    # exists, but more digits could match something else
    INCOMPLETE = "incomplete"  # nothing yet, more digits could match
    INVALID = "invalid"        # nothing will ever match


class Feed(enum.Enum):
    """Linefeed the shell should set (polarity is separate: :class:`SetPolarity`)."""

    ACTIVE = "active"   # forward/reverse active (the idle feed)
    OHT = "oht"         # on-hook transmission (caller ID, VMWI)
    OPEN = "open"       # no battery (KEWL disconnect pulse)


class Offer(enum.Enum):
    """What :meth:`FxsLine.offer_call` did with a call."""

    RINGING = "ringing"
    WAITING = "waiting"
    BUSY = "busy"


# ---------------------------------------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class RingOn:
    """Start the ring signal."""


@dataclass(frozen=True, slots=True)
class RingOff:
    """Stop the ring signal; the line stays in on-hook transmission."""


@dataclass(frozen=True, slots=True)
class SetFeed:
    """Set the linefeed."""

    feed: Feed


@dataclass(frozen=True, slots=True)
class SetPolarity:
    """Forward (False) or reverse (True) battery."""

    reverse: bool


@dataclass(frozen=True, slots=True)
class PlayTone:
    """Play a tone list on the line (``overlay``: mixed with the call's audio instead of replacing it);
    ``notify``: report its end with :meth:`FxsLine.signal_done` (tones made only of ``!`` elements end)."""

    tone: str
    level_dbm0: float | None = None
    overlay: bool = False
    notify: bool = False


@dataclass(frozen=True, slots=True)
class SendData:
    """Send caller ID or VMWI on the line with ``standard``; report the end with :meth:`FxsLine.signal_done`."""

    message: CallerIdMessage | MessageWaiting
    standard: CallerIdStandard
    sdmf: bool = False


@dataclass(frozen=True, slots=True)
class StopSignal:
    """Stop any tone or data being played."""


@dataclass(frozen=True, slots=True)
class CallOriginated:
    """The phone dialled ``number``: start call ``call`` in the dialplan."""

    call: int
    number: str


@dataclass(frozen=True, slots=True)
class CallAnswered:
    """The phone answered call ``call`` (ringing or waiting): its audio is now the line's."""

    call: int


@dataclass(frozen=True, slots=True)
class CallHeld:
    """Call ``call`` went on hold (the phone flashed to the other call)."""

    call: int


@dataclass(frozen=True, slots=True)
class CallResumed:
    """Call ``call`` is back on the line."""

    call: int


@dataclass(frozen=True, slots=True)
class CallHungUp:
    """The phone hung up call ``call``."""

    call: int


@dataclass(frozen=True, slots=True)
class DigitDialled:
    """A digit during call ``call`` (DTMF or pulses)."""

    call: int
    digit: str
    duration_ms: int


@dataclass(frozen=True, slots=True)
class FlashPressed:
    """A hook flash during call ``call`` with no other call to swap to."""

    call: int


FxsAction = (RingOn | RingOff | SetFeed | SetPolarity | PlayTone | SendData | StopSignal | CallOriginated
             | CallAnswered | CallHeld | CallResumed | CallHungUp | DigitDialled | FlashPressed)


# -------------------------------------------------------------------------------------------- options


@dataclass(frozen=True, slots=True)
class FxsOptions:
    """Per-port behaviour of an FXS line (country data comes from ``profile``)."""

    profile: CountryProfile
    first_digit_timeout_s: float = 16.0   # Asterisk chan_dahdi firstdigittimeout
    digit_timeout_s: float = 8.0          # gendigittimeout
    match_digit_timeout_s: float = 3.0    # matchdigittimeout
    howler_after_s: float = 30.0          # congestion/busy heard this long off hook -> howler
    immediate: bool = False               # hotline: the dialplan's ``s`` extension at off-hook
    call_waiting: bool = True
    callerid: bool = True                 # send type I (and type II when the country has it)
    answer_polarity_reversal: bool = False  # reverse battery when the far end answers, back at hang-up
    disconnect_open_loop_ms: int = 0      # KEWL: open the loop this long when the far end hangs up (DAHDI 500)
    max_digits: int = 32


# ----------------------------------------------------------------------------------------- ring steps


@dataclass(slots=True)
class _Step:
    kind: str                 # ring_on ring_off polarity wait tone data off_data
    ms: int = 0
    reverse: bool = False
    tone: str = ""
    delay_ms: int = 0


@dataclass(slots=True)
class _Other:
    call: int
    held: bool               # True: on hold; False: waiting to be answered


@dataclass(slots=True)
class _Break:
    at: float                # on-hook since


@dataclass(slots=True)
class _Timers:
    due: dict[str, float] = field(default_factory=dict)

    def arm(self, name: str, at: float) -> None:
        self.due[name] = at

    def cancel(self, *names: str) -> None:
        for name in names:
            self.due.pop(name, None)

    def expired(self, now: float) -> list[str]:
        fired = [name for name, at in sorted(self.due.items(), key=lambda item: item[1]) if at <= now]
        for name in fired:
            del self.due[name]
        return fired

    def next_due(self) -> float | None:
        return min(self.due.values(), default=None)


class FxsLine:
    """The state machine of one FXS port (see the module docstring).

    ``route(number)`` asks the dialplan about dialled digits.  Every input method takes ``now`` (board
    seconds); :meth:`pop_actions` returns what to do, in order.
    """

    def __init__(self, port: int, options: FxsOptions, route: Callable[[str], Route]) -> None:
        self.port = port
        self.options = options
        self.route = route
        self.state = FxsState.IDLE
        self.off_hook = False
        self.digits = ""
        self.active: int | None = None          # the call on the line (ringing, calling or talking)
        self.other: _Other | None = None        # a waiting or held call
        self.recall = False                     # ringing again for a held call after a hang-up
        self.message_waiting = False
        self.message_count: int | None = None
        self.reversed = False                   # polarity we set
        self.last_route: Route | None = None
        self._actions: list[FxsAction] = []
        self._timers = _Timers()
        self._calls = itertools.count(1)
        self._break: _Break | None = None
        self._pulses = 0
        self._steps: deque[_Step] = deque()     # ringing / waiting-call / VMWI signalling sequence
        self._step_until: float | None = None
        self._awaiting_signal = False
        self._segment_end = 0.0
        self._data_sent = False
        self._pending_caller: CallerIdMessage | None = None
        self._type2: CallerIdMessage | None = None
        self._await_ack = False
        self._mwi_pending = False
        self._mwi_message: MessageWaiting | None = None
        self._ringing_now = False

    @property
    def profile(self) -> CountryProfile:
        """The port's country data."""
        return self.options.profile

    def pop_actions(self) -> list[FxsAction]:
        """What to do, oldest first (and forget it)."""
        actions, self._actions = self._actions, []
        return actions

    def _do(self, *actions: FxsAction) -> None:
        self._actions.extend(actions)

    def next_timer(self) -> float | None:
        """When :meth:`tick` next has something to do."""
        due = self._timers.next_due()
        if self._step_until is not None and not self._awaiting_signal:
            due = self._step_until if due is None else min(due, self._step_until)
        return due

    # ------------------------------------------------------------------------------------ tones

    def _tone(self, name: str, *, overlay: bool = False) -> None:
        level = -3.0 if name == "howler" else None
        self._do(PlayTone(self.profile.tone(name), level_dbm0=level, overlay=overlay))

    def _silence(self) -> None:
        self._do(StopSignal())

    # ------------------------------------------------------------------------------------ hook

    def hook(self, off_hook: bool, at: float) -> None:
        """The phone went off hook (``True``) or on hook at ``at`` (debounced, time of the edge)."""
        if off_hook == self.off_hook:
            return
        self.off_hook = off_hook
        if self.state is FxsState.IDLE:
            if off_hook:
                self._offhook_idle(at)
            return
        if self.state is FxsState.RINGING:
            if off_hook:
                self._answer_ringing(at)
            return
        # Off-hook states: an on-hook is a pulse, a flash or a hang-up, known when it ends or lasts.
        if not off_hook:
            self._break = _Break(at)
            self._timers.cancel("pulse_digit")
            self._timers.arm("hangup", at + max(self.profile.flash_max_ms, self.profile.pulse_max_break_ms) / 1000)
            return
        brk, self._break = self._break, None
        self._timers.cancel("hangup")
        if brk is None:
            return
        self._make(at - brk.at, at)

    def ring_trip(self, at: float) -> None:
        """The chip saw the phone lifted while ringing (it already switched the line to active)."""
        self.hook(True, at)

    def _make(self, break_s: float, at: float) -> None:
        p = self.profile
        ms = break_s * 1000
        pulse = p.pulse_min_break_ms <= ms <= p.pulse_max_break_ms
        flash = p.flash_min_ms <= ms <= p.flash_max_ms
        if self.state in (FxsState.DIALTONE, FxsState.DIALING):
            if pulse:
                self._pulse(at)
            elif flash:
                self._restart_dialtone(at)
            return
        if self.state is FxsState.TALKING:
            if flash:
                self._flash(at)
            elif pulse:
                self._pulse(at)
            return
        if flash or pulse:
            self._flash(at)

    def _pulse(self, at: float) -> None:
        if self._pulses == 0 and self.state is FxsState.DIALTONE:
            self._silence()
        self._pulses += 1
        self._timers.arm("pulse_digit", at + self.profile.pulse_digit_timeout_ms / 1000)

    def _pulse_digit(self, now: float) -> None:
        count, self._pulses = self._pulses, 0
        if not count or count > 10:
            return  # more than ten pulses is not a digit (a hang-up attempt or line noise)
        digit = str(count % 10)
        if self.state in (FxsState.DIALTONE, FxsState.DIALING):
            self._digit(digit, now)
        elif self.state is FxsState.TALKING and self.active is not None:
            self._do(DigitDialled(self.active, digit, 100))

    # ------------------------------------------------------------------------------- dialling

    def _offhook_idle(self, at: float) -> None:
        self._cancel_ringing_steps()
        self.digits = ""
        self._pulses = 0
        if self.options.immediate:
            self._originate("s", at)
            return
        self.state = FxsState.DIALTONE
        self._tone("stutter" if self.message_waiting else "dial")
        self._timers.arm("digit", at + self.options.first_digit_timeout_s)

    def _restart_dialtone(self, at: float) -> None:
        self.state = FxsState.DIALTONE
        self.digits = ""
        self._pulses = 0
        self._tone("stutter" if self.message_waiting else "dial")
        self._timers.arm("digit", at + self.options.first_digit_timeout_s)

    def dtmf(self, digit: str, duration_ms: int, now: float) -> None:
        """A DTMF digit the phone sent (detected in the line's audio, reported when it ended)."""
        if self._await_ack and digit in "AD":
            self._await_ack = False
            self._type2_acknowledged(now)
            return
        if self.state in (FxsState.DIALTONE, FxsState.DIALING):
            self._digit(digit, now)
        elif self.state in (FxsState.TALKING, FxsState.CALLING) and self.active is not None:
            self._do(DigitDialled(self.active, digit, duration_ms))

    def _digit(self, digit: str, now: float) -> None:
        if self.state is FxsState.DIALTONE:
            self._silence()
            self.state = FxsState.DIALING
        self.digits += digit
        route = self.route(self.digits)
        self.last_route = route
        if route is Route.COMPLETE or (len(self.digits) >= self.options.max_digits and route is Route.AMBIGUOUS):
            self._originate(self.digits, now)
        elif route is Route.AMBIGUOUS:
            self._timers.arm("digit", now + self.options.match_digit_timeout_s)
        elif route is Route.INCOMPLETE and len(self.digits) < self.options.max_digits:
            self._timers.arm("digit", now + self.options.digit_timeout_s)
        else:
            self._clear("congestion", now)

    def _digit_timeout(self, now: float) -> None:
        if self.state is FxsState.DIALING and self.route(self.digits) in (Route.COMPLETE, Route.AMBIGUOUS):
            self._originate(self.digits, now)
        else:
            self._clear("congestion", now)

    def _originate(self, number: str, now: float) -> None:
        self._timers.cancel("digit")
        call = next(self._calls)
        self.active = call
        self.state = FxsState.CALLING
        self._do(CallOriginated(call, number))

    def _clear(self, tone: str, now: float) -> None:
        """Off hook with nobody to talk to: ``tone``, then the howler."""
        self._timers.cancel("digit")
        self.state = FxsState.CLEARED
        self._tone(tone)
        self._timers.arm("howler", now + self.options.howler_after_s)

    # ------------------------------------------------------------------------- progress from the PBX

    def indicate(self, call: int, tone: str | None) -> None:
        """Call progress toward the phone: ``"ring"`` (ringback), ``"busy"``, ``"congestion"``... or None
        (stop: the far end's own audio follows)."""
        if call != self.active or self.state not in (FxsState.CALLING, FxsState.TALKING):
            return
        if tone is None:
            self._silence()
        else:
            self._tone(tone)

    def remote_answered(self, call: int, now: float) -> None:
        """The far end answered the call the phone made."""
        if call != self.active or self.state is not FxsState.CALLING:
            return
        self.state = FxsState.TALKING
        self._silence()
        if self.options.answer_polarity_reversal:
            self._set_polarity(True)

    def answered_by_pbx(self, call: int, now: float) -> None:
        """The PBX answered the phone's call (``Answer()``, or ``Dial()`` when the called party answered):
        the line is talking, and reverses if the port signals answer that way (payphones, call meters)."""
        self.remote_answered(call, now)

    def remote_hungup(self, call: int, now: float, *, busy: bool = False) -> None:
        """Call ``call`` was cleared by the PBX or the far end (``busy``: it never got through, user busy)."""
        other = self.other
        if other is not None and other.call == call:
            self.other = None
            if not other.held:
                self._cancel_ringing_steps()
                self._silence()
            return
        if call != self.active:
            return
        if self.state is FxsState.RINGING:
            self.active = None
            self.recall = False
            self._stop_ringing()
            self.state = FxsState.IDLE
            self._send_mwi_if_pending(now)
            return
        if self.state in (FxsState.CALLING, FxsState.TALKING):
            self.active = None
            if self.reversed:
                self._set_polarity(False)
            if self.options.disconnect_open_loop_ms:
                self._do(SetFeed(Feed.OPEN))
                self._timers.arm("restore_feed", now + self.options.disconnect_open_loop_ms / 1000)
            self._clear("busy" if busy or self.state is FxsState.TALKING else "congestion", now)

    def _set_polarity(self, reverse: bool) -> None:
        if reverse != self.reversed:
            self.reversed = reverse
            self._do(SetPolarity(reverse))

    # ------------------------------------------------------------------------------ incoming calls

    def new_call_id(self) -> int:
        """A call id for a call the PBX offers (pass it to :meth:`offer_call`)."""
        return next(self._calls)

    def offer_call(self, call: int, caller: CallerIdMessage | None, now: float) -> Offer:
        """The PBX calls this phone: ring it (with caller ID), or signal a waiting call, or refuse."""
        if self.state is FxsState.IDLE and not self.off_hook:
            self._ring_for(call, caller if self.options.callerid else None, now, recall=False)
            return Offer.RINGING
        if (self.state is FxsState.TALKING and self.options.call_waiting and self.other is None
                and self.active is not None):
            self.other = _Other(call, held=False)
            self._signal_waiting(caller if self.options.callerid else None, now)
            return Offer.WAITING
        return Offer.BUSY

    def _ring_for(self, call: int, caller: CallerIdMessage | None, now: float, *, recall: bool) -> None:
        self.state = FxsState.RINGING
        self.active = call
        self.recall = recall
        steps: deque[_Step] = deque()
        p = self.profile
        cadence = list(p.ring_cadence_ms)
        if caller is not None and p.callerid is not None:
            if p.callerid_start is CallerIdStart.BEFORE_RING:
                alert = p.callerid_alert
                if alert in (CallerIdAlert.POLARITY, CallerIdAlert.DTAS):
                    steps.append(_Step("polarity", reverse=True))
                    steps.append(_Step("wait", ms=100))
                if alert is CallerIdAlert.DTAS:
                    steps.append(_Step("tone", tone=DTAS))
                if alert is CallerIdAlert.RPAS:
                    steps.append(_Step("ring_on", ms=RING_PULSE_MS))
                    steps.append(_Step("ring_off", ms=0))
                steps.append(_Step("wait", ms=p.callerid_delay_ms))
                steps.append(_Step("data"))
                if alert in (CallerIdAlert.POLARITY, CallerIdAlert.DTAS):
                    steps.append(_Step("polarity", reverse=False))
                steps.append(_Step("wait", ms=p.callerid_ring_gap_ms))
                self._pending_caller = caller
            else:
                # In the first silence long enough for the data (GR-30: >= 500 ms after the ring, done
                # >= 200 ms before the next one); short gaps of double-ring cadences are skipped.
                for index in range(0, len(cadence), 2):
                    steps.append(_Step("ring_on", ms=cadence[index]))
                    off = cadence[index + 1]
                    if off >= 1000:
                        steps.append(_Step("off_data", ms=off, delay_ms=p.callerid_delay_ms))
                        self._pending_caller = caller
                        break
                    steps.append(_Step("ring_off", ms=off))
        self._steps = steps
        self._step_until = now
        self.tick(now)

    def _ring_steps_again(self) -> None:
        cadence = self.profile.ring_cadence_ms
        for index in range(0, len(cadence), 2):
            self._steps.append(_Step("ring_on", ms=cadence[index]))
            self._steps.append(_Step("ring_off", ms=cadence[index + 1]))

    def _run_steps(self, now: float) -> None:
        """Advance the signalling sequence (ringing, a waiting call, VMWI) as far as ``now`` allows."""
        while self._step_until is not None and now >= self._step_until and not self._awaiting_signal:
            if not self._steps:
                if self.state is FxsState.RINGING:
                    self._ring_steps_again()
                else:
                    self._step_until = None
                    return
            step = self._steps.popleft()
            at = self._step_until
            self._step_until = at + step.ms / 1000
            kind = step.kind
            if kind == "ring_on":
                self._ringing_now = True
                self._do(RingOn())
            elif kind == "ring_off":
                if self._ringing_now:
                    self._ringing_now = False
                    self._do(RingOff())
            elif kind == "polarity":
                self._set_polarity(step.reverse)
            elif kind == "tone":
                self._await_signal(at)
                self._do(PlayTone(step.tone, notify=True))
            elif kind == "data":
                self._send_pending_data(at, feed=True)
            elif kind == "off_data":
                # A silence with the data in it: the data ``delay_ms`` into it, the next ring no sooner than
                # 200 ms after the data (GR-30) and no sooner than the cadence says.
                if self._ringing_now:
                    self._ringing_now = False
                    self._do(RingOff())
                self._segment_end = self._step_until
                self._step_until = at + step.delay_ms / 1000
                self._steps.appendleft(_Step("end_segment"))
                self._steps.appendleft(_Step("data"))
            elif kind == "end_segment":
                self._step_until = max(self._segment_end, at + 0.2 if self._data_sent else at)
            elif kind == "type2":
                self._await_ack = True
                self._step_until = at + TYPE2_ACK_WINDOW_S
                self._steps.appendleft(_Step("type2_timeout"))
            elif kind == "type2_timeout":
                self._await_ack = False  # no acknowledgement: no type II data (GR-30)
            elif kind == "type2_data":
                self._send_pending_data(at, feed=False)
            elif kind == "cw_repeat":
                self._do(PlayTone("!0/4000," + self.profile.tone("callwaiting"), overlay=True))
            elif kind == "mwi":
                standard = self.profile.callerid
                if standard is not None and self._mwi_message is not None:
                    self._await_signal(at)
                    self._do(SetFeed(Feed.OHT), SendData(self._mwi_message, standard, self.profile.callerid_sdmf))
            elif kind == "feed_active":
                self._do(SetFeed(Feed.ACTIVE))

    def _await_signal(self, at: float) -> None:
        self._awaiting_signal = True
        self._timers.arm("signal", at + SIGNAL_TIMEOUT_S)

    def _send_pending_data(self, at: float, *, feed: bool) -> None:
        caller, self._pending_caller = self._pending_caller, None
        standard = self.profile.callerid
        self._data_sent = False
        if caller is None or standard is None:
            return
        self._data_sent = True
        self._await_signal(at)
        if feed:
            self._do(SetFeed(Feed.OHT))
        self._do(SendData(caller, standard, self.profile.callerid_sdmf and feed))

    def signal_done(self, now: float) -> None:
        """The shell finished a tone or data it was asked to report (``notify``/:class:`SendData`)."""
        if not self._awaiting_signal:
            return
        self._awaiting_signal = False
        self._timers.cancel("signal")
        if self._step_until is not None and self._step_until < now:
            self._step_until = now
        self.tick(now)

    def _answer_ringing(self, at: float) -> None:
        call = self.active
        recall = self.recall
        self._stop_ringing()
        self.state = FxsState.TALKING
        self.recall = False
        if call is not None:
            self._do(CallResumed(call) if recall else CallAnswered(call))

    def _stop_ringing(self) -> None:
        if self._ringing_now:
            self._ringing_now = False
            self._do(RingOff())
        if self._awaiting_signal:
            self._do(StopSignal())
        self._cancel_ringing_steps()
        if self.reversed:
            self._set_polarity(False)
        self._do(SetFeed(Feed.ACTIVE))

    def _cancel_ringing_steps(self) -> None:
        self._steps.clear()
        self._step_until = None
        self._awaiting_signal = False
        self._await_ack = False
        self._pending_caller = None
        self._timers.cancel("signal")

    # -------------------------------------------------------------------------------- call waiting

    def _signal_waiting(self, caller: CallerIdMessage | None, now: float) -> None:
        p = self.profile
        steps: deque[_Step] = deque()
        first = p.tone("callwaiting").split(",")[0].lstrip("!")
        steps.append(_Step("tone", tone="!" + first))
        if caller is not None and p.type2_callerid and p.callerid in (CallerIdStandard.BELL202, CallerIdStandard.V23):
            steps.append(_Step("tone", tone=CAS))
            steps.append(_Step("type2"))
            self._type2 = caller
        steps.append(_Step("cw_repeat"))
        self._steps = steps
        self._step_until = now
        self.tick(now)

    def _type2_acknowledged(self, now: float) -> None:
        caller, self._type2 = self._type2, None
        if self._steps and self._steps[0].kind == "type2_timeout":
            self._steps.popleft()
        self._step_until = now + 0.05  # GR-30: the data 50-500 ms after the acknowledgement
        if caller is not None and self.profile.callerid is not None:
            self._pending_caller = caller
            self._steps.appendleft(_Step("type2_data"))
        self.tick(now)

    # ---------------------------------------------------------------------------------------- flash

    def _flash(self, at: float) -> None:
        other = self.other
        if self.state in (FxsState.TALKING, FxsState.CLEARED, FxsState.HOWLER) and other is not None:
            self._cancel_ringing_steps()
            self._silence()
            self._timers.cancel("howler")
            previous = self.active
            self.other = _Other(previous, held=True) if previous is not None else None
            self.active = other.call
            self.state = FxsState.TALKING
            if previous is not None:
                self._do(CallHeld(previous))
            self._do(CallResumed(other.call) if other.held else CallAnswered(other.call))
            return
        if self.state is FxsState.TALKING and self.active is not None:
            self._do(FlashPressed(self.active))
            return
        if self.state in (FxsState.CLEARED, FxsState.HOWLER):
            self._timers.cancel("howler")
            self._restart_dialtone(at)

    # ----------------------------------------------------------------------------------- hang-up

    def _hangup(self, now: float) -> None:
        """On hook for longer than a flash: the phone hung up."""
        self._break = None
        self._pulses = 0
        self._timers.cancel("digit", "howler", "pulse_digit", "restore_feed")
        self._cancel_ringing_steps()
        self._silence()
        if self.reversed:
            self._set_polarity(False)
        if self.active is not None and self.state in (FxsState.CALLING, FxsState.TALKING):
            self._do(CallHungUp(self.active))
        self.active = None
        self.state = FxsState.IDLE
        self.digits = ""
        self._do(SetFeed(Feed.ACTIVE))
        other, self.other = self.other, None
        if other is not None:
            # A call still on hold or waiting: ring the phone again for it (chan_dahdi does the same).
            self._ring_for(other.call, None, now, recall=other.held)
            return
        self._send_mwi_if_pending(now)

    # -------------------------------------------------------------------------------------- MWI

    def set_message_waiting(self, waiting: bool, count: int | None, now: float) -> None:
        """Messages wait (or no longer): VMWI now if the line is idle, stutter dial tone when lifted."""
        changed = waiting != self.message_waiting or count != self.message_count
        self.message_waiting = waiting
        self.message_count = count
        if changed:
            self._mwi_pending = True
            self._send_mwi_if_pending(now)

    def _send_mwi_if_pending(self, now: float) -> None:
        standard = self.profile.callerid
        if not self._mwi_pending or self.state is not FxsState.IDLE or self.off_hook or self._steps:
            return
        self._mwi_pending = False
        if standard not in (CallerIdStandard.BELL202, CallerIdStandard.V23):
            return  # DTMF and JCLIP caller ID carry no message-waiting message
        message = MessageWaiting(self.message_waiting,
                                 self.message_count if standard is CallerIdStandard.V23 else None)
        steps: deque[_Step] = deque()
        alert = self.profile.callerid_alert
        if standard is CallerIdStandard.V23 and alert in (CallerIdAlert.POLARITY, CallerIdAlert.DTAS):
            steps.append(_Step("polarity", reverse=True))
            steps.append(_Step("wait", ms=100))
            if alert is CallerIdAlert.DTAS:
                steps.append(_Step("tone", tone=DTAS))
            steps.append(_Step("wait", ms=self.profile.callerid_delay_ms))
        steps.append(_Step("mwi"))
        if standard is CallerIdStandard.V23 and alert in (CallerIdAlert.POLARITY, CallerIdAlert.DTAS):
            steps.append(_Step("polarity", reverse=False))
        steps.append(_Step("feed_active"))
        self._steps = steps
        self._mwi_message = message
        self._step_until = now
        self._run_steps(now)

    # ------------------------------------------------------------------------------------ time

    def tick(self, now: float) -> None:
        """Advance timers and sequences to ``now``."""
        for name in self._timers.expired(now):
            if name == "hangup":
                self._hangup(now)
            elif name == "pulse_digit":
                self._pulse_digit(now)
            elif name == "digit":
                if self.state is FxsState.DIALTONE:
                    self._clear("congestion", now)
                else:
                    self._digit_timeout(now)
            elif name == "howler":
                if self.state is FxsState.CLEARED:
                    self.state = FxsState.HOWLER
                    self._tone("howler")
            elif name == "restore_feed":
                self._do(SetFeed(Feed.ACTIVE))
            elif name == "signal":
                self._awaiting_signal = False
                self._do(StopSignal())
        self._run_steps(now)

    # -------------------------------------------------------------------------------------- status

    def describe(self) -> str:
        """A few words for ``ports show``."""
        text = self.state.value
        if self.state is FxsState.DIALING:
            text += f" {self.digits}"
        if self.other is not None:
            text += ", a call " + ("on hold" if self.other.held else "waiting")
        if self.message_waiting:
            text += ", message waiting"
        return text


__all__ = [
    "CAS",
    "DTAS",
    "CallAnswered",
    "CallHeld",
    "CallHungUp",
    "CallOriginated",
    "CallResumed",
    "DigitDialled",
    "Feed",
    "FlashPressed",
    "FxsAction",
    "FxsLine",
    "FxsOptions",
    "FxsState",
    "Offer",
    "PlayTone",
    "RingOff",
    "RingOn",
    "Route",
    "SendData",
    "SetFeed",
    "SetPolarity",
    "StopSignal",
]
