"""Building messages: make_response (RFC 3261 §8.2.6), encode, the header multi-map, tags, status codes."""

from __future__ import annotations

import pytest

from core.sip.message import (
    CSeq,
    Headers,
    NameAddr,
    SipRequest,
    SipResponse,
    SipUri,
    Status,
    Via,
    make_response,
    new_branch,
    new_call_id,
    new_tag,
    parse_message,
    reason_phrase,
)
from tests.sip.messages import load

INVITE = (
    b"INVITE sip:2001@198.51.100.1 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 203.0.113.9:5062;branch=z9hG4bKproxy1;received=203.0.113.9\r\n"
    b"Via: SIP/2.0/UDP 198.51.100.77;branch=z9hG4bKphone1;rport=5060, SIP/2.0/TCP 10.0.0.2;branch=z9hG4bKx\r\n"
    b"Max-Forwards: 69\r\n"
    b'From: "Ana" <sip:1001@198.51.100.1>;tag=ana-1\r\n'
    b"To: <sip:2001@198.51.100.1>\r\n"
    b"Call-ID: build-1@198.51.100.77\r\n"
    b"CSeq: 7 INVITE\r\n"
    b"Timestamp: 54.2 0.1\r\n"
    b"Contact: <sip:1001@198.51.100.77>\r\n"
    b"Record-Route: <sip:203.0.113.9;lr>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 4\r\n"
    b"\r\n"
    b"v=0\n"
)


def invite() -> SipRequest:
    message = parse_message(INVITE)
    assert isinstance(message, SipRequest)
    return message


def test_make_response_copies_what_rfc3261_8_2_6_2_says() -> None:
    response = make_response(invite(), 180, to_tag="b0b")
    assert response.encode() == (
        b"SIP/2.0 180 Ringing\r\n"
        b"Via: SIP/2.0/UDP 203.0.113.9:5062;branch=z9hG4bKproxy1;received=203.0.113.9\r\n"
        b"Via: SIP/2.0/UDP 198.51.100.77;branch=z9hG4bKphone1;rport=5060, SIP/2.0/TCP 10.0.0.2;branch=z9hG4bKx\r\n"
        b'From: "Ana" <sip:1001@198.51.100.1>;tag=ana-1\r\n'
        b"To: <sip:2001@198.51.100.1>;tag=b0b\r\n"
        b"Call-ID: build-1@198.51.100.77\r\n"
        b"CSeq: 7 INVITE\r\n"
        b"Content-Length: 0\r\n"
        b"\r\n"
    )
    assert [v.branch for v in response.vias] == ["z9hG4bKproxy1", "z9hG4bKphone1", "z9hG4bKx"]
    assert response.to.tag == "b0b"


def test_make_response_keeps_an_existing_to_tag() -> None:
    """§8.2.6.2: the tag is added only when the request's To had none (in-dialog requests have one)."""
    data = INVITE.replace(b"To: <sip:2001@198.51.100.1>", b"To: <sip:2001@198.51.100.1>;tag=already")
    request = parse_message(data)
    assert isinstance(request, SipRequest)
    response = make_response(request, 200, to_tag="other")
    assert response.header("To") == "<sip:2001@198.51.100.1>;tag=already"


def test_make_response_to_an_addr_spec_to() -> None:
    request = parse_message(load("rfc4475/lwsdisp.sip"))
    assert isinstance(request, SipRequest)
    response = make_response(request, 200, to_tag="t1")
    assert response.header("To") == "sip:ana@example.org;tag=t1"
    assert response.to.uri.params == {} and response.to.tag == "t1"


def test_100_trying_copies_timestamp_and_needs_no_tag() -> None:
    """§8.2.6.1: Timestamp is copied into a 100 (Trying)."""
    response = make_response(invite(), 100)
    assert response.reason == "Trying"
    assert response.header("Timestamp") == "54.2 0.1"
    assert response.to.tag is None
    assert make_response(invite(), 180).header("Timestamp") is None


def test_reason_phrases() -> None:
    assert make_response(invite(), 486).reason == "Busy Here"
    assert make_response(invite(), 603, "Nope").reason == "Nope"
    assert make_response(invite(), 299).reason == "OK"  # unknown code: its class's x00 (§8.1.3.2)
    assert make_response(invite(), 488).encode().startswith(b"SIP/2.0 488 Not Acceptable Here\r\n")


def test_encode_sets_content_length_in_place() -> None:
    request = invite()
    request.body = b"v=0\r\no=- 1 1 IN IP4 198.51.100.77\r\n"
    data = request.encode()
    assert b"Content-Length: 35\r\n" in data
    assert data.count(b"Content-Length") == 1
    assert data.index(b"Content-Type") < data.index(b"Content-Length")  # where it was
    again = parse_message(data)
    assert again.body == request.body
    assert again.header("Content-Length") == "35"
    assert [h for h in again.headers if h[0] != "Content-Length"] == [
        h for h in request.headers if h[0] != "Content-Length"
    ]


def test_encode_adds_content_length_and_uses_long_names() -> None:
    data = b"OPTIONS sip:a@example.org SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\ni: c1\r\nl: 0\r\n\r\n"
    message = parse_message(data)
    assert message.encode() == (
        b"OPTIONS sip:a@example.org SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCall-ID: c1\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    message.remove_header("Content-Length")
    message.body = b"abc"
    assert message.encode().endswith(b"Call-ID: c1\r\nContent-Length: 3\r\n\r\nabc")


def test_build_a_request_from_parts() -> None:
    request = SipRequest("OPTIONS", SipUri("sip", "ana", host="2001:db8::1", port=5070))
    request.add_header("Via", str(Via("UDP", "198.51.100.7", 5060, {"branch": new_branch(), "rport": None})))
    request.add_header("From", str(NameAddr("Beto", SipUri.parse("sip:beto@example.net"), {"tag": new_tag()})))
    request.add_header("To", str(NameAddr(None, SipUri.parse("sip:ana@example.org"))))
    request.add_header("Call-ID", new_call_id("198.51.100.7"))
    request.add_header("CSeq", str(CSeq(1, "OPTIONS")))
    request.add_header("Max-Forwards", "70")
    data = request.encode()
    assert data.startswith(b"OPTIONS sip:ana@[2001:db8::1]:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7:5060;branch=")
    parsed = parse_message(data)
    assert isinstance(parsed, SipRequest)
    assert parsed.uri == request.uri
    assert parsed.vias[0].rport == ""
    assert parsed.from_.display_name == "Beto"
    assert parsed.call_id.endswith("@198.51.100.7")
    assert parsed.cseq == CSeq(1, "OPTIONS")


def test_assigning_the_request_uri_changes_what_is_sent() -> None:
    request = invite()
    assert request.encode().startswith(b"INVITE sip:2001@198.51.100.1 SIP/2.0\r\n")
    request.uri = SipUri.parse("sip:2001@203.0.113.50:5080;transport=tcp")
    assert request.encode().startswith(b"INVITE sip:2001@203.0.113.50:5080;transport=tcp SIP/2.0\r\n")


def test_response_built_from_parts() -> None:
    response = SipResponse(Status.BUSY_HERE)
    assert (response.status, response.reason) == (486, "Busy Here")
    assert response.encode() == b"SIP/2.0 486 Busy Here\r\nContent-Length: 0\r\n\r\n"


def test_branches_tags_and_call_ids_are_fresh() -> None:
    branches = {new_branch() for _ in range(200)}
    assert len(branches) == 200
    assert all(b.startswith("z9hG4bK") and len(b) > 7 + 8 for b in branches)  # RFC 3261 §8.1.1.7
    assert len({new_tag() for _ in range(200)}) == 200
    assert len({new_call_id() for _ in range(200)}) == 200
    assert "@" not in new_call_id() and new_call_id("h.example").endswith("@h.example")


# -- Headers --------------------------------------------------------------------------------------


def test_headers_multimap() -> None:
    headers = Headers([("Via", "v1"), ("To", "t"), ("v", "v2"), ("X-A", "1")])
    assert headers.get("VIA") == "v1"
    assert headers.get_all("via") == ["v1", "v2"]
    assert headers.count("Via") == 2 and len(headers) == 4
    assert "x-a" in headers and "X-B" not in headers and 42 not in headers
    headers.add("Via", "v0", first=True)
    assert list(headers)[0] == ("Via", "v0")
    headers.set("Via", "only")
    assert headers.get_all("Via") == ["only"]
    assert list(headers) == [("Via", "only"), ("To", "t"), ("X-A", "1")]  # where the first one was
    headers.set("Subject", "new")
    assert list(headers)[-1] == ("Subject", "new")
    assert headers.remove("x-a") == 1 and headers.remove("x-a") == 0
    copy = headers.copy()
    copy.add("To", "t2")
    assert headers.get_all("To") == ["t"]
    assert repr(headers).startswith("Headers([")


@pytest.mark.parametrize("name", ["Bad Name", "With:Colon", "", "Line\r\nBreak"])
def test_headers_refuse_names_that_are_not_tokens(name: str) -> None:
    with pytest.raises(ValueError):
        Headers().add(name, "x")


@pytest.mark.parametrize("value", ["a\r\nInjected: yes", "a\rb", "a\nb"])
def test_headers_refuse_line_breaks_in_values(value: str) -> None:
    """A value with CR or LF would inject header lines on the wire."""
    with pytest.raises(ValueError):
        Headers().add("Subject", value)
    with pytest.raises(ValueError):
        Headers().set("Subject", value)


# -- Status ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "phrase"),
    [(100, "Trying"), (180, "Ringing"), (183, "Session Progress"), (199, "Early Dialog Terminated"), (200, "OK"),
     (202, "Accepted"), (204, "No Notification"), (302, "Moved Temporarily"), (401, "Unauthorized"),
     (407, "Proxy Authentication Required"), (416, "Unsupported URI Scheme"), (420, "Bad Extension"),
     (422, "Session Interval Too Small"), (423, "Interval Too Brief"), (481, "Call/Transaction Does Not Exist"),
     (483, "Too Many Hops"), (487, "Request Terminated"), (489, "Bad Event"), (491, "Request Pending"),
     (494, "Security Agreement Required"), (500, "Server Internal Error"), (504, "Server Time-out"),
     (505, "Version Not Supported"), (513, "Message Too Large"), (580, "Precondition Failure"),
     (603, "Decline"), (604, "Does Not Exist Anywhere"), (607, "Unwanted"), (608, "Rejected")],
)  # fmt: skip
def test_status_phrases(code: int, phrase: str) -> None:
    """RFC 3261 §21 and the IANA SIP response-code registry."""
    status = Status(code)
    assert status.phrase == phrase
    assert f"{status} {status.phrase}" == f"{code} {phrase}"
    assert reason_phrase(code) == phrase


def test_every_rfc3261_status_is_there() -> None:
    rfc3261 = {100, 180, 181, 182, 183, 200, 300, 301, 302, 305, 380, 400, 401, 402, 403, 404, 405, 406, 407, 408,
               410, 413, 414, 415, 416, 420, 421, 423, 480, 481, 482, 483, 484, 485, 486, 487, 488, 491, 493, 500,
               501, 502, 503, 504, 505, 513, 600, 603, 604, 606}  # fmt: skip
    assert rfc3261 <= {int(member) for member in Status}
    assert int(Status.OK) == 200 and Status(486) is Status.BUSY_HERE


@pytest.mark.parametrize(("code", "phrase"), [(199, "Early Dialog Terminated"), (299, "OK"), (418, "Bad Request"),
                                              (599, "Server Internal Error"), (699, "Busy Everywhere")])  # fmt: skip
def test_reason_phrase_of_unknown_codes_is_the_class_default(code: int, phrase: str) -> None:
    """RFC 3261 §8.1.3.2: an unrecognised code is treated as the x00 code of its class."""
    assert reason_phrase(code) == phrase


@pytest.mark.parametrize("materialised", [False, True])
def test_replace_first_changes_only_the_first_line_of_a_header(materialised: bool) -> None:
    raw = (b"OPTIONS sip:x@192.0.2.1 SIP/2.0\r\nv: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK1\r\nX-Odd: 1\r\n"
           b"Via: SIP/2.0/UDP 192.0.2.8;branch=z9hG4bK2\r\nTo: <sip:x@192.0.2.1>\r\nFrom: <sip:y@192.0.2.9>;tag=a\r\n"
           b"Call-ID: c@192.0.2.9\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
    message = parse_message(raw)
    if materialised:
        list(message.headers)
    assert message.vias[0].host == "192.0.2.9"
    message.headers.replace_first("Via", "SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK1;received=198.51.100.7")
    assert message.vias[0].received == "198.51.100.7"  # the parsed view follows
    assert message.header_values("Via")[1] == "SIP/2.0/UDP 192.0.2.8;branch=z9hG4bK2"
    assert message.encode().split(b"\r\n")[1:4] == [
        b"Via: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK1;received=198.51.100.7", b"X-Odd: 1",
        b"Via: SIP/2.0/UDP 192.0.2.8;branch=z9hG4bK2"]
    message.headers.replace_first("Subject", "none before")  # absent: added at the end
    assert list(message.headers)[-1] == ("Subject", "none before")
