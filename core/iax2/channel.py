"""The IAX2 channel technology: IAX2 calls as PBX channels (Asterisk's chan_iax2 as the dialplan sees it).

Inbound: an authenticated NEW (:class:`~core.iax2.calls.IncomingCall`) becomes a channel in the context of
the peer or user it authenticated as, with the called number as extension and the caller id of the NEW's
CALLING_NUMBER/CALLING_NAME/CALLINGPRES.  As chan_iax2 does, a number the context cannot route is refused
with REJECT "No such context/extension" (cause 3), otherwise the call is accepted at once (ACCEPT carries the
voice format) and the dialplan decides on ringing and answer.  Calls that authenticated as nobody (the
``guest`` of iax.conf) only ever reach the configured guest context, whatever CALLED_CONTEXT they ask for.

Outbound: ``Dial(IAX2/peer/number)``, ``Dial(IAX2/peer)`` and, for a host that is no configured peer,
chan_iax2's ``Dial(IAX2/user:secret@host[:port]/number)`` (MD5 with that secret; no call token required of us).

Both ways: RINGING/PROCEEDING/PROGRESS/ANSWER are CONTROL frames (RFC 5456 §6.3), hang-ups carry the Q.850
cause in CAUSECODE (§8.6.33), DTMF are DTMF frames (§8.5), hold is CONTROL HOLD/UNHOLD out and either those
or QUELCH/UNQUELCH (§6.4.4) in.

Media: every IAX2 channel has an :class:`IaxAudioPort`, an ``AudioPort`` of the media engine (20 ms u-law or
A-law frames, decoded to linear for the engine's generators and recorders).  Bridged to an RTP port, voice is
repacketised between RTP and IAX2 without decoding (transcoded u-law <-> A-law by table only when the legs
agreed on different laws); ``Echo()`` sends each frame straight back.
"""

from __future__ import annotations

import ipaddress
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from core.causes import HangupCause
from core.channel import (
    Channel,
    ChannelDriver,
    ChannelState,
    ChannelUnavailable,
    DeviceState,
    DigitReceived,
    Indication,
    IndicationReceived,
)
from core.channel import Direction as ChannelDirection
from core.iax2.calls import (
    CallAccepted,
    CallAnswered,
    CallControl,
    CallHungUp,
    CallProceeding,
    CallProgress,
    CallQuelched,
    CallRinging,
    DtmfReceived,
    IaxCallError,
    IncomingCall,
    VoiceReceived,
)
from core.iax2.constants import IAX_PORT, AuthMethod, ControlSubclass, MediaFormat
from core.iax2.endpoint import IaxEndpoint, IaxPeerSettings
from core.pbx import Pbx
from cython_media import g711
from cython_media.rtp import rtp_header

if TYPE_CHECKING:
    import asyncio

    from core.mediaengine.engine import MediaEngineImpl
    from core.mediaengine.port import RtpPort

log = logging.getLogger("centralita.iax2")

ULAW, ALAW = int(MediaFormat.ULAW), int(MediaFormat.ALAW)
CODEC_NAMES = {ULAW: "PCMU", ALAW: "PCMA"}
"""IAX2 format bits by the codec names of the RTP side (:mod:`core.mediaengine.port`)."""
FORMAT_OF = {name: fmt for fmt, name in CODEC_NAMES.items()}
_DECODE: dict[int, Callable[[bytes], bytes]] = {ULAW: g711.ulaw2lin, ALAW: g711.alaw2lin}
_ENCODE: dict[int, Callable[[bytes], bytes]] = {ULAW: g711.lin2ulaw, ALAW: g711.lin2alaw}
_TRANSCODE: dict[tuple[int, int], Callable[[bytes], bytes]] = {(ULAW, ALAW): g711.ulaw2alaw,
                                                               (ALAW, ULAW): g711.alaw2ulaw}
MAX_QUEUED_FRAMES = 25
_NO_ROUTE_TEXT = "No such context/extension"  # chan_iax2's REJECT text for an unroutable NEW


class IaxAudioPort:
    """The audio of one IAX2 call as the media engine sees it (its ``AudioPort`` protocol).

    ``send(payload, format)`` puts one encoded frame on the call (the driver's :meth:`IaxEndpoint.send_voice`
    with a flush).  Received voice arrives through :meth:`voice`: echoed straight back in ``echo`` mode,
    repacketised into the connected RTP port (``peer``), handed decoded to ``frame_sink`` (another kind of
    port), or queued for :meth:`read_frame`.
    """

    def __init__(self, engine: MediaEngineImpl | None, media_format: int,
                 send: Callable[[bytes, int], None], digit: Callable[[str, int], bool]) -> None:
        self.engine = cast("MediaEngineImpl", engine)
        self.format = media_format if media_format in _ENCODE else ULAW
        self._send = send
        self._digit = digit
        self.closed = False
        self.echo = False
        self.frame_sink: Callable[[bytes], None] | None = None
        self.peer: RtpPort | None = None
        self.tones_until = 0.0
        self._frames: deque[bytes] = deque(maxlen=MAX_QUEUED_FRAMES)
        self._reader: asyncio.Future[None] | None = None
        self.frames_in = 0
        self.frames_out = 0

    def __repr__(self) -> str:
        return f"<IaxAudioPort {self.codec}{' closed' if self.closed else ''}>"

    @property
    def codec(self) -> str:
        """The codec name as the RTP side spells it (``PCMU``/``PCMA``)."""
        return CODEC_NAMES[self.format]

    # -- from the call -------------------------------------------------------------------------------------

    def voice(self, payload: bytes, media_format: int) -> None:
        """A voice frame of the call (any size; u-law or A-law)."""
        if self.closed or media_format not in _DECODE:
            return
        self.frames_in += 1
        if self.echo:
            self._send(payload, media_format)
            return
        peer = self.peer
        if peer is not None:
            peer.write_encoded(payload, CODEC_NAMES[media_format])
            return
        linear = _DECODE[media_format](payload)
        if self.frame_sink is not None:
            self.frame_sink(linear)
            return
        self._frames.append(linear)
        reader = self._reader
        if reader is not None and not reader.done():
            reader.set_result(None)

    # -- the AudioPort protocol ---------------------------------------------------------------------------

    async def read_frame(self) -> bytes | None:
        """The next received frame as 16-bit linear; None once closed."""
        import asyncio

        while not self._frames:
            if self.closed:
                return None
            self._reader = asyncio.get_running_loop().create_future()
            await self._reader
        return None if self.closed else self._frames.popleft()

    def write_frame(self, linear: bytes) -> None:
        """Send 16-bit linear audio, encoded in the call's format."""
        if not self.closed:
            self.frames_out += 1
            self._send(_ENCODE[self.format](linear), self.format)

    def drain(self) -> None:
        """Forget received audio not read yet."""
        self._frames.clear()

    def write_encoded(self, payload: bytes, codec: str) -> None:
        """Send audio already encoded in ``codec`` (``PCMU``/``PCMA``, transcoded by table if it is not ours)."""
        fmt = FORMAT_OF.get(codec)
        if self.closed or fmt is None or not payload:
            return
        if fmt != self.format:
            payload = _TRANSCODE[(fmt, self.format)](payload)
        self.frames_out += 1
        self._send(payload, self.format)

    def send_digit(self, digit: str, duration_ms: int) -> bool:
        """A digit goes out of band (a DTMF frame, RFC 5456 §8.5); hook flash as CONTROL FLASH."""
        return False if self.closed else self._digit(digit, duration_ms)

    # -- the RTP relay (see MediaEngineImpl.connect) ------------------------------------------------------

    def join_rtp(self, port: RtpPort) -> None:
        """Relay encoded voice with ``port`` both ways (RTP -> IAX2 through :meth:`forward`)."""
        self.peer = port
        port.peer = cast("RtpPort", self)

    def leave_rtp(self, port: RtpPort) -> None:
        """End :meth:`join_rtp`."""
        if self.peer is port:
            self.peer = None
        if port.peer is cast("Any", self):
            port.peer = None

    def forward(self, packet: bytes, ssrc_in: int, codec_in: str) -> None:
        """An RTP packet from the connected port: its payload becomes one IAX2 voice frame (no decoding)."""
        if self.closed:
            return
        try:
            header = rtp_header(packet)
        except Exception:  # a packet the RTP port validated already; never let one break the relay
            return
        self.write_encoded(packet[header[5]:header[6]], codec_in)

    def close(self) -> None:
        """The call is over."""
        if self.closed:
            return
        self.closed = True
        peer = self.peer
        if peer is not None:
            self.leave_rtp(peer)
        reader = self._reader
        if reader is not None and not reader.done():
            reader.set_result(None)
        engine: Any = self.engine
        if engine is not None:
            engine.clock.stop(self)


@dataclass
class _Leg:
    """What the driver keeps per IAX2 channel."""

    call: int | None
    peer: str = ""
    number: str = ""
    audio: IaxAudioPort | None = None
    requestor: Channel | None = None
    held: bool = False
    adhoc: IaxPeerSettings | None = None  # IAX2/user:secret@host/number: a peer that is not configured


class IaxChannelDriver(ChannelDriver):
    """``IAX2/...`` channels over one :class:`IaxEndpoint`."""

    technology = "IAX2"
    description = "Inter Asterisk eXchange Driver (Ver 2)"

    def __init__(self, pbx: Pbx, endpoint: IaxEndpoint, now: Callable[[], float], flush: Callable[[], None], *,
                 media: MediaEngineImpl | None = None, guest_context: str | None = None,
                 routable: Callable[[str, str, str], str] | None = None) -> None:
        self.pbx = pbx
        self.endpoint = endpoint
        self.now = now
        self.flush = flush
        self.media = media
        self.guest_context = guest_context
        self.routable = routable
        self.channels: dict[int, Channel] = {}

    # -- events from the endpoint ---------------------------------------------------------------------

    def process_events(self) -> None:
        """Consume every pending endpoint event (the transport calls this after each input)."""
        while True:
            event = self.endpoint.next_event()
            if event is None:
                return
            try:
                self._handle(event)
            except Exception:
                log.exception("IAX2 event %s failed", type(event).__name__)

    def _handle(self, event: object) -> None:
        if isinstance(event, IncomingCall):
            self._incoming(event)
            return
        call_id = getattr(event, "call", None)
        if not isinstance(call_id, int):
            return  # registration and peer events: the endpoint keeps the state the console shows
        channel = self.channels.get(call_id)
        if channel is None:
            return
        if isinstance(event, VoiceReceived):
            audio = _leg(channel).audio
            if audio is not None:
                audio.voice(event.payload, event.format)
        elif isinstance(event, CallAccepted):
            audio = _leg(channel).audio
            if audio is not None and event.format in _ENCODE:
                audio.format = event.format
        elif isinstance(event, CallRinging):
            channel.queue_event(IndicationReceived(Indication.RINGING))
        elif isinstance(event, CallProgress):
            channel.queue_event(IndicationReceived(Indication.PROGRESS))
        elif isinstance(event, CallProceeding):
            channel.queue_event(IndicationReceived(Indication.PROCEEDING))
        elif isinstance(event, CallAnswered):
            channel.remote_answered()
        elif isinstance(event, CallHungUp):
            self.channels.pop(call_id, None)
            _leg(channel).call = None
            channel.variables["IAX2_CAUSE"] = event.reason
            channel.remote_hungup(event.cause)
        elif isinstance(event, DtmfReceived):
            if event.end:
                channel.queue_event(DigitReceived(event.digit, 100))
        elif isinstance(event, CallQuelched):
            self._hold(channel, event.quelched)
        elif isinstance(event, CallControl):
            self._control(channel, event)

    def _control(self, channel: Channel, event: CallControl) -> None:
        sub = event.subclass
        if sub == ControlSubclass.HOLD:
            self._hold(channel, True)
        elif sub == ControlSubclass.UNHOLD:
            self._hold(channel, False)
        elif sub == ControlSubclass.BUSY:
            channel.queue_event(IndicationReceived(Indication.BUSY))
        elif sub == ControlSubclass.CONGESTION:
            channel.queue_event(IndicationReceived(Indication.CONGESTION))
        elif sub == ControlSubclass.FLASH:
            channel.queue_event(IndicationReceived(Indication.FLASH))
        elif sub == ControlSubclass.SRCUPDATE:
            channel.queue_event(IndicationReceived(Indication.SRCUPDATE))

    def _hold(self, channel: Channel, held: bool) -> None:
        leg = _leg(channel)
        if held != leg.held:
            leg.held = held
            channel.queue_event(IndicationReceived(Indication.HOLD if held else Indication.UNHOLD))

    def _incoming(self, event: IncomingCall) -> None:
        now = self.now()
        context = event.context
        if not event.peer:
            # Nobody authenticated: only the guest context, never one the caller names (it could dial out).
            if not self.guest_context:
                self.endpoint.reject(event.call, now, HangupCause.FACILITY_NOT_SUBSCRIBED, "No authority found")
                self.flush()
                return
            context = self.guest_context
        exten = event.called_number or "s"
        if self.routable is not None:
            verdict = self.routable(context, exten, event.caller.number)
            if verdict != "exists":
                log.warning("rejected IAX2 call from %s:%d: '%s@%s' does not exist", event.address[0],
                            event.address[1], exten, context)
                self.endpoint.reject(event.call, now, HangupCause.NO_ROUTE_DESTINATION, _NO_ROUTE_TEXT)
                self.flush()
                return
        fmt = self.endpoint.accept(event.call, now)
        resource = event.peer or event.username or event.address[0]
        channel = self.pbx.new_channel(self, resource, direction=ChannelDirection.INBOUND, caller=event.caller,
                                       context=context, exten=exten, state=ChannelState.RING)
        leg = _Leg(event.call, peer=event.peer, number=exten)
        channel.tech = leg
        channel.dnid = event.dnid or exten
        channel.language = event.language or channel.language
        channel.variables["IAX2PEER"] = f"{event.address[0]}:{event.address[1]}"
        channel.variables["IAX2ENCRYPTED"] = "1" if event.encrypted else "0"
        for name, value in event.variables:
            channel.variables.setdefault(name, value)
        self._attach_audio(channel, leg, fmt)
        self.channels[event.call] = channel
        self.flush()
        self.pbx.start_inbound(channel)

    def _attach_audio(self, channel: Channel, leg: _Leg, fmt: int) -> None:
        assert leg.call is not None
        call_id = leg.call

        def send(payload: bytes, media_format: int) -> None:
            try:
                if self.endpoint.send_voice(call_id, payload, self.now(), media_format):
                    self.flush()
            except IaxCallError:
                pass

        def digit(value: str, duration_ms: int) -> bool:
            return self._send_digit(call_id, value)

        audio = IaxAudioPort(self.media, fmt, send, digit)
        leg.audio = audio
        channel.audio = audio
        channel.add_hangup_callback(lambda _gone: audio.close())

    # -- PBX -> IAX2 ----------------------------------------------------------------------------------

    async def request(self, resource: str, *, requestor: Channel | None = None) -> Channel:
        """``IAX2/peer/number``, ``IAX2/peer`` (the peer's own ``s``), or chan_iax2's dial string for a host
        that is no configured peer: ``IAX2/[user[:secret]@]host[:port]/number`` (MD5 with ``secret``)."""
        peer, _, number = resource.partition("/")
        settings = self.endpoint.peer_settings(peer)
        if settings is None and ("@" in peer or _looks_like_host(peer)):
            adhoc = await _adhoc_peer(peer)
            channel = self.pbx.new_channel(self, adhoc.name, direction=ChannelDirection.OUTBOUND)
            channel.tech = _Leg(None, peer=adhoc.name, number=number, requestor=requestor, adhoc=adhoc)
            return channel
        if settings is None:
            raise ChannelUnavailable(HangupCause.UNALLOCATED, f"no IAX2 peer {peer}")
        if self.endpoint.peer_address(settings) is None:
            raise ChannelUnavailable(HangupCause.SUBSCRIBER_ABSENT, f"IAX2 peer {peer} is not registered")
        channel = self.pbx.new_channel(self, peer, direction=ChannelDirection.OUTBOUND)
        channel.tech = _Leg(None, peer=peer, number=number, requestor=requestor)
        return channel

    async def call(self, channel: Channel, *, timeout: float | None = None) -> None:
        leg = _leg(channel)
        preferred = 0
        requestor = leg.requestor
        codec = getattr(requestor.audio, "codec", None) if requestor is not None else None
        if isinstance(codec, str):
            preferred = FORMAT_OF.get(codec, 0)  # the calling leg's codec first: no transcoding in the bridge
        caller = channel.caller if channel.caller.number or channel.caller.name else \
            (requestor.caller if requestor is not None else channel.caller)
        try:
            call_id = self.endpoint.call(leg.adhoc or leg.peer, leg.number, self.now(), caller=caller,
                                         preferred=preferred, dnid=leg.number)
        except IaxCallError as exc:
            raise ChannelUnavailable(HangupCause.SUBSCRIBER_ABSENT, str(exc)) from None
        leg.call = call_id
        self.channels[call_id] = channel
        info = self.endpoint.call_info(call_id)
        fmt = info.format if info is not None and info.format else (preferred or ULAW)
        self._attach_audio(channel, leg, fmt)
        self.flush()

    async def answer(self, channel: Channel) -> None:
        call = _leg(channel).call
        if call is None:
            return
        try:
            self.endpoint.answer(call, self.now())
        except IaxCallError as exc:
            log.debug("%s: cannot answer: %s", channel.name, exc)
        self.flush()

    async def hangup(self, channel: Channel, cause: HangupCause) -> None:
        leg = _leg(channel)
        call = leg.call
        if call is None:
            return
        leg.call = None
        self.channels.pop(call, None)
        self.endpoint.hangup(call, self.now(), cause)
        self.flush()

    async def indicate(self, channel: Channel, indication: Indication) -> bool:
        call = _leg(channel).call
        if call is None:
            return False
        subclass = {Indication.RINGING: ControlSubclass.RINGING, Indication.PROGRESS: ControlSubclass.PROGRESS,
                    Indication.PROCEEDING: ControlSubclass.PROCEEDING, Indication.BUSY: ControlSubclass.BUSY,
                    Indication.CONGESTION: ControlSubclass.CONGESTION, Indication.HOLD: ControlSubclass.HOLD,
                    Indication.UNHOLD: ControlSubclass.UNHOLD, Indication.FLASH: ControlSubclass.FLASH,
                    Indication.SRCUPDATE: ControlSubclass.SRCUPDATE}.get(indication)
        if subclass is None:
            return False
        try:
            self.endpoint.send_control(call, subclass, self.now())
        except IaxCallError:
            return False
        self.flush()
        return True

    async def send_digit(self, channel: Channel, digit: str, duration_ms: int) -> bool:
        call = _leg(channel).call
        return call is not None and self._send_digit(call, digit)

    def _send_digit(self, call: int, digit: str) -> bool:
        try:
            if digit == "!":
                self.endpoint.send_control(call, ControlSubclass.FLASH, self.now())
            else:
                self.endpoint.send_dtmf(call, digit, self.now())
        except IaxCallError:
            return False
        self.flush()
        return True

    def device_state(self, resource: str) -> DeviceState:
        peer = resource.split("/")[0]
        settings = self.endpoint.peer_settings(peer)
        if settings is None:
            return DeviceState.INVALID
        if self.endpoint.peer_address(settings) is None:
            return DeviceState.UNAVAILABLE
        busy = any(_leg(c).peer == peer for c in self.channels.values())
        return DeviceState.INUSE if busy else DeviceState.NOT_INUSE

    def channel_names(self) -> dict[int, str]:
        """Channel names by call number, for ``iax2 show channels``."""
        return {call: channel.name for call, channel in self.channels.items()}


def _looks_like_host(text: str) -> bool:
    """An address or a dotted host name (``192.0.2.1``, ``pbx.example.com:4570``), not a peer name."""
    host = text.rsplit(":", 1)[0] if text.count(":") == 1 else text
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return "." in host
    return True


async def _adhoc_peer(text: str) -> IaxPeerSettings:
    """The peer of ``[user[:secret]@]host[:port]``, its host resolved (the sans-IO endpoint takes addresses)."""
    import asyncio
    import socket

    credentials, _, hostport = text.rpartition("@")
    user, _, secret = credentials.partition(":")
    host, port = hostport, IAX_PORT
    if hostport.startswith("["):
        host, _, rest = hostport[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else IAX_PORT
    elif hostport.count(":") == 1:
        host, _, port_text = hostport.partition(":")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ChannelUnavailable(HangupCause.INVALID_NUMBER_FORMAT, f"bad port in IAX2/{text}")
        port = int(port_text)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except OSError as exc:
        raise ChannelUnavailable(HangupCause.NO_ROUTE_DESTINATION, f"IAX2 host {host}: {exc}") from None
    address = str(infos[0][4][0])
    return IaxPeerSettings(name=f"{host}:{port}" if port != IAX_PORT else host, host=address, port=port,
                           username=user, secret=secret, auth=AuthMethod.MD5)


def _leg(channel: Channel) -> _Leg:
    tech = channel.tech
    assert isinstance(tech, _Leg)
    return tech


__all__ = ["IaxAudioPort", "IaxChannelDriver"]
