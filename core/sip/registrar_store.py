"""Where the registrar's bindings live between restarts: the record of one binding and its stores.

A binding (RFC 3261 section 10.3) is kept in wall-clock form here, because monotonic time does not survive a
restart: ``expires_at_wall`` is the Unix time at which it lapses, ``expires`` the interval the registrar
granted (which bounds how long a binding may live after a restart whatever the wall clock says).  The
location service (:mod:`core.sip.registrar`) turns records back into live bindings with a monotonic expiry.

Two stores implement :class:`BindingStore`: :class:`MemoryBindingStore` for tests and :class:`SqliteBindingStore`
(one table, WAL, ``synchronous=NORMAL``: a process crash loses nothing, a power cut may lose the last
registrations, which phones repeat within their interval anyway).  Every change of one REGISTER is one
transaction, so that the bindings of a request are committed all or nothing (RFC 3261 section 10.3 step 7).

Group commit: between :meth:`~BindingStore.begin_batch` and :meth:`~BindingStore.end_batch` (the UDP reader's
batch of datagrams) the changes of several REGISTERs share one transaction.  The registrar answers them only
after ``end_batch`` has committed, so nothing acknowledged is lost; when the commit fails, none of the batch is
kept and the registrar answers every one of its REGISTERs with 500.  One SQLite commit costs as much as several
updates (38 us against 8 us per update in batches of 16, measured here), so a registration storm gets cheaper per
REGISTER as it grows.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

log = logging.getLogger("centralita.sip")

Address = tuple[str, int]
"""(host, port); an IPv6 host without brackets."""

Transport = Literal["udp", "tcp", "tls"]

TRANSPORTS: tuple[Transport, ...] = ("udp", "tcp", "tls")

SCHEMA_VERSION = 1


class RegistrarError(Exception):
    """The location service or its store failed; ``aor`` and ``contact`` say where, when known."""

    def __init__(self, reason: str, *, aor: str | None = None, contact: str | None = None) -> None:
        where = " ".join(part for part in (f"AOR {aor!r}" if aor is not None else "",
                                           f"contact {contact!r}" if contact is not None else "") if part)
        super().__init__(f"{where}: {reason}" if where else reason)
        self.reason = reason
        self.aor = aor
        self.contact = contact


@dataclass(slots=True)
class BindingRecord:
    """One binding as it is persisted: everything but the monotonic expiry.

    Never changed once made (a change is a new record, ``dataclasses.replace``): the location service keeps
    the bindings of an AOR from before a batch to put them back when its commit fails.  Not ``frozen``
    because a frozen dataclass sets each of its 16 fields through ``object.__setattr__``, which made building
    the one per REGISTER four times slower.

    ``contact`` is the Contact URI as registered (serialised), ``q`` its ``q`` parameter (None when absent),
    ``instance``/``reg_id`` the RFC 5626 ``+sip.instance`` (quotes removed) and ``reg-id`` parameters,
    ``source``/``transport`` where the REGISTER came from (after NAT), ``path`` the RFC 3327 Path values.
    ``call_id``/``cseq`` are those of the REGISTER that last changed the binding (RFC 3261 section 10.3 step 7).
    """

    binding_id: str
    aor: str
    contact: str
    q: float | None
    expires: int
    expires_at_wall: float
    refreshed_at_wall: float
    call_id: str
    cseq: int
    instance: str | None
    reg_id: int | None
    source: Address
    transport: Transport
    user_agent: str | None
    path: tuple[str, ...]


class BindingStore(Protocol):
    """Persistence of binding records.  ``apply`` is atomic: all of it is committed or none of it."""

    def load(self) -> list[BindingRecord]:
        """Every stored record (expired ones included: the location service decides)."""
        ...

    def apply(self, upserts: Sequence[BindingRecord], deletes: Sequence[str]) -> None:
        """Insert or replace ``upserts`` (by ``binding_id``) and delete the ids in ``deletes``, in one
        transaction.  Raises :class:`RegistrarError` when it fails; nothing is changed then."""
        ...

    def begin_batch(self) -> None:
        """Hold the commits of the following :meth:`apply` calls until :meth:`end_batch` (group commit)."""
        ...

    def end_batch(self) -> bool:
        """Commit what was applied since :meth:`begin_batch`; False when that failed, and then none of it is
        kept (a failed :meth:`apply` inside the batch fails the whole batch)."""
        ...

    def close(self) -> None:
        """Release the store (idempotent)."""
        ...


class MemoryBindingStore:
    """A :class:`BindingStore` in a dict, for tests and for gateways that keep no registrations."""

    def __init__(self) -> None:
        self.records: dict[str, BindingRecord] = {}
        self.transactions = 0

    def load(self) -> list[BindingRecord]:
        """Every record, in insertion order."""
        return list(self.records.values())

    def apply(self, upserts: Sequence[BindingRecord], deletes: Sequence[str]) -> None:
        """Apply the changes (a dict update cannot fail half-way); ``transactions`` counts the non-empty ones."""
        if not upserts and not deletes:
            return
        for binding_id in deletes:
            self.records.pop(binding_id, None)
        for record in upserts:
            self.records[record.binding_id] = record
        self.transactions += 1

    def begin_batch(self) -> None:
        """Nothing to hold: a dict update is visible and kept at once."""

    def end_batch(self) -> bool:
        """Always committed."""
        return True

    def close(self) -> None:
        """Nothing to release."""


_COLUMNS = ("binding_id", "aor", "contact", "q", "expires", "expires_at_wall", "refreshed_at_wall", "call_id",
            "cseq", "instance", "reg_id", "source_host", "source_port", "transport", "user_agent", "path")

_CREATE = """
CREATE TABLE IF NOT EXISTS sip_bindings (
    binding_id TEXT PRIMARY KEY,
    aor TEXT NOT NULL,
    contact TEXT NOT NULL,
    q REAL,
    expires INTEGER NOT NULL,
    expires_at_wall REAL NOT NULL,
    refreshed_at_wall REAL NOT NULL,
    call_id TEXT NOT NULL,
    cseq INTEGER NOT NULL,
    instance TEXT,
    reg_id INTEGER,
    source_host TEXT NOT NULL,
    source_port INTEGER NOT NULL,
    transport TEXT NOT NULL,
    user_agent TEXT,
    path TEXT NOT NULL
)"""

_UPSERT = f"INSERT OR REPLACE INTO sip_bindings ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_DELETE = "DELETE FROM sip_bindings WHERE binding_id = ?"
# A refresh rewrites the row in place: UPDATE of columns no index covers touches one b-tree page, where INSERT OR
# REPLACE deletes and re-inserts the row and both index entries (about 4 times the CPU per REGISTER).  A binding
# keeps its AOR for life, so ``aor`` is only matched, never set; no row matched means a new binding.
_UPDATE = (f"UPDATE sip_bindings SET {', '.join(f'{name} = ?' for name in _COLUMNS[2:])} "
           "WHERE binding_id = ? AND aor = ?")
# A phone refreshing its binding changes only the expiry and the Call-ID/CSeq (columns 4 to 8): when the record this
# store last wrote shows nothing else changed, only those are bound and written (a third of the full UPDATE's CPU).
_REFRESH = (f"UPDATE sip_bindings SET {', '.join(f'{name} = ?' for name in _COLUMNS[4:9])} "
            "WHERE binding_id = ?")

# Path values may contain commas inside <...>, so they are joined with a character a SIP header cannot hold.
_PATH_SEPARATOR = "\n"


class SqliteBindingStore:
    """Bindings in the SQLite file ``path`` (created if missing), table ``sip_bindings``.

    WAL journal with ``synchronous=NORMAL`` by default (the registrar's data is re-sent by phones within
    their registration interval, so the last transactions before a power cut are cheap to lose).  Use from
    one thread (the event loop's).
    """

    def __init__(self, path: str | os.PathLike[str], *, synchronous: str = "NORMAL") -> None:
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"unsupported synchronous mode {synchronous!r}")
        self.path = Path(path)
        self._closed = True
        # binding_id -> the record this store last wrote (records it wrote since it opened; deleted ones go).
        self._written: dict[str, BindingRecord] = {}
        self._batch = False  # between begin_batch and end_batch
        self._batch_open = False  # the batch's transaction has begun (something was written)
        self._batch_failed = False  # a write of the batch failed: the rest of it is refused
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise RegistrarError(f"cannot open {self.path}: {exc}") from exc
        self._closed = False
        # The statements of REGISTERs run on this one cursor: Connection.execute makes a new cursor every time.
        self._cursor = self._db.cursor()
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
            version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise RegistrarError(f"{self.path}: registrations schema version {version} is newer than "
                                     f"this gateway's ({SCHEMA_VERSION})")
            self._db.execute(_CREATE)
            self._db.execute("CREATE INDEX IF NOT EXISTS sip_bindings_aor ON sip_bindings (aor)")
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            self.close()
            raise RegistrarError(f"cannot open {self.path}: {exc}") from exc
        except RegistrarError:
            self.close()
            raise

    def load(self) -> list[BindingRecord]:
        """Every stored record; rows that cannot be read back are logged and skipped."""
        try:
            rows = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM sip_bindings ORDER BY rowid").fetchall()
        except sqlite3.Error as exc:
            raise RegistrarError(f"cannot read {self.path}: {exc}") from exc
        records: list[BindingRecord] = []
        for row in rows:
            record = _record_from_row(row)
            if record is None:
                log.warning("%s: skipping unreadable registration row %r", self.path, row[0])
                continue
            records.append(record)
        return records

    def apply(self, upserts: Sequence[BindingRecord], deletes: Sequence[str]) -> None:
        """One transaction: delete ``deletes``, then insert or replace ``upserts``."""
        if not upserts and not deletes:
            return
        if self._batch:
            self._apply_in_batch(upserts, deletes)
            return
        try:
            if len(upserts) + len(deletes) == 1:
                # One statement is atomic by itself in autocommit mode (SQLite docs, "Transaction"): the
                # common REGISTER refresh needs no BEGIN/COMMIT round trips.
                if upserts:
                    record = upserts[0]
                    self._written[record.binding_id] = self._upsert(record)
                else:
                    self._db.execute(_DELETE, (deletes[0],))
                    self._written.pop(deletes[0], None)
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if deletes:
                    self._db.executemany(_DELETE, [(binding_id,) for binding_id in deletes])
                rows = [(record.binding_id, self._upsert(record)) for record in upserts]
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            for binding_id in deletes:
                self._written.pop(binding_id, None)
            self._written.update(rows)
        except sqlite3.Error as exc:
            self._written.clear()  # what was committed is uncertain now: the next writes are full ones
            raise RegistrarError(f"cannot write {self.path}: {exc}") from exc

    def begin_batch(self) -> None:
        """Hold the commits of the following :meth:`apply` calls until :meth:`end_batch` (group commit)."""
        self._batch = True
        self._batch_failed = False

    def end_batch(self) -> bool:
        """Commit the batch's transaction; False (and nothing of the batch kept) when it or a write failed."""
        if not self._batch:
            return True
        self._batch = False
        if self._batch_failed:
            self._batch_failed = False
            return False
        if not self._batch_open:
            return True
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            # A failed COMMIT may leave the transaction open (a deferred constraint): it is rolled back here.
            log.error("cannot write %s: %s", self.path, exc)
            self._abandon_batch()
            self._batch_failed = False
            return False
        self._batch_open = False
        return True

    def _apply_in_batch(self, upserts: Sequence[BindingRecord], deletes: Sequence[str]) -> None:
        if self._batch_failed:
            raise RegistrarError(f"cannot write {self.path}: an earlier write of this batch failed")
        try:
            if not self._batch_open:
                self._db.execute("BEGIN IMMEDIATE")
                self._batch_open = True
            for binding_id in deletes:
                self._db.execute(_DELETE, (binding_id,))
                self._written.pop(binding_id, None)
            for record in upserts:
                self._written[record.binding_id] = self._upsert(record)
        except sqlite3.Error as exc:
            # Some errors roll back the whole transaction by themselves (SQLite docs, "Response To Errors
            # Within A Transaction"), so the batch fails as a whole rather than by statement.
            self._abandon_batch()
            raise RegistrarError(f"cannot write {self.path}: {exc}") from exc

    def _abandon_batch(self) -> None:
        self._batch_failed = True
        self._written.clear()  # what the file holds is uncertain now: the next writes are full ones
        if self._batch_open:
            self._batch_open = False
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error as exc:  # SQLite itself rolled it back already (a full disk, an I/O error)
                log.debug("%s: nothing to roll back: %s", self.path, exc)

    def _upsert(self, record: BindingRecord) -> BindingRecord:
        """Write one record (in the caller's transaction); the record written."""
        written = self._written.get(record.binding_id)
        execute = self._cursor.execute
        # Records are never changed once made, so the one this store last wrote is what the row holds: a refresh
        # that changed only the expiry and the Call-ID/CSeq is told from the records' fields, no row built.
        if (written is not None and written.contact == record.contact and written.q == record.q
                and written.instance == record.instance and written.reg_id == record.reg_id
                and written.source == record.source and written.transport == record.transport
                and written.user_agent == record.user_agent and written.path == record.path
                and written.aor == record.aor):
            if execute(_REFRESH, (record.expires, record.expires_at_wall, record.refreshed_at_wall, record.call_id,
                                  record.cseq, record.binding_id)).rowcount == 1:
                return record
        row = _row_from_record(record)
        if execute(_UPDATE, (*row[2:], row[0], row[1])).rowcount == 0:
            execute(_UPSERT, row)
        return record

    def close(self) -> None:
        """Close the database (idempotent)."""
        if not self._closed:
            self._closed = True
            self._db.close()


def _row_from_record(record: BindingRecord) -> tuple[object, ...]:
    return (record.binding_id, record.aor, record.contact, record.q, record.expires, record.expires_at_wall,
            record.refreshed_at_wall, record.call_id, record.cseq, record.instance, record.reg_id,
            record.source[0], record.source[1], record.transport, record.user_agent,
            _PATH_SEPARATOR.join(record.path))


def _record_from_row(row: tuple[object, ...]) -> BindingRecord | None:
    (binding_id, aor, contact, q, expires, expires_at_wall, refreshed_at_wall, call_id, cseq, instance, reg_id,
     source_host, source_port, transport, user_agent, path) = row
    for transport_name in TRANSPORTS:
        if transport == transport_name:
            break
    else:
        return None
    try:
        return BindingRecord(
            binding_id=_text(binding_id), aor=_text(aor), contact=_text(contact),
            q=None if q is None else _number(q), expires=int(_number(expires)),
            expires_at_wall=_number(expires_at_wall), refreshed_at_wall=_number(refreshed_at_wall),
            call_id=_text(call_id), cseq=int(_number(cseq)),
            instance=None if instance is None else _text(instance),
            reg_id=None if reg_id is None else int(_number(reg_id)),
            source=(_text(source_host), int(_number(source_port))), transport=transport_name,
            user_agent=None if user_agent is None else _text(user_agent),
            path=tuple(_text(path).split(_PATH_SEPARATOR)) if path else (),
        )
    except ValueError:
        return None


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"not text: {value!r}")
    return value


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"not a number: {value!r}")
    return float(value)
