"""AstDB on SQLite and its console commands, against Asterisk 20's ``main/db.c`` and ``funcs/func_db.c``."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.astdb import AstDb, AstDbError
from core.cli import CommandRegistry

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[AstDb]:
    database = AstDb(tmp_path / "astdb.sqlite3")
    yield database
    database.close()


@pytest.fixture
def cli(db: AstDb) -> CommandRegistry:
    registry = CommandRegistry()
    db.register_commands(registry)
    return registry


def row(key: str, value: str) -> str:
    """One line of ``database show``: ``%-50s: %-25s``."""
    return key + " " * (50 - len(key)) + ": " + value + " " * (25 - len(value))


# -- the store -------------------------------------------------------------------------------------------


def test_put_get_delete(db: AstDb) -> None:
    assert db.get("cidname", "1001") is None
    db.put("cidname", "1001", "Alice")
    assert db.get("cidname", "1001") == "Alice"
    db.put("cidname", "1001", "Alice Smith")  # INSERT OR REPLACE
    assert db.get("cidname", "1001") == "Alice Smith"
    assert db.exists("cidname", "1001")
    assert db.delete("cidname", "1001") == "Alice Smith"
    assert db.delete("cidname", "1001") is None  # ast_db_del2: a missing key is an error
    assert db.get("cidname", "1001") is None


def test_keys_are_stored_as_family_key_paths(db: AstDb, tmp_path: Path) -> None:
    # db.c: fullkey "/%s/%s" in table astdb(key, value).
    db.put("CF", "1001/busy", "2002")
    raw = sqlite3.connect(tmp_path / "astdb.sqlite3")
    assert raw.execute("SELECT key, value FROM astdb").fetchall() == [("/CF/1001/busy", "2002")]
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


def test_single_keys_are_case_sensitive_trees_are_not(db: AstDb) -> None:
    # The primary key compares exactly; trees use LIKE, which is case-insensitive for ASCII in SQLite.
    db.put("Blacklist", "555", "1")
    assert db.get("blacklist", "555") is None
    assert db.get_tree("blacklist") == [("/Blacklist/555", "1")]


def test_trees_match_whole_path_components(db: AstDb) -> None:
    # db.c gettree/deltree: key || '/' LIKE prefix || '/' || '%'.
    db.put("fam", "a", "1")
    db.put("fam", "b/c", "2")
    db.put("family", "x", "3")
    db.put("fam/b", "d", "4")
    assert db.get_tree("fam") == [("/fam/a", "1"), ("/fam/b/c", "2"), ("/fam/b/d", "4")]
    assert db.get_tree("fam", "b") == [("/fam/b/c", "2"), ("/fam/b/d", "4")]
    assert [key for key, _ in db.get_tree()] == ["/fam/a", "/fam/b/c", "/fam/b/d", "/family/x"]
    assert db.delete_tree("fam", "b") == 2
    assert db.delete_tree("fam") == 1
    assert db.get_tree() == [("/family/x", "3")]
    assert db.delete_tree("nothing") == 0
    assert db.delete_tree("") == 1  # an empty family removes everything (deltree_all_stmt)


def test_db_keys_lists_the_next_component(db: AstDb) -> None:
    # func_db.c DB_KEYS: next path component of each key under the prefix, duplicates skipped.
    db.put("test", "a", "1")
    db.put("test", "b/c", "2")
    db.put("test", "b/d", "3")
    db.put("test", "e", "4")
    db.put("testing", "z", "5")
    assert db.keys("test") == ["a", "b", "e"]
    assert db.keys("/test/") == ["a", "b", "e"]  # leading/trailing slashes are removed
    assert db.keys("test/b") == ["c", "d"]
    assert db.keys("missing") == []


def test_family_and_key_longer_than_db_c_allows(db: AstDb) -> None:
    # db.c: strlen(family) + strlen(key) + 2 > 255 is refused ("Family and key length must be less than
    # 253 bytes").
    db.put("f" * 126, "k" * 127, "fits")
    assert db.get("f" * 126, "k" * 127) == "fits"
    with pytest.raises(AstDbError):
        db.put("f" * 127, "k" * 127, "too long")
    assert db.get("f" * 127, "k" * 127) is None


def test_values_persist_across_reopen(tmp_path: Path) -> None:
    first = AstDb(tmp_path / "astdb.sqlite3")
    first.put("dnd", "1001", "YES")
    first.close()
    second = AstDb(tmp_path / "astdb.sqlite3")
    assert second.get("dnd", "1001") == "YES"
    second.close()


def test_put_survives_kill_9(tmp_path: Path) -> None:
    # A put is committed when it returns (db.c would lose up to a second of changes).
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(REPO)!r})
        from core.astdb import AstDb
        db = AstDb({str(tmp_path / "astdb.sqlite3")!r})
        db.put("CFU", "1001", "5551234")
        print("PUT", flush=True)
        time.sleep(60)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "PUT\n"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    reopened = AstDb(tmp_path / "astdb.sqlite3")
    assert reopened.get("CFU", "1001") == "5551234"
    reopened.close()


# -- console ---------------------------------------------------------------------------------------------


async def test_database_put_get_show(cli: CommandRegistry) -> None:
    # db.c handle_cli_database_put/get/show texts.
    assert (await cli.execute("database put cidname 1001 Alice")).output == "Updated database successfully"
    assert (await cli.execute('database put cidname 1002 "Bob Jones"')).output == "Updated database successfully"
    assert (await cli.execute("database put blacklist 5551234 1")).output == "Updated database successfully"
    assert (await cli.execute("database get cidname 1002")).output == "Value: Bob Jones"
    assert (await cli.execute("database get cidname 1003")).output == "Database entry not found."
    assert (await cli.execute("database show")).output == "\n".join([
        row("/blacklist/5551234", "1"),
        row("/cidname/1001", "Alice"),
        row("/cidname/1002", "Bob Jones"),
        "3 results found.",
    ])
    assert (await cli.execute("database show cidname")).output == "\n".join([
        row("/cidname/1001", "Alice"), row("/cidname/1002", "Bob Jones"), "2 results found."])
    assert (await cli.execute("database show cidname 1002")).output == "\n".join([
        row("/cidname/1002", "Bob Jones"), "1 results found."])
    assert (await cli.execute("database show cidname/1001")).output == "\n".join([
        row("/cidname/1001", "Alice"), "1 results found."])
    assert (await cli.execute("database show nothing")).output == "0 results found."


async def test_database_showkey(cli: CommandRegistry, db: AstDb) -> None:
    db.put("cidname", "1001", "Alice")
    db.put("dnd", "1001", "YES")
    db.put("dnd", "1002", "YES")
    assert (await cli.execute("database showkey 1001")).output == "\n".join([
        row("/cidname/1001", "Alice"), row("/dnd/1001", "YES"), "2 results found."])


async def test_database_del_and_deltree(cli: CommandRegistry, db: AstDb) -> None:
    db.put("dnd", "1001", "YES")
    db.put("dnd", "1002", "YES")
    db.put("cf", "1001", "2002")
    assert (await cli.execute("database del cf 1001")).output == "Database entry removed."
    assert (await cli.execute("database del cf 1001")).output == "Database entry could not be removed."
    assert (await cli.execute("database deltree dnd")).output == "2 database entries removed."
    assert (await cli.execute("database deltree dnd")).output == "Database entries do not exist."


async def test_database_query(cli: CommandRegistry, db: AstDb) -> None:
    # db.c display_results: "%-5s: %-50s" per column, then an empty line per row.
    db.put("a", "b", "c")
    result = await cli.execute('database query "SELECT key, value FROM astdb"')
    assert result.output == "key  : /a/b" + " " * 46 + "\nvalue: c" + " " * 49 + "\n"


@pytest.mark.parametrize("line", [
    "database get onlyfamily",
    "database put family key",
    "database del family",
    "database deltree",
    "database show a b c",
    "database showkey",
])
async def test_wrong_arguments_print_the_usage(cli: CommandRegistry, line: str) -> None:
    result = await cli.execute(line)
    assert not result.ok
    assert result.output.startswith("Usage: " + " ".join(line.split()[:2]))
