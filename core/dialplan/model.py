"""The loaded dialplan: contexts, extensions, priorities, includes, as ``pbx_config`` builds them.

This is the data every other dialplan module works on: the loader (``loader.py``) builds it from
``extensions.conf``, ``dialplan show`` renders it, the matcher (``pattern.py``) indexes its extensions
and the executor runs its priorities.  Positions (``file``, ``line``) are kept so that errors and
``dialplan show`` can point at the source as Asterisk's ``[extensions.conf:12]`` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PRIORITY_HINT = -1
"""Asterisk stores a hint as the extension's priority -1 (``exten => 1001,hint,SIP/1001``)."""


@dataclass(slots=True)
class Priority:
    """One step of an extension: ``exten => 600,n(label),App(data)``."""

    number: int
    app: str
    data: str
    label: str | None = None
    file: str = ""
    line: int = 0

    @property
    def is_hint(self) -> bool:
        """True for a hint (``priority == -1``); ``app`` then holds the device list."""
        return self.number == PRIORITY_HINT


@dataclass(slots=True)
class Extension:
    """An extension name (or pattern such as ``_X.``) with an optional caller-ID match, and its priorities.

    Asterisk treats ``123/_100X`` as its own extension, distinct from plain ``123``.
    """

    name: str
    cid: str | None = None
    priorities: dict[int, Priority] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)

    @property
    def hint(self) -> Priority | None:
        """The hint entry, if any."""
        return self.priorities.get(PRIORITY_HINT)

    def sorted_priorities(self) -> list[Priority]:
        """Priorities in execution order (the hint first, as Asterisk lists it)."""
        return [self.priorities[n] for n in sorted(self.priorities)]


@dataclass(slots=True)
class Include:
    """``include => other[,times,weekdays,mdays,months[,timezone]]``: ``text`` is everything after ``=>``."""

    text: str
    context: str
    timing: str | None = None
    file: str = ""
    line: int = 0


@dataclass(slots=True)
class Context:
    """A ``[context]``: its extensions (in file order; matching order is the matcher's job)."""

    name: str
    extensions: list[Extension] = field(default_factory=list)
    includes: list[Include] = field(default_factory=list)
    ignorepats: list[str] = field(default_factory=list)
    switches: list[str] = field(default_factory=list)
    registrar: str = "pbx_config"
    file: str = ""
    line: int = 0

    def extension(self, name: str, cid: str | None = None) -> Extension | None:
        """The extension with exactly this name (and caller-ID match), if any."""
        for ext in self.extensions:
            if ext.name == name and ext.cid == cid:
                return ext
        return None


@dataclass(slots=True)
class Dialplan:
    """Every context plus the ``[globals]`` variables, as loaded from one ``extensions.conf`` tree."""

    contexts: dict[str, Context] = field(default_factory=dict)
    globals: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    @property
    def extension_count(self) -> int:
        """Extensions in all contexts (``dialplan show``'s N)."""
        return sum(len(c.extensions) for c in self.contexts.values())

    @property
    def priority_count(self) -> int:
        """Priorities in all extensions, hints included (``dialplan show``'s M)."""
        return sum(len(e.priorities) for c in self.contexts.values() for e in c.extensions)
