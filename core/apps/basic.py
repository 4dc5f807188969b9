"""Basic applications: answering, hanging up, progress, waiting, variables, logging, events, System.

Each follows the Asterisk 20 application of the same name (``main/pbx_builtins.c``, ``apps/app_*.c``):
arguments, defaults, what it returns to the dialplan and which variables it sets.
"""

from __future__ import annotations

import asyncio
import logging
import random
import shlex

from core.causes import HangupCause
from core.channel import ChannelState, Indication
from core.dialplan.args import check_condition, separate_args
from core.dialplan.executor import CONTINUE, HANGUP, ApplicationRegistry, AppResult, CallContext
from core.dialplan.substitute import assign
from core.events import UserEvent
from core.media import MediaUnavailable

log = logging.getLogger("centralita.dialplan")
app_log = logging.getLogger("centralita.dialplan.app")


def _seconds(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value


async def answer(ctx: CallContext, data: str) -> AppResult:
    """``Answer([delay[,nocdr]])``: answer, then wait ``delay`` milliseconds."""
    args = separate_args(data) if data else []
    channel = ctx.channel
    if channel.is_hungup:
        return HANGUP
    await channel.answer()
    delay = _seconds(args[0]) if args and args[0] else None
    if delay and delay > 0:
        if not await ctx.wait(delay / 1000):
            return HANGUP
    return CONTINUE


async def hangup(ctx: CallContext, data: str) -> AppResult:
    """``Hangup([causecode])``: end the call with a Q.850 cause given by number or name."""
    text = data.strip()
    if text:
        try:
            ctx.set_hangup_cause(HangupCause.parse(text))
        except ValueError:
            log.warning('Invalid cause given to Hangup(): "%s"', text)
    return HANGUP


async def _signal(ctx: CallContext, indication: Indication, tones: str) -> None:
    """Indicate toward the caller; when the technology cannot, play the tone in-band."""
    if await ctx.channel.indicate(indication):
        return
    try:
        await ctx.media.start_tones(ctx.channel, tones)
    except MediaUnavailable as exc:
        log.warning("%s: cannot play %s tone in-band: %s", ctx.channel.name, tones, exc)


async def _wait_for_hangup(ctx: CallContext, data: str) -> AppResult:
    timeout = _seconds(data) if data.strip() else None
    await ctx.wait(timeout if timeout and timeout > 0 else None)
    return HANGUP


async def busy(ctx: CallContext, data: str) -> AppResult:
    """``Busy([timeout])``: indicate busy; an unanswered call gets cause 17, then wait for the hang-up."""
    await _signal(ctx, Indication.BUSY, "busy")
    if ctx.channel.state is not ChannelState.UP:
        ctx.set_hangup_cause(HangupCause.USER_BUSY)
        ctx.channel.set_state(ChannelState.BUSY)
    return await _wait_for_hangup(ctx, data)


async def congestion(ctx: CallContext, data: str) -> AppResult:
    """``Congestion([timeout])``: indicate congestion; an unanswered call gets cause 34."""
    await _signal(ctx, Indication.CONGESTION, "congestion")
    if ctx.channel.state is not ChannelState.UP:
        ctx.set_hangup_cause(HangupCause.NORMAL_CIRCUIT_CONGESTION)
        ctx.channel.set_state(ChannelState.BUSY)
    return await _wait_for_hangup(ctx, data)


async def progress(ctx: CallContext, data: str) -> AppResult:
    """``Progress()``: early media / in-band progress toward the caller (183 on SIP)."""
    await ctx.channel.indicate(Indication.PROGRESS)
    return CONTINUE


async def ringing(ctx: CallContext, data: str) -> AppResult:
    """``Ringing()``: tell the caller the far end is ringing (180 on SIP, ringback on analog)."""
    await _signal(ctx, Indication.RINGING, "ring")
    return CONTINUE


async def wait(ctx: CallContext, data: str) -> AppResult:
    """``Wait(seconds)``: pause; digits pressed meanwhile are discarded."""
    seconds = _seconds(data.strip()) if data.strip() else None
    if seconds is None or seconds <= 0:
        if data.strip():
            log.warning("Wait() requires a positive number of seconds, got '%s'", data)
        return CONTINUE
    return CONTINUE if await ctx.wait(seconds) else HANGUP


async def noop(ctx: CallContext, data: str) -> AppResult:
    """``NoOp(text)``: nothing; the substituted text shows in the debug log."""
    log.debug("NoOp(%s) on %s", data, ctx.channel.name)
    return CONTINUE


async def verbose(ctx: CallContext, data: str) -> AppResult:
    """``Verbose([level,]message)``: the message in the log."""
    level, sep, message = data.partition(",")
    if not sep or not level.strip().isdigit():
        message = data
    app_log.info("%s", message)
    return CONTINUE


_LOG_LEVELS = {"ERROR": logging.ERROR, "WARNING": logging.WARNING, "NOTICE": logging.INFO,
               "DEBUG": logging.DEBUG, "VERBOSE": logging.INFO, "DTMF": logging.DEBUG}


async def log_app(ctx: CallContext, data: str) -> AppResult:
    """``Log(level,message)``: level ERROR, WARNING, NOTICE, DEBUG, VERBOSE or DTMF."""
    level, sep, message = data.partition(",")
    if not sep:
        log.warning("Log() requires a level and a message")
        return CONTINUE
    app_log.log(_LOG_LEVELS.get(level.strip().upper(), logging.INFO), "[%s] %s", ctx.channel.name, message)
    return CONTINUE


async def set_app(ctx: CallContext, data: str) -> AppResult:
    """``Set(name=value)``: a channel variable, an inherited ``_name``/``__name``, or a function."""
    if not data:
        log.warning("Set requires one variable name/value pair.")
        return CONTINUE
    name, sep, value = data.partition("=")
    if not sep:
        log.warning("Set requires an '=' to be a valid assignment.")
        return CONTINUE
    if " " in name:
        log.warning("Please avoid unnecessary spaces on variables as it may lead to unexpected results "
                    "('%s' set to '%s').", name, value)
    assign(ctx, name, value)
    return CONTINUE


async def mset(ctx: CallContext, data: str) -> AppResult:
    """``MSet(name1=value1,name2=value2,...)``: several at once (quotes are removed)."""
    if not data:
        log.warning("MSet requires at least one variable name/value pair.")
        return CONTINUE
    for pair in separate_args(data):
        parts = separate_args(pair, "=", limit=2)
        if len(parts) == 2:
            assign(ctx, parts[0], parts[1])
        else:
            log.warning("MSet: ignoring entry '%s' with no '='", pair)
    return CONTINUE


async def random_app(ctx: CallContext, data: str) -> AppResult:
    """``Random([probability]:[[context,]extension,]priority)``: jump with the given % probability."""
    probability_text, sep, target = data.partition(":")
    if not sep or not target:
        log.warning("Random requires an argument ([probability]:[[context|]extension|]priority)")
        return CONTINUE
    try:
        probability = int(probability_text) if probability_text else 0
    except ValueError:
        probability = 0
    probability = max(0, min(100, probability))
    if random.random() * 100 < probability:
        return CONTINUE if ctx.parseable_goto(target) else HANGUP
    return CONTINUE


async def user_event(ctx: CallContext, data: str) -> AppResult:
    """``UserEvent(eventname[,body])``: publish a named event with ``key: value`` fields (AMI sees it)."""
    args = separate_args(data)
    if not args or not args[0]:
        log.warning("UserEvent requires an argument (eventname[,body])")
        return HANGUP
    fields: list[tuple[str, str]] = []
    for item in args[1:]:
        key, sep, value = item.partition(":")
        if sep:
            fields.append((key.strip(), value.strip()))
        elif item:
            fields.append(("Body", item))
    channel = ctx.channel
    ctx.executor.bus.publish(UserEvent(channel.name, channel.uniqueid, args[0], tuple(fields)))
    return CONTINUE


async def soft_hangup(ctx: CallContext, data: str) -> AppResult:
    """``SoftHangup(Technology/Resource[,a])``: hang up that channel (``a``: every channel of the device)."""
    args = separate_args(data)
    if not args or not args[0]:
        log.warning("SoftHangup requires an argument (Technology/resource)")
        return CONTINUE
    target = args[0].lower()
    everything = len(args) > 1 and "a" in args[1]
    for channel in ctx.pbx.channels:
        # With "a" the unique suffix is cut (Foo/Bar-0000001a -> Foo/Bar), so every call of the device matches.
        name = channel.name.rsplit("-", 1)[0] if everything and "-" in channel.name else channel.name
        if name.lower() != target:
            continue
        log.warning("Soft hanging %s up.", channel.name)
        # Whatever that channel's dialplan waits on sees the hang-up and ends; its "h" still runs.
        await channel.hangup(HangupCause.NORMAL_CLEARING)
        if not everything:
            break
    return CONTINUE


async def _system(ctx: CallContext, data: str, *, try_mode: bool) -> AppResult:
    channel = ctx.channel
    if not ctx.options.allow_system:
        log.error("%s(): disabled by configuration (set dialplan.allow_system = true to allow it)",
                  "TrySystem" if try_mode else "System")
        channel.variables["SYSTEMSTATUS"] = "FAILURE"
        return CONTINUE if try_mode else HANGUP
    try:
        argv = shlex.split(data)
    except ValueError as exc:
        log.warning("System: cannot parse command line '%s': %s", data, exc)
        argv = []
    if not argv:
        channel.variables["SYSTEMSTATUS"] = "FAILURE"
        return CONTINUE if try_mode else HANGUP
    try:
        process = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                       stdout=asyncio.subprocess.DEVNULL,
                                                       stderr=asyncio.subprocess.DEVNULL)
        status = await process.wait()
    except OSError as exc:
        log.warning("Unable to execute '%s': %s", data, exc)
        channel.variables["SYSTEMSTATUS"] = "FAILURE"
        return CONTINUE if try_mode else HANGUP
    channel.variables["SYSTEMSTATUS"] = "SUCCESS" if status == 0 else "APPERROR"
    return CONTINUE


async def system(ctx: CallContext, data: str) -> AppResult:
    """``System(command)``: run a program (never through a shell); off unless configured."""
    return await _system(ctx, data, try_mode=False)


async def try_system(ctx: CallContext, data: str) -> AppResult:
    """``TrySystem(command)``: like System, but a failure does not end the call."""
    return await _system(ctx, data, try_mode=True)


async def exec_if(ctx: CallContext, data: str) -> AppResult:
    """``ExecIf(expression?appiftrue(args)[:appiffalse(args)])``."""
    parts = separate_args(data, "?", limit=2)
    condition = parts[0] if parts else ""
    remainder = parts[1] if len(parts) > 1 else ""
    apps = separate_args(remainder, ":", limit=2) if remainder else []
    chosen = (apps[0] if apps else "") if check_condition(condition) else (apps[1] if len(apps) > 1 else "")
    if not chosen:
        return CONTINUE
    name, paren, rest = chosen.partition("(")
    args = ""
    if paren:
        end = rest.rfind(")")
        args = (rest[:end] if end >= 0 else rest).rstrip()
    name = name.strip()
    if ctx.executor.applications.get(name) is None:
        log.warning("Could not find application! (%s)", name)
        return HANGUP
    return await ctx.run_application(name, args)


async def hangup_cause_clear(ctx: CallContext, data: str) -> AppResult:
    """``HangupCauseClear()`` (funcs/func_hangupcause.c): forget the dialled legs' causes ``HANGUPCAUSE`` reads."""
    from core.dialplan.functions.extras import extras  # noqa: PLC0415 - only dialplans that use it load it

    extras(ctx.channel).dialed_causes.clear()
    return CONTINUE


def register(registry: ApplicationRegistry) -> None:
    """Add this module's applications."""
    for name, handler, synopsis in (
        ("Answer", answer, "Answer a channel if ringing"),
        ("Hangup", hangup, "Hang up the calling channel"),
        ("Busy", busy, "Indicate the Busy condition"),
        ("Congestion", congestion, "Indicate the Congestion condition"),
        ("Progress", progress, "Indicate progress"),
        ("Ringing", ringing, "Indicate ringing tone"),
        ("Wait", wait, "Waits for some time"),
        ("NoOp", noop, "Do Nothing (No Operation)"),
        ("Verbose", verbose, "Send arbitrary text to verbose output"),
        ("Log", log_app, "Send arbitrary text to a selected log level"),
        ("Set", set_app, "Set channel variable or function value"),
        ("MSet", mset, "Set channel variable(s) or function value(s)"),
        ("Random", random_app, "Conditionally branches, based upon a probability"),
        ("UserEvent", user_event, "Send an arbitrary user-defined event"),
        ("SoftHangup", soft_hangup, "Hangs up the requested channel"),
        ("System", system, "Execute a system command"),
        ("TrySystem", try_system, "Try executing a system command"),
        ("ExecIf", exec_if, "Executes dialplan application, conditionally"),
        ("HangupCauseClear", hangup_cause_clear, "Clears hangup cause information from the channel that is available "
         "through HANGUPCAUSE."),
    ):
        registry.register(name, handler, synopsis)
