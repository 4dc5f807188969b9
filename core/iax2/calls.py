"""IAX2 calls: per-call state, the events the channel driver reads, and call signalling (RFC 5456 §6.2-6.10).

:class:`IaxCall` is one call leg (or one of the short-lived exchanges chan_iax2 also runs on a call number:
a registration, a registrar's answer, a POKE).  :class:`CallSignalling` is the part of the endpoint that
places and answers calls: NEW/ACCEPT/AUTHREQ/AUTHREP/REJECT/HANGUP, call tokens as a client, the control
indications (RINGING, PROCEEDING, ANSWER, HOLD...), DTMF, text, voice in full and mini frames, QUELCH and
UNQUELCH, PING/PONG and LAGRQ/LAGRP, VNAK, INVAL and RTKEY.  Its public methods are what the channel
driver calls; the events below are what it receives from ``IaxEndpoint.next_event()``.

Call numbers are drawn at random from 2..16383 (16384..32767 for trunked peers), never reused for 60 s after
a call ends (chan_iax2 ``create_callno_pools``, ``MIN_REUSE_TIME``; 0 and 1 are reserved, 1 being the
"apathetic" call number replies outside any call come from).
"""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from core.callerid import CallerId, Presentation
from core.causes import HangupCause
from core.iax2.auth import (
    IaxAuthError,
    RsaKey,
    make_challenge,
    md5_response,
    rsa_sign,
    rsa_verify,
    verify_md5,
    verify_plaintext,
)
from core.iax2.constants import (
    PROTOCOL_VERSION,
    AuthMethod,
    CallingPresentation,
    ControlSubclass,
    FrameType,
    IaxCommand,
    InfoElement,
    format_name,
    formats_in,
    sample_rate,
    samples_in,
)
from core.iax2.crypto import CallCipher, derive_key, merge_encryption, new_rotation_key
from core.iax2.frames import FullFrame
from core.iax2.ies import Ies, IeValue, encode_datetime, format_ies
from core.iax2.reliability import ReceiveClock, ReliableChannel, TransmitClock
from core.sip.timers import Timer

if TYPE_CHECKING:
    from datetime import datetime

    from core.iax2.endpoint import IaxEndpointSettings, IaxPeerSettings, IaxUserSettings

log = logging.getLogger("centralita.iax2")

Address = tuple[str, int]
CallId = int
"""A call is named by our (local) call number, unique while the call exists."""

MIN_REUSE_TIME = 60.0
"""chan_iax2 ``MIN_REUSE_TIME``: a call number rests this long (seconds) before it is used again."""
TRUNK_CALL_START = 16384
"""chan_iax2 ``TRUNK_CALL_START``: call numbers of trunked calls."""
APATHETIC_CALL = 1
"""The source call number of replies sent outside any call (``send_apathetic_reply``)."""
KEY_ROTATION_MIN, KEY_ROTATION_SPAN = 120.0, 180.0
"""chan_iax2 schedules the next RTKEY 120 to 300 s after the previous one."""


class IaxCallError(RuntimeError):
    """A call operation that cannot be done (unknown call or peer, wrong state)."""


# -- events ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """An authenticated NEW: answer with ``accept()`` (then ``ringing``/``answer``) or ``reject()``."""

    call: CallId
    peer: str
    username: str
    context: str
    called_number: str
    caller: CallerId
    dnid: str
    language: str
    format: int
    capability: int
    encrypted: bool
    address: Address
    variables: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class CallAccepted:
    """Our NEW was accepted; voice will use ``format``."""

    call: CallId
    format: int


@dataclass(frozen=True, slots=True)
class CallRinging:
    """The far end is alerting (CONTROL RINGING, RFC 5456 §6.3.3)."""

    call: CallId


@dataclass(frozen=True, slots=True)
class CallProceeding:
    """The call is being processed further on (CONTROL PROCEEDING, §6.3.2)."""

    call: CallId


@dataclass(frozen=True, slots=True)
class CallProgress:
    """In-band progress follows (CONTROL PROGRESS)."""

    call: CallId


@dataclass(frozen=True, slots=True)
class CallAnswered:
    """The far end answered (CONTROL ANSWER, §6.3.4)."""

    call: CallId


@dataclass(frozen=True, slots=True)
class CallHungUp:
    """The call is over: the peer hung up or rejected it, or it failed (``remote`` False: no answer at all)."""

    call: CallId
    cause: HangupCause
    reason: str
    remote: bool


@dataclass(frozen=True, slots=True)
class CallControl:
    """Another CONTROL frame: BUSY, CONGESTION, HOLD, UNHOLD, FLASH, WINK, SRCUPDATE, CONNECTED_LINE..."""

    call: CallId
    subclass: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class DtmfReceived:
    """A DTMF digit: ``end`` False for DTMF_BEGIN, True for DTMF (the digit itself, RFC 5456 §6.10.1)."""

    call: CallId
    digit: str
    end: bool


@dataclass(frozen=True, slots=True)
class VoiceReceived:
    """Audio from the peer; ``timestamp`` is the peer's 32-bit call clock in ms, rebuilt for mini frames."""

    call: CallId
    format: int
    payload: bytes
    timestamp: int
    full: bool = False
    trunked: bool = False


@dataclass(frozen=True, slots=True)
class TextReceived:
    """A TEXT frame."""

    call: CallId
    text: str


@dataclass(frozen=True, slots=True)
class CallQuelched:
    """The peer asked us to stop (``quelched``) or resume sending media (QUELCH/UNQUELCH, §6.4.4)."""

    call: CallId
    quelched: bool
    music_class: str = ""


@dataclass(frozen=True, slots=True)
class MediaReceived:
    """A full frame of another media type (video, image, HTML, comfort noise, modem)."""

    call: CallId
    frame_type: int
    subclass: int
    payload: bytes
    timestamp: int


CallEvent = (IncomingCall | CallAccepted | CallRinging | CallProceeding | CallProgress | CallAnswered | CallHungUp
             | CallControl | DtmfReceived | VoiceReceived | TextReceived | CallQuelched | MediaReceived)


# -- call state ----------------------------------------------------------------------------------------------


class CallKind(Enum):
    """What a call number is used for."""

    CALL = "call"
    REGISTRATION = "registration"   # our REGREQ to a registrar
    REGISTRAR = "registrar"         # a peer's REGREQ/REGREL to us
    POKE = "poke"                   # our POKE (qualify)


class CallState(Enum):
    """Where a call is."""

    NEW_SENT = "new sent"                  # outbound: NEW (or REGREQ, POKE) sent, nothing back yet
    INCOMING = "incoming"                  # inbound: NEW (or REGREQ/REGREL) received, not answered yet
    AUTH_SENT = "auth sent"                # outbound: AUTHREP sent
    CHALLENGED = "challenged"              # inbound: AUTHREQ sent, waiting for AUTHREP
    AUTHENTICATED = "authenticated"        # inbound: waiting for the driver to accept or reject
    ACCEPTED = "accepted"                  # linked: ACCEPT sent or received
    UP = "up"                              # answered
    HANGUP_SENT = "hangup sent"            # HANGUP/REJECT sent, waiting for its ACK
    DEAD = "dead"


_MEDIA_STATES = frozenset({CallState.ACCEPTED, CallState.UP})
_DURATIONS: dict[tuple[int, int], int] = {}
"""Milliseconds of audio in a payload of a format and size (a tiny cache: the voice path asks every frame)."""


class CallNumberPool:
    """Free call numbers, handed out at random; released ones rest ``MIN_REUSE_TIME`` first."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.normal: list[int] = list(range(2, TRUNK_CALL_START))
        self.trunk: list[int] = list(range(TRUNK_CALL_START, 0x8000))
        self.resting: deque[tuple[float, int]] = deque()

    def allocate(self, now: float, trunk: bool = False) -> int:
        """A free call number (raises :class:`IaxCallError` when none is left)."""
        self._wake(now)
        pool = self.trunk if trunk else self.normal
        if not pool:
            raise IaxCallError("out of call numbers")
        index = self.rng.randrange(len(pool))
        pool[index], pool[-1] = pool[-1], pool[index]
        return pool.pop()

    def release(self, number: int, now: float) -> None:
        """Give a call number back; it is reusable ``MIN_REUSE_TIME`` seconds from ``now``."""
        self.resting.append((now + MIN_REUSE_TIME, number))

    def _wake(self, now: float) -> None:
        while self.resting and self.resting[0][0] <= now:
            _when, number = self.resting.popleft()
            (self.trunk if number >= TRUNK_CALL_START else self.normal).append(number)

    @property
    def available(self) -> int:
        """How many numbers can be handed out now (resting ones excluded)."""
        return len(self.normal) + len(self.trunk)


@dataclass(eq=False)
class IaxCall:
    """One call number's state."""

    local: int
    address: Address
    kind: CallKind
    outbound: bool
    started: float
    state: CallState = CallState.NEW_SENT
    remote: int = 0
    channel: ReliableChannel = field(default_factory=ReliableChannel)
    tx: TransmitClock = field(init=False)
    rx: ReceiveClock = field(default_factory=ReceiveClock)
    peer: str = ""
    username: str = ""
    secret: str = ""
    context: str = ""
    called_number: str = ""
    caller: CallerId = field(default_factory=CallerId)
    dnid: str = ""
    language: str = ""
    format: int = 0
    capability: int = 0
    our_formats: int = 0
    challenge: str = ""
    auth_methods: int = 0
    auth_reject: bool = False
    encryption: int = 0
    force_encryption: bool = False
    cipher: CallCipher | None = None
    encrypted: bool = False
    trunk: bool = False
    send_calltoken: bool = False
    calltoken: bytes = b""
    quelched: bool = False
    new_ies: Ies = field(default_factory=Ies)
    new_command: int = IaxCommand.NEW
    first_message: str = ""
    last_message: str = ""
    lag_ms: int = 0
    ping_ms: int = -1
    frames_in: int = 0
    frames_out: int = 0
    voice_in: int = 0
    voice_out: int = 0
    out_of_order: int = 0
    registration: object | None = None
    variables: tuple[tuple[str, str], ...] = ()
    hangup_cause: HangupCause | None = None
    timers: list[Timer] = field(default_factory=list)
    rotation_started: bool = False
    rx_core: float | None = None

    def __post_init__(self) -> None:
        self.tx = TransmitClock(self.started)

    @property
    def linked(self) -> bool:
        """True once the peer's call number is known."""
        return self.remote != 0

    @property
    def alive(self) -> bool:
        """True while the call can carry signalling and media."""
        return self.state not in (CallState.HANGUP_SENT, CallState.DEAD)

    def note_message(self, frame: FullFrame, sent: bool) -> None:
        """Track the first and last IAX message for ``iax2 show channels`` (``Tx:NEW``, ``Rx:ACK``...)."""
        if frame.frame_type != FrameType.IAX:
            return
        try:
            name = IaxCommand(frame.subclass).name
        except ValueError:
            name = str(frame.subclass)
        text = ("Tx:" if sent else "Rx:") + name
        if not self.first_message:
            self.first_message = text
        self.last_message = text

    def describe(self, channel_name: str = "(None)") -> str:
        """The ``iax2 show channels`` row of this call in Asterisk's layout (chan_iax2 ``FORMAT``)."""
        first_dir, first_msg = (self.first_message[:3], self.first_message[3:]) if self.first_message else ("", "")
        last_dir, last_msg = (self.last_message[:3], self.last_message[3:]) if self.last_message else ("", "")
        return (f"{channel_name:<20.20}  {self.address[0]:<40.40}  {(self.username or '(None)'):<10.10}  "
                f"{self.local:05d}/{self.remote:05d}  {self.channel.oseqno:05d}/{self.channel.iseqno:05d}  "
                f"{_c_int(self.lag_ms, 5):<5}ms  {_c_int(-1, 4):<4}ms  {_c_int(0, 4):<4}ms  "
                f"{format_name(self.format) if self.format else '':<6.6}  "
                f"{first_dir}{first_msg:<7.7}  {last_dir:>3}{last_msg}")


def _c_int(value: int, digits: int) -> str:
    """C's ``%.Nd``: at least ``digits`` digits, zero-padded, after the sign."""
    return ("-" if value < 0 else "") + str(abs(value)).zfill(digits)


CHANNELS_HEADER = (f"{'Channel':<20.20}  {'Peer':<40.40}  {'Username':<10.10}  {'ID (Lo/Rem)':<11.11}  "
                   f"{'Seq (Tx/Rx)':<11.11}  {'Lag':<7.7}  {'Jitter':<6.6}  {'JitBuf':<6.6}  Format  FirstMsg  "
                   f"{'LastMsg':>9}")
"""The header line of ``iax2 show channels`` (chan_iax2 ``FORMAT2``)."""


def negotiate_format(desired: int, theirs: int, ours: int, preference: tuple[int, ...]) -> int:
    """The voice format of an incoming call (chan_iax2 NEW handling): the caller's desired format if we both
    have it, else the first of our preference that both sides have, else the lowest common bit; 0 if none."""
    common = theirs & ours if theirs else ours
    if desired and desired & common == desired and not desired & (desired - 1):
        return desired
    for fmt in preference:
        if fmt & common:
            return fmt
    bits = formats_in(common)
    return bits[0] if bits else 0


def caller_from_ies(ies: Ies) -> CallerId:
    """The caller id of a NEW (CALLING_NUMBER, CALLING_NAME, CALLINGPRES)."""
    pres = ies.number(InfoElement.CALLINGPRES, 0) or 0
    presentation = Presentation.ALLOWED
    if pres == CallingPresentation.NUMBER_NOT_AVAILABLE:
        presentation = Presentation.UNAVAILABLE
    elif pres & 0x60 == 0x20:
        presentation = Presentation.RESTRICTED
    return CallerId(ies.text(InfoElement.CALLING_NUMBER), ies.text(InfoElement.CALLING_NAME), presentation)


_CAUSE_TEXTS = {cause.description.lower(): cause for cause in HangupCause}


def cause_from_ies(ies: Ies, default: HangupCause) -> HangupCause:
    """The Q.850 cause of a HANGUP/REJECT: CAUSECODE when present (RFC 5456 §8.6.33), else the CAUSE text
    when it is one of Asterisk's cause texts (old libiax2 peers send only the text), else ``default``."""
    code = ies.number(InfoElement.CAUSECODE)
    if code:
        try:
            return HangupCause.parse(str(code))
        except ValueError:
            return default
    return _CAUSE_TEXTS.get(ies.text(InfoElement.CAUSE).strip().lower(), default)


def cause_ies(cause: HangupCause, text: str | None = None) -> tuple[tuple[int, IeValue], ...]:
    """CAUSE (Asterisk's cause text) and CAUSECODE (the Q.850 value) of a HANGUP/REJECT/REGREJ."""
    return ((InfoElement.CAUSE, text if text is not None else cause.description),
            (InfoElement.CAUSECODE, int(cause)))


# -- the endpoint as the signalling code sees it --------------------------------------------------------------


class EndpointBase:
    """What :class:`CallSignalling` and the registration code need from ``IaxEndpoint``."""

    settings: IaxEndpointSettings
    calls: dict[int, IaxCall]
    events: deque[object]
    rng: random.Random
    callnos: CallNumberPool
    wallclock: Callable[[], datetime]

    def send_full(self, call: IaxCall, frame_type: int, subclass: int, now: float, *, ies: Ies | None = None,
                  payload: bytes = b"", timestamp: int | None = None, final: bool = False) -> FullFrame:
        raise NotImplementedError

    def send_ack(self, call: IaxCall, frame: FullFrame, now: float) -> None:
        raise NotImplementedError

    def send_apathetic(self, frame: FullFrame, address: Address, command: IaxCommand,
                       ies: Ies | None = None) -> None:
        raise NotImplementedError

    def new_call(self, address: Address, kind: CallKind, outbound: bool, now: float, *,
                 trunk: bool = False) -> IaxCall:
        raise NotImplementedError

    def destroy(self, call: IaxCall, now: float) -> None:
        raise NotImplementedError

    def schedule(self, call: IaxCall | None, when: float, callback: Callable[[float], None]) -> Timer:
        raise NotImplementedError

    def peer_address(self, peer: IaxPeerSettings) -> Address | None:
        raise NotImplementedError

    def trunk_voice(self, call: IaxCall, timestamp: int, payload: bytes, now: float) -> None:
        raise NotImplementedError

    def send_mini(self, call: IaxCall, timestamp: int, payload: bytes) -> None:
        raise NotImplementedError

    def user_for(self, name: str) -> IaxUserSettings | IaxPeerSettings | None:
        raise NotImplementedError

    def rsa_keys(self, names: tuple[str, ...]) -> list[RsaKey]:
        raise NotImplementedError

    def peer_at(self, address: Address) -> IaxPeerSettings | None:
        raise NotImplementedError

    def peer_settings(self, name: str) -> IaxPeerSettings | None:
        raise NotImplementedError

    def resend(self, call: IaxCall, datagrams: list[bytes]) -> None:
        raise NotImplementedError


class CallSignalling(EndpointBase):
    """Calls in both directions (RFC 5456 §6.2-6.10), as the endpoint mixes it in."""

    # -- the channel driver's API ---------------------------------------------------------------------------

    def call(self, peer: str | IaxPeerSettings, number: str, now: float, *, caller: CallerId | None = None,
             context: str = "", formats: int | None = None, dnid: str = "", language: str = "",
             variables: tuple[tuple[str, str], ...] = (), preferred: int = 0) -> CallId:
        """Place a call to ``number`` at a configured peer (``IAX2/peer/number``), or at the peer described by
        ``peer`` itself (``IAX2/user:secret@host/number``: settings with a ``host`` that are not configured);
        returns its id.

        Sends NEW with VERSION first (RFC 5456 §6.2.2), the caller id, FORMAT/CAPABILITY (and their 64-bit
        twins when needed; FORMAT is ``preferred`` when it is among ours, so that a bridge to an RTP leg in that
        codec needs no transcoding), ENCRYPTION when the peer is configured for it, and an empty CALLTOKEN when
        the peer uses call tokens (chan_iax2 ``iax2_call``).
        """
        if isinstance(peer, str):
            settings = self.peer_settings(peer)
            if settings is None:
                raise IaxCallError(f"no IAX2 peer named {peer!r}")
            address = self.peer_address(settings)
        else:
            settings = peer
            address = (settings.host, settings.port) if settings.host else None
        if address is None:
            raise IaxCallError(f"peer {settings.name!r} has no known address (not registered)")
        call = self.new_call(address, CallKind.CALL, True, now, trunk=settings.trunk)
        call.peer = settings.name
        call.username = settings.username or self.settings.default_username
        call.secret = settings.secret
        call.called_number = number
        call.context = context
        call.caller = caller or settings.callerid or CallerId()
        call.our_formats = formats if formats is not None else settings.formats or self.settings.formats
        call.encryption = settings.encryption
        call.force_encryption = settings.force_encryption
        call.trunk = settings.trunk
        call.send_calltoken = settings.calltoken
        call.variables = variables
        if not preferred & call.our_formats or preferred & (preferred - 1):
            preferred = self.settings.preferred(call.our_formats)
        pres = (CallingPresentation.ALLOWED_PASSED_SCREEN if not call.caller.is_restricted
                else CallingPresentation.PROHIBITED_PASSED_SCREEN)
        items: list[tuple[int, IeValue] | None] = [
            (InfoElement.VERSION, PROTOCOL_VERSION),
            (InfoElement.CALLED_NUMBER, number),
            (InfoElement.CALLING_NUMBER, call.caller.number) if call.caller.number else None,
            (InfoElement.CALLINGPRES, int(pres)),
            (InfoElement.CALLINGTON, 0),
            (InfoElement.CALLINGTNS, 0),
            (InfoElement.LANGUAGE, language) if language else None,
            (InfoElement.CALLING_NAME, call.caller.name) if call.caller.name else None,
            (InfoElement.DNID, dnid) if dnid else None,
            (InfoElement.CALLED_CONTEXT, context) if context else None,
            (InfoElement.USERNAME, call.username) if call.username else None,
            *format_ies(preferred, call.our_formats),
            (InfoElement.DATETIME, encode_datetime(self.wallclock())),
            (InfoElement.ENCRYPTION, int(call.encryption)) if call.encryption else None,
            *((InfoElement.VARIABLE, f"{name}={value}") for name, value in variables),
        ]
        call.new_ies = Ies.of(*items)
        self._send_new(call, now)
        return call.local

    def accept(self, call_id: CallId, now: float, media_format: int | None = None) -> int:
        """Accept an :class:`IncomingCall` with its negotiated format (or ``media_format``); returns the format."""
        call = self._call(call_id, CallState.AUTHENTICATED)
        if media_format is not None:
            call.format = media_format
        items: list[tuple[int, IeValue]] = [(InfoElement.FORMAT, call.format & 0xFFFFFFFF)]
        if call.format >> 32:
            items.append((InfoElement.FORMAT2, call.format))
        self.send_full(call, FrameType.IAX, IaxCommand.ACCEPT, now, ies=Ies.of(*items))
        call.state = CallState.ACCEPTED
        return call.format

    def reject(self, call_id: CallId, now: float, cause: HangupCause = HangupCause.CALL_REJECTED,
               text: str | None = None) -> None:
        """Refuse an :class:`IncomingCall` with REJECT (CAUSE + CAUSECODE, RFC 5456 §6.2.4)."""
        call = self._call(call_id)
        self._terminate(call, IaxCommand.REJECT, cause, now, text)

    def ringing(self, call_id: CallId, now: float) -> None:
        """Tell the caller we are alerting (CONTROL RINGING)."""
        self.send_control(call_id, ControlSubclass.RINGING, now)

    def proceeding(self, call_id: CallId, now: float) -> None:
        """CONTROL PROCEEDING."""
        self.send_control(call_id, ControlSubclass.PROCEEDING, now)

    def progress(self, call_id: CallId, now: float) -> None:
        """CONTROL PROGRESS (in-band information follows)."""
        self.send_control(call_id, ControlSubclass.PROGRESS, now)

    def answer(self, call_id: CallId, now: float) -> None:
        """Answer (CONTROL ANSWER); accepts the call first if the driver had not."""
        call = self._call(call_id)
        if call.state is CallState.AUTHENTICATED:
            self.accept(call_id, now)
        self.send_control(call_id, ControlSubclass.ANSWER, now)
        call.state = CallState.UP

    def send_control(self, call_id: CallId, subclass: int, now: float, payload: bytes = b"") -> None:
        """Any CONTROL frame (BUSY, CONGESTION, HOLD, UNHOLD, FLASH...).  Control frames follow ACCEPT (RFC 5456
        §6.3.1): an incoming call still waiting for the driver is accepted first."""
        call = self._call(call_id)
        if call.state is CallState.AUTHENTICATED:
            self.accept(call_id, now)
        if call.state not in (CallState.ACCEPTED, CallState.UP):
            raise IaxCallError(f"call {call_id} is not accepted yet ({call.state.value})")
        self.send_full(call, FrameType.CONTROL, subclass, now, payload=payload)

    def hold(self, call_id: CallId, now: float, music_class: str = "") -> None:
        """Put the peer on hold: CONTROL HOLD (Asterisk sends the music class as payload)."""
        self.send_control(call_id, ControlSubclass.HOLD, now, music_class.encode())

    def unhold(self, call_id: CallId, now: float) -> None:
        """CONTROL UNHOLD."""
        self.send_control(call_id, ControlSubclass.UNHOLD, now)

    def quelch(self, call_id: CallId, now: float, music_class: str | None = None) -> None:
        """Ask the peer to stop sending media (QUELCH, optionally with MUSICONHOLD, RFC 5456 §6.4.4)."""
        call = self._call(call_id)
        ies = Ies.of((InfoElement.MUSICONHOLD, music_class)) if music_class is not None else Ies()
        self.send_full(call, FrameType.IAX, IaxCommand.QUELCH, now, ies=ies)

    def unquelch(self, call_id: CallId, now: float) -> None:
        """Ask the peer to resume media (UNQUELCH)."""
        self.send_full(self._call(call_id), FrameType.IAX, IaxCommand.UNQUELCH, now)

    def send_dtmf(self, call_id: CallId, digit: str, now: float, *, begin: bool = False) -> None:
        """A DTMF digit as a full frame (type DTMF, subclass the digit's ASCII code; DTMF_BEGIN if ``begin``)."""
        if len(digit) != 1 or digit.upper() not in "0123456789ABCD*#":
            raise IaxCallError(f"not a DTMF digit: {digit!r}")
        call = self._call(call_id)
        kind = FrameType.DTMF_BEGIN if begin else FrameType.DTMF_END
        self.send_full(call, kind, ord(digit.upper()), now)

    def send_text(self, call_id: CallId, text: str, now: float) -> None:
        """A TEXT frame (UTF-8, NUL-terminated as Asterisk sends it)."""
        self.send_full(self._call(call_id), FrameType.TEXT, 0, now, payload=text.encode() + b"\x00")

    def send_voice(self, call_id: CallId, payload: bytes, now: float, media_format: int | None = None) -> bool:
        """Send audio: a full voice frame when RFC 5456 §8.1.2 requires one, else a mini frame (or a trunk
        entry for a trunked peer).  Returns False when nothing was sent (quelched, not started yet)."""
        call = self.calls.get(call_id)
        if call is None or call.kind is not CallKind.CALL:
            raise IaxCallError(f"no call {call_id}")
        if not payload or call.quelched or call.state not in _MEDIA_STATES:
            return False
        fmt = media_format or call.format
        key = (fmt, len(payload))
        duration = _DURATIONS.get(key)
        if duration is None:
            samples = samples_in(fmt, len(payload))
            duration = _DURATIONS[key] = samples * 1000 // sample_rate(fmt) if samples else 20
        if call.cipher is not None and call.cipher.rotates and not call.rotation_started:
            self._rotate_key(call, now)
        tx = call.tx
        ts = tx.voice(now, duration)
        full = tx.voice_needs_full(ts, fmt)
        tx.last_voice = ts
        tx.last_voice_format = fmt
        call.voice_out += 1
        if full:
            self.send_full(call, FrameType.VOICE, fmt, now, payload=payload, timestamp=ts)
        elif call.trunk and call.cipher is None:
            self.trunk_voice(call, ts, payload, now)
        else:
            self.send_mini(call, ts, payload)
        return True

    def hangup(self, call_id: CallId, now: float, cause: HangupCause = HangupCause.NORMAL_CLEARING,
               text: str | None = None) -> None:
        """Hang up: HANGUP with CAUSE and CAUSECODE; the call number is freed once the peer acknowledges."""
        call = self.calls.get(call_id)
        if call is None or not call.alive:
            return
        self._terminate(call, IaxCommand.HANGUP, cause, now, text)

    def call_info(self, call_id: CallId) -> IaxCall | None:
        """The state of a call (for ``iax2 show channels`` and the driver)."""
        return self.calls.get(call_id)

    # -- helpers ------------------------------------------------------------------------------------------------

    def _call(self, call_id: CallId, state: CallState | None = None) -> IaxCall:
        call = self.calls.get(call_id)
        if call is None or call.kind is not CallKind.CALL or not call.alive:
            raise IaxCallError(f"no call {call_id}")
        if state is not None and call.state is not state:
            raise IaxCallError(f"call {call_id} is {call.state.value}, not {state.value}")
        return call

    def _send_new(self, call: IaxCall, now: float) -> None:
        ies = call.new_ies
        if call.send_calltoken:
            ies = ies.with_items((InfoElement.CALLTOKEN, call.calltoken))
        self.send_full(call, FrameType.IAX, call.new_command, now, ies=ies)

    def _terminate(self, call: IaxCall, command: IaxCommand, cause: HangupCause, now: float,
                   text: str | None) -> None:
        call.hangup_cause = cause
        self.send_full(call, FrameType.IAX, command, now, ies=Ies.of(*cause_ies(cause, text)), final=True)
        call.state = CallState.HANGUP_SENT

    def _remote_end(self, call: IaxCall, frame: FullFrame, now: float, cause: HangupCause, reason: str) -> None:
        """The peer ended the call (HANGUP/REJECT): acknowledge at once, destroy, tell the driver."""
        self.send_ack(call, frame, now)
        was_call = call.kind is CallKind.CALL
        self.destroy(call, now)
        if was_call:
            self.events.append(CallHungUp(call.local, cause, reason, True))

    def fail_call(self, call: IaxCall, now: float, cause: HangupCause, reason: str) -> None:
        """End a call without telling the peer (retransmission gave up, INVAL, bad frame) and report it."""
        was_call = call.kind is CallKind.CALL and call.state is not CallState.HANGUP_SENT
        self.destroy(call, now)
        if was_call:
            self.events.append(CallHungUp(call.local, cause, reason, False))

    def _rotate_key(self, call: IaxCall, now: float) -> None:
        """Send RTKEY with a fresh key under the old one, then encrypt with the new (``iax2_key_rotate``)."""
        assert call.cipher is not None
        call.rotation_started = True
        key = new_rotation_key(self._rng_bytes)
        self.send_full(call, FrameType.IAX, IaxCommand.RTKEY, now,
                       ies=Ies.of((InfoElement.CHALLENGE, key.decode("utf-8", "surrogateescape"))))
        call.cipher.rotate_tx(key)
        delay = KEY_ROTATION_MIN + self.rng.random() * KEY_ROTATION_SPAN
        self.schedule(call, now + delay, lambda when: self._rotate_key(call, when) if call.alive else None)

    def _rng_bytes(self, count: int) -> bytes:
        return bytes(self.rng.randrange(256) for _ in range(count))

    # -- inbound NEW ----------------------------------------------------------------------------------------------

    def on_new(self, call: IaxCall, frame: FullFrame, ies: Ies, now: float) -> None:
        """A NEW created ``call``: find who calls, then challenge, accept-pending or reject (RFC 5456 §6.2.2)."""
        version = ies.number(InfoElement.VERSION)
        if version is not None and version != PROTOCOL_VERSION:
            self._terminate(call, IaxCommand.REJECT, HangupCause.INCOMPATIBLE_DESTINATION, now,
                            f"Unsupported protocol version {version}")
            return
        call.username = ies.text(InfoElement.USERNAME)
        call.called_number = ies.text(InfoElement.CALLED_NUMBER) or "s"
        call.caller = caller_from_ies(ies)
        call.dnid = ies.text(InfoElement.DNID)
        call.language = ies.text(InfoElement.LANGUAGE)
        call.capability = ies.capability_mask()
        call.variables = tuple((v.split("=", 1)[0], v.split("=", 1)[1]) for v in ies.all(InfoElement.VARIABLE)
                               if isinstance(v, str) and "=" in v)
        user = self.user_for(call.username) if call.username else self.peer_at(call.address)
        if user is None:
            if call.username:
                # chan_iax2 answers an unknown user with a believable AUTHREQ and rejects whatever comes back,
                # so that user names cannot be probed.
                call.auth_reject = True
                call.auth_methods = AuthMethod.MD5
                call.challenge = make_challenge(self.rng)
                self.send_full(call, FrameType.IAX, IaxCommand.AUTHREQ, now, ies=Ies.of(
                    (InfoElement.AUTHMETHODS, int(AuthMethod.MD5)), (InfoElement.CHALLENGE, call.challenge),
                    (InfoElement.USERNAME, call.username)))
                call.state = CallState.CHALLENGED
                return
            if self.settings.guest_context is None:
                self._terminate(call, IaxCommand.REJECT, HangupCause.FACILITY_NOT_SUBSCRIBED, now,
                                "No authority found")
                return
            call.context = ies.text(InfoElement.CALLED_CONTEXT) or self.settings.guest_context
            call.our_formats = self.settings.formats
            self._authenticated(call, ies, now)
            return
        call.peer = user.name
        call.secret = user.secret
        call.context = user.context
        call.our_formats = user.formats or self.settings.formats
        call.trunk = getattr(user, "trunk", False)
        call.force_encryption = user.force_encryption
        call.encryption = merge_encryption(user.encryption, ies.number(InfoElement.ENCRYPTION, 0) or 0)
        if call.encryption and (not AuthMethod.MD5 & user.auth or not user.secret):
            call.encryption = 0  # a key needs an MD5 challenge and a shared secret
        if call.force_encryption and not call.encryption:
            self._terminate(call, IaxCommand.REJECT, HangupCause.FACILITY_REJECTED, now, "Encryption required")
            return
        methods = user.auth & (AuthMethod.MD5 | AuthMethod.RSA | AuthMethod.PLAINTEXT)
        if not user.secret and not user.inkeys:
            self._authenticated(call, ies, now)
            return
        call.auth_methods = int(methods)
        items: list[tuple[int, IeValue] | None] = [(InfoElement.AUTHMETHODS, int(methods))]
        if methods & (AuthMethod.MD5 | AuthMethod.RSA):
            call.challenge = make_challenge(self.rng)
            items.append((InfoElement.CHALLENGE, call.challenge))
        if call.encryption:
            items.append((InfoElement.ENCRYPTION, call.encryption))
        items.append((InfoElement.USERNAME, call.username))
        self.send_full(call, FrameType.IAX, IaxCommand.AUTHREQ, now, ies=Ies.of(*items))
        call.new_ies = ies  # kept for the IncomingCall event once authenticated
        call.state = CallState.CHALLENGED
        call.encrypted = bool(call.encryption)  # the caller's AUTHREP already comes encrypted

    def _authenticated(self, call: IaxCall, ies: Ies, now: float) -> None:
        fmt = negotiate_format(ies.format_mask(), call.capability, call.our_formats, self.settings.preference)
        if not fmt:
            self._terminate(call, IaxCommand.REJECT, HangupCause.BEARERCAPABILITY_NOTAVAIL, now,
                            "Unable to negotiate codec")
            return
        call.format = fmt
        if not call.context:
            call.context = ies.text(InfoElement.CALLED_CONTEXT) or "default"
        call.state = CallState.AUTHENTICATED
        self.events.append(IncomingCall(call.local, call.peer, call.username, call.context, call.called_number,
                                        call.caller, call.dnid, call.language, fmt, call.capability,
                                        call.cipher is not None, call.address, call.variables))

    def on_authrep(self, call: IaxCall, frame: FullFrame, ies: Ies, now: float) -> None:
        """Check the caller's answer to our AUTHREQ (chan_iax2 ``authenticate_verify``)."""
        if call.state is not CallState.CHALLENGED:
            return
        ok = False
        # A NEW without USERNAME was matched to a peer by its address (on_new): that peer answers for it.
        user = None if call.auth_reject else \
            self.user_for(call.username) if call.username else self.peer_settings(call.peer)
        if user is not None:
            rsa_result = ies.text(InfoElement.RSA_RESULT)
            md5_result = ies.text(InfoElement.MD5_RESULT)
            password = ies.text(InfoElement.PASSWORD)
            if call.auth_methods & AuthMethod.RSA and rsa_result and user.inkeys:
                ok = rsa_verify(call.challenge, rsa_result, self.rsa_keys(user.inkeys)) is not None
            elif call.auth_methods & AuthMethod.MD5 and md5_result:
                matched = verify_md5(call.challenge, md5_result, user.secret)
                ok = matched is not None
                if ok and call.encryption and call.cipher is None and matched is not None:
                    call.cipher = CallCipher(derive_key(call.challenge, matched), call.encryption)
            elif call.auth_methods & AuthMethod.PLAINTEXT and password:
                ok = verify_plaintext(password, user.secret)
        if call.encryption and call.cipher is None:
            ok = False
        if not ok:
            log.warning("IAX2 call %d from %s:%d failed authentication as %r", call.local, call.address[0],
                        call.address[1], call.username)
            self._terminate(call, IaxCommand.REJECT, HangupCause.FACILITY_NOT_SUBSCRIBED, now, "No authority found")
            return
        self._authenticated(call, call.new_ies, now)

    # -- outbound call progress ------------------------------------------------------------------------------------

    def on_calltoken(self, call: IaxCall, frame: FullFrame, ies: Ies, now: float) -> None:
        """The server wants a call token: resend our NEW/REGREQ with it (chan_iax2 ``resend_with_token``)."""
        token = ies.raw(InfoElement.CALLTOKEN)
        if not token or call.calltoken or call.linked:
            return
        call.calltoken = token
        call.channel = ReliableChannel(ping_time=call.channel.ping_time)  # the server kept no state: start over
        if call.kind is CallKind.CALL:
            self._send_new(call, now)
        else:
            self.send_full(call, FrameType.IAX, call.new_command, now,
                           ies=call.new_ies.without(InfoElement.CALLTOKEN).with_items((InfoElement.CALLTOKEN, token)))

    def on_authreq(self, call: IaxCall, frame: FullFrame, ies: Ies, now: float) -> None:
        """Answer the callee's challenge (chan_iax2 ``authenticate_reply``), switching to encryption first when
        the AUTHREQ agreed on it, so that the AUTHREP itself goes encrypted."""
        if not call.outbound or call.state is not CallState.NEW_SENT:
            return
        settings = self.peer_settings(call.peer)
        methods = ies.number(InfoElement.AUTHMETHODS, 0) or 0
        challenge = ies.text(InfoElement.CHALLENGE)
        secret = settings.secret if settings is not None else call.secret
        outkey = settings.outkey if settings is not None else ""
        allowed = settings.auth if settings is not None else AuthMethod.MD5
        items: list[tuple[int, IeValue]] = []
        if outkey and methods & AuthMethod.RSA and challenge:
            keys = self.rsa_keys((outkey,))
            try:
                if keys:
                    items.append((InfoElement.RSA_RESULT, rsa_sign(challenge, keys[0])))
            except IaxAuthError as exc:
                log.warning("IAX2 call %d: cannot sign with key %s: %s", call.local, outkey, exc)
        if not items and secret and methods & AuthMethod.MD5 and challenge:
            items.append((InfoElement.MD5_RESULT, md5_response(challenge, secret)))
        elif not items and secret and methods & AuthMethod.PLAINTEXT and allowed & AuthMethod.PLAINTEXT:
            items.append((InfoElement.PASSWORD, secret))
        if not items:
            log.warning("IAX2 call %d: no way to authenticate to %s (methods %d)", call.local, call.peer, methods)
            self._terminate(call, IaxCommand.HANGUP, HangupCause.FACILITY_REJECTED, now, "No authentication")
            self.events.append(CallHungUp(call.local, HangupCause.FACILITY_REJECTED, "no way to authenticate", False))
            return
        agreed = merge_encryption(call.encryption, ies.number(InfoElement.ENCRYPTION, 0) or 0)
        if not methods & AuthMethod.MD5 or not secret:
            agreed = 0
        if call.force_encryption and not agreed:
            self._terminate(call, IaxCommand.HANGUP, HangupCause.FACILITY_REJECTED, now, "Encryption required")
            self.events.append(CallHungUp(call.local, HangupCause.FACILITY_REJECTED, "encryption refused", False))
            return
        call.challenge = challenge
        if agreed:
            call.encryption = agreed
            call.cipher = CallCipher(derive_key(challenge, secret), agreed)
            call.encrypted = True
        call.state = CallState.AUTH_SENT
        self.send_full(call, FrameType.IAX, IaxCommand.AUTHREP, now, ies=Ies.of(*items))

    def on_accept(self, call: IaxCall, frame: FullFrame, ies: Ies, now: float) -> None:
        """Our NEW was accepted (RFC 5456 §6.2.3); a second ACCEPT is ignored."""
        if not call.outbound or call.state not in (CallState.NEW_SENT, CallState.AUTH_SENT):
            return
        if call.force_encryption and call.cipher is None:
            self._terminate(call, IaxCommand.HANGUP, HangupCause.FACILITY_REJECTED, now, "Encryption required")
            self.events.append(CallHungUp(call.local, HangupCause.FACILITY_REJECTED, "not encrypted", False))
            return
        fmt = ies.format_mask()
        if fmt and (fmt & (fmt - 1) or not fmt & call.our_formats):
            # chan_iax2 hangs up when the ACCEPT's format is not one we offered ("Unable to negotiate codec").
            self._terminate(call, IaxCommand.HANGUP, HangupCause.BEARERCAPABILITY_NOTAVAIL, now,
                            "Unable to negotiate codec")
            self.events.append(CallHungUp(call.local, HangupCause.BEARERCAPABILITY_NOTAVAIL,
                                          "format not offered", False))
            return
        if not fmt:
            fmt = self.settings.preferred(call.our_formats)
        call.format = fmt
        call.state = CallState.ACCEPTED
        self.events.append(CallAccepted(call.local, fmt))

    # -- frames of a linked call ----------------------------------------------------------------------------------

    def on_control(self, call: IaxCall, frame: FullFrame, now: float) -> None:
        """CONTROL frames become the driver's indications."""
        sub = frame.subclass
        if sub == ControlSubclass.ANSWER:
            if call.state is CallState.ACCEPTED:
                call.state = CallState.UP
            self.events.append(CallAnswered(call.local))
        elif sub == ControlSubclass.RINGING:
            self.events.append(CallRinging(call.local))
        elif sub == ControlSubclass.PROCEEDING:
            self.events.append(CallProceeding(call.local))
        elif sub == ControlSubclass.PROGRESS:
            self.events.append(CallProgress(call.local))
        else:
            self.events.append(CallControl(call.local, sub, frame.payload))

    def on_media(self, call: IaxCall, frame: FullFrame, now: float) -> None:
        """Full media frames: voice (sets the format mini frames will use), DTMF, text and the rest."""
        kind = frame.frame_type
        if kind == FrameType.VOICE:
            call.rx.voice_format = frame.subclass
            call.rx.full_voice_seen = True
            call.voice_in += 1
            ts = call.rx.full(frame.timestamp)
            self.events.append(VoiceReceived(call.local, frame.subclass, frame.payload, ts, full=True))
        elif kind in (FrameType.DTMF_END, FrameType.DTMF_BEGIN):
            digit = chr(frame.subclass) if 32 < frame.subclass < 127 else "?"
            self.events.append(DtmfReceived(call.local, digit, kind == FrameType.DTMF_END))
        elif kind == FrameType.TEXT:
            self.events.append(TextReceived(call.local, frame.payload.rstrip(b"\x00").decode("utf-8", "replace")))
        elif kind == FrameType.HTML and frame.subclass != 0x11:
            self.send_full(call, FrameType.HTML, 0x11, now)  # RFC 5456 §6.10.6: HTML not supported
        elif kind != FrameType.NULL:
            self.events.append(MediaReceived(call.local, kind, frame.subclass, frame.payload, frame.timestamp))

    def on_mini(self, call: IaxCall, timestamp16: int, payload: bytes, now: float) -> None:
        """A mini frame: voice in the format of the last full voice frame (VNAK if none came yet)."""
        if not call.rx.full_voice_seen:
            self.send_full(call, FrameType.IAX, IaxCommand.VNAK, now)
            return
        call.voice_in += 1
        ts = call.rx.mini(timestamp16)
        self.events.append(VoiceReceived(call.local, call.rx.voice_format, payload, ts))

    def on_call_command(self, call: IaxCall, frame: FullFrame, ies: Ies, now: float) -> bool:
        """The IAX messages of a call; False when the command is not one of them."""
        command = frame.subclass
        if command == IaxCommand.AUTHREQ:
            self.on_authreq(call, frame, ies, now)
        elif command == IaxCommand.AUTHREP:
            self.on_authrep(call, frame, ies, now)
        elif command == IaxCommand.ACCEPT:
            self.on_accept(call, frame, ies, now)
        elif command == IaxCommand.HANGUP:
            self._remote_end(call, frame, now, cause_from_ies(ies, HangupCause.NORMAL_CLEARING),
                             ies.text(InfoElement.CAUSE) or "hangup")
        elif command == IaxCommand.REJECT:
            self._remote_end(call, frame, now, cause_from_ies(ies, HangupCause.CALL_REJECTED),
                             ies.text(InfoElement.CAUSE) or "rejected")
        elif command == IaxCommand.PING:
            self.send_full(call, FrameType.IAX, IaxCommand.PONG, now, timestamp=frame.timestamp,
                           ies=self._receiver_report(call))
        elif command == IaxCommand.LAGRQ:
            self.send_full(call, FrameType.IAX, IaxCommand.LAGRP, now, timestamp=frame.timestamp)
        elif command == IaxCommand.LAGRP:
            call.lag_ms = max(call.tx.elapsed(now) - frame.timestamp, 0)
        elif command == IaxCommand.PONG and call.kind is CallKind.CALL:
            call.ping_ms = max(call.tx.elapsed(now) - frame.timestamp, 0)
            call.channel.ping_time = call.ping_ms / 1000.0
        elif command in (IaxCommand.QUELCH, IaxCommand.UNQUELCH):
            call.quelched = command == IaxCommand.QUELCH
            self.events.append(CallQuelched(call.local, call.quelched, ies.text(InfoElement.MUSICONHOLD)))
        elif command == IaxCommand.VNAK:
            self.resend(call, call.channel.resend_from(frame.iseqno))
        elif command == IaxCommand.RTKEY:
            key = ies.raw(InfoElement.CHALLENGE)
            if call.cipher is not None and key is not None and len(key) == 16:
                call.cipher.rotate_rx(key)
        elif command == IaxCommand.TXREQ:
            self.send_full(call, FrameType.IAX, IaxCommand.TXREJ, now)  # transfers are not offered
        elif command in (IaxCommand.MWI, IaxCommand.UNSUPPORT, IaxCommand.TXREJ, IaxCommand.ACK, IaxCommand.PONG):
            pass
        else:
            return False
        return True

    def _receiver_report(self, call: IaxCall) -> Ies:
        """The RR elements a PONG carries (Asterisk ``construct_rr``): no jitter buffer here, so jitter and
        delay are 0; frames received and out-of-order counts are real."""
        return Ies.of((InfoElement.RR_JITTER, 0), (InfoElement.RR_LOSS, 0),
                      (InfoElement.RR_PKTS, max(call.frames_in, 1) & 0xFFFFFFFF), (InfoElement.RR_DELAY, 0),
                      (InfoElement.RR_DROPPED, 0), (InfoElement.RR_OOO, call.out_of_order & 0xFFFFFFFF))

