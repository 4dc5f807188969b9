"""Outbound registrations to trunks: a mixin of the SIP endpoint.

Each trunk with ``register = true`` keeps a registration: REGISTER to its first server, answering one
401/407 challenge per request with the trunk's credentials, refreshed before it expires (at 90 % of the
time granted to *our* Contact, at least 5 s early; RFC 3261 §10.2.4), retried after a failure with a
back-off (RFC 5626 §4.5: 30 s, then doubling up to 30 min with jitter; a 503's Retry-After is honoured),
and moved to the next server when one does not answer.  ``sip show registry`` reads
:attr:`RegistrationClient.registrations`.
"""

from __future__ import annotations

import logging
import random
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.sip.dialog import build_request
from core.sip.message import SipParseError, SipResponse, SipUri
from core.sip.session import TrunkRegistrationChanged
from core.sip.transaction_messages import Transport

if TYPE_CHECKING:
    from collections import deque
    from collections.abc import Callable

    from core.sip.session import SipEvent
    from core.sip.settings import EndpointSettings, SipTrunkSettings
    from core.sip.timers import TimerQueue
    from core.sip.transaction import TransactionLayer

log = logging.getLogger("centralita.sip")

FAILOVER_DELAY = 5.0
"""Seconds before a registration that got no answer tries the trunk's next server."""
RETRY_AFTER_FAILURE = 30.0
"""Seconds before the first retry of a refused registration: RFC 5626 §4.5's base-time when all flows failed."""
MAX_RETRY_WAIT = 1800.0
"""RFC 5626 §4.5 max-time: the longest wait between two attempts (30 min)."""
MAX_RETRY_AFTER = 86400.0
"""The longest Retry-After (seconds) we wait for; a larger one is read as this."""
_jitter = random.Random()


def retry_delay(failures: int, rng: random.Random = _jitter) -> float:
    """Seconds to wait after the ``failures``-th consecutive failure (RFC 5626 §4.5).

    wait-time = min(max-time, base-time * 2**failures) and the wait is a random point between 50 % and
    100 % of it; the first retry takes the low end, exactly :data:`RETRY_AFTER_FAILURE` (30 s), and the
    ranges of consecutive failures do not overlap, so the waits never shrink.
    """
    if failures <= 1:
        return RETRY_AFTER_FAILURE
    wait = min(MAX_RETRY_WAIT, RETRY_AFTER_FAILURE * 2.0 ** failures)
    return rng.uniform(wait / 2, wait)


@dataclass
class Registration:
    """One trunk's outbound registration."""

    trunk: SipTrunkSettings
    server_index: int = 0
    state: str = "Unregistered"
    call_id: str = field(default_factory=lambda: secrets.token_hex(12))
    from_tag: str = field(default_factory=lambda: secrets.token_hex(6))
    cseq: int = 0
    granted: int = 0
    registered_at: float | None = None
    auth_tried: bool = False
    transaction: object = None
    detail: str = ""
    stopping: bool = False
    failures: int = 0                # consecutive refusals or timeouts, for the back-off
    contact: str = ""                # the Contact we register, to find its expires in the 200

    @property
    def server(self) -> tuple[str, int]:
        """The server in use."""
        return self.trunk.servers[self.server_index % len(self.trunk.servers)]


class RegistrationClient:
    """The registration half of the endpoint."""

    if TYPE_CHECKING:  # what the endpoint provides (SipEndpoint mixes this class in)
        tx: TransactionLayer
        settings: EndpointSettings
        timers: TimerQueue
        events: deque[SipEvent]
        wallclock: Callable[[], float]

        line_of: dict[str, str]

        def local_contact(self, user: str = "centralita", transport: Transport = "udp", line: str = "") -> str: ...

        def _via(self, transport: Transport) -> str: ...

    def __init__(self) -> None:
        self.registrations: dict[str, Registration] = {}
        self._by_transaction: dict[int, Registration] = {}

    def start_registrations(self, now: float) -> None:
        """Begin registering every trunk that asks for it."""
        for trunk in self.settings.trunks:
            if trunk.register and trunk.servers:
                registration = Registration(trunk)
                self.registrations[trunk.name] = registration
                self._register(registration, trunk.expiry, now)

    def stop_registrations(self, now: float) -> None:
        """Unregister (Expires: 0) everything that is registered (at shutdown)."""
        for registration in self.registrations.values():
            registration.stopping = True
            if registration.state == "Registered":
                self._register(registration, 0, now)

    def _register(self, registration: Registration, expires: int, now: float,
                  authorization: tuple[str, str] | None = None) -> None:
        trunk = registration.trunk
        host, port = registration.server
        domain = trunk.from_domain or host
        user = trunk.username or trunk.name
        registration.cseq += 1
        registration.contact = self.local_contact(user, trunk.transport, line=self.line_of.get(trunk.name, ""))
        headers: list[tuple[str, str]] = [
            ("Via", self._via(trunk.transport)),
            ("Max-Forwards", "70"),
            ("From", f"<sip:{user}@{domain}>;tag={registration.from_tag}"),
            ("To", f"<sip:{user}@{domain}>"),
            ("Call-ID", registration.call_id),
            ("CSeq", f"{registration.cseq} REGISTER"),
            ("Contact", registration.contact),
            ("Expires", str(expires)),
            ("User-Agent", self.settings.user_agent),
        ]
        if authorization is not None:
            headers.append(authorization)
        uri = SipUri.parse(f"sip:{domain}" + (f":{port}" if port != 5060 else ""))
        request = build_request("REGISTER", uri, headers, b"")
        transaction = self.tx.send_request(request, (host, port), trunk.transport, now)
        registration.transaction = transaction
        if registration.state != "Registered":
            registration.state = "Request Sent"
        self._by_transaction[id(transaction)] = registration

    def on_registration_response(self, transaction: object, response: SipResponse, now: float) -> bool:
        """Handle a REGISTER response (or an OPTIONS qualify answer)."""
        registration = self._by_transaction.pop(id(transaction), None)
        if registration is None or response.status < 200:
            if registration is not None:
                self._by_transaction[id(transaction)] = registration
            return registration is not None
        trunk = registration.trunk
        if response.status in (401, 407) and not registration.auth_tried and trunk.secret:
            challenge = response.header("WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate")
            if challenge:
                from core.sip.auth import digest_credentials

                host, port = registration.server
                domain = trunk.from_domain or host
                uri = f"sip:{domain}" + (f":{port}" if port != 5060 else "")
                credentials = digest_credentials(challenge, method="REGISTER", uri=uri,
                                                 username=trunk.username or trunk.name, password=trunk.secret)
                registration.auth_tried = True
                header = "Authorization" if response.status == 401 else "Proxy-Authorization"
                expires = 0 if registration.stopping else trunk.expiry
                self._register(registration, expires, now, (header, credentials))
                return True
        registration.auth_tried = False
        if 200 <= response.status < 300:
            if registration.stopping:
                registration.state = "Unregistered"
                return True
            granted = _granted_expiry(response, registration.contact, trunk.expiry)
            registration.granted = granted
            registration.failures = 0
            registration.registered_at = self.wallclock()
            changed = registration.state != "Registered"
            registration.state = "Registered"
            registration.detail = ""
            refresh = max(1.0, min(granted * 0.9, granted - 5.0))
            self.timers.call_at(now + refresh, lambda at: self._refresh(registration, at))
            if changed:
                log.info("trunk %s registered with %s:%d for %d s", trunk.name, *registration.server, granted)
                self.events.append(TrunkRegistrationChanged(trunk.name, "Registered"))
        else:
            registration.state = "Rejected" if response.status in (401, 403, 404) else "Failed"
            registration.detail = f"{response.status} {response.reason}"
            registration.failures += 1
            delay = retry_delay(registration.failures)
            retry_after = _retry_after(response) if response.status == 503 else None
            if retry_after is not None:
                delay = retry_after  # RFC 3261 §21.5.4: not before the server says
            log.warning("trunk %s registration refused by %s:%d: %s; retrying in %.0f s", trunk.name,
                        *registration.server, registration.detail, delay)
            self.events.append(TrunkRegistrationChanged(trunk.name, registration.state, registration.detail))
            self.timers.call_at(now + delay, lambda at: self._refresh(registration, at))
        return True

    def on_registration_transaction_terminated(self, transaction: object) -> None:
        """The transaction layer forgot ``transaction``: so does the registration that sent it."""
        self._by_transaction.pop(id(transaction), None)

    def _refresh(self, registration: Registration, now: float) -> None:
        if not registration.stopping:
            self._register(registration, registration.trunk.expiry, now)

    def on_registration_timeout(self, transaction: object, now: float) -> bool:
        """No answer: try the trunk's next server after a short pause."""
        registration = self._by_transaction.pop(id(transaction), None)
        if registration is None:
            return False
        registration.state = "No Authentication" if registration.auth_tried else "Request Sent"
        registration.state = "Unreachable"
        registration.detail = f"no answer from {registration.server[0]}:{registration.server[1]}"
        log.warning("trunk %s: %s", registration.trunk.name, registration.detail)
        registration.server_index += 1
        registration.auth_tried = False
        registration.failures += 1
        self.events.append(TrunkRegistrationChanged(registration.trunk.name, "Unreachable", registration.detail))
        if not registration.stopping:
            # The next server of the list is tried soon; once every one failed, back off (RFC 5626 §4.5).
            servers = len(registration.trunk.servers)
            failures = registration.failures
            delay = FAILOVER_DELAY if failures < servers else retry_delay(failures - servers + 1)
            self.timers.call_at(now + delay, lambda at: self._refresh(registration, at))
        return True


def _granted_expiry(response: SipResponse, ours: str, asked: int) -> int:
    """Section 10.2.4: the expires the 200 gives the Contact we registered (the others are other devices'
    bindings of the same AOR), else its Expires header, else what we asked for.  A 200 that lists no
    Contact equivalent to ours (a registrar that rewrote it) gets the shortest interval it lists, so the
    binding is refreshed early rather than left to lapse."""
    try:
        mine = SipUri.parse(ours.strip().strip("<>"))
    except SipParseError:
        mine = None
    listed: list[int] = []
    for contact in response.contacts:
        value = contact.params.get("expires")
        seconds = int(value) if value and value.isdigit() else response.expires
        if mine is not None and contact.uri.equivalent(mine):
            return seconds if seconds is not None else asked
        if seconds is not None:
            listed.append(seconds)
    if listed:
        return min(listed)
    if response.expires is not None:
        return response.expires
    return asked


def _retry_after(response: SipResponse) -> float | None:
    """The seconds of a Retry-After header (RFC 3261 §20.33), comment and parameters ignored."""
    value = (response.header("Retry-After") or "").strip()
    digits = value.split(None, 1)[0].split(";", 1)[0] if value else ""
    if not digits.isdigit():
        return None
    return min(float(digits), MAX_RETRY_AFTER)
