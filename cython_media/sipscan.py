"""SIP message framing, the common case: the compiled scanner when available, else its pure twin (same API
and results).

``scan_datagram(known, unknown, max_headers, max_head, data)`` gives a received datagram's
``(start line, header lines, {key: [values]}, body offset)``, or ``None`` when the datagram is not of the
form nearly every peer sends (the caller's careful parser then takes it); ``index_header_lines`` indexes
header lines already split.  ``CENTRALITA_NO_EXTENSIONS=1`` forces the pure twin.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from cython_media import NO_EXTENSIONS, _sipscan_py
from cython_media._sipscan_py import HeaderIndex, NameInfo, Scanned

ACCELERATED = False
if TYPE_CHECKING:
    from cython_media._sipscan_py import index_header_lines, scan_datagram
else:
    index_header_lines = _sipscan_py.index_header_lines
    scan_datagram = _sipscan_py.scan_datagram
    if not NO_EXTENSIONS:
        try:
            _compiled = importlib.import_module("cython_media._sipscan")
        except ImportError:
            pass
        else:
            index_header_lines = _compiled.index_header_lines
            scan_datagram = _compiled.scan_datagram
            ACCELERATED = True

__all__ = ["ACCELERATED", "HeaderIndex", "NameInfo", "Scanned", "index_header_lines", "scan_datagram"]
