"""A registration acknowledged with 200 survives ``kill -9``: SIPp registers, the gateway is killed without a
chance to flush anything, and after the restart ``sip show peers`` still shows the phone where it registered.

RFC 3261 section 10.3 step 7 makes the binding update part of answering the REGISTER; the gateway commits it to
``sip_registrations.sqlite`` before the 200 leaves.  Both write paths are covered: a refresh (same Contact, new
Call-ID: the row is updated in place) and a replacement (another phone takes the AOR with ``max_contacts = 1``: one
row deleted and one inserted in one transaction).
"""

from __future__ import annotations

import shutil
import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from firmware.config import DEFAULT_CONFIG
from tests.interop.sipp import Sipp
from tests.support import GatewayProcess

pytestmark = pytest.mark.interop


@pytest.fixture
def gateway(tmp_path: Path, gateway_factory: Callable[..., GatewayProcess]) -> GatewayProcess:
    config = tmp_path / "centralita.toml"
    shutil.copy(DEFAULT_CONFIG, config)
    (tmp_path / "extensions.conf").write_text("[internal]\nexten => _100X,1,Dial(SIP/${EXTEN},5)\n")
    return gateway_factory("--config", str(config))


def kill_and_restart(gateway: GatewayProcess) -> None:
    assert gateway.stop(signal.SIGKILL) == -signal.SIGKILL  # no chance to flush or close anything
    gateway.notify.messages.clear()
    gateway.start()


def peer_of(gateway: GatewayProcess, user: str) -> str:
    ok, peers = gateway.console("sip show peers")
    assert ok, peers
    return next(line for line in peers.splitlines() if line.startswith(f"{user}/{user}"))


def stored_call_ids(gateway: GatewayProcess, aor: str) -> list[str]:
    database = sqlite3.connect(gateway.data_dir / "sip_registrations.sqlite")
    try:
        return [row[0] for row in database.execute("SELECT call_id FROM sip_bindings WHERE aor = ?", (aor,))]
    finally:
        database.close()


def test_acknowledged_registrations_survive_kill_9(gateway: GatewayProcess, phones: Callable[[], Sipp]) -> None:
    first = phones()
    # Three registrations, each with a new Call-ID and the same Contact: an insert, then two refreshes in place.
    result = first.run("register.xml", "-s", "1001", "-au", "1001", "-ap", "demo-1001", calls=3)
    assert result.ok, result.output[-2000:] + result.errors
    kill_and_restart(gateway)
    line = peer_of(gateway, "1001")
    assert "OK" in line and f" {first.port} " in line, line
    # The last refresh is the one kept (SIPp's Call-IDs are "<call number>-<pid>@<ip>").
    (call_id,) = stored_call_ids(gateway, "1001")
    assert call_id.startswith("3-"), call_id

    second = phones()
    result = second.run("register.xml", "-s", "1001", "-au", "1001", "-ap", "demo-1001")
    assert result.ok, result.output[-2000:] + result.errors
    kill_and_restart(gateway)
    line = peer_of(gateway, "1001")
    assert "OK" in line and f" {second.port} " in line and f" {first.port} " not in line, line
    assert len(stored_call_ids(gateway, "1001")) == 1
