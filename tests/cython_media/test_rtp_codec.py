"""RTP header helpers: the compiled module and its pure twin, checked against RFC 3550 §5.1 and each other."""

from __future__ import annotations

import os
import struct
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cython_media import _rtp_py, rtp

IMPLEMENTATIONS: list[ModuleType] = [_rtp_py]
try:
    from cython_media import _rtp as _compiled
except ImportError:
    _compiled = None
else:
    IMPLEMENTATIONS.append(_compiled)


@pytest.fixture(params=IMPLEMENTATIONS, ids=lambda m: "compiled" if m is _compiled else "pure")
def impl(request: pytest.FixtureRequest) -> ModuleType:
    return request.param  # type: ignore[no-any-return]


def both() -> list[ModuleType]:
    assert _compiled is not None or os.environ.get("CENTRALITA_NO_EXTENSIONS"), "cython_media._rtp was not built"
    return IMPLEMENTATIONS


def outcome(module: ModuleType, fn: str, *args: object) -> object:
    """The result, or the exception type, message and offset: what must be identical across twins."""
    try:
        return ("ok", getattr(module, fn)(*args))
    except rtp.RtpError as exc:
        return ("RtpError", str(exc), exc.offset)
    except (TypeError, OverflowError) as exc:
        return (type(exc).__name__,)


def test_compiled_build_is_present_unless_pure_mode_is_forced() -> None:
    if os.environ.get("CENTRALITA_NO_EXTENSIONS"):
        assert rtp.ACCELERATED is False
    else:
        assert _compiled is not None, "cython_media._rtp was not built"
        assert rtp.ACCELERATED is True and rtp.rtp_header is _compiled.rtp_header
        # One exception class for both twins, so callers catch one thing.
        assert _compiled.RtpError is _rtp_py.RtpError is rtp.RtpError


# A G.711 packet as SIPp's uac_pcap scenario sends it (pcap/g711a.pcap, first packet layout):
# V=2, PT=8 (PCMA), marker on the first packet, 160 bytes of payload.
PCMA_FIRST = bytes.fromhex("8088") + struct.pack("!HII", 0x1234, 0x00000320, 0x11223344) + b"\xd5" * 160


def test_header_fields_of_a_pcma_packet(impl: ModuleType) -> None:
    assert impl.rtp_header(PCMA_FIRST) == (8, True, 0x1234, 0x320, 0x11223344, 12, 172)


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_header_accepts_any_buffer(impl: ModuleType, kind: type) -> None:
    assert impl.rtp_header(kind(PCMA_FIRST))[5:] == (12, 172)


def rfc_packet(*, csrcs: int = 0, ext_words: int | None = None, padding: int = 0, payload: bytes = b"abcd") -> bytes:
    first = 0x80 | csrcs | (0x10 if ext_words is not None else 0) | (0x20 if padding else 0)
    out = bytes((first, 0x00)) + struct.pack("!HII", 1, 2, 3) + struct.pack(f"!{csrcs}I", *range(csrcs))
    if ext_words is not None:
        out += struct.pack("!HH", 0xBEDE, ext_words) + b"\x10\xaa\x00\x00" * ext_words  # RFC 8285 one-byte
    out += payload
    if padding:
        out += bytes(padding - 1) + bytes((padding,))
    return out


@pytest.mark.parametrize(("packet", "offset", "end"), [
    (rfc_packet(), 12, 16),
    (rfc_packet(csrcs=3), 24, 28),
    (rfc_packet(csrcs=15), 72, 76),
    (rfc_packet(ext_words=0), 16, 20),
    (rfc_packet(ext_words=2), 24, 28),
    (rfc_packet(csrcs=2, ext_words=1, padding=4), 28, 32),
    (rfc_packet(padding=1), 12, 16),
    (rfc_packet(payload=b"", padding=4), 12, 12),
])
def test_payload_bounds_skip_csrc_extension_and_padding(impl: ModuleType, packet: bytes, offset: int,
                                                        end: int) -> None:
    assert impl.rtp_header(packet)[5:] == (offset, end)


@pytest.mark.parametrize(("packet", "message", "offset"), [
    (b"", "RTP packet of 0 bytes is shorter than the 12-byte fixed header", 0),
    (PCMA_FIRST[:11], "RTP packet of 11 bytes is shorter than the 12-byte fixed header", 0),
    (b"\x40" + PCMA_FIRST[1:], "RTP version 1, expected 2", 0),
    (b"\x00" + PCMA_FIRST[1:], "RTP version 0, expected 2", 0),
    (rfc_packet(csrcs=2, payload=b"")[:16], "CSRC list (2 entries) runs past the end of the 16-byte packet", 12),
    (rfc_packet(ext_words=0, payload=b"")[:14], "header extension runs past the end of the packet", 12),
    (rfc_packet(ext_words=3, payload=b"")[:20], "header extension (3 words) runs past the end of the 20-byte packet",
     12),
    (rfc_packet(payload=b"ab") + b"\x00", None, None),  # padding bit clear: trailing zero is payload
    (bytes((0xA0,)) + rfc_packet()[1:-1] + b"\x00", "padding bit set but the padding count is 0", 15),
    (bytes((0xA0,)) + rfc_packet()[1:-1] + b"\x06", "padding of 6 bytes is longer than the 4-byte payload", 15),
])
def test_invalid_packets_raise_rtp_error_with_offset(impl: ModuleType, packet: bytes, message: str | None,
                                                     offset: int | None) -> None:
    if message is None:
        assert impl.rtp_header(packet)[6] == len(packet)
        return
    with pytest.raises(rtp.RtpError) as caught:
        impl.rtp_header(packet)
    assert str(caught.value) == message
    assert caught.value.offset == offset


def test_build_header_bytes_on_the_wire(impl: ModuleType) -> None:
    assert impl.build_rtp_header(0, False, 0, 0, 0) == bytes.fromhex("800000000000000000000000")
    assert impl.build_rtp_header(101, True, 65535, 0xFFFFFFFF, 0xDEADBEEF) == \
        bytes.fromhex("80e5ffffffffffffdeadbeef")
    assert impl.build_rtp_packet(8, True, 0x1234, 0x320, 0x11223344, b"\xd5" * 160) == PCMA_FIRST


@pytest.mark.parametrize(("args", "message"), [
    ((128, False, 0, 0, 0), "payload type 128 out of range 0-127"),
    ((-1, False, 0, 0, 0), "payload type -1 out of range 0-127"),
    ((0, False, 65536, 0, 0), "sequence number 65536 out of range 0-65535"),
    ((0, False, 0, 1 << 32, 0), "timestamp 4294967296 out of range 0-4294967295"),
    ((0, False, 0, 0, -5), "SSRC -5 out of range 0-4294967295"),
])
def test_build_rejects_fields_out_of_range(impl: ModuleType, args: tuple[int, ...], message: str) -> None:
    with pytest.raises(rtp.RtpError, match=message):
        impl.build_rtp_header(*args)


def test_rewrite_wraps_sequence_and_timestamp(impl: ModuleType) -> None:
    packet = bytearray(impl.build_rtp_packet(0, True, 65535, 0xFFFFFF60, 1, b"\xff" * 160))
    impl.rewrite_rtp(packet, 0xCAFEBABE, 1, 0xA0)
    assert impl.rtp_header(packet) == (0, True, 0, 0, 0xCAFEBABE, 12, 172)
    impl.rewrite_rtp(packet, 7, -1, -1)  # negative deltas go backwards across the wrap
    assert impl.rtp_header(packet)[2:5] == (65535, 0xFFFFFFFF, 7)
    assert bytes(packet[12:]) == b"\xff" * 160


def test_rewrite_in_place_through_a_memoryview_slice(impl: ModuleType) -> None:
    # A relay receives into one big buffer and rewrites each packet where it lies.
    slab = bytearray(2 * 200)
    slab[200:372] = PCMA_FIRST
    impl.rewrite_rtp(memoryview(slab)[200:372], 9, 10, 160)
    assert impl.rtp_header(bytes(slab[200:372]))[:5] == (8, True, 0x1234 + 10, 0x320 + 160, 9)
    assert slab[:200] == bytes(200)


def test_rewrite_refuses_read_only_and_non_rtp(impl: ModuleType) -> None:
    with pytest.raises(TypeError):
        impl.rewrite_rtp(PCMA_FIRST, 1, 1, 1)
    with pytest.raises(rtp.RtpError, match="shorter than the 12-byte"):
        impl.rewrite_rtp(bytearray(5), 1, 1, 1)
    with pytest.raises(rtp.RtpError, match="RTP version 1"):
        impl.rewrite_rtp(bytearray(b"\x40" + PCMA_FIRST[1:]), 1, 1, 1)
    with pytest.raises(rtp.RtpError, match="SSRC 4294967296 out of range"):
        impl.rewrite_rtp(bytearray(PCMA_FIRST), 1 << 32, 1, 1)


def test_batch_rewrite_skips_and_reports_non_rtp(impl: ModuleType) -> None:
    packets = [bytearray(PCMA_FIRST), bytearray(b"\x00" * 20), bytearray(3), bytearray(PCMA_FIRST)]
    assert impl.rewrite_rtp_batch(packets, 42, 100, 16000) == [1, 2]
    for packet in (packets[0], packets[3]):
        assert impl.rtp_header(packet)[2:5] == (0x1234 + 100, 0x320 + 16000, 42)
    assert packets[1] == bytearray(20) and packets[2] == bytearray(3)
    assert impl.rewrite_rtp_batch([], 1, 1, 1) == []


# -- the twins agree -----------------------------------------------------------------------------------------

u32 = st.integers(0, 0xFFFFFFFF)
u16 = st.integers(0, 0xFFFF)


@settings(max_examples=300, deadline=None)
@given(pt=st.integers(0, 127), marker=st.booleans(), seq=u16, ts=u32, ssrc=u32, payload=st.binary(max_size=64))
def test_round_trip_build_then_parse_in_both_twins(pt: int, marker: bool, seq: int, ts: int, ssrc: int,
                                                   payload: bytes) -> None:
    for module in both():
        packet = module.build_rtp_packet(pt, marker, seq, ts, ssrc, payload)
        assert packet == module.build_rtp_header(pt, marker, seq, ts, ssrc) + payload
        assert module.rtp_header(packet) == (pt, marker, seq, ts, ssrc, 12, 12 + len(payload))
        assert packet[12:] == payload


@settings(max_examples=500, deadline=None)
@given(data=st.one_of(
    st.binary(max_size=48),
    st.builds(lambda head, rest: bytes((0x80 | (head & 0x3F),)) + rest, st.integers(0, 255), st.binary(max_size=80)),
))
def test_twins_agree_on_arbitrary_datagrams(data: bytes) -> None:
    results = [outcome(module, "rtp_header", data) for module in both()]
    assert all(result == results[0] for result in results)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(min_size=0, max_size=40), ssrc=st.integers(-2, (1 << 32) + 1),
       seq_delta=st.integers(-(1 << 40), 1 << 40), ts_delta=st.integers(-(1 << 40), 1 << 40))
def test_twins_agree_on_rewrite(data: bytes, ssrc: int, seq_delta: int, ts_delta: int) -> None:
    results = []
    for module in both():
        buf = bytearray(data)
        results.append((outcome(module, "rewrite_rtp", buf, ssrc, seq_delta, ts_delta), bytes(buf)))
    assert all(result == results[0] for result in results)


@settings(max_examples=200, deadline=None)
@given(seq=u16, ts=u32, seq_delta=st.integers(-70000, 70000), ts_delta=st.integers(-(1 << 33), 1 << 33), ssrc=u32)
def test_rewrite_is_modular_arithmetic(seq: int, ts: int, seq_delta: int, ts_delta: int, ssrc: int) -> None:
    for module in both():
        packet = bytearray(module.build_rtp_packet(0, False, seq, ts, 1, b"x"))
        module.rewrite_rtp(packet, ssrc, seq_delta, ts_delta)
        assert module.rtp_header(packet)[2:5] == ((seq + seq_delta) % 65536, (ts + ts_delta) % (1 << 32), ssrc)


@settings(max_examples=100, deadline=None)
@given(packets=st.lists(st.binary(max_size=30), max_size=8), ssrc=u32, seq_delta=u16, ts_delta=u32)
def test_twins_agree_on_batches(packets: list[bytes], ssrc: int, seq_delta: int, ts_delta: int) -> None:
    results = []
    for module in both():
        bufs = [bytearray(p) for p in packets]
        skipped = module.rewrite_rtp_batch(bufs, ssrc, seq_delta, ts_delta)
        results.append((skipped, [bytes(b) for b in bufs]))
    assert all(result == results[0] for result in results)


@settings(max_examples=300, deadline=None)
@given(fields=st.tuples(*[st.one_of(st.integers(-3, (1 << 33)), st.integers(-(1 << 70), 1 << 70))] * 4),
       marker=st.one_of(st.booleans(), st.integers(0, 2)))
def test_twins_agree_on_field_validation(fields: tuple[int, int, int, int], marker: int) -> None:
    pt, seq, ts, ssrc = fields
    results = [outcome(module, "build_rtp_header", pt, marker, seq, ts, ssrc) for module in both()]
    assert all(result == results[0] for result in results)
