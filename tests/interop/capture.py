"""Capturing loopback traffic with tshark (Debian package ``tshark``) and reading RTP out of it."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest


def tshark_binary() -> str:
    path = shutil.which("tshark")
    if path is None:
        pytest.fail("tshark not found: install the Debian package tshark (./dev.sh test does)")
    return path


@dataclass(frozen=True)
class RtpSeen:
    """One RTP packet as tshark decoded it."""

    source_port: int
    destination_port: int
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    marker: bool
    payload: bytes
    event: int | None = None          # RFC 4733 fields, for telephone-event packets
    end: bool | None = None
    duration: int | None = None


class Capture:
    """``tshark -i lo`` with a capture filter, from start() until stop(), into ``path``."""

    def __init__(self, path: Path, capture_filter: str) -> None:
        self.path = path
        self.filter = capture_filter
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> Capture:
        self.process = subprocess.Popen([tshark_binary(), "-i", "lo", "-f", self.filter, "-w", str(self.path),
                                         "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert self.process.stderr is not None
        deadline = time.monotonic() + 10
        # tshark says "Capturing on 'Loopback: lo'" once packets are being captured.
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if "Capturing on" in line:
                return self
            if not line and self.process.poll() is not None:
                break
        self.stop()
        pytest.fail(f"tshark could not capture on lo (run as root?): {self.path}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            time.sleep(0.3)  # let the last packets reach the file
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def rtp(self, *ports: int) -> list[RtpSeen]:
        """Every RTP packet to or from ``ports`` (decoded as RTP whatever the port)."""
        decode = [arg for port in ports for arg in ("-d", f"udp.port=={port},rtp")]
        fields = ["udp.srcport", "udp.dstport", "rtp.p_type", "rtp.seq", "rtp.timestamp", "rtp.ssrc",
                  "rtp.marker", "rtp.payload", "rtpevent.event_id", "rtpevent.end_of_event", "rtpevent.duration"]
        command = [tshark_binary(), "-r", str(self.path), *decode,
                   "-Y", "rtp", "-T", "fields", "-E", "separator=|"]
        for field in fields:
            command += ["-e", field]
        output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout
        seen = []
        for line in output.splitlines():
            parts = line.split("|")
            if len(parts) != len(fields) or not parts[2]:
                continue
            payload = bytes.fromhex(parts[7].replace(":", "")) if parts[7] else b""
            seen.append(RtpSeen(int(parts[0]), int(parts[1]), int(parts[2]), int(parts[3]), int(parts[4]),
                                int(parts[5], 16), parts[6] in ("1", "True"), payload,
                                int(parts[8]) if parts[8] else None,
                                parts[9] in ("1", "True") if parts[9] else None,
                                int(parts[10]) if parts[10] else None))
        return seen
