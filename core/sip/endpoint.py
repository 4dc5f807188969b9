"""The SIP endpoint: the sans-IO user agent core that phones, trunks and the B2BUA talk to.

Input is datagrams (or stream-framed messages) with their source and the current time; output is
datagrams to send, a timer deadline and :mod:`core.sip.session` events for the channel driver.  Between
the two sit the defences (bans, per-source rate limit, ACLs), parsing with the RFC 4475 rejections, the
transaction layer, digest authentication, the registrar, OPTIONS, and the INVITE sessions
(``core/sip/calls.py``).  It never reads the clock or touches a socket.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections import deque
from collections.abc import Callable, Sequence

from core.sip.auth import DigestChallenger
from core.sip.calls import CallHandling
from core.sip.message import (
    SipParseError,
    SipRequest,
    SipResponse,
    check_request,
    make_response,
    parse_message,
    random_hex,
)
from core.sip.qualify import QualifyClient
from core.sip.registrar import LocationService, RegisterOutcome
from core.sip.registration import RegistrationClient
from core.sip.security import Acl, BanList, RateLimiter
from core.sip.session import RegistrationChanged, SipEvent
from core.sip.settings import EndpointSettings, SipTrunkSettings, SipUserSettings
from core.sip.timers import TimerQueue
from core.sip.transaction import (
    AckReceived,
    CancelReceived,
    RequestReceived,
    ResponseReceived,
    ServerTransaction,
    TransactionLayer,
    TransactionTerminated,
    TransactionTimedOut,
)
from core.sip.transaction_messages import Transport

log = logging.getLogger("centralita.sip")
trace = logging.getLogger("centralita.sip.trace")

Address = tuple[str, int]

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, REFER, NOTIFY, REGISTER"
SUPPORTED = "100rel, timer, replaces, norefersub"
SUPPORTED_EXTENSIONS = frozenset({"100rel", "timer", "replaces", "norefersub"})
# Bodies the requests that carry an offer or answer may have (§8.2.3: 415 + Accept for others);
# multipart/mixed is what SIP-T/SIP-I carriers send (SDP next to ISUP), its SDP part is used.
_SDP_BODIES = frozenset({"application/sdp", "multipart/mixed"})
_BODY_TYPES = {"INVITE": _SDP_BODIES, "UPDATE": _SDP_BODIES, "PRACK": _SDP_BODIES, "ACK": _SDP_BODIES}
ACCEPT = "application/sdp, application/dtmf-relay, application/dtmf, application/hook-flash"
_IMPLEMENTED = frozenset(ALLOW.replace(" ", "").split(","))
_KNOWN_NOT_ALLOWED = frozenset({"SUBSCRIBE", "MESSAGE", "PUBLISH"})


class SipEndpoint(CallHandling, RegistrationClient, QualifyClient):
    """One SIP user agent core for one listening address (UDP and TCP share it)."""

    def __init__(self, settings: EndpointSettings, location: LocationService, *,
                 wallclock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.location = location
        self.wallclock = wallclock
        self.tx = TransactionLayer(t1=settings.t1, t2=settings.t2, t4=settings.t4, symmetric=settings.force_rport)
        # One challenge per algorithm, in the configured order: clients answer the first they support, and
        # many (SIPp, older phones) give up when the first one is not MD5, so MD5 leads by default.
        self.challenger = DigestChallenger(settings.realm, settings.nonce_secret or secrets.token_bytes(32),
                                           algorithms=settings.auth_algorithms)
        self.bans = BanList(settings.auth_failures_before_ban, settings.auth_failure_window, settings.ban_time)
        self.rate = RateLimiter(settings.requests_per_second, settings.request_burst)
        self.users: dict[str, SipUserSettings] = {u.name: u for u in settings.users}
        self.user_acls: dict[str, Acl] = {u.name: _acl(u.permit, u.deny) for u in settings.users
                                          if u.permit or u.deny}
        self.trunks: dict[str, SipTrunkSettings] = {t.name: t for t in settings.trunks}
        # Inbound calls from a trunk: by the ;line= token of the Contact we registered (Asterisk's pjsip
        # "line"), else by source address and port, else by source address alone.
        self.trunk_lines: dict[str, SipTrunkSettings] = {secrets.token_hex(5): t for t in settings.trunks}
        self.line_of: dict[str, str] = {t.name: line for line, t in self.trunk_lines.items()}
        self.trunk_addresses: dict[tuple[str, int], SipTrunkSettings] = {}
        self.trunk_sources: dict[str, SipTrunkSettings] = {}
        for trunk in settings.trunks:
            for host, port in trunk.servers:
                self.trunk_addresses.setdefault((host, port), trunk)
                self.trunk_sources.setdefault(host, trunk)
        self.timers = TimerQueue()
        self.events: deque[SipEvent] = deque()
        self._outbox: list[tuple[bytes, Address, Transport]] = []
        self.stats = {"received": 0, "parse_errors": 0, "dropped_banned": 0, "dropped_rate": 0}
        # In a batch: the REGISTERs whose 200 waits for the batch's commit (begin_batch / end_batch).
        self._unconfirmed: list[tuple[ServerTransaction, SipRequest, RegisterOutcome, str]] | None = None
        CallHandling.__init__(self)
        RegistrationClient.__init__(self)
        QualifyClient.__init__(self)

    # -- the sans-IO interface ------------------------------------------------------------------------

    def receive_datagram(self, data: bytes, source: Address, transport: Transport, now: float) -> None:
        """A datagram (or one framed message of a stream) arrived from ``source``."""
        self.stats["received"] += 1
        host = source[0]
        if self.bans.is_banned(host, now):
            self.stats["dropped_banned"] += 1
            return
        is_request = not data.startswith(b"SIP/")
        if is_request and not self.rate.allow(host, now):
            self.stats["dropped_rate"] += 1
            return
        try:
            message = parse_message(data)
        except SipParseError as exc:
            self.stats["parse_errors"] += 1
            if is_request:
                log.info("bad request from %s:%d: %s", host, source[1], exc.reason)
                self._reply_unparsable(data, exc.reason, source, transport)
            else:
                log.debug("dropped unparsable response from %s:%d: %s", host, source[1], exc.reason)
            return
        self.receive_message(message, source, transport, now)

    def begin_batch(self) -> None:
        """Several datagrams follow at once (the UDP reader took them with one read): the registrations they
        make are committed to the store together by :meth:`end_batch` and answered only after it."""
        self.location.begin_batch()
        self._unconfirmed = []

    def end_batch(self, now: float) -> None:
        """Commit the batch's registrations and answer them: 200 when the commit succeeded, else 500 to each
        (the store and the location service then hold none of them)."""
        unconfirmed, self._unconfirmed = self._unconfirmed, None
        committed = self.location.end_batch()
        for transaction, request, outcome, aor in unconfirmed or ():
            if committed:
                self._answer_register(transaction, request, outcome, aor, now)
            else:
                self.respond(transaction, request, 500, now)

    def receive_message(self, message: SipRequest | SipResponse, source: Address, transport: Transport,
                        now: float) -> None:
        """A parsed message arrived (stream transports frame and parse before calling this)."""
        if trace.isEnabledFor(logging.DEBUG):
            trace.debug("<--- %s:%d (%s)\n%s", source[0], source[1], transport,
                        message.encode().decode("utf-8", "replace"))
        if isinstance(message, SipRequest):
            try:
                rejection = check_request(message, supported_extensions=SUPPORTED_EXTENSIONS,
                                          accepted_content_types=_BODY_TYPES.get(message.method))
            except SipParseError as exc:
                self._reply_unparsable(message.encode(), exc.reason, source, transport)
                return
            if rejection is not None:
                if message.method == "ACK":
                    return
                self._reject(message, rejection.status, rejection.reason, rejection.headers, source, transport, now)
                return
            if message.method == "REGISTER" and self._challenged_statelessly(message, source, transport, now):
                return
        try:
            events = self.tx.receive(message, source, transport, now)
        except SipParseError as exc:
            if isinstance(message, SipRequest):
                self._reply_unparsable(message.encode(), exc.reason, source, transport)
            return
        for event in events:
            self._dispatch(event, now)

    def handle_timer(self, now: float) -> None:
        """Run what is due: transaction timers and the endpoint's own."""
        for event in self.tx.handle_timer(now):
            self._dispatch(event, now)
        self.timers.run_due(now)

    def get_timer(self) -> float | None:
        """The next deadline, monotonic seconds."""
        transactions = self.tx.get_timer()
        own = self.timers.next_deadline()
        if transactions is None or (own is not None and own < transactions):
            return own
        return transactions

    def datagrams_to_send(self) -> list[tuple[bytes, Address, Transport]]:
        """Drain what must go out."""
        out = self.tx.datagrams_to_send()
        if self._outbox:
            out.extend(self._outbox)
            self._outbox = []
        if out and trace.isEnabledFor(logging.DEBUG):
            for data, (host, port), transport in out:
                trace.debug("---> %s:%d (%s)\n%s", host, port, transport, data.decode("utf-8", "replace"))
        return out

    def next_event(self) -> SipEvent | None:
        """The next event for the channel driver, if any."""
        return self.events.popleft() if self.events else None

    # -- dispatch -------------------------------------------------------------------------------------

    def _dispatch(self, event: object, now: float) -> None:
        if isinstance(event, RequestReceived):
            self._on_request(event.transaction, event.request, event.source, event.transport, now)
        elif isinstance(event, ResponseReceived):
            self._on_response(event.transaction, event.response, now)
        elif isinstance(event, AckReceived):
            self.on_ack(event.request, now)
        elif isinstance(event, CancelReceived):
            self.on_cancel(event.transaction, event.cancel, now)
        elif isinstance(event, TransactionTimedOut):
            self._on_timeout(event.transaction, now)
        elif isinstance(event, TransactionTerminated):
            self.on_call_transaction_terminated(event.transaction)
            self.on_registration_transaction_terminated(event.transaction)

    def _on_request(self, transaction: ServerTransaction, request: SipRequest, source: Address, transport: Transport,
                    now: float) -> None:
        method = request.method
        if request.to.params.get("tag"):  # (NameAddr.tag without the property call; also below)
            self.on_in_dialog_request(transaction, request, source, transport, now)
            return
        if self.tx.merged_with(transaction) is not None:
            # §8.2.2.2: the same request (From tag, Call-ID, CSeq) reached us again by another path.
            self.respond(transaction, request, 482, now)
            return
        if method == "INVITE":
            self.on_new_invite(transaction, request, source, transport, now)
        elif method == "REGISTER":
            self._on_register(transaction, request, source, transport, now)
        elif method == "OPTIONS":
            response = make_response(request, 200)
            self._add_capabilities(response)
            self.tx.send_response(transaction, response, now)
        elif method == "BYE":
            self.respond(transaction, request, 481, now)
        elif method in _IMPLEMENTED:
            self.respond(transaction, request, 481 if method in ("INFO", "PRACK", "UPDATE", "NOTIFY") else 405, now)
        elif method in _KNOWN_NOT_ALLOWED:
            self.respond(transaction, request, 405, now, headers=(("Allow", ALLOW),))
        else:
            self.respond(transaction, request, 501, now, headers=(("Allow", ALLOW),))

    def _on_response(self, transaction: object, response: SipResponse, now: float) -> None:
        if self.on_call_response(transaction, response, now):
            return
        if self.on_qualify_response(transaction, response, now):
            return
        self.on_registration_response(transaction, response, now)

    def _on_timeout(self, transaction: object, now: float) -> None:
        if self.on_call_timeout(transaction, now):
            return
        if self.on_qualify_timeout(transaction, now):
            return
        self.on_registration_timeout(transaction, now)

    # -- helpers used by the mixins ---------------------------------------------------------------------

    def respond(self, transaction: ServerTransaction, request: SipRequest, status: int, now: float, *,
                reason: str | None = None, to_tag: str | None = None,
                headers: Sequence[tuple[str, str]] = (), stateless: bool = False) -> SipResponse:
        """Send a response on a server transaction (a tag is added to To for final responses); ``stateless``:
        see :meth:`TransactionLayer.send_response`."""
        response = self._response(request, status, reason, to_tag, headers)
        self.tx.send_response(transaction, response, now, stateless=stateless)
        return response

    def _response(self, request: SipRequest, status: int, reason: str | None, to_tag: str | None,
                  headers: Sequence[tuple[str, str]]) -> SipResponse:
        """Our response to ``request``: a To tag on a final one, ``headers``, Server (and Allow on 405/501)."""
        if to_tag is None and status >= 200 and not request.to.params.get("tag"):
            to_tag = random_hex(6)
        response = make_response(request, status, reason, to_tag=to_tag)
        fields = response.headers
        for name, value in headers:
            fields.add(name, value)
        fields.add("Server", self.settings.user_agent)
        if status in (405, 501):
            response.set_header("Allow", ALLOW)
        return response

    def send_direct(self, message: SipRequest | SipResponse, destination: Address, transport: Transport) -> None:
        """Send outside any transaction (ACK to a 2xx, 2xx retransmissions)."""
        self.tx.send_stateless(message, destination, transport)

    def local_contact(self, user: str = "centralita", transport: Transport = "udp", line: str = "") -> str:
        """Our Contact header value (``line``: the token that marks calls from a trunk we register with)."""
        suffix = "" if transport == "udp" else f";transport={transport}"
        if line:
            suffix += f";line={line}"
        return f"<sip:{user}@{_host(self.settings.host)}:{self.settings.port}{suffix}>"

    def trunk_of(self, request: SipRequest, source: Address) -> SipTrunkSettings | None:
        """The trunk an out-of-dialog request comes from, if any."""
        line = request.uri.params.get("line")
        if line:
            trunk = self.trunk_lines.get(line)
            if trunk is not None:
                return trunk
        host = source[0].strip("[]")
        return self.trunk_addresses.get((host, source[1])) or self.trunk_sources.get(host)

    def _add_capabilities(self, response: SipResponse) -> None:
        response.add_header("Allow", ALLOW)
        response.add_header("Accept", ACCEPT)
        response.add_header("Supported", SUPPORTED)
        response.add_header("Server", self.settings.user_agent)

    def _reject(self, request: SipRequest, status: int, reason: str, headers: tuple[tuple[str, str], ...],
                source: Address, transport: Transport, now: float) -> None:
        """Answer a request that ``check_request`` refused, within its server transaction so that its
        retransmissions get the same answer.  When the layer creates none it has dealt with the request
        itself (a retransmission answered again, a CANCEL, or its own 400 for headers it cannot match on):
        nothing more is sent, so one request never gets two responses."""
        try:
            events = self.tx.receive(request, source, transport, now)
        except SipParseError:
            response = make_response(request, status, reason)
            for name, value in headers:
                response.add_header(name, value)
            self.tx.send_stateless(response, source, transport)
            return
        for event in events:
            if isinstance(event, RequestReceived):
                self.respond(event.transaction, request, status, now, reason=reason, headers=headers)
            else:
                self._dispatch(event, now)

    def _reply_unparsable(self, data: bytes, reason: str, source: Address, transport: Transport) -> None:
        """A 400 for a request too broken to parse, from its raw header lines (when they allow it)."""
        response = raw_bad_request(data, reason)
        if response is None:
            log.debug("cannot even answer the unparsable request from %s:%d", *source)
            return
        self._outbox.append((response, source, transport))

    # -- authentication -------------------------------------------------------------------------------

    def authenticate(self, transaction: ServerTransaction, request: SipRequest, source: Address,
                     now: float) -> SipUserSettings | None:
        """Digest-authenticate a request from a phone; None after sending the challenge or refusal.

        An unknown user and a wrong password get the same answer (a fresh 401 challenge), and a source that
        keeps failing is banned.
        """
        fields = request.headers
        header = fields.get("Authorization") or fields.get("Proxy-Authorization")
        if header is None:
            self._challenge(transaction, request, now, stale=False)
            return None
        # host_only_uri: SIPp's default digest uri is sip:host:port (see DigestChallenger.verify).
        result = self.challenger.verify(request.method, header, self._password_of, now,
                                        request_uri=str(request.uri), host_only_uri=True)
        if result.uri_mismatch:
            # RFC 7616 §3.4.6: credentials made for another Request-URI (a toll-fraud replay) are a 400; the
            # source is counted towards a ban like any failure.  Nothing here tells a user from another.
            log.warning("credentials for another Request-URI from %s:%d (%s)", source[0], source[1],
                        result.reason)
            self.bans.record_failure(source[0], now)
            self.respond(transaction, request, 400, now, reason="Bad Request - Credentials Do Not Match The URI")
            return None
        if result.ok and result.username in self.users:
            user = self.users[result.username]
            acl = self.user_acls.get(user.name)
            if acl is None or acl.allows(source[0]):
                self.bans.record_success(source[0])
                return user
            log.warning("user %s refused from %s by its ACL", user.name, source[0])
        elif result.stale:
            self._challenge(transaction, request, now, stale=True)
            return None
        log.warning("failed authentication from %s:%d for %s: %s", source[0], source[1],
                    getattr(result, "username", "?"), getattr(result, "reason", "refused"))
        self.bans.record_failure(source[0], now)
        if self.bans.is_banned(source[0], now):
            log.warning("banning %s for %.0f s after repeated authentication failures", source[0],
                        self.settings.ban_time)
            self.respond(transaction, request, 403, now)
            return None
        # Statefully: the transaction absorbs retransmissions of these wrong credentials, which would otherwise
        # each count as another failure towards the ban.
        self._challenge(transaction, request, now, stale=False, stateless=False)
        return None

    def _password_of(self, username: str) -> str | None:
        user = self.users.get(username)
        return user.secret if user is not None else None

    def _challenge(self, transaction: ServerTransaction, request: SipRequest, now: float, *, stale: bool,
                   stateless: bool = True) -> None:
        headers = [("WWW-Authenticate", value) for value in self.challenger.challenge(now, stale=stale)]
        # A challenge to a non-INVITE request without credentials (or with a stale nonce) is sent statelessly
        # (RFC 3261 §8.2.7): a retransmitted REGISTER gets a fresh challenge, and no transaction waits 32 s for
        # each one.  (The transaction layer keeps INVITE transactions whatever is asked: their ACK must match.)
        self.respond(transaction, request, 401, now, headers=headers, stateless=stateless)

    def _challenged_statelessly(self, request: SipRequest, source: Address, transport: Transport,
                                now: float) -> bool:
        """Answer a new REGISTER that has no credentials with a 401 and no transaction at all (RFC 3261
        §8.2.7, the stateless UAS: a challenge costs nothing to repeat); whether it was.  Half of a
        registration storm is such first REGISTERs; the transaction the stateful way would make, and end at
        once (:meth:`_challenge`), is a sizeable part of their cost."""
        fields = request.headers
        if fields.get("Authorization") or fields.get("Proxy-Authorization") or request.to.params.get("tag"):
            return False
        destination = self.tx.stateless_destination(request, source, transport)
        if destination is None:
            return False
        challenges = [("WWW-Authenticate", value) for value in self.challenger.challenge(now, stale=False)]
        self.tx.send_stateless(self._response(request, 401, None, None, challenges), destination, transport)
        return True

    # -- REGISTER ---------------------------------------------------------------------------------------

    def _on_register(self, transaction: ServerTransaction, request: SipRequest, source: Address,
                     transport: Transport, now: float) -> None:
        user = self.authenticate(transaction, request, source, now)
        if user is None:
            return
        aor_user = request.to.uri.user or ""
        if aor_user != user.name:
            # Credentials of one user cannot register another's extension.
            self.respond(transaction, request, 403, now)
            return
        outcome = self.location.register(user.name, request, source, transport, now, self.wallclock(),
                                         max_contacts=user.max_contacts)
        if outcome.status == 200 and self._unconfirmed is not None:
            self._unconfirmed.append((transaction, request, outcome, aor_user))  # answered once committed (end_batch)
            return
        self._answer_register(transaction, request, outcome, aor_user, now)

    def _answer_register(self, transaction: ServerTransaction, request: SipRequest, outcome: RegisterOutcome,
                         aor: str, now: float) -> None:
        self.respond(transaction, request, outcome.status, now, reason=outcome.reason, headers=outcome.headers)
        if outcome.status == 200:
            # A 200 lists one Contact per unexpired binding of the AOR, as lookup() would find them; the AOR is
            # the user's name (_on_register checked it).
            self.events.append(RegistrationChanged(aor, len(outcome.contacts)))


def _acl(permit: tuple[str, ...], deny: tuple[str, ...]) -> Acl:
    """Denials first, then permissions (the last match wins, as in Asterisk): a permit list alone means
    "only these networks", so it starts from denying everything."""
    everything = ("0.0.0.0/0", "::/0") if permit and not deny else ()
    rules = [("deny", network) for network in (*everything, *deny)] + [("permit", network) for network in permit]
    return Acl(rules)


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


_NEEDED = {b"via": b"Via", b"v": b"Via", b"from": b"From", b"f": b"From", b"to": b"To", b"t": b"To",
           b"call-id": b"Call-ID", b"i": b"Call-ID", b"cseq": b"CSeq"}


_UNSAFE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
"""Control characters (HTAB apart) that a header value we copy back may not carry (RFC 3261 §25.1 TEXT-UTF8)."""


def raw_bad_request(data: bytes, reason: str) -> bytes | None:
    """``400 <reason>`` built from the raw header lines of an unparsable request (None if impossible).

    Only Via, From, To, Call-ID and CSeq are copied (§8.2.6.2), each value whole and free of control
    characters: a value with a bare CR, LF, NUL or another control character is left out rather than
    reflected, so the 400 parses and carries none of the sender's injected text."""
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    # A bare CR or LF ends a line too: nothing after one can ride along inside a value we copy.
    lines = head.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")[1:]
    unfolded: list[bytes] = []
    for line in lines:
        if line[:1] in (b" ", b"\t") and unfolded:
            unfolded[-1] += b" " + line.strip()
        else:
            unfolded.append(line)
    found: dict[bytes, list[bytes]] = {}
    for line in unfolded:
        name, sep, value = line.partition(b":")
        canonical = _NEEDED.get(name.strip().lower())
        value = value.strip()
        if sep and canonical is not None and value and _UNSAFE.search(value) is None:
            found.setdefault(canonical, []).append(value)
    if not found.get(b"Via") or not found.get(b"CSeq"):
        return None
    safe_reason = re.sub(r"[\x00-\x1f\x7f]", " ", reason)[:100] or "Bad Request"
    out = [f"SIP/2.0 400 {safe_reason}".encode()]
    for name in (b"Via", b"From", b"To", b"Call-ID", b"CSeq"):
        for value in found.get(name, [])[: 1 if name != b"Via" else None]:
            out.append(name + b": " + value)
    out.append(b"Content-Length: 0")
    return b"\r\n".join(out) + b"\r\n\r\n"
