"""SDP session descriptions (RFC 4566): a typed model, a tolerant parser and a canonical serialiser.

The parser accepts what real phones send -- LF-only line ends, trailing white space, lines in any order
inside a section, blank lines, unknown one-letter types (pjproject's ``pjmedia_sdp_parse`` skips them,
so Asterisk's chan_pjsip accepts them too) -- and rejects with :class:`SdpError` what leaves a session
unusable: no ``v=0`` first, no ``o=`` or ``s=``, malformed ``o=``/``c=``/``m=``/``t=``/``b=`` lines, a
payload type outside 0-127 on an RTP profile, or an active stream with no connection address at either
level (the checks of pjproject's ``pjmedia_sdp_validate``, which chan_pjsip runs on every offer).  Where we
are more lenient than that function, on purpose: an empty ``s=`` (RFC 4566 §5.3 recommends ``s= `` for
"no name", and we strip trailing blanks), a rejected stream (port 0) without ``c=``, and a dynamic payload
type without ``rtpmap`` (it is simply not negotiable; pjmedia rejects the whole body).

Well-known attributes are lifted into typed fields (``rtpmap``, ``fmtp``, ``ptime``, ``maxptime``,
``rtcp`` (RFC 3605) and the direction attributes); every other attribute is kept, in order, in
``attributes`` and written back unchanged.  A well-known attribute that does not parse, or a second one
of a single-valued kind, is kept as a plain attribute too.  :meth:`SessionDescription.serialize` writes
lines in RFC 4566 §5 order (v o s i u e p c b t r z k a, then each m= with i c b k a) with CRLF ends, so
``parse(serialize(x)) == x`` for every description the parser produces and every one built from fields
without line ends, trailing blanks, or well-known names in ``attributes``.

Offer/answer (RFC 3264) lives in :mod:`core.sip.offer_answer`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import Enum

__all__ = [
    "Attribute",
    "Bandwidth",
    "Connection",
    "Direction",
    "Fmtp",
    "MediaDescription",
    "Origin",
    "RtcpAttribute",
    "RtpMap",
    "SdpError",
    "SessionDescription",
    "Timing",
]


class SdpError(Exception):
    """A body that is not a usable session description.

    ``line`` is the 1-based line number of the offending line (``None`` when the problem is the whole
    body, e.g. a missing ``o=`` line) and ``text`` that line.  A SIP UAS answers an offer that raises this
    with 400 Bad Request (pjsua replies "400 Bad SDP"); an offer that parses but shares no codec is a 488
    (see :class:`core.sip.offer_answer.NoCommonCodec`).
    """

    def __init__(self, message: str, *, line: int | None = None, text: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.text = text

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return f"line {self.line}: {self.message}"


class Direction(str, Enum):
    """Media direction attributes (RFC 4566 §6, RFC 3264 §5.1); sendrecv is the default."""

    SENDRECV = "sendrecv"
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    INACTIVE = "inactive"

    @property
    def sends(self) -> bool:
        """True when the side that wrote this attribute sends media."""
        return self in (Direction.SENDRECV, Direction.SENDONLY)

    @property
    def receives(self) -> bool:
        """True when the side that wrote this attribute receives media."""
        return self in (Direction.SENDRECV, Direction.RECVONLY)

    @classmethod
    def from_flags(cls, *, sends: bool, receives: bool) -> Direction:
        """The attribute describing a side that ``sends`` and/or ``receives``."""
        if sends and receives:
            return cls.SENDRECV
        if sends:
            return cls.SENDONLY
        if receives:
            return cls.RECVONLY
        return cls.INACTIVE

    def reversed(self) -> Direction:
        """The same stream seen from the other side (sendonly <-> recvonly; RFC 3264 §6.1)."""
        return Direction.from_flags(sends=self.receives, receives=self.sends)


_DIRECTIONS = {d.value: d for d in Direction}
_ADDRESS_TYPES = ("IP4", "IP6")


def _parse_number(text: str, what: str, *, limit: int | None = None) -> int:
    """A non-negative decimal integer (digits only, as SDP's grammar has it)."""
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"{what} is not a number: {text!r}")
    value = int(text)
    if limit is not None and value > limit:
        raise ValueError(f"{what} out of range: {text}")
    return value


@dataclass(frozen=True, slots=True)
class Origin:
    """``o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>`` (RFC 4566 §5.2).

    ``session_id`` is kept as written (a numeric string by the RFC, often 64 bits wide);
    ``session_version`` is the number RFC 3264 §8 increments on every changed description.
    """

    username: str
    session_id: str
    session_version: int
    nettype: str = "IN"
    addrtype: str = "IP4"
    address: str = "127.0.0.1"

    def __str__(self) -> str:
        return (f"{self.username} {self.session_id} {self.session_version} "
                f"{self.nettype} {self.addrtype} {self.address}")

    @classmethod
    def parse(cls, value: str) -> Origin:
        """Parse the value of an ``o=`` line; raises ValueError."""
        fields = value.split()
        if len(fields) != 6:
            raise ValueError("o= needs 6 fields")
        username, session_id, version, nettype, addrtype, address = fields
        # pjmedia_sdp_validate: the origin must be IN IP4|IP6 with an address.
        if nettype != "IN" or addrtype not in _ADDRESS_TYPES:
            raise ValueError(f"unsupported origin network {nettype} {addrtype}")
        return cls(username, session_id, _parse_number(version, "session version"), nettype, addrtype, address)


@dataclass(frozen=True, slots=True)
class Connection:
    """``c=<nettype> <addrtype> <address>[/<ttl>][/<count>]`` (RFC 4566 §5.7).

    ``ttl`` exists only for IP4 multicast; ``count`` is the number of consecutive multicast addresses.
    """

    address: str
    addrtype: str = "IP4"
    nettype: str = "IN"
    ttl: int | None = None
    count: int | None = None

    @classmethod
    def for_address(cls, address: str) -> Connection:
        """The unicast connection for an IP literal or host name (IP6 when it contains a colon)."""
        return cls(address, "IP6" if ":" in address else "IP4")

    @property
    def is_unspecified(self) -> bool:
        """0.0.0.0 or ::, the RFC 2543 way of putting a stream on hold (RFC 3264 §8.4).

        Asterisk's ``negotiate_incoming_sdp_stream`` (res_pjsip_sdp_rtp.c) treats such an address
        (``ast_sockaddr_is_any``) as hold.
        """
        try:
            return ipaddress.ip_address(self.address).is_unspecified
        except ValueError:
            return False

    def __str__(self) -> str:
        text = f"{self.nettype} {self.addrtype} {self.address}"
        if self.ttl is not None:
            text += f"/{self.ttl}"
        if self.count is not None:
            text += f"/{self.count}"
        return text

    @classmethod
    def parse(cls, value: str) -> Connection:
        """Parse the value of a ``c=`` line; raises ValueError."""
        fields = value.split()
        if len(fields) != 3:
            raise ValueError("c= needs 3 fields")
        nettype, addrtype, address = fields
        # pjmedia_sdp_validate (validate_sdp_conn): IN, IP4 or IP6, a non-empty address.
        if nettype != "IN" or addrtype not in _ADDRESS_TYPES:
            raise ValueError(f"unsupported connection network {nettype} {addrtype}")
        host, *rest = address.split("/")
        if not host or len(rest) > (2 if addrtype == "IP4" else 1):
            raise ValueError(f"malformed connection address {address!r}")
        numbers = [_parse_number(part, "connection address suffix") for part in rest]
        ttl: int | None = None
        count: int | None = None
        if addrtype == "IP4" and numbers:
            ttl = numbers[0]
            count = numbers[1] if len(numbers) > 1 else None
        elif numbers:
            count = numbers[0]
        return cls(host, addrtype, nettype, ttl, count)


@dataclass(frozen=True, slots=True)
class Bandwidth:
    """``b=<bwtype>:<bandwidth>`` (RFC 4566 §5.8), e.g. AS:64 (kbit/s) or TIAS:64000 (bit/s)."""

    bwtype: str
    bandwidth: int

    def __str__(self) -> str:
        return f"{self.bwtype}:{self.bandwidth}"

    @classmethod
    def parse(cls, value: str) -> Bandwidth:
        """Parse the value of a ``b=`` line; raises ValueError."""
        bwtype, colon, amount = value.partition(":")
        if not colon or not bwtype or " " in bwtype:
            raise ValueError("b= needs <bwtype>:<bandwidth>")
        return cls(bwtype, _parse_number(amount.strip(), "bandwidth"))


@dataclass(frozen=True, slots=True)
class Timing:
    """``t=<start> <stop>`` with its ``r=`` lines kept as text (RFC 4566 §5.9-5.10); ``t=0 0`` is permanent."""

    start: int = 0
    stop: int = 0
    repeats: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: str) -> Timing:
        """Parse the value of a ``t=`` line; raises ValueError."""
        fields = value.split()
        if len(fields) != 2:
            raise ValueError("t= needs 2 fields")
        return cls(_parse_number(fields[0], "start time"), _parse_number(fields[1], "stop time"))


@dataclass(frozen=True, slots=True)
class Attribute:
    """``a=<name>`` (property, ``value`` None) or ``a=<name>:<value>`` (RFC 4566 §5.13)."""

    name: str
    value: str | None = None

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


@dataclass(frozen=True, slots=True)
class RtpMap:
    """``a=rtpmap:<payload type> <encoding name>/<clock rate>[/<channels>]`` (RFC 4566 §6)."""

    payload_type: int
    encoding: str
    clock_rate: int
    channels: int | None = None

    def __str__(self) -> str:
        text = f"{self.payload_type} {self.encoding}/{self.clock_rate}"
        return text if self.channels is None else f"{text}/{self.channels}"

    @classmethod
    def parse(cls, value: str) -> RtpMap:
        """Parse an rtpmap value; raises ValueError."""
        fields = value.split()
        if len(fields) != 2:
            raise ValueError("rtpmap needs <payload type> <encoding>/<rate>")
        payload_type = _parse_number(fields[0], "payload type", limit=127)
        parts = fields[1].split("/")
        if len(parts) not in (2, 3) or not parts[0]:
            raise ValueError("rtpmap needs <encoding>/<rate>[/<channels>]")
        channels = _parse_number(parts[2], "channels") if len(parts) == 3 else None
        return cls(payload_type, parts[0], _parse_number(parts[1], "clock rate"), channels)


@dataclass(frozen=True, slots=True)
class Fmtp:
    """``a=fmtp:<format> <format specific parameters>`` (RFC 4566 §6), e.g. ``101 0-16`` (RFC 4733)."""

    format: str
    parameters: str = ""

    def __str__(self) -> str:
        return f"{self.format} {self.parameters}" if self.parameters else self.format

    @classmethod
    def parse(cls, value: str) -> Fmtp:
        """Parse an fmtp value; raises ValueError."""
        fmt, _, parameters = value.strip().partition(" ")
        if not fmt:
            raise ValueError("fmtp needs a format")
        return cls(fmt, parameters.strip())


@dataclass(frozen=True, slots=True)
class RtcpAttribute:
    """``a=rtcp:<port> [<nettype> <addrtype> <address>]`` (RFC 3605 §2.1)."""

    port: int
    connection: Connection | None = None

    def __str__(self) -> str:
        return str(self.port) if self.connection is None else f"{self.port} {self.connection}"

    @classmethod
    def parse(cls, value: str) -> RtcpAttribute:
        """Parse an rtcp value; raises ValueError."""
        fields = value.split()
        if len(fields) not in (1, 4):
            raise ValueError("rtcp needs <port> [<nettype> <addrtype> <address>]")
        port = _parse_number(fields[0], "RTCP port", limit=65535)
        if len(fields) == 1:
            return cls(port)
        connection = Connection.parse(" ".join(fields[1:]))
        if connection.ttl is not None or connection.count is not None:
            raise ValueError("rtcp address takes no TTL or count")
        return cls(port, connection)


def _is_rtp_profile(protocol: str) -> bool:
    # RTP/AVP, RTP/SAVP, RTP/AVPF, UDP/TLS/RTP/SAVPF ...: formats are RTP payload types.
    return "RTP/" in protocol.upper()


def _attribute_lines(attributes: tuple[Attribute, ...], direction: Direction | None) -> list[str]:
    """Kept attributes and the direction, which goes last as Asterisk writes it -- unless a second direction
    attribute was kept, when it goes first so that the parser lifts the same one again."""
    lines = [f"a={a}" for a in attributes]
    if direction is None:
        return lines
    if any(a.name in _DIRECTIONS and a.value is None for a in attributes):
        return [f"a={direction.value}", *lines]
    return [*lines, f"a={direction.value}"]


@dataclass(frozen=True, slots=True)
class MediaDescription:
    """One ``m=`` section (RFC 4566 §5.14) with its i c b k a lines.

    ``formats`` are the format tokens as written (RTP payload type numbers for RTP profiles).
    ``connection`` is the media-level ``c=`` (see :meth:`SessionDescription.connection_for` for the
    effective one) and ``direction`` the media-level direction attribute, ``None`` when absent.
    ``rtpmaps`` and ``fmtps`` are in the order written; a lookup takes the first for a payload type,
    as pjmedia's ``pjmedia_sdp_media_find_attr`` does.
    """

    kind: str
    port: int
    protocol: str
    formats: tuple[str, ...]
    port_count: int | None = None
    title: str | None = None
    connection: Connection | None = None
    bandwidths: tuple[Bandwidth, ...] = ()
    encryption_key: str | None = None
    rtpmaps: tuple[RtpMap, ...] = ()
    fmtps: tuple[Fmtp, ...] = ()
    ptime: int | None = None
    maxptime: int | None = None
    rtcp: RtcpAttribute | None = None
    direction: Direction | None = None
    attributes: tuple[Attribute, ...] = ()

    @property
    def is_rejected(self) -> bool:
        """Port 0: a stream that is disabled or rejected (RFC 3264 §5.1, §6)."""
        return self.port == 0

    @property
    def payload_types(self) -> tuple[int, ...]:
        """The numeric formats, in the offerer's order (duplicates kept as written)."""
        return tuple(int(f) for f in self.formats if f.isascii() and f.isdigit())

    def rtpmap(self, payload_type: int) -> RtpMap | None:
        """The first rtpmap for ``payload_type``, or None."""
        for rtpmap in self.rtpmaps:
            if rtpmap.payload_type == payload_type:
                return rtpmap
        return None

    def fmtp(self, fmt: int | str) -> str | None:
        """The parameters of the first fmtp for a format, or None when there is none."""
        key = str(fmt)
        for fmtp in self.fmtps:
            if fmtp.format == key:
                return fmtp.parameters
        return None

    @property
    def rtcp_port(self) -> int:
        """Where the peer wants RTCP: the ``a=rtcp`` port (RFC 3605), else RTP port + 1 (RFC 3550 §11)."""
        if self.rtcp is not None:
            return self.rtcp.port
        return self.port + 1 if self.port else 0

    def attribute(self, name: str) -> Attribute | None:
        """The first kept (not lifted) attribute called ``name``."""
        for attribute in self.attributes:
            if attribute.name == name:
                return attribute
        return None

    def lines(self) -> list[str]:
        """The ``m=`` line and its i c b k a lines, in RFC 4566 §5 order."""
        port = str(self.port) if self.port_count is None else f"{self.port}/{self.port_count}"
        out = [" ".join(["m=" + self.kind, port, self.protocol, *self.formats])]
        if self.title is not None:
            out.append(f"i={self.title}")
        if self.connection is not None:
            out.append(f"c={self.connection}")
        out.extend(f"b={b}" for b in self.bandwidths)
        if self.encryption_key is not None:
            out.append(f"k={self.encryption_key}")
        if self.rtcp is not None:
            out.append(f"a=rtcp:{self.rtcp}")
        out.extend(f"a=rtpmap:{r}" for r in self.rtpmaps)
        out.extend(f"a=fmtp:{f}" for f in self.fmtps)
        if self.ptime is not None:
            out.append(f"a=ptime:{self.ptime}")
        if self.maxptime is not None:
            out.append(f"a=maxptime:{self.maxptime}")
        out.extend(_attribute_lines(self.attributes, self.direction))
        return out


@dataclass(frozen=True, slots=True)
class SessionDescription:
    """A whole SDP body (RFC 4566 §5): session-level lines and the media sections in order.

    ``session_name`` is the ``s=`` text; the RFC's "no name" form ``s= `` reads as ``""`` and is
    written back as ``s= ``.  ``direction`` is a session-level direction attribute, which applies to
    every stream without its own (RFC 4566 §6; pjmedia's ``apply_media_direction``).
    """

    origin: Origin
    session_name: str = ""
    information: str | None = None
    uri: str | None = None
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    connection: Connection | None = None
    bandwidths: tuple[Bandwidth, ...] = ()
    timings: tuple[Timing, ...] = (Timing(),)
    time_zones: str | None = None
    encryption_key: str | None = None
    direction: Direction | None = None
    attributes: tuple[Attribute, ...] = ()
    media: tuple[MediaDescription, ...] = ()

    @classmethod
    def parse(cls, body: bytes | str) -> SessionDescription:
        """Parse an SDP body; raises :class:`SdpError` (never anything else) when it is unusable.

        Bytes are read as UTF-8 (RFC 4566 §5) and, failing that, as ISO 8859-1 so that a phone that
        writes its session name in Latin-1 still gets a call through.
        """
        if isinstance(body, bytes):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = body.decode("latin-1")
        else:
            text = body
        return _Parser().parse(text)

    def connection_for(self, media: MediaDescription) -> Connection | None:
        """The connection a stream uses: its own ``c=``, else the session's (RFC 4566 §5.7)."""
        return media.connection if media.connection is not None else self.connection

    def direction_for(self, media: MediaDescription) -> Direction:
        """A stream's direction: its own attribute, else the session's, else sendrecv (RFC 3264 §5.1)."""
        if media.direction is not None:
            return media.direction
        return self.direction if self.direction is not None else Direction.SENDRECV

    def attribute(self, name: str) -> Attribute | None:
        """The first kept session-level attribute called ``name``."""
        for attribute in self.attributes:
            if attribute.name == name:
                return attribute
        return None

    def lines(self) -> list[str]:
        """Every line, without line ends, in RFC 4566 §5 order."""
        out = ["v=0", f"o={self.origin}", f"s={self.session_name or ' '}"]
        if self.information is not None:
            out.append(f"i={self.information}")
        if self.uri is not None:
            out.append(f"u={self.uri}")
        out.extend(f"e={e}" for e in self.emails)
        out.extend(f"p={p}" for p in self.phones)
        if self.connection is not None:
            out.append(f"c={self.connection}")
        out.extend(f"b={b}" for b in self.bandwidths)
        for timing in self.timings:
            out.append(f"t={timing.start} {timing.stop}")
            out.extend(f"r={r}" for r in timing.repeats)
        if self.time_zones is not None:
            out.append(f"z={self.time_zones}")
        if self.encryption_key is not None:
            out.append(f"k={self.encryption_key}")
        out.extend(_attribute_lines(self.attributes, self.direction))
        for media in self.media:
            out.extend(media.lines())
        return out

    def __str__(self) -> str:
        return "".join(line + "\r\n" for line in self.lines())

    def serialize(self) -> bytes:
        """The body as sent on the wire: UTF-8, CRLF after every line (RFC 4566 §5)."""
        return str(self).encode("utf-8")

    def __bytes__(self) -> bytes:
        return self.serialize()


# --- parser -------------------------------------------------------------------------------------------

_MEDIA_LEVEL_TYPES = frozenset("icbka")
_KNOWN_TYPES = frozenset("vosiuepcbtrzkam")


@dataclass(slots=True)
class _MediaBuilder:
    line: int
    kind: str
    port: int
    port_count: int | None
    protocol: str
    formats: tuple[str, ...]
    title: str | None = None
    connection: Connection | None = None
    bandwidths: list[Bandwidth] = field(default_factory=list)
    encryption_key: str | None = None
    rtpmaps: list[RtpMap] = field(default_factory=list)
    fmtps: list[Fmtp] = field(default_factory=list)
    ptime: int | None = None
    maxptime: int | None = None
    rtcp: RtcpAttribute | None = None
    direction: Direction | None = None
    attributes: list[Attribute] = field(default_factory=list)

    def add_attribute(self, name: str, value: str | None) -> None:
        try:
            lifted = self._lift(name, value)
        except ValueError:
            lifted = False  # not the well-known form: kept verbatim, as RFC 4566 §5.13 asks for unknown ones
        if not lifted:
            self.attributes.append(Attribute(name, value))

    def _lift(self, name: str, value: str | None) -> bool:
        """Put a well-known attribute into its field; False when it is unknown or a second single-valued one."""
        if name in _DIRECTIONS and value is None and self.direction is None:
            self.direction = _DIRECTIONS[name]
        elif value is None:
            return False
        elif name == "rtpmap":
            self.rtpmaps.append(RtpMap.parse(value))
        elif name == "fmtp":
            self.fmtps.append(Fmtp.parse(value))
        elif name == "ptime" and self.ptime is None:
            self.ptime = _parse_number(value.strip(), "ptime")
        elif name == "maxptime" and self.maxptime is None:
            self.maxptime = _parse_number(value.strip(), "maxptime")
        elif name == "rtcp" and self.rtcp is None:
            self.rtcp = RtcpAttribute.parse(value)
        else:
            return False
        return True

    def build(self) -> MediaDescription:
        return MediaDescription(
            kind=self.kind, port=self.port, protocol=self.protocol, formats=self.formats,
            port_count=self.port_count, title=self.title, connection=self.connection,
            bandwidths=tuple(self.bandwidths), encryption_key=self.encryption_key,
            rtpmaps=tuple(self.rtpmaps), fmtps=tuple(self.fmtps), ptime=self.ptime, maxptime=self.maxptime,
            rtcp=self.rtcp, direction=self.direction, attributes=tuple(self.attributes),
        )


def _parse_media_line(value: str, line: int) -> _MediaBuilder:
    fields = value.split()
    if len(fields) < 3:
        raise ValueError("m= needs <media> <port> <proto> <fmt> ...")
    kind, port_text, protocol, *formats = fields
    port_part, slash, count_part = port_text.partition("/")
    port = _parse_number(port_part, "port", limit=65535)
    port_count = _parse_number(count_part, "port count") if slash else None
    # pjmedia_sdp_validate: an active stream lists at least one format ...
    if not formats and port != 0:
        raise ValueError("m= lists no formats")
    # ... and an RTP payload type is 0-127.
    if _is_rtp_profile(protocol):
        for fmt in formats:
            if fmt.isascii() and fmt.isdigit() and int(fmt) > 127:
                raise ValueError(f"payload type out of range: {fmt}")
    return _MediaBuilder(line, kind, port, port_count, protocol, tuple(formats))


class _Parser:
    """One pass over the lines; session-only types found after an m= still apply to the session."""

    def __init__(self) -> None:
        self.origin: Origin | None = None
        self.session_name: str | None = None
        self.information: str | None = None
        self.uri: str | None = None
        self.emails: list[str] = []
        self.phones: list[str] = []
        self.connection: Connection | None = None
        self.bandwidths: list[Bandwidth] = []
        self.timings: list[Timing] = []
        self.time_zones: str | None = None
        self.encryption_key: str | None = None
        self.direction: Direction | None = None
        self.attributes: list[Attribute] = []
        self.media: list[_MediaBuilder] = []

    def parse(self, text: str) -> SessionDescription:
        seen_version = False
        for number, raw in enumerate(text.split("\n"), start=1):
            line = raw.rstrip(" \t\r")
            if not line:
                continue
            if "\r" in line or "\x00" in line:
                raise SdpError("control character inside a line", line=number, text=line)
            if len(line) < 2 or line[1] != "=":
                raise SdpError("not a <type>=<value> line", line=number, text=line)
            kind, value = line[0], line[2:]
            if not seen_version:
                if kind != "v":
                    raise SdpError("an SDP body starts with v=", line=number, text=line)
                if value.strip() != "0":
                    raise SdpError(f"unsupported SDP version {value.strip()!r}", line=number, text=line)
                seen_version = True
                continue
            if kind == "v":
                raise SdpError("second v= line", line=number, text=line)
            if kind not in _KNOWN_TYPES:
                if "a" <= kind <= "z":
                    continue  # pjmedia_sdp_parse skips unknown lower-case types (parse_generic_line)
                raise SdpError(f"unknown line type {kind!r}", line=number, text=line)
            try:
                self._line(kind, value, number)
            except ValueError as exc:
                raise SdpError(str(exc), line=number, text=line) from None
        if not seen_version:
            raise SdpError("empty SDP body")
        return self._finish()

    def _line(self, kind: str, value: str, number: int) -> None:
        current = self.media[-1] if self.media else None
        if kind == "m":
            self.media.append(_parse_media_line(value, number))
        elif current is not None and kind in _MEDIA_LEVEL_TYPES:
            self._media_line(current, kind, value)
        elif kind == "o":
            self.origin = Origin.parse(value)
        elif kind == "s":
            self.session_name = value
        elif kind == "i":
            self.information = value
        elif kind == "u":
            self.uri = value
        elif kind == "e":
            self.emails.append(value)
        elif kind == "p":
            self.phones.append(value)
        elif kind == "c":
            self.connection = Connection.parse(value)  # a repeated c= replaces, as in pjmedia
        elif kind == "b":
            self.bandwidths.append(Bandwidth.parse(value))
        elif kind == "t":
            self.timings.append(Timing.parse(value))
        elif kind == "r":
            if not self.timings:
                raise ValueError("r= before any t=")
            last = self.timings[-1]
            self.timings[-1] = Timing(last.start, last.stop, (*last.repeats, value))
        elif kind == "z":
            self.time_zones = value
        elif kind == "k":
            self.encryption_key = value
        else:  # "a"
            name, attr_value = _split_attribute(value)
            if name in _DIRECTIONS and attr_value is None and self.direction is None:
                self.direction = _DIRECTIONS[name]
            else:
                self.attributes.append(Attribute(name, attr_value))

    @staticmethod
    def _media_line(media: _MediaBuilder, kind: str, value: str) -> None:
        if kind == "i":
            media.title = value
        elif kind == "c":
            media.connection = Connection.parse(value)
        elif kind == "b":
            media.bandwidths.append(Bandwidth.parse(value))
        elif kind == "k":
            media.encryption_key = value
        else:  # "a"
            media.add_attribute(*_split_attribute(value))

    def _finish(self) -> SessionDescription:
        if self.origin is None:
            raise SdpError("no o= line")
        if self.session_name is None:
            raise SdpError("no s= line")
        for media in self.media:
            # pjmedia_sdp_validate: a stream needs a c= at its own or at session level.  We only ask it of
            # active streams: a rejected one (port 0) is never sent to.
            if media.port != 0 and media.connection is None and self.connection is None:
                raise SdpError(f"no c= line for m={media.kind}", line=media.line)
        return SessionDescription(
            origin=self.origin, session_name=self.session_name, information=self.information, uri=self.uri,
            emails=tuple(self.emails), phones=tuple(self.phones), connection=self.connection,
            bandwidths=tuple(self.bandwidths), timings=tuple(self.timings) or (Timing(),),
            time_zones=self.time_zones, encryption_key=self.encryption_key, direction=self.direction,
            attributes=tuple(self.attributes), media=tuple(m.build() for m in self.media),
        )


def _split_attribute(value: str) -> tuple[str, str | None]:
    """``name[:value]``; pjmedia's parse_attr skips blanks after ``a=`` and reads the name as a token."""
    name, colon, rest = value.lstrip(" \t").partition(":")
    if not name or any(ch.isspace() for ch in name):
        raise ValueError(f"malformed attribute name {name!r}")
    return name, (rest if colon else None)
