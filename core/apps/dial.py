"""Dial, ChanIsAvail and Transfer: placing outbound legs through the channel drivers.

``Dial`` follows Asterisk 20's ``apps/app_dial.c``: it requests one leg per ``&``-separated destination,
calls them all, relays their progress to the caller, takes the first to answer (the others are cleared with
"answered elsewhere"), and bridges the two until one hangs up.  ``DIALSTATUS`` ends up ANSWER, BUSY,
NOANSWER, CANCEL, CONGESTION, CHANUNAVAIL or INVALIDARGS, computed from the legs' causes the way Dial's
``handle_cause`` counts them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from core.bridge import Bridge
from core.causes import HangupCause
from core.channel import (
    Answered,
    Channel,
    ChannelState,
    ChannelUnavailable,
    DeviceState,
    HungUp,
    Indication,
    IndicationReceived,
    wait_for_events,
)
from core.dialplan.args import OptionError, parse_options, separate_args
from core.dialplan.executor import CONTINUE, HANGUP, ApplicationRegistry, AppResult, CallContext
from core.dialplan.functions.extras import record_dialed_cause
from core.dialplan.substitute import inherit_variables
from core.events import DialBegin, DialEnd
from core.media import MediaUnavailable

log = logging.getLogger("centralita.dialplan")

# Every option letter Dial knows (True: takes an argument in parentheses).  Letters we do not act on
# are accepted so that dialplans written for Asterisk load and run; they are logged at debug level.
DIAL_OPTIONS: dict[str, bool] = {
    "A": True, "a": False, "b": True, "B": True, "C": False, "c": False, "d": False, "D": True,
    "E": False, "e": False, "f": True, "F": True, "g": False, "G": True, "h": False, "H": False,
    "i": False, "I": False, "j": False, "k": False, "K": False, "L": True, "m": True, "M": True,
    "n": True, "N": False, "o": True, "O": True, "p": False, "P": True, "Q": True, "r": True,
    "R": False, "S": True, "s": True, "t": False, "T": False, "U": True, "u": True, "w": False,
    "W": False, "x": False, "X": False, "z": False,
}
IMPLEMENTED = frozenset("ADgLmrtTU")
# Enum members read on every call, as module globals: reading one off its class costs ~900 instructions under
# callgrind (CPython 3.11), a global ~30.
_RINGING = Indication.RINGING
_UP = ChannelState.UP
# What makes separate_args differ from a plain split on commas (nesting, quoting, escaping).
_ARG_SYNTAX = frozenset('()[]"\\')


@dataclass
class _Counts:
    busy: int = 0
    congestion: int = 0
    nochan: int = 0

    def handle(self, cause: HangupCause) -> None:
        """app_dial's ``handle_cause``."""
        if cause is HangupCause.USER_BUSY:
            self.busy += 1
        elif cause is HangupCause.NORMAL_CIRCUIT_CONGESTION:
            self.congestion += 1
        elif cause in (HangupCause.NO_ROUTE_DESTINATION, HangupCause.SUBSCRIBER_ABSENT):
            self.nochan += 1
        elif cause in (HangupCause.NO_ANSWER, HangupCause.NORMAL_CLEARING):
            pass
        else:
            self.nochan += 1


@dataclass
class _Attempt:
    leg: Channel
    destination: str
    done: bool = False


@dataclass
class _DialState:
    counts: _Counts = field(default_factory=_Counts)
    attempts: list[_Attempt] = field(default_factory=list)
    sent_ringing: bool = False
    last_cause: HangupCause | None = None


def _leg_status(cause: HangupCause) -> str:
    if cause is HangupCause.USER_BUSY:
        return "BUSY"
    if cause is HangupCause.NORMAL_CIRCUIT_CONGESTION:
        return "CONGESTION"
    if cause in (HangupCause.NO_ANSWER, HangupCause.NORMAL_CLEARING, HangupCause.NO_USER_RESPONSE):
        return "NOANSWER"
    return "CHANUNAVAIL"


def _publish_end(ctx: CallContext, attempt: _Attempt, status: str) -> None:
    if attempt.done:
        return
    attempt.done = True
    bus = ctx.executor.bus
    if bus.active:
        channel = ctx.channel
        bus.publish(DialEnd(channel.name, channel.uniqueid, attempt.leg.name, attempt.leg.uniqueid, status))


async def dial(ctx: CallContext, data: str) -> AppResult:
    """``Dial(Tech/resource[&Tech2/resource2...][,timeout[,options[,URL]]])``."""
    channel = ctx.channel
    args = _dial_args(data)
    if not args or not args[0]:
        log.warning("Dial requires an argument (technology/resource)")
        channel.variables["DIALSTATUS"] = "INVALIDARGS"
        return HANGUP
    timeout: float | None = None
    if len(args) > 1 and args[1].strip():
        try:
            timeout = float(args[1])
        except ValueError:
            timeout = 0.0
        if timeout <= 0:
            log.warning("Dial timeout '%s' is not a positive number of seconds; dialling without one", args[1])
            timeout = None
    flags: set[str] = set()
    option_args: dict[str, str] = {}
    if len(args) > 2 and args[2]:
        try:
            flags, option_args = parse_options(DIAL_OPTIONS, args[2])
        except OptionError:
            log.warning("Dial: cannot parse options '%s' (missing ')'?)", args[2])
            channel.variables["DIALSTATUS"] = "INVALIDARGS"
            return HANGUP
        for letter in sorted(flags - IMPLEMENTED):
            log.debug("Dial option '%s' is accepted but has no effect here", letter)
    state = _DialState()
    started = asyncio.get_running_loop().time()
    for destination in args[0].split("&"):
        destination = destination.strip()
        if "/" not in destination:
            log.warning("Dial argument takes format (technology/resource)")
            continue
        try:
            leg = await ctx.pbx.request(destination, requestor=channel)
        except ChannelUnavailable as exc:
            log.warning("Unable to create channel of type '%s' (cause %d - %s)",
                        destination.split("/")[0], int(exc.cause), exc.cause.description)
            state.counts.handle(exc.cause)
            state.last_cause = exc.cause
            continue
        leg.caller = channel.caller
        leg.linkedid = channel.linkedid
        leg.accountcode = leg.accountcode or channel.accountcode
        inherit_variables(channel, leg)
        attempt = _Attempt(leg, destination)
        bus = ctx.executor.bus
        if bus.active:
            bus.publish(DialBegin(channel.name, channel.uniqueid, leg.name, leg.uniqueid, destination))
        try:
            await leg.call(timeout)  # positional: a keyword argument is matched by name, at some cost
        except ChannelUnavailable as exc:
            log.info("Unable to call %s: %s", destination, exc)
            state.counts.handle(exc.cause)
            state.last_cause = exc.cause
            await leg.hangup(exc.cause)
            _publish_end(ctx, attempt, "CHANUNAVAIL")
            continue
        if log.isEnabledFor(logging.INFO):
            log.info("Called %s", destination)
        state.attempts.append(attempt)
    if not state.attempts:
        status = _everyone_busy_status(state.counts) or "CHANUNAVAIL"
        channel.variables["DIALSTATUS"] = status
        if state.last_cause is not None and ctx.pending_cause is None and not channel.is_hungup:
            # app_dial.c: when the last destination cannot even be requested, its cause becomes the caller's
            # hangup cause (HANGUPCAUSE, and what the caller is refused with).
            ctx.set_hangup_cause(state.last_cause)
        log.info("Everyone is busy/congested at this time (%d:%d/%d/%d)", len(args[0].split("&")),
                 state.counts.busy, state.counts.congestion, state.counts.nochan)
        return CONTINUE
    if "r" in flags:
        await channel.indicate(Indication.RINGING)
        state.sent_ringing = True
    if "m" in flags:
        try:
            await ctx.media.start_tones(channel, "moh")
        except MediaUnavailable as exc:
            log.warning("Dial: no music on hold for %s: %s", channel.name, exc)
    winner = await _wait_for_answer(ctx, channel, state, timeout)
    if winner is None and state.last_cause is not None and ctx.pending_cause is None and not channel.is_hungup:
        # Asterisk leaves the last failed leg's cause on the caller: it is HANGUPCAUSE, and the cause
        # the call ends with if the dialplan just ends.
        ctx.set_hangup_cause(state.last_cause)
    if "m" in flags and ctx.media.available:
        await ctx.media.stop_tones(channel)
    dialed_time = asyncio.get_running_loop().time() - started
    channel.variables["DIALEDTIME"] = str(int(dialed_time))
    if winner is None:
        return HANGUP if channel.is_hungup else CONTINUE
    return await _connect(ctx, channel, state, winner, flags, option_args)


def _dial_args(data: str) -> list[str]:
    """Dial's arguments; the usual ``SIP/1001,30,tT`` (no brackets, quotes or backslashes) is a plain split."""
    if not data:
        return []
    if _ARG_SYNTAX.isdisjoint(data):
        return data.split(",")
    return separate_args(data)


def _everyone_busy_status(counts: _Counts) -> str | None:
    if counts.busy:
        return "BUSY"
    if counts.congestion:
        return "CONGESTION"
    if counts.nochan:
        return "CHANUNAVAIL"
    return None


async def _wait_for_answer(ctx: CallContext, channel: Channel, state: _DialState,
                           timeout: float | None) -> _Attempt | None:
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    while True:
        # One pass over the attempts gives the live ones, those with an event, and the legs to wait on
        # (a loop, not three comprehensions: this runs on every wake-up of every call).
        live: list[_Attempt] = []
        ready: list[_Attempt] = []
        waiting = [channel]
        for attempt in state.attempts:
            if not attempt.done:
                live.append(attempt)
                leg = attempt.leg
                waiting.append(leg)
                if leg.has_event():
                    ready.append(attempt)
        if not live:
            status = None
            if len(state.attempts) == state.counts.busy + state.counts.congestion + state.counts.nochan:
                status = _everyone_busy_status(state.counts)
            channel.variables["DIALSTATUS"] = status or "NOANSWER"
            return None
        if channel.has_event():
            event = channel.poll_event()
            if isinstance(event, HungUp):
                channel.variables["DIALSTATUS"] = "CANCEL"
                await _clear(ctx, live, HangupCause.NORMAL_CLEARING, "CANCEL")
                return None
            continue  # digits from the caller while ringing are not for us
        if not ready:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                log.info("Nobody picked up in %d ms", int((timeout or 0) * 1000))
                channel.variables["DIALSTATUS"] = "NOANSWER"
                await _clear(ctx, live, HangupCause.NO_ANSWER, "NOANSWER")
                return None
            await wait_for_events(waiting, remaining)
            continue
        for attempt in ready:
            event = attempt.leg.poll_event()
            if isinstance(event, Answered):
                if log.isEnabledFor(logging.INFO):
                    log.info("%s answered %s", attempt.leg.name, channel.name)
                return attempt
            if isinstance(event, HungUp):
                state.counts.handle(event.cause)
                state.last_cause = event.cause
                record_dialed_cause(channel, attempt.leg, event.cause)
                _publish_end(ctx, attempt, _leg_status(event.cause))
            elif isinstance(event, IndicationReceived):
                await _on_progress(ctx, channel, state, attempt, event.indication)


async def _on_progress(ctx: CallContext, channel: Channel, state: _DialState, attempt: _Attempt,
                       indication: Indication) -> None:
    if indication is _RINGING:
        if log.isEnabledFor(logging.INFO):
            log.info("%s is ringing", attempt.leg.name)
        if not state.sent_ringing:
            await channel.indicate(Indication.RINGING)
            state.sent_ringing = True
    elif indication in (Indication.PROGRESS, Indication.PROCEEDING):
        await channel.indicate(indication)
    elif indication in (Indication.BUSY, Indication.CONGESTION):
        busy = indication is Indication.BUSY
        log.info("%s is %s", attempt.leg.name, "busy" if busy else "circuit-busy")
        cause = HangupCause.USER_BUSY if busy else HangupCause.NORMAL_CIRCUIT_CONGESTION
        state.counts.handle(cause)
        state.last_cause = cause
        record_dialed_cause(channel, attempt.leg, cause)
        await attempt.leg.hangup(cause)
        _publish_end(ctx, attempt, "BUSY" if busy else "CONGESTION")


async def _clear(ctx: CallContext, attempts: list[_Attempt], cause: HangupCause, status: str) -> None:
    for attempt in attempts:
        await attempt.leg.hangup(cause)
        _publish_end(ctx, attempt, status)


async def _connect(ctx: CallContext, channel: Channel, state: _DialState, winner: _Attempt, flags: set[str],
                   option_args: dict[str, str]) -> AppResult:
    callee = winner.leg
    if len(state.attempts) > 1:  # the usual Dial has one destination: nobody else to clear
        others = [a for a in state.attempts if a is not winner and not a.done]
        await _clear(ctx, others, HangupCause.ANSWERED_ELSEWHERE, "CANCEL")
    _publish_end(ctx, winner, "ANSWER")
    channel.variables["DIALSTATUS"] = "ANSWER"
    channel.variables["DIALEDPEERNAME"] = callee.name
    channel.variables["DIALEDPEERNUMBER"] = winner.destination.split("/", 1)[1]
    if channel.state is not _UP:
        await channel.answer()
    if "U" in flags and option_args.get("U"):
        outcome = await _run_callee_subroutine(ctx, callee, option_args["U"])
        if outcome is not None:
            return outcome
    if "A" in flags and option_args.get("A"):
        try:
            await ctx.media.play(callee, option_args["A"].split("&"), language=callee.language)
        except MediaUnavailable as exc:
            log.warning("Dial: cannot play announcement %s to %s: %s", option_args["A"], callee.name, exc)
    if "D" in flags:
        called, _, calling = option_args.get("D", "").partition(":")
        for target, digits in ((callee, called), (channel, calling)):
            for digit in digits:
                if digit in "wW":
                    await asyncio.sleep(0.5 if digit == "w" else 1.0)
                elif digit in "0123456789*#ABCDabcd":
                    await target.send_digit(digit.upper(), 250)
    limit = _limit_seconds(option_args.get("L", "")) if "L" in flags else None
    answered_at = asyncio.get_running_loop().time()
    bridge = Bridge(ctx.executor.bus, channel, callee)
    result = await (bridge.run() if limit is None else bridge.run(limit_s=limit))
    channel.variables["ANSWEREDTIME"] = str(int(asyncio.get_running_loop().time() - answered_at))
    if result.left is channel:
        await callee.hangup(result.cause)
        return HANGUP
    if not callee.is_hungup:
        await callee.hangup(HangupCause.NORMAL_CLEARING)
    if channel.is_hungup:
        return HANGUP
    return CONTINUE if "g" in flags else HANGUP


def _limit_seconds(text: str) -> float | None:
    first = text.split(":")[0].strip()
    try:
        milliseconds = float(first)
    except ValueError:
        log.warning("Dial: invalid time limit L(%s)", text)
        return None
    return milliseconds / 1000 if milliseconds > 0 else None


async def _run_callee_subroutine(ctx: CallContext, callee: Channel, spec: str) -> AppResult | None:
    """Dial's ``U(context[^arg...])``: a Gosub on the called leg before the two are connected.

    ``GOSUB_RESULT`` decides: ABORT hangs up both, BUSY/CONGESTION refuse the call (and set DIALSTATUS),
    CONTINUE hangs up the callee and the caller goes on, GOTO:[[context^]exten^]priority likewise but
    from there; anything else connects the call.  Returns None to connect.
    """
    name, *args = spec.split("^")
    target = name if ("," in name) else f"{name},s,1"
    await ctx.executor.run_subroutine(callee, target, args)
    outcome = callee.variables.get("GOSUB_RESULT", "")
    verb, _, rest = outcome.partition(":")
    verb = verb.upper()
    if callee.is_hungup and verb not in ("CONTINUE",) and not verb.startswith("GOTO"):
        verb = "ABORT" if not verb else verb
    if verb == "ABORT":
        await callee.hangup(HangupCause.NORMAL_CLEARING)
        return HANGUP
    if verb in ("BUSY", "CONGESTION"):
        await callee.hangup(HangupCause.NORMAL_CLEARING)
        ctx.channel.variables["DIALSTATUS"] = verb
        return CONTINUE
    if verb == "CONTINUE":
        await callee.hangup(HangupCause.NORMAL_CLEARING)
        return CONTINUE
    if verb == "GOTO":
        await callee.hangup(HangupCause.NORMAL_CLEARING)
        ctx.parseable_goto(rest.replace("^", ","))
        return CONTINUE
    return None


async def chan_is_avail(ctx: CallContext, data: str) -> AppResult:
    """``ChanIsAvail([Tech/resource[&...]][,options])``: AVAILCHAN, AVAILORIGCHAN, AVAILSTATUS, AVAILCAUSECODE.

    ``s`` checks device states only, ``a`` reports every available channel, ``t`` additionally requires
    that a channel can be requested (then hangs it up).
    """
    args = separate_args(data) if data else []
    variables = ctx.channel.variables
    if not args or not args[0]:
        log.warning("ChanIsAvail requires an argument (DAHDI/1&DAHDI/2)")
        return HANGUP
    options = args[1] if len(args) > 1 else ""
    available: list[str] = []
    original: list[str] = []
    statuses: list[str] = []
    causes: list[str] = []
    for destination in args[0].split("&"):
        technology, _, resource = destination.partition("/")
        driver = ctx.pbx.driver(technology)
        if driver is None:
            log.warning("No such channel technology '%s'", technology)
            statuses.append(str(int(DeviceState.INVALID)))
            causes.append(str(int(HangupCause.CHAN_NOT_IMPLEMENTED)))
            continue
        device_state = driver.device_state(resource)
        statuses.append(str(int(device_state)))
        if device_state in (DeviceState.INVALID, DeviceState.UNAVAILABLE, DeviceState.INUSE,
                            DeviceState.BUSY, DeviceState.RINGINUSE, DeviceState.ONHOLD):
            causes.append(str(int(HangupCause.USER_BUSY if device_state is DeviceState.BUSY
                                  else HangupCause.REQUESTED_CHAN_UNAVAIL)))
            continue
        if "s" not in options or "t" in options:
            try:
                leg = await ctx.pbx.request(destination, requestor=ctx.channel)
            except ChannelUnavailable as exc:
                causes.append(str(int(exc.cause)))
                continue
            available.append(leg.name)
            await leg.hangup(HangupCause.NORMAL_CLEARING)
        else:
            available.append(destination)
        original.append(destination)
        causes.append("0")
        if "a" not in options:
            break
    variables["AVAILCHAN"] = "&".join(available)
    variables["AVAILORIGCHAN"] = "&".join(original)
    variables["AVAILSTATUS"] = "&".join(statuses)
    variables["AVAILCAUSECODE"] = "&".join(causes)
    return CONTINUE


async def transfer(ctx: CallContext, data: str) -> AppResult:
    """``Transfer([Tech/]destination)``: ask the caller's technology to transfer the call.

    Sets ``TRANSFERSTATUS`` to SUCCESS, FAILURE or UNSUPPORTED (and ``TRANSFERSTATUSPROTOCOL``).
    """
    channel = ctx.channel
    destination = data.strip()
    if not destination:
        log.warning("Transfer requires an argument ([Tech/]destination)")
        channel.variables["TRANSFERSTATUS"] = "FAILURE"
        return CONTINUE
    technology, slash, rest = destination.partition("/")
    if slash:
        if technology.lower() != channel.technology.lower():
            channel.variables["TRANSFERSTATUS"] = "FAILURE"
            return CONTINUE
        destination = rest
    supported = await channel.driver.transfer(channel, destination)
    channel.variables["TRANSFERSTATUS"] = "SUCCESS" if supported else "UNSUPPORTED"
    channel.variables["TRANSFERSTATUSPROTOCOL"] = "0"
    return CONTINUE


def register(registry: ApplicationRegistry) -> None:
    """Add this module's applications."""
    registry.register("Dial", dial, "Attempt to connect to another device or endpoint and bridge the call")
    registry.register("ChanIsAvail", chan_is_avail, "Check channel availability")
    registry.register("Transfer", transfer, "Transfer caller to remote extension")

