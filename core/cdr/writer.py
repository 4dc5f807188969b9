"""Group commit of CDRs on a writer thread, so that the event loop never waits for a disk.

Each backend makes a record durable before it returns (fsync of Master.csv, a committed SQLite
transaction with ``synchronous=FULL``).  Doing that on the event loop for every call costs the loop a
disk flush per call; at a few hundred calls per second it stalls signalling.  :class:`CdrWriter` is a
backend in front of the real ones: ``write`` queues the record and returns, a thread takes every record
queued so far and hands them to each backend's ``write_batch`` (one transaction, one fsync per file for
the whole batch: the group commit databases use).  Commits are at least :data:`COMMIT_INTERVAL` apart, so
under load a batch gathers what arrived meanwhile and the cost per record falls (a flush of a file costs the
same for one line as for a hundred); when idle, a record is on disk within one fsync of the hang-up.

:attr:`CdrWriter.written` counts records every backend has made durable; the console reports it
(``cdr show status``), which is what "the record is there" means to an operator.  ``close`` writes what
is still queued before closing the backends, so a clean stop loses nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Protocol

from core.cdr.model import CdrRecord

log = logging.getLogger("centralita.cdr")

MAX_BATCH = 512
COMMIT_INTERVAL = 0.02  # seconds at least between the starts of two commits (unless a batch is full)


class BatchBackend(Protocol):
    """A backend that can make several records durable at once."""

    name: str

    def write_batch(self, records: Sequence[CdrRecord]) -> None:
        """Make every record durable before returning (one transaction / one fsync)."""

    def close(self) -> None:
        """Release files and connections."""


class CdrWriter:
    """A CDR backend that queues records for a writer thread which commits them in batches."""

    name = "writer"

    def __init__(self, backends: Sequence[BatchBackend], *, thread_name: str = "cdr-writer",
                 commit_interval: float = COMMIT_INTERVAL) -> None:
        self.backends = list(backends)
        self.commit_interval = commit_interval
        self.written = 0
        self.failed = 0
        self._queue: deque[CdrRecord] = deque()
        self._busy = 0                       # records taken by the thread and not yet committed
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._idle = threading.Condition(self._lock)
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        """Records queued or being written."""
        with self._lock:
            return len(self._queue) + self._busy

    def write(self, record: CdrRecord) -> None:
        """Queue ``record``; the writer thread makes it durable shortly."""
        with self._lock:
            if self._closing:
                raise RuntimeError("CDR writer is closed")
            self._queue.append(record)
            self._wake.notify()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every record queued so far is written; False on timeout."""
        with self._lock:
            return self._idle.wait_for(lambda: not self._queue and not self._busy, timeout)

    def close(self) -> None:
        """Write what is queued, stop the thread, close the backends."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            self._wake.notify()
        self._thread.join()
        for backend in self.backends:
            try:
                backend.close()
            except Exception:
                log.exception("CDR backend %r failed to close", backend)

    def _run(self) -> None:
        last_commit = -1e9
        while True:
            with self._lock:
                self._wake.wait_for(lambda: self._queue or self._closing)
                if not self._queue:
                    self._idle.notify_all()
                    return  # closing and drained
                # A commit shortly after the previous one would flush the files for a record or two: let
                # the records of the rest of the interval join this batch instead.
                wait = last_commit + self.commit_interval - time.monotonic()
                if wait > 0:
                    self._wake.wait_for(lambda: self._closing or len(self._queue) >= MAX_BATCH, wait)
                batch = [self._queue.popleft() for _ in range(min(len(self._queue), MAX_BATCH))]
                self._busy = len(batch)
            last_commit = time.monotonic()
            ok = True
            for backend in self.backends:
                try:
                    backend.write_batch(batch)
                except Exception:
                    ok = False
                    log.exception("CDR backend %r failed to write %d record(s)", backend, len(batch))
            with self._lock:
                if ok:
                    self.written += len(batch)
                else:
                    self.failed += len(batch)
                self._busy = 0
                if not self._queue:
                    self._idle.notify_all()


__all__ = ["COMMIT_INTERVAL", "MAX_BATCH", "BatchBackend", "CdrWriter"]
