"""The loaded dialplan: contexts, extensions, priorities, includes, as ``pbx_config`` builds them.

This is the data every other dialplan module works on: the loader (``loader.py``) builds it from
``extensions.conf``, ``dialplan show`` (``show.py``) renders it, the matcher (``pattern.py``) indexes its
extensions and the executor runs its priorities.  It is plain data: no matching, no substitution.

Positions: every entry keeps ``file`` (the path of the file its line is in, for messages) and ``line``.
A priority also keeps ``registrar_file``, the file name Asterisk 20 prints in ``dialplan show``'s
``[extensions.conf:12]`` column (``pbx_load_config`` in ``pbx/pbx_config.c`` passes the name after the
last ``/`` to ``ast_add_extension2``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

PRIORITY_HINT = -1
"""Asterisk stores a hint as the extension's priority -1 (``exten => 1001,hint,SIP/1001``)."""

REGISTRAR = "pbx_config"
"""The registrar ``pbx_config`` gives everything it loads (``dialplan show``'s ``created by 'pbx_config'``)."""


def clean_extension_name(name: str) -> str:
    """Asterisk's "clean" extension id: ``name`` without ``-`` outside a pattern's ``[...]`` sets.

    ``ast_add_extension2_lockopt`` keeps both: ``name`` (what ``dialplan show`` prints, "eye candy"
    dashes included) and ``exten`` (this, used to sort and match).  Spaces were already removed from
    both (``ext_strncpy`` in ``main/pbx.c``).
    """
    if "-" not in name:
        return name
    if not name.startswith("_"):
        return name.replace("-", "")
    out: list[str] = []
    in_set = False
    for ch in name:
        if ch == "[":
            in_set = True
        elif ch == "]":
            in_set = False
        elif ch == "-" and not in_set:
            continue
        out.append(ch)
    return "".join(out)


@dataclass(slots=True)
class Priority:
    """One step of an extension: ``exten => 600,n(label),App(data)``.

    ``app`` and ``data`` are exactly what ``pbx_config`` stores (and ``dialplan show`` prints as
    ``N. app(data)``); for a hint ``app`` is the device list.  ``label`` is None when there is none or
    when Asterisk dropped it as a repeat of a label of the same extension.
    """

    number: int
    app: str
    data: str
    label: str | None = None
    file: str = ""
    line: int = 0
    registrar_file: str | None = None
    registrar: str = REGISTRAR

    @property
    def is_hint(self) -> bool:
        """True for a hint (``priority == -1``); ``app`` then holds the device list."""
        return self.number == PRIORITY_HINT


@dataclass(slots=True)
class Extension:
    """An extension name (or pattern such as ``_X.``) with an optional caller-ID match, and its priorities.

    ``name`` is what Asterisk shows (``_1-800-NXX-XXXX``; spaces removed), ``exten`` the clean id
    (``_1800NXXXXXX``) that ordering and matching use.  Asterisk treats ``123/_100X`` as its own
    extension, distinct from plain ``123``; ``cid`` is that caller-ID pattern (None: no caller-ID
    match; ``""`` is a real, empty one).  ``labels`` maps a label to its priority as Asterisk's label
    table does: the first priority registered with a label keeps it.
    """

    name: str
    cid: str | None = None
    priorities: dict[int, Priority] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)
    exten: str = ""

    def __post_init__(self) -> None:
        if not self.exten:
            self.exten = clean_extension_name(self.name)

    @property
    def hint(self) -> Priority | None:
        """The hint entry, if any."""
        return self.priorities.get(PRIORITY_HINT)

    def sorted_priorities(self) -> list[Priority]:
        """Priorities in execution order (the hint first, as Asterisk lists it)."""
        return [self.priorities[n] for n in sorted(self.priorities)]


@dataclass(slots=True)
class Include:
    """``include => other[,times,weekdays,mdays,months[,timezone]]``.

    ``text`` is the whole (variable-substituted) value, which is the include's name in Asterisk
    (``dialplan show`` prints it, duplicates are detected on it); ``context`` is the part before the
    first comma and ``timing`` the rest, or None without a comma (``include_alloc`` in
    ``main/pbx_include.c``).
    """

    text: str
    context: str
    timing: str | None = None
    file: str = ""
    line: int = 0
    registrar: str = REGISTRAR


@dataclass(slots=True)
class IgnorePattern:
    """``ignorepat => 9``: dial tone stays on after these digits (``ast_context_add_ignorepat2``)."""

    pattern: str
    file: str = ""
    line: int = 0
    registrar: str = REGISTRAR


@dataclass(slots=True)
class Switch:
    """``switch => IAX2/user@host/context``: ``name`` before the first ``/``, ``data`` after it.

    ``kind`` is ``switch``, ``lswitch`` or ``eswitch``; ``eval`` is True for ``eswitch`` (data is
    substituted when the switch is used rather than at load time, ``ast_context_add_switch2``).
    """

    name: str
    data: str
    kind: str = "switch"
    eval: bool = False
    file: str = ""
    line: int = 0
    registrar: str = REGISTRAR


@dataclass(slots=True)
class Context:
    """A ``[context]``: its extensions (in the order they were first defined), includes, ignore patterns, switches.

    Asterisk orders the extensions by ``ext_cmp``; that order is the matcher's and ``dialplan show``'s
    business (``core.dialplan.pattern``).  ``autohints`` is the context's ``autohints = yes``.
    """

    name: str
    extensions: list[Extension] = field(default_factory=list)
    includes: list[Include] = field(default_factory=list)
    ignorepats: list[IgnorePattern] = field(default_factory=list)
    switches: list[Switch] = field(default_factory=list)
    registrar: str = REGISTRAR
    autohints: bool = False
    file: str = ""
    line: int = 0

    def extension(self, name: str, cid: str | None = None) -> Extension | None:
        """The extension with this name (as written, or its clean id) and caller-ID match, if any."""
        for ext in self.extensions:
            if (ext.name == name or ext.exten == name) and ext.cid == cid:
                return ext
        return None


@dataclass(slots=True)
class GlobalVariable:
    """One line of ``[globals]``: ``value`` after load-time substitution, ``raw`` as written."""

    name: str
    value: str
    raw: str
    file: str = ""
    line: int = 0


@dataclass(slots=True)
class Dialplan:
    """Every context plus ``[general]`` and ``[globals]``, as loaded from one ``extensions.conf`` tree.

    ``contexts`` is in creation order (first appearance of the ``[name]``); Asterisk keeps its context
    list newest first, which is the order ``dialplan show`` prints.  The ``[general]`` settings carry
    ``pbx_config``'s defaults when absent.
    """

    contexts: dict[str, Context] = field(default_factory=dict)
    globals: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    global_variables: list[GlobalVariable] = field(default_factory=list)
    static: bool = False
    writeprotect: bool = False
    autofallthrough: bool = True
    clearglobalvars: bool = False
    extenpatternmatchnew: bool = False
    userscontext: str = "default"
    overrideswitch: str | None = None

    def context(self, name: str) -> Context | None:
        """The context called exactly ``name`` (context names are case-sensitive in Asterisk)."""
        return self.contexts.get(name)

    @property
    def context_count(self) -> int:
        """Contexts (``dialplan show``'s K: empty ones count too)."""
        return len(self.contexts)

    @property
    def extension_count(self) -> int:
        """Extensions in all contexts (``dialplan show``'s N)."""
        return sum(len(c.extensions) for c in self.contexts.values())

    @property
    def priority_count(self) -> int:
        """Priorities in all extensions, hints included (``dialplan show``'s M)."""
        return sum(len(e.priorities) for c in self.contexts.values() for e in c.extensions)
