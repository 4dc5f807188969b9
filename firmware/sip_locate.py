"""Trunk servers from the configuration to addresses the SIP core can send to (RFC 3263 over asyncio).

``servers = ["sip.provider.example"]`` (a name without a port) is looked up as an SRV record with the
resolver of ``/etc/resolv.conf``; the targets, or the name itself when there is no SRV record, are
resolved to addresses with the system resolver (``/etc/hosts`` included).  Addresses and names with a
port skip SRV.  This happens at start-up: a name that cannot be resolved is reported and left out (the
trunk keeps its other servers), never sent to from the event loop, where resolving would block.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path

from core.sip.dns import DnsError, is_address, needs_srv, order_targets, parse_srv_response, srv_name, srv_query

log = logging.getLogger("centralita.sip")

Address = tuple[str, int]

DNS_TIMEOUT = 2.0


def split_server(text: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` -> (host, port or None)."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, int(port)
    return text, None


def nameservers(resolv_conf: Path = Path("/etc/resolv.conf")) -> list[Address]:
    """The ``nameserver`` lines of resolv.conf, port 53 (empty when it cannot be read)."""
    try:
        lines = resolv_conf.read_text().splitlines()
    except OSError:
        return []
    found: list[Address] = []
    for line in lines:
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver":
            found.append((words[1], 53))
    return found


async def query_srv(name: str, servers: list[Address], timeout: float = DNS_TIMEOUT) -> list[tuple[str, int]]:
    """The SRV targets of ``name`` in the order to try, asking each nameserver in turn; [] if none."""
    loop = asyncio.get_running_loop()
    for server in servers:
        ident, message = srv_query(name)
        family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, server)
            await loop.sock_sendall(sock, message)
            data = await asyncio.wait_for(loop.sock_recv(sock, 4096), timeout)
            return order_targets(parse_srv_response(data, ident))
        except (OSError, asyncio.TimeoutError, DnsError) as exc:
            log.debug("SRV %s from %s: %s", name, server, exc)
        finally:
            sock.close()
    return []


async def addresses_of(host: str, port: int) -> list[Address]:
    """Every address of ``host`` (IPv4 first), with ``port``."""
    if is_address(host):
        return [(host.strip("[]"), port)]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except OSError as exc:
        log.warning("cannot resolve %s: %s", host, exc)
        return []
    found: list[Address] = []
    for family, _type, _proto, _name, sockaddr in sorted(infos, key=lambda info: info[0] != socket.AF_INET):
        address = (str(sockaddr[0]), int(sockaddr[1]))
        if family in (socket.AF_INET, socket.AF_INET6) and address not in found:
            found.append(address)
    return found


async def locate(server: str, transport: str, resolvers: list[Address] | None = None) -> list[Address]:
    """The addresses to try for one configured server, in order (RFC 3263 §4.2)."""
    host, port = split_server(server)
    if needs_srv(host, port):
        targets = await query_srv(srv_name(host, transport), nameservers() if resolvers is None else resolvers)
        if targets:
            found: list[Address] = []
            for target, target_port in targets:
                for address in await addresses_of(target, target_port):
                    if address not in found:
                        found.append(address)
            if found:
                return found
    return await addresses_of(host, port or 5060)


async def locate_all(servers: list[str], transport: str, resolvers: list[Address] | None = None
                     ) -> list[Address]:
    """Every configured server located, in the configured order, without duplicates."""
    found: list[Address] = []
    for server in servers:
        addresses = await locate(server, transport, resolvers)
        if not addresses:
            log.warning("trunk server %s cannot be resolved: left out", server)
        for address in addresses:
            if address not in found:
                found.append(address)
    return found


__all__ = ["addresses_of", "locate", "locate_all", "nameservers", "query_srv", "split_server"]
