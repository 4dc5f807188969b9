"""TRIM/LTRIM/RTRIM (func_strings.c), SQL_ESC/SQL_UNESC (func_odbc.c), AES_ENCRYPT/AES_DECRYPT (func_aes.c).

The AES vectors were produced independently with ``openssl enc -aes-128-ecb -nopad`` over the
zero-padded plaintext, which is what ``aes_helper`` encrypts.
"""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from core.dialplan.runtime import SimpleEvalContext
from core.dialplan.substitute import substitute
from tests.dialplan.test_substitute import make_ctx


@pytest.fixture
def ctx() -> SimpleEvalContext:
    return make_ctx()


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("[${TRIM(  hello world  )}]", "[hello world]", id="trim-both"),
    pytest.param("[${LTRIM(  hello world  )}]", "[hello world  ]", id="ltrim"),
    pytest.param("[${RTRIM(  hello world  )}]", "[  hello world]", id="rtrim"),
    pytest.param("[${TRIM(${TAB}x${TAB})}]", "[x]", id="trim-tabs"),
    # Blanks only: 0 with an empty string (not a failure).
    pytest.param("[${TRIM(   )}][${LTRIM(   )}][${RTRIM(   )}]", "[][][]", id="only-blanks"),
    # ast_strlen_zero(data): -1, nothing substituted.
    pytest.param("[${TRIM()}][${LTRIM()}][${RTRIM()}]", "[][][]", id="empty-fails"),
    # The whole text is the argument: commas are data.
    pytest.param("[${TRIM( a, b )}]", "[a, b]", id="commas-are-data"),
    # ast_strip treats every byte below 33 as blank; isspace (LTRIM/RTRIM) does not include \x01.
    pytest.param("[${TRIM(${CTRL}x${CTRL})}][${LTRIM(${CTRL}x)}][${RTRIM(x${CTRL})}]",
                 "[x][\x01x][x\x01]", id="control-chars"),
    # func_odbc.c: SELECT foo FROM bar WHERE baz='${SQL_ESC(${ARG1})}'
    pytest.param("baz='${SQL_ESC(O'Brien's)}'", "baz='O''Brien''s'", id="sql-esc"),
    pytest.param("[${SQL_ESC()}][${SQL_UNESC()}]", "[][]", id="sql-empty-is-empty-string"),
    pytest.param("${SQL_UNESC(O''Brien''s)}", "O'Brien's", id="sql-unesc"),
    pytest.param("${SQL_UNESC(${SQL_ESC(it's '' x)})}", "it's '' x", id="sql-round-trip"),
    pytest.param("${SQL_ESC(a,b)}", "a,b", id="sql-esc-commas-are-data"),
    # func_odbc.c's example: baz='${SQL_ESC(${SQL_ESC_BACKSLASHES(${ARG1})})}'
    pytest.param("${SQL_ESC(${SQL_ESC_BACKSLASHES(${SLASHED})})}", "it''s a\\\\b", id="sql-esc-backslashes"),
    pytest.param("${AES_ENCRYPT(1234567890123456,hello)}", "77zyX9jQgwOf4fhw/CUKfA==", id="aes-one-block"),
    pytest.param("${AES_ENCRYPT(abcdefghijklmnop,The quick brown fox jumps)}",
                 "uqfITz6vHvTDaxRSlZ7BSy98G9VOGeCnYL8uKVjpjkQ=", id="aes-two-blocks"),
    pytest.param("${AES_DECRYPT(1234567890123456,77zyX9jQgwOf4fhw/CUKfA==)}", "hello", id="aes-decrypt"),
    pytest.param("${AES_DECRYPT(abcdefghijklmnop,uqfITz6vHvTDaxRSlZ7BSy98G9VOGeCnYL8uKVjpjkQ=)}",
                 "The quick brown fox jumps", id="aes-decrypt-two-blocks"),
    # The string is the rest of the arguments (AST_STANDARD_APP_ARGS with two fields).
    pytest.param("${AES_DECRYPT(1234567890123456,${AES_ENCRYPT(1234567890123456,a,b,c)})}", "a,b,c",
                 id="aes-round-trip-commas"),
    pytest.param("[${AES_ENCRYPT(1234567890123456,)}][${AES_ENCRYPT(,hello)}][${AES_ENCRYPT()}]", "[][][]",
                 id="aes-missing-argument"),
    pytest.param("[${AES_ENCRYPT(123456789012345,hi)}][${AES_DECRYPT(12345678901234567,77zy)}]", "[][]",
                 id="aes-key-not-16"),
])
def test_textops(ctx: SimpleEvalContext, text: str, expected: str) -> None:
    ctx.channel.variables["TAB"] = "\t"
    ctx.channel.variables["CTRL"] = "\x01"
    ctx.channel.variables["SLASHED"] = "it's a\\b"
    assert substitute(text, ctx) == expected


def test_aes_key_warnings(ctx: SimpleEvalContext, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="centralita.dialplan"):
        substitute("${AES_ENCRYPT(short,hi)}${AES_DECRYPT(1234567890123456)}${AES_ENCRYPT(12345678901234567,x)}",
                   ctx)
    messages = [record.getMessage() for record in caplog.records]
    assert "Syntax: AES_ENCRYPT(<key>,<data>) - <key> parameter must be exactly 16 characters - padding!" in messages
    assert "Syntax: AES_DECRYPT(<key>,<data>) - missing argument!" in messages
    assert "Syntax: AES_ENCRYPT(<key>,<data>) - <key> parameter must be exactly 16 characters!" in messages


def test_loading_the_functions_does_not_import_cryptography() -> None:
    code = ("import sys\nfrom core.dialplan.functions import get_function\nassert get_function('AES_ENCRYPT')\n"
            "assert 'cryptography' not in sys.modules, 'cryptography imported at load'\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
