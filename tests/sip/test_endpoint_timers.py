"""Session timers (RFC 4028) with the fake clock: negotiation, refreshes, and the BYE when a session expires.

§9 (UAS: Session-Expires in the 2xx, the refresher table, Require: timer), §6/§5 (422 and Min-SE),
§7.1/§7.4 (refresh requests carry Supported: timer and the interval), §10 (refresh at half the interval;
the side that does not refresh sends BYE at the expiry minus min(32 s, interval/3); a refresh that fails
with 408/481 or times out ends the session with BYE).  RFC 3261 §14.1 for the re-INVITE that times out.
"""

from __future__ import annotations

import pytest

from core.causes import HangupCause
from core.sip.message import SipResponse, SipUri
from core.sip.session import CallAnswered, CallEnded, ReinviteAnswered, ReinviteReceived
from core.sip.settings import SipTrunkSettings
from tests.sip.endpoint_harness import (
    ANSWER,
    OFFER,
    Harness,
    Phone,
    answered_call,
    first,
    incoming_call,
    methods,
    statuses,
)


@pytest.fixture
def harness() -> Harness:
    return Harness()


@pytest.fixture
def alice(harness: Harness) -> Phone:
    return Phone(harness, "1001")


def two_hundred(harness: Harness) -> SipResponse:
    return [s for s in harness.sent if s.status == 200 and s.method == "INVITE"][0].response


@pytest.mark.parametrize(("headers", "session_expires", "require"), [
    (["Session-Expires: 1800", "Supported: timer"], "1800;refresher=uac", "timer"),
    (["Session-Expires: 1800;refresher=uac", "Supported: timer"], "1800;refresher=uac", "timer"),
    (["Session-Expires: 600"], "600;refresher=uas", None),
])
def test_the_2xx_states_the_interval_and_the_refresher(harness: Harness, alice: Phone, headers: list[str],
                                                       session_expires: str, require: str | None) -> None:
    """§9: without 'timer' support at the UAC the UAS refreshes; Require: timer only if the UAC supports it."""
    answered_call(harness, alice, headers=headers)
    response = two_hundred(harness)
    assert response.header("Session-Expires") == session_expires
    assert response.header("Require") == require


def test_the_uacs_choice_of_refresher_is_kept(harness: Harness, alice: Phone) -> None:
    answered_call(harness, alice, headers=["Session-Expires: 1800;refresher=uas", "Supported: timer"])
    assert two_hundred(harness).header("Session-Expires") == "1800;refresher=uas"


def test_no_session_timer_unless_asked(harness: Harness, alice: Phone) -> None:
    _call, sip_call = answered_call(harness, alice, headers=["Supported: timer"])
    assert two_hundred(harness).header("Session-Expires") is None
    assert alice.advance(7200.0) == []
    assert not sip_call.ended and harness.events() == []


def test_an_interval_below_min_se_is_422(harness: Harness, alice: Phone) -> None:
    call = alice.new_call("1002")
    sent = call.call(headers=["Session-Expires: 60", "Supported: timer"])
    (refusal,) = [s for s in sent if s.status >= 200]
    assert refusal.status == 422 and refusal.response.header("Min-SE") == "90"
    assert harness.events() == []
    # §7.3: the retry with the Min-SE value is accepted.
    call.send(call.make_ack(refusal.response))
    call.call(headers=["Session-Expires: 90", "Min-SE: 90", "Supported: timer"])
    assert [type(e).__name__ for e in harness.events()] == ["IncomingCall"]


def test_without_a_refresh_the_non_refresher_sends_bye_before_expiry(harness: Harness, alice: Phone) -> None:
    """§10: BYE at expiry - min(32 s, interval/3) when we are not the refresher and no refresh came."""
    _call, sip_call = answered_call(harness, alice, headers=["Session-Expires: 1800", "Supported: timer"])
    answered_at = harness.now
    sent = alice.advance(1767.0)
    assert methods(sent) == []
    bye = first(alice.advance(1.0), "BYE")
    assert bye.at - answered_at == pytest.approx(1800 - 32)
    assert bye.request.header("Reason") == 'Q.850;cause=102;text="Recover on timer expiry"'
    (ended,) = harness.events()
    assert isinstance(ended, CallEnded) and ended.cause is HangupCause.RECOVERY_ON_TIMER_EXPIRE


def test_a_short_interval_expires_at_two_thirds(harness: Harness, alice: Phone) -> None:
    _call, _sip_call = answered_call(harness, alice, headers=["Session-Expires: 90", "Supported: timer"])
    answered_at = harness.now
    bye = first(alice.advance(61.0), "BYE")
    assert bye.at - answered_at == pytest.approx(90 - 30)


@pytest.mark.parametrize("method", ["INVITE", "UPDATE"])
def test_a_refresh_from_the_phone_restarts_the_timer(harness: Harness, alice: Phone, method: str) -> None:
    call, sip_call = answered_call(harness, alice, headers=["Session-Expires: 1800", "Supported: timer"])
    answered_at = harness.now
    alice.advance(900.0)
    refresh_headers = ["Session-Expires: 1800;refresher=uac", "Supported: timer"]
    if method == "INVITE":
        call.send(call.make_invite(OFFER, headers=refresh_headers))
        (event,) = harness.events()
        assert isinstance(event, ReinviteReceived)
        harness.endpoint.answer_reinvite(sip_call, 200, ANSWER, harness.now)
        (ok,) = harness.drain()
        assert ok.response.header("Session-Expires") == "1800;refresher=uac"
        call.send(call.make_ack(ok.response))
    else:
        (ok,) = call.send(call.make_request("UPDATE", headers=refresh_headers))
        assert ok.status == 200 and ok.response.header("Session-Expires") == "1800;refresher=uac"
    refreshed_at = harness.now
    assert [s for s in alice.advance(refreshed_at + 1767.0 - harness.now) if s.method == "BYE"] == []
    assert not sip_call.ended
    bye = first(alice.advance(2.0), "BYE")
    assert bye.at - refreshed_at == pytest.approx(1768.0)
    assert bye.at - answered_at > 1800


def test_as_refresher_we_reinvite_at_half_the_interval(harness: Harness, alice: Phone) -> None:
    call, sip_call = answered_call(harness, alice, headers=["Session-Expires: 600"])
    answered_at = harness.now
    assert alice.advance(299.0) == []
    refresh = first(alice.advance(1.0), "INVITE")
    request = refresh.request
    assert request.method == "INVITE" and refresh.at - answered_at == pytest.approx(300.0)
    assert request.to.tag == call.local_tag and request.body == ANSWER  # same session, same offer
    ok = alice.make_response(request, 200, body=OFFER, headers=["Session-Expires: 600;refresher=uac"])
    assert methods(alice.send(ok)) == ["ACK"]
    (answered,) = harness.events()
    assert isinstance(answered, ReinviteAnswered) and answered.status == 200
    # The next refresh comes another half interval later; the call never expires.
    second = first(alice.advance(301.0), "INVITE")
    assert second.at - refresh.at == pytest.approx(300.0)
    assert second.request.cseq.number == request.cseq.number + 1
    assert not sip_call.ended


def test_our_refresh_states_the_session_timer(harness: Harness, alice: Phone) -> None:
    _call, _sip_call = answered_call(harness, alice, headers=["Session-Expires: 600"])
    refresh = first(alice.advance(300.0), "INVITE")
    request = refresh.request
    assert "timer" in (request.header("Supported") or "")
    assert (request.header("Session-Expires") or "").replace(" ", "").startswith("600;refresher=uac")


def test_a_refresh_that_times_out_ends_the_call(harness: Harness, alice: Phone) -> None:
    answered_call(harness, alice, headers=["Session-Expires: 600"])
    first(alice.advance(300.0), "INVITE")
    sent = alice.advance(40.0)  # Timer B: 64*T1 without any answer
    assert "BYE" in methods(sent)
    assert any(isinstance(e, CallEnded) for e in harness.events())


def test_a_refresh_refused_with_481_ends_the_call(harness: Harness, alice: Phone) -> None:
    _call, sip_call = answered_call(harness, alice, headers=["Session-Expires: 600"])
    refresh = first(alice.advance(300.0), "INVITE")
    sent = alice.send(alice.make_response(refresh.request, 481))
    assert sorted(methods(sent)) == ["ACK", "BYE"]
    assert any(isinstance(e, CallEnded) for e in harness.events())
    assert sip_call.ended


def test_an_incoming_call_that_is_never_answered_has_no_session_timer(harness: Harness, alice: Phone) -> None:
    _call, sip_call = incoming_call(harness, alice, headers=["Session-Expires: 90", "Supported: timer"])
    harness.endpoint.ring(sip_call, harness.now)
    harness.drain()
    assert statuses(alice.advance(200.0)) == [] and harness.events() == []


# -- as UAC --------------------------------------------------------------------------------------------------

ITSP = ("198.51.100.7", 5060)


@pytest.mark.parametrize(("refresher", "we_refresh"), [("uac", True), ("uas", False)])
def test_the_2xx_to_our_invite_decides_who_refreshes(refresher: str, we_refresh: bool) -> None:
    harness = Harness(trunks=(SipTrunkSettings(name="itsp", servers=(ITSP,)),))
    itsp = Phone(harness, "5551234", address=ITSP)
    call = harness.endpoint.invite(uri=SipUri.parse(f"sip:5551234@{ITSP[0]}"), destination=ITSP, from_user="1001",
                                   sdp=OFFER, now=harness.now, trunk="itsp")
    (placed,) = harness.drain()
    invite = placed.request
    assert "timer" in (invite.header("Supported") or "")
    itsp.send(itsp.make_response(invite, 200, to_tag="bob", body=ANSWER,
                                 headers=[f"Session-Expires: 120;refresher={refresher}", "Require: timer"]))
    assert isinstance(harness.events()[0], CallAnswered)
    answered_at = harness.now
    sent = itsp.advance(90.0)
    if we_refresh:
        refresh = first(sent, "INVITE")
        assert refresh.at - answered_at == pytest.approx(60.0)
        assert refresh.request.to.tag == "bob" and refresh.request.cseq.number == invite.cseq.number + 1
    else:
        bye = first(sent, "BYE")
        assert bye.at - answered_at == pytest.approx(120 - 32)
        (ended,) = harness.events()
        assert isinstance(ended, CallEnded) and ended.call is call


def test_a_refresh_that_names_us_refresher_makes_us_refresh(harness: Harness, alice: Phone) -> None:
    """§9: the UAS of a refresh uses the refresher the UAC names; from then on we send the refreshes."""
    call, _sip_call = answered_call(harness, alice, headers=["Session-Expires: 600", "Supported: timer"])
    assert two_hundred(harness).header("Session-Expires") == "600;refresher=uac"
    alice.advance(100.0)
    (ok,) = call.send(call.make_request("UPDATE", headers=["Session-Expires: 600;refresher=uas", "Supported: timer"]))
    assert ok.response.header("Session-Expires") == "600;refresher=uas"
    updated_at = harness.now
    refresh = first(alice.advance(301.0), "INVITE")
    assert refresh.at - updated_at == pytest.approx(300.0)
    assert (refresh.request.header("Session-Expires") or "").replace(" ", "") == "600;refresher=uac"
    assert [s for s in alice.advance(1.0) if s.method == "BYE"] == []


def test_a_reinvite_of_ours_during_a_session_timer_states_it(harness: Harness, alice: Phone) -> None:
    """RFC 4028 §7.4: any re-INVITE we send refreshes the session and says who refreshes (here: the phone)."""
    _call, sip_call = answered_call(harness, alice, headers=["Session-Expires: 1800", "Supported: timer"])
    assert harness.endpoint.reinvite(sip_call, ANSWER, harness.now)
    (sent,) = harness.drain()
    assert sent.request.header("Session-Expires") == "1800;refresher=uas"
    assert "timer" in (sent.request.header("Supported") or "")
