"""Board profiles: which modules sit on which SPI chip select and PCM timeslot.

Profiles are TOML files in ``board/profiles/`` (``board.profile = "sim-2fxs-2fxo"``) or any path.
They are validated like the main configuration, with ``FILE:LINE`` errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from firmware.config.loader import load_document
from firmware.config.typed import ConfigError, ConfigIssue, setting

PROFILES_DIR = Path(__file__).resolve().parent.parent / "board" / "profiles"

_CHIP_OF_KIND = {"fxs": "si3215", "fxo": "si3050"}


@dataclass(frozen=True, slots=True, kw_only=True)
class PcmSettings:
    """[pcm]: the TDM highway between the modules and the host."""

    clock_hz: Literal[1536000, 2048000, 4096000, 8192000] = setting(
        2048000, doc="PCLK: 2.048 MHz carries 32 timeslots of 8 bits per 125 us frame")
    slots: int = setting(0, min=0, max=128, doc="timeslots the host moves per frame (0: all the clock carries; "
                         "the Pi's PCM block moves 8 in its 256-bit frame)")
    device: str = setting("", doc="ALSA device of the PCM interface (linux backend)")
    period_frames: int = setting(160, min=8, max=8000, doc="8 kHz frames per ALSA period")
    law: Literal["ulaw", "alaw"] = setting("ulaw", doc="companding on the highway")

    @property
    def timeslots(self) -> int:
        """Timeslots usable on the highway."""
        return self.slots or self.clock_hz // 8000 // 8


@dataclass(frozen=True, slots=True, kw_only=True)
class ResetSettings:
    """[reset]: the GPIO line that resets the modules."""

    line: str = setting("", doc="GPIO line name (e.g. GPIO17); empty: no reset line")
    active_low: bool = setting(True, doc="the modules are held in reset while the line is low")


@dataclass(frozen=True, slots=True, kw_only=True)
class SpiSettings:
    """[[spi]]: one SPI chip select and the modules behind it (a daisy chain)."""

    name: str = setting(doc="name the slots refer to")
    device: str = setting(doc="spidev device, e.g. /dev/spidev0.0")
    chip_select_line: str = setting("", doc="GPIO line toggled per byte by us; empty: the kernel drives CS")
    speed_hz: int = setting(10_000_000, min=100_000, max=50_000_000, doc="SPI clock")
    mode: int = setting(3, min=0, max=3, doc="SPI mode (the ProSLIC and DAA use 3)")


@dataclass(frozen=True, slots=True, kw_only=True)
class SlotSettings:
    """[[slots]]: a place for a module that is detected at boot."""

    number: int = setting(min=1, max=64, doc="port number as users see it")
    spi: str = setting(doc="the [[spi]] chip select it hangs on")
    position: int | None = setting(None, min=0, max=3, doc="position in the daisy chain")
    pcm_slot: int = setting(min=0, max=127, doc="8-bit timeslot on the PCM highway")
    kind: Literal["auto", "fxs", "fxo"] = setting("auto", doc="auto: whatever module is found")
    chip: str = setting("", doc="expected chip (empty: any)")


@dataclass(frozen=True, slots=True, kw_only=True)
class PortSettings:
    """[[ports]]: one analog port (a module with its chip)."""

    number: int = setting(min=1, max=64, doc="port number as users see it (FXS/1, FXO/3)")
    kind: Literal["fxs", "fxo"] = setting(doc="fxs: a phone plugs in; fxo: a line plugs in")
    chip: Literal["si3215", "si3050"] = setting(doc="the chip on the module")
    pcm_slot: int = setting(min=0, max=127, doc="8-bit timeslot on the PCM highway")

    def check(self) -> list[tuple[tuple[str | int, ...], str]]:
        if _CHIP_OF_KIND[self.kind] != self.chip:
            return [(("chip",), f"port {self.number}: a {self.kind.upper()} port uses a "
                                f"{_CHIP_OF_KIND[self.kind]}, not a {self.chip}")]
        return []


@dataclass(frozen=True, slots=True, kw_only=True)
class BoardProfile:
    """A board description."""

    name: str = setting(doc="profile name")
    description: str = setting("", doc="one line for people")
    backend: Literal["sim", "linux"] = setting(doc="sim: the simulated board; linux: spidev/gpiod/ALSA")
    pcm: PcmSettings = setting(default_factory=PcmSettings)
    reset: ResetSettings = setting(default_factory=ResetSettings)
    ports: list[PortSettings] = setting(default_factory=list)
    spi: list[SpiSettings] = setting(default_factory=list)
    slots: list[SlotSettings] = setting(default_factory=list)

    def check(self) -> list[tuple[tuple[str | int, ...], str]]:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        slots_per_frame = self.pcm.timeslots
        chains = {spi.name for spi in self.spi}
        places: set[tuple[str, int | None]] = set()
        for i, slot in enumerate(self.slots):
            if slot.spi not in chains:
                problems.append((("slots", i, "spi"), f"slot {slot.number}: no [[spi]] named '{slot.spi}'"))
            if (slot.spi, slot.position) in places:
                problems.append((("slots", i, "position"), f"slot {slot.number}: {slot.spi} position "
                                 f"{slot.position} is used twice"))
            places.add((slot.spi, slot.position))
        numbers: set[int] = set()
        slots: set[int] = set()
        placed: list[tuple[str, int, int, int]] = [("ports", i, p.number, p.pcm_slot) for i, p in enumerate(self.ports)]
        placed += [("slots", i, s.number, s.pcm_slot) for i, s in enumerate(self.slots)]
        for table, i, number, pcm_slot in placed:
            if number in numbers:
                problems.append(((table, i, "number"), f"port number {number} is used twice"))
            if pcm_slot in slots:
                problems.append(((table, i, "pcm_slot"), f"PCM timeslot {pcm_slot} is used twice"))
            if pcm_slot >= slots_per_frame:
                problems.append(((table, i, "pcm_slot"), f"PCM timeslot {pcm_slot} does not exist "
                                 f"at {self.pcm.clock_hz} Hz ({slots_per_frame} timeslots)"))
            numbers.add(number)
            slots.add(pcm_slot)
        return problems

    def count(self, kind: str) -> int:
        """How many ports of ``kind`` (``"fxs"``/``"fxo"``) the board has."""
        return sum(1 for p in self.ports if p.kind == kind)

    @property
    def summary(self) -> str:
        """``2 FXS + 2 FXO (simulated)``, or ``up to 8 modules detected at boot (hardware)``."""
        where = "simulated" if self.backend == "sim" else "hardware"
        if self.slots:
            return f"up to {len(self.slots)} modules detected at boot ({where})"
        return f"{self.count('fxs')} FXS + {self.count('fxo')} FXO ({where})"


def available_profiles() -> list[str]:
    """Names of the profiles shipped in ``board/profiles``."""
    return sorted(p.stem for p in PROFILES_DIR.glob("*.toml"))


def profile_path(name: str) -> Path | None:
    """The file of a profile given by name (``board/profiles/<name>.toml``) or by path."""
    path = Path(name).expanduser() if name.endswith(".toml") else PROFILES_DIR / f"{name}.toml"
    return path if path.is_file() else None


def load_profile(name: str) -> BoardProfile:
    """Load a profile by name or path; raises :class:`ConfigError` with the profile's FILE:LINE."""
    path = profile_path(name)
    if path is None:
        known = ", ".join(available_profiles()) or "none"
        raise ConfigError([ConfigIssue("board.profile", None, f"no board profile '{name}' (available: {known})")])
    return load_document(BoardProfile, path)
