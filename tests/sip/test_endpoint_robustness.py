"""Whatever the network sends, the endpoint neither raises nor keeps state it cannot get rid of.

Issue "SIP" §1/§9: nothing raises out of the core, an invalid request gets a 400 naming the problem, an
invalid response is dropped, a response matching no transaction is dropped (RFC 3261 §17.1.3 / §18.1.2).
Hypothesis feeds random bytes and mutations of valid messages (byte flips, cuts, insertions, duplicated or
deleted header lines) into ``receive_datagram``; after each run every call the driver hangs up leaves the
wire with a final response or BYE and, 64*T1 later, no transaction, call or dialog remains.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.causes import HangupCause
from core.sip.endpoint import raw_bad_request
from core.sip.message import SipResponse, parse_message
from core.sip.session import CallEnded, IncomingCall
from tests.sip.endpoint_harness import (
    ANSWER,
    GATEWAY,
    OFFER,
    Harness,
    Phone,
    answered_call,
    authorization,
    pick_challenge,
    statuses,
)

STRANGER = ("203.0.113.5", 5060)
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def guest_harness() -> Harness:
    # Unauthenticated calls reach a context, so that mutated INVITEs get as deep as the call logic.
    return Harness(guest_context="public", requests_per_second=1e6, request_burst=1_000_000)


def valid_messages() -> list[bytes]:
    """One of each kind a peer sends: an INVITE, a REGISTER, in-dialog requests, a response."""
    harness = guest_harness()
    guest = Phone(harness, "stranger", secret="", address=STRANGER)
    call = guest.new_call("100")
    invite = call.make_invite(OFFER, headers=["Session-Expires: 1800", "Supported: timer, 100rel"])
    call.remote_tag = "abc123"
    info = call.make_request("INFO", body=b"Signal=5\r\nDuration=160\r\n", content_type="application/dtmf-relay")
    refer = call.make_request("REFER", headers=["Refer-To: <sip:1003@192.0.2.1>"])
    bye = call.make_request("BYE", headers=['Reason: Q.850;cause=16'])
    register = guest.make_register(expires=600)
    ok = guest.make_response(invite, 200, to_tag="t", body=ANSWER)
    return [m.encode() for m in (invite, info, refer, bye, register, ok)]


VALID = valid_messages()


def mutate(data: bytes, operations: list[tuple[str, int, int]]) -> bytes:
    out = bytearray(data)
    for operation, position, value in operations:
        if not out:
            break
        at = position % len(out)
        if operation == "flip":
            out[at] ^= 1 << (value % 8)
        elif operation == "set":
            out[at] = value % 256
        elif operation == "insert":
            out[at:at] = bytes([value % 256]) * (1 + value % 7)
        elif operation == "delete":
            del out[at:at + 1 + value % 16]
        elif operation == "truncate":
            del out[at:]
        elif operation in ("dup_line", "drop_line"):
            lines = bytes(out).split(b"\r\n")
            index = position % len(lines)
            if operation == "dup_line":
                lines.insert(index, lines[index])
            else:
                del lines[index]
            out = bytearray(b"\r\n".join(lines))
    return bytes(out)


OPERATIONS = st.lists(st.tuples(st.sampled_from(["flip", "set", "insert", "delete", "truncate", "dup_line",
                                                 "drop_line"]),
                                st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=6)


def settle(harness: Harness) -> None:
    """Play the driver: hang up every call the endpoint announced, then let every timer run out."""
    for event in harness.events():
        if isinstance(event, IncomingCall):
            harness.endpoint.hangup(event.call, HangupCause.NORMAL_CLEARING, harness.now)
    for call in list(harness.endpoint.live_calls.values()):
        harness.endpoint.hangup(call, HangupCause.NORMAL_CLEARING, harness.now)
    harness.drain()
    harness.advance(70.0)  # beyond 64*T1 and Timers D/H/I/J/K
    harness.events()
    endpoint = harness.endpoint
    assert endpoint.tx.transaction_count == 0
    assert endpoint.live_calls == {} and endpoint.calls == {} and endpoint.pending_uas == {}
    assert endpoint.by_client == {}


BARE_CR_OR_LF = re.compile(rb"\r(?!\n)|(?<!\r)\n")


def assert_well_formed(harness: Harness) -> None:
    """Everything we sent parses, has no bare CR or LF in its header block, and was parsed back alike."""
    assert harness.malformed == []
    for sent in harness.sent:
        assert BARE_CR_OR_LF.search(sent.data.split(b"\r\n\r\n", 1)[0]) is None, sent.data
        reparsed = parse_message(sent.data)
        assert type(reparsed) is type(sent.message)


@FUZZ
@given(data=st.binary(max_size=2000))
def test_random_bytes_never_raise(data: bytes) -> None:
    harness = guest_harness()
    harness.feed(data, STRANGER)
    harness.feed(b"INVITE sip:100@192.0.2.1 SIP/2.0\r\n" + data, STRANGER)
    harness.feed(b"SIP/2.0 200 OK\r\n" + data, STRANGER)
    assert_well_formed(harness)
    for sent in harness.sent:
        assert sent.status == 400 and sent.destination == STRANGER
    settle(harness)


@FUZZ
@given(index=st.integers(0, len(VALID) - 1), operations=OPERATIONS)
def test_mutated_messages_never_raise_nor_leave_state(index: int, operations: list[tuple[str, int, int]]) -> None:
    harness = guest_harness()
    data = mutate(VALID[index], operations)
    harness.feed(data, STRANGER)
    harness.feed(data, STRANGER)  # and its retransmission
    assert_well_formed(harness)
    assert all(s.destination == STRANGER for s in harness.sent)
    settle(harness)


@FUZZ
@given(operations=st.lists(OPERATIONS, min_size=1, max_size=4), pick=st.lists(st.integers(1, 3), min_size=1,
                                                                                 max_size=4))
def test_mutated_in_dialog_requests_do_not_break_an_established_call(operations: list[list[tuple[str, int, int]]],
                                                                      pick: list[int]) -> None:
    harness = Harness(requests_per_second=1e6, request_burst=1_000_000)
    alice = Phone(harness, "1001")
    call, sip_call = answered_call(harness, alice)
    templates = [call.make_request("INFO", body=b"Signal=5\r\n", content_type="application/dtmf-relay"),
                 call.make_request("UPDATE"), call.make_request("OPTIONS"), call.make_invite(OFFER)]
    for ops, which in zip(operations, pick, strict=False):
        harness.feed(mutate(templates[which].encode(), ops), alice.address)
    assert_well_formed(harness)
    for event in harness.events():
        if type(event).__name__ == "ReinviteReceived":
            harness.endpoint.answer_reinvite(sip_call, 200, ANSWER, harness.now)
    harness.drain()
    if not sip_call.ended:
        # The phone can still end the call: its BYE, a CSeq above anything the fuzz may have used.
        call.cseq = 10_000_000
        sent = call.send(call.make_request("BYE"))
        assert statuses(sent) == [200]
        assert any(isinstance(e, CallEnded) for e in harness.events())
    settle(harness)


# -- specific cases --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("junk", [b"\r\x0b", b"\rX-Injected: 1\r\n"])
def test_the_400_to_an_unparsable_request_is_well_formed(junk: bytes) -> None:
    harness = Harness()
    data = VALID[1].replace(b";rport\r\n", b";rport" + junk, 1)
    harness.feed(data, STRANGER)
    assert harness.malformed == []
    assert statuses(harness.sent) == [400]


@pytest.mark.parametrize("status", [100, 180, 200, 486])
def test_a_response_that_matches_nothing_is_dropped(status: int) -> None:
    harness = Harness()
    stray = ("198.51.100.50", 5060)
    alice = Phone(harness, "1001", address=stray)
    call = alice.new_call("1002")
    request = call.make_invite(OFFER)
    response = alice.make_response(request, status, to_tag="x", body=ANSWER if status == 200 else None)
    assert harness.feed(response, stray) == []
    assert harness.events() == [] and harness.endpoint.tx.transaction_count == 0


BAD_CSEQ = (b"OPTIONS sip:192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1\r\n"
            b"From: <sip:a@192.0.2.10>;tag=1\r\nTo: <sip:192.0.2.1>\r\nCall-ID: x\r\nCSeq: one OPTIONS\r\n"
            b"Content-Length: 0\r\n\r\n")


def test_an_unparsable_request_gets_400_naming_the_problem() -> None:
    harness = Harness()
    sent = harness.feed(BAD_CSEQ, ("192.0.2.10", 5060))
    assert sent and all(s.status == 400 and "CSeq" in s.response.reason for s in sent)
    assert all(s.response.call_id == "x" and s.destination == ("192.0.2.10", 5060) for s in sent)
    assert harness.events() == []


def test_an_unparsable_request_gets_one_400() -> None:
    harness = Harness()
    assert statuses(harness.feed(BAD_CSEQ, ("192.0.2.10", 5060))) == [400]


def test_an_unknown_required_extension_is_420() -> None:
    harness = Harness()
    alice = Phone(harness, "1001")
    call = alice.new_call("1002")
    (sent,) = call.send(call.make_invite(OFFER, headers=["Require: foo, 100rel"]))
    assert sent.status == 420 and sent.response.header("Unsupported") == "foo"
    assert harness.events() == []


def test_an_ack_for_nothing_is_absorbed() -> None:
    harness = Harness()
    alice = Phone(harness, "1001")
    call = alice.new_call("1002")
    call.remote_tag = "nothing"
    call.make_invite(OFFER)
    assert call.send(call.make_request("ACK", cseq=1)) == []
    assert harness.events() == []


def test_a_merged_request_is_482() -> None:
    harness = Harness(guest_context="public")
    guest = Phone(harness, "stranger", secret="", address=STRANGER)
    call = guest.new_call("100")
    invite = call.make_invite(OFFER)
    guest.send(invite)
    branch = invite.vias[0].branch
    assert branch is not None
    forked = invite.encode().replace(branch.encode(), b"z9hG4bK-otherpath")
    sent = guest.send(forked)
    assert statuses(sent) == [482]
    assert [type(e).__name__ for e in harness.events()] == ["IncomingCall"]


@pytest.mark.parametrize(("junk", "copied_from"), [
    (b"\x00", None), (b"\x1b[2J", None), (b"\x7f", None),
    (b"\rX-Injected: 1", "<sip:a@192.0.2.10>;tag=1"),   # a bare CR ends the line: the rest is not a From
])
def test_a_raw_400_leaves_out_a_value_with_a_control_character(junk: bytes, copied_from: str | None) -> None:
    """raw_bad_request copies Via, From, To, Call-ID and CSeq whole or not at all (RFC 3261 §25.1 TEXT-UTF8)."""
    data = BAD_CSEQ.replace(b"From: <sip:a@192.0.2.10>;tag=1", b"From: <sip:a@192.0.2.10>;tag=1" + junk)
    response = raw_bad_request(data, "Bad Request - \x00 odd")
    assert response is not None
    parsed = parse_message(response)
    assert isinstance(parsed, SipResponse) and parsed.status == 400 and parsed.reason == "Bad Request -   odd"
    assert junk.strip(b"\r") not in response and parsed.header("From") == copied_from
    assert parsed.call_id == "x" and parsed.header("X-Injected") is None


def test_a_merged_register_is_482_too() -> None:
    """§8.2.2.2 holds for any request without a To tag that is answered statefully (the challenge is not,
    §8.2.7: a copy of an unauthenticated REGISTER by another path is challenged again)."""
    harness = Harness()
    alice = Phone(harness, "1001")
    (challenge,) = alice.send(alice.make_register(expires=600))
    credentials = authorization(pick_challenge(challenge.response, "MD5"), method="REGISTER",
                                uri=f"sip:{GATEWAY[0]}", username="1001", password=alice.secret)
    register = alice.make_register(expires=600, authorization=credentials)
    assert statuses(alice.send(register)) == [200]
    branch = register.vias[0].branch
    assert branch is not None
    assert statuses(alice.send(register.encode().replace(branch.encode(), b"z9hG4bK-otherpath"))) == [482]
