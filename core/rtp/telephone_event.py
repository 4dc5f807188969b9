"""RFC 4733 telephone-events (DTMF digits 0-9 * # A-D, hook flash): payload, sender, receiver; sans-IO.

Payload (RFC 4733 §2.3)::

    |     event     |E|R| volume    |          duration             |

``event`` is 0-9, 10 (*), 11 (#), 12-15 (A-D) or 16 (flash, §3.2); ``volume`` is the power level in
-dBm0 (0-63), 0 for events that are not tones; ``duration`` counts RTP timestamp units since the event's
timestamp, which is the start of the event and the same in every packet of it (§2.3.1, §2.3.5).

:class:`TelephoneEventSender` emits a start packet with the marker bit (§2.5.1.2), an update every
packetisation interval with a growing duration and the same timestamp, and an end packet (E bit) sent
three times, one interval apart (§2.5.1.4); an event longer than 0xFFFF units is cut into segments: the
segment's last packet has duration 0xFFFF and no E bit, and the next segment has the timestamp where the
previous one ended (§2.5.1.3).

:class:`TelephoneEventReceiver` reports every event exactly once, as a start and an end with its duration,
whatever packets were lost, duplicated or reordered: the event is identified by its timestamp; the first
packet seen starts it; an E packet ends it and its copies are ignored; an event whose end never arrives
ends when a newer event starts or after ``timeout`` seconds without packets (§2.5.2.2).
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass
from enum import Enum

__all__ = [
    "EVENT_DIGITS",
    "HOOK_FLASH",
    "MAX_DURATION",
    "EndReason",
    "EventPacket",
    "TelephoneEvent",
    "TelephoneEventEnded",
    "TelephoneEventError",
    "TelephoneEventReceiver",
    "TelephoneEventReport",
    "TelephoneEventSender",
    "TelephoneEventStarted",
    "build_telephone_event",
    "digit_to_event",
    "event_to_digit",
    "parse_telephone_event",
]

EVENT_DIGITS = "0123456789*#ABCD"
"""DTMF digits by event code 0-15 (RFC 4733 §3.2, Table 7)."""
HOOK_FLASH = 16
"""Event code of a hook flash (RFC 4733 §3.2)."""
MAX_DURATION = 0xFFFF
_TS_MASK = 0xFFFFFFFF
_PAYLOAD = struct.Struct("!BBH")


class TelephoneEventError(ValueError):
    """A telephone-event payload or field that does not follow RFC 4733 §2.3."""


def digit_to_event(digit: str) -> int:
    """The event code of a DTMF digit (``0``-``9``, ``*``, ``#``, ``A``-``D`` in either case)."""
    code = EVENT_DIGITS.find(digit.upper()) if len(digit) == 1 else -1
    if code < 0:
        raise TelephoneEventError(f"{digit!r} is not a DTMF digit")
    return code


def event_to_digit(event: int) -> str | None:
    """The DTMF digit of an event code 0-15, ``None`` for other events (hook flash, fax tones, ...)."""
    return EVENT_DIGITS[event] if 0 <= event < 16 else None


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    """One 4-octet event block of a telephone-event payload (RFC 4733 §2.3)."""

    event: int
    end: bool
    volume: int
    duration: int

    def serialize(self) -> bytes:
        """The four octets (the R bit is sent as 0, §2.3.3)."""
        return build_telephone_event(self.event, end=self.end, volume=self.volume, duration=self.duration)


def build_telephone_event(event: int, *, end: bool = False, volume: int = 10, duration: int = 0) -> bytes:
    """A telephone-event payload of one block; raises :class:`TelephoneEventError` when a field does not fit."""
    if not 0 <= event <= 255:
        raise TelephoneEventError(f"event {event} out of range 0-255")
    if not 0 <= volume <= 63:
        raise TelephoneEventError(f"volume {volume} out of range 0-63 (-dBm0)")
    if not 0 <= duration <= MAX_DURATION:
        raise TelephoneEventError(f"duration {duration} out of range 0-65535")
    return _PAYLOAD.pack(event, (0x80 if end else 0) | volume, duration)


def parse_telephone_event(payload: bytes) -> list[TelephoneEvent]:
    """The event blocks of a payload (usually one; §2.5.1.5 allows several).  The R bit is ignored
    (§2.3.3).  Raises :class:`TelephoneEventError` when the payload is not a whole number of 4-octet blocks."""
    if not payload or len(payload) % 4:
        raise TelephoneEventError(f"telephone-event payload of {len(payload)} octets is not a multiple of 4")
    blocks = []
    for offset in range(0, len(payload), 4):
        event, flags, duration = _PAYLOAD.unpack_from(payload, offset)
        blocks.append(TelephoneEvent(event, bool(flags & 0x80), flags & 0x3F, duration))
    return blocks


# -- sender ------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class EventPacket:
    """A telephone-event packet to send: its payload, RTP timestamp and marker bit (the session adds SSRC
    and sequence number: ``RtpSession.send_event``); ``block`` says what the payload holds."""

    payload: bytes
    timestamp: int
    marker: bool
    block: TelephoneEvent


class _TxEvent:
    __slots__ = ("code", "start_time", "timestamp", "fixed", "volume", "index", "reported", "final", "segment",
                 "stop_time")

    def __init__(self, code: int, start_time: float, timestamp: int, fixed: int | None, volume: int) -> None:
        self.code = code
        self.start_time = start_time
        self.timestamp = timestamp
        self.fixed = fixed  # total duration in units when known in advance
        self.volume = volume
        self.index = 0  # next packet number: packet k is due at start_time + k * interval
        self.reported = 0  # total duration last reported
        self.final: int | None = None  # total duration once the event has ended
        self.segment = 0
        self.stop_time: float | None = None  # when stop() ended it: the end packet goes out then

    def next_time(self, interval: float) -> float:
        scheduled = self.start_time + self.index * interval
        return scheduled if self.stop_time is None else min(scheduled, self.stop_time)


class TelephoneEventSender:
    """Packets for RFC 4733 events, one event at a time, in order (sans-IO).

    ``interval`` is the packetisation interval in seconds (updates and end-packet copies are that far
    apart); ``volume`` is the level in -dBm0 put in tone events.  Each packet reports the duration up to
    the end of its interval, as Asterisk and baresip do, so the start packet already carries one interval.
    """

    def __init__(self, *, clock_rate: int = 8000, interval: float = 0.02, volume: int = 10,
                 end_copies: int = 3) -> None:
        if interval <= 0:
            raise TelephoneEventError("the packetisation interval must be positive")
        self.clock_rate = clock_rate
        self.interval = interval
        self.interval_units = max(1, round(interval * clock_rate))
        self.volume = volume
        self.end_copies = max(1, end_copies)
        self._active: _TxEvent | None = None
        self._queue: deque[tuple[int, float | None, float, int]] = deque()
        self._copies: list[tuple[float, EventPacket]] = []
        self._quiet_from = float("-inf")

    @property
    def busy(self) -> bool:
        """Whether an event is being sent, its end copies are pending, or events are queued."""
        return self._active is not None or bool(self._copies) or bool(self._queue)

    def start(self, event: int, now: float, timestamp: int, *, duration: float | None = None) -> list[EventPacket]:
        """Begin ``event`` at ``now``, whose RTP timestamp is ``timestamp`` in the media stream (the
        stream's ``RtpSender.timestamp_at(now)``).  With ``duration`` (seconds) the event ends by itself;
        without it, :meth:`stop` ends it.  If another event is in progress this one waits its turn (its
        timestamp moves on with the wait).  Returns the packets due now."""
        if not 0 <= event <= 255:
            raise TelephoneEventError(f"event {event} out of range 0-255")
        self._queue.append((event, duration, now, timestamp))
        return self.poll(now)

    def send_digits(self, digits: str, now: float, timestamp: int, *, duration: float = 0.1) -> list[EventPacket]:
        """Queue DTMF ``digits`` of ``duration`` seconds each (SendDTMF, SIP INFO hand-off)."""
        codes = [digit_to_event(digit) for digit in digits]
        for code in codes:
            self._queue.append((code, duration, now, timestamp))
        return self.poll(now)

    def stop(self, now: float) -> list[EventPacket]:
        """End the event started without a duration (the tone stopped); returns the packets due now."""
        active = self._active
        if active is not None and active.final is None:
            elapsed = round((now - active.start_time) * self.clock_rate)
            active.final = max(active.reported, elapsed, 1)
            active.stop_time = now
        return self.poll(now)

    def next_time(self) -> float | None:
        """When :meth:`poll` next has something to send."""
        times = [due for due, _ in self._copies]
        if self._active is not None:
            times.append(self._active.next_time(self.interval))
        elif self._queue:
            times.append(max(self._quiet_from, self._queue[0][2]))
        return min(times) if times else None

    def poll(self, now: float) -> list[EventPacket]:
        """Every packet due by ``now``, in order."""
        out: list[EventPacket] = []
        while True:
            due = self.next_time()
            if due is None or due > now + 1e-9:
                return out
            copy_due = min((d for d, _ in self._copies), default=None)
            if copy_due is not None and copy_due <= due + 1e-9:
                index = min(range(len(self._copies)), key=lambda i: self._copies[i][0])
                out.append(self._copies.pop(index)[1])
                continue
            if self._active is None:
                self._begin_queued(due)
            self._emit(out)

    def _begin_queued(self, when: float) -> None:
        code, duration, requested, timestamp = self._queue.popleft()
        timestamp = (timestamp + round((when - requested) * self.clock_rate)) & _TS_MASK
        fixed = None if duration is None else max(1, round(duration * self.clock_rate))
        volume = 0 if code == HOOK_FLASH else self.volume  # flash is not a tone: volume 0 (§2.3.4)
        self._active = _TxEvent(code, when, timestamp, fixed, volume)

    def _emit(self, out: list[EventPacket]) -> None:
        active = self._active
        assert active is not None
        send_time = active.next_time(self.interval)
        total = (active.index + 1) * self.interval_units
        ending = True
        if active.final is not None:
            total = active.final
        elif active.fixed is not None and total >= active.fixed:
            total = active.fixed
        else:
            ending = False
        total = max(total, active.reported)
        # A segment boundary crossed since the last packet: close that segment first (§2.5.1.3).
        while total > (active.segment + 1) * MAX_DURATION:
            packet = self._packet(active, MAX_DURATION, end=False, marker=False)
            out.append(packet)
            self._repeat(packet, send_time)
            active.segment += 1
        marker = active.index == 0
        packet = self._packet(active, total - active.segment * MAX_DURATION, end=ending, marker=marker)
        out.append(packet)
        active.reported = total
        active.index += 1
        if ending:
            self._repeat(packet, send_time)
            last_copy = send_time + (self.end_copies - 1) * self.interval
            self._quiet_from = last_copy + self.interval
            self._active = None

    def _packet(self, active: _TxEvent, duration: int, *, end: bool, marker: bool) -> EventPacket:
        block = TelephoneEvent(active.code, end, active.volume, duration)
        timestamp = (active.timestamp + active.segment * MAX_DURATION) & _TS_MASK
        return EventPacket(block.serialize(), timestamp, marker, block)

    def _repeat(self, packet: EventPacket, sent_at: float) -> None:
        copy = EventPacket(packet.payload, packet.timestamp, False, packet.block)
        for k in range(1, self.end_copies):
            self._copies.append((sent_at + k * self.interval, copy))


# -- receiver ----------------------------------------------------------------------------------------------

class EndReason(Enum):
    """Why the receiver ended an event."""

    END = "end"
    """An end packet (E bit) arrived."""
    TIMEOUT = "timeout"
    """No packet of the event for ``timeout`` seconds: its end packets were lost."""
    SUPERSEDED = "superseded"
    """A newer event started before its end packets arrived."""
    RESET = "reset"
    """The stream was reset (new source, call ended)."""


@dataclass(frozen=True, slots=True)
class TelephoneEventStarted:
    """An event began at RTP ``timestamp``; ``digit`` is its DTMF digit (``None`` for flash and others)."""

    event: int
    timestamp: int
    volume: int

    @property
    def digit(self) -> str | None:
        """The DTMF digit, or ``None``."""
        return event_to_digit(self.event)


@dataclass(frozen=True, slots=True)
class TelephoneEventEnded:
    """The event that began at ``timestamp`` ended after ``duration`` RTP units (``seconds`` at the clock
    rate; across segments the total); ``reason`` says how the receiver knew."""

    event: int
    timestamp: int
    duration: int
    seconds: float
    reason: EndReason

    @property
    def digit(self) -> str | None:
        """The DTMF digit, or ``None``."""
        return event_to_digit(self.event)


TelephoneEventReport = TelephoneEventStarted | TelephoneEventEnded


class _RxEvent:
    __slots__ = ("event", "timestamp", "segment_timestamp", "segment_base", "duration", "volume", "last_seen")

    def __init__(self, event: int, timestamp: int, volume: int, now: float) -> None:
        self.event = event
        self.timestamp = timestamp
        self.segment_timestamp = timestamp
        self.segment_base = 0
        self.duration = 0
        self.volume = volume
        self.last_seen = now


def _before(a: int, b: int) -> bool:
    """Serial-number order of RTP timestamps: ``a`` is earlier than ``b`` (modulo 2^32)."""
    return a != b and (a - b) & _TS_MASK >= 0x80000000


class TelephoneEventReceiver:
    """Turns received telephone-event packets into one start and one end report per event (RFC 4733 §2.5.2).

    ``timeout`` (seconds without a packet) ends an event whose end packets were all lost.  Packets of an
    event that has ended (E copies, late updates) are ignored.  A packet of an unseen event older than the
    newest one by less than ``late_window`` seconds (all its packets were overtaken by a later event's) is
    reported at once as a whole event, start and end, out of order rather than lost; an older timestamp
    further back is taken as a clock jump of the sender, i.e. a new event.
    """

    def __init__(self, *, clock_rate: int = 8000, timeout: float = 0.5, late_window: float = 2.0,
                 history: int = 32) -> None:
        self.clock_rate = clock_rate
        self.timeout = timeout
        self.late_window_units = round(late_window * clock_rate)
        self._active: _RxEvent | None = None
        self._finished: deque[tuple[int, int]] = deque(maxlen=history)
        self._last_finished: _RxEvent | None = None
        self._newest: int | None = None
        self.ignored_packets = 0
        self.late_events = 0

    @property
    def active_event(self) -> int | None:
        """The code of the event in progress, if any."""
        return None if self._active is None else self._active.event

    def receive(self, payload: bytes, timestamp: int, now: float) -> list[TelephoneEventReport]:
        """One telephone-event packet (its RTP payload and timestamp) received at ``now``; returns the
        start/end reports it causes.  Raises :class:`TelephoneEventError` for a malformed payload."""
        reports: list[TelephoneEventReport] = []
        for block in parse_telephone_event(payload):
            self._block(block, timestamp & _TS_MASK, now, reports)
            timestamp += block.duration  # a later block starts where this one ended (§2.5.1.5)
        return reports

    def next_timer(self) -> float | None:
        """When :meth:`handle_timer` may end an event by timeout."""
        return None if self._active is None else self._active.last_seen + self.timeout

    def handle_timer(self, now: float) -> list[TelephoneEventReport]:
        """End the event in progress if it has been silent for ``timeout`` seconds."""
        active = self._active
        if active is not None and now - active.last_seen >= self.timeout - 1e-9:
            return [self._finish(active, EndReason.TIMEOUT)]
        return []

    def reset(self) -> list[TelephoneEventReport]:
        """Forget the stream (the remote source changed): end the event in progress and the history."""
        reports: list[TelephoneEventReport] = []
        if self._active is not None:
            reports.append(self._finish(self._active, EndReason.RESET))
        self._finished.clear()
        self._last_finished = None
        self._newest = None
        return reports

    def _block(self, block: TelephoneEvent, timestamp: int, now: float, reports: list[TelephoneEventReport]) -> None:
        if (block.event, timestamp) in self._finished:
            self.ignored_packets += 1  # an end copy or a late packet of an event already reported
            return
        active = self._active
        if active is not None:
            if timestamp == active.segment_timestamp:
                if block.event != active.event:
                    self.ignored_packets += 1
                    return
                self._update(active, block, now, reports)
                return
            if block.event == active.event and timestamp == (active.segment_timestamp + MAX_DURATION) & _TS_MASK:
                self._finished.append((active.event, active.segment_timestamp))
                active.segment_timestamp = timestamp
                active.segment_base += MAX_DURATION
                self._newest = timestamp
                self._update(active, block, now, reports)
                return
            if self._is_late(timestamp):
                self._late_event(block, timestamp, now, reports)
                return
            reports.append(self._finish(active, EndReason.SUPERSEDED))
        else:
            last = self._last_finished
            if last is not None and block.event == last.event \
                    and timestamp == (last.segment_timestamp + MAX_DURATION) & _TS_MASK:
                # A further segment of an event already ended (timed out): still the same event.
                last.segment_timestamp = timestamp
                self._finished.append((block.event, timestamp))
                self._newest = timestamp
                self.ignored_packets += 1
                return
            if self._is_late(timestamp):
                self._late_event(block, timestamp, now, reports)
                return
        active = self._active = _RxEvent(block.event, timestamp, block.volume, now)
        self._newest = timestamp
        reports.append(TelephoneEventStarted(block.event, timestamp, block.volume))
        self._update(active, block, now, reports)

    def _late_event(self, block: TelephoneEvent, timestamp: int, now: float,
                    reports: list[TelephoneEventReport]) -> None:
        # Every packet of an earlier event arrived after a later event began: report it now, whole, rather
        # than lose the digit; it cannot become the active event again.
        self.late_events += 1
        late = _RxEvent(block.event, timestamp, block.volume, now)
        late.duration = block.duration
        reports.append(TelephoneEventStarted(block.event, timestamp, block.volume))
        self._finished.append((block.event, timestamp))
        reports.append(TelephoneEventEnded(block.event, timestamp, late.duration, late.duration / self.clock_rate,
                                           EndReason.END if block.end else EndReason.SUPERSEDED))

    def _is_late(self, timestamp: int) -> bool:
        newest = self._newest
        if newest is None or not _before(timestamp, newest):
            return False
        return (newest - timestamp) & _TS_MASK <= self.late_window_units

    def _update(self, active: _RxEvent, block: TelephoneEvent, now: float,
                reports: list[TelephoneEventReport]) -> None:
        active.duration = max(active.duration, active.segment_base + block.duration)
        active.last_seen = now
        if block.end:
            reports.append(self._finish(active, EndReason.END))

    def _finish(self, active: _RxEvent, reason: EndReason) -> TelephoneEventEnded:
        self._active = None
        self._finished.append((active.event, active.segment_timestamp))
        self._last_finished = active
        return TelephoneEventEnded(active.event, active.timestamp, active.duration,
                                   active.duration / self.clock_rate, reason)
