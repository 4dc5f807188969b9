"""Time functions of ``funcs/func_strings.c``: STRFTIME and STRPTIME (IFTIME is in :mod:`.logic`).

Time zones follow ``main/localtime.c``: an empty zone is the system's local time, a name is looked up
in the tz database, and a name that cannot be loaded falls back to UTC ("GMT" in Asterisk).  ``STRFTIME``
formats with the C library's ``strftime`` in the C locale plus Asterisk's ``%q``/``%1q``..``%6q``
(fractions of a second); the current time is ``ctx.wallclock()``.
"""

from __future__ import annotations

import logging
import math
import re
from datetime import datetime, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.dialplan.args import INT_MAX, scan_float, split_args
from core.dialplan.functions import reader

if TYPE_CHECKING:
    from core.dialplan.runtime import EvalContext

log = logging.getLogger("centralita.dialplan")

_zones: dict[str, tzinfo] = {}


def zone(name: str | None) -> tzinfo | None:
    """The ``tzinfo`` for an Asterisk time zone argument; None means the system's local time."""
    if not name:
        return None
    found = _zones.get(name)
    if found is None:
        try:
            found = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            log.debug("Time zone %s cannot be loaded; using UTC", name)
            found = timezone.utc
        _zones[name] = found
    return found


def get_timeval(text: str | None, default: float) -> tuple[int, int]:
    """``ast_get_timeval``: ``(seconds, microseconds)`` from ``"1234.5"`` (``%Lf``), else ``default``."""
    value = scan_float(text) if text else None
    if value is None or math.isnan(value) or math.isinf(value):
        value = default
    seconds = math.trunc(value)
    return seconds, math.trunc((value - seconds) * 1_000_000)


def localtime(seconds: int, tz_name: str | None) -> datetime:
    """``ast_localtime``: the broken-down time of ``seconds`` in the zone (system local if empty)."""
    tz = zone(tz_name)
    if tz is None:
        return datetime.fromtimestamp(seconds).astimezone()
    return datetime.fromtimestamp(seconds, tz)


def ast_strftime(moment: datetime, microseconds: int, fmt: str) -> str:
    """``ast_strftime``: C ``strftime`` plus ``%q`` (milliseconds) and ``%1q``..``%6q``."""
    out: list[str] = []
    i = 0
    n = len(fmt)
    while i < n:
        c = fmt[i]
        if c == "%" and i + 1 < n:
            nxt = fmt[i + 1]
            decimals = -1
            if "1" <= nxt <= "6" and fmt[i + 2:i + 3] == "q":
                decimals = int(nxt)
                i += 1
                nxt = "q"
            if nxt == "q":
                if decimals == -1:
                    decimals = 3
                fraction = microseconds
                for _ in range(6 - decimals):
                    fraction = int(fraction / 10)
                out.append(f"{fraction:0{decimals}d}")
                i += 2
                continue
            if nxt == "f":
                # Python would expand %f; C strftime does not know it.
                out.append("%%f")
                i += 2
                continue
        out.append(c)
        i += 1
    try:
        return moment.strftime("".join(out))
    except ValueError:
        return ""


@reader("STRFTIME", "Returns the current date/time in the specified format.")
def strftime_read(ctx: EvalContext, cmd: str, data: str | None) -> str:
    """``STRFTIME([epoch][,timezone][,format])``: default now, local time, ``%c``."""
    _argc, (epoch, tz_name, fmt) = split_args(data, 3)
    seconds, microseconds = get_timeval(epoch, ctx.wallclock())
    try:
        moment = localtime(seconds, tz_name)
    except (OverflowError, OSError, ValueError):
        # Python's datetime stops at year 9999 (Asterisk's 64-bit time_t does not); nothing sensible
        # can be printed for such an epoch here, so it is an empty result rather than a failure.
        log.warning("STRFTIME: epoch %s is outside the range this system can format", epoch)
        return ""
    result = ast_strftime(moment, microseconds, "%c" if fmt is None else fmt)
    if not result:
        log.warning("C function strftime() output nothing?!!")
    return result


_DAY_DIRECTIVES = re.compile(r"%[EO]?[dejDFcxs]")
_PARTIAL = re.compile(r"unconverted data remains: (?P<rest>.*)", re.DOTALL)


def _strptime(text: str, fmt: str) -> datetime | None:
    # glibc strptime() accepts trailing text; Python's wants all of it.
    try:
        return datetime.strptime(text, fmt)
    except re.error:
        # Python cannot compile a format that repeats a directive ("%d%d"); glibc can.  Reported as
        # no match rather than a failure of the function.
        log.warning("STRPTIME: format '%s' repeats a directive, which is not supported here", fmt)
        return None
    except ValueError as exc:
        match = _PARTIAL.match(str(exc))
        if match is None:
            return None
        rest = match.group("rest")
        try:
            return datetime.strptime(text[:len(text) - len(rest)], fmt)
        except ValueError:
            return None


@reader("STRPTIME", "Returns the epoch of the arbitrary date/time string structured as described by the format.")
def strptime_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``STRPTIME(datetime,timezone,format)``: seconds since the epoch, as C ``int``.

    A format without a day directive leaves C's ``tm_mday`` at 0, which ``mktime`` turns into the last
    day of the previous month, as in Asterisk.  Text that does not match gives an empty result.
    """
    if data is None:
        log.error("Asterisk function STRPTIME() requires an argument.")
        return None
    _argc, (timestring, tz_name, fmt) = split_args(data, 3)
    if not fmt:
        log.error("No format supplied to STRPTIME(<timestring>,<timezone>,<format>)")
        return None
    parsed = _strptime(timestring or "", fmt)
    if parsed is None:
        log.warning("STRPTIME() found no time specified within the string")
        return ""
    parsed = parsed.replace(tzinfo=None)
    if not _DAY_DIRECTIVES.search(fmt.replace("%%", "")):
        parsed -= timedelta(days=1)
    tz = zone(tz_name)
    seconds = math.floor(parsed.timestamp() if tz is None else parsed.replace(tzinfo=tz).timestamp())
    seconds &= 0xFFFFFFFF
    return str(seconds - 2**32 if seconds > INT_MAX else seconds)
