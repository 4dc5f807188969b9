"""Parsing SIP messages: RFC 3261 §7 grammar, the valid messages of RFC 4475 §3.1.1, RFC 5118, SIPp captures.

Each RFC case is a message of our own writing (tests/sip/messages/) that exercises the rule the
case is about; the test id names the case.
"""

from __future__ import annotations

import pytest

from core.sip.message import (
    SipParseError,
    SipRequest,
    SipResponse,
    SipUri,
    Via,
    body_part,
    check_request,
    parse_message,
    quote,
    split_list,
    unquote,
)
from tests.sip.messages import load, names


def request(name: str) -> SipRequest:
    message = parse_message(load(name))
    assert isinstance(message, SipRequest)
    return message


def response(name: str) -> SipResponse:
    message = parse_message(load(name))
    assert isinstance(message, SipResponse)
    return message


# -- RFC 4475 §3.1.1: valid messages that must be accepted -----------------------------------------


def test_rfc4475_wsinv_short_tortuous_invite() -> None:
    """§3.1.1.1: folding, odd whitespace, compact and mixed-case names, escaped quotes, empty values."""
    m = request("rfc4475/wsinv.sip")
    assert m.method == "INVITE"
    assert m.uri == SipUri("sip", "ana", None, "mesa.example.net", None, {"someparam": None})
    assert m.to.display_name is None and str(m.to.uri) == "sip:ana@mesa.example.net" and m.to.tag == "77aa2x"
    assert m.from_.display_name == 'Beto \\"El Rapido\\" Ruiz'
    assert m.from_.tag == "beto-5521"
    assert m.max_forwards == 42
    assert m.call_id == "wsinv.8c1e0d@198.51.100.7"
    assert (m.cseq.number, m.cseq.method) == (17, "INVITE")
    assert [(v.transport, v.host, v.port, v.branch) for v in m.vias] == [
        ("UDP", "198.51.100.7", None, "z9hG4bKws1nv-x"),
        ("TCP", "relay.example.net", None, "z9hG4bKrelay44"),
        ("UDP", "203.0.113.9", None, "z9hG4bK-last"),
    ]
    assert m.header("Subject") == ""
    assert m.header("OddHeader") == "first part second part after a tab fold"
    assert m.header("strangeseparators") == ",;,;;,,;"
    assert m.header_values("StrangeSeparators") == [",;,;;,,;"]  # unknown header: never split
    assert m.content_type == "application/sdp"
    [route] = m.routes
    assert route.uri.params == {"lr": None, "unknown": "val", "flag-only": None}
    [contact] = m.contacts
    assert contact.display_name == 'Display "with" quotes'
    assert contact.params == {"paramone": "valueone", "novalue": None, "q": "0.5"}
    assert m.body == load("rfc4475/wsinv.sip").split(b"\r\n\r\n", 1)[1]
    assert check_request(m) is None


def test_rfc4475_intmeth_wide_range_of_valid_characters() -> None:
    """§3.1.1.2: every token character in a method, odd user/password characters, quoted-pairs of
    control characters, token display names, UTF-8 in quoted parameters and header values."""
    m = request("rfc4475/intmeth.sip")
    method = "~odd.Method-0987_*+`.%it'~"
    assert m.method == method
    assert m.uri.user == "u_n(us)ual~&u!ser+1$/x?,/;;*"
    assert m.uri.password == "pa&ss=1,w!*rd$(x)"
    assert m.uri.host == "strange.example.com"
    assert m.vias[0].branch == "z9hG4bK-~!%41*_+`'."
    assert m.to.display_name == "ctl:\x01 nul:\x00 del:\x7f"
    assert m.to.uri.user == "u_n(us)ual~&u!ser+1$/x?,/;;*"
    assert m.from_.display_name == "word1~` word2'+_ word3*%!.-"
    assert m.from_.params == {"odd-param''~+*_!.-%": '"ünïcödé ✓"', "tag": "t~1'+`*%!-."}
    assert m.call_id == "intmeth.w%QZ-!.*_+'@w`~)(><:\\/\"][?}{"
    assert m.cseq.method == method
    assert m.header("x-odd-!.%*+_`'~") == "\ufeff中文 ✓"
    assert check_request(m) is None
    # An element that does not know the method answers 501 (RFC 3261 §21.5.2).
    rejection = check_request(m, allowed_methods=frozenset({"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS"}))
    assert rejection is not None and rejection.status == 501
    assert dict(rejection.headers)["Allow"] == "ACK, BYE, CANCEL, INVITE, OPTIONS"


def test_rfc4475_esc01_valid_use_of_escapes() -> None:
    """§3.1.1.3: escapes in the Request-URI user, in To/From users, in parameter names and values."""
    m = request("rfc4475/esc01.sip")
    assert m.uri.user == "sips:ana@mesa.example.net"
    assert m.uri.host == "gateway.example.org"
    assert m.to.uri.user == "ana"
    assert m.from_.uri.user == "name with spaces"
    [contact] = m.contacts
    assert contact.uri.user == "beto"
    assert contact.uri.params == {"transport": "tcp", "name": "value%42"}
    assert m.uri_text == "sip:sips%3Aana%40mesa.example.net@gateway.example.org"  # re-sent as received
    assert check_request(m) is None


def test_rfc4475_escnull_escaped_nulls() -> None:
    """§3.1.1.4: %00 in URIs is a valid escape; the user contains a NUL."""
    m = request("rfc4475/escnull.sip")
    assert m.to.uri.user == "zero-\x00-zero"
    assert [c.uri.user for c in m.contacts] == ["\x00", "\x00\x00"]
    assert str(m.contacts[1].uri) == "sip:%00%00@198.51.100.8"
    assert check_request(m) is None


def test_rfc4475_esc02_percent_that_is_not_an_escape() -> None:
    """§3.1.1.5: '%' in a method, a display name, a branch and a header name is not unescaped."""
    m = request("rfc4475/esc02.sip")
    assert m.method == "RE%47I%53TER"  # not REGISTER
    assert m.to.display_name == "%X%41"
    assert m.vias[0].branch == "z9hG4bK%fe02"
    assert len(m.contacts) == 2  # "Con%74act" is another header
    assert m.header("Con%74act") == "<sip:box@198.51.100.8>"
    assert check_request(m, allowed_methods=frozenset({"REGISTER"})) is not None


def test_rfc4475_lwsdisp_no_space_before_angle() -> None:
    """§3.1.1.6: a token display name directly followed by '<'."""
    m = request("rfc4475/lwsdisp.sip")
    assert m.from_.display_name == "beto"
    assert m.from_.uri.user == "beto"
    assert check_request(m) is None


def test_rfc4475_longreq_long_values() -> None:
    """§3.1.1.7: long display names, parameters, tags, Call-ID, 40 Vias in assorted spellings."""
    m = request("rfc4475/longreq.sip")
    assert m.to.display_name == "A name so " + "very " * 30 + "long"
    assert m.to.uri.port == 5070
    assert m.to.uri.params["longparam" + "x" * 40] == "value" + "long" * 60
    assert "flag" + "name" * 50 in m.to.uri.params
    assert m.from_.tag == "98" * 100
    assert m.from_.params["bare" + "flag" * 20] is None
    assert m.call_id == "longreq." + "really" * 40 + "longid"
    assert len(m.vias) == 40
    assert m.vias[0].host == "hop39.example.net"
    assert m.vias[-1].branch == "z9hG4bK" + "long" * 50 + "branch"
    assert m.header("X-" + "Long" * 20 + "-Name") is not None
    assert m.contacts[0].uri.user == "lengthyuser" * 20
    assert check_request(m) is None


def test_rfc4475_dblreq_extra_octets_after_the_body() -> None:
    """§3.1.1.8: octets after Content-Length in a UDP datagram are discarded (RFC 3261 §18.3)."""
    data = load("rfc4475/dblreq.sip")
    m = parse_message(data)
    assert isinstance(m, SipRequest)
    assert m.method == "REGISTER"
    assert m.body == b""
    assert m.framing_error is None
    assert m.wire_size == len(data)
    assert check_request(m) is None


def test_rfc4475_semiuri_semicolons_in_user() -> None:
    """§3.1.1.9: parameters in the user part are part of the user, not URI parameters."""
    m = request("rfc4475/semiuri.sip")
    assert m.uri.user == "ana;extra=x@example.net"
    assert m.uri.host == "example.org"
    assert m.uri.params == {}
    assert check_request(m) is None


def test_rfc4475_transports_varied_and_unknown() -> None:
    """§3.1.1.10: any transport token in Via is accepted."""
    m = request("rfc4475/transports.sip")
    assert [v.transport for v in m.vias] == ["UDP", "SCTP", "TLS", "NEWTRANSPORT", "WSS"]
    assert check_request(m) is None


def test_rfc4475_mpart01_multipart_body_is_kept_intact() -> None:
    """§3.1.1.11: a multipart body with binary content is opaque to the parser."""
    m = request("rfc4475/mpart01.sip")
    assert m.content_type == "multipart/mixed"
    assert m.header("Content-Type") == "multipart/mixed;boundary=sep42"
    assert bytes.fromhex("00ff10fe80c3280d0a1b") in m.body
    assert m.body.endswith(b"--sep42--\r\n")
    assert len(m.body) == int(m.header("Content-Length") or 0)
    assert check_request(m) is None


def test_rfc4475_unreason_unusual_reason_phrase() -> None:
    """§3.1.1.12: the reason phrase is UTF-8 text with any characters."""
    m = response("rfc4475/unreason.sip")
    assert (m.status, m.reason) == (200, "Todo bien ✓ — ça marche = 100 %")


def test_rfc4475_noreason_empty_reason_phrase() -> None:
    """§3.1.1.13: "SIP/2.0 100 " with nothing after the space."""
    m = response("rfc4475/noreason.sip")
    assert (m.status, m.reason) == (100, "")
    assert m.encode().startswith(b"SIP/2.0 100 \r\n")


# -- RFC 4475 §3.3: application-layer cases whose parsing matters ---------------------------------


def test_rfc4475_unksm2_unknown_schemes_in_headers() -> None:
    """§3.3.4: unknown URI schemes in To/From/Contact are parsed (opaque), not rejected."""
    m = request("rfc4475/unksm2.sip")
    assert (m.to.uri.scheme, m.to.uri.opaque) == ("isbn", "9780262510875")
    assert (m.from_.uri.scheme, m.from_.tag) == ("http", "u234")
    assert [(c.uri.scheme, str(c.uri)) for c in m.contacts] == [
        ("name", "name:Ana_Ruiz"),
        ("isbn", "isbn:9780262510875"),
        ("tel", "tel:+1-201-555-0123"),
    ]
    assert check_request(m) is None


def test_rfc4475_regaut01_authorization_is_never_split() -> None:
    """§3.3.7: an unknown authorization scheme is the auth layer's business; commas inside
    Authorization separate auth-params, not values (RFC 3261 §7.3.1)."""
    m = request("rfc4475/regaut01.sip")
    assert m.header_values("Authorization") == ['SchemeNobodyKnows opaque="x,y", realm=example.org, more=params']
    assert check_request(m) is None


def test_rfc4475_bcast_broadcast_via_is_parsed() -> None:
    """§3.3.10: a 200 with a broadcast Via parses; where to send it is the transaction layer's call."""
    m = response("rfc4475/bcast.sip")
    assert [v.host for v in m.vias] == ["198.51.100.7", "255.255.255.255"]
    assert m.vias[0].received == "203.0.113.1"


def test_rfc4475_cparam01_parameter_after_addr_spec_is_a_header_parameter() -> None:
    """§3.3.12: in an addr-spec, ';param' belongs to the header, not the URI (RFC 3261 §20.10)."""
    [contact] = request("rfc4475/cparam01.sip").contacts
    assert contact.uri.params == {}
    assert contact.params == {"someflag": None}


def test_rfc4475_cparam02_parameter_inside_angle_brackets_is_a_uri_parameter() -> None:
    """§3.3.13."""
    [contact] = request("rfc4475/cparam02.sip").contacts
    assert contact.uri.params == {"someflag": None}
    assert contact.params == {}


def test_rfc4475_regescrt_escaped_header_in_contact() -> None:
    """§3.3.14: a Contact URI may carry escaped headers; they are kept, decoded."""
    m = request("rfc4475/regescrt.sip")
    [contact] = m.contacts
    assert contact.uri.headers == {"Route": "<sip:edge.example.net>"}
    assert check_request(m) is None


def test_rfc4475_sdp01_accept_list_is_split() -> None:
    """§3.3.15: Accept is a list header; what to do with it is the application's choice (406)."""
    m = request("rfc4475/sdp01.sip")
    assert m.header_values("Accept") == ["text/nobodyknowsthis", "image/neither"]


def test_rfc4475_inv2543_rfc2543_request_is_accepted() -> None:
    """§3.4.1: no branch, no Max-Forwards, no From tag: RFC 2543 syntax, still valid."""
    m = request("rfc4475/inv2543.sip")
    assert m.vias[0].branch is None
    assert m.max_forwards is None
    assert m.from_.tag is None
    assert check_request(m) is None


# -- RFC 5118 -----------------------------------------------------------------------------------


def test_rfc5118_ipv6_good() -> None:
    """§4.1: IPv6 references in the Request-URI, To, From, Via and Contact."""
    m = request("rfc5118/ipv6-good.sip")
    assert (m.uri.host, m.uri.port) == ("2001:db8::10", None)
    assert m.to.uri.host == "2001:db8::10"
    assert m.vias[0].host == "2001:db8::9:1"
    assert m.contacts[0].uri.host == "2001:db8::9:1"
    assert check_request(m) is None


def test_rfc5118_port_ambiguous() -> None:
    """§4.3: "[2001:db8::10:5070]" is an address, no port."""
    m = request("rfc5118/port-ambiguous.sip")
    assert (m.uri.host, m.uri.port) == ("2001:db8::10:5070", None)


def test_rfc5118_port_unambiguous() -> None:
    """§4.4: "[2001:db8::10]:5070" has port 5070."""
    m = request("rfc5118/port-unambiguous.sip")
    assert (m.uri.host, m.uri.port) == ("2001:db8::10", 5070)


@pytest.mark.parametrize(
    "name", ["rfc5118/via-received-param-with-delim.sip", "rfc5118/via-received-param-no-delim.sip"]
)
def test_rfc5118_via_received_with_and_without_brackets(name: str) -> None:
    """§4.5: both forms of an IPv6 received parameter are accepted."""
    m = request(name)
    top = m.vias[0]
    assert (top.host, top.port, top.received) == ("2001:db8::9:1", 6050, "2001:db8::9:255")
    assert check_request(m) is None


def test_rfc5118_multiple_ip_addresses_in_headers() -> None:
    """§4.7: IPv4 and IPv6 addresses mixed in Via and Route."""
    m = request("rfc5118/mult-ip-in-header.sip")
    assert [v.host for v in m.vias] == ["198.51.100.50", "2001:db8::9:1"]
    assert [r.uri.host for r in m.routes] == ["2001:db8::20", "198.51.100.60"]
    assert check_request(m) is None


def test_rfc5118_ipv4_mapped_ipv6() -> None:
    """§4.9: an IPv4-mapped IPv6 address in Via and Contact."""
    m = request("rfc5118/ipv4-mapped-ipv6.sip")
    assert (m.vias[0].host, m.vias[0].port) == ("::ffff:198.51.100.10", 19823)
    assert str(m.vias[0]).startswith("SIP/2.0/UDP [::ffff:198.51.100.10]:19823;")


def test_rfc5118_two_colons_before_embedded_ipv4_is_right() -> None:
    """§4.10: "[2001:db8::192.0.2.1]" is valid (the three-colon form is not: see the invalid tests)."""
    m = request("rfc5118/ipv6-correct-abnf-2-colons.sip")
    assert m.uri.host == "2001:db8::198.51.100.1"
    assert check_request(m) is None


# -- SIPp captures ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", names("sipp", ".msg"))
def test_sipp_messages_parse_and_re_encode(name: str) -> None:
    """Messages SIPp 3.6.1 really sent and received: every header parses, requests pass
    check_request, and encoding gives the same message back (SIPp pads Content-Length values)."""
    data = load(name)
    m = parse_message(data)
    assert m.call_id.endswith("@127.0.0.1")
    assert m.from_.tag is not None
    assert m.vias[0].branch is not None and m.vias[0].branch.startswith("z9hG4bK")
    assert m.cseq.number in (1, 2)
    assert m.body == data.split(b"\r\n\r\n", 1)[1]
    if isinstance(m, SipRequest):
        assert m.uri.user == "service" and m.uri.host == "127.0.0.1"
        assert check_request(m) is None
    else:
        assert m.to.tag is not None
        [contact] = m.contacts
        assert contact.uri.params == {"transport": name[5:8].upper()}
    again = parse_message(m.encode())
    assert list(again.headers) == list(m.headers)
    assert again.body == m.body


def test_sipp_invite_details() -> None:
    m = request("sipp/udp_1_invite.msg")
    assert m.from_.display_name == "sipp"
    assert m.to.display_name == "service" and m.to.tag is None
    [contact] = m.contacts  # an addr-spec Contact
    assert (contact.uri.user, contact.uri.host, contact.uri.port) == ("sipp", "127.0.0.1", 5081)
    assert m.header("Content-Length") == "129"
    assert m.header("Subject") == "Performance Test"


# -- RFC 3261 §7 details ---------------------------------------------------------------------------


def _msg(*lines: str, body: bytes = b"") -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


BASIC = (
    "OPTIONS sip:ana@example.org SIP/2.0",
    "Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKbasic",
    "To: <sip:ana@example.org>",
    "From: <sip:beto@example.net>;tag=b1",
    "Call-ID: basic.1@example.net",
    "CSeq: 1 OPTIONS",
    "Max-Forwards: 70",
)


@pytest.mark.parametrize(
    ("compact", "long"),
    [("i", "Call-ID"), ("m", "Contact"), ("e", "Content-Encoding"), ("l", "Content-Length"), ("c", "Content-Type"),
     ("f", "From"), ("s", "Subject"), ("k", "Supported"), ("t", "To"), ("v", "Via"), ("o", "Event"),
     ("u", "Allow-Events"), ("r", "Refer-To"), ("b", "Referred-By"), ("x", "Session-Expires"), ("y", "Identity"),
     ("a", "Accept-Contact"), ("j", "Reject-Contact"), ("d", "Request-Disposition")],
)  # fmt: skip
def test_compact_forms_are_stored_under_the_long_name(compact: str, long: str) -> None:
    """RFC 3261 §7.3.3 (and RFCs 3515, 3841, 3892, 4028, 6665, 8224 for the later compact forms)."""
    m = parse_message(_msg(*BASIC, f"{compact.upper()}: x-value"))
    assert m.headers.get_all(long)[-1] == "x-value"
    assert m.header(compact) == m.header(long)
    assert (long, "x-value") in list(m.headers)


def test_header_names_are_case_insensitive_and_written_canonically() -> None:
    m = parse_message(_msg(*BASIC, "cALL-iNFO: <http://example.org/a.png>;purpose=icon", "x-Custom-Thing: 1"))
    assert m.header("Call-Info") == "<http://example.org/a.png>;purpose=icon"
    assert m.header("X-CUSTOM-THING") == "1"
    names_written = [name for name, _ in m.headers]
    assert "Call-Info" in names_written and "x-Custom-Thing" in names_written


def test_several_lines_and_comma_lists_are_the_same_values() -> None:
    """RFC 3261 §7.3.1: several lines of a list header equal one comma-separated line."""
    one = parse_message(_msg(*BASIC, "Route: <sip:a.example.net;lr>, <sip:b.example.net;lr>"))
    two = parse_message(_msg(*BASIC, "Route: <sip:a.example.net;lr>", "Route: <sip:b.example.net;lr>"))
    assert one.header_values("Route") == two.header_values("Route")
    assert (
        [str(r) for r in one.routes]
        == [str(r) for r in two.routes]
        == [
            "<sip:a.example.net;lr>",
            "<sip:b.example.net;lr>",
        ]
    )


def test_comma_inside_quotes_and_angle_brackets_does_not_split() -> None:
    m = parse_message(
        _msg(*BASIC, 'Contact: "Ruiz, Ana" <sip:ana,maria@198.51.100.7>;q=0.5, <sip:ana@203.0.113.4>;q=0.1')
    )
    assert [c.display_name for c in m.contacts] == ["Ruiz, Ana", None]
    assert m.contacts[0].uri.user == "ana,maria"  # ',' is a user-unreserved character (RFC 3261 §25.1)


@pytest.mark.parametrize(
    "header",
    [
        'WWW-Authenticate: Digest realm="example.org", nonce="abc", algorithm=MD5, qop="auth,auth-int"',
        'Authorization: Digest username="ana", realm="example.org", nonce="abc", uri="sip:example.org"',
        'Proxy-Authenticate: Digest realm="example.org", nonce="abc"',
        'Proxy-Authorization: Digest username="ana", realm="example.org"',
        "Date: Sat, 13 Nov 2010 23:29:00 GMT",
        'X-Unknown: "a, b", c',
    ],
)
def test_headers_that_are_never_comma_split(header: str) -> None:
    """RFC 3261 §7.3.1: WWW-Authenticate, Authorization, Proxy-Authenticate and Proxy-Authorization
    do not follow the list grammar; Date has commas of its own; unknown headers are not split."""
    name, value = header.split(": ", 1)
    m = parse_message(_msg(*BASIC, header))
    assert m.header_values(name) == [value]


def test_list_header_values_are_split_and_trimmed() -> None:
    m = parse_message(_msg(*BASIC, "Supported: timer ,  replaces,100rel", "Supported: path", "Allow: INVITE,ACK"))
    assert m.header_values("Supported") == ["timer", "replaces", "100rel", "path"]
    assert m.header_values("Allow") == ["INVITE", "ACK"]
    assert m.headers.get_all("Supported") == ["timer ,  replaces,100rel", "path"]


def test_methods_are_case_sensitive() -> None:
    """RFC 3261 §7.1: "invite" is not INVITE; a CSeq of "INVITE" does not match it."""
    data = _msg("invite sip:ana@example.org SIP/2.0", *BASIC[1:5], "CSeq: 1 INVITE")
    m = parse_message(data)
    assert isinstance(m, SipRequest) and m.method == "invite"
    rejection = check_request(m)
    assert rejection is not None and rejection.status == 400
    m = parse_message(_msg("invite sip:ana@example.org SIP/2.0", *BASIC[1:5], "CSeq: 1 invite"))
    assert isinstance(m, SipRequest)
    rejection = check_request(m, allowed_methods=frozenset({"INVITE", "ACK", "BYE"}))
    assert rejection is not None and rejection.status == 501


def test_version_is_case_insensitive() -> None:
    """RFC 3261 §25.1: "SIP" in SIP-Version is an ABNF string, hence case-insensitive."""
    m = parse_message(_msg("OPTIONS sip:ana@example.org sip/2.0", *BASIC[1:]))
    assert isinstance(m, SipRequest)
    assert check_request(m) is None


def test_leading_crlfs_are_ignored() -> None:
    """RFC 3261 §7.5: CRLFs before the start line are skipped."""
    m = parse_message(b"\r\n\r\n" + _msg(*BASIC))
    assert isinstance(m, SipRequest) and m.method == "OPTIONS"


def test_bare_lf_line_ends_are_tolerated() -> None:
    data = _msg(*BASIC).replace(b"\r\n", b"\n")
    m = parse_message(data + b"hello")
    assert m.call_id == "basic.1@example.net"
    assert m.body == b"hello"


def test_missing_empty_line_is_tolerated() -> None:
    m = parse_message(("\r\n".join(BASIC) + "\r\n").encode())
    assert m.cseq.method == "OPTIONS"
    assert m.body == b""


def test_no_content_length_on_udp_means_the_rest_of_the_datagram() -> None:
    """RFC 3261 §18.3."""
    m = parse_message(_msg(*BASIC, "Content-Type: text/plain", body=b"all of this"))
    assert m.body == b"all of this"


def test_via_details() -> None:
    m = parse_message(
        _msg(
            "OPTIONS sip:ana@example.org SIP/2.0",
            "Via: SIP/2.0/tcp 198.51.100.7:5070;branch=z9hG4bKv1;rport;maddr=239.255.255.1;ttl=16",
            "Via: SIP/2.0/UDP 203.0.113.1;rport=5066;received=192.0.2.1, SIP/2.0/TLS proxy.example.net:5061",
            *BASIC[2:],
        )
    )
    top, second, third = m.vias
    assert (top.transport, top.sent_by, top.rport, top.maddr) == ("TCP", ("198.51.100.7", 5070), "", "239.255.255.1")
    assert top.params["ttl"] == "16"
    assert (second.rport, second.received, second.branch) == ("5066", "192.0.2.1", None)
    assert (third.transport, third.port, third.rport) == ("TLS", 5061, None)
    assert str(top) == "SIP/2.0/TCP 198.51.100.7:5070;branch=z9hG4bKv1;rport;maddr=239.255.255.1;ttl=16"
    assert Via.parse_all(str(second) + ", " + str(third)) == [second, third]


def test_name_addr_forms_and_serialisation() -> None:
    m = parse_message(
        _msg(
            *BASIC,
            'Contact: "Ana \\\\ \\"Ruiz\\"" <sip:ana@198.51.100.7>;expires=60',
            "Contact: sip:ana@203.0.113.4;q=0.7",
            "Contact: Ana   Maria <sip:ana@203.0.113.5>",
            'Contact: "" <sip:ana@203.0.113.6>',
        )
    )
    first, second, third, fourth = m.contacts
    assert first.display_name == 'Ana \\ "Ruiz"'
    assert str(first) == '"Ana \\\\ \\"Ruiz\\"" <sip:ana@198.51.100.7>;expires=60'
    assert (second.display_name, second.params) == (None, {"q": "0.7"})
    assert str(second) == "<sip:ana@203.0.113.4>;q=0.7"
    assert third.display_name == "Ana Maria"
    assert fourth.display_name == ""
    assert m.contact_star is False


def test_contact_star() -> None:
    """RFC 3261 §10.2.2: "Contact: *" removes every binding (with Expires: 0)."""
    m = parse_message(_msg("REGISTER sip:example.org SIP/2.0", *BASIC[1:5], "CSeq: 2 REGISTER", "Contact: *",
                           "Expires: 0"))  # fmt: skip
    assert m.contact_star is True
    assert m.contacts == []
    assert m.expires == 0
    mixed = parse_message(_msg(*BASIC, "Contact: *, <sip:ana@198.51.100.7>"))
    with pytest.raises(SipParseError):
        mixed.contacts  # noqa: B018


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3600", 3600),
        ("0", 0),
        ("4294967295", 4294967295),
        # RFC 3261 §20.19: "Malformed values SHOULD be treated as equivalent to 3600"; RFC 4475
        # §3.1.2.4 scalar02 allows the same for an overlarge value.
        ("4294967296", 3600),
        ("1" + "0" * 40, 3600),
        ("soon", 3600),
        ("-5", 3600),
    ],
)
def test_expires(value: str, expected: int) -> None:
    assert parse_message(_msg(*BASIC, f"Expires: {value}")).expires == expected


def test_absent_optional_headers() -> None:
    m = parse_message(_msg(*BASIC[:-1]))
    assert (m.max_forwards, m.expires, m.content_type) == (None, None, None)
    assert (m.contacts, m.routes, m.record_routes) == ([], [], [])


def test_record_route_and_content_type_parameters() -> None:
    m = parse_message(
        _msg(*BASIC, "Record-Route: <sip:p2.example.net;lr>, <sip:p1.example.net;lr>",
             "Content-Type: Application/SDP ; charset=utf-8")
    )  # fmt: skip
    assert [r.uri.host for r in m.record_routes] == ["p2.example.net", "p1.example.net"]
    assert m.content_type == "application/sdp"


def test_parsed_views_follow_header_changes() -> None:
    m = parse_message(_msg(*BASIC))
    assert m.to.tag is None
    m.set_header("To", "<sip:ana@example.org>;tag=new")
    assert m.to.tag == "new"
    m.headers.add("Via", "SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKtop", first=True)
    assert m.vias[0].host == "192.0.2.9" and len(m.vias) == 2
    m.remove_header("Via")
    assert m.vias == []


def test_body_bytes_that_are_not_utf8_survive() -> None:
    body = bytes(range(256))
    m = parse_message(_msg(*BASIC, f"Content-Length: {len(body)}", body=body))
    assert m.body == body
    assert parse_message(m.encode()).body == body


def test_non_utf8_header_octets_round_trip() -> None:
    data = _msg(*BASIC, "Subject: caf\xe9".encode("latin-1").decode("latin-1")).replace(b"caf\xc3\xa9", b"caf\xe9")
    m = parse_message(data)
    assert m.encode() == data.replace(b"\r\n\r\n", b"\r\nContent-Length: 0\r\n\r\n")


def test_quoted_parameter_values_keep_their_quotes_and_escapes() -> None:
    """RFC 3261 §25.1 gen-value = token / host / quoted-string: a quoted value may hold ';', ',' and
    quoted-pairs; it is kept as written, and unquote() gives its content."""
    m = parse_message(
        _msg(*BASIC, 'Contact: <sip:ana@198.51.100.7>;+sip.instance="<urn:uuid:0a1b>";note="a;b, \\"c\\"" ;q=0.3')
    )
    [contact] = m.contacts
    assert contact.params == {"+sip.instance": '"<urn:uuid:0a1b>"', "note": '"a;b, \\"c\\""', "q": "0.3"}
    assert unquote(contact.params["note"] or "") == 'a;b, "c"'
    assert unquote("token") == "token"
    assert quote('a "b" \\ c') == '"a \\"b\\" \\\\ c"'
    assert unquote(quote('a "b" \\ c')) == 'a "b" \\ c'


@pytest.mark.parametrize(
    ("value", "items"),
    [
        ("a, b ,c", ["a", "b", "c"]),
        ('"x, y" <sip:a@b>, <sip:c,d@e>', ['"x, y" <sip:a@b>', "<sip:c,d@e>"]),
        ("a,,b,", ["a", "", "b", ""]),  # empty elements are kept for the caller to reject
        ('"unterminated, still one', ['"unterminated, still one']),
        ("single", ["single"]),
    ],
)
def test_split_list(value: str, items: list[str]) -> None:
    """RFC 3261 §7.3.1: commas inside quotes and <> do not separate values."""
    assert split_list(value) == items


def _with_body(content_type: str, body: bytes) -> SipRequest:
    head = (
        "INVITE sip:ana@example.org SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKmp\r\n"
        "From: <sip:beto@example.net>;tag=1\r\nTo: <sip:ana@example.org>\r\nCall-ID: mp@198.51.100.7\r\n"
        f"CSeq: 1 INVITE\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    message = parse_message(head.encode() + body)
    assert isinstance(message, SipRequest)
    return message


def test_sdp_part_of_a_sip_t_multipart_body() -> None:
    # RFC 3372 SIP-T / ITU-T Q.1912.5 SIP-I: multipart/mixed (RFC 2046 §5.1) with SDP next to ISUP.
    sdp = b"v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8\r\n"
    body = (b"--b1\r\nContent-Type: application/sdp\r\n\r\n" + sdp + b"\r\n--b1\r\n"
            b"Content-Type: application/isup;version=itu-t92+\r\nContent-Disposition: signal;handling=optional\r\n"
            b"\r\n\x01\x00\x49\x00\r\n--b1--\r\n")
    message = _with_body('multipart/mixed;boundary="b1"', body)
    assert body_part(message, "application/sdp") == sdp
    assert body_part(message, "application/isup") == b"\x01\x00\x49\x00"
    assert body_part(message, "text/plain") is None


def test_body_part_of_a_plain_body_and_of_a_multipart_without_boundary() -> None:
    assert body_part(_with_body("application/sdp", b"v=0\r\n"), "application/sdp") == b"v=0\r\n"
    assert body_part(_with_body("multipart/mixed", b"--x\r\n\r\nv=0\r\n--x--\r\n"), "application/sdp") is None


@pytest.mark.parametrize(
    "sent_by",
    ["SIP/2.0/UDP 192.0.2.10:5060", "SIP/2.0/TCP [2001:db8::7]:5070", "SIP/2.0/UDP pbx.example.net"],
)
def test_the_via_of_a_request_we_send_reads_as_its_text_does(sent_by: str) -> None:
    """The Via we put in our requests is read from a cache filled when it is made: what is read must be
    what the text on the wire says, for the request and for the responses that echo it."""
    from core.sip.headers import _VIA_CACHE, own_via

    text = own_via(sent_by, "z9hG4bK-own-1")
    assert text == f"{sent_by};branch=z9hG4bK-own-1;rport"
    remembered = Via.parse(text)
    _VIA_CACHE.clear()
    fresh = Via.parse(text)
    assert fresh is not remembered
    assert remembered == fresh
    assert (remembered.branch, remembered.rport, str(remembered)) == ("z9hG4bK-own-1", "", text)


def test_a_bad_sent_by_is_left_for_the_transaction_layer_to_refuse() -> None:
    from core.sip.headers import own_via

    text = own_via("SIP/2.0/UDP bad host", "z9hG4bK-own-2")
    with pytest.raises(SipParseError):
        Via.parse(text)
