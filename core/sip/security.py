"""Who may talk to the SIP stack: Asterisk-style ACLs, per-source rate limiting, a ban list.

All three are sans-IO: addresses come in as text, time as ``now`` (monotonic seconds).

* :class:`Acl` reproduces Asterisk's host access rules (``permit=`` / ``deny=`` in ``pjsip.conf``
  ``[acl]`` sections, ``sip.conf``, ``manager.conf``): rules are built as ``ast_append_ha`` builds them
  and applied as ``ast_apply_ha`` applies them (``main/acl.c``): start from "allow", every matching rule
  sets the answer, so the last matching rule wins.
* :class:`RateLimiter` is a token bucket per source, with idle sources forgotten.
* :class:`BanList` bans a source for ``ban_time`` seconds after ``max_failures`` failed authentications
  within ``window`` seconds, fail2ban style, and lists its state for the console.
"""

from __future__ import annotations

import enum
import heapq
import ipaddress
import logging
import socket
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass

log = logging.getLogger("centralita.sip")

__all__ = ["Acl", "AclError", "AclRule", "AclSense", "BanEntry", "BanList", "RateLimiter"]

_V4_MAPPED_PREFIX = 0xFFFF << 32
_V4_MAPPED_MASK = ((1 << 96) - 1) << 32
_INT_MIN, _INT_MAX = -(1 << 31), (1 << 31) - 1
_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1


class AclError(ValueError):
    """A ``permit``/``deny`` value Asterisk would refuse.

    ``index`` is the position of the rule in the list given to :class:`Acl` (0-based; the line number
    for :meth:`Acl.from_lines`, 1-based), ``entry`` the offending comma-separated item.
    """

    def __init__(self, index: int, entry: str, reason: str) -> None:
        super().__init__(f"rule {index}: {entry!r}: {reason}")
        self.index = index
        self.entry = entry
        self.reason = reason


class AclSense(enum.Enum):
    """What a matching rule says (``AST_SENSE_ALLOW`` / ``AST_SENSE_DENY``)."""

    PERMIT = "permit"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class AclRule:
    """One ``ast_ha`` entry: ``network`` is already masked, as ``ast_append_ha`` stores it.

    ``version`` is 4 or 6; both numbers are the address bits as integers.  ``str()`` gives the
    ``ast_ha_join_cidr`` form with the sense in front, e.g. ``deny 10.0.0.0/8``.
    """

    sense: AclSense
    version: int
    network: int
    netmask: int

    def matches(self, version: int, address: int) -> bool:
        """Whether an address (already mapped to IPv4 when it is ``::ffff:a.b.c.d``) is in the network."""
        return version == self.version and address & self.netmask == self.network

    def __str__(self) -> str:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address
        if self.version == 4:
            address = ipaddress.IPv4Address(self.network)
        else:
            address = ipaddress.IPv6Address(self.network)
        # ast_sockaddr_cidr_bits counts the set bits, so a non-contiguous mask shows its bit count.
        return f"{self.sense.value} {address}/{bin(self.netmask).count('1')}"


# -- address parsing as ast_sockaddr_parse(..., PARSE_PORT_FORBID) does it --------------------------------

def _split_host(text: str) -> str | None:
    """``ast_sockaddr_split_hostport`` with ``PARSE_PORT_FORBID``: the host part, or None (port given)."""
    if text.startswith("["):
        end = text.find("]", 1)
        if end < 0:
            return text[1:]
        if text[end + 1 : end + 2] == ":":
            return None
        return text[1:end]  # netsock2.c ignores whatever follows "]" when it is not ":port"
    if text.count(":") == 1:
        return None  # exactly one colon is host:port
    return text


def _parse_numeric_address(text: str) -> tuple[int, int] | None:
    """(version, integer) of a numeric address as glibc ``getaddrinfo(AI_NUMERICHOST)`` reads it.

    Asterisk parses ``permit``/``deny`` addresses with getaddrinfo, so the shorthand IPv4 forms of
    ``inet_aton`` (``10.1``, ``010.0.0.1`` octal, ``0x0a.0.0.1``) are accepted exactly as there, and
    blanks are not.  No name is ever resolved (``AI_NUMERICHOST``).
    """
    host = _split_host(text)
    if host is None or "\x00" in host:
        return None
    try:
        infos = socket.getaddrinfo(host, None, socket.AF_UNSPEC, socket.SOCK_DGRAM, 0, socket.AI_NUMERICHOST)
    except (OSError, UnicodeError, ValueError):
        return None
    family, _, _, _, sockaddr = infos[0]
    literal = str(sockaddr[0]).split("%", 1)[0]
    if family == socket.AF_INET:
        return 4, int(ipaddress.IPv4Address(literal))
    if family == socket.AF_INET6:
        return 6, int(ipaddress.IPv6Address(literal))
    return None


def _unmap(version: int, value: int) -> tuple[int, int]:
    # ast_sockaddr_ipv4_mapped: ::ffff:a.b.c.d becomes the IPv4 address a.b.c.d.
    if version == 6 and value & _V4_MAPPED_MASK == _V4_MAPPED_PREFIX:
        return 4, value & 0xFFFFFFFF
    return version, value


def _scanf_int(text: str) -> int | None:
    """``sscanf(text, "%30d", &int)`` as glibc does it: blanks, sign, digits, rest ignored, int wrap."""
    pos = 0
    while pos < len(text) and text[pos] in " \t\n\v\f\r":
        pos += 1
    field = text[pos : pos + 30]
    sign = 1
    if field[:1] in ("+", "-"):
        sign = -1 if field[0] == "-" else 1
        field = field[1:]
    digits = ""
    for char in field:
        if not "0" <= char <= "9":
            break
        digits += char
    if not digits:
        return None
    value = max(_LONG_MIN, min(_LONG_MAX, sign * int(digits)))  # strtol saturates ...
    value &= 0xFFFFFFFF  # ... and the store into an int keeps the low 32 bits
    return value - (1 << 32) if value > _INT_MAX else value


def _cidr_mask(version: int, text: str) -> int | None:
    # parse_cidr_mask: 0..32 for IPv4, 0..128 for IPv6.
    bits = _scanf_int(text)
    width = 32 if version == 4 else 128
    if bits is None or not 0 <= bits <= width:
        return None
    return ((1 << width) - 1) ^ ((1 << (width - bits)) - 1)


def _parse_item(sense: AclSense, item: str) -> AclRule | str:
    """One comma-separated item of a permit/deny value: the rule, or why ``ast_append_ha`` refuses it."""
    address_text, slash, mask_text = item.partition("/")
    rule_sense = sense
    if address_text.startswith("!"):
        rule_sense = AclSense.DENY if sense is AclSense.PERMIT else AclSense.PERMIT
        address_text = address_text[1:]
    parsed = _parse_numeric_address(address_text)
    if parsed is None:
        return f"invalid IP address {address_text!r}"
    version, network = _unmap(*parsed)
    netmask: int | None
    if not slash:
        netmask = (1 << (32 if version == 4 else 128)) - 1  # a single host
    elif ":" in mask_text or "." in mask_text:
        parsed_mask = _parse_numeric_address(mask_text)
        if parsed_mask is None:
            return f"invalid netmask {mask_text!r}"
        mask_version, netmask = _unmap(*parsed_mask)
        if mask_version != version:
            return "address and mask are not using the same address scheme"
    else:
        netmask = _cidr_mask(version, mask_text)
        if netmask is None:
            return f"invalid CIDR netmask {mask_text!r}"
    return AclRule(rule_sense, version, network & netmask, netmask)


class Acl:
    """Host access rules evaluated the way Asterisk's ``ast_apply_ha`` does (``main/acl.c``).

    ``rules`` are ``(sense, value)`` pairs in configuration order, e.g.
    ``[("deny", "0.0.0.0/0.0.0.0"), ("permit", "192.168.1.0/24,!192.168.1.13")]``.  As in
    ``ast_append_ha``: a sense starting with ``p``/``P`` permits and anything else denies; a value is a
    comma-separated list of ``address[/mask]`` items, the mask a CIDR length or an address-form mask
    (non-contiguous masks work bit by bit); no mask means a single host; ``!`` in front of an item
    inverts its sense; the stored network is the address with the mask applied; an IPv4-mapped IPv6
    address or mask becomes IPv4; a CIDR length is read like ``sscanf("%d")`` (text after the number is
    ignored).  An address with a port, a host name, a blank next to an address (``10.0.0.0/8,
    192.168.0.0/16`` fails on the second item), or an IPv4 address with an IPv6 mask is an error
    (:class:`AclError`), where Asterisk logs a warning and refuses the configuration.

    Evaluation (``ast_apply_ha``): the answer starts as "allow" and every rule that matches sets it,
    so the last matching rule wins and an empty ACL allows everything.  IPv4 rules also match
    IPv4-mapped IPv6 sources; IPv6 rules never match IPv4 or IPv4-mapped sources.
    """

    def __init__(self, rules: Iterable[tuple[str, str]] = ()) -> None:
        parsed: list[AclRule] = []
        for index, (sense_text, value) in enumerate(rules):
            sense = AclSense.PERMIT if sense_text[:1].lower() == "p" else AclSense.DENY
            for item in value.split(","):
                rule = _parse_item(sense, item)
                if isinstance(rule, str):
                    raise AclError(index, item, rule)
                parsed.append(rule)
        self.rules: tuple[AclRule, ...] = tuple(parsed)

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> Acl:
        """Build from ``permit=...`` / ``deny=...`` lines (blanks around ``=`` and the value are
        stripped, as Asterisk's config parser does); blank lines and ``;`` comments are skipped.
        ``AclError.index`` is then the 1-based line number."""
        rules: list[tuple[int, str, str]] = []
        for number, line in enumerate(lines, start=1):
            text = line.split(";", 1)[0].strip()
            if not text:
                continue
            name, equals, value = text.partition("=")
            name = name.strip().lower()
            if not equals or name not in ("permit", "deny"):
                raise AclError(number, text, "expected permit=... or deny=...")
            rules.append((number, name, value.strip().lstrip(">").strip()))
        acl = cls()
        built: list[AclRule] = []
        for number, name, value in rules:
            try:
                built.extend(cls([(name, value)]).rules)
            except AclError as exc:
                raise AclError(number, exc.entry, exc.reason) from None
        acl.rules = tuple(built)
        return acl

    def allows(self, address: str) -> bool:
        """Whether a source address (``192.0.2.1``, ``2001:db8::1``, ``[2001:db8::1]``, ``::ffff:...``)
        passes: ``ast_apply_ha(...) == AST_SENSE_ALLOW``.  Raises ValueError for a malformed address."""
        text = address.strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        parsed = ipaddress.ip_address(text.split("%", 1)[0])
        version, value = _unmap(parsed.version, int(parsed))
        allowed = True
        for rule in self.rules:
            if rule.matches(version, value):
                allowed = rule.sense is AclSense.PERMIT
        return allowed

    def __len__(self) -> int:
        return len(self.rules)

    def __repr__(self) -> str:
        return f"Acl({', '.join(str(rule) for rule in self.rules)})"


# -- rate limiting -------------------------------------------------------------------------------------

class RateLimiter:
    """A token bucket per source: ``burst`` requests at once, then ``rate`` per second on average.

    Memory is bounded: a source idle long enough for its bucket to be full again is forgotten (it
    would start full anyway, so nothing changes), and at most ``max_sources`` are kept, the least
    recently seen being dropped first (a dropped source simply starts with a full bucket again).
    """

    def __init__(self, rate: float, burst: int, *, max_sources: int = 65536) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        if max_sources < 1:
            raise ValueError("max_sources must be at least 1")
        self.rate = float(rate)
        self.burst = burst
        self.max_sources = max_sources
        self._refill_time = burst / self.rate  # seconds from empty to full
        # source -> (tokens, time of last update); ordered from least to most recently seen.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, source: str, now: float) -> bool:
        """Take one token from ``source``'s bucket: True if the request may proceed."""
        buckets = self._buckets
        if buckets and now - buckets[next(iter(buckets))][1] >= self._refill_time:
            self._forget_idle(now)  # the least recently seen source is idle: forget it and any others
        state = buckets.get(source)
        full = float(self.burst)
        if state is None:
            tokens = full
        else:
            # min() and max() spelled as comparisons: this runs for every request.
            elapsed = now - state[1]
            tokens = state[0] + elapsed * self.rate if elapsed > 0.0 else state[0]
            if tokens > full:
                tokens = full
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        buckets[source] = (tokens, now)
        if state is not None:
            buckets.move_to_end(source)  # a new key is already last
        else:
            while len(buckets) > self.max_sources:
                buckets.popitem(last=False)
        return allowed

    def retry_after(self, source: str, now: float) -> float:
        """Seconds until ``source`` may send again (0 when it may now), e.g. for a 503 Retry-After."""
        return max(0.0, (1.0 - self._tokens(source, now)) / self.rate)

    def _tokens(self, source: str, now: float) -> float:
        state = self._buckets.get(source)
        if state is None:
            return float(self.burst)
        tokens, last = state
        return min(float(self.burst), tokens + max(0.0, now - last) * self.rate)

    def _forget_idle(self, now: float) -> None:
        buckets = self._buckets
        while buckets:
            source = next(iter(buckets))
            if now - buckets[source][1] < self._refill_time:
                break
            del buckets[source]

    def __len__(self) -> int:
        """How many sources are remembered."""
        return len(self._buckets)


# -- ban list ------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class BanEntry:
    """One source in :meth:`BanList.entries`: failures still inside the window, and when the ban
    ends (``banned_until``, same clock as ``now``; None when not banned) with the seconds left."""

    source: str
    failures: int
    banned_until: float | None
    remaining: float

    def __str__(self) -> str:
        if self.banned_until is None:
            return f"{self.source}: {self.failures} failure(s)"
        return f"{self.source}: banned for {self.remaining:.0f} s more"


class BanList:
    """Ban a source for ``ban_time`` seconds after ``max_failures`` failed authentications within
    ``window`` seconds (a sliding window), as fail2ban does with Asterisk's security log.

    A success clears the source's failures (not a ban: a banned source's requests are dropped before
    they are authenticated).  Failures recorded while banned do not extend the ban.  At most
    ``max_sources`` sources are tracked; when full, the one whose last failure is oldest is dropped
    (bans are kept before failure counts).
    """

    def __init__(self, max_failures: int, window: float, ban_time: float, *, max_sources: int = 65536) -> None:
        if max_failures < 1:
            raise ValueError("max_failures must be at least 1")
        if window <= 0 or ban_time <= 0:
            raise ValueError("window and ban_time must be positive")
        self.max_failures = max_failures
        self.window = float(window)
        self.ban_time = float(ban_time)
        self.max_sources = max_sources
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()  # by time of last failure
        self._bans: dict[str, float] = {}  # source -> end of ban
        self._ban_heap: list[tuple[float, str]] = []  # (end of ban, source), to expire bans in order

    def record_failure(self, source: str, now: float) -> bool:
        """Count a failed authentication; True when ``source`` is banned afterwards."""
        self._expire(now)
        if self.is_banned(source, now):
            return True
        times = self._failures.pop(source, None)
        if times is None:
            times = deque(maxlen=self.max_failures)
        times.append(now)
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.max_failures:
            until = now + self.ban_time
            self._bans[source] = until
            heapq.heappush(self._ban_heap, (until, source))
            log.warning("%s banned for %.0f s after %d failed authentications in %.0f s",
                        source, self.ban_time, len(times), self.window)
            return True
        self._failures[source] = times
        while len(self._failures) + len(self._bans) > self.max_sources and self._failures:
            self._failures.popitem(last=False)
        return False

    def record_success(self, source: str) -> None:
        """Forget the failures of ``source`` (it authenticated)."""
        self._failures.pop(source, None)

    def is_banned(self, source: str, now: float) -> bool:
        """Whether requests from ``source`` must be dropped now."""
        until = self._bans.get(source)
        if until is None:
            return False
        if until <= now:
            del self._bans[source]
            return False
        return True

    def unban(self, source: str) -> bool:
        """Lift a ban and forget the failures (console command); True if there was anything."""
        banned = self._bans.pop(source, None) is not None
        counted = self._failures.pop(source, None) is not None
        return banned or counted

    def entries(self, now: float) -> list[BanEntry]:
        """Banned sources (longest ban left first), then sources with failures (most first)."""
        self._expire(now)
        banned = [BanEntry(source, 0, until, until - now) for source, until in self._bans.items() if until > now]
        banned.sort(key=lambda entry: (-entry.remaining, entry.source))
        counting = []
        for source, times in self._failures.items():
            recent = sum(1 for when in times if when > now - self.window)
            if recent:
                counting.append(BanEntry(source, recent, None, 0.0))
        counting.sort(key=lambda entry: (-entry.failures, entry.source))
        return banned + counting

    def _expire(self, now: float) -> None:
        # Amortised O(1): only the oldest ban and the least recently failing sources are looked at.
        while self._ban_heap and self._ban_heap[0][0] <= now:
            until, source = heapq.heappop(self._ban_heap)
            if self._bans.get(source) == until:
                del self._bans[source]
        while self._failures:
            source, times = next(iter(self._failures.items()))
            if times and times[-1] > now - self.window:
                break
            del self._failures[source]
