"""The ``FXS`` and ``FXO`` channel technologies: analog ports as PBX channels.

``FXS/1`` rings the phone on port 1 (``Dial(FXS/1)``); a phone that dials becomes an inbound ``FXS/1-...``
channel in its port's context with the dialled digits as the extension.  ``FXO/3/5551234`` seizes port 3 and
dials; ``FXO/g1/5551234`` takes the first idle line of group 1 (``G``: the last, ``r``/``R``: round robin
from the line after the last one used, as chan_dahdi's ``Dial(DAHDI/g1)`` family); a call ringing in on an
FXO line becomes an inbound channel in the port's context at extension ``s`` (or a configured one) with
CALLERID(num/name) from the caller ID captured on the line.

Each port is a shell around a sans-IO line state machine (:class:`~drivers.fxs_fxo.fxs_line.FxsLine`,
:class:`~drivers.fxs_fxo.fxo_line.FxoLine`): it feeds the line the chip's events (hook switch, ringing,
polarity, battery), the digits and tones found in the port's audio and the time, and carries out what the
line asks -- on the chip (Si3215 linefeed, ring and polarity; Si3050 hook) and on the port's TDM timeslot
(:class:`~core.mediaengine.tdm.TdmPort`: tones, caller ID, DTMF).  Every channel on a port has its own
:class:`~core.mediaengine.tdm.TdmLeg` as ``channel.audio``; the line decides which one is heard (call waiting).
:class:`AnalogPorts` holds the ports, the two drivers and the per-tick work the TDM clock calls.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from core.callerid import CallerId, Presentation
from core.causes import HangupCause
from core.channel import (
    Channel,
    ChannelDriver,
    ChannelState,
    ChannelUnavailable,
    DeviceState,
    DigitReceived,
    Direction,
    Indication,
    IndicationReceived,
)
from core.mediaengine.tdm import TdmLeg, TdmPort
from core.pbx import Pbx
from core.tones import ToneGenerator
from cython_media import spandsp
from cython_media.deferred import DeferredDetector
from cython_media.spandsp import (
    Absence,
    CallerIdMessage,
    CallerIdStandard,
    MessageWaiting,
    SpandspError,
)
from drivers.fxs_fxo.countries import Disconnect
from drivers.fxs_fxo.fxo_line import (
    CadenceToneDetector,
    Disconnected,
    FxoLine,
    FxoOptions,
    FxoState,
    IncomingCall,
    IncomingCancelled,
    Release,
    RemoteAnswered,
    Seize,
    SendDigits,
    ToneShape,
)
from drivers.fxs_fxo.fxs_line import (
    CallAnswered,
    CallHeld,
    CallHungUp,
    CallOriginated,
    CallResumed,
    DigitDialled,
    Feed,
    FlashPressed,
    FxsLine,
    FxsOptions,
    FxsState,
    Offer,
    PlayTone,
    RingOff,
    RingOn,
    Route,
    SendData,
    SetFeed,
    SetPolarity,
    StopSignal,
)
from drivers.fxs_fxo.registers import Linefeed
from drivers.fxs_fxo.si3050 import (
    RING_OFF_RATE,
    RING_ON_RATE,
    BatteryLost,
    BatteryRestored,
    FxoEvent,
    PolarityReversed,
    RingStarted,
    RingStopped,
    Si3050,
    Si3050Error,
)
from drivers.fxs_fxo.si3215 import FxsEvent, HookChanged, PowerAlarm, RingTrip, Si3215, Si3215Error

log = logging.getLogger("centralita.analog")

RouteProbe = Callable[[str, str, str], Route]
"""(context, digits, caller number) -> what the dialplan says of the digits."""


class AnalogError(Exception):
    """An analog port cannot be set up (a port number used twice, a timeslot clash)."""


# ----------------------------------------------------------------------------------------- signals


class _ToneSignal:
    """A tone list (Asterisk syntax) as a :class:`~core.mediaengine.tdm.Signal`; ends when a list of ``!``
    elements has played out."""

    def __init__(self, tone: str, level_dbm0: float | None) -> None:
        self.generator = ToneGenerator(tone) if level_dbm0 is None else ToneGenerator(tone, level_dbm0=level_dbm0)

    def read(self, samples: int) -> bytes | None:
        if self.generator.finished:
            return None
        return self.generator.read(samples)


class _DataSignal:
    """On-hook (or type II) caller ID / VMWI as a signal (spandsp ``adsi_tx``)."""

    def __init__(self, message: CallerIdMessage | MessageWaiting, standard: CallerIdStandard, sdmf: bool) -> None:
        self.generator = spandsp.CallerIdGenerator(standard, sdmf=sdmf)
        self.generator.send(message)

    def read(self, samples: int) -> bytes | None:
        if self.generator.done:
            return None
        return self.generator.generate(samples)


def caller_id_message(caller: CallerId, standard: CallerIdStandard, when: float) -> CallerIdMessage:
    """The on-hook caller-ID message for ``caller`` in ``standard`` (date/time ``MMDDHHMM`` of ``when``).

    A restricted caller is sent as "private" (P), an unknown number as "unavailable" (O) -- GR-30 and
    EN 300 659-3 reasons for absence; DTMF carries digits only, so anything else is "unavailable" there.
    """
    number = caller.number
    absence = None
    if caller.is_restricted:
        number, absence = "", Absence.PRIVATE
    if standard is CallerIdStandard.DTMF and number and not number.isdigit():
        number = ""
    if not number:
        absence = absence or Absence.UNAVAILABLE
    name = caller.name.encode("latin-1", "replace").decode("latin-1")[:64] if caller.name else None
    if caller.is_restricted:
        name = None
    datetime = time.strftime("%m%d%H%M", time.localtime(when))
    return CallerIdMessage(number=number or None, name=name or None, datetime=datetime,
                           number_absence=None if number else absence,
                           name_absence=Absence.PRIVATE if caller.is_restricted else None)


def _caller_from(message: CallerIdMessage | None) -> CallerId:
    if message is None:
        return CallerId()
    presentation = Presentation.ALLOWED
    if message.number_absence is Absence.PRIVATE:
        presentation = Presentation.RESTRICTED
    elif message.number_absence is not None:
        presentation = Presentation.UNAVAILABLE
    return CallerId(number=message.number or "", name=message.name or "", presentation=presentation)


# ------------------------------------------------------------------------------------------ configs


@dataclass(frozen=True, slots=True)
class FxsPortConfig:
    """An FXS port: line behaviour, the context its calls start in, who the phone is."""

    line: FxsOptions
    context: str = "from-fxs"
    callerid: CallerId = field(default_factory=CallerId)
    language: str = "en"


@dataclass(frozen=True, slots=True)
class FxoPortConfig:
    """An FXO port: line behaviour, where its incoming calls go, its hunt groups."""

    line: FxoOptions
    context: str = "from-pstn"
    exten: str = "s"
    groups: tuple[int, ...] = (1,)
    language: str = "en"


@dataclass(slots=True)
class _Leg:
    """What a driver keeps per analog channel."""

    port: FxsPort | FxoPort
    call: int
    audio: TdmLeg
    number: str = ""


def _leg(channel: Channel) -> _Leg:
    tech = channel.tech
    if not isinstance(tech, _Leg):
        raise AnalogError(f"{channel.name} is not an analog channel")
    return tech


# -------------------------------------------------------------------------------------------- FXS


class FxsPort:
    """One FXS port: the Si3215, its timeslot and its line logic."""

    kind = "fxs"

    def __init__(self, ports: AnalogPorts, number: int, chip: Si3215, tdm: TdmPort, config: FxsPortConfig) -> None:
        self.ports = ports
        self.number = number
        self.chip = chip
        self.tdm = tdm
        self.config = config
        self.line = FxsLine(number, config.line, self._route)
        self.calls: dict[int, Channel] = {}
        self.failed = ""
        tdm.on_digit = self._on_digit

    def _route(self, digits: str) -> Route:
        return self.ports.route(self.config.context, digits, self.config.callerid.number)

    def _on_digit(self, digit: str, duration_ms: int) -> None:
        self.line.dtmf(digit, duration_ms, self.ports.now())
        self.apply()

    def handle(self, event: FxsEvent) -> None:
        """A chip event for this port."""
        if isinstance(event, HookChanged):
            self.line.hook(event.off_hook, event.at)
        elif isinstance(event, RingTrip):
            self.line.ring_trip(event.at)
        elif isinstance(event, PowerAlarm):
            log.warning("FXS port %d: power alarm %d (DR19=%#04x)", self.number, event.count, event.status)
        self.apply()

    def step(self, now: float) -> None:
        """Timers of the line (every tick)."""
        self.line.tick(now)
        self.apply()

    @property
    def available(self) -> bool:
        """True when the port can take a call now (ring it, or signal a waiting call)."""
        line = self.line
        if self.failed or self.chip.disabled:
            return False
        if line.state is FxsState.IDLE and not line.off_hook:
            return True
        return (line.state is FxsState.TALKING and line.options.call_waiting and line.other is None
                and len(self.calls) < 2)

    def apply(self) -> None:
        """Carry out what the line asked for."""
        for action in self.line.pop_actions():
            try:
                self._apply(action)
            except (Si3215Error, SpandspError) as exc:
                self._failure(str(exc))

    def _apply(self, action: object) -> None:
        chip, tdm = self.chip, self.tdm
        if isinstance(action, RingOn):
            chip.ring_on()
        elif isinstance(action, RingOff):
            chip.ring_off()
        elif isinstance(action, SetFeed):
            if action.feed is Feed.ACTIVE:
                chip.set_linefeed(chip.idle_linefeed)
            elif action.feed is Feed.OHT:
                chip.set_linefeed(Linefeed.FORWARD_OHT.with_polarity(chip.idle_linefeed.reversed))
            else:
                chip.set_linefeed(Linefeed.OPEN)
        elif isinstance(action, SetPolarity):
            chip.set_polarity(action.reverse)
        elif isinstance(action, PlayTone):
            tdm.play(_ToneSignal(action.tone, action.level_dbm0), self._signal_done if action.notify else None,
                     overlay=action.overlay)
        elif isinstance(action, SendData):
            tdm.play(_DataSignal(action.message, action.standard, action.sdmf), self._signal_done)
        elif isinstance(action, StopSignal):
            tdm.play(None)
        elif isinstance(action, CallOriginated):
            self._originate(action.call, action.number)
        elif isinstance(action, CallAnswered):
            channel = self.calls.get(action.call)
            if channel is not None:
                tdm.activate(_leg(channel).audio)
                channel.remote_answered()
        elif isinstance(action, CallHeld):
            channel = self.calls.get(action.call)
            if channel is not None:
                if tdm.active is _leg(channel).audio:
                    tdm.activate(None)
                channel.queue_event(IndicationReceived(Indication.HOLD))
        elif isinstance(action, CallResumed):
            channel = self.calls.get(action.call)
            if channel is not None:
                tdm.activate(_leg(channel).audio)
                channel.queue_event(IndicationReceived(Indication.UNHOLD))
        elif isinstance(action, CallHungUp):
            channel = self.calls.get(action.call)
            if channel is not None:
                channel.remote_hungup(HangupCause.NORMAL_CLEARING)
        elif isinstance(action, DigitDialled):
            channel = self.calls.get(action.call)
            if channel is not None:
                channel.queue_event(DigitReceived(action.digit, action.duration_ms))
        elif isinstance(action, FlashPressed):
            channel = self.calls.get(action.call)
            if channel is not None:
                channel.queue_event(IndicationReceived(Indication.FLASH))

    def _signal_done(self) -> None:
        self.line.signal_done(self.ports.now())
        self.apply()

    def _failure(self, reason: str) -> None:
        log.error("%s", reason)
        for call, channel in list(self.calls.items()):
            if self.line.active == call or self.line.state is FxsState.RINGING:
                self.line.remote_hungup(call, self.ports.now())
                channel.remote_hungup(HangupCause.DESTINATION_OUT_OF_ORDER)
        self.line.pop_actions()

    def _originate(self, call: int, number: str) -> None:
        ports = self.ports
        driver = ports.fxs_driver
        audio = self.tdm.open_leg(activate=True)
        channel = ports.pbx.new_channel(driver, str(self.number), direction=Direction.INBOUND,
                                        caller=self.config.callerid, context=self.config.context, exten=number,
                                        state=ChannelState.RING)
        channel.dnid = number
        channel.language = self.config.language
        self._attach(channel, call, audio)
        log.info("FXS port %d dialled %s in [%s]: %s", self.number, number, self.config.context, channel.name)
        ports.pbx.start_inbound(channel)

    def _attach(self, channel: Channel, call: int, audio: TdmLeg) -> None:
        channel.tech = _Leg(self, call, audio)
        channel.audio = audio
        self.calls[call] = channel

        def gone(ended: Channel) -> None:
            self.calls.pop(call, None)
            audio.close()

        channel.add_hangup_callback(gone)

    def set_message_waiting(self, waiting: bool, count: int | None = None) -> None:
        """Messages wait for this phone (or no longer): FSK VMWI on the idle line (GR-30 / EN 300 659-3
        MDMF message waiting) and stutter dial tone when it is lifted."""
        self.line.set_message_waiting(waiting, count, self.ports.now())
        self.apply()

    def describe(self) -> str:
        """The line's state for ``ports show``."""
        names = ", ".join(c.name for c in self.calls.values())
        return self.line.describe() + (f" [{names}]" if names else "")


class FxsChannelDriver(ChannelDriver):
    """``FXS/<port>``: the phones plugged into FXS ports."""

    technology = "FXS"
    description = "Analog phone on an FXS port (Si3215)"

    def __init__(self, ports: AnalogPorts) -> None:
        self.ports = ports

    def _port(self, resource: str) -> FxsPort:
        text = resource.split("/", 1)[0]
        port = self.ports.fxs.get(int(text)) if text.isdigit() else None
        if port is None:
            raise ChannelUnavailable(HangupCause.UNALLOCATED, f"no FXS port {resource}")
        return port

    async def request(self, resource: str, *, requestor: Channel | None = None) -> Channel:
        port = self._port(resource)
        if port.failed or port.chip.disabled:
            raise ChannelUnavailable(HangupCause.DESTINATION_OUT_OF_ORDER, f"FXS port {port.number} is out of order")
        if not port.available:
            raise ChannelUnavailable(HangupCause.USER_BUSY, f"FXS port {port.number} is busy")
        channel = self.ports.pbx.new_channel(self, str(port.number), direction=Direction.OUTBOUND)
        channel.language = port.config.language
        port._attach(channel, port.line.new_call_id(), port.tdm.open_leg())
        return channel

    async def call(self, channel: Channel, *, timeout: float | None = None) -> None:
        leg = _leg(channel)
        port = leg.port
        assert isinstance(port, FxsPort)
        standard = port.line.profile.callerid
        message = None
        if standard is not None:
            message = caller_id_message(channel.caller, standard, self.ports.wallclock())
        offer = port.line.offer_call(leg.call, message, self.ports.now())
        port.apply()
        if offer is Offer.BUSY:
            raise ChannelUnavailable(HangupCause.USER_BUSY, f"FXS port {port.number} is busy")
        channel.set_state(ChannelState.RINGING)
        channel.queue_event(IndicationReceived(Indication.RINGING))

    async def answer(self, channel: Channel) -> None:
        leg = _leg(channel)
        port = leg.port
        assert isinstance(port, FxsPort)
        port.line.answered_by_pbx(leg.call, self.ports.now())
        port.apply()

    async def hangup(self, channel: Channel, cause: HangupCause) -> None:
        leg = _leg(channel)
        port = leg.port
        assert isinstance(port, FxsPort)
        port.line.remote_hungup(leg.call, self.ports.now(), busy=cause is HangupCause.USER_BUSY)
        port.apply()
        leg.audio.close()

    async def indicate(self, channel: Channel, indication: Indication) -> bool:
        leg = _leg(channel)
        port = leg.port
        assert isinstance(port, FxsPort)
        tones = {Indication.RINGING: "ring", Indication.BUSY: "busy", Indication.CONGESTION: "congestion"}
        if indication in tones:
            port.line.indicate(leg.call, tones[indication])
        elif indication in (Indication.PROGRESS, Indication.PROCEEDING):
            port.line.indicate(leg.call, None)
        elif indication not in (Indication.HOLD, Indication.UNHOLD, Indication.SRCUPDATE):
            return False
        port.apply()
        return True

    async def send_digit(self, channel: Channel, digit: str, duration_ms: int) -> bool:
        return _leg(channel).audio.send_digit(digit, duration_ms)

    def device_state(self, resource: str) -> DeviceState:
        try:
            port = self._port(resource)
        except ChannelUnavailable:
            return DeviceState.INVALID
        if port.failed or port.chip.disabled:
            return DeviceState.UNAVAILABLE
        state = port.line.state
        if state is FxsState.IDLE:
            return DeviceState.NOT_INUSE
        if state is FxsState.RINGING:
            return DeviceState.RINGING
        return DeviceState.RINGINUSE if port.line.other is not None else DeviceState.INUSE


# -------------------------------------------------------------------------------------------- FXO


class FxoPort:
    """One FXO port: the Si3050, its timeslot and its line logic."""

    kind = "fxo"

    def __init__(self, ports: AnalogPorts, number: int, chip: Si3050, tdm: TdmPort, config: FxoPortConfig) -> None:
        self.ports = ports
        self.number = number
        self.chip = chip
        self.tdm = tdm
        self.config = config
        self.line = FxoLine(number, config.line)
        self.calls: dict[int, Channel] = {}
        self.reserved: Channel | None = None
        self.failed = ""
        profile = config.line.profile
        standard = profile.callerid
        # Made with the first FSK or DTMF the line carries (cython_media.deferred): an idle line loads no DSP.
        self.callerid_decoder = DeferredDetector(lambda: spandsp.CallerIdDecoder(standard)) \
            if standard is not None and config.line.callerid else None
        self.disconnect_detector = CadenceToneDetector(
            "disconnect", ToneShape.of(profile.tone(profile.disconnect_tone)), count=profile.busy_count)
        self.dialtone_detector = CadenceToneDetector("dial", ToneShape.of(profile.tone("dial")))
        self.message_waiting: MessageWaiting | None = None
        self.last_caller: CallerIdMessage | None = None
        self._sending_digits = False
        tdm.listeners.append(self._listen)
        tdm.on_digit = self._on_digit

    def _listen(self, frame: bytes) -> None:
        line = self.line
        now = self.ports.now()
        if not line.off_hook:
            decoder = self.callerid_decoder
            if decoder is not None and line.state in (FxoState.IDLE, FxoState.RINGING):
                for message in decoder.feed(frame):
                    if isinstance(message, MessageWaiting):
                        self.message_waiting = message
                    else:
                        self.last_caller = message
                        line.caller_id(message, now)
        else:
            if line.state is FxoState.SEIZED and self.dialtone_detector.feed(frame):
                line.dialtone(now)
            if line.state in (FxoState.CALLING, FxoState.TALKING) and Disconnect.TONE in line.profile.disconnect:
                if self.disconnect_detector.feed(frame):
                    line.disconnect_tone(now)
        self.apply()

    def _on_digit(self, digit: str, duration_ms: int) -> None:
        call = self.line.call
        channel = self.calls.get(call) if call is not None else None
        if channel is not None and self.line.state is FxoState.TALKING:
            channel.queue_event(DigitReceived(digit, duration_ms))

    def handle(self, event: FxoEvent) -> None:
        """A chip event for this port."""
        line = self.line
        if isinstance(event, RingStarted):
            line.ring_started(event.at)
        elif isinstance(event, RingStopped):
            line.ring_stopped(event.at)
        elif isinstance(event, PolarityReversed):
            line.polarity_reversed(event.positive, event.at)
        elif isinstance(event, BatteryLost):
            line.battery(False, event.at)
        elif isinstance(event, BatteryRestored):
            line.battery(True, event.at)
        self.apply()

    def step(self, now: float) -> None:
        """Loop current, the end of DTMF dialling, the line's timers (every tick)."""
        line = self.line
        try:
            if line.off_hook:
                line.loop_current(self.chip.loop_current_ma(), now)
        except Si3050Error as exc:
            self._failure(str(exc))
        if self._sending_digits and not self.tdm.sending_dtmf:
            self._sending_digits = False
            line.digits_sent(now)
        line.tick(now)
        self.apply()

    @property
    def available(self) -> bool:
        """True when the line can be seized for an outgoing call."""
        return not self.failed and self.reserved is None and self.line.available

    def apply(self) -> None:
        """Carry out what the line asked for."""
        for action in self.line.pop_actions():
            try:
                self._apply(action)
            except (Si3050Error, SpandspError) as exc:
                self._failure(str(exc))

    def _apply(self, action: object) -> None:
        if isinstance(action, Seize):
            if not self.chip.off_hook:
                self.tdm.reset_echo_canceller()
                self.disconnect_detector.reset()
                self.dialtone_detector.reset()
            self.chip.seize()
        elif isinstance(action, Release):
            self.chip.release()
        elif isinstance(action, SendDigits):
            self.tdm.send_dtmf(action.digits, on_ms=action.on_ms, off_ms=action.off_ms)
            self._sending_digits = True
        elif isinstance(action, IncomingCall):
            self._incoming(action)
        elif isinstance(action, IncomingCancelled):
            channel = self.calls.get(action.call)
            if channel is not None:
                log.info("FXO port %d: the caller gave up", self.number)
                channel.remote_hungup(HangupCause.NORMAL_CLEARING)
        elif isinstance(action, RemoteAnswered):
            channel = self.calls.get(action.call)
            if channel is not None:
                self.tdm.activate(_leg(channel).audio)
                channel.remote_answered()
        elif isinstance(action, Disconnected):
            channel = self.calls.get(action.call)
            log.info("FXO port %d: far end disconnected (%s)", self.number, action.how.value)
            if channel is not None:
                channel.variables["FXO_DISCONNECT"] = action.how.value
                channel.remote_hungup(HangupCause.NORMAL_CLEARING)

    def _failure(self, reason: str) -> None:
        log.error("%s", reason)
        call = self.line.call
        if call is not None:
            self.line.hangup(call, self.ports.now())
            channel = self.calls.get(call)
            if channel is not None:
                channel.remote_hungup(HangupCause.DESTINATION_OUT_OF_ORDER)
        self.line.pop_actions()

    def _incoming(self, action: IncomingCall) -> None:
        ports = self.ports
        caller = _caller_from(action.caller)
        audio = self.tdm.open_leg()
        channel = ports.pbx.new_channel(ports.fxo_driver, str(self.number), direction=Direction.INBOUND,
                                        caller=caller, context=self.config.context, exten=self.config.exten,
                                        state=ChannelState.RING)
        channel.language = self.config.language
        if action.cadence_ms:
            channel.variables["FXO_RING_CADENCE"] = ",".join(str(ms) for ms in action.cadence_ms)
        self._attach(channel, action.call, audio)
        log.info("FXO port %d: incoming call from %s: %s", self.number, caller or "unknown", channel.name)
        ports.pbx.start_inbound(channel)

    def _attach(self, channel: Channel, call: int, audio: TdmLeg, number: str = "") -> None:
        channel.tech = _Leg(self, call, audio, number)
        channel.audio = audio
        self.calls[call] = channel

        def gone(ended: Channel) -> None:
            self.calls.pop(call, None)
            if self.reserved is ended:
                self.reserved = None
            if self.line.call == call:
                self.line.hangup(call, self.ports.now())
                self.apply()
            audio.close()

        channel.add_hangup_callback(gone)

    def describe(self) -> str:
        """The line's state for ``ports show``."""
        names = ", ".join(c.name for c in self.calls.values())
        return self.line.describe() + (f" [{names}]" if names else "")


class HuntOrder(enum.Enum):
    """chan_dahdi's group dialling: ``g`` first idle ascending, ``G`` descending, ``r``/``R`` round robin."""

    ASCENDING = "g"
    DESCENDING = "G"
    ROUND_ROBIN = "r"
    ROUND_ROBIN_DESCENDING = "R"


class FxoChannelDriver(ChannelDriver):
    """``FXO/<port>[/<number>]`` and ``FXO/g<group>[/<number>]``: telephone lines on FXO ports."""

    technology = "FXO"
    description = "Telephone line on an FXO port (Si3050)"

    def __init__(self, ports: AnalogPorts) -> None:
        self.ports = ports
        self._last_used: dict[int, int] = {}

    def _hunt(self, text: str) -> FxoPort:
        """The port ``text`` names: a number, or a group with its hunting order."""
        ports = self.ports.fxo
        if text.isdigit():
            port = ports.get(int(text))
            if port is None:
                raise ChannelUnavailable(HangupCause.UNALLOCATED, f"no FXO port {text}")
            if port.failed:
                raise ChannelUnavailable(HangupCause.DESTINATION_OUT_OF_ORDER, f"FXO port {text} is out of order")
            if not port.available:
                raise ChannelUnavailable(HangupCause.NORMAL_CIRCUIT_CONGESTION, f"FXO port {text} is busy")
            return port
        if len(text) < 2 or text[0] not in "gGrR" or not text[1:].isdigit():
            raise ChannelUnavailable(HangupCause.INVALID_NUMBER_FORMAT, f"bad FXO resource {text!r}")
        order, group = HuntOrder(text[0]), int(text[1:])
        members = sorted(n for n, p in ports.items() if group in p.config.groups)
        if not members:
            raise ChannelUnavailable(HangupCause.UNALLOCATED, f"no FXO group {group}")
        if order in (HuntOrder.DESCENDING, HuntOrder.ROUND_ROBIN_DESCENDING):
            members.reverse()
        if order in (HuntOrder.ROUND_ROBIN, HuntOrder.ROUND_ROBIN_DESCENDING) and group in self._last_used:
            last = self._last_used[group]
            if last in members:
                index = members.index(last) + 1
                members = members[index:] + members[:index]
        for number in members:
            if ports[number].available:
                self._last_used[group] = number
                return ports[number]
        raise ChannelUnavailable(HangupCause.NORMAL_CIRCUIT_CONGESTION, f"all lines of FXO group {group} are busy")

    async def request(self, resource: str, *, requestor: Channel | None = None) -> Channel:
        text, _, number = resource.partition("/")
        port = self._hunt(text)
        channel = self.ports.pbx.new_channel(self, str(port.number), direction=Direction.OUTBOUND)
        channel.language = port.config.language
        channel.dnid = number or "s"
        port.reserved = channel
        port._attach(channel, port.line.new_call_id(), port.tdm.open_leg(), number)
        return channel

    async def call(self, channel: Channel, *, timeout: float | None = None) -> None:
        leg = _leg(channel)
        port = leg.port
        assert isinstance(port, FxoPort)
        if not port.line.dial(leg.call, leg.number, self.ports.now()):
            raise ChannelUnavailable(HangupCause.NORMAL_CIRCUIT_CONGESTION, f"FXO port {port.number} is busy")
        port.apply()
        channel.set_state(ChannelState.DIALING)

    async def answer(self, channel: Channel) -> None:
        leg = _leg(channel)
        port = leg.port
        assert isinstance(port, FxoPort)
        port.line.answer(leg.call, self.ports.now())
        port.apply()
        port.tdm.activate(leg.audio)

    async def hangup(self, channel: Channel, cause: HangupCause) -> None:
        leg = _leg(channel)
        port = leg.port
        assert isinstance(port, FxoPort)
        port.line.hangup(leg.call, self.ports.now())
        port.apply()
        if port.reserved is channel:
            port.reserved = None
        leg.audio.close()

    async def indicate(self, channel: Channel, indication: Indication) -> bool:
        if indication is Indication.FLASH:
            leg = _leg(channel)
            port = leg.port
            assert isinstance(port, FxoPort)
            port.line.flash(self.ports.now())
            port.apply()
            return True
        return indication in (Indication.HOLD, Indication.UNHOLD, Indication.SRCUPDATE)

    async def send_digit(self, channel: Channel, digit: str, duration_ms: int) -> bool:
        return _leg(channel).audio.send_digit(digit, duration_ms)

    def device_state(self, resource: str) -> DeviceState:
        text = resource.split("/", 1)[0]
        port = self.ports.fxo.get(int(text)) if text.isdigit() else None
        if port is None:
            return DeviceState.INVALID
        if port.failed:
            return DeviceState.UNAVAILABLE
        if port.line.state in (FxoState.RINGING, FxoState.OFFERED):
            return DeviceState.RINGING
        return DeviceState.NOT_INUSE if port.available else DeviceState.INUSE


# ------------------------------------------------------------------------------------------ ports


class AnalogPorts:
    """The analog ports of a board as channels: both drivers, and the work of every TDM tick.

    ``now`` is the board's clock (the one the chip events are stamped with); ``route`` asks the dialplan
    about digits an FXS phone dials (None: every number is taken as complete after the digit timeout).
    """

    def __init__(self, pbx: Pbx, *, now: Callable[[], float], wallclock: Callable[[], float] = time.time,
                 route: RouteProbe | None = None) -> None:
        self.pbx = pbx
        self.now = now
        self.wallclock = wallclock
        self._route = route
        self.fxs: dict[int, FxsPort] = {}
        self.fxo: dict[int, FxoPort] = {}
        self.fxs_driver = FxsChannelDriver(self)
        self.fxo_driver = FxoChannelDriver(self)

    def route(self, context: str, digits: str, caller: str) -> Route:
        """What the dialplan says of ``digits`` dialled in ``context``."""
        if self._route is None:
            return Route.AMBIGUOUS
        return self._route(context, digits, caller)

    def _check_new(self, number: int) -> None:
        if number in self.fxs or number in self.fxo:
            raise AnalogError(f"analog port {number} is set up twice")

    def add_fxs(self, number: int, chip: Si3215, tdm: TdmPort, config: FxsPortConfig) -> FxsPort:
        """Make FXS port ``number`` a channel resource."""
        self._check_new(number)
        port = FxsPort(self, number, chip, tdm, config)
        self.fxs[number] = port
        return port

    def add_fxo(self, number: int, chip: Si3050, tdm: TdmPort, config: FxoPortConfig) -> FxoPort:
        """Make FXO port ``number`` a channel resource."""
        self._check_new(number)
        port = FxoPort(self, number, chip, tdm, config)
        self.fxo[number] = port
        return port

    def register_drivers(self) -> None:
        """Register ``FXS`` and ``FXO`` with the PBX."""
        self.pbx.register_driver(self.fxs_driver)
        self.pbx.register_driver(self.fxo_driver)

    def handle_events(self, events: list[FxsEvent | FxoEvent]) -> None:
        """Chip events from a poll of the board."""
        for event in events:
            if isinstance(event, (HookChanged, RingTrip, PowerAlarm)):
                fxs = self.fxs.get(event.port)
                if fxs is not None:
                    fxs.handle(event)
            else:
                fxo = self.fxo.get(event.port)
                if fxo is not None:
                    fxo.handle(event)

    def step(self, now: float) -> None:
        """Every port's timers (called after each TDM exchange)."""
        for fxs in self.fxs.values():
            fxs.step(now)
        for fxo in self.fxo.values():
            fxo.step(now)

    def tick_hook(self, poll: Callable[[float], list[FxsEvent | FxoEvent]]) -> Callable[[float], None]:
        """A TDM clock ``after_exchange`` hook: poll the chips with ``poll``, then step the ports."""

        def hook(now: float) -> None:
            self.handle_events(poll(now))
            self.step(now)

        return hook

    def status(self) -> str:
        """Each port's line state and calls (the second half of ``ports show``)."""
        lines = [f"{'Port':<5} {'Line':<38} Country"]
        for number in sorted({*self.fxs, *self.fxo}):
            port: FxsPort | FxoPort = self.fxs[number] if number in self.fxs else self.fxo[number]
            lines.append(f"{number:<5} {port.describe():<38} {port.line.profile.code}")
        return "\n".join(lines)


def fxo_ring_delays() -> tuple[float, float]:
    """How late the Si3050 driver reports the start and the end of ringing (its DAHDI-style debounce):
    the level climbs 128 per 16 ms to 8 x 64, and falls 32 per 16 ms to 0."""
    threshold = 8 * 64.0
    return threshold / RING_ON_RATE, threshold / RING_OFF_RATE


__all__ = [
    "AnalogError",
    "AnalogPorts",
    "FxoChannelDriver",
    "FxoPort",
    "FxoPortConfig",
    "FxsChannelDriver",
    "FxsPort",
    "FxsPortConfig",
    "HuntOrder",
    "RouteProbe",
    "caller_id_message",
    "fxo_ring_delays",
]
