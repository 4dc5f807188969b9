"""String functions of ``funcs/func_strings.c``: LEN, TOUPPER, TOLOWER, QUOTE, CSV_QUOTE, KEYPADHASH,
FILTER, REPLACE, STRREPLACE, STRBETWEEN, PASSTHRU, EVAL and REGEX.

Asterisk works on bytes in the C locale: ``LEN`` counts UTF-8 bytes, ``TOUPPER``/``TOLOWER`` change only
ASCII letters, and ``FILTER``/``REPLACE`` compare bytes (here: on the UTF-8 encoding, re-decoded
afterwards).  ``REGEX`` uses POSIX extended regular expressions (glibc ``regcomp`` with
``REG_EXTENDED | REG_NOSUB``), translated to Python's engine by :func:`posix_ere_to_python`.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from core.dialplan import substitute as _sub
from core.dialplan.args import atoi, get_encoded_char, get_encoded_str, split_args
from core.dialplan.functions import reader

if TYPE_CHECKING:
    from core.dialplan.runtime import EvalContext

log = logging.getLogger("centralita.dialplan")

_UPPER = {c: c - 32 for c in range(ord("a"), ord("z") + 1)}
_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def to_bytes_text(text: str) -> str:
    """The UTF-8 bytes of ``text`` as a Latin-1 string (one character per byte), for byte-wise work."""
    if text.isascii():
        return text
    return text.encode("utf-8", "surrogateescape").decode("latin-1")


def from_bytes_text(text: str) -> str:
    """Inverse of :func:`to_bytes_text` (bytes that are not valid UTF-8 become U+FFFD)."""
    if text.isascii():
        return text
    return text.encode("latin-1").decode("utf-8", "replace")


def variable_value(ctx: EvalContext, name: str) -> str:
    """``ast_str_substitute_variables("${name}")``: how list functions read the variable they are named."""
    return _sub.substitute("${" + name + "}", ctx)


@reader("LEN", "Return the length of the string given.")
def len_read(ctx: EvalContext, cmd: str, data: str | None) -> str:
    """``LEN(string)``: length in bytes (UTF-8), ``0`` without an argument."""
    if not data:
        return "0"
    if data.isascii():
        return str(len(data))
    return str(len(data.encode("utf-8", "surrogateescape")))


@reader("TOUPPER", "Convert string to all uppercase letters.")
def toupper_read(ctx: EvalContext, cmd: str, data: str | None) -> str:
    """``TOUPPER(string)``: C-locale ``toupper`` (only ASCII letters change)."""
    return (data or "").translate(_UPPER)


@reader("TOLOWER", "Convert string to all lowercase letters.")
def tolower_read(ctx: EvalContext, cmd: str, data: str | None) -> str:
    """``TOLOWER(string)``: C-locale ``tolower`` (only ASCII letters change)."""
    return (data or "").translate(_LOWER)


@reader("QUOTE", "Quotes a given string, escaping embedded quotes as necessary")
def quote_read(ctx: EvalContext, cmd: str, data: str | None) -> str:
    """``QUOTE(string)``: ``"..."`` with ``\\`` and ``"`` backslash-escaped; ``""`` for no argument."""
    if not data:
        log.warning("No argument specified!")
        return '""'
    return '"' + data.replace("\\", "\\\\").replace('"', '\\"') + '"'


@reader("CSV_QUOTE", "Quotes a given string for use in a CSV file, escaping embedded quotes as necessary")
def csv_quote_read(ctx: EvalContext, cmd: str, data: str | None) -> str:
    """``CSV_QUOTE(string)``: ``"..."`` with embedded quotes doubled."""
    if not data:
        return '""'
    return '"' + data.replace('"', '""') + '"'


_KEYPAD = {}
for _digit, _letters in (("2", "AaBbCc2"), ("3", "DdEeFf3"), ("4", "GgHhIi4"), ("5", "JjKkLl5"), ("6", "MmNnOo6"),
                         ("7", "PpQqRrSs7"), ("8", "TtUuVv8"), ("9", "WwXxYyZz9")):
    for _letter in _letters:
        _KEYPAD[_letter] = _digit
_KEYPAD["1"] = "1"
_KEYPAD["0"] = "0"


@reader("KEYPADHASH", "Hash the letters in string into equivalent keypad numbers.")
def keypadhash_read(ctx: EvalContext, cmd: str, data: str | None) -> str:
    """``KEYPADHASH(string)``: letters to phone keypad digits; other characters are dropped."""
    keypad = _KEYPAD
    return "".join(keypad[c] for c in (data or "") if c in keypad)


@reader("FILTER", "Filter the string to include only the allowed characters")
def filter_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``FILTER(allowed-chars,string)``: keep only allowed bytes.

    Arguments are split raw (backslashes kept) and ``allowed-chars`` is decoded with
    ``ast_get_encoded_char``: ``A-Z`` ranges (wrapping around 255 when reversed), ``\\xHH``, ``\\0ooo``,
    ``\\n``/``\\r``/``\\t``, and ``\\-`` for a literal dash.
    """
    _argc, (allowed_text, string) = split_args(data, 2, remove_chars=False)
    if string is None:
        log.error("Usage: FILTER(<allowed-chars>,<string>)")
        return None
    allowed_text = to_bytes_text(allowed_text or "")
    if allowed_text.startswith('"'):
        log.warning("FILTER allowed characters includes the quote (\") character.  This may not be what you want.")
    allowed: set[str] = set()
    pos = 0
    while pos < len(allowed_text):
        c1, consumed, ok = get_encoded_char(allowed_text[pos:])
        if not ok:
            return None
        pos += consumed
        if allowed_text[pos:pos + 1] == "-":
            c2, consumed, ok = get_encoded_char(allowed_text[pos + 1:])
            if not ok:
                c2 = c1
            pos += consumed + 1
            first, last = ord(c1) & 0xFF, ord(c2) & 0xFF
            if last < first:
                log.warning("Range wrapping in FILTER(%s,%s).  This may not be what you want.", data, string)
            code = first
            while code != last:
                allowed.add(chr(code))
                code = (code + 1) & 0xFF
            allowed.add(chr(last))
        else:
            allowed.add(chr(ord(c1) & 0xFF))
    allowed.discard("\0")
    subject = to_bytes_text(string)
    return from_bytes_text("".join(c for c in subject if c in allowed))


@reader("REPLACE", "Replace a set of characters in a given string with another character.")
def replace_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``REPLACE(varname,find-chars[,replace-char])``: replace (or, without a replacement, delete) bytes.

    Fails (nothing substituted) when the variable is empty or unset, or the find set or name is empty.
    """
    argc, (varname, find_text, replace_text) = split_args(data, 3)
    if argc < 2:
        log.error("Usage: %s(<varname>,<search-chars>[,<replace-char>])", cmd)
        return None
    find = to_bytes_text(get_encoded_str(find_text))[:255]
    replacement, _consumed, _ok = get_encoded_char(to_bytes_text(replace_text or ""))
    if replacement == "\0":
        replacement = ""
    if not find or not varname:
        log.error("The characters to search for and the variable name must not be empty.")
        return None
    value = variable_value(ctx, varname)
    if not value:
        return None
    table = {ord(c): replacement for c in find}
    return from_bytes_text(to_bytes_text(value).translate(table))


@reader("STRREPLACE", "Replace instances of a substring within a string with another string.")
def strreplace_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``STRREPLACE(varname,find-string[,replace-string[,max-replacements]])``.

    A missing replacement deletes; ``max-replacements`` <= 0 or absent means unlimited.
    """
    argc, (varname, find, replacement, max_text, _other) = split_args(data, 5)
    if argc < 2:
        log.error("Usage: %s(<varname>,<find-string>[,<replace-string>,[<max-replacements>]])", cmd)
        return None
    if not varname:
        return None
    if not find:
        log.error("No <find-string> specified")
        return None
    value = variable_value(ctx, varname)
    limit = atoi(max_text) if max_text is not None else 0
    count = -1 if limit <= 0 else limit
    return value.replace(find, replacement or "", count)


@reader("STRBETWEEN", "Inserts a substring between each character in a string.")
def strbetween_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``STRBETWEEN(varname,insert-string)``: ``5551212`` with ``w`` gives ``5w5w5w1w2w1w2``."""
    argc, (varname, insert, _other) = split_args(data, 3)
    if argc != 2 or not varname:
        log.error("Usage: %s(<varname>,<insert-string>)", cmd)
        return None
    return (insert or "").join(variable_value(ctx, varname))


@reader("PASSTHRU", "Pass the given argument back as a value.")
def passthru_read(ctx: EvalContext, cmd: str, data: str | None) -> str:
    """``PASSTHRU(string)``: the argument itself (for functions that take a variable name)."""
    return data or ""


@reader("EVAL", "Evaluate stored variables")
def eval_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``EVAL(variable)``: substitute the (already substituted) argument a second time."""
    if not data:
        log.warning("EVAL requires an argument: EVAL(<string>)")
        return None
    return _sub.substitute(data, ctx)


@reader("REGEX", "Check string against a regular expression.")
def regex_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``REGEX("regular expression" string)``: ``1`` if the POSIX ERE matches anywhere, else ``0``.

    The data is split at double quotes (with backslashes removed, as ``AST_NONSTANDARD_APP_ARGS`` does);
    one blank after the closing quote is skipped.  A malformed expression fails (nothing substituted).
    """
    argc, (_null, pattern, subject) = split_args(data, 3, '"')
    if argc != 3 or pattern is None or subject is None:
        log.error("Unexpected arguments: should have been in the form '\"<regex>\" <string>'")
        return None
    if subject[:1] in (" ", "\t"):
        subject = subject[1:]
    try:
        compiled = compile_posix_ere(pattern)
    except (ValueError, re.error) as exc:
        log.warning("Malformed input %s(%s): %s", cmd, data, exc)
        return None
    return "1" if compiled.search(subject) else "0"


# -- POSIX ERE ---------------------------------------------------------------------------------------------

_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "0-9A-Za-z",
    "upper": "A-Z",
    "lower": "a-z",
    "space": " \\t\\n\\r\\f\\v",
    "blank": " \\t",
    "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    "print": "\\x20-\\x7e",
    "graph": "\\x21-\\x7e",
    "cntrl": "\\x00-\\x1f\\x7f",
    "xdigit": "0-9A-Fa-f",
    "word": "0-9A-Za-z_",
}

_ESCAPES = {"w": "\\w", "W": "\\W", "s": "\\s", "S": "\\S", "b": "\\b", "B": "\\B",
            "<": "\\b(?=\\w)", ">": "\\b(?<=\\w)", "`": "\\A", "'": "\\Z"}

_cache: dict[str, re.Pattern[str]] = {}


def compile_posix_ere(pattern: str) -> re.Pattern[str]:
    """Compile a POSIX extended regular expression (glibc semantics, C locale) for ``search``."""
    compiled = _cache.get(pattern)
    if compiled is None:
        compiled = re.compile(posix_ere_to_python(pattern), re.DOTALL)
        if len(_cache) > 256:
            _cache.clear()
        _cache[pattern] = compiled
    return compiled


def posix_ere_to_python(pattern: str) -> str:
    """Translate a POSIX ERE to Python ``re`` syntax.

    Bracket expressions (``[]a]``, ``[^]a]``, ``[[:digit:]]``, backslash literal inside brackets), the
    GNU escapes ``\\w \\W \\s \\S \\b \\B \\< \\> \\` \\'``, back-references, ``$`` only at the very end,
    and any other ``\\c`` as a literal ``c`` (``\\d`` is ``d`` in POSIX).  Raises ``ValueError`` for
    constructs glibc rejects (``(?``, an unterminated bracket).
    """
    out: list[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                raise ValueError("Trailing backslash")
            nxt = pattern[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
            elif nxt in "123456789":
                out.append("\\" + nxt)
            else:
                out.append(re.escape(nxt))
            i += 2
        elif c == "[":
            text, i = _bracket(pattern, i + 1)
            out.append(text)
        elif c == "$":
            out.append("\\Z")
            i += 1
        elif c == "(" and pattern[i + 1:i + 2] == "?":
            raise ValueError("Invalid preceding regular expression")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _bracket(pattern: str, i: int) -> tuple[str, int]:
    n = len(pattern)
    negate = False
    if i < n and pattern[i] == "^":
        negate = True
        i += 1
    items: list[str] = []
    first = True
    while True:
        if i >= n:
            raise ValueError("Unmatched [, [^, [:, [., or [=")
        c = pattern[i]
        if c == "]" and not first:
            i += 1
            break
        first = False
        if c == "[" and i + 1 < n and pattern[i + 1] in ":.=":
            kind = pattern[i + 1]
            end = pattern.find(kind + "]", i + 2)
            if end < 0:
                raise ValueError("Unmatched [, [^, [:, [., or [=")
            name = pattern[i + 2:end]
            i = end + 2
            if kind == ":":
                if name not in _CLASSES:
                    raise ValueError("Invalid character class name")
                items.append(_CLASSES[name])
            else:
                items.append(re.escape(name))
            continue
        if i + 2 < n and pattern[i + 1] == "-" and pattern[i + 2] != "]":
            low, high = c, pattern[i + 2]
            if ord(high) < ord(low):
                raise ValueError("Invalid range end")
            items.append(f"{re.escape(low)}-{re.escape(high)}")
            i += 3
            continue
        items.append(re.escape(c))
        i += 1
    body = "".join(items)
    return ("[^" if negate else "[") + body + "]", i
