"""Asterisk's ``$[ ... ]`` expression language, evaluated exactly as Asterisk 20 does.

The caller substitutes ``${...}`` first (as ``pbx_substitute_variables_helper_full`` does) and hands the
text between ``$[`` and ``]`` to :func:`evaluate`, which returns what Asterisk's ``ast_str_expr()`` would
put into the dialplan. Sources followed (asterisk/asterisk):

* ``main/ast_expr2.fl`` -- the flex scanner: operator tokens need no surrounding spaces, ``"..."`` is one
  token *with* its quotes, ``[0-9]+(\\.[0-9]+)?`` is a numeric string, runs of
  ``[a-zA-Z0-9.';\\\\_^#@]``, bytes >= 0x80 and ``$x`` (``x`` not ``{``) are one string token, ``${...}``
  plus trailing text is one token, and any other character is dropped (flex's default ECHO rule);
* ``main/ast_expr2.y`` -- the grammar, its precedence table and the ``op_*`` value semantics (numbers
  are ``long double``, printed with ``%.18Lg``); ``ast_str_expr()`` returns ``"0"`` when parsing failed
  and ``""`` for an empty expression;
* ``tests/test_expr.c`` and docs.asterisk.org "Expressions" (Operators, Floating Point Numbers,
  Expr2 Built-in Functions, Expressions Examples) for documented results.

``long double`` is the x87 80-bit format on the x86-64 builds the corpus comes from: a 64-bit significand,
exponents down to 2**-16445 (subnormal) and up to 2**16383. Python floats have 53 bits, which prints
differently (``$[1/3]`` is ``0.333333333333333333`` in Asterisk, not ``...315``), so finite numbers are held
exactly as ``int`` or dyadic ``Fraction`` and every result is rounded to the nearest 80-bit value, ties to
even; ``float`` only carries ``inf``, ``nan`` and ``-0``.

The math functions give the correctly rounded long double, which is what glibc's ``sqrtl``, ``floorl``,
``remainderl``, ... return and what its ``expl``, ``logl``, ``atan2l``, ... return in all but a few
last-bit cases; glibc's ``sinl``/``cosl``/``tanl`` also agree up to |x| of about 1e10 and drift beyond,
where their argument reduction loses precision. NaN signs follow glibc (``SQRT(-1)`` is ``-nan``,
``LOG(-1)`` is ``nan``).

Regular expressions (``:`` and ``=~``) are POSIX extended expressions with leftmost-longest matching and
byte offsets. On glibc they go to the C library's own ``regcomp``/``regexec`` in the "C" locale (what
Asterisk calls); elsewhere a translation to Python's ``re`` is used, which agrees except where
leftmost-longest and leftmost-first matching differ (``(a|ab)``).
"""

from __future__ import annotations

import ctypes
import decimal
import logging
import math
import operator
import os
import re
import threading
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any, Protocol, Union

__all__ = ["ExpressionError", "FunctionReader", "evaluate"]

_log = logging.getLogger("centralita.dialplan")

FunctionReader = Callable[[str, str], Union[str, None]]
"""Reads a dialplan function called inside ``$[...]`` without ``${}``: ``(NAME, ARGS) -> value``.

``ARGS`` is the argument list joined with ``,`` exactly as ``compose_func_args()`` in ``ast_expr2.y``
builds it (numbers printed with ``%.18Lg``, strings verbatim, quotes included). Return None when there
is no such function.
"""


class ExpressionError(Exception):
    """A syntax error in an expression; ``position`` is the offset of the offending token in the text.

    Used inside this module only: :func:`evaluate` logs it and returns ``"0"`` as ``ast_str_expr()`` does.
    """

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at offset {position})")
        self.message = message
        self.position = position


# --------------------------------------------------------------------------------------------------
# 80-bit long double arithmetic.  A number is an int or a dyadic Fraction (exact finite value, never
# -0), or a float for inf, nan and -0.

Number = Union[int, Fraction, float]

_TWO63 = 1 << 63
_TWO64 = 1 << 64
_MAX_EXPONENT = 16384  # values >= 2**16384 overflow to inf
_MIN_LSB = 16445  # the least subnormal is 2**-16445
_MIN_NORMAL = Fraction(1, 1 << 16382)
_INF = math.inf
_NEG_ZERO = -0.0
_NAN = math.nan
_NEG_NAN = -math.nan  # the x87 "default NaN" of an invalid operation has its sign bit set
_INT_MAX = 2147483647  # op_div()'s answer to a zero or non-numeric divisor


def _scaled_divmod(num: int, den: int, shift: int) -> tuple[int, int, int]:
    if shift >= 0:
        quotient, remainder = divmod(num << shift, den)
        return quotient, remainder, den
    divisor = den << -shift
    quotient, remainder = divmod(num, divisor)
    return quotient, remainder, divisor


def _round_ld(num: int, den: int) -> Number:
    """``num/den`` (``den > 0``) rounded to the nearest long double, ties to even (IEEE 754 / x87)."""
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
        return _NEG_ZERO if negative else 0
    if quotient.bit_length() - 1 - shift >= _MAX_EXPONENT:
        return -_INF if negative else _INF
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


def _from_int(value: int) -> Number:
    if -_TWO64 < value < _TWO64:
        return value
    return _round_ld(value, 1)


def _exact(value: int | Fraction) -> Number:
    if type(value) is int:
        return _from_int(value)
    return _round_ld(value.numerator, value.denominator)


def _isnan(x: Number) -> bool:
    return type(x) is float and x != x


def _isinf(x: Number) -> bool:
    return type(x) is float and (x == _INF or x == -_INF)


def _signbit(x: Number) -> bool:
    if type(x) is float:
        return math.copysign(1.0, x) < 0
    return x < 0


def _signed_zero(negative: bool) -> Number:
    return _NEG_ZERO if negative else 0


def _signed_inf(negative: bool) -> Number:
    return -_INF if negative else _INF


def _neg(x: Number) -> Number:
    if isinstance(x, float):
        return 0 if x == 0 else -x
    if x == 0:
        return _NEG_ZERO
    return -x


def _add(a: Number, b: Number) -> Number:
    if type(a) is int and type(b) is int:
        return _from_int(a + b)
    if isinstance(a, float) or isinstance(b, float):
        if _isnan(a):
            return a
        if _isnan(b):
            return b
        if _isinf(a):
            return _NEG_NAN if _isinf(b) and a != b else a
        if _isinf(b):
            return b
        # Only signed zeros are left among the floats: -0 + b is b, and a + -0 is a.
        return b if isinstance(a, float) else a
    return _exact(a + b)


def _sub(a: Number, b: Number) -> Number:
    if type(a) is int and type(b) is int:
        return _from_int(a - b)
    if _isnan(b) and not _isnan(a):
        return b
    return _add(a, _neg(b))


def _mul(a: Number, b: Number) -> Number:
    if type(a) is int and type(b) is int:
        product = a * b
        if product == 0 and (a < 0 or b < 0):
            return _NEG_ZERO
        return _from_int(product)
    negative = _signbit(a) != _signbit(b)
    if isinstance(a, float) or isinstance(b, float):
        if _isnan(a):
            return a
        if _isnan(b):
            return b
        if _isinf(a) or _isinf(b):
            return _NEG_NAN if a == 0 or b == 0 else _signed_inf(negative)
        return _signed_zero(negative)
    exact = a * b
    if exact == 0:
        return _signed_zero(negative)
    return _exact(exact)


def _div(a: Number, b: Number) -> Number:
    negative = _signbit(a) != _signbit(b)
    if isinstance(a, float) or isinstance(b, float):
        if _isnan(a):
            return a
        if _isnan(b):
            return b
        if _isinf(a):
            return _NEG_NAN if _isinf(b) else _signed_inf(negative)
        if _isinf(b):
            return _signed_zero(negative)
    if b == 0:
        return _NEG_NAN if a == 0 else _signed_inf(negative)
    if a == 0:
        return _signed_zero(negative)
    assert not isinstance(a, float) and not isinstance(b, float)
    if type(a) is int and type(b) is int:
        return _exact(Fraction(a, b))
    return _exact(Fraction(a) / b)


def _fmod(a: Number, b: Number) -> Number:
    """C ``fmodl``: ``a - trunc(a/b)*b``, exact, with the sign of ``a``."""
    if _isnan(a):
        return a
    if _isnan(b):
        return b
    if _isinf(a) or b == 0:
        return _NEG_NAN
    if _isinf(b) or a == 0:
        return a
    assert not isinstance(a, float) and not isinstance(b, float)
    if type(a) is int and type(b) is int:
        remainder = abs(a) % abs(b)
        if a < 0:
            return -remainder if remainder else _NEG_ZERO
        return remainder
    fa, fb = Fraction(a), Fraction(b)
    exact = fa - math.trunc(fa / fb) * fb
    if exact == 0:
        return _signed_zero(a < 0)
    return _exact(exact)


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


def _format_number(x: Number) -> str:
    """``printf("%.18Lg", x)`` for a long double (glibc: exact decimal expansion, ties to even)."""
    if type(x) is int:
        if -_E18 < x < _E18:
            return str(x)
        return _format_rational(x, 1)
    if isinstance(x, float):
        if x != x:
            return "-nan" if _signbit(x) else "nan"
        if x == _INF:
            return "inf"
        if x == -_INF:
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


def _strtold(text: str) -> tuple[Number, bool]:
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
        return _signed_inf(negative), True
    if len(fraction) > _MAX_FRACTION_DIGITS:
        sticky = fraction[_MAX_FRACTION_DIGITS:].strip("0") != ""
        fraction = fraction[:_MAX_FRACTION_DIGITS] + ("1" if sticky else "")
    num = _int_from_digits(whole + fraction)
    if num == 0:
        return _signed_zero(negative), False
    signed = -num if negative else num
    value = _round_ld(signed, 10 ** len(fraction)) if fraction else _from_int(signed)
    if isinstance(value, float):
        return value, True  # overflow (inf) or underflow (signed zero)
    return value, type(value) is Fraction and abs(value) < _MIN_NORMAL


_ATOI = re.compile(r"[ \t\n\v\f\r]*([+-]?)0*([0-9]*)")


def _atoi(text: str) -> int:
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


# --------------------------------------------------------------------------------------------------
# The built-in math functions of ast_expr2.y's op_func(), as glibc's long double versions compute them:
# exactly where the result is exact (FLOOR, SQRT, REMAINDER, ...), otherwise through high-precision
# decimal arithmetic rounded once to the long double grid.

_DECIMAL_PRECISION = 48


def _decimal_context(precision: int) -> decimal.Context:
    return decimal.Context(
        prec=precision,
        rounding=decimal.ROUND_HALF_EVEN,
        Emax=decimal.MAX_EMAX,
        Emin=decimal.MIN_EMIN,
        traps=[],
    )


_CONTEXT = _decimal_context(_DECIMAL_PRECISION)


def _to_decimal(x: int | Fraction, context: decimal.Context) -> Decimal:
    if type(x) is int:
        return context.plus(Decimal(x))
    return context.divide(Decimal(x.numerator), Decimal(x.denominator))


def _from_decimal(value: Decimal) -> Number:
    num, den = value.as_integer_ratio()
    return _round_ld(num, den)


def _finite(x: Number) -> int | Fraction:
    assert not isinstance(x, float)
    return x


def _ld_sqrt(x: Number) -> Number:
    if _isnan(x) or x == 0 or x == _INF:
        return x
    if x < 0:
        return _NEG_NAN  # fsqrt's invalid-operation default NaN
    value = Fraction(_finite(x))
    # isqrt of value * 4**k with 66+ result bits; an inexact root sits strictly between r and r+1,
    # so (2r+1)/2 stands in for it without changing the rounding.
    k = max(0, (140 - value.numerator.bit_length() + value.denominator.bit_length()) // 2 + 1)
    scaled = (value.numerator << (2 * k)) // value.denominator
    root = math.isqrt(scaled)
    if root * root == scaled and (value.numerator << (2 * k)) % value.denominator == 0:
        return _round_ld(root, 1 << k)
    return _round_ld(2 * root + 1, 1 << (k + 1))


def _ld_exp(x: Number, base: int) -> Number:
    """``expl``, ``exp2l`` and ``exp10l`` (``base`` 0 stands for e)."""
    if _isnan(x):
        return x
    if x == _INF:
        return _INF
    if x == -_INF:
        return 0
    if x == 0:
        return 1
    value = _finite(x)
    scale = {0: 1.0, 2: math.log(2), 10: math.log(10)}[base]
    if value * Fraction(scale) > 11400:
        return _INF
    if value * Fraction(scale) < -11500:
        return 0
    if base and type(value) is int:  # exact powers
        power = Fraction(base) ** value
        return _round_ld(power.numerator, power.denominator)
    context = _CONTEXT
    exponent = _to_decimal(value, context)
    if base:
        exponent = context.multiply(exponent, context.ln(Decimal(base)))
    return _from_decimal(context.exp(exponent))


def _ld_log(x: Number, base: int) -> Number:
    """``logl``, ``log2l`` and ``log10l`` (``base`` 0 stands for e); glibc answers a negative with +nan."""
    if _isnan(x):
        return x
    if x == 0:
        return -_INF
    if x < 0:
        return _NAN
    if x == _INF:
        return _INF
    value = Fraction(_finite(x))
    if base == 2 and value.numerator & (value.numerator - 1) == 0 and value.denominator == 1:
        return value.numerator.bit_length() - 1
    if base == 2 and value.numerator == 1 and value.denominator & (value.denominator - 1) == 0:
        return 1 - value.denominator.bit_length()
    context = _CONTEXT
    operand = _to_decimal(value, context)
    if base == 10:
        return _from_decimal(context.log10(operand))
    result = context.ln(operand)
    if base == 2:
        result = context.divide(result, context.ln(Decimal(2)))
    return _from_decimal(result)


def _is_integer(value: int | Fraction) -> bool:
    return type(value) is int or value.denominator == 1


def _ld_pow(x: Number, y: Number) -> Number:
    """``powl`` including the special cases of C99 Annex F.9.4.4."""
    if y == 0 or x == 1:
        return 1
    if _isnan(x):
        return x
    if _isnan(y):
        return y
    if _isinf(y):
        magnitude = _ld_abs(x)
        if magnitude == 1:
            return 1
        return _INF if (magnitude > 1) == (y > 0) else 0
    exponent = _finite(y)
    odd = _is_integer(exponent) and int(exponent) % 2 == 1
    if _isinf(x):
        if x > 0:
            return _INF if exponent > 0 else 0
        if exponent > 0:
            return -_INF if odd else _INF
        return _NEG_ZERO if odd else 0
    if x == 0:
        negative = odd and _signbit(x)
        return _signed_zero(negative) if exponent > 0 else _signed_inf(negative)
    base = _finite(x)
    negative = False
    if base < 0:
        if not _is_integer(exponent):
            return _NEG_NAN
        base, negative = -base, odd
    fraction_base = Fraction(base)
    times = float(exponent) if -_TWO64 < exponent < _TWO64 else math.copysign(_INF, exponent)
    base_log2 = math.log2(fraction_base.numerator) - math.log2(fraction_base.denominator)
    magnitude_log2 = times * base_log2 if base_log2 else 0.0
    if magnitude_log2 > 16400:
        return _signed_inf(negative)
    if magnitude_log2 < -16500:
        return _signed_zero(negative)
    size = abs(times) * (fraction_base.numerator.bit_length() + fraction_base.denominator.bit_length())
    if _is_integer(exponent) and size < 200_000:
        power = fraction_base ** int(exponent)
        result = _round_ld(power.numerator, power.denominator)
    else:
        context = _decimal_context(_DECIMAL_PRECISION + 12)
        logarithm = context.multiply(context.ln(_to_decimal(fraction_base, context)), _to_decimal(exponent, context))
        result = _from_decimal(context.exp(logarithm))
    return _neg(result) if negative else result


def _ld_rounding(x: Number, mode: str) -> Number:
    """``floorl``, ``ceill``, ``truncl``, ``roundl`` (halves away from zero), ``rintl`` (halves to even)."""
    if isinstance(x, float):
        return x
    if type(x) is int:
        return x
    if mode == "floor":
        result = math.floor(x)
    elif mode == "ceil":
        result = math.ceil(x)
    elif mode == "trunc":
        result = math.trunc(x)
    elif mode == "round":
        result = math.floor((-x if x < 0 else x) + Fraction(1, 2))
        result = -result if x < 0 else result
    else:
        result = round(x)
    if result == 0:
        return _signed_zero(x < 0)
    return _from_int(result)


def _ld_remainder(x: Number, y: Number) -> Number:
    """``remainderl``: ``x - n*y`` with ``n`` the nearest integer to ``x/y`` (halves to even)."""
    if _isnan(x):
        return x
    if _isnan(y):
        return y
    if _isinf(x) or y == 0:
        return _NEG_NAN
    if _isinf(y) or x == 0:
        return x
    fx, fy = Fraction(_finite(x)), Fraction(_finite(y))
    result = fx - round(fx / fy) * fy
    if result == 0:
        return _signed_zero(_signbit(x))
    return _exact(result)


def _ld_abs(x: Number) -> Number:
    # op_func()'s ABS is "x < 0 ? x * -1 : x", so -0 and -nan come back as they are.
    return _neg(x) if x < 0 else x


_PI_CACHE: dict[int, Decimal] = {}
_pi_lock = threading.Lock()


def _decimal_pi(digits: int) -> Decimal:
    """Pi to ``digits`` significant digits (Machin's formula in fixed point)."""
    with _pi_lock:
        cached = _PI_CACHE.get(digits)
        if cached is not None:
            return cached
        scale: int = 10 ** (digits + 10)

        def arctan_inverse(n: int) -> int:
            total = term = scale // n
            square, k, sign = n * n, 1, -1
            while term:
                term //= square
                total += sign * (term // (2 * k + 1))
                sign, k = -sign, k + 1
            return total

        value = Decimal(16 * arctan_inverse(5) - 4 * arctan_inverse(239)).scaleb(-(digits + 10))
        cached = _decimal_context(digits).plus(value)
        _PI_CACHE[digits] = cached
        return cached


def _sin_cos_reduced(r: Decimal, context: decimal.Context) -> tuple[Decimal, Decimal]:
    square = context.multiply(r, r)
    sine = term = r
    k = 1
    while term and term.adjusted() > sine.adjusted() - context.prec - 2:
        term = context.divide(context.multiply(-term, square), Decimal((2 * k) * (2 * k + 1)))
        sine = context.add(sine, term)
        k += 1
    cosine = term = Decimal(1)
    k = 1
    while term and term.adjusted() > cosine.adjusted() - context.prec - 2:
        term = context.divide(context.multiply(-term, square), Decimal((2 * k - 1) * (2 * k)))
        cosine = context.add(cosine, term)
        k += 1
    return sine, cosine


def _decimal_sin_cos(x: int | Fraction) -> tuple[Decimal, Decimal]:
    value = Fraction(x)
    magnitude = max(0, int((value.numerator.bit_length() - value.denominator.bit_length()) * _LOG10_2) + 1)
    extra = 0
    while True:
        digits = _DECIMAL_PRECISION + magnitude + extra + 5
        context = _decimal_context(digits)
        half_pi = context.divide(_decimal_pi(digits), Decimal(2))
        operand = _to_decimal(x, context)
        quadrant = context.to_integral_value(context.divide(operand, half_pi))
        reduced = context.subtract(operand, context.multiply(quadrant, half_pi))
        lost = -reduced.adjusted() if reduced and quadrant else 0
        if lost <= 15 + extra or extra > 200:
            break
        extra = lost + 5  # close to a multiple of pi/2: redo with the digits that cancelled
    sine, cosine = _sin_cos_reduced(reduced, context)
    turn = int(quadrant) % 4
    if turn == 1:
        return cosine, -sine
    if turn == 2:
        return -sine, -cosine
    if turn == 3:
        return -cosine, sine
    return sine, cosine


def _ld_sin(x: Number) -> Number:
    if isinstance(x, float):
        return x if x != _INF and x != -_INF else _NEG_NAN
    return _from_decimal(_decimal_sin_cos(x)[0]) if x else 0


def _ld_cos(x: Number) -> Number:
    if isinstance(x, float):
        return 1 if x == 0 else (x if x != x else _NEG_NAN)
    return _from_decimal(_decimal_sin_cos(x)[1]) if x else 1


def _ld_tan(x: Number) -> Number:
    if isinstance(x, float):
        return x if x == 0 or x != x else _NEG_NAN
    if not x:
        return 0
    sine, cosine = _decimal_sin_cos(x)
    return _from_decimal(_CONTEXT.divide(sine, cosine))


def _decimal_atan(value: Decimal, context: decimal.Context) -> Decimal:
    if value < 0:
        return -_decimal_atan(-value, context)
    invert = value > 1
    if invert:
        value = context.divide(Decimal(1), value)
    halvings = 0
    while value > Decimal("0.125"):  # atan(x) = 2 atan(x / (1 + sqrt(1 + x*x)))
        value = context.divide(value, context.add(1, context.sqrt(context.add(1, context.multiply(value, value)))))
        halvings += 1
    square = context.multiply(value, value)
    total = term = value
    k = 1
    while term and term.adjusted() > total.adjusted() - context.prec - 2:
        term = context.multiply(-term, square)
        total = context.add(total, context.divide(term, Decimal(2 * k + 1)))
        k += 1
    total = context.multiply(total, Decimal(1 << halvings))
    if invert:
        total = context.subtract(context.divide(_decimal_pi(context.prec), Decimal(2)), total)
    return total


def _ld_atan2(y: Number, x: Number) -> Number:
    """``atan2l(y, x)`` with the signed-zero and infinity cases of C99 Annex F.9.1.4."""
    if _isnan(y):
        return y
    if _isnan(x):
        return x
    context = _decimal_context(_DECIMAL_PRECISION + 5)
    pi = _decimal_pi(context.prec)
    negative = _signbit(y)
    if _isinf(y):
        if _isinf(x):
            quarter = context.divide(pi, Decimal(4))
            angle = quarter if x > 0 else context.multiply(quarter, Decimal(3))
        else:
            angle = context.divide(pi, Decimal(2))
    elif _isinf(x):
        if x > 0:
            return _signed_zero(negative)
        angle = pi
    elif y == 0:
        if not _signbit(x):
            return y
        angle = pi
    elif x == 0:
        angle = context.divide(pi, Decimal(2))
    else:
        fy, fx = Fraction(_finite(y)), Fraction(_finite(x))
        angle = _decimal_atan(_to_decimal(abs(fy / fx), context), context)
        if fx < 0:
            angle = context.subtract(pi, angle)
    result = _from_decimal(angle)
    return _neg(result) if negative else result


def _ld_atan(x: Number) -> Number:
    if _isnan(x) or x == 0:
        return x
    return _ld_atan2(x, 1)


def _ld_asin(x: Number) -> Number:
    if _isnan(x) or x == 0:
        return x
    if _ld_abs(x) > 1:
        return _NAN
    value = Fraction(_finite(x))
    context = _decimal_context(_DECIMAL_PRECISION + 5)
    cosine = context.sqrt(_to_decimal(1 - value * value, context))
    if not cosine:
        return _ld_atan2(x, 0)
    angle = _decimal_atan(context.divide(_to_decimal(abs(value), context), cosine), context)
    result = _from_decimal(angle)
    return _neg(result) if value < 0 else result


def _ld_acos(x: Number) -> Number:
    if _isnan(x):
        return x
    if _ld_abs(x) > 1:
        return _NAN
    value = Fraction(_finite(x)) if not isinstance(x, float) else Fraction(0)
    if value == 1:
        return 0
    context = _decimal_context(_DECIMAL_PRECISION + 5)
    sine = context.sqrt(_to_decimal(1 - value * value, context))
    pi = _decimal_pi(context.prec)
    if value == 0:
        return _from_decimal(context.divide(pi, Decimal(2)))
    angle = _decimal_atan(context.divide(sine, _to_decimal(abs(value), context)), context)
    if value < 0:
        angle = context.subtract(pi, angle)
    return _from_decimal(angle)


_BuiltinFunction = Callable[..., Number]

# name -> (number of arguments, implementation); the list, the names and the arities are op_func()'s.
_BUILTINS: dict[str, tuple[int, _BuiltinFunction]] = {
    "COS": (1, _ld_cos),
    "SIN": (1, _ld_sin),
    "TAN": (1, _ld_tan),
    "ACOS": (1, _ld_acos),
    "ASIN": (1, _ld_asin),
    "ATAN": (1, _ld_atan),
    "ATAN2": (2, _ld_atan2),
    "POW": (2, _ld_pow),
    "SQRT": (1, _ld_sqrt),
    "FLOOR": (1, lambda x: _ld_rounding(x, "floor")),
    "CEIL": (1, lambda x: _ld_rounding(x, "ceil")),
    "ROUND": (1, lambda x: _ld_rounding(x, "round")),
    "RINT": (1, lambda x: _ld_rounding(x, "rint")),
    "TRUNC": (1, lambda x: _ld_rounding(x, "trunc")),
    "EXP": (1, lambda x: _ld_exp(x, 0)),
    "EXP2": (1, lambda x: _ld_exp(x, 2)),
    "EXP10": (1, lambda x: _ld_exp(x, 10)),
    "LOG": (1, lambda x: _ld_log(x, 0)),
    "LOG2": (1, lambda x: _ld_log(x, 2)),
    "LOG10": (1, lambda x: _ld_log(x, 10)),
    "REMAINDER": (2, _ld_remainder),
    "ABS": (1, _ld_abs),
}

_FUNCTION_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789")
_REALLY_NUMERIC_CHARS = frozenset("-0123456789. \t")
_FUNCTION_WORKSPACE = 512  # op_func() reads a function into char workspace[512]


# --------------------------------------------------------------------------------------------------
# POSIX extended regular expressions for ":" and "=~" (regcomp(REG_EXTENDED) + regexec(nmatch=2)).

Match = tuple[int, int, int, int]  # byte offsets: whole match, then group 1 (-1, -1 when unset)


class _RegexError(Exception):
    pass


class _CompiledRegex(Protocol):
    nsub: int

    def search(self, subject: bytes) -> Match | None: ...


class _RegexT(ctypes.Structure):
    # glibc's struct re_pattern_buffer (regex.h); spare room keeps us safe should it grow.
    _fields_ = [
        ("buffer", ctypes.c_void_p),
        ("allocated", ctypes.c_ulong),
        ("used", ctypes.c_ulong),
        ("syntax", ctypes.c_ulong),
        ("fastmap", ctypes.c_void_p),
        ("translate", ctypes.c_void_p),
        ("re_nsub", ctypes.c_size_t),
        ("flags", ctypes.c_uint),
        ("spare", ctypes.c_char * 64),
    ]


class _RegMatchT(ctypes.Structure):
    _fields_ = [("rm_so", ctypes.c_int), ("rm_eo", ctypes.c_int)]  # glibc's regoff_t is int


class _GlibcRegexApi:
    """glibc's regcomp/regexec/regerror/regfree, run in the "C" locale as in Asterisk's process."""

    REG_EXTENDED = 1
    LC_CTYPE_MASK = 1 << 0
    LC_COLLATE_MASK = 1 << 3

    def __init__(self, libc: ctypes.CDLL) -> None:
        self.regcomp = libc.regcomp
        self.regcomp.argtypes = [ctypes.POINTER(_RegexT), ctypes.c_char_p, ctypes.c_int]
        self.regcomp.restype = ctypes.c_int
        self.regexec = libc.regexec
        self.regexec.argtypes = [
            ctypes.POINTER(_RegexT),
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.POINTER(_RegMatchT),
            ctypes.c_int,
        ]
        self.regexec.restype = ctypes.c_int
        self.regerror = libc.regerror
        self.regerror.argtypes = [ctypes.c_int, ctypes.POINTER(_RegexT), ctypes.c_char_p, ctypes.c_size_t]
        self.regerror.restype = ctypes.c_size_t
        self.regfree = libc.regfree
        self.regfree.argtypes = [ctypes.POINTER(_RegexT)]
        self.regfree.restype = None
        self.uselocale = libc.uselocale
        self.uselocale.argtypes = [ctypes.c_void_p]
        self.uselocale.restype = ctypes.c_void_p
        newlocale = libc.newlocale
        newlocale.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p]
        newlocale.restype = ctypes.c_void_p
        self.c_locale = newlocale(self.LC_CTYPE_MASK | self.LC_COLLATE_MASK, b"C", None)
        if not self.c_locale:
            raise OSError("newlocale(C) failed")


def _load_glibc() -> _GlibcRegexApi | None:
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return None
        return _GlibcRegexApi(ctypes.CDLL("libc.so.6"))  # glibc's soname on every architecture
    except (ValueError, OSError, AttributeError):
        return None


_GLIBC = _load_glibc()


class _GlibcRegex:
    """A pattern compiled by glibc's ``regcomp``; freed by ``regfree`` when the last user lets go."""

    __slots__ = ("_api", "_regex", "nsub")

    def __init__(self, api: _GlibcRegexApi, pattern: bytes) -> None:
        regex = _RegexT()
        previous = api.uselocale(api.c_locale)
        try:
            status = api.regcomp(ctypes.byref(regex), pattern, api.REG_EXTENDED)
            if status != 0:
                message = ctypes.create_string_buffer(256)
                api.regerror(status, ctypes.byref(regex), message, 256)
                raise _RegexError(message.value.decode("utf-8", "replace"))
        finally:
            api.uselocale(previous)
        self._api = api
        self._regex = regex
        self.nsub = int(regex.re_nsub)

    def search(self, subject: bytes) -> Match | None:
        api = self._api
        matches = (_RegMatchT * 2)()
        previous = api.uselocale(api.c_locale)
        try:
            status = api.regexec(ctypes.byref(self._regex), subject, 2, matches, 0)
        finally:
            api.uselocale(previous)
        if status != 0:
            return None
        return matches[0].rm_so, matches[0].rm_eo, matches[1].rm_so, matches[1].rm_eo

    def __del__(self) -> None:
        api = getattr(self, "_api", None)  # unset when regcomp() failed: nothing to free then
        if api is not None:
            api.regfree(ctypes.byref(self._regex))


_POSIX_CLASSES = {
    b"alpha": rb"a-zA-Z",
    b"digit": rb"0-9",
    b"alnum": rb"a-zA-Z0-9",
    b"upper": rb"A-Z",
    b"lower": rb"a-z",
    b"space": rb" \t\n\r\f\v",
    b"blank": rb" \t",
    b"punct": rb"!-/:-@\[-`{-~",
    b"print": rb" -~",
    b"graph": rb"!-~",
    b"cntrl": rb"\x00-\x1f\x7f",
    b"xdigit": rb"0-9A-Fa-f",
}


def _translate_bracket(pattern: bytes, start: int) -> tuple[bytes, int]:
    """A POSIX bracket expression at ``pattern[start] == '['`` as a Python class; returns (class, end)."""
    i = start + 1
    negate = i < len(pattern) and pattern[i : i + 1] == b"^"
    if negate:
        i += 1
    items: list[bytes] = []
    first = True
    while i < len(pattern):
        char = pattern[i : i + 1]
        if char == b"]" and not first:
            body = b"".join(items)
            return (b"[^" + body + b"]" if negate else b"[" + body + b"]"), i + 1
        first = False
        if char == b"[" and pattern[i + 1 : i + 2] in (b":", b"=", b"."):
            kind = pattern[i + 1 : i + 2]
            close = pattern.find(kind + b"]", i + 2)
            if close < 0:
                raise _RegexError("Unmatched [, [^, [:, [., or [=")
            name = pattern[i + 2 : close]
            if kind == b":":
                if name not in _POSIX_CLASSES:
                    raise _RegexError("Invalid character class name")
                items.append(_POSIX_CLASSES[name])
            else:
                items.append(re.escape(name))
            i = close + 2
            continue
        if pattern[i + 1 : i + 2] == b"-" and pattern[i + 2 : i + 3] not in (b"]", b""):
            items.append(re.escape(char) + b"-" + re.escape(pattern[i + 2 : i + 3]))
            i += 3
            continue
        items.append(re.escape(char))
        i += 1
    raise _RegexError("Unmatched [, [^, [:, [., or [=")


_INTERVAL = re.compile(rb"\{([0-9]*)(,?)([0-9]*)\}")


def _posix_to_python(pattern: bytes) -> bytes:
    """Translate a POSIX ERE (with glibc's GNU extensions) to Python ``re`` syntax, keeping group numbers."""
    out: list[bytes] = []
    depth = 0
    i = 0
    while i < len(pattern):
        char = pattern[i : i + 1]
        if char == b"\\":
            following = pattern[i + 1 : i + 2]
            if not following:
                raise _RegexError("Trailing backslash")
            if following in b"123456789wWsSbB":
                out.append(char + following)
            else:
                out.append(
                    {b"<": rb"\b(?=\w)", b">": rb"\b(?<=\w)", b"`": rb"\A", b"'": rb"\Z"}.get(
                        following, re.escape(following)
                    )
                )
            i += 2
            continue
        if char == b"[":
            translated, i = _translate_bracket(pattern, i)
            out.append(translated)
            continue
        if char in b"*+?":
            end = i
            while end < len(pattern) and pattern[end : end + 1] in (b"*", b"+", b"?"):
                end += 1
            # Stacked POSIX quantifiers apply in turn ("a*?" is "(a*)?"), where Python would read a lazy or
            # possessive one: "++" is "+", "??" is "?", any other mix is "*".
            out.append(pattern[i : i + 1] if len(set(pattern[i:end])) == 1 else b"*")
            i = end
            continue
        if char == b"{":
            interval = _INTERVAL.match(pattern, i)
            if interval is None or not (interval.group(1) or interval.group(3)):
                out.append(rb"\{")
                i += 1
                continue
            low, comma, high = interval.group(1) or b"0", interval.group(2), interval.group(3)
            out.append(b"{" + low + comma + high + b"}")
            i = interval.end()
            continue
        if char == b"(":
            depth += 1
        elif char == b")":
            if depth == 0:
                out.append(rb"\)")  # an unmatched ")" is an ordinary character in glibc's ERE
                i += 1
                continue
            depth -= 1
        elif char == b"$":
            out.append(rb"\Z")
            i += 1
            continue
        elif char not in b"^.|":
            out.append(re.escape(char))
            i += 1
            continue
        out.append(char)
        i += 1
    if depth:
        raise _RegexError("Unmatched ( or \\(")
    return b"".join(out)


class _PythonRegex:
    """Fallback where glibc is absent: the same pattern through Python's ``re`` (leftmost-first)."""

    __slots__ = ("_compiled", "nsub")

    def __init__(self, pattern: bytes) -> None:
        try:
            self._compiled = re.compile(_posix_to_python(pattern), re.DOTALL)
        except re.error as exc:
            raise _RegexError(str(exc)) from None
        self.nsub = self._compiled.groups

    def search(self, subject: bytes) -> Match | None:
        found = self._compiled.search(subject)
        if found is None:
            return None
        if self.nsub:
            return found.start(), found.end(), found.start(1), found.end(1)
        return found.start(), found.end(), -1, -1


_REGEX_CACHE_SIZE = 512
_regex_cache: dict[bytes, _CompiledRegex | str] = {}


def _compile_regex(pattern: bytes) -> _CompiledRegex:
    cached = _regex_cache.get(pattern)
    if cached is None:
        try:
            cached = _GlibcRegex(_GLIBC, pattern) if _GLIBC is not None else _PythonRegex(pattern)
        except _RegexError as exc:
            cached = str(exc)
        if len(_regex_cache) >= _REGEX_CACHE_SIZE:
            _regex_cache.clear()  # a cleared entry is freed once no evaluation still holds it
        _regex_cache[pattern] = cached
    if isinstance(cached, str):
        raise _RegexError(cached)
    return cached


def _to_bytes(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


# --------------------------------------------------------------------------------------------------
# Values and the op_* functions of ast_expr2.y.  A value is a number, a numeric string
# (AST_EXPR_numeric_string, converted to a number only when an operator asks for one) or a plain str
# (AST_EXPR_string).


class _NumericString(str):
    """A string that looks like a number (``AST_EXPR_numeric_string``): digits and dots only."""

    __slots__ = ()


Value = Union[int, Fraction, float, str]


def _make_str(text: str) -> str:
    """``make_str()``: a string of digits and dots becomes a numeric string (a leading ``-`` does not)."""
    if text and not text.strip("0123456789."):
        return _NumericString(text)
    return text


def _to_number(value: Value) -> Number | None:
    """``to_number()``: the number a value stands for, or None for a string (or an out-of-range number)."""
    kind = type(value)
    if kind is _NumericString:
        assert isinstance(value, str)
        if len(value) < 19 and value.isdigit():  # the usual case; a numeric string is ASCII only
            return int(value)
        number, out_of_range = _strtold(value)
        if out_of_range:
            _log.warning("Conversion of %s to number under/overflowed!", value)
            return None
        return number
    if kind is str:
        return None
    assert not isinstance(value, str)
    return value


def _to_text(value: Value) -> str:
    """``to_string()``: numbers are printed with ``%.18Lg``; strings stay as they are, quotes and all."""
    if isinstance(value, str):
        return value
    return _format_number(value)


def _strip_quotes(text: str) -> str:
    # strip_quotes() removes every '"' once the string starts and ends with one.
    if text and text[0] == '"' and text[-1] == '"':
        return text.replace('"', "")
    return text


def _non_numeric() -> None:
    _log.warning("non-numeric argument")


def _zero_or_null(value: Value) -> tuple[bool, Value]:
    """``is_zero_or_null()``, which also leaves a numeric string converted to its number."""
    if not isinstance(value, str):
        return value == 0, value
    if value == "":
        return True, value
    number = _to_number(value)
    if number is None:
        return False, "" if type(value) is _NumericString else value
    return number == 0, number


def _op_or(a: Value, b: Value) -> Value:
    a_zero, a = _zero_or_null(a)
    return b if a_zero else a


def _op_and(a: Value, b: Value) -> Value:
    a_zero, a = _zero_or_null(a)
    if a_zero or _zero_or_null(b)[0]:
        return 0
    return a


def _comparison(test: Callable[[Any, Any], Any]) -> Callable[[Value, Value], Value]:
    def compare(a: Value, b: Value) -> Value:
        # A string operand (not a numeric string) makes it a string comparison: strcoll() in the "C"
        # locale, i.e. byte order, which is code point order for UTF-8.
        if type(a) is str or type(b) is str:
            return 1 if test(_to_text(a), _to_text(b)) else 0
        left, right = _to_number(a), _to_number(b)
        return 1 if test(0 if left is None else left, 0 if right is None else right) else 0

    return compare


_op_eq = _comparison(operator.eq)
_op_ne = _comparison(operator.ne)
_op_lt = _comparison(operator.lt)
_op_le = _comparison(operator.le)
_op_gt = _comparison(operator.gt)
_op_ge = _comparison(operator.ge)


def _check_overflow(left: Number, right: Number, result: Number) -> Number:
    if _isinf(result) and not _isinf(left) and not _isinf(right):
        _log.warning("overflow")
    return result


def _op_plus(a: Value, b: Value) -> Value:
    left = _to_number(a)
    if left is None:
        _non_numeric()
        right = _to_number(b)
        return 0 if right is None else right
    right = _to_number(b)
    if right is None:
        return left  # op_plus() returns the numeric side without a warning here
    return _check_overflow(left, right, _add(left, right))


def _op_minus(a: Value, b: Value) -> Value:
    left = _to_number(a)
    if left is None:
        _non_numeric()
        right = _to_number(b)
        return 0 if right is None else _sub(0, right)
    right = _to_number(b)
    if right is None:
        _non_numeric()
        return left
    return _check_overflow(left, right, _sub(left, right))


def _op_times(a: Value, b: Value) -> Value:
    left = _to_number(a)
    right = None if left is None else _to_number(b)
    if left is None or right is None:
        _non_numeric()
        return 0
    return _check_overflow(left, right, _mul(left, right))


def _op_div(a: Value, b: Value) -> Value:
    left = _to_number(a)
    if left is None:
        _non_numeric()
        return 0
    right = _to_number(b)
    if right is None:
        _non_numeric()
        return _INT_MAX
    if right == 0:
        _log.warning("division by zero")
        return _INT_MAX
    return _div(left, right)


def _op_rem(a: Value, b: Value) -> Value:
    left = _to_number(a)
    right = None if left is None else _to_number(b)
    if left is None or right is None:
        _non_numeric()
        return 0
    if right == 0:
        _log.warning("div by zero")
        return right  # the (converted) divisor itself: 0, or -0
    return _fmod(left, right)


def _op_negate(a: Value) -> Value:
    number = _to_number(a)
    if number is None:
        _non_numeric()
        return 0
    return _neg(number)


def _op_compl(a: Value) -> Value:
    if isinstance(a, str):
        truth = 0 if a in ("", "0") else _atoi(a)  # op_compl() reads a string with atoi()
    else:
        truth = 0 if a == 0 else 1
    return 0 if truth else 1


def _op_cond(a: Value, b: Value, c: Value) -> Value:
    if type(a) is str:
        truth = a not in ("", '""', "0")
    else:
        number = _to_number(a)
        truth = number is not None and bool(number)
    return b if truth else c


def _regex_match(a: Value, b: Value, anchored: bool) -> Value:
    """``op_colon()`` (anchored) and ``op_eqtilde()``."""
    subject = _to_bytes(_strip_quotes(_to_text(a)))
    try:
        regex = _compile_regex(_to_bytes(_strip_quotes(_to_text(b))))
    except _RegexError as exc:
        _log.warning("regcomp() error : %s", exc)
        return ""
    found = regex.search(subject)
    if found is not None and (not anchored or found[0] == 0):
        if found[2] >= 0:
            return _make_str(subject[found[2] : found[3]].decode("utf-8", "surrogateescape"))
        return found[1] - found[0]
    return 0 if regex.nsub == 0 else ""


def _op_colon(a: Value, b: Value) -> Value:
    return _regex_match(a, b, anchored=True)


def _op_eqtilde(a: Value, b: Value) -> Value:
    return _regex_match(a, b, anchored=False)


def _op_tildetilde(a: Value, b: Value) -> Value:
    return _make_str(_strip_quotes(_to_text(a)) + _strip_quotes(_to_text(b)))


def _builtin_argument(value: Value) -> Number:
    number = _to_number(value)
    if number is None:
        # op_func() ignores to_number()'s failure and reads the string pointer as a long double,
        # which is undefined; 0 is as good an answer as any and is stable.
        _log.warning("non-numeric argument %r to an expression function", _to_text(value))
        return 0
    return number


def _call_function(name: Value, arguments: list[Value], functions: FunctionReader | None) -> Value:
    """``op_func()``: a built-in math function, else a dialplan function read through ``functions``."""
    name_text = _to_text(name)
    if not all(char in _FUNCTION_NAME_CHARS for char in name_text):
        _log.error("Error! '%s' is not possibly a function name!", name_text)
        return 0
    builtin = _BUILTINS.get(name_text)
    if builtin is not None:
        arity, implementation = builtin
        if len(arguments) != arity:
            _log.warning("Wrong args to %s() function", name_text)
            return 0
        result: Number = implementation(*(_builtin_argument(argument) for argument in arguments))
        return result
    result_text = None
    if functions is not None:
        result_text = functions(name_text, ",".join(_to_text(argument) for argument in arguments))
    if result_text is None:
        _log.error("Error! '%s' doesn't appear to be an available function!", name_text)
        return 0
    encoded = _to_bytes(result_text)
    if len(encoded) >= _FUNCTION_WORKSPACE:
        result_text = encoded[: _FUNCTION_WORKSPACE - 1].decode("utf-8", "ignore")
    if all(char in _REALLY_NUMERIC_CHARS for char in result_text):
        return _strtold(result_text)[0]  # is_really_num(): strtold() without an errno check
    return _make_str(result_text)


# --------------------------------------------------------------------------------------------------
# The scanner (ast_expr2.fl).

(
    T_END,
    T_TOKEN,
    T_OR,
    T_AND,
    T_EQ,
    T_GT,
    T_LT,
    T_GE,
    T_LE,
    T_NE,
    T_PLUS,
    T_MINUS,
    T_MULT,
    T_DIV,
    T_MOD,
    T_COMPL,
    T_COLON,
    T_EQTILDE,
    T_TILDETILDE,
    T_COND,
    T_COLONCOLON,
    T_LP,
    T_RP,
    T_COMMA,
) = range(24)

_OPERATORS = {
    "||": T_OR,
    "&&": T_AND,
    "==": T_EQ,
    "=~": T_EQTILDE,
    "~~": T_TILDETILDE,
    ">=": T_GE,
    "<=": T_LE,
    "!=": T_NE,
    "::": T_COLONCOLON,
    "|": T_OR,
    "&": T_AND,
    "=": T_EQ,
    ">": T_GT,
    "<": T_LT,
    "+": T_PLUS,
    ",": T_COMMA,
    "-": T_MINUS,
    "*": T_MULT,
    "/": T_DIV,
    "%": T_MOD,
    "?": T_COND,
    "!": T_COMPL,
    ":": T_COLON,
    "(": T_LP,
    ")": T_RP,
}

# The names ast_yyerror() shows for tokens (expr2_token_equivs2 in ast_expr2.fl).
_TOKEN_NAMES = {kind: f"'{text}'" for text, kind in _OPERATORS.items() if len(text) == 1 or kind == T_COLONCOLON}
_TOKEN_NAMES.update({T_EQ: "'='", T_EQTILDE: "'=~'", T_TILDETILDE: "'~~'", T_GE: "'>='", T_LE: "'<='"})
_TOKEN_NAMES.update({T_NE: "'!='", T_OR: "'|'", T_AND: "'&'", T_TOKEN: "'<token>'", T_END: "$end"})

# One token per match, after any blanks: 1 operator, 2 quoted string, 3 "${", 4 run of token characters
# ([a-zA-Z0-9.';\\_^#@], anything >= 0x80, or "$" and a character other than "{"; the class below is
# that set written as its ASCII complement).
_SCANNER = re.compile(
    r"[ \t\r\n]*(?:"
    r"(\|\||&&|==|=~|~~|>=|<=|!=|::|[|&=><+,\-*/%?!:()])"
    r'|("[^"]*")'
    r"|(\$\{)"
    r"|((?:[^\x00-\x20!\"$%&()*+,\-/:<=>?\[\]`{|}~\x7f]|\$[^{])+))?",
    re.DOTALL,
)
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_BRACE = re.compile(r"[{}]")
_TRAIL = re.compile(r"[^-\t\r \n$():?%/+=*<>!|&]*")


def _scan_variable(text: str, start: int, position: int) -> tuple[str | None, int]:
    """A ``${...}`` token (from ``start``; ``position`` is past its ``${``) with its trailing text.

    Follows the ``var`` and ``trail`` start conditions. Two flex effects are kept: an unterminated
    ``${`` swallows the rest of the input (no rule matches, EOF ends the scan), and a ``}`` followed
    directly by an operator or blank yields a token that runs to the end of the input, because the
    ``unput()`` in that rule overwrites the NUL that ended ``yytext``.
    """
    depth = 0
    while True:
        brace = _BRACE.search(text, position)
        if brace is None:
            return None, len(text)
        position = brace.end()
        if brace.group() == "{":
            depth += 1
            continue
        depth -= 1
        if depth >= 0:
            continue
        trail = _TRAIL.match(text, position)
        trail_end = trail.end() if trail else position
        if text.startswith("${", trail_end):
            position, depth = trail_end + 2, 0
            continue
        if trail_end == len(text) or trail_end == position:
            return text[start:], trail_end
        return text[start:trail_end], trail_end


_Tokens = tuple[list[int], list[Value], list[int]]
_SCAN_CACHE_SIZE = 4096
_scan_cache: dict[str, _Tokens] = {}


def _tokens(text: str) -> _Tokens:
    """:func:`_scan` with a bounded cache: dialplans evaluate the same substituted texts again and again."""
    tokens = _scan_cache.get(text)
    if tokens is None:
        tokens = _scan(text)
        if len(text) <= 256:
            if len(_scan_cache) >= _SCAN_CACHE_SIZE:
                _scan_cache.clear()
            _scan_cache[text] = tokens
    return tokens


def _scan(text: str) -> _Tokens:
    """Token kinds, token values and token offsets of ``text``, ending with ``T_END``."""
    kinds: list[int] = []
    values: list[Value] = []
    offsets: list[int] = []
    position, length = 0, len(text)
    match_at = _SCANNER.match
    while position < length:
        match = match_at(text, position)
        assert match is not None  # every alternative is optional
        group = match.lastindex
        if group is None:
            # Flex's default rule echoes a character no rule matches (a lone '"', '[', '{', '~', a
            # trailing '$', a control character) and the scanner carries on as if it were not there.
            position = match.end() + 1
            continue
        start, position = match.start(group), match.end()
        token = match.group(group)
        if group == 1:
            kinds.append(_OPERATORS[token])
            values.append(token)
        elif group == 2:
            kinds.append(T_TOKEN)
            values.append(token)
        else:
            if group == 3 or text.startswith("${", position):
                variable, position = _scan_variable(text, start, position + (0 if group == 3 else 2))
                if variable is None:
                    break
                values.append(variable)
            else:
                values.append(_NumericString(token) if _NUMBER.fullmatch(token) else token)
            kinds.append(T_TOKEN)
        offsets.append(start)
    kinds.append(T_END)
    values.append("")
    offsets.append(length)
    return kinds, values, offsets


# --------------------------------------------------------------------------------------------------
# The grammar (ast_expr2.y), evaluated while it is parsed, as bison's actions do.  Levels from the
# %left/%right declarations, lowest first; unary '-' and '!' (%prec TOK_COMPL) sit between '* / %'
# and ': =~ ~~', so "-a : b" is "-(a : b)".

_LEVEL = [0] * 24
_LEVEL[T_COND] = 1
_LEVEL[T_OR] = 2
_LEVEL[T_AND] = 3
for _kind in (T_EQ, T_GT, T_LT, T_GE, T_LE, T_NE):
    _LEVEL[_kind] = 4
_LEVEL[T_PLUS] = _LEVEL[T_MINUS] = 5
_LEVEL[T_MULT] = _LEVEL[T_DIV] = _LEVEL[T_MOD] = 6
_UNARY_OPERAND_LEVEL = 8
_LEVEL[T_COLON] = _LEVEL[T_EQTILDE] = _LEVEL[T_TILDETILDE] = 8

_BINARY: dict[int, Callable[[Value, Value], Value]] = {
    T_OR: _op_or,
    T_AND: _op_and,
    T_EQ: _op_eq,
    T_GT: _op_gt,
    T_LT: _op_lt,
    T_GE: _op_ge,
    T_LE: _op_le,
    T_NE: _op_ne,
    T_PLUS: _op_plus,
    T_MINUS: _op_minus,
    T_MULT: _op_times,
    T_DIV: _op_div,
    T_MOD: _op_rem,
    T_COLON: _op_colon,
    T_EQTILDE: _op_eqtilde,
    T_TILDETILDE: _op_tildetilde,
}


class _Evaluator:
    __slots__ = ("kinds", "values", "offsets", "index", "functions")

    def __init__(self, text: str, functions: FunctionReader | None) -> None:
        self.kinds, self.values, self.offsets = _tokens(text)
        self.index = 0
        self.functions = functions

    def fail(self) -> ExpressionError:
        kind = self.kinds[self.index]
        return ExpressionError(f"syntax error, unexpected {_TOKEN_NAMES[kind]}", self.offsets[self.index])

    def run(self) -> Value:
        if self.kinds[0] == T_END:
            return ""  # "start: /* empty */" gives an empty string
        value = self.expression(1)
        if self.kinds[self.index] != T_END:
            raise self.fail()
        return value

    def expression(self, min_level: int) -> Value:
        left = self.operand()
        kinds = self.kinds
        while True:
            kind = kinds[self.index]
            level = _LEVEL[kind]
            if level < min_level:
                return left
            self.index += 1
            if kind == T_COND:
                middle = self.expression(1)
                if kinds[self.index] != T_COLONCOLON:
                    raise self.fail()
                self.index += 1
                left = _op_cond(left, middle, self.expression(2))
            else:
                left = _BINARY[kind](left, self.expression(level + 1))

    def operand(self) -> Value:
        kind = self.kinds[self.index]
        if kind == T_TOKEN:
            value = self.values[self.index]
            self.index += 1
            if self.kinds[self.index] == T_LP:
                return self.call(value)
            return value
        if kind == T_MINUS:
            self.index += 1
            return _op_negate(self.expression(_UNARY_OPERAND_LEVEL))
        if kind == T_COMPL:
            self.index += 1
            return _op_compl(self.expression(_UNARY_OPERAND_LEVEL))
        if kind == T_LP:
            self.index += 1
            value = self.expression(1)
            if self.kinds[self.index] != T_RP:
                raise self.fail()
            self.index += 1
            return value
        raise self.fail()

    def call(self, name: Value) -> Value:
        self.index += 1  # the '('
        arguments = [self.expression(1)]
        while self.kinds[self.index] == T_COMMA:
            self.index += 1
            if self.kinds[self.index] in (T_RP, T_COMMA):
                arguments.append("")  # "arglist TOK_COMMA": an empty argument is an empty string
            else:
                arguments.append(self.expression(1))
        if self.kinds[self.index] != T_RP:
            raise self.fail()
        self.index += 1
        return _call_function(name, arguments, self.functions)


def evaluate(text: str, *, functions: FunctionReader | None = None) -> str:
    """Evaluate the inside of ``$[...]`` (already substituted) and return what Asterisk 20 returns.

    Follows ``ast_str_expr()`` (``main/ast_expr2.fl``) and the grammar of ``main/ast_expr2.y``:

    * the result of a syntax error is ``"0"`` (a warning is logged on ``centralita.dialplan``),
      an empty expression gives ``""``;
    * numbers print with ``%.18Lg`` of an 80-bit long double (``3/2`` -> ``1.5``, ``1/3`` ->
      ``0.333333333333333333``, ``2**64`` -> ``1.84467440737095516e+19``, ``-0`` -> ``-0``);
    * strings come back as they are, double quotes included (``"abc"`` -> ``"abc"``).

    ``functions`` reads dialplan functions called without ``${}`` (``$[ LEN(abc) + 1 ]``); without it
    only the built-in math functions (``SQRT``, ``FLOOR``, ``POW``, ...) are known and any other name
    evaluates to 0, as in Asterisk when the function does not exist. Nothing is raised.
    """
    end = text.find("\x00")
    if end >= 0:
        text = text[:end]  # ast_yy_scan_string() sees a C string
    try:
        value = _Evaluator(text, functions).run()
    except ExpressionError as exc:
        _log.warning("ast_yyerror(): syntax error: %s; Input:\n%s\n%s^", exc.message, text, " " * exc.position)
        return "0"
    except RecursionError:
        # bison gives up ("memory exhausted") past YYMAXDEPTH; we give up earlier, at Python's limit.
        _log.warning("ast_yyerror(): syntax error: memory exhausted; Input:\n%s", text)
        return "0"
    if isinstance(value, str):
        return str.__str__(value)
    return _format_number(value)
