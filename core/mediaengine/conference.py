"""Conference rooms: N parties on one 20 ms mixing clock, each hearing the saturated sum of the others.

What ``ConfBridge(room)`` runs on.  A :class:`Conference` is created by its first party and ends with
its last.  Every party's port is read by a task of its own (for an RTP leg that read comes out of the
port's jitter buffer at the sender's packet time, see :mod:`core.mediaengine.port`), its samples are
queued, and once per 20 ms the room takes one frame from every party (silence from one that has nothing
ready), mixes with :func:`cython_media.mix.mix_minus` (each party hears everybody but itself, saturated
16-bit sums, muted parties contribute nothing) and writes the result back to each port.

A party's queue is primed with two frames before the room takes from it, and primed again after it
runs dry, so senders with 30 ms packets or a slightly different clock neither click nor drift: the queue
is capped (:data:`MAX_QUEUED_MS`), the oldest audio going first when a sender runs fast.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cython_media.mix import UNITY_GAIN, mix_minus

if TYPE_CHECKING:
    from core.channel import Channel
    from core.mediaengine.engine import AudioPort

log = logging.getLogger("centralita.media")

FRAME_BYTES = 320           # 20 ms of 16-bit linear at 8 kHz
SILENCE = bytes(FRAME_BYTES)
PERIOD = 0.020
PRIME_BYTES = 2 * FRAME_BYTES
MAX_QUEUED_MS = 120
MAX_QUEUED_BYTES = MAX_QUEUED_MS * 16
MAX_LAG = 0.2               # a mixing clock this late restarts instead of mixing in a burst


@dataclass(eq=False)
class Party:
    """One channel in a room."""

    channel: Channel
    port: AudioPort
    joined: float = field(default_factory=time.monotonic)
    muted: bool = False
    queued: bytearray = field(default_factory=bytearray)
    primed: bool = False
    reader: asyncio.Task[None] | None = None

    def take(self) -> bytes:
        """This party's next 20 ms for the mix (silence while its queue primes)."""
        queued = self.queued
        if not self.primed:
            if len(queued) < PRIME_BYTES:
                return SILENCE
            self.primed = True
        if len(queued) < FRAME_BYTES:
            self.primed = False  # ran dry: wait for two frames again
            return SILENCE
        frame = bytes(queued[:FRAME_BYTES])
        del queued[:FRAME_BYTES]
        return frame

    async def read(self) -> None:
        """Queue what the port receives until it closes."""
        port = self.port
        queued = self.queued
        while (frame := await port.read_frame()) is not None:
            queued += frame
            if len(queued) > MAX_QUEUED_BYTES:
                del queued[:len(queued) - MAX_QUEUED_BYTES]


class Conference:
    """One room: its parties and its mixing clock."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.parties: list[Party] = []
        self.created = time.monotonic()
        self.mixed = 0  # frame periods mixed
        self._task: asyncio.Task[None] | None = None

    def join(self, channel: Channel, port: AudioPort) -> Party:
        """Add a party; the mixing clock starts with the first."""
        party = Party(channel, port)
        party.reader = asyncio.ensure_future(party.read())
        self.parties.append(party)
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())
        log.info("ConfBridge %s: %s joined (%d in the room)", self.name, channel.name, len(self.parties))
        return party

    def leave(self, party: Party) -> None:
        """Remove a party (its reader stops); the clock stops with the last one."""
        if party in self.parties:
            self.parties.remove(party)
            log.info("ConfBridge %s: %s left (%d in the room)", self.name, party.channel.name, len(self.parties))
        if party.reader is not None:
            party.reader.cancel()
        if not self.parties and self._task is not None:
            self._task.cancel()
            self._task = None

    def mix_once(self) -> None:
        """One frame period: take a frame from every party, send each the mix of the others."""
        parties = [p for p in self.parties if not p.port.closed]
        if not parties:
            return
        frames = [p.take() for p in parties]
        gains = [0 if p.muted else UNITY_GAIN for p in parties]
        for party, heard in zip(parties, mix_minus(frames, talk_gains=gains), strict=True):
            party.port.write_frame(heard)
        self.mixed += 1

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while self.parties:
            next_at += PERIOD
            delay = next_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -MAX_LAG:
                next_at = loop.time()
            try:
                self.mix_once()
            except Exception:  # a party's port failing must not silence the room
                log.exception("ConfBridge %s: mixing failed", self.name)


class ConferenceRooms:
    """The rooms of one media engine, by name."""

    def __init__(self) -> None:
        self._rooms: dict[str, Conference] = {}

    def join(self, name: str, channel: Channel, port: AudioPort) -> tuple[Conference, Party]:
        room = self._rooms.get(name)
        if room is None:
            room = self._rooms[name] = Conference(name)
        return room, room.join(channel, port)

    def leave(self, room: Conference, party: Party) -> None:
        room.leave(party)
        if not room.parties and self._rooms.get(room.name) is room:
            del self._rooms[room.name]

    def get(self, name: str) -> Conference | None:
        return self._rooms.get(name)

    def __iter__(self) -> Iterator[Conference]:
        return iter(sorted(self._rooms.values(), key=lambda room: room.name))

    def __len__(self) -> int:
        return len(self._rooms)


__all__ = ["Conference", "ConferenceRooms", "Party"]
