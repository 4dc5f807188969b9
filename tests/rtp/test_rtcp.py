"""RTCP (RFC 3550 §6): compound packets on the wire, RTT from LSR/DLSR, the report interval, RFC 5761
demultiplexing, and two sessions reporting to each other."""

from __future__ import annotations

import random
import struct

import pytest

from core.rtp.packet import build_rtp
from core.rtp.rtcp import (
    NTP_UNIX_EPOCH_OFFSET,
    Goodbye,
    ReceiverReport,
    ReportBlock,
    RtcpError,
    RtcpScheduler,
    SdesChunk,
    SenderReport,
    SourceDescription,
    build_rtcp,
    is_rtcp,
    ntp_middle32,
    ntp_offset,
    ntp_timestamp,
    parse_rtcp,
    round_trip_time,
    rtcp_interval,
)
from core.rtp.session import ByeReceived, RoundTripTimeMeasured, RtpSession

# An SR + SDES compound built by hand from the field layouts of §6.4.1 and §6.5.
HAND_SR = (
    bytes.fromhex("81c8000c") + struct.pack("!I", 0x11111111)  # V=2 RC=1 PT=200 length=12 words, SSRC
    + struct.pack("!II", 0xE8F0A2B3, 0x80000000)  # NTP 64-bit
    + struct.pack("!III", 123456, 500, 80000)  # RTP ts, packets, octets
    + struct.pack("!I", 0x22222222) + bytes((5,)) + (0xFFFFFD).to_bytes(3, "big")  # fraction 5, cumulative -3
    + struct.pack("!IIII", 0x0001_0010, 37, 0xB7052000, 0x00054000)
    + bytes.fromhex("81ca0004") + struct.pack("!I", 0x11111111)  # SDES, 1 chunk, 4 words
    + bytes((1, 8)) + b"pbx@host" + bytes(2)  # CNAME "pbx@host", then 2 null octets to the boundary
)


def test_parse_a_hand_built_sr_with_sdes() -> None:
    sr, sdes = parse_rtcp(HAND_SR)
    assert sr == SenderReport(0x11111111, 0xE8F0A2B3_80000000, 123456, 500, 80000,
                              (ReportBlock(0x22222222, 5, -3, 0x00010010, 37, 0xB7052000, 0x00054000),))
    assert isinstance(sdes, SourceDescription) and sdes.chunks[0].cname == "pbx@host"
    assert build_rtcp([sr, sdes]) == HAND_SR


def test_rr_bye_with_reason_and_app_skipped() -> None:
    rr = ReceiverReport(0x33, (ReportBlock(0x44, 128, 1000, 70000, 12, 0, 0),))
    app = bytes.fromhex("80cc0003") + struct.pack("!I", 0x33) + b"NAME" + b"data"  # APP, 3 words
    bye = Goodbye((0x33,), "hangup")
    wire = rr.serialize() + app + bye.serialize()
    assert bye.serialize() == bytes.fromhex("81cb0003") + struct.pack("!I", 0x33) + b"\x06hangup" + b"\x00"
    assert parse_rtcp(wire) == [rr, bye]


def test_empty_rr_and_sdes_with_several_items() -> None:
    chunk = SdesChunk(0x55, ((1, b"user@198.51.100.1"), (6, b"centralita")))
    wire = build_rtcp([ReceiverReport(0x55), SourceDescription((chunk,))])
    assert wire[:8] == bytes.fromhex("80c90001") + struct.pack("!I", 0x55)
    assert len(wire) % 4 == 0
    assert parse_rtcp(wire) == [ReceiverReport(0x55), SourceDescription((chunk,))]


def test_padding_on_the_last_packet_only() -> None:
    rr = ReceiverReport(0x55).serialize()
    padded = bytes((rr[0] | 0x20, rr[1])) + struct.pack("!H", 2) + rr[4:] + bytes(3) + b"\x04"
    assert parse_rtcp(padded) == [ReceiverReport(0x55)]
    with pytest.raises(RtcpError, match="not the last"):
        parse_rtcp(padded + rr)


@pytest.mark.parametrize(("wire", "message"), [
    (b"\x80\xc9", "shorter than one packet header"),
    (bytes.fromhex("40c90001") + bytes(4), "RTCP version 1"),
    (bytes.fromhex("80c90005") + bytes(4), "runs past the end"),
    (bytes.fromhex("81c90001") + bytes(4), "RR with 1 report blocks does not fit"),
    (bytes.fromhex("80c90001") + bytes(4) + b"\x80", "trailing bytes"),
    (bytes.fromhex("81ca0002") + bytes(4) + bytes((1, 9, 0, 0)), "runs past the end of the packet"),
    (bytes.fromhex("82cb0001") + bytes(4), "BYE with 2 sources"),
])
def test_malformed_compounds_raise(wire: bytes, message: str) -> None:
    with pytest.raises(RtcpError, match=message):
        parse_rtcp(wire)


def test_rfc5761_demultiplexing() -> None:
    assert is_rtcp(ReceiverReport(1).serialize()) and is_rtcp(HAND_SR)
    assert not is_rtcp(build_rtp(0, 1, 2, 3, b"x"))
    assert not is_rtcp(build_rtp(101, 1, 2, 3, b"x", marker=True))  # 0xE5: PT 101 with marker
    assert not is_rtcp(build_rtp(127, 1, 2, 3, b"x", marker=True))


# -- NTP and round-trip time --------------------------------------------------------------------------------------

def test_rtt_of_the_rfc_3550_example() -> None:
    # §6.4.1, Figure 2: A = 0xb710:8000 (46864.500 s), LSR = 0xb705:2000 (46853.125 s),
    # DLSR = 0x0005:4000 (5.250 s): delay 0x0006:2000 = 6.125 s.
    arrival = 0xB710_8000 << 16
    assert round_trip_time(arrival, 0xB7052000, 0x00054000) == 6.125
    assert round_trip_time(arrival, 0, 0x00054000) is None  # no SR received yet
    assert round_trip_time(arrival, 0xB7110000, 0) is None  # negative: not about our SR


def test_ntp_conversions() -> None:
    wall = 1_700_000_000.25
    ntp = ntp_timestamp(wall + NTP_UNIX_EPOCH_OFFSET)
    assert ntp >> 32 == 1_700_000_000 + NTP_UNIX_EPOCH_OFFSET and ntp & 0xFFFFFFFF == 0x40000000
    assert ntp_middle32(ntp) == ((ntp >> 32) & 0xFFFF) << 16 | 0x4000
    assert ntp_offset(wall, 100.0) == wall + NTP_UNIX_EPOCH_OFFSET - 100.0


def test_rtt_from_a_hand_built_sr_rr_pair() -> None:
    offset = ntp_offset(1_700_000_000.0, 0.0)
    rng = random.Random(4)
    session = RtpSession(payload_type=0, now=0.0, remote_address=("192.0.2.2", 4000), ntp_offset=offset,
                         rtcp_min_interval=1.0, rng=rng)
    for i in range(3):  # the phone's media, so that its RTCP is trusted
        session.receive_datagram(build_rtp(0, i, 160 * i, 0xFEED, b"\xff" * 160), ("192.0.2.2", 4000), 0.02 * i)
    for i in range(5):
        session.send(b"\xff" * 160, 9.9 + 0.02 * i)
    # Our SR leaves at t = 10.0.
    sr = parse_rtcp(session.build_report(10.0))[0]
    assert isinstance(sr, SenderReport) and sr.packet_count == 5 and sr.octet_count == 800
    assert sr.ntp_timestamp == ntp_timestamp(10.0 + offset)
    # The phone received it at 10.05 and answers at 10.30 with LSR = our NTP middle bits and
    # DLSR = 0.25 s = 16384/65536; it reaches us at 10.40: RTT = 10.40 - 10.00 - 0.25 = 0.15 s.
    block = ReportBlock(session.sender.ssrc, 0, 0, 1000, 0, ntp_middle32(sr.ntp_timestamp), 16384)
    rr = build_rtcp([ReceiverReport(0xFEED, (block,)), SourceDescription((SdesChunk(0xFEED, ((1, b"phone"),)),))])
    session.receive_rtcp(rr, ("192.0.2.2", 4001), 10.40)
    assert session.rtt == pytest.approx(0.15, abs=2 / 65536)
    assert session.remote_cname == "phone"
    events = []
    while (event := session.next_event()) is not None:
        events.append(event)
    assert any(isinstance(e, RoundTripTimeMeasured) and e.rtt == pytest.approx(0.15, abs=2 / 65536) for e in events)


def test_rtcp_from_a_stranger_is_ignored() -> None:
    session = RtpSession(payload_type=0, now=0.0, remote_address=("192.0.2.2", 4000), rng=random.Random(4))
    for i in range(3):
        session.receive_datagram(build_rtp(0, i, 160 * i, 0xFEED, b"\xff" * 160), ("192.0.2.2", 4000), 0.02 * i)
    forged = build_rtcp([ReceiverReport(0xBAD), Goodbye((0xFEED,), "forged")])
    session.receive_rtcp(forged, ("198.51.100.9", 4001), 1.0)
    assert session.next_event() is not None  # the latch event
    assert session.next_event() is None and session.rtcp_errors == 1
    session.receive_rtcp(build_rtcp([ReceiverReport(0xFEED), Goodbye((0xFEED,), "bye")]), ("192.0.2.2", 4001), 1.1)
    assert session.next_event() == ByeReceived(0xFEED, "bye")


def test_two_sessions_report_loss_jitter_and_rtt_to_each_other() -> None:
    a_addr, b_addr = ("10.0.0.1", 5000), ("10.0.0.2", 6000)
    a = RtpSession(payload_type=0, now=0.0, remote_address=b_addr, rtcp_min_interval=1.0, rng=random.Random(1),
                   ntp_offset=ntp_offset(1.7e9, 0.0))
    b = RtpSession(payload_type=0, now=0.0, remote_address=a_addr, rtcp_min_interval=1.0, rng=random.Random(2),
                   rtcp_mux=True, ntp_offset=ntp_offset(1.7e9 + 3600, 0.0))  # another wall clock: RTT unaffected
    delay = 0.015  # one way
    for i in range(500):  # 10 s of 20 ms frames; A -> B loses every 50th packet
        now = i * 0.02
        datagram = a.send(b"\xff" * 160, now)
        if i % 50 != 25:
            b.receive_datagram(datagram, a_addr, now + delay)
        a.receive_datagram(b.send(b"\xff" * 160, now), b_addr, now + delay)
        for report in a.handle_timer(now):
            b.receive_datagram(report, a_addr, now + delay)  # B multiplexes RTCP on its RTP port
        for report in b.handle_timer(now):
            a.receive_rtcp(report, b_addr, now + delay)
    assert a.rtt == pytest.approx(2 * delay, abs=1e-3) and b.rtt == pytest.approx(2 * delay, abs=1e-3)
    quality = a.quality()
    assert quality.inbound is not None and quality.inbound.lost == 0
    assert quality.outbound is not None and quality.outbound.lost >= 8  # B reported A's losses
    inbound_b = b.quality().inbound
    assert inbound_b is not None and inbound_b.lost == 10 and inbound_b.packets == 490


# -- report interval (A.7) ----------------------------------------------------------------------------------------

class FixedRandom(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.mark.parametrize(("initial", "uniform", "expected"), [
    (True, 0.5, 2.5 / (2.71828 - 1.5)),  # 5 s minimum halved for the first report
    (False, 0.5, 5.0 / (2.71828 - 1.5)),
    (False, 0.0, 5.0 * 0.5 / (2.71828 - 1.5)),
    (False, 0.999, 5.0 * 1.499 / (2.71828 - 1.5)),
])
def test_interval_minimum_and_randomisation(initial: bool, uniform: float, expected: float) -> None:
    # 80 kbit/s session: RTCP 5 % = 500 octets/s; 2 members x 100 octets / 500 = 0.4 s < minimum.
    value = rtcp_interval(members=2, senders=2, rtcp_bandwidth=500.0, we_sent=True, avg_rtcp_size=100.0,
                          initial=initial, rng=FixedRandom(uniform))
    assert value == pytest.approx(expected)


def test_interval_above_the_minimum_splits_sender_and_receiver_bandwidth() -> None:
    # 40 members, 2 senders (<= 25 %): a sender uses 25 % of 500 octets/s shared by 2 senders of 200 octets.
    sender = rtcp_interval(members=40, senders=2, rtcp_bandwidth=500.0, we_sent=True, avg_rtcp_size=200.0,
                           initial=False, min_time=1.0, rng=FixedRandom(0.5))
    assert sender == pytest.approx(200 * 2 / 125 / (2.71828 - 1.5))
    receiver = rtcp_interval(members=40, senders=2, rtcp_bandwidth=500.0, we_sent=False, avg_rtcp_size=200.0,
                             initial=False, min_time=1.0, rng=FixedRandom(0.5))
    assert receiver == pytest.approx(200 * 38 / 375 / (2.71828 - 1.5))


def test_scheduler_reduced_minimum_and_average_size() -> None:
    scheduler = RtcpScheduler(100.0, session_bandwidth=80_000, reduced_minimum=True, rng=FixedRandom(0.5))
    assert scheduler.minimum == pytest.approx(360 / 80)  # §6.2: 360 / session kbit/s
    assert scheduler.next_time == pytest.approx(100.0 + 4.5 / 2 / (2.71828 - 1.5))
    scheduler.sent(72, 103.0, we_sent=True, senders=2)
    assert scheduler.avg_rtcp_size == pytest.approx(100 + (100 - 100) / 16)  # 72 + 28 octets of UDP/IPv4
    assert scheduler.next_time == pytest.approx(103.0 + 4.5 / (2.71828 - 1.5))
    assert not scheduler.due(104.0) and scheduler.due(scheduler.next_time)
    default = RtcpScheduler(0.0, rng=FixedRandom(0.5))
    assert default.minimum == 5.0


def test_receiver_only_reports_rr_and_bye_closes_the_stream() -> None:
    session = RtpSession(payload_type=0, now=0.0, remote_address=("192.0.2.2", 4000), rng=random.Random(8),
                         cname="gw@192.0.2.1")
    for i in range(3):
        session.receive_datagram(build_rtp(0, 500 + i, 160 * i, 0xFEED, b"\xff" * 160), ("192.0.2.2", 4000), 0.02 * i)
    deadline = session.next_timer()
    assert deadline is not None and 2.5 * 0.5 / 1.22 <= deadline <= 2.5 * 1.5 / 1.21  # first report: 2.5 s minimum
    assert session.handle_timer(deadline - 0.01) == []
    (report,) = session.handle_timer(deadline)
    rr, sdes = parse_rtcp(report)
    assert isinstance(rr, ReceiverReport) and rr.ssrc == session.sender.ssrc  # we sent nothing: RR, not SR
    assert rr.reports[0].ssrc == 0xFEED and rr.reports[0].highest_sequence == 502
    assert isinstance(sdes, SourceDescription) and sdes.chunks[0].cname == "gw@192.0.2.1"
    session.send(b"\xff" * 160, 5.0)
    final = parse_rtcp(session.close(5.1, "call ended"))
    assert [type(p).__name__ for p in final] == ["SenderReport", "SourceDescription", "Goodbye"]
    bye = final[2]
    assert isinstance(bye, Goodbye) and bye.ssrcs == (session.sender.ssrc,) and bye.reason == "call ended"
    assert session.next_timer() is None and session.handle_timer(100.0) == []
