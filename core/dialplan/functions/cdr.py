"""``CDR(field[,options])`` of ``funcs/func_cdr.c``, delegating to the call's CDR (``ctx.cdr``).

Reading gives the formatted field (``start``/``answer``/``end`` as ``%Y-%m-%d %T`` local time,
``disposition`` and ``amaflags`` as names) or, with option ``u``, the raw value; option ``f`` gives
``billsec``/``duration`` as seconds with microseconds (``%f``), measured to now while the call lasts.
Without a CDR (``NoCDR()``, or none attached) reads are empty and writes do nothing, as Asterisk's
``ast_cdr_getvar``/``ast_cdr_setvar`` fail quietly for a channel without one.  Writing ``accountcode``
or ``amaflags`` sets the channel's value (deprecated in Asterisk, with a warning); ``peeraccount`` is
refused with a warning; read-only fields log an error.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from core.dialplan.args import OptionError, parse_options, scan_float, split_args
from core.dialplan.functions import reader, writer
from core.dialplan.functions.extras import amaflag_from_string, extras

if TYPE_CHECKING:
    from core.dialplan.runtime import CdrAccess, EvalContext

log = logging.getLogger("centralita.dialplan")

CDR_OPTIONS = {"f": False, "u": False}
"""``cdr_func_options``: ``f`` (float billsec/duration), ``u`` (unparsed)."""


def _options(text: str | None) -> set[str]:
    try:
        flags, _arguments = parse_options(CDR_OPTIONS, text)
    except OptionError as exc:
        return exc.flags
    return flags


def _time_of(cdr: CdrAccess, name: str) -> float:
    value = cdr.get(name, raw=True)
    number = scan_float(value) if value else None
    if number is None:
        log.warning("Failed to fully extract '%s' from CDR", name)
        return 0.0
    return number


@reader("CDR", "Gets or sets a CDR variable.")
def cdr_read(ctx: EvalContext, cmd: str, data: str | None) -> str:
    """``CDR(field[,options])``."""
    if not data:
        log.warning("%s requires a variable (%s(variable[,option]))", cmd, cmd)
        return ""
    _argc, (variable, options) = split_args(data, 2)
    name = variable or ""
    flags = _options(options)
    cdr = ctx.cdr
    if cdr is None:
        return ""
    if "f" in flags and name.lower() in ("billsec", "duration"):
        if cdr.get(name, raw=True) is None:
            return ""
        start = _time_of(cdr, "answer" if name.lower() == "billsec" else "start")
        finish = _time_of(cdr, "end") or ctx.wallclock()
        delta = 0.0 if not start else finish - start
        return f"{delta:f}"
    value = cdr.get(name, raw="u" in flags)
    return value if value is not None else ""


@writer("CDR")
def cdr_write(ctx: EvalContext, cmd: str, data: str | None, value: str | None) -> bool:
    """``Set(CDR(field)=value)``: ``userfield`` and custom variables go to the CDR."""
    if not data:
        log.warning("%s requires a variable (%s(variable)=value)", cmd, cmd)
        return False
    if value is None:
        log.warning("%s requires a value (%s(variable)=value)", cmd, cmd)
        return False
    _argc, (variable, _options_text) = split_args(data, 2)
    name = variable or ""
    lowered = name.lower()
    channel = ctx.channel
    if lowered == "accountcode":
        log.warning("Using the %s function to set 'accountcode' is deprecated. Please use the CHANNEL function "
                    "instead.", cmd)
        channel.accountcode = value
        return True
    if lowered == "amaflags":
        log.warning("Using the %s function to set 'amaflags' is deprecated. Please use the CHANNEL function "
                    "instead.", cmd)
        flags = amaflag_from_string(value)
        extras(channel).amaflags = flags
        if ctx.cdr is not None:
            try:
                ctx.cdr.set("amaflags", str(flags))
            except ValueError:
                log.debug("The CDR does not take amaflags")
        return True
    if lowered == "peeraccount":
        log.warning("The 'peeraccount' setting is not supported. Please set the 'accountcode' on the appropriate "
                    "channel using the CHANNEL function.")
        return True
    cdr = ctx.cdr
    if cdr is None:
        log.debug("%s: no CDR to set %s on", channel.name, name)
        return True
    try:
        cdr.set(name, value)
    except ValueError:
        log.error("Attempt to set the '%s' read-only variable!", name)
    return True
