"""The hardware abstraction: the only way drivers reach SPI, GPIO, the PCM highway, the watchdog and time.

A driver receives objects of these types and never imports ``spidev``, ``gpiod``, ALSA or the simulator.
Two backends implement them (:func:`open_backend`): ``"linux"`` (``board.backends.linux``: spidev,
gpiod v2 or RPi.GPIO, ALSA, ``/dev/watchdog``) and ``"sim"`` (``board.backends.sim``: register-level chip
models behind a simulated bus).  Backends are looked up in a registry and imported only when asked for,
so a laptop never imports a Raspberry Pi library and a board never imports the simulator.

Facts the interfaces encode (``shared/reference/hardware.md``):

- The ProSLIC (Si3210/Si3215) and the DAA (Si3050) want **/CS released between every byte** of a
  register access (Astfin ``bfsi.c``; Village Telco ``spi.c`` sets ``cs_change`` on every one-byte
  transfer).  :meth:`SpiDevice.transfer` is one register access: every byte in its own chip-select frame,
  one system call on Linux.
- The chips' PLLs lock to PCLK/FSYNC: **without the PCM clock their registers read 0**, so
  :meth:`PcmBus.start` comes before any register access.
- The PCM highway is 8 kHz frames of 8-bit timeslots (2.048 MHz -> 32 timeslots); each chip sits at a
  bit offset after FSYNC.  :meth:`PcmBus.exchange` moves whole frames both ways.
"""

from __future__ import annotations

import enum
import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = [
    "Backend",
    "Clock",
    "Direction",
    "Edge",
    "EdgeEvent",
    "GpioLine",
    "HalError",
    "PcmBus",
    "PcmConfig",
    "SpiConfig",
    "SpiDevice",
    "Watchdog",
    "available_backends",
    "merge_slots",
    "open_backend",
    "register_backend",
    "split_slots",
]

FRAME_RATE_HZ = 8000
"""The PCM highway's frame rate: one 8-bit sample per timeslot every 125 us (ITU-T G.711/G.704)."""


class HalError(Exception):
    """A hardware access failed: a device node is missing, an ioctl failed, a line is unknown."""


# --------------------------------------------------------------------------------------------- time


@runtime_checkable
class Clock(Protocol):
    """Monotonic time for drivers: ``now()`` in seconds and an awaitable ``sleep``.

    On hardware this is the event loop's clock; on the simulated board it may be virtual time that
    advances as the driver sleeps and as SPI bytes are clocked, so a 2 s calibration takes no real time.
    """

    def now(self) -> float:
        """Monotonic seconds."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (the simulated clock just advances)."""
        ...


# ---------------------------------------------------------------------------------------------- SPI


@dataclass(frozen=True, slots=True)
class SpiConfig:
    """How to open one chip select of an SPI bus.

    ``device`` names the chip select: ``/dev/spidev0.0`` on Linux, any name on the simulated bus.
    ``mode`` 3 (CPOL=1, CPHA=1) is what DAHDI's bit-banged sequence and Astfin's ``bfsi.c`` use for the
    ProSLIC and the DAA; OAK8X clocks SPI0 at 10 MHz, Astfin ran the Si3050 at 12.5 MHz (max 16.4 MHz).
    ``chip_select_line`` is a GPIO line name when the chip select is a GPIO the *user-space* backend
    toggles itself (slow: three system calls per byte); leave it empty when the kernel drives the chip
    select (native CS or ``cs-gpios`` from a device-tree overlay such as ``spi0-2cs,cs0_pin=16``).
    """

    device: str
    speed_hz: int = 10_000_000
    mode: int = 3
    chip_select_line: str = ""


class SpiDevice(ABC):
    """One chip select on an SPI bus, as the ProSLIC/DAA framing needs it."""

    name: str

    @abstractmethod
    def transfer(self, data: bytes) -> bytes:
        """One register access: clock out ``data`` MSB first, **each byte in its own /CS frame**.

        Returns the bytes clocked in (one per byte sent).  Bytes no chip drives read as the bus's idle
        level (0xFF with a pull-up).  On Linux this is one ``SPI_IOC_MESSAGE(n)`` ioctl of one-byte
        transfers with ``cs_change`` set.
        """

    @abstractmethod
    def close(self) -> None:
        """Release the device."""


# --------------------------------------------------------------------------------------------- GPIO


class Direction(enum.Enum):
    """Direction of a GPIO line."""

    INPUT = "input"
    OUTPUT = "output"


class Edge(enum.Enum):
    """Which edges of an input line produce events (GPIO v2 uAPI ``GPIO_V2_LINE_FLAG_EDGE_*``)."""

    NONE = "none"
    RISING = "rising"
    FALLING = "falling"
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class EdgeEvent:
    """One edge seen on an input line.

    ``timestamp`` is monotonic seconds taken when the edge happened (the kernel's timestamp on Linux,
    ``gpio_v2_line_event.timestamp_ns``), not when the event was read.  ``rising`` is in terms of the
    line's *logical* value (active-low lines are inverted first).
    """

    line: str
    rising: bool
    timestamp: float
    seqno: int = 0


class GpioLine(ABC):
    """One GPIO line requested by name (``"GPIO17"``, ``"SPI_RESET"``), with edge events.

    Values are logical: ``True`` is *active* (for an active-low line, electrically low).
    """

    name: str

    @abstractmethod
    def get(self) -> bool:
        """The line's logical value."""

    @abstractmethod
    def set(self, value: bool) -> None:
        """Drive an output line to the logical ``value``."""

    @abstractmethod
    def on_edge(self, callback: Callable[[EdgeEvent], None] | None) -> None:
        """Deliver edge events of an input line to ``callback`` on the running event loop (None stops)."""

    @abstractmethod
    def close(self) -> None:
        """Release the line."""


# ---------------------------------------------------------------------------------------------- PCM


@dataclass(frozen=True, slots=True)
class PcmConfig:
    """The PCM highway: ``clock_hz`` PCLK, ``slots`` 8-bit timeslots the host can reach per frame.

    The highway has ``clock_hz / 64000`` timeslots (2.048 MHz -> 32); a host interface may reach fewer
    (the Pi's PCM block moves two 32-bit channels = 8 timeslots per 256-bit frame).  ``device`` is the
    ALSA PCM name on Linux.  ``period_frames`` is how many 125 us frames one transfer moves.
    """

    clock_hz: int = 2_048_000
    slots: int = 32
    device: str = ""
    period_frames: int = 160


class PcmBus(ABC):
    """The host's end of the 8 kHz TDM highway the chips sit on (one sample per timeslot per frame)."""

    config: PcmConfig

    @property
    def slots_per_frame(self) -> int:
        """Timeslots the host reads and writes per 125 us frame."""
        return self.config.slots

    @abstractmethod
    def start(self) -> None:
        """Start PCLK/FSYNC (the chips' PLLs need them before any register access) and the streams."""

    @abstractmethod
    def stop(self) -> None:
        """Stop the streams (on hardware the clock may keep running: the chips need it)."""

    @property
    @abstractmethod
    def running(self) -> bool:
        """True while PCLK/FSYNC run."""

    @abstractmethod
    async def exchange(self, tx: bytes) -> bytes:
        """Send ``len(tx) // slots_per_frame`` frames to the chips and return as many received frames.

        Frames are interleaved: byte ``f * slots_per_frame + s`` is timeslot ``s`` of frame ``f``.  The
        call returns when the frames have been clocked (paced at 8 kHz on hardware).
        """


def split_slots(block: bytes, slots_per_frame: int) -> list[bytes]:
    """De-interleave a block of frames into one byte string per timeslot."""
    return [block[s::slots_per_frame] for s in range(slots_per_frame)]


def merge_slots(per_slot: Sequence[bytes], fill: int = 0xFF) -> bytes:
    """Interleave per-timeslot byte strings (equal lengths; short ones padded with ``fill``) into frames.

    0xFF is u-law silence (G.711 Table 2a, positive zero); use 0xD5 for A-law.
    """
    frames = max((len(s) for s in per_slot), default=0)
    out = bytearray([fill]) * (frames * len(per_slot))
    for s, samples in enumerate(per_slot):
        out[s:s + len(samples) * len(per_slot):len(per_slot)] = samples
    return bytes(out)


# ----------------------------------------------------------------------------------------- watchdog


class Watchdog(ABC):
    """A hardware watchdog (Linux ``/dev/watchdog``): the board resets unless :meth:`kick` comes in time."""

    @abstractmethod
    def start(self, timeout_s: float) -> float:
        """Arm with ``timeout_s``; returns the timeout the device accepted."""

    @abstractmethod
    def kick(self) -> None:
        """Keep the board alive for another timeout."""

    @abstractmethod
    def stop(self) -> None:
        """Disarm (Linux "magic close": write ``V`` then close)."""


# ------------------------------------------------------------------------------------------ backends


class Backend(ABC):
    """A source of hardware objects: SPI chip selects, GPIO lines, the PCM bus, the watchdog, a clock."""

    name: str
    clock: Clock

    @abstractmethod
    def open_spi(self, config: SpiConfig) -> SpiDevice:
        """Open one chip select."""

    @abstractmethod
    def request_line(self, name: str, direction: Direction, *, edge: Edge = Edge.NONE,
                     active_low: bool = False, initial: bool = False) -> GpioLine:
        """Request a GPIO line by name."""

    @abstractmethod
    def open_pcm(self, config: PcmConfig) -> PcmBus:
        """Open the PCM highway."""

    @abstractmethod
    def open_watchdog(self, device: str = "/dev/watchdog") -> Watchdog:
        """Open the watchdog."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release whatever the backend holds."""


BackendFactory = Callable[..., Backend]

_REGISTRY: dict[str, str | BackendFactory] = {
    "sim": "board.backends.sim:SimBackend",
    "linux": "board.backends.linux:LinuxBackend",
}


def register_backend(name: str, factory: str | BackendFactory) -> None:
    """Register a backend factory (or ``"module:attribute"`` imported on first use) under ``name``."""
    _REGISTRY[name] = factory


def available_backends() -> list[str]:
    """Registered backend names."""
    return sorted(_REGISTRY)


def open_backend(name: str, **options: object) -> Backend:
    """Create the backend ``name`` with ``options``; raises :class:`HalError` for an unknown name."""
    entry = _REGISTRY.get(name)
    if entry is None:
        raise HalError(f"no HAL backend '{name}' (available: {', '.join(available_backends())})")
    if isinstance(entry, str):
        module_name, _, attribute = entry.partition(":")
        factory: BackendFactory = getattr(importlib.import_module(module_name), attribute)
        _REGISTRY[name] = factory
    else:
        factory = entry
    return factory(**options)
