"""Master.csv byte for byte as ``cdr/cdr_csv.c`` writes it, the SQLite table, and durability.

The CSV layout follows ``build_csv_record`` (``append_string`` doubles quotes, ``append_date`` writes a
bare comma for an unset time, ``append_int`` bare numbers, the trailing comma replaced by a newline).
Times are local unless ``usegmtime``; the tests pin TZ to a POSIX zone string so no tzdata is needed.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.cdr import CdrRecord, CsvCdrBackend, SqliteCdrBackend, csv_line
from tests.cdr.harness import EPOCH, World

REPO = Path(__file__).resolve().parents[2]
CET = "CET-1CEST,M3.5.0,M10.5.0/3"


@pytest.fixture
def cet(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", CET)
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def record(**changes: object) -> CdrRecord:
    fields: dict[str, object] = dict(
        accountcode="", src="100", dst="200", dcontext="default", clid='"Alice" <100>',
        channel="SIP/alice-00000000", dstchannel="SIP/bob-00000001", lastapp="Dial", lastdata="SIP/bob,,Tt",
        start=EPOCH, answer=EPOCH + 8, end=EPOCH + 120, duration=120, billsec=112, disposition=8,
        amaflags=3, userfield="", uniqueid="1362402678.0", linkedid="1362402678.0", peeraccount="",
        sequence=12,
    )
    fields.update(changes)
    return CdrRecord(**fields)  # type: ignore[arg-type]


BASIC = ('"","100","200","default","""Alice"" <100>","SIP/alice-00000000","SIP/bob-00000001","Dial",'
         '"SIP/bob,,Tt","2013-03-04 14:11:18","2013-03-04 14:11:26","2013-03-04 14:13:18",120,112,'
         '"ANSWERED","DOCUMENTATION"\n')


@pytest.mark.parametrize(("changes", "options", "expected"), [
    pytest.param({}, {}, BASIC, id="basic call, Asterisk 20 defaults (local time)"),
    pytest.param({"answer": None, "billsec": 0, "disposition": 0, "duration": 10, "end": EPOCH + 10}, {},
                 '"","100","200","default","""Alice"" <100>","SIP/alice-00000000","SIP/bob-00000001","Dial",'
                 '"SIP/bob,,Tt","2013-03-04 14:11:18",,"2013-03-04 14:11:28",10,0,"NO ANSWER","DOCUMENTATION"\n',
                 id="unanswered: empty unquoted answer (append_date)"),
    pytest.param({}, {"usegmtime": True},
                 BASIC.replace("14:1", "13:1"), id="usegmtime=yes"),
    pytest.param({"userfield": "vip"}, {"loguniqueid": True, "loguserfield": True},
                 BASIC[:-1] + ',"1362402678.0","vip"\n', id="loguniqueid+loguserfield (sample cdr.conf)"),
    pytest.param({"peeraccount": "bob"}, {"newcdrcolumns": True},
                 BASIC[:-1] + ',"bob","1362402678.0",12\n', id="newcdrcolumns: peeraccount,linkedid,sequence"),
    pytest.param({"lastdata": 'say "hi"', "clid": '"" <100>', "accountcode": "acme", "amaflags": 2,
                  "disposition": 4},
                 {},
                 '"acme","100","200","default",""""" <100>","SIP/alice-00000000","SIP/bob-00000001","Dial",'
                 '"say ""hi""","2013-03-04 14:11:18","2013-03-04 14:11:26","2013-03-04 14:13:18",120,112,'
                 '"BUSY","BILLING"\n', id="quotes doubled (append_string)"),
])
def test_master_csv_line(cet: None, changes: dict[str, object], options: dict[str, bool], expected: str) -> None:
    assert csv_line(record(**changes), **options) == expected


def test_summer_time_is_local_time(cet: None) -> None:
    # ast_localtime with the system zone: 12:00 UTC in July is 14:00 CEST.
    line = csv_line(record(start=1372766400.0, answer=None, end=1372766400.0))
    assert ',"2013-07-02 14:00:00",,"2013-07-02 14:00:00",' in line


def test_csv_backend_appends_master_and_account_files(tmp_path: Path, cet: None) -> None:
    # cdr_csv.c csv_log: Master.csv always; <accountcode>.csv with accountlogs (default yes), refusing
    # account codes with '/' or a leading '.'.
    backend = CsvCdrBackend(tmp_path / "cdr-csv")
    backend.write(record())
    backend.write(record(accountcode="acme"))
    backend.write(record(accountcode="../evil"))
    master = (tmp_path / "cdr-csv" / "Master.csv").read_bytes()
    assert master.count(b"\n") == 3
    assert master.startswith(BASIC.encode())
    assert (tmp_path / "cdr-csv" / "acme.csv").read_bytes() == csv_line(record(accountcode="acme")).encode()
    assert sorted(p.name for p in (tmp_path / "cdr-csv").iterdir()) == ["Master.csv", "acme.csv"]


def test_csv_backend_without_accountlogs(tmp_path: Path) -> None:
    backend = CsvCdrBackend(tmp_path, accountlogs=False)
    backend.write(record(accountcode="acme"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Master.csv"]


def test_engine_to_master_csv_end_to_end(tmp_path: Path, cet: None) -> None:
    # The spec's "Basic Call" through the engine into Master.csv, fixed clock.
    csv = CsvCdrBackend(tmp_path)
    world = World(backends=[csv])
    alice, bob = world.basic_call()
    assert (tmp_path / "Master.csv").read_text() == (
        f'"","100","200","default","""Alice"" <100>","{alice.name}","{bob.name}","Dial","SIP/bob,,Tt",'
        '"2013-03-04 14:11:18","2013-03-04 14:11:26","2013-03-04 14:13:18",120,112,"ANSWERED",'
        '"DOCUMENTATION"\n')


def test_sqlite_backend_row(tmp_path: Path, cet: None) -> None:
    backend = SqliteCdrBackend(tmp_path / "cdr.sqlite3")
    backend.write(record())
    backend.write(record(answer=None, disposition=1, userfield="x"))
    backend.close()
    db = sqlite3.connect(tmp_path / "cdr.sqlite3")
    db.row_factory = sqlite3.Row
    rows = db.execute('SELECT * FROM cdr ORDER BY id').fetchall()
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    first, second = (dict(row) for row in rows)
    assert first == {
        "id": 1, "accountcode": "", "src": "100", "dst": "200", "dcontext": "default", "clid": '"Alice" <100>',
        "channel": "SIP/alice-00000000", "dstchannel": "SIP/bob-00000001", "lastapp": "Dial",
        "lastdata": "SIP/bob,,Tt", "start": "2013-03-04 14:11:18", "answer": "2013-03-04 14:11:26",
        "end": "2013-03-04 14:13:18", "duration": 120, "billsec": 112, "disposition": "ANSWERED",
        "amaflags": "DOCUMENTATION", "userfield": "", "uniqueid": "1362402678.0", "linkedid": "1362402678.0",
        "peeraccount": "", "sequence": 12,
    }
    assert (second["answer"], second["disposition"], second["userfield"]) == ("", "NO ANSWER", "x")


def test_engine_close_writes_calls_still_up(tmp_path: Path) -> None:
    # cdr_engine_shutdown dispatches every active CDR; backends are closed afterwards.
    world = World()
    alice = world.inbound("alice", "100", "Alice", exten="600")
    world.app(alice, "Answer", exten="600")
    world.answer(alice)
    world.clock.advance(30)
    world.engine.close()
    assert [(r.channel, r.duration, r.disposition_text) for r in world.records] == [(alice.name, 30, "ANSWERED")]
    assert world.memory.closed


def test_failing_backend_does_not_stop_the_others() -> None:
    class Broken:
        def write(self, record: CdrRecord) -> None:
            raise OSError("disk full")

        def close(self) -> None:
            pass

    world = World(backends=[Broken()])
    world.basic_call()
    assert len(world.records) == 1


SCRIPT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {repo!r})
    from core.cdr import CsvCdrBackend, SqliteCdrBackend
    from tests.cdr.harness import World
    directory = {directory!r}
    world = World(backends=[CsvCdrBackend(directory), SqliteCdrBackend(directory + "/cdr.sqlite3")])
    world.basic_call(talk=42.0)
    print("HUNGUP", flush=True)
    time.sleep(60)
""")


def test_records_survive_kill_9_right_after_the_hangup(tmp_path: Path) -> None:
    # The record of a finished call is on disk once the hang-up event has been processed: SIGKILL
    # right after it loses nothing (no batching, no close() needed).
    script = SCRIPT.format(repo=str(REPO), directory=str(tmp_path))
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert line == "HUNGUP\n"
    assert process.returncode == -signal.SIGKILL
    lines = (tmp_path / "Master.csv").read_text().splitlines()
    assert len(lines) == 1 and ',50,42,"ANSWERED","DOCUMENTATION"' in lines[0]
    db = sqlite3.connect(tmp_path / "cdr.sqlite3")
    rows = db.execute("SELECT lastapp, billsec, disposition FROM cdr").fetchall()
    db.close()
    assert rows == [("Dial", 42, "ANSWERED")]
