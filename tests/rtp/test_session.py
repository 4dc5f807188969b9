"""RTP sender and receiver per RFC 3550: timestamps, marker, wrap-around, SSRC change, reordering,
duplicates, loss (Appendix A.3) and interarrival jitter (Appendix A.8)."""

from __future__ import annotations

import random

import pytest

from core.rtp.packet import RtpPacket, parse_rtp
from core.rtp.session import (
    MAX_DROPOUT,
    LatchMode,
    RtpReceiver,
    RtpSender,
    SourceChanged,
)

PHONE = ("192.0.2.10", 4000)


def pkt(seq: int, ts: int | None = None, ssrc: int = 0x1111, pt: int = 0) -> RtpPacket:
    return RtpPacket(pt, seq & 0xFFFF, (160 * seq if ts is None else ts) & 0xFFFFFFFF, ssrc, b"\xff" * 160)


def feed(receiver: RtpReceiver, packets: list[RtpPacket], *, start: float = 0.0, step: float = 0.02,
         address: tuple[str, int] = PHONE) -> list[int]:
    """Deliver packets 20 ms apart; return the sequence numbers handed on, in order."""
    out: list[int] = []
    for i, packet in enumerate(packets):
        out.extend(p.sequence for p in receiver.receive(packet, address, start + i * step))
    return out


# -- sender ---------------------------------------------------------------------------------------------------

def test_sender_starts_random_and_advances_by_samples_per_frame() -> None:
    senders = [RtpSender(0, rng=random.Random(seed)) for seed in range(20)]
    assert len({s.ssrc for s in senders}) == 20 and len({s.sequence for s in senders}) > 15
    assert len({s.timestamp for s in senders}) == 20

    sender = RtpSender(0, rng=random.Random(7))
    seq0, ts0 = sender.sequence, sender.timestamp
    packets = [parse_rtp(sender.send(b"\xff" * 160, i * 0.02)) for i in range(3)]
    assert [p.sequence for p in packets] == [(seq0 + i) & 0xFFFF for i in range(3)]
    assert [p.timestamp for p in packets] == [(ts0 + 160 * i) & 0xFFFFFFFF for i in range(3)]
    assert [p.marker for p in packets] == [True, False, False]  # marker only on the first packet
    assert all(p.ssrc == sender.ssrc for p in packets)
    assert (sender.packet_count, sender.octet_count) == (3, 480)


def test_wideband_frames_advance_by_their_clock_rate() -> None:
    # 20 ms at a 16 kHz clock (e.g. L16/16000): 320 units per frame.
    sender = RtpSender(96, clock_rate=16000, samples_per_frame=320, rng=random.Random(1))
    first = parse_rtp(sender.send(b"\x00" * 640, 0.0))
    second = parse_rtp(sender.send(b"\x00" * 640, 0.02))
    assert (second.timestamp - first.timestamp) % (1 << 32) == 320


def test_talkspurt_after_silence_sets_marker_and_keeps_the_clock() -> None:
    sender = RtpSender(0, rng=random.Random(3))
    a = parse_rtp(sender.send(b"x", 0.0))
    sender.skip(160 * 10)  # 200 ms not sent (DTX)
    b = parse_rtp(sender.send(b"x", 0.22))
    c = parse_rtp(sender.send(b"x", 0.24))
    assert (b.sequence - a.sequence) % 65536 == 1  # no sequence gap: nothing was lost
    assert (b.timestamp - a.timestamp) % (1 << 32) == 160 * 11
    assert (b.marker, c.marker) == (True, False)


def test_sequence_and_timestamp_wrap_on_send() -> None:
    sender = RtpSender(0, rng=random.Random(3))
    sender.sequence, sender.timestamp = 65535, 0xFFFFFF60
    a, b = (parse_rtp(sender.send(b"x", i * 0.02)) for i in range(2))
    assert (a.sequence, a.timestamp, b.sequence, b.timestamp) == (65535, 0xFFFFFF60, 0, 0)


def test_change_ssrc_on_request() -> None:
    sender = RtpSender(0, rng=random.Random(5))
    old = sender.ssrc
    sender.send(b"x", 0.0)
    assert sender.change_ssrc() == old
    assert sender.ssrc != old and sender.packet_count == 0
    assert parse_rtp(sender.send(b"x", 0.02)).marker
    sender.change_ssrc(0x12345678)
    assert sender.ssrc == 0x12345678


def test_timestamp_at_extrapolates_the_media_clock() -> None:
    sender = RtpSender(0, rng=random.Random(5))
    ts = sender.timestamp
    sender.send(b"x", 10.0)
    assert sender.timestamp_at(10.5) == (ts + 4000) & 0xFFFFFFFF


# -- receiver: sequence validation (A.1) ------------------------------------------------------------------------

def test_probation_holds_the_first_packet_and_delivers_it() -> None:
    receiver = RtpReceiver(latch=LatchMode.OFF)
    assert receiver.receive(pkt(100), PHONE, 0.0) == ()
    assert [p.sequence for p in receiver.receive(pkt(101), PHONE, 0.02)] == [100, 101]
    assert receiver.source is not None and receiver.source.received == 2 and receiver.source.expected == 2


def test_probation_restarts_on_a_gap() -> None:
    receiver = RtpReceiver(latch=LatchMode.OFF)
    assert feed(receiver, [pkt(10), pkt(12), pkt(13)]) == [12, 13]
    assert receiver.probation_dropped == 1


def test_sequence_wrap_65535_to_0_extends_the_sequence() -> None:
    receiver = RtpReceiver(latch=LatchMode.OFF)
    delivered = feed(receiver, [pkt(s) for s in (65533, 65534, 65535, 0, 1, 2)])
    assert delivered == [65533, 65534, 65535, 0, 1, 2]
    source = receiver.source
    assert source is not None
    assert (source.cycles, source.max_seq, source.extended_max) == (65536, 2, 65538)
    assert (source.expected, source.cumulative_lost) == (6, 0)
    block = source.report_block(1.0)
    assert block.highest_sequence == 65538 and block.cumulative_lost == 0 and block.fraction_lost == 0


def test_late_packet_from_before_the_wrap_is_not_a_new_cycle() -> None:
    receiver = RtpReceiver(latch=LatchMode.OFF)
    delivered = feed(receiver, [pkt(s) for s in (65533, 65534, 0, 1, 65535, 2)])
    assert delivered == [65533, 65534, 0, 1, 65535, 2]
    source = receiver.source
    assert source is not None and source.extended_max == 65538 and source.cycles == 65536
    assert source.reordered == 1 and source.cumulative_lost == 0


def test_reordered_packets_are_delivered_and_counted() -> None:
    receiver = RtpReceiver(latch=LatchMode.OFF)
    assert feed(receiver, [pkt(s) for s in (100, 101, 103, 102, 104, 106, 105)]) == [100, 101, 103, 102, 104, 106,
                                                                                       105]
    source = receiver.source
    assert source is not None and source.reordered == 2 and source.cumulative_lost == 0 and source.total_lost == 0


def test_duplicates_are_dropped_and_counted() -> None:
    receiver = RtpReceiver(latch=LatchMode.OFF)
    delivered = feed(receiver, [pkt(s) for s in (1, 2, 3, 3, 4, 2, 5, 5)])
    assert delivered == [1, 2, 3, 4, 5]
    source = receiver.source
    assert source is not None and source.duplicates == 3
    # RFC 3550 §6.4.1 counts duplicates as received, so the reported loss goes negative...
    assert (source.expected, source.received, source.cumulative_lost) == (5, 8, -3)
    # ...while the quality summary counts what was really missing.
    assert source.total_lost == 0 and source.total_received == 5


def test_loss_cumulative_and_fraction_per_interval_a3() -> None:
    receiver = RtpReceiver(latch=LatchMode.OFF)
    feed(receiver, [pkt(s) for s in (10, 11, 13, 14, 16)])  # 12 and 15 lost
    source = receiver.source
    assert source is not None
    first = source.report_block(0.2)
    # expected 7, received 5: lost 2, fraction (2 << 8) // 7 = 73
    assert (first.cumulative_lost, first.fraction_lost, first.highest_sequence) == (2, 73, 16)
    feed(receiver, [pkt(s) for s in range(17, 27) if s != 20], start=1.0)
    second = source.report_block(1.5)
    # interval: expected 10 (17..26), received 9: fraction 256 // 10 = 25; cumulative 3
    assert (second.cumulative_lost, second.fraction_lost) == (3, 25)
    third = source.report_block(2.0)
    assert (third.cumulative_lost, third.fraction_lost) == (3, 0)  # nothing new: fraction 0


def test_fraction_is_zero_when_duplicates_outnumber_losses() -> None:
    receiver = RtpReceiver(latch=LatchMode.OFF)
    feed(receiver, [pkt(s) for s in (1, 2, 2, 2, 4)])
    source = receiver.source
    assert source is not None and source.report_block(1.0).fraction_lost == 0


def test_big_jump_is_held_and_restart_resyncs() -> None:
    receiver = RtpReceiver(latch=LatchMode.OFF)
    assert feed(receiver, [pkt(s) for s in range(1, 6)]) == [1, 2, 3, 4, 5]
    # A single wild packet far ahead is held, not delivered; the stream goes on.
    assert feed(receiver, [pkt(5 + MAX_DROPOUT + 10), pkt(6), pkt(7)], start=1.0) == [6, 7]
    source = receiver.source
    assert source is not None and source.restarts == 0
    # Two sequential packets after a jump: the sender restarted; both are delivered, statistics restart.
    assert feed(receiver, [pkt(40000), pkt(40001), pkt(40002)], start=2.0) == [40000, 40001, 40002]
    assert source.restarts == 1 and source.base_seq == 40000 and source.cumulative_lost == 0
    assert source.total_lost == 0 and source.total_received == 10


def test_ssrc_change_mid_call_resyncs_not_garbage() -> None:
    receiver = RtpReceiver(latch=LatchMode.ONCE)
    feed(receiver, [pkt(s, ssrc=0xAAAA) for s in range(1, 51) if s != 48])
    receiver.events.clear()
    # The phone is re-INVITEd to another device: new SSRC, new sequence and timestamp spaces.
    new = [pkt(s, ts=777777 + 160 * s, ssrc=0xBBBB) for s in range(30000, 30010)]
    delivered = feed(receiver, [*new[:3], pkt(48, ssrc=0xAAAA), *new[3:]], start=1.0)
    # Packet 48 of the old source, overtaken by the change, is dropped as stale (not a source change
    # back); every packet of the new source is delivered.
    assert delivered == list(range(30000, 30010))
    assert list(receiver.events) == [SourceChanged(0xAAAA, 0xBBBB)]
    assert receiver.stale_packets == 1
    source = receiver.source
    assert source is not None and source.ssrc == 0xBBBB and source.expected == 10 and source.cumulative_lost == 0
    assert [s.ssrc for s in receiver.retired_sources()] == [0xAAAA]


def test_a_stray_packet_with_another_ssrc_does_not_switch_the_source() -> None:
    receiver = RtpReceiver(latch=LatchMode.ONCE)
    feed(receiver, [pkt(s) for s in range(1, 11)])
    assert feed(receiver, [pkt(500, ssrc=0x9999), pkt(11), pkt(12)], start=1.0) == [11, 12]
    assert receiver.source is not None and receiver.source.ssrc == 0x1111


def test_rtcp_payload_types_are_not_media() -> None:
    receiver = RtpReceiver(latch=LatchMode.OFF)
    feed(receiver, [pkt(s) for s in range(1, 4)])
    assert feed(receiver, [pkt(4, pt=72)], start=1.0) == [] and receiver.invalid_packets == 1


# -- jitter (A.8) ------------------------------------------------------------------------------------------------

ARRIVALS = [0.000, 0.020, 0.045, 0.060, 0.080]
# transit = arrival x 8000 - timestamp: -1000, -1000, -960, -1000, -1000  ->  D = 0, 40, -40, 0
# J1 = 0; J2 = 40/16 = 2.5; J3 = 2.5 + (40 - 2.5)/16 = 4.84375; J4 = 4.84375 - 4.84375/16 = 4.541015625
EXPECTED_JITTER = [0.0, 0.0, 2.5, 4.84375, 4.541015625]


@pytest.mark.parametrize("base", [1000, (1 << 32) - 320], ids=["plain", "timestamp-wrap"])
def test_interarrival_jitter_matches_the_hand_computed_a8_example(base: int) -> None:
    receiver = RtpReceiver(latch=LatchMode.OFF)
    seen = []
    for i, arrival in enumerate(ARRIVALS):
        receiver.receive(pkt(i + 1, ts=base + 160 * i), PHONE, arrival + (base - 1000) / 8000)
        seen.append(receiver.source.jitter if receiver.source else 0.0)
    assert seen == pytest.approx(EXPECTED_JITTER, abs=1e-6)
    source = receiver.source
    assert source is not None
    assert source.report_block(1.0).jitter == 4  # the RR field is the integer part, timestamp units
    assert source.max_jitter == pytest.approx(4.84375)


def test_jitter_ignores_telephone_event_packets() -> None:
    # RFC 4733 packets repeat the event's start timestamp for 100 ms: not transit variation.
    receiver = RtpReceiver(latch=LatchMode.OFF, no_jitter_payload_types=frozenset({101}))
    feed(receiver, [pkt(1), pkt(2)] + [pkt(s, ts=480, pt=101) for s in range(3, 8)] + [pkt(8), pkt(9)])
    assert receiver.source is not None and receiver.source.jitter == pytest.approx(0.0, abs=1e-6)
