"""IAX2 frames on the wire: full, mini, meta video and meta trunk frames (RFC 5456 §8.1).

:func:`parse_datagram` turns one UDP payload into one of :class:`FullFrame`, :class:`MiniFrame`,
:class:`VideoFrame` or :class:`TrunkFrame`, telling them apart as §8.1.3 says: 16 zero bits start a meta
frame, the F bit a full frame, anything else is a mini frame.  Every length is checked; a datagram that is
not well formed raises :class:`IaxFrameError` with the offset of the offending byte.  Each frame class has
``encode()`` giving the exact bytes back.

Subclasses are "compressed" as Asterisk does (``compress_subclass``): values below 0x80 travel as they are,
larger powers of two as ``0x80 | log2``; video frames use bit 0x40 of a compressed subclass as their
end-of-frame marker.  IE lists of IAX frames are parsed by :mod:`core.iax2.ies`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace

from core.iax2.constants import (
    FULL_HEADER_SIZE,
    MINI_HEADER_SIZE,
    ControlSubclass,
    FrameType,
    IaxCommand,
    MetaCommand,
    TrunkFormat,
)
from core.iax2.ies import IaxFrameError, Ies

__all__ = [
    "Frame",
    "FullFrame",
    "IaxFrameError",
    "MiniFrame",
    "TrunkEntry",
    "TrunkFrame",
    "VideoFrame",
    "compress_subclass",
    "parse_datagram",
    "uncompress_subclass",
]

_MAX_SHIFT = 0x3F
_FULL = struct.Struct("!HHIBBBB")


def compress_subclass(value: int) -> int:
    """The subclass byte of a value: itself below 0x80, else ``0x80 | log2`` of a power of two (RFC 5456 §8.1.1)."""
    if 0 <= value < 0x80:
        return value
    if value <= 0 or value & (value - 1) or value.bit_length() - 1 >= _MAX_SHIFT:
        raise ValueError(f"subclass {value:#x} is neither below 0x80 nor a power of two under 2**63")
    return 0x80 | (value.bit_length() - 1)


def uncompress_subclass(byte: int, offset: int = 11) -> int:
    """The value of a subclass byte (the C bit means "2 to the power of the low bits")."""
    if byte & 0x80:
        shift = byte & 0x7F
        if shift >= _MAX_SHIFT:
            raise IaxFrameError(f"compressed subclass {byte:#04x} is out of range", offset)
        return 1 << shift
    return byte


@dataclass(frozen=True, slots=True)
class FullFrame:
    """A reliable frame with the 12-byte header (RFC 5456 §8.1.1).

    ``payload`` is the raw data after the header: an IE list for IAX frames (see :attr:`ies`), media for
    voice/video, text for TEXT.  ``marker`` is the end-of-frame bit of video frames.
    """

    source_call: int
    dest_call: int
    timestamp: int
    oseqno: int
    iseqno: int
    frame_type: int
    subclass: int
    payload: bytes = b""
    retransmission: bool = False
    marker: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.source_call <= 0x7FFF or not 0 <= self.dest_call <= 0x7FFF:
            raise ValueError("call numbers are 15 bits")
        if not 0 <= self.timestamp <= 0xFFFFFFFF:
            raise ValueError("timestamps are 32 bits")
        if not (0 <= self.oseqno <= 255 and 0 <= self.iseqno <= 255 and 0 <= self.frame_type <= 255):
            raise ValueError("sequence numbers and frame types are 8 bits")

    def encode(self) -> bytes:
        """The datagram."""
        csub = compress_subclass(self.subclass)
        if self.frame_type == FrameType.VIDEO and self.marker:
            if not csub & 0x80:
                csub = 0x80 | (self.subclass.bit_length() - 1) if self.subclass else 0x80
            csub |= 0x40
        return _FULL.pack(0x8000 | self.source_call, (0x8000 if self.retransmission else 0) | self.dest_call,
                          self.timestamp, self.oseqno, self.iseqno, self.frame_type, csub) + self.payload

    @property
    def ies(self) -> Ies:
        """The information elements of an IAX frame (raises :class:`IaxFrameError` when malformed)."""
        if self.frame_type != FrameType.IAX:
            return Ies()
        return Ies.parse(self.payload, FULL_HEADER_SIZE)

    def is_iax(self, *commands: IaxCommand) -> bool:
        """True for an IAX frame with one of ``commands`` as subclass."""
        return self.frame_type == FrameType.IAX and self.subclass in commands

    def is_control(self, *subclasses: ControlSubclass) -> bool:
        """True for a CONTROL frame with one of ``subclasses``."""
        return self.frame_type == FrameType.CONTROL and self.subclass in subclasses

    def retransmitted(self, iseqno: int) -> FullFrame:
        """The copy sent again: the R bit set and the current ISeqno (Asterisk ``update_packet``)."""
        return replace(self, retransmission=True, iseqno=iseqno)

    def describe(self) -> str:
        """A one-line summary for traces: type, subclass, call numbers, sequence numbers, timestamp."""
        try:
            kind = FrameType(self.frame_type).name
        except ValueError:
            kind = f"type{self.frame_type}"
        sub: str = str(self.subclass)
        if self.frame_type == FrameType.IAX:
            sub = _enum_name(IaxCommand, self.subclass)
        elif self.frame_type == FrameType.CONTROL:
            sub = _enum_name(ControlSubclass, self.subclass)
        elif self.frame_type in (FrameType.DTMF_END, FrameType.DTMF_BEGIN) and 32 < self.subclass < 127:
            sub = chr(self.subclass)
        retry = " Retry" if self.retransmission else ""
        return (f"{kind} {sub}{retry} -- OSeqno: {self.oseqno:03d} ISeqno: {self.iseqno:03d} "
                f"Timestamp: {self.timestamp:05d}ms SCall: {self.source_call:05d} DCall: {self.dest_call:05d}")


def _enum_name(enum: type[IaxCommand] | type[ControlSubclass], value: int) -> str:
    try:
        return enum(value).name
    except ValueError:
        return f"({value}?)"


@dataclass(frozen=True, slots=True)
class MiniFrame:
    """An unreliable voice frame with the 4-byte header: the low 16 bits of the timestamp (RFC 5456 §8.1.2)."""

    source_call: int
    timestamp: int
    payload: bytes = b""

    def __post_init__(self) -> None:
        if not 1 <= self.source_call <= 0x7FFF:
            raise ValueError("a mini frame's call number is 1..32767 (0 would make it a meta frame)")
        if not 0 <= self.timestamp <= 0xFFFF:
            raise ValueError("mini frame timestamps are 16 bits")

    def encode(self) -> bytes:
        """The datagram."""
        return struct.pack("!HH", self.source_call, self.timestamp) + self.payload


@dataclass(frozen=True, slots=True)
class VideoFrame:
    """A meta video frame: zeros, V bit + call number, marker + 15-bit timestamp (RFC 5456 §8.1.3.1)."""

    source_call: int
    timestamp: int
    payload: bytes = b""
    marker: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.source_call <= 0x7FFF or not 0 <= self.timestamp <= 0x7FFF:
            raise ValueError("video call numbers and timestamps are 15 bits")

    def encode(self) -> bytes:
        """The datagram."""
        return struct.pack("!HHH", 0, 0x8000 | self.source_call,
                           (0x8000 if self.marker else 0) | self.timestamp) + self.payload


@dataclass(frozen=True, slots=True)
class TrunkEntry:
    """One call's media inside a trunk frame; ``timestamp`` (16 bits) only with trunk timestamps."""

    call: int
    payload: bytes
    timestamp: int | None = None


@dataclass(frozen=True, slots=True)
class TrunkFrame:
    """A meta trunk frame: many calls' media in one datagram (RFC 5456 §8.1.3.2, Asterisk ``send_trunk``)."""

    timestamp: int
    entries: tuple[TrunkEntry, ...]
    with_timestamps: bool = False

    def encode(self) -> bytes:
        """The datagram: ``0x0000 | 0 + metacmd | cmddata | ts32`` then the entries."""
        out = bytearray(struct.pack("!HBBI", 0, MetaCommand.TRUNK,
                                    TrunkFormat.MINI if self.with_timestamps else TrunkFormat.SUPERMINI,
                                    self.timestamp))
        for entry in self.entries:
            if len(entry.payload) > 0xFFFF or not 0 <= entry.call <= 0x7FFF:
                raise ValueError("trunk entry too large or bad call number")
            if self.with_timestamps:
                if entry.timestamp is None:
                    raise ValueError("a trunk frame with timestamps needs every entry's timestamp")
                out += struct.pack("!HHH", len(entry.payload), entry.call, entry.timestamp & 0xFFFF)
            else:
                out += struct.pack("!HH", entry.call, len(entry.payload))
            out += entry.payload
        return bytes(out)


Frame = FullFrame | MiniFrame | VideoFrame | TrunkFrame


def parse_full_header(data: bytes) -> tuple[int, int, bool]:
    """``(source_call, dest_call, retransmission)`` of a datagram known to be a full frame (not decrypted)."""
    if len(data) < 4:
        raise IaxFrameError("shorter than a full frame's call numbers", len(data))
    source, dest = struct.unpack_from("!HH", data)
    return source & 0x7FFF, dest & 0x7FFF, bool(dest & 0x8000)


def parse_full(data: bytes) -> FullFrame:
    """A full frame from its (decrypted) bytes."""
    if len(data) < FULL_HEADER_SIZE:
        raise IaxFrameError(f"full frame of {len(data)} bytes is shorter than its 12-byte header", len(data))
    source, dest, ts, oseqno, iseqno, frame_type, csub = _FULL.unpack_from(data)
    if frame_type == 0:
        raise IaxFrameError("frame type 0 does not exist", 10)
    marker = False
    if frame_type == FrameType.VIDEO and csub & 0x80:
        marker = bool(csub & 0x40)
        subclass = 1 << (csub & _MAX_SHIFT)
    else:
        subclass = uncompress_subclass(csub)
    return FullFrame(source & 0x7FFF, dest & 0x7FFF, ts, oseqno, iseqno, frame_type, subclass,
                     bytes(data[FULL_HEADER_SIZE:]), bool(dest & 0x8000), marker)


def parse_datagram(data: bytes) -> Frame:
    """Parse one UDP payload (unencrypted) into its frame."""
    if len(data) < MINI_HEADER_SIZE:
        raise IaxFrameError(f"datagram of {len(data)} bytes is shorter than any IAX2 header", len(data))
    first, second = struct.unpack_from("!HH", data)
    if first == 0:
        if second & 0x8000:
            if len(data) < 6:
                raise IaxFrameError("meta video frame shorter than its 6-byte header", len(data))
            (word,) = struct.unpack_from("!H", data, 4)
            return VideoFrame(second & 0x7FFF, word & 0x7FFF, bytes(data[6:]), bool(word & 0x8000))
        return _parse_trunk(data)
    if first & 0x8000:
        return parse_full(data)
    return MiniFrame(first, second, bytes(data[MINI_HEADER_SIZE:]))


TrunkItem = tuple[int, int | None, bytes]
"""``(call, timestamp or None, payload)`` of one trunk entry, as :func:`split_trunk` yields them."""


def split_trunk(data: bytes) -> tuple[int, bool, list[TrunkItem]]:
    """``(timestamp, with_timestamps, entries)`` of a meta trunk frame, every length checked first.

    The endpoint's receive path uses this directly (no :class:`TrunkEntry` objects per entry)."""
    if len(data) < 8:
        raise IaxFrameError("meta trunk frame shorter than its 8-byte header", len(data))
    command, cmddata = data[2], data[3]
    if command != MetaCommand.TRUNK:
        raise IaxFrameError(f"unknown meta command {command}", 2)
    if cmddata not in (TrunkFormat.SUPERMINI, TrunkFormat.MINI):
        raise IaxFrameError(f"unknown trunk command data {cmddata:#04x}", 3)
    (timestamp,) = struct.unpack_from("!I", data, 4)
    with_ts = cmddata == TrunkFormat.MINI
    entries: list[TrunkItem] = []
    position, size = 8, len(data)
    head = 6 if with_ts else 4
    unpack = struct.unpack_from
    while position < size:
        if size - position < head:
            raise IaxFrameError("truncated trunk entry header", position)
        if with_ts:
            length, call, ts16 = unpack("!HHH", data, position)
            entry_ts: int | None = ts16
        else:
            call, length = unpack("!HH", data, position)
            entry_ts = None
        start = position + head
        if start + length > size:
            raise IaxFrameError(f"trunk entry of {length} bytes runs past the end of the frame", position)
        entries.append((call & 0x7FFF, entry_ts, data[start:start + length]))
        position = start + length
    return timestamp, with_ts, entries


def _parse_trunk(data: bytes) -> TrunkFrame:
    if len(data) >= 4 and data[2] != MetaCommand.TRUNK:
        raise IaxFrameError(f"unknown meta command {data[2]}", 2)
    timestamp, with_ts, items = split_trunk(bytes(data))
    return TrunkFrame(timestamp, tuple(TrunkEntry(call, payload, ts) for call, ts, payload in items), with_ts)
