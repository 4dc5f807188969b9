"""The four SIP transaction state machines (RFC 3261 §17) with RFC 6026's "Accepted" state, and their events.

Each transaction is a small object holding its state; the :class:`~core.sip.transaction.TransactionLayer`
matches messages to it, owns the timer heap and the outbox, and hands itself in as the
:class:`TransactionHost` the machines send and schedule through.  Timers (RFC 3261 Table 4, RFC 6026 §7 and §8.4/§8.7):

====  ===========================  ==============================  ==========================================
name  machine                      value                           purpose
====  ===========================  ==============================  ==========================================
A     INVITE client                T1, doubling (UDP only)         INVITE retransmission
B     INVITE client                64*T1 (``timer_b``)             give up waiting in Calling
D     INVITE client                max(32 s, B) UDP, 0 else        absorb final-response retransmissions
E     non-INVITE client            T1, doubling to T2 (UDP only)   request retransmission (T2 in Proceeding)
F     non-INVITE client            64*T1 (``timer_b``)             give up
K     non-INVITE client            T4 UDP, 0 else                  absorb response retransmissions
M     INVITE client (RFC 6026)     64*T1                           accept 2xx retransmissions and forks
G     INVITE server                T1, doubling to T2 (UDP only)   non-2xx final retransmission
H     INVITE server                64*T1 (``timer_b``)             give up waiting for the ACK
I     INVITE server                T4 UDP, 0 else                  absorb ACK retransmissions
L     INVITE server (RFC 6026)     64*T1                           absorb INVITE retransmissions after a 2xx
J     non-INVITE server            64*T1 UDP, 0 else               absorb request retransmissions
====  ===========================  ==============================  ==========================================

plus the 200 ms after which an INVITE server transaction sends 100 Trying itself (§17.2.1) and the 64*T1
after a CANCEL after which a client INVITE transaction still without a final response is given up (§9.1).
A zero-valued timer goes through the heap as well, so termination is always reported by ``handle_timer``.
B, F and H (and so D) follow the layer's ``timeout``: 64*T1, or Asterisk's ``timer_b`` when configured
(res_pjsip ``config_system.c`` hands it to pjproject as ``tsx.td``, which pjproject uses for all of them).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar, Protocol, Union, cast

from core.sip.message import SipRequest, SipResponse, make_response, parse_message
from core.sip.transaction_messages import Address, ClientKey, MergeKey, ServerKey, Transport, build_ack

TRYING_DELAY = 0.2
"""§17.2.1: an INVITE server transaction sends 100 Trying if the TU has not answered within 200 ms."""

TIMER_D_MINIMUM = 32.0
"""§17.1.1.2: Timer D is "at least 32 seconds" over unreliable transports (the server's 64*T1 at T1=0.5)."""


class TransactionError(Exception):
    """The transaction user asked for something the transaction's state does not allow (a response on a
    transaction that already sent its final response, a second request with a branch in use, ...).

    ``branch``, ``method`` and ``state`` say which transaction, and where it was, when it happened."""

    def __init__(self, message: str, *, branch: str | None = None, method: str | None = None,
                 state: TransactionState | None = None) -> None:
        where = ", ".join(part for part in (
            f"branch {branch}" if branch else "", method or "", f"state {state.value}" if state else "") if part)
        super().__init__(f"{message} ({where})" if where else message)
        self.branch = branch
        self.method = method
        self.state = state


class TransactionState(enum.Enum):
    """The states of RFC 3261 Figures 5-8 and RFC 6026's "Accepted" (INVITE client and server)."""

    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


class TransactionTimer(enum.IntEnum):
    """The transaction timers of RFC 3261 Table 4 and RFC 6026, and the layer's own three.

    An ``IntEnum`` because each transaction keys its pending timers by them: int hashing is C code."""

    A = 1
    B = 2
    D = 4
    E = 5
    F = 6
    G = 7
    H = 8
    I = 9  # noqa: E741 - the RFC's name
    J = 10
    K = 11
    L = 12
    M = 13
    TRYING = 100      # §17.2.1: send 100 Trying when the TU is silent for 200 ms
    CANCELLED = 101   # §9.1: no final response 64*T1 after the CANCEL went out
    DISCARD = 102     # a CANCEL that must not be sent any more ends at the next handle_timer


_CALLING = TransactionState.CALLING
_TRYING = TransactionState.TRYING
_PROCEEDING = TransactionState.PROCEEDING
_COMPLETED = TransactionState.COMPLETED
_CONFIRMED = TransactionState.CONFIRMED
_ACCEPTED = TransactionState.ACCEPTED
_TERMINATED = TransactionState.TERMINATED
_T = TransactionTimer


class TransactionHost(Protocol):
    """What a transaction needs of the layer that runs it (implemented by ``TransactionLayer``)."""

    t1: float
    t2: float
    t4: float
    timeout: float

    def _transmit(self, data: bytes, destination: Address, transport: Transport) -> None: ...

    def _start_timer(self, transaction: Transaction, timer: TransactionTimer, delay: float, now: float) -> None: ...

    def _stop_timer(self, transaction: Transaction, timer: TransactionTimer) -> None: ...

    def _terminate(self, transaction: Transaction, events: list[TransactionEvent], *,
                   timed_out: bool = False) -> None: ...


class Transaction:
    """What client and server transactions share: the request that created the transaction, its
    transport, its state and its timers.  Identity is the object (transactions hash by id).

    Once a transaction only waits (Accepted; Completed or Confirmed over UDP) it keeps its request and last
    response as wire bytes: the garbage collector then has no parsed message to walk for each of the ~100,000
    transactions that wait out Timers D/I/J/K/L/M at 1,000 calls/s, which more than halves the layer's cost
    with the default GC thresholds.  ``request`` and ``last_response`` re-parse those bytes on demand (an
    equal message, not the same object; a received one as it arrived, e.g. without the ``received`` that
    stamping added to its Via)."""

    __slots__ = ("method", "transport", "reliable", "state", "branch", "created_at", "reported", "_timers",
                 "_request", "_request_wire", "_response", "_response_wire")

    is_invite: ClassVar[bool] = False

    def __init__(self, request: SipRequest, transport: Transport, branch: str, state: TransactionState,
                 now: float) -> None:
        self.method = request.method
        self.transport: Transport = transport
        # True over TCP and TLS: no retransmission timers, zero-valued wait timers (§17).  Read on every
        # message the machines send, so it is worked out once here.
        self.reliable = transport != "udp"
        self.state = state
        self.branch = branch
        self.created_at = now
        self.reported = True          # False for the layer's own CANCEL answers: no events about them
        self._timers: dict[TransactionTimer, int] = {}
        self._request: SipRequest | None = request
        self._request_wire = b""
        self._response: SipResponse | None = None
        self._response_wire = b""

    @property
    def request(self) -> SipRequest:
        """The request that created the transaction."""
        request = self._request
        if request is None:
            request = self._request = cast(SipRequest, parse_message(self._request_wire))
        return request

    @property
    def last_response(self) -> SipResponse | None:
        """The latest response: sent (server transactions) or handed to the TU (client transactions)."""
        response = self._response
        if response is None and self._response_wire:
            response = self._response = cast(SipResponse, parse_message(self._response_wire))
        return response

    @property
    def terminated(self) -> bool:
        """True once the transaction reached "Terminated" (it is then no longer matched)."""
        return self.state is _TERMINATED

    def fire(self, timer: TransactionTimer, host: TransactionHost, now: float,
             events: list[TransactionEvent]) -> None:
        """Act on ``timer`` having expired."""
        raise NotImplementedError

    def _keep_wire_only(self, request_wire: bytes, response_wire: bytes) -> None:
        # Entering a state that only absorbs retransmissions: see the class docstring.
        # A received message keeps its datagram: it is stored as it came, not encoded again.
        request = self._request
        if request is not None:
            self._request_wire = request_wire or request.wire or request.encode()
            self._request = None
        response = self._response
        if response is not None:
            self._response_wire = response_wire or response.wire or response.encode()
            self._response = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.method} {self.branch} {self.state.value}>"


class ClientTransaction(Transaction):
    """A client transaction (§17.1): sends ``request`` to ``destination`` and passes responses up."""

    __slots__ = ("destination", "key", "_data", "_interval")

    def __init__(self, request: SipRequest, destination: Address, transport: Transport, branch: str,
                 key: ClientKey, state: TransactionState, now: float) -> None:
        Transaction.__init__(self, request, transport, branch, state, now)
        self.destination = destination
        self.key = key
        self._data = b""
        self._interval = 0.0

    def start(self, host: TransactionHost, now: float) -> None:
        """Send the request and start the state's timers."""
        raise NotImplementedError

    def receive_response(self, response: SipResponse, host: TransactionHost, now: float,
                         events: list[TransactionEvent]) -> None:
        """A response matched this transaction (§17.1.3)."""
        raise NotImplementedError


class ClientInviteTransaction(ClientTransaction):
    """The INVITE client transaction of RFC 3261 Figure 5 as RFC 6026 §7.2 and §8.4 amend it.

    Calling (Timer A retransmits over UDP, Timer B gives up) -> Proceeding on a 1xx -> Completed on
    300-699 (the ACK is built and sent here, and re-sent for each retransmitted final response; Timer D) or
    Accepted on a 2xx (every further 2xx goes to the TU, which ACKs it; Timer M) -> Terminated.
    ``cancel_transaction`` is the CANCEL made by ``TransactionLayer.cancel``, if any."""

    __slots__ = ("cancel_transaction", "_ack_data")

    is_invite = True

    def __init__(self, request: SipRequest, destination: Address, transport: Transport, branch: str,
                 key: ClientKey, now: float) -> None:
        ClientTransaction.__init__(self, request, destination, transport, branch, key, _CALLING, now)
        self.cancel_transaction: ClientNonInviteTransaction | None = None
        self._ack_data = b""

    def start(self, host: TransactionHost, now: float) -> None:
        self._data = self.request.encode()
        host._transmit(self._data, self.destination, self.transport)
        if not self.reliable:
            self._interval = host.t1
            host._start_timer(self, _T.A, host.t1, now)
        host._start_timer(self, _T.B, host.timeout, now)

    def receive_response(self, response: SipResponse, host: TransactionHost, now: float,
                         events: list[TransactionEvent]) -> None:
        status = response.status
        state = self.state
        if status < 200:
            if state is _CALLING:
                self.state = _PROCEEDING
                host._stop_timer(self, _T.A)
                host._stop_timer(self, _T.B)
                cancel = self.cancel_transaction
                if cancel is not None and cancel.held:
                    # §9.1: a CANCEL waits for the first provisional response before it goes out.
                    cancel.held = False
                    cancel.start(host, now)
                    host._start_timer(self, _T.CANCELLED, 64 * host.t1, now)
            elif state is not _PROCEEDING:
                return
            self._response = response
            events.append(ResponseReceived(self, response))
        elif status < 300:
            # RFC 6026 §7.2/§8.4: each 2xx (retransmission or another fork) reaches the TU, which ACKs it.
            if state is _CALLING or state is _PROCEEDING:
                self.state = _ACCEPTED
                self._leave_pending(host, events)
                host._start_timer(self, _T.M, 64 * host.t1, now)
            elif state is not _ACCEPTED:
                return
            self._response = response
            events.append(ResponseReceived(self, response))
            self._keep_wire_only(self._data, b"")
        elif state is _CALLING or state is _PROCEEDING:
            self.state = _COMPLETED
            self._ack_data = build_ack(self.request, response).encode()
            host._transmit(self._ack_data, self.destination, self.transport)
            self._response = response
            events.append(ResponseReceived(self, response))
            self._leave_pending(host, events)
            if self.reliable:
                host._start_timer(self, _T.D, 0.0, now)
            else:
                host._start_timer(self, _T.D, max(TIMER_D_MINIMUM, host.timeout), now)
                self._keep_wire_only(self._data, b"")
        elif state is _COMPLETED:
            # §17.1.1.2: a retransmitted final response is answered with the ACK again, not passed up.
            host._transmit(self._ack_data, self.destination, self.transport)

    def _leave_pending(self, host: TransactionHost, events: list[TransactionEvent]) -> None:
        host._stop_timer(self, _T.A)
        host._stop_timer(self, _T.B)
        host._stop_timer(self, _T.CANCELLED)
        cancel = self.cancel_transaction
        if cancel is not None and cancel.held:
            # §9.1: "If the original request has generated a final response, the CANCEL SHOULD NOT be sent".
            host._terminate(cancel, events)

    def fire(self, timer: TransactionTimer, host: TransactionHost, now: float,
             events: list[TransactionEvent]) -> None:
        state = self.state
        if timer is _T.A:
            if state is _CALLING:
                host._transmit(self._data, self.destination, self.transport)
                self._interval *= 2  # §17.1.1.2: Timer A doubles without the T2 cap
                host._start_timer(self, _T.A, self._interval, now)
        elif timer is _T.B:
            if state is _CALLING:
                host._terminate(self, events, timed_out=True)
                self._leave_pending(host, events)
        elif timer is _T.CANCELLED:
            if state is _PROCEEDING:
                host._terminate(self, events, timed_out=True)
        elif (timer is _T.D and state is _COMPLETED) or (timer is _T.M and state is _ACCEPTED):
            host._terminate(self, events)


class ClientNonInviteTransaction(ClientTransaction):
    """The non-INVITE client transaction of RFC 3261 Figure 6.

    Trying (Timer E retransmits over UDP, doubling up to T2; Timer F gives up) -> Proceeding on a 1xx
    (retransmissions every T2) -> Completed on a final response (Timer K absorbs retransmissions) ->
    Terminated.  ``held`` is True for a CANCEL still waiting for a provisional response to its INVITE."""

    __slots__ = ("held",)

    def __init__(self, request: SipRequest, destination: Address, transport: Transport, branch: str,
                 key: ClientKey, now: float) -> None:
        ClientTransaction.__init__(self, request, destination, transport, branch, key, _TRYING, now)
        self.held = False

    def start(self, host: TransactionHost, now: float) -> None:
        self._data = self.request.encode()
        host._transmit(self._data, self.destination, self.transport)
        if not self.reliable:
            self._interval = host.t1
            host._start_timer(self, _T.E, host.t1, now)
        host._start_timer(self, _T.F, host.timeout, now)

    def receive_response(self, response: SipResponse, host: TransactionHost, now: float,
                         events: list[TransactionEvent]) -> None:
        state = self.state
        if state is not _TRYING and state is not _PROCEEDING:
            return  # Completed: retransmissions of the final response are absorbed
        self._response = response
        events.append(ResponseReceived(self, response))
        if response.status < 200:
            self.state = _PROCEEDING
            return
        self.state = _COMPLETED
        host._stop_timer(self, _T.E)
        host._stop_timer(self, _T.F)
        if self.reliable:
            host._start_timer(self, _T.K, 0.0, now)
        else:
            host._start_timer(self, _T.K, host.t4, now)
            self._keep_wire_only(self._data, b"")

    def fire(self, timer: TransactionTimer, host: TransactionHost, now: float,
             events: list[TransactionEvent]) -> None:
        state = self.state
        if timer is _T.E:
            if state is _TRYING or state is _PROCEEDING:
                host._transmit(self._data, self.destination, self.transport)
                # §17.1.2.2: min(2E, T2) while Trying, T2 once a provisional response arrived.
                self._interval = host.t2 if state is _PROCEEDING else min(2 * self._interval, host.t2)
                host._start_timer(self, _T.E, self._interval, now)
        elif timer is _T.F:
            if state is _TRYING or state is _PROCEEDING:
                host._terminate(self, events, timed_out=True)
        elif (timer is _T.K and state is _COMPLETED) or timer is _T.DISCARD:
            host._terminate(self, events)


class ServerTransaction(Transaction):
    """A server transaction (§17.2): created by a request from ``source``; the TU answers it with
    ``TransactionLayer.send_response``.  Responses go to ``response_destination`` (§18.2.2, RFC 3581)."""

    __slots__ = ("source", "response_destination", "key", "to_tag", "merge_key", "_data", "_interval")

    def __init__(self, request: SipRequest, source: Address, response_destination: Address,
                 transport: Transport, branch: str, key: ServerKey, to_tag: str | None,
                 state: TransactionState, now: float) -> None:
        Transaction.__init__(self, request, transport, branch, state, now)
        self.source = source
        self.response_destination = response_destination
        self.key = key
        self.to_tag = to_tag          # RFC 2543 matching: the To tag a retransmission must carry
        self.merge_key: MergeKey | None = None
        self._data = b""
        self._interval = 0.0

    def start(self, host: TransactionHost, now: float) -> None:
        """Start the timers of the initial state."""

    def receive_retransmission(self, host: TransactionHost) -> None:
        """The request that created the transaction arrived again."""
        raise NotImplementedError

    def send_response(self, response: SipResponse, host: TransactionHost, now: float) -> None:
        """The TU's response: send it and move on as the state machine says."""
        raise NotImplementedError

    def _error(self, response: SipResponse) -> TransactionError:
        return TransactionError(f"cannot send {response.status} now", branch=self.branch, method=self.method,
                                state=self.state)


class ServerInviteTransaction(ServerTransaction):
    """The INVITE server transaction of RFC 3261 Figure 7 as RFC 6026 §7.1 and §8.7 amend it.

    Proceeding (100 Trying after 200 ms of TU silence; INVITE retransmissions get the latest provisional
    response) -> Completed on a 300-699 from the TU (Timer G retransmits it over UDP, Timer H gives up
    waiting for the ACK) -> Confirmed on the ACK (Timer I absorbs ACK retransmissions) -> Terminated; or
    -> Accepted on a 2xx (INVITE retransmissions absorbed, further 2xx from the TU sent, a matching ACK
    passed up; Timer L) -> Terminated."""

    __slots__ = ()

    is_invite = True

    def start(self, host: TransactionHost, now: float) -> None:
        host._start_timer(self, _T.TRYING, TRYING_DELAY, now)

    def receive_retransmission(self, host: TransactionHost) -> None:
        state = self.state
        if state is _PROCEEDING:
            if not self._data:
                # A retransmission means the client is past 500 ms: no reason to wait for the timer.
                host._stop_timer(self, _T.TRYING)
                self._send_trying(host)
            else:
                host._transmit(self._data, self.response_destination, self.transport)
        elif state is _COMPLETED:
            host._transmit(self._data, self.response_destination, self.transport)
        # Accepted (RFC 6026 §7.1) and Confirmed absorb it.

    def receive_ack(self, ack: SipRequest, source: Address, transport: Transport, host: TransactionHost,
                    now: float, events: list[TransactionEvent]) -> None:
        """An ACK matched this transaction (§17.2.3)."""
        state = self.state
        if state is _COMPLETED:
            self.state = _CONFIRMED
            host._stop_timer(self, _T.G)
            host._stop_timer(self, _T.H)
            if self.reliable:
                host._start_timer(self, _T.I, 0.0, now)
            else:
                host._start_timer(self, _T.I, host.t4, now)
                self._keep_wire_only(b"", self._data)
        elif state is _ACCEPTED:
            events.append(AckReceived(ack, source, transport))  # RFC 6026 §7.1: passed to the TU, not absorbed

    def send_response(self, response: SipResponse, host: TransactionHost, now: float) -> None:
        status = response.status
        state = self.state
        if state is _PROCEEDING:
            host._stop_timer(self, _T.TRYING)
            self._send(response, host)
            if status < 200:
                return
            if status < 300:
                self.state = _ACCEPTED
                host._start_timer(self, _T.L, 64 * host.t1, now)
                self._keep_wire_only(b"", self._data)
                return
            self.state = _COMPLETED
            if not self.reliable:
                self._interval = host.t1
                host._start_timer(self, _T.G, host.t1, now)
            host._start_timer(self, _T.H, host.timeout, now)
        elif 200 <= status < 300 and (state is _ACCEPTED or state is _TERMINATED):
            # §13.3.1.4: the TU retransmits its 2xx until the ACK; after Timer L it goes straight out.
            self._send(response, host)
            self._keep_wire_only(b"", self._data)
        else:
            raise self._error(response)

    def _send(self, response: SipResponse, host: TransactionHost) -> None:
        self._data = response.encode()
        self._response = response
        host._transmit(self._data, self.response_destination, self.transport)

    def _send_trying(self, host: TransactionHost) -> None:
        self._send(make_response(self.request, 100), host)  # copies Timestamp (§8.2.6.1)

    def fire(self, timer: TransactionTimer, host: TransactionHost, now: float,
             events: list[TransactionEvent]) -> None:
        state = self.state
        if timer is _T.TRYING:
            if state is _PROCEEDING and not self._data:
                self._send_trying(host)
        elif timer is _T.G:
            if state is _COMPLETED:
                host._transmit(self._data, self.response_destination, self.transport)
                self._interval = min(2 * self._interval, host.t2)
                host._start_timer(self, _T.G, self._interval, now)
        elif timer is _T.H:
            if state is _COMPLETED:
                host._terminate(self, events, timed_out=True)  # §17.2.1: the ACK never came
        elif (timer is _T.I and state is _CONFIRMED) or (timer is _T.L and state is _ACCEPTED):
            host._terminate(self, events)


class ServerNonInviteTransaction(ServerTransaction):
    """The non-INVITE server transaction of RFC 3261 Figure 8.

    Trying (retransmissions absorbed) -> Proceeding on a 1xx from the TU (retransmissions get it again)
    -> Completed on a final response (retransmissions get the final response; Timer J) -> Terminated."""

    __slots__ = ()

    def receive_retransmission(self, host: TransactionHost) -> None:
        if self.state is _PROCEEDING or self.state is _COMPLETED:
            host._transmit(self._data, self.response_destination, self.transport)

    def send_response(self, response: SipResponse, host: TransactionHost, now: float) -> None:
        state = self.state
        if state is not _TRYING and state is not _PROCEEDING:
            raise self._error(response)
        self._data = response.encode()
        self._response = response
        host._transmit(self._data, self.response_destination, self.transport)
        if response.status < 200:
            self.state = _PROCEEDING
        else:
            self.state = _COMPLETED
            if self.reliable:
                host._start_timer(self, _T.J, 0.0, now)
            else:
                host._start_timer(self, _T.J, 64 * host.t1, now)
                self._keep_wire_only(b"", self._data)

    def send_final_statelessly(self, response: SipResponse, host: TransactionHost) -> None:
        """Send a final response and end here, without Timer J (no TransactionTerminated event either):
        see ``TransactionLayer.send_response``."""
        state = self.state
        if state is not _TRYING and state is not _PROCEEDING:
            raise self._error(response)
        host._transmit(response.encode(), self.response_destination, self.transport)
        self.reported = False
        host._terminate(self, [])

    def fire(self, timer: TransactionTimer, host: TransactionHost, now: float,
             events: list[TransactionEvent]) -> None:
        if timer is _T.J and self.state is _COMPLETED:
            host._terminate(self, events)


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """A new request created ``transaction``; the TU answers it with ``TransactionLayer.send_response``."""

    transaction: ServerTransaction
    request: SipRequest
    source: Address
    transport: Transport


@dataclass(frozen=True, slots=True)
class AckReceived:
    """An ACK for the TU: one that matches no transaction, or matches an INVITE server transaction in
    Accepted (RFC 6026 §7.1) -- the ACK of a 2xx (§13.3.2.4, §17.2.3), which belongs to the dialog."""

    request: SipRequest
    source: Address
    transport: Transport


@dataclass(frozen=True, slots=True)
class CancelReceived:
    """A CANCEL matched ``transaction``, an INVITE still without a final response (§9.2).  The layer
    already answered the CANCEL with 200; the TU should now answer the INVITE with 487."""

    transaction: ServerTransaction
    cancel: SipRequest


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """A response for the TU of ``transaction`` (retransmissions the machine absorbs never show up)."""

    transaction: ClientTransaction
    response: SipResponse


@dataclass(frozen=True, slots=True)
class TransactionTimedOut:
    """Timer B, F or H fired (or §9.1's wait after a CANCEL ran out): the peer did not answer.
    ``TransactionTerminated`` for the same transaction follows in the same list."""

    transaction: ClientTransaction | ServerTransaction


@dataclass(frozen=True, slots=True)
class TransactionTerminated:
    """The transaction reached "Terminated" and is forgotten; every transaction the TU knows of ends
    with exactly one of these."""

    transaction: ClientTransaction | ServerTransaction


TransactionEvent = Union[RequestReceived, AckReceived, CancelReceived, ResponseReceived, TransactionTimedOut,
                         TransactionTerminated]
