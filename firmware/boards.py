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
    ports: list[PortSettings] = setting(default_factory=list)

    def check(self) -> list[tuple[tuple[str | int, ...], str]]:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        slots_per_frame = self.pcm.clock_hz // 8000 // 8
        numbers: set[int] = set()
        slots: set[int] = set()
        for i, port in enumerate(self.ports):
            if port.number in numbers:
                problems.append((("ports", i, "number"), f"port number {port.number} is used twice"))
            if port.pcm_slot in slots:
                problems.append((("ports", i, "pcm_slot"), f"PCM timeslot {port.pcm_slot} is used twice"))
            if port.pcm_slot >= slots_per_frame:
                problems.append((("ports", i, "pcm_slot"), f"PCM timeslot {port.pcm_slot} does not exist "
                                 f"at {self.pcm.clock_hz} Hz ({slots_per_frame} timeslots)"))
            numbers.add(port.number)
            slots.add(port.pcm_slot)
        return problems

    def count(self, kind: str) -> int:
        """How many ports of ``kind`` (``"fxs"``/``"fxo"``) the board has."""
        return sum(1 for p in self.ports if p.kind == kind)

    @property
    def summary(self) -> str:
        """``2 FXS + 2 FXO (simulated)``."""
        where = "simulated" if self.backend == "sim" else "hardware"
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
