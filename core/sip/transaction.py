"""The SIP transaction layer (RFC 3261 §17, RFC 6026, RFC 3581), sans-IO.

:class:`TransactionLayer` is fed messages that arrived (``receive``) and the passing of time
(``handle_timer``); it returns events for the transaction user (TU: the UA core, dialogs, the registrar)
and queues what must be sent (``datagrams_to_send``).  It never reads a clock or touches a socket: every
input carries ``now`` (monotonic seconds), and ``get_timer`` says when it next wants ``handle_timer``.

Matching is by dictionary: responses by (branch, CSeq method) (§17.1.3); requests by (branch, sent-by,
method) with ACK as INVITE, or the RFC 2543 fields for a branch without the magic cookie (§17.2.3).  Timers
live in one FIFO queue per delay (deadline order while the clock goes forward), with lazy deletion.  The
layer answers some requests itself: 100 Trying for an INVITE the TU left unanswered for 200 ms (§17.2.1),
200 or 481 to a CANCEL (§9.2), and 400 to a request whose headers
matching needs cannot be parsed (the top Via and CSeq, or a CSeq method other than the request's; From, To
and Call-ID too for a request without a To tag), so no :class:`SipParseError` leaves ``receive``.  The ACK
of a non-2xx final response is made and absorbed here; the ACK of a 2xx (which has its own branch)
reaches the TU as :class:`AckReceived`.

Transactions over TCP/TLS are never retransmitted and end (zero-valued Timer D/I/J/K) at the next
``handle_timer`` after their final message.  The shell sends each queued message to its address: over
UDP as a datagram, over TCP/TLS on the connection to that address (opening one if needed).
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections import deque

from core.sip.message import SipParseError, SipRequest, SipResponse, Via, make_response, new_branch, new_tag
from core.sip.transaction_machines import (
    AckReceived,
    CancelReceived,
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    ClientTransaction,
    RequestReceived,
    ResponseReceived,
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    ServerTransaction,
    Transaction,
    TransactionError,
    TransactionEvent,
    TransactionState,
    TransactionTerminated,
    TransactionTimedOut,
    TransactionTimer,
)
from core.sip.transaction_messages import (
    Address,
    ClientKey,
    MergeKey,
    ServerKey,
    Transport,
    build_cancel,
    cancel_target_key,
    client_key,
    merge_key,
    replace_top_via,
    response_address,
    server_key,
    stamp_parsed_via,
)

__all__ = [
    "AckReceived",
    "Address",
    "CancelReceived",
    "ClientInviteTransaction",
    "ClientNonInviteTransaction",
    "ClientTransaction",
    "RequestReceived",
    "ResponseReceived",
    "ServerInviteTransaction",
    "ServerNonInviteTransaction",
    "ServerTransaction",
    "Transaction",
    "TransactionError",
    "TransactionEvent",
    "TransactionLayer",
    "TransactionState",
    "TransactionTerminated",
    "TransactionTimedOut",
    "TransactionTimer",
    "Transport",
    "response_address",
]

logger = logging.getLogger("centralita.sip")

TIMER_T1_MINIMUM = 0.1
"""Asterisk's ``TIMER_T1_MIN`` (res/res_pjsip/config_system.c): 100 ms."""

_COMPACT_AFTER = 4096
"""Rebuild the timer queues when this many (and more than half of their) entries are stale."""

_TimerEntry = tuple[float, int, Transaction, TransactionTimer]
"""(deadline, sequence, transaction, timer): ordered by deadline, then by arming order."""


class TransactionLayer:
    """Client and server transactions of one SIP endpoint (RFC 3261 §17), aioquic-shaped and sans-IO.

    ``t1`` is the RTT estimate (500 ms), ``t2`` the cap of non-INVITE and INVITE-response retransmission
    intervals (4 s), ``t4`` how long a message can linger in the network (5 s), all in seconds (§17.1.1.1,
    Table 4).  Retransmissions happen over UDP only.  ``timer_b`` is Asterisk's pjsip.conf ``[system]
    timer_b``: the transaction timeout (Timers B, F, H and D) when it should exceed 64*T1.  As in Asterisk
    (res_pjsip ``config_system.c``), T1 below 100 ms is raised to 100 ms and Timer B below 64*T1 to 64*T1.
    """

    def __init__(self, *, t1: float = 0.5, t2: float = 4.0, t4: float = 5.0, timer_b: float | None = None,
                 symmetric: bool = False) -> None:
        if t1 < TIMER_T1_MINIMUM:
            # Asterisk's res_pjsip system_apply(): "Timer T1 setting is too low. Setting to 100".
            logger.warning("Timer T1 setting is too low. Setting to %g s", TIMER_T1_MINIMUM)
            t1 = TIMER_T1_MINIMUM
        if t2 < t1 or t4 < 0:
            raise ValueError(f"need T1 <= T2 and T4 >= 0 (got T1={t1}, T2={t2}, T4={t4})")
        timeout = 64 * t1
        if timer_b is not None and timer_b < timeout:
            # system_apply() again: Timer B below 64*T1 is raised to it, with a warning.
            logger.warning("Timer B setting is too low. Setting to %g s", timeout)
        self.symmetric = symmetric  # answer UDP requests at their source (see response_address)
        self.t1 = t1
        self.t2 = t2
        self.t4 = t4
        self.timeout = timeout if timer_b is None else max(timer_b, timeout)
        self._clients: dict[ClientKey, ClientTransaction] = {}
        self._servers: dict[ServerKey, ServerTransaction] = {}
        self._merged: dict[MergeKey, ServerTransaction] = {}
        # Timers by delay, each queue in arming order: with a clock that does not go back that is deadline
        # order, so arming one is an append (a heap push would sift a short timer past the thousands of
        # 32 s waits of ended transactions).  An entry armed out of order (a ``now`` earlier than the last
        # one's) goes to the heap instead.  Stopped timers stay where they are and are skipped (stale).
        self._queues: dict[float, deque[_TimerEntry]] = {}
        self._heap: list[_TimerEntry] = []
        self._armed = 0   # entries in the queues and the heap, live or stale
        self._stale = 0
        self._sequence = itertools.count()
        self._outbox: list[tuple[bytes, Address, Transport]] = []

    # -- inputs -------------------------------------------------------------------------------------------

    def receive(self, message: SipRequest | SipResponse, source: Address, transport: Transport,
                now: float) -> list[TransactionEvent]:
        """A message arrived from ``source`` over ``transport``: the events for the TU, ``[]`` when the
        layer absorbed it (a retransmission, the ACK of a non-2xx, a stray response)."""
        if isinstance(message, SipResponse):
            return self._receive_response(message, now)
        return self._receive_request(message, source, transport, now)

    def handle_timer(self, now: float) -> list[TransactionEvent]:
        """Run every timer due at ``now``: retransmissions, timeouts, terminations."""
        events: list[TransactionEvent] = []
        while True:
            entry, queue = self._earliest()
            if entry is None or entry[0] > now:
                return events
            if queue is None:
                heapq.heappop(self._heap)
            else:
                queue.popleft()
            self._armed -= 1
            _, _, transaction, timer = entry
            del transaction._timers[timer]
            transaction.fire(timer, self, now, events)

    def get_timer(self) -> float | None:
        """When ``handle_timer`` should next be called (monotonic seconds), or None when nothing waits."""
        entry = self._earliest()[0]
        return None if entry is None else entry[0]

    # -- outputs ------------------------------------------------------------------------------------------

    def send_request(self, request: SipRequest, destination: Address, transport: Transport,
                     now: float) -> ClientTransaction:
        """Start a client transaction for ``request`` to ``destination`` (already resolved, §18.1.1).

        The top Via gets a fresh ``z9hG4bK`` branch if it has none.  ACK is not a transaction (the ACK of a
        2xx goes out with ``send_stateless``), so it is refused, as is a branch already in use."""
        method = request.method
        if method == "ACK":
            raise TransactionError("ACK is not sent in a client transaction; use send_stateless", method=method)
        try:
            vias = request.vias
        except SipParseError as error:
            raise TransactionError(f"request to send has a bad Via: {error.reason}", method=method) from error
        if not vias:
            raise TransactionError("request to send has no Via", method=method)
        top = vias[0]
        branch = top.branch
        if not branch:
            branch = new_branch()
            replace_top_via(request, Via(top.transport, top.host, top.port, {**top.params, "branch": branch},
                                         top.protocol))
        key = client_key(branch, method)
        if key in self._clients:
            raise TransactionError("branch already in use by a client transaction", branch=branch, method=method)
        transaction: ClientTransaction
        if method == "INVITE":
            transaction = ClientInviteTransaction(request, destination, transport, branch, key, now)
        else:
            transaction = ClientNonInviteTransaction(request, destination, transport, branch, key, now)
        self._clients[key] = transaction
        transaction.start(self, now)
        return transaction

    def cancel(self, transaction: ClientTransaction, now: float) -> ClientTransaction:
        """Cancel a pending INVITE (§9.1): the CANCEL's own client transaction.

        It goes out at once if a provisional response arrived, else when the first one does; if a final
        response comes (or came) first, it is never sent and just terminates.  Calling this again returns
        the same CANCEL transaction."""
        if not isinstance(transaction, ClientInviteTransaction):
            raise TransactionError("only an INVITE can be cancelled", branch=transaction.branch,
                                   method=transaction.method, state=transaction.state)
        if transaction.cancel_transaction is not None:
            return transaction.cancel_transaction
        cancel = build_cancel(transaction.request)
        key = client_key(transaction.branch, "CANCEL")
        cancel_transaction = ClientNonInviteTransaction(cancel, transaction.destination, transaction.transport,
                                                        transaction.branch, key, now)
        transaction.cancel_transaction = cancel_transaction
        self._clients[key] = cancel_transaction
        state = transaction.state
        if state is TransactionState.PROCEEDING:
            cancel_transaction.start(self, now)
            self._start_timer(transaction, TransactionTimer.CANCELLED, 64 * self.t1, now)  # §9.1
        elif state is TransactionState.CALLING:
            cancel_transaction.held = True
        else:
            self._start_timer(cancel_transaction, TransactionTimer.DISCARD, 0.0, now)
        return cancel_transaction

    def send_response(self, transaction: ServerTransaction, response: SipResponse, now: float, *,
                      stateless: bool = False) -> None:
        """The TU's response on ``transaction``; raises :class:`TransactionError` when the state does not
        allow it (e.g. a second final response).  A 2xx to an INVITE may be sent again (the TU's
        retransmissions, §13.3.1.4) while the transaction is Accepted, and even after it ended.

        ``stateless=True`` on a final response to a non-INVITE request ends the transaction at once (with no
        ``TransactionTerminated`` event) instead of keeping it 64*T1 for retransmissions of the request: a
        retransmission is then a new request and is answered again.  §8.2.7 gives unauthenticated challenges
        as the use of such a stateless UAS: a 401 costs nothing to repeat, and a registrar under load would
        otherwise hold every challenged REGISTER for 32 s."""
        if stateless and response.status >= 200 and isinstance(transaction, ServerNonInviteTransaction):
            transaction.send_final_statelessly(response, self)
            return
        transaction.send_response(response, self, now)

    def stateless_destination(self, request: SipRequest, source: Address, transport: Transport) -> Address | None:
        """Where to send a stateless answer to ``request`` (§8.2.7), a new non-INVITE request the TU answers
        at once without a transaction (an unauthenticated challenge); the request's top Via is stamped as for
        a transaction (``received``/``rport``).  None when it must take the stateful way instead: it belongs
        to a transaction already here (a retransmission), or it is malformed (the stateful way answers 400)."""
        try:
            vias = request.vias
            if not vias:
                return None
            key, _to_tag = server_key(request, vias[0])
            if key in self._servers or request.cseq.method != request.method:
                return None
            top = stamp_parsed_via(request, vias, source, self.symmetric)
        except SipParseError:
            return None
        return source if self.symmetric else response_address(top, source, transport)

    def send_stateless(self, message: SipRequest | SipResponse, destination: Address,
                       transport: Transport) -> None:
        """Queue ``message`` outside any transaction (the ACK of a 2xx, a stateless response)."""
        self._outbox.append((message.encode(), destination, transport))

    def send_stateless_data(self, data: bytes, destination: Address, transport: Transport) -> None:
        """Queue a message already encoded, outside any transaction (an ACK sent again)."""
        self._outbox.append((data, destination, transport))

    def datagrams_to_send(self) -> list[tuple[bytes, Address, Transport]]:
        """Everything queued since the last call, in order, as (bytes, destination, transport)."""
        outbox = self._outbox
        self._outbox = []
        return outbox

    # -- queries ------------------------------------------------------------------------------------------

    def merged_with(self, transaction: ServerTransaction) -> ServerTransaction | None:
        """§8.2.2.2: the ongoing server transaction whose request has the same From tag, Call-ID and CSeq as
        ``transaction``'s (which has no To tag) but is another transaction -- the same request reached us
        twice by different paths, and the UAS should answer this one 482 (Loop Detected).  None if not."""
        key = transaction.merge_key
        if key is None:
            return None
        other = self._merged.get(key)
        if other is None or other is transaction or other.terminated:
            return None
        return other

    @property
    def transaction_count(self) -> int:
        """How many transactions are alive (client and server)."""
        return len(self._clients) + len(self._servers)

    # -- the host interface the state machines use --------------------------------------------------------

    def _transmit(self, data: bytes, destination: Address, transport: Transport) -> None:
        self._outbox.append((data, destination, transport))

    def _start_timer(self, transaction: Transaction, timer: TransactionTimer, delay: float, now: float) -> None:
        sequence = next(self._sequence)
        timers = transaction._timers
        if timer in timers:
            self._stale += 1
        timers[timer] = sequence
        entry = (now + delay, sequence, transaction, timer)
        queue = self._queues.get(delay)
        if queue is None:
            queue = self._queues[delay] = deque()
        if queue and queue[-1][0] > entry[0]:
            heapq.heappush(self._heap, entry)
        else:
            queue.append(entry)
        self._armed += 1
        if self._stale > _COMPACT_AFTER and 2 * self._stale > self._armed:
            self._compact()

    def _stop_timer(self, transaction: Transaction, timer: TransactionTimer) -> None:
        if transaction._timers.pop(timer, None) is not None:
            self._stale += 1

    def _terminate(self, transaction: Transaction, events: list[TransactionEvent], *,
                   timed_out: bool = False) -> None:
        if transaction.state is TransactionState.TERMINATED:
            return
        transaction.state = TransactionState.TERMINATED
        self._stale += len(transaction._timers)
        transaction._timers.clear()
        ended: ClientTransaction | ServerTransaction
        if isinstance(transaction, ServerTransaction):
            ended = transaction
            if self._servers.get(transaction.key) is transaction:
                del self._servers[transaction.key]
            merge = transaction.merge_key
            if merge is not None and self._merged.get(merge) is transaction:
                del self._merged[merge]
        elif isinstance(transaction, ClientTransaction):
            ended = transaction
            if self._clients.get(transaction.key) is transaction:
                del self._clients[transaction.key]
        else:
            return
        if ended.reported:
            if timed_out:
                events.append(TransactionTimedOut(ended))
            events.append(TransactionTerminated(ended))

    def _earliest(self) -> tuple[_TimerEntry | None, deque[_TimerEntry] | None]:
        # The live entry with the earliest deadline (ties: armed first) and the queue it heads (None: the
        # heap); stale entries met at the front of a queue or on top of the heap are dropped on the way.
        best: _TimerEntry | None = None
        best_queue: deque[_TimerEntry] | None = None
        for queue in self._queues.values():
            while queue:
                entry = queue[0]
                if entry[2]._timers.get(entry[3]) == entry[1]:
                    if best is None or entry < best:
                        best, best_queue = entry, queue
                    break
                queue.popleft()
                self._armed -= 1
                self._stale -= 1
        heap = self._heap
        while heap:
            entry = heap[0]
            if entry[2]._timers.get(entry[3]) == entry[1]:
                if best is None or entry < best:
                    return entry, None
                break
            heapq.heappop(heap)
            self._armed -= 1
            self._stale -= 1
        return best, best_queue

    def _compact(self) -> None:
        # In place, queue by queue: the queues keep their arming (and so deadline) order.
        for queue in self._queues.values():
            live = [entry for entry in queue if entry[2]._timers.get(entry[3]) == entry[1]]
            queue.clear()
            queue.extend(live)
        heap = self._heap
        heap[:] = [entry for entry in heap if entry[2]._timers.get(entry[3]) == entry[1]]
        heapq.heapify(heap)
        self._armed = len(heap) + sum(len(queue) for queue in self._queues.values())
        self._stale = 0

    # -- receiving ----------------------------------------------------------------------------------------

    def _receive_response(self, response: SipResponse, now: float) -> list[TransactionEvent]:
        try:
            vias = response.vias
            method = response.cseq.method
        except SipParseError as error:
            logger.debug("dropping a response with a bad %s: %s", error.header or "header", error.reason)
            return []
        branch = vias[0].params.get("branch") if vias else None  # Via.branch without the property call
        transaction = self._clients.get(client_key(branch, method)) if branch else None
        if transaction is None:
            # §17.1.3: a response that matches no client transaction is dropped (a UA has no stateless role).
            logger.debug("dropping a stray %d response (branch %s, %s)", response.status, branch, method)
            return []
        events: list[TransactionEvent] = []
        transaction.receive_response(response, self, now, events)
        return events

    def _receive_request(self, request: SipRequest, source: Address, transport: Transport,
                         now: float) -> list[TransactionEvent]:
        method = request.method
        try:
            vias = request.vias
            if not vias:
                raise SipParseError("Bad Request - Missing Via", "Via")
            # With a magic-cookie branch only the top Via is read here: a retransmission costs one Via parse.
            key, to_tag = server_key(request, vias[0])
        except SipParseError as error:
            self._reject_malformed(request, error, source, transport)
            return []
        if method == "ACK":
            invite = self._servers.get(key)
            if invite is None or not isinstance(invite, ServerInviteTransaction) or not self._tag_matches(
                    invite, to_tag, ack=True):
                return [AckReceived(request, source, transport)]
            events: list[TransactionEvent] = []
            invite.receive_ack(request, source, transport, self, now, events)
            return events
        transaction = self._servers.get(key)
        if transaction is not None and self._tag_matches(transaction, to_tag, ack=False):
            transaction.receive_retransmission(self)
            return []
        try:
            # Stamping rewrites the Via header, which drops the message's parsed views: do it before the
            # TU-visible headers are parsed so that those stay cached for the TU.
            symmetric = self.symmetric
            top = stamp_parsed_via(request, vias, source, symmetric)
            if request.cseq.method != method:
                raise SipParseError("Bad Request - CSeq method does not match", "CSeq")
            merge = merge_key(request) if method != "CANCEL" else None
        except SipParseError as error:
            self._reject_malformed(request, error, source, transport)
            return []
        # A symmetric layer answers at the source whatever the Via says (see response_address).
        destination = source if symmetric else response_address(top, source, transport)
        branch = top.params.get("branch") or ""  # Via.branch without the property call
        if method == "CANCEL":
            return self._receive_cancel(request, top, key, destination, source, transport, now)
        created: ServerTransaction
        if method == "INVITE":
            created = ServerInviteTransaction(request, source, destination, transport, branch, key, to_tag,
                                              TransactionState.PROCEEDING, now)
        else:
            created = ServerNonInviteTransaction(request, source, destination, transport, branch, key, to_tag,
                                                 TransactionState.TRYING, now)
        self._servers[key] = created
        if merge is not None:
            created.merge_key = merge
            self._merged.setdefault(merge, created)
        if method == "INVITE":
            created.start(self, now)  # a non-INVITE server transaction starts no timer (§17.2.2)
        return [RequestReceived(created, request, source, transport)]

    @staticmethod
    def _tag_matches(transaction: ServerTransaction, to_tag: str | None, *, ack: bool) -> bool:
        # RFC 2543 matching of INVITE and ACK: the To tag is compared outside the key; the ACK of a non-2xx
        # carries the tag of the response we sent (§17.2.3).
        if not isinstance(transaction.key[0], str) or transaction.key[0] != "rfc2543":
            return True
        if not ack:
            return transaction.to_tag == to_tag
        response = transaction.last_response
        expected = response.to.tag if response is not None else transaction.to_tag
        return expected == to_tag

    def _receive_cancel(self, cancel: SipRequest, top: Via, key: ServerKey, destination: Address,
                        source: Address, transport: Transport, now: float) -> list[TransactionEvent]:
        try:
            target_key, to_tag = cancel_target_key(cancel, top)
        except SipParseError as error:
            self._reject_malformed(cancel, error, source, transport)
            return []
        # The CANCEL has its own non-INVITE server transaction, answered here and never shown to the TU.
        answer = ServerNonInviteTransaction(cancel, source, destination, transport, top.branch or "", key, None,
                                            TransactionState.TRYING, now)
        answer.reported = False
        self._servers[key] = answer
        invite = self._servers.get(target_key)
        if invite is None or not isinstance(invite, ServerInviteTransaction) or not self._tag_matches(
                invite, to_tag, ack=False):
            answer.send_response(make_response(cancel, 481, to_tag=new_tag()), self, now)
            return []
        # §9.2: the 200 to the CANCEL carries the To tag of the INVITE's responses, when there is one.
        previous = invite.last_response
        tag = previous.to.tag if previous is not None else None
        answer.send_response(make_response(cancel, 200, to_tag=tag or new_tag()), self, now)
        if invite.state is TransactionState.PROCEEDING:
            return [CancelReceived(invite, cancel)]
        return []

    def _reject_malformed(self, request: SipRequest, error: SipParseError, source: Address,
                          transport: Transport) -> None:
        logger.debug("bad %s request from %s: %s", request.method, source, error.reason)
        if request.method == "ACK":
            return  # §17.1.1.3: an ACK is never answered
        try:
            vias = request.vias
        except SipParseError:
            vias = []
        # make_response copies whatever is there, so even a request with a broken header gets its 400.
        response = make_response(request, 400, error.reason)
        destination = response_address(vias[0] if vias else None, source, transport, symmetric=self.symmetric)
        self.send_stateless(response, destination, transport)
