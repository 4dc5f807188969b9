"""AstDB functions: DB, DB_EXISTS, DB_DELETE, DB_KEYS (``funcs/func_db.c``) and BLACKLIST
(``funcs/func_blacklist.c``), through ``ctx.astdb``.

``family/key`` is split at the first ``/`` (the key may contain more slashes).  ``DB`` and
``DB_EXISTS`` set ``DB_RESULT`` to the value when the key exists; ``DB_DELETE`` always sets it (empty
when there was nothing).  Without an AstDB every key is missing and writes log an error.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from core.dialplan import substitute as _sub
from core.dialplan.args import split_args
from core.dialplan.functions import reader, writer

if TYPE_CHECKING:
    from core.dialplan.runtime import EvalContext

log = logging.getLogger("centralita.dialplan")


def _family_key(data: str | None, name: str, usage: str) -> tuple[str, str] | None:
    if not data:
        log.warning("%s requires an argument, %s", name, usage)
        return None
    argc, (family, key) = split_args(data, 2, "/")
    if argc < 2:
        log.warning("%s requires an argument, %s", name, usage)
        return None
    return family or "", key or ""


def _get(ctx: EvalContext, family: str, key: str) -> str | None:
    astdb = ctx.astdb
    return None if astdb is None else astdb.get(family, key)


@reader("DB", "Read from or write to the Asterisk database.")
def db_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``DB(family/key)``: the value (empty if missing); sets ``DB_RESULT`` when found."""
    parts = _family_key(data, "DB", "DB(<family>/<key>)")
    if parts is None:
        return None
    value = _get(ctx, *parts)
    if value is None:
        log.debug("DB: %s/%s not found in database.", *parts)
        return ""
    _sub.assign(ctx, "DB_RESULT", value)
    return value


@writer("DB")
def db_write(ctx: EvalContext, cmd: str, data: str | None, value: str | None) -> bool:
    """``Set(DB(family/key)=value)``: store the value."""
    parts = _family_key(data, "DB", "DB(<family>/<key>)=<value>")
    if parts is None:
        return False
    astdb = ctx.astdb
    if astdb is None:
        log.warning("DB: Error writing value to database.")
        return True
    astdb.put(parts[0], parts[1], value or "")
    return True


@reader("DB_EXISTS", "Check to see if a key exists in the Asterisk database.")
def db_exists_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``DB_EXISTS(family/key)``: ``1`` (and ``DB_RESULT`` set to the value) or ``0``."""
    parts = _family_key(data, "DB_EXISTS", "DB(<family>/<key>)")
    if parts is None:
        return None
    value = _get(ctx, *parts)
    if value is None:
        return "0"
    _sub.assign(ctx, "DB_RESULT", value)
    return "1"


def _delete(ctx: EvalContext, data: str | None) -> str | None:
    parts = _family_key(data, "DB_DELETE", "DB_DELETE(<family>/<key>)")
    if parts is None:
        return None
    value = _get(ctx, *parts)
    if value is None:
        log.debug("DB_DELETE: %s/%s not found in database.", *parts)
        value = ""
    else:
        assert ctx.astdb is not None
        ctx.astdb.delete(*parts)
    _sub.assign(ctx, "DB_RESULT", value)
    return value


@reader("DB_DELETE", "Return a value from the database and delete it.")
def db_delete_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``DB_DELETE(family/key)``: delete and return the value; ``DB_RESULT`` is set to it (or empty)."""
    return _delete(ctx, data)


@writer("DB_DELETE")
def db_delete_write(ctx: EvalContext, cmd: str, data: str | None, value: str | None) -> bool:
    """``Set(DB_DELETE(family/key)=ignored)``: delete without reading (the value is ignored)."""
    return _delete(ctx, data) is not None


@reader("DB_KEYS", "Obtain a list of keys within the Asterisk database.")
def db_keys_read(ctx: EvalContext, cmd: str, data: str | None) -> str:
    """``DB_KEYS([prefix])``: the next key components under the prefix, comma-separated.

    Commas and backslashes inside keys are escaped with a backslash (``ast_str_append_escapecommas``);
    duplicates (case-insensitive, consecutive) are listed once.
    """
    prefix = (data or "").strip("/")
    astdb = ctx.astdb
    if astdb is None:
        return ""
    out: list[str] = []
    last = None
    for key in astdb.keys(prefix):
        component = key.strip("/").split("/", 1)[0]
        if last is not None and component.lower() == last.lower():
            continue
        last = component
        out.append(component.replace("\\", "\\\\").replace(",", "\\,"))
    return ",".join(out)


@reader("BLACKLIST", "Check if the callerid is on the blacklist.")
def blacklist_read(ctx: EvalContext, cmd: str, data: str | None) -> str:
    """``BLACKLIST()``: ``1`` if the caller's number or name is a key in AstDB family ``blacklist``."""
    caller = ctx.channel.caller
    listed = False
    for value in (caller.number, caller.name):
        if value and _get(ctx, "blacklist", value) is not None:
            listed = True
    return "1" if listed else "0"
