"""systemd service notification (sd_notify) without libsystemd.

With ``Type=notify`` systemd waits for ``READY=1`` before it considers the gateway started, and with
``WatchdogSec=`` it restarts the gateway when ``WATCHDOG=1`` stops arriving.  Both go as datagrams to
the unix socket named by ``$NOTIFY_SOCKET`` (``@name`` is an abstract socket).
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger("centralita.systemd")


class Notifier:
    """Sends notifications when ``$NOTIFY_SOCKET`` is set; silent no-op otherwise."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self._socket: socket.socket | None = None
        if self._address:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.watchdog_interval = self._watchdog_interval(env)

    @staticmethod
    def _watchdog_interval(env: dict[str, str] | os._Environ[str]) -> float | None:
        usec = env.get("WATCHDOG_USEC")
        pid = env.get("WATCHDOG_PID")
        if not usec or (pid and pid != str(os.getpid())):
            return None
        try:
            return int(usec) / 1e6 / 2  # ping at half the deadline, as sd_watchdog_enabled(3) advises
        except ValueError:
            return None

    @property
    def enabled(self) -> bool:
        """True when a service manager listens."""
        return self._socket is not None

    def notify(self, **fields: str | int) -> None:
        """Send ``KEY=VALUE`` lines, e.g. ``notify(READY=1, STATUS="ready")``."""
        if self._socket is None:
            return
        message = "\n".join(f"{k}={v}" for k, v in fields.items()).encode()
        try:
            self._socket.sendto(message, self._address)
        except OSError as exc:
            log.warning("cannot notify the service manager at %s: %s", self._address.lstrip("\0"), exc)

    def close(self) -> None:
        """Release the socket."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None
