"""The dialplan function registry (``${FUNC(args)}`` and ``Set(FUNC(args)=value)``).

Mirrors ``main/pbx_functions.c``: functions are registered by name (case-sensitive, as Asterisk's
``strcmp`` lookup), each with an optional read and write callback.  The built-in library is grouped by
theme in the modules of this package, each following its Asterisk ``funcs/func_*.c`` file, and is
loaded on first lookup so that importing the registry never imports the substitution engine.

A read callback gets ``(ctx, name, args)`` where ``args`` is the text between the first ``(`` and the
last ``)`` (None when the call had no parentheses) and returns the value, or None for failure (Asterisk's
``-1``: nothing is substituted).  A write callback gets ``(ctx, name, args, value)`` and returns whether
it succeeded.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.dialplan.runtime import EvalContext

ReadFunction = Callable[["EvalContext", str, "str | None"], "str | None"]
"""``(ctx, function name, args) -> value`` (None: the read failed)."""

WriteFunction = Callable[["EvalContext", str, "str | None", "str | None"], bool]
"""``(ctx, function name, args, value) -> success``."""

BUILTIN_MODULES = ("strings", "lists", "logic", "arithmetic", "sprintf", "clock", "callerid", "channel", "cdr",
                   "db", "variables", "timeout", "encoding", "uri", "hashes", "checks", "groups",
                   "textops", "stackinfo", "parties", "jsondecode",
                   "pbxinfo")


@dataclass(frozen=True, slots=True)
class DialplanFunction:
    """A registered dialplan function: ``ast_custom_function`` (name, read, write, synopsis)."""

    name: str
    read: ReadFunction | None = None
    write: WriteFunction | None = None
    synopsis: str = ""


_registry: dict[str, DialplanFunction] = {}
_builtins_loaded = False


def register(name: str, *, read: ReadFunction | None = None, write: WriteFunction | None = None,
             synopsis: str = "") -> DialplanFunction:
    """Register (or complete) the function ``name``.

    A name may be registered once with a reader and once with a writer (the two are merged); giving a
    callback that is already set raises ``ValueError`` ("Function %s already registered" in Asterisk).
    """
    existing = _registry.get(name)
    if existing is None:
        function = DialplanFunction(name, read, write, synopsis)
    else:
        if (read is not None and existing.read is not None) or (write is not None and existing.write is not None):
            raise ValueError(f"Function {name} already registered.")
        function = replace(existing, read=read or existing.read, write=write or existing.write,
                           synopsis=existing.synopsis or synopsis)
    _registry[name] = function
    return function


def unregister(name: str) -> None:
    """Remove ``name`` from the registry (no-op if absent)."""
    _registry.pop(name, None)


def reader(name: str, synopsis: str = "") -> Callable[[ReadFunction], ReadFunction]:
    """Decorator: register the decorated callable as ``name``'s read callback."""

    def decorate(func: ReadFunction) -> ReadFunction:
        register(name, read=func, synopsis=synopsis)
        return func

    return decorate


def writer(name: str, synopsis: str = "") -> Callable[[WriteFunction], WriteFunction]:
    """Decorator: register the decorated callable as ``name``'s write callback."""

    def decorate(func: WriteFunction) -> WriteFunction:
        register(name, write=func, synopsis=synopsis)
        return func

    return decorate


def load_builtins() -> None:
    """Import the built-in function modules (idempotent)."""
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    for module in BUILTIN_MODULES:
        importlib.import_module(f"{__name__}.{module}")


def get_function(name: str) -> DialplanFunction | None:
    """The function registered as ``name`` (exact case), or None."""
    if not _builtins_loaded:
        load_builtins()
    return _registry.get(name)


def registered_functions() -> list[DialplanFunction]:
    """Every registered function, sorted by name (``core show functions`` order)."""
    load_builtins()
    return [_registry[name] for name in sorted(_registry)]


all_functions = registered_functions
"""Alias of :func:`registered_functions` (used by ``core show functions``)."""
