"""IAX2 against a real peer: iaxmodem (Debian package ``iaxmodem``, libiax2 of 2007) on loopback.

One iaxmodem and one endpoint (:class:`IaxTransport` on a free port) for the module, recorded by tshark on
``lo``.  In order: iaxmodem registers with MD5 (REGREQ, REGAUTH, REGREQ + MD5 RESULT, REGACK); our POKE is
answered; iaxmodem dials us (``ATDT600``): NEW, AUTHREQ/AUTHREP with MD5, ACCEPT, RINGING, ANSWER, u-law
voice both ways as a full frame then mini frames, PING/PONG and LAGRQ/LAGRP both ways, our HANGUP (cause 16)
shows ``NO CARRIER``; after its five-second busy-out we call it: ``RING`` on the pty, ``ATA`` answers, voice
both ways, our HANGUP; SIGTERM makes it send REGREL, which we authenticate and see.  Finally the capture
decodes in Wireshark's IAX2 dissector with nothing malformed.  iaxmodem has no call tokens (its peer entry
says so), no encryption, no trunking and no RSA: those are covered by the in-memory tests.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio

from core.causes import HangupCause
from core.iax2.calls import CallAnswered, CallHungUp, IncomingCall, VoiceReceived
from core.iax2.constants import IaxCommand, InfoElement, MediaFormat
from core.iax2.endpoint import IaxEndpoint, IaxEndpointSettings, IaxPeerSettings
from core.iax2.frames import FullFrame, MiniFrame, parse_datagram
from core.iax2.registration import PeerRegistered, PeerStatus, PeerUnregistered
from core.iax2.transport import IaxTransport
from tests.interop.iax2_tshark import LoopbackCapture, dissect, flagged
from tests.interop.iaxmodem import Iaxmodem
from tests.support import free_port

pytestmark = [pytest.mark.interop, pytest.mark.asyncio(loop_scope="module")]

SILENCE = b"\xff" * 160  # u-law silence, 20 ms


@dataclass
class Session:
    endpoint: IaxEndpoint
    transport: IaxTransport
    modem: Iaxmodem
    capture: LoopbackCapture
    port: int
    events: list[object] = field(default_factory=list)
    wire: list[tuple[bool, bytes]] = field(default_factory=list)
    auto_answer: bool = True

    def frames(self, sent: bool) -> list[FullFrame | MiniFrame]:
        out: list[FullFrame | MiniFrame] = []
        for was_sent, data in self.wire:
            if was_sent == sent:
                frame = parse_datagram(data)
                if isinstance(frame, FullFrame | MiniFrame):
                    out.append(frame)
        return out

    async def until(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}\n--- iaxmodem ---\n{self.modem.log_text()[-3000:]}")
            await asyncio.sleep(0.02)

    def of(self, kind: type) -> list[object]:
        return [e for e in self.events if isinstance(e, kind)]

    def now(self) -> float:
        return self.transport.now()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def session(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Session]:
    workdir = tmp_path_factory.mktemp("iaxmodem")
    port = free_port("127.0.0.1")
    modem = Iaxmodem(workdir, ("127.0.0.1", port))
    capture = LoopbackCapture(workdir / "iax2.pcap", [port, modem.port], free_port("127.0.0.1"))
    capture.start()
    endpoint = IaxEndpoint(IaxEndpointSettings(
        host="127.0.0.1", port=port, ping_interval=0.5, lagrq_interval=0.7,
        peers=(IaxPeerSettings("iaxmodem", secret="password", calltoken=False, context="fax", qualify_ms=2000),)))
    holder: list[Session] = []

    def on_events() -> None:
        while (event := endpoint.next_event()) is not None:
            holder[0].events.append(event)
            if isinstance(event, IncomingCall) and holder[0].auto_answer:
                endpoint.ringing(event.call, transport.now())
                endpoint.answer(event.call, transport.now())

    transport = IaxTransport(endpoint, on_events, tap=lambda data, _peer, sent: holder[0].wire.append((sent, data)))
    state = Session(endpoint, transport, modem, capture, port)
    holder.append(state)
    await transport.start("127.0.0.1", port)
    modem.start()
    try:
        yield state
    finally:
        modem.terminate()
        await transport.stop(release=False)
        capture.stop()


async def test_iaxmodem_registers_with_md5(session: Session) -> None:
    await session.until(lambda: bool(session.of(PeerRegistered)), 10, "iaxmodem's registration")
    registered = session.of(PeerRegistered)[0]
    assert isinstance(registered, PeerRegistered)
    assert registered.peer == "iaxmodem" and registered.address == ("127.0.0.1", session.modem.port)
    received = [f for f in session.frames(False) if isinstance(f, FullFrame)]
    sent = [f for f in session.frames(True) if isinstance(f, FullFrame)]
    regreqs = [f for f in received if f.is_iax(IaxCommand.REGREQ)]
    assert regreqs[0].ies.text(InfoElement.USERNAME) == "iaxmodem" and not regreqs[0].ies.has(InfoElement.MD5_RESULT)
    regauth = next(f for f in sent if f.is_iax(IaxCommand.REGAUTH))
    assert regauth.ies.number(InfoElement.AUTHMETHODS) == 2
    assert len(regreqs[1].ies.text(InfoElement.MD5_RESULT)) == 32
    regack = next(f for f in sent if f.is_iax(IaxCommand.REGACK))
    address = regack.ies.address()
    assert address is not None and (address.host, address.port) == ("127.0.0.1", session.modem.port)
    assert "iaxmodem" in session.endpoint.peers_table()


async def test_poke_is_answered(session: Session) -> None:
    await session.until(lambda: bool(session.of(PeerStatus)), 5, "the qualify POKE's PONG")
    status = session.of(PeerStatus)[0]
    assert isinstance(status, PeerStatus) and status.status.startswith("OK")


async def test_iaxmodem_calls_us_with_md5_and_ulaw_voice(session: Session) -> None:
    modem, endpoint = session.modem, session.endpoint
    modem.send("ATZ")
    await session.until(lambda: modem.consume("OK"), 5, "OK to ATZ")
    modem.send("ATDT600")
    await session.until(lambda: bool(session.of(IncomingCall)), 5, "iaxmodem's NEW")
    incoming = session.of(IncomingCall)[0]
    assert isinstance(incoming, IncomingCall)
    assert incoming.called_number == "600" and incoming.caller.number == "8005551212"
    assert incoming.caller.name == "John Doe" and incoming.format == MediaFormat.ULAW and incoming.context == "fax"
    call = incoming.call
    started = time.monotonic()
    while time.monotonic() - started < 2.6:  # long enough for iaxmodem's own PING at 2 s
        endpoint.send_voice(call, SILENCE, session.now())
        session.transport.flush()
        await asyncio.sleep(0.02)
    voices = [e for e in session.of(VoiceReceived) if isinstance(e, VoiceReceived) and e.call == call]
    assert len(voices) >= 80, f"only {len(voices)} voice frames from iaxmodem"
    assert voices[0].full and not any(v.full for v in voices[1:5])
    assert all(v.format == MediaFormat.ULAW and len(v.payload) == 160 for v in voices)
    steps = [b.timestamp - a.timestamp for a, b in zip(voices, voices[1:], strict=False)]
    assert statistics.median(steps) == 20 and all(step > 0 for step in steps)
    ours = session.endpoint.calls[call]
    assert ours.lag_ms >= 0 and ours.ping_ms >= 0
    endpoint.hangup(call, session.now())
    session.transport.flush()
    await session.until(lambda: modem.seen("NO CARRIER"), 5, "NO CARRIER after our HANGUP")
    await session.until(lambda: call not in endpoint.calls, 5, "the ACK of our HANGUP")
    received = [f for f in session.frames(False) if isinstance(f, FullFrame)]
    assert any(f.is_iax(IaxCommand.AUTHREP) and f.ies.text(InfoElement.MD5_RESULT) for f in received)
    assert any(f.is_iax(IaxCommand.PONG) for f in received) and any(f.is_iax(IaxCommand.LAGRP) for f in received)
    assert any(f.is_iax(IaxCommand.PING) for f in received)  # iaxmodem pings too; we answered PONG
    sent = session.frames(True)
    assert any(isinstance(f, FullFrame) and f.is_iax(IaxCommand.PONG) for f in sent)
    assert sum(1 for f in sent if isinstance(f, MiniFrame)) > 50
    assert sum(1 for f in session.frames(False) if isinstance(f, MiniFrame)) > 50


async def test_we_call_iaxmodem_it_rings_and_answers(session: Session) -> None:
    modem, endpoint = session.modem, session.endpoint
    await asyncio.sleep(5.5)  # iaxmodem busies out for five seconds after a hang-up
    modem.consume("NO CARRIER")
    before = len(session.events)
    call = endpoint.call("iaxmodem", "5551234", session.now())
    session.transport.flush()
    await session.until(lambda: modem.seen("RING"), 5, "RING on the modem's pty")
    modem.send("ATA")
    await session.until(lambda: any(isinstance(e, CallAnswered) for e in session.events[before:]), 5,
                        "the modem's ANSWER")
    for _ in range(50):
        endpoint.send_voice(call, SILENCE, session.now())
        session.transport.flush()
        await asyncio.sleep(0.02)
    voices = [e for e in session.events[before:] if isinstance(e, VoiceReceived) and e.call == call]
    assert len(voices) >= 30 and voices[0].full
    endpoint.hangup(call, session.now(), HangupCause.NORMAL_CLEARING)
    session.transport.flush()
    await session.until(lambda: call not in endpoint.calls, 5, "the ACK of our HANGUP")
    new = next(f for f in session.frames(True) if isinstance(f, FullFrame) and f.is_iax(IaxCommand.NEW)
               and f.source_call == call)
    assert new.ies.text(InfoElement.CALLED_NUMBER) == "5551234"
    assert not any(isinstance(e, CallHungUp) and e.call == call for e in session.events[before:])


async def test_regrel_on_exit(session: Session) -> None:
    session.modem.signal_exit()
    await session.until(lambda: bool(session.of(PeerUnregistered)), 8, "iaxmodem's REGREL")
    assert session.of(PeerUnregistered)[0] == PeerUnregistered("iaxmodem", "released")
    assert any(isinstance(f, FullFrame) and f.is_iax(IaxCommand.REGREL) for f in session.frames(False))
    assert session.endpoint.peer_address(session.endpoint.peers["iaxmodem"]) is None


async def test_capture_decodes_in_tshark(session: Session) -> None:
    await asyncio.sleep(0.5)
    pcap: Path = session.capture.stop()
    ports = [session.port, session.modem.port]
    assert flagged(pcap, ports) == []
    rows = dissect(pcap, ["iax2.packet_type", "iax2.iax.subclass", "iax2.control.subclass", "iax2.voice.subclass",
                          "iax2.iax.causecode"], ports)
    commands = {sub for row in rows for sub in row[1].split(",") if sub}
    for command in (IaxCommand.REGREQ, IaxCommand.REGAUTH, IaxCommand.REGACK, IaxCommand.REGREL, IaxCommand.NEW,
                    IaxCommand.AUTHREQ, IaxCommand.AUTHREP, IaxCommand.ACCEPT, IaxCommand.HANGUP, IaxCommand.PING,
                    IaxCommand.PONG, IaxCommand.LAGRQ, IaxCommand.LAGRP, IaxCommand.POKE, IaxCommand.ACK):
        assert str(int(command)) in commands, f"no {command.name} in the capture"
    assert any(row[0] == "0" for row in rows)  # mini frames
    assert any(row[3] == "4" for row in rows)  # full u-law voice frames
    assert any(row[4] == "0x10" for row in rows)  # our HANGUP's CAUSECODE 16
    assert any(row[2] == "3" for row in rows) and any(row[2] == "4" for row in rows)
    assert len(rows) > 300
