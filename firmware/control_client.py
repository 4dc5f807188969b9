"""``centralita console``: talk to a running gateway over its control socket."""

from __future__ import annotations

import contextlib
import importlib
import os
import socket
import sys
from pathlib import Path
from types import ModuleType

DEFAULT_TIMEOUT = 30.0


class ControlConnection:
    """A blocking client of the control socket protocol (see ``firmware.console``)."""

    def __init__(self, path: Path, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        self._sock.connect(str(path))
        self._buffer = b""

    def execute(self, command: str) -> tuple[bool, str]:
        """Send one command line; returns (succeeded, output)."""
        self._sock.sendall(command.replace("\n", " ").encode() + b"\n")
        while b"\0" not in self._buffer:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionError("the gateway closed the connection")
            self._buffer += chunk
        reply, _, self._buffer = self._buffer.partition(b"\0")
        status, _, output = reply.decode("utf-8", errors="replace").partition("\n")
        return status == "OK", output

    def close(self) -> None:
        """Hang up."""
        self._sock.close()


def run_console(path: Path, command: str | None, prompt: str) -> int:
    """Run one command (``-c``) or an interactive session; returns the exit status."""
    try:
        connection = ControlConnection(path)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(f"centralita console: cannot connect to {path}: {reason} (is centralita running?)",
              file=sys.stderr)
        return 1
    try:
        if command is not None:
            ok, output = connection.execute(command)
            if output:
                print(output)
            return 0 if ok else 1
        return _interactive(connection, prompt)
    except (OSError, ConnectionError) as exc:
        print(f"centralita console: {exc}", file=sys.stderr)
        return 1
    finally:
        connection.close()


def _interactive(connection: ControlConnection, prompt: str) -> int:
    history = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "centralita_history"
    readline: ModuleType | None = None
    with contextlib.suppress(ImportError):
        readline = importlib.import_module("readline")  # line editing and history when available
        with contextlib.suppress(OSError):
            readline.read_history_file(history)
    try:
        while True:
            try:
                line = input(prompt)
            except EOFError:
                print()
                return 0
            except KeyboardInterrupt:
                print()
                continue
            if line.strip() in ("exit", "quit"):
                return 0
            if not line.strip():
                continue
            _ok, output = connection.execute(line)
            if output:
                print(output)
    finally:
        if readline is not None:
            with contextlib.suppress(OSError):
                history.parent.mkdir(parents=True, exist_ok=True)
                readline.write_history_file(history)
