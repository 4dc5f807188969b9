"""RTP fixed-header helpers (RFC 3550 §5.1): the compiled module when available, else its pure twin.

:func:`rtp_header` validates a packet and returns ``(payload_type, marker, sequence, timestamp, ssrc,
payload_offset, payload_end)`` without building an object; :func:`build_rtp_header` and
:func:`build_rtp_packet` write a 12-byte header; :func:`rewrite_rtp` and :func:`rewrite_rtp_batch` rewrite
SSRC/sequence/timestamp in place (the relay's per-packet rule).  Both implementations give identical
results and raise the same :class:`RtpError`.  ``CENTRALITA_NO_EXTENSIONS=1`` forces the pure twin.
"""

from __future__ import annotations

import importlib

from cython_media import NO_EXTENSIONS, _rtp_py
from cython_media._rtp_py import RTP_HEADER_SIZE, RTP_VERSION, Buffer, RtpError

rtp_header = _rtp_py.rtp_header
build_rtp_header = _rtp_py.build_rtp_header
build_rtp_packet = _rtp_py.build_rtp_packet
rewrite_rtp = _rtp_py.rewrite_rtp
rewrite_rtp_batch = _rtp_py.rewrite_rtp_batch

ACCELERATED = False
if not NO_EXTENSIONS:
    try:
        # Imported by name so that type checkers see the pure twin's signatures for both.
        _compiled = importlib.import_module("cython_media._rtp")
    except ImportError:
        pass
    else:
        rtp_header = _compiled.rtp_header
        build_rtp_header = _compiled.build_rtp_header
        build_rtp_packet = _compiled.build_rtp_packet
        rewrite_rtp = _compiled.rewrite_rtp
        rewrite_rtp_batch = _compiled.rewrite_rtp_batch
        ACCELERATED = True

__all__ = [
    "ACCELERATED",
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
