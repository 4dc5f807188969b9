"""Two endpoints pumped into each other in memory (aioquic style): gateway A calls gateway B as its trunk.

Both sides are the code under test, so these tests check that the UAC and UAS halves agree on the wire
(RFC 3261 §13, §15, §9, §22) and that a call converges whatever a lossy network drops, as long as fewer copies
of a message are lost than the retransmissions RFC 3261 §17.1.1.2 / §13.3.1.4 send within 64*T1.
"""

from __future__ import annotations

import gc
import weakref

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.causes import HangupCause
from core.sip.message import SipUri
from core.sip.session import (
    CallAnswered,
    CallEnded,
    CallFailed,
    CallProgress,
    CallState,
    IncomingCall,
    ReinviteAnswered,
    ReinviteReceived,
    SipCall,
    SipEvent,
)
from core.sip.settings import SipTrunkSettings, SipUserSettings
from tests.sip.endpoint_harness import ANSWER, OFFER, Clock, Harness, Network

A = ("192.0.2.1", 5060)
B = ("198.51.100.7", 5060)


def pair(*, b_authenticates: bool = False) -> tuple[Harness, Harness]:
    clock = Clock()
    a = Harness(address=A, clock=clock, users=(),
                trunks=(SipTrunkSettings(name="b", servers=(B,), username="gw-a", secret="s3cret"),))
    if b_authenticates:
        b = Harness(address=B, clock=clock, users=(SipUserSettings(name="gw-a", secret="s3cret", context="from-a"),))
    else:
        b = Harness(address=B, clock=clock, users=(), trunks=(SipTrunkSettings(name="a", servers=(A,),
                                                                                  context="from-a"),))
    return a, b


def dial(a: Harness) -> SipCall:
    return a.endpoint.invite(uri=SipUri.parse(f"sip:5551234@{B[0]}"), destination=B, from_user="1001",
                             from_display="Alice", sdp=OFFER, now=a.now, trunk="b")


def wait_event(network: Network, harness: Harness, kind: type[SipEvent], limit: float = 40.0) -> SipEvent:
    waited = 0.0
    while waited < limit:
        for event in harness.events():
            if isinstance(event, kind):
                return event
        network.pump(0.25)
        waited += 0.25
    raise AssertionError(f"no {kind.__name__} at {harness.address} within {limit} s")


def test_a_call_from_one_endpoint_to_the_other() -> None:
    a, b = pair()
    network = Network(a, b)
    call = dial(a)
    incoming = wait_event(network, b, IncomingCall)
    assert isinstance(incoming, IncomingCall)
    far = incoming.call
    assert (far.context, far.dnid, far.trunk, far.caller.number, far.caller.name) == (
        "from-a", "5551234", "a", "1001", "Alice")
    assert far.remote_sdp == OFFER
    b.endpoint.ring(far, b.now)
    progress = wait_event(network, a, CallProgress)
    assert isinstance(progress, CallProgress) and progress.status == 180
    b.endpoint.answer(far, ANSWER, b.now)
    answered = wait_event(network, a, CallAnswered)
    assert isinstance(answered, CallAnswered) and answered.sdp == ANSWER
    network.pump(1.0)
    assert far.state is CallState.CONFIRMED and call.state is CallState.CONFIRMED
    a.endpoint.hangup(call, HangupCause.USER_BUSY, a.now)
    ended = wait_event(network, b, CallEnded)
    assert isinstance(ended, CallEnded) and ended.cause is HangupCause.USER_BUSY  # via the Reason header
    network.pump(70.0)
    for side in (a, b):
        assert side.endpoint.live_calls == {} and side.endpoint.tx.transaction_count == 0
        assert side.events() == []
    assert network.first_lines(A) == [
        f"INVITE sip:5551234@{B[0]} SIP/2.0", f"ACK sip:centralita@{B[0]}:{B[1]} SIP/2.0",
        f"BYE sip:centralita@{B[0]}:{B[1]} SIP/2.0"]
    assert network.first_lines(B) == ["SIP/2.0 100 Trying", "SIP/2.0 180 Ringing", "SIP/2.0 200 OK",
                                      "SIP/2.0 200 OK"]


def test_digest_between_two_endpoints() -> None:
    a, b = pair(b_authenticates=True)
    network = Network(a, b)
    dial(a)
    incoming = wait_event(network, b, IncomingCall)
    assert isinstance(incoming, IncomingCall)
    assert (incoming.call.user, incoming.call.context) == ("gw-a", "from-a")
    assert network.first_lines(B)[:1] == ["SIP/2.0 401 Unauthorized"]
    assert [line.split()[0] for line in network.first_lines(A)] == ["INVITE", "ACK", "INVITE"]


def test_a_cancel_crossing_the_ringing() -> None:
    a, b = pair()
    network = Network(a, b)
    call = dial(a)
    incoming = wait_event(network, b, IncomingCall)
    assert isinstance(incoming, IncomingCall)
    b.endpoint.ring(incoming.call, b.now)
    wait_event(network, a, CallProgress)
    a.endpoint.hangup(call, HangupCause.NORMAL_CLEARING, a.now)
    ended = wait_event(network, b, CallEnded)
    assert isinstance(ended, CallEnded) and ended.call is incoming.call
    network.pump(70.0)
    assert "SIP/2.0 487 Request Terminated" in network.first_lines(B)
    assert a.events() == [] and b.events() == []
    for side in (a, b):
        assert side.endpoint.live_calls == {} and side.endpoint.tx.transaction_count == 0


def test_a_busy_callee() -> None:
    a, b = pair()
    network = Network(a, b)
    call = dial(a)
    incoming = wait_event(network, b, IncomingCall)
    assert isinstance(incoming, IncomingCall)
    b.endpoint.hangup(incoming.call, HangupCause.USER_BUSY, b.now)
    failed = wait_event(network, a, CallFailed)
    assert isinstance(failed, CallFailed) and failed.call is call
    assert (failed.status, failed.cause) == (486, HangupCause.USER_BUSY)
    network.pump(70.0)
    for side in (a, b):
        assert side.endpoint.live_calls == {} and side.endpoint.tx.transaction_count == 0


MAX_LOSSES = 3
"""Copies of one message the network may lose: fewer than the sends within 64*T1 of any of them."""


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(losses=st.lists(st.booleans(), max_size=60))
def test_a_call_converges_over_a_lossy_network(losses: list[bool]) -> None:
    a, b = pair()
    lost: dict[bytes, int] = {}
    fates = iter(losses)

    def drop(data: bytes) -> bool:
        if next(fates, False) and lost.get(data, 0) < MAX_LOSSES:
            lost[data] = lost.get(data, 0) + 1
            return True
        return False

    network = Network(a, b, drop=drop)
    call = dial(a)
    incoming = wait_event(network, b, IncomingCall)
    assert isinstance(incoming, IncomingCall)
    b.endpoint.ring(incoming.call, b.now)
    b.endpoint.answer(incoming.call, ANSWER, b.now)
    answered = wait_event(network, a, CallAnswered)
    assert isinstance(answered, CallAnswered)
    network.pump(5.0)
    a.endpoint.hangup(call, HangupCause.NORMAL_CLEARING, a.now)
    ended = wait_event(network, b, CallEnded)
    assert isinstance(ended, CallEnded) and ended.cause is HangupCause.NORMAL_CLEARING
    network.pump(70.0)
    assert [e for e in a.events() if isinstance(e, (CallAnswered, CallEnded, CallFailed))] == []
    assert [e for e in b.events() if isinstance(e, (IncomingCall, CallEnded))] == []
    for side in (a, b):
        assert side.endpoint.live_calls == {} and side.endpoint.tx.transaction_count == 0


def _finished_call(*, reinvite: bool, collect: bool = True
                   ) -> tuple[Harness, Harness, weakref.ref[SipCall], weakref.ref[SipCall]]:
    a, b = pair()
    network = Network(a, b)
    call = dial(a)
    incoming = wait_event(network, b, IncomingCall)
    assert isinstance(incoming, IncomingCall)
    far = incoming.call
    b.endpoint.answer(far, ANSWER, b.now)
    wait_event(network, a, CallAnswered)
    if reinvite:
        assert a.endpoint.reinvite(call, OFFER, a.now)
        wait_event(network, b, ReinviteReceived)
        b.endpoint.answer_reinvite(far, 200, ANSWER, b.now)
        wait_event(network, a, ReinviteAnswered)
    a.endpoint.hangup(call, HangupCause.NORMAL_CLEARING, a.now)
    wait_event(network, b, CallEnded)
    network.pump(70.0)
    references = weakref.ref(call), weakref.ref(far)
    del call, far, incoming
    a.received_events.clear()
    b.received_events.clear()
    if collect:
        gc.collect()
    return a, b, references[0], references[1]


def test_the_callee_side_forgets_a_finished_call() -> None:
    _a, b, _ours, theirs = _finished_call(reinvite=False)
    assert theirs() is None
    assert b.endpoint.live_calls == {} and b.endpoint.calls == {} and b.endpoint.by_client == {}


@pytest.mark.parametrize("reinvite", [False, True])
def test_a_finished_call_is_freed_without_the_garbage_collector(reinvite: bool) -> None:
    # Reference counting alone frees both sides' calls once they are over: no reference cycle holds a call,
    # its dialog and its messages until a collection (at hundreds of calls per second, those collections
    # were about a tenth of the gateway's CPU, with pauses of tens of milliseconds).
    gc.disable()
    try:
        _a, _b, ours, theirs = _finished_call(reinvite=reinvite, collect=False)
        assert ours() is None and theirs() is None
    finally:
        gc.enable()


@pytest.mark.parametrize("reinvite", [False, True])
def test_the_caller_side_forgets_a_finished_call(reinvite: bool) -> None:
    a, _b, ours, _theirs = _finished_call(reinvite=reinvite)
    assert a.endpoint.by_client == {}
    assert ours() is None
