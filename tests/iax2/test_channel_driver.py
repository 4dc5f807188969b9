"""The IAX2 channel driver in memory: two gateways (PBX + dialplan + IAX2 driver + media engine) whose
endpoints are wired by the fake-clock :class:`tests.iax2.Network`.

Asserted as a user would notice it: the dialplan of the called side runs in the peer's context with the
called number and the caller id of the NEW; Echo() returns the caller's audio and Milliwatt() is a 1004 Hz
tone on an IAX2 call; causes cross both ways in CAUSECODE; DTMF both ways; QUELCH and CONTROL HOLD become
HOLD/UNHOLD; an unroutable number is refused with cause 3 as chan_iax2 does; unauthenticated callers only
reach the guest context; ``Dial(IAX2/peer/number)`` from a dialplan bridges two IAX2 calls with audio.
"""

from __future__ import annotations

import array
import asyncio
import math
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.apps import default_applications
from core.callerid import CallerId
from core.causes import HangupCause
from core.channel import Answered, Channel, DigitReceived, HungUp, Indication, IndicationReceived
from core.dialplan.executor import DialplanExecutor
from core.dialplan.loader import load_dialplan
from core.events import EventBus
from core.iax2.channel import IaxAudioPort, IaxChannelDriver
from core.iax2.constants import FrameType, IaxCommand, InfoElement, MediaFormat
from core.iax2.endpoint import IaxEndpoint, IaxEndpointSettings, IaxPeerSettings
from core.iax2.frames import FullFrame
from core.mediaengine import MediaEngineImpl
from core.pbx import Pbx
from cython_media import g711
from tests.iax2 import A, B, Network

C = ("192.0.2.3", 4569)

PLAN_A = """
[from-iax2]
exten => 123,1,Answer()
 same => n,Echo()
"""

PLAN_B = """
[from-iax2]
exten => 600,1,Answer()
 same => n,Echo()
exten => 601,1,Answer()
 same => n,Milliwatt()
exten => 700,1,Ringing()
 same => n,Wait(10)
exten => 702,1,Hangup(17)
exten => 703,1,Answer()
 same => n,Read(DIGITS,,2,,,3)
 same => n,SendDTMF(${DIGITS},,100)
 same => n,Wait(5)
exten => 800,1,Dial(IAX2/gwa/123,5)
[guest]
exten => 600,1,Answer()
 same => n,Wait(5)
[secret]
exten => 600,1,Answer()
 same => n,Wait(5)
"""


@dataclass
class Side:
    """One gateway: PBX, dialplan, IAX2 driver, media engine."""

    pbx: Pbx
    executor: DialplanExecutor
    endpoint: IaxEndpoint
    driver: IaxChannelDriver
    media: MediaEngineImpl


def _side(net: Network, tmp_path: Path, name: str, address: tuple[str, int], plan: str,
          settings: IaxEndpointSettings, seed: int) -> Side:
    path = tmp_path / f"{name}.conf"
    path.write_text(plan)
    bus = EventBus()
    pbx = Pbx(bus)
    executor = DialplanExecutor(pbx, bus, default_applications())
    executor.load(load_dialplan(path).dialplan)
    pbx.runner = executor
    media = MediaEngineImpl("127.0.0.1", sounds_dir=tmp_path)
    executor.media = media
    endpoint = net.add(address, settings, seed=seed)
    driver = IaxChannelDriver(pbx, endpoint, lambda: net.now, lambda: None, media=media,
                              guest_context=settings.guest_context, routable=executor.routable)
    pbx.register_driver(driver)
    return Side(pbx, executor, endpoint, driver, media)


class Pair:
    """Gateways A and B trunked to each other (A knows B as ``gwb``, B knows A as ``gwa``)."""

    def __init__(self, tmp_path: Path, *, trunk: bool = False, encryption: int = 0) -> None:
        self.net = Network()
        common = {"ping_interval": 0, "lagrq_interval": 0}
        a_settings = IaxEndpointSettings(peers=(IaxPeerSettings(
            "gwb", host=B[0], port=B[1], username="gwa", secret="trunk-secret", context="from-iax2", trunk=trunk,
            encryption=encryption),), **common)  # type: ignore[arg-type]
        b_settings = IaxEndpointSettings(peers=(IaxPeerSettings(
            "gwa", host=A[0], port=A[1], username="gwb", secret="trunk-secret", context="from-iax2", trunk=trunk,
            encryption=encryption),), guest_context="guest", **common)  # type: ignore[arg-type]
        self.a = _side(self.net, tmp_path, "a", A, PLAN_A, a_settings, 21)
        self.b = _side(self.net, tmp_path, "b", B, PLAN_B, b_settings, 22)

    async def settle(self, seconds: float = 0.0, rounds: int = 20) -> None:
        """Let tasks run and datagrams flow; advance the fake clock by ``seconds`` in 20 ms steps."""
        steps = max(1, int(seconds / 0.02))
        for _ in range(steps):
            for _round in range(rounds):
                self.net.pump()
                self.a.driver.process_events()
                self.b.driver.process_events()
                await asyncio.sleep(0)
            if seconds:
                self.net.advance(0.02)

    async def dial(self, destination: str, caller: CallerId | None = None) -> Channel:
        """An outbound IAX2 leg from A (what Dial does), called."""
        channel = await self.a.pbx.request(f"IAX2/{destination}")
        if caller is not None:
            channel.caller = caller
        await channel.call()
        await self.settle()
        return channel

    def b_channel(self) -> Channel:
        (channel,) = [c for c in self.b.pbx.channels if c.technology == "IAX2"][:1]
        return channel


async def _events(channel: Channel, pair: Pair, wanted: type, timeout_rounds: int = 50) -> list[object]:
    got: list[object] = []
    for _ in range(timeout_rounds):
        await pair.settle()
        while channel.has_event():
            event = channel.poll_event()
            got.append(event)
            if isinstance(event, wanted):
                return got
        await asyncio.sleep(0.005)
    raise AssertionError(f"no {wanted.__name__} on {channel.name}: {got}")


def _tone_frame(n: int) -> bytes:
    """20 ms of a 440 Hz tone, the n-th frame of it."""
    return array.array("h", (int(8000 * math.sin(2 * math.pi * 440 * (n * 160 + i) / 8000))
                             for i in range(160))).tobytes()


@pytest.mark.asyncio
async def test_inbound_call_reaches_the_peers_context_with_caller_id_and_echo_returns_the_audio(
        tmp_path: Path) -> None:
    pair = Pair(tmp_path)
    channel = await pair.dial("gwb/600", CallerId("2001", "Branch Office"))
    events = await _events(channel, pair, Answered)
    assert any(isinstance(e, Answered) for e in events)
    inbound = pair.b_channel()
    assert (inbound.context, inbound.exten) == ("from-iax2", "600")
    assert (inbound.caller.number, inbound.caller.name) == ("2001", "Branch Office")
    assert inbound.name.startswith("IAX2/gwa-")
    port = channel.audio
    assert isinstance(port, IaxAudioPort)
    await pair.settle(0.1)
    sent = [_tone_frame(n) for n in range(20)]
    for frame in sent:
        port.write_frame(frame)
        await pair.settle(0.02)
    back = []
    for _ in range(20):
        received = await asyncio.wait_for(port.read_frame(), 1)
        assert received is not None
        back.append(received)
    # G.711 u-law both ways: what comes back is the caller's audio through one encode (the echo adds nothing).
    assert back == [g711.ulaw2lin(g711.lin2ulaw(f)) for f in sent]
    await channel.hangup(HangupCause.NORMAL_CLEARING)
    await pair.settle(0.1)
    assert inbound.hangup_cause is HangupCause.NORMAL_CLEARING
    assert not pair.a.endpoint.active_calls() and not pair.b.endpoint.active_calls()


@pytest.mark.asyncio
async def test_milliwatt_on_an_iax2_call_is_a_1004_hz_tone(tmp_path: Path) -> None:
    pair = Pair(tmp_path)
    channel = await pair.dial("gwb/601")
    await _events(channel, pair, Answered)
    port = channel.audio
    assert isinstance(port, IaxAudioPort)
    frames: list[bytes] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + 5
    while len(frames) < 25 and loop.time() < end:
        await pair.settle()
        await asyncio.sleep(0.01)
        while port._frames:
            frames.append(port._frames.popleft())
    assert len(frames) >= 25, len(frames)
    samples = array.array("h", b"".join(frames[5:25]))
    crossings = sum(1 for x, y in zip(samples, samples[1:], strict=False) if (x < 0) != (y < 0))
    assert abs(crossings / 2 / (len(samples) / 8000) - 1004) < 15
    await channel.hangup()


@pytest.mark.asyncio
async def test_causes_cross_both_ways(tmp_path: Path) -> None:
    pair = Pair(tmp_path)
    busy = await pair.dial("gwb/702")
    events = await _events(busy, pair, HungUp)
    assert events[-1] == HungUp(HangupCause.USER_BUSY)
    # The other way: A hangs up a ringing call with cause 21; B's leg ends with the same cause.
    ringing = await pair.dial("gwb/700")
    events = await _events(ringing, pair, IndicationReceived)
    assert IndicationReceived(Indication.RINGING) in events
    inbound = pair.b_channel()
    await ringing.hangup(HangupCause.CALL_REJECTED)
    await pair.settle(0.1)
    assert inbound.hangup_cause is HangupCause.CALL_REJECTED


@pytest.mark.asyncio
async def test_unroutable_number_is_rejected_with_cause_3_as_chan_iax2(tmp_path: Path) -> None:
    pair = Pair(tmp_path)
    channel = await pair.dial("gwb/999")
    events = await _events(channel, pair, HungUp)
    assert events[-1] == HungUp(HangupCause.NO_ROUTE_DESTINATION)
    rejects = [f for f in (s.frame() for s in pair.net.wire if s.source == B) if isinstance(f, FullFrame)
               and f.is_iax(IaxCommand.REJECT)]
    assert rejects and rejects[0].ies.text(InfoElement.CAUSE) == "No such context/extension"
    assert not pair.b.pbx.channels


@pytest.mark.asyncio
async def test_dtmf_both_ways(tmp_path: Path) -> None:
    pair = Pair(tmp_path)
    channel = await pair.dial("gwb/703")
    await _events(channel, pair, Answered)
    for digit in "42":
        assert await channel.send_digit(digit)
        await pair.settle(0.1)
    dtmf_frames = [f for f in (s.frame() for s in pair.net.wire if s.source == A) if isinstance(f, FullFrame)
                   and f.frame_type == FrameType.DTMF_END]
    assert [chr(f.subclass) for f in dtmf_frames] == ["4", "2"]
    got = []
    for _ in range(2):
        events = await _events(channel, pair, DigitReceived)
        got.append(events[-1])
    assert [e.digit for e in got if isinstance(e, DigitReceived)] == ["4", "2"]
    await channel.hangup()


@pytest.mark.asyncio
async def test_quelch_and_control_hold_become_hold_and_unhold(tmp_path: Path) -> None:
    pair = Pair(tmp_path)
    channel = await pair.dial("gwb/600")
    await _events(channel, pair, Answered)
    (call_b,) = pair.b.driver.channels
    pair.b.endpoint.quelch(call_b, pair.net.now)
    assert (await _events(channel, pair, IndicationReceived))[-1] == IndicationReceived(Indication.HOLD)
    pair.b.endpoint.unquelch(call_b, pair.net.now)
    assert (await _events(channel, pair, IndicationReceived))[-1] == IndicationReceived(Indication.UNHOLD)
    # And our own hold toward the peer is CONTROL HOLD (as chan_iax2's indicate).
    assert await channel.indicate(Indication.HOLD)
    await pair.settle()
    holds = [f for f in (s.frame() for s in pair.net.wire if s.source == A) if isinstance(f, FullFrame)
             and f.frame_type == FrameType.CONTROL and f.subclass == 16]
    assert holds
    await channel.hangup()


@pytest.mark.asyncio
async def test_unauthenticated_callers_only_reach_the_guest_context(tmp_path: Path) -> None:
    pair = Pair(tmp_path)
    stranger = pair.net.add(C, IaxEndpointSettings(peers=(IaxPeerSettings("b", host=B[0], port=B[1]),),
                                                   ping_interval=0, lagrq_interval=0), seed=5)
    stranger.call("b", "600", pair.net.now, context="secret")
    await pair.settle(0.1)
    inbound = pair.b_channel()
    assert (inbound.context, inbound.exten) == ("guest", "600")


@pytest.mark.asyncio
async def test_dial_iax2_peer_number_from_the_dialplan_bridges_two_iax2_calls(tmp_path: Path) -> None:
    pair = Pair(tmp_path)
    channel = await pair.dial("gwb/800")  # B's 800 is Dial(IAX2/gwa/123), A's 123 echoes
    await _events(channel, pair, Answered)
    assert len(pair.a.endpoint.active_calls()) == 2 and len(pair.b.endpoint.active_calls()) == 2
    port = channel.audio
    assert isinstance(port, IaxAudioPort)
    await pair.settle(0.1)
    sent = [_tone_frame(n) for n in range(10)]
    for frame in sent:
        port.write_frame(frame)
        await pair.settle(0.02)
    back = [await asyncio.wait_for(port.read_frame(), 1) for _ in range(10)]
    assert back == [g711.ulaw2lin(g711.lin2ulaw(f)) for f in sent]
    await channel.hangup()
    await pair.settle(0.2)
    assert not pair.b.pbx.channels and not pair.a.endpoint.active_calls()


@pytest.mark.asyncio
async def test_trunked_and_encrypted_calls_carry_audio(tmp_path: Path) -> None:
    options: list[dict[str, int]] = [{"trunk": True}, {"encryption": 3}]
    for kwargs in options:
        pair = Pair(tmp_path, trunk=bool(kwargs.get("trunk")), encryption=kwargs.get("encryption", 0))
        channel = await pair.dial("gwb/600")
        await _events(channel, pair, Answered)
        port = channel.audio
        assert isinstance(port, IaxAudioPort)
        await pair.settle(0.1)
        sent = [_tone_frame(n) for n in range(10)]
        for frame in sent:
            port.write_frame(frame)
            await pair.settle(0.02)
        await pair.settle(0.1)  # the last frames wait for the trunk timer (20 ms) on each side
        back = [await asyncio.wait_for(port.read_frame(), 1) for _ in range(10)]
        assert back == [g711.ulaw2lin(g711.lin2ulaw(f)) for f in sent], kwargs
        (call,) = pair.a.endpoint.active_calls()
        if "trunk" in kwargs:
            assert pair.a.endpoint.stats["trunk_sent"] > 0 and call.trunk
        else:
            assert call.cipher is not None
        await channel.hangup()


@pytest.mark.asyncio
async def test_the_calling_legs_codec_is_offered_first_so_the_bridge_needs_no_transcoding(tmp_path: Path) -> None:
    from types import SimpleNamespace

    pair = Pair(tmp_path)
    requestor = SimpleNamespace(audio=SimpleNamespace(codec="PCMA"), caller=CallerId("1001"))
    channel = await pair.a.pbx.request("IAX2/gwb/600", requestor=requestor)  # type: ignore[arg-type]
    await channel.call()
    await _events(channel, pair, Answered)
    inbound = pair.b_channel()
    assert isinstance(inbound.audio, IaxAudioPort) and inbound.audio.format == int(MediaFormat.ALAW)
    assert isinstance(channel.audio, IaxAudioPort) and channel.audio.codec == "PCMA"
    assert inbound.caller.number == "1001"
    await channel.hangup()


@pytest.mark.asyncio
async def test_dial_user_secret_at_host_calls_a_host_that_is_no_configured_peer(tmp_path: Path) -> None:
    pair = Pair(tmp_path)
    channel = await pair.dial(f"gwa:trunk-secret@{B[0]}/600")
    await _events(channel, pair, Answered)
    assert channel.name.startswith(f"IAX2/{B[0]}-")
    inbound = pair.b_channel()
    assert (inbound.context, inbound.exten) == ("from-iax2", "600")
    news = [f for f in (s.frame() for s in pair.net.wire if s.source == A) if isinstance(f, FullFrame)
            and f.is_iax(IaxCommand.NEW)]
    assert news[-1].ies.text(InfoElement.USERNAME) == "gwa"
    await channel.hangup()
    # A wrong secret: B refuses (as chan_iax2, "No authority found", cause 50) and no channel runs there.
    wrong = await pair.dial(f"gwa:guess@{B[0]}:{B[1]}/600")
    events = await _events(wrong, pair, HungUp)
    assert events[-1] == HungUp(HangupCause.FACILITY_NOT_SUBSCRIBED)
    assert not [c for c in pair.b.pbx.channels if not c.is_hungup]
