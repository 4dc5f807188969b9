"""The Linux backend: spidev, gpiod v2 (or RPi.GPIO), ALSA for the Pi's PCM block, ``/dev/watchdog``.

Libraries are imported lazily (a laptop never needs them) and every system call goes through a small
device layer (:class:`DeviceLayer`) and a module importer, so the backend is tested against fakes.

- **SPI** (Linux ``spidev`` uAPI, ``include/uapi/linux/spi/spidev.h``): one register access is one
  ``SPI_IOC_MESSAGE(n)`` ioctl carrying n one-byte ``spi_ioc_transfer``s, each but the last with
  ``cs_change = 1`` so /CS is released between bytes as the ProSLIC and the DAA require (hardware.md §1.2;
  Village Telco's ``spi.c`` does the same in the kernel).  With ``chip_select_line`` set, the chip select
  is a GPIO toggled from user space around single-byte transfers (``SPI_NO_CS``) -- three calls per byte;
  prefer the kernel's ``cs-gpios`` (``dtoverlay=spi0-2cs,cs0_pin=..,cs1_pin=..``).
- **GPIO**: libgpiod v2 Python bindings, lines found by name over ``/dev/gpiochip*``; edge events come
  from the request's file descriptor through ``loop.add_reader`` with the kernel's CLOCK_MONOTONIC
  timestamps (GPIO v2 uAPI ``gpio_v2_line_event``).  ``gpio="rpi"`` uses RPi.GPIO (BCM numbering from
  names like ``GPIO17``; its callbacks run on a thread and are handed to the loop thread-safely).
- **PCM**: pyalsaaudio (``alsaaudio``) capture and playback of 2 channels of S32_LE at 8 kHz: the Pi's PCM
  block in the OAK8X arrangement (256-bit frame, two 32-bit channels at bits 0 and 32) carries 8 8-bit
  timeslots per frame; as I2S sends the most significant bit first, timeslot k is byte 3 - k of the first
  little-endian word (k < 4) and byte 7 - (k - 4) of the second [derived from hardware.md §4.2].
- **Watchdog**: ``WDIOC_SETTIMEOUT``/``WDIOC_KEEPALIVE`` ioctls, "magic close" (write ``V``) to disarm.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import fcntl
import glob
import importlib
import os
import re
import struct
import time
from array import array
from collections.abc import Callable
from typing import Any

from board.hal import (
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

# spidev.h: _IOW('k', nr, type)
_IOC_WRITE, _IOC_READ = 1, 2


def _ioc(direction: int, kind: str, number: int, size: int) -> int:
    return direction << 30 | size << 16 | ord(kind) << 8 | number


SPI_IOC_WR_MODE = _ioc(_IOC_WRITE, "k", 1, 1)
SPI_IOC_WR_BITS_PER_WORD = _ioc(_IOC_WRITE, "k", 3, 1)
SPI_IOC_WR_MAX_SPEED_HZ = _ioc(_IOC_WRITE, "k", 4, 4)
SPI_NO_CS = 0x40
SPI_TRANSFER = struct.Struct("<QQIIHBBBBBB")  # struct spi_ioc_transfer, 32 bytes


def spi_ioc_message(count: int) -> int:
    """``SPI_IOC_MESSAGE(count)``: write ``count`` ``spi_ioc_transfer`` structures."""
    return _ioc(_IOC_WRITE, "k", 0, count * SPI_TRANSFER.size)


WDIOC_KEEPALIVE = _ioc(_IOC_READ, "W", 5, 4)
WDIOC_SETTIMEOUT = _ioc(_IOC_READ | _IOC_WRITE, "W", 6, 4)


class DeviceLayer:
    """The system calls the backend makes; tests replace it with a fake device."""

    def open(self, path: str, flags: int) -> int:
        """``os.open``."""
        return os.open(path, flags)

    def close(self, fd: int) -> None:
        """``os.close``."""
        os.close(fd)

    def ioctl(self, fd: int, request: int, arg: bytearray) -> int:
        """``fcntl.ioctl`` with a mutable buffer (the kernel may write into it)."""
        return int(fcntl.ioctl(fd, request, arg, True))

    def write(self, fd: int, data: bytes) -> int:
        """``os.write``."""
        return os.write(fd, data)


def import_library(name: str, package: str) -> Any:
    """Import ``name``; a missing library raises :class:`HalError` naming the package that installs it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise HalError(f"the Linux backend needs '{name}' ({exc}); install it with: pip install {package}") from exc


class LoopClock:
    """Monotonic time (the clock asyncio's loop and the GPIO uAPI use) with ``asyncio.sleep``."""

    def now(self) -> float:
        """Seconds (CLOCK_MONOTONIC)."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Sleep on the event loop."""
        await asyncio.sleep(max(0.0, seconds))


# ---------------------------------------------------------------------------------------------- SPI


class SpidevDevice(SpiDevice):
    """One spidev chip select with the chips' framing: /CS released between bytes, one ioctl per access."""

    def __init__(self, config: SpiConfig, device: DeviceLayer, chip_select: GpioLine | None = None) -> None:
        self.config = config
        self.name = config.device
        self.device = device
        self.chip_select = chip_select
        try:
            self.fd = device.open(config.device, os.O_RDWR)
        except OSError as exc:
            raise HalError(f"{config.device}: cannot open SPI device ({exc.strerror}); is spidev enabled?") from exc
        mode = config.mode | (SPI_NO_CS if chip_select is not None else 0)
        try:
            device.ioctl(self.fd, SPI_IOC_WR_MODE, bytearray([mode]))
            device.ioctl(self.fd, SPI_IOC_WR_BITS_PER_WORD, bytearray([8]))
            device.ioctl(self.fd, SPI_IOC_WR_MAX_SPEED_HZ, bytearray(struct.pack("<I", config.speed_hz)))
        except OSError as exc:
            device.close(self.fd)
            raise HalError(f"{config.device}: cannot set mode {mode:#x} at {config.speed_hz} Hz ({exc})") from exc

    def _message(self, data: bytes, cs_change_between: bool) -> bytes:
        count = len(data)
        tx = ctypes.create_string_buffer(bytes(data), count)
        rx = ctypes.create_string_buffer(count)
        base_tx, base_rx = ctypes.addressof(tx), ctypes.addressof(rx)
        message = bytearray(SPI_TRANSFER.size * count)
        for i in range(count):
            cs_change = 1 if cs_change_between and i < count - 1 else 0
            SPI_TRANSFER.pack_into(message, i * SPI_TRANSFER.size, base_tx + i, base_rx + i, 1,
                                   self.config.speed_hz, 0, 8, cs_change, 0, 0, 0, 0)
        try:
            self.device.ioctl(self.fd, spi_ioc_message(count), message)
        except OSError as exc:
            raise HalError(f"{self.name}: SPI transfer failed ({exc})") from exc
        return rx.raw

    def transfer(self, data: bytes) -> bytes:
        if not data:
            return b""
        if self.chip_select is None:
            return self._message(data, cs_change_between=True)
        out = bytearray()
        for byte in data:
            self.chip_select.set(True)
            try:
                out += self._message(bytes([byte]), cs_change_between=False)
            finally:
                self.chip_select.set(False)
        return bytes(out)

    def close(self) -> None:
        self.device.close(self.fd)


# --------------------------------------------------------------------------------------------- GPIO


class GpiodLine(GpioLine):
    """A line requested through libgpiod v2 (``gpiod.request_lines``)."""

    def __init__(self, gpiod: Any, name: str, direction: Direction, edge: Edge, active_low: bool,
                 initial: bool, chip_paths: list[str] | None = None) -> None:
        self.gpiod = gpiod
        self.name = name
        self._callback: Callable[[EdgeEvent], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        line = importlib.import_module("gpiod.line") if not hasattr(gpiod, "line") else gpiod.line
        self._value_type = line.Value
        paths = chip_paths if chip_paths is not None else sorted(glob.glob("/dev/gpiochip*"))
        for path in paths:
            try:
                with gpiod.Chip(path) as chip:
                    offset = chip.line_offset_from_id(name)
            except (OSError, ValueError):
                continue
            self.path, self.offset = path, int(offset)
            break
        else:
            raise HalError(f"GPIO line '{name}' not found on {', '.join(paths) or 'any gpiochip'}")
        edges = {Edge.NONE: line.Edge.NONE, Edge.RISING: line.Edge.RISING, Edge.FALLING: line.Edge.FALLING,
                 Edge.BOTH: line.Edge.BOTH}
        settings: dict[str, Any] = {"active_low": active_low}
        if direction is Direction.OUTPUT:
            settings["direction"] = line.Direction.OUTPUT
            settings["output_value"] = line.Value.ACTIVE if initial else line.Value.INACTIVE
        else:
            settings["direction"] = line.Direction.INPUT
            settings["edge_detection"] = edges[edge]
        try:
            self.request = gpiod.request_lines(self.path, consumer="centralita",
                                               config={self.offset: gpiod.LineSettings(**settings)})
        except OSError as exc:
            raise HalError(f"GPIO line '{name}' ({self.path}:{self.offset}) busy or refused ({exc})") from exc

    def get(self) -> bool:
        return bool(self.request.get_value(self.offset) == self._value_type.ACTIVE)

    def set(self, value: bool) -> None:
        self.request.set_value(self.offset, self._value_type.ACTIVE if value else self._value_type.INACTIVE)

    def on_edge(self, callback: Callable[[EdgeEvent], None] | None) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self.request.fd)
            self._loop = None
        self._callback = callback
        if callback is not None:
            self._loop = asyncio.get_running_loop()
            self._loop.add_reader(self.request.fd, self._readable)

    def _readable(self) -> None:
        rising = self.gpiod.EdgeEvent.Type.RISING_EDGE
        for event in self.request.read_edge_events():
            if self._callback is not None:
                self._callback(EdgeEvent(line=self.name, rising=event.event_type == rising,
                                         timestamp=event.timestamp_ns / 1e9, seqno=int(event.line_seqno)))

    def close(self) -> None:
        self.on_edge(None)
        self.request.release()


_BCM_NAME = re.compile(r"(?:GPIO|BCM)?(\d+)$", re.IGNORECASE)


class RpiGpioLine(GpioLine):
    """A line through the legacy RPi.GPIO library (Pi 0-4 only), BCM numbering from the line name."""

    def __init__(self, gpio: Any, name: str, direction: Direction, edge: Edge, active_low: bool,
                 initial: bool) -> None:
        match = _BCM_NAME.match(name)
        if match is None:
            raise HalError(f"RPi.GPIO needs BCM line names like GPIO17, not '{name}'")
        self.gpio = gpio
        self.name = name
        self.pin = int(match.group(1))
        self.active_low = active_low
        self.edge = edge
        self._callback: Callable[[EdgeEvent], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._seqno = 0
        gpio.setmode(gpio.BCM)
        if direction is Direction.OUTPUT:
            gpio.setup(self.pin, gpio.OUT, initial=self._level(initial))
        else:
            gpio.setup(self.pin, gpio.IN)

    def _level(self, value: bool) -> int:
        return int(value != self.active_low)

    def get(self) -> bool:
        return bool(self.gpio.input(self.pin)) != self.active_low

    def set(self, value: bool) -> None:
        self.gpio.output(self.pin, self._level(value))

    def on_edge(self, callback: Callable[[EdgeEvent], None] | None) -> None:
        if self._callback is not None:
            self.gpio.remove_event_detect(self.pin)
        self._callback = callback
        if callback is None or self.edge is Edge.NONE:
            return
        self._loop = asyncio.get_running_loop()
        physical = {Edge.BOTH: self.gpio.BOTH, Edge.RISING: self.gpio.FALLING if self.active_low else self.gpio.RISING,
                    Edge.FALLING: self.gpio.RISING if self.active_low else self.gpio.FALLING}[self.edge]
        self.gpio.add_event_detect(self.pin, physical, callback=self._thread_edge)

    def _thread_edge(self, pin: int) -> None:
        stamp = time.monotonic()
        value = self.get()
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(self._deliver, value, stamp)

    def _deliver(self, value: bool, stamp: float) -> None:
        self._seqno += 1
        if self._callback is not None:
            self._callback(EdgeEvent(line=self.name, rising=value, timestamp=stamp, seqno=self._seqno))

    def close(self) -> None:
        self.on_edge(None)
        self.gpio.cleanup(self.pin)


# ---------------------------------------------------------------------------------------------- PCM


def words_to_slots(raw: bytes) -> bytes:
    """S32_LE words as ALSA hands them -> 8-bit timeslots in wire order (most significant byte first)."""
    words = array("I")
    words.frombytes(raw)
    if words.itemsize != 4:  # pragma: no cover - every Linux target has a 4-byte unsigned int
        raise HalError("array('I') is not 32-bit here")
    if _LITTLE_ENDIAN:
        words.byteswap()
    return words.tobytes()


def slots_to_words(slots: bytes) -> bytes:
    """8-bit timeslots in wire order -> S32_LE words for ALSA (the inverse of :func:`words_to_slots`)."""
    return words_to_slots(slots)


_LITTLE_ENDIAN = struct.pack("=I", 1)[0] == 1


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class AlsaPcmBus(PcmBus):
    """The Pi's PCM block through ALSA: 2 x S32_LE channels at 8 kHz = 8 u-law timeslots per frame."""

    CHANNELS = 2

    def __init__(self, alsaaudio: Any, config: PcmConfig) -> None:
        if config.slots != 8:
            raise HalError(f"the Pi PCM arrangement carries 8 timeslots per frame, not {config.slots}")
        self.alsaaudio = alsaaudio
        self.config = config
        self.capture: Any = None
        self.playback: Any = None
        self._pending = bytearray()

    def _open(self, kind: Any) -> Any:
        a = self.alsaaudio
        try:
            return a.PCM(type=kind, mode=a.PCM_NONBLOCK, device=self.config.device or "default",
                         channels=self.CHANNELS, rate=8000, format=a.PCM_FORMAT_S32_LE,
                         periodsize=self.config.period_frames)
        except a.ALSAAudioError as exc:
            raise HalError(f"ALSA device {self.config.device!r}: {exc}") from exc

    def start(self) -> None:
        if self.capture is not None:
            return
        self.capture = self._open(self.alsaaudio.PCM_CAPTURE)
        self.playback = self._open(self.alsaaudio.PCM_PLAYBACK)
        # Two periods of silence so the playback side never underruns while the first capture arrives.
        self.playback.write(bytes(self.config.period_frames * 2 * 8))

    def stop(self) -> None:
        for pcm in (self.capture, self.playback):
            if pcm is not None:
                pcm.close()
        self.capture = self.playback = None

    @property
    def running(self) -> bool:
        return self.capture is not None

    async def exchange(self, tx: bytes) -> bytes:
        if self.capture is None or self.playback is None:
            raise HalError("PCM bus is not running")
        slots = self.slots_per_frame
        if len(tx) % slots:
            raise HalError(f"PCM block of {len(tx)} bytes is not whole frames of {slots} timeslots")
        self.playback.write(slots_to_words(tx))
        wanted = len(tx)
        loop = asyncio.get_running_loop()
        while len(self._pending) < wanted:
            length, data = self.capture.read()
            if length > 0:
                self._pending += words_to_slots(data)
                continue
            if length < 0 and length != -errno.EAGAIN:
                raise HalError(f"ALSA capture error {length} (overrun?)")
            ready: asyncio.Future[None] = loop.create_future()
            fds = [fd for fd, _mask in self.capture.polldescriptors()]
            for fd in fds:
                loop.add_reader(fd, _wake, ready)
            try:
                await asyncio.wait_for(ready, timeout=1.0)
            except asyncio.TimeoutError:
                raise HalError("no PCM frames for 1 s: is PCLK running?") from None
            finally:
                for fd in fds:
                    loop.remove_reader(fd)
        out = bytes(self._pending[:wanted])
        del self._pending[:wanted]
        return out


# ----------------------------------------------------------------------------------------- watchdog


class LinuxWatchdog(Watchdog):
    """``/dev/watchdog``."""

    def __init__(self, path: str, device: DeviceLayer) -> None:
        self.path = path
        self.device = device
        self.fd: int | None = None

    def start(self, timeout_s: float) -> float:
        try:
            self.fd = self.device.open(self.path, os.O_WRONLY)
        except OSError as exc:
            raise HalError(f"{self.path}: cannot open ({exc.strerror})") from exc
        arg = bytearray(struct.pack("=i", max(1, round(timeout_s))))
        self.device.ioctl(self.fd, WDIOC_SETTIMEOUT, arg)
        return float(struct.unpack("=i", arg)[0])

    def kick(self) -> None:
        if self.fd is None:
            raise HalError("watchdog not started")
        self.device.ioctl(self.fd, WDIOC_KEEPALIVE, bytearray(4))

    def stop(self) -> None:
        if self.fd is not None:
            self.device.write(self.fd, b"V")
            self.device.close(self.fd)
            self.fd = None


# ------------------------------------------------------------------------------------------ backend


class LinuxBackend(Backend):
    """Real hardware.  ``gpio`` is ``"gpiod"`` (default) or ``"rpi"``; ``device``/``importer`` are for tests."""

    name = "linux"

    def __init__(self, *, gpio: str = "gpiod", device: DeviceLayer | None = None,
                 importer: Callable[[str, str], Any] = import_library, gpio_chips: list[str] | None = None) -> None:
        if gpio not in ("gpiod", "rpi"):
            raise HalError(f"GPIO library must be gpiod or rpi, not {gpio!r}")
        self.gpio = gpio
        self.device = device or DeviceLayer()
        self.importer = importer
        self.gpio_chips = gpio_chips
        self.clock = LoopClock()
        self.lines: dict[str, GpioLine] = {}

    def open_spi(self, config: SpiConfig) -> SpiDevice:
        chip_select = None
        if config.chip_select_line:
            chip_select = self.request_line(config.chip_select_line, Direction.OUTPUT, active_low=True)
        return SpidevDevice(config, self.device, chip_select)

    def request_line(self, name: str, direction: Direction, *, edge: Edge = Edge.NONE,
                     active_low: bool = False, initial: bool = False) -> GpioLine:
        if name in self.lines:
            return self.lines[name]
        line: GpioLine
        if self.gpio == "gpiod":
            gpiod = self.importer("gpiod", "gpiod")
            line = GpiodLine(gpiod, name, direction, edge, active_low, initial, self.gpio_chips)
        else:
            rpi = self.importer("RPi.GPIO", "RPi.GPIO")
            line = RpiGpioLine(rpi, name, direction, edge, active_low, initial)
        self.lines[name] = line
        return line

    def open_pcm(self, config: PcmConfig) -> PcmBus:
        return AlsaPcmBus(self.importer("alsaaudio", "pyalsaaudio"), config)

    def open_watchdog(self, device: str = "/dev/watchdog") -> Watchdog:
        return LinuxWatchdog(device, self.device)

    def close(self) -> None:
        for line in self.lines.values():
            line.close()
        self.lines.clear()
