"""The registrar's location service against RFC 3261 section 10.3 and Asterisk 20's res_pjsip_registrar.c.

Every test runs on fake clocks: ``Clock.now`` is the monotonic time handed to the service, ``Clock.wall`` the
Unix time.  Expected values name their source: an RFC section, or the function of
``res/res_pjsip_registrar.c`` (Asterisk 20) whose behaviour the case reproduces.
"""

from __future__ import annotations

import dataclasses
import itertools
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.sip.message import SipRequest, parse_message
from core.sip.registrar import (
    Address,
    BindingRecord,
    LocationService,
    MemoryBindingStore,
    RegisterOutcome,
    RegistrarError,
    SqliteBindingStore,
    Transport,
)

WALL_START = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 GMT
PHONE = ("192.168.1.20", 5060)
_branches = itertools.count(1)


class Clock:
    """Monotonic and wall-clock time, moved by hand."""

    def __init__(self, now: float = 1000.0, wall: float = WALL_START) -> None:
        self.now = now
        self.wall = wall

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.wall += seconds


def make_register(*contacts: str, aor: str = "1001", expires: int | str | None = None, call_id: str = "reg@phone",
                  cseq: int = 1, extra: Sequence[str] = ()) -> SipRequest:
    lines = [
        "REGISTER sip:pbx.example.com SIP/2.0",
        f"Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK{next(_branches)}",
        "Max-Forwards: 70",
        f"From: <sip:{aor}@pbx.example.com>;tag=from{cseq}",
        f"To: <sip:{aor}@pbx.example.com>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} REGISTER",
        *(f"Contact: {contact}" for contact in contacts),
        *([f"Expires: {expires}"] if expires is not None else []),
        *extra,
        "Content-Length: 0",
        "",
        "",
    ]
    message = parse_message("\r\n".join(lines).encode())
    assert isinstance(message, SipRequest)
    return message


class Phone:
    """One UA instance: a Call-ID of its own and a CSeq that goes up with every REGISTER (RFC 3261 10.2)."""

    def __init__(self, service: LocationService, clock: Clock, *, aor: str = "1001", contact: str | None = None,
                 source: Address = PHONE, transport: Transport = "udp", call_id: str | None = None) -> None:
        self.service = service
        self.clock = clock
        self.aor = aor
        self.source = source
        self.transport = transport
        self.contact = contact or f"<sip:{aor}@{source[0]}:{source[1]}>"
        self.call_id = call_id or f"{aor}-{source[0]}-{source[1]}@phone"
        self.cseq = 0

    def register(self, *contacts: str, expires: int | str | None = None, extra: Sequence[str] = (),
                 cseq: int | None = None, call_id: str | None = None) -> RegisterOutcome:
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        request = make_register(*(contacts or (self.contact,)), aor=self.aor, expires=expires,
                                call_id=call_id or self.call_id, cseq=cseq, extra=extra)
        return self.service.register(self.aor, request, self.source, self.transport, self.clock.now, self.clock.wall)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service() -> LocationService:
    return LocationService(MemoryBindingStore())


def contacts_of(service: LocationService, aor: str, now: float) -> list[str]:
    return [binding.contact for binding in service.lookup(aor, now)]


# -- a first registration ------------------------------------------------------------------------------------


def test_registration_answers_200_with_the_binding_and_a_date(service: LocationService, clock: Clock) -> None:
    outcome = Phone(service, clock).register()
    assert (outcome.status, outcome.reason) == (200, "OK")
    # RFC 3261 10.3 step 8: every binding with an expires parameter; registrar_add_contact.
    assert outcome.contacts == ("<sip:1001@192.168.1.20:5060>;expires=3600",)
    # RFC 3261 20.17 rfc1123-date; res_pjsip's ast_sip_add_date_header ("%a, %d %b %Y %T GMT").
    assert outcome.date == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert outcome.expires is None  # no Expires header in the request, none in the answer
    assert [binding.contact for binding in outcome.added] == ["sip:1001@192.168.1.20:5060"]
    binding = service.lookup("1001", clock.now)[0]
    assert (binding.call_id, binding.cseq, binding.source, binding.transport) == (
        "1001-192.168.1.20-5060@phone", 1, PHONE, "udp")


def test_response_carries_the_outcome_headers(service: LocationService, clock: Clock) -> None:
    request = make_register("<sip:1001@192.168.1.20:5060>", expires=1800)
    outcome = service.register("1001", request, PHONE, "udp", clock.now, clock.wall)
    response = outcome.response(request, to_tag="regtag")
    wire = response.encode().decode()
    assert wire.startswith("SIP/2.0 200 OK\r\n")
    assert response.to.tag == "regtag"  # RFC 3261 8.2.6.2
    assert response.header_values("Contact") == ["<sip:1001@192.168.1.20:5060>;expires=1800"]
    assert response.header("Date") == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert response.header("Expires") == "1800"  # register_aor_core echoes a request's Expires header
    assert response.call_id == request.call_id and response.cseq == request.cseq


@pytest.mark.parametrize(("contact_param", "header", "granted"), [
    pytest.param(None, None, 3600, id="default_expiration-when-neither-is-given"),
    pytest.param(None, 1800, 1800, id="Expires-header-applies-to-contacts-without-the-parameter"),
    pytest.param("300", 1800, 300, id="contact-expires-parameter-overrides-the-header"),
    pytest.param("300", None, 300, id="contact-expires-parameter-alone"),
    pytest.param("60", None, 60, id="exactly-minimum-is-accepted"),
    pytest.param("7200", None, 3600, id="longer-than-maximum-is-shortened"),
    pytest.param(None, 86400, 3600, id="header-longer-than-maximum-is-shortened"),
    pytest.param("4294967296", None, 3600, id="beyond-2**32-1-is-taken-as-2**32-1-then-shortened"),
])
def test_expiration_is_chosen_as_registrar_get_expiration_does(
        service: LocationService, clock: Clock, contact_param: str | None, header: int | None, granted: int) -> None:
    # RFC 3261 10.3 step 7 and 20.19; res_pjsip_registrar.c registrar_get_expiration.
    contact = "<sip:1001@192.168.1.20:5060>" + (f";expires={contact_param}" if contact_param else "")
    outcome = Phone(service, clock).register(contact, expires=header)
    assert outcome.status == 200
    assert outcome.contacts == (f"<sip:1001@192.168.1.20:5060>;expires={granted}",)
    assert service.lookup("1001", clock.now)[0].expires == granted


@pytest.mark.parametrize(("header", "answered"), [
    pytest.param(1800, 1800, id="in-range"),
    pytest.param(86400, 3600, id="shortened-to-maximum"),
    pytest.param(None, None, id="absent-stays-absent"),
])
def test_response_expires_header_is_the_requests_brought_into_range(
        service: LocationService, clock: Clock, header: int | None, answered: int | None) -> None:
    # register_aor_core: an Expires header in the request gets one in the 200, from registrar_get_expiration
    # without a contact; here every contact has its own parameter, so only the header value matters.
    outcome = Phone(service, clock).register("<sip:1001@192.168.1.20:5060>;expires=600", expires=header)
    assert outcome.status == 200 and outcome.expires == answered
    assert (("Expires", str(answered)) in outcome.headers) is (answered is not None)


def test_default_expires_is_configurable(clock: Clock) -> None:
    service = LocationService(MemoryBindingStore(), default_expires=120, max_expires=7200)
    assert Phone(service, clock).register().contacts == ("<sip:1001@192.168.1.20:5060>;expires=120",)


# -- 423 Interval Too Brief ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("contact", "header"), [
    pytest.param("<sip:1001@192.168.1.20:5060>;expires=30", None, id="contact-parameter-too-brief"),
    pytest.param("<sip:1001@192.168.1.20:5060>", 59, id="Expires-header-too-brief"),
    pytest.param("<sip:1001@192.168.1.20:5060>;expires=1", 3600, id="parameter-wins-over-a-good-header"),
])
def test_too_brief_interval_is_rejected_with_min_expires(
        service: LocationService, clock: Clock, contact: str, header: int | None) -> None:
    # RFC 3261 10.3 step 7 ("423 (Interval Too Brief)") and 20.23 (Min-Expires).
    outcome = Phone(service, clock).register(contact, expires=header)
    assert (outcome.status, outcome.reason, outcome.min_expires) == (423, "Interval Too Brief", 60)
    assert ("Min-Expires", "60") in outcome.headers
    assert outcome.contacts == ()
    assert service.lookup("1001", clock.now) == []


def test_too_brief_contact_rejects_the_whole_request(service: LocationService, clock: Clock) -> None:
    # RFC 3261 10.3 step 7: bindings are committed only if all of them succeed.
    phone = Phone(service, clock)
    phone.register("<sip:1001@192.168.1.20:5060>")
    outcome = phone.register("<sip:1001@192.168.1.20:5060>;expires=0", "<sip:1001@10.0.0.9>;expires=10")
    assert outcome.status == 423
    assert contacts_of(service, "1001", clock.now) == ["sip:1001@192.168.1.20:5060"]


def test_zero_is_never_too_brief(service: LocationService, clock: Clock) -> None:
    # registrar_get_expiration: "If the value has explicitly been set to 0, do not enforce".
    phone = Phone(service, clock)
    phone.register()
    outcome = phone.register(expires=0)
    assert (outcome.status, outcome.contacts, outcome.expires) == (200, (), 0)


def test_a_default_below_the_minimum_is_raised_not_refused(clock: Clock) -> None:
    # registrar_get_expiration brings the default into range too; a phone that asked for nothing gets no 423.
    service = LocationService(MemoryBindingStore(), min_expires=120, default_expires=30)
    assert Phone(service, clock).register().contacts == ("<sip:1001@192.168.1.20:5060>;expires=120",)


def test_min_expires_is_configurable(clock: Clock) -> None:
    service = LocationService(MemoryBindingStore(), min_expires=300)
    outcome = Phone(service, clock).register(expires=120)
    assert (outcome.status, outcome.min_expires) == (423, 300)


# -- removal and Contact: * ----------------------------------------------------------------------------------


def test_expires_zero_removes_only_that_contact(service: LocationService, clock: Clock) -> None:
    service = LocationService(MemoryBindingStore(), max_contacts=3)
    phone = Phone(service, clock)
    phone.register("<sip:1001@192.168.1.20:5060>", "<sip:1001@192.168.1.20:5062>")
    outcome = phone.register("<sip:1001@192.168.1.20:5060>;expires=0")
    assert outcome.status == 200
    assert [binding.contact for binding in outcome.removed] == ["sip:1001@192.168.1.20:5060"]
    # RFC 3261 10.3 step 8: the 200 lists the bindings that remain.
    assert outcome.contacts == ("<sip:1001@192.168.1.20:5062>;expires=3600",)


def test_removing_an_unknown_contact_is_forgiven(service: LocationService, clock: Clock) -> None:
    # register_aor_core: "If they are actually trying to delete a contact that does not exist... be forgiving".
    outcome = Phone(service, clock).register("<sip:1001@10.9.9.9>;expires=0")
    assert (outcome.status, outcome.contacts, outcome.removed) == (200, (), ())


def test_contact_star_with_expires_zero_removes_every_binding(clock: Clock) -> None:
    service = LocationService(MemoryBindingStore(), max_contacts=5)
    desk = Phone(service, clock)
    soft = Phone(service, clock, source=("192.168.1.30", 5060))
    desk.register()
    soft.register()
    outcome = desk.register("*", expires=0)  # RFC 3261 10.2.2
    assert (outcome.status, outcome.contacts) == (200, ())
    assert sorted(binding.contact for binding in outcome.removed) == [
        "sip:1001@192.168.1.20:5060", "sip:1001@192.168.1.30:5060"]
    assert service.lookup("1001", clock.now) == []


@pytest.mark.parametrize(("contacts", "expires"), [
    pytest.param(("*",), None, id="star-without-Expires-gets-the-default-which-is-not-0"),
    pytest.param(("*",), 3600, id="star-with-a-non-zero-Expires"),
    pytest.param(("*", "<sip:1001@192.168.1.20:5060>"), 0, id="star-and-another-contact"),
    pytest.param(("<sip:1001@192.168.1.20:5060>", "*"), 0, id="another-contact-then-star"),
])
def test_invalid_star_is_400(service: LocationService, clock: Clock, contacts: tuple[str, ...],
                             expires: int | None) -> None:
    # RFC 3261 10.3 step 6; res_pjsip_registrar.c registrar_validate_contacts.
    phone = Phone(service, clock)
    phone.register()
    outcome = phone.register(*contacts, expires=expires)
    assert outcome.status == 400 and outcome.reason
    assert contacts_of(service, "1001", clock.now) == ["sip:1001@192.168.1.20:5060"]


# -- Call-ID / CSeq ordering ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("call_id", "cseq", "applied"), [
    pytest.param("same", 6, True, id="same-Call-ID-higher-CSeq-updates"),
    pytest.param("same", 5, False, id="same-Call-ID-equal-CSeq-is-ignored"),
    pytest.param("same", 4, False, id="same-Call-ID-lower-CSeq-is-ignored"),
    pytest.param("other", 1, True, id="another-Call-ID-replaces-whatever-its-CSeq"),
])
@pytest.mark.parametrize("expires", [300, 0], ids=["refresh", "removal"])
def test_call_id_and_cseq_order_updates(service: LocationService, clock: Clock, call_id: str, cseq: int,
                                        applied: bool, expires: int) -> None:
    # RFC 3261 10.3 step 7: "If the value is higher than that of the existing binding, it MUST update or
    # remove the binding as above.  If not, the update MUST be aborted".
    phone = Phone(service, clock, call_id="same")
    phone.register(expires=3600, cseq=5)
    clock.advance(10)
    outcome = phone.register(expires=expires, cseq=cseq, call_id=call_id)
    assert outcome.status == 200
    assert outcome.stale is not applied
    bindings = service.lookup("1001", clock.now)
    if applied and expires == 0:
        assert bindings == [] and outcome.contacts == ()
    elif applied:
        assert [(b.expires, b.call_id, b.cseq) for b in bindings] == [(300, call_id, cseq)]
        assert outcome.contacts == ("<sip:1001@192.168.1.20:5060>;expires=300",)
    else:
        assert [(b.expires, b.call_id, b.cseq) for b in bindings] == [(3600, "same", 5)]
        assert outcome.contacts == ("<sip:1001@192.168.1.20:5060>;expires=3590",)


def test_out_of_order_star_removes_nothing(service: LocationService, clock: Clock) -> None:
    # RFC 3261 10.3 step 6: with Contact: *, a binding of the same Call-ID goes only for a higher CSeq.
    phone = Phone(service, clock, call_id="same")
    phone.register(cseq=7)
    outcome = phone.register("*", expires=0, cseq=3)
    assert outcome.stale
    assert contacts_of(service, "1001", clock.now) == ["sip:1001@192.168.1.20:5060"]


def test_out_of_order_request_changes_none_of_its_contacts(clock: Clock) -> None:
    service = LocationService(MemoryBindingStore(), max_contacts=3)
    phone = Phone(service, clock, call_id="same")
    phone.register("<sip:1001@192.168.1.20:5060>", cseq=9)
    outcome = phone.register("<sip:1001@10.0.0.7>", "<sip:1001@192.168.1.20:5060>;expires=0", cseq=8)
    assert outcome.stale
    assert contacts_of(service, "1001", clock.now) == ["sip:1001@192.168.1.20:5060"]


def test_a_contact_listed_twice_in_one_request_is_not_out_of_order(service: LocationService, clock: Clock) -> None:
    outcome = Phone(service, clock).register("<sip:1001@192.168.1.20:5060>;expires=600",
                                             "<sip:1001@192.168.1.20:5060>;expires=900")
    assert not outcome.stale
    assert outcome.contacts == ("<sip:1001@192.168.1.20:5060>;expires=900",)


def test_refresh_keeps_one_binding_per_equivalent_uri(clock: Clock) -> None:
    # RFC 3261 19.1.4: host case-insensitive, parameters in only one URI ignored (but not transport).
    service = LocationService(MemoryBindingStore(), max_contacts=5)
    phone = Phone(service, clock)
    phone.register("<sip:1001@Phone.Example.com:5060;line=abc>")
    outcome = phone.register("<sip:1001@phone.example.com:5060>")
    assert len(outcome.contacts) == 1 and outcome.refreshed and not outcome.added
    outcome = phone.register("<sip:1001@phone.example.com>")  # no port is not port 5060
    assert len(outcome.contacts) == 2


# -- max_contacts ---------------------------------------------------------------------------------------------


def test_a_new_phone_replaces_the_old_one_when_max_contacts_is_1(service: LocationService, clock: Clock) -> None:
    # remove_existing: the existing contact over max_contacts goes (register_aor_core, remove_excess_contacts).
    old = Phone(service, clock)
    new = Phone(service, clock, source=("192.168.1.77", 5060))
    old.register()
    clock.advance(5)
    outcome = new.register()
    assert outcome.status == 200
    assert [binding.contact for binding in outcome.removed] == ["sip:1001@192.168.1.20:5060"]
    assert outcome.contacts == ("<sip:1001@192.168.1.77:5060>;expires=3600",)


def test_the_contact_that_expires_soonest_is_replaced(clock: Clock) -> None:
    # remove_excess_contacts / vec_contact_cmp: "Sort from soonest to expire to last to expire".
    service = LocationService(MemoryBindingStore(), max_contacts=2)
    first = Phone(service, clock, source=("192.168.1.21", 5060))
    second = Phone(service, clock, source=("192.168.1.22", 5060))
    third = Phone(service, clock, source=("192.168.1.23", 5060))
    first.register(expires=3600)
    clock.advance(1)
    second.register(expires=600)  # newer, but expires first
    clock.advance(1)
    outcome = third.register()
    assert [binding.contact for binding in outcome.removed] == ["sip:1001@192.168.1.22:5060"]
    assert sorted(contacts_of(service, "1001", clock.now)) == [
        "sip:1001@192.168.1.21:5060", "sip:1001@192.168.1.23:5060"]


def test_oldest_goes_first_among_equal_intervals(clock: Clock) -> None:
    service = LocationService(MemoryBindingStore(), max_contacts=2)
    phones = [Phone(service, clock, source=(f"192.168.1.{30 + n}", 5060)) for n in range(3)]
    for phone in phones:
        phone.register()
        clock.advance(30)
    assert sorted(contacts_of(service, "1001", clock.now)) == [
        "sip:1001@192.168.1.31:5060", "sip:1001@192.168.1.32:5060"]


def test_refreshing_does_not_count_against_max_contacts(service: LocationService, clock: Clock) -> None:
    phone = Phone(service, clock)
    for _ in range(5):
        clock.advance(60)
        outcome = phone.register()
        assert outcome.status == 200 and outcome.removed == ()
    assert len(service.lookup("1001", clock.now)) == 1


def test_more_new_contacts_than_max_contacts_is_403(service: LocationService, clock: Clock) -> None:
    # register_aor_core: contact_count > max_contacts -> 403 even with remove_existing.
    outcome = Phone(service, clock).register("<sip:1001@192.168.1.20:5060>", "<sip:1001@192.168.1.20:5062>")
    assert (outcome.status, outcome.reason) == (403, "Forbidden")
    assert service.lookup("1001", clock.now) == []


def test_full_aor_without_remove_existing_is_403(clock: Clock) -> None:
    service = LocationService(MemoryBindingStore(), max_contacts=1, remove_existing=False)
    Phone(service, clock).register()
    outcome = Phone(service, clock, source=("192.168.1.77", 5060)).register()
    assert outcome.status == 403
    assert contacts_of(service, "1001", clock.now) == ["sip:1001@192.168.1.20:5060"]


@pytest.mark.parametrize("configured", [0, 1])
def test_max_contacts_0_forbids_registration(clock: Clock, configured: int) -> None:
    # registrar_on_rx_request: "AOR '%s' has no configured max_contacts" -> 403.
    service = LocationService(MemoryBindingStore(), max_contacts=configured)
    request = make_register("<sip:1001@192.168.1.20:5060>")
    outcome = service.register("1001", request, PHONE, "udp", clock.now, clock.wall, max_contacts=0)
    assert outcome.status == 403


def test_max_contacts_can_be_given_per_aor(service: LocationService, clock: Clock) -> None:
    for n in range(3):
        request = make_register(f"<sip:1001@192.168.1.{40 + n}>", call_id=f"c{n}")
        outcome = service.register("1001", request, (f"192.168.1.{40 + n}", 5060), "udp", clock.now, clock.wall,
                                   max_contacts=3)
        assert outcome.status == 200 and outcome.removed == ()
    assert len(service.lookup("1001", clock.now)) == 3


# -- RFC 5626 instance-id and reg-id --------------------------------------------------------------------------

INSTANCE = "<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"


def test_instance_and_reg_id_are_kept_and_returned(service: LocationService, clock: Clock) -> None:
    phone = Phone(service, clock)
    outcome = phone.register(f'<sip:1001@192.168.1.20:5060;ob>;+sip.instance="{INSTANCE}";reg-id=1',
                             extra=["Supported: path, outbound"])
    binding = service.lookup("1001", clock.now)[0]
    assert (binding.instance, binding.reg_id, binding.outbound) == (INSTANCE, 1, True)
    assert outcome.contacts == (f'<sip:1001@192.168.1.20:5060;ob>;expires=3600;+sip.instance="{INSTANCE}";reg-id=1',)
    assert outcome.require == ("outbound",)  # RFC 5626 section 6: Require: outbound when it was Supported
    assert ("Require", "outbound") in outcome.headers


def test_same_instance_and_reg_id_replace_a_binding_with_another_uri(clock: Clock) -> None:
    # RFC 5626 section 6: the binding is between the AOR and (instance-id, reg-id), not the Contact URI.
    service = LocationService(MemoryBindingStore(), max_contacts=5)
    phone = Phone(service, clock)
    phone.register(f'<sip:1001@192.168.1.20:5060>;+sip.instance="{INSTANCE}";reg-id=1')
    phone.source = ("10.4.4.4", 5060)  # the phone moved to another network
    outcome = phone.register(f'<sip:1001@10.4.4.4:5060>;+sip.instance="{INSTANCE}";reg-id=1')
    assert outcome.refreshed and not outcome.added and not outcome.removed
    assert contacts_of(service, "1001", clock.now) == ["sip:1001@10.4.4.4:5060"]
    outcome = phone.register(f'<sip:1001@10.4.4.4:5062>;+sip.instance="{INSTANCE}";reg-id=2')
    assert len(outcome.contacts) == 2  # another flow of the same instance


def test_no_require_outbound_without_supported(service: LocationService, clock: Clock) -> None:
    outcome = Phone(service, clock).register(f'<sip:1001@192.168.1.20:5060>;+sip.instance="{INSTANCE}";reg-id=1')
    assert outcome.require == ()


# -- NAT and where to reach a phone --------------------------------------------------------------------------


@pytest.mark.parametrize(("contact", "source", "transport", "nat", "reach"), [
    pytest.param("<sip:1001@192.168.1.20:5060>", ("192.168.1.20", 5060), "udp", False,
                 (("192.168.1.20", 5060), "udp", False), id="same-address-contact-is-used"),
    pytest.param("<sip:1001@192.168.1.20:5060>", ("203.0.113.7", 40112), "udp", True,
                 (("203.0.113.7", 40112), "udp", True), id="private-contact-public-source-RFC3581"),
    pytest.param("<sip:1001@203.0.113.7:5060>", ("203.0.113.7", 1024), "udp", True,
                 (("203.0.113.7", 1024), "udp", True), id="port-translated"),
    pytest.param("<sip:1001@192.168.1.20>", ("192.168.1.20", 5060), "udp", False,
                 (("192.168.1.20", 5060), "udp", False), id="default-port-5060"),
    pytest.param("<sip:1001@192.168.1.20:5060;transport=tcp>", ("192.168.1.20", 49152), "tcp", False,
                 (("192.168.1.20", 5060), "tcp", False), id="tcp-ephemeral-source-port-is-not-nat"),
    pytest.param("<sip:1001@192.168.1.20;transport=tcp>", ("198.51.100.2", 49152), "tcp", True,
                 (("198.51.100.2", 49152), "tcp", True), id="tcp-behind-nat-uses-the-connection"),
    pytest.param("<sips:1001@192.168.1.20>", ("192.168.1.20", 5061), "tls", False,
                 (("192.168.1.20", 5061), "tls", False), id="sips-default-port-5061"),
    pytest.param("<sip:1001@[2001:db8::20]:5060>", ("2001:db8:0::20", 5060), "udp", False,
                 (("2001:db8::20", 5060), "udp", False), id="ipv6-compared-as-addresses"),
    pytest.param("<sip:1001@phone.lan:5060>", ("192.168.1.20", 5060), "udp", True,
                 (("192.168.1.20", 5060), "udp", True), id="host-name-contact-goes-to-the-source"),
])
def test_nat_detection_and_reach(service: LocationService, clock: Clock, contact: str, source: Address,
                                 transport: Transport, nat: bool, reach: tuple[Address, str, bool]) -> None:
    phone = Phone(service, clock, source=source, transport=transport)
    assert phone.register(contact).status == 200
    binding = service.lookup("1001", clock.now)[0]
    assert binding.source == source and binding.transport == transport
    assert binding.behind_nat is nat
    assert tuple(binding.reach) == reach
    assert binding.destination == reach[0]


def test_an_outbound_flow_is_reached_through_the_source(service: LocationService, clock: Clock) -> None:
    # RFC 5626 section 5.3: requests go over the flow the registration came on.
    phone = Phone(service, clock, source=("192.168.1.20", 5060))
    phone.register(f'<sip:1001@192.168.1.20:5060;ob>;+sip.instance="{INSTANCE}";reg-id=1')
    assert service.lookup("1001", clock.now)[0].reach.via_source


# -- lookup, expiry, peers -----------------------------------------------------------------------------------


def test_lookup_orders_by_q_and_skips_expired_bindings(clock: Clock) -> None:
    service = LocationService(MemoryBindingStore(), max_contacts=4)
    phone = Phone(service, clock)
    phone.register("<sip:1001@10.0.0.1>;q=0.1", "<sip:1001@10.0.0.2>;q=0.9;expires=120", "<sip:1001@10.0.0.3>",
                   "<sip:1001@10.0.0.4>;q=0.5")
    assert contacts_of(service, "1001", clock.now) == [
        "sip:1001@10.0.0.3", "sip:1001@10.0.0.2", "sip:1001@10.0.0.4", "sip:1001@10.0.0.1"]
    clock.advance(120)  # the q=0.9 binding expires now, expire() not called yet
    assert contacts_of(service, "1001", clock.now) == ["sip:1001@10.0.0.3", "sip:1001@10.0.0.4", "sip:1001@10.0.0.1"]


def test_expire_removes_exactly_the_expired_bindings(service: LocationService, clock: Clock) -> None:
    short = Phone(service, clock, aor="1001")
    long = Phone(service, clock, aor="1002")
    short.register(expires=60)
    long.register(expires=3600)
    assert service.next_expiry() == clock.now + 60
    clock.advance(59.5)
    assert service.expire(clock.now) == []
    clock.advance(0.5)
    gone = service.expire(clock.now)
    assert [(binding.aor, binding.contact) for binding in gone] == [("1001", "sip:1001@192.168.1.20:5060")]
    assert service.expire(clock.now) == []
    assert service.lookup("1001", clock.now) == [] and len(service) == 1
    assert service.next_expiry() == clock.now - 60 + 3600


def test_a_refreshed_binding_does_not_expire_at_its_old_time(service: LocationService, clock: Clock) -> None:
    phone = Phone(service, clock)
    phone.register(expires=60)
    clock.advance(50)
    phone.register(expires=60)
    clock.advance(20)
    assert service.expire(clock.now) == []
    assert service.lookup("1001", clock.now)[0].remaining(clock.now) == 40
    clock.advance(40)
    assert len(service.expire(clock.now)) == 1


def test_the_200_lists_every_binding_with_its_remaining_time(clock: Clock) -> None:
    # RFC 3261 10.3 step 8 and registrar_add_contact (seconds left, rounded down).
    service = LocationService(MemoryBindingStore(), max_contacts=2)
    Phone(service, clock, source=("192.168.1.20", 5060)).register(expires=3600)
    clock.advance(100.7)
    outcome = Phone(service, clock, source=("192.168.1.21", 5060)).register(expires=600)
    assert outcome.contacts == ("<sip:1001@192.168.1.20:5060>;expires=3499",
                                "<sip:1001@192.168.1.21:5060>;expires=600")


def test_a_register_without_contact_queries_the_bindings(service: LocationService, clock: Clock) -> None:
    # RFC 3261 10.2.3: a REGISTER without Contact fetches the bindings and changes nothing.
    Phone(service, clock).register()
    clock.advance(10)
    request = make_register(call_id="query@phone")
    outcome = service.register("1001", request, PHONE, "udp", clock.now, clock.wall)
    assert outcome.status == 200
    assert outcome.contacts == ("<sip:1001@192.168.1.20:5060>;expires=3590",)
    assert (outcome.added, outcome.refreshed, outcome.removed) == ((), (), ())


def test_registering_after_expiry_reports_the_expired_binding(service: LocationService, clock: Clock) -> None:
    phone = Phone(service, clock)
    phone.register(expires=60)
    clock.advance(61)
    other = Phone(service, clock, source=("192.168.1.99", 5060))
    outcome = other.register()
    assert [b.contact for b in outcome.expired] == ["sip:1001@192.168.1.20:5060"]
    assert outcome.removed == ()  # it had expired: nothing was replaced
    assert service.expire(clock.now) == []  # and it is not reported twice


def test_non_sip_contacts_are_skipped(service: LocationService, clock: Clock) -> None:
    # register_aor_core: "This registrar only currently supports sip: and sips: URI schemes".
    outcome = Phone(service, clock).register("<tel:+15551234567>", "<sip:1001@192.168.1.20:5060>")
    assert outcome.contacts == ("<sip:1001@192.168.1.20:5060>;expires=3600",)


@pytest.mark.parametrize("contact", [
    pytest.param("<sip:1001@192.168.1.20>;expires=soon", id="expires-not-delta-seconds-RFC3261-20.10"),
    pytest.param("<sip:1001@192.168.1.20>;expires=-5", id="negative-expires"),
    pytest.param("<sip:1001@192.168.1.20>;q=2", id="q-above-1"),
    pytest.param("<sip:1001@192.168.1.20>;q=high", id="q-not-a-number"),
    pytest.param('<sip:1001@192.168.1.20>;+sip.instance="<urn:x>";reg-id=0', id="reg-id-0-RFC5626"),
])
def test_malformed_contact_parameters_are_400(service: LocationService, clock: Clock, contact: str) -> None:
    outcome = Phone(service, clock).register(contact)
    assert outcome.status == 400
    assert service.lookup("1001", clock.now) == []


def test_malformed_expires_header_counts_as_3600(clock: Clock) -> None:
    # RFC 3261 20.19: "Malformed values SHOULD be treated as equivalent to 3600" (core.sip.message does).
    service = LocationService(MemoryBindingStore(), max_expires=7200)
    outcome = Phone(service, clock).register(expires="never")
    assert outcome.status == 200
    assert outcome.contacts == ("<sip:1001@192.168.1.20:5060>;expires=3600",)


def test_peers_lists_every_registered_contact(clock: Clock) -> None:
    service = LocationService(MemoryBindingStore(), max_contacts=2)
    Phone(service, clock, aor="1002", source=("203.0.113.9", 33000), contact="<sip:1002@192.168.5.5>").register(
        extra=["User-Agent: Yealink SIP-T46U 108.86.0.20"])
    Phone(service, clock, aor="1001").register(extra=["User-Agent: Grandstream GXP2170"])
    clock.advance(100)
    rows = service.peers(clock.now)
    assert [(row.aor, row.host, row.port, row.transport, row.behind_nat, row.expires_in, row.user_agent)
            for row in rows] == [
        ("1001", "192.168.1.20", 5060, "udp", False, 3500, "Grandstream GXP2170"),
        ("1002", "203.0.113.9", 33000, "udp", True, 3500, "Yealink SIP-T46U 108.86.0.20"),
    ]


def test_closing_a_connection_drops_the_bindings_that_needed_it(clock: Clock) -> None:
    # Asterisk: register_contact_transport_shutdown_cb removes contacts that live on a reliable transport.
    service = LocationService(MemoryBindingStore(), max_contacts=3)
    behind_nat = Phone(service, clock, aor="1001", source=("198.51.100.2", 49152), transport="tcp",
                       contact="<sip:1001@192.168.1.20;transport=tcp>")
    direct = Phone(service, clock, aor="1002", source=("192.168.1.21", 49153), transport="tcp",
                   contact="<sip:1002@192.168.1.21;transport=tcp>")
    behind_nat.register()
    direct.register()
    assert service.flow_closed(("198.51.100.2", 49152), "udp") == []
    gone = service.flow_closed(("198.51.100.2", 49152), "tcp")
    assert [binding.aor for binding in gone] == ["1001"]
    assert service.flow_closed(("192.168.1.21", 49153), "tcp") == []  # reachable at its own address
    assert service.lookup("1002", clock.now)


def test_a_phone_that_reconnects_is_not_dropped_with_its_old_connection(service: LocationService,
                                                                       clock: Clock) -> None:
    phone = Phone(service, clock, source=("198.51.100.2", 49152), transport="tcp",
                  contact="<sip:1001@192.168.1.20;transport=tcp>")
    phone.register()
    phone.source = ("198.51.100.2", 49170)  # NAT gave the new connection another port
    phone.register()
    assert service.flow_closed(("198.51.100.2", 49152), "tcp") == []
    assert service.lookup("1001", clock.now)[0].reach.address == ("198.51.100.2", 49170)
    assert len(service.flow_closed(("198.51.100.2", 49170), "tcp")) == 1
    assert service.lookup("1001", clock.now) == []


# -- atomicity ------------------------------------------------------------------------------------------------


class FailingStore(MemoryBindingStore):
    def __init__(self) -> None:
        super().__init__()
        self.fail = False

    def apply(self, upserts: Sequence[BindingRecord], deletes: Sequence[str]) -> None:
        if self.fail:
            raise RegistrarError("disk full")
        super().apply(upserts, deletes)


def test_a_store_failure_is_500_and_changes_nothing(clock: Clock) -> None:
    # RFC 3261 10.3 step 7: "If any one of them fails (for example, because the back-end database commit
    # failed), the request MUST fail with a 500 (Server Error) response and all tentative binding updates
    # MUST be removed."
    store = FailingStore()
    service = LocationService(store, max_contacts=3)
    phone = Phone(service, clock)
    phone.register("<sip:1001@10.0.0.1>", expires=600)
    store.fail = True
    outcome = phone.register("<sip:1001@10.0.0.1>;expires=0", "<sip:1001@10.0.0.2>")
    assert (outcome.status, outcome.reason) == (500, "Server Internal Error")
    assert [(b.contact, b.expires) for b in service.lookup("1001", clock.now)] == [("sip:1001@10.0.0.1", 600)]
    store.fail = False
    assert phone.register("<sip:1001@10.0.0.1>;expires=0", "<sip:1001@10.0.0.2>").status == 200
    assert {record.contact for record in store.records.values()} == {"sip:1001@10.0.0.2"}


def test_one_transaction_per_register(clock: Clock) -> None:
    store = MemoryBindingStore()
    service = LocationService(store, max_contacts=5)
    Phone(service, clock).register(*(f"<sip:1001@10.0.0.{n}>" for n in range(1, 6)))
    assert store.transactions == 1 and len(store.records) == 5


# -- persistence ----------------------------------------------------------------------------------------------


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "registrations.sqlite3"


def reopen(path: Path, *, max_contacts: int = 1) -> tuple[SqliteBindingStore, LocationService]:
    store = SqliteBindingStore(path)
    return store, LocationService(store, max_contacts=max_contacts)


def test_bindings_survive_a_restart(db_path: Path, clock: Clock) -> None:
    store, service = reopen(db_path, max_contacts=2)
    Phone(service, clock).register(f'<sip:1001@192.168.1.20:5060>;q=0.7;+sip.instance="{INSTANCE}"',
                                   extra=["User-Agent: Snom D785", "Path: <sip:edge.example.com;lr>"])
    Phone(service, clock, aor="1002", source=("203.0.113.5", 41000),
          contact="<sip:1002@192.168.7.7>").register(expires=600)
    before = {binding.aor: binding for aor in ("1001", "1002") for binding in service.lookup(aor, clock.now)}
    store.close()

    # The gateway restarts 100 s later: the new process's monotonic clock starts from a small number.
    restarted = Clock(now=5.0, wall=clock.wall + 100)
    store, service = reopen(db_path, max_contacts=2)
    assert not service.restored
    restored = service.restore(restarted.now, restarted.wall)
    assert len(restored) == 2 and len(service) == 2
    for aor, old in before.items():
        [new] = service.lookup(aor, restarted.now)
        assert new.remaining(restarted.now) == old.expires - 100
        assert new.expires_at == pytest.approx(restarted.now + old.expires - 100)
        assert dataclasses.replace(new, expires_at=0.0) == dataclasses.replace(old, expires_at=0.0)
        assert new.reach == old.reach
    new_1001 = service.lookup("1001", restarted.now)[0]
    assert (new_1001.q, new_1001.instance, new_1001.user_agent, new_1001.path) == (
        0.7, INSTANCE, "Snom D785", ("<sip:edge.example.com;lr>",))
    # and the next REGISTER of the same phone refreshes the restored binding rather than adding one
    outcome = Phone(service, restarted).register(expires=3600, cseq=2)
    assert outcome.refreshed and not outcome.added
    store.close()


def test_expired_bindings_are_dropped_on_restart(db_path: Path, clock: Clock) -> None:
    store, service = reopen(db_path, max_contacts=2)
    Phone(service, clock, aor="1001").register(expires=60)
    Phone(service, clock, aor="1002").register(expires=3600)
    store.close()
    store, service = reopen(db_path)
    restored = service.restore(now=3.0, wallclock=clock.wall + 60)
    assert [binding.aor for binding in restored] == ["1002"]
    assert service.lookup("1001", 3.0) == []
    rows = sqlite3.connect(db_path).execute("SELECT aor FROM sip_bindings").fetchall()
    assert rows == [("1002",)]
    store.close()


def test_a_wall_clock_behind_after_reboot_cannot_stretch_a_binding(db_path: Path, clock: Clock) -> None:
    # A board without RTC boots with an old time: the stored expiry looks far away, the granted interval wins.
    store, service = reopen(db_path)
    Phone(service, clock).register(expires=600)
    store.close()
    store, service = reopen(db_path)
    service.restore(now=2.0, wallclock=WALL_START - 86400 * 365)
    [binding] = service.lookup("1001", 2.0)
    assert binding.remaining(2.0) == 600
    assert binding.expires_at_wall == WALL_START - 86400 * 365 + 600  # rewritten for the next restart
    store.close()


def test_connection_bound_bindings_do_not_survive_a_restart(db_path: Path, clock: Clock) -> None:
    # Asterisk's prune_on_boot (ast_sip_will_uri_survive_restart): the connection died with the process.
    store, service = reopen(db_path, max_contacts=3)
    Phone(service, clock, aor="1001", source=("198.51.100.2", 49152), transport="tcp",
          contact="<sip:1001@192.168.1.20;transport=tcp>").register()
    Phone(service, clock, aor="1002", source=("192.168.1.21", 49153), transport="tcp",
          contact="<sip:1002@192.168.1.21;transport=tcp>").register()
    Phone(service, clock, aor="1003", source=("198.51.100.3", 5060)).register()
    store.close()
    store, service = reopen(db_path)
    restored = service.restore(now=1.0, wallclock=clock.wall + 1)
    assert sorted(binding.aor for binding in restored) == ["1002", "1003"]
    store.close()


def test_wall_clock_step_while_running_keeps_monotonic_expiry_and_fixes_the_store(db_path: Path,
                                                                                  clock: Clock) -> None:
    # The board started with a wrong date; NTP steps the wall clock forward by two years while running.
    store, service = reopen(db_path)
    Phone(service, clock).register(expires=600)
    clock.now += 100
    clock.wall += 100 + 2 * 365 * 86400
    assert service.expire(clock.now, wallclock=clock.wall) == []  # monotonic time says 500 s are left
    assert service.lookup("1001", clock.now)[0].remaining(clock.now) == 500
    store.close()
    # Restart 10 s later: the binding is still there with 490 s left (it would have been dropped as expired
    # two years ago had the stored expiry not followed the clock).
    store, service = reopen(db_path)
    service.restore(now=1.0, wallclock=clock.wall + 10)
    assert service.lookup("1001", 1.0)[0].remaining(1.0) == 490
    store.close()


def test_wall_clock_step_backwards_is_noticed_at_register_too(clock: Clock) -> None:
    store = MemoryBindingStore()
    service = LocationService(store, max_contacts=2)
    Phone(service, clock, aor="1001").register(expires=600)
    clock.wall -= 3600  # stepped back an hour
    Phone(service, clock, aor="1002").register(expires=600)
    walls = {record.aor: record.expires_at_wall - clock.wall for record in store.records.values()}
    assert walls == {"1001": 600, "1002": 600}


def test_small_drift_is_not_a_step(clock: Clock) -> None:
    store = MemoryBindingStore()
    service = LocationService(store)
    Phone(service, clock).register(expires=600)
    transactions = store.transactions
    clock.wall += 1.5
    service.expire(clock.now, wallclock=clock.wall)
    assert store.transactions == transactions


def test_lookup_before_restore_is_an_error(db_path: Path, clock: Clock) -> None:
    store, service = reopen(db_path)
    Phone(service, clock).register()
    store.close()
    store, service = reopen(db_path)
    with pytest.raises(RegistrarError, match="restore"):
        service.lookup("1001", clock.now)
    store.close()


def test_register_restores_by_itself(db_path: Path, clock: Clock) -> None:
    store, service = reopen(db_path)
    Phone(service, clock).register()
    store.close()
    store, service = reopen(db_path)
    outcome = Phone(service, clock, source=("192.168.1.20", 5060), call_id="new-boot@phone").register()
    assert outcome.refreshed and not outcome.added and len(outcome.contacts) == 1
    store.close()


def test_store_uses_wal_and_a_schema_version(db_path: Path) -> None:
    store = SqliteBindingStore(db_path)
    raw = sqlite3.connect(db_path)
    assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert raw.execute("PRAGMA user_version").fetchone() == (1,)
    raw.close()
    store.close()


def test_a_newer_schema_is_refused(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    raw = sqlite3.connect(db_path)
    raw.execute("PRAGMA user_version=9")
    raw.close()
    with pytest.raises(RegistrarError, match="newer"):
        SqliteBindingStore(db_path)


def test_unreadable_rows_are_skipped(db_path: Path, clock: Clock) -> None:
    store, service = reopen(db_path, max_contacts=2)
    Phone(service, clock, aor="1001").register()
    Phone(service, clock, aor="1002").register()
    store.close()
    raw = sqlite3.connect(db_path)
    raw.execute("UPDATE sip_bindings SET transport = 'carrier-pigeon' WHERE aor = '1001'")
    raw.commit()
    raw.close()
    store, service = reopen(db_path)
    assert [binding.aor for binding in service.restore(clock.now, clock.wall)] == ["1002"]
    store.close()


# -- a restart loses nothing, whatever happened before (property) --------------------------------------------

_operation = st.one_of(
    st.tuples(st.just("register"), st.sampled_from(["1001", "1002", "1003"]), st.integers(0, 3),
              st.sampled_from([0, 60, 120, 3600, 7200])),
    st.tuples(st.just("advance"), st.integers(1, 200)),
    st.tuples(st.just("expire")),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(_operation, max_size=25))
def test_restart_restores_exactly_the_live_bindings(operations: list[tuple[object, ...]]) -> None:
    clock = Clock()
    store = MemoryBindingStore()
    service = LocationService(store, max_contacts=2)
    cseqs = itertools.count(1)
    for operation in operations:
        if operation[0] == "register":
            _kind, aor, host, expires = operation
            request = make_register(f"<sip:{aor}@10.0.0.{host}>", aor=str(aor), expires=int(str(expires)),
                                    call_id=f"{aor}-{host}", cseq=next(cseqs))
            outcome = service.register(str(aor), request, (f"10.0.0.{host}", 5060), "udp", clock.now, clock.wall)
            assert outcome.status == 200
        elif operation[0] == "advance":
            clock.advance(int(str(operation[1])))
        else:
            service.expire(clock.now)
    expected = {aor: [(b.contact, b.remaining(clock.now)) for b in service.lookup(aor, clock.now)]
                for aor in ("1001", "1002", "1003")}
    assert all(len(bindings) <= 2 for bindings in expected.values())
    restarted = LocationService(store, max_contacts=2)
    restarted.restore(now=7.0, wallclock=clock.wall)
    actual = {aor: [(b.contact, b.remaining(7.0)) for b in restarted.lookup(aor, 7.0)]
              for aor in ("1001", "1002", "1003")}
    assert actual == expected


# -- many users ------------------------------------------------------------------------------------------------


def _register_many(service: LocationService, clock: Clock, aors: range) -> list[float]:
    """Register each AOR once; the seconds each REGISTER took."""
    requests = [(str(n), make_register(f"<sip:{n}@10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}>",
                                       aor=str(n), call_id=f"c{n}")) for n in aors]
    durations = []
    for aor, request in requests:
        start = time.perf_counter()
        outcome = service.register(aor, request, ("198.51.100.1", 5060), "udp", clock.now, clock.wall)
        durations.append(time.perf_counter() - start)
        assert outcome.status == 200
    return durations


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


@pytest.mark.parametrize("persistent", [False, True], ids=["memory", "sqlite"])
def test_ten_thousand_users_without_slowdown(tmp_path: Path, clock: Clock, persistent: bool) -> None:
    store = SqliteBindingStore(tmp_path / "reg.sqlite3") if persistent else MemoryBindingStore()
    service = LocationService(store)
    first = _register_many(service, clock, range(0, 1000))
    _register_many(service, clock, range(1000, 9000))
    last = _register_many(service, clock, range(9000, 10000))
    assert len(service) == 10_000
    # A scan of every binding per REGISTER would make the last thousand ten times slower than the first.
    assert _median(last) < 3 * _median(first) + 50e-6
    # expire() with nothing due costs nothing, whatever the number of bindings.
    start = time.perf_counter()
    for _ in range(1000):
        assert service.expire(clock.now + 1) == []
    assert (time.perf_counter() - start) / 1000 < 3 * _median(first) + 50e-6
    # and when everything expires, each binding is reported once
    clock.advance(3600)
    assert len(service.expire(clock.now)) == 10_000 and len(service) == 0
    store.close()


def test_expire_cost_follows_what_expires_not_what_is_held(clock: Clock) -> None:
    service = LocationService(MemoryBindingStore())
    _register_many(service, clock, range(0, 2000))
    refresh: Iterator[int] = iter(range(0, 2000))
    # Refreshing leaves stale deadlines behind; expiry must skip them and report each binding once.
    for _round in range(3):
        clock.advance(60)
        for n in itertools.islice(refresh, 600):
            request = make_register(f"<sip:{n}@10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}>", aor=str(n),
                                    call_id=f"c{n}", cseq=2 + _round)
            assert service.register(str(n), request, ("198.51.100.1", 5060), "udp", clock.now,
                                    clock.wall).status == 200
    clock.advance(3600 - 180)
    gone = service.expire(clock.now)
    assert sorted(int(binding.aor) for binding in gone) == list(range(1800, 2000))  # never refreshed
    clock.advance(180)
    assert sorted(int(binding.aor) for binding in service.expire(clock.now)) == list(range(0, 1800))
    assert len(service) == 0 and service.next_expiry() is None



# -- refreshes are rewritten in place (no re-insert) and are as durable as new bindings --------------------------


def test_refreshes_update_the_stored_row_and_the_last_one_survives_a_restart(db_path: Path, clock: Clock) -> None:
    store, service = reopen(db_path)
    for number in range(1, 4):  # a phone that restarts keeps its Contact but picks a new Call-ID each time
        clock.advance(10)
        outcome = Phone(service, clock, call_id=f"boot-{number}@phone").register(expires=600 + number)
        assert outcome.status == 200 and (outcome.added if number == 1 else outcome.refreshed)
    rowids = sqlite3.connect(db_path).execute("SELECT rowid, call_id, expires FROM sip_bindings").fetchall()
    assert rowids == [(1, "boot-3@phone", 603)]  # one row, rewritten in place: the rowid never changed
    store.close()

    store, service = reopen(db_path)
    [binding] = service.restore(now=5.0, wallclock=clock.wall)
    assert (binding.call_id, binding.expires, binding.remaining(5.0)) == ("boot-3@phone", 603, 603)
    store.close()


def test_a_record_stored_under_another_aor_is_replaced_not_merged(db_path: Path) -> None:
    store = SqliteBindingStore(db_path)
    record = BindingRecord(binding_id="b1", aor="1001", contact="sip:1001@10.0.0.1", q=None, expires=600,
                           expires_at_wall=WALL_START + 600, refreshed_at_wall=WALL_START, call_id="c1", cseq=1,
                           instance=None, reg_id=None, source=("10.0.0.1", 5060), transport="udp", user_agent=None,
                           path=())
    store.apply([record], [])
    store.apply([dataclasses.replace(record, aor="1002", call_id="c2")], [])
    assert [(r.aor, r.call_id) for r in store.load()] == [("1002", "c2")]
    store.close()


def test_every_column_of_a_refresh_is_stored_whatever_changed(db_path: Path) -> None:
    # A refresh that changes only the expiry and Call-ID/CSeq is written narrowly; anything else, a full rewrite.
    store = SqliteBindingStore(db_path)
    record = BindingRecord(binding_id="b1", aor="1001", contact="sip:1001@10.0.0.1", q=None, expires=600,
                           expires_at_wall=WALL_START + 600, refreshed_at_wall=WALL_START, call_id="c1", cseq=1,
                           instance=None, reg_id=None, source=("10.0.0.1", 5060), transport="udp", user_agent=None,
                           path=())
    changes: list[dict[str, object]] = [
        {}, {"cseq": 2, "expires": 300, "expires_at_wall": WALL_START + 310, "refreshed_at_wall": WALL_START + 10},
        {"call_id": "c2", "cseq": 1}, {"source": ("10.0.0.1", 5062)}, {"cseq": 2}, {"user_agent": "Phone/2"},
        {"q": 0.5, "cseq": 3}, {"path": ("<sip:edge.example.net;lr>",)}, {"contact": "sip:1001@10.0.0.2"},
        {"instance": "urn:uuid:1", "reg_id": 1}, {"cseq": 4}, {"transport": "tcp"}, {"cseq": 5},
    ]
    for change in changes:
        record = dataclasses.replace(record, **change)  # type: ignore[arg-type]
        store.apply([record], [])
        assert store.load() == [record]
    sqlite3.connect(db_path, isolation_level=None).execute("DELETE FROM sip_bindings")  # behind the store's back
    record = dataclasses.replace(record, cseq=6)
    store.apply([record], [])
    assert store.load() == [record]
    store.close()


# -- group commit: the REGISTERs of one read batch share a transaction ---------------------------------------------


def test_a_batch_is_stored_by_its_commit_and_a_failed_commit_restores_every_aor_it_touched(db_path: Path,
                                                                                          clock: Clock) -> None:
    store, service = reopen(db_path)
    Phone(service, clock).register("<sip:1001@10.0.0.1>", expires=600)
    service.begin_batch()
    assert Phone(service, clock, call_id="moved@phone").register("<sip:1001@10.0.0.9>", expires=600).status == 200
    assert Phone(service, clock, aor="1002").register("<sip:1002@10.0.0.2>").status == 200
    reader = sqlite3.connect(db_path)
    assert reader.execute("SELECT aor, contact FROM sip_bindings").fetchall() == [("1001", "sip:1001@10.0.0.1")]
    assert service.end_batch()
    assert sorted(reader.execute("SELECT aor, contact FROM sip_bindings")) == [("1001", "sip:1001@10.0.0.9"),
                                                                               ("1002", "sip:1002@10.0.0.2")]

    # A deferred foreign key is checked by COMMIT itself: here it makes the commit fail, as a full disk would.
    store._db.execute("PRAGMA foreign_keys = ON")
    store._db.executescript("""
        CREATE TABLE parent (id TEXT PRIMARY KEY);
        CREATE TABLE child (parent TEXT REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);
        CREATE TRIGGER orphan AFTER INSERT ON sip_bindings WHEN NEW.aor = '1002'
            BEGIN INSERT INTO child VALUES ('nobody'); END;
    """)
    service.begin_batch()
    assert Phone(service, clock, call_id="again@phone").register("<sip:1001@10.0.0.7>", expires=600).status == 200
    assert Phone(service, clock, aor="1002", call_id="again@phone").register("<sip:1002@10.0.0.3>").status == 200
    assert not service.end_batch()
    assert sorted(reader.execute("SELECT aor, contact FROM sip_bindings")) == [("1001", "sip:1001@10.0.0.9"),
                                                                               ("1002", "sip:1002@10.0.0.2")]
    assert contacts_of(service, "1001", clock.now) == ["sip:1001@10.0.0.9"]
    assert contacts_of(service, "1002", clock.now) == ["sip:1002@10.0.0.2"]
    # Outside a batch every REGISTER commits by itself again, and what the failed batch wrote is not assumed.
    store._db.execute("DROP TRIGGER orphan")
    assert Phone(service, clock, aor="1002", call_id="third@phone").register("<sip:1002@10.0.0.4>").status == 200
    assert sorted(reader.execute("SELECT aor, contact FROM sip_bindings")) == [("1001", "sip:1001@10.0.0.9"),
                                                                               ("1002", "sip:1002@10.0.0.4")]
    reader.close()
    store.close()
