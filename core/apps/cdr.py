"""ForkCDR, NoCDR and ResetCDR: the dialplan's control of call detail records (see ``core/cdr``)."""

from __future__ import annotations

import logging

from core.dialplan.executor import CONTINUE, ApplicationRegistry, AppResult, CallContext
from core.dialplan.runtime import CdrControl

log = logging.getLogger("centralita.dialplan")


def _engine(ctx: CallContext) -> CdrControl | None:
    engine = ctx.executor.cdr_engine
    if engine is None:
        log.debug("no CDR engine: %s has no call detail record", ctx.channel.name)
    return engine


async def fork_cdr(ctx: CallContext, data: str) -> AppResult:
    """``ForkCDR([options])``: close the current record and start a new one for the rest of the call."""
    engine = _engine(ctx)
    if engine is not None:
        engine.fork(ctx.channel.name, data)
    return CONTINUE


async def no_cdr(ctx: CallContext, data: str) -> AppResult:
    """``NoCDR()``: this call leaves no record."""
    engine = _engine(ctx)
    if engine is not None:
        engine.disable(ctx.channel.name)
    return CONTINUE


async def reset_cdr(ctx: CallContext, data: str) -> AppResult:
    """``ResetCDR([options])``: restart the current record's times."""
    engine = _engine(ctx)
    if engine is not None:
        engine.reset(ctx.channel.name, data)
    return CONTINUE


def register(registry: ApplicationRegistry) -> None:
    """Add this module's applications."""
    registry.register("ForkCDR", fork_cdr, "Forks the current Call Data Record for this channel")
    registry.register("NoCDR", no_cdr, "Tell Asterisk to not maintain a CDR for this channel")
    registry.register("ResetCDR", reset_cdr, "Resets the Call Data Record")
