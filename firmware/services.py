"""The start/stop contract of everything the gateway runs, and the one-line start-up failure."""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path
from typing import Protocol


class ServiceStartError(Exception):
    """A service cannot start; the message is one line for the operator (no traceback)."""


class Service(Protocol):
    """Something with a lifecycle: started in order at boot, stopped in reverse at shutdown."""

    name: str

    async def start(self) -> None:
        """Acquire resources (sockets, devices); raise :class:`ServiceStartError` with the reason."""

    async def stop(self) -> None:
        """Release them; must not raise."""


def describe_os_error(exc: OSError) -> str:
    """``address already in use`` from an OSError, lower case as in the issue's example."""
    text = exc.strerror or (errno.errorcode.get(exc.errno or 0, "") if exc.errno else "") or str(exc)
    return text[0].lower() + text[1:] if text else "unknown error"


class StateDirectory:
    """The data directory, created if missing and locked so that two gateways never share it."""

    name = "system"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_fd: int | None = None

    async def start(self) -> None:
        try:
            self.path.mkdir(mode=0o750, parents=True, exist_ok=True)
        except OSError as exc:
            raise ServiceStartError(f"cannot create data_dir {self.path}: {describe_os_error(exc)}") from None
        lock_path = self.path / "centralita.pid"
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        except OSError as exc:
            raise ServiceStartError(f"cannot open {lock_path}: {describe_os_error(exc)}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ServiceStartError(
                f"data_dir {self.path} is in use by another centralita (pid {owner})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    async def stop(self) -> None:
        if self._lock_fd is not None:
            os.ftruncate(self._lock_fd, 0)
            os.close(self._lock_fd)
            self._lock_fd = None
