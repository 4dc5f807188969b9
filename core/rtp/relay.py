"""The same-codec RTP bridge for the asyncio side: one relay engine thread, its events as awaitables.

A bridge between two RTP legs with the same codec does not decode: :class:`RtpRelay` hands both legs'
sockets to the relay engine (``cython_media.relay``: a native loop in its own thread, or the pure twin),
which forwards packets with the SSRC/sequence/timestamp rewrite of RFC 3550 §7 and latches NAT'd phones
(RFC 4961).  The asyncio side only configures pairs, reads counters and awaits events: an RTP timeout
(no media from a phone for ``Leg.rtp_timeout`` seconds; the owner usually hangs the call up, as Asterisk's
``rtptimeout`` does) and latching.  It follows the gateway's service contract (``name``, ``start``,
``stop``).
"""

from __future__ import annotations

import asyncio
import logging

from cython_media.relay import (
    ACCELERATED,
    Leg,
    LegStats,
    RelayEngine,
    RelayError,
    RelayEvent,
    RemoteLatched,
    RtcpMode,
    RtpTimeout,
    Side,
)

__all__ = [
    "Leg",
    "LegStats",
    "RelayError",
    "RelayEvent",
    "RemoteLatched",
    "RtcpMode",
    "RtpRelay",
    "RtpTimeout",
    "Side",
]

log = logging.getLogger("centralita.rtp")


class RtpRelay:
    """Relays RTP between bridged legs in a native thread; events reach asyncio through an eventfd.

    ``bridge``/``unbridge``/``stats`` may be called from the event loop at any time (they take the
    engine's lock for microseconds).  Events are queued until :meth:`next_event` takes them; a consumer
    that never reads them costs memory only up to the queue bound (the oldest events are dropped).
    """

    name = "rtp-relay"

    def __init__(self, engine: RelayEngine | None = None, *, max_queued_events: int = 4096) -> None:
        self._engine = engine if engine is not None else RelayEngine()
        self._queue: asyncio.Queue[RelayEvent] | None = None
        self._max_queued = max_queued_events
        self._loop: asyncio.AbstractEventLoop | None = None
        self.events_dropped = 0

    @property
    def engine(self) -> RelayEngine:
        """The relay engine (compiled or pure twin)."""
        return self._engine

    async def start(self) -> None:
        """Start the relay thread and watch its events from the running loop."""
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._engine.start()
        self._loop.add_reader(self._engine.fileno(), self._drain)
        log.info("RTP relay started (%s engine)", "compiled" if ACCELERATED else "pure-Python")

    async def stop(self) -> None:
        """Stop the thread, forget every pair and release the engine's sockets; never raises."""
        if self._loop is not None:
            self._loop.remove_reader(self._engine.fileno())
            self._loop = None
        try:
            await asyncio.to_thread(self._engine.close)
        except RelayError as exc:
            log.error("RTP relay did not stop cleanly: %s", exc)

    def bridge(self, a: Leg, b: Leg, *, clock_rate: int = 8000, rtcp: RtcpMode = RtcpMode.FORWARD) -> int:
        """Relay between legs ``a`` and ``b``; returns the pair id (see :class:`Leg`)."""
        return self._engine.add_pair(a, b, clock_rate=clock_rate, rtcp=rtcp)

    def unbridge(self, pair_id: int) -> tuple[LegStats, LegStats]:
        """Stop relaying ``pair_id``; its sockets are the caller's again.  Returns the legs' final counters
        (``next_seq``/``next_timestamp``: where each outgoing stream continues)."""
        return self._engine.remove_pair(pair_id)

    def set_remote(self, pair_id: int, side: Side, remote: tuple[str, int] | None, *, latch: bool = False) -> None:
        """New remote for one leg (re-INVITE), or learn it again with ``latch``."""
        self._engine.set_remote(pair_id, side, remote, latch=latch)

    def stats(self, pair_id: int) -> tuple[LegStats, LegStats]:
        """Counters of both legs of ``pair_id``."""
        return self._engine.stats(pair_id)

    async def next_event(self) -> RelayEvent:
        """The next RTP timeout or latching event (waits for one)."""
        if self._queue is None:
            raise RelayError("RTP relay not started")
        return await self._queue.get()

    def _drain(self) -> None:
        queue = self._queue
        if queue is None:
            return
        for event in self._engine.events():
            if queue.qsize() >= self._max_queued:
                queue.get_nowait()
                self.events_dropped += 1
            queue.put_nowait(event)
