"""Turn parsed TOML into the typed configuration dataclasses, collecting every error with its line.

The schema is plain frozen dataclasses (``firmware.config.schema``); a field's type says what TOML
value it takes and :func:`setting` adds ranges, choices and documentation.  :func:`build` walks the
parsed document against the schema and reports unknown keys (with a did-you-mean), wrong types,
out-of-range values and missing keys, all at once, each tied to the place it came from (a line of the
file or a ``--set`` option).
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from firmware.config.locate import KeyPath, line_of

T = TypeVar("T")

_MISSING: Any = dataclasses.MISSING


def setting(
    default: Any = _MISSING,
    *,
    doc: str = "",
    min: float | None = None,
    max: float | None = None,
    pattern: str | None = None,
    default_factory: Callable[[], Any] | None = None,
) -> Any:
    """A schema field: its default, documentation and constraints."""
    metadata = {"doc": doc, "min": min, "max": max, "pattern": pattern}
    if default_factory is not None:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem, printed as ``SOURCE:LINE: message``."""

    source: str
    line: int | None
    message: str

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.source}: {self.message}"
        return f"{self.source}:{self.line}: {self.message}"


class ConfigError(Exception):
    """The configuration is unusable; ``issues`` lists every problem found."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        super().__init__("\n".join(str(i) for i in issues))
        self.issues = issues


class Origins:
    """Where each value came from: a line of the TOML file, or a ``--set`` option."""

    def __init__(self, source: str, lines: Mapping[KeyPath, int], base_dir: Path) -> None:
        self.source = source
        self.lines = lines
        self.base_dir = base_dir
        self.overrides: dict[KeyPath, str] = {}

    def override_for(self, path: KeyPath) -> str | None:
        for i in range(len(path), 0, -1):
            label = self.overrides.get(path[:i])
            if label is not None:
                return label
        return None

    def issue(self, path: KeyPath, message: str) -> ConfigIssue:
        label = self.override_for(path)
        if label is not None:
            return ConfigIssue(label, None, message)
        return ConfigIssue(self.source, line_of(dict(self.lines), path), message)

    def base_for(self, path: KeyPath) -> Path:
        """Relative paths in the file are relative to the file; on the command line, to the cwd."""
        return Path.cwd() if self.override_for(path) is not None else self.base_dir


def dotted(path: KeyPath) -> str:
    """``("sip", "users", 0, "secret")`` -> ``sip.users[0].secret``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _table_name(path: KeyPath) -> str:
    if not path:
        return "the top level"
    if isinstance(path[-1], int):
        return f"[[{dotted(path[:-1])}]] entry {path[-1] + 1}"
    return f"[{dotted(path)}]"


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a float ({value})"
    if isinstance(value, str):
        return f'a string ("{value}")'
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _expected(tp: Any) -> str:
    origin = get_origin(tp)
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is str:
        return "a string"
    if tp is Path:
        return "a path (string)"
    if origin in (list, tuple):
        return "an array"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if dataclasses.is_dataclass(tp):
        return "a table"
    return str(tp)


class Builder:
    """Walks a parsed document against the schema; :attr:`issues` collects every problem."""

    def __init__(self, origins: Origins) -> None:
        self.origins = origins
        self.issues: list[ConfigIssue] = []

    def error(self, path: KeyPath, message: str) -> None:
        self.issues.append(self.origins.issue(path, message))

    def build(self, cls: type[T], data: Mapping[str, Any], path: KeyPath = ()) -> T | None:
        hints = get_type_hints(cls)
        fields_ = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        before = len(self.issues)
        for key in data:
            if key not in fields_:
                self._unknown_key(path, key, list(fields_))
        kwargs: dict[str, Any] = {}
        for name, f in fields_.items():
            if name in data:
                value = self.convert(hints[name], data[name], path + (name,), f.metadata)
                if value is not _MISSING:
                    kwargs[name] = value
            elif f.default is _MISSING and f.default_factory is _MISSING:
                self.error(path, f"{_table_name(path)} is missing required key '{name}'")
        if len(self.issues) > before:
            return None
        instance = cls(**kwargs)
        check = getattr(instance, "check", None)
        if check is not None:
            for rel_path, message in check():
                self.error(path + tuple(rel_path), message)
        return instance

    def _unknown_key(self, path: KeyPath, key: str, known: list[str]) -> None:
        import difflib  # only when reporting a mistake

        guess = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        if not path:
            hint = f"; did you mean [{guess[0]}]?" if guess else ""
            self.error((key,), f"unknown section [{key}]{hint}")
            return
        hint = f"; did you mean '{guess[0]}'?" if guess else ""
        self.error(path + (key,), f"unknown key '{key}' in {_table_name(path)}{hint}")

    def convert(self, tp: Any, value: Any, path: KeyPath, meta: Mapping[str, Any]) -> Any:
        origin = get_origin(tp)
        name = dotted(path)
        if origin in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if value == "" and len(args) < len(get_args(tp)):
                return None  # an empty string for an optional setting means "use the default"
            return self.convert(args[0], value, path, meta)
        if origin is Literal:
            choices = get_args(tp)
            if value not in choices:
                listed = ", ".join(str(c) for c in choices)
                self.error(path, f"{name}: {value!r} is not one of {listed}")
                return _MISSING
            return value
        if dataclasses.is_dataclass(tp):
            if not isinstance(value, dict):
                self.error(path, f"{name}: expected a table, got {_describe(value)}")
                return _MISSING
            built = self.build(typing.cast(type, tp), value, path)
            return _MISSING if built is None else built
        if origin in (list, tuple):
            if not isinstance(value, list):
                self.error(path, f"{name}: expected an array, got {_describe(value)}")
                return _MISSING
            (item_type, *_rest) = get_args(tp)
            items = [self.convert(item_type, v, path + (i,), {}) for i, v in enumerate(value)]
            if any(i is _MISSING for i in items):
                return _MISSING
            return tuple(items) if origin is tuple else items
        if tp is bool:
            if not isinstance(value, bool):
                self.error(path, f"{name}: expected true or false, got {_describe(value)}")
                return _MISSING
            return value
        if tp in (int, float):
            ok = isinstance(value, int) if tp is int else isinstance(value, (int, float))
            if not ok or isinstance(value, bool):
                self.error(path, f"{name}: expected {_expected(tp)}, got {_describe(value)}")
                return _MISSING
            low, high = meta.get("min"), meta.get("max")
            if (low is not None and value < low) or (high is not None and value > high):
                bounds = f"{_num(low)}..{_num(high)}" if low is not None and high is not None else (
                    f">= {_num(low)}" if low is not None else f"<= {_num(high)}")
                self.error(path, f"{name}: {value} is out of range ({bounds})")
                return _MISSING
            return tp(value)
        if tp in (str, Path):
            if not isinstance(value, str):
                self.error(path, f"{name}: expected {_expected(tp)}, got {_describe(value)}")
                return _MISSING
            pattern = meta.get("pattern")
            if pattern and not re.fullmatch(pattern, value):
                self.error(path, f"{name}: {value!r} is not valid here (expected {meta.get('doc') or pattern})")
                return _MISSING
            if tp is Path:
                p = Path(value).expanduser()
                return p if p.is_absolute() or not value else self.origins.base_for(path) / p
            return value
        raise TypeError(f"schema type {tp!r} at {name} is not supported")


def _num(value: float | None) -> str:
    return str(int(value)) if value is not None and float(value).is_integer() else str(value)
