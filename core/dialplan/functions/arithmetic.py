"""Numbers: MATH, INC, DEC, MIN, MAX, ABS (``funcs/func_math.c``) and RAND (``funcs/func_rand.c``).

``MATH`` computes in C ``double`` and converts to ``int``/``unsigned``/``char`` the way gcc on x86-64
does (out-of-range values become ``INT_MIN``, resp. 0), because dialplans print those results.
"""

from __future__ import annotations

import logging
import math
import random
from typing import TYPE_CHECKING

from core.dialplan import substitute as _sub
from core.dialplan.args import INT_MAX, INT_MIN, scan_float, scan_int, split_args
from core.dialplan.functions import reader

if TYPE_CHECKING:
    from core.dialplan.runtime import EvalContext

log = logging.getLogger("centralita.dialplan")

RAND_MAX = INT_MAX


def c_int(value: float) -> int:
    """``(int) value`` for a double, as x86-64 ``cvttsd2si`` does: truncation, ``INT_MIN`` if out of range."""
    if math.isnan(value) or math.isinf(value):
        return INT_MIN
    truncated = math.trunc(value)
    return truncated if INT_MIN <= truncated <= INT_MAX else INT_MIN


def _c_int64(value: float) -> int:
    if math.isnan(value) or math.isinf(value):
        return -(2**63)
    truncated = math.trunc(value)
    return truncated if -(2**63) <= truncated < 2**63 else -(2**63)


def _wrap32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - 2**32 if value > INT_MAX else value


def _format_result(value: float, kind: str) -> str:
    if kind == "f":
        return f"{value:f}"
    if kind == "i":
        return str(c_int(value))
    if kind == "h":
        return f"{_c_int64(value) & 0xFFFFFFFF:x}"
    code = c_int(value) & 0xFF
    return chr(code) if code else ""


_RESULT_TYPES = {"float": "f", "f": "f", "int": "i", "i": "i", "hex": "h", "h": "h", "char": "c", "c": "c"}


@reader("MATH", "Performs Mathematical Functions.")
def math_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``MATH(number1 op number2[,type])`` with ``+ - * / % ^ << >> AND OR XOR < > <= >= ==``.

    The operator is found by searching the text for ``*``, ``/``, ``%``, ``^``, ``AND``, ``XOR``,
    ``OR``, ``>``, ``<``, ``==``, ``+``, ``-`` in that order (after a leading minus of the first number);
    division by a value <= 0 gives 0, ``%`` by 0 gives 0.  ``type`` is ``f``/``float`` (default,
    ``%f``), ``i``/``int``, ``h``/``hex`` or ``c``/``char``; comparisons give ``TRUE``/``FALSE``.
    """
    if not data:
        log.warning("Syntax: MATH(<number1><op><number 2>[,<type_of_result>]) - missing argument!")
        return None
    argc, (expression, result_type) = split_args(data, 2)
    if argc < 1 or expression is None:
        log.warning("Syntax: MATH(<number1><op><number 2>[,<type_of_result>]) - missing argument!")
        return None
    negative = expression.startswith("-")
    text = expression[1:] if negative else expression
    action, left, right = _find_operator(text)
    kind = "f"
    if result_type is not None:
        found = _RESULT_TYPES.get(result_type.lower())
        if found is None:
            log.warning("Unknown type of result requested '%s'.", result_type)
            return None
        kind = found
    if right is None:
        log.warning("Supply all the parameters - just this once, please")
        return None
    number1 = scan_float(left)
    if number1 is None:
        log.warning("'%s' is not a valid number", left)
        return None
    number2 = scan_float(right)
    if number2 is None:
        log.warning("'%s' is not a valid number", right)
        return None
    if negative:
        number1 = 0 - number1
    if action in _COMPARISONS:
        return "TRUE" if _COMPARISONS[action](number1, number2) else "FALSE"
    return _format_result(_calculate(action, number1, number2), kind)


_COMPARISONS = {
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
}


def _find_operator(text: str) -> tuple[str, str, str | None]:
    for symbol in ("*", "/", "%", "^"):
        position = text.find(symbol)
        if position >= 0:
            return symbol, text[:position], text[position + 1:]
    for word in ("AND", "XOR", "OR"):
        position = text.find(word)
        if position >= 0:
            return word, text[:position], text[position + len(word):]
    for symbol in (">", "<"):
        position = text.find(symbol)
        if position >= 0:
            following = text[position + 1:position + 2]
            if following == "=":
                return symbol + "=", text[:position], text[position + 2:]
            if following == symbol:
                return symbol * 2, text[:position], text[position + 2:]
            return symbol, text[:position], text[position + 1:]
    position = text.find("=")
    if position >= 0:
        if text[position + 1:position + 2] == "=":
            return "==", text[:position], text[position + 2:]
        return "", text[:position], None
    for symbol in ("+", "-"):
        position = text.find(symbol)
        if position >= 0:
            return symbol, text[:position], text[position + 1:]
    return "", text, None


def _calculate(action: str, a: float, b: float) -> float:
    if action == "+":
        return a + b
    if action == "-":
        return a - b
    if action == "*":
        return a * b
    if action == "/":
        return 0.0 if b <= 0 else a / b
    if action == "^":
        if a == 0 and b < 0:
            return math.inf
        try:
            return math.pow(a, b)
        except ValueError:
            return math.nan
        except OverflowError:
            return math.inf if a > 0 or b == math.floor(b) and int(b) % 2 == 0 else -math.inf
    x, y = c_int(a), c_int(b)
    if action == "%":
        if y == 0:
            return 0.0
        remainder = abs(x) % abs(y)
        return float(-remainder if x < 0 else remainder)
    if action == "<<":
        return float(_wrap32(x << (y & 31)))
    if action == ">>":
        return float(x >> (y & 31))
    if action == "AND":
        return float(x & y)
    if action == "XOR":
        return float(x ^ y)
    return float(x | y)


def _crement(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    if not data:
        log.warning("Syntax: %s(<data>) - missing argument!", cmd)
        return None
    value = _sub.getvar(ctx, data)
    if value is None:
        log.info("Failed to obtain variable %s, bailing out", data)
        return None
    if not value:
        log.info("Variable %s doesn't exist - are you sure you wrote it correctly?", data)
        return None
    found = scan_int(value)
    if found is None:
        if value.strip(" \t\n\r\f\v"):
            log.info("The content of ${%s} is not a numeric value - bailing out!", data)
            return None
        number = 0  # sscanf() returned EOF, which the check lets through
    else:
        number, end = found
        if end < len(value):
            log.info("The content of ${%s} is not a numeric value - bailing out!", data)
            return None
    number = _wrap32(number + 1 if cmd == "INC" else number - 1)
    _sub.assign(ctx, data, str(number))
    return str(number)


@reader("INC", "Increments the value of a variable, while returning the updated value to the dialplan")
def inc_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``INC(varname)``: add one to an integer variable and return it (fails on non-numbers)."""
    return _crement(ctx, cmd, data)


@reader("DEC", "Decrements the value of a variable, while returning the updated value to the dialplan")
def dec_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``DEC(varname)``: subtract one from an integer variable and return it."""
    return _crement(ctx, cmd, data)


def _number_text(value: float) -> str:
    # "%d" when the double is integral (as (int) value == value), else "%f".
    return str(c_int(value)) if c_int(value) == value else f"{value:f}"


def _min_max(cmd: str, data: str | None) -> str | None:
    _argc, (first, second) = split_args(data, 2)
    if not first and not second:
        log.error("Missing argument for number(s).")
        return None
    number1: float | None = None
    if first:
        number1 = scan_float(first)
        if number1 is None:
            log.warning("'%s' is not a valid number", first)
            return None
    if second:
        number2 = scan_float(second)
        if number2 is None:
            log.warning("'%s' is not a valid number", second)
            return None
    else:
        assert number1 is not None
        number2 = number1
    if number1 is None:
        return _number_text(number2)
    if cmd == "MIN":
        return _number_text(number2 if number1 > number2 else number1)
    return _number_text(number2 if number1 < number2 else number1)


@reader("MIN", "Returns the minimum of two numbers.")
def min_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``MIN(num1,num2)``: the smaller (either may be omitted)."""
    return _min_max("MIN", data)


@reader("MAX", "Returns the maximum of two numbers.")
def max_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``MAX(num1,num2)``: the larger (either may be omitted)."""
    return _min_max("MAX", data)


@reader("ABS", "Returns absolute value of a number.")
def abs_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``ABS(num)``: the absolute value (``%d`` when integral)."""
    _argc, (text,) = split_args(data, 1)
    number = scan_float(text) if text else None
    if number is None:
        log.warning("Bad or missing argument for number: %s", text)
        return None
    return _number_text(abs(number))


_random = random.SystemRandom()


@reader("RAND", "Choose a random number in a range.")
def rand_read(ctx: EvalContext, cmd: str, data: str | None) -> str:
    """``RAND([min][,max])``: a random integer in ``[min, max]`` (defaults 0 and 2147483647)."""
    _argc, (low_text, high_text) = split_args(data, 2)
    low = scan_int(low_text) if low_text else None
    high = scan_int(high_text) if high_text else None
    minimum = low[0] if low is not None else 0
    maximum = high[0] if high is not None else RAND_MAX
    if maximum < minimum:
        minimum, maximum = maximum, minimum
    return str(_random.randint(minimum, maximum))
