"""An in-memory SIP endpoint with a fake clock, and scripted phones that talk to it (no tests here).

The endpoint under test is :class:`core.sip.endpoint.SipEndpoint` built from :class:`EndpointSettings`
with users and trunks and a :class:`MemoryBindingStore`; nothing reads a real clock or opens a socket.
A :class:`Phone` writes requests, ACKs and responses as wire text with the Via/branch/tag/CSeq rules of
RFC 3261 (§8.1.1, §12.2.1.1, §13.2.2.4, §17.1.1.3, §9.1), feeds them to the endpoint and gets back what the
endpoint sent to it, parsed.  Digest credentials are computed here from RFC 7616 §3.4.1 with hashlib, not
with the code under test.  :class:`Network` pumps two endpoints into each other, aioquic style.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from core.sip.endpoint import SipEndpoint
from core.sip.message import SipParseError, SipRequest, SipResponse, parse_message
from core.sip.registrar import LocationService
from core.sip.registrar_store import BindingStore, MemoryBindingStore
from core.sip.session import IncomingCall, SipCall, SipEvent
from core.sip.settings import EndpointSettings, SipTrunkSettings, SipUserSettings
from core.sip.transaction_messages import Transport

Address = tuple[str, int]
Message = SipRequest | SipResponse

GATEWAY: Address = ("192.0.2.1", 5060)
"""Where the endpoint under test listens (TEST-NET-1, RFC 5737)."""
WALL_EPOCH = 1_700_000_000.0
"""Wall-clock time at monotonic 0 of the fake clock (the registrar's Date and persisted expiries)."""
USERS = (
    SipUserSettings(name="1001", secret="secret-1001", context="internal"),
    SipUserSettings(name="1002", secret="secret-1002", context="internal"),
    SipUserSettings(name="1003", secret="secret-1003", context="internal", max_contacts=3),
)
SECRETS = {u.name: u.secret for u in USERS}

OFFER = (
    b"v=0\r\n"
    b"o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n"
    b"s=-\r\n"
    b"c=IN IP4 192.0.2.10\r\n"
    b"t=0 0\r\n"
    b"m=audio 49170 RTP/AVP 0 8 101\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-16\r\n"
    b"a=sendrecv\r\n"
)

ANSWER = (
    b"v=0\r\n"
    b"o=bob 2808844564 2808844564 IN IP4 192.0.2.20\r\n"
    b"s=-\r\n"
    b"c=IN IP4 192.0.2.20\r\n"
    b"t=0 0\r\n"
    b"m=audio 49172 RTP/AVP 0 101\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=sendrecv\r\n"
)


def sdp_with_direction(sdp: bytes, direction: str) -> bytes:
    """``sdp`` with its ``a=sendrecv`` replaced (hold: sendonly / inactive, RFC 3264 §8.4)."""
    return sdp.replace(b"a=sendrecv", f"a={direction}".encode()).replace(b"2890844526 IN", b"2890844527 IN")


# -- the fake clock and what the endpoint sent -------------------------------------------------------------


class Clock:
    """Monotonic seconds under the test's control."""

    def __init__(self, start: float = 100.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@dataclass
class Sent:
    """One message the endpoint sent: parsed, with its destination, transport and the time it left."""

    message: Message
    destination: Address
    transport: Transport
    at: float
    data: bytes

    @property
    def status(self) -> int:
        """The status code (0 for a request)."""
        return self.message.status if isinstance(self.message, SipResponse) else 0

    @property
    def method(self) -> str:
        """The request method, or the CSeq method of a response."""
        if isinstance(self.message, SipRequest):
            return self.message.method
        return self.message.cseq.method

    @property
    def request(self) -> SipRequest:
        assert isinstance(self.message, SipRequest), self.message
        return self.message

    @property
    def response(self) -> SipResponse:
        assert isinstance(self.message, SipResponse), self.message
        return self.message

    def __repr__(self) -> str:
        first = self.data.split(b"\r\n", 1)[0].decode("utf-8", "replace")
        return f"<Sent {first!r} -> {self.destination[0]}:{self.destination[1]} at {self.at:.3f}>"


def statuses(sent: Iterable[Sent]) -> list[int]:
    """The status codes of the responses among ``sent``, in order."""
    return [s.status for s in sent if s.status]


def first(sent: Iterable[Sent], method: str) -> Sent:
    """The first request of ``method`` among ``sent``; any others must be its retransmissions."""
    found = [s for s in sent if not s.status and s.method == method]
    assert found, list(sent)
    assert all(s.data == found[0].data for s in found), "more than one request, not retransmissions"
    return found[0]


def methods(sent: Iterable[Sent]) -> list[str]:
    """The methods of the requests among ``sent``, in order."""
    return [s.request.method for s in sent if not s.status]


class Harness:
    """A :class:`SipEndpoint` at :data:`GATEWAY` with a fake clock, fed raw messages.

    Every message the endpoint sends is parsed and logged in :attr:`sent`; the methods that feed it return
    the messages that left because of that input.
    """

    def __init__(self, *, users: Sequence[SipUserSettings] = USERS, trunks: Sequence[SipTrunkSettings] = (),
                 address: Address = GATEWAY, clock: Clock | None = None, min_expires: int = 60,
                 max_expires: int = 3600, store: BindingStore | None = None, **settings: object) -> None:
        self.clock = clock or Clock()
        self.address = address
        options: dict[str, object] = {"nonce_secret": b"0123456789abcdef0123456789abcdef", **settings}
        self.settings = EndpointSettings(host=address[0], port=address[1], users=tuple(users),
                                         trunks=tuple(trunks), **options)  # type: ignore[arg-type]
        self.store = store if store is not None else MemoryBindingStore()
        self.location = LocationService(self.store, min_expires=min_expires, max_expires=max_expires,
                                        max_contacts=max((u.max_contacts for u in users), default=1))
        self.endpoint = SipEndpoint(self.settings, self.location, wallclock=lambda: WALL_EPOCH + self.clock.now)
        self.location.restore(self.clock.now, WALL_EPOCH + self.clock.now)
        self.sent: list[Sent] = []
        self.malformed: list[tuple[bytes, Address, str]] = []
        self.received_events: list[SipEvent] = []

    @property
    def now(self) -> float:
        return self.clock.now

    def feed(self, data: bytes | str | Message, source: Address, transport: Transport = "udp") -> list[Sent]:
        """Deliver one message from ``source``; what the endpoint sent in reaction."""
        if isinstance(data, str):
            data = data.encode()
        elif isinstance(data, (SipRequest, SipResponse)):
            data = data.encode()
        self.endpoint.receive_datagram(data, source, transport, self.clock.now)
        return self.drain()

    def drain(self) -> list[Sent]:
        """Whatever the endpoint has queued (after an API call such as ``answer``)."""
        out = []
        for data, destination, transport in self.endpoint.datagrams_to_send():
            try:
                message = parse_message(data)
            except SipParseError as exc:
                # Something we sent does not parse: kept aside for the test to judge, not raised here.
                self.malformed.append((data, destination, exc.reason))
                continue
            out.append(Sent(message, destination, transport, self.clock.now, data))
        self.sent.extend(out)
        return out

    def advance(self, seconds: float) -> list[Sent]:
        """Let ``seconds`` pass, running every timer at its own deadline; what was sent meanwhile."""
        return self.run_until(self.clock.now + seconds)

    def run_until(self, when: float) -> list[Sent]:
        out: list[Sent] = []
        for _ in range(100_000):
            deadline = self.endpoint.get_timer()
            if deadline is None or deadline > when:
                break
            self.clock.now = max(self.clock.now, deadline)
            self.endpoint.handle_timer(self.clock.now)
            out += self.drain()
        else:  # pragma: no cover - a timer that re-arms itself at the same instant
            raise AssertionError("the endpoint's timers never settle")
        self.clock.now = max(self.clock.now, when)
        self.endpoint.handle_timer(self.clock.now)
        out += self.drain()
        return out

    def next_request(self, method: str, within: float) -> Sent:
        """Run the timers one deadline at a time until the endpoint sends a ``method`` request."""
        end = self.clock.now + within
        while True:
            deadline = self.endpoint.get_timer()
            if deadline is None or deadline > end:
                raise AssertionError(f"no {method} within {within} s")
            for sent in self.run_until(deadline):
                if not sent.status and sent.method == method:
                    return sent

    def events(self) -> list[SipEvent]:
        """The events queued for the channel driver since the last call."""
        out = []
        while (event := self.endpoint.next_event()) is not None:
            out.append(event)
        self.received_events += out
        return out


# -- digest (RFC 7616 §3.4.1, computed independently of core.sip.auth) ----------------------------------------

_PARAM = re.compile(r'(\w[\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def challenge_params(value: str) -> dict[str, str]:
    """The parameters of a ``Digest ...`` challenge."""
    assert value.lower().startswith("digest "), value
    return {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
            for m in _PARAM.finditer(value[7:])}


def pick_challenge(response: SipResponse, algorithm: str = "MD5") -> dict[str, str]:
    """The challenge for ``algorithm`` among the 401/407's WWW-/Proxy-Authenticate values."""
    name = "WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate"
    for value in response.header_values(name):
        params = challenge_params(value)
        if params.get("algorithm", "MD5").upper() == algorithm.upper():
            return params
    raise AssertionError(f"no {algorithm} challenge in {response.header_values(name)}")


def authorization(challenge: dict[str, str], *, method: str, uri: str, username: str, password: str,
                  nc: int = 1, cnonce: str = "0a4f113b") -> str:
    """An ``Authorization`` value answering ``challenge`` (MD5 or SHA-256, qop=auth or none)."""
    algorithm = challenge.get("algorithm", "MD5")
    digest = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}[algorithm.upper()]

    def h(text: str) -> str:
        return digest(text.encode()).hexdigest()

    realm, nonce = challenge["realm"], challenge["nonce"]
    ha1 = h(f"{username}:{realm}:{password}")
    ha2 = h(f"{method}:{uri}")
    qop = "auth" if "auth" in challenge.get("qop", "").split(",") else None
    if qop:
        response = h(f"{ha1}:{nonce}:{nc:08x}:{cnonce}:{qop}:{ha2}")
        tail = f', qop={qop}, nc={nc:08x}, cnonce="{cnonce}"'
    else:
        response = h(f"{ha1}:{nonce}:{ha2}")
        tail = ""
    opaque = f', opaque="{challenge["opaque"]}"' if "opaque" in challenge else ""
    return (f'Digest username="{username}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
            f'response="{response}", algorithm={algorithm}{tail}{opaque}')


# -- scripted user agents ------------------------------------------------------------------------------------

_counter = itertools.count(1)


def _unique(prefix: str) -> str:
    return f"{prefix}{next(_counter):06d}"


@dataclass
class PhoneCall:
    """One dialog (or would-be dialog) of a :class:`Phone`: the state RFC 3261 §12.1 keeps."""

    phone: Phone
    call_id: str
    local_tag: str
    to_user: str
    request_uri: str
    remote_tag: str | None = None
    cseq: int = 0
    invite: SipRequest | None = None          # the last INVITE sent (initial or re-INVITE)
    remote_target: str | None = None
    route_set: list[str] = field(default_factory=list)

    # -- requests the phone sends ------------------------------------------------------------------------

    def _head(self, method: str, uri: str, cseq: int, *, branch: str | None = None,
              with_remote_tag: bool = True) -> list[str]:
        phone = self.phone
        to = f"<sip:{self.to_user}@{GATEWAY[0]}>"
        if with_remote_tag and self.remote_tag:
            to += f";tag={self.remote_tag}"
        return [
            f"{method} {uri} SIP/2.0",
            f"Via: {phone.via(branch or _unique('z9hG4bK-'))}",
            *[f"Route: {route}" for route in self.route_set],
            "Max-Forwards: 70",
            f'From: "{phone.display}" <sip:{phone.user}@{phone.domain}>;tag={self.local_tag}',
            f"To: {to}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq} {method}",
        ]

    def make_invite(self, sdp: bytes | None = OFFER, *, headers: Sequence[str] = (),
                    authorization: str | None = None) -> SipRequest:
        """An INVITE (initial when there is no remote tag yet, else a re-INVITE) with the next CSeq."""
        self.cseq += 1
        uri = self.remote_target if self.remote_tag and self.remote_target else self.request_uri
        lines = self._head("INVITE", uri, self.cseq)
        lines.append(f"Contact: <sip:{self.phone.user}@{self.phone.address[0]}:{self.phone.address[1]}>")
        if authorization:
            lines.append(f"Authorization: {authorization}")
        lines += list(headers)
        request = _build(lines, sdp, "application/sdp")
        self.invite = request
        return request

    def make_request(self, method: str, *, body: bytes | None = None, content_type: str | None = None,
                     headers: Sequence[str] = (), cseq: int | None = None) -> SipRequest:
        """An in-dialog request (§12.2.1.1): remote target as Request-URI, route set, next CSeq."""
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        uri = self.remote_target or self.request_uri
        lines = self._head(method, uri, cseq) + list(headers)
        if method in ("UPDATE", "REFER", "NOTIFY", "SUBSCRIBE"):
            lines.append(f"Contact: <sip:{self.phone.user}@{self.phone.address[0]}:{self.phone.address[1]}>")
        return _build(lines, body, content_type)

    def make_ack(self, response: SipResponse) -> SipRequest:
        """The ACK for ``response`` to our INVITE.

        2xx (§13.2.2.4): a new transaction -- new branch, remote target as Request-URI, the route set,
        the CSeq number of the INVITE.  Non-2xx (§17.1.1.3): the INVITE's branch and Request-URI, the To of
        the response.
        """
        invite = self.invite
        assert invite is not None
        number = invite.cseq.number
        if 200 <= response.status < 300:
            self.learn(response)
            return _build(self._head("ACK", self.remote_target or self.request_uri, number), None, None)
        branch = invite.vias[0].branch
        lines = self._head("ACK", invite.uri_text, number, branch=branch, with_remote_tag=False)
        lines = [line if not line.startswith("To:") else f"To: {response.header('To')}" for line in lines]
        return _build(lines, None, None)

    def make_cancel(self) -> SipRequest:
        """§9.1: CANCEL of the pending INVITE -- same Request-URI, Call-ID, From, To, CSeq number, branch."""
        invite = self.invite
        assert invite is not None
        lines = self._head("CANCEL", invite.uri_text, invite.cseq.number, branch=invite.vias[0].branch,
                           with_remote_tag=False)
        return _build(lines, None, None)

    def learn(self, response: SipResponse) -> None:
        """Take the dialog state from a response with a To tag (§12.1.2)."""
        tag = response.to.tag
        if tag and (self.remote_tag is None or 200 <= response.status < 300):
            self.remote_tag = tag
        if response.contacts:
            self.remote_target = str(response.contacts[0].uri)
        if 200 <= response.status < 300 or not self.route_set:
            self.route_set = [str(r) for r in reversed(response.record_routes)]

    # -- sending ---------------------------------------------------------------------------------------------

    def send(self, request: SipRequest) -> list[Sent]:
        """Feed ``request`` to the endpoint; what reached this phone in reaction."""
        return self.phone.send(request)

    def call(self, sdp: bytes | None = OFFER, *, headers: Sequence[str] = (),
             password: str | None = None, algorithm: str = "MD5") -> list[Sent]:
        """INVITE, answer the 401 with credentials, INVITE again; what reached the phone after the
        second INVITE (the ACK of the 401 is the transaction layer's, RFC 3261 §17.1.1.3)."""
        first = self.send(self.make_invite(sdp, headers=headers))
        challenge = [s for s in first if s.status == 401]
        if not challenge:
            return first
        self.send(self.make_ack(challenge[0].response))
        params = pick_challenge(challenge[0].response, algorithm)
        credentials = authorization(params, method="INVITE", uri=self.request_uri, username=self.phone.user,
                                    password=password if password is not None else self.phone.secret)
        return self.send(self.make_invite(sdp, headers=headers, authorization=credentials))


class Phone:
    """A scripted SIP phone at ``address`` whose messages are fed to a :class:`Harness`."""

    def __init__(self, harness: Harness, user: str = "1001", *, secret: str | None = None,
                 address: Address = ("192.0.2.10", 5060), transport: Transport = "udp",
                 display: str = "Alice", domain: str | None = None) -> None:
        self.harness = harness
        self.user = user
        self.secret = secret if secret is not None else SECRETS.get(user, "")
        self.address = address
        self.transport = transport
        self.display = display
        self.domain = domain or GATEWAY[0]
        self.register_call_id = _unique("reg-") + f"@{address[0]}"
        self.register_cseq = 0
        self._seen = len(harness.sent)

    def inbox(self) -> list[Sent]:
        """Everything the endpoint sent to this phone since the last look, however it was drained."""
        sent = self.harness.sent
        new = [s for s in sent[self._seen:] if s.destination == self.address]
        self._seen = len(sent)
        return new

    def via(self, branch: str) -> str:
        return f"SIP/2.0/{self.transport.upper()} {self.address[0]}:{self.address[1]};branch={branch};rport"

    def new_call(self, to: str = "1002", *, uri: str | None = None) -> PhoneCall:
        """A call to ``to`` (Request-URI ``sip:to@gateway`` unless given)."""
        return PhoneCall(self, call_id=_unique("call-") + f"@{self.address[0]}", local_tag=_unique("tag-"),
                         to_user=to, request_uri=uri or f"sip:{to}@{GATEWAY[0]}")

    def send(self, message: SipRequest | SipResponse | bytes) -> list[Sent]:
        """Feed ``message`` to the endpoint; what the endpoint sent to this phone's address in reaction."""
        sent = self.harness.feed(message, self.address, self.transport)
        return [s for s in sent if s.destination == self.address]

    def advance(self, seconds: float) -> list[Sent]:
        """Let time pass; what the endpoint sent to this phone meanwhile."""
        return [s for s in self.harness.advance(seconds) if s.destination == self.address]

    # -- REGISTER ----------------------------------------------------------------------------------------------

    def make_register(self, *, contacts: Sequence[str] | None = None, expires: int | None = None,
                      authorization: str | None = None, to_user: str | None = None,
                      headers: Sequence[str] = ()) -> SipRequest:
        """A REGISTER for this phone's AOR with the next CSeq of its registration Call-ID."""
        self.register_cseq += 1
        aor = f"sip:{to_user or self.user}@{GATEWAY[0]}"
        if contacts is None:
            contacts = [f"<sip:{self.user}@{self.address[0]}:{self.address[1]}>"]
        lines = [
            f"REGISTER sip:{GATEWAY[0]} SIP/2.0",
            f"Via: {self.via(_unique('z9hG4bK-r'))}",
            "Max-Forwards: 70",
            f"From: <sip:{self.user}@{GATEWAY[0]}>;tag={_unique('rt-')}",
            f"To: <{aor}>",
            f"Call-ID: {self.register_call_id}",
            f"CSeq: {self.register_cseq} REGISTER",
            *[f"Contact: {c}" for c in contacts],
        ]
        if expires is not None:
            lines.append(f"Expires: {expires}")
        if authorization:
            lines.append(f"Authorization: {authorization}")
        lines += list(headers)
        return _build(lines, None, None)

    def register(self, *, contacts: Sequence[str] | None = None, expires: int | None = None,
                 password: str | None = None, algorithm: str = "MD5", to_user: str | None = None,
                 headers: Sequence[str] = ()) -> SipResponse:
        """REGISTER, answer the 401, REGISTER again: the final response to the second one."""
        first = self.send(self.make_register(contacts=contacts, expires=expires, to_user=to_user, headers=headers))
        finals = [s for s in first if s.status >= 200]
        assert finals, first
        if finals[-1].status != 401:
            return finals[-1].response
        params = pick_challenge(finals[-1].response, algorithm)
        credentials = authorization(params, method="REGISTER", uri=f"sip:{GATEWAY[0]}", username=self.user,
                                    password=password if password is not None else self.secret)
        second = self.send(self.make_register(contacts=contacts, expires=expires, authorization=credentials,
                                              to_user=to_user, headers=headers))
        finals = [s for s in second if s.status >= 200]
        assert finals, second
        return finals[-1].response

    # -- answering what the endpoint sends -----------------------------------------------------------------------

    def make_response(self, request: SipRequest, status: int, *, to_tag: str | None = None,
                      body: bytes | None = None, content_type: str = "application/sdp",
                      headers: Sequence[str] = (), contact: bool = True, reason: str | None = None) -> SipResponse:
        """Our response to a request the endpoint sent (§8.2.6.2: Via, From, To, Call-ID, CSeq copied;
        ``to_tag`` added to a To without one, except on 100)."""
        phrase = reason or _PHRASES.get(status, "Whatever")
        lines = [f"SIP/2.0 {status} {phrase}"]
        for value in request.header_values("Via"):
            lines.append(f"Via: {value}")
        lines.append(f"From: {request.header('From')}")
        to = request.header("To") or ""
        if to_tag and status != 100 and ";tag=" not in to:
            to += f";tag={to_tag}"
        lines.append(f"To: {to}")
        lines.append(f"Call-ID: {request.call_id}")
        lines.append(f"CSeq: {request.header('CSeq')}")
        if contact and status != 100 and request.method in ("INVITE", "UPDATE", "SUBSCRIBE", "REFER"):
            lines.append(f"Contact: <sip:{self.user}@{self.address[0]}:{self.address[1]}>")
        lines += list(headers)
        message = parse_message(_wire(lines, body, content_type if body is not None else None))
        assert isinstance(message, SipResponse), message
        return message


_PHRASES = {100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 183: "Session Progress",
            200: "OK", 202: "Accepted", 401: "Unauthorized", 407: "Proxy Authentication Required",
            403: "Forbidden", 404: "Not Found", 408: "Request Timeout", 415: "Unsupported Media Type",
            422: "Session Interval Too Small", 480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
            486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here", 491: "Request Pending",
            500: "Server Internal Error", 503: "Service Unavailable", 603: "Decline"}


def _wire(lines: list[str], body: bytes | None, content_type: str | None) -> bytes:
    out = list(lines)
    if body is not None and content_type is not None:
        out.append(f"Content-Type: {content_type}")
    payload = body or b""
    out.append(f"Content-Length: {len(payload)}")
    return ("\r\n".join(out) + "\r\n\r\n").encode() + payload


def _build(lines: list[str], body: bytes | None, content_type: str | None) -> SipRequest:
    """A request from its header lines, parsed back from its wire form."""
    message = parse_message(_wire(lines, body, content_type))
    assert isinstance(message, SipRequest), message
    return message


# -- common call set-ups -------------------------------------------------------------------------------------------


def incoming_call(harness: Harness, phone: Phone, to: str = "1002", *, sdp: bytes | None = OFFER,
                  headers: Sequence[str] = ()) -> tuple[PhoneCall, SipCall]:
    """``phone`` calls ``to`` with digest authentication; the call the endpoint announced."""
    call = phone.new_call(to)
    call.call(sdp, headers=headers)
    found = [e for e in harness.events() if isinstance(e, IncomingCall)]
    assert len(found) == 1, found
    return call, found[0].call


def answered_call(harness: Harness, phone: Phone, to: str = "1002", *, headers: Sequence[str] = (),
                  answer: bytes = ANSWER) -> tuple[PhoneCall, SipCall]:
    """An incoming call answered by the endpoint and ACKed by the phone."""
    dialog, call = incoming_call(harness, phone, to, headers=headers)
    harness.endpoint.answer(call, answer, harness.now)
    ok = [s for s in harness.drain() if s.status == 200]
    assert ok, "no 200 OK"
    dialog.learn(ok[0].response)
    dialog.send(dialog.make_ack(ok[0].response))
    return dialog, call


def final_response(sent: Iterable[Sent]) -> SipResponse:
    """The last final response among ``sent``."""
    finals = [s.response for s in sent if s.status >= 200]
    assert finals, list(sent)
    return finals[-1]


# -- two endpoints pumped into each other -------------------------------------------------------------------------


class Network:
    """Carries datagrams between harnesses by destination address with a fixed latency, in time order.

    ``drop(data)`` decides, per datagram sent, whether the network loses it (after it is logged).
    """

    def __init__(self, *harnesses: Harness, latency: float = 0.01,
                 drop: Callable[[bytes], bool] | None = None) -> None:
        self.by_address = {h.address: h for h in harnesses}
        self.latency = latency
        self.drop = drop
        self.clock = harnesses[0].clock
        assert all(h.clock is self.clock for h in harnesses), "pumped endpoints must share one clock"
        self.in_flight: list[tuple[float, int, bytes, Address, Address, Transport]] = []
        self.sequence = itertools.count()
        self.log: list[tuple[float, Address, Address, str]] = []   # (when, from, to, first line) as sent
        self.lost: list[str] = []

    def collect(self) -> None:
        """Take what every endpoint queued and put it on the wire."""
        for harness in self.by_address.values():
            for sent in harness.drain():
                line = sent.data.split(b"\r\n", 1)[0].decode("utf-8", "replace")
                self.log.append((self.clock.now, harness.address, sent.destination, line))
                if self.drop is not None and self.drop(sent.data):
                    self.lost.append(line)
                    continue
                heapq.heappush(self.in_flight, (self.clock.now + self.latency, next(self.sequence), sent.data,
                                                harness.address, sent.destination, sent.transport))

    def pump(self, duration: float) -> None:
        """Deliver datagrams and run timers, in time order, for ``duration`` seconds."""
        end = self.clock.now + duration
        for _ in range(100_000):
            self.collect()
            timers = [t for t in (h.endpoint.get_timer() for h in self.by_address.values()) if t is not None]
            next_timer = min(timers, default=float("inf"))
            next_packet = self.in_flight[0][0] if self.in_flight else float("inf")
            when = min(next_timer, next_packet)
            if when > end:
                self.clock.now = max(self.clock.now, end)
                return
            self.clock.now = max(self.clock.now, when)
            if next_packet <= next_timer:
                _at, _seq, data, source, destination, transport = heapq.heappop(self.in_flight)
                target = self.by_address.get(destination)
                if target is None:
                    self.lost.append(data.split(b"\r\n", 1)[0].decode("utf-8", "replace"))
                    continue
                target.endpoint.receive_datagram(data, source, transport, self.clock.now)
            else:
                for harness in self.by_address.values():
                    harness.endpoint.handle_timer(self.clock.now)
        raise AssertionError("the network never went idle")

    def first_lines(self, source: Address | None = None) -> list[str]:
        """The first lines sent (from ``source`` when given), in order."""
        return [line for _when, frm, _to, line in self.log if source is None or frm == source]
