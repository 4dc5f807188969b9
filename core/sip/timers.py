"""A small timer wheel for sans-IO cores: deadlines in a heap, cancelled lazily.

The SIP endpoint arms many timers above the transaction layer (2xx retransmission, ACK wait, session
timers, registration refresh, qualify).  Each is a callback to run at a monotonic time; the asyncio shell
only ever waits for :meth:`TimerQueue.next_deadline`.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable


class Timer:
    """A scheduled callback; :meth:`cancel` makes it a no-op."""

    __slots__ = ("when", "callback", "cancelled")

    def __init__(self, when: float, callback: Callable[[float], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        """Do not run.  The timer stays in the heap until its time, but lets go of its callback now, and with it
        of what the callback holds (a call, its dialog and messages): that is freed when its owner drops it."""
        self.cancelled = True
        self.callback = _spent


def _spent(now: float) -> None:
    """The callback of a timer that has run or was cancelled."""


class TimerQueue:
    """Deadlines by monotonic time."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Timer]] = []
        self._sequence = itertools.count()

    def call_at(self, when: float, callback: Callable[[float], None]) -> Timer:
        """Run ``callback(now)`` at ``when``."""
        timer = Timer(when, callback)
        heapq.heappush(self._heap, (when, next(self._sequence), timer))
        return timer

    def next_deadline(self) -> float | None:
        """The earliest live deadline."""
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def run_due(self, now: float) -> int:
        """Run every timer due at ``now``; returns how many ran."""
        heap = self._heap
        ran = 0
        while heap and heap[0][0] <= now:
            _when, _seq, timer = heapq.heappop(heap)
            if not timer.cancelled:
                timer.cancelled = True
                callback, timer.callback = timer.callback, _spent
                callback(now)
                ran += 1
        return ran

    def __len__(self) -> int:
        return sum(1 for _w, _s, t in self._heap if not t.cancelled)
