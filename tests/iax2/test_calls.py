"""Calls between two in-memory endpoints (RFC 5456 §6.2-6.10): MD5-authenticated in both directions,
codec negotiation, indications, DTMF, text, hold and quelch, causes both ways, pings, call tokens and what
happens to frames of calls that do not exist."""

from __future__ import annotations

import hashlib

import pytest

from core.callerid import CallerId, Presentation
from core.causes import HangupCause
from core.iax2.calls import (
    CallAccepted,
    CallAnswered,
    CallControl,
    CallHungUp,
    CallQuelched,
    CallRinging,
    DtmfReceived,
    IaxCallError,
    IncomingCall,
    TextReceived,
    VoiceReceived,
)
from core.iax2.constants import AuthMethod, ControlSubclass, FrameType, IaxCommand, InfoElement, MediaFormat
from core.iax2.endpoint import IaxEndpoint, IaxEndpointSettings, IaxPeerSettings, IaxUserSettings
from core.iax2.frames import FullFrame, MiniFrame, parse_datagram
from core.iax2.ies import Ies
from tests.iax2 import A, B, Network, of_type

ULAW, ALAW = int(MediaFormat.ULAW), int(MediaFormat.ALAW)


def _net(peer: dict[str, object] | None = None, user: dict[str, object] | None = None,
         a_settings: dict[str, object] | None = None, b_settings: dict[str, object] | None = None
         ) -> tuple[Network, IaxEndpoint, IaxEndpoint]:
    net = Network()
    peer_kwargs: dict[str, object] = {"host": B[0], "username": "alice", "secret": "s3cret", "calltoken": False}
    peer_kwargs.update(peer or {})
    user_kwargs: dict[str, object] = {"secret": "s3cret", "context": "from-a", "calltoken": False}
    user_kwargs.update(user or {})
    a = net.add(A, IaxEndpointSettings(peers=(IaxPeerSettings("b", **peer_kwargs),),  # type: ignore[arg-type]
                                       ping_interval=0, lagrq_interval=0, **(a_settings or {})), seed=11)  # type: ignore[arg-type]
    b = net.add(B, IaxEndpointSettings(users=(IaxUserSettings("alice", **user_kwargs),),  # type: ignore[arg-type]
                                       peers=(IaxPeerSettings("a", host=A[0], secret="back", calltoken=False),),
                                       ping_interval=0, lagrq_interval=0, **(b_settings or {})), seed=12)  # type: ignore[arg-type]
    return net, a, b


def _sent_frames(net: Network, source: tuple[str, int]) -> list[FullFrame]:
    return [f for f in (s.frame() for s in net.wire if s.source == source) if isinstance(f, FullFrame)]


def test_call_with_md5_authentication_answer_voice_and_hangup() -> None:
    net, a, b = _net()
    caller = CallerId("1001", "Alice")
    call = a.call("b", "600", net.now, caller=caller)
    net.pump()
    incoming = of_type(net.events(b), IncomingCall)
    assert len(incoming) == 1
    event = incoming[0]
    assert (event.username, event.context, event.called_number, event.caller) == ("alice", "from-a", "600", caller)
    assert event.format == ULAW and event.capability == ULAW | ALAW and not event.encrypted
    # on the wire: NEW (VERSION first), AUTHREQ with an MD5 challenge, AUTHREP with md5(challenge + secret)
    new = _sent_frames(net, A)[0]
    assert new.is_iax(IaxCommand.NEW) and new.ies.items[0] == (InfoElement.VERSION, 2)
    authreq = _sent_frames(net, B)[0]
    assert authreq.is_iax(IaxCommand.AUTHREQ) and authreq.ies.number(InfoElement.AUTHMETHODS) == AuthMethod.MD5
    challenge = authreq.ies.text(InfoElement.CHALLENGE)
    assert challenge.isdigit()
    authrep = next(f for f in _sent_frames(net, A) if f.is_iax(IaxCommand.AUTHREP))
    assert authrep.ies.text(InfoElement.MD5_RESULT) == hashlib.md5((challenge + "s3cret").encode()).hexdigest()

    b.ringing(event.call, net.now)
    net.pump()
    b.answer(event.call, net.now)
    net.pump()
    assert [type(e) for e in net.events(a)] == [CallAccepted, CallRinging, CallAnswered]
    for _ in range(3):
        a.send_voice(call, b"\x11" * 160, net.now)
        b.send_voice(event.call, b"\x22" * 160, net.now)
        net.advance(0.02)
    to_b = of_type(net.events(b), VoiceReceived)
    to_a = of_type(net.events(a), VoiceReceived)
    assert [v.payload for v in to_b] == [b"\x11" * 160] * 3 and [v.full for v in to_b] == [True, False, False]
    assert [v.timestamp - to_a[0].timestamp for v in to_a] == [0, 20, 40]
    assert all(v.format == ULAW for v in to_a + to_b)
    a.hangup(call, net.now, HangupCause.USER_BUSY)
    net.pump()
    hung = of_type(net.events(b), CallHungUp)
    assert len(hung) == 1 and hung[0].cause is HangupCause.USER_BUSY and hung[0].remote
    hangup = next(f for f in _sent_frames(net, A) if f.is_iax(IaxCommand.HANGUP))
    assert hangup.ies.text(InfoElement.CAUSE) == "User busy" and hangup.ies.number(InfoElement.CAUSECODE) == 17
    assert not a.calls and not b.calls  # A's HANGUP was acknowledged, both call numbers are free


def test_unknown_caller_without_username() -> None:
    net, a, b = _net()
    net.add(A, IaxEndpointSettings(users=(IaxUserSettings("bee", secret="back", calltoken=False),),
                                   ping_interval=0, lagrq_interval=0), seed=21)
    call = b.call("a", "700", net.now)  # b's peer "a" has no username
    net.pump()
    # no USERNAME and no peer at B's address: a guest, and guests need a call token by default
    assert of_type(net.events(b), CallHungUp)[0].cause is HangupCause.CALL_REJECTED
    assert call not in b.calls
    net.add(A, IaxEndpointSettings(users=(IaxUserSettings("bee", secret="back", calltoken=False),),
                                   ping_interval=0, lagrq_interval=0, calltoken_optional=("192.0.2.0/24",)))
    b.call("a", "700", net.now)
    net.pump()
    hung = of_type(net.events(b), CallHungUp)[0]
    assert hung.cause is HangupCause.FACILITY_NOT_SUBSCRIBED and hung.reason == "No authority found"
    guests = net.add(A, IaxEndpointSettings(guest_context="guests", ping_interval=0, lagrq_interval=0,
                                            calltoken_optional=("192.0.2.0/24",)))
    b.call("a", "700", net.now)
    net.pump()
    assert of_type(net.events(guests), IncomingCall)[0].context == "guests"


def test_inbound_friend_found_by_username() -> None:
    net, a, b = _net()
    net.add(A, IaxEndpointSettings(peers=(IaxPeerSettings("bee", host=B[0], secret="back", context="from-b",
                                                          calltoken=False),), ping_interval=0, lagrq_interval=0))
    b_with_name = net.add(B, IaxEndpointSettings(
        peers=(IaxPeerSettings("a", host=A[0], username="bee", secret="back", calltoken=False),),
        ping_interval=0, lagrq_interval=0), seed=5)
    b_with_name.call("a", "700", net.now)
    net.pump()
    event = of_type(net.events(net.endpoints[A]), IncomingCall)[0]
    assert event.peer == "bee" and event.context == "from-b" and event.called_number == "700"


@pytest.mark.parametrize(("offered", "user_formats", "expected"), [
    (ULAW | ALAW, ULAW | ALAW, ULAW),     # the caller's desired format when both have it
    (ALAW, ULAW | ALAW, ALAW),
    (ULAW | ALAW, ALAW, ALAW),            # the callee only has A-law: it wins over the desired u-law
])
def test_format_negotiation(offered: int, user_formats: int, expected: int) -> None:
    net, a, b = _net(user={"formats": user_formats})
    call = a.call("b", "600", net.now, formats=offered)
    net.pump()
    event = of_type(net.events(b), IncomingCall)[0]
    assert event.format == expected
    b.answer(event.call, net.now)
    net.pump()
    assert of_type(net.events(a), CallAccepted)[0].format == expected
    a.send_voice(call, b"\xd5" * 160, net.now)
    net.pump()
    assert of_type(net.events(b), VoiceReceived)[0].format == expected
    accept = next(f for f in _sent_frames(net, B) if f.is_iax(IaxCommand.ACCEPT))
    assert accept.ies.number(InfoElement.FORMAT) == expected


def test_no_common_codec_is_rejected_with_cause_58() -> None:
    net, a, b = _net(user={"formats": int(MediaFormat.G722)})
    call = a.call("b", "600", net.now, formats=ULAW)
    net.pump()
    hung = of_type(net.events(a), CallHungUp)[0]
    assert hung.cause is HangupCause.BEARERCAPABILITY_NOTAVAIL and hung.remote
    assert call not in a.calls and not b.calls


def test_wrong_secret_is_rejected_with_cause_50() -> None:
    net, a, b = _net(peer={"secret": "wrong"})
    a.call("b", "600", net.now)
    net.pump()
    assert not of_type(net.events(b), IncomingCall)
    hung = of_type(net.events(a), CallHungUp)[0]
    assert hung.cause is HangupCause.FACILITY_NOT_SUBSCRIBED and hung.reason == "No authority found"


def test_unknown_user_gets_a_challenge_then_rejection() -> None:
    net, a, b = _net(peer={"username": "mallory"}, b_settings={"calltoken_optional": ("192.0.2.0/24",)})
    a.call("b", "600", net.now)
    net.pump()
    replies = [f.subclass for f in _sent_frames(net, B) if f.frame_type == FrameType.IAX]
    assert replies[:2] == [IaxCommand.AUTHREQ, IaxCommand.REJECT]  # same shape as a known user's wrong secret
    assert of_type(net.events(a), CallHungUp)[0].cause is HangupCause.FACILITY_NOT_SUBSCRIBED


def test_plaintext_only_when_configured() -> None:
    net, a, b = _net(user={"auth": AuthMethod.PLAINTEXT})
    a.call("b", "600", net.now)
    net.pump()
    assert not of_type(net.events(b), IncomingCall)  # the caller will not send its secret in clear
    assert of_type(net.events(a), CallHungUp)[0].cause is HangupCause.FACILITY_REJECTED
    net, a, b = _net(user={"auth": AuthMethod.PLAINTEXT}, peer={"auth": AuthMethod.PLAINTEXT | AuthMethod.MD5})
    a.call("b", "600", net.now)
    net.pump()
    assert of_type(net.events(b), IncomingCall)
    authrep = next(f for f in _sent_frames(net, A) if f.is_iax(IaxCommand.AUTHREP))
    assert authrep.ies.text(InfoElement.PASSWORD) == "s3cret"


def test_driver_rejects_with_its_cause() -> None:
    net, a, b = _net()
    a.call("b", "404", net.now)
    net.pump()
    event = of_type(net.events(b), IncomingCall)[0]
    b.reject(event.call, net.now, HangupCause.UNALLOCATED)
    net.pump()
    hung = of_type(net.events(a), CallHungUp)[0]
    assert hung.cause is HangupCause.UNALLOCATED and hung.reason == "Unallocated (unassigned) number"
    assert not b.calls


def _answered(net: Network, a: IaxEndpoint, b: IaxEndpoint) -> tuple[int, int]:
    call = a.call("b", "600", net.now)
    net.pump()
    event = of_type(net.events(b), IncomingCall)[0]
    b.answer(event.call, net.now)
    net.pump()
    net.events(a)
    return call, event.call


def test_dtmf_text_and_indications() -> None:
    net, a, b = _net()
    call, other = _answered(net, a, b)
    for digit in "123*#ABCD":
        a.send_dtmf(call, digit, net.now)
    a.send_dtmf(call, "5", net.now, begin=True)
    a.send_text(call, "héllo", net.now)
    a.send_control(call, ControlSubclass.BUSY, net.now)
    a.hold(call, net.now, "jazz")
    a.unhold(call, net.now)
    net.pump()
    events = net.events(b)
    digits = [(e.digit, e.end) for e in events if isinstance(e, DtmfReceived)]
    assert digits == [(d, True) for d in "123*#ABCD"] + [("5", False)]
    assert [e.text for e in events if isinstance(e, TextReceived)] == ["héllo"]
    controls = [(e.subclass, e.payload) for e in events if isinstance(e, CallControl)]
    assert controls == [(ControlSubclass.BUSY, b""), (ControlSubclass.HOLD, b"jazz"), (ControlSubclass.UNHOLD, b"")]
    dtmf = [f for f in _sent_frames(net, A) if f.frame_type == FrameType.DTMF_END]
    assert [f.subclass for f in dtmf] == [ord(d) for d in "123*#ABCD"]  # ASCII in the subclass
    with pytest.raises(IaxCallError):
        a.send_dtmf(call, "x", net.now)


def test_quelch_stops_our_voice_until_unquelch() -> None:
    net, a, b = _net()
    call, other = _answered(net, a, b)
    b.quelch(other, net.now, music_class="default")
    net.pump()
    assert of_type(net.events(a), CallQuelched) == [CallQuelched(call, True, "default")]
    assert a.send_voice(call, b"\x00" * 160, net.now) is False
    b.unquelch(other, net.now)
    net.pump()
    assert of_type(net.events(a), CallQuelched) == [CallQuelched(call, False, "")]
    assert a.send_voice(call, b"\x00" * 160, net.now) is True


def test_every_received_full_frame_is_acknowledged_and_replies_count_as_acks() -> None:
    net, a, b = _net()
    call, other = _answered(net, a, b)
    a.send_dtmf(call, "1", net.now)
    net.pump()
    acks = [f for f in _sent_frames(net, B) if f.is_iax(IaxCommand.ACK)]
    dtmf = next(f for f in _sent_frames(net, A) if f.frame_type == FrameType.DTMF_END)
    assert acks[-1].timestamp == dtmf.timestamp  # the ACK echoes the frame's timestamp
    # NEW is answered by AUTHREQ, PING by PONG: no separate ACK for them
    first_b = [f.subclass for f in _sent_frames(net, B)][:1]
    assert first_b == [IaxCommand.AUTHREQ]
    assert not any(f.iseqno == 0 and f.is_iax(IaxCommand.ACK) for f in _sent_frames(net, B))
    assert not a.calls[call].channel.pending and not b.calls[other].channel.pending


def test_ping_and_lagrq_are_answered_and_measured() -> None:
    net, a, b = _net(a_settings={}, b_settings={})
    net.endpoints[A] = a = net.add(A, IaxEndpointSettings(
        peers=(IaxPeerSettings("b", host=B[0], username="alice", secret="s3cret", calltoken=False),),
        ping_interval=1.0, lagrq_interval=1.5), seed=30)
    call, other = _answered(net, a, b)
    net.advance(3.1)
    sent = [f.subclass for f in _sent_frames(net, A) if f.frame_type == FrameType.IAX]
    assert sent.count(IaxCommand.PING) == 3 and sent.count(IaxCommand.LAGRQ) == 2
    pongs = [f for f in _sent_frames(net, B) if f.is_iax(IaxCommand.PONG)]
    pings = [f for f in _sent_frames(net, A) if f.is_iax(IaxCommand.PING)]
    assert [p.timestamp for p in pongs] == [p.timestamp for p in pings]  # PONG echoes the PING's timestamp
    assert pongs[0].ies.number(InfoElement.RR_PKTS) is not None
    lagrps = [f for f in _sent_frames(net, B) if f.is_iax(IaxCommand.LAGRP)]
    assert len(lagrps) == 2
    assert a.calls[call].ping_ms == 0 and a.calls[call].lag_ms == 0  # an instant network


def test_poke_is_answered_without_a_call() -> None:
    net, a, b = _net()
    poke = FullFrame(77, 0, 1234, 0, 0, FrameType.IAX, IaxCommand.POKE)
    b.receive_datagram(poke.encode(), ("198.51.100.9", 4569), net.now)
    (reply, address), = b.datagrams_to_send()
    pong = parse_datagram(reply)
    assert address == ("198.51.100.9", 4569)
    assert isinstance(pong, FullFrame) and pong.is_iax(IaxCommand.PONG)
    assert (pong.source_call, pong.dest_call, pong.timestamp) == (1, 77, 1234)
    assert not b.calls
    # the ACK of that PONG (to call number 1) is ignored, not answered with INVAL
    b.receive_datagram(FullFrame(77, 1, 1234, 1, 1, FrameType.IAX, IaxCommand.ACK).encode(), address, net.now)
    assert b.datagrams_to_send() == []


def test_frames_of_unknown_calls_get_inval() -> None:
    net, a, b = _net()
    stray = FullFrame(99, 4242, 500, 3, 3, FrameType.CONTROL, ControlSubclass.ANSWER)
    b.receive_datagram(stray.encode(), ("198.51.100.9", 4569), net.now)
    (reply, _), = b.datagrams_to_send()
    inval = parse_datagram(reply)
    assert isinstance(inval, FullFrame) and inval.is_iax(IaxCommand.INVAL)
    assert (inval.source_call, inval.dest_call) == (4242, 99)
    b.receive_datagram(inval.encode(), ("198.51.100.9", 4569), net.now)  # never INVAL an INVAL
    b.receive_datagram(MiniFrame(99, 1, b"x").encode(), ("198.51.100.9", 4569), net.now)
    assert b.datagrams_to_send() == []


def test_inval_from_peer_ends_the_call() -> None:
    net, a, b = _net()
    call, other = _answered(net, a, b)
    channel = a.calls[call].channel
    inval = FullFrame(other, call, 9999, 0, channel.oseqno, FrameType.IAX, IaxCommand.INVAL)
    a.receive_datagram(inval.encode(), B, net.now)
    hung = of_type(net.events(a), CallHungUp)
    assert hung[0].cause is HangupCause.INVALID_CALL_REFERENCE and call not in a.calls


def test_malformed_frame_of_a_known_call_gets_inval_and_ends_it() -> None:
    net, a, b = _net()
    call, other = _answered(net, a, b)
    bad = FullFrame(call, other, 50, 4, 4, FrameType.IAX, IaxCommand.LAGRQ).encode() + b"\x13\x05\x00"
    b.receive_datagram(bad, A, net.now)
    out = [parse_datagram(d) for d, _ in b.datagrams_to_send()]
    assert len(out) == 1 and isinstance(out[0], FullFrame) and out[0].is_iax(IaxCommand.INVAL)
    assert of_type(net.events(b), CallHungUp)[0].cause is HangupCause.INVALID_MSG_UNSPECIFIED
    assert other not in b.calls
    a.receive_datagram(out[0].encode(), B, net.now)
    assert call not in a.calls  # the INVAL made the peer drop its side too (RFC 5456 §6.9.2)


def test_unknown_iax_command_gets_unsupport() -> None:
    net, a, b = _net()
    call, other = _answered(net, a, b)
    channel = a.calls[call].channel
    odd = FullFrame(call, other, 60, channel.oseqno, channel.iseqno, FrameType.IAX, 0x55)
    b.receive_datagram(odd.encode(), A, net.now)
    out = [parse_datagram(d) for d, _ in b.datagrams_to_send()]
    unsupport = [f for f in out if isinstance(f, FullFrame) and f.is_iax(IaxCommand.UNSUPPORT)]
    assert unsupport and unsupport[0].ies.number(InfoElement.IAX_UNKNOWN) == 0x55
    assert other in b.calls


def test_call_numbers_rest_a_minute_before_reuse() -> None:
    net, a, b = _net()
    used = []
    for _ in range(3):
        call, other = _answered(net, a, b)
        used.append(call)
        a.hangup(call, net.now)
        net.pump()
    assert len(set(used)) == 3
    pool = a.callnos
    assert all(number not in pool.normal for number in used)
    net.advance(61)
    fresh = a.callnos.allocate(net.now)  # wakes the rested numbers
    assert set(used) - {fresh} <= set(pool.normal)


def test_calling_an_unregistered_peer_fails_at_once() -> None:
    net = Network()
    a = net.add(A, IaxEndpointSettings(peers=(IaxPeerSettings("dyn"),)))
    with pytest.raises(IaxCallError, match="not registered"):
        a.call("dyn", "1", net.now)
    with pytest.raises(IaxCallError, match="no IAX2 peer"):
        a.call("nobody", "1", net.now)


def test_restricted_caller_id_travels_as_presentation() -> None:
    net, a, b = _net()
    a.call("b", "600", net.now, caller=CallerId("1001", "Alice", Presentation.RESTRICTED))
    net.pump()
    event = of_type(net.events(b), IncomingCall)[0]
    assert event.caller.is_restricted
    new = _sent_frames(net, A)[0]
    assert new.ies.number(InfoElement.CALLINGPRES) == 0x21


def test_show_channels_row() -> None:
    net, a, b = _net()
    call, other = _answered(net, a, b)
    table = a.channels_table({call: "IAX2/b-00000001"})
    lines = table.splitlines()
    assert lines[0].startswith("Channel               Peer")
    assert lines[1].startswith("IAX2/b-00000001       192.0.2.2")
    assert f"{call:05d}/{other:05d}" in lines[1] and "ulaw" in lines[1] and "Tx:NEW" in lines[1]
    assert lines[-1] == "1 active IAX channel"


# -- call tokens ------------------------------------------------------------------------------------------------

def test_call_token_exchange_then_call() -> None:
    net, a, b = _net(peer={"calltoken": True}, user={"calltoken": True})
    a.call("b", "600", net.now)
    net.pump()
    assert of_type(net.events(b), IncomingCall)
    frames_a = [f for f in _sent_frames(net, A) if f.is_iax(IaxCommand.NEW)]
    assert frames_a[0].ies.raw(InfoElement.CALLTOKEN) == b""  # the first NEW offers an empty token
    token_reply = next(f for f in _sent_frames(net, B) if f.is_iax(IaxCommand.CALLTOKEN))
    assert token_reply.source_call == 1  # the "apathetic" call number: no state kept at B
    token = token_reply.ies.raw(InfoElement.CALLTOKEN)
    assert token and b"?" in token
    assert frames_a[1].ies.raw(InfoElement.CALLTOKEN) == token and frames_a[1].oseqno == 0


def test_peer_without_call_tokens_refused_when_required_accepted_when_optional() -> None:
    net, a, b = _net(peer={"calltoken": False}, user={"calltoken": True})
    a.call("b", "600", net.now)
    net.pump()
    assert not of_type(net.events(b), IncomingCall)
    assert of_type(net.events(a), CallHungUp)[0].cause is HangupCause.CALL_REJECTED
    net, a, b = _net(peer={"calltoken": False}, user={"calltoken": True},
                     b_settings={"calltoken_optional": ("192.0.2.0/24",)})
    a.call("b", "600", net.now)
    net.pump()
    assert of_type(net.events(b), IncomingCall)


def test_stale_or_forged_token_is_refused() -> None:
    net, a, b = _net(user={"calltoken": True})
    token = b.tokens.mint(A, net.now - 11)
    new = FullFrame(5, 0, 0, 0, 0, FrameType.IAX, IaxCommand.NEW, Ies.of(
        (InfoElement.VERSION, 2), (InfoElement.USERNAME, "alice"), (InfoElement.CALLTOKEN, token)).encode())
    b.receive_datagram(new.encode(), A, net.now)
    replies = [parse_datagram(d) for d, _ in b.datagrams_to_send()]
    assert isinstance(replies[0], FullFrame) and replies[0].is_iax(IaxCommand.REJECT) and not b.calls
    forged = new.payload.replace(token[-4:], b"beef")
    b.receive_datagram(FullFrame(5, 0, 0, 0, 0, FrameType.IAX, IaxCommand.NEW, forged).encode(), A, net.now)
    assert parse_datagram(b.datagrams_to_send()[0][0]).is_iax(IaxCommand.REJECT)  # type: ignore[union-attr]


def test_retransmitted_new_is_the_same_call() -> None:
    net, a, b = _net()
    a.call("b", "600", net.now)
    (new, _), = a.datagrams_to_send()
    b.receive_datagram(new, A, net.now)
    first = b.datagrams_to_send()
    retry = bytearray(new)
    retry[2] |= 0x80
    b.receive_datagram(bytes(retry), A, net.now)
    second = [parse_datagram(d) for d, _ in b.datagrams_to_send()]
    assert len(b.calls) == 1 and len(first) == 1
    assert len(second) == 1 and isinstance(second[0], FullFrame) and second[0].is_iax(IaxCommand.ACK)


def test_transfer_request_is_refused_and_html_unsupported() -> None:
    net, a, b = _net()
    call, other = _answered(net, a, b)
    channel = a.calls[call].channel
    txreq = FullFrame(call, other, 70, channel.oseqno, channel.iseqno, FrameType.IAX, IaxCommand.TXREQ, Ies.of(
        (InfoElement.CALLNO, 5), (InfoElement.TRANSFERID, 9)).encode())
    b.receive_datagram(txreq.encode(), A, net.now)
    html = FullFrame(call, other, 71, channel.oseqno + 1, channel.iseqno, FrameType.HTML, 0x01, b"http://x")
    b.receive_datagram(html.encode(), A, net.now)
    out = [parse_datagram(d) for d, _ in b.datagrams_to_send()]
    assert any(isinstance(f, FullFrame) and f.is_iax(IaxCommand.TXREJ) for f in out)
    assert any(isinstance(f, FullFrame) and f.frame_type == FrameType.HTML and f.subclass == 0x11 for f in out)
    assert other in b.calls


def test_accept_with_a_format_we_did_not_offer_is_hung_up() -> None:
    net, a, b = _net()
    call = a.call("b", "600", net.now, formats=ULAW)
    net.pump()
    event = of_type(net.events(b), IncomingCall)[0]
    b.accept(event.call, net.now, media_format=int(MediaFormat.G729))
    net.pump()
    hung = of_type(net.events(a), CallHungUp)[0]
    assert hung.cause is HangupCause.BEARERCAPABILITY_NOTAVAIL and not hung.remote
    assert of_type(net.events(b), CallHungUp)[0].cause is HangupCause.BEARERCAPABILITY_NOTAVAIL
    assert call not in a.calls


@pytest.mark.parametrize(("items", "cause"), [
    (((InfoElement.CAUSE, "User busy"), (InfoElement.CAUSECODE, 17)), HangupCause.USER_BUSY),
    (((InfoElement.CAUSECODE, 34),), HangupCause.NORMAL_CIRCUIT_CONGESTION),
    (((InfoElement.CAUSE, "No user responding"),), HangupCause.NO_USER_RESPONSE),  # a text-only old peer
    (((InfoElement.CAUSE, "Dumped Call"),), HangupCause.NORMAL_CLEARING),
    ((), HangupCause.NORMAL_CLEARING),
])
def test_hangup_cause_from_the_peer(items: tuple[tuple[int, object], ...], cause: HangupCause) -> None:
    net, a, b = _net()
    call, other = _answered(net, a, b)
    channel = a.calls[call].channel
    hangup = FullFrame(call, other, 80, channel.oseqno, channel.iseqno, FrameType.IAX, IaxCommand.HANGUP,
                       Ies.of(*items).encode())  # type: ignore[arg-type]
    b.receive_datagram(hangup.encode(), A, net.now)
    assert of_type(net.events(b), CallHungUp)[0].cause is cause
    acks = [parse_datagram(d) for d, _ in b.datagrams_to_send()]
    assert len(acks) == 1 and acks[0].is_iax(IaxCommand.ACK)  # type: ignore[union-attr]


def test_new_without_username_authenticates_as_the_peer_at_its_address() -> None:
    """chan_iax2 finds the peer of a NEW without USERNAME by address; its AUTHREP is checked against that peer
    (it was checked against nobody and always refused)."""
    net = Network()
    a = net.add(A, IaxEndpointSettings(peers=(IaxPeerSettings("b", host=B[0], secret="shared"),),
                                       ping_interval=0, lagrq_interval=0), seed=3)
    b = net.add(B, IaxEndpointSettings(peers=(IaxPeerSettings("a", host=A[0], secret="shared", calltoken=False,
                                                              context="from-a"),),
                                       ping_interval=0, lagrq_interval=0), seed=4)
    a.call("b", "600", net.now)
    net.pump()
    (incoming,) = of_type(net.events(b), IncomingCall)
    assert isinstance(incoming, IncomingCall) and (incoming.peer, incoming.context) == ("a", "from-a")
    authreps = [f for f in _sent_frames(net, A) if f.is_iax(IaxCommand.AUTHREP)]
    assert authreps and authreps[0].ies.text(InfoElement.MD5_RESULT)
