"""The CDR engine: follows calls on the event bus and writes one record per path of communication.

:class:`CdrEngine` subscribes to the channel, dialplan, dial and bridge events of :mod:`core.events`,
turns them into channel snapshots for :class:`core.cdr.machine.CdrMachine` (Asterisk 12+'s CDR model,
``main/cdr.c``), and when a channel is gone writes its records to every backend before returning, so a
record of a finished call is on disk once the hang-up event has been processed.  It also implements what
the dialplan does to records: ``CDR()`` (:meth:`CdrEngine.current`), ``ForkCDR``, ``NoCDR``,
``ResetCDR`` and ``CDR_PROP``.

What the engine needs from the rest of the PBX:

* ``ChannelCreated`` / ``ChannelStateChanged`` / ``ChannelHungUp`` for every leg; the live
  :class:`~core.channel.Channel` (via ``channel_lookup``) for caller ID, account code and linked id.
* ``NewExtension`` before each application runs (``lastapp``/``lastdata``/``dst``/``dcontext``); a
  ``NewExtension`` at extension ``h`` (or after the hang-up) marks hangup logic for ``endbeforehexten``.
* ``DialBegin``/``DialEnd`` around each dialled party, with Asterisk's DIALSTATUS values.
* ``ChannelsBridged``/``ChannelsUnbridged``.  A channel that hangs up or runs dialplan again is taken
  out of its bridge even if no ``ChannelsUnbridged`` came first.
* Optionally ``runs_hangup_logic(name)``: True when a channel that just hung up will still run its
  ``h`` extension; its records are then kept (readable and writable by ``CDR()``) until
  :meth:`CdrEngine.hangup_logic_done`, as Asterisk keeps them until the channel is destroyed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from core.cdr.machine import CdrMachine
from core.cdr.model import (
    AmaFlags,
    CdrOptions,
    CdrRecord,
    Disposition,
    amaflags_label,
    callerid_merge,
    disposition_label,
    format_raw_time,
    format_time,
)
from core.cdr.objects import CdrFlag, CdrState, Instant, Snapshot
from core.channel import ChannelState
from core.events import (
    ChannelCreated,
    ChannelHungUp,
    ChannelsBridged,
    ChannelStateChanged,
    ChannelsUnbridged,
    DialBegin,
    DialEnd,
    Event,
    EventBus,
    NewExtension,
    Subscription,
)

if TYPE_CHECKING:
    from core.callerid import CallerId
    from core.channel import Channel

log = logging.getLogger("centralita.cdr")


class CdrBackend(Protocol):
    """Where records go (``ast_cdr_register``'s callback).  ``write`` must be durable when it returns."""

    def write(self, record: CdrRecord) -> None:
        """Store one record."""

    def close(self) -> None:
        """Release files and connections."""


class CdrFieldError(ValueError):
    """``CDR(field)=value`` on a read-only field (``ast_cdr_setvar``'s "read-only variable" error)."""

    def __init__(self, field: str) -> None:
        super().__init__(f"Attempt to set the '{field}' read-only variable")
        self.field = field


# cdr_readonly_vars in main/cdr.c, minus the three that CDR() writes elsewhere (accountcode, amaflags,
# userfield); peeraccount is accepted and ignored.
READ_ONLY_FIELDS = frozenset({
    "clid", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp", "lastdata", "start", "answer",
    "end", "duration", "billsec", "disposition", "uniqueid", "linkedid", "sequence",
})
_TIME_FIELDS = ("start", "answer", "end")
# Dial progress statuses are not the end of a dial attempt.
_DIAL_PROGRESS = frozenset({"", "RINGING", "PROCEEDING", "PROGRESS"})
_EVENTS: tuple[type[Event], ...] = (ChannelCreated, ChannelStateChanged, NewExtension, DialBegin, DialEnd,
                                    ChannelsBridged, ChannelsUnbridged, ChannelHungUp)


@dataclass(slots=True)
class _Tracked:
    """What the engine knows of one channel between its events."""

    name: str
    uniqueid: str
    created: float
    context: str
    exten: str
    caller: CallerId
    state: ChannelState
    amaflags: int
    priority: int = 1
    appl: str = ""
    data: str = ""
    linkedid: str = ""
    accountcode: str = ""
    dnid: str = ""
    cause: int = 0
    hangup_exec: bool = False
    hung_up: bool = False
    dead: bool = False
    bridge: str | None = None
    # The last snapshot made and what it was made of: most events change nothing in it.
    last_snapshot: Snapshot | None = field(default=None, repr=False, compare=False)
    last_fields: tuple[object, ...] = field(default=(), repr=False, compare=False)


class CdrView:
    """``CDR(name[,options])`` on one channel: reads the channel's current (last) record.

    Implements :class:`core.dialplan.runtime.CdrAccess`.  Reads follow ``cdr_read_callback`` in
    ``funcs/func_cdr.c``; writes follow ``cdr_write``.
    """

    def __init__(self, engine: CdrEngine, channel_name: str) -> None:
        self._engine = engine
        self.channel_name = channel_name

    def get(self, name: str, *, raw: bool = False, fractional: bool = False) -> str | None:
        """A field or custom variable of the current record; None for an unknown variable or no record.

        ``raw`` (option ``u``): times as ``seconds.microseconds``, ``disposition`` and ``amaflags`` as
        numbers.  ``fractional`` (option ``f``): ``billsec``/``duration`` with microseconds (``%lf``).
        """
        return self._engine._read(self.channel_name, name, raw=raw, fractional=fractional)

    def set(self, name: str, value: str) -> None:
        """Set ``accountcode``, ``amaflags``, ``userfield`` or a custom variable.

        Raises :class:`CdrFieldError` (a ``ValueError``) for the read-only fields.
        """
        self._engine._write(self.channel_name, name, value)


class CdrEngine:
    """Builds call detail records from bus events and writes them to ``backends``.

    ``wallclock`` gives the times records show; ``monotonic`` the durations (so a clock step while a
    call is up cannot make a call last minus an hour).  ``runs_hangup_logic`` is described in the module
    docstring.  ``channel_amaflags`` reads a channel's AMA flags where the dialplan keeps them
    (``CHANNEL(amaflags)``); without it the engine keeps them itself (:meth:`set_amaflags`).
    """

    def __init__(
        self,
        bus: EventBus,
        channel_lookup: Callable[[str], Channel | None],
        backends: Sequence[CdrBackend],
        *,
        wallclock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        options: CdrOptions | None = None,
        runs_hangup_logic: Callable[[str], bool] | None = None,
        channel_amaflags: Callable[[Channel], int] | None = None,
    ) -> None:
        options = options or CdrOptions()
        self.options = options
        self.backends = list(backends)
        self._lookup = channel_lookup
        self._wallclock = wallclock
        self._monotonic = monotonic
        self._runs_hangup_logic = runs_hangup_logic
        self._channel_amaflags = channel_amaflags
        self._machine = CdrMachine(options, self._now)
        self._channels: dict[str, _Tracked] = {}
        # The same channels by lower-case name, oldest first: events name channels, and a scan of every
        # live channel per event made the engine's cost grow with the number of calls up.
        self._names: dict[str, list[_Tracked]] = {}
        self._bridges: dict[str, list[str]] = {}
        self.records_written = 0
        self._closed = False
        self._subscriptions: list[Subscription] = []
        if options.enabled:
            self._subscriptions.append(bus.subscribe(self._on_event, *_EVENTS))

    # -- public API: the dialplan's view ---------------------------------------------------------------

    def current(self, channel_name: str) -> CdrView | None:
        """The ``CDR()`` view of a channel, or None when the channel has no record (engine disabled,
        unknown channel, or records already written).  A channel under ``NoCDR()`` still has one: its
        records are only not written, as in Asterisk."""
        if self._sync(channel_name) is None or self._machine.chain_of(channel_name) is None:
            return None
        return CdrView(self, channel_name)

    def fork(self, channel_name: str, options: str = "") -> None:
        """``ForkCDR([a][e][r][v])``: start a new record (refused, with a warning, once the last one is
        finished).

        ``a``: answer time now if the channel is up; ``e``: end the current records; ``r``: start and
        answer time now; ``v``: the new record keeps the CDR variables (without it, it starts empty —
        what ``app_forkcdr.c`` does, whatever its documentation says).
        """
        self._sync(channel_name)
        flags = CdrFlag.NONE
        for letter, flag in (("a", CdrFlag.SET_ANSWER), ("e", CdrFlag.FINALIZE), ("r", CdrFlag.RESET),
                             ("v", CdrFlag.KEEP_VARS)):
            if letter in options:
                flags |= flag
        if not self._machine.fork(channel_name, flags):
            log.warning("Failed to fork CDR for channel %s", channel_name)

    def disable(self, channel_name: str) -> None:
        """``NoCDR()`` = ``CDR_PROP(disable)=1``: the channel's records (and later ones) are not written."""
        if not self.set_property(channel_name, "disable", True):
            log.warning("Failed to disable CDRs on channel %s", channel_name)

    def reset(self, channel_name: str, options: str = "") -> None:
        """``ResetCDR([v][e])``: start and answer times restart now; variables are wiped unless ``v``;
        ``e`` re-enables records after ``NoCDR()``."""
        self._sync(channel_name)
        if "e" in options:
            self._machine.clear_property(channel_name, CdrFlag.DISABLE_ALL)
        if not self._machine.reset(channel_name, keep_variables="v" in options):
            log.warning("Failed to reset CDRs on channel %s", channel_name)

    def set_property(self, channel_name: str, prop: str, enabled: bool) -> bool:
        """``CDR_PROP(party_a|disable)=value``; False for an unknown property or channel."""
        flag = {"party_a": CdrFlag.PARTY_A, "disable": CdrFlag.DISABLE_ALL}.get(prop.lower())
        if flag is None:
            log.warning("Unknown option %s used with CDR_PROP", prop)
            return False
        self._sync(channel_name)
        if enabled:
            return self._machine.set_property(channel_name, flag)
        return self._machine.clear_property(channel_name, flag)

    def amaflags(self, channel_name: str) -> int:
        """The channel's AMA flags (``CHANNEL(amaflags)``); the default for unknown channels."""
        tracked = self._by_name(channel_name)
        return tracked.amaflags if tracked is not None else self.options.default_amaflags

    def set_amaflags(self, channel_name: str, value: int) -> None:
        """Set the channel's AMA flags (``CHANNEL(amaflags)=``, ``CDR(amaflags)=``); with a
        ``channel_amaflags`` reader the channel's own value wins at the next update."""
        tracked = self._by_name(channel_name)
        if tracked is not None:
            tracked.amaflags = value
            self._sync(channel_name)

    def hangup_logic_done(self, channel_name: str) -> None:
        """The channel finished its hangup logic: its records are written now."""
        tracked = self._by_name(channel_name)
        if tracked is not None and tracked.hung_up and not tracked.dead:
            self._destroy(tracked)

    def close(self) -> None:
        """Stop following events, write the records of channels still up (as Asterisk does at
        shutdown) and close the backends."""
        if self._closed:
            return
        self._closed = True
        for subscription in self._subscriptions:
            subscription.cancel()
        for tracked in list(self._channels.values()):
            self._machine.update(self._snapshot(tracked))
            self._post(self._machine.finalize_all(tracked.uniqueid))
        self._channels.clear()
        self._names.clear()
        for backend in self.backends:
            try:
                backend.close()
            except Exception:
                log.exception("CDR backend %r failed to close", backend)

    # -- bus events -----------------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if isinstance(event, ChannelCreated):
            self._on_created(event)
        elif isinstance(event, ChannelStateChanged):
            self._on_state(event)
        elif isinstance(event, NewExtension):
            self._on_new_extension(event)
        elif isinstance(event, DialBegin):
            self._on_dial_begin(event)
        elif isinstance(event, DialEnd):
            self._on_dial_end(event)
        elif isinstance(event, ChannelsBridged):
            self._on_bridged(event)
        elif isinstance(event, ChannelsUnbridged):
            self._on_unbridged(event)
        elif isinstance(event, ChannelHungUp):
            self._on_hung_up(event)

    def _on_created(self, event: ChannelCreated) -> None:
        if event.uniqueid in self._channels:
            return
        now = self._now()
        tracked = _Tracked(name=event.channel, uniqueid=event.uniqueid, created=now.mono,
                           context=event.context, exten=event.exten, caller=event.caller, state=event.state,
                           amaflags=self.options.default_amaflags, linkedid=event.uniqueid)
        self._channels[event.uniqueid] = tracked
        self._names.setdefault(event.channel.lower(), []).append(tracked)
        self._machine.create(self._snapshot(tracked))

    def _on_state(self, event: ChannelStateChanged) -> None:
        tracked = self._tracked(event.channel, event.uniqueid)
        if tracked is None:
            return
        tracked.state = event.new
        self._machine.update(self._snapshot(tracked))

    def _on_new_extension(self, event: NewExtension) -> None:
        tracked = self._tracked(event.channel, event.uniqueid)
        if tracked is None:
            return
        if tracked.bridge is not None:
            # Running dialplan means it is no longer in the bridge.
            self._leave_bridge(tracked)
        tracked.context, tracked.exten, tracked.priority = event.context, event.exten, event.priority
        tracked.appl, tracked.data = event.application, event.data
        if event.exten == "h" or tracked.hung_up:
            tracked.hangup_exec = True
        self._machine.update(self._snapshot(tracked))

    def _on_dial_begin(self, event: DialBegin) -> None:
        peer = self._tracked(event.destination, event.destination_uniqueid)
        if peer is None:
            return
        caller = self._tracked(event.channel, event.uniqueid) if event.channel else None
        if caller is not None:
            self._machine.dialed.add(peer.uniqueid)
        peer_snapshot = self._snapshot(peer)
        self._machine.update(peer_snapshot)
        self._machine.dial_begin(self._snapshot(caller) if caller is not None else None, peer_snapshot)

    def _on_dial_end(self, event: DialEnd) -> None:
        status = event.dialstatus.upper()
        if status in _DIAL_PROGRESS:
            return
        peer = self._tracked(event.destination, event.destination_uniqueid)
        if peer is None:
            return
        caller = self._tracked(event.channel, event.uniqueid) if event.channel else None
        self._machine.dial_end(self._snapshot(caller) if caller is not None else None, self._snapshot(peer),
                               status)

    def _on_bridged(self, event: ChannelsBridged) -> None:
        members = self._bridges.setdefault(event.bridge, [])
        for name in event.channels:
            tracked = self._by_name(name)
            if tracked is None or tracked.uniqueid in members:
                continue
            if tracked.bridge is not None:
                self._leave_bridge(tracked)
            members.append(tracked.uniqueid)
            tracked.bridge = event.bridge
            self._machine.bridge_enter(event.bridge, list(members), self._snapshot(tracked))

    def _on_unbridged(self, event: ChannelsUnbridged) -> None:
        tracked = self._by_name(event.channel)
        if tracked is not None and tracked.bridge == event.bridge:
            self._leave_bridge(tracked)

    def _on_hung_up(self, event: ChannelHungUp) -> None:
        tracked = self._channels.get(event.uniqueid) or self._by_name(event.channel)
        if tracked is None or tracked.hung_up:
            return
        tracked.hung_up = True
        tracked.cause = int(event.cause)
        tracked.state = ChannelState.DOWN
        if tracked.bridge is not None:
            self._leave_bridge(tracked)
        if self._runs_hangup_logic is not None and self._runs_hangup_logic(tracked.name):
            tracked.hangup_exec = True
            self._machine.update(self._snapshot(tracked))
            return
        self._destroy(tracked)

    # -- internals ------------------------------------------------------------------------------------

    def _now(self) -> Instant:
        return Instant(self._wallclock(), self._monotonic())

    def _by_name(self, name: str) -> _Tracked | None:
        same = self._names.get(name.lower())
        return same[0] if same else None

    def _forget(self, tracked: _Tracked) -> None:
        self._channels.pop(tracked.uniqueid, None)
        key = tracked.name.lower()
        same = self._names.get(key, [])
        kept = [other for other in same if other is not tracked]
        if kept:
            self._names[key] = kept
        else:
            self._names.pop(key, None)

    def _tracked(self, name: str, uniqueid: str) -> _Tracked | None:
        """The channel of an event; one the engine has not seen yet is picked up from now on."""
        tracked = self._channels.get(uniqueid) if uniqueid else None
        if tracked is None:
            tracked = self._by_name(name)
        if tracked is not None:
            return tracked if not tracked.dead else None
        channel = self._live(name)
        if channel is None or channel.is_hungup:
            return None
        log.debug("CDR engine picks up channel %s that it did not see created", name)
        self._on_created(ChannelCreated(channel.name, channel.uniqueid, channel.state, channel.caller,
                                        channel.context, channel.exten))
        return self._channels.get(channel.uniqueid)

    def _live(self, name: str) -> Channel | None:
        channel = self._lookup(name)
        if channel is None or channel.name != name:
            return None
        return channel

    def _snapshot(self, tracked: _Tracked) -> Snapshot:
        channel = self._live(tracked.name)
        if channel is not None and channel.uniqueid == tracked.uniqueid:
            tracked.caller = channel.caller
            tracked.accountcode = channel.accountcode
            tracked.linkedid = channel.linkedid or tracked.uniqueid
            tracked.dnid = channel.dnid
            if not tracked.hung_up:
                tracked.state = channel.state
            if channel.hangup_cause is not None:
                tracked.cause = int(channel.hangup_cause)
            if self._channel_amaflags is not None:
                tracked.amaflags = self._channel_amaflags(channel)
        caller = tracked.caller
        fields = (tracked.name, tracked.uniqueid, tracked.linkedid, caller.name, caller.number, tracked.dnid,
                  tracked.accountcode, tracked.amaflags, tracked.context, tracked.exten, tracked.priority,
                  tracked.appl, tracked.data, tracked.state, tracked.cause, tracked.created, tracked.hangup_exec,
                  tracked.dead)
        last = tracked.last_snapshot
        if last is not None and fields == tracked.last_fields:
            return last
        snapshot = Snapshot(*fields)  # the fields in Snapshot's order
        tracked.last_snapshot = snapshot
        tracked.last_fields = fields
        return snapshot

    def _sync(self, channel_name: str) -> _Tracked | None:
        """Bring the records up to date with the live channel (Asterisk publishes a snapshot for every
        change; here caller ID or account code may change without an event)."""
        tracked = self._by_name(channel_name)
        if tracked is None or tracked.dead:
            return None
        snapshot = self._snapshot(tracked)
        if snapshot != self._machine.previous.get(tracked.uniqueid):
            self._machine.update(snapshot)
        return tracked

    def _leave_bridge(self, tracked: _Tracked) -> None:
        bridge = tracked.bridge
        if bridge is None:
            return
        tracked.bridge = None
        members = self._bridges.get(bridge, [])
        if tracked.uniqueid in members:
            members.remove(tracked.uniqueid)
        if not members:
            self._bridges.pop(bridge, None)
        self._machine.bridge_leave(bridge, self._snapshot(tracked))

    def _destroy(self, tracked: _Tracked) -> None:
        tracked.dead = True
        self._machine.update(self._snapshot(tracked))
        records = self._machine.destroy(tracked.uniqueid)
        self._forget(tracked)
        self._post(records)

    def _post(self, records: list[tuple[CdrRecord, bool]]) -> None:
        # post_cdr: unanswered records without both parties only with "unanswered"; disabled never.
        for record, disabled in records:
            if (not self.options.unanswered and record.disposition < Disposition.ANSWERED
                    and (not record.channel or not record.dstchannel)):
                log.debug("Skipping CDR for %s since we weren't answered", record.channel)
                continue
            if disabled:
                continue
            for backend in self.backends:
                try:
                    backend.write(record)
                except Exception:
                    log.exception("CDR backend %r failed to write the record of %s", backend, record.channel)
            self.records_written += 1

    def _read(self, channel_name: str, name: str, *, raw: bool, fractional: bool) -> str | None:
        self._sync(channel_name)
        chain = self._machine.chain_of(channel_name)
        if chain is None:
            return None
        cdr = chain[-1]
        key = name.lower()
        if fractional and key in ("billsec", "duration"):
            begin = cdr.answer if key == "billsec" else cdr.start
            finish = cdr.end or self._now()
            return f"{0.0 if begin is None else finish.mono - begin.mono:.6f}"
        a = cdr.party_a.snapshot
        b = cdr.party_b.snapshot if cdr.party_b is not None else None
        # cdr_object_format_property: the Party A snapshot as it is now, not the locked record fields.
        fields: dict[str, Callable[[], str]] = {
            "clid": lambda: callerid_merge(a.caller_name, a.caller_number),
            "src": lambda: a.caller_number,
            "dst": lambda: a.exten,
            "dcontext": lambda: a.context,
            "channel": lambda: a.name,
            "dstchannel": lambda: b.name if b is not None else "",
            "lastapp": lambda: a.appl,
            "lastdata": lambda: a.data,
            "duration": lambda: str(self._machine.duration(cdr)),
            "billsec": lambda: str(self._machine.billsec(cdr)),
            "accountcode": lambda: a.accountcode,
            "peeraccount": lambda: b.accountcode if b is not None else "",
            "uniqueid": lambda: a.uniqueid,
            "linkedid": lambda: cdr.linkedid,
            "userfield": lambda: cdr.party_a.userfield,
            "sequence": lambda: str(cdr.sequence),
        }
        if key in _TIME_FIELDS:
            moment = {"start": cdr.start, "answer": cdr.answer, "end": cdr.end}[key]
            epoch = moment.wall if moment is not None else None
            return format_raw_time(epoch) if raw else format_time(epoch)
        if key == "disposition":
            return str(int(cdr.disposition)) if raw else disposition_label(cdr.disposition)
        if key == "amaflags":
            return str(a.amaflags) if raw else amaflags_label(a.amaflags)
        getter = fields.get(key)
        if getter is not None:
            return getter()
        return cdr.party_a.variable(name)

    def _write(self, channel_name: str, name: str, value: str) -> None:
        key = name.lower()
        tracked = self._sync(channel_name)
        if key == "accountcode":
            log.warning("Using the CDR function to set 'accountcode' is deprecated. "
                        "Please use the CHANNEL function instead.")
            channel = self._live(channel_name)
            if channel is not None:
                channel.accountcode = value
            elif tracked is not None:
                tracked.accountcode = value
            self._sync(channel_name)
        elif key == "amaflags":
            log.warning("Using the CDR function to set 'amaflags' is deprecated. "
                        "Please use the CHANNEL function instead.")
            self.set_amaflags(channel_name, AmaFlags.parse(value))
        elif key == "peeraccount":
            log.warning("The 'peeraccount' setting is not supported. Please set the 'accountcode' on the "
                        "appropriate channel using the CHANNEL function.")
        elif key == "userfield":
            self._machine.set_userfield(channel_name, value)
        elif key in READ_ONLY_FIELDS:
            raise CdrFieldError(name)
        else:
            self._machine.set_variable(channel_name, name, value)

    def describe(self, channel_name: str) -> list[str]:
        """One line per live record of the channel (state, parties), for debugging and tests."""
        chain = self._machine.chain_of(channel_name) or []
        return [
            f"{cdr.state.value} {cdr.party_a.snapshot.name} -> "
            f"{cdr.party_b.snapshot.name if cdr.party_b else '<none>'}"
            for cdr in chain
        ]


__all__ = ["CdrBackend", "CdrEngine", "CdrFieldError", "CdrView", "CdrState", "READ_ONLY_FIELDS"]
