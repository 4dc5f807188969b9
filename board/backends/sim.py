"""The simulated backend: an SPI bus whose chip selects reach chip models, GPIO lines, a PCM highway, a watchdog.

Nothing here needs hardware or third-party libraries.  Time is a :class:`SimClock`: *virtual* by default
(it advances as drivers sleep, as SPI bytes are clocked at the configured rate and as PCM frames move, so
tests of a 2 s calibration run in milliseconds) or *real* (monotonic time, PCM paced at 8 kHz) for a
gateway running on the simulated board.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from board.hal import (
    FRAME_RATE_HZ,
    Backend,
    Direction,
    Edge,
    EdgeEvent,
    GpioLine,
    HalError,
    PcmBus,
    PcmConfig,
    SpiConfig,
    SpiDevice,
    Watchdog,
)
from board.sim import ChipModel

SPI_ACCESS_OVERHEAD_S = 20e-6
"""Time one register access costs besides the bits on the wire (a system call and chip-select gaps)."""


class SimClock:
    """Virtual (default) or real monotonic time, as :class:`board.hal.Clock`."""

    def __init__(self, *, virtual: bool = True, start: float = 0.0) -> None:
        self.virtual = virtual
        self.paced = False
        self._now = start
        self._sleepers: list[float] = []

    def pace(self) -> None:
        """Keep virtual time but let the PCM bus pace it at the real rate (8000 frames a second), as a real
        board's time base is its PCM clock: audio, hook switches and ring cadences then stay on one time line
        even when the event loop is late and the bus catches up in a burst.  Sleeps become real sleeps."""
        self.paced = True

    def now(self) -> float:
        """Seconds."""
        return self._now if self.virtual else time.monotonic()

    def advance(self, seconds: float) -> None:
        """Move virtual time forward (no effect on real time)."""
        if self.virtual and seconds > 0:
            self._now += seconds

    async def sleep(self, seconds: float) -> None:
        """Sleep in virtual time, or really sleep.

        Virtual sleepers wake in order: time jumps to the earliest wake-up among the tasks sleeping on this
        clock once every task that could still run has had its turn, so four ports calibrating at once
        take as long as one (as on a real bus), not four times as long.
        """
        if not self.virtual or self.paced:
            await asyncio.sleep(max(0.0, seconds))
            return
        target = self._now + max(0.0, seconds)
        self._sleepers.append(target)
        try:
            while True:
                await asyncio.sleep(0)
                if self._now >= target:
                    return
                if target <= min(self._sleepers):
                    self._now = target
                    return
        finally:
            self._sleepers.remove(target)


@dataclass
class SpiTrace:
    """Every register access on the simulated bus, for tests that check framing: (chip select, out, in)."""

    enabled: bool = False
    accesses: list[tuple[str, bytes, bytes]] = field(default_factory=list)


class SimSpiBus:
    """The chip selects of the simulated board and the chip models behind each one."""

    def __init__(self, clock: SimClock, *, idle: int = 0xFF) -> None:
        self.clock = clock
        self.idle = idle
        self.chip_selects: dict[str, list[ChipModel]] = {}
        self.trace = SpiTrace()
        self.contention: list[str] = []

    def attach(self, chip_select: str, model: ChipModel) -> None:
        """Put ``model`` behind ``chip_select`` (several models on one chip select form a daisy chain)."""
        self.chip_selects.setdefault(chip_select, []).append(model)

    def access(self, chip_select: str, data: bytes, speed_hz: int) -> bytes:
        """Clock one register access through every chip on ``chip_select``."""
        driven: list[list[int]] = [[] for _ in data]
        for model in self.chip_selects.get(chip_select, []):
            for i, byte in enumerate(model.spi_frame(data)):
                if byte is not None:
                    driven[i].append(byte)
        out = bytearray()
        for i, values in enumerate(driven):
            if len(values) > 1:
                self.contention.append(f"{chip_select}: {len(values)} chips drove MISO in byte {i} of {data.hex()}")
            value = self.idle
            for v in values:
                value &= v  # open-drain-like: a 0 from anyone wins
            out.append(value)
        self.clock.advance(len(data) * 8 / speed_hz + SPI_ACCESS_OVERHEAD_S)
        if self.trace.enabled:
            self.trace.accesses.append((chip_select, bytes(data), bytes(out)))
        return bytes(out)


class SimSpiDevice(SpiDevice):
    """One chip select of the simulated bus."""

    def __init__(self, bus: SimSpiBus, config: SpiConfig) -> None:
        self.bus = bus
        self.config = config
        self.name = config.device
        self.closed = False

    def transfer(self, data: bytes) -> bytes:
        if self.closed:
            raise HalError(f"{self.name}: SPI device is closed")
        return self.bus.access(self.name, data, self.config.speed_hz)

    def close(self) -> None:
        self.closed = True


class SimGpioLine(GpioLine):
    """A simulated GPIO line: outputs notify what is wired to them, inputs are driven by tests/models."""

    def __init__(self, name: str, clock: SimClock, *, direction: Direction = Direction.INPUT,
                 edge: Edge = Edge.NONE, value: bool = False) -> None:
        self.name = name
        self.clock = clock
        self.direction = direction
        self.edge = edge
        self.value = value
        self.sinks: list[Callable[[bool], None]] = []
        self._callback: Callable[[EdgeEvent], None] | None = None
        self._seqno = 0
        self.closed = False

    def get(self) -> bool:
        return self.value

    def set(self, value: bool) -> None:
        if self.direction is not Direction.OUTPUT:
            raise HalError(f"{self.name}: line is not an output")
        self._change(value)

    def drive(self, value: bool) -> None:
        """Change an input line from outside (a test, a model's /INT pin)."""
        self._change(value)

    def _change(self, value: bool) -> None:
        if value == self.value:
            return
        self.value = value
        for sink in self.sinks:
            sink(value)
        wanted = self.edge is Edge.BOTH or (self.edge is Edge.RISING) == value and self.edge is not Edge.NONE
        if self._callback is not None and wanted:
            self._seqno += 1
            event = EdgeEvent(line=self.name, rising=value, timestamp=self.clock.now(), seqno=self._seqno)
            callback = self._callback
            try:
                asyncio.get_running_loop().call_soon(callback, event)
            except RuntimeError:
                callback(event)

    def on_edge(self, callback: Callable[[EdgeEvent], None] | None) -> None:
        self._callback = callback

    def close(self) -> None:
        self.closed = True
        self._callback = None


class SimPcmBus(PcmBus):
    """The simulated TDM highway: frames go to and from every chip model attached to the backend."""

    def __init__(self, backend: SimBackend, config: PcmConfig) -> None:
        self.backend = backend
        self.config = config
        self._running = False
        self._due = 0.0
        self._due_real = 0.0
        self.frames_moved = 0

    def start(self) -> None:
        self._running = True
        self._due = self.backend.clock.now()
        for model in self.backend.models:
            model.set_pcm_clock(True)

    def stop(self) -> None:
        self._running = False
        for model in self.backend.models:
            model.set_pcm_clock(False)

    @property
    def running(self) -> bool:
        return self._running

    async def exchange(self, tx: bytes) -> bytes:
        slots = self.slots_per_frame
        if not self._running:
            raise HalError("PCM bus is not running")
        if len(tx) % slots:
            raise HalError(f"PCM block of {len(tx)} bytes is not whole frames of {slots} timeslots")
        frames = len(tx) // slots
        clock = self.backend.clock
        if clock.virtual:
            clock.advance(frames / FRAME_RATE_HZ)
            if clock.paced:
                real = time.monotonic()
                self._due_real = max(self._due_real or real, real - 0.5) + frames / FRAME_RATE_HZ
                if self._due_real > real:
                    await asyncio.sleep(self._due_real - real)
        else:
            self._due = max(self._due, clock.now() - 0.5) + frames / FRAME_RATE_HZ
            delay = self._due - clock.now()
            if delay > 0:
                await asyncio.sleep(delay)
        rx = bytearray([0xFF]) * len(tx)
        for model in self.backend.models:
            model.pcm_block(tx, rx, frames, slots)
        self.frames_moved += frames
        if clock.virtual:
            await asyncio.sleep(0)
        return bytes(rx)


class SimWatchdog(Watchdog):
    """A watchdog that records kicks and says whether it would have fired."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.timeout_s = 0.0
        self.armed = False
        self.last_kick = 0.0
        self.kicks = 0

    def start(self, timeout_s: float) -> float:
        self.timeout_s = float(max(1, round(timeout_s)))  # /dev/watchdog takes whole seconds
        self.armed = True
        self.last_kick = self.clock.now()
        return self.timeout_s

    def kick(self) -> None:
        self.last_kick = self.clock.now()
        self.kicks += 1

    def stop(self) -> None:
        self.armed = False

    @property
    def expired(self) -> bool:
        """True if the board would have been reset by now."""
        return self.armed and self.clock.now() - self.last_kick > self.timeout_s


class SimBackend(Backend):
    """The simulated board: build it, attach chip models to chip selects, then hand it to the assembly."""

    name = "sim"

    def __init__(self, *, clock: SimClock | None = None, virtual_time: bool = True, idle_level: int = 0xFF) -> None:
        self.clock: SimClock = clock or SimClock(virtual=virtual_time)
        self.spi = SimSpiBus(self.clock, idle=idle_level)
        self.lines: dict[str, SimGpioLine] = {}
        self.models: list[ChipModel] = []
        self.pcm: SimPcmBus | None = None
        self.watchdog: SimWatchdog | None = None

    def attach_chip(self, chip_select: str, model: ChipModel) -> None:
        """Put a chip model behind a chip select (and on the PCM highway)."""
        self.spi.attach(chip_select, model)
        self.models.append(model)
        if self.pcm is not None and self.pcm.running:
            model.set_pcm_clock(True)

    def wire_reset(self, line_name: str, models: list[ChipModel] | None = None) -> SimGpioLine:
        """Wire an output line to the /RESET pins of ``models`` (all attached models by default).

        The line's logical value True holds the chips in reset (request it ``active_low`` as on the board).
        """
        line = self.lines.setdefault(line_name, SimGpioLine(line_name, self.clock, direction=Direction.OUTPUT))
        targets = models if models is not None else self.models

        def sink(asserted: bool) -> None:
            for model in targets:
                hold = getattr(model, "hold_reset", None)
                if hold is not None:
                    hold(asserted)
        line.sinks.append(sink)
        return line

    @property
    def violations(self) -> list[str]:
        """Everything any chip model reported, plus bus contention."""
        return [f"{m.name}: {v}" for m in self.models for v in m.violations] + list(self.spi.contention)

    def open_spi(self, config: SpiConfig) -> SpiDevice:
        return SimSpiDevice(self.spi, config)

    def request_line(self, name: str, direction: Direction, *, edge: Edge = Edge.NONE,
                     active_low: bool = False, initial: bool = False) -> GpioLine:
        line = self.lines.get(name)
        if line is None:
            line = self.lines[name] = SimGpioLine(name, self.clock, direction=direction, edge=edge)
        line.direction, line.edge = direction, edge
        if direction is Direction.OUTPUT:
            line.set(initial)
        return line

    def open_pcm(self, config: PcmConfig) -> PcmBus:
        if self.pcm is None:
            self.pcm = SimPcmBus(self, config)
        return self.pcm

    def open_watchdog(self, device: str = "/dev/watchdog") -> Watchdog:
        if self.watchdog is None:
            self.watchdog = SimWatchdog(self.clock)
        return self.watchdog
