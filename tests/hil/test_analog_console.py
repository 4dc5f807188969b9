"""The analog end-to-end scenarios through the firmware's console (issue 6, "Done when"): the simulated
phones and exchange lines are driven with ``sim phone``/``sim line`` and observed with their ``status`` and
``ports show``/``core show channels``, exactly as an operator at the serial console would.

On a real board (``--port``) there is no simulated world: these tests skip.  The SIP call to 2001 is the
one of ``tests/interop/test_analog_sip.py``, with the analog phone driven from the serial console."""

from __future__ import annotations

import array
import re
import time
from pathlib import Path

import pexpect
import pytest

from board.sim.peers import analyse
from cython_media import g711
from tests.hil.conftest import Board
from tests.interop.capture import Capture
from tests.interop.sipp import Sipp
from tests.interop.test_analog_sip import write_rtp_pcap
from tests.interop.test_media_sipp import free_media_port, from_gateway
from tests.support import free_port

pytestmark = pytest.mark.hil


def command(dut: object, text: str, pattern: str, timeout: float = 5.0) -> re.Match[bytes]:
    """Send ``text`` and return the match of ``pattern`` in its answer."""
    dut.write(text)  # type: ignore[attr-defined]
    match: re.Match[bytes] = dut.expect(pattern.encode(), timeout=timeout)  # type: ignore[attr-defined]
    return match


def poll(dut: object, text: str, pattern: str, timeout: float = 10.0) -> tuple[re.Match[bytes], float]:
    """Send ``text`` until its answer matches ``pattern``; (the match, seconds it took)."""
    start = time.monotonic()
    while True:
        dut.write(text)  # type: ignore[attr-defined]
        try:
            match: re.Match[bytes] = dut.expect(pattern.encode(), timeout=0.3)  # type: ignore[attr-defined]
            return match, time.monotonic() - start
        except pexpect.TIMEOUT:
            if time.monotonic() - start > timeout:
                raise AssertionError(f"{text!r} never answered {pattern!r} within {timeout} s") from None


def ready(dut: object, board: Board) -> None:
    if not board.simulated:
        pytest.skip("the analog scenarios need the simulated board's phones and lines")
    board.wait_ready(dut)


def test_ports_show_lists_the_simulated_modules(dut: object, board: Board) -> None:
    ready(dut, board)
    command(dut, "ports show", r"1\s+FXS\s+si3215\s+0\s+port1\s+on hook, forward active")
    dut.expect(rb"3\s+FXO\s+si3050\s+2\s+port3\s+on hook, line 48 V", timeout=5)  # type: ignore[attr-defined]
    dut.expect_exact("4 slots: 2 FXS, 2 FXO, 0 empty, 0 failed (board sim-2fxs-2fxo)", timeout=5)  # type: ignore[attr-defined]


@pytest.mark.parametrize("pulse", [False, True], ids=["dtmf", "pulse"])
def test_phone_calls_phone_through_the_console(dut: object, board: Board, pulse: bool) -> None:
    ready(dut, board)
    command(dut, "sim phone 1 offhook", r"phone 1: off hook")
    poll(dut, "sim phone 1 status", r"hearing: dial \(350\+440 Hz")
    command(dut, "sim phone 1 dial 2002" + (" pulse" if pulse else ""),
            r"phone 1: dialling 2002 \((pulse|DTMF)")
    poll(dut, "sim phone 2 status", r"ringing: yes", timeout=15)
    if not pulse:  # (the cadence and caller ID do not depend on how the number was dialled: checked once)
        match, _ = poll(dut, "sim phone 2 status", r"rings 2; cadence (\d+)/(\d+)", timeout=10)
        on, off = int(match.group(1)), int(match.group(2))
        assert abs(on - 2000) <= 60 and abs(off - 4000) <= 60, (on, off)
        poll(dut, "sim phone 2 status", r'caller id: 2001 "FXS 1" \(bell202\)', timeout=2)
    command(dut, "sim phone 2 offhook", r"phone 2: off hook")
    poll(dut, "core show channels", r"2 active channels", timeout=3)
    command(dut, "sim phone 1 tone 1004 3", r"playing 1004 Hz")
    poll(dut, "sim phone 2 status", r"hearing: 100\d Hz", timeout=3)
    command(dut, "sim phone 2 tone 1633 3", r"playing 1633 Hz")
    poll(dut, "sim phone 1 status", r"hearing: 163\d Hz", timeout=3)
    command(dut, "sim phone 2 onhook", r"phone 2: on hook")
    command(dut, "sim phone 1 onhook", r"phone 1: on hook")
    poll(dut, "core show channels", r"\b0 active channels", timeout=5)


@pytest.mark.firmware_set('analog.country="de"')
def test_fxo_call_with_etsi_caller_id_and_disconnects(dut: object, board: Board) -> None:
    ready(dut, board)
    for method in ("polarity", "busy"):
        command(dut, "sim line 3 ring cid 5551234 ALICE", r"line 3: ringing with caller ID 5551234")
        # [from-pstn] of the demo dialplan rings FXS 1 with the caller ID captured on the line.
        poll(dut, "core show channels", r"FXO/3-\d+\s+s@from-pstn", timeout=8)
        command(dut, "core show channel FXO/3", r"Caller ID: 5551234\s+Caller ID Name: ALICE")
        poll(dut, "sim phone 1 status", r'caller id: 5551234 "ALICE" \(v23\)', timeout=10)
        command(dut, "sim phone 1 offhook", r"phone 1: off hook")
        poll(dut, "sim line 3 status", r"line 3: connected", timeout=3)
        command(dut, "sim line 3 tone 1209 3", r"playing 1209 Hz")
        poll(dut, "sim phone 1 status", r"hearing: 12[01]\d Hz", timeout=3)
        # A reversal in the first 0.65 s after the line is seized is taken as the loop closing, not a hang-up
        # (DAHDI polarityonanswerdelay): talk for a second first.
        time.sleep(1.0)
        command(dut, f"sim line 3 disconnect {method}", rf"line 3: disconnect \({method}\)")
        # The gateway releases the line (the exchange sees the loop open) and both channels go.
        _, took = poll(dut, "sim line 3 status", r"loop: open", timeout=3)
        assert took <= 1.0 + 0.3, f"disconnect by {method} took {took:.2f} s (console round trips included)"
        poll(dut, "core show channels", r"\b0 active channels", timeout=1)
        poll(dut, "sim line 3 status", r"line 3: idle", timeout=3)
        command(dut, "sim phone 1 onhook", r"phone 1: on hook")
        time.sleep(1.5)  # longer than the flash window: the phone's hang-up is taken as one


def test_fxo_call_in_the_architectures_console_form(dut: object, board: Board) -> None:
    """``sim line N ring CALLERID`` and ``sim line N hangup`` as docs/architecture.md's contract writes them
    (US: Bell 202 caller ID after the first ring; the exchange hangs up by removing battery)."""
    ready(dut, board)
    command(dut, 'sim line 4 ring "Bob" <5550100>', r"line 4: ringing with caller ID 5550100")
    poll(dut, "core show channels", r"FXO/4-\d+\s+s@from-pstn", timeout=12)
    command(dut, "core show channel FXO/4", r"Caller ID: 5550100\s+Caller ID Name: Bob")
    poll(dut, "sim phone 1 status", r'caller id: 5550100 "Bob" \(bell202\)', timeout=12)
    command(dut, "sim phone 1 offhook", r"phone 1: off hook")
    poll(dut, "sim line 4 status", r"line 4: connected", timeout=3)
    time.sleep(1.0)
    command(dut, "sim line 4 hangup", r"line 4: disconnect \(battery\)")
    poll(dut, "core show channels", r"\b0 active channels", timeout=3)
    command(dut, "sim phone 1 onhook", r"phone 1: on hook")


def test_message_waiting_from_the_console(dut: object, board: Board) -> None:
    ready(dut, board)
    command(dut, "ports mwi 2 on 3", r"FXS port 2: message waiting on \(3\)")
    poll(dut, "sim phone 2 status", r"message waiting: on", timeout=5)
    command(dut, "ports mwi 2 off", r"FXS port 2: message waiting off")
    poll(dut, "sim phone 2 status", r"message waiting: off", timeout=5)
    command(dut, "ports mwi 9 on", r"no FXS port 9")


SIP_PORT = free_port()


@pytest.mark.firmware_set(f"sip.port={SIP_PORT}")
def test_sip_phone_calls_the_analog_phone_through_the_console(dut: object, board: Board, tmp_path: Path) -> None:
    """SIPp calls 2001 on the firmware's SIP port; the phone on FXS 1, driven and observed from the console,
    rings with the caller's ID, answers, hears SIPp's tone, and its own tone reaches SIPp's RTP."""
    ready(dut, board)
    phone = Sipp(("127.0.0.1", SIP_PORT), tmp_path)
    tone = tmp_path / "tone1633.pcap"
    write_rtp_pcap(tone, 1633, 4.0)
    media_port = free_media_port()
    capture = Capture(tmp_path / "call.pcap", f"udp port {media_port}").start()
    try:
        scenario = phone.scenario_with("uac_media.xml", PCAP_FILE=str(tone), PAUSE_MS="4500")
        phone.start(scenario, "-s", "2001", "-set", "caller", "1001", "-au", "1001", "-ap", "demo-1001",
                    "-mp", str(media_port), timeout=30)
        poll(dut, "sim phone 1 status", r'caller id: 1001 .*\(bell202\)', timeout=25)
        command(dut, "sim phone 1 offhook", r"phone 1: off hook")
        poll(dut, "core show channels", r"FXS/1-", timeout=10)
        poll(dut, "sim phone 1 status", r"hearing: 163\d Hz", timeout=10)
        command(dut, "sim phone 1 tone 1004 2", r"playing 1004 Hz")
        result = phone.wait(timeout=30)
        command(dut, "sim phone 1 onhook", r"phone 1: on hook")
    finally:
        capture.stop()
        phone.stop()
    assert result.ok, result.output[-3000:] + result.errors
    audio = b"".join(p.payload for p in from_gateway(capture.rtp(media_port), media_port) if p.payload_type == 8)
    samples = array.array("h")
    samples.frombytes(g711.alaw2lin(audio))
    heard = [analyse(samples[start:start + 1600]) for start in range(0, len(samples) - 1600, 800)]
    assert any(h.frequencies and abs(h.frequencies[0] - 1004) <= 8 for h in heard), \
        "the analog phone's 1004 Hz tone never reached the SIP phone"
    poll(dut, "core show channels", r"\b0 active channels", timeout=10)
