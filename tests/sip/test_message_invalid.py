"""What the parser and check_request do with invalid messages: RFC 4475 §3.1.2, §3.2, §3.3; RFC 5118.

Each case is a message of our own writing that breaks the rule of the RFC case named in its id;
the expected outcome is the response RFC 4475 says the endpoint sends (or that the message is
dropped, for responses and for what cannot be answered).
"""

from __future__ import annotations

import pytest

from core.sip.message import (
    MAX_HEADER_LENGTH,
    MAX_HEADERS,
    MAX_MESSAGE_SIZE,
    MAX_VIAS,
    Rejection,
    SipParseError,
    SipRequest,
    SipResponse,
    check_request,
    parse_message,
)
from tests.sip.messages import load

SDP_ONLY = frozenset({"application/sdp"})


def check(name: str, **options: object) -> Rejection | None:
    message = parse_message(load(name))
    assert isinstance(message, SipRequest)
    return check_request(message, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "status", "reason"),
    [
        pytest.param("badinv01", 400, "Malformed Via", id="rfc4475-3.1.2.1-badinv01"),
        pytest.param("clerr", 400, "Bad Request - Content-Length larger than body", id="rfc4475-3.1.2.2-clerr"),
        pytest.param("ncl", 400, "Bad Request - Malformed Content-Length", id="rfc4475-3.1.2.3-ncl"),
        pytest.param("scalar02", 400, "Malformed CSeq", id="rfc4475-3.1.2.4-scalar02"),
        pytest.param("quotbal", 400, "Malformed To", id="rfc4475-3.1.2.6-quotbal"),
        pytest.param("ltgtruri", 400, "Bad Request - Malformed Request-URI", id="rfc4475-3.1.2.7-ltgtruri"),
        pytest.param("lwsruri", 400, "Bad Request - Malformed Request-Line", id="rfc4475-3.1.2.8-lwsruri"),
        pytest.param("lwsstart", 400, "Bad Request - Malformed Request-Line", id="rfc4475-3.1.2.9-lwsstart"),
        pytest.param("trws", 400, "Bad Request - Malformed Request-Line", id="rfc4475-3.1.2.10-trws"),
        pytest.param("escruri", 400, "Bad Request - Headers in Request-URI", id="rfc4475-3.1.2.11-escruri"),
        pytest.param("regbadct", 400, "Malformed Contact", id="rfc4475-3.1.2.13-regbadct"),
        pytest.param("badaspec", 400, "Malformed To", id="rfc4475-3.1.2.14-badaspec"),
        pytest.param("baddn", 400, "Malformed From", id="rfc4475-3.1.2.15-baddn"),
        pytest.param("badvers", 505, "Version Not Supported", id="rfc4475-3.1.2.16-badvers"),
        pytest.param("mismatch01", 400, "Bad Request - CSeq method does not match", id="rfc4475-3.1.2.17-mismatch01"),
        pytest.param("mismatch02", 400, "Bad Request - CSeq method does not match", id="rfc4475-3.1.2.18-mismatch02"),
        pytest.param("badbranch", 400, "Bad Request - Malformed Via branch", id="rfc4475-3.2.1-badbranch"),
        pytest.param("insuf", 400, "Bad Request - Missing From", id="rfc4475-3.3.1-insuf"),
        pytest.param("unkscm", 416, "Unsupported URI Scheme", id="rfc4475-3.3.2-unkscm"),
        pytest.param("novelsc", 416, "Unsupported URI Scheme", id="rfc4475-3.3.3-novelsc"),
        pytest.param("multi01", 400, "Bad Request - Multiple From", id="rfc4475-3.3.8-multi01"),
        pytest.param("mcl01", 400, "Bad Request - Malformed Content-Length", id="rfc4475-3.3.9-mcl01"),
    ],
)  # fmt: skip
def test_rfc4475_invalid_requests_are_rejected(name: str, status: int, reason: str) -> None:
    rejection = check(f"rfc4475/{name}.sip")
    assert rejection is not None
    assert (rejection.status, rejection.reason) == (status, reason)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("baddate", id="rfc4475-3.1.2.12-baddate"),  # Date is not interpreted: accepted
        pytest.param("zeromf", id="rfc4475-3.3.11-zeromf"),  # an endpoint processes it
        pytest.param("cparam01", id="rfc4475-3.3.12-cparam01"),
        pytest.param("cparam02", id="rfc4475-3.3.13-cparam02"),
        pytest.param("regescrt", id="rfc4475-3.3.14-regescrt"),
        pytest.param("inv2543", id="rfc4475-3.4.1-inv2543"),
    ],
)
def test_rfc4475_requests_an_endpoint_accepts(name: str) -> None:
    assert check(f"rfc4475/{name}.sip") is None


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("ipv6-bad", id="rfc5118-4.2-ipv6-bad"),
        pytest.param("ipv6-bug-abnf-3-colons", id="rfc5118-4.10-three-colons"),
    ],
)
def test_rfc5118_invalid_ipv6_references_get_400(name: str) -> None:
    rejection = check(f"rfc5118/{name}.sip")
    assert rejection is not None
    assert (rejection.status, rejection.reason) == (400, "Bad Request - Malformed Request-URI")


def test_rfc4475_badinv01_contact_separators_are_malformed_too() -> None:
    """§3.1.2.1: the Contact's ";;;;" is as wrong as the Via's ";;,;,,"."""
    message = parse_message(load("rfc4475/badinv01.sip"))
    with pytest.raises(SipParseError, match="Malformed Contact"):
        message.contacts  # noqa: B018


def test_rfc4475_clerr_is_detected_and_the_body_kept() -> None:
    """§3.1.2.2: over UDP the request is answered 400 (RFC 3261 §18.3), what arrived is the body."""
    data = load("rfc4475/clerr.sip")
    message = parse_message(data)
    assert message.framing_error == "Bad Request - Content-Length larger than body"
    assert message.body == data.split(b"\r\n\r\n", 1)[1]
    assert message.call_id == "clerr.0077@198.51.100.7"  # still answerable


def test_rfc4475_clerr_response_is_discarded() -> None:
    """RFC 3261 §18.3: a response whose datagram ends before its body "MUST be discarded"."""
    data = b"SIP/2.0 200 OK\r\nContent-Length: 50\r\n\r\nshort"
    with pytest.raises(SipParseError, match="Content-Length larger than body"):
        parse_message(data)


def test_rfc4475_scalar02_other_overlarge_values() -> None:
    """§3.1.2.4: Max-Forwards 1000 is malformed; an overlarge Expires counts as 3600 (RFC 3261
    §20.19); the Contact's overlarge expires parameter is kept as written for the registrar."""
    message = parse_message(load("rfc4475/scalar02.sip"))
    with pytest.raises(SipParseError, match="Malformed Max-Forwards"):
        message.max_forwards  # noqa: B018
    assert message.expires == 3600
    assert message.contacts[0].params["expires"] == "9999999999999999"


def test_rfc4475_scalarlg_response_with_overlarge_values_is_unusable() -> None:
    """§3.1.2.5: the response parses, its CSeq does not: the transaction layer drops it."""
    message = parse_message(load("rfc4475/scalarlg.sip"))
    assert isinstance(message, SipResponse) and message.status == 503
    with pytest.raises(SipParseError, match="Malformed CSeq"):
        message.cseq  # noqa: B018
    assert message.header("Retry-After") == "99999999999999999999999"
    assert message.header("Warning") == '9999 edge.example.net "Still thinking"'


def test_rfc4475_bigcode_overlarge_status_code_is_dropped() -> None:
    """§3.1.2.19: a status code is three digits; the response cannot be used."""
    with pytest.raises(SipParseError):
        parse_message(load("rfc4475/bigcode.sip"))


def test_rfc4475_mismatch02_unknown_method_prefers_501() -> None:
    """§3.1.2.18: an element that knows its methods answers 501 rather than 400."""
    rejection = check("rfc4475/mismatch02.sip", allowed_methods=frozenset({"INVITE", "ACK", "BYE", "CANCEL"}))
    assert rejection is not None and rejection.status == 501
    assert rejection.headers == (("Allow", "ACK, BYE, CANCEL, INVITE"),)


def test_known_but_disallowed_method_gets_405_with_allow() -> None:
    """RFC 3261 §8.2.1: a recognised method the UAS does not allow gets 405 and Allow."""
    rejection = check("rfc4475/lwsdisp.sip", allowed_methods=frozenset({"INVITE", "ACK"}))
    assert rejection is not None
    assert (rejection.status, rejection.headers) == (405, (("Allow", "ACK, INVITE"),))


def test_rfc4475_bext01_unknown_require_gets_420_with_unsupported() -> None:
    """§3.3.5: a UAS lists the Require option tags it does not support (Proxy-Require is for proxies)."""
    rejection = check("rfc4475/bext01.sip")
    assert rejection is not None
    assert (rejection.status, rejection.headers) == (420, (("Unsupported", "teleport, mindread"),))
    partly = check("rfc4475/bext01.sip", supported_extensions=frozenset({"Teleport"}))
    assert partly is not None and partly.headers == (("Unsupported", "mindread"),)
    assert check("rfc4475/bext01.sip", supported_extensions=frozenset({"teleport", "mindread"})) is None


def test_rfc4475_invut_unknown_content_type_gets_415_with_accept() -> None:
    """§3.3.6 (RFC 3261 §8.2.3): 415 listing what is accepted."""
    rejection = check("rfc4475/invut.sip", accepted_content_types=SDP_ONLY)
    assert rejection is not None
    assert (rejection.status, rejection.headers) == (415, (("Accept", "application/sdp"),))
    assert check("rfc4475/esc01.sip", accepted_content_types=SDP_ONLY) is None


def test_rfc4475_zeromf_max_forwards_zero_on_a_request_to_forward_gets_483() -> None:
    """§3.3.11: OPTIONS with Max-Forwards 0 is answered by the endpoint; an out-of-dialog INVITE
    with Max-Forwards 0 would have to be forwarded by this B2BUA: 483 (RFC 3261 §16.3 item 3)."""
    data = load("rfc4475/zeromf.sip").replace(b"OPTIONS", b"INVITE")
    message = parse_message(data)
    assert isinstance(message, SipRequest)
    rejection = check_request(message)
    assert rejection is not None and (rejection.status, rejection.reason) == (483, "Too Many Hops")
    in_dialog = parse_message(data.replace(b"To: sip:ana@example.org", b"To: sip:ana@example.org;tag=x"))
    assert isinstance(in_dialog, SipRequest)
    assert check_request(in_dialog) is None


def test_request_larger_than_the_limit_gets_513() -> None:
    """RFC 3261 §21.5.7 (513 Message Too Large)."""
    rejection = check("rfc4475/longreq.sip", max_size=1500)
    assert rejection is not None and rejection.status == 513


def test_unknown_content_encoding_gets_415_with_accept_encoding() -> None:
    """RFC 3261 §8.2.3: 415 with Accept-Encoding listing the encodings understood."""
    data = load("rfc4475/esc01.sip").replace(b"Content-Type:", b"Content-Encoding: gzip\r\nContent-Type:")
    message = parse_message(data)
    assert isinstance(message, SipRequest)
    rejection = check_request(message)
    assert rejection is not None
    assert (rejection.status, rejection.headers) == (415, (("Accept-Encoding", "identity"),))


@pytest.mark.parametrize("missing", ["Via", "From", "To", "Call-ID", "CSeq"])
def test_each_mandatory_header_missing_gets_400(missing: str) -> None:
    """RFC 3261 §8.1.1: To, From, CSeq, Call-ID and Via are mandatory; Max-Forwards may be missing
    (RFC 2543 peers, §16.3: "If the request does not contain a Max-Forwards header field, this check
    is passed")."""
    lines = [
        "OPTIONS sip:ana@example.org SIP/2.0",
        "Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKmand",
        "To: <sip:ana@example.org>",
        "From: <sip:beto@example.net>;tag=m1",
        "Call-ID: mandatory.1@example.net",
        "CSeq: 1 OPTIONS",
    ]
    lines = [line for line in lines if not line.startswith(missing + ":")]
    message = parse_message(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert isinstance(message, SipRequest)
    rejection = check_request(message)
    assert rejection is not None
    assert (rejection.status, rejection.reason) == (400, f"Bad Request - Missing {missing}")


def test_rejection_becomes_a_response() -> None:
    message = parse_message(load("rfc4475/bext01.sip"))
    assert isinstance(message, SipRequest)
    rejection = check_request(message)
    assert rejection is not None
    response = rejection.respond(message, to_tag="t0")
    assert response.encode() == (
        b"SIP/2.0 420 Bad Extension\r\n"
        b"Via: SIP/2.0/UDP ws.example.net;branch=z9hG4bKbext01\r\n"
        b"From: sip:beto@example.net;tag=be35\r\n"
        b"To: sip:ana@example.org;tag=t0\r\n"
        b"Call-ID: bext01.01dd@example.net\r\n"
        b"CSeq: 35 OPTIONS\r\n"
        b"Unsupported: teleport, mindread\r\n"
        b"Content-Length: 0\r\n"
        b"\r\n"
    )


def test_a_malformed_request_can_still_be_answered() -> None:
    """make_response copies whatever is there, so a 400 goes back with the request's own headers."""
    message = parse_message(load("rfc4475/quotbal.sip"))
    assert isinstance(message, SipRequest)
    rejection = check_request(message)
    assert rejection is not None
    response = rejection.respond(message, to_tag="zz")
    assert response.header("To") == '"Ana without an end <sip:ana@example.org>'  # malformed: left alone
    assert response.header("Call-ID") == "quotbal.00bb@198.51.100.7"
    assert response.encode().startswith(b"SIP/2.0 400 Malformed To\r\n")


# -- what parse_message itself refuses -------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\r\n\r\n", id="keepalive-only"),
        pytest.param(b"hello world\r\n\r\n", id="not-a-start-line"),
        pytest.param(b"INVITE sip:a@b SIP/2.0\r\nno colon here\r\n\r\n", id="header-without-colon"),
        pytest.param(b"INVITE sip:a@b SIP/2.0\r\n: value\r\n\r\n", id="empty-header-name"),
        pytest.param(b"INVITE sip:a@b SIP/2.0\r\nBad Name: value\r\n\r\n", id="name-not-a-token"),
        pytest.param(b"INVITE sip:a@b SIP/2.0\r\n folded: start\r\n\r\n", id="fold-of-the-start-line"),
        pytest.param(b"INVITE sip:a@b SIP/2.0\r\nTo: a\rb\r\n\r\n", id="stray-CR"),
        pytest.param(b"SIP/2.0 20 OK\r\n\r\n", id="two-digit-status"),
        pytest.param(b"SIP/2.0 700 Beyond\r\n\r\n", id="status-beyond-6xx"),
        pytest.param(b"SIP/3.0 200 OK\r\n\r\n", id="response-other-version"),
        pytest.param(b"SIP/2.0\r\n\r\n", id="status-line-without-code"),
        pytest.param(b"INVITE sip:a@b\r\n\r\n", id="request-line-without-version"),
        pytest.param(b"IN\x00VITE sip:a@b SIP/2.0\r\n\r\n", id="method-not-a-token"),
    ],
)
def test_unparsable_messages_raise(data: bytes) -> None:
    with pytest.raises(SipParseError):
        parse_message(data)


def test_error_carries_the_line() -> None:
    with pytest.raises(SipParseError) as info:
        parse_message(b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\nbroken line\r\n\r\n")
    assert info.value.line == 3
    assert "line 3" in str(info.value)
    with pytest.raises(SipParseError) as info:  # continuation lines count as lines of their own
        parse_message(b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n y\r\nTo: z\r\nbroken line\r\n\r\n")
    assert info.value.line == 5


# -- limits against abuse ---------------------------------------------------------------------------


def _options(*headers: str) -> bytes:
    return ("OPTIONS sip:a@example.org SIP/2.0\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n").encode()


def test_too_many_headers() -> None:
    parse_message(_options(*(f"X-H{i}: v" for i in range(MAX_HEADERS))))
    with pytest.raises(SipParseError, match="Too many headers"):
        parse_message(_options(*(f"X-H{i}: v" for i in range(MAX_HEADERS + 1))))


def test_header_too_long() -> None:
    parse_message(_options("X-Long: " + "a" * (MAX_HEADER_LENGTH - 8)))
    with pytest.raises(SipParseError, match="Header too long"):
        parse_message(_options("X-Long: " + "a" * MAX_HEADER_LENGTH))
    with pytest.raises(SipParseError, match="Header too long"):
        parse_message(_options("X-Long: a", *([" " + "b" * 1000] * 20)))  # by folding


def test_too_many_vias() -> None:
    ok = parse_message(_options(*(f"Via: SIP/2.0/UDP h{i}.example.net" for i in range(MAX_VIAS))))
    assert len(ok.vias) == MAX_VIAS
    over = parse_message(_options("Via: " + ", ".join(f"SIP/2.0/UDP h{i}.example.net" for i in range(MAX_VIAS + 1))))
    with pytest.raises(SipParseError, match="Too many Via"):
        over.vias  # noqa: B018


def test_message_too_large() -> None:
    with pytest.raises(SipParseError, match="Message Too Large"):
        parse_message(_options() + b"x" * MAX_MESSAGE_SIZE)


@pytest.mark.parametrize(
    ("header", "view"),
    [
        ("Via: SIP/2.0/UDP h" + ";x" * 5000 + ";", "vias"),  # many parameters, the last one empty
        ("Via: " + "SIP/2.0/UDP h, " * 60 + ",", "vias"),  # many values, the last one empty
        ("Via: SIP / 2.0 / UDP h" + " ; x = y" * 1500 + " ; ", "vias"),  # whitespace everywhere
        ('Contact: "' + "\\\\" * 5000, "contacts"),  # unterminated quoted string full of quoted-pairs
        ("Contact: " + "<" * 10000, "contacts"),
        ("Contact: <sip:a@b>" + " ;  x = y " * 1000 + ";", "contacts"),
        ("Contact: <sip:a@b>;p=" + '"' + 'a\\"' * 3000, "contacts"),
        ("From: " + "word " * 3000 + "<sip:a@b", "from_"),
        ("From: " + "w" * 15000 + "<sip:a@b>;tag=" + "t" * 100 + ";", "from_"),
        ("To: sip:" + "a" * 15000 + "@", "to"),
        ("To: <sip:" + "a;" * 7000 + "@>", "to"),
        ("Route: " + '"a,' * 5000, "routes"),
        ("Record-Route: " + "<sip:a@b>," * 1500 + "<", "record_routes"),
    ],
)
def test_hostile_values_fail_cleanly(header: str, view: str) -> None:
    """Long pathological values end in SipParseError (and in linear time: the regular expressions
    have no nested ambiguous quantifiers; the benchmark covers speed)."""
    message = parse_message(_options(header))
    with pytest.raises(SipParseError):
        getattr(message, view)
