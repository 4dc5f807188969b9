"""Batched datagram I/O for the SIP and IAX2 shells: the compiled ``recvmmsg``/``sendmmsg`` module when
available, else its pure twin (one ``recvfrom``/``sendto`` per datagram, same API and results).

``recv_many(sock, limit)`` returns the waiting datagrams as ``[(data, (host, port)), ...]``;
``send_many(sock, items, errors)`` sends ``[(data, (host, port)), ...]`` in order and returns how many
left the queue (fewer than given only when the socket's send buffer is full).  The socket is non-blocking.
``CENTRALITA_NO_EXTENSIONS=1`` forces the pure twin.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from cython_media import NO_EXTENSIONS, _udp_py
from cython_media._udp_py import Address, SendError

ACCELERATED = False
if TYPE_CHECKING:
    from cython_media._udp_py import recv_many, send_many
else:
    recv_many = _udp_py.recv_many
    send_many = _udp_py.send_many
    if not NO_EXTENSIONS:
        try:
            _compiled = importlib.import_module("cython_media._udp")
        except ImportError:
            pass
        else:
            recv_many = _compiled.recv_many
            send_many = _compiled.send_many
            ACCELERATED = True

__all__ = ["ACCELERATED", "Address", "SendError", "recv_many", "send_many"]
