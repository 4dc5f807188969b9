"""The asyncio shell of the SIP endpoint on a loopback UDP socket: a burst of requests that arrives while
the gateway is busy (a registration storm, a collector pause) is queued by the kernel and answered, not
dropped to come back as retransmissions."""

from __future__ import annotations

import asyncio
import os
import socket

import pytest

from core.sip.endpoint import SipEndpoint
from core.sip.registrar import LocationService
from core.sip.registrar_store import MemoryBindingStore
from core.sip.settings import EndpointSettings
from core.sip.transport import SipTransport
from core.udp_shell import RECEIVE_BUFFER, deepen_receive_buffer
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
