"""SIP against a real peer: SIPp user agents registering and calling through a running gateway.

Each test starts ``centralita run`` on loopback with its own dialplan, then drives SIPp scenarios
(``tests/interop/scenarios``) as phones 1001 and 1002 (the demo users of the default configuration).
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from firmware.config import DEFAULT_CONFIG
from tests.interop.sipp import Sipp
from tests.support import GatewayProcess

pytestmark = pytest.mark.interop

PLAN = """
[internal]
exten => _100X,1,Dial(SIP/${EXTEN},5)
exten => 700,1,Set(R=$[1 + 1])
 same => n,GotoIf($[${R} = 2]?busy:free)
 same => n(free),Hangup()
 same => n(busy),Busy()
exten => 701,1,Congestion()
exten => h,1,Set(CDR(userfield)=${HANGUPCAUSE})
"""


@pytest.fixture
def gateway(tmp_path: Path, gateway_factory: Callable[..., GatewayProcess]) -> GatewayProcess:
    config = tmp_path / "centralita.toml"
    shutil.copy(DEFAULT_CONFIG, config)
    (tmp_path / "extensions.conf").write_text(PLAN)
    return gateway_factory("--config", str(config))


def register(phone: Sipp, user: str, secret: str) -> None:
    result = phone.run("register.xml", "-s", user, "-au", user, "-ap", secret)
    assert result.ok, result.output[-2000:] + result.errors


def received(screen: str, status: int) -> bool:
    """SIPp's final screen shows the response arriving once: ``486 <----------  1 ...``."""
    return re.search(rf"^\s*{status} <-+\s+1\b", screen, re.MULTILINE) is not None


def cdr_rows(gateway: GatewayProcess, timeout: float = 5.0) -> list[sqlite3.Row]:
    deadline = time.monotonic() + timeout
    path = gateway.data_dir / "cdr.sqlite"
    while True:
        if path.exists():
            database = sqlite3.connect(path)
            database.row_factory = sqlite3.Row
            rows = database.execute("SELECT * FROM cdr ORDER BY rowid").fetchall()
            database.close()
            if rows or time.monotonic() > deadline:
                return rows
        elif time.monotonic() > deadline:
            return []
        time.sleep(0.05)


def test_register_with_digest_shows_the_phone(gateway: GatewayProcess, phones: Callable[[], Sipp]) -> None:
    phone = phones()
    register(phone, "1001", "demo-1001")
    ok, peers = gateway.console("sip show peers")
    assert ok
    line = next(line for line in peers.splitlines() if line.startswith("1001/1001"))
    assert "127.0.0.1" in line and str(phone.port) in line and "OK" in line


def test_wrong_password_is_refused_then_banned(gateway: GatewayProcess, phones: Callable[[], Sipp]) -> None:
    phone = phones()
    failed = phone.run("register.xml", "-s", "1001", "-au", "1001", "-ap", "wrong", timeout=4)
    assert not failed.ok  # a new 401 instead of the 200
    for _ in range(5):
        phone.run("register.xml", "-s", "1001", "-au", "1001", "-ap", "wrong", timeout=2)
    # Banned now: even the right password gets no answer from this address.
    banned = phone.run("register.xml", "-s", "1001", "-au", "1001", "-ap", "demo-1001", timeout=3)
    assert not banned.ok


def test_call_between_two_registered_phones(gateway: GatewayProcess, phones: Callable[[], Sipp]) -> None:
    callee = phones()
    register(callee, "1002", "demo-1002")
    callee.start("uas_answer.xml")
    caller = phones()
    result = caller.run("uac_call.xml", "-s", "1002", "-set", "caller", "1001", "-au", "1001", "-ap", "demo-1001")
    assert result.ok, result.output[-2000:] + result.errors
    assert callee.wait().ok
    (row,) = cdr_rows(gateway)
    assert (row["src"], row["dst"], row["disposition"]) == ("1001", "1002", "ANSWERED")
    assert row["channel"].startswith("SIP/1001-") and row["dstchannel"].startswith("SIP/1002-")


@pytest.mark.parametrize(("status", "cause"), [(486, "17"), (480, "19"), (503, "34")])
def test_refusals_propagate_with_their_cause(gateway: GatewayProcess, phones: Callable[[], Sipp],
                                            status: int, cause: str) -> None:
    callee = phones()
    register(callee, "1002", "demo-1002")
    callee.start(callee.scenario_with("uas_reject.xml", STATUS=str(status)))
    caller = phones()
    result = caller.run("uac_call.xml", "-s", "1002", "-set", "caller", "1001", "-au", "1001", "-ap", "demo-1001")
    assert result.ok, result.output[-2000:] + result.errors
    assert received(result.output, status)
    assert callee.wait().ok
    rows = cdr_rows(gateway)
    assert rows and rows[-1]["userfield"] == cause


@pytest.mark.parametrize(("exten", "status"), [("700", 486), ("701", 503)])
def test_dialplan_busy_and_congestion_answer_486_and_503(gateway: GatewayProcess, phones: Callable[[], Sipp],
                                                        exten: str, status: int) -> None:
    caller = phones()
    result = caller.run("uac_call.xml", "-s", exten, "-set", "caller", "1001", "-au", "1001", "-ap", "demo-1001")
    assert result.ok, result.output[-2000:] + result.errors
    assert received(result.output, status)


def test_cancel_before_answer_reaches_the_callee(gateway: GatewayProcess, phones: Callable[[], Sipp]) -> None:
    callee = phones()
    register(callee, "1002", "demo-1002")
    callee.start("uas_ring_cancel.xml")
    caller = phones()
    result = caller.run("uac_cancel.xml", "-s", "1002", "-set", "caller", "1001", "-au", "1001", "-ap", "demo-1001")
    assert result.ok, result.output[-2000:] + result.errors
    assert callee.wait().ok  # the callee got our CANCEL and answered 487
    ok, channels = gateway.console("core show channels")
    assert ok and "0 active channels" in channels


def test_bye_from_the_callee_ends_both_legs(gateway: GatewayProcess, phones: Callable[[], Sipp]) -> None:
    callee = phones()
    register(callee, "1002", "demo-1002")
    callee.start("uas_bye.xml")
    caller = phones()
    # The callee hangs up 50 ms after its ACK, well before uac_call.xml's own BYE (300 ms after the caller's
    # ACK): the gateway's BYE reaches the caller first (the caller's scenario may call it unexpected: its
    # result is not what this test is about).  With equal pauses the two BYEs raced and the callee's scenario
    # failed when ours arrived first.
    result = caller.run("uac_call.xml", "-s", "1002", "-set", "caller", "1001", "-au", "1001", "-ap", "demo-1001")
    callee_result = callee.wait()
    assert callee_result.ok, callee_result.output[-2000:] + callee_result.errors
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        ok, channels = gateway.console("core show channels")
        if "0 active channels" in channels:
            break
        time.sleep(0.1)
    assert "0 active channels" in channels
    del result


def test_hold_and_resume_pass_through_the_b2bua(gateway: GatewayProcess, phones: Callable[[], Sipp]) -> None:
    callee = phones()
    register(callee, "1002", "demo-1002")
    callee.start("uas_answer_reinvite.xml")
    caller = phones()
    result = caller.run("uac_hold.xml", "-s", "1002", "-set", "caller", "1001", "-au", "1001", "-ap", "demo-1001")
    assert result.ok, result.output[-3000:] + result.errors
    answered = callee.wait()
    assert answered.ok, answered.output[-6000:] + answered.errors


def test_same_codec_call_is_relayed_natively_byte_exact(gateway: GatewayProcess, phones: Callable[[], Sipp],
                                                       tmp_path: Path) -> None:
    """Two phones talking through the gateway with the same codec (PCMA) and RFC 4733 on both legs: the
    bridge is relayed by the native relay (``media show relays``), and each phone gets the other's audio
    payloads byte for byte, in one stream of ours (our SSRC, consecutive sequence numbers)."""
    from tests.interop.capture import Capture
    from tests.interop.test_media_sipp import free_media_port, pcap

    audio = pcap("g711a.pcap")
    callee, caller = phones(), phones()
    register(callee, "1002", "demo-1002")
    callee_media, caller_media = free_media_port(), free_media_port()
    while caller_media == callee_media:
        caller_media = free_media_port()
    capture = Capture(tmp_path / "relay.pcap", f"udp port {callee_media} or udp port {caller_media}").start()
    relays = ""
    try:
        callee.start(callee.scenario_with("uas_answer_media.xml", PCAP_FILE=audio), "-mp", str(callee_media))
        caller.start(caller.scenario_with("uac_media.xml", PCAP_FILE=audio, PAUSE_MS="5000"), "-s", "1002",
                     "-set", "caller", "1001", "-au", "1001", "-ap", "demo-1001", "-mp", str(caller_media))
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            ok, relays = gateway.console("media show relays")
            rows = [line.split() for line in relays.splitlines()[1:-1]]
            if ok and rows and all(int(row[3]) > 20 and int(row[10]) > 20 for row in rows):
                break  # relayed both ways, packets counted by the relay itself
            time.sleep(0.2)
        result = caller.wait()
        assert result.ok, result.output[-3000:] + result.errors
        answered = callee.wait()
        assert answered.ok, answered.output[-3000:] + answered.errors
    finally:
        capture.stop()
    assert re.search(r"^1 relayed pair \(native relay: (compiled|pure-python)\)$", relays, re.MULTILINE), relays
    packets = capture.rtp(callee_media, caller_media)
    for source, destination in ((caller_media, callee_media), (callee_media, caller_media)):
        sent = [p for p in packets if p.source_port == source and p.payload_type == 8]
        got = [p for p in packets if p.destination_port == destination and p.payload_type == 8
               and p.source_port != source]
        assert len(sent) >= 100, f"SIPp sent only {len(sent)} RTP packets"
        assert len(got) >= 0.95 * len(sent), (len(got), len(sent))
        # Byte-exact and none lost once the bridge is up (the first packet or two may reach the gateway before
        # the legs are bridged, right after the caller's ACK: those are not relayed).
        payloads = [p.payload for p in got]
        assert any(payloads == [p.payload for p in sent[skip:skip + len(got)]] for skip in range(4)), (
            source, destination)
        assert len({p.ssrc for p in got}) == 1 and got[0].ssrc not in {p.ssrc for p in sent}
        assert all((b.sequence - a.sequence) & 0xFFFF == 1 for a, b in zip(got, got[1:], strict=False))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        ok, relays = gateway.console("media show relays")
        if "0 relayed pairs" in relays:
            break
        time.sleep(0.1)
    assert "0 relayed pairs" in relays, relays  # the bridge ended: the legs were taken back
