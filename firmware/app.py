"""Assembly and lifecycle: config -> board -> drivers -> channel drivers -> services.

Nothing outside this module knows how the system is put together.  :class:`Gateway` starts every
service in order; the first that cannot start stops start-up with a one-line reason (and the ones
already started are stopped again).  SIGTERM/SIGINT or ``core stop ...`` stop it: calls are hung up
with cause 16 and services stop in reverse order.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import signal
import sys
import time
from dataclasses import dataclass, field

import cython_media
from core.cli import CliRequest, CliUsageError, CommandRegistry
from core.dialplan.loader import LoadResult
from core.events import EventBus
from core.pbx import Pbx
from firmware import __version__
from firmware.analog_service import AnalogService
from firmware.boards import BoardProfile
from firmware.config import Config, control_socket_path, data_dir
from firmware.console import ControlServer, TerminalConsole
from firmware.logsetup import LEVELS, set_level
from firmware.media_service import MediaService
from firmware.sdnotify import Notifier
from firmware.services import Service, ServiceStartError, StateDirectory
from firmware.sip_service import SipService
from firmware.telephony import Telephony

log = logging.getLogger("centralita.system")


def event_loop_name() -> str:
    """``uvloop`` or ``asyncio``: which event loop runs the gateway."""
    loop = asyncio.get_running_loop()
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def version_line() -> str:
    """The one line ``core show version`` prints."""
    return (f"centralita {__version__} on {platform.system()} {platform.machine()}, "
            f"Python {platform.python_version()}, media {cython_media.implementation()}, "
            f"event loop {event_loop_name()}")


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}{'' if n == 1 else 's'}"


def format_uptime(seconds: float) -> str:
    """Asterisk's wording: ``1 hour, 2 minutes, 3 seconds``."""
    total = int(seconds)
    parts = []
    for unit, size in (("year", 31536000), ("week", 604800), ("day", 86400), ("hour", 3600),
                       ("minute", 60)):
        if total >= size:
            parts.append(_plural(total // size, unit))
            total %= size
    if total or not parts:
        parts.append(_plural(total, "second"))
    return ", ".join(parts)


@dataclass
class Gateway:
    """The running system."""

    config: Config
    board: BoardProfile
    dialplan: LoadResult
    started_at: float = field(default_factory=time.monotonic)
    console_on_stdin: bool = False

    def __post_init__(self) -> None:
        self.registry = CommandRegistry()
        self.bus = EventBus()
        self.pbx = Pbx(self.bus)
        self.telephony = Telephony(self.config, self.bus, self.pbx, self.registry, self.dialplan)
        self.notifier = Notifier()
        self.services: list[Service] = []
        self.console: TerminalConsole | None = None
        self._stop_requested: asyncio.Event | None = None
        self._stop_reason = ""
        self._ready_at: float | None = None
        self._last_reload: float | None = None
        self._background: set[asyncio.Task[None]] = set()

    # -- assembly -------------------------------------------------------------------------------------

    def _assemble(self) -> list[Service]:
        config = self.config
        services: list[Service] = []
        prompt = f"{config.system.name}*CLI> "
        if config.console.device:
            self.console = TerminalConsole(self.registry, device=config.console.device,
                                           baud=config.console.baud, prompt=prompt)
        elif self.console_on_stdin:
            self.console = TerminalConsole(self.registry, device=None, prompt=prompt)
        if self.console is not None:
            services.append(self.console)  # first, so that the operator sees the rest start
        services.append(StateDirectory(data_dir(config)))
        services.append(ControlServer(control_socket_path(config), self.registry))
        # Network listeners next: a port that is taken stops start-up before anything else happens.
        executor = self.telephony.executor
        media = MediaService(config, executor, self.registry)
        services.append(media)
        services.append(AnalogService(config, self.pbx, self.registry, media=media, executor=executor))
        services.append(SipService(config, self.pbx, self.registry,
                                   redirect=lambda channel, context, exten: executor.async_goto(
                                       channel.name, context, exten, 1),
                                   routable=executor.routable, media=media))
        if config.iax2.enabled:
            from firmware.iax2_service import Iax2Service  # imported only when used: cryptography is ~9 MiB

            services.append(Iax2Service(config, self.pbx, self.registry, routable=executor.routable, media=media))
        services.extend(self.telephony.services())
        self.pbx.register_commands(self.registry)
        self._register_core_commands()
        return services

    def _register_core_commands(self) -> None:
        r = self.registry
        r.register("core show version", lambda _req: version_line(), "Display version info")
        r.register("core show uptime", self._cli_uptime, "Show uptime information",
                   "Usage: core show uptime [seconds]\n       Shows how long the gateway has been running.")
        r.register("core set debug", self._cli_set_debug, "Set level of debug logging",
                   "Usage: core set debug {on|off|<level>} [subsystem]\n"
                   "       Turns debug logging on or off, for all of centralita or one subsystem (sip, ...).")
        r.register("core stop gracefully", self._cli_stop_gracefully, "Gracefully shut down the gateway",
                   "Usage: core stop gracefully\n"
                   "       Refuses new calls, waits for the active calls to end, then stops.")
        r.register("core stop now", self._cli_stop_now, "Shut down the gateway immediately",
                   "Usage: core stop now\n       Hangs up every call (cause 16) and stops.")

    # -- console commands -----------------------------------------------------------------------------

    def _cli_uptime(self, request: CliRequest) -> str:
        now = time.monotonic()
        uptime = now - self.started_at
        reload = now - (self._last_reload or self.started_at)
        if request.args == ("seconds",):
            return f"System uptime: {int(uptime)}\nLast reload: {int(reload)}"
        if request.args:
            raise CliUsageError()
        return f"System uptime: {format_uptime(uptime)}\nLast reload: {format_uptime(reload)}"

    def _cli_set_debug(self, request: CliRequest) -> str:
        if not 1 <= len(request.args) <= 2:
            raise CliUsageError()
        setting = request.args[0].lower()
        subsystem = request.args[1] if len(request.args) == 2 else None
        if setting == "on" or (setting.isdigit() and int(setting) > 0):
            level, state = logging.DEBUG, "on"
        elif setting in ("off", "0"):
            level, state = LEVELS[self.config.log.level], "off"
        else:
            raise CliUsageError(f"'{request.args[0]}' is not on, off or a level")
        set_level(level, subsystem)
        return f"Debug logging for {subsystem} is now {state}" if subsystem else f"Core debug is now {state}"

    def _cli_stop_gracefully(self, _request: CliRequest) -> str:
        self.pbx.stop_accepting()
        task = asyncio.get_running_loop().create_task(self._stop_when_idle())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        calls = len(self.pbx.channels)
        if calls:
            return f"Shutting down gracefully: no new calls; waiting for {_plural(calls, 'active channel')}"
        return "Shutting down gracefully"

    async def _stop_when_idle(self) -> None:
        await self.pbx.wait_idle()
        self.request_stop("core stop gracefully")

    def _cli_stop_now(self, _request: CliRequest) -> str:
        self.request_stop("core stop now")
        return "Shutting down now"

    # -- lifecycle ------------------------------------------------------------------------------------

    def request_stop(self, reason: str) -> None:
        """Begin a graceful stop (signal handler, console)."""
        if self._stop_requested is not None and not self._stop_requested.is_set():
            self._stop_reason = reason
            self._stop_requested.set()

    async def run(self) -> int:
        """Start everything, serve until asked to stop, stop everything; returns the exit status."""
        loop = asyncio.get_running_loop()
        self._stop_requested = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.request_stop, signal.Signals(signum).name)
        started: list[Service] = []
        try:
            self.services = self._assemble()
            for service in self.services:
                await service.start()
                started.append(service)
                if service is self.console:
                    log.info("centralita %s starting (pid %d)", __version__, os.getpid())
            log.info("board %s: %s", self.board.name, self.board.summary)
        except ServiceStartError as exc:
            print(f"{self.services[len(started)].name}: {exc}", file=sys.stderr, flush=True)
            await self._stop_services(started, announce=False)
            return 1
        self._ready_at = time.monotonic()
        log.info("centralita ready in %.2f s; console on %s", self._ready_at - self.started_at,
                 control_socket_path(self.config))
        self.notifier.notify(READY=1, STATUS="ready", MAINPID=os.getpid())
        if self.console is not None:
            self.console.show_prompt()
        watchdog = loop.create_task(self._watchdog()) if self.notifier.watchdog_interval else None
        await self._stop_requested.wait()
        log.info("stopping (%s)", self._stop_reason)
        self.notifier.notify(STOPPING=1, STATUS=f"stopping ({self._stop_reason})")
        if watchdog is not None:
            watchdog.cancel()
        await self.pbx.shutdown()
        await self._stop_services(started)
        self.notifier.close()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        return 0

    async def _stop_services(self, started: list[Service], *, announce: bool = True) -> None:
        # The console goes last, so that its operator sees everything else stop.
        for service in reversed(started):
            if service is not self.console:
                await self._stop_one(service)
        if announce:
            log.info("shutdown complete")
        if self.console is not None and self.console in started:
            await self._stop_one(self.console)

    @staticmethod
    async def _stop_one(service: Service) -> None:
        try:
            await service.stop()
        except Exception:
            log.exception("%s: failed to stop cleanly", service.name)

    async def _watchdog(self) -> None:
        interval = self.notifier.watchdog_interval
        assert interval is not None
        while True:
            # The ping only goes out when the event loop is turning: a wedged loop gets restarted.
            self.notifier.notify(WATCHDOG=1)
            await asyncio.sleep(interval)
