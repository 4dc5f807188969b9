"""SIP, SIPS, tel and opaque URIs: parsing, serialisation and RFC 3261 §19.1.4 comparison."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.sip.message import SipParseError, SipUri


@pytest.mark.parametrize(
    ("text", "scheme", "user", "password", "host", "port", "params", "headers"),
    [
        # RFC 3261 §19.1.3 examples
        ("sip:alice@atlanta.com", "sip", "alice", None, "atlanta.com", None, {}, {}),
        ("sip:alice:secretword@atlanta.com;transport=tcp", "sip", "alice", "secretword", "atlanta.com", None,
         {"transport": "tcp"}, {}),
        ("sips:alice@atlanta.com?subject=project%20x&priority=urgent", "sips", "alice", None, "atlanta.com", None,
         {}, {"subject": "project x", "priority": "urgent"}),
        ("sip:+1-212-555-1212:1234@gateway.com;user=phone", "sip", "+1-212-555-1212", "1234", "gateway.com", None,
         {"user": "phone"}, {}),
        ("sips:1212@gateway.com", "sips", "1212", None, "gateway.com", None, {}, {}),
        ("sip:alice@192.0.2.4", "sip", "alice", None, "192.0.2.4", None, {}, {}),
        ("sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com", "sip", None, None, "atlanta.com", None,
         {"method": "REGISTER"}, {"to": "alice@atlanta.com"}),
        ("sip:alice;day=tuesday@atlanta.com", "sip", "alice;day=tuesday", None, "atlanta.com", None, {}, {}),
        # port, lr without value, parameter names lower-cased (RFC 3261 §19.1.4: case-insensitive)
        ("sip:proxy.example.net:5070;LR;Transport=TCP", "sip", None, None, "proxy.example.net", 5070,
         {"lr": None, "transport": "TCP"}, {}),
        # scheme is case-insensitive (RFC 3261 §19.1.4)
        ("SIP:Ana@Example.ORG", "sip", "Ana", None, "Example.ORG", None, {}, {}),
        # RFC 5118 §4.1, §4.3, §4.4: IPv6 references; the port only after ']'
        ("sip:ana@[2001:db8::10]", "sip", "ana", None, "2001:db8::10", None, {}, {}),
        ("sip:[2001:db8::10:5070]", "sip", None, None, "2001:db8::10:5070", None, {}, {}),
        ("sip:[2001:db8::10]:5070", "sip", None, None, "2001:db8::10", 5070, {}, {}),
        # RFC 5118 §4.9: IPv4-mapped IPv6 address
        ("sip:[::ffff:192.0.2.10]:19823", "sip", None, None, "::ffff:192.0.2.10", 19823, {}, {}),
        # RFC 5118 §4.10: two colons before the embedded IPv4 address is right
        ("sip:ana@[2001:db8::192.0.2.1]", "sip", "ana", None, "2001:db8::192.0.2.1", None, {}, {}),
        # RFC 4475 §3.1.1.3 esc01: escapes decoded in user, parameter names and values
        ("sip:be%74o@198.51.100.7;%74r%61nsport=tcp;n%61me=v%61lue%25%34%32", "sip", "beto", None, "198.51.100.7",
         None, {"transport": "tcp", "name": "value%42"}, {}),
        # RFC 4475 §3.1.1.4 escnull: an escaped NUL is a NUL
        ("sip:zero-%00-zero@example.org", "sip", "zero-\x00-zero", None, "example.org", None, {}, {}),
        # RFC 4475 §3.1.1.9 semiuri: ';' in the user part belongs to the user
        ("sip:ana;extra=x%40example.net@example.org", "sip", "ana;extra=x@example.net", None, "example.org", None,
         {}, {}),
        # RFC 3261 §19.1.1: escaped headers (RFC 4475 §3.3.14 regescrt)
        ("sip:ana@198.51.100.7?Route=%3Csip:edge.example.net%3E", "sip", "ana", None, "198.51.100.7", None, {},
         {"Route": "<sip:edge.example.net>"}),
    ],
)  # fmt: skip
def test_parse_sip_uri(
    text: str,
    scheme: str,
    user: str | None,
    password: str | None,
    host: str,
    port: int | None,
    params: dict[str, str | None],
    headers: dict[str, str],
) -> None:
    uri = SipUri.parse(text)
    assert (uri.scheme, uri.user, uri.password, uri.host, uri.port) == (scheme, user, password, host, port)
    assert uri.params == params
    assert list(uri.params) == list(params)
    assert uri.headers == headers


@pytest.mark.parametrize(
    "text",
    [
        "sip:ana@example.org; lr",  # RFC 4475 §3.1.2.8 lwsruri: no LWS inside a URI
        " sip:ana@example.org",  # RFC 4475 §3.1.2.14 badaspec
        "<sip:ana@example.org>",  # RFC 4475 §3.1.2.7 ltgtruri
        "sip:2001:db8::10",  # RFC 5118 §4.2: IPv6 without brackets
        "sip:ana@[2001:db8:::192.0.2.1]",  # RFC 5118 §4.10: three colons
        "sip:ana@[2001:db8::10",  # unclosed IPv6 reference
        "sip:ana@example.org:70000",  # port beyond 65535
        "sip:ana@example.org:",  # colon without port
        "sip:ana@",  # no host
        "sip:",
        "sip:@example.org",  # empty user (RFC 3261 §25.1: user = 1*(...))
        "sip:ana@exa mple.org",
        "sip:an%4@example.org",  # '%' not followed by two hex digits (RFC 3261 §25.1 escaped)
        "sip:an%ZZa@example.org",
        "sip:ana@example.org;=x",  # parameter without a name
        "sip:ana@example.org;a=",  # pvalue = 1*paramchar
        "sip:ana@example.org;;lr",
        "sip:ana@example.org?x",  # header = hname "=" hvalue
        "sip:ana@300.1.2.3.4",  # an all-numeric host is an IPv4address, and this is not one
        "sip:ana@1.2.3",
        "ana@example.org",  # no scheme
        "1sip:ana@example.org",  # scheme starts with a letter (RFC 3986 §3.1)
        "tel:",
        "tel:+1 212",
        "isbn:",
        "mailto:<x>",
    ],
)
def test_malformed_uris_raise(text: str) -> None:
    with pytest.raises(SipParseError):
        SipUri.parse(text)


@pytest.mark.parametrize(
    ("text", "user", "params"),
    [
        # RFC 3966 §3: global and local numbers with parameters
        ("tel:+1-201-555-0123", "+1-201-555-0123", {}),
        ("tel:7042;phone-context=example.com", "7042", {"phone-context": "example.com"}),
        ("tel:863-1234;phone-context=+1-914-555", "863-1234", {"phone-context": "+1-914-555"}),
        ("TEL:*67#;Ext=12", "*67#", {"ext": "12"}),
    ],
)
def test_parse_tel_uri(text: str, user: str, params: dict[str, str | None]) -> None:
    uri = SipUri.parse(text)
    assert (uri.scheme, uri.user, uri.host, uri.params) == ("tel", user, "", params)


@pytest.mark.parametrize(
    ("text", "scheme", "opaque"),
    [
        # RFC 4475 §3.3.2 unkscm, §3.3.3 novelsc, §3.3.4 unksm2: kept opaque, enough to answer 416
        ("whatisthis:opaquestuff-42", "whatisthis", "opaquestuff-42"),
        ("soap.beep://198.51.100.7:3002", "soap.beep", "//198.51.100.7:3002"),
        ("isbn:9780262510875", "isbn", "9780262510875"),
        ("http://www.example.org/a?b=c", "http", "//www.example.org/a?b=c"),
        ("urn:service:sos", "urn", "service:sos"),
    ],
)
def test_unknown_schemes_are_opaque(text: str, scheme: str, opaque: str) -> None:
    uri = SipUri.parse(text)
    assert (uri.scheme, uri.opaque, uri.is_sip) == (scheme, opaque, False)
    assert str(uri) == text


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("sip:ana@example.org", "sip:ana@example.org"),
        ("SIP:ana@example.org:5060;LR;Transport=tcp", "sip:ana@example.org:5060;lr;transport=tcp"),
        ("sip:%61na@example.org", "sip:ana@example.org"),  # unreserved characters need no escape
        ("sip:sips%3Aana%40mesa.example.net@gw.example.org", "sip:sips%3Aana%40mesa.example.net@gw.example.org"),
        ("sip:name%20with%20spaces@example.org", "sip:name%20with%20spaces@example.org"),
        ("sip:zero-%00-zero@example.org", "sip:zero-%00-zero@example.org"),
        ("sip:ana@[2001:DB8::10]:5070", "sip:ana@[2001:DB8::10]:5070"),
        ("sip:ana@example.org;name=v%61lue%25%34%32", "sip:ana@example.org;name=value%2542"),
        ("sips:ana@example.org?subject=project%20x&priority=urgent",
         "sips:ana@example.org?subject=project%20x&priority=urgent"),
        ("sip:+1-212-555-1212:1234@gateway.com;user=phone", "sip:+1-212-555-1212:1234@gateway.com;user=phone"),
        ("tel:+1-201-555-0123;ext=4", "tel:+1-201-555-0123;ext=4"),
    ],
)  # fmt: skip
def test_serialisation_is_canonical(text: str, canonical: str) -> None:
    uri = SipUri.parse(text)
    assert str(uri) == canonical
    assert SipUri.parse(canonical) == uri


# RFC 3261 §19.1.4: "the following URIs are equivalent" / "are not equivalent" (its own examples)
EQUIVALENT = [
    ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
    ("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"),
    ("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
     "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"),
    ("sip:alice@atlanta.com?subject=project%20x&priority=urgent",
     "sip:alice@atlanta.com?priority=urgent&subject=project%20x"),
    # IPv6 hosts compare as addresses (RFC 5118 §4.3: the same address written differently)
    ("sip:ana@[2001:db8::10]", "sip:ana@[2001:DB8:0:0:0:0:0:10]"),
    # RFC 3966 §4: visual separators do not count
    ("tel:+1-201-555-0123", "tel:+12015550123"),
    ("tel:7042;phone-context=example.com", "tel:7042;PHONE-CONTEXT=Example.COM"),
]  # fmt: skip
NOT_EQUIVALENT = [
    ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"),  # different usernames
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),  # can resolve to different ports
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),  # can resolve to different transports
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"),  # different port and transport
    ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"),  # different header component
    ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),  # even though that's what it resolves to
    ("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"),  # present in both, differ
    ("sip:ana@example.org", "sips:ana@example.org"),  # a SIP and a SIPS URI are never equivalent
    ("sip:ana@example.org", "sip:example.org"),  # user in one only
    ("tel:+1-201-555-0123", "tel:+1-201-555-0123;ext=1"),  # RFC 3966 §4: parameter in one only
    ("isbn:123", "isbn:124"),
]  # fmt: skip


@pytest.mark.parametrize(("left", "right"), EQUIVALENT)
def test_equivalent_uris(left: str, right: str) -> None:
    a, b = SipUri.parse(left), SipUri.parse(right)
    assert a.equivalent(b)
    assert b.equivalent(a)


@pytest.mark.parametrize(("left", "right"), NOT_EQUIVALENT)
def test_not_equivalent_uris(left: str, right: str) -> None:
    a, b = SipUri.parse(left), SipUri.parse(right)
    assert not a.equivalent(b)
    assert not b.equivalent(a)


def test_building_a_uri_escapes_what_must_be_escaped() -> None:
    uri = SipUri("sip", "a b@c", "p:w", "example.org", 5061, {"x y": "1;2", "lr": None}, {"Subject": "hi there"})
    text = str(uri)
    assert text == "sip:a%20b%40c:p%3Aw@example.org:5061;x%20y=1%3B2;lr?Subject=hi%20there"
    assert SipUri.parse(text) == SipUri(
        "sip", "a b@c", "p:w", "example.org", 5061, {"x y": "1;2", "lr": None}, {"Subject": "hi there"}
    )


def test_ipv6_host_is_bracketed_on_output() -> None:
    uri = SipUri("sip", "ana", host="2001:db8::1", port=5060)
    assert str(uri) == "sip:ana@[2001:db8::1]:5060"


_user_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x2FF), min_size=1, max_size=12)
_name = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-.", min_size=1, max_size=8)


@settings(max_examples=150, deadline=None)
@given(
    user=st.none() | _user_text,
    host=st.sampled_from(["example.org", "192.0.2.1", "2001:db8::5", "a-b.example.net"]),
    port=st.none() | st.integers(min_value=0, max_value=65535),
    params=st.dictionaries(_name, st.none() | _user_text, max_size=3),
)
def test_serialise_then_parse_gives_the_same_uri(
    user: str | None, host: str, port: int | None, params: dict[str, str | None]
) -> None:
    uri = SipUri("sip", user, None, host, port, params)
    again = SipUri.parse(str(uri))
    assert again == uri
    assert again.equivalent(uri)
