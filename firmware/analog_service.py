"""The analog ports as a gateway service: the board from ``board.profile``, the TDM clock, the line logic, the
``FXS``/``FXO`` channel drivers and their console (``ports show``, ``sim phone ...``, ``sim line ...``).

:class:`AnalogSystem` is the composition (usable on its own by tests): it opens the board's backend (on the
simulated board: chip models, a phone on every FXS port and an exchange behind every FXO port), brings the
modules up, puts each working port's timeslot on one :class:`~core.mediaengine.tdm.TdmClock`, and on every
20 ms tick polls the chips and steps the lines (:class:`~drivers.fxs_fxo.channel.AnalogPorts`).  Per-port
settings come from ``[analog]`` and ``[[analog.ports]]`` over the port's country profile.

The simulated board boots on virtual time (calibration and converter ramps take no real time) and then
runs paced: its time is the PCM bus's sample count, moved at the real 8 kHz rate, so that SIP phones and
people can talk to it and dial pulses keep their timing even when the event loop runs late.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from board.assembly import BoardAssembly, BoardDescription, BoardError, load_description, populate_sim_board
from board.hal import Backend, HalError, open_backend
from core.callerid import CallerId
from core.cli import CliCommandFailed, CliRequest, CliUsageError, CommandRegistry
from core.dialplan.executor import DialplanExecutor
from core.mediaengine.engine import MediaEngineImpl
from core.mediaengine.tdm import TdmClock, TdmPort
from core.pbx import Pbx
from core.tones import ToneGenerator, parse_tone_list
from cython_media.spandsp import CallerIdStandard
from drivers.fxs_fxo.channel import AnalogPorts, FxoPortConfig, FxsPortConfig, RouteProbe, fxo_ring_delays
from drivers.fxs_fxo.countries import CountryError, CountryProfile, Disconnect, country_profile
from drivers.fxs_fxo.fxo_line import FxoOptions
from drivers.fxs_fxo.fxs_line import FxsOptions, Route
from drivers.fxs_fxo.registers import PcmLaw
from drivers.fxs_fxo.si3050 import Si3050
from drivers.fxs_fxo.si3215 import FileCalibrationStore, MemoryCalibrationStore, Si3215
from firmware.config import Config, data_dir
from firmware.config.schema import AnalogConfig, AnalogPortConfig
from firmware.services import ServiceStartError

log = logging.getLogger("centralita.analog")

FXS_HW_GAIN_DB = (-40.0, 6.0)     # Si3215 digital gain IR26/27: 0x4000 = 0 dB, at most 0x7FFF
FXO_HW_GAIN_DB = (-15.9, 12.9)    # Si3050 reg38-41 (DAHDI wctdm_set_hwgain)


def split_gain(db: float, limits: tuple[float, float]) -> tuple[float, float]:
    """(hardware, software) parts of a gain: the chip takes what it can (in 0.1 dB steps), software the rest."""
    hardware = round(max(limits[0], min(limits[1], db)), 1)
    return hardware, round(db - hardware, 3)


def dialplan_route(executor: DialplanExecutor) -> RouteProbe:
    """Overlap dialling against the loaded dialplan: Asterisk's exists / matchmore / canmatch."""

    def route(context: str, digits: str, caller: str) -> Route:
        index = executor.index
        if index is None:
            return Route.INVALID
        now = time.time()
        exists = index.exists(context, digits, 1, caller, now)
        more = index.match_more(context, digits, caller, now)
        if exists:
            return Route.AMBIGUOUS if more else Route.COMPLETE
        if more or index.can_match(context, digits, caller, now):
            return Route.INCOMPLETE
        return Route.INVALID

    return route


def port_profile(analog: AnalogConfig, port: AnalogPortConfig | None) -> CountryProfile:
    """The country profile of a port with the port's own overrides."""
    if port is None:
        return country_profile(analog.country)
    overrides: dict[str, Any] = {}
    if port.callerid_standard != "auto":
        overrides["callerid"] = port.callerid_standard
    if port.callerid_start != "auto":
        overrides["callerid_start"] = port.callerid_start
    if port.callerid_alert != "auto":
        overrides["callerid_alert"] = port.callerid_alert
    if port.ring_cadence:
        overrides["ring_cadence_ms"] = port.ring_cadence
    for name in ("flash_min_ms", "flash_max_ms", "flash_ms", "busy_count"):
        if getattr(port, name):
            overrides[name] = getattr(port, name)
    if port.disconnect:
        overrides["disconnect"] = port.disconnect
    if port.disconnect_tone:
        tone = port.disconnect_tone
        overrides["tones"] = {"disconnect": tone}
        overrides["disconnect_tone"] = "disconnect"
    if port.answer_on_polarity != "auto":
        overrides["answer_polarity"] = port.answer_on_polarity == "yes"
    profile = country_profile(port.country or analog.country)
    if overrides.get("disconnect_tone") == "disconnect" and overrides["tones"]["disconnect"] in profile.tones:
        overrides["disconnect_tone"] = overrides.pop("tones")["disconnect"]  # an indication name
    return profile.override(**overrides)


def tone_frequencies(profile: CountryProfile) -> dict[str, tuple[int, ...]]:
    """The first frequencies of a country's tones, for naming what a simulated peer hears."""
    known: dict[str, tuple[int, ...]] = {}
    for name in ("dial", "ring", "busy", "congestion", "callwaiting"):
        try:
            parts = parse_tone_list(profile.tone(name)).parts
        except (CountryError, ValueError):
            continue
        for part in parts:
            if part.freq1:
                freqs = (part.freq1,) if part.modulate or not part.freq2 else (part.freq1, part.freq2)
                known.setdefault(name, tuple(sorted(freqs)))
                break
    return known


class AnalogSystem:
    """A board's analog ports, running (see the module docstring)."""

    def __init__(self, assembly: BoardAssembly, clock: TdmClock, ports: AnalogPorts, *, world: Any = None,
                 peers: Any = None) -> None:
        self.assembly = assembly
        self.clock = clock
        self.ports = ports
        self.world = world
        self.peers = peers

    @classmethod
    async def build(cls, analog: AnalogConfig, board: BoardDescription | str, pbx: Pbx, engine: MediaEngineImpl, *,
                    route: RouteProbe | None = None, state_dir: Path | None = None, backend: Backend | None = None,
                    virtual_time: bool = False, echo_return_loss_db: float | None = 20.0) -> AnalogSystem:
        """Open and bring up the board, set every working port up as a channel resource.

        ``virtual_time`` keeps a simulated board on virtual time (tests); otherwise it switches to real
        time once the modules are up.  ``echo_return_loss_db`` is the hybrid echo of the simulated lines.
        """
        description = load_description(board) if isinstance(board, str) else board
        settings = {p.number: p for p in analog.ports}
        default_profile = country_profile(analog.country)
        world = None
        if backend is None:
            options: dict[str, object] = {"virtual_time": True} if description.backend == "sim" else {}
            backend = open_backend(description.backend, **options)
        if description.backend == "sim":
            world = populate_sim_board(backend, description)
        store = (FileCalibrationStore(state_dir / "proslic-calibration.json") if state_dir is not None
                 else MemoryCalibrationStore())
        assembly = BoardAssembly(description, backend, country=default_profile.daa, store=store)
        await assembly.start()
        sim_clock = getattr(backend, "clock", None)
        if world is not None and not virtual_time and callable(getattr(sim_clock, "pace", None)):
            sim_clock.pace()  # type: ignore[union-attr]
        assert assembly.pcm is not None
        now: Callable[[], float] = backend.clock.now
        ulaw = description.law is PcmLaw.ULAW
        clock = TdmClock(assembly.pcm, now, ulaw=ulaw)
        ports = AnalogPorts(pbx, now=now, route=route)
        on_delay, off_delay = fxo_ring_delays()
        for number, port in sorted(assembly.ports.items()):
            own = settings.get(number)
            profile = port_profile(analog, own)
            if port.kind == "fxs" and isinstance(port.driver, Si3215):
                hw_tx, sw_tx = split_gain(own.tx_gain_db if own else 0.0, FXS_HW_GAIN_DB)
                hw_rx, sw_rx = split_gain(own.rx_gain_db if own else 0.0, FXS_HW_GAIN_DB)
                if hw_tx or hw_rx:
                    port.driver.set_gains(to_line_db=hw_tx, from_line_db=hw_rx)
                tdm = clock.add_port(TdmPort(port.slot.pcm_slot, ulaw=ulaw, name=f"FXS/{number}", engine=engine,
                                             echo_cancel=bool(own and own.echo_cancel == "yes"),
                                             echo_tail_ms=own.echo_tail_ms if own else 128,
                                             rx_gain_db=sw_rx, tx_gain_db=sw_tx))
                fxs_options = FxsOptions(
                    profile=profile, first_digit_timeout_s=analog.first_digit_timeout,
                    digit_timeout_s=analog.digit_timeout, match_digit_timeout_s=analog.match_digit_timeout,
                    howler_after_s=analog.howler_after, immediate=bool(own and own.immediate),
                    call_waiting=own.call_waiting if own else True,
                    answer_polarity_reversal=bool(own and own.answer_polarity_reversal),
                    disconnect_open_loop_ms=own.disconnect_open_loop_ms if own else 0,
                    callerid=profile.callerid is not None)
                callerid_text = (own.callerid if own and own.callerid else analog.fxs_callerid).replace(
                    "{port}", str(number))
                ports.add_fxs(number, port.driver, tdm, FxsPortConfig(
                    line=fxs_options, context=(own.context if own and own.context else analog.fxs_context),
                    callerid=CallerId.parse(callerid_text)))
            elif port.kind == "fxo" and isinstance(port.driver, Si3050):
                hw_tx, sw_tx = split_gain(own.tx_gain_db if own else 0.0, FXO_HW_GAIN_DB)
                hw_rx, sw_rx = split_gain(own.rx_gain_db if own else 0.0, FXO_HW_GAIN_DB)
                if hw_tx or hw_rx:
                    port.driver.set_gains(to_line_db=hw_tx, from_line_db=hw_rx)
                tdm = clock.add_port(TdmPort(port.slot.pcm_slot, ulaw=ulaw, name=f"FXO/{number}", engine=engine,
                                             echo_cancel=not (own and own.echo_cancel == "no"),
                                             echo_tail_ms=own.echo_tail_ms if own else 128,
                                             rx_gain_db=sw_rx, tx_gain_db=sw_tx))
                fxo_options = FxoOptions(
                    profile=profile, immediate=bool(own and own.immediate), callerid=profile.callerid is not None,
                    dial_mode=own.dial_mode if own else "dtmf",
                    wait_for_dialtone=own.wait_for_dialtone if own else True,
                    loop_drop_ms=own.loop_drop_ms if own else 100,
                    ring_on_delay_s=on_delay, ring_off_delay_s=off_delay)
                ports.add_fxo(number, port.driver, tdm, FxoPortConfig(
                    line=fxo_options, context=(own.context if own and own.context else analog.fxo_context),
                    exten=(own.exten if own and own.exten else analog.fxo_exten),
                    groups=tuple(own.groups) if own and own.groups else (1,)))
            elif port.kind == "failed":
                log.error("analog port %d is out of service: %s", number, port.error)
        ports.register_drivers()
        clock.after_exchange.append(ports.tick_hook(assembly.poll))
        peers = None
        if world is not None:
            peers = cls._simulated_peers(backend, world, ports, echo_return_loss_db)
            clock.before_exchange.append(peers.before_exchange)
            clock.after_exchange.append(peers.after_exchange)
        return cls(assembly, clock, ports, world=world, peers=peers)

    @staticmethod
    def _simulated_peers(backend: Backend, world: Any, ports: AnalogPorts, echo_return_loss_db: float | None) -> Any:
        from board.sim.peers import CentralOfficeSignals, SimPeers, VirtualCentralOffice, VirtualPhone

        peers = SimPeers(world)
        for number, fxs in ports.fxs.items():
            profile = fxs.line.profile
            # A phone sold in the country: its own standard first (others still decode, as multi-standard sets do).
            standards = [s for s in CallerIdStandard if s is not profile.callerid]
            if profile.callerid is not None:
                standards.insert(0, profile.callerid)
            peers.add_phone(VirtualPhone(number, world.phone(number), known_tones=tone_frequencies(profile),
                                         callerid_standards=standards,
                                         pulse_break_ms=profile.pulse_break_ms, pulse_make_ms=profile.pulse_make_ms,
                                         pulse_interdigit_ms=profile.pulse_interdigit_ms,
                                         flash_ms=(profile.flash_min_ms + profile.flash_max_ms) // 2))
        models = getattr(backend, "models", [])
        for number, fxo in ports.fxo.items():
            line = world.line(number)
            model = next((m for m in models if getattr(m, "line", None) is line), None)
            if model is None:
                continue
            profile = fxo.line.profile

            def tones(name: str, profile: CountryProfile = profile) -> Callable[[int], bytes]:
                return ToneGenerator(profile.tone(name)).read

            signals = CentralOfficeSignals(
                ring_cadence_ms=profile.ring_cadence_ms, callerid=profile.callerid,
                callerid_start=profile.callerid_start.value, callerid_alert=profile.callerid_alert.value,
                callerid_delay_ms=profile.callerid_delay_ms, callerid_ring_gap_ms=profile.callerid_ring_gap_ms)
            def loop_closed(model: Any = model) -> bool:
                return bool(model.off_hook)

            office = VirtualCentralOffice(number, line, loop_closed, signals=signals, tones=tones,
                                          known_tones=tone_frequencies(profile),
                                          echo_return_loss_db=echo_return_loss_db)
            office.reverse_on_answer = profile.answer_polarity
            office.hangup_method = _HANGUP_METHODS.get(profile.disconnect[0], "battery") if profile.disconnect \
                else "battery"
            peers.add_line(office)
        return peers

    def start(self) -> None:
        """Start the TDM clock."""
        self.clock.start()

    async def stop(self) -> None:
        """Stop the clock, open the FXS lines and put the FXO lines on hook."""
        await self.clock.stop()
        await self.assembly.stop()

    def ports_show(self) -> str:
        """``ports show``: the modules found and their state, then each line's state."""
        return self.assembly.ports_show() + "\n\n" + self.ports.status()


class AnalogService:
    """The ``analog`` service of the gateway (see the module docstring)."""

    name = "analog"

    def __init__(self, config: Config, pbx: Pbx, registry: CommandRegistry, *, media: Any,
                 executor: DialplanExecutor) -> None:
        self.config = config
        self.pbx = pbx
        self.registry = registry
        self.media = media
        self.executor = executor
        self.system: AnalogSystem | None = None
        register_commands(registry, lambda: self.system)

    async def start(self) -> None:
        engine = getattr(self.media, "engine", None)
        if engine is None:
            raise ServiceStartError("the media engine must start before the analog ports")
        try:
            self.system = await AnalogSystem.build(self.config.analog, self.config.board.profile, self.pbx, engine,
                                                   route=dialplan_route(self.executor),
                                                   state_dir=data_dir(self.config))
        except (BoardError, HalError, CountryError) as exc:
            raise ServiceStartError(str(exc)) from None
        self.system.start()
        ports = self.system.ports
        log.info("analog: %d FXS and %d FXO ports (%s)", len(ports.fxs), len(ports.fxo), self.config.analog.country)

    async def stop(self) -> None:
        if self.system is not None:
            await self.system.stop()


# ------------------------------------------------------------------------------------------- console

_PHONE_USAGE = ("Usage: sim phone <n> offhook|onhook|dial <digits> [pulse]|flash [ms]|tone <hz> [seconds]|status\n"
                "       Drives the simulated phone on FXS port <n>.")
_HANGUP_METHODS = {Disconnect.BATTERY: "battery", Disconnect.LOOP_CURRENT: "battery", Disconnect.POLARITY: "polarity",
                   Disconnect.TONE: "busy"}

_LINE_USAGE = ("Usage: sim line <n> ring [<callerid>|cid <number> [<name>]]|answer|reverse|hangup|"
               "disconnect [battery|polarity|busy]|"
               "tone <hz> [seconds]|status\n       Drives the simulated exchange behind FXO port <n>.")


def register_commands(registry: CommandRegistry, system: Callable[[], AnalogSystem | None]) -> None:
    """``ports show``, ``sim phone`` and ``sim line``."""
    for words in ("ports show", "ports mwi", "sim phone", "sim line"):
        registry.unregister(words)

    def current() -> AnalogSystem:
        found = system()
        if found is None:
            raise CliCommandFailed("the analog ports are not running")
        return found

    def peers() -> Any:
        found = current().peers
        if found is None:
            raise CliCommandFailed("the board is not simulated: there is no simulated phone or line")
        return found

    def ports_show(request: CliRequest) -> str:
        if request.args:
            raise CliUsageError()
        return current().ports_show()

    def ports_mwi(request: CliRequest) -> str:
        args = request.args
        if len(args) not in (2, 3) or not args[0].isdigit() or args[1] not in ("on", "off") or (
                len(args) == 3 and (args[1] == "off" or not args[2].isdigit())):
            raise CliUsageError()
        number = int(args[0])
        port = current().ports.fxs.get(number)
        if port is None:
            raise CliCommandFailed(f"no FXS port {number}")
        count = int(args[2]) if len(args) == 3 else None
        port.set_message_waiting(args[1] == "on", count)
        return f"FXS port {number}: message waiting {args[1]}" + (f" ({count})" if count is not None else "")

    def sim_phone(request: CliRequest) -> str:
        from board.sim.peers import PeerError

        args = request.args
        if len(args) < 2 or not args[0].isdigit():
            raise CliUsageError()
        try:
            phone = peers().phone(int(args[0]))
            action, rest = args[1], args[2:]
            if action == "offhook" and not rest:
                phone.lift()
                return f"phone {phone.number}: off hook"
            if action == "onhook" and not rest:
                phone.hang_up()
                return f"phone {phone.number}: on hook"
            if action == "dial" and rest and (len(rest) == 1 or rest[1:] == ("pulse",)):
                seconds = phone.dial(rest[0], pulse=len(rest) == 2)
                return f"phone {phone.number}: dialling {rest[0]} ({'pulse' if len(rest) == 2 else 'DTMF'}, " \
                       f"{seconds:.1f} s)"
            if action == "flash" and len(rest) <= 1:
                phone.flash(int(rest[0]) if rest else None)
                return f"phone {phone.number}: flash ({int(rest[0]) if rest else phone.flash_ms} ms)"
            if action == "tone" and 1 <= len(rest) <= 2:
                phone.play_tone(float(rest[0]), float(rest[1]) if len(rest) == 2 else 2.0)
                return f"phone {phone.number}: playing {rest[0]} Hz"
            if action == "status" and not rest:
                return str(phone.status())
        except PeerError as exc:
            raise CliCommandFailed(str(exc)) from None
        except ValueError:
            raise CliUsageError() from None
        raise CliUsageError()

    def sim_line(request: CliRequest) -> str:
        from board.sim.peers import PeerError

        args = request.args
        if len(args) < 2 or not args[0].isdigit():
            raise CliUsageError()
        try:
            line = peers().line(int(args[0]))
            action, rest = args[1], args[2:]
            if action == "ring":
                number: str | None = None
                name: str | None = None
                if rest and rest[0] == "cid":
                    if len(rest) < 2:
                        raise CliUsageError()
                    number, name = rest[1], " ".join(rest[2:]) or None
                elif rest:  # the architecture's form: ring CALLERID, e.g. 5551234 or "Alice" <5551234>
                    caller = CallerId.parse(" ".join(rest))
                    number, name = caller.number or None, caller.name or None
                    if number is None:
                        raise CliUsageError()
                line.ring(number, name)
                return f"line {line.number}: ringing" + (f" with caller ID {number}" if number else "")
            if action == "answer" and not rest:
                line.answer()
                return f"line {line.number}: answered"
            if action == "reverse" and not rest:
                line.reverse()
                return f"line {line.number}: polarity reversed"
            if action == "hangup" and not rest:  # the far end hangs up as the line's country signals it
                action, rest = "disconnect", (line.hangup_method,)
            if action == "disconnect" and len(rest) <= 1:
                method = rest[0] if rest else "battery"
                line.disconnect(method)
                return f"line {line.number}: disconnect ({method})"
            if action == "tone" and 1 <= len(rest) <= 2:
                line.play_tone(float(rest[0]), float(rest[1]) if len(rest) == 2 else 2.0)
                return f"line {line.number}: playing {rest[0]} Hz"
            if action == "status" and not rest:
                return str(line.status())
        except PeerError as exc:
            raise CliCommandFailed(str(exc)) from None
        except ValueError:
            raise CliUsageError() from None
        raise CliUsageError()

    registry.register("ports show", ports_show, "Show the analog ports and their lines",
                      "Usage: ports show\n       Modules found on the board, their electrical state and each "
                      "line's call state.")
    registry.register("ports mwi", ports_mwi, "Set message waiting on an FXS phone",
                      "Usage: ports mwi <port> on [<count>]|off\n       FSK VMWI to the idle phone and stutter dial "
                      "tone while messages wait.")
    registry.register("sim phone", sim_phone, "Drive a simulated phone", _PHONE_USAGE)
    registry.register("sim line", sim_line, "Drive a simulated exchange line", _LINE_USAGE)


__all__ = ["AnalogService", "AnalogSystem", "dialplan_route", "port_profile", "register_commands", "split_gain"]
