"""The chip models behave as the datasheets say, register by register (so a lenient driver cannot pass)."""

from __future__ import annotations

import pytest

from board.backends.sim import SimClock
from board.sim.si3050 import Si3050Model, reverse_bits4
from board.sim.si3215 import Si3215Model
from board.sim.world import CentralOfficeLine, Phone
from drivers.fxs_fxo.registers import DaaReg, ProslicReg


def proslic(part: str = "si3215", **options: object) -> tuple[Si3215Model, SimClock, Phone]:
    clock = SimClock()
    phone = Phone()
    model = Si3215Model(clock, phone, part=part, **options)  # type: ignore[arg-type]
    model.set_pcm_clock(True)
    clock.advance(0.002)
    return model, clock, phone


def daa(**options: object) -> tuple[Si3050Model, SimClock, CentralOfficeLine]:
    clock = SimClock()
    line = CentralOfficeLine()
    model = Si3050Model(clock, line, **options)  # type: ignore[arg-type]
    model.set_pcm_clock(True)
    clock.advance(0.002)
    return model, clock, line


@pytest.mark.parametrize(("part", "dr1", "dr6"), [("si3215", 0x88, 0x00), ("si3216", 0x88, 0x80),
                                                  ("si3215m", 0x88, 0x60), ("si3210", 0x08, 0x00)])
def test_proslic_identity_after_reset(part: str, dr1: int, dr6: int) -> None:
    model, _, _ = proslic(part)
    assert [model.read(r) for r in (0, 1, 6, 8, 11, 14, 64)] == [0x05, dr1, dr6, 0x02, 0x33, 0x10, 0x00]


def test_register_numbers_of_the_driver_match_the_models() -> None:
    """The models use literal numbers; the driver's IntEnums must name the same registers."""
    assert (ProslicReg.LOOPBACK, ProslicReg.HYBRID, ProslicReg.LINEFEED, ProslicReg.VBATH_SENSE) == (8, 11, 64, 82)
    assert (ProslicReg.IAA, ProslicReg.I_STATUS, ProslicReg.CALIBRATION_1) == (30, 31, 96)
    daa_registers = (DaaReg.CONTROL_2, DaaReg.SYSTEM_REVISION, DaaReg.LINE_VOLTAGE_STATUS, DaaReg.PCM_SPI_MODE)
    assert daa_registers == (2, 11, 29, 33)


def test_no_pcm_clock_means_registers_read_zero_and_writes_are_lost() -> None:
    clock = SimClock()
    model = Si3215Model(clock, Phone())
    assert model.read(11) == 0 and model.read(8) == 0
    model.write(72, 0x10)
    model.set_pcm_clock(True)
    assert model.read(11) == 0  # PLL not locked yet
    clock.advance(0.002)
    assert model.read(11) == 0x33 and model.read(72) == 0x20


def test_two_byte_framing_and_daisy_chain_framing() -> None:
    model, _, _ = proslic(position=2)
    assert model.spi_frame(bytes([0x80 | 11, 0xFF])) == [None, 0x33]
    model.spi_frame(bytes([0x00, 0x80]))  # DR0 bit 7: daisy chain
    assert model.spi_frame(bytes([0x04, 0x80 | 8, 0xFF])) == [None, None, 0x02]
    assert model.spi_frame(bytes([0x02, 0x80 | 8, 0xFF])) == [None, None, None]  # another position
    assert model.spi_frame(bytes([0x24, 0x80 | 8, 0xFF])) == [None, None, None]  # a DAA control byte
    model.spi_frame(bytes([0xFF, 72, 0x10]))  # broadcast write
    assert model.read(72) == 0x10
    model.spi_frame(bytes([0x80 | 8, 0xFF]))
    assert any("2-byte SPI frame in daisy-chain mode" in v for v in model.violations)


def test_indirect_busy_bit_and_stale_data() -> None:
    model, clock, _ = proslic(ir_busy_s=100e-6)

    def write_indirect(address: int, value: int) -> None:
        model.write(28, value & 0xFF)
        model.write(29, value >> 8)
        model.write(30, address)  # DR28/29 written first: an indirect write
        assert model.read(31) != 0
        clock.advance(200e-6)
        assert model.read(31) == 0

    write_indirect(7, 0x1234)
    write_indirect(8, 0x5678)
    model.write(30, 7)  # DR30 alone: an indirect read
    assert model.read(28) | model.read(29) << 8 == 0x5678  # stale: still the last access's data
    clock.advance(200e-6)
    assert model.read(28) | model.read(29) << 8 == 0x1234
    assert model.read(20) & 0x02  # "indirect access complete"
    model.write(30, 7)
    model.write(30, 8)  # a second access while busy: the chip would corrupt one of them
    assert model.violations == ["indirect access to IR8 started while DR31 was busy"]


def test_si3215_has_no_dtmf_indirect_registers() -> None:
    model, clock, _ = proslic()
    model.write(30, 40)
    assert any("does not exist" in v for v in model.violations)


def test_converter_ramps_to_vbath_and_decays_when_off() -> None:
    model, clock, _ = proslic()
    model.write(14, 0)
    assert model.read(82) < 0x20
    clock.advance(0.05)
    mid = model.read(82)
    clock.advance(0.3)
    assert mid < model.read(82) == pytest.approx(75 / 0.376, abs=2)  # DR74 = 0x32 -> 75 V
    model.write(14, 0x10)
    clock.advance(0.5)
    assert 0x06 < model.read(82) < 75 / 0.376


def test_calibration_takes_time_and_clears_dr96() -> None:
    model, clock, _ = proslic(calibration_s=0.4)
    model.write(96, 0x5F)
    clock.advance(0.2)
    assert model.read(96) == 0x5F
    clock.advance(0.25)
    assert model.read(96) == 0 and 2 <= model.read(107) <= 0x0D and model.calibrated


def test_ringing_with_the_converter_down_raises_a_power_alarm() -> None:
    model, _, phone = proslic()
    model.write(64, 4)
    assert model.read(64) == 0 and model.read(19) & 0xFC
    assert not phone.feed().ringing


def test_loop_closure_and_ring_trip_latch_and_clear_by_writing_ones() -> None:
    model, clock, phone = proslic()
    model.write(14, 0)
    clock.advance(0.5)
    model.write(96, 0x5F)
    clock.advance(1.0)
    model.write(64, 4)
    phone.lift()
    assert model.read(68) & 0x02 or model.read(64) == 0x11
    assert model.read(19) & 0x01
    model.write(19, 0x01)
    assert not model.read(19) & 0x01
    assert model.read(68) & 0x01  # DR67 bit 2 (reset value 0x1F): the chip moved to active itself


def test_pcm_start_count_changed_while_enabled_is_reported() -> None:
    model, _, _ = proslic()
    model.write(2, 8)
    model.write(1, 0x28)
    assert model.violations == []
    model.write(4, 16)
    assert model.violations == ["PCM start count DR4 changed while PCM is enabled"]


def test_daa_identity_link_and_soft_reset() -> None:
    model, clock, _ = daa()
    assert model.read(2) == 0x03 and model.read(11) >> 4 == 0
    model.write(6, 0x00)
    clock.advance(0.1)
    assert model.read(11) >> 4 == 0
    clock.advance(0.1)
    assert model.read(11) >> 4 == 0x3 and model.read(13) & 0x40
    model.write(1, 0x80)
    assert model.read(6) == 0x10 and model.read(11) >> 4 == 0 and model.read(1) == 0


def test_daa_framing_by_chip_id() -> None:
    model, _, _ = daa(position=1)
    assert model.chip_id == 0x08 == reverse_bits4(1)
    assert model.spi_frame(bytes([0x68, 2, 0xFF])) == [None, None, 0x03]
    assert model.spi_frame(bytes([0x60, 2, 0xFF])) == [None, None, None]
    assert model.spi_frame(bytes([0x02, 0x82, 0xFF])) == [None, None, None]  # a ProSLIC frame
    model.spi_frame(bytes([0xA0, 16, 0x40]))  # broadcast write
    assert model.read(16) == 0x40
    model.spi_frame(bytes([0x68, 2]))
    assert any("2-byte SPI frame addressed to the DAA" in v for v in model.violations)


def test_daa_line_voltage_loop_current_and_battery() -> None:
    model, clock, line = daa()
    model.write(6, 0)
    clock.advance(0.2)
    assert model.read(29) == 48
    line.reverse_polarity()
    assert model.read(29) == (-48) & 0xFF
    model.write(5, 0x09)
    current = model.read(12)
    assert 8 <= current <= 12  # ~35 mA at 3.3 mA/LSB
    line.remove_battery()
    assert model.read(29) == 0 and model.read(12) == 0


def test_daa_pcm_offsets_changed_while_enabled_are_reported() -> None:
    model, _, _ = daa()
    model.write(34, 8)
    model.write(33, 0x28)
    model.write(36, 24)
    assert model.violations == ["PCM start count reg36 changed while PCM is enabled"]
