"""The CDR engine against the scenarios and rules of Asterisk 12+.

Expected values come from the docs.asterisk.org page "CDR Specification" (scenario tables, cited as
"spec: <scenario>") and from ``main/cdr.c`` (cited by function name).  Times are relative to the
spec's start time 2013-03-04 13:11:18 UTC (``EPOCH``).
"""

from __future__ import annotations

import pytest

from core.causes import HangupCause
from core.cdr import CdrOptions, Disposition
from tests.cdr.harness import EPOCH, World


def only(world: World):  # type: ignore[no-untyped-def]
    assert len(world.records) == 1, world.records
    return world.records[0]


# -- basic scenarios (spec tables) ----------------------------------------------------------------------


def test_basic_call_is_one_answered_record() -> None:
    # spec: "Basic Call" — Alice dials Bob, Bob answers after 8 s, talks 112 s and hangs up.
    world = World()
    alice, bob = world.basic_call()
    record = only(world)
    assert (record.clid, record.src, record.dst, record.dcontext) == ('"Alice" <100>', "100", "200", "default")
    assert (record.channel, record.dstchannel) == (alice.name, bob.name)
    assert (record.lastapp, record.lastdata) == ("Dial", "SIP/bob,,Tt")
    assert (record.start, record.answer, record.end) == (EPOCH, EPOCH + 8, EPOCH + 120)
    assert (record.duration, record.billsec) == (120, 112)
    assert (record.disposition_text, record.amaflags_text) == ("ANSWERED", "DOCUMENTATION")
    assert record.uniqueid == alice.uniqueid
    assert record.linkedid == alice.uniqueid


def test_unanswered_inbound_call_needs_the_unanswered_option() -> None:
    # spec: "Unanswered 'Inbound' Call" — NoOp, hang up after 2 s: NO ANSWER, duration 2, billsec 0.
    # post_cdr drops unanswered records without a Party B unless cdr.conf has unanswered=yes.
    for unanswered, expected in ((True, 1), (False, 0)):
        world = World(CdrOptions(unanswered=unanswered))
        alice = world.inbound("alice", "100", "Alice", exten="500")
        world.app(alice, "NoOp", exten="500")
        world.clock.advance(2)
        world.hangup(alice)
        assert len(world.records) == expected
    world = World(CdrOptions(unanswered=True))
    alice = world.inbound("alice", "100", "Alice", exten="500")
    world.app(alice, "NoOp", exten="500")
    world.clock.advance(2)
    world.hangup(alice)
    record = only(world)
    assert (record.dst, record.lastapp, record.dstchannel) == ("500", "NoOp", "")
    assert (record.answer, record.end, record.duration, record.billsec) == (None, EPOCH + 2, 2, 0)
    assert record.disposition_text == "NO ANSWER"


def test_single_party_call() -> None:
    # spec: "Single Party" — VoiceMailMain answers after 2 s, hang up at 60 s: ANSWERED 60/58, lastapp Hangup.
    world = World()
    alice = world.inbound("alice", "100", "Alice", exten="8500")
    world.clock.advance(2)
    world.app(alice, "VoiceMailMain", exten="8500")
    world.answer(alice)
    world.clock.advance(58)
    world.app(alice, "Hangup")
    world.hangup(alice)
    record = only(world)
    assert (record.lastapp, record.dstchannel) == ("Hangup", "")
    assert (record.duration, record.billsec, record.disposition_text) == (60, 58, "ANSWERED")


def test_unanswered_dial_is_written_without_the_unanswered_option() -> None:
    # spec: "Unanswered Dial" — Dial(SIP/bob,10,Tt) times out after 10 s: NO ANSWER, 10/0.
    # post_cdr keeps it because it has a Party B (dstchannel).
    world = World()
    alice = world.inbound("alice", "100", "Alice", exten="200")
    world.app(alice, "Dial", "SIP/bob,10,Tt", exten="200")
    (bob,) = world.dial(alice, "bob")
    world.ring(bob)
    world.clock.advance(10)
    world.dial_end(alice, bob, "NOANSWER")
    world.hangup(bob, HangupCause.NORMAL_CLEARING)
    world.hangup(alice)
    record = only(world)
    assert (record.dstchannel, record.lastapp, record.lastdata) == (bob.name, "Dial", "SIP/bob,10,Tt")
    assert (record.answer, record.end, record.duration, record.billsec) == (None, EPOCH + 10, 10, 0)
    assert record.disposition_text == "NO ANSWER"


def test_parallel_dial_gives_one_record_per_dialled_party() -> None:
    # spec: "Parallel Dial" — Dial(SIP/bob&IAX2/bob): the IAX2 phone answers after 10 s, talk 60 s.
    world = World()
    alice = world.inbound("alice", "100", "Alice", exten="200")
    world.app(alice, "Dial", "SIP/bob&IAX2/bob,,Tt", exten="200")
    desk, soft = world.dial(alice, "bob", "bobsoft")
    world.ring(desk)
    world.ring(soft)
    world.clock.advance(10)
    world.answer(soft)
    world.dial_end(alice, soft, "ANSWER")
    world.dial_end(alice, desk, "CANCEL")
    world.hangup(desk, HangupCause.ANSWERED_ELSEWHERE)
    world.answer(alice)
    bridge = world.bridge(alice, soft)
    world.clock.advance(60)
    world.hangup(alice)
    world.unbridge(bridge, alice, soft)
    world.hangup(soft)
    assert [(r.dstchannel, r.disposition_text, r.start, r.answer, r.end, r.duration, r.billsec)
            for r in world.records] == [
        (desk.name, "NO ANSWER", EPOCH, None, EPOCH + 10, 10, 0),
        (soft.name, "ANSWERED", EPOCH, EPOCH + 10, EPOCH + 70, 70, 60),
    ]
    first, second = world.records
    assert second.sequence > first.sequence
    assert first.lastdata == second.lastdata == "SIP/bob&IAX2/bob,,Tt"


def test_caller_answered_before_dial_bills_from_its_own_answer() -> None:
    # The record's answer is when Party A was answered (spec: field "answer"); a caller answered before
    # Dial keeps that time, so billsec includes the ringing (base_process_party_a, no new CDR on dial).
    world = World()
    alice = world.inbound("alice", "100", "Alice", exten="200")
    world.app(alice, "Answer", exten="200")
    world.answer(alice)
    world.clock.advance(1)
    world.app(alice, "Dial", "SIP/bob")
    (bob,) = world.dial(alice, "bob")
    world.clock.advance(5)
    world.answer(bob)
    world.dial_end(alice, bob, "ANSWER")
    bridge = world.bridge(alice, bob)
    world.clock.advance(30)
    world.hangup(alice)
    world.unbridge(bridge, alice, bob)
    world.hangup(bob)
    record = only(world)
    assert (record.answer, record.duration, record.billsec) == (EPOCH, 36, 36)
    assert record.lastapp == "Dial"


def test_dialplan_after_a_failed_dial_gets_a_new_record() -> None:
    # spec "Basic CDR Lifetime": if the dial fails the CDR is finalized and a caller that continues in
    # the dialplan gets a new one (here: voicemail after no answer).
    world = World()
    alice = world.inbound("alice", "100", "Alice", exten="200")
    world.app(alice, "Dial", "SIP/bob,20", exten="200")
    (bob,) = world.dial(alice, "bob")
    world.clock.advance(20)
    world.dial_end(alice, bob, "NOANSWER")
    world.hangup(bob)
    world.app(alice, "VoiceMail", "200@default")
    world.answer(alice)
    world.clock.advance(15)
    world.hangup(alice)
    assert [(r.lastapp, r.dstchannel, r.disposition_text, r.start, r.duration, r.billsec)
            for r in world.records] == [
        ("Dial", bob.name, "NO ANSWER", EPOCH, 20, 0),
        ("VoiceMail", "", "ANSWERED", EPOCH + 20, 15, 15),
    ]


def test_dialplan_after_the_bridge_ends_gets_a_new_record() -> None:
    # spec "Creation": a CDR is created "whenever a channel leaves a bridge and is not hung up"; the
    # caller running Hangup() after Dial returns has a second (answered, zero-length) record.
    world = World()
    alice = world.inbound("alice", "100", "Alice", exten="200")
    world.app(alice, "Dial", "SIP/bob", exten="200")
    (bob,) = world.dial(alice, "bob")
    world.answer(bob)
    world.dial_end(alice, bob, "ANSWER")
    world.answer(alice)
    bridge = world.bridge(alice, bob)
    world.clock.advance(30)
    world.hangup(bob)
    world.unbridge(bridge, alice, bob)
    world.app(alice, "Hangup")
    world.hangup(alice)
    assert [(r.lastapp, r.dstchannel, r.disposition_text, r.duration) for r in world.records] == [
        ("Dial", bob.name, "ANSWERED", 30),
        ("Hangup", "", "ANSWERED", 0),
    ]


def test_dialled_legs_never_have_records_of_their_own() -> None:
    # cdr_object_create_public_records: a dialled Party A without a Party B is discarded, even with
    # unanswered=yes.
    world = World(CdrOptions(unanswered=True))
    world.basic_call()
    assert [r.channel for r in world.records] == [world.records[0].channel]
    assert world.records[0].channel.startswith("SIP/alice")


def test_bridge_order_does_not_matter() -> None:
    # Party A is chosen by the rules of "Choosing the Party A channel" (a dialled channel is never
    # Party A), whichever channel enters the bridge first.
    world = World()
    alice = world.inbound("alice", "100", "Alice", exten="200")
    world.app(alice, "Dial", "SIP/bob", exten="200")
    (bob,) = world.dial(alice, "bob")
    world.clock.advance(3)
    world.answer(bob)
    world.dial_end(alice, bob, "ANSWER")
    world.answer(alice)
    bridge = world.bridge(bob, alice)
    world.clock.advance(7)
    world.hangup(bob)
    world.unbridge(bridge, bob, alice)
    world.hangup(alice)
    record = only(world)
    assert (record.channel, record.dstchannel, record.duration, record.billsec) == (alice.name, bob.name, 10, 7)


# -- dispositions ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "congestion", "expected"), [
    pytest.param("BUSY", False, Disposition.BUSY, id="BUSY->BUSY (dial_status_to_disposition)"),
    pytest.param("NOANSWER", False, Disposition.NO_ANSWER, id="NOANSWER->NO ANSWER"),
    pytest.param("CANCEL", False, Disposition.NO_ANSWER, id="CANCEL->NO ANSWER"),
    pytest.param("CONGESTION", False, Disposition.FAILED, id="CONGESTION->FAILED (congestion=no)"),
    pytest.param("CONGESTION", True, Disposition.CONGESTION, id="CONGESTION->CONGESTION (congestion=yes)"),
    pytest.param("CHANUNAVAIL", False, Disposition.FAILED, id="CHANUNAVAIL->FAILED (unknown status)"),
    pytest.param("FAILED", False, Disposition.FAILED, id="FAILED->FAILED"),
])
def test_dial_status_decides_the_disposition(status: str, congestion: bool, expected: Disposition) -> None:
    # spec "Dispositions", "Dial Status Mapping" column; main/cdr.c dial_status_to_disposition.
    world = World(CdrOptions(congestion=congestion))
    alice = world.inbound("alice", "100", "Alice", exten="200")
    world.app(alice, "Dial", "SIP/bob", exten="200")
    (bob,) = world.dial(alice, "bob")
    world.clock.advance(3)
    world.dial_end(alice, bob, status)
    world.hangup(bob, HangupCause.USER_BUSY)
    world.hangup(alice)
    record = only(world)
    assert record.disposition == expected
    assert record.disposition_text == expected.label


@pytest.mark.parametrize(("cause", "congestion", "expected"), [
    pytest.param(HangupCause.USER_BUSY, False, Disposition.BUSY, id="17 AST_CAUSE_BUSY->BUSY"),
    pytest.param(HangupCause.NORMAL_CIRCUIT_CONGESTION, False, Disposition.FAILED, id="34->FAILED"),
    pytest.param(HangupCause.NORMAL_CIRCUIT_CONGESTION, True, Disposition.CONGESTION, id="34->CONGESTION"),
    pytest.param(HangupCause.NO_ROUTE_DESTINATION, False, Disposition.FAILED, id="3->FAILED"),
    pytest.param(HangupCause.SUBSCRIBER_ABSENT, False, Disposition.FAILED, id="20 UNREGISTERED->FAILED"),
    pytest.param(HangupCause.NORMAL_CLEARING, False, Disposition.NO_ANSWER, id="16->NO ANSWER"),
    pytest.param(HangupCause.NO_ANSWER, False, Disposition.NO_ANSWER, id="19->NO ANSWER"),
    pytest.param(HangupCause.CALL_REJECTED, False, Disposition.NULL, id="21 unmapped->NULL (NO ANSWER)"),
])
def test_hangup_cause_decides_the_disposition_of_unanswered_calls(
        cause: HangupCause, congestion: bool, expected: Disposition) -> None:
    # spec "Hangup Cause Mapping" column; main/cdr.c cdr_object_set_disposition (unmapped causes leave
    # AST_CDR_NULL, printed "NO ANSWER", number 1).
    world = World(CdrOptions(unanswered=True, congestion=congestion))
    alice = world.inbound("alice", "100", "Alice", exten="500")
    world.app(alice, "Progress", exten="500")
    world.clock.advance(1)
    world.hangup(alice, cause)
    record = only(world)
    assert record.disposition == expected
    assert record.disposition_text == {Disposition.NULL: "NO ANSWER"}.get(expected, expected.label)


def test_busy_peer_hanging_up_before_the_dial_ends() -> None:
    # cdr_object_finalize: with no answer and Party A still up, Party B's hangup cause (17) decides;
    # the DialEnd that follows finds the record already finished (dial_state_process_party_b).
    world = World()
    alice = world.inbound("alice", "100", "Alice", exten="200")
    world.app(alice, "Dial", "SIP/bob", exten="200")
    (bob,) = world.dial(alice, "bob")
    world.clock.advance(2)
    world.hangup(bob, HangupCause.USER_BUSY)
    world.dial_end(alice, bob, "BUSY")
    world.app(alice, "Busy")
    world.clock.advance(5)
    world.hangup(alice)
    assert [(r.lastapp, r.dstchannel, r.disposition_text, r.duration) for r in world.records] == [
        ("Dial", bob.name, "BUSY", 2)]


def test_channeldefaultenabled_no_disables_new_channels() -> None:
    # cdr.conf channeldefaultenabled=no: CDRs of new channels start disabled; CDR_PROP(disable)=0
    # turns them on.
    world = World(CdrOptions(channel_default_enabled=False))
    alice = world.inbound("alice", "100", "Alice", exten="600")
    world.app(alice, "Answer", exten="600")
    world.answer(alice)
    world.hangup(alice)
    assert world.records == []
    carol = world.inbound("carol", "300", "Carol", exten="600")
    world.app(carol, "Answer", exten="600")
    world.answer(carol)
    world.engine.set_property(carol.name, "disable", False)
    world.hangup(carol)
    assert [r.channel for r in world.records] == [carol.name]


def test_congestion_is_not_an_unanswered_call() -> None:
    # spec "Terminology": unanswered means neither ANSWERED nor CONGESTION; post_cdr compares the
    # disposition with AST_CDR_ANSWERED (8) and CONGESTION is 16, so it is written with unanswered=no.
    world = World(CdrOptions(unanswered=False, congestion=True))
    alice = world.inbound("alice", "100", "Alice", exten="500")
    world.app(alice, "Congestion", exten="500")
    world.hangup(alice, HangupCause.NORMAL_CIRCUIT_CONGESTION)
    assert only(world).disposition_text == "CONGESTION"
    world = World(CdrOptions(unanswered=False, congestion=False))
    alice = world.inbound("alice", "100", "Alice", exten="500")
    world.app(alice, "Congestion", exten="500")
    world.hangup(alice, HangupCause.NORMAL_CIRCUIT_CONGESTION)
    assert world.records == []


def test_answered_calls_stay_answered_whatever_the_cause() -> None:
    # spec "Dispositions": once answered, the hangup cause no longer changes the disposition.
    world = World()
    alice = world.inbound("alice", "100", "Alice", exten="600")
    world.app(alice, "Answer", exten="600")
    world.answer(alice)
    world.hangup(alice, HangupCause.USER_BUSY)
    assert only(world).disposition_text == "ANSWERED"


# -- durations ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("talk", "initiated", "billsec"), [
    pytest.param(10.5, False, 10, id="10.5s->10 (truncated)"),
    pytest.param(10.5, True, 11, id="10.5s->11 (initiatedseconds, >=500ms)"),
    pytest.param(10.499, True, 10, id="10.499s->10 (initiatedseconds, <500ms)"),
    pytest.param(9.999, False, 9, id="9.999s->9"),
])
def test_billsec_rounding(talk: float, initiated: bool, billsec: int) -> None:
    # main/cdr.c cdr_object_get_billsec: ms/1000, plus one when ms%1000 >= 500 with initiatedseconds.
    world = World(CdrOptions(initiated_seconds=initiated))
    alice = world.inbound("alice", "100", "Alice", exten="600")
    world.app(alice, "Answer", exten="600")
    world.answer(alice)
    world.clock.advance(talk)
    world.hangup(alice)
    record = only(world)
    assert record.billsec == billsec
    assert record.duration == int(talk)  # cdr_object_get_duration never rounds up


# -- hangup logic ---------------------------------------------------------------------------------------


def _call_with_h_extension(world: World) -> None:
    alice = world.inbound("alice", "100", "Alice", exten="600")
    world.app(alice, "Answer", exten="600")
    world.answer(alice)
    world.clock.advance(10)
    world.app(alice, "Hangup")
    # Hangup() returns; the executor runs the h extension before hanging the leg up.
    world.app(alice, "NoOp", "in h", exten="h")
    world.clock.advance(5)
    world.app(alice, "Set", "CDR(userfield)=from-h")
    world.engine.current(alice.name).set("userfield", "from-h")  # type: ignore[union-attr]
    world.hangup(alice)


def test_endbeforehexten_yes_ends_the_record_when_the_h_extension_starts() -> None:
    # cdr.conf endbeforehexten (default yes): hangup logic does not change the record (lastapp stays
    # Hangup, end time is when h started), but CDR(userfield) set in h still reaches it
    # (ast_cdr_setuserfield updates the last, finalized, CDR).
    world = World(CdrOptions(end_before_h_exten=True))
    _call_with_h_extension(world)
    record = only(world)
    assert (record.lastapp, record.dst, record.end, record.duration) == ("Hangup", "600", EPOCH + 10, 10)
    assert record.userfield == "from-h"


def test_endbeforehexten_no_records_the_h_extension() -> None:
    # cdr.conf endbeforehexten=no: the record runs through the h extension (dst "h", lastapp from h).
    world = World(CdrOptions(end_before_h_exten=False))
    _call_with_h_extension(world)
    record = only(world)
    assert (record.lastapp, record.lastdata, record.dst, record.duration) == ("Set", "CDR(userfield)=from-h", "h",
                                                                               15)
    assert record.userfield == "from-h"


def test_records_wait_for_hangup_logic_after_a_remote_hangup_when_asked() -> None:
    # Asterisk dispatches a channel's CDRs when it is destroyed, after its h extension: CDR() in h works.
    world = World(runs_hangup_logic=lambda name: name.startswith("SIP/alice"))
    alice = world.inbound("alice", "100", "Alice", exten="600")
    world.app(alice, "Answer", exten="600")
    world.answer(alice)
    world.clock.advance(10)
    world.hangup(alice)
    assert world.records == []
    world.app(alice, "Set", "CDR(userfield)=late", exten="h")
    view = world.engine.current(alice.name)
    assert view is not None and view.get("billsec") == "10"
    view.set("userfield", "late")
    world.engine.hangup_logic_done(alice.name)
    record = only(world)
    assert (record.userfield, record.lastapp, record.billsec) == ("late", "Answer", 10)


def test_records_are_written_at_hangup_by_default() -> None:
    # Without a hangup-logic hook the record is written while the hang-up event is processed.
    world = World()
    alice = world.inbound("alice", "100", "Alice", exten="600")
    world.app(alice, "Answer", exten="600")
    world.answer(alice)
    world.hangup(alice)
    assert len(world.records) == 1
    assert world.engine.current(alice.name) is None


def test_records_are_right_with_many_calls_up_at_once_and_nothing_is_kept_after() -> None:
    # Party B lookups run on every channel update: with 50 calls overlapping, each call's record still
    # names its own parties, and once every channel is gone the engine keeps nothing of them.
    world = World()
    calls = []
    for index in range(50):
        caller = world.inbound(f"caller{index}", str(1000 + index), "", exten=str(2000 + index))
        world.app(caller, "Dial", f"SIP/callee{index}", exten=str(2000 + index))
        (callee,) = world.dial(caller, f"callee{index}")
        world.answer(callee)
        world.dial_end(caller, callee, "ANSWER")
        world.answer(caller)
        calls.append((caller, callee, world.bridge(caller, callee)))
    world.clock.advance(10)
    for caller, callee, bridge in reversed(calls):
        world.hangup(callee)
        world.unbridge(bridge, caller, callee)
        world.hangup(caller)
    assert sorted((r.channel, r.dstchannel, r.dst) for r in world.records) == sorted(
        (caller.name, callee.name, str(2000 + index)) for index, (caller, callee, _) in enumerate(calls))
    machine = world.engine._machine
    assert machine.chains == {} and machine._party_b_chains == {} and machine._order == {}
