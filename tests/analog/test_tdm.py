"""The TDM media path (core/mediaengine/tdm.py): one PCM exchange per 20 ms for every port, G.711 both ways,
DTMF found in what a line sends and kept out of the audio passed on, gains, the playout buffer, and the
media engine's applications running on a TDM leg."""

from __future__ import annotations

import asyncio
from array import array

import pytest

from board.sim.peers import analyse, sine
from core.mediaengine.engine import MediaEngineImpl
from core.mediaengine.tdm import FRAME_BYTES, SILENCE, PlayoutBuffer, TdmClock, TdmError, TdmPort
from cython_media import g711
from cython_media.spandsp import DtmfGenerator


class Highway:
    """A PCM bus that loops every timeslot back after ``delay`` ticks and counts exchanges."""

    slots_per_frame = 4

    def __init__(self) -> None:
        self.exchanges = 0
        self.sent: list[bytes] = []
        self.inject: dict[int, bytes] = {}

    async def exchange(self, tx: bytes) -> bytes:
        self.exchanges += 1
        self.sent.append(tx)
        rx = bytearray([0xFF]) * len(tx)
        for slot, codes in self.inject.items():
            rx[slot::self.slots_per_frame] = codes[:160].ljust(160, b"\xff")
            self.inject[slot] = codes[160:]
        return bytes(rx)


def linear(frame: bytes) -> array[int]:
    samples = array("h")
    samples.frombytes(frame)
    return samples


async def test_one_exchange_per_tick_moves_every_port() -> None:
    highway = Highway()
    clock = TdmClock(highway, lambda: 0.0)
    engine = MediaEngineImpl("127.0.0.1")
    ports = [clock.add_port(TdmPort(slot, engine=engine, dtmf_detect=False)) for slot in (0, 2, 3)]
    with pytest.raises(TdmError):
        clock.add_port(TdmPort(2))
    with pytest.raises(TdmError):
        clock.add_port(TdmPort(4))
    tone = sine(1000, 0.02).tobytes()
    leg = ports[1].open_leg(activate=True)
    for _ in range(4):
        leg.write_frame(tone)
    for _ in range(3):
        await clock.tick()
    assert highway.exchanges == 3
    assert all(len(block) == 4 * 160 for block in highway.sent)
    # Slot 2 carries the tone once the playout buffer primed (2 frames); idle slots carry u-law silence.
    block = highway.sent[2]
    assert block[2::4] == g711.lin2ulaw(tone)
    assert set(block[1::4]) == {0xFF}
    assert [p.frames_in for p in ports] == [3, 3, 3]


async def test_dtmf_is_reported_once_and_muted_on_the_way_through() -> None:
    highway = Highway()
    clock = TdmClock(highway, lambda: 0.0)
    engine = MediaEngineImpl("127.0.0.1")
    port = clock.add_port(TdmPort(1, engine=engine))
    leg = port.open_leg(activate=True)
    passed: list[bytes] = []
    leg.frame_sink = passed.append
    digits: list[tuple[str, int]] = []
    port.on_digit = lambda digit, ms: digits.append((digit, ms))
    generator = DtmfGenerator(level_dbm0=-10, on_ms=100, off_ms=100)
    generator.queue("5#")
    audio = generator.generate(8 * 400)
    highway.inject[1] = g711.lin2ulaw(audio)
    for _ in range(25):
        await clock.tick()
    assert [d for d, _ in digits] == ["5", "#"]
    assert all(80 <= ms <= 140 for _, ms in digits), digits
    # What crossed to the other side has no DTMF left in it.
    loudest = max(max(abs(s) for s in linear(frame)) for frame in passed)
    assert loudest < 200, f"DTMF leaked through the mute: peak {loudest}"


async def test_gains_toward_and_from_the_line() -> None:
    highway = Highway()
    clock = TdmClock(highway, lambda: 0.0)
    engine = MediaEngineImpl("127.0.0.1")
    port = clock.add_port(TdmPort(0, engine=engine, dtmf_detect=False, tx_gain_db=-6.0, rx_gain_db=6.0))
    leg = port.open_leg(activate=True)
    received: list[bytes] = []
    leg.frame_sink = received.append
    tone = sine(1000, 0.02, -10.0).tobytes()
    for _ in range(3):
        leg.write_frame(tone)
    highway.inject[0] = g711.lin2ulaw(sine(800, 0.1, -20.0).tobytes())
    for _ in range(3):
        await clock.tick()
    sent = linear(g711.ulaw2lin(highway.sent[2][0::4]))
    assert abs(analyse(sent).level_dbm0 - (-16.0)) < 0.5
    assert abs(analyse(linear(received[-1])).level_dbm0 - (-14.0)) < 0.5


def test_playout_buffer_primes_conceals_and_bounds() -> None:
    buffer = PlayoutBuffer(target=2, limit=4)
    frame = sine(500, 0.02, -10.0).tobytes()
    assert buffer.get() == SILENCE  # nothing yet
    buffer.put(frame)
    assert buffer.get() == SILENCE  # priming: one frame is not enough
    buffer.put(frame)
    assert buffer.get() != SILENCE and buffer.get() != SILENCE
    concealed = buffer.get()  # an underrun right after audio: concealed, not a click to silence
    assert buffer.underruns == 1 and concealed != SILENCE and len(concealed) == FRAME_BYTES
    for _ in range(6):
        buffer.put(frame)
    assert len(buffer) == 4 and buffer.dropped == 2


async def test_media_applications_run_on_a_tdm_leg() -> None:
    highway = Highway()
    clock = TdmClock(highway, lambda: 0.0)
    engine = MediaEngineImpl("127.0.0.1")
    port = clock.add_port(TdmPort(3, engine=engine, dtmf_detect=False))
    leg = port.open_leg(activate=True)
    # The engine's 20 ms clock writes a tone into the leg (what Playtones/Milliwatt do on a channel).
    from core.tones import ToneGenerator

    generator = ToneGenerator("1004", level_dbm0=0.0)
    engine.clock.start(leg, lambda: generator.read(160))
    for _ in range(10):
        await asyncio.sleep(0.02)
        await clock.tick()
    engine.clock.stop(leg)
    sent = linear(g711.ulaw2lin(b"".join(block[3::4] for block in highway.sent[-5:])))
    hearing = analyse(sent)
    assert hearing.frequencies and abs(hearing.frequencies[0] - 1004) <= 4 and hearing.level_dbm0 > -2


async def test_a_paced_simulated_board_keeps_pcm_time_at_the_real_rate() -> None:
    import time

    from board.backends.sim import SimBackend
    from board.hal import PcmConfig

    backend = SimBackend()
    bus = backend.open_pcm(PcmConfig(clock_hz=2_048_000, slots=32))
    bus.start()
    backend.clock.pace()
    started_real, started_board = time.monotonic(), backend.clock.now()
    for _ in range(10):  # 200 ms of PCM
        await bus.exchange(bytes(32 * 160))
    real = time.monotonic() - started_real
    assert backend.clock.now() - started_board == pytest.approx(0.2)  # board time is the sample count
    assert 0.17 <= real <= 0.4, f"paced at the real rate: {real:.3f} s"
    # A burst after the event loop was late: board time still moves 20 ms per exchange, no more.
    await asyncio.sleep(0.1)
    before = backend.clock.now()
    await bus.exchange(bytes(32 * 160))
    assert backend.clock.now() - before == pytest.approx(0.02)
    slept = time.monotonic()
    await backend.clock.sleep(0.05)  # a driver's sleep is a real one while paced
    assert time.monotonic() - slept >= 0.045
