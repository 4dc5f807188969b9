"""The switch: owns every channel, names them, and runs inbound legs through the dialplan.

Channel drivers register here under their technology name; ``Dial(SIP/1001)`` becomes
:meth:`Pbx.request` -> the SIP driver's ``request("1001")``.  Each inbound leg runs the dialplan in
its own asyncio task (:meth:`Pbx.start_inbound`); when the dialplan ends, the leg is hung up.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from typing import Protocol

from core.callerid import CallerId
from core.causes import HangupCause
from core.channel import Channel, ChannelDriver, ChannelState, ChannelUnavailable, Direction
from core.cli import CliRequest, CliUsageError, CommandRegistry
from core.events import ChannelCreated, EventBus

log = logging.getLogger("centralita.pbx")


class DialplanRunner(Protocol):
    """Runs one inbound channel through the dialplan until it is done with the call."""

    async def run(self, channel: Channel) -> None:
        """Execute the dialplan for ``channel`` from its context/extension/priority."""


class Pbx:
    """The channel table, the channel drivers and the dialplan tasks of inbound legs."""

    def __init__(
        self,
        bus: EventBus,
        *,
        runner: DialplanRunner | None = None,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
    ) -> None:
        self.bus = bus
        self.runner = runner
        self._clock = clock
        self._wallclock = wallclock
        self._drivers: dict[str, ChannelDriver] = {}
        self._channels: dict[str, Channel] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._sequence = itertools.count(1)
        self.calls_processed = 0
        self._accepting = True

    # -- drivers --------------------------------------------------------------------------------------

    def register_driver(self, driver: ChannelDriver) -> None:
        """Make a technology available to ``Dial`` and for inbound legs."""
        key = driver.technology.upper()
        if key in self._drivers:
            raise ValueError(f"channel technology {driver.technology} is already registered")
        self._drivers[key] = driver

    def driver(self, technology: str) -> ChannelDriver | None:
        """The driver for ``technology`` (case-insensitive), if registered."""
        return self._drivers.get(technology.upper())

    @property
    def drivers(self) -> list[ChannelDriver]:
        """Registered drivers in registration order."""
        return list(self._drivers.values())

    # -- channels -------------------------------------------------------------------------------------

    def new_channel(
        self,
        driver: ChannelDriver,
        resource: str,
        *,
        direction: Direction,
        caller: CallerId | None = None,
        context: str = "default",
        exten: str = "s",
        state: ChannelState = ChannelState.DOWN,
        name: str | None = None,
    ) -> Channel:
        """Create and register a channel named ``TECH/resource-<sequence>`` (or ``name``)."""
        sequence = next(self._sequence)
        channel = Channel(
            name=name or f"{driver.technology}/{resource}-{sequence:08x}",
            uniqueid=f"{int(self._wallclock())}.{sequence}",
            driver=driver,
            resource=resource,
            direction=direction,
            bus=self.bus,
            clock=self._clock,
            caller=caller,
            context=context,
            exten=exten,
            state=state,
        )
        self._channels[channel.name] = channel
        channel.add_hangup_callback(self._forget)
        bus = self.bus
        if bus.active:
            bus.publish(ChannelCreated(channel.name, channel.uniqueid, state, channel.caller, context, exten))
        return channel

    def next_sequence(self) -> int:
        """A fresh number for names that a driver composes itself (``Local/...-0000001a;1``)."""
        return next(self._sequence)

    def _forget(self, channel: Channel) -> None:
        self._channels.pop(channel.name, None)

    @property
    def channels(self) -> list[Channel]:
        """Live channels, oldest first."""
        return list(self._channels.values())

    def channel_named(self, name: str) -> Channel | None:
        """The live channel with exactly this name (no prefix matching: for lookups made per event)."""
        return self._channels.get(name)

    def find_channel(self, name: str) -> Channel | None:
        """A live channel by its full name, or by a prefix that matches exactly one channel."""
        channel = self._channels.get(name)
        if channel is not None:
            return channel
        matches = [c for n, c in self._channels.items() if n.startswith(name)]
        return matches[0] if len(matches) == 1 else None

    @property
    def active_calls(self) -> int:
        """Inbound legs whose dialplan is still running (Asterisk's "active calls")."""
        self._tasks = {task for task in self._tasks if not task.done()}
        return len(self._tasks)

    def start_inbound(self, channel: Channel) -> asyncio.Task[None]:
        """Run an inbound leg through the dialplan in its own task.

        Without a dialplan runner (or while shutting down) the leg is refused with cause 34/41.
        """
        task = asyncio.get_running_loop().create_task(self._run_dialplan(channel), name=channel.name)
        self._tasks.add(task)
        return task

    async def _run_dialplan(self, channel: Channel) -> None:
        # The task leaves _tasks as its coroutine ends rather than in a done callback, which would cost one
        # more event-loop callback per call.  (A task cancelled before its first step never runs this: the
        # readers of _tasks skip finished tasks.)
        try:
            if not self._accepting:
                await channel.hangup(HangupCause.NORMAL_TEMPORARY_FAILURE)
                return
            if self.runner is None:
                log.warning("%s: no dialplan loaded, refusing the call", channel.name)
                await channel.hangup(HangupCause.NORMAL_CIRCUIT_CONGESTION)
                return
            self.calls_processed += 1
            try:
                await self.runner.run(channel)
            except asyncio.CancelledError:
                await channel.hangup(HangupCause.NORMAL_CLEARING)
                raise
            except Exception:
                log.exception("%s: dialplan failed", channel.name)
                await channel.hangup(HangupCause.NORMAL_TEMPORARY_FAILURE)
                return
            if channel.hangup_cause is None:  # mostly gone already: no coroutine made for a no-op hangup()
                await channel.hangup(HangupCause.NORMAL_CLEARING)
        finally:
            self._tasks.discard(asyncio.current_task())

    async def request(self, destination: str, *, requestor: Channel | None = None) -> Channel:
        """An outbound leg for ``TECH/resource`` (not yet called).

        Raises :class:`ChannelUnavailable` for an unknown technology (cause 66, as Asterisk reports
        "channel not implemented") or whatever the driver refuses with.
        """
        technology, sep, resource = destination.partition("/")
        if not sep or not resource:
            raise ChannelUnavailable(HangupCause.INVALID_NUMBER_FORMAT, f"bad destination {destination!r}")
        if not self._accepting:
            raise ChannelUnavailable(HangupCause.NORMAL_TEMPORARY_FAILURE, "shutting down")
        driver = self.driver(technology)
        if driver is None:
            raise ChannelUnavailable(HangupCause.CHAN_NOT_IMPLEMENTED, f"no channel technology {technology}")
        return await driver.request(resource, requestor=requestor)

    def stop_accepting(self) -> None:
        """Refuse new calls from now on (``core stop gracefully``); calls in progress continue."""
        self._accepting = False

    async def wait_idle(self) -> None:
        """Return once no channel is left."""
        while self._channels:
            await next(iter(self._channels.values())).wait_hungup()

    async def hangup_all(self, cause: HangupCause = HangupCause.NORMAL_CLEARING) -> int:
        """Hang up every live channel with ``cause``; returns how many there were."""
        channels = self.channels
        await asyncio.gather(*(c.hangup(cause) for c in channels), return_exceptions=True)
        return len(channels)

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Refuse new calls, hang up every channel with cause 16 and wait for the dialplan tasks."""
        self._accepting = False
        await self.hangup_all(HangupCause.NORMAL_CLEARING)
        running = {task for task in self._tasks if not task.done()}
        if running:
            _done, pending = await asyncio.wait(running, timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)

    # -- console --------------------------------------------------------------------------------------

    def register_commands(self, registry: CommandRegistry) -> None:
        """Add ``core show channels``, ``core show channel`` and ``channel request hangup``."""
        registry.register(
            "core show channels", self._cli_show_channels, "Display information on channels",
            "Usage: core show channels [concise]\n       Lists the active channels.",
        )
        registry.register(
            "core show channel", self._cli_show_channel, "Display information on a specific channel",
            "Usage: core show channel <channel>",
        )
        registry.register(
            "channel request hangup", self._cli_hangup, "Request a hangup on a given channel",
            "Usage: channel request hangup <channel>|all",
        )

    def _cli_show_channels(self, request: CliRequest) -> str:
        concise = request.args[:1] == ("concise",)
        if request.args and not concise:
            raise CliUsageError()
        if concise:
            return "\n".join(
                "!".join([
                    c.name, c.context, c.exten, str(c.priority), c.state.label, c.application,
                    c.app_data, c.caller.number, c.accountcode, "", "3", str(int(c.duration)), "",
                    c.uniqueid,
                ])
                for c in self.channels
            )
        lines = [f"{'Channel':<20.20} {'Location':<20.20} {'State':<7.7} {'Application(Data)':<30.30}"]
        for c in self.channels:
            location = f"{c.exten}@{c.context}:{c.priority}"
            app = f"{c.application}({c.app_data})" if c.application else "(None)"
            lines.append(f"{c.name:<20.20} {location:<20.20} {c.state.label:<7.7} {app:<30.30}")
        n, calls = len(self._channels), self.active_calls
        lines.append(f"{n} active channel{'' if n == 1 else 's'}")
        lines.append(f"{calls} active call{'' if calls == 1 else 's'}")
        processed = self.calls_processed
        lines.append(f"{processed} call{'' if processed == 1 else 's'} processed")
        return "\n".join(lines)

    def _cli_show_channel(self, request: CliRequest) -> str:
        if len(request.args) != 1:
            raise CliUsageError()
        channel = self.find_channel(request.args[0])
        if channel is None:
            return f"{request.args[0]} is not a known channel"
        rows = [
            ("Name", channel.name),
            ("UniqueID", channel.uniqueid),
            ("LinkedID", channel.linkedid),
            ("Caller ID", channel.caller.number),
            ("Caller ID Name", channel.caller.name or "(N/A)"),
            ("DNID Digits", channel.dnid),
            ("State", f"{channel.state.label} ({int(channel.state)})"),
            ("Direction", channel.direction.value),
            ("Elapsed Time", _hms(channel.duration)),
            ("Context", channel.context),
            ("Extension", channel.exten),
            ("Priority", str(channel.priority)),
            ("Application", channel.application or "(None)"),
            ("Data", channel.app_data or "(Empty)"),
        ]
        width = max(len(k) for k, _ in rows)
        lines = [f"{k:>{width}}: {v}" for k, v in rows]
        if channel.variables:
            lines.append("      Variables:")
            lines.extend(f"{k}={v}" for k, v in sorted(channel.variables.items()))
        return "\n".join(lines)

    async def _cli_hangup(self, request: CliRequest) -> str:
        if len(request.args) != 1:
            raise CliUsageError()
        if request.args[0] == "all":
            count = await self.hangup_all(HangupCause.NORMAL_CLEARING)
            return f"Requested hangup on {count} channel{'' if count == 1 else 's'}"
        channel = self.find_channel(request.args[0])
        if channel is None:
            return f"{request.args[0]} is not a known channel"
        await channel.hangup(HangupCause.NORMAL_CLEARING)
        return f"Requested hangup on channel '{channel.name}'"


def _hms(seconds: float) -> str:
    total = int(seconds)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"
