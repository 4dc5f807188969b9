"""The CDR objects of live channels: their states, flags, parties and the snapshots they hold.

These are the data of Asterisk 12+'s CDR engine (``struct cdr_object``, ``struct cdr_object_snapshot``,
``enum ast_cdr_options`` in ``main/cdr.c`` and ``include/asterisk/cdr.h``); how they change is
:mod:`core.cdr.machine`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from core.cdr.model import Disposition
from core.channel import ChannelState


class CdrState(enum.Enum):
    """The states of one CDR object (the ``*_state_fn_table`` tables of ``main/cdr.c``)."""

    SINGLE = "Single"
    DIAL = "Dial"
    DIALED_PENDING = "DialedPending"
    BRIDGED = "Bridged"
    FINALIZED = "Finalized"


class CdrFlag(enum.IntFlag):
    """``enum ast_cdr_options``: flags on a CDR object or on one of its parties."""

    NONE = 0
    KEEP_VARS = 1 << 0
    DISABLE = 1 << 1
    DISABLE_ALL = 3 << 1
    PARTY_A = 1 << 3
    FINALIZE = 1 << 4
    SET_ANSWER = 1 << 5
    RESET = 1 << 6
    LOCK_APP = 1 << 7


@dataclass(frozen=True, slots=True)
class Instant:
    """A moment: wall-clock epoch seconds (what records show) and monotonic seconds (what durations use)."""

    wall: float
    mono: float


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the CDR engine knows of a channel at one moment (``struct ast_channel_snapshot``).

    ``appl``/``data`` are the application the channel is executing; ``cause`` its hangup cause (0 while
    up); ``hangup_exec`` is set while it runs hangup logic (the ``h`` extension); ``dead`` once it is gone.
    ``created`` is the channel's creation time (monotonic), used to choose Party A.
    """

    name: str
    uniqueid: str
    linkedid: str
    caller_name: str
    caller_number: str
    dnid: str
    accountcode: str
    amaflags: int
    context: str
    exten: str
    priority: int
    appl: str
    data: str
    state: ChannelState
    cause: int
    created: float
    hangup_exec: bool = False
    dead: bool = False


@dataclass(slots=True)
class Party:
    """One side of a CDR (``struct cdr_object_snapshot``): snapshot, user field, flags, variables.

    Variables are kept by lower-cased name (Asterisk looks them up case-insensitively) with the name as
    it was set.
    """

    snapshot: Snapshot
    userfield: str = ""
    flags: CdrFlag = CdrFlag.NONE
    variables: dict[str, tuple[str, str]] = field(default_factory=dict)

    def copy_from(self, other: Party) -> None:
        """``cdr_object_snapshot_copy``: take ``other``'s snapshot, user field, flags and (non-empty) variables."""
        self.snapshot = other.snapshot
        self.userfield = other.userfield
        self.flags = other.flags
        self.copy_variables(other)

    def copy_variables(self, other: Party) -> None:
        """``copy_variables``: add ``other``'s variables that have a value."""
        for key, (name, value) in other.variables.items():
            if name and value:
                self.variables[key] = (name, value)

    def set_variable(self, name: str, value: str) -> None:
        """``set_variable``: replace ``name`` (any case) with ``value``."""
        self.variables.pop(name.lower(), None)
        self.variables[name.lower()] = (name, value)

    def variable(self, name: str) -> str | None:
        """The value of ``name`` (any case), or None."""
        entry = self.variables.get(name.lower())
        return None if entry is None else entry[1]


@dataclass(slots=True)
class Cdr:
    """One CDR object (``struct cdr_object``)."""

    party_a: Party
    start: Instant
    sequence: int
    uniqueid: str
    linkedid: str
    state: CdrState = CdrState.SINGLE
    party_b: Party | None = None
    disposition: Disposition = Disposition.NULL
    answer: Instant | None = None
    end: Instant | None = None
    flags: CdrFlag = CdrFlag.NONE
    bridge: str = ""
    appl: str = ""
    data: str = ""
    context: str = ""
    exten: str = ""
