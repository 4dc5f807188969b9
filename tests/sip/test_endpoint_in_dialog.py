"""Inside an established dialog: re-INVITE (hold/unhold pass-through, glare), UPDATE, INFO, REFER.

RFC 3261 §14 (re-INVITE, §14.1/§14.2 491 glare), RFC 3264 §8.4 (hold: sendonly/inactive) and §6.1 (answer
directions), RFC 3311 (UPDATE), the INFO DTMF conventions (``application/dtmf-relay``, ``application/dtmf``,
``application/hook-flash``; RFC 6086 §4.2 for 415), RFC 3515 (REFER, NOTIFY with ``message/sipfrag``),
RFC 4488 (Refer-Sub).
"""

from __future__ import annotations

import pytest

from core.sip.sdp import Direction, SessionDescription
from core.sip.session import (
    DtmfReceived,
    FlashReceived,
    ReinviteAnswered,
    ReinviteReceived,
    TransferRequested,
    UpdateReceived,
)
from tests.sip.endpoint_harness import (
    ANSWER,
    OFFER,
    Harness,
    Phone,
    answered_call,
    methods,
    sdp_with_direction,
    statuses,
)


@pytest.fixture
def harness() -> Harness:
    return Harness()


@pytest.fixture
def alice(harness: Harness) -> Phone:
    return Phone(harness, "1001")


# -- re-INVITE ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("direction", ["sendonly", "inactive", "sendrecv"])
def test_a_reinvite_is_passed_to_the_driver_and_answered_with_its_sdp(harness: Harness, alice: Phone,
                                                                      direction: str) -> None:
    call, sip_call = answered_call(harness, alice)
    harness.advance(10.0)  # past the initial 2xx's retransmission slots (see the test right below)
    hold = sdp_with_direction(OFFER, direction)
    reinvite = call.make_invite(hold)
    assert reinvite.to.tag == call.remote_tag
    assert call.send(reinvite) == []  # nothing until the driver answers (100 only after 200 ms)
    (event,) = harness.events()
    assert isinstance(event, ReinviteReceived) and event.call is sip_call and event.sdp == hold
    assert sip_call.remote_sdp == hold
    answer = sdp_with_direction(ANSWER, {"sendonly": "recvonly", "inactive": "inactive"}.get(direction, "sendrecv"))
    harness.endpoint.answer_reinvite(sip_call, 200, answer, harness.now)
    (ok,) = harness.drain()
    response = ok.response
    assert response.status == 200 and response.cseq.number == reinvite.cseq.number
    assert response.to.tag == call.remote_tag and response.body == answer
    assert response.content_type == "application/sdp" and response.contacts
    # The 2xx of a re-INVITE is retransmitted until its ACK too (§13.3.1.4).
    retransmitted = alice.advance(4.0)
    assert [(round(s.at - ok.at, 6), s.data) for s in retransmitted] == [(0.5, ok.data), (1.5, ok.data),
                                                                         (3.5, ok.data)]
    assert call.send(call.make_ack(response)) == []
    assert alice.advance(10.0) == []
    assert harness.events() == []


def test_a_reinvite_right_after_the_answer_is_retransmitted_once_per_slot(harness: Harness, alice: Phone) -> None:
    call, sip_call = answered_call(harness, alice)
    call.send(call.make_invite(sdp_with_direction(OFFER, "sendonly")))
    harness.events()
    harness.endpoint.answer_reinvite(sip_call, 200, sdp_with_direction(ANSWER, "recvonly"), harness.now)
    (ok,) = harness.drain()
    times = [round(s.at - ok.at, 6) for s in alice.advance(8.0)]
    assert times == [0.5, 1.5, 3.5, 7.5]


def test_a_reinvite_without_sdp_is_a_late_offer_answered_in_the_ack(harness: Harness, alice: Phone) -> None:
    call, sip_call = answered_call(harness, alice)
    call.send(call.make_invite(None))
    (event,) = harness.events()
    assert isinstance(event, ReinviteReceived) and event.sdp is None
    harness.endpoint.answer_reinvite(sip_call, 200, ANSWER, harness.now)
    (ok,) = harness.drain()
    assert ok.response.body == ANSWER
    ack = call.make_ack(ok.response)
    ack.body = OFFER
    ack.set_header("Content-Type", "application/sdp")
    call.send(ack)
    assert sip_call.remote_sdp == OFFER


def test_a_refused_reinvite_keeps_the_call(harness: Harness, alice: Phone) -> None:
    call, sip_call = answered_call(harness, alice)
    call.send(call.make_invite(sdp_with_direction(OFFER, "sendonly")))
    harness.events()
    harness.endpoint.answer_reinvite(sip_call, 488, None, harness.now)
    (refused,) = harness.drain()
    assert refused.status == 488
    assert call.send(call.make_ack(refused.response)) == []
    assert alice.advance(40.0) == []
    assert not sip_call.ended and harness.events() == []


def test_a_second_reinvite_while_one_is_pending_is_491(harness: Harness, alice: Phone) -> None:
    """§14.2: a UAS that receives a re-INVITE while one it received is pending answers 500 or 491."""
    call, _sip_call = answered_call(harness, alice)
    call.send(call.make_invite(sdp_with_direction(OFFER, "sendonly")))
    harness.events()
    sent = call.send(call.make_invite(OFFER))
    assert statuses(sent) == [491]
    assert harness.events() == []


def test_glare_our_reinvite_pending_theirs_gets_491(harness: Harness, alice: Phone) -> None:
    """§14.2: a UAS that receives a re-INVITE while its own is pending answers 491."""
    call, sip_call = answered_call(harness, alice)
    assert harness.endpoint.reinvite(sip_call, sdp_with_direction(ANSWER, "sendonly"), harness.now)
    (ours,) = harness.drain()
    assert ours.request.method == "INVITE" and ours.request.to.tag == call.local_tag
    assert not harness.endpoint.reinvite(sip_call, ANSWER, harness.now)  # one at a time
    sent = call.send(call.make_invite(OFFER))
    assert statuses(sent) == [491]
    assert harness.events() == []


def test_our_reinvite_and_its_ack(harness: Harness, alice: Phone) -> None:
    call, sip_call = answered_call(harness, alice)
    held = sdp_with_direction(ANSWER, "sendonly")
    assert harness.endpoint.reinvite(sip_call, held, harness.now)
    (sent,) = harness.drain()
    reinvite = sent.request
    assert reinvite.body == held and reinvite.content_type == "application/sdp"
    assert reinvite.from_.tag == call.remote_tag and reinvite.to.tag == call.local_tag
    assert reinvite.contacts  # a target refresh request carries Contact (§14.1)
    assert str(reinvite.uri) == f"sip:1001@{alice.address[0]}:{alice.address[1]}"
    answer = sdp_with_direction(OFFER, "recvonly")
    ack = alice.send(alice.make_response(reinvite, 200, body=answer))
    assert methods(ack) == ["ACK"]
    assert ack[0].request.cseq.number == reinvite.cseq.number and ack[0].request.cseq.method == "ACK"
    (answered,) = harness.events()
    assert isinstance(answered, ReinviteAnswered) and answered.status == 200 and answered.sdp == answer
    # The next request from us takes the next CSeq.
    harness.endpoint.send_dtmf_info(sip_call, "1", 100, harness.now)
    (info,) = harness.drain()
    assert info.request.cseq.number == reinvite.cseq.number + 1


def test_our_reinvite_refused_with_491_is_reported(harness: Harness, alice: Phone) -> None:
    _call, sip_call = answered_call(harness, alice)
    harness.endpoint.reinvite(sip_call, ANSWER, harness.now)
    (sent,) = harness.drain()
    ack = alice.send(alice.make_response(sent.request, 491))
    assert methods(ack) == ["ACK"]
    (answered,) = harness.events()
    assert isinstance(answered, ReinviteAnswered) and answered.status == 491
    assert not sip_call.ended
    assert harness.endpoint.reinvite(sip_call, ANSWER, harness.now)  # free to try again


@pytest.mark.parametrize("status", [408, 481])
def test_our_reinvite_answered_408_or_481_ends_the_dialog(harness: Harness, alice: Phone, status: int) -> None:
    """§14.1: 481/408 to a re-INVITE means the dialog is gone: the UAC terminates it (BYE)."""
    _call, sip_call = answered_call(harness, alice)
    harness.endpoint.reinvite(sip_call, ANSWER, harness.now)
    (sent,) = harness.drain()
    out = alice.send(alice.make_response(sent.request, status))
    assert sorted(methods(out)) == ["ACK", "BYE"]
    events = harness.events()
    assert [type(e).__name__ for e in events] == ["ReinviteAnswered", "CallEnded"]


def test_our_reinvite_that_times_out_ends_the_dialog(harness: Harness, alice: Phone) -> None:
    call, sip_call = answered_call(harness, alice)
    harness.endpoint.reinvite(sip_call, ANSWER, harness.now)
    harness.drain()
    sent = alice.advance(40.0)
    assert "BYE" in methods(sent)
    events = harness.events()
    assert [type(e).__name__ for e in events] == ["ReinviteAnswered", "CallEnded"]


# -- UPDATE (RFC 3311) ----------------------------------------------------------------------------------------


def test_update_without_a_body_is_answered(harness: Harness, alice: Phone) -> None:
    call, sip_call = answered_call(harness, alice)
    (ok,) = call.send(call.make_request("UPDATE"))
    assert ok.status == 200 and ok.response.body == b"" and ok.response.contacts
    assert not sip_call.ended


def test_update_with_an_offer_gets_an_answer(harness: Harness, alice: Phone) -> None:
    call, _sip_call = answered_call(harness, alice)
    (ok,) = call.send(call.make_request("UPDATE", body=OFFER, content_type="application/sdp"))
    assert ok.status == 200 and ok.response.content_type == "application/sdp"
    SessionDescription.parse(ok.response.body)


def test_update_putting_the_call_on_hold_is_answered_recvonly(harness: Harness, alice: Phone) -> None:
    call, sip_call = answered_call(harness, alice)
    hold = sdp_with_direction(OFFER, "sendonly")
    sent = call.send(call.make_request("UPDATE", body=hold, content_type="application/sdp"))
    answer = SessionDescription.parse(sent[0].response.body) if sent else None
    assert sip_call.remote_sdp == hold
    assert answer is not None and b"a=sendrecv" not in sent[0].response.body


# -- INFO ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "digit", "duration"), [
    (b"Signal=5\r\nDuration=160\r\n", "5", 160),
    (b"Signal=*\r\nDuration=100\r\n", "*", 100),
    (b"Signal=#\r\n", "#", 250),
    (b"Signal=11\r\nDuration=80\r\n", "#", 80),
    (b"Signal=10\r\nDuration=80\r\n", "*", 80),
    (b"signal = a\r\nduration = 90\r\n", "A", 90),
])
def test_info_dtmf_relay_becomes_a_digit(harness: Harness, alice: Phone, body: bytes, digit: str,
                                         duration: int) -> None:
    call, sip_call = answered_call(harness, alice)
    sent = call.send(call.make_request("INFO", body=body, content_type="application/dtmf-relay"))
    assert statuses(sent) == [200]
    (event,) = harness.events()
    assert isinstance(event, DtmfReceived) and event.call is sip_call
    assert (event.digit, event.duration_ms) == (digit, duration)


def test_info_application_dtmf_becomes_a_digit(harness: Harness, alice: Phone) -> None:
    call, _sip_call = answered_call(harness, alice)
    assert statuses(call.send(call.make_request("INFO", body=b"7", content_type="application/dtmf"))) == [200]
    (event,) = harness.events()
    assert isinstance(event, DtmfReceived) and event.digit == "7"


@pytest.mark.parametrize(("body", "content_type"), [
    (b"signal=hf\r\n", "application/hook-flash"),
    (b"Signal=16\r\nDuration=100\r\n", "application/dtmf-relay"),
])
def test_info_hook_flash_becomes_a_flash(harness: Harness, alice: Phone, body: bytes, content_type: str) -> None:
    call, sip_call = answered_call(harness, alice)
    assert statuses(call.send(call.make_request("INFO", body=body, content_type=content_type))) == [200]
    (event,) = harness.events()
    assert isinstance(event, FlashReceived) and event.call is sip_call


@pytest.mark.parametrize("body", [b"Signal=\r\n", b"Signal=Z\r\n", b"Signal=123\r\n", b"Duration=100\r\n"])
def test_info_without_a_valid_digit_is_answered_but_no_digit(harness: Harness, alice: Phone, body: bytes) -> None:
    call, _sip_call = answered_call(harness, alice)
    assert statuses(call.send(call.make_request("INFO", body=body, content_type="application/dtmf-relay"))) == [200]
    assert harness.events() == []


@pytest.mark.parametrize("content_type", ["application/broadsoft", "text/plain", "application/media_control+xml"])
def test_info_of_another_type_is_415_with_accept(harness: Harness, alice: Phone, content_type: str) -> None:
    call, _sip_call = answered_call(harness, alice)
    (sent,) = call.send(call.make_request("INFO", body=b"<x/>", content_type=content_type))
    assert sent.status == 415
    accepted = {v.strip() for v in (sent.response.header("Accept") or "").split(",")}
    assert {"application/dtmf-relay", "application/hook-flash"} <= accepted
    assert harness.events() == []


def test_empty_info_is_a_keepalive(harness: Harness, alice: Phone) -> None:
    call, _sip_call = answered_call(harness, alice)
    assert statuses(call.send(call.make_request("INFO"))) == [200]
    assert harness.events() == []


def test_we_send_dtmf_and_flash_as_info(harness: Harness, alice: Phone) -> None:
    call, sip_call = answered_call(harness, alice)
    assert harness.endpoint.send_dtmf_info(sip_call, "#", 120, harness.now)
    assert harness.endpoint.send_flash_info(sip_call, harness.now)
    dtmf, flash = harness.drain()
    assert dtmf.request.method == "INFO" and dtmf.request.content_type == "application/dtmf-relay"
    assert dtmf.request.body == b"Signal=#\r\nDuration=120\r\n"
    assert flash.request.content_type == "application/hook-flash"
    assert flash.request.cseq.number == dtmf.request.cseq.number + 1
    assert flash.request.to.tag == call.local_tag and flash.request.from_.tag == call.remote_tag


def test_no_info_before_the_call_is_answered(harness: Harness, alice: Phone) -> None:
    from tests.sip.endpoint_harness import incoming_call

    _call, sip_call = incoming_call(harness, alice)
    assert not harness.endpoint.send_dtmf_info(sip_call, "1", 100, harness.now)
    assert harness.drain() == []


# -- REFER (RFC 3515) -------------------------------------------------------------------------------------------


def test_refer_is_accepted_and_reported(harness: Harness, alice: Phone) -> None:
    call, sip_call = answered_call(harness, alice)
    sent = call.send(call.make_request("REFER", headers=["Refer-To: <sip:1003@192.0.2.1>",
                                                           "Referred-By: <sip:1001@192.0.2.1>"]))
    assert statuses(sent) == [202]
    (event,) = harness.events()
    assert isinstance(event, TransferRequested) and event.call is sip_call
    assert event.target == "<sip:1003@192.0.2.1>" and event.referred_by == "<sip:1001@192.0.2.1>"


def test_refer_without_refer_to_is_400(harness: Harness, alice: Phone) -> None:
    call, _sip_call = answered_call(harness, alice)
    assert statuses(call.send(call.make_request("REFER"))) == [400]
    assert harness.events() == []


@pytest.mark.parametrize(("status", "reason", "state"), [
    (100, "Trying", "active;expires=60"),
    (200, "OK", "terminated;reason=noresource"),
    (503, "Service Unavailable", "terminated;reason=noresource"),
])
def test_notify_reports_the_transfer_with_sipfrag(harness: Harness, alice: Phone, status: int, reason: str,
                                                  state: str) -> None:
    call, sip_call = answered_call(harness, alice)
    call.send(call.make_request("REFER", headers=["Refer-To: <sip:1003@192.0.2.1>"]))
    harness.events()
    harness.endpoint.notify_refer(sip_call, status, reason, harness.now)
    (sent,) = harness.drain()
    notify = sent.request
    assert notify.method == "NOTIFY" and sent.destination == alice.address
    assert notify.header("Event") == "refer" and notify.header("Subscription-State") == state
    assert notify.content_type == "message/sipfrag"
    assert notify.body == f"SIP/2.0 {status} {reason}\r\n".encode()
    assert notify.to.tag == call.local_tag and notify.from_.tag == call.remote_tag
    assert statuses(alice.send(alice.make_response(notify, 200))) == []
    assert not sip_call.ended


def test_refer_without_subscription_is_acknowledged_as_such(harness: Harness, alice: Phone) -> None:
    call, _sip_call = answered_call(harness, alice)
    (accepted,) = call.send(call.make_request("REFER", headers=["Refer-To: <sip:1003@192.0.2.1>",
                                                                   "Refer-Sub: false", "Supported: norefersub"]))
    assert accepted.status == 202
    assert (accepted.response.header("Refer-Sub") or "").lower() == "false"


def test_an_update_offer_is_reported_with_its_answer_and_unhold_restores_sendrecv(harness: Harness,
                                                                                  alice: Phone) -> None:
    """RFC 3311 §5.2 answered at once; RFC 3264 §8: the o= version goes up by one for each changed answer."""
    call, sip_call = answered_call(harness, alice)
    hold = sdp_with_direction(OFFER, "inactive")
    (held,) = call.send(call.make_request("UPDATE", body=hold, content_type="application/sdp"))
    (event,) = harness.events()
    assert isinstance(event, UpdateReceived) and event.call is sip_call
    assert event.sdp == hold and event.answer == held.response.body
    answer = SessionDescription.parse(held.response.body)
    original = SessionDescription.parse(ANSWER)
    assert answer.direction_for(answer.media[0]) is Direction.INACTIVE
    assert (answer.media[0].port, answer.media[0].formats) == (original.media[0].port, original.media[0].formats)
    assert answer.origin.session_id == original.origin.session_id
    assert answer.origin.session_version == original.origin.session_version + 1
    (resumed,) = call.send(call.make_request("UPDATE", body=OFFER, content_type="application/sdp"))
    again = SessionDescription.parse(resumed.response.body)
    assert again.direction_for(again.media[0]) is Direction.SENDRECV
    assert again.origin.session_version == original.origin.session_version + 2
    assert sip_call.remote_sdp == OFFER and sip_call.local_sdp == resumed.response.body


def test_an_update_offer_gets_its_new_stream_rejected_in_place(harness: Harness, alice: Phone) -> None:
    """RFC 3264 §6: one m-line in the answer per m-line of the offer; a stream we cannot take has port 0."""
    call, _sip_call = answered_call(harness, alice)
    offer = OFFER.replace(b"RTP/AVP 0 8 101", b"RTP/AVP 0 101") + b"m=video 49180 RTP/AVP 96\r\n" \
        b"a=rtpmap:96 H264/90000\r\n"
    (ok,) = call.send(call.make_request("UPDATE", body=offer, content_type="application/sdp"))
    answer = SessionDescription.parse(ok.response.body)
    assert [(m.kind, m.port == 0) for m in answer.media] == [("audio", False), ("video", True)]
    assert answer.media[0].formats == ("0", "101")


def test_an_update_offer_without_our_codec_is_488(harness: Harness, alice: Phone) -> None:
    """Our answer carried PCMU only; an offer of PCMA (and telephone-event) leaves no common codec."""
    call, sip_call = answered_call(harness, alice)
    offer = OFFER.replace(b"RTP/AVP 0 8 101", b"RTP/AVP 8 101").replace(b"a=rtpmap:0 PCMU/8000\r\n", b"")
    (refused,) = call.send(call.make_request("UPDATE", body=offer, content_type="application/sdp"))
    assert refused.status == 488 and harness.events() == [] and sip_call.remote_sdp != offer


def test_an_update_offer_without_any_sdp_of_ours_is_488(harness: Harness, alice: Phone) -> None:
    call, sip_call = answered_call(harness, alice)
    sip_call.session_sdp = sip_call.local_sdp = None
    (refused,) = call.send(call.make_request("UPDATE", body=OFFER, content_type="application/sdp"))
    assert refused.status == 488 and harness.events() == []


def test_an_update_offer_crossing_our_reinvite_is_491(harness: Harness, alice: Phone) -> None:
    """RFC 3311 §5.2: an offer received while ours is outstanding is 491."""
    call, sip_call = answered_call(harness, alice)
    assert harness.endpoint.reinvite(sip_call, ANSWER, harness.now)
    harness.drain()
    sent = call.send(call.make_request("UPDATE", body=OFFER, content_type="application/sdp"))
    assert statuses(sent) == [491] and harness.events() == []


def test_an_update_offer_while_their_reinvite_waits_for_our_answer_is_500_with_retry_after(
        harness: Harness, alice: Phone) -> None:
    """RFC 3311 §5.2: 500 with a Retry-After between 0 and 10 s."""
    call, _sip_call = answered_call(harness, alice)
    call.send(call.make_invite(sdp_with_direction(OFFER, "sendonly")))
    harness.events()
    (refused,) = call.send(call.make_request("UPDATE", body=OFFER, content_type="application/sdp"))
    assert refused.status == 500 and 0 <= int(refused.response.header("Retry-After") or "-1") <= 10


def test_no_notify_follows_a_refer_without_subscription(harness: Harness, alice: Phone) -> None:
    """RFC 4488 §4: with Refer-Sub: false accepted there is no subscription to report on."""
    call, sip_call = answered_call(harness, alice)
    call.send(call.make_request("REFER", headers=["Refer-To: <sip:1003@192.0.2.1>", "Refer-Sub: false"]))
    harness.events()
    harness.endpoint.notify_refer(sip_call, 200, "OK", harness.now)
    assert harness.drain() == []
    # A later REFER that wants the subscription gets its NOTIFYs again.
    (accepted,) = call.send(call.make_request("REFER", headers=["Refer-To: <sip:1003@192.0.2.1>"]))
    assert accepted.status == 202 and accepted.response.header("Refer-Sub") is None
    harness.endpoint.notify_refer(sip_call, 200, "OK", harness.now)
    assert methods(harness.drain()) == ["NOTIFY"]
