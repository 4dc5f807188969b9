"""``extensions.conf`` -> :class:`~core.dialplan.model.Dialplan`, with the semantics of Asterisk's ``pbx_config``.

This follows ``pbx_load_config`` in ``pbx/pbx_config.c`` and, in ``main/pbx.c``,
``ast_context_find_or_create``, ``ast_add_extension2_lockopt``, ``add_priority``,
``ast_context_add_include2``, ``ast_context_add_ignorepat2``, ``ast_context_add_switch2`` and
``ast_context_verify_includes`` of Asterisk 20.  What it reproduces, because a call or ``dialplan show``
depends on it:

* ``[general]`` (first section of that name, any case) sets ``static``, ``writeprotect``,
  ``autofallthrough``, ``clearglobalvars``, ``extenpatternmatchnew``, ``overrideswitch`` and
  ``userscontext``; the first ``[globals]`` section sets global variables in order, each value
  variable-substituted at load time against the globals set before it (``ast_variable_browse`` reads
  only the first section of a name: a second ``[globals]`` is ignored).  Neither is a context.
* Every other section is a context (names are case-sensitive; a repeated ``[name]`` adds to the same
  context).  The ``n``/``s`` priority and ``same =>`` continue from the previous line *of the section*,
  whatever extension it was for.
* ``exten => name[/cid],priority[(label)],app(data)``: the name is split at commas outside ``[...]``
  and substituted; ``name/cid`` splits at the first ``/`` and the caller-ID is shrunk
  (``ast_shrink_phone_number``); the priority is a number, ``n``/``next``, ``s``/``same``, ``hint`` or an
  existing label of the extension, optionally ``+N``; ``app`` is the text before the first ``(`` (left
  blanks skipped, trailing ones kept) and ``data`` what follows up to the *last* ``)``.  Without a ``(``
  the whole rest is the application name (so the old ``App,arg1|arg2`` form yields an application
  called ``App,arg1|arg2``).  An application name containing ``${`` or ``$[`` keeps the whole text.
* Spaces are removed from extension names; ``-`` outside ``[...]`` is decoration (``1-800`` and
  ``1800`` are one extension, shown under the name it was first given at its lowest priority).  Two
  names that ``ext_cmp`` finds equal (``_X`` and ``_[0-9]``) are one extension.
* A priority already in use is refused with a warning (``replace`` is off for ``pbx_config``); a label
  already used by another priority of the extension is dropped with a warning; ``n`` after a hint gives
  priority 0, which Asterisk silently skips.
* ``include`` (duplicates, compared without case, refused), ``ignorepat`` (same), ``switch`` (data
  substituted), ``lswitch`` (literal), ``eswitch`` (evaluated when used), ``autohints``.

Load-time substitution (``pbx_substitute_variables_helper`` with no channel) is pluggable: pass the
project's substitution engine as ``substitute``; the built-in fallback resolves plain ``${NAME}``
references to globals and leaves anything else (functions, expressions, substrings) as written, with
a warning.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from core.callerid import shrink_phone_number
from core.dialplan.args import atoi, scan_int_value
from core.dialplan.config_parser import (
    DEFAULT_EXEC_TIMEOUT,
    ConfigFile,
    ConfigVariable,
    Diagnostic,
    DialplanSyntaxError,
    parse_config,
    parse_config_text,
)
from core.dialplan.model import (
    PRIORITY_HINT,
    Context,
    Dialplan,
    Extension,
    GlobalVariable,
    IgnorePattern,
    Include,
    Priority,
    Switch,
)
from core.dialplan.pattern import MatchMode, SortKey, callerid_matches, ext_sort_key, match_core

__all__ = [
    "Diagnostic",
    "DialplanSyntaxError",
    "HintVariables",
    "LoadResult",
    "Substituter",
    "build_dialplan",
    "load_dialplan",
    "load_dialplan_text",
    "sorted_extensions",
    "substitute_plain_variables",
]

Substituter = Callable[[str, Mapping[str, str]], str]
"""Load-time substitution: ``(text, variables) -> text``, variables being the globals, or for a hint a
:class:`HintVariables` (``EXTEN`` and ``CONTEXT``, then the globals): Asterisk substitutes a hint on a
dummy channel sitting at that extension, everything else with no channel at all."""


class HintVariables(ChainMap[str, str]):
    """The variables of a hint's substitution: ``{"EXTEN": ..., "CONTEXT": ...}``, then the globals.

    ``ast_add_extension2_lockopt`` (main/pbx.c) substitutes a hint's devices on an
    ``ast_dummy_channel_alloc()`` channel whose exten and context are the hint's, so ``${EXTEN}`` and
    ``${CONTEXT}`` are that channel's built-ins there; a substituter tells this case from the
    channel-less one (``[globals]``, names, includes) by this type.
    """

_TRUE = frozenset(("yes", "true", "y", "t", "1", "on"))
_BLANKS = "".join(map(chr, range(33)))
MAX_INCLUDES = 128
"""``AST_PBX_MAX_STACK``: ``ast_context_verify_includes`` warns when a context has this many includes."""
MAX_USERSCONTEXT = 79
"""``userscontext`` is copied into ``char userscontext[AST_MAX_EXTENSION]``."""


@dataclass(slots=True)
class LoadResult:
    """A loaded dialplan and what Asterisk would have logged while loading it."""

    dialplan: Dialplan
    warnings: list[Diagnostic] = field(default_factory=list)


def ast_true(value: str | None) -> bool:
    """``ast_true``: yes, true, y, t, 1, on (any case) are true; anything else, or nothing, is false."""
    return value is not None and value.lower() in _TRUE


class _Unsupported(Exception):
    """A reference the fallback substituter cannot evaluate."""


def substitute_plain_variables(text: str, variables: Mapping[str, str]) -> str:
    """The fallback load-time substituter: ``${NAME}`` (nested allowed) from ``variables``, unknown -> empty.

    Raises ``ValueError`` for what it cannot evaluate (``${FUNC(...)}``, ``${VAR:1:2}``, ``$[...]``); the
    loader then keeps the text as written and warns.
    """
    if "$" not in text:
        return text
    try:
        return _substitute(text, variables)
    except _Unsupported as exc:
        raise ValueError(str(exc)) from None


def _substitute(text: str, variables: Mapping[str, str]) -> str:
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        j = text.find("$", i)
        if j < 0 or j + 1 >= n:
            out.append(text[i:])
            break
        out.append(text[i:j])
        opener = text[j + 1]
        if opener == "[":
            raise _Unsupported("$[...] expressions need the substitution engine")
        if opener != "{":
            out.append("$")
            i = j + 1
            continue
        depth = 1
        k = j + 2
        while k < n and depth:
            if text[k] == "{" and text[k - 1] == "$":
                depth += 1
            elif text[k] == "}":
                depth -= 1
            k += 1
        if depth:
            raise _Unsupported("unbalanced ${")
        inner = _substitute(text[j + 2 : k - 1], variables)
        if "(" in inner or ":" in inner:
            raise _Unsupported(f"${{{inner}}} needs the substitution engine")
        out.append(variables.get(inner, ""))
        i = k
    return "".join(out)


def _strip(text: str) -> str:
    return text.strip(_BLANKS)


def _pbx_strsep(text: str) -> tuple[str, str | None]:
    """``pbx_strsep(&s, ",")``: split at the first comma outside ``[...]``; a backslash skips a character.

    The rest is None when nothing follows the comma (the C code then sets the pointer to NULL).
    """
    comma = text.find(",")
    if comma < 0 or ("[" not in text[:comma] and "\\" not in text[:comma]):
        if comma < 0:
            return text, None
        return text[:comma], text[comma + 1 :] or None
    square = 0
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "[":
            square += 1
        elif ch == "]":
            if square:
                square -= 1
        elif ch == "\\":
            i += 1
        elif ch == "," and not square:
            rest = text[i + 1 :]
            return text[:i], rest or None
        i += 1
    return text, None


def _strsep(text: str | None, delim: str) -> tuple[str | None, str | None]:
    """C ``strsep``: the part before the first ``delim`` and the rest (None when there is no ``delim``)."""
    if text is None:
        return None, None
    head, sep, tail = text.partition(delim)
    return head, (tail if sep else None)


def ext_strncpy(name: str, nofluff: bool) -> str:
    """``ext_strncpy``: drop spaces (and with ``nofluff`` dashes) outside a pattern's ``[...]`` sets."""
    if " " not in name and (not nofluff or "-" not in name):
        return name
    pattern = name.startswith("_")
    in_set = False
    out: list[str] = []
    for ch in name:
        if ch == "[":
            if pattern:
                in_set = True
        elif ch == "]":
            in_set = False
        elif ch == " " and not in_set:
            continue
        elif ch == "-" and nofluff and not in_set:
            continue
        out.append(ch)
    return "".join(out)


_ExtKey = tuple[SortKey, SortKey | None]


def _sort_key(ext: Extension) -> tuple[SortKey, tuple[int, SortKey | None]]:
    """Asterisk's position of an extension in its context: ``ext_cmp`` of the names, caller-ID entries first."""
    return ext_sort_key(ext.exten), ((0, ext_sort_key(ext.cid)) if ext.cid is not None else (1, None))


class _Builder:
    """``pbx_load_config``: fills a :class:`Dialplan` from a parsed configuration."""

    def __init__(self, config_file: str, substitute: Substituter | None, warnings: list[Diagnostic]) -> None:
        self.config_file = config_file
        self.substitute_hook = substitute
        self.warnings = warnings
        self.dialplan = Dialplan()
        self.index: dict[str, dict[_ExtKey, Extension]] = {}
        self.by_text: dict[str, dict[tuple[str, str | None], Extension]] = {}  # fast path: same spelling
        self.walk_cache: dict[str, list[Extension]] = {}
        self.top_priority: dict[int, int] = {}  # id(extension) -> its highest priority, to append in O(1)
        self.registrar_files: dict[str, str] = {}

    def warn(self, var: ConfigVariable, message: str, severity: Literal["warning", "error"] = "warning") -> None:
        self.warnings.append(Diagnostic(var.file, var.line, message, severity))

    def substitute(self, text: str, var: ConfigVariable, variables: Mapping[str, str] | None = None) -> str:
        """``pbx_substitute_variables_helper(NULL, ...)`` at load time."""
        if "$" not in text:
            return text
        scope = self.dialplan.globals if variables is None else variables
        if self.substitute_hook is not None:
            return self.substitute_hook(text, scope)
        try:
            return substitute_plain_variables(text, scope)
        except ValueError as exc:
            self.warn(var, f"'{text}' kept as written: {exc} (pass the substitution engine to the loader)")
            return text

    # -- [general] and [globals] ------------------------------------------------------------------

    def general(self, config: ConfigFile) -> None:
        dp = self.dialplan
        dp.static = ast_true(config.retrieve("general", "static"))
        dp.writeprotect = ast_true(config.retrieve("general", "writeprotect"))
        value = config.retrieve("general", "autofallthrough")
        if value is not None:
            dp.autofallthrough = ast_true(value)
        value = config.retrieve("general", "extenpatternmatchnew")
        if value is not None:
            dp.extenpatternmatchnew = ast_true(value)
        dp.clearglobalvars = ast_true(config.retrieve("general", "clearglobalvars"))
        value = config.retrieve("general", "overrideswitch")
        if value is not None:
            dp.overrideswitch = value or None
        value = config.retrieve("general", "userscontext")
        dp.userscontext = (value if value is not None else "default")[:MAX_USERSCONTEXT]

    def globals(self, config: ConfigFile) -> None:
        """``ast_variable_browse(cfg, "globals")``: only the *first* ``[globals]`` section (any case).

        ``ast_category_get`` returns the first non-template category of that name; a later ``[globals]``
        is skipped by the context loop too (``strcasecmp(cxt, "globals")``), so its lines are ignored.
        """
        first = config.category("globals")
        for cat in config.browse():
            if cat.name.lower() != "globals" or cat is first:
                continue
            self.warnings.append(Diagnostic(
                cat.file, cat.line, f"[{cat.name}] is not the first [globals] section: Asterisk ignores its "
                "variables (use [globals](+) to add to the first one)"))
        if first is None:
            return
        for var in first.variables:
            value = self.substitute(var.value, var)
            self.dialplan.globals[var.name] = value
            self.dialplan.global_variables.append(GlobalVariable(var.name, value, var.value, var.file, var.line))

    # -- contexts ---------------------------------------------------------------------------------

    def contexts(self, config: ConfigFile) -> None:
        for cat in config.browse():
            if cat.name.lower() in ("general", "globals"):
                continue
            con = self.dialplan.contexts.get(cat.name)
            if con is None:
                con = self.dialplan.contexts[cat.name] = Context(cat.name, file=cat.file, line=cat.line)
                self.index[con.name] = {}
                self.by_text[con.name] = {}
            self.context_lines(con, cat.variables)

    def context_lines(self, con: Context, variables: list[ConfigVariable]) -> None:
        last_extension = ""
        last_priority = -2
        for var in variables:
            kind = var.name.lower()
            if kind == "exten":
                name, rest = _pbx_strsep(var.value)
                realext = self.substitute(name, var)
                last_extension = realext
                last_priority = self.extension_line(con, var, realext, rest, last_priority)
            elif kind.startswith("same"):
                if not last_extension:
                    self.warn(var, f"No previous pattern in the first entry of context '{con.name}' to match "
                              f"'{var.name}'", "error")
                    continue
                last_priority = self.extension_line(con, var, last_extension, var.value, last_priority)
            elif kind == "include":
                self.add_include(con, var)
            elif kind == "ignorepat":
                self.add_ignorepat(con, var)
            elif kind in ("switch", "lswitch", "eswitch"):
                self.add_switch(con, var, kind)
            elif kind == "autohints":
                con.autohints = ast_true(var.value)
            else:
                self.warn(var, f"==!!== Unknown directive: {var.name} -- IGNORING!!!")

    def extension_line(self, con: Context, var: ConfigVariable, realext: str, rest: str | None, last: int) -> int:
        """The ``process_extension`` part of ``pbx_load_config``; returns the new "last priority"."""
        cidmatch: str | None = None
        slash = realext.find("/")
        if slash >= 0:
            cidmatch = shrink_phone_number(realext[slash + 1 :])
            realext = realext[:slash]
        pri_text, rest = _strsep(rest, ",")
        pri = _strip(pri_text or "")
        label: str | None = None
        paren = pri.find("(")
        if paren >= 0:
            label_text = pri[paren + 1 :]
            pri = pri[:paren]
            close = label_text.find(")")
            if close < 0:
                self.warn(var, "Label missing trailing ')'")
                return last
            label = label_text[:close]
        plus: str | None = None
        plus_at = pri.find("+")
        if plus_at >= 0:
            plus = pri[plus_at + 1 :]
            pri = pri[:plus_at]
        if pri == "hint":
            ipri = PRIORITY_HINT
        elif pri in ("next", "n"):
            if last <= -2:
                self.warn(var, "Can't use 'next' priority on the first entry!")
                return last
            ipri = last + 1
        elif pri in ("same", "s"):
            if last <= -2:
                self.warn(var, "Can't use 'same' priority on the first entry!")
                return last
            ipri = last
        elif pri.isascii() and pri.isdigit():
            ipri = int(pri)
            if ipri < 1:
                self.warn(var, f"Invalid priority '{pri}'")
                return last
        else:
            number = scan_int_value(pri)
            if number is None:
                ipri = self.find_label(con, realext, pri, cidmatch)
                if ipri < 1:
                    self.warn(var, f"Invalid priority/label '{pri}'")
                    return last
            elif number < 1:
                self.warn(var, f"Invalid priority '{pri}'")
                return last
            else:
                ipri = number
        app = rest if rest is not None else ""
        data = ""
        paren = app.find("(")
        if paren >= 0:
            head = app[:paren]
            if "${" not in head and "$[" not in head:
                data = app[paren + 1 :]
                close = data.rfind(")")
                if close >= 0:
                    data = data[:close]
                else:
                    self.warn(var, f"No closing parenthesis found? '{head}({data}'")
                app = head
        app = app.lstrip(_BLANKS)
        if not ipri:
            return last  # e.g. 'n' after a hint: priority 0, silently not added
        if plus is not None:
            ipri += atoi(plus)
        if realext in ("_.", "_!"):
            self.warn(var, f"The use of '{realext}' for an extension is strongly discouraged and can have unexpected "
                      f"behavior.  Please use '_X{realext[1]}' instead")
        registrar_file = self.registrar_files.get(var.origin)
        if registrar_file is None:
            vfile = var.origin or self.config_file
            registrar_file = self.registrar_files[var.origin] = vfile.rsplit("/", 1)[-1]
        self.add_extension(con, var, realext, ipri, label, cidmatch, app, data, registrar_file)
        return ipri

    def find_label(self, con: Context, realext: str, label: str, cidmatch: str | None) -> int:
        """``ast_findlabel_extension2`` on the context being built: the first extension, in Asterisk's
        order, that matches ``realext`` and the caller-ID and has ``label``; -1 when none does."""
        walk = self.walk_cache.get(con.name)
        if walk is None:
            walk = self.walk_cache[con.name] = sorted(con.extensions, key=_sort_key)
        for ext in walk:
            if not match_core(ext.name, realext, MatchMode.MATCH):
                continue
            if ext.cid is not None and not callerid_matches(ext.cid, cidmatch):
                continue
            number = ext.labels.get(label)
            if number is not None:
                return number
        return -1

    # -- ast_add_extension2 / add_priority --------------------------------------------------------

    def add_extension(self, con: Context, var: ConfigVariable, extension: str, priority: int, label: str | None,
                      callerid: str | None, app: str, data: str, registrar_file: str) -> bool:
        if not extension:
            self.warn(var, f"You have to be kidding-- add exten '' to context {con.name}? Figure out a name and call "
                      "me back. Action ignored.", "error")
            return False
        if priority == PRIORITY_HINT and "${" in app and not extension.startswith("_"):
            scope = HintVariables({"EXTEN": extension, "CONTEXT": con.name}, self.dialplan.globals)
            app = self.substitute(app, var, scope)
        name = ext_strncpy(extension, False)
        exten = ext_strncpy(extension, True)
        cid = ext_strncpy(callerid, True) if callerid is not None else None
        item = Priority(priority, app, data, label or None, var.file, var.line, registrar_file)
        by_text = self.by_text[con.name]
        ext = by_text.get((exten, cid))
        if ext is None:
            key: _ExtKey = (ext_sort_key(exten), ext_sort_key(cid) if cid is not None else None)
            index = self.index[con.name]
            ext = index.get(key)
            if ext is None:
                ext = Extension(name, cid, exten=exten)
                ext.priorities[priority] = item
                if item.label is not None:
                    ext.labels[item.label] = priority
                con.extensions.append(ext)
                index[key] = ext
                by_text[(exten, cid)] = ext
                self.walk_cache.pop(con.name, None)
                return True
            by_text[(exten, cid)] = ext
        return self.add_priority(con, ext, item, name, var)

    def add_priority(self, con: Context, ext: Extension, item: Priority, name: str, var: ConfigVariable) -> bool:
        """``add_priority``: refuse a priority in use; drop a label another priority of the extension has."""
        top = self.top_priority.get(id(ext))
        if top is None:
            top = max(ext.priorities)
        if item.label is None and item.number > top:
            ext.priorities[item.number] = item  # the usual case: the next step of the extension
            self.top_priority[id(ext)] = item.number
            return True
        numbers = sorted(ext.priorities)
        repeated = False
        stop: int | None = None
        for number in numbers:
            other = ext.priorities[number]
            if other.label and item.label and number != item.number and other.label == item.label:
                self.warn(var, f"Extension '{name}' priority {item.number} in '{con.name}', label '{item.label}' "
                          f"already in use at priority {number}")
                repeated = True
            if number >= item.number:
                stop = number
                break
        if repeated:
            item.label = None
        if stop == item.number:
            where = f"by aliased extension '{ext.name}'" if ext.name != name else ""
            self.warn(var, f"Unable to register extension '{name}' priority {item.number} in '{con.name}', already "
                      f"in use{' ' + where if where else ''}")
            return False
        ext.priorities[item.number] = item
        self.top_priority[id(ext)] = max(top, item.number)
        if item.label is not None and item.label not in ext.labels:
            ext.labels[item.label] = item.number
        if item.number < numbers[0]:
            ext.name = name  # the lowest priority heads the extension and names it
        return True

    # -- includes, ignore patterns, switches --------------------------------------------------------

    def add_include(self, con: Context, var: ConfigVariable) -> None:
        value = self.substitute(var.value, var)
        lowered = value.lower()
        if any(inc.text.lower() == lowered for inc in con.includes):
            self.warn(var, f"Context '{var.value}' already included in '{con.name}' context on include")
            return
        context, comma, timing = value.partition(",")
        con.includes.append(Include(value, context, timing if comma else None, var.file, var.line))

    def add_ignorepat(self, con: Context, var: ConfigVariable) -> None:
        value = self.substitute(var.value, var)
        lowered = value.lower()
        if any(pat.pattern.lower() == lowered for pat in con.ignorepats):
            self.warn(var, f"Unable to include ignorepat '{var.value}' in context '{con.name}'")
            return
        con.ignorepats.append(IgnorePattern(value, var.file, var.line))

    def add_switch(self, con: Context, var: ConfigVariable, kind: str) -> None:
        value = self.substitute(var.value, var) if kind == "switch" else var.value
        name, _, data = value.partition("/")
        if any(sw.name.lower() == name.lower() and sw.data.lower() == data.lower() for sw in con.switches):
            self.warn(var, f"Unable to include switch '{var.value}' in context '{con.name}'")
            return
        con.switches.append(Switch(name, data, kind, kind == "eswitch", var.file, var.line))

    def verify_includes(self) -> None:
        """``ast_context_verify_includes``: warn about the first include of a context naming no context."""
        for con in reversed(self.dialplan.contexts.values()):
            if len(con.includes) >= MAX_INCLUDES:
                self.warnings.append(Diagnostic(
                    con.file, con.line, f"Context {con.name} contains too many includes ({len(con.includes)}). "
                    f"Maximum is {MAX_INCLUDES}."))
            for inc in con.includes:
                if inc.context not in self.dialplan.contexts:
                    self.warnings.append(Diagnostic(
                        inc.file, inc.line,
                        f"Context '{con.name}' tries to include nonexistent context '{inc.context}'"))
                    break


def build_dialplan(config: ConfigFile, *, config_file: str = "extensions.conf", substitute: Substituter | None = None,
                   warnings: list[Diagnostic] | None = None) -> LoadResult:
    """Turn a parsed configuration into a :class:`Dialplan` as ``pbx_load_config`` does.

    ``config_file`` is the name of the top-level file (``dialplan show`` prints its base name for lines
    read from it).  ``warnings`` (what the parser reported) is extended with the loader's own.
    """
    diagnostics = warnings if warnings is not None else []
    builder = _Builder(config_file, substitute, diagnostics)
    builder.dialplan.files = list(config.files)
    builder.general(config)
    builder.globals(config)
    builder.contexts(config)
    builder.verify_includes()
    return LoadResult(builder.dialplan, diagnostics)


def load_dialplan(path: Path, *, allow_exec: bool = False, substitute: Substituter | None = None,
                  exec_timeout: float = DEFAULT_EXEC_TIMEOUT) -> LoadResult:
    """Load ``extensions.conf`` at ``path`` (and what it includes) as Asterisk's ``pbx_config`` would.

    Raises :class:`DialplanSyntaxError` only where Asterisk refuses the whole file; everything Asterisk
    merely logs is in :attr:`LoadResult.warnings`.  ``allow_exec`` enables ``#exec`` (the
    ``dialplan.allow_exec`` setting).
    """
    config, warnings = parse_config(path, allow_exec=allow_exec, exec_timeout=exec_timeout)
    return build_dialplan(config, config_file=str(path), substitute=substitute, warnings=warnings)


def load_dialplan_text(text: str, *, filename: str = "extensions.conf", base_dir: Path | None = None,
                       allow_exec: bool = False, substitute: Substituter | None = None) -> LoadResult:
    """:func:`load_dialplan` for a dialplan held in memory (``#include`` resolves against ``base_dir``)."""
    config, warnings = parse_config_text(text, filename=filename, base_dir=base_dir, allow_exec=allow_exec)
    return build_dialplan(config, config_file=filename, substitute=substitute, warnings=warnings)


def sorted_extensions(context: Context) -> list[Extension]:
    """The extensions of ``context`` in Asterisk's order (``ext_cmp``; caller-ID entries before the plain one)."""
    return sorted(context.extensions, key=_sort_key)
