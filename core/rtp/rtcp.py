"""RTCP (RFC 3550 §6): compound packets, NTP timestamps, round-trip time and the report interval.

* :func:`parse_rtcp` / :func:`build_rtcp`: compound packets of SR, RR (report blocks), SDES (CNAME and the
  other items), BYE; APP and unknown types (RTPFB, PSFB, XR, ...) are skipped by their length field.
  Structural errors raise :class:`RtcpError` with the byte offset (the validity checks of Appendix A.2;
  the "first packet is SR or RR" rule is not enforced, since RFC 5506 allows reduced-size RTCP).
* :func:`is_rtcp`: RFC 5761 §4 demultiplexing of RTP and RTCP on one port (second octet 192-223, i.e.
  payload type 64-95 with the marker bit).
* NTP timestamps (§4) and :func:`round_trip_time` from LSR/DLSR (§6.4.1).
* :func:`rtcp_interval` (Appendix A.7, §6.2/§6.3.1) and :class:`RtcpScheduler`, its sans-IO timer.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Union

__all__ = [
    "NTP_UNIX_EPOCH_OFFSET",
    "Goodbye",
    "ReceiverReport",
    "ReportBlock",
    "RtcpError",
    "RtcpPacket",
    "RtcpPacketType",
    "RtcpScheduler",
    "SdesChunk",
    "SdesItemType",
    "SenderReport",
    "SourceDescription",
    "build_rtcp",
    "is_rtcp",
    "ntp_middle32",
    "ntp_offset",
    "ntp_timestamp",
    "ntp_to_seconds",
    "parse_rtcp",
    "round_trip_time",
    "rtcp_interval",
]

NTP_UNIX_EPOCH_OFFSET = 2_208_988_800
"""Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01), RFC 5905 §6."""

RTCP_MIN_TIME = 5.0
RTCP_SENDER_BW_FRACTION = 0.25
RTCP_RCVR_BW_FRACTION = 0.75
COMPENSATION = 2.71828 - 1.5  # e - 3/2: the timer-reconsideration correction of Appendix A.7
IPV4_UDP_OVERHEAD = 28  # §6.2: sizes include the lower-layer (UDP and IP) headers


class RtcpError(ValueError):
    """An RTCP datagram or packet field that does not follow RFC 3550 §6; ``offset`` is the byte position."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.offset = offset


class RtcpPacketType(IntEnum):
    """RTCP packet types (RFC 3550 §12.1; 205-207 from RFC 4585 and RFC 3611, skipped here)."""

    SR = 200
    RR = 201
    SDES = 202
    BYE = 203
    APP = 204


class SdesItemType(IntEnum):
    """SDES item types (RFC 3550 §6.5)."""

    END = 0
    CNAME = 1
    NAME = 2
    EMAIL = 3
    PHONE = 4
    LOC = 5
    TOOL = 6
    NOTE = 7
    PRIV = 8


# -- NTP time (RFC 3550 §4) -------------------------------------------------------------------------------

def ntp_timestamp(seconds: float) -> int:
    """The 64-bit NTP timestamp (32.32 fixed point, modulo 2^64) of ``seconds`` since 1900-01-01."""
    return int(round(seconds * 4294967296.0)) & 0xFFFFFFFFFFFFFFFF


def ntp_to_seconds(timestamp: int) -> float:
    """Seconds since 1900-01-01 from a 64-bit NTP timestamp."""
    return timestamp / 4294967296.0


def ntp_middle32(timestamp: int) -> int:
    """The middle 32 bits of a 64-bit NTP timestamp: the LSR field and the unit of RTT arithmetic (§6.4.1)."""
    return (timestamp >> 16) & 0xFFFFFFFF


def ntp_offset(wall_time: float, monotonic_now: float) -> float:
    """What to add to a monotonic ``now`` to get NTP seconds: for the shells, which own the clocks
    (``ntp_offset(time.time(), loop.time())``)."""
    return wall_time + NTP_UNIX_EPOCH_OFFSET - monotonic_now


def round_trip_time(arrival_ntp: int, last_sr: int, delay_since_last_sr: int) -> float | None:
    """Round-trip time in seconds from a report block received at ``arrival_ntp`` (64-bit NTP time):
    ``A - LSR - DLSR`` in units of 1/65536 s, modulo 2^32 (RFC 3550 §6.4.1).

    ``None`` when LSR is 0 (the reporter has not received a sender report yet) or the result is negative
    (the report cannot be about an SR we sent: clock trouble or a forged block).
    """
    if last_sr == 0:
        return None
    units = (ntp_middle32(arrival_ntp) - last_sr - delay_since_last_sr) & 0xFFFFFFFF
    if units >= 0x80000000:
        return None
    return units / 65536.0


# -- packets -----------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ReportBlock:
    """One reception report (RFC 3550 §6.4.1) about source ``ssrc``.

    ``fraction_lost`` is 8-bit fixed point (lost/expected x 256) since the previous report;
    ``cumulative_lost`` is signed 24-bit (duplicates can make it negative); ``highest_sequence`` is the
    extended highest sequence number; ``jitter`` is in timestamp units; ``last_sr`` is the middle 32 bits of
    the last SR's NTP timestamp and ``delay_since_last_sr`` the delay since it, in 1/65536 s.
    """

    ssrc: int
    fraction_lost: int = 0
    cumulative_lost: int = 0
    highest_sequence: int = 0
    jitter: int = 0
    last_sr: int = 0
    delay_since_last_sr: int = 0

    def serialize(self) -> bytes:
        """The 24 octets of the block; raises :class:`RtcpError` when a field does not fit."""
        if not 0 <= self.fraction_lost <= 255:
            raise RtcpError(f"fraction lost {self.fraction_lost} out of range 0-255")
        if not -0x800000 <= self.cumulative_lost <= 0x7FFFFF:
            raise RtcpError(f"cumulative lost {self.cumulative_lost} does not fit 24 signed bits")
        try:
            return struct.pack("!IIIIII", self.ssrc,
                               (self.fraction_lost << 24) | (self.cumulative_lost & 0xFFFFFF),
                               self.highest_sequence, self.jitter, self.last_sr, self.delay_since_last_sr)
        except struct.error as exc:
            raise RtcpError(f"report block field out of range: {exc}") from None

    @classmethod
    def parse(cls, data: bytes, offset: int) -> ReportBlock:
        """The block at ``offset`` (24 octets must be there)."""
        ssrc, lost, highest, jitter, lsr, dlsr = struct.unpack_from("!IIIIII", data, offset)
        cumulative = lost & 0xFFFFFF
        if cumulative & 0x800000:
            cumulative -= 0x1000000
        return cls(ssrc, lost >> 24, cumulative, highest, jitter, lsr, dlsr)


@dataclass(frozen=True, slots=True)
class SenderReport:
    """SR (RFC 3550 §6.4.1): sender info plus reception reports.  ``ntp_timestamp`` is 64-bit NTP time,
    ``rtp_timestamp`` the same instant in the stream's RTP clock; ``octet_count`` counts payload octets."""

    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""

    def serialize(self) -> bytes:
        """The SR packet (header included)."""
        _check_report_count(self.reports)
        body = struct.pack("!IIIIII", self.ssrc, self.ntp_timestamp >> 32, self.ntp_timestamp & 0xFFFFFFFF,
                           self.rtp_timestamp, self.packet_count & 0xFFFFFFFF, self.octet_count & 0xFFFFFFFF)
        body += b"".join(block.serialize() for block in self.reports) + self.extension
        return _packet(RtcpPacketType.SR, len(self.reports), body)


@dataclass(frozen=True, slots=True)
class ReceiverReport:
    """RR (RFC 3550 §6.4.2): the reporter's SSRC and its reception reports (possibly none)."""

    ssrc: int
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""

    def serialize(self) -> bytes:
        """The RR packet (header included)."""
        _check_report_count(self.reports)
        body = struct.pack("!I", self.ssrc) + b"".join(block.serialize() for block in self.reports)
        return _packet(RtcpPacketType.RR, len(self.reports), body + self.extension)


@dataclass(frozen=True, slots=True)
class SdesChunk:
    """One SDES chunk (RFC 3550 §6.5): a source and its items as ``(type, value)`` pairs."""

    ssrc: int
    items: tuple[tuple[int, bytes], ...] = ()

    @property
    def cname(self) -> str | None:
        """The CNAME item (§6.5.1), decoded as UTF-8, or ``None``."""
        for item_type, value in self.items:
            if item_type == SdesItemType.CNAME:
                return value.decode("utf-8", "replace")
        return None

    def serialize(self) -> bytes:
        """The chunk, terminated by null octets up to the next 32-bit boundary."""
        out = bytearray(struct.pack("!I", self.ssrc))
        for item_type, value in self.items:
            if not 1 <= item_type <= 255:
                raise RtcpError(f"SDES item type {item_type} out of range 1-255")
            if len(value) > 255:
                raise RtcpError(f"SDES item of {len(value)} octets, at most 255")
            out += bytes((item_type, len(value))) + value
        out += bytes(4 - len(out) % 4)  # at least one null octet ends the list (§6.5)
        return bytes(out)


@dataclass(frozen=True, slots=True)
class SourceDescription:
    """SDES (RFC 3550 §6.5): up to 31 chunks."""

    chunks: tuple[SdesChunk, ...] = ()

    def serialize(self) -> bytes:
        """The SDES packet (header included)."""
        if len(self.chunks) > 31:
            raise RtcpError(f"{len(self.chunks)} SDES chunks, at most 31 fit the SC field")
        return _packet(RtcpPacketType.SDES, len(self.chunks), b"".join(c.serialize() for c in self.chunks))


@dataclass(frozen=True, slots=True)
class Goodbye:
    """BYE (RFC 3550 §6.6): the sources leaving and an optional reason."""

    ssrcs: tuple[int, ...] = ()
    reason: str = ""

    def serialize(self) -> bytes:
        """The BYE packet (header included)."""
        if len(self.ssrcs) > 31:
            raise RtcpError(f"{len(self.ssrcs)} sources in a BYE, at most 31 fit the SC field")
        body = struct.pack(f"!{len(self.ssrcs)}I", *self.ssrcs)
        if self.reason:
            text = self.reason.encode("utf-8")[:255]
            reason = bytes((len(text),)) + text
            body += reason + bytes(-len(reason) % 4)
        return _packet(RtcpPacketType.BYE, len(self.ssrcs), body)


RtcpPacket = Union[SenderReport, ReceiverReport, SourceDescription, Goodbye]


def _check_report_count(reports: tuple[ReportBlock, ...]) -> None:
    if len(reports) > 31:
        raise RtcpError(f"{len(reports)} report blocks, at most 31 fit the RC field")


def _packet(packet_type: int, count: int, body: bytes) -> bytes:
    if len(body) % 4:
        raise RtcpError(f"RTCP packet body of {len(body)} octets is not a whole number of 32-bit words")
    return struct.pack("!BBH", 0x80 | count, packet_type, len(body) // 4) + body


def build_rtcp(packets: Sequence[RtcpPacket]) -> bytes:
    """A compound RTCP packet: the packets in order (§6.1: start with SR or RR and carry an SDES CNAME)."""
    return b"".join(packet.serialize() for packet in packets)


def is_rtcp(data: bytes) -> bool:
    """Whether a datagram on a multiplexed RTP/RTCP port is RTCP (RFC 5761 §4: second octet 192-223)."""
    return len(data) >= 2 and 192 <= data[1] <= 223


def parse_rtcp(data: bytes) -> list[RtcpPacket]:
    """Parse a compound RTCP datagram into SR, RR, SDES and BYE packets, in order.

    APP (§6.7) and packet types this module does not know are skipped by their length.  Raises
    :class:`RtcpError` when the datagram is empty, a packet is not version 2, its length runs past the end
    of the datagram, its padding is invalid or not on the last packet, or its counted items do not fit
    (RFC 3550 Appendix A.2).
    """
    data = bytes(data)
    n = len(data)
    if n < 4:
        raise RtcpError(f"RTCP datagram of {n} bytes is shorter than one packet header", 0)
    packets: list[RtcpPacket] = []
    offset = 0
    while offset < n:
        if n - offset < 4:
            raise RtcpError("trailing bytes after the last RTCP packet", offset)
        first, packet_type, words = struct.unpack_from("!BBH", data, offset)
        if first >> 6 != 2:
            raise RtcpError(f"RTCP version {first >> 6}, expected 2", offset)
        end = offset + 4 + 4 * words
        if end > n:
            raise RtcpError(f"RTCP packet length ({words} words) runs past the end of the datagram", offset)
        body_end = end
        if first & 0x20:
            if end != n:
                raise RtcpError("padding on an RTCP packet that is not the last of the compound", offset)
            padding = data[end - 1]
            if padding == 0 or padding > 4 * words:
                raise RtcpError(f"RTCP padding count {padding} is invalid", end - 1)
            body_end = end - padding
        count = first & 0x1F
        packet = _parse_one(data, offset, packet_type, count, offset + 4, body_end)
        if packet is not None:
            packets.append(packet)
        offset = end
    return packets


def _parse_one(data: bytes, offset: int, packet_type: int, count: int, start: int, end: int) -> RtcpPacket | None:
    if packet_type == RtcpPacketType.SR:
        if start + 24 + 24 * count > end:
            raise RtcpError(f"SR with {count} report blocks does not fit its length", offset)
        ssrc, ntp_high, ntp_low, rtp_ts, packets, octets = struct.unpack_from("!IIIIII", data, start)
        blocks = tuple(ReportBlock.parse(data, start + 24 + 24 * i) for i in range(count))
        return SenderReport(ssrc, (ntp_high << 32) | ntp_low, rtp_ts, packets, octets, blocks,
                            data[start + 24 + 24 * count:end])
    if packet_type == RtcpPacketType.RR:
        if start + 4 + 24 * count > end:
            raise RtcpError(f"RR with {count} report blocks does not fit its length", offset)
        (ssrc,) = struct.unpack_from("!I", data, start)
        blocks = tuple(ReportBlock.parse(data, start + 4 + 24 * i) for i in range(count))
        return ReceiverReport(ssrc, blocks, data[start + 4 + 24 * count:end])
    if packet_type == RtcpPacketType.SDES:
        return SourceDescription(_parse_sdes(data, offset, count, start, end))
    if packet_type == RtcpPacketType.BYE:
        if start + 4 * count > end:
            raise RtcpError(f"BYE with {count} sources does not fit its length", offset)
        ssrcs = struct.unpack_from(f"!{count}I", data, start)
        reason = ""
        at = start + 4 * count
        if at < end:
            length = data[at]
            if at + 1 + length > end:
                raise RtcpError("BYE reason runs past the end of the packet", at)
            reason = data[at + 1:at + 1 + length].decode("utf-8", "replace")
        return Goodbye(tuple(ssrcs), reason)
    return None  # APP (§6.7) and types defined elsewhere: skipped by length


def _parse_sdes(data: bytes, offset: int, count: int, start: int, end: int) -> tuple[SdesChunk, ...]:
    chunks: list[SdesChunk] = []
    at = start
    for _ in range(count):
        if at + 4 > end:
            raise RtcpError(f"SDES with {count} chunks does not fit its length", offset)
        (ssrc,) = struct.unpack_from("!I", data, at)
        at += 4
        items: list[tuple[int, bytes]] = []
        while True:
            if at >= end:
                raise RtcpError("SDES chunk without its terminating null octet", at)
            item_type = data[at]
            if item_type == SdesItemType.END:
                at += 4 - (at - start) % 4  # skip the null octets to the next 32-bit boundary
                break
            if at + 2 > end or at + 2 + data[at + 1] > end:
                raise RtcpError("SDES item runs past the end of the packet", at)
            length = data[at + 1]
            items.append((item_type, data[at + 2:at + 2 + length]))
            at += 2 + length
        chunks.append(SdesChunk(ssrc, tuple(items)))
    return tuple(chunks)


# -- report interval (RFC 3550 §6.2, §6.3.1, Appendix A.7) -------------------------------------------------

def rtcp_interval(*, members: int, senders: int, rtcp_bandwidth: float, we_sent: bool, avg_rtcp_size: float,
                  initial: bool, min_time: float = RTCP_MIN_TIME, rng: random.Random | None = None) -> float:
    """The randomised interval until the next RTCP packet, in seconds (Appendix A.7 ``rtcp_interval``).

    ``rtcp_bandwidth`` is the RTCP share of the session bandwidth in octets per second (5 % by default,
    §6.2); ``avg_rtcp_size`` includes UDP/IP headers.  When senders are at most a quarter of the members,
    senders share 25 % of the RTCP bandwidth and receivers 75 %.  The deterministic interval is at least
    ``min_time`` (5 s, halved for the first report; §6.2 allows a reduced minimum of 360 / session
    kbit/s), then multiplied by a random factor in [0.5, 1.5) and divided by e - 3/2.
    """
    if initial:
        min_time /= 2
    n = members
    if senders <= members * RTCP_SENDER_BW_FRACTION:
        if we_sent:
            rtcp_bandwidth *= RTCP_SENDER_BW_FRACTION
            n = senders
        else:
            rtcp_bandwidth *= RTCP_RCVR_BW_FRACTION
            n -= senders
    interval = avg_rtcp_size * n / rtcp_bandwidth if rtcp_bandwidth > 0 else min_time
    interval = max(interval, min_time)
    uniform = (rng or random).random()
    return interval * (uniform + 0.5) / COMPENSATION


@dataclass
class RtcpScheduler:
    """When to send the next compound RTCP packet: a sans-IO timer over :func:`rtcp_interval`.

    ``session_bandwidth`` is in bits per second (the SDP ``b=AS`` or the codec's rate with headers);
    RTCP gets 5 % of it (§6.2).  ``reduced_minimum`` replaces the 5 s minimum by 360 / (session
    bandwidth in kbit/s) seconds (§6.2).  For a unicast call the members are the two ends; no timer
    reconsideration is needed beyond recomputing the interval at each report (§6.3.6 applies to groups).
    """

    now: float
    session_bandwidth: float = 64_000 + 50 * 40 * 8  # G.711 at 20 ms: 64 kbit/s + RTP/UDP/IPv4 headers
    reduced_minimum: bool = False
    min_interval: float | None = None
    rng: random.Random = field(default_factory=random.Random)
    avg_rtcp_size: float = 100.0  # a typical first compound (RR/SR + SDES CNAME) with headers
    initial: bool = True
    members: int = 2
    next_time: float = 0.0
    last_sent: float | None = None

    def __post_init__(self) -> None:
        self.next_time = self.now + self.interval(we_sent=False, senders=0)

    @property
    def minimum(self) -> float:
        """The minimum interval in force (before the initial halving and randomisation)."""
        if self.min_interval is not None:
            return self.min_interval
        if self.reduced_minimum and self.session_bandwidth > 0:
            return 360.0 / (self.session_bandwidth / 1000.0)
        return RTCP_MIN_TIME

    def interval(self, *, we_sent: bool, senders: int) -> float:
        """A fresh randomised interval for the current state."""
        return rtcp_interval(members=self.members, senders=senders, rtcp_bandwidth=self.session_bandwidth * 0.05 / 8,
                             we_sent=we_sent, avg_rtcp_size=self.avg_rtcp_size, initial=self.initial,
                             min_time=self.minimum, rng=self.rng)

    def due(self, now: float) -> bool:
        """Whether a report is due at ``now``."""
        return now >= self.next_time

    def sent(self, size: int, now: float, *, we_sent: bool, senders: int) -> None:
        """Record a compound packet of ``size`` octets (UDP payload) sent at ``now``; schedule the next."""
        self.avg_rtcp_size += (size + IPV4_UDP_OVERHEAD - self.avg_rtcp_size) / 16
        self.initial = False
        self.last_sent = now
        self.next_time = now + self.interval(we_sent=we_sent, senders=senders)

    def received(self, size: int) -> None:
        """Fold a received compound packet of ``size`` octets into the average size (A.7 OnReceive)."""
        self.avg_rtcp_size += (size + IPV4_UDP_OVERHEAD - self.avg_rtcp_size) / 16
