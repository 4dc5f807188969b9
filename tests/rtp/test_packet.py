"""RTP packet parse/build (RFC 3550 §5.1, header extensions of RFC 8285 skipped as opaque words)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.rtp.packet import RtpError, RtpPacket, StaticPayloadType, build_rtp, clock_rate_of, parse_rtp


def test_parse_a_plain_pcmu_packet() -> None:
    wire = bytes.fromhex("80 00 30 39 00 01 e2 40 de ad be ef") + b"\x7f" * 160
    packet = parse_rtp(wire)
    assert packet == RtpPacket(0, 12345, 123456, 0xDEADBEEF, b"\x7f" * 160)
    assert packet.serialize() == wire


def test_marker_csrc_and_padding_on_the_wire() -> None:
    # V=2 P=1 X=0 CC=2, M=1 PT=8, two CSRCs, 3 payload octets, 5 octets of padding (count in the last).
    wire = (bytes((0xA2, 0x88)) + struct.pack("!HII", 7, 8, 9) + struct.pack("!II", 0x01020304, 0x0A0B0C0D)
            + b"abc" + b"\x00" * 4 + b"\x05")
    packet = parse_rtp(wire)
    assert (packet.marker, packet.payload_type, packet.csrcs, packet.payload, packet.padding) == \
        (True, 8, (0x01020304, 0x0A0B0C0D), b"abc", 5)
    assert packet.serialize() == wire


@pytest.mark.parametrize("profile", [0xBEDE, 0x1000, 0x1234])
def test_header_extension_is_skipped_and_kept(profile: int) -> None:
    # RFC 8285 §4.2 one-byte elements (ID 1, len 1 -> 0x10, two bytes) padded to a word; or two-byte form.
    body = bytes.fromhex("10aabb00 22010203")
    wire = bytes((0x90, 0x00)) + struct.pack("!HII", 1, 2, 3) + struct.pack("!HH", profile, 2) + body + b"pay"
    packet = parse_rtp(wire)
    assert (packet.extension_profile, packet.extension, packet.payload) == (profile, body, b"pay")
    assert build_rtp(0, 1, 2, 3, b"pay", extension_profile=profile, extension=body) == wire


def test_version_and_truncation_errors_name_the_offset() -> None:
    with pytest.raises(RtpError, match="RTP version 3") as caught:
        parse_rtp(b"\xc0" + bytes(15))
    assert caught.value.offset == 0
    with pytest.raises(RtpError, match="CSRC list") as caught:
        parse_rtp(b"\x8f" + bytes(20))
    assert caught.value.offset == 12


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"csrcs": tuple(range(16))}, "at most 15"),
    ({"padding": 256}, "1-255"),
    ({"extension_profile": 0xBEDE, "extension": b"abc"}, "32-bit words"),
    ({"extension_profile": 1 << 16}, "16 bits"),
])
def test_build_refuses_what_the_wire_cannot_carry(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(RtpError, match=message):
        build_rtp(0, 1, 2, 3, b"", **kwargs)  # type: ignore[arg-type]


def test_static_clock_rates_and_dynamic_map() -> None:
    assert clock_rate_of(StaticPayloadType.PCMU) == clock_rate_of(8) == clock_rate_of(9) == 8000  # G.722: 8 kHz
    assert clock_rate_of(111, {111: 48000}) == 48000
    with pytest.raises(RtpError, match="payload type 96"):
        clock_rate_of(96)


@settings(max_examples=300, deadline=None)
@given(pt=st.integers(0, 127), seq=st.integers(0, 0xFFFF), ts=st.integers(0, 0xFFFFFFFF),
       ssrc=st.integers(0, 0xFFFFFFFF), payload=st.binary(max_size=40), marker=st.booleans(),
       csrcs=st.lists(st.integers(0, 0xFFFFFFFF), max_size=15),
       ext=st.one_of(st.none(), st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=12).map(
           lambda b: b + bytes(-len(b) % 4)))),
       padding=st.integers(0, 255))
def test_round_trip(pt: int, seq: int, ts: int, ssrc: int, payload: bytes, marker: bool, csrcs: list[int],
                    ext: tuple[int, bytes] | None, padding: int) -> None:
    packet = RtpPacket(pt, seq, ts, ssrc, payload, marker, tuple(csrcs), None if ext is None else ext[0],
                       b"" if ext is None else ext[1], padding)
    assert parse_rtp(packet.serialize()) == packet
