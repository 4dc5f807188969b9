"""``SPRINTF(format,arg1[,arg2...])`` of ``funcs/func_sprintf.c``, with C ``printf`` formatting.

The format is scanned with func_sprintf.c's state machine (flags ``#0- +'I``, width, ``.precision``,
length ``hh h ll l L q j z t``); integer conversions (``diouxXc``) read their argument with
``sscanf("%d")``, floating ones (``eEfFgGaA``) with ``sscanf("%lf")``, ``s`` takes it as is.  An argument
that is not a number, a missing numeric argument or an unsupported conversion fails the whole call.
Integers are C ``int`` (the ``h``/``hh`` modifiers narrow them; ``l`` and friends are treated as
``int`` too).  Formatting follows glibc in the C locale (``'`` and ``I`` change nothing).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from core.dialplan.args import scan_float, scan_int, split_args
from core.dialplan.functions import reader

if TYPE_CHECKING:
    from core.dialplan.runtime import EvalContext

log = logging.getLogger("centralita.dialplan")

_FLAG, _WIDTH, _PRECISION, _LENGTH, _CONVERSION = range(5)


def _parse_spec(spec: str) -> tuple[str, int, int | None, str, str]:
    # "%-08.3hhd" -> flags, width, precision, length, conversion
    i = 1
    n = len(spec)
    flags = ""
    while i < n and spec[i] in "#0- +'I":
        flags += spec[i]
        i += 1
    start = i
    while i < n and spec[i].isdigit():
        i += 1
    width = int(spec[start:i]) if i > start else 0
    precision: int | None = None
    if i < n and spec[i] == ".":
        i += 1
        start = i
        while i < n and spec[i].isdigit():
            i += 1
        precision = int(spec[start:i]) if i > start else 0
    length = spec[i:n - 1]
    return flags, width, precision, length, spec[-1]


def _pad(body: str, sign: str, flags: str, width: int, zero_ok: bool) -> str:
    if "-" in flags:
        return (sign + body).ljust(width)
    if "0" in flags and zero_ok:
        return sign + body.rjust(width - len(sign), "0")
    return (sign + body).rjust(width)


def format_int(spec: str, value: int) -> str:
    """C ``printf`` of one integer conversion (``d i o u x X c``) with flags, width, precision, length."""
    flags, width, precision, length, conversion = _parse_spec(spec)
    if conversion == "c":
        char = chr(value & 0xFF)
        text = char.ljust(width) if "-" in flags else char.rjust(width)
        return text.split("\0", 1)[0]
    bits = 8 if length == "hh" else 16 if length == "h" else 32
    mask = (1 << bits) - 1
    if conversion in "di":
        value &= mask
        if value >= 1 << (bits - 1):
            value -= 1 << bits
        negative = value < 0
        digits = str(abs(value))
        sign = "-" if negative else "+" if "+" in flags else " " if " " in flags else ""
    else:
        value &= mask
        base = {"o": "o", "u": "d", "x": "x", "X": "X"}[conversion]
        digits = format(value, base)
        sign = ""
    if precision is not None:
        digits = "" if precision == 0 and value == 0 else digits.rjust(precision, "0")
    if "#" in flags:
        if conversion == "o" and not digits.startswith("0"):
            digits = "0" + digits
        elif conversion in "xX" and value != 0:
            sign = "0x" if conversion == "x" else "0X"
    return _pad(digits, sign, flags, width, precision is None)


def _hex_float(value: float, flags: str, width: int, precision: int | None, upper: bool) -> str:
    text = value.hex()
    if "p" in text:
        negative = text.startswith("-")
        mantissa, exponent = text.lstrip("-").split("p")
        whole, _dot, fraction = mantissa[2:].partition(".")
        fraction = fraction.rstrip("0") if precision is None else fraction[:precision].ljust(precision, "0")
        body = whole + ("." + fraction if fraction or "#" in flags else "")
        exponent = ("+" + exponent) if not exponent.startswith("-") else exponent
        exponent = exponent.replace("+-", "-").replace("++", "+")
        sign = "-" if negative else "+" if "+" in flags else " " if " " in flags else ""
        text = _pad(body + "p" + exponent, sign + "0x", flags, width, True)
    else:
        text = _pad(text, "", flags, width, False)
    return text.upper() if upper else text


def format_float(spec: str, value: float) -> str:
    """C ``printf`` of one floating conversion (``e E f F g G a A``)."""
    flags, width, precision, _length, conversion = _parse_spec(spec)
    if conversion in "aA":
        return _hex_float(value, flags, width, precision, conversion == "A")
    python_flags = "".join(c for c in flags if c in "#0- +")
    python_spec = "%" + python_flags + (str(width) if width else "")
    if precision is not None:
        python_spec += "." + str(precision)
    return (python_spec + conversion) % value


def format_string(spec: str, value: str | None) -> str:
    """C ``printf`` of ``%s`` (a missing argument prints ``(null)`` as glibc does)."""
    flags, width, precision, _length, _conversion = _parse_spec(spec)
    if value is None:
        value = "(null)" if precision is None or precision >= 6 else ""
    elif precision is not None:
        value = value[:precision]
    return value.ljust(width) if "-" in flags else value.rjust(width)


@reader("SPRINTF", "Format a variable according to a format string.")
def sprintf_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``SPRINTF(format,arg1[,...])``: ``SPRINTF(%05d,42)`` is ``00042``."""
    _argc, fields = split_args(data, 101)
    fmt = fields[0] or ""
    args = fields[1:]
    out: list[str] = []
    argcount = 0
    state: int | None = None
    start = 0
    i = 0
    n = len(fmt)
    while i < n:
        c = fmt[i]
        if state is None:
            if c == "%":
                state = _FLAG
                start = i
            else:
                out.append(c)
            i += 1
            continue
        if state == _FLAG:
            if c in "#0- +'I":
                i += 1
                continue
            state = _WIDTH
        if state == _WIDTH:
            if "0" <= c <= "9":
                i += 1
                continue
            if c == ".":
                state = _PRECISION
                i += 1
            else:
                state = _LENGTH
            continue
        if state == _PRECISION:
            if "0" <= c <= "9":
                i += 1
                continue
            state = _LENGTH
        if state == _LENGTH:
            if c in "hl":
                if fmt[i + 1:i + 2] == c:
                    i += 1
                state = _CONVERSION
                i += 1
                continue
            if c in "Lqjzt":
                state = _CONVERSION
                i += 1
                continue
            state = _CONVERSION
        spec = fmt[start:i + 1]
        if c in "diouxXc":
            argument = args[argcount] if argcount < len(args) else None
            if argument is None:
                log.error("SPRINTF() has more format specifiers than arguments!")
                return None
            argcount += 1
            number = scan_int(argument)
            if number is None:
                log.error("Argument '%s' is not an integer number for format '%s'", argument, spec)
                return None
            out.append(format_int(spec, number[0]))
        elif c in "eEfFgGaA":
            argument = args[argcount] if argcount < len(args) else None
            if argument is None:
                log.error("SPRINTF() has more format specifiers than arguments!")
                return None
            argcount += 1
            real = scan_float(argument)
            if real is None:
                log.error("Argument '%s' is not a floating point number for format '%s'", argument, spec)
                return None
            out.append(format_float(spec, real))
        elif c == "s":
            out.append(format_string(spec, args[argcount] if argcount < len(args) else None))
            argcount += 1
        elif c == "%":
            out.append("%")
        else:
            log.error("Format type not supported: '%s' with argument '%s'", spec,
                      args[argcount] if argcount < len(args) else None)
            return None
        state = None
        i += 1
    return "".join(out)
