"""The asyncio shell of the SIP endpoint on a loopback UDP socket: a burst of requests that arrives while
the gateway is busy (a registration storm, a collector pause) is queued by the kernel and answered, not
dropped to come back as retransmissions; the registrations that one read takes are committed together."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from core.sip.endpoint import SipEndpoint
from core.sip.message import SipResponse, parse_message
from core.sip.registrar import LocationService
from core.sip.registrar_store import BindingRecord, MemoryBindingStore, SqliteBindingStore
from core.sip.settings import EndpointSettings, SipUserSettings
from core.sip.transport import SipTransport
from core.udp_shell import RECEIVE_BUFFER, deepen_receive_buffer
from tests.sip.endpoint_harness import authorization, pick_challenge
from tests.support import free_port

BURST = 1000  # 1,000 OPTIONS of about 330 bytes: Linux's default receive buffer holds fewer than 280


def _rmem_max() -> int:
    try:
        with open("/proc/sys/net/core/rmem_max") as f:
            return int(f.read())
    except OSError:
        return 0


def _options(port: int, client_port: int, i: int) -> bytes:
    return (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{client_port};branch=z9hG4bK-burst-{i}\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:probe@127.0.0.1>;tag=burst{i}\r\n"
            f"To: <sip:127.0.0.1:{port}>\r\n"
            f"Call-ID: burst-{i}@127.0.0.1\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n").encode()


@pytest.mark.skipif(os.geteuid() != 0 and _rmem_max() < RECEIVE_BUFFER // 2,
                    reason="needs root (CAP_NET_ADMIN) or net.core.rmem_max >= 1 MiB for the deeper buffer")
async def test_a_burst_sent_while_the_gateway_is_busy_is_answered_in_full() -> None:
    port = free_port()
    endpoint = SipEndpoint(EndpointSettings(host="127.0.0.1", port=port, requests_per_second=1e6,
                                            request_burst=10 * BURST),
                           LocationService(MemoryBindingStore()))
    transport = SipTransport(endpoint, lambda: None)
    await transport.start("127.0.0.1", port, tcp=False)
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind(("127.0.0.1", 0))
    client.setblocking(False)
    deepen_receive_buffer(client)  # the answers come back as a burst too
    answered: set[bytes] = set()
    try:
        client_port = client.getsockname()[1]
        # The event loop does not run while this sends: the gateway is as busy as it can be.
        for i in range(BURST):
            client.sendto(_options(port, client_port, i), ("127.0.0.1", port))
        for _ in range(200):
            await asyncio.sleep(0.02)
            while True:
                try:
                    data = client.recv(65535)
                except BlockingIOError:
                    break
                if data.startswith(b"SIP/2.0 200 "):
                    answered.add(data.split(b"branch=", 1)[1].split(b"\r\n", 1)[0])
            if len(answered) == BURST:
                break
        assert len(answered) == BURST, f"{BURST - len(answered)} of {BURST} OPTIONS were dropped"
    finally:
        client.close()
        await transport.stop()


class CountingStore(SqliteBindingStore):
    """The SQLite store, counting the transactions that reached the disk."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.commits = 0

    def apply(self, upserts: Sequence[BindingRecord], deletes: Sequence[str]) -> None:
        if not self._batch:
            self.commits += 1  # outside a batch every apply is its own transaction
        super().apply(upserts, deletes)

    def end_batch(self) -> bool:
        self.commits += self._batch_open
        return super().end_batch()


def _register(port: int, client_port: int, user: str, cseq: int, authorization: str | None = None) -> bytes:
    return (f"REGISTER sip:127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{client_port};branch=z9hG4bK-reg-{user}-{cseq}\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:{user}@127.0.0.1>;tag=reg{user}\r\n"
            f"To: <sip:{user}@127.0.0.1>\r\n"
            f"Call-ID: reg-{user}@127.0.0.1\r\n"
            f"CSeq: {cseq} REGISTER\r\n"
            f"Contact: <sip:{user}@127.0.0.1:{client_port}>\r\n"
            + (f"Authorization: {authorization}\r\n" if authorization else "")
            + "Expires: 600\r\nContent-Length: 0\r\n\r\n").encode()


async def _answers(client: socket.socket, count: int) -> list[SipResponse]:
    answers: list[SipResponse] = []
    for _ in range(250):
        await asyncio.sleep(0.02)
        while True:
            try:
                message = parse_message(client.recv(65535))
            except BlockingIOError:
                break
            assert isinstance(message, SipResponse)
            answers.append(message)
        if len(answers) >= count:
            break
    return answers


async def test_registrations_that_arrive_together_are_answered_after_one_commit(tmp_path: Path) -> None:
    users = [SipUserSettings(name=str(2000 + n), secret=f"secret-{n}", context="internal") for n in range(10)]
    port = free_port()
    path = tmp_path / "registrations.sqlite"
    store = CountingStore(path)
    endpoint = SipEndpoint(EndpointSettings(host="127.0.0.1", port=port, users=tuple(users)),
                           LocationService(store))
    transport = SipTransport(endpoint, lambda: None)
    await transport.start("127.0.0.1", port, tcp=False)
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind(("127.0.0.1", 0))
    client.setblocking(False)
    try:
        client_port = client.getsockname()[1]
        for user in users:
            client.sendto(_register(port, client_port, user.name, 1), ("127.0.0.1", port))
        challenges = await _answers(client, len(users))
        assert sorted(c.status for c in challenges) == [401] * len(users)
        # The ten answers to the challenges are sent while the event loop does not run: one read takes them all.
        for challenge in challenges:
            user = next(u for u in users if u.name == challenge.to.uri.user)
            credentials = authorization(pick_challenge(challenge, "MD5"), method="REGISTER",
                                        uri=f"sip:127.0.0.1:{port}", username=user.name, password=user.secret)
            client.sendto(_register(port, client_port, user.name, 2, credentials), ("127.0.0.1", port))
        answers = await _answers(client, len(users))
        assert sorted(a.status for a in answers) == [200] * len(users)
        reader = sqlite3.connect(path)
        assert sorted(row[0] for row in reader.execute("SELECT aor FROM sip_bindings")) == [u.name for u in users]
        reader.close()
        assert store.commits == 1  # ten registrations, one transaction on disk
    finally:
        client.close()
        await transport.stop()
        store.close()
