"""TRIM/LTRIM/RTRIM (``funcs/func_strings.c``), SQL_ESC/SQL_ESC_BACKSLASHES/SQL_UNESC (``funcs/func_odbc.c``) and
AES_ENCRYPT/AES_DECRYPT (``funcs/func_aes.c``).

- TRIM strips with ``ast_strip`` (``include/asterisk/strings.h``: ``ast_skip_blanks`` +
  ``ast_trim_blanks``, which treat every byte below 33 as blank); LTRIM and RTRIM use C ``isspace``
  (space, ``\\t\\n\\v\\f\\r``).  An empty argument fails (-1: nothing substituted); an argument of blanks
  only gives an empty string.
- SQL_ESC doubles every ``'`` of its argument (``acf_escape``), SQL_ESC_BACKSLASHES every backslash;
  SQL_UNESC folds each ``''`` back to one ``'``.  Neither fails: an empty argument gives an empty string.
- AES_ENCRYPT(key,string) / AES_DECRYPT(key,string): AES-128 in ECB mode (``ast_aes_encrypt`` block by
  block), the key exactly 16 characters, the plaintext zero-padded to a whole block, the ciphertext in
  base64 (``ast_base64encode``) and read back with the lenient ``ast_base64decode``; the decrypted text is
  a C string (it ends at the first NUL, which also drops the zero padding).  A missing key or string, or a
  key that is not 16 characters, is an error.  ``cryptography`` is imported on the first call only.
"""

from __future__ import annotations

import base64
import logging
from typing import TYPE_CHECKING

from core.dialplan.args import split_args
from core.dialplan.functions import reader
from core.dialplan.functions.encoding import base64_decode_bytes

if TYPE_CHECKING:
    from core.dialplan.runtime import EvalContext

log = logging.getLogger("centralita.dialplan")

_BLANKS = "".join(chr(code) for code in range(33))
"""``ast_skip_blanks``/``ast_trim_blanks``: any byte ``< 33`` (controls and space)."""

_C_SPACE = " \t\n\v\f\r"
"""C ``isspace`` in the "C" locale."""

_AES_BLOCK = 16


@reader("TRIM", "Trim leading and trailing whitespace in a string.")
def trim_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``TRIM(string)``: ``ast_strip``; fails on an empty argument."""
    if not data:
        return None
    return data.strip(_BLANKS)


@reader("LTRIM", "Trim leading whitespace in a string.")
def ltrim_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``LTRIM(string)``: skips leading ``isspace`` characters; fails on an empty argument."""
    if not data:
        return None
    return data.lstrip(_C_SPACE)


@reader("RTRIM", "Trim trailing whitespace in a string.")
def rtrim_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``RTRIM(string)``: cuts trailing ``isspace`` characters; fails on an empty argument."""
    if not data:
        return None
    return data.rstrip(_C_SPACE)


@reader("SQL_ESC", "Escapes single ticks for use in SQL statements.")
def sql_esc_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``SQL_ESC(string)``: every ``'`` doubled (``SELECT foo FROM bar WHERE baz='${SQL_ESC(${ARG1})}'``)."""
    return (data or "").replace("'", "''")


@reader("SQL_ESC_BACKSLASHES", "Escapes backslashes for use in SQL statements.")
def sql_esc_backslashes_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``SQL_ESC_BACKSLASHES(string)`` (16.26, 18.12, 19.4+): every backslash doubled."""
    return (data or "").replace("\\", "\\\\")


@reader("SQL_UNESC", "Reverses the usages of the SQL_ESC() function.")
def sql_unesc_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``SQL_UNESC(string)``: each ``''`` becomes ``'`` (a lone ``'`` is kept)."""
    return (data or "").replace("''", "'")


def _aes_arguments(cmd: str, data: str | None) -> tuple[bytes, str] | None:
    """``AST_STANDARD_APP_ARGS(key, data)`` and the checks of ``aes_helper``; None (with its warning) on error."""
    _, (key, text) = split_args(data, 2)
    if not text or not key:
        log.warning("Syntax: %s(<key>,<data>) - missing argument!", cmd)
        return None
    key_bytes = key.encode("utf-8", "surrogateescape")
    if len(key_bytes) != _AES_BLOCK:
        log.warning("Syntax: %s(<key>,<data>) - <key> parameter must be exactly 16 characters%s!", cmd,
                    " - padding" if len(key_bytes) < _AES_BLOCK else "")
        return None
    return key_bytes, text


def aes_ecb(key: bytes, data: bytes, encrypt: bool) -> bytes:
    """AES-128 ECB over ``data`` zero-padded to whole 16-byte blocks (``aes_helper``'s block loop)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: PLC0415 - lazy

    remainder = len(data) % _AES_BLOCK
    if remainder:
        data += b"\0" * (_AES_BLOCK - remainder)
    cipher = Cipher(algorithms.AES(key), modes.ECB())  # noqa: S305 - Asterisk's func_aes is ECB
    operation = cipher.encryptor() if encrypt else cipher.decryptor()
    return operation.update(data) + operation.finalize()


@reader("AES_ENCRYPT", "Encrypt a string with AES given a 16 character key.")
def aes_encrypt_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``AES_ENCRYPT(key,string)``: base64 of the AES-128-ECB encryption of the zero-padded string."""
    parsed = _aes_arguments(cmd, data)
    if parsed is None:
        return None
    key, text = parsed
    encrypted = aes_ecb(key, text.encode("utf-8", "surrogateescape"), encrypt=True)
    return base64.b64encode(encrypted).decode("ascii")


@reader("AES_DECRYPT", "Decrypt a string encoded in base64 with AES given a 16 character key.")
def aes_decrypt_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``AES_DECRYPT(key,base64)``: the decrypted text up to its first NUL."""
    parsed = _aes_arguments(cmd, data)
    if parsed is None:
        return None
    key, text = parsed
    decoded = base64_decode_bytes(text.encode("utf-8", "surrogateescape"))
    decrypted = aes_ecb(key, decoded, encrypt=False)
    return decrypted.split(b"\0", 1)[0].decode("utf-8", "replace")
