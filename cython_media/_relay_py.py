"""RTP relay between pairs of UDP legs, pure Python: the twin of ``_relay.pyx``.

A bridge between two RTP legs that use the same codec is a packet relay (no decoding): each datagram
received on one leg's socket is rewritten and sent from the paired leg's socket to that leg's remote
address.  The rewrite follows RFC 3550 §5.1 and §7.2 (a translator that changes the SSRC must keep the
sequence number and timestamp spaces continuous):

* the SSRC becomes the outgoing leg's SSRC;
* sequence number and timestamp are shifted by per-direction deltas (modulo 2^16 and 2^32), the same
  operation as ``cython_media.rtp.rewrite_rtp(buf, ssrc, seq_delta, ts_delta)``;
* when the incoming source changes (a new SSRC: after a re-INVITE to another phone, a transfer), the deltas
  are re-based so that the far end sees one stream: the next sequence number follows the highest one sent,
  and the timestamp advances by the wall-clock time elapsed since the last packet (rounded to the
  packetisation step last seen), with the marker bit set (RFC 3550 §5.1: a discontinuity);
* late packets of the previous source (not newer than the switch point) keep that source's deltas;
* the payload type can be remapped per direction (RFC 3551 dynamic types negotiated differently per leg).

RTCP (RFC 3550 §6) on a separate socket (port + 1) or multiplexed on the RTP socket (RFC 5761 §4: second
octet 192-223) is either dropped or forwarded *translated*: the sender SSRC of SR/RR/SDES/APP/XR/feedback
packets becomes the outgoing leg's SSRC, the SR's RTP timestamp is shifted like the stream it describes,
report blocks about the stream the phone receives name the original source with its original sequence
numbers, and BYE packets are removed (the relayed stream lives on when one source leaves).

Symmetric RTP (RFC 4961) and latching for phones behind NAT: a latching leg learns its remote address from
the first valid RTP packet and then ignores packets from any other address; a leg with a fixed remote
accepts packets only from that address.

This module also defines the types both twins share (legs, statistics, events, the error).  The engine
here runs a thread with :mod:`selectors`; it is slow (tens of thousands of packets per second) but gives
the same results as the compiled one, for builds without a compiler (``CENTRALITA_NO_EXTENSIONS=1``).
"""

from __future__ import annotations

import os
import selectors
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Protocol, Union

__all__ = [
    "FlowStats",
    "PhoneReport",
    "Leg",
    "LegStats",
    "RelayEngine",
    "RelayError",
    "RelayEvent",
    "RemoteLatched",
    "RtcpMode",
    "RtpTimeout",
    "Side",
    "flow_stats",
    "rewrite_stream",
]

#: Largest datagram relayed; bigger ones are truncated by the kernel and dropped.
MAX_DATAGRAM = 2048
#: Datagrams read from one socket per readiness event (the compiled twin reads them with one recvmmsg).
BATCH = 32
#: Readiness events handled per socket before the others get their turn.
ROUNDS_PER_EVENT = 4
#: How long the loop waits for readiness at most (seconds), and how often idle legs are looked for.
POLL_INTERVAL = 0.05
IDLE_SCAN_NS = 100_000_000
#: Events kept for the owner at most; an RTP timeout that does not fit is reported again on a later scan.
EVENT_QUEUE_SIZE = 1024
#: Default wait (microseconds) that lets packets gather while traffic flows, instead of one wake-up each.
DEFAULT_COALESCE_US = 100
#: Elapsed time counted at most across a source change (2.7 hours), so the timestamp arithmetic stays small.
MAX_ELAPSED_NS = 10_000_000_000_000

#: RFC 3550 Appendix A.1: the largest forward jump still taken as loss, the largest backward step still taken
#: as a late packet; a late packet up to REORDER_WINDOW - 1 behind the highest is checked for duplication.
MAX_DROPOUT = 3000
MAX_MISORDER = 100
REORDER_WINDOW = 64
NO_BAD_SEQ = 0x10001  # RTP_SEQ_MOD + 1: no sequence number is awaited after a jump

RTCP_SR, RTCP_RR, RTCP_SDES, RTCP_BYE, RTCP_APP, RTCP_RTPFB, RTCP_PSFB, RTCP_XR = range(200, 208)


class RelayError(Exception):
    """A relay control operation failed (bad leg description, unknown pair, socket error, thread stuck)."""


class Side(IntEnum):
    """The two legs of a relayed pair."""

    A = 0
    B = 1


class RtcpMode(IntEnum):
    """What the relay does with RTCP (RFC 3550 §6) between the legs of a pair."""

    DROP = 0
    """RTCP is counted and discarded (the gateway terminates RTCP itself, or not at all)."""
    FORWARD = 1
    """RTCP is forwarded to the paired leg, translated to the relayed stream's SSRC and numbering."""


class _HasFileno(Protocol):
    def fileno(self) -> int: ...


FileDescriptor = Union[int, _HasFileno]
Address = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Leg:
    """One side of a relayed pair: a bound UDP socket and where to send what the other side receives.

    ``sock`` is the RTP socket (an fd or an object with ``fileno()``); the engine keeps its own duplicate
    of it until the pair is removed, so the caller may close its copy at any time.  ``remote`` is the
    peer's RTP address from the SDP (``None``: unknown until latched).  ``latch`` (implied when ``remote``
    is ``None``) learns the remote from the first valid RTP packet (symmetric RTP, RFC 4961) and then
    ignores other sources; without it only packets from ``remote`` are accepted.  ``ssrc`` is the SSRC the
    far end sees on this leg (RFC 3550 §8: chosen at random by the caller).  ``next_seq`` and
    ``next_timestamp`` continue a stream already sent on this leg (the first relayed packet gets them and
    the marker bit); by default the source's own numbering is kept.  ``payload_types`` maps payload types
    of the other leg to this leg's (RFC 3551 §6: dynamic types are per session).  ``rtcp_sock`` is the
    RTCP socket (RTP port + 1, RFC 3550 §11), ``None`` for RTCP multiplexed on the RTP socket (RFC 5761);
    ``rtcp_remote`` defaults to the RTP remote's port + 1.  ``rtp_timeout`` (seconds, 0 = off) reports the
    leg as idle when no RTP arrives for that long (the dialplan's RTP timeout hang-up).
    ``event_payload_type`` is the RFC 4733 telephone-event type the phone of this leg sends: its packets
    are counted but left out of the interarrival jitter (an event repeats its timestamp, RFC 4733 §2.3.1).
    """

    sock: FileDescriptor
    ssrc: int
    remote: Address | None = None
    latch: bool = False
    rtcp_sock: FileDescriptor | None = None
    rtcp_remote: Address | None = None
    next_seq: int | None = None
    next_timestamp: int | None = None
    payload_types: Mapping[int, int] = field(default_factory=dict)
    rtp_timeout: float = 0.0
    event_payload_type: int | None = None


@dataclass(frozen=True, slots=True)
class FlowStats:
    """Quality of one relayed direction: the RTP stream a leg's phone sends, forwarded to the other leg.

    Kept by the relay loop per RFC 3550 Appendix A.1 (sequence validation: extended sequence numbers over
    the 16-bit wrap, ``MAX_DROPOUT``/``MAX_MISORDER``, a restart after two packets in sequence beyond a jump),
    A.3 (``expected`` = extended highest - base + 1, summed over the sources seen: a new SSRC starts a new
    count) and A.8 (interarrival jitter, integer form, in timestamp units; arrival times in timestamp units
    come from a monotonic clock read once per batch of datagrams).  ``received`` counts distinct packets
    (``duplicates`` apart, so that a duplicate never hides a loss), ``lost`` = expected - received (never
    negative: reordering is not loss).  ``jitter`` is the current estimate, ``mean_jitter`` its mean over the
    packets measured and ``max_jitter`` its maximum (timestamp units, RFC 4733 events excluded).
    ``forwarded``/``forwarded_bytes`` count the RTP datagrams sent on to the other leg's phone, ``ssrc`` is the
    last source seen (``None`` before the first packet), ``sources`` how many SSRCs the stream had.
    """

    received: int
    expected: int
    lost: int
    duplicates: int
    forwarded: int
    forwarded_bytes: int
    jitter: float
    mean_jitter: float
    max_jitter: float
    ssrc: int | None
    sources: int
    clock_rate: int

    @property
    def loss_percent(self) -> float:
        """``lost`` as a percentage of ``expected`` (0 before any packet)."""
        return 100.0 * self.lost / self.expected if self.expected > 0 else 0.0

    @property
    def jitter_ms(self) -> float:
        """The current jitter estimate in milliseconds."""
        return self.jitter * 1000.0 / self.clock_rate


@dataclass(frozen=True, slots=True)
class PhoneReport:
    """The latest RTCP reception report (RFC 3550 §6.4.1) a leg's phone sent about the stream the relay
    sends it (the block naming the leg's SSRC), read before it is translated and forwarded: ``fraction_lost``
    (8-bit fixed point, since its previous report), ``cumulative_lost`` (signed 24 bits),
    ``highest_sequence`` (extended, in the leg's numbering) and ``jitter`` (timestamp units)."""

    fraction_lost: int
    cumulative_lost: int
    highest_sequence: int
    jitter: int


@dataclass(frozen=True, slots=True)
class LegStats:
    """Counters of one leg: ``*_in`` received from its phone, ``*_out`` sent to it.

    ``packets_in``/``bytes_in`` count every accepted datagram (RTP and RTCP); ``dropped`` counts datagrams
    received and not forwarded (strangers, malformed, RTCP when dropping it, no remote to send to yet);
    ``send_errors`` datagrams the kernel refused to send on this leg.  ``last_seen`` is the
    ``time.monotonic()`` of the last RTP packet received (``None`` before the first).  ``source_changes``
    counts the SSRC changes of the stream relayed *to* this leg.  ``next_seq``/``next_timestamp`` are where
    the stream sent on this leg continues (the highest sequence number sent + 1, its timestamp + the
    packetisation step last seen; RFC 3550 §5.1), ``None`` before the first relayed packet: whoever sends
    on the leg after the relay (the media engine taking it back) keeps the far end's stream continuous.
    ``inbound`` is the quality of the RTP received from this leg's phone and relayed to the other leg;
    ``report`` what the phone last reported over RTCP about the stream sent to it (``None``: no report).
    """

    packets_in: int
    bytes_in: int
    packets_out: int
    bytes_out: int
    dropped: int
    rtcp_in: int
    rtcp_out: int
    send_errors: int
    source_changes: int
    last_seen: float | None
    remote: Address | None
    latched: bool
    next_seq: int | None = None
    next_timestamp: int | None = None
    inbound: FlowStats | None = None
    report: PhoneReport | None = None


@dataclass(frozen=True, slots=True)
class RtpTimeout:
    """No RTP arrived on ``side`` of ``pair_id`` for ``idle`` seconds (reported once per idle period)."""

    pair_id: int
    side: Side
    idle: float


@dataclass(frozen=True, slots=True)
class RemoteLatched:
    """``side`` of ``pair_id`` latched its remote (RTP, or RTCP when ``rtcp``) to ``address``."""

    pair_id: int
    side: Side
    address: Address
    rtcp: bool


RelayEvent = Union[RtpTimeout, RemoteLatched]


def fd_of(sock: FileDescriptor) -> int:
    """The file descriptor number of ``sock`` (an int or an object with ``fileno()``)."""
    fd = sock if isinstance(sock, int) else sock.fileno()
    if fd < 0:
        raise RelayError(f"invalid file descriptor {fd}")
    return fd


def socket_family(fd: int) -> int:
    """Address family of the UDP socket ``fd``; refuses anything but a bound IPv4/IPv6 datagram socket."""
    try:
        probe = socket.socket(fileno=os.dup(fd))
    except OSError as exc:
        raise RelayError(f"fd {fd} is not a socket: {exc}") from exc
    try:
        if probe.type != socket.SOCK_DGRAM or probe.family not in (socket.AF_INET, socket.AF_INET6):
            raise RelayError(f"fd {fd} is not a UDP socket")
        if probe.getsockname()[1] == 0:
            raise RelayError(f"fd {fd} is not bound")
        return int(probe.family)
    finally:
        probe.close()


def normalise_remote(family: int, remote: Address | None) -> Address | None:
    """``remote`` as the numeric (host, port) the socket of ``family`` sends to (IPv4 mapped for IPv6)."""
    if remote is None:
        return None
    host, port = remote
    if not 0 < int(port) < 65536:
        raise RelayError(f"bad port in remote address {remote!r}")
    try:
        packed = socket.inet_pton(socket.AF_INET, host)
    except OSError:
        try:
            packed6 = socket.inet_pton(socket.AF_INET6, host)
        except OSError as exc:
            raise RelayError(f"remote address must be a numeric IP address: {remote!r}") from exc
        if family != socket.AF_INET6:
            raise RelayError(f"IPv6 remote {remote!r} for an IPv4 socket") from None
        return socket.inet_ntop(socket.AF_INET6, packed6), int(port)
    if family == socket.AF_INET6:
        return "::ffff:" + socket.inet_ntop(socket.AF_INET, packed), int(port)
    return host, int(port)


def check_leg(leg: Leg) -> None:
    """Refuse a leg description with out-of-range fields (raises :class:`RelayError`)."""
    if not 0 <= leg.ssrc < 2**32:
        raise RelayError(f"SSRC out of range: {leg.ssrc}")
    if leg.next_seq is not None and not 0 <= leg.next_seq < 2**16:
        raise RelayError(f"next_seq out of range: {leg.next_seq}")
    if leg.next_timestamp is not None and not 0 <= leg.next_timestamp < 2**32:
        raise RelayError(f"next_timestamp out of range: {leg.next_timestamp}")
    for src, dst in leg.payload_types.items():
        if not (0 <= src < 128 and 0 <= dst < 128):
            raise RelayError(f"payload type mapping out of range: {src} -> {dst}")
    if leg.rtp_timeout < 0:
        raise RelayError(f"negative RTP timeout: {leg.rtp_timeout}")
    if leg.event_payload_type is not None and not 0 <= leg.event_payload_type < 128:
        raise RelayError(f"event payload type out of range: {leg.event_payload_type}")


def check_coalesce(coalesce_us: int) -> None:
    """Refuse a coalescing wait outside 0..20,000 microseconds (one packetisation interval)."""
    if not 0 <= coalesce_us <= 20_000:
        raise RelayError(f"coalescing wait out of range: {coalesce_us} us")


def check_pair(clock_rate: int, rtcp: RtcpMode) -> None:
    """Refuse bad pair options."""
    if not 0 < clock_rate <= 1_000_000:
        raise RelayError(f"clock rate out of range: {clock_rate}")
    RtcpMode(rtcp)


def serial_newer(a: int, b: int) -> bool:
    """RFC 1982 serial comparison of 16-bit sequence numbers: ``a`` comes after ``b``."""
    return 0 < ((a - b) & 0xFFFF) < 0x8000


def is_muxed_rtcp(data: bytes | bytearray) -> bool:
    """RFC 5761 §4: on a multiplexed socket, payload types 64-95 (octet 2 = 192-223) are RTCP."""
    return len(data) >= 2 and 64 <= (data[1] & 0x7F) <= 95


def arrival_units(now_ns: int, clock_rate: int) -> int:
    """``now_ns`` (monotonic nanoseconds) in RTP timestamp units of ``clock_rate``, modulo 2^32 (RFC 3550
    A.8: the arrival time in the same units as the timestamp; only differences matter)."""
    seconds, rest = divmod(now_ns, 1_000_000_000)
    return (seconds * clock_rate + rest * clock_rate // 1_000_000_000) & 0xFFFFFFFF


class _Flow:
    """Reception statistics of the RTP one leg's phone sends (RFC 3550 A.1, A.3, A.8); see FlowStats."""

    __slots__ = (
        "event_pt", "have_src", "ssrc", "sources", "base_seq", "max_seq", "bad_seq", "cycles", "received",
        "window", "retired_expected", "retired_received", "duplicates", "have_transit", "transit", "jitter",
        "max_jitter", "jitter_sum", "jitter_samples", "forwarded", "forwarded_bytes",
    )

    def __init__(self, event_payload_type: int | None) -> None:
        self.event_pt = -1 if event_payload_type is None else event_payload_type
        self.have_src = False
        self.ssrc = self.sources = self.base_seq = self.max_seq = self.cycles = self.received = 0
        self.bad_seq = NO_BAD_SEQ
        self.window = 0
        self.retired_expected = self.retired_received = self.duplicates = 0
        self.have_transit = False
        self.transit = self.jitter = self.max_jitter = self.jitter_sum = self.jitter_samples = 0
        self.forwarded = self.forwarded_bytes = 0

    def _retire(self) -> None:
        self.retired_expected += self.cycles + self.max_seq - self.base_seq + 1
        self.retired_received += self.received

    def update(self, buf: bytes | bytearray, arrival: int) -> None:
        """Count the RTP packet in ``buf`` (at least 12 bytes, before the rewrite) that arrived at
        ``arrival`` (timestamp units, :func:`arrival_units`)."""
        seq, ts, ssrc = struct.unpack_from("!HII", buf, 2)
        if not self.have_src or ssrc != self.ssrc:
            # A.1 init_seq(): a new source (the first, or another SSRC) starts its own count.
            if self.have_src:
                self._retire()
            self.have_src = True
            self.ssrc = ssrc
            self.sources += 1
            self.base_seq = self.max_seq = seq
            self.cycles = 0
            self.bad_seq = NO_BAD_SEQ
            self.window = 1
            self.received = 1
            self.have_transit = False
        else:
            udelta = (seq - self.max_seq) & 0xFFFF
            if udelta == 0:
                self.duplicates += 1
                return
            if udelta < MAX_DROPOUT:
                if seq < self.max_seq:
                    self.cycles += 0x10000  # the sequence number wrapped
                self.max_seq = seq
                self.window = ((self.window << udelta) | 1) & 0xFFFFFFFFFFFFFFFF if udelta < REORDER_WINDOW else 1
            elif udelta <= 0x10000 - MAX_MISORDER:
                if seq != self.bad_seq:
                    self.bad_seq = (seq + 1) & 0xFFFF  # a jump: counted only if the next packet follows it
                    return
                # Two packets in sequence after a jump: the source restarted its numbering (A.1).
                self._retire()
                self.base_seq = (seq - 1) & 0xFFFF
                self.cycles = 0x10000 if seq == 0 else 0
                self.max_seq = seq
                self.bad_seq = NO_BAD_SEQ
                self.window = 3
                self.received = 1  # the packet after the jump; this one is counted below
                self.have_transit = False
            else:
                back = 0x10000 - udelta
                if back < REORDER_WINDOW:
                    bit = 1 << back
                    if self.window & bit:
                        self.duplicates += 1
                        return
                    self.window |= bit
            self.received += 1
        if (buf[1] & 0x7F) == self.event_pt:
            return
        # A.8, integer form: J is kept x16; J += |D| - J/16 (rounded).
        transit = (arrival - ts) & 0xFFFFFFFF
        if self.have_transit:
            d = (transit - self.transit) & 0xFFFFFFFF
            if d >= 0x80000000:
                d = 0x100000000 - d
            self.jitter += d - ((self.jitter + 8) >> 4)
            self.jitter_sum += self.jitter
            self.jitter_samples += 1
            if self.jitter > self.max_jitter:
                self.max_jitter = self.jitter
        self.have_transit = True
        self.transit = transit

    def stats(self, clock_rate: int) -> FlowStats:
        expected = self.retired_expected + (self.cycles + self.max_seq - self.base_seq + 1 if self.have_src else 0)
        received = self.retired_received + self.received
        return FlowStats(
            received, expected, max(0, expected - received), self.duplicates, self.forwarded,
            self.forwarded_bytes, self.jitter / 16.0,
            self.jitter_sum / 16.0 / self.jitter_samples if self.jitter_samples else 0.0, self.max_jitter / 16.0,
            self.ssrc if self.have_src else None, self.sources, clock_rate,
        )


def flow_stats(packets: list[bytes], arrivals_ns: list[int], clock_rate: int = 8000,
               event_payload_type: int | None = None) -> FlowStats:
    """The relay's statistics of one direction for ``packets`` received at ``arrivals_ns`` (monotonic
    nanoseconds), offline: every packet counts as forwarded.  Packets the relay drops (shorter than the
    RTP header, not version 2, RTCP) are left out.  For tests and tools."""
    check_pair(clock_rate, RtcpMode.FORWARD)
    flow = _Flow(event_payload_type)
    for packet, now in zip(packets, arrivals_ns, strict=True):
        if len(packet) < 12 or packet[0] >> 6 != 2 or is_muxed_rtcp(packet):
            continue
        flow.update(packet, arrival_units(now, clock_rate))
        flow.forwarded += 1
        flow.forwarded_bytes += len(packet)
    return flow.stats(clock_rate)


class _Direction:
    """Rewrite state of the packets sent on one leg (the stream the phone of that leg receives)."""

    __slots__ = (
        "ssrc", "pt_map", "next_seq", "next_ts", "have_src", "src_ssrc", "seq_delta", "ts_delta",
        "have_prev", "prev_ssrc", "prev_seq_delta", "prev_ts_delta", "prev_max_seq", "max_seq", "max_ts",
        "last_out_ns", "step", "source_changes", "report",
    )

    def __init__(self, leg: Leg) -> None:
        self.ssrc = leg.ssrc
        self.pt_map = bytes(leg.payload_types.get(pt, pt) for pt in range(128))
        self.next_seq = leg.next_seq
        self.next_ts = leg.next_timestamp
        self.have_src = False
        self.src_ssrc = self.seq_delta = self.ts_delta = 0
        self.have_prev = False
        self.prev_ssrc = self.prev_seq_delta = self.prev_ts_delta = self.prev_max_seq = 0
        self.max_seq = self.max_ts = self.last_out_ns = self.step = 0
        self.source_changes = 0
        self.report: PhoneReport | None = None

    def rewrite(self, buf: bytearray, now: int, clock_rate: int) -> None:
        """Rewrite the RTP header of ``buf`` (at least 12 bytes) in place; see the module docstring."""
        in_seq, in_ts, in_ssrc = struct.unpack_from("!HII", buf, 2)
        mark = False
        first = False
        if not self.have_src:
            self.have_src = first = True
            self.src_ssrc = in_ssrc
            self.seq_delta = (self.next_seq - in_seq) & 0xFFFF if self.next_seq is not None else 0
            self.ts_delta = (self.next_ts - in_ts) & 0xFFFFFFFF if self.next_ts is not None else 0
            mark = self.next_seq is not None or self.next_ts is not None
        elif in_ssrc != self.src_ssrc:
            if (self.have_prev and in_ssrc == self.prev_ssrc
                    and not serial_newer((in_seq + self.prev_seq_delta) & 0xFFFF, self.prev_max_seq)):
                # A late packet of the previous source: its own numbering, no state change.
                _write_header(buf, buf[1] & 0x80, self.pt_map[buf[1] & 0x7F], (in_seq + self.prev_seq_delta),
                              (in_ts + self.prev_ts_delta), self.ssrc)
                return
            self.have_prev = True
            self.prev_ssrc, self.prev_seq_delta, self.prev_ts_delta = self.src_ssrc, self.seq_delta, self.ts_delta
            self.prev_max_seq = self.max_seq
            elapsed = min(max(now - self.last_out_ns, 0), MAX_ELAPSED_NS)
            ticks = elapsed * clock_rate // 1_000_000_000
            if self.step:
                advance = max(1, (ticks + self.step // 2) // self.step) * self.step
            else:
                advance = max(1, ticks)
            self.src_ssrc = in_ssrc
            self.seq_delta = (self.max_seq + 1 - in_seq) & 0xFFFF
            self.ts_delta = (self.max_ts + advance - in_ts) & 0xFFFFFFFF
            self.source_changes += 1
            mark = True
        out_seq = (in_seq + self.seq_delta) & 0xFFFF
        out_ts = (in_ts + self.ts_delta) & 0xFFFFFFFF
        _write_header(buf, 0x80 if mark else buf[1] & 0x80, self.pt_map[buf[1] & 0x7F], out_seq, out_ts, self.ssrc)
        if first or serial_newer(out_seq, self.max_seq):
            ts_step = (out_ts - self.max_ts) & 0xFFFFFFFF
            if not first and out_seq == (self.max_seq + 1) & 0xFFFF and 0 < ts_step <= clock_rate // 10:
                self.step = ts_step
            self.max_seq, self.max_ts = out_seq, out_ts
        self.last_out_ns = now


def rewrite_stream(leg: Leg, packets: list[bytes], arrivals_ns: list[int], clock_rate: int = 8000) -> list[bytes]:
    """The relay's rewrite of the packets one direction would send on ``leg``, offline.

    ``arrivals_ns`` are the packets' arrival times (monotonic nanoseconds, used across a source change).
    Only ``leg``'s SSRC, ``next_seq``, ``next_timestamp`` and ``payload_types`` matter; packets shorter than
    the 12-byte header or not version 2 are left out, as the relay drops them.  For tests and tools.
    """
    check_leg(leg)
    check_pair(clock_rate, RtcpMode.FORWARD)
    tx = _Direction(leg)
    out: list[bytes] = []
    for packet, now in zip(packets, arrivals_ns, strict=True):
        if len(packet) < 12 or packet[0] >> 6 != 2 or is_muxed_rtcp(packet):
            continue
        buf = bytearray(packet)
        tx.rewrite(buf, now, clock_rate)
        out.append(bytes(buf))
    return out


def _write_header(buf: bytearray, marker: int, pt: int, seq: int, ts: int, ssrc: int) -> None:
    buf[1] = marker | pt
    struct.pack_into("!HII", buf, 2, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc)


def translate_rtcp(buf: bytearray, out: _Direction, back: _Direction) -> int:
    """Translate the compound RTCP packet in ``buf`` for the far end, in place; returns its new length.

    ``out`` is the direction the packet travels (its SSRC replaces the sender's), ``back`` the opposite
    direction (the stream the sending phone receives: report blocks about it name its original source).
    Returns 0 when nothing is left to send (malformed, or only BYE).
    """
    n = len(buf)
    off = 0
    write = 0
    while off + 4 <= n:
        if buf[off] >> 6 != 2:
            return 0
        length = (struct.unpack_from("!H", buf, off + 2)[0] + 1) * 4
        if off + length > n:
            return 0
        pt = buf[off + 1]
        if pt == RTCP_BYE:
            off += length
            continue
        if write != off:
            buf[write:write + length] = buf[off:off + length]
        _translate_one(buf, write, length, pt, buf[write] & 0x1F, out, back)
        write += length
        off += length
    return write


def _translate_one(buf: bytearray, p: int, length: int, pt: int, count: int, out: _Direction,
                   back: _Direction) -> None:
    if length < 8:
        return
    if pt in (RTCP_SR, RTCP_RR, RTCP_SDES, RTCP_APP, RTCP_XR, RTCP_RTPFB, RTCP_PSFB) and (pt != RTCP_SDES or count):
        struct.pack_into("!I", buf, p + 4, out.ssrc)
    if pt == RTCP_SR and length >= 28:
        ts = struct.unpack_from("!I", buf, p + 16)[0]
        struct.pack_into("!I", buf, p + 16, (ts + out.ts_delta) & 0xFFFFFFFF)
    if pt in (RTCP_SR, RTCP_RR):
        block = p + (28 if pt == RTCP_SR else 8)
        for _ in range(count):
            if block + 24 > p + length:
                break
            if struct.unpack_from("!I", buf, block)[0] == back.ssrc:
                # The phone's report about the stream it gets from us: kept for the call's quality (tx).
                fraction = buf[block + 4]
                lost = int.from_bytes(buf[block + 5:block + 8], "big", signed=True)
                ext, jitter = struct.unpack_from("!II", buf, block + 8)
                back.report = PhoneReport(fraction, lost, ext, jitter)
                if back.have_src:
                    struct.pack_into("!I", buf, block, back.src_ssrc)
                    struct.pack_into("!I", buf, block + 8, (ext - back.seq_delta) & 0xFFFFFFFF)
            block += 24
    if pt in (RTCP_RTPFB, RTCP_PSFB) and length >= 12 and back.have_src:
        if struct.unpack_from("!I", buf, p + 8)[0] == back.ssrc:
            struct.pack_into("!I", buf, p + 8, back.src_ssrc)


class _LegState:
    __slots__ = (
        "sock", "rtcp", "remote", "rtcp_remote", "rtcp_remote_fixed", "latch", "latched", "rtcp_latched",
        "tx", "flow", "timeout_ns", "timed_out", "added_ns", "last_seen_ns", "packets_in", "bytes_in",
        "packets_out", "bytes_out", "dropped", "rtcp_in", "rtcp_out", "send_errors",
    )

    def __init__(self, leg: Leg, now: int) -> None:
        fd = fd_of(leg.sock)
        family = socket_family(fd)
        self.sock = socket.socket(fileno=os.dup(fd))
        self.rtcp: socket.socket | None = None
        if leg.rtcp_sock is not None:
            rfd = fd_of(leg.rtcp_sock)
            if socket_family(rfd) != family:
                self.sock.close()
                raise RelayError("RTP and RTCP sockets of a leg must have the same address family")
            self.rtcp = socket.socket(fileno=os.dup(rfd))
        self.remote = normalise_remote(family, leg.remote)
        self.rtcp_remote = normalise_remote(family, leg.rtcp_remote)
        self.rtcp_remote_fixed = leg.rtcp_remote is not None
        self.latch = leg.latch or leg.remote is None
        self.latched = False
        self.rtcp_latched = False
        self.tx = _Direction(leg)
        self.flow = _Flow(leg.event_payload_type)
        self.timeout_ns = int(leg.rtp_timeout * 1e9)
        self.timed_out = False
        self.added_ns = now
        self.last_seen_ns = 0
        self.packets_in = self.bytes_in = self.packets_out = self.bytes_out = 0
        self.dropped = self.rtcp_in = self.rtcp_out = self.send_errors = 0

    def rtcp_destination(self) -> tuple[socket.socket, Address | None]:
        """Socket and address RTCP for this leg's phone goes out of/to."""
        if self.rtcp is None:
            return self.sock, self.remote
        if self.rtcp_remote is None and self.remote is not None:
            return self.rtcp, (self.remote[0], self.remote[1] + 1 if self.remote[1] < 65535 else 65535)
        return self.rtcp, self.rtcp_remote

    def stats(self, clock_rate: int) -> LegStats:
        return LegStats(
            self.packets_in, self.bytes_in, self.packets_out, self.bytes_out, self.dropped, self.rtcp_in,
            self.rtcp_out, self.send_errors, self.tx.source_changes,
            self.last_seen_ns / 1e9 if self.last_seen_ns else None, self.remote, self.latched,
            (self.tx.max_seq + 1) & 0xFFFF if self.tx.have_src else None,
            (self.tx.max_ts + self.tx.step) & 0xFFFFFFFF if self.tx.have_src else None,
            self.flow.stats(clock_rate), self.tx.report,
        )

    def close(self) -> None:
        self.sock.close()
        if self.rtcp is not None:
            self.rtcp.close()


class _Pair:
    __slots__ = ("pair_id", "legs", "clock_rate", "rtcp_mode")

    def __init__(self, pair_id: int, a: _LegState, b: _LegState, clock_rate: int, rtcp_mode: RtcpMode) -> None:
        self.pair_id = pair_id
        self.legs = (a, b)
        self.clock_rate = clock_rate
        self.rtcp_mode = rtcp_mode


class RelayEngine:
    """Relays RTP between pairs of legs in its own thread (pure-Python twin of the compiled engine).

    Create it, :meth:`add_pair` legs (before or after :meth:`start`), read :meth:`stats` at any time,
    wait for :meth:`fileno` to become readable and drain :meth:`events` (RTP timeouts, latching), and
    :meth:`stop` it (joins the thread).  Control methods are thread-safe; the loop holds a lock only
    while it handles one socket's batch.  ``coalesce_us``: while packets keep arriving, the loop sleeps
    that long between two rounds so that each round relays many packets (interrupt moderation, as a NIC
    driver's NAPI does); it adds at most that much latency, and 0 wakes up for every packet.
    """

    ACCELERATED = False

    def __init__(self, *, coalesce_us: int = DEFAULT_COALESCE_US) -> None:
        check_coalesce(coalesce_us)
        self._coalesce = coalesce_us / 1e6
        self._lock = threading.Lock()
        self._pairs: dict[int, _Pair] = {}
        self._next_id = 1
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._events: deque[RelayEvent] = deque()
        self._event_r, self._event_w = os.pipe()
        os.set_blocking(self._event_r, False)
        os.set_blocking(self._event_w, False)
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._closed = False
        self._last_scan = 0

    # -- control ---------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the relay thread (no-op when running)."""
        with self._lock:
            if self._closed:
                raise RelayError("relay engine closed")
            if self._thread is not None:
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="rtp-relay-py", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the relay thread and wait for it (pairs stay configured; :meth:`start` resumes)."""
        thread = self._thread
        if thread is None:
            return
        with self._lock:
            self._stopping = True
        self._wake()
        thread.join(timeout)
        if thread.is_alive():
            raise RelayError("relay thread did not stop")
        self._thread = None

    @property
    def running(self) -> bool:
        """True while the relay thread runs."""
        return self._thread is not None

    def close(self) -> None:
        """Stop, remove every pair (closing the engine's socket duplicates) and release the engine."""
        if self._closed:
            return
        self.stop()
        with self._lock:
            for pair in self._pairs.values():
                self._unregister(pair)
            self._pairs.clear()
            self._closed = True
        self._selector.close()
        for fd in (self._wake_r, self._wake_w, self._event_r, self._event_w):
            os.close(fd)

    def __enter__(self) -> RelayEngine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_pair(self, a: Leg, b: Leg, *, clock_rate: int = 8000, rtcp: RtcpMode = RtcpMode.FORWARD) -> int:
        """Relay between legs ``a`` and ``b``; returns the pair id.  ``clock_rate`` is the RTP clock (Hz)."""
        check_leg(a)
        check_leg(b)
        check_pair(clock_rate, rtcp)
        now = time.monotonic_ns()
        leg_a = _LegState(a, now)
        try:
            leg_b = _LegState(b, now)
        except BaseException:
            leg_a.close()
            raise
        with self._lock:
            if self._closed:
                leg_a.close()
                leg_b.close()
                raise RelayError("relay engine closed")
            pair_id = self._next_id
            self._next_id += 1
            pair = _Pair(pair_id, leg_a, leg_b, clock_rate, RtcpMode(rtcp))
            try:
                for side, leg in enumerate(pair.legs):
                    self._selector.register(leg.sock, selectors.EVENT_READ, (pair_id, side, False))
                    if leg.rtcp is not None:
                        self._selector.register(leg.rtcp, selectors.EVENT_READ, (pair_id, side, True))
            except (OSError, ValueError, KeyError) as exc:
                self._unregister(pair)
                raise RelayError(f"cannot watch the legs' sockets: {exc}") from exc
            self._pairs[pair_id] = pair
        return pair_id

    def remove_pair(self, pair_id: int) -> tuple[LegStats, LegStats]:
        """Stop relaying ``pair_id`` and close the engine's duplicates of its sockets; returns the legs'
        final counters (nothing is relayed after them: the stream positions are exact)."""
        with self._lock:
            pair = self._pairs.pop(pair_id, None)
            if pair is None:
                raise RelayError(f"no pair {pair_id}")
            final = pair.legs[0].stats(pair.clock_rate), pair.legs[1].stats(pair.clock_rate)
            self._unregister(pair)
        return final

    def set_remote(self, pair_id: int, side: Side, remote: Address | None, *, latch: bool = False) -> None:
        """Point ``side`` of ``pair_id`` at a new remote (re-INVITE); ``latch`` learns it again."""
        with self._lock:
            leg = self._pair(pair_id).legs[Side(side)]
            leg.remote = normalise_remote(leg.sock.family, remote)
            leg.latch = latch or remote is None
            leg.latched = leg.rtcp_latched = False
            if not leg.rtcp_remote_fixed:
                leg.rtcp_remote = None

    def stats(self, pair_id: int) -> tuple[LegStats, LegStats]:
        """Counters of both legs of ``pair_id`` (read while the loop runs)."""
        with self._lock:
            pair = self._pair(pair_id)
            return pair.legs[0].stats(pair.clock_rate), pair.legs[1].stats(pair.clock_rate)

    def pair_ids(self) -> list[int]:
        """Ids of the pairs being relayed."""
        with self._lock:
            return sorted(self._pairs)

    def fileno(self) -> int:
        """A descriptor readable while events are pending (``loop.add_reader`` it)."""
        return self._event_r

    def events(self) -> list[RelayEvent]:
        """Pending events, oldest first (drains the queue)."""
        try:
            while os.read(self._event_r, 4096):
                pass
        except BlockingIOError:
            pass
        with self._lock:
            drained = list(self._events)
            self._events.clear()
        return drained

    # -- internals ---------------------------------------------------------------------------------------
    def _pair(self, pair_id: int) -> _Pair:
        pair = self._pairs.get(pair_id)
        if pair is None:
            raise RelayError(f"no pair {pair_id}")
        return pair

    def _unregister(self, pair: _Pair) -> None:
        for leg in pair.legs:
            for sock in (leg.sock, leg.rtcp):
                if sock is not None:
                    try:
                        self._selector.unregister(sock)
                    except (KeyError, ValueError):
                        pass
            leg.close()

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"\0")
        except BlockingIOError:
            pass

    def _push_event(self, event: RelayEvent) -> bool:
        if len(self._events) >= EVENT_QUEUE_SIZE:
            return False
        self._events.append(event)
        try:
            os.write(self._event_w, b"\0")
        except BlockingIOError:
            pass
        return True

    def _run(self) -> None:
        busy = False
        while True:
            if busy and self._coalesce:
                time.sleep(self._coalesce)  # let packets gather while traffic flows
            ready = self._selector.select(0 if busy and self._coalesce else POLL_INTERVAL)
            busy = bool(ready)
            now = time.monotonic_ns()
            for key, _mask in ready:
                if key.data is None:
                    try:
                        os.read(self._wake_r, 4096)
                    except BlockingIOError:
                        pass
                    continue
                with self._lock:
                    if self._stopping:
                        return
                    pair_id, side, is_rtcp = key.data
                    pair = self._pairs.get(pair_id)
                    if pair is not None:
                        self._service(pair, side, is_rtcp, now)
            with self._lock:
                if self._stopping:
                    return
                if now - self._last_scan >= IDLE_SCAN_NS:
                    self._last_scan = now
                    self._scan_idle(now)

    def _scan_idle(self, now: int) -> None:
        for pair in self._pairs.values():
            for side, leg in enumerate(pair.legs):
                if leg.timeout_ns <= 0 or leg.timed_out:
                    continue
                since = leg.last_seen_ns or leg.added_ns
                if now - since >= leg.timeout_ns:
                    if self._push_event(RtpTimeout(pair.pair_id, Side(side), (now - since) / 1e9)):
                        leg.timed_out = True

    def _service(self, pair: _Pair, side: int, is_rtcp: bool, now: int) -> None:
        leg_in = pair.legs[side]
        leg_out = pair.legs[1 - side]
        sock = leg_in.rtcp if is_rtcp else leg_in.sock
        assert sock is not None
        arrival = 0
        for count in range(ROUNDS_PER_EVENT * BATCH):
            try:
                data, _anc, flags, source = sock.recvmsg(MAX_DATAGRAM, 0, socket.MSG_DONTWAIT)
            except OSError:
                return
            if count % BATCH == 0:
                # One clock reading per batch (the compiled loop: per recvmmsg), for the jitter estimate.
                arrival = arrival_units(time.monotonic_ns(), pair.clock_rate)
            if flags & socket.MSG_TRUNC:
                leg_in.dropped += 1
                continue
            self._handle(pair, side, leg_in, leg_out, bytearray(data), (source[0], source[1]), is_rtcp, now,
                         arrival)

    def _handle(self, pair: _Pair, side: int, leg_in: _LegState, leg_out: _LegState, buf: bytearray,
                source: Address, is_rtcp: bool, now: int, arrival: int) -> None:
        n = len(buf)
        if is_rtcp:
            valid = n >= 8 and buf[0] >> 6 == 2
            if leg_in.latch and not leg_in.rtcp_latched:
                if not valid:
                    leg_in.dropped += 1
                    return
                leg_in.rtcp_remote = source
                leg_in.rtcp_latched = True
                self._push_event(RemoteLatched(pair.pair_id, Side(side), source, True))
            elif source != leg_in.rtcp_destination()[1]:
                leg_in.dropped += 1
                return
        else:
            if leg_in.latch and not leg_in.latched:
                if n < 12 or buf[0] >> 6 != 2 or is_muxed_rtcp(buf):
                    leg_in.dropped += 1
                    return
                leg_in.remote = source
                leg_in.latched = True
                self._push_event(RemoteLatched(pair.pair_id, Side(side), source, False))
            elif source != leg_in.remote:
                leg_in.dropped += 1
                return
        leg_in.packets_in += 1
        leg_in.bytes_in += n
        if n < 4 or buf[0] >> 6 != 2:
            leg_in.dropped += 1
            return
        if is_rtcp or is_muxed_rtcp(buf):
            leg_in.rtcp_in += 1
            if pair.rtcp_mode == RtcpMode.DROP or n < 8:
                leg_in.dropped += 1
                return
            length = translate_rtcp(buf, leg_out.tx, leg_in.tx)
            sock, dest = leg_out.rtcp_destination()
            if length == 0 or dest is None:
                leg_in.dropped += 1
                return
            if self._send(leg_out, sock, bytes(buf[:length]), dest):
                leg_out.rtcp_out += 1
            return
        if n < 12:
            leg_in.dropped += 1
            return
        leg_in.last_seen_ns = now
        leg_in.timed_out = False
        flow = leg_in.flow
        flow.update(buf, arrival)
        if leg_out.remote is None:
            leg_in.dropped += 1
            return
        leg_out.tx.rewrite(buf, now, pair.clock_rate)
        if self._send(leg_out, leg_out.sock, bytes(buf), leg_out.remote):
            flow.forwarded += 1
            flow.forwarded_bytes += n

    @staticmethod
    def _send(leg: _LegState, sock: socket.socket, data: bytes, dest: Address) -> bool:
        try:
            sock.sendto(data, socket.MSG_DONTWAIT, dest)
        except OSError:
            leg.send_errors += 1
            return False
        leg.packets_out += 1
        leg.bytes_out += len(data)
        return True
