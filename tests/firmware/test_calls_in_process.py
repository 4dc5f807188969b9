"""Calls through a running gateway: the dialplan console commands, and CDRs that survive kill -9."""

from __future__ import annotations

import csv
import re
import shutil
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from firmware.config import DEFAULT_CONFIG
from tests.support import GatewayProcess, run_centralita

PLAN = """
[globals]
GREETING=hello

[test]
exten => 100,1,Answer()
 same => n,Set(CDR(userfield)=${GREETING})
 same => n,Wait(0.05)
 same => n,Hangup()
exten => 200,1,Dial(Local/100@test)
"""


def configured(tmp_path: Path, plan: str = PLAN) -> Path:
    config = tmp_path / "centralita.toml"
    shutil.copy(DEFAULT_CONFIG, config)
    (tmp_path / "extensions.conf").write_text(plan)
    return config


def wait_idle(gateway: GatewayProcess, processed: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ok, output = gateway.console("core show channels")
        if ok and "0 active channels" in output and f"{processed} call" in output:
            return
        time.sleep(0.02)
    raise AssertionError(f"calls did not finish: {output}")


def wait_cdrs_written(gateway: GatewayProcess, timeout: float = 10.0) -> None:
    """Until ``cdr show status`` reports records written and none pending: what an operator sees as
    "the records are stored"."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ok, output = gateway.console("cdr show status")
        written = re.search(r"Records written:\s+(\d+)", output)
        pending = re.search(r"Records pending:\s+(\d+)", output)
        if ok and written and pending and int(written.group(1)) > 0 and pending.group(1) == "0":
            return
        time.sleep(0.02)
    raise AssertionError(f"CDRs not written: {output}")


def test_dialplan_show_and_eval_on_the_running_gateway(tmp_path: Path,
                                                       gateway_factory: Callable[..., GatewayProcess]) -> None:
    gateway = gateway_factory("--config", str(configured(tmp_path)))
    ok, shown = gateway.console("dialplan show test")
    assert ok and shown.splitlines()[-1] == "-= 2 extensions (5 priorities) in 1 context. =-"
    assert gateway.console("dialplan eval ${GREETING}, $[2 * 21] ${LEN(${GREETING})}") == (True, "hello, 42 5")
    assert gateway.console("dialplan eval --set A=5 --set 'B=two words' $[${A} + 1]/${B}") == (True, "6/two words")


def test_dialplan_reload_is_atomic(tmp_path: Path, gateway_factory: Callable[..., GatewayProcess]) -> None:
    config = configured(tmp_path)
    gateway = gateway_factory("--config", str(config))
    (tmp_path / "extensions.conf").write_text(PLAN + '#include "missing.conf"\n')
    ok, output = gateway.console("dialplan reload")
    assert not ok and output.startswith("Dialplan reload failed, the running dialplan is unchanged:")
    assert "missing.conf" in output
    assert gateway.console("dialplan show test")[1].endswith("-= 2 extensions (5 priorities) in 1 context. =-")
    (tmp_path / "extensions.conf").write_text(PLAN + "exten => 300,1,NoOp()\n")
    assert gateway.console("dialplan reload") == (True, "Dialplan reloaded.")
    assert gateway.console("dialplan show test")[1].endswith("-= 3 extensions (6 priorities) in 1 context. =-")


def test_check_config_reports_dialplan_errors_with_file_and_line(tmp_path: Path) -> None:
    config = configured(tmp_path, PLAN + '#include "nowhere.conf"\n')
    result = run_centralita("check-config", str(config))
    line = len(PLAN.splitlines()) + 1
    assert result.returncode == 2
    assert result.stderr.startswith(f"{tmp_path / 'extensions.conf'}:{line}:")
    assert "nowhere.conf" in result.stderr


def test_cdr_of_a_finished_call_survives_kill_9(tmp_path: Path,
                                                 gateway_factory: Callable[..., GatewayProcess]) -> None:
    gateway = gateway_factory("--config", str(configured(tmp_path)))
    ok, _ = gateway.console("channel originate Local/200@test application Wait 0.05")
    assert ok
    wait_idle(gateway, processed=2)
    wait_cdrs_written(gateway)
    assert gateway.stop(signal.SIGKILL) == -signal.SIGKILL  # no chance to flush anything
    with (gateway.data_dir / "cdr-csv" / "Master.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    answered = [r for r in rows if r[2] == "100" and r[14] == "ANSWERED"]
    assert answered, rows
    database = sqlite3.connect(gateway.data_dir / "cdr.sqlite")
    stored = database.execute("SELECT dst, dcontext, disposition, userfield FROM cdr WHERE userfield != ''").fetchall()
    assert ("100", "test", "ANSWERED", "hello") in stored


def test_cdr_show_status(tmp_path: Path, gateway_factory: Callable[..., GatewayProcess]) -> None:
    gateway = gateway_factory("--config", str(configured(tmp_path)))
    ok, output = gateway.console("cdr show status")
    assert ok
    assert "  Logging:                    Enabled" in output
    assert "  Log unanswered calls:       No" in output
    assert output.splitlines()[-2:] == ["    csv", "    sqlite"]
    assert "Records written:            0" in output
