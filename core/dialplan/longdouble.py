"""The x87 80-bit ``long double`` of Asterisk's ``$[...]`` numbers: rounding, arithmetic, printing, parsing.

``main/ast_expr2.y`` (asterisk/asterisk) computes with ``FP___TYPE``, which is ``long double`` where the
platform has ``strtold``/``%Lg``, and prints results with ``FP___PRINTF`` = ``"%.18Lg"``. On the x86-64
builds the corpus comes from that is the x87 extended format: a 64-bit significand with an explicit
leading bit, exponents up to 2**16383, subnormals down to 2**-16445. Python floats have 53 bits, which
prints differently (``$[1/3]`` is ``0.333333333333333333`` in Asterisk, not ``...315``), so a finite
:data:`Number` is held exactly as an ``int`` or a dyadic ``Fraction`` (never ``-0``) and every result is
rounded to the nearest 80-bit value, ties to even, as the FPU's default rounding mode does; ``float``
only carries ``inf``, ``nan`` and ``-0``.

Printing follows glibc's ``printf("%.18Lg")`` (exact decimal expansion, ties to even) and parsing its
``strtold`` and ``atoi``. The math functions of ``op_func()`` live in :mod:`core.dialplan.longdouble_math`.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Union

__all__ = [
    "INF",
    "NAN",
    "NEG_NAN",
    "NEG_ZERO",
    "Number",
    "add",
    "atoi",
    "divide",
    "fmod",
    "format_number",
    "from_int",
    "from_rational",
    "isinf",
    "isnan",
    "multiply",
    "negate",
    "round_rational",
    "signbit",
    "signed_inf",
    "signed_zero",
    "strtold",
    "subtract",
]

Number = Union[int, Fraction, float]
"""A long double: ``int`` or dyadic ``Fraction`` for an exact finite value (never -0), ``float`` for
``inf``, ``nan`` and ``-0``."""

_TWO63 = 1 << 63
_TWO64 = 1 << 64
_MAX_EXPONENT = 16384  # values >= 2**16384 overflow to inf
_MIN_LSB = 16445  # the least subnormal is 2**-16445
_MIN_NORMAL = Fraction(1, 1 << 16382)
INF = math.inf
NEG_ZERO = -0.0
NAN = math.nan
NEG_NAN = -math.nan
"""The x87 "default NaN" of an invalid operation (``inf - inf``, ``0/0``, ``fsqrt(-1)``) has its sign bit
set; glibc prints it as ``-nan``."""


def _scaled_divmod(num: int, den: int, shift: int) -> tuple[int, int, int]:
    if shift >= 0:
        quotient, remainder = divmod(num << shift, den)
        return quotient, remainder, den
    divisor = den << -shift
    quotient, remainder = divmod(num, divisor)
    return quotient, remainder, divisor


def round_rational(num: int, den: int) -> Number:
    """``num/den`` (``den > 0``) rounded to the nearest long double, ties to even (IEEE 754 / x87).

    Gradual underflow to subnormals, ``-0`` for a negative value that rounds to zero, ``inf`` past the
    largest finite value (Intel SDM vol. 1, 4.2 and 4.8.3).
    """
    if num == 0:
        return 0
    negative = num < 0
    if negative:
        num = -num
    shift = 63 - (num.bit_length() - den.bit_length())
    quotient, remainder, divisor = _scaled_divmod(num, den, shift)
    if quotient < _TWO63:
        shift += 1
        quotient, remainder, divisor = _scaled_divmod(num, den, shift)
    if shift > _MIN_LSB:  # subnormal: fewer significant bits
        shift = _MIN_LSB
        quotient, remainder, divisor = _scaled_divmod(num, den, shift)
    twice = remainder << 1
    if twice > divisor or (twice == divisor and quotient & 1):
        quotient += 1
        if quotient == _TWO64:
            quotient = _TWO63
            shift -= 1
    if quotient == 0:
        return NEG_ZERO if negative else 0
    if quotient.bit_length() - 1 - shift >= _MAX_EXPONENT:
        return -INF if negative else INF
    value: int | Fraction
    if shift <= 0:
        value = quotient << -shift
    else:
        zeros = (quotient & -quotient).bit_length() - 1
        if zeros >= shift:
            value = quotient >> shift
        else:
            value = Fraction(quotient >> zeros, 1 << (shift - zeros))
    return -value if negative else value


def from_int(value: int) -> Number:
    """An integer as a long double: exact below 2**64 in magnitude, rounded (or ``inf``) beyond."""
    if -_TWO64 < value < _TWO64:
        return value
    return round_rational(value, 1)


def from_rational(value: int | Fraction) -> Number:
    """An exact rational result rounded to the nearest long double."""
    if type(value) is int:
        return from_int(value)
    return round_rational(value.numerator, value.denominator)


def isnan(x: Number) -> bool:
    """C ``isnan``."""
    return type(x) is float and x != x


def isinf(x: Number) -> bool:
    """C ``isinf`` (either sign)."""
    return type(x) is float and (x == INF or x == -INF)


def signbit(x: Number) -> bool:
    """C ``signbit``: true for negative numbers, ``-0`` and ``-nan``."""
    if type(x) is float:
        return math.copysign(1.0, x) < 0
    return x < 0


def signed_zero(negative: bool) -> Number:
    """``-0`` or ``0``."""
    return NEG_ZERO if negative else 0


def signed_inf(negative: bool) -> Number:
    """``-inf`` or ``inf``."""
    return -INF if negative else INF


def negate(x: Number) -> Number:
    """Unary minus (``fchs``): flips the sign bit, so ``-0`` and ``0`` swap and NaNs change sign."""
    if isinstance(x, float):
        return 0 if x == 0 else -x
    if x == 0:
        return NEG_ZERO
    return -x


def add(a: Number, b: Number) -> Number:
    """``a + b`` rounded to nearest; ``inf + -inf`` is the default NaN, a NaN operand passes through."""
    if type(a) is int and type(b) is int:
        return from_int(a + b)
    if isinstance(a, float) or isinstance(b, float):
        if isnan(a):
            return a
        if isnan(b):
            return b
        if isinf(a):
            return NEG_NAN if isinf(b) and a != b else a
        if isinf(b):
            return b
        # Only signed zeros are left among the floats: -0 + b is b, and a + -0 is a.
        return b if isinstance(a, float) else a
    return from_rational(a + b)


def subtract(a: Number, b: Number) -> Number:
    """``a - b`` rounded to nearest (``a + -b``, keeping ``b``'s NaN as it is)."""
    if type(a) is int and type(b) is int:
        return from_int(a - b)
    if isnan(b) and not isnan(a):
        return b
    return add(a, negate(b))


def multiply(a: Number, b: Number) -> Number:
    """``a * b`` rounded to nearest, with the sign rules of IEEE 754 for zeros and infinities."""
    if type(a) is int and type(b) is int:
        product = a * b
        if product == 0 and (a < 0 or b < 0):
            return NEG_ZERO
        return from_int(product)
    negative = signbit(a) != signbit(b)
    if isinstance(a, float) or isinstance(b, float):
        if isnan(a):
            return a
        if isnan(b):
            return b
        if isinf(a) or isinf(b):
            return NEG_NAN if a == 0 or b == 0 else signed_inf(negative)
        return signed_zero(negative)
    exact = a * b
    if exact == 0:
        return signed_zero(negative)
    return from_rational(exact)


def divide(a: Number, b: Number) -> Number:
    """``a / b`` rounded to nearest; ``x/0`` is a signed infinity and ``0/0`` the default NaN."""
    negative = signbit(a) != signbit(b)
    if isinstance(a, float) or isinstance(b, float):
        if isnan(a):
            return a
        if isnan(b):
            return b
        if isinf(a):
            return NEG_NAN if isinf(b) else signed_inf(negative)
        if isinf(b):
            return signed_zero(negative)
    if b == 0:
        return NEG_NAN if a == 0 else signed_inf(negative)
    if a == 0:
        return signed_zero(negative)
    assert not isinstance(a, float) and not isinstance(b, float)
    if type(a) is int and type(b) is int:
        return from_rational(Fraction(a, b))
    return from_rational(Fraction(a) / b)


def fmod(a: Number, b: Number) -> Number:
    """C ``fmodl``: ``a - trunc(a/b)*b``, exact, with the sign of ``a``."""
    if isnan(a):
        return a
    if isnan(b):
        return b
    if isinf(a) or b == 0:
        return NEG_NAN
    if isinf(b) or a == 0:
        return a
    assert not isinstance(a, float) and not isinstance(b, float)
    if type(a) is int and type(b) is int:
        remainder = abs(a) % abs(b)
        if a < 0:
            return -remainder if remainder else NEG_ZERO
        return remainder
    fa, fb = Fraction(a), Fraction(b)
    exact = fa - math.trunc(fa / fb) * fb
    if exact == 0:
        return signed_zero(a < 0)
    return from_rational(exact)


# --------------------------------------------------------------------------------------------------
# Conversions: printf("%.18Lg"), strtold() and atoi() as glibc does them.

_E17 = 10**17
_E18 = 10**18
_LOG10_2 = 0.30102999566398120


def _format_rational(num: int, den: int) -> str:
    negative = num < 0
    if negative:
        num = -num
    exp10 = math.floor((num.bit_length() - den.bit_length()) * _LOG10_2)
    while True:
        places = 17 - exp10
        if places >= 0:
            divisor = den
            digits, remainder = divmod(num * 10**places, den)
        else:
            divisor = den * 10**-places
            digits, remainder = divmod(num, divisor)
        if digits >= _E18:
            exp10 += 1
        elif digits < _E17:
            exp10 -= 1
        else:
            break
    twice = remainder << 1
    if twice > divisor or (twice == divisor and digits & 1):
        digits += 1
        if digits == _E18:
            digits = _E17
            exp10 += 1
    text = str(digits)
    if -4 <= exp10 < 18:  # %g picks %f when -4 <= X < P, then drops trailing zeros
        if exp10 >= 0:
            whole, fraction = text[: exp10 + 1], text[exp10 + 1 :].rstrip("0")
        else:
            whole, fraction = "0", ("0" * (-exp10 - 1) + text).rstrip("0")
        result = f"{whole}.{fraction}" if fraction else whole
    else:
        fraction = text[1:].rstrip("0")
        mantissa = f"{text[0]}.{fraction}" if fraction else text[0]
        result = f"{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    return "-" + result if negative else result


def format_number(x: Number) -> str:
    """``printf("%.18Lg", x)`` for a long double (glibc: exact decimal expansion, ties to even).

    Integers below 10**18 in magnitude print as themselves; NaNs print as ``nan``/``-nan`` by sign.
    """
    if type(x) is int:
        if -_E18 < x < _E18:
            return str(x)
        return _format_rational(x, 1)
    if isinstance(x, float):
        if x != x:
            return "-nan" if signbit(x) else "nan"
        if x == INF:
            return "inf"
        if x == -INF:
            return "-inf"
        return "-0"
    return _format_rational(x.numerator, x.denominator)


_STRTOLD = re.compile(r"[ \t\n\v\f\r]*([+-]?)([0-9]*)(?:\.([0-9]*))?")
_MAX_FRACTION_DIGITS = 17000  # past the least subnormal's expansion only a nonzero-ness matters


def _int_from_digits(digits: str) -> int:
    # int(str) refuses more than 4300 digits by default; build longer ones in pieces.
    if len(digits) <= 4000:
        return int(digits or "0")
    value = 0
    for start in range(0, len(digits), 4000):
        piece = digits[start : start + 4000]
        value = value * 10 ** len(piece) + int(piece)
    return value


def strtold(text: str) -> tuple[Number, bool]:
    """glibc ``strtold`` on what can reach it here (digits, ``.``, sign, blanks); ``(value, ERANGE)``.

    Numeric strings hold only digits and dots (scanner and ``make_str()``); function results reach it
    only when they consist of ``-0123456789. \\t`` (``is_really_num()``), so there is never an exponent,
    a hex prefix, ``inf`` or ``nan`` to parse.
    """
    match = _STRTOLD.match(text)
    assert match is not None
    sign, whole, fraction = match.group(1), match.group(2), match.group(3) or ""
    if not whole and not fraction:
        return 0, False  # no conversion
    negative = sign == "-"
    whole = whole.lstrip("0")
    if len(whole) > 4940:
        return signed_inf(negative), True
    if len(fraction) > _MAX_FRACTION_DIGITS:
        sticky = fraction[_MAX_FRACTION_DIGITS:].strip("0") != ""
        fraction = fraction[:_MAX_FRACTION_DIGITS] + ("1" if sticky else "")
    num = _int_from_digits(whole + fraction)
    if num == 0:
        return signed_zero(negative), False
    signed = -num if negative else num
    value = round_rational(signed, 10 ** len(fraction)) if fraction else from_int(signed)
    if isinstance(value, float):
        return value, True  # overflow (inf) or underflow (signed zero)
    return value, type(value) is Fraction and abs(value) < _MIN_NORMAL


_ATOI = re.compile(r"[ \t\n\v\f\r]*([+-]?)0*([0-9]*)")


def atoi(text: str) -> int:
    """glibc ``atoi`` on x86-64: ``(int) strtol(text, NULL, 10)``, saturating at 64 bits, then truncating."""
    match = _ATOI.match(text)
    assert match is not None
    digits = match.group(2)
    if not digits:
        return 0
    value = (1 << 63) if len(digits) > 19 else int(digits)
    value = max(-(1 << 63), min((1 << 63) - 1, -value if match.group(1) == "-" else value))
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value
