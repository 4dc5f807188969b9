"""Argument splitting, option parsing and C scanning helpers (main/app.c, glibc sscanf)."""

from __future__ import annotations

import ctypes
import ctypes.util

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.dialplan.args import (
    OptionError,
    check_condition,
    get_encoded_char,
    get_encoded_str,
    parse_options,
    scan_float,
    scan_int,
    separate_args,
    split_args,
    strip_quoted,
)


@pytest.mark.parametrize(("text", "kwargs", "expected"), [
    # __ast_app_separate_args: an empty string has no arguments at all
    ("", {}, []),
    ("a", {}, ["a"]),
    ("a,b,c", {}, ["a", "b", "c"]),
    # a delimiter as the last character gives one more (empty) argument
    ("a,", {}, ["a", ""]),
    (",", {}, ["", ""]),
    ("a,,b", {}, ["a", "", "b"]),
    # parentheses and brackets protect the delimiter; unbalanced closers are ignored
    ("a(b,c),d", {}, ["a(b,c)", "d"]),
    ("a[b,c],d", {}, ["a[b,c]", "d"]),
    ("a)b,c", {}, ["a)b", "c"]),
    ("f(a,(b,c)),d", {}, ["f(a,(b,c))", "d"]),
    # double quotes protect the delimiter and are removed (kept when raw)
    ('a,"b,c",d', {}, ["a", "b,c", "d"]),
    ('a,"b,c",d', {"remove_chars": False}, ["a", '"b,c"', "d"]),
    ('say "hi"', {}, ["say hi"]),
    # a backslash makes the next character literal and is removed (kept when raw)
    ("a\\,b,c", {}, ["a,b", "c"]),
    ("a\\,b,c", {"remove_chars": False}, ["a\\,b", "c"]),
    ("a\\\\,b", {}, ["a\\", "b"]),
    ('a\\"b,c', {}, ['a"b', "c"]),
    ("a\\", {}, ["a"]),
    # the last slot takes the rest unprocessed (AST_DECLARE_APP_ARGS with fewer fields)
    ("a,b,c", {"limit": 2}, ["a", "b,c"]),
    ('a,"b",\\c', {"limit": 2}, ["a", '"b",\\c']),
    ("a,b", {"limit": 1}, ["a,b"]),
    ("a,", {"limit": 2}, ["a", ""]),
    # other delimiters (AST_NONSTANDARD_APP_ARGS), e.g. IF's '?' and ':' and REGEX's '"'
    ("1?yes:no", {"delimiter": "?", "limit": 2}, ["1", "yes:no"]),
    ('"^1[0-9]" 1001', {"delimiter": '"', "limit": 3}, ["", "^1[0-9]", " 1001"]),
    ("family/key/sub", {"delimiter": "/", "limit": 2}, ["family", "key/sub"]),
])
def test_separate_args(text: str, kwargs: dict[str, object], expected: list[str]) -> None:
    assert separate_args(text, **kwargs) == expected  # type: ignore[arg-type]


def test_split_args_pads_missing_fields_with_none() -> None:
    assert split_args("a,", 3) == (2, ["a", "", None])
    assert split_args(None, 2) == (0, [None, None])


DIAL_OPTIONS = {"t": False, "T": False, "r": True, "L": True, "M": True}


@pytest.mark.parametrize(("text", "flags", "arguments"), [
    # ast_app_parse_options: letters, letters with (argument)
    ("tT", {"t", "T"}, {}),
    ("r(ring)", {"r"}, {"r": "ring"}),
    ("L(60000:30000:10000)t", {"L", "t"}, {"L": "60000:30000:10000"}),
    # a letter that takes an argument but has none gets ""
    ("r", {"r"}, {"r": ""}),
    # nested parentheses; quotes (when the argument starts with one) group and are removed
    ("M(macro(a,b))", {"M"}, {"M": "macro(a,b)"}),
    ('M("a)b")', {"M"}, {"M": "a)b"}),
    ('M("a\\"b")', {"M"}, {"M": 'a"b'}),
    # a backslash outside quotes escapes and is removed
    ("M(a\\)b)", {"M"}, {"M": "a)b"}),
    # unknown letters are ignored silently, with or without an argument
    ("xt", {"t"}, {}),
    ("x(1,2)t", {"t"}, {}),
    # a flag without an argument slot may still carry one; it is dropped
    ("t(5)T", {"t", "T"}, {}),
    ("", set(), {}),
])
def test_parse_options(text: str, flags: set[str], arguments: dict[str, str]) -> None:
    assert parse_options(DIAL_OPTIONS, text) == (flags, arguments)


def test_parse_options_missing_parenthesis() -> None:
    # "Missing closing parenthesis for argument 'r'": parsing stops, earlier letters stay set
    with pytest.raises(OptionError) as info:
        parse_options(DIAL_OPTIONS, "tr(ring")
    assert info.value.position == 2
    assert info.value.flags == {"t"}


@pytest.mark.parametrize(("condition", "expected"), [
    # pbx_checkcondition: empty is false, a leading integer decides, other text is true
    (None, False), ("", False), ("0", False), ("1", True), ("-1", True), ("abc", True), (" 0", False),
    ("0abc", False), ("0.5", False), ("00", False), ("+0", False), ("- 1", True),
    # sscanf("%30d") stores the long into an int: 2**32 wraps to 0
    ("4294967296", False),
])
def test_check_condition(condition: str | None, expected: bool) -> None:
    assert check_condition(condition) is expected


_LIBC_NAME = ctypes.util.find_library("c")


@pytest.mark.skipif(_LIBC_NAME is None, reason="no C library to compare with (not Linux)")
@given(st.text(alphabet=" \t+-0123456789:x", max_size=40))
def test_scan_int_agrees_with_glibc_sscanf(text: str) -> None:
    libc = ctypes.CDLL(_LIBC_NAME)
    value, end = ctypes.c_int(0), ctypes.c_int(-1)
    count = libc.sscanf(text.encode(), b"%30d%n", ctypes.byref(value), ctypes.byref(end))
    found = scan_int(text)
    if count == 1:
        assert found == (value.value, end.value)
    else:
        assert found is None


@pytest.mark.parametrize(("text", "expected"), [
    ("3", 3.0), (" 2.5x", 2.5), ("-1e3", -1000.0), (".5", 0.5), ("0x10", 16.0), ("abc", None), ("", None),
    ("1e", 1.0),
])
def test_scan_float(text: str, expected: float | None) -> None:
    assert scan_float(text) == expected


@pytest.mark.parametrize(("stream", "expected"), [
    # ast_get_encoded_char: \n \r \t, \xHH, \0ooo, \c -> c
    ("a", ("a", 1, True)),
    ("\\n", ("\n", 2, True)),
    ("\\t", ("\t", 2, True)),
    ("\\x2C", (",", 4, True)),
    ("\\x41B", ("A", 4, True)),
    ("\\x4", ("\x04", 3, True)),
    ("\\054", (",", 4, True)),
    ("\\,", (",", 2, True)),
    ("\\-", ("-", 2, True)),
    ("", ("\0", 0, False)),
    ("\\xZ", ("\0", 2, False)),
])
def test_get_encoded_char(stream: str, expected: tuple[str, int, bool]) -> None:
    assert get_encoded_char(stream) == expected


def test_get_encoded_str() -> None:
    assert get_encoded_str("a\\x2Cb\\tc") == "a,b\tc"
    assert get_encoded_str("ab\\xZcd") == "ab"


@pytest.mark.parametrize(("text", "expected"), [
    # ast_strip_quoted: blanks, then one pair of surrounding quotes
    ('  "abc"  ', "abc"), ('"abc', '"abc'), ('"', ""), ("abc", "abc"), ('""', ""),
])
def test_strip_quoted(text: str, expected: str) -> None:
    assert strip_quoted(text) == expected
