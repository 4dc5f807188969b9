"""Asterisk's configuration file syntax, read the way ``main/config.c`` reads it.

:func:`parse_config` turns ``extensions.conf`` (and everything it ``#include``\\ s) into a
:class:`ConfigFile`: categories in file order, each with its ``name = value`` / ``name => value`` lines,
every line carrying its file and line number.  It follows ``config_text_file_load``,
``process_text_line``, ``ast_config_internal_load``, ``ast_category_inherit`` and
``ast_category_browse`` of Asterisk 20:

* ``;`` starts a comment, ``\\;`` is a literal ``;``; ``;--`` ... ``--;`` is a block comment, nested
  (up to 128 levels), across lines; ``;---`` is an ordinary comment.  A ``--;`` outside a block comment
  counts the nesting below zero and Asterisk then ignores the following lines until the next ``;--``:
  that is reproduced (with a warning).
* Lines are stripped of bytes below 33 at both ends (``ast_strip``); a UTF-8 BOM on line 1 is skipped;
  a line of 8191 bytes or more is skipped with a warning.
* ``[name]``, ``[name](!)`` (a template, never returned by :meth:`ConfigFile.browse`),
  ``[name](tmpl1,tmpl2)`` (the templates' lines are copied in, in that order, *before* the category's
  own lines), ``[name](+)`` (append to the first non-template category of that name, which must
  exist), any mix in the parentheses.  The ``(`` must follow ``]`` directly; options are not trimmed.
  Names are compared case-insensitively and cut to 79 characters.
* ``name = value`` and ``name => value`` (``object`` tells which), ``name += value`` appends to the
  last line of that name, a leading ``\\`` escapes the first character of the name.
* ``#include`` / ``#tryinclude`` with ``"file"``, ``<file>`` or a bare name, globs (``*``, ``?``,
  ``[...]``, ``{a,b}``), relative names resolved against the directory of the top-level file (Asterisk
  resolves them against its configuration directory, where ``extensions.conf`` lives, also for
  includes inside included files).  An included file starts in, and adds to, the category that was
  opened last anywhere; lines after the ``#include`` go on in the includer's own category.
* ``#exec "program args"`` runs a program (without a shell) and reads its standard output as if it
  were included; only when the caller allows it (``dialplan.allow_exec``).  Otherwise the line is
  ignored with a warning, as Asterisk ignores it without ``execincludes``.

Errors follow Asterisk: a line that makes ``process_text_line`` fail stops the file it is in.  In the
top-level file that fails the whole load (:class:`DialplanSyntaxError`); in an included file Asterisk
only stops reading that file and goes on with the includer, so that is recorded as an error
:class:`Diagnostic` and loading goes on.  What Asterisk only logs is a warning :class:`Diagnostic`.
"""

from __future__ import annotations

import enum
import os
import re
import shlex
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = [
    "ConfigCategory",
    "ConfigFile",
    "ConfigVariable",
    "Diagnostic",
    "DialplanSyntaxError",
    "parse_config",
    "parse_config_text",
]

MAX_INCLUDE_LEVEL = 10
"""``MAX_INCLUDE_LEVEL`` of config.c: the top-level file plus ten levels of ``#include``."""

MAX_NESTED_COMMENTS = 128
"""``MAX_NESTED_COMMENTS`` of config.c."""

FGETS_CHUNK = 8191
"""``fgets(buf, sizeof(buf), f)`` with ``char buf[8192]`` reads at most this many bytes at a time."""

MAX_LINE_BYTES = FGETS_CHUNK - 2
"""The longest line (without its newline) that is read: a read of ``FGETS_CHUNK`` bytes is "too long"."""

MAX_CATEGORY_NAME = 79
"""``struct ast_category`` holds its name in ``char name[80]``."""

DEFAULT_EXEC_TIMEOUT = 30.0
"""Seconds a ``#exec`` program may run before it is killed and its output ignored."""

_BLANKS = "".join(map(chr, range(33)))
"""What ``ast_strip``/``ast_skip_blanks`` remove: every byte below 33, not just spaces."""

_BOM = "\ufeff"
_GLOB_MAGIC = re.compile(r"[*?\[]")


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """Something Asterisk would log while loading: ``str()`` is ``FILE:LINE: message``.

    ``severity`` is ``warning`` or ``error`` (what Asterisk logs at ERROR level, or an included file
    that stopped early).  Neither stops the load.
    """

    file: str
    line: int
    message: str
    severity: Literal["warning", "error"] = "warning"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class DialplanSyntaxError(Exception):
    """A dialplan Asterisk refuses to load; ``str()`` is ``FILE:LINE: message``."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file = file
        self.line = line
        self.message = message

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(slots=True)
class ConfigVariable:
    """One ``name = value`` line (``struct ast_variable``).

    ``file`` is the path of the file it was read from (for messages); ``origin`` is the name Asterisk
    records for it: ``""`` in the top-level file, the path of an included file, or ``NAME~~N`` for
    the N-th repeated inclusion of ``NAME`` (``pbx_config`` derives ``dialplan show``'s registrar file
    from it).  ``object`` is True for ``=>``.  ``inherited`` marks lines copied from a template.
    """

    name: str
    value: str
    file: str
    line: int
    origin: str = ""
    object: bool = False
    inherited: bool = False


@dataclass(slots=True)
class ConfigCategory:
    """A ``[name]`` section (``struct ast_category``); ``is_template`` for ``(!)``."""

    name: str
    file: str
    line: int
    origin: str = ""
    is_template: bool = False
    variables: list[ConfigVariable] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ConfigFile:
    """A parsed configuration tree: all categories in order (templates too) and the files read."""

    categories: list[ConfigCategory] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def browse(self) -> Iterator[ConfigCategory]:
        """The categories a module sees, in order: templates are skipped (``ast_category_browse``)."""
        return (cat for cat in self.categories if not cat.is_template)

    def category(self, name: str) -> ConfigCategory | None:
        """The first non-template category called ``name``, case-insensitively (``ast_category_get``)."""
        wanted = name.lower()
        for cat in self.categories:
            if not cat.is_template and cat.name.lower() == wanted:
                return cat
        return None

    def retrieve(self, category: str, variable: str) -> str | None:
        """The value of the first ``variable`` line of ``category`` (``ast_variable_retrieve``)."""
        cat = self.category(category)
        if cat is None:
            return None
        wanted = variable.lower()
        for var in cat.variables:
            if var.name.lower() == wanted:
                return var.value
        return None


class _Status(enum.Enum):
    """What ``ast_config_internal_load`` returns: NULL, the config, or ``CONFIG_STATUS_FILEINVALID``."""

    MISSING = 0
    OK = 1
    INVALID = 2


def _strip(text: str) -> str:
    return text.strip(_BLANKS)


def _byte_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogateescape"))


def _skip_overlong(pieces: list[str], index: int) -> int:
    """Where ``config_text_file_load`` goes on after the too-long line ``pieces[index]``.

    Its first ``fgets`` took ``FGETS_CHUNK`` bytes; then it reads chunks until one is not exactly
    ``FGETS_CHUNK`` bytes long and drops that one too.  When the first read took the whole line with
    its newline, the dropped chunk is the *next* line, which is not counted either.  Returns the index
    of the line the next ``fgets`` starts at.
    """
    last = len(pieces) - 1
    line, position = index, FGETS_CHUNK
    while True:
        size = _byte_size(pieces[line]) + (1 if line < last else 0)
        if position >= size:
            line, position = line + 1, 0
            if line > last or (line == last and pieces[line] == ""):
                return line  # end of file
            size = _byte_size(pieces[line]) + (1 if line < last else 0)
        chunk = min(size - position, FGETS_CHUNK)
        position += chunk
        if chunk != FGETS_CHUNK:
            return line + 1


def _brace_expand(pattern: str) -> list[str]:
    """``GLOB_BRACE``: ``a{b,c}d`` is ``abd`` and ``acd``; an unbalanced or comma-less group stays literal."""
    depth = 0
    start = -1
    commas: list[int] = []
    for i, ch in enumerate(pattern):
        if ch == "{":
            if depth == 0:
                start = i
                commas = []
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
            if depth == 0:
                if commas:
                    head, tail = pattern[:start], pattern[i + 1 :]
                    bounds = [start, *commas, i]
                    out: list[str] = []
                    for left, right in zip(bounds, bounds[1:], strict=False):
                        out.extend(_brace_expand(head + pattern[left + 1 : right] + tail))
                    return out
                start = -1
        elif ch == "," and depth == 1:
            commas.append(i)
    return [pattern]


def _expand_paths(pattern: str) -> list[str]:
    """The files ``glob(fn, GLOB_NOMAGIC | GLOB_BRACE)`` gives: sorted matches, or the name itself."""
    paths: list[str] = []
    for alternative in _brace_expand(pattern):
        if _GLOB_MAGIC.search(alternative):
            import glob

            paths.extend(sorted(glob.glob(alternative)))
        else:
            paths.append(alternative)
    return paths


@dataclass(slots=True)
class _FileState:
    """``config_text_file_load``'s locals that live across the files of one glob."""

    category: ConfigCategory | None
    lineno: int = 0
    comment: int = 0
    nest: list[int] = field(default_factory=list)
    origin: str = ""  # what lines of the current file record as their file (see ConfigVariable.origin)


class _Parser:
    """One load: ``struct ast_config`` plus the include bookkeeping of config.c."""

    def __init__(self, base_dir: Path, allow_exec: bool, exec_timeout: float) -> None:
        self.base_dir = base_dir
        self.allow_exec = allow_exec
        self.exec_timeout = exec_timeout
        self.config = ConfigFile()
        self.current: ConfigCategory | None = None  # cfg->current: the category opened last
        self.include_level = 0
        self.inclusions: dict[str, int] = {}  # ast_include_find: name -> inclusion_count
        self.diagnostics: list[Diagnostic] = []

    # -- diagnostics ------------------------------------------------------------------------------

    def warn(self, file: str, line: int, message: str) -> None:
        self.diagnostics.append(Diagnostic(file, line, message))

    def error(self, file: str, line: int, message: str) -> Diagnostic:
        diag = Diagnostic(file, line, message, "error")
        self.diagnostics.append(diag)
        return diag

    # -- ast_config_internal_load -----------------------------------------------------------------

    def internal_load(
        self, filename: str, suggested: str, text: str | None = None
    ) -> tuple[_Status, Diagnostic | None]:
        """Load one file (or program output) at the next include level."""
        if self.include_level == MAX_INCLUDE_LEVEL + 1:
            return _Status.MISSING, None
        self.include_level += 1
        status, failure = self.text_file_load(filename, suggested, text)
        if status is not _Status.INVALID:
            # Asterisk leaves the level raised after an invalid file (config.c does not decrement it).
            self.include_level -= 1
        return status, failure

    def text_file_load(self, filename: str, suggested: str, text: str | None) -> tuple[_Status, Diagnostic | None]:
        state = _FileState(category=self.current)
        if text is not None:
            sources: list[tuple[str, str | None]] = [(filename, text)]
        else:
            full = filename if os.path.isabs(filename) else str(self.base_dir / filename)
            sources = [(path, None) for path in _expand_paths(full)]
        count = 0
        failure: Diagnostic | None = None
        for path, content in sources:
            if content is None:
                try:
                    info = os.stat(path)
                except OSError:
                    continue
                if not stat.S_ISREG(info.st_mode):
                    self.warn(path, 0, f"'{path}' is not a regular file, ignoring")
                    continue
                try:
                    with open(path, "rb") as handle:
                        content = handle.read().decode("utf-8", "surrogateescape")
                except OSError:
                    continue
            count += 1
            state.origin = self.origin(suggested, path)
            if text is None:
                self.config.files.append(path)
            failure = self.read_lines(path, content, suggested, state)
            if state.comment > 0:
                self.warn(path, state.nest[state.comment - 1], "Unterminated comment detected beginning here")
            if failure is not None:
                break
        if count == 0:
            return _Status.MISSING, None
        return (_Status.INVALID, failure) if failure is not None else (_Status.OK, None)

    def read_lines(self, path: str, content: str, suggested: str, state: _FileState) -> Diagnostic | None:
        """The ``fgets`` loop of ``config_text_file_load`` over one file; returns the error that stopped it."""
        pieces = content.split("\n")
        last = len(pieces) - 1
        index = -1
        while index < last:
            index += 1
            raw = pieces[index]
            state.lineno += 1
            if index == last and raw == "":
                break  # the final fgets() that finds end of file still counted a line
            if len(raw) * 4 > MAX_LINE_BYTES and _byte_size(raw) > MAX_LINE_BYTES:
                # fgets() read FGETS_CHUNK bytes: the line is "too long" - even one of exactly
                # MAX_LINE_BYTES + 1 bytes whose newline fitted (config.c tests buf[sizeof(buf) - 1], the NUL).
                if index < last or _byte_size(raw) >= FGETS_CHUNK:
                    self.warn(path, state.lineno,
                              f"Line {state.lineno} too long, skipping. It begins with: {raw[:32]}...")
                    index = _skip_overlong(pieces, index) - 1
                    continue
            if state.lineno == 1 and raw.startswith(_BOM):
                raw = raw[1:]
            if "\0" in raw:
                raw = raw[: raw.index("\0")]  # C strings: nothing after a NUL byte is seen
            if ";" in raw:
                process: str | None = self.strip_comments(raw, state, path)
            else:
                process = raw if state.comment == 0 else None
            if process is None:
                continue
            buffer = _strip(process)
            if buffer:
                failure = self.process_line(buffer, state, path, suggested)
                if failure is not None:
                    return failure
        return None

    # -- comments ---------------------------------------------------------------------------------

    def strip_comments(self, line: str, state: _FileState, path: str) -> str | None:
        """The comment scan of ``config_text_file_load``: the text to process, or None for none.

        Works on ``line + NUL`` like the C code on its buffer: a comment start writes a NUL, a block
        comment's end moves the rest of the line back over it.
        """
        if state.comment == 0:
            i = line.find(";")
            if (i == 0 or line[i - 1] != "\\") and line[i + 1 : i + 3] != "--" and (i < 2 or line[i - 2 : i] != "--"):
                return line[:i]  # the common case: a plain end-of-line comment
        buf = line + "\0"
        new = 0
        process: int | None = 0 if state.comment == 0 else None
        while True:
            end = buf.index("\0", new)
            cp = buf.find(";", new, end)
            if cp < 0:
                break
            if cp > new and buf[cp - 1] == "\\":
                buf = buf[: cp - 1] + buf[cp:]  # "\;" is a literal ';'
                new = cp
            elif buf[cp + 1] == "-" and buf[cp + 2] == "-" and buf[cp + 3] != "-":
                if state.comment < MAX_NESTED_COMMENTS:
                    buf = buf[:cp] + "\0" + buf[cp + 1 :]
                    new = cp + 3
                    state.comment += 1
                    if state.comment > 0:  # nest[comment - 1] = lineno
                        del state.nest[state.comment - 1 :]
                        state.nest.append(state.lineno)
                else:
                    # Asterisk logs this and would scan the same ';' again forever; skip it instead.
                    self.error(path, state.lineno, f"Maximum nest limit of {MAX_NESTED_COMMENTS} reached.")
                    new = cp + 1
            elif cp >= new + 2 and buf[cp - 1] == "-" and buf[cp - 2] == "-":
                state.comment -= 1
                if state.comment == -1:
                    self.warn(path, state.lineno, "'--;' outside a block comment: Asterisk ignores the lines after it "
                              "until the next ';--'")
                new = cp + 1
                if state.comment == 0:
                    if process is not None:
                        old = buf.index("\0", process)
                        rest = buf[new : buf.index("\0", new)]
                        buf = buf[:old] + rest + "\0" + buf[old + len(rest) + 1 :]
                        new = old
                    else:
                        process = new
            elif state.comment == 0:
                buf = buf[:cp] + "\0" + buf[cp + 1 :]
                new = cp
            else:
                new = cp + 1
        if process is None:
            return None
        return buf[process : buf.index("\0", process)]

    # -- process_text_line ------------------------------------------------------------------------

    def origin(self, suggested: str, path: str) -> str:
        return suggested or ("" if self.include_level == 1 else path)

    def process_line(self, buf: str, state: _FileState, path: str, suggested: str) -> Diagnostic | None:
        lineno = state.lineno
        if buf[0] == "[":
            return self.category_line(buf, state, path, suggested)
        if buf[0] == "#":
            failure = self.directive_line(buf, lineno, path)
            state.origin = self.origin(suggested, path)  # an invalid include leaves the level raised
            return failure
        cat = state.category
        if cat is None:
            return self.error(path, lineno, "parse error: No category context for line")
        escaped = 1 if buf[0] == "\\" else 0
        cur = buf[escaped:]
        if escaped and (not cur or cur[0] <= " "):
            return self.error(path, lineno, "Invalid escape in line")
        eq = cur.find("=", escaped)
        if eq < 0:
            self.warn(path, lineno, "No '=' (equal sign) in line")
            return None
        if eq > escaped and cur[eq - 1] == "+":
            name = _strip(cur[: eq - 1])
            addition = cur[eq + 1 :]
            replace: ConfigVariable | None = None
            for var in cat.variables:
                if var.name == name:
                    replace = var
            if replace is not None:
                self.append_value(cat, replace, addition)
                return None
            value, is_object = addition, False
        else:
            name = _strip(cur[:eq])
            value = cur[eq + 1 :]
            is_object = value.startswith(">")
            if is_object:
                value = value[1:]
        if not name:
            self.warn(path, lineno, "No variable name in line")
            return None
        cat.variables.append(ConfigVariable(name, _strip(value), path, lineno, state.origin, is_object))
        return None

    @staticmethod
    def append_value(cat: ConfigCategory, replace: ConfigVariable, addition: str) -> None:
        """``name += value``: ``ast_variable_update`` of the first line with that name and old value."""
        new_value = (replace.value + addition).rstrip(_BLANKS).lstrip(_BLANKS)
        old_name, old_value = replace.name.lower(), replace.value.lower()
        for var in cat.variables:
            if var.name.lower() == old_name and var.value.lower() == old_value:
                var.value = new_value
                return

    def find_category(self, name: str, filter_text: str | None) -> ConfigCategory | None:
        """``ast_category_get`` with a filter (``does_category_match``): first match in file order."""
        wanted = name.lower()
        for cat in self.config.categories:
            if cat.name.lower() == wanted and self.category_matches(cat, filter_text):
                return cat
        return None

    @staticmethod
    def category_matches(cat: ConfigCategory, filter_text: str | None) -> bool:
        if not filter_text:
            return not cat.is_template
        expressions = found = 0
        template_ok = False
        for item in re.split(r"[,&]", filter_text):
            item = _strip(item)
            expressions += 1
            if "=" not in item:
                break
            key, _, pattern = (part.strip(_BLANKS) for part in item.partition("="))
            if key == "TEMPLATES":
                if pattern.lower() == "include":
                    template_ok = template_ok or cat.is_template
                    found += 1
                elif pattern.lower() == "restrict":
                    if not cat.is_template:
                        break
                    found += 1
                    template_ok = True
                continue
            try:
                key_re, value_re = re.compile(key), re.compile(pattern)
            except re.error:
                return False
            if any(key_re.search(v.name) and value_re.search(v.value) for v in cat.variables):
                found += 1
        return found == expressions and (not cat.is_template or template_ok)

    def category_line(self, buf: str, state: _FileState, path: str, suggested: str) -> Diagnostic | None:
        lineno = state.lineno
        close = buf.find("]")
        if close < 0:
            return self.error(path, lineno, "parse error: no closing ']'")
        name = buf[1:close][:MAX_CATEGORY_NAME]
        after = buf[close + 1 :]
        newcat: ConfigCategory | None = ConfigCategory(name, path, lineno, state.origin)
        state.category = newcat
        if after.startswith("("):
            options = after[1:]
            end = options.find(")")
            if end < 0:
                return self.error(path, lineno, "parse error: no closing ')'")
            for option in options[:end].split(","):
                target = state.category
                assert target is not None
                if option == "!":
                    target.is_template = True
                elif option.startswith("+"):
                    existing = self.find_category(name, option[1:])
                    if existing is None:
                        return self.error(path, lineno,
                                          f"Category addition requested, but category '{name}' does not exist")
                    state.category = existing
                    if newcat is not None:
                        self.current = existing
                        existing.is_template = existing.is_template or newcat.is_template
                        existing.variables.extend(newcat.variables)
                        newcat = None
                else:
                    base = self.find_category(option, "TEMPLATES=include")
                    if base is None:
                        return self.error(path, lineno,
                                          f"Inheritance requested, but category '{option}' does not exist")
                    target.templates.append(base.name)
                    target.variables.extend(
                        ConfigVariable(v.name, v.value, v.file, v.line, v.origin, v.object, True)
                        for v in base.variables
                    )
        if newcat is not None:
            self.config.categories.append(newcat)
            self.current = newcat
        return None

    def directive_line(self, buf: str, lineno: int, path: str) -> Diagnostic | None:
        end = 1
        while end < len(buf) and buf[end] > " ":
            end += 1
        directive = buf[1:end]
        argument = _strip(buf[end:]) or None
        kind = directive.lower()
        if kind not in ("include", "tryinclude", "exec"):
            self.warn(path, lineno, f"Unknown directive '#{directive}'")
            return None
        if kind == "exec" and not self.allow_exec:
            # Asterisk logs this at WARNING level and loads the rest ("Cannot perform #exec unless
            # execincludes option is enabled in asterisk.conf"), so it does not stop the load here either.
            self.warn(path, lineno, "#exec is disabled: set dialplan.allow_exec = true to run programs from the "
                      "dialplan; line ignored")
            return None
        if argument is None:
            what = "include / tryinclude" if kind != "exec" else "exec"
            needs = "filename" if kind != "exec" else "/path/to/executable"
            self.warn(path, lineno, f"Directive '#{what}' needs an argument ({needs})")
            return None
        name = argument
        if argument[0] in "\"<" and argument[-1] == (">" if argument[0] == "<" else '"'):
            name = argument[1:-1]
        if kind == "exec":
            return self.exec_directive(name, lineno, path)
        suggested = ""
        count = self.inclusions.get(name)
        if count is not None:
            count += 1
            self.inclusions[name] = count
            suggested = f"{name}~~{count}"
            self.warn(path, lineno, f"Same File included more than once! This data will be saved in {suggested} "
                      "if saved back to disk.")
        else:
            self.inclusions[name] = 0
        if self.include_level == MAX_INCLUDE_LEVEL + 1:
            self.warn(path, lineno, f"Maximum Include level ({MAX_INCLUDE_LEVEL}) exceeded")
        status, failure = self.internal_load(name, suggested)
        if status is _Status.MISSING:
            if kind == "tryinclude":
                return None
            return self.error(path, lineno, f"The file '{name}' was listed as a #include but it does not exist.")
        if status is _Status.INVALID and failure is not None:
            self.note_stopped(failure)
        return None

    def note_stopped(self, failure: Diagnostic) -> None:
        """An included file stopped at an error: Asterisk goes on with the includer."""
        self.diagnostics.append(Diagnostic(
            failure.file, failure.line, f"Asterisk stops reading {failure.file} here; the rest of it is ignored",
            "error"))

    def exec_directive(self, command: str, lineno: int, path: str) -> Diagnostic | None:
        """``#exec``: run ``command`` without a shell and read its standard output as an included file."""
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            self.error(path, lineno, f"#exec {command}: {exc}")
            return None
        if not argv:
            self.warn(path, lineno, "Directive '#exec' needs an argument (/path/to/executable)")
            return None
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=self.exec_timeout,
                                  cwd=self.base_dir, check=False)
        except subprocess.TimeoutExpired:
            self.error(path, lineno, f"#exec {command}: no result after {self.exec_timeout:g} s; output ignored")
            return None
        except OSError as exc:
            self.error(path, lineno, f"#exec {command}: {exc.strerror or exc}")
            return None
        if done.returncode != 0:
            self.warn(path, lineno, f"#exec {command}: exited with status {done.returncode}")
        if done.stderr.strip():
            first = done.stderr.decode("utf-8", "replace").strip().splitlines()[0]
            self.warn(path, lineno, f"#exec {command}: {first}")
        output = done.stdout.decode("utf-8", "surrogateescape")
        pseudo = f"<#exec {os.path.basename(argv[0])}>"
        status, failure = self.internal_load(pseudo, "", output)
        if status is _Status.INVALID and failure is not None:
            self.note_stopped(failure)
        return None


def _finish(
    parser: _Parser, status: _Status, failure: Diagnostic | None, name: str
) -> tuple[ConfigFile, list[Diagnostic]]:
    if status is _Status.INVALID:
        assert failure is not None
        raise DialplanSyntaxError(failure.file, failure.line, failure.message)
    if status is _Status.MISSING:
        raise DialplanSyntaxError(name, 0, "no configuration was read")
    return parser.config, parser.diagnostics


def parse_config(
    path: Path, *, allow_exec: bool = False, exec_timeout: float = DEFAULT_EXEC_TIMEOUT
) -> tuple[ConfigFile, list[Diagnostic]]:
    """Read ``path`` and its includes as Asterisk's ``ast_config_load`` would.

    Returns the configuration and the warnings.  Raises :class:`DialplanSyntaxError` when Asterisk
    would refuse the file (an error in the top-level file, a missing ``#include`` in it, an unreadable
    file).  ``#exec`` runs only with ``allow_exec``; otherwise it is a warning and the line is ignored, as
    Asterisk ignores it (with a warning) without ``execincludes``.  Positions in the top-level file are
    reported under ``str(path)``; relative ``#include`` names resolve against ``path.parent``.
    """
    name = str(path)
    try:
        text = path.read_bytes().decode("utf-8", "surrogateescape")
    except OSError as exc:
        raise DialplanSyntaxError(name, 0, f"cannot read the dialplan: {exc.strerror or exc}") from exc
    return parse_config_text(text, filename=name, base_dir=path.parent, allow_exec=allow_exec,
                             exec_timeout=exec_timeout)


def parse_config_text(
    text: str, *, filename: str = "extensions.conf", base_dir: Path | None = None, allow_exec: bool = False,
    exec_timeout: float = DEFAULT_EXEC_TIMEOUT,
) -> tuple[ConfigFile, list[Diagnostic]]:
    """Like :func:`parse_config` for text in memory named ``filename``; ``#include`` resolves against ``base_dir``."""
    parser = _Parser(base_dir if base_dir is not None else Path.cwd(), allow_exec, exec_timeout)
    status, failure = parser.internal_load(filename, "", text)
    parser.config.files.insert(0, filename)
    return _finish(parser, status, failure, filename)
