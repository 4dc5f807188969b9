"""The ``[iax2]`` section and the iax2 service as an operator meets them: FILE:LINE errors, the one-line
bind failure, the console's ``iax2 show ...`` tables, and a gateway registering to another one."""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from firmware.config import DEFAULT_CONFIG, ConfigError, load_config
from tests.support import GatewayProcess, free_port, run_centralita


def _config(tmp_path: Path, extra: str, name: str = "centralita.toml", plan: str | None = None) -> Path:
    directory = tmp_path / name.removesuffix(".toml")
    directory.mkdir(exist_ok=True)
    if plan is None:
        shutil.copy(DEFAULT_CONFIG.parent / "extensions.conf", directory / "extensions.conf")
    else:
        (directory / "extensions.conf").write_text(plan)
    target = directory / "centralita.toml"
    target.write_text(DEFAULT_CONFIG.read_text() + "\n" + extra)
    return target


def _issues(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return [str(i) for i in info.value.issues]


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if line.startswith(text))


def test_trunk_and_encryption_together_are_refused_with_file_line_and_the_reason(tmp_path: Path) -> None:
    path = _config(tmp_path, '[iax2]\nenabled = true\n[[iax2.peers]]\nname = "hq"\nhost = "192.0.2.1"\n'
                             'secret = "x"\ntrunk = true\nencryption = true\n')
    line = _line_of(path, "encryption = true")
    assert _issues(path) == [f"{path}:{line}: iax2 peer 'hq': trunk and encryption are mutually exclusive "
                             "(as in Asterisk: trunked voice is never encrypted)"]


def test_bad_iax2_settings_are_reported_each_at_its_line(tmp_path: Path) -> None:
    path = _config(tmp_path, '[iax2]\nenabled = true\ncodecs = ["gsm"]\n[[iax2.peers]]\nname = "hq"\n'
                             'requirecalltoken = "maybe"\n'
                             '[[iax2.registrations]]\nuser = "me"\nhost = "pbx.example.com"\nrefesh = 60\n')
    text = "\n".join(_issues(path))
    assert f"{path}:{_line_of(path, 'codecs = ')}:" in text and "'gsm'" in text
    assert f"{path}:{_line_of(path, 'requirecalltoken')}:" in text
    assert f"{path}:{_line_of(path, 'refesh')}: unknown key 'refesh'" in text and "did you mean 'refresh'?" in text
    path = _config(tmp_path, '[iax2]\n[[iax2.peers]]\nname = "hq"\nhost = "192.0.2.1:99999"\nauth = ["rsa"]\n',
                   name="second.toml")
    assert _issues(path) == [f"{path}:{_line_of(path, 'host = ')}: iax2 peer 'hq': bad port in '192.0.2.1:99999'",
                             f"{path}:{_line_of(path, 'auth = ')}: iax2 peer 'hq': auth rsa needs inkeys or outkey"]


def test_check_config_accepts_a_documented_iax2_example(tmp_path: Path) -> None:
    path = _config(tmp_path, '[iax2]\nenabled = true\nport = 4570\ntrunk_frequency_ms = 20\n'
                             '[[iax2.peers]]\nname = "hq"\nhost = "192.0.2.1:4569"\nusername = "branch"\n'
                             'secret = "s3cret"\ntrunk = true\n'
                             '[[iax2.peers]]\nname = "iaxmodem"\nsecret = "fax"\nrequirecalltoken = "no"\n'
                             '[[iax2.registrations]]\nuser = "branch"\nsecret = "s3cret"\nhost = "192.0.2.1"\n')
    result = run_centralita("check-config", str(path))
    assert result.returncode == 0, result.stderr
    config = load_config(path)
    assert [p.name for p in config.iax2.peers] == ["hq", "iaxmodem"]
    assert config.iax2.peers[1].host == "dynamic"


def test_a_taken_iax2_port_stops_start_up_with_one_line(tmp_path: Path,
                                                        gateway_factory: Callable[..., GatewayProcess]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        gateway = gateway_factory("--set", "iax2.enabled=true", "--set", "iax2.bind=127.0.0.1",
                                  "--set", f"iax2.port={port}", wait_ready=False)
        assert gateway.wait(timeout=30) == 1
    assert f"iax2: cannot bind udp 127.0.0.1:{port}: address already in use" in gateway.stderr.splitlines()


def test_a_gateway_registers_to_another_and_is_dialled_at_the_address_it_registered_from(
        tmp_path: Path, gateway_factory: Callable[..., GatewayProcess]) -> None:
    hq_port, branch_port = free_port(), free_port()
    hq = _config(tmp_path, f'[iax2]\nenabled = true\nbind = "127.0.0.1"\nport = {hq_port}\n'
                           '[[iax2.peers]]\nname = "branch"\nsecret = "reg-s3cret"\ncontext = "from-branch"\n'
                           'requirecalltoken = "yes"\ndescription = "branch office"\n',
                 name="hq.toml", plan="[internal]\nexten => 7000,1,Dial(IAX2/branch/600)\n")
    branch = _config(tmp_path, f'[iax2]\nenabled = true\nbind = "127.0.0.1"\nport = {branch_port}\n'
                               f'[[iax2.registrations]]\nuser = "branch"\nsecret = "reg-s3cret"\n'
                               f'host = "127.0.0.1:{hq_port}"\nrefresh = 60\n'
                               f'[[iax2.peers]]\nname = "hq"\nhost = "127.0.0.1:{hq_port}"\nsecret = "reg-s3cret"\n'
                               'context = "from-hq"\n',
                     name="branch.toml", plan="[from-hq]\nexten => 600,1,Answer()\n same => n,Echo()\n")
    a = gateway_factory("--config", str(hq))
    b = gateway_factory("--config", str(branch))
    deadline = time.monotonic() + 10
    registry = peers = ""
    while time.monotonic() < deadline:
        _, registry = b.console("iax2 show registry")
        _, peers = a.console("iax2 show peers")
        if "Registered" in registry and f"{branch_port}" in peers:
            break
        time.sleep(0.2)
    assert registry.splitlines()[0].split() == ["Host", "dnsmgr", "Username", "Perceived", "Refresh", "State"]
    assert f"127.0.0.1:{hq_port}" in registry and "Registered" in registry, registry
    assert registry.splitlines()[-1] == "1 IAX2 registrations."
    (row,) = [line for line in peers.splitlines() if line.startswith("branch")]
    assert "127.0.0.1" in row and "(D)" in row and str(branch_port) in row and "branch office" in row, peers
    assert peers.splitlines()[-1].endswith("iax2 peers [0 online, 0 offline, 1 unmonitored]")
    ok, channels = a.console("iax2 show channels")
    assert ok and channels.splitlines()[-1] == "0 active IAX channels", channels
    ok, answer = a.console("iax2 set debug on")
    assert ok and answer == "IAX2 Debugging Enabled"
    # The registered peer is reachable at the address it registered from: HQ calls it, its dialplan answers.
    ok, answer = a.console("channel originate IAX2/branch/600 application Wait 3")
    assert ok, answer
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        _, channels = b.console("iax2 show channels")
        # The call is listed from its NEW on, and named after the peer once its authentication is through.
        if "1 active IAX channel" in channels and "IAX2/hq-" in channels:
            break
        time.sleep(0.2)
    assert "1 active IAX channel" in channels and "IAX2/hq-" in channels, (channels, answer,
                                                                          b.read_output()[-3000:])
    _, channels = a.console("iax2 show channels")
    assert "IAX2/branch-" in channels and "ulaw" in channels, channels
