"""Asterisk's key/value database (AstDB) on SQLite, and its ``database ...`` console commands.

Follows ``main/db.c`` of Asterisk 20: one table ``astdb(key, value)`` whose keys are ``/family/key``
(a family or key may itself contain ``/``, which makes trees: ``/cidname/1001``, ``/CF/1001/busy``).
Trees are selected the way ``db.c`` does it, ``key || '/' LIKE prefix || '/' || '%'``, so a tree
prefix matches whole path components, case-insensitively for ASCII, and ``_``/``%`` in it are wildcards.
Single keys are exact (case-sensitive).  A family plus key longer than ``db.c``'s 256-byte buffer allows
is refused.

Unlike ``db.c``, which commits from a background thread at most once a second, every change here is
committed before the call returns (WAL, ``synchronous=FULL``): a ``DB()`` write survives a crash at once.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from pathlib import Path

from core.cli import CliRequest, CliUsageError, CommandRegistry

log = logging.getLogger("centralita.astdb")

MAX_DB_FIELD = 256  # db.c: char fullkey[MAX_DB_FIELD]


class AstDbError(Exception):
    """An AstDB operation failed; ``family``/``key`` say where."""

    def __init__(self, family: str, key: str, reason: str) -> None:
        super().__init__(f"/{family}/{key}: {reason}")
        self.family = family
        self.key = key


def _tree_prefix(family: str, keytree: str | None) -> str:
    # ast_db_gettree / ast_db_deltree: "/family/keytree", "/family", or "" for everything.
    if not family:
        return ""
    if keytree:
        return f"/{family}/{keytree}"
    return f"/{family}"


def _fits(family: str, key: str) -> bool:
    # db.c: strlen(family) + strlen(key) + 2 > sizeof(fullkey) - 1 is refused.
    return len(family.encode()) + len(key.encode()) + 2 <= MAX_DB_FIELD - 1


class AstDb:
    """The AstDB in the SQLite file ``path`` (created if missing); implements ``AstDbAccess``.

    Safe to use from several threads (one connection behind a lock).  ``synchronous`` may be lowered to
    ``NORMAL`` where a power cut may lose the last changes (a process crash still loses nothing in WAL
    mode).
    """

    def __init__(self, path: str | os.PathLike[str], *, synchronous: str = "FULL") -> None:
        if synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError(f"unsupported synchronous mode {synchronous!r}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db: sqlite3.Connection = sqlite3.connect(self.path, isolation_level=None,
                                                           check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
            self._db.execute("CREATE TABLE IF NOT EXISTS astdb (key TEXT PRIMARY KEY, value TEXT)")
        except sqlite3.Error as exc:
            raise AstDbError("", "", f"cannot open {self.path}: {exc}") from exc
        self._closed = False

    # -- AstDbAccess ----------------------------------------------------------------------------------

    def get(self, family: str, key: str) -> str | None:
        """``ast_db_get``: the value at ``/family/key``, or None."""
        if not _fits(family, key):
            log.warning("Family and key length must be less than %d bytes", MAX_DB_FIELD - 3)
            return None
        row = self._one("SELECT value FROM astdb WHERE key = ?", (f"/{family}/{key}",))
        return None if row is None else str(row[0])

    def put(self, family: str, key: str, value: str) -> None:
        """``ast_db_put``: store ``value`` at ``/family/key``; committed when this returns.

        Raises :class:`AstDbError` when the family and key are too long or the database fails.
        """
        if not _fits(family, key):
            raise AstDbError(family, key, f"family and key length must be less than {MAX_DB_FIELD - 3} bytes")
        self._run(family, key, "INSERT OR REPLACE INTO astdb (key, value) VALUES (?, ?)",
                  (f"/{family}/{key}", value))

    def delete(self, family: str, key: str) -> str | None:
        """``ast_db_del2``: remove ``/family/key``; the value it had, or None if there was none."""
        if not _fits(family, key):
            log.warning("Family and key length must be less than %d bytes", MAX_DB_FIELD - 3)
            return None
        fullkey = f"/{family}/{key}"
        with self._lock:
            try:
                row = self._db.execute("SELECT value FROM astdb WHERE key = ?", (fullkey,)).fetchone()
                if row is None:
                    return None
                self._db.execute("DELETE FROM astdb WHERE key = ?", (fullkey,))
            except sqlite3.Error as exc:
                raise AstDbError(family, key, str(exc)) from exc
        return str(row[0])

    def delete_tree(self, family: str, keytree: str | None = None) -> int:
        """``ast_db_deltree``: remove ``/family[/keytree]`` and everything under it (all keys when
        ``family`` is empty); how many keys were removed."""
        prefix = _tree_prefix(family, keytree)
        with self._lock:
            try:
                if prefix:
                    cursor = self._db.execute("DELETE FROM astdb WHERE key || '/' LIKE ? || '/' || '%'",
                                              (prefix,))
                else:
                    cursor = self._db.execute("DELETE FROM astdb")
            except sqlite3.Error as exc:
                raise AstDbError(family, keytree or "", str(exc)) from exc
        return max(cursor.rowcount, 0)

    def keys(self, family: str) -> list[str]:
        """``DB_KEYS(family)`` (``funcs/func_db.c``): the next path component of every key under
        ``/family``, in key order, without repeats (subtrees appear once, by name)."""
        family = family.strip("/")
        result: list[str] = []
        last = ""
        start = len(family) + 1
        for fullkey, _value in self.get_tree(family):
            component = fullkey[start:]
            if component.startswith("/"):
                component = component[1:]
            component = component.split("/", 1)[0]
            if component.lower() == last.lower():
                continue
            last = component
            result.append(component)
        return result

    # -- more of db.c ---------------------------------------------------------------------------------

    def exists(self, family: str, key: str) -> bool:
        """``ast_db_exists``: whether ``/family/key`` holds a value."""
        return self.get(family, key) is not None

    def get_tree(self, family: str = "", keytree: str | None = None) -> list[tuple[str, str]]:
        """``ast_db_gettree``: ``(key, value)`` under ``/family[/keytree]`` (everything when ``family``
        is empty), sorted by key."""
        prefix = _tree_prefix(family, keytree)
        if prefix:
            return self._rows("SELECT key, value FROM astdb WHERE key || '/' LIKE ? || '/' || '%' ORDER BY key",
                              (prefix,))
        return self._rows("SELECT key, value FROM astdb ORDER BY key", ())

    def show_key(self, key: str) -> list[tuple[str, str]]:
        """``database showkey``: every ``(key, value)`` whose last component is ``key``."""
        return self._rows("SELECT key, value FROM astdb WHERE key LIKE '%' || '/' || ? ORDER BY key", (key,))

    def query(self, sql: str) -> list[list[tuple[str, str | None]]]:
        """``database query``: run SQL on the database; each row as ``(column, value)`` pairs."""
        with self._lock:
            try:
                cursor = self._db.execute(sql)
                names = [column[0] for column in cursor.description or ()]
                rows = cursor.fetchall()
            except sqlite3.Error as exc:
                raise AstDbError("", "", f"Error executing SQL ({sql}): {exc}") from exc
        return [[(name, None if value is None else str(value)) for name, value in zip(names, row, strict=True)]
                for row in rows]

    def close(self) -> None:
        """Close the database (idempotent)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()

    # -- console ---------------------------------------------------------------------------------------

    def register_commands(self, registry: CommandRegistry) -> None:
        """Add ``database show|showkey|get|put|del|deltree|query`` with ``db.c``'s output."""
        registry.register("database show", self._cli_show, "Shows database contents",
                          "Usage: database show [family [keytree]]\n"
                          "   OR: database show [family[/keytree]]\n"
                          "       Shows Asterisk database contents, optionally restricted\n"
                          "       to a given family, or family and keytree. The two arguments\n"
                          "       may be separated either by a space or by a slash.")
        registry.register("database showkey", self._cli_showkey, "Shows database contents",
                          "Usage: database showkey <keytree>\n"
                          "       Shows Asterisk database contents, restricted to a given key.")
        registry.register("database get", self._cli_get, "Gets database value",
                          "Usage: database get <family> <key>\n"
                          "       Retrieves an entry in the Asterisk database for a given\n"
                          "       family and key.")
        registry.register("database put", self._cli_put, "Adds/updates database value",
                          "Usage: database put <family> <key> <value>\n"
                          "       Adds or updates an entry in the Asterisk database for\n"
                          "       a given family, key, and value.")
        registry.register("database del", self._cli_del, "Removes database key/value",
                          "Usage: database del <family> <key>\n"
                          "       Deletes an entry in the Asterisk database for a given\n"
                          "       family and key.")
        registry.register("database deltree", self._cli_deltree, "Removes database keytree/values",
                          "Usage: database deltree <family> [keytree]\n"
                          "   OR: database deltree <family>[/keytree]\n"
                          "       Deletes a family or specific keytree within a family\n"
                          "       in the Asterisk database.  The two arguments may be\n"
                          "       separated by either a space or a slash.")
        registry.register("database query", self._cli_query, "Run a user-specified query on the astdb",
                          'Usage: database query "<SQL Statement>"\n'
                          "       Run a user-specified SQL query on the database. Be careful.")

    @staticmethod
    def _listing(rows: list[tuple[str, str]]) -> str:
        lines = [f"{key:<50}: {value:<25}" for key, value in rows]
        lines.append(f"{len(rows)} results found.")
        return "\n".join(lines)

    def _cli_show(self, request: CliRequest) -> str:
        args = request.args
        if len(args) > 2:
            raise CliUsageError()
        family = args[0] if args else ""
        keytree = args[1] if len(args) == 2 else None
        return self._listing(self.get_tree(family, keytree))

    def _cli_showkey(self, request: CliRequest) -> str:
        if len(request.args) != 1:
            raise CliUsageError()
        return self._listing(self.show_key(request.args[0]))

    def _cli_get(self, request: CliRequest) -> str:
        if len(request.args) != 2:
            raise CliUsageError()
        value = self.get(*request.args)
        return "Database entry not found." if value is None else f"Value: {value}"

    def _cli_put(self, request: CliRequest) -> str:
        if len(request.args) != 3:
            raise CliUsageError()
        family, key, value = request.args
        try:
            self.put(family, key, value)
        except AstDbError as exc:
            log.warning("%s", exc)
            return "Failed to update entry"
        return "Updated database successfully"

    def _cli_del(self, request: CliRequest) -> str:
        if len(request.args) != 2:
            raise CliUsageError()
        if self.delete(*request.args) is None:
            log.warning("AstDB key /%s/%s does not exist", *request.args)
            return "Database entry could not be removed."
        return "Database entry removed."

    def _cli_deltree(self, request: CliRequest) -> str:
        if not 1 <= len(request.args) <= 2:
            raise CliUsageError()
        try:
            removed = self.delete_tree(request.args[0], request.args[1] if len(request.args) == 2 else None)
        except AstDbError as exc:
            log.warning("%s", exc)
            return "Database unavailable."
        if removed == 0:
            return "Database entries do not exist."
        return f"{removed} database entries removed."

    def _cli_query(self, request: CliRequest) -> str:
        if len(request.args) != 1:
            raise CliUsageError()
        try:
            rows = self.query(request.args[0])
        except AstDbError as exc:
            # db.c logs the error; the console shows nothing.
            log.warning("%s", exc)
            return ""
        lines: list[str] = []
        for row in rows:
            lines.extend(f"{name:<5}: {'(null)' if value is None else value:<50}" for name, value in row)
            lines.append("")
        return "\n".join(lines)

    # -- helpers --------------------------------------------------------------------------------------

    def _one(self, sql: str, params: tuple[str, ...]) -> tuple[object, ...] | None:
        with self._lock:
            try:
                row: tuple[object, ...] | None = self._db.execute(sql, params).fetchone()
            except sqlite3.Error as exc:
                raise AstDbError("", "", str(exc)) from exc
        return row

    def _rows(self, sql: str, params: tuple[str, ...]) -> list[tuple[str, str]]:
        with self._lock:
            try:
                rows = self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise AstDbError("", "", str(exc)) from exc
        return [(str(key), "" if value is None else str(value)) for key, value in rows]

    def _run(self, family: str, key: str, sql: str, params: tuple[str, ...]) -> None:
        with self._lock:
            try:
                self._db.execute(sql, params)
            except sqlite3.Error as exc:
                raise AstDbError(family, key, str(exc)) from exc
