"""SIP digest authentication: server challenges and verification, client credentials (sans-IO).

Follows RFC 7616 (HTTP Digest) as RFC 8760 applies it to SIP, with the RFC 3261 §22 rules for
401/407 and RFC 2069 compatibility on the client side.

Server side (:class:`DigestChallenger`):

* one ``WWW-Authenticate`` / ``Proxy-Authenticate`` value per algorithm, the most preferred first
  (RFC 8760, UAS behaviour; Asterisk's ``res_pjsip_authenticator_digest.c`` likewise sends one
  challenge per ``supported_algorithms_uas`` entry and never two for the same realm and algorithm);
* nonces are stateless: ``base64url(timestamp | salt | MAC(secret; realm, algorithm, timestamp,
  salt))``, so any process holding the secret (and the same clock) verifies them, and a nonce issued
  for SHA-256 is not accepted for an MD5 response (no algorithm downgrade).  The MAC is keyed BLAKE2s
  truncated to 128 bits (RFC 7693; Python's ``hashlib`` documents keyed BLAKE2 as "a faster and
  simpler replacement for HMAC"), a fifth of HMAC-SHA256's CPU per nonce;
* H(A1) = H(username:realm:password) is kept per user, password and algorithm (RFC 7616 §3.4.2 lets
  a server store it instead of the password), so a registration hashes it once, not on every request;
  an unknown user gets the same treatment with a dummy password;
* a nonce older than ``nonce_lifetime`` gives STALE only when the digest itself is right, as RFC 7616
  §3.3 (``stale``) asks and as Asterisk does (``verify()``: ``pjsip_auth_srv_verify`` succeeds but
  ``check_nonce`` fails -> ``AUTH_STALE``); Asterisk's test ``now - timestamp > nonce_lifetime`` is
  kept, so a nonce exactly ``nonce_lifetime`` old is still fresh;
* replays are refused by remembering the highest nonce-count accepted per nonce (RFC 7616 §3.4:
  the server should check that nc increases); the memory is bounded because an entry expires with
  its nonce;
* an unknown user and a wrong password take the same code path (a dummy password is hashed) and give
  the same FAILED result; only ``AuthResult.reason``, which is for the log, differs.

Client side (:func:`digest_credentials`): MD5, MD5-sess, SHA-256, SHA-256-sess (and SHA-512-256 where
the OpenSSL build has it), qop=auth / auth-int, RFC 2069 mode when the challenge has no qop, userhash
(RFC 7616 §3.4.4) when the server asks for it.

Nothing here reads a clock or touches the network: ``now`` (seconds, any clock that does not go
backwards; wall-clock time when several processes share the secret) is always passed in.
"""

from __future__ import annotations

import binascii
import enum
import hashlib
import heapq
import hmac
import logging
import os
import re
import secrets
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from core.sip.uri import SipParseError, SipUri

log = logging.getLogger("centralita.sip")

__all__ = [
    "SUPPORTED_ALGORITHMS",
    "AuthResult",
    "AuthStatus",
    "DigestChallenge",
    "DigestChallenger",
    "DigestError",
    "choose_challenge",
    "digest_credentials",
    "digest_response",
    "parse_digest_header",
]

# RFC 7616 §3.2 / IANA "HTTP Digest Hash Algorithms": base algorithm -> hashlib name.
_HASH_NAMES: dict[str, str] = {"MD5": "md5", "SHA-256": "sha256"}
try:  # SHA-512/256 is not in every OpenSSL build (RFC 8760 lists it for SIP).
    hashlib.new("sha512_256")
except ValueError:  # pragma: no cover - depends on the OpenSSL build
    pass
else:
    _HASH_NAMES["SHA-512-256"] = "sha512_256"

_HASH_CONSTRUCTORS: dict[str, Callable[..., hashlib._Hash]] = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}

#: Algorithm names this module computes, canonical spelling (RFC 7616 §3.2, RFC 8760).
SUPPORTED_ALGORITHMS: tuple[str, ...] = tuple(
    name for base in ("SHA-512-256", "SHA-256", "MD5") if base in _HASH_NAMES for name in (base, base + "-sess")
)
_CANONICAL = {name.lower(): name for name in SUPPORTED_ALGORITHMS}
_DIGEST_HEX_LENGTH = {"MD5": 32, "SHA-256": 64, "SHA-512-256": 64}

MAX_HEADER_LENGTH = 8192
"""Longer Authorization values are refused unparsed (a real one is a few hundred characters)."""

_WHITESPACE = " \t\r\n"
# RFC 3261 §25.1 token characters.
_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~")
_NONCE_VERSION = b"centralita-digest-nonce-2\x00"
_NONCE_RAW_LENGTH = 8 + 8 + 16  # timestamp (ms), salt, 128-bit keyed BLAKE2s
_SALT_POOL = 8 * 64
_ISSUED_MEMORY = 8192  # nonces remembered from the latest challenges (DigestChallenger._issued)
_NONCE_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url of _NONCE_RAW_LENGTH bytes, unpadded
# The 43rd character carries the last 4 bits and 2 padding bits, which the canonical spelling leaves at zero
# (RFC 4648 §3.5): the characters whose index in the alphabet is a multiple of 4.
_NONCE_LAST = frozenset("AEIMQUYcgkosw048")
_TO_BASE64URL = bytes.maketrans(b"+/", b"-_")
_FROM_BASE64URL = bytes.maketrans(b"-_", b"+/")
_NONCE_COUNT = re.compile(r"[0-9a-fA-F]{8}")  # RFC 7616 §3.4: nc-value = 8LHEX
_LOWER_HEX = re.compile(r"[0-9a-f]+")


class DigestError(ValueError):
    """A challenge or credentials value could not be parsed or used.

    ``reason`` is short text for a log line or a 400 reason phrase; ``position`` is the character
    offset in the header value where parsing stopped, when the problem is a syntax error.
    """

    def __init__(self, reason: str, position: int | None = None) -> None:
        super().__init__(reason if position is None else f"{reason} (at character {position})")
        self.reason = reason
        self.position = position


# -- header syntax (RFC 7235 §2.1 / RFC 3261 §25.1: scheme, then #auth-param) -------------------------

_SPACE = re.compile(r"[ \t\r\n]*")
_SEPARATORS = re.compile(r"[ \t\r\n,]*")
_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_EQUALS = re.compile(r"[ \t\r\n]*=[ \t\r\n]*")
# quoted-string as an unrolled loop: no nested quantifiers, so matching is linear even when it fails.
_QUOTED = re.compile(r'"([^"\\]*(?:\\[^\r\n][^"\\]*)*)"')
_QUOTED_PAIR = re.compile(r"\\([^\r\n])")
_BARE_VALUE = re.compile(r'[^ \t\r\n,"]+')
_AFTER_VALUE = re.compile(r"[ \t\r\n]*(?:,|\Z)")


# The shape nearly every peer sends (``Digest name="value", name=value, ...``, no escapes, no blanks around
# '='): validated whole by one match, then split by findall; anything else takes the careful parser below.
# Each parameter is matched where the previous one ended (re.match at a position), so the loop both
# validates the whole value and extracts it in one pass.
_FAST_PARAM = r'([A-Za-z0-9\-.!%*_+`\'~]+)=(?:"([^"\\\r\n]*)"|([^ \t\r\n,"]+))'
_FAST_FIRST = re.compile(rf"([A-Za-z0-9\-.!%*_+`'~]+) +{_FAST_PARAM}").match
_FAST_NEXT = re.compile(rf"[ \t]*,[ \t]*{_FAST_PARAM}").match
# The credentials of a qop=auth answer to our challenges as digest_credentials() and pjsip's client write them
# (parameters in this order, ", " between them, no opaque since we send none): one match instead of one per
# parameter (each re call costs about as much as matching the whole value).  Backslashes, CR and LF are
# ruled out before it is tried, so the quoted values need no escape handling.
_USUAL_CREDENTIALS = re.compile(
    r'Digest username="([^"]*)", realm="([^"]*)", nonce="([^"]*)", uri="([^"]*)", response="([^"]*)", '
    r'algorithm=([^ \t\r\n,"]+), cnonce="([^"]*)", qop=([^ \t\r\n,"]+), nc=([^ \t\r\n,"]+)').fullmatch


def _skip(pattern: re.Pattern[str], text: str, pos: int) -> int:
    match = pattern.match(text, pos)  # the patterns given here also match the empty string
    return pos if match is None else match.end()


def parse_digest_header(value: str) -> tuple[str, dict[str, str]]:
    """Split a challenge or credentials value into its scheme and its parameters.

    ``Digest realm="a\\"b", qop=auth`` -> ``("Digest", {"realm": 'a"b', "qop": "auth"})``.  Parameter
    names are lower-cased (they are case-insensitive, RFC 7616 §3.3); quoted strings are unescaped
    (RFC 3261 §25.1 quoted-pair); commas inside quotes belong to the value; empty list elements are
    skipped (RFC 7230 §7).  An unquoted value runs to the next comma or blank, which tolerates the
    unquoted base64 nonces some implementations send.  A parameter given twice is an error (RFC 7235
    §2.1).  Raises :class:`DigestError` with the position of the problem; never anything else.
    """
    if len(value) > MAX_HEADER_LENGTH:
        raise DigestError("header too long", MAX_HEADER_LENGTH)
    if "\\" not in value and "\r" not in value and "\n" not in value:
        usual = _USUAL_CREDENTIALS(value)
        if usual is not None:
            username, realm, nonce, uri, response, algorithm, cnonce, qop, nc = usual.groups()
            return "Digest", {"username": username, "realm": realm, "nonce": nonce, "uri": uri, "response": response,
                              "algorithm": algorithm, "cnonce": cnonce, "qop": qop, "nc": nc}
    fast = _FAST_FIRST(value)
    if fast is not None:
        scheme, name, quoted, bare = fast.groups()
        fast_params = {name.lower(): bare if quoted is None else quoted}
        end, length = fast.end(), len(value)
        while end < length:
            fast = _FAST_NEXT(value, end)
            if fast is None:
                break  # another shape: the careful parser below decides
            name, quoted, bare = fast.groups()
            name = name.lower()
            if name in fast_params:
                break  # a duplicate parameter: the careful parser below says where
            fast_params[name] = bare if quoted is None else quoted
            end = fast.end()
        else:
            return scheme, fast_params
    pos = _skip(_SPACE, value, 0)
    scheme_match = _TOKEN.match(value, pos)
    if scheme_match is None:
        raise DigestError("missing authentication scheme", pos)
    scheme = scheme_match.group()
    pos = scheme_match.end()
    if pos < len(value) and value[pos] not in _WHITESPACE:
        raise DigestError("malformed authentication scheme", pos)
    params: dict[str, str] = {}
    while True:
        pos = _skip(_SEPARATORS, value, pos)
        if pos >= len(value):
            return scheme, params
        name_match = _TOKEN.match(value, pos)
        if name_match is None:
            raise DigestError("expected a parameter name", pos)
        name = name_match.group().lower()
        equals = _EQUALS.match(value, name_match.end())
        if equals is None:
            raise DigestError(f"expected '=' after {name}", name_match.end())
        pos = equals.end()
        if pos < len(value) and value[pos] == '"':
            quoted = _QUOTED.match(value, pos)
            if quoted is None:
                raise DigestError(f"unterminated quoted string or bad escape in {name}", pos)
            param = quoted.group(1)
            if "\\" in param:
                param = _QUOTED_PAIR.sub(r"\1", param)
            end = quoted.end()
        else:
            bare = _BARE_VALUE.match(value, pos)
            if bare is None:
                raise DigestError(f"missing value of {name}", pos)
            param = bare.group()
            end = bare.end()
        if name in params:
            raise DigestError(f"duplicate parameter {name}", name_match.start())
        params[name] = param
        after = _AFTER_VALUE.match(value, end)
        if after is None:
            raise DigestError("expected ',' between parameters", _skip(_SPACE, value, end))
        pos = after.end()


def _quote(text: str, what: str) -> str:
    # RFC 3261 §25.1: quoted-pair cannot carry CR, LF or NUL; refuse rather than build a broken header.
    if any(char in text for char in "\r\n\x00"):
        raise DigestError(f"{what} contains CR, LF or NUL")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- the digest computation (RFC 7616 §3.4.1-§3.4.3) --------------------------------------------------

def _split_algorithm(algorithm: str) -> tuple[str, bool]:
    canonical = _CANONICAL.get(algorithm.lower())
    if canonical is None:
        raise DigestError(f"unsupported algorithm {algorithm}")
    if canonical.endswith("-sess"):
        return canonical[: -len("-sess")], True
    return canonical, False


def _utf8(text: str) -> bytes:
    # surrogateescape gives back the original octets of text decoded with errors="surrogateescape".
    return text.encode("utf-8", "surrogateescape")


def _hex_digest(base_algorithm: str, data: bytes) -> str:
    """H(data) of RFC 7616 §3.2 for ``MD5``/``SHA-256``/``SHA-512-256``: lower-case hex.

    Every hash of this module goes through here (tests count the calls).
    """
    constructor = _HASH_CONSTRUCTORS.get(base_algorithm)
    if constructor is not None:  # the named constructors are faster than hashlib.new (hashlib docs)
        return constructor(data, usedforsecurity=False).hexdigest()
    return hashlib.new(_HASH_NAMES[base_algorithm], data, usedforsecurity=False).hexdigest()


def digest_response(
    algorithm: str,
    *,
    username: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None,
    nc: str = "",
    cnonce: str = "",
    body: bytes = b"",
    ha1: str | None = None,
) -> str:
    """The ``response`` value of RFC 7616 §3.4.1 (RFC 2069 §2.1.2 when ``qop`` is None).

    A1 = username:realm:password (``-sess``: H(that):nonce:cnonce); A2 = method:uri (``auth-int``:
    method:uri:H(body)); response = H(H(A1):nonce:nc:cnonce:qop:H(A2)), or H(H(A1):nonce:H(A2))
    without qop.  Strings are hashed as UTF-8.  ``ha1``, when given, is H(username:realm:password)
    already computed (``password`` is then not used).  Raises :class:`DigestError` for an unknown
    algorithm.
    """
    base, session = _split_algorithm(algorithm)
    if ha1 is None:
        ha1 = _hex_digest(base, _utf8(f"{username}:{realm}:{password}"))
    return _response_from_ha1(base, session, ha1, method, uri, nonce, qop, nc, cnonce, body)


def _response_from_ha1(base: str, session: bool, ha1: str, method: str, uri: str, nonce: str, qop: str | None,
                       nc: str, cnonce: str, body: bytes) -> str:
    """:func:`digest_response` once the algorithm is split and H(A1) known (the server's path)."""
    if session:
        ha1 = _hex_digest(base, _utf8(f"{ha1}:{nonce}:{cnonce}"))
    a2 = f"{method}:{uri}"
    if qop is not None and qop.lower() == "auth-int":
        a2 += ":" + _hex_digest(base, body)
    # _utf8 spelled out: this runs for every request with credentials.
    ha2 = _hex_digest(base, a2.encode("utf-8", "surrogateescape"))
    if qop is None:
        return _hex_digest(base, f"{ha1}:{nonce}:{ha2}".encode("utf-8", "surrogateescape"))
    return _hex_digest(base, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}".encode("utf-8", "surrogateescape"))


# -- server side ---------------------------------------------------------------------------------------

class AuthStatus(enum.Enum):
    """Outcome of :meth:`DigestChallenger.verify`."""

    OK = "ok"
    """The credentials are right: let the request through."""
    STALE = "stale"
    """The digest is right but the nonce is expired or already used: challenge again with stale=true."""
    FAILED = "failed"
    """Anything else: challenge again (without stale); count it towards a ban."""


@dataclass(frozen=True, slots=True)
class AuthResult:
    """What :meth:`DigestChallenger.verify` found.

    ``username`` is the name the client gave (for the log; it authenticated only when ``ok``);
    ``reason`` is text for the log and must not be sent to the client, because it tells an unknown
    user from a wrong password.  ``uri_mismatch`` marks a FAILED result whose credentials were made for
    another Request-URI (RFC 7616 §3.4.6: answer 400); it is decided before any password is looked up.
    """

    status: AuthStatus
    username: str | None = None
    reason: str = ""
    algorithm: str | None = None
    uri_mismatch: bool = False

    @property
    def ok(self) -> bool:
        """True when the request is authenticated."""
        return self.status is _OK

    @property
    def stale(self) -> bool:
        """True when the answer is a new challenge with ``stale=true``."""
        return self.status is _STALE


# Looked up once: reading a member off an Enum class goes through EnumType's __getattr__ hook in Python 3.11.
_OK, _STALE = AuthStatus.OK, AuthStatus.STALE


class DigestChallenger:
    """Issue digest challenges and verify the credentials that answer them (RFC 7616, RFC 8760).

    ``algorithms`` are offered in the given order, one challenge each (the default puts SHA-256
    first for RFC 8760 clients and keeps MD5 for phones that know nothing else); ``-sess`` variants
    may be listed too.  ``qop`` is ``"auth"`` (RFC 8760 makes qop mandatory in SIP; a response
    without it is refused) or None for the RFC 2069 form, where each nonce is then accepted once.
    ``nonce_lifetime`` is in seconds of the clock that ``now`` comes from.  ``max_tracked_nonces``
    bounds the replay memory; when it is full the oldest entries are dropped and every nonce at least
    as old as them is answered STALE, so a dropped entry can never be replayed.
    """

    def __init__(
        self,
        realm: str,
        secret: bytes,
        *,
        algorithms: Iterable[str] = ("SHA-256", "MD5"),
        nonce_lifetime: float = 30.0,
        qop: str | None = "auth",
        max_tracked_nonces: int = 100_000,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        if any(char in realm for char in "\r\n\x00"):
            raise ValueError("realm contains CR, LF or NUL")
        _utf8(realm)  # UnicodeEncodeError now rather than at the first challenge
        if len(secret) < 16:
            raise ValueError("the nonce secret must have at least 16 bytes")
        offered: list[str] = []
        for algorithm in algorithms:
            canonical = _CANONICAL.get(algorithm.lower())
            if canonical is None:
                raise ValueError(f"unsupported digest algorithm {algorithm!r}; choose from {SUPPORTED_ALGORITHMS}")
            if canonical not in offered:  # one challenge per realm and algorithm, as digest_check_auth()
                offered.append(canonical)
        if not offered:
            raise ValueError("at least one digest algorithm is needed")
        if qop is not None and qop.lower() != "auth":
            raise ValueError("qop must be 'auth' or None")
        if nonce_lifetime <= 0:
            raise ValueError("nonce_lifetime must be positive")
        if max_tracked_nonces < 1:
            raise ValueError("max_tracked_nonces must be at least 1")
        self.realm = realm
        self.algorithms: tuple[str, ...] = tuple(offered)
        self.nonce_lifetime = float(nonce_lifetime)
        self.qop = None if qop is None else "auth"
        self.max_tracked_nonces = max_tracked_nonces
        secret = bytes(secret)
        # BLAKE2s takes a key of at most 32 bytes: a longer secret is hashed down to one (RFC 7693 §2.5).
        self._mac_key = secret if len(secret) <= 32 else hashlib.blake2s(secret).digest()
        self._mac_state: dict[str, hashlib.blake2s] = {}  # algorithm -> keyed state that has absorbed the prefix
        # (base algorithm, username, password) -> H(A1); None as username: the dummy of unknown users.
        self._ha1: dict[tuple[str, str | None, str], str] = {}
        self._accepted: dict[tuple[str, str], AuthResult] = {}  # (username, algorithm) -> the OK result
        # Each challenge value is its constant text around the nonce: (algorithm, text before, text after).
        realm_part = f"Digest realm={_quote(realm, 'realm')}, nonce=\""
        qop_part = "" if self.qop is None else f', qop="{self.qop}"'
        self._templates = tuple((algorithm, realm_part, f'", algorithm={algorithm}{qop_part}')
                                for algorithm in self.algorithms)
        self._random_bytes = random_bytes
        self._salts = b""  # random bytes drawn ahead, 8 per nonce: one getrandom() call per 64 nonces
        self._salt_at = 0  # where the next nonce's salt starts in _salts
        self._dummy_password = secrets.token_hex(16)
        # nonce -> highest nonce-count accepted; heap of (issue time, nonce) to forget them in time order.
        self._highest_nc: dict[str, int] = {}
        self._issue_heap: list[tuple[float, str]] = []
        self._dropped_until = float("-inf")  # issue time of the newest entry dropped for lack of room
        # nonce -> (algorithm, issue time) of the nonces challenged lately: the credentials that answer a challenge
        # come back within moments, and a nonce found here needs no decoding and no MAC to be known as ours.
        # Emptied when full; a nonce no longer here is checked by its MAC, with the same result.
        self._issued: dict[str, tuple[str, float]] = {}

    # -- nonces ---------------------------------------------------------------------------------------

    def _mac(self, algorithm: str, stamp_and_salt: bytes) -> bytes:
        state = self._mac_state.get(algorithm)
        if state is None:
            state = self._mac_state[algorithm] = hashlib.blake2s(
                b"\x00".join((_NONCE_VERSION, _utf8(self.realm), algorithm.encode(), b"")), key=self._mac_key,
                digest_size=16)
        # The keyed state with the fixed prefix absorbed is copied, not rebuilt (hashlib: hash.copy()).
        mac = state.copy()
        mac.update(stamp_and_salt)
        return mac.digest()

    def _new_nonce(self, algorithm: str, stamp: bytes) -> str:
        """A nonce for ``algorithm`` issued at ``stamp`` (milliseconds, 8 bytes big-endian)."""
        at = self._salt_at
        if at >= len(self._salts):
            salts = self._random_bytes(_SALT_POOL)
            if len(salts) != _SALT_POOL:
                raise ValueError(f"random_bytes({_SALT_POOL}) must return {_SALT_POOL} bytes")
            self._salts, at = salts, 0
        self._salt_at = at + 8
        stamp_and_salt = stamp + self._salts[at:at + 8]
        raw = stamp_and_salt + self._mac(algorithm, stamp_and_salt)
        # base64url (RFC 4648 §5) without padding; binascii directly, as base64.urlsafe_b64encode does underneath.
        return binascii.b2a_base64(raw, newline=False).translate(_TO_BASE64URL).rstrip(b"=").decode("ascii")

    def _nonce_issued_at(self, nonce: str, algorithm: str) -> float | None:
        """Issue time of a nonce this challenger made for ``algorithm``, or None."""
        issued = self._issued.get(nonce)
        if issued is not None and issued[0] == algorithm:
            return issued[1]
        if _NONCE_SHAPE.fullmatch(nonce) is None:
            return None
        try:
            # The shape is checked above, so the base64 alphabet is: decode as base64.urlsafe_b64decode does.
            raw = binascii.a2b_base64(nonce.encode("ascii").translate(_FROM_BASE64URL) + b"=")
        except (binascii.Error, ValueError):
            return None
        if len(raw) != _NONCE_RAW_LENGTH or nonce[-1] not in _NONCE_LAST:
            return None  # only the canonical spelling: one nonce, one replay-memory entry
        stamp_and_salt = raw[:16]
        if not hmac.compare_digest(raw[16:], self._mac(algorithm, stamp_and_salt)):
            return None
        milliseconds: int = struct.unpack(">q", raw[:8])[0]
        return milliseconds / 1000.0

    # -- challenges -----------------------------------------------------------------------------------

    def challenge(self, now: float, *, stale: bool = False) -> list[str]:
        """The ``WWW-Authenticate`` (401) or ``Proxy-Authenticate`` (407) values, one per algorithm.

        E.g. ``Digest realm="centralita", nonce="...", algorithm=SHA-256, qop="auth"`` then the MD5
        one; ``stale=true`` is added after a STALE result (RFC 7616 §3.3).  Each carries a fresh nonce.
        """
        milliseconds = round(now * 1000)
        stamp = struct.pack(">q", milliseconds)
        issued_at = milliseconds / 1000.0  # as _nonce_issued_at reads it back from the stamp
        issued = self._issued
        if len(issued) >= _ISSUED_MEMORY:
            issued.clear()
        values: list[str] = []
        for algorithm, before, after in self._templates:
            nonce = self._new_nonce(algorithm, stamp)
            issued[nonce] = (algorithm, issued_at)
            values.append(f"{before}{nonce}{after}, stale=true" if stale else f"{before}{nonce}{after}")
        return values

    # -- verification ---------------------------------------------------------------------------------

    def verify(
        self,
        method: str,
        credentials_header: str,
        password_lookup: Callable[[str], str | None],
        now: float,
        *,
        request_uri: str | None = None,
        host_only_uri: bool = False,
    ) -> AuthResult:
        """Check an ``Authorization`` / ``Proxy-Authorization`` value of a ``method`` request.

        ``password_lookup(username)`` gives the user's password or None for an unknown user.  When
        ``request_uri`` is given the credentials' ``uri`` must designate the same resource (RFC 7616 §3.4.6):
        both are compared as URIs (RFC 3261 §19.1.4, so ``sip:1002@host;transport=udp`` is not
        ``sip:19005550100@host``, while escaping and host case do not matter), or as text when either
        does not parse; so credentials cannot be moved to another request target.  ``host_only_uri`` also
        accepts a ``uri`` that is the Request-URI's scheme, host and port alone (``sip:pbx.example.net:5060``
        for ``sip:600@pbx.example.net:5060``): SIPp computes its digests that way unless told ``-auth_uri``,
        and such a uri never names one user's target, so a phone's credentials for ``sip:1002@...`` still
        cannot be moved to ``sip:19005550100@...``.  Never raises on hostile input.
        """
        try:
            return self._verify(method, credentials_header, password_lookup, now, request_uri, host_only_uri)
        except DigestError as exc:
            return AuthResult(AuthStatus.FAILED, reason=str(exc))
        except UnicodeEncodeError:  # a lone surrogate that did not come from surrogateescape decoding
            return AuthResult(AuthStatus.FAILED, reason="credentials are not valid UTF-8")

    def _verify(
        self,
        method: str,
        header: str,
        password_lookup: Callable[[str], str | None],
        now: float,
        request_uri: str | None,
        host_only_uri: bool = False,
    ) -> AuthResult:
        scheme, params = parse_digest_header(header)
        if scheme.lower() != "digest":
            return AuthResult(AuthStatus.FAILED, reason=f"scheme {scheme} is not Digest")
        username = params.get("username")
        if "username*" in params:
            return AuthResult(AuthStatus.FAILED, reason="username* (RFC 7616 §3.4.4) is not supported")
        userhash = params.get("userhash")
        if userhash is not None and userhash.lower() != "false":
            return AuthResult(AuthStatus.FAILED, username, "userhash was not offered")
        try:
            user, realm, nonce, uri, response = (params["username"], params["realm"], params["nonce"], params["uri"],
                                                 params["response"])
        except KeyError as missing:  # the first one missing, in that order
            return AuthResult(AuthStatus.FAILED, username, f"missing {missing.args[0]}")
        if realm != self.realm:
            return AuthResult(AuthStatus.FAILED, username, f"realm {realm!r} is not {self.realm!r}")
        offered = params.get("algorithm", "MD5")
        algorithm = _CANONICAL.get(offered.lower())
        if algorithm is None or algorithm not in self.algorithms:
            return AuthResult(AuthStatus.FAILED, username, f"algorithm {offered} was not offered")

        # Results from here on name the algorithm.
        qop = params.get("qop")
        nc_text = params.get("nc", "")
        cnonce = params.get("cnonce", "")
        if self.qop is None:
            if qop is not None:
                return AuthResult(AuthStatus.FAILED, username, "qop was not offered", algorithm)
            nc = 1  # RFC 2069: no nonce-count, so each nonce is good for one request
        else:
            if qop is None:
                return AuthResult(AuthStatus.FAILED, username, "no qop (RFC 2069 response to a qop=auth challenge)",
                                  algorithm)
            if qop.lower() != self.qop:
                return AuthResult(AuthStatus.FAILED, username, f"qop {qop} was not offered", algorithm)
            if not cnonce:
                return AuthResult(AuthStatus.FAILED, username, "missing cnonce", algorithm)
            if _NONCE_COUNT.fullmatch(nc_text) is None:
                return AuthResult(AuthStatus.FAILED, username, "nc is not 8 hex digits", algorithm)
            nc = int(nc_text, 16)
            if nc == 0:
                return AuthResult(AuthStatus.FAILED, username, "nc is zero", algorithm)
        response = response.lower()
        base = algorithm.removesuffix("-sess")
        if len(response) != _DIGEST_HEX_LENGTH[base] or _LOWER_HEX.fullmatch(response) is None:
            return AuthResult(AuthStatus.FAILED, username, "malformed response", algorithm)
        if request_uri is not None and uri != request_uri and not _same_uri(uri, request_uri,
                                                                           host_only=host_only_uri):
            return AuthResult(AuthStatus.FAILED, username, "uri does not match the Request-URI", algorithm,
                              uri_mismatch=True)
        issued = self._nonce_issued_at(nonce, algorithm)
        if issued is None:
            return AuthResult(AuthStatus.FAILED, username, "nonce was not issued here for this realm and algorithm",
                              algorithm)

        # From here on an unknown user and a wrong password run the same code.
        password = password_lookup(user)
        known = password is not None
        ha1_key = (base, user, password) if password is not None else (base, None, self._dummy_password)
        ha1 = self._ha1.get(ha1_key) or self._ha1_of(*ha1_key)  # known after a user's first request
        expected = _response_from_ha1(base, algorithm != base, ha1, method, uri, nonce, qop, nc_text,
                                      cnonce, b"")
        matches = hmac.compare_digest(expected, response)  # both ASCII (hex): compared as str
        if not (known and matches):
            return AuthResult(AuthStatus.FAILED, username, "wrong password" if known else "unknown user", algorithm)

        heap = self._issue_heap
        if heap and now - heap[0][0] > self.nonce_lifetime:  # (the test of _forget_expired, without a call)
            self._forget_expired(now)
        age = now - issued
        if age > self.nonce_lifetime or age < -self.nonce_lifetime:
            return AuthResult(AuthStatus.STALE, username, f"nonce expired ({age:.1f} s old)", algorithm)
        highest = self._highest_nc.get(nonce)
        if highest is None and issued <= self._dropped_until:
            return AuthResult(AuthStatus.STALE, username, "nonce too old for the replay memory", algorithm)
        if highest is not None and nc <= highest:
            return AuthResult(AuthStatus.STALE, username,
                              f"nonce count {nc:08x} replayed (highest seen {highest:08x})", algorithm)
        if highest is None:
            if len(self._highest_nc) >= self.max_tracked_nonces:
                self._make_room()
            heapq.heappush(heap, (issued, nonce))
        self._highest_nc[nonce] = nc
        # The result of a success depends on the user and the algorithm alone, and is immutable: made once.
        accepted = self._accepted.get((user, algorithm))
        if accepted is None:
            if len(self._accepted) >= 4096:  # users removed by reloads leave entries behind: start afresh
                self._accepted.clear()
            accepted = self._accepted[user, algorithm] = AuthResult(AuthStatus.OK, username, "", algorithm)
        return accepted

    def _ha1_of(self, base: str, username: str | None, password: str) -> str:
        """H(username:realm:password), computed once per user, password and algorithm; ``username`` None is
        the dummy of unknown users (one entry, whatever name they give, so a flood of names cannot grow it)."""
        key = (base, username, password)
        ha1 = self._ha1.get(key)
        if ha1 is None:
            if len(self._ha1) >= 4096:  # passwords changed by reloads leave entries behind: start afresh
                self._ha1.clear()
            ha1 = self._ha1[key] = _hex_digest(base, _utf8(f"{username or ''}:{self.realm}:{password}"))
        return ha1

    # -- replay memory --------------------------------------------------------------------------------

    def _make_room(self) -> None:
        """Drop the oldest entries until a new nonce fits in the replay memory."""
        while len(self._highest_nc) >= self.max_tracked_nonces and self._issue_heap:
            oldest_issued, oldest = heapq.heappop(self._issue_heap)
            del self._highest_nc[oldest]
            if self._dropped_until == float("-inf"):
                log.warning("digest replay memory full (%d nonces): dropping the oldest; older nonces get "
                            "stale=true", self.max_tracked_nonces)
            self._dropped_until = max(self._dropped_until, oldest_issued)

    def _forget_expired(self, now: float) -> None:
        # An entry is needed while its nonce is fresh (age <= nonce_lifetime); after that it is stale anyway.
        while self._issue_heap and now - self._issue_heap[0][0] > self.nonce_lifetime:
            _, nonce = heapq.heappop(self._issue_heap)
            del self._highest_nc[nonce]

    @property
    def tracked_nonces(self) -> int:
        """How many nonces the replay memory holds now."""
        return len(self._highest_nc)


def _same_uri(credentials_uri: str, request_uri: str, *, host_only: bool = False) -> bool:
    """The ``uri`` of the credentials and the Request-URI name the same resource (RFC 3261 §19.1.4); with
    ``host_only`` the Request-URI's scheme, host and port alone (no user, no parameters) do too."""
    if credentials_uri == request_uri:
        return True
    try:
        theirs, target = SipUri.parse(credentials_uri), SipUri.parse(request_uri)
    except SipParseError:
        return False
    if theirs.equivalent(target):
        return True
    return host_only and target.is_sip and theirs.user is None and not theirs.params and not theirs.headers \
        and theirs.equivalent(SipUri(target.scheme, host=target.host, port=target.port))


# -- client side ---------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DigestChallenge:
    """One parsed ``WWW-Authenticate`` / ``Proxy-Authenticate`` Digest challenge (RFC 7616 §3.3).

    ``algorithm`` is in canonical spelling when supported (``md5`` -> ``MD5``), else as received;
    ``qop`` holds the offered qop values lower-cased, empty for an RFC 2069 challenge.
    """

    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False
    userhash: bool = False

    @classmethod
    def parse(cls, header: str) -> DigestChallenge:
        """Parse a challenge value; raises :class:`DigestError` when it is not a usable Digest one."""
        scheme, params = parse_digest_header(header)
        if scheme.lower() != "digest":
            raise DigestError(f"scheme {scheme} is not Digest")
        for required in ("realm", "nonce"):
            if required not in params:
                raise DigestError(f"challenge without {required}")
        algorithm = params.get("algorithm", "MD5")
        qop = tuple(option.strip().lower() for option in params.get("qop", "").split(",") if option.strip())
        return cls(
            realm=params["realm"],
            nonce=params["nonce"],
            algorithm=_CANONICAL.get(algorithm.lower(), algorithm),
            qop=qop,
            opaque=params.get("opaque"),
            stale=params.get("stale", "false").lower() == "true",
            userhash=params.get("userhash", "false").lower() == "true",
        )

    @property
    def supported(self) -> bool:
        """Whether :func:`digest_credentials` can answer this challenge."""
        if self.algorithm not in SUPPORTED_ALGORITHMS:
            return False
        if self.qop:
            return "auth" in self.qop or "auth-int" in self.qop
        return not self.algorithm.endswith("-sess")  # -sess needs a cnonce, which needs qop


def choose_challenge(challenges: Iterable[str]) -> str | None:
    """The first challenge value (in header order) that this module can answer, or None.

    RFC 8760 (UAC behaviour): the UAS lists its preferred algorithm first and the UAC uses the topmost
    one it supports.  Values that are not Digest or do not parse are skipped.
    """
    for header in challenges:
        try:
            if DigestChallenge.parse(header).supported:
                return header
        except DigestError:
            continue
    return None


def digest_credentials(
    challenge_header: str | DigestChallenge,
    *,
    method: str,
    uri: str,
    username: str,
    password: str,
    body: bytes = b"",
    cnonce: str | None = None,
    nc: int = 1,
) -> str:
    """The ``Authorization`` / ``Proxy-Authorization`` value answering a 401/407 challenge.

    ``uri`` is the Request-URI of the request being sent (RFC 3261 §22.4) and ``body`` its body (used
    for qop=auth-int only).  qop=auth is preferred when offered, then auth-int; with no qop the RFC
    2069 form is sent (no cnonce/nc).  ``cnonce`` defaults to 128 random bits; ``nc`` is the count of
    requests already sent with this nonce, starting at 1.  With ``userhash=true`` in the challenge
    the username is sent hashed (RFC 7616 §3.4.4).  Raises :class:`DigestError` when the challenge
    cannot be answered.
    """
    challenge = (
        challenge_header if isinstance(challenge_header, DigestChallenge) else DigestChallenge.parse(challenge_header)
    )
    if challenge.algorithm not in SUPPORTED_ALGORITHMS:
        raise DigestError(f"unsupported algorithm {challenge.algorithm}")
    if not 1 <= nc <= 0xFFFFFFFF:
        raise DigestError("nc must be between 1 and 0xffffffff")
    qop: str | None
    if not challenge.qop:
        qop = None
        if challenge.algorithm.endswith("-sess"):
            raise DigestError(f"{challenge.algorithm} without qop cannot be answered (no cnonce)")
    elif "auth" in challenge.qop:
        qop = "auth"
    elif "auth-int" in challenge.qop:
        qop = "auth-int"
    else:
        raise DigestError(f"no supported qop in {','.join(challenge.qop)}")
    nc_text = f"{nc:08x}" if qop is not None else ""
    if qop is not None and cnonce is None:
        cnonce = secrets.token_hex(16)
    cnonce_text = cnonce if qop is not None and cnonce is not None else ""
    response = digest_response(
        challenge.algorithm, username=username, realm=challenge.realm, password=password, method=method,
        uri=uri, nonce=challenge.nonce, qop=qop, nc=nc_text, cnonce=cnonce_text, body=body,
    )
    shown_username = username
    if challenge.userhash:
        base, _ = _split_algorithm(challenge.algorithm)
        shown_username = _hex_digest(base, _utf8(f"{username}:{challenge.realm}"))
    parts = [
        f"Digest username={_quote(shown_username, 'username')}",
        f"realm={_quote(challenge.realm, 'realm')}",
        f"nonce={_quote(challenge.nonce, 'nonce')}",
        f"uri={_quote(uri, 'uri')}",
        f'response="{response}"',
        f"algorithm={challenge.algorithm}",
    ]
    if qop is not None:
        parts.append(f"cnonce={_quote(cnonce_text, 'cnonce')}")
    if challenge.opaque is not None:
        parts.append(f"opaque={_quote(challenge.opaque, 'opaque')}")
    if qop is not None:
        parts.append(f"qop={qop}")
        parts.append(f"nc={nc_text}")
    if challenge.userhash:
        parts.append("userhash=true")
    return ", ".join(parts)
