"""The registrar's location service: RFC 3261 section 10.3, with Asterisk's ``res_pjsip_registrar.c`` policies.

:class:`LocationService` keeps, for every address-of-record (AOR), its bindings (Contact URIs with expiry,
``q``, the Call-ID/CSeq of the REGISTER that set them, the RFC 5626 ``+sip.instance``/``reg-id`` and where the
REGISTER came from).  ``register()`` carries out steps 5 to 8 of section 10.3 for a request the caller has
already authenticated and mapped to an AOR; it returns a :class:`RegisterOutcome` with the status and the
headers of the response.  Sans-IO: the time comes in as ``now`` (monotonic seconds, which drives expiry) and
``wallclock`` (Unix seconds, for the Date header and for persistence); only the binding store does I/O.

Behaviour, and where it comes from:

- Expiration of a contact: its ``expires`` parameter, else the Expires header, else ``default_expires``; 0
  removes.  Longer than ``max_expires`` is shortened (RFC 3261 10.3 step 7, ``registrar_get_expiration``).
  Shorter than ``min_expires`` (and not 0) rejects the whole request with ``423 Interval Too Brief`` and a
  Min-Expires header (RFC 3261 10.3 step 7 and 20.23; chan_sip did this, res_pjsip instead lengthens).
- ``Contact: *`` needs ``Expires: 0`` and no other Contact, else 400 (RFC 3261 10.3 step 6,
  ``registrar_validate_contacts``).  Contacts whose scheme is neither sip nor sips are skipped, and removing a
  binding that does not exist is not an error (``register_aor_core``).
- A binding is found by URI comparison (RFC 3261 19.1.4), or by instance-id and reg-id when the Contact
  carries both (RFC 5626 section 6).  Same Call-ID with a CSeq not higher than the binding's: the request is
  out of order and changes nothing (step 7 says the update is aborted); it is answered 200 with the current
  bindings and ``stale`` set.  Another Call-ID replaces the binding.
- ``max_contacts``: when a REGISTER would leave more bindings than that, the bindings it did not touch are
  removed, soonest to expire first (Asterisk's ``remove_existing``, ``remove_excess_contacts``); more new
  contacts in one request than ``max_contacts``, or a full AOR with ``remove_existing=False``, is
  ``403 Forbidden``, as is any REGISTER when ``max_contacts`` is 0 (``register_aor_core``,
  ``registrar_on_rx_request``).
- The 200 carries a Date header, one Contact per current binding with its remaining ``expires`` (seconds,
  rounded down, as ``registrar_add_contact``), and an Expires header when the request had one.
- The changes of one REGISTER are committed to the store in one transaction, and to memory only if that
  succeeded; a store failure answers ``500 Server Internal Error`` and changes nothing (RFC 3261 10.3 step 7).

Persistence: the store keeps wall-clock expiries.  :meth:`LocationService.restore` re-derives monotonic expiries
at start-up (bindings already expired are dropped; none lives longer than its granted interval whatever the
clock says; TCP/TLS bindings whose only way back was the connection are dropped as Asterisk's
``prune_on_boot`` does).  A wall-clock step while running (NTP setting the clock of a board without RTC) is
noticed from the ``now``/``wallclock`` pairs and the stored expiries are rewritten, so that a restart after it
keeps the right bindings.
"""

from __future__ import annotations

import heapq
import logging
import re
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from core.sip.headers import unquote
from core.sip.message import NameAddr, SipParseError, SipRequest, SipResponse, SipUri, make_response, new_tag
from core.sip.registrar_binding import EPSILON, Binding, Reach
from core.sip.registrar_store import (
    Address,
    BindingRecord,
    BindingStore,
    MemoryBindingStore,
    RegistrarError,
    SqliteBindingStore,
    Transport,
)
from core.sip.status import Status, reason_phrase

__all__ = [
    "Address",
    "Binding",
    "BindingRecord",
    "BindingStore",
    "LocationService",
    "MemoryBindingStore",
    "PeerStatus",
    "Reach",
    "RegisterOutcome",
    "RegistrarError",
    "SqliteBindingStore",
    "Transport",
]

log = logging.getLogger("centralita.sip")

CLOCK_STEP_TOLERANCE = 2.0
"""Seconds the wall clock may drift against the monotonic one before it counts as a step."""

_DIGITS = re.compile(r"[0-9]+")
_QVALUE = re.compile(r"[0-9]+(?:\.[0-9]*)?")  # RFC 3261 qvalue, leniently (phones send "1.0000", "0.50")
_MAX_DELTA_SECONDS = 2**32 - 1  # RFC 3261 20.19: larger values are taken as this
# Looked up once: reading a member off an Enum class goes through EnumType's __getattr__ hook in Python 3.11.
_OK_PHRASE = Status.OK.phrase



@dataclass(slots=True)
class RegisterOutcome:
    """What the registrar decided for one REGISTER, and the response to send.

    ``status`` is 200, 400, 403, 423 or 500 with ``reason`` its phrase; ``detail`` says why for the log.
    ``contacts`` are the Contact values of a 200 (every current binding with its remaining expires),
    ``date`` the Date header value (RFC 1123 form, RFC 3261 20.17), ``expires`` the Expires header value
    when the request had one (as Asterisk answers), ``min_expires`` the Min-Expires of a 423, ``require``
    option tags for a Require header (``outbound``, RFC 5626 section 6).  ``added``, ``refreshed`` and
    ``removed`` list what changed (``removed`` holds bindings removed on request and those replaced to keep
    ``max_contacts``), ``expired`` bindings of this AOR found expired on the way; ``stale`` is set when the
    request was out of order (same Call-ID, CSeq not higher) and changed nothing.

    Not frozen: one is made for every REGISTER and handed to the caller alone, and a frozen dataclass sets
    each of its 13 fields through ``object.__setattr__`` (more than twice the cost of a plain slotted one).
    """

    status: int
    reason: str
    date: str
    contacts: tuple[str, ...] = ()
    expires: int | None = None
    min_expires: int | None = None
    require: tuple[str, ...] = ()
    added: tuple[Binding, ...] = ()
    refreshed: tuple[Binding, ...] = ()
    removed: tuple[Binding, ...] = ()
    expired: tuple[Binding, ...] = ()
    stale: bool = False
    detail: str = ""

    @property
    def headers(self) -> list[tuple[str, str]]:
        """The headers to add to the response, in order (Date, Contacts, Expires / Min-Expires, Require)."""
        headers = [("Date", self.date)]
        for contact in self.contacts:  # a loop, not extend() of a generator: usually one Contact
            headers.append(("Contact", contact))
        if self.expires is not None:
            headers.append(("Expires", str(self.expires)))
        if self.min_expires is not None:
            headers.append(("Min-Expires", str(self.min_expires)))
        if self.require:
            headers.append(("Require", ", ".join(self.require)))
        return headers

    def response(self, request: SipRequest, *, to_tag: str | None = None) -> SipResponse:
        """The response to ``request`` (RFC 3261 8.2.6: a To tag is added when absent, a new one unless
        ``to_tag`` is given)."""
        response = make_response(request, self.status, self.reason, to_tag=to_tag or new_tag())
        for name, value in self.headers:
            response.add_header(name, value)
        return response


@dataclass(frozen=True, slots=True)
class PeerStatus:
    """One row of ``sip show peers`` for a registered contact: the AOR, where requests go (``host``,
    ``port``, ``transport``), whether NAT was detected, the seconds left and what the phone said it was."""

    aor: str
    contact: str
    host: str
    port: int
    transport: Transport
    behind_nat: bool
    expires_in: int
    user_agent: str | None
    instance: str | None
    reg_id: int | None


class _Rejected(Exception):
    """A REGISTER answered with an error before anything changed."""

    def __init__(self, status: int, detail: str, *, reason: str | None = None,
                 min_expires: int | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.reason = reason or reason_phrase(status)
        self.min_expires = min_expires


class _Stale(Exception):
    """The REGISTER is older than a binding it touches (RFC 3261 10.3 step 7)."""


@dataclass(slots=True)
class _ContactRequest:
    """One Contact of the REGISTER, validated."""

    uri: SipUri
    expiration: int
    q: float | None
    instance: str | None
    reg_id: int | None


class LocationService:
    """The location service of RFC 3261 section 10: AOR -> bindings, persisted in ``store``.

    ``min_expires``/``max_expires``/``default_expires`` (seconds) and ``max_contacts``/``remove_existing`` have
    the meaning of Asterisk's ``minimum_expiration``, ``maximum_expiration``, ``default_expiration``,
    ``max_contacts`` and ``remove_existing`` of a pjsip AOR.  Records already in ``store`` are read now and
    come alive with :meth:`restore` (which :meth:`register` calls itself the first time).
    """

    def __init__(self, store: BindingStore, *, min_expires: int = 60, max_expires: int = 3600,
                 default_expires: int = 3600, max_contacts: int = 1, remove_existing: bool = True) -> None:
        if min_expires < 1 or max_expires < min_expires:
            raise ValueError(f"need 1 <= min_expires <= max_expires, got {min_expires} and {max_expires}")
        if default_expires < 1:
            raise ValueError(f"default_expires must be positive, got {default_expires}")
        if max_contacts < 0:
            raise ValueError(f"max_contacts must not be negative, got {max_contacts}")
        self.store = store
        self.min_expires = min_expires
        self.max_expires = max_expires
        self.default_expires = default_expires
        self.max_contacts = max_contacts
        self.remove_existing = remove_existing
        self._pending: list[BindingRecord] | None = store.load()
        self._by_aor: dict[str, list[Binding]] = {}
        self._by_id: dict[str, Binding] = {}
        self._by_flow: dict[tuple[Transport, Address], set[str]] = {}  # where REGISTERs came from -> ids
        self._deadlines: list[tuple[float, int, str]] = []  # (expires_at, sequence, binding_id), lazily pruned
        self._sequence = 0
        self._clock_offset: float | None = None  # wallclock - now
        self._undo: dict[str, list[Binding]] | None = None  # in a batch: AOR -> its bindings before the batch

    # -- start-up ---------------------------------------------------------------------------------------------

    @property
    def restored(self) -> bool:
        """Whether the stored bindings have been brought back (:meth:`restore`)."""
        return self._pending is None

    def restore(self, now: float, wallclock: float) -> list[Binding]:
        """Bring back the bindings the store held at construction; the ones restored.

        A binding keeps ``expires_at_wall - wallclock`` seconds, at most its granted interval (a wall clock
        that is behind after a reboot must not stretch it).  Bindings already expired, with a Contact that no
        longer parses, or that do not survive a restart (:attr:`Binding.survives_restart`) are dropped from
        the store.  Calling it again does nothing.
        """
        if self._pending is None:
            return []
        pending, self._pending = self._pending, None
        self._clock_offset = wallclock - now
        restored: list[Binding] = []
        dropped: list[str] = []
        rewritten: list[BindingRecord] = []
        for record in pending:
            left = record.expires_at_wall - wallclock
            if left <= 0:
                dropped.append(record.binding_id)
                continue
            try:
                uri = SipUri.parse(record.contact)
            except SipParseError as exc:
                log.warning("AOR %r: dropping stored contact %r: %s", record.aor, record.contact, exc.reason)
                dropped.append(record.binding_id)
                continue
            fields = {name: getattr(record, name) for name in BindingRecord.__dataclass_fields__}
            binding = Binding(**fields, uri=uri, expires_at=now + min(left, record.expires))
            if not binding.survives_restart:
                dropped.append(record.binding_id)
                continue
            if left > record.expires:
                binding = replace(binding, expires_at_wall=wallclock + record.expires)
                rewritten.append(binding.to_record())
            restored.append(binding)
        if rewritten or dropped:
            try:
                self.store.apply(rewritten, dropped)
            except RegistrarError as exc:
                log.error("cannot tidy the stored registrations: %s", exc)
        for binding in restored:
            self._link(binding)
        if pending:
            log.info("restored %d registrations, dropped %d", len(restored), len(dropped))
        return restored

    # -- group commit -----------------------------------------------------------------------------------------

    def begin_batch(self) -> None:
        """The REGISTERs that follow until :meth:`end_batch` are committed to the store together; their
        outcomes may only be answered once :meth:`end_batch` has returned True."""
        self.store.begin_batch()
        self._undo = {}

    def end_batch(self) -> bool:
        """Commit the batch; False when that failed, and then every AOR it changed has its bindings back as
        they were before :meth:`begin_batch` (the store kept none of the batch)."""
        undo, self._undo = self._undo, None
        if self.store.end_batch():
            return True
        for aor, before in (undo or {}).items():
            for binding in self._by_aor.get(aor, ()):
                self._forget(binding.binding_id)
            for binding in before:
                self._remember(binding)
            if before:
                self._by_aor[aor] = before
            else:
                self._by_aor.pop(aor, None)
        log.error("registrations of the last batch were not stored: %d AOR(s) restored as before", len(undo or {}))
        return False

    # -- REGISTER ---------------------------------------------------------------------------------------------

    def register(self, aor: str, request: SipRequest, source: Address, transport: Transport, now: float,
                 wallclock: float, *, max_contacts: int | None = None) -> RegisterOutcome:
        """Process an authenticated REGISTER for ``aor`` (RFC 3261 section 10.3 steps 5 to 8).

        ``source`` and ``transport`` are where the request came from (after NAT); ``max_contacts`` overrides
        the service's for this AOR (a user's own ``max_contacts``).  Never raises for bad input: a malformed
        request is a 400 outcome, a store failure a 500 one.
        """
        limit = self.max_contacts if max_contacts is None else max_contacts
        if self._pending is not None:
            self.restore(now, wallclock)
        offset = self._clock_offset
        step = wallclock - now - offset if offset is not None else None
        if step is None or not -CLOCK_STEP_TOLERANCE <= step <= CLOCK_STEP_TOLERANCE:  # _check_clock's own test
            self._check_clock(now, wallclock)
        date = http_date(wallclock)
        current = self._by_aor.get(aor, ())
        horizon = now + EPSILON
        live = [binding for binding in current if binding.expires_at > horizon]
        expired = tuple(binding for binding in current if binding.expires_at <= horizon) \
            if len(live) != len(current) else ()
        try:
            if limit <= 0:
                raise _Rejected(403, "registration is not permitted (max_contacts is 0)")
            plan = self._plan(aor, request, live, source, transport, now, wallclock, limit)
        except _Rejected as rejected:
            log.warning("REGISTER for %r from %s:%d: %d %s", aor, source[0], source[1], rejected.status,
                        rejected.detail)
            return RegisterOutcome(status=rejected.status, reason=rejected.reason, date=date,
                                   min_expires=rejected.min_expires, detail=rejected.detail)
        except _Stale as stale:
            log.info("REGISTER for %r from %s:%d ignored: %s", aor, source[0], source[1], stale)
            try:
                self._commit(aor, live, [], expired)
            except RegistrarError as exc:
                log.error("REGISTER for %r: %s", aor, exc)
            return RegisterOutcome(status=200, reason=_OK_PHRASE, date=date,
                                   contacts=self._contact_headers(live, now), expires=self._response_expires(request),
                                   expired=expired, stale=True, detail=str(stale))
        bindings, added, refreshed, removed, require, header_expires = plan
        try:
            self._commit(aor, bindings, added + refreshed if added else refreshed,
                         removed + expired if expired else removed)
        except RegistrarError as exc:
            log.error("REGISTER for %r: %s", aor, exc)
            return RegisterOutcome(status=500, reason=Status.SERVER_INTERNAL_ERROR.phrase, date=date, detail=str(exc))
        return RegisterOutcome(status=200, reason=_OK_PHRASE, date=date,
                               contacts=self._contact_headers(bindings, now),
                               expires=self._range_expires(header_expires), require=require, added=added,
                               refreshed=refreshed, removed=removed, expired=expired)

    def _plan(self, aor: str, request: SipRequest, live: list[Binding], source: Address, transport: Transport,
              now: float, wallclock: float, limit: int
              ) -> tuple[list[Binding], tuple[Binding, ...], tuple[Binding, ...], tuple[Binding, ...], tuple[str, ...],
                         int | None]:
        """The bindings of ``aor`` after ``request``, what changed and the request's Expires; raises _Rejected or
        _Stale."""
        try:
            contacts = request.contacts
            star = request.contact_star
            header_expires = request.expires
            call_id = request.call_id
            cseq = request.cseq.number
            fields = request.headers
            user_agent = fields.get("User-Agent")
            path = tuple(fields.values("Path")) if fields.get("Path") is not None else ()
        except SipParseError as exc:
            raise _Rejected(400, exc.reason, reason=exc.reason) from exc

        if star:
            # RFC 3261 10.3 step 6; registrar_validate_contacts.
            if contacts:
                raise _Rejected(400, "Contact: * together with other contacts")
            if self._expiration(None, header_expires) != 0:
                raise _Rejected(400, "Contact: * without Expires: 0")
            for binding in live:
                _check_order(binding, call_id, cseq)
            return [], (), (), tuple(live), (), header_expires

        wanted: list[_ContactRequest] = []
        for item in contacts:
            contact = self._validate(item, header_expires)
            if contact is not None:
                wanted.append(contact)
        min_expires = self.min_expires
        for contact in wanted:  # the first one too brief is named, once every Contact is known to be valid
            if 0 < contact.expiration < min_expires:
                raise _Rejected(423, f"expiration {contact.expiration} s is below {min_expires} s",
                                min_expires=min_expires)

        bindings = list(live)
        touched: dict[str, Binding] = {}  # binding_id -> the binding as this request leaves it
        added_ids: set[str] = set()
        removed: dict[str, Binding] = {}
        outbound_used = False
        for contact in wanted:
            existing = _find(bindings, contact) if bindings else None
            if existing is not None and existing.binding_id not in touched:
                _check_order(existing, call_id, cseq)
            if contact.expiration == 0:
                if existing is None:
                    continue  # register_aor_core: removing a contact that is not there is forgiven
                bindings.remove(existing)
                touched.pop(existing.binding_id, None)
                if existing.binding_id in added_ids:
                    added_ids.discard(existing.binding_id)
                else:
                    removed[existing.binding_id] = existing
                continue
            expiration = contact.expiration if contact.expiration < self.max_expires else self.max_expires
            # The same URI as the binding's serialises the same: keep its text instead of rebuilding it.  (The
            # parse cache shares parsed URIs, so a refresh's is usually the very object of the binding.)
            if existing is not None and (existing.uri is contact.uri or existing.uri == contact.uri):
                text = existing.contact
            else:
                text = str(contact.uri)
            binding = Binding(
                binding_id=existing.binding_id if existing is not None else secrets.token_hex(8),
                aor=aor, contact=text, q=contact.q, expires=expiration,
                expires_at_wall=wallclock + expiration, refreshed_at_wall=wallclock, call_id=call_id, cseq=cseq,
                instance=contact.instance, reg_id=contact.reg_id, source=source, transport=transport,
                user_agent=user_agent, path=path, uri=contact.uri, expires_at=now + expiration)
            if existing is None:
                added_ids.add(binding.binding_id)
                bindings.append(binding)
            else:
                bindings[bindings.index(existing)] = binding
            touched[binding.binding_id] = binding
            if contact.instance is not None and contact.reg_id is not None:  # Binding.outbound
                outbound_used = True

        if len(touched) > limit:
            raise _Rejected(403, f"{len(touched)} contacts exceed max_contacts of {limit}")
        excess = len(bindings) - limit
        if excess > 0:
            if not self.remove_existing:
                raise _Rejected(403, f"registration would exceed max_contacts of {limit}")
            # remove_excess_contacts: the untouched ones that expire soonest go first.
            untouched = sorted((binding for binding in bindings if binding.binding_id not in touched),
                               key=lambda binding: (binding.expires_at, binding.refreshed_at_wall))
            for binding in untouched[:excess]:
                bindings.remove(binding)
                removed[binding.binding_id] = binding
        if added_ids:
            added = tuple(binding for binding_id, binding in touched.items() if binding_id in added_ids)
            refreshed = tuple(binding for binding_id, binding in touched.items() if binding_id not in added_ids)
        else:  # a refresh
            added, refreshed = (), tuple(touched.values())
        require: tuple[str, ...] = ()
        if outbound_used:
            try:
                supported = {value.strip().lower() for value in request.header_values("Supported")}
            except SipParseError as exc:
                raise _Rejected(400, exc.reason, reason=exc.reason) from exc
            if "outbound" in supported:
                require = ("outbound",)
        return bindings, added, refreshed, tuple(removed.values()) if removed else (), require, header_expires

    def _validate(self, contact: NameAddr, header_expires: int | None) -> _ContactRequest | None:
        """One Contact's expiration, q and RFC 5626 parameters; None for schemes other than sip/sips."""
        uri = contact.uri
        if not uri.is_sip:
            return None  # register_aor_core: "This registrar only currently supports sip: and sips: URI schemes"
        params = contact.params
        if not params:  # the common Contact: <sip:user@host:port>, the expiry from the Expires header
            if header_expires is not None and header_expires < _MAX_DELTA_SECONDS:  # _expiration's, without a call
                return _ContactRequest(uri, header_expires, None, None, None)
            return _ContactRequest(uri, self._expiration(None, header_expires), None, None, None)
        raw_expires = params.get("expires")
        if raw_expires is not None and not _DIGITS.fullmatch(raw_expires.strip()):
            raise _Rejected(400, f"invalid expires parameter {raw_expires!r} in Contact {uri}")
        expiration = self._expiration(None if raw_expires is None else int(raw_expires), header_expires)
        q = _parse_q(params.get("q"), uri)
        instance = params.get("+sip.instance")
        if instance is not None:
            instance = unquote(instance.strip()) or None
        raw_reg_id = params.get("reg-id")
        reg_id: int | None = None
        if raw_reg_id is not None:
            if not _DIGITS.fullmatch(raw_reg_id.strip()) or int(raw_reg_id) < 1:
                raise _Rejected(400, f"invalid reg-id {raw_reg_id!r} in Contact {uri}")  # RFC 5626: 1*DIGIT, > 0
            reg_id = int(raw_reg_id)
        return _ContactRequest(uri=uri, expiration=expiration, q=q, instance=instance, reg_id=reg_id)

    def _expiration(self, contact_expires: int | None, header_expires: int | None) -> int:
        """registrar_get_expiration without the range: Contact parameter, else Expires header, else default."""
        # Comparisons rather than min(): this runs for every Contact of every REGISTER.
        if contact_expires is not None:
            return contact_expires if contact_expires < _MAX_DELTA_SECONDS else _MAX_DELTA_SECONDS
        if header_expires is not None:
            return header_expires if header_expires < _MAX_DELTA_SECONDS else _MAX_DELTA_SECONDS
        # The phone asked for nothing: the default is brought into range, never answered with 423.
        return max(self.min_expires, min(self.default_expires, self.max_expires))

    def _response_expires(self, request: SipRequest) -> int | None:
        """Asterisk answers an Expires header with the request's, brought into range (0 stays 0)."""
        try:
            value = request.expires
        except SipParseError:
            return None
        return self._range_expires(value)

    def _range_expires(self, value: int | None) -> int | None:
        if value is None:
            return None
        if value == 0:
            return 0
        if value < self.min_expires:
            return self.min_expires
        return value if value < self.max_expires else self.max_expires

    # -- queries ----------------------------------------------------------------------------------------------

    def lookup(self, aor: str, now: float) -> list[Binding]:
        """The unexpired bindings of ``aor``, highest ``q`` first (absent q counts as 1.0), then the one that
        lives longest (RFC 3261 16.6 leaves the order within a q to the proxy)."""
        self._require_restored()
        horizon = now + EPSILON
        live = [binding for binding in self._by_aor.get(aor, ()) if binding.expires_at > horizon]
        return live if len(live) < 2 else _ordered(live)

    def peers(self, now: float) -> list[PeerStatus]:
        """Every unexpired binding as a ``sip show peers`` row, by AOR, then as :meth:`lookup` orders them."""
        self._require_restored()
        rows: list[PeerStatus] = []
        for aor in sorted(self._by_aor):
            for binding in self.lookup(aor, now):
                reach = binding.reach
                rows.append(PeerStatus(aor=aor, contact=binding.contact, host=reach.address[0],
                                       port=reach.address[1], transport=reach.transport,
                                       behind_nat=binding.behind_nat, expires_in=binding.remaining(now),
                                       user_agent=binding.user_agent, instance=binding.instance,
                                       reg_id=binding.reg_id))
        return rows

    def aors(self) -> list[str]:
        """The AORs that have bindings (some may have expired since the last :meth:`expire`)."""
        return list(self._by_aor)

    def __len__(self) -> int:
        """The number of bindings held (expired ones not yet removed included)."""
        return len(self._by_id)

    # -- expiry -----------------------------------------------------------------------------------------------

    def next_expiry(self) -> float | None:
        """The monotonic time at which the next binding expires, for the shell's timer; None when none."""
        self._require_restored()
        self._prune_deadlines()
        return self._deadlines[0][0] if self._deadlines else None

    def expire(self, now: float, *, wallclock: float | None = None) -> list[Binding]:
        """Remove and return the bindings expired at ``now`` (the caller logs or publishes them).

        Cost is proportional to the number expired, not to the number held.  With ``wallclock`` a step of the
        wall clock is also noticed (see the module documentation).
        """
        self._require_restored()
        if wallclock is not None:
            self._check_clock(now, wallclock)
        gone: list[Binding] = []
        while self._deadlines and self._deadlines[0][0] <= now + EPSILON:
            _deadline, _sequence, binding_id = heapq.heappop(self._deadlines)
            binding = self._by_id.get(binding_id)
            if binding is None or binding.expires_at != _deadline:
                continue  # refreshed or removed since
            self._unlink(binding)
            gone.append(binding)
        if gone:
            try:
                self.store.apply((), [binding.binding_id for binding in gone])
            except RegistrarError as exc:
                # Harmless: a restart drops them anyway, their wall-clock expiry having passed.
                log.error("cannot remove expired registrations from the store: %s", exc)
        return gone

    def flow_closed(self, source: Address, transport: Transport) -> list[Binding]:
        """A TCP/TLS connection from ``source`` closed: remove and return the bindings that could only be
        reached through it (Asterisk's ``register_contact_transport_shutdown_cb``)."""
        self._require_restored()
        if transport == "udp":
            return []
        ids = self._by_flow.get((transport, source), ())
        gone = [binding for binding_id in list(ids)
                if not (binding := self._by_id[binding_id]).survives_restart]
        for binding in gone:
            self._unlink(binding)
        if gone:
            try:
                self.store.apply((), [binding.binding_id for binding in gone])
            except RegistrarError as exc:
                log.error("cannot remove registrations of a closed connection from the store: %s", exc)
        return gone

    # -- internals --------------------------------------------------------------------------------------------

    def _require_restored(self) -> None:
        if self._pending is not None:
            if self._pending:
                raise RegistrarError("the stored registrations have not been restored (call restore() first)")
            self._pending = None

    def _check_clock(self, now: float, wallclock: float) -> None:
        """Rewrite the stored wall-clock expiries when the wall clock stepped against the monotonic one."""
        offset = wallclock - now
        if self._clock_offset is None:
            self._clock_offset = offset
            return
        step = offset - self._clock_offset
        if abs(step) <= CLOCK_STEP_TOLERANCE:
            return
        self._clock_offset = offset
        log.warning("wall clock stepped by %+.1f s; rewriting %d registration expiries", step, len(self._by_id))
        shifted = [replace(binding, expires_at_wall=wallclock + (binding.expires_at - now),
                           refreshed_at_wall=binding.refreshed_at_wall + step)
                   for binding in self._by_id.values()]
        for binding in shifted:
            self._by_id[binding.binding_id] = binding
            siblings = self._by_aor[binding.aor]
            for index, sibling in enumerate(siblings):
                if sibling.binding_id == binding.binding_id:
                    siblings[index] = binding
        try:
            self.store.apply([binding.to_record() for binding in shifted], ())
        except RegistrarError as exc:
            log.error("cannot rewrite the stored registration expiries: %s", exc)

    def _commit(self, aor: str, bindings: list[Binding], upserts: Sequence[Binding],
                deletes: Sequence[Binding]) -> None:
        """Store, then make visible, the new bindings of ``aor`` (all or nothing); ``bindings`` is a list the
        caller made for this and is kept as it is."""
        delete_ids = [binding.binding_id for binding in deletes] if deletes else []
        self.store.apply(upserts, delete_ids)  # a Binding is its record (the store reads the record's fields)
        undo = self._undo
        if undo is not None and aor not in undo:
            undo[aor] = list(self._by_aor.get(aor, ()))
        for binding_id in delete_ids:
            self._forget(binding_id)
        by_id = self._by_id
        for binding in upserts:
            previous = by_id.get(binding.binding_id)
            if previous is not None and previous.source == binding.source and previous.transport == binding.transport:
                # A refresh from where the binding was registered (the usual one): the flow index has it already.
                by_id[binding.binding_id] = binding
                self._sequence += 1
                heapq.heappush(self._deadlines, (binding.expires_at, self._sequence, binding.binding_id))
            else:
                self._forget(binding.binding_id)
                self._remember(binding)
        if bindings:
            self._by_aor[aor] = bindings
        else:
            self._by_aor.pop(aor, None)
        if len(self._deadlines) > 2 * len(by_id) + 64:  # (the test of _compact_deadlines, without a call)
            self._compact_deadlines()

    def _link(self, binding: Binding) -> None:
        self._remember(binding)
        self._by_aor.setdefault(binding.aor, []).append(binding)

    def _unlink(self, binding: Binding) -> None:
        self._forget(binding.binding_id)
        siblings = self._by_aor.get(binding.aor)
        if siblings is None:
            return
        siblings[:] = [sibling for sibling in siblings if sibling.binding_id != binding.binding_id]
        if not siblings:
            del self._by_aor[binding.aor]

    def _remember(self, binding: Binding) -> None:
        """Index ``binding`` by id, flow and deadline (not by AOR)."""
        self._by_id[binding.binding_id] = binding
        self._by_flow.setdefault((binding.transport, binding.source), set()).add(binding.binding_id)
        self._sequence += 1
        heapq.heappush(self._deadlines, (binding.expires_at, self._sequence, binding.binding_id))

    def _forget(self, binding_id: str) -> None:
        """Drop ``binding_id`` from the id and flow indexes (its deadline goes stale)."""
        binding = self._by_id.pop(binding_id, None)
        if binding is None:
            return
        flow = (binding.transport, binding.source)
        ids = self._by_flow.get(flow)
        if ids is not None:
            ids.discard(binding_id)
            if not ids:
                del self._by_flow[flow]

    def _prune_deadlines(self) -> None:
        while self._deadlines:
            deadline, _sequence, binding_id = self._deadlines[0]
            binding = self._by_id.get(binding_id)
            if binding is not None and binding.expires_at == deadline:
                return
            heapq.heappop(self._deadlines)

    def _compact_deadlines(self) -> None:
        # Refreshes leave stale entries behind; rebuild when they outnumber the live ones.
        if len(self._deadlines) > 2 * len(self._by_id) + 64:
            self._deadlines = [entry for entry in self._deadlines
                               if (binding := self._by_id.get(entry[2])) is not None
                               and binding.expires_at == entry[0]]
            heapq.heapify(self._deadlines)

    def _contact_headers(self, bindings: Sequence[Binding], now: float) -> tuple[str, ...]:
        if len(bindings) == 1:
            return (bindings[0].contact_header(now),)
        return tuple(binding.contact_header(now) for binding in _ordered(bindings))


# -- helpers ------------------------------------------------------------------------------------------------


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


_last_date: tuple[int, str] = (-1, "")


def http_date(wallclock: float) -> str:
    """RFC 3261 §20.17 ``SIP-date`` (RFC 1123): ``Sun, 06 Nov 1994 08:49:37 GMT``, whatever the locale
    (formatted once per second: a busy registrar answers many REGISTERs in the same second)."""
    global _last_date
    second = int(wallclock // 1)
    if _last_date[0] == second:
        return _last_date[1]
    t = time.gmtime(second)
    text = (f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT")
    _last_date = (second, text)
    return text


def _check_order(binding: Binding, call_id: str, cseq: int) -> None:
    # RFC 3261 10.3 step 7: same Call-ID needs a higher CSeq, another Call-ID always wins.
    if binding.call_id == call_id and cseq <= binding.cseq:
        raise _Stale(f"CSeq {cseq} is not above {binding.cseq} of Call-ID {call_id!r} for {binding.contact}")


def _find(bindings: Sequence[Binding], contact: _ContactRequest) -> Binding | None:
    """The binding ``contact`` refers to: by instance-id and reg-id when it has both (RFC 5626 section 6),
    else (or when no such flow exists) by URI among bindings that are not flows (RFC 3261 19.1.4)."""
    if contact.instance is not None and contact.reg_id is not None:
        for binding in bindings:
            if binding.instance == contact.instance and binding.reg_id == contact.reg_id:
                return binding
        for binding in bindings:
            if not binding.outbound and binding.uri.equivalent(contact.uri):
                return binding
        return None
    uri = contact.uri
    for binding in bindings:
        known = binding.uri
        # The same object (the parse cache shares URIs), or equal fields: equivalent without the RFC rules.
        if known is uri or known == uri or known.equivalent(uri):
            return binding
    return None


def _ordered(bindings: Iterable[Binding]) -> list[Binding]:
    return sorted(bindings, key=lambda binding: (-(1.0 if binding.q is None else binding.q), -binding.expires_at))


def _parse_q(raw: str | None, uri: SipUri) -> float | None:
    """A q parameter (RFC 3261 20.10: qvalue, 0 to 1); None when absent; 400 when not a number in range."""
    if raw is None:
        return None
    if not _QVALUE.fullmatch(raw.strip()) or float(raw) > 1.0:
        raise _Rejected(400, f"invalid q parameter {raw!r} in Contact {uri}")
    return float(raw)
