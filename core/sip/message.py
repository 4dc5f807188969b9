"""SIP messages: parsing (datagram and stream framing), lazily parsed headers, serialisation, responses.

RFC 3261 §7 (messages), §18.3 (framing), §8.2 (what a UAS rejects before looking at its state),
§20 (header fields), RFC 4475 (torture tests) and RFC 5118 (IPv6 torture tests). Parsing splits the
header block once into ``(name, value)`` pairs; each structured header is parsed the first time it
is read and cached until the headers change. Nothing raises out of :func:`parse_message` and
:meth:`StreamParser.feed` but :class:`SipParseError`.

Everything this package's other modules need from the message layer is importable from here.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from core.sip.headers import (
    COMPACT_FORMS,
    LIST_HEADERS,
    RFC_METHODS,
    CSeq,
    Headers,
    NameAddr,
    Via,
    datagram_scanner,
    header_key,
    parse_header_lines,
    parse_header_params,
    quote,
    split_list,
    unquote,
)
from core.sip.status import Status, reason_phrase
from core.sip.uri import SipParseError, SipUri, escape, format_host, unescape

__all__ = [
    "COMPACT_FORMS",
    "LIST_HEADERS",
    "MAX_HEADERS",
    "MAX_HEADER_LENGTH",
    "MAX_MESSAGE_SIZE",
    "MAX_VIAS",
    "RFC_METHODS",
    "CSeq",
    "Headers",
    "NameAddr",
    "Rejection",
    "SipMessage",
    "SipParseError",
    "SipRequest",
    "SipResponse",
    "SipUri",
    "Status",
    "StreamParser",
    "Via",
    "body_part",
    "check_request",
    "escape",
    "format_host",
    "header_key",
    "make_response",
    "new_branch",
    "new_call_id",
    "new_tag",
    "parse_message",
    "quote",
    "reason_phrase",
    "split_list",
    "unescape",
    "unquote",
]

MAX_MESSAGE_SIZE = 65535
"""Largest message accepted, in octets (a UDP datagram cannot be larger)."""
MAX_HEADERS = 256
"""Most header lines in one message."""
MAX_HEADER_LENGTH = 16384
"""Longest header field, in characters, after unfolding."""
MAX_VIAS = 100
"""Most Via values in one message (Max-Forwards starts at 70, RFC 3261 §8.1.1.6)."""

_TOKEN_OK = re.compile(r"[!%'*+\-.0-9A-Z_`a-z~]+").fullmatch
_VERSION_OK = re.compile(r"[Ss][Ii][Pp]/[0-9]{1,5}\.[0-9]{1,5}").fullmatch
_DIGITS_OK = re.compile(r"[0-9]{1,10}").fullmatch
_CODE_OK = re.compile(r"[1-6][0-9][0-9]").fullmatch
_MAGIC_COOKIE = "z9hG4bK"
# CSeq values are immutable and recur (a transaction's requests and responses share one): parsed
# ones are kept, a bounded number.
_CSEQ_CACHE: dict[str, CSeq] = {}


class SipMessage:
    """What requests and responses share: headers, body and the lazily parsed header views.

    ``headers`` holds the raw (unfolded) header lines; the properties parse on first access, cache
    the result until the headers change, and raise :class:`SipParseError` when the header is
    malformed, or missing where RFC 3261 §8.1.1 makes it mandatory (From, To, Call-ID, CSeq).
    ``framing_error`` is set on a request whose datagram did not match its Content-Length (the body
    is then what arrived; :func:`check_request` answers 400). ``wire_size`` is the size in octets of
    the datagram or stream segment the message came in (0 for a message built locally), and ``wire`` the
datagram itself (``b""`` for a message built locally or read from a stream): parsing it again gives the
message as received, before any change made to it since.
    Parsed objects are views: to change a message, change its headers.
    """

    __slots__ = ("headers", "body", "framing_error", "wire_size", "wire")

    def __init__(self, headers: Headers | None = None, body: bytes = b"") -> None:
        self.headers = headers if headers is not None else Headers()
        self.body = body
        self.framing_error: str | None = None
        self.wire_size = 0
        self.wire = b""

    # -- raw access ----------------------------------------------------------------------------

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (raw unfolded text), or ``None``; compact names work."""
        return self.headers.get(name)

    def header_values(self, name: str) -> list[str]:
        """Every value of ``name``; list headers split at unquoted commas (see :meth:`Headers.values`)."""
        return self.headers.values(name)

    def set_header(self, name: str, value: str) -> None:
        """Replace every line of ``name`` with one line ``value``."""
        self.headers.set(name, value)

    def add_header(self, name: str, value: str, *, first: bool = False) -> None:
        """Add a header line, after the others or (``first=True``) before every header."""
        self.headers.add(name, value, first=first)

    def remove_header(self, name: str) -> None:
        """Remove every line of ``name``."""
        self.headers.remove(name)

    def _single(self, key: str, name: str) -> str:
        values = self.headers._index.get(key)
        if not values:
            raise SipParseError(f"Bad Request - Missing {name}", name)
        if len(values) > 1:
            raise SipParseError(f"Bad Request - Multiple {name}", name)
        return values[0]

    # -- parsed views --------------------------------------------------------------------------
    # Each property returns the cached view, or parses it with the method after it. check_request, which
    # parses them all first on every request received, calls those methods directly: CPython 3.11 does not
    # specialise property access, and each one costs a C-level call into a new interpreter frame.

    @property
    def vias(self) -> list[Via]:
        """Every Via value, topmost first (RFC 3261 §20.42); ``[]`` when there is none."""
        vias: list[Via] | None = self.headers._parsed.get("via")
        return vias if vias is not None else self._parse_vias()

    def _parse_vias(self) -> list[Via]:
        headers = self.headers
        vias: list[Via] = []
        for line in headers._index.get("via", ()):
            if "," in line:
                vias.extend(Via.parse_all(line))
                if len(vias) > MAX_VIAS:
                    raise SipParseError("Bad Request - Too many Via", "Via")
            else:
                vias.append(Via.parse(line))
        if len(vias) > MAX_VIAS:
            raise SipParseError("Bad Request - Too many Via", "Via")
        headers._parsed["via"] = vias
        return vias

    @property
    def from_(self) -> NameAddr:
        """The From header (RFC 3261 §20.20)."""
        value: NameAddr | None = self.headers._parsed.get("from")
        return value if value is not None else self._parse_from()

    def _parse_from(self) -> NameAddr:
        headers = self.headers
        values = headers._index.get("from")
        text = values[0] if values is not None and len(values) == 1 else self._single("from", "From")
        value = headers._parsed["from"] = NameAddr.parse(text, "From")
        return value

    @property
    def to(self) -> NameAddr:
        """The To header (RFC 3261 §20.39)."""
        value: NameAddr | None = self.headers._parsed.get("to")
        return value if value is not None else self._parse_to()

    def _parse_to(self) -> NameAddr:
        headers = self.headers
        values = headers._index.get("to")
        text = values[0] if values is not None and len(values) == 1 else self._single("to", "To")
        value = headers._parsed["to"] = NameAddr.parse(text, "To")
        return value

    @property
    def call_id(self) -> str:
        """The Call-ID (RFC 3261 §20.8), compared case-sensitively."""
        value: str | None = self.headers._parsed.get("call-id")
        return value if value is not None else self._parse_call_id()

    def _parse_call_id(self) -> str:
        headers = self.headers
        values = headers._index.get("call-id")
        value = values[0] if values is not None and len(values) == 1 else self._single("call-id", "Call-ID")
        # [!-~]+ without a regex (printable ASCII is SP to "~"): RFC 3261 §25.1 callid is words of those.
        if not value or " " in value or not value.isascii() or not value.isprintable():
            raise SipParseError("Malformed Call-ID", "Call-ID")
        headers._parsed["call-id"] = value
        return value

    @property
    def cseq(self) -> CSeq:
        """The CSeq (RFC 3261 §20.16)."""
        value: CSeq | None = self.headers._parsed.get("cseq")
        return value if value is not None else self._parse_cseq()

    def _parse_cseq(self) -> CSeq:
        headers = self.headers
        values = headers._index.get("cseq")
        text = values[0] if values is not None and len(values) == 1 else self._single("cseq", "CSeq")
        value = _CSEQ_CACHE.get(text)
        if value is None:
            value = CSeq.parse(text)
            if len(_CSEQ_CACHE) >= 4096:
                _CSEQ_CACHE.clear()
            _CSEQ_CACHE[text] = value
        headers._parsed["cseq"] = value
        return value

    def _parse_contacts(self) -> tuple[list[NameAddr], bool]:
        headers = self.headers
        parsed: tuple[list[NameAddr], bool] | None = headers._parsed.get("contact")
        if parsed is None:
            contacts: list[NameAddr] = []
            star = False
            for line in headers._index.get("contact", ()):
                for item in split_list(line) if "," in line else (line,):
                    if item == "*":
                        star = True
                    elif not item:
                        raise SipParseError("Malformed Contact", "Contact")
                    else:
                        contacts.append(NameAddr.parse(item, "Contact"))
            if star and contacts:
                # RFC 3261 §10.2.2: "*" stands alone.
                raise SipParseError("Malformed Contact", "Contact")
            parsed = headers._parsed["contact"] = (contacts, star)
        return parsed

    @property
    def contacts(self) -> list[NameAddr]:
        """Every Contact address (RFC 3261 §20.10); ``[]`` when absent or ``Contact: *``."""
        return self._parse_contacts()[0]

    @property
    def contact_star(self) -> bool:
        """True for ``Contact: *`` (RFC 3261 §10.2.2, remove all bindings)."""
        return self._parse_contacts()[1]

    def _addresses(self, key: str, name: str) -> list[NameAddr]:
        headers = self.headers
        out: list[NameAddr] | None = headers._parsed.get(key)
        if out is None:
            out = []
            for line in headers._index.get(key, ()):
                for item in split_list(line):
                    if not item:
                        raise SipParseError(f"Malformed {name}", name)
                    out.append(NameAddr.parse(item, name))
            headers._parsed[key] = out
        return out

    @property
    def routes(self) -> list[NameAddr]:
        """The Route set, in order (RFC 3261 §20.34)."""
        return self._addresses("route", "Route")

    @property
    def record_routes(self) -> list[NameAddr]:
        """The Record-Route values, in order (RFC 3261 §20.30)."""
        return self._addresses("record-route", "Record-Route")

    @property
    def max_forwards(self) -> int | None:
        """Max-Forwards (RFC 3261 §20.22), 0-255; ``None`` when absent (RFC 2543 peers omit it)."""
        values = self.headers._index.get("max-forwards")
        if not values:
            return None
        if len(values) > 1:
            raise SipParseError("Bad Request - Multiple Max-Forwards", "Max-Forwards")
        text = values[0]
        # _DIGITS_OK's test without the regex for the usual two digits (isdigit() alone takes other scripts').
        if (len(text) <= 3 and text.isdigit() and text.isascii()) or _DIGITS_OK(text) is not None:
            value = int(text)
            if value <= 255:
                return value
        raise SipParseError("Malformed Max-Forwards", "Max-Forwards")

    @property
    def expires(self) -> int | None:
        """The Expires header in seconds (RFC 3261 §20.19); ``None`` when absent.

        "Malformed values SHOULD be treated as equivalent to 3600" (§20.19), and so is a value
        beyond 2**32-1 (RFC 4475 §3.1.2.4 scalar02): this gives 3600 for them rather than raising.
        """
        text = self.headers.get("expires")
        if text is None:
            return None
        if len(text) <= 9 and text.isdigit() and text.isascii():
            return int(text)  # below 2**32 without the regex
        if _DIGITS_OK(text) is None or int(text) > 0xFFFFFFFF:
            return 3600
        return int(text)

    @property
    def content_type(self) -> str | None:
        """The media type of the body, ``type/subtype`` lower-case without parameters (RFC 3261
        §20.15), e.g. ``"application/sdp"``; ``None`` when absent. The full value is
        ``header("Content-Type")``."""
        text = self.headers.get("content-type")
        if text is None:
            return None
        return text.partition(";")[0].strip(" \t").lower() or None

    # -- serialisation -------------------------------------------------------------------------

    def _start_line(self) -> str:
        raise NotImplementedError

    def encode(self) -> bytes:
        """The message on the wire: start line, headers in order (long names), a Content-Length
        that matches the body (in place of any received one), the empty line and the body."""
        body = self.body
        lines = [self._start_line()]
        length_line = f"Content-Length: {len(body)}"
        placed = False
        for key, name, value in self.headers._fields():
            if key == "content-length":
                if not placed:
                    lines.append(length_line)
                    placed = True
            else:
                lines.append(f"{name}: {value}")
        if not placed:
            lines.append(length_line)
        lines.append("\r\n")
        return "\r\n".join(lines).encode("utf-8", "surrogateescape") + body

    def __bytes__(self) -> bytes:
        return self.encode()


class SipRequest(SipMessage):
    """A SIP request (RFC 3261 §7.1). ``method`` is case-sensitive (§7.1: ``INVITE`` != ``invite``).

    ``uri`` is parsed on first access and raises :class:`SipParseError` when malformed; the text as
    received is kept and re-sent unchanged until ``uri`` is assigned. ``start_line_error`` is set
    when the Request-Line had extra spaces (RFC 4475 §3.1.2.8-10); :func:`check_request` answers 400.
    """

    __slots__ = ("method", "version", "start_line_error", "_uri", "_uri_text")

    def __init__(
        self,
        method: str,
        uri: SipUri | str,
        headers: Headers | None = None,
        body: bytes = b"",
        *,
        version: str = "SIP/2.0",
    ) -> None:
        # SipMessage.__init__ written out: a message is made for every datagram received and sent.
        self.headers = headers if headers is not None else Headers()
        self.body = body
        self.framing_error = None
        self.wire_size = 0
        self.wire = b""
        self.method = method
        self.version = version
        self.start_line_error: str | None = None
        if isinstance(uri, SipUri):
            self._uri: SipUri | None = uri
            self._uri_text: str | None = None
        else:
            self._uri = None
            self._uri_text = uri

    @property
    def uri(self) -> SipUri:
        """The Request-URI (RFC 3261 §19.1)."""
        uri = self._uri
        if uri is None:
            try:
                uri = self._uri = SipUri.parse(self._uri_text or "")
            except SipParseError:
                raise SipParseError("Bad Request - Malformed Request-URI") from None
        return uri

    @uri.setter
    def uri(self, value: SipUri) -> None:
        self._uri = value
        self._uri_text = None

    @property
    def uri_text(self) -> str:
        """The Request-URI as text: as received, or the serialisation of an assigned ``uri``."""
        return self._uri_text if self._uri_text is not None else str(self._uri)

    def _start_line(self) -> str:
        uri_text = self._uri_text
        return f"{self.method} {str(self._uri) if uri_text is None else uri_text} {self.version}"

    def __repr__(self) -> str:
        return f"<SipRequest {self.method} {self.uri_text}>"


class SipResponse(SipMessage):
    """A SIP response (RFC 3261 §7.2): ``status`` code and ``reason`` phrase (may be empty)."""

    __slots__ = ("status", "reason", "version")

    def __init__(
        self,
        status: int,
        reason: str | None = None,
        headers: Headers | None = None,
        body: bytes = b"",
        *,
        version: str = "SIP/2.0",
    ) -> None:
        # SipMessage.__init__ written out, as in SipRequest.
        self.headers = headers if headers is not None else Headers()
        self.body = body
        self.framing_error = None
        self.wire_size = 0
        self.wire = b""
        self.status = int(status)
        self.reason = reason_phrase(self.status) if reason is None else reason
        self.version = version

    def _start_line(self) -> str:
        return f"{self.version} {self.status} {self.reason}"

    def __repr__(self) -> str:
        return f"<SipResponse {self.status} {self.reason}>"


# -- parsing ----------------------------------------------------------------------------------


def _split_head(head: str) -> list[str]:
    """The lines of a header block whose line ends are CRLF, or bare LF (accepted for robustness).
    A CR that ends no line raises: it could end a line for another parser (header injection)."""
    lines = head.split("\r\n")
    crlf = len(lines) - 1
    if head.count("\n") != crlf:
        lines = [line[:-1] if line.endswith("\r") else line for line in head.split("\n")]
        crlf = head.count("\r\n")
    if head.count("\r") != crlf:
        raise SipParseError("Bad Request - Stray CR")
    return lines


def _parse_head(head: str) -> SipRequest | SipResponse:
    return _parse_lines(_split_head(head), len(head))


def _parse_lines(lines: list[str], size: int) -> SipRequest | SipResponse:
    headers = parse_header_lines(
        lines, max_headers=MAX_HEADERS, max_line=MAX_HEADER_LENGTH, long_lines=size > MAX_HEADER_LENGTH
    )
    return _with_start_line(lines[0], headers)


def _with_start_line(first: str, headers: Headers) -> SipRequest | SipResponse:
    """The message of Request-Line or Status-Line ``first`` (RFC 3261 §7.1, §7.2) with ``headers``."""
    message: SipRequest | SipResponse
    if first[:4].upper() == "SIP/":
        parts = first.split(" ", 2)
        if len(parts) < 2:
            raise SipParseError("Malformed Status-Line", line=1)
        version = parts[0]
        code = parts[1]
        # The usual "SIP/2.0 NNN" passes without the two regexes.
        usual = version == "SIP/2.0" and len(code) == 3 and code.isdigit() and code.isascii() and "1" <= code[0] <= "6"
        if not usual:
            if _VERSION_OK(version) is None or _CODE_OK(code) is None:
                raise SipParseError("Malformed Status-Line", line=1)
            if version.upper() != "SIP/2.0":
                raise SipParseError("Version Not Supported", line=1)
        message = SipResponse(int(code), parts[2] if len(parts) == 3 else "", headers, version="SIP/2.0")
    else:
        parts = first.split(" ")
        if len(parts) == 3 and parts[2] == "SIP/2.0" and parts[0] in RFC_METHODS and parts[1]:
            return SipRequest(parts[0], parts[1], headers)
        words = first.split()
        if len(words) < 3 or _TOKEN_OK(words[0]) is None or _VERSION_OK(words[-1]) is None:
            raise SipParseError("Bad Request - Malformed Request-Line", line=1)
        message = SipRequest(words[0], " ".join(words[1:-1]), headers, version=words[-1])
        if len(parts) != 3:
            message.start_line_error = "Bad Request - Malformed Request-Line"
    return message


def _content_length(values: list[str]) -> int | None:
    """The Content-Length value, or None when malformed or given twice with different values."""
    text = values[0]
    if len(values) == 1 and len(text) <= 10 and text.isdigit() and text.isascii():
        return int(text)
    for other in values[1:]:
        if other != text:
            return None
    if _DIGITS_OK(text) is None:
        return None
    return int(text)


def _find_head_end(data: bytes | bytearray, start: int) -> tuple[int, int]:
    """(end of the header block, start of the body); bare-LF messages are accepted."""
    end = data.find(b"\r\n\r\n", start)
    if end >= 0:
        lf = data.find(b"\n\n", start, end)
        if lf < 0:
            return end, end + 4
        return lf, lf + 2
    end = data.find(b"\n\n", start)
    if end >= 0:
        return end, end + 2
    return -1, -1


_scan_datagram = datagram_scanner(MAX_HEADERS, MAX_HEADER_LENGTH)


def _parse_unusual(data: bytes) -> tuple[SipRequest | SipResponse, int]:
    """The message and body offset of a datagram that the scanner left to this careful path (leading
    CRLFs, bare LFs, no empty line, folding, unknown or malformed names, ...)."""
    size = len(data)
    start = 0
    while data.startswith(b"\r\n", start):
        start += 2
    if start >= size:
        raise SipParseError("Bad Request - Empty message")
    head_end = data.find(b"\r\n\r\n", start)
    lines = None
    if head_end >= 0:
        head = data[start:head_end].decode("utf-8", "surrogateescape")
        lines = head.split("\r\n")
        crlf = len(lines) - 1
        if head.count("\n") != crlf:
            lines = None  # bare LFs: the header block may end earlier, at an LF LF
        elif head.count("\r") != crlf:
            raise SipParseError("Bad Request - Stray CR")
        body_start = head_end + 4
    if lines is None:
        head_end, body_start = _find_head_end(data, start)
        if head_end < 0:
            # No empty line: tolerated when the datagram holds only a start line and headers.
            head_end = body_start = size
            while head_end > start and data[head_end - 1] in (10, 13):
                head_end -= 1
        head = data[start:head_end].decode("utf-8", "surrogateescape")
        lines = _split_head(head)
    return _parse_lines(lines, len(head)), body_start


def parse_message(data: bytes, *, max_size: int = MAX_MESSAGE_SIZE) -> SipRequest | SipResponse:
    """Parse one datagram (RFC 3261 §18.3 for message-oriented transports).

    Leading CRLFs are skipped (§7.5). Octets beyond Content-Length are discarded (RFC 4475 §3.1.1.8
    dblreq); without Content-Length the body is the rest of the datagram. A body shorter than
    Content-Length, or a malformed or repeated Content-Length, discards a response (raises) and marks
    a request with ``framing_error`` so that it can be answered 400 (RFC 4475 §3.1.2.2 clerr, §3.1.2.3
    ncl, §3.3.9 mcl01). Raises :class:`SipParseError` when no response can be built at all.
    """
    size = len(data)
    if size > max_size:
        raise SipParseError("Message Too Large")
    scanned = _scan_datagram(data)
    if scanned is not None:
        method, text, status, header_lines, index, body_start, framed = scanned
        headers = Headers._from_lines(header_lines, index)
        message = SipRequest(method, text, headers) if method is not None else SipResponse(status, text, headers)
        message.wire_size = size
        message.wire = data
        if framed is not None:  # no Content-Length, or one plain length the datagram holds: nothing to check
            message.body = framed
            return message
    else:
        message, body_start = _parse_unusual(data)
        message.wire_size = size
        message.wire = data if type(data) is bytes else bytes(data)
    body = data[body_start:]
    lengths = message.headers._index.get("content-length")
    if lengths:
        text = lengths[0]
        # _content_length's first test, without the call: one plain decimal length.
        if len(lengths) == 1 and len(text) <= 10 and text.isdigit() and text.isascii():
            length: int | None = int(text)
        else:
            length = _content_length(lengths)
        if length is None:
            problem: str | None = "Bad Request - Malformed Content-Length"
        elif length > len(body):
            problem = "Bad Request - Content-Length larger than body"
        else:
            problem = None
            body = body[:length]
        if problem is not None:
            if isinstance(message, SipResponse):
                raise SipParseError(problem, "Content-Length")
            message.framing_error = problem
    message.body = body
    return message


class StreamParser:
    """Frame SIP messages out of a TCP or TLS byte stream (RFC 3261 §18.3).

    Content-Length is mandatory on streams; the parser waits for the whole body. CRLFs between
    messages are skipped; each double CRLF among them counts in ``keepalives`` (RFC 5626 §4.4.1
    ping, to be answered with a single CRLF). After a :class:`SipParseError` the stream cannot be
    resynchronised: close the connection.
    """

    def __init__(self, *, max_size: int = MAX_MESSAGE_SIZE) -> None:
        self.max_size = max_size
        self.keepalives = 0
        self._buffer = bytearray()
        self._scanned = 0
        self._pending: SipRequest | SipResponse | None = None
        self._pending_end = 0
        self._pending_start = 0

    @property
    def buffered(self) -> int:
        """Octets received and not yet returned as a message."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[SipRequest | SipResponse]:
        """Add received octets; return the messages they complete, in order."""
        buffer = self._buffer
        buffer += data
        messages: list[SipRequest | SipResponse] = []
        while True:
            if self._pending is None:
                skipped = 0
                while buffer.startswith(b"\r\n", skipped):
                    skipped += 2
                if skipped:
                    self.keepalives += skipped // 4
                    del buffer[:skipped]
                    self._scanned = 0
                if not buffer:
                    return messages
                if buffer.startswith(b"\r"):
                    return messages  # a lone CR: wait for its LF
                head_end, body_start = _find_head_end(buffer, max(0, self._scanned - 3))
                if head_end < 0:
                    if len(buffer) > self.max_size:
                        raise SipParseError("Message Too Large")
                    self._scanned = len(buffer)
                    return messages
                self._scanned = 0
                message = _parse_head(bytes(buffer[:head_end]).decode("utf-8", "surrogateescape"))
                lengths = message.headers._index.get("content-length")
                if not lengths:
                    raise SipParseError("Bad Request - Missing Content-Length", "Content-Length")
                length = _content_length(lengths)
                if length is None:
                    raise SipParseError("Bad Request - Malformed Content-Length", "Content-Length")
                if body_start + length > self.max_size:
                    raise SipParseError("Message Too Large")
                self._pending = message
                self._pending_start = body_start
                self._pending_end = body_start + length
            if len(buffer) < self._pending_end:
                return messages
            message = self._pending
            message.body = bytes(buffer[self._pending_start : self._pending_end])
            message.wire_size = self._pending_end
            del buffer[: self._pending_end]
            self._pending = None
            messages.append(message)


# -- building ---------------------------------------------------------------------------------


def body_part(message: SipMessage, media_type: str) -> bytes | None:
    """The body of ``message`` if it is of ``media_type``, or the first part of that type of a
    ``multipart/*`` body (RFC 2046 §5.1: parts between ``--boundary`` lines, each with its own header
    lines; RFC 5621 for SIP). SIP-T/SIP-I carriers send ``multipart/mixed`` with SDP and ISUP parts."""
    body = message.body
    content_type = message.content_type
    if not body or content_type is None:
        return None
    if content_type == media_type:
        return body
    if not content_type.startswith("multipart/"):
        return None
    full = message.header("Content-Type") or ""
    try:
        params = parse_header_params(full[full.find(";"):] if ";" in full else "", "Content-Type")
    except SipParseError:
        return None
    boundary = params.get("boundary")
    if not boundary:
        return None
    delimiter = b"--" + unquote(boundary).encode("utf-8", "replace")
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break  # the close delimiter
        part = chunk.split(b"\n", 1)[1] if b"\n" in chunk else b""  # the rest of the delimiter line
        head, separator, content = part.partition(b"\r\n\r\n")
        if not separator:
            head, separator, content = part.partition(b"\n\n")
        part_type = "text/plain"  # RFC 2046 §5.1: a part without Content-Type
        for line in head.decode("utf-8", "replace").splitlines():
            name, colon, value = line.partition(":")
            if colon and name.strip().lower() in ("content-type", "c"):
                part_type = value.partition(";")[0].strip().lower()
        if part_type == media_type:
            # The CRLF before the next delimiter belongs to the delimiter (RFC 2046 §5.1.1).
            if content.endswith(b"\r\n"):
                content = content[:-2]
            elif content.endswith(b"\n"):
                content = content[:-1]
            return content
    return None


_random_pool = b""
_random_at = 0
_RANDOM_POOL_SIZE = 4096


def random_hex(size: int) -> str:
    """``size`` octets from the operating system's CSPRNG as hex, drawn from a pool refilled 4 KiB at a time
    (one ``getrandom`` per ~400 tags or branches instead of one each)."""
    global _random_pool, _random_at
    at = _random_at
    if at + size > len(_random_pool):
        _random_pool = os.urandom(max(_RANDOM_POOL_SIZE, size))
        at = 0
    _random_at = at + size
    return _random_pool[at : at + size].hex()


def new_branch() -> str:
    """A fresh RFC 3261 branch: the magic cookie ``z9hG4bK`` and 64 random bits (§8.1.1.7)."""
    return _MAGIC_COOKIE + random_hex(8)


def new_tag() -> str:
    """A fresh From/To tag with 64 random bits (RFC 3261 §19.3 asks for at least 32)."""
    return random_hex(8)


def new_call_id(host: str | None = None) -> str:
    """A fresh Call-ID of 128 random bits, ``@host`` appended when given (RFC 3261 §8.1.1.4)."""
    token = random_hex(16)
    return f"{token}@{host}" if host else token


_COPIED = (("via", "Via"), ("from", "From"), ("to", "To"), ("call-id", "Call-ID"), ("cseq", "CSeq"))
_COPIED_100 = (*_COPIED, ("timestamp", "Timestamp"))


def make_response(
    request: SipRequest, status: int, reason: str | None = None, *, to_tag: str | None = None
) -> SipResponse:
    """A response to ``request`` as RFC 3261 §8.2.6.2 builds it.

    Via (every value, in order), From, To, Call-ID and CSeq are copied as received; ``to_tag`` is
    added to To when the request's To has no tag; a 100 (Trying) copies Timestamp (§8.2.6.1).
    Works on a malformed request too (whatever is there is copied), so that it can be answered 400.
    """
    index = request.headers._index
    fields: list[tuple[str, str, str]] = []
    new_index: dict[str, list[str]] = {}
    for key, name in _COPIED_100 if status == 100 else _COPIED:
        values = index.get(key)
        if not values:
            continue
        if to_tag is not None and key == "to":
            try:
                to = request.headers._parsed.get("to") or request._parse_to()  # .to without the property
                has_tag = "tag" in to.params
            except SipParseError:
                has_tag = True  # leave a malformed To alone
            if not has_tag:
                values = [f"{values[0]};tag={to_tag}", *values[1:]]
        if len(values) == 1:  # the common case, without the copy's call and the inner loop
            value = values[0]
            new_index[key] = [value]
            fields.append((key, name, value))
        else:
            new_index[key] = values[:]
            fields.extend([(key, name, value) for value in values])
    return SipResponse(status, reason, Headers._trusted(fields, new_index))


# -- request validation -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rejection:
    """What a UAS must answer instead of processing a request: status, reason phrase and the
    headers that status requires (Unsupported for 420, Allow for 405/501, Accept for 415...)."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...] = ()

    def respond(self, request: SipRequest, *, to_tag: str | None = None) -> SipResponse:
        """The response carrying this rejection (:func:`make_response` plus the extra headers)."""
        response = make_response(request, self.status, self.reason, to_tag=to_tag)
        for name, value in self.headers:
            response.headers.add(name, value)
        return response


_MANDATORY = (("via", "Via"), ("from", "From"), ("to", "To"), ("call-id", "Call-ID"), ("cseq", "CSeq"))
_SINGLE = (("max-forwards", "Max-Forwards"), ("content-type", "Content-Type"), ("expires", "Expires"))
DEFAULT_LOCAL_METHODS = frozenset({"OPTIONS", "REGISTER", "ACK", "CANCEL"})
DEFAULT_URI_SCHEMES = frozenset({"sip", "sips", "tel"})


def check_request(
    request: SipRequest,
    *,
    supported_extensions: frozenset[str] = frozenset(),
    max_size: int = 65535,
    allowed_methods: frozenset[str] | None = None,
    uri_schemes: frozenset[str] = DEFAULT_URI_SCHEMES,
    accepted_content_types: frozenset[str] | None = None,
    local_methods: frozenset[str] = DEFAULT_LOCAL_METHODS,
) -> Rejection | None:
    """The rejection RFC 3261 §8.2 (and RFC 4475) requires for ``request`` regardless of state, or None.

    In order: 513 when larger than ``max_size`` octets; 400 for a malformed Request-Line (RFC 4475
    §3.1.2.8-10); 505 for a version other than SIP/2.0 (§8.2 / RFC 4475 §3.1.2.16 badvers); 400 for a
    Content-Length that does not match the datagram (§18.3); 400 for a missing Via, From, To,
    Call-ID or CSeq (§8.1.1; Max-Forwards may be missing, §16.3) or one given twice (RFC 4475 §3.3.8
    multi01); 400 for any of those, Max-Forwards, Contact, Route, Record-Route or the Request-URI
    malformed, for escaped headers in the Request-URI (§19.1.1, RFC 4475 §3.1.2.11 escruri) and for a
    top Via branch that is only the magic cookie (RFC 4475 §3.2.1 badbranch); 501/405 + Allow for a
    method outside ``allowed_methods`` when given (§8.2.1; RFC 4475 §3.1.2.18 mismatch02 prefers 501);
    400 when the CSeq method differs from the Request-Line's (RFC 4475 §3.1.2.17 mismatch01); 416
    for a Request-URI scheme outside ``uri_schemes`` (§8.2.2.1); 483 for Max-Forwards 0 on a request
    that would be forwarded — not for ``local_methods`` nor in-dialog requests, which this element
    answers itself (§16.3 item 3; RFC 4475 §3.3.11 zeromf); 420 + Unsupported for Require option
    tags outside ``supported_extensions`` (§8.2.2.3; not for ACK/CANCEL); 415 + Accept-Encoding for a
    Content-Encoding other than identity (§8.2.3); 415 + Accept for a body type outside
    ``accepted_content_types`` when given (§8.2.3, RFC 4475 §3.3.6 invut).
    An ACK is never answered (§17): a rejection of an ACK means drop it.
    """
    if request.wire_size > max_size:
        return Rejection(Status.MESSAGE_TOO_LARGE, Status.MESSAGE_TOO_LARGE.phrase)
    if request.start_line_error is not None:
        return Rejection(400, request.start_line_error)
    version = request.version
    if version != "SIP/2.0" and version.upper() != "SIP/2.0":
        return Rejection(Status.VERSION_NOT_SUPPORTED, Status.VERSION_NOT_SUPPORTED.phrase)
    if request.framing_error is not None:
        return Rejection(400, request.framing_error)
    index = request.headers._index
    for key, name in _MANDATORY:
        values = index.get(key)
        if not values:
            return Rejection(400, f"Bad Request - Missing {name}")
        if len(values) > 1 and key != "via":
            return Rejection(400, f"Bad Request - Multiple {name}")
    for key, name in _SINGLE:
        values = index.get(key)
        if values and len(values) > 1:
            return Rejection(400, f"Bad Request - Multiple {name}")
    parsed = request.headers._parsed
    try:
        # The parsing methods behind the properties, called directly (see SipMessage); a view already
        # made (by a caller that read it before) is used as it is.
        vias: list[Via] = parsed.get("via") or request._parse_vias()
        if "from" not in parsed:
            request._parse_from()
        to: NameAddr = parsed.get("to") or request._parse_to()
        if "call-id" not in parsed:
            request._parse_call_id()
        cseq: CSeq = parsed.get("cseq") or request._parse_cseq()
        max_forwards = request.max_forwards
        # Absent headers have nothing to check: the parsed views are made only for those present.
        if "contact" in index:
            request._parse_contacts()
        if "route" in index:
            request._addresses("route", "Route")
        if "record-route" in index:
            request._addresses("record-route", "Record-Route")
        uri = request.uri
    except SipParseError as exc:
        return Rejection(400, exc.reason)
    if not vias:
        return Rejection(400, "Bad Request - Missing Via")
    if vias[0].params.get("branch") == _MAGIC_COOKIE:
        return Rejection(400, "Bad Request - Malformed Via branch")
    if uri.headers:
        return Rejection(400, "Bad Request - Headers in Request-URI")
    method = request.method
    if allowed_methods is not None and method not in allowed_methods and method != "ACK":
        allow = (("Allow", ", ".join(sorted(allowed_methods))),)
        if method in RFC_METHODS:
            return Rejection(Status.METHOD_NOT_ALLOWED, Status.METHOD_NOT_ALLOWED.phrase, allow)
        return Rejection(Status.NOT_IMPLEMENTED, Status.NOT_IMPLEMENTED.phrase, allow)
    if cseq.method != method:
        return Rejection(400, "Bad Request - CSeq method does not match")
    if uri.scheme not in uri_schemes:
        return Rejection(Status.UNSUPPORTED_URI_SCHEME, Status.UNSUPPORTED_URI_SCHEME.phrase)
    if max_forwards == 0 and method not in local_methods and to.params.get("tag") is None:
        return Rejection(Status.TOO_MANY_HOPS, Status.TOO_MANY_HOPS.phrase)
    if method != "ACK" and method != "CANCEL" and "require" in index:
        supported = {tag.lower() for tag in supported_extensions}
        unknown = [tag for tag in request.headers.values("require") if tag.lower() not in supported]
        if unknown:
            return Rejection(Status.BAD_EXTENSION, Status.BAD_EXTENSION.phrase, (("Unsupported", ", ".join(unknown)),))
    if "content-encoding" in index:
        encodings = [value.lower() for value in request.headers.values("content-encoding")]
        if any(encoding != "identity" for encoding in encodings):
            return Rejection(
                Status.UNSUPPORTED_MEDIA_TYPE, Status.UNSUPPORTED_MEDIA_TYPE.phrase, (("Accept-Encoding", "identity"),)
            )
    if accepted_content_types is not None and request.body:
        content_type = request.content_type
        if content_type is None or content_type not in accepted_content_types:
            accept = (("Accept", ", ".join(sorted(accepted_content_types))),)
            return Rejection(Status.UNSUPPORTED_MEDIA_TYPE, Status.UNSUPPORTED_MEDIA_TYPE.phrase, accept)
    return None
