"""Dialplan flow control: Goto and friends, Gosub/Return, Macro, While loops, WaitExten.

Semantics follow Asterisk 20: ``pbx_builtin_goto``/``gotoif``/``gotoiftime`` and ``waitexten`` in
``main/pbx_builtins.c``, ``apps/app_stack.c`` (Gosub), ``apps/app_macro.c`` and ``apps/app_while.c``.
Positions change the way the PBX loop expects: a jump sets the priority one below its target because the
loop steps to the next priority after every application that returns 0.
"""

from __future__ import annotations

import logging

from core.dialplan.args import check_condition, scan_int_value, separate_args
from core.dialplan.executor import CONTINUE, HANGUP, ApplicationRegistry, AppResult, CallContext
from core.dialplan.runtime import GosubFrame
from core.dialplan.timing import TimeSpec, TimingError

log = logging.getLogger("centralita.dialplan")

MACRO_EXIT = 1_000_001
"""What MacroExit returns to the Macro running it (Asterisk's MACRO_EXIT_RESULT)."""

MAX_MACRO_DEPTH = 7


async def goto(ctx: CallContext, data: str) -> AppResult:
    """``Goto([[context,]extension,]priority)``; the priority may be a label or ``+n``/``-n``."""
    if not data:
        log.warning("Goto requires an argument ([[context,]extension,]priority)")
        return HANGUP
    if not ctx.parseable_goto(data):
        return HANGUP
    channel = ctx.channel
    log.info("Goto (%s,%s,%d)", channel.context, channel.exten, channel.priority + 1)
    return CONTINUE


async def goto_if(ctx: CallContext, data: str) -> AppResult:
    """``GotoIf(condition?[labeliftrue]:[labeliffalse])``: an empty branch means "go on"."""
    if not data:
        log.warning("Ignoring, since there is no variable to check")
        return CONTINUE
    condition, _, branches = data.partition("?")
    branch1, _, branch2 = branches.partition(":")
    branch = branch1 if check_condition(condition) else branch2
    if not branch:
        log.debug("Not taking any branch")
        return CONTINUE
    return await goto(ctx, branch)


async def goto_if_time(ctx: CallContext, data: str) -> AppResult:
    """``GotoIfTime(times,weekdays,mdays,months[,timezone]?[labeliftrue]:[labeliffalse])``."""
    if not data:
        log.warning("GotoIfTime requires an argument: <time range>,<days of week>,<days of month>,<months>"
                    "[,<timezone>]?'labeliftrue':'labeliffalse'")
        return HANGUP
    spec_text, _, branches = data.partition("?")
    branch1, _, branch2 = branches.partition(":")
    try:
        matches = TimeSpec.parse(spec_text).matches(ctx.wallclock())
    except TimingError as exc:
        log.warning("GotoIfTime: %s", exc)
        matches = False
    branch = branch1 if matches else branch2
    if not branch:
        log.debug("Not taking any branch")
        return CONTINUE
    return await goto(ctx, branch)


# -- Gosub ----------------------------------------------------------------------------------------------

def _split_label(data: str) -> tuple[str, list[str] | None]:
    label, paren, rest = data.partition("(")
    if not paren:
        return label, None
    end = rest.rfind(")")
    if end < 0:
        log.warning("Ouch.  No closing paren: '%s'?", data)
    else:
        rest = rest[:end]
    return label, separate_args(rest, remove_chars=False)


async def gosub(ctx: CallContext, data: str) -> AppResult:
    """``Gosub([[context,]exten,]priority[(arg1[,...][,argN])])``: call a subroutine.

    ``ARG1``..``ARGn`` and ``ARGC`` are set as local variables of the new frame (arguments of an outer
    Gosub beyond this call's count are masked with empty values); ``Return`` restores them.
    """
    return await _gosub(ctx, data, special=False)


async def _gosub(ctx: CallContext, data: str, *, special: bool) -> AppResult:
    if not data:
        log.error("Gosub requires an argument: Gosub([[context,]exten,]priority[(arg1[,...][,argN])])")
        return HANGUP
    channel = ctx.channel
    label, args = _split_label(data)
    args = args or []
    previous = ctx.frames[-1].arg_count if ctx.frames else 0
    origin = (channel.context, channel.exten, channel.priority)
    if not ctx.parseable_goto(label):
        log.error("Gosub address is invalid: '%s'", data)
        return HANGUP
    if not ctx.exists(channel.context, channel.exten, channel.priority + 1):
        log.error("Gosub attempted to reach non-existent destination '%s,%s,%d' from '%s,%s,%d'.",
                  channel.context, channel.exten, channel.priority + 1, *origin)
        channel.context, channel.exten, channel.priority = origin
        return HANGUP
    frame = GosubFrame(origin[0], origin[1], origin[2] + 1, arg_count=len(args), special=special)
    variables = channel.variables
    for i in range(max(len(args), previous)):
        name = f"ARG{i + 1}"
        frame.localize(variables, name)
        variables[name] = args[i] if i < len(args) else ""
    frame.localize(variables, "ARGC")
    variables["ARGC"] = str(len(args))
    ctx.frames.append(frame)
    return CONTINUE


async def gosub_if(ctx: CallContext, data: str) -> AppResult:
    """``GosubIf(condition?labeliftrue[(args)][:labeliffalse[(args)]])``."""
    parts = separate_args(data, "?", remove_chars=False, limit=2) if data else []
    if len(parts) != 2:
        log.warning("GosubIf requires an argument: GosubIf(cond?label1(args):label2(args)")
        return CONTINUE
    labels = separate_args(parts[1], ":", remove_chars=False, limit=2)
    if check_condition(parts[0]):
        return await gosub(ctx, labels[0]) if labels and labels[0] else CONTINUE
    return await gosub(ctx, labels[1]) if len(labels) > 1 and labels[1] else CONTINUE


async def return_app(ctx: CallContext, data: str) -> AppResult:
    """``Return([value])``: back to the priority after the Gosub; ``GOSUB_RETVAL`` gets ``value``."""
    if not ctx.frames:
        log.error("Return without Gosub: stack is empty")
        return HANGUP
    frame = ctx.frames.pop()
    channel = ctx.channel
    channel.context, channel.exten, channel.priority = (frame.return_context, frame.return_exten,
                                                        frame.return_priority - 1)
    frame.restore(channel.variables)
    channel.variables["GOSUB_RETVAL"] = data
    return HANGUP if frame.special else CONTINUE


async def stack_pop(ctx: CallContext, data: str) -> AppResult:
    """``StackPop()``: forget the innermost Gosub return address (its local variables are restored)."""
    if not ctx.frames:
        log.debug("StackPop called with no gosub stack allocated.")
        return CONTINUE
    frame = ctx.frames.pop()
    frame.restore(ctx.channel.variables)
    return CONTINUE


# -- Macro (legacy) -------------------------------------------------------------------------------------

_MACRO_VARIABLES = ("MACRO_EXTEN", "MACRO_CONTEXT", "MACRO_PRIORITY", "MACRO_OFFSET", "MACRO_DEPTH")


async def macro(ctx: CallContext, data: str) -> AppResult:
    """``Macro(name[,arg1[,arg2...]])``: run ``[macro-name]`` from ``s`` with ``ARGn``/``MACRO_*`` set."""
    if not data:
        log.warning('Macro() requires arguments. See "core show application macro" for help.')
        return HANGUP
    channel = ctx.channel
    variables = channel.variables
    depth = scan_int_value(variables.get("MACRO_DEPTH", "0")) or 0
    max_depth = scan_int_value(variables.get("MACRO_RECURSION", str(MAX_MACRO_DEPTH))) or MAX_MACRO_DEPTH
    if depth >= max_depth:
        log.error("Macro():  possible infinite loop detected.  Returning early.")
        return CONTINUE
    args = separate_args(data)
    name, macro_args = args[0], args[1:]
    full = f"macro-{name}"
    if not ctx.exists(full, "s", 1):
        if ctx.index.context(full) is None:
            log.warning("No such context '%s' for macro '%s'. Was called by %s@%s",
                        full, name, channel.exten, channel.context)
        else:
            log.warning("Context '%s' for macro '%s' lacks 's' extension, priority 1", full, name)
        return CONTINUE
    saved = {key: variables.get(key) for key in _MACRO_VARIABLES}
    old_arg_count = 0
    while f"ARG{old_arg_count + 1}" in variables:
        old_arg_count += 1
    saved_args = {f"ARG{i}": variables.get(f"ARG{i}") for i in range(1, max(old_arg_count, len(macro_args)) + 1)}
    origin = (channel.context, channel.exten, channel.priority)
    variables["MACRO_EXTEN"] = channel.exten
    variables["MACRO_CONTEXT"] = channel.context
    variables["MACRO_PRIORITY"] = str(channel.priority)
    variables["MACRO_DEPTH"] = str(depth + 1)
    variables.pop("MACRO_OFFSET", None)
    for i in range(1, max(old_arg_count, len(macro_args)) + 1):
        if i <= len(macro_args):
            variables[f"ARG{i}"] = macro_args[i - 1]
        else:
            variables.pop(f"ARG{i}", None)
    channel.context, channel.exten, channel.priority = full, "s", 1
    result = await ctx.executor.run_priorities(ctx)
    if result == MACRO_EXIT:
        result = CONTINUE
    offset_text = variables.get("MACRO_OFFSET")
    for key, value in {**saved, **saved_args}.items():
        if value is None:
            variables.pop(key, None)
        else:
            variables[key] = value
    if channel.context == full:
        channel.context, channel.exten, channel.priority = origin
        offset = scan_int_value(offset_text) if offset_text else None
        if offset is not None and ctx.exists(channel.context, channel.exten, channel.priority + offset + 1):
            channel.priority += offset
    return result


async def macro_exit(ctx: CallContext, data: str) -> AppResult:
    """``MacroExit()``: leave the running macro."""
    return MACRO_EXIT


# -- While loops ----------------------------------------------------------------------------------------

def _find_matching_endwhile(ctx: CallContext) -> int:
    channel = ctx.channel
    priority, level = channel.priority + 1, 1
    while True:
        hit = ctx.index.find(channel.context, channel.exten, priority=priority, caller=ctx.caller_number,
                             now=ctx.wallclock())
        if hit is None or hit.priority is None:
            return 0
        app = hit.priority.app.lower()
        if app == "while":
            level += 1
        elif app == "endwhile":
            level -= 1
        if level == 0:
            return priority
        priority += 1


def _while(ctx: CallContext, data: str, end: int) -> AppResult:
    """``app_while``'s logic: ``end`` is 0 for While, 1 for EndWhile, 2 for ExitWhile."""
    channel = ctx.channel
    loops = ctx.loops
    used = -1
    while f"WHILE_{used + 1}" in loops:
        used += 1
    here = f"{channel.context}_{channel.exten}_{channel.priority}"
    if end:
        label = str(used)
    elif here in loops:
        label = loops[here]
    else:
        label = str(used + 1)
        loops[here] = label
    name = f"WHILE_{label}"
    end_name = f"END_{name}"
    start = loops.get(name)
    if (not end and not check_condition(data)) or end == 2:
        loops.pop(name, None)
        loops.pop(here, None)
        after = loops.pop(end_name, None)
        if after:
            ctx.parseable_goto(after)
        else:
            priority = _find_matching_endwhile(ctx)
            if priority > 0:
                channel.priority = priority
            else:
                log.warning("Couldn't find matching EndWhile? (While at %s@%s priority %d)",
                            channel.context, channel.exten, channel.priority)
        return CONTINUE
    if not end and start is None:
        loops[name] = f"{channel.context},{channel.exten},{channel.priority}"
    elif end and start is not None:
        loops.setdefault(end_name, f"{channel.context},{channel.exten},{channel.priority + 1}")
        ctx.parseable_goto(start)
    return CONTINUE


async def while_app(ctx: CallContext, data: str) -> AppResult:
    """``While(expr)``: run up to the matching EndWhile while ``expr`` is true."""
    return _while(ctx, data, 0)


async def end_while(ctx: CallContext, data: str) -> AppResult:
    """``EndWhile()``: back to the matching While."""
    return _while(ctx, data, 1)


async def exit_while(ctx: CallContext, data: str) -> AppResult:
    """``ExitWhile()``: leave the innermost loop, after its EndWhile."""
    return _while(ctx, data, 2)


async def continue_while(ctx: CallContext, data: str) -> AppResult:
    """``ContinueWhile()``: back to the innermost loop's While."""
    start = None
    index = 0
    while f"WHILE_{index}" in ctx.loops:
        start = ctx.loops[f"WHILE_{index}"]
        index += 1
    if start:
        ctx.parseable_goto(start)
    return CONTINUE


# -- WaitExten ------------------------------------------------------------------------------------------

async def wait_exten(ctx: CallContext, data: str) -> AppResult:
    """``WaitExten([seconds[,options]])``: wait for the caller to dial; a digit starts a new extension.

    On timeout: the next priority if there is one, else ``t``, else ``e`` (RESPONSETIMEOUT), else hang up.
    """
    args = separate_args(data) if data else []
    seconds = ctx.timeouts.response
    if args and args[0]:
        try:
            value = float(args[0])
        except ValueError:
            value = 0.0
        if value > 0:
            seconds = value
    digit = await ctx.wait_digit(seconds)
    if digit is False:
        return HANGUP
    if isinstance(digit, str):
        return digit
    channel = ctx.channel
    if ctx.exists(channel.context, channel.exten, channel.priority + 1):
        log.info("Timeout on %s, continuing...", channel.name)
        return CONTINUE
    if ctx.exists(channel.context, "t", 1):
        log.info("Timeout on %s, going to 't'", channel.name)
        channel.exten, channel.priority = "t", 0
        return CONTINUE
    if ctx.exists(channel.context, "e", 1):
        ctx.exception = "RESPONSETIMEOUT"
        channel.variables["EXCEPTION_REASON"] = "RESPONSETIMEOUT"
        channel.exten, channel.priority = "e", 0
        return CONTINUE
    log.warning("Timeout but no rule 't' or 'e' in context '%s'", channel.context)
    return HANGUP


def register(registry: ApplicationRegistry) -> None:
    """Add this module's applications."""
    for name, handler, synopsis in (
        ("Goto", goto, "Jump to a particular priority, extension, or context"),
        ("GotoIf", goto_if, "Conditional goto"),
        ("GotoIfTime", goto_if_time, "Conditional Goto based on the current time"),
        ("Gosub", gosub, "Jump to label, saving return address"),
        ("GosubIf", gosub_if, "Conditionally jump to label, saving return address"),
        ("Return", return_app, "Return from gosub routine"),
        ("StackPop", stack_pop, "Remove one address from gosub stack"),
        ("Macro", macro, "Macro Implementation (deprecated: use Gosub)"),
        ("MacroExit", macro_exit, "Exit from Macro"),
        ("While", while_app, "Start a while loop"),
        ("EndWhile", end_while, "End a while loop"),
        ("ExitWhile", exit_while, "End a While loop"),
        ("ContinueWhile", continue_while, "Restart a While loop"),
        ("WaitExten", wait_exten, "Waits for an extension to be entered"),
    ):
        registry.register(name, handler, synopsis)
