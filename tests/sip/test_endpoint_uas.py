"""The endpoint as the callee (UAS) of an INVITE: challenge, provisionals, 2xx until the ACK, CANCEL, BYE.

RFC 3261 §8.2.6 (responses), §13.3 (UAS processing of INVITE), §13.3.1.4 (2xx retransmission and the BYE
when no ACK comes), §9.2 (CANCEL), §15 (BYE), §12.1.1 (UAS dialog), §22 (digest), RFC 3326 (Reason).
Everything is asserted on what leaves the endpoint or on the events the channel driver sees.
"""

from __future__ import annotations

import pytest

from core.causes import HangupCause
from core.sip.session import CallEnded, CallState, IncomingCall
from tests.sip.endpoint_harness import (
    ANSWER,
    GATEWAY,
    OFFER,
    Harness,
    Phone,
    answered_call,
    incoming_call,
    pick_challenge,
    statuses,
)


@pytest.fixture
def harness() -> Harness:
    return Harness()


@pytest.fixture
def alice(harness: Harness) -> Phone:
    return Phone(harness, "1001")


# -- authentication ---------------------------------------------------------------------------------------------


def test_an_invite_without_credentials_is_challenged(harness: Harness, alice: Phone) -> None:
    call = alice.new_call("1002")
    (sent,) = call.send(call.make_invite())
    response = sent.response
    assert response.status == 401
    assert response.to.tag  # §8.2.6.2: a final response carries a To tag
    assert response.call_id == call.call_id and response.cseq.number == 1
    challenges = response.header_values("WWW-Authenticate")
    algorithms = [pick_challenge(response, a)["algorithm"] for a in ("MD5", "SHA-256")]
    assert algorithms == ["MD5", "SHA-256"] and len(challenges) == 2
    for algorithm in ("MD5", "SHA-256"):
        params = pick_challenge(response, algorithm)
        assert params["realm"] == "centralita" and params["qop"] == "auth" and params["nonce"]
    assert harness.events() == []


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_authenticated_invite_rings_and_is_answered(harness: Harness, alice: Phone, algorithm: str) -> None:
    call = alice.new_call("1002")
    assert call.call(algorithm=algorithm) == []  # nothing yet: 100 Trying only after 200 ms of silence
    (event,) = harness.events()
    assert isinstance(event, IncomingCall)
    sip_call = event.call
    assert (sip_call.user, sip_call.context, sip_call.dnid) == ("1001", "internal", "1002")
    assert sip_call.caller.number == "1001" and sip_call.caller.name == "Alice"
    assert sip_call.remote_sdp == OFFER

    (trying,) = alice.advance(0.2)  # §17.2.1
    assert trying.status == 100 and trying.response.to.tag is None
    assert trying.response.cseq.number == 2

    harness.endpoint.ring(sip_call, harness.now)
    (ringing,) = harness.drain()
    assert ringing.status == 180 and ringing.destination == alice.address
    tag = ringing.response.to.tag
    assert tag and ringing.response.contacts

    harness.endpoint.ring(sip_call, harness.now, status=183, sdp=ANSWER)
    (progress,) = harness.drain()
    assert progress.status == 183 and progress.response.to.tag == tag
    assert progress.response.content_type == "application/sdp" and progress.response.body == ANSWER

    harness.endpoint.answer(sip_call, ANSWER, harness.now)
    (ok,) = harness.drain()
    response = ok.response
    assert response.status == 200 and response.to.tag == tag
    assert response.body == ANSWER and response.content_type == "application/sdp"
    assert str(response.contacts[0].uri).startswith(f"sip:centralita@{GATEWAY[0]}:{GATEWAY[1]}")
    assert call.invite is not None
    assert [v.branch for v in response.vias] == [call.invite.vias[0].branch]  # §8.2.6.2
    call.learn(response)
    assert call.send(call.make_ack(response)) == []
    assert sip_call.state is CallState.CONFIRMED


# -- 2xx retransmission (§13.3.1.4) ---------------------------------------------------------------------------------


def test_the_2xx_is_retransmitted_at_t1_doubling_to_t2_until_the_ack(harness: Harness, alice: Phone) -> None:
    call, sip_call = incoming_call(harness, alice)
    alice.advance(0.2)  # 100 Trying
    answered_at = harness.now
    harness.endpoint.answer(sip_call, ANSWER, harness.now)
    (ok,) = harness.drain()
    sent = alice.advance(20.0)
    times = [round(s.at - answered_at, 6) for s in sent]
    assert all(s.status == 200 and s.data == ok.data for s in sent)
    assert times == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5]
    call.learn(ok.response)
    call.send(call.make_ack(ok.response))
    assert alice.advance(60.0) == []
    assert sip_call.state is CallState.CONFIRMED and harness.events() == []


def test_no_ack_within_64_t1_ends_the_call_with_a_bye(harness: Harness, alice: Phone) -> None:
    call, sip_call = incoming_call(harness, alice)
    harness.endpoint.answer(sip_call, ANSWER, harness.now)
    harness.drain()
    sent = alice.advance(40.0)
    byes = [s for s in sent if s.method == "BYE" and not s.status]
    assert byes, sent
    bye = byes[0].request
    assert bye.header("Reason") == 'Q.850;cause=102;text="Recover on timer expiry"'
    assert bye.call_id == call.call_id and bye.to.tag == call.local_tag
    (ended,) = [e for e in harness.events() if isinstance(e, CallEnded)]
    assert ended.cause is HangupCause.RECOVERY_ON_TIMER_EXPIRE
    # The phone answers the BYE; nothing of the call remains.
    alice.send(alice.make_response(bye, 200))
    assert harness.endpoint.live_calls == {}


def test_the_bye_for_a_missing_ack_leaves_at_64_t1(harness: Harness, alice: Phone) -> None:
    _call, sip_call = incoming_call(harness, alice)
    answered_at = harness.now
    harness.endpoint.answer(sip_call, ANSWER, harness.now)
    harness.drain()
    sent = alice.advance(40.0)
    (first_bye,) = [s for s in sent if s.method == "BYE" and not s.status][:1]
    assert first_bye.at - answered_at == pytest.approx(64 * 0.5)


def test_over_tcp_the_2xx_is_not_retransmitted_but_the_ack_is_still_awaited() -> None:
    harness = Harness()
    alice = Phone(harness, "1001", transport="tcp")
    _call, sip_call = incoming_call(harness, alice)
    harness.endpoint.answer(sip_call, ANSWER, harness.now)
    (ok,) = harness.drain()
    assert ok.transport == "tcp"
    sent = alice.advance(40.0)
    assert [s.status for s in sent if s.status == 200] == []
    assert [s.method for s in sent if not s.status] == ["BYE"]
    assert sent[0].at - ok.at == pytest.approx(32.0)


# -- refusing, CANCEL ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("cause", "status"), [
    (HangupCause.USER_BUSY, 486),
    (HangupCause.NORMAL_CIRCUIT_CONGESTION, 503),
    (HangupCause.UNALLOCATED, 404),
    (HangupCause.NO_ANSWER, 480),
    (HangupCause.CALL_REJECTED, 403),
    (HangupCause.INVALID_NUMBER_FORMAT, 484),
    (HangupCause.NO_USER_RESPONSE, 408),
])
def test_refusing_an_unanswered_call_maps_the_cause_rfc_3398(harness: Harness, alice: Phone,
                                                             cause: HangupCause, status: int) -> None:
    call, sip_call = incoming_call(harness, alice)
    harness.endpoint.hangup(sip_call, cause, harness.now)
    (sent,) = harness.drain()
    assert sent.status == status
    assert sent.response.header("Reason") == f'Q.850;cause={int(cause)};text="{cause.description}"'
    # The ACK of a non-2xx is the transaction's: it stops the retransmissions and is not an event.
    assert call.send(call.make_ack(sent.response)) == []
    assert alice.advance(40.0) == []
    assert harness.events() == [] and harness.endpoint.live_calls == {}


def test_cancel_before_answer(harness: Harness, alice: Phone) -> None:
    call, sip_call = incoming_call(harness, alice)
    harness.endpoint.ring(sip_call, harness.now)
    (ringing,) = harness.drain()
    sent = call.send(call.make_cancel())
    assert statuses(sent) == [200, 487]
    ok, terminated = sent[0].response, sent[1].response
    assert ok.cseq.method == "CANCEL" and terminated.cseq.method == "INVITE"
    assert ok.to.tag == ringing.response.to.tag == terminated.to.tag  # §9.2
    (ended,) = harness.events()
    assert isinstance(ended, CallEnded) and ended.call is sip_call
    assert ended.cause is HangupCause.NORMAL_CLEARING
    assert call.send(call.make_ack(terminated)) == []
    assert alice.advance(40.0) == []
    # Answering afterwards sends nothing: the call is over.
    harness.endpoint.answer(sip_call, ANSWER, harness.now)
    assert harness.drain() == []


def test_cancel_with_a_reason_gives_its_cause(harness: Harness, alice: Phone) -> None:
    call, _sip_call = incoming_call(harness, alice)
    cancel = call.make_cancel()
    cancel.add_header("Reason", 'Q.850;cause=26;text="Answered elsewhere"')
    call.send(cancel)
    (ended,) = harness.events()
    assert isinstance(ended, CallEnded) and ended.cause is HangupCause.ANSWERED_ELSEWHERE


def test_cancel_that_matches_nothing_is_481(harness: Harness, alice: Phone) -> None:
    call = alice.new_call("1002")
    call.make_invite()  # never sent
    assert statuses(call.send(call.make_cancel())) == [481]


def test_cancel_after_the_answer_changes_nothing(harness: Harness, alice: Phone) -> None:
    call, sip_call = incoming_call(harness, alice)
    harness.endpoint.answer(sip_call, ANSWER, harness.now)
    harness.drain()
    assert statuses(call.send(call.make_cancel())) == [200]
    assert harness.events() == [] and not sip_call.ended


# -- BYE (§15) ---------------------------------------------------------------------------------------------------


def test_bye_from_the_phone_ends_the_call(harness: Harness, alice: Phone) -> None:
    call, sip_call = answered_call(harness, alice)
    bye = call.make_request("BYE")
    assert statuses(call.send(bye)) == [200]
    (ended,) = harness.events()
    assert isinstance(ended, CallEnded) and ended.cause is HangupCause.NORMAL_CLEARING
    assert harness.endpoint.live_calls == {}
    # A retransmitted BYE is answered again by the transaction, not seen twice.
    assert statuses(call.send(bye)) == [200]
    assert harness.events() == []


@pytest.mark.parametrize(("reason", "cause"), [
    ('Q.850;cause=17;text="User busy"', HangupCause.USER_BUSY),
    ("Q.850;cause=34", HangupCause.NORMAL_CIRCUIT_CONGESTION),
    ('SIP;cause=200;text="Call completed elsewhere", Q.850;cause=26', HangupCause.ANSWERED_ELSEWHERE),
])
def test_the_reason_of_a_bye_gives_the_cause(harness: Harness, alice: Phone, reason: str,
                                             cause: HangupCause) -> None:
    call, _sip_call = answered_call(harness, alice)
    call.send(call.make_request("BYE", headers=[f"Reason: {reason}"]))
    (ended,) = harness.events()
    assert isinstance(ended, CallEnded) and ended.cause is cause


def test_a_bye_with_only_a_sip_reason_is_normal_clearing(harness: Harness, alice: Phone) -> None:
    call, _sip_call = answered_call(harness, alice)
    call.send(call.make_request("BYE", headers=['Reason: SIP;cause=200;text="Call completed elsewhere"']))
    (ended,) = harness.events()
    assert isinstance(ended, CallEnded) and ended.cause is HangupCause.NORMAL_CLEARING


def test_bye_for_an_unknown_dialog_is_481(harness: Harness, alice: Phone) -> None:
    call = alice.new_call("1002")
    call.remote_tag = "nosuchdialog"
    assert statuses(call.send(call.make_request("BYE"))) == [481]


@pytest.mark.parametrize(("cause", "text"), [
    (HangupCause.NORMAL_CLEARING, "Normal Clearing"),
    (HangupCause.USER_BUSY, "User busy"),
    (HangupCause.NORMAL_TEMPORARY_FAILURE, "Temporary failure"),
])
def test_our_bye_has_the_next_cseq_and_the_reason(harness: Harness, alice: Phone, cause: HangupCause,
                                                  text: str) -> None:
    call, sip_call = answered_call(harness, alice)
    assert harness.endpoint.send_dtmf_info(sip_call, "5", 100, harness.now)
    (info,) = harness.drain()
    alice.send(alice.make_response(info.request, 200))
    harness.endpoint.hangup(sip_call, cause, harness.now)
    (sent,) = harness.drain()
    bye = sent.request
    assert bye.method == "BYE" and sent.destination == alice.address
    assert bye.cseq.number == info.request.cseq.number + 1  # §12.2.1.1: our own CSeq space, one up
    assert str(bye.uri) == f"sip:1001@{alice.address[0]}:{alice.address[1]}"  # the phone's Contact
    assert bye.from_.tag == call.remote_tag and bye.to.tag == call.local_tag
    assert bye.call_id == call.call_id and len(bye.vias) == 1
    assert bye.header("Reason") == f'Q.850;cause={int(cause)};text="{text}"'
    alice.send(alice.make_response(bye, 200))
    assert harness.events() == []  # our own hang-up is not reported back
    assert harness.endpoint.live_calls == {}


def test_bye_follows_the_record_route_in_order(harness: Harness, alice: Phone) -> None:
    """§12.1.1: the UAS route set is the Record-Route list in order; §12.2.1.1: loose routes become Route."""
    rr = ["Record-Route: <sip:p1.example.net;lr>", "Record-Route: <sip:p2.example.net;lr>"]
    call, sip_call = incoming_call(harness, alice, headers=rr)
    harness.endpoint.answer(sip_call, ANSWER, harness.now)
    (ok,) = harness.drain()
    call.route_set = ["<sip:p2.example.net;lr>", "<sip:p1.example.net;lr>"]  # the phone's view (reversed)
    call.remote_tag = ok.response.to.tag
    call.send(call.make_ack(ok.response))
    harness.endpoint.hangup(sip_call, HangupCause.NORMAL_CLEARING, harness.now)
    (bye,) = harness.drain()
    assert bye.request.header_values("Route") == ["<sip:p1.example.net;lr>", "<sip:p2.example.net;lr>"]
    assert str(bye.request.uri) == f"sip:1001@{alice.address[0]}:{alice.address[1]}"


@pytest.mark.parametrize("status", [180, 200])
def test_dialog_creating_responses_copy_the_record_route(harness: Harness, alice: Phone, status: int) -> None:
    rr = ["Record-Route: <sip:p1.example.net;lr>", "Record-Route: <sip:p2.example.net;lr>"]
    _call, sip_call = incoming_call(harness, alice, headers=rr)
    if status == 180:
        harness.endpoint.ring(sip_call, harness.now)
    else:
        harness.endpoint.answer(sip_call, ANSWER, harness.now)
    (sent,) = harness.drain()
    assert sent.response.header_values("Record-Route") == ["<sip:p1.example.net;lr>", "<sip:p2.example.net;lr>"]


def test_the_callee_waits_for_the_ack_before_its_bye(harness: Harness, alice: Phone) -> None:
    call, sip_call = incoming_call(harness, alice)
    harness.endpoint.answer(sip_call, ANSWER, harness.now)
    (ok,) = harness.drain()
    harness.endpoint.hangup(sip_call, HangupCause.NORMAL_CLEARING, harness.now)
    assert [s for s in harness.drain() if s.method == "BYE"] == []
    call.learn(ok.response)
    sent = call.send(call.make_ack(ok.response))
    assert [s.request.method for s in sent] == ["BYE"]


def test_bye_in_an_early_dialog_terminates_the_invite(harness: Harness, alice: Phone) -> None:
    """§15: the caller may BYE an early dialog; the pending INVITE is then answered 487 (§15.1.2)."""
    call, sip_call = incoming_call(harness, alice)
    harness.endpoint.ring(sip_call, harness.now)
    (ringing,) = harness.drain()
    call.learn(ringing.response)
    sent = call.send(call.make_request("BYE"))
    assert sorted((s.method, s.status) for s in sent) == [("BYE", 200), ("INVITE", 487)]
    assert harness.endpoint.live_calls == {}


def test_bye_in_an_early_dialog_is_reported_to_the_driver(harness: Harness, alice: Phone) -> None:
    call, sip_call = incoming_call(harness, alice)
    harness.endpoint.ring(sip_call, harness.now)
    (ringing,) = harness.drain()
    call.learn(ringing.response)
    call.send(call.make_request("BYE"))
    (ended,) = harness.events()
    assert isinstance(ended, CallEnded) and ended.call is sip_call


def test_a_request_with_a_lower_cseq_is_500(harness: Harness, alice: Phone) -> None:
    """§12.2.2: a request whose CSeq is below the remote sequence number is out of order."""
    call, _sip_call = answered_call(harness, alice)
    sent = call.send(call.make_request("INFO", cseq=1, body=b"Signal=5\r\nDuration=100\r\n",
                                       content_type="application/dtmf-relay"))
    assert statuses(sent) == [500]
    assert harness.events() == []


# -- requests outside a dialog ---------------------------------------------------------------------------------


def test_options_outside_a_dialog_lists_the_capabilities(harness: Harness, alice: Phone) -> None:
    call = alice.new_call("1002")
    (sent,) = call.send(call.make_request("OPTIONS"))
    response = sent.response
    assert response.status == 200
    allow = {m.strip() for m in (response.header("Allow") or "").split(",")}
    assert {"INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "INFO", "UPDATE", "PRACK", "REFER"} <= allow
    assert "application/sdp" in (response.header("Accept") or "")
    assert {"100rel", "timer"} <= {t.strip() for t in (response.header("Supported") or "").split(",")}


@pytest.mark.parametrize(("method", "status"), [("SUBSCRIBE", 405), ("MESSAGE", 405), ("FOOBAR", 501)])
def test_methods_we_do_not_serve_are_refused_with_allow(harness: Harness, alice: Phone, method: str,
                                                        status: int) -> None:
    call = alice.new_call("1002")
    (sent,) = call.send(call.make_request(method))
    assert sent.status == status
    assert "INVITE" in (sent.response.header("Allow") or "")  # §21.4.6: 405 MUST carry Allow


def test_in_dialog_requests_for_no_dialog_are_481(harness: Harness, alice: Phone) -> None:
    call = alice.new_call("1002")
    call.remote_tag = "gone"
    for method in ("INFO", "UPDATE", "REFER", "INVITE"):
        request = call.make_request(method) if method != "INVITE" else call.make_invite()
        assert statuses(call.send(request)) == [481], method


def test_options_in_a_dialog_is_answered(harness: Harness, alice: Phone) -> None:
    call, _sip_call = answered_call(harness, alice)
    assert statuses(call.send(call.make_request("OPTIONS"))) == [200]


def test_a_hangup_before_an_ack_that_never_comes_sends_its_bye_at_64_t1(harness: Harness, alice: Phone) -> None:
    """§15 and §13.3.1.4: the held BYE goes when the wait for the ACK ends, with our cause, not reported back."""
    _call, sip_call = incoming_call(harness, alice)
    answered_at = harness.now
    harness.endpoint.answer(sip_call, ANSWER, harness.now)
    harness.drain()
    harness.endpoint.hangup(sip_call, HangupCause.USER_BUSY, harness.now)
    sent = alice.advance(40.0)
    (bye,) = [s for s in sent if s.method == "BYE" and not s.status][:1]
    assert bye.at - answered_at == pytest.approx(32.0)
    assert bye.request.header("Reason") == 'Q.850;cause=17;text="User busy"'
    assert [s.at - answered_at for s in sent if s.status == 200][-1] < 32.0  # no 2xx after the BYE
    assert harness.events() == []
    alice.send(alice.make_response(bye.request, 200))
    assert harness.endpoint.live_calls == {}


def test_the_far_ends_bye_while_our_bye_waits_for_the_ack_ends_the_call_once(harness: Harness, alice: Phone) -> None:
    call, sip_call = incoming_call(harness, alice)
    harness.endpoint.answer(sip_call, ANSWER, harness.now)
    (ok,) = harness.drain()
    harness.endpoint.hangup(sip_call, HangupCause.NORMAL_CLEARING, harness.now)
    call.learn(ok.response)
    assert statuses(call.send(call.make_request("BYE"))) == [200]
    assert [s for s in alice.advance(40.0) if s.method == "BYE" and not s.status] == []
    assert harness.endpoint.live_calls == {}


def test_a_cancel_stops_the_retransmissions_of_a_reliable_provisional(harness: Harness, alice: Phone) -> None:
    call, sip_call = incoming_call(harness, alice, headers=["Require: 100rel"])
    harness.endpoint.ring(sip_call, harness.now)
    harness.drain()
    assert statuses(call.send(call.make_cancel())) == [200, 487]
    assert [s.status for s in alice.advance(40.0) if s.status == 180] == []
