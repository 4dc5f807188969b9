"""The asyncio shell: two endpoints on loopback UDP sockets place a call, exchange voice through the real
event loop and timers, and refuse a port already in use with a one-line reason."""

from __future__ import annotations

import asyncio

import pytest

from core.iax2.calls import CallAnswered, CallHungUp, IncomingCall, VoiceReceived
from core.iax2.endpoint import IaxEndpoint, IaxEndpointSettings, IaxPeerSettings, IaxUserSettings
from core.iax2.transport import IaxTransport, TransportError
from tests.support import free_port


async def test_call_over_loopback_udp() -> None:
    port_a, port_b = free_port(), free_port()
    a = IaxEndpoint(IaxEndpointSettings(port=port_a, peers=(IaxPeerSettings(
        "b", host="127.0.0.1", port=port_b, username="alice", secret="pw"),)))
    b = IaxEndpoint(IaxEndpointSettings(port=port_b, users=(IaxUserSettings("alice", secret="pw"),)))
    seen_a: list[object] = []
    seen_b: list[object] = []

    def drain_a() -> None:
        while (event := a.next_event()) is not None:
            seen_a.append(event)

    def drain_b() -> None:
        while (event := b.next_event()) is not None:
            seen_b.append(event)
            if isinstance(event, IncomingCall):
                b.answer(event.call, transport_b.now())

    taps: list[tuple[bytes, bool]] = []
    transport_a = IaxTransport(a, drain_a, tap=lambda data, _peer, sent: taps.append((data, sent)))
    transport_b = IaxTransport(b, drain_b)
    await transport_a.start("127.0.0.1", port_a)
    await transport_b.start("127.0.0.1", port_b)
    try:
        call = a.call("b", "600", transport_a.now())
        transport_a.flush()
        for _ in range(100):
            if any(isinstance(e, CallAnswered) for e in seen_a):
                break
            await asyncio.sleep(0.01)
        assert any(isinstance(e, CallAnswered) for e in seen_a)
        for _ in range(5):
            a.send_voice(call, b"\x00" * 160, transport_a.now())
            transport_a.flush()
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.05)
        assert len([e for e in seen_b if isinstance(e, VoiceReceived)]) == 5
        other = next(e for e in seen_b if isinstance(e, IncomingCall))
        b.hangup(other.call, transport_b.now())
        transport_b.flush()
        for _ in range(100):
            if any(isinstance(e, CallHungUp) for e in seen_a):
                break
            await asyncio.sleep(0.01)
        assert any(isinstance(e, CallHungUp) for e in seen_a)
        assert any(sent for _, sent in taps) and any(not sent for _, sent in taps)
        assert a.get_timer() is None or a.get_timer() > transport_a.now()  # type: ignore[operator]
    finally:
        await transport_a.stop()
        await transport_b.stop()


async def test_port_in_use_is_a_one_line_error() -> None:
    port = free_port()
    first = IaxTransport(IaxEndpoint(IaxEndpointSettings()), lambda: None)
    await first.start("127.0.0.1", port)
    try:
        second = IaxTransport(IaxEndpoint(IaxEndpointSettings()), lambda: None)
        with pytest.raises(TransportError, match=f"cannot bind udp 127.0.0.1:{port}: address already in use"):
            await second.start("127.0.0.1", port)
    finally:
        await first.stop()
