"""The media engine on real loopback sockets: RTP ports, the relay between two legs, echo, the media clock,
RFC 4733 digits both ways, transcoding between the two G.711 laws."""

from __future__ import annotations

import array
import asyncio
import math
import socket
from collections.abc import AsyncIterator

import pytest

from core.mediaengine import MediaEngineImpl, RtpPort
from core.rtp.packet import build_rtp, parse_rtp
from core.rtp.telephone_event import build_telephone_event
from core.sip.offer_answer import PCMA, PCMU, Codec, NegotiatedAudio
from core.sip.sdp import Direction
from cython_media import g711


class Phone:
    """A UDP socket playing the far end of an RTP stream."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.address = self.sock.getsockname()
        self.seq = 1000
        self.ts = 50_000
        self.ssrc = 0x1234ABCD

    def send(self, port: RtpPort, payload: bytes, *, pt: int = 0, marker: bool = False, ts: int | None = None) -> None:
        packet = build_rtp(pt, self.seq, self.ts if ts is None else ts, self.ssrc, payload, marker=marker)
        self.sock.sendto(packet, port.local_address)
        self.seq = (self.seq + 1) & 0xFFFF
        if ts is None:
            self.ts = (self.ts + 160) & 0xFFFFFFFF

    async def receive(self, count: int, timeout: float = 2.0) -> list[bytes]:
        loop = asyncio.get_running_loop()
        got: list[bytes] = []
        deadline = loop.time() + timeout
        while len(got) < count and loop.time() < deadline:
            try:
                got.append(self.sock.recv(2048))
            except BlockingIOError:
                await asyncio.sleep(0.005)
        return got

    def close(self) -> None:
        self.sock.close()


def negotiated(phone: Phone, codec: Codec = PCMU, dtmf: int | None = 101) -> NegotiatedAudio:
    return NegotiatedAudio(media_index=0, formats=((codec.payload_type, codec),), dtmf_payload_type=dtmf,
                           remote_address=phone.address[0], remote_port=phone.address[1],
                           remote_rtcp_address=phone.address[0], remote_rtcp_port=phone.address[1] + 1,
                           remote_ptime=20, direction=Direction.SENDRECV, remote_hold=False)


@pytest.fixture
async def engine() -> AsyncIterator[MediaEngineImpl]:
    # A wide range: the allocator skips ports other programs hold (benchmarks may hold thousands).
    media = MediaEngineImpl("127.0.0.1", port_min=20000, port_max=60000)
    yield media
    for port in list(media.ports):
        port.close()


@pytest.fixture
def phones() -> list[Phone]:
    made: list[Phone] = []
    yield made  # type: ignore[misc]
    for phone in made:
        phone.close()


def tone_frame(frequency: float, amplitude: int = 8000, n: int = 160, offset: int = 0) -> bytes:
    return array.array("h", (int(amplitude * math.sin(2 * math.pi * frequency * (offset + i) / 8000))
                             for i in range(n))).tobytes()


async def test_ports_are_even_pairs_and_released(engine: MediaEngineImpl) -> None:
    first = await engine.open_rtp()
    second = await engine.open_rtp()
    assert first.local_port % 2 == 0 and second.local_port % 2 == 0 and first.local_port != second.local_port
    in_use = engine.allocator.in_use
    first.close()
    assert engine.allocator.in_use == in_use - 1 and first not in engine.ports


async def test_relay_restamps_into_one_continuous_stream_across_a_source_change(
        engine: MediaEngineImpl, phones: list[Phone]) -> None:
    a, b = Phone(), Phone()
    phones += [a, b]
    port_a, port_b = await engine.open_rtp(), await engine.open_rtp()
    port_a.configure(negotiated(a))
    port_b.configure(negotiated(b))
    engine.connect(port_a, port_b)
    for i in range(10):
        a.send(port_a, bytes([i]) * 160)
        await asyncio.sleep(0.002)
    a.ssrc, a.seq, a.ts = 0x0BADF00D, 7, 999  # the caller's phone changed (a transfer on its side)
    for i in range(10, 20):
        a.send(port_a, bytes([i]) * 160)
        await asyncio.sleep(0.002)
    packets = [parse_rtp(data) for data in await b.receive(20)]
    assert [p.payload[0] for p in packets] == list(range(20))  # every packet, in order, payload untouched
    assert len({p.ssrc for p in packets}) == 1 and packets[0].ssrc not in (0x1234ABCD, 0x0BADF00D)
    assert all((q.sequence - p.sequence) & 0xFFFF == 1 for p, q in zip(packets, packets[1:], strict=False))
    assert all((q.timestamp - p.timestamp) & 0xFFFFFFFF == 160 for p, q in zip(packets, packets[1:], strict=False))


async def test_relay_transcodes_between_the_two_laws(engine: MediaEngineImpl, phones: list[Phone]) -> None:
    a, b = Phone(), Phone()
    phones += [a, b]
    port_a, port_b = await engine.open_rtp(), await engine.open_rtp()
    port_a.configure(negotiated(a, PCMU))
    port_b.configure(negotiated(b, PCMA))
    engine.connect(port_a, port_b)
    ulaw = g711.lin2ulaw(tone_frame(1000))
    a.send(port_a, ulaw)
    a.send(port_a, ulaw)  # a new source is believed from its second packet (RFC 3550 A.1 probation)
    data, _ = await b.receive(2)
    packet = parse_rtp(data)
    assert packet.payload_type == 8 and packet.payload == g711.ulaw2alaw(ulaw)


async def test_echo_sends_each_packet_back_in_our_stream(engine: MediaEngineImpl, phones: list[Phone]) -> None:
    a = Phone()
    phones.append(a)
    port = await engine.open_rtp()
    port.configure(negotiated(a))
    port.echo = True
    for i in range(5):
        a.send(port, bytes([0x40 + i]) * 160)
    packets = [parse_rtp(data) for data in await a.receive(5)]
    assert [p.payload[0] for p in packets] == [0x40 + i for i in range(5)]
    assert packets[0].ssrc != a.ssrc


async def test_dtmf_in_is_reported_once_and_dtmf_out_is_rfc4733(engine: MediaEngineImpl, phones: list[Phone]) -> None:
    a = Phone()
    phones.append(a)
    port = await engine.open_rtp()
    port.configure(negotiated(a))
    digits: list[tuple[str, int]] = []
    port.on_digit = lambda digit, ms: digits.append((digit, ms))
    start = a.ts
    for step, end in [(160, False), (320, False), (480, False), (640, True), (640, True), (640, True)]:
        a.send(port, build_telephone_event(5, end=end, volume=10, duration=step), pt=101, marker=step == 160,
               ts=start)
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.05)
    assert digits == [("5", 80)]
    assert port.send_digit("#", 100)
    packets = [parse_rtp(data) for data in await a.receive(9, timeout=1.0)]
    events = [p for p in packets if p.payload_type == 101]
    assert events[0].marker and all(p.payload[0] == 11 for p in events)
    assert sum(1 for p in events if p.payload[1] & 0x80) == 3  # three end packets
    assert len({p.timestamp for p in events}) == 1


async def test_the_clock_writes_a_tone_every_20_ms(engine: MediaEngineImpl, phones: list[Phone]) -> None:
    a = Phone()
    phones.append(a)
    port = await engine.open_rtp()
    port.configure(negotiated(a))
    frames = iter([tone_frame(1000, offset=160 * i) for i in range(10)])
    loop = asyncio.get_running_loop()
    started = loop.time()
    done = engine.clock.start(port, lambda: next(frames, None))
    await asyncio.wait_for(done, 2)
    elapsed = loop.time() - started
    packets = [parse_rtp(data) for data in await a.receive(10)]
    assert len(packets) == 10 and 0.15 <= elapsed <= 0.6
    audio = g711.ulaw2lin(b"".join(p.payload for p in packets))
    samples = array.array("h", audio)
    crossings = sum(1 for x, y in zip(samples, samples[1:], strict=False) if (x < 0) != (y < 0))
    assert abs(crossings / 2 / (len(samples) / 8000) - 1000) < 30


async def test_a_reader_gets_the_stream_in_order_with_a_lost_packet_concealed(engine: MediaEngineImpl,
                                                                              phones: list[Phone]) -> None:
    """What Record() or a conference reads comes out of the jitter buffer: a reordered pair is played in
    order, a lost packet is concealed (spandsp PLC: neither silence nor a copy), a sender that stops
    reads as silence in real time, and a closed port ends the reader."""
    a = Phone()
    phones.append(a)
    port = await engine.open_rtp()
    port.configure(negotiated(a, PCMA))
    loop = asyncio.get_running_loop()
    sent = [tone_frame(300 + 100 * i) for i in range(10)]
    heard: list[bytes] = []

    async def reader() -> None:
        while (frame := await port.read_frame()) is not None:
            heard.append(frame)

    task = asyncio.ensure_future(reader())
    # Each packet leaves at its own time, except 3, delayed behind 4 (reordered); 6 is never sent.
    schedule = [(0.02 * i, i) for i in (0, 1, 2, 4, 5, 7, 8, 9)] + [(0.085, 3)]
    start = loop.time()
    for at, i in sorted(schedule):
        await asyncio.sleep(max(0.0, start + at - loop.time()))
        a.send(port, g711.lin2alaw(sent[i]), pt=8, ts=50_000 + 160 * i)
    await asyncio.sleep(0.4)
    port.close()
    await asyncio.wait_for(task, 2)
    expected = [g711.alaw2lin(g711.lin2alaw(frame)) for frame in sent]
    silence = bytes(320)
    while heard and heard[0] == silence:
        heard.pop(0)  # the playout delay before the first frame
    names = [expected.index(f) if f in expected else ("-" if f == silence else "c") for f in heard]
    assert heard[:6] == expected[:6], names
    concealed = heard[6]
    assert concealed != silence and concealed not in expected
    assert heard[8:10] == expected[8:10]  # frame 7 may be blended into the concealment (plc_rx)
    # The sender stopped: a short fading concealment, then silence at the stream's pace.
    assert len(heard) >= 10 + 12 and set(heard[-5:]) == {silence}
    assert len(heard) <= 10 + 0.4 / 0.02 + 3


def dtmf_frames(digit_pair: tuple[int, int], ms: int, level: int = 6000) -> list[bytes]:
    """Q.23 tone pair frames for ``ms`` then as long of silence."""
    samples = ms * 8
    tone = array.array("h", (int(level * (math.sin(2 * math.pi * digit_pair[0] * i / 8000)
                                           + math.sin(2 * math.pi * digit_pair[1] * i / 8000)) / 2)
                             for i in range(samples))).tobytes()
    audio = tone + bytes(2 * samples)
    return [audio[i:i + 320] for i in range(0, len(audio), 320)]


async def test_inband_dtmf_is_detected_once_and_not_relayed(engine: MediaEngineImpl, phones: list[Phone]) -> None:
    a, b = Phone(), Phone()
    phones += [a, b]
    port_a, port_b = await engine.open_rtp(), await engine.open_rtp()
    port_a.configure(negotiated(a, dtmf=None))  # this phone negotiated no telephone-event: in-band
    port_b.configure(negotiated(b))
    digits: list[tuple[str, int]] = []
    port_a.on_digit = lambda digit, ms: digits.append((digit, ms))
    engine.connect(port_a, port_b)
    for frame in dtmf_frames((770, 1336), 120):  # "5"
        a.send(port_a, g711.lin2ulaw(frame))
        await asyncio.sleep(0.003)
    await asyncio.sleep(0.05)
    assert [d for d, _ in digits] == ["5"] and 80 <= digits[0][1] <= 140
    relayed = [parse_rtp(data) for data in await b.receive(12)]
    # The digit reached the dialplan once; the other leg got silence instead of the tone (it gets the digit in
    # its own mode from the bridge), so a detector there finds nothing.
    loud = [p for p in relayed if max(array.array("h", g711.ulaw2lin(p.payload))) > 1000]
    assert len(relayed) >= 10 and len(loud) <= 1


async def test_digits_to_an_inband_leg_are_tones_in_its_stream(engine: MediaEngineImpl, phones: list[Phone]) -> None:
    from cython_media.spandsp import DtmfDetector

    a = Phone()
    phones.append(a)
    port = await engine.open_rtp()
    port.configure(negotiated(a, dtmf=None))
    assert port.send_digit("7", 100)
    packets = [parse_rtp(data) for data in await a.receive(7, timeout=1.0)]
    assert all(p.payload_type == 0 for p in packets)
    detector = DtmfDetector()
    found = [e.digit for p in packets for e in detector.feed(g711.ulaw2lin(p.payload)) if e.ended]
    found += [e.digit for e in detector.feed(bytes(1600)) if e.ended]
    assert found == ["7"]


async def test_a_call_whose_rtp_stops_is_reported_after_the_timeout(phones: list[Phone]) -> None:
    engine = MediaEngineImpl("127.0.0.1", port_min=20000, port_max=60000, rtp_timeout=1.0, hold_timeout=30.0)
    a = Phone()
    phones.append(a)
    port = await engine.open_rtp()
    port.configure(negotiated(a))
    silent = asyncio.get_running_loop().create_future()
    port.on_timeout = lambda: silent.set_result(True)
    for _ in range(3):
        a.send(port, bytes(160))
        await asyncio.sleep(0.1)
    assert not silent.done()
    assert await asyncio.wait_for(silent, 4.0)
    port.close()


async def test_same_codec_bridge_goes_to_the_native_relay_and_back(engine: MediaEngineImpl,
                                                                   phones: list[Phone]) -> None:
    a, b = Phone(), Phone()
    phones += [a, b]
    port_a, port_b = await engine.open_rtp(), await engine.open_rtp()
    port_a.configure(negotiated(a, dtmf=101))
    port_b.configure(negotiated(b, dtmf=96))  # each leg agreed its own telephone-event type
    engine.connect(port_a, port_b)
    assert port_a.relay_pair is not None and port_a.relay_pair == port_b.relay_pair
    assert list(engine.relays) == [port_a.relay_pair]
    for i in range(10):
        a.send(port_a, bytes([i]) * 160)
    a.send(port_a, build_telephone_event(7, end=True, volume=10, duration=800), pt=101, marker=True)
    relayed = [parse_rtp(data) for data in await b.receive(11)]
    assert [p.payload for p in relayed[:10]] == [bytes([i]) * 160 for i in range(10)]  # byte-exact payloads
    assert relayed[10].payload_type == 96 and relayed[10].payload[0] == 7  # RFC 4733 forwarded, type remapped
    assert [p.sequence for p in relayed] == [(relayed[0].sequence + i) & 0xFFFF for i in range(11)]
    [(pair_id, _, _, stats_a, stats_b)] = engine.relay_stats()
    assert pair_id == port_a.relay_pair and stats_a.packets_in == 11 and stats_b.packets_out == 11
    # A tone on B's leg (what Playtones/hold music do) takes both legs back to the event loop; A's audio
    # then goes on into B's stream, which continues where the relay left it.
    await engine.start_tones(_Chan(port_b), "440/100")  # type: ignore[arg-type]
    assert port_a.relay_pair is None and port_b.relay_pair is None and not engine.relays
    await engine.stop_tones(_Chan(port_b))
    await asyncio.sleep(0.05)
    while _readable(b.sock):
        b.sock.recv(4096)  # the tone
    assert port_a.relay_pair is not None  # nothing plays any more: relayed again
    a.send(port_a, b"\x55" * 160)
    [again] = [parse_rtp(data) for data in await b.receive(1)]
    assert again.payload == b"\x55" * 160 and again.ssrc == relayed[0].ssrc
    engine.disconnect(port_a, port_b)
    assert port_a.relay_pair is None and not engine.relays
    assert port_b.packets_out >= 12


async def test_native_relay_can_be_switched_off(phones: list[Phone]) -> None:
    engine = MediaEngineImpl("127.0.0.1", port_min=20000, port_max=60000, native_relay=False)
    a, b = Phone(), Phone()
    phones += [a, b]
    port_a, port_b = await engine.open_rtp(), await engine.open_rtp()
    port_a.configure(negotiated(a))
    port_b.configure(negotiated(b))
    engine.connect(port_a, port_b)
    assert port_a.relay_pair is None and not engine.relays
    a.send(port_a, b"\x11" * 160)
    a.send(port_a, b"\x22" * 160)
    assert [parse_rtp(data).payload[0] for data in await b.receive(2)] == [0x11, 0x22]
    for port in (port_a, port_b):
        port.close()


async def test_a_relayed_call_whose_rtp_stops_is_reported_by_the_relay(phones: list[Phone]) -> None:
    engine = MediaEngineImpl("127.0.0.1", port_min=20000, port_max=60000, rtp_timeout=1.0, hold_timeout=30.0)
    a, b = Phone(), Phone()
    phones += [a, b]
    port_a, port_b = await engine.open_rtp(), await engine.open_rtp()
    silent = asyncio.get_running_loop().create_future()
    port_a.on_timeout = lambda: silent.set_result("a")
    port_b.on_timeout = lambda: None
    port_a.configure(negotiated(a))
    port_b.configure(negotiated(b))
    engine.connect(port_a, port_b)
    assert port_a.relay_pair is not None
    for _ in range(5):
        a.send(port_a, bytes(160))
        b.send(port_b, bytes(160))
        await asyncio.sleep(0.1)
    assert not silent.done()
    assert await asyncio.wait_for(silent, 4.0) == "a"
    for port in (port_a, port_b):
        port.close()
    assert not engine.relays
    engine.close()


class _Chan:
    """The least of a channel the tone applications need."""

    def __init__(self, port: RtpPort) -> None:
        self.audio = port
        self.name = "SIP/test"


def _readable(sock: socket.socket) -> bool:
    import select

    return bool(select.select([sock], [], [], 0.05)[0])
