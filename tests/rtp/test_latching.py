"""Symmetric RTP / latching for phones behind NAT: learn where media really comes from, and do not let a
single hostile packet take the stream over."""

from __future__ import annotations

import random

from core.rtp.packet import RtpPacket, build_rtp
from core.rtp.session import LatchMode, RemoteLatched, RtpReceiver, RtpSession

SIGNALLED = ("192.168.1.10", 4000)  # what the phone wrote in its SDP (private address)
NAT = ("203.0.113.5", 31000)  # where its packets really come from
ATTACKER = ("198.51.100.66", 5555)
NEW_NAT = ("203.0.113.5", 42000)  # the NAT rebinds the phone to another port


def pkt(seq: int, ssrc: int = 0x5151) -> RtpPacket:
    return RtpPacket(0, seq & 0xFFFF, 160 * seq, ssrc, b"\xff" * 160)


def deliver(receiver: RtpReceiver, items: list[tuple[RtpPacket, tuple[str, int]]], start: float = 0.0) -> list[int]:
    out: list[int] = []
    for i, (packet, address) in enumerate(items):
        out.extend(p.sequence for p in receiver.receive(packet, address, start + 0.02 * i))
    return out


def test_latch_once_learns_the_nat_address() -> None:
    receiver = RtpReceiver(latch=LatchMode.ONCE, signalled_address=SIGNALLED)
    assert receiver.remote_address == SIGNALLED
    assert deliver(receiver, [(pkt(1), NAT), (pkt(2), NAT), (pkt(3), NAT)]) == [1, 2, 3]
    assert receiver.remote_address == NAT
    assert list(receiver.events) == [RemoteLatched(NAT)]


def test_a_single_hostile_packet_before_the_phone_cannot_hijack() -> None:
    receiver = RtpReceiver(latch=LatchMode.ONCE, signalled_address=SIGNALLED)
    delivered = deliver(receiver, [(pkt(900, ssrc=0xBAD), ATTACKER), (pkt(1), NAT), (pkt(2), NAT), (pkt(3), NAT)])
    assert delivered == [1, 2, 3] and receiver.remote_address == NAT
    assert receiver.probation_dropped == 1


def test_after_latching_other_addresses_are_dropped_even_with_the_right_ssrc() -> None:
    receiver = RtpReceiver(latch=LatchMode.ONCE)
    deliver(receiver, [(pkt(s), NAT) for s in range(1, 5)])
    # The attacker guessed SSRC and sequence: still dropped, and the phone's stream goes on.
    delivered = deliver(receiver, [(pkt(5), ATTACKER), (pkt(6, ssrc=0xBAD), ATTACKER), (pkt(5), NAT), (pkt(6), NAT)],
                        start=1.0)
    assert delivered == [5, 6] and receiver.remote_address == NAT and receiver.foreign_packets == 2


def test_latch_once_never_moves() -> None:
    receiver = RtpReceiver(latch=LatchMode.ONCE, relatch_after=2)
    deliver(receiver, [(pkt(s), NAT) for s in range(1, 5)])
    assert deliver(receiver, [(pkt(s), NEW_NAT) for s in range(5, 30)], start=1.0) == []
    assert receiver.remote_address == NAT


def test_relatch_after_n_consecutive_packets_with_the_expected_ssrc() -> None:
    receiver = RtpReceiver(latch=LatchMode.RELATCH, relatch_after=5)
    deliver(receiver, [(pkt(s), NAT) for s in range(1, 5)])
    receiver.events.clear()
    delivered = deliver(receiver, [(pkt(s), NEW_NAT) for s in range(5, 12)], start=1.0)
    # The first four are dropped while the new address proves itself; the fifth moves the latch.
    assert delivered == [9, 10, 11]
    assert receiver.remote_address == NEW_NAT
    assert list(receiver.events) == [RemoteLatched(NEW_NAT, relatched=True)]


def test_relatch_needs_consecutive_packets() -> None:
    receiver = RtpReceiver(latch=LatchMode.RELATCH, relatch_after=3)
    deliver(receiver, [(pkt(s), NAT) for s in range(1, 5)])
    # Alternating with the latched address resets the count: no move.
    items = []
    for s in range(5, 25, 2):
        items += [(pkt(s), NEW_NAT), (pkt(s + 1), NAT)]
    deliver(receiver, items, start=1.0)
    assert receiver.remote_address == NAT


def test_relatch_refuses_a_different_ssrc() -> None:
    receiver = RtpReceiver(latch=LatchMode.RELATCH, relatch_after=3)
    deliver(receiver, [(pkt(s), NAT) for s in range(1, 5)])
    assert deliver(receiver, [(pkt(s, ssrc=0xBAD), ATTACKER) for s in range(100, 150)], start=1.0) == []
    assert receiver.remote_address == NAT


def test_latch_off_accepts_any_address_and_sends_to_the_signalled_one() -> None:
    receiver = RtpReceiver(latch=LatchMode.OFF, signalled_address=SIGNALLED)
    assert deliver(receiver, [(pkt(1), NAT), (pkt(2), NEW_NAT), (pkt(3), ATTACKER)]) == [1, 2, 3]
    assert receiver.remote_address == SIGNALLED and not receiver.events


def test_reset_latch_for_a_reinvite() -> None:
    receiver = RtpReceiver(latch=LatchMode.ONCE)
    deliver(receiver, [(pkt(s), NAT) for s in range(1, 4)])
    receiver.reset_latch(("203.0.113.77", 7000))
    assert receiver.remote_address == ("203.0.113.77", 7000)
    assert deliver(receiver, [(pkt(s, ssrc=0x77), NEW_NAT) for s in range(1, 4)], start=1.0) == [1, 2, 3]
    assert receiver.remote_address == NEW_NAT


def test_reset_latch_relearns_even_with_the_same_ssrc() -> None:
    receiver = RtpReceiver(latch=LatchMode.ONCE)
    deliver(receiver, [(pkt(s), NAT) for s in range(1, 4)])
    receiver.reset_latch(SIGNALLED)
    # One packet with the known SSRC from a stranger does not latch; the phone's packets do.
    assert deliver(receiver, [(pkt(4), ATTACKER), (pkt(5), NEW_NAT), (pkt(6), NEW_NAT)], start=1.0) == [5, 6]
    assert receiver.remote_address == NEW_NAT
    assert deliver(receiver, [(pkt(7), ATTACKER), (pkt(7), NEW_NAT)], start=2.0) == [7]


def test_session_sends_rtp_and_rtcp_where_the_phone_is() -> None:
    session = RtpSession(payload_type=0, now=0.0, remote_address=SIGNALLED, rng=random.Random(1))
    assert (session.remote_address, session.remote_rtcp_address) == (SIGNALLED, ("192.168.1.10", 4001))
    for s in range(1, 4):
        session.receive_datagram(build_rtp(0, s, 160 * s, 0x5151, b"\xff" * 160), NAT, 0.02 * s)
    assert session.remote_address == NAT
    assert session.remote_rtcp_address == ("203.0.113.5", 31001)  # RTP port + 1 (RFC 3550 §11)
    muxed = RtpSession(payload_type=0, now=0.0, remote_address=SIGNALLED, rtcp_mux=True, rng=random.Random(1))
    assert muxed.remote_rtcp_address == SIGNALLED
