"""The endpoint as the caller (UAC): the INVITE it sends, provisionals (forked too), the ACK of a 2xx,
digest toward a trunk, CANCEL, and the causes a failed call reports.

RFC 3261 §8.1.1 (request construction), §9.1 (CANCEL), §12.1.2 (UAC dialog, route set), §13.2.2 (UAC
processing of responses, §13.2.2.4 the ACK of a 2xx), §17.1.1 (INVITE client transaction, Timers A/B),
§22.2/§22.3 (401/407), RFC 3398 §8.2.6.1 (status -> Q.850 cause), RFC 3326 (Reason).
"""

from __future__ import annotations

import gc
import weakref

import pytest

from core.causes import HangupCause
from core.sip.message import SipRequest, SipUri
from core.sip.session import CallAnswered, CallEnded, CallFailed, CallProgress, SipCall
from core.sip.settings import SipTrunkSettings
from tests.sip.endpoint_harness import (
    ANSWER,
    GATEWAY,
    OFFER,
    Harness,
    Phone,
    Sent,
    challenge_params,
    methods,
)

ITSP = ("198.51.100.7", 5060)
TRUNK = SipTrunkSettings(name="itsp", servers=(ITSP,), context="from-trunk", username="acct", secret="trunkpw")


@pytest.fixture
def harness() -> Harness:
    return Harness(trunks=(TRUNK,))


@pytest.fixture
def itsp(harness: Harness) -> Phone:
    return Phone(harness, "5551234", address=ITSP)


def place(harness: Harness, *, sdp: bytes | None = OFFER, trunk: str | None = "itsp") -> tuple[SipCall, SipRequest]:
    call = harness.endpoint.invite(uri=SipUri.parse(f"sip:5551234@{ITSP[0]}"), destination=ITSP, from_user="1001",
                                   from_display="Alice", sdp=sdp, now=harness.now, trunk=trunk)
    (sent,) = harness.drain()
    assert sent.destination == ITSP
    return call, sent.request


def only(sent: list[Sent], method: str) -> SipRequest:
    found = [s.request for s in sent if not s.status and s.request.method == method]
    assert len(found) == 1, sent
    return found[0]


def test_the_invite_is_built_as_section_8_1_1_says(harness: Harness) -> None:
    _call, invite = place(harness)
    assert str(invite.uri) == f"sip:5551234@{ITSP[0]}"
    (via,) = invite.vias
    assert (via.host, via.port, via.transport.upper()) == (GATEWAY[0], GATEWAY[1], "UDP")
    assert via.branch and via.branch.startswith("z9hG4bK") and len(via.branch) > 7
    assert "rport" in via.params  # RFC 3581
    assert invite.from_.tag and invite.from_.display_name == "Alice" and invite.from_.uri.user == "1001"
    assert invite.to.tag is None and str(invite.to.uri) == f"sip:5551234@{ITSP[0]}"
    assert (invite.cseq.number, invite.cseq.method) == (1, "INVITE")
    assert invite.max_forwards == 70
    assert invite.contacts and invite.contacts[0].uri.host == GATEWAY[0]
    assert invite.content_type == "application/sdp" and invite.body == OFFER
    assert "@" in invite.call_id


def test_invite_is_retransmitted_by_timer_a_then_times_out_by_timer_b(harness: Harness) -> None:
    call, invite = place(harness)
    start = harness.now
    sent = harness.advance(40.0)
    invites = [s for s in sent if s.method == "INVITE" and not s.status]
    assert [round(s.at - start, 6) for s in invites] == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert all(s.data == invites[0].data for s in invites)
    (failed,) = harness.events()
    assert isinstance(failed, CallFailed) and failed.call is call
    assert (failed.status, failed.cause) == (408, HangupCause.RECOVERY_ON_TIMER_EXPIRE)
    assert harness.endpoint.live_calls == {}


def test_provisionals_then_answer_and_the_ack_of_the_2xx(harness: Harness, itsp: Phone) -> None:
    call, invite = place(harness)
    assert itsp.send(itsp.make_response(invite, 100)) == []
    assert harness.events() == []  # 100 is hop-by-hop
    assert harness.advance(5.0) == []  # a provisional stops Timer A
    itsp.send(itsp.make_response(invite, 180, to_tag="bob1"))
    itsp.send(itsp.make_response(invite, 183, to_tag="bob1", body=ANSWER))
    progress = [e for e in harness.events() if isinstance(e, CallProgress)]
    assert [(e.status, e.sdp) for e in progress] == [(180, None), (183, ANSWER)]
    ok = itsp.make_response(invite, 200, to_tag="bob1", body=ANSWER,
                            headers=["Record-Route: <sip:p2.example.net;lr>", "Record-Route: <sip:p1.example.net;lr>"])
    sent = itsp.send(ok)
    ack = only(sent, "ACK")
    # §13.2.2.4: a new transaction of the dialog: remote target, route set reversed, INVITE's CSeq number.
    assert str(ack.uri) == f"sip:5551234@{ITSP[0]}:{ITSP[1]}"
    assert ack.header_values("Route") == ["<sip:p1.example.net;lr>", "<sip:p2.example.net;lr>"]
    assert (ack.cseq.number, ack.cseq.method) == (1, "ACK")
    assert ack.vias[0].branch != invite.vias[0].branch
    assert ack.to.tag == "bob1" and ack.from_.tag == invite.from_.tag and ack.call_id == invite.call_id
    assert ack.body == b""
    (answered,) = harness.events()
    assert isinstance(answered, CallAnswered) and answered.sdp == ANSWER and call.remote_sdp == ANSWER
    # A retransmitted 2xx is ACKed again, and not reported twice.
    again = only(itsp.send(ok), "ACK")
    assert again.cseq.number == 1 and again.to.tag == "bob1"
    assert harness.events() == []


def test_the_ack_goes_to_the_first_route(harness: Harness, itsp: Phone) -> None:
    _call, invite = place(harness)
    ok = itsp.make_response(invite, 200, to_tag="bob1", body=ANSWER,
                            headers=["Record-Route: <sip:198.51.100.99:5070;lr>"])
    sent = itsp.send(ok) + harness.drain()
    (ack,) = [s for s in harness.sent if s.method == "ACK"]
    assert ack.destination == ("198.51.100.99", 5070), sent


def test_forked_provisionals_make_early_dialogs_and_a_late_2xx_is_acked_and_ended(harness: Harness,
                                                                                  itsp: Phone) -> None:
    """§13.2.2.4: every 2xx gets its ACK; a second dialog from another fork is ended with BYE."""
    call, invite = place(harness)
    itsp.send(itsp.make_response(invite, 180, to_tag="forkA"))
    itsp.send(itsp.make_response(invite, 183, to_tag="forkB", body=ANSWER))
    progress = [e for e in harness.events() if isinstance(e, CallProgress)]
    assert [e.status for e in progress] == [180, 183]
    assert set(call.early_dialogs) == {"forkA", "forkB"}
    sent = itsp.send(itsp.make_response(invite, 200, to_tag="forkB", body=ANSWER))
    assert only(sent, "ACK").to.tag == "forkB"
    (answered,) = harness.events()
    assert isinstance(answered, CallAnswered)
    assert call.dialog is not None and call.dialog.remote_tag == "forkB"
    late = itsp.send(itsp.make_response(invite, 200, to_tag="forkA", body=ANSWER))
    assert sorted(methods(late)) == ["ACK", "BYE"]
    assert {s.request.to.tag for s in late} == {"forkA"}
    assert harness.events() == []
    assert call.dialog.remote_tag == "forkB" and not call.ended


@pytest.mark.parametrize(("status", "reason", "cause"), [
    (486, None, HangupCause.USER_BUSY),
    (600, None, HangupCause.USER_BUSY),
    (480, None, HangupCause.NO_ANSWER),
    (503, None, HangupCause.NORMAL_CIRCUIT_CONGESTION),
    (404, None, HangupCause.UNALLOCATED),
    (484, None, HangupCause.INVALID_NUMBER_FORMAT),
    (403, None, HangupCause.CALL_REJECTED),
    (603, None, HangupCause.CALL_REJECTED),
    (488, None, HangupCause.INCOMPATIBLE_DESTINATION),
    (302, None, HangupCause.NUMBER_CHANGED),
    (500, 'Q.850;cause=17;text="User busy"', HangupCause.USER_BUSY),
    (503, "Q.850;cause=38", HangupCause.NETWORK_OUT_OF_ORDER),
])
def test_a_final_refusal_is_acked_by_the_transaction_and_gives_the_cause(
        harness: Harness, itsp: Phone, status: int, reason: str | None, cause: HangupCause) -> None:
    call, invite = place(harness)
    itsp.send(itsp.make_response(invite, 180, to_tag="bob"))
    harness.events()
    headers = [f"Reason: {reason}"] if reason else []
    refusal = itsp.make_response(invite, status, to_tag="bob", headers=headers, contact=False)
    ack = only(itsp.send(refusal), "ACK")
    # §17.1.1.3: the ACK of a non-2xx has the INVITE's branch and Request-URI and the response's To.
    assert ack.vias[0].branch == invite.vias[0].branch and str(ack.uri) == str(invite.uri)
    assert ack.to.tag == "bob" and ack.cseq.number == invite.cseq.number
    (failed,) = harness.events()
    assert isinstance(failed, CallFailed) and failed.call is call
    assert (failed.status, failed.cause) == (status, cause)
    assert harness.endpoint.live_calls == {}
    # A retransmitted refusal is ACKed again and not reported again.
    assert methods(itsp.send(refusal)) == ["ACK"]
    assert harness.events() == []


@pytest.mark.parametrize(("status", "header"), [(401, "Authorization"), (407, "Proxy-Authorization")])
def test_a_trunk_challenge_is_answered_once(harness: Harness, itsp: Phone, status: int, header: str) -> None:
    call, invite = place(harness)
    name = "WWW-Authenticate" if status == 401 else "Proxy-Authenticate"
    challenge = 'Digest realm="itsp.example", nonce="abc123", algorithm=MD5, qop="auth", opaque="xyz"'
    sent = itsp.send(itsp.make_response(invite, status, to_tag="c1", headers=[f"{name}: {challenge}"]))
    assert sorted(methods(sent)) == ["ACK", "INVITE"]
    second = only(sent, "INVITE")
    assert second.call_id == invite.call_id and second.from_.tag == invite.from_.tag
    assert second.to.tag is None and second.cseq.number == invite.cseq.number + 1
    assert second.vias[0].branch != invite.vias[0].branch and second.body == invite.body
    params = challenge_params(second.header(header) or "")
    assert (params["username"], params["realm"], params["nonce"], params["uri"], params["opaque"]) == (
        "acct", "itsp.example", "abc123", str(invite.uri), "xyz")
    import hashlib

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    expected = md5(f"{md5('acct:itsp.example:trunkpw')}:abc123:{params['nc']}:{params['cnonce']}:auth:"
                   f"{md5('INVITE:' + str(invite.uri))}")
    assert params["response"] == expected and params["qop"] == "auth"
    assert harness.events() == []
    # A second challenge is not answered again: the call fails with the status.
    sent = itsp.send(itsp.make_response(second, status, to_tag="c2", headers=[f"{name}: {challenge}"]))
    assert methods(sent) == ["ACK"]
    (failed,) = harness.events()
    assert isinstance(failed, CallFailed) and failed.status == status
    assert failed.cause is HangupCause.CALL_REJECTED and call.ended


def test_a_challenge_to_a_call_that_is_not_a_trunks_fails_the_call(harness: Harness, itsp: Phone) -> None:
    _call, invite = place(harness, trunk=None)
    challenge = 'Digest realm="x", nonce="n", algorithm=MD5, qop="auth"'
    sent = itsp.send(itsp.make_response(invite, 407, to_tag="c1", headers=[f"Proxy-Authenticate: {challenge}"]))
    assert methods(sent) == ["ACK"]
    (failed,) = harness.events()
    assert isinstance(failed, CallFailed) and failed.status == 407


def test_the_ack_of_an_authenticated_invite_carries_its_credentials(harness: Harness, itsp: Phone) -> None:
    _call, invite = place(harness)
    challenge = 'Digest realm="itsp.example", nonce="abc123", algorithm=MD5, qop="auth"'
    sent = itsp.send(itsp.make_response(invite, 407, to_tag="c1", headers=[f"Proxy-Authenticate: {challenge}"]))
    second = only(sent, "INVITE")
    ack = only(itsp.send(itsp.make_response(second, 200, to_tag="bob", body=ANSWER)), "ACK")
    assert ack.header("Proxy-Authorization") == second.header("Proxy-Authorization")


# -- CANCEL (§9.1) ----------------------------------------------------------------------------------------------


def test_hangup_after_a_provisional_sends_cancel(harness: Harness, itsp: Phone) -> None:
    call, invite = place(harness)
    itsp.send(itsp.make_response(invite, 180, to_tag="bob"))
    harness.events()
    harness.endpoint.hangup(call, HangupCause.NORMAL_CLEARING, harness.now)
    (sent,) = harness.drain()
    cancel = sent.request
    assert cancel.method == "CANCEL" and sent.destination == ITSP
    assert cancel.vias[0].branch == invite.vias[0].branch and len(cancel.vias) == 1
    assert str(cancel.uri) == str(invite.uri) and cancel.call_id == invite.call_id
    assert (cancel.cseq.number, cancel.cseq.method) == (invite.cseq.number, "CANCEL")
    assert cancel.to.tag is None and cancel.from_.tag == invite.from_.tag
    assert itsp.send(itsp.make_response(cancel, 200, to_tag="bob")) == []
    ack = only(itsp.send(itsp.make_response(invite, 487, to_tag="bob")), "ACK")
    assert ack.vias[0].branch == invite.vias[0].branch
    assert harness.events() == []  # our own hang-up is not reported back as a failure
    assert harness.endpoint.live_calls == {}
    assert harness.advance(40.0) == []


def test_cancel_requested_before_any_provisional_goes_out_with_the_first(harness: Harness, itsp: Phone) -> None:
    call, invite = place(harness)
    harness.endpoint.hangup(call, HangupCause.NORMAL_CLEARING, harness.now)
    assert [s for s in harness.drain() if s.method == "CANCEL"] == []  # §9.1: not before a provisional
    sent = itsp.send(itsp.make_response(invite, 180, to_tag="bob"))
    assert methods(sent) == ["CANCEL"]
    assert harness.events() == []


@pytest.mark.parametrize("hangup_first", [True, False])
def test_a_100_trying_is_enough_to_cancel(harness: Harness, itsp: Phone, hangup_first: bool) -> None:
    call, invite = place(harness)
    if hangup_first:
        harness.endpoint.hangup(call, HangupCause.NORMAL_CLEARING, harness.now)
        sent = itsp.send(itsp.make_response(invite, 100))
    else:
        itsp.send(itsp.make_response(invite, 100))
        harness.endpoint.hangup(call, HangupCause.NORMAL_CLEARING, harness.now)
        sent = harness.drain()
    assert methods(sent) == ["CANCEL"]


def test_a_2xx_that_crosses_our_cancel_is_acked_and_ended_with_bye(harness: Harness, itsp: Phone) -> None:
    call, invite = place(harness)
    itsp.send(itsp.make_response(invite, 180, to_tag="bob"))
    harness.events()
    harness.endpoint.hangup(call, HangupCause.NORMAL_CLEARING, harness.now)
    (cancel,) = harness.drain()
    itsp.send(itsp.make_response(cancel.request, 200, to_tag="bob"))
    sent = itsp.send(itsp.make_response(invite, 200, to_tag="bob", body=ANSWER))
    assert methods(sent) == ["ACK", "BYE"]
    bye = only(sent, "BYE")
    assert bye.cseq.number == invite.cseq.number + 1 and bye.to.tag == "bob"
    assert harness.events() == []
    itsp.send(itsp.make_response(bye, 200))
    assert harness.endpoint.live_calls == {}


# -- the answered call ---------------------------------------------------------------------------------------------


def answered(harness: Harness, itsp: Phone) -> tuple[SipCall, SipRequest]:
    call, invite = place(harness)
    itsp.send(itsp.make_response(invite, 200, to_tag="bob", body=ANSWER))
    assert isinstance(harness.events()[0], CallAnswered)
    return call, invite


def test_our_bye_after_the_answer(harness: Harness, itsp: Phone) -> None:
    call, invite = answered(harness, itsp)
    harness.endpoint.hangup(call, HangupCause.USER_BUSY, harness.now)
    (sent,) = harness.drain()
    bye = sent.request
    assert bye.method == "BYE" and bye.cseq.number == 2 and bye.to.tag == "bob"
    assert bye.from_.tag == invite.from_.tag
    assert bye.header("Reason") == 'Q.850;cause=17;text="User busy"'
    itsp.send(itsp.make_response(bye, 200))
    assert harness.events() == [] and harness.endpoint.live_calls == {}


def test_the_far_ends_bye_after_the_answer(harness: Harness, itsp: Phone) -> None:
    call, invite = answered(harness, itsp)
    bye = itsp.send  # the far end's BYE: its own CSeq space, From/To swapped
    request = _far_end_request(invite, "BYE", to_tag="bob", cseq=1)
    sent = bye(request)
    assert [s.status for s in sent] == [200]
    (ended,) = harness.events()
    assert isinstance(ended, CallEnded) and ended.call is call and ended.cause is HangupCause.NORMAL_CLEARING


def test_a_hangup_of_an_ended_call_sends_nothing(harness: Harness, itsp: Phone) -> None:
    call, invite = answered(harness, itsp)
    itsp.send(_far_end_request(invite, "BYE", to_tag="bob", cseq=1))
    harness.events()
    harness.endpoint.hangup(call, HangupCause.NORMAL_CLEARING, harness.now)
    assert harness.drain() == []



def _ended_by(harness: Harness, itsp: Phone, invite: SipRequest, call: SipCall, side: str) -> None:
    if side == "ours":
        harness.endpoint.hangup(call, HangupCause.NORMAL_CLEARING, harness.now)
        (sent,) = harness.drain()
        itsp.send(itsp.make_response(sent.request, 200))
    else:
        itsp.send(_far_end_request(invite, "BYE", to_tag="bob", cseq=1))
    assert harness.endpoint.live_calls == {} and harness.endpoint.calls == {}
    harness.events()
    harness.received_events.clear()  # the test's own record of the events (they name the call)


@pytest.mark.parametrize("side", ["ours", "theirs"])
def test_an_ended_leg_is_freed_at_once_and_a_retransmitted_2xx_still_gets_its_ack(
        harness: Harness, itsp: Phone, side: str) -> None:
    """RFC 6026 §8.4: the INVITE transaction waits 64*T1 in Accepted for 2xx retransmissions, each of which the
    core ACKs (§13.2.2.4); what that needs is the ACK, not the leg (at hundreds of calls per second, ended legs
    kept whole for those 32 s were most of the gateway's memory)."""
    call, invite = answered(harness, itsp)
    ok = itsp.make_response(invite, 200, to_tag="bob", body=ANSWER,
                            headers=["Record-Route: <sip:198.51.100.99:5070;lr>"])
    (first_ack,) = [s for s in harness.sent if s.method == "ACK"]
    _ended_by(harness, itsp, invite, call, side)
    leg = weakref.ref(call)
    gc.disable()
    try:
        del call
        assert leg() is None, "the ended leg is freed by reference counting, before Timer M"
    finally:
        gc.enable()
    harness.advance(20.0)
    again = itsp.send(ok)
    assert [(s.method, s.destination, s.data) for s in again] == [("ACK", first_ack.destination, first_ack.data)]
    assert harness.events() == []
    harness.advance(13.0)  # Timer M (64*T1) ends the INVITE transaction: nothing of the call is left
    assert harness.endpoint.by_client == {}
    assert itsp.send(ok) == []


def test_a_fork_answering_after_the_call_ended_is_acked_and_ended_once(harness: Harness, itsp: Phone) -> None:
    """§13.2.2.4: a 2xx from another fork gets its ACK and then a BYE, even after the call is over; its
    retransmissions get the ACK again, not a second BYE."""
    call, invite = answered(harness, itsp)
    _ended_by(harness, itsp, invite, call, "ours")
    late = itsp.make_response(invite, 200, to_tag="forkB", body=ANSWER)
    sent = itsp.send(late) + harness.drain()
    assert sorted(methods(sent)) == ["ACK", "BYE"]
    ack = only(sent, "ACK")
    bye = only(sent, "BYE")
    assert ack.to.tag == bye.to.tag == "forkB" and ack.call_id == bye.call_id == invite.call_id
    assert ack.cseq.number == invite.cseq.number and bye.from_.tag == invite.from_.tag
    assert itsp.send(itsp.make_response(bye, 200)) == []
    assert methods(itsp.send(late)) == ["ACK"]
    assert harness.events() == []

def _far_end_request(invite: SipRequest, method: str, *, to_tag: str, cseq: int,
                     headers: tuple[str, ...] = (), body: bytes = b"", content_type: str | None = None) -> SipRequest:
    """A request from the callee of ``invite`` inside the dialog (§12.2.1.1 from the other side)."""
    from core.sip.message import parse_message

    contact = invite.contacts[0].uri
    lines = [
        f"{method} {contact} SIP/2.0",
        f"Via: SIP/2.0/UDP {ITSP[0]}:{ITSP[1]};branch=z9hG4bK-far-{method}-{cseq};rport",
        "Max-Forwards: 70",
        f"From: <sip:5551234@{ITSP[0]}>;tag={to_tag}",
        f"To: {invite.header('From')}",
        f"Call-ID: {invite.call_id}",
        f"CSeq: {cseq} {method}",
        f"Contact: <sip:5551234@{ITSP[0]}:{ITSP[1]}>",
        *headers,
    ]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    lines.append(f"Content-Length: {len(body)}")
    message = parse_message(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    assert isinstance(message, SipRequest)
    return message


# -- where in-dialog requests go (§12.2.1.1, §8.1.2) ------------------------------------------------------------


def test_without_a_route_set_the_ack_and_the_bye_go_to_the_remote_target(harness: Harness, itsp: Phone) -> None:
    """A carrier whose proxy took the INVITE and whose media server answers with its own Contact."""
    call, invite = place(harness)
    ok = itsp.make_response(invite, 200, to_tag="bob", body=ANSWER, contact=False,
                            headers=["Contact: <sip:bob@198.51.100.42:5072>"])
    itsp.send(ok)
    (ack,) = [s for s in harness.sent if s.method == "ACK" and not s.status]
    assert ack.destination == ("198.51.100.42", 5072) and str(ack.request.uri) == "sip:bob@198.51.100.42:5072"
    harness.events()
    harness.endpoint.hangup(call, HangupCause.NORMAL_CLEARING, harness.now)
    (bye,) = harness.drain()
    assert bye.method == "BYE" and bye.destination == ("198.51.100.42", 5072)


def test_a_callee_behind_nat_is_reached_at_its_source_not_its_private_contact(harness: Harness) -> None:
    """A phone registered from a public address whose Contact names its private one (Asterisk rewrite_contact)."""
    public = ("203.0.113.20", 40312)
    phone = Phone(harness, "1002", address=public)
    call = harness.endpoint.invite(uri=SipUri.parse("sip:1002@192.168.1.20:5060"), destination=public,
                                   from_user="1001", sdp=OFFER, now=harness.now)
    (sent,) = harness.drain()
    ok = phone.make_response(sent.request, 200, to_tag="p", body=ANSWER, contact=False,
                             headers=["Contact: <sip:1002@192.168.1.20:5060>"])
    assert methods(phone.send(ok)) == ["ACK"]
    harness.events()
    harness.endpoint.hangup(call, HangupCause.NORMAL_CLEARING, harness.now)
    (bye,) = harness.drain()
    assert bye.destination == public and str(bye.request.uri) == "sip:1002@192.168.1.20:5060"


def test_a_retransmitted_2xx_of_our_reinvite_is_acked_again(harness: Harness, itsp: Phone) -> None:
    """§13.2.2.4: every 2xx (a retransmission included) gets its ACK, for a re-INVITE as for the INVITE."""
    call, _invite = answered(harness, itsp)
    assert harness.endpoint.reinvite(call, OFFER, harness.now)
    (sent,) = harness.drain()
    ok = itsp.make_response(sent.request, 200, body=ANSWER)
    first_ack = only(itsp.send(ok), "ACK")
    harness.events()
    again = only(itsp.send(ok), "ACK")
    assert again.cseq.number == first_ack.cseq.number == sent.request.cseq.number
    assert harness.events() == []


def test_the_answer_to_the_bye_of_a_second_fork_leaves_the_call_up(harness: Harness, itsp: Phone) -> None:
    call, invite = place(harness)
    itsp.send(itsp.make_response(invite, 200, to_tag="forkA", body=ANSWER))
    late = itsp.make_response(invite, 200, to_tag="forkB", body=ANSWER)
    bye = only(itsp.send(late), "BYE")
    assert methods(itsp.send(late)) == ["ACK"]  # its retransmission is ACKed again but not ended twice
    itsp.send(itsp.make_response(bye, 200))
    assert call.handle in harness.endpoint.live_calls and not call.ended
    assert call.dialog is not None and call.dialog.remote_tag == "forkA"
    # The dialog still works both ways: the far end's INFO is answered inside it.
    info = _far_end_request(invite, "INFO", to_tag="forkA", cseq=5, body=b"Signal=1\r\n",
                            content_type="application/dtmf-relay")
    assert [s.status for s in itsp.send(info)] == [200]


def test_a_cancelled_call_that_never_hears_back_is_forgotten(harness: Harness, itsp: Phone) -> None:
    """§9.1: the CANCEL stays held while nothing answered; Timer B ends the INVITE and the CANCEL unsent."""
    call, _invite = place(harness)
    harness.endpoint.hangup(call, HangupCause.NORMAL_CLEARING, harness.now)
    sent = harness.advance(40.0)
    assert [s.method for s in sent if s.method == "CANCEL"] == []
    assert harness.events() == []
    assert harness.endpoint.live_calls == {} and harness.endpoint.by_client == {}
    assert harness.endpoint.tx.transaction_count == 0


def test_a_cancelled_call_answered_with_487_leaves_nothing(harness: Harness, itsp: Phone) -> None:
    call, invite = place(harness)
    itsp.send(itsp.make_response(invite, 100))
    harness.endpoint.hangup(call, HangupCause.NORMAL_CLEARING, harness.now)
    (cancel,) = harness.drain()
    itsp.send(itsp.make_response(cancel.request, 200))
    only(itsp.send(itsp.make_response(invite, 487, to_tag="bob")), "ACK")
    harness.advance(40.0)
    assert harness.events() == []
    assert harness.endpoint.live_calls == {} and harness.endpoint.by_client == {} and harness.endpoint.calls == {}
