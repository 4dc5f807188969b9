"""RTP fixed-header helpers (RFC 3550 §5.1), pure Python: the twin of ``_rtp.pyx``.

Same API, same results and same error messages as the compiled module.  These helpers read and write the
header fields without building a packet object: :func:`rtp_header` validates a packet and returns its fields
and payload bounds, :func:`build_rtp_header` / :func:`build_rtp_packet` write a 12-byte header (no CSRC,
no extension), and :func:`rewrite_rtp` / :func:`rewrite_rtp_batch` rewrite SSRC, sequence number and
timestamp in place, modulo 2^16 and 2^32, as a relay does when it bridges two legs.

Wire layout (RFC 3550 §5.1)::

     0                   1                   2                   3
    |V=2|P|X|  CC   |M|     PT      |       sequence number         |
    |                           timestamp                           |
    |           synchronization source (SSRC) identifier            |
    |            contributing source (CSRC) identifiers  (CC x 4)   |
    | profile-defined (16)          | length in 32-bit words (16)   |  if X (RFC 3550 §5.3.1 / RFC 8285)
    | header extension ...                                          |
    | payload ...                                   | padding | count |  if P
"""

from __future__ import annotations

import operator
import struct
from collections.abc import Sequence
from typing import Union

RTP_VERSION = 2
RTP_HEADER_SIZE = 12

Buffer = Union[bytes, bytearray, memoryview]
"""Anything with the buffer protocol that the helpers accept (read-only for parsing)."""

_I64_MIN = -(1 << 63)
_I64_MAX = (1 << 63) - 1
_HEADER = struct.Struct("!BBHII")


class RtpError(ValueError):
    """A datagram that is not a valid RTP packet, or a header field out of range.

    ``offset`` is the byte position in the packet where the problem was found (0 for field-range errors).
    The same class is raised by the compiled module, the pure twin and ``core.rtp.packet``.
    """

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.offset = offset


def _header_bounds(data: Buffer) -> tuple[int, bool, int, int, int, int, int]:
    if isinstance(data, memoryview) and (data.ndim != 1 or data.itemsize != 1):
        data = data.cast("B")
    n = len(data)
    if n < RTP_HEADER_SIZE:
        raise RtpError(f"RTP packet of {n} bytes is shorter than the 12-byte fixed header", 0)
    first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(data, 0)
    version = first >> 6
    if version != RTP_VERSION:
        raise RtpError(f"RTP version {version}, expected 2", 0)
    offset = RTP_HEADER_SIZE + 4 * (first & 0x0F)
    if offset > n:
        raise RtpError(f"CSRC list ({first & 0x0F} entries) runs past the end of the {n}-byte packet",
                       RTP_HEADER_SIZE)
    if first & 0x10:
        if offset + 4 > n:
            raise RtpError("header extension runs past the end of the packet", offset)
        words = (data[offset + 2] << 8) | data[offset + 3]
        extension_at = offset
        offset += 4 + 4 * words
        if offset > n:
            raise RtpError(f"header extension ({words} words) runs past the end of the {n}-byte packet",
                           extension_at)
    end = n
    if first & 0x20:
        padding = data[n - 1]
        if padding == 0:
            raise RtpError("padding bit set but the padding count is 0", n - 1)
        if padding > n - offset:
            raise RtpError(f"padding of {padding} bytes is longer than the {n - offset}-byte payload", n - 1)
        end = n - padding
    return second & 0x7F, bool(second & 0x80), sequence, timestamp, ssrc, offset, end


def rtp_header(data: Buffer) -> tuple[int, bool, int, int, int, int, int]:
    """Validate an RTP packet and return its fixed-header fields and payload bounds.

    Returns ``(payload_type, marker, sequence, timestamp, ssrc, payload_offset, payload_end)``: the payload
    is ``data[payload_offset:payload_end]`` (after the CSRC list and any header extension, before any
    padding).  Raises :class:`RtpError` for a packet shorter than 12 bytes, a version other than 2, a CSRC
    list or header extension that runs past the end, or padding that is zero or longer than the payload
    (RFC 3550 §5.1, §5.3.1, Appendix A.1).
    """
    return _header_bounds(data)


def _check_i64(value: int) -> int:
    value = operator.index(value)
    if not _I64_MIN <= value <= _I64_MAX:
        raise OverflowError("Python int too large to convert to C long long")
    return value


def _check_fields(payload_type: int, sequence: int, timestamp: int, ssrc: int) -> None:
    payload_type = _check_i64(payload_type)
    sequence = _check_i64(sequence)
    timestamp = _check_i64(timestamp)
    ssrc = _check_i64(ssrc)
    if not 0 <= payload_type <= 0x7F:
        raise RtpError(f"payload type {payload_type} out of range 0-127")
    if not 0 <= sequence <= 0xFFFF:
        raise RtpError(f"sequence number {sequence} out of range 0-65535")
    if not 0 <= timestamp <= 0xFFFFFFFF:
        raise RtpError(f"timestamp {timestamp} out of range 0-4294967295")
    if not 0 <= ssrc <= 0xFFFFFFFF:
        raise RtpError(f"SSRC {ssrc} out of range 0-4294967295")


def build_rtp_header(payload_type: int, marker: bool, sequence: int, timestamp: int, ssrc: int) -> bytes:
    """The 12-byte RTP fixed header (V=2, no padding, no extension, no CSRC) for these fields.

    Raises :class:`RtpError` when a field is out of its wire range (RFC 3550 §5.1).
    """
    _check_fields(payload_type, sequence, timestamp, ssrc)
    return _HEADER.pack(0x80, (0x80 if marker else 0) | payload_type, sequence, timestamp, ssrc)


def build_rtp_packet(payload_type: int, marker: bool, sequence: int, timestamp: int, ssrc: int,
                     payload: Buffer) -> bytes:
    """A whole RTP packet: :func:`build_rtp_header` followed by ``payload``, in one allocation."""
    return build_rtp_header(payload_type, marker, sequence, timestamp, ssrc) + bytes(payload)


def _deltas(ssrc: int, seq_delta: int, ts_delta: int) -> tuple[int, int, int]:
    # Argument conversion first, as the compiled module's typed arguments do.
    return _check_i64(ssrc), _check_i64(seq_delta) & 0xFFFF, _check_i64(ts_delta) & 0xFFFFFFFF


def _check_ssrc(ssrc: int) -> None:
    if not 0 <= ssrc <= 0xFFFFFFFF:
        raise RtpError(f"SSRC {ssrc} out of range 0-4294967295")


def _rewrite_one(view: memoryview, ssrc: int, seq_add: int, ts_add: int) -> bool:
    if len(view) < RTP_HEADER_SIZE or view[0] >> 6 != RTP_VERSION:
        return False
    sequence = ((view[2] << 8 | view[3]) + seq_add) & 0xFFFF
    timestamp = (int.from_bytes(view[4:8], "big") + ts_add) & 0xFFFFFFFF
    view[2:12] = struct.pack("!HII", sequence, timestamp, ssrc)
    return True


def _writable(buf: Buffer) -> memoryview:
    view = memoryview(buf)
    if view.readonly:
        raise TypeError("rewrite_rtp needs a writable buffer (bytearray, writable memoryview)")
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    return view


def rewrite_rtp(buf: Buffer, ssrc: int, seq_delta: int, ts_delta: int) -> None:
    """Rewrite one RTP packet in place: SSRC := ``ssrc``, sequence += ``seq_delta`` (mod 2^16), timestamp
    += ``ts_delta`` (mod 2^32); payload, marker and payload type are untouched.

    The deltas may be negative.  Raises :class:`RtpError` when ``buf`` is not an RTP version 2 packet with
    a full fixed header, ``TypeError`` when it is read-only.  This is the per-packet rule of the relay fast
    path (RFC 3550 §5.1 fields; §7.3 for a translator's view of SSRC and sequence).
    """
    ssrc, seq_add, ts_add = _deltas(ssrc, seq_delta, ts_delta)
    view = _writable(buf)
    _check_ssrc(ssrc)
    if not _rewrite_one(view, ssrc, seq_add, ts_add):
        n = len(view)
        if n < RTP_HEADER_SIZE:
            raise RtpError(f"RTP packet of {n} bytes is shorter than the 12-byte fixed header", 0)
        raise RtpError(f"RTP version {view[0] >> 6}, expected 2", 0)


def rewrite_rtp_batch(packets: Sequence[Buffer], ssrc: int, seq_delta: int, ts_delta: int) -> list[int]:
    """:func:`rewrite_rtp` on every packet of a batch (e.g. one ``recvmmsg`` worth) with the same values.

    Returns the indices of the packets that were left unchanged because they are not RTP version 2 with a
    full fixed header (the caller drops them); an empty list when all were rewritten.
    """
    ssrc, seq_add, ts_add = _deltas(ssrc, seq_delta, ts_delta)
    _check_ssrc(ssrc)
    skipped: list[int] = []
    for index, packet in enumerate(packets):
        if not _rewrite_one(_writable(packet), ssrc, seq_add, ts_add):
            skipped.append(index)
    return skipped


__all__ = [
    "RTP_HEADER_SIZE",
    "RTP_VERSION",
    "Buffer",
    "RtpError",
    "build_rtp_header",
    "build_rtp_packet",
    "rewrite_rtp",
    "rewrite_rtp_batch",
    "rtp_header",
]
