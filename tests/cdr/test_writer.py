"""The CDR writer thread: records queued on the event loop end up in Master.csv and SQLite, in order,
in batches (one fsync per file per batch), and nothing queued is lost by a clean close."""

from __future__ import annotations

import csv
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from core.cdr import CdrBackendError, CdrRecord, CdrWriter, CsvCdrBackend, SqliteCdrBackend
from tests.cdr.test_backends import record


class Gate:
    """A backend that blocks its first batch until released, so that records pile up behind it."""

    name = "gate"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.batches: list[list[str]] = []

    def write_batch(self, records: Sequence[CdrRecord]) -> None:
        self.entered.set()
        self.release.wait(5)
        self.batches.append([r.uniqueid for r in records])

    def close(self) -> None:
        pass


class Broken:
    name = "broken"

    def write_batch(self, records: Sequence[CdrRecord]) -> None:
        raise OSError(28, "No space left on device")

    def close(self) -> None:
        pass


def test_records_reach_both_backends_in_order(tmp_path: Path) -> None:
    writer = CdrWriter([CsvCdrBackend(tmp_path / "csv"), SqliteCdrBackend(tmp_path / "cdr.sqlite")])
    for index in range(200):
        writer.write(record(uniqueid=f"1700000000.{index}", src=str(1000 + index)))
    assert writer.flush(5)
    assert writer.written == 200 and writer.pending == 0
    writer.close()
    with (tmp_path / "csv" / "Master.csv").open(newline="") as handle:
        assert [row[1] for row in csv.reader(handle)] == [str(1000 + i) for i in range(200)]
    database = sqlite3.connect(tmp_path / "cdr.sqlite")
    assert [r[0] for r in database.execute("SELECT src FROM cdr ORDER BY rowid")] == [str(1000 + i) for i in range(200)]


def test_records_queued_while_a_batch_is_written_go_in_the_next_batch() -> None:
    gate = Gate()
    writer = CdrWriter([gate])
    writer.write(record(uniqueid="first"))
    assert gate.entered.wait(5)
    for index in range(50):
        writer.write(record(uniqueid=f"r{index}"))
    assert writer.pending == 51
    gate.release.set()
    assert writer.flush(5)
    writer.close()
    # The group commit: everything that queued up behind the first batch is written as one batch.
    assert gate.batches == [["first"], [f"r{index}" for index in range(50)]]


def test_one_fsync_per_file_for_a_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = CsvCdrBackend(tmp_path)
    calls: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real_fsync(fd))[1])
    backend.write_batch([record(uniqueid=str(i)) for i in range(100)])
    # Master.csv and, because it was created, its directory: two, whatever the batch size.
    assert len(calls) == 2
    assert len((tmp_path / "Master.csv").read_text().splitlines()) == 100


def test_close_writes_what_is_still_queued(tmp_path: Path) -> None:
    gate = Gate()
    writer = CdrWriter([gate])
    writer.write(record(uniqueid="a"))
    assert gate.entered.wait(5)
    writer.write(record(uniqueid="b"))
    gate.release.set()
    writer.close()
    assert [uid for batch in gate.batches for uid in batch] == ["a", "b"]
    with pytest.raises(RuntimeError):
        writer.write(record())


def test_a_failing_backend_is_counted_and_does_not_stop_the_writer(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    csv_backend = CsvCdrBackend(tmp_path)
    writer = CdrWriter([Broken(), csv_backend])
    writer.write(record(uniqueid="x"))
    assert writer.flush(5)
    writer.write(record(uniqueid="y"))
    assert writer.flush(5)
    writer.close()
    assert writer.failed == 2 and writer.written == 0
    assert "No space left on device" in caplog.text
    # The healthy backend still got both records.
    assert len((tmp_path / "Master.csv").read_text().splitlines()) == 2


def test_sqlite_batch_is_one_transaction(tmp_path: Path) -> None:
    backend = SqliteCdrBackend(tmp_path / "cdr.sqlite")
    bad = record(uniqueid="bad")
    object.__setattr__(bad, "src", object())  # not bindable: the whole batch must roll back
    with pytest.raises(CdrBackendError):
        backend.write_batch([record(uniqueid="ok"), bad])
    backend.write_batch([record(uniqueid="after")])
    backend.close()
    database = sqlite3.connect(tmp_path / "cdr.sqlite")
    assert [r[0] for r in database.execute("SELECT uniqueid FROM cdr")] == ["after"]



class Recorder:
    """A backend that notes when each batch arrived and what it held."""

    name = "recorder"

    def __init__(self) -> None:
        self.batches: list[tuple[float, list[str]]] = []

    def write_batch(self, records: Sequence[CdrRecord]) -> None:
        self.batches.append((time.monotonic(), [r.uniqueid for r in records]))

    def close(self) -> None:
        pass


def test_an_idle_writer_commits_a_record_at_once() -> None:
    recorder = Recorder()
    writer = CdrWriter([recorder], commit_interval=1.0)
    for name in ("first", "after a quiet while"):
        start = time.monotonic()
        writer.write(record(uniqueid=name))
        assert writer.flush(5)
        assert recorder.batches[-1][0] - start < 0.5
        time.sleep(1.0)
    writer.close()
    assert [batch for _, batch in recorder.batches] == [["first"], ["after a quiet while"]]


def test_commits_are_spaced_so_a_steady_trickle_is_written_in_batches() -> None:
    recorder = Recorder()
    writer = CdrWriter([recorder], commit_interval=0.05)
    # 40 records, one every ~2.5 ms (a few hundred calls per second): a commit per record would be 40 file
    # flushes; with commits 50 ms apart they go in a few batches, in order, none lost.
    start = time.monotonic()
    for index in range(40):
        writer.write(record(uniqueid=f"r{index}"))
        time.sleep(0.0025)
    elapsed = time.monotonic() - start
    assert writer.flush(5)
    writer.close()
    assert [uid for _, batch in recorder.batches for uid in batch] == [f"r{index}" for index in range(40)]
    assert len(recorder.batches) <= elapsed / 0.05 + 2 < 40
    starts = [at for at, _ in recorder.batches]
    assert all(later - earlier >= 0.045 for earlier, later in zip(starts, starts[1:], strict=False))
