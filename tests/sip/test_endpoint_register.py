"""REGISTER through the endpoint (registrar, RFC 3261 §10.3) and the trunk registration client (§10.2).

The registrar side: digest first (§22), then Expires / min-expires / 423 (§10.3 step 7), several contacts,
``*`` with Expires 0 (§10.2.2), a query without Contact (§10.2.3), credentials of one user for another AOR.
The client side: the REGISTER a trunk sends, one 401/407 answered with credentials, the refresh before the
granted interval ends (§10.2.4, the expires of *our* Contact), retries after a failure, failover when a
server does not answer, and what ``sip show registry`` prints.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from core.cli import CommandRegistry
from core.sip.message import SipRequest, SipResponse
from core.sip.registrar_store import SqliteBindingStore
from core.sip.session import RegistrationChanged, TrunkRegistrationChanged
from core.sip.settings import SipTrunkSettings
from firmware.sip_service import SipService
from tests.sip.endpoint_harness import (
    GATEWAY,
    WALL_EPOCH,
    Harness,
    Phone,
    Sent,
    authorization,
    challenge_params,
    first,
    pick_challenge,
)

# -- the registrar -------------------------------------------------------------------------------------------


@pytest.fixture
def harness() -> Harness:
    return Harness()


def contacts_of(response: SipResponse) -> dict[str, str]:
    """Contact URI -> its expires parameter, from a 200 to REGISTER."""
    return {str(c.uri): str(c.params.get("expires")) for c in response.contacts}


def test_register_is_challenged_then_bound(harness: Harness) -> None:
    alice = Phone(harness, "1001")
    (challenge,) = alice.send(alice.make_register(expires=600))
    assert challenge.status == 401 and pick_challenge(challenge.response, "MD5")["realm"] == "centralita"
    assert harness.events() == []
    response = alice.register(expires=600)
    assert response.status == 200
    assert contacts_of(response) == {f"sip:1001@{alice.address[0]}:{alice.address[1]}": "600"}
    assert response.header("Date")
    (event,) = harness.events()
    assert event == RegistrationChanged("1001", 1)
    (binding,) = harness.location.lookup("1001", harness.now)
    assert binding.destination == alice.address
    assert harness.endpoint.live_calls == {}



def test_the_challenge_is_stateless_and_the_registration_is_not(harness: Harness) -> None:
    """RFC 3261 §8.2.7: an unauthenticated challenge is what a stateless UAS is for.  The 401 leaves no
    transaction behind (a registrar under load would otherwise keep each challenged REGISTER 64*T1, 32 s), so a
    retransmitted REGISTER is challenged again with a fresh nonce; the 200 of the authenticated REGISTER keeps
    its transaction, and a retransmission of that REGISTER gets the same 200 without being processed again."""
    alice = Phone(harness, "1001")
    unauthenticated = alice.make_register(expires=600)
    (challenge,) = alice.send(unauthenticated)
    assert harness.endpoint.tx.transaction_count == 0
    (again,) = alice.send(unauthenticated)
    assert again.status == 401
    assert pick_challenge(again.response, "MD5")["nonce"] != pick_challenge(challenge.response, "MD5")["nonce"]
    credentials = authorization(pick_challenge(again.response, "MD5"), method="REGISTER", uri=f"sip:{GATEWAY[0]}",
                                username="1001", password=alice.secret)
    authenticated = alice.make_register(expires=600, authorization=credentials)
    (ok,) = alice.send(authenticated)
    assert ok.status == 200
    harness.advance(1.0)
    assert harness.endpoint.tx.transaction_count == 1
    (repeat,) = alice.send(authenticated)
    assert repeat.data == ok.data
    assert harness.events() == [RegistrationChanged("1001", 1)]

def test_the_stateless_challenge_reaches_a_phone_behind_nat(harness: Harness) -> None:
    # RFC 3581: the Via says where the phone thinks it is; the 401 goes where the REGISTER came from, and its
    # Via tells the phone its public address (received, rport), as a transaction's response would.
    alice = Phone(harness, "1001", address=("10.0.0.5", 5060))
    register = alice.make_register(expires=600)
    (challenge,) = harness.feed(register, ("203.0.113.7", 40000))
    assert challenge.status == 401 and challenge.destination == ("203.0.113.7", 40000)
    (via,) = challenge.response.vias
    assert (via.host, via.port, via.params.get("received"), via.params.get("rport")) == \
        ("10.0.0.5", 5060, "203.0.113.7", "40000")
    assert challenge.response.to.tag and harness.endpoint.tx.transaction_count == 0


@pytest.mark.parametrize(("asked", "granted"), [(600, "600"), (7200, "3600"), (None, "3600"), (60, "60")])
def test_expires_is_brought_into_range(harness: Harness, asked: int | None, granted: str) -> None:
    alice = Phone(harness, "1001")
    response = alice.register(expires=asked)
    assert response.status == 200
    assert list(contacts_of(response).values()) == [granted]


def test_a_too_brief_interval_is_423_with_min_expires(harness: Harness) -> None:
    alice = Phone(harness, "1001")
    response = alice.register(expires=30)
    assert response.status == 423 and response.header("Min-Expires") == "60"
    assert harness.location.lookup("1001", harness.now) == []
    assert [e for e in harness.events() if isinstance(e, RegistrationChanged)] == []


def test_several_contacts_star_and_query(harness: Harness) -> None:
    desk = Phone(harness, "1003", address=("192.0.2.40", 5060))
    soft = Phone(harness, "1003", address=("192.0.2.41", 5070))
    two = [f"<sip:1003@{desk.address[0]}:5060>;expires=300", f"<sip:1003@{desk.address[0]}:5062>"]
    response = desk.register(contacts=two, expires=900)
    assert contacts_of(response) == {f"sip:1003@{desk.address[0]}:5060": "300",
                                     f"sip:1003@{desk.address[0]}:5062": "900"}
    response = soft.register(expires=600)
    assert len(response.contacts) == 3
    assert [e.contacts for e in harness.events() if isinstance(e, RegistrationChanged)] == [2, 3]
    # A query (no Contact) lists the bindings and changes nothing (§10.2.3).
    query = soft.register(contacts=[])
    assert query.status == 200 and len(query.contacts) == 3
    assert len(harness.location.lookup("1003", harness.now)) == 3
    # The first binding lapses on its own.
    harness.clock.now += 301
    assert len(harness.location.lookup("1003", harness.now)) == 2
    # "*" with Expires: 0 removes them all.
    removed = desk.register(contacts=["*"], expires=0)
    assert removed.status == 200 and removed.contacts == []
    assert harness.location.lookup("1003", harness.now) == []
    assert [e for e in harness.events() if isinstance(e, RegistrationChanged)][-1] == RegistrationChanged("1003", 0)


def test_expires_zero_removes_one_contact(harness: Harness) -> None:
    desk = Phone(harness, "1003", address=("192.0.2.40", 5060))
    desk.register(contacts=["<sip:1003@192.0.2.40:5060>", "<sip:1003@192.0.2.40:5062>"], expires=600)
    response = desk.register(contacts=["<sip:1003@192.0.2.40:5062>;expires=0"])
    assert response.status == 200 and list(contacts_of(response)) == ["sip:1003@192.0.2.40:5060"]


def test_credentials_of_one_user_cannot_register_another(harness: Harness) -> None:
    alice = Phone(harness, "1001")
    response = alice.register(to_user="1002")
    assert response.status == 403
    assert harness.location.lookup("1002", harness.now) == []


# -- the trunk registration client -------------------------------------------------------------------------------

ITSP_A = ("198.51.100.7", 5060)
ITSP_B = ("198.51.100.8", 5080)
TRUNK = SipTrunkSettings(name="itsp", servers=(ITSP_A, ITSP_B), username="acct", secret="trunkpw", register=True,
                         expiry=600, from_domain="itsp.example")


@pytest.fixture
def trunk_harness() -> Harness:
    return Harness(trunks=(TRUNK,))


def registrar(harness: Harness, address: tuple[str, int] = ITSP_A) -> Phone:
    return Phone(harness, "registrar", address=address)


def test_the_trunk_register_and_its_digest(trunk_harness: Harness) -> None:
    harness = trunk_harness
    server = registrar(harness)
    harness.endpoint.start_registrations(harness.now)
    (sent,) = harness.drain()
    first = sent.request
    assert sent.destination == ITSP_A and first.method == "REGISTER"
    assert str(first.uri) == "sip:itsp.example"
    assert str(first.from_.uri) == str(first.to.uri) == "sip:acct@itsp.example"
    assert first.from_.tag and first.to.tag is None and first.header("Expires") == "600"
    assert first.contacts[0].uri.host == GATEWAY[0] and first.cseq.number == 1
    assert harness.endpoint.registrations["itsp"].state == "Request Sent"
    challenge = 'Digest realm="itsp.example", nonce="n0nce", algorithm=MD5, qop="auth"'
    (retry,) = server.send(server.make_response(first, 401, to_tag="r1", headers=[f"WWW-Authenticate: {challenge}"]))
    second = retry.request
    assert second.call_id == first.call_id and second.from_.tag == first.from_.tag
    assert second.cseq.number == 2 and second.vias[0].branch != first.vias[0].branch
    params = challenge_params(second.header("Authorization") or "")

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    expected = md5(f"{md5('acct:itsp.example:trunkpw')}:n0nce:{params['nc']}:{params['cnonce']}:auth:"
                   f"{md5('REGISTER:sip:itsp.example')}")
    assert (params["username"], params["uri"], params["response"]) == ("acct", "sip:itsp.example", expected)
    assert harness.events() == []
    contact = str(second.contacts[0].uri)
    server.send(server.make_response(second, 200, to_tag="r1", headers=[f"Contact: <{contact}>;expires=300"],
                                     contact=False))
    assert harness.events() == [TrunkRegistrationChanged("itsp", "Registered")]
    registration = harness.endpoint.registrations["itsp"]
    assert (registration.state, registration.granted) == ("Registered", 300)
    assert registration.registered_at == pytest.approx(WALL_EPOCH + harness.now)


def test_a_second_challenge_is_not_answered_again(trunk_harness: Harness) -> None:
    harness = trunk_harness
    server = registrar(harness)
    harness.endpoint.start_registrations(harness.now)
    (sent,) = harness.drain()
    challenge = 'WWW-Authenticate: Digest realm="itsp.example", nonce="n0nce", algorithm=MD5, qop="auth"'
    (retry,) = server.send(server.make_response(sent.request, 401, to_tag="r1", headers=[challenge]))
    assert server.send(server.make_response(retry.request, 401, to_tag="r2", headers=[challenge])) == []
    registration = harness.endpoint.registrations["itsp"]
    assert registration.state == "Rejected" and registration.detail == "401 Unauthorized"
    assert harness.events() == [TrunkRegistrationChanged("itsp", "Rejected", "401 Unauthorized")]


def register_once(harness: Harness, server: Phone, *, expires: int = 600, extra_contacts: tuple[str, ...] = (),
                  sent: Sent | None = None) -> Sent:
    """Answer the REGISTER just sent (or ``sent``) with a 200 granting ``expires`` to our contact."""
    if sent is None:
        sent = first(harness.drain(), "REGISTER")
    ours = str(sent.request.contacts[0].uri)
    headers = [f"Contact: {c}" for c in extra_contacts] + [f"Contact: <{ours}>;expires={expires}"]
    server.send(server.make_response(sent.request, 200, to_tag="r", headers=headers, contact=False))
    return sent


def test_the_registration_is_refreshed_before_it_expires(trunk_harness: Harness) -> None:
    harness = trunk_harness
    server = registrar(harness)
    harness.endpoint.start_registrations(harness.now)
    initial = register_once(harness, server, expires=600)
    registered_at = harness.now
    assert harness.advance(539.0) == []
    refresh = first(harness.advance(1.0), "REGISTER")
    assert refresh.at - registered_at == pytest.approx(540.0)  # 90 % of the granted 600 s
    assert refresh.request.call_id == initial.request.call_id  # §10.2.4: same Call-ID, higher CSeq
    assert refresh.request.cseq.number == initial.request.cseq.number + 1
    server.send(server.make_response(refresh.request, 200, to_tag="r", contact=False,
                                     headers=[f"Contact: <{refresh.request.contacts[0].uri}>;expires=60"]))
    assert harness.events() == [TrunkRegistrationChanged("itsp", "Registered")]  # only the first time
    again = first(harness.advance(55.0), "REGISTER")
    assert again.at - refresh.at == pytest.approx(54.0)


def test_the_refresh_follows_our_own_contacts_expiry(trunk_harness: Harness) -> None:
    harness = trunk_harness
    server = registrar(harness)
    harness.endpoint.start_registrations(harness.now)
    register_once(harness, server, expires=600, extra_contacts=("<sip:acct@203.0.113.9:5060>;expires=30",))
    assert harness.endpoint.registrations["itsp"].granted == 600
    assert [s for s in harness.advance(100.0) if s.method == "REGISTER"] == []


def test_a_refusal_is_reported_and_retried(trunk_harness: Harness) -> None:
    harness = trunk_harness
    server = registrar(harness)
    harness.endpoint.start_registrations(harness.now)
    (sent,) = harness.drain()
    server.send(server.make_response(sent.request, 403, to_tag="r", contact=False))
    registration = harness.endpoint.registrations["itsp"]
    assert (registration.state, registration.detail) == ("Rejected", "403 Forbidden")
    assert harness.events() == [TrunkRegistrationChanged("itsp", "Rejected", "403 Forbidden")]
    refused_at = harness.now
    retry = first(harness.advance(31.0), "REGISTER")
    assert retry.at - refused_at == pytest.approx(30.0) and retry.destination == ITSP_A
    server.send(server.make_response(retry.request, 200, to_tag="r", contact=False,
                                     headers=[f"Contact: <{retry.request.contacts[0].uri}>;expires=600"]))
    assert registration.state == "Registered" and registration.detail == ""


def test_consecutive_failures_back_off(trunk_harness: Harness) -> None:
    harness = trunk_harness
    server = registrar(harness)
    harness.endpoint.start_registrations(harness.now)
    waits = []
    (sent,) = harness.drain()
    for _ in range(4):
        refused_at = harness.now
        server.send(server.make_response(sent.request, 503, to_tag="r", contact=False))
        sent = harness.next_request("REGISTER", 3600.0)
        waits.append(sent.at - refused_at)
    assert waits == sorted(waits) and waits[-1] > waits[0]


def test_a_server_that_does_not_answer_fails_over_to_the_next(trunk_harness: Harness) -> None:
    harness = trunk_harness
    harness.endpoint.start_registrations(harness.now)
    (sent,) = harness.drain()
    out = harness.advance(32.0)  # Timer F: 64*T1
    assert {s.destination for s in out} == {ITSP_A}
    registration = harness.endpoint.registrations["itsp"]
    assert registration.state == "Unreachable"
    assert registration.detail == f"no answer from {ITSP_A[0]}:{ITSP_A[1]}"
    assert harness.events() == [TrunkRegistrationChanged("itsp", "Unreachable", registration.detail)]
    moved = first(harness.advance(5.0), "REGISTER")
    assert moved.destination == ITSP_B and moved.at - sent.at == pytest.approx(37.0)
    assert str(moved.request.uri) == "sip:itsp.example:5080"
    register_once(harness, registrar(harness, ITSP_B), expires=600, sent=moved)
    assert registration.state == "Registered" and registration.server == ITSP_B


def test_stopping_unregisters(trunk_harness: Harness) -> None:
    harness = trunk_harness
    server = registrar(harness)
    harness.endpoint.start_registrations(harness.now)
    register_once(harness, server, expires=600)
    harness.events()
    harness.endpoint.stop_registrations(harness.now)
    (sent,) = harness.drain()
    assert sent.request.header("Expires") == "0"
    server.send(server.make_response(sent.request, 200, to_tag="r", contact=False))
    assert harness.endpoint.registrations["itsp"].state == "Unregistered"
    assert [s for s in harness.advance(3600.0) if s.method == "REGISTER"] == []


async def test_sip_show_registry_prints_the_state(trunk_harness: Harness) -> None:
    harness = trunk_harness
    server = registrar(harness)
    harness.endpoint.start_registrations(harness.now)
    service = SipService.__new__(SipService)  # the console half only: no sockets
    service.endpoint, service.registry = harness.endpoint, CommandRegistry()
    service._register_commands()
    before = await service.registry.execute("sip show registry")
    assert "Request Sent" in before.output and before.output.splitlines()[-1] == "1 SIP registration."
    register_once(harness, server, expires=600)
    shown = (await service.registry.execute("sip show registry")).output.splitlines()
    assert shown[0].split()[:3] == ["Host", "dnsmgr", "Username"]
    assert shown[1].split()[:5] == [f"{ITSP_A[0]}:{ITSP_A[1]}", "N", "acct", "600", "Registered"]


def test_a_503_with_retry_after_is_retried_when_the_server_says(trunk_harness: Harness) -> None:
    """RFC 3261 §21.5.4 / §20.33: not before the Retry-After of a 503, whatever the back-off would be."""
    harness = trunk_harness
    server = registrar(harness)
    harness.endpoint.start_registrations(harness.now)
    (sent,) = harness.drain()
    refused_at = harness.now
    server.send(server.make_response(sent.request, 503, to_tag="r", contact=False,
                                     headers=["Retry-After: 120 (maintenance);duration=60"]))
    retry = harness.next_request("REGISTER", 3600.0)
    assert retry.at - refused_at == pytest.approx(120.0)


def test_the_back_off_doubles_with_jitter_up_to_30_minutes_and_resets_on_success(trunk_harness: Harness) -> None:
    """RFC 5626 §4.5 with base-time 30 s and max-time 1800 s: each wait is 50-100 % of min(1800, 30 * 2**n)."""
    harness = trunk_harness
    server = registrar(harness)
    harness.endpoint.start_registrations(harness.now)
    (sent,) = harness.drain()
    waits = []
    for _ in range(9):
        refused_at = harness.now
        server.send(server.make_response(sent.request, 403, to_tag="r", contact=False))
        sent = harness.next_request("REGISTER", 7200.0)
        waits.append(sent.at - refused_at)
    assert waits[0] == pytest.approx(30.0)
    for failures, wait in enumerate(waits[1:], start=2):
        ceiling = min(1800.0, 30.0 * 2 ** failures)
        assert ceiling / 2 <= wait <= ceiling, (failures, wait)
    assert max(waits) <= 1800.0
    register_once(harness, server, expires=600, sent=sent)
    assert harness.endpoint.registrations["itsp"].state == "Registered"
    refresh = harness.next_request("REGISTER", 600.0)
    refused_at = harness.now
    server.send(server.make_response(refresh.request, 403, to_tag="r", contact=False))
    assert harness.next_request("REGISTER", 3600.0).at - refused_at == pytest.approx(30.0)


def test_a_lone_server_that_does_not_answer_is_retried_with_the_back_off() -> None:
    trunk = SipTrunkSettings(name="itsp", servers=(ITSP_A,), username="acct", secret="trunkpw", register=True)
    harness = Harness(trunks=(trunk,))
    harness.endpoint.start_registrations(harness.now)
    (first_register,) = harness.drain()

    def next_new_register(after: Sent) -> Sent:  # skipping Timer E's retransmissions of ``after``
        while True:
            sent = harness.next_request("REGISTER", 3600.0)
            if sent.request.cseq.number != after.request.cseq.number:
                return sent

    retry = next_new_register(first_register)
    assert retry.at - first_register.at == pytest.approx(32.0 + 30.0)  # Timer F, then the first back-off step
    second = next_new_register(retry)
    assert 32.0 + 60.0 <= second.at - retry.at <= 32.0 + 120.0


def test_the_refresh_ignores_an_expires_header_when_our_contact_has_its_own(trunk_harness: Harness) -> None:
    harness = trunk_harness
    server = registrar(harness)
    harness.endpoint.start_registrations(harness.now)
    sent = first(harness.drain(), "REGISTER")
    ours = str(sent.request.contacts[0].uri)
    server.send(server.make_response(sent.request, 200, to_tag="r", contact=False,
                                     headers=["Expires: 3600", "Contact: <sip:acct@203.0.113.9:5060>;expires=30",
                                              f"Contact: <{ours}>;expires=120"]))
    assert harness.endpoint.registrations["itsp"].granted == 120


def test_a_200_that_rewrote_our_contact_gets_its_shortest_interval(trunk_harness: Harness) -> None:
    """A registrar behind which our Contact shows its public address: refresh early rather than lapse."""
    harness = trunk_harness
    server = registrar(harness)
    harness.endpoint.start_registrations(harness.now)
    sent = first(harness.drain(), "REGISTER")
    server.send(server.make_response(sent.request, 200, to_tag="r", contact=False,
                                     headers=["Contact: <sip:acct@203.0.113.50:61000>;expires=300",
                                              "Contact: <sip:acct@203.0.113.9:5060>;expires=3000"]))
    assert harness.endpoint.registrations["itsp"].granted == 300


# -- group commit: the registrations of one UDP read batch share one SQLite transaction ---------------------------


def challenged(phone: Phone) -> SipRequest:
    """The REGISTER that answers the gateway's 401 to a first, credential-less one."""
    (challenge,) = phone.send(phone.make_register(expires=600))
    assert challenge.status == 401
    credentials = authorization(pick_challenge(challenge.response, "MD5"), method="REGISTER",
                                uri=f"sip:{GATEWAY[0]}", username=phone.user, password=phone.secret)
    return phone.make_register(expires=600, authorization=credentials)


def stored_contacts(path: Path) -> dict[str, str]:
    """AOR -> Contact, as another process reading the file sees it."""
    reader = sqlite3.connect(path)
    try:
        return dict(reader.execute("SELECT aor, contact FROM sip_bindings"))
    finally:
        reader.close()


def test_a_batch_of_registrations_is_answered_only_once_committed(tmp_path: Path) -> None:
    path = tmp_path / "registrations.sqlite"
    harness = Harness(store=SqliteBindingStore(path))
    alice, bob = Phone(harness, "1001"), Phone(harness, "1002", address=("192.0.2.11", 5060))
    requests = [challenged(alice), challenged(bob)]
    alice.inbox(), bob.inbox()  # the 401s
    harness.endpoint.begin_batch()
    for phone, request in zip((alice, bob), requests, strict=True):
        # Nothing is acknowledged before it is on disk: no 200 yet, and the file does not hold it yet.
        assert phone.send(request) == []
    assert stored_contacts(path) == {}
    harness.endpoint.end_batch(harness.now)
    harness.drain()
    assert stored_contacts(path) == {"1001": "sip:1001@192.0.2.10:5060", "1002": "sip:1002@192.0.2.11:5060"}
    assert [s.status for s in alice.inbox()] == [200] and [s.status for s in bob.inbox()] == [200]
    assert harness.events() == [RegistrationChanged("1001", 1), RegistrationChanged("1002", 1)]


def test_a_batch_that_cannot_be_stored_answers_500_to_each_and_keeps_the_old_bindings(tmp_path: Path) -> None:
    path = tmp_path / "registrations.sqlite"
    harness = Harness(store=SqliteBindingStore(path))
    alice, bob = Phone(harness, "1001"), Phone(harness, "1002", address=("192.0.2.11", 5060))
    assert alice.register(expires=600).status == 200
    alice.address = ("192.0.2.20", 5062)  # she moved: her next REGISTER updates the binding
    requests = [challenged(alice), challenged(bob)]
    # The disk refuses bob's row (as a full disk would) after alice's update was written in the same transaction.
    writer = sqlite3.connect(path)
    writer.execute("CREATE TRIGGER refuse BEFORE INSERT ON sip_bindings WHEN NEW.aor = '1002' "
                   "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
    writer.commit()
    writer.close()
    harness.events(), alice.inbox(), bob.inbox()
    harness.endpoint.begin_batch()
    for phone, request in zip((alice, bob), requests, strict=True):
        phone.send(request)
    harness.endpoint.end_batch(harness.now)
    harness.drain()
    assert [s.status for s in alice.inbox()] == [500] and [s.status for s in bob.inbox()] == [500]
    # Neither registration took: the file and the location service still have alice where she was.
    assert stored_contacts(path) == {"1001": "sip:1001@192.0.2.10:5060"}
    (binding,) = harness.location.lookup("1001", harness.now)
    assert binding.destination == ("192.0.2.10", 5060)
    assert harness.location.lookup("1002", harness.now) == [] and harness.events() == []
    # The next batch is committed normally once the disk takes writes again.
    sqlite3.connect(path).execute("DROP TRIGGER refuse").connection.close()
    assert alice.register(expires=600).status == 200
    assert stored_contacts(path) == {"1001": "sip:1001@192.0.2.20:5062"}
