# cython: language_level=3
"""Batched datagram I/O for the signalling shells: ``recvmmsg(2)`` in, ``sendmmsg(2)`` out.

Same API and results as the pure twin ``_udp_py.py``.  A SIP call through the B2BUA is about fourteen
datagrams; reading all that is waiting in one system call and sending what one round of processing
produced in one more saves most of the per-datagram kernel entries (and, on a virtual machine, the
wake-ups of the peer that each separate ``sendto`` can cost).  Runs on the event loop's thread, holding
the GIL (the calls never block: the socket is non-blocking).
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.errno cimport EAGAIN, EINTR, errno
from libc.stdlib cimport malloc
from libc.string cimport memcpy, memset

from cython_media._udp_py import _ASYNC_ERRORS

import os

__all__ = ["recv_many", "send_many"]


cdef extern from "<errno.h>" nogil:
    int EWOULDBLOCK

from cython_media._sockets cimport (
    iovec,
    socklen_t,
    sockaddr_storage,
    msghdr,
    mmsghdr,
    recvmmsg,
    sendmmsg,
    AF_INET,
    AF_INET6,
    sockaddr_in,
    sockaddr_in6,
    htons,
    ntohs,
    inet_pton,
    inet_ntop,
)


cdef enum:
    BATCH = 32
    MAX_DATAGRAM = 65535

cdef mmsghdr _rx[BATCH]
cdef iovec _rx_iov[BATCH]
cdef sockaddr_storage _rx_addr[BATCH]
cdef char *_rx_buffers = NULL   # BATCH * MAX_DATAGRAM, allocated at the first read (pages touched on use)

cdef mmsghdr _tx[BATCH]
cdef iovec _tx_iov[BATCH]

# (host, port) -> packed sockaddr; bounded, cleared when full (peers are few, the same ones again and again).
cdef dict _sockaddrs = {}
cdef Py_ssize_t _SOCKADDR_CACHE = 4096


cdef object _address(sockaddr_storage *storage):
    cdef char text[64]
    if storage.ss_family == AF_INET6:
        inet_ntop(AF_INET6, &(<sockaddr_in6 *>storage).sin6_addr, text, sizeof(text))
        return (text.decode("ascii"), ntohs((<sockaddr_in6 *>storage).sin6_port))
    inet_ntop(AF_INET, &(<sockaddr_in *>storage).sin_addr, text, sizeof(text))
    return (text.decode("ascii"), ntohs((<sockaddr_in *>storage).sin_port))


cdef bytes _pack(object address):
    cdef sockaddr_in v4
    cdef sockaddr_in6 v6
    packed = _sockaddrs.get(address)
    if packed is not None:
        return <bytes>packed
    host, port = address
    encoded = host.encode("ascii")
    if not 0 <= port <= 65535:
        raise OSError(22, "port out of range")
    memset(&v4, 0, sizeof(v4))
    memset(&v6, 0, sizeof(v6))
    if inet_pton(AF_INET, encoded, &v4.sin_addr) == 1:
        v4.sin_family = AF_INET
        v4.sin_port = htons(port)
        packed = PyBytes_FromStringAndSize(<char *>&v4, sizeof(v4))
    elif inet_pton(AF_INET6, encoded, &v6.sin6_addr) == 1:
        v6.sin6_family = AF_INET6
        v6.sin6_port = htons(port)
        packed = PyBytes_FromStringAndSize(<char *>&v6, sizeof(v6))
    else:
        raise OSError(22, f"not a numeric address: {host!r}")
    if len(_sockaddrs) >= _SOCKADDR_CACHE:
        _sockaddrs.clear()
    _sockaddrs[address] = packed
    return <bytes>packed


def recv_many(sock, int limit):
    """Up to ``limit`` waiting datagrams in arrival order; ``[]`` when none is waiting."""
    global _rx_buffers
    cdef int fd = sock.fileno()
    cdef int i, got, want, err
    cdef list out = []
    if _rx_buffers == NULL:
        _rx_buffers = <char *>malloc(BATCH * MAX_DATAGRAM)
        if _rx_buffers == NULL:
            raise MemoryError()
    while len(out) < limit:
        want = min(BATCH, limit - len(out))
        for i in range(want):
            _rx_iov[i].iov_base = _rx_buffers + i * MAX_DATAGRAM
            _rx_iov[i].iov_len = MAX_DATAGRAM
            memset(&_rx[i].msg_hdr, 0, sizeof(msghdr))
            _rx[i].msg_hdr.msg_name = &_rx_addr[i]
            _rx[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage)
            _rx[i].msg_hdr.msg_iov = &_rx_iov[i]
            _rx[i].msg_hdr.msg_iovlen = 1
        got = recvmmsg(fd, _rx, want, 0, NULL)
        if got < 0:
            err = errno
            if err == EAGAIN or err == EWOULDBLOCK:
                break
            if err == EINTR or err in _ASYNC_ERRORS:
                continue
            raise OSError(err, os.strerror(err))
        for i in range(got):
            out.append((PyBytes_FromStringAndSize(_rx_buffers + i * MAX_DATAGRAM, _rx[i].msg_len),
                        _address(&_rx_addr[i])))
        if got < want:
            break
    return out


def send_many(sock, list items, list errors):
    """Send ``items`` (``(data, (host, port))``) in order; returns how many left (sent or failed for good).

    A datagram the kernel refuses is appended to ``errors`` as ``(index, address, exception)`` and skipped;
    the count is smaller than ``len(items)`` only when the send buffer is full.
    """
    cdef int fd = sock.fileno()
    cdef Py_ssize_t total = len(items)
    cdef Py_ssize_t done = 0
    cdef int n, i, sent, err
    cdef list keep = []   # the packed addresses must live until sendmmsg returns
    cdef bytes data, packed
    cdef object payload
    while done < total:
        n = <int>min(BATCH, total - done)
        keep.clear()
        for i in range(n):
            payload, address = items[done + i]
            data = payload if type(payload) is bytes else bytes(payload)
            try:
                packed = _pack(address)
            except (OSError, TypeError, ValueError, UnicodeError) as exc:
                n = i
                if i == 0:
                    errors.append((done, address, exc if isinstance(exc, OSError) else OSError(22, str(exc))))
                    done += 1
                break
            keep.append(packed)
            keep.append(data)
            _tx_iov[i].iov_base = PyBytes_AS_STRING(data)
            _tx_iov[i].iov_len = PyBytes_GET_SIZE(data)
            memset(&_tx[i].msg_hdr, 0, sizeof(msghdr))
            _tx[i].msg_hdr.msg_name = PyBytes_AS_STRING(packed)
            _tx[i].msg_hdr.msg_namelen = <socklen_t>PyBytes_GET_SIZE(packed)
            _tx[i].msg_hdr.msg_iov = &_tx_iov[i]
            _tx[i].msg_hdr.msg_iovlen = 1
        if n == 0:
            continue
        sent = sendmmsg(fd, _tx, n, 0)
        if sent < 0:
            err = errno
            if err == EAGAIN or err == EWOULDBLOCK:
                return done
            if err == EINTR:
                continue
            errors.append((done, items[done][1], OSError(err, os.strerror(err))))
            done += 1
            continue
        done += sent
    return done
