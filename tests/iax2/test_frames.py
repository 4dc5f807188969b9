"""The wire format: frames and information elements byte for byte (RFC 5456 §8), read from real iaxmodem
datagrams captured on loopback and built by us, with the errors a malformed datagram must raise."""

from __future__ import annotations

import struct
from datetime import datetime, timezone

import pytest

from core.iax2.constants import (
    AuthMethod,
    ControlSubclass,
    FrameType,
    IaxCommand,
    InfoElement,
    MediaFormat,
)
from core.iax2.frames import (
    FullFrame,
    IaxFrameError,
    MiniFrame,
    TrunkEntry,
    TrunkFrame,
    VideoFrame,
    compress_subclass,
    parse_datagram,
    uncompress_subclass,
)
from core.iax2.ies import IE_KINDS, IeKind, Ies, SocketAddress, decode_datetime, encode_datetime, encode_msgcount

# Datagrams iaxmodem 1.2.0 (libiax2 of 2007) sent to us on 127.0.0.1 (tap of core.iax2.transport).
IAXMODEM_REGREQ = bytes.fromhex("c9140000000000030000060d06086961786d6f64656d1302003c")
IAXMODEM_REGREQ_MD5 = bytes.fromhex(
    "ccba14bb000000360101060d06086961786d6f64656d1020306566316439373133333766356132363662626239396430"
    "35333537616136631302003c")
IAXMODEM_NEW = bytes.fromhex(
    "c916000000000003000006010b020002020a3830303535353132313204084a6f686e20446f650904000000040804000000"
    "4c06086961786d6f64656d01033630300d03363030")
IAXMODEM_PONG = bytes.fromhex(
    "c91629aa000003e9030506032e04000000002f040000000030040000000131020028320400000000330400000000")
IAXMODEM_REGREL_RETRY = bytes.fromhex("c9178000000000030000061106086961786d6f64656d160745786974696e67")
IAXMODEM_VOICE = bytes.fromhex("c91629aa0000001402040204") + b"\xff" * 160
IAXMODEM_MINI = bytes.fromhex("4cbc003c") + b"\xff" * 160
# What we sent back: REGAUTH with the challenge iaxmodem answered above, and the REGACK.
OUR_REGAUTH = bytes.fromhex("94bb4cba000000000001060e0e0200020f0936343738393232373906086961786d6f64656d")
OUR_REGACK = bytes.fromhex("94bb4cba000000060102060f06086961786d6f64656d1f04357a443c1302003c12100200c8677f000001"
                           "0000000000000000")


def test_iaxmodem_registration_request_decodes() -> None:
    frame = parse_datagram(IAXMODEM_REGREQ)
    assert isinstance(frame, FullFrame)
    assert (frame.source_call, frame.dest_call, frame.timestamp) == (0x4914, 0, 3)
    assert (frame.oseqno, frame.iseqno, frame.frame_type, frame.subclass) == (0, 0, FrameType.IAX, IaxCommand.REGREQ)
    assert list(frame.ies) == [(InfoElement.USERNAME, "iaxmodem"), (InfoElement.REFRESH, 60)]
    assert frame.encode() == IAXMODEM_REGREQ


def test_iaxmodem_md5_answer_decodes() -> None:
    frame = parse_datagram(IAXMODEM_REGREQ_MD5)
    assert isinstance(frame, FullFrame)
    assert frame.dest_call == 0x14BB and (frame.oseqno, frame.iseqno) == (1, 1)
    assert frame.ies.text(InfoElement.MD5_RESULT) == "0ef1d971337f5a266bbb99d05357aa6c"
    assert frame.encode() == IAXMODEM_REGREQ_MD5


def test_iaxmodem_new_carries_its_caller_id_and_codecs() -> None:
    frame = parse_datagram(IAXMODEM_NEW)
    assert isinstance(frame, FullFrame) and frame.is_iax(IaxCommand.NEW)
    ies = frame.ies
    assert ies.items[0] == (InfoElement.VERSION, 2)  # VERSION first, RFC 5456 §6.2.2
    assert ies.text(InfoElement.CALLING_NUMBER) == "8005551212"
    assert ies.text(InfoElement.CALLING_NAME) == "John Doe"
    assert ies.text(InfoElement.CALLED_NUMBER) == "600" and ies.text(InfoElement.DNID) == "600"
    assert ies.format_mask() == MediaFormat.ULAW
    assert ies.capability_mask() == MediaFormat.ULAW | MediaFormat.ALAW | MediaFormat.SLIN
    assert frame.encode() == IAXMODEM_NEW


def test_iaxmodem_pong_receiver_report() -> None:
    frame = parse_datagram(IAXMODEM_PONG)
    assert isinstance(frame, FullFrame) and frame.is_iax(IaxCommand.PONG)
    ies = frame.ies
    assert ies.number(InfoElement.RR_PKTS) == 1 and ies.number(InfoElement.RR_DELAY) == 40
    assert ies.number(InfoElement.RR_JITTER) == 0 and ies.number(InfoElement.RR_OOO) == 0


def test_retransmission_bit_is_not_part_of_the_destination_call() -> None:
    frame = parse_datagram(IAXMODEM_REGREL_RETRY)
    assert isinstance(frame, FullFrame)
    assert frame.retransmission and frame.dest_call == 0 and frame.is_iax(IaxCommand.REGREL)
    assert frame.ies.text(InfoElement.CAUSE) == "Exiting"
    assert frame.encode() == IAXMODEM_REGREL_RETRY


def test_voice_full_frame_and_mini_frame() -> None:
    voice = parse_datagram(IAXMODEM_VOICE)
    assert isinstance(voice, FullFrame)
    assert voice.frame_type == FrameType.VOICE and voice.subclass == MediaFormat.ULAW  # sent as 0x04, not 0x82
    assert voice.payload == b"\xff" * 160 and voice.timestamp == 20
    mini = parse_datagram(IAXMODEM_MINI)
    assert mini == MiniFrame(0x4CBC, 60, b"\xff" * 160)
    assert mini.encode() == IAXMODEM_MINI


def test_our_registrar_answers_are_byte_exact() -> None:
    regauth = FullFrame(0x14BB, 0x4CBA, 0, 0, 1, FrameType.IAX, IaxCommand.REGAUTH, Ies.of(
        (InfoElement.AUTHMETHODS, int(AuthMethod.MD5)), (InfoElement.CHALLENGE, "647892279"),
        (InfoElement.USERNAME, "iaxmodem")).encode())
    assert regauth.encode() == OUR_REGAUTH
    regack = parse_datagram(OUR_REGACK)
    assert isinstance(regack, FullFrame)
    assert regack.ies.address() == SocketAddress("127.0.0.1", 0xC867)
    # The sockaddr_in image: family 2 little-endian, port and address big-endian, 8 zero bytes.
    assert SocketAddress("127.0.0.1", 51303).encode() == bytes.fromhex("0200c8677f0000010000000000000000")


@pytest.mark.parametrize(("value", "byte"), [
    (IaxCommand.NEW, 0x01), (IaxCommand.CALLTOKEN, 0x28), (0x7F, 0x7F), (MediaFormat.ULAW, 0x04),
    (MediaFormat.G729, 0x88), (MediaFormat.H264, 0x95), (MediaFormat.OPUS, 0xA2), (1 << 62, 0xBE),
])
def test_subclass_compression(value: int, byte: int) -> None:
    assert compress_subclass(value) == byte
    assert uncompress_subclass(byte) == value


def test_both_encodings_of_a_small_power_of_two_decode_alike() -> None:
    assert uncompress_subclass(0x82) == uncompress_subclass(0x04) == MediaFormat.ULAW


@pytest.mark.parametrize("value", [0x81, 0x300, 1 << 63, -1])
def test_uncompressible_subclasses_are_refused(value: int) -> None:
    with pytest.raises(ValueError):
        compress_subclass(value)


def test_compressed_subclass_out_of_range_is_an_error_at_byte_11() -> None:
    data = struct.pack("!HHIBBBB", 0x8001, 0, 0, 0, 0, FrameType.VOICE, 0xFF)
    with pytest.raises(IaxFrameError) as error:
        parse_datagram(data)
    assert error.value.offset == 11


def test_meta_trunk_frame_without_timestamps_layout() -> None:
    frame = TrunkFrame(1000, (TrunkEntry(5, b"\xaa" * 3), TrunkEntry(9, b"\xbb")), with_timestamps=False)
    data = frame.encode()
    assert data == bytes.fromhex("00000100000003e8") + bytes.fromhex("00050003aaaaaa") + bytes.fromhex("00090001bb")
    assert parse_datagram(data) == frame


def test_meta_trunk_frame_with_timestamps_layout() -> None:
    frame = TrunkFrame(60, (TrunkEntry(5, b"\xaa" * 2, 0x1234), TrunkEntry(7, b"", 0xFFFF)), with_timestamps=True)
    data = frame.encode()
    assert data == (bytes.fromhex("000001010000003c") + bytes.fromhex("000200051234aaaa")
                    + bytes.fromhex("00000007ffff"))
    assert parse_datagram(data) == frame


def test_meta_video_frame_layout() -> None:
    frame = VideoFrame(3, 0x1234, b"vid", marker=True)
    assert frame.encode() == bytes.fromhex("00008003") + bytes.fromhex("9234") + b"vid"
    assert parse_datagram(frame.encode()) == frame


def test_video_full_frame_end_marker_travels_in_bit_6() -> None:
    frame = FullFrame(1, 2, 3, 0, 0, FrameType.VIDEO, int(MediaFormat.H264), b"x", marker=True)
    assert frame.encode()[11] == 0x80 | 0x40 | 21
    assert parse_datagram(frame.encode()) == frame


@pytest.mark.parametrize(("data", "offset", "reason"), [
    (b"\x80\x01", 2, "shorter than any"),
    (bytes.fromhex("800100000000000000000601") + b"\x06", 12, "truncated information element"),
    (bytes.fromhex("800100000000000000000601") + bytes.fromhex("0605ab"), 13, "runs past"),
    (bytes.fromhex("800100000000000000000601") + bytes.fromhex("130100"), 13, "REFRESH must be 2 bytes"),
    (bytes.fromhex("800100000000000000000601") + bytes.fromhex("2a020010"), 13, "CAUSECODE must be 1 bytes"),
    (bytes.fromhex("800100000000000000000601") + bytes.fromhex("120400000000"), 14, "APPARENT ADDR"),
    (bytes.fromhex("8001000000000000000006"), 11, "shorter than its 12-byte header"),
    (bytes.fromhex("0000020000000000"), 2, "unknown meta command"),
    (bytes.fromhex("0000010200000000"), 3, "unknown trunk command data"),
    (bytes.fromhex("00000100000000000005"), 8, "truncated trunk entry"),
    (bytes.fromhex("0000010000000000000500ff01"), 8, "runs past the end"),
    (bytes.fromhex("800100000000000000000000"), 10, "frame type 0"),
])
def test_malformed_datagrams_name_their_offset(data: bytes, offset: int, reason: str) -> None:
    with pytest.raises(IaxFrameError) as error:
        frame = parse_datagram(data)
        assert isinstance(frame, FullFrame)
        frame.ies  # noqa: B018 - the IEs are parsed on access
    assert error.value.offset == offset
    assert reason in str(error.value)


def _sample(kind: IeKind) -> object:
    return {IeKind.STRING: "text", IeKind.U8: 0xAB, IeKind.U16: 0xABCD, IeKind.U32: 0xDEADBEEF,
            IeKind.VERSIONED_U64: 1 << 34, IeKind.ADDRESS: SocketAddress("192.0.2.7", 4569),
            IeKind.EMPTY: None, IeKind.RAW: b"\x00\x01\xfe"}[kind]


@pytest.mark.parametrize("ie", sorted(IE_KINDS))
def test_every_information_element_round_trips(ie: int) -> None:
    kind = IE_KINDS[ie]
    ies = Ies.of((ie, _sample(kind)))  # type: ignore[arg-type]
    data = ies.encode()
    expected_size = {IeKind.U8: 1, IeKind.U16: 2, IeKind.U32: 4, IeKind.EMPTY: 0, IeKind.VERSIONED_U64: 9,
                     IeKind.ADDRESS: 16, IeKind.STRING: 4, IeKind.RAW: 3}[kind]
    assert data[0] == ie and data[1] == expected_size
    assert Ies.parse(data) == ies


def test_versioned_format_elements_and_priority() -> None:
    ies = Ies.parse(bytes.fromhex("0904000000043809000000000400000000"))
    assert ies.number(InfoElement.FORMAT) == MediaFormat.ULAW
    assert ies.format_mask() == MediaFormat.OPUS  # FORMAT2 wins: it can say what 32 bits cannot
    assert ies.capability_mask() == 0  # CAPABILITY absent
    # FORMAT2 wins over FORMAT whatever the order (Asterisk's parser)
    assert Ies.of((InfoElement.FORMAT2, 1 << 34), (InfoElement.FORMAT, 4)).format_mask() == 1 << 34
    # an unknown version is kept as opaque bytes instead of failing the frame
    assert Ies.parse(bytes.fromhex("380201ff")).get(InfoElement.FORMAT2) == b"\x01\xff"


def test_ipv6_apparent_address_is_a_sockaddr_in6() -> None:
    address = SocketAddress("2001:db8::1", 4569, flowinfo=7, scope_id=3)
    data = address.encode()
    assert len(data) == 28 and data[:2] == b"\x0a\x00" and data[2:4] == b"\x11\xd9"
    assert SocketAddress.decode(data) == address


def test_strings_survive_any_bytes() -> None:
    raw = bytes(range(256))[:255]
    ies = Ies.parse(bytes((InfoElement.CALLING_NAME, len(raw))) + raw)
    assert ies.raw(InfoElement.CALLING_NAME) == raw
    assert ies.encode() == bytes((InfoElement.CALLING_NAME, len(raw))) + raw


def test_element_over_255_bytes_cannot_be_built() -> None:
    with pytest.raises(ValueError):
        Ies.of((InfoElement.CALLED_NUMBER, "9" * 256)).encode()


@pytest.mark.parametrize(("moment", "value"), [
    (datetime(2026, 11, 26, 12, 30, 44, tzinfo=timezone.utc),
     (26 << 25) | (11 << 21) | (26 << 16) | (12 << 11) | (30 << 5) | 22),
    (datetime(2000, 1, 1, 0, 0, 0, tzinfo=timezone.utc), (1 << 21) | (1 << 16)),
])
def test_datetime_element_layout(moment: datetime, value: int) -> None:
    assert encode_datetime(moment) == value
    assert decode_datetime(value) == moment


def test_iaxmodem_regack_datetime_decodes() -> None:
    regack = parse_datagram(OUR_REGACK)
    assert isinstance(regack, FullFrame)
    decoded = decode_datetime(regack.ies.number(InfoElement.DATETIME) or 0)
    assert decoded is not None and decoded.year == 2026


def test_message_count_packs_old_over_new() -> None:
    assert encode_msgcount(new=3, old=300) == (255 << 8) | 3


def test_control_frame_helpers() -> None:
    frame = FullFrame(1, 2, 3, 4, 5, FrameType.CONTROL, ControlSubclass.RINGING)
    assert frame.is_control(ControlSubclass.RINGING) and not frame.is_iax(IaxCommand.NEW)
    assert "CONTROL RINGING" in frame.describe()
