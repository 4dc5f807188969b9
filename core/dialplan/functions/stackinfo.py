"""STACK_PEEK (``apps/app_stack.c``), EVAL_EXTEN (``funcs/func_evalexten.c``, Asterisk 19+) and
EXCEPTION (``main/pbx.c`` ``acf_exception_read``).

- ``STACK_PEEK(n,which[,suppress])``: the Gosub frame ``n`` levels up (1 is the innermost), ``which``
  ``l`` (``context,exten,priority``), ``c``, ``e`` or ``p``, the priority being the Gosub's own (the frame
  keeps the return priority, one more).  ``n`` missing, ``which`` missing or ``n`` not positive
  (``atoi``) are errors; a stack that is not that deep is an error, logged unless ``suppress`` is true.
  An unknown ``which`` (only its first character after blanks counts) logs an error but gives an empty
  string, as the C ``switch`` falls through to ``return 0``.
- ``EVAL_EXTEN([[context,]extension,]priority)``: the application data of that priority (a number or a
  label), substituted as if the channel were there (``${EXTEN}``, ``${CONTEXT}`` and ``${PRIORITY}`` are
  the target's); the application is not run.  An empty extension or context is the channel's.
- ``EXCEPTION(reason|context|exten|priority)``: the last exception raised on the channel and where it
  was raised; no exception or an unknown field is a failed read.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from core.dialplan import substitute as _sub
from core.dialplan.args import atoi, scan_int_value, split_args
from core.dialplan.functions import reader
from core.dialplan.functions.checks import _index
from core.dialplan.functions.extras import extras

if TYPE_CHECKING:
    from core.dialplan.runtime import EvalContext, GosubFrame

log = logging.getLogger("centralita.dialplan")

_TRUE = frozenset(("yes", "true", "y", "t", "1", "on"))


def _ast_true(value: str | None) -> bool:
    """``ast_true`` (main/utils.c): yes/true/y/t/1/on, case-insensitive, surrounding blanks ignored."""
    return value is not None and value.strip().lower() in _TRUE


@reader("STACK_PEEK", "View info about the location which called Gosub.")
def stack_peek_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``STACK_PEEK(n,which[,suppress])`` (see the module docstring)."""
    _argc, (n_text, which, suppress) = split_args(data, 3)
    if not n_text or not which:
        log.error("STACK_PEEK requires parameters n and which")
        return None
    n = atoi(n_text)
    if n <= 0:
        log.error("STACK_PEEK must be called with a positive peek value")
        return None
    frames: list[GosubFrame] | None = getattr(ctx, "frames", None)
    if frames is None:
        frames = [ctx.local_frame] if ctx.local_frame is not None else []
    if n > len(frames):
        if not _ast_true(suppress):
            if frames:
                log.error("Stack peek of '%s' is more stack frames than I have", n_text)
            else:
                log.error("STACK_PEEK called on a channel without a gosub stack")
        return None
    frame = frames[-n]
    kind = which.lstrip("".join(chr(code) for code in range(1, 33)))[:1]
    if kind == "l":
        return f"{frame.return_context},{frame.return_exten},{frame.return_priority - 1}"
    if kind == "c":
        return frame.return_context
    if kind == "e":
        return frame.return_exten
    if kind == "p":
        return str(frame.return_priority - 1)
    log.error("Unknown argument '%s' to STACK_PEEK", which)
    return ""


@reader("EVAL_EXTEN", "Evaluates the contents of a dialplan extension and returns it as a string.")
def eval_exten_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``EVAL_EXTEN([[context,]extension,]priority)`` (see the module docstring)."""
    if not data:
        log.warning("The EVAL_EXTEN function requires an extension")
        return None
    # strsep on ',' (no quoting), then pbx_parse_location's shuffle of the fields.
    fields = data.split(",", 2)
    context: str | None
    exten: str | None
    if len(fields) == 1:
        context, exten, priority_text = None, None, fields[0]
    elif len(fields) == 2:
        context, exten, priority_text = None, fields[0], fields[1]
    else:
        context, exten, priority_text = fields[0], fields[1], fields[2].split(",", 1)[0]
    channel = ctx.channel
    caller = channel.caller.number or ""
    index = _index(ctx)
    now = ctx.wallclock()
    priority = scan_int_value(priority_text)
    if priority is None:
        found_label = index.find_label(context if context is not None else channel.context,
                                       exten if exten is not None else channel.exten, priority_text, caller,
                                       now) if index is not None else None
        if found_label is None or found_label < 1:
            log.warning("Priority '%s' must be a number > 0, or valid label", priority_text)
            return None
        priority = found_label
    context = context or channel.context
    exten = exten or channel.exten
    found = index.find(context, exten, priority=priority, caller=caller, now=now) if index is not None else None
    if found is None or found.priority is None:
        return None
    saved = (channel.context, channel.exten, channel.priority)
    channel.context, channel.exten, channel.priority = context, exten, priority
    try:
        return _sub.substitute(found.priority.data, ctx)
    finally:
        channel.context, channel.exten, channel.priority = saved


@reader("EXCEPTION", "Retrieve the details of the current dialplan exception.")
def exception_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``EXCEPTION(field)``: ``reason``, ``context``, ``exten`` (any field starting so) or ``priority``."""
    raised = extras(ctx.channel).exception
    if raised is None:
        return None
    reason, context, exten, priority = raised
    field = (data or "").lower()
    if field == "reason":
        return reason
    if field == "context":
        return context
    if field.startswith("exten"):
        return exten
    if field == "priority":
        return str(priority)
    return None
