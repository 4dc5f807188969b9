"""Trunking (RFC 5456 §7.1, §8.1.3.2; chan_iax2 ``trunk=yes``): several calls' voice to one peer in one meta
trunk frame every trunkfreq, with and without per-call timestamps, demultiplexed back to the right calls."""

from __future__ import annotations

import pytest

from core.iax2.calls import IncomingCall, VoiceReceived
from core.iax2.endpoint import IaxEndpoint, IaxEndpointSettings, IaxPeerSettings, IaxUserSettings
from core.iax2.frames import FullFrame, MiniFrame, TrunkFrame
from core.iax2.trunk import TrunkMultiplexer
from tests.iax2 import A, B, Network, of_type


def _trunked(calls: int, timestamps: bool, mtu: int = 1240) -> tuple[Network, IaxEndpoint, IaxEndpoint, list[int],
                                                                     list[int]]:
    net = Network()
    a = net.add(A, IaxEndpointSettings(peers=(IaxPeerSettings("b", host=B[0], username="alice", secret="pw",
                                                              trunk=True, calltoken=False),),
                                       trunk_timestamps=timestamps, trunk_mtu=mtu, ping_interval=0,
                                       lagrq_interval=0), seed=60)
    b = net.add(B, IaxEndpointSettings(users=(IaxUserSettings("alice", secret="pw", calltoken=False),),
                                       ping_interval=0, lagrq_interval=0), seed=61)
    ours, theirs = [], []
    for _ in range(calls):
        ours.append(a.call("b", "600", net.now))
        net.pump()
        event = of_type(net.events(b), IncomingCall)[0]
        b.answer(event.call, net.now)
        net.pump()
        theirs.append(event.call)
    net.events(a)
    return net, a, b, ours, theirs


@pytest.mark.parametrize("timestamps", [False, True])
def test_calls_share_one_trunk_frame_every_20_ms(timestamps: bool) -> None:
    net, a, b, ours, theirs = _trunked(3, timestamps)
    start = len(net.wire)
    for tick in range(10):
        for index, call in enumerate(ours):
            a.send_voice(call, bytes([index * 16 + tick]) * 160, net.now)
        net.pump()
        net.advance(0.02)
    from_a = [s for s in net.wire[start:] if s.source == A]
    frames = [s.frame() for s in from_a]
    full = [f for f in frames if isinstance(f, FullFrame)]
    trunk = [f for f in frames if isinstance(f, TrunkFrame)]
    assert not any(isinstance(f, MiniFrame) for f in frames)
    assert len([f for f in full if f.frame_type == 2]) == 3  # each call's first voice frame is a full frame
    assert len(trunk) == 9 and all(len(t.entries) == 3 and t.with_timestamps == timestamps for t in trunk)
    assert [t.timestamp - trunk[0].timestamp for t in trunk] == list(range(0, 180, 20))
    assert all(len(s.data) == 8 + 3 * ((6 if timestamps else 4) + 160) for s in from_a
               if isinstance(s.frame(), TrunkFrame))
    voices = of_type(net.events(b), VoiceReceived)
    for index, call in enumerate(theirs):
        mine = [v for v in voices if v.call == call]
        assert [v.payload[0] for v in mine] == [index * 16 + tick for tick in range(10)]
        assert [v.trunked for v in mine] == [False] + [True] * 9
        offsets = [v.timestamp - mine[0].timestamp for v in mine]
        if timestamps:
            assert offsets == list(range(0, 200, 20))  # each entry keeps its call's own timestamp
        else:
            # placed from the trunk frame's timestamp: spaced exactly, late by at most one trunk period
            assert [b - a for a, b in zip(offsets[1:], offsets[2:], strict=False)] == [20] * 8
            assert 20 <= offsets[1] <= 40


def test_trunking_saves_datagrams() -> None:
    net, a, b, ours, theirs = _trunked(6, True)
    start = len(net.wire)
    for _ in range(50):
        for call in ours:
            a.send_voice(call, b"\x00" * 160, net.now)
        net.pump()
        net.advance(0.02)
    frames = [s.frame() for s in net.wire[start:] if s.source == A]
    voice = [f for f in frames if isinstance(f, TrunkFrame) or (isinstance(f, FullFrame) and f.frame_type == 2)]
    assert len(voice) == 6 + 49  # 6 first full frames, then one trunk frame per 20 ms for all six calls
    assert len(of_type(net.events(b), VoiceReceived)) == 300


def test_trunk_frames_split_at_the_mtu() -> None:
    net, a, b, ours, theirs = _trunked(4, False, mtu=400)
    for call in ours:
        a.send_voice(call, b"\x00" * 160, net.now)  # first frames are full
    net.pump()
    net.advance(0.02)
    start = len(net.wire)
    for call in ours:
        a.send_voice(call, b"\x01" * 160, net.now)
    net.pump()
    net.advance(0.02)
    trunk = [s for s in net.wire[start:] if isinstance(s.frame(), TrunkFrame)]
    assert [len(s.frame().entries) for s in trunk] == [2, 2]  # type: ignore[union-attr]
    assert all(len(s.data) <= 400 for s in trunk)
    assert len(of_type(net.events(b), VoiceReceived)) == 8


def test_trunk_timestamp_is_predicted_and_restarts_after_idle() -> None:
    mux = TrunkMultiplexer(0.020)
    address = ("192.0.2.9", 4569)
    stamps = []
    for now in (10.000, 10.021, 10.039, 10.062, 10.080):
        mux.queue(address, 5, 0, b"x", now)
        stamps.append(mux.peer(address).stamp(now, 20))
    assert stamps == [0, 20, 40, 60, 80]
    assert mux.peer(address).stamp(16.0, 20) == 0  # more than five idle seconds: a new trunk timeline


def test_trunkfreq_limits() -> None:
    with pytest.raises(ValueError):
        TrunkMultiplexer(0.005)
