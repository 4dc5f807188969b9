"""Client transactions (RFC 3261 §17.1, RFC 6026 §7.2 and §8.4) and CANCEL (§9.1): what goes on the wire and when."""

from __future__ import annotations

from typing import Any

import pytest

from core.sip.message import SipRequest
from core.sip.transaction import (
    ClientInviteTransaction,
    ClientTransaction,
    ResponseReceived,
    TransactionError,
    TransactionLayer,
    TransactionState,
    TransactionTerminated,
    TransactionTimedOut,
    Transport,
)
from tests.sip.test_transaction_fixtures import UAS, Clock, reply, request, state


def start(method: str = "INVITE", transport: Transport = "udp", t1: float = 0.5,
          **kwargs: Any) -> tuple[Clock, SipRequest, ClientTransaction]:
    """A layer that sent ``method`` to the UAS at t=0."""
    layer = TransactionLayer(t1=t1)
    clock = Clock(layer)
    req = request(method, transport=transport.upper(), **kwargs)
    transaction = layer.send_request(req, UAS, transport, 0.0)
    clock.collect()
    return clock, req, transaction


def kinds(clock: Clock) -> list[tuple[float, str]]:
    return [(round(at, 6), type(event).__name__) for at, event in clock.events]


# -- INVITE client transaction (Figure 5 / RFC 6026 §8.4) ------------------------------------------------

def test_invite_retransmission_schedule_over_udp_and_timer_b() -> None:
    # §17.1.1.2: Timer A starts at T1 and doubles each time (no T2 cap); Timer B = 64*T1 = 32 s gives up.
    clock, _, tx = start()
    clock.advance(40.0)
    assert clock.times("INVITE ") == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert kinds(clock) == [(32.0, "TransactionTimedOut"), (32.0, "TransactionTerminated")]
    assert clock.layer.transaction_count == 0 and clock.layer.get_timer() is None


@pytest.mark.parametrize("t1, expected", [
    (0.1, [0.0, 0.1, 0.3, 0.7, 1.5, 3.1, 6.3]),   # same seven sends, scaled: T1 is configurable (§17.1.1.1)
    (1.0, [0.0, 1.0, 3.0, 7.0, 15.0, 31.0, 63.0]),
])
def test_invite_schedule_scales_with_t1(t1: float, expected: list[float]) -> None:
    clock, _, tx = start(t1=t1)
    clock.advance(100.0)
    assert clock.times("INVITE ") == expected
    assert kinds(clock)[0] == (round(64 * t1, 6), "TransactionTimedOut")


def test_invite_over_tcp_is_not_retransmitted_but_still_times_out() -> None:
    # §17.1.1.2: no Timer A over a reliable transport; Timer B runs "for any transport".
    clock, _, tx = start(transport="tcp")
    clock.advance(40.0)
    assert clock.times("INVITE ") == [0.0]
    assert clock.sent[0].transport == "tcp"
    assert kinds(clock) == [(32.0, "TransactionTimedOut"), (32.0, "TransactionTerminated")]


def test_provisional_stops_retransmissions_and_timer_b() -> None:
    clock, invite, tx = start()
    events = clock.receive(reply(invite, 100), UAS, at=0.7)
    assert [type(e) for e in events] == [ResponseReceived]
    assert state(tx) is TransactionState.PROCEEDING
    clock.receive(reply(invite, 180), UAS, at=1.0)
    clock.advance(120.0)
    assert clock.times("INVITE ") == [0.0, 0.5]      # Timer A stopped in Proceeding
    assert [name for _, name in kinds(clock)] == ["ResponseReceived", "ResponseReceived"]  # no Timer B


def test_non_2xx_final_is_acked_by_the_transaction() -> None:
    # §17.1.1.3: the ACK has the INVITE's Request-URI, Call-ID, From, CSeq number and top Via (same branch),
    # the To of the response, the INVITE's Route header fields, and goes where the INVITE went.
    clock, invite, tx = start(routes=("<sip:proxy.example.net;lr>",))
    busy = reply(invite, 486, to_tag="busy-tag")
    events = clock.receive(busy, UAS, at=1.0)
    assert [type(e) for e in events] == [ResponseReceived]
    assert state(tx) is TransactionState.COMPLETED
    ack_sent = clock.sent[-1]
    ack = ack_sent.message
    assert isinstance(ack, SipRequest)
    assert ack.method == "ACK" and str(ack.uri) == str(invite.uri)
    assert ack_sent.destination == UAS
    assert ack.cseq.number == invite.cseq.number and ack.cseq.method == "ACK"
    assert len(ack.vias) == 1 and ack.vias[0].branch == invite.vias[0].branch
    assert ack.to.tag == "busy-tag" and ack.from_.tag == invite.from_.tag and ack.call_id == invite.call_id
    assert [str(r.uri) for r in ack.routes] == ["sip:proxy.example.net;lr"]
    assert ack.body == b""


def test_retransmitted_final_gets_the_ack_again_and_timer_d_ends_the_transaction() -> None:
    # §17.1.1.2: a retransmitted 300-699 in Completed is ACKed again and not passed up; Timer D >= 32 s.
    clock, invite, tx = start()
    busy = reply(invite, 486)
    clock.receive(busy, UAS, at=1.0)
    assert clock.receive(busy, UAS, at=1.6) == []
    assert clock.receive(busy, UAS, at=2.6) == []
    assert clock.times("ACK ") == [1.0, 1.6, 2.6]
    assert len({sent.data for sent in clock.sent if sent.first_line.startswith("ACK ")}) == 1
    clock.advance(100.0)
    assert kinds(clock)[-1] == (33.0, "TransactionTerminated")
    assert clock.receive(busy, UAS, at=101.0) == []   # stray after termination: dropped, no ACK
    assert clock.times("ACK ") == [1.0, 1.6, 2.6]


def test_timer_d_is_at_least_32_seconds_even_with_a_small_t1() -> None:
    clock, invite, tx = start(t1=0.1)
    clock.receive(reply(invite, 603), UAS, at=0.05)
    clock.advance(100.0)
    assert kinds(clock)[-1] == (32.05, "TransactionTerminated")


def test_non_2xx_over_tcp_terminates_at_once() -> None:
    # Timer D is zero for reliable transports: Terminated at the next handle_timer, at the same instant.
    clock, invite, tx = start(transport="tcp")
    clock.receive(reply(invite, 404), UAS, "tcp", at=0.3)
    assert clock.times("ACK ") == [0.3]
    assert clock.layer.get_timer() == 0.3
    clock.advance(0.3)
    assert kinds(clock) == [(0.3, "ResponseReceived"), (0.3, "TransactionTerminated")]


def test_2xx_enters_accepted_and_every_2xx_reaches_the_tu() -> None:
    # RFC 6026 §7.2/§8.4: a 2xx moves Calling/Proceeding to Accepted; 2xx retransmissions (and forks) are passed
    # to the TU, which ACKs each; the transaction sends no ACK itself; Timer M = 64*T1 ends it.
    clock, invite, tx = start()
    ok = reply(invite, 200)
    assert [type(e) for e in clock.receive(ok, UAS, at=0.2)] == [ResponseReceived]
    assert state(tx) is TransactionState.ACCEPTED
    assert [type(e) for e in clock.receive(ok, UAS, at=0.7)] == [ResponseReceived]
    forked = reply(invite, 200, to_tag="other-fork")
    events = clock.receive(forked, UAS, at=0.9)
    assert isinstance(events[0], ResponseReceived) and events[0].response.to.tag == "other-fork"
    assert clock.times("ACK ") == []
    assert clock.receive(reply(invite, 486), UAS, at=1.0) == []    # a non-2xx in Accepted is dropped
    clock.advance(100.0)
    assert clock.times("INVITE ") == [0.0]
    assert kinds(clock)[-1] == (32.2, "TransactionTerminated")
    assert clock.receive(ok, UAS, at=101.0) == []


def test_2xx_after_a_provisional_enters_accepted() -> None:
    clock, invite, tx = start()
    clock.receive(reply(invite, 183), UAS, at=0.3)
    clock.receive(reply(invite, 200), UAS, at=4.0)
    assert state(tx) is TransactionState.ACCEPTED
    assert tx.last_response is not None and tx.last_response.status == 200
    clock.advance(100.0)
    assert kinds(clock)[-1] == (36.0, "TransactionTerminated")


def test_2xx_over_tcp_still_waits_timer_m() -> None:
    clock, invite, tx = start(transport="tcp")
    clock.receive(reply(invite, 200), UAS, "tcp", at=0.1)
    clock.advance(10.0)
    assert [name for _, name in kinds(clock)] == ["ResponseReceived"]
    clock.advance(40.0)
    assert kinds(clock)[-1] == (32.1, "TransactionTerminated")


def test_a_response_with_another_cseq_method_does_not_match() -> None:
    # §17.1.3: branch and CSeq method must both match (a CANCEL shares the INVITE's branch).
    clock, invite, tx = start()
    fake = request("CANCEL", cseq_method="CANCEL")
    assert clock.receive(reply(fake, 200), UAS, at=0.1) == []
    assert state(tx) is TransactionState.CALLING


def test_a_response_with_another_branch_is_dropped() -> None:
    clock, _, tx = start()
    other = request(branch="z9hG4bK-someone-else")
    assert clock.receive(reply(other, 200), UAS, at=0.1) == []


# -- non-INVITE client transaction (Figure 6) ---------------------------------------------------------------

def test_non_invite_retransmission_schedule_and_timer_f() -> None:
    # §17.1.2.2: Timer E starts at T1, doubles up to T2 = 4 s; Timer F = 64*T1 times out.
    clock, _, tx = start("OPTIONS", branch="z9hG4bK-opt-1")
    clock.advance(40.0)
    assert clock.times("OPTIONS ") == [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert kinds(clock) == [(32.0, "TransactionTimedOut"), (32.0, "TransactionTerminated")]
    assert isinstance(clock.events[0][1], TransactionTimedOut)


def test_non_invite_retransmits_every_t2_once_proceeding() -> None:
    # §17.1.2.2: in Proceeding, a firing Timer E retransmits and is reset to T2.
    clock, req, tx = start("REGISTER", branch="z9hG4bK-reg-1", uri="sip:192.0.2.20")
    clock.receive(reply(req, 100), UAS, at=0.6)
    clock.advance(20.0)
    assert clock.times("REGISTER ") == [0.0, 0.5, 1.5, 5.5, 9.5, 13.5, 17.5]


def test_non_invite_proceeding_then_final_and_timer_f_still_runs_in_proceeding() -> None:
    # §17.1.2.2: Timer F fires in Trying or Proceeding; a final response in Proceeding completes.
    clock, req, tx = start("REGISTER", branch="z9hG4bK-reg-2", uri="sip:192.0.2.20")
    clock.receive(reply(req, 100), UAS, at=0.2)
    assert state(tx) is TransactionState.PROCEEDING
    assert [type(e) for e in clock.receive(reply(req, 401), UAS, at=0.9)] == [ResponseReceived]
    assert state(tx) is TransactionState.COMPLETED
    clock2, _, tx2 = start("REGISTER", branch="z9hG4bK-reg-3", uri="sip:192.0.2.20")
    clock2.receive(reply(clock2.sent[0].message, 100), UAS, at=0.2)  # type: ignore[arg-type]
    clock2.advance(40.0)
    assert [name for _, name in kinds(clock2)] == ["ResponseReceived", "TransactionTimedOut", "TransactionTerminated"]
    assert kinds(clock2)[1][0] == 32.0 and tx2.terminated


def test_non_invite_final_completes_and_timer_k_absorbs_retransmissions() -> None:
    clock, req, tx = start("BYE", branch="z9hG4bK-bye-1", to_tag="uas-tag")
    ok = reply(req, 200)
    assert [type(e) for e in clock.receive(ok, UAS, at=0.7)] == [ResponseReceived]
    assert state(tx) is TransactionState.COMPLETED
    assert clock.receive(ok, UAS, at=1.2) == []
    assert clock.receive(reply(req, 100), UAS, at=1.3) == []
    clock.advance(10.0)
    assert clock.times("BYE ") == [0.0, 0.5]
    assert kinds(clock)[-1] == (5.7, "TransactionTerminated")   # Timer K = T4 = 5 s


def test_non_invite_over_tcp_no_retransmission_and_zero_timer_k() -> None:
    clock, req, tx = start("OPTIONS", transport="tls", branch="z9hG4bK-opt-tls")
    clock.advance(3.0)
    assert clock.times("OPTIONS ") == [0.0]
    clock.receive(reply(req, 200), UAS, "tls", at=3.0)
    clock.advance(3.0)
    assert kinds(clock) == [(3.0, "ResponseReceived"), (3.0, "TransactionTerminated")]


def test_non_invite_over_tcp_times_out_with_timer_f() -> None:
    clock, _, tx = start("OPTIONS", transport="tcp", branch="z9hG4bK-opt-tcp")
    clock.advance(40.0)
    assert kinds(clock) == [(32.0, "TransactionTimedOut"), (32.0, "TransactionTerminated")]


# -- sending requests ---------------------------------------------------------------------------------------

def test_send_request_adds_a_branch_when_the_via_has_none() -> None:
    layer = TransactionLayer()
    transaction = layer.send_request(request("OPTIONS", branch=None), UAS, "udp", 0.0)
    (data, destination, transport), = layer.datagrams_to_send()
    assert transaction.branch.startswith("z9hG4bK")
    assert f"branch={transaction.branch}".encode() in data
    assert destination == UAS and transport == "udp"


def test_duplicate_branch_and_ack_are_refused() -> None:
    layer = TransactionLayer()
    layer.send_request(request("OPTIONS", branch="z9hG4bK-dup"), UAS, "udp", 0.0)
    with pytest.raises(TransactionError, match="already in use"):
        layer.send_request(request("OPTIONS", branch="z9hG4bK-dup"), UAS, "udp", 0.0)
    with pytest.raises(TransactionError, match="send_stateless"):
        layer.send_request(request("ACK", branch="z9hG4bK-ack"), UAS, "udp", 0.0)


@pytest.mark.parametrize("t1, t2, t4", [(0.5, 0.4, 5.0), (0.5, 4.0, -1.0)])
def test_bad_timer_values_are_refused(t1: float, t2: float, t4: float) -> None:
    with pytest.raises(ValueError):
        TransactionLayer(t1=t1, t2=t2, t4=t4)


@pytest.mark.parametrize("t1, timer_b, timeout", [
    # Asterisk res/res_pjsip/config_system.c system_apply(): T1 below TIMER_T1_MIN (100 ms) is raised to it...
    (0.02, None, 6.4),
    # ...Timer B (default 32000 ms, DEFAULT_TIMER_B) below 64*T1 is raised to 64*T1...
    (0.5, 10.0, 32.0),
    (1.0, 32.0, 64.0),
    # ...and a larger one is the timeout of every transaction (pjproject uses tsx.td for B, F, H and D).
    (0.5, 40.0, 40.0),
])
def test_timer_settings_follow_asterisk(t1: float, timer_b: float | None, timeout: float) -> None:
    layer = TransactionLayer(t1=t1, timer_b=timer_b)
    clock = Clock(layer)
    layer.send_request(request("OPTIONS", branch="z9hG4bK-f"), UAS, "udp", 0.0)
    layer.send_request(request("INVITE", branch="z9hG4bK-b"), UAS, "udp", 0.0)
    clock.collect()
    clock.advance(100.0)
    assert [round(at, 6) for at, e in clock.events if isinstance(e, TransactionTimedOut)] == [timeout, timeout]
    assert clock.times("OPTIONS ")[1] == max(t1, 0.1)


# -- CANCEL (§9.1) ------------------------------------------------------------------------------------------

def test_cancel_waits_for_a_provisional_response() -> None:
    # §9.1: "If no provisional response has been received, the CANCEL request MUST NOT be sent".
    clock, invite, tx = start(routes=("<sip:proxy.example.net;lr>",))
    clock.advance(0.2)
    cancel = clock.layer.cancel(tx, clock.now)
    clock.collect()
    assert clock.times("CANCEL ") == []
    assert clock.layer.cancel(tx, 0.3) is cancel
    clock.receive(reply(invite, 180), UAS, at=0.4)
    assert clock.times("CANCEL ") == [0.4]
    sent = clock.sent[-1]
    message = sent.message
    assert isinstance(message, SipRequest)
    # §9.1: same Request-URI, Call-ID, To, From, CSeq number; one Via equal to the INVITE's top Via; Route.
    assert message.method == "CANCEL" and str(message.uri) == str(invite.uri)
    assert message.call_id == invite.call_id and message.to.tag is None
    assert message.from_.tag == invite.from_.tag
    assert (message.cseq.number, message.cseq.method) == (1, "CANCEL")
    assert [v.branch for v in message.vias] == [invite.vias[0].branch]
    assert [str(r.uri) for r in message.routes] == ["sip:proxy.example.net;lr"]
    assert sent.destination == UAS
    # The CANCEL has its own non-INVITE transaction: 200 to it, then 487 to the INVITE, which is ACKed.
    assert [type(e) for e in clock.receive(reply(message, 200), UAS, at=0.5)] == [ResponseReceived]
    assert state(cancel) is TransactionState.COMPLETED
    events = clock.receive(reply(invite, 487), UAS, at=0.6)
    assert isinstance(events[0], ResponseReceived) and events[0].response.status == 487
    assert clock.times("ACK ") == [0.6]
    assert clock.times("CANCEL ") == [0.4]


def test_cancel_is_retransmitted_like_any_non_invite_request() -> None:
    clock, invite, tx = start()
    clock.receive(reply(invite, 100), UAS, at=0.1)
    clock.advance(1.0)
    clock.layer.cancel(tx, clock.now)
    clock.collect()
    clock.advance(5.0)
    assert clock.times("CANCEL ") == [1.0, 1.5, 2.5, 4.5]


def test_final_response_before_any_provisional_drops_the_queued_cancel() -> None:
    # §9.1: "If the original request has generated a final response, the CANCEL SHOULD NOT be sent".
    clock, invite, tx = start()
    clock.advance(0.1)
    cancel = clock.layer.cancel(tx, clock.now)
    events = clock.receive(reply(invite, 486), UAS, at=0.3)
    assert [type(e) for e in events] == [ResponseReceived, TransactionTerminated]
    assert isinstance(events[1], TransactionTerminated) and events[1].transaction is cancel and cancel.terminated
    clock.advance(50.0)
    assert clock.times("CANCEL ") == []


def test_cancel_after_the_final_response_is_never_sent() -> None:
    clock, invite, tx = start()
    clock.receive(reply(invite, 200), UAS, at=0.3)
    clock.advance(0.4)
    cancel = clock.layer.cancel(tx, clock.now)
    assert clock.layer.get_timer() == 0.4
    events = clock.advance(0.4)
    assert [e.transaction for e in events if isinstance(e, TransactionTerminated)] == [cancel]
    assert clock.times("CANCEL ") == []


def test_invite_timeout_before_a_provisional_drops_the_queued_cancel() -> None:
    clock, _, tx = start()
    clock.advance(1.0)
    cancel = clock.layer.cancel(tx, clock.now)
    events = clock.advance(40.0)
    assert [(type(e).__name__, e.transaction is cancel) for e in events] == [  # type: ignore[union-attr]
        ("TransactionTimedOut", False), ("TransactionTerminated", False), ("TransactionTerminated", True)]


def test_invite_without_a_final_response_64_t1_after_the_cancel_is_given_up() -> None:
    # §9.1: "If no final response is received for the original request in 64*T1 seconds ... the client SHOULD
    # then consider the original transaction cancelled and SHOULD destroy the client transaction".
    clock, invite, tx = start()
    clock.receive(reply(invite, 180), UAS, at=0.2)
    clock.advance(2.0)
    clock.layer.cancel(tx, clock.now)
    clock.collect()
    clock.receive(reply(clock.sent[-1].message, 200), UAS, at=2.1)  # type: ignore[arg-type]
    clock.advance(100.0)
    timed_out = [(at, e.transaction) for at, e in clock.events if isinstance(e, TransactionTimedOut)]
    assert timed_out == [(34.0, tx)]


def test_only_an_invite_can_be_cancelled() -> None:
    layer = TransactionLayer()
    options = layer.send_request(request("OPTIONS", branch="z9hG4bK-o"), UAS, "udp", 0.0)
    with pytest.raises(TransactionError):
        layer.cancel(options, 0.1)
    invite = layer.send_request(request(), UAS, "udp", 0.0)
    assert isinstance(invite, ClientInviteTransaction)


def test_malformed_responses_are_dropped() -> None:
    clock, invite, tx = start()
    bad = reply(invite, 180)
    bad.set_header("CSeq", "one INVITE")
    assert clock.receive(bad, UAS, at=0.1) == []
    no_branch = reply(invite, 180)
    no_branch.set_header("Via", "SIP/2.0/UDP 192.0.2.10:5060")
    assert clock.receive(no_branch, UAS, at=0.2) == []
    assert state(tx) is TransactionState.CALLING and clock.times("SIP/") == []


def test_completed_transaction_still_shows_its_messages() -> None:
    # While it waits out Timer K the transaction keeps only bytes; request and last_response re-parse them.
    clock, req, tx = start("OPTIONS", branch="z9hG4bK-keep")
    clock.receive(reply(req, 200), UAS, at=0.1)
    assert tx.request.method == "OPTIONS" and tx.request.call_id == req.call_id
    assert tx.last_response is not None and tx.last_response.status == 200
    assert tx.last_response.to.tag == "uas-tag"
