"""The asyncio shell of the SIP endpoint: UDP and TCP sockets, one timer, and the event pump.

Everything SIP is decided in the sans-IO :class:`~core.sip.endpoint.SipEndpoint`; this module only moves
bytes: datagrams in, framed stream messages in, whatever the endpoint wants sent out, and one
``loop.call_at`` for the endpoint's next deadline.  After every input it lets the channel driver consume
the endpoint's events (which may produce more output) until nothing is left to do.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
from collections.abc import Callable

from core.sip.endpoint import SipEndpoint
from core.sip.message import SipParseError, StreamParser
from core.sip.transaction_messages import Transport

log = logging.getLogger("centralita.sip")

Address = tuple[str, int]
MAX_STREAM_BUFFER = 256 * 1024
_TICKS_PER_SECOND = 100  # timer granularity: 10 ms


class TransportError(OSError):
    """A listening socket could not be opened; ``str()`` is the one-line reason."""


class SipTransport:
    """UDP + TCP listeners for one endpoint."""

    def __init__(self, endpoint: SipEndpoint, on_events: Callable[[], None]) -> None:
        self.endpoint = endpoint
        self.on_events = on_events
        self._loop: asyncio.AbstractEventLoop | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp_server: asyncio.AbstractServer | None = None
        self._tcp: dict[Address, _TcpConnection] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._flushing = False
        self.local_address: Address | None = None

    def now(self) -> float:
        """Monotonic time of the event loop (the only clock the SIP stack uses)."""
        assert self._loop is not None
        return self._loop.time()

    async def start(self, host: str, port: int, *, tcp: bool = True) -> None:
        """Bind UDP (and TCP) on ``host:port``; raises :class:`TransportError` with a one-line reason."""
        loop = self._loop = asyncio.get_running_loop()
        try:
            transport, _protocol = await loop.create_datagram_endpoint(lambda: _UdpProtocol(self),
                                                                       local_addr=(host, port))
        except OSError as exc:
            raise TransportError(f"cannot bind udp {host}:{port}: {_reason(exc)}") from None
        self._udp = transport
        sockname = transport.get_extra_info("sockname")
        self.local_address = (sockname[0], sockname[1])
        if tcp:
            try:
                self._tcp_server = await loop.create_server(lambda: _TcpConnection(self), host,
                                                            self.local_address[1])
            except OSError as exc:
                transport.close()
                raise TransportError(f"cannot bind tcp {host}:{port}: {_reason(exc)}") from None

    async def stop(self) -> None:
        """Close every socket."""
        if self._timer is not None:
            self._timer.cancel()
        if self._udp is not None:
            self._udp.close()
        for connection in list(self._tcp.values()):
            connection.close()
        if self._tcp_server is not None:
            self._tcp_server.close()
            await self._tcp_server.wait_closed()

    # -- input ----------------------------------------------------------------------------------------

    def datagram(self, data: bytes, source: Address) -> None:
        self.endpoint.receive_datagram(data, source, "udp", self.now())
        self.flush()

    def stream_message(self, message: object, source: Address, transport: Transport) -> None:
        self.endpoint.receive_message(message, source, transport, self.now())  # type: ignore[arg-type]
        self.flush()

    def stream_error(self, data: bytes, reason: str, source: Address) -> None:
        self.endpoint._reply_unparsable(data, reason, source, "tcp")
        self.flush()

    # -- output ---------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Send what the endpoint produced, let the driver react to events, re-arm the timer."""
        if self._flushing:
            return
        self._flushing = True
        endpoint = self.endpoint
        send = self._send
        try:
            for _round in range(1000):
                out = endpoint.datagrams_to_send()
                for data, destination, transport in out:
                    send(data, destination, transport)
                if not endpoint.events:
                    if not out:
                        break
                    continue
                self.on_events()
        finally:
            self._flushing = False
        self._arm_timer()

    def _send(self, data: bytes, destination: Address, transport: Transport) -> None:
        if transport == "udp":
            if self._udp is not None:
                try:
                    self._udp.sendto(data, destination)
                except OSError as exc:
                    log.warning("cannot send to %s:%d: %s", destination[0], destination[1], exc)
            return
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

    def _arm_timer(self) -> None:
        deadline = self.endpoint.get_timer()
        if deadline is not None:
            # Round up to the timer granularity: the timers due within one tick run in one callback (and
            # one flush) instead of one loop timer each; 10 ms is far below T1 (500 ms).
            deadline = math.ceil(deadline * _TICKS_PER_SECOND) / _TICKS_PER_SECOND
        if deadline == self._timer_at:
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


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, owner: SipTransport) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            self.owner.datagram(data, (addr[0], addr[1]))
        except Exception:
            log.exception("SIP datagram from %s:%d crashed the endpoint", addr[0], addr[1])

    def error_received(self, exc: Exception) -> None:
        log.debug("udp error: %s", exc)


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


def _reason(exc: OSError) -> str:
    # uvloop wraps the bind error in a generic one and keeps the errno in __cause__.
    cause = exc.__cause__ if isinstance(exc.__cause__, OSError) else exc
    errno = cause.errno or exc.errno
    text = os.strerror(errno) if errno else (exc.strerror or str(exc))
    return text[0].lower() + text[1:] if text else "unknown error"
