"""What the asyncio shells of the sans-IO datagram endpoints (SIP, IAX2) share: the UDP socket, the event
pump and the one timer.

The protocol is decided in a sans-IO endpoint fed with bytes and ``now``; a shell only moves datagrams and
keeps one ``loop.call_at`` armed for the endpoint's next deadline.  Reading is batched: when the socket
becomes readable every waiting datagram is taken with one ``recvmmsg`` (:mod:`cython_media.udp`); each is
fed to the endpoint and its events handled (:meth:`UdpShell.flush`) before the next, and what they all
produced leaves with one ``sendmmsg`` after the endpoint's end-of-batch work (the SIP registrar commits the
batch's registrations together there, before any of their 200s leaves).  Output made outside a read (a
dialplan task answering, a timer) is sent at the end of the loop's current round, together with whatever the
other tasks of that round produced.  Under load the batches grow by themselves, so the cost per message falls
as the rate rises.

The receive buffer is deepened to :data:`RECEIVE_BUFFER`.  Linux's default (212,992 bytes) holds only
about 166 datagrams of 500 bytes (each is charged 1,280 bytes), which is 28 ms of a registration storm at
6,000 datagrams/s: a collector pause or a slow disk write longer than that dropped requests, and every
dropped request comes back after T1 (500 ms) as a retransmission.  2 MiB hold about 1,600 such
datagrams, some 270 ms at that rate: a pause is absorbed, while the oldest request still waits less than
T1, so a sustained overload is not hidden behind answers too late to count.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import sys

from cython_media.udp import recv_many, send_many

Address = tuple[str, int]
READ_BATCH = 64  # datagrams read per wake-up before their output is sent
MAX_SEND_QUEUE = 4096  # datagrams kept while the send buffer is full; older ones are dropped (it is UDP)
RECEIVE_BUFFER = 2 * 1024 * 1024  # bytes of queued datagrams the kernel keeps for the socket (see above)
_SO_RCVBUFFORCE = 33  # Linux: like SO_RCVBUF, past net.core.rmem_max, with CAP_NET_ADMIN


def deepen_receive_buffer(sock: socket.socket, size: int = RECEIVE_BUFFER) -> int:
    """Ask the kernel to keep ``size`` bytes of datagrams queued for ``sock``; the size it grants.

    Linux doubles the number asked for (half is its bookkeeping) and caps what an unprivileged process
    gets at ``net.core.rmem_max``; with CAP_NET_ADMIN (the gateway as root) ``SO_RCVBUFFORCE`` goes past it.
    """
    want = size // 2 if sys.platform.startswith("linux") else size
    options = ([_SO_RCVBUFFORCE] if sys.platform.startswith("linux") else []) + [socket.SO_RCVBUF]
    for option in options:
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, want)
        except OSError:
            continue
        break
    return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))


class UdpShell:
    """Base of a shell: subclasses say how a datagram is fed (:meth:`_feed`), what one round of output is
    (:meth:`_drain`), whether events wait (:meth:`_has_events`), the deadline (:meth:`_deadline`) and what the
    timer does (:meth:`_expire`).  ``timer_ticks`` > 0 rounds deadlines up to that many per second, so that
    the deadlines falling in one tick run in one callback."""

    timer_ticks = 0

    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        self._loop: asyncio.AbstractEventLoop | None = None
        self._udp: socket.socket | None = None
        self._udp_out: list[tuple[bytes, Address]] = []
        self._send_errors: list[tuple[int, Address, OSError]] = []
        self._writable_wait = False
        self._batching = False
        self._flushing = False
        self._send_scheduled = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self.local_address: Address | None = None

    # -- hooks ----------------------------------------------------------------------------------------

    def _feed(self, data: bytes, source: Address, now: float) -> None:
        raise NotImplementedError

    def _drain(self) -> bool:
        """Queue (:meth:`send_datagram`) one round of the endpoint's output; whether there was any."""
        raise NotImplementedError

    def _has_events(self) -> bool:
        raise NotImplementedError

    def _handle_events(self) -> None:
        raise NotImplementedError

    def _deadline(self) -> float | None:
        raise NotImplementedError

    def _expire(self, now: float) -> None:
        raise NotImplementedError

    def _begin_batch(self) -> None:
        """Several datagrams are about to be fed at once (the SIP shell groups the registrar's commits)."""

    def _end_batch(self) -> None:
        """The batch has been fed; its output is sent after this returns."""

    # -- socket ---------------------------------------------------------------------------------------

    def now(self) -> float:
        """Monotonic time of the event loop (the only clock the protocol stacks use)."""
        assert self._loop is not None
        return self._loop.time()

    async def _open_udp(self, host: str, port: int) -> None:
        """Bind a non-blocking UDP socket to ``host:port`` and start reading; raises :class:`OSError`."""
        loop = self._loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE)
        error = OSError(f"{host}: no address")
        for family, kind, proto, _name, address in infos:
            sock = socket.socket(family, kind, proto)
            try:
                sock.setblocking(False)
                sock.bind(address)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            granted = deepen_receive_buffer(sock)
            if granted < RECEIVE_BUFFER:
                self.log.warning("udp receive buffer is %d bytes, not %d: a burst of requests longer than %d ms "
                                 "at 6,000/s is dropped (raise net.core.rmem_max or run with CAP_NET_ADMIN)",
                                 granted, RECEIVE_BUFFER, granted * 1000 // (1280 * 6000))
            self._udp = sock
            loop.add_reader(sock.fileno(), self._on_readable)
            name = sock.getsockname()
            self.local_address = (name[0], name[1])
            return
        raise error

    def _close_udp(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._timer_at = None
        sock, self._udp = self._udp, None
        if sock is None:
            return
        if self._loop is not None:
            self._loop.remove_reader(sock.fileno())
            if self._writable_wait:
                self._loop.remove_writer(sock.fileno())
        self._writable_wait = False
        self._udp_out.clear()
        sock.close()

    # -- input ----------------------------------------------------------------------------------------

    def _on_readable(self) -> None:
        sock = self._udp
        if sock is None:
            return
        try:
            batch = recv_many(sock, READ_BATCH)
        except OSError as exc:
            self.log.warning("udp receive failed: %s", exc)
            return
        if not batch:
            return
        self._batching = True
        grouped = len(batch) > 1  # one datagram alone needs no end-of-batch work
        try:
            if grouped:
                self._begin_batch()
            for data, source in batch:
                try:
                    self._feed(data, source, self.now())
                    self.flush()
                except Exception:
                    self.log.exception("datagram from %s:%d crashed the endpoint", source[0], source[1])
        finally:
            if grouped:
                try:
                    self._end_batch()
                    self.flush()
                except Exception:
                    self.log.exception("ending a batch of %d datagrams crashed the endpoint", len(batch))
            self._batching = False
        self._send_queued()
        self._arm_timer()

    # -- output ---------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Queue what the endpoint produced, let the driver react to its events until nothing is left, then
        (outside a read batch) send and re-arm the timer."""
        if self._flushing:
            return
        self._flushing = True
        try:
            for _round in range(1000):
                produced = self._drain()
                if self._has_events():
                    self._handle_events()
                elif not produced:
                    break
        finally:
            self._flushing = False
        if not self._batching and not self._send_scheduled:
            loop = self._loop
            if loop is None:
                self._send_round()
            else:
                # Everything the tasks of this round of the loop produce leaves with one sendmmsg.
                self._send_scheduled = True
                loop.call_soon(self._send_round)

    def _send_round(self) -> None:
        self._send_scheduled = False
        if self._batching:
            return  # a read batch is under way: it sends and re-arms the timer when it ends
        if self._udp_out:
            self._send_queued()
        self._arm_timer()

    def send_datagram(self, data: bytes, destination: Address) -> None:
        """Queue one datagram; it leaves with the rest of this round's output."""
        self._udp_out.append((data, destination))

    def _send_queued(self) -> None:
        queue = self._udp_out
        sock = self._udp
        if sock is None:
            queue.clear()
            return
        if self._writable_wait:
            if len(queue) > MAX_SEND_QUEUE:
                self.log.warning("udp send buffer full: dropped %d datagram(s)", len(queue) - MAX_SEND_QUEUE)
                del queue[: len(queue) - MAX_SEND_QUEUE]
            return
        errors = self._send_errors
        sent = send_many(sock, queue, errors)
        if errors:
            for _index, destination, exc in errors:
                self.log.warning("cannot send to %s:%d: %s", destination[0], destination[1], exc)
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
        self._send_queued()

    # -- timer ----------------------------------------------------------------------------------------

    def _arm_timer(self) -> None:
        deadline = self._deadline()
        if deadline is not None and self.timer_ticks:
            deadline = math.ceil(deadline * self.timer_ticks) / self.timer_ticks
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
        self._expire(self.now())
        self.flush()


def socket_error_reason(exc: OSError) -> str:
    """The one-line reason of a bind/connect error: ``address already in use``."""
    # uvloop wraps some errors in a generic one and keeps the errno in __cause__.
    cause = exc.__cause__ if isinstance(exc.__cause__, OSError) else exc
    errno = cause.errno or exc.errno
    text = os.strerror(errno) if errno else (exc.strerror or str(exc))
    return text[0].lower() + text[1:] if text else "unknown error"
