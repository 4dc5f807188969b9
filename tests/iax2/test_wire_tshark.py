"""What the stack puts on the wire, read back by an independent dissector: Wireshark's IAX2 decoder (tshark)
sees the fields we meant in calls, registration, pokes, DTMF, voice full and mini frames, hang-ups, and trunk
frames with timestamps, and flags nothing as malformed - except its own known false positive on trunk
frames without timestamps, which is checked with our parser instead."""

from __future__ import annotations

from pathlib import Path

from core.iax2.calls import IncomingCall
from core.iax2.endpoint import IaxEndpointSettings, IaxPeerSettings, IaxRegistrationSettings, IaxUserSettings
from core.iax2.frames import TrunkFrame, parse_datagram
from tests.iax2 import A, B, Network, of_type
from tests.interop.iax2_tshark import dissect, flagged, is_trunk_without_timestamps, write_pcap


def _traffic(trunk_timestamps: bool) -> Network:
    net = Network()
    a = net.add(A, IaxEndpointSettings(
        peers=(IaxPeerSettings("b", host=B[0], username="alice", secret="pw", trunk=True),),
        registrations=(IaxRegistrationSettings(B[0], "gw", "pw2"),), trunk_timestamps=trunk_timestamps,
        ping_interval=0.1, lagrq_interval=0.15), seed=80)
    b = net.add(B, IaxEndpointSettings(users=(IaxUserSettings("alice", secret="pw"),),
                                       peers=(IaxPeerSettings("gw", secret="pw2", qualify_ms=1000),)), seed=81)
    a.start(net.now)
    net.pump()
    calls = [a.call("b", f"60{i}", net.now) for i in range(2)]
    net.pump()
    for event in of_type(net.events(b), IncomingCall):
        b.ringing(event.call, net.now)
        b.answer(event.call, net.now)
    net.pump()
    for _ in range(5):
        for call in calls:
            a.send_voice(call, b"\xff" * 160, net.now)
        net.pump()
        net.advance(0.02)
    for event_call in list(b.calls):
        if b.calls[event_call].kind.value == "call":
            b.send_voice(event_call, b"\x7f" * 160, net.now)
            b.send_voice(event_call, b"\x7f" * 160, net.now + 0.02)
    a.send_dtmf(calls[0], "5", net.now)
    net.pump()
    net.advance(0.3)
    a.hangup(calls[0], net.now)
    b.hangup(next(c for c, call in b.calls.items() if call.kind.value == "call" and call.alive), net.now)
    net.pump()
    net.advance(1)
    return net


def test_calls_registration_and_trunk_with_timestamps_decode_cleanly(tmp_path: Path) -> None:
    net = _traffic(trunk_timestamps=True)
    pcap = tmp_path / "iax2.pcap"
    write_pcap(pcap, [(s.source, s.destination, s.data) for s in net.wire])
    assert flagged(pcap, [4569]) == []
    rows = dissect(pcap, ["frame.number", "iax2.packet_type", "iax2.iax.subclass", "iax2.control.subclass",
                          "iax2.dtmf.subclass", "iax2.trunk.ncalls", "iax2.iax.causecode",
                          "iax2.iax.auth.md5"], [4569])
    commands = {int(sub) for row in rows for sub in row[2].split(",") if sub}
    assert {1, 2, 3, 4, 5, 7, 8, 9, 11, 12, 13, 14, 15, 30} <= commands  # NEW..PONG, ACK, HANGUP, auth, reg, POKE
    assert any(row[3] == "3" for row in rows) and any(row[3] == "4" for row in rows)  # RINGING, ANSWER
    assert any(row[4] == "5" for row in rows)
    assert any(row[5] == "2" for row in rows)  # trunk frames with both calls
    assert sum(1 for row in rows if row[6] == "0x10") == 2  # both crossing HANGUPs carry CAUSECODE 16
    assert sum(1 for row in rows if row[7]) == 3  # two AUTHREPs and the authenticated REGREQ
    assert 10 not in commands  # the crossing hang-ups end cleanly: no INVAL


def test_trunk_without_timestamps_is_wiresharks_false_positive_only(tmp_path: Path) -> None:
    net = _traffic(trunk_timestamps=False)
    pcap = tmp_path / "iax2.pcap"
    datagrams = [(s.source, s.destination, s.data) for s in net.wire]
    write_pcap(pcap, datagrams)
    bad = flagged(pcap, [4569])
    assert bad, "expected Wireshark's known false positive on timestamp-less trunk frames"
    for number in bad:
        payload = datagrams[number - 1][2]
        assert is_trunk_without_timestamps(payload), f"frame {number} flagged and it is not a trunk frame"
        frame = parse_datagram(payload)
        assert isinstance(frame, TrunkFrame) and len(frame.entries) == 2
        assert all(len(entry.payload) == 160 for entry in frame.entries)
