"""Running iaxmodem (Debian package ``iaxmodem``) as an IAX2 peer on loopback and driving its modem pty.

iaxmodem reads ``/etc/iaxmodem/<name>``; a name like ``../../tmp/x/modem.cfg`` reaches a configuration in a
test directory, so nothing outside the test's temporary directory is touched.  Its ``device`` (a symlink to
the pty it opens) is put there too; :class:`Iaxmodem` opens that pty in raw mode and speaks AT commands:
``ATZ`` -> ``OK``, an incoming call shows ``RING``, ``ATA`` answers, ``ATDT<number>`` dials, ``ATH0``
hangs up.  iaxmodem refuses calls ("busy-out") for about five seconds after ``ATZ`` or a hang-up.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import termios
import time
import tty
from pathlib import Path

import pytest

from tests.support import free_port


def iaxmodem_binary() -> str:
    """The iaxmodem executable, or a test failure naming the package to install."""
    path = shutil.which("iaxmodem")
    if path is None:
        pytest.fail("iaxmodem not found: install the Debian package iaxmodem")
    return path


class Iaxmodem:
    """One iaxmodem process registering (or not) to ``server`` with ``peername``/``secret``."""

    def __init__(self, workdir: Path, server: tuple[str, int], *, peername: str = "iaxmodem",
                 secret: str = "password", codec: str = "ulaw", refresh: int = 60,
                 cidname: str = "John Doe", cidnumber: str = "8005551212") -> None:
        self.binary = iaxmodem_binary()
        self.workdir = workdir
        self.port = free_port("127.0.0.1")
        self.device = workdir / "ttyIAX"
        self.config = workdir / "modem.cfg"
        self.log = workdir / "iaxmodem.log"
        server_host, server_port = server
        # libiax2 takes "host:port" in the server line, for registration and for the calls it dials.
        self.config.write_text(
            f"device\t\t{self.device}\n"
            f"owner\t\t{_owner()}\n"
            "mode\t\t660\n"
            f"port\t\t{self.port}\n"
            f"refresh\t\t{refresh}\n"
            f"server\t\t{server_host}:{server_port}\n"
            f"peername\t{peername}\n"
            f"secret\t\t{secret}\n"
            f"cidname\t\t{cidname}\n"
            f"cidnumber\t{cidnumber}\n"
            f"codec\t\t{codec}\n"
            "iax2debug\n")
        self.process: subprocess.Popen[bytes] | None = None
        self.fd: int | None = None
        self.buffer = b""

    def start(self, timeout: float = 5.0) -> None:
        """Start iaxmodem and open its pty."""
        relative = os.path.relpath(self.config, "/etc/iaxmodem")
        self.process = subprocess.Popen([self.binary, relative], stdout=self.log.open("wb"),
                                        stderr=subprocess.STDOUT, cwd=self.workdir)
        deadline = time.monotonic() + timeout
        while not self.device.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"iaxmodem did not create its pty:\n{self.log_text()}")
            time.sleep(0.05)
        self.fd = os.open(self.device, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.fd)
        attrs = termios.tcgetattr(self.fd)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(self.fd, termios.TCSANOW, attrs)

    def send(self, command: str) -> None:
        """Write an AT command line to the modem."""
        assert self.fd is not None
        os.write(self.fd, command.encode() + b"\r")

    def read_available(self) -> str:
        """Whatever the modem has written since the last read (non-blocking)."""
        assert self.fd is not None
        while True:
            ready, _, _ = select.select([self.fd], [], [], 0)
            if not ready:
                break
            try:
                chunk = os.read(self.fd, 4096)
            except BlockingIOError:
                break
            if not chunk:
                break
            self.buffer += chunk
        return self.buffer.decode("ascii", "replace")

    def seen(self, text: str) -> bool:
        """True once ``text`` appeared in the modem's output (the buffer is kept)."""
        return text in self.read_available()

    def consume(self, text: str) -> bool:
        """True (and the output up to ``text`` forgotten) when ``text`` appeared."""
        self.read_available()
        marker = text.encode()
        index = self.buffer.find(marker)
        if index < 0:
            return False
        self.buffer = self.buffer[index + len(marker):]
        return True

    def signal_exit(self) -> None:
        """SIGTERM: iaxmodem sends REGREL on its way out (wait with :meth:`exited`)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def exited(self) -> bool:
        """True once the process is gone."""
        return self.process is None or self.process.poll() is not None

    def terminate(self, timeout: float = 5.0) -> None:
        """SIGTERM, wait, and SIGKILL if it does not go."""
        self.signal_exit()
        if self.process is not None and self.process.poll() is None:
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_text(self) -> str:
        """iaxmodem's own output (its libiax2 debug trace with ``iax2debug``)."""
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def _owner() -> str:
    import grp
    import pwd

    return f"{pwd.getpwuid(os.getuid()).pw_name}:{grp.getgrgid(os.getgid()).gr_name}"
