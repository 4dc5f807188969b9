"""Reception quality: the statistics of a remote source (RFC 3550 Appendix A.1, A.3, A.8) and the call
quality summary (loss, jitter, RTT, an E-model MOS estimate for G.711) per direction.

:class:`SourceStatistics` follows one remote source: Appendix A.1 sequence validation (MAX_DROPOUT,
MAX_MISORDER, the 16-bit wrap into an extended sequence number, restart detection), A.3 loss (cumulative
and fraction since the last report) and A.8 interarrival jitter in timestamp units across the 32-bit wrap.
It feeds RTCP report blocks and :func:`stream_quality`.

The MOS is a planning estimate from a simplified ITU-T G.107 E-model, the way VoIP monitors report it:

* ``R = 93.2 - Id - Ie_eff``: 93.2 is G.107's R for the default values of every parameter (R0 - Is - the
  default delay terms); ``Id`` is the delay impairment ``Idd`` of G.107 §7.4 for the one-way delay ``Ta``
  (0 up to 100 ms), assuming echo is cancelled (talker-echo terms at their defaults);
* ``Ie_eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl)`` (G.107 §7.5) with G.711's values from
  ITU-T G.113 Appendix I: ``Ie = 0``, ``Bpl = 25.1`` with packet-loss concealment (G.711 Appendix I) and
  4.3 without; random loss (``BurstR = 1``);
* MOS from R per G.107 Annex B: 1 below R = 0, 4.5 above 100, else ``1 + 0.035 R + R (R - 60)(100 - R) 7e-6``.

A clean G.711 call scores R = 93.2, MOS 4.41.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.rtp.rtcp import ReportBlock

__all__ = [
    "ACCEPTED",
    "DUPLICATE",
    "HELD",
    "MAX_DROPOUT",
    "MAX_MISORDER",
    "MIN_SEQUENTIAL",
    "RESTARTED",
    "SourceStatistics",
    "BPL_G711_NO_PLC",
    "BPL_G711_PLC",
    "R_DEFAULT",
    "CallQuality",
    "StreamQuality",
    "delay_impairment",
    "effective_equipment_impairment",
    "mos_from_r",
    "r_factor",
    "stream_quality",
]

MAX_DROPOUT = 3000
"""Largest forward jump in sequence still taken as loss within the same stream (Appendix A.1)."""
MAX_MISORDER = 100
"""Largest backward step still taken as a late (reordered or duplicate) packet (Appendix A.1)."""
MIN_SEQUENTIAL = 2
"""Packets in sequence that a new source needs before it is valid (Appendix A.1)."""
RTP_SEQ_MOD = 1 << 16
_WINDOW_BITS = 128  # duplicate detection reaches MAX_MISORDER packets back

ACCEPTED, DUPLICATE, HELD, RESTARTED = 0, 1, 2, 3


class SourceStatistics:
    """Reception state of one remote source: Appendix A.1 sequence validation, A.3 loss, A.8 jitter.

    Created when the source has passed probation, with the sequence number of its first valid packet.
    :meth:`update` classifies each later packet; :meth:`report_block` produces the RR figures and starts
    the next "fraction lost" interval.
    """

    def __init__(self, ssrc: int, clock_rate: int, first_sequence: int) -> None:
        self.ssrc = ssrc
        self.clock_rate = clock_rate
        self.duplicates = 0
        self.reordered = 0
        self.restarts = 0
        self.jitter = 0.0
        """Interarrival jitter estimate in timestamp units (A.8, the float form of J += (|D| - J) / 16)."""
        self.max_jitter = 0.0
        self._jitter_sum = 0.0
        self._jitter_samples = 0
        self._transit: float | None = None
        self.last_sr = 0
        self.last_sr_time: float | None = None
        self.last_arrival: float | None = None
        self._retired_expected = 0
        self._retired_received = 0
        self._init_sequence(first_sequence)

    def _init_sequence(self, sequence: int) -> None:
        # A.1 init_seq(); the caller then counts the packet in.
        self.base_seq = sequence
        self.max_seq = sequence
        self.bad_seq = RTP_SEQ_MOD + 1
        self.cycles = 0
        self.received = 0
        self.received_prior = 0
        self.expected_prior = 0
        self._unique = 0
        self._window = 1

    @property
    def extended_max(self) -> int:
        """The extended highest sequence number received: cycles x 2^16 + highest (A.1)."""
        return self.cycles + self.max_seq

    @property
    def expected(self) -> int:
        """Packets expected since the base sequence number (A.3)."""
        return self.extended_max - self.base_seq + 1

    @property
    def cumulative_lost(self) -> int:
        """Expected minus received, duplicates counted as received as RFC 3550 §6.4.1 says (may go
        negative), clamped to the 24-bit signed field of a report block."""
        return max(-0x800000, min(0x7FFFFF, self.expected - self.received))

    @property
    def total_expected(self) -> int:
        """Packets expected over the whole life of the source, restarts included."""
        return self._retired_expected + self.expected

    @property
    def total_lost(self) -> int:
        """Packets really missing over the whole life of the source (duplicates not counted as received)."""
        return max(0, self._retired_expected + self.expected - self._retired_received - self._unique)

    @property
    def total_received(self) -> int:
        """Distinct packets received over the whole life of the source."""
        return self._retired_received + self._unique

    @property
    def mean_jitter(self) -> float:
        """Mean of the jitter estimate over the packets received, in timestamp units."""
        return self._jitter_sum / self._jitter_samples if self._jitter_samples else 0.0

    def start(self, timestamp: int, now: float, *, measure_jitter: bool = True) -> None:
        """Count in the first valid packet (the one whose sequence number the statistics started from)."""
        self.received = self._unique = 1
        self.last_arrival = now
        if measure_jitter:
            self._measure_jitter(timestamp, now)

    def update(self, sequence: int, timestamp: int, now: float, *, measure_jitter: bool = True) -> int:
        """Classify a packet of this source (Appendix A.1 ``update_seq``) and fold it into the statistics.

        Returns ``ACCEPTED`` (in order, a gap, or late but new), ``DUPLICATE`` (seen already: counted, to be
        dropped), ``HELD`` (a jump beyond MAX_DROPOUT: kept aside; if the next packet follows it, the
        source restarted) or ``RESTARTED`` (the packet follows a held jump: statistics restart from the
        held packet, and both are valid).
        """
        udelta = (sequence - self.max_seq) & 0xFFFF
        if udelta == 0:
            self.received += 1
            self.duplicates += 1
            return DUPLICATE
        result = ACCEPTED
        if udelta < MAX_DROPOUT:
            if sequence < self.max_seq:
                self.cycles += RTP_SEQ_MOD  # sequence number wrapped
            self.max_seq = sequence
            self._window = ((self._window << udelta) | 1) & ((1 << _WINDOW_BITS) - 1)
        elif udelta <= RTP_SEQ_MOD - MAX_MISORDER:
            if sequence != self.bad_seq:
                self.bad_seq = (sequence + 1) & 0xFFFF
                return HELD
            # Two sequential packets after a jump: the other side restarted without telling us.
            self._retired_expected += self.expected
            self._retired_received += self._unique
            self._init_sequence((sequence - 1) & 0xFFFF)
            self.max_seq = sequence
            self._window = 0b11
            self.received = 1
            self._unique = 1
            self.restarts += 1
            self._transit = None
            result = RESTARTED
        else:
            back = RTP_SEQ_MOD - udelta
            bit = 1 << back
            if back < _WINDOW_BITS and self._window & bit:
                self.received += 1
                self.duplicates += 1
                return DUPLICATE
            self._window |= bit & ((1 << _WINDOW_BITS) - 1)
            self.reordered += 1
        self.received += 1
        self._unique += 1
        self.last_arrival = now
        if measure_jitter:
            self._measure_jitter(timestamp, now)
        return result

    def _measure_jitter(self, timestamp: int, now: float) -> None:
        # A.8: transit = arrival - timestamp, both in timestamp units; D is taken modulo 2^32 so that a
        # timestamp wrap is not a jump.
        transit = now * self.clock_rate - timestamp
        if self._transit is not None:
            d = (transit - self._transit + 2147483648.0) % 4294967296.0 - 2147483648.0
            self.jitter += (abs(d) - self.jitter) / 16.0
            self._jitter_sum += self.jitter
            self._jitter_samples += 1
            if self.jitter > self.max_jitter:
                self.max_jitter = self.jitter
        self._transit = transit

    def fraction_lost(self) -> int:
        """Fraction lost since the last report, 8-bit fixed point, without starting a new interval (A.3)."""
        expected_interval = self.expected - self.expected_prior
        lost_interval = expected_interval - (self.received - self.received_prior)
        if expected_interval == 0 or lost_interval <= 0:
            return 0
        return (lost_interval << 8) // expected_interval

    def report_block(self, now: float) -> ReportBlock:
        """The RR report block about this source at ``now`` (§6.4.1, A.3); starts the next interval."""
        fraction = self.fraction_lost()
        self.expected_prior = self.expected
        self.received_prior = self.received
        dlsr = 0
        if self.last_sr_time is not None:
            dlsr = min(0xFFFFFFFF, max(0, int((now - self.last_sr_time) * 65536)))
        return ReportBlock(self.ssrc, fraction, self.cumulative_lost, self.extended_max & 0xFFFFFFFF,
                           min(0xFFFFFFFF, int(self.jitter)), self.last_sr, dlsr)


# -- the summary -------------------------------------------------------------------------------------------

R_DEFAULT = 93.2
"""G.107's transmission rating with every parameter at its default value."""
BPL_G711_PLC = 25.1
"""Packet-loss robustness factor of G.711 with PLC (G.711 Appendix I), ITU-T G.113 Appendix I."""
BPL_G711_NO_PLC = 4.3
"""Packet-loss robustness factor of G.711 without PLC, ITU-T G.113 Appendix I."""


def delay_impairment(one_way_delay_ms: float) -> float:
    """G.107 ``Idd`` for an absolute one-way delay ``Ta`` in ms: 0 up to 100 ms, then
    ``25 {(1 + X^6)^(1/6) - 3 (1 + (X/3)^6)^(1/6) + 2}`` with ``X = log2(Ta / 100)``."""
    if one_way_delay_ms <= 100.0:
        return 0.0
    x = math.log2(one_way_delay_ms / 100.0)
    return 25.0 * (math.pow(1.0 + math.pow(x, 6), 1.0 / 6.0) - 3.0 * math.pow(1.0 + math.pow(x / 3.0, 6), 1.0 / 6.0)
                   + 2.0)


def effective_equipment_impairment(loss_percent: float, *, ie: float = 0.0, bpl: float = BPL_G711_PLC,
                                   burst_ratio: float = 1.0) -> float:
    """G.107 ``Ie_eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl)`` for a loss of ``loss_percent`` %."""
    ppl = min(max(loss_percent, 0.0), 100.0)
    return ie + (95.0 - ie) * ppl / (ppl / burst_ratio + bpl)


def r_factor(loss_percent: float, one_way_delay_ms: float = 0.0, *, plc: bool = True) -> float:
    """The simplified E-model rating for G.711: ``93.2 - Idd(Ta) - Ie_eff(Ppl)``, random loss."""
    bpl = BPL_G711_PLC if plc else BPL_G711_NO_PLC
    return R_DEFAULT - delay_impairment(one_way_delay_ms) - effective_equipment_impairment(loss_percent, bpl=bpl)


def mos_from_r(r: float) -> float:
    """Estimated conversational MOS from the rating R (ITU-T G.107 Annex B, equation B-4).

    The cubic dips just under 1 for 0 < R < 6.5; the result is kept on the 1-4.5 scale."""
    if r <= 0.0:
        return 1.0
    if r >= 100.0:
        return 4.5
    return max(1.0, 1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6)


@dataclass(frozen=True, slots=True)
class StreamQuality:
    """One direction of a call: ``packets`` received, ``lost`` (expected but never received), jitter as
    the RFC 3550 A.8 estimate in ms (mean over the call and maximum), RTT in ms when RTCP measured it,
    the E-model rating and MOS."""

    packets: int
    lost: int
    loss_percent: float
    mean_jitter_ms: float
    max_jitter_ms: float
    rtt_ms: float | None
    r_factor: float
    mos: float

    def __str__(self) -> str:
        rtt = "n/a" if self.rtt_ms is None else f"{self.rtt_ms:.0f} ms"
        return (f"loss {self.loss_percent:.1f}% jitter {self.mean_jitter_ms:.1f} ms rtt {rtt} MOS {self.mos:.1f} "
                f"packets {self.packets} lost {self.lost}")

    def detail(self) -> str:
        """The long form for ``core show channel``-style output."""
        return (f"{self.packets} packets, {self.lost} lost ({self.loss_percent:.2f}%), jitter mean "
                f"{self.mean_jitter_ms:.1f} ms max {self.max_jitter_ms:.1f} ms, rtt "
                f"{'n/a' if self.rtt_ms is None else f'{self.rtt_ms:.1f} ms'}, R {self.r_factor:.1f}, "
                f"MOS {self.mos:.2f}")


@dataclass(frozen=True, slots=True)
class CallQuality:
    """Both directions of a call leg: ``inbound`` (what we received) and ``outbound`` (what the remote
    reported receiving from us over RTCP); either is ``None`` when there is nothing to tell.  ``sent`` is
    the number of RTP packets we sent (RFC 3550 §6.4.1 sender's packet count), shown when the remote never
    reported on our stream."""

    inbound: StreamQuality | None
    outbound: StreamQuality | None
    sent: int = 0

    def __str__(self) -> str:
        parts = []
        if self.inbound is not None:
            parts.append(f"rx {self.inbound}")
        if self.outbound is not None:
            parts.append(f"tx {self.outbound}")
        elif self.sent:
            parts.append(f"tx packets {self.sent}")
        return "; ".join(parts) if parts else "no media"


def stream_quality(*, packets: int, lost: int, mean_jitter_ms: float, max_jitter_ms: float,
                   rtt_ms: float | None, plc: bool = True, extra_delay_ms: float = 0.0) -> StreamQuality:
    """Summarise one direction.  The one-way delay for the E-model is half the RTT (when known) plus
    ``extra_delay_ms`` (packetisation and jitter buffer, if the caller wants them counted)."""
    expected = packets + lost
    loss_percent = 100.0 * lost / expected if expected > 0 else 0.0
    one_way = (rtt_ms / 2.0 if rtt_ms is not None else 0.0) + extra_delay_ms
    r = r_factor(loss_percent, one_way, plc=plc)
    return StreamQuality(packets, lost, loss_percent, mean_jitter_ms, max_jitter_ms, rtt_ms, r, mos_from_r(r))
