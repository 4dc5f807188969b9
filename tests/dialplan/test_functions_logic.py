"""Conditions, numbers and time: func_logic.c, func_math.c, func_rand.c, STRFTIME/STRPTIME results."""

from __future__ import annotations

import logging

import pytest

from core.dialplan.runtime import SimpleEvalContext
from core.dialplan.substitute import substitute
from tests.dialplan.test_substitute import make_ctx


@pytest.fixture
def ctx() -> SimpleEvalContext:
    return make_ctx()


def run(ctx: SimpleEvalContext, text: str, **variables: str) -> str:
    ctx.channel.variables.update(variables)
    return substitute(text, ctx)


# -- func_logic.c ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("${ISNULL()}", "1"), ("${ISNULL(x)}", "0"), ("${ISNULL(${UNSET})}", "1"),
    ("${EXISTS()}", "0"), ("${EXISTS(x)}", "1"),
    ("${IF(1?yes:no)}", "yes"),
    ("${IF(0?yes:no)}", "no"),
    ("${IF(abc?yes:no)}", "yes"),  # pbx_checkcondition: text is true
    ("${IF(0abc?yes:no)}", "no"),  # ... a leading integer decides
    ("${IF( 1 ? yes : no )}", "yes"),  # condition and branches are trimmed
    ("${IF(0? yes : no )}", "no"),
    ("${IF(1?yes)}", "yes"),
    ("${IF(0?yes)}", ""),
    ("${IF(0?:no)}", "no"),
    ("${IF(1?:no)}", ""),
    ("${IF(1?a(b:c):d)}", "a(b:c)"),  # parentheses protect the ':'
    ('${IF("1"?"a":b)}', "a"),  # quotes removed from the condition and the true branch ...
    ('${IF(0?a:"b")}', '"b"'),  # ... but the false branch is the unprocessed remainder
    ("${IF(?yes:no)}", ""),  # "Syntax IF(<expr>?[<true>][:<false>])"
    ("${IF(1)}", ""),
    ("${IF(1?)}", ""),
    ("${IF($[1 = 1]?${IF(0?x:y)}:z)}", "y"),
])
def test_logic(ctx: SimpleEvalContext, text: str, expected: str) -> None:
    assert run(ctx, text) == expected


def test_if_syntax_error_is_logged(ctx: SimpleEvalContext, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "centralita.dialplan"):
        run(ctx, "${IF(1)}")
    assert "Syntax IF(<expr>?[<true>][:<false>])" in caplog.text


@pytest.mark.parametrize(("text", "expected"), [
    # NOW is Wednesday 2006-03-01 13:30:35 UTC (07:30:35 in Chicago)
    ("${IFTIME(13:00-14:00,wed,1,mar,UTC?open:closed)}", "open"),
    ("${IFTIME(09:00-10:00,*,*,*,UTC?open:closed)}", "closed"),
    ("${IFTIME(07:00-08:00,*,*,*,America/Chicago?open:closed)}", "open"),
    ("${IFTIME(*,thu,*,*,UTC?open:closed)}", "closed"),
    ('${IFTIME(*,*,*,*,UTC?"open":"closed")}', "open"),  # branch quotes are stripped
    ("${IFTIME(*,*,*,*,UTC?:closed)}", ""),
    ("${IFTIME(*,fri,*,*,UTC?open)}", ""),
    ("${IFTIME(*,*,*,*)}", ""),  # no '?': syntax error
])
def test_iftime(ctx: SimpleEvalContext, text: str, expected: str) -> None:
    assert run(ctx, text) == expected


def test_set_function_assigns_and_returns(ctx: SimpleEvalContext) -> None:
    assert run(ctx, "${SET(X=5)}") == "5"
    assert run(ctx, "${SET( Y = a b )}") == "a b"
    assert ctx.channel.variables == {"X": "5", "Y": "a b"}
    assert run(ctx, "${SET(X)}") == ""


# -- func_math.c / func_rand.c ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("${MATH(123%16,int)}", "11"),  # MATH doc example
    ("${MATH(170 AND 63,i)}", "42"),  # func_math.c AST_TEST test_MATH_function
    ("${MATH(170AND63,i)}", "42"),
    ("${MATH(3+4)}", "7.000000"),  # float is the default type (%f)
    ("${MATH(10/4)}", "2.500000"),
    ("${MATH(10/4,int)}", "2"),
    ("${MATH(10/0,i)}", "0"),  # "can't do a divide by 0"
    ("${MATH(10/-2)}", "0.000000"),  # ... nor by anything <= 0
    ("${MATH(-2*-3,i)}", "6"),
    ("${MATH(10-2-3,i)}", "8"),  # the first '-' splits, "2-3" reads as 2
    ("${MATH(2^10,i)}", "1024"),
    ("${MATH(1<<4,i)}", "16"),
    ("${MATH(256>>4,i)}", "16"),
    ("${MATH(6 XOR 3,i)}", "5"),
    ("${MATH(6 OR 3,i)}", "7"),
    ("${MATH(-7%3,i)}", "-1"),  # C's truncating %
    ("${MATH(7%-3,i)}", "1"),
    ("${MATH(7%0,i)}", "0"),
    ("${MATH(5>3)}", "TRUE"),
    ("${MATH(5<=3)}", "FALSE"),
    ("${MATH(3>=3)}", "TRUE"),
    ("${MATH(3==3,i)}", "TRUE"),
    ("${MATH(255+0,h)}", "ff"),
    ("${MATH(255+0,hex)}", "ff"),
    ("${MATH(-1+0,h)}", "ffffffff"),
    ("${MATH(65+0,c)}", "A"),
    ("${MATH(1.9+0,i)}", "1"),
    ("${MATH(-1.9+0,i)}", "-1"),
    ("${MATH(1e10+0,i)}", "-2147483648"),  # out of int range, as x86 converts
    ("${MATH(3=3)}", ""),  # a single '=' is no operator
    ("${MATH(1+1,x)}", ""),  # "Unknown type of result requested"
    ("${MATH(abc+1)}", ""),  # "is not a valid number"
    ("${MATH(5)}", ""),
    ("${MATH()}", ""),
])
def test_math(ctx: SimpleEvalContext, text: str, expected: str) -> None:
    assert run(ctx, text) == expected


def test_inc_and_dec(ctx: SimpleEvalContext) -> None:
    ctx.channel.variables["COUNT"] = "5"
    assert run(ctx, "${INC(COUNT)}") == "6"
    assert run(ctx, "${INC(COUNT)}") == "7"
    assert run(ctx, "${DEC(COUNT)}") == "6"
    assert ctx.channel.variables["COUNT"] == "6"
    ctx.globals["G"] = "1"
    assert run(ctx, "${INC(G)}") == "2"
    assert ctx.channel.variables["G"] == "2"  # written back as a channel variable


@pytest.mark.parametrize("value", ["abc", "5 ", "5x", ""])
def test_inc_refuses_non_numbers(ctx: SimpleEvalContext, value: str) -> None:
    ctx.channel.variables["V"] = value
    assert run(ctx, "${INC(V)}|${INC(UNSET)}|${INC()}") == "||"
    assert ctx.channel.variables["V"] == value


@pytest.mark.parametrize(("text", "expected"), [
    ("${MIN(7,4)}", "4"),  # MIN doc example
    ("${MAX(4,7)}", "7"),  # MAX doc example
    ("${ABS(-13)}", "13"),  # ABS doc example
    ("${MIN(1.5,2)}", "1.500000"),
    ("${MAX(,3)}", "3"),
    ("${MIN(3,)}", "3"),
    ("${MIN(,)}", ""),
    ("${MAX(a,1)}", ""),
    ("${ABS(x)}", ""),
    ("${ABS(-2.25)}", "2.250000"),
])
def test_min_max_abs(ctx: SimpleEvalContext, text: str, expected: str) -> None:
    assert run(ctx, text) == expected


def test_rand(ctx: SimpleEvalContext) -> None:
    # RAND doc example: RAND(1,8) is between 1 and 8 inclusive; swapped bounds are reordered
    values = {int(run(ctx, "${RAND(1,8)}")) for _ in range(400)}
    assert values <= set(range(1, 9)) and len(values) == 8
    assert {run(ctx, "${RAND(8,1)}") for _ in range(50)} <= {str(n) for n in range(1, 9)}
    assert run(ctx, "${RAND(5,5)}") == "5"
    assert 0 <= int(run(ctx, "${RAND()}")) <= 2147483647


# -- STRFTIME / STRPTIME ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("${STRFTIME(1141219835,America/Chicago,%Y-%m-%d %H:%M:%S)}", "2006-03-01 07:30:35"),
    ("${STRFTIME(1141219835.123456,UTC,%S.%3q %1q %6q %q)}", "35.123 1 123456 123"),
    ("${STRFTIME(,UTC,%H:%M:%S.%q)}", "13:30:35.250"),  # no epoch: now (the pinned clock)
    ("${STRFTIME(1141219835,UTC)}", "Wed Mar  1 13:30:35 2006"),  # %c in the C locale
    ("${STRFTIME(1141219835,America/Chicago,%Z %z)}", "CST -0600"),
    ("${STRFTIME(0,No/Such_Zone,%H:%M %Z)}", "00:00 UTC"),  # an unknown zone is UTC (GMT in Asterisk)
    ("${STRFTIME(junk,UTC,%Y)}", "2006"),  # an unparsable epoch is now
    ("${STRFTIME(0,UTC,)}", ""),
])
def test_strftime(ctx: SimpleEvalContext, text: str, expected: str) -> None:
    assert run(ctx, text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("${STRPTIME(2006-03-01 07:30:35,America/Chicago,%Y-%m-%d %H:%M:%S)}", "1141219835"),  # STRPTIME doc example
    ("${STRPTIME(1970-01-02,UTC,%Y-%m-%d)}", "86400"),
    ("${STRPTIME(2006-03-01 trailing text,UTC,%Y-%m-%d)}", "1141171200"),  # strptime() stops early
    ("${STRPTIME(2006-03,UTC,%Y-%m)}", "1141084800"),  # tm_mday 0 is the day before the 1st
    ("${STRPTIME(2040-01-01,UTC,%Y-%m-%d)}", "-2085978496"),  # printed as a C int
    ("${STRPTIME(garbage,UTC,%Y)}", ""),
    ("${STRPTIME(2006-03-01,UTC,)}", ""),
])
def test_strptime(ctx: SimpleEvalContext, text: str, expected: str) -> None:
    assert run(ctx, text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    # ast_get_timeval() takes any %Lf epoch; the last second Python's datetime can format still works.
    pytest.param("${STRFTIME(253402300799,UTC,%Y-%m-%d)}", "9999-12-31", id="year-9999"),
    # Beyond year 9999 nothing can be formatted here: an empty result, not a failing function.
    pytest.param("${STRFTIME(99999999999999999999,UTC,%Y)}", "", id="epoch-beyond-year-9999"),
    # glibc strptime() takes a format that repeats a directive; Python cannot compile one: no match.
    pytest.param("${STRPTIME(0101,UTC,%d%d)}", "", id="repeated-directive"),
])
def test_time_functions_at_the_edges_never_fail(ctx: SimpleEvalContext, caplog: pytest.LogCaptureFixture,
                                               text: str, expected: str) -> None:
    with caplog.at_level(logging.WARNING, logger="centralita.dialplan"):
        assert run(ctx, text) == expected
    assert not [record for record in caplog.records if record.exc_info]
