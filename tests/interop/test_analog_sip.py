"""A SIP phone (SIPp) calls the analog phone on FXS port 1 of the gateway's simulated board, the simulated
phone answers, and audio flows both ways: SIPp plays an A-law 1633 Hz tone (RTP written into a pcap here)
that the phone hears, and the phone speaks a 1004 Hz tone that arrives in the RTP tshark captures on
SIPp's media port.  And the other way: the analog phone on FXS 2 dials a SIP phone (SIPp answering with
``-rtp_echo``) and hears its own voice come back through the RTP leg.  The phones are driven through the
gateway's console (``sim phone N ...``)."""

from __future__ import annotations

import math
import re
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from board.sim.peers import analyse, sine
from cython_media import g711
from tests.interop.capture import Capture
from tests.interop.sipp import Sipp
from tests.interop.test_media_sipp import free_media_port, from_gateway, from_phone
from tests.interop.test_sip_sipp import register
from tests.support import GatewayProcess

pytestmark = pytest.mark.interop


def write_rtp_pcap(path: Path, frequency: float, seconds: float, level_dbm0: float = -10.0) -> None:
    """A libpcap file of Ethernet/IPv4/UDP/RTP packets (PCMA, 20 ms each) carrying a tone, as SIPp's
    ``play_pcap_audio`` reads them (it keeps the RTP payload and timing, and re-addresses the packets)."""
    audio = g711.lin2alaw(sine(frequency, seconds, level_dbm0).tobytes())
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for index in range(len(audio) // 160):
        rtp = struct.pack("!BBHII", 0x80, 8, index, index * 160, 0x1234ABCD) + audio[index * 160:(index + 1) * 160]
        udp = struct.pack("!HHHH", 40000, 40000, 8 + len(rtp), 0) + rtp
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), index, 0, 64, 17, 0,
                             bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))
        checksum = 0
        for i in range(0, 20, 2):
            checksum += (header[i] << 8) + header[i + 1]
        checksum = (checksum & 0xFFFF) + (checksum >> 16)
        header = header[:10] + struct.pack("!H", ~checksum & 0xFFFF) + header[12:]
        frame = bytes(6) + bytes(6) + b"\x08\x00" + header + udp
        stamp = index * 0.02
        out += struct.pack("<IIII", int(stamp), round((stamp % 1) * 1e6), len(frame), len(frame)) + frame
    path.write_bytes(bytes(out))


def console_until(gateway: GatewayProcess, command: str, pattern: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    output = ""
    while time.monotonic() < deadline:
        ok, output = gateway.console(command)
        if ok and re.search(pattern, output):
            return output
        time.sleep(0.05)
    raise AssertionError(f"{command!r} never showed {pattern!r}: {output}")


@pytest.fixture
def phone(gateway: GatewayProcess, tmp_path: Path) -> Iterator[Sipp]:
    sipp = Sipp(("127.0.0.1", gateway.sip_port), tmp_path)
    register(sipp, "1001", "demo-1001")
    yield sipp
    sipp.stop()


def test_sip_phone_calls_the_analog_phone_and_they_talk(gateway: GatewayProcess, phone: Sipp,
                                                        tmp_path: Path) -> None:
    tone = tmp_path / "tone1633.pcap"
    write_rtp_pcap(tone, 1633, 4.0)
    media_port = free_media_port()
    capture = Capture(tmp_path / "call.pcap", f"udp port {media_port}").start()
    try:
        scenario = phone.scenario_with("uac_media.xml", PCAP_FILE=str(tone), PAUSE_MS="4500")
        phone.start(scenario, "-s", "2001", "-set", "caller", "1001", "-au", "1001", "-ap", "demo-1001",
                    "-mp", str(media_port), timeout=30)
        # The analog phone rings with the US cadence and shows who calls (the SIP user's number).
        console_until(gateway, "sim phone 1 status", r"ringing: yes")
        status = console_until(gateway, "sim phone 1 status", r"caller id: 1001 ", timeout=10)
        assert "(bell202)" in status, status
        assert gateway.console("sim phone 1 offhook") == (True, "phone 1: off hook")
        ok, channels = gateway.console("core show channels")
        assert ok and "FXS/1-" in channels, channels
        # The phone hears SIPp's tone; then it speaks its own.
        console_until(gateway, "sim phone 1 status", r"hearing: 163\d Hz", timeout=6)
        assert gateway.console("sim phone 1 tone 1004 2")[0]
        result = phone.wait(timeout=30)
    finally:
        capture.stop()
    assert result.ok, result.output[-3000:] + result.errors
    packets = capture.rtp(media_port)
    assert len(from_phone(packets, media_port)) >= 150
    audio = b"".join(p.payload for p in from_gateway(packets, media_port) if p.payload_type == 8)
    assert len(audio) >= 8000 * 3, f"only {len(audio) / 8000:.1f} s of audio from the gateway"
    samples = g711.alaw2lin(audio)
    import array

    linear = array.array("h")
    linear.frombytes(samples)
    # Somewhere in what the gateway sent is 200 ms of the phone's 1004 Hz tone.
    found = []
    for start in range(0, len(linear) - 1600, 800):
        hearing = analyse(linear[start:start + 1600])
        if hearing.frequencies and abs(hearing.frequencies[0] - 1004) <= 8 and len(hearing.frequencies) == 1:
            found.append(hearing)
    assert found, "the phone's 1004 Hz tone never reached the SIP phone"
    assert all(math.isfinite(h.level_dbm0) and h.level_dbm0 > -20 for h in found), found


def test_analog_phone_calls_a_sip_phone_and_hears_itself_through_rtp(gateway: GatewayProcess,
                                                                    tmp_path: Path) -> None:
    callee = Sipp(("127.0.0.1", gateway.sip_port), tmp_path)
    try:
        register(callee, "1002", "demo-1002")
        callee.start("uas_answer.xml", "-rtp_echo", "-mp", str(free_media_port()), timeout=30)
        assert gateway.console("sim phone 2 offhook")[0]
        console_until(gateway, "sim phone 2 status", r"hearing: dial")
        assert gateway.console("sim phone 2 dial 1002")[0]
        console_until(gateway, "core show channels", r"SIP/1002-\S+\s.*Up", timeout=10)
        time.sleep(0.5)
        assert gateway.console("sim phone 2 tone 1209 3")[0]
        console_until(gateway, "sim phone 2 status", r"hearing: 1209 Hz", timeout=3)
        assert gateway.console("sim phone 2 onhook")[0]
        answered = callee.wait(timeout=15)
        assert answered.ok, answered.output[-3000:] + answered.errors
        console_until(gateway, "core show channels", r"\b0 active channels", timeout=5)
    finally:
        callee.stop()
