"""Outbound registrations to trunks and OPTIONS keep-alives (qualify): a mixin of the SIP endpoint.

Each trunk with ``register = true`` keeps a registration: REGISTER to its first server, answering one
401/407 challenge per request with the trunk's credentials, refreshed before it expires (at 90 % of the
granted time, at least 5 s early), retried after a failure, and moved to the next server when one does not
answer.  ``sip show registry`` reads :attr:`RegistrationClient.registrations`.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.sip.dialog import build_request
from core.sip.message import SipResponse, SipUri
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

RETRY_AFTER_FAILURE = 30.0


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
        headers: list[tuple[str, str]] = [
            ("Via", self._via(trunk.transport)),
            ("Max-Forwards", "70"),
            ("From", f"<sip:{user}@{domain}>;tag={registration.from_tag}"),
            ("To", f"<sip:{user}@{domain}>"),
            ("Call-ID", registration.call_id),
            ("CSeq", f"{registration.cseq} REGISTER"),
            ("Contact", self.local_contact(user, trunk.transport, line=self.line_of.get(trunk.name, ""))),
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
            granted = _granted_expiry(response, trunk.expiry)
            registration.granted = granted
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
            log.warning("trunk %s registration refused by %s:%d: %s", trunk.name, *registration.server,
                        registration.detail)
            self.events.append(TrunkRegistrationChanged(trunk.name, registration.state, registration.detail))
            self.timers.call_at(now + RETRY_AFTER_FAILURE, lambda at: self._refresh(registration, at))
        return True

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
        self.events.append(TrunkRegistrationChanged(registration.trunk.name, "Unreachable", registration.detail))
        if not registration.stopping:
            self.timers.call_at(now + 5.0, lambda at: self._refresh(registration, at))
        return True


def _granted_expiry(response: SipResponse, asked: int) -> int:
    for contact in response.contacts:
        value = contact.params.get("expires")
        if value and value.isdigit():
            return int(value)
    if response.expires is not None:
        return response.expires
    return asked
