"""What the dialplan does to records: CDR() reads and writes, ForkCDR, NoCDR, ResetCDR, CDR_PROP.

Expected values come from ``funcs/func_cdr.c`` (CDR/CDR_PROP), ``apps/app_forkcdr.c``,
``apps/app_cdr.c`` (NoCDR/ResetCDR), the ``ast_cdr_*`` functions of ``main/cdr.c`` they call, and the
docs.asterisk.org "CDR Specification" ("Fields", "User Defined Fields", "Choosing the Party A channel").
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from core.cdr import CdrFieldError, CdrOptions, CdrView
from core.channel import Channel
from tests.cdr.harness import EPOCH, World


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def answered_call(world: World, exten: str = "600") -> Channel:
    alice = world.inbound("alice", "100", "Alice", exten=exten)
    world.app(alice, "Answer", exten=exten)
    world.answer(alice)
    return alice


def view(world: World, channel: Channel) -> CdrView:
    result = world.engine.current(channel.name)
    assert result is not None
    return result


# -- CDR() reads ----------------------------------------------------------------------------------------


def test_cdr_reads_fields_of_the_current_record(utc: None) -> None:
    # func_cdr.c cdr_read_callback over cdr_object_format_property.
    world = World()
    alice = world.inbound("alice", "100", "Alice", exten="600")
    world.clock.advance(2)
    world.app(alice, "Answer", exten="600")
    world.answer(alice)
    world.clock.advance(12.5)
    world.app(alice, "Set", "x=${CDR(billsec)}")
    cdr = view(world, alice)
    assert cdr.get("clid") == '"Alice" <100>'
    assert cdr.get("src") == "100"
    assert cdr.get("dst") == "600"
    assert cdr.get("dcontext") == "default"
    assert cdr.get("channel") == alice.name
    assert cdr.get("dstchannel") == ""
    # lastapp/lastdata are the application running now (the Party A snapshot), here Set itself.
    assert (cdr.get("lastapp"), cdr.get("lastdata")) == ("Set", "x=${CDR(billsec)}")
    assert cdr.get("start") == "2013-03-04 13:11:18"
    assert cdr.get("answer") == "2013-03-04 13:11:20"
    assert cdr.get("end") == ""
    assert (cdr.get("duration"), cdr.get("billsec")) == ("14", "12")
    assert cdr.get("uniqueid") == cdr.get("linkedid") == alice.uniqueid
    assert cdr.get("sequence") == "0"
    assert cdr.get("userfield") == ""
    assert cdr.get("BILLSEC") == "12"  # names are case-insensitive (strcasecmp)


@pytest.mark.parametrize(("field", "raw", "expected"), [
    pytest.param("start", True, f"{int(EPOCH)}.000000", id="start,u epoch.usec (cdr_get_tv raw)"),
    pytest.param("answer", True, "0.000000", id="answer,u unset=0.000000"),
    pytest.param("answer", False, "", id="answer unset=empty"),
    pytest.param("disposition", False, "NO ANSWER", id="disposition undecided=NO ANSWER (AST_CDR_NULL)"),
    pytest.param("disposition", True, "1", id="disposition,u=1 (AST_CDR_NULL)"),
    pytest.param("amaflags", False, "DOCUMENTATION", id="amaflags=DOCUMENTATION (default)"),
    pytest.param("amaflags", True, "3", id="amaflags,u=3"),
])
def test_cdr_u_option_gives_raw_values(field: str, raw: bool, expected: str) -> None:
    # func_cdr.c: "u" retrieves the raw value (epoch for times, numbers for disposition/amaflags).
    world = World()
    alice = world.inbound("alice", "100", "Alice", exten="600")
    world.app(alice, "NoOp", exten="600")
    assert view(world, alice).get(field, raw=raw) == expected


def test_cdr_f_option_gives_fractional_seconds() -> None:
    # func_cdr.c: "f" returns billsec/duration as floating point ("%lf").
    world = World()
    alice = answered_call(world)
    world.clock.advance(12.25)
    assert view(world, alice).get("billsec", fractional=True) == "12.250000"
    assert view(world, alice).get("duration", fractional=True) == "12.250000"


def test_disposition_is_decided_when_the_record_ends() -> None:
    # cdr_object_finalize sets ANSWERED; until then CDR(disposition) reads the undecided value. In the h
    # extension (record ended at hangup-logic start) it reads ANSWERED.
    world = World()
    alice = answered_call(world)
    assert view(world, alice).get("disposition") == "NO ANSWER"
    world.app(alice, "NoOp", exten="h")
    assert view(world, alice).get("disposition") == "ANSWERED"
    assert view(world, alice).get("disposition", raw=True) == "8"


def test_clid_of_a_number_without_name() -> None:
    # ast_callerid_merge with the snapshot's (empty, not NULL) name: '"" <number>' — as in Master.csv
    # lines of real Asterisk 13+ systems, e.g. """"" <8016>".
    world = World()
    alice = world.inbound("alice", "8016", "", exten="600")
    world.app(alice, "NoOp", exten="600")
    assert view(world, alice).get("clid") == '"" <8016>'


# -- CDR() writes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["clid", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp",
                                   "lastdata", "start", "answer", "end", "duration", "billsec",
                                   "disposition", "uniqueid", "linkedid", "sequence", "Start"])
def test_read_only_fields_refuse_writes(field: str) -> None:
    # main/cdr.c cdr_readonly_vars: ast_cdr_setvar logs "Attempt to set the '%s' read-only variable!".
    world = World()
    alice = answered_call(world)
    with pytest.raises(CdrFieldError):
        view(world, alice).set(field, "x")


def test_custom_variables_are_stored_on_the_record() -> None:
    # func_cdr.c: a name not in the list creates a variable stored on the CDR; read back case-insensitively.
    world = World()
    alice = answered_call(world)
    cdr = view(world, alice)
    assert cdr.get("campaign") is None
    cdr.set("Campaign", "spring")
    assert cdr.get("CAMPAIGN") == "spring"
    world.hangup(alice)
    assert ("Campaign", "spring") in world.records[0].variables


def test_userfield_accountcode_and_amaflags_are_writable() -> None:
    # func_cdr.c cdr_write: accountcode and amaflags go to the channel, userfield to the CDR.
    world = World()
    alice = answered_call(world)
    cdr = view(world, alice)
    cdr.set("userfield", "vip")
    cdr.set("accountcode", "acme")
    cdr.set("amaflags", "billing")
    cdr.set("peeraccount", "ignored")
    assert (cdr.get("userfield"), cdr.get("accountcode"), cdr.get("amaflags")) == ("vip", "acme", "BILLING")
    assert alice.accountcode == "acme"
    world.hangup(alice)
    record = world.records[0]
    assert (record.userfield, record.accountcode, record.amaflags_text, record.peeraccount) == (
        "vip", "acme", "BILLING", "")


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param("omit", "OMIT", id="omit"),
    pytest.param("BILLING", "BILLING", id="BILLING (any case)"),
    pytest.param("documentation", "DOCUMENTATION", id="documentation"),
    pytest.param("default", "DOCUMENTATION", id="default=DEFAULT_AMA_FLAGS"),
    pytest.param("1", "OMIT", id="1"),
    pytest.param("2x", "BILLING", id="2x (sscanf %d)"),
    pytest.param("7", "Unknown", id="7 (ast_channel_amaflags2string default)"),
    pytest.param("junk", "Unknown", id="junk=AST_AMA_NONE"),
])
def test_amaflags_values(value: str, expected: str) -> None:
    # func_cdr.c cdr_write (isdigit -> %30d, else ast_channel_string2amaflag); amaflags2string on read.
    world = World()
    alice = answered_call(world)
    view(world, alice).set("amaflags", value)
    world.hangup(alice)
    assert world.records[0].amaflags_text == expected


def test_amaflags_can_live_on_the_channel() -> None:
    # AMA flags are a channel property (spec "Fields": "A flag specified on the Party A channel");
    # with a reader the engine takes them from wherever CHANNEL(amaflags) keeps them.
    flags = {"value": 3}
    world = World(channel_amaflags=lambda channel: flags["value"])
    alice = answered_call(world)
    flags["value"] = 1
    assert view(world, alice).get("amaflags") == "OMIT"
    world.hangup(alice)
    assert world.records[0].amaflags_text == "OMIT"


def test_userfields_of_both_parties_are_joined() -> None:
    # spec "Fields": userfield set on Party A and Party B is concatenated with ';'.  Party B variables
    # are written unless Party A has one of the same name (spec "User Defined Fields").
    world = World()
    alice = world.inbound("alice", "100", "Alice", exten="200")
    world.app(alice, "Dial", "SIP/bob", exten="200")
    (bob,) = world.dial(alice, "bob")
    world.answer(bob)
    world.dial_end(alice, bob, "ANSWER")
    world.answer(alice)
    bridge = world.bridge(alice, bob)
    view(world, alice).set("userfield", "from-alice")
    view(world, bob).set("userfield", "from-bob")
    view(world, bob).set("shared", "bob")
    view(world, bob).set("bobonly", "yes")
    view(world, alice).set("shared", "alice")
    world.hangup(bob)
    world.unbridge(bridge, alice, bob)
    world.hangup(alice)
    record = world.records[0]
    assert record.userfield == "from-alice;from-bob"
    values = {name.lower(): value for name, value in record.variables}
    assert (values["shared"], values["bobonly"]) == ("alice", "yes")


# -- ForkCDR --------------------------------------------------------------------------------------------


def test_forkcdr_e_r_splits_the_call_at_the_fork() -> None:
    # app_forkcdr.c: e ends the original CDR, r sets start and answer of the new one to now.
    world = World()
    alice = answered_call(world)
    world.clock.advance(5)
    world.app(alice, "ForkCDR", "er")
    world.engine.fork(alice.name, "er")
    world.app(alice, "Playback", "tt-monkeys")
    world.clock.advance(10)
    world.hangup(alice)
    assert [(r.lastapp, r.start, r.answer, r.end, r.duration, r.billsec) for r in world.records] == [
        ("ForkCDR", EPOCH, EPOCH, EPOCH + 5, 5, 5),
        ("Playback", EPOCH + 5, EPOCH + 5, EPOCH + 15, 10, 10),
    ]
    assert world.records[1].sequence > world.records[0].sequence


def test_forkcdr_without_options_keeps_both_records_running() -> None:
    # ast_cdr_fork: the new CDR copies the start and answer times of the last one; both stay active.
    world = World()
    alice = answered_call(world)
    world.clock.advance(5)
    world.app(alice, "ForkCDR")
    world.engine.fork(alice.name)
    world.app(alice, "Playback", "beep")
    world.clock.advance(10)
    world.hangup(alice)
    assert [(r.lastapp, r.start, r.end, r.duration) for r in world.records] == [
        ("Playback", EPOCH, EPOCH + 15, 15), ("Playback", EPOCH, EPOCH + 15, 15)]


def test_forkcdr_a_sets_the_answer_time_of_the_new_record() -> None:
    world = World()
    alice = answered_call(world)
    world.clock.advance(4)
    world.app(alice, "ForkCDR", "a")
    world.engine.fork(alice.name, "a")
    world.clock.advance(6)
    world.hangup(alice)
    assert [(r.answer, r.billsec, r.duration) for r in world.records] == [(EPOCH, 10, 10), (EPOCH + 4, 6, 10)]


@pytest.mark.parametrize(("options", "kept"), [
    pytest.param("", False, id="no v: the fork starts without variables (ast_cdr_fork)"),
    pytest.param("v", True, id="v: the fork keeps the variables (AST_CDR_FLAG_KEEP_VARS)"),
])
def test_forkcdr_v_controls_variables(options: str, kept: bool) -> None:
    world = World()
    alice = answered_call(world)
    view(world, alice).set("plan", "gold")
    world.app(alice, "ForkCDR", options)
    world.engine.fork(alice.name, options)
    assert (view(world, alice).get("plan") == "gold") is kept
    world.hangup(alice)
    first, second = world.records
    assert ("plan", "gold") in first.variables
    assert (("plan", "gold") in second.variables) is kept


def test_forkcdr_fails_once_the_record_has_ended() -> None:
    # ast_cdr_fork refuses when the last CDR is in the Finalized state ("things are already dying"):
    # here the dial record, which hangup logic (endbeforehexten) does not replace with a new one.
    world = World()
    alice = world.inbound("alice", "100", "Alice", exten="200")
    world.app(alice, "Dial", "SIP/bob,5", exten="200")
    (bob,) = world.dial(alice, "bob")
    world.dial_end(alice, bob, "NOANSWER")
    world.hangup(bob)
    world.app(alice, "ForkCDR", exten="h")
    world.engine.fork(alice.name)
    assert world.engine.describe(alice.name) == [f"Finalized {alice.name} -> {bob.name}"]
    world.hangup(alice)
    assert len(world.records) == 1


def test_forkcdr_in_hangup_logic_after_a_single_record() -> None:
    # Hangup logic only ends a Single record (cdr_object_finalize, no state change), so ForkCDR in the
    # h extension still forks it; the fork ends when the next hangup-logic step is seen.
    world = World()
    alice = answered_call(world)
    world.clock.advance(3)
    world.app(alice, "ForkCDR", exten="h")
    world.engine.fork(alice.name)
    world.clock.advance(1)
    world.app(alice, "NoOp")
    world.hangup(alice)
    assert [(r.start, r.end) for r in world.records] == [(EPOCH, EPOCH + 3), (EPOCH, EPOCH + 4)]


# -- NoCDR, ResetCDR, CDR_PROP --------------------------------------------------------------------------


def test_nocdr_stops_this_and_later_records() -> None:
    # app_cdr.c NoCDR = ast_cdr_set_property(DISABLE_ALL); CDRs appended later inherit it
    # (cdr_object_create_and_append), so the dial and the voicemail after it are not written either.
    world = World(CdrOptions(unanswered=True))
    alice = world.inbound("alice", "100", "Alice", exten="200")
    world.app(alice, "NoCDR", exten="200")
    world.engine.disable(alice.name)
    assert world.engine.current(alice.name) is not None  # the CDR still exists and can be read
    world.app(alice, "Dial", "SIP/bob,5")
    (bob,) = world.dial(alice, "bob")
    world.clock.advance(5)
    world.dial_end(alice, bob, "NOANSWER")
    world.hangup(bob)
    world.app(alice, "VoiceMail", "200")
    world.answer(alice)
    world.hangup(alice)
    assert world.records == []


def test_resetcdr_e_reenables_and_restarts() -> None:
    # app_cdr.c ResetCDR: start (and answer, if up) become now; e clears the NoCDR flag.
    world = World()
    alice = answered_call(world)
    world.app(alice, "NoCDR")
    world.engine.disable(alice.name)
    world.clock.advance(7)
    world.app(alice, "ResetCDR", "e")
    world.engine.reset(alice.name, "e")
    world.clock.advance(3)
    world.hangup(alice)
    record = world.records[0]
    assert (record.start, record.answer, record.duration, record.billsec) == (EPOCH + 7, EPOCH + 7, 3, 3)


@pytest.mark.parametrize(("options", "kept"), [
    pytest.param("", False, id="variables wiped"),
    pytest.param("v", True, id="v keeps variables"),
])
def test_resetcdr_variables(options: str, kept: bool) -> None:
    world = World()
    alice = answered_call(world)
    view(world, alice).set("plan", "gold")
    world.engine.reset(alice.name, options)
    assert (view(world, alice).get("plan") == "gold") is kept


def test_cdr_prop_disable_and_enable() -> None:
    # func_cdr.c CDR_PROP(disable)=1/0 -> ast_cdr_set_property / ast_cdr_clear_property.
    world = World()
    alice = answered_call(world)
    assert world.engine.set_property(alice.name, "disable", True)
    assert world.engine.set_property(alice.name, "disable", False)
    assert not world.engine.set_property(alice.name, "bogus", True)
    world.hangup(alice)
    assert len(world.records) == 1


def _bridge_two_inbound(world: World, flag_second: bool) -> tuple[Channel, Channel]:
    alice = world.inbound("alice", "100", "Alice", exten="700")
    world.app(alice, "Answer", exten="700")
    world.answer(alice)
    world.clock.advance(1)
    charlie = world.inbound("charlie", "300", "Charlie", exten="701")
    world.app(charlie, "Answer", exten="701")
    world.answer(charlie)
    if flag_second:
        world.engine.set_property(charlie.name, "party_a", True)
    bridge = world.bridge(alice, charlie)
    world.clock.advance(10)
    world.hangup(alice)
    world.unbridge(bridge, alice, charlie)
    world.hangup(charlie)
    return alice, charlie


def test_older_channel_is_party_a_between_two_callers() -> None:
    # spec "Choosing the Party A channel": neither dialled nor flagged -> the oldest channel.
    world = World()
    alice, charlie = _bridge_two_inbound(world, flag_second=False)
    pairs = [(r.channel, r.dstchannel) for r in world.records]
    assert (alice.name, charlie.name) in pairs
    assert (charlie.name, alice.name) not in pairs


def test_party_a_flag_makes_a_channel_party_a() -> None:
    # spec: the party_a flag (CDR_PROP(party_a)=1) chooses Party A before creation time does.
    world = World()
    alice, charlie = _bridge_two_inbound(world, flag_second=True)
    pairs = [(r.channel, r.dstchannel) for r in world.records]
    assert (charlie.name, alice.name) in pairs
    assert (alice.name, charlie.name) not in pairs
