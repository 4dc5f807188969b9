"""INVITE sessions: one call leg's SIP state on either side (UAS or UAC), and the events it produces.

:class:`SipCall` holds what RFC 3261 sections 13-15 need beyond the transaction layer: the dialog(s),
the offer/answer bodies, the 2xx retransmission of a UAS until the ACK (section 13.3.1.4), the pending
CANCEL of a UAC, re-INVITEs, session timers (RFC 4028) and reliable provisionals (RFC 3262).  The
endpoint (``endpoint.py``) drives it; the channel driver sees only the events defined here.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from core.callerid import CallerId
from core.causes import HangupCause
from core.sip.transaction_messages import Transport

if TYPE_CHECKING:
    from core.sip.dialog import Dialog
    from core.sip.message import SipRequest, SipResponse
    from core.sip.timers import Timer
    from core.sip.transaction import ClientTransaction, ServerTransaction

Address = tuple[str, int]

_call_ids = itertools.count(1)


class CallState(Enum):
    """Where an INVITE session is."""

    CALLING = "calling"          # UAC: INVITE sent, no provisional with a tag yet
    INCOMING = "incoming"        # UAS: INVITE received, nothing sent with a tag yet
    EARLY = "early"              # a provisional with a To tag went out / came in
    ANSWERED = "answered"        # UAS: 2xx sent, waiting for the ACK
    CONFIRMED = "confirmed"      # ACK received (UAS) / sent (UAC)
    TERMINATING = "terminating"  # BYE or CANCEL sent, waiting for the answer
    TERMINATED = "terminated"


class _WeakReferenceable:
    """Gives a slotted dataclass its ``__weakref__`` slot on Python 3.10 too (``weakref_slot`` is 3.11's)."""

    __slots__ = ("__weakref__",)


@dataclass(eq=False, slots=True)
class SipCall(_WeakReferenceable):
    """One SIP call leg (an INVITE dialog usage) and what the channel driver needs of it.

    Slotted: with this many fields a per-instance dict outgrows CPython's shared-key layout and is
    built and resized for every call leg."""

    role: str                                   # "uas" | "uac"
    invite: SipRequest
    transport: Transport
    peer: Address                               # where requests/responses of this leg go
    state: CallState
    handle: int = field(default_factory=_call_ids.__next__)
    server_transaction: ServerTransaction | None = None
    client_transaction: ClientTransaction | None = None
    dialog: Dialog | None = None
    early_dialogs: dict[str, Dialog] = field(default_factory=dict)
    local_tag: str = ""
    remote_sdp: bytes | None = None
    local_sdp: bytes | None = None
    user: str | None = None                     # the authenticated local user (UAS) or target user (UAC)
    trunk: str | None = None
    context: str = ""
    caller: CallerId = CallerId()              # frozen: one shared "nobody" is enough
    dnid: str = ""
    session_sdp: bytes | None = None            # the SDP the driver last gave; UPDATE answers start from it
    # UAS: 2xx retransmission until the ACK (section 13.3.1.4)
    final_response: SipResponse | None = None
    retransmit_interval: float = 0.5
    ack_deadline: float | None = None
    retransmit_timer: Timer | None = None
    # UAS: hang-up requested while our 2xx waits for its ACK: the BYE goes after it (section 15)
    bye_pending: HangupCause | None = None
    # UAC: the cause our CANCEL carries
    cancel_cause: HangupCause = HangupCause.NORMAL_CLEARING
    auth_attempts: int = 0
    # re-INVITE waiting for the other side's answer (B2BUA pass-through)
    pending_reinvite: ServerTransaction | None = None
    pending_reinvite_request: SipRequest | None = None
    reinvite_transaction: ClientTransaction | None = None
    # session timers (RFC 4028)
    session_expires: int | None = None
    we_refresh: bool = False
    session_deadline: float | None = None
    session_timer: Timer | None = None
    # reliable provisionals (RFC 3262)
    rseq: int = 0
    prack_pending: SipResponse | None = None
    prack_interval: float = 0.5
    prack_deadline: float | None = None
    prack_timer: Timer | None = None
    answer_deferred: bool = False               # UAS: our 2xx waits for the PRACK of a provisional with SDP
    deferred_sdp: bytes | None = None
    rseq_received: dict[str, int] = field(default_factory=dict)   # UAC: last in-order RSeq per early dialog
    # REFER (RFC 3515, RFC 4488): False when the transferor asked for no implicit subscription
    refer_subscription: bool = True
    ended: bool = False
    heard_from_peer: bool = False               # UAC: any response arrived (even 100 Trying)
    channel: object = None                      # the PBX channel the driver attached
    # UAC: the ACK of each 2xx of the INVITE, as sent, by To tag: (wire bytes, destination)
    acks: dict[str, tuple[bytes, Address]] | None = None

    @property
    def call_id(self) -> str:
        """The Call-ID of the INVITE."""
        return self.invite.call_id


@dataclass(eq=False, slots=True)
class EndedInvite:
    """What is left of an ended UAC leg while its INVITE client transaction still waits in Accepted (RFC 6026
    §8.4, Timer M, 32 s over UDP): each retransmission of the 2xx that confirmed the dialog gets the same ACK
    again, and a 2xx of another fork gets its ACK and a BYE once (§13.2.2.4).  The leg itself (its
    :class:`SipCall`, dialog and parsed INVITE, ~10 KB) is freed when the call ends, not 32 s later."""

    acks: dict[str, tuple[bytes, Address]]      # To tag -> (the ACK as sent, where it went)
    peer: Address
    transport: Transport


# -- events for the channel driver ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SipEvent:
    """Base class of what the endpoint tells the channel driver."""


@dataclass(frozen=True, slots=True)
class IncomingCall(SipEvent):
    """An authorised INVITE: create an inbound channel in ``call.context`` for ``call.dnid``."""

    call: SipCall


@dataclass(frozen=True, slots=True)
class CallProgress(SipEvent):
    """A UAC leg got a provisional response (180 ringing, 183 session progress with early media)."""

    call: SipCall
    status: int
    sdp: bytes | None


@dataclass(frozen=True, slots=True)
class CallAnswered(SipEvent):
    """A UAC leg got its 2xx (and sent the ACK)."""

    call: SipCall
    sdp: bytes | None


@dataclass(frozen=True, slots=True)
class CallFailed(SipEvent):
    """A UAC leg got a final non-2xx response or timed out; ``cause`` per RFC 3398 / the Reason header."""

    call: SipCall
    status: int
    reason: str
    cause: HangupCause


@dataclass(frozen=True, slots=True)
class CallEnded(SipEvent):
    """The far end ended the call (BYE, CANCEL, no ACK, session timer expiry)."""

    call: SipCall
    cause: HangupCause


@dataclass(frozen=True, slots=True)
class DtmfReceived(SipEvent):
    """A DTMF digit arrived by SIP INFO (``application/dtmf-relay`` or ``application/dtmf``)."""

    call: SipCall
    digit: str
    duration_ms: int


@dataclass(frozen=True, slots=True)
class FlashReceived(SipEvent):
    """A hook flash arrived (INFO ``application/hook-flash`` or dtmf-relay ``Signal=16``)."""

    call: SipCall


@dataclass(frozen=True, slots=True)
class ReinviteReceived(SipEvent):
    """The far end sent a re-INVITE (hold/unhold, new media); answer it with ``answer_reinvite``."""

    call: SipCall
    sdp: bytes | None


@dataclass(frozen=True, slots=True)
class UpdateReceived(SipEvent):
    """An UPDATE with a new offer (RFC 3311 §5.2) that the endpoint already answered with ``answer``.

    UPDATE is a non-INVITE request and is answered at once, from the SDP the driver last gave for this leg
    with each stream's direction narrowed as RFC 3264 §6.1 requires (a sendonly hold offer gets recvonly).
    ``call.remote_sdp`` is already ``sdp``: the driver applies it (new media address, hold or unhold).
    """

    call: SipCall
    sdp: bytes
    answer: bytes


@dataclass(frozen=True, slots=True)
class ReinviteAnswered(SipEvent):
    """Our re-INVITE got its final response."""

    call: SipCall
    status: int
    sdp: bytes | None


@dataclass(frozen=True, slots=True)
class TransferRequested(SipEvent):
    """REFER (RFC 3515): the far end asks us to call ``target`` (blind transfer)."""

    call: SipCall
    target: str
    referred_by: str | None


@dataclass(frozen=True, slots=True)
class RegistrationChanged(SipEvent):
    """A phone registered, refreshed, or went away (expired or unregistered)."""

    user: str
    contacts: int


@dataclass(frozen=True, slots=True)
class TrunkStatusChanged(SipEvent):
    """A trunk server's qualify status changed (``OK``, ``LAGGED``, ``UNREACHABLE``)."""

    trunk: str
    server: tuple[str, int]
    status: str


@dataclass(frozen=True, slots=True)
class TrunkRegistrationChanged(SipEvent):
    """An outbound registration's state changed (``sip show registry``)."""

    trunk: str
    state: str
    detail: str = ""
