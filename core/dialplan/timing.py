"""Asterisk time specifications: ``include => ctx,times,weekdays,mdays,months[,timezone]``, ``GotoIfTime``, ``IFTIME``.

Follows ``main/pbx_timing.c`` of Asterisk (``ast_build_timing``, ``get_timerange``, ``get_range``,
``lookup_name``, ``ast_check_timing2``), ``main/stdtime/localtime.c`` (``ast_tzset``: how a zone name
is resolved) and the docs.asterisk.org pages on includes with time conditions and ``GotoIfTime``:

* Fields are separated by ``,`` or (old dialplans) ``|``; missing or empty fields and ``*`` mean
  "always".  Only with exactly four commas is the text after the last comma a time zone, so a time
  zone cannot be given with ``|`` separators.  More fields than five are ignored.
* Times are ``HH:MM`` or ``HH:MM-HH:MM`` with minute granularity: a range includes its end minute
  (``09:00-17:00`` is true until 17:00:59) and wraps past midnight (``22:00-06:00``); a single time is
  that one minute.  Weekdays (``sun`` ... ``sat``, or 1-7 with 1 = Sunday), days (1-31) and months
  (``jan`` ... ``dec``, or 1-12) take single values and ranges that wrap (``fri-mon``, ``nov-feb``);
  names are case-insensitive three-letter abbreviations.  Any field takes several items joined
  with ``&``.
* Asterisk never rejects a time specification: a bad item is logged and skipped, and a field left with
  no valid item never matches.  :meth:`TimeSpec.parse` does the same and keeps the messages in
  ``warnings``; ``strict=True`` turns them into :class:`TimingError` (for ``check-config``).  Only an
  empty specification is an error: ``ast_build_timing`` returns "no timing" for it, which an
  ``include`` takes as "always", ``GotoIfTime`` as false and ``IFTIME`` as an invalid spec.
* A spec is checked at one instant in its time zone (or the system's, ``/etc/localtime``): month, day
  of month, weekday and minute of that instant must all be in.  So ``23:00-01:00,fri`` is not true at
  00:30 on Saturday.  Seconds are ignored.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache

__all__ = ["TimeSpec", "TimingError", "system_timezone"]

MINUTES_PER_DAY = 24 * 60
_ALL_MINUTES = (1 << MINUTES_PER_DAY) - 1
_ALL_WEEKDAYS = (1 << 7) - 1
_ALL_DAYS = (1 << 31) - 1
_ALL_MONTHS = (1 << 12) - 1

_WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


class TimingError(ValueError):
    """A time specification that cannot be used; ``field`` names the part, ``position`` is its offset in ``text``."""

    def __init__(self, message: str, field: str, position: int, text: str) -> None:
        super().__init__(f"{field}: {message} (at {position} in {text!r})")
        self.message = message
        self.field = field
        self.position = position
        self.text = text


# --- C helpers ------------------------------------------------------------------------------------

_C_SPACE = " \t\n\v\f\r"


def _scan_int(text: str, pos: int, width: int) -> tuple[int, int] | None:
    """``sscanf``'s ``%<width>d`` at ``pos``: leading blanks skipped, sign counted in the width."""
    while pos < len(text) and text[pos] in _C_SPACE:
        pos += 1
    end = pos
    limit = pos + width
    if end < len(text) and text[end] in "+-":
        end += 1
    digits_from = end
    while end < len(text) and end < limit and "0" <= text[end] <= "9":
        end += 1
    if end == digits_from:
        return None
    return int(text[pos:end]), end


def _scan_clock(text: str) -> tuple[int, int] | None:
    """``sscanf(text, "%2d:%2d")`` when both conversions succeed."""
    hours = _scan_int(text, 0, 2)
    if hours is None or hours[1] >= len(text) or text[hours[1]] != ":":
        return None
    minutes = _scan_int(text, hours[1] + 1, 2)
    if minutes is None:
        return None
    return hours[0], minutes[0]


def _split(text: str, separators: str, start: int) -> list[tuple[int, str]]:
    """``strsep`` over all of ``text``: the pieces with their offsets (``start`` is ``text``'s own)."""
    pieces: list[tuple[int, str]] = []
    begin = 0
    for index, ch in enumerate(text):
        if ch in separators:
            pieces.append((start + begin, text[begin:index]))
            begin = index + 1
    pieces.append((start + begin, text[begin:]))
    return pieces


# --- fields ---------------------------------------------------------------------------------------


class _Builder:
    """Collects masks and the warnings Asterisk would log while building one spec."""

    def __init__(self, text: str, strict: bool) -> None:
        self.text = text
        self.strict = strict
        self.warnings: list[str] = []

    def warn(self, message: str, part: str, position: int) -> None:
        if self.strict:
            raise TimingError(message, part, position, self.text)
        self.warnings.append(f"{part}: {message} (at {position})")

    def minutes(self, value: str, start: int) -> int:
        """``get_timerange``: a 1440-bit mask, bit ``h * 60 + m`` for minute ``h:m``."""
        if not value or value == "*":
            return _ALL_MINUTES
        mask = 0
        for position, part in _split(value, "&", start):
            dash = part.find("-")
            if dash < 0:
                single = _scan_clock(part)
                if single is None or not _valid_clock(*single):
                    self.warn(f"{part!r} isn't a valid time", "time", position)
                    continue
                mask |= 1 << (single[0] * 60 + single[1])
                continue
            head, tail = part[:dash], part[dash + 1 :]
            # Asterisk skips anything before the first digit of the end time ("mostly to skip spaces").
            skipped = re.match(r"[^0-9]*", tail)
            tail = tail[skipped.end() if skipped else 0 :]
            if not tail:
                self.warn(f"invalid time range starting with {head + '-'!r}", "time", position)
                continue
            first = _scan_clock(head)
            if first is None or not _valid_clock(*first):
                self.warn(f"{head!r} isn't a valid start time", "time", position)
                continue
            last = _scan_clock(tail)
            if last is None or not _valid_clock(*last):
                self.warn(f"{tail!r} isn't a valid end time", "time", position + dash + 1)
                continue
            minute, end = first[0] * 60 + first[1], last[0] * 60 + last[1]
            # Every minute from the start up to and including the end, wrapping past midnight.
            while minute != end:
                mask |= 1 << minute
                minute = (minute + 1) % MINUTES_PER_DAY
            mask |= 1 << end
        return mask

    def items(self, value: str, start: int, count: int, names: tuple[str, ...] | None, what: str) -> int:
        """``get_range``: a ``count``-bit mask of weekdays, days or months; ranges wrap around."""
        if not value or value == "*":
            return (1 << count) - 1
        mask = 0
        for position, part in _split(value, "&", start):
            dash = part.find("-")
            head, tail = (part, None) if dash < 0 else (part[:dash], part[dash + 1 :])
            first = _lookup(head, names, count)
            if first < 0:
                self.warn(f"invalid {what} {head!r}, skipping element", what, position)
                continue
            last = first
            if tail is not None:
                last = _lookup(tail, names, count)
                if last < 0:
                    self.warn(f"invalid end {what} {tail!r}, skipping element", what, position + dash + 1)
                    continue
            mask |= 1 << last
            while first != last:
                mask |= 1 << first
                first = (first + 1) % count
        return mask


def _valid_clock(hours: int, minutes: int) -> bool:
    return 0 <= hours <= 23 and 0 <= minutes <= 59


def _lookup(item: str, names: tuple[str, ...] | None, count: int) -> int:
    """``lookup_name``: the 0-based index of a name (case-insensitive) or of a 1-based number, else -1."""
    if names and item and "9" < item[0] < "\x80":
        folded = item.encode("utf-8", "surrogateescape").lower()
        for index, name in enumerate(names):
            if folded == name.encode():
                return index
    number = _scan_int(item, 0, 2)
    if number is not None and 1 <= number[0] <= count:
        return number[0] - 1
    return -1


# --- time zones -----------------------------------------------------------------------------------

_LocalClock = Callable[[int], datetime]
"""Epoch seconds -> wall-clock date and time in some zone."""


def _zoneinfo_clock(zone: tzinfo) -> _LocalClock:
    return lambda epoch: datetime.fromtimestamp(epoch, zone)


_UTC_CLOCK = _zoneinfo_clock(timezone.utc)


@lru_cache(maxsize=1)
def system_timezone() -> tzinfo:
    """The zone Asterisk uses when a spec names none: ``/etc/localtime`` (the ``TZ`` variable is not read).

    Without that file Asterisk falls back to UTC (``gmtload``).
    """
    try:
        with open("/etc/localtime", "rb") as handle:
            from zoneinfo import ZoneInfo  # lazily: only for time specs and STRFTIME

            return ZoneInfo.from_file(handle, key="localtime")
    except (OSError, ValueError):
        return timezone.utc


@lru_cache(maxsize=256)
def _zone_clock(name: str) -> tuple[_LocalClock, bool]:
    """Resolve a zone as ``ast_tzset`` does: a tz database file, else a POSIX ``TZ`` string, else UTC.

    Returns the clock and whether the name was understood (False: silently UTC in Asterisk).
    """
    from zoneinfo import ZoneInfo

    key = name[1:] if name.startswith(":") else name
    try:
        if key.startswith("/"):
            with open(key, "rb") as handle:
                return _zoneinfo_clock(ZoneInfo.from_file(handle, key=key)), True
        if key:
            return _zoneinfo_clock(ZoneInfo(key)), True
    except (KeyError, ValueError, OSError):
        pass  # not in the tz database: Asterisk tries it as a POSIX TZ string next
    if not name.startswith(":"):
        posix = _PosixZone.parse(name)
        if posix is not None:
            return posix.local, True
    return _UTC_CLOCK, False


def _second_sunday_of_march_and_first_of_november(year: int) -> tuple[datetime, datetime]:
    """The US daylight-saving dates (``M3.2.0`` and ``M11.1.0``), both at 02:00 local time."""
    march, november = datetime(year, 3, 1, 2), datetime(year, 11, 1, 2)
    first_sunday_march = march + timedelta(days=(6 - march.weekday()) % 7)
    first_sunday_november = november + timedelta(days=(6 - november.weekday()) % 7)
    return first_sunday_march + timedelta(days=7), first_sunday_november


_POSIX_NAME = r"(?:<[^>]*>|[^0-9,+\-<>]{3,})"
_POSIX_OFFSET = r"[+-]?\d{1,3}(?::\d{1,2}){0,2}"
_POSIX_TZ = re.compile(
    rf"(?P<std>{_POSIX_NAME})(?P<stdoff>{_POSIX_OFFSET})(?:(?P<dst>{_POSIX_NAME})(?P<dstoff>{_POSIX_OFFSET})?)?"
)


def _offset_seconds(text: str) -> int:
    """A POSIX offset (``5``, ``-1``, ``+05:30``) as seconds *east* of UTC (POSIX counts westwards)."""
    sign = 1 if text.startswith("-") else -1
    parts = [int(p) for p in text.lstrip("+-").split(":")]
    parts += [0] * (3 - len(parts))
    return sign * (parts[0] * 3600 + parts[1] * 60 + parts[2])


@dataclass(frozen=True, slots=True)
class _PosixZone:
    """A POSIX ``TZ`` string as tzcode's ``tzparse`` reads it (``EST5``, ``<+03>-3``, ``CST6CDT``).

    In a time specification the zone is the text after the fourth and last comma, so a POSIX string
    with transition rules (which contain a comma) can never get here; a daylight-saving zone without
    rules takes them from tzdata's ``posixrules`` (America/New_York): second Sunday of March to first
    Sunday of November.
    """

    standard: int  # seconds east of UTC
    daylight: int | None = None

    @classmethod
    def parse(cls, text: str) -> _PosixZone | None:
        found = _POSIX_TZ.fullmatch(text)
        if found is None:
            return None
        standard = _offset_seconds(found["stdoff"])
        if found["dst"] is None:
            return cls(standard)
        return cls(standard, _offset_seconds(found["dstoff"]) if found["dstoff"] else standard + 3600)

    def local(self, epoch: int) -> datetime:
        """Wall-clock date and time at ``epoch``."""
        utc = datetime.fromtimestamp(epoch, timezone.utc).replace(tzinfo=None)
        offset = self.standard
        if self.daylight is not None:
            start, end = _second_sunday_of_march_and_first_of_november(utc.year)
            # Daylight time starts at 02:00 standard time and ends at 02:00 daylight time.
            if start - timedelta(seconds=self.standard) <= utc < end - timedelta(seconds=self.daylight):
                offset = self.daylight
        return utc + timedelta(seconds=offset)


# --- the spec -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimeSpec:
    """A parsed time specification (``ast_timing``): masks for minutes of the day, weekdays, days, months.

    ``minutes`` has bit ``h * 60 + m`` for each minute ``h:m``; ``weekdays`` bit 0 is Sunday (as
    ``tm_wday``); ``days`` bit 0 is the 1st; ``months`` bit 0 is January.  ``timezone`` is the fifth
    field as written (None: the system's zone).  ``warnings`` are what Asterisk logs while building
    it, plus a note when the time zone is not understood (Asterisk then silently uses UTC).
    """

    text: str
    minutes: int = field(default=_ALL_MINUTES, repr=False)
    weekdays: int = field(default=_ALL_WEEKDAYS, repr=False)
    days: int = field(default=_ALL_DAYS, repr=False)
    months: int = field(default=_ALL_MONTHS, repr=False)
    timezone: str | None = None
    warnings: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str, *, strict: bool = False) -> TimeSpec:
        """Build a spec from ``times[,weekdays[,mdays[,months[,timezone]]]]`` (``ast_build_timing``).

        Raises :class:`TimingError` for an empty text (Asterisk: no timing at all), and with
        ``strict`` also for every item Asterisk would skip with a warning.
        """
        if not text:
            raise TimingError("empty time specification", "time", 0, text)
        builder = _Builder(text, strict)
        zone: str | None = None
        if text.count(",") == 4:
            zone_at = text.rfind(",") + 1
            zone = text[zone_at:]
            if zone and not _zone_clock(zone)[1]:
                builder.warn(f"unknown time zone {zone!r}, Asterisk uses UTC", "timezone", zone_at)
        fields = _split(text, "|,", 0)[:4]
        fields += [(len(text), "")] * (4 - len(fields))
        (time_at, times), (weekday_at, weekdays), (day_at, days), (month_at, months) = fields
        return cls(
            text=text,
            minutes=builder.minutes(times, time_at),
            weekdays=builder.items(weekdays, weekday_at, 7, _WEEKDAY_NAMES, "day of week"),
            days=builder.items(days, day_at, 31, None, "day"),
            months=builder.items(months, month_at, 12, _MONTH_NAMES, "month"),
            timezone=zone,
            warnings=tuple(builder.warnings),
        )

    def local_time(self, epoch: float, system_zone: tzinfo | None = None) -> datetime:
        """The wall-clock time this spec is checked against at ``epoch`` (whole seconds).

        ``system_zone`` replaces ``/etc/localtime`` for specs without (or with an empty) time zone.
        """
        seconds = math.floor(epoch)
        if self.timezone:
            return _zone_clock(self.timezone)[0](seconds)
        return datetime.fromtimestamp(seconds, system_zone or system_timezone())

    def matches(self, epoch: float, system_zone: tzinfo | None = None) -> bool:
        """Whether the spec is true at ``epoch`` (Unix seconds): ``ast_check_timing2``."""
        return self.matches_wall_clock(self.local_time(epoch, system_zone))

    def matches_wall_clock(self, when: datetime) -> bool:
        """Whether the spec is true at a wall-clock date and time (its ``tzinfo`` is not consulted)."""
        weekday = (when.weekday() + 1) % 7
        return bool(
            self.months >> (when.month - 1) & 1
            and self.days >> (when.day - 1) & 1
            and self.weekdays >> weekday & 1
            and self.minutes >> (when.hour * 60 + when.minute) & 1
        )

    def __str__(self) -> str:
        return self.text
