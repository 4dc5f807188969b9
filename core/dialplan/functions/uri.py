"""URIENCODE and URIDECODE of ``funcs/func_uri.c``, with ``ast_uri_encode``/``ast_uri_decode`` of
``main/utils.c`` under the ``ast_uri_http`` flags.

Encoding keeps the RFC 2396 §2.3 unreserved characters (ASCII letters and digits and ``-_.!~*'()``) and
writes every other byte of the argument (its UTF-8 encoding here) as ``%XX`` in upper-case hex.  Decoding
replaces ``%`` followed by at least two more characters with the byte ``sscanf(s + 1, "%2x")`` reads
there — which skips white space, takes a sign and at most two hex digits, and may read only one while
still consuming two characters — and copies everything else (``+`` stays ``+``).  The result is a C
string, so it ends at the first NUL byte; bytes that are not UTF-8 become U+FFFD.  An empty argument
gives an empty result in both functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.dialplan.functions import reader

if TYPE_CHECKING:
    from core.dialplan.runtime import EvalContext

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()")
_HEX = "0123456789abcdefABCDEF"
_C_SPACE = " \t\n\v\f\r"


def uri_encode(text: str) -> str:
    """``ast_uri_encode(text, ..., ast_uri_http)``."""
    return "".join(chr(byte) if byte in _UNRESERVED else f"%{byte:02X}"
                   for byte in text.encode("utf-8", "surrogateescape"))


def _scan_hex2(text: str) -> int | None:
    """``sscanf(text, "%2x", &value) == 1 ? value : None`` (white space skipped, then at most 2 characters
    of the field: an optional sign and hex digits; a lone sign is no conversion)."""
    i = 0
    while i < len(text) and text[i] in _C_SPACE:
        i += 1
    field = text[i:i + 2]
    sign = 1
    if field[:1] in ("+", "-"):
        sign = -1 if field[0] == "-" else 1
        field = field[1:]
    digits = ""
    for c in field:
        if c not in _HEX:
            break
        digits += c
    if not digits:
        return None
    return (sign * int(digits, 16)) & 0xFFFFFFFF


def uri_decode(text: str) -> str:
    """``ast_uri_decode(text, ast_uri_http)``."""
    data = text.encode("utf-8", "surrogateescape").split(b"\0", 1)[0]
    out = bytearray()
    i = 0
    while i < len(data):
        byte = data[i]
        if byte == 0x25 and i + 2 < len(data):
            value = _scan_hex2(data[i + 1:].decode("latin-1"))
            if value is not None:
                out.append(value & 0xFF)
                i += 3
                continue
        out.append(byte)
        i += 1
    return bytes(out).split(b"\0", 1)[0].decode("utf-8", "replace")  # %00 ends the C string


@reader("URIENCODE", "Encodes a string to URI-safe encoding according to RFC 2396.")
def uriencode_read(ctx: EvalContext, cmd: str, data: str | None) -> str:
    """``URIENCODE(data)``."""
    return uri_encode(data) if data else ""


@reader("URIDECODE", "Decodes a URI-encoded string according to RFC 2396.")
def uridecode_read(ctx: EvalContext, cmd: str, data: str | None) -> str:
    """``URIDECODE(data)``."""
    return uri_decode(data) if data else ""
