"""Finding where a call goes: context -> extension -> priority, through includes, as Asterisk searches.

Asterisk's ``pbx_find_extension`` (with its default linear algorithm) looks at a context's own
extensions in ``ext_cmp`` order and takes the first that matches the dialled string *and* the caller ID
*and* has the wanted priority (or label); only when none does, it walks the ``include =>`` list in order
(skipping includes whose time spec does not match now), depth first, never entering a context twice.
:class:`DialplanIndex` does the same over per-context :class:`~core.dialplan.pattern.ExtensionTable`
indexes, so a 10,000-extension context is not scanned linearly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core.dialplan.model import Context, Dialplan, Extension, Priority
from core.dialplan.pattern import ExtensionTable, MatchMode
from core.dialplan.timing import TimeSpec, TimingError

log = logging.getLogger("centralita.dialplan")

MAX_INCLUDE_DEPTH = 128
_MEMO_MAX = 4096
_MATCH = MatchMode.MATCH  # read on every lookup: a global (a member read off its Enum class costs far more)


@dataclass(frozen=True, slots=True)
class Found:
    """Where a lookup landed: the context that holds the extension, the extension, the priority."""

    context: Context
    extension: Extension
    priority: Priority | None


class DialplanIndex:
    """Lookup structures for one loaded :class:`Dialplan` (rebuilt on ``dialplan reload``)."""

    def __init__(self, dialplan: Dialplan) -> None:
        self.dialplan = dialplan
        self._tables: dict[str, ExtensionTable[Extension]] = {}
        for context in dialplan.contexts.values():
            table: ExtensionTable[Extension] = ExtensionTable()
            for extension in context.extensions:
                table.add(extension.name, extension.cid, extension)
            self._tables[context.name] = table
        self._timings: dict[str, TimeSpec | None] = {}
        # Answers of find() (the index is rebuilt, never changed, when the dialplan is reloaded).
        self._memo: dict[tuple[str, str, int | None, str | None, str, MatchMode], Found | None] = {}
        for context in dialplan.contexts.values():
            for include in context.includes:
                if include.timing and include.timing not in self._timings:
                    try:
                        self._timings[include.timing] = TimeSpec.parse(include.timing)
                    except TimingError as exc:
                        log.warning("%s:%d: include %s: %s", include.file, include.line, include.text, exc)
                        self._timings[include.timing] = None

    def context(self, name: str) -> Context | None:
        """The context called ``name``."""
        return self.dialplan.contexts.get(name)

    def find(self, context: str, exten: str, *, priority: int | None = None, label: str | None = None,
             caller: str = "", mode: MatchMode = MatchMode.MATCH, now: float = 0.0) -> Found | None:
        """Asterisk's search for ``exten`` from ``context``.

        With ``priority`` (or ``label``) the extension must have it; with neither, any matching extension
        will do (``mode`` then decides between MATCH, CANMATCH and MATCHMORE).
        """
        return self._find(context, exten, priority, label, caller, mode, now)

    def find_priority(self, context: str, exten: str, priority: int, caller: str, now: float) -> Found | None:
        """:meth:`find` with a ``priority`` and no label, its arguments positional: what running the dialplan
        asks at every priority of every call (CPython 3.11 matches each keyword argument by name, several
        hundred instructions apiece).  The same answers, from the same memo."""
        return self._find(context, exten, priority, None, caller, _MATCH, now)

    def _find(self, context: str, exten: str, priority: int | None, label: str | None, caller: str,
              mode: MatchMode, now: float) -> Found | None:
        if self._timings:
            # A timed include makes the answer depend on ``now``: search every time.
            return self._search(context, exten, priority, label, caller, mode, now, [])
        key = (context, exten, priority, label, caller, mode)
        memo = self._memo
        try:
            return memo[key]
        except KeyError:
            pass
        found = self._search(context, exten, priority, label, caller, mode, now, [])
        if len(memo) >= _MEMO_MAX:
            memo.clear()
        memo[key] = found
        return found

    def _search(self, context_name: str, exten: str, priority: int | None, label: str | None, caller: str,
                mode: MatchMode, now: float, stack: list[str]) -> Found | None:
        if context_name in stack or len(stack) >= MAX_INCLUDE_DEPTH:
            return None
        context = self.dialplan.contexts.get(context_name)
        table = self._tables.get(context_name)
        if context is None or table is None:
            return None
        def accept(extension: Extension) -> bool:
            if label is not None:
                return label in extension.labels
            return priority is None or priority in extension.priorities

        result = table.search(exten, caller, mode, accept)
        if result.stop:
            return None  # MATCHMORE reached a "!": Asterisk's answer is final, includes are not tried
        if result.entry is not None:
            extension = result.entry.payload
            if label is not None:
                return Found(context, extension, extension.priorities.get(extension.labels[label]))
            return Found(context, extension, extension.priorities.get(priority) if priority is not None else None)
        stack.append(context_name)
        for include in context.includes:
            if include.timing:
                spec = self._timings.get(include.timing)
                if spec is None or not spec.matches(now):
                    continue
            found = self._search(include.context, exten, priority, label, caller, mode, now, stack)
            if found is not None:
                return found
        return None

    def exists(self, context: str, exten: str, priority: int = 1, caller: str = "", now: float = 0.0) -> bool:
        """``ast_exists_extension``: the extension matches exactly and has ``priority``."""
        return self.find_priority(context, exten, priority, caller, now) is not None

    def can_match(self, context: str, exten: str, caller: str = "", now: float = 0.0) -> bool:
        """``ast_canmatch_extension``: ``exten`` matches, or could with more digits."""
        return self.find(context, exten, priority=1, caller=caller, mode=MatchMode.CANMATCH, now=now) is not None

    def match_more(self, context: str, exten: str, caller: str = "", now: float = 0.0) -> bool:
        """``ast_matchmore_extension``: more digits could still change or complete the match."""
        return self.find(context, exten, priority=1, caller=caller, mode=MatchMode.MATCHMORE, now=now) is not None

    def find_label(self, context: str, exten: str, label: str, caller: str = "", now: float = 0.0) -> int | None:
        """``ast_findlabel_extension``: the priority number of ``label``, or None."""
        found = self.find(context, exten, label=label, caller=caller, now=now)
        return found.priority.number if found is not None and found.priority is not None else None
