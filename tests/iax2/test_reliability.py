"""Sequence numbers, acknowledgement, retransmission and timestamps (RFC 5456 §7, §8.1; chan_iax2 values),
first on the per-call machinery with a fake clock, then on the wire between two endpoints."""

from __future__ import annotations

import pytest

from core.causes import HangupCause
from core.iax2.calls import CallHungUp, IncomingCall, VoiceReceived
from core.iax2.constants import FrameType, IaxCommand, MediaFormat
from core.iax2.endpoint import IaxEndpointSettings, IaxPeerSettings, IaxUserSettings
from core.iax2.frames import FullFrame, MiniFrame
from core.iax2.reliability import Disposition, ReceiveClock, ReliableChannel, TransmitClock
from tests.iax2 import A, B, Network, Sent, of_type


def _frame(oseqno: int, iseqno: int = 0, command: int = IaxCommand.PING, ts: int = 0) -> FullFrame:
    return FullFrame(2, 3, ts, oseqno, iseqno, FrameType.IAX, command)


def test_neutral_messages_do_not_advance_sequence_numbers() -> None:
    channel = ReliableChannel()
    assert channel.stamp(FrameType.IAX, IaxCommand.NEW) == (0, 0)
    for command in (IaxCommand.ACK, IaxCommand.INVAL, IaxCommand.VNAK, IaxCommand.TXCNT, IaxCommand.TXACC):
        assert channel.stamp(FrameType.IAX, command) == (1, 0)
    assert channel.stamp(FrameType.VOICE, int(MediaFormat.ULAW)) == (1, 0)
    assert channel.oseqno == 2
    assert channel.receive(_frame(0, command=IaxCommand.ACK)) is Disposition.PROCESS
    assert channel.iseqno == 0  # ACK received does not advance ISeqno either


def test_in_order_duplicate_and_future_frames() -> None:
    channel = ReliableChannel()
    assert channel.receive(_frame(0)) is Disposition.PROCESS and channel.iseqno == 1
    assert channel.receive(_frame(0)) is Disposition.DUPLICATE and channel.iseqno == 1
    assert channel.receive(_frame(2)) is Disposition.OUT_OF_ORDER and channel.iseqno == 1
    assert channel.receive(_frame(1)) is Disposition.PROCESS and channel.iseqno == 2


def test_sequence_numbers_wrap_modulo_256() -> None:
    channel = ReliableChannel()
    channel.iseqno = channel.oseqno = channel.rseqno = 254
    assert channel.receive(_frame(254)) is Disposition.PROCESS
    assert channel.receive(_frame(255)) is Disposition.PROCESS and channel.iseqno == 0
    assert channel.receive(_frame(0)) is Disposition.PROCESS and channel.iseqno == 1
    assert channel.receive(_frame(200)) is Disposition.DUPLICATE  # 57 behind: the past
    assert channel.receive(_frame(129)) is Disposition.OUT_OF_ORDER  # 128 ahead counts as the future
    sent = []
    for _ in range(4):
        oseqno, _ = channel.stamp(FrameType.IAX, IaxCommand.PING)
        frame = _frame(oseqno)
        sent.append(oseqno)
        channel.track(frame, FullFrame.encode, 0.0)
    assert sent == [254, 255, 0, 1]
    acked = channel.acknowledge(0)
    assert [p.frame.oseqno for p in acked] == [254, 255] and channel.unacknowledged == 2


def test_acknowledgement_outside_the_window_is_ignored() -> None:
    channel = ReliableChannel()
    for _ in range(3):
        oseqno, _ = channel.stamp(FrameType.IAX, IaxCommand.PING)
        channel.track(_frame(oseqno), FullFrame.encode, 0.0)
    assert channel.acknowledge(7) == []  # never sent: not acknowledged
    assert channel.unacknowledged == 3
    assert [p.frame.oseqno for p in channel.acknowledge(2)] == [0, 1]


def test_retransmission_schedule_and_give_up() -> None:
    """First retry 2 x ping time (1 s before any PONG) then x10 capped at 10 s; the 5th transmission gives
    up (chan_iax2 ``__attempt_transmit`` with max_retries 4)."""
    channel = ReliableChannel()
    oseqno, iseqno = channel.stamp(FrameType.IAX, IaxCommand.NEW)
    channel.track(_frame(oseqno, iseqno, IaxCommand.NEW), FullFrame.encode, 0.0)
    times = []
    now = 0.0
    while True:
        deadline = channel.next_deadline()
        assert deadline is not None
        now = deadline
        datagrams, give_up = channel.due(now)
        if give_up is not None:
            break
        times.append(now)
        assert all(FullFrame.encode(_frame(0, 0, IaxCommand.NEW)) != d for d in datagrams)  # R bit set
    assert times == [2.0, 12.0, 22.0]
    assert now == 32.0 and give_up.frame.is_iax(IaxCommand.NEW)


def test_measured_ping_time_shortens_the_first_retry() -> None:
    channel = ReliableChannel(ping_time=0.010)
    assert channel.retry_interval() == pytest.approx(0.1)  # clamped to MIN_RETRY_TIME
    channel.ping_time = 3.0
    assert channel.retry_interval() == 6.0
    channel.ping_time = 20.0
    assert channel.retry_interval() == 10.0


def test_retransmitted_copy_sets_r_and_carries_current_iseqno() -> None:
    channel = ReliableChannel()
    oseqno, iseqno = channel.stamp(FrameType.IAX, IaxCommand.PING)
    channel.track(_frame(oseqno, iseqno), FullFrame.encode, 0.0)
    channel.receive(_frame(0, command=IaxCommand.LAGRQ))
    channel.receive(_frame(1, command=IaxCommand.LAGRQ))
    datagrams, _ = channel.due(2.0)
    copy = FullFrame.encode(_frame(0))
    assert datagrams[0][2] & 0x80 and datagrams[0][9] == 2 and datagrams[0][:2] == copy[:2]


def test_vnak_resends_everything_from_its_iseqno() -> None:
    channel = ReliableChannel()
    for _ in range(4):
        oseqno, iseqno = channel.stamp(FrameType.IAX, IaxCommand.PING)
        channel.track(_frame(oseqno, iseqno), FullFrame.encode, 0.0)
    resent = channel.resend_from(2)
    assert [d[8] for d in resent] == [2, 3]


def test_signalling_timestamps_never_repeat() -> None:
    clock = TransmitClock(start=10.0)
    assert clock.signalling(10.0) == 0
    assert clock.signalling(10.0) == 3
    assert clock.signalling(10.001) == 6
    assert clock.signalling(10.5) == 500


def test_voice_timestamps_follow_the_samples_within_the_skew() -> None:
    clock = TransmitClock(start=0.0)
    stamps = [clock.voice(t / 1000, 20) for t in (0, 23, 38, 61, 80)]  # jittery sender, 20 ms frames
    assert stamps == [0, 20, 40, 60, 80]
    assert clock.voice(0.5, 20) == 500  # 400 ms gap (> 160 ms skew): back to the clock, on a frame boundary


def test_full_voice_frame_when_the_upper_16_bits_change() -> None:
    clock = TransmitClock(start=0.0)
    assert clock.voice_needs_full(0, MediaFormat.ULAW)
    clock.sent_voice(0, MediaFormat.ULAW)
    assert not clock.voice_needs_full(65520, MediaFormat.ULAW)
    clock.sent_voice(65520, MediaFormat.ULAW)
    assert clock.voice_needs_full(65540, MediaFormat.ULAW)  # 0x10004: the mini timestamp wrapped
    assert clock.voice_needs_full(65500, MediaFormat.ALAW)  # a new format


def test_receive_clock_unwraps_mini_timestamps() -> None:
    clock = ReceiveClock()
    clock.full(65500)
    assert clock.mini(65520) == 65520
    assert clock.mini(4) == 65540  # wrapped before the full frame came: pushed forward
    assert clock.mini(65530) == 65530  # a late one from before the wrap: pushed back
    clock.full(0x20010)
    assert clock.mini(0x0030) == 0x20030


# -- on the wire -----------------------------------------------------------------------------------------------

def _pair(**settings: object) -> tuple[Network, object, object]:
    net = Network()
    a = net.add(A, IaxEndpointSettings(peers=(IaxPeerSettings("b", host=B[0], username="alice", secret="pw",
                                                              calltoken=False),), **settings), seed=3)  # type: ignore[arg-type]
    b = net.add(B, IaxEndpointSettings(users=(IaxUserSettings("alice", secret="pw", calltoken=False),),
                                       **settings), seed=4)  # type: ignore[arg-type]
    return net, a, b


def _up(net: Network, a: object, b: object) -> tuple[int, int]:
    call = a.call("b", "600", net.now)  # type: ignore[attr-defined]
    net.pump()
    incoming = of_type(net.events(b), IncomingCall)[0]  # type: ignore[arg-type]
    b.answer(incoming.call, net.now)  # type: ignore[attr-defined]
    net.pump()
    net.events(a)  # type: ignore[arg-type]
    return call, incoming.call


def test_lost_frame_is_retransmitted_with_r_bit() -> None:
    net, a, b = _pair(ping_interval=0, lagrq_interval=0)
    lost = []

    def drop_first_ringing(sent: Sent) -> bytes | None:
        frame = sent.frame()
        if isinstance(frame, FullFrame) and frame.frame_type == FrameType.CONTROL and not lost:
            lost.append(sent)
            return None
        return sent.data

    call = a.call("b", "600", net.now)
    net.pump()
    incoming = of_type(net.events(b), IncomingCall)[0]
    net.filter = drop_first_ringing
    b.ringing(incoming.call, net.now)
    net.pump()
    assert lost and [type(e).__name__ for e in net.events(a)] == ["CallAccepted"]
    start = net.now
    net.advance(2.5)
    frames = [s for s in net.wire if s.source == B and isinstance(s.frame(), FullFrame)
              and s.frame().frame_type == FrameType.CONTROL]
    assert len(frames) == 2
    retry = frames[1].frame()
    assert isinstance(retry, FullFrame) and retry.retransmission and retry.oseqno == frames[0].frame().oseqno
    assert frames[1].time - start == pytest.approx(2.0)
    assert [type(e).__name__ for e in net.events(a)] == ["CallRinging"]
    assert call in a.calls


def test_dead_peer_call_is_destroyed_and_reported_after_the_retries() -> None:
    net, a, b = _pair(ping_interval=0, lagrq_interval=0)
    call, _ = _up(net, a, b)
    del net.endpoints[B]  # the peer vanishes
    a.send_dtmf(call, "5", net.now)
    start = net.now
    net.pump()
    net.advance(40)
    hung = of_type(net.events(a), CallHungUp)
    assert len(hung) == 1 and hung[0].cause is HangupCause.DESTINATION_OUT_OF_ORDER and not hung[0].remote
    dtmf = [s for s in net.outside if isinstance(s.frame(), FullFrame) and s.frame().frame_type == FrameType.DTMF_END]
    assert [round(s.time - start, 3) for s in dtmf] == [0.0, 2.0, 12.0, 22.0]
    assert call not in a.calls
    # no HANGUP is sent to a peer that stopped answering (RFC 5456 §7)
    assert not any(isinstance(s.frame(), FullFrame) and s.frame().is_iax(IaxCommand.HANGUP) for s in net.outside)


def test_out_of_order_frame_gets_vnak_and_the_gap_is_filled() -> None:
    net, a, b = _pair(ping_interval=0, lagrq_interval=0)
    call, incoming = _up(net, a, b)
    held: list[Sent] = []

    def hold_first_dtmf(sent: Sent) -> bytes | None:
        frame = sent.frame()
        if isinstance(frame, FullFrame) and frame.frame_type == FrameType.DTMF_END and not held:
            held.append(sent)
            return None
        return sent.data

    net.filter = hold_first_dtmf
    a.send_dtmf(call, "1", net.now)
    a.send_dtmf(call, "2", net.now)
    net.pump()
    vnaks = [s for s in net.wire if s.source == B and isinstance(s.frame(), FullFrame)
             and s.frame().is_iax(IaxCommand.VNAK)]
    assert len(vnaks) == 1
    digits = [e.digit for e in net.events(b) if type(e).__name__ == "DtmfReceived"]
    assert digits == ["1", "2"]  # the VNAK made A resend both, in order


def test_duplicate_is_acknowledged_again_not_delivered_twice() -> None:
    net, a, b = _pair(ping_interval=0, lagrq_interval=0)
    call, incoming = _up(net, a, b)
    a.send_dtmf(call, "7", net.now)
    dtmf = [s for s in a.datagrams_to_send()]
    for data, _ in dtmf:
        b.receive_datagram(data, A, net.now)
        b.receive_datagram(data, A, net.now)
    acks = [d for d, _ in b.datagrams_to_send() if FullFrame.encode is not None]
    assert len(acks) == 2
    assert [e.digit for e in net.events(b) if type(e).__name__ == "DtmfReceived"] == ["7"]


def test_voice_goes_full_then_mini_and_full_again_at_the_16_bit_wrap() -> None:
    net, a, b = _pair(ping_interval=0, lagrq_interval=0)
    call, incoming = _up(net, a, b)
    a.calls[call].tx.start = net.now - 65.4  # the call has been up for 65.4 s
    kinds = []
    for _ in range(12):
        a.send_voice(call, b"\x55" * 160, net.now)
        for data, _dest in a.datagrams_to_send():
            frame = Sent(net.now, A, B, data).frame()
            kinds.append((type(frame).__name__, frame.timestamp))
            b.receive_datagram(data, A, net.now)
        net.now += 0.02
    names = [k for k, _ in kinds if k != "FullFrame" or True]
    full_at = [ts for kind, ts in kinds if kind == "FullFrame"]
    assert names[0] == "FullFrame" and full_at[0] == 65400
    assert 65540 in full_at  # 65400 + 7*20: first timestamp past 0xFFFF
    voices = of_type(net.events(b), VoiceReceived)
    assert [v.timestamp for v in voices] == list(range(65400, 65400 + 12 * 20, 20))
    assert sum(1 for v in voices if v.full) == 2


def test_mini_frame_before_any_full_voice_frame_gets_vnak() -> None:
    net, a, b = _pair(ping_interval=0, lagrq_interval=0)
    call, incoming = _up(net, a, b)
    b.receive_datagram(MiniFrame(call, 100, b"\x00" * 160).encode(), A, net.now)
    out = [Sent(net.now, B, A, d).frame() for d, _ in b.datagrams_to_send()]
    assert len(out) == 1 and isinstance(out[0], FullFrame) and out[0].is_iax(IaxCommand.VNAK)
    assert not of_type(net.events(b), VoiceReceived)
