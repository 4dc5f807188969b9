"""Board assembly: read a board description, find the modules by their identity registers, bring each up.

Two shapes of ``board/profiles/*.toml`` are understood:

- the simulated default (``sim-2fxs-2fxo``): ``[[ports]]`` with ``kind``/``chip``/``pcm_slot``, each module
  on its own chip select (as on a TDM400P, where every module has its own /CS);
- a real board (``oak8x-pi4``): ``[[spi]]`` chip selects (daisy chains of up to 4 modules), an optional
  ``[reset]`` line shared by the modules, and ``[[slots]]`` placing port numbers at chain positions and
  PCM timeslots.  What sits in a slot (Si3215, Si3050 or nothing) is found at boot.

Detection follows DAHDI (``wctdm.c`` probes a ProSLIC's DR0/DR8/DR11 first and falls back to the DAA's
reg2 == 0x03; OAK8X ``fx_auto_detect`` does the same per chain position): pulse the modules' reset, start
the PCM clock (the chips need it), switch the ProSLICs of each daisy chain to 3-byte framing, then probe
every position.  A port whose bring-up fails stays listed as failed with the driver's message.

``board`` normally sits below ``drivers``; this module is the composition root that joins them (it
imports the drivers, and the simulator only when the sim backend is used).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from board.hal import Backend, Direction, GpioLine, PcmBus, PcmConfig, SpiConfig, SpiDevice
from drivers.fxs_fxo.registers import Linefeed, PcmLaw
from drivers.fxs_fxo.si3050 import (
    DaaSpi,
    FxoEvent,
    FxoSettings,
    Si3050,
    Si3050Error,
    chip_id_for_position,
)
from drivers.fxs_fxo.si3215 import (
    CalibrationStore,
    FxsEvent,
    FxsSettings,
    ProslicSpi,
    Si3215,
    Si3215Error,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

log = logging.getLogger("centralita.board")

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
_CHIPS = {"fxs": ("si3210", "si3215", "si3216", "si3215m", "si3216m"), "fxo": ("si3050",)}


class BoardError(Exception):
    """A board description is unusable (``FILE: key: message``) or the board cannot be assembled."""


# ------------------------------------------------------------------------------------- description


@dataclass(frozen=True, slots=True)
class ChainDescription:
    """One SPI chip select and the modules behind it (a daisy chain when slots give positions)."""

    name: str
    device: str
    chip_select_line: str = ""
    speed_hz: int = 10_000_000
    mode: int = 3


@dataclass(frozen=True, slots=True)
class SlotDescription:
    """A place for a module: port ``number``, chip select ``chain`` (and ``position`` in a daisy chain),
    PCM timeslot.  ``kind``/``chip`` are what the profile declares ("auto" = detect)."""

    number: int
    chain: str
    pcm_slot: int
    position: int | None = None
    kind: str = "auto"
    chip: str = ""


@dataclass(frozen=True, slots=True)
class BoardDescription:
    """Everything the assembly needs to know about a board."""

    name: str
    backend: str
    pcm: PcmConfig
    chains: tuple[ChainDescription, ...]
    slots: tuple[SlotDescription, ...]
    description: str = ""
    reset_line: str = ""
    reset_active_low: bool = True
    law: PcmLaw = PcmLaw.ULAW

    def chain(self, name: str) -> ChainDescription:
        """The chip select called ``name``."""
        for chain in self.chains:
            if chain.name == name:
                return chain
        raise BoardError(f"{self.name}: no chip select '{name}'")


def _get(table: Mapping[str, Any], key: str, kind: type, where: str, default: Any = ...) -> Any:
    if key not in table:
        if default is ...:
            raise BoardError(f"{where}: missing key '{key}'")
        return default
    value = table[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BoardError(f"{where}: '{key}' must be {kind.__name__}, not {value!r}")
    return value


def parse_description(data: Mapping[str, Any], source: str = "<profile>") -> BoardDescription:
    """Build a :class:`BoardDescription` from a parsed profile (either shape); raises :class:`BoardError`."""
    name = _get(data, "name", str, source)
    backend = _get(data, "backend", str, source)
    pcm_table = _get(data, "pcm", dict, source, {})
    clock_hz = _get(pcm_table, "clock_hz", int, f"{source}: [pcm]", 2_048_000)
    slots_per_frame = _get(pcm_table, "slots", int, f"{source}: [pcm]", clock_hz // 64_000)
    pcm = PcmConfig(clock_hz=clock_hz, slots=slots_per_frame, device=_get(pcm_table, "device", str, source, ""),
                    period_frames=_get(pcm_table, "period_frames", int, source, 160))
    law = PcmLaw(_get(pcm_table, "law", str, source, "ulaw"))
    chains: list[ChainDescription] = []
    slots: list[SlotDescription] = []
    if "ports" in data:
        for i, port in enumerate(_get(data, "ports", list, source)):
            where = f"{source}: ports[{i}]"
            number = _get(port, "number", int, where)
            chain = ChainDescription(name=f"port{number}", device=f"sim:port{number}")
            chains.append(chain)
            slots.append(SlotDescription(number=number, chain=chain.name, pcm_slot=_get(port, "pcm_slot", int, where),
                                         kind=_get(port, "kind", str, where), chip=_get(port, "chip", str, where)))
    for i, spi in enumerate(_get(data, "spi", list, source, [])):
        where = f"{source}: spi[{i}]"
        chains.append(ChainDescription(
            name=_get(spi, "name", str, where), device=_get(spi, "device", str, where),
            chip_select_line=_get(spi, "chip_select_line", str, where, ""),
            speed_hz=_get(spi, "speed_hz", int, where, 10_000_000), mode=_get(spi, "mode", int, where, 3)))
    for i, slot in enumerate(_get(data, "slots", list, source, [])):
        where = f"{source}: slots[{i}]"
        slots.append(SlotDescription(
            number=_get(slot, "number", int, where), chain=_get(slot, "spi", str, where),
            pcm_slot=_get(slot, "pcm_slot", int, where), position=_get(slot, "position", int, where, None),
            kind=_get(slot, "kind", str, where, "auto"), chip=_get(slot, "chip", str, where, "")))
    reset = _get(data, "reset", dict, source, {})
    description = BoardDescription(
        name=name, backend=backend, pcm=pcm, chains=tuple(chains), slots=tuple(slots),
        description=_get(data, "description", str, source, ""),
        reset_line=_get(reset, "line", str, f"{source}: [reset]", ""),
        reset_active_low=_get(reset, "active_low", bool, f"{source}: [reset]", True), law=law)
    _check(description, source)
    return description


def _check(board: BoardDescription, source: str) -> None:
    names = {c.name for c in board.chains}
    if len(names) != len(board.chains):
        raise BoardError(f"{source}: a chip select name is used twice")
    seen_numbers: set[int] = set()
    seen_pcm: set[int] = set()
    seen_places: set[tuple[str, int | None]] = set()
    for slot in board.slots:
        where = f"{source}: port {slot.number}"
        if slot.chain not in names:
            raise BoardError(f"{where}: unknown chip select '{slot.chain}'")
        if slot.number in seen_numbers:
            raise BoardError(f"{where}: port number used twice")
        if slot.pcm_slot in seen_pcm or not 0 <= slot.pcm_slot < board.pcm.slots:
            raise BoardError(f"{where}: PCM timeslot {slot.pcm_slot} is used twice or outside 0..{board.pcm.slots - 1}")
        if (slot.chain, slot.position) in seen_places:
            raise BoardError(f"{where}: two modules at the same place on '{slot.chain}'")
        if slot.position is not None and not 0 <= slot.position <= 3:
            raise BoardError(f"{where}: daisy-chain position {slot.position} outside 0..3")
        if slot.kind not in ("auto", "fxs", "fxo"):
            raise BoardError(f"{where}: kind must be fxs, fxo or auto")
        if slot.chip and slot.chip not in _CHIPS.get(slot.kind, ()):
            raise BoardError(f"{where}: a {slot.kind} module does not carry a {slot.chip}")
        seen_numbers.add(slot.number)
        seen_pcm.add(slot.pcm_slot)
        seen_places.add((slot.chain, slot.position))


def load_description(name_or_path: str) -> BoardDescription:
    """Load ``board/profiles/<name>.toml`` or a path to a profile."""
    named = PROFILES_DIR / f"{name_or_path}.toml"
    path = Path(name_or_path).expanduser() if name_or_path.endswith(".toml") else named
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise BoardError(f"no board profile {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise BoardError(f"{path}: {exc}") from None
    return parse_description(data, str(path))


# ---------------------------------------------------------------------------------------- simulator


def populate_sim_board(backend: Backend, board: BoardDescription, world: Any = None,
                       population: Mapping[int, str | None] | None = None) -> Any:
    """Put chip models on a simulated backend for ``board`` and return the :class:`board.sim.world.World`.

    ``population`` maps port numbers to ``"si3215"``/``"si3210"``/``"si3050"`` or None (empty slot); by
    default every slot holds what the profile declares (an FXS Si3215 where it says "auto").
    """
    from board.backends.sim import SimBackend
    from board.sim.si3050 import Si3050Model
    from board.sim.si3215 import Si3215Model
    from board.sim.world import World

    if not isinstance(backend, SimBackend):
        raise BoardError("populate_sim_board needs the sim backend")
    world = world if world is not None else World()
    for slot in board.slots:
        chip = population.get(slot.number) if population is not None else (
            slot.chip or ("si3050" if slot.kind == "fxo" else "si3215"))
        if chip is None:
            continue
        name = f"{chip}@port{slot.number}"
        if chip == "si3050":
            backend.attach_chip(board.chain(slot.chain).device,
                                Si3050Model(backend.clock, world.line(slot.number), name=name, position=slot.position))
        else:
            backend.attach_chip(board.chain(slot.chain).device,
                                Si3215Model(backend.clock, world.phone(slot.number), name=name, part=chip,
                                            position=slot.position))
    if board.reset_line:
        backend.wire_reset(board.reset_line)
    return world


# ----------------------------------------------------------------------------------------- assembly


@dataclass
class Port:
    """One analog port as the assembly found it."""

    number: int
    slot: SlotDescription
    kind: str = "empty"  # fxs, fxo, empty, failed
    chip: str = ""
    driver: Si3215 | Si3050 | None = None
    error: str = ""
    probe: dict[str, int] = field(default_factory=dict)

    @property
    def fxs(self) -> Si3215:
        """The FXS driver (raises if this is not a working FXS port)."""
        if not isinstance(self.driver, Si3215):
            raise BoardError(f"port {self.number} is not a working FXS port")
        return self.driver

    @property
    def fxo(self) -> Si3050:
        """The FXO driver (raises if this is not a working FXO port)."""
        if not isinstance(self.driver, Si3050):
            raise BoardError(f"port {self.number} is not a working FXO port")
        return self.driver


class BoardAssembly:
    """The analog ports of a board: detection, bring-up, and the ``ports show`` text.

    ``country`` sets the DAA registers of every FXO port; ``store`` keeps ProSLIC calibrations.
    """

    def __init__(self, board: BoardDescription, backend: Backend, *, country: str = "US",
                 store: CalibrationStore | None = None) -> None:
        self.board = board
        self.backend = backend
        self.country = country
        self.store = store
        self.ports: dict[int, Port] = {s.number: Port(number=s.number, slot=s) for s in board.slots}
        self.pcm: PcmBus | None = None
        self._spi: dict[str, SpiDevice] = {}
        self._reset: GpioLine | None = None

    def _chain_device(self, name: str) -> SpiDevice:
        if name not in self._spi:
            chain = self.board.chain(name)
            self._spi[name] = self.backend.open_spi(SpiConfig(device=chain.device, speed_hz=chain.speed_hz,
                                                              mode=chain.mode, chip_select_line=chain.chip_select_line))
        return self._spi[name]

    async def start(self) -> None:
        """Start the PCM clock, reset the modules, detect them and bring every one up."""
        clock = self.backend.clock
        self.pcm = self.backend.open_pcm(self.board.pcm)
        self.pcm.start()
        if self.board.reset_line:
            self._reset = self.backend.request_line(self.board.reset_line, Direction.OUTPUT,
                                                    active_low=self.board.reset_active_low)
            self._reset.set(True)  # OAK8X codec_reset: low 1 ms, then 2 ms before access
            await clock.sleep(0.001)
            self._reset.set(False)
        await clock.sleep(0.002)
        self.detect()
        await asyncio.gather(*(self._bring_up(port) for port in self.ports.values() if port.kind in ("fxs", "fxo")))
        found = ", ".join(f"{p.number}:{p.kind}" for p in self.ports.values())
        log.info("board %s: %s", self.board.name, found)

    def detect(self) -> None:
        """Probe every slot: a ProSLIC (DR8 = 0x02, DR11 = 0x33) first, else a DAA (reg2 = 0x03), else empty."""
        by_chain: dict[str, list[Port]] = {}
        for port in self.ports.values():
            by_chain.setdefault(port.slot.chain, []).append(port)
        for chain, ports in by_chain.items():
            spi = self._chain_device(chain)
            if any(p.slot.position is not None for p in ports):
                ProslicSpi.enable_daisy_chain(spi)
            for port in ports:
                self._probe(spi, port)

    def _probe(self, spi: SpiDevice, port: Port) -> None:
        proslic = ProslicSpi(spi, port.slot.position)
        values = {f"DR{r}": proslic.read(r) for r in (0, 1, 6, 8, 11)}
        port.probe = dict(values)
        if len(set(values.values())) > 1 and not (values["DR8"] == 0x02 and values["DR11"] == 0x33):
            # Something drives the bus but is no ProSLIC; a DAA frame would desynchronise a ProSLIC's framing.
            port.kind, port.error = "failed", "a chip answers but is neither a ProSLIC nor a DAA"
            return
        if values["DR8"] == 0x02 and values["DR11"] == 0x33:
            kind = "fxs"
            part = {0x00: "si3215", 0x80: "si3216", 0x60: "si3215m", 0xE0: "si3216m"}.get(values["DR6"] & 0xE0, "")
            chip = part if values["DR1"] & 0x80 else "si3210"
        else:
            daa = DaaSpi(spi, chip_id_for_position(port.slot.position))
            port.probe["reg2"] = daa.read(2)
            if port.probe["reg2"] != 0x03:
                port.kind, port.chip = "empty", ""
                if port.slot.kind != "auto":
                    port.kind = "failed"
                    port.error = f"profile declares an {port.slot.kind.upper()} module; none answers"
                return
            kind, chip = "fxo", "si3050"
        if port.slot.kind not in ("auto", kind):
            port.kind, port.chip = "failed", chip
            port.error = f"profile declares {port.slot.kind.upper()}, found an {kind.upper()} module ({chip})"
            return
        port.kind, port.chip = kind, chip

    async def _bring_up(self, port: Port) -> None:
        spi = self._chain_device(port.slot.chain)
        clock = self.backend.clock
        try:
            if port.kind == "fxs":
                driver: Si3215 | Si3050 = Si3215(ProslicSpi(spi, port.slot.position), clock,
                                                 FxsSettings(pcm_slot=port.slot.pcm_slot, law=self.board.law),
                                                 port=port.number, pcm=self.pcm, store=self.store)
            else:
                driver = Si3050(DaaSpi(spi, chip_id_for_position(port.slot.position)), clock,
                                FxoSettings(pcm_slot=port.slot.pcm_slot, law=self.board.law, country=self.country),
                                port=port.number, pcm=self.pcm)
            await driver.bring_up()
        except (Si3215Error, Si3050Error) as exc:
            log.error("%s", exc)
            port.error = str(exc)
            port.kind = "failed"
            return
        port.driver = driver

    def poll(self, now: float | None = None) -> list[FxsEvent | FxoEvent]:
        """Poll every working port once (hook, ring trip, power alarm, ring, polarity, battery events)."""
        events: list[FxsEvent | FxoEvent] = []
        for port in self.ports.values():
            if port.driver is not None:
                try:
                    events.extend(port.driver.poll(now))
                except Si3215Error as exc:
                    port.kind, port.error, port.driver = "failed", str(exc), None
                    log.error("%s", exc)
        return events

    async def stop(self) -> None:
        """Open the FXS lines and put the FXO lines on hook; the PCM clock keeps running for the chips."""
        for port in self.ports.values():
            if isinstance(port.driver, Si3215):
                port.driver.set_linefeed(Linefeed.OPEN)
            elif isinstance(port.driver, Si3050):
                port.driver.release()

    def ports_show(self) -> str:
        """The text of the console's ``ports show``: one line per slot, then a summary."""
        header = f"{'Port':<5} {'Kind':<5} {'Chip':<8} {'Slot':<5} {'Where':<12} State"
        lines = [header]
        for number in sorted(self.ports):
            port = self.ports[number]
            where = port.slot.chain + ("" if port.slot.position is None else f"/{port.slot.position}")
            kind = port.kind.upper() if port.kind in ("fxs", "fxo") else "-"
            lines.append(f"{number:<5} {kind:<5} {port.chip or '-':<8} {port.slot.pcm_slot:<5} {where:<12} "
                         f"{self._state(port)}")
        counts = {k: sum(1 for p in self.ports.values() if p.kind == k) for k in ("fxs", "fxo", "empty", "failed")}
        lines.append(f"{len(self.ports)} slots: {counts['fxs']} FXS, {counts['fxo']} FXO, {counts['empty']} empty, "
                     f"{counts['failed']} failed (board {self.board.name})")
        return "\n".join(lines)

    def _state(self, port: Port) -> str:
        if port.kind == "empty":
            return "empty"
        if port.kind == "failed" or port.driver is None:
            return f"FAILED: {port.error}"
        if isinstance(port.driver, Si3215):
            fxs = port.driver
            if fxs.disabled:
                return "disabled after power alarms"
            hook = "off hook" if fxs.off_hook else "on hook"
            linefeed = fxs.actual_linefeed().name.lower().replace("_", " ")
            return f"{hook}, {linefeed}, VBAT {fxs.battery_voltage():.1f} V"
        fxo = port.driver
        voltage = fxo.line_voltage()
        if fxo.off_hook:
            return f"off hook, loop {fxo.loop_current_ma():.1f} mA, line {voltage} V"
        if fxo.ringing:
            return f"ringing, line {voltage} V"
        return f"on hook, line {voltage} V" + ("" if abs(voltage) >= fxo.country.battthresh_v else " (no battery)")


async def assemble(board: BoardDescription | str, backend: Backend | None = None, *, country: str = "US",
                   store: CalibrationStore | None = None, **backend_options: object) -> BoardAssembly:
    """Load (if given a name), open the backend (if not given), detect and bring up; returns the assembly."""
    from board.hal import open_backend

    description = load_description(board) if isinstance(board, str) else board
    backend = backend or open_backend(description.backend, **backend_options)
    assembly = BoardAssembly(description, backend, country=country, store=store)
    await assembly.start()
    return assembly
