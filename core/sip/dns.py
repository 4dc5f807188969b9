"""Locating SIP servers (RFC 3263 §4): DNS SRV queries and answers, sans-IO, and the order to try them.

A trunk server written as a bare host name (no port, not an address) is looked up as
``_sip._udp.<name>`` (``_sip._tcp`` over TCP); the targets are tried by priority, and within a priority
by weight (RFC 2782: higher weight first; the random weighting is left out so the order is stable and
testable).  A name with no SRV record is used as it is, port 5060 (§4.2).  NAPTR (§4.1) is not
consulted: the transport is configured per trunk.  The asyncio shell sends :func:`srv_query` to the
resolver of ``/etc/resolv.conf`` and resolves the targets' addresses with the system resolver.
"""

from __future__ import annotations

import ipaddress
import secrets
import struct
from dataclasses import dataclass

TYPE_SRV = 33
CLASS_IN = 1


class DnsError(ValueError):
    """A DNS message that cannot be read; ``offset`` is where reading stopped."""

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(f"{reason} at offset {offset}")
        self.reason = reason
        self.offset = offset


@dataclass(frozen=True, slots=True)
class SrvRecord:
    """One SRV answer (RFC 2782)."""

    priority: int
    weight: int
    port: int
    target: str


def is_address(host: str) -> bool:
    """True for an IPv4 or IPv6 address literal (brackets allowed)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def needs_srv(host: str, port: int | None) -> bool:
    """RFC 3263 §4.2: only a name without an explicit port is looked up with SRV."""
    return port is None and not is_address(host)


def srv_name(host: str, transport: str) -> str:
    """``_sip._udp.example.com`` for ``example.com`` over UDP."""
    return f"_sip._{transport.lower()}.{host.rstrip('.')}"


def srv_query(name: str, query_id: int | None = None) -> tuple[int, bytes]:
    """A recursive query for the SRV records of ``name`` (RFC 1035 §4.1): (id, message)."""
    ident = secrets.randbelow(65536) if query_id is None else query_id
    header = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0)  # RD set, one question
    return ident, header + _encode_name(name) + struct.pack("!HH", TYPE_SRV, CLASS_IN)


def parse_srv_response(data: bytes, query_id: int) -> list[SrvRecord]:
    """The SRV records of an answer to query ``query_id``; empty for NXDOMAIN/no data; DnsError if
    the message is not a well-formed answer to that query."""
    if len(data) < 12:
        raise DnsError("short header", len(data))
    ident, flags, questions, answers, _ns, _ar = struct.unpack_from("!HHHHHH", data, 0)
    if ident != query_id:
        raise DnsError("answer to another query", 0)
    if not flags & 0x8000:
        raise DnsError("not a response", 2)
    rcode = flags & 0x000F
    if rcode == 3:          # NXDOMAIN
        return []
    if rcode != 0:
        raise DnsError(f"server failure (rcode {rcode})", 3)
    offset = 12
    for _ in range(questions):
        _name, offset = _read_name(data, offset)
        offset += 4
    records: list[SrvRecord] = []
    for _ in range(answers):
        _name, offset = _read_name(data, offset)
        if offset + 10 > len(data):
            raise DnsError("short resource record", offset)
        rtype, _rclass, _ttl, length = struct.unpack_from("!HHIH", data, offset)
        offset += 10
        end = offset + length
        if end > len(data):
            raise DnsError("resource data overruns the message", offset)
        if rtype == TYPE_SRV:
            if length < 7:
                raise DnsError("short SRV data", offset)
            priority, weight, port = struct.unpack_from("!HHH", data, offset)
            target, _ = _read_name(data, offset + 6)
            if target not in ("", "."):  # "." means: no service here (RFC 2782)
                records.append(SrvRecord(priority, weight, port, target.rstrip(".")))
        offset = end
    return records


def order_targets(records: list[SrvRecord]) -> list[tuple[str, int]]:
    """(target, port) in the order to try: lowest priority first, then highest weight (stable)."""
    ranked = sorted(records, key=lambda r: (r.priority, -r.weight))
    return [(r.target, r.port) for r in ranked]


def _encode_name(name: str) -> bytes:
    out = bytearray()
    for label in name.rstrip(".").split("."):
        raw = label.encode("idna") if label else b""
        if not raw or len(raw) > 63:
            raise DnsError(f"bad label {label!r}", 0)
        out += bytes([len(raw)]) + raw
    return bytes(out) + b"\x00"


def _read_name(data: bytes, offset: int) -> tuple[str, int]:
    """A possibly compressed name (RFC 1035 §4.1.4) at ``offset``; returns it and the offset after it."""
    labels: list[str] = []
    end: int | None = None
    jumps = 0
    while True:
        if offset >= len(data):
            raise DnsError("name runs past the message", offset)
        length = data[offset]
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(data):
                raise DnsError("truncated pointer", offset)
            jumps += 1
            if jumps > 32:
                raise DnsError("pointer loop", offset)
            if end is None:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | data[offset + 1]
            continue
        if length & 0xC0:
            raise DnsError("bad label type", offset)
        offset += 1
        if length == 0:
            break
        if offset + length > len(data):
            raise DnsError("label runs past the message", offset)
        labels.append(data[offset:offset + length].decode("ascii", "replace"))
        offset += length
    return ".".join(labels), end if end is not None else offset


__all__ = ["DnsError", "SrvRecord", "is_address", "needs_srv", "order_targets", "parse_srv_response",
           "srv_name", "srv_query"]
