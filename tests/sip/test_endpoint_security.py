"""Who may use the endpoint: digest (RFC 3261 §22, RFC 7616), no user enumeration, bans, ACLs, guests, rate limit.

Issue "SIP" §5 and §9: the same answer for an unknown user and a wrong password; a source that keeps failing
is banned for a while; a user's permit/deny networks; unauthenticated sources reach only the guest context;
nonces expire (stale=true, RFC 7616 §3.3) and a replayed nonce-count is refused; credentials are bound to the
Request-URI they were computed for (RFC 7616 §3.4.6); a source above the request rate is dropped.
"""

from __future__ import annotations

import pytest

from core.sip.message import SipUri
from core.sip.session import IncomingCall
from core.sip.settings import SipTrunkSettings, SipUserSettings
from tests.sip.endpoint_harness import (
    GATEWAY,
    OFFER,
    Harness,
    Phone,
    authorization,
    final_response,
    incoming_call,
    pick_challenge,
    statuses,
)


@pytest.fixture
def harness() -> Harness:
    return Harness()


@pytest.fixture
def alice(harness: Harness) -> Phone:
    return Phone(harness, "1001")


# -- digest ------------------------------------------------------------------------------------------------------


def test_sha256_credentials_for_an_md5_challenge_are_refused(harness: Harness, alice: Phone) -> None:
    call = alice.new_call()
    (challenge,) = call.send(call.make_invite())
    params = pick_challenge(challenge.response, "MD5")
    forged = authorization({**params, "algorithm": "SHA-256"}, method="INVITE", uri=call.request_uri,
                           username="1001", password="secret-1001")
    sent = call.send(call.make_invite(authorization=forged))
    assert statuses(sent) == [401]
    assert harness.events() == []


def test_unknown_user_and_wrong_password_get_the_same_answer(harness: Harness) -> None:
    """Issue §9 / RFC 3261 §26.3.2.4: no response tells whether an extension exists."""
    answers = []
    for user, password in (("1001", "wrong"), ("7777", "wrong")):
        phone = Phone(harness, user, secret=password, address=("192.0.2.30", 5062))
        call = phone.new_call("1002")
        sent = call.call()
        response = final_response(sent)
        names = sorted({name.lower() for name, _ in response.headers} - {"content-length"})
        stale = [pick_challenge(response, a).get("stale") for a in ("MD5", "SHA-256")]
        answers.append((response.status, response.reason, names, stale))
    assert answers[0] == answers[1]
    assert answers[0][0] == 401


def test_register_unknown_user_and_wrong_password_get_the_same_answer(harness: Harness) -> None:
    answers = []
    for user in ("1001", "7777"):
        phone = Phone(harness, user, secret="wrong", address=("192.0.2.31", 5060))
        response = phone.register()
        answers.append((response.status, response.reason,
                        sorted({name.lower() for name, _ in response.headers})))
    assert answers[0] == answers[1] and answers[0][0] == 401


def test_credentials_are_bound_to_the_request_uri(harness: Harness, alice: Phone) -> None:
    call = alice.new_call("1002")
    (challenge,) = call.send(call.make_invite())
    call.send(call.make_ack(challenge.response))
    credentials = authorization(pick_challenge(challenge.response), method="INVITE", uri=f"sip:1002@{GATEWAY[0]}",
                                username="1001", password="secret-1001")
    call.request_uri = f"sip:19005550100@{GATEWAY[0]}"  # rewritten on the way, credentials kept
    sent = call.send(call.make_invite(authorization=credentials))
    assert statuses(sent) in ([400], [401], [403])
    assert harness.events() == []


# -- bans and ACLs --------------------------------------------------------------------------------------------


def test_repeated_failures_ban_the_source() -> None:
    harness = Harness(auth_failures_before_ban=3, ban_time=600.0)
    mallory = Phone(harness, "1001", secret="guess", address=("203.0.113.66", 5060))
    finals = []
    for _ in range(3):
        call = mallory.new_call("1002")
        finals.append(final_response(call.call()).status)
    assert finals == [401, 401, 403]
    # Banned: even the right password gets no answer at all, for any request.
    honest = Phone(harness, "1001", address=("203.0.113.66", 5060))
    call = honest.new_call("1002")
    assert call.send(call.make_invite()) == []
    assert honest.send(honest.make_register()) == []
    assert harness.events() == []
    # Another address is not affected.
    other = Phone(harness, "1001", address=("192.0.2.10", 5060))
    assert incoming_call(harness, other)[1].user == "1001"
    # The ban lapses.
    harness.clock.now += 601.0
    assert incoming_call(harness, honest)[1].user == "1001"


def test_a_retransmitted_wrong_password_counts_once_towards_the_ban() -> None:
    # The challenge to a REGISTER without credentials is stateless (RFC 3261 §8.2.7), the one that answers wrong
    # credentials is not: its transaction absorbs the retransmissions (§17.2.2), which are not new failures.
    harness = Harness(auth_failures_before_ban=2, ban_time=600.0)
    mallory = Phone(harness, "1001", secret="guess", address=("203.0.113.66", 5060))
    (challenge,) = mallory.send(mallory.make_register())
    assert challenge.status == 401
    credentials = authorization(pick_challenge(challenge.response), method="REGISTER", uri=f"sip:{GATEWAY[0]}",
                                username="1001", password="guess")
    wrong = mallory.make_register(authorization=credentials)
    (refused,) = mallory.send(wrong)
    assert refused.status == 401
    for _ in range(3):  # our 401 was lost: Timer E brings the same REGISTER back
        assert [s.data for s in mallory.send(wrong)] == [refused.data]
    assert [s.status for s in mallory.send(mallory.make_register())] == [401]  # one failure so far: not banned

def test_a_users_acl_refuses_other_networks_like_a_wrong_password() -> None:
    users = (SipUserSettings(name="1001", secret="secret-1001", permit=("192.0.2.0/24",)),
             SipUserSettings(name="1002", secret="secret-1002"))
    harness = Harness(users=users)
    outside = Phone(harness, "1001", address=("198.51.100.9", 5060))
    call = outside.new_call("1002")
    assert final_response(call.call()).status == 401
    assert harness.events() == []
    inside = Phone(harness, "1001", address=("192.0.2.10", 5060))
    assert incoming_call(harness, inside)[1].user == "1001"


# -- guests --------------------------------------------------------------------------------------------------


def test_a_guest_reaches_only_the_guest_context() -> None:
    harness = Harness(guest_context="public")
    guest = Phone(harness, "stranger", secret="", address=("203.0.113.5", 5060))
    call = guest.new_call("100")
    assert call.send(call.make_invite()) == []
    (event,) = harness.events()
    assert isinstance(event, IncomingCall)
    assert event.call.context == "public" and event.call.user is None and event.call.dnid == "100"


def test_a_guest_using_a_users_name_is_challenged() -> None:
    harness = Harness(guest_context="public")
    impostor = Phone(harness, "1001", secret="", address=("203.0.113.5", 5060))
    call = impostor.new_call("100")
    assert statuses(call.send(call.make_invite())) == [401]
    assert harness.events() == []


def test_without_a_guest_context_strangers_are_refused(harness: Harness) -> None:
    guest = Phone(harness, "stranger", secret="", address=("203.0.113.5", 5060))
    call = guest.new_call("100")
    assert statuses(call.send(call.make_invite())) == [401]
    assert harness.events() == []


# -- nonces -------------------------------------------------------------------------------------------------


def test_a_replayed_register_authorization_is_refused(harness: Harness) -> None:
    alice = Phone(harness, "1001")
    (challenge,) = alice.send(alice.make_register(expires=600))
    params = pick_challenge(challenge.response, "MD5")
    credentials = authorization(params, method="REGISTER", uri=f"sip:{GATEWAY[0]}", username="1001",
                                password="secret-1001")
    assert statuses(alice.send(alice.make_register(expires=600, authorization=credentials))) == [200]
    # The same nonce-count again (a captured request replayed) is not accepted (RFC 7616 §3.3 / §5.1).
    assert statuses(alice.send(alice.make_register(expires=600, authorization=credentials))) == [401]


def test_an_expired_nonce_is_answered_stale(harness: Harness) -> None:
    alice = Phone(harness, "1001")
    (challenge,) = alice.send(alice.make_register(expires=600))
    params = pick_challenge(challenge.response, "MD5")
    harness.clock.now += 120.0
    credentials = authorization(params, method="REGISTER", uri=f"sip:{GATEWAY[0]}", username="1001",
                                password="secret-1001")
    (stale,) = alice.send(alice.make_register(expires=600, authorization=credentials))
    assert stale.status == 401
    assert pick_challenge(stale.response, "MD5").get("stale", "").lower() == "true"
    # Not a failure: it does not count toward a ban.
    assert harness.endpoint.bans.entries(harness.now) == []


# -- rate limit ---------------------------------------------------------------------------------------------


def test_requests_above_the_rate_limit_are_dropped() -> None:
    harness = Harness(requests_per_second=5.0, request_burst=10)
    flood = Phone(harness, "1001", address=("203.0.113.77", 5060))
    answered = 0
    for _ in range(15):
        call = flood.new_call("1002")
        answered += len(call.send(call.make_request("OPTIONS")))
    assert answered == 10  # the burst, then silence
    assert harness.endpoint.stats["dropped_rate"] == 5
    # Others are not affected; the source gets its rate back with time.
    other = Phone(harness, "1001", address=("192.0.2.10", 5060))
    call = other.new_call("1002")
    assert statuses(call.send(call.make_request("OPTIONS"))) == [200]
    harness.clock.now += 1.0
    refilled = sum(len(flood.send(flood.new_call("1002").make_request("OPTIONS"))) for _ in range(8))
    assert refilled == 5


def test_responses_are_not_rate_limited() -> None:
    """A busy trunk's answers must not be dropped with its requests (only requests count)."""
    itsp_address = ("198.51.100.7", 5060)
    harness = Harness(trunks=(SipTrunkSettings(name="itsp", servers=(itsp_address,)),),
                      requests_per_second=1.0, request_burst=1)
    itsp = Phone(harness, "x", address=itsp_address)
    invites = []
    for _ in range(3):
        harness.endpoint.invite(uri=SipUri.parse("sip:1@198.51.100.7"), destination=itsp_address, from_user="1001",
                                sdp=OFFER, now=harness.now, trunk="itsp")
        invites.append(harness.drain()[0].request)
    for invite in invites:
        itsp.send(itsp.make_response(invite, 180, to_tag="t"))
    assert [type(e).__name__ for e in harness.events()] == ["CallProgress"] * 3


@pytest.mark.parametrize("uri", [
    f"sip:%31002@{GATEWAY[0]}",          # the same URI with an escaped user (§19.1.4: compared unescaped)
    f"SIP:1002@{GATEWAY[0]}",            # scheme case
    f"sip:{GATEWAY[0]}",                 # SIPp's default digest uri: host and port only, no one's number
])
def test_credentials_for_an_equivalent_uri_are_accepted(harness: Harness, alice: Phone, uri: str) -> None:
    call = alice.new_call("1002")
    (challenge,) = call.send(call.make_invite())
    call.send(call.make_ack(challenge.response))
    credentials = authorization(pick_challenge(challenge.response), method="INVITE", uri=uri,
                                username="1001", password="secret-1001")
    call.send(call.make_invite(authorization=credentials))
    assert [type(e).__name__ for e in harness.events()] == ["IncomingCall"]


@pytest.mark.parametrize("uri", [
    f"sip:1002@{GATEWAY[0]}:5070",       # another port
    "sip:1002@198.51.100.1",             # another host
    "sip:198.51.100.1",                  # host-only, but another host
    f"sip:1002@{GATEWAY[0]};user=phone",  # a parameter only one side has (§19.1.4: user= must match)
])
def test_credentials_for_another_uri_are_400_and_count_towards_a_ban(uri: str) -> None:
    harness = Harness(auth_failures_before_ban=2)
    alice = Phone(harness, "1001")
    finals = []
    for _ in range(2):
        call = alice.new_call("1002")
        (challenge,) = call.send(call.make_invite())
        call.send(call.make_ack(challenge.response))
        credentials = authorization(pick_challenge(challenge.response), method="INVITE", uri=uri,
                                    username="1001", password="secret-1001")
        finals.append(final_response(call.send(call.make_invite(authorization=credentials))).status)
    assert finals == [400, 400]
    assert harness.events() == []
    assert harness.endpoint.bans.is_banned(alice.address[0], harness.now)
