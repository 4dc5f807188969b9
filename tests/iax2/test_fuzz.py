"""Property tests: frames survive encode/parse unchanged, malformed bytes only ever raise IaxFrameError, and
no datagram, however broken, makes an exception leave the endpoint (architecture principle 6)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.iax2.calls import IncomingCall
from core.iax2.constants import ControlSubclass, FrameType, IaxCommand, InfoElement
from core.iax2.endpoint import IaxEndpoint, IaxEndpointSettings, IaxPeerSettings, IaxUserSettings
from core.iax2.frames import FullFrame, IaxFrameError, MiniFrame, TrunkEntry, TrunkFrame, VideoFrame, parse_datagram
from core.iax2.ies import IE_KINDS, IeKind, Ies, SocketAddress
from tests.iax2 import A, B, Network, of_type
from tests.iax2.test_frames import IAXMODEM_NEW, IAXMODEM_PONG, IAXMODEM_REGREQ_MD5, IAXMODEM_VOICE

call_numbers = st.integers(1, 0x7FFF)
u8 = st.integers(0, 255)


def _ie_value(ie: int) -> st.SearchStrategy[object]:
    kind = IE_KINDS.get(ie, IeKind.RAW)
    return {
        IeKind.STRING: st.text(max_size=40), IeKind.U8: u8, IeKind.U16: st.integers(0, 0xFFFF),
        IeKind.U32: st.integers(0, 0xFFFFFFFF), IeKind.VERSIONED_U64: st.integers(0, 2**64 - 1),
        IeKind.EMPTY: st.none(), IeKind.RAW: st.binary(max_size=40),
        IeKind.ADDRESS: st.builds(SocketAddress, st.ip_addresses(v=4).map(str), st.integers(0, 65535)),
    }[kind]


ie_pairs = st.integers(1, 60).flatmap(lambda ie: st.tuples(st.just(ie), _ie_value(ie)))
subclasses = st.one_of(st.integers(0, 0x7F), st.integers(7, 62).map(lambda s: 1 << s))
full_frames = st.builds(
    FullFrame, call_numbers, st.integers(0, 0x7FFF), st.integers(0, 0xFFFFFFFF), u8, u8,
    st.sampled_from([t for t in FrameType if t != FrameType.VIDEO]), subclasses, st.binary(max_size=64),
    st.booleans())


@given(full_frames)
def test_full_frames_round_trip(frame: FullFrame) -> None:
    assert parse_datagram(frame.encode()) == frame


@given(st.lists(ie_pairs, max_size=8))
def test_information_elements_round_trip(pairs: list[tuple[int, object]]) -> None:
    ies = Ies.of(*pairs)  # type: ignore[arg-type]
    assert Ies.parse(ies.encode()) == ies


@given(call_numbers, st.integers(0, 0xFFFF), st.binary(max_size=200))
def test_mini_frames_round_trip(call: int, ts: int, payload: bytes) -> None:
    assert parse_datagram(MiniFrame(call, ts, payload).encode()) == MiniFrame(call, ts, payload)


@given(st.booleans(), st.integers(0, 0xFFFFFFFF),
       st.lists(st.tuples(st.integers(0, 0x7FFF), st.binary(max_size=50), st.integers(0, 0xFFFF)), max_size=6))
def test_trunk_frames_round_trip(with_ts: bool, ts: int, entries: list[tuple[int, bytes, int]]) -> None:
    frame = TrunkFrame(ts, tuple(TrunkEntry(c, p, t if with_ts else None) for c, p, t in entries), with_ts)
    assert parse_datagram(frame.encode()) == frame


@given(st.integers(0, 0x7FFF), st.integers(0, 0x7FFF), st.binary(max_size=50), st.booleans())
def test_video_frames_round_trip(call: int, ts: int, payload: bytes, marker: bool) -> None:
    frame = VideoFrame(call, ts, payload, marker)
    assert parse_datagram(frame.encode()) == frame


@given(st.binary(max_size=120))
def test_arbitrary_bytes_parse_or_raise_iax_frame_error(data: bytes) -> None:
    try:
        frame = parse_datagram(data)
        if isinstance(frame, FullFrame):
            frame.ies  # noqa: B018 - parsing the elements may raise too
    except IaxFrameError as error:
        assert 0 <= error.offset <= len(data)


def _live_endpoint(encryption: int = 0) -> tuple[IaxEndpoint, int, int]:
    net = Network()
    a = net.add(A, IaxEndpointSettings(peers=(IaxPeerSettings("b", host=B[0], username="u", secret="p",
                                                              calltoken=False, encryption=encryption),)), seed=70)
    b = net.add(B, IaxEndpointSettings(users=(IaxUserSettings("u", secret="p", calltoken=False,
                                                              encryption=encryption),),
                                       peers=(IaxPeerSettings("dyn", secret="x"),)), seed=71)
    call = a.call("b", "1", net.now)
    net.pump()
    event = of_type(net.events(b), IncomingCall)[0]
    b.answer(event.call, net.now)
    net.pump()
    return b, event.call, call


SEEDS = [IAXMODEM_NEW, IAXMODEM_PONG, IAXMODEM_REGREQ_MD5, IAXMODEM_VOICE]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_endpoint_never_raises(data: st.DataObject) -> None:
    endpoint, ours, theirs = _live_endpoint(data.draw(st.sampled_from([0, 0x8001])))
    for _ in range(data.draw(st.integers(1, 6))):
        choice = data.draw(st.integers(0, 3))
        if choice == 0:
            datagram = data.draw(st.binary(max_size=80))
        elif choice == 1:
            base = bytearray(data.draw(st.sampled_from(SEEDS)))
            for _flip in range(data.draw(st.integers(1, 5))):
                index = data.draw(st.integers(0, len(base) - 1))
                base[index] = data.draw(u8)
            datagram = bytes(base[:data.draw(st.integers(0, len(base)))])
        else:
            # frames aimed at the live call, with random sequence numbers, commands and trailing bytes
            frame_type = data.draw(st.sampled_from([FrameType.IAX, FrameType.CONTROL, FrameType.VOICE,
                                                    FrameType.DTMF_END, FrameType.TEXT, FrameType.HTML]))
            subclass = data.draw(st.sampled_from(list(IaxCommand) + list(ControlSubclass) + [4, 0x7F]))
            tail = data.draw(st.binary(max_size=30)) if choice == 2 else Ies.of(
                (InfoElement.CAUSECODE, data.draw(u8)), (InfoElement.CALLTOKEN, b"")).encode()
            datagram = FullFrame(theirs, ours if data.draw(st.booleans()) else 0, data.draw(st.integers(0, 99999)),
                                 data.draw(u8), data.draw(u8), frame_type, int(subclass), tail).encode()
        endpoint.receive_datagram(datagram, A, 1000.0)
        endpoint.datagrams_to_send()
        endpoint.handle_timer(1000.0 + data.draw(st.floats(0, 100)))
    while endpoint.next_event() is not None:
        pass
