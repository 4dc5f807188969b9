"""Helpers shared by the tests: a gateway process started the way a user starts it."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from firmware.control_client import ControlConnection

REPO = Path(__file__).resolve().parent.parent


def free_port(host: str = "127.0.0.1") -> int:
    """A port free for both UDP and TCP on ``host`` (a loopback address) right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((host, port))
                except OSError:
                    continue
                return port
    raise RuntimeError(f"no free port on {host}")


def short_tempdir(prefix: str = "cta-") -> Path:
    """A temp dir with a short path: unix socket paths must stay under 108 bytes."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def centralita_command(*args: str) -> list[str]:
    """``centralita ARGS`` run with the interpreter of the tests (the venv's)."""
    return [sys.executable, "-m", "firmware", *args]


def run_centralita(*args: str, timeout: float = 30, env: dict[str, str] | None = None
                   ) -> subprocess.CompletedProcess[str]:
    """Run a short-lived ``centralita`` command and capture its output."""
    return subprocess.run(centralita_command(*args), capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=REPO, check=False)


class NotifyListener:
    """A stand-in for systemd's notification socket: collects what the gateway sends."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "notify.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.messages: list[dict[str, str]] = []

    def wait_for(self, key: str, value: str | None = None, timeout: float = 30.0,
                 process: subprocess.Popen[str] | None = None) -> dict[str, str]:
        """The first message carrying ``key`` (with ``value``), waiting up to ``timeout`` seconds."""
        for message in self.messages:
            if key in message and (value is None or message[key] == value):
                return message
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise AssertionError(f"gateway exited with {process.returncode} before sending {key}")
            ready, _, _ = select.select([self.sock], [], [], 0.1)
            if not ready:
                continue
            data = self.sock.recv(4096).decode()
            message = dict(line.split("=", 1) for line in data.splitlines() if "=" in line)
            self.messages.append(message)
            if key in message and (value is None or message[key] == value):
                return message
        raise AssertionError(f"no {key} notification within {timeout} s (got {self.messages})")

    def close(self) -> None:
        self.sock.close()


class GatewayProcess:
    """``centralita run`` in a private data_dir, started and stopped as an operator would."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.dir = short_tempdir()
        self.data_dir = self.dir / "data"
        self.control = self.data_dir / "control.sock"
        self.sip_port = free_port()
        # Loopback only, on a port of its own: tests never touch 5060 or other interfaces.
        self.args = ["run", "--set", f'system.data_dir="{self.data_dir}"', "--set", "sip.bind=127.0.0.1",
                     "--set", f"sip.port={self.sip_port}", *args]
        self.env = {**os.environ, **(env or {})}
        self.notify = NotifyListener(self.dir)
        self.env["NOTIFY_SOCKET"] = str(self.notify.path)
        self.process: subprocess.Popen[str] | None = None
        self.stdout = ""
        self.stderr = ""
        # Files, not pipes: a gateway that logs a lot must never block on a pipe nobody reads.
        self._out_path = self.dir / "stdout.log"
        self._err_path = self.dir / "stderr.log"

    def start(self, *, wait_ready: bool = True) -> GatewayProcess:
        with self._out_path.open("w") as out, self._err_path.open("w") as err:
            self.process = subprocess.Popen(
                centralita_command(*self.args), stdin=subprocess.DEVNULL, stdout=out, stderr=err, text=True,
                env=self.env, cwd=REPO,
            )
        if wait_ready:
            try:
                self.notify.wait_for("READY", "1", process=self.process)
            except AssertionError:
                self.stop(timeout=5)
                raise AssertionError(f"gateway did not become ready; stderr:\n{self.stderr}") from None
        return self

    def console(self, command: str) -> tuple[bool, str]:
        """Run one console command over the control socket."""
        connection = ControlConnection(self.control, timeout=10)
        try:
            return connection.execute(command)
        finally:
            connection.close()

    def wait(self, timeout: float = 15.0) -> int:
        """Wait for the process to exit on its own; returns its exit status."""
        assert self.process is not None
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            self.read_output()
            raise AssertionError(f"gateway did not exit within {timeout} s") from None
        self.read_output()
        return self.process.returncode

    def read_output(self) -> str:
        """What the gateway wrote so far to stdout and stderr (kept in ``stdout``/``stderr``); stderr."""
        self.stdout = self._out_path.read_text(errors="replace") if self._out_path.exists() else ""
        self.stderr = self._err_path.read_text(errors="replace") if self._err_path.exists() else ""
        return self.stderr

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Send ``sig`` and wait for the exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.wait(timeout)

    def cleanup(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(AssertionError):
                self.stop(signal.SIGKILL, timeout=5)
        self.notify.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_for_path(path: Path, timeout: float = 15.0) -> None:
    """Wait until ``path`` exists (a socket the gateway creates when it is up)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear within {timeout} s")
        time.sleep(0.02)
