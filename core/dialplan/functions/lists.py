"""Delimited lists and arrays: FIELDQTY, FIELDNUM, LISTFILTER, SHIFT, POP, PUSH, UNSHIFT, HASH, HASHKEYS,
ARRAY (``funcs/func_strings.c``) and CUT, SORT (``funcs/func_cut.c``).

These functions take a variable *name* and read it as ``${name}`` (so ``PASSTHRU(...)`` or a name with
``:offset`` works too).  Delimiters are single characters decoded with ``ast_get_encoded_char``
(``\\054`` or ``\\x2C`` for a comma; a plain ``\\,`` already lost its backslash in argument splitting).
"""

from __future__ import annotations

import logging
import struct
from typing import TYPE_CHECKING

from core.dialplan import substitute as _sub
from core.dialplan.args import (
    INT_MAX,
    get_encoded_char,
    get_encoded_str,
    scan_float,
    scan_int,
    separate_args,
    split_args,
)
from core.dialplan.functions import reader, writer
from core.dialplan.functions.strings import variable_value

if TYPE_CHECKING:
    from core.dialplan.runtime import EvalContext

log = logging.getLogger("centralita.dialplan")


def _strsep_fields(value: str, delimiter: str) -> list[str]:
    # strsep() with a one-character delimiter set; a NUL delimiter set is empty and never splits.
    if not delimiter or delimiter == "\0":
        return [value]
    return value.split(delimiter)


def _ascii_casefold(text: str) -> str:
    return text.translate({c: c + 32 for c in range(ord("A"), ord("Z") + 1)})


@reader("FIELDQTY", "Count the fields with an arbitrary delimiter")
def fieldqty_read(ctx: EvalContext, cmd: str, data: str | None) -> str:
    """``FIELDQTY(varname,delim)``: number of fields; 0 for an empty variable, 1 without a delimiter."""
    _argc, (varname, delim) = split_args(data, 2)
    if delim is None:
        return "1"
    char, _consumed, _ok = get_encoded_char(delim)
    value = variable_value(ctx, varname or "")
    if not value:
        return "0"
    return str(len(_strsep_fields(value, char)))


@reader("FIELDNUM", "Return the 1-based offset of a field in a list")
def fieldnum_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``FIELDNUM(varname,delim,value)``: 1-based position of ``value`` (case-insensitive), else ``0``."""
    argc, (varname, delim, field) = split_args(data, 3)
    if argc < 3:
        log.error("Usage: FIELDNUM(<listname>,<delimiter>,<fieldvalue>)")
        return None
    value = variable_value(ctx, varname or "")
    if not value or not delim:
        return "0"
    char, _consumed, ok = get_encoded_char(delim)
    if not ok:
        return None
    wanted = _ascii_casefold(field or "")
    for index, item in enumerate(_strsep_fields(value, char), start=1):
        if _ascii_casefold(item) == wanted:
            return str(index)
    return "0"


@reader("LISTFILTER", "Remove an item from a list, by name.")
def listfilter_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``LISTFILTER(varname,delim,value)``: the list without the fields equal to ``value``.

    Fails (nothing substituted) when the list is empty; an empty delimiter means ``,``.
    """
    argc, (listname, delimiter, fieldvalue) = split_args(data, 3)
    if argc < 3:
        log.error("Usage: LISTFILTER(<listname>,<delimiter>,<fieldvalue>)")
        return None
    original = variable_value(ctx, listname or "")
    if not original:
        return None
    wanted = fieldvalue or ""
    if wanted not in original:
        return original
    delim = get_encoded_str(delimiter) or ","
    dlen = len(delim)
    flen = len(wanted)
    end = len(original)
    out: list[str] = []
    first = True
    begin = 0
    following = original.find(delim)
    while True:
        if following >= 0:
            current = following
            following = original.find(delim, current + dlen)
        else:
            current = end
        if current - begin == flen and original[begin:current] == wanted:
            begin += flen + dlen
        else:
            if not first:
                out.append(delim)
            out.append(original[begin:current])
            first = False
            begin = current + dlen
        if current >= end:
            break
    return "".join(out)


def _cut_range(spec: str) -> tuple[int, int] | None:
    # The four sscanf() forms func_cut.c tries, in order.
    first = scan_int(spec)
    if first is not None:
        start, pos = first
        if pos < len(spec) and spec[pos] == "-":
            second = scan_int(spec, pos + 1)
            if second is not None:
                return start, second[0]
    if spec[:1] == "-":
        only_end = scan_int(spec, 1)
        if only_end is not None:
            return 1, only_end[0]
    if first is not None:
        start, pos = first
        if pos < len(spec) and spec[pos] == "-":
            return start, INT_MAX
        return start, start
    return None


@reader("CUT", "Slices and dices strings, based upon a named delimiter.")
def cut_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``CUT(varname,char-delim,range-spec)``: fields ``N``, ``N-M``, ``-M``, ``N-`` joined with ``&``.

    The delimiter defaults to ``-`` when it cannot be decoded (empty); fields are output in the order
    they occur (asking for an earlier field after a later one logs a warning and outputs nothing more
    for it); an invalid range spec fails.
    """
    argc, (varname, delimiter, fields) = split_args(data, 3)
    if argc < 3:
        log.error("Syntax: CUT(<varname>,<char-delim>,<range-spec>) - missing argument!")
        return None
    value = variable_value(ctx, varname or "")
    char, _consumed, ok = get_encoded_char(delimiter or "")
    if not ok:
        char = "-"
    if not value:
        return ""
    pieces = _strsep_fields(value, char)
    out: list[str] = []
    index = 0  # pieces consumed so far; field numbers are 1-based
    for spec in (fields or "").split("&"):
        if index >= len(pieces):
            break
        bounds = _cut_range(spec)
        if bounds is None:
            log.error("Usage: CUT(<varname>,<char-delim>,<range-spec>)")
            return None
        start, stop = bounds
        while index < len(pieces) and index + 1 < start:
            index += 1
        if index + 1 > start:
            log.warning("We're already past the field you wanted?")
        while index < len(pieces) and index + 1 <= stop:
            out.append(pieces[index])
            index += 1
    return ("" if char == "\0" else char).join(out)


def _as_c_float(value: float) -> float:
    # func_cut.c keeps the values in a C float; equal-as-float values keep their order (stable sort).
    try:
        result: float = struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:
        result = float("inf") if value > 0 else float("-inf")
    return result


@reader("SORT", "Sorts a list of key/vals into a list of keys, based upon the vals.")
def sort_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``SORT(key1:val1[,key2:val2...])``: the keys ordered by their values as floats (stable)."""
    if data is None:
        log.error("SORT() requires an argument")
        return None
    entries: list[tuple[float, str]] = []
    for item in data.split(","):
        key, colon, value = item.partition(":")
        if not colon:
            continue
        number = scan_float(value)
        entries.append((_as_c_float(number if number is not None else 0.0), key))
    entries.sort(key=lambda entry: entry[0])
    return ",".join(key for _value, key in entries)


def _shift_pop(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    argc, (var, delimiter_text) = split_args(data, 2)
    if not var:
        log.warning("%s requires a variable name", cmd)
        return None
    before = variable_value(ctx, var)
    delimiter = ","
    if argc > 1 and delimiter_text:
        delimiter, _consumed, _ok = get_encoded_char(delimiter_text)
    if not before:
        return None
    if delimiter == "\0":
        position = len(before)
    else:
        position = before.find(delimiter) if cmd.startswith("S") else before.rfind(delimiter)
    if position < 0:
        _sub.assign(ctx, var, "")
        return before
    head, tail = before[:position], before[position + 1:]
    if cmd.startswith("S"):
        _sub.assign(ctx, var, tail)
        return head
    _sub.assign(ctx, var, head)
    return tail


@reader("SHIFT", "Removes and returns the first item off of a variable containing delimited text")
def shift_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``SHIFT(varname[,delimiter])``: remove and return the first item (fails when the list is empty)."""
    return _shift_pop(ctx, cmd, data)


@reader("POP", "Removes and returns the last item off of a variable containing delimited text")
def pop_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``POP(varname[,delimiter])``: remove and return the last item (fails when the list is empty)."""
    return _shift_pop(ctx, cmd, data)


def _unshift_push(ctx: EvalContext, cmd: str, data: str | None, value: str | None) -> bool:
    argc, (var, delimiter_text) = split_args(data, 2)
    if not var:
        log.warning("%s requires a variable name", cmd)
        return False
    delimiter = ","
    if argc > 1 and delimiter_text:
        delimiter, _consumed, _ok = get_encoded_char(delimiter_text)
    bare = var[min(len(var) - len(var.lstrip("_")), 2):]
    previous = variable_value(ctx, bare)
    new_value = value or ""
    if previous:
        first, second = (new_value, previous) if cmd.startswith("U") else (previous, new_value)
        # "%s%c%s" with a NUL delimiter ends the C string after the first part.
        new_value = first if delimiter == "\0" else first + delimiter + second
    _sub.assign(ctx, var, new_value)
    return True


@writer("PUSH", "Appends one or more values to the end of a variable containing delimited text")
def push_write(ctx: EvalContext, cmd: str, data: str | None, value: str | None) -> bool:
    """``Set(PUSH(varname[,delimiter])=value)``: append (the variable's underscores are kept when set)."""
    return _unshift_push(ctx, cmd, data, value)


@writer("UNSHIFT", "Inserts one or more values to the beginning of a variable containing delimited text")
def unshift_write(ctx: EvalContext, cmd: str, data: str | None, value: str | None) -> bool:
    """``Set(UNSHIFT(varname[,delimiter])=value)``: prepend."""
    return _unshift_push(ctx, cmd, data, value)


# -- HASH / ARRAY ------------------------------------------------------------------------------------------

def _hash_variable(hashname: str, key: str) -> str:
    if hashname[:2] == "__":
        return f"__~HASH~{hashname[2:]}~{key}~"
    if hashname[:1] == "_":
        return f"_~HASH~{hashname[1:]}~{key}~"
    return f"~HASH~{hashname}~{key}~"


def _hash_keys(ctx: EvalContext, hashname: str) -> list[str]:
    prefix = f"~HASH~{hashname}~"
    keys: list[str] = []
    # Asterisk walks the channel's variable list newest first.
    for stored in reversed(list(ctx.channel.variables)):
        name = _sub.stripped_name(stored)
        if len(name) > len(prefix) + 1 and name.endswith("~") and name.startswith(prefix):
            keys.append(name[len(prefix):-1])
    return keys


@reader("HASHKEYS", "Retrieve the keys of the HASH() function.")
def hashkeys_read(ctx: EvalContext, cmd: str, data: str | None) -> str:
    """``HASHKEYS(hashname)``: the keys, comma-separated, most recently set first."""
    return ",".join(_hash_keys(ctx, data or ""))


@reader("HASH", "Implementation of a dialplan associative array")
def hash_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``HASH(hashname,hashkey)``: one value; ``HASH(hashname)``: all values (sets ``~ODBCFIELDS~``)."""
    argc, (hashname, hashkey) = split_args(data, 2)
    if argc == 2:
        return _sub.getvar(ctx, f"~HASH~{hashname}~{hashkey}~") or ""
    if argc == 1:
        keys = _hash_keys(ctx, hashname or "")
        columns = ",".join(keys)
        _sub.assign(ctx, "~ODBCFIELDS~", columns)
        values = [_sub.getvar(ctx, f"~HASH~{hashname}~{column}~") or "" for column in separate_args(columns)]
        return ",".join(values)
    return ""


@writer("HASH")
def hash_write(ctx: EvalContext, cmd: str, data: str | None, value: str | None) -> bool:
    """``Set(HASH(hashname,hashkey)=value)``; without a key, assigns ``~ODBCFIELDS~`` columns (ARRAY)."""
    if data is None:
        return False
    if "," not in data:
        return _array(ctx, "HASH", data, value)
    _argc, (hashname, hashkey) = split_args(data, 2)
    _sub.assign(ctx, _hash_variable(hashname or "", hashkey or ""), value)
    return True


@writer("ARRAY", "Allows setting multiple variables at once.")
def array_write(ctx: EvalContext, cmd: str, data: str | None, value: str | None) -> bool:
    """``Set(ARRAY(var1,var2)=1,2)``: one variable per value; names without a value are set empty."""
    if data is None:
        return False
    return _array(ctx, "ARRAY", data, value)


def _array(ctx: EvalContext, cmd: str, names_text: str, value: str | None) -> bool:
    origvar = ""
    is_hash = cmd == "HASH"
    if is_hash:
        fields = _sub.getvar(ctx, "~ODBCFIELDS~")
        if fields is None:
            return False
        origvar, names_text = names_text, fields
    names = separate_args(names_text, limit=100)
    values = separate_args(value or "", limit=100)
    for i, name in enumerate(names):
        item = values[i] if i < len(values) else ""
        if is_hash:
            target = _hash_variable(origvar, name) if i < len(values) else f"~HASH~{origvar}~{name}~"
        else:
            target = name
        _sub.assign(ctx, target, item)
    return True
