"""Register-level model of the Si3050 voice DAA with its Si3018/19 line side: an FXO port.

Behaviour follows ``shared/reference/hardware.md`` §2 (DAHDI ``wctdm_init_voicedaa``/``voicedaa_check_hook``,
the Silicon Labs ``vdaa_registers.h``, Si3050/Si3018 datasheet fragments):

- SPI: every access is ``[control] [register] [data]``; control bit 5 is always 1, bit 6 = read,
  bit 7 = broadcast write, bits 4:0 the chip ID -- 0 for a module on its own chip select, the 4-bit
  bit-reversed chain position on a daisy chain (DAHDI 24xxp/OAK8X use 0x00, 0x08, 0x04, 0x0C).  Frames
  of any other length, or whose first byte has bit 5 clear, are not for the DAA.
- Identity: reg2 reads 0x03 after reset (DAHDI's sanity check); reg13 bit 6 reads 1 once the line side
  is up.  Without the PCM clock every register reads 0.  reg1 bit 7 is a self-clearing soft reset.
- Line side: reg6 bit 4 (PDL) set after reset; writing 0 powers the isolation link up, and after
  ``iso_link_s`` reg11 bits 7:4 read the line-side ID (0 while the link is down).
- Line: reg29 is the tip-ring voltage, signed, 1 V/LSB (sign = polarity); reg12 bits 4:0 the loop
  current at 3.3 mA/LSB (0x1F = overload) and reg28 the same figure [model: LCS2 scale unverified];
  reg5 bit 0 (OH) takes the line off hook; on hook the loop carries no current and reg29 shows the
  battery.  Ringing above the ringer threshold (reg16 RT: 15 or 21.5 Vrms) sets reg5 RDT and RDTP/RDTN
  following the half-waves of the ring signal and latches reg4 RDTI; a polarity change latches reg4 POLI.
  reg4 bits are cleared by writing 0 to them.
- PCM: reg33 bit 5 enables, bits 4:3 format (01 u-law, 00 A-law); reg34-37 are 10-bit start counts and
  changing one while PCM is enabled is reported.  Audio passes while off hook, or on hook with ONHM
  (reg5 bit 3) set -- the on-hook line monitor used for caller ID.  Gains: reg38/39 whole dB (0-12 gain,
  16 + n = n dB loss), reg40/41 tenths of a dB, same encoding (DAHDI ``wctdm_set_hwgain``); the DAA's
  "transmit" (reg38/40) is towards the line, as DAHDI's ``fxotxgain`` uses it.
"""

from __future__ import annotations

import math
from array import array

from board.hal import Clock
from board.sim import ChipModel, decode, encode, scale, slot_of
from board.sim.world import CentralOfficeLine

LINE_SIDE_IDS = {"si3018": 0x1, "si3019": 0x3}
LOOP_CURRENT_LSB_MA = 3.3
OFF_HOOK_DAA_VOLTS = 6.0


def reverse_bits4(value: int) -> int:
    """4-bit bit reversal of a chain position, the chip-ID encoding DAHDI 24xxp and OAK8X use."""
    return int(f"{value & 0x0F:04b}"[::-1], 2)


def _gain_db(whole: int, tenths: int) -> float:
    def signed(code: int, unit: float) -> float:
        return -(code - 16) * unit if code >= 16 else code * unit
    return signed(whole & 0x1F, 1.0) + signed(tenths & 0x1F, 0.1)


class Si3050Model(ChipModel):
    """A simulated Si3050 + Si3018/19 with a central-office line on its port.

    Faults: ``line_side_present`` False (no line-side chip / broken isolation capacitors: the ISO link
    never comes up), ``identity`` overrides of register reads (a foreign chip).
    """

    kind = "fxo"

    def __init__(self, clock: Clock, line: CentralOfficeLine, *, name: str = "si3050",
                 line_side: str = "si3019", position: int | None = None, iso_link_s: float = 0.15,
                 pll_lock_s: float = 0.001) -> None:
        super().__init__(clock, name=name, position=position)
        self.line = line
        self.line_side = line_side
        self.chip_id = 0 if position is None else reverse_bits4(position)
        self.iso_link_s = iso_link_s
        self.pll_lock_s = pll_lock_s
        self.line_side_present = True
        self.identity: dict[int, int] = {}
        self.in_reset = False
        self.reset()

    def reset(self) -> None:
        self.reg = bytearray(64)
        self.reg[2] = 0x03
        self.reg[6] = 0x10
        self.reg[11] = 0x05
        self.reg[22] = 0x96
        self.reg[23] = 0x2D
        self.reg[24] = 0x19
        self.reg[31] = 0x20
        self.link_up_at: float | None = None
        self.last_polarity: int | None = None
        self.was_ringing = False
        self.pcm_offset_reported = False

    def hold_reset(self, asserted: bool) -> None:
        """The /RESET pin (shared with the ProSLICs on TDM400P-style modules)."""
        if self.in_reset and not asserted:
            self.reset()
        self.in_reset = asserted

    def _accessible(self) -> bool:
        return self.pcm_clock and self.clock.now() - self.pcm_clock_since >= self.pll_lock_s

    @property
    def link_up(self) -> bool:
        """True once the isolation link to the line side is up."""
        return self.link_up_at is not None and self.clock.now() >= self.link_up_at

    @property
    def off_hook(self) -> bool:
        """True while the DAA holds the line off hook (reg5 OH)."""
        return bool(self.reg[5] & 0x01) and self.link_up

    # ------------------------------------------------------------------------------------ line

    def loop_current_ma(self) -> float:
        """Loop current drawn from the line now."""
        line = self.line
        if not self.off_hook or not line.battery_present:
            return 0.0
        current = 1000.0 * max(0.0, line.battery_v - OFF_HOOK_DAA_VOLTS) / (line.feed_resistance_ohm + 50.0)
        return min(current, line.current_limit_ma)

    def line_voltage(self) -> float:
        """Tip-ring voltage the DAA measures (signed by polarity)."""
        line = self.line
        if not self.link_up or not line.battery_present:
            return 0.0
        if self.off_hook:
            return line.polarity * (OFF_HOOK_DAA_VOLTS + self.loop_current_ma() * 0.05)
        return line.polarity * line.battery_v

    def _ring_sample(self) -> float:
        """Instantaneous ring voltage (AC part) now, 0 if the line is not ringing or we are off hook."""
        line = self.line
        if not (line.ringing and line.connected and self.link_up) or self.off_hook:
            return 0.0
        t = self.clock.now() - line.ring_started_at
        # A phase offset keeps the first samples away from the zero crossing.
        return line.ring_vrms * math.sqrt(2) * math.sin(2 * math.pi * line.ring_frequency_hz * t + math.pi / 4)

    def _ring_detected(self) -> bool:
        threshold = 21.5 if self.reg[16] & 0x01 else 15.0
        return (self.line.ringing and self.line.connected and self.link_up and not self.off_hook
                and self.line.ring_vrms > threshold)

    def _advance(self) -> None:
        if not self.link_up:
            return
        ringing = self._ring_detected()
        if ringing and not self.was_ringing:
            self.reg[4] |= 0x80
        self.was_ringing = ringing
        if self.line.battery_present:
            if self.last_polarity is not None and self.line.polarity != self.last_polarity:
                self.reg[4] |= 0x01
            self.last_polarity = self.line.polarity

    # -------------------------------------------------------------------------------------- SPI

    def _addressed(self, control: int) -> bool:
        if not control & 0x20:
            return False
        if control & 0x80:
            return not control & 0x40  # broadcast write
        return (control & 0x1F) == self.chip_id

    def spi_frame(self, data: bytes) -> list[int | None]:
        out: list[int | None] = [None] * len(data)
        if self.in_reset or not data:
            return out
        if len(data) != 3:
            if len(data) >= 2 and self._addressed(data[0]):
                self.report(f"{len(data)}-byte SPI frame addressed to the DAA (3 bytes expected)")
            return out
        control, register, value = data
        if not self._addressed(control):
            return out
        if control & 0x40:
            out[2] = self.read(register)
        else:
            self.write(register, value)
        return out

    def read(self, register: int) -> int:
        """A register read as the SPI port returns it."""
        if not self._accessible():
            return 0x00
        if register in self.identity:
            return self.identity[register]
        self._advance()
        if register == 5:
            value = self.reg[5] & 0x0B
            if self._ring_detected():
                sample = self._ring_sample()
                value |= 0x04 | (0x20 if sample >= 0 else 0x40)
            return value
        if register == 11:
            lsid = LINE_SIDE_IDS.get(self.line_side, 1) if self.link_up else 0
            return lsid << 4 | (self.reg[11] & 0x0F)
        if register == 12 or register == 28:
            if not self.link_up:
                return 0
            return min(0x1F, round(self.loop_current_ma() / LOOP_CURRENT_LSB_MA))
        if register == 13:
            return 0x40 | 0x08 if self.link_up else 0
        if register == 29:
            volts = max(-127, min(127, round(self.line_voltage())))
            return volts & 0xFF
        return self.reg[register & 0x3F]

    def write(self, register: int, value: int) -> None:
        """A register write."""
        if not self._accessible():
            return
        self._advance()
        now = self.clock.now()
        register &= 0x3F
        if register == 1:
            if value & 0x80:
                self.reset()
                return
            self.reg[1] = value
            return
        if register == 4:
            self.reg[4] &= value
            return
        if register == 5:
            self.reg[5] = value & 0x0B
            return
        if register == 6:
            was_down = bool(self.reg[6] & 0x10)
            self.reg[6] = value
            if value & 0x10:
                self.link_up_at = None
            elif was_down and self.line_side_present:
                self.link_up_at = now + self.iso_link_s
            return
        if 34 <= register <= 37:
            if self.reg[33] & 0x20 and self.reg[register] != value:
                self.report(f"PCM start count reg{register} changed while PCM is enabled")
            self.reg[register] = value
            return
        if register in (2, 3) or register not in (11, 12, 13, 28, 29):
            self.reg[register] = value

    # -------------------------------------------------------------------------------------- PCM

    def pcm_block(self, host_tx: bytes, chips_rx: bytearray, frames: int, slots: int) -> None:
        if self.in_reset or not self._accessible() or not self.reg[33] & 0x20:
            return
        fmt = (self.reg[33] >> 3) & 0x03
        if fmt not in (0, 1):
            if not self.pcm_offset_reported:
                self.report("16-bit linear PCM is not modelled")
                self.pcm_offset_reported = True
            return
        ulaw = fmt == 1
        tx_start = self.reg[34] | (self.reg[35] & 0x03) << 8
        rx_start = self.reg[36] | (self.reg[37] & 0x03) << 8
        if (tx_start | rx_start) & 0x07 and not self.pcm_offset_reported:
            self.report("PCM start counts not on a timeslot boundary are not modelled")
            self.pcm_offset_reported = True
        self._advance()
        path = self.link_up and self.line.connected and (self.off_hook or bool(self.reg[5] & 0x08))
        rx_slot, tx_slot = slot_of(rx_start, slots), slot_of(tx_start, slots)
        if rx_slot is not None and path and self.off_hook:
            samples = decode(host_tx[rx_slot::slots][:frames], ulaw)
            gain = 10 ** (_gain_db(self.reg[38], self.reg[40]) / 20)  # TX: host -> line
            self.line.audio.hear(scale(samples, gain))
        if tx_slot is not None:
            if path:
                gain = 10 ** (_gain_db(self.reg[39], self.reg[41]) / 20)  # RX: line -> host
                samples = scale(self.line.audio.take(frames), gain)
            else:
                samples = array("h", bytes(2 * frames))
            chips_rx[tx_slot:tx_slot + frames * slots:slots] = encode(samples, ulaw)
