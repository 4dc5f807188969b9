"""RTP relay engine (same-codec bridge fast path): the compiled loop when available, else its pure twin.

:class:`RelayEngine` forwards RTP between the two legs of each pair it is given, rewriting SSRC, sequence
number and timestamp per direction (RFC 3550 §5.1/§7) so that each far end sees one continuous stream;
it latches remotes for phones behind NAT (symmetric RTP, RFC 4961), forwards or drops RTCP, counts per
leg, keeps each direction's reception quality (RFC 3550 A.1/A.3/A.8: loss, jitter; :class:`FlowStats`)
and reports idle legs (RTP timeout).  The compiled engine runs its loop in a thread without the GIL
(epoll + recvmmsg/sendmmsg); the pure twin runs a :mod:`selectors` thread with the same API and results.
:func:`rewrite_stream` applies one direction's rewrite to a list of packets offline (tests, tools);
:func:`flow_stats` computes one direction's statistics offline.
``CENTRALITA_NO_EXTENSIONS=1`` forces the pure twin.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from cython_media import NO_EXTENSIONS, _relay_py
from cython_media._relay_py import (
    Address,
    FlowStats,
    Leg,
    LegStats,
    PhoneReport,
    RelayError,
    RelayEvent,
    RemoteLatched,
    RtcpMode,
    RtpTimeout,
    Side,
)

ACCELERATED = False
if TYPE_CHECKING:
    # Type checkers see the pure twin's class: the compiled one has the same API.
    from cython_media._relay_py import RelayEngine, flow_stats, rewrite_stream
else:
    RelayEngine = _relay_py.RelayEngine
    rewrite_stream = _relay_py.rewrite_stream
    flow_stats = _relay_py.flow_stats
    if not NO_EXTENSIONS:
        try:
            _compiled = importlib.import_module("cython_media._relay")
        except ImportError:
            pass
        else:
            RelayEngine = _compiled.RelayEngine
            rewrite_stream = _compiled.rewrite_stream
            flow_stats = _compiled.flow_stats
            ACCELERATED = True

__all__ = [
    "ACCELERATED",
    "Address",
    "FlowStats",
    "Leg",
    "LegStats",
    "PhoneReport",
    "RelayEngine",
    "RelayError",
    "RelayEvent",
    "RemoteLatched",
    "RtcpMode",
    "RtpTimeout",
    "Side",
    "flow_stats",
    "rewrite_stream",
]
