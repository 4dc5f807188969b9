"""JSON_DECODE of ``funcs/func_json.c`` (Asterisk 20): ``JSON_DECODE(varname,item[,separator[,options]])``.

The variable's value is parsed as JSON (a top-level object or array, as jansson's ``json_loads`` without
``JSON_DECODE_ANY``) and ``item`` is walked with ``separator`` (default ``.``; anything but one
character is ignored with a warning): object members by name, array elements by a non-negative
integer.  Strings come out as they are, integers as C ``int`` (``%d``), reals with ``%.17g``, ``true``/
``false`` as ``1``/``0``, ``null`` as nothing, and an object or array reached at the end of the path as
its compact JSON (or, for an array with option ``c``, its element count).  A path that leaves the
document fails (nothing substituted) or, inside an array, gives an empty string, as ``parse_node`` does;
an empty variable, a missing name or item, or text that is not JSON fail.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from core.dialplan import substitute as _sub
from core.dialplan.args import parse_options, split_args
from core.dialplan.functions import reader

if TYPE_CHECKING:
    from core.dialplan.runtime import EvalContext

log = logging.getLogger("centralita.dialplan")

MAX_JSON_STACK = 32
_MISSING = object()


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _load(text: str) -> object:
    value = json.loads(text, parse_constant=_reject_constant)
    if not isinstance(value, dict | list):
        raise ValueError("top-level value is neither an object nor an array")
    return value


def _dump(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _str_to_int(text: str) -> int | None:
    """``ast_str_to_int``: the whole string (after leading blanks) must be a decimal ``int``."""
    stripped = text.lstrip(" \t\n\v\f\r")
    body = stripped[1:] if stripped[:1] in "+-" else stripped
    if not body or not body.isascii() or not body.isdigit():
        return None
    value = int(stripped)
    return value if -2**31 <= value < 2**31 else None


def _c_int(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - 2**32 if value >= 2**31 else value


def _parse_node(keys: list[str], count: bool, node: object, depth: int) -> str | None:
    """``parse_node``: the text of ``node`` after walking the remaining ``keys``; None is -1."""
    depth += 1
    if depth > MAX_JSON_STACK:
        log.warning("Max JSON stack (%d) exceeded", MAX_JSON_STACK)
        return None
    if node is _MISSING:
        return None
    if isinstance(node, str):
        return node
    if isinstance(node, bool):
        return "1" if node else "0"
    if isinstance(node, int):
        return str(_c_int(node))
    if isinstance(node, float):
        return f"{node:.17g}"
    if node is None:
        return ""
    if isinstance(node, list):
        if not keys:
            return str(len(node)) if count else _dump(node)
        index = _str_to_int(keys[0])
        if index is None or index < 0 or index >= len(node):
            return ""
        return _parse_node(keys[1:], count, node[index], depth)
    if isinstance(node, dict):
        if not keys:
            return _dump(node)
        return _parse_node(keys[1:], count, node.get(keys[0], _MISSING), depth)
    return None


@reader("JSON_DECODE", "Returns the string value of a JSON object key from a string containing a JSON array.")
def json_decode_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``JSON_DECODE(varname,item[,separator[,options]])`` (see the module docstring)."""
    _argc, (varname, item, separator, options) = split_args(data, 4)
    flags, _ = parse_options({"c": False}, options)
    if not varname:
        log.warning("%s requires a variable name", cmd)
        return None
    if not item:
        log.warning("%s requires a key", cmd)
        return None
    nest = "."
    if separator:
        if len(separator.encode("utf-8", "surrogateescape")) != 1:
            log.warning("Nesting separator '%s' has length %d and is invalid (must be a single character)",
                        separator, len(separator.encode("utf-8", "surrogateescape")))
        else:
            nest = separator
    text = _sub.substitute("${" + varname + "}", ctx)
    if not text:
        return None
    try:
        document = _load(text)
    except ValueError:
        log.warning("Failed to parse as JSON: %s", text)
        return None
    keys = item.split(nest)
    if isinstance(document, dict):
        start = document.get(keys[0], _MISSING)
    else:
        assert isinstance(document, list)
        index = _str_to_int(keys[0])
        if index is None:
            return None
        start = document[index] if 0 <= index < len(document) else _MISSING
    return _parse_node(keys[1:], "c" in flags, start, 0)
