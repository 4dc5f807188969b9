"""Reliable delivery of full frames and the timestamp rules of one IAX2 call (RFC 5456 §7, §8.1).

:class:`ReliableChannel` keeps a call's sequence numbers (OSeqno of the next frame we send, ISeqno of the
next frame we expect, the oldest OSeqno the peer has not acknowledged), the queue of full frames awaiting
acknowledgement and their retransmission schedule.  The rules are RFC 5456 §7 with Asterisk's values
(chan_iax2 ``iax2_send``, ``__attempt_transmit``, ``socket_process``):

- ACK, INVAL, TXCNT, TXACC and VNAK neither advance OSeqno when sent nor ISeqno when received;
- every full frame acknowledges all of ours below its ISeqno (checked against the window of frames in flight);
- a frame whose OSeqno is not the one expected is ignored: one from the past (``(iseqno - oseqno) mod 256 <
  128``) is acknowledged again, one from the future asks for retransmission with VNAK;
- the first retransmission comes ``2 x ping time`` after sending (clamped to 100 ms .. 10 s, ping time 1 s
  until a PING/PONG measured it), each later one ten times later again, capped at 10 s; the transmission
  that would be the fifth (``max_retries`` = 4 counts the first one) gives up;
- a retransmitted copy carries the R bit and the current ISeqno;
- after VNAK every unacknowledged frame from the VNAK's ISeqno on is sent again at once.

:class:`TransmitClock` makes our timestamps (milliseconds since the call started, never repeating for
signalling; voice predicted from the sample count within ±160 ms, Asterisk ``calc_timestamp``) and decides
when a voice frame must be a full frame: first voice, a new format, or a change of the upper 16 bits (the
lower 16 are all a mini frame carries, RFC 5456 §8.1.2).  :class:`ReceiveClock` rebuilds the peer's 32-bit
timestamp from mini frames (Asterisk ``unwrap_timestamp``: a jump of more than 50 s is a wrap).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from core.iax2.constants import SEQUENCE_NEUTRAL, FrameType, IaxCommand
from core.iax2.frames import FullFrame

MIN_RETRY = 0.1
"""Asterisk ``MIN_RETRY_TIME`` (100 ms)."""
MAX_RETRY = 10.0
"""Asterisk ``MAX_RETRY_TIME`` and RFC 5456 §7.2.1's ten-second bound."""
DEFAULT_PING_TIME = 1.0
"""Asterisk ``DEFAULT_RETRY_TIME``: the ping time assumed before any PING/PONG (so the first retry is at 2 s)."""
MAX_RETRIES = 4
"""Asterisk ``max_retries``; RFC 5456 §7 "default 4"."""
MAX_TIMESTAMP_SKEW = 160
"""Asterisk ``MAX_TIMESTAMP_SKEW``: how far a predicted voice timestamp may drift from the clock (ms)."""
WRAP_THRESHOLD = 50000
"""Asterisk ``unwrap_timestamp``: a mini frame timestamp jumping more than this (ms) has wrapped."""

Sealer = Callable[[FullFrame], bytes]
"""Turns a frame into its datagram (plain ``encode`` or encryption with the key current when first sent)."""


def is_neutral(frame_type: int, subclass: int) -> bool:
    """True for the messages that never touch sequence numbers (RFC 5456 §7)."""
    return frame_type == FrameType.IAX and subclass in SEQUENCE_NEUTRAL


class Disposition(Enum):
    """What to do with a received full frame after the sequence check."""

    PROCESS = "process"
    """In order (or sequence-neutral): handle it."""
    DUPLICATE = "duplicate"
    """Seen before: acknowledge it again and drop it."""
    OUT_OF_ORDER = "out of order"
    """A frame is missing before it: drop it and send VNAK."""


@dataclass(slots=True)
class PendingFrame:
    """A full frame we sent that the peer has not acknowledged yet."""

    frame: FullFrame
    seal: Sealer
    sent_at: float
    deadline: float
    interval: float
    transmissions: int = 1
    final: bool = False


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Retransmission of ``frame`` failed ``MAX_RETRIES`` times: the call is unusable (RFC 5456 §7)."""

    frame: FullFrame
    final: bool


class ReliableChannel:
    """Sequence numbers, acknowledgement and retransmission of one call (or registration, poke...)."""

    def __init__(self, *, max_retries: int = MAX_RETRIES, ping_time: float = DEFAULT_PING_TIME) -> None:
        self.oseqno = 0
        self.iseqno = 0
        self.rseqno = 0
        self.aseqno = 0
        """The ISeqno last put in a frame we sent: when it lags ``iseqno`` an explicit ACK is owed."""
        self.max_retries = max_retries
        self.ping_time = ping_time
        self.pending: list[PendingFrame] = []
        self.retransmissions = 0

    # -- sending ----------------------------------------------------------------------------------------

    def stamp(self, frame_type: int, subclass: int) -> tuple[int, int]:
        """``(oseqno, iseqno)`` for the next frame; advances OSeqno unless the message is neutral."""
        oseqno = self.oseqno
        if not is_neutral(frame_type, subclass):
            self.oseqno = (self.oseqno + 1) & 0xFF
        self.aseqno = self.iseqno
        return oseqno, self.iseqno

    def retry_interval(self) -> float:
        """The first retransmission delay: twice the ping time, clamped to [100 ms, 10 s]."""
        return min(max(2 * self.ping_time, MIN_RETRY), MAX_RETRY)

    def track(self, frame: FullFrame, seal: Sealer, now: float, *, final: bool = False) -> None:
        """Remember a frame just sent so that it is retransmitted until acknowledged."""
        interval = self.retry_interval()
        self.pending.append(PendingFrame(frame, seal, now, now + interval, interval, final=final))

    def next_deadline(self) -> float | None:
        """When :meth:`due` next has something to do."""
        return min((p.deadline for p in self.pending), default=None)

    def due(self, now: float) -> tuple[list[bytes], GiveUp | None]:
        """Datagrams to retransmit now, and the frame that exhausted its retries (if one did)."""
        out: list[bytes] = []
        for pending in list(self.pending):
            if pending.deadline > now:
                continue
            if pending.transmissions >= self.max_retries:
                self.pending.remove(pending)
                return out, GiveUp(pending.frame, pending.final)
            copy = pending.frame.retransmitted(self.iseqno)
            out.append(pending.seal(copy))
            self.retransmissions += 1
            pending.transmissions += 1
            pending.interval = min(pending.interval * 10, MAX_RETRY)
            pending.deadline = now + pending.interval
        return out, None

    def resend_from(self, iseqno: int) -> list[bytes]:
        """Retransmit every unacknowledged frame from ``iseqno`` on (the peer sent VNAK, RFC 5456 §6.9.3)."""
        out = []
        for pending in self.pending:
            if (pending.frame.oseqno - iseqno) & 0xFF < 128:
                out.append(pending.seal(pending.frame.retransmitted(self.iseqno)))
                self.retransmissions += 1
        return out

    def clear(self) -> None:
        """Forget every frame in flight (the call is being destroyed)."""
        self.pending.clear()

    @property
    def unacknowledged(self) -> int:
        """How many frames are in flight."""
        return len(self.pending)

    # -- receiving --------------------------------------------------------------------------------------

    def receive(self, frame: FullFrame) -> Disposition:
        """Check a received full frame's sequence numbers and take its acknowledgements into account."""
        neutral = is_neutral(frame.frame_type, frame.subclass)
        if frame.oseqno != self.iseqno and not neutral:
            if (self.iseqno - frame.oseqno) & 0xFF < 128:
                return Disposition.DUPLICATE
            return Disposition.OUT_OF_ORDER
        if not neutral:
            self.iseqno = (self.iseqno + 1) & 0xFF
        if not frame.is_iax(IaxCommand.INVAL):
            self.acknowledge(frame.iseqno)
        return Disposition.PROCESS

    def acknowledge(self, iseqno: int) -> list[PendingFrame]:
        """The peer has everything below ``iseqno``: stop retransmitting it; returns the frames acknowledged.

        ``iseqno`` is honoured only inside the window of frames in flight, so a stale or forged value
        cannot acknowledge frames never sent.
        """
        in_flight = (self.oseqno - self.rseqno) & 0xFF
        advance = (iseqno - self.rseqno) & 0xFF
        if advance == 0 or advance > in_flight:
            return []
        acked = [p for p in self.pending if (p.frame.oseqno - self.rseqno) & 0xFF < advance]
        for pending in acked:
            self.pending.remove(pending)
        self.rseqno = iseqno & 0xFF
        return acked

    def acknowledge_timestamp(self, timestamp: int) -> list[PendingFrame]:
        """An ACK matched by the echoed timestamp (frames sent outside any sequence, e.g. a POKE)."""
        acked = [p for p in self.pending if p.frame.timestamp == timestamp]
        for pending in acked:
            self.pending.remove(pending)
        return acked

    def owes_ack(self) -> bool:
        """True when no frame we sent carries our current ISeqno yet (Asterisk's ``aseqno != iseqno``)."""
        return self.aseqno != self.iseqno


@dataclass(slots=True)
class TransmitClock:
    """Our timestamps for one call: milliseconds since ``start`` (RFC 5456 §8.1.1)."""

    start: float
    last_sent: int = -1
    next_voice: int | None = None
    last_voice: int | None = None
    last_voice_format: int = 0

    def elapsed(self, now: float) -> int:
        """Milliseconds since the call started, from the monotonic clock."""
        return max(int((now - self.start) * 1000), 0) & 0xFFFFFFFF

    def signalling(self, now: float) -> int:
        """A timestamp for a signalling frame: the clock, but always after the previous one (Asterisk +3)."""
        ms = self.elapsed(now)
        if ms <= self.last_sent:
            ms = self.last_sent + 3
        self.last_sent = ms & 0xFFFFFFFF
        return self.last_sent

    def voice(self, now: float, duration_ms: int) -> int:
        """A voice timestamp: predicted from the previous frame's duration while within ±160 ms of the clock,
        else the clock rounded up to a whole frame (Asterisk ``calc_timestamp``)."""
        ms = self.elapsed(now)
        predicted = self.next_voice
        if predicted is not None and abs(ms - predicted) <= MAX_TIMESTAMP_SKEW:
            ms = predicted
        else:
            if duration_ms > 0 and ms % duration_ms:
                ms += duration_ms - ms % duration_ms
            ms = max(ms, self.last_sent + 1 if predicted is None else 0)
        ms &= 0xFFFFFFFF
        self.next_voice = (ms + duration_ms) & 0xFFFFFFFF
        self.last_sent = ms
        return ms

    def voice_needs_full(self, timestamp: int, media_format: int) -> bool:
        """True when this voice frame must go as a full frame: the first, a new format, or the upper 16 bits
        of the timestamp changed since the last voice frame (RFC 5456 §8.1.2, §6.10)."""
        return (self.last_voice is None or media_format != self.last_voice_format
                or (timestamp >> 16) != (self.last_voice >> 16))

    def sent_voice(self, timestamp: int, media_format: int) -> None:
        """Record the voice frame just sent (mini or full)."""
        self.last_voice = timestamp
        self.last_voice_format = media_format


@dataclass(slots=True)
class ReceiveClock:
    """The peer's 32-bit timestamp as rebuilt from full frames (exact) and mini frames (low 16 bits)."""

    last: int = 0
    voice_format: int = 0
    full_voice_seen: bool = False

    def full(self, timestamp: int) -> int:
        """A full frame resynchronises the upper bits."""
        if timestamp > self.last or (self.last - timestamp) > WRAP_THRESHOLD:
            self.last = timestamp
        return timestamp

    def mini(self, low16: int, bits: int = 16) -> int:
        """The 32-bit timestamp of a mini frame (16 bits; meta video frames carry 15)."""
        lower_mask = (1 << bits) - 1
        upper = self.last & ~lower_mask & 0xFFFFFFFF
        ts = upper | (low16 & lower_mask)
        delta = ts - self.last
        threshold = WRAP_THRESHOLD if bits == 16 else WRAP_THRESHOLD // 2
        if delta < -threshold:
            ts = (upper + (1 << bits)) & 0xFFFFFFFF | (low16 & lower_mask)
        elif delta > threshold and upper:
            ts = (upper - (1 << bits)) | (low16 & lower_mask)
        if ts > self.last or self.last - ts > 0x80000000:
            self.last = ts
        return ts
