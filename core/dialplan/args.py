"""Application and function argument parsing, exactly as Asterisk's ``main/app.c`` does it.

Every application and dialplan function splits its (already substituted) data with the same routine,
``__ast_app_separate_args``: parentheses, square brackets and double quotes protect the delimiter, a
backslash makes the next character literal, and in the "standard" mode the quotes and backslashes are
removed from the result.  The option strings of applications (``Dial(...,tTr(ring))``) go through
``ast_app_parse_options``.  A few scanning helpers that Asterisk gets from ``sscanf`` and
``ast_get_encoded_char`` live here too, because every function needs them with C's exact semantics.

Differences from C that cannot be observed are deliberate: Python strings are not modified in place and
a trailing lone backslash simply ends the text (C reads past the terminator there).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

log = logging.getLogger("centralita.dialplan")

INT_MAX = 2**31 - 1
INT_MIN = -(2**31)
_LONG_MAX = 2**63 - 1
_LONG_MIN = -(2**63)


class OptionError(ValueError):
    """An option string Asterisk refuses: an option argument without its closing parenthesis.

    ``position`` is the offset in the option string where the unterminated argument starts;
    ``flags``/``arguments`` hold what was parsed before it (Asterisk keeps those flags set).
    """

    def __init__(self, message: str, position: int, flags: set[str], arguments: dict[str, str]) -> None:
        super().__init__(f"{message} (at offset {position})")
        self.position = position
        self.flags = flags
        self.arguments = arguments


def separate_args(text: str | None, delimiter: str = ",", remove_chars: bool = True,
                  limit: int | None = None) -> list[str]:
    """Split application/function data into arguments like ``__ast_app_separate_args`` (main/app.c).

    - ``(``/``)`` and ``[``/``]`` nest; a delimiter inside them does not split.  Unbalanced closers are
      ignored (the depth never goes below zero).
    - ``"`` toggles quoting (unless the delimiter itself is ``"``); quoted delimiters do not split.
    - ``\\`` makes the next character literal (it neither splits nor nests nor quotes).
    - With ``remove_chars`` (``AST_STANDARD_APP_ARGS``) the quotes and the escaping backslashes are
      removed; without it (``AST_STANDARD_RAW_ARGS``) the text is kept verbatim.
    - ``limit`` is the number of argument slots (``AST_DECLARE_APP_ARGS``' field count): the last slot
      receives the rest of the text *unprocessed* (quotes and backslashes kept).
    - An empty text gives no arguments at all; a delimiter as the last character gives a trailing
      empty argument (``"a,"`` is ``["a", ""]``).
    """
    if not text:
        return []
    args: list[str] = []
    n = len(text)
    i = 0
    paren = bracket = 0
    quote = False
    ended_by_delimiter = False
    quote_active = delimiter != '"'
    while i < n and (limit is None or len(args) < limit - 1):
        current: list[str] = []
        ended_by_delimiter = False
        while i < n:
            c = text[i]
            if c == "(":
                paren += 1
            elif c == ")":
                if paren:
                    paren -= 1
            elif c == "[":
                bracket += 1
            elif c == "]":
                if bracket:
                    bracket -= 1
            elif c == '"' and quote_active:
                quote = not quote
                if remove_chars:
                    i += 1
                    continue
            elif c == "\\":
                if not remove_chars:
                    current.append(c)
                if i + 1 < n:
                    current.append(text[i + 1])
                i += 2
                continue
            elif c == delimiter and not paren and not quote and not bracket:
                ended_by_delimiter = True
                i += 1
                break
            current.append(c)
            i += 1
        args.append("".join(current))
    if i < n:
        args.append(text[i:])
    elif ended_by_delimiter:
        args.append("")
    return args


def split_args(text: str | None, count: int, delimiter: str = ",",
               remove_chars: bool = True) -> tuple[int, list[str | None]]:
    """``AST_DECLARE_APP_ARGS`` + ``AST_STANDARD_APP_ARGS``: ``(argc, fields)`` with ``count`` fields.

    Missing fields are None (C's NULL pointers), so callers can tell "absent" from "empty".
    """
    args = separate_args(text, delimiter, remove_chars, limit=count)
    fields: list[str | None] = list(args)
    fields.extend([None] * (count - len(args)))
    return len(args), fields


def parse_options(spec: Mapping[str, bool], text: str | None) -> tuple[set[str], dict[str, str]]:
    """Parse an application option string like ``ast_app_parse_options`` (main/app.c).

    ``spec`` maps each known option letter to whether it takes an argument.  Returns the set of
    letters given and, for letters that take an argument, the argument (``""`` when the letter was
    given without ``(...)``).  As in Asterisk:

    - unknown letters are ignored silently (their ``(...)`` argument, if any, is skipped);
    - a known letter that takes no argument may still be followed by ``(...)``, which is skipped;
    - arguments nest parentheses; a backslash outside quotes makes the next character literal and is
      removed; if the argument starts with ``"``, double quotes group (and are removed) and ``\\"``
      inside them is a literal quote.

    Raises :class:`OptionError` when an argument lacks its closing parenthesis (Asterisk logs
    "Missing closing parenthesis" and the application treats the options as invalid).
    """
    flags: set[str] = set()
    arguments: dict[str, str] = {}
    if not text:
        return flags, arguments
    n = len(text)
    i = 0
    while i < n:
        letter = text[i]
        i += 1
        known = letter in spec
        takes_arg = spec.get(letter, False)
        if i < n and text[i] == "(":
            start = i
            i += 1
            parse_quotes = i < n and text[i] == '"'
            paren = 1
            quote = False
            value: list[str] = []
            closed = False
            while i < n:
                c = text[i]
                if c == "(" and not quote:
                    paren += 1
                elif c == ")" and not quote:
                    paren -= 1
                    if paren == 0:
                        closed = True
                        i += 1
                        break
                elif c == '"' and parse_quotes:
                    quote = not quote
                    i += 1
                    continue
                elif c == "\\":
                    nxt = text[i + 1] if i + 1 < n else ""
                    if not quote or nxt == '"':
                        value.append(nxt)
                    else:
                        value.append(c + nxt)
                    i += 2
                    continue
                value.append(c)
                i += 1
            if not closed:
                log.warning("Missing closing parenthesis for argument '%s' in string '%s'", letter, text[start + 1:])
                raise OptionError(f"missing closing parenthesis for option '{letter}'", start, flags, arguments)
            if known and takes_arg:
                arguments[letter] = "".join(value)
        elif known and takes_arg:
            arguments[letter] = ""
        if known:
            flags.add(letter)
    return flags, arguments


# -- C scanning helpers -----------------------------------------------------------------------------------

_WHITESPACE = " \t\n\r\f\v"


def _to_int32(value: int) -> int:
    """C's conversion of a ``long`` to ``int`` on the platforms Asterisk runs on (two's complement wrap)."""
    value &= 0xFFFFFFFF
    return value - 2**32 if value > INT_MAX else value


def scan_int(text: str, pos: int = 0, width: int = 30) -> tuple[int, int] | None:
    """glibc ``sscanf("%<width>d")`` at ``pos``: ``(value, end)`` or None when no digits follow.

    Leading whitespace is skipped; at most ``width`` characters (sign included) are read; the digits
    are converted as ``strtol`` does (saturating at the ``long`` range) and then stored into an ``int``
    (wrapping), as glibc does for ``%d``.
    """
    n = len(text)
    while pos < n and text[pos] in _WHITESPACE:
        pos += 1
    start = pos
    limit = min(n, pos + width)
    if pos < limit and text[pos] in "+-":
        pos += 1
    digits_start = pos
    while pos < limit and "0" <= text[pos] <= "9":
        pos += 1
    if pos == digits_start:
        return None
    value = int(text[start:pos])
    value = max(_LONG_MIN, min(_LONG_MAX, value))
    return _to_int32(value), pos


def scan_int_value(text: str | None, width: int = 30) -> int | None:
    """``sscanf(text, "%d", &v) == 1 ? v : None``."""
    if text is None:
        return None
    found = scan_int(text, 0, width)
    return None if found is None else found[0]


def atoi(text: str | None) -> int:
    """C's ``atoi``: the leading integer, 0 when there is none."""
    if not text:
        return 0
    found = scan_int(text, 0, 10**6)
    return 0 if found is None else found[0]


_FLOAT_RE = re.compile(
    r"[+-]?(?:"
    r"0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?"
    r"|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
    r"|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?"
    r"|[nN][aA][nN]"
    r")"
)


def scan_float(text: str | None, width: int = 30) -> float | None:
    """glibc ``sscanf("%<width>lf")``: the leading floating-point number, or None.

    Accepts what ``strtod`` accepts (decimal with exponent, hexadecimal, ``inf``, ``nan``) within
    ``width`` characters after the leading whitespace; a dangling exponent (``1e``) is not consumed.
    """
    if text is None:
        return None
    stripped = text.lstrip(_WHITESPACE)[:width]
    match = _FLOAT_RE.match(stripped)
    if match is None:
        return None
    token = match.group(0)
    try:
        if "x" in token or "X" in token:
            body = token.lstrip("+-")
            sign = -1.0 if token.startswith("-") else 1.0
            if "p" not in body and "P" not in body:
                body += "p0"
            return sign * float.fromhex(body)
        return float(token)
    except ValueError:
        return None


def check_condition(condition: str | None) -> bool:
    """``pbx_checkcondition`` (main/pbx.c): empty is false, a leading integer is its truth, text is true.

    The integer is read with ``sscanf("%30d")``, so ``"0abc"`` and ``" 0"`` are false while ``"0.5"``
    is false too (it reads 0) and ``"abc"`` is true.
    """
    if not condition:
        return False
    found = scan_int(condition)
    if found is None:
        return True
    return found[0] != 0


def get_encoded_char(stream: str) -> tuple[str, int, bool]:
    """``ast_get_encoded_char`` (main/app.c): decode one possibly escaped character.

    Returns ``(char, consumed, ok)``.  Escapes: ``\\n``, ``\\r``, ``\\t``, ``\\xH``/``\\xHH`` (hex),
    ``\\0ooo`` (octal, any number of digits, modulo 256) and ``\\c`` for any other ``c``.  An empty
    stream or ``\\x`` without a hex digit fails with ``char == "\\0"``.
    """
    if not stream:
        return "\0", 0, False
    if stream[0] != "\\":
        return stream[0], 1, True
    nxt = stream[1] if len(stream) > 1 else "\0"
    if nxt == "n":
        return "\n", 2, True
    if nxt == "r":
        return "\r", 2, True
    if nxt == "t":
        return "\t", 2, True
    if nxt == "x":
        hexdigits = "0123456789ABCDEFabcdef"
        if len(stream) < 3 or stream[2] not in hexdigits:
            log.error("Illegal character '%s' in hexadecimal string", stream[2:3])
            return "\0", 2, False
        value = int(stream[2], 16)
        consumed = 3
        if len(stream) > 3 and stream[3] in hexdigits:
            value = (value << 4) + int(stream[3], 16)
            consumed = 4
        return chr(value & 0xFF), consumed, True
    if nxt == "0":
        value = 0
        consumed = 2
        while consumed < len(stream) and stream[consumed] in "01234567":
            value = ((value << 3) + int(stream[consumed])) & 0xFF
            consumed += 1
        return chr(value), consumed, True
    return nxt, 2, True


def get_encoded_str(stream: str | None) -> str:
    """``ast_get_encoded_str``: decode escapes until the end (or the first undecodable sequence)."""
    if not stream:
        return ""
    out: list[str] = []
    pos = 0
    while True:
        char, consumed, ok = get_encoded_char(stream[pos:])
        if not ok:
            break
        out.append(char)
        pos += consumed
    return "".join(out).split("\0", 1)[0]


def strip(text: str) -> str:
    """``ast_strip``: remove leading and trailing whitespace (C ``isspace``)."""
    return text.strip(_WHITESPACE)


def strip_quoted(text: str, begin: str = '"', end: str = '"') -> str:
    """``ast_strip_quoted`` (main/utils.c): strip blanks, then one pair of matching surrounding quotes."""
    text = strip(text)
    if text and text[0] in begin:
        closer = end[begin.index(text[0])]
        if text[-1] == closer:
            return text[1:-1] if len(text) > 1 else ""
    return text
