"""iaxmodem (Debian package ``iaxmodem``) registered to a running gateway, not just to the bare stack.

The gateway's ``[iax2]`` has iaxmodem as a dynamic peer (MD5 secret, no call tokens: libiax2 has none).
Asserted: iaxmodem's registration shows in ``iax2 show peers`` at the address it registered from;
``channel originate IAX2/iaxmodem ...`` (``Dial(IAX2/iaxmodem)``, no number) rings the modem (``RING`` on its
pty) and the answered call shows in ``iax2 show channels``; iaxmodem's own call (``ATDT600``) enters the
peer's context and reaches Echo() there.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from firmware.config import DEFAULT_CONFIG
from tests.interop.iaxmodem import Iaxmodem
from tests.support import GatewayProcess, free_port, short_tempdir

pytestmark = pytest.mark.interop

PLAN = """
[from-fax]
exten => 600,1,Answer()
 same => n,Set(CDR(userfield)=from-fax:${CALLERID(num)})
 same => n,Echo()
"""


def _until(predicate: Callable[[], bool], timeout: float, what: str, modem: Iaxmodem) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n--- iaxmodem ---\n{modem.log_text()[-3000:]}")
        time.sleep(0.1)


@pytest.fixture
def setup(tmp_path: Path, gateway_factory: Callable[..., GatewayProcess]) -> Iterator[tuple[GatewayProcess, Iaxmodem]]:
    port = free_port()
    config = tmp_path / "centralita.toml"
    shutil.copy(DEFAULT_CONFIG, config)
    (tmp_path / "extensions.conf").write_text(PLAN)
    with config.open("a") as out:
        out.write(f'\n[iax2]\nenabled = true\nbind = "127.0.0.1"\nport = {port}\n'
                  '[[iax2.peers]]\nname = "iaxmodem"\nsecret = "password"\nrequirecalltoken = "no"\n'
                  'context = "from-fax"\ncodecs = ["ulaw"]\n')
    gateway = gateway_factory("--config", str(config))
    modem_dir = short_tempdir("iaxm-")  # iaxmodem's device path must stay short
    modem = Iaxmodem(modem_dir, ("127.0.0.1", port))
    modem.start()
    try:
        yield gateway, modem
    finally:
        modem.terminate()
        shutil.rmtree(modem_dir, ignore_errors=True)


def test_iaxmodem_registers_to_the_gateway_and_calls_both_ways(setup: tuple[GatewayProcess, Iaxmodem]) -> None:
    gateway, modem = setup

    def registered() -> bool:
        _, peers = gateway.console("iax2 show peers")
        return f"{modem.port}" in peers

    _until(registered, 15, "iaxmodem's registration in iax2 show peers", modem)
    _, peers = gateway.console("iax2 show peers")
    (row,) = [line for line in peers.splitlines() if line.startswith("iaxmodem")]
    assert "127.0.0.1" in row and "(D)" in row, peers

    ok, answer = gateway.console("channel originate IAX2/iaxmodem application Wait 3")
    assert ok, answer
    _until(lambda: modem.seen("RING"), 10, "RING on the modem's pty", modem)
    modem.send("ATA")

    def channel_up() -> bool:
        _, channels = gateway.console("iax2 show channels")
        return "1 active IAX channel" in channels

    _until(channel_up, 5, "the call in iax2 show channels", modem)
    _, channels = gateway.console("iax2 show channels")
    assert "IAX2/iaxmodem-" in channels and "ulaw" in channels, channels
    _until(lambda: modem.seen("NO CARRIER"), 15, "NO CARRIER when the gateway hangs up", modem)
    modem.consume("NO CARRIER")

    # iaxmodem busies itself out for a few seconds after a call; then it dials the gateway's echo.
    time.sleep(6)
    modem.send("ATDT600")

    def inbound_up() -> bool:
        _, channels = gateway.console("core show channels")
        return "IAX2/iaxmodem-" in channels and "Echo" in channels

    _until(inbound_up, 15, "iaxmodem's call running Echo() in from-fax", modem)
    _, channels = gateway.console("core show channels concise")
    (line,) = [row for row in channels.splitlines() if row.startswith("IAX2/iaxmodem-")]
    assert line.split("!")[1:3] == ["from-fax", "600"], channels
