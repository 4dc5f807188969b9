"""Server transactions (RFC 3261 §17.2, RFC 6026 §7.1 and §8.7), CANCEL (§9.2), response routing (§18.2.1-2,
RFC 3581) and merged requests (§8.2.2.2): what the layer answers, where to, and when."""

from __future__ import annotations

from typing import Any

import pytest

from core.sip.message import SipRequest, SipResponse, make_response, parse_message
from core.sip.transaction import (
    AckReceived,
    CancelReceived,
    RequestReceived,
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    ServerTransaction,
    TransactionError,
    TransactionLayer,
    TransactionState,
    TransactionTerminated,
    TransactionTimedOut,
    Transport,
)
from core.sip.transaction_messages import Address
from tests.sip.test_transaction_fixtures import UAC, Clock, created, request, state


def serve(req: SipRequest, *, source: Address = UAC, transport: Transport = "udp",
          t1: float = 0.5, symmetric: bool = False) -> tuple[Clock, ServerTransaction]:
    clock = Clock(TransactionLayer(t1=t1, symmetric=symmetric))
    events = clock.receive(req, source, transport)
    transaction = created(events)
    assert transaction.source == source
    return clock, transaction


def answer(clock: Clock, transaction: ServerTransaction, status: int, *, at: float | None = None,
           to_tag: str | None = "uas-tag") -> SipResponse:
    if at is not None:
        clock.advance(at)
    response = make_response(transaction.request, status, to_tag=to_tag)
    clock.layer.send_response(transaction, response, clock.now)
    clock.collect()
    return response


def answer_again(clock: Clock, transaction: ServerTransaction, response: SipResponse, *, at: float) -> None:
    """The TU sends ``response`` once more at ``at`` (its own 2xx retransmission, §13.3.1.4)."""
    clock.advance(at)
    clock.layer.send_response(transaction, response, clock.now)
    clock.collect()


def ack_for(invite: SipRequest, *, to_tag: str = "uas-tag", branch: str | None = None) -> SipRequest:
    """The UAC's ACK: same branch for a non-2xx (§17.1.1.3), a new one for a 2xx (§13.2.2.4)."""
    return request("ACK", branch=branch or invite.vias[0].branch, to_tag=to_tag, cseq=invite.cseq.number,
                   call_id=invite.call_id)


def statuses(clock: Clock) -> list[tuple[float, str]]:
    return [(round(sent.at, 6), sent.first_line) for sent in clock.sent]


def kinds(clock: Clock) -> list[tuple[float, str]]:
    return [(round(at, 6), type(event).__name__) for at, event in clock.events]


# -- INVITE server transaction (Figure 7 / RFC 6026 §7.1) ------------------------------------------------

def test_layer_sends_100_trying_after_200_ms_of_tu_silence() -> None:
    # §17.2.1: "the server transaction MUST generate a 100 (Trying) response unless it knows that the TU will
    # generate a provisional or final response within 200 ms"; §8.2.6.1: Timestamp is copied into the 100.
    invite = request(extra=("Timestamp: 54.2",))
    clock, transaction = serve(invite)
    assert isinstance(transaction, ServerInviteTransaction)
    assert state(transaction) is TransactionState.PROCEEDING
    clock.advance(0.19)
    assert clock.sent == []
    clock.advance(1.0)
    assert statuses(clock) == [(0.2, "SIP/2.0 100 Trying")]
    trying = clock.sent[0].message
    assert isinstance(trying, SipResponse)
    assert trying.header("Timestamp") == "54.2"
    assert trying.to.tag is None and trying.call_id == invite.call_id
    assert clock.sent[0].destination == UAC


def test_no_automatic_100_when_the_tu_answers_within_200_ms() -> None:
    clock, transaction = serve(request())
    answer(clock, transaction, 180, at=0.1)
    clock.advance(5.0)
    assert statuses(clock) == [(0.1, "SIP/2.0 180 Ringing")]


def test_invite_retransmission_gets_the_latest_provisional_and_is_not_passed_up() -> None:
    invite = request()
    clock, transaction = serve(invite)
    assert clock.receive(invite, at=0.1) == []               # nothing sent yet: a 100 goes out at once
    answer(clock, transaction, 180, at=0.3)
    assert clock.receive(invite, at=1.5) == []
    assert statuses(clock) == [(0.1, "SIP/2.0 100 Trying"), (0.3, "SIP/2.0 180 Ringing"),
                               (1.5, "SIP/2.0 180 Ringing")]
    assert [name for _, name in kinds(clock)] == ["RequestReceived"]


def test_non_2xx_retransmission_schedule_and_timer_h() -> None:
    # §17.2.1: Timer G starts at T1 and doubles up to T2; Timer H = 64*T1 gives up waiting for the ACK.
    clock, transaction = serve(request())
    answer(clock, transaction, 486, at=0.1)
    assert state(transaction) is TransactionState.COMPLETED
    clock.advance(40.0)
    times = [at for at, line in statuses(clock) if line.startswith("SIP/2.0 486")]
    assert times == [0.1, 0.6, 1.6, 3.6, 7.6, 11.6, 15.6, 19.6, 23.6, 27.6, 31.6]
    assert kinds(clock)[1:] == [(32.1, "TransactionTimedOut"), (32.1, "TransactionTerminated")]


def test_ack_confirms_then_timer_i_ends_it() -> None:
    invite = request()
    clock, transaction = serve(invite)
    answer(clock, transaction, 404, at=0.1)
    assert clock.receive(ack_for(invite), at=0.8) == []      # absorbed (§17.2.1): the TU never sees it
    assert state(transaction) is TransactionState.CONFIRMED
    assert clock.receive(ack_for(invite), at=1.0) == []      # ACK retransmission absorbed
    assert clock.receive(invite, at=1.1) == []               # INVITE retransmission absorbed in Confirmed
    clock.advance(20.0)
    assert [at for at, line in statuses(clock)] == [0.1, 0.6]   # Timer G stopped by the ACK
    assert kinds(clock)[-1] == (5.8, "TransactionTerminated")   # Timer I = T4


def test_lost_final_response_is_recovered_from_the_invite_retransmission() -> None:
    invite = request()
    clock, transaction = serve(invite)
    answer(clock, transaction, 603, at=0.05)
    assert clock.receive(invite, at=0.3) == []
    assert [at for at, line in statuses(clock) if "603" in line] == [0.05, 0.3]


def test_2xx_enters_accepted_absorbs_invite_retransmissions_and_passes_acks() -> None:
    # RFC 6026 §7.1: Accepted absorbs INVITE retransmissions, sends the TU's 2xx (retransmissions
    # included, §13.3.1.4), passes a matching ACK up, and ends on Timer L = 64*T1.
    invite = request()
    clock, transaction = serve(invite)
    ok = answer(clock, transaction, 200, at=0.1)
    assert state(transaction) is TransactionState.ACCEPTED
    assert clock.receive(invite, at=0.5) == []
    answer_again(clock, transaction, ok, at=0.6)
    with pytest.raises(TransactionError, match="cannot send 486"):
        clock.layer.send_response(transaction, make_response(invite, 486, to_tag="x"), clock.now)
    events = clock.receive(ack_for(invite, branch="z9hG4bK-ack-2xx"), at=0.8)
    assert [type(e) for e in events] == [AckReceived]
    clock.advance(40.0)
    assert statuses(clock) == [(0.1, "SIP/2.0 200 OK"), (0.6, "SIP/2.0 200 OK")]
    assert kinds(clock)[-1] == (32.1, "TransactionTerminated")
    # After Timer L the TU's late 2xx retransmission still goes out; the INVITE is a new request again.
    answer_again(clock, transaction, ok, at=40.0)
    assert clock.sent[-1].at == 40.0 and clock.sent[-1].first_line == "SIP/2.0 200 OK"


def test_2xx_over_tcp_is_sent_on_the_connection_and_waits_timer_l() -> None:
    source = ("198.51.100.7", 40123)
    clock, transaction = serve(request(transport="TCP"), source=source, transport="tcp")
    answer(clock, transaction, 200, at=0.05)
    assert clock.sent[-1].destination == source and clock.sent[-1].transport == "tcp"
    clock.advance(40.0)
    assert kinds(clock)[-1] == (32.05, "TransactionTerminated")


def test_non_2xx_over_tcp_no_timer_g_and_zero_timer_i() -> None:
    invite = request(transport="TCP")
    clock, transaction = serve(invite, transport="tcp")
    answer(clock, transaction, 480, at=0.05)
    clock.advance(10.0)
    assert len(clock.sent) == 1
    clock.receive(ack_for(request(transport="TCP")), transport="tcp", at=10.0)
    clock.advance(10.0)
    assert kinds(clock)[-1] == (10.0, "TransactionTerminated")


def test_ack_to_2xx_without_a_transaction_reaches_the_tu() -> None:
    clock = Clock(TransactionLayer())
    ack = request("ACK", branch="z9hG4bK-ack-x", to_tag="t")
    events = clock.receive(ack, at=1.0)
    assert len(events) == 1 and isinstance(events[0], AckReceived) and events[0].source == UAC
    assert clock.sent == []


# -- non-INVITE server transaction (Figure 8) ---------------------------------------------------------------

def test_non_invite_retransmissions_absorbed_then_answered_with_the_latest_response() -> None:
    options = request("OPTIONS", branch="z9hG4bK-o1")
    clock, transaction = serve(options)
    assert isinstance(transaction, ServerNonInviteTransaction)
    assert state(transaction) is TransactionState.TRYING
    assert clock.receive(options, at=0.5) == []              # Trying: absorbed, nothing sent
    answer(clock, transaction, 100, at=0.6)
    assert state(transaction) is TransactionState.PROCEEDING
    assert clock.receive(options, at=1.5) == []
    answer(clock, transaction, 200, at=2.0)
    assert state(transaction) is TransactionState.COMPLETED
    assert clock.receive(options, at=3.5) == []
    assert statuses(clock) == [(0.6, "SIP/2.0 100 Trying"), (1.5, "SIP/2.0 100 Trying"),
                               (2.0, "SIP/2.0 200 OK"), (3.5, "SIP/2.0 200 OK")]
    with pytest.raises(TransactionError):
        answer(clock, transaction, 500)
    clock.advance(100.0)
    assert kinds(clock) == [(0.0, "RequestReceived"), (34.0, "TransactionTerminated")]   # Timer J = 64*T1


def test_non_invite_over_tcp_ends_after_the_final_response() -> None:
    clock, transaction = serve(request("BYE", branch="z9hG4bK-b", to_tag="x", transport="TCP"), transport="tcp")
    answer(clock, transaction, 200, at=0.2)
    clock.advance(0.2)
    assert kinds(clock)[-1] == (0.2, "TransactionTerminated")
    assert clock.layer.transaction_count == 0



def test_a_stateless_final_response_leaves_no_transaction_and_a_retransmission_is_new() -> None:
    # §8.2.7 (a stateless UAS, for unauthenticated challenges): the response goes out, the transaction ends at
    # once with no TransactionTerminated (the TU ended it) and no Timer J; the same request again is a new one.
    register = request("REGISTER", branch="z9hG4bK-r1", uri="sip:192.0.2.20")
    clock, transaction = serve(register)
    clock.advance(0.1)
    response = make_response(transaction.request, 401, to_tag="uas-tag")
    clock.layer.send_response(transaction, response, clock.now, stateless=True)
    clock.collect()
    assert clock.layer.transaction_count == 0 and clock.layer.get_timer() is None
    assert statuses(clock) == [(0.1, "SIP/2.0 401 Unauthorized")]
    again = clock.receive(register, at=0.6)
    assert [type(event).__name__ for event in again] == ["RequestReceived"]
    assert created(again) is not transaction
    with pytest.raises(TransactionError):
        clock.layer.send_response(transaction, response, clock.now, stateless=True)  # it is over
    clock.advance(100.0)
    assert kinds(clock) == [(0.0, "RequestReceived"), (0.6, "RequestReceived")]  # the second still waits for the TU


def test_stateless_is_ignored_for_an_invite() -> None:
    # An INVITE's non-2xx final response needs its transaction for the ACK (§17.2.1): it stays stateful.
    clock, transaction = serve(request())
    response = make_response(transaction.request, 401, to_tag="uas-tag")
    clock.layer.send_response(transaction, response, clock.now, stateless=True)
    clock.collect()
    assert state(transaction) is TransactionState.COMPLETED and clock.layer.transaction_count == 1

# -- CANCEL (§9.2) ------------------------------------------------------------------------------------------

def cancel_of(invite: SipRequest) -> SipRequest:
    return request("CANCEL", branch=invite.vias[0].branch, cseq=invite.cseq.number, call_id=invite.call_id)


def test_cancel_of_a_pending_invite_is_answered_200_and_reported() -> None:
    invite = request()
    clock, transaction = serve(invite)
    answer(clock, transaction, 180, at=0.1, to_tag="ring-tag")
    cancel = cancel_of(invite)
    events = clock.receive(cancel, at=1.0)
    assert len(events) == 1 and isinstance(events[0], CancelReceived)
    assert events[0].transaction is transaction and events[0].cancel.method == "CANCEL"
    ok = clock.sent[-1].message
    assert isinstance(ok, SipResponse) and ok.status == 200 and ok.cseq.method == "CANCEL"
    assert ok.to.tag == "ring-tag"     # §9.2: the To tag of the CANCEL's response is the INVITE's
    # The TU answers the INVITE 487; the UAC's ACK is absorbed.
    answer(clock, transaction, 487, at=1.1, to_tag="ring-tag")
    assert clock.receive(ack_for(invite, to_tag="ring-tag"), at=1.2) == []
    assert state(transaction) is TransactionState.CONFIRMED
    # A retransmitted CANCEL gets the 200 again and is not reported twice.
    assert clock.receive(cancel, at=1.5) == []
    assert [line for _, line in statuses(clock)] == [
        "SIP/2.0 180 Ringing", "SIP/2.0 200 OK", "SIP/2.0 487 Request Terminated", "SIP/2.0 200 OK"]


def test_cancel_matching_nothing_gets_481() -> None:
    clock = Clock(TransactionLayer())
    events = clock.receive(cancel_of(request(branch="z9hG4bK-gone")), at=0.0)
    assert events == []
    assert statuses(clock) == [(0.0, "SIP/2.0 481 Call/Transaction Does Not Exist")]


def test_cancel_after_the_final_response_is_answered_but_not_reported() -> None:
    # §9.2: the CANCEL matched a transaction, so 200; the INVITE already has its final response.
    invite = request()
    clock, transaction = serve(invite)
    answer(clock, transaction, 200, at=0.1)
    assert clock.receive(cancel_of(invite), at=0.2) == []
    assert [line for _, line in statuses(clock)] == ["SIP/2.0 200 OK", "SIP/2.0 200 OK"]
    ok = clock.sent[-1].message
    assert ok.cseq.method == "CANCEL" and ok.to.tag == "uas-tag"   # §9.2: the INVITE's To tag


def test_cancel_from_another_sent_by_does_not_match() -> None:
    # §17.2.3: branch AND sent-by identify the transaction.
    invite = request()
    clock, _ = serve(invite)
    other = request("CANCEL", via="SIP/2.0/UDP 192.0.2.99:5060;branch=z9hG4bK-inv-1", cseq=1)
    assert clock.receive(other, source=("192.0.2.99", 5060), at=0.1) == []
    assert clock.sent[-1].first_line == "SIP/2.0 481 Call/Transaction Does Not Exist"


# -- matching (§17.2.3) -------------------------------------------------------------------------------------

def test_same_branch_other_method_is_another_transaction() -> None:
    clock, _ = serve(request("INVITE"))
    events = clock.receive(request("INFO", to_tag="x"), at=0.1)
    assert [type(e) for e in events] == [RequestReceived]


def test_branch_comparison_ignores_case() -> None:
    # §7.3.1: parameter values are case-insensitive unless stated otherwise.
    clock, _ = serve(request("OPTIONS", branch="z9hG4bK-AbC"))
    assert clock.receive(request("OPTIONS", branch="z9hg4bk-abc"), at=0.1) == []


def test_rfc2543_requests_match_on_their_fields() -> None:
    # §17.2.3, the fallback for a branch without the magic cookie: Request-URI, To tag, From tag, Call-ID,
    # CSeq and top Via; the ACK of a non-2xx is matched with the To tag of our response.
    old = request(branch=None, via="SIP/2.0/UDP 192.0.2.10:5060")
    clock, transaction = serve(old)
    assert clock.receive(old, at=0.1) == []                                   # retransmission
    answer(clock, transaction, 486, at=0.2, to_tag="busy")
    ack = request("ACK", branch=None, via="SIP/2.0/UDP 192.0.2.10:5060", to_tag="busy")
    assert clock.receive(ack, at=0.3) == []
    assert state(transaction) is TransactionState.CONFIRMED
    other_call = request(branch=None, via="SIP/2.0/UDP 192.0.2.10:5060", call_id="c2@uac")
    assert [type(e) for e in clock.receive(other_call, at=0.4)] == [RequestReceived]


def test_rfc2543_cancel_matches_its_invite() -> None:
    via = "SIP/2.0/UDP 192.0.2.10:5060;branch=1234"          # a branch, but without the magic cookie
    clock, transaction = serve(request(branch=None, via=via))
    events = clock.receive(request("CANCEL", branch=None, via=via), at=0.5)
    assert len(events) == 1 and isinstance(events[0], CancelReceived) and events[0].transaction is transaction


# -- response routing (§18.2.1, §18.2.2, RFC 3581) ----------------------------------------------------------

@pytest.mark.parametrize("via, source, received, rport, destination", [
    # §18.2.1: sent-by equals the source address: nothing added; the response goes to sent-by.
    ("SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-r1", ("192.0.2.10", 40000), None, None, ("192.0.2.10", 5062)),
    # §18.2.1: another address: received added; the response goes to received and the sent-by port.
    ("SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-r2", ("203.0.113.9", 5060), "203.0.113.9", None,
     ("203.0.113.9", 5060)),
    # §18.2.1: a domain name always gets received; no port means 5060 (§18.2.2).
    ("SIP/2.0/UDP phone.example.com;branch=z9hG4bK-r3", ("203.0.113.9", 6000), "203.0.113.9", None,
     ("203.0.113.9", 5060)),
    # RFC 3581 §4: rport gets the source port and received is added even when the address is the same.
    ("SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK-r4", ("192.0.2.10", 31000), "192.0.2.10", "31000",
     ("192.0.2.10", 31000)),
    ("SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-r5;rport", ("203.0.113.9", 1024), "203.0.113.9", "1024",
     ("203.0.113.9", 1024)),
    # §18.2.2: maddr wins (with the sent-by port).
    ("SIP/2.0/UDP 10.0.0.5:5070;maddr=239.255.255.1;ttl=1;branch=z9hG4bK-r6", ("203.0.113.9", 1024),
     "203.0.113.9", None, ("239.255.255.1", 5070)),
    # IPv6 (RFC 5118): the same address written differently is the same address: no received.
    ("SIP/2.0/UDP [2001:db8::0:1]:5060;branch=z9hG4bK-r7", ("2001:db8::1", 5060), None, None,
     ("2001:db8::0:1", 5060)),
    ("SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK-r8;rport", ("2001:db8::2", 7000), "2001:db8::2", "7000",
     ("2001:db8::2", 7000)),
])
def test_via_stamping_and_response_destination(via: str, source: Address, received: str | None,
                                               rport: str | None, destination: Address) -> None:
    clock, transaction = serve(request("OPTIONS", via=via), source=source)
    top = transaction.request.vias[0]
    assert top.received == received
    assert (top.rport or None) == rport
    response = answer(clock, transaction, 200)
    assert clock.sent[-1].destination == destination
    # The response carries the stamped Via back (§18.2.1 / RFC 3581 §4).
    echoed = clock.sent[-1].message.vias[0]
    assert echoed.received == received and (echoed.rport or None) == rport
    assert response.vias[0].branch == top.branch


@pytest.mark.parametrize("source", [("203.0.113.9", 1024), ("2001:db8::2", 7000)])
@pytest.mark.parametrize("extra_vias", [
    (),                                                          # one Via line
    ("Via: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bK-p1",),   # a proxy's Via on a second line
])
@pytest.mark.parametrize("top", [
    "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-v1;rport",
    "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-v2, SIP/2.0/UDP 198.51.100.2;branch=z9hG4bK-p2",  # a comma list
])
def test_stamped_vias_read_as_the_stamped_text_parses(top: str, extra_vias: tuple[str, ...],
                                                      source: Address) -> None:
    # The transaction layer keeps the Vias it stamped parsed; what the TU reads must be what the rewritten
    # header says, top and the others, as a fresh parse of the message gives them.
    clock, transaction = serve(request("OPTIONS", via=top, extra=extra_vias), source=source)
    stamped = transaction.request
    assert stamped.vias[0].received == source[0]
    fresh = parse_message(stamped.encode())
    assert stamped.vias == fresh.vias
    assert [str(via) for via in stamped.vias] == [str(via) for via in fresh.vias]
    assert len(stamped.vias) == 1 + top.count(",") + len(extra_vias)


@pytest.mark.parametrize("via", [
    "SIP/2.0/UDP phone.example.com;branch=z9hG4bK-s1",           # a name that may not resolve from here
    "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-s2",               # a private address behind NAT
    "SIP/2.0/TCP 10.0.0.5;branch=z9hG4bK-s3",                    # a Via that names another transport
    "SIP/2.0/UDP 10.0.0.5:5070;maddr=239.255.255.1;branch=z9hG4bK-s4",
])
def test_symmetric_responses_go_to_the_source(via: str) -> None:
    # Asterisk's force_rport: every UDP request is answered where it came from, as if it had rport.
    source = ("203.0.113.9", 40123)
    clock, transaction = serve(request("OPTIONS", via=via), source=source, symmetric=True)
    answer(clock, transaction, 200)
    assert clock.sent[-1].destination == source


def test_symmetric_stamps_rport_like_asterisk_force_rport() -> None:
    # Asterisk res/res_pjsip_nat.c handle_rx_message(): with force_rport the top Via's rport becomes the
    # source port, so the response tells the phone where it was seen (received and rport, RFC 3581 §4).
    source = ("203.0.113.9", 40123)
    clock, transaction = serve(request("OPTIONS", via="SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-fr"),
                               source=source, symmetric=True)
    answer(clock, transaction, 200)
    echoed = clock.sent[-1].message.vias[0]
    assert (echoed.received, echoed.rport) == ("203.0.113.9", "40123")
    assert clock.sent[-1].destination == source


def test_tcp_responses_go_back_on_the_connection() -> None:
    # §18.2.2: a reliable transport answers on the connection the request came on.
    source = ("198.51.100.7", 50123)
    clock, transaction = serve(request("OPTIONS", transport="TCP", branch="z9hG4bK-t"), source=source,
                               transport="tcp")
    assert transaction.request.vias[0].received == "198.51.100.7"
    answer(clock, transaction, 200)
    assert (clock.sent[-1].destination, clock.sent[-1].transport) == (source, "tcp")


# -- merged requests (§8.2.2.2) -----------------------------------------------------------------------------

def test_merged_request_is_detected() -> None:
    # The same INVITE forked back to us over two paths: same From tag, Call-ID and CSeq, other branch.
    clock, first = serve(request(branch="z9hG4bK-path-1"))
    events = clock.receive(request(via="SIP/2.0/UDP 192.0.2.30:5060;branch=z9hG4bK-path-2"),
                           source=("192.0.2.30", 5060), at=0.1)
    second = created(events)
    assert clock.layer.merged_with(second) is first
    assert clock.layer.merged_with(first) is None
    answer(clock, second, 482)
    assert clock.sent[-1].first_line == "SIP/2.0 482 Loop Detected"
    assert clock.sent[-1].destination == ("192.0.2.30", 5060)


@pytest.mark.parametrize("other", [
    {"to_tag": "in-dialog"},          # §8.2.2.2 applies only to requests without a To tag
    {"cseq": 2},                      # another CSeq: a new request
    {"call_id": "c9@uac"},            # another call
    {"from_tag": "ft9"},
])
def test_not_merged(other: dict[str, Any]) -> None:
    clock, _ = serve(request(branch="z9hG4bK-path-1"))
    events = clock.receive(request(branch="z9hG4bK-path-2", **other), at=0.1)
    assert clock.layer.merged_with(created(events)) is None


def test_merge_detection_ends_with_the_first_transaction() -> None:
    clock, first = serve(request("OPTIONS", branch="z9hG4bK-m1"))
    answer(clock, first, 200)
    clock.advance(40.0)
    assert first.terminated
    events = clock.receive(request("OPTIONS", branch="z9hG4bK-m2"), at=41.0)
    assert clock.layer.merged_with(created(events)) is None


# -- malformed input -----------------------------------------------------------------------------------------

def test_request_with_mismatched_cseq_method_gets_400() -> None:
    clock = Clock(TransactionLayer())
    assert clock.receive(request("OPTIONS", cseq_method="INVITE", branch="z9hG4bK-bad")) == []
    assert clock.sent[-1].first_line.startswith("SIP/2.0 400 ")
    assert clock.layer.transaction_count == 0


def test_timeout_events_name_the_transaction() -> None:
    clock, transaction = serve(request())
    answer(clock, transaction, 500, at=0.1)
    events = clock.advance(40.0)
    assert [type(e) for e in events] == [TransactionTimedOut, TransactionTerminated]
    assert all(e.transaction is transaction for e in events)  # type: ignore[union-attr]


def test_timer_h_follows_asterisk_timer_b() -> None:
    # pjsip.conf [system] timer_b is pjproject's tsx.td, the timeout of the INVITE server too (Timer H).
    clock = Clock(TransactionLayer(timer_b=45.0))
    transaction = created(clock.receive(request()))
    answer(clock, transaction, 503, at=0.5)
    clock.advance(100.0)
    assert kinds(clock)[-2:] == [(45.5, "TransactionTimedOut"), (45.5, "TransactionTerminated")]


def test_request_with_a_malformed_via_gets_400_from_the_source() -> None:
    # Principle 6: bad input gets a protocol-correct error; without a usable Via the source is the address.
    clock = Clock(TransactionLayer())
    assert clock.receive(request("OPTIONS", via="SIP/2.0/UDP 192.0.2.10:99999;branch=z9hG4bK-x"),
                         source=("192.0.2.10", 40000)) == []
    assert clock.sent[-1].first_line == "SIP/2.0 400 Malformed Via"
    assert clock.sent[-1].destination == ("192.0.2.10", 40000)


def test_malformed_ack_is_never_answered() -> None:
    clock = Clock(TransactionLayer())
    assert clock.receive(request("ACK", via="SIP/2.0/UDP bad host", to_tag="t")) == []
    assert clock.sent == []


def test_stray_ack_before_a_final_response_is_absorbed() -> None:
    invite = request()
    clock, transaction = serve(invite)
    assert clock.receive(ack_for(invite), at=0.1) == []
    assert state(transaction) is TransactionState.PROCEEDING


def test_completed_server_transaction_still_shows_its_messages() -> None:
    options = request("OPTIONS", branch="z9hG4bK-keep")
    clock, transaction = serve(options)
    answer(clock, transaction, 200, at=0.1)
    assert transaction.request.method == "OPTIONS" and transaction.request.call_id == options.call_id
    assert transaction.last_response is not None and transaction.last_response.status == 200


def test_timer_heap_stays_bounded_when_transactions_end_early() -> None:
    # Timers are deleted lazily; the heap is compacted so that 20,000 answered INVITEs (each leaving a
    # stale 100-Trying timer behind) do not pile up stale entries.
    layer = TransactionLayer()
    for n in range(20_000):
        events = layer.receive(request(branch=f"z9hG4bK-many-{n}", call_id=f"c{n}"), UAC, "udp", n * 0.001)
        layer.send_response(created(events), make_response(created(events).request, 486, to_tag="t"), n * 0.001)
        layer.receive(request("ACK", branch=f"z9hG4bK-many-{n}", call_id=f"c{n}", to_tag="t"), UAC, "udp",
                      n * 0.001)
    assert layer.transaction_count == 20_000
    assert layer._armed < 3 * 20_000   # live: one Timer I each; stale: G, H, 100 Trying
    armed = sum(len(queue) for queue in layer._queues.values()) + len(layer._heap)
    assert armed == layer._armed
    layer.handle_timer(100.0)
    assert layer.transaction_count == 0 and layer.get_timer() is None


def test_timers_armed_with_an_earlier_clock_still_fire_in_deadline_order() -> None:
    # Timers wait in one queue per delay, in arming order; one armed with a ``now`` earlier than the last
    # one's cannot go at the back of its queue and must still come out at its own deadline.
    layer = TransactionLayer()
    late = layer.receive(request(branch="z9hG4bK-late", call_id="late"), UAC, "udp", 10.0)
    early = layer.receive(request(branch="z9hG4bK-early", call_id="early"), UAC, "udp", 5.0)
    assert layer.get_timer() == pytest.approx(5.2)   # the 100 Trying of the INVITE that came "first"
    layer.handle_timer(5.2)
    assert created(early).last_response is not None and created(early).last_response.status == 100
    assert created(late).last_response is None
    assert layer.get_timer() == pytest.approx(10.2)
    layer.handle_timer(10.2)
    assert created(late).last_response is not None and created(late).last_response.status == 100
