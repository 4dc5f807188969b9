"""Hardware-in-the-loop harness (pytest-embedded, ``serial`` service).

Without ``--port`` the firmware runs on this host with the simulated board and its console on a pty,
joined to the pty the test opens by a null-modem relay: the firmware opens its "UART" by path exactly
as it opens ``/dev/ttyAMA0`` on a board.  With ``--port /dev/ttyUSB0`` the same tests talk to a real
board's console; ``--reset-command`` (e.g. a relay script) lets them watch it boot.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import threading
import tty
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support import REPO, centralita_command, short_tempdir

_NULL_MODEM = pytest.StashKey["NullModem"]()


class NullModem:
    """Two ptys whose masters are copied into each other: a serial cable between two programs."""

    def __init__(self) -> None:
        self._a_master, self._a_slave = os.openpty()
        self._b_master, self._b_slave = os.openpty()
        tty.setraw(self._b_slave)  # the test's side: no echo, no line discipline, like a UART
        self.firmware_side = os.ttyname(self._a_slave)
        self.test_side = os.ttyname(self._b_slave)
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._relay, name="null-modem", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _relay(self) -> None:
        peers = {self._a_master: self._b_master, self._b_master: self._a_master}
        while True:
            readable, _, _ = select.select([*peers, self._wake_r], [], [])
            if self._wake_r in readable:
                return
            for fd in readable:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    continue
                if data:
                    os.write(peers[fd], data)

    def close(self) -> None:
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=2)
        for fd in (self._a_master, self._a_slave, self._b_master, self._b_slave, self._wake_r, self._wake_w):
            os.close(fd)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--reset-command", default=None,
                     help="shell command that resets a real board, so that the tests see it boot")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "firmware_set(*settings): --set KEY=VALUE for the simulated board's firmware")
    if not config.pluginmanager.hasplugin("pytest_embedded"):
        raise pytest.UsageError("tests/hil needs the pytest-embedded plugin; run it without -p no:pytest_embedded")
    if not getattr(config.option, "embedded_services", None):
        config.option.embedded_services = "serial"
    if not getattr(config.option, "port", None):
        modem = NullModem()
        modem.start()
        config.option.port = modem.test_side
        config.stash[_NULL_MODEM] = modem


def pytest_unconfigure(config: pytest.Config) -> None:
    modem = config.stash.get(_NULL_MODEM, None)
    if modem is not None:
        modem.close()


@dataclass
class Board:
    """The device under test: the simulated firmware process, or a real board on a serial port."""

    simulated: bool
    observes_boot: bool
    process: subprocess.Popen[bytes] | None = None
    workdir: Path | None = None
    log: list[str] = field(default_factory=list)

    def wait_ready(self, dut: object) -> None:
        """Block until the console takes commands."""
        if self.observes_boot:
            dut.expect("centralita ready", timeout=30)  # type: ignore[attr-defined]
        dut.write("")  # type: ignore[attr-defined]
        dut.expect_exact("*CLI> ", timeout=10)  # type: ignore[attr-defined]


def extra_settings(request: pytest.FixtureRequest) -> list[str]:
    """``--set`` arguments from the test's ``firmware_set`` marker (e.g. ``analog.country="de"``)."""
    marker = request.node.get_closest_marker("firmware_set")
    return [arg for setting in (marker.args if marker else ()) for arg in ("--set", setting)]


@pytest.fixture
def board(dut: object, request: pytest.FixtureRequest) -> Iterator[Board]:
    """Starts (simulated) or resets (real, with --reset-command) the board after ``dut`` opened its port,
    since opening a serial port flushes what was received before."""
    modem: NullModem | None = request.config.stash.get(_NULL_MODEM, None)
    if modem is None:
        reset = request.config.getoption("--reset-command")
        if reset:
            subprocess.run(reset, shell=True, check=True, timeout=60)
        yield Board(simulated=False, observes_boot=bool(reset))
        return
    workdir = short_tempdir("cta-hil-")
    logfile = (workdir / "firmware.log").open("wb")
    process = subprocess.Popen(
        centralita_command("run", "--console", modem.firmware_side,
                           "--set", f'system.data_dir="{workdir / "data"}"',
                           "--set", "sip.bind=127.0.0.1", "--set", "sip.port=0", *extra_settings(request)),
        stdin=subprocess.DEVNULL, stdout=logfile, stderr=subprocess.STDOUT, cwd=REPO,
    )
    board = Board(simulated=True, observes_boot=True, process=process, workdir=workdir)
    try:
        yield board
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        logfile.close()
        shutil.rmtree(workdir, ignore_errors=True)
