"""BASE64_ENCODE / BASE64_DECODE: funcs/func_base64.c over ast_base64encode/ast_base64decode (main/utils.c).

``${BASE64_DECODE(${SMS_BASE64})}`` is how real dialplans read SMS bodies from chan_quectel/chan_dongle.
"""

from __future__ import annotations

import base64

import pytest

from core.dialplan.functions.encoding import base64_decode_bytes
from core.dialplan.runtime import SimpleEvalContext
from core.dialplan.substitute import substitute
from tests.dialplan.test_substitute import make_ctx


@pytest.fixture
def ctx() -> SimpleEvalContext:
    return make_ctx()


@pytest.mark.parametrize(("text", "expected"), [
    # Standard base64 with '=' padding (ast_base64encode_full without line breaks).
    pytest.param("${BASE64_ENCODE(Hello)}", "SGVsbG8=", id="encode-one-pad"),
    pytest.param("${BASE64_ENCODE(Hell)}", "SGVsbA==", id="encode-two-pads"),
    pytest.param("${BASE64_ENCODE(abc)}", "YWJj", id="encode-no-pad"),
    pytest.param("${BASE64_ENCODE(é)}", "w6k=", id="encode-utf8-bytes"),
    pytest.param("${BASE64_DECODE(SGVsbG8=)}", "Hello", id="decode"),
    # ast_base64decode stops at the first '=' and needs no padding at all.
    pytest.param("${BASE64_DECODE(SGVsbA)}", "Hell", id="decode-without-padding"),
    pytest.param("${BASE64_DECODE(SGVsbA==garbage)}", "Hell", id="decode-stops-at-equals"),
    pytest.param("${BASE64_DECODE(w6k=)}", "é", id="decode-utf8"),
    # The result is a C string: it ends at the first NUL byte ("AAAA" is three NULs).
    pytest.param("${BASE64_DECODE(QUFB)}${BASE64_DECODE(QQBC)}", "AAAA", id="decode-ends-at-nul"),
    # An empty argument is "missing argument!" (-1): nothing is substituted.
    pytest.param("[${BASE64_ENCODE()}][${BASE64_DECODE()}]", "[][]", id="missing-argument"),
])
def test_base64_functions(ctx: SimpleEvalContext, text: str, expected: str) -> None:
    assert substitute(text, ctx) == expected


def test_base64_decode_reads_bytes_outside_the_alphabet_as_63() -> None:
    # base64_init() fills b2a[] with -1 before the alphabet; (-1 & 0x3f) is 63, the value of '/'.
    assert base64_decode_bytes(b"SGV sbA") == base64_decode_bytes(b"SGV/sbA")
    assert base64_decode_bytes(b"QQ-C") == base64_decode_bytes(b"QQ/C")


def test_base64_round_trip_of_what_sms_gateways_send(ctx: SimpleEvalContext) -> None:
    # The argument is the raw text between the parentheses: commas are data, not separators.
    body = "Ваш код: 1234, спасибо!"
    ctx.channel.variables["SMS_BASE64"] = base64.b64encode(body.encode()).decode()
    assert substitute("${BASE64_DECODE(${SMS_BASE64})}", ctx) == body
    assert substitute("${BASE64_ENCODE(" + body + ")}", ctx) == ctx.channel.variables["SMS_BASE64"]
