"""What substitution, expressions, functions and applications see of a running call.

:class:`EvalContext` is the interface ``${...}`` substitution and the dialplan functions work against;
the executor's per-call state implements it, and so does the scratch context of ``dialplan eval``.
Keeping it a Protocol lets the function library be tested without the executor and lets the executor
change without touching every function.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from core.channel import Channel
    from core.dialplan.model import Dialplan


class CdrAccess(Protocol):
    """The current call detail record, as ``CDR()`` reads and writes it (see ``core/cdr``)."""

    def get(self, name: str, *, raw: bool = False) -> str | None:
        """A field (``src``, ``disposition``, ``billsec``, ...) or a custom variable; None if unknown.

        ``raw`` gives the unformatted value (epoch seconds for times, the number for ``amaflags`` and
        ``disposition``), as ``CDR(name,u)`` does.
        """

    def set(self, name: str, value: str) -> None:
        """Set a writable field (``accountcode``, ``userfield``, ``amaflags``, ...) or a custom variable.

        Raises ``ValueError`` for read-only fields.
        """


class AstDbAccess(Protocol):
    """Asterisk's key/value database (``DB()`` and friends), persisted in SQLite."""

    def get(self, family: str, key: str) -> str | None:
        """The value at ``/family/key``, or None."""

    def put(self, family: str, key: str, value: str) -> None:
        """Store a value (durable when this returns)."""

    def delete(self, family: str, key: str) -> str | None:
        """Remove ``/family/key`` and return the value it had, or None if there was none."""

    def delete_tree(self, family: str, keytree: str | None = None) -> int:
        """Remove every key under ``/family[/keytree]``; returns how many were removed."""

    def keys(self, family: str) -> list[str]:
        """The keys directly under ``/family`` (``DB_KEYS``), sorted."""


class CdrControl(Protocol):
    """What the executor and the CDR applications need of the CDR engine (``core/cdr``)."""

    def current(self, channel_name: str) -> CdrAccess | None:
        """The channel's current record, for ``CDR()``."""

    def fork(self, channel_name: str, options: str = "") -> None:
        """``ForkCDR([options])``."""

    def disable(self, channel_name: str) -> None:
        """``NoCDR()``."""

    def reset(self, channel_name: str, options: str = "") -> None:
        """``ResetCDR([options])``."""

    def hangup_logic_done(self, channel_name: str) -> None:
        """The channel's dialplan (``h`` included) has finished: its records may be written."""


@dataclass(slots=True)
class GosubFrame:
    """One ``Gosub`` level: where to return, and the variables to restore on ``Return``.

    ``LOCAL(name)=value`` and the ``ARGn`` arguments are ordinary channel variables while the
    subroutine runs; ``saved`` holds what they were before (None: did not exist), as Asterisk does.
    """

    return_context: str
    return_exten: str
    return_priority: int
    saved: dict[str, str | None] = field(default_factory=dict)
    arg_count: int = 0
    special: bool = False  # run by the system (Dial's U option): Return ends that run

    def localize(self, variables: MutableMapping[str, str], name: str) -> None:
        """Remember ``name``'s current value (once) so that ``Return`` restores it."""
        if name not in self.saved:
            self.saved[name] = variables.get(name)

    def restore(self, variables: MutableMapping[str, str]) -> None:
        """Put every localized variable back as it was."""
        for name, value in self.saved.items():
            if value is None:
                variables.pop(name, None)
            else:
                variables[name] = value


@dataclass(slots=True)
class DialplanOptions:
    """Switches that configuration controls (dangerous applications are off by default)."""

    allow_system: bool = False
    allow_exec_include: bool = False
    allow_env_read: bool = True
    system_name: str = ""


class EvalContext(Protocol):
    """What ``${...}`` substitution and dialplan functions need from the call being evaluated."""

    @property
    def channel(self) -> Channel:
        """The channel: variables (``channel.variables``), caller ID, context/exten/priority, cause."""

    @property
    def dialplan(self) -> Dialplan | None:
        """The running dialplan (for ``HINT``, ``DIALPLAN_EXISTS``); None when none is loaded."""

    @property
    def globals(self) -> MutableMapping[str, str]:
        """The ``[globals]`` variables, shared by every call (``GLOBAL()`` writes here)."""

    @property
    def local_frame(self) -> GosubFrame | None:
        """The innermost ``Gosub`` frame (for ``LOCAL()``), or None outside a Gosub."""

    @property
    def cdr(self) -> CdrAccess | None:
        """The channel's current CDR, or None (``NoCDR()`` or none attached)."""

    @property
    def astdb(self) -> AstDbAccess | None:
        """The AstDB, or None when unavailable."""

    @property
    def options(self) -> DialplanOptions:
        """Configuration switches."""

    def wallclock(self) -> float:
        """Seconds since the epoch (an injectable clock: tests pass a fixed one)."""


@dataclass(slots=True)
class SimpleEvalContext:
    """A self-contained :class:`EvalContext` for ``dialplan eval``, tests and scratch evaluations."""

    channel: Channel
    dialplan: Dialplan | None = None
    globals: MutableMapping[str, str] = field(default_factory=dict)
    local_frame: GosubFrame | None = None
    cdr: CdrAccess | None = None
    astdb: AstDbAccess | None = None
    options: DialplanOptions = field(default_factory=DialplanOptions)
    clock: Callable[[], float] | None = None

    def wallclock(self) -> float:
        if self.clock is not None:
            return self.clock()
        import time

        return time.time()
