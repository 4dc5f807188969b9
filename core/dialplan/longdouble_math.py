"""The math functions of ``$[...]`` (``op_func()`` in ``main/ast_expr2.y``) on 80-bit long doubles.

Asterisk calls glibc's long double functions (``sqrtl``, ``powl``, ``sinl``, ...; ``FUNC_SQRT`` and friends
in ``ast_expr2.y``). These give the correctly rounded long double, which is what glibc's ``sqrtl``,
``floorl``, ``remainderl``, ... return and what its ``expl``, ``logl``, ``atan2l``, ... return in all but a
few last-bit cases; glibc's ``sinl``/``cosl``/``tanl`` also agree up to |x| of about 1e10 and drift beyond,
where their argument reduction loses precision. Results are exact where the result is exact (``FLOOR``,
``SQRT``, ``REMAINDER``, integral powers, ...), otherwise computed in high-precision decimal arithmetic and
rounded once to the long double grid. Special values follow C99 Annex F; NaN signs follow glibc on x86-64
(``SQRT(-1)`` is ``-nan``, the x87 default NaN; ``LOG(-1)`` is ``nan``).
"""

from __future__ import annotations

import decimal
import math
import threading
from decimal import Decimal
from fractions import Fraction

from core.dialplan.longdouble import (
    INF,
    NAN,
    NEG_NAN,
    NEG_ZERO,
    Number,
    from_int,
    from_rational,
    isinf,
    isnan,
    negate,
    round_rational,
    signbit,
    signed_inf,
    signed_zero,
)

__all__ = [
    "absolute",
    "acosl",
    "asinl",
    "atan2l",
    "atanl",
    "ceill",
    "cosl",
    "exp10l",
    "exp2l",
    "expl",
    "floorl",
    "log10l",
    "log2l",
    "logl",
    "powl",
    "remainderl",
    "rintl",
    "roundl",
    "sinl",
    "sqrtl",
    "tanl",
    "truncl",
]

_LOG10_2 = 0.30102999566398120
_TWO64 = 1 << 64
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
    return round_rational(num, den)


def _finite(x: Number) -> int | Fraction:
    assert not isinstance(x, float)
    return x


def sqrtl(x: Number) -> Number:
    """``sqrtl``: the correctly rounded square root (``fsqrt``); a negative gives the default NaN."""
    if isnan(x) or x == 0 or x == INF:
        return x
    if x < 0:
        return NEG_NAN  # fsqrt's invalid-operation default NaN
    value = Fraction(_finite(x))
    # isqrt of value * 4**k with 66+ result bits; an inexact root sits strictly between r and r+1,
    # so (2r+1)/2 stands in for it without changing the rounding.
    k = max(0, (140 - value.numerator.bit_length() + value.denominator.bit_length()) // 2 + 1)
    scaled = (value.numerator << (2 * k)) // value.denominator
    root = math.isqrt(scaled)
    if root * root == scaled and (value.numerator << (2 * k)) % value.denominator == 0:
        return round_rational(root, 1 << k)
    return round_rational(2 * root + 1, 1 << (k + 1))


def _exponential(x: Number, base: int) -> Number:
    """``expl``, ``exp2l`` and ``exp10l`` (``base`` 0 stands for e)."""
    if isnan(x):
        return x
    if x == INF:
        return INF
    if x == -INF:
        return 0
    if x == 0:
        return 1
    value = _finite(x)
    scale = {0: 1.0, 2: math.log(2), 10: math.log(10)}[base]
    if value * Fraction(scale) > 11400:
        return INF
    if value * Fraction(scale) < -11500:
        return 0
    if base and type(value) is int:  # exact powers
        power = Fraction(base) ** value
        return round_rational(power.numerator, power.denominator)
    context = _CONTEXT
    exponent = _to_decimal(value, context)
    if base:
        exponent = context.multiply(exponent, context.ln(Decimal(base)))
    return _from_decimal(context.exp(exponent))


def _logarithm(x: Number, base: int) -> Number:
    """``logl``, ``log2l`` and ``log10l`` (``base`` 0 stands for e); glibc answers a negative with +nan."""
    if isnan(x):
        return x
    if x == 0:
        return -INF
    if x < 0:
        return NAN
    if x == INF:
        return INF
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


def powl(x: Number, y: Number) -> Number:
    """``powl`` including the special cases of C99 Annex F.9.4.4; exact powers are rounded once."""
    if y == 0 or x == 1:
        return 1
    if isnan(x):
        return x
    if isnan(y):
        return y
    if isinf(y):
        magnitude = absolute(x)
        if magnitude == 1:
            return 1
        return INF if (magnitude > 1) == (y > 0) else 0
    exponent = _finite(y)
    odd = _is_integer(exponent) and int(exponent) % 2 == 1
    if isinf(x):
        if x > 0:
            return INF if exponent > 0 else 0
        if exponent > 0:
            return -INF if odd else INF
        return NEG_ZERO if odd else 0
    if x == 0:
        negative = odd and signbit(x)
        return signed_zero(negative) if exponent > 0 else signed_inf(negative)
    base = _finite(x)
    negative = False
    if base < 0:
        if not _is_integer(exponent):
            return NEG_NAN
        base, negative = -base, odd
    fraction_base = Fraction(base)
    times = float(exponent) if -_TWO64 < exponent < _TWO64 else math.copysign(INF, exponent)
    base_log2 = math.log2(fraction_base.numerator) - math.log2(fraction_base.denominator)
    magnitude_log2 = times * base_log2 if base_log2 else 0.0
    if magnitude_log2 > 16400:
        return signed_inf(negative)
    if magnitude_log2 < -16500:
        return signed_zero(negative)
    size = abs(times) * (fraction_base.numerator.bit_length() + fraction_base.denominator.bit_length())
    if _is_integer(exponent) and size < 200_000:
        power = fraction_base ** int(exponent)
        result = round_rational(power.numerator, power.denominator)
    else:
        context = _decimal_context(_DECIMAL_PRECISION + 12)
        logarithm = context.multiply(context.ln(_to_decimal(fraction_base, context)), _to_decimal(exponent, context))
        result = _from_decimal(context.exp(logarithm))
    return negate(result) if negative else result


def _to_integral(x: Number, mode: str) -> Number:
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
        return signed_zero(x < 0)
    return from_int(result)


def remainderl(x: Number, y: Number) -> Number:
    """``remainderl``: ``x - n*y`` with ``n`` the nearest integer to ``x/y`` (halves to even)."""
    if isnan(x):
        return x
    if isnan(y):
        return y
    if isinf(x) or y == 0:
        return NEG_NAN
    if isinf(y) or x == 0:
        return x
    fx, fy = Fraction(_finite(x)), Fraction(_finite(y))
    result = fx - round(fx / fy) * fy
    if result == 0:
        return signed_zero(signbit(x))
    return from_rational(result)


def absolute(x: Number) -> Number:
    """``ABS`` of ``op_func()``: ``x < 0 ? x * -1 : x`` (not ``fabsl``), so -0 and -nan come back as they are."""
    return negate(x) if x < 0 else x


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


def sinl(x: Number) -> Number:
    """``sinl``, correctly rounded (argument reduced with as many digits of pi as cancel)."""
    if isinstance(x, float):
        return x if x != INF and x != -INF else NEG_NAN
    return _from_decimal(_decimal_sin_cos(x)[0]) if x else 0


def cosl(x: Number) -> Number:
    """``cosl``, correctly rounded."""
    if isinstance(x, float):
        return 1 if x == 0 else (x if x != x else NEG_NAN)
    return _from_decimal(_decimal_sin_cos(x)[1]) if x else 1


def tanl(x: Number) -> Number:
    """``tanl``: sine over cosine in high precision, rounded once."""
    if isinstance(x, float):
        return x if x == 0 or x != x else NEG_NAN
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


def atan2l(y: Number, x: Number) -> Number:
    """``atan2l(y, x)`` with the signed-zero and infinity cases of C99 Annex F.9.1.4."""
    if isnan(y):
        return y
    if isnan(x):
        return x
    context = _decimal_context(_DECIMAL_PRECISION + 5)
    pi = _decimal_pi(context.prec)
    negative = signbit(y)
    if isinf(y):
        if isinf(x):
            quarter = context.divide(pi, Decimal(4))
            angle = quarter if x > 0 else context.multiply(quarter, Decimal(3))
        else:
            angle = context.divide(pi, Decimal(2))
    elif isinf(x):
        if x > 0:
            return signed_zero(negative)
        angle = pi
    elif y == 0:
        if not signbit(x):
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
    return negate(result) if negative else result


def atanl(x: Number) -> Number:
    """``atanl`` (``atan2l(x, 1)``; keeps a signed zero)."""
    if isnan(x) or x == 0:
        return x
    return atan2l(x, 1)


def asinl(x: Number) -> Number:
    """``asinl``; outside [-1, 1] glibc answers +nan."""
    if isnan(x) or x == 0:
        return x
    if absolute(x) > 1:
        return NAN
    value = Fraction(_finite(x))
    context = _decimal_context(_DECIMAL_PRECISION + 5)
    cosine = context.sqrt(_to_decimal(1 - value * value, context))
    if not cosine:
        return atan2l(x, 0)
    angle = _decimal_atan(context.divide(_to_decimal(abs(value), context), cosine), context)
    result = _from_decimal(angle)
    return negate(result) if value < 0 else result


def acosl(x: Number) -> Number:
    """``acosl``; outside [-1, 1] glibc answers +nan."""
    if isnan(x):
        return x
    if absolute(x) > 1:
        return NAN
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


def expl(x: Number) -> Number:
    """``expl``: e**x."""
    return _exponential(x, 0)


def exp2l(x: Number) -> Number:
    """``exp2l``: 2**x (exact for integral x)."""
    return _exponential(x, 2)


def exp10l(x: Number) -> Number:
    """``exp10l``: 10**x (exact powers rounded once)."""
    return _exponential(x, 10)


def logl(x: Number) -> Number:
    """``logl``: the natural logarithm; ``-inf`` at zero, ``nan`` for a negative."""
    return _logarithm(x, 0)


def log2l(x: Number) -> Number:
    """``log2l`` (exact for powers of two)."""
    return _logarithm(x, 2)


def log10l(x: Number) -> Number:
    """``log10l``."""
    return _logarithm(x, 10)


def floorl(x: Number) -> Number:
    """``floorl``."""
    return _to_integral(x, "floor")


def ceill(x: Number) -> Number:
    """``ceill``."""
    return _to_integral(x, "ceil")


def truncl(x: Number) -> Number:
    """``truncl``."""
    return _to_integral(x, "trunc")


def roundl(x: Number) -> Number:
    """``roundl``: halves away from zero."""
    return _to_integral(x, "round")


def rintl(x: Number) -> Number:
    """``rintl`` in the default rounding mode: halves to even."""
    return _to_integral(x, "rint")
