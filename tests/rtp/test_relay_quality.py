"""Call quality kept by the native RTP relay, compiled and pure twin: per relayed direction, the packets
received and forwarded, the loss from the RTP sequence numbers (RFC 3550 A.1/A.3: extended sequence over
the 16-bit wrap, reordering and duplicates not counted as loss, a new SSRC starting a new count) and the
interarrival jitter (A.8, integer form, hand-computed below).  Offline through ``flow_stats`` and live
through two UDP "phones" talking through the engine.
"""

from __future__ import annotations

import importlib
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cython_media import _relay_py
from cython_media._relay_py import FlowStats
from tests.rtp.test_relay import ENGINES, Call, engine_stats, receive, rtp_packet, wait_for

FLOW_STATS: list[Any] = [_relay_py.flow_stats]
_compiled: Any
try:
    _compiled = importlib.import_module("cython_media._relay")
except ImportError:
    _compiled = None
else:
    FLOW_STATS.append(_compiled.flow_stats)

MS = 1_000_000  # nanoseconds
T0 = 1_000_000_000  # an arrival clock reading of 1 s (8000 timestamp units)


@pytest.fixture(params=FLOW_STATS, ids=lambda f: "pure" if f is _relay_py.flow_stats else "compiled")
def flow_stats(request: pytest.FixtureRequest) -> Any:
    return request.param


def test_both_builds_are_tested() -> None:
    from cython_media import NO_EXTENSIONS

    assert NO_EXTENSIONS or _compiled is not None, "build the extensions: python setup.py build_ext --inplace"


def stream(seqs: list[int], *, ssrc: int = 0x1234, pt: int = 8, step_ms: int = 20) -> tuple[list[bytes], list[int]]:
    """Packets with the given sequence numbers, each timestamp matching its sequence (160 per packet) and
    arriving when it was due (20 ms per sequence number after the first)."""
    packets = [rtp_packet(seq, 160 * seq, ssrc, pt=pt) for seq in seqs]
    return packets, [T0 + ((seq - seqs[0]) & 0xFFFF) * step_ms * MS for seq in seqs]


def counts(stats: FlowStats) -> tuple[int, int, int, int]:
    return stats.received, stats.expected, stats.lost, stats.duplicates


def test_jitter_follows_rfc3550_a8_hand_computed(flow_stats: Any) -> None:
    # Timestamps 160 apart; arrivals at 0, 20, 45, 60, 80 ms = 8000, 8160, 8360, 8480, 8640 timestamp units.
    # Transit: 8000, 8000, 8040, 8000, 8000 -> |D| = 0, 40, 40, 0.  A.8 integer form, J kept x16:
    # J = 0 + 0 - (8 >> 4) = 0; 0 + 40 - (8 >> 4) = 40; 40 + 40 - (48 >> 4) = 77; 77 + 0 - (85 >> 4) = 72.
    packets = [rtp_packet(seq, 160 * seq, 0x1234) for seq in range(5)]
    arrivals = [T0 + ms * MS for ms in (0, 20, 45, 60, 80)]
    stats = flow_stats(packets, arrivals)
    assert stats.jitter == 72 / 16  # 4.5 timestamp units
    assert stats.jitter_ms == 72 / 16 / 8
    assert stats.max_jitter == 77 / 16
    assert stats.mean_jitter == (0 + 40 + 77 + 72) / 16 / 4
    assert counts(stats) == (5, 5, 0, 0)
    assert (stats.forwarded, stats.forwarded_bytes) == (5, 5 * 172)
    assert stats.ssrc == 0x1234 and stats.sources == 1 and stats.clock_rate == 8000


def test_steady_stream_has_no_jitter(flow_stats: Any) -> None:
    stats = flow_stats(*stream(list(range(100))))
    assert stats.jitter == stats.max_jitter == stats.mean_jitter == 0.0
    assert counts(stats) == (100, 100, 0, 0)


def test_jitter_across_the_timestamp_wrap(flow_stats: Any) -> None:
    base = 0xFFFFFFFF - 400  # the timestamp wraps after the third packet
    packets = [rtp_packet(i, base + 160 * i, 7) for i in range(6)]
    arrivals = [T0 + i * 20 * MS for i in range(6)]
    assert flow_stats(packets, arrivals).max_jitter == 0.0


def test_sequence_wrap_around_is_not_loss(flow_stats: Any) -> None:
    seqs = [65530 + i for i in range(6)] + list(range(10))
    assert counts(flow_stats(*stream(seqs))) == (16, 16, 0, 0)


def test_loss_across_the_wrap_is_counted(flow_stats: Any) -> None:
    seqs = [s for s in [65530 + i for i in range(6)] + list(range(10)) if s not in (65534, 2)]
    assert counts(flow_stats(*stream(seqs))) == (14, 16, 2, 0)


def test_loss_of_a_burst(flow_stats: Any) -> None:
    seqs = list(range(10)) + list(range(15, 50))  # 10..14 never arrive
    stats = flow_stats(*stream(seqs))
    assert counts(stats) == (45, 50, 5, 0)
    assert stats.loss_percent == 10.0


def test_reordering_is_not_loss(flow_stats: Any) -> None:
    assert counts(flow_stats(*stream([1, 2, 4, 3, 5, 7, 6, 8]))) == (8, 8, 0, 0)
    assert counts(flow_stats(*stream([65534, 65535, 1, 0, 2]))) == (5, 5, 0, 0)  # reordered across the wrap


def test_duplicates_are_not_received_twice(flow_stats: Any) -> None:
    assert counts(flow_stats(*stream([1, 2, 2, 3, 2, 4]))) == (4, 4, 0, 2)
    # RFC 3550's cumulative loss counts a duplicate as received and would report 0 lost here: one is missing.
    assert counts(flow_stats(*stream([1, 2, 2, 4]))) == (3, 4, 1, 1)


def test_late_packet_filling_a_gap_is_received(flow_stats: Any) -> None:
    assert counts(flow_stats(*stream([1, 2, 5, 6, 3, 7]))) == (6, 7, 1, 0)  # 3 came late, 4 never


def test_ssrc_change_starts_a_new_count(flow_stats: Any) -> None:
    first, t1 = stream([s for s in range(100, 110) if s != 105], ssrc=0xAAAA)
    second, _ = stream(list(range(5000, 5010)), ssrc=0xBBBB)
    t2 = [t1[-1] + (i + 1) * 20 * MS for i in range(len(second))]  # right after the first source
    stats = flow_stats(first + second, t1 + t2)
    assert counts(stats) == (19, 20, 1, 0)  # the jump in numbering between the sources is not loss
    assert stats.ssrc == 0xBBBB and stats.sources == 2
    assert stats.max_jitter == 0.0  # the new source's transit is not compared with the old one's


def test_restart_of_numbering_after_two_packets_in_sequence(flow_stats: Any) -> None:
    # A.1: a jump beyond MAX_DROPOUT is held; the next packet in sequence after it confirms a restart.
    assert counts(flow_stats(*stream(list(range(1, 11)) + [20000, 20001, 20002]))) == (13, 13, 0, 0)
    # A single stray packet far away is neither received nor expected.
    assert counts(flow_stats(*stream([1, 2, 3, 4, 5, 30000, 6, 7, 8, 9, 10]))) == (10, 10, 0, 0)


def test_events_are_counted_but_left_out_of_the_jitter(flow_stats: Any) -> None:
    # An RFC 4733 event repeats its start timestamp in every packet: A.8 would read that as transit jumps.
    packets = [rtp_packet(i, 160 * i, 9, pt=8) for i in range(5)]
    packets += [rtp_packet(5 + i, 800, 9, pt=101, payload=b"\x01\x0a\x00\xa0") for i in range(5)]
    arrivals = [T0 + i * 20 * MS for i in range(10)]
    with_events = flow_stats(packets, arrivals, 8000, 101)
    assert counts(with_events) == (10, 10, 0, 0)
    assert with_events.max_jitter == 0.0
    assert flow_stats(packets, arrivals).max_jitter > 0.0  # (measured, they would show)


def test_non_rtp_is_left_out(flow_stats: Any) -> None:
    packets, arrivals = stream([1, 2, 3])
    packets.insert(1, b"\x80\xc8" + bytes(26))  # muxed RTCP SR (RFC 5761)
    packets.insert(2, b"\x00" * 20)  # not version 2
    arrivals = [T0 + i * 20 * MS for i in range(len(packets))]
    assert counts(flow_stats(packets, arrivals)) == (3, 3, 0, 0)


@pytest.mark.skipif(_compiled is None, reason="no compiled extension (CENTRALITA_NO_EXTENSIONS=1)")
@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-3, 70), st.integers(0, 40), st.sampled_from([1, 1, 1, 1, 2]),
                          st.sampled_from([8, 8, 8, 101])), min_size=1, max_size=80),
       st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF))
def test_twins_count_identically(moves: list[tuple[int, int, int, int]], first_seq: int, first_ts: int) -> None:
    packets, arrivals = [], []
    now = T0
    seq = first_seq
    for step, delay_ms, ssrc, pt in moves:
        seq = (seq + step) & 0xFFFF
        packets.append(rtp_packet(seq, first_ts + 160 * seq, ssrc, pt=pt))
        now += delay_ms * MS
        arrivals.append(now)
    assert _relay_py.flow_stats(packets, arrivals, 8000, 101) == _compiled.flow_stats(packets, arrivals, 8000, 101)


# -- live: two phones through the engine ------------------------------------------------------------------

@pytest.fixture(params=ENGINES, ids=lambda cls: "compiled" if cls.ACCELERATED else "pure")
def engine(request: pytest.FixtureRequest) -> Any:
    eng = request.param()
    eng.start()
    yield eng
    eng.close()


def test_relay_counts_loss_and_forwarding_per_direction(engine: Any) -> None:
    call = Call(engine, leg_a={"event_payload_type": 101})
    try:
        rng = random.Random(5)
        dropped = {7, 8, 40, 41, 42, 99}
        sent_a = [seq for seq in range(65500, 65500 + 120) if (seq - 65500) not in dropped]  # wraps at 36
        for seq in sent_a:
            call.a_sends(rtp_packet(seq, 160 * seq, 0xA1, payload=bytes(rng.randrange(256) for _ in range(160))))
        call.a_sends(rtp_packet(65500 + 115 - 65536, 160 * (65500 + 115), 0xA1))  # a duplicate
        for seq in range(30):
            call.b_sends(rtp_packet(seq, 160 * seq, 0xB2))
        assert len(receive(call.phone_b, len(sent_a) + 1)) == len(sent_a) + 1
        assert len(receive(call.phone_a, 30)) == 30
        assert wait_for(lambda: engine_stats(call)[1].inbound.received == 30)
        a, b = engine_stats(call)
        assert (a.inbound.received, a.inbound.expected, a.inbound.lost, a.inbound.duplicates) == (114, 120, 6, 1)
        assert (a.inbound.forwarded, a.inbound.forwarded_bytes) == (115, 115 * 172)  # the relay forwards all
        assert a.inbound.ssrc == 0xA1 and round(a.inbound.loss_percent, 1) == 5.0
        assert (b.inbound.received, b.inbound.expected, b.inbound.lost, b.inbound.forwarded) == (30, 30, 0, 30)
        final_a, final_b = engine.remove_pair(call.pair_id)
        assert final_a.inbound == a.inbound and final_b.inbound.received == 30
    finally:
        call.close()


def test_relay_counts_before_a_remote_is_known(engine: Any) -> None:
    # Leg B's phone is not known yet (latching): A's packets are received and counted, not forwarded.
    call = Call(engine, leg_b={"remote": None})
    try:
        for seq in range(5):
            call.a_sends(rtp_packet(seq, 160 * seq, 0xA1))
        assert wait_for(lambda: engine_stats(call)[0].inbound.received == 5)
        inbound = engine_stats(call)[0].inbound
        assert (inbound.received, inbound.lost, inbound.forwarded) == (5, 0, 0)
    finally:
        call.close()


def test_phones_rtcp_report_about_our_stream_is_kept(engine: Any) -> None:
    import struct

    from tests.rtp.test_relay import SSRC_A

    call = Call(engine)
    try:
        for seq in range(3):
            call.b_sends(rtp_packet(seq, 160 * seq, 0xB2))  # relayed to phone A in SSRC_A's stream
        assert len(receive(call.phone_a, 3)) == 3
        assert engine_stats(call)[0].report is None
        # Phone A's RR (RFC 3550 §6.4.2) about SSRC_A: fraction 64/256, 5 lost in all, highest 70002, jitter 37.
        block = struct.pack("!IIIIII", SSRC_A, (64 << 24) | 5, 70_002, 37, 0, 0)
        call.a_sends(struct.pack("!BBHI", 0x81, 201, 7, 0xAAAA) + block)
        assert len(receive(call.phone_b, 1)) == 1  # forwarded end to end, translated
        report = engine_stats(call)[0].report
        assert report is not None
        assert (report.fraction_lost, report.cumulative_lost, report.highest_sequence, report.jitter) == (
            64, 5, 70_002, 37)
        # Cumulative loss is signed 24 bits (duplicates can make it negative).
        block = struct.pack("!IIIIII", SSRC_A, 0xFFFFFF, 70_010, 40, 0, 0)
        call.a_sends(struct.pack("!BBHI", 0x81, 201, 7, 0xAAAA) + block)
        assert len(receive(call.phone_b, 1)) == 1
        report = engine_stats(call)[0].report
        assert report is not None and (report.cumulative_lost, report.highest_sequence) == (-1, 70_010)
        assert engine_stats(call)[1].report is None  # phone B reported nothing
    finally:
        call.close()
