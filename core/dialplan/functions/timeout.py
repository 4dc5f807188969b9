"""``TIMEOUT(absolute|digit|response)``: the call's timeouts (``funcs/func_timeout.c``).

Reads give seconds with three decimals (``absolute``: what is left, empty when none is set); writes take
seconds (a fraction is fine).  Only a call running in the dialplan has timeouts: elsewhere the read fails.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from core.dialplan.args import scan_float
from core.dialplan.functions import reader, writer

if TYPE_CHECKING:
    from core.dialplan.runtime import EvalContext

log = logging.getLogger("centralita.dialplan")


@reader("TIMEOUT", "Gets or sets timeouts on the channel.")
def timeout_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    timeouts = getattr(ctx, "timeouts", None)
    kind = (data or "").strip().lower()[:1]
    if timeouts is None:
        return None
    if kind == "a":
        deadline = timeouts.absolute_deadline
        if deadline is None:
            return ""
        return f"{max(0.0, deadline - asyncio.get_running_loop().time()):.3f}"
    if kind == "d":
        return f"{timeouts.digit:.3f}"
    if kind == "r":
        return f"{timeouts.response:.3f}"
    log.error("Unknown timeout type specified.")
    return None


@writer("TIMEOUT")
def timeout_write(ctx: EvalContext, cmd: str, data: str | None, value: str | None) -> bool:
    timeouts = getattr(ctx, "timeouts", None)
    kind = (data or "").strip().lower()[:1]
    if timeouts is None or value is None:
        return False
    seconds = scan_float(value)
    seconds = seconds if seconds is not None and seconds > 0 else 0.0
    if kind == "a":
        executor = getattr(ctx, "executor", None)
        if executor is None:
            return False
        executor.set_absolute_timeout(ctx, seconds)
        if seconds:
            log.info("Channel will hangup in %.3f seconds.", seconds)
        else:
            log.info("Channel hangup cancelled.")
        return True
    if kind == "d":
        timeouts.digit = seconds
        return True
    if kind == "r":
        timeouts.response = seconds
        return True
    log.error("Unknown timeout type specified.")
    return False
