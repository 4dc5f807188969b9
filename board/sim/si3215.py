"""Register-level model of the Si3215 (and Si3210) ProSLIC: an FXS port's SLIC, codec and DC-DC converter.

Behaviour follows the facts in ``shared/reference/hardware.md`` §1 (DAHDI ``wctdm.c``/``proslic.h``, the
Silicon Labs ProSLIC API, the Si3210 datasheet fragments):

- Identity after reset: DR0 = revision (part bits 5:4 = 0), DR1 bit 7 = 1 on the Si3215 family with DR6
  bits 7:5 giving the sub-part, DR8 = 0x02, DR11 = 0x33, DR14 = 0x10 (converter off), DR64 = 0.
- No PCM clock (or PLL not yet locked, ~1 ms after the clock starts): registers read 0, writes are lost.
- SPI framing: ``[addr | 0x80 for read] [data]``; after DR0 bit 7 is written, daisy-chain framing
  ``[select] [addr] [data]`` where bit ``position`` of the select byte picks the chip and 0xFF broadcasts.
  Select bytes with bit 5 set are DAA control bytes on a mixed chain and are ignored [model assumption].
- Indirect registers through DR28-31: writing DR28/29 then DR30 writes, DR30 alone reads; DR31 is busy for
  ``ir_busy_s`` and a read of DR28/29 before then returns the stale contents.  The Si3215 numbering differs
  from the Si3210's (:func:`drivers.fxs_fxo.registers.si3215_indirect` is the driver's side).
- DC-DC converter: with DR14 bit 4 clear and a PWM period in DR92, VBAT (DR82, 0.376 V/LSB) rises towards
  DR74 x 1.5 V with time constant ``converter_tau_s``; with DR14 = 0x10 it decays (slowly unless ``leak``).
- Calibration: a non-zero write to DR96 runs for ``calibration_s`` then DR96 reads 0 and DR98-107 hold the
  results; DR93 bit 7 (DC-DC calibration) runs for ``dcdc_calibration_s``.
- Linefeed DR64: the written state in bits 2:0, the actual state in bits 6:4.  Driving the line (any state
  but OPEN) while VBAT is below 24 V, or ringing a short or more REN than ``max_ren``, raises a power alarm:
  DR19 bits 2-7 latch and the chip forces the linefeed OPEN.
- Hook switch: DR68 bit 0 (loop closure) when the phone's loop is closed and the line is fed; going off
  hook while ringing is a ring trip (DR68 bit 1, DR19 bit 0) and with DR67 bit 2 the chip moves itself to
  forward active [model reading of "automatic ring trip", unverified].  DR18-20 are write-1-to-clear.
- Ring generator: IR RING_OSC = 32768 cos(2 pi f / 1000), IR RING_X = 0.25 sqrt((1-c)/(1+c)) 32767 Vpk / 96
  (hardware.md §1.8, fitted to DAHDI's values); the amplitude cannot exceed VBAT.
- PCM: DR1 bit 5 enables, bits 4:3 format (01 u-law, 00 A-law); DR2-5 are 10-bit start counts.  Changing a
  start count while PCM is enabled is reported (the Si3220 datasheet warns of loud white noise).
"""

from __future__ import annotations

import math
from array import array

from board.hal import Clock
from board.sim import ChipModel, decode, encode, scale, slot_of
from board.sim.world import FxsFeed, Phone

VBAT_LSB_V = 0.376
LOOP_CURRENT_LSB_MA = 1.1  # [unverified] DR79 scale; the driver uses the same figure
POWER_ALARM_VBAT_V = 24.0
_FED = (1, 2, 5, 6)  # forward/reverse active and OHT
_IR_BUSY_MARK = 0x01

SUB_PARTS = {"si3215": 0x00, "si3216": 0x80, "si3215m": 0x60, "si3216m": 0xE0}


def _si3215_ir_exists(address: int) -> bool:
    return 0 <= address <= 27 or address in (64, 66) or 69 <= address <= 85 or address >= 208


class Si3215Model(ChipModel):
    """A simulated Si3215/Si3210 with the phone on its port.

    Tests flip the fault attributes: ``supply_present`` False (the 12 V "HD power cable" missing),
    ``converter_limit_v`` (the converter saturates below the target), ``calibration_stuck``, ``leak``,
    ``identity`` overrides of register reads (a foreign chip), ``max_ren``.
    """

    kind = "fxs"

    def __init__(self, clock: Clock, phone: Phone, *, name: str = "si3215", part: str = "si3215",
                 revision: int = 5, position: int | None = None, ir_busy_s: float = 40e-6,
                 calibration_s: float = 0.35, dcdc_calibration_s: float = 0.05,
                 converter_tau_s: float = 0.04, pll_lock_s: float = 0.001) -> None:
        super().__init__(clock, name=name, position=position)
        if part != "si3210" and part not in SUB_PARTS:
            raise ValueError(f"unknown ProSLIC part {part!r}")
        self.part = part
        self.revision = revision
        self.phone = phone
        phone.feed = self.feed
        self.ir_busy_s = ir_busy_s
        self.calibration_s = calibration_s
        self.dcdc_calibration_s = dcdc_calibration_s
        self.converter_tau_s = converter_tau_s
        self.pll_lock_s = pll_lock_s
        # Faults and environment.
        self.supply_present = True
        self.converter_limit_v: float | None = None
        self.calibration_stuck = False
        self.leak = False
        self.max_ren = 5.0
        self.identity: dict[int, int] = {}
        self.in_reset = False
        self.reset()

    # ------------------------------------------------------------------------------------ state

    @property
    def si3215_family(self) -> bool:
        """True for the Si3215/16 (Si3215 indirect-register numbering, no DTMF decoder)."""
        return self.part != "si3210"

    def reset(self) -> None:
        now = self.clock.now()
        self.dr = bytearray(128)
        self.dr[0] = self.revision & 0x0F
        self.dr[1] = 0x88 if self.si3215_family else 0x08
        self.dr[6] = SUB_PARTS.get(self.part, 0)
        self.dr[8] = 0x02
        self.dr[10] = 0x08
        self.dr[11] = 0x33
        self.dr[14] = 0x10
        self.dr[67] = 0x1F
        self.dr[69] = 0x0A
        self.dr[70] = 0x0A
        self.dr[72] = 0x20
        self.dr[73] = 0x02
        self.dr[74] = 0x32
        self.dr[75] = 0x10
        self.dr[92] = 0xFF
        self.dr[93] = 0x14
        self.ir: dict[int, int] = {}
        self.daisy = False
        self.ir_write_pending = False
        self.ir_busy_until: float | None = None
        self.ir_op: tuple[str, int, int] = ("read", 0, 0)
        self.calibration_done_at: float | None = None
        self.dcdc_calibration_done_at: float | None = None
        self.calibrated = False
        self.calibrated_registers: set[int] = set()
        self.linefeed = 0
        self.vbat_v = 0.0
        self.vbat_target_v = 0.0
        self.vbat_since = now
        self.vbat_from = 0.0
        self.vbat_tau = self.converter_tau_s
        self.last_loop_closed = False
        self.pcm_offset_reported = False
        self._retarget_converter(now)

    def hold_reset(self, asserted: bool) -> None:
        """The /RESET pin: held low the chip ignores SPI; released, it starts from its reset values."""
        if self.in_reset and not asserted:
            self.reset()
        self.in_reset = asserted

    def _accessible(self) -> bool:
        return self.pcm_clock and self.clock.now() - self.pcm_clock_since >= self.pll_lock_s

    # -------------------------------------------------------------------------------- converter

    def _vbat_at(self, now: float) -> float:
        dt = max(0.0, now - self.vbat_since)
        return self.vbat_target_v + (self.vbat_from - self.vbat_target_v) * math.exp(-dt / self.vbat_tau)

    def _retarget_converter(self, now: float) -> None:
        self.vbat_from = self._vbat_at(now)
        self.vbat_since = now
        running = not self.dr[14] & 0x10 and self.dr[92] != 0 and self.supply_present
        if running:
            target = self.dr[74] * 1.5
            if self.converter_limit_v is not None:
                target = min(target, self.converter_limit_v)
            self.vbat_target_v, self.vbat_tau = target, self.converter_tau_s
        else:
            self.vbat_target_v, self.vbat_tau = 0.0, (0.05 if self.leak else 3.0)

    # ------------------------------------------------------------------------------- evaluation

    def _advance(self) -> None:
        now = self.clock.now()
        if self.ir_busy_until is not None and now >= self.ir_busy_until:
            op, address, value = self.ir_op
            if op == "write":
                self.ir[address] = value
            else:
                value = self.ir.get(address, 0)
                self.dr[28], self.dr[29] = value & 0xFF, value >> 8
            self.ir_busy_until = None
            self.dr[20] |= 0x02
        if self.calibration_done_at is not None and now >= self.calibration_done_at:
            self.calibration_done_at = None
            self.dr[96] = 0
            self.dr[98:108] = bytes([0x10, 0x10, 0x11, 0x11, 0x08, 0x88, 0x00, 0x00, 0x20, 0x08])
            self.calibrated = True
        if self.dcdc_calibration_done_at is not None and now >= self.dcdc_calibration_done_at:
            self.dcdc_calibration_done_at = None
            self.dr[93] &= 0x7F
            self.dr[107] = 0x08
        # Converter supply may have changed behind our back (a test pulled the cable).
        if self.vbat_target_v > 0 and not self.supply_present:
            self._retarget_converter(now)
        self.vbat_v = self._vbat_at(now)
        self._supervise(now)

    def _supervise(self, now: float) -> None:
        lf = self.linefeed
        if lf != 0:
            overload = lf == 4 and (self.phone.shorted or self.phone.ren > self.max_ren)
            if self.vbat_v < POWER_ALARM_VBAT_V or overload:
                self._power_alarm(0x0C if not overload else 0x30)
                return
        closed = self.phone.loop_closed and self.linefeed in _FED
        if lf == 4 and self.phone.loop_closed:
            self.dr[19] |= 0x01
            if self.dr[67] & 0x04:
                self._set_linefeed(1)
                closed = True
        if closed != self.last_loop_closed:
            self.dr[19] |= 0x02
            self.last_loop_closed = closed

    def _power_alarm(self, bits: int) -> None:
        self.dr[19] |= bits
        self._set_linefeed(0)
        self.last_loop_closed = False

    def _set_linefeed(self, value: int) -> None:
        self.linefeed = value & 0x07
        self.dr[64] = (self.linefeed << 4) | self.linefeed

    # ------------------------------------------------------------------------------------ lines

    def ring_parameters(self) -> tuple[float, float]:
        """(frequency Hz, peak volts) the ring generator is programmed for."""
        osc, amp = (7, 8) if self.si3215_family else (20, 21)
        rco = self.ir.get(osc, 0)
        rngx = self.ir.get(amp, 0)
        c = max(-0.999999, min(0.999999, (rco - 65536 if rco & 0x8000 else rco) / 32768.0))
        frequency = math.acos(c) * 1000.0 / (2 * math.pi)
        vpk = rngx * 96.0 / (0.25 * math.sqrt((1 - c) / (1 + c)) * 32767.0) if rngx else 0.0
        return frequency, vpk

    def loop_current_ma(self) -> float:
        """Loop current now (0 on hook or unfed)."""
        if not (self.phone.loop_closed and self.linefeed in _FED):
            return 0.0
        ilim = 20 + 3 * (self.dr[71] & 0x07)
        voc = self.dr[72] * 1.5
        return min(float(ilim), 1000.0 * min(voc, self.vbat_v) / (self.phone.dc_resistance_ohm + 100.0))

    def feed(self) -> FxsFeed:
        """The electrical state on the wires (what the phone sees)."""
        if not self.in_reset and self.pcm_clock:
            self._advance()
        lf = self.linefeed
        ring_vrms = frequency = 0.0
        dc = 0.0
        current = self.loop_current_ma()
        if lf == 4:
            frequency, vpk = self.ring_parameters()
            ring_vrms = min(vpk, self.vbat_v) / math.sqrt(2)
        elif lf in _FED:
            voc = min(self.dr[72] * 1.5, self.vbat_v)
            dc = current * self.phone.dc_resistance_ohm / 1000.0 if current else voc
            dc = dc if lf in (5, 6) else -dc
        return FxsFeed(linefeed=lf, dc_voltage=dc, ring_vrms=ring_vrms, ring_frequency_hz=frequency,
                       loop_current_ma=current)

    # -------------------------------------------------------------------------------------- SPI

    def spi_frame(self, data: bytes) -> list[int | None]:
        out: list[int | None] = [None] * len(data)
        if self.in_reset or not data:
            return out
        if self.daisy:
            if len(data) != 3:
                self.report(f"{len(data)}-byte SPI frame in daisy-chain mode (3 bytes expected)")
                return out
            select = data[0]
            if select != 0xFF and (select & 0x20 or self.position is None or not select >> self.position & 1):
                return out
            address, value, data_index = data[1], data[2], 2
        else:
            if len(data) != 2:
                self.report(f"{len(data)}-byte SPI frame in 2-byte mode: the chip loses byte sync")
                if len(data) < 2:
                    return out
            address, value, data_index = data[0], data[1], 1
        register = address & 0x7F
        if address & 0x80:
            out[data_index] = self.read(register)
        else:
            self.write(register, value)
        return out

    def read(self, register: int) -> int:
        """A direct-register read as the SPI port would return it."""
        if not self._accessible():
            return 0x00
        if register in self.identity:
            return self.identity[register]
        self._advance()
        if register == 31:
            return _IR_BUSY_MARK if self.ir_busy_until is not None else 0
        if register == 68:
            closed = self.phone.loop_closed and self.linefeed in _FED
            trip = self.linefeed == 4 and self.phone.loop_closed
            return int(closed) | int(trip) << 1
        if register == 79:
            return min(255, round(self.loop_current_ma() / LOOP_CURRENT_LSB_MA))
        if register == 82:
            return min(255, round(self.vbat_v / VBAT_LSB_V))
        if register == 83:
            return min(255, round(min(self.vbat_v, self.dr[75] * 1.5) / VBAT_LSB_V))
        if register == 81:
            feed = self.feed()
            return min(255, round(abs(feed.dc_voltage) / VBAT_LSB_V))
        return self.dr[register]

    def write(self, register: int, value: int) -> None:
        """A direct-register write."""
        if not self._accessible():
            return
        self._advance()
        now = self.clock.now()
        if register == 0:
            if value & 0x80 and not self.daisy:
                self.daisy = True
            return
        if register == 1:
            self.dr[1] = (self.dr[1] & 0x80) | (value & 0x7F)
            return
        if 2 <= register <= 5:
            if self.dr[1] & 0x20 and self.dr[register] != value:
                self.report(f"PCM start count DR{register} changed while PCM is enabled")
            self.dr[register] = value
            return
        if register in (18, 19, 20):
            self.dr[register] &= ~value & 0xFF
            return
        if register in (28, 29):
            self.dr[register] = value
            self.ir_write_pending = True
            return
        if register == 30:
            self._indirect_access(value, now)
            return
        if register in (31, 68, 78, 79, 80, 81, 82, 83) or 84 <= register <= 89:
            return  # read-only
        if register == 14:
            self.dr[14] = value
            self._retarget_converter(now)
            self._supervise(now)
            return
        if register in (74, 92):
            self.dr[register] = value
            self._retarget_converter(now)
            return
        if register == 64:
            self._set_linefeed(value)
            if self.linefeed in _FED and not self.calibrated:
                self.report("line driven before calibration (DR96 never completed or restored)")
            self._advance()
            return
        if register == 93:
            self.dr[93] = value
            if value & 0x80:
                self.dcdc_calibration_done_at = now + self.dcdc_calibration_s
            return
        if register == 96:
            self.dr[96] = value
            if value:
                self.calibrated = False
                if not self.calibration_stuck:
                    self.calibration_done_at = now + self.calibration_s
            return
        if 98 <= register <= 107:
            self.dr[register] = value
            self.calibrated_registers.add(register)
            if len(self.calibrated_registers) == 10 and 2 <= self.dr[107] <= 0x0D:
                self.calibrated = True  # results restored from an earlier calibration ("fast" init)
            return
        self.dr[register] = value

    def _indirect_access(self, address: int, now: float) -> None:
        if self.ir_busy_until is not None:
            self.report(f"indirect access to IR{address} started while DR31 was busy")
        if self.si3215_family and not _si3215_ir_exists(address):
            self.report(f"indirect register {address} does not exist on the {self.part}")
        if self.ir_write_pending:
            self.ir_op = ("write", address, self.dr[28] | self.dr[29] << 8)
        else:
            self.ir_op = ("read", address, 0)
        self.ir_write_pending = False
        self.ir_busy_until = now + self.ir_busy_s

    # -------------------------------------------------------------------------------------- PCM

    def pcm_block(self, host_tx: bytes, chips_rx: bytearray, frames: int, slots: int) -> None:
        if self.in_reset or not self._accessible() or not self.dr[1] & 0x20:
            return
        fmt = (self.dr[1] >> 3) & 0x03
        if fmt not in (0, 1):
            if not self.pcm_offset_reported:
                self.report("16-bit linear PCM is not modelled")
                self.pcm_offset_reported = True
            return
        ulaw = fmt == 1
        tx_start = self.dr[2] | (self.dr[3] & 0x03) << 8
        rx_start = self.dr[4] | (self.dr[5] & 0x03) << 8
        if (tx_start | rx_start) & 0x07 and not self.pcm_offset_reported:
            self.report("PCM start counts not on a timeslot boundary are not modelled")
            self.pcm_offset_reported = True
        self._advance()
        fed = self.linefeed in _FED
        rx_slot, tx_slot = slot_of(rx_start, slots), slot_of(tx_start, slots)
        analog = self.dr[9]
        if rx_slot is not None and fed:
            samples = decode(host_tx[rx_slot::slots][:frames], ulaw)
            gain = self._digital_gain(13 if self.si3215_family else 26) * _analog_gain(analog & 0x03)
            self.phone.audio.hear(scale(samples, gain))
        if tx_slot is not None:
            if fed and self.phone.off_hook:
                samples = self.phone.audio.take(frames)
                gain = self._digital_gain(14 if self.si3215_family else 27) * _analog_gain((analog >> 2) & 0x03)
                samples = scale(samples, gain)
            else:
                samples = array("h", bytes(2 * frames))
            chips_rx[tx_slot:tx_slot + frames * slots:slots] = encode(samples, ulaw)

    def _digital_gain(self, address: int) -> float:
        value = self.ir.get(address, 0x4000)
        return value / 0x4000


def _analog_gain(code: int) -> float:
    return {0: 1.0, 1: 10 ** (-3.5 / 20), 2: 10 ** (3.5 / 20)}.get(code, 1.0)
