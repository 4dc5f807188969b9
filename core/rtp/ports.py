"""RTP port allocation from the configured range (``rtp.port_min`` / ``rtp.port_max``), sans-IO.

RTP takes an even port and RTCP the next odd one (RFC 3550 §11).  Ports are handed out round-robin: a
released port goes to the back of the queue, so it is not reused at once and stale packets of the call
that had it reach nobody's new call.  The allocator does not bind anything itself: it calls the injected
``try_bind(rtp_port)``, which binds the RTP/RTCP pair (or just RTP when RTCP is multiplexed) and returns
what it bound, or raises ``OSError`` (port taken by another program); the allocator then tries the next
port.  When every free port has failed or none is free, :class:`PortAllocationError` says so.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["DEFAULT_PORT_MAX", "DEFAULT_PORT_MIN", "PortAllocationError", "RtpPortAllocator"]

DEFAULT_PORT_MIN = 10000
DEFAULT_PORT_MAX = 20000

BoundT = TypeVar("BoundT")


class PortAllocationError(Exception):
    """No RTP port could be allocated: the range is exhausted, or every free port failed to bind."""


class _PortQueue:
    """A FIFO of port numbers in a fixed ring of 16-bit slots (a deque of ints would hold an int object per
    port: 200 kB for the default range on a board that is idle)."""

    __slots__ = ("_ring", "_head", "_count")

    def __init__(self, ports: range) -> None:
        self._ring = array("H", ports)
        self._head = 0
        self._count = len(self._ring)

    def __len__(self) -> int:
        return self._count

    def popleft(self) -> int:
        port = self._ring[self._head]
        self._head = (self._head + 1) % len(self._ring)
        self._count -= 1
        return port

    def append(self, port: int) -> None:
        self._ring[(self._head + self._count) % len(self._ring)] = port
        self._count += 1


class RtpPortAllocator(Generic[BoundT]):
    """Even RTP ports (RTCP = RTP + 1) from ``[port_min, port_max]``, round-robin.

    ``try_bind(port)`` binds the pair starting at ``port`` and returns the bound resource (sockets, a
    transport) or raises ``OSError``.  ``max_attempts`` bounds the ports tried per allocation (all free
    ports by default).
    """

    def __init__(self, try_bind: Callable[[int], BoundT], port_min: int = DEFAULT_PORT_MIN,
                 port_max: int = DEFAULT_PORT_MAX, *, max_attempts: int | None = None) -> None:
        first = port_min + (port_min & 1)
        if not 0 < port_min <= port_max <= 65535 or first + 1 > port_max:
            raise PortAllocationError(f"RTP port range {port_min}-{port_max} holds no even/odd port pair")
        self.port_min = port_min
        self.port_max = port_max
        self._try_bind = try_bind
        self._free = _PortQueue(range(first, port_max, 2))
        self._in_use: set[int] = set()
        self.capacity = len(self._free)
        self.max_attempts = max_attempts
        self.bind_failures = 0

    @property
    def in_use(self) -> int:
        """Ports currently allocated."""
        return len(self._in_use)

    @property
    def available(self) -> int:
        """Ports free to allocate."""
        return len(self._free)

    def allocate(self) -> tuple[int, BoundT]:
        """The next free even port and what ``try_bind`` bound on it.

        Ports that fail to bind go to the back of the queue (they may be free later) and the next one is
        tried.  Raises :class:`PortAllocationError` when none is free or all attempts failed.
        """
        if not self._free:
            raise PortAllocationError(f"RTP port range {self.port_min}-{self.port_max} exhausted "
                                      f"({self.capacity} ports in use)")
        attempts = len(self._free) if self.max_attempts is None else min(self.max_attempts, len(self._free))
        last_error: OSError | None = None
        for _ in range(attempts):
            port = self._free.popleft()
            try:
                bound = self._try_bind(port)
            except OSError as exc:
                self.bind_failures += 1
                last_error = exc
                self._free.append(port)
                continue
            self._in_use.add(port)
            return port, bound
        raise PortAllocationError(f"no RTP port in {self.port_min}-{self.port_max} could be bound after "
                                  f"{attempts} attempts (last error: {last_error})")

    def release(self, port: int) -> None:
        """Give ``port`` back; it is reused only after every other free port (stale packets)."""
        if port not in self._in_use:
            raise PortAllocationError(f"RTP port {port} was not allocated")
        self._in_use.remove(port)
        self._free.append(port)
