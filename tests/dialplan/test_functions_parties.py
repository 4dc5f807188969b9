"""CONNECTEDLINE and REDIRECTING (funcs/func_callerid.c connectedline_read/write, redirecting_read/write)."""

from __future__ import annotations

import pytest

from core.callerid import CallerId, Presentation
from core.dialplan.runtime import SimpleEvalContext
from core.dialplan.substitute import set_application, substitute
from tests.dialplan.test_substitute import make_ctx


@pytest.fixture
def ctx() -> SimpleEvalContext:
    return make_ctx()


def run(ctx: SimpleEvalContext, sets: list[str], text: str) -> str:
    for assignment in sets:
        set_application(ctx, assignment)
    return substitute(text, ctx)


@pytest.mark.parametrize(("sets", "text", "expected"), [
    # A new channel: nothing valid, combined presentation "unavailable" (ast_party_id_presentation).
    pytest.param([], "[${CONNECTEDLINE(all)}|${CONNECTEDLINE(name-valid)}|${CONNECTEDLINE(pres)}]",
                 '["" <>|0|unavailable]', id="fresh"),
    pytest.param([], "${CONNECTEDLINE(source)}", "unknown", id="source-default"),
    pytest.param(['CONNECTEDLINE(all)="Bob Smith" <(555) 123-4567>'],
                 "${CONNECTEDLINE(name)}|${CONNECTEDLINE(num)}|${CONNECTEDLINE(number-valid)}",
                 "Bob Smith|5551234567|1", id="all-is-split-and-shrunk"),
    pytest.param(["CONNECTEDLINE(name)=  Bob  ", "CONNECTEDLINE(num,i)=2000"],
                 "[${CONNECTEDLINE(name)}][${CONNECTEDLINE(num)}][${CONNECTEDLINE(pres)}]",
                 "[Bob][2000][allowed_not_screened]", id="blanks-skipped-and-trimmed"),
    pytest.param(["CONNECTEDLINE(num)=2000", "CONNECTEDLINE(num-pres)=prohib"],
                 "${CONNECTEDLINE(num-pres)}|${CONNECTEDLINE(name-pres)}|${CONNECTEDLINE(pres)}",
                 "prohib|allowed_not_screened|prohib", id="number-presentation"),
    pytest.param(["CONNECTEDLINE(name)=Bob", "CONNECTEDLINE(num)=2000", "CONNECTEDLINE(name-pres)=prohib"],
                 "${CONNECTEDLINE(pres)}", "prohib_not_screened", id="more-restrictive-name-wins"),
    pytest.param(["CONNECTEDLINE(pres)=allowed_passed_screen", "CONNECTEDLINE(num)=1"],
                 "${CONNECTEDLINE(pres)}", "allowed_passed_screen", id="combined-presentation"),
    pytest.param(["CONNECTEDLINE(pres)=nonsense"], "${CONNECTEDLINE(name-pres)}", "allowed_not_screened",
                 id="bad-presentation-unchanged"),
    pytest.param(["CONNECTEDLINE(tag)=sales ", "CONNECTEDLINE(source)=transfer"],
                 "${CONNECTEDLINE(tag)}|${CONNECTEDLINE(source)}", "sales|transfer", id="tag-and-source"),
    pytest.param(["CONNECTEDLINE(source)=4", "CONNECTEDLINE(source)=bogus"], "${CONNECTEDLINE(source)}",
                 "transfer_alerting", id="numeric-source-then-bad-one"),
    pytest.param(["CONNECTEDLINE(ton)=33", "CONNECTEDLINE(num-plan)=x"], "${CONNECTEDLINE(num-plan)}", "33",
                 id="plan"),
    pytest.param(["CONNECTEDLINE(priv-num)=9999"], "${CONNECTEDLINE(priv-num)}|${CONNECTEDLINE(num)}", "9999|",
                 id="private-party"),
    pytest.param([], "[${CONNECTEDLINE(nonsense)}][${CONNECTEDLINE(name-foo)}]", "[][]", id="unknown-items"),
    pytest.param([], "[${CONNECTEDLINE()}][${CONNECTEDLINE(a-b-c-d-e-f-g-h-i-j)}]", "[][]",
                 id="no-or-too-many-members"),
    pytest.param(["CONNECTEDLINE(name)=Bob", "CONNECTEDLINE(name-valid)=0"],
                 "[${CONNECTEDLINE(name)}][${CONNECTEDLINE(all)}]", '[]["" <>]', id="invalidated-name"),
    # REDIRECTING
    pytest.param([], "${REDIRECTING(reason)}|${REDIRECTING(orig-reason)}|${REDIRECTING(count)}",
                 "unknown|unknown|0", id="redirecting-fresh"),
    pytest.param(["REDIRECTING(from-num)=1001", "REDIRECTING(to-num)=2002", "REDIRECTING(from-name)=Alice",
                  "REDIRECTING(count)=2"],
                 "${REDIRECTING(from-num)}>${REDIRECTING(to-num)}|${REDIRECTING(from-name)}|${REDIRECTING(count)}",
                 "1001>2002|Alice|2", id="from-to-count"),
    pytest.param(["REDIRECTING(from-num)=1001"], "${CALLERID(rdnis)}", "1001", id="from-num-is-rdnis"),
    pytest.param(["CALLERID(rdnis)=3003"], "${REDIRECTING(from-num)}|${REDIRECTING(from-num-valid)}", "3003|1",
                 id="rdnis-is-from-num"),
    pytest.param(["REDIRECTING(reason)=cfnr"], "${REDIRECTING(reason)}", "cfnr", id="reason-name"),
    pytest.param(["REDIRECTING(reason)=4"], "${REDIRECTING(reason)}", "cfu", id="reason-number"),
    pytest.param(["REDIRECTING(reason)=99"], "${REDIRECTING(reason)}", "not-known", id="reason-unknown-code"),
    # A reason that is not in the table is kept as text (code unknown).
    pytest.param(["REDIRECTING(reason)=send to mars "], "${REDIRECTING(reason)}", "send to mars",
                 id="reason-free-text"),
    pytest.param(["REDIRECTING(orig-reason)=CFB", "REDIRECTING(orig-num)=555"],
                 "${REDIRECTING(orig-reason)}|${REDIRECTING(orig-num)}", "cfb|555", id="orig"),
    pytest.param(["REDIRECTING(count)=x"], "${REDIRECTING(count)}", "0", id="bad-count-unchanged"),
    pytest.param(["REDIRECTING(from-num)=1", "REDIRECTING(pres)=prohib"],
                 "${REDIRECTING(pres)}|${REDIRECTING(to-num-pres)}", "prohib|prohib", id="combined-pres-from-and-to"),
    pytest.param(["REDIRECTING(priv-to-num)=77"], "${REDIRECTING(priv-to-num)}|${REDIRECTING(to-num)}", "77|",
                 id="private"),
    pytest.param([], "[${REDIRECTING(elsewhere-num)}][${REDIRECTING(priv-num)}][${REDIRECTING(from)}]",
                 "[][][]", id="unknown-items"),
])
def test_parties(ctx: SimpleEvalContext, sets: list[str], text: str, expected: str) -> None:
    assert run(ctx, sets, text) == expected


def test_connected_line_is_the_channels(ctx: SimpleEvalContext) -> None:
    ctx.channel.connected = CallerId("2001", "Carol")
    assert substitute("${CONNECTEDLINE(all)}", ctx) == '"Carol" <2001>'
    set_application(ctx, "CONNECTEDLINE(num)=2002")
    set_application(ctx, "CONNECTEDLINE(pres)=prohib")
    assert ctx.channel.connected == CallerId("2002", "Carol", Presentation.RESTRICTED)


def test_unknown_items_log_as_asterisk(ctx: SimpleEvalContext, caplog: pytest.LogCaptureFixture) -> None:
    run(ctx, ["CONNECTEDLINE(bogus)=1", "REDIRECTING(count)=x", "CONNECTEDLINE(source)=nope"],
        "${REDIRECTING(bogus)}")
    assert [record.getMessage() for record in caplog.records] == [
        "Unknown connectedline data type 'bogus'.",
        "Unknown redirecting count 'x', value unchanged",
        "Unknown connectedline source 'nope', value unchanged",
        "Unknown redirecting data type 'bogus'.",
    ]
