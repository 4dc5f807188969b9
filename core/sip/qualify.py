"""OPTIONS keep-alives toward trunk servers ("qualify"): a mixin of the SIP endpoint.

Every ``qualify`` seconds each server of a trunk gets an OPTIONS request.  Any response, whatever its
status (a server may well answer 404 or 405 to OPTIONS), means the server is up; its round-trip time is
kept.  No response within :data:`QUALIFY_TIMEOUT` marks it UNREACHABLE without waiting for the
transaction's 32 s Timer F, as Asterisk's chan_sip does with ``qualify=yes`` (2000 ms); an answer slower
than that threshold but arriving before the next probe is LAGGED.  Calls toward a trunk try reachable
servers first (see :mod:`core.sip.channel`), and ``sip show peers`` prints the status.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.sip.dialog import build_request
from core.sip.message import SipResponse, SipUri
from core.sip.session import TrunkStatusChanged
from core.sip.transaction_messages import Transport

if TYPE_CHECKING:
    from collections import deque
    from collections.abc import Callable

    from core.sip.session import SipEvent
    from core.sip.settings import EndpointSettings, SipTrunkSettings
    from core.sip.timers import TimerQueue
    from core.sip.transaction import TransactionLayer

log = logging.getLogger("centralita.sip")

Address = tuple[str, int]

QUALIFY_TIMEOUT = 2.0   # seconds: chan_sip's DEFAULT_MAXMS, the "qualify=yes" threshold


@dataclass
class ServerStatus:
    """What the last probes said of one server of one trunk."""

    trunk: str
    server: Address
    status: str = "UNKNOWN"          # UNKNOWN, OK, LAGGED, UNREACHABLE
    rtt_ms: float | None = None
    sent_at: float | None = None     # the probe in flight, if any
    transaction: object = None

    @property
    def usable(self) -> bool:
        """A call may be tried here first (up, or not known to be down)."""
        return self.status != "UNREACHABLE"

    def describe(self) -> str:
        """``OK (12 ms)`` as ``sip show peers`` prints it."""
        if self.status in ("OK", "LAGGED") and self.rtt_ms is not None:
            return f"{self.status} ({self.rtt_ms:.0f} ms)"
        return self.status


class QualifyClient:
    """The qualify half of the endpoint."""

    if TYPE_CHECKING:  # what the endpoint provides (SipEndpoint mixes this class in)
        tx: TransactionLayer
        settings: EndpointSettings
        timers: TimerQueue
        events: deque[SipEvent]
        wallclock: Callable[[], float]

        def _via(self, transport: Transport) -> str: ...

    def __init__(self) -> None:
        self.server_status: dict[tuple[str, Address], ServerStatus] = {}
        self._probes: dict[int, ServerStatus] = {}

    def start_qualify(self, now: float) -> None:
        """Probe every server of every trunk with ``qualify`` > 0 now, then every ``qualify`` seconds."""
        for trunk in self.settings.trunks:
            for server in trunk.servers:
                status = ServerStatus(trunk.name, server)
                self.server_status[(trunk.name, server)] = status
                if trunk.qualify > 0:
                    self._probe(trunk, status, now)

    def servers_in_order(self, trunk: SipTrunkSettings) -> list[Address]:
        """The trunk's servers as configured, those known to be unreachable moved to the end."""
        def down(server: Address) -> bool:
            status = self.server_status.get((trunk.name, server))
            return status is not None and not status.usable

        return sorted(trunk.servers, key=down)

    def _probe(self, trunk: SipTrunkSettings, status: ServerStatus, now: float) -> None:
        host, port = status.server
        domain = trunk.from_domain or host
        uri = SipUri.parse(f"sip:{_bracket(host)}" + (f":{port}" if port != 5060 else ""))
        headers = [
            ("Via", self._via(trunk.transport)),
            ("Max-Forwards", "70"),
            ("From", f"<sip:{trunk.username or 'centralita'}@{_bracket(domain)}>;tag={secrets.token_hex(6)}"),
            ("To", f"<{uri}>"),
            ("Call-ID", f"{secrets.token_hex(12)}@{_bracket(self.settings.host)}"),
            ("CSeq", "1 OPTIONS"),
            ("Accept", "application/sdp"),
            ("User-Agent", self.settings.user_agent),
        ]
        transaction = self.tx.send_request(build_request("OPTIONS", uri, headers, b""), status.server,
                                           trunk.transport, now)
        if status.transaction is not None:
            self._probes.pop(id(status.transaction), None)
        status.transaction = transaction
        status.sent_at = now
        self._probes[id(transaction)] = status
        self.timers.call_at(now + QUALIFY_TIMEOUT, lambda at: self._check(status, transaction, at))
        self.timers.call_at(now + trunk.qualify, lambda at: self._probe(trunk, status, at))

    def _check(self, status: ServerStatus, transaction: object, now: float) -> None:
        if status.transaction is transaction and status.sent_at is not None:
            self._set(status, "UNREACHABLE", None)

    def on_qualify_response(self, transaction: object, response: SipResponse, now: float) -> bool:
        """An answer to a probe (any final status means the server is up); False if not a probe's."""
        status = self._probes.get(id(transaction))
        if status is None:
            return False
        if response.status < 200:
            return True
        self._probes.pop(id(transaction), None)
        if status.transaction is transaction and status.sent_at is not None:
            rtt = now - status.sent_at
            status.sent_at = None
            self._set(status, "OK" if rtt <= QUALIFY_TIMEOUT else "LAGGED", rtt * 1000.0)
        return True

    def on_qualify_timeout(self, transaction: object, now: float) -> bool:
        """Timer F for a probe: it was reported UNREACHABLE already; forget it."""
        status = self._probes.pop(id(transaction), None)
        if status is None:
            return False
        if status.transaction is transaction:
            status.sent_at = None
            self._set(status, "UNREACHABLE", None)
        return True

    def _set(self, status: ServerStatus, value: str, rtt_ms: float | None) -> None:
        status.rtt_ms = rtt_ms
        if value == status.status:
            return
        previous, status.status = status.status, value
        host, port = status.server
        if value == "UNREACHABLE":
            log.warning("trunk %s: server %s:%d is UNREACHABLE (was %s)", status.trunk, host, port, previous)
        else:
            log.info("trunk %s: server %s:%d is %s (was %s)", status.trunk, host, port, status.describe(),
                     previous)
        self.events.append(TrunkStatusChanged(status.trunk, status.server, value))


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


__all__ = ["QUALIFY_TIMEOUT", "QualifyClient", "ServerStatus"]
