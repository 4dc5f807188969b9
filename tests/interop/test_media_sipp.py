"""Audio through a running gateway: SIPp plays RTP from a capture into calls to the demo extensions, and
tshark records what goes both ways on loopback.

* 600 (Echo): the caller gets its own audio back, byte for byte, in one well-formed stream of ours.
* 601 (Milliwatt): a 1004 Hz tone at 0 dBm0, checked by frequency and level.
* RFC 4733 digits SIPp sends (its dtmf_2833 captures) reach the dialplan's ``Read()``.
* Digits the dialplan sends (``SendDTMF``) are correct RFC 4733 on the wire.
* ``Record()`` of a call keeps what the phone sent, in order and in real time (the jitter buffer's pace).
"""

from __future__ import annotations

import array
import math
import shutil
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.sounds import Encoding, read_sound
from cython_media import g711
from firmware.config import DEFAULT_CONFIG
from tests.interop.capture import Capture, RtpSeen
from tests.interop.sipp import Sipp
from tests.interop.test_sip_sipp import register
from tests.support import GatewayProcess, free_port

pytestmark = pytest.mark.interop

PCAPS = Path("/usr/share/sip-tester")

PLAN = """
[internal]
include => demo
exten => 700,1,Answer()
 same => n,Read(DIGITS,,1,,,4)
 same => n,Set(CDR(userfield)=read:${DIGITS})
 same => n,Hangup()
exten => 702,1,Answer()
 same => n,Record(${RECORDING},0,3,q)
 same => n,Hangup()
exten => 701,1,Answer()
 same => n,Wait(0.5)
 same => n,SendDTMF(19#,250)
 same => n,Wait(1)
 same => n,Hangup()
[demo]
exten => 600,1,Answer()
 same => n,Echo()
 same => n,Hangup()
exten => 601,1,Answer()
 same => n,Milliwatt()
 same => n,Hangup()
"""


def pcap(name: str) -> str:
    path = PCAPS / name
    if not path.exists():
        pytest.fail(f"{path} missing: install the Debian package sip-tester")
    return str(path)


@pytest.fixture
def gateway(tmp_path: Path, gateway_factory: Callable[..., GatewayProcess]) -> GatewayProcess:
    config = tmp_path / "centralita.toml"
    shutil.copy(DEFAULT_CONFIG, config)
    (tmp_path / "extensions.conf").write_text(PLAN.replace("${RECORDING}", str(tmp_path / "recorded.wav")))
    return gateway_factory("--config", str(config))


@pytest.fixture
def phone(gateway: GatewayProcess, tmp_path: Path) -> Iterator[Sipp]:
    sipp = Sipp(("127.0.0.1", gateway.sip_port), tmp_path)
    register(sipp, "1001", "demo-1001")
    yield sipp
    sipp.stop()


def call_with_audio(phone: Sipp, tmp_path: Path, number: str, audio: str, seconds: float, *,
                    gateway_hangs_up: bool = False) -> tuple[bool, list[RtpSeen], int]:
    """Call ``number`` playing ``audio`` and hang up after ``seconds`` (or wait that long for the gateway's
    BYE); (SIPp succeeded, RTP captured on SIPp's media port, that port)."""
    media_port = free_media_port()
    capture = Capture(tmp_path / f"call-{number}.pcap", f"udp port {media_port}").start()
    try:
        name = "uac_media_wait_bye.xml" if gateway_hangs_up else "uac_media.xml"
        scenario = phone.scenario_with(name, PCAP_FILE=audio, PAUSE_MS=str(int(seconds * 1000)))
        result = phone.run(scenario, "-s", number, "-set", "caller", "1001", "-au", "1001", "-ap", "demo-1001",
                           "-mp", str(media_port), timeout=seconds + 15)
    finally:
        capture.stop()
    assert result.ok, result.output[-3000:] + result.errors
    return result.ok, capture.rtp(media_port), media_port


def free_media_port() -> int:
    """An even UDP port with the three above it free too (SIPp binds audio and video RTP/RTCP there)."""
    for _ in range(200):
        base = free_port()
        base -= base % 2
        sockets = []
        try:
            for offset in range(4):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(sock)
                sock.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        return base
    raise AssertionError("no four consecutive free UDP ports on 127.0.0.1")


def from_gateway(packets: list[RtpSeen], media_port: int) -> list[RtpSeen]:
    return [p for p in packets if p.destination_port == media_port]


def from_phone(packets: list[RtpSeen], media_port: int) -> list[RtpSeen]:
    return [p for p in packets if p.source_port == media_port]


def test_echo_returns_the_callers_own_audio(phone: Sipp, tmp_path: Path) -> None:
    _, packets, media_port = call_with_audio(phone, tmp_path, "600", pcap("g711a.pcap"), 5.5)
    sent = from_phone(packets, media_port)
    back = from_gateway(packets, media_port)
    assert len(sent) >= 150, f"SIPp sent only {len(sent)} RTP packets"
    audio_back = [p for p in back if p.payload_type == 8]
    # Every packet comes back (a few may still be in flight at the BYE), with the same audio in it.
    assert len(audio_back) >= 0.95 * len(sent), (len(audio_back), len(sent))
    sent_payloads = {p.payload for p in sent}
    echoed = sum(1 for p in audio_back if p.payload in sent_payloads)
    assert echoed >= 0.95 * len(audio_back), (echoed, len(audio_back))
    # One stream of ours (not SIPp's stream bounced): our SSRC, consecutive sequence numbers, 160-sample steps.
    assert len({p.ssrc for p in audio_back}) == 1 and audio_back[0].ssrc not in {p.ssrc for p in sent}
    steps = [(b.sequence - a.sequence) & 0xFFFF for a, b in zip(audio_back, audio_back[1:], strict=False)]
    assert steps.count(1) >= 0.99 * len(steps)
    stamps = [(b.timestamp - a.timestamp) & 0xFFFFFFFF for a, b in zip(audio_back, audio_back[1:], strict=False)]
    assert stamps.count(160) >= 0.95 * len(stamps)


def _tone(audio: bytes) -> tuple[float, float]:
    """(frequency in Hz by zero crossings, level in dBm0) of 16-bit linear audio at 8 kHz."""
    samples = array.array("h", audio)
    crossings = sum(1 for a, b in zip(samples, samples[1:], strict=False) if (a < 0) != (b < 0))
    frequency = crossings / 2 / (len(samples) / 8000)
    rms = math.sqrt(sum(s * s for s in samples) / len(samples))
    # G.711: 0 dBm0 is a sine of RMS 3.17 dB below the u-law overload (8159 * 4 / sqrt 2 in 16-bit terms).
    zero_dbm0_rms = 32767 / math.sqrt(2) / 10 ** (3.17 / 20)
    return frequency, 20 * math.log10(rms / zero_dbm0_rms)


def test_milliwatt_is_a_1004_hz_tone_at_0_dbm0(phone: Sipp, tmp_path: Path) -> None:
    _, packets, media_port = call_with_audio(phone, tmp_path, "601", pcap("g711a.pcap"), 3.0)
    tone = [p for p in from_gateway(packets, media_port) if p.payload_type == 8]
    assert len(tone) >= 100, f"only {len(tone)} packets of tone"
    audio = g711.alaw2lin(b"".join(p.payload for p in tone[10:110]))  # two seconds after the start
    frequency, level = _tone(audio)
    assert abs(frequency - 1004) < 5, frequency
    assert abs(level) < 0.5, level


def test_rfc4733_digits_from_the_phone_reach_read(phone: Sipp, gateway: GatewayProcess, tmp_path: Path) -> None:
    # SIPp's capture of digit 1 sent as telephone-events (payload type 101), four times in one call.
    merged = tmp_path / "digits.pcap"
    merged.write_bytes(Path(pcap("dtmf_2833_1.pcap")).read_bytes())
    call_with_audio(phone, tmp_path, "700", str(merged), 8.0, gateway_hangs_up=True)
    database = sqlite3.connect(gateway.data_dir / "cdr.sqlite")
    deadline = time.monotonic() + 5
    rows: list[tuple[str]] = []
    while time.monotonic() < deadline and not rows:
        rows = database.execute("SELECT userfield FROM cdr WHERE dst = '700'").fetchall()
        time.sleep(0.1)
    assert rows and rows[0][0] == "read:1", rows


def test_digits_sent_by_the_dialplan_are_rfc4733_on_the_wire(phone: Sipp, tmp_path: Path) -> None:
    _, packets, media_port = call_with_audio(phone, tmp_path, "701", pcap("g711a.pcap"), 8.0, gateway_hangs_up=True)
    events = [p for p in from_gateway(packets, media_port) if p.payload_type == 101]
    assert events, "no telephone-event packets from the gateway"
    # RFC 4733 §2.3: per digit one timestamp, growing durations, the marker on the first packet, three ends.
    digits: dict[int, list[RtpSeen]] = {}
    for packet in events:
        digits.setdefault(packet.timestamp, []).append(packet)
    sequence = [group[0].event for group in digits.values()]
    assert sequence == [1, 9, 11], sequence  # 1, 9, # (event 11)
    for group in digits.values():
        assert group[0].marker and not any(p.marker for p in group[1:])
        ends = [p for p in group if p.end]
        assert len(ends) == 3 and len({p.duration for p in ends}) == 1
        durations = [p.duration or 0 for p in group]
        assert durations == sorted(durations)
        assert ends[0].duration == 100 * 8  # SendDTMF's default 100 ms, at 8 kHz


def test_record_keeps_what_the_phone_said_in_real_time(phone: Sipp, tmp_path: Path) -> None:
    _, packets, media_port = call_with_audio(phone, tmp_path, "702", pcap("g711a.pcap"), 6.0, gateway_hangs_up=True)
    sent = [p for p in from_phone(packets, media_port) if p.payload_type == 8]
    assert len(sent) >= 90, f"SIPp sent only {len(sent)} RTP packets"
    encoding, recorded = read_sound(tmp_path / "recorded.wav")
    assert encoding is Encoding.SLIN
    # Record(...,3): three seconds of the call, counted in audio (the playout clock), not in packets.
    assert abs(len(recorded) / 2 / 8000 - 3.0) < 0.15, len(recorded) / 2 / 8000
    # The phone's audio is in it frame for frame, in order: a long run of consecutive sent frames.
    frames = [g711.alaw2lin(p.payload) for p in sorted(sent, key=lambda p: p.sequence)]
    start = next(n for n, frame in enumerate(frames) if frames.count(frame) == 1 and len(set(frame)) > 8)
    first = recorded.find(frames[start])
    assert first >= 0 and first % 2 == 0, "the phone's audio is not in the recording"
    size = len(frames[start])  # SIPp's capture has 30 ms packets: the playout follows the sender's packet time
    slots = [recorded[at:at + size] for at in range(first, len(recorded) - size + 1, size)]
    index = {frame: n for n, frame in enumerate(frames)}
    played = [index[slot] for slot in slots if slot in index]
    # In order, none twice; a packet played late after a concealment is blended (spandsp plc_rx) and a
    # busy machine may make one late, so a few may be missing.
    assert played == sorted(set(played)), played
    assert len(played) >= 0.9 * len(slots) and len(slots) * size / 2 / 8000 >= 1.5, (len(played), len(slots))
