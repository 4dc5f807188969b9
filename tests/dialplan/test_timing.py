"""Time specifications as Asterisk 20 builds and checks them.

Sources cited per case:
  [build]  main/pbx_timing.c ``ast_build_timing`` (fields split on "|,"; the time zone is the text after
           the last comma only when there are exactly 4 commas; empty text -> no timing)
  [times]  pbx_timing.c ``get_timerange`` (sscanf "%2d:%2d"; a range sets every minute from start to end
           inclusive, wrapping at midnight; bad items are logged and skipped)
  [range]  pbx_timing.c ``get_range`` / ``lookup_name`` (names case-insensitive, numbers 1-based with
           1 = Sunday / January, ranges wrap, "&" lists, bad items skipped)
  [check]  pbx_timing.c ``ast_check_timing2`` (month, day, weekday and minute of one local instant)
  [tz]     main/stdtime/localtime.c ``ast_tzset`` (tz database, else POSIX TZ string, else UTC)
  [doc]    docs.asterisk.org: Configuration/Dialplan/Include-Statements (time-based includes), GotoIfTime
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.dialplan.timing import TimeSpec, TimingError, system_timezone


def at(iso: str) -> float:
    """Epoch seconds of an ISO date-time that carries its UTC offset."""
    return datetime.fromisoformat(iso).timestamp()


def minutes(*ranges: tuple[int, int]) -> int:
    mask = 0
    for first, last in ranges:
        for minute in range(first, last + 1):
            mask |= 1 << minute
    return mask


def bits(*indexes: int) -> int:
    return sum(1 << i for i in indexes)


# --- building -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("09:00-17:00", minutes((540, 1020)), id="times:end-minute-included"),
        pytest.param("22:00-06:00", minutes((1320, 1439), (0, 360)), id="times:wraps-midnight"),
        pytest.param("12:00-12:00", minutes((720, 720)), id="times:start-equals-end-is-one-minute"),
        pytest.param("12:00", minutes((720, 720)), id="times:single-time-is-one-minute"),
        pytest.param("23:59", minutes((1439, 1439)), id="times:last-minute"),
        pytest.param("08:00-09:00&13:30-14:00", minutes((480, 540), (810, 840)), id="times:ampersand-list"),
        pytest.param("9:00-9:05", minutes((540, 545)), id="times:%2d-takes-one-digit"),
        pytest.param("09:00 - 17:00", minutes((540, 1020)), id="times:blanks-skipped"),
        pytest.param(" 9:00-9:05", minutes((540, 545)), id="times:sscanf-skips-leading-blanks"),
        pytest.param("09:00-x17:00", minutes((540, 1020)), id="times:non-digits-before-end-skipped"),
        pytest.param("*", minutes((0, 1439)), id="times:star"),
        pytest.param(",mon", minutes((0, 1439)), id="times:empty-field-is-all"),
    ],
)
def test_time_ranges(text: str, expected: int) -> None:
    assert TimeSpec.parse(text).minutes == expected


@pytest.mark.parametrize(
    ("text", "weekdays", "days", "months"),
    [
        pytest.param("*,fri-mon,*,*", bits(5, 6, 0, 1), (1 << 31) - 1, (1 << 12) - 1, id="range:weekdays-wrap"),
        pytest.param("*,MON-Fri,*,*", bits(1, 2, 3, 4, 5), (1 << 31) - 1, (1 << 12) - 1, id="range:case-insensitive"),
        pytest.param("*,1&7,*,*", bits(0, 6), (1 << 31) - 1, (1 << 12) - 1, id="lookup_name:1-is-sunday"),
        pytest.param("*,sun&wed,*,*", bits(0, 3), (1 << 31) - 1, (1 << 12) - 1, id="range:ampersand"),
        pytest.param("*,*,30-2,*", (1 << 7) - 1, bits(29, 30, 0, 1), (1 << 12) - 1, id="range:days-wrap"),
        pytest.param("*,*,*,nov-feb", (1 << 7) - 1, (1 << 31) - 1, bits(10, 11, 0, 1), id="range:months-wrap"),
        pytest.param("*,*,*,12", (1 << 7) - 1, (1 << 31) - 1, bits(11), id="lookup_name:numeric-month"),
        pytest.param("*,*,15", (1 << 7) - 1, bits(14), (1 << 12) - 1, id="build:missing-fields-are-all"),
    ],
)
def test_weekday_day_month_ranges(text: str, weekdays: int, days: int, months: int) -> None:
    spec = TimeSpec.parse(text)
    assert (spec.weekdays, spec.days, spec.months) == (weekdays, days, months)
    assert spec.warnings == ()


def test_pipe_separates_fields_like_a_comma() -> None:
    # [build]: strsep(&info, "|,")
    piped = TimeSpec.parse("09:00-17:00|mon-fri|1-15|jan")
    commas = TimeSpec.parse("09:00-17:00,mon-fri,1-15,jan")
    assert (piped.minutes, piped.weekdays, piped.days, piped.months) == (
        commas.minutes,
        commas.weekdays,
        commas.days,
        commas.months,
    )


@pytest.mark.parametrize(
    ("text", "zone", "months"),
    [
        pytest.param("*,*,*,*,Europe/Madrid", "Europe/Madrid", (1 << 12) - 1, id="build:five-fields"),
        pytest.param("*|*|*|jan|Europe/Madrid", None, bits(0), id="build:no-zone-with-pipes"),
        pytest.param("*|*,*,*,*,Europe/Madrid", "Europe/Madrid", (1 << 12) - 1, id="build:only-commas-counted"),
        pytest.param("*,*,*,jan,Europe/Madrid,x", None, bits(0), id="build:six-comma-fields-no-zone"),
        pytest.param("*|*,*,jan,Europe/Madrid", None, bits(0), id="build:three-commas-no-zone"),
    ],
)
def test_time_zone_only_after_exactly_four_commas(text: str, zone: str | None, months: int) -> None:
    spec = TimeSpec.parse(text)
    assert spec.timezone == zone
    assert spec.months == months


@pytest.mark.parametrize(
    ("text", "field", "position"),
    [
        pytest.param("24:00-01:00", "time", 0, id="times:hour-24-invalid"),
        pytest.param("09:60", "time", 0, id="times:minute-60-invalid"),
        pytest.param("0900-1700", "time", 0, id="times:needs-colon"),
        pytest.param("09:00-", "time", 0, id="times:range-without-end"),
        pytest.param("09:00-17:0x&25:00", "time", 12, id="times:second-item"),
        pytest.param("09:00-17:00,monday,*,*", "day of week", 12, id="lookup_name:three-letter-names-only"),
        pytest.param("09:00-17:00,mon-funday,*,*", "day of week", 16, id="range:bad-end"),
        pytest.param("*,*,0,*", "day", 4, id="lookup_name:day-0"),
        pytest.param("*,*,32,*", "day", 4, id="lookup_name:day-32"),
        pytest.param("*,*,*,13", "month", 6, id="lookup_name:month-13"),
        pytest.param("*,mon&&tue,*,*", "day of week", 6, id="range:empty-item"),
    ],
)
def test_bad_items_are_skipped_with_a_warning_or_rejected_when_strict(text: str, field: str, position: int) -> None:
    spec = TimeSpec.parse(text)
    assert len(spec.warnings) == 1 and spec.warnings[0].startswith(field + ":")
    with pytest.raises(TimingError) as raised:
        TimeSpec.parse(text, strict=True)
    assert (raised.value.field, raised.value.position) == (field, position)


def test_a_field_with_no_valid_item_never_matches() -> None:
    # [times]/[range]: the masks stay empty; Asterisk still builds (and includes) the spec.
    assert TimeSpec.parse("25:00").minutes == 0
    assert TimeSpec.parse("*,monday").weekdays == 0
    assert not TimeSpec.parse("*,monday,*,*,UTC").matches(at("2024-03-04T12:00:00+00:00"))
    assert TimeSpec.parse("*,mon&&tue").weekdays == bits(1, 2)


def test_blank_after_a_comma_spoils_the_field() -> None:
    # [range]: only "" or exactly "*" is "all"; " *" and " mon" are invalid items (lookup_name checks
    # the first character for a name, sscanf fails on letters), so such an include never matches.
    spec = TimeSpec.parse("09:00-17:00, mon-fri, *, *")
    assert (spec.weekdays, spec.days, spec.months) == (0, 0, 0)
    assert len(spec.warnings) == 3


def test_empty_spec_is_no_timing() -> None:
    # [build] returns 0 for empty text: include -> always, GotoIfTime -> false, IFTIME -> invalid.
    with pytest.raises(TimingError) as raised:
        TimeSpec.parse("")
    assert raised.value.field == "time"


# --- checking -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "instant", "expected"),
    [
        pytest.param("09:00-17:00,mon-fri,*,*,Europe/Madrid", "2024-03-04T08:59:59+01:00", False, id="before-start"),
        pytest.param("09:00-17:00,mon-fri,*,*,Europe/Madrid", "2024-03-04T09:00:00+01:00", True, id="start"),
        pytest.param("09:00-17:00,mon-fri,*,*,Europe/Madrid", "2024-03-04T17:00:59+01:00", True, id="end-minute"),
        pytest.param("09:00-17:00,mon-fri,*,*,Europe/Madrid", "2024-03-04T17:01:00+01:00", False, id="after-end"),
        pytest.param("09:00-17:00,mon-fri,*,*,Europe/Madrid", "2024-03-09T10:00:00+01:00", False, id="saturday"),
        pytest.param(
            "09:00-17:00,mon-fri,*,*,Europe/Madrid", "2024-03-04T08:30:00+00:00", True, id="utc-08:30-is-09:30"
        ),
        pytest.param("23:59,*,*,*,UTC", "2024-12-31T23:59:59+00:00", True, id="23:59:59"),
        pytest.param("23:59,*,*,*,UTC", "2025-01-01T00:00:00+00:00", False, id="midnight-after-23:59"),
        pytest.param("00:00,*,1,jan,UTC", "2025-01-01T00:00:00+00:00", True, id="new-year-midnight"),
        pytest.param("23:00-01:00,fri,*,*,UTC", "2024-03-01T23:30:00+00:00", True, id="friday-late"),
        pytest.param("23:00-01:00,fri,*,*,UTC", "2024-03-02T00:30:00+00:00", False, id="check:saturday-00:30"),
        pytest.param("23:00-01:00,fri,*,*,UTC", "2024-03-01T00:30:00+00:00", True, id="check:friday-00:30"),
        pytest.param("*,*,31,*,UTC", "2024-01-31T12:00:00+00:00", True, id="31st"),
        pytest.param("*,*,31,*,UTC", "2024-04-30T12:00:00+00:00", False, id="april-has-no-31st"),
        pytest.param("*,*,30-2,*,UTC", "2024-02-01T12:00:00+00:00", True, id="wrapped-days-feb-1"),
        pytest.param("*,*,30-2,*,UTC", "2024-02-28T12:00:00+00:00", False, id="wrapped-days-feb-28"),
        pytest.param("*,*,30-2,*,UTC", "2024-03-02T12:00:00+00:00", True, id="wrapped-days-mar-2"),
        pytest.param("*,*,29,feb,UTC", "2024-02-29T12:00:00+00:00", True, id="leap-day"),
        pytest.param("*,*,29,feb,UTC", "2023-03-01T12:00:00+00:00", False, id="no-leap-day-2023"),
        pytest.param("*,*,29,feb,UTC", "2028-02-29T00:00:00+00:00", True, id="leap-day-2028"),
        pytest.param("*,*,*,nov-feb,UTC", "2024-01-15T12:00:00+00:00", True, id="wrapped-months-jan"),
        pytest.param("*,*,*,nov-feb,UTC", "2024-03-01T00:00:00+00:00", False, id="wrapped-months-mar"),
        # DST in the spec's zone [check]+[tz]: local wall time is what counts.
        pytest.param("02:00-02:59,*,*,*,America/New_York", "2024-03-10T06:59:59+00:00", False, id="ny-01:59-est"),
        pytest.param("02:00-02:59,*,*,*,America/New_York", "2024-03-10T07:00:00+00:00", False, id="ny-gap-03:00-edt"),
        pytest.param("02:00-02:59,*,*,*,America/New_York", "2024-03-09T07:30:00+00:00", True, id="ny-02:30-day-before"),
        pytest.param("01:30,*,*,*,America/New_York", "2024-11-03T05:30:00+00:00", True, id="ny-01:30-edt"),
        pytest.param("01:30,*,*,*,America/New_York", "2024-11-03T06:30:00+00:00", True, id="ny-01:30-est"),
        pytest.param("02:00-02:59,*,31,mar,Europe/Madrid", "2024-03-31T01:00:00+00:00", False, id="madrid-gap"),
        pytest.param("02:30,*,27,oct,Europe/Madrid", "2024-10-27T00:30:00+00:00", True, id="madrid-02:30-cest"),
        pytest.param("02:30,*,27,oct,Europe/Madrid", "2024-10-27T01:30:00+00:00", True, id="madrid-02:30-cet"),
    ],
)
def test_matches(spec: str, instant: str, expected: bool) -> None:
    assert TimeSpec.parse(spec).matches(at(instant)) is expected


@pytest.mark.parametrize(
    ("zone", "instant", "local_hour", "understood"),
    [
        pytest.param(":Europe/Madrid", "2024-07-01T12:00:00+00:00", 14, True, id="tz:leading-colon"),
        pytest.param("EST5EDT", "2024-07-01T12:00:00+00:00", 8, True, id="tz:database-file"),
        pytest.param("<+03>-3", "2024-07-01T12:00:00+00:00", 15, True, id="tz:posix-string"),
        pytest.param("EST5", "2024-07-01T12:00:00+00:00", 7, True, id="tz:posix-no-dst"),
        # tzparse without rules takes posixrules (America/New_York): DST from 10 March 2024, not EU dates.
        pytest.param("CET-1CEST", "2024-03-20T12:00:00+00:00", 14, True, id="tz:posix-default-rules"),
        pytest.param("CET-1CEST", "2024-03-05T12:00:00+00:00", 13, True, id="tz:posix-default-second-sunday"),
        pytest.param("Europe/Madird", "2024-07-01T12:00:00+00:00", 12, False, id="tz:unknown-is-utc"),
        pytest.param(" Europe/Madrid", "2024-07-01T12:00:00+00:00", 12, False, id="tz:blank-not-stripped"),
    ],
)
def test_time_zone_resolution(zone: str, instant: str, local_hour: int, understood: bool) -> None:
    spec = TimeSpec.parse(f"*,*,*,*,{zone}")
    assert spec.local_time(at(instant)).hour == local_hour
    assert (spec.warnings == ()) is understood


def test_spec_without_zone_uses_the_system_zone_not_tz_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    instant = at("2024-07-01T00:30:00+00:00")  # 09:30 in Tokyo
    assert TimeSpec.parse("09:00-17:00").matches(instant, system_zone=tokyo)
    assert TimeSpec.parse("09:00-17:00,*,*,*,").matches(instant, system_zone=tokyo)  # [tz]: "" -> system
    assert not TimeSpec.parse("09:00-17:00").matches(instant, system_zone=timezone.utc)
    # [tz]: with no zone Asterisk loads /etc/localtime; the TZ environment variable plays no part.
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        expected = datetime.fromtimestamp(instant, system_timezone())
        assert TimeSpec.parse("*").local_time(instant) == expected
    finally:
        monkeypatch.undo()
        time.tzset()


@given(st.integers(0, 23), st.integers(0, 59), st.integers(0, 23), st.integers(0, 59), st.integers(0, 1439))
def test_time_range_is_start_to_end_inclusive_modulo_a_day(
    start_hour: int, start_minute: int, end_hour: int, end_minute: int, minute: int
) -> None:
    spec = TimeSpec.parse(f"{start_hour:02d}:{start_minute:02d}-{end_hour:02d}:{end_minute:02d}")
    start, end = start_hour * 60 + start_minute, end_hour * 60 + end_minute
    inside = (minute - start) % 1440 <= (end - start) % 1440
    assert bool(spec.minutes >> minute & 1) is inside
