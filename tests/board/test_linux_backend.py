"""The Linux backend against fakes of the device layer: spidev ioctls, gpiod v2, RPi.GPIO, ALSA, /dev/watchdog."""

from __future__ import annotations

import asyncio
import ctypes
import enum
import os
import struct
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from board.backends.linux import (
    SPI_IOC_WR_BITS_PER_WORD,
    SPI_IOC_WR_MAX_SPEED_HZ,
    SPI_IOC_WR_MODE,
    SPI_TRANSFER,
    WDIOC_KEEPALIVE,
    WDIOC_SETTIMEOUT,
    DeviceLayer,
    LinuxBackend,
    import_library,
    slots_to_words,
    spi_ioc_message,
    words_to_slots,
)
from board.backends.sim import SimClock
from board.hal import Direction, Edge, EdgeEvent, HalError, PcmConfig, SpiConfig
from board.sim.si3215 import Si3215Model
from board.sim.world import Phone
from drivers.fxs_fxo.si3215 import FxsSettings, ProslicSpi, Si3215


class FakeSpidev(DeviceLayer):
    """A /dev/spidevB.C whose SPI_IOC_MESSAGE ioctls reach a chip model; records what the kernel would see."""

    def __init__(self, respond: Callable[[bytes], list[int | None]]) -> None:
        self.respond = respond
        self.settings: dict[int, bytes] = {}
        self.messages: list[list[tuple[int, int, int]]] = []  # per ioctl: (byte, speed, cs_change)
        self.message_requests: list[int] = []
        self.opened: list[tuple[str, int]] = []
        self.written: list[bytes] = []
        self.closed: list[int] = []

    def open(self, path: str, flags: int) -> int:
        if "missing" in path:
            raise FileNotFoundError(2, "No such file or directory")
        self.opened.append((path, flags))
        return 42

    def close(self, fd: int) -> None:
        self.closed.append(fd)

    def write(self, fd: int, data: bytes) -> int:
        self.written.append(data)
        return len(data)

    def ioctl(self, fd: int, request: int, arg: bytearray) -> int:
        if request in (SPI_IOC_WR_MODE, SPI_IOC_WR_BITS_PER_WORD, SPI_IOC_WR_MAX_SPEED_HZ):
            self.settings[request] = bytes(arg)
            return 0
        if request & 0xFFFF == 0x6B00:
            self.message_requests.append(request)
            transfers = [SPI_TRANSFER.unpack_from(arg, i) for i in range(0, len(arg), SPI_TRANSFER.size)]
            sent = bytes(ctypes.string_at(t[0], t[2])[0] for t in transfers)
            answer = self.respond(sent)
            record = []
            for t, out in zip(transfers, answer, strict=True):
                ctypes.memmove(t[1], bytes([0xFF if out is None else out]), 1)
                record.append((ctypes.string_at(t[0], 1)[0], t[3], t[6]))
            self.messages.append(record)
            return 0
        raise OSError(25, "Inappropriate ioctl for device")


def test_ioctl_numbers_match_spidev_h() -> None:
    assert SPI_IOC_WR_MODE == 0x40016B01
    assert SPI_IOC_WR_BITS_PER_WORD == 0x40016B03
    assert SPI_IOC_WR_MAX_SPEED_HZ == 0x40046B04
    assert spi_ioc_message(1) == 0x40206B00 and spi_ioc_message(3) == 0x40606B00
    assert SPI_TRANSFER.size == 32
    assert WDIOC_KEEPALIVE == 0x80045705 and WDIOC_SETTIMEOUT == 0xC0045706


def test_spi_register_access_is_one_ioctl_with_chip_select_released_between_bytes() -> None:
    fake = FakeSpidev(lambda data: [None] * (len(data) - 1) + [0x33])
    backend = LinuxBackend(device=fake)
    spi = backend.open_spi(SpiConfig("/dev/spidev0.1", speed_hz=10_000_000, mode=3))
    assert fake.opened == [("/dev/spidev0.1", os.O_RDWR)]
    assert fake.settings[SPI_IOC_WR_MODE] == b"\x03" and fake.settings[SPI_IOC_WR_BITS_PER_WORD] == b"\x08"
    assert struct.unpack("<I", fake.settings[SPI_IOC_WR_MAX_SPEED_HZ]) == (10_000_000,)
    assert spi.transfer(bytes([0x60, 0x02, 0xFF])) == bytes([0xFF, 0xFF, 0x33])
    assert fake.message_requests == [spi_ioc_message(3)]
    # Each byte its own transfer; cs_change on all but the last (the last would keep /CS asserted).
    assert fake.messages == [[(0x60, 10_000_000, 1), (0x02, 10_000_000, 1), (0xFF, 10_000_000, 0)]]
    spi.close()
    assert fake.closed == [42]


def test_the_si3215_driver_identifies_a_chip_through_spidev() -> None:
    clock = SimClock()
    model = Si3215Model(clock, Phone())
    model.set_pcm_clock(True)
    clock.advance(0.01)
    fake = FakeSpidev(model.spi_frame)
    spi = LinuxBackend(device=fake).open_spi(SpiConfig("/dev/spidev0.0"))
    identity = Si3215(ProslicSpi(spi), clock, FxsSettings(pcm_slot=0), port=5).identify()
    assert identity.part == "si3215"
    assert all(len(m) == 2 for m in fake.messages)  # ProSLIC framing: [addr | 0x80] [data]


def test_missing_spi_device_names_the_node() -> None:
    with pytest.raises(HalError, match="/dev/spidev9.9-missing: cannot open SPI device"):
        LinuxBackend(device=FakeSpidev(lambda d: [None] * len(d))).open_spi(SpiConfig("/dev/spidev9.9-missing"))


# ---------------------------------------------------------------------------------------------- gpiod


class _Value(enum.Enum):
    INACTIVE = 0
    ACTIVE = 1


class _LineDirection(enum.Enum):
    INPUT = 1
    OUTPUT = 2


class _LineEdge(enum.Enum):
    NONE = 0
    RISING = 1
    FALLING = 2
    BOTH = 3


class _EventType(enum.Enum):
    RISING_EDGE = 1
    FALLING_EDGE = 2


class FakeRequest:
    def __init__(self, path: str, config: dict[int, dict[str, Any]]) -> None:
        self.path = path
        self.config = config
        self.values: dict[int, _Value] = {
            offset: settings.get("output_value", _Value.INACTIVE) for offset, settings in config.items()}
        self.read_fd, self.write_fd = os.pipe()
        self.fd = self.read_fd
        self.pending: list[SimpleNamespace] = []
        self.released = False

    def set_value(self, offset: int, value: _Value) -> None:
        self.values[offset] = value

    def get_value(self, offset: int) -> _Value:
        return self.values[offset]

    def push(self, rising: bool, timestamp_ns: int, seqno: int) -> None:
        self.pending.append(SimpleNamespace(event_type=_EventType.RISING_EDGE if rising else _EventType.FALLING_EDGE,
                                            timestamp_ns=timestamp_ns, line_seqno=seqno))
        os.write(self.write_fd, b"x")

    def read_edge_events(self) -> list[SimpleNamespace]:
        os.read(self.read_fd, 64)
        events, self.pending = self.pending, []
        return events

    def release(self) -> None:
        self.released = True
        os.close(self.read_fd)
        os.close(self.write_fd)


def fake_gpiod(lines: dict[str, dict[str, int]]) -> SimpleNamespace:
    requests: list[FakeRequest] = []

    class Chip:
        def __init__(self, path: str) -> None:
            self.path = path

        def __enter__(self) -> Chip:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def line_offset_from_id(self, name: str) -> int:
            try:
                return lines[self.path][name]
            except KeyError:
                raise OSError(2, "line not found") from None

    def request_lines(path: str, consumer: str, config: dict[int, dict[str, Any]]) -> FakeRequest:
        request = FakeRequest(path, config)
        requests.append(request)
        return request

    return SimpleNamespace(Chip=Chip, LineSettings=lambda **kw: kw, request_lines=request_lines, requests=requests,
                           line=SimpleNamespace(Value=_Value, Direction=_LineDirection, Edge=_LineEdge),
                           EdgeEvent=SimpleNamespace(Type=_EventType))


def importer_for(**modules: Any) -> Callable[[str, str], Any]:
    def importer(name: str, package: str) -> Any:
        return modules[name.replace(".", "_")]
    return importer


async def test_gpiod_lines_by_name_with_edge_events_through_the_loop() -> None:
    gpiod = fake_gpiod({"/dev/gpiochip0": {"GPIO17": 17}, "/dev/gpiochip1": {"INT0": 3}})
    backend = LinuxBackend(importer=importer_for(gpiod=gpiod), gpio_chips=["/dev/gpiochip0", "/dev/gpiochip1"])
    reset = backend.request_line("GPIO17", Direction.OUTPUT, active_low=True, initial=True)
    request = gpiod.requests[0]
    assert request.path == "/dev/gpiochip0"
    assert request.config == {17: {"active_low": True, "direction": _LineDirection.OUTPUT,
                                   "output_value": _Value.ACTIVE}}
    reset.set(False)
    assert request.values[17] is _Value.INACTIVE and not reset.get()
    interrupt = backend.request_line("INT0", Direction.INPUT, edge=Edge.FALLING)
    events: list[EdgeEvent] = []
    interrupt.on_edge(events.append)
    gpiod.requests[1].push(False, 12_345_000_000, 7)
    for _ in range(20):
        await asyncio.sleep(0.001)
        if events:
            break
    assert events == [EdgeEvent(line="INT0", rising=False, timestamp=12.345, seqno=7)]
    assert gpiod.requests[1].config[3]["edge_detection"] is _LineEdge.FALLING
    backend.close()
    assert gpiod.requests[1].released


def test_gpiod_unknown_line_is_an_error() -> None:
    backend = LinuxBackend(importer=importer_for(gpiod=fake_gpiod({"/dev/gpiochip0": {}})),
                           gpio_chips=["/dev/gpiochip0"])
    with pytest.raises(HalError, match="GPIO line 'GPIO99' not found"):
        backend.request_line("GPIO99", Direction.INPUT)


async def test_gpio_chip_select_toggled_around_every_byte() -> None:
    gpiod = fake_gpiod({"/dev/gpiochip0": {"GPIO16": 16}})
    toggles: list[str] = []
    fake = FakeSpidev(lambda data: [0x55] * len(data))
    backend = LinuxBackend(device=fake, importer=importer_for(gpiod=gpiod), gpio_chips=["/dev/gpiochip0"])
    spi = backend.open_spi(SpiConfig("/dev/spidev0.0", chip_select_line="GPIO16"))
    request = gpiod.requests[0]
    original = request.set_value

    def spy(offset: int, value: _Value) -> None:
        toggles.append(value.name)
        original(offset, value)
    request.set_value = spy
    assert spi.transfer(bytes([0x01, 0x82, 0xFF])) == bytes([0x55] * 3)
    assert toggles == ["ACTIVE", "INACTIVE"] * 3
    assert len(fake.messages) == 3 and fake.settings[SPI_IOC_WR_MODE] == bytes([0x03 | 0x40])  # SPI_NO_CS
    assert request.config[16]["active_low"] is True


# -------------------------------------------------------------------------------------------- RPi.GPIO


class FakeRpiGpio:
    BCM, OUT, IN, BOTH, RISING, FALLING = "BCM", "OUT", "IN", "BOTH", "RISING", "FALLING"

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.levels: dict[int, int] = {}
        self.callbacks: dict[int, Callable[[int], None]] = {}

    def setmode(self, mode: str) -> None:
        self.calls.append(("setmode", mode))

    def setup(self, pin: int, direction: str, initial: int | None = None) -> None:
        self.calls.append(("setup", pin, direction, initial))
        if initial is not None:
            self.levels[pin] = initial

    def output(self, pin: int, level: int) -> None:
        self.levels[pin] = level

    def input(self, pin: int) -> int:
        return self.levels.get(pin, 0)

    def add_event_detect(self, pin: int, edge: str, callback: Callable[[int], None]) -> None:
        self.calls.append(("add_event_detect", pin, edge))
        self.callbacks[pin] = callback

    def remove_event_detect(self, pin: int) -> None:
        self.callbacks.pop(pin, None)

    def cleanup(self, pin: int) -> None:
        self.calls.append(("cleanup", pin))


async def test_rpi_gpio_legacy_backend_with_thread_callbacks() -> None:
    rpi = FakeRpiGpio()
    backend = LinuxBackend(gpio="rpi", importer=importer_for(RPi_GPIO=rpi))
    reset = backend.request_line("GPIO17", Direction.OUTPUT, active_low=True, initial=False)
    assert ("setup", 17, "OUT", 1) in rpi.calls  # inactive on an active-low line is a high level
    reset.set(True)
    assert rpi.levels[17] == 0
    hook = backend.request_line("GPIO22", Direction.INPUT, edge=Edge.RISING, active_low=True)
    events: list[EdgeEvent] = []
    hook.on_edge(events.append)
    assert ("add_event_detect", 22, "FALLING") in rpi.calls  # logical rising = physical falling
    rpi.levels[22] = 0
    thread = threading.Thread(target=rpi.callbacks[22], args=(22,))
    thread.start()
    thread.join()
    for _ in range(20):
        await asyncio.sleep(0.001)
        if events:
            break
    assert len(events) == 1 and events[0].rising and events[0].line == "GPIO22"
    with pytest.raises(HalError, match="BCM line names"):
        backend.request_line("SPI_RESET", Direction.OUTPUT)
    backend.close()
    assert ("cleanup", 17) in rpi.calls


# ------------------------------------------------------------------------------------------------ ALSA


class FakeAlsa:
    PCM_CAPTURE, PCM_PLAYBACK, PCM_NONBLOCK, PCM_FORMAT_S32_LE = "capture", "playback", "nonblock", "S32_LE"

    class ALSAAudioError(Exception):
        pass

    def __init__(self) -> None:
        self.opened: list[dict[str, Any]] = []
        self.capture_chunks: list[bytes] = []
        self.played: list[bytes] = []
        self.read_fd, self.write_fd = os.pipe()

    def PCM(self, **kwargs: Any) -> Any:  # noqa: N802 - the library's name
        self.opened.append(kwargs)
        alsa = self

        class Stream:
            def read(self) -> tuple[int, bytes]:
                if not alsa.capture_chunks:
                    return -11, b""  # -EAGAIN
                chunk = alsa.capture_chunks.pop(0)
                return len(chunk) // 8, chunk

            def write(self, data: bytes) -> int:
                alsa.played.append(data)
                return len(data) // 8

            def polldescriptors(self) -> list[tuple[int, int]]:
                return [(alsa.read_fd, 1)]

            def close(self) -> None:
                return None

        return Stream()


async def test_alsa_pcm_maps_the_two_32_bit_channels_to_8_timeslots() -> None:
    alsa = FakeAlsa()
    backend = LinuxBackend(importer=importer_for(alsaaudio=alsa))
    pcm = backend.open_pcm(PcmConfig(clock_hz=2_048_000, slots=8, device="hw:0", period_frames=80))
    pcm.start()
    assert pcm.running
    assert alsa.opened[0] == {"type": "capture", "mode": "nonblock", "device": "hw:0", "channels": 2,
                              "rate": 8000, "format": "S32_LE", "periodsize": 80}
    assert alsa.played == [bytes(80 * 2 * 8)]  # two periods of silence primed
    # One frame on the wire: timeslots 0..7 carry 0x10..0x17; the MSB of each 32-bit word goes first.
    alsa.capture_chunks.append(struct.pack("<II", 0x10111213, 0x14151617))
    received = await pcm.exchange(bytes(range(0x20, 0x28)))
    assert received == bytes(range(0x10, 0x18))
    assert alsa.played[-1] == struct.pack("<II", 0x20212223, 0x24252627)


async def test_alsa_exchange_waits_for_capture_readiness() -> None:
    alsa = FakeAlsa()
    pcm = LinuxBackend(importer=importer_for(alsaaudio=alsa)).open_pcm(PcmConfig(slots=8, device="hw:0"))
    pcm.start()

    async def later() -> None:
        await asyncio.sleep(0.01)
        alsa.capture_chunks.append(slots_to_words(bytes(range(16))))
        os.write(alsa.write_fd, b"x")
    task = asyncio.create_task(later())
    assert await pcm.exchange(bytes(16)) == bytes(range(16))
    await task


def test_alsa_needs_the_8_slot_arrangement() -> None:
    with pytest.raises(HalError, match="8 timeslots"):
        LinuxBackend(importer=importer_for(alsaaudio=FakeAlsa())).open_pcm(PcmConfig(slots=32))


def test_word_and_slot_orders_are_inverse() -> None:
    raw = bytes(range(64))
    assert slots_to_words(words_to_slots(raw)) == raw
    assert words_to_slots(struct.pack("<I", 0xAABBCCDD)) == bytes([0xAA, 0xBB, 0xCC, 0xDD])


# -------------------------------------------------------------------------------------------- watchdog


def test_watchdog_sets_the_timeout_kicks_and_closes_magically() -> None:
    class FakeWatchdog(FakeSpidev):
        def ioctl(self, fd: int, request: int, arg: bytearray) -> int:
            self.settings[request] = bytes(arg)
            if request == WDIOC_SETTIMEOUT:
                arg[:] = struct.pack("=i", 15)  # the driver rounds to what the hardware supports
            return 0

    fake = FakeWatchdog(lambda d: [])
    watchdog = LinuxBackend(device=fake).open_watchdog()
    assert watchdog.start(10) == 15.0
    assert fake.opened == [("/dev/watchdog", os.O_WRONLY)]
    assert struct.unpack("=i", fake.settings[WDIOC_SETTIMEOUT]) == (10,)
    watchdog.kick()
    assert WDIOC_KEEPALIVE in fake.settings
    watchdog.stop()
    assert fake.written == [b"V"] and fake.closed == [42]


def test_a_missing_library_names_the_package_to_install() -> None:
    with pytest.raises(HalError, match="pip install pyalsaaudio"):
        import_library("centralita_no_such_module", "pyalsaaudio")
    with pytest.raises(HalError, match="GPIO library must be gpiod or rpi"):
        LinuxBackend(gpio="sysfs")
