"""ACLs (Asterisk's ``main/acl.c``), per-source rate limiting and the ban list, with a fake clock."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.sip.security import Acl, AclError, AclSense, BanList, RateLimiter

# -- Acl: the tables of Asterisk's own unit test, tests/test_acl.c (AST_TEST_DEFINE(acl)) ----------------

ASTERISK_TEST_ACLS: dict[str, list[tuple[str, str]]] = {
    "permitallv4": [("permit", "0.0.0.0/0")],
    "denyallv4": [("deny", "0.0.0.0/0")],
    "permitallv6": [("permit", "::/0")],
    "denyallv6": [("deny", "::/0")],
    "acl1": [("deny", "0.0.0.0/0.0.0.0"), ("permit", "10.0.0.0/255.0.0.0"), ("permit", "192.168.0.0/255.255.255.0")],
    "acl2": [("deny", "10.0.0.0/8"), ("permit", "10.0.0.0/8"), ("deny", "10.0.0.0/16"), ("permit", "10.0.0.0/24")],
    "acl3": [("deny", "::/0"), ("permit", "fe80::/64")],
    "acl4": [("deny", "::/0"), ("permit", "fe80::/64"), ("deny", "fe80::ffff:0:0:0/80"),
             ("permit", "fe80::ffff:0:ffff:0/112")],
    "acl5": [("deny", "0.0.0.0/0.0.0.0"), ("permit", "10.0.0.0/255.0.0.0,192.168.0.0/255.255.255.0")],
    "acl6": [("deny", "10.0.0.0/8"), ("permit", "10.0.0.0/8"), ("deny", "10.0.0.0/16,!10.0.0.0/24")],
    "acl7": [("deny", "::/0,!fe80::/64"), ("deny", "fe80::ffff:0:0:0/80"), ("permit", "fe80::ffff:0:ffff:0/112")],
}
_ORDER = ["permitallv4", "denyallv4", "permitallv6", "denyallv6", "acl1", "acl2", "acl3", "acl4", "acl5", "acl6",
          "acl7"]
A, D = True, False
# acl_tests[] of tests/test_acl.c: address, then the expected result for each ACL above in _ORDER.
ASTERISK_TEST_RESULTS = [
    ("10.1.1.5", [A, D, A, A, A, A, A, A, A, A, A]),
    ("192.168.0.5", [A, D, A, A, A, A, A, A, A, A, A]),
    ("192.168.1.5", [A, D, A, A, D, A, A, A, D, A, A]),
    ("10.0.0.1", [A, D, A, A, A, A, A, A, A, A, A]),
    ("10.0.10.10", [A, D, A, A, A, D, A, A, A, D, A]),
    ("172.16.0.1", [A, D, A, A, D, A, A, A, D, A, A]),
    ("fe80::1234", [A, A, A, D, A, A, A, A, A, A, A]),
    ("fe80::ffff:1213:dead:beef", [A, A, A, D, A, A, A, D, A, A, D]),
    ("fe80::ffff:0:ffff:ABCD", [A, A, A, D, A, A, A, A, A, A, A]),
]


@pytest.mark.parametrize(
    ("name", "address", "expected"),
    [(name, address, results[_ORDER.index(name)]) for address, results in ASTERISK_TEST_RESULTS for name in _ORDER],
    ids=lambda value: str(value),
)
def test_asterisk_unit_test_table(name: str, address: str, expected: bool) -> None:
    # Expected values: asterisk/asterisk tests/test_acl.c, AST_TEST_DEFINE(acl).
    assert Acl(ASTERISK_TEST_ACLS[name]).allows(address) is expected


@pytest.mark.parametrize(
    "value",
    [
        # invalid_acls[] of tests/test_acl.c, AST_TEST_DEFINE(invalid_acl): every one is refused.
        "1.3.3.7/-1", "1.3.3.7/33", "1.3.3.7/92342348927389492307420", "1.3.3.7/California",
        "1.3.3.7/255.255.255.255.255", "57.60.278.900/31", "400.32.201029.-6/24", "EGGSOFDEATH/4000",
        "33.4.7.8.3/300030", "1.2.3.4/6.7.8.9.0", "3.1.4.1.5.9/3", "ff::ff::ff/3",
        "1234:5678:90ab:cdef:1234:5678:90ab:cdef:1234/56", "::ffff/129", "::ffff:255.255.255/128", ":1234:/15",
        "fe80::1234/255.255.255.0",
        # ast_sockaddr_parse(..., PARSE_PORT_FORBID) refuses a port; getaddrinfo(AI_NUMERICHOST) a name or blank.
        "10.0.0.1:5060", "[2001:db8::1]:5060", "pbx.example.com", " 10.0.0.0/8", "",
        # ast_append_ha: an IPv4 address with an IPv6 mask is "not using same address scheme".
        "10.0.0.0/ffff:ff00::",
    ],
)
def test_values_asterisk_refuses(value: str) -> None:
    with pytest.raises(AclError) as info:
        Acl([("permit", value)])
    assert info.value.index == 0


def test_error_names_the_rule_and_item() -> None:
    with pytest.raises(AclError) as info:
        Acl([("deny", "0.0.0.0/0"), ("permit", "10.0.0.0/8,192.168.0.0/99")])
    assert (info.value.index, info.value.entry) == (1, "192.168.0.0/99")
    assert "CIDR" in info.value.reason


def test_from_lines_reports_the_line_number() -> None:
    lines = ["; trusted networks", "deny = 0.0.0.0/0.0.0.0", "", "permit = 192.168.1.0/24", "permit=10.0.0.0/40"]
    with pytest.raises(AclError) as info:
        Acl.from_lines(lines)
    assert info.value.index == 5
    acl = Acl.from_lines(lines[:4])
    assert [str(rule) for rule in acl.rules] == ["deny 0.0.0.0/0", "permit 192.168.1.0/24"]
    assert acl.allows("192.168.1.20") and not acl.allows("192.168.2.20")


@pytest.mark.parametrize(
    ("rules", "address", "expected"),
    [
        # ast_apply_ha starts optimistic: an empty ACL permits everything.
        ([], "203.0.113.9", True),
        # The last matching rule wins, whatever the order of specificity.
        ([("permit", "192.168.1.0/24"), ("deny", "0.0.0.0/0")], "192.168.1.5", False),
        ([("deny", "0.0.0.0/0"), ("permit", "192.168.1.0/24")], "192.168.1.5", True),
        # "!" inverts one item's sense (ast_append_ha).
        ([("deny", "0.0.0.0/0"), ("permit", "192.168.1.0/24,!192.168.1.13")], "192.168.1.13", False),
        ([("deny", "0.0.0.0/0"), ("permit", "192.168.1.0/24,!192.168.1.13")], "192.168.1.14", True),
        # No mask = a single host (parse_cidr_mask(..., "32")).
        ([("deny", "192.168.1.13")], "192.168.1.13", False),
        ([("deny", "192.168.1.13")], "192.168.1.12", True),
        # Host bits of the address are masked off when the rule is stored (ast_sockaddr_apply_netmask).
        ([("deny", "0.0.0.0/0"), ("permit", "192.168.1.77/24")], "192.168.1.200", True),
        # Address-form masks are applied bit by bit, so a non-contiguous mask works.
        ([("deny", "10.0.0.0/255.0.255.0")], "10.77.0.99", False),
        ([("deny", "10.0.0.0/255.0.255.0")], "10.77.1.99", True),
        # IPv4 rules match IPv4-mapped IPv6 sources (ast_apply_ha: "IPv4 ACLs apply to IPv4-mapped addresses").
        ([("deny", "0.0.0.0/0"), ("permit", "10.0.0.0/8")], "::ffff:10.1.2.3", True),
        ([("deny", "10.0.0.0/8")], "::ffff:10.1.2.3", False),
        # IPv6 rules never match IPv4 or IPv4-mapped sources; IPv4 rules never match IPv6 ones.
        ([("deny", "::/0")], "::ffff:10.1.2.3", True),
        ([("deny", "::/0")], "10.1.2.3", True),
        ([("deny", "0.0.0.0/0")], "2001:db8::1", True),
        # An IPv4-mapped rule address (and mask) is converted to an IPv4 rule.
        ([("deny", "::ffff:10.0.0.0/::ffff:255.0.0.0")], "10.9.9.9", False),
        # Addresses are read by getaddrinfo(AI_NUMERICHOST), which accepts inet_aton's shorthand forms.
        ([("deny", "10.1")], "10.0.0.1", False),
        ([("deny", "012.0.0.1")], "10.0.0.1", False),
        # A CIDR length is read with sscanf("%30d"): trailing text after the number is ignored.
        ([("deny", "10.0.0.0/8 ")], "10.2.3.4", False),
        # Any sense starting with "p" permits, anything else denies (strncasecmp(sense, "p", 1)).
        ([("deny", "0.0.0.0/0"), ("Permit", "10.0.0.0/8")], "10.2.3.4", True),
        # Bracketed IPv6 rules and sources.
        ([("deny", "[2001:db8::]/32")], "[2001:db8::5]", False),
    ],
)
def test_apply_ha_semantics(rules: list[tuple[str, str]], address: str, expected: bool) -> None:
    # Source: asterisk/asterisk main/acl.c ast_append_ha() / ast_apply_ha(), main/netsock2.c.
    assert Acl(rules).allows(address) is expected


def test_rules_are_listed_as_asterisk_shows_them() -> None:
    acl = Acl([("deny", "0.0.0.0/0.0.0.0"), ("permit", "192.168.1.77/255.255.255.0,!192.168.1.13")])
    assert [str(rule) for rule in acl.rules] == ["deny 0.0.0.0/0", "permit 192.168.1.0/24", "deny 192.168.1.13/32"]
    assert [rule.sense for rule in acl.rules] == [AclSense.DENY, AclSense.PERMIT, AclSense.DENY]


def test_malformed_source_address_is_an_error() -> None:
    with pytest.raises(ValueError):
        Acl().allows("not-an-address")


_v4_networks = st.builds(
    lambda address, bits: ipaddress.ip_network((address, bits), strict=False),
    st.integers(0, 2**32 - 1), st.integers(0, 32),
)
_v6_networks = st.builds(
    lambda address, bits: ipaddress.ip_network((address, bits), strict=False),
    st.integers(0, 2**128 - 1), st.integers(0, 128),
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["permit", "deny"]), st.one_of(_v4_networks, _v6_networks)), max_size=6),
    st.one_of(st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address),
              st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address)),
)
def test_last_matching_rule_wins_model(
    rules: list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network]],
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    # Model of ast_apply_ha with CIDR rules: start allowed, each matching rule decides, mapped -> IPv4.
    probe: ipaddress.IPv4Address | ipaddress.IPv6Address = address
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        probe = address.ipv4_mapped
    expected = True
    for sense, network in rules:
        if probe.version == network.version and probe in network:
            expected = sense == "permit"
    assert Acl([(sense, str(network)) for sense, network in rules]).allows(str(address)) is expected


# -- RateLimiter ---------------------------------------------------------------------------------------

def test_burst_then_steady_rate() -> None:
    limiter = RateLimiter(rate=2.0, burst=3)
    assert [limiter.allow("192.0.2.1", 0.0) for _ in range(4)] == [True, True, True, False]
    assert limiter.retry_after("192.0.2.1", 0.0) == pytest.approx(0.5)
    assert not limiter.allow("192.0.2.1", 0.25)  # half a token only
    assert limiter.allow("192.0.2.1", 0.5)
    assert not limiter.allow("192.0.2.1", 0.5)
    # Sources are independent.
    assert limiter.allow("192.0.2.2", 0.5)


def test_bucket_never_exceeds_burst() -> None:
    limiter = RateLimiter(rate=10.0, burst=2)
    assert limiter.allow("a", 0.0)
    # After an hour idle the bucket holds `burst` tokens, not 36 000.
    assert [limiter.allow("a", 3600.0) for _ in range(3)] == [True, True, False]


def test_idle_sources_are_forgotten() -> None:
    limiter = RateLimiter(rate=1.0, burst=5)
    for number in range(100):
        limiter.allow(f"10.0.0.{number}", float(number) * 0.01)
    assert len(limiter) == 100
    limiter.allow("10.0.1.1", 10.0)  # everyone else refilled long ago
    assert len(limiter) == 1


def test_memory_is_capped() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, max_sources=10)
    for number in range(50):
        limiter.allow(f"source-{number}", 0.0)
    assert len(limiter) == 10
    assert not limiter.allow("source-49", 0.0)  # the most recent ones are the ones kept


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0.0, 5.0), min_size=1, max_size=60))
def test_never_more_than_burst_plus_rate_times_elapsed(gaps: list[float]) -> None:
    limiter = RateLimiter(rate=3.0, burst=4)
    now = 0.0
    allowed = 0
    for gap in gaps:
        now += gap
        allowed += limiter.allow("x", now)
    assert allowed <= 4 + 3.0 * now + 1e-9


# -- BanList -------------------------------------------------------------------------------------------

def test_ban_after_n_failures_in_window() -> None:
    bans = BanList(max_failures=3, window=60.0, ban_time=600.0)
    assert not bans.record_failure("198.51.100.7", 0.0)
    assert not bans.record_failure("198.51.100.7", 10.0)
    assert not bans.is_banned("198.51.100.7", 10.0)
    assert bans.record_failure("198.51.100.7", 20.0)
    assert bans.is_banned("198.51.100.7", 20.0)
    assert bans.is_banned("198.51.100.7", 619.9)
    assert not bans.is_banned("198.51.100.7", 620.0)
    assert not bans.is_banned("198.51.100.8", 20.0)


def test_failures_outside_the_window_do_not_count() -> None:
    bans = BanList(max_failures=3, window=60.0, ban_time=600.0)
    bans.record_failure("a", 0.0)
    bans.record_failure("a", 30.0)
    assert not bans.record_failure("a", 61.0)  # the first one has left the window
    assert bans.record_failure("a", 62.0)


def test_success_clears_failures() -> None:
    bans = BanList(max_failures=2, window=60.0, ban_time=600.0)
    bans.record_failure("a", 0.0)
    bans.record_success("a")
    assert not bans.record_failure("a", 1.0)
    assert bans.record_failure("a", 2.0)


def test_failures_while_banned_do_not_extend_the_ban() -> None:
    bans = BanList(max_failures=1, window=60.0, ban_time=100.0)
    assert bans.record_failure("a", 0.0)
    assert bans.record_failure("a", 50.0)
    assert not bans.is_banned("a", 100.0)


def test_entries_for_the_console() -> None:
    bans = BanList(max_failures=3, window=60.0, ban_time=600.0)
    for when in (0.0, 1.0, 2.0):
        bans.record_failure("203.0.113.5", when)
    bans.record_failure("203.0.113.6", 3.0)
    bans.record_failure("203.0.113.7", 4.0)
    bans.record_failure("203.0.113.7", 5.0)
    assert [str(entry) for entry in bans.entries(10.0)] == [
        "203.0.113.5: banned for 592 s more", "203.0.113.7: 2 failure(s)", "203.0.113.6: 1 failure(s)",
    ]
    # At 64 s the failures of .6 (at 3 s) have left the 60 s window; one of .7's is still in it.
    entries = bans.entries(64.5)
    assert [(entry.source, entry.failures, entry.banned_until) for entry in entries] == [
        ("203.0.113.5", 0, 602.0), ("203.0.113.7", 1, None),
    ]
    assert bans.entries(700.0) == []


def test_unban() -> None:
    bans = BanList(max_failures=1, window=60.0, ban_time=600.0)
    bans.record_failure("a", 0.0)
    assert bans.unban("a")
    assert not bans.is_banned("a", 1.0)
    assert not bans.unban("a")


def test_ban_memory_is_bounded() -> None:
    bans = BanList(max_failures=5, window=60.0, ban_time=600.0, max_sources=100)
    for number in range(1000):
        bans.record_failure(f"10.0.{number // 256}.{number % 256}", float(number) * 0.001)
    assert len(bans.entries(1.0)) == 100
