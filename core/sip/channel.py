"""The SIP channel technology: SIP call legs as PBX channels, and the B2BUA between them.

Inbound INVITEs become channels in the caller's context (a phone's, a trunk's, or the guest context);
``Dial(SIP/1001)``, ``Dial(SIP/trunk/number)`` and ``Dial(SIP/number@host[:port])`` place outbound legs.
What the PBX does to a channel (answer, ring, busy, hang up with a Q.850 cause, digits, flash) becomes SIP
(200/180/183/486/503/BYE/CANCEL with a Reason header, INFO); what the far end does becomes channel events.

Media: with a media engine (the default) every leg has its own RTP port and SDP on the gateway
(:mod:`core.sip.media`); a bridge connects the two ports, applications (Echo, Playback, ...) run on them,
hold is a re-INVITE of our own toward the other leg, RFC 4733 digits are detected and regenerated.
Without one (``sip.direct_media``), bridged SIP legs exchange their own SDP (the caller's offer goes to the
callee, the answer back, re-INVITEs pass through) and a leg the PBX answers itself gets an honest
"inactive" answer on the discard port (RFC 3264 allows it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

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
    indication_received,
)
from core.channel import Direction as ChannelDirection
from core.media import MediaUnavailable
from core.pbx import Pbx
from core.sip.endpoint import SipEndpoint
from core.sip.media import CODECS, LegMedia, acceptable
from core.sip.message import SipUri
from core.sip.offer_answer import Codec, NoCommonCodec
from core.sip.sdp import Direction, SdpError, SessionDescription
from core.sip.sdp_policy import hold_state, placeholder_answer, placeholder_offer
from core.sip.session import (
    CallAnswered,
    CallEnded,
    CallFailed,
    CallProgress,
    DtmfReceived,
    FlashReceived,
    IncomingCall,
    ReinviteAnswered,
    ReinviteReceived,
    SipCall,
    SipEvent,
    TransferRequested,
    UpdateReceived,
)

log = logging.getLogger("centralita.sip")

Address = tuple[str, int]

# Members read on every call, as module globals: in CPython 3.11 reading one off the Enum class goes
# through EnumType's ``__getattr__`` hook, about ten times the cost of a global.
_UP = ChannelState.UP
_RINGING = Indication.RINGING
_PROGRESS = Indication.PROGRESS
_PROCEEDING = Indication.PROCEEDING
_RING = ChannelState.RING
_INBOUND = ChannelDirection.INBOUND
_OUTBOUND = ChannelDirection.OUTBOUND

if TYPE_CHECKING:
    from core.mediaengine.engine import MediaEngineImpl


@dataclass(slots=True)
class _Leg:
    """What the driver keeps per SIP channel."""

    call: SipCall | None
    target: tuple[str, ...] = ()          # for outbound legs until call(): ("user", name) / ("trunk", name, number)
    requestor: Channel | None = None      # the channel whose Dial created this leg (SDP pass-through)
    peers: list[Channel] = field(default_factory=list)   # legs this channel dialled
    held: bool = False
    reinvite_origin: SipCall | None = None  # a pass-through re-INVITE waiting for our peer's answer
    servers_left: list[tuple[str, int]] = field(default_factory=list)  # trunk failover (RFC 3263 §4.3)
    media: LegMedia | None = None           # the anchored RTP port and SDP state (with a media engine)
    offer: bytes | None = None              # the SDP offer, kept to send it again to the next server
    queued_direction: Direction | None = None  # hold/unhold asked for while our own re-INVITE was pending


class SipChannelDriver(ChannelDriver):
    """``SIP/...`` channels over one :class:`SipEndpoint`."""

    technology = "SIP"
    description = "Session Initiation Protocol (SIP)"

    def __init__(self, pbx: Pbx, endpoint: SipEndpoint, now: Callable[[], float], flush: Callable[[], None],
                 *, redirect: Callable[[Channel, str, str], bool] | None = None,
                 routable: Callable[[str, str, str], str] | None = None,
                 media: MediaEngineImpl | None = None) -> None:
        self.pbx = pbx
        self.endpoint = endpoint
        self.now = now
        self.flush = flush
        self.redirect = redirect
        self.routable = routable
        self.media = media

    # -- events from the endpoint ---------------------------------------------------------------------

    def process_events(self) -> None:
        """Consume every pending endpoint event (called by the transport after each input)."""
        events = self.endpoint.events  # drained here directly: this runs after every datagram, mostly for none
        while events:
            event = events.popleft()
            try:
                self._handle(event)
            except Exception:
                log.exception("SIP event %s failed", type(event).__name__)

    def _handle(self, event: SipEvent) -> None:
        if isinstance(event, IncomingCall):
            self._incoming(event.call)
            return
        call = getattr(event, "call", None)
        channel: Channel | None = getattr(call, "channel", None)
        if channel is None:
            if isinstance(event, ReinviteReceived) and call is not None:
                self.endpoint.answer_reinvite(call, 200, placeholder_answer(call.remote_sdp, self._host()),
                                              self.now())
            return
        if isinstance(event, CallProgress):
            # Only a media engine gives legs their own media (_open_media): without one there is none to tell.
            if self.media is not None and event.sdp is not None:
                media = _leg(channel).media
                if media is not None:
                    media.answered(event.sdp)
            indication = _RINGING if event.status in (180, 181, 182) else _PROGRESS
            channel.queue_event(indication_received(indication))
        elif isinstance(event, CallAnswered):
            media = _leg(channel).media if self.media is not None else None
            if media is not None and event.sdp is not None and not media.answered(event.sdp):
                self.endpoint.hangup(event.call, HangupCause.BEARERCAPABILITY_NOTIMPL, self.now())
                self.flush()
                channel.remote_hungup(HangupCause.BEARERCAPABILITY_NOTIMPL)
                return
            channel.remote_answered()
        elif isinstance(event, CallFailed):
            event.call.channel = None  # the SIP leg is over (a retry is another SipCall)
            if self._retry_after_failure(channel, event):
                return
            channel.variables["SIP_CAUSE"] = f"SIP {event.status} {event.reason}"
            channel.remote_hungup(event.cause)
        elif isinstance(event, CallEnded):
            event.call.channel = None
            channel.remote_hungup(event.cause)
        elif isinstance(event, DtmfReceived):
            channel.queue_event(DigitReceived(event.digit, event.duration_ms))
        elif isinstance(event, FlashReceived):
            channel.queue_event(IndicationReceived(Indication.FLASH))
        elif isinstance(event, ReinviteReceived):
            self._reinvite(channel, event.call, event.sdp)
        elif isinstance(event, ReinviteAnswered):
            leg = _leg(channel)
            if leg.media is not None:
                if 200 <= event.status < 300 and event.sdp is not None:
                    leg.media.answered(event.sdp)
                direction, leg.queued_direction = leg.queued_direction, None
                if direction is not None and event.call.dialog is not None and not event.call.ended:
                    # A hold or resume that arrived while the previous re-INVITE was in flight goes now, so
                    # a quick hold-then-resume never leaves the other phone on hold.
                    self.endpoint.reinvite(event.call, leg.media.offer(leg.media.codec, direction=direction),
                                           self.now())
                    self.flush()
                return
            # Our re-INVITE to this leg was a pass-through of the other leg's: answer that one now.
            origin = leg.reinvite_origin
            if origin is not None:
                leg.reinvite_origin = None
                self.endpoint.answer_reinvite(origin, event.status, event.sdp, self.now())
        elif isinstance(event, TransferRequested):
            self._transfer(channel, event.call, event.target)
        elif isinstance(event, UpdateReceived):
            # The endpoint answered the UPDATE already (RFC 3311); with anchored media the port follows the
            # new offer (a new address, hold) and the other side of the bridge learns about hold.
            leg = _leg(channel)
            if leg.media is not None:
                held = hold_state(event.sdp)
                leg.media.answer(event.sdp, leg.media.codec)
                if held != leg.held:
                    leg.held = held
                    channel.queue_event(IndicationReceived(Indication.HOLD if held else Indication.UNHOLD))

    def _incoming(self, call: SipCall) -> None:
        if self.routable is not None:
            # As Asterisk's SIP channel drivers do: 404 for a number the context cannot route, 484 for one
            # that could still become routable with more digits (overlap dialling).
            verdict = self.routable(call.context, call.dnid or "s", call.caller.number)
            if verdict != "exists":
                status = 484 if verdict == "incomplete" else 404
                cause = HangupCause.INVALID_NUMBER_FORMAT if status == 484 else HangupCause.UNALLOCATED
                self.endpoint.reject(call, cause, self.now(), status=status)
                return
        if self.media is not None:
            unusable = acceptable(call.remote_sdp)
            if unusable is not None:
                log.warning("call from %s:%d refused with 488: %s", *call.peer, unusable.reason)
                self.endpoint.reject(call, HangupCause.BEARERCAPABILITY_NOTIMPL, self.now(), status=488)
                return
        resource = call.user or call.trunk or call.peer[0]
        channel = self.pbx.new_channel(self, resource, direction=_INBOUND, caller=call.caller,
                                       context=call.context, exten=call.dnid or "s", state=_RING)
        channel.tech = _Leg(call)
        channel.variables["SIPCALLID"] = call.call_id
        channel.variables["SIPURI"] = f"sip:{call.caller.number}@{call.peer[0]}:{call.peer[1]}"
        channel.dnid = call.dnid
        call.channel = channel
        channel.add_hangup_callback(_detach_ended_call)
        self.pbx.start_inbound(channel)

    def _reinvite(self, channel: Channel, call: SipCall, sdp: bytes | None) -> None:
        held = hold_state(sdp)
        leg = _leg(channel)
        if leg.media is not None:
            # Anchored media: we answer the re-INVITE ourselves (the port may move, RFC 3264 §8) and tell
            # the other side of the bridge about hold, which puts its own leg on hold in its own way.
            if sdp is None:
                self.endpoint.answer_reinvite(call, 200, leg.media.offer(leg.media.codec), self.now())
                self.flush()
                return
            answer = leg.media.answer(sdp, leg.media.codec)
            if isinstance(answer, NoCommonCodec):
                self.endpoint.answer_reinvite(call, 488, None, self.now())
                self.flush()
                return
            self.endpoint.answer_reinvite(call, 200, answer, self.now())
            self.flush()
            if held != leg.held:
                leg.held = held
                channel.queue_event(IndicationReceived(Indication.HOLD if held else Indication.UNHOLD))
            return
        for peer in self._bridged_peers(channel):
            peer_leg = _leg(peer)
            if peer.technology == "SIP" and peer_leg.call is not None and peer.state is _UP:
                if self.endpoint.reinvite(peer_leg.call, sdp, self.now()):
                    peer_leg.reinvite_origin = call
                    self.flush()
                    return
        # No SIP peer to ask: answer ourselves and tell the bridge about hold.
        self.endpoint.answer_reinvite(call, 200, placeholder_answer(sdp, self._host()), self.now())
        if held != leg.held:
            leg.held = held
            channel.queue_event(IndicationReceived(Indication.HOLD if held else Indication.UNHOLD))

    def _transfer(self, channel: Channel, call: SipCall, target: str) -> None:
        """REFER from a callee leg: the caller it was bridged to goes to ``target`` in its context."""
        uri = target.strip().strip("<>").split(">")[0]
        try:
            exten = SipUri.parse(uri).user or ""
        except Exception:  # a Refer-To we cannot read: report failure
            exten = ""
        requestor = _leg(channel).requestor
        if not exten or requestor is None or self.redirect is None:
            self.endpoint.notify_refer(call, 603, "Declined", self.now())
            self.flush()
            return
        if self.redirect(requestor, requestor.context, exten):
            self.endpoint.notify_refer(call, 200, "OK", self.now())
        else:
            self.endpoint.notify_refer(call, 503, "Service Unavailable", self.now())
        self.flush()

    def _bridged_peers(self, channel: Channel) -> list[Channel]:
        leg = _leg(channel)
        peers = [p for p in leg.peers if not p.is_hungup]
        if leg.requestor is not None and not leg.requestor.is_hungup:
            peers.append(leg.requestor)
        return peers

    # -- PBX -> SIP -----------------------------------------------------------------------------------

    async def request(self, resource: str, *, requestor: Channel | None = None) -> Channel:
        """``SIP/user``, ``SIP/trunk/number`` or ``SIP/number@host[:port]``."""
        target: tuple[str, ...]
        name = resource
        if "/" in resource:
            trunk_name, _, number = resource.partition("/")
            if trunk_name not in self.endpoint.trunks:
                raise ChannelUnavailable(HangupCause.CHAN_NOT_IMPLEMENTED, f"no SIP trunk {trunk_name}")
            if not self.endpoint.trunks[trunk_name].servers:
                raise ChannelUnavailable(HangupCause.NETWORK_OUT_OF_ORDER, f"SIP trunk {trunk_name} has no server")
            target, name = ("trunk", trunk_name, number), trunk_name
        elif "@" in resource:
            target = ("uri", resource)
            name = resource.split("@", 1)[1]
        elif resource in self.endpoint.users:
            if not self.endpoint.location.lookup(resource, self.now()):
                raise ChannelUnavailable(HangupCause.SUBSCRIBER_ABSENT, f"{resource} is not registered")
            target = ("user", resource)
        elif resource in self.endpoint.trunks:
            target, name = ("trunk", resource, ""), resource
        else:
            raise ChannelUnavailable(HangupCause.UNALLOCATED, f"no SIP user or trunk {resource}")
        channel = self.pbx.new_channel(self, name, direction=_OUTBOUND)
        channel.tech = _Leg(None, target, requestor)  # call, target, requestor
        channel.add_hangup_callback(_detach_ended_call)
        if requestor is not None:
            requestor_leg = requestor.tech
            if isinstance(requestor_leg, _Leg):  # a SIP channel (only this driver makes legs)
                requestor_leg.peers.append(channel)
        return channel

    async def call(self, channel: Channel, *, timeout: float | None = None) -> None:
        leg = channel.tech  # _leg() written out in the actions every call takes
        assert isinstance(leg, _Leg)
        endpoint = self.endpoint
        offer = None
        requestor = leg.requestor
        if self.media is not None:
            media = await self._open_media(channel, leg)
            offer = media.offer(_requested_codec(requestor))
        elif requestor is not None:
            requestor_leg = requestor.tech
            if isinstance(requestor_leg, _Leg):  # a SIP channel (only this driver makes legs)
                requestor_call = requestor_leg.call
                offer = requestor_call.remote_sdp if requestor_call is not None else None
        if offer is None:
            offer = placeholder_offer(self._host())
        now = self.now()
        caller = channel.caller
        kind = leg.target[0]
        if kind == "user":
            user = leg.target[1]
            bindings = endpoint.location.lookup(user, now)
            if not bindings:
                raise ChannelUnavailable(HangupCause.SUBSCRIBER_ABSENT, f"{user} is not registered")
            binding = bindings[0]
            uri = SipUri.parse(str(binding.contact)) if not isinstance(binding.contact, SipUri) else binding.contact
            destination = binding.destination
            transport = binding.transport
            call = endpoint.invite(uri=uri, destination=destination, from_user=caller.number or "anonymous",
                                   from_display=caller.name, sdp=offer, now=now, transport=transport, user=user)
        elif kind == "trunk":
            trunk = endpoint.trunks[leg.target[1]]
            servers = trunk.servers
            # One server is its own order: the sort by reachability is for trunks with several.
            leg.servers_left = [servers[0]] if len(servers) == 1 else endpoint.servers_in_order(trunk)
            leg.offer = offer
            self._invite_trunk(channel, leg, now)
            return
        else:
            uri = SipUri.parse(f"sip:{leg.target[1]}")
            destination = (uri.host.strip("[]"), uri.port or 5060)
            call = endpoint.invite(uri=uri, destination=destination, from_user=caller.number or "anonymous",
                                   from_display=caller.name, sdp=offer, now=now)
        call.channel = channel
        leg.call = call
        channel.variables["SIPCALLID"] = call.call_id
        self.flush()

    def _invite_trunk(self, channel: Channel, leg: _Leg, now: float) -> None:
        """INVITE the trunk's next server; if it stays silent for ``failover_timeout``, the one after."""
        endpoint = self.endpoint
        trunk = endpoint.trunks[leg.target[1]]
        host, port = leg.servers_left.pop(0)
        number = leg.target[2] or (channel.dnid if channel.dnid != "s" else "")
        server = f"[{host}]" if ":" in host else host
        uri = SipUri.parse(f"sip:{number}@{server}" + (f":{port}" if port != 5060 else ""))
        caller = channel.caller
        from_user = trunk.from_user or caller.number or trunk.username or "anonymous"
        call = endpoint.invite(uri=uri, destination=(host, port), from_user=from_user, from_display=caller.name,
                               from_host=trunk.from_domain or None, sdp=leg.offer, now=now,
                               transport=trunk.transport, trunk=trunk.name)
        call.channel = channel
        leg.call = call
        channel.variables["SIPCALLID"] = call.call_id
        if leg.servers_left:
            endpoint.timers.call_at(now + trunk.failover_timeout, lambda at: self._failover(channel, call, at))
        self.flush()

    def _failover(self, channel: Channel, call: SipCall, now: float) -> None:
        """The server of ``call`` has not answered at all: abandon it and try the next one."""
        leg = channel.tech
        if not isinstance(leg, _Leg) or leg.call is not call or call.heard_from_peer or call.ended \
                or channel.is_hungup or not leg.servers_left:
            return
        log.warning("trunk %s: no answer from %s:%d, trying %s:%d", call.trunk, *call.peer, *leg.servers_left[0])
        self.endpoint.abandon(call)
        self._invite_trunk(channel, leg, now)

    def _retry_after_failure(self, channel: Channel, event: CallFailed) -> bool:
        """A trunk server refused with 503 or timed out: the next server takes the call (RFC 3263 §4.3)."""
        leg = channel.tech
        if not isinstance(leg, _Leg) or leg.call is not event.call or not leg.servers_left \
                or event.status not in (408, 503) or channel.is_hungup:
            return False
        log.warning("trunk %s: %s:%d answered %d %s, trying %s:%d", event.call.trunk, *event.call.peer,
                    event.status, event.reason, *leg.servers_left[0])
        self._invite_trunk(channel, leg, self.now())
        return True

    async def _open_media(self, channel: Channel, leg: _Leg) -> LegMedia:
        """The leg's RTP port (opened on first use) with its DTMF/flash going to the channel and its
        closing tied to the channel's end."""
        if leg.media is not None:
            return leg.media
        assert self.media is not None
        try:
            port = await self.media.open_rtp()
        except MediaUnavailable as exc:
            raise ChannelUnavailable(HangupCause.RESOURCE_UNAVAILABLE, str(exc)) from None
        port.on_digit = lambda digit, ms: channel.queue_event(DigitReceived(digit, ms))
        port.on_flash = lambda: channel.queue_event(IndicationReceived(Indication.FLASH))

        def silent() -> None:
            call = leg.call
            if call is not None and not call.ended and not channel.is_hungup:
                self.endpoint.hangup(call, HangupCause.RECOVERY_ON_TIMER_EXPIRE, self.now())
                self.flush()
                channel.remote_hungup(HangupCause.RECOVERY_ON_TIMER_EXPIRE)

        port.on_timeout = silent
        leg.media = LegMedia(port)
        channel.audio = port

        def closed(gone: Channel) -> None:
            quality = port.quality()
            if quality:
                gone.variables["RTPAUDIOQOS"] = quality
            port.close()

        channel.add_hangup_callback(closed)
        return leg.media

    async def _local_answer(self, channel: Channel, leg: _Leg, call: SipCall) -> bytes | None:
        """Our SDP answer to the caller's offer (the same one again once given); None after refusing."""
        try:
            media = await self._open_media(channel, leg)
        except ChannelUnavailable as exc:
            log.warning("%s: no RTP port: %s", channel.name, exc)
            self.endpoint.reject(call, HangupCause.RESOURCE_UNAVAILABLE, self.now(), status=503)
            self.flush()
            return None
        if media.local is not None and media.negotiated is not None:
            return media.local.serialize()
        if call.remote_sdp is None:
            return media.offer(None)  # a late offer: the caller answers in its ACK
        answer = media.answer(call.remote_sdp, self._bridged_codec(leg))
        if isinstance(answer, NoCommonCodec):
            log.warning("%s: %s", channel.name, answer.reason)
            self.endpoint.reject(call, HangupCause.BEARERCAPABILITY_NOTIMPL, self.now(), status=488)
            self.flush()
            return None
        return answer

    def _bridged_codec(self, leg: _Leg) -> Codec | None:
        """The codec a leg this one dialled has agreed (answer the caller with it: no transcoding)."""
        for peer in leg.peers:
            media = _leg(peer).media
            if media is not None and media.codec is not None:
                return media.codec
        return None

    def _early_media(self, channel: Channel, leg: _Leg) -> None:
        """183 to the caller while a dialled leg sends early media (ringback, announcements): connect them."""
        if self.media is None or leg.media is None:
            return
        for peer in leg.peers:
            media = _leg(peer).media
            if media is not None and media.negotiated is not None and not peer.is_hungup:
                self.media.connect(leg.media.port, media.port)
                return

    async def answer(self, channel: Channel) -> None:
        leg = channel.tech
        assert isinstance(leg, _Leg)
        call = leg.call
        if call is None:
            return
        if self.media is not None:
            answer = await self._local_answer(channel, leg, call)
            if answer is None:
                return
            self.endpoint.answer(call, answer, self.now())
            self.flush()
            return
        sdp = None
        for peer in leg.peers:
            peer_leg = peer.tech
            assert isinstance(peer_leg, _Leg)
            peer_call = peer_leg.call
            if peer.state is _UP and peer_call is not None and peer_call.remote_sdp is not None:
                sdp = peer_call.remote_sdp  # pass the callee's answer through
                break
        if sdp is None:
            sdp = placeholder_answer(call.remote_sdp, self._host())
        self.endpoint.answer(call, sdp, self.now())
        self.flush()

    async def hangup(self, channel: Channel, cause: HangupCause) -> None:
        leg = channel.tech
        assert isinstance(leg, _Leg)
        call = leg.call
        if call is not None and not call.ended:
            self.endpoint.hangup(call, cause, self.now())
            self.flush()

    async def indicate(self, channel: Channel, indication: Indication) -> bool:
        leg = channel.tech
        assert isinstance(leg, _Leg)
        call = leg.call
        if call is None:
            return False
        now = self.now()
        if indication is _RINGING:
            self.endpoint.ring(call, now)  # 180, ring()'s default status: no keyword argument to match
        elif indication in (_PROGRESS, _PROCEEDING):
            if indication is _PROCEEDING:
                return True  # 100 Trying is the transaction layer's
            if self.media is not None and call.role == "uas" and channel.state is not _UP:
                answer = await self._local_answer(channel, leg, call)
                if answer is None:
                    return False
                self.endpoint.ring(call, self.now(), status=183, sdp=answer)
                self._early_media(channel, leg)
                self.flush()
                return True
            early = next((peer_leg.call.remote_sdp for peer_leg in (_leg(p) for p in leg.peers)
                          if peer_leg.call is not None and peer_leg.call.remote_sdp is not None), None)
            self.endpoint.ring(call, now, status=183, sdp=early)  # the callee's early media SDP passes through
        elif indication in (Indication.HOLD, Indication.UNHOLD) and leg.media is not None:
            media = leg.media
            if channel.state is not _UP or call.dialog is None:
                return False
            direction = Direction.SENDONLY if indication is Indication.HOLD else Direction.SENDRECV
            if not self.endpoint.reinvite(call, media.offer(media.codec, direction=direction), now):
                leg.queued_direction = direction  # sent when the pending re-INVITE completes
        elif indication in (Indication.BUSY, Indication.CONGESTION):
            if call.role == "uas" and not call.ended and channel.state is not _UP:
                cause = HangupCause.USER_BUSY if indication is Indication.BUSY else \
                    HangupCause.NORMAL_CIRCUIT_CONGESTION
                self.endpoint.reject(call, cause, now)
                self.flush()
                channel.remote_hungup(cause)
                return True
            return False  # an answered call hears the tone in-band
        elif indication is Indication.FLASH:
            self.endpoint.send_flash_info(call, now)
        else:
            return False
        self.flush()
        return True

    async def send_digit(self, channel: Channel, digit: str, duration_ms: int) -> bool:
        leg = _leg(channel)
        call = leg.call
        if call is None:
            return False
        if leg.media is not None and leg.media.port.send_digit(digit, duration_ms):
            return True  # RFC 4733 when the far end takes telephone-events, else INFO below
        sent = self.endpoint.send_dtmf_info(call, digit, duration_ms, self.now())
        self.flush()
        return sent

    def device_state(self, resource: str) -> DeviceState:
        if resource in self.endpoint.users:
            if not self.endpoint.location.lookup(resource, self.now()):
                return DeviceState.UNAVAILABLE
            busy = any(c.user == resource and not c.ended for c in self.endpoint.live_calls.values())
            return DeviceState.INUSE if busy else DeviceState.NOT_INUSE
        if resource.split("/")[0] in self.endpoint.trunks:
            return DeviceState.UNKNOWN
        return DeviceState.INVALID

    def _host(self) -> str:
        return self.endpoint.settings.host


def _detach_ended_call(channel: Channel) -> None:
    """A gone channel whose SIP call has ended too is dropped from the call: the call itself stays for the
    transactions that absorb retransmissions (up to 64*T1, RFC 6026), but the channel, its leg and the legs
    it dialled need not live as long (memory and garbage-collector work per call).

    A gone leg also leaves the leg that dialled it (its ``requestor``'s ``peers``): the two referred to each
    other, a cycle that only the garbage collector would have freed, with both channels and everything
    they held, for every call dialled."""
    leg = channel.tech
    if not isinstance(leg, _Leg):
        return
    if leg.call is not None and leg.call.ended and leg.call.channel is channel:
        leg.call.channel = None
    requestor = leg.requestor
    if requestor is not None:
        leg.requestor = None
        peers = requestor.tech.peers if isinstance(requestor.tech, _Leg) else []
        if channel in peers:
            peers.remove(channel)


def _requested_codec(requestor: Channel | None) -> Codec | None:
    """The codec the calling leg agreed, to offer it first (no transcoding when the callee takes it)."""
    if requestor is None or not isinstance(requestor.tech, _Leg) or requestor.tech.media is None:
        return None
    media = requestor.tech.media
    if media.codec is not None:
        return media.codec
    call = requestor.tech.call
    return _first_offered(call.remote_sdp) if call is not None else None


def _first_offered(sdp: bytes | None) -> Codec | None:
    if sdp is None:
        return None
    try:
        parsed = SessionDescription.parse(sdp)
    except SdpError:
        return None
    for media in parsed.media:
        if media.kind == "audio" and media.port:
            for fmt in media.formats:
                for codec in CODECS:
                    if fmt == str(codec.payload_type):
                        return codec
    return None


def _leg(channel: Channel) -> _Leg:
    tech = channel.tech
    assert isinstance(tech, _Leg)
    return tech

