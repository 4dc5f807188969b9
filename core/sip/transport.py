"""The asyncio shell of the SIP endpoint: UDP and TCP sockets, one timer, and the event pump.

Everything SIP is decided in the sans-IO :class:`~core.sip.endpoint.SipEndpoint`; this module only moves
bytes: datagrams in (batched, :mod:`core.udp_shell`), framed stream messages in, whatever the endpoint wants
sent out, and one ``loop.call_at`` for the endpoint's next deadline.  After every input it lets the channel
driver consume the endpoint's events (which may produce more output) until nothing is left to do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from core.sip.endpoint import SipEndpoint
from core.sip.message import SipParseError, StreamParser
from core.sip.transaction_messages import Transport
from core.udp_shell import Address, UdpShell, socket_error_reason

log = logging.getLogger("centralita.sip")

MAX_STREAM_BUFFER = 256 * 1024
_TICKS_PER_SECOND = 100  # timer granularity: 10 ms


class TransportError(OSError):
    """A listening socket could not be opened; ``str()`` is the one-line reason."""


class SipTransport(UdpShell):
    """UDP + TCP listeners for one endpoint."""

    # The timers due within one tick run in one callback (and one flush) instead of one loop timer each;
    # 10 ms is far below T1 (500 ms).
    timer_ticks = _TICKS_PER_SECOND

    def __init__(self, endpoint: SipEndpoint, on_events: Callable[[], None]) -> None:
        super().__init__(log)
        self.endpoint = endpoint
        self.on_events = on_events
        self._tcp_server: asyncio.AbstractServer | None = None
        self._tcp: dict[Address, _TcpConnection] = {}

    async def start(self, host: str, port: int, *, tcp: bool = True) -> None:
        """Bind UDP (and TCP) on ``host:port``; raises :class:`TransportError` with a one-line reason."""
        try:
            await self._open_udp(host, port)
        except OSError as exc:
            raise TransportError(f"cannot bind udp {host}:{port}: {socket_error_reason(exc)}") from None
        assert self._loop is not None and self.local_address is not None
        if tcp:
            try:
                self._tcp_server = await self._loop.create_server(lambda: _TcpConnection(self), host,
                                                                  self.local_address[1])
            except OSError as exc:
                self._close_udp()
                raise TransportError(f"cannot bind tcp {host}:{port}: {socket_error_reason(exc)}") from None

    async def stop(self) -> None:
        """Close every socket."""
        self._close_udp()
        for connection in list(self._tcp.values()):
            connection.close()
        if self._tcp_server is not None:
            self._tcp_server.close()
            await self._tcp_server.wait_closed()

    # -- the endpoint ---------------------------------------------------------------------------------

    def _feed(self, data: bytes, source: Address, now: float) -> None:
        self.endpoint.receive_datagram(data, source, "udp", now)

    def _drain(self) -> bool:
        out = self.endpoint.datagrams_to_send()
        for data, destination, transport in out:
            if transport == "udp":
                self.send_datagram(data, destination)
            else:
                self._send_stream(data, destination)
        return bool(out)

    def _has_events(self) -> bool:
        return bool(self.endpoint.events)

    def _handle_events(self) -> None:
        self.on_events()

    def _deadline(self) -> float | None:
        return self.endpoint.get_timer()

    def _expire(self, now: float) -> None:
        self.endpoint.handle_timer(now)

    def _begin_batch(self) -> None:
        self.endpoint.begin_batch()

    def _end_batch(self) -> None:
        self.endpoint.end_batch(self.now())

    # -- input ----------------------------------------------------------------------------------------

    def datagram(self, data: bytes, source: Address) -> None:
        """One datagram from ``source`` (the batched reader feeds several before sending)."""
        self.endpoint.receive_datagram(data, source, "udp", self.now())
        self.flush()

    def stream_message(self, message: object, source: Address, transport: Transport) -> None:
        self.endpoint.receive_message(message, source, transport, self.now())  # type: ignore[arg-type]
        self.flush()

    def stream_error(self, data: bytes, reason: str, source: Address) -> None:
        self.endpoint._reply_unparsable(data, reason, source, "tcp")
        self.flush()

    # -- output ---------------------------------------------------------------------------------------

    def _send_stream(self, data: bytes, destination: Address) -> None:
        connection = self._tcp.get(destination)
        if connection is not None and not connection.closed:
            connection.write(data)
            return
        assert self._loop is not None
        self._loop.create_task(self._connect_and_send(destination, data))

    async def _connect_and_send(self, destination: Address, data: bytes) -> None:
        assert self._loop is not None
        try:
            _transport, connection = await self._loop.create_connection(lambda: _TcpConnection(self), *destination)
        except OSError as exc:
            log.warning("cannot connect to %s:%d over tcp: %s", destination[0], destination[1], exc)
            return
        connection.write(data)


class _TcpConnection(asyncio.Protocol):
    def __init__(self, owner: SipTransport) -> None:
        self.owner = owner
        self.parser = StreamParser()
        self.transport: asyncio.Transport | None = None
        self.peer: Address = ("", 0)
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = (peer[0], peer[1])
        self.owner._tcp[self.peer] = self

    def data_received(self, data: bytes) -> None:
        try:
            messages = self.parser.feed(data)
        except SipParseError as exc:
            self.owner.stream_error(data, exc.reason, self.peer)
            self.close()
            return
        for message in messages:
            try:
                self.owner.stream_message(message, self.peer, "tcp")
            except Exception:
                log.exception("SIP message from %s:%d crashed the endpoint", *self.peer)

    def write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.owner._tcp.get(self.peer) is self:
            del self.owner._tcp[self.peer]
