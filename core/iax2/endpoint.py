"""The IAX2 endpoint: the sans-IO core every IAX2 datagram of the gateway goes through (RFC 5456).

:class:`IaxEndpoint` is fed datagrams with their source and the current time (``receive_datagram``) and the
passing of time (``handle_timer``); it says when it next needs the time (``get_timer``), hands back the
datagrams to send (``datagrams_to_send``) and the events for the channel driver (``next_event``).  It never
reads a clock or touches a socket, in the shape of aioquic's ``QuicConnection``.

Inside, one UDP port carries everything (RFC 5456 §3): a datagram is told apart as meta (trunk or video),
full or mini frame; full frames are matched to a call by our call number and the peer's address (or, for a
retransmitted NEW, by the peer's call number), decrypted when the call is encrypted, parsed strictly and
passed through the call's sequence check (:mod:`core.iax2.reliability`) before the signalling code of
:mod:`core.iax2.calls` and :mod:`core.iax2.registration` sees them.  What chan_iax2 does outside any call is
done here: PONG to POKE and CALLTOKEN/REJECT/REGREJ replies from the "apathetic" call number 1, call
tokens, INVAL for frames of unknown calls.  A malformed full frame of a known call is answered with INVAL
and ends the call (RFC 5456 §6.9.2); nothing a peer sends makes an exception leave ``receive_datagram``.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import secrets
import struct
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import cast

from core.callerid import CallerId
from core.causes import HangupCause
from core.iax2.auth import CallTokens, RsaKey
from core.iax2.calls import (
    APATHETIC_CALL,
    CHANNELS_HEADER,
    CallEvent,
    CallKind,
    CallNumberPool,
    CallSignalling,
    CallState,
    IaxCall,
    MediaReceived,
    VoiceReceived,
)
from core.iax2.constants import (
    IAX_PORT,
    AuthMethod,
    Encryption,
    FrameType,
    IaxCommand,
    InfoElement,
    MediaFormat,
    formats_in,
)
from core.iax2.crypto import CallCipher, IaxCryptoError
from core.iax2.frames import (
    FullFrame,
    IaxFrameError,
    VideoFrame,
    parse_datagram,
    parse_full,
    parse_full_header,
    split_trunk,
)
from core.iax2.ies import Ies
from core.iax2.registration import PeerState, Registration, RegistrationEvent, RegistrationHandling
from core.iax2.reliability import MAX_RETRIES, Disposition, ReliableChannel, is_neutral
from core.iax2.trunk import DEFAULT_TRUNK_FREQ, DEFAULT_TRUNK_MTU, TrunkMultiplexer
from core.sip.timers import Timer, TimerQueue

log = logging.getLogger("centralita.iax2")
trace = logging.getLogger("centralita.iax2.trace")

Address = tuple[str, int]
IaxEvent = CallEvent | RegistrationEvent
"""Everything ``next_event`` returns: call events (:mod:`core.iax2.calls`) and registration events."""
DEFAULT_FORMATS = int(MediaFormat.ULAW | MediaFormat.ALAW)


@dataclass(frozen=True, slots=True)
class IaxUserSettings:
    """Someone who may call us (iax.conf ``type=user``), found by the USERNAME of its NEW."""

    name: str
    secret: str = ""
    auth: AuthMethod = AuthMethod.MD5
    inkeys: tuple[str, ...] = ()
    context: str = "default"
    formats: int = 0
    encryption: int = 0
    force_encryption: bool = False
    calltoken: bool = True
    trunk: bool = False
    callerid: CallerId | None = None


@dataclass(frozen=True, slots=True)
class IaxPeerSettings:
    """Someone we call and who may call us (iax.conf ``type=friend``).

    ``host`` None makes the peer dynamic: it registers to us.  ``secret`` may list several secrets separated
    by ``;`` (all accepted from the peer; the first is what we answer with).  ``auth`` is what we ask of the
    peer and what we are willing to answer with (plaintext only when listed).  ``calltoken`` both requires a
    token from the peer and makes us send an empty CALLTOKEN to it (iaxmodem and other old libiax2 peers have
    none: set it False for them).  ``trunk`` and ``encryption`` exclude each other (see
    :mod:`core.iax2.crypto`).
    """

    name: str
    host: str | None = None
    port: int = IAX_PORT
    username: str = ""
    secret: str = ""
    auth: AuthMethod = AuthMethod.MD5
    inkeys: tuple[str, ...] = ()
    outkey: str = ""
    context: str = "default"
    formats: int = 0
    trunk: bool = False
    encryption: int = 0
    force_encryption: bool = False
    calltoken: bool = True
    qualify_ms: int = 0
    qualify_freq_ok: float = 60.0
    qualify_freq_notok: float = 10.0
    callerid: CallerId | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.trunk and self.encryption:
            raise ValueError(f"IAX2 peer {self.name}: trunk and encryption are mutually exclusive "
                             "(chan_iax2 sends trunked media unencrypted)")
        if self.encryption and not self.auth & AuthMethod.MD5:
            raise ValueError(f"IAX2 peer {self.name}: encryption needs MD5 authentication (the key comes from it)")


@dataclass(frozen=True, slots=True)
class IaxRegistrationSettings:
    """Our registration to a server (iax.conf ``register => user:secret@host:port``)."""

    host: str
    username: str
    secret: str = ""
    port: int = IAX_PORT
    outkey: str = ""
    auth: AuthMethod = AuthMethod.MD5 | AuthMethod.RSA
    refresh: int = 60
    calltoken: bool = True


@dataclass(frozen=True, slots=True)
class IaxEndpointSettings:
    """The endpoint as a whole (``[iax2]`` of the configuration)."""

    host: str = "0.0.0.0"
    port: int = IAX_PORT
    peers: tuple[IaxPeerSettings, ...] = ()
    users: tuple[IaxUserSettings, ...] = ()
    registrations: tuple[IaxRegistrationSettings, ...] = ()
    formats: int = DEFAULT_FORMATS
    preference: tuple[int, ...] = (int(MediaFormat.ULAW), int(MediaFormat.ALAW))
    guest_context: str | None = None
    default_username: str = ""
    min_reg_expire: int = 60
    max_reg_expire: int = 3600
    trunk_freq: float = DEFAULT_TRUNK_FREQ
    trunk_timestamps: bool = False
    trunk_mtu: int = DEFAULT_TRUNK_MTU
    ping_interval: float = 21.0
    lagrq_interval: float = 10.0
    max_retries: int = MAX_RETRIES
    calltoken_optional: tuple[str, ...] = ()
    calltoken_secret: bytes = field(default=b"", repr=False)

    def preferred(self, formats: int) -> int:
        """The first format of our preference among ``formats`` (else its lowest bit)."""
        for fmt in self.preference:
            if fmt & formats:
                return fmt
        bits = formats_in(formats)
        return bits[0] if bits else 0


class IaxEndpoint(CallSignalling, RegistrationHandling):
    """One IAX2 endpoint (one UDP port), sans-IO."""

    def __init__(self, settings: IaxEndpointSettings, *, rng: random.Random | None = None,
                 wallclock: Callable[[], datetime] | None = None, keys: Mapping[str, RsaKey] | None = None) -> None:
        self.settings = settings
        self.rng = rng or random.Random()
        self.wallclock = wallclock or (lambda: datetime.now(timezone.utc))
        self.keys: dict[str, RsaKey] = dict(keys or {})
        self.calls: dict[int, IaxCall] = {}
        self.by_remote: dict[tuple[Address, int], int] = {}
        self.callnos = CallNumberPool(self.rng)
        self.events: deque[object] = deque()
        self.timers = TimerQueue()
        self.trunks = TrunkMultiplexer(settings.trunk_freq, settings.trunk_mtu, settings.trunk_timestamps)
        self.tokens = CallTokens(settings.calltoken_secret or secrets.token_bytes(32))
        self.peers: dict[str, IaxPeerSettings] = {p.name: p for p in settings.peers}
        self.users: dict[str, IaxUserSettings] = {u.name: u for u in settings.users}
        self.peer_states: dict[str, PeerState] = {p.name: PeerState(p) for p in settings.peers}
        self.registrations: list[Registration] = [Registration(r, refresh=r.refresh) for r in settings.registrations]
        self._optional_networks = [ipaddress.ip_network(n, strict=False) for n in settings.calltoken_optional]
        self._outbox: list[tuple[bytes, Address]] = []
        self._retx: dict[int, Timer] = {}
        self._trunk_timer: Timer | None = None
        self.stats: dict[str, int] = {"received": 0, "sent": 0, "malformed": 0, "dropped": 0, "inval_sent": 0,
                                      "decrypt_failed": 0, "full_sent": 0, "mini_sent": 0, "trunk_sent": 0}

    # -- the sans-IO interface -----------------------------------------------------------------------------------

    def start(self, now: float) -> None:
        """Begin the configured registrations and the qualify of static peers."""
        for registration in self.registrations:
            self.register(registration, now)
        for state in self.peer_states.values():
            if state.settings.qualify_ms and state.current_address() is not None:
                self.poke(state.settings.name, now)

    def stop(self, now: float) -> None:
        """Hang up every call (cause 16) and release registrations; datagrams are left to send."""
        for call in list(self.calls.values()):
            if call.kind is CallKind.CALL and call.alive:
                self.hangup(call.local, now)
        self.release_registrations(now)

    def receive_datagram(self, data: bytes, source: Address, now: float) -> None:
        """A datagram arrived from ``source``."""
        self.stats["received"] += 1
        try:
            self._receive(data, source, now)
        except (IaxFrameError, IaxCryptoError) as exc:
            self.stats["malformed"] += 1
            log.debug("dropped datagram from %s:%d: %s", source[0], source[1], exc)

    def handle_timer(self, now: float) -> None:
        """Run what is due: retransmissions, pings, registrations, qualify, trunk frames."""
        self.timers.run_due(now)

    def get_timer(self) -> float | None:
        """The next deadline (monotonic seconds), or None."""
        return self.timers.next_deadline()

    def datagrams_to_send(self) -> list[tuple[bytes, Address]]:
        """Drain what must go out, as ``(datagram, address)``."""
        out, self._outbox = self._outbox, []
        self.stats["sent"] += len(out)
        return out

    def next_event(self) -> IaxEvent | None:
        """The next event for the channel driver (:mod:`core.iax2.calls` and :mod:`core.iax2.registration`)."""
        return cast("IaxEvent", self.events.popleft()) if self.events else None

    # -- receiving ---------------------------------------------------------------------------------------------

    def _receive(self, data: bytes, source: Address, now: float) -> None:
        if len(data) < 4:
            raise IaxFrameError(f"datagram of {len(data)} bytes", len(data))
        first = (data[0] << 8) | data[1]
        if first == 0:
            if not data[2] & 0x80:
                self._on_trunk(data, source, now)
                return
            frame = parse_datagram(data)
            if isinstance(frame, VideoFrame):
                self._on_video(frame, source, now)
            return
        if first & 0x8000:
            self._on_full_datagram(data, source, now)
            return
        call = self._by_remote(source, first)
        if call is None or call.kind is not CallKind.CALL or not call.alive:
            self.stats["dropped"] += 1
            return
        if call.encrypted and call.cipher is not None:
            data = call.cipher.decrypt(data)
            if len(data) < 4:
                raise IaxFrameError("decrypted mini frame too short", 0)
        call.frames_in += 1
        self.on_mini(call, (data[2] << 8) | data[3], data[4:], now)

    def _by_remote(self, source: Address, remote: int) -> IaxCall | None:
        local = self.by_remote.get((source, remote))
        return self.calls.get(local) if local is not None else None

    def _on_full_datagram(self, data: bytes, source: Address, now: float) -> None:
        scall, dcall, _retransmission = parse_full_header(data)
        call: IaxCall | None = None
        if dcall:
            call = self.calls.get(dcall)
            if call is not None and (call.address != source or (call.remote and call.remote != scall)):
                call = None
        if call is None:
            call = self._by_remote(source, scall)
        plain = data
        if call is not None and call.encrypted:
            plain_or_none = self._decrypt(call, data)
            if plain_or_none is None:
                self.stats["decrypt_failed"] += 1
                return
            plain = plain_or_none
        try:
            frame = parse_full(plain)
            ies = frame.ies
        except IaxFrameError as exc:
            self.stats["malformed"] += 1
            if call is not None and call.alive:
                log.warning("malformed frame on IAX2 call %d from %s:%d: %s", call.local, source[0], source[1], exc)
                self._send_inval(call, plain, now)
                self.fail_call(call, now, HangupCause.INVALID_MSG_UNSPECIFIED, f"malformed frame: {exc.reason}")
            return
        if trace.isEnabledFor(logging.DEBUG):
            trace.debug("Rx %s:%d %s\n%s", source[0], source[1], frame.describe(), ies.describe())
        if call is None:
            self._on_unknown_call(frame, ies, source, now)
        else:
            self._on_call_frame(call, frame, ies, now)

    def _decrypt(self, call: IaxCall, data: bytes) -> bytes | None:
        if call.cipher is None:
            # The callee learns the key from the caller's encrypted AUTHREP: one secret of the list decrypts it.
            cipher = CallCipher.from_secrets(call.challenge, call.secret, data, call.encryption, _is_authrep)
            if cipher is not None:
                call.cipher = cipher
            elif _is_authrep(data):
                # The caller ignored the ENCRYPTION of our AUTHREQ and goes on in clear (RFC 5456 §7.4 lets it).
                call.encrypted = False
                call.encryption = 0
                return data
            else:
                return None
        try:
            return call.cipher.decrypt(data)
        except IaxCryptoError:
            return None

    def _on_unknown_call(self, frame: FullFrame, ies: Ies, source: Address, now: float) -> None:
        if frame.is_iax(IaxCommand.ACK) and frame.dest_call == APATHETIC_CALL:
            return
        if frame.dest_call == 0 and frame.is_iax(IaxCommand.POKE):
            self.send_apathetic(frame, source, IaxCommand.PONG)
            return
        if frame.dest_call == 0 and frame.is_iax(IaxCommand.NEW, IaxCommand.REGREQ, IaxCommand.REGREL):
            if not self._calltoken_gate(frame, ies, source, now):
                return
            kind = CallKind.CALL if frame.subclass == IaxCommand.NEW else CallKind.REGISTRAR
            user = self.user_for(ies.text(InfoElement.USERNAME)) if kind is CallKind.CALL else None
            call = self.new_call(source, kind, False, now, trunk=bool(user is not None and user.trunk))
            call.state = CallState.INCOMING
            self._bind(call, frame.source_call)
            call.frames_in += 1
            call.channel.receive(frame)
            call.note_message(frame, False)
            if kind is CallKind.CALL:
                self.on_new(call, frame, ies, now)
            else:
                self.on_regreq(call, frame, ies, now)
            self._ack_if_owed(call, frame, now)
            return
        if frame.is_iax(IaxCommand.INVAL, IaxCommand.ACK, IaxCommand.TXCNT, IaxCommand.TXACC, IaxCommand.FWDOWNL):
            return  # (chan_iax2 also INVALs a stray ACK; an ACK asks for nothing, so it is dropped here)
        # chan_iax2 raw_hangup: an INVAL outside any call, from their destination to their source.
        inval = FullFrame(frame.dest_call, frame.source_call, 0, 0, 0, FrameType.IAX, IaxCommand.INVAL)
        self._queue(inval.encode(), source)
        self.stats["inval_sent"] += 1

    def _calltoken_gate(self, frame: FullFrame, ies: Ies, source: Address, now: float) -> bool:
        """chan_iax2 ``handle_call_token``: True when the NEW/REGREQ/REGREL may go on."""
        refusal = IaxCommand.REJECT if frame.subclass == IaxCommand.NEW else IaxCommand.REGREJ
        if ies.has(InfoElement.CALLTOKEN):
            token = ies.raw(InfoElement.CALLTOKEN) or b""
            if not token:
                self.send_apathetic(frame, source, IaxCommand.CALLTOKEN,
                                    Ies.of((InfoElement.CALLTOKEN, self.tokens.mint(source, now))))
                return False
            if self.tokens.check(token, source, now):
                return True
            log.warning("invalid call token from %s:%d", *source)
            self.send_apathetic(frame, source, refusal)
            return False
        if self._calltoken_required(source, ies.text(InfoElement.USERNAME), frame.subclass):
            log.warning("IAX2 %s from %s:%d refused: call token required", IaxCommand(frame.subclass).name, *source)
            self.send_apathetic(frame, source, refusal)
            return False
        return True

    def _calltoken_required(self, source: Address, name: str, command: int) -> bool:
        try:
            optional = any(ipaddress.ip_address(source[0]) in net for net in self._optional_networks)
        except ValueError:
            optional = False
        setting: IaxUserSettings | IaxPeerSettings | None
        if command == IaxCommand.NEW:
            setting = self.user_for(name or "guest")
        else:
            setting = self.peers.get(name)
        if setting is not None and not setting.calltoken:
            return False
        return not optional

    def _bind(self, call: IaxCall, remote: int) -> None:
        if call.remote and call.remote != remote:
            self.by_remote.pop((call.address, call.remote), None)
        call.remote = remote
        self.by_remote[(call.address, remote)] = call.local

    def _on_call_frame(self, call: IaxCall, frame: FullFrame, ies: Ies, now: float) -> None:
        call.frames_in += 1
        if frame.is_iax(IaxCommand.CALLTOKEN):
            if call.outbound and not call.linked:
                self.on_calltoken(call, frame, ies, now)
            return
        if not call.linked and frame.source_call:
            self._bind(call, frame.source_call)
        disposition = call.channel.receive(frame)
        self._arm(call)
        if disposition is Disposition.DUPLICATE:
            if not frame.is_iax(IaxCommand.ACK, IaxCommand.INVAL):
                self.send_ack(call, frame, now)
            return
        if disposition is Disposition.OUT_OF_ORDER:
            call.out_of_order += 1
            self.send_full(call, FrameType.IAX, IaxCommand.VNAK, now)
            return
        call.note_message(frame, False)
        if frame.is_iax(IaxCommand.INVAL):
            self.fail_call(call, now, HangupCause.INVALID_CALL_REFERENCE, "INVAL from peer")
            return
        if call.state is CallState.HANGUP_SENT:
            self._after_final(call, frame, ies, now)
            return
        self._dispatch(call, frame, ies, now)
        if call.local in self.calls and call.alive:
            self._ack_if_owed(call, frame, now)

    def _after_final(self, call: IaxCall, frame: FullFrame, ies: Ies, now: float) -> None:
        """Our HANGUP/REJECT/REGACK/REGREJ is out: once it is acknowledged the call is gone.  A crossing
        HANGUP/REJECT is acknowledged; anything else gets INVAL (RFC 5456 §6.2.5)."""
        crossing = frame.is_iax(IaxCommand.HANGUP, IaxCommand.REJECT)
        if crossing:
            self.send_ack(call, frame, now)
        if not any(p.final for p in call.channel.pending):
            self.destroy(call, now)
        elif not crossing and not is_neutral(frame.frame_type, frame.subclass):
            self._send_inval(call, frame.encode(), now)

    def _dispatch(self, call: IaxCall, frame: FullFrame, ies: Ies, now: float) -> None:
        if frame.frame_type == FrameType.IAX:
            command = frame.subclass
            if command == IaxCommand.ACK:
                return
            if call.kind is CallKind.REGISTRATION:
                if command == IaxCommand.REGAUTH:
                    self.on_regauth(call, frame, ies, now)
                elif command == IaxCommand.REGACK:
                    self.on_regack(call, frame, ies, now)
                elif command == IaxCommand.REGREJ:
                    self.on_regrej(call, frame, ies, now)
                return
            if call.kind is CallKind.REGISTRAR:
                if command in (IaxCommand.REGREQ, IaxCommand.REGREL):
                    self.on_regreq(call, frame, ies, now)
                return
            if call.kind is CallKind.POKE:
                if command == IaxCommand.PONG:
                    self.on_poke_pong(call, frame, now)
                return
            if command == IaxCommand.NEW:
                return
            if not self.on_call_command(call, frame, ies, now):
                self.send_full(call, FrameType.IAX, IaxCommand.UNSUPPORT, now,
                               ies=Ies.of((InfoElement.IAX_UNKNOWN, command & 0xFF)))
            return
        if call.kind is not CallKind.CALL:
            return
        if frame.frame_type == FrameType.CONTROL:
            self.on_control(call, frame, now)
            return
        if frame.frame_type == FrameType.VOICE and call.rx_core is None:
            call.rx_core = now - frame.timestamp / 1000.0
        self.on_media(call, frame, now)

    def _ack_if_owed(self, call: IaxCall, frame: FullFrame, now: float) -> None:
        if not is_neutral(frame.frame_type, frame.subclass) and call.channel.owes_ack():
            self.send_ack(call, frame, now)

    def _on_trunk(self, data: bytes, source: Address, now: float) -> None:
        """Demultiplex a trunk frame into the calls' voice (chan_iax2 ``socket_process_meta``)."""
        timestamp, _with_ts, entries = split_trunk(data)
        origin = self.trunks.received(source, timestamp, now)
        by_remote, calls, events = self.by_remote, self.calls, self.events
        for call_number, entry_ts, payload in entries:
            local = by_remote.get((source, call_number))
            call = calls.get(local) if local is not None else None
            if call is None or call.kind is not CallKind.CALL or not call.alive:
                continue
            if not call.rx.full_voice_seen:
                self.send_full(call, FrameType.IAX, IaxCommand.VNAK, now)
                continue
            if entry_ts is not None:
                ts = call.rx.mini(entry_ts)
            else:
                core = call.rx_core if call.rx_core is not None else origin
                ts = max(int(round((origin - core) * 1000)) + timestamp, 0) & 0xFFFFFFFF
                call.rx.full(ts)
            call.voice_in += 1
            events.append(VoiceReceived(call.local, call.rx.voice_format, payload, ts, False, True))

    def _on_video(self, frame: VideoFrame, source: Address, now: float) -> None:
        call = self._by_remote(source, frame.source_call)
        if call is None or call.kind is not CallKind.CALL or not call.alive:
            return
        ts = call.rx.mini(frame.timestamp, bits=15)
        self.events.append(MediaReceived(call.local, FrameType.VIDEO, 0, frame.payload, ts))

    # -- sending ------------------------------------------------------------------------------------------------

    def _queue(self, data: bytes, address: Address) -> None:
        self._outbox.append((data, address))

    def _seal(self, call: IaxCall) -> Callable[[FullFrame], bytes]:
        if call.encrypted and call.cipher is not None:
            encrypt = call.cipher.sealer()
            return lambda frame: encrypt(frame.encode())
        return FullFrame.encode

    def send_full(self, call: IaxCall, frame_type: int, subclass: int, now: float, *, ies: Ies | None = None,
                  payload: bytes = b"", timestamp: int | None = None, final: bool = False) -> FullFrame:
        """Send a full frame on a call: sequence numbers, timestamp, encryption, retransmission."""
        if ies is not None:
            payload = ies.encode()
        ts = timestamp if timestamp is not None else call.tx.signalling(now)
        oseqno, iseqno = call.channel.stamp(frame_type, subclass)
        frame = FullFrame(call.local, call.remote, ts, oseqno, iseqno, frame_type, subclass, payload)
        seal = self._seal(call)
        self._queue(seal(frame), call.address)
        self.stats["full_sent"] += 1
        call.frames_out += 1
        call.note_message(frame, True)
        if trace.isEnabledFor(logging.DEBUG):
            trace.debug("Tx %s:%d %s", call.address[0], call.address[1], frame.describe())
        if not is_neutral(frame_type, subclass):
            call.channel.track(frame, seal, now, final=final)
            self._arm(call)
        return frame

    def send_ack(self, call: IaxCall, frame: FullFrame, now: float) -> None:
        """ACK echoing the acknowledged frame's timestamp (RFC 5456 §6.9.1)."""
        self.send_full(call, FrameType.IAX, IaxCommand.ACK, now, timestamp=frame.timestamp)

    def _send_inval(self, call: IaxCall, data: bytes, now: float) -> None:
        ts = int.from_bytes(data[4:8], "big") if len(data) >= 8 else 0
        self.send_full(call, FrameType.IAX, IaxCommand.INVAL, now, timestamp=ts)
        self.stats["inval_sent"] += 1

    def send_apathetic(self, frame: FullFrame, address: Address, command: IaxCommand,
                       ies: Ies | None = None) -> None:
        """A reply outside any call, from call number 1 (chan_iax2 ``send_apathetic_reply``)."""
        reply = FullFrame(APATHETIC_CALL, frame.source_call, frame.timestamp, 0, (frame.oseqno + 1) & 0xFF,
                          FrameType.IAX, command, ies.encode() if ies is not None else b"")
        self._queue(reply.encode(), address)

    def send_mini(self, call: IaxCall, timestamp: int, payload: bytes) -> None:
        """A mini voice frame (encrypted when the call is)."""
        data = struct.pack("!HH", call.local, timestamp & 0xFFFF) + payload
        if call.encrypted and call.cipher is not None:
            data = call.cipher.encrypt(data)
        self._outbox.append((data, call.address))
        self.stats["mini_sent"] += 1

    def trunk_voice(self, call: IaxCall, timestamp: int, payload: bytes, now: float) -> None:
        """Queue voice into the trunk to the call's peer; the trunk timer sends it."""
        for data in self.trunks.queue(call.address, call.local, timestamp, payload, now):
            self._queue(data, call.address)
            self.stats["trunk_sent"] += 1
        if self._trunk_timer is None and self.trunks.next_tick is not None:
            self._trunk_timer = self.timers.call_at(self.trunks.next_tick, self._trunk_tick)

    def _trunk_tick(self, now: float) -> None:
        self._trunk_timer = None
        for data, address in self.trunks.due(now):
            self._queue(data, address)
            self.stats["trunk_sent"] += 1
        if self.trunks.next_tick is not None:
            self._trunk_timer = self.timers.call_at(self.trunks.next_tick, self._trunk_tick)

    def resend(self, call: IaxCall, datagrams: list[bytes]) -> None:
        """Queue retransmitted datagrams."""
        for data in datagrams:
            self._queue(data, call.address)

    # -- calls and timers ------------------------------------------------------------------------------------------

    def new_call(self, address: Address, kind: CallKind, outbound: bool, now: float, *,
                 trunk: bool = False) -> IaxCall:
        """A call number in use for ``kind``."""
        local = self.callnos.allocate(now, trunk)
        call = IaxCall(local, address, kind, outbound, now,
                       channel=ReliableChannel(max_retries=self.settings.max_retries))
        self.calls[local] = call
        if kind is CallKind.CALL:
            if self.settings.ping_interval:
                self._every(call, self.settings.ping_interval, IaxCommand.PING, now)
            if self.settings.lagrq_interval:
                self._every(call, self.settings.lagrq_interval, IaxCommand.LAGRQ, now)
        return call

    def _every(self, call: IaxCall, interval: float, command: IaxCommand, now: float) -> None:
        """PING every ``ping_interval`` (chan_iax2 21 s) and LAGRQ every ``lagrq_interval`` (10 s) on a linked call."""
        def fire(when: float) -> None:
            if call.local not in self.calls or not call.alive:
                return
            if call.linked and call.state in (CallState.ACCEPTED, CallState.UP):
                self.send_full(call, FrameType.IAX, command, when)
            self.schedule(call, when + interval, fire)
        self.schedule(call, now + interval, fire)

    def destroy(self, call: IaxCall, now: float) -> None:
        """Forget a call; its number rests for 60 s before reuse."""
        if self.calls.get(call.local) is not call:
            return
        call.state = CallState.DEAD
        call.channel.clear()
        for timer in call.timers:
            timer.cancel()
        call.timers.clear()
        retx = self._retx.pop(call.local, None)
        if retx is not None:
            retx.cancel()
        del self.calls[call.local]
        if call.remote and self.by_remote.get((call.address, call.remote)) == call.local:
            del self.by_remote[(call.address, call.remote)]
        self.callnos.release(call.local, now)
        registration = call.registration
        if isinstance(registration, Registration) and registration.call == call.local:
            registration.call = None

    def schedule(self, call: IaxCall | None, when: float, callback: Callable[[float], None]) -> Timer:
        """Run ``callback(now)`` at ``when`` (cancelled with the call when one is given)."""
        timer = self.timers.call_at(when, callback)
        if call is not None:
            if len(call.timers) > 8:
                call.timers = [t for t in call.timers if not t.cancelled]  # fired timers count as cancelled
            call.timers.append(timer)
        return timer

    def _arm(self, call: IaxCall) -> None:
        deadline = call.channel.next_deadline()
        current = self._retx.get(call.local)
        if current is not None:
            if not current.cancelled and current.when == deadline:
                return
            current.cancel()
            del self._retx[call.local]
        if deadline is not None:
            self._retx[call.local] = self.timers.call_at(deadline, lambda now: self._retransmit(call, now))

    def _retransmit(self, call: IaxCall, now: float) -> None:
        self._retx.pop(call.local, None)
        if self.calls.get(call.local) is not call:
            return
        datagrams, give_up = call.channel.due(now)
        self.resend(call, datagrams)
        if give_up is None:
            self._arm(call)
            return
        log.info("IAX2 call %d to %s:%d: no answer after %d transmissions", call.local, call.address[0],
                 call.address[1], self.settings.max_retries)
        if call.kind is CallKind.REGISTRATION:
            self.destroy(call, now)
            self.registration_timed_out(call, now)
        elif call.kind is CallKind.CALL and not give_up.final:
            self.fail_call(call, now, HangupCause.DESTINATION_OUT_OF_ORDER, "peer stopped answering")
        else:
            self.destroy(call, now)

    # -- lookups ------------------------------------------------------------------------------------------------

    def peer_settings(self, name: str) -> IaxPeerSettings | None:
        """A configured peer by name."""
        return self.peers.get(name)

    def user_for(self, name: str) -> IaxUserSettings | IaxPeerSettings | None:
        """Who a NEW's USERNAME names: a user, else a peer (friend)."""
        return self.users.get(name) or self.peers.get(name)

    def peer_at(self, address: Address) -> IaxPeerSettings | None:
        """The peer a NEW without USERNAME comes from, by address (configured or registered)."""
        for state in self.peer_states.values():
            current = state.current_address()
            if current is not None and current[0] == address[0] and (state.dynamic or current[1] == address[1]):
                return state.settings
        return None

    def peer_address(self, peer: IaxPeerSettings) -> Address | None:
        """Where a peer can be reached now."""
        state = self.peer_states.get(peer.name)
        return state.current_address() if state is not None else None

    def rsa_keys(self, names: tuple[str, ...]) -> list[RsaKey]:
        """The loaded keys among ``names`` (missing ones are logged, as chan_iax2 does)."""
        found = []
        for name in names:
            key = self.keys.get(name)
            if key is None:
                log.warning("requested IAX2 RSA key %r is not loaded", name)
            else:
                found.append(key)
        return found

    # -- show commands ------------------------------------------------------------------------------------------

    def channels_table(self, names: Mapping[int, str] | None = None) -> str:
        """``iax2 show channels`` as Asterisk prints it (``names``: channel names by call id)."""
        rows = [call.describe((names or {}).get(call.local, "(None)")) for call in self.calls.values()
                if call.kind is CallKind.CALL]
        plural = "" if len(rows) == 1 else "s"
        body = "".join(row + "\n" for row in rows)
        return f"{CHANNELS_HEADER}\n{body}{len(rows)} active IAX channel{plural}\n"

    def active_calls(self) -> list[IaxCall]:
        """Calls (not registrations or pokes) that exist now."""
        return [call for call in self.calls.values() if call.kind is CallKind.CALL]


def _is_authrep(plain: bytes) -> bool:
    """True when a decrypted datagram is a well-formed AUTHREP (how the right secret is recognised)."""
    try:
        frame = parse_full(plain)
        frame.ies  # noqa: B018 - parses and validates the elements
    except IaxFrameError:
        return False
    return frame.is_iax(IaxCommand.AUTHREP)


ENCRYPTION_YES = int(Encryption.AES128 | Encryption.KEYROTATE)
"""What ``encryption=yes`` (or ``aes128``) advertises in chan_iax2."""
