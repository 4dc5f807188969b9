"""Si3215/Si3210 ProSLIC driver: one FXS port (a phone plugs in), over the HAL only.

The sequence and values follow DAHDI ``wctdm.c`` (``wctdm_init_proslic``, ``wctdm_proslic_insane``,
``wctdm_powerup_proslic``, ``wctdm_proslic_powerleak_test``, ``wctdm_proslic_calibrate``,
``wctdm_proslic_check_hook``, ``wctdm_proslic_recheck_sanity``) and the Silicon Labs ProSLIC API /
application note AN35 as summarised in ``shared/reference/hardware.md`` §1.  Register numbers come from
:mod:`drivers.fxs_fxo.registers`.

The driver is synchronous for register access (one SPI access is a few tens of microseconds) and async
only where the chip needs time (converter ramp, calibration).  Line logic calls :meth:`Si3215.poll` every
5-16 ms (DAHDI's TDM400P samples each port every 16 ms) and gets hook, ring-trip and power-alarm events.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from board.hal import Clock, PcmBus, SpiDevice
from drivers.fxs_fxo.registers import Linefeed, PcmLaw, ProslicIndirect, ProslicReg, si3215_indirect

log = logging.getLogger("centralita.analog")

VBAT_LSB_V = 0.376  # DR82/83 and DR80/81 sense scale
LOOP_CURRENT_LSB_MA = 1.1  # DR79 [unverified scale; the simulator uses the same]
POWERED_UP_VBAT = 0xC0  # DAHDI: DR82 >= 0xC0 (~72 V) means the converter is up
POWER_LEAK_MIN_VBAT = 0x06  # DAHDI powerleak test: VBAT must stay above this for 0.5 s with the converter off
IR_POLL_LIMIT = 100
PLL_LOCK_S = 0.002  # the chip's PLL locks to PCLK/FSYNC within ~1 ms (hardware.md §2.1)
MAX_POWER_ALARMS = 10  # DAHDI MAX_ALARMS; one is forgiven every 10 s
ALARM_RECHECK_S = 0.25  # DAHDI re-writes the linefeed after a power alarm on its ~250 ms sanity recheck

# DAHDI ``indirect_regs[]`` initial values (Si3210 numbering; translated for the Si3215).
INITIAL_INDIRECT: dict[ProslicIndirect, int] = {
    ProslicIndirect.OSC1_COEF: 0x7B30, ProslicIndirect.OSC1X: 0x0063, ProslicIndirect.OSC1Y: 0x0000,
    ProslicIndirect.OSC2_COEF: 0x7870, ProslicIndirect.OSC2X: 0x007D, ProslicIndirect.OSC2Y: 0x0000,
    ProslicIndirect.RING_V_OFF: 0x0000, ProslicIndirect.RING_OSC: 0x7EF0, ProslicIndirect.RING_X: 0x0160,
    ProslicIndirect.RING_Y: 0x0000, ProslicIndirect.PULSE_ENVEL: 0x2000, ProslicIndirect.PULSE_X: 0x2000,
    ProslicIndirect.PULSE_Y: 0x0000, ProslicIndirect.RECV_DIGITAL_GAIN: 0x4000,
    ProslicIndirect.XMIT_DIGITAL_GAIN: 0x4000, ProslicIndirect.LOOP_CLOSE_TRES: 0x1000,
    ProslicIndirect.RING_TRIP_TRES: 0x3600, ProslicIndirect.COMMON_MIN_TRES: 0x1000,
    ProslicIndirect.COMMON_MAX_TRES: 0x0200, ProslicIndirect.PWR_ALARM_Q1Q2: 0x07C0,
    ProslicIndirect.PWR_ALARM_Q3Q4: 0x2600, ProslicIndirect.PWR_ALARM_Q5Q6: 0x1B80,
    ProslicIndirect.LOOP_CLOSURE_FILTER: 0x8000, ProslicIndirect.RING_TRIP_FILTER: 0x0320,
    ProslicIndirect.TERM_LP_POLE_Q1Q2: 0x008C, ProslicIndirect.TERM_LP_POLE_Q3Q4: 0x0100,
    ProslicIndirect.TERM_LP_POLE_Q5Q6: 0x0010, ProslicIndirect.CM_BIAS_RINGING: 0x0C00,
    ProslicIndirect.DCDC_MIN_V: 0x0C00, ProslicIndirect.DCDC_XTRA: 0x1000,
    ProslicIndirect.LOOP_CLOSE_TRES_LOW: 0x1000,
}
# Filters flushed with 0x8000 during calibration and restored after (hardware.md §1.5 step 3/9).
_CAL_FLUSHED = (ProslicIndirect.LOOP_CLOSURE_FILTER, ProslicIndirect.RING_TRIP_FILTER,
                ProslicIndirect.TERM_LP_POLE_Q1Q2, ProslicIndirect.TERM_LP_POLE_Q3Q4,
                ProslicIndirect.TERM_LP_POLE_Q5Q6)
CALIBRATION_REGISTERS = range(96, 108)  # DR96-107, saved for a fast restart (DAHDI ``calregs``)


# ------------------------------------------------------------------------------------------- errors


class Si3215Error(Exception):
    """An FXS port failed; ``port`` is the port number, ``read`` the register values that show why."""

    def __init__(self, port: int, message: str, read: Mapping[str, int] | None = None) -> None:
        self.port = port
        self.read = dict(read or {})
        shown = ", ".join(f"{k}={v:#04x}" for k, v in self.read.items())
        super().__init__(f"FXS port {port}: {message}" + (f" (read {shown})" if shown else ""))


class NoChipError(Si3215Error):
    """Nothing answers: every read gives the bus's idle level (0xFF pull-up, or 0x00)."""


class WrongIdentityError(Si3215Error):
    """Something answers but not as a ProSLIC after reset (DAHDI's "insane" check)."""


class NoPcmClockError(Si3215Error):
    """The PCM clock is not running: the chip's PLL cannot lock and its registers read 0."""


class IndirectAccessError(Si3215Error):
    """DR31 never went idle, or an indirect register did not read back what was written."""


class ConverterError(Si3215Error):
    """The DC-DC converter did not bring VBAT up (DAHDI: "did you remember to plug in the HD power cable?")."""


class PowerLeakError(Si3215Error):
    """VBAT collapsed with the converter off: a leak or a short on the port."""


class CalibrationTimeoutError(Si3215Error):
    """A calibration (DR96 or DC-DC DR93 bit 7) did not finish in time."""


class PowerAlarmError(Si3215Error):
    """The chip opened the line on a transistor power alarm (DR19 bits 2-7) and the port gave up."""


# ------------------------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class HookChanged:
    """The phone went off hook (``off_hook``) or on hook; ``at`` is when the new state was first seen."""

    port: int
    off_hook: bool
    at: float


@dataclass(frozen=True, slots=True)
class RingTrip:
    """The phone was picked up while ringing; the chip (and driver) moved the line to active."""

    port: int
    at: float


@dataclass(frozen=True, slots=True)
class PowerAlarm:
    """A transistor power alarm opened the line; ``status`` is DR19, ``count`` the alarms so far."""

    port: int
    at: float
    status: int
    count: int


FxsEvent = HookChanged | RingTrip | PowerAlarm


# -------------------------------------------------------------------------------------- SPI framing


class ProslicSpi:
    """Register access framing of a ProSLIC.

    On its own chip select (TDM400P, ``position`` None): ``[addr | 0x80 read] [data]``.  In a daisy chain
    (wctdm24xxp, OAK8X) after :meth:`enable_daisy_chain`: ``[1 << position] [addr | 0x80] [data]``.
    """

    def __init__(self, spi: SpiDevice, position: int | None = None) -> None:
        self.spi = spi
        self.position = position

    @staticmethod
    def enable_daisy_chain(spi: SpiDevice) -> None:
        """Put every ProSLIC on ``spi`` into daisy-chain framing: a 2-byte write of DR0 = 0x80."""
        spi.transfer(bytes([ProslicReg.SPI_MODE, 0x80]))

    def read(self, register: int) -> int:
        """Read a direct register."""
        if self.position is None:
            return self.spi.transfer(bytes([register | 0x80, 0xFF]))[1]
        return self.spi.transfer(bytes([1 << self.position, register | 0x80, 0xFF]))[2]

    def write(self, register: int, value: int) -> None:
        """Write a direct register."""
        if self.position is None:
            self.spi.transfer(bytes([register & 0x7F, value & 0xFF]))
        else:
            self.spi.transfer(bytes([1 << self.position, register & 0x7F, value & 0xFF]))


# --------------------------------------------------------------------------------- calibration store


class CalibrationStore(Protocol):
    """Where calibration results survive a restart (DAHDI keeps ``calregs`` for its "fast" init)."""

    def load(self, key: str) -> bytes | None:
        """The saved DR96-107 for ``key``, or None."""
        ...

    def save(self, key: str, values: bytes) -> None:
        """Keep DR96-107 for ``key``."""
        ...


@dataclass
class MemoryCalibrationStore:
    """A calibration store in memory (tests, or one process's lifetime)."""

    values: dict[str, bytes] = field(default_factory=dict)

    def load(self, key: str) -> bytes | None:
        """The saved values."""
        return self.values.get(key)

    def save(self, key: str, values: bytes) -> None:
        """Keep the values."""
        self.values[key] = bytes(values)


class FileCalibrationStore:
    """Calibration results in a JSON file (``{key: hex}``), replaced atomically on every save."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _all(self) -> dict[str, str]:
        try:
            import json  # lazily: the calibration cache is read once per boot

            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("calibration store %s unreadable (%s); calibrating again", self.path, exc)
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def load(self, key: str) -> bytes | None:
        """The saved values, or None (missing or unreadable file)."""
        text = self._all().get(key)
        try:
            return bytes.fromhex(text) if text else None
        except ValueError:
            return None

    def save(self, key: str, values: bytes) -> None:
        """Write the file to a temporary name and rename it over the old one."""
        data = self._all()
        data[key] = bytes(values).hex()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        import json
        import tempfile

        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
        os.replace(tmp, self.path)


# ------------------------------------------------------------------------------------------ settings


@dataclass(frozen=True, slots=True)
class FxsSettings:
    """Per-port settings of an FXS port.

    ``loop_current_ma`` 20-41 (DR71 = (mA - 20) / 3), ``on_hook_voltage_v`` (DR72, 1.5 V/LSB; DAHDI 48 V,
    24 V "lowpower"), ``ring_frequency_hz``/``ring_vpk`` (ring generator, DAHDI default ~20 Hz 64 Vpk),
    ``reverse_polarity`` idles the line reversed, ``impedance`` is DR10's two-wire impedance code,
    ``hook_debounce_s`` how long a hook state must hold before it is reported.
    """

    pcm_slot: int
    law: PcmLaw = PcmLaw.ULAW
    loop_current_ma: int = 20
    on_hook_voltage_v: float = 48.0
    ring_frequency_hz: float = 20.0
    ring_vpk: float = 64.0
    reverse_polarity: bool = False
    impedance: int = 0
    to_line_gain_db: float = 0.0
    from_line_gain_db: float = 0.0
    hook_debounce_s: float = 0.020


@dataclass(frozen=True, slots=True)
class ProslicIdentity:
    """What the identity registers say: ``part`` (si3210, si3215, si3216, si3215m, si3216m) and revision."""

    part: str
    revision: int

    @property
    def si3215_family(self) -> bool:
        """Si3215-family parts have the Si3215 indirect numbering and no DTMF decoder."""
        return self.part != "si3210"

    @property
    def m_part(self) -> bool:
        """The "M" parts take different DC-DC settings (DR92 = 0x60, DR93 = 0x38)."""
        return self.part.endswith("m")


_SUB_PART = {0x00: "si3215", 0x80: "si3216", 0x60: "si3215m", 0xE0: "si3216m"}


def ring_oscillator(frequency_hz: float, vpk: float) -> tuple[int, int]:
    """(RCO, RNGX) indirect values for a sine ring of ``frequency_hz`` and ``vpk`` peak volts.

    RCO = 32768 cos(2 pi f / 1000) and RNGX = 0.25 sqrt((1 - c) / (1 + c)) 32767 Vpk / 96 with c = RCO/32768
    (hardware.md §1.8: reproduces DAHDI's 0x7EF0/0x160 ~ 20 Hz 64 Vpk, 0x7E6C/0x1B9 25 Hz 66 Vpk).
    """
    c = math.cos(2 * math.pi * frequency_hz / 1000.0)
    rco = round(32768 * c)
    c = rco / 32768
    rngx = round(0.25 * math.sqrt((1 - c) / (1 + c)) * 32767 * vpk / 96.0)
    return rco, rngx


def digital_gain(db: float) -> int:
    """IR26/27 value for ``db`` (0x4000 = 0 dB, 16384 10^(dB/20), at most +6 dB)."""
    return max(0, min(0x7FFF, round(16384 * 10 ** (db / 20))))


# -------------------------------------------------------------------------------------------- driver


class Si3215:
    """One Si3215/Si3210 FXS port.

    ``access`` frames register accesses; ``pcm`` (optional) lets the driver tell "no PCM clock" from
    "no chip"; ``store`` keeps calibration results across restarts.
    """

    def __init__(self, access: ProslicSpi, clock: Clock, settings: FxsSettings, *, port: int,
                 pcm: PcmBus | None = None, store: CalibrationStore | None = None) -> None:
        self.access = access
        self.clock = clock
        self.settings = settings
        self.port = port
        self.pcm = pcm
        self.store = store
        self.identity: ProslicIdentity | None = None
        self.calibrated_from_store = False
        self.idle_linefeed = Linefeed.FORWARD_ACTIVE.with_polarity(settings.reverse_polarity)
        self._linefeed = Linefeed.OPEN
        self._off_hook = False
        self._pending_since: float | None = None
        self._alarms = 0
        self._last_forgiven = 0.0
        self._restore_at: float | None = None
        self.disabled = False

    # ------------------------------------------------------------------------------ registers

    def read(self, register: int) -> int:
        """Read a direct register."""
        return self.access.read(register)

    def write(self, register: int, value: int) -> None:
        """Write a direct register."""
        self.access.write(register, value)

    def _indirect_address(self, address: int) -> int:
        if self.identity is not None and self.identity.si3215_family:
            translated = si3215_indirect(address)
            if translated is None:
                raise IndirectAccessError(self.port, f"IR{address} does not exist on the {self.identity.part}")
            return translated
        return address

    def _wait_indirect(self) -> None:
        status = 0
        for _ in range(IR_POLL_LIMIT):
            status = self.read(ProslicReg.I_STATUS)
            if status == 0:
                return
        raise IndirectAccessError(self.port, f"indirect access still busy after {IR_POLL_LIMIT} polls",
                                  {"DR31": status})

    def write_indirect(self, address: int, value: int) -> None:
        """Write an indirect register (Si3210 numbering): wait for DR31 idle, DR28/29 = data, DR30 = address."""
        target = self._indirect_address(address)
        self._wait_indirect()
        self.write(ProslicReg.IDA_LO, value & 0xFF)
        self.write(ProslicReg.IDA_HI, (value >> 8) & 0xFF)
        self.write(ProslicReg.IAA, target)

    def read_indirect(self, address: int) -> int:
        """Read an indirect register (Si3210 numbering): DR30 = address, wait for DR31 idle, read DR28/29."""
        target = self._indirect_address(address)
        self._wait_indirect()
        self.write(ProslicReg.IAA, target)
        self._wait_indirect()
        return self.read(ProslicReg.IDA_LO) | self.read(ProslicReg.IDA_HI) << 8

    def _indirect_table(self) -> dict[ProslicIndirect, int]:
        family = self.identity is not None and self.identity.si3215_family
        table = {}
        for register, value in INITIAL_INDIRECT.items():
            if family and si3215_indirect(register) is None:
                continue
            table[register] = value
        table[ProslicIndirect.RECV_DIGITAL_GAIN] = digital_gain(self.settings.to_line_gain_db)
        table[ProslicIndirect.XMIT_DIGITAL_GAIN] = digital_gain(self.settings.from_line_gain_db)
        rco, rngx = ring_oscillator(self.settings.ring_frequency_hz, self.settings.ring_vpk)
        table[ProslicIndirect.RING_OSC] = rco
        table[ProslicIndirect.RING_X] = rngx
        return table

    # ------------------------------------------------------------------------------- identity

    def identify(self) -> ProslicIdentity:
        """Check the chip is a ProSLIC just out of reset (DAHDI ``wctdm_proslic_insane``) and which part.

        DR0 low nibble = revision (0 or 0xF: no chip; < 2 too old), DR8 = 0x02, DR11 = 0x33, DR64 = 0
        after reset; DR1 bit 7 marks the Si3215 family and DR6 bits 7:5 the sub-part (ProSLIC API).
        """
        if self.pcm is not None and not self.pcm.running:
            raise NoPcmClockError(self.port, "the PCM clock is stopped; start it before touching the chip")
        values = {f"DR{r}": self.read(r) for r in (0, 1, 6, 8, 11, 64)}
        loopback, hybrid, revision = values["DR8"], values["DR11"], values["DR0"] & 0x0F
        if loopback == hybrid == values["DR0"] and loopback in (0x00, 0xFF):
            if loopback == 0x00 and (self.pcm is None or not self.pcm.running):
                raise NoPcmClockError(self.port, "every register reads 0x00: no PCM clock reaching the chip", values)
            raise NoChipError(self.port, f"every register reads {loopback:#04x}: no chip on this chip select"
                              + (" (or no PCM clock reaching it)" if loopback == 0 else ""), values)
        if loopback != 0x02 or hybrid != 0x33:
            raise WrongIdentityError(self.port, "not a ProSLIC after reset (DR8 must be 0x02, DR11 0x33)", values)
        if values["DR64"] != 0x00:
            raise WrongIdentityError(self.port, "linefeed not open: the chip is not fresh from reset", values)
        if revision in (0x0, 0xF) or revision < 2:
            raise WrongIdentityError(self.port, f"ProSLIC revision {revision} is unsupported", values)
        if (values["DR0"] >> 4) & 0x03:
            raise WrongIdentityError(self.port, "ProSLIC part is a Si3211/3212, not a Si3210/3215", values)
        if values["DR1"] & 0x80:
            part = _SUB_PART.get(values["DR6"] & 0xE0)
            if part is None:
                raise WrongIdentityError(self.port, "unknown Si3215-family sub-part in DR6", values)
        else:
            part = "si3210"
        self.identity = ProslicIdentity(part=part, revision=revision)
        return self.identity

    # -------------------------------------------------------------------------------- bring-up

    async def bring_up(self) -> None:
        """Identify, initialise, power up the converter, calibrate (or restore), set PCM and idle the line.

        hardware.md §1.5 (DAHDI ``wctdm_init_proslic``): DR14 = 0x10, indirect registers, DR8 = 0,
        DR108 = 0xEB, DR67 = 0x07, DR66 = 1; converter up; power-leak test; converter up again;
        calibration (saved for next time); PCM slot and law before enabling; IRQs cleared; DR73 = 0x04;
        impedance; VOC; ring generator; gains; finally the idle linefeed.
        """
        await self.clock.sleep(PLL_LOCK_S)
        identity = self.identify()
        self.write(ProslicReg.POWER_DOWN_1, 0x10)
        table = self._indirect_table()
        for indirect, value in table.items():
            self.write_indirect(indirect, value)
        self.write(ProslicReg.LOOPBACK, 0)
        self.write(ProslicReg.ENHANCEMENT, 0xEB)
        self.write(ProslicReg.AUTO_MANUAL, 0x07)
        self.write(ProslicReg.BATTERY_FEED, 0x01)
        await self._power_up_converter()
        await self._power_leak_test()
        await self._power_up_converter()
        key = f"port{self.port}:{identity.part}:rev{identity.revision}"
        saved = self.store.load(key) if self.store is not None else None
        if saved is not None and len(saved) == len(CALIBRATION_REGISTERS) and 2 <= saved[-1] <= 0x0D:
            for cal_register, value in zip(CALIBRATION_REGISTERS, saved, strict=True):
                self.write(cal_register, value)
            self.calibrated_from_store = True
            log.info("FXS port %d: calibration restored from the store", self.port)
        else:
            await self._calibrate()
            if self.store is not None:
                self.store.save(key, bytes(self.read(r) for r in CALIBRATION_REGISTERS))
        self._verify_indirect(table)
        self.configure_pcm(self.settings.pcm_slot, self.settings.law)
        for status in (ProslicReg.IRQ_STATUS_1, ProslicReg.IRQ_STATUS_2, ProslicReg.IRQ_STATUS_3):
            self.write(status, 0xFF)
        self.write(ProslicReg.COMMON_MODE_VOLTAGE, 0x04)
        self.write(ProslicReg.TWO_WIRE_IMPEDANCE, 0x08 | (self.settings.impedance & 0x07))
        self.write(ProslicReg.ON_HOOK_VOLTAGE, max(0, min(0x3F, round(self.settings.on_hook_voltage_v / 1.5))))
        self.write(ProslicReg.RING_OSC_CONTROL, 0x00)  # cadence in software (DAHDI)
        self.write(ProslicReg.AUDIO_GAIN, 0x00)
        self.set_linefeed(self.idle_linefeed)
        self._check_alarm("setting the idle linefeed")
        log.info("FXS port %d: %s rev %d up, VBAT %.1f V", self.port, identity.part, identity.revision,
                 self.battery_voltage())

    async def _power_up_converter(self) -> None:
        """DR92 PWM period, DR14 = 0, poll DR82 >= 0xC0 for up to 500 ms, DR71 ILIM, DR93 engage."""
        m_part = self.identity is not None and self.identity.m_part
        self.write(ProslicReg.DCDC_PWM_PERIOD, 0x60 if m_part else 0xFF)
        self.write(ProslicReg.POWER_DOWN_1, 0x00)
        deadline = self.clock.now() + 0.5
        vbat = self.read(ProslicReg.VBATH_SENSE)
        while vbat < POWERED_UP_VBAT:
            if self.clock.now() >= deadline:
                self.write(ProslicReg.POWER_DOWN_1, 0x10)
                raise ConverterError(self.port, f"VBAT reached only {vbat * VBAT_LSB_V:.1f} V in 500 ms "
                                     "(is the converter's supply connected?)", {"DR82": vbat})
            await self.clock.sleep(0.01)
            vbat = self.read(ProslicReg.VBATH_SENSE)
        ilim = max(0, min(7, round((self.settings.loop_current_ma - 20) / 3)))
        self.write(ProslicReg.LOOP_CURRENT_LIMIT, ilim)
        self.write(ProslicReg.DCDC_CONTROL, 0x38 if m_part else 0x19)

    async def _power_leak_test(self) -> None:
        """Converter off for 0.5 s: VBAT must stay above 0x06 (DAHDI ``wctdm_proslic_powerleak_test``)."""
        self.write(ProslicReg.LINEFEED, Linefeed.OPEN)
        self.write(ProslicReg.POWER_DOWN_1, 0x10)
        deadline = self.clock.now() + 0.5
        while self.clock.now() < deadline:
            vbat = self.read(ProslicReg.VBATH_SENSE)
            if vbat < POWER_LEAK_MIN_VBAT:
                raise PowerLeakError(self.port, "VBAT collapsed with the converter off: leak or short on the port",
                                     {"DR82": vbat})
            await self.clock.sleep(0.05)

    async def _calibrate(self) -> None:
        """Auto calibration: DR97 = 0x1F, DR96 = 0x5F, wait for DR96 = 0 (2 s); DC-DC calibration DR93 = 0x99.

        The loop-closure, ring-trip and termination filters are flushed with 0x8000 during calibration
        and restored after (hardware.md §1.5 steps 3, 6, 7, 9).
        """
        for flushed in _CAL_FLUSHED:
            self.write_indirect(flushed, 0x8000)
        for enable in (ProslicReg.IRQ_ENABLE_1, ProslicReg.IRQ_ENABLE_2, ProslicReg.IRQ_ENABLE_3):
            self.write(enable, 0)
        self.write(ProslicReg.CALIBRATION_2, 0x1F)
        self.write(ProslicReg.CALIBRATION_1, 0x5F)
        await self._wait_clear(ProslicReg.CALIBRATION_1, 0xFF, 2.0, "calibration (DR96)")
        m_part = self.identity is not None and self.identity.m_part
        self.write(ProslicReg.DCDC_CONTROL, 0xB8 if m_part else 0x99)
        await self._wait_clear(ProslicReg.DCDC_CONTROL, 0x80, 0.5, "DC-DC calibration (DR93 bit 7)")
        peak = self.read(ProslicReg.CAL_DC_PEAK)
        if not 2 <= peak <= 0x0D:
            log.warning("FXS port %d: DC peak calibration %#04x out of range, forcing 0x08 (as DAHDI)", self.port, peak)
            self.write(ProslicReg.CAL_DC_PEAK, 0x08)
        for enable in (ProslicReg.IRQ_ENABLE_1, ProslicReg.IRQ_ENABLE_2, ProslicReg.IRQ_ENABLE_3):
            self.write(enable, 0xFF)
        for flushed in _CAL_FLUSHED:
            self.write_indirect(flushed, INITIAL_INDIRECT[flushed])

    async def _wait_clear(self, register: int, mask: int, timeout: float, what: str) -> None:
        deadline = self.clock.now() + timeout
        value = self.read(register)
        while value & mask:
            if self.clock.now() >= deadline:
                raise CalibrationTimeoutError(self.port, f"{what} did not finish in {timeout:g} s",
                                              {f"DR{register}": value})
            await self.clock.sleep(0.01)
            value = self.read(register)

    def _verify_indirect(self, table: Mapping[ProslicIndirect, int]) -> None:
        """Read every indirect register back (DAHDI ``wctdm_proslic_verify_indirect_regs``)."""
        for register, value in table.items():
            got = self.read_indirect(register)
            if got != value:
                raise IndirectAccessError(self.port, f"IR{int(register)} reads back {got:#06x}, wrote {value:#06x}",
                                          {f"IR{int(register)}_lo": got & 0xFF, f"IR{int(register)}_hi": got >> 8})

    # ------------------------------------------------------------------------------------- PCM

    def configure_pcm(self, slot: int, law: PcmLaw) -> None:
        """Place the port on timeslot ``slot`` with ``law``: PCM off, DR2-5 = slot x 8, then PCM on.

        The start counts are written while PCM is disabled (XPP writes offsets then enables; the
        Si3220 datasheet warns that changing them while enabled gives loud white noise).
        """
        offset = slot * 8
        self.write(ProslicReg.PCM_MODE, law.pcm_mode & ~0x20)
        self.write(ProslicReg.PCM_TX_START_LO, offset & 0xFF)
        self.write(ProslicReg.PCM_TX_START_HI, offset >> 8)
        self.write(ProslicReg.PCM_RX_START_LO, offset & 0xFF)
        self.write(ProslicReg.PCM_RX_START_HI, offset >> 8)
        self.write(ProslicReg.PCM_MODE, law.pcm_mode)

    def set_gains(self, *, to_line_db: float, from_line_db: float) -> None:
        """Digital gains: towards the phone (IR26 RECV) and from the phone (IR27 XMIT), 0x4000 = 0 dB."""
        self.write_indirect(ProslicIndirect.RECV_DIGITAL_GAIN, digital_gain(to_line_db))
        self.write_indirect(ProslicIndirect.XMIT_DIGITAL_GAIN, digital_gain(from_line_db))

    # -------------------------------------------------------------------------------- linefeed

    def set_linefeed(self, linefeed: Linefeed) -> None:
        """Write DR64."""
        self.write(ProslicReg.LINEFEED, int(linefeed))
        self._linefeed = linefeed

    @property
    def linefeed(self) -> Linefeed:
        """The linefeed this driver last set."""
        return self._linefeed

    def actual_linefeed(self) -> Linefeed:
        """The state the chip reports in DR64 bits 6:4 (OPEN after a power alarm)."""
        return Linefeed((self.read(ProslicReg.LINEFEED) >> 4) & 0x07)

    def set_polarity(self, reverse: bool) -> None:
        """Forward or reverse battery on the idle/talk states (answer supervision, caller-ID signalling)."""
        self.idle_linefeed = self.idle_linefeed.with_polarity(reverse)
        if self._linefeed in (Linefeed.FORWARD_ACTIVE, Linefeed.REVERSE_ACTIVE,
                              Linefeed.FORWARD_OHT, Linefeed.REVERSE_OHT):
            self.set_linefeed(self._linefeed.with_polarity(reverse))

    def set_ring_generator(self, frequency_hz: float, vpk: float, dc_offset_v: float = 0.0) -> None:
        """Program the ring oscillator (IR20 RCO, IR21 RNGX, IR19 offset) and VBATH for the peak voltage.

        VBATH (DR74, 1.5 V/LSB) is raised to 94.5 V (0x3F, DAHDI ``boostringer``) when ``vpk`` needs more
        than the default 75 V.
        """
        if not 15.0 <= frequency_hz <= 100.0:
            raise ValueError(f"ring frequency {frequency_hz} Hz outside 15-100 Hz")
        if not 0.0 < vpk <= 94.0:
            raise ValueError(f"ring voltage {vpk} Vpk outside 0-94 V")
        rco, rngx = ring_oscillator(frequency_hz, vpk)
        self.write(ProslicReg.VBATH, 0x3F if vpk + abs(dc_offset_v) > 72.0 else 0x32)
        self.write_indirect(ProslicIndirect.RING_OSC, rco)
        self.write_indirect(ProslicIndirect.RING_X, rngx)
        self.write_indirect(ProslicIndirect.RING_V_OFF, round(dc_offset_v * 32767 / 96.0) & 0xFFFF)

    def ring_on(self) -> None:
        """Start ringing (cadence is the caller's: DAHDI toggles DR64 in software, DR34 = 0)."""
        self.set_linefeed(Linefeed.RINGING)
        self._check_alarm("starting to ring")

    def ring_off(self, *, on_hook_transmission: bool = True) -> None:
        """Stop ringing; by default to OHT so caller ID can follow (DAHDI keeps OHT 6 s after a ring)."""
        target = Linefeed.FORWARD_OHT if on_hook_transmission else Linefeed.FORWARD_ACTIVE
        self.set_linefeed(target.with_polarity(self.idle_linefeed.reversed))

    def _check_alarm(self, doing: str) -> None:
        status = self.read(ProslicReg.IRQ_STATUS_2)
        if status & 0xFC:
            actual = self.read(ProslicReg.LINEFEED)
            self.write(ProslicReg.IRQ_STATUS_2, status & 0xFC)
            self._linefeed = Linefeed.OPEN
            raise PowerAlarmError(self.port, f"power alarm while {doing}; the chip opened the line",
                                  {"DR19": status, "DR64": actual, "DR82": self.read(ProslicReg.VBATH_SENSE)})

    # ---------------------------------------------------------------------------------- status

    def battery_voltage(self) -> float:
        """VBATH in volts (DR82)."""
        return self.read(ProslicReg.VBATH_SENSE) * VBAT_LSB_V

    def loop_current_ma(self) -> float:
        """Loop current in mA (DR79)."""
        return self.read(ProslicReg.LOOP_CURRENT_SENSE) * LOOP_CURRENT_LSB_MA

    @property
    def off_hook(self) -> bool:
        """The debounced hook state."""
        return self._off_hook

    def poll(self, now: float | None = None) -> list[FxsEvent]:
        """Sample DR68/DR64/DR19 once; return hook changes (debounced), ring trips and power alarms.

        Hook debounce: a new state is reported once it has held ``hook_debounce_s``; the event carries
        the time it was first seen, so pulse-dialling breaks (15-200 ms, DAHDI) are timed from the edges.
        A power alarm re-writes the linefeed 250 ms later as DAHDI's ``recheck_sanity`` does, until
        MAX_POWER_ALARMS (one forgiven per 10 s), then raises :class:`PowerAlarmError` and disables the port.
        """
        if self.disabled:
            return []
        at = self.clock.now() if now is None else now
        events: list[FxsEvent] = []
        status = self.read(ProslicReg.IRQ_STATUS_2)
        loop = self.read(ProslicReg.LOOP_STATUS)
        if status & 0xFC:
            self.write(ProslicReg.IRQ_STATUS_2, status & 0xFC)
            if not self._alarms:
                self._last_forgiven = at
            elif at - self._last_forgiven >= 10.0:
                self._alarms -= 1
                self._last_forgiven = at
            self._alarms += 1
            events.append(PowerAlarm(self.port, at, status, self._alarms))
            log.warning("FXS port %d: power alarm DR19=%#04x (%d)", self.port, status, self._alarms)
            if self._alarms > MAX_POWER_ALARMS:
                self.disabled = True
                raise PowerAlarmError(self.port, f"{self._alarms} power alarms; port disabled", {"DR19": status})
            if self._linefeed is not Linefeed.OPEN:
                self._restore_at = at + ALARM_RECHECK_S
        if self._restore_at is not None and at >= self._restore_at:
            self._restore_at = None
            self.set_linefeed(self._linefeed)
        if status & 0x01 or loop & 0x02:
            self.write(ProslicReg.IRQ_STATUS_2, 0x01)
            if self._linefeed is Linefeed.RINGING:
                self.set_linefeed(self.idle_linefeed)
                events.append(RingTrip(self.port, at))
                if not self._off_hook:
                    self._off_hook, self._pending_since = True, None
                    events.append(HookChanged(self.port, True, at))
                return events
        raw = bool(loop & 0x01)
        if raw == self._off_hook:
            self._pending_since = None
        elif self._pending_since is None:
            self._pending_since = at
        if self._pending_since is not None and at - self._pending_since >= self.settings.hook_debounce_s:
            self._off_hook = raw
            events.append(HookChanged(self.port, raw, self._pending_since))
            self._pending_since = None
        return events
