"""Conditional functions of ``funcs/func_logic.c``: ISNULL, EXISTS, IF, IFTIME and SET.

``IF(expr?true:false)`` splits like Asterisk: at the first ``?`` outside quotes, parentheses and
brackets (quotes and backslashes removed from the condition), then the rest at the first ``:`` the same
way; the condition and both branches are trimmed; the condition is true by ``pbx_checkcondition``
(a leading integer decides, other non-empty text is true).  ``IFTIME`` splits with plain ``strsep`` on
``?`` and ``:`` after the time spec and strips one pair of surrounding quotes from each branch.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING

from core.dialplan import substitute as _sub
from core.dialplan.args import check_condition, split_args, strip, strip_quoted
from core.dialplan.functions import reader

if TYPE_CHECKING:
    from core.dialplan.runtime import EvalContext

log = logging.getLogger("centralita.dialplan")


@reader("ISNULL", "Check if a value is NULL.")
def isnull_read(ctx: EvalContext, cmd: str, data: str | None) -> str:
    """``ISNULL(data)``: ``1`` for an empty argument, else ``0``."""
    return "0" if data else "1"


@reader("EXISTS", "Test the existence of a value.")
def exists_read(ctx: EvalContext, cmd: str, data: str | None) -> str:
    """``EXISTS(data)``: ``1`` for a non-empty argument, else ``0``."""
    return "1" if data else "0"


@reader("IF", "Check for an expresion.")
def if_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``IF(expr?[true][:false])``: the chosen branch (empty if absent); fails without ``?``."""
    _argc, (expr, remainder) = split_args(data, 2, "?")
    _argc2, (iftrue, iffalse) = split_args(remainder, 2, ":")
    if not expr or (iftrue is None and iffalse is None):
        log.warning("Syntax IF(<expr>?[<true>][:<false>])  (expr must be non-null, and either <true> or <false> "
                    "must be non-null)")
        log.warning("      In this case, <expr>='%s', <true>='%s', and <false>='%s'", expr, iftrue, iffalse)
        return None
    if check_condition(strip(expr)):
        return strip(iftrue) if iftrue is not None else ""
    return strip(iffalse) if iffalse is not None else ""


@reader("IFTIME", "Temporal Conditional.")
def iftime_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``IFTIME(times,weekdays,mdays,months[,timezone]?[true][:false])`` at ``ctx.wallclock()``."""
    text = strip_quoted(data or "")
    expr, question, rest = text.partition("?")
    iftrue: str | None = None
    iffalse: str | None = None
    if question:
        iftrue, colon, after = rest.partition(":")
        iffalse = after if colon else None
    if not expr or (iftrue is None and iffalse is None):
        log.warning("Syntax IFTIME(<timespec>?[<true>][:<false>])")
        return None
    timing = importlib.import_module("core.dialplan.timing")
    errors = (ValueError, getattr(timing, "TimingError", ValueError))
    try:
        matches = bool(timing.TimeSpec.parse(expr).matches(ctx.wallclock()))
    except errors as exc:
        log.warning("Invalid Time Spec. (%s)", exc)
        return None
    if matches:
        return strip_quoted(iftrue) if iftrue is not None else ""
    return strip_quoted(iffalse) if iffalse is not None else ""


@reader("SET", "SET assigns a value to a channel variable.")
def set_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``SET(varname=[value])``: assign (both sides trimmed) and return the value."""
    varname, equals, value = (data or "").partition("=")
    if not varname or not equals:
        log.warning("Syntax SET(<varname>=[<value>])")
        return None
    value = strip(value)
    _sub.assign(ctx, strip(varname), value)
    return value
