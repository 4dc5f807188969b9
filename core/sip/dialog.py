"""SIP dialogs (RFC 3261 section 12): identifiers, route sets, CSeq spaces and in-dialog requests.

A dialog is created from a 2xx or 101-199 response with a To tag (UAC side) or from our own response to
a dialog-creating request (UAS side).  It builds every later request of the dialog (section 12.2.1.1):
Request-URI from the remote target, Route headers from the route set (loose routing; a strict-routing
first hop is handled as section 12.2.1.1 says), the local CSeq, and checks incoming requests' CSeq.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass, field
from enum import Enum

from core.sip.headers import Headers, own_via
from core.sip.message import NameAddr, SipRequest, SipResponse, SipUri, new_branch

DialogId = tuple[str, str, str]
"""(Call-ID, local tag, remote tag)."""

Address = tuple[str, int]

# Addresses that are not reachable from outside their own network (RFC 1918, RFC 6598 shared address space,
# RFC 4193 unique local, link-local, loopback): a Contact there, seen from a peer outside, is behind a NAT.
_LOCAL_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "127.0.0.0/8",
    "fc00::/7", "fe80::/10", "::1/128"))


class DialogState(Enum):
    """Early (after a provisional with a tag) or confirmed (after a 2xx); terminated ones are dropped."""

    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


# Members read on every call, as module globals: reading one off the Enum class costs ~900 instructions under
# callgrind (CPython 3.11), a global ~30.
_EARLY = DialogState.EARLY
_CONFIRMED = DialogState.CONFIRMED


@dataclass(slots=True)
class Dialog:
    """The state of one dialog, as section 12.1 lists it."""

    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: NameAddr        # our From (UAC) or To (UAS), tag included
    remote_uri: NameAddr       # their To (UAC) or From (UAS), tag included
    remote_target: SipUri      # the peer's Contact
    route_set: list[NameAddr] = field(default_factory=list)
    local_cseq: int = 0
    remote_cseq: int | None = None
    secure: bool = False
    state: DialogState = DialogState.EARLY
    via_host: str = ""
    via_port: int | None = None
    transport: str = "udp"
    local_contact: str = ""

    @property
    def id(self) -> DialogId:
        """The key dialogs are found by."""
        return (self.call_id, self.local_tag, self.remote_tag)

    @classmethod
    def as_uac(cls, request: SipRequest, response: SipResponse, *, local_contact: str, transport: str,
               via_host: str, via_port: int | None) -> Dialog:
        """Section 12.1.2: the dialog a response with a To tag creates for the request we sent."""
        contacts = response.contacts
        uri = request.uri
        local = request.from_  # each parsed view read once: every read is a property call
        remote = response.to
        # Positional, in the order of the fields: CPython 3.11 matches each keyword argument by name, several
        # hundred instructions apiece (two dialogs per call).
        return cls(
            request.call_id,                                # call_id
            local.params.get("tag") or "",                  # local_tag
            remote.params.get("tag") or "",                 # remote_tag
            local,                                          # local_uri
            remote,                                         # remote_uri
            contacts[0].uri if contacts else uri,           # remote_target
            response.record_routes[::-1],                   # route_set
            request.cseq.number,                            # local_cseq
            None,                                           # remote_cseq
            uri.scheme == "sips",                           # secure
            _CONFIRMED if 200 <= response.status < 300 else _EARLY,  # state
            via_host,
            via_port,
            transport,
            local_contact,
        )

    @classmethod
    def as_uas(cls, request: SipRequest, local_tag: str, *, local_contact: str, transport: str,
               via_host: str, via_port: int | None) -> Dialog:
        """Section 12.1.1: the dialog our response to ``request`` creates."""
        contacts = request.contacts
        remote = request.from_  # each parsed view read once: every read is a property call
        to = request.to
        local = NameAddr(to.display_name, to.uri, {**to.params, "tag": local_tag})
        return cls(  # positional, as in as_uac
            request.call_id,                                # call_id
            local_tag,
            remote.params.get("tag") or "",                 # remote_tag
            local,                                          # local_uri
            remote,                                         # remote_uri
            contacts[0].uri if contacts else remote.uri,    # remote_target
            list(request.record_routes),                    # route_set
            0,                                              # local_cseq
            request.cseq.number,                            # remote_cseq
            request.uri.scheme == "sips",                   # secure
            _EARLY,                                         # state
            via_host,
            via_port,
            transport,
            local_contact,
        )

    def update_from_response(self, response: SipResponse) -> None:
        """A 2xx confirms an early dialog; its Contact refreshes the target (section 12.2.1.2)."""
        if 200 <= response.status < 300:
            self.state = _CONFIRMED
            routes = response.record_routes
            if routes:
                self.route_set = list(reversed(routes))
        contacts = response.contacts
        if contacts:
            self.remote_target = contacts[0].uri

    def accept_request(self, request: SipRequest) -> bool:
        """Section 12.2.2: False for a request whose CSeq is lower than the last one (answer 500)."""
        number = request.cseq.number
        if self.remote_cseq is not None and number < self.remote_cseq and request.method not in ("ACK", "CANCEL"):
            return False
        if request.method not in ("ACK", "CANCEL"):
            self.remote_cseq = number
            contacts = request.contacts if request.method in ("INVITE", "UPDATE") else []
            if contacts:
                self.remote_target = contacts[0].uri  # target refresh requests
        return True

    def next_hop(self) -> SipUri:
        """Where in-dialog requests go: the first route, else the remote target (section 12.2.1.1)."""
        if self.route_set:
            return self.route_set[0].uri
        return self.remote_target

    def next_hop_address(self, fallback: Address) -> Address:
        """The address this dialog's requests go to (section 12.2.1.1 with section 8.1.2 and RFC 3263 §4.2).

        The URI of :meth:`next_hop` gives it: its ``maddr`` or host, and its port (5060, or 5061 for
        ``sips``).  ``fallback`` -- the address the dialog's messages come from or went to -- is used instead
        when that host is a name (the sans-IO core has no resolver) and when it lies in a private network
        while ``fallback`` does not: a phone behind a NAT, whose Contact cannot be reached but whose source
        can (what Asterisk's ``rewrite_contact`` and FreeSWITCH's NAT detection do).
        """
        route_set = self.route_set  # next_hop() written out: every in-dialog request asks
        uri = route_set[0].uri if route_set else self.remote_target
        host = (uri.params.get("maddr") or uri.host).strip("[]")
        local = _host_is_local(host)
        if local is None:
            return fallback
        if local and _host_is_local(fallback[0].strip("[]")) is False:
            return fallback
        port = uri.port or (5061 if uri.scheme == "sips" else 5060)
        return (host, port)

    def create_request(self, method: str, *, cseq: int | None = None, branch: str | None = None,
                       body: bytes = b"", content_type: str | None = None,
                       extra_headers: tuple[tuple[str, str], ...] = ()) -> SipRequest:
        """An in-dialog request (section 12.2.1.1): ACK and CANCEL reuse a CSeq number, others take the next."""
        if cseq is None:
            self.local_cseq += 1
            cseq = self.local_cseq
        route_set = self.route_set
        routes: list[str] = []  # the usual dialog has no route set
        if route_set and "lr" not in route_set[0].uri.params:
            # Strict routing: the first route becomes the Request-URI, the target goes last in Route.
            uri = route_set[0].uri
            routes = [str(r) for r in route_set[1:]] + [f"<{self.remote_target}>"]
        else:
            uri = self.remote_target
            if route_set:
                routes = [str(r) for r in route_set]
        port = f":{self.via_port}" if self.via_port else ""
        headers: list[tuple[str, str]] = [
            ("Via", own_via(f"SIP/2.0/{self.transport.upper()} {self.via_host}{port}", branch or new_branch())),
            ("Max-Forwards", "70"),
            ("From", str(self.local_uri)),
            ("To", str(self.remote_uri)),
            ("Call-ID", self.call_id),
            ("CSeq", f"{cseq} {method}"),
        ]
        if routes:
            headers += [("Route", route) for route in routes]
        if method in ("INVITE", "UPDATE", "SUBSCRIBE", "REFER", "NOTIFY") and self.local_contact:
            headers.append(("Contact", self.local_contact))
        if extra_headers:
            headers += extra_headers
        if content_type is not None:
            headers.append(("Content-Type", content_type))
        return build_request(method, uri, headers, body)

    def encode_ack(self, cseq: int, extra_headers: tuple[tuple[str, str], ...] = ()) -> bytes:
        """The ACK of a 2xx (section 13.2.2.4) on the wire: the bytes of ``create_request("ACK", cseq=cseq,
        extra_headers=extra_headers).encode()``.

        The usual dialog (no route set, no credentials to repeat) has its ACK written out directly: it is
        sent outside any transaction and never read back, so it needs no message, no header index and
        no parsed Via.  Anything else takes :meth:`create_request`.
        """
        if self.route_set or extra_headers:
            return self.create_request("ACK", cseq=cseq, extra_headers=extra_headers).encode()
        port = f":{self.via_port}" if self.via_port else ""
        return (f"ACK {self.remote_target} SIP/2.0\r\n"
                f"Via: SIP/2.0/{self.transport.upper()} {self.via_host}{port};branch={new_branch()};rport\r\n"
                f"Max-Forwards: 70\r\nFrom: {self.local_uri}\r\nTo: {self.remote_uri}\r\n"
                f"Call-ID: {self.call_id}\r\nCSeq: {cseq} ACK\r\nContent-Length: 0\r\n\r\n"
                ).encode("utf-8", "surrogateescape")


def _is_local(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return any(address.version == network.version and address in network for network in _LOCAL_NETWORKS)


@functools.lru_cache(maxsize=4096)
def _host_is_local(host: str) -> bool | None:
    """Whether the address literal ``host`` lies in a private network; None when it is not an address.
    Cached: a handful of hosts come back on every in-dialog request."""
    try:
        return _is_local(ipaddress.ip_address(host))
    except ValueError:
        return None


def build_request(method: str, uri: SipUri, headers: list[tuple[str, str]], body: bytes) -> SipRequest:
    """A request from its parts (Content-Length is computed when it is encoded)."""
    return SipRequest(method, uri, Headers(headers), body)
