"""The asyncio shell of the IAX2 endpoint: one UDP socket, one timer, and the event pump.

Everything IAX2 is decided in the sans-IO :class:`~core.iax2.endpoint.IaxEndpoint`; this module only moves
datagrams in and out and keeps one ``loop.call_at`` armed for the endpoint's next deadline (retransmissions,
pings, registration refreshes, the trunk timer).  After every input it lets the channel driver consume the
endpoint's events (which may produce more output) until nothing is left to do, as ``core/sip/transport.py``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from core.iax2.endpoint import IaxEndpoint
from core.udp_shell import Address, UdpShell, socket_error_reason

log = logging.getLogger("centralita.iax2")

Tap = Callable[[bytes, Address, bool], None]
"""``tap(datagram, peer, sent)``: sees every datagram (tests write captures with it)."""


class TransportError(OSError):
    """The UDP socket could not be opened; ``str()`` is the one-line reason."""


class IaxTransport(UdpShell):
    """The UDP socket of one IAX2 endpoint."""

    def __init__(self, endpoint: IaxEndpoint, on_events: Callable[[], None], *, tap: Tap | None = None) -> None:
        super().__init__(log)
        self.endpoint = endpoint
        self.on_events = on_events
        self.tap = tap

    async def start(self, host: str, port: int) -> None:
        """Bind ``host:port`` and start the endpoint (registrations, qualify)."""
        try:
            await self._open_udp(host, port)
        except OSError as exc:
            raise TransportError(f"cannot bind udp {host}:{port}: {socket_error_reason(exc)}") from None
        self.endpoint.start(self.now())
        self.flush()

    async def stop(self, *, release: bool = True, linger: float = 1.0) -> None:
        """Hang up calls and release registrations (when ``release``), give the peers up to ``linger`` seconds
        to acknowledge (a REGREL is challenged before it counts), then close the socket."""
        if release and self._loop is not None and self._udp is not None:
            self.endpoint.stop(self.now())
            self.flush()
            deadline = self.now() + linger
            while self.endpoint.calls and self.now() < deadline:
                await asyncio.sleep(0.02)
        self._close_udp()

    def datagram(self, data: bytes, source: Address) -> None:
        """One datagram from the socket."""
        self._feed(data, source, self.now())
        self.flush()

    # -- the endpoint ---------------------------------------------------------------------------------

    def _feed(self, data: bytes, source: Address, now: float) -> None:
        if self.tap is not None:
            self.tap(data, source, False)
        self.endpoint.receive_datagram(data, source, now)

    def _drain(self) -> bool:
        out = self.endpoint.datagrams_to_send()
        if self._udp is None:
            return bool(out)
        tap = self.tap
        for data, destination in out:
            if tap is not None:
                tap(data, destination, True)
            self.send_datagram(data, destination)
        return bool(out)

    def _has_events(self) -> bool:
        return bool(self.endpoint.events)

    def _handle_events(self) -> None:
        self.on_events()

    def _deadline(self) -> float | None:
        return self.endpoint.get_timer()

    def _expire(self, now: float) -> None:
        self.endpoint.handle_timer(now)
