"""The asyncio shell of the IAX2 endpoint: one UDP socket, one timer, and the event pump.

Everything IAX2 is decided in the sans-IO :class:`~core.iax2.endpoint.IaxEndpoint`; this module only moves
datagrams in and out and keeps one ``loop.call_at`` armed for the endpoint's next deadline (retransmissions,
pings, registration refreshes, the trunk timer).  After every input it lets the channel driver consume the
endpoint's events (which may produce more output) until nothing is left to do, as ``core/sip/transport.py``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable

from core.iax2.endpoint import IaxEndpoint

log = logging.getLogger("centralita.iax2")

Address = tuple[str, int]
Tap = Callable[[bytes, Address, bool], None]
"""``tap(datagram, peer, sent)``: sees every datagram (tests write captures with it)."""


class TransportError(OSError):
    """The UDP socket could not be opened; ``str()`` is the one-line reason."""


class IaxTransport:
    """The UDP socket of one IAX2 endpoint."""

    def __init__(self, endpoint: IaxEndpoint, on_events: Callable[[], None], *, tap: Tap | None = None) -> None:
        self.endpoint = endpoint
        self.on_events = on_events
        self.tap = tap
        self._loop: asyncio.AbstractEventLoop | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._flushing = False
        self.local_address: Address | None = None

    def now(self) -> float:
        """Monotonic time of the event loop (the only clock the IAX2 stack uses)."""
        assert self._loop is not None
        return self._loop.time()

    async def start(self, host: str, port: int) -> None:
        """Bind ``host:port`` and start the endpoint (registrations, qualify)."""
        loop = self._loop = asyncio.get_running_loop()
        try:
            transport, _protocol = await loop.create_datagram_endpoint(lambda: _Protocol(self),
                                                                       local_addr=(host, port))
        except OSError as exc:
            raise TransportError(f"cannot bind udp {host}:{port}: {_reason(exc)}") from None
        self._udp = transport
        sockname = transport.get_extra_info("sockname")
        self.local_address = (sockname[0], sockname[1])
        self.endpoint.start(self.now())
        self.flush()

    async def stop(self, *, release: bool = True, linger: float = 1.0) -> None:
        """Hang up calls and release registrations (when ``release``), give the peers up to ``linger`` seconds
        to acknowledge (a REGREL is challenged before it counts), then close the socket."""
        if release and self._loop is not None:
            self.endpoint.stop(self.now())
            self.flush()
            deadline = self.now() + linger
            while self.endpoint.calls and self.now() < deadline:
                await asyncio.sleep(0.02)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._udp is not None:
            self._udp.close()
            self._udp = None

    def datagram(self, data: bytes, source: Address) -> None:
        """One datagram from the socket."""
        if self.tap is not None:
            self.tap(data, source, False)
        self.endpoint.receive_datagram(data, source, self.now())
        self.flush()

    def flush(self) -> None:
        """Send what the endpoint produced, let the driver react to events, re-arm the timer."""
        if self._flushing:
            return
        self._flushing = True
        try:
            for _round in range(1000):
                out = self.endpoint.datagrams_to_send()
                for data, destination in out:
                    self._send(data, destination)
                had_events = bool(self.endpoint.events)
                if had_events:
                    self.on_events()
                if not out and not had_events:
                    break
        finally:
            self._flushing = False
        self._arm_timer()

    def _send(self, data: bytes, destination: Address) -> None:
        if self._udp is None:
            return
        if self.tap is not None:
            self.tap(data, destination, True)
        try:
            self._udp.sendto(data, destination)
        except OSError as exc:
            log.warning("cannot send to %s:%d: %s", destination[0], destination[1], exc)

    def _arm_timer(self) -> None:
        deadline = self.endpoint.get_timer()
        if deadline == self._timer_at and self._timer is not None:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None and self._loop is not None:
            self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        self.endpoint.handle_timer(self.now())
        self.flush()


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, owner: IaxTransport) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            self.owner.datagram(data, (addr[0], addr[1]))
        except Exception:
            log.exception("IAX2 datagram from %s:%d crashed the endpoint", addr[0], addr[1])

    def error_received(self, exc: Exception) -> None:
        log.debug("udp error: %s", exc)


def _reason(exc: OSError) -> str:
    cause = exc.__cause__ if isinstance(exc.__cause__, OSError) else exc
    errno = cause.errno or exc.errno
    text = os.strerror(errno) if errno else (exc.strerror or str(exc))
    return text[0].lower() + text[1:] if text else "unknown error"
