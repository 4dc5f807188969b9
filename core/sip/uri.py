"""SIP, SIPS and tel URIs (RFC 3261 §19.1 and §25.1, RFC 3966, RFC 5118), and the parse error of the message layer.

Components are stored unescaped (``sip:%75ser@host`` has ``user == "user"``), so that a value read
from a URI is the value the peer meant; :meth:`SipUri.__str__` escapes again whatever the grammar
does not allow literally. IPv6 hosts are stored without the brackets of the IPv6reference, ready for
a socket address; serialisation puts them back. A URI of any other scheme is kept opaque: its scheme
and the text after the colon, enough to answer 416 (RFC 3261 §8.2.2.1) or to pass it on unchanged.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import unquote_to_bytes


class SipParseError(Exception):
    """Malformed SIP input.

    ``reason`` is short text fit for the reason phrase of a 400 response ("Malformed Via",
    "Bad Request - Missing Call-ID"); ``header`` names the header concerned when known; ``line`` is
    the 1-based line of the message where the fault was found, when known.
    """

    def __init__(self, reason: str, header: str | None = None, *, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.header = header
        self.line = line

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line is not None else ""
        return f"{self.reason}{where}"


# RFC 3261 §25.1 character classes.  '%' is admitted by the classes and the escapes checked apart,
# which keeps each check a single character-class scan.
USER_CHARS = r"A-Za-z0-9\-_.!~*'()&=+$,;?/"
"""RFC 3261 §25.1 user characters (unreserved / user-unreserved), as a regex class body, '%' apart."""
USER_CHARS_IN_ADDR_SPEC = r"A-Za-z0-9\-_.!~*'()&=+$/"
"""User characters that may stand in an addr-spec outside <> (no ';', '?', ',': RFC 3261 §20.10)."""
PARAM_CHARS = r"A-Za-z0-9\-_.!~*'()\[\]/:&+$"
"""RFC 3261 §25.1 paramchar, as a regex class body, '%' apart."""
HOST_FAST = r"(?:([0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})|([A-Za-z0-9\-_.]+)|\[([0-9A-Fa-f:.]+)\])"
"""A host as the fast paths match it, in three groups: IPv4 address, hostname, IPv6 address;
:func:`fast_host` completes the check of the last two."""
SIP_URI_FAST = (
    rf"(sips?):(?:([{USER_CHARS}]+)@)?{HOST_FAST}(?::([0-9]{{1,5}}))?"
    rf"((?:;[{PARAM_CHARS}]+(?:=[{PARAM_CHARS}]+)?)*)"
)
"""The common sip/sips URI: lower-case scheme, no escapes, no password, no headers. Seven groups:
scheme, user, the three of :data:`HOST_FAST`, port, parameters (from the first ';')."""
_USER_OK = re.compile(rf"[{USER_CHARS}%]+").fullmatch
_PASSWORD_OK = re.compile(r"[A-Za-z0-9\-_.!~*'()&=+$,%]*").fullmatch
_PARAM_OK = re.compile(rf"[{PARAM_CHARS}%]+").fullmatch
_HNAME_OK = re.compile(r"[A-Za-z0-9\-_.!~*'()\[\]/?:+$%]+").fullmatch
_HVALUE_OK = re.compile(r"[A-Za-z0-9\-_.!~*'()\[\]/?:+$%]*").fullmatch
_SCHEME_OK = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*").fullmatch
_HOSTPORT = re.compile(r"(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9\-_.]+))(?::([0-9]{1,5}))?")
_IPV4_SHAPE = re.compile(r"[0-9.]+").fullmatch
# RFC 3261 §25.1: IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT
_IPV4_OK = re.compile(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}").fullmatch
_SIP_FAST = re.compile(SIP_URI_FAST).fullmatch
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})").search
# RFC 3966 §3: digits, hex digits of local numbers, '*', '#', '+' and the visual separators.
_TEL_NUMBER_OK = re.compile(r"\+?[0-9A-Fa-f*#\-.()]+").fullmatch
_TEL_VISUAL = re.compile(r"[\-.()]")
# Unknown schemes: printable ASCII without the delimiters that end a URI inside a header value.
_OPAQUE_OK = re.compile(r"[!#-;=?-~]+").fullmatch

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()")
USER_SAFE = _UNRESERVED | frozenset("&=+$,;?/")
PASSWORD_SAFE = _UNRESERVED | frozenset("&=+$,")
PARAM_SAFE = _UNRESERVED | frozenset("[]/:&+$")
HEADER_SAFE = _UNRESERVED | frozenset("[]/?:+$")


def unescape(text: str, what: str = "URI") -> str:
    """Decode the %HH escapes of a URI component (RFC 3261 §19.1.2, RFC 3986 §2.1).

    Octets are decoded as UTF-8; octets that are not UTF-8 survive as surrogate escapes so that
    :func:`escape` gives them back unchanged. A '%' not followed by two hex digits raises.
    """
    if "%" not in text:
        return text
    if _BAD_ESCAPE(text) is not None:
        raise SipParseError(f"Malformed {what}: bad escape")
    return unquote_to_bytes(text).decode("utf-8", "surrogateescape")


_ALL_SAFE: dict[frozenset[str], re.Pattern[str]] = {}


def escape(text: str, safe: frozenset[str]) -> str:
    """Escape as %HH every octet of ``text`` that is not in ``safe`` (RFC 3261 §19.1.2)."""
    pattern = _ALL_SAFE.get(safe)
    if pattern is None:
        pattern = _ALL_SAFE[safe] = re.compile("[" + "".join(re.escape(char) for char in sorted(safe)) + "]*")
    if pattern.fullmatch(text) is not None:
        return text
    out: list[str] = []
    for byte in text.encode("utf-8", "surrogateescape"):
        char = chr(byte)
        out.append(char if char in safe else f"%{byte:02X}")
    return "".join(out)


def format_host(host: str) -> str:
    """``host`` as it is written in a URI or a Via: IPv6 addresses between brackets (RFC 5118 §4.3)."""
    return f"[{host}]" if ":" in host else host


def check_host(host: str, bracketed: bool, what: str) -> str:
    """Validate a host: an IPv6 address (``bracketed``, brackets already removed), an IPv4 address or a hostname."""
    if bracketed:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise SipParseError(f"Malformed {what}") from None
        return host
    if host[0] <= "9" and _IPV4_SHAPE(host) is not None and _IPV4_OK(host) is None:
        # A hostname's top label starts with a letter (RFC 3261 §25.1): all digits means IPv4.
        raise SipParseError(f"Malformed {what}")
    return host


def fast_host(name: str | None, v6: str | None, what: str) -> str:
    """Complete the check of a hostname or IPv6 address matched by :data:`HOST_FAST`."""
    if name is not None:
        if name[0] <= "9" and _IPV4_SHAPE(name) is not None:
            raise SipParseError(f"Malformed {what}")
        return name
    return check_host(v6 or "", True, what)


def fast_port(text: str | None, what: str) -> int | None:
    """The port matched by a fast path (at most five digits), checked against 65535."""
    if text is None:
        return None
    port = int(text)
    if port > 65535:
        raise SipParseError(f"Malformed {what}")
    return port


def split_params(text: str) -> dict[str, str | None]:
    """``;name[=value]...`` already validated, without escapes: names lower-cased, the first of a
    repeated name kept, ``None`` for a name without value."""
    if text.count(";") == 1:
        name, eq, value = text[1:].partition("=")
        return {name.lower(): value if eq else None}
    params: dict[str, str | None] = {}
    for item in text[1:].split(";"):
        name, eq, value = item.partition("=")
        name = name.lower()
        if name not in params:
            params[name] = value if eq else None
    return params


def parse_hostport(text: str, what: str) -> tuple[str, int | None]:
    """Parse ``host [":" port]`` (RFC 3261 §25.1 hostport); IPv6 references lose their brackets."""
    match = _HOSTPORT.fullmatch(text)
    if match is None:
        raise SipParseError(f"Malformed {what}")
    v6, name, port_text = match.groups()
    host = check_host(v6, True, what) if v6 is not None else check_host(name, False, what)
    port = None
    if port_text is not None:
        port = int(port_text)
        if port > 65535:
            raise SipParseError(f"Malformed {what}")
    return host, port


def _parse_params(text: str, what: str) -> dict[str, str | None]:
    """``;name[=value]...`` of a SIP or tel URI; ``text`` starts after the first ';'."""
    params: dict[str, str | None] = {}
    for item in text.split(";"):
        name, eq, value = item.partition("=")
        if _PARAM_OK(name) is None or (eq and _PARAM_OK(value) is None):
            raise SipParseError(f"Malformed {what}: bad parameter")
        key = unescape(name, what).lower()
        if key not in params:  # RFC 3261 §19.1.1: a parameter appears once; the first one counts
            params[key] = unescape(value, what) if eq else None
    return params


def _parse_headers(text: str, what: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in text.split("&"):
        name, eq, value = item.partition("=")
        if not eq or _HNAME_OK(name) is None or _HVALUE_OK(value) is None:
            raise SipParseError(f"Malformed {what}: bad header")
        headers[unescape(name, what)] = unescape(value, what)
    return headers


PARSE_CACHE_SIZE = 4096
"""Most parsed values of one kind (URIs, addresses, Vias) kept for reuse; a cache is emptied when full."""
_URI_CACHE: dict[str, SipUri] = {}
_T = TypeVar("_T")


def remember(cache: dict[str, _T], text: str, value: _T) -> _T:
    """Keep ``value``, parsed from ``text``, in one of the parse caches (emptied when full); returns it."""
    if len(cache) >= PARSE_CACHE_SIZE:
        cache.clear()
    cache[text] = value
    return value


@dataclass(slots=True)
class SipUri:
    """A ``sip:``, ``sips:`` or ``tel:`` URI, or an opaque URI of another scheme.

    ``scheme`` is lower-case. For sip/sips (RFC 3261 §19.1.1) ``user``/``password`` are the
    unescaped userinfo (``None`` when absent), ``host`` a hostname, IPv4 address or IPv6 address
    (without brackets) and ``port`` ``None`` when not written. For tel (RFC 3966) ``user`` holds the
    telephone number and ``host`` is empty. ``params`` keys are lower-case, in the order written,
    a parameter without value (``lr``) maps to ``None``. ``headers`` are the ``?name=value`` part.
    For other schemes only ``opaque`` (the text after ``scheme:``) is set.
    """

    scheme: str
    user: str | None = None
    password: str | None = None
    host: str = ""
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    opaque: str | None = None
    # The text, made on the first str(): a URI is a value, never changed in place once made.
    _text: str | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def parse(cls, text: str) -> SipUri:
        """Parse a URI (RFC 3261 §19.1.1, §25.1; RFC 3966 §3; RFC 5118 §4); raise :class:`SipParseError`.

        No whitespace is allowed anywhere in a URI (RFC 4475 §3.1.2.8 lwsruri, §3.1.2.14 badaspec).
        The same URIs recur (a phone's Request-URIs, our own Contact in every in-dialog request), so
        results are kept in a bounded cache and shared: a parsed URI is a read-only view, never to be
        changed in place (``dataclasses.replace`` makes a changed copy).
        """
        uri = _URI_CACHE.get(text)
        if uri is None:
            uri = remember(_URI_CACHE, text, cls._parse(text))
        return uri

    @classmethod
    def _parse(cls, text: str) -> SipUri:
        fast = _SIP_FAST(text)
        if fast is not None:
            scheme, user, v4, name, v6, port_text, param_text = fast.groups()
            return cls(
                scheme,
                user,
                None,
                v4 or fast_host(name, v6, "URI"),
                None if port_text is None else fast_port(port_text, "URI"),
                split_params(param_text) if param_text else {},
            )
        colon = text.find(":")
        if colon <= 0:
            raise SipParseError("Malformed URI: no scheme")
        scheme = text[:colon]
        if _SCHEME_OK(scheme) is None:
            raise SipParseError("Malformed URI: bad scheme")
        scheme = scheme.lower()
        rest = text[colon + 1 :]
        if scheme == "sip" or scheme == "sips":
            return _parse_sip(scheme, rest)
        if scheme == "tel":
            return _parse_tel(rest)
        if _OPAQUE_OK(rest) is None:
            raise SipParseError("Malformed URI")
        return cls(scheme, opaque=rest)

    @property
    def is_sip(self) -> bool:
        """True for sip: and sips: URIs."""
        return self.scheme == "sip" or self.scheme == "sips"

    def __str__(self) -> str:
        text = self._text
        if text is None:
            text = self._text = self._format()
        return text

    def _format(self) -> str:
        scheme = self.scheme
        if self.opaque is not None and not (scheme == "sip" or scheme == "sips" or scheme == "tel"):
            return f"{scheme}:{self.opaque}"
        parts = [scheme, ":"]
        if scheme == "tel":
            parts.append(self.user or "")
        else:
            if self.user is not None:
                parts.append(escape(self.user, USER_SAFE))
                if self.password is not None:
                    parts.append(":")
                    parts.append(escape(self.password, PASSWORD_SAFE))
                parts.append("@")
            parts.append(format_host(self.host))
            if self.port is not None:
                parts.append(f":{self.port}")
        for name, value in self.params.items():
            parts.append(";")
            parts.append(escape(name, PARAM_SAFE))
            if value is not None:
                parts.append("=")
                parts.append(escape(value, PARAM_SAFE))
        separator = "?"
        for name, value in self.headers.items():
            parts.append(separator)
            parts.append(escape(name, HEADER_SAFE))
            parts.append("=")
            parts.append(escape(value, HEADER_SAFE))
            separator = "&"
        return "".join(parts)

    def equivalent(self, other: SipUri) -> bool:
        """URI equality as RFC 3261 §19.1.4 defines it for sip/sips, RFC 3966 §4 for tel.

        sip/sips: same scheme; userinfo equal case-sensitively (escapes already decoded); host equal
        case-insensitively (IPv6 compared as addresses); ports equal, a missing port not matching an
        explicit 5060; the ``user``, ``ttl``, ``method``, ``maddr`` and ``transport`` parameters
        present in both or neither; every parameter present in both equal case-insensitively; the
        header components identical. tel: numbers equal ignoring visual separators and case, the
        same parameter names with case-insensitively equal values. Other schemes: same text.
        """
        if self.scheme != other.scheme:
            return False
        if self.scheme == "tel":
            return _tel_key(self) == _tel_key(other)
        if not self.is_sip:
            return self.opaque == other.opaque
        if self.user != other.user or self.password != other.password or self.port != other.port:
            return False
        if _host_key(self.host) != _host_key(other.host):
            return False
        mine, theirs = self.params, other.params
        for name in ("user", "ttl", "method", "maddr", "transport"):
            if (name in mine) != (name in theirs):
                return False
        for name, value in mine.items():
            if name in theirs:
                other_value = theirs[name]
                if value is None or other_value is None:
                    if value is not other_value:
                        return False
                elif value.lower() != other_value.lower():
                    return False
        return {k.lower(): v for k, v in self.headers.items()} == {k.lower(): v for k, v in other.headers.items()}


def _host_key(host: str) -> str:
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host).compressed
        except ValueError:
            return host.lower()
    return host.lower()


def _tel_key(uri: SipUri) -> tuple[str, frozenset[tuple[str, str | None]]]:
    number = _TEL_VISUAL.sub("", uri.user or "").lower()
    params = frozenset((k, v.lower() if v is not None else None) for k, v in uri.params.items())
    return number, params


def _parse_sip(scheme: str, rest: str) -> SipUri:
    user: str | None = None
    password: str | None = None
    at = rest.find("@")
    if at >= 0:
        userinfo = rest[:at]
        rest = rest[at + 1 :]
        user_text, colon, password_text = userinfo.partition(":")
        if _USER_OK(user_text) is None or (colon and _PASSWORD_OK(password_text) is None):
            raise SipParseError("Malformed URI: bad userinfo")
        user = unescape(user_text)
        if colon:
            password = unescape(password_text)
    end = len(rest)
    semi = rest.find(";")
    question = rest.find("?")
    if question >= 0:
        end = question
    if 0 <= semi < end:
        end = semi
    host, port = parse_hostport(rest[:end], "URI")
    params: dict[str, str | None] = {}
    headers: dict[str, str] = {}
    if end < len(rest):
        if question >= 0:
            if semi >= 0 and semi < question:
                params = _parse_params(rest[semi + 1 : question], "URI")
            headers = _parse_headers(rest[question + 1 :], "URI")
        else:
            params = _parse_params(rest[semi + 1 :], "URI")
    return SipUri(scheme, user, password, host, port, params, headers)


def _parse_tel(rest: str) -> SipUri:
    number, semi, param_text = rest.partition(";")
    if _TEL_NUMBER_OK(number) is None:
        raise SipParseError("Malformed URI: bad telephone number")
    params = _parse_params(param_text, "URI") if semi else {}
    return SipUri("tel", number, None, "", None, params)
