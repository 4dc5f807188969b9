"""SIP message framing, the common case (pure-Python twin of ``_sipscan.pyx``).

A received datagram is split into its start line (method and Request-URI, or status code and reason
phrase), its header lines and the offset of its body, and the header lines are indexed by header key; the
message layer (``core.sip.message``) builds the message from that.  Only the form nearly every peer sends
is handled here: no leading CRLF, every line ended by CRLF (no bare CR or LF), a header block ended by an
empty line, a start line ``METHOD SP Request-URI SP SIP/2.0`` with a method the caller names or
``SIP/2.0 SP 1xx-6xx [SP reason]``, each header line written ``name: value`` with a name the caller
knows.  Anything else gives ``None``, and the caller parses the datagram with its careful path, which
accepts the other legal forms (folding, bare LF, unknown names, extension methods, ...) and reports what
is malformed (RFC 3261 §7.1, §7.2, §7.3.1, §7.5, §18.3; RFC 4475).

The caller makes a :class:`DatagramScanner` with what to know a header name by: ``known`` and ``unknown``
map a name as written to ``(key, canonical name)``; a name found in neither gives ``None``.  ``known`` is
read when the scanner is made (the compiled twin puts it in a table of its own) and must not change
afterwards; ``unknown`` may grow.  Both twins give equal results.
"""

from __future__ import annotations

HeaderIndex = dict[str, list[str]]
NameInfo = dict[str, tuple[str, str]]
Scanned = tuple[str | None, str, int, list[str], HeaderIndex, int, bytes | None]


def index_header_lines(header_lines: list[str], known: NameInfo, unknown: NameInfo) -> HeaderIndex | None:
    """The values of ``header_lines`` (unfolded, without the start line) by header key, each stripped of
    SP and HTAB, in order; ``None`` when a line is not ``name: value`` with a name in ``known`` or
    ``unknown``."""
    index: HeaderIndex = {}
    info_of = known.get
    for line in header_lines:
        # Split at ": ", as nearly every line is written: the value then needs no new string to lose its
        # leading space. A name that ends elsewhere (no space, or a colon before the ": ") is no known
        # name, and the caller's careful path handles the line.
        name, colon, value = line.partition(": ")
        info = info_of(name)
        if info is None or not colon:
            info = unknown.get(name) if colon else None
            if info is None:
                return None
        value = value.strip(" \t")
        values = index.get(info[0])
        if values is None:
            index[info[0]] = [value]
        else:
            values.append(value)
    return index


class DatagramScanner:
    """Frames received datagrams for a message layer that knows header names by ``known`` (read once, by the
    compiled twin) and ``unknown`` (read on every miss) and the methods ``methods``; see :meth:`scan`."""

    __slots__ = ("_known", "_unknown", "_methods", "_max_headers", "_max_head")

    def __init__(
        self, known: NameInfo, unknown: NameInfo, methods: frozenset[str], max_headers: int, max_head: int
    ) -> None:
        self._known = known
        self._unknown = unknown
        self._methods = methods
        self._max_headers = max_headers
        self._max_head = max_head

    def scan(self, data: bytes) -> Scanned | None:
        """``(method, Request-URI, 0, header lines, index, body offset, body)`` of a request in ``data``,
        ``(None, reason phrase, status code, header lines, index, body offset, body)`` of a response, or
        ``None`` when ``data`` is not of the usual form (see the module's docstring), when its header block
        (without the empty line) is longer than ``max_head`` octets or when it has more than ``max_headers``
        header lines.

        ``body`` is the rest of the datagram without a Content-Length header, its first Content-Length
        octets with one Content-Length of at most 10 ASCII digits that the datagram holds (RFC 3261 §18.3),
        and ``None`` otherwise: the caller's framing checks decide then.

        Octets that are not UTF-8 are decoded with ``surrogateescape``, as the careful path does."""
        if type(data) is not bytes:
            return None
        head_end = data.find(b"\r\n\r\n")
        if head_end <= 0 or head_end > self._max_head:
            return None
        head = data[:head_end].decode("utf-8", "surrogateescape")
        lines = head.split("\r\n")
        crlf = len(lines) - 1
        if crlf > self._max_headers or not lines[0] or head.count("\n") != crlf or head.count("\r") != crlf:
            return None  # too many lines, a leading CRLF, a bare CR or LF
        first = lines[0]
        if first[:4].upper() == "SIP/":
            parts = first.split(" ", 2)
            code = parts[1] if len(parts) > 1 else ""
            if not (
                parts[0] == "SIP/2.0" and len(code) == 3 and code.isdigit() and code.isascii() and "1" <= code[0] <= "6"
            ):
                return None
            method = None
            text = parts[2] if len(parts) == 3 else ""
            status = int(code)
        else:
            parts = first.split(" ")
            if not (len(parts) == 3 and parts[2] == "SIP/2.0" and parts[0] in self._methods and parts[1]):
                return None
            method = parts[0]
            text = parts[1]
            status = 0
        header_lines = lines[1:]
        index = index_header_lines(header_lines, self._known, self._unknown)
        if index is None:
            return None
        body_start = head_end + 4
        body: bytes | None = data[body_start:]
        lengths = index.get("content-length")
        if lengths:
            length = lengths[0]
            body = (
                data[body_start : body_start + int(length)]
                if len(lengths) == 1
                and len(length) <= 10
                and length.isdigit()
                and length.isascii()
                and int(length) <= len(data) - body_start
                else None
            )
        return method, text, status, header_lines, index, body_start, body
