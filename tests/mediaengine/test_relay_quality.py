"""Call quality of natively relayed bridges: the relay's per-direction counters (RFC 3550 A.1/A.3/A.8) are
folded into the legs' RTP sessions when the relay hands the legs back, so that the quality summary a call
record gets (``RTPAUDIOQOS``) covers the whole call — relayed, on the event loop, and relayed again.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator

import pytest

from core.mediaengine import MediaEngineImpl
from core.mediaengine.port import RtpPort
from tests.mediaengine.test_engine import Phone, _Chan, negotiated


@pytest.fixture
async def engine() -> AsyncIterator[MediaEngineImpl]:
    media = MediaEngineImpl("127.0.0.1", port_min=20000, port_max=60000)
    yield media
    for port in list(media.ports):
        port.close()
    media.close()


@pytest.fixture
def phones() -> Iterator[list[Phone]]:
    made: list[Phone] = []
    yield made
    for phone in made:
        phone.close()


def send_with_gaps(phone: Phone, port: RtpPort, count: int, missing: set[int]) -> int:
    """``count`` sequence numbers of 20 ms audio, those at the offsets in ``missing`` never sent (lost on
    the way); returns how many were sent."""
    sent = 0
    for offset in range(count):
        if offset in missing:
            phone.seq = (phone.seq + 1) & 0xFFFF
            phone.ts = (phone.ts + 160) & 0xFFFFFFFF
            continue
        phone.send(port, bytes([offset]) * 160)
        sent += 1
    return sent


async def relayed_in(engine: MediaEngineImpl, port: RtpPort, count: int) -> None:
    """Wait (bounded) until the relay has received ``count`` RTP packets from the phone of ``port``."""
    for _ in range(200):
        rows = engine.relay_stats()
        flow = None
        if rows:
            _, first, _, stats_first, stats_second = rows[0]
            flow = (stats_first if first is port else stats_second).inbound
        if flow is not None and flow.received >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the relay did not receive {count} packets: {engine.relay_stats()}")


def summary(text: str) -> dict[str, tuple[int, int, float]]:
    """``{"rx": (packets, lost, loss %)}`` and the same for ``tx`` when given, from a quality line."""
    found = {}
    for direction, loss, packets, lost in re.findall(r"(rx|tx) loss ([\d.]+)% .*? packets (\d+) lost (\d+)", text):
        found[direction] = (int(packets), int(lost), float(loss))
    return found


async def test_relayed_call_reports_its_packets_and_loss(engine: MediaEngineImpl, phones: list[Phone]) -> None:
    a, b = Phone(), Phone()
    phones += [a, b]
    port_a, port_b = await engine.open_rtp(), await engine.open_rtp()
    port_a.configure(negotiated(a, dtmf=101))
    port_b.configure(negotiated(b, dtmf=96))
    engine.connect(port_a, port_b)
    assert port_a.relay_pair is not None
    from_a = send_with_gaps(a, port_a, 50, {10, 11, 30})
    from_b = send_with_gaps(b, port_b, 20, set())
    assert len(await b.receive(from_a)) == from_a and len(await a.receive(from_b)) == from_b
    await relayed_in(engine, port_a, from_a)
    await relayed_in(engine, port_b, from_b)
    [(_, _, _, stats_a, stats_b)] = engine.relay_stats()
    assert stats_a.inbound is not None and (stats_a.inbound.received, stats_a.inbound.lost) == (47, 3)
    assert stats_b.inbound is not None and stats_b.inbound.forwarded == 20
    live = port_a.quality()  # while relayed (``rtp show stats``, a hang-up before the bridge ends)
    assert summary(live)["rx"] == (47, 3, 6.0) and live.endswith("; tx packets 20"), live
    engine.disconnect(port_a, port_b)  # the bridge ends: the legs come back with the relay's counters
    assert port_a.relay_pair is None
    quality_a, quality_b = port_a.quality(), port_b.quality()
    assert summary(quality_a)["rx"] == (47, 3, 6.0), quality_a
    assert quality_a.endswith("; tx packets 20"), quality_a  # what the relay sent phone A in A's stream
    assert summary(quality_b)["rx"] == (20, 0, 0.0) and quality_b.endswith("; tx packets 47"), quality_b
    assert re.search(r"MOS \d\.\d", quality_a)
    session_b = port_b.session
    assert session_b is not None and session_b.sender.packet_count == 47  # our SR counts the relayed packets
    assert session_b.sender.octet_count == 47 * 160


async def test_quality_covers_relayed_and_event_loop_stretches(engine: MediaEngineImpl,
                                                               phones: list[Phone]) -> None:
    a, b = Phone(), Phone()
    phones += [a, b]
    port_a, port_b = await engine.open_rtp(), await engine.open_rtp()
    port_a.configure(negotiated(a))
    port_b.configure(negotiated(b))
    engine.connect(port_a, port_b)
    assert port_a.relay_pair is not None
    sent = send_with_gaps(a, port_a, 10, {3})
    await relayed_in(engine, port_a, sent)
    # A tone on B's leg takes the bridge back to the event loop (the relay is torn down): A's packets are
    # then counted by A's own session.
    await engine.start_tones(_Chan(port_b), "440/100")  # type: ignore[arg-type]
    assert port_a.relay_pair is None
    before = port_a.packets_in
    sent = send_with_gaps(a, port_a, 10, {5})
    for _ in range(200):
        if port_a.packets_in - before >= sent:
            break
        await asyncio.sleep(0.01)
    await engine.stop_tones(_Chan(port_b))
    assert port_a.relay_pair is not None  # relayed again
    sent = send_with_gaps(a, port_a, 10, {5})
    await relayed_in(engine, port_a, sent)
    port_a.close()  # the call ends while relayed
    quality = summary(port_a.quality())
    assert quality["rx"][:2] == (27, 3), port_a.quality()


async def test_phones_rtcp_report_gives_the_transmit_quality(engine: MediaEngineImpl, phones: list[Phone]) -> None:
    import struct

    a, b = Phone(), Phone()
    phones += [a, b]
    port_a, port_b = await engine.open_rtp(), await engine.open_rtp()
    port_a.configure(negotiated(a))
    port_b.configure(negotiated(b))
    engine.connect(port_a, port_b)
    session_a = port_a.session
    assert port_a.relay_pair is not None and session_a is not None
    from_b = send_with_gaps(b, port_b, 20, set())
    assert len(await a.receive(from_b)) == from_b
    # Phone A's receiver report (RFC 3550 §6.4.2) about the stream it gets in our SSRC: 2 of 20 lost,
    # jitter 16 timestamp units (2 ms).  The relay forwards it to phone B and keeps a copy.
    first = session_a.sender.first_sequence
    block = struct.pack("!IIIIII", session_a.sender.ssrc, (26 << 24) | 2, first + 19, 16, 0, 0)
    a.sock.sendto(struct.pack("!BBHI", 0x81, 201, 7, a.ssrc) + block, ("127.0.0.1", port_a.local_port + 1))
    for _ in range(200):
        rows = engine.relay_stats()
        if rows and (rows[0][3] if rows[0][1] is port_a else rows[0][4]).report is not None:
            break
        await asyncio.sleep(0.01)
    # G.107 with G.711 PLC at 10 % loss: R = 93.2 - 95 x 10 / (10 + 25.1) = 66.1, MOS 3.4.
    expected = "tx loss 10.0% jitter 2.0 ms rtt n/a MOS 3.4 packets 18 lost 2"
    assert port_a.quality().endswith(expected), port_a.quality()  # live
    engine.disconnect(port_a, port_b)
    assert port_a.quality().endswith(expected), port_a.quality()  # folded into the session
    assert session_a.outbound_report is not None and session_a.outbound_report.cumulative_lost == 2
