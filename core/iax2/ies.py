"""IAX2 information elements: parse and build the IE list carried by IAX frames (RFC 5456 §8.6).

Each element is ``id(1) length(1) data``.  Data is typed by the element: UTF-8 strings, 8/16/32-bit big-endian
integers, Asterisk's versioned 64-bit format masks (CAPABILITY2/FORMAT2: a version byte 0 then a u64), a raw
``struct sockaddr_in``/``sockaddr_in6`` image (APPARENT ADDR, §8.6.17, family in host order as Asterisk sends
it), nothing at all (AUTOANSWER) or raw bytes.  Parsing is strict: an element running past the end of the
frame or a fixed-size element of the wrong size raises :class:`IaxFrameError` with the byte offset of the
element in the datagram.  Elements this module does not know are kept as raw bytes, as RFC 5456 §8.6 asks.

Strings are decoded with ``surrogateescape`` so that any byte string (a binary CHALLENGE of an RTKEY, a
caller name in Latin-1) survives a parse/encode round trip unchanged.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum

from core.iax2.constants import InfoElement


class IaxFrameError(ValueError):
    """A datagram that is not a well-formed IAX2 frame; ``offset`` is the byte where the problem is."""

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(f"{reason} (at byte {offset})")
        self.reason = reason
        self.offset = offset


@dataclass(frozen=True, slots=True)
class SocketAddress:
    """The APPARENT ADDR element: an IPv4 or IPv6 address and UDP port (RFC 5456 §8.6.17)."""

    host: str
    port: int
    flowinfo: int = 0
    scope_id: int = 0

    def encode(self) -> bytes:
        """The raw ``sockaddr_in``/``sockaddr_in6`` image, family little-endian as Linux/x86 Asterisk sends it."""
        address = ipaddress.ip_address(self.host)
        if address.version == 4:
            return struct.pack("<H", 2) + struct.pack("!H", self.port) + address.packed + bytes(8)
        return (struct.pack("<H", 10) + struct.pack("!HI", self.port, self.flowinfo) + address.packed
                + struct.pack("!I", self.scope_id))

    @classmethod
    def decode(cls, data: bytes, offset: int = 0) -> SocketAddress:
        """Parse a sockaddr image of 16 (IPv4) or 28 (IPv6) bytes; the family may be in either byte order."""
        if len(data) == 16 and data[:2] in (b"\x02\x00", b"\x00\x02"):
            if any(data[8:]):
                raise IaxFrameError("APPARENT ADDR padding is not zero", offset + 8)
            return cls(str(ipaddress.IPv4Address(data[4:8])), struct.unpack("!H", data[2:4])[0])
        if len(data) == 28 and data[:2] in (b"\x0a\x00", b"\x00\x0a"):
            port, flowinfo = struct.unpack("!HI", data[2:8])
            return cls(str(ipaddress.IPv6Address(data[8:24])), port, flowinfo, struct.unpack("!I", data[24:28])[0])
        raise IaxFrameError(f"APPARENT ADDR is not a sockaddr_in/sockaddr_in6 ({len(data)} bytes)", offset)


class IeKind(Enum):
    """How an element's data is encoded."""

    STRING = "string"
    U8 = "u8"
    U16 = "u16"
    U32 = "u32"
    VERSIONED_U64 = "versioned u64"
    ADDRESS = "sockaddr"
    EMPTY = "empty"
    RAW = "raw"


IE_KINDS: dict[int, IeKind] = {
    InfoElement.CALLED_NUMBER: IeKind.STRING, InfoElement.CALLING_NUMBER: IeKind.STRING,
    InfoElement.CALLING_ANI: IeKind.STRING, InfoElement.CALLING_NAME: IeKind.STRING,
    InfoElement.CALLED_CONTEXT: IeKind.STRING, InfoElement.USERNAME: IeKind.STRING,
    InfoElement.PASSWORD: IeKind.STRING, InfoElement.CAPABILITY: IeKind.U32, InfoElement.FORMAT: IeKind.U32,
    InfoElement.LANGUAGE: IeKind.STRING, InfoElement.VERSION: IeKind.U16, InfoElement.ADSICPE: IeKind.U16,
    InfoElement.DNID: IeKind.STRING, InfoElement.AUTHMETHODS: IeKind.U16, InfoElement.CHALLENGE: IeKind.STRING,
    InfoElement.MD5_RESULT: IeKind.STRING, InfoElement.RSA_RESULT: IeKind.STRING,
    InfoElement.APPARENT_ADDR: IeKind.ADDRESS, InfoElement.REFRESH: IeKind.U16, InfoElement.DPSTATUS: IeKind.U16,
    InfoElement.CALLNO: IeKind.U16, InfoElement.CAUSE: IeKind.STRING, InfoElement.IAX_UNKNOWN: IeKind.U8,
    InfoElement.MSGCOUNT: IeKind.U16, InfoElement.AUTOANSWER: IeKind.EMPTY, InfoElement.MUSICONHOLD: IeKind.STRING,
    InfoElement.TRANSFERID: IeKind.U32, InfoElement.RDNIS: IeKind.STRING, InfoElement.PROVISIONING: IeKind.RAW,
    InfoElement.AESPROVISIONING: IeKind.RAW, InfoElement.DATETIME: IeKind.U32,
    InfoElement.DEVICETYPE: IeKind.STRING, InfoElement.SERVICEIDENT: IeKind.STRING,
    InfoElement.FIRMWAREVER: IeKind.U16, InfoElement.FWBLOCKDESC: IeKind.U32, InfoElement.FWBLOCKDATA: IeKind.RAW,
    InfoElement.PROVVER: IeKind.U32, InfoElement.CALLINGPRES: IeKind.U8, InfoElement.CALLINGTON: IeKind.U8,
    InfoElement.CALLINGTNS: IeKind.U16, InfoElement.SAMPLINGRATE: IeKind.U16, InfoElement.CAUSECODE: IeKind.U8,
    InfoElement.ENCRYPTION: IeKind.U16, InfoElement.ENCKEY: IeKind.RAW, InfoElement.CODEC_PREFS: IeKind.STRING,
    InfoElement.RR_JITTER: IeKind.U32, InfoElement.RR_LOSS: IeKind.U32, InfoElement.RR_PKTS: IeKind.U32,
    InfoElement.RR_DELAY: IeKind.U16, InfoElement.RR_DROPPED: IeKind.U32, InfoElement.RR_OOO: IeKind.U32,
    InfoElement.VARIABLE: IeKind.STRING, InfoElement.OSPTOKEN: IeKind.RAW, InfoElement.CALLTOKEN: IeKind.RAW,
    InfoElement.CAPABILITY2: IeKind.VERSIONED_U64, InfoElement.FORMAT2: IeKind.VERSIONED_U64,
    InfoElement.CALLINGANI2: IeKind.U32,
}
"""The data type of every element of RFC 5456 §8.6 and of Asterisk's additions (``parser.c``)."""

_SIZES = {IeKind.U8: 1, IeKind.U16: 2, IeKind.U32: 4, IeKind.EMPTY: 0}
_FORMATS = {IeKind.U8: "!B", IeKind.U16: "!H", IeKind.U32: "!I"}

IeValue = str | int | bytes | SocketAddress | None


def _decode(ie: int, data: bytes, offset: int) -> IeValue:
    kind = IE_KINDS.get(ie, IeKind.RAW)
    if kind is IeKind.STRING:
        return data.decode("utf-8", "surrogateescape")
    if kind is IeKind.RAW:
        return bytes(data)
    if kind is IeKind.ADDRESS:
        return SocketAddress.decode(data, offset + 2)
    if kind is IeKind.VERSIONED_U64:
        if not data:
            raise IaxFrameError(f"{_name(ie)} has no version byte", offset + 1)
        if data[0] != 0:
            return bytes(data)  # an unknown version is kept opaque, as Asterisk's parser does
        if len(data) != 9:
            raise IaxFrameError(f"{_name(ie)} version 0 must be 9 bytes, not {len(data)}", offset + 1)
        return int(struct.unpack("!Q", data[1:])[0])
    size = _SIZES[kind]
    if len(data) != size:
        raise IaxFrameError(f"{_name(ie)} must be {size} bytes, not {len(data)}", offset + 1)
    if kind is IeKind.EMPTY:
        return None
    return int(struct.unpack(_FORMATS[kind], data)[0])


def _encode_value(ie: int, value: IeValue) -> bytes:
    kind = IE_KINDS.get(ie, IeKind.RAW)
    if kind is IeKind.STRING and isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if kind is IeKind.ADDRESS and isinstance(value, SocketAddress):
        return value.encode()
    if kind is IeKind.EMPTY and value is None:
        return b""
    if isinstance(value, bytes) and kind in (IeKind.RAW, IeKind.VERSIONED_U64, IeKind.STRING):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if kind is IeKind.VERSIONED_U64:
            if not 0 <= value < 1 << 64:
                raise ValueError(f"{_name(ie)} value {value} does not fit 64 bits")
            return b"\x00" + struct.pack("!Q", value)
        if kind in _FORMATS:
            limit = 1 << (8 * _SIZES[kind])
            if not 0 <= value < limit:
                raise ValueError(f"{_name(ie)} value {value} does not fit {_SIZES[kind]} bytes")
            return struct.pack(_FORMATS[kind], value)
    raise ValueError(f"{_name(ie)} ({kind.value}) cannot carry {value!r}")


def _name(ie: int) -> str:
    try:
        return InfoElement(ie).name
    except ValueError:
        return f"IE {ie}"


@dataclass(frozen=True, slots=True)
class Ies:
    """An ordered list of information elements (an element may repeat: VARIABLE, OSPTOKEN)."""

    items: tuple[tuple[int, IeValue], ...] = ()

    @classmethod
    def of(cls, *pairs: tuple[int, IeValue] | None) -> Ies:
        """Build from ``(id, value)`` pairs, skipping ``None`` entries (handy for optional elements)."""
        out = tuple(pair for pair in pairs if pair is not None)
        for ie, value in out:
            _encode_value(ie, value)  # validate early: a bad value is a programming error here, not on send
        return cls(out)

    @classmethod
    def parse(cls, data: bytes, base_offset: int = 0) -> Ies:
        """Parse the IE list of an IAX frame; ``base_offset`` is where ``data`` starts in the datagram."""
        items: list[tuple[int, IeValue]] = []
        position = 0
        size = len(data)
        while position < size:
            if size - position < 2:
                raise IaxFrameError("truncated information element header", base_offset + position)
            ie, length = data[position], data[position + 1]
            end = position + 2 + length
            if end > size:
                raise IaxFrameError(f"{_name(ie)} length {length} runs past the end of the frame",
                                    base_offset + position + 1)
            items.append((ie, _decode(ie, data[position + 2:end], base_offset + position)))
            position = end
        return cls(tuple(items))

    def encode(self) -> bytes:
        """The wire form (raises ``ValueError`` for a value over 255 bytes or of the wrong type)."""
        out = bytearray()
        for ie, value in self.items:
            data = _encode_value(ie, value)
            if len(data) > 255:
                raise ValueError(f"{_name(ie)} data is {len(data)} bytes; an element carries at most 255")
            out += bytes((ie, len(data))) + data
        return bytes(out)

    def __iter__(self) -> Iterator[tuple[int, IeValue]]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def has(self, ie: int) -> bool:
        """True when the element is present (even empty)."""
        return any(key == ie for key, _ in self.items)

    def get(self, ie: int) -> IeValue:
        """The first value of an element, or None."""
        for key, value in self.items:
            if key == ie:
                return value
        return None

    def all(self, ie: int) -> list[IeValue]:
        """Every value of a repeated element, in order."""
        return [value for key, value in self.items if key == ie]

    def text(self, ie: int, default: str = "") -> str:
        """A string element's value."""
        value = self.get(ie)
        return value if isinstance(value, str) else default

    def number(self, ie: int, default: int | None = None) -> int | None:
        """An integer element's value."""
        value = self.get(ie)
        return value if isinstance(value, int) else default

    def raw(self, ie: int) -> bytes | None:
        """An element's data bytes as on the wire (strings re-encoded), or None when absent."""
        for key, value in self.items:
            if key == ie:
                return _encode_value(key, value)
        return None

    def address(self, ie: int = InfoElement.APPARENT_ADDR) -> SocketAddress | None:
        """An address element's value."""
        value = self.get(ie)
        return value if isinstance(value, SocketAddress) else None

    def with_items(self, *pairs: tuple[int, IeValue]) -> Ies:
        """A copy with elements appended."""
        return Ies(self.items + Ies.of(*pairs).items)

    def without(self, ie: int) -> Ies:
        """A copy with every occurrence of an element removed."""
        return Ies(tuple(item for item in self.items if item[0] != ie))

    def format_mask(self) -> int:
        """The desired format: FORMAT2 when present (it wins, as in Asterisk's parser), else FORMAT, else 0."""
        value = self.get(InfoElement.FORMAT2)
        if isinstance(value, int):
            return value
        return self.number(InfoElement.FORMAT, 0) or 0

    def capability_mask(self) -> int:
        """The offered formats: CAPABILITY2 when present, else CAPABILITY, else 0."""
        value = self.get(InfoElement.CAPABILITY2)
        if isinstance(value, int):
            return value
        return self.number(InfoElement.CAPABILITY, 0) or 0

    def describe(self) -> str:
        """One line per element, as Asterisk's ``iax2 set debug`` prints them (for logs)."""
        lines = []
        for ie, value in self.items:
            shown = value.hex() if isinstance(value, bytes) else ("Present" if value is None else value)
            lines.append(f"   {_name(ie):<15.15} : {shown}")
        return "\n".join(lines)


def format_ies(formats: int, capability: int) -> list[tuple[int, IeValue]]:
    """FORMAT/CAPABILITY, plus FORMAT2/CAPABILITY2 when a bit above 31 is used (Asterisk ``iax2_call``)."""
    items: list[tuple[int, IeValue]] = [(InfoElement.FORMAT, formats & 0xFFFFFFFF),
                                        (InfoElement.CAPABILITY, capability & 0xFFFFFFFF)]
    if (formats | capability) >> 32:
        items += [(InfoElement.FORMAT2, formats), (InfoElement.CAPABILITY2, capability)]
    return items


def encode_datetime(moment: datetime) -> int:
    """The DATETIME element for a UTC moment (RFC 5456 §8.6.28: year-2000:7 month:4 day:5 hour:5 min:6 sec/2:5)."""
    utc = moment.astimezone(timezone.utc) if moment.tzinfo else moment
    year = min(max(utc.year - 2000, 0), 127)
    return (year << 25) | (utc.month << 21) | (utc.day << 16) | (utc.hour << 11) | (utc.minute << 5) | (utc.second >> 1)


def decode_datetime(value: int) -> datetime | None:
    """The UTC moment of a DATETIME element, or None if the fields do not form a date."""
    try:
        return datetime(2000 + ((value >> 25) & 0x7F), (value >> 21) & 0x0F, (value >> 16) & 0x1F,
                        (value >> 11) & 0x1F, (value >> 5) & 0x3F, (value & 0x1F) << 1, tzinfo=timezone.utc)
    except ValueError:
        return None


def encode_msgcount(new: int, old: int) -> int:
    """MSGCOUNT: old messages in the high byte, new in the low byte, each capped at 255 (Asterisk)."""
    return (min(old, 255) << 8) | min(new, 255)


def variables(pairs: Iterable[tuple[str, str]]) -> list[tuple[int, IeValue]]:
    """VARIABLE elements (``name=value``) as Asterisk's IAXVAR() sends them."""
    return [(InfoElement.VARIABLE, f"{name}={value}") for name, value in pairs]
