"""Framing SIP messages out of a TCP/TLS byte stream (RFC 3261 §18.3) with StreamParser."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.sip.message import MAX_MESSAGE_SIZE, SipParseError, SipRequest, SipResponse, StreamParser
from tests.sip.messages import load, names

# What SIPp sent and received on its TCP connection, in order.
TCP_FLOW = [load(name) for name in names("sipp", ".msg") if name.startswith("sipp/tcp_")]
STREAM = b"".join(TCP_FLOW)


def test_a_whole_flow_in_one_segment() -> None:
    parser = StreamParser()
    messages = parser.feed(STREAM)
    assert [m.method if isinstance(m, SipRequest) else m.status for m in messages] == [
        "INVITE", 180, 200, "ACK", "BYE", 200
    ]  # fmt: skip
    assert [m.wire_size for m in messages] == [len(data) for data in TCP_FLOW]
    assert [m.body for m in messages] == [data.split(b"\r\n\r\n", 1)[1] for data in TCP_FLOW]
    assert parser.buffered == 0


def test_byte_by_byte() -> None:
    parser = StreamParser()
    messages: list[SipRequest | SipResponse] = []
    for index in range(len(STREAM)):
        messages += parser.feed(STREAM[index : index + 1])
    assert [m.encode() for m in messages] == [m.encode() for m in StreamParser().feed(STREAM)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(STREAM) - 1), max_size=12, unique=True))
def test_any_segmentation_gives_the_same_messages(cuts: list[int]) -> None:
    parser = StreamParser()
    bounds = [0, *sorted(cuts), len(STREAM)]
    messages: list[SipRequest | SipResponse] = []
    for start, end in zip(bounds, bounds[1:], strict=False):
        messages += parser.feed(STREAM[start:end])
    assert [m.encode() for m in messages] == [m.encode() for m in StreamParser().feed(STREAM)]


def test_waits_for_the_whole_body() -> None:
    invite = TCP_FLOW[0]
    parser = StreamParser()
    assert parser.feed(invite[:-10]) == []
    [message] = parser.feed(invite[-10:])
    assert message.body.endswith(b"PCMU/8000\r\n")


def test_rfc4475_clerr_on_a_stream_waits_for_more() -> None:
    """§3.1.2.2: on a stream a Content-Length larger than what arrived means "more is coming"."""
    parser = StreamParser()
    assert parser.feed(load("rfc4475/clerr.sip")) == []
    assert parser.buffered > 0


def test_crlf_keepalives_between_messages() -> None:
    """RFC 3261 §7.5 (CRLFs before a start line are ignored) and RFC 5626 §4.4.1 (CRLFCRLF ping)."""
    parser = StreamParser()
    assert parser.feed(b"\r\n\r\n") == []
    assert parser.keepalives == 1
    messages = parser.feed(b"\r\n\r\n" + TCP_FLOW[1] + b"\r\n" + TCP_FLOW[2])
    assert [m.status for m in messages if isinstance(m, SipResponse)] == [180, 200]
    assert parser.keepalives == 2


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n", "Missing Content-Length"),  # §18.3: MUST on streams
        (b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n", "Malformed Content-Length"),  # RFC 4475 ncl
        (b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 3\r\nl: 4\r\n\r\n", "Malformed Content-Length"),  # mcl01
        (b"OPTIONS sip:a@b SIP/2.0\r\nl: 99999999\r\n\r\n", "Message Too Large"),
        (b"garbage garbage\r\n\r\n", "Malformed Request-Line"),
    ],
)
def test_unframeable_streams_raise(data: bytes, reason: str) -> None:
    with pytest.raises(SipParseError, match=reason):
        StreamParser().feed(data)


def test_header_block_without_end_is_bounded() -> None:
    parser = StreamParser(max_size=4096)
    assert parser.feed(b"OPTIONS sip:a@b SIP/2.0\r\n") == []
    with pytest.raises(SipParseError, match="Message Too Large"):
        for _ in range(200):
            parser.feed(b"X-Filler: " + b"y" * 30 + b"\r\n")


def test_default_limit_is_the_datagram_limit() -> None:
    assert StreamParser().max_size == MAX_MESSAGE_SIZE
