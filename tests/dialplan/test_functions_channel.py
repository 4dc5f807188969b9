"""Channel-bound functions: CALLERID (func_callerid.c, main/callerid.c), CHANNEL (func_channel.c), CDR."""

from __future__ import annotations

import logging

import pytest

from core.callerid import CallerId, Presentation
from core.channel import ChannelState
from core.dialplan.functions.callerid import callerid_parse, callerid_split
from core.dialplan.runtime import SimpleEvalContext
from core.dialplan.substitute import assign, substitute
from tests.dialplan.test_substitute import FakeCdr, make_channel, make_ctx


@pytest.fixture
def ctx() -> SimpleEvalContext:
    return make_ctx()


def run(ctx: SimpleEvalContext, text: str) -> str:
    return substitute(text, ctx)


# -- main/callerid.c -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "name", "number"), [
    # tests/test_callerid.c parse_nominal
    ('"name" <number>', "name", "number"),
    ('"   name  " <number>', "   name  ", "number"),
    ("name <number>", "name", "number"),
    ("         name     <number>", "name", "number"),
    ('"" <number>', "", "number"),
    ("<number>", "", "number"),
    ("name", "name", None),
    (" name", "name", None),
    ('"name"', "name", None),
    ('"*10"', "*10", None),
    (' "*10"', "*10", None),
    ('"name" <>', "name", ""),
    ("name <>", "name", ""),
    ("1234", None, "1234"),
    (" 1234", None, "1234"),
    ('"na\\"me" <number>', 'na"me', "number"),
    # tests/test_callerid.c parse_off_nominal
    ('na\\"me <number>', 'na"me', "number"),
    ('"na"me" <number>', 'na"me', "number"),
    ('na"me <number>', 'na"me', "number"),
    ('"name <number>', '"name', "number"),
    ("name <number", "name", "number"),
    ('"name <number>"', "name", "number"),
])
def test_callerid_parse(text: str, name: str | None, number: str | None) -> None:
    parsed_name, parsed_number = callerid_parse(text)
    # the Asterisk test accepts NULL or "" alike for an absent part
    assert (parsed_name or None) == (name or None)
    assert (parsed_number or None) == (number or None)


def test_callerid_split_shrinks_the_number() -> None:
    # ast_callerid_split() runs ast_shrink_phone_number() on the location
    assert callerid_split('"Bob" <(555) 123-4567>') == ("Bob", "5551234567")
    assert callerid_split("(555) 123-4567") == ("", "5551234567")
    assert callerid_split("555.123.x") == ("555.123.x", "")  # not a number once shrunk: a name


# -- CALLERID() ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("${CALLERID(all)}", '"Alice" <1001>'),
    ("${CALLERID(name)}", "Alice"),
    ("${CALLERID(num)}", "1001"),
    ("${CALLERID(number)}", "1001"),
    ("${CALLERID(NUM)}", "1001"),  # case-insensitive
    ("${CALLERID(name-valid)}|${CALLERID(num-valid)}", "1|1"),
    ("${CALLERID(name-charset)}", "iso8859-1"),
    ("${CALLERID(num-plan)}|${CALLERID(ton)}", "0|0"),
    ("${CALLERID(pres)}|${CALLERID(num-pres)}|${CALLERID(name-pres)}",
     "allowed_not_screened|allowed_not_screened|allowed_not_screened"),
    ("${CALLERID(dnid)}|${CALLERID(dnid-num)}", "6001|6001"),
    ("${CALLERID(rdnis)}", ""),
    ("${CALLERID(ani)}|${CALLERID(ani2)}", "|0"),
    ("${CALLERID(subaddr)}|${CALLERID(subaddr-valid)}", "|0"),
    ("${CALLERID(bogus)}", ""),  # "Unknown callerid data type"
    ("${CALLERID(all,\"Bob\" <555-1212>)}", '"Bob" <5551212>'),  # parse the given caller ID instead
    ("${CALLERID(name,Bob <5551212>)}", "Bob"),
    ("${CALLERID(num,5551212)}", "5551212"),
    ("${CALLERID(pres,5551212)}", ""),
    ("${CALLERID()}", ""),
])
def test_callerid_read(ctx: SimpleEvalContext, text: str, expected: str) -> None:
    assert run(ctx, text) == expected


def test_callerid_without_a_caller_id() -> None:
    # ast_party_id_presentation(): neither name nor number valid -> unavailable
    ctx = make_ctx(make_channel(number="", caller_name=""))
    assert run(ctx, "${CALLERID(all)}|${CALLERID(pres)}|${CALLINGPRES}") == '"" <>|unavailable|67'
    assert run(ctx, "${CALLERID(num-valid)}") == "0"


def test_callerid_unknown_item_is_logged(ctx: SimpleEvalContext, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, "centralita.dialplan"):
        run(ctx, "${CALLERID(bogus)}")
    assert "Unknown callerid data type 'bogus'." in caplog.text


@pytest.mark.parametrize(("item", "value", "expected"), [
    ("num", "5551212", CallerId("5551212", "Alice")),
    ("number", "  5551212  ", CallerId("5551212", "Alice")),  # blanks skipped before, trimmed after
    ("name", "Bob", CallerId("1001", "Bob")),
    ("all", '"Bob Smith" <555-1212>', CallerId("5551212", "Bob Smith")),
    ("all", "5551212", CallerId("5551212", "")),
    ("pres", "prohib", CallerId("1001", "Alice", Presentation.RESTRICTED)),
    ("num-pres", "unavailable", CallerId("1001", "Alice", Presentation.UNAVAILABLE)),
    ("pres", "32", CallerId("1001", "Alice", Presentation.RESTRICTED)),
    ("pres", "bogus", CallerId("1001", "Alice")),  # "Unknown combined presentation", unchanged
    ("num-valid", "0", CallerId("", "Alice")),
    ("bogus", "x", CallerId("1001", "Alice")),
])
def test_callerid_write(ctx: SimpleEvalContext, item: str, value: str, expected: CallerId) -> None:
    assign(ctx, f"CALLERID({item})", value)
    assert ctx.channel.caller == expected


def test_callerid_presentation_round_trips_with_screening(ctx: SimpleEvalContext) -> None:
    assign(ctx, "CALLERID(pres)", "allowed_passed_screen")
    assert run(ctx, "${CALLERID(pres)}|${CALLINGPRES}") == "allowed_passed_screen|1"
    assign(ctx, "CALLERID(pres)", "prohib_passed_screen")
    assert run(ctx, "${CALLERID(num-pres)}|${CALLINGPRES}") == "prohib_passed_screen|33"


def test_callerid_other_parties(ctx: SimpleEvalContext) -> None:
    assign(ctx, "CALLERID(rdnis)", "2000")
    assign(ctx, "CALLERID(dnid)", "7000 ")
    assign(ctx, "CALLERID(ani)", "3000")
    assign(ctx, "CALLERID(ani2)", "61")
    assign(ctx, "CALLERID(tag)", "trunk-a")
    channel = ctx.channel
    assert (channel.rdnis, channel.dnid, channel.ani) == ("2000", "7000", "3000")
    assert run(ctx, "${CALLERID(rdnis)}|${CALLERID(dnid)}|${CALLERID(ani)}|${CALLERID(ani-num)}|"
                    "${CALLERID(ani2)}|${CALLERID(tag)}") == "2000|7000|3000|3000|61|trunk-a"


# -- CHANNEL() -------------------------------------------------------------------------------------------


def test_channel_read(ctx: SimpleEvalContext) -> None:
    channel = ctx.channel
    channel.set_state(ChannelState.UP)
    channel.application, channel.app_data = "Dial", "SIP/2000,20"
    assert run(ctx, "${CHANNEL(name)}|${CHANNEL(channame)}|${CHANNEL(state)}|${CHANNEL(channeltype)}") == \
        "SIP/1001-00000001|SIP/1001-00000001|Up|SIP"
    assert run(ctx, "${CHANNEL(uniqueid)}|${CHANNEL(linkedid)}|${CHANNEL(language)}|${CHANNEL(accountcode)}") == \
        "1141219835.1|1141219835.1|en|"
    assert run(ctx, "${CHANNEL(context)}|${CHANNEL(exten)}|${CHANNEL(appname)}|${CHANNEL(appdata)}") == \
        "internal|6001|Dial|SIP/2000,20"
    assert run(ctx, "${CHANNEL(checkhangup)}|${CHANNEL(amaflags)}|${CHANNEL(max_forwards)}|${CHANNEL(NAME)}") == \
        "0|3|20|SIP/1001-00000001"


def test_channel_unknown_item_fails(ctx: SimpleEvalContext, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "centralita.dialplan"):
        assert run(ctx, "<${CHANNEL(nonsense)}>") == "<>"
        assert run(ctx, "<${CHANNEL(appname)}>") == "<>"  # no application running
    assert "Unknown or unavailable item requested: 'nonsense'" in caplog.text


def test_channel_write(ctx: SimpleEvalContext) -> None:
    assign(ctx, "CHANNEL(language)", "es")
    assign(ctx, "CHANNEL(accountcode)", "acct-7")
    assign(ctx, "CHANNEL(musicclass)", "jazz")
    assign(ctx, "CHANNEL(userfield)", "note")
    assign(ctx, "CHANNEL(amaflags)", "billing")
    assert ctx.channel.language == "es" and ctx.channel.accountcode == "acct-7"
    assert run(ctx, "${CHANNEL(musicclass)}|${CHANNEL(userfield)}|${CHANNEL(amaflags)}") == "jazz|note|2"
    assign(ctx, "CHANNEL(amaflags)", "1")
    assert run(ctx, "${CHANNEL(amaflags)}") == "1"
    assign(ctx, "CHANNEL(nonsense)", "x")
    assert run(ctx, "${CHANNEL(language)}") == "es"


# -- CDR() -----------------------------------------------------------------------------------------------


@pytest.fixture
def cdr_ctx() -> SimpleEvalContext:
    cdr = FakeCdr(
        fields={"src": "1001", "dst": "6001", "disposition": "ANSWERED", "start": "2006-03-01 07:30:35",
                "billsec": "10", "duration": "12", "userfield": "", "answer": "2006-03-01 07:30:37",
                "end": ""},
        raw={"disposition": "8", "start": "1141219835.000000", "answer": "1141219835.100000",
             "end": "0.000000", "billsec": "10", "duration": "12"},
    )
    return make_ctx(cdr=cdr)


@pytest.mark.parametrize(("text", "expected"), [
    ("${CDR(src)}|${CDR(dst)}", "1001|6001"),
    ("${CDR(disposition)}|${CDR(disposition,u)}", "ANSWERED|8"),
    ("${CDR(start)}|${CDR(start,u)}", "2006-03-01 07:30:35|1141219835.000000"),
    # 'f': seconds with microseconds, to now (NOW = ...835.25) while the call lasts
    ("${CDR(billsec,f)}|${CDR(duration,f)}", "0.150000|0.250000"),
    ("${CDR(billsec,x)}", "10"),  # unknown option letters are ignored
    ("${CDR(nosuch)}", ""),
    ("${CDR()}", ""),
])
def test_cdr_read(cdr_ctx: SimpleEvalContext, text: str, expected: str) -> None:
    assert run(cdr_ctx, text) == expected


def test_cdr_write(cdr_ctx: SimpleEvalContext, caplog: pytest.LogCaptureFixture) -> None:
    cdr = cdr_ctx.cdr
    assert isinstance(cdr, FakeCdr)
    with caplog.at_level(logging.WARNING, "centralita.dialplan"):
        assign(cdr_ctx, "CDR(userfield)", "vip")
        assign(cdr_ctx, "CDR(myvar)", "42")
        assign(cdr_ctx, "CDR(disposition)", "BUSY")
        assign(cdr_ctx, "CDR(accountcode)", "acct-1")
    assert cdr.fields["userfield"] == "vip" and cdr.fields["myvar"] == "42"
    assert cdr.fields["disposition"] == "ANSWERED"
    assert "Attempt to set the 'disposition' read-only variable!" in caplog.text
    # accountcode goes to the channel (deprecated in Asterisk 12+, with a warning)
    assert cdr_ctx.channel.accountcode == "acct-1"
    assert "Using the CDR function to set 'accountcode' is deprecated" in caplog.text


def test_cdr_without_a_cdr(ctx: SimpleEvalContext) -> None:
    assign(ctx, "CDR(userfield)", "x")
    assert run(ctx, "<${CDR(userfield)}><${CDR(src)}>") == "<><>"
