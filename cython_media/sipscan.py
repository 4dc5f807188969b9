"""SIP message framing, the common case: the compiled scanner when available, else its pure twin (same API
and results).

``DatagramScanner(known, unknown, methods, max_headers, max_head).scan(data)`` gives a received datagram's
start line parts, header lines, ``{key: [values]}``, body offset and body (framed by Content-Length when
nothing is left to check), or ``None`` when the datagram is not of the form nearly every peer sends (the
caller's careful parser then takes it); ``index_header_lines`` indexes header lines already split.
``CENTRALITA_NO_EXTENSIONS=1`` forces the pure twin.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from cython_media import NO_EXTENSIONS, _sipscan_py
from cython_media._sipscan_py import HeaderIndex, NameInfo, Scanned

ACCELERATED = False
if TYPE_CHECKING:
    from cython_media._sipscan_py import DatagramScanner, index_header_lines
else:
    DatagramScanner = _sipscan_py.DatagramScanner
    index_header_lines = _sipscan_py.index_header_lines
    if not NO_EXTENSIONS:
        try:
            _compiled = importlib.import_module("cython_media._sipscan")
        except ImportError:
            pass
        else:
            DatagramScanner = _compiled.DatagramScanner
            index_header_lines = _compiled.index_header_lines
            ACCELERATED = True

__all__ = ["ACCELERATED", "DatagramScanner", "HeaderIndex", "NameInfo", "Scanned", "index_header_lines"]
