"""Load a TOML configuration: parse, apply ``--set`` overrides, validate against the schema."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from firmware.config.locate import KeyPath, locate_keys
from firmware.config.typed import Builder, ConfigError, ConfigIssue, Origins

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

T = TypeVar("T")

DEFAULTS_DIR = Path(__file__).resolve().parent.parent / "defaults"
DEFAULT_CONFIG = DEFAULTS_DIR / "centralita.toml"

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column \d+\)\s*$")
_KEY_PART = re.compile(r"([A-Za-z0-9_-]+)|\[(\d+)\]")


def read_toml(path: Path) -> tuple[dict[str, Any], dict[KeyPath, int]]:
    """Parse a TOML file and locate its keys; errors become :class:`ConfigError` at FILE:LINE."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigIssue(str(path), None, f"cannot read: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigIssue(str(path), None, f"not UTF-8 text: {exc}")]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_POSITION.search(message)
        line = int(match.group(1)) if match else None
        message = _TOML_POSITION.sub("", message)
        raise ConfigError([ConfigIssue(str(path), line, f"TOML syntax error: {message}")]) from None
    return data, locate_keys(text)


def parse_override_key(key: str) -> KeyPath | None:
    """``sip.users[0].secret`` or ``sip.users.0.secret`` -> ``("sip", "users", 0, "secret")``."""
    path: list[str | int] = []
    for segment in key.split("."):
        if not segment:
            return None
        if segment.isdigit():
            path.append(int(segment))
            continue
        pos = 0
        while pos < len(segment):
            match = _KEY_PART.match(segment, pos)
            if match is None:
                return None
            path.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
            pos = match.end()
    return tuple(path) if path and isinstance(path[0], str) else None


def parse_override_value(text: str) -> Any:
    """A TOML value (``5070``, ``true``, ``["a", "b"]``, ``"quoted"``); anything else is a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_override(data: dict[str, Any], option: str, origins: Origins) -> ConfigIssue | None:
    """Apply one ``KEY=VALUE`` to the parsed document; returns an issue if it cannot be applied."""
    label = f"--set {option}"
    key, sep, raw = option.partition("=")
    path = parse_override_key(key.strip())
    if not sep or path is None:
        return ConfigIssue(label, None, "expected KEY=VALUE with a dotted key, e.g. sip.port=5070")
    node: Any = data
    for i, part in enumerate(path[:-1]):
        nxt = path[i + 1]
        if isinstance(part, int):
            if not isinstance(node, list) or part > len(node):
                return ConfigIssue(label, None, f"{key}: there is no entry {part} to set")
            if part == len(node):
                node.append({})
            node = node[part]
            continue
        if not isinstance(node, dict):
            return ConfigIssue(label, None, f"{key}: {part!r} is inside a value, not a table")
        node = node.setdefault(part, [] if isinstance(nxt, int) else {})
    last = path[-1]
    value = parse_override_value(raw.strip())
    if isinstance(last, int):
        if not isinstance(node, list) or last > len(node):
            return ConfigIssue(label, None, f"{key}: there is no entry {last} to set")
        if last == len(node):
            node.append(value)
        else:
            node[last] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        return ConfigIssue(label, None, f"{key}: the parent of '{last}' is not a table")
    origins.overrides[path] = label
    return None


def load_document(
    schema: type[T], path: Path, overrides: Sequence[str] = (), *, source: str | None = None
) -> T:
    """Read ``path``, apply ``overrides`` and build ``schema``; raises :class:`ConfigError`."""
    data, lines = read_toml(path)
    origins = Origins(source or str(path), lines, path.resolve().parent)
    issues = [issue for option in overrides if (issue := apply_override(data, option, origins))]
    builder = Builder(origins)
    result = builder.build(schema, data)
    issues.extend(builder.issues)
    # File problems in line order, then command-line ones.
    issues.sort(key=lambda i: (i.source != origins.source, i.line or 0))
    if issues or result is None:
        raise ConfigError(issues)
    return result


def default_data_dir() -> Path:
    """Where state lives when ``system.data_dir`` is not set.

    systemd's ``$STATE_DIRECTORY`` when run as a unit with ``StateDirectory=``, else
    ``/var/lib/centralita`` for root, else ``$XDG_STATE_HOME/centralita`` (``~/.local/state``).
    """
    state = os.environ.get("STATE_DIRECTORY")
    if state:
        return Path(state.split(":")[0])
    if os.geteuid() == 0:
        return Path("/var/lib/centralita")
    xdg = os.environ.get("XDG_STATE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "state") / "centralita"
