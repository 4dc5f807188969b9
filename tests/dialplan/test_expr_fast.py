"""The shortcuts of core.dialplan.expr give exactly what its exact path gives.

``evaluate()`` answers ``[-]A op [-]B`` on decimal integers with Python ints (``_integer_expression``) and
scans plain texts with one regular expression (``_scan_simple``). The exact path follows
``main/ast_expr2.fl``/``ast_expr2.y`` step by step with 80-bit long double arithmetic; the properties below
compare the shortcuts with it directly, over boundary values where long double arithmetic and ``%.18Lg``
printing stop being plain integer arithmetic (10**18, 2**63, 2**64) and over negated zeros.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.dialplan import expr
from core.dialplan.expr import evaluate


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _logged() -> Iterator[list[str]]:
    """What the expression engine logs inside the block (hypothesis tests cannot use caplog)."""
    logger = logging.getLogger("centralita.dialplan")
    handler = _Records()
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


# --------------------------------------------------------------------------------------------------
# The integer shortcut against the exact path.

_BOUNDARIES = [0, 1, 2, 3, 7, 10, 2500, 3037000499, 3037000500, 10**9, 2**31, 2**32, 2**53, 10**17]
_BOUNDARIES += [10**18 // 2, 10**18, 2**63, 2**64, 10**19, 10**20]
_MAGNITUDES = st.one_of(
    st.sampled_from([0, 1]),  # a negated 0 is the long double -0
    st.integers(0, 100),
    st.builds(lambda base, delta: max(0, base + delta), st.sampled_from(_BOUNDARIES), st.integers(-3, 3)),
    st.integers(0, 2**67),
)
_BLANKS = st.sampled_from(["", " ", "  ", "\t", "\n", "\r", " \t "])
_OPERATORS = ["+", "-", "*", "%", "/", "=", "==", "!=", "<", "<=", ">", ">=", "&", "|", "--", "- -", "*-", "<-"]


@st.composite
def _operands(draw: st.DrawFn) -> str:
    magnitude = draw(_MAGNITUDES)
    zeros = draw(st.sampled_from(["", "", "0", "000"]))
    minus = draw(st.sampled_from(["", "", "-", "- "]))
    return f"{minus}{zeros}{magnitude}"


@st.composite
def _integer_texts(draw: st.DrawFn) -> str:
    left, right = draw(_operands()), draw(_operands())
    operation = draw(st.sampled_from(_OPERATORS))
    return f"{draw(_BLANKS)}{left}{draw(_BLANKS)}{operation}{draw(_BLANKS)}{right}{draw(_BLANKS)}"


@settings(max_examples=2000, deadline=None)
@given(_integer_texts())
@example("999999999999999999 + 1")  # %.18Lg: 1e+18
@example("-999999999999999999 - 1")
@example("4294967296 * 4294967296")  # 2**64: 1.84467440737095516e+19
@example("18446744073709551615 = 18446744073709551614")  # 2**64 - 1 and its neighbour are exact
@example("18446744073709551617 = 18446744073709551616")  # strtold() rounds both to 2**64
@example("0 * -1")  # -0
@example("-0 + 0")
@example("-0 * 5")  # -0 * 5 is -0
@example("-0 - 0")  # -0 + -0 is -0
@example("-0 % 5")  # fmodl(-0, 5) is -0
@example("-0 < 0")
@example("-6 % 3")  # fmodl keeps the dividend's sign: -0
@example("7 % -3")
@example("5 % 0")  # op_rem logs "div by zero"
@example("9223372036854775808 - 1")
def test_integer_shortcut_equals_exact_path(text: str) -> None:
    with _logged() as messages:
        exact = expr._evaluate_exact(text)
    shortcut = expr._integer_expression(text)
    if shortcut is not None:
        assert shortcut == exact
        assert messages == []  # the shortcut skips nothing the exact path would have logged
    assert evaluate(text) == exact


# Documented results the shortcut must answer by itself (so the property above is not vacuous).
SHORTCUT_CASES = [
    ("2 + 2", "4"),  # asterisk tests/test_expr.c
    ("2 - 4", "-2"),  # tests/test_expr.c
    ("-4 - -2", "-2"),  # tests/test_expr.c
    ("3 < 4", "1"),  # tests/test_expr.c
    ("3 >= 4", "0"),  # tests/test_expr.c
    ("3 != 3", "0"),  # tests/test_expr.c
    ("3 = 3", "1"),  # tests/test_expr.c
    ("7 % -3", "1"),  # fmodl(7, -3): sign of the dividend (C99 7.12.10.1)
    ("999999999999999999 + 0", "999999999999999999"),  # %.18Lg prints 18 digits as they are
    ("18446744073709551615 > 18446744073709551614", "1"),  # both below 2**64: exact long doubles
    ("1234+1", "1235"),  # ast_expr2.fl: operators need no blanks
]


@pytest.mark.parametrize(("text", "expected"), SHORTCUT_CASES, ids=[t for t, _ in SHORTCUT_CASES])
def test_integer_shortcut_answers_common_texts(text: str, expected: str) -> None:
    assert expr._integer_expression(text) == expected
    assert expr._evaluate_exact(text) == expected


# --------------------------------------------------------------------------------------------------
# The plain-text scanner against the flex-rule scanner.

_PLAIN_PIECES = ["1", "23", "0", "1.5", "1.", ".5", "1.2.3", "12a", "abc", "a.b", "'q'", "#@^_;", "é", "\u0663"]
_PLAIN_PIECES += ["\xa0", '"x y"', '""', '"a${B}c"', "|", "||", "&", "&&", "=", "==", "=~", "~~", ">", ">=", "<"]
_PLAIN_PIECES += ["<=", "!", "!=", ":", "::", "?", ",", "+", "-", "*", "/", "%", "(", ")", " ", "\t", "\n", "\r"]
_UNUSUAL_PIECES = ['"', "$", "${X}", "$x", "[", "]", "{", "}", "~", "`", "\x7f", "\x01", "\v"]
_TEXTS = st.lists(st.sampled_from(_PLAIN_PIECES * 8 + _UNUSUAL_PIECES), max_size=12).map("".join)


@settings(max_examples=1500, deadline=None)
@given(_TEXTS)
@example('"abc" = "abc"')
@example("abc1 != abc5 & 1")
@example("(12 > 5) & (12 < 3000)")
@example("1 + 1   ")
def test_simple_scanner_equals_exact_scanner(text: str) -> None:
    simple = expr._scan_simple(text)
    if simple is None:
        return  # an unusual character: _tokens() uses _scan()
    kinds, values, offsets = expr._scan(text)
    assert simple[0] == kinds
    assert simple[1] == values
    assert [type(value) for value in simple[1]] == [type(value) for value in values]  # numeric strings


PLAIN_TEXTS = ['"yes" = "yes"', "abc != abc5 & 1", "(12 > 5) & (12 < 3000)", "1.5 + 2", "LEN(abc) > 2", " "]
UNUSUAL_TEXTS = ["${X} = 1", "a$b", '"abc', "[1]", "1 ~ 2", "1\v+ 2", "{1}"]


@pytest.mark.parametrize("text", PLAIN_TEXTS, ids=repr)
def test_simple_scanner_takes_plain_texts(text: str) -> None:
    assert expr._scan_simple(text) is not None


@pytest.mark.parametrize("text", UNUSUAL_TEXTS, ids=repr)
def test_simple_scanner_leaves_flex_corner_cases_to_the_exact_scanner(text: str) -> None:
    # "${" starts the var/trail rules, "$x" joins a token, and flex's default rule drops the rest.
    assert expr._scan_simple(text) is None


def test_syntax_error_offset_from_a_plain_text(caplog: pytest.LogCaptureFixture) -> None:
    # ast_yyerror() marks the offending token; the plain scanner leaves offsets to _scan() on this path.
    with caplog.at_level(logging.WARNING, logger="centralita.dialplan"):
        assert evaluate('"a" = = "b"') == "0"
    assert caplog.records[-1].getMessage().endswith('"a" = = "b"\n      ^')
