"""RTP packets (RFC 3550 §5.1): parse a datagram into an :class:`RtpPacket`, build one back.

The header walk (version, CSRC list, extension, padding) is the compiled ``cython_media.rtp.rtp_header``
when available; this module adds the CSRC identifiers and the header extension as data.  Header
extensions, one-byte or two-byte RFC 8285 elements alike, are kept as opaque bytes with their 16-bit
profile word: they are skipped correctly, not interpreted.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from cython_media.rtp import RTP_HEADER_SIZE, RTP_VERSION, Buffer, RtpError, build_rtp_packet, rtp_header

__all__ = [
    "RTP_HEADER_SIZE",
    "RTP_VERSION",
    "RtpError",
    "RtpPacket",
    "StaticPayloadType",
    "build_rtp",
    "clock_rate_of",
    "parse_rtp",
]


class StaticPayloadType(IntEnum):
    """Audio payload types with a static number (RFC 3551 §6, Table 4), with their RTP clock rate."""

    PCMU = 0
    GSM = 3
    G723 = 4
    PCMA = 8
    G722 = 9
    CN = 13
    G729 = 18

    @property
    def clock_rate(self) -> int:
        """RTP timestamp units per second: 8000 for all of these, G.722 included (RFC 3551 §4.5.2)."""
        return 8000


def clock_rate_of(payload_type: int, dynamic: dict[int, int] | None = None) -> int:
    """The RTP clock rate of ``payload_type``: from ``dynamic`` (the SDP ``a=rtpmap`` rates) first, else
    RFC 3551's static table.  Raises :class:`RtpError` for an unknown payload type."""
    if dynamic and payload_type in dynamic:
        return dynamic[payload_type]
    try:
        return StaticPayloadType(payload_type).clock_rate
    except ValueError:
        raise RtpError(f"no clock rate known for payload type {payload_type}") from None


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """One RTP packet (RFC 3550 §5.1).

    ``payload`` excludes padding; ``padding`` is the number of padding octets the packet carried (0 when
    the P bit was clear).  ``extension_profile`` is the 16-bit "defined by profile" word of the header
    extension (``0xBEDE`` for RFC 8285 one-byte elements, ``0x100x`` for two-byte ones) or ``None`` when
    the X bit was clear; ``extension`` is the extension's body (a multiple of 4 bytes).
    """

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    extension_profile: int | None = None
    extension: bytes = b""
    padding: int = 0

    def serialize(self) -> bytes:
        """The packet on the wire (padding, if any, as zero octets followed by the count)."""
        return build_rtp(self.payload_type, self.sequence, self.timestamp, self.ssrc, self.payload,
                         marker=self.marker, csrcs=self.csrcs, extension_profile=self.extension_profile,
                         extension=self.extension, padding=self.padding)


def parse_rtp(data: Buffer) -> RtpPacket:
    """Parse one RTP datagram.

    Raises :class:`RtpError` (with the byte ``offset`` of the problem) when the datagram is shorter than
    the fixed header, is not version 2, or its CSRC list, header extension or padding do not fit
    (RFC 3550 §5.1, §5.3.1 and the validity checks of Appendix A.1).
    """
    payload_type, marker, sequence, timestamp, ssrc, offset, end = rtp_header(data)
    raw = bytes(data)
    first = raw[0]
    count = first & 0x0F
    csrcs: tuple[int, ...] = struct.unpack_from(f"!{count}I", raw, RTP_HEADER_SIZE) if count else ()
    extension_profile: int | None = None
    extension = b""
    if first & 0x10:
        at = RTP_HEADER_SIZE + 4 * count
        extension_profile, words = struct.unpack_from("!HH", raw, at)
        extension = raw[at + 4:at + 4 + 4 * words]
    return RtpPacket(payload_type, sequence, timestamp, ssrc, raw[offset:end], marker, csrcs,
                     extension_profile, extension, len(raw) - end)


def build_rtp(payload_type: int, sequence: int, timestamp: int, ssrc: int, payload: Buffer = b"", *,
              marker: bool = False, csrcs: tuple[int, ...] = (), extension_profile: int | None = None,
              extension: bytes = b"", padding: int = 0) -> bytes:
    """Build an RTP packet (RFC 3550 §5.1).

    Up to 15 CSRC identifiers; a header extension when ``extension_profile`` is given (its body must be a
    multiple of 4 bytes, §5.3.1); ``padding`` octets (1-255) with the count in the last one (§5.1, P bit).
    Raises :class:`RtpError` when a field does not fit its wire format.
    """
    if not csrcs and extension_profile is None and not padding:
        return build_rtp_packet(payload_type, marker, sequence, timestamp, ssrc, payload)
    if len(csrcs) > 15:
        raise RtpError(f"{len(csrcs)} CSRC identifiers, at most 15 fit the CC field")
    if any(not 0 <= csrc <= 0xFFFFFFFF for csrc in csrcs):
        raise RtpError("CSRC identifier out of range 0-4294967295")
    if not 0 <= padding <= 255:
        raise RtpError(f"padding of {padding} octets, the count octet holds 1-255")
    header = bytearray(build_rtp_packet(payload_type, marker, sequence, timestamp, ssrc, b""))
    header[0] |= len(csrcs) | (0x20 if padding else 0)
    parts = [bytes(header), struct.pack(f"!{len(csrcs)}I", *csrcs)]
    if extension_profile is not None:
        if not 0 <= extension_profile <= 0xFFFF:
            raise RtpError(f"extension profile 0x{extension_profile:x} does not fit 16 bits")
        if len(extension) % 4 or len(extension) > 4 * 0xFFFF:
            raise RtpError(f"header extension of {len(extension)} bytes is not a whole number of 32-bit words")
        header[0] |= 0x10
        parts[0] = bytes(header)
        parts.append(struct.pack("!HH", extension_profile, len(extension) // 4) + extension)
    parts.append(bytes(payload))
    if padding:
        parts.append(bytes(padding - 1) + bytes((padding,)))
    return b"".join(parts)
