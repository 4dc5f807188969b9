"""BASE64_ENCODE and BASE64_DECODE of ``funcs/func_base64.c``, with ``ast_base64encode``/``ast_base64decode``
of ``main/utils.c``.

Asterisk works on the bytes of the argument (here its UTF-8 encoding).  Encoding is standard base64 with
``=`` padding and no line breaks.  Decoding is lenient the way ``ast_base64decode`` is: it stops at the
first ``=``, reads every other byte through a table in which anything outside the alphabet counts as
``-1 & 0x3f`` = 63 (``base64_init`` fills ``b2a`` with ``-1`` first), never fails, and the result is a C
string, so it ends at the first NUL byte.  Bytes that are not UTF-8 become U+FFFD.  An empty argument is
an error in both functions ("missing argument"): nothing is substituted.
"""

from __future__ import annotations

import base64
import logging
from typing import TYPE_CHECKING

from core.dialplan.functions import reader

if TYPE_CHECKING:
    from core.dialplan.runtime import EvalContext

log = logging.getLogger("centralita.dialplan")

_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_VALUES = [63] * 256
for _value, _byte in enumerate(_ALPHABET):
    _VALUES[_byte] = _value


def base64_decode_bytes(data: bytes) -> bytes:
    """``ast_base64decode``: 6 bits per input byte until ``=`` or the end; a full byte out per 8 bits."""
    out = bytearray()
    accumulator = 0
    bits = 0
    for byte in data:
        if byte == 0x3D:  # '='
            break
        accumulator = ((accumulator << 6) | _VALUES[byte]) & 0xFFFFFFFF
        bits += 6
        if bits >= 8:
            bits -= 8
            out.append((accumulator >> bits) & 0xFF)
    return bytes(out)


@reader("BASE64_ENCODE", "Encode a string in base64.")
def base64_encode_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``BASE64_ENCODE(string)``: the base64 of the string's bytes; fails on an empty argument."""
    if not data:
        log.warning("Syntax: %s(<data>) - missing argument!", cmd)
        return None
    return base64.b64encode(data.encode("utf-8", "surrogateescape")).decode("ascii")


@reader("BASE64_DECODE", "Decode a base64 string.")
def base64_decode_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``BASE64_DECODE(base64 string)``: the decoded text up to its first NUL; fails on an empty argument."""
    if not data:
        log.warning("Syntax: %s(<data>) - missing argument!", cmd)
        return None
    decoded = base64_decode_bytes(data.encode("utf-8", "surrogateescape"))
    return decoded.split(b"\0", 1)[0].decode("utf-8", "replace")
