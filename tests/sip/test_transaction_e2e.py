"""Two transaction layers pumped into each other in memory (aioquic style) over a lossy, reordering,
duplicating network driven by hypothesis: a call (INVITE/180/200/ACK, BYE/200) or a cancelled call always
converges -- each request reaches the far TU exactly once, both sides finish, no transaction is left."""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.sip.message import SipResponse, make_response, new_branch, parse_message
from core.sip.transaction import (
    AckReceived,
    CancelReceived,
    ClientTransaction,
    RequestReceived,
    ResponseReceived,
    ServerTransaction,
    TransactionEvent,
    TransactionLayer,
    TransactionTerminated,
    TransactionTimedOut,
    Transport,
)
from tests.sip.test_transaction_fixtures import UAC, UAS, request

MAX_LOSSES = 4
"""Copies of one message the network may lose: fewer than the retransmissions within 64*T1 (§17.1.1.2:
seven INVITE sends; §17.1.2.2: eleven non-INVITE sends; §13.3.1.4: eleven 2xx sends)."""

Fate = tuple[str, float]          # ("deliver" | "drop" | "duplicate", latency in seconds)


@dataclass
class Network:
    """Carries queued messages between the two layers with the latency and fate hypothesis chose."""

    fates: list[Fate]
    transport: Transport = "udp"
    in_flight: list[tuple[float, int, bytes, str]] = field(default_factory=list)
    end: float = 0.0
    losses: dict[bytes, int] = field(default_factory=dict)
    sequence: itertools.count[int] = field(default_factory=itertools.count)
    first_lines: list[str] = field(default_factory=list)

    def send(self, data: bytes, to: str, now: float) -> None:
        self.first_lines.append(data.split(b"\r\n", 1)[0].decode())
        fate, latency = self.fates.pop(0) if self.fates else ("deliver", 0.02)
        if self.transport != "udp":
            fate, latency = "deliver", 0.01          # a stream loses and reorders nothing
        if fate == "drop" and self.losses.get(data, 0) < MAX_LOSSES:
            self.losses[data] = self.losses.get(data, 0) + 1
            return
        copies = 2 if fate == "duplicate" else 1
        for copy in range(copies):
            heapq.heappush(self.in_flight, (now + latency + 0.01 * copy, next(self.sequence), data, to))

    def next_arrival(self) -> float | None:
        return self.in_flight[0][0] if self.in_flight else None


class Uac:
    """The calling TU: ACKs every 2xx (§13.2.2.4), hangs up with BYE ``hold`` seconds after the answer,
    or cancels at ``cancel_at``."""

    def __init__(self, layer: TransactionLayer, transport: Transport, hold: float, cancel_at: float | None) -> None:
        self.layer = layer
        self.transport = transport
        self.hold = hold
        self.cancel_at = cancel_at
        self.bye_at: float | None = None
        self.invite = request(transport=transport.upper(), branch=new_branch(), extra=("Expires: 60",))
        self.invite_transaction: ClientTransaction | None = None
        self.bye_transaction: ClientTransaction | None = None
        self.final_statuses: list[int] = []
        self.bye_status: int | None = None
        self.acks: dict[str, bytes] = {}
        self.answer_tag: str | None = None
        self.ended: list[ClientTransaction] = []

    def start(self, now: float) -> None:
        self.invite_transaction = self.layer.send_request(self.invite, UAS, self.transport, now)

    def next_timer(self) -> float | None:
        times = [t for t in (self.cancel_at, self.bye_at) if t is not None]
        return min(times) if times else None

    def handle_timer(self, now: float) -> None:
        if self.cancel_at is not None and self.cancel_at <= now:
            self.cancel_at = None
            assert self.invite_transaction is not None
            self.layer.cancel(self.invite_transaction, now)
        if self.bye_at is not None and self.bye_at <= now:
            self.bye_at = None
            bye = request("BYE", transport=self.transport.upper(), branch=new_branch(), cseq=2,
                          to_tag=self.answer_tag)
            self.bye_transaction = self.layer.send_request(bye, UAS, self.transport, now)

    def on_event(self, event: TransactionEvent, now: float) -> None:
        if isinstance(event, ResponseReceived):
            response = event.response
            if event.transaction is self.invite_transaction and response.status >= 200:
                self.final_statuses.append(response.status)
                if response.status < 300:
                    self._ack(response)
                    if self.answer_tag is None:
                        self.answer_tag = response.to.tag
                        self.bye_at = now + self.hold
            elif event.transaction is self.bye_transaction and response.status >= 200:
                self.bye_status = response.status
        elif isinstance(event, TransactionTerminated):
            self.ended.append(event.transaction)  # type: ignore[arg-type]
        assert not isinstance(event, TransactionTimedOut), "a transaction timed out"

    def _ack(self, response: SipResponse) -> None:
        tag = response.to.tag or ""
        if tag not in self.acks:   # §13.2.2.4: one ACK per 2xx, re-sent for each retransmission
            ack = request("ACK", transport=self.transport.upper(), branch=new_branch(), to_tag=tag)
            self.acks[tag] = ack.encode()
        self.layer.send_stateless(parse_message(self.acks[tag]), UAS, self.transport)


class Uas:
    """The called TU: 180 at once, 200 after ``answer_after`` s retransmitted until the ACK (§13.3.1.4),
    487 on CANCEL, 200 to BYE."""

    def __init__(self, layer: TransactionLayer, answer_after: float) -> None:
        self.layer = layer
        self.answer_after = answer_after
        self.requests: list[str] = []
        self.invite_transaction: ServerTransaction | None = None
        self.ok: SipResponse | None = None
        self.answer_at: float | None = None
        self.retransmit_at: float | None = None
        self.retransmit_interval = 0.0
        self.retransmit_until = 0.0
        self.acked = False
        self.cancelled = False

    def on_event(self, event: TransactionEvent, now: float) -> None:
        if isinstance(event, RequestReceived):
            self.requests.append(event.request.method)
            if event.request.method == "INVITE":
                self.invite_transaction = event.transaction
                self.layer.send_response(event.transaction, make_response(event.request, 180, to_tag="uas"), now)
                self.answer_at = now + self.answer_after
            elif event.request.method == "BYE":
                self.retransmit_at = None
                self.layer.send_response(event.transaction, make_response(event.request, 200), now)
        elif isinstance(event, CancelReceived):
            self.cancelled = True
            self.answer_at = None
            self.layer.send_response(event.transaction, make_response(event.transaction.request, 487, to_tag="uas"),
                                     now)
        elif isinstance(event, AckReceived):
            self.acked = True
            self.retransmit_at = None
        assert not isinstance(event, TransactionTimedOut), "a transaction timed out"

    def next_timer(self) -> float | None:
        times = [t for t in (self.answer_at, self.retransmit_at) if t is not None]
        return min(times) if times else None

    def handle_timer(self, now: float) -> None:
        if self.invite_transaction is None:
            return
        if self.answer_at is not None and self.answer_at <= now:
            self.answer_at = None
            self.ok = make_response(self.invite_transaction.request, 200, to_tag="uas")
            self.layer.send_response(self.invite_transaction, self.ok, now)
            if self.invite_transaction.transport == "udp":
                self.retransmit_interval = self.layer.t1
                self.retransmit_at = now + self.layer.t1
                self.retransmit_until = now + 64 * self.layer.t1
        if self.retransmit_at is not None and self.retransmit_at <= now and self.ok is not None:
            if now >= self.retransmit_until:
                self.retransmit_at = None
                return
            self.layer.send_response(self.invite_transaction, self.ok, now)
            self.retransmit_interval = min(2 * self.retransmit_interval, self.layer.t2)
            self.retransmit_at = now + self.retransmit_interval


def run_call(fates: list[Fate], *, transport: Transport = "udp", cancel_at: float | None = None,
             answer_after: float = 1.0, hold: float = 0.0) -> tuple[Uac, Uas, TransactionLayer, TransactionLayer,
                                                                    Network]:
    """Pump the two layers and their TUs by the fake clock until nothing is left to do."""
    caller, callee = TransactionLayer(), TransactionLayer()
    uac, uas = Uac(caller, transport, hold, cancel_at), Uas(callee, answer_after)
    network = Network(list(fates), transport)
    now = 0.0
    uac.start(now)
    for _ in range(20_000):
        for data, destination, _transport in caller.datagrams_to_send():
            assert destination == UAS
            network.send(data, "uas", now)
        for data, destination, _transport in callee.datagrams_to_send():
            assert destination == UAC
            network.send(data, "uac", now)
        candidates = [t for t in (network.next_arrival(), caller.get_timer(), callee.get_timer(), uac.next_timer(),
                                  uas.next_timer()) if t is not None]
        if not candidates:
            break
        now = max(now, min(candidates))
        while network.in_flight and network.in_flight[0][0] <= now:
            _, _, data, to = heapq.heappop(network.in_flight)
            message = parse_message(data)
            if to == "uas":
                for event in callee.receive(message, UAC, transport, now):
                    uas.on_event(event, now)
            else:
                for event in caller.receive(message, UAS, transport, now):
                    uac.on_event(event, now)
        for event in caller.handle_timer(now):
            uac.on_event(event, now)
        for event in callee.handle_timer(now):
            uas.on_event(event, now)
        uac.handle_timer(now)
        uas.handle_timer(now)
    else:
        raise AssertionError("the exchange did not settle")
    network.end = now
    return uac, uas, caller, callee, network


fates = st.lists(st.tuples(st.sampled_from(["deliver", "deliver", "drop", "duplicate"]),
                           st.sampled_from([0.005, 0.02, 0.1, 0.3])), max_size=120)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fates=fates, answer_after=st.sampled_from([0.05, 0.3, 1.0, 5.0]), hold=st.sampled_from([0.0, 2.0, 33.0]))
def test_a_call_over_a_lossy_network_always_completes(fates: list[Fate], answer_after: float, hold: float) -> None:
    uac, uas, caller, callee, _ = run_call(fates, answer_after=answer_after, hold=hold)
    assert uas.requests == ["INVITE", "BYE"]                  # each request reached the TU exactly once
    assert uac.final_statuses and set(uac.final_statuses) == {200}
    assert uac.bye_status == 200
    if hold > 32.0:
        # A BYE right after the answer may overtake a lost ACK; 33 s later the ACK must have got through:
        # every retransmitted 2xx reached the UAC core (RFC 6026 Accepted) and was ACKed again.
        assert uas.acked
    # Every transaction the UAC started ended (INVITE after Timer M, BYE after Timer K) and nothing is left.
    assert set(uac.ended) == {uac.invite_transaction, uac.bye_transaction}
    assert caller.transaction_count == callee.transaction_count == 0
    assert caller.get_timer() is None and callee.get_timer() is None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fates=fates, cancel_at=st.floats(min_value=0.0, max_value=2.5), answer_after=st.sampled_from([0.3, 1.0]))
def test_a_cancelled_call_always_settles(fates: list[Fate], cancel_at: float, answer_after: float) -> None:
    # The race of §9: the CANCEL reaches the UAS before its 200 (487 to the INVITE) or after it (the 200
    # wins and the call is hung up with BYE).  Either way both sides agree and finish.
    uac, uas, caller, callee, _ = run_call(fates, cancel_at=cancel_at, answer_after=answer_after)
    assert uas.requests.count("INVITE") == 1
    if uas.cancelled:
        assert uac.final_statuses == [487] and uac.bye_transaction is None
    else:
        assert set(uac.final_statuses) == {200} and uac.bye_status == 200
    assert caller.transaction_count == callee.transaction_count == 0
    assert caller.get_timer() is None and callee.get_timer() is None


def test_a_call_over_tcp_has_no_retransmissions() -> None:
    uac, uas, caller, callee, network = run_call([], transport="tcp")
    assert uas.requests == ["INVITE", "BYE"] and uac.bye_status == 200 and uas.acked
    assert caller.transaction_count == callee.transaction_count == 0
    assert network.first_lines == [
        "INVITE sip:2001@192.0.2.20 SIP/2.0", "SIP/2.0 180 Ringing", "SIP/2.0 200 OK",
        "ACK sip:2001@192.0.2.20 SIP/2.0", "BYE sip:2001@192.0.2.20 SIP/2.0", "SIP/2.0 200 OK"]
    # The 200 reaches the UAC at 1.02 s (latency 10 ms); its Timer M (64*T1) is the last thing to end:
    # Timers D/I/J/K are zero over TCP.
    assert network.end == pytest.approx(1.02 + 32.0)


def test_a_call_without_loss_sends_each_message_once() -> None:
    *_, network = run_call([], answer_after=0.1)
    assert network.first_lines == [
        "INVITE sip:2001@192.0.2.20 SIP/2.0", "SIP/2.0 180 Ringing", "SIP/2.0 200 OK",
        "ACK sip:2001@192.0.2.20 SIP/2.0", "BYE sip:2001@192.0.2.20 SIP/2.0", "SIP/2.0 200 OK"]
