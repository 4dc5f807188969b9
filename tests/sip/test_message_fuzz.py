"""Nothing but SipParseError ever comes out of the parser (RFC 4475 §1: "a parser must not break").

Random octets and mutated valid messages go through parse_message, StreamParser, every parsed view
and check_request. The example counts keep the run to a few seconds (CI); set the environment
variable SIP_FUZZ_EXAMPLES to run longer.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.sip.message import SipParseError, SipRequest, StreamParser, check_request, make_response, parse_message
from tests.sip.messages import load, names

EXAMPLES = int(os.environ.get("SIP_FUZZ_EXAMPLES", "250"))
SEEDS = [load(name) for name in names("rfc4475") + names("rfc5118") + names("sipp", ".msg")]
# Octets that matter to the grammar, to be inserted where they hurt.
SPECIAL = [b"\r\n", b"\r", b"\n", b" ", b"\t", b":", b";", b",", b"<", b">", b'"', b"\\", b"%", b"@", b"[", b"]",
           b"=", b"?", b"/", b"\x00", b"\xff", b"\xc3", b"SIP/2.0", b"sip:", b"\r\n ", b"Via: ",
           b"Content-Length: 9"]  # fmt: skip


def exercise(data: bytes) -> None:
    try:
        message = parse_message(data)
    except SipParseError:
        return
    for view in ("vias", "from_", "to", "call_id", "cseq", "contacts", "contact_star", "routes", "record_routes",
                 "max_forwards", "expires", "content_type"):  # fmt: skip
        try:
            getattr(message, view)
        except SipParseError:
            pass
    for name, _value in list(message.headers):
        message.header_values(name)
    if isinstance(message, SipRequest):
        try:
            message.uri  # noqa: B018
        except SipParseError:
            pass
        check_request(message, allowed_methods=frozenset({"INVITE", "ACK", "BYE"}), accepted_content_types=frozenset())
        make_response(message, 400, to_tag="fz").encode()
    message.encode()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        position = draw(st.integers(min_value=0, max_value=len(data)))
        action = draw(st.integers(min_value=0, max_value=3))
        if action == 0:
            data[position:position] = draw(st.sampled_from(SPECIAL))
        elif action == 1:
            data[position : position + draw(st.integers(min_value=1, max_value=20))] = b""
        elif action == 2:
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        else:
            end = position + draw(st.integers(min_value=1, max_value=40))
            data[position:position] = data[position:end]  # duplicate a slice
    return bytes(data)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_random_octets(data: bytes) -> None:
    exercise(data)
    exercise(b"INVITE sip:a@b SIP/2.0\r\n" + data)


@settings(max_examples=EXAMPLES * 2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_valid_messages(data: bytes) -> None:
    exercise(data)


@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated(), min_size=1, max_size=4), st.integers(min_value=1, max_value=700))
def test_stream_parser_with_mutated_messages(messages: list[bytes], chunk: int) -> None:
    stream = b"".join(messages)
    parser = StreamParser()
    try:
        for start in range(0, len(stream), chunk):
            for message in parser.feed(stream[start : start + chunk]):
                exercise(message.encode())
    except SipParseError:
        pass
