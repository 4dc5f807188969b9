"""Si3050 voice DAA driver (with the Si3018/19 line side): one FXO port (a telephone line plugs in).

Sequence and supervision follow DAHDI ``wctdm.c`` (``wctdm_voicedaa_insane``, ``wctdm_init_voicedaa``,
``wctdm_voicedaa_check_hook``, ``wctdm_set_hwgain``) and the Si3050 register facts in
``shared/reference/hardware.md`` §2.  Per-country registers come from :mod:`drivers.fxs_fxo.daa_countries`.

Line logic calls :meth:`Si3050.poll` every 5-16 ms (DAHDI samples reg5 and reg29 every 16 ms) and gets
ring, polarity and battery events; it seizes and releases the line, flashes the hook and reads the loop
current and line voltage.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from board.hal import Clock, PcmBus, SpiDevice
from drivers.fxs_fxo.daa_countries import DaaCountry, daa_country
from drivers.fxs_fxo.registers import DaaReg, PcmLaw

log = logging.getLogger("centralita.analog")

LOOP_CURRENT_LSB_MA = 3.3  # reg12 LCS
PLL_LOCK_S = 0.002  # ~1 ms of PCLK before the PLL is locked (hardware.md §2.1)
ISO_LINK_TIMEOUT_S = 2.0  # DAHDI: "VoiceDAA did not bring up ISO link properly!"
RING_ON_RATE = 128 / 0.016  # DAHDI adds 128 per 16 ms check while RDTP/RDTN are seen ...
RING_OFF_RATE = 32 / 0.016  # ... and takes 32 away per check without them
ONHOOK = 0x08  # reg5: ONHM kept on hook so caller ID can be heard (DAHDI)
OFFHOOK = 0x09  # reg5: OH | ONHM (DAHDI writes 0x09)


class Si3050Error(Exception):
    """An FXO port failed; ``port`` is the port number, ``read`` the register values that show why."""

    def __init__(self, port: int, message: str, read: Mapping[str, int] | None = None) -> None:
        self.port = port
        self.read = dict(read or {})
        shown = ", ".join(f"{k}={v:#04x}" for k, v in self.read.items())
        super().__init__(f"FXO port {port}: {message}" + (f" (read {shown})" if shown else ""))


class DaaNoChipError(Si3050Error):
    """Nothing answers: reads give the bus's idle level."""


class DaaIdentityError(Si3050Error):
    """Something answers but reg2 is not 0x03 after reset (DAHDI ``wctdm_voicedaa_insane``)."""


class DaaNoPcmClockError(Si3050Error):
    """No PCM clock: the DAA's PLL cannot lock and its registers read 0."""


class IsoLinkError(Si3050Error):
    """The isolation link to the line side did not come up within 2 s (reg11 bits 7:4 stayed 0)."""


@dataclass(frozen=True, slots=True)
class RingStarted:
    """Ringing detected on the line (after the ring debounce)."""

    port: int
    at: float


@dataclass(frozen=True, slots=True)
class RingStopped:
    """Ringing stopped (no ring signal for four times the debounce)."""

    port: int
    at: float


@dataclass(frozen=True, slots=True)
class PolarityReversed:
    """The line's polarity changed and stayed (64 ms, DAHDI ``POLARITY_DEBOUNCE``); ``positive`` is the new sign."""

    port: int
    at: float
    positive: bool


@dataclass(frozen=True, slots=True)
class BatteryLost:
    """|line voltage| below the threshold for the debounce: far-end disconnect (kewlstart/CPC) or unplugged."""

    port: int
    at: float


@dataclass(frozen=True, slots=True)
class BatteryRestored:
    """Battery back on the line."""

    port: int
    at: float


FxoEvent = RingStarted | RingStopped | PolarityReversed | BatteryLost | BatteryRestored


@dataclass(frozen=True, slots=True)
class FxoSettings:
    """Per-port settings of an FXO port.

    ``country`` picks the DAA registers (ISO code or DAHDI opermode); ``full_wave_ring_detect`` is DAHDI's
    ``fwringdetect`` (reg18 = 2, reg24 = 0); ``flash_s`` the generated hook flash (DAHDI 750 ms);
    ``ring_debounce_s`` DAHDI's ``ringdebounce`` (64 ms); ``polarity_debounce_s`` 64 ms.
    """

    pcm_slot: int
    law: PcmLaw = PcmLaw.ULAW
    country: str = "US"
    full_wave_ring_detect: bool = False
    to_line_gain_db: float = 0.0
    from_line_gain_db: float = 0.0
    flash_s: float = 0.75
    ring_debounce_s: float = 0.064
    polarity_debounce_s: float = 0.064


def gain_registers(db: float) -> tuple[int, int]:
    """(whole dB, tenths) register pair for ``db`` in -15.9..+12.9 dB: n = n dB gain, 16 + n = n dB loss.

    DAHDI ``wctdm_set_hwgain`` (reg38/40 towards the line, reg39/41 from the line).
    """
    if not -15.9 <= db <= 12.9:
        raise ValueError(f"DAA gain {db} dB outside -15.9..+12.9 dB")
    tenths = round(abs(db) * 10)
    whole, fraction = divmod(tenths, 10)
    if db < 0:
        return (16 + whole if whole else 0), (16 + fraction if fraction else 0)
    return whole, fraction


class DaaSpi:
    """Register access framing of a Si3050: ``[0x20 | cid (0x60 read)] [register] [data]``.

    ``chip_id`` is 0 for a module on its own chip select (TDM400P); on a daisy chain it is the position,
    4-bit bit-reversed (DAHDI 24xxp/OAK8X: 0x00, 0x08, 0x04, 0x0C for positions 0-3) -- see
    :func:`chip_id_for_position`.
    """

    def __init__(self, spi: SpiDevice, chip_id: int = 0) -> None:
        self.spi = spi
        self.chip_id = chip_id & 0x1F

    def read(self, register: int) -> int:
        """Read a register."""
        return self.spi.transfer(bytes([0x60 | self.chip_id, register & 0x7F, 0xFF]))[2]

    def write(self, register: int, value: int) -> None:
        """Write a register."""
        self.spi.transfer(bytes([0x20 | self.chip_id, register & 0x7F, value & 0xFF]))


def chip_id_for_position(position: int | None) -> int:
    """The DAA chip ID of a daisy-chain position (4-bit reversal as DAHDI/OAK8X), 0 on its own chip select."""
    if position is None:
        return 0
    return int(f"{position & 0x0F:04b}"[::-1], 2)


class Si3050:
    """One Si3050 FXO port."""

    def __init__(self, access: DaaSpi, clock: Clock, settings: FxoSettings, *, port: int,
                 pcm: PcmBus | None = None) -> None:
        self.access = access
        self.clock = clock
        self.settings = settings
        self.port = port
        self.pcm = pcm
        self.country: DaaCountry = daa_country(settings.country)
        self.line_side_id = 0
        self._off_hook = False
        self._ring_level = 0.0
        self._ringing = False
        self._last_poll: float | None = None
        self._polarity: int | None = None
        self._polarity_candidate: tuple[int, float] | None = None
        self._battery: bool | None = None
        self._battery_candidate: tuple[bool, float] | None = None

    def read(self, register: int) -> int:
        """Read a register."""
        return self.access.read(register)

    def write(self, register: int, value: int) -> None:
        """Write a register."""
        self.access.write(register, value)

    # ------------------------------------------------------------------------------- bring-up

    def identify(self) -> None:
        """DAHDI ``wctdm_voicedaa_insane``: reg2 reads 0x03 after reset."""
        if self.pcm is not None and not self.pcm.running:
            raise DaaNoPcmClockError(self.port, "the PCM clock is stopped; start it before touching the DAA")
        control2 = self.read(DaaReg.CONTROL_2)
        if control2 == 0x03:
            return
        values = {"reg2": control2, "reg11": self.read(DaaReg.SYSTEM_REVISION)}
        if control2 == 0xFF:
            raise DaaNoChipError(self.port, "reads 0xFF: no DAA on this chip select", values)
        if control2 == 0x00 and values["reg11"] == 0x00:
            if self.pcm is None or not self.pcm.running:
                raise DaaNoPcmClockError(self.port, "registers read 0x00: no PCM clock reaching the DAA", values)
            raise DaaNoChipError(self.port, "registers read 0x00: no DAA (or no PCM clock reaching it)", values)
        raise DaaIdentityError(self.port, "not a Si3050 after reset (reg2 must read 0x03)", values)

    async def bring_up(self) -> None:
        """Reset, country registers, PCM slot then PCM on, power up the line side, on-hook line monitor, gains.

        hardware.md §2.3 (DAHDI ``wctdm_init_voicedaa``): reg1 = 0x80 and 100 ms; reg16, reg18/24, reg26,
        reg30, reg31 from the country; timeslots; reg6 = 0 and wait for reg11 bits 7:4 (2 s); reg5 = 0x08.
        """
        await self.clock.sleep(PLL_LOCK_S)
        self.identify()
        self.write(DaaReg.CONTROL_1, 0x80)
        await self.clock.sleep(0.1)
        self.identify()
        country = self.country
        self.write(DaaReg.PCM_SPI_MODE, self.settings.law.pcm_mode & ~0x20)
        self.write(DaaReg.INTERNATIONAL_1, country.reg16)
        if self.settings.full_wave_ring_detect:
            self.write(DaaReg.INTERNATIONAL_3, 0x02)
            self.write(DaaReg.RING_VALIDATION_3, 0x00)
        else:
            self.write(DaaReg.INTERNATIONAL_3, 0x00)
            self.write(DaaReg.RING_VALIDATION_3, 0x19)
        self.write(DaaReg.DC_TERMINATION, country.reg26)
        self.write(DaaReg.AC_TERMINATION, country.reg30)
        self.write(DaaReg.DAA_CONTROL_5, country.reg31)
        self.configure_pcm(self.settings.pcm_slot, self.settings.law)
        self.write(DaaReg.DAA_CONTROL_2, 0x00)
        deadline = self.clock.now() + ISO_LINK_TIMEOUT_S
        revision = self.read(DaaReg.SYSTEM_REVISION)
        while not revision & 0xF0:
            if self.clock.now() >= deadline:
                raise IsoLinkError(self.port, "the line side did not come up in 2 s (isolation link)",
                                   {"reg11": revision, "reg6": self.read(DaaReg.DAA_CONTROL_2)})
            await self.clock.sleep(0.01)
            revision = self.read(DaaReg.SYSTEM_REVISION)
        self.line_side_id = revision >> 4
        self.write(DaaReg.DAA_CONTROL_1, ONHOOK)
        self.set_gains(to_line_db=self.settings.to_line_gain_db, from_line_db=self.settings.from_line_gain_db)
        self.write(DaaReg.IRQ_SOURCE, 0x00)
        log.info("FXO port %d: Si3050 up, line side %#x, country %s", self.port, self.line_side_id, country.name)

    def configure_pcm(self, slot: int, law: PcmLaw) -> None:
        """Timeslot ``slot`` (reg34-37 = slot x 8) with PCM off, then reg33 = law with PCME."""
        offset = slot * 8
        self.write(DaaReg.PCM_SPI_MODE, law.pcm_mode & ~0x20)
        self.write(DaaReg.PCM_TX_START_LO, offset & 0xFF)
        self.write(DaaReg.PCM_TX_START_HI, offset >> 8)
        self.write(DaaReg.PCM_RX_START_LO, offset & 0xFF)
        self.write(DaaReg.PCM_RX_START_HI, offset >> 8)
        self.write(DaaReg.PCM_SPI_MODE, law.pcm_mode)

    def set_gains(self, *, to_line_db: float, from_line_db: float) -> None:
        """Hardware gains towards the line (reg38/40) and from the line (reg39/41)."""
        whole, tenths = gain_registers(to_line_db)
        self.write(DaaReg.TX_GAIN_2, whole)
        self.write(DaaReg.TX_GAIN_3, tenths)
        whole, tenths = gain_registers(from_line_db)
        self.write(DaaReg.RX_GAIN_2, whole)
        self.write(DaaReg.RX_GAIN_3, tenths)

    # --------------------------------------------------------------------------------- hook

    def seize(self) -> None:
        """Go off hook (reg5 = 0x09: OH with the on-hook monitor bit kept, as DAHDI)."""
        self.write(DaaReg.DAA_CONTROL_1, OFFHOOK)
        self._off_hook = True
        self._ringing, self._ring_level = False, 0.0

    def release(self) -> None:
        """Go on hook (reg5 = 0x08: on-hook line monitor on, for caller ID)."""
        self.write(DaaReg.DAA_CONTROL_1, ONHOOK)
        self._off_hook = False

    @property
    def off_hook(self) -> bool:
        """True while this driver holds the line."""
        return self._off_hook

    async def flash(self, duration_s: float | None = None) -> None:
        """Hook flash: on hook for ``duration_s`` (default the port's ``flash_s``), then off hook again."""
        self.release()
        await self.clock.sleep(self.settings.flash_s if duration_s is None else duration_s)
        self.seize()

    def set_onhook_monitor(self, enabled: bool) -> None:
        """On-hook line monitor (reg5 ONHM): on-hook audio (caller ID) reaches the PCM slot."""
        if not self._off_hook:
            self.write(DaaReg.DAA_CONTROL_1, ONHOOK if enabled else 0x00)

    # ------------------------------------------------------------------------------- status

    def line_voltage(self) -> int:
        """Tip-ring voltage in volts, signed by polarity (reg29, 1 V/LSB)."""
        value = self.read(DaaReg.LINE_VOLTAGE_STATUS)
        return value - 256 if value & 0x80 else value

    def loop_current_ma(self) -> float:
        """Loop current in mA while off hook (reg12 bits 4:0, 3.3 mA/LSB; 0x1F = overload)."""
        return (self.read(DaaReg.LINE_STATUS) & 0x1F) * LOOP_CURRENT_LSB_MA

    @property
    def ringing(self) -> bool:
        """The debounced ring state."""
        return self._ringing

    @property
    def battery_present(self) -> bool | None:
        """Debounced battery state (None until known)."""
        return self._battery

    def poll(self, now: float | None = None) -> list[FxoEvent]:
        """Sample reg5 and reg29 once; return ring, polarity and battery events (DAHDI ``voicedaa_check_hook``).

        Ring: while RDTP/RDTN are seen with battery present a level rises 128 per 16 ms and falls 32 per
        16 ms without them; ring on at 8 x ``ringdebounce`` (64 ms of ringing), off at 0 (~256 ms of silence).
        Battery: |reg29| below ``battthresh`` for ``battdebounce`` is a lost battery; polarity: a sign change
        that holds 64 ms is reported, the first polarity seen is only recorded.  reg5 is rewritten when it
        no longer holds what the driver wrote (DAHDI checks it every 16 ms).
        """
        at = self.clock.now() if now is None else now
        dt = 0.016 if self._last_poll is None else max(0.0, at - self._last_poll)
        self._last_poll = at
        events: list[FxoEvent] = []
        control = self.read(DaaReg.DAA_CONTROL_1)
        expected = OFFHOOK if self._off_hook else ONHOOK
        if control & 0x0B != expected & 0x0B:
            log.warning("FXO port %d: reg5 reads %#04x, rewriting %#04x", self.port, control, expected)
            self.write(DaaReg.DAA_CONTROL_1, expected)
        voltage = self.line_voltage()
        battery = abs(voltage) >= self.country.battthresh_v
        events.extend(self._battery_events(battery, at))
        if not self._off_hook:
            signal = bool(control & 0x60) and battery
            threshold = 8 * self.settings.ring_debounce_s * 1000
            if signal:
                self._ring_level = min(threshold, self._ring_level + RING_ON_RATE * dt)
                if self._ring_level >= threshold and not self._ringing:
                    self._ringing = True
                    events.append(RingStarted(self.port, at))
            else:
                self._ring_level = max(0.0, self._ring_level - RING_OFF_RATE * dt)
                if self._ring_level == 0.0 and self._ringing:
                    self._ringing = False
                    events.append(RingStopped(self.port, at))
        if battery:
            events.extend(self._polarity_events(1 if voltage > 0 else -1, at))
        return events

    def _battery_events(self, present: bool, at: float) -> list[FxoEvent]:
        if self._battery is None:
            self._battery = present
            return []
        if present == self._battery:
            self._battery_candidate = None
            return []
        if self._battery_candidate is None or self._battery_candidate[0] != present:
            self._battery_candidate = (present, at)
        if at - self._battery_candidate[1] >= self.country.battdebounce_ms / 1000:
            self._battery, self._battery_candidate = present, None
            return [BatteryRestored(self.port, at) if present else BatteryLost(self.port, at)]
        return []

    def _polarity_events(self, sign: int, at: float) -> list[FxoEvent]:
        if self._polarity is None:
            self._polarity = sign
            return []
        if sign == self._polarity:
            self._polarity_candidate = None
            return []
        if self._polarity_candidate is None or self._polarity_candidate[0] != sign:
            self._polarity_candidate = (sign, at)
        if at - self._polarity_candidate[1] >= self.settings.polarity_debounce_s:
            self._polarity, self._polarity_candidate = sign, None
            return [PolarityReversed(self.port, at, sign > 0)]
        return []
