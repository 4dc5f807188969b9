"""The Si3050 FXO driver against the register-level DAA model: bring-up, country registers, supervision."""

from __future__ import annotations

import math
from array import array

import pytest

from board.backends.sim import SimBackend
from board.hal import PcmConfig, SpiConfig
from board.sim.si3050 import Si3050Model
from board.sim.world import CentralOfficeLine
from cython_media.g711 import lin2ulaw, ulaw2lin
from drivers.fxs_fxo.daa_countries import ISO_CODES, OPERMODES, daa_country
from drivers.fxs_fxo.si3050 import (
    BatteryLost,
    BatteryRestored,
    DaaIdentityError,
    DaaNoChipError,
    DaaNoPcmClockError,
    DaaSpi,
    FxoSettings,
    IsoLinkError,
    PolarityReversed,
    RingStarted,
    RingStopped,
    Si3050,
    gain_registers,
)


class Rig:
    """One simulated FXO port."""

    def __init__(self, *, country: str = "US", chip: bool = True, idle: int = 0xFF, start_pcm: bool = True,
                 pcm_slot: int = 2, **settings: object) -> None:
        self.backend = SimBackend(idle_level=idle)
        self.line = CentralOfficeLine()
        self.model = Si3050Model(self.backend.clock, self.line)
        if chip:
            self.backend.attach_chip("cs0", self.model)
        self.pcm = self.backend.open_pcm(PcmConfig(slots=32))
        if start_pcm:
            self.pcm.start()
        self.driver = Si3050(DaaSpi(self.backend.open_spi(SpiConfig("cs0"))), self.backend.clock,
                             FxoSettings(pcm_slot=pcm_slot, country=country, **settings),  # type: ignore[arg-type]
                             port=3, pcm=self.pcm)

    @property
    def now(self) -> float:
        return self.backend.clock.now()

    async def run_for(self, seconds: float, step: float = 0.016) -> list[object]:
        events: list[object] = []
        end = self.now + seconds
        while self.now < end:
            await self.backend.clock.sleep(step)
            events.extend(self.driver.poll())
        return events


async def test_bring_up_reaches_the_line_side_and_monitors_on_hook() -> None:
    rig = Rig()
    await rig.driver.bring_up()
    assert rig.driver.line_side_id == 0x3
    assert rig.driver.line_voltage() == 48
    assert rig.model.reg[5] == 0x08 and rig.model.reg[33] == 0x28
    assert rig.model.reg[34] == rig.model.reg[36] == 16
    assert rig.backend.violations == []


# hardware.md §2.5: the register values DAHDI's wctdm_init_voicedaa writes, per country.
@pytest.mark.parametrize(("code", "reg16", "reg26", "reg30", "reg31"), [
    ("US", 0x00, 0xC0, 0x00, 0xA3), ("GB", 0x00, 0xC2, 0x05, 0xAB), ("DE", 0x00, 0xC2, 0x03, 0xAB),
    ("FR", 0x00, 0xC2, 0x02, 0xAB), ("ES", 0x00, 0xC2, 0x02, 0xAB), ("IT", 0x00, 0xC2, 0x02, 0xAB),
    ("NL", 0x00, 0xC2, 0x02, 0xAB), ("AR", 0x00, 0xC0, 0x00, 0xA3), ("BR", 0x00, 0x30, 0x00, 0xA3),
    ("MX", 0x00, 0xC0, 0x00, 0xA3), ("AU", 0x40, 0x30, 0x03, 0xA3), ("JP", 0x00, 0x30, 0x00, 0xA3),
    ("CN", 0x00, 0x30, 0x0F, 0xA3), ("IN", 0x00, 0xC0, 0x04, 0xA3), ("FCC", 0x01, 0xC0, 0x00, 0xA3),
    ("ZA", 0x42, 0xC0, 0x03, 0xA3), ("PL", 0x03, 0xC0, 0x00, 0xA3), ("TBR21", 0x00, 0xC2, 0x02, 0xA3),
])
async def test_country_registers_reach_the_chip(code: str, reg16: int, reg26: int, reg30: int, reg31: int) -> None:
    rig = Rig(country=code)
    await rig.driver.bring_up()
    assert [rig.model.reg[r] for r in (16, 26, 30, 31)] == [reg16, reg26, reg30, reg31]


def test_every_iso_code_names_a_dahdi_opermode() -> None:
    assert all(name in OPERMODES for name in ISO_CODES.values())
    assert daa_country("germany") is OPERMODES["GERMANY"]
    with pytest.raises(KeyError, match="XX"):
        daa_country("XX")


async def test_seizing_draws_loop_current_and_releasing_drops_it() -> None:
    rig = Rig()
    await rig.driver.bring_up()
    rig.driver.seize()
    expected = 1000 * (48 - 6) / (rig.line.feed_resistance_ohm + 50)
    assert rig.driver.loop_current_ma() == pytest.approx(expected, abs=3.3)
    assert 0 < rig.driver.line_voltage() < 12
    rig.driver.release()
    assert rig.driver.loop_current_ma() == 0 and rig.driver.line_voltage() == 48


async def test_ring_is_detected_after_the_debounce_and_ends_after_silence() -> None:
    rig = Rig()
    await rig.driver.bring_up()
    rig.driver.poll()
    rig.line.start_ringing(rig.now)
    started = rig.now
    events = await rig.run_for(0.3)
    (ring,) = [e for e in events if isinstance(e, RingStarted)]
    assert 0.060 <= ring.at - started <= 0.100  # DAHDI: 4 checks of 16 ms
    rig.line.stop_ringing()
    stopped = rig.now
    events = await rig.run_for(0.5)
    (end,) = [e for e in events if isinstance(e, RingStopped)]
    assert 0.240 <= end.at - stopped <= 0.290  # DAHDI: 16 checks of 16 ms


async def test_ring_below_the_ringer_threshold_is_ignored() -> None:
    rig = Rig(country="FCC")  # RT = 1: 19.35-23.65 Vrms
    await rig.driver.bring_up()
    rig.line.ring_vrms = 18.0
    rig.line.start_ringing(rig.now)
    assert not any(isinstance(e, RingStarted) for e in await rig.run_for(0.3))


async def test_ring_signal_alternates_half_waves() -> None:
    rig = Rig()
    await rig.driver.bring_up()
    rig.line.start_ringing(rig.now)
    seen = set()
    for _ in range(20):
        await rig.backend.clock.sleep(0.003)
        seen.add(rig.driver.read(5) & 0x64)
    assert seen == {0x24, 0x44}  # RDT with RDTP, RDT with RDTN


async def test_polarity_reversal_is_reported_after_64_ms_but_not_the_first_polarity() -> None:
    rig = Rig()
    await rig.driver.bring_up()
    assert await rig.run_for(0.1) == []
    rig.driver.seize()
    rig.line.reverse_polarity()
    reversed_at = rig.now
    events = await rig.run_for(0.2)
    (event,) = [e for e in events if isinstance(e, PolarityReversed)]
    assert not event.positive and 0.064 <= event.at - reversed_at <= 0.1
    assert rig.driver.line_voltage() < 0
    assert rig.model.read(4) & 0x01  # POLI latched ...
    rig.driver.write(4, 0xFE)
    assert not rig.model.read(4) & 0x01  # ... and cleared by writing 0 to it


async def test_a_short_polarity_blip_is_not_a_reversal() -> None:
    rig = Rig()
    await rig.driver.bring_up()
    await rig.run_for(0.05)
    rig.line.reverse_polarity()
    await rig.run_for(0.032)
    rig.line.reverse_polarity()
    assert not any(isinstance(e, PolarityReversed) for e in await rig.run_for(0.2))


async def test_battery_loss_and_return() -> None:
    rig = Rig()
    await rig.driver.bring_up()
    await rig.run_for(0.05)
    assert rig.driver.battery_present is True
    rig.line.remove_battery()
    lost = [e for e in await rig.run_for(0.15) if isinstance(e, BatteryLost)]
    assert len(lost) == 1 and rig.driver.battery_present is False
    rig.line.restore_battery()
    back = [e for e in await rig.run_for(0.15) if isinstance(e, BatteryRestored)]
    assert len(back) == 1


async def test_hook_flash_is_on_hook_for_the_configured_time() -> None:
    rig = Rig(flash_s=0.25)
    await rig.driver.bring_up()
    rig.driver.seize()
    start = rig.now
    await rig.driver.flash()
    assert rig.now - start == pytest.approx(0.25, abs=0.01)
    assert rig.driver.off_hook and rig.model.off_hook


async def test_on_hook_audio_passes_only_with_the_line_monitor() -> None:
    """Caller ID arrives on hook: ONHM (reg5 bit 3) lets it through to the PCM slot."""
    rig = Rig(pcm_slot=4)
    await rig.driver.bring_up()
    tone = array("h", (round(6000 * math.sin(2 * math.pi * 1200 * n / 8000)) for n in range(160)))
    rig.line.audio.speak(tone)
    received = await rig.pcm.exchange(bytes([0xFF]) * (160 * 32))
    got = array("h")
    got.frombytes(ulaw2lin(received[4::32]))
    assert max(got) == pytest.approx(6000, rel=0.05)
    rig.driver.set_onhook_monitor(False)
    rig.line.audio.speak(tone)
    received = await rig.pcm.exchange(bytes([0xFF]) * (160 * 32))
    silent = array("h")
    silent.frombytes(ulaw2lin(received[4::32]))
    assert max(abs(s) for s in silent) < 10


async def test_audio_to_the_line_with_gain() -> None:
    rig = Rig(pcm_slot=1, to_line_gain_db=-6.0)
    await rig.driver.bring_up()
    rig.driver.seize()
    tone = array("h", (round(10000 * math.sin(2 * math.pi * 500 * n / 8000)) for n in range(160)))
    host = bytearray([0xFF]) * (160 * 32)
    host[1::32] = lin2ulaw(tone.tobytes())
    await rig.pcm.exchange(bytes(host))
    assert max(rig.line.audio.take_heard()) == pytest.approx(10000 * 10 ** (-6 / 20), rel=0.05)


@pytest.mark.parametrize(("db", "pair"), [(0.0, (0, 0)), (3.5, (3, 5)), (-6.0, (22, 0)), (-0.7, (0, 23)),
                                          (12.0, (12, 0)), (-15.9, (31, 25))])
def test_gain_register_encoding(db: float, pair: tuple[int, int]) -> None:
    """DAHDI wctdm_set_hwgain: whole dB in reg38/39, tenths in reg40/41, 16 + n for n dB of loss."""
    assert gain_registers(db) == pair


# ------------------------------------------------------------------------------------------- failures


async def test_no_chip() -> None:
    rig = Rig(chip=False)
    with pytest.raises(DaaNoChipError) as info:
        await rig.driver.bring_up()
    assert info.value.read["reg2"] == 0xFF and info.value.port == 3


async def test_no_chip_on_a_bus_that_idles_low() -> None:
    rig = Rig(chip=False, idle=0x00)
    with pytest.raises(DaaNoChipError):
        await rig.driver.bring_up()


async def test_wrong_identity() -> None:
    rig = Rig()
    rig.model.identity = {2: 0x13}
    with pytest.raises(DaaIdentityError) as info:
        await rig.driver.bring_up()
    assert info.value.read["reg2"] == 0x13


async def test_no_pcm_clock() -> None:
    rig = Rig(start_pcm=False)
    with pytest.raises(DaaNoPcmClockError):
        await rig.driver.bring_up()
    rig.driver.pcm = None
    with pytest.raises(DaaNoPcmClockError) as info:
        await rig.driver.bring_up()
    assert info.value.read["reg2"] == 0


async def test_iso_link_that_never_comes_up() -> None:
    rig = Rig()
    rig.model.line_side_present = False
    start = rig.now
    with pytest.raises(IsoLinkError) as info:
        await rig.driver.bring_up()
    assert info.value.read["reg11"] & 0xF0 == 0 and rig.now - start >= 2.0
