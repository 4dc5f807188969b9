"""Logging: one logger per subsystem under ``centralita.``, a compact format that reads well in journald.

When stderr is the systemd journal (``$JOURNAL_STREAM`` names stderr's device and inode) lines carry
``<N>`` syslog priority prefixes and no timestamp, since journald adds its own; otherwise they are
``HH:MM:SS.mmm LEVEL subsystem: message``.
"""

from __future__ import annotations

import logging
import os
import sys
import time

ROOT = "centralita"

_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def _short_name(name: str) -> str:
    return name[len(ROOT) + 1 :] if name.startswith(ROOT + ".") else name


class TextFormatter(logging.Formatter):
    """``05:43:13.123 INFO  sip: message``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        text = (f"{stamp}.{int(record.msecs):03d} {record.levelname:<5} "
                f"{_short_name(record.name)}: {record.getMessage()}")
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class JournaldFormatter(logging.Formatter):
    """``<6>sip: message``: journald turns the prefix into the entry's priority."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{_PRIORITY.get(record.levelno, 6)}>"
        text = f"{_short_name(record.name)}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return "\n".join(prefix + line for line in text.splitlines())


def stderr_is_journal() -> bool:
    """True when systemd connected stderr to the journal (``$JOURNAL_STREAM`` is ``dev:inode``)."""
    stream = os.environ.get("JOURNAL_STREAM", "")
    try:
        device, inode = (int(x) for x in stream.split(":"))
        st = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError):
        return False
    return (st.st_dev, st.st_ino) == (device, inode)


def configure(level: str = "info", fmt: str = "auto") -> logging.Logger:
    """Send ``centralita.*`` records at ``level`` and above to stderr in the chosen format."""
    root = logging.getLogger(ROOT)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    journald = fmt == "journald" or (fmt == "auto" and stderr_is_journal())
    handler.setFormatter(JournaldFormatter() if journald else TextFormatter())
    root.addHandler(handler)
    root.setLevel(LEVELS[level])
    root.propagate = False
    return root


def set_level(level: int, subsystem: str | None = None) -> str:
    """Change the level of all of centralita or of one subsystem (``sip``); returns the logger name."""
    name = ROOT if not subsystem else f"{ROOT}.{subsystem}"
    logging.getLogger(name).setLevel(level)
    return name
