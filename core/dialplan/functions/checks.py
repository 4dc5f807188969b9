"""DIALPLAN_EXISTS and VALID_EXTEN of ``funcs/func_dialplan.c`` and HINT of ``funcs/func_devstate.c``:
does a context / extension / priority
(or label) exist, searched as a call would be (includes, the caller's number for caller-ID matches, the
time of day for timed includes).

``DIALPLAN_EXISTS(context[,extension[,priority]])``: with a priority that ``sscanf("%d")`` reads as a
positive number, that priority must exist; any other priority text is a label; without a priority,
priority 1; with only a context, the context must exist.  ``0`` or ``1``; an empty argument is an
error.  ``VALID_EXTEN([context],extension[,priority])``: the channel's context by default, priority
``atoi``'d (1 by default); an empty extension is an error.  ``HINT(extension[@context][,options])``: the
device list of the extension's hint (found as a call would find it, context ``default`` when none is
given), or with option ``n`` the hint's name (what follows the device list); no hint is a failed read.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from core.dialplan.args import atoi, parse_options, scan_int_value, split_args
from core.dialplan.functions import reader
from core.dialplan.lookup import DialplanIndex
from core.dialplan.model import PRIORITY_HINT

if TYPE_CHECKING:
    from core.dialplan.model import Dialplan
    from core.dialplan.runtime import EvalContext

log = logging.getLogger("centralita.dialplan")

_last_index: tuple[Dialplan, DialplanIndex] | None = None


def _index(ctx: EvalContext) -> DialplanIndex | None:
    """The running dialplan's lookup index (the executor's when evaluating in a call)."""
    global _last_index
    try:
        index = getattr(ctx, "index", None)
    except RuntimeError:  # a call context with no dialplan loaded
        return None
    if isinstance(index, DialplanIndex):
        return index
    dialplan = ctx.dialplan
    if dialplan is None:
        return None
    if _last_index is None or _last_index[0] is not dialplan:
        _last_index = (dialplan, DialplanIndex(dialplan))
    return _last_index[1]


def _caller(ctx: EvalContext) -> str:
    return ctx.channel.caller.number or ""


@reader("DIALPLAN_EXISTS", "Checks the existence of a dialplan target.")
def dialplan_exists_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``DIALPLAN_EXISTS(context[,extension[,priority]])``: ``1`` if the target exists, else ``0``."""
    if not data:
        log.error("DIALPLAN_EXISTS() requires an argument")
        return None
    _argc, (context, exten, priority) = split_args(data, 3)
    index = _index(ctx)
    now = ctx.wallclock()
    if priority:
        number = scan_int_value(priority)
        if index is None:
            return "0"
        if number is not None and number > 0:
            found = index.exists(context or "", exten or "", number, _caller(ctx), now)
        else:
            found = index.find_label(context or "", exten or "", priority, _caller(ctx), now) is not None
        return "1" if found else "0"
    if exten:
        return "1" if index is not None and index.exists(context or "", exten, 1, _caller(ctx), now) else "0"
    if context:
        return "1" if index is not None and index.context(context) is not None else "0"
    log.error("Invalid arguments provided to DIALPLAN_EXISTS")
    return None


@reader("VALID_EXTEN", "Determine whether an extension exists or not.")
def valid_exten_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``VALID_EXTEN([context],extension[,priority])``: ``1`` if it exists, else ``0``."""
    _argc, (context, exten, priority) = split_args(data, 3)
    if not exten:
        log.warning("Syntax: VALID_EXTEN([<context>],<extension>[,<priority>]) - missing argument <extension>!")
        return None
    index = _index(ctx)
    number = atoi(priority) if priority else 1
    found = index is not None and index.exists(context or ctx.channel.context, exten, number, _caller(ctx),
                                               ctx.wallclock())
    return "1" if found else "0"


@reader("HINT", "Get the devices set for a dialplan hint.")
def hint_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``HINT(extension[@context][,options])``."""
    _argc, (target, options) = split_args(data, 2)
    if not target:
        log.warning("The HINT function requires an extension")
        return None
    exten, _, context = target.partition("@")
    flags, _ = parse_options({"n": False}, options)
    index = _index(ctx)
    found = index.find(context or "default", exten, priority=PRIORITY_HINT, now=ctx.wallclock()) \
        if index is not None else None
    if found is None or found.priority is None:
        return None
    return found.priority.data if "n" in flags else found.priority.app
