"""Where call detail records are stored: ``Master.csv`` as Asterisk writes it, and a SQLite table.

Both write records durably before returning: the CSV lines are appended, flushed and fsynced; the
SQLite rows are committed in one transaction with ``synchronous=FULL`` in WAL mode.  ``write_batch``
does that once for many records (the group commit of :mod:`core.cdr.writer`).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from core.cdr.model import CdrRecord, format_time

log = logging.getLogger("centralita.cdr")


class CdrBackendError(OSError):
    """A backend could not store a record; ``path`` is the file it was writing."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path


def csv_line(record: CdrRecord, *, usegmtime: bool = False, loguniqueid: bool = False,
             loguserfield: bool = False, newcdrcolumns: bool = False) -> str:
    """One ``Master.csv`` line, byte for byte as ``cdr/cdr_csv.c`` ``build_csv_record`` makes it.

    Strings are double-quoted with inner quotes doubled; an unset time is an empty, unquoted field;
    numbers are bare.  The optional columns follow ``cdr.conf``'s ``[csv]`` switches: ``loguniqueid``,
    ``loguserfield``, ``newcdrcolumns`` (peeraccount, linkedid, sequence); all are off by default in
    Asterisk 20's code (the sample ``cdr.conf`` turns the first two and ``usegmtime`` on).
    """
    parts: list[str] = []

    def text(value: str) -> None:
        parts.append('"' + value.replace('"', '""') + '"')

    def when(epoch: float | None) -> None:
        parts.append("" if epoch is None else '"' + format_time(epoch, utc=usegmtime) + '"')

    for value in (record.accountcode, record.src, record.dst, record.dcontext, record.clid, record.channel,
                  record.dstchannel, record.lastapp, record.lastdata):
        text(value)
    when(record.start)
    when(record.answer)
    when(record.end)
    parts.append(str(record.duration))
    parts.append(str(record.billsec))
    text(record.disposition_text)
    text(record.amaflags_text)
    if loguniqueid:
        text(record.uniqueid)
    if loguserfield:
        text(record.userfield)
    if newcdrcolumns:
        text(record.peeraccount)
        text(record.linkedid)
        parts.append(str(record.sequence))
    return ",".join(parts) + "\n"


def _append_durably(path: Path, data: bytes) -> None:
    created = not path.exists()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise CdrBackendError(path, f"cannot open: {exc.strerror}") from exc
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except OSError as exc:
        raise CdrBackendError(path, f"cannot write: {exc.strerror}") from exc
    finally:
        os.close(fd)
    if created:
        # The new directory entry must survive a crash too.
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


class CsvCdrBackend:
    """``cdr_csv``: every record appended to ``<directory>/Master.csv``.

    With ``accountlogs`` (Asterisk's default) a record with an account code is also appended to
    ``<directory>/<accountcode>.csv``, unless the code contains ``/`` or starts with ``.``.  Like
    ``cdr_csv.c`` the file is opened for each record; unlike it, the line is fsynced, and a record longer
    than ``cdr_csv.c``'s 1 KiB buffer is written rather than dropped.
    """

    name = "csv"

    def __init__(self, directory: str | os.PathLike[str], *, usegmtime: bool = False, loguniqueid: bool = False,
                 loguserfield: bool = False, accountlogs: bool = True, newcdrcolumns: bool = False) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.master = self.directory / "Master.csv"
        self.usegmtime = usegmtime
        self.loguniqueid = loguniqueid
        self.loguserfield = loguserfield
        self.accountlogs = accountlogs
        self.newcdrcolumns = newcdrcolumns
        self._lock = threading.Lock()

    def write(self, record: CdrRecord) -> None:
        """Append the record's line to Master.csv (and the account's file) and fsync."""
        self.write_batch((record,))

    def write_batch(self, records: Sequence[CdrRecord]) -> None:
        """Append the records' lines to Master.csv (and the accounts' files): one write and one fsync
        per file for the whole batch."""
        files: dict[Path, list[bytes]] = {}
        for record in records:
            data = csv_line(record, usegmtime=self.usegmtime, loguniqueid=self.loguniqueid,
                            loguserfield=self.loguserfield, newcdrcolumns=self.newcdrcolumns).encode("utf-8")
            files.setdefault(self.master, []).append(data)
            account = record.accountcode
            if self.accountlogs and account:
                if "/" in account or account.startswith("."):
                    log.warning("Account code '%s' insecure for writing file", account)
                else:
                    files.setdefault(self.directory / f"{account}.csv", []).append(data)
        with self._lock:
            for path, lines in files.items():
                _append_durably(path, b"".join(lines))

    def close(self) -> None:
        """Nothing stays open between records."""


SQLITE_COLUMNS = (
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata",
    "start", "answer", "end", "duration", "billsec", "disposition", "amaflags", "userfield", "uniqueid",
    "linkedid", "peeraccount", "sequence",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cdr (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    accountcode TEXT NOT NULL DEFAULT '',
    src TEXT NOT NULL DEFAULT '',
    dst TEXT NOT NULL DEFAULT '',
    dcontext TEXT NOT NULL DEFAULT '',
    clid TEXT NOT NULL DEFAULT '',
    channel TEXT NOT NULL DEFAULT '',
    dstchannel TEXT NOT NULL DEFAULT '',
    lastapp TEXT NOT NULL DEFAULT '',
    lastdata TEXT NOT NULL DEFAULT '',
    start TEXT NOT NULL DEFAULT '',
    answer TEXT NOT NULL DEFAULT '',
    "end" TEXT NOT NULL DEFAULT '',
    duration INTEGER NOT NULL DEFAULT 0,
    billsec INTEGER NOT NULL DEFAULT 0,
    disposition TEXT NOT NULL DEFAULT '',
    amaflags TEXT NOT NULL DEFAULT '',
    userfield TEXT NOT NULL DEFAULT '',
    uniqueid TEXT NOT NULL DEFAULT '',
    linkedid TEXT NOT NULL DEFAULT '',
    peeraccount TEXT NOT NULL DEFAULT '',
    sequence INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS cdr_start ON cdr (start);
CREATE INDEX IF NOT EXISTS cdr_linkedid ON cdr (linkedid);
"""


class SqliteCdrBackend:
    """One table ``cdr`` in a SQLite file: the record's fields as ``cdr_sqlite3_custom`` stores them
    with ``${CDR(...)}`` values (times as ``%Y-%m-%d %H:%M:%S`` local time, "" when unset; disposition and
    AMA flags as text).  WAL mode, ``synchronous=FULL``, one transaction per record.
    """

    name = "sqlite"

    def __init__(self, path: str | os.PathLike[str], *, usegmtime: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.usegmtime = usegmtime
        self._lock = threading.Lock()
        try:
            self._db: sqlite3.Connection | None = sqlite3.connect(self.path, isolation_level=None,
                                                                 check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise CdrBackendError(self.path, str(exc)) from exc
        columns = ", ".join(f'"{name}"' for name in SQLITE_COLUMNS)
        marks = ", ".join("?" for _ in SQLITE_COLUMNS)
        self._insert = f"INSERT INTO cdr ({columns}) VALUES ({marks})"

    def write(self, record: CdrRecord) -> None:
        """Insert the record as one committed transaction."""
        self.write_batch((record,))

    def write_batch(self, records: Sequence[CdrRecord]) -> None:
        """Insert the records in one committed transaction (all or none)."""
        utc = self.usegmtime
        rows = [(
            record.accountcode, record.src, record.dst, record.dcontext, record.clid, record.channel,
            record.dstchannel, record.lastapp, record.lastdata, format_time(record.start, utc=utc),
            format_time(record.answer, utc=utc), format_time(record.end, utc=utc), record.duration,
            record.billsec, record.disposition_text, record.amaflags_text, record.userfield, record.uniqueid,
            record.linkedid, record.peeraccount, record.sequence,
        ) for record in records]
        with self._lock:
            if self._db is None:
                raise CdrBackendError(self.path, "backend is closed")
            try:
                if len(rows) == 1:
                    self._db.execute(self._insert, rows[0])
                    return
                self._db.execute("BEGIN")
                try:
                    self._db.executemany(self._insert, rows)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise CdrBackendError(self.path, str(exc)) from exc

    def close(self) -> None:
        """Close the database (idempotent)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
