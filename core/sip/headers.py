"""SIP header fields: names and compact forms, the ordered header multi-map, and the structured headers.

RFC 3261 §7.3 (header field format, comma-separated lists, compact forms), §20 (the header fields)
and §25.1 (grammar). Values are kept as received (unfolded); the structured types parse one value
on demand: :class:`NameAddr` (From, To, Contact, Route, Record-Route, ...), :class:`Via` and
:class:`CSeq`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from core.sip.uri import (
    HOST_FAST,
    SIP_URI_FAST,
    USER_CHARS_IN_ADDR_SPEC,
    SipParseError,
    SipUri,
    check_host,
    fast_host,
    fast_port,
    remember,
    split_params,
)
from cython_media.sipscan import DatagramScanner, Scanned, index_header_lines

# (lower-case long name, canonical spelling) of the header fields this stack knows by name.
_KNOWN_NAMES = (
    "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Accept-Resource-Priority",
    "Alert-Info", "Allow", "Allow-Events", "Authentication-Info", "Authorization", "Call-ID",
    "Call-Info", "Contact", "Content-Disposition", "Content-Encoding", "Content-Language",
    "Content-Length", "Content-Type", "CSeq", "Date", "Diversion", "Error-Info", "Event", "Expires",
    "Feature-Caps", "From", "Geolocation", "History-Info", "Identity", "Identity-Info", "In-Reply-To",
    "Join", "Max-Breadth", "Max-Forwards", "MIME-Version", "Min-Expires", "Min-SE", "Organization",
    "P-Asserted-Identity", "P-Associated-URI", "P-Preferred-Identity", "Path", "Permission-Missing",
    "Priority", "Privacy", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require", "RAck",
    "Reason", "Record-Route", "Recv-Info", "Refer-Sub", "Refer-To", "Referred-By", "Reject-Contact",
    "Remote-Party-ID", "Replaces", "Reply-To", "Request-Disposition", "Require", "Resource-Priority",
    "Retry-After", "Route", "RSeq", "Security-Client", "Security-Server", "Security-Verify", "Server",
    "Service-Route", "Session-Expires", "SIP-ETag", "SIP-If-Match", "Subject", "Subscription-State",
    "Supported", "Target-Dialog", "Timestamp", "To", "Trigger-Consent", "Unsupported", "User-Agent",
    "Via", "Warning", "WWW-Authenticate",
)  # fmt: skip

# Compact forms: RFC 3261 §7.3.3 (i m e l c f s k t v), RFC 6665 (o u), RFC 3515 (r), RFC 3892 (b),
# RFC 4028 (x), RFC 8224 (y), RFC 3841 (a j d), RFC 4474 (n).
COMPACT_FORMS = {
    "i": "Call-ID", "m": "Contact", "e": "Content-Encoding", "l": "Content-Length", "c": "Content-Type",
    "f": "From", "s": "Subject", "k": "Supported", "t": "To", "v": "Via", "o": "Event", "u": "Allow-Events",
    "r": "Refer-To", "b": "Referred-By", "x": "Session-Expires", "y": "Identity", "a": "Accept-Contact",
    "j": "Reject-Contact", "d": "Request-Disposition", "n": "Identity-Info",
}  # fmt: skip

# Headers whose grammar is a comma-separated list (RFC 3261 §7.3.1), so that several values may
# share one line. Never split: WWW-Authenticate, Authorization, Proxy-Authenticate,
# Proxy-Authorization, Authentication-Info (commas separate auth-params, not values), Date (commas
# inside the date), and every header not named here.
LIST_HEADERS = frozenset(
    name.lower()
    for name in (
        "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Accept-Resource-Priority",
        "Alert-Info", "Allow", "Allow-Events", "Call-Info", "Contact", "Content-Encoding",
        "Content-Language", "Diversion", "Error-Info", "Geolocation", "History-Info", "In-Reply-To",
        "P-Asserted-Identity", "P-Associated-URI", "P-Preferred-Identity", "Path", "Permission-Missing",
        "Proxy-Require", "Reason", "Record-Route", "Recv-Info", "Reject-Contact", "Request-Disposition",
        "Require", "Resource-Priority", "Route", "Security-Client", "Security-Server", "Security-Verify",
        "Service-Route", "Supported", "Trigger-Consent", "Unsupported", "Via", "Warning",
    )
)  # fmt: skip

_TOKEN_CHARS = r"!%'*+\-.0-9A-Z_`a-z~"
_TOKEN = rf"[{_TOKEN_CHARS}]+"
_TOKEN_OK = re.compile(_TOKEN).fullmatch
_DISPLAY_TOKENS_OK = re.compile(rf"{_TOKEN}(?:[ \t]+{_TOKEN})*").fullmatch
# quoted-string (RFC 3261 §25.1) written as an unrolled loop: linear even when unterminated.
_QUOTED_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"'
_QUOTED = re.compile(_QUOTED_STRING, re.S)
_QUOTED_PAIR = re.compile(r"\\(.)", re.S)
# generic-param (RFC 3261 §25.1) with the SWS that SEMI and EQUAL allow around it. gen-value is a
# token, a host (IPv6 references included) or a quoted-string. The character classes on either
# side of each quantifier are disjoint, so that a failed match cannot backtrack more than linearly.
_GEN_VALUE_CHARS = _TOKEN_CHARS + r":\[\]/@"
_PARAM_ONE = rf"[ \t]*;[ \t]*({_TOKEN})(?:[ \t]*=[ \t]*({_QUOTED_STRING}|[{_GEN_VALUE_CHARS}]+))?"
_PARAMS_OK = re.compile(rf"(?:{_PARAM_ONE})+[ \t]*", re.S).fullmatch
_PARAMS_FIND = re.compile(_PARAM_ONE, re.S).findall
# Without whitespace, and with quoted values free of ';' and '\', one validation and a split do.
_FAST_PARAMS = rf'(?:;{_TOKEN}(?:=(?:[{_GEN_VALUE_CHARS}]+|"[^"\\;]*"))?)*'
_PARAMS_FAST_OK = re.compile(_FAST_PARAMS).fullmatch
_LIST_PIECES = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|<[^>]*>?|[^,"<]+|,', re.S)
_VIA = re.compile(
    rf"({_TOKEN})[ \t]*/[ \t]*({_TOKEN})[ \t]*/[ \t]*({_TOKEN})[ \t]+"
    r"(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9\-_.]+))(?:[ \t]*:[ \t]*([0-9]{1,5}))?"
)
# Fast paths for the forms nearly every message uses; anything else takes the general parser.
_VIA_FAST = re.compile(rf"SIP/2\.0/([A-Za-z]+) {HOST_FAST}(?::([0-9]{{1,5}}))?({_FAST_PARAMS})").fullmatch
_NAME_ADDR_FAST = re.compile(
    rf'(?:"([^"\\]*)"[ \t]*|((?:{_TOKEN}[ \t]+)*{_TOKEN})[ \t]*)?<{SIP_URI_FAST}>({_FAST_PARAMS})'
).fullmatch
_ADDR_SPEC_FAST = re.compile(
    rf"(sips?):(?:([{USER_CHARS_IN_ADDR_SPEC}]+)@)?{HOST_FAST}(?::([0-9]{{1,5}}))?({_FAST_PARAMS})"
).fullmatch
_CSEQ = re.compile(rf"([0-9]{{1,20}})[ \t]+({_TOKEN})")

_ADDRESS_CACHE: dict[str, NameAddr] = {}
_VIA_CACHE: dict[str, Via] = {}

RFC_METHODS = frozenset(
    {"ACK", "BYE", "CANCEL", "INFO", "INVITE", "MESSAGE", "NOTIFY", "OPTIONS", "PRACK", "PUBLISH", "REFER",
     "REGISTER", "SUBSCRIBE", "UPDATE"}
)  # fmt: skip
"""Methods of RFC 3261 and its standard extensions."""

_NAME_INFO: dict[str, tuple[str, str]] = {}
for _name in _KNOWN_NAMES:
    _NAME_INFO[_name] = _NAME_INFO[_name.lower()] = (_name.lower(), _name)
for _compact, _name in COMPACT_FORMS.items():
    _NAME_INFO[_compact] = _NAME_INFO[_compact.upper()] = (_name.lower(), _name)


def header_key(name: str) -> tuple[str, str]:
    """``(key, canonical name)`` of a header name: compact forms become the long name, known names
    get their canonical spelling (``call-id`` -> ``Call-ID``), unknown names are kept as written.
    The key is the lower-case long name (RFC 3261 §7.3.1: names are case-insensitive)."""
    info = _NAME_INFO.get(name)
    if info is not None:
        return info
    info = _NAME_INFO.get(name.lower())
    if info is not None:
        return info
    return name.lower(), name


def split_list(value: str) -> list[str]:
    """Split a comma-separated header value into its elements, each stripped of surrounding whitespace.

    Commas inside quoted strings and inside ``<...>`` do not split (RFC 3261 §7.3.1). Empty elements
    are kept (as ``""``) so that a caller can reject them.
    """
    if "," not in value:
        return [value.strip(" \t")]
    if '"' not in value and "<" not in value:
        return [item.strip(" \t") for item in value.split(",")]
    items: list[str] = []
    current: list[str] = []
    for piece in _LIST_PIECES.findall(value):
        if piece == ",":
            items.append("".join(current).strip(" \t"))
            current = []
        else:
            current.append(piece)
    items.append("".join(current).strip(" \t"))
    return items


def unquote(value: str) -> str:
    """The content of a quoted-string with its quoted-pairs resolved (RFC 3261 §25.1); other text as is."""
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        inner = value[1:-1]
        return _QUOTED_PAIR.sub(r"\1", inner) if "\\" in inner else inner
    return value


def quote(value: str) -> str:
    """``value`` as a quoted-string, escaping ``"`` and ``\\`` (RFC 3261 §25.1 quoted-pair)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_header_params(text: str, header: str) -> dict[str, str | None]:
    """Parse ``*( SEMI generic-param )`` (RFC 3261 §25.1): names lower-case, values as written
    (quoted values keep their quotes), ``None`` for a parameter without value. An empty parameter
    (``;;``) or anything else left over raises :class:`SipParseError`."""
    if not text:
        return {}
    if " " not in text and "\t" not in text and _PARAMS_FAST_OK(text) is not None:
        return split_params(text)
    params: dict[str, str | None] = {}
    if text.isspace():
        return params
    if _PARAMS_OK(text) is None:
        raise SipParseError(f"Malformed {header}", header)
    for name, value in _PARAMS_FIND(text):
        name = name.lower()
        if name not in params:
            params[name] = value or None
    return params


def _params(text: str) -> dict[str, str | None]:
    """Parameters matched by a fast path; one parameter is the common case."""
    if text.find(";", 1) < 0:
        name, eq, value = text.partition("=")
        return {name[1:].lower(): value if eq else None}
    return split_params(text)


def _format_params(params: dict[str, str | None]) -> str:
    return "".join([f";{name}" if value is None else f";{name}={value}" for name, value in params.items()])


@dataclass(slots=True)
class NameAddr:
    """A name-addr or addr-spec with header parameters: From, To, Contact, Route, Record-Route, ...

    ``display_name`` is unquoted and unescaped (``None`` when absent, ``""`` for ``""``); a display
    name written as tokens has its whitespace collapsed to single spaces. ``params`` are the header
    parameters after the address (``tag``, ``expires``, ``q``, ...), keys lower-case, values as
    written. RFC 3261 §20.10 and §25.1 (name-addr, addr-spec, display-name).
    """

    display_name: str | None
    uri: SipUri
    params: dict[str, str | None] = field(default_factory=dict)
    # The text, made on the first str(): an address is a value, never changed in place once made.
    _text: str | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def parse(cls, text: str, header: str = "To") -> NameAddr:
        """Parse one address; ``header`` names the header in the error. Raises :class:`SipParseError`.

        An addr-spec whose URI contains '?' or ',' must be a name-addr (RFC 3261 §20.10; RFC 4475
        §3.1.2.13 regbadct); no whitespace is allowed inside ``<...>`` (RFC 4475 §3.1.2.14 badaspec);
        an unquoted display name is tokens only (RFC 4475 §3.1.2.15 baddn).

        The same text recurs through a dialog (From and To in every request and response, a phone's
        Contact in every call), so results are kept in a bounded cache and shared: a parsed address is
        a read-only view, never to be changed in place.
        """
        address = _ADDRESS_CACHE.get(text)
        if address is None:
            address = remember(_ADDRESS_CACHE, text, cls._parse(text, header))
        return address

    @classmethod
    def _parse(cls, text: str, header: str) -> NameAddr:
        # An address recurs with other parameters (a From or To with a new tag in every call): when the
        # address before them is known, only the parameters are left to parse. The '>' that ends a known
        # address is the one that closes its URI, parameters come only after it.
        end = text.rfind(">") + 1
        if 0 < end < len(text):
            known = _ADDRESS_CACHE.get(text[:end])
            if known is not None and not known.params:
                param_text = text[end:]
                if _PARAMS_FAST_OK(param_text) is not None:
                    return cls(known.display_name, known.uri, _params(param_text))
        fast = _NAME_ADDR_FAST(text)
        if fast is not None:
            quoted, words, scheme, user, v4, name, v6, port_text, uri_params, header_params = fast.groups()
            if words is not None and ("  " in words or "\t" in words):
                words = " ".join(words.split())
            if port_text is None:
                port = None
            else:
                port = int(port_text)
                if port > 65535:
                    raise SipParseError(f"Malformed {header}", header)
            uri = SipUri(
                scheme, user, None, v4 or fast_host(name, v6, header), port, _params(uri_params) if uri_params else {}
            )
            shown = words if quoted is None else quoted
            if not header_params:
                return cls(shown, uri, {})
            # The address without its parameters, for the next time it comes with others (above).
            remember(_ADDRESS_CACHE, text[: fast.start(10)], cls(shown, uri, {}))
            return cls(shown, uri, _params(header_params))
        text = text.strip(" \t")
        fast = _ADDR_SPEC_FAST(text)
        if fast is not None:
            scheme, user, v4, name, v6, port_text, header_params = fast.groups()
            uri = SipUri(scheme, user, None, v4 or fast_host(name, v6, header), fast_port(port_text, header))
            return cls(None, uri, _params(header_params) if header_params else {})
        if not text:
            raise SipParseError(f"Malformed {header}", header)
        display: str | None = None
        first = text[0]
        if first == '"':
            close = text.find('"', 1)
            if close > 0 and "\\" not in text[1:close]:
                display = text[1:close]
                lt = close + 1
            else:
                match = _QUOTED.match(text)
                if match is None:
                    raise SipParseError(f"Malformed {header}", header)
                display = unquote(match.group())
                lt = match.end()
            while lt < len(text) and text[lt] in " \t":
                lt += 1
            if lt >= len(text) or text[lt] != "<":
                raise SipParseError(f"Malformed {header}", header)
        elif first == "<":
            lt = 0
        else:
            lt = text.find("<")
            if lt < 0:
                return cls._parse_addr_spec(text, header)
            words = text[:lt]
            if _DISPLAY_TOKENS_OK(words.rstrip(" \t")) is None:
                raise SipParseError(f"Malformed {header}", header)
            display = " ".join(words.split())
        gt = text.find(">", lt + 1)
        if gt < 0:
            raise SipParseError(f"Malformed {header}", header)
        try:
            uri = SipUri.parse(text[lt + 1 : gt])
        except SipParseError as exc:
            raise SipParseError(f"Malformed {header}", header) from exc
        rest = text[gt + 1 :]
        return cls(display, uri, parse_header_params(rest, header) if rest else {})

    @classmethod
    def _parse_addr_spec(cls, text: str, header: str) -> NameAddr:
        semi = text.find(";")
        uri_text = (text[:semi] if semi >= 0 else text).rstrip(" \t")
        if "?" in uri_text or "," in uri_text:
            raise SipParseError(f"Malformed {header}", header)
        try:
            uri = SipUri.parse(uri_text)
        except SipParseError as exc:
            raise SipParseError(f"Malformed {header}", header) from exc
        return cls(None, uri, parse_header_params(text[semi:], header) if semi >= 0 else {})

    @property
    def tag(self) -> str | None:
        """The ``tag`` parameter (RFC 3261 §19.3), ``None`` when absent."""
        return self.params.get("tag")

    def __str__(self) -> str:
        text = self._text
        if text is None:
            text = self._text = self._format()
        return text

    def _format(self) -> str:
        address = f"<{self.uri}>"
        if self.display_name is not None:
            address = f"{quote(self.display_name)} {address}"
        return address + _format_params(self.params) if self.params else address


@dataclass(slots=True)
class Via:
    """One Via header value (RFC 3261 §20.42, §25.1 via-parm).

    ``transport`` is upper-case (``UDP``, ``TCP``, ``TLS``, ``SCTP``, ``WS``... any token is kept:
    RFC 4475 §3.1.1.10); ``host`` is the sent-by host, IPv6 without brackets; ``port`` ``None`` when
    not written; ``params`` as in :class:`NameAddr`; ``protocol`` is ``"SIP/2.0"`` normally.
    """

    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    protocol: str = "SIP/2.0"

    @classmethod
    def parse(cls, text: str) -> Via:
        """Parse one via-parm. LWS is allowed around the slashes, the colon and the parameters.

        A response carries the Via its request was sent with, so results are kept in a bounded cache
        (see :meth:`NameAddr.parse`; a parsed Via is a read-only view too)."""
        via = _VIA_CACHE.get(text)
        if via is None:
            via = remember(_VIA_CACHE, text, cls._parse(text))
        return via

    @classmethod
    def _parse(cls, text: str) -> Via:
        # The sent-by recurs with a new branch in every request: when the Via before its parameters is
        # known, only the parameters are left to parse (as in NameAddr._parse).
        semi = text.find(";")
        if semi > 0:
            known = _VIA_CACHE.get(text[:semi])
            if known is not None and not known.params:
                param_text = text[semi:]
                if _PARAMS_FAST_OK(param_text) is not None:
                    return cls(known.transport, known.host, known.port, _params(param_text), known.protocol)
        fast = _VIA_FAST(text)
        if fast is not None:
            transport, v4, name, v6, port_text, param_text = fast.groups()
            if port_text is None:
                port = None
            else:
                port = int(port_text)
                if port > 65535:
                    raise SipParseError("Malformed Via", "Via")
            host = v4 or fast_host(name, v6, "Via")
            transport = transport.upper()
            if not param_text:
                return cls(transport, host, port, {})
            remember(_VIA_CACHE, text[: fast.start(6)], cls(transport, host, port, {}))
            return cls(transport, host, port, _params(param_text))
        match = _VIA.match(text)
        if match is None:
            raise SipParseError("Malformed Via", "Via")
        name, version, transport, v6, hostname, port_text = match.groups()
        try:
            host = check_host(v6, True, "Via") if v6 is not None else check_host(hostname, False, "Via")
        except SipParseError:
            raise SipParseError("Malformed Via", "Via") from None
        port = None
        if port_text is not None:
            port = int(port_text)
            if port > 65535:
                raise SipParseError("Malformed Via", "Via")
        end = match.end()
        params = parse_header_params(text[end:], "Via") if end < len(text) else {}
        protocol = "SIP/2.0" if name == "SIP" and version == "2.0" else f"{name.upper()}/{version}"
        return cls(transport.upper(), host, port, params, protocol)

    @classmethod
    def parse_all(cls, value: str) -> list[Via]:
        """All via-parms of one Via header value (comma-separated); an empty element raises."""
        vias = []
        for item in split_list(value):
            if not item:
                raise SipParseError("Malformed Via", "Via")
            vias.append(cls.parse(item))
        return vias

    @property
    def branch(self) -> str | None:
        """The ``branch`` parameter (RFC 3261 §8.1.1.7), ``None`` when absent."""
        return self.params.get("branch")

    @property
    def received(self) -> str | None:
        """The ``received`` parameter (RFC 3261 §18.2.1) without IPv6 brackets (RFC 5118 §4.5
        accepts both forms), ``None`` when absent."""
        value = self.params.get("received")
        if value is not None and value.startswith("[") and value.endswith("]"):
            return value[1:-1]
        return value

    @property
    def rport(self) -> str | None:
        """The ``rport`` parameter (RFC 3581): ``None`` if absent, ``""`` if present without value."""
        if "rport" not in self.params:
            return None
        return self.params["rport"] or ""

    @property
    def maddr(self) -> str | None:
        """The ``maddr`` parameter (RFC 3261 §18.2.2), ``None`` when absent."""
        return self.params.get("maddr")

    @property
    def sent_by(self) -> tuple[str, int | None]:
        """``(host, port)`` of the sent-by; port ``None`` when not written (RFC 3261 §18.2.2)."""
        return self.host, self.port

    def __str__(self) -> str:
        host = self.host
        if ":" in host:
            host = f"[{host}]"  # format_host() without the call
        port = self.port
        if port is None:
            text = f"{self.protocol}/{self.transport} {host}"
        else:
            text = f"{self.protocol}/{self.transport} {host}:{port}"
        params = self.params
        return text + _format_params(params) if params else text


_SENT_BY: dict[str, Via] = {}


def own_via(sent_by: str, branch: str) -> str:
    """The Via value of a request this element sends: ``sent_by`` (``SIP/2.0/UDP host:port``) with the
    ``branch`` and an ``rport`` asking for symmetric responses (RFC 3261 §8.1.1.7, RFC 3581 §3).

    Its parsed form is put in the Via cache (:meth:`Via.parse`) at once, built from ``sent_by`` parsed
    once: the transaction layer reads the Via of every request it sends, and the responses echo it."""
    text = f"{sent_by};branch={branch};rport"
    base = _SENT_BY.get(sent_by)
    if base is None:
        try:
            base = Via.parse(sent_by)
        except SipParseError:
            return text  # left for the transaction layer to refuse, as any request with a bad Via
        if len(_SENT_BY) < 64:
            _SENT_BY[sent_by] = base
    remember(_VIA_CACHE, text, Via(base.transport, base.host, base.port, {"branch": branch, "rport": None},
                                   base.protocol))
    return text


@dataclass(slots=True, frozen=True)
class CSeq:
    """The CSeq header (RFC 3261 §20.16): sequence number and method (case-sensitive)."""

    number: int
    method: str

    @classmethod
    def parse(cls, text: str) -> CSeq:
        """Parse ``1*DIGIT LWS Method``; the number must fit 32 bits unsigned (RFC 3261 §8.1.1.5,
        RFC 4475 §3.1.2.4 scalar02)."""
        number, space, method = text.partition(" ")
        if (
            space
            and number.isdigit()
            and len(number) <= 10
            and number.isascii()
            and (method in RFC_METHODS or _TOKEN_OK(method))
        ):
            value = int(number)
            if value <= 0xFFFFFFFF:
                return cls(value, method)
        match = _CSEQ.fullmatch(text.strip(" \t"))
        if match is None:
            raise SipParseError("Malformed CSeq", "CSeq")
        value = int(match.group(1))
        if value > 0xFFFFFFFF:
            raise SipParseError("Malformed CSeq", "CSeq")
        return cls(value, match.group(2))

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


class Headers:
    """The header fields of a message: an ordered multi-map with case-insensitive names.

    Each entry is one header line as received or added (``name``, ``value``), values unfolded and
    stripped. Compact names are stored under their long name (RFC 3261 §7.3.3). Iterating gives
    ``(name, value)`` pairs in order.
    """

    __slots__ = ("_entries", "_lines", "_index", "_parsed")

    def __init__(self, fields: Iterable[tuple[str, str]] = ()) -> None:
        entries: list[tuple[str, str, str]] = []
        index: dict[str, list[str]] = {}
        self._entries: list[tuple[str, str, str]] | None = entries
        self._lines: list[str] | None = None
        self._index = index
        # Parsed views of these headers (SipMessage's properties) by key, dropped when that header changes.
        self._parsed: dict[str, Any] = {}
        info_of = _NAME_INFO.get
        for name, value in fields:  # add() inlined: messages we build have a dozen headers
            key, canonical = info_of(name) or _checked_key(name)
            value = value.strip(" \t") if "\r" not in value and "\n" not in value else _checked_value(value)
            entries.append((key, canonical, value))
            values = index.get(key)
            if values is None:
                index[key] = [value]
            else:
                values.append(value)

    @classmethod
    def _trusted(cls, entries: list[tuple[str, str, str]], index: dict[str, list[str]]) -> Headers:
        """Build from already-normalised ``(key, name, value)`` entries."""
        headers = cls.__new__(cls)
        headers._entries = entries
        headers._lines = None
        headers._index = index
        headers._parsed = {}
        return headers

    @classmethod
    def _from_lines(cls, lines: list[str], index: dict[str, list[str]]) -> Headers:
        """Build from header lines the parser has checked and indexed; the ordered entries are
        derived from them only when asked for (most received messages never are)."""
        headers = cls.__new__(cls)
        headers._entries = None
        headers._lines = lines
        headers._index = index
        headers._parsed = {}
        return headers

    def _fields(self) -> list[tuple[str, str, str]]:
        """The ``(key, name, value)`` entries in order."""
        entries = self._entries
        if entries is None:
            info_of = _NAME_INFO.get
            entries = []
            for line in self._lines or ():
                name, _, value = line.partition(":")
                info = info_of(name) or _name_info(name, 0)
                entries.append((info[0], info[1], value.strip(" \t")))
            self._entries = entries
            self._lines = None
        return entries

    def get(self, name: str) -> str | None:
        """The first value of ``name`` (the whole first line), or ``None``."""
        info = _NAME_INFO.get(name)  # header_key() without the call, for the known names asked for most
        values = self._index.get(info[0] if info is not None else header_key(name)[0])
        return values[0] if values else None

    def get_all(self, name: str) -> list[str]:
        """Every line of ``name``, in order, each as received (not comma-split)."""
        info = _NAME_INFO.get(name)
        return list(self._index.get(info[0] if info is not None else header_key(name)[0], ()))

    def values(self, name: str) -> list[str]:
        """Every value of ``name``: for list headers (:data:`LIST_HEADERS`) each line is split at the
        commas that are not quoted or inside ``<>`` and empty elements are dropped; other headers
        give one value per line (RFC 3261 §7.3.1)."""
        info = _NAME_INFO.get(name)
        key = info[0] if info is not None else header_key(name)[0]
        lines = self._index.get(key)
        if not lines:
            return []
        if key not in LIST_HEADERS:
            return list(lines)
        out: list[str] = []
        for line in lines:
            out.extend(item for item in split_list(line) if item)
        return out

    def count(self, name: str) -> int:
        """How many lines of ``name`` there are."""
        return len(self._index.get(header_key(name)[0], ()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(self._index.get(header_key(name)[0]))

    def __len__(self) -> int:
        return len(self._fields())

    def __iter__(self) -> Iterator[tuple[str, str]]:
        for _key, name, value in self._fields():
            yield name, value

    def __repr__(self) -> str:
        return f"Headers({list(self)!r})"

    def add(self, name: str, value: str, *, first: bool = False) -> None:
        """Append a header line (or put it before every other header with ``first=True``)."""
        key, canonical = _NAME_INFO.get(name) or _checked_key(name)
        value = value.strip(" \t") if "\r" not in value and "\n" not in value else _checked_value(value)
        entries = self._entries
        if entries is None:
            entries = self._fields()
        if first:
            entries.insert(0, (key, canonical, value))
            self._index.setdefault(key, []).insert(0, value)
        else:
            entries.append((key, canonical, value))
            values = self._index.get(key)
            if values is None:
                self._index[key] = [value]
            else:
                values.append(value)
        self._parsed.pop(key, None)  # the parsed views of other headers stay valid

    def set(self, name: str, value: str) -> None:
        """Replace every line of ``name`` by one line with ``value``, where the first one was (else at the end)."""
        key, canonical = _checked_key(name)
        value = _checked_value(value)
        kept: list[tuple[str, str, str]] = []
        placed = False
        for entry in self._fields():
            if entry[0] != key:
                kept.append(entry)
            elif not placed:
                kept.append((key, canonical, value))
                placed = True
        if not placed:
            kept.append((key, canonical, value))
        self._entries = kept
        self._index[key] = [value]
        self._parsed.pop(key, None)  # the parsed views of other headers stay valid

    def replace_first(self, name: str, value: str) -> None:
        """Put ``value`` in place of the first line of ``name`` (the others stay), or add it when there is none.

        Unlike :meth:`set` this leaves every other line alone and does not make the ordered entries of a
        received message (the Via stamping of every request received, RFC 3261 §18.2.1)."""
        key, canonical = _NAME_INFO.get(name) or _checked_key(name)  # the checks inlined, as in add()
        value = value.strip(" \t") if "\r" not in value and "\n" not in value else _checked_value(value)
        values = self._index.get(key)
        if not values:
            self.add(name, value)
            return
        values[0] = value
        self._parsed.pop(key, None)
        entries = self._entries
        if entries is not None:
            for position, entry in enumerate(entries):
                if entry[0] == key:
                    entries[position] = (key, canonical, value)
                    return
            return
        lines = self._lines or []
        info_of = _NAME_INFO.get
        for position, line in enumerate(lines):
            line_name = line.partition(":")[0]
            info = info_of(line_name) or _name_info(line_name, 0)
            if info[0] == key:
                lines[position] = f"{canonical}: {value}"
                return

    def remove(self, name: str) -> int:
        """Remove every line of ``name``; returns how many there were."""
        key = header_key(name)[0]
        removed = self._index.pop(key, None)
        if not removed:
            return 0
        self._entries = [entry for entry in self._fields() if entry[0] != key]
        self._parsed.pop(key, None)  # the parsed views of other headers stay valid
        return len(removed)

    def copy(self) -> Headers:
        """An independent copy."""
        return Headers._trusted(list(self._fields()), {key: list(values) for key, values in self._index.items()})


def _checked_key(name: str) -> tuple[str, str]:
    info = _NAME_INFO.get(name)
    if info is not None:
        return info  # a known name (or compact form) is a token already
    name = name.strip(" \t")
    info = header_key(name)
    if info[1] is name and _TOKEN_OK(name) is None:
        raise ValueError(f"not a header name: {name!r}")
    return info


def _checked_value(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("a header value cannot contain CR or LF")
    return value.strip(" \t")


def parse_header_lines(lines: list[str], *, max_headers: int, max_line: int, long_lines: bool = True) -> Headers:
    """Build :class:`Headers` from the header lines of a message (``lines[0]`` is the start line).

    Folded lines (starting with SP or HTAB) are joined to the previous one with a single SP
    (RFC 3261 §7.3.1). A line without a colon, a name that is not a token, more than
    ``max_headers`` fields or a field longer than ``max_line`` characters raise :class:`SipParseError`.
    ``long_lines=False`` says that no line can be longer than ``max_line`` (the caller knows the size).
    """
    if len(lines) - 1 > max_headers:
        raise SipParseError("Bad Request - Too many headers", line=max_headers + 2)
    if long_lines:
        return _parse_header_lines_checked(lines, max_line)
    header_lines = lines[1:]
    index = index_header_lines(header_lines, _NAME_INFO, _UNKNOWN_NAMES)
    if index is None:
        # Folding, an unknown or malformed name: the careful path finds out which.
        return _parse_header_lines_checked(lines, max_line)
    return Headers._from_lines(header_lines, index)


def datagram_scanner(max_headers: int, max_head: int) -> Callable[[bytes], Scanned | None]:
    """A received datagram's ``(method, Request-URI, 0, header lines, {key: [values]}, body offset, body)``, or
    ``(None, reason phrase, status code, ...)`` for a response (``body`` is ``None`` when the Content-Length
    checks must decide), when it has the form nearly every peer sends
    (CRLF line ends, a start line with SIP/2.0 and a method of :data:`RFC_METHODS` or a status code 1xx-6xx,
    ``name: value`` lines with names this module knows, at most ``max_headers`` lines and ``max_head``
    octets before the empty line), else ``None``: a compiled scanner (:mod:`cython_media.sipscan`) made for
    this module's header names."""
    return DatagramScanner(_NAME_INFO, _UNKNOWN_NAMES, RFC_METHODS, max_headers, max_head).scan


def _parse_header_lines_checked(lines: list[str], max_line: int) -> Headers:
    fields: list[tuple[str, str, str]] = []
    index: dict[str, list[str]] = {}
    info_of = _NAME_INFO.get
    for number, line in _unfold(lines, max_line):
        name, colon, value = line.partition(":")
        if not colon:
            raise SipParseError("Bad Request - Malformed header line", line=number)
        info = info_of(name)
        if info is None:
            info = _name_info(name, number)
        value = value.strip(" \t")
        key = info[0]
        fields.append((key, info[1], value))
        values = index.get(key)
        if values is None:
            index[key] = [value]
        else:
            values.append(value)
    return Headers._trusted(fields, index)


_UNKNOWN_NAMES: dict[str, tuple[str, str]] = {}
_UNKNOWN_NAMES_MAX = 512


def _name_info(name: str, number: int) -> tuple[str, str]:
    name = name.rstrip(" \t")
    info = _NAME_INFO.get(name) or _NAME_INFO.get(name.lower())
    if info is None:
        if _TOKEN_OK(name) is None:
            raise SipParseError("Bad Request - Malformed header name", line=number)
        info = (name.lower(), name)
        if len(_UNKNOWN_NAMES) < _UNKNOWN_NAMES_MAX:
            _UNKNOWN_NAMES[name] = info
    return info


def _unfold(lines: list[str], max_line: int) -> list[tuple[int, str]]:
    """``(line number, line)`` of each header field, continuation lines joined with one SP
    (RFC 3261 §7.3.1), each checked against ``max_line``; ``lines[0]`` is the start line."""
    fields: list[tuple[int, str]] = []
    parts: list[str] = []
    start = 0
    length = 0
    for number, line in enumerate(lines[1:], start=2):
        first = line[:1]
        if first == " " or first == "\t":
            if not parts:
                raise SipParseError("Bad Request - Malformed header line", line=number)
            parts[-1] = parts[-1].rstrip(" \t")
            line = line.lstrip(" \t")
            length += len(line) + 1
        else:
            if not line:
                raise SipParseError("Bad Request - Malformed header line", line=number)
            if parts:
                fields.append((start, " ".join(parts)))
            parts = []
            start = number
            length = len(line)
        parts.append(line)
        if length > max_line:
            raise SipParseError("Bad Request - Header too long", line=number)
    if parts:
        fields.append((start, " ".join(parts)))
    return fields
