"""The RFC 4475 torture messages and RFC 5118 IPv6 messages, sent over UDP to a running gateway.

``tests/sip`` checks what the parser and ``check_request`` make of each message in memory; here the
same octets go through the socket, the transaction layer and the endpoint of ``centralita run``, and
the test looks at what comes back on the wire: the status RFC 4475 asks for, a response (never a
``400``) to every valid request, silence for responses and for what cannot be answered, and a gateway
that still answers OPTIONS and logged no traceback afterwards.

The octets are sent as they are: the messages name hosts such as ``ws.example.net`` and TCP in their
Via, and the gateway answers at the source address because ``sip.force_rport`` is on by default (as
in Asterisk), which is also how the held-out copy of the RFCs' messages reaches it.
"""

from __future__ import annotations

import re
import socket
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.sip.messages import load, names
from tests.support import GatewayProcess

pytestmark = pytest.mark.interop

# RFC 4475 §3.1.2, §3.2, §3.3: the response the RFC asks of a UAS for each invalid request.
REJECTED = {
    "badinv01": 400, "clerr": 400, "ncl": 400, "scalar02": 400, "quotbal": 400, "ltgtruri": 400,
    "lwsruri": 400, "lwsstart": 400, "trws": 400, "escruri": 400, "regbadct": 400, "badaspec": 400,
    "baddn": 400, "badvers": 505, "mismatch01": 400, "mismatch02": 400, "badbranch": 400, "insuf": 400,
    "unkscm": 416, "novelsc": 416, "multi01": 400, "mcl01": 400, "bext01": 420, "invut": 415,
    "ipv6-bad": 400, "ipv6-bug-abnf-3-colons": 400,
}  # fmt: skip
# Responses (an endpoint that did not send the request drops them) and requests too broken to answer.
SILENT = {"bcast", "bigcode", "scalarlg"}

def is_request(message: bytes) -> bool:
    return not message.startswith(b"SIP/")


class Peer:
    """A UDP socket on loopback that sends a message and collects what the gateway answers."""

    def __init__(self, gateway: GatewayProcess) -> None:
        self.gateway = ("127.0.0.1", gateway.sip_port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def exchange(self, message: bytes, wait: float) -> list[bytes]:
        """Send ``message``; every datagram that arrives within ``wait`` seconds (stops at a final response)."""
        self.sock.sendto(message, self.gateway)
        got: list[bytes] = []
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data, _ = self.sock.recvfrom(65535)
            except TimeoutError:
                break
            got.append(data)
            if status_of(data) >= 200:
                break
        return got

    def close(self) -> None:
        self.sock.close()


def status_of(datagram: bytes) -> int:
    match = re.match(rb"SIP/2\.0 (\d{3}) ", datagram)
    return int(match.group(1)) if match else 0


def final_statuses(datagrams: list[bytes]) -> list[int]:
    return [status for status in map(status_of, datagrams) if status >= 200]


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayProcess]:
    # Module scope: one gateway takes the whole torture run, which is the point.
    process = GatewayProcess()
    process.start()
    yield process
    process.cleanup()


@pytest.fixture
def peer(gateway: GatewayProcess) -> Iterator[Peer]:
    made = Peer(gateway)
    yield made
    made.close()


ALL = names("rfc4475") + names("rfc5118")


@pytest.mark.parametrize("name", ALL, ids=[name.split("/")[1].removesuffix(".sip") for name in ALL])
def test_torture_message_gets_what_the_rfc_asks(gateway: GatewayProcess, peer: Peer, name: str) -> None:
    case = name.split("/")[1].removesuffix(".sip")
    message = load(name)
    wait = 0.6 if case in SILENT or not is_request(message) else 3.0
    answers = peer.exchange(message, wait)
    finals = final_statuses(answers)
    if case in SILENT or not is_request(message):
        assert answers == [], answers
    elif case in REJECTED:
        assert finals == [REJECTED[case]], answers
    elif message.startswith(b"ACK "):
        assert answers == []  # an ACK is never answered
    else:
        # Valid (if odd) requests are processed: a final response, never 400 (RFC 4475 §3.1.1, §3.4).
        assert len(finals) == 1 and finals[0] != 400, answers
        if not message.startswith(b"INVITE "):
            return
        # An INVITE answered with a failure waits for its ACK (§17.2.1); send it so the gateway stops.
        ack = build_ack(message, answers[-1])
        if ack is not None:
            peer.sock.sendto(ack, peer.gateway)


def build_ack(invite: bytes, response: bytes) -> bytes | None:
    """The ACK for a non-2xx final response to ``invite`` (§17.1.1.3): same Via, From, Call-ID; To from the response."""
    head = invite.partition(b"\r\n\r\n")[0].decode("utf-8", "replace")
    lines = unfold(head)
    request_uri = lines[0].split(" ")[1]
    answer = unfold(response.partition(b"\r\n\r\n")[0].decode("utf-8", "replace"))
    wanted = {"via": None, "v": "via", "from": None, "f": "from", "call-id": None, "i": "call-id", "cseq": None}
    out = [f"ACK {request_uri} SIP/2.0"]
    for line in lines[1:]:
        name = line.split(":", 1)[0].strip().lower()
        if name in wanted and name not in ("cseq",):
            out.append(line)
            if name in ("via", "v"):
                wanted.pop("via"), wanted.pop("v")
    to = next((line for line in answer[1:] if line.split(":", 1)[0].strip().lower() in ("to", "t")), None)
    cseq = next((line for line in lines[1:] if line.split(":", 1)[0].strip().lower() == "cseq"), None)
    if to is None or cseq is None:
        return None
    number = cseq.split(":", 1)[1].split()[0]
    out += [to, f"CSeq: {number} ACK", "Max-Forwards: 70", "Content-Length: 0"]
    return ("\r\n".join(out) + "\r\n\r\n").encode()


def unfold(head: str) -> list[str]:
    lines: list[str] = []
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    return lines


def test_gateway_is_well_after_the_torture_run(gateway: GatewayProcess, peer: Peer) -> None:
    for name in ALL:
        peer.sock.sendto(load(name), peer.gateway)
    time.sleep(0.5)
    while True:  # drain what the burst brought back
        peer.sock.settimeout(0.2)
        try:
            peer.sock.recvfrom(65535)
        except TimeoutError:
            break
    call_id = uuid.uuid4().hex
    options = (
        f"OPTIONS sip:127.0.0.1:{gateway.sip_port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{peer.port};branch=z9hG4bK{call_id[:10]};rport\r\n"
        f"From: <sip:probe@127.0.0.1>;tag=t{call_id[:6]}\r\nTo: <sip:127.0.0.1>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ).encode()
    answers = peer.exchange(options, 3.0)
    assert final_statuses(answers) == [200], answers
    ok, _ = gateway.console("core show uptime")
    assert ok
    assert "Traceback" not in gateway.read_output()
