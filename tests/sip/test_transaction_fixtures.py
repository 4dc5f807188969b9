"""Builders and a fake-clock driver shared by the transaction tests (no tests here)."""

from __future__ import annotations

from dataclasses import dataclass

from core.sip.message import SipRequest, SipResponse, make_response, parse_message
from core.sip.transaction import (
    Address,
    RequestReceived,
    ServerTransaction,
    Transaction,
    TransactionEvent,
    TransactionLayer,
    TransactionState,
    Transport,
)

UAC: Address = ("192.0.2.10", 5060)
UAS: Address = ("192.0.2.20", 5060)


def request(method: str = "INVITE", *, branch: str | None = "z9hG4bK-inv-1", via: str | None = None,
            transport: str = "UDP", cseq: int = 1, cseq_method: str | None = None, call_id: str = "c1@uac",
            from_tag: str = "ft1", to_tag: str | None = None, uri: str = "sip:2001@192.0.2.20",
            routes: tuple[str, ...] = (), extra: tuple[str, ...] = ()) -> SipRequest:
    """A request as a phone at 192.0.2.10 sends it (parsed from wire text)."""
    if via is None:
        via = f"SIP/2.0/{transport} 192.0.2.10:5060" + (f";branch={branch}" if branch else "")
    to = "<sip:2001@192.0.2.20>" + (f";tag={to_tag}" if to_tag else "")
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: {via}",
        *(f"Route: {route}" for route in routes),
        "Max-Forwards: 70",
        f"From: \"Alice\" <sip:1001@192.0.2.10>;tag={from_tag}",
        f"To: {to}",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {cseq_method or method}",
        "Contact: <sip:1001@192.0.2.10:5060>",
        *extra,
        "Content-Length: 0",
        "",
        "",
    ]
    message = parse_message("\r\n".join(lines).encode())
    assert isinstance(message, SipRequest)
    return message


def reply(to: SipRequest, status: int, *, to_tag: str | None = "uas-tag") -> SipResponse:
    """The UAS's response to ``to`` as it arrives at the UAC (reparsed from its bytes)."""
    response = make_response(to, status, to_tag=to_tag if status != 100 else None)
    parsed = parse_message(response.encode())
    assert isinstance(parsed, SipResponse)
    return parsed


def created(events: list[TransactionEvent]) -> ServerTransaction:
    """The server transaction the single RequestReceived in ``events`` created."""
    assert len(events) == 1 and isinstance(events[0], RequestReceived), events
    return events[0].transaction


def state(transaction: Transaction) -> TransactionState:
    """The transaction's current state (a function, so that type checkers do not narrow it)."""
    return transaction.state


@dataclass
class Sent:
    """One message the layer queued, with the time it was queued."""

    at: float
    data: bytes
    destination: Address
    transport: Transport

    @property
    def message(self) -> SipRequest | SipResponse:
        return parse_message(self.data)

    @property
    def first_line(self) -> str:
        return self.data.split(b"\r\n", 1)[0].decode()


class Clock:
    """Drives one layer with a fake clock and records what it sends and the events it returns."""

    def __init__(self, layer: TransactionLayer, now: float = 0.0) -> None:
        self.layer = layer
        self.now = now
        self.sent: list[Sent] = []
        self.events: list[tuple[float, TransactionEvent]] = []

    def collect(self) -> list[Sent]:
        fresh = [Sent(self.now, data, destination, transport)
                 for data, destination, transport in self.layer.datagrams_to_send()]
        self.sent.extend(fresh)
        return fresh

    def receive(self, message: SipRequest | SipResponse, source: Address = UAC, transport: Transport = "udp",
                *, at: float | None = None) -> list[TransactionEvent]:
        """Deliver ``message`` (re-parsed, as a retransmission would be) at ``at``."""
        if at is not None:
            self.advance(at)
        events = self.layer.receive(parse_message(message.encode()), source, transport, self.now)
        self.events.extend((self.now, event) for event in events)
        self.collect()
        return events

    def advance(self, until: float) -> list[TransactionEvent]:
        """Run every timer up to ``until`` (each at its own deadline), then set the clock to ``until``."""
        events: list[TransactionEvent] = []
        while True:
            deadline = self.layer.get_timer()
            if deadline is None or deadline > until:
                break
            self.now = max(self.now, deadline)
            fired = self.layer.handle_timer(self.now)
            events.extend(fired)
            self.events.extend((self.now, event) for event in fired)
            self.collect()
        self.now = max(self.now, until)
        return events

    def times(self, first_line_start: str) -> list[float]:
        """When messages whose first line starts with ``first_line_start`` went out."""
        return [round(sent.at, 6) for sent in self.sent if sent.first_line.startswith(first_line_start)]
