"""The asyncio shell of the SIP endpoint: UDP and TCP sockets, one timer, and the event pump.

Everything SIP is decided in the sans-IO :class:`~core.sip.endpoint.SipEndpoint`; this module only moves
bytes: datagrams in, framed stream messages in, whatever the endpoint wants sent out, and one
``loop.call_at`` for the endpoint's next deadline.  After every input it lets the channel driver consume
the endpoint's events (which may produce more output) until nothing is left to do.

UDP is read and written in batches (:mod:`cython_media.udp`: ``recvmmsg``/``sendmmsg``): every datagram
waiting when the socket becomes readable is fed to the endpoint, then what they produced leaves in one
system call.  Under load the batches grow by themselves, so the cost per message falls as the rate rises.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
from collections.abc import Callable

from core.sip.endpoint import SipEndpoint
from core.sip.message import SipParseError, StreamParser
from core.sip.transaction_messages import Transport
from cython_media.udp import recv_many, send_many

log = logging.getLogger("centralita.sip")

Address = tuple[str, int]
MAX_STREAM_BUFFER = 256 * 1024
_TICKS_PER_SECOND = 100  # timer granularity: 10 ms
READ_BATCH = 64  # datagrams read per wake-up before the endpoint's output is sent
MAX_SEND_QUEUE = 4096  # datagrams kept while the socket's send buffer is full; older ones are dropped (UDP)


class TransportError(OSError):
    """A listening socket could not be opened; ``str()`` is the one-line reason."""


class SipTransport:
    """UDP + TCP listeners for one endpoint."""

    def __init__(self, endpoint: SipEndpoint, on_events: Callable[[], None]) -> None:
        self.endpoint = endpoint
        self.on_events = on_events
        self._loop: asyncio.AbstractEventLoop | None = None
        self._udp: socket.socket | None = None
        self._udp_out: list[tuple[bytes, Address]] = []
        self._send_errors: list[tuple[int, Address, OSError]] = []
        self._writable_wait = False
        self._batching = False
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
            sock = await _bind_udp(loop, host, port)
        except OSError as exc:
            raise TransportError(f"cannot bind udp {host}:{port}: {_reason(exc)}") from None
        self._udp = sock
        loop.add_reader(sock.fileno(), self._on_readable)
        sockname = sock.getsockname()
        self.local_address = (sockname[0], sockname[1])
        if tcp:
            try:
                self._tcp_server = await loop.create_server(lambda: _TcpConnection(self), host,
                                                            self.local_address[1])
            except OSError as exc:
                self._close_udp()
                raise TransportError(f"cannot bind tcp {host}:{port}: {_reason(exc)}") from None

    async def stop(self) -> None:
        """Close every socket."""
        if self._timer is not None:
            self._timer.cancel()
        self._close_udp()
        for connection in list(self._tcp.values()):
            connection.close()
        if self._tcp_server is not None:
            self._tcp_server.close()
            await self._tcp_server.wait_closed()

    def _close_udp(self) -> None:
        sock, self._udp = self._udp, None
        if sock is not None:
            if self._loop is not None:
                self._loop.remove_reader(sock.fileno())
                if self._writable_wait:
                    self._loop.remove_writer(sock.fileno())
            self._writable_wait = False
            self._udp_out.clear()
            sock.close()

    # -- input ----------------------------------------------------------------------------------------

    def datagram(self, data: bytes, source: Address) -> None:
        """One datagram from ``source`` (the batched reader feeds several before one flush)."""
        self.endpoint.receive_datagram(data, source, "udp", self.now())
        self.flush()

    def _on_readable(self) -> None:
        sock = self._udp
        if sock is None:
            return
        try:
            batch = recv_many(sock, READ_BATCH)
        except OSError as exc:
            log.warning("udp receive failed: %s", exc)
            return
        if not batch:
            return
        # Each datagram is fed and its events handled before the next one (the driver's reaction to one
        # message can decide how the next is answered); only the sending waits for the end of the batch.
        receive = self.endpoint.receive_datagram
        flush = self.flush
        self._batching = True
        try:
            for data, source in batch:
                try:
                    receive(data, source, "udp", self.now())
                    flush()
                except Exception:
                    log.exception("SIP datagram from %s:%d crashed the endpoint", source[0], source[1])
        finally:
            self._batching = False
        self._send_udp()
        self._arm_timer()

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
        if not self._batching:
            if self._udp_out:
                self._send_udp()
            self._arm_timer()

    def _send(self, data: bytes, destination: Address, transport: Transport) -> None:
        if transport == "udp":
            self._udp_out.append((data, destination))
            return
        connection = self._tcp.get(destination)
        if connection is not None and not connection.closed:
            connection.write(data)
            return
        assert self._loop is not None
        self._loop.create_task(self._connect_and_send(destination, data))

    def _send_udp(self) -> None:
        """Send the queued datagrams in order (one ``sendmmsg``); keep the rest while the buffer is full."""
        queue = self._udp_out
        sock = self._udp
        if sock is None:
            queue.clear()
            return
        if self._writable_wait:
            if len(queue) > MAX_SEND_QUEUE:
                log.warning("udp send buffer full: dropped %d datagram(s)", len(queue) - MAX_SEND_QUEUE)
                del queue[: len(queue) - MAX_SEND_QUEUE]
            return
        errors = self._send_errors
        sent = send_many(sock, queue, errors)
        if errors:
            for _index, destination, exc in errors:
                log.warning("cannot send to %s:%d: %s", destination[0], destination[1], exc)
            errors.clear()
        if sent >= len(queue):
            queue.clear()
            return
        del queue[:sent]
        if self._loop is not None:
            self._writable_wait = True
            self._loop.add_writer(sock.fileno(), self._on_writable)

    def _on_writable(self) -> None:
        if self._udp is not None and self._loop is not None:
            self._loop.remove_writer(self._udp.fileno())
        self._writable_wait = False
        self._send_udp()

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


async def _bind_udp(loop: asyncio.AbstractEventLoop, host: str, port: int) -> socket.socket:
    """A non-blocking UDP socket bound to ``host:port`` (the first address ``host`` resolves to that binds)."""
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE)
    error: OSError = OSError("no address")
    for family, kind, proto, _name, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            sock.bind(address)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        return sock
    raise error


def _reason(exc: OSError) -> str:
    # uvloop wraps the bind error in a generic one and keeps the errno in __cause__.
    cause = exc.__cause__ if isinstance(exc.__cause__, OSError) else exc
    errno = cause.errno or exc.errno
    text = os.strerror(errno) if errno else (exc.strerror or str(exc))
    return text[0].lower() + text[1:] if text else "unknown error"
