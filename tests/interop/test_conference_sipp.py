"""ConfBridge through a running gateway: three SIPp phones in one room, each playing its own tone (RTP
from captures written here), each hearing the other two and never itself; ``confbridge list`` shows them."""

from __future__ import annotations

import array
import math
import shutil
import struct
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cython_media import g711
from firmware.config import DEFAULT_CONFIG
from tests.interop.capture import Capture
from tests.interop.sipp import Sipp
from tests.interop.test_media_sipp import free_media_port, from_gateway
from tests.support import GatewayProcess

pytestmark = pytest.mark.interop

PLAN = """
[internal]
exten => 800,1,ConfBridge(demo)
 same => n,Hangup()
"""

SECONDS = 5.0


def tone_pcap(path: Path, frequency: float, seconds: float, *, amplitude: int = 6000) -> Path:
    """A libpcap file of one A-law RTP stream (what uac_media.xml offers, 20 ms packets) carrying a sine,
    for SIPp's play_pcap_audio."""
    packets = []
    samples_per_packet = 160
    for n in range(int(seconds * 50)):
        start = n * samples_per_packet
        linear = array.array("h", (int(amplitude * math.sin(2 * math.pi * frequency * (start + i) / 8000))
                                   for i in range(samples_per_packet)))
        rtp = struct.pack("!BBHII", 0x80, 8, n & 0xFFFF, start, 0x5EED) + g711.lin2alaw(linear.tobytes())
        udp = struct.pack("!HHHH", 5000, 5002, 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), n & 0xFFFF, 0, 64, 17, 0,
                         bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
        frame = b"\x00" * 12 + b"\x08\x00" + ip  # Ethernet: the link type SIPp's pcap reader expects
        at = n * 0.02
        packets.append(struct.pack("<IIII", int(at), int((at % 1) * 1e6), len(frame), len(frame)) + frame)
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1) + b"".join(packets))
    return path


def level(audio: bytes, frequency: float) -> float:
    """Goertzel power of ``frequency`` in 16-bit linear audio, relative to a full-scale sine (dB)."""
    samples = array.array("h", audio)
    coefficient = 2 * math.cos(2 * math.pi * frequency / 8000)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coefficient * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coefficient * s1 * s2
    full = (32767 * len(samples) / 2) ** 2
    return 10 * math.log10(max(power, 1e-9) / full)


@pytest.fixture
def gateway(tmp_path: Path, gateway_factory: Callable[..., GatewayProcess]) -> GatewayProcess:
    config = tmp_path / "centralita.toml"
    shutil.copy(DEFAULT_CONFIG, config)
    (tmp_path / "extensions.conf").write_text(PLAN)
    return gateway_factory("--config", str(config))


def test_three_phones_in_a_room_each_hear_the_two_others(gateway: GatewayProcess, tmp_path: Path) -> None:
    tones = {"a": 500.0, "b": 1100.0, "c": 1700.0}
    phones: dict[str, tuple[Sipp, int, Capture]] = {}
    try:
        for name, frequency in tones.items():
            workdir = tmp_path / name
            workdir.mkdir()
            phone = Sipp(("127.0.0.1", gateway.sip_port), workdir)
            media_port = free_media_port()
            capture = Capture(workdir / "heard.pcap", f"udp dst port {media_port}").start()
            audio = tone_pcap(workdir / "tone.pcap", frequency, SECONDS + 1)
            scenario = phone.scenario_with("uac_media.xml", PCAP_FILE=str(audio), PAUSE_MS=str(int(SECONDS * 1000)))
            phone.start(scenario, "-s", "800", "-set", "caller", "1001", "-au", "1001", "-ap", "demo-1001",
                        "-mp", str(media_port), timeout=SECONDS + 15)
            phones[name] = (phone, media_port, capture)
        deadline = time.monotonic() + SECONDS
        listing = ""
        while time.monotonic() < deadline:  # the three calls set up (digest round trips) in their own time
            ok, listing = gateway.console("confbridge list")
            if ok and any(line.split()[:2] == ["demo", "3"] for line in listing.splitlines()):
                break
            time.sleep(0.1)
        assert any(line.split()[:2] == ["demo", "3"] for line in listing.splitlines()), listing
        ok, parties = gateway.console("confbridge list demo")
        assert ok and parties.count("SIP/") == 3, parties
        results = {name: phone.wait(timeout=SECONDS + 20) for name, (phone, _, _) in phones.items()}
    finally:
        for phone, _, capture in phones.values():
            phone.stop()
            capture.stop()
    for name, result in results.items():
        assert result.ok, f"phone {name}: {result.output[-2000:]}{result.errors}"
    for name, (_, media_port, capture) in phones.items():
        heard = [p for p in from_gateway(capture.rtp(media_port), media_port) if p.payload_type == 8]
        assert len(heard) >= 100, f"phone {name} got only {len(heard)} packets"
        # Two seconds from the middle of the call, when all three were in the room.
        audio = g711.alaw2lin(b"".join(p.payload for p in heard[len(heard) // 2 - 50:len(heard) // 2 + 50]))
        levels = {other: level(audio, frequency) for other, frequency in tones.items()}
        for other, db in levels.items():
            if other == name:
                assert db < -45, f"phone {name} hears itself: {levels}"
            else:
                assert db > -25, f"phone {name} does not hear {other}: {levels}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ok, listing = gateway.console("confbridge list")
        if "demo" not in listing:
            break
        time.sleep(0.2)
    assert "demo" not in listing, listing  # the room ends with its last party
