"""URIENCODE/URIDECODE (func_uri.c over ast_uri_encode/ast_uri_decode with ast_uri_http), MD5/SHA1
(func_md5.c, func_sha1.c) and DIALPLAN_EXISTS/VALID_EXTEN (func_dialplan.c)."""

from __future__ import annotations

import hashlib
import urllib.parse

import pytest

from core.callerid import CallerId
from core.dialplan.loader import load_dialplan_text
from core.dialplan.runtime import SimpleEvalContext
from core.dialplan.substitute import substitute
from tests.dialplan.test_substitute import make_channel, make_ctx


@pytest.fixture
def ctx() -> SimpleEvalContext:
    return make_ctx()


@pytest.mark.parametrize(("text", "expected"), [
    # RFC 2396 unreserved characters stay; everything else is %XX in upper case, UTF-8 bytes one by one.
    pytest.param("${URIENCODE(abcXYZ019-_.!~*'())}", "abcXYZ019-_.!~*'()", id="unreserved"),
    pytest.param("${URIENCODE(a b&c=d/e?f+g)}", "a%20b%26c%3Dd%2Fe%3Ff%2Bg", id="reserved-and-space"),
    pytest.param("${URIENCODE(1,2)}", "1%2C2", id="commas-are-data"),
    pytest.param("${URIENCODE(é)}", "%C3%A9", id="utf8"),
    pytest.param("${URIENCODE(sip:1001@pbx)}", "sip%3A1001%40pbx", id="sip-uri"),
    pytest.param("[${URIENCODE()}]", "[]", id="empty-encode"),
    pytest.param("${URIDECODE(a%20b%2Fc)}", "a b/c", id="decode"),
    pytest.param("${URIDECODE(%c3%A9)}", "é", id="decode-utf8-any-case"),
    pytest.param("${URIDECODE(a+b)}", "a+b", id="plus-is-not-space"),
    pytest.param("${URIDECODE(100%)}", "100%", id="percent-at-the-end"),
    pytest.param("${URIDECODE(5%2)}", "5%2", id="percent-with-one-character"),
    pytest.param("${URIDECODE(%zz!)}", "%zz!", id="not-hex"),
    # sscanf("%2x") reads one digit of "%4g" yet two characters are consumed.
    pytest.param("${URIDECODE(%4gX)}", "\x04X", id="one-hex-digit-two-consumed"),
    pytest.param("${URIDECODE(ab%00cd)}", "ab", id="nul-ends-the-string"),
    pytest.param("[${URIDECODE()}]", "[]", id="empty-decode"),
])
def test_uri_functions(ctx: SimpleEvalContext, text: str, expected: str) -> None:
    assert substitute(text, ctx) == expected


@pytest.mark.parametrize("text", ["hello world", "1001@example.com;user=phone", "ñandú/ü?x=1&y=2", "~*'()"])
def test_uri_round_trip_and_agreement_with_rfc3986_quoting(ctx: SimpleEvalContext, text: str) -> None:
    encoded = substitute(f"${{URIENCODE({text})}}", ctx)
    # RFC 3986 unreserved is RFC 2396's minus !*'(): the only difference may be those four characters.
    assert encoded == urllib.parse.quote(text, safe="-_.!~*'()")
    assert substitute(f"${{URIDECODE({encoded})}}", ctx) == text


@pytest.mark.parametrize("text", ["hello", "1001", "é,x"])
def test_md5_and_sha1_are_lower_case_hex_of_the_bytes(ctx: SimpleEvalContext, text: str) -> None:
    assert substitute(f"${{MD5({text})}}", ctx) == hashlib.md5(text.encode()).hexdigest()
    assert substitute(f"${{SHA1({text})}}", ctx) == hashlib.sha1(text.encode()).hexdigest()


def test_md5_and_sha1_of_nothing_substitute_nothing(ctx: SimpleEvalContext) -> None:
    assert substitute("[${MD5()}][${SHA1()}]", ctx) == "[][]"


PLAN = """
[default]
include => shared
exten => 100,1,NoOp()
 same => n(start),NoOp()
exten => 200/555,1,NoOp(only for caller 555)
[shared]
exten => _9XX,1,NoOp()
 same => 2,NoOp()
[empty]
"""


@pytest.fixture
def plan_ctx() -> SimpleEvalContext:
    dialplan = load_dialplan_text(PLAN).dialplan
    channel = make_channel()
    channel.context = "default"
    return make_ctx(channel, dialplan=dialplan)


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("${DIALPLAN_EXISTS(default)}", "1", id="context"),
    pytest.param("${DIALPLAN_EXISTS(empty)}", "1", id="empty-context"),
    pytest.param("${DIALPLAN_EXISTS(nowhere)}", "0", id="no-context"),
    pytest.param("${DIALPLAN_EXISTS(default,100)}", "1", id="extension"),
    pytest.param("${DIALPLAN_EXISTS(default,101)}", "0", id="no-extension"),
    pytest.param("${DIALPLAN_EXISTS(default,912)}", "1", id="through-an-include"),
    pytest.param("${DIALPLAN_EXISTS(default,912,2)}", "1", id="priority"),
    pytest.param("${DIALPLAN_EXISTS(default,912,3)}", "0", id="no-priority"),
    pytest.param("${DIALPLAN_EXISTS(default,100,start)}", "1", id="label"),
    pytest.param("${DIALPLAN_EXISTS(default,100,stop)}", "0", id="no-label"),
    pytest.param("${DIALPLAN_EXISTS(default,200)}", "0", id="caller-id-match-other-caller"),
    pytest.param("[${DIALPLAN_EXISTS()}]", "[]", id="no-argument-is-an-error"),
    pytest.param("${VALID_EXTEN(,100)}", "1", id="valid-exten-channel-context"),
    pytest.param("${VALID_EXTEN(shared,912,2)}", "1", id="valid-exten-priority"),
    pytest.param("${VALID_EXTEN(default,100,9)}", "0", id="valid-exten-no-priority"),
    pytest.param("[${VALID_EXTEN(default)}]", "[]", id="valid-exten-needs-an-extension"),
])
def test_dialplan_checks(plan_ctx: SimpleEvalContext, text: str, expected: str) -> None:
    assert substitute(text, plan_ctx) == expected


def test_a_caller_id_match_counts_for_that_caller(plan_ctx: SimpleEvalContext) -> None:
    plan_ctx.channel.caller = CallerId(number="555")
    assert substitute("${DIALPLAN_EXISTS(default,200)}${VALID_EXTEN(default,200)}", plan_ctx) == "11"


def test_without_a_dialplan_nothing_exists(ctx: SimpleEvalContext) -> None:
    assert substitute("${DIALPLAN_EXISTS(default,100)}${VALID_EXTEN(default,100)}", ctx) == "00"


HINTS = """
[default]
exten => 1001,hint,SIP/1001&IAX2/gw/1001
exten => 1001,1,Dial(${HINT(1001)})
exten => 1002,hint,SIP/1002(Bob)
[phones]
include => default
"""


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("${HINT(1001)}", "SIP/1001&IAX2/gw/1001", id="devices"),
    pytest.param("${HINT(1001@phones)}", "SIP/1001&IAX2/gw/1001", id="through-an-include"),
    pytest.param("${HINT(1002,n)}", "Bob", id="name"),
    pytest.param("${HINT(1002)}", "SIP/1002", id="devices-of-a-named-hint"),
    pytest.param("[${HINT(1003)}]", "[]", id="no-hint"),
    pytest.param("[${HINT(1001@nowhere)}]", "[]", id="no-context"),
    pytest.param("[${HINT()}]", "[]", id="no-extension"),
])
def test_hint(text: str, expected: str) -> None:
    ctx = make_ctx(make_channel(), dialplan=load_dialplan_text(HINTS).dialplan)
    assert substitute(text, ctx) == expected
