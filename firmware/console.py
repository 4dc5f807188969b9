"""The operator console, served on the control socket, on stdin when it is a TTY, and on a UART/pty.

Control socket protocol (what ``centralita console`` speaks): the client sends one command per line;
for each, the server answers ``OK`` or ``ERR`` on a line of its own, then the command's output, then a
NUL byte.  Terminals get a prompt and plain output; a UART console also shows log lines, since on a
board it is where the operator watches the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import termios
from pathlib import Path

from core.cli import CommandRegistry
from firmware.logsetup import TextFormatter
from firmware.services import ServiceStartError, describe_os_error

log = logging.getLogger("centralita.console")

_BAUD_RATES = {
    rate: getattr(termios, f"B{rate}")
    for rate in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600,
                 1000000, 1500000, 2000000, 3000000, 4000000)
    if hasattr(termios, f"B{rate}")
}

MAX_LINE = 4096


class ControlServer:
    """The console on a unix socket, for ``centralita console`` and scripts."""

    name = "control"

    def __init__(self, path: Path, registry: CommandRegistry) -> None:
        self.path = path
        self.registry = registry
        self._server: asyncio.AbstractServer | None = None
        self._clients: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        if self.path.exists() or self.path.is_symlink():
            if _socket_answers(self.path):
                raise ServiceStartError(f"another centralita is listening on {self.path}")
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()  # stale socket of a process that died
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._server = await asyncio.start_unix_server(self._serve, path=str(self.path), limit=MAX_LINE)
            os.chmod(self.path, 0o660)
        except OSError as exc:
            raise ServiceStartError(f"cannot listen on {self.path}: {describe_os_error(exc)}") from None

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._clients):
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._clients.add(task)
        try:
            while True:
                try:
                    raw = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    writer.write(b"ERR\ncommand line too long\0")
                    break
                if not raw:
                    break
                line = raw.decode("utf-8", errors="replace").strip()
                log.debug("command from control socket: %s", line)
                result = await self.registry.execute(line)
                writer.write(("OK\n" if result.ok else "ERR\n").encode() + result.output.encode() + b"\0")
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if task is not None:
                self._clients.discard(task)
            writer.close()


def _socket_answers(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True


class TerminalConsole:
    """The console on a terminal: stdin/stdout when ``device`` is None, else a serial device or pty.

    A device is opened the way a board opens its UART (``/dev/ttyAMA0``): raw speed setting, canonical
    input with echo so that the person at the other end can edit the line, CR/LF translation.
    """

    name = "console"

    def __init__(self, registry: CommandRegistry, *, device: str | None, baud: int = 115200,
                 prompt: str = "centralita*CLI> ") -> None:
        self.registry = registry
        self.device = device
        self.baud = baud
        self.prompt = prompt
        self._fd_in = -1
        self._fd_out = -1
        self._owns_fd = False
        self._saved_blocking: bool | None = None
        self._pending = bytearray()
        self._out = bytearray()
        self._lines: asyncio.Queue[str] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._log_handler: logging.Handler | None = None
        self._writer_armed = False

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.device:
            try:
                fd = os.open(self.device, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError as exc:
                raise ServiceStartError(
                    f"cannot open console device {self.device}: {describe_os_error(exc)}") from None
            try:
                self._configure_tty(fd)
            except (termios.error, OSError) as exc:
                os.close(fd)
                raise ServiceStartError(f"{self.device} is not a serial port or pty: {exc}") from None
            self._fd_in = self._fd_out = fd
            self._owns_fd = True
            handler = _ConsoleLogHandler(self)
            handler.setFormatter(TextFormatter())
            logging.getLogger("centralita").addHandler(handler)
            self._log_handler = handler
        else:
            self._fd_in, self._fd_out = 0, 1
            self._saved_blocking = os.get_blocking(0)
            os.set_blocking(0, False)
        self._loop.add_reader(self._fd_in, self._readable)
        self._worker = self._loop.create_task(self._run_commands())

    def _configure_tty(self, fd: int) -> None:
        attrs = termios.tcgetattr(fd)
        iflag, oflag, cflag, lflag = attrs[0], attrs[1], attrs[2], attrs[3]
        iflag = (iflag | termios.ICRNL) & ~(termios.IXON | termios.INLCR | termios.IGNCR)
        oflag = oflag | termios.OPOST | termios.ONLCR
        cflag = cflag | termios.CREAD | termios.CLOCAL
        lflag = lflag | termios.ICANON | termios.ECHO | termios.ECHOE | termios.ECHOK
        lflag &= ~(termios.ISIG | termios.IEXTEN)
        speed = _BAUD_RATES.get(self.baud, termios.B115200)
        termios.tcsetattr(fd, termios.TCSANOW, [iflag, oflag, cflag, lflag, speed, speed, attrs[6]])

    async def stop(self) -> None:
        if self._log_handler is not None:
            logging.getLogger("centralita").removeHandler(self._log_handler)
            self._log_handler = None
        if self._loop is not None and self._fd_in >= 0:
            self._loop.remove_reader(self._fd_in)
            if self._writer_armed:
                self._loop.remove_writer(self._fd_out)
                self._writer_armed = False
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        self._flush_blocking()
        if self._owns_fd and self._fd_in >= 0:
            os.close(self._fd_in)
        elif self._saved_blocking is not None:
            os.set_blocking(0, self._saved_blocking)
        self._fd_in = self._fd_out = -1

    def write(self, text: str) -> None:
        """Queue text for the terminal without ever blocking the event loop."""
        if self._fd_out < 0:
            return
        self._out += text.encode("utf-8", errors="replace")
        self._drain()

    def show_prompt(self) -> None:
        """Print the prompt (after the banner, and after each command)."""
        self.write(self.prompt)

    def _drain(self) -> None:
        while self._out:
            try:
                written = os.write(self._fd_out, self._out)
            except BlockingIOError:
                break
            except OSError:
                self._out.clear()  # the other end went away; nothing to deliver to
                return
            del self._out[:written]
        if self._loop is None:
            return
        if self._out and not self._writer_armed:
            self._loop.add_writer(self._fd_out, self._drain)
            self._writer_armed = True
        elif not self._out and self._writer_armed:
            self._loop.remove_writer(self._fd_out)
            self._writer_armed = False

    def _flush_blocking(self) -> None:
        if self._fd_out < 0 or not self._out:
            return
        with contextlib.suppress(OSError):
            os.set_blocking(self._fd_out, True)
            os.write(self._fd_out, self._out)
        self._out.clear()

    def _readable(self) -> None:
        try:
            data = os.read(self._fd_in, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            # EOF on stdin, or nobody holds the other side of a pty: stop reading until restart.
            assert self._loop is not None
            self._loop.remove_reader(self._fd_in)
            return
        self._pending += data
        while True:
            newline = self._pending.find(b"\n")
            if newline < 0:
                if len(self._pending) > MAX_LINE:
                    self._pending.clear()
                return
            line = bytes(self._pending[:newline]).decode("utf-8", errors="replace").strip("\r ")
            del self._pending[: newline + 1]
            self._lines.put_nowait(line)

    async def _run_commands(self) -> None:
        while True:
            line = await self._lines.get()
            if line:
                log.debug("command from terminal: %s", line)
                result = await self.registry.execute(line)
                if result.output:
                    self.write(result.output.rstrip("\n") + "\n")
            self.show_prompt()


class _ConsoleLogHandler(logging.Handler):
    def __init__(self, console: TerminalConsole) -> None:
        super().__init__(logging.INFO)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.console.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)
