"""INVITE sessions of the SIP endpoint: answering and placing calls, and what happens inside a dialog.

A mixin of :class:`core.sip.endpoint.SipEndpoint` (it uses the endpoint's transaction layer, timers,
event queue and authentication).  RFC 3261 sections 13-15 for the INVITE itself, RFC 3262 (PRACK),
RFC 3311 (UPDATE), RFC 4028 (session timers), RFC 3515 and RFC 4488 (REFER), RFC 3326 (Reason) and the
SIP INFO DTMF conventions (``application/dtmf-relay``, ``application/dtmf``, ``application/hook-flash``).
In-dialog requests go to the dialog's next hop (section 12.2.1.1), see :meth:`Dialog.next_hop_address`.
"""

from __future__ import annotations

import functools
import logging
import re
import secrets
from dataclasses import replace
from typing import TYPE_CHECKING, cast

from core.callerid import CallerId
from core.causes import HangupCause
from core.sip.causes import cause_from_status, reason_header, status_from_cause
from core.sip.dialog import Dialog, DialogId, DialogState, build_request
from core.sip.headers import Headers, own_via
from core.sip.message import (
    NameAddr,
    SipRequest,
    SipResponse,
    SipUri,
    body_part,
    make_response,
    new_branch,
    new_tag,
    random_hex,
)
from core.sip.sdp import Direction, MediaDescription, SdpError, SessionDescription
from core.sip.session import (
    CallAnswered,
    CallEnded,
    CallFailed,
    CallProgress,
    CallState,
    DtmfReceived,
    EndedInvite,
    FlashReceived,
    IncomingCall,
    ReinviteAnswered,
    ReinviteReceived,
    SipCall,
    TransferRequested,
    UpdateReceived,
)

if TYPE_CHECKING:
    from collections import deque

    from core.sip.session import SipEvent
    from core.sip.settings import EndpointSettings, SipTrunkSettings, SipUserSettings
    from core.sip.timers import Timer, TimerQueue
    from core.sip.transaction import ClientTransaction, ServerTransaction, TransactionLayer
    from core.sip.transaction_messages import Transport

log = logging.getLogger("centralita.sip")

Address = tuple[str, int]

# Members read on every message or call, as module globals: in CPython 3.11 reading one off the Enum class
# (``CallState.X``) goes through EnumType's ``__getattr__`` hook, about ten times the cost of a global.
_CALLING = CallState.CALLING
_INCOMING = CallState.INCOMING
_EARLY = CallState.EARLY
_ANSWERED = CallState.ANSWERED
_CONFIRMED = CallState.CONFIRMED
_TERMINATING = CallState.TERMINATING
_TERMINATED = CallState.TERMINATED
_DIALOG_CONFIRMED = DialogState.CONFIRMED
_DIALOG_TERMINATED = DialogState.TERMINATED

_SIGNAL = re.compile(r"^\s*signal\s*=\s*(\S+)", re.IGNORECASE | re.MULTILINE)
_DURATION = re.compile(r"^\s*duration\s*=\s*(\d+)", re.IGNORECASE | re.MULTILINE)
_REFRESHER = re.compile(r";\s*refresher\s*=\s*(uac|uas)\b", re.IGNORECASE)
_DTMF_NAMES = {"10": "*", "11": "#", "12": "A", "13": "B", "14": "C", "15": "D"}
_CREDENTIALS = ("Authorization", "Proxy-Authorization")
_SDP = "application/sdp"
_BYE_CAUSES = {200: HangupCause.NORMAL_CLEARING}  # a BYE without a Q.850 Reason is a normal clearing
SUPPORTED_IN_REQUESTS = "timer, replaces"
"""The Supported value of our INVITEs and re-INVITEs (RFC 4028 §7.1: 'timer' in every session refresh)."""


class CallHandling:
    """The INVITE-session half of the endpoint."""

    if TYPE_CHECKING:  # what the endpoint provides (SipEndpoint mixes this class in)
        tx: TransactionLayer
        settings: EndpointSettings
        timers: TimerQueue
        events: deque[SipEvent]
        users: dict[str, SipUserSettings]
        trunks: dict[str, SipTrunkSettings]

        def respond(self, transaction: ServerTransaction, request: SipRequest, status: int, now: float, *,
                    reason: str | None = None, to_tag: str | None = None,
                    headers: tuple[tuple[str, str], ...] = (), stateless: bool = False) -> SipResponse: ...

        def send_direct(self, message: SipRequest | SipResponse, destination: Address,
                        transport: Transport) -> None: ...

        def local_contact(self, user: str = "centralita", transport: Transport = "udp", line: str = "") -> str: ...

        def trunk_of(self, request: SipRequest, source: Address) -> SipTrunkSettings | None: ...

        def authenticate(self, transaction: ServerTransaction, request: SipRequest, source: Address,
                         now: float) -> SipUserSettings | None: ...

    def __init__(self) -> None:
        self.calls: dict[DialogId, SipCall] = {}
        self.pending_uas: dict[int, SipCall] = {}       # id(server transaction) -> call, before the dialog
        # id(client transaction) -> call, until it terminates; the INVITE's of an ended UAC leg -> EndedInvite
        self.by_client: dict[int, SipCall | EndedInvite] = {}
        self.live_calls: dict[int, SipCall] = {}        # handle -> call

    # ================================================================================ UAS: incoming ===

    def on_new_invite(self, transaction: ServerTransaction, request: SipRequest, source: Address,
                      transport: Transport, now: float) -> None:
        """An INVITE outside a dialog: who is it (trunk, phone, guest), then a new call for the driver."""
        trunk = self.trunk_of(request, source)
        user = None
        from_ = request.from_
        context: str | None
        if trunk is not None:
            context = trunk.context
        else:
            from_user = from_.uri.user or ""
            if self.settings.guest_context is not None and from_user not in self.users and \
                    request.header("Authorization") is None and request.header("Proxy-Authorization") is None:
                context = self.settings.guest_context
            else:
                user = self.authenticate(transaction, request, source, now)
                if user is None:
                    return
                context = user.context
        expires = request.headers.get("Session-Expires")
        session_expires = None
        if expires is not None:
            session_expires = _leading_int(expires)
            if session_expires is not None and session_expires < self.settings.min_se:
                self.respond(transaction, request, 422, now, headers=(("Min-SE", str(self.settings.min_se)),))
                return
        if user is not None and user.callerid is not None:
            caller = user.callerid
        else:
            caller = CallerId(from_.uri.user or "", from_.display_name or "")
        remote_sdp = body_part(request, _SDP) if request.body else None
        # The five leading fields positionally and the rest assigned: CPython 3.11 matches each keyword argument
        # against SipCall's 46 parameter names, several hundred instructions apiece.
        call = SipCall("uas", request, transport, source, _INCOMING)  # role, invite, transport, peer, state
        call.server_transaction = transaction
        call.local_tag = new_tag()
        call.remote_sdp = remote_sdp
        call.user = user.name if user else None
        call.trunk = trunk.name if trunk else None
        call.context = context
        call.caller = caller
        call.dnid = request.uri.user or "s"
        call.session_expires = session_expires
        self.pending_uas[id(transaction)] = call
        self.live_calls[call.handle] = call
        self.events.append(IncomingCall(call))

    def _uas_dialog(self, call: SipCall) -> Dialog:
        if call.dialog is None:
            call.dialog = Dialog.as_uas(call.invite, call.local_tag, local_contact=self.local_contact(),
                                        transport=call.transport, via_host=_via_host(self.settings.host),
                                        via_port=self.settings.port)
            self.calls[call.dialog.id] = call
        return call.dialog

    def ring(self, call: SipCall, now: float, *, status: int = 180, sdp: bytes | None = None) -> None:
        """Send a provisional with our tag (180 Ringing, or 183 Session Progress with early media).

        When the INVITE requires 100rel (RFC 3262) the provisional is reliable: it carries RSeq, is
        retransmitted from T1 doubling until its PRACK (§3), and the next one waits for that PRACK.
        """
        if call.role != "uas" or call.state not in (_INCOMING, _EARLY) or call.ended \
                or call.answer_deferred:
            return
        dialog = self._uas_dialog(call)
        headers: list[tuple[str, str]] = [("Contact", dialog.local_contact)]  # our local_contact(), as built
        require = call.invite.headers.values("Require")
        reliable = bool(require) and "100rel" in _tokens(require)
        if reliable:
            if call.prack_pending is not None:
                return  # RFC 3262 section 3: no new reliable provisional before the PRACK of the last
            call.rseq = call.rseq + 1 if call.rseq else 1
            headers += [("Require", "100rel"), ("RSeq", str(call.rseq))]
        if sdp is not None:
            headers.append(("Content-Type", "application/sdp"))
            call.session_sdp = call.local_sdp = sdp
        response = self._uas_response(call, status, headers, sdp)
        call.state = _EARLY
        assert call.server_transaction is not None
        self.tx.send_response(call.server_transaction, response, now)
        if reliable:
            call.prack_pending = response
            call.prack_interval = self.settings.t1
            call.prack_deadline = now + 64 * self.settings.t1
            self._arm_prack_retransmit(call, response, now + self.settings.t1)

    def _arm_prack_retransmit(self, call: SipCall, response: SipResponse, when: float) -> None:
        def fire(now: float) -> None:
            if call.prack_pending is not response or call.ended:
                return
            deadline = call.prack_deadline
            if deadline is not None and now >= deadline:
                # RFC 3262 section 3: no PRACK in 64*T1: reject the INVITE with a 5xx.
                call.prack_pending = None
                call.answer_deferred = False
                self.reject(call, HangupCause.RECOVERY_ON_TIMER_EXPIRE, now, status=504)
                self.events.append(CallEnded(call, HangupCause.RECOVERY_ON_TIMER_EXPIRE))
                return
            if call.server_transaction is not None and call.transport == "udp":
                self.send_direct(response, call.peer, call.transport)
            # RFC 3262 section 3: the interval starts at T1 and doubles, with no T2 cap; the 5xx goes at 64*T1.
            call.prack_interval *= 2
            following = now + call.prack_interval
            self._arm_prack_retransmit(call, response, following if deadline is None else min(following, deadline))

        _cancel(call.prack_timer)
        call.prack_timer = self.timers.call_at(when, fire)

    def _stop_prack_retransmit(self, call: SipCall) -> None:
        call.prack_pending = None
        timer = call.prack_timer
        if timer is not None:
            timer.cancel()
            call.prack_timer = None

    def answer(self, call: SipCall, sdp: bytes | None, now: float) -> None:
        """Send the 2xx; it is retransmitted until the ACK comes (section 13.3.1.4).

        While a reliable provisional that carried SDP waits for its PRACK the 2xx is held back and goes out
        when the PRACK arrives (RFC 3262 §3 MUST NOT); an unacknowledged one without SDP just stops being
        retransmitted.
        """
        if call.role != "uas" or call.state not in (_INCOMING, _EARLY) or call.ended:
            return
        pending = call.prack_pending
        if pending is not None and pending.body:
            call.answer_deferred = True
            call.deferred_sdp = sdp
            return
        call.answer_deferred = False
        call.deferred_sdp = None
        self._stop_prack_retransmit(call)
        dialog = self._uas_dialog(call)
        headers: list[tuple[str, str]] = [("Contact", dialog.local_contact), ("Allow", _allow()),
                                          ("Supported", SUPPORTED_IN_REQUESTS)]
        if call.session_expires:
            # RFC 4028 §9: a UAC that supports timer may name the refresher, and the UAS keeps its choice;
            # otherwise we let it refresh when it can, and refresh ourselves when it cannot.
            uac_supports = "timer" in _tokens(call.invite.header_values("Supported"))
            asked = _refresher(call.invite.header("Session-Expires"))
            refresher = (asked or "uac") if uac_supports else "uas"
            call.we_refresh = refresher == "uas"
            headers.append(("Session-Expires", f"{call.session_expires};refresher={refresher}"))
            if uac_supports:
                headers.append(("Require", "timer"))
        if sdp is not None:
            headers.append(("Content-Type", "application/sdp"))
        response = self._uas_response(call, 200, headers, sdp)
        call.local_sdp = sdp
        call.session_sdp = sdp if sdp is not None else call.session_sdp
        dialog.state = _DIALOG_CONFIRMED
        assert call.server_transaction is not None
        self.tx.send_response(call.server_transaction, response, now)
        self.pending_uas.pop(id(call.server_transaction), None)
        self._retransmit_2xx(call, response, now)
        self._arm_session_timer(call, now)

    def _uas_response(self, call: SipCall, status: int, headers: list[tuple[str, str]],
                      body: bytes | None) -> SipResponse:
        response = make_response(call.invite, status, to_tag=call.local_tag)
        add = response.headers.add  # the Headers themselves: one call less per header than add_header
        if 100 < status < 300:
            # Section 12.1.1: the responses that establish the dialog copy the INVITE's Record-Route.
            for route in call.invite.headers.values("Record-Route"):
                add("Record-Route", route)
        for name, value in headers:
            add(name, value)
        add("Server", self.settings.user_agent)
        if body is not None:
            response.body = body
        return response

    def _retransmit_2xx(self, call: SipCall, response: SipResponse, now: float) -> None:
        """Section 13.3.1.4: send ``response`` again at T1, doubling to T2, until the ACK; at 64*T1 without
        one, end the call with BYE.  Over TCP/TLS nothing is retransmitted but the ACK is still awaited."""
        call.final_response = response
        call.state = _ANSWERED
        call.retransmit_interval = self.settings.t1
        deadline = call.ack_deadline = now + 64 * self.settings.t1
        if call.retransmit_timer is not None:
            call.retransmit_timer.cancel()
        self._arm_2xx(call, response, deadline, now + self.settings.t1 if call.transport == "udp" else deadline)

    def _arm_2xx(self, call: SipCall, response: SipResponse, deadline: float, when: float) -> None:
        # A partial of a method, not closures that call each other: those would form a reference cycle holding
        # the call, its dialog and its messages until the garbage collector finds it, for every call answered.
        call.retransmit_timer = self.timers.call_at(when, functools.partial(self._fire_2xx, call, response, deadline))

    def _fire_2xx(self, call: SipCall, response: SipResponse, deadline: float, at: float) -> None:
        if call.state is not _ANSWERED or call.final_response is not response:
            return  # ACKed, ended, or superseded by the 2xx of a later re-INVITE
        if at >= deadline:
            cause = call.bye_pending
            call.bye_pending = None
            if cause is not None:
                self._send_bye(call, cause, at)  # our own hang-up, already known to the driver
                return
            log.warning("no ACK for the 200 OK of %s: ending the call", call.call_id)
            self._send_bye(call, HangupCause.RECOVERY_ON_TIMER_EXPIRE, at)
            self._ended(call, HangupCause.RECOVERY_ON_TIMER_EXPIRE)
            return
        self.send_direct(response, call.peer, call.transport)
        call.retransmit_interval = min(call.retransmit_interval * 2, self.settings.t2)
        self._arm_2xx(call, response, deadline, min(at + call.retransmit_interval, deadline))

    def reject(self, call: SipCall, cause: HangupCause, now: float, *, status: int | None = None) -> None:
        """A final non-2xx for an incoming call that was not answered (with a Reason header)."""
        if self._final_failure(call, cause, now, status=status):
            self._ended(call, cause, notify=False)

    def _final_failure(self, call: SipCall, cause: HangupCause, now: float, *, status: int | None = None) -> bool:
        if call.role != "uas" or call.state not in (_INCOMING, _EARLY):
            return False
        self._stop_prack_retransmit(call)
        call.answer_deferred = False
        status = status or status_from_cause(cause)
        response = self._uas_response(call, status, [("Reason", reason_header(cause))], None)
        assert call.server_transaction is not None
        self.tx.send_response(call.server_transaction, response, now)
        self.pending_uas.pop(id(call.server_transaction), None)
        return True

    def on_cancel(self, transaction: ServerTransaction, cancel: SipRequest, now: float) -> None:
        """CANCEL matched a pending INVITE: 487 to the INVITE, and the call is over (section 9.2)."""
        call = self.pending_uas.pop(id(transaction), None)
        if call is None or call.state not in (_INCOMING, _EARLY):
            return
        self._stop_prack_retransmit(call)
        response = self._uas_response(call, 487, [], None)
        self.tx.send_response(transaction, response, now)
        cause = cause_from_status(487, cancel.header("Reason"))
        self._ended(call, cause)

    def on_ack(self, request: SipRequest, now: float) -> None:
        """The ACK for our 2xx: stop retransmitting; a late offer's answer may be in it; a hang-up that
        waited for it (section 15) sends its BYE now."""
        call = self.calls.get((request.call_id, request.to.params.get("tag") or "",
                               request.from_.params.get("tag") or ""))
        if call is None or call.state is not _ANSWERED:
            return
        final = call.final_response
        if final is not None and request.cseq.number != final.cseq.number:
            return  # the ACK of an earlier 2xx, not of the one we are retransmitting
        call.state = _CONFIRMED
        call.final_response = None
        if call.retransmit_timer is not None:
            call.retransmit_timer.cancel()
            call.retransmit_timer = None
        if request.body:  # an ACK seldom has one (a late offer's answer)
            body = body_part(request, _SDP)
            if body is not None:
                call.remote_sdp = body
        if call.bye_pending is not None:
            cause, call.bye_pending = call.bye_pending, None
            self._send_bye(call, cause, now)

    # ================================================================================ UAC: outgoing ===

    def invite(self, *, uri: SipUri, destination: Address, from_user: str, from_display: str = "",
               from_host: str | None = None, to_uri: SipUri | None = None, sdp: bytes | None, now: float,
               transport: Transport = "udp", trunk: str | None = None, user: str | None = None,
               extra_headers: tuple[tuple[str, str], ...] = ()) -> SipCall:
        """Place a call: the INVITE goes to ``destination``; progress arrives as events."""
        via_host = _via_host(self.settings.host)
        host = from_host or via_host
        tag = new_tag()
        display = f'"{_quote(from_display)}" ' if from_display else ""
        from_value = f"{display}<sip:{from_user}@{host}>;tag={tag}"
        to_value = f"<{to_uri or uri}>"
        call_id = f"{random_hex(12)}@{via_host}"
        headers: list[tuple[str, str]] = [
            ("Via", self._via(transport)),
            ("Max-Forwards", "70"),
            ("From", from_value),
            ("To", to_value),
            ("Call-ID", call_id),
            ("CSeq", "1 INVITE"),
            ("Contact", self.local_contact(from_user, transport)),
            ("Allow", _allow()),
            ("Supported", SUPPORTED_IN_REQUESTS),
            ("User-Agent", self.settings.user_agent),
            *extra_headers,
        ]
        if sdp is not None:
            headers.append(("Content-Type", "application/sdp"))
        request = build_request("INVITE", uri, headers, sdp or b"")
        transaction = self.tx.send_request(request, destination, transport, now)
        call = SipCall("uac", request, transport, destination, _CALLING)  # positional and assigned, as for a UAS
        call.client_transaction = transaction
        call.local_tag = tag
        call.local_sdp = call.session_sdp = sdp
        call.trunk = trunk
        call.user = user
        call.dnid = uri.user or ""
        self.by_client[id(transaction)] = call
        self.live_calls[call.handle] = call
        return call

    def _via(self, transport: Transport) -> str:
        sent_by = f"SIP/2.0/{transport.upper()} {_via_host(self.settings.host)}:{self.settings.port}"
        return own_via(sent_by, new_branch())

    def on_call_response(self, transaction: object, response: SipResponse, now: float) -> bool:
        """Route a response to the call it belongs to; False when it is not a call's."""
        key = id(transaction)
        call = self.by_client.get(key)
        if call is None:
            return False
        if type(call) is EndedInvite:
            self._ended_invite_response(call, cast("ClientTransaction", transaction), response, now)
            return True
        assert type(call) is SipCall
        method = response.cseq.method
        if method == "INVITE":
            if transaction is call.client_transaction:
                self._invite_response(call, response, now)
            elif transaction is call.reinvite_transaction:
                self._reinvite_response(call, response, now)
            elif 200 <= response.status < 300 and call.dialog is not None:
                self._ack_2xx(call, call.dialog, response)  # a retransmitted 2xx of an earlier re-INVITE
        elif method == "BYE" and response.status >= 200:
            self.by_client.pop(key, None)
            if call.dialog is None or response.to.params.get("tag") == call.dialog.remote_tag:
                call.state = _TERMINATED
                self._forget(call)
            # else: the answer to the BYE that ended another fork's dialog (section 13.2.2.4)
        elif method in ("INFO", "PRACK", "UPDATE", "NOTIFY", "CANCEL") and response.status >= 200:
            self.by_client.pop(key, None)
        return True

    def on_call_transaction_terminated(self, transaction: object) -> None:
        """The transaction layer forgot ``transaction`` (TransactionTerminated): so do the calls."""
        self.by_client.pop(id(transaction), None)

    def _invite_response(self, call: SipCall, response: SipResponse, now: float) -> None:
        status = response.status
        call.heard_from_peer = True
        tag = response.to.params.get("tag") or ""
        if status < 200:
            if status == 100:
                return
            dialog = call.early_dialogs.get(tag) if tag else None
            if tag and dialog is None:
                dialog = Dialog.as_uac(call.invite, response, local_contact=self.local_contact(),
                                       transport=call.transport, via_host=_via_host(self.settings.host),
                                       via_port=self.settings.port)
                call.early_dialogs[tag] = dialog
                self.calls[dialog.id] = call
            if call.ended:
                return  # we hung up: the transaction layer sends the CANCEL held for this provisional
            if dialog is not None and "100rel" in _tokens(response.headers.values("Require")):
                rseq = _leading_int(response.header("RSeq") or "")
                last = call.rseq_received.get(tag)
                if rseq is None or (last is not None and rseq != last + 1):
                    return  # RFC 3262 §4: a retransmission (or out of order): no PRACK, not processed further
                call.rseq_received[tag] = rseq
                self._send_prack(call, dialog, response, now)
            if call.state is _CALLING:
                call.state = _EARLY
            body = body_part(response, _SDP) if response.body else None
            if body is not None:
                call.remote_sdp = body
            self.events.append(CallProgress(call, status, body))
            return
        if 200 <= status < 300:
            early = call.dialog if call.dialog is not None and call.dialog.remote_tag == tag else \
                call.early_dialogs.get(tag)
            if early is not None:
                dialog = early
            else:
                dialog = Dialog.as_uac(call.invite, response, local_contact=self.local_contact(),
                                       transport=call.transport, via_host=_via_host(self.settings.host),
                                       via_port=self.settings.port)
                self.calls[dialog.id] = call
            if dialog.state is _DIALOG_TERMINATED:
                self._ack_2xx(call, dialog, response)  # a retransmitted 2xx of a fork we already ended
                return
            dialog.update_from_response(response)
            self._ack_2xx(call, dialog, response)
            if call.dialog is not None and call.dialog.remote_tag != tag:
                # A second 2xx from another fork: confirm it, then end it (section 13.2.2.4), once.
                bye = dialog.create_request("BYE")
                self._send_in_dialog(call, bye, now, dialog=dialog)
                dialog.state = DialogState.TERMINATED
                call.early_dialogs[tag] = dialog
                return
            if call.dialog is not None:
                return  # a retransmitted 2xx: the ACK went out again
            call.dialog = dialog
            if call.state is _TERMINATING or call.ended:
                # We hung up (CANCEL) but the 2xx won the race: the call must still be ended with BYE.
                self._send_bye(call, call.cancel_cause, now)
                return
            call.state = _CONFIRMED
            body = body_part(response, _SDP) if response.body else None
            call.remote_sdp = body if body is not None else call.remote_sdp
            self._session_timer_from_response(call, response, now)
            self.events.append(CallAnswered(call, body))
            return
        # Final failure.
        if status in (401, 407) and call.trunk and call.auth_attempts == 0:
            if self._retry_with_credentials(call, response, now):
                return
        self.by_client.pop(id(call.client_transaction), None)
        was_ended = call.ended
        call.state = _TERMINATED
        self._forget(call)
        if not was_ended:
            call.ended = True
            cause = cause_from_status(status, response.header("Reason"))
            self.events.append(CallFailed(call, status, response.reason, cause))

    def _ack_2xx(self, call: SipCall, dialog: Dialog, response: SipResponse) -> None:
        """Section 13.2.2.4: the ACK of a 2xx -- a request of the dialog with the INVITE's CSeq number and the
        INVITE's credentials -- to the dialog's next hop.  The ACK of a 2xx of the INVITE itself (not of a
        re-INVITE) is kept as sent, per To tag, for :class:`EndedInvite`."""
        invite_cseq = response.cseq.number
        initial = invite_cseq == call.invite.cseq.number
        credentials = _credentials(call.invite) if initial else ()
        data = dialog.encode_ack(invite_cseq, credentials)
        destination = self._destination(call, dialog)
        self.tx.send_stateless_data(data, destination, call.transport)
        if initial:
            if call.acks is None:
                call.acks = {}
            call.acks[dialog.remote_tag or ""] = (data, destination)

    def _ended_invite_response(self, ended: EndedInvite, transaction: ClientTransaction, response: SipResponse,
                               now: float) -> None:
        """A response to the INVITE of an ended UAC leg (its transaction waits in Accepted): a 2xx gets the ACK
        its To tag got before; a 2xx of a fork never seen gets its ACK and a BYE (section 13.2.2.4)."""
        if not 200 <= response.status < 300 or response.cseq.method != "INVITE":
            return
        tag = response.to.tag or ""
        sent = ended.acks.get(tag)
        if sent is not None:
            self.tx.send_stateless_data(sent[0], sent[1], ended.transport)
            return
        invite = transaction.request  # the INVITE again, parsed from the bytes the transaction keeps
        dialog = Dialog.as_uac(invite, response, local_contact=self.local_contact(), transport=ended.transport,
                               via_host=_via_host(self.settings.host), via_port=self.settings.port)
        dialog.update_from_response(response)
        credentials = _credentials(invite)
        data = dialog.encode_ack(response.cseq.number, credentials)
        destination = dialog.next_hop_address(ended.peer)
        self.tx.send_stateless_data(data, destination, ended.transport)
        ended.acks[tag] = (data, destination)
        self.tx.send_request(dialog.create_request("BYE"), destination, ended.transport, now)

    def _retry_with_credentials(self, call: SipCall, response: SipResponse, now: float) -> bool:
        trunk = self.trunks.get(call.trunk or "")
        if trunk is None or not trunk.secret:
            return False
        challenge = response.header("WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate")
        if challenge is None:
            return False
        from core.sip.auth import digest_credentials

        old = call.invite
        try:
            credentials = digest_credentials(challenge, method="INVITE", uri=str(old.uri),
                                             username=trunk.username or trunk.name, password=trunk.secret,
                                             body=old.body)
        except ValueError as exc:
            log.warning("trunk %s: cannot answer the challenge: %s", trunk.name, exc)
            return False
        header = "Authorization" if response.status == 401 else "Proxy-Authorization"
        request = SipRequest(old.method, old.uri, Headers(list(old.headers)), old.body)
        request.set_header("Via", self._via(call.transport))
        request.set_header("CSeq", f"{old.cseq.number + 1} INVITE")
        request.set_header(header, credentials)
        call.invite = request
        call.auth_attempts += 1
        self.by_client.pop(id(call.client_transaction), None)
        transaction = self.tx.send_request(request, call.peer, call.transport, now)
        call.client_transaction = transaction
        self.by_client[id(transaction)] = call
        return True

    def on_call_timeout(self, transaction: object, now: float) -> bool:
        """A client transaction of a call timed out (Timer B/F): the call failed with 408, or -- for our
        re-INVITE -- the dialog is over (section 14.1, RFC 4028 §10): BYE."""
        call = self.by_client.pop(id(transaction), None)
        if call is None:
            return False
        if type(call) is EndedInvite:
            return True
        assert type(call) is SipCall
        if transaction is call.client_transaction and call.state in (_CALLING, _EARLY):
            call.state = _TERMINATED
            self._forget(call)
            if not call.ended:
                call.ended = True
                self.events.append(CallFailed(call, 408, "Request Timeout", HangupCause.RECOVERY_ON_TIMER_EXPIRE))
        elif transaction is call.reinvite_transaction:
            call.reinvite_transaction = None
            if not call.ended:
                log.warning("no answer to our re-INVITE in %s: ending the call", call.call_id)
                self.events.append(ReinviteAnswered(call, 408, None))
                self._send_bye(call, HangupCause.RECOVERY_ON_TIMER_EXPIRE, now)
                self._ended(call, HangupCause.RECOVERY_ON_TIMER_EXPIRE)
        elif call.state is _TERMINATING:
            call.state = _TERMINATED
            self._forget(call)
        return True

    # ============================================================================ ending a call leg ===

    def hangup(self, call: SipCall, cause: HangupCause, now: float) -> None:
        """End our side: a final response, a CANCEL or a BYE, whatever the state calls for.

        A UAC leg not answered yet is CANCELled (the transaction layer holds the CANCEL until a provisional
        response, 100 Trying included, section 9.1); a leg whose 2xx still waits for its ACK sends its BYE
        when the ACK comes or the wait times out (section 15).
        """
        if call.ended and call.state in (_TERMINATED, _TERMINATING):
            return
        state = call.state
        if call.role == "uas" and state in (_INCOMING, _EARLY):
            self.reject(call, cause, now)
            return
        if call.role == "uac" and state in (_CALLING, _EARLY):
            call.ended = True
            call.cancel_cause = cause
            self._send_cancel(call, now)
            call.state = _TERMINATING
            return
        if state is _ANSWERED:
            call.ended = True
            call.bye_pending = cause
            return
        if state is _CONFIRMED:
            call.ended = True
            self._send_bye(call, cause, now)

    def _send_cancel(self, call: SipCall, now: float) -> None:
        assert call.client_transaction is not None
        cancel = self.tx.cancel(call.client_transaction, now)
        self.by_client[id(cancel)] = call

    def _send_bye(self, call: SipCall, cause: HangupCause, now: float) -> None:
        if call.dialog is None:
            return
        bye = call.dialog.create_request("BYE", extra_headers=(("Reason", reason_header(cause)),))
        call.state = _TERMINATING
        call.final_response = None
        self._send_in_dialog(call, bye, now)

    def _destination(self, call: SipCall, dialog: Dialog) -> Address:
        """Where a request of ``dialog`` goes (section 12.2.1.1): its next hop.  A phone that called us over
        TCP/TLS with no proxy in between is reached on its own connection (its Contact port is seldom
        listening)."""
        if call.role == "uas" and call.transport != "udp" and not dialog.route_set:
            return call.peer
        return dialog.next_hop_address(call.peer)

    def _send_in_dialog(self, call: SipCall, request: SipRequest, now: float, *,
                        dialog: Dialog | None = None) -> ClientTransaction:
        dialog = dialog or call.dialog
        destination = self._destination(call, dialog) if dialog is not None else call.peer
        transaction = self.tx.send_request(request, destination, call.transport, now)
        self.by_client[id(transaction)] = call
        return transaction

    def _ended(self, call: SipCall, cause: HangupCause, *, notify: bool = True) -> None:
        already = call.ended
        call.ended = True
        call.state = _TERMINATED
        self._forget(call)
        if notify and not already:
            self.events.append(CallEnded(call, cause))

    def abandon(self, call: SipCall) -> None:
        """Give up a UAC leg nobody has answered yet (not even 100 Trying) to try another server
        (RFC 3263 §4.3): nothing can be sent for it (no CANCEL before a provisional, §9.1), its INVITE
        transaction times out unseen, and a late response finds no call."""
        if call.role != "uac" or call.heard_from_peer:
            raise ValueError("only a UAC leg that heard nothing can be abandoned")
        self.by_client.pop(id(call.client_transaction), None)
        call.state = _TERMINATED
        call.ended = True
        self._forget(call)

    def _forget(self, call: SipCall) -> None:
        if call.state is not _TERMINATED:
            return
        calls = self.calls
        confirmed = call.dialog
        if confirmed is not None:
            calls.pop(confirmed.id, None)
        for dialog in call.early_dialogs.values():
            if dialog is not confirmed:  # the early dialog a 2xx confirmed is gone already
                calls.pop(dialog.id, None)
        if call.server_transaction is not None:
            self.pending_uas.pop(id(call.server_transaction), None)
        self.live_calls.pop(call.handle, None)
        if call.retransmit_timer is not None:
            call.retransmit_timer.cancel()
            call.retransmit_timer = None
        if call.prack_timer is not None:
            call.prack_timer.cancel()
            call.prack_timer = None
        if call.session_timer is not None:
            call.session_timer.cancel()
            call.session_timer = None
        call.prack_pending = None
        if call.acks is not None:
            # The INVITE transaction waits 32 s more for 2xx retransmissions (Timer M): what they need is
            # the ACKs already sent, not the whole leg.
            key = id(call.client_transaction)
            if self.by_client.get(key) is call:
                self.by_client[key] = EndedInvite(call.acks, call.peer, call.transport)

    # ========================================================================== inside a dialog ===

    def on_in_dialog_request(self, transaction: ServerTransaction, request: SipRequest,
                             source: Address, transport: Transport, now: float) -> None:
        """BYE, re-INVITE, UPDATE, INFO, PRACK, REFER, OPTIONS, NOTIFY within a dialog (section 12.2.2)."""
        remote_tag = request.from_.params.get("tag") or ""
        call = self.calls.get((request.call_id, request.to.params.get("tag") or "", remote_tag))
        if call is None:
            self.respond(transaction, request, 481, now)
            return
        dialog = call.dialog or call.early_dialogs.get(remote_tag)
        if dialog is not None and not dialog.accept_request(request):
            self.respond(transaction, request, 500, now, reason="Server Internal Error - CSeq out of order")
            return
        method = request.method
        if method == "BYE":
            self.respond(transaction, request, 200, now)
            # RFC 3326: the Q.850 cause of the Reason header; a BYE is otherwise a normal clearing (a Reason
            # with only a SIP cause, e.g. 'SIP;cause=200', says how the call ended elsewhere, not why).
            cause = cause_from_status(200, request.headers.get("Reason"), _BYE_CAUSES)
            if call.role == "uas" and call.state in (_INCOMING, _EARLY):
                # BYE before our final response (early dialog): finish the INVITE with 487 (section 15.1.2).
                self._final_failure(call, cause, now, status=487)
            self._ended(call, cause)
        elif method == "INVITE":
            self._on_reinvite(call, transaction, request, now)
        elif method == "UPDATE":
            self._on_update(call, transaction, request, now)
        elif method == "INFO":
            self._on_info(call, transaction, request, now)
        elif method == "PRACK":
            self._on_prack(call, transaction, request, now)
        elif method == "REFER":
            self._on_refer(call, transaction, request, now)
        elif method in ("OPTIONS", "NOTIFY"):
            self.respond(transaction, request, 200, now)
        else:
            self.respond(transaction, request, 405, now)

    def _on_reinvite(self, call: SipCall, transaction: ServerTransaction, request: SipRequest,
                     now: float) -> None:
        if call.pending_reinvite is not None or call.reinvite_transaction is not None:
            self.respond(transaction, request, 491, now)
            return
        self._refresh_session(call, request, now)
        call.pending_reinvite = transaction
        call.pending_reinvite_request = request
        body = _sdp_of(request)
        if body is not None:
            call.remote_sdp = body
        self.events.append(ReinviteReceived(call, body))

    def answer_reinvite(self, call: SipCall, status: int, sdp: bytes | None, now: float) -> None:
        """Answer the re-INVITE announced by :class:`ReinviteReceived` (2xx with our SDP, or an error)."""
        transaction, request = call.pending_reinvite, call.pending_reinvite_request
        if transaction is None or request is None or call.dialog is None:
            return
        call.pending_reinvite = call.pending_reinvite_request = None
        response = make_response(request, status, to_tag=call.dialog.local_tag)
        response.add_header("Contact", self.local_contact())
        if call.session_expires and 200 <= status < 300:
            refresher = "uas" if call.we_refresh else "uac"
            response.add_header("Session-Expires", f"{call.session_expires};refresher={refresher}")
        if sdp is not None and 200 <= status < 300:
            response.add_header("Content-Type", "application/sdp")
            response.body = sdp
            call.local_sdp = call.session_sdp = sdp
        self.tx.send_response(transaction, response, now)
        if 200 <= status < 300 and not call.ended:
            # A 2xx to a re-INVITE is retransmitted until its ACK too (section 13.3.1.4); it replaces any
            # earlier 2xx still being retransmitted.
            self._retransmit_2xx(call, response, now)

    def reinvite(self, call: SipCall, sdp: bytes | None, now: float) -> bool:
        """Send a re-INVITE with a new offer (hold, unhold, pass-through); False if one is pending."""
        if not self._send_reinvite(call, sdp, now):
            return False
        call.session_sdp = sdp if sdp is not None else call.session_sdp
        return True

    def _send_reinvite(self, call: SipCall, sdp: bytes | None, now: float) -> bool:
        if call.dialog is None or call.reinvite_transaction is not None or call.pending_reinvite is not None \
                or call.ended:
            return False
        headers: list[tuple[str, str]] = [("Allow", _allow()), ("Supported", SUPPORTED_IN_REQUESTS)]
        if call.session_expires:
            # RFC 4028 §7.4: every re-INVITE refreshes the session and states its interval and refresher.
            refresher = "uac" if call.we_refresh else "uas"
            headers.append(("Session-Expires", f"{call.session_expires};refresher={refresher}"))
        request = call.dialog.create_request("INVITE", body=sdp or b"",
                                             content_type="application/sdp" if sdp is not None else None,
                                             extra_headers=tuple(headers))
        call.reinvite_transaction = self._send_in_dialog(call, request, now)
        call.local_sdp = sdp if sdp is not None else call.local_sdp
        return True

    def _reinvite_response(self, call: SipCall, response: SipResponse, now: float) -> None:
        if response.status < 200:
            return
        call.reinvite_transaction = None
        if 200 <= response.status < 300 and call.dialog is not None:
            if response.contacts:
                call.dialog.remote_target = response.contacts[0].uri  # a target refresh (section 12.2.1.2)
            self._ack_2xx(call, call.dialog, response)
            body = _sdp_of(response)
            if body is not None:
                call.remote_sdp = body
            self._session_timer_from_response(call, response, now)
            self.events.append(ReinviteAnswered(call, response.status, body))
        else:
            self.events.append(ReinviteAnswered(call, response.status, None))
            if response.status in (408, 481) and not call.ended:
                self._send_bye(call, HangupCause.NORMAL_TEMPORARY_FAILURE, now)
                self._ended(call, HangupCause.NORMAL_TEMPORARY_FAILURE)

    def _on_update(self, call: SipCall, transaction: ServerTransaction, request: SipRequest,
                   now: float) -> None:
        """RFC 3311: a session refresh (RFC 4028) and, with a body, a new offer answered at once (§5.2)."""
        offer = _sdp_of(request)
        answer: bytes | None = None
        if offer is not None:
            if call.reinvite_transaction is not None:
                self.respond(transaction, request, 491, now)  # §5.2: our own offer is outstanding
                return
            if call.pending_reinvite is not None:
                # §5.2: an offer we received is not answered yet.
                self.respond(transaction, request, 500, now, headers=(("Retry-After", str(secrets.randbelow(10))),))
                return
            answer = _answer_update(offer, call.session_sdp or call.local_sdp, call.local_sdp)
            if answer is None:
                self.respond(transaction, request, 488, now)
                return
        self._refresh_session(call, request, now)
        response = make_response(request, 200)
        response.add_header("Contact", self.local_contact())
        if call.session_expires:
            refresher = "uas" if call.we_refresh else "uac"
            response.add_header("Session-Expires", f"{call.session_expires};refresher={refresher}")
        if offer is not None and answer is not None:
            response.add_header("Content-Type", "application/sdp")
            response.body = answer
            call.remote_sdp = offer
            call.local_sdp = answer
        self.tx.send_response(transaction, response, now)
        if offer is not None and answer is not None:
            self.events.append(UpdateReceived(call, offer, answer))

    def _on_info(self, call: SipCall, transaction: ServerTransaction, request: SipRequest,
                 now: float) -> None:
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        body = request.body.decode("utf-8", "replace")
        if content_type == "application/dtmf-relay":
            signal = _SIGNAL.search(body)
            duration = _DURATION.search(body)
            value = signal.group(1).upper() if signal else ""
            if value == "16":
                self.events.append(FlashReceived(call))
            elif value:
                digit = _DTMF_NAMES.get(value, value)
                if digit in "0123456789*#ABCD" and len(digit) == 1:
                    self.events.append(DtmfReceived(call, digit, int(duration.group(1)) if duration else 250))
            self.respond(transaction, request, 200, now)
        elif content_type == "application/dtmf":
            value = body.strip().upper()
            digit = _DTMF_NAMES.get(value, value)
            if len(digit) == 1 and digit in "0123456789*#ABCD":
                self.events.append(DtmfReceived(call, digit, 250))
            self.respond(transaction, request, 200, now)
        elif content_type == "application/hook-flash":
            self.events.append(FlashReceived(call))
            self.respond(transaction, request, 200, now)
        elif not content_type and not request.body:
            self.respond(transaction, request, 200, now)  # keep-alive INFO
        else:
            self.respond(transaction, request, 415, now, headers=(("Accept", ACCEPT_INFO),))

    def send_dtmf_info(self, call: SipCall, digit: str, duration_ms: int, now: float) -> bool:
        """Send a digit as ``application/dtmf-relay`` INFO."""
        if call.dialog is None or call.state not in (_CONFIRMED, _ANSWERED):
            return False
        body = f"Signal={digit}\r\nDuration={duration_ms}\r\n".encode()
        request = call.dialog.create_request("INFO", body=body, content_type="application/dtmf-relay")
        self._send_in_dialog(call, request, now)
        return True

    def send_flash_info(self, call: SipCall, now: float) -> bool:
        """Send a hook flash as ``application/hook-flash`` INFO."""
        if call.dialog is None or call.state not in (_CONFIRMED, _ANSWERED):
            return False
        request = call.dialog.create_request("INFO", body=b"signal=hf\r\n", content_type="application/hook-flash")
        self._send_in_dialog(call, request, now)
        return True

    # -- PRACK (RFC 3262) -----------------------------------------------------------------------------

    def _send_prack(self, call: SipCall, dialog: Dialog, response: SipResponse, now: float) -> None:
        rseq = response.header("RSeq")
        if rseq is None:
            return
        rack = f"{rseq.strip()} {response.cseq.number} INVITE"
        prack = dialog.create_request("PRACK", extra_headers=(("RAck", rack),))
        self._send_in_dialog(call, prack, now, dialog=dialog)

    def _on_prack(self, call: SipCall, transaction: ServerTransaction, request: SipRequest,
                  now: float) -> None:
        """RFC 3262 section 7.2: a PRACK whose RAck names our pending reliable provisional stops it (and
        releases a 2xx that was waiting for it)."""
        pending = call.prack_pending
        rack = (request.header("RAck") or "").split()
        if pending is None or len(rack) < 3 or rack[0] != str(call.rseq) or rack[1] != str(call.invite.cseq.number):
            self.respond(transaction, request, 481, now)
            return
        self._stop_prack_retransmit(call)
        self.respond(transaction, request, 200, now)
        if call.answer_deferred:
            self.answer(call, call.deferred_sdp, now)

    # -- REFER (RFC 3515) -----------------------------------------------------------------------------

    def _on_refer(self, call: SipCall, transaction: ServerTransaction, request: SipRequest,
                  now: float) -> None:
        target = request.header("Refer-To")
        if not target or call.dialog is None:
            self.respond(transaction, request, 400, now, reason="Bad Request - Missing Refer-To")
            return
        # RFC 4488 §4: 'Refer-Sub: false' asks for no implicit subscription; we accept that (norefersub), say so
        # in the 202 and send no NOTIFY.
        subscribe = (request.header("Refer-Sub") or "true").strip().lower() != "false"
        call.refer_subscription = subscribe
        self.respond(transaction, request, 202, now, headers=() if subscribe else (("Refer-Sub", "false"),))
        self.events.append(TransferRequested(call, target.strip(), request.header("Referred-By")))

    def notify_refer(self, call: SipCall, status: int, reason: str, now: float) -> None:
        """Report the transfer's progress to the transferor (``message/sipfrag``); nothing when the REFER
        asked for no subscription (RFC 4488)."""
        if call.dialog is None or not call.refer_subscription:
            return
        state = "terminated;reason=noresource" if status >= 200 else "active;expires=60"
        request = call.dialog.create_request(
            "NOTIFY", body=f"SIP/2.0 {status} {reason}\r\n".encode(), content_type="message/sipfrag;version=2.0",
            extra_headers=(("Event", "refer"), ("Subscription-State", state)))
        self._send_in_dialog(call, request, now)

    # -- session timers (RFC 4028) -----------------------------------------------------------------------

    def _refresh_session(self, call: SipCall, request: SipRequest, now: float) -> None:
        """A session refresh request from the peer (re-INVITE or UPDATE): its interval and, when it names
        one, its refresher (§9: the UAS uses the UAC's choice); then the timer starts again."""
        expires = request.header("Session-Expires")
        if expires is not None:
            value = _leading_int(expires)
            if value:
                call.session_expires = value
            refresher = _refresher(expires)
            if refresher is not None:
                call.we_refresh = refresher == "uas"  # the peer is the UAC of its own refresh
        if call.session_expires:
            self._arm_session_timer(call, now)

    def _session_timer_from_response(self, call: SipCall, response: SipResponse, now: float) -> None:
        expires = response.headers.get("Session-Expires")
        if expires is None:
            return
        value = _leading_int(expires)
        if not value:
            return
        call.session_expires = value
        call.we_refresh = _refresher(expires) == "uac"
        self._arm_session_timer(call, now)

    def _arm_session_timer(self, call: SipCall, now: float) -> None:
        interval = call.session_expires
        if not interval:
            return
        deadline = now + interval
        call.session_deadline = deadline
        _cancel(call.session_timer)
        if call.we_refresh:
            def refresh(at: float) -> None:
                if call.session_deadline == deadline and not call.ended and call.dialog is not None:
                    self._send_reinvite(call, call.local_sdp, at)
            call.session_timer = self.timers.call_at(now + interval / 2, refresh)
        else:
            def expire(at: float) -> None:
                if call.session_deadline == deadline and not call.ended:
                    log.warning("session timer expired on %s: ending the call", call.call_id)
                    self._send_bye(call, HangupCause.RECOVERY_ON_TIMER_EXPIRE, at)
                    self._ended(call, HangupCause.RECOVERY_ON_TIMER_EXPIRE)
            call.session_timer = self.timers.call_at(deadline - min(32.0, interval / 3), expire)


ACCEPT_INFO = "application/dtmf-relay, application/dtmf, application/hook-flash"


def _answer_update(offer: bytes, base: bytes | None, previous: bytes | None) -> bytes | None:
    """Our answer to an UPDATE's offer (RFC 3311 §5.2, RFC 3264 §6.1), None when there is none (488).

    ``base`` is the SDP the driver last gave for this leg: each of its streams answers the offered stream at
    the same place, keeping our address, port and the formats the offer still lists, with the direction
    narrowed by the offer's (sendonly -> recvonly, inactive -> inactive); an offered stream we have no
    counterpart for is rejected with port 0.  ``previous`` (the SDP we sent last) gives the ``o=`` line, its
    version one up when the body changed (RFC 3264 §8).
    """
    if base is None:
        return None
    try:
        theirs = SessionDescription.parse(offer)
        ours = SessionDescription.parse(base)
        last = SessionDescription.parse(previous) if previous is not None else None
    except SdpError:
        return None
    media: list[MediaDescription] = []
    for index, offered in enumerate(theirs.media):
        mine = ours.media[index] if index < len(ours.media) else None
        if offered.port == 0 or mine is None or mine.port == 0 or mine.kind != offered.kind \
                or mine.protocol != offered.protocol:
            media.append(MediaDescription(kind=offered.kind, port=0, protocol=offered.protocol,
                                          formats=offered.formats))
            continue
        kept = _common_formats(mine, offered)
        if not any(_is_codec(mine, fmt) for fmt in kept):
            return None  # nothing to carry the media (telephone-event or comfort noise alone is no answer)
        wanted = ours.direction_for(mine)
        their_direction = theirs.direction_for(offered)
        direction = Direction.from_flags(sends=wanted.sends and their_direction.receives,
                                         receives=wanted.receives and their_direction.sends)
        media.append(replace(
            mine, formats=tuple(kept), direction=direction,
            rtpmaps=tuple(r for r in mine.rtpmaps if str(r.payload_type) in kept),
            fmtps=tuple(f for f in mine.fmtps if f.format in kept)))
    if not any(m.port for m in media):
        return None
    answer = replace(ours, media=tuple(media), direction=None, timings=theirs.timings)
    if last is not None:
        origin = last.origin
        if replace(answer, origin=origin) != last:
            origin = replace(origin, session_version=origin.session_version + 1)
        answer = replace(answer, origin=origin)
    return answer.serialize()


def _common_formats(mine: MediaDescription, offered: MediaDescription) -> list[str]:
    """Our formats that the offer lists too: the same static payload type, or a dynamic one the offer maps
    to the same encoding (RFC 3264 §6.1)."""
    offered_names = {(r.encoding.lower(), r.clock_rate) for r in offered.rtpmaps
                     if str(r.payload_type) in offered.formats}
    kept = []
    for fmt in mine.formats:
        if fmt in offered.formats and (not fmt.isdigit() or int(fmt) < 96):
            kept.append(fmt)
            continue
        rtpmap = mine.rtpmap(int(fmt)) if fmt.isdigit() else None
        if rtpmap is not None and (rtpmap.encoding.lower(), rtpmap.clock_rate) in offered_names:
            kept.append(fmt)
    return kept


def _is_codec(media: MediaDescription, fmt: str) -> bool:
    rtpmap = media.rtpmap(int(fmt)) if fmt.isdigit() else None
    return rtpmap is None or rtpmap.encoding.lower() not in ("telephone-event", "cn")


@functools.cache
def _allow() -> str:
    from core.sip.endpoint import ALLOW  # a constant; imported here to avoid an import cycle

    return ALLOW


def _cancel(timer: Timer | None) -> None:
    if timer is not None:
        timer.cancel()


def _sdp_of(message: SipRequest | SipResponse) -> bytes | None:
    return body_part(message, "application/sdp") if message.body else None


def _credentials(invite: SipRequest) -> tuple[tuple[str, str], ...]:
    """The INVITE's Authorization and Proxy-Authorization values, which the ACK of its 2xx repeats
    (section 13.2.2.4); usually there are none."""
    headers = invite.headers
    if headers.get("Authorization") is None and headers.get("Proxy-Authorization") is None:
        return ()
    return tuple((name, value) for name in _CREDENTIALS for value in headers.values(name))


def _tokens(values: list[str]) -> set[str]:
    if not values:
        return set()  # the usual case (no Require, no Supported): no comprehension to run
    return {v.strip().lower() for value in values for v in value.split(",") if v.strip()}


def _leading_int(text: str) -> int | None:
    match = re.match(r"\s*(\d+)", text)
    return int(match.group(1)) if match else None


def _refresher(session_expires: str | None) -> str | None:
    """The ``refresher`` parameter of a Session-Expires value (``uac``/``uas``), None when absent."""
    if not session_expires:
        return None
    match = _REFRESHER.search(session_expires)
    return match.group(1).lower() if match else None


@functools.lru_cache(maxsize=16)
def _via_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


__all__ = ["CallHandling", "NameAddr"]
