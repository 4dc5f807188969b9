"""The CDR objects of live channels and how channel, dial and bridge activity moves them.

This is the model of Asterisk 12+'s CDR engine (``main/cdr.c``; docs.asterisk.org "CDR Specification"):
every channel owns a chain of CDR objects in which it is Party A.  A CDR goes through the states
Single -> Dial -> DialedPending -> Bridged -> Finalized; once it has a Party B it is never reused, and a
channel that does something new after its CDR was finalized gets a new one appended to its chain.  When
the channel is gone the whole chain is dispatched.  Parking is not modelled (no parking events exist).

The machine is fed with :class:`~core.cdr.objects.Snapshot` objects (the state of a channel at one moment) by
:class:`core.cdr.engine.CdrEngine`, which turns bus events into snapshots, dial and bridge operations.
"""

from __future__ import annotations

import enum
import itertools
import logging
from collections.abc import Callable, Iterator

from core.causes import HangupCause
from core.cdr.model import (
    CdrOptions,
    CdrRecord,
    Disposition,
    callerid_merge,
    fit,
    whole_seconds,
)
from core.cdr.objects import Cdr, CdrFlag, CdrState, Instant, Party, Snapshot
from core.channel import ChannelState

log = logging.getLogger("centralita.cdr")


class _BridgeEnter(enum.Enum):
    ONLY_PARTY = 1
    OBTAINED_PARTY_B = 2
    NO_PARTY_B = 3
    NEED_CDR = 4


def _same(left: str, right: str) -> bool:
    # Asterisk compares channel names with strcasecmp throughout the CDR engine.
    return left.lower() == right.lower()


# Hangup causes that decide a disposition (cdr_object_set_disposition).
_BUSY_CAUSES = {int(HangupCause.USER_BUSY)}
_CONGESTION_CAUSES = {int(HangupCause.NORMAL_CIRCUIT_CONGESTION)}
_FAILED_CAUSES = {int(HangupCause.NO_ROUTE_DESTINATION), int(HangupCause.SUBSCRIBER_ABSENT)}
_NO_ANSWER_CAUSES = {int(HangupCause.NORMAL_CLEARING), int(HangupCause.NO_ANSWER)}


class CdrMachine:
    """The chains of CDR objects of live channels, indexed by the Party A channel's unique id."""

    def __init__(self, options: CdrOptions, now: Callable[[], Instant]) -> None:
        self.options = options
        self._now = now
        self._sequence = itertools.count(0)
        self.chains: dict[str, list[Cdr]] = {}
        self.previous: dict[str, Snapshot] = {}
        self.dialed: set[str] = set()
        # Lower-case channel name -> the chains (unique ids, in creation order) whose CDRs have had it as
        # Party B: with_party_b runs on every channel update and must not scan every live chain.  Entries
        # are only ever added while a chain lives (a stale one is skipped) and go with the chain.
        self._party_b_chains: dict[str, dict[str, int]] = {}
        self._party_b_names: dict[str, set[str]] = {}
        self._created = itertools.count(0)
        self._order: dict[str, int] = {}

    # -- lookups --------------------------------------------------------------------------------------

    def chain_of(self, name: str) -> list[Cdr] | None:
        """The chain whose Party A is the channel called ``name`` (``cdr_object_get_by_name``)."""
        for chain in self.chains.values():
            if _same(chain[0].party_a.snapshot.name, name):
                return chain
        return None

    def all_cdrs(self) -> Iterator[tuple[list[Cdr], Cdr]]:
        """Every live CDR object with its chain."""
        for chain in list(self.chains.values()):
            for cdr in list(chain):
                yield chain, cdr

    def with_party_b(self, name: str) -> list[tuple[list[Cdr], Cdr]]:
        """Every live CDR whose Party B is the channel ``name`` (compared as ``strcasecmp`` does), with its
        chain, chains in creation order.  Called on every channel update: only the chains that ever had
        ``name`` as Party B are looked at."""
        key = name.lower()
        candidates = self._party_b_chains.get(key)
        if not candidates:
            return []
        found: list[tuple[list[Cdr], Cdr]] = []
        chains = self.chains
        for uniqueid in sorted(candidates, key=candidates.__getitem__) if len(candidates) > 1 else candidates:
            chain = chains.get(uniqueid)
            if chain is None:
                continue
            for cdr in chain:
                party_b = cdr.party_b
                if party_b is not None and party_b.snapshot.name.lower() == key:
                    found.append((chain, cdr))
        return found

    def _note_party_b(self, cdr: Cdr) -> None:
        """Index the chain of ``cdr`` under its Party B's name (after every change of Party B)."""
        party_b = cdr.party_b
        if party_b is None:
            return
        key = party_b.snapshot.name.lower()
        uniqueid = cdr.uniqueid
        order = self._order.get(uniqueid)
        if order is None:
            return  # not a live chain
        self._party_b_chains.setdefault(key, {})[uniqueid] = order
        self._party_b_names.setdefault(uniqueid, set()).add(key)

    def _forget_chain(self, uniqueid: str) -> None:
        self._order.pop(uniqueid, None)
        for key in self._party_b_names.pop(uniqueid, ()):
            chains = self._party_b_chains.get(key)
            if chains is not None:
                chains.pop(uniqueid, None)
                if not chains:
                    del self._party_b_chains[key]

    def is_dialed(self, snapshot: Snapshot) -> bool:
        """``snapshot_is_dialed``: the channel was created by a dial (not originated)."""
        return snapshot.uniqueid in self.dialed

    # -- creation, update, destruction of a channel ---------------------------------------------------

    def create(self, snapshot: Snapshot) -> None:
        """A new channel: a root CDR in the Single state, then the snapshot is processed."""
        if snapshot.uniqueid in self.chains:
            return
        root = self._alloc(snapshot)
        if not self.options.channel_default_enabled:
            root.flags |= CdrFlag.DISABLE_ALL
        self.chains[snapshot.uniqueid] = [root]
        self._order[snapshot.uniqueid] = next(self._created)
        self.update(snapshot)

    def update(self, snapshot: Snapshot) -> None:
        """A channel changed (``handle_channel_cache_message`` with a new snapshot)."""
        chain = self.chains.get(snapshot.uniqueid)
        if chain is not None:
            all_reject = True
            for cdr in list(chain):
                all_reject = self._party_a(cdr, snapshot) and all_reject
            if all_reject and self._new_cdr_needed(self.previous.get(snapshot.uniqueid), snapshot):
                self._party_a(self._append(chain), snapshot)
        for _chain, cdr in self.with_party_b(snapshot.name):
            if cdr.party_b is not None and cdr.state in (CdrState.DIAL, CdrState.BRIDGED):
                self._swap(cdr.party_b, snapshot)
                if snapshot.dead:
                    self._transition(cdr, CdrState.FINALIZED)
        self.previous[snapshot.uniqueid] = snapshot

    def destroy(self, uniqueid: str) -> list[tuple[CdrRecord, bool]]:
        """The channel is gone: finalize its chain and return its records (see :meth:`records`) for
        dispatch; the CDRs it was Party B of end too."""
        chain = self.chains.pop(uniqueid, [])
        snapshot = self.previous.pop(uniqueid, None)
        for cdr in chain:
            self._finalize(cdr)
        if snapshot is not None:
            for _other, cdr in self.with_party_b(snapshot.name):
                self._finalize(cdr)
        records = self.records(chain)
        self.dialed.discard(uniqueid)
        self._forget_chain(uniqueid)
        return records

    def finalize_all(self, uniqueid: str) -> list[tuple[CdrRecord, bool]]:
        """Shutdown: move every CDR of the channel to Finalized and return its records for dispatch."""
        for cdr in self.chains.get(uniqueid, []):
            self._transition(cdr, CdrState.FINALIZED)
        return self.destroy(uniqueid)

    # -- dial -----------------------------------------------------------------------------------------

    def dial_begin(self, caller: Snapshot | None, peer: Snapshot) -> None:
        """A dial started (``handle_dial_message`` without a status)."""
        owner = caller or peer
        chain = self.chains.get(owner.uniqueid)
        if chain is None:
            log.warning("No CDR for channel %s", owner.name)
            return
        rejected = True
        for cdr in list(chain):
            if cdr.state in (CdrState.SINGLE, CdrState.DIAL, CdrState.DIALED_PENDING):
                rejected = self._dial_begin(cdr, caller, peer) and rejected
        if rejected:
            self._dial_begin(self._append(chain), caller, peer)

    def _dial_begin(self, cdr: Cdr, caller: Snapshot | None, peer: Snapshot) -> bool:
        if cdr.state is CdrState.DIAL:
            # A parallel dial: the caller gets one CDR per dialled party.
            return True
        if cdr.state is CdrState.DIALED_PENDING:
            self._transition(cdr, CdrState.FINALIZED)
            return True
        if caller is not None and _same(cdr.party_a.snapshot.name, caller.name):
            self._base_party_a(cdr, caller)
            if cdr.party_b is None:
                cdr.party_b = Party(peer)
                self._set_cid_variables(cdr.party_b, None, peer)
            else:
                self._swap(cdr.party_b, peer)
            self._note_party_b(cdr)
            # The application that joined the two parties stays in the record (pre-dial handlers,
            # mid-call Gosubs must not replace it).
            cdr.flags |= CdrFlag.LOCK_APP
        elif _same(cdr.party_a.snapshot.name, peer.name):
            self._base_party_a(cdr, peer)
        cdr.state = CdrState.DIAL
        return False

    def dial_end(self, caller: Snapshot | None, peer: Snapshot, status: str) -> None:
        """A dial ended with ``status`` (DIALSTATUS) (``handle_dial_message`` with a status)."""
        owner = caller or peer
        chain = self.chains.get(owner.uniqueid)
        if chain is None:
            log.warning("No CDR for channel %s", owner.name)
            return
        for cdr in list(chain):
            if cdr.state is not CdrState.DIAL:
                continue
            self._swap(cdr.party_a, owner)
            if cdr.party_b is not None:
                if not _same(cdr.party_b.snapshot.name, peer.name):
                    continue
                self._swap(cdr.party_b, peer)
                self._note_party_b(cdr)
            cdr.disposition = self._dial_status_disposition(status)
            if cdr.disposition is Disposition.ANSWERED:
                self._transition(cdr, CdrState.DIALED_PENDING)
            else:
                self._transition(cdr, CdrState.FINALIZED)

    def _dial_status_disposition(self, status: str) -> Disposition:
        # dial_status_to_disposition: anything unknown (CHANUNAVAIL, ...) is a failure.
        if status == "ANSWER":
            return Disposition.ANSWERED
        if status == "BUSY":
            return Disposition.BUSY
        if status in ("CANCEL", "NOANSWER"):
            return Disposition.NO_ANSWER
        if status == "CONGESTION":
            return Disposition.CONGESTION if self.options.congestion else Disposition.FAILED
        return Disposition.FAILED

    # -- bridges --------------------------------------------------------------------------------------

    def bridge_enter(self, bridge: str, members: list[str], snapshot: Snapshot) -> None:
        """The channel of ``snapshot`` entered ``bridge``; ``members`` are the unique ids now in it, in order."""
        chain = self.chains.get(snapshot.uniqueid)
        if chain is None:
            log.warning("No CDR for channel %s", snapshot.name)
            return
        for _attempt in range(2):
            handled: Cdr | None = None
            for cdr in list(chain):
                self._party_a(cdr, snapshot)
                result = self._bridge_enter(cdr, bridge, members)
                if result in (_BridgeEnter.ONLY_PARTY, _BridgeEnter.OBTAINED_PARTY_B):
                    handled = handled or cdr
                elif result is _BridgeEnter.NO_PARTY_B:
                    handled = handled or cdr
                    # Nobody to talk to yet: end it; a Party B that joins later re-activates it.
                    self._finalize(chain[0])
            if handled is not None:
                self._pairings(handled, members)
                return
            # No CDR could take the bridge: a new one (Single) always can.
            self._append(chain)

    def _bridge_enter(self, cdr: Cdr, bridge: str, members: list[str]) -> _BridgeEnter | None:
        if cdr.state is CdrState.FINALIZED:
            return _BridgeEnter.NEED_CDR
        if cdr.state is CdrState.BRIDGED:
            return None
        if cdr.state is CdrState.DIALED_PENDING:
            cdr.state = CdrState.DIAL
        cdr.bridge = bridge
        if len(members) == 1:
            cdr.state = CdrState.BRIDGED
            return _BridgeEnter.ONLY_PARTY
        obtained = False
        for uniqueid in members:
            for candidate in self.chains.get(uniqueid, []):
                if candidate.state is not CdrState.BRIDGED or candidate.bridge != cdr.bridge:
                    continue
                if cdr.state is CdrState.SINGLE:
                    obtained = self._single_takes_party_b(cdr, candidate)
                else:
                    obtained = self._dial_finds_party_b(cdr, candidate)
                if obtained:
                    break
            if obtained:
                break
        cdr.state = CdrState.BRIDGED
        return _BridgeEnter.OBTAINED_PARTY_B if obtained else _BridgeEnter.NO_PARTY_B

    def _single_takes_party_b(self, cdr: Cdr, candidate: Cdr) -> bool:
        # single_state_bridge_enter_comparison
        if _same(cdr.party_a.snapshot.name, candidate.party_a.snapshot.name):
            return False
        if self._wins_party_a(cdr.party_a, candidate.party_a):
            self._copy_party_b(cdr, candidate.party_a)
            if candidate.party_b is None:
                # We took them: their CDR ends (it can be re-activated later).
                self._finalize(candidate)
            return True
        if candidate.party_b is None or _same(cdr.party_a.snapshot.name, candidate.party_b.snapshot.name):
            return False
        if self._wins_party_a(cdr.party_a, candidate.party_b):
            self._copy_party_b(cdr, candidate.party_b)
            return True
        return False

    def _dial_finds_party_b(self, cdr: Cdr, candidate: Cdr) -> bool:
        # dial_state_process_bridge_enter: only the dialled party can complete a dial CDR.
        if cdr.party_b is None or not _same(cdr.party_b.snapshot.name, candidate.party_a.snapshot.name):
            return False
        self._copy_party_b(cdr, candidate.party_a)
        if candidate.party_b is None:
            self._finalize(candidate)
        return True

    def _pairings(self, cdr: Cdr, members: list[str]) -> None:
        # handle_bridge_pairings / bridge_candidate_process: one CDR per pair of channels in the bridge.
        for uniqueid in members:
            candidates = self.chains.get(uniqueid)
            if not candidates:
                continue
            for candidate in list(candidates):
                if candidate.bridge != cdr.bridge:
                    continue
                if _same(cdr.party_a.snapshot.name, candidate.party_a.snapshot.name) or (
                        cdr.party_b is not None
                        and _same(cdr.party_b.snapshot.name, candidate.party_a.snapshot.name)):
                    break
                if self._wins_party_a(cdr.party_a, candidate.party_a):
                    self._add_bridged(self.chains[cdr.uniqueid], candidate.party_a, cdr.bridge)
                elif candidate.party_b is not None and not _same(candidate.party_b.snapshot.name,
                                                                 cdr.party_a.snapshot.name):
                    self._add_bridged(candidates, cdr.party_a, candidate.bridge)
                else:
                    self._copy_party_b(candidate, cdr.party_a)
                    # It may have been ended when it joined alone; it is active again.
                    candidate.end = None
                break

    def _add_bridged(self, chain: list[Cdr], party_b: Party, bridge: str) -> None:
        new = self._append(chain)
        self._copy_party_b(new, party_b)
        self._check_answer(new)
        new.bridge = bridge
        new.state = CdrState.BRIDGED

    def bridge_leave(self, bridge: str, snapshot: Snapshot) -> None:
        """The channel of ``snapshot`` left ``bridge``."""
        chain = self.chains.get(snapshot.uniqueid)
        if chain is None:
            return
        left = False
        for cdr in chain:
            if cdr.state is not CdrState.BRIDGED or cdr.bridge != bridge:
                continue
            if (not _same(cdr.party_a.snapshot.name, snapshot.name) and cdr.party_b is not None
                    and not _same(cdr.party_b.snapshot.name, snapshot.name)):
                continue
            self._transition(cdr, CdrState.FINALIZED)
            cdr.bridge = ""
            left = True
        if not left:
            return
        for _chain, cdr in self.with_party_b(snapshot.name):
            if cdr.state is CdrState.BRIDGED and cdr.bridge == bridge:
                self._finalize(cdr)

    def _wins_party_a(self, left: Party, right: Party) -> bool:
        """``cdr_object_pick_party_a``: True when ``left`` is Party A of the pair."""
        left_dialed, right_dialed = self.is_dialed(left.snapshot), self.is_dialed(right.snapshot)
        if left_dialed != right_dialed:
            return right_dialed
        # Asterisk only honours the party_a flag of the left-hand party here (its mirror test compares
        # the right-hand party's flag with itself); kept as is.
        if CdrFlag.PARTY_A in left.flags and CdrFlag.PARTY_A not in right.flags:
            return True
        return left.snapshot.created <= right.snapshot.created

    # -- application operations -----------------------------------------------------------------------

    def fork(self, name: str, options: CdrFlag) -> bool:
        """``ast_cdr_fork`` (ForkCDR): a new CDR at the end of the chain; False if it cannot be forked."""
        chain = self.chain_of(name)
        if chain is None:
            return False
        root, last = chain[0], chain[-1]
        if last.state is CdrState.FINALIZED:
            return False
        new = self._append(chain)
        new.state = last.state
        # The new record takes bridge, application and place from the first record of the chain.
        new.bridge, new.appl, new.data, new.context, new.exten = (
            root.bridge, root.appl, root.data, root.context, root.exten)
        new.flags = root.flags & ~CdrFlag.LOCK_APP
        if last.party_b is not None:
            new.party_b = Party(last.party_b.snapshot, last.party_b.userfield, last.party_b.flags)
            self._note_party_b(new)
            if CdrFlag.KEEP_VARS in options:
                new.party_b.copy_variables(last.party_b)
        new.start, new.answer = last.start, last.answer
        now = self._now()
        if CdrFlag.SET_ANSWER in options and new.party_a.snapshot.state is ChannelState.UP:
            new.answer = now
        if CdrFlag.RESET in options:
            new.answer = now
            new.start = now
        if CdrFlag.KEEP_VARS not in options:
            new.party_a.variables.clear()
        if CdrFlag.FINALIZE in options:
            for cdr in chain[:-1]:
                if cdr.state is not CdrState.FINALIZED:
                    self._finalize(cdr)
                    self._transition(cdr, CdrState.FINALIZED)
        return True

    def reset(self, name: str, keep_variables: bool) -> bool:
        """``ast_cdr_reset`` (ResetCDR): start again from now, keep or wipe the variables."""
        chain = self.chain_of(name)
        if chain is None:
            return False
        for cdr in chain:
            if not keep_variables:
                cdr.party_a.variables.clear()
                if chain[0].party_b is not None and cdr.party_b is not None:
                    cdr.party_b.variables.clear()
            cdr.start = self._now()
            cdr.end = None
            cdr.answer = None
            self._check_answer(cdr)
        return True

    def set_property(self, name: str, flag: CdrFlag) -> bool:
        """``ast_cdr_set_property`` (NoCDR, ``CDR_PROP(...)=1``) on the CDRs that are not finalized."""
        chain = self.chain_of(name)
        if chain is None:
            return False
        for cdr in chain:
            if cdr.state is not CdrState.FINALIZED:
                cdr.flags |= flag
                cdr.party_a.flags |= flag
        return True

    def clear_property(self, name: str, flag: CdrFlag) -> bool:
        """``ast_cdr_clear_property`` (``ResetCDR(e)``, ``CDR_PROP(...)=0``)."""
        chain = self.chain_of(name)
        if chain is None:
            return False
        for cdr in chain:
            if cdr.state is not CdrState.FINALIZED:
                cdr.flags &= ~flag
        return True

    def set_userfield(self, name: str, value: str) -> None:
        """``ast_cdr_setuserfield``: on the channel's CDRs as Party A and as Party B.

        Finalized CDRs are left alone except the last of a chain, so that the ``h`` extension can still
        set the user field of the record about to be written.
        """
        value = fit("userfield", value)
        chain = self.chain_of(name) or []
        for cdr in chain:
            if cdr.state is CdrState.FINALIZED and cdr is not chain[-1]:
                continue
            cdr.party_a.userfield = value
        for owner, cdr in self.with_party_b(name):
            if (cdr.state is not CdrState.FINALIZED or cdr is owner[-1]) and cdr.party_b is not None:
                cdr.party_b.userfield = value

    def set_variable(self, name: str, variable: str, value: str) -> None:
        """``ast_cdr_setvar``: a custom variable on every CDR that involves the channel."""
        for chain in list(self.chains.values()):
            root = chain[0]
            if not (_same(root.party_a.snapshot.name, name)
                    or (root.party_b is not None and _same(root.party_b.snapshot.name, name))):
                continue
            for cdr in chain:
                if cdr.state is CdrState.FINALIZED and cdr is not chain[-1]:
                    continue
                if _same(cdr.party_a.snapshot.name, name):
                    cdr.party_a.set_variable(variable, value)
                elif cdr.party_b is not None and _same(cdr.party_b.snapshot.name, name):
                    cdr.party_b.set_variable(variable, value)

    # -- durations and records ------------------------------------------------------------------------

    def duration(self, cdr: Cdr) -> int:
        """``cdr_object_get_duration``: whole seconds from start to end (or now)."""
        end = cdr.end or self._now()
        return whole_seconds(end.mono - cdr.start.mono)

    def billsec(self, cdr: Cdr) -> int:
        """``cdr_object_get_billsec``: whole seconds from answer to end (or now); 0 if never answered."""
        if cdr.answer is None:
            return 0
        end = cdr.end or self._now()
        return whole_seconds(end.mono - cdr.answer.mono, round_up_half=self.options.initiated_seconds)

    def records(self, chain: list[Cdr]) -> list[tuple[CdrRecord, bool]]:
        """``cdr_object_create_public_records``: the records of a chain, each with its "disabled" flag.

        A CDR whose Party A was dialled and that never got a Party B says nothing the caller's record
        does not, and is left out.
        """
        result: list[tuple[CdrRecord, bool]] = []
        for cdr in chain:
            a = cdr.party_a.snapshot
            if self.is_dialed(a) and cdr.party_b is None:
                continue
            b = cdr.party_b.snapshot if cdr.party_b is not None else None
            userfield = ""
            if cdr.party_b is not None and cdr.party_b.userfield:
                userfield = f"{cdr.party_a.userfield};{cdr.party_b.userfield}"
            if not userfield and cdr.party_a.userfield:
                userfield = cdr.party_a.userfield
            variables = dict(cdr.party_a.variables)
            if cdr.party_b is not None:
                for key, entry in cdr.party_b.variables.items():
                    variables.setdefault(key, entry)
            record = CdrRecord(
                accountcode=fit("accountcode", a.accountcode),
                src=fit("src", a.caller_number),
                dst=fit("dst", cdr.exten),
                dcontext=fit("dcontext", cdr.context),
                clid=fit("clid", callerid_merge(a.caller_name, a.caller_number)),
                channel=fit("channel", a.name),
                dstchannel=fit("dstchannel", b.name if b is not None else ""),
                lastapp=fit("lastapp", cdr.appl),
                lastdata=fit("lastdata", cdr.data),
                start=cdr.start.wall,
                answer=cdr.answer.wall if cdr.answer is not None else None,
                end=cdr.end.wall if cdr.end is not None else None,
                duration=self.duration(cdr),
                billsec=self.billsec(cdr),
                disposition=int(cdr.disposition),
                amaflags=a.amaflags,
                userfield=fit("userfield", userfield),
                uniqueid=fit("uniqueid", a.uniqueid),
                linkedid=fit("linkedid", cdr.linkedid),
                peeraccount=fit("peeraccount", b.accountcode if b is not None else ""),
                sequence=cdr.sequence,
                variables=tuple(variables.values()),
            )
            result.append((record, CdrFlag.DISABLE in cdr.flags))
        return result

    # -- the per-CDR machinery ------------------------------------------------------------------------

    def _alloc(self, snapshot: Snapshot) -> Cdr:
        # cdr_object_alloc: a CDR starts in the Single state, which stamps its start time.
        cdr = Cdr(party_a=Party(snapshot), start=self._now(), sequence=next(self._sequence),
                  uniqueid=snapshot.uniqueid, linkedid=snapshot.linkedid)
        self._check_answer(cdr)
        return cdr

    def _append(self, chain: list[Cdr]) -> Cdr:
        # cdr_object_create_and_append: a new CDR for the same Party A, where the last one left off.
        last = chain[-1]
        new = self._alloc(last.party_a.snapshot)
        new.linkedid = last.linkedid
        new.appl, new.data, new.context, new.exten = last.appl, last.data, last.context, last.exten
        if last.flags & CdrFlag.DISABLE_ALL:
            new.flags |= CdrFlag.DISABLE_ALL
        new.party_a.copy_from(last.party_a)
        chain.append(new)
        return new

    def _transition(self, cdr: Cdr, state: CdrState) -> None:
        cdr.state = state
        if state is CdrState.SINGLE:
            cdr.start = self._now()
            self._check_answer(cdr)
        elif state is CdrState.FINALIZED:
            self._finalize(cdr)

    def _finalize(self, cdr: Cdr) -> None:
        # cdr_object_finalize: stamp the end once and settle the disposition.
        if cdr.end is not None:
            return
        cdr.end = self._now()
        if cdr.disposition is not Disposition.NULL:
            return
        if cdr.answer is not None:
            cdr.disposition = Disposition.ANSWERED
        elif cdr.party_a.snapshot.cause:
            self._disposition_from_cause(cdr, cdr.party_a.snapshot.cause)
        elif cdr.party_b is not None and cdr.party_b.snapshot.cause:
            self._disposition_from_cause(cdr, cdr.party_b.snapshot.cause)
        else:
            cdr.disposition = Disposition.FAILED

    def _disposition_from_cause(self, cdr: Cdr, cause: int) -> None:
        # cdr_object_set_disposition: other causes leave the disposition undecided ("NO ANSWER").
        if cause in _BUSY_CAUSES:
            cdr.disposition = Disposition.BUSY
        elif cause in _CONGESTION_CAUSES:
            cdr.disposition = Disposition.CONGESTION if self.options.congestion else Disposition.FAILED
        elif cause in _FAILED_CAUSES:
            cdr.disposition = Disposition.FAILED
        elif cause in _NO_ANSWER_CAUSES:
            cdr.disposition = Disposition.NO_ANSWER

    def _check_answer(self, cdr: Cdr) -> None:
        if cdr.party_a.snapshot.state is ChannelState.UP and cdr.answer is None:
            cdr.answer = self._now()

    def _in_hangup_logic(self, snapshot: Snapshot) -> bool:
        return snapshot.hangup_exec and self.options.end_before_h_exten

    def _cep_changed(self, old: Snapshot, new: Snapshot) -> bool:
        # snapshot_cep_changed: a new application at a new place in the dialplan.
        if self._in_hangup_logic(new):
            return False
        return (new.appl != old.appl and not new.appl.lower().startswith("appdial")
                and (new.context != old.context or new.exten != old.exten or new.priority != old.priority))

    def _new_cdr_needed(self, old: Snapshot | None, new: Snapshot) -> bool:
        # check_new_cdr_needed
        if self._in_hangup_logic(new) or not new.appl:
            return False
        return old is None or self._cep_changed(old, new)

    def _party_a(self, cdr: Cdr, snapshot: Snapshot) -> bool:
        """Process a Party A update; True when this CDR cannot take it (it is finished)."""
        if cdr.state is CdrState.FINALIZED:
            return not self._in_hangup_logic(snapshot)
        if cdr.state is CdrState.DIALED_PENDING and self._cep_changed(cdr.party_a.snapshot, snapshot):
            # Dialplan runs again after a dial: with a Party B the record is done, without one
            # (an originated channel) it becomes a Single record.
            if cdr.party_b is not None:
                self._transition(cdr, CdrState.FINALIZED)
            else:
                self._transition(cdr, CdrState.SINGLE)
            return self._party_a(cdr, snapshot)
        self._base_party_a(cdr, snapshot)
        return False

    def _base_party_a(self, cdr: Cdr, snapshot: Snapshot) -> None:
        # base_process_party_a
        if self._in_hangup_logic(snapshot):
            self._finalize(cdr)
            return
        cdr.context, cdr.exten = snapshot.context, snapshot.exten
        self._swap(cdr.party_a, snapshot)
        if (CdrFlag.LOCK_APP not in cdr.flags and snapshot.appl
                and (not snapshot.appl.lower().startswith("appdial") or not cdr.appl)):
            cdr.appl, cdr.data = snapshot.appl, snapshot.data
            if snapshot.appl == "Dial":
                # Pre-dial handlers would otherwise replace Dial in the record.
                cdr.flags |= CdrFlag.LOCK_APP
        cdr.linkedid = snapshot.linkedid
        self._check_answer(cdr)
        if snapshot.dead and cdr.state is not CdrState.FINALIZED:
            self._transition(cdr, CdrState.FINALIZED)

    def _swap(self, party: Party, snapshot: Snapshot) -> None:
        # cdr_object_swap_snapshot
        self._set_cid_variables(party, party.snapshot, snapshot)
        party.snapshot = snapshot

    @staticmethod
    def _set_cid_variables(party: Party, old: Snapshot | None, new: Snapshot) -> None:
        # cdr_object_update_cid: the dialled number is kept as the CDR variable "dnid".
        if old is None or old.dnid != new.dnid:
            party.set_variable("dnid", new.dnid)

    def _copy_party_b(self, cdr: Cdr, source: Party) -> None:
        if cdr.party_b is None:
            cdr.party_b = Party(source.snapshot)
        cdr.party_b.copy_from(source)
        self._note_party_b(cdr)
