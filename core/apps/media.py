"""Applications that need audio: prompts, digits collection, tones, echo, milliwatt, DTMF, recording.

They ask the media engine (``core.media.MediaEngine``) for audio.  A build without one answers with
:class:`~core.media.MediaUnavailable`; each application then fails the way Asterisk fails when it cannot
play or record (an error in the log, ``PLAYBACKSTATUS=FAILED`` and so on), never pretending.
"""

from __future__ import annotations

import asyncio
import logging

from core.apps import say
from core.channel import DTMF_DIGITS, ChannelState, Indication
from core.dialplan.args import OptionError, parse_options, scan_int_value, separate_args
from core.dialplan.executor import CONTINUE, HANGUP, ApplicationRegistry, AppResult, CallContext
from core.media import MediaUnavailable

log = logging.getLogger("centralita.dialplan")


async def _prepare(ctx: CallContext, options: str, *, answer_default: bool = True) -> bool | None:
    """Asterisk's ``skip``/``noanswer`` handling: None means skip the application."""
    channel = ctx.channel
    if channel.state is not ChannelState.UP:
        if "skip" in options or options == "s":
            return None
        if "noanswer" not in options and options != "n" and answer_default:
            await channel.answer()
    return True


async def _play(ctx: CallContext, files: list[str], interrupt: str = "") -> str | None | bool:
    """Play; the interrupting digit, None when played through, False when it could not play."""
    try:
        result = await ctx.media.play(ctx.channel, files, interrupt_digits=interrupt, language=ctx.channel.language)
    except MediaUnavailable as exc:
        log.error("Cannot play %s on %s: %s", "&".join(files), ctx.channel.name, exc)
        return False
    return result.digit


async def playback(ctx: CallContext, data: str) -> AppResult:
    """``Playback(filename[&filename2...][,options])``: ``PLAYBACKSTATUS`` SUCCESS or FAILED."""
    args = separate_args(data) if data else []
    if not args or not args[0]:
        log.warning("Playback requires an argument (filename)")
        return HANGUP
    options = args[1] if len(args) > 1 else ""
    if await _prepare(ctx, options) is None:
        ctx.channel.variables["PLAYBACKSTATUS"] = "SUCCESS"
        return CONTINUE
    outcome = await _play(ctx, args[0].split("&"))
    if ctx.channel.is_hungup:
        return HANGUP
    ctx.channel.variables["PLAYBACKSTATUS"] = "FAILED" if outcome is False else "SUCCESS"
    return CONTINUE


async def background(ctx: CallContext, data: str) -> AppResult:
    """``Background(filename[&...][,options[,langoverride[,context]]])``: a digit starts an extension."""
    args = separate_args(data) if data else []
    if not args or not args[0]:
        log.warning("Background requires an argument (filename)")
        return HANGUP
    options = args[1] if len(args) > 1 else ""
    if await _prepare(ctx, options) is None:
        ctx.channel.variables["BACKGROUNDSTATUS"] = "SUCCESS"
        return CONTINUE
    outcome = await _play(ctx, args[0].split("&"), interrupt="0123456789*#ABCD")
    if ctx.channel.is_hungup:
        return HANGUP
    ctx.channel.variables["BACKGROUNDSTATUS"] = "FAILED" if outcome is False else "SUCCESS"
    if isinstance(outcome, str):
        if len(args) > 3 and args[3]:
            ctx.channel.context = args[3]
        return outcome
    return CONTINUE


async def read(ctx: CallContext, data: str) -> AppResult:
    """``Read(variable[,filename[&...]][,maxdigits][,options][,attempts][,timeout])``: ``READSTATUS``."""
    args = separate_args(data) if data else []
    channel = ctx.channel
    if not args or not args[0]:
        log.warning("Read requires an argument (variable)")
        return CONTINUE
    variable = args[0]
    prompt = args[1] if len(args) > 1 else ""
    max_digits = scan_int_value(args[2]) if len(args) > 2 and args[2] else 0
    if not max_digits or max_digits < 0 or max_digits > 255:
        max_digits = 255
    try:
        flags, _ = parse_options({"s": False, "i": False, "n": False, "t": True, "e": False}, args[3]) \
            if len(args) > 3 and args[3] else (set(), {})
    except OptionError:
        log.warning("Read: cannot parse options '%s'", args[3])
        channel.variables["READSTATUS"] = "ERROR"
        return HANGUP
    attempts = scan_int_value(args[4]) if len(args) > 4 and args[4] else 1
    attempts = attempts if attempts and attempts > 0 else 1
    timeout = ctx.timeouts.digit
    if len(args) > 5 and args[5]:
        try:
            value = float(args[5])
            if value > 0:
                timeout = value
        except ValueError:
            pass
    if channel.state is not ChannelState.UP:
        if "s" in flags:
            channel.variables["READSTATUS"] = "SKIPPED"
            return CONTINUE
        if "n" not in flags:
            await channel.answer()
    status = "TIMEOUT"
    digits = ""
    for _attempt in range(attempts):
        digits = ""
        first: str | None = None
        if prompt:
            outcome = await _play(ctx, prompt.split("&"), interrupt="0123456789*#ABCD")
            if outcome is False:
                status = "ERROR"
            elif isinstance(outcome, str):
                first = outcome
        while len(digits) < max_digits:
            digit = first if first is not None else await ctx.wait_digit(timeout)
            first = None
            if digit is False:
                channel.variables[variable] = digits
                channel.variables["READSTATUS"] = "HANGUP"
                return HANGUP
            if digit is None:
                break
            assert isinstance(digit, str)
            if digit == "#":
                status = "OK"
                break
            digits += digit
        else:
            status = "OK"
        if digits:
            status = "OK"
            break
    channel.variables[variable] = digits
    channel.variables["READSTATUS"] = status
    return CONTINUE


def _say_app(make: object, name: str) -> object:
    async def handler(ctx: CallContext, data: str) -> AppResult:
        args = separate_args(data) if data else []
        text = args[0] if args else ""
        try:
            files = make(text)  # type: ignore[operator]
        except ValueError as exc:
            log.warning("%s: %s", name, exc)
            return CONTINUE
        if not files:
            return CONTINUE
        outcome = await _play(ctx, files, interrupt="0123456789*#")
        if ctx.channel.is_hungup:
            return HANGUP
        return outcome if isinstance(outcome, str) else CONTINUE

    handler.__doc__ = f"``{name}(...)``: say it with the English prompts."
    return handler


def _number(text: str) -> list[str]:
    number = scan_int_value(text)
    if number is None:
        raise ValueError(f"'{text}' is not a number")
    return say.number_files(number)


async def say_unix_time(ctx: CallContext, data: str) -> AppResult:
    """``SayUnixTime([unixtime[,timezone[,format]]])``."""
    args = separate_args(data) if data else []
    epoch = float(scan_int_value(args[0]) or 0) if args and args[0] else ctx.wallclock()
    timezone = args[1] if len(args) > 1 else ""
    fmt = args[2] if len(args) > 2 and args[2] else say.DEFAULT_TIME_FORMAT
    outcome = await _play(ctx, say.time_files(epoch, timezone, fmt), interrupt="0123456789*#")
    if ctx.channel.is_hungup:
        return HANGUP
    return outcome if isinstance(outcome, str) else CONTINUE


async def echo(ctx: CallContext, data: str) -> AppResult:
    """``Echo()``: the caller hears themselves until they hang up (``#`` ends it)."""
    await ctx.media.echo(ctx.channel)
    return HANGUP if ctx.channel.is_hungup else CONTINUE


async def confbridge(ctx: CallContext, data: str) -> AppResult:
    """``ConfBridge(conference[,bridge_profile[,user_profile[,menu]]])``: join the named room, where every
    party hears all the others, until hanging up; ``CONFBRIDGE_RESULT`` as app_confbridge sets it (the
    profiles and menus of confbridge.conf are not supported: their names are ignored with a warning)."""
    channel = ctx.channel
    args = separate_args(data)
    room = args[0].strip() if args and args[0].strip() else ""
    if not room or "/" in room:
        log.warning("ConfBridge requires an argument (the name of the conference bridge)")
        channel.variables["CONFBRIDGE_RESULT"] = "FAILED"
        return CONTINUE
    if any(arg.strip() for arg in args[1:]):
        log.warning("ConfBridge: profiles and menus (%s) are not supported; using the defaults", ",".join(args[1:]))
    if channel.state is not ChannelState.UP:
        await channel.answer()
    try:
        result = await ctx.media.conference(channel, room)
    except MediaUnavailable as exc:
        log.error("ConfBridge %s on %s: %s", room, channel.name, exc)
        channel.variables["CONFBRIDGE_RESULT"] = "FAILED"
        return CONTINUE
    channel.variables["CONFBRIDGE_RESULT"] = result
    return HANGUP if channel.is_hungup else CONTINUE


async def milliwatt(ctx: CallContext, data: str) -> AppResult:
    """``Milliwatt([o])``: the 1004 Hz 0 dBm0 test tone (``o``: the old 1000 Hz digital milliwatt), as
    Asterisk 20's app_milliwatt."""
    if ctx.channel.state is not ChannelState.UP:
        await ctx.channel.answer()
    await ctx.media.milliwatt(ctx.channel, old_style="o" in data)
    return HANGUP


async def playtones(ctx: CallContext, data: str) -> AppResult:
    """``Playtones(arg)``: a tone list or an indication name (``busy``, ``ring``...), until StopPlaytones."""
    if not data:
        log.warning("Playtones requires an argument (tone name or tone list)")
        return CONTINUE
    try:
        await ctx.media.start_tones(ctx.channel, data)
    except MediaUnavailable as exc:
        log.error("Unable to start playtones on %s: %s", ctx.channel.name, exc)
    return CONTINUE


async def stop_playtones(ctx: CallContext, data: str) -> AppResult:
    """``StopPlaytones()``."""
    try:
        await ctx.media.stop_tones(ctx.channel)
    except MediaUnavailable as exc:
        log.error("Unable to stop playtones on %s: %s", ctx.channel.name, exc)
    return CONTINUE


async def send_dtmf(ctx: CallContext, data: str) -> AppResult:
    """``SendDTMF(digits[,timeout_ms[,duration_ms[,channel]]])``: ``w`` waits 0.5 s, ``W`` 1 s, ``f`` flashes."""
    args = separate_args(data) if data else []
    if not args or not args[0]:
        log.warning("SendDTMF requires an argument")
        return CONTINUE
    between = (scan_int_value(args[1]) or 250) / 1000 if len(args) > 1 and args[1] else 0.25
    duration = scan_int_value(args[2]) or 100 if len(args) > 2 and args[2] else 100
    target = ctx.channel
    if len(args) > 3 and args[3]:
        other = ctx.pbx.find_channel(args[3])
        if other is None:
            log.warning("No such channel: %s", args[3])
            return CONTINUE
        target = other
    for ch in args[0]:
        if ch in "wW":
            await asyncio.sleep(0.5 if ch == "w" else 1.0)
            continue
        if ch in "fF":
            await target.indicate(Indication.FLASH)
            continue
        digit = ch.upper()
        if digit not in DTMF_DIGITS:
            log.warning("Illegal DTMF character '%s' in string. (0-9*#aAbBcCdD allowed)", ch)
            continue
        if not await target.send_digit(digit, duration):
            try:
                await ctx.media.send_inband_dtmf(target, digit, duration)
            except MediaUnavailable as exc:
                log.error("SendDTMF: %s cannot carry DTMF out of band and %s", target.name, exc)
                return CONTINUE
        await asyncio.sleep(between)
    return CONTINUE


async def record(ctx: CallContext, data: str) -> AppResult:
    """``Record(filename.format[,silence[,maxduration[,options]]])``: ``RECORD_STATUS``, ``RECORDED_FILE``."""
    args = separate_args(data) if data else []
    channel = ctx.channel
    if not args or "." not in args[0]:
        log.warning("Record requires an argument (filename.format)")
        channel.variables["RECORD_STATUS"] = "ERROR"
        return HANGUP
    silence = float(scan_int_value(args[1]) or 0) if len(args) > 1 and args[1] else 0.0
    max_s = float(scan_int_value(args[2]) or 0) if len(args) > 2 and args[2] else 0.0
    options = args[3] if len(args) > 3 else ""
    if channel.state is not ChannelState.UP:
        if "s" in options:
            channel.variables["RECORD_STATUS"] = "SKIP"
            return CONTINUE
        if "n" not in options:
            await channel.answer()
    path = args[0]
    if "%d" in path:
        count = 0
        while ctx.media.sound_exists(path.replace("%d", str(count)).rsplit(".", 1)[0], channel.language):
            count += 1
        path = path.replace("%d", str(count))
    result = await ctx.media.record(channel, path, silence_s=silence, max_s=max_s,
                                    terminators="*#" if "t" in options else "#", beep="q" not in options)
    channel.variables["RECORDED_FILE"] = path.rsplit(".", 1)[0]
    channel.variables["RECORD_STATUS"] = result.status
    return HANGUP if result.status == "HANGUP" else CONTINUE


def register(registry: ApplicationRegistry) -> None:
    """Add this module's applications."""
    registry.register("Playback", playback, "Play a file")
    registry.register("Background", background, "Play an audio file while waiting for digits of an extension")
    registry.register("Read", read, "Read a variable")
    registry.register("SayDigits", _say_app(say.digit_files, "SayDigits"), "Say Digits")  # type: ignore[arg-type]
    registry.register("SayNumber", _say_app(_number, "SayNumber"), "Say Number")  # type: ignore[arg-type]
    registry.register("SayAlpha", _say_app(say.alpha_files, "SayAlpha"), "Say Alpha")  # type: ignore[arg-type]
    registry.register("SayPhonetic", _say_app(say.phonetic_files, "SayPhonetic"),  # type: ignore[arg-type]
                      "Say Phonetic")
    registry.register("SayUnixTime", say_unix_time, "Says a specified time in a custom format")
    registry.register("Echo", echo, "Echo media, DTMF back to the calling party")
    registry.register("ConfBridge", confbridge, "Conference bridge application")
    registry.register("Milliwatt", milliwatt, "Generates a 1004 Hz test tone at 0dbm (mu-law)")
    registry.register("Playtones", playtones, "Play a tone list")
    registry.register("StopPlaytones", stop_playtones, "Stop playing a tone list")
    registry.register("SendDTMF", send_dtmf, "Sends arbitrary DTMF digits")
    registry.register("Record", record, "Record to a file")
