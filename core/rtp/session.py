"""RTP sessions (RFC 3550), sans-IO: the sending side, the receiving side with its statistics, and the
:class:`RtpSession` of one media stream that ties them to RTCP.

* :class:`RtpSender`: random initial SSRC, sequence number and timestamp (§5.1), timestamps that advance
  by the samples of each frame at the payload's clock rate, the marker bit on the first packet of a
  talkspurt (RFC 3551 §4.1), a new SSRC on request (§8.2), sender counts for SR.
* :class:`~core.rtp.quality.SourceStatistics` (in ``quality.py``): one remote source per Appendix A.1,
  A.3 and A.8 — the receiver below feeds it.
* :class:`RtpReceiver`: probation of new sources (MIN_SEQUENTIAL packets in sequence, held and then
  delivered rather than dropped), a change of SSRC mid-call as a re-sync, duplicates dropped and counted,
  and symmetric RTP / latching (:class:`LatchMode`) so that a phone behind NAT is reached where its
  packets come from, while a single hostile packet cannot take the stream over.
* :class:`RtpSession`: the above plus RTCP reports, RTT and the quality summary for one call leg.

Every input carries ``now`` (monotonic seconds); nothing here reads a clock or touches a socket.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import Union

from core.rtp.packet import RtpError, RtpPacket, build_rtp, parse_rtp
from core.rtp.quality import (
    ACCEPTED,
    DUPLICATE,
    HELD,
    MAX_DROPOUT,
    MAX_MISORDER,
    MIN_SEQUENTIAL,
    CallQuality,
    SourceStatistics,
    StreamQuality,
    stream_quality,
)
from core.rtp.rtcp import (
    Goodbye,
    ReceiverReport,
    ReportBlock,
    RtcpError,
    RtcpPacket,
    RtcpScheduler,
    SdesChunk,
    SdesItemType,
    SenderReport,
    SourceDescription,
    build_rtcp,
    is_rtcp,
    ntp_middle32,
    ntp_timestamp,
    parse_rtcp,
    round_trip_time,
)

__all__ = [
    "MAX_DROPOUT",
    "MAX_MISORDER",
    "MIN_SEQUENTIAL",
    "Address",
    "ByeReceived",
    "LatchMode",
    "RelayedStretch",
    "RemoteLatched",
    "RoundTripTimeMeasured",
    "RtpReceiver",
    "RtpSender",
    "RtpSession",
    "SessionEvent",
    "SourceChanged",
    "SourceStatistics",
]

Address = tuple[str, int]


# -- events ------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RemoteLatched:
    """Media is now sent to ``address``: learned from the remote's packets (symmetric RTP).
    ``relatched`` is true when it replaced an address learned earlier."""

    address: Address
    relatched: bool = False


@dataclass(frozen=True, slots=True)
class SourceChanged:
    """The remote's SSRC changed mid-call (e.g. a re-INVITE to another device); statistics restarted."""

    old_ssrc: int
    new_ssrc: int


@dataclass(frozen=True, slots=True)
class ByeReceived:
    """The remote source sent an RTCP BYE (RFC 3550 §6.6)."""

    ssrc: int
    reason: str


@dataclass(frozen=True, slots=True)
class RoundTripTimeMeasured:
    """A round-trip time from an RTCP report block about our stream (§6.4.1), in seconds."""

    rtt: float


SessionEvent = Union[RemoteLatched, SourceChanged, ByeReceived, RoundTripTimeMeasured]


@dataclass(frozen=True, slots=True)
class RelayedStretch:
    """A stretch of the call whose packets a relay forwarded without this session seeing them (the native
    relay of a same-codec bridge), with the figures the relay kept (RFC 3550 A.1/A.3/A.8): ``received``
    distinct packets from the remote, ``lost`` of them, the interarrival jitter's mean and maximum in
    timestamp units; ``sent`` packets and ``sent_octets`` payload octets the relay sent to the remote in our
    stream (our SSRC and numbering); ``report`` the latest RTCP report block the remote sent about our stream
    meanwhile (the relay forwards RTCP end to end and keeps a copy)."""

    received: int
    lost: int
    mean_jitter: float
    max_jitter: float
    sent: int = 0
    sent_octets: int = 0
    report: ReportBlock | None = None


# -- sending -----------------------------------------------------------------------------------------------

class RtpSender:
    """The sending side of one RTP stream (RFC 3550 §5.1, RFC 3551 §4.1).

    ``rng`` supplies the random SSRC, initial sequence number and timestamp (an unpredictable
    ``random.SystemRandom`` by default; tests pass a seeded one).  ``samples_per_frame`` is the timestamp
    increment of a frame in the RTP clock (160 for 20 ms of G.711, also for G.722 whose RTP clock is 8 kHz).
    """

    def __init__(self, payload_type: int, *, clock_rate: int = 8000, samples_per_frame: int = 160,
                 rng: random.Random | None = None, ssrc: int | None = None) -> None:
        self.payload_type = payload_type
        self.clock_rate = clock_rate
        self.samples_per_frame = samples_per_frame
        self._rng = rng or random.SystemRandom()
        self.ssrc = self._rng.getrandbits(32) if ssrc is None else ssrc
        self.sequence = self._rng.getrandbits(16)
        """Sequence number of the next packet."""
        self.timestamp = self._rng.getrandbits(32)
        """RTP timestamp of the next frame."""
        self.first_sequence = self.sequence
        self.packet_count = 0
        self.octet_count = 0
        self._talkspurt = True
        self._last_time: float | None = None
        self._last_timestamp = self.timestamp

    def send(self, payload: bytes, now: float, *, samples: int | None = None, marker: bool | None = None,
             payload_type: int | None = None) -> bytes:
        """The packet carrying the next frame; the timestamp then advances by ``samples`` (default
        ``samples_per_frame``).  The marker is set on the first packet after :meth:`skip` or of the stream
        (start of a talkspurt) unless ``marker`` says otherwise."""
        if marker is None:
            marker = self._talkspurt
        packet = build_rtp(self.payload_type if payload_type is None else payload_type, self.sequence,
                           self.timestamp, self.ssrc, payload, marker=marker)
        self._count(len(payload), now, self.timestamp)
        self.timestamp = (self.timestamp + (self.samples_per_frame if samples is None else samples)) & 0xFFFFFFFF
        self._talkspurt = False
        return packet

    def send_at(self, payload: bytes, timestamp: int, now: float, *, payload_type: int,
                marker: bool = False) -> bytes:
        """A packet with an explicit timestamp that does not move the media clock (RFC 4733 events, whose
        timestamp is the start of the event, §2.3.1).  It takes the next sequence number."""
        packet = build_rtp(payload_type, self.sequence, timestamp, self.ssrc, payload, marker=marker)
        self._count(len(payload), now, None)
        return packet

    def skip(self, samples: int) -> None:
        """Advance the media clock over ``samples`` not sent (silence suppression, DTX); the next packet
        starts a talkspurt and carries the marker bit (RFC 3551 §4.1)."""
        self.timestamp = (self.timestamp + samples) & 0xFFFFFFFF
        self._talkspurt = True

    def timestamp_at(self, now: float) -> int:
        """The RTP timestamp that corresponds to ``now`` (for SR, §6.4.1, and for event start times),
        extrapolated from the last packet sent at the clock rate."""
        if self._last_time is None:
            return self.timestamp
        return (self._last_timestamp + round((now - self._last_time) * self.clock_rate)) & 0xFFFFFFFF

    def change_ssrc(self, ssrc: int | None = None) -> int:
        """Switch to a new SSRC (a collision or a new source, §8.2): random unless given, different from
        the old one; the sequence number and timestamp restart at random values and counts at zero."""
        old = self.ssrc
        while ssrc is None or ssrc == old:
            ssrc = self._rng.getrandbits(32)
        self.ssrc = ssrc
        self.sequence = self._rng.getrandbits(16)
        self.timestamp = self._rng.getrandbits(32)
        self.first_sequence = self.sequence
        self.packet_count = 0
        self.octet_count = 0
        self._talkspurt = True
        self._last_time = None
        self._last_timestamp = self.timestamp
        return old

    def _count(self, payload_octets: int, now: float, media_timestamp: int | None) -> None:
        self.sequence = (self.sequence + 1) & 0xFFFF
        self.packet_count += 1
        self.octet_count += payload_octets
        if media_timestamp is not None:
            self._last_time = now
            self._last_timestamp = media_timestamp


# -- receiving: probation, source changes, latching ---------------------------------------------------------

class LatchMode(Enum):
    """Where media is sent and which source addresses are accepted (symmetric RTP, RFC 4961 in spirit,
    Asterisk's ``nat=comedia`` / strict RTP in practice)."""

    OFF = "off"
    """Accept packets from any address; send to the signalled (SDP) address."""
    ONCE = "once"
    """Learn the remote address from the first valid source, then accept only that address."""
    RELATCH = "relatch"
    """As ONCE, but move to a new address after ``relatch_after`` consecutive in-sequence packets from
    it that carry the current source's SSRC (a NAT rebinding)."""


class _Candidate:
    __slots__ = ("held", "arrivals", "next_sequence", "last_seen")

    def __init__(self, packet: RtpPacket, now: float) -> None:
        self.held = [packet]
        self.arrivals = [now]  # each held packet's own arrival time, for the jitter estimate
        self.next_sequence = (packet.sequence + 1) & 0xFFFF
        self.last_seen = now


class RtpReceiver:
    """The receiving side of one RTP stream: probation, SSRC changes, duplicates, latching (RFC 3550 A.1).

    :meth:`receive` returns the packets to hand on, in order: usually the packet itself; nothing for a
    duplicate, a packet from a rejected address or a source still on probation; the held packets plus the
    current one when a source passes probation or restarts.  ``remote_address`` is where to send.
    ``no_jitter_payload_types`` are left out of the jitter estimate (RFC 4733 events repeat their
    timestamp for the whole event, which A.8 would read as transit variation).
    """

    def __init__(self, *, clock_rate: int = 8000, latch: LatchMode = LatchMode.ONCE, relatch_after: int = 5,
                 min_sequential: int = MIN_SEQUENTIAL, signalled_address: Address | None = None,
                 no_jitter_payload_types: frozenset[int] = frozenset(), max_candidates: int = 8) -> None:
        self.clock_rate = clock_rate
        self.latch = latch
        self.relatch_after = max(1, relatch_after)
        self.min_sequential = max(1, min_sequential)
        self.signalled_address = signalled_address
        self.latched_address: Address | None = None
        self.no_jitter_payload_types = no_jitter_payload_types
        self.max_candidates = max_candidates
        self.source: SourceStatistics | None = None
        self.events: deque[SessionEvent] = deque()
        self.foreign_packets = 0
        """Packets dropped because they came from another address than the latched one."""
        self.probation_dropped = 0
        """Packets of would-be sources that never passed probation."""
        self.stale_packets = 0
        """Late packets of a source that was replaced."""
        self.invalid_packets = 0
        self._candidates: dict[tuple[Address | None, int], _Candidate] = {}
        self._held_jump: RtpPacket | None = None
        self._retired: list[SourceStatistics] = []
        self._relatch_address: Address | None = None
        self._relatch_count = 0
        self._relatch_next = 0

    @property
    def remote_address(self) -> Address | None:
        """Where to send media: the latched address, else the signalled one."""
        return self.latched_address or self.signalled_address

    def reset_latch(self, signalled_address: Address | None) -> None:
        """A new remote (re-INVITE): forget the latched address and learn again."""
        self.signalled_address = signalled_address
        self.latched_address = None
        self._candidates.clear()
        self._relatch_address = None

    def retired_sources(self) -> list[SourceStatistics]:
        """Statistics of the sources this stream had before the current one."""
        return list(self._retired)

    def receive(self, packet: RtpPacket, address: Address, now: float) -> tuple[RtpPacket, ...]:
        """Take one parsed packet from ``address``; return the packets that are now valid, in order."""
        if 72 <= packet.payload_type <= 76:
            # A.1: a payload type that collides with RTCP SR/RR is an invalid (misdirected) packet.
            self.invalid_packets += 1
            return ()
        if self.latch is not LatchMode.OFF and self.latched_address is not None \
                and address != self.latched_address:
            if not self._relatch(packet, address):
                self.foreign_packets += 1
                return ()
        source = self.source
        if source is not None and packet.ssrc == source.ssrc \
                and (self.latched_address is not None or self.latch is LatchMode.OFF):
            if self._relatch_address is not None and address == self.latched_address:
                self._relatch_address = None  # "consecutive" packets from the new address were interrupted
            return self._from_source(source, packet, now)
        return self._on_probation(packet, address, now)

    def _from_source(self, source: SourceStatistics, packet: RtpPacket, now: float) -> tuple[RtpPacket, ...]:
        result = source.update(packet.sequence, packet.timestamp, now,
                               measure_jitter=packet.payload_type not in self.no_jitter_payload_types)
        if result == ACCEPTED:
            return (packet,)
        if result == DUPLICATE:
            return ()
        if result == HELD:
            self._held_jump = packet
            return ()
        held, self._held_jump = self._held_jump, None
        return (held, packet) if held is not None else (packet,)

    def _on_probation(self, packet: RtpPacket, address: Address, now: float) -> tuple[RtpPacket, ...]:
        for retired in self._retired[-2:]:
            if packet.ssrc == retired.ssrc and (retired.max_seq - packet.sequence) & 0xFFFF <= MAX_MISORDER:
                self.stale_packets += 1  # reordered across the source change: not a new source
                return ()
        key = (address if self.latch is not LatchMode.OFF else None, packet.ssrc)
        candidate = self._candidates.get(key)
        if candidate is not None and packet.sequence == candidate.next_sequence:
            candidate.held.append(packet)
            candidate.arrivals.append(now)
            candidate.next_sequence = (packet.sequence + 1) & 0xFFFF
            candidate.last_seen = now
        else:
            if candidate is not None:
                self.probation_dropped += len(candidate.held)
            if candidate is None and len(self._candidates) >= self.max_candidates:
                oldest = min(self._candidates, key=lambda k: self._candidates[k].last_seen)
                self.probation_dropped += len(self._candidates.pop(oldest).held)
            candidate = self._candidates[key] = _Candidate(packet, now)
        if len(candidate.held) < self.min_sequential:
            return ()
        del self._candidates[key]
        return self._adopt(candidate.held, candidate.arrivals, address)

    def _adopt(self, held: list[RtpPacket], arrivals: list[float], address: Address) -> tuple[RtpPacket, ...]:
        if self.latch is not LatchMode.OFF and self.latched_address is None:
            self.latched_address = address
            self.events.append(RemoteLatched(address))
        # Candidates from other addresses lose once an address is latched.
        if self.latch is not LatchMode.OFF:
            for key in [k for k in self._candidates if k[0] != self.latched_address]:
                self.probation_dropped += len(self._candidates.pop(key).held)
        old = self.source
        if old is not None:
            self._retired.append(old)
            if old.ssrc != held[0].ssrc:  # same SSRC: re-learned after reset_latch(), statistics restart
                self.events.append(SourceChanged(old.ssrc, held[0].ssrc))
        source = SourceStatistics(held[0].ssrc, self.clock_rate, held[0].sequence)
        self.source = source
        self._held_jump = None
        self._relatch_address = None
        first = held[0]
        source.start(first.timestamp, arrivals[0],
                     measure_jitter=first.payload_type not in self.no_jitter_payload_types)
        for packet, arrival in zip(held[1:], arrivals[1:], strict=True):
            source.update(packet.sequence, packet.timestamp, arrival,
                          measure_jitter=packet.payload_type not in self.no_jitter_payload_types)
        return tuple(held)

    def _relatch(self, packet: RtpPacket, address: Address) -> bool:
        # Only a NAT rebinding of the current source moves the latch, and only after relatch_after
        # consecutive in-sequence packets from the new address.
        source = self.source
        if self.latch is not LatchMode.RELATCH or source is None or packet.ssrc != source.ssrc:
            return False
        if address != self._relatch_address or packet.sequence != self._relatch_next:
            self._relatch_address = address
            self._relatch_count = 0
        self._relatch_count += 1
        self._relatch_next = (packet.sequence + 1) & 0xFFFF
        if self._relatch_count < self.relatch_after:
            return False
        self.latched_address = address
        self._relatch_address = None
        self.events.append(RemoteLatched(address, relatched=True))
        return True


# -- the session of one stream ------------------------------------------------------------------------------

class RtpSession:
    """One RTP media stream of a call leg with its RTCP (RFC 3550), sans-IO.

    The shell sends what :meth:`send` returns to :attr:`remote_address`, feeds datagrams from the RTP
    port to :meth:`receive_datagram` (RTCP too when ``rtcp_mux``, RFC 5761) and from the RTCP port to
    :meth:`receive_rtcp`, calls :meth:`handle_timer` at :meth:`next_timer` and sends the RTCP datagrams it
    returns to :attr:`remote_rtcp_address`.  Events (:data:`SessionEvent`) come from :meth:`next_event`.
    ``ntp_offset`` maps ``now`` to NTP seconds (see :func:`core.rtp.rtcp.ntp_offset`).
    """

    def __init__(self, *, payload_type: int, now: float, clock_rate: int = 8000, samples_per_frame: int = 160,
                 remote_address: Address | None = None, remote_rtcp_address: Address | None = None,
                 rtcp_mux: bool = False, latch: LatchMode = LatchMode.ONCE, relatch_after: int = 5,
                 telephone_event_payload_type: int | None = None, cname: str | None = None,
                 session_bandwidth: float = 80_000.0, reduced_minimum: bool = False,
                 rtcp_min_interval: float | None = None, ntp_offset: float = 0.0,
                 rng: random.Random | None = None) -> None:
        self._rng = rng or random.SystemRandom()
        self.sender = RtpSender(payload_type, clock_rate=clock_rate, samples_per_frame=samples_per_frame,
                                rng=self._rng)
        no_jitter = frozenset() if telephone_event_payload_type is None else frozenset({telephone_event_payload_type})
        self.receiver = RtpReceiver(clock_rate=clock_rate, latch=latch, relatch_after=relatch_after,
                                    signalled_address=remote_address, no_jitter_payload_types=no_jitter)
        self.rtcp_mux = rtcp_mux
        self._signalled_rtcp = remote_rtcp_address
        self._latched_rtcp: Address | None = None
        self.cname = cname or "".join(self._rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(16))
        self.ntp_offset = ntp_offset
        self.scheduler = RtcpScheduler(now, session_bandwidth=session_bandwidth, reduced_minimum=reduced_minimum,
                                       min_interval=rtcp_min_interval, rng=random.Random(self._rng.getrandbits(64)))
        self.rtt: float | None = None
        self.max_rtt: float | None = None
        self.remote_cname: str | None = None
        self.outbound_report: ReportBlock | None = None
        """The latest report block the remote sent about our stream."""
        self.rtcp_errors = 0
        self.rtp_errors = 0
        self.relayed: list[RelayedStretch] = []
        """Stretches of the call a relay forwarded for this session (see :meth:`add_relayed`)."""
        self.closed = False
        self._events: deque[SessionEvent] = self.receiver.events
        self._remote_sent_since_report = False
        self._we_sent_since_report = False
        self._we_sent_previous = False

    # -- addresses --

    @property
    def remote_address(self) -> Address | None:
        """Where RTP goes: the latched address (symmetric RTP), else the signalled one."""
        return self.receiver.remote_address

    @property
    def remote_rtcp_address(self) -> Address | None:
        """Where RTCP goes: the RTP address when multiplexed; else the address RTCP came from, the
        signalled one (SDP ``a=rtcp``), or RTP port + 1 (RFC 3550 §11)."""
        rtp = self.remote_address
        if self.rtcp_mux:
            return rtp
        if self._latched_rtcp is not None:
            return self._latched_rtcp
        if self._signalled_rtcp is not None:
            return self._signalled_rtcp
        return None if rtp is None else (rtp[0], rtp[1] + 1)

    # -- media --

    def send(self, payload: bytes, now: float, *, samples: int | None = None, marker: bool | None = None) -> bytes:
        """The next media packet (see :meth:`RtpSender.send`)."""
        self._we_sent_since_report = True
        return self.sender.send(payload, now, samples=samples, marker=marker)

    def send_event(self, payload: bytes, timestamp: int, marker: bool, now: float, payload_type: int) -> bytes:
        """An RFC 4733 event packet in this stream (same SSRC and sequence space, the event's timestamp)."""
        self._we_sent_since_report = True
        return self.sender.send_at(payload, timestamp, now, payload_type=payload_type, marker=marker)

    def receive_datagram(self, data: bytes, address: Address, now: float) -> tuple[RtpPacket, ...]:
        """A datagram from the RTP port: the media packets that are now valid, in order (RTCP, when
        multiplexed, is consumed here and yields nothing)."""
        if self.rtcp_mux and is_rtcp(data):
            self.receive_rtcp(data, address, now)
            return ()
        try:
            packet = parse_rtp(data)
        except RtpError:
            self.rtp_errors += 1
            return ()
        packets = self.receiver.receive(packet, address, now)
        if packets:
            self._remote_sent_since_report = True
        return packets

    # -- RTCP --

    def receive_rtcp(self, data: bytes, address: Address, now: float) -> None:
        """A compound RTCP datagram: SR/RR for loss, jitter and RTT of our stream; BYE; CNAME."""
        try:
            packets = parse_rtcp(data)
        except RtcpError:
            self.rtcp_errors += 1
            return
        source = self.receiver.source
        reporter = _reporter(packets[0]) if packets else None
        if source is not None:
            trusted = reporter == source.ssrc
        else:
            # No media from the remote yet (it may only receive, e.g. on hold): trust its host only.
            remote = self.remote_address
            trusted = reporter is not None and (remote is None or remote[0] == address[0])
        if not trusted:
            self.rtcp_errors += 1  # not from the source we receive: ignore rather than trust
            return
        self.scheduler.received(len(data))
        if not self.rtcp_mux and self._latched_rtcp is None and self.receiver.latch is not LatchMode.OFF:
            self._latched_rtcp = address
        arrival = ntp_timestamp(now + self.ntp_offset)
        for packet in packets:
            if isinstance(packet, SenderReport) and source is not None:
                source.last_sr = ntp_middle32(packet.ntp_timestamp)
                source.last_sr_time = now
            if isinstance(packet, (SenderReport, ReceiverReport)):
                for block in packet.reports:
                    if block.ssrc == self.sender.ssrc:
                        self._outbound(block, arrival)
            elif isinstance(packet, SourceDescription):
                for chunk in packet.chunks:
                    if chunk.ssrc == reporter and chunk.cname is not None:
                        self.remote_cname = chunk.cname
            elif isinstance(packet, Goodbye) and reporter in packet.ssrcs and reporter is not None:
                self._events.append(ByeReceived(reporter, packet.reason))

    def _outbound(self, block: ReportBlock, arrival: int) -> None:
        self.outbound_report = block
        rtt = round_trip_time(arrival, block.last_sr, block.delay_since_last_sr)
        if rtt is not None:
            self.rtt = rtt
            self.max_rtt = rtt if self.max_rtt is None else max(self.max_rtt, rtt)
            self._events.append(RoundTripTimeMeasured(rtt))

    def next_timer(self) -> float | None:
        """When :meth:`handle_timer` wants to run next."""
        return None if self.closed else self.scheduler.next_time

    def handle_timer(self, now: float) -> list[bytes]:
        """RTCP compound datagrams due at ``now`` (to send to :attr:`remote_rtcp_address`)."""
        if self.closed or not self.scheduler.due(now):
            return []
        report = self.build_report(now)
        senders = int(self._we_sent_since_report) + int(self._remote_sent_since_report)
        self.scheduler.sent(len(report), now, we_sent=self._we_sent_since_report, senders=senders)
        self._we_sent_previous = self._we_sent_since_report
        self._we_sent_since_report = self._remote_sent_since_report = False
        return [report]

    def build_report(self, now: float, *, bye_reason: str | None = None) -> bytes:
        """A compound RTCP packet at ``now``: SR when we sent media since the last report or the one before
        (§6.4), else RR; the report block about the remote source; SDES CNAME; BYE when ``bye_reason`` is
        given (§6.1)."""
        blocks: tuple[ReportBlock, ...] = ()
        if self.receiver.source is not None:
            blocks = (self.receiver.source.report_block(now),)
        sender = self.sender
        first: RtcpPacket
        if self._we_sent_since_report or self._we_sent_previous:
            first = SenderReport(sender.ssrc, ntp_timestamp(now + self.ntp_offset), sender.timestamp_at(now),
                                 sender.packet_count, sender.octet_count, blocks)
        else:
            first = ReceiverReport(sender.ssrc, blocks)
        packets: list[RtcpPacket] = [
            first,
            SourceDescription((SdesChunk(sender.ssrc, ((SdesItemType.CNAME, self.cname.encode()),)),)),
        ]
        if bye_reason is not None:
            packets.append(Goodbye((sender.ssrc,), bye_reason))
        return build_rtcp(packets)

    def close(self, now: float, reason: str = "") -> bytes:
        """End the stream: the final compound RTCP packet with BYE (§6.3.7); no more timers."""
        self.closed = True
        return self.build_report(now, bye_reason=reason)

    def next_event(self) -> SessionEvent | None:
        """The next event, or ``None``."""
        return self._events.popleft() if self._events else None

    # -- quality --

    def add_relayed(self, stretch: RelayedStretch) -> None:
        """Fold in a stretch a relay forwarded: its reception figures count in :meth:`quality`, and the
        packets it sent in our stream count in our SR's packet and octet counts (RFC 3550 §6.4.1: since the
        start of transmission)."""
        self.relayed.append(stretch)
        self.sender.packet_count += stretch.sent
        self.sender.octet_count += stretch.sent_octets
        if stretch.report is not None:
            self.outbound_report = stretch.report

    def quality(self, *, plc: bool = True, extra_delay_ms: float = 0.0,
                relaying: RelayedStretch | None = None) -> CallQuality:
        """Quality of both directions for the CDR/console: inbound from what we received (all sources of
        the call, and the stretches a relay forwarded), outbound from the remote's latest report about our
        stream.  ``relaying`` is a stretch a relay is forwarding now (counted here, not kept)."""
        receiver = self.receiver
        sources = receiver.retired_sources() + ([receiver.source] if receiver.source is not None else [])
        relayed = self.relayed + ([relaying] if relaying is not None else [])
        inbound = _inbound_quality(sources, relayed, self.sender.clock_rate, self.rtt, plc=plc,
                                   extra_delay_ms=extra_delay_ms)
        outbound: StreamQuality | None = None
        block = relaying.report if relaying is not None and relaying.report is not None else self.outbound_report
        if block is not None:
            expected = (block.highest_sequence - self.sender.first_sequence) % (1 << 32) + 1
            lost = max(0, block.cumulative_lost)
            jitter_ms = block.jitter * 1000.0 / self.sender.clock_rate
            outbound = stream_quality(packets=max(0, expected - lost), lost=lost, mean_jitter_ms=jitter_ms,
                                      max_jitter_ms=jitter_ms, rtt_ms=None if self.rtt is None else self.rtt * 1000.0,
                                      plc=plc, extra_delay_ms=extra_delay_ms)
        sent = self.sender.packet_count + (relaying.sent if relaying is not None else 0)
        return CallQuality(inbound, outbound, sent)


def _reporter(packet: RtcpPacket) -> int | None:
    if isinstance(packet, (SenderReport, ReceiverReport)):
        return packet.ssrc
    if isinstance(packet, SourceDescription) and packet.chunks:
        return packet.chunks[0].ssrc
    if isinstance(packet, Goodbye) and packet.ssrcs:
        return packet.ssrcs[0]
    return None


def _inbound_quality(sources: list[SourceStatistics], relayed: list[RelayedStretch], clock_rate: int,
                     rtt: float | None, *, plc: bool, extra_delay_ms: float) -> StreamQuality | None:
    stretches = [r for r in relayed if r.received or r.lost]
    if not sources and not stretches:
        return None
    received = sum(s.total_received for s in sources) + sum(r.received for r in stretches)
    lost = sum(s.total_lost for s in sources) + sum(r.lost for r in stretches)
    samples = [(s.mean_jitter * 1000.0 / s.clock_rate, s.total_received) for s in sources]
    samples += [(r.mean_jitter * 1000.0 / clock_rate, r.received) for r in stretches]
    weight = sum(w for _, w in samples)
    mean_jitter = sum(j * w for j, w in samples) / weight if weight else 0.0
    max_jitter = max([s.max_jitter * 1000.0 / s.clock_rate for s in sources]
                     + [r.max_jitter * 1000.0 / clock_rate for r in stretches])
    return stream_quality(packets=received, lost=lost, mean_jitter_ms=mean_jitter, max_jitter_ms=max_jitter,
                          rtt_ms=None if rtt is None else rtt * 1000.0, plc=plc, extra_delay_ms=extra_delay_ms)

