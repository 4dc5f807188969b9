"""The SIP channel driver as a B2BUA: SIP phones calling each other through the dialplan, in memory.

The in-process PBX (``Pbx`` + ``DialplanExecutor`` + CDR engine, as ``tests/apps/harness.py`` builds it) runs
``extensions.conf`` text; the SIP endpoint has the fake clock of :mod:`tests.sip.endpoint_harness` and
scripted phones.  Asserted: what each phone receives (INVITE with the caller's SDP, 180/200 relayed, BYE with
the Reason of RFC 3326), the Q.850 cause of a refusal (RFC 3398 §8.2.6.1, 480/503 as Asterisk maps them) in
``HANGUPCAUSE`` and the CDR disposition, 404/484 for numbers the context cannot route, Busy()/Congestion().
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from core.apps import default_applications
from core.cdr import CdrEngine, CdrRecord
from core.dialplan.executor import DialplanExecutor
from core.dialplan.loader import load_dialplan
from core.events import EventBus
from core.local import LocalDriver
from core.pbx import Pbx
from core.sip.channel import SipChannelDriver
from core.sip.message import SipRequest, SipResponse, parse_message
from core.sip.session import EndedInvite
from core.sip.settings import SipTrunkSettings
from tests.sip.endpoint_harness import (
    ANSWER,
    OFFER,
    Harness,
    Phone,
    PhoneCall,
    Sent,
    methods,
    sdp_with_direction,
    statuses,
)

PLAN = """
[internal]
exten => _100X,1,Dial(SIP/${EXTEN},5)
exten => 600,1,Answer()
 same => n,Set(CDR(userfield)=transferred)
 same => n,Wait(5)
exten => 700,1,Busy()
exten => 701,1,Congestion()
exten => 702,1,Set(R=$[2 * 3])
 same => n,GotoIf($[${R} = 6]?busy:free)
 same => n(free),Hangup()
 same => n(busy),Busy()
exten => 800,1,Dial(SIP/itsp/5551234,5)
exten => h,1,Set(CDR(userfield)=${HANGUPCAUSE})

[from-trunk]
exten => 5550000,1,Dial(SIP/1002,5)
"""

ITSP = ("198.51.100.7", 5060)


class Records:
    """A CDR backend that keeps the records."""

    name = "memory"

    def __init__(self) -> None:
        self.records: list[CdrRecord] = []

    def write(self, record: CdrRecord) -> None:
        self.records.append(record)

    def close(self) -> None:
        return None


@dataclass
class Gateway:
    """The PBX with the SIP driver over the in-memory endpoint."""

    harness: Harness
    pbx: Pbx
    executor: DialplanExecutor
    driver: SipChannelDriver
    cdr: Records
    phones: dict[str, Phone] = field(default_factory=dict)

    async def settle(self, rounds: int = 30) -> None:
        """Let the dialplan tasks run and the driver consume every endpoint event."""
        for _ in range(rounds):
            self.driver.process_events()
            self.harness.drain()
            await asyncio.sleep(0)
        self.driver.process_events()
        self.harness.drain()

    async def send(self, phone: Phone, message: SipRequest | SipResponse) -> list[Sent]:
        """The phone sends ``message``; everything it received once the gateway settled."""
        phone.send(message)
        await self.settle()
        return phone.inbox()

    async def wait_for(self, phone: Phone, predicate: Callable[[Sent], bool], timeout: float = 3.0) -> list[Sent]:
        """Settle until the phone received something matching ``predicate`` (real time bounded)."""
        got: list[Sent] = []
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while loop.time() < end:
            await self.settle()
            got += phone.inbox()
            if any(predicate(s) for s in got):
                return got
            await asyncio.sleep(0.005)
        raise AssertionError(f"{phone.user} never received what was expected: {got}")


def make_gateway(tmp_path: Path, plan: str = PLAN, *, guest_context: str | None = None) -> Gateway:
    path = tmp_path / "extensions.conf"
    path.write_text(plan)
    bus = EventBus()
    pbx = Pbx(bus)
    executor = DialplanExecutor(pbx, bus, default_applications())
    executor.load(load_dialplan(path).dialplan)
    pbx.runner = executor
    pbx.register_driver(LocalDriver(pbx, exists=lambda context, exten: executor.index is not None
                                    and executor.index.exists(context, exten, 1)))
    trunks = (SipTrunkSettings(name="itsp", servers=(ITSP,), context="from-trunk"),)
    harness = Harness(trunks=trunks, guest_context=guest_context)
    driver = SipChannelDriver(pbx, harness.endpoint, harness.clock, lambda: None,
                              redirect=lambda channel, context, exten: executor.async_goto(channel.name, context,
                                                                                           exten, 1),
                              routable=executor.routable)
    pbx.register_driver(driver)
    records = Records()
    executor.cdr_engine = CdrEngine(bus, pbx.find_channel, [records],
                                    runs_hangup_logic=lambda name: executor.context_of(name) is not None)
    return Gateway(harness, pbx, executor, driver, records)


@pytest.fixture
def gateway(tmp_path: Path) -> Gateway:
    return make_gateway(tmp_path)


def phones(gateway: Gateway) -> tuple[Phone, Phone]:
    alice = Phone(gateway.harness, "1001", address=("192.0.2.10", 5060), display="Alice")
    bob = Phone(gateway.harness, "1002", address=("192.0.2.20", 5060), display="Bob")
    assert bob.register(expires=600).status == 200
    bob.inbox()
    return alice, bob


async def start_call(gateway: Gateway, alice: Phone, bob: Phone, to: str = "1002") -> tuple[PhoneCall, Sent]:
    """alice dials ``to``; the INVITE bob receives."""
    call = alice.new_call(to)
    call.call()
    alice.inbox()  # the 401 of the first attempt
    got = await gateway.wait_for(bob, lambda s: s.method == "INVITE" and not s.status)
    (invite,) = [s for s in got if s.method == "INVITE" and not s.status][:1]
    return call, invite


async def answered(gateway: Gateway, alice: Phone, bob: Phone) -> tuple[PhoneCall, Sent]:
    call, invite = await start_call(gateway, alice, bob)
    await gateway.send(bob, bob.make_response(invite.request, 180, to_tag="bobtag"))
    await gateway.send(bob, bob.make_response(invite.request, 200, to_tag="bobtag", body=ANSWER))
    got = await gateway.wait_for(alice, lambda s: s.status == 200 and s.method == "INVITE")
    ok = [s for s in got if s.status == 200 and s.method == "INVITE"][0]
    call.learn(ok.response)
    await gateway.send(alice, call.make_ack(ok.response))
    return call, invite


async def cdrs(gateway: Gateway) -> list[CdrRecord]:
    for _ in range(50):
        await gateway.settle()
        if gateway.cdr.records and not gateway.pbx.channels:
            return gateway.cdr.records
        await asyncio.sleep(0.005)
    raise AssertionError(f"no CDR; channels left: {gateway.pbx.channels}")


# -- the basic call ----------------------------------------------------------------------------------------------


async def test_the_callee_gets_an_invite_with_the_callers_sdp(gateway: Gateway) -> None:
    alice, bob = phones(gateway)
    _call, invite = await start_call(gateway, alice, bob)
    request = invite.request
    assert invite.destination == bob.address
    assert request.body == OFFER and request.content_type == "application/sdp"
    assert str(request.uri) == f"sip:1002@{bob.address[0]}:{bob.address[1]}"  # the registered Contact
    assert request.from_.uri.user == "1001" and request.from_.display_name == "Alice"
    channels = sorted(c.name.split("-")[0] for c in gateway.pbx.channels)
    assert channels == ["SIP/1001", "SIP/1002"]


async def test_ringing_and_answer_are_relayed_and_bye_from_the_caller_ends_both(gateway: Gateway) -> None:
    alice, bob = phones(gateway)
    call, invite = await start_call(gateway, alice, bob)
    await gateway.send(bob, bob.make_response(invite.request, 180, to_tag="bobtag"))
    got = await gateway.wait_for(alice, lambda s: s.status == 180)
    assert [s.status for s in got if s.status == 180] == [180]
    await gateway.send(bob, bob.make_response(invite.request, 200, to_tag="bobtag", body=ANSWER))
    got = await gateway.wait_for(alice, lambda s: s.status == 200)
    ok = [s for s in got if s.status == 200][0].response
    assert ok.body == ANSWER  # the callee's answer passes through
    assert [s.request.method for s in bob.inbox() if not s.status] == []
    call.learn(ok)
    await gateway.send(alice, call.make_ack(ok))
    acks = [s for s in gateway.harness.sent if s.method == "ACK" and s.destination == bob.address]
    assert len(acks) == 1 and acks[0].request.to.tag == "bobtag"
    # The caller hangs up: the callee gets a BYE with the cause.
    got = await gateway.send(alice, call.make_request("BYE"))
    assert statuses(got) == [200]
    got = await gateway.wait_for(bob, lambda s: s.method == "BYE")
    bye = [s for s in got if s.method == "BYE"][0].request
    assert bye.header("Reason") == 'Q.850;cause=16;text="Normal Clearing"'
    await gateway.send(bob, bob.make_response(bye, 200))
    (record,) = await cdrs(gateway)
    assert (record.src, record.dst, record.dcontext) == ("1001", "1002", "internal")
    assert record.disposition_text == "ANSWERED" and record.userfield == "16"
    assert record.channel.startswith("SIP/1001-") and record.dstchannel.startswith("SIP/1002-")
    assert gateway.harness.endpoint.live_calls == {}


async def test_bye_from_the_callee_ends_the_caller(gateway: Gateway) -> None:
    alice, bob = phones(gateway)
    call, invite = await answered(gateway, alice, bob)
    bob_dialog = PhoneCall(bob, call_id=invite.request.call_id, local_tag="bobtag", to_user="1001",
                           request_uri=str(invite.request.contacts[0].uri), remote_tag=invite.request.from_.tag,
                           remote_target=str(invite.request.contacts[0].uri), cseq=1)
    bye = _callee_request(bob_dialog, invite, "BYE", ['Reason: Q.850;cause=16'])
    assert statuses(await gateway.send(bob, bye)) == [200]
    got = await gateway.wait_for(alice, lambda s: s.method == "BYE" and not s.status)
    alices_bye = [s for s in got if s.method == "BYE"][0].request
    assert alices_bye.call_id == call.call_id and alices_bye.to.tag == call.local_tag
    await gateway.send(alice, alice.make_response(alices_bye, 200))
    (record,) = await cdrs(gateway)
    assert record.disposition_text == "ANSWERED"
    assert gateway.harness.endpoint.live_calls == {}


@pytest.mark.parametrize(("status", "relayed", "cause", "disposition"), [
    (486, 486, 17, "BUSY"),
    (600, 486, 17, "BUSY"),
    (480, 480, 19, "NO ANSWER"),
    (503, 503, 34, "FAILED"),
    # Asterisk's app_dial counts other causes as "no channel" (handle_cause), DIALSTATUS CHANUNAVAIL, and
    # autofallthrough plays Congestion: the caller gets 503 with cause 34; the CDR's dial status of the
    # leg is ast_hangup_cause_to_dial_status(1 or 21) = NOANSWER.
    (404, 503, 34, "NO ANSWER"),
    (603, 503, 34, "NO ANSWER"),
])
async def test_a_refusal_from_the_callee_gives_its_cause(tmp_path: Path, status: int, relayed: int, cause: int,
                                                         disposition: str) -> None:
    gateway = make_gateway(tmp_path)
    alice, bob = phones(gateway)
    call, invite = await start_call(gateway, alice, bob)
    got = await gateway.send(bob, bob.make_response(invite.request, status, to_tag="bobtag", contact=False))
    assert methods(got) == ["ACK"]
    got = await gateway.wait_for(alice, lambda s: s.status >= 300)
    final = [s for s in got if s.status >= 300][0].response
    assert final.status == relayed
    assert final.header("Reason") == f'Q.850;cause={cause};text="{_description(cause)}"'
    await gateway.send(alice, call.make_ack(final))
    (record,) = await cdrs(gateway)
    assert record.userfield == str(cause)  # ${HANGUPCAUSE} in the h extension
    assert record.disposition_text == disposition and record.dstchannel.startswith("SIP/1002-")


async def test_cancel_from_the_caller_cancels_the_callee(gateway: Gateway) -> None:
    alice, bob = phones(gateway)
    call, invite = await start_call(gateway, alice, bob)
    await gateway.send(bob, bob.make_response(invite.request, 180, to_tag="bobtag"))
    await gateway.wait_for(alice, lambda s: s.status == 180)
    got = await gateway.send(alice, call.make_cancel())
    assert sorted(statuses(got)) == [200, 487]
    got = await gateway.wait_for(bob, lambda s: s.method == "CANCEL")
    cancel = [s for s in got if s.method == "CANCEL"][0].request
    assert cancel.vias[0].branch == invite.request.vias[0].branch
    await gateway.send(bob, bob.make_response(cancel, 200, to_tag="bobtag"))
    got = await gateway.send(bob, bob.make_response(invite.request, 487, to_tag="bobtag", contact=False))
    assert methods(got) == ["ACK"]
    (record,) = await cdrs(gateway)
    assert record.disposition_text == "NO ANSWER" and record.answer is None


# -- what the dialplan decides -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("exten", "status", "cause"), [
    ("999", 404, 1),     # nothing matches
    ("10", 484, 28),     # _100X could still match with more digits
    ("700", 486, 17),    # Busy()
    ("701", 503, 34),    # Congestion()
    ("702", 486, 17),    # $[...] then Busy() on success
])
async def test_the_dialplan_decides_the_final_response(gateway: Gateway, exten: str, status: int, cause: int) -> None:
    alice, _bob = phones(gateway)
    call = alice.new_call(exten)
    call.call()
    alice.inbox()  # the 401 of the first attempt
    got = await gateway.wait_for(alice, lambda s: s.status >= 300)
    final = [s for s in got if s.status >= 300][0].response
    assert final.status == status
    assert final.header("Reason") == f'Q.850;cause={cause};text="{_description(cause)}"'
    await gateway.send(alice, call.make_ack(final))
    assert alice.advance(40.0) == []  # the ACK stopped the retransmissions
    for _ in range(20):
        await gateway.settle()
    assert gateway.pbx.channels == [] and gateway.harness.endpoint.live_calls == {}


async def test_dial_to_an_unregistered_user_falls_through_to_congestion(gateway: Gateway) -> None:
    """Asterisk's autofallthrough: DIALSTATUS CHANUNAVAIL and no more priorities -> Congestion -> 503/34."""
    alice = Phone(gateway.harness, "1001", address=("192.0.2.10", 5060))
    call = alice.new_call("1003")
    call.call()
    alice.inbox()  # the 401 of the first attempt
    got = await gateway.wait_for(alice, lambda s: s.status >= 300)
    final = [s for s in got if s.status >= 300][0].response
    assert final.status == 503 and final.header("Reason") == 'Q.850;cause=34;text="Circuit/channel congestion"'
    await gateway.send(alice, call.make_ack(final))


async def test_dial_to_an_unregistered_user_then_hangup_keeps_cause_20(tmp_path: Path) -> None:
    gateway = make_gateway(tmp_path, PLAN.replace("exten => _100X,1,Dial(SIP/${EXTEN},5)\n",
                                                  "exten => _100X,1,Dial(SIP/${EXTEN},5)\n same => n,Hangup()\n"))
    alice = Phone(gateway.harness, "1001", address=("192.0.2.10", 5060))
    call = alice.new_call("1003")
    call.call()
    alice.inbox()
    got = await gateway.wait_for(alice, lambda s: s.status >= 300)
    final = [s for s in got if s.status >= 300][0].response
    await gateway.send(alice, call.make_ack(final))
    assert (final.status, final.header("Reason")) == (480, 'Q.850;cause=20;text="Subscriber absent"')


# -- in the call ---------------------------------------------------------------------------------------------------


async def test_hold_reinvite_passes_through(gateway: Gateway) -> None:
    alice, bob = phones(gateway)
    call, invite = await answered(gateway, alice, bob)
    hold = sdp_with_direction(OFFER, "sendonly")
    await gateway.send(alice, call.make_invite(hold))
    got = await gateway.wait_for(bob, lambda s: s.method == "INVITE" and not s.status)
    reinvite = [s for s in got if s.method == "INVITE" and not s.status][0].request
    assert reinvite.body == hold and reinvite.to.tag == "bobtag"
    held = sdp_with_direction(ANSWER, "recvonly")
    got = await gateway.send(bob, bob.make_response(reinvite, 200, body=held))
    assert methods(got) == ["ACK"]
    got = await gateway.wait_for(alice, lambda s: s.status == 200)
    ok = [s for s in got if s.status == 200][0].response
    assert ok.body == held and ok.cseq.number == call.cseq
    await gateway.send(alice, call.make_ack(ok))


async def test_dtmf_info_passes_through(gateway: Gateway) -> None:
    alice, bob = phones(gateway)
    call, _invite = await answered(gateway, alice, bob)
    got = await gateway.send(alice, call.make_request("INFO", body=b"Signal=7\r\nDuration=160\r\n",
                                                      content_type="application/dtmf-relay"))
    assert statuses(got) == [200]
    got = await gateway.wait_for(bob, lambda s: s.method == "INFO")
    info = [s for s in got if s.method == "INFO"][0].request
    assert info.content_type == "application/dtmf-relay" and info.body.startswith(b"Signal=7\r\n")


async def test_refer_from_the_callee_transfers_the_caller(gateway: Gateway) -> None:
    alice, bob = phones(gateway)
    _call, invite = await answered(gateway, alice, bob)
    bob_dialog = PhoneCall(bob, call_id=invite.request.call_id, local_tag="bobtag", to_user="1001",
                           request_uri=str(invite.request.contacts[0].uri), remote_tag=invite.request.from_.tag,
                           remote_target=str(invite.request.contacts[0].uri), cseq=1)
    refer = _callee_request(bob_dialog, invite, "REFER", ["Refer-To: <sip:600@192.0.2.1>"])
    got = await gateway.send(bob, refer)
    assert statuses(got)[:1] == [202]
    notify = [s for s in got if s.method == "NOTIFY"][0].request
    assert notify.body == b"SIP/2.0 200 OK\r\n" and notify.header("Event") == "refer"
    assert notify.header("Subscription-State") == "terminated;reason=noresource"
    await gateway.send(bob, bob.make_response(notify, 200))
    # RFC 5589 §6.1: the transferor hangs up once told the transfer worked; the caller runs extension 600.
    assert statuses(await gateway.send(bob, _callee_request(bob_dialog, invite, "BYE", []))) == [200]
    for _ in range(5):
        await gateway.settle()
    (caller,) = gateway.pbx.channels
    assert caller.name.startswith("SIP/1001-") and caller.exten == "600" and not caller.is_hungup
    assert [s for s in alice.inbox() if s.method == "BYE"] == []  # same dialog for the caller


async def test_an_inbound_trunk_call_reaches_the_trunks_context(gateway: Gateway) -> None:
    _alice, bob = phones(gateway)
    carrier = Phone(gateway.harness, "+15551234567", secret="", address=ITSP, display="Carrier")
    call = carrier.new_call("5550000")
    assert call.send(call.make_invite(OFFER)) == []  # no challenge for the trunk's own address
    got = await gateway.wait_for(bob, lambda s: s.method == "INVITE" and not s.status)
    invite = [s for s in got if s.method == "INVITE"][0].request
    assert invite.from_.uri.user == "+15551234567" and invite.body == OFFER


# -- helpers ------------------------------------------------------------------------------------------------------


def _description(cause: int) -> str:
    from core.causes import HangupCause

    return HangupCause.parse(str(cause)).description


def _callee_request(dialog: PhoneCall, invite: Sent, method: str, headers: list[str]) -> SipRequest:
    """A request from the callee inside the dialog the gateway's INVITE created (§12.2.1.1)."""
    request = invite.request
    dialog.cseq += 1
    lines = [
        f"{method} {request.contacts[0].uri} SIP/2.0",
        f"Via: {dialog.phone.via(f'z9hG4bK-callee-{method}-{dialog.cseq}')}",
        "Max-Forwards: 70",
        f"From: {request.header('To')};tag=bobtag",
        f"To: {request.header('From')}",
        f"Call-ID: {request.call_id}",
        f"CSeq: {dialog.cseq} {method}",
        f"Contact: <sip:1002@{dialog.phone.address[0]}:{dialog.phone.address[1]}>",
        *headers,
        "Content-Length: 0",
        "",
        "",
    ]
    message = parse_message("\r\n".join(lines).encode())
    assert isinstance(message, SipRequest)
    return message


async def test_early_media_sdp_is_relayed_with_the_183(gateway: Gateway) -> None:
    alice, bob = phones(gateway)
    _call, invite = await start_call(gateway, alice, bob)
    await gateway.send(bob, bob.make_response(invite.request, 183, to_tag="bobtag", body=ANSWER))
    got = await gateway.wait_for(alice, lambda s: s.status == 183)
    progress = [s for s in got if s.status == 183][0].response
    assert progress.body == ANSWER and progress.content_type == "application/sdp"


async def test_a_guest_only_reaches_the_guest_context(tmp_path: Path) -> None:
    """Issue 'SIP' §9: an unauthenticated source reaches only its context; the internal numbers are 404 there."""
    plan = PLAN + "\n[public]\nexten => 600,1,Answer()\n same => n,Wait(5)\n"
    gateway = make_gateway(tmp_path, plan, guest_context="public")
    _alice, bob = phones(gateway)
    guest = Phone(gateway.harness, "stranger", secret="", address=("203.0.113.5", 5060))
    call = guest.new_call("1002")
    call.send(call.make_invite(OFFER))
    got = await gateway.wait_for(guest, lambda s: s.status >= 300)
    final = [s for s in got if s.status >= 300][0].response
    assert final.status == 404
    await gateway.send(guest, call.make_ack(final))
    assert [s for s in bob.inbox() if s.method == "INVITE"] == []
    answered_call = guest.new_call("600")
    answered_call.send(answered_call.make_invite(OFFER))
    got = await gateway.wait_for(guest, lambda s: s.status == 200)
    ok = [s for s in got if s.status == 200][0].response
    assert ok.content_type == "application/sdp"  # the PBX's own (inactive, discard-port) answer
    (channel,) = gateway.pbx.channels
    assert channel.context == "public" and channel.name.startswith("SIP/203.0.113.5-")


async def test_dial_through_a_trunk(gateway: Gateway) -> None:
    alice, _bob = phones(gateway)
    carrier = Phone(gateway.harness, "carrier", secret="", address=ITSP)
    call = alice.new_call("800")
    call.call()
    got = await gateway.wait_for(carrier, lambda s: s.method == "INVITE" and not s.status)
    invite = [s for s in got if s.method == "INVITE"][0].request
    assert str(invite.uri) == f"sip:5551234@{ITSP[0]}" and invite.body == OFFER
    assert invite.from_.uri.user == "1001"
    await gateway.send(carrier, carrier.make_response(invite, 486, to_tag="c", contact=False))
    got = await gateway.wait_for(alice, lambda s: s.status >= 300)
    assert [s.status for s in got if s.status >= 300 and s.response.cseq.number == call.cseq] == [486]


@pytest.mark.parametrize("collector", ["on", "off"])
async def test_a_finished_call_does_not_keep_its_channels_alive(gateway: Gateway, collector: str) -> None:
    # The INVITE transaction of the ended callee leg still waits for 2xx retransmissions (64*T1), but the
    # PBX channels, their legs and what they reference are released as soon as both the SIP call and the
    # channel are over -- by reference counting alone: the two legs of a dialled call must not hold each other
    # in a cycle that waits for the garbage collector.
    if collector == "off":
        gc.disable()
    try:
        await _finished_call_channels(gateway, collect=collector == "on")
    finally:
        gc.enable()


async def _finished_call_channels(gateway: Gateway, *, collect: bool) -> None:
    alice, bob = phones(gateway)
    call, invite = await answered(gateway, alice, bob)
    channels = [weakref.ref(channel) for channel in gateway.pbx.channels]
    assert len(channels) == 2
    got = await gateway.send(alice, call.make_request("BYE"))
    assert statuses(got) == [200]
    got = await gateway.wait_for(bob, lambda s: s.method == "BYE")
    bye = [s for s in got if s.method == "BYE"][0].request
    await gateway.send(bob, bob.make_response(bye, 200))
    await cdrs(gateway)
    lingering = list(gateway.harness.endpoint.by_client.values())
    assert lingering, "the INVITE to the callee is still absorbing retransmissions"
    assert all(isinstance(entry, EndedInvite) for entry in lingering)  # its ACK, not the leg
    if collect:
        gc.collect()
    assert [ref() for ref in channels] == [None, None]
