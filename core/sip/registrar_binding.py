"""A live registrar binding: its Contact URI and how to reach the phone.

:class:`Binding` is a :class:`~core.sip.registrar_store.BindingRecord` (what is persisted) with the parsed
Contact URI and a monotonic expiry.  It knows where the phone registered from and where requests for it
should go (:attr:`Binding.reach`): the Contact URI's address, or the REGISTER's source address when the phone
is behind NAT or registered an RFC 5626 flow.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field
from typing import NamedTuple

from core.sip.headers import quote
from core.sip.message import SipUri
from core.sip.registrar_store import TRANSPORTS, Address, BindingRecord, Transport

EPSILON = 1e-6
"""Seconds of float noise tolerated when comparing monotonic times (a binding at ``now + 3600`` is not
3599.999... seconds away)."""


class Reach(NamedTuple):
    """Where requests for a binding go: ``address`` over ``transport``; ``via_source`` says whether that is
    the address the REGISTER came from (NAT, or an RFC 5626 flow) rather than the Contact URI's."""

    address: Address
    transport: Transport
    via_source: bool


@dataclass(slots=True)
class Binding(BindingRecord):
    """A live binding: the persisted record plus the parsed Contact URI and the monotonic expiry.

    ``expires_at`` is in the same monotonic seconds as the ``now`` the service is given.
    """

    uri: SipUri = field(compare=False)
    expires_at: float

    def remaining(self, now: float) -> int:
        """Whole seconds left at ``now`` (rounded down, never negative): the ``expires`` of a 200's Contact."""
        left = math.floor(self.expires_at - now + EPSILON)
        return left if left > 0 else 0

    @property
    def contact_address(self) -> Address:
        """The Contact URI's host (without IPv6 brackets) and port (default 5061 for sips: or
        ``transport=tls``, else 5060; RFC 3263 section 4.2)."""
        port = self.uri.port
        if port is None:
            port = 5061 if self.contact_transport == "tls" else 5060
        return (_bare_host(self.uri.host), port)

    @property
    def contact_transport(self) -> Transport:
        """The transport the Contact URI asks for: its ``transport`` parameter, else tls for sips:, else udp."""
        wanted = (self.uri.params.get("transport") or "").lower()
        for transport in TRANSPORTS:
            if transport == wanted:
                return transport
        return "tls" if self.uri.scheme.lower() == "sips" else "udp"

    @property
    def behind_nat(self) -> bool:
        """Whether the REGISTER came from somewhere else than the Contact says (RFC 3581's case): over UDP the
        host or the port differs, over TCP/TLS the host (their source port is always ephemeral).  A Contact
        host that is a name, not an address, counts as different."""
        contact_host, contact_port = self.contact_address
        source_host, source_port = self.source
        if not _same_host(contact_host, source_host):
            return True
        return self.transport == "udp" and contact_port != source_port

    @property
    def outbound(self) -> bool:
        """Whether the binding is an RFC 5626 flow (instance-id and reg-id both given)."""
        return self.instance is not None and self.reg_id is not None

    @property
    def reach(self) -> Reach:
        """Where to send requests for this binding.

        The REGISTER's source address and transport when the phone is behind NAT (what Asterisk's
        ``rewrite_contact`` does) or registered an RFC 5626 flow (section 5.3); else the Contact URI's
        address and transport.  With a Path (RFC 3327) the source is the proxy the Path starts at.
        """
        if self.outbound or self.behind_nat:
            return Reach(self.source, self.transport, True)
        return Reach(self.contact_address, self.contact_transport, False)

    @property
    def destination(self) -> Address:
        """``reach.address``: the address requests for this binding are sent to."""
        return self.reach.address

    @property
    def survives_restart(self) -> bool:
        """False for a TCP/TLS binding reached through the REGISTER's connection, which dies with the process
        (Asterisk's ``ast_sip_will_uri_survive_restart`` / ``prune_on_boot``)."""
        return self.transport == "udp" or not self.reach.via_source

    def to_record(self) -> BindingRecord:
        """The persisted part."""
        return BindingRecord(
            binding_id=self.binding_id, aor=self.aor, contact=self.contact, q=self.q, expires=self.expires,
            expires_at_wall=self.expires_at_wall, refreshed_at_wall=self.refreshed_at_wall, call_id=self.call_id,
            cseq=self.cseq, instance=self.instance, reg_id=self.reg_id, source=self.source,
            transport=self.transport, user_agent=self.user_agent, path=self.path)

    def contact_header(self, now: float) -> str:
        """This binding as a Contact value of a 200 to REGISTER: ``<uri>;expires=N`` (RFC 3261 10.3 step 8),
        then ``q``, ``+sip.instance`` and ``reg-id`` when the phone gave them (RFC 5626 section 6)."""
        parts = [f"<{self.contact}>;expires={self.remaining(now)}"]
        if self.q is not None:
            parts.append(f"q={_format_q(self.q)}")
        if self.instance is not None:
            parts.append(f"+sip.instance={quote(self.instance)}")
        if self.reg_id is not None:
            parts.append(f"reg-id={self.reg_id}")
        return ";".join(parts)


# -- helpers ------------------------------------------------------------------------------------------------


def _format_q(q: float) -> str:
    text = f"{q:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def _bare_host(host: str) -> str:
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def _same_host(left: str, right: str) -> bool:
    left, right = _bare_host(left), _bare_host(right)
    try:
        return ipaddress.ip_address(left) == ipaddress.ip_address(right)
    except ValueError:
        return left.lower() == right.lower()
