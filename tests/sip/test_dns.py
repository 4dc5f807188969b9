"""Locating trunk servers (RFC 3263 §4.2, RFC 2782 SRV, RFC 1035 messages): the sans-IO DNS code and the
shell asking a DNS server on loopback."""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest

from core.sip.dns import (
    DnsError,
    SrvRecord,
    needs_srv,
    order_targets,
    parse_srv_response,
    srv_name,
    srv_query,
)
from firmware.sip_locate import locate, locate_all, nameservers, split_server


def name(text: str) -> bytes:
    return b"".join(bytes([len(label)]) + label.encode() for label in text.split(".")) + b"\x00"


def answer(query: bytes, records: list[tuple[int, int, int, str]], *, rcode: int = 0, compress: bool = True) -> bytes:
    """A response to ``query`` carrying SRV ``records`` (priority, weight, port, target)."""
    ident = struct.unpack_from("!H", query)[0]
    question = query[12:]
    out = struct.pack("!HHHHHH", ident, 0x8180 | rcode, 1, len(records), 0, 0) + question
    for priority, weight, port, target in records:
        owner = b"\xc0\x0c" if compress else name(question_name(query))
        data = struct.pack("!HHH", priority, weight, port) + name(target)
        out += owner + struct.pack("!HHIH", 33, 1, 300, len(data)) + data
    return out


def question_name(query: bytes) -> str:
    labels, offset = [], 12
    while query[offset]:
        length = query[offset]
        labels.append(query[offset + 1:offset + 1 + length].decode())
        offset += 1 + length
    return ".".join(labels)


def test_query_asks_for_srv_in_class_in_with_recursion() -> None:
    ident, query = srv_query("_sip._udp.provider.example", query_id=0x1234)
    assert ident == 0x1234
    assert query[:12] == struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    assert query[12:] == name("_sip._udp.provider.example") + struct.pack("!HH", 33, 1)


@pytest.mark.parametrize("compress", [True, False], ids=["compressed owner", "plain owner"])
def test_answer_records_in_the_order_to_try(compress: bool) -> None:
    ident, query = srv_query("_sip._udp.provider.example", 7)
    data = answer(query, [(20, 0, 5060, "backup.provider.example"), (10, 10, 5070, "b.provider.example"),
                          (10, 60, 5080, "a.provider.example")], compress=compress)
    records = parse_srv_response(data, 7)
    assert records[0] == SrvRecord(20, 0, 5060, "backup.provider.example")
    # RFC 2782: lowest priority first; within it the heavier weight first.
    assert order_targets(records) == [("a.provider.example", 5080), ("b.provider.example", 5070),
                                      ("backup.provider.example", 5060)]


def test_nxdomain_and_the_dot_target_mean_no_records() -> None:
    _, query = srv_query("_sip._udp.nowhere.example", 9)
    assert parse_srv_response(answer(query, [], rcode=3), 9) == []
    # RFC 2782: a target of "." says the service is decidedly not available at this domain.
    dot = answer(query, [(0, 0, 0, "x")]).replace(name("x"), b"\x00")
    dot = dot[:-9] + struct.pack("!H", 7) + dot[-7:]  # fix RDLENGTH for the shorter target
    assert parse_srv_response(dot, 9) == []


@pytest.mark.parametrize("mutate, reason", [
    (lambda d: d[:8], "short header"),
    (lambda d: b"\x00\x01" + d[2:], "answer to another query"),
    (lambda d: d[:2] + b"\x01\x00" + d[4:], "not a response"),
    (lambda d: d[:3] + bytes([d[3] | 2]) + d[4:], "server failure"),
    (lambda d: d[:-3], "resource data overruns the message"),
])
def test_malformed_answers_raise(mutate: object, reason: str) -> None:
    _, query = srv_query("_sip._udp.provider.example", 5)
    data = answer(query, [(10, 0, 5060, "a.provider.example")])
    with pytest.raises(DnsError, match=reason):
        parse_srv_response(mutate(data), 5)  # type: ignore[operator]


def test_pointer_loops_are_refused() -> None:
    looped = struct.pack("!HHHHHH", 5, 0x8180, 0, 1, 0, 0) + b"\xc0\x0c" + b"\x00" * 10
    with pytest.raises(DnsError, match="pointer loop"):
        parse_srv_response(looped, 5)


@pytest.mark.parametrize("server, expected, srv", [
    ("provider.example", ("provider.example", None), True),
    ("provider.example:5080", ("provider.example", 5080), False),
    ("192.0.2.10", ("192.0.2.10", None), False),
    ("[2001:db8::1]:5062", ("2001:db8::1", 5062), False),
    ("[2001:db8::1]", ("2001:db8::1", None), False),
])
def test_only_names_without_a_port_use_srv(server: str, expected: tuple[str, int | None], srv: bool) -> None:
    assert split_server(server) == expected
    assert needs_srv(*expected) is srv
    assert srv_name("provider.example", "udp") == "_sip._udp.provider.example"


class FakeDns(asyncio.DatagramProtocol):
    """A DNS server on loopback with SRV records for _sip._udp.provider.test."""

    def __init__(self, records: dict[str, list[tuple[int, int, int, str]]]) -> None:
        self.records = records
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        wanted = question_name(data)
        found = self.records.get(wanted)
        assert self.transport is not None
        self.transport.sendto(answer(data, found or [], rcode=0 if found else 3), addr)


async def test_locate_follows_srv_to_addresses_and_falls_back_to_the_name() -> None:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: FakeDns({"_sip._udp.provider.test": [(20, 0, 5099, "localhost"), (10, 0, 5070, "localhost")]}),
        local_addr=("127.0.0.1", 0))
    try:
        resolver = [transport.get_extra_info("sockname")[:2]]
        assert (await locate("provider.test", "udp", resolver))[0] == ("127.0.0.1", 5070)
        assert ("127.0.0.1", 5099) in await locate("provider.test", "udp", resolver)
        # No SRV record for this one: the name itself, port 5060 (RFC 3263 §4.2).
        assert (await locate("localhost", "udp", resolver))[0] == ("127.0.0.1", 5060)
        # With a port, no SRV query at all; an address is used as it is.
        assert await locate("127.0.0.2:5080", "udp", resolver) == [("127.0.0.2", 5080)]
        # A name nobody knows is left out; the other servers stay.
        both = await locate_all(["no-such-host.invalid", "127.0.0.2:5080"], "udp", resolver)
        assert both == [("127.0.0.2", 5080)]
    finally:
        transport.close()


async def test_a_silent_resolver_does_not_hang() -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        started = asyncio.get_running_loop().time()
        assert (await locate("localhost", "udp", [silent.getsockname()]))[0] == ("127.0.0.1", 5060)
        assert asyncio.get_running_loop().time() - started < 5
    finally:
        silent.close()


def test_nameservers_from_resolv_conf(tmp_path: object) -> None:
    from pathlib import Path

    conf = Path(str(tmp_path)) / "resolv.conf"
    conf.write_text("# comment\nsearch example\nnameserver 192.0.2.53\nnameserver 2001:db8::53\n")
    assert nameservers(conf) == [("192.0.2.53", 53), ("2001:db8::53", 53)]
    assert nameservers(Path("/nonexistent/resolv.conf")) == []
