"""The RTP relay engine, compiled and pure twin: two UDP "phones" on 127.0.0.1 talking through it.

What the phones notice: every packet arrives once and in order, with the outgoing leg's SSRC and a
sequence/timestamp space that stays continuous (RFC 3550 §5.1, §7) even across a change of source; NAT
latching (RFC 4961 symmetric RTP) and strangers; RTCP translated or dropped (RFC 3550 §6, RFC 5761 mux);
counters; the RTP timeout event; removing a pair and stopping the engine while traffic flows.
Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import importlib
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.rtp.relay import RtpRelay
from cython_media import NO_EXTENSIONS, _relay_py, relay, rtp
from cython_media._relay_py import Leg, RelayError, RemoteLatched, RtcpMode, RtpTimeout, Side

ENGINES: list[Any] = [_relay_py.RelayEngine]
_compiled: Any
try:
    _compiled = importlib.import_module("cython_media._relay")
except ImportError:
    _compiled = None
else:
    ENGINES.append(_compiled.RelayEngine)

SSRC_A = 0x0A0A0A0A  # what phone A sees
SSRC_B = 0x0B0B0B0B  # what phone B sees
HEADER = struct.Struct("!BBHII")


def rtp_packet(seq: int, ts: int, ssrc: int, payload: bytes = b"\xff" * 160, pt: int = 0,
               marker: bool = False) -> bytes:
    return HEADER.pack(0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + payload


def fields(packet: bytes) -> tuple[int, bool, int, int, int]:
    """(payload type, marker, sequence, timestamp, ssrc)."""
    _, second, seq, ts, ssrc = HEADER.unpack_from(packet)
    return second & 0x7F, bool(second & 0x80), seq, ts, ssrc


def udp(family: int = socket.AF_INET, host: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.setblocking(False)
    return sock


def addr(sock: socket.socket) -> tuple[str, int]:
    host, port = sock.getsockname()[:2]
    return host, port


def receive(sock: socket.socket, count: int, timeout: float = 2.0) -> list[bytes]:
    """Up to ``count`` datagrams, waiting at most ``timeout`` seconds in all."""
    got: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([sock], [], [], left)[0]:
            break
        while len(got) < count:
            try:
                got.append(sock.recv(4096))
            except BlockingIOError:
                break
    return got


def quiet(sock: socket.socket, wait: float = 0.15) -> list[bytes]:
    """Whatever arrives within ``wait`` seconds (used to prove that nothing does)."""
    return receive(sock, 1000, wait)


def wait_for(predicate: Callable[[], bool], timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


class Call:
    """Phone A <-> leg A [relay] leg B <-> phone B on loopback."""

    def __init__(self, engine: Any, *, leg_a: dict[str, Any] | None = None, leg_b: dict[str, Any] | None = None,
                 **pair: Any) -> None:
        self.engine = engine
        self.phone_a, self.phone_b = udp(), udp()
        self.leg_a, self.leg_b = udp(), udp()
        a = {"ssrc": SSRC_A, "remote": addr(self.phone_a), **(leg_a or {})}
        b = {"ssrc": SSRC_B, "remote": addr(self.phone_b), **(leg_b or {})}
        self.pair_id = engine.add_pair(Leg(self.leg_a, **a), Leg(self.leg_b, **b), **pair)

    def a_sends(self, packet: bytes) -> None:
        self.phone_a.sendto(packet, addr(self.leg_a))

    def b_sends(self, packet: bytes) -> None:
        self.phone_b.sendto(packet, addr(self.leg_b))

    def close(self) -> None:
        for sock in (self.phone_a, self.phone_b, self.leg_a, self.leg_b):
            sock.close()


@pytest.fixture(params=ENGINES, ids=lambda cls: "compiled" if cls.ACCELERATED else "pure")
def engine(request: pytest.FixtureRequest) -> Iterator[Any]:
    eng = request.param()
    eng.start()
    yield eng
    eng.close()


@pytest.fixture
def call_factory(engine: Any) -> Iterator[Callable[..., Call]]:
    calls: list[Call] = []

    def make(**kwargs: Any) -> Call:
        call = Call(engine, **kwargs)
        calls.append(call)
        return call

    yield make
    for call in calls:
        call.close()


def test_selector_prefers_the_compiled_engine_unless_pure_mode_is_forced() -> None:
    if NO_EXTENSIONS:
        assert relay.RelayEngine is _relay_py.RelayEngine and relay.ACCELERATED is False
        return
    assert _compiled is not None, "cython_media._relay is not built: run `python setup.py build_ext --inplace`"
    assert relay.RelayEngine is _compiled.RelayEngine and relay.ACCELERATED is True


# -- the stream a phone receives ----------------------------------------------------------------------

@pytest.mark.parametrize("first_seq, first_ts", [(1000, 0), (65_500, 2**32 - 3_000), (0, 123_456_789)])
def test_every_packet_arrives_once_in_order_rewritten_both_ways(call_factory: Callable[..., Call], first_seq: int,
                                                               first_ts: int) -> None:
    call = call_factory()
    sent_a = [rtp_packet(first_seq + i, first_ts + 160 * i, 0xDEADBEEF, payload=bytes([i]) * 160) for i in range(120)]
    sent_b = [rtp_packet(7 + i, 99 + 160 * i, 0x12345678, payload=bytes([255 - i]) * 160) for i in range(120)]
    for pa, pb in zip(sent_a, sent_b, strict=True):
        call.a_sends(pa)
        call.b_sends(pb)
    got_b = receive(call.phone_b, 120)
    got_a = receive(call.phone_a, 120)
    assert len(got_b) == 120 and len(got_a) == 120
    assert quiet(call.phone_b, 0.05) == [] and quiet(call.phone_a, 0.05) == []  # nothing doubled
    # Without next_seq/next_timestamp the source's own numbering is kept; the SSRC is the leg's.
    # The rewrite is exactly the RTP codec's one-packet rule (cython_media.rtp.rewrite_rtp).
    for sent, got, ssrc in ((sent_a, got_b, SSRC_B), (sent_b, got_a, SSRC_A)):
        for original, received in zip(sent, got, strict=True):
            expected = bytearray(original)
            rtp.rewrite_rtp(expected, ssrc, 0, 0)
            assert received == bytes(expected)
    assert [fields(p)[2] for p in got_b] == [(first_seq + i) & 0xFFFF for i in range(120)]


@pytest.mark.parametrize("next_seq, next_ts", [(40_000, 1_000_000), (65_535, 2**32 - 160), (0, 0)])
def test_continues_the_numbering_already_used_on_the_leg(call_factory: Callable[..., Call], next_seq: int,
                                                        next_ts: int) -> None:
    call = call_factory(leg_b={"next_seq": next_seq, "next_timestamp": next_ts})
    sent = [rtp_packet(3000 + i, 5_000_000 + 160 * i, 0xCAFE) for i in range(50)]
    for packet in sent:
        call.a_sends(packet)
    got = receive(call.phone_b, 50)
    assert len(got) == 50
    seq_delta = (next_seq - 3000) & 0xFFFF
    ts_delta = (next_ts - 5_000_000) & 0xFFFFFFFF
    for i, (original, received) in enumerate(zip(sent, got, strict=True)):
        expected = bytearray(original)
        rtp.rewrite_rtp(expected, SSRC_B, seq_delta, ts_delta)
        if i == 0:
            expected[1] |= 0x80  # the first relayed packet marks the discontinuity with what went before
        assert received == bytes(expected)
    assert fields(got[0])[2:4] == (next_seq, next_ts)


def test_source_change_keeps_sequence_and_timestamp_continuous(call_factory: Callable[..., Call]) -> None:
    call = call_factory()
    for i in range(30):
        call.a_sends(rtp_packet(500 + i, 8000 + 160 * i, 0x1111))
        time.sleep(0.002)
    before = receive(call.phone_b, 30)
    time.sleep(0.2)  # the re-INVITE to another phone takes 200 ms
    # The new phone starts with its own random numbering.
    for i in range(30):
        call.a_sends(rtp_packet(61_000 + i, 3_000_000_000 + 160 * i, 0x2222))
    after = receive(call.phone_b, 30)
    assert len(before) == 30 and len(after) == 30
    seqs = [fields(p)[2] for p in before + after]
    assert seqs == [(500 + i) & 0xFFFF for i in range(60)]  # one stream, no gap, no jump
    assert {fields(p)[4] for p in before + after} == {SSRC_B}
    last_ts, new_ts = fields(before[-1])[3], fields(after[0])[3]
    advance = (new_ts - last_ts) & 0xFFFFFFFF
    # 200 ms plus the test's own pacing at 8 kHz, rounded to the 160-sample packetisation step.
    assert advance % 160 == 0 and 1600 <= advance <= 8000
    assert fields(after[0])[1] is True and not any(fields(p)[1] for p in after[1:])
    assert [(fields(p)[3] - new_ts) & 0xFFFFFFFF for p in after] == [160 * i for i in range(30)]
    assert engine_stats(call)[1].source_changes == 1


def test_late_packet_of_the_previous_source_keeps_its_numbering(call_factory: Callable[..., Call]) -> None:
    call = call_factory()
    for i in range(10):
        call.a_sends(rtp_packet(100 + i, 1600 * i, 0x1111))
    assert len(receive(call.phone_b, 10)) == 10
    call.a_sends(rtp_packet(7000, 0, 0x2222))
    call.a_sends(rtp_packet(105, 1600 * 5, 0x1111))  # reordered in the network: belongs before the switch
    call.a_sends(rtp_packet(7001, 160, 0x2222))
    got = receive(call.phone_b, 3)
    assert [fields(p)[2] for p in got] == [110, 105, 111]
    assert fields(got[1])[3] == 1600 * 5
    assert engine_stats(call)[1].source_changes == 1
    # A newer packet of the old source means it is back (transfer back): that is a new switch.
    call.a_sends(rtp_packet(111, 1600 * 11, 0x1111))
    assert [fields(p)[2] for p in receive(call.phone_b, 1)] == [112]
    assert engine_stats(call)[1].source_changes == 2


def test_payload_type_remap_per_direction(call_factory: Callable[..., Call]) -> None:
    # Leg A negotiated telephone-event as 101, leg B as 96 (RFC 3551 dynamic types).
    call = call_factory(leg_b={"payload_types": {101: 96}}, leg_a={"payload_types": {96: 101}})
    call.a_sends(rtp_packet(1, 0, 1, pt=101, payload=b"\x05\x0a\x00\xa0"))
    call.a_sends(rtp_packet(2, 160, 1, pt=0))
    call.b_sends(rtp_packet(1, 0, 2, pt=96, payload=b"\x05\x0a\x00\xa0", marker=True))
    got_b = receive(call.phone_b, 2)
    got_a = receive(call.phone_a, 1)
    assert [fields(p)[0] for p in got_b] == [96, 0]
    assert fields(got_a[0])[:2] == (101, True)
    assert got_b[0][12:] == b"\x05\x0a\x00\xa0"


def rewriters() -> list[Any]:
    return [_relay_py.rewrite_stream] + ([_compiled.rewrite_stream] if _compiled is not None else [])


@pytest.mark.parametrize("gap_ms, step, expected_advance", [
    (200, 160, 1600),      # 200 ms of re-INVITE at 8 kHz, 20 ms packets
    (20, 160, 160),        # the new source follows at once: one packetisation step
    (0, 160, 160),         # never less than one step
    (31, 160, 320),        # rounded to the nearest step (248 samples -> 2 steps)
    (1000, 240, 7920),     # 30 ms packets: 8000 samples rounded to 33 steps
    (5000, 0, 40_000),     # no step known (single packet): the elapsed samples themselves
])
def test_timestamp_advance_across_a_source_change(gap_ms: int, step: int, expected_advance: int) -> None:
    first = [rtp_packet(10, 5000, 1)] + ([rtp_packet(11, 5000 + step, 1)] if step else [])
    packets = first + [rtp_packet(40_000, 77, 2), rtp_packet(40_001, 77 + step or 160, 2)]
    last = 20_000_000 * (len(first) - 1)
    arrivals = [20_000_000 * i for i in range(len(first))] + [last + gap_ms * 1_000_000] * 2
    for rewrite in rewriters():
        out = rewrite(Leg(-1, SSRC_B), packets, arrivals)
        before, after = fields(out[len(first) - 1]), fields(out[len(first)])
        assert after[2] == (before[2] + 1) & 0xFFFF and after[1] is True and after[4] == SSRC_B
        assert (after[3] - before[3]) & 0xFFFFFFFF == expected_advance


stream_packets = st.lists(
    st.tuples(
        st.sampled_from([0x1111, 0x2222, 0x3333]),   # source (phones swapped by re-INVITEs)
        st.integers(0, 65535), st.integers(0, 2**32 - 1),
        st.sampled_from([0, 8, 13, 96, 101, 127]), st.booleans(),
        st.integers(0, 3_000_000_000),               # arrival gap, ns
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(stream_packets, st.one_of(st.none(), st.integers(0, 65535)), st.one_of(st.none(), st.integers(0, 2**32 - 1)),
       st.sampled_from([8000, 16000, 48000]))
def test_twins_rewrite_streams_identically(stream: list[tuple[int, int, int, int, bool, int]], next_seq: int | None,
                                           next_ts: int | None, clock_rate: int) -> None:
    if _compiled is None:
        if NO_EXTENSIONS:
            pytest.skip("pure-Python build (CENTRALITA_NO_EXTENSIONS): no compiled twin to compare with")
        pytest.fail("cython_media._relay is not built: run `python setup.py build_ext --inplace`")
    packets = [rtp_packet(seq, ts, ssrc, b"p", pt, marker) for ssrc, seq, ts, pt, marker, _ in stream]
    arrivals = []
    now = 10**12
    for *_, gap in stream:
        now += gap
        arrivals.append(now)
    leg = Leg(-1, 0xFEEDF00D, next_seq=next_seq, next_timestamp=next_ts, payload_types={101: 96, 13: 0})
    pure = _relay_py.rewrite_stream(leg, packets, arrivals, clock_rate)
    assert _compiled.rewrite_stream(leg, packets, arrivals, clock_rate) == pure
    assert len(pure) == len(stream)
    # Within one source run the rewrite is the RTP codec's one-packet rule plus the PT map.
    for original, out in zip(packets, pure, strict=True):
        expected = bytearray(original)
        seq_delta = (fields(out)[2] - fields(original)[2]) & 0xFFFF
        ts_delta = (fields(out)[3] - fields(original)[3]) & 0xFFFFFFFF
        rtp.rewrite_rtp(expected, 0xFEEDF00D, seq_delta, ts_delta)
        expected[1] = (out[1] & 0x80) | {101: 96, 13: 0}.get(expected[1] & 0x7F, expected[1] & 0x7F)
        assert out == bytes(expected)


def test_sequence_stays_continuous_over_many_source_changes() -> None:
    packets: list[bytes] = []
    arrivals: list[int] = []
    for run, ssrc in enumerate([5, 6, 7, 5, 8] * 4):
        for i in range(10):
            packets.append(rtp_packet(1000 * run + i, 160 * i + run * 7, ssrc))
            arrivals.append(len(arrivals) * 20_000_000)
    for rewrite in rewriters():
        out = rewrite(Leg(-1, SSRC_B, next_seq=65_000), packets, arrivals)
        assert [fields(p)[2] for p in out] == [(65_000 + i) & 0xFFFF for i in range(len(packets))]
        steps = {(fields(b)[3] - fields(a)[3]) & 0xFFFFFFFF for a, b in zip(out, out[1:], strict=False)}
        assert steps == {160}  # 20 ms apart everywhere, also across every change


# -- latching and strangers ---------------------------------------------------------------------------

def test_latching_learns_the_phone_behind_nat(call_factory: Callable[..., Call], engine: Any) -> None:
    call = call_factory(leg_a={"remote": None})  # SDP address unusable (private IP): learn it
    call.b_sends(rtp_packet(1, 0, 2))
    assert quiet(call.phone_a) == []
    assert wait_for(lambda: engine_stats(call)[1].dropped == 1)
    call.a_sends(rtp_packet(1, 0, 1))
    assert len(receive(call.phone_b, 1)) == 1
    call.b_sends(rtp_packet(2, 160, 2))
    assert len(receive(call.phone_a, 1)) == 1
    stats_a = engine_stats(call)[0]
    assert stats_a.latched and stats_a.remote == addr(call.phone_a)
    assert engine.events() == [RemoteLatched(call.pair_id, Side.A, addr(call.phone_a), False)]


def test_latch_overrides_the_sdp_address(call_factory: Callable[..., Call]) -> None:
    nat = udp()  # the phone's real (translated) address differs from its SDP
    try:
        call = call_factory(leg_a={"latch": True})
        nat.sendto(rtp_packet(1, 0, 1), addr(call.leg_a))
        assert len(receive(call.phone_b, 1)) == 1
        call.b_sends(rtp_packet(1, 0, 2))
        assert len(receive(nat, 1)) == 1
        assert quiet(call.phone_a) == []
    finally:
        nat.close()


def test_packets_from_a_stranger_are_dropped_after_latching(call_factory: Callable[..., Call]) -> None:
    stranger = udp()
    try:
        call = call_factory(leg_a={"remote": None})
        call.a_sends(rtp_packet(1, 0, 1))
        assert len(receive(call.phone_b, 1)) == 1
        for i in range(5):
            stranger.sendto(rtp_packet(900 + i, 0, 0x666), addr(call.leg_a))
        call.a_sends(rtp_packet(2, 160, 1))
        got = receive(call.phone_b, 1) + quiet(call.phone_b, 0.05)  # same socket: strangers came first
        assert [fields(p)[2] for p in got] == [2]
        assert engine_stats(call)[0].dropped == 5
        call.b_sends(rtp_packet(1, 0, 2))
        assert len(receive(call.phone_a, 1)) == 1 and quiet(stranger) == []
    finally:
        stranger.close()


def test_fixed_remote_accepts_only_that_address(call_factory: Callable[..., Call]) -> None:
    stranger = udp()
    try:
        call = call_factory()
        stranger.sendto(rtp_packet(1, 0, 1), addr(call.leg_a))
        call.a_sends(rtp_packet(2, 160, 1))
        assert [fields(p)[2] for p in receive(call.phone_b, 1) + quiet(call.phone_b, 0.05)] == [2]
        assert engine_stats(call)[0].dropped == 1
    finally:
        stranger.close()


def test_non_rtp_does_not_latch(call_factory: Callable[..., Call]) -> None:
    junk = udp()
    try:
        call = call_factory(leg_a={"remote": None})
        junk.sendto(b"\x00\x01\x00\x00" + b"\x21\x12\xa4\x42" + bytes(12), addr(call.leg_a))  # a STUN request
        call.a_sends(rtp_packet(1, 0, 1))
        assert len(receive(call.phone_b, 1)) == 1
        assert engine_stats(call)[0].remote == addr(call.phone_a)
    finally:
        junk.close()


def test_set_remote_after_reinvite(call_factory: Callable[..., Call], engine: Any) -> None:
    new_phone = udp()
    try:
        call = call_factory()
        engine.set_remote(call.pair_id, Side.B, addr(new_phone))
        call.a_sends(rtp_packet(1, 0, 1))
        assert len(receive(new_phone, 1)) == 1 and quiet(call.phone_b) == []
        new_phone.sendto(rtp_packet(1, 0, 3), addr(call.leg_b))
        assert len(receive(call.phone_a, 1)) == 1
    finally:
        new_phone.close()


# -- RTCP ----------------------------------------------------------------------------------------------

def sender_report(ssrc: int, rtp_ts: int, blocks: list[tuple[int, int]]) -> bytes:
    """SR (RFC 3550 §6.4.1) with report blocks (reportee SSRC, extended highest sequence)."""
    body = struct.pack("!IIIIII", ssrc, 0xE1234567, 0x89ABCDEF, rtp_ts, 10, 1600)
    for reportee, ext_seq in blocks:
        body += struct.pack("!IIIIII", reportee, 0x01000002, ext_seq, 37, 0x456789AB, 65536)
    return struct.pack("!BBH", 0x80 | len(blocks), 200, (len(body) + 4) // 4 - 1) + body


def bye(ssrc: int) -> bytes:
    return struct.pack("!BBHI", 0x81, 203, 1, ssrc)


def sdes(ssrc: int, cname: bytes) -> bytes:
    item = bytes([1, len(cname)]) + cname + b"\x00"
    item += b"\x00" * (-len(item) % 4)
    return struct.pack("!BBHI", 0x81, 202, len(item) // 4 + 1, ssrc) + item


def test_muxed_rtcp_is_translated_for_the_far_end(call_factory: Callable[..., Call]) -> None:
    call = call_factory(leg_b={"next_seq": 20_000, "next_timestamp": 900_000})
    call.a_sends(rtp_packet(100, 4000, 0xAAAA))           # A -> B stream: phone A's SSRC 0xAAAA
    call.b_sends(rtp_packet(7, 70, 0xBBBB))               # B -> A stream: phone B's SSRC 0xBBBB
    assert len(receive(call.phone_b, 1)) == 1 and len(receive(call.phone_a, 1)) == 1
    # Phone A reports: it sent up to ts 4160 and received SSRC_A (our rewrite of B's stream) up to seq 9.
    call.a_sends(sender_report(0xAAAA, 4160, [(SSRC_A, 9)]) + sdes(0xAAAA, b"a@host") + bye(0xAAAA))
    got = receive(call.phone_b, 1)
    assert len(got) == 1
    packet = got[0]
    sr_len = 28 + 24
    assert len(packet) == sr_len + len(sdes(0xAAAA, b"a@host"))  # BYE removed: the relayed stream lives on
    ssrc, ntp_hi, ntp_lo, rtp_ts, count, octets = struct.unpack_from("!IIIIII", packet, 4)
    assert ssrc == SSRC_B and (ntp_hi, ntp_lo) == (0xE1234567, 0x89ABCDEF)  # NTP kept: LSR/DLSR RTT works
    assert rtp_ts == (4160 + 900_000 - 4000) & 0xFFFFFFFF  # the timestamp space phone B sees
    reportee, lost, ext_seq, jitter, lsr, dlsr = struct.unpack_from("!IIIIII", packet, 28)
    assert (reportee, ext_seq) == (0xBBBB, 9)  # about phone B's own stream, in its own numbering
    assert (lost, jitter, lsr, dlsr) == (0x01000002, 37, 0x456789AB, 65536)
    assert struct.unpack_from("!I", packet, sr_len + 4)[0] == SSRC_B
    assert packet[sr_len + 8:sr_len + 16] == b"\x01\x06a@host"
    stats_a, stats_b = engine_stats(call)
    assert stats_a.rtcp_in == 1 and stats_b.rtcp_out == 1


def test_rtcp_report_uses_the_far_ends_sequence_space(call_factory: Callable[..., Call]) -> None:
    call = call_factory(leg_a={"next_seq": 50_000})
    call.b_sends(rtp_packet(10, 0, 0xBBBB))  # relayed to A as seq 50000
    assert fields(receive(call.phone_a, 1)[0])[2] == 50_000
    call.a_sends(rtp_packet(1, 0, 0xAAAA))
    receive(call.phone_b, 1)
    rr = struct.pack("!BBHI", 0x81, 201, 7, 0xAAAA) + struct.pack("!IIIIII", SSRC_A, 0, 0x0001C350, 0, 0, 0)
    call.a_sends(rr)
    got = receive(call.phone_b, 1)
    assert struct.unpack_from("!II", got[0], 8)[0] == 0xBBBB
    assert struct.unpack_from("!I", got[0], 16)[0] == (0x0001C350 - (50_000 - 10)) & 0xFFFFFFFF


def test_rtcp_dropped_when_asked(call_factory: Callable[..., Call]) -> None:
    call = call_factory(rtcp=RtcpMode.DROP)
    call.a_sends(sender_report(0xAAAA, 0, []))
    call.a_sends(rtp_packet(1, 0, 0xAAAA))
    got = receive(call.phone_b, 1) + quiet(call.phone_b, 0.05)
    assert [fields(p)[2] for p in got] == [1]
    assert engine_stats(call)[0].rtcp_in == 1 and engine_stats(call)[0].dropped == 1


def test_rtcp_on_separate_ports(engine: Any) -> None:
    """RTCP on RTP port + 1 (RFC 3550 §11) on both sides: forwarded between the RTCP sockets."""
    socks = [udp() for _ in range(6)]
    phone_a, phone_b, leg_a, leg_b, rtcp_a, rtcp_b = socks
    phone_b_rtcp = udp()
    try:
        pair = engine.add_pair(
            Leg(leg_a, SSRC_A, addr(phone_a), rtcp_sock=rtcp_a),
            Leg(leg_b, SSRC_B, addr(phone_b), rtcp_sock=rtcp_b, rtcp_remote=addr(phone_b_rtcp)),
        )
        # Phone A's RTCP comes from its RTP port + 1 by default: this one comes from elsewhere, dropped.
        phone_a.sendto(sender_report(0xAAAA, 0, []), addr(rtcp_a))
        assert quiet(phone_b_rtcp) == []
        assert wait_for(lambda: engine.stats(pair)[0].dropped == 1)
        engine.set_remote(pair, Side.A, addr(phone_a), latch=True)
        phone_a.sendto(sender_report(0xAAAA, 0, []), addr(rtcp_a))
        got = receive(phone_b_rtcp, 1)
        assert len(got) == 1 and struct.unpack_from("!I", got[0], 4)[0] == SSRC_B
        phone_b_rtcp.sendto(sender_report(0xBBBB, 0, []), addr(rtcp_b))
        back = receive(phone_a, 1)  # phone A's latched RTCP address
        assert len(back) == 1 and struct.unpack_from("!I", back[0], 4)[0] == SSRC_A
    finally:
        for sock in socks + [phone_b_rtcp]:
            sock.close()


# -- counters, events, control ---------------------------------------------------------------------------

def engine_stats(call: Call) -> Any:
    return call.engine.stats(call.pair_id)


def test_counters(call_factory: Callable[..., Call]) -> None:
    call = call_factory()
    before = time.monotonic()
    for i in range(25):
        call.a_sends(rtp_packet(i, 160 * i, 1, payload=b"\x00" * 100))
    for i in range(10):
        call.b_sends(rtp_packet(i, 160 * i, 2))
    call.a_sends(b"\x00" * 30)  # not RTP version 2: counted in, dropped
    assert len(receive(call.phone_b, 25)) == 25 and len(receive(call.phone_a, 10)) == 10
    assert wait_for(lambda: engine_stats(call)[0].packets_in == 26)
    a, b = engine_stats(call)
    assert (a.packets_in, a.bytes_in, a.dropped) == (26, 25 * 112 + 30, 1)
    assert (b.packets_out, b.bytes_out) == (25, 25 * 112)
    assert (b.packets_in, b.bytes_in, a.packets_out, a.bytes_out) == (10, 1720, 10, 1720)
    assert a.last_seen is not None and before <= a.last_seen <= time.monotonic()
    assert a.send_errors == b.send_errors == 0 and a.rtcp_in == 0
    # Where each outgoing stream continues (whoever sends on the leg after the relay keeps it continuous).
    assert (b.next_seq, b.next_timestamp) == (25, 25 * 160) and (a.next_seq, a.next_timestamp) == (10, 10 * 160)


def test_rtp_timeout_is_reported_once_per_idle_period(call_factory: Callable[..., Call], engine: Any) -> None:
    call = call_factory(leg_a={"rtp_timeout": 0.2}, leg_b={"rtp_timeout": 30.0})
    started = time.monotonic()
    assert select.select([engine.fileno()], [], [], 2.0)[0], "no RTP timeout within 2 s"
    events = engine.events()
    assert events == [RtpTimeout(call.pair_id, Side.A, events[0].idle)]
    assert 0.2 <= events[0].idle <= time.monotonic() - started + 0.01
    assert not select.select([engine.fileno()], [], [], 0.3)[0]  # once, not every scan
    call.a_sends(rtp_packet(1, 0, 1))
    assert len(receive(call.phone_b, 1)) == 1
    assert select.select([engine.fileno()], [], [], 2.0)[0]  # idle again after the media stopped
    assert [type(e) for e in engine.events()] == [RtpTimeout]


def test_remove_pair_while_traffic_flows(engine: Any, call_factory: Callable[..., Call]) -> None:
    call = call_factory()
    other = call_factory()
    stop = threading.Event()

    def blast() -> None:
        seq = 0
        while not stop.is_set() and seq < 200_000:
            call.a_sends(rtp_packet(seq, 160 * seq, 1))
            seq += 1
            if seq % 50 == 0:
                time.sleep(0.001)

    sender = threading.Thread(target=blast)
    sender.start()
    try:
        got = receive(call.phone_b, 100)
        assert len(got) == 100
        final = engine.remove_pair(call.pair_id)
        got += quiet(call.phone_b, 0.1)  # what was in flight
        assert quiet(call.phone_b, 0.2) == []
        # The final counters are exact: whoever sends on the leg next continues the stream seamlessly.
        assert final[1].packets_out == len(got) and final[1].next_seq == (fields(got[-1])[2] + 1) & 0xFFFF
        assert final[1].next_timestamp == (fields(got[-1])[3] + 160) & 0xFFFFFFFF
    finally:
        stop.set()
        sender.join(5)
    with pytest.raises(RelayError):
        engine.stats(call.pair_id)
    assert engine.pair_ids() == [other.pair_id]
    other.a_sends(rtp_packet(1, 0, 1))
    assert len(receive(other.phone_b, 1)) == 1


def test_stop_while_traffic_flows_and_restart(engine: Any, call_factory: Callable[..., Call]) -> None:
    call = call_factory()
    stop = threading.Event()

    def blast() -> None:
        seq = 0
        while not stop.is_set() and seq < 200_000:
            call.a_sends(rtp_packet(seq, 0, 1))
            seq += 1
            if seq % 50 == 0:
                time.sleep(0.001)

    sender = threading.Thread(target=blast)
    sender.start()
    try:
        assert len(receive(call.phone_b, 50)) == 50
        started = time.monotonic()
        engine.stop()
        assert time.monotonic() - started < 1.0 and not engine.running
        quiet(call.phone_b, 0.1)
        assert quiet(call.phone_b, 0.2) == []
    finally:
        stop.set()
        sender.join(5)
    quiet(call.phone_b, 0.05)
    engine.start()  # the queued packets are relayed when the engine resumes
    assert len(receive(call.phone_b, 10)) == 10


def test_a_backlog_larger_than_one_service_is_relayed_in_full(engine: Any) -> None:
    """Hundreds of datagrams queued on one socket (engine stopped, then resumed) all come out, in order."""
    phone_a, phone_b, leg_a, leg_b = udp(), udp(), udp(), udp()
    leg_a.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    phone_b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    try:
        engine.stop()
        engine.add_pair(Leg(leg_a, SSRC_A, addr(phone_a)), Leg(leg_b, SSRC_B, addr(phone_b)))
        for i in range(600):  # more than the 4 x 32 datagrams one readiness event reads
            phone_a.sendto(rtp_packet(i, 160 * i, 1), addr(leg_a))
        engine.start()
        got = receive(phone_b, 600, timeout=5.0)
        assert [fields(p)[2] for p in got] == list(range(600))
    finally:
        for sock in (phone_a, phone_b, leg_a, leg_b):
            sock.close()


def test_engine_owns_duplicates_of_the_sockets(engine: Any) -> None:
    phone_a, phone_b, leg_a, leg_b = udp(), udp(), udp(), udp()
    leg_a_addr = addr(leg_a)
    pair = engine.add_pair(Leg(leg_a.fileno(), SSRC_A, addr(phone_a)), Leg(leg_b, SSRC_B, addr(phone_b)))
    leg_a.close()  # the caller's copy; the relay keeps the port until the pair is removed
    leg_b.close()
    try:
        phone_a.sendto(rtp_packet(1, 0, 1), leg_a_addr)
        assert len(receive(phone_b, 1)) == 1
        engine.remove_pair(pair)
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind(leg_a_addr)  # released with the pair
        probe.close()
    finally:
        phone_a.close()
        phone_b.close()


@pytest.mark.parametrize("bad", [
    {"ssrc": -1}, {"ssrc": 2**32}, {"next_seq": 65_536}, {"next_timestamp": -1},
    {"payload_types": {0: 128}}, {"rtp_timeout": -1.0}, {"remote": ("example.com", 5000)},
    {"remote": ("127.0.0.1", 0)}, {"remote": ("::1", 5000)},
])
def test_bad_leg_descriptions_are_refused(engine: Any, bad: dict[str, Any]) -> None:
    a, b = udp(), udp()
    try:
        fields_a = {"ssrc": 1, "remote": ("127.0.0.1", 5000), **bad}
        with pytest.raises(RelayError):
            engine.add_pair(Leg(a, **fields_a), Leg(b, 2, ("127.0.0.1", 5002)))
        assert engine.pair_ids() == []
    finally:
        a.close()
        b.close()


def test_unbound_or_non_udp_sockets_are_refused(engine: Any) -> None:
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    unbound = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ok = udp()
    try:
        for sock in (tcp, unbound):
            with pytest.raises(RelayError):
                engine.add_pair(Leg(sock, 1, ("127.0.0.1", 5000)), Leg(ok, 2, ("127.0.0.1", 5002)))
        with pytest.raises(RelayError):
            engine.remove_pair(12345)
    finally:
        for sock in (tcp, unbound, ok):
            sock.close()


def test_ipv6_legs(engine: Any) -> None:
    try:
        socks = [udp(socket.AF_INET6, "::1") for _ in range(4)]
    except OSError as exc:
        pytest.fail(f"IPv6 loopback unavailable on this host: {exc}")
    phone_a, phone_b, leg_a, leg_b = socks
    try:
        engine.add_pair(Leg(leg_a, SSRC_A, None), Leg(leg_b, SSRC_B, ("::1", phone_b.getsockname()[1])))
        phone_a.sendto(rtp_packet(5, 10, 1), leg_a.getsockname())
        got = receive(phone_b, 1)
        assert len(got) == 1 and fields(got[0])[2:] == (5, 10, SSRC_B)
        phone_b.sendto(rtp_packet(6, 20, 2), leg_b.getsockname())
        assert len(receive(phone_a, 1)) == 1
    finally:
        for sock in socks:
            sock.close()


def test_twins_give_identical_bytes() -> None:
    """The same script through both engines: PT remap, next_seq/next_timestamp, markers, RTCP translation."""
    if _compiled is None:
        if NO_EXTENSIONS:
            pytest.skip("pure-Python build (CENTRALITA_NO_EXTENSIONS): no compiled twin to compare with")
        pytest.fail("cython_media._relay is not built: run `python setup.py build_ext --inplace`")
    script = [("a", rtp_packet(100 + i, 160 * i, 0x1111, pt=(101 if i % 7 == 3 else 0))) for i in range(20)]
    script += [("b", rtp_packet(9 + i, 7 + 160 * i, 0x2222, marker=i == 0)) for i in range(20)]
    script += [("a", sender_report(0x1111, 3200, [(SSRC_A, 28)]) + sdes(0x1111, b"x") + bye(0x1111))]
    script += [("b", struct.pack("!BBHII", 0x81, 205, 2, 0x2222, SSRC_B))]  # generic NACK header
    outputs = []
    for cls in (_relay_py.RelayEngine, _compiled.RelayEngine):
        with cls() as eng:
            call = Call(eng, leg_a={"next_seq": 65_530, "payload_types": {96: 101}},
                        leg_b={"next_timestamp": 2**32 - 1000, "payload_types": {101: 96}})
            try:
                got: list[bytes] = []
                for side, packet in script:
                    (call.a_sends if side == "a" else call.b_sends)(packet)
                    got += receive(call.phone_b if side == "a" else call.phone_a, 1)
                outputs.append(got)
            finally:
                call.close()
    assert len(outputs[0]) == len(script)
    assert outputs[0] == outputs[1]


# -- the asyncio face ------------------------------------------------------------------------------------

async def test_asyncio_relay_reports_timeouts() -> None:
    phone_a, phone_b, leg_a, leg_b = udp(), udp(), udp(), udp()
    service = RtpRelay()
    await service.start()
    try:
        pair = service.bridge(Leg(leg_a, SSRC_A, addr(phone_a), rtp_timeout=0.2), Leg(leg_b, SSRC_B, addr(phone_b)))
        phone_a.sendto(rtp_packet(1, 0, 1), addr(leg_a))
        event = await asyncio.wait_for(service.next_event(), 2.0)
        assert isinstance(event, RtpTimeout)
        assert event == RtpTimeout(pair, Side.A, event.idle) and event.idle >= 0.2
        assert service.stats(pair)[1].packets_out == 1
        service.unbridge(pair)
        assert service.engine.pair_ids() == []
    finally:
        await service.stop()
        for sock in (phone_a, phone_b, leg_a, leg_b):
            sock.close()
