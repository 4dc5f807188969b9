"""Trunks against SIPp playing the provider on 127.0.0.2 (and 127.0.0.3 as a dead server).

The gateway registers with digest and refreshes, probes the servers with OPTIONS, sends calls out with
``Dial(SIP/provider/number)`` moving to the next server when one is silent or answers 503, and takes
calls in from the provider's address into the trunk's context without challenging them.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from firmware.config import DEFAULT_CONFIG
from tests.interop.sipp import Sipp
from tests.interop.test_sip_sipp import cdr_rows, register
from tests.support import GatewayProcess, free_port

pytestmark = pytest.mark.interop

PROVIDER = "127.0.0.2"
DEAD = "127.0.0.3"

PLAN = """
[internal]
exten => _9X.,1,Dial(SIP/provider/${EXTEN:1},10)
[from-provider]
exten => 5550100,1,Answer()
 same => n,Set(CDR(userfield)=from-provider)
 same => n,Wait(0.2)
 same => n,Hangup()
"""


def trunk(servers: list[str], *, register_: bool = False, qualify: int = 0, failover: float = 1.0) -> str:
    listed = ", ".join(f'"{server}"' for server in servers)
    return f"""
[[sip.trunks]]
name = "provider"
servers = [{listed}]
context = "from-provider"
username = "trunkuser"
secret = "trunkpass"
from_domain = "provider.example"
register = {str(register_).lower()}
qualify = {qualify}
failover_timeout = {failover}
"""


@pytest.fixture
def start(tmp_path: Path, gateway_factory: Callable[..., GatewayProcess]) -> Callable[[str], GatewayProcess]:
    def make(trunk_text: str) -> GatewayProcess:
        config = tmp_path / "centralita.toml"
        shutil.copy(DEFAULT_CONFIG, config)
        with config.open("a") as handle:
            handle.write(trunk_text)
        (tmp_path / "extensions.conf").write_text(PLAN)
        return gateway_factory("--config", str(config))

    return make


@pytest.fixture
def sipps(tmp_path: Path) -> Iterator[Callable[..., Sipp]]:
    made: list[Sipp] = []

    def make(target: tuple[str, int], local_ip: str = "127.0.0.1") -> Sipp:
        sipp = Sipp(target, tmp_path, local_ip=local_ip)
        made.append(sipp)
        return sipp

    yield make
    for sipp in made:
        sipp.stop()


def wait_for(gateway: GatewayProcess, command: str, pattern: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    output = ""
    while time.monotonic() < deadline:
        ok, output = gateway.console(command)
        if ok and re.search(pattern, output, re.MULTILINE):
            return output
        time.sleep(0.1)
    raise AssertionError(f"{command!r} never matched {pattern!r}:\n{output}")


def test_registers_with_digest_and_refreshes_before_expiry(start: Callable[[str], GatewayProcess],
                                                           sipps: Callable[..., Sipp]) -> None:
    provider_port = free_port(PROVIDER)
    provider = sipps(("127.0.0.1", 5060), PROVIDER)
    provider.port = provider_port
    provider.start("provider_registrar.xml", timeout=20)
    gateway = start(trunk([f"{PROVIDER}:{provider_port}"], register_=True))
    # Two rounds of 401 -> REGISTER with a digest SIPp verified -> 200 (expires=3): the second is the refresh.
    result = provider.wait(timeout=20)
    assert result.ok, result.output[-3000:] + result.errors
    registry = wait_for(gateway, "sip show registry", r"Registered")
    assert f"{PROVIDER}:{provider_port}" in registry and "trunkuser" in registry


def test_qualify_reports_live_and_dead_servers(start: Callable[[str], GatewayProcess],
                                               sipps: Callable[..., Sipp]) -> None:
    provider_port = free_port(PROVIDER)
    provider = sipps(("127.0.0.1", 5060), PROVIDER)
    provider.port = provider_port
    provider.start("provider_options.xml", calls=1, timeout=20)
    dead_port = free_port(DEAD)
    gateway = start(trunk([f"{DEAD}:{dead_port}", f"{PROVIDER}:{provider_port}"], qualify=30))
    peers = wait_for(gateway, "sip show peers", rf"{re.escape(DEAD)}\s+{dead_port}\s+UNREACHABLE")
    assert re.search(rf"{re.escape(PROVIDER)}\s+{provider_port}\s+OK \(\d+ ms\)", peers), peers
    assert provider.wait(timeout=10).ok


@pytest.mark.parametrize("first", ["silent", "503"])
def test_outbound_call_fails_over_to_the_next_server(first: str, start: Callable[[str], GatewayProcess],
                                                     sipps: Callable[..., Sipp]) -> None:
    answering_port = free_port(PROVIDER)
    answering = sipps(("127.0.0.1", 5060), PROVIDER)
    answering.port = answering_port
    answering.start("uas_answer.xml", timeout=20)
    if first == "silent":
        first_server = f"{DEAD}:{free_port(DEAD)}"
    else:
        refusing = sipps(("127.0.0.1", 5060), DEAD)
        refusing.start(refusing.scenario_with("uas_reject.xml", STATUS="503"), timeout=20)
        first_server = f"{DEAD}:{refusing.port}"
    gateway = start(trunk([first_server, f"{PROVIDER}:{answering_port}"]))
    phone = sipps(("127.0.0.1", gateway.sip_port))
    register(phone, "1001", "demo-1001")
    result = phone.run("uac_call.xml", "-s", "95550199", "-set", "caller", "1001", "-au", "1001", "-ap",
                       "demo-1001", timeout=20)
    assert result.ok, result.output[-3000:] + result.errors
    assert answering.wait().ok
    (row,) = cdr_rows(gateway)
    assert (row["src"], row["dst"], row["disposition"]) == ("1001", "95550199", "ANSWERED")
    assert row["dstchannel"].startswith("SIP/provider-")


def test_inbound_call_from_the_provider_reaches_the_trunk_context(start: Callable[[str], GatewayProcess],
                                                                  sipps: Callable[..., Sipp]) -> None:
    provider_port = free_port(PROVIDER)
    gateway = start(trunk([f"{PROVIDER}:{provider_port}"]))
    carrier = sipps(("127.0.0.1", gateway.sip_port), PROVIDER)
    carrier.port = provider_port
    result = carrier.run("provider_call.xml", "-s", "5550100", timeout=15)
    assert result.ok, result.output[-3000:] + result.errors
    (row,) = cdr_rows(gateway)
    assert (row["src"], row["dst"], row["dcontext"], row["userfield"]) == (
        "+34915550100", "5550100", "from-provider", "from-provider")
    assert row["channel"].startswith("SIP/provider-")
