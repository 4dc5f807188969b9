"""Tests of the IAX2 stack, and the in-memory network they share (no sockets, a fake clock).

:class:`Network` wires IAX2 endpoints together aioquic-style: every datagram an endpoint wants to send is
delivered to the endpoint at its destination address (after an optional ``filter`` that may drop or
rewrite it), timers fire as the fake clock is advanced, and everything sent is recorded for assertions.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from core.iax2.endpoint import IaxEndpoint, IaxEndpointSettings
from core.iax2.frames import Frame, parse_datagram

Address = tuple[str, int]

A: Address = ("192.0.2.1", 4569)
B: Address = ("192.0.2.2", 4569)
WALL = datetime(2026, 11, 26, 12, 30, 44, tzinfo=timezone.utc)


@dataclass
class Sent:
    """One datagram on the simulated wire."""

    time: float
    source: Address
    destination: Address
    data: bytes

    def frame(self) -> Frame:
        return parse_datagram(self.data)


Filter = Callable[[Sent], bytes | None]


@dataclass
class Network:
    """Endpoints by address, a clock, and the wire."""

    now: float = 1000.0
    endpoints: dict[Address, IaxEndpoint] = field(default_factory=dict)
    wire: list[Sent] = field(default_factory=list)
    filter: Filter | None = None
    outside: list[Sent] = field(default_factory=list)

    def add(self, address: Address, settings: IaxEndpointSettings, seed: int = 1, **kwargs: object) -> IaxEndpoint:
        endpoint = IaxEndpoint(settings, rng=random.Random(seed), wallclock=lambda: WALL, **kwargs)  # type: ignore[arg-type]
        self.endpoints[address] = endpoint
        return endpoint

    def address_of(self, endpoint: IaxEndpoint) -> Address:
        return next(addr for addr, ep in self.endpoints.items() if ep is endpoint)

    def pump(self, rounds: int = 100) -> None:
        """Deliver everything queued (and what that produces) at the current time."""
        for _ in range(rounds):
            moved = False
            for address, endpoint in list(self.endpoints.items()):
                for data, destination in endpoint.datagrams_to_send():
                    moved = True
                    sent = Sent(self.now, address, destination, data)
                    self.wire.append(sent)
                    if self.filter is not None:
                        filtered = self.filter(sent)
                        if filtered is None:
                            continue
                        sent = Sent(sent.time, sent.source, sent.destination, filtered)
                    target = self.endpoints.get(destination)
                    if target is None:
                        self.outside.append(sent)
                    else:
                        target.receive_datagram(sent.data, address, self.now)
            if not moved:
                return

    def advance(self, seconds: float, step: float | None = None) -> None:
        """Move the clock forward, firing timers in order and pumping after each."""
        end = self.now + seconds
        while True:
            deadlines = [d for d in (ep.get_timer() for ep in self.endpoints.values()) if d is not None]
            upcoming = min(deadlines) if deadlines else None
            if step is not None:
                target = min(self.now + step, end)
                if upcoming is not None and upcoming < target:
                    target = max(upcoming, self.now)
            else:
                target = end if upcoming is None or upcoming > end else max(upcoming, self.now)
            self.now = target
            for endpoint in self.endpoints.values():
                endpoint.handle_timer(self.now)
            self.pump()
            if self.now >= end:
                return

    def events(self, endpoint: IaxEndpoint) -> list[object]:
        out: list[object] = []
        while (event := endpoint.next_event()) is not None:
            out.append(event)
        return out

    def frames_between(self, source: Address, destination: Address) -> list[Frame]:
        return [s.frame() for s in self.wire if s.source == source and s.destination == destination]


def of_type(events: Iterable[object], kind: type) -> list[object]:
    return [e for e in events if isinstance(e, kind)]
