"""What we put on the wire, read back by an independent dissector: Wireshark's (tshark) RTP, RFC 4733 and
RTCP decoders see the fields we meant and flag nothing as malformed."""

from __future__ import annotations

import random
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from core.rtp.rtcp import parse_rtcp
from core.rtp.session import RtpSession
from core.rtp.telephone_event import TelephoneEventSender

RTP_PORT, RTCP_PORT = 5000, 5001


def tshark() -> str:
    path = shutil.which("tshark")
    if path is None:
        pytest.fail("tshark is missing: install the Debian package tshark")
    return path


def write_pcap(path: Path, datagrams: list[tuple[int, bytes]]) -> None:
    """A classic pcap of raw IPv4/UDP packets (LINKTYPE_RAW) from 192.0.2.1 to 192.0.2.2."""
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
    for index, (port, payload) in enumerate(datagrams):
        udp = struct.pack("!HHHH", port, port, 8 + len(payload), 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), index, 0, 64, 17, 0, bytes((192, 0, 2, 1)),
                         bytes((192, 0, 2, 2))) + udp
        out += struct.pack("<IIII", index, index * 20000, len(ip), len(ip)) + ip
    path.write_bytes(bytes(out))


def dissect(path: Path, fields: list[str]) -> list[list[str]]:
    command = [tshark(), "-r", str(path), "-d", f"udp.port=={RTP_PORT},rtp", "-d", f"udp.port=={RTCP_PORT},rtcp",
               "-o", "rtpevent.event_payload_type_value:101", "-T", "fields", "-E", "separator=|"]
    for field in fields:
        command += ["-e", field]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    return [line.split("|") for line in result.stdout.splitlines()]


def test_audio_digit_and_rtcp_decode_as_intended(tmp_path: Path) -> None:
    session = RtpSession(payload_type=8, now=0.0, remote_address=("192.0.2.2", RTP_PORT), cname="gw@192.0.2.1",
                         rng=random.Random(11), telephone_event_payload_type=101)
    sender = session.sender
    sender.sequence, sender.timestamp = 65534, 0xFFFFFF60  # both wrap inside the capture
    datagrams: list[tuple[int, bytes]] = []
    for i in range(3):
        datagrams.append((RTP_PORT, session.send(b"\xd5" * 160, 0.02 * i)))
    events = TelephoneEventSender(interval=0.02)
    packets = events.start(1, 0.06, sender.timestamp_at(0.06), duration=0.06)
    while (when := events.next_time()) is not None:
        packets += events.poll(when)
    for packet in packets:
        datagrams.append((RTP_PORT, session.send_event(packet.payload, packet.timestamp, packet.marker, 0.1, 101)))
    report = session.close(0.5, "hangup")
    datagrams.append((RTCP_PORT, report))
    pcap = tmp_path / "call.pcap"
    write_pcap(pcap, datagrams)

    rows = dissect(pcap, ["rtp.p_type", "rtp.seq", "rtp.timestamp", "rtp.marker", "rtp.ssrc", "rtpevent.event_id",
                          "rtpevent.end_of_event", "rtpevent.volume", "rtpevent.duration", "_ws.malformed",
                          "_ws.expert.severity"])
    ssrc = f"0x{sender.ssrc:08x}"
    assert len(rows) == 9
    audio, digit = rows[:3], rows[3:8]
    # Sequence 65534 -> 0 and timestamp 2^32 - 160 -> 160 wrap; marker on the first packet only.
    assert [r[:5] for r in audio] == [["8", "65534", "4294967136", "1", ssrc], ["8", "65535", "0", "0", ssrc],
                                      ["8", "0", "160", "0", ssrc]]
    # Digit 1 of 60 ms: start (marker) 160, update 320, end 480 three times, all at the audio clock's 320,
    # in the audio's SSRC and sequence space.
    assert [r[:9] for r in digit] == [
        ["101", str(1 + i), "320", "1" if i == 0 else "0", ssrc, "1", "1" if i >= 2 else "0", "10", str(d)]
        for i, d in enumerate([160, 320, 480, 480, 480])
    ]
    assert all(not r[9] and not r[10] for r in rows[:8])  # nothing malformed, no expert warnings

    (rtcp,) = dissect(pcap, ["rtcp.pt", "rtcp.senderssrc", "rtcp.sender.packetcount", "rtcp.sender.octetcount",
                             "rtcp.sdes.text", "_ws.malformed"])[8:]
    parsed = parse_rtcp(report)
    assert rtcp[0] == "200,202,203" and rtcp[1] == ssrc
    assert (rtcp[2], rtcp[3]) == ("8", str(3 * 160 + 5 * 4)) and "gw@192.0.2.1" in rtcp[4] and not rtcp[5]
    assert len(parsed) == 3
