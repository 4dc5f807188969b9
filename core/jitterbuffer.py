"""Adaptive jitter buffer for RTP audio that ends in TDM, mixing, recording or DSP (sans-IO).

The RTP-to-RTP relay has none: it forwards as packets come.  Where audio must come out at a steady
20 ms pace, :class:`JitterBuffer` takes packets as they arrive (``put(timestamp, seq, payload, now)``)
and gives, once per frame period, what to play (``get(now)``): the frame, a concealed frame where the
packet is missing, or silence when nothing is being played.

How it adapts (the RFC 3550 section 6.4.1 / A.8 notion of *transit time*, ``arrival - timestamp``):

- Every packet's transit is kept over a window of ``history`` packets.  The fastest one is the reference
  ("no queueing"); the target delay is the ``quantile`` of the others above it plus ``safety_ms``, within
  ``[min_delay_ms, max_delay_ms]``.  A late packet still counts, so one spike raises the target at once
  and it falls back only when the spike leaves the window (grow fast, shrink slowly).
- Playing starts (and restarts after silence, i.e. at every talkspurt) when the first frame has waited
  the target delay: that is where the delay grows or shrinks without touching speech.
- When the frame due is not there and nothing later has arrived either (an underrun: the next packet is
  late), the buffer conceals one frame *without* moving on, so the late packet is still played and the
  delay grows by a frame; after ``max_conceal`` such frames it falls silent (the sender stopped: DTX,
  hold) and resyncs on the next packet.  A frame missing while later ones are there is lost: concealed
  once and skipped.
- Above the target by more than a frame and a half, it shrinks by dropping a frame only where nobody
  hears it: a lost frame is skipped instead of concealed, a frame the ``is_silence`` callable calls
  silent is dropped, and, to bound the delay on a continuous stream whose clock runs fast, one frame is
  dropped after ``force_shrink_after_ms`` spent above target.
- Packets for frames already played are late (dropped, counted); duplicates (same sequence number or
  timestamp) are dropped; timestamps (32-bit) and sequence numbers (16-bit) are unwrapped; a marker bit
  or a timestamp off the current frame grid starts a new talkspurt; a transit jump beyond
  ``resync_threshold_ms`` (the sender restarted its timestamps) and an SSRC change reset the stream.

Loss concealment is injected: ``plc(payload, samples)`` is called with every played frame (it may
smooth the joint after a concealment, as spandsp's ``plc_rx`` does) and with ``None`` for a missing one
(``plc_fillin``); with a PLC, payloads must be what it understands (16-bit linear for spandsp's).  Without
one, missing frames come out as :attr:`PlayoutKind.LOST` for the caller to conceal.
"""

from __future__ import annotations

import bisect
import enum
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

Concealer = Callable[[bytes | None, int], bytes]
SilenceDetector = Callable[[bytes], bool]


class JitterBufferError(ValueError):
    """A jitter buffer configured with impossible values."""


class PlayoutKind(enum.Enum):
    """What :meth:`JitterBuffer.get` gives for one frame period."""

    FRAME = "frame"  # a received frame
    CONCEALED = "concealed"  # the packet is missing: the PLC's fill-in
    LOST = "lost"  # the packet is missing and there is no PLC: the caller conceals
    SILENCE = "silence"  # nothing is being played (not started, talkspurt gap, underrun gave up)


@dataclass(frozen=True, slots=True)
class Playout:
    """One frame period's output; ``timestamp`` is the (unwrapped) RTP timestamp of the slot, if any."""

    kind: PlayoutKind
    payload: bytes = b""
    timestamp: int | None = None


@dataclass(slots=True)
class JitterBufferStats:
    """Counters since creation; delays in milliseconds."""

    received: int = 0
    played: int = 0
    late: int = 0
    lost: int = 0
    concealed: int = 0
    duplicates: int = 0
    dropped: int = 0
    resyncs: int = 0
    ssrc_changes: int = 0
    delay_ms: float = 0.0
    target_ms: float = 0.0
    jitter_ms: float = 0.0


@dataclass(slots=True)
class _Entry:
    payload: bytes
    marker: bool


def _unwrap(value: int, reference: int, bits: int) -> int:
    """The integer congruent to ``value`` modulo 2**bits nearest to ``reference``."""
    modulus = 1 << bits
    delta = (value - reference) % modulus
    if delta >= modulus // 2:
        delta -= modulus
    return reference + delta


class JitterBuffer:
    """Adaptive playout buffer for one RTP stream of fixed-duration frames (``frame_samples`` each)."""

    def __init__(self, *, sample_rate: int = 8000, frame_samples: int = 160, min_delay_ms: float = 20.0,
                 max_delay_ms: float = 300.0, initial_delay_ms: float = 60.0, history: int = 500,
                 quantile: float = 0.98, safety_ms: float = 5.0, max_conceal: int = 10,
                 resync_threshold_ms: float = 1000.0, force_shrink_after_ms: float = 1000.0,
                 plc: Concealer | None = None, is_silence: SilenceDetector | None = None) -> None:
        if sample_rate <= 0 or frame_samples <= 0:
            raise JitterBufferError("sample rate and frame size must be positive")
        if not 0 <= min_delay_ms <= max_delay_ms:
            raise JitterBufferError("need 0 <= min_delay_ms <= max_delay_ms")
        if not 0.5 <= quantile <= 1.0 or history < 2 or max_conceal < 0:
            raise JitterBufferError("quantile must be in [0.5, 1], history >= 2, max_conceal >= 0")
        self.sample_rate = sample_rate
        self.frame = frame_samples
        per_ms = sample_rate / 1000.0
        self._min = min_delay_ms * per_ms
        self._max = max_delay_ms * per_ms
        self._initial = min(max(initial_delay_ms * per_ms, self._min), self._max)
        self._safety = safety_ms * per_ms
        self._quantile = quantile
        self._history_size = history
        self._warmup = min(history, 50)
        self._max_conceal = max_conceal
        self._resync = resync_threshold_ms * per_ms
        self._force_after = force_shrink_after_ms / 1000.0
        self._capacity = int(4 * self._max / frame_samples) + 16
        self.plc = plc
        self.is_silence = is_silence
        self.stats = JitterBufferStats()
        self._ssrc: int | None = None
        self._reset_stream()

    # state ------------------------------------------------------------------------------------------

    def _reset_stream(self) -> None:
        self._frames: dict[int, _Entry] = {}
        self._order: list[int] = []  # timestamps in the buffer, ascending
        self._transits: deque[float] = deque()
        self._sorted: list[float] = []
        self._last_ts: int | None = None
        self._last_seq: int | None = None
        self._seen: set[int] = set()
        self._seen_order: deque[int] = deque()
        self._playing = False
        self._next_ts = 0
        self._last_played: int | None = None  # last slot played (frame or concealment) when silent
        self._pending: int | None = None  # slot concealed once without moving on (underrun)
        self._conceal_run = 0
        self._over_since: float | None = None

    def reset(self) -> None:
        """Forget the stream (buffered frames, history); counters are kept."""
        self._reset_stream()

    @property
    def buffered(self) -> int:
        """Frames waiting in the buffer."""
        return len(self._order)

    @property
    def target(self) -> float:
        """Target playout delay beyond the fastest packet, in samples."""
        n = len(self._sorted)
        if not n:
            return self._initial
        jitter = self._sorted[int(self._quantile * (n - 1))] - self._sorted[0]
        target = min(max(jitter + self._safety, self._min), self._max)
        if n < self._warmup:
            target = max(target, self._initial)
        return target

    def _base(self) -> float:
        return self._sorted[0] if self._sorted else 0.0

    def _remember_transit(self, transit: float) -> None:
        self._transits.append(transit)
        bisect.insort(self._sorted, transit)
        if len(self._transits) > self._history_size:
            old = self._transits.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, old)]

    def _update_stats(self, delay: float) -> None:
        per_ms = self.sample_rate / 1000.0
        self.stats.delay_ms = delay / per_ms
        self.stats.target_ms = self.target / per_ms
        n = len(self._sorted)
        self.stats.jitter_ms = (self._sorted[int(self._quantile * (n - 1))] - self._sorted[0]) / per_ms if n else 0.0

    # input ------------------------------------------------------------------------------------------

    def put(self, timestamp: int, seq: int, payload: bytes, now: float, *, marker: bool = False,
            ssrc: int | None = None) -> bool:
        """Add a packet (RTP timestamp and sequence number as on the wire); False when it was dropped
        (late, duplicate).  ``now`` is the arrival time in seconds (monotonic)."""
        if ssrc is not None:
            if self._ssrc is not None and ssrc != self._ssrc:
                self.stats.ssrc_changes += 1
                self._reset_stream()
            self._ssrc = ssrc
        ts = timestamp if self._last_ts is None else _unwrap(timestamp, self._last_ts, 32)
        sq = seq if self._last_seq is None else _unwrap(seq, self._last_seq, 16)
        transit = now * self.sample_rate - ts
        if self._sorted and abs(transit - self._sorted[len(self._sorted) // 2]) > self._resync:
            # The timestamps jumped against the wall clock: a new timeline, not a very late packet.
            self.stats.resyncs += 1
            self._reset_stream()
            ts, sq = timestamp, seq
            transit = now * self.sample_rate - ts
        if self._last_ts is None or ts > self._last_ts:
            self._last_ts = ts
        if self._last_seq is None or sq > self._last_seq:
            self._last_seq = sq
        if sq in self._seen or ts in self._frames:
            self.stats.duplicates += 1
            return False
        self._seen.add(sq)
        self._seen_order.append(sq)
        if len(self._seen_order) > 1024:
            self._seen.discard(self._seen_order.popleft())
        self._remember_transit(transit)
        self.stats.received += 1
        if (self._playing and ts < self._next_ts) or (
                not self._playing and self._last_played is not None and ts <= self._last_played):
            self.stats.late += 1
            return False
        self._frames[ts] = _Entry(payload, marker)
        bisect.insort(self._order, ts)
        if len(self._order) > self._capacity:
            oldest = self._order.pop(0)
            del self._frames[oldest]
            self.stats.dropped += 1
            if self._playing and oldest >= self._next_ts:
                self._next_ts = oldest + self.frame
        return True

    # output -----------------------------------------------------------------------------------------

    def _take(self, ts: int) -> _Entry:
        entry = self._frames.pop(ts)
        self._order.remove(ts)
        return entry

    def _conceal(self, ts: int) -> Playout:
        self.stats.concealed += 1
        self._conceal_run += 1
        if self.plc is None:
            return Playout(PlayoutKind.LOST, b"", ts)
        return Playout(PlayoutKind.CONCEALED, self.plc(None, self.frame), ts)

    def _go_silent(self) -> None:
        self._playing = False
        self._last_played = self._next_ts - self.frame
        self._pending = None
        self._conceal_run = 0
        self._over_since = None

    def _start(self, now_samples: float) -> bool:
        """In silence: start playing the first buffered frame once it has waited the target delay."""
        if not self._order:
            return False
        head = self._order[0]
        if now_samples - head - self._base() < self.target - 1e-6:
            return False
        last = self._last_played
        if (last is not None and (head - last) % self.frame == 0 and 0 < head - last <= self._resync
                and not self._frames[head].marker):
            self.stats.lost += (head - last) // self.frame - 1  # slots of the same talkspurt never received
        self._playing = True
        self._next_ts = head
        self._conceal_run = 0
        self._over_since = None
        return True

    def get(self, now: float) -> Playout:
        """What to play for the frame period starting at ``now`` (call once per frame period)."""
        t = now * self.sample_rate
        if not self._playing and not self._start(t):
            self._update_stats(0.0)
            return Playout(PlayoutKind.SILENCE)
        frame = self.frame
        while True:
            delay = t - self._next_ts - self._base()
            target = self.target
            over = delay > target + frame * 1.5
            if not over:
                self._over_since = None
            elif self._over_since is None:
                self._over_since = now
            forced = over and self._over_since is not None and now - self._over_since >= self._force_after
            entry = self._frames.get(self._next_ts)
            if entry is not None:
                if over and (forced or (self.is_silence is not None and self.is_silence(entry.payload))):
                    self._take(self._next_ts)
                    self.stats.dropped += 1
                    self._next_ts += frame
                    self._over_since = None
                    continue
                self._take(self._next_ts)
                ts = self._next_ts
                self._next_ts += frame
                self._pending = None
                self._conceal_run = 0
                self.stats.played += 1
                self._update_stats(delay)
                payload = entry.payload if self.plc is None else self.plc(entry.payload, frame)
                return Playout(PlayoutKind.FRAME, payload, ts)
            if self._order:
                head = self._order[0]
                if (head - self._next_ts) % frame or self._frames[head].marker:
                    # A new talkspurt (or a new frame grid): the gap was not sent, it is not lost.
                    self._go_silent()
                    if not self._start(t):
                        self._update_stats(0.0)
                        return Playout(PlayoutKind.SILENCE)
                    continue
                if self._pending == self._next_ts or over:
                    # Lost, and either already concealed once (underrun) or we are late: skip the slot.
                    self.stats.lost += 1
                    self._pending = None
                    self._next_ts += frame
                    if over:
                        self._over_since = None
                    continue
                self.stats.lost += 1
                ts = self._next_ts
                self._next_ts += frame
                self._update_stats(delay)
                return self._conceal(ts)
            # Nothing buffered: the next packet is late, or the sender stopped.
            if self._conceal_run < self._max_conceal:
                self._pending = self._next_ts
                self._update_stats(delay)
                return self._conceal(self._next_ts)
            self._go_silent()
            self._update_stats(0.0)
            return Playout(PlayoutKind.SILENCE)
