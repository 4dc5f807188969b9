"""Batched datagram I/O for the signalling shells (pure-Python twin of ``_udp.pyx``).

The compiled module reads every waiting datagram with ``recvmmsg(2)`` and sends a batch with one
``sendmmsg(2)``; this twin does the same with one ``recvfrom``/``sendto`` per datagram, with the same API
and the same results (datagrams in arrival order, addresses as ``(host, port)``, per-datagram send errors
reported and skipped).  Both expect a non-blocking socket.
"""

from __future__ import annotations

import errno
import socket

Address = tuple[str, int]
SendError = tuple[int, Address, OSError]

MAX_DATAGRAM = 65535
# Errors a UDP socket reports for an earlier datagram (ICMP port/host unreachable and the like): the
# datagram that caused them is long gone, so reading simply goes on.
_ASYNC_ERRORS = frozenset({errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN})


def recv_many(sock: socket.socket, limit: int) -> list[tuple[bytes, Address]]:
    """Up to ``limit`` waiting datagrams in arrival order; ``[]`` when none is waiting."""
    out: list[tuple[bytes, Address]] = []
    recvfrom = sock.recvfrom
    while len(out) < limit:
        try:
            data, address = recvfrom(MAX_DATAGRAM)
        except (BlockingIOError, InterruptedError):
            break
        except OSError as exc:
            if exc.errno in _ASYNC_ERRORS:
                continue
            raise
        out.append((data, (address[0], address[1])))
    return out


_numeric: set[Address] = set()
_NUMERIC_CACHE = 4096


def _check_numeric(address: Address) -> None:
    """The compiled twin sends to numeric addresses only (no name lookup on the event loop): same here."""
    if address in _numeric:
        return
    host, port = address
    if not 0 <= port <= 65535:
        raise OSError(errno.EINVAL, "port out of range")
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except OSError:
            continue
        if len(_numeric) >= _NUMERIC_CACHE:
            _numeric.clear()
        _numeric.add(address)
        return
    raise OSError(errno.EINVAL, f"not a numeric address: {host!r}")


def send_many(sock: socket.socket, items: list[tuple[bytes, Address]], errors: list[SendError]) -> int:
    """Send ``items`` in order; returns how many left (sent or failed for good).

    A datagram the kernel refuses (no route, message too long, ...) is appended to ``errors`` as
    ``(index, address, exception)`` and skipped.  The return value is smaller than ``len(items)`` only
    when the socket's send buffer is full: the caller keeps the rest and retries when writable.
    """
    sendto = sock.sendto
    done = 0
    for data, address in items:
        try:
            _check_numeric(address)
            sendto(data, address)
        except (BlockingIOError, InterruptedError):
            return done
        except OSError as exc:
            errors.append((done, address, exc))
        done += 1
    return done
