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

import dataclasses
import importlib
import os
from typing import TYPE_CHECKING, Any

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



def default_threads() -> int:
    """One relay thread per CPU, at most four (rtpengine's default is one per CPU too)."""
    return max(1, min(4, os.cpu_count() or 1))


class RelayPool:
    """Pairs spread over ``threads`` relay engines, each with its own thread (:class:`RelayEngine`'s API).

    A new pair goes to the engine relaying the fewest pairs; pair ids are the pool's own, and events
    carry them.  One engine per CPU lets the relay use every core of the board (the kernel's per-packet
    cost, not the loop, bounds one thread) and keeps a busy core from queueing everyone's packets.
    """

    def __init__(self, threads: int | None = None, **options: Any) -> None:
        count = default_threads() if threads is None or threads <= 0 else threads
        self._engines = [RelayEngine(**options) for _ in range(count)]
        self._where: dict[int, tuple[int, int]] = {}  # pool pair id -> (engine index, engine pair id)
        self._ours: list[dict[int, int]] = [{} for _ in self._engines]  # per engine: its pair id -> pool pair id
        self._next_id = 1

    @property
    def threads(self) -> int:
        """How many relay engines (threads) the pool spreads pairs over."""
        return len(self._engines)

    def start(self) -> None:
        """Start every engine's thread (no-op for running ones)."""
        for engine in self._engines:
            engine.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop every engine's thread (pairs stay configured)."""
        for engine in self._engines:
            engine.stop(timeout)

    @property
    def running(self) -> bool:
        """True while any engine's thread runs."""
        return any(engine.running for engine in self._engines)

    def close(self) -> None:
        """Stop and release every engine (and the pairs' socket duplicates)."""
        for engine in self._engines:
            engine.close()
        self._where.clear()
        for ours in self._ours:
            ours.clear()

    def filenos(self) -> list[int]:
        """The descriptors that become readable when an engine has events (:meth:`events`)."""
        return [engine.fileno() for engine in self._engines]

    def add_pair(self, a: Leg, b: Leg, **options: Any) -> int:
        """Relay ``a`` <-> ``b`` on the least busy engine; the pool's id of the pair."""
        index = min(range(len(self._engines)), key=lambda i: len(self._ours[i]))
        local = self._engines[index].add_pair(a, b, **options)
        pair_id = self._next_id
        self._next_id += 1
        self._where[pair_id] = (index, local)
        self._ours[index][local] = pair_id
        return pair_id

    def _locate(self, pair_id: int) -> tuple[int, int]:
        where = self._where.get(pair_id)
        if where is None:
            raise RelayError(f"no pair {pair_id}")
        return where

    def remove_pair(self, pair_id: int) -> tuple[LegStats, LegStats]:
        """Stop relaying ``pair_id``; its legs' final counters."""
        index, local = self._locate(pair_id)
        del self._where[pair_id]
        del self._ours[index][local]
        return self._engines[index].remove_pair(local)

    def set_remote(self, pair_id: int, side: Side, remote: Address | None, *, latch: bool = False) -> None:
        """Point ``side`` of ``pair_id`` at a new remote (see :meth:`RelayEngine.set_remote`)."""
        index, local = self._locate(pair_id)
        self._engines[index].set_remote(local, side, remote, latch=latch)

    def stats(self, pair_id: int) -> tuple[LegStats, LegStats]:
        """The legs' counters so far."""
        index, local = self._locate(pair_id)
        return self._engines[index].stats(local)

    def pair_ids(self) -> list[int]:
        """The relayed pairs, oldest first."""
        return sorted(self._where)

    def events(self) -> list[RelayEvent]:
        """Every engine's pending events (drains them), with the pool's pair ids."""
        out: list[RelayEvent] = []
        for index, engine in enumerate(self._engines):
            ours = self._ours[index]
            for event in engine.events():
                pair_id = ours.get(event.pair_id)
                if pair_id is not None:
                    out.append(dataclasses.replace(event, pair_id=pair_id))
        return out


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
    "RelayPool",
    "RemoteLatched",
    "RtcpMode",
    "RtpTimeout",
    "Side",
    "flow_stats",
    "rewrite_stream",
]
