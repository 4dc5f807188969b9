"""Asterisk 20's ``$[...]`` expression language (core.dialplan.expr), case by case against its sources.

Every expected value comes from one of:

* ``asterisk tests/test_expr.c`` -- Asterisk's own unit test of ``ast_expr()`` (the whole table);
* docs.asterisk.org, Configuration > Dialplan > Expressions (pages named per group);
* ``main/ast_expr2.y`` / ``main/ast_expr2.fl`` -- the ``op_*`` function or scanner rule named per case;
* for long double arithmetic and ``%.18Lg`` printing: glibc on x86-64 (``printf("%.18Lg")`` of the same
  ``long double`` operation, computed with a C program), which is what ``FP___PRINTF``/``FP___TYPE`` in
  ``ast_expr2.fl`` produce on the platform the corpus comes from.
"""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.dialplan import expr, posix_regex
from core.dialplan.expr import evaluate

# --------------------------------------------------------------------------------------------------
# asterisk tests/test_expr.c, AST_TEST_DEFINE(expr_test): input -> output, the complete table
# (repeated rows of the original listed once).

ASTERISK_UNIT_TEST = [
    ("2 + 2", "4"),
    ("      2     +       2            ", "4"),
    ("", ""),
    ("2 - 4", "-2"),
    ("4 - 2", "2"),
    ("-4 - -2", "-2"),
    ("4 + 2 * 8", "20"),
    ("(4 + 2) * 8", "48"),
    ("4 + (2 * 8)", "20"),
    ("4 + (2 * 8) ? 3 :: 6", "3"),
    ("4 + 8 / 2", "8"),
    ("FLOOR(4 + 8 / 3)", "6"),
    ("(4+8) / 3", "4"),
    ("4 + 8 % 3", "6"),
    ("4 + 9 % 3", "4"),
    ("(4+9) %3", "1"),
    ("(4+8) %3", "0"),
    ("(4+9) % 3", "1"),
    ("(4+8) % 3", "0"),
    ("(4+9)% 3", "1"),
    ("(4+8)% 3", "0"),
    ("4 & 4", "4"),
    ("0 & 4", "0"),
    ("0 & 0", "0"),
    ("2 | 0", "2"),
    ("2 | 4", "2"),
    ("0 | 0", "0"),
    ("!0 | 0", "1"),
    ("!4 | 0", "0"),
    ("4 | !0", "4"),
    ("!4 | !0", "1"),
    ("0", "0"),
    ("!0", "1"),
    ("00", "00"),
    ("!00", "1"),
    ("1", "1"),
    ("!1", "0"),
    ("01", "01"),
    ("!01", "0"),
    ("3 < 4", "1"),
    ("4 < 3", "0"),
    ("3 > 4", "0"),
    ("4 > 3", "1"),
    ("3 = 3", "1"),
    ("3 = 4", "0"),
    ("3 != 3", "0"),
    ("3 != 4", "1"),
    ("3 >= 4", "0"),
    ("3 >= 3", "1"),
    ("4 >= 3", "1"),
    ("3 <= 4", "1"),
    ("4 <= 3", "0"),
    ("4 <= 4", "1"),
    ("3 > 4 & 4 < 3", "0"),
    ("4 > 3 & 3 < 4", "1"),
    ("x = x", "1"),
    ("y = x", "0"),
    ("x != y", "1"),
    ("x != x", "0"),
    ('"Something interesting" =~ interesting', "11"),
    ('"Something interesting" =~ Something', "9"),
    ('"Something interesting" : Something', "9"),
    ('"Something interesting" : interesting', "0"),
    ('"Something interesting" =~ "interesting"', "11"),
    ('"Something interesting" =~ "Something"', "9"),
    ('"Something interesting" : "Something"', "9"),
    ('"Something interesting" : "interesting"', "0"),
    ('"Something interesting" =~ (interesting)', "11"),
    ('"Something interesting" =~ (Something)', "9"),
    ('"Something interesting" : (Something)', "9"),
    ('"Something interesting" : (interesting)', "0"),
    ('"Something interesting" =~ "\\(interesting\\)"', "0"),
    ('"Something interesting" =~ "\\(Something\\)"', "0"),
    ('"Something interesting" : "\\(Something\\)"', "0"),
    ('"Something interesting" : "\\(interesting\\)"', "0"),
    ('"011043567857575" : "011\\(..\\)"', "0"),
    ('"9011043567857575" : "011\\(..\\)"', "0"),
    ('"011043567857575" =~ "011\\(..\\)"', "0"),
    ('"9011043567857575" =~ "011\\(..\\)"', "0"),
    ('"Something interesting" =~ "(interesting)"', "interesting"),
    ('"Something interesting" =~ "(Something)"', "Something"),
    ('"Something interesting" : "(Something)"', "Something"),
    ('"Something interesting" : "(interesting)"', ""),
    ('"011043567857575" : "011(..)"', "04"),
    ('"9011043567857575" : "011(..)"', ""),
    ('"011043567857575" =~ "011(..)"', "04"),
    ('"9011043567857575" =~ "011(..)"', "04"),
    ("3", "3"),
    ("something", "something"),
    ("043", "043"),
    ("${GLOBAL(ULKOPREFIX)}9${x}", "${GLOBAL(ULKOPREFIX)}9${x}"),
    ("512059${x}", "512059${x}"),
]


@pytest.mark.parametrize(
    ("text", "expected"), ASTERISK_UNIT_TEST, ids=[f"test_expr.c:{t!r}" for t, _ in ASTERISK_UNIT_TEST]
)
def test_asterisk_unit_test_table(text: str, expected: str) -> None:
    assert evaluate(text) == expected


# --------------------------------------------------------------------------------------------------
# docs.asterisk.org "Expressions Examples". The page lost the '*' of the patterns to its Markdown
# conversion ("T[^ ]" cannot match 8 characters, nor capture "Thousand"); the patterns below are the
# original README.variables ones, "T[^ ]*" and "(T[^ ]*)", which give the documented results.

DOCS_EXAMPLES = [
    ('"One Thousand Five Hundred" =~ "(T[^ ]*)"', "Thousand"),
    ('"One Thousand Five Hundred" =~ "T[^ ]*"', "8"),
    ('"One Thousand Five Hundred" : "T[^ ]*"', "0"),
    ('"8015551212" : "(...)"', "801"),
    ('"3075551212":"...(...)"', "555"),
    ('! "One Thousand Five Hundred" =~ "T[^ ]*"', "0"),
    ('!( "One Thousand Five Hundred" : "T[^ ]+" )', "1"),
    ("2 + 8 / 2", "6"),
    ("2+8/2", "6"),
    ("(2+8)/2", "5"),
    ("(3+8)/2", "5.5"),
    ("TRUNC((3+8)/2)", "5"),
    ("FLOOR(2.5)", "2"),
    ("FLOOR(-2.5)", "-3"),
    ("CEIL(2.5)", "3"),
    ("CEIL(-2.5)", "-2"),
    ("ROUND(2.5)", "3"),
    ("ROUND(3.5)", "4"),
    ("ROUND(-2.5)", "-3"),
    ("RINT(2.5)", "2"),
    ("RINT(3.5)", "4"),
    ("RINT(-2.5)", "-2"),
    ("RINT(-3.5)", "-4"),
    ("TRUNC(2.5)", "2"),
    ("TRUNC(3.5)", "3"),
    ("TRUNC(-3.5)", "-3"),
]


@pytest.mark.parametrize(
    ("text", "expected"), DOCS_EXAMPLES, ids=[f"Expressions-Examples:{t!r}" for t, _ in DOCS_EXAMPLES]
)
def test_documented_examples(text: str, expected: str) -> None:
    assert evaluate(text) == expected


# Other documentation pages, each case with its page.
DOCS_OTHER = [
    # Overview: "Set(lala=$[1 + 2])" then "Set(koko=$[2 * ${lala}])" gives 6; extra spaces are ignored.
    pytest.param("1 + 2", "3", id="Overview:1 + 2"),
    pytest.param("2 * 3", "6", id="Overview:2 * ${lala}"),
    pytest.param(" 1 + 2 ", "3", id="Overview:spaces"),
    # Expression Parser Incompatibilities: "'1+1' will now evaluate to '2'"; quote it to keep it a string;
    # "you can 3+ -4 and get -1".
    pytest.param("1+1", "2", id="Incompatibilities:1+1"),
    pytest.param('"1+1"', '"1+1"', id="Incompatibilities:quoted 1+1"),
    pytest.param("3+ -4", "-1", id="Incompatibilities:unary minus"),
    # Floating Point Numbers: floating point division, TRUNC for the old integer behaviour; ".10" is not
    # a number (a string token, so op_plus() returns the numeric operand).
    pytest.param("1/4", "0.25", id="Floating-Point:1/4"),
    pytest.param("TRUNC(1/4)", "0", id="Floating-Point:TRUNC(1/4)"),
    pytest.param("0.10 + 1", "1.1", id="Floating-Point:0.10 is a number"),
    pytest.param(".10 + 1", "1", id="Floating-Point:.10 is not a number"),
    pytest.param("20. + 1", "1", id="Floating-Point:20. is not a number"),
    # Operators: '|' returns expr1 unless it is empty or zero; '&' returns expr1 or zero.
    pytest.param("abc | def", "abc", id="Operators:| returns expr1"),
    pytest.param("0 | def", "def", id="Operators:| returns expr2 for zero"),
    pytest.param("abc & def", "abc", id="Operators:& returns expr1"),
    pytest.param("abc & 0", "0", id="Operators:& returns zero"),
    # Operators: '!' gives 1 for an empty string or "0", else 0 ("!abc" reads atoi("abc") == 0: see
    # op_compl(), which is what Asterisk does, not what the page says).
    pytest.param("!0", "1", id="Operators:!0"),
    pytest.param("!7", "0", id="Operators:!7"),
    # Operators: "expr1 ? expr2 :: expr3"; a string expr1 is false when empty or the two characters "".
    pytest.param('"" ? yes :: no', "no", id='Operators:?:: with ""'),
    pytest.param("abc ? yes :: no", "yes", id="Operators:?:: with a string"),
    pytest.param("0 ? yes :: no", "no", id="Operators:?:: with 0"),
    pytest.param("2 ? yes :: no", "yes", id="Operators:?:: with 2"),
    # Operators: '~~' concatenates after stripping the surrounding double quotes.
    pytest.param('"ab" ~~ "cd"', "abcd", id="Operators:~~"),
    pytest.param("1 ~~ 2", "12", id="Operators:~~ numbers"),
    # Expr2 Built-in Functions: ROUND halves away from zero, RINT to even.
    pytest.param("ROUND(0.5)", "1", id="Built-in Functions:ROUND(0.5)"),
    pytest.param("RINT(0.5)", "0", id="Built-in Functions:RINT(0.5)"),
    pytest.param("RINT(1.5)", "2", id="Built-in Functions:RINT(1.5)"),
]


@pytest.mark.parametrize(("text", "expected"), DOCS_OTHER)
def test_documentation_pages(text: str, expected: str) -> None:
    assert evaluate(text) == expected


# --------------------------------------------------------------------------------------------------
# Precedence and associativity: the %left/%right table of ast_expr2.y. Each case is chosen so that
# another grouping would give a different answer (noted after the case).

GRAMMAR = [
    ("2 + 3 * 4", "14"),  # not 20
    ("10 - 4 - 3", "3"),  # %left: not 9
    ("64 / 4 / 2", "8"),  # %left: not 32
    ("2 * 3 % 4", "2"),  # * and % share a level, left to right: not 6
    ("1 | 0 & 0", "1"),  # & binds tighter than |: not 0
    ("0 & 1 | 2", "2"),
    ("1 + 1 = 2", "1"),  # + binds tighter than =
    ("3 = 3 = 1", "1"),  # (3 = 3) = 1
    ("2 < 3 < 1", "0"),  # (2 < 3) < 1
    ("-12 : 1", "-1"),  # unary minus is below ':': -(12 : 1), not (-12) : 1 which is 0
    ("!5 : 4", "1"),  # !(5 : 4): not (!5) : 4 which is 0
    ("- - 3", "3"),  # %right unary operators nest
    ("!!5", "1"),
    ("!!0", "0"),
    ("-3 * 2", "-6"),
    ("3 * -2", "-6"),
    ("1 ? 2 :: 3 ? 4 :: 5", "4"),  # %left ?: ((1 ? 2 :: 3) ? 4 :: 5), right-associative would give 2
    ("0 ? 1 ? 2 :: 3 :: 4", "4"),  # a conditional inside the middle operand
    ("1 ? 1 ? 2 :: 3 :: 4", "2"),
    ("1 ? 2 :: 3 + 4", "2"),  # the third operand takes the higher operators
    ("0 ? 2 :: 3 + 4", "7"),
    ("1 + 1 ? 2 :: 3", "2"),  # ?: is the lowest level
    ("0 | 0 ? 5 :: 6", "6"),
    ("1 ~~ 2 + 1", "13"),  # ~~ shares ':''s level, above +
    ('"a" ~~ "b" = ab', "1"),
    ("(1 + 2) * (3 + 4)", "21"),
    ("((((7))))", "7"),
    ("1 == 1", "1"),  # ==, ||, && are the scanner's aliases of =, |, &
    ("0 || 5", "5"),
    ("1 && 0", "0"),
]


@pytest.mark.parametrize(("text", "expected"), GRAMMAR, ids=[f"ast_expr2.y precedence:{t!r}" for t, _ in GRAMMAR])
def test_precedence_and_associativity(text: str, expected: str) -> None:
    assert evaluate(text) == expected


# --------------------------------------------------------------------------------------------------
# Strings and numbers: the op_* functions of ast_expr2.y, named per case.

STRINGS_AND_NUMBERS = [
    # op_eq/op_lt/...: a string operand makes it a strcoll() comparison, quotes included; numeric
    # strings on both sides compare as numbers.
    pytest.param('"abc" < "abd"', "1", id="op_lt strings"),
    pytest.param('"abc" > "abd"', "0", id="op_gt strings"),
    pytest.param("abc < abd", "1", id="op_lt bare strings"),
    pytest.param("10 < 9", "0", id="op_lt numbers"),
    pytest.param('"10" < "9"', "1", id="op_lt quoted numbers are strings"),
    pytest.param("10 < 9a", "1", id="op_lt number vs string compares text"),
    pytest.param('"5" = 5', "0", id="op_eq quotes stay part of the string"),
    pytest.param('"a b" = "a b"', "1", id="op_eq quoted with space"),
    pytest.param("5.0 = 5", "1", id="op_eq numeric strings as numbers"),
    pytest.param("007 = 7", "1", id="op_eq leading zeros"),
    pytest.param('a = "a"', "0", id="op_eq bare vs quoted"),
    pytest.param("B < a", "1", id="op_lt byte order (C locale)"),
    pytest.param("abc >= abc", "1", id="op_ge equal strings"),
    pytest.param('"" = ""', "1", id="op_eq two empty quoted strings"),
    # A value keeps its quotes in the result (start rule copies the token).
    pytest.param('"abc"', '"abc"', id="result keeps quotes"),
    pytest.param('""', '""', id="result keeps empty quotes"),
    # is_zero_or_null() converts a numeric string, so '|' and '&' return the number.
    pytest.param("007 | 1", "7", id="op_or converts numeric string"),
    pytest.param("00 | 5", "5", id="op_or zero numeric string"),
    pytest.param("1.50 | 2", "1.5", id="op_or prints the number"),
    pytest.param("007 & 1", "7", id="op_and converts numeric string"),
    pytest.param('"" | x', '""', id="op_or quoted empty is not empty"),
    pytest.param("0 | 007", "007", id="op_or returns expr2 unconverted"),
    pytest.param("1 ? 007 :: 2", "007", id="op_cond returns its operand unconverted"),
    pytest.param("abc + 007", "7", id="op_plus returns the converted number"),
    pytest.param("0.0 & 1", "0", id="op_and 0.0 is zero"),
    # op_plus/op_minus/op_times/op_div/op_rem/op_negate with non-numeric operands.
    pytest.param("abc + 1", "1", id="op_plus returns the numeric operand"),
    pytest.param("1 + abc", "1", id="op_plus returns the numeric left operand"),
    pytest.param("abc + def", "0", id="op_plus both non-numeric"),
    pytest.param('"5" + 1', "1", id="op_plus quoted 5 is a string"),
    pytest.param("abc - 1", "-1", id="op_minus 0 - b"),
    pytest.param("5 - abc", "5", id="op_minus returns a"),
    pytest.param("abc * 2", "0", id="op_times non-numeric"),
    pytest.param("abc / 2", "0", id="op_div non-numeric dividend"),
    pytest.param("2 / abc", "2147483647", id="op_div non-numeric divisor gives INT_MAX"),
    pytest.param("abc % 2", "0", id="op_rem non-numeric"),
    pytest.param("-abc", "0", id="op_negate non-numeric"),
    # op_compl reads strings with atoi().
    pytest.param("!abc", "1", id="op_compl atoi of a string"),
    pytest.param("!0.5", "1", id="op_compl atoi(0.5) is 0"),
    pytest.param("!12abc", "0", id="op_compl atoi(12abc) is 12"),
    pytest.param('!"0"', "1", id="op_compl quoted zero"),
    pytest.param("!4294967296", "1", id="op_compl atoi truncates to int"),
    # op_cond: string truth is non-empty, not "" and not "0"; numbers by value.
    pytest.param('"0" ? a :: b', "a", id="op_cond quoted zero is a true string"),
    pytest.param("0.0 ? a :: b", "b", id="op_cond 0.0 is false"),
    pytest.param("00 ? a :: b", "b", id="op_cond 00 is false"),
    pytest.param("-1 ? a :: b", "a", id="op_cond -1 is true"),
    # Numbers as the scanner sees them: [0-9]+(\.[0-9]+)? only; no sign, exponent or hex.
    pytest.param("007 + 1", "8", id="scanner leading zeros"),
    pytest.param("007", "007", id="scanner numeric string kept as text"),
    pytest.param("1.50", "1.50", id="scanner 1.50 kept as text"),
    pytest.param("1.50 + 0", "1.5", id="scanner 1.50 as a number"),
    pytest.param("+5", "0", id="scanner no unary plus: syntax error"),
    pytest.param("0x1A + 1", "1", id="scanner hex is a string"),
    pytest.param("1e3 + 1", "1", id="scanner exponent is a string"),
    pytest.param("1.2.3 + 1", "1", id="scanner 1.2.3 is a string"),
    # op_eqtilde/op_colon: strip_quotes() removes every '"' once the string is wrapped in them.
    pytest.param('"abc" =~ "[[:digit:]]+"', "0", id="op_eqtilde no match no group"),
    pytest.param('"abc" =~ "(z)"', "", id="op_eqtilde no match with group"),
    pytest.param('"xabc" =~ "(x)|abc"', "x", id="op_eqtilde group 1 text"),
    pytest.param('"abc" =~ "(x)|abc"', "3", id="op_eqtilde unset group 1 gives length"),
    pytest.param('"abc" =~ "("', "", id="op_eqtilde regcomp error gives empty"),
    pytest.param("12345 : 12", "2", id="op_colon on a number"),
    pytest.param('12345 : "(23)"', "", id="op_colon anchored"),
    pytest.param('12345 =~ "(23)"', "23", id="op_eqtilde unanchored"),
    pytest.param('"abc" : ""', "0", id="op_colon empty pattern"),
    pytest.param('"x\ny" =~ "x.y"', "3", id="op_eqtilde dot matches newline"),
    pytest.param('"\u00f1" =~ "."', "1", id="op_eqtilde counts bytes (C locale)"),
    pytest.param('"ab" ~~ 5 + 1', "1", id="op_plus takes the number when ~~ made a string"),
]


@pytest.mark.parametrize(("text", "expected"), STRINGS_AND_NUMBERS)
def test_string_and_number_semantics(text: str, expected: str) -> None:
    assert evaluate(text) == expected


# --------------------------------------------------------------------------------------------------
# long double arithmetic printed with "%.18Lg" (FP___TYPE / FP___PRINTF in ast_expr2.fl); each
# expected value is glibc x86-64's printf("%.18Lg") of the same long double operation.

FLOATS = [
    ("3/2", "1.5"),
    ("4/2", "2"),
    ("1/3", "0.333333333333333333"),
    ("2/3", "0.666666666666666667"),
    ("80/60", "1.33333333333333333"),
    ("10/3", "3.33333333333333333"),
    ("1/7", "0.142857142857142857"),
    ("1/1024", "0.0009765625"),
    ("1/100000", "1e-05"),
    ("0.0001 * 1", "0.0001"),
    ("999999999999999999 + 0", "999999999999999999"),
    ("999999999999999999 + 1", "1e+18"),
    ("18446744073709551616 + 0", "1.84467440737095516e+19"),
    ("123456789012345678901 + 0", "1.23456789012345679e+20"),
    ("123456789 * 987654321", "121932631112635269"),
    ("4294967296 * 4294967296", "1.84467440737095516e+19"),
    ("0.1 * 3", "0.3"),
    ("5.5 - 2.2", "3.3"),
    ("1.5 + 1", "2.5"),
    ("1/3*3", "1"),
    ("0 - 0", "0"),
    ("-0", "-0"),
    ("0 * -1", "-0"),
    ("-6 % 3", "-0"),
    ("5.5 % 2", "1.5"),
    ("-5.5 % 2", "-1.5"),
    ("7 % -3", "1"),
    ("10 % 3.5", "3"),
    ("1 % 0.5", "0"),
    ("7 / 2", "3.5"),
    ("POW(2,64)", "1.84467440737095516e+19"),
    ("POW(10,4932)", "1e+4932"),
    ("POW(10,5000)", "inf"),
    ("-POW(10,5000)", "-inf"),
    ("POW(2,-16445)", "3.6451995318824746e-4951"),
]


@pytest.mark.parametrize(("text", "expected"), FLOATS, ids=[f"%.18Lg:{t!r}" for t, _ in FLOATS])
def test_long_double_printing(text: str, expected: str) -> None:
    assert evaluate(text) == expected


# op_div()/op_rem(): a zero divisor gives INT_MAX (division) or the divisor itself (remainder).
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("5 / 0", "2147483647", id="op_div 5/0"),
        pytest.param("0 / 0", "2147483647", id="op_div 0/0"),
        pytest.param("-5 / 0.0", "2147483647", id="op_div by 0.0"),
        pytest.param("5 % 0", "0", id="op_rem returns the divisor"),
        pytest.param("5 % -0", "-0", id="op_rem returns the negative zero divisor"),
    ],
)
def test_division_by_zero(text: str, expected: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="centralita.dialplan"):
        assert evaluate(text) == expected
    assert any("by zero" in record.getMessage() for record in caplog.records)


# --------------------------------------------------------------------------------------------------
# The built-in functions of op_func() (docs "Expr2 Built-in Functions"); values are glibc x86-64's
# long double functions printed with %.18Lg, except where op_func() decides (arity, names).

FUNCTIONS = [
    ("SQRT(16)", "4"),
    ("SQRT(2)", "1.41421356237309505"),
    ("SQRT(-1)", "-nan"),
    ("POW(2,10)", "1024"),
    ("POW(2, 0.5)", "1.41421356237309505"),
    ("POW(2,-1)", "0.5"),
    ("EXP(0)", "1"),
    ("EXP(1)", "2.71828182845904524"),
    ("EXP2(10)", "1024"),
    ("EXP10(3)", "1000"),
    ("LOG(1)", "0"),
    ("LOG(10)", "2.30258509299404568"),
    ("LOG(0)", "-inf"),
    ("LOG(-1)", "nan"),
    ("LOG2(8)", "3"),
    ("LOG10(1000)", "3"),
    ("SIN(0)", "0"),
    ("SIN(1)", "0.841470984807896507"),
    ("COS(0)", "1"),
    ("COS(1)", "0.540302305868139717"),
    ("TAN(1)", "1.55740772465490223"),
    ("ASIN(1)", "1.57079632679489662"),
    ("ACOS(-1)", "3.14159265358979324"),
    ("ACOS(2)", "nan"),
    ("ATAN(1)", "0.78539816339744831"),
    ("ATAN(1) * 4", "3.14159265358979324"),
    ("ATAN2(0,-1)", "3.14159265358979324"),
    ("ATAN2(1,1)", "0.78539816339744831"),
    ("REMAINDER(7,2)", "-1"),
    ("REMAINDER(8,3)", "-1"),
    ("REMAINDER(7,0)", "-nan"),
    ("ABS(-5)", "5"),
    ("ABS(5)", "5"),
    ("ABS(-0)", "-0"),  # op_func(): "x < 0 ? x * -1 : x" keeps -0
    ("FLOOR(-0.5)", "-1"),
    ("CEIL(-0.5)", "-0"),
    ("TRUNC(-0.5)", "-0"),
    ("ROUND(-0.4)", "-0"),
    # Infinities, NaNs and signed zeros reach the functions through overflowed results.
    ("REMAINDER(-0,2)", "-0"),
    ("SIN(POW(10,5000))", "-nan"),
    ("POW(10,5000) - POW(10,5000)", "-nan"),
    ("0 * POW(10,5000)", "-nan"),
    ("LOG(POW(10,5000))", "inf"),
    ("ATAN(POW(10,5000))", "1.57079632679489662"),
    ("EXP(-POW(10,5000))", "0"),
    ("-5 / POW(10,5000)", "-0"),
    ("EXP(11356)", "7.04914579998566244e+4931"),
    ("POW(3, 10000)", "1.63135018534262587e+4771"),
    ("FLOOR(2.5) + 1", "3"),
    ("POW(2, 3) * 2", "16"),
    ("POW(2,(1+2))", "8"),
    # op_func() decisions: arity, upper-case name charset, unknown names.
    ("SQRT(1,2)", "0"),
    ("POW(2)", "0"),
    ("ROUND(2.5,)", "0"),  # "arglist TOK_COMMA" adds an empty argument: two arguments
    ("sqrt(4)", "0"),
    ('"SQRT"(4)', "0"),
    ("NOSUCHFUNCTION(1)", "0"),
    ("5(3)", "0"),
]


@pytest.mark.parametrize(("text", "expected"), FUNCTIONS, ids=[f"op_func:{t!r}" for t, _ in FUNCTIONS])
def test_builtin_functions(text: str, expected: str) -> None:
    assert evaluate(text) == expected


def test_unknown_function_logs_an_error(caplog: pytest.LogCaptureFixture) -> None:
    # op_func(): "Error! '%s' doesn't appear to be an available function!" and the value 0.
    with caplog.at_level(logging.WARNING, logger="centralita.dialplan"):
        assert evaluate("NOSUCHFUNCTION(1) + 2") == "2"
    assert any("NOSUCHFUNCTION" in record.getMessage() for record in caplog.records)


# --------------------------------------------------------------------------------------------------
# Dialplan functions called without ${} (docs "Expr2 Built-in Functions": "dialplan functions can be
# called from $[..] expressions without the ${...} operators"); op_func()/compose_func_args()/
# is_really_num() decide what the function sees and how its answer is read.


class RecordingFunctions:
    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str]] = []

    def __call__(self, name: str, arguments: str) -> str | None:
        self.calls.append((name, arguments))
        return self.answers.get(name)


@pytest.mark.parametrize(
    ("text", "answer", "expected"),
    [
        pytest.param("LEN(abc) + 1", "3", "4", id="is_really_num: a number"),
        pytest.param("F(x)", "", "0", id="is_really_num: empty is the number 0"),
        pytest.param("F(x)", " 12", "12", id="is_really_num: blanks then digits"),
        pytest.param("F(x)", "-5", "-5", id="is_really_num: negative"),
        pytest.param("F(x)", "1.50", "1.5", id="is_really_num: converted to a number"),
        pytest.param("F(x)", "abc", "abc", id="make_str: a string"),
        pytest.param("F(x) = abc", "abc", "1", id="make_str: compared as a string"),
        pytest.param("F(x)", "x" * 600, "x" * 511, id="workspace[512] truncates"),
        pytest.param('F(x) =~ "ab"', '"a"b"', "2", id="strip_quotes removes inner quotes too"),
    ],
)
def test_dialplan_function_results(text: str, answer: str, expected: str) -> None:
    functions = RecordingFunctions({"LEN": answer, "F": answer})
    assert evaluate(text, functions=functions) == expected


def test_dialplan_function_arguments_are_composed_like_asterisk() -> None:
    # compose_func_args(): values joined with ',', numbers printed with %.18Lg, strings as they are.
    functions = RecordingFunctions({"FUNC": "ok"})
    assert evaluate('FUNC(1+1, "x y", 007, 3/2,)', functions=functions) == "ok"
    assert functions.calls == [("FUNC", '2,"x y",007,1.5,')]


def test_missing_dialplan_function_is_zero() -> None:
    functions = RecordingFunctions({})
    assert evaluate("NOPE(1) + 5", functions=functions) == "5"
    assert functions.calls == [("NOPE", "1")]


def test_both_branches_of_a_conditional_are_evaluated() -> None:
    # docs "Operators": "In Asterisk, all 3 exprs will be evaluated".
    functions = RecordingFunctions({"A": "1", "B": "2"})
    assert evaluate("1 ? A(x) :: B(y)", functions=functions) == "1"
    assert [name for name, _ in functions.calls] == ["A", "B"]


# --------------------------------------------------------------------------------------------------
# The scanner (ast_expr2.fl), rule by rule.

SCANNER = [
    pytest.param("1 [+] 2", "3", id="default rule drops [ and ]"),
    pytest.param("~5", "5", id="default rule drops a lone ~"),
    pytest.param("5 ~ 3", "0", id="dropped ~ leaves two tokens: syntax error"),
    pytest.param('"abc', "abc", id="a lone double quote is dropped"),
    pytest.param("{1}", "1", id="braces are dropped"),
    pytest.param("$", "", id="a trailing $ is dropped"),
    pytest.param("a$b = a$b", "1", id="$ followed by a character is part of a token"),
    pytest.param("a\\b = a\\b", "1", id="backslash is an ordinary token character"),
    pytest.param('"a\\"b"', "0", id="backslash does not escape a quote"),
    pytest.param("2\t+\n2", "4", id="tabs and newlines are blanks"),
    pytest.param("x=x", "1", id="operators need no spaces"),
    pytest.param("a!=b", "1", id="!= is one token"),
    pytest.param("3>=3", "1", id=">= is one token"),
    pytest.param('"a"=~"a"', "1", id="=~ is one token"),
    pytest.param("\u00f1 = \u00f1", "1", id="bytes >= 0x80 are token characters"),
    pytest.param("1 + 1\x00 + 5", "2", id="the text ends at a NUL"),
    pytest.param("${x}abc = ${x}abc", "1", id="${...} with trailing text is one token"),
    pytest.param("${x", "", id="an unterminated ${ swallows the rest"),
    pytest.param("5 + ${x", "0", id="an unterminated ${ after an operator"),
    pytest.param("${a{b}c}d", "${a{b}c}d", id="nested braces inside ${}"),
    # <trail> rule with unput(): a '}' followed directly by a blank or an operator ends a token that,
    # because unput() overwrote the NUL ending yytext, runs to the end of the input; scanning then
    # resumes at that character.
    pytest.param("${x} = 5", "0", id="unput quirk: token runs to end"),
    pytest.param("${x}", "${x}", id="a lone ${x}"),
]


@pytest.mark.parametrize(("text", "expected"), SCANNER)
def test_scanner(text: str, expected: str) -> None:
    assert evaluate(text) == expected


# --------------------------------------------------------------------------------------------------
# Syntax errors: ast_str_expr() gives "0" when yyparse() failed, "" for an empty expression, and
# ast_yyerror() logs a warning.

SYNTAX_ERRORS = [
    "1 +",
    "( 1",
    "1 )",
    "1 2",
    "()",
    "1 ? 2",
    "1 :: 2",
    ",",
    "1 ? 2 :: 3 :: 4",
    "SQRT()",
    "SQRT(,4)",
    "= 1",
]


@pytest.mark.parametrize("text", SYNTAX_ERRORS, ids=[f"yyerror:{t!r}" for t in SYNTAX_ERRORS])
def test_syntax_error_gives_zero_and_logs(text: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="centralita.dialplan"):
        assert evaluate(text) == "0"
    assert any("syntax error" in record.getMessage() for record in caplog.records)


def test_syntax_error_message_points_at_the_token(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="centralita.dialplan"):
        evaluate("1 + + 2 )")
    message = caplog.records[-1].getMessage()
    assert "unexpected '+'" in message
    assert message.endswith("1 + + 2 )\n    ^")


@pytest.mark.parametrize("text", ["", "   ", "\t\n", "[]"], ids=repr)
def test_empty_expression_is_empty(text: str) -> None:
    # "start: /* empty */" sets an empty string.
    assert evaluate(text) == ""


def test_deep_nesting_does_not_raise() -> None:
    assert evaluate("(" * 20 + "1" + ")" * 20) == "1"
    assert evaluate("(" * 100_000 + "1" + ")" * 100_000) == "0"


# --------------------------------------------------------------------------------------------------
# Regular expressions: POSIX ERE as glibc's regexec() matches them (leftmost-longest), and the same
# documented cases through the fallback used where glibc is absent.


@pytest.mark.skipif(posix_regex._GLIBC is None, reason="leftmost-longest needs glibc's regexec")
def test_regex_is_posix_leftmost_longest() -> None:
    # POSIX regexec(): among matches starting leftmost, the longest ("ab"), where Python's re says "a".
    assert evaluate('"abcd" : "(a|ab)"') == "ab"


REGEX_CASES = [(t, e) for t, e in ASTERISK_UNIT_TEST + DOCS_EXAMPLES if ":" in t.replace("::", "") or "=~" in t] + [
    ('"a1b22" =~ "([[:digit:]]+)"', "1"),
    ('"ab)" =~ "b)"', "2"),
    ('"aaa" =~ "a{2}"', "2"),
    ('"a(b" =~ "\\("', "1"),
]


@pytest.mark.parametrize(("text", "expected"), REGEX_CASES, ids=[f"fallback:{t!r}" for t, _ in REGEX_CASES])
def test_python_regex_fallback_agrees(text: str, expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(posix_regex, "_GLIBC", None)
    monkeypatch.setattr(posix_regex, "_regex_cache", {})
    assert evaluate(text) == expected


# --------------------------------------------------------------------------------------------------
# Properties.


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_evaluate_never_raises(text: str) -> None:
    assert isinstance(evaluate(text), str)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet='0123456789+-*/%()=<>!&|:?~ "abc.,$[]{}ASQRTFLO', max_size=40))
def test_evaluate_never_raises_on_expression_like_text(text: str) -> None:
    assert isinstance(evaluate(text), str)


_ARGUMENTS = ["0", "-0", "1", "-1", "0.5", "-0.5", "3", "1000", "99999999999999999999999", "POW(10,5000)"]
_ARGUMENTS += ["-POW(10,5000)", "SQRT(-1)", "LOG(-1)", "POW(2,-16445)", "abc", '""', ""]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(expr._BUILTINS)),
    st.lists(st.sampled_from(_ARGUMENTS), min_size=1, max_size=3),
    st.sampled_from(["", " + 1", " * -1", " % 7", " / 0", " : 1", " = 0"]),
)
def test_builtin_functions_never_raise(name: str, arguments: list[str], tail: str) -> None:
    assert isinstance(evaluate(f"{name}({','.join(arguments)}){tail}"), str)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**17), st.integers(0, 10**17))
def test_integer_sums_print_as_integers(a: int, b: int) -> None:
    # op_plus() on two numeric strings, printed with %.18Lg: exact below 10**18.
    assert evaluate(f"{a} + {b}") == str(a + b)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="abcXYZ019_", min_size=1, max_size=8), st.text(alphabet="abcXYZ019_", min_size=1, max_size=8))
def test_quoted_strings_compare_by_bytes(a: str, b: str) -> None:
    # op_lt() with string operands: strcoll() in the "C" locale on the quoted texts.
    assert evaluate(f'"{a}" < "{b}"') == ("1" if f'"{a}"' < f'"{b}"' else "0")
