"""Conference rooms in memory: who hears whom, muting, senders with 30 ms packets, the room's end."""

from __future__ import annotations

import array
import asyncio

from core.mediaengine.conference import FRAME_BYTES, SILENCE, Conference, ConferenceRooms


class FakePort:
    """An AudioPort fed by the test: ``feed`` queues audio for read_frame, write_frame keeps what the room sent."""

    def __init__(self) -> None:
        self.closed = False
        self.inbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.sent: list[bytes] = []

    def feed(self, audio: bytes) -> None:
        self.inbox.put_nowait(audio)

    async def read_frame(self) -> bytes | None:
        return await self.inbox.get()

    def write_frame(self, linear: bytes) -> None:
        self.sent.append(linear)


class FakeChannel:
    def __init__(self, name: str) -> None:
        self.name = name


def constant(value: int, samples: int = 160) -> bytes:
    return array.array("h", [value] * samples).tobytes()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_each_party_hears_the_sum_of_the_others_and_a_muted_one_is_not_heard() -> None:
    room = Conference("demo")
    ports = [FakePort() for _ in range(3)]
    parties = [room.join(FakeChannel(f"SIP/{n}"), port) for n, port in enumerate(ports)]  # type: ignore[arg-type]
    try:
        for value, port in zip((100, 20, 3), ports, strict=True):
            for _ in range(3):
                port.feed(constant(value))
        await settle()
        room.mix_once()
        heard = [array.array("h", port.sent[-1])[0] for port in ports]
        assert heard == [23, 103, 120]
        parties[0].muted = True
        room.mix_once()
        heard = [array.array("h", port.sent[-1])[0] for port in ports]
        assert heard == [23, 3, 20]  # nobody hears party 0, which still hears the others
    finally:
        for party in list(room.parties):
            room.leave(party)


async def test_the_sum_saturates() -> None:
    room = Conference("loud")
    ports = [FakePort() for _ in range(3)]
    for n, port in enumerate(ports):
        room.join(FakeChannel(f"SIP/{n}"), port)  # type: ignore[arg-type]
        for _ in range(2):
            port.feed(constant(30000))
    await settle()
    room.mix_once()
    assert set(array.array("h", ports[0].sent[-1])) == {32767}
    for party in list(room.parties):
        room.leave(party)


async def test_a_sender_with_30_ms_packets_is_heard_without_gaps() -> None:
    room = Conference("ptime")
    talker, listener = FakePort(), FakePort()
    room.join(FakeChannel("SIP/talker"), talker)  # type: ignore[arg-type]
    room.join(FakeChannel("SIP/listener"), listener)  # type: ignore[arg-type]
    ramp = array.array("h", range(1, 240 * 8 + 1)).tobytes()  # 8 packets of 30 ms, every sample distinct
    heard = b""
    packets = [ramp[i:i + 480] for i in range(0, len(ramp), 480)]
    for period in range(12):  # 240 ms: packets at 0, 30, 60 ... ms, mixes every 20 ms
        for k, packet in enumerate(packets):
            if period * 20 <= k * 30 < (period + 1) * 20:
                talker.feed(packet)
        await settle()
        room.mix_once()
        heard += listener.sent[-1]
    for party in list(room.parties):
        room.leave(party)
    audio = heard.lstrip(b"\x00")  # the priming delay is silence
    assert len(audio) >= 6 * FRAME_BYTES
    assert ramp.startswith(audio[:len(audio) - len(audio) % FRAME_BYTES]), "gaps or repeats in what was heard"


async def test_rooms_come_and_go_with_their_parties() -> None:
    rooms = ConferenceRooms()
    port_a, port_b = FakePort(), FakePort()
    room, a = rooms.join("sales", FakeChannel("SIP/a"), port_a)  # type: ignore[arg-type]
    same, b = rooms.join("sales", FakeChannel("SIP/b"), port_b)  # type: ignore[arg-type]
    assert same is room and [r.name for r in rooms] == ["sales"]
    room.mix_once()
    assert port_a.sent[-1] == SILENCE  # nothing primed yet
    rooms.leave(room, a)
    assert rooms.get("sales") is room
    rooms.leave(room, b)
    assert rooms.get("sales") is None and len(rooms) == 0
    await settle()
