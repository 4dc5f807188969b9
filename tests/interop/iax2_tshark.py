"""Reading IAX2 traffic back with Wireshark's dissector (Debian package ``tshark``).

Two ways in: :func:`write_pcap` turns datagrams recorded in memory into a classic pcap (raw IPv4/UDP), and
:class:`LoopbackCapture` records the real traffic of an interop test on ``lo``.  :func:`dissect` returns
chosen ``iax2.*`` fields per frame and :func:`flagged` the frames Wireshark marks malformed or with an
expert error.  One known false positive is named here: Wireshark's ``dissect_trunkcall_nots()`` sizes each
entry of a trunk frame *without* timestamps wrongly and flags it "Malformed Packet" (still so in
``packet-iax2.c``; see ``../shared/reference/protocols.md`` §1.9) - :func:`is_trunk_without_timestamps`
recognises those frames so that tests can check them with our own parser instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

Address = tuple[str, int]
ERROR_FILTER = '_ws.malformed || _ws.expert.severity >= "Error"'


def tshark_binary() -> str:
    """The tshark executable, or a test failure naming the package to install."""
    path = shutil.which("tshark")
    if path is None:
        pytest.fail("tshark not found: install the Debian package tshark")
    return path


def write_pcap(path: Path, datagrams: list[tuple[Address, Address, bytes]]) -> None:
    """A pcap (LINKTYPE_RAW) of UDP datagrams ``(source, destination, payload)``, 20 ms apart."""
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
    for index, (source, destination, payload) in enumerate(datagrams):
        udp = struct.pack("!HHHH", source[1], destination[1], 8 + len(payload), 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), index & 0xFFFF, 0, 64, 17, 0,
                         bytes(int(x) for x in source[0].split(".")),
                         bytes(int(x) for x in destination[0].split("."))) + udp
        seconds, micros = divmod(index * 20000, 1_000_000)
        out += struct.pack("<IIII", seconds, micros, len(ip), len(ip)) + ip
    path.write_bytes(bytes(out))


def _decode_as(ports: list[int]) -> list[str]:
    args: list[str] = []
    for port in sorted(set(ports)):
        if port != 4569:
            args += ["-d", f"udp.port=={port},iax2"]
    return args


def dissect(path: Path, fields: list[str], ports: list[int], display_filter: str = "iax2") -> list[list[str]]:
    """Per matching frame, the values of ``fields`` (``frame.number`` first is handy)."""
    command = [tshark_binary(), "-r", str(path), *_decode_as(ports), "-Y", display_filter, "-T", "fields",
               "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,"]
    for field in fields:
        command += ["-e", field]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    return [line.split("|") for line in result.stdout.splitlines()]


def flagged(path: Path, ports: list[int]) -> list[int]:
    """Frame numbers Wireshark flags as malformed or with an expert error."""
    rows = dissect(path, ["frame.number"], ports, f"iax2 && ({ERROR_FILTER})")
    return [int(row[0]) for row in rows if row and row[0]]


def is_trunk_without_timestamps(payload: bytes) -> bool:
    """True for a meta trunk frame whose entries carry no timestamps (Wireshark's false positive)."""
    return len(payload) >= 4 and payload[:2] == b"\x00\x00" and not payload[2] & 0x80 and payload[3] & 1 == 0


def udp_payloads(path: Path, ports: list[int]) -> dict[int, bytes]:
    """The UDP payload of every IAX2 frame of a capture, by frame number."""
    rows = dissect(path, ["frame.number", "udp.payload"], ports)
    return {int(row[0]): bytes.fromhex(row[1].replace(":", "")) for row in rows if len(row) > 1 and row[1]}


class LoopbackCapture:
    """``tshark -i lo`` recording the UDP ports of a test into a pcap (needs capture rights, as root here).

    tshark writes the capture to a pipe that a thread collects; :meth:`start` returns only once a marker
    datagram sent to ``marker_port`` (captured too, but not decoded as IAX2) has come through the pipe, so
    nothing the test sends afterwards can be missed.
    """

    def __init__(self, path: Path, ports: list[int], marker_port: int) -> None:
        self.path = path
        self.ports = ports
        self.marker_port = marker_port
        self.process: subprocess.Popen[bytes] | None = None
        self.stderr = path.with_suffix(".stderr")
        self._data = bytearray()
        self._reader: threading.Thread | None = None

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            self._data.extend(chunk)

    def start(self, timeout: float = 20.0) -> None:
        port_filter = " or ".join(f"udp port {port}" for port in [*self.ports, self.marker_port])
        self.process = subprocess.Popen([tshark_binary(), "-i", "lo", "-f", port_filter, "-w", "-"],
                                        stdout=subprocess.PIPE, stderr=self.stderr.open("wb"))
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        marker = b"centralita capture marker " + os.urandom(8).hex().encode()
        deadline = time.monotonic() + timeout
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            while marker not in self._data:
                if self.process.poll() is not None:
                    pytest.fail(f"tshark could not capture on lo: {self.stderr.read_text(errors='replace')}")
                if time.monotonic() > deadline:
                    self.stop()
                    pytest.fail("tshark did not start capturing on lo within the time allowed")
                probe.sendto(marker, ("127.0.0.1", self.marker_port))
                time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> Path:
        if self.process is not None and self.process.poll() is None:
            time.sleep(0.5)  # tshark hands packets over about a quarter of a second late
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._reader is not None:
            self._reader.join(timeout)
        self.path.write_bytes(bytes(self._data))
        return self.path
