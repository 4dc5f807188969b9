"""The Si3215 FXS driver against the register-level ProSLIC model: bring-up, every failure path, hook, ringing, PCM."""

from __future__ import annotations

import math
from array import array
from pathlib import Path

import pytest

from board.backends.sim import SimBackend
from board.hal import PcmConfig, SpiConfig
from board.sim.si3215 import Si3215Model
from board.sim.world import Phone
from drivers.fxs_fxo.registers import Linefeed, PcmLaw, ProslicIndirect, si3215_indirect
from drivers.fxs_fxo.si3215 import (
    CalibrationTimeoutError,
    ConverterError,
    FileCalibrationStore,
    FxsSettings,
    HookChanged,
    IndirectAccessError,
    MemoryCalibrationStore,
    NoChipError,
    NoPcmClockError,
    PowerAlarm,
    PowerAlarmError,
    PowerLeakError,
    ProslicSpi,
    RingTrip,
    Si3215,
    WrongIdentityError,
    ring_oscillator,
)


class Rig:
    """One simulated FXS port: backend, model, phone, driver."""

    def __init__(self, *, part: str = "si3215", idle: int = 0xFF, start_pcm: bool = True, chip: bool = True,
                 settings: FxsSettings | None = None, store: MemoryCalibrationStore | None = None,
                 **model_options: object) -> None:
        self.backend = SimBackend(idle_level=idle)
        self.phone = Phone()
        self.model = Si3215Model(self.backend.clock, self.phone, part=part, **model_options)  # type: ignore[arg-type]
        if chip:
            self.backend.attach_chip("cs0", self.model)
        self.pcm = self.backend.open_pcm(PcmConfig(slots=32))
        if start_pcm:
            self.pcm.start()
        self.spi = self.backend.open_spi(SpiConfig("cs0"))
        self.driver = Si3215(ProslicSpi(self.spi), self.backend.clock, settings or FxsSettings(pcm_slot=3),
                             port=1, pcm=self.pcm, store=store)

    @property
    def now(self) -> float:
        return self.backend.clock.now()

    async def run_for(self, seconds: float, step: float = 0.008) -> list[object]:
        events: list[object] = []
        end = self.now + seconds
        while self.now < end:
            await self.backend.clock.sleep(step)
            events.extend(self.driver.poll())
        return events


async def test_bring_up_powers_the_line_and_takes_as_long_as_the_chip_needs() -> None:
    rig = Rig()
    start = rig.now
    await rig.driver.bring_up()
    elapsed = rig.now - start
    assert rig.driver.identity is not None and rig.driver.identity.part == "si3215"
    assert rig.driver.battery_voltage() >= 0xC0 * 0.376
    # Converter ramp + 0.5 s leak test + ramp + 0.35 s calibration: DAHDI's 1-3 s per chip.
    assert 0.9 < elapsed < 3.0
    feed = rig.phone.feed()
    assert feed.linefeed == Linefeed.FORWARD_ACTIVE and feed.dc_voltage == pytest.approx(-48.0)
    assert rig.backend.violations == []


async def test_off_hook_is_reported_once_debounced_with_loop_current() -> None:
    rig = Rig()
    await rig.driver.bring_up()
    rig.phone.lift()
    lifted = rig.now
    events = await rig.run_for(0.1)
    assert [(type(e), e.off_hook) for e in events if isinstance(e, HookChanged)] == [(HookChanged, True)]
    assert len(events) == 1 and abs(events[0].at - lifted) < 0.01  # type: ignore[attr-defined]
    assert rig.driver.loop_current_ma() == pytest.approx(20.0, abs=1.2)  # ILIM 20 mA (DR71 = 0)
    rig.phone.hang_up()
    events = await rig.run_for(0.1)
    assert [e.off_hook for e in events if isinstance(e, HookChanged)] == [False]


async def test_a_glitch_shorter_than_the_debounce_is_not_a_hook_change() -> None:
    rig = Rig(settings=FxsSettings(pcm_slot=0, hook_debounce_s=0.030))
    await rig.driver.bring_up()
    rig.phone.lift()
    await rig.backend.clock.sleep(0.008)
    assert rig.driver.poll() == []
    rig.phone.hang_up()
    assert await rig.run_for(0.1) == []


async def test_pulse_dialling_breaks_are_timed_from_their_edges() -> None:
    """A rotary '3' at 10 pps: three 60 ms breaks with 40 ms makes; each break is reported with its timing."""
    rig = Rig(settings=FxsSettings(pcm_slot=0, hook_debounce_s=0.016))
    await rig.driver.bring_up()
    rig.phone.lift()
    await rig.run_for(0.2, step=0.004)
    edges: list[HookChanged] = []
    for _ in range(3):
        rig.phone.hang_up()
        edges += [e for e in await rig.run_for(0.060, step=0.004) if isinstance(e, HookChanged)]
        rig.phone.lift()
        edges += [e for e in await rig.run_for(0.040, step=0.004) if isinstance(e, HookChanged)]
    edges += [e for e in await rig.run_for(0.1, step=0.004) if isinstance(e, HookChanged)]
    assert [e.off_hook for e in edges] == [False, True] * 3
    breaks = [up.at - down.at for down, up in zip(edges[::2], edges[1::2], strict=True)]
    assert all(abs(b - 0.060) < 0.009 for b in breaks), breaks


async def test_ringing_follows_the_ring_generator_settings_and_ring_trip_answers() -> None:
    rig = Rig(settings=FxsSettings(pcm_slot=0, ring_frequency_hz=25.0, ring_vpk=66.0))
    await rig.driver.bring_up()
    rig.driver.ring_on()
    feed = rig.phone.feed()
    assert feed.ringing and feed.ring_frequency_hz == pytest.approx(25.0, abs=0.3)
    assert feed.ring_vrms * math.sqrt(2) == pytest.approx(66.0, rel=0.03)
    rig.phone.lift()
    events = await rig.run_for(0.03)
    assert any(isinstance(e, RingTrip) for e in events)
    assert [e.off_hook for e in events if isinstance(e, HookChanged)] == [True]
    assert rig.driver.actual_linefeed() is Linefeed.FORWARD_ACTIVE
    assert not rig.phone.feed().ringing


async def test_ring_off_goes_to_on_hook_transmission_for_caller_id() -> None:
    rig = Rig()
    await rig.driver.bring_up()
    rig.driver.ring_on()
    rig.driver.ring_off()
    assert rig.driver.actual_linefeed() is Linefeed.FORWARD_OHT
    rig.driver.set_polarity(True)
    assert rig.driver.actual_linefeed() is Linefeed.REVERSE_OHT and rig.phone.feed().reversed


@pytest.mark.parametrize(("frequency", "vpk", "rco", "rngx"), [
    (25.0, 66.0, 0x7E6D, 0x1B9),  # DAHDI fastringer (reg20 0x7e6d, RNGX 0x1b9 ~ 66 Vpk)
    (25.0, 87.0, 0x7E6D, 0x247),  # DAHDI fastringer + boostringer
    (25.0, 49.0, 0x7E6D, 0x14B),  # DAHDI fastringer + lowpower
    (20.0, 64.0, 0x7EFD, 0x158),  # ProSLIC API 20 Hz preset (DAHDI's 0x7EF0 is ~20.5 Hz)
])
def test_ring_oscillator_reproduces_dahdi_values(frequency: float, vpk: float, rco: int, rngx: int) -> None:
    got_rco, got_rngx = ring_oscillator(frequency, vpk)
    assert abs(got_rco - rco) <= 1
    assert got_rngx == pytest.approx(rngx, rel=0.02)


async def test_calibration_is_saved_and_a_restart_skips_it(tmp_path: Path) -> None:
    store = FileCalibrationStore(tmp_path / "cal.json")
    first = Rig(store=store)  # type: ignore[arg-type]
    await first.driver.bring_up()
    assert not first.driver.calibrated_from_store
    second = Rig(store=store)  # type: ignore[arg-type]
    start = second.now
    await second.driver.bring_up()
    assert second.driver.calibrated_from_store
    assert second.model.calibrated and second.backend.violations == []
    assert second.now - start < (first.now - 0.3)  # no 350 ms calibration this time


async def test_corrupt_calibration_file_means_calibrating_again(tmp_path: Path) -> None:
    path = tmp_path / "cal.json"
    path.write_text("{not json")
    rig = Rig(store=FileCalibrationStore(path))  # type: ignore[arg-type]
    await rig.driver.bring_up()
    assert not rig.driver.calibrated_from_store and rig.model.calibrated


async def test_pcm_audio_reaches_the_phone_and_comes_back_on_the_configured_slot() -> None:
    rig = Rig(settings=FxsSettings(pcm_slot=5))
    await rig.driver.bring_up()
    rig.phone.lift()
    tone = array("h", (round(8000 * math.sin(2 * math.pi * 1000 * n / 8000)) for n in range(160)))
    rig.phone.audio.speak(tone)
    from cython_media.g711 import lin2ulaw, ulaw2lin
    host = bytearray([0xFF]) * (160 * 32)
    host[5::32] = lin2ulaw(tone.tobytes())
    received = await rig.pcm.exchange(bytes(host))
    heard = rig.phone.audio.take_heard()
    assert max(heard) == pytest.approx(8000, rel=0.05)
    back = array("h")
    back.frombytes(ulaw2lin(received[5::32]))
    assert max(back) == pytest.approx(8000, rel=0.05)
    assert set(received[4::32]) == {0xFF}  # neighbouring slot untouched


async def test_gains_change_the_level_heard() -> None:
    rig = Rig(settings=FxsSettings(pcm_slot=0, to_line_gain_db=-6.0))
    await rig.driver.bring_up()
    from cython_media.g711 import lin2ulaw
    tone = array("h", (round(10000 * math.sin(2 * math.pi * 500 * n / 8000)) for n in range(160)))
    host = bytearray([0xFF]) * (160 * 32)
    host[0::32] = lin2ulaw(tone.tobytes())
    await rig.pcm.exchange(bytes(host))
    assert max(rig.phone.audio.take_heard()) == pytest.approx(5000, rel=0.05)


async def test_si3210_uses_its_own_indirect_numbering() -> None:
    rig = Rig(part="si3210")
    await rig.driver.bring_up()
    assert rig.driver.identity is not None and rig.driver.identity.part == "si3210"
    assert rig.model.ir[20] == ring_oscillator(20.0, 64.0)[0]  # RING_OSC at IR20 on the Si3210
    assert rig.backend.violations == []


async def test_si3215_indirect_registers_sit_where_the_translation_says() -> None:
    rig = Rig()
    await rig.driver.bring_up()
    assert si3215_indirect(ProslicIndirect.RING_OSC) == 7
    assert rig.model.ir[7] == ring_oscillator(20.0, 64.0)[0]
    assert rig.model.ir[20] == 0x2600  # IR20 on the Si3215 is PWR_ALARM_Q3Q4 (Si3210 IR33)


async def test_reading_an_indirect_register_too_early_returns_stale_data() -> None:
    """The model is strict: a driver that skipped the DR31 poll would read the previous contents."""
    rig = Rig()
    await rig.driver.bring_up()
    access = rig.driver.access
    rig.model.ir_busy_s = 1e-3
    access.write(30, 7)  # start reading RING_OSC without waiting
    stale = access.read(28) | access.read(29) << 8
    assert stale != rig.model.ir[7]
    assert rig.driver.read_indirect(ProslicIndirect.RING_OSC) == rig.model.ir[7]


# ------------------------------------------------------------------------------------------- failures


async def test_no_chip_on_a_pulled_up_bus() -> None:
    rig = Rig(chip=False)
    with pytest.raises(NoChipError) as info:
        await rig.driver.bring_up()
    assert info.value.port == 1 and info.value.read["DR8"] == 0xFF
    assert "0xff" in str(info.value)


async def test_no_chip_on_a_bus_that_idles_low() -> None:
    rig = Rig(chip=False, idle=0x00)
    with pytest.raises(NoChipError) as info:
        await rig.driver.bring_up()
    assert info.value.read["DR11"] == 0x00


@pytest.mark.parametrize(("override", "register", "why"), [
    ({11: 0x55}, "DR11", "not a ProSLIC after reset"),
    ({8: 0x00}, "DR8", "not a ProSLIC after reset"),
    ({0: 0x01}, "DR0", "revision 1 is unsupported"),
    ({0: 0x15}, "DR0", "Si3211/3212"),
    ({64: 0x11}, "DR64", "not fresh from reset"),
    ({6: 0x20}, "DR6", "unknown Si3215-family sub-part"),
])
async def test_wrong_identity(override: dict[int, int], register: str, why: str) -> None:
    rig = Rig()
    rig.model.identity = override
    with pytest.raises(WrongIdentityError, match=why) as info:
        await rig.driver.bring_up()
    assert info.value.read[register] == next(iter(override.values())) and info.value.port == 1


async def test_no_pcm_clock_known_from_the_bus() -> None:
    rig = Rig(start_pcm=False)
    with pytest.raises(NoPcmClockError):
        await rig.driver.bring_up()


async def test_no_pcm_clock_seen_as_registers_reading_zero() -> None:
    rig = Rig(start_pcm=False)
    rig.driver.pcm = None  # the driver cannot ask the bus: it sees what the chip answers
    with pytest.raises(NoPcmClockError) as info:
        await rig.driver.bring_up()
    assert set(info.value.read.values()) == {0}


async def test_converter_without_supply_never_reaches_voltage() -> None:
    rig = Rig()
    rig.model.supply_present = False
    with pytest.raises(ConverterError) as info:
        await rig.driver.bring_up()
    assert info.value.read["DR82"] < 0xC0
    assert rig.model.dr[14] & 0x10  # converter switched off again


async def test_converter_that_saturates_below_the_threshold() -> None:
    rig = Rig()
    rig.model.converter_limit_v = 60.0
    with pytest.raises(ConverterError) as info:
        await rig.driver.bring_up()
    assert info.value.read["DR82"] == pytest.approx(60.0 / 0.376, abs=2)


async def test_power_leak_is_caught_with_the_converter_off() -> None:
    rig = Rig()
    rig.model.leak = True
    with pytest.raises(PowerLeakError):
        await rig.driver.bring_up()


async def test_calibration_timeout() -> None:
    rig = Rig()
    rig.model.calibration_stuck = True
    start = rig.now
    with pytest.raises(CalibrationTimeoutError) as info:
        await rig.driver.bring_up()
    assert info.value.read["DR96"] == 0x5F
    assert rig.now - start >= 2.0


async def test_indirect_access_that_never_completes() -> None:
    rig = Rig(ir_busy_s=10.0)
    with pytest.raises(IndirectAccessError) as info:
        await rig.driver.bring_up()
    assert info.value.read["DR31"] != 0


async def test_power_alarm_when_ringing_more_ren_than_the_port_drives() -> None:
    rig = Rig()
    await rig.driver.bring_up()
    rig.phone.ren = 10.0
    with pytest.raises(PowerAlarmError) as info:
        rig.driver.ring_on()
    assert info.value.read["DR19"] & 0xFC and info.value.read["DR64"] == 0
    assert not rig.phone.feed().ringing


async def test_ringing_with_the_converter_down_raises_a_power_alarm() -> None:
    rig = Rig()
    await rig.driver.bring_up()
    rig.model.write(14, 0x10)  # converter off behind the driver's back
    await rig.backend.clock.sleep(20.0)
    with pytest.raises(PowerAlarmError):
        rig.driver.ring_on()


async def test_repeated_power_alarms_while_ringing_disable_the_port() -> None:
    rig = Rig()
    await rig.driver.bring_up()
    rig.driver.ring_on()
    rig.model.max_ren = 0.5  # the ringer load grows beyond what the port drives (a faulty phone)
    alarms: list[PowerAlarm] = []
    with pytest.raises(PowerAlarmError) as info:
        for _ in range(400):
            await rig.backend.clock.sleep(0.01)
            alarms += [e for e in rig.driver.poll() if isinstance(e, PowerAlarm)]
    assert len(alarms) == 10 and [a.count for a in alarms] == list(range(1, 11))
    gaps = [b.at - a.at for a, b in zip(alarms, alarms[1:], strict=False)]
    assert all(0.25 <= g < 0.3 for g in gaps)  # the linefeed is re-written on DAHDI's 250 ms recheck
    assert rig.driver.disabled and "port disabled" in str(info.value)
    assert rig.driver.poll() == []


async def test_pcm_slot_written_while_enabled_is_reported_by_the_model() -> None:
    rig = Rig()
    await rig.driver.bring_up()
    rig.driver.write(2, 0x40)  # what a careless driver would do: move the slot with PCM on
    assert any("changed while PCM is enabled" in v for v in rig.model.violations)
    rig.model.violations.clear()
    rig.driver.configure_pcm(8, PcmLaw.ALAW)  # the driver's way: disable, move, enable
    assert rig.model.violations == []
    assert rig.model.dr[1] == 0xA0 and rig.model.dr[4] == 64
