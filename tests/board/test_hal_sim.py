"""The HAL's helpers and registry, and the simulated backend's SPI bus, GPIO, PCM highway and watchdog."""

from __future__ import annotations

import asyncio
import time

import pytest

from board.backends.sim import SimBackend, SimClock
from board.hal import (
    Direction,
    Edge,
    EdgeEvent,
    HalError,
    PcmConfig,
    SpiConfig,
    available_backends,
    merge_slots,
    open_backend,
    register_backend,
    split_slots,
)
from board.sim.si3050 import Si3050Model
from board.sim.si3215 import Si3215Model
from board.sim.world import CentralOfficeLine, Phone


def test_split_and_merge_slots_are_inverse() -> None:
    block = bytes(range(24))  # 3 frames of 8 timeslots
    per_slot = split_slots(block, 8)
    assert per_slot[0] == bytes([0, 8, 16]) and per_slot[7] == bytes([7, 15, 23])
    assert merge_slots(per_slot) == block
    assert merge_slots([b"\x01\x02", b"\x03"], fill=0xD5) == bytes([1, 3, 2, 0xD5])


def test_registry_opens_backends_lazily_and_names_unknown_ones() -> None:
    assert {"linux", "sim"} <= set(available_backends())
    assert open_backend("sim").name == "sim"
    with pytest.raises(HalError, match="no HAL backend 'spi-over-usb'.*available: .*linux.*sim"):
        open_backend("spi-over-usb")
    register_backend("test-sim", SimBackend)
    assert isinstance(open_backend("test-sim", idle_level=0x00), SimBackend)


@pytest.mark.parametrize("idle", [0xFF, 0x00])
def test_an_empty_chip_select_reads_the_idle_level(idle: int) -> None:
    backend = SimBackend(idle_level=idle)
    spi = backend.open_spi(SpiConfig("nothing"))
    assert spi.transfer(bytes([0x80, 0xFF])) == bytes([idle, idle])


def test_spi_time_advances_with_the_bits_clocked() -> None:
    backend = SimBackend()
    spi = backend.open_spi(SpiConfig("cs", speed_hz=1_000_000))
    spi.transfer(bytes(3))
    assert backend.clock.now() == pytest.approx(24e-6 + 20e-6)


def test_two_chips_driving_the_same_byte_is_contention() -> None:
    backend = SimBackend()
    pcm = backend.open_pcm(PcmConfig())
    for _ in range(2):
        backend.attach_chip("cs", Si3050Model(backend.clock, CentralOfficeLine()))  # both chip ID 0
    pcm.start()
    backend.clock.advance(0.01)
    assert backend.open_spi(SpiConfig("cs")).transfer(bytes([0x60, 2, 0xFF]))[2] == 0x03
    assert backend.violations == ["cs: 2 chips drove MISO in byte 2 of 6002ff"]


async def test_gpio_edges_reach_the_callback_on_the_loop_with_timestamps() -> None:
    backend = SimBackend()
    line = backend.request_line("INT", Direction.INPUT, edge=Edge.FALLING)
    events: list[EdgeEvent] = []
    line.on_edge(events.append)
    backend.clock.advance(1.5)
    backend.lines["INT"].drive(True)
    backend.lines["INT"].drive(False)
    await asyncio.sleep(0)
    assert events == [EdgeEvent(line="INT", rising=False, timestamp=1.5, seqno=1)]
    out = backend.request_line("LED", Direction.OUTPUT, initial=True)
    assert out.get()
    with pytest.raises(HalError):
        line.set(True)


def test_watchdog_fires_without_kicks() -> None:
    backend = SimBackend()
    watchdog = backend.open_watchdog()
    assert watchdog.start(14.6) == 15.0
    backend.clock.advance(10)
    watchdog.kick()
    backend.clock.advance(10)
    assert not backend.watchdog.expired  # type: ignore[union-attr]
    backend.clock.advance(6)
    assert backend.watchdog.expired  # type: ignore[union-attr]
    watchdog.stop()
    assert not backend.watchdog.expired  # type: ignore[union-attr]


async def test_pcm_exchange_moves_whole_frames_and_rejects_partial_ones() -> None:
    backend = SimBackend()
    pcm = backend.open_pcm(PcmConfig(slots=32))
    with pytest.raises(HalError, match="not running"):
        await pcm.exchange(bytes(32))
    pcm.start()
    rx = await pcm.exchange(bytes(32 * 80))
    assert rx == bytes([0xFF]) * (32 * 80)  # nobody drives the highway
    assert backend.clock.now() == pytest.approx(0.010)
    with pytest.raises(HalError, match="whole frames"):
        await pcm.exchange(bytes(33))


async def test_real_time_pcm_is_paced_at_8_khz() -> None:
    backend = SimBackend(virtual_time=False)
    pcm = backend.open_pcm(PcmConfig(slots=8))
    pcm.start()
    start = time.monotonic()
    for _ in range(5):
        await pcm.exchange(bytes(8 * 80))  # 10 ms each
    assert 0.045 <= time.monotonic() - start < 0.2


async def test_virtual_clock_sleep_advances_time() -> None:
    clock = SimClock()
    await clock.sleep(2.5)
    assert clock.now() == 2.5
    real = SimClock(virtual=False)
    before = real.now()
    real.advance(100)
    assert real.now() - before < 1


def test_reset_line_holds_chips_in_reset() -> None:
    backend = SimBackend()
    model = Si3215Model(backend.clock, Phone())
    backend.attach_chip("cs", model)
    pcm = backend.open_pcm(PcmConfig())
    pcm.start()
    backend.clock.advance(0.01)
    spi = backend.open_spi(SpiConfig("cs"))
    spi.transfer(bytes([72, 0x10]))
    assert spi.transfer(bytes([0x80 | 72, 0xFF]))[1] == 0x10
    line = backend.wire_reset("RESET")
    line.set(True)
    assert spi.transfer(bytes([0x80 | 72, 0xFF]))[1] == 0xFF  # in reset: nobody answers
    line.set(False)
    assert spi.transfer(bytes([0x80 | 72, 0xFF]))[1] == 0x20  # back to the reset value
