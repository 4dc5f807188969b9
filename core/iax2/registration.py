"""IAX2 registration both ways and peer qualify (RFC 5456 §6.1, §6.7.1; chan_iax2's registry and POKE).

As a **client** (``register =>`` in iax.conf): REGREQ with USERNAME and REFRESH (and an empty CALLTOKEN
when the server may want one); REGAUTH brings the methods and challenge and the REGREQ is sent again on the
same call number with MD5 RESULT (or RSA RESULT, or PASSWORD when plaintext is configured); REGACK gives
the granted refresh and our address as the server sees it; REGREJ refuses.  Every attempt uses a fresh call
number; the next one starts 5/6 of the refresh later whatever happened (chan_iax2 ``iax2_do_register``,
``iax2_ack_registry``), and a registration whose REGREQ got no answer is in state Timeout.

As a **server** for dynamic peers: a REGREQ without credentials is answered with REGAUTH (a decimal
challenge); a correct MD5/RSA/plaintext answer gets REGACK with USERNAME, DATETIME, REFRESH (the request
clamped to ``min_reg_expire``..``max_reg_expire``, 60 s when absent) and APPARENT ADDR; the peer's address
is kept until ``expiry + 10`` seconds (chan_iax2 ``update_registry``).  REGREL does the same and forgets the
address.  Unknown peers get a believable REGAUTH and then REGREJ, so names cannot be probed.

**Qualify**: a peer with ``qualify`` (maxms) is sent POKE on a fresh call number, every 60 s while it answers
within maxms and every 10 s otherwise; no PONG within twice maxms makes it UNREACHABLE (``iax2_poke_peer``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from core.causes import HangupCause
from core.iax2.auth import (
    IaxAuthError,
    make_challenge,
    md5_response,
    rsa_sign,
    rsa_verify,
    verify_md5,
    verify_plaintext,
)
from core.iax2.calls import CallKind, CallState, EndpointBase, IaxCall, cause_ies
from core.iax2.constants import AuthMethod, FrameType, IaxCommand, InfoElement
from core.iax2.frames import FullFrame
from core.iax2.ies import Ies, IeValue, SocketAddress, encode_datetime
from core.iax2.reliability import ReliableChannel
from core.sip.timers import Timer

if TYPE_CHECKING:
    from core.iax2.endpoint import IaxPeerSettings, IaxRegistrationSettings

log = logging.getLogger("centralita.iax2")

Address = tuple[str, int]

DEFAULT_EXPIRY = 60
"""``IAX_DEFAULT_REG_EXPIRE``, and the refresh both sides assume when REFRESH is absent (RFC 5456 §6.1.1)."""
QUALIFY_FREQ_OK = 60.0
QUALIFY_FREQ_NOTOK = 10.0


class RegistrationState(Enum):
    """Client registration states, named as ``iax2 show registry`` prints them (``regstate2str``)."""

    UNREGISTERED = "Unregistered"
    REQUEST_SENT = "Request Sent"
    AUTH_SENT = "Auth. Sent"
    REGISTERED = "Registered"
    REJECTED = "Rejected"
    TIMEOUT = "Timeout"
    NOAUTH = "No Authentication"


@dataclass(frozen=True, slots=True)
class PeerRegistered:
    """A dynamic peer registered (or refreshed) from ``address`` for ``expiry`` seconds."""

    peer: str
    address: Address
    expiry: int


@dataclass(frozen=True, slots=True)
class PeerUnregistered:
    """A dynamic peer's registration ended: ``"released"`` (REGREL) or ``"expired"``."""

    peer: str
    reason: str


@dataclass(frozen=True, slots=True)
class RegistrationChanged:
    """Our registration to a server changed state."""

    host: str
    username: str
    state: RegistrationState
    refresh: int
    perceived: Address | None = None


@dataclass(frozen=True, slots=True)
class PeerStatus:
    """A qualified peer's reachability changed (``OK (12 ms)``, ``LAGGED (2500 ms)``, ``UNREACHABLE``)."""

    peer: str
    status: str
    latency_ms: int


RegistrationEvent = PeerRegistered | PeerUnregistered | RegistrationChanged | PeerStatus


@dataclass(eq=False)
class Registration:
    """One of our registrations to a server."""

    settings: IaxRegistrationSettings
    state: RegistrationState = RegistrationState.UNREGISTERED
    refresh: int = DEFAULT_EXPIRY
    perceived: SocketAddress | None = None
    messages: int = 0
    call: int | None = None
    timer: Timer | None = None

    def describe(self) -> str:
        """The ``iax2 show registry`` row (chan_iax2 ``FORMAT``)."""
        host = f"{self.settings.host}:{self.settings.port}"
        perceived = f"{self.perceived.host}:{self.perceived.port}" if self.perceived else "<Unregistered>"
        return (f"{host:<45.45}  {'N':<6.6}  {self.settings.username:<10.10}  {perceived:<45.45} "
                f"{self.refresh:>8d}  {self.state.value}")


REGISTRY_HEADER = (f"{'Host':<45.45}  {'dnsmgr':<6.6}  {'Username':<10.10}  {'Perceived':<45.45} "
                   f"{'Refresh':>8.8}  State")
"""The header of ``iax2 show registry`` (chan_iax2 ``FORMAT2``)."""


@dataclass(eq=False)
class PeerState:
    """What the endpoint knows of a configured peer: registered address, expiry, qualify results."""

    settings: IaxPeerSettings
    address: Address | None = None
    expiry: int = 0
    expires_at: float = 0.0
    expire_timer: Timer | None = None
    last_ms: int = 0
    poke_sent: float = 0.0
    poke_call: int | None = None
    poke_timer: Timer | None = None

    @property
    def dynamic(self) -> bool:
        """True when the peer registers to us instead of having a configured host."""
        return self.settings.host is None

    def current_address(self) -> Address | None:
        """Where the peer is: its configured host, or where it registered from."""
        if self.settings.host is not None:
            return (self.settings.host, self.settings.port)
        return self.address

    def status(self) -> str:
        """Qualify status as ``peer_status`` prints it."""
        maxms = self.settings.qualify_ms
        if not maxms:
            return "Unmonitored"
        if self.last_ms < 0:
            return "UNREACHABLE"
        if self.last_ms > maxms:
            return f"LAGGED ({self.last_ms} ms)"
        if self.last_ms:
            return f"OK ({self.last_ms} ms)"
        return "UNKNOWN"

    def describe(self) -> str:
        """The ``iax2 show peers`` row (chan_iax2 ``PEERS_FORMAT``)."""
        settings = self.settings
        name = f"{settings.name}/{settings.username}" if settings.username else settings.name
        address = self.current_address()
        host, port = (address[0], str(address[1])) if address else ("(null)", "0")
        return (f"{name:<15.15}  {host:<40.40} {'(D)' if self.dynamic else '(S)'}  {'255.255.255.255':<40.40}  "
                f"{port:<6}{'(T)' if settings.trunk else '   '} {'(E)' if settings.encryption else '   '}  "
                f"{self.status():<11} {settings.description:<32.32}").rstrip() + "\n"


PEERS_HEADER = (f"{'Name/Username':<15.15}  {'Host':<40.40} {'   '}   {'Mask':<40.40}  {'Port':<9} {'   '}  "
                f"{'Status':<11} {'Description':<32.32}").rstrip()
"""The header of ``iax2 show peers`` (chan_iax2 ``PEERS_FORMAT2``)."""


class RegistrationHandling(EndpointBase):
    """Registrations to servers, the registrar for dynamic peers, and qualify."""

    registrations: list[Registration]
    peer_states: dict[str, PeerState]

    # -- client ---------------------------------------------------------------------------------------------

    def register(self, registration: Registration, now: float) -> None:
        """Start one registration attempt now (and schedule the next at 5/6 of the refresh)."""
        settings = registration.settings
        address = (settings.host, settings.port)
        if registration.call is not None and registration.call in self.calls:
            self.destroy(self.calls[registration.call], now)
        call = self.new_call(address, CallKind.REGISTRATION, True, now)
        call.registration = registration
        call.username = settings.username
        call.secret = settings.secret
        call.send_calltoken = settings.calltoken
        call.new_command = IaxCommand.REGREQ
        call.new_ies = Ies.of((InfoElement.USERNAME, settings.username), (InfoElement.REFRESH, settings.refresh))
        registration.call = call.local
        registration.state = RegistrationState.REQUEST_SENT
        ies = call.new_ies.with_items((InfoElement.CALLTOKEN, b"")) if call.send_calltoken else call.new_ies
        self.send_full(call, FrameType.IAX, IaxCommand.REGREQ, now, ies=ies)
        self._schedule_registration(registration, now + max(5 * registration.refresh / 6, 1.0))

    def _schedule_registration(self, registration: Registration, when: float) -> None:
        if registration.timer is not None:
            registration.timer.cancel()
        registration.timer = self.schedule(None, when, lambda now: self.register(registration, now))

    def release_registrations(self, now: float) -> None:
        """Send REGREL for every registration (on shutdown): the server forgets our address."""
        for registration in self.registrations:
            if registration.timer is not None:
                registration.timer.cancel()
                registration.timer = None
            if registration.state is not RegistrationState.REGISTERED:
                continue
            settings = registration.settings
            call = self.new_call((settings.host, settings.port), CallKind.REGISTRATION, True, now)
            call.registration = registration
            call.username = settings.username
            call.secret = settings.secret
            call.new_command = IaxCommand.REGREL
            call.new_ies = Ies.of((InfoElement.USERNAME, settings.username))
            self.send_full(call, FrameType.IAX, IaxCommand.REGREL, now, ies=call.new_ies)
            registration.state = RegistrationState.UNREGISTERED

    def on_regauth(self, call: IaxCall, frame: FullFrame, ies: Ies, now: float) -> None:
        """Answer the registrar's challenge (chan_iax2 ``registry_rerequest``)."""
        registration = call.registration
        if not isinstance(registration, Registration) or call.state is not CallState.NEW_SENT:
            return
        settings = registration.settings
        methods = ies.number(InfoElement.AUTHMETHODS, 0) or 0
        challenge = ies.text(InfoElement.CHALLENGE)
        items: list[tuple[int, IeValue]] = [(InfoElement.USERNAME, settings.username)]
        if call.new_command == IaxCommand.REGREQ:
            items.append((InfoElement.REFRESH, settings.refresh))
        result = self._credentials(methods, challenge, settings.secret, settings.outkey, settings.auth)
        if result is None:
            registration.state = RegistrationState.NOAUTH
            self._registration_event(registration)
            self.destroy(call, now)
            return
        items.append(result)
        if call.send_calltoken:
            items.append((InfoElement.CALLTOKEN, call.calltoken))
        call.state = CallState.AUTH_SENT
        if call.new_command == IaxCommand.REGREQ:
            registration.state = RegistrationState.AUTH_SENT
        self.send_full(call, FrameType.IAX, call.new_command, now, ies=Ies.of(*items))

    def _credentials(self, methods: int, challenge: str, secret: str, outkey: str,
                     allowed: int) -> tuple[int, IeValue] | None:
        if outkey and methods & AuthMethod.RSA and challenge:
            keys = self.rsa_keys((outkey,))
            try:
                if keys:
                    return (InfoElement.RSA_RESULT, rsa_sign(challenge, keys[0]))
            except IaxAuthError as exc:
                log.warning("IAX2 registration: cannot sign with key %s: %s", outkey, exc)
        if secret and methods & AuthMethod.MD5 and challenge:
            return (InfoElement.MD5_RESULT, md5_response(challenge, secret))
        if secret and methods & AuthMethod.PLAINTEXT and allowed & AuthMethod.PLAINTEXT:
            return (InfoElement.PASSWORD, secret)
        return None

    def on_regack(self, call: IaxCall, frame: FullFrame, ies: Ies, now: float) -> None:
        """Registered (chan_iax2 ``iax2_ack_registry``): refresh at 5/6 of what the server granted."""
        registration = call.registration
        if not isinstance(registration, Registration):
            return
        self.send_ack(call, frame, now)
        self.destroy(call, now)
        if call.new_command == IaxCommand.REGREL:
            registration.perceived = None
            self._registration_event(registration)
            return
        registration.refresh = ies.number(InfoElement.REFRESH) or DEFAULT_EXPIRY
        registration.perceived = ies.address()
        msgcount = ies.number(InfoElement.MSGCOUNT)
        if msgcount is not None:
            registration.messages = msgcount
        registration.state = RegistrationState.REGISTERED
        self._schedule_registration(registration, now + max(5 * registration.refresh / 6, 1.0))
        self._registration_event(registration)

    def on_regrej(self, call: IaxCall, frame: FullFrame, ies: Ies, now: float) -> None:
        """Refused: keep trying at the refresh interval, as chan_iax2 does."""
        registration = call.registration
        self.send_ack(call, frame, now)
        self.destroy(call, now)
        if isinstance(registration, Registration):
            registration.state = RegistrationState.REJECTED
            registration.perceived = None
            log.warning("IAX2 registration of %s at %s refused: %s", registration.settings.username,
                        registration.settings.host, ies.text(InfoElement.CAUSE) or "no cause")
            self._registration_event(registration)

    def registration_timed_out(self, call: IaxCall, now: float) -> None:
        """Our REGREQ got no answer (chan_iax2 sets state Timeout and the default refresh)."""
        registration = call.registration
        if isinstance(registration, Registration):
            registration.state = RegistrationState.TIMEOUT
            registration.perceived = None
            registration.refresh = DEFAULT_EXPIRY
            self._registration_event(registration)

    def _registration_event(self, registration: Registration) -> None:
        perceived = (registration.perceived.host, registration.perceived.port) if registration.perceived else None
        self.events.append(RegistrationChanged(registration.settings.host, registration.settings.username,
                                               registration.state, registration.refresh, perceived))

    # -- registrar ------------------------------------------------------------------------------------------------

    def on_regreq(self, call: IaxCall, frame: FullFrame, ies: Ies, now: float) -> None:
        """A peer's REGREQ or REGREL (chan_iax2 ``register_verify`` / ``update_registry``)."""
        release = frame.subclass == IaxCommand.REGREL
        name = ies.text(InfoElement.USERNAME)
        state = self.peer_states.get(name)
        if not name:
            self._registration_refused(call, now, "Empty registration")
            return
        refresh = ies.number(InfoElement.REFRESH)
        if state is None or not state.dynamic or call.auth_reject:
            if state is not None and not state.dynamic:
                log.warning("IAX2 peer %s is not dynamic and cannot register", name)
                self._registration_refused(call, now, "Peer is not dynamic")
                return
            if call.challenge:
                self._registration_refused(call, now, "Registration Refused")
                return
            call.auth_reject = True
            self._regauth(call, name, AuthMethod.MD5, now)
            return
        settings = state.settings
        needs_auth = bool(settings.secret or settings.inkeys)
        if needs_auth:
            if not call.challenge:
                self._regauth(call, name, settings.auth & (AuthMethod.MD5 | AuthMethod.RSA | AuthMethod.PLAINTEXT)
                              or AuthMethod.MD5, now)
                return
            if not self._registration_verified(call, state, ies):
                log.warning("IAX2 peer %s from %s:%d failed registration authentication", name, *call.address)
                self._registration_refused(call, now, "Registration Refused")
                return
        self._update_registry(call, state, None if release else call.address, refresh, now)

    def _regauth(self, call: IaxCall, name: str, methods: int, now: float) -> None:
        call.auth_methods = methods
        items: list[tuple[int, IeValue]] = [(InfoElement.AUTHMETHODS, int(methods))]
        if methods & (AuthMethod.MD5 | AuthMethod.RSA):
            call.challenge = make_challenge(self.rng)
            items.append((InfoElement.CHALLENGE, call.challenge))
        items.append((InfoElement.USERNAME, name))
        call.state = CallState.CHALLENGED
        self.send_full(call, FrameType.IAX, IaxCommand.REGAUTH, now, ies=Ies.of(*items))

    def _registration_verified(self, call: IaxCall, state: PeerState, ies: Ies) -> bool:
        settings = state.settings
        rsa_result = ies.text(InfoElement.RSA_RESULT)
        md5_result = ies.text(InfoElement.MD5_RESULT)
        password = ies.text(InfoElement.PASSWORD)
        if rsa_result and settings.auth & AuthMethod.RSA and call.challenge:
            return bool(settings.inkeys) and rsa_verify(call.challenge, rsa_result,
                                                        self.rsa_keys(settings.inkeys)) is not None
        if md5_result and settings.auth & AuthMethod.MD5 and call.challenge:
            return verify_md5(call.challenge, md5_result, settings.secret) is not None
        if password and settings.auth & AuthMethod.PLAINTEXT:
            return verify_plaintext(password, settings.secret)
        return False

    def _registration_refused(self, call: IaxCall, now: float, text: str) -> None:
        self.send_full(call, FrameType.IAX, IaxCommand.REGREJ, now,
                       ies=Ies.of(*cause_ies(HangupCause.FACILITY_REJECTED, text)), final=True)
        call.state = CallState.HANGUP_SENT

    def _update_registry(self, call: IaxCall, state: PeerState, address: Address | None, refresh: int | None,
                         now: float) -> None:
        settings = self.settings
        expiry = refresh or settings.min_reg_expire
        expiry = min(max(expiry, settings.min_reg_expire), settings.max_reg_expire)
        previous = state.address
        state.address = address
        state.expiry = expiry
        if state.expire_timer is not None:
            state.expire_timer.cancel()
            state.expire_timer = None
        items: list[tuple[int, IeValue] | None] = [
            (InfoElement.USERNAME, state.settings.name),
            (InfoElement.DATETIME, encode_datetime(self.wallclock())),
        ]
        if address is not None:
            state.expires_at = now + expiry + 10
            state.expire_timer = self.schedule(None, state.expires_at, lambda when: self._expire(state, when))
            callerid = state.settings.callerid
            items += [(InfoElement.REFRESH, expiry), (InfoElement.APPARENT_ADDR, SocketAddress(*address))]
            if callerid is not None:
                items += [(InfoElement.CALLING_NUMBER, callerid.number), (InfoElement.CALLING_NAME, callerid.name)]
        self.send_full(call, FrameType.IAX, IaxCommand.REGACK, now, ies=Ies.of(*items), final=True)
        call.state = CallState.HANGUP_SENT
        if address is not None:
            if previous != address:
                log.info("Registered IAX2 '%s' at %s:%d", state.settings.name, *address)
            self.events.append(PeerRegistered(state.settings.name, address, expiry))
            if state.settings.qualify_ms and previous != address:
                self.poke(state.settings.name, now)
        elif previous is not None:
            log.info("Unregistered IAX2 '%s'", state.settings.name)
            self.events.append(PeerUnregistered(state.settings.name, "released"))

    def _expire(self, state: PeerState, now: float) -> None:
        state.expire_timer = None
        if state.address is None:
            return
        state.address = None
        state.expiry = self.settings.min_reg_expire
        self.events.append(PeerUnregistered(state.settings.name, "expired"))

    # -- qualify ----------------------------------------------------------------------------------------------

    def poke(self, peer: str, now: float) -> bool:
        """Send POKE to a peer now (its qualify); False when the peer has no address."""
        state = self.peer_states.get(peer)
        if state is None:
            return False
        address = state.current_address()
        if address is None:
            return False
        if state.poke_call is not None and state.poke_call in self.calls:
            self.destroy(self.calls[state.poke_call], now)
        call = self.new_call(address, CallKind.POKE, True, now)
        maxms = state.settings.qualify_ms or 2000
        call.channel = ReliableChannel(ping_time=(maxms / 4 + 1) / 1000.0)  # chan_iax2 speeds up poke retries
        call.peer = peer
        state.poke_call = call.local
        state.poke_sent = now
        self.send_full(call, FrameType.IAX, IaxCommand.POKE, now)
        if state.poke_timer is not None:
            state.poke_timer.cancel()
        state.poke_timer = self.schedule(None, now + 2 * maxms / 1000.0, lambda when: self._poke_noanswer(state, when))
        return True

    def on_poke_pong(self, call: IaxCall, frame: FullFrame, now: float) -> None:
        """The PONG to our POKE: latency, status, next poke."""
        state = self.peer_states.get(call.peer)
        self.send_ack(call, frame, now)
        self.destroy(call, now)
        if state is None or state.poke_call != call.local:
            return
        state.poke_call = None
        if state.poke_timer is not None:
            state.poke_timer.cancel()
        latency = max(int(round((now - state.poke_sent) * 1000)), 1)
        self._peer_status(state, latency, now)

    def _poke_noanswer(self, state: PeerState, now: float) -> None:
        if state.poke_call is not None and state.poke_call in self.calls:
            self.destroy(self.calls[state.poke_call], now)
        state.poke_call = None
        self._peer_status(state, -1, now)

    def _peer_status(self, state: PeerState, latency: int, now: float) -> None:
        before = state.status()
        state.last_ms = latency
        after = state.status()
        if before.split(" ")[0] != after.split(" ")[0]:
            self.events.append(PeerStatus(state.settings.name, after, latency))
        ok = 0 < latency <= (state.settings.qualify_ms or 0)
        delay = state.settings.qualify_freq_ok if ok else state.settings.qualify_freq_notok
        state.poke_timer = self.schedule(None, now + delay, lambda when: self._poke_again(state, when))

    def _poke_again(self, state: PeerState, now: float) -> None:
        if not self.poke(state.settings.name, now):
            state.poke_timer = self.schedule(None, now + state.settings.qualify_freq_notok,
                                             lambda when: self._poke_again(state, when))

    # -- show commands ------------------------------------------------------------------------------------------

    def peers_table(self) -> str:
        """``iax2 show peers`` as Asterisk prints it."""
        rows = [state.describe() for state in self.peer_states.values()]
        online = sum(1 for s in self.peer_states.values() if s.settings.qualify_ms and s.last_ms > 0)
        unmonitored = sum(1 for s in self.peer_states.values() if not s.settings.qualify_ms)
        offline = len(rows) - online - unmonitored
        return (PEERS_HEADER + "\n" + "".join(rows)
                + f"{len(rows)} iax2 peers [{online} online, {offline} offline, {unmonitored} unmonitored]\n")

    def registry_table(self) -> str:
        """``iax2 show registry`` as Asterisk prints it."""
        rows = "".join(r.describe() + "\n" for r in self.registrations)
        return f"{REGISTRY_HEADER}\n{rows}{len(self.registrations)} IAX2 registrations.\n"

