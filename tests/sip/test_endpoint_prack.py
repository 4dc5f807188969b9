"""Reliable provisional responses (RFC 3262) on both sides of the endpoint.

UAS (§3): a provisional to an INVITE that requires 100rel carries Require: 100rel and RSeq, is
retransmitted from T1 doubling until its PRACK, the next one waits for that PRACK, a 2xx may not overtake an
unacknowledged provisional that carried SDP, and no PRACK within 64*T1 rejects the INVITE with a 5xx.
UAC (§4): a reliable provisional is answered by a PRACK in its early dialog with RAck = RSeq, CSeq
number and method of the INVITE; a retransmission of it (same RSeq) is discarded.
"""

from __future__ import annotations

import pytest

from core.causes import HangupCause
from core.sip.message import SipRequest, SipUri
from core.sip.session import CallEnded, CallProgress
from core.sip.settings import SipTrunkSettings
from tests.sip.endpoint_harness import (
    ANSWER,
    Harness,
    Phone,
    PhoneCall,
    Sent,
    incoming_call,
    methods,
    statuses,
)

RELIABLE = ["Require: 100rel", "Supported: 100rel"]


@pytest.fixture
def harness() -> Harness:
    return Harness()


@pytest.fixture
def alice(harness: Harness) -> Phone:
    return Phone(harness, "1001")


def prack_for(call: PhoneCall, provisional: Sent, *, rseq: int | None = None) -> SipRequest:
    """The phone's PRACK for a reliable provisional (RFC 3262 §7.2 RAck: RSeq, CSeq number, method)."""
    response = provisional.response
    call.learn(response)
    number = rseq if rseq is not None else int(response.header("RSeq") or "0")
    return call.make_request("PRACK", headers=[f"RAck: {number} {response.cseq.number} INVITE"])


# -- UAS ------------------------------------------------------------------------------------------------------


def test_a_reliable_provisional_carries_rseq_and_stops_at_its_prack(harness: Harness, alice: Phone) -> None:
    call, sip_call = incoming_call(harness, alice, headers=RELIABLE)
    harness.endpoint.ring(sip_call, harness.now)
    (ringing,) = harness.drain()
    response = ringing.response
    assert response.status == 180 and response.header("RSeq") == "1"
    assert "100rel" in (response.header("Require") or "")
    assert response.to.tag and response.contacts
    again = alice.advance(2.0)
    assert [round(s.at - ringing.at, 6) for s in again] == [0.5, 1.5]
    assert all(s.data == ringing.data for s in again)
    sent = call.send(prack_for(call, ringing))
    assert [(s.method, s.status) for s in sent] == [("PRACK", 200)]
    assert alice.advance(40.0) == []
    assert harness.events() == [] and not sip_call.ended


def test_reliable_provisional_retransmissions_double_from_t1(harness: Harness, alice: Phone) -> None:
    _call, sip_call = incoming_call(harness, alice, headers=RELIABLE)
    harness.endpoint.ring(sip_call, harness.now)
    (ringing,) = harness.drain()
    times = [round(s.at - ringing.at, 6) for s in alice.advance(32.0) if s.status == 180]
    assert times == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]


def test_no_prack_within_64_t1_rejects_the_invite_with_a_5xx(harness: Harness, alice: Phone) -> None:
    call, sip_call = incoming_call(harness, alice, headers=RELIABLE)
    harness.endpoint.ring(sip_call, harness.now)
    (ringing,) = harness.drain()
    sent = alice.advance(40.0)
    finals = [s for s in sent if s.status >= 200]
    assert finals and 500 <= finals[0].status < 600
    assert finals[0].at - ringing.at == pytest.approx(32.0)  # at 64*T1
    (ended,) = harness.events()
    assert isinstance(ended, CallEnded) and ended.cause is HangupCause.RECOVERY_ON_TIMER_EXPIRE
    assert call.send(call.make_ack(finals[0].response)) == []
    assert harness.endpoint.live_calls == {}


def test_the_next_reliable_provisional_waits_for_the_prack(harness: Harness, alice: Phone) -> None:
    call, sip_call = incoming_call(harness, alice, headers=RELIABLE)
    harness.endpoint.ring(sip_call, harness.now)
    (ringing,) = harness.drain()
    harness.endpoint.ring(sip_call, harness.now, status=183, sdp=ANSWER)
    assert harness.drain() == []  # §3: not before the PRACK of the first
    call.send(prack_for(call, ringing))
    harness.endpoint.ring(sip_call, harness.now, status=183, sdp=ANSWER)
    (progress,) = harness.drain()
    assert progress.status == 183 and progress.response.header("RSeq") == "2"
    assert progress.response.body == ANSWER
    assert statuses(call.send(prack_for(call, progress))) == [200]


@pytest.mark.parametrize("rack", ["2 {cseq} INVITE", "1 99 INVITE", "1", ""])
def test_a_prack_that_matches_nothing_is_481(harness: Harness, alice: Phone, rack: str) -> None:
    call, sip_call = incoming_call(harness, alice, headers=RELIABLE)
    harness.endpoint.ring(sip_call, harness.now)
    (ringing,) = harness.drain()
    call.learn(ringing.response)
    headers = [f"RAck: {rack.format(cseq=ringing.response.cseq.number)}"] if rack else []
    assert statuses(call.send(call.make_request("PRACK", headers=headers))) == [481]
    assert [s.status for s in alice.advance(0.5)] == [180]  # still unacknowledged


def test_without_100rel_provisionals_are_not_reliable(harness: Harness, alice: Phone) -> None:
    _call, sip_call = incoming_call(harness, alice, headers=["Supported: timer"])
    harness.endpoint.ring(sip_call, harness.now)
    (ringing,) = harness.drain()
    assert ringing.response.header("RSeq") is None and ringing.response.header("Require") is None
    assert alice.advance(10.0) == []


def test_an_answer_before_the_prack_ends_the_provisional_not_the_call(harness: Harness, alice: Phone) -> None:
    call, sip_call = incoming_call(harness, alice, headers=RELIABLE)
    harness.endpoint.ring(sip_call, harness.now)
    harness.drain()
    harness.endpoint.answer(sip_call, ANSWER, harness.now)
    (ok,) = harness.drain()
    call.learn(ok.response)
    call.send(call.make_ack(ok.response))
    sent = alice.advance(40.0)
    assert [s.status for s in sent if s.status] == []
    assert harness.events() == [] and not sip_call.ended


def test_the_2xx_waits_for_the_prack_of_a_provisional_with_sdp(harness: Harness, alice: Phone) -> None:
    call, sip_call = incoming_call(harness, alice, headers=RELIABLE)
    harness.endpoint.ring(sip_call, harness.now, status=183, sdp=ANSWER)
    (progress,) = harness.drain()
    harness.endpoint.answer(sip_call, ANSWER, harness.now)
    assert [s.status for s in harness.drain()] == []
    sent = call.send(prack_for(call, progress))
    assert sorted(s.status for s in sent) == [200, 200]  # the PRACK's and, released, the INVITE's


# -- UAC ------------------------------------------------------------------------------------------------------

ITSP = ("198.51.100.7", 5060)


def test_we_prack_a_reliable_provisional_and_discard_its_retransmission() -> None:
    harness = Harness(trunks=(SipTrunkSettings(name="itsp", servers=(ITSP,)),))
    itsp = Phone(harness, "5551234", address=ITSP)
    call = harness.endpoint.invite(uri=SipUri.parse(f"sip:5551234@{ITSP[0]}"), destination=ITSP, from_user="1001",
                                   sdp=ANSWER, now=harness.now, trunk="itsp")
    (sent,) = harness.drain()
    invite = sent.request
    ringing = itsp.make_response(invite, 180, to_tag="bob", headers=["Require: 100rel", "RSeq: 7"])
    out = itsp.send(ringing)
    (prack,) = [s.request for s in out]
    assert prack.method == "PRACK"
    assert prack.header("RAck") == f"7 {invite.cseq.number} INVITE"
    assert prack.to.tag == "bob" and prack.from_.tag == invite.from_.tag and prack.call_id == invite.call_id
    assert prack.cseq.number == invite.cseq.number + 1
    assert str(prack.uri) == f"sip:5551234@{ITSP[0]}:{ITSP[1]}"  # the provisional's Contact
    (progress,) = harness.events()
    assert isinstance(progress, CallProgress) and progress.call is call and progress.status == 180
    assert itsp.send(itsp.make_response(prack, 200)) == []
    # The next one in order gets its own PRACK.
    out = itsp.send(itsp.make_response(invite, 183, to_tag="bob", headers=["Require: 100rel", "RSeq: 8"],
                                       body=ANSWER))
    (second,) = [s.request for s in out]
    assert second.header("RAck") == f"8 {invite.cseq.number} INVITE"
    assert second.cseq.number == prack.cseq.number + 1


def test_a_retransmitted_reliable_provisional_is_not_pracked_twice() -> None:
    harness = Harness(trunks=(SipTrunkSettings(name="itsp", servers=(ITSP,)),))
    itsp = Phone(harness, "5551234", address=ITSP)
    harness.endpoint.invite(uri=SipUri.parse(f"sip:5551234@{ITSP[0]}"), destination=ITSP, from_user="1001",
                            sdp=ANSWER, now=harness.now, trunk="itsp")
    (sent,) = harness.drain()
    ringing = itsp.make_response(sent.request, 180, to_tag="bob", headers=["Require: 100rel", "RSeq: 7"])
    assert methods(itsp.send(ringing)) == ["PRACK"]
    harness.events()
    assert methods(itsp.send(ringing)) == []
    assert harness.events() == []


def test_a_2xx_held_for_a_prack_that_never_comes_becomes_the_5xx(harness: Harness, alice: Phone) -> None:
    """RFC 3262 §3: the held 2xx never goes out; at 64*T1 the INVITE is rejected and the driver told."""
    call, sip_call = incoming_call(harness, alice, headers=RELIABLE)
    harness.endpoint.ring(sip_call, harness.now, status=183, sdp=ANSWER)
    (progress,) = harness.drain()
    harness.endpoint.answer(sip_call, ANSWER, harness.now)
    sent = alice.advance(40.0)
    assert [s.status for s in sent if s.status >= 200][:1] == [504]
    assert 200 not in [s.status for s in sent]
    (ended,) = harness.events()
    assert isinstance(ended, CallEnded) and ended.cause is HangupCause.RECOVERY_ON_TIMER_EXPIRE
    # A PRACK arriving afterwards finds nothing to acknowledge.
    assert statuses(call.send(prack_for(call, progress))) == [481]


def test_a_reliable_provisional_out_of_order_is_discarded() -> None:
    """RFC 3262 §4: only the RSeq one above the last one is PRACKed and processed."""
    harness = Harness(trunks=(SipTrunkSettings(name="itsp", servers=(ITSP,)),))
    itsp = Phone(harness, "5551234", address=ITSP)
    harness.endpoint.invite(uri=SipUri.parse(f"sip:5551234@{ITSP[0]}"), destination=ITSP, from_user="1001",
                            sdp=ANSWER, now=harness.now, trunk="itsp")
    (sent,) = harness.drain()
    invite = sent.request

    def reliable(status: int, rseq: int) -> list[Sent]:
        return itsp.send(itsp.make_response(invite, status, to_tag="bob", headers=["Require: 100rel", f"RSeq: {rseq}"]))

    assert methods(reliable(180, 7)) == ["PRACK"]
    assert methods(reliable(183, 9)) == []      # 8 is missing
    assert methods(reliable(183, 8)) == ["PRACK"]
    assert [e.status for e in harness.events() if isinstance(e, CallProgress)] == [180, 183]
