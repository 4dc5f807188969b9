"""``dialplan show [[exten@]context]`` exactly as Asterisk 20 prints it.

This reproduces ``handle_show_dialplan``, ``show_dialplan_helper``, ``print_ext`` and
``show_dialplan_helper_extension_output`` of ``main/pbx.c``:

* Contexts are listed newest first: ``ast_context_find_or_create`` puts each new context at the head
  of Asterisk's context list and ``ast_walk_contexts`` walks that list.  A context filter is compared
  case-sensitively.
* Each context: ``[ Context 'name' created by 'pbx_config' ]`` (then ``Autohints support enabled``
  when set), its extensions in ``ext_cmp`` order, then ``Include =>``, ``Ignore pattern =>`` and
  ``Alt. Switch =>`` lines, then a blank line.
* An extension's first line is ``'name' =>`` (or ``'name' (CID match 'cid') =>`` with a trailing
  space) padded to 17 columns, then its lowest priority; further priorities have an empty first column,
  or ``   [label]`` when they have a label (the first priority's label is never shown).  A priority is
  ``N. App(data)`` padded to 45 columns, a hint ``hint: devices``; the last column is
  ``[file:line]`` (``[registrar]`` for entries that did not come from a file).
* ``-= N extensions (M priorities) in K contexts. =-``, with "extension", "priority", "context" for 1.
  Every extension and every priority (hints too) counts; every context shown counts (empty ones too).
* With ``exten@context`` only extensions whose name matches ``exten`` (``ast_extension_match``) are
  shown, a context only when one does, and its includes are searched the same way (shown as
  ``[ Included context ... ]``); ignore patterns show when ``_pattern.`` matches ``exten``; switches
  show even when the context had nothing else to show.  Unknown names end with Asterisk's
  ``There is no existence of ...`` message instead of the totals.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.dialplan.loader import sorted_extensions
from core.dialplan.model import Context, Dialplan, Extension, Priority
from core.dialplan.pattern import MatchMode, extension_matches

__all__ = ["ShowCounts", "render_show", "show_counts"]

AST_PBX_MAX_STACK = 128
"""Include depth ``show_dialplan_helper`` follows for ``exten@context`` (``AST_PBX_MAX_STACK``)."""

_BUF = 1023
"""``show_dialplan_helper`` formats into ``char buf[1024]``: longer text is cut (bytes)."""

_IGNOREPAT_BUF = 79
"""The ``_pattern.`` built for an ignore pattern goes into ``char ignorepat[AST_MAX_EXTENSION]``."""


@dataclass(frozen=True, slots=True)
class ShowCounts:
    """The totals ``dialplan show`` prints: ``-= extensions (priorities) in contexts. =-``.

    ``context_found``/``extension_found`` tell whether the requested context/extension existed (when
    they are False Asterisk prints its error instead of the totals).
    """

    extensions: int
    priorities: int
    contexts: int
    context_found: bool = True
    extension_found: bool = True


def _cut(text: str, limit: int = _BUF) -> str:
    """``snprintf`` into a fixed buffer: at most ``limit`` bytes."""
    if len(text) * 4 <= limit:
        return text
    raw = text.encode("utf-8", "surrogateescape")
    if len(raw) <= limit:
        return text
    return raw[:limit].decode("utf-8", "surrogateescape")


def _pad(text: str, width: int) -> str:
    """``%-Ns``: pad to ``width`` bytes (C counts bytes, not characters)."""
    size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogateescape"))
    return text + " " * (width - size) if size < width else text


def _print_ext(priority: Priority) -> str:
    """``print_ext``: ``hint: devices`` or ``N. App(data)``."""
    if priority.is_hint:
        return _cut(f"hint: {priority.app}")
    return _cut(f"{priority.number}. {priority.app}({priority.data})")


def _output(out: list[str], first: str, second: str, priority: Priority) -> None:
    """``show_dialplan_helper_extension_output``."""
    if priority.registrar_file is not None:
        out.append(f"  {_pad(first, 17)} {_pad(second, 45)} [{priority.registrar_file}:{priority.line}]\n")
    else:
        out.append(f"  {_pad(first, 17)} {_pad(second, 45)} [{priority.registrar}]\n")


class _Walk:
    """One run of ``show_dialplan_helper`` with its ``struct dialplan_counters``."""

    def __init__(self, dialplan: Dialplan) -> None:
        self.dialplan = dialplan
        self.out: list[str] = []
        self.contexts = 0
        self.extensions = 0
        self.priorities = 0
        self.context_found = False
        self.extension_found = False
        # Asterisk's context list is newest first.
        self.order = list(reversed(dialplan.contexts.values()))

    def helper(self, context: str | None, exten: str | None, rinclude: bool, includes: list[str]) -> None:
        for con in self.order:
            if context is not None and con.name != context:
                continue
            self.context_found = True
            printed = False
            if exten is None:
                self.contexts += 1
                self.header(con, included=False)
                printed = True
            for ext in sorted_extensions(con):
                if exten is not None and not extension_matches(ext.name, exten, MatchMode.MATCH):
                    continue
                self.extension_found = True
                if not printed:
                    self.contexts += 1
                    self.header(con, included=rinclude)
                    printed = True
                self.extension(ext)
            for inc in con.includes:
                if exten is None:
                    self.out.append(f"  Include =>        {_pad(_cut(quote(inc.text)), 45)} [{inc.registrar}]\n")
                elif len(includes) < AST_PBX_MAX_STACK and not any(
                    name.lower() == inc.text.lower() for name in includes
                ):
                    self.helper(inc.text, exten, True, [*includes, inc.text])
            for pat in con.ignorepats:
                if exten is None or extension_matches(_cut(f"_{pat.pattern}.", _IGNOREPAT_BUF), exten):
                    self.out.append(f"  Ignore pattern => {_pad(_cut(quote(pat.pattern)), 45)} [{pat.registrar}]\n")
            if not rinclude:
                for sw in con.switches:
                    switch = _pad(_cut(quote(f"{sw.name}/{sw.data}")), 45)
                    self.out.append(f"  Alt. Switch =>    {switch} [{sw.registrar}]\n")
            if printed:
                self.out.append("\n")

    def header(self, con: Context, *, included: bool) -> None:
        if included:
            self.out.append(f"[ Included context '{con.name}' created by '{con.registrar}' ]\n")
            return
        self.out.append(f"[ Context '{con.name}' created by '{con.registrar}' ]\n")
        if con.autohints:
            self.out.append("Autohints support enabled\n")

    def extension(self, ext: Extension) -> None:
        priorities = ext.sorted_priorities()
        if not priorities:
            return
        if ext.cid is not None:
            first = _cut(f"'{ext.name}' (CID match '{ext.cid}') => ")
        else:
            first = _cut(f"'{ext.name}' =>")
        self.priorities += 1
        _output(self.out, first, _print_ext(priorities[0]), priorities[0])
        self.extensions += 1
        for priority in priorities[1:]:
            self.priorities += 1
            label = _cut(f"   [{priority.label}]") if priority.label is not None else ""
            _output(self.out, label, _print_ext(priority), priority)


def quote(text: str) -> str:
    """``'%s'``: Asterisk quotes names with single quotes and no escaping."""
    return f"'{text}'"


def _parse_target(target: str | None) -> tuple[str | None, str | None]:
    """``handle_show_dialplan``'s split of ``[exten@]context``: empty parts mean "all"."""
    if target is None:
        return None, None
    if "@" in target:
        exten, _, context = target.partition("@")
        return (context or None), (exten or None)
    return (target or None), None


def _run(dialplan: Dialplan, target: str | None) -> tuple[_Walk, str | None, str | None]:
    context, exten = _parse_target(target)
    walk = _Walk(dialplan)
    walk.helper(context, exten, False, [])
    return walk, context, exten


def render_show(dialplan: Dialplan, target: str | None = None) -> str:
    """The text of ``dialplan show`` (``target`` None), ``dialplan show CONTEXT`` or ``dialplan show EXTEN@CONTEXT``.

    ``EXTEN@`` (no context) searches every context.  The result ends with the totals line, or with
    Asterisk's message when the context or extension does not exist.
    """
    walk, context, exten = _run(dialplan, target)
    out = walk.out
    if context is not None and not walk.context_found:
        out.append(f"There is no existence of '{context}' context\n")
    elif exten is not None and not walk.extension_found:
        if context is not None:
            out.append(f"There is no existence of {exten}@{context} extension\n")
        else:
            out.append(f"There is no existence of '{exten}' extension in all contexts\n")
    else:
        out.append(
            f"-= {walk.extensions} {'extension' if walk.extensions == 1 else 'extensions'} "
            f"({walk.priorities} {'priority' if walk.priorities == 1 else 'priorities'}) in "
            f"{walk.contexts} {'context' if walk.contexts == 1 else 'contexts'}. =-\n"
        )
    return "".join(out)


def show_counts(dialplan: Dialplan, target: str | None = None) -> ShowCounts:
    """The three totals ``dialplan show [target]`` reports (extensions, priorities, contexts)."""
    walk, context, exten = _run(dialplan, target)
    return ShowCounts(
        walk.extensions,
        walk.priorities,
        walk.contexts,
        context_found=context is None or walk.context_found,
        extension_found=exten is None or walk.extension_found,
    )
