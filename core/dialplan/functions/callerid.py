"""``CALLERID(item[,caller-id])`` of ``funcs/func_callerid.c`` and caller-ID text handling of
``main/callerid.c`` (``ast_callerid_parse``/``ast_callerid_split``, presentation names).

Items (case-insensitive, ``-`` separated): ``all``, ``name[-valid|-charset|-pres]``,
``num[ber][-valid|-plan|-pres]``, ``subaddr[ess][...]``, ``tag``, ``ton``, ``pres``, ``ani[-...]``,
``ani2``, ``dnid[-num[-plan]]``, ``rdnis`` and ``priv-...``.  With a second argument the caller ID given
there is parsed instead of the channel's (``all``, ``name``, ``num`` only).  Unknown items log "Unknown
callerid data type" and give an empty value.

centralita's :class:`~core.callerid.CallerId` has one presentation (allowed/restricted/unavailable) and
no separate "valid" flags: a name or number is valid when it is not empty, and the exact Asterisk
presentation value last written (screening indicator included) is remembered per channel.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from core.callerid import CallerId, Presentation, shrink_phone_number
from core.dialplan.args import atoi, separate_args, split_args
from core.dialplan.functions import reader, writer
from core.dialplan.functions.extras import extras

if TYPE_CHECKING:
    from core.channel import Channel
    from core.dialplan.runtime import EvalContext

log = logging.getLogger("centralita.dialplan")

PRES_ALLOWED = 0x00
PRES_RESTRICTED = 0x20
PRES_UNAVAILABLE = 0x40
PRES_RESTRICTION = 0x60
PRES_NUMBER_TYPE = 0x03
PRES_NUMBER_NOT_AVAILABLE = 0x43

PRESENTATION_NAMES = {
    0x00: "allowed_not_screened",
    0x01: "allowed_passed_screen",
    0x02: "allowed_failed_screen",
    0x03: "allowed",
    0x20: "prohib_not_screened",
    0x21: "prohib_passed_screen",
    0x22: "prohib_failed_screen",
    0x23: "prohib",
    0x43: "unavailable",
}
"""``pres_types`` of main/callerid.c (``ast_named_caller_presentation``; other values are ``unknown``)."""

_PRESENTATION_VALUES = {name: value for value, name in PRESENTATION_NAMES.items()}

CHARSET_NAMES = {0: "unknown", 1: "iso8859-1", 2: "withdrawn", 3: "iso8859-2", 4: "iso8859-3", 5: "iso8859-4",
                 6: "iso8859-5", 7: "iso8859-7", 8: "bmp", 9: "utf8"}
"""``ast_party_name_charset_str``; new names are ``iso8859-1``."""


def named_presentation(value: int) -> str:
    """``ast_named_caller_presentation``."""
    return PRESENTATION_NAMES.get(value, "unknown")


def parse_presentation(text: str) -> int:
    """``CALLERID(pres)=``: a number (``atoi`` when it starts with a digit) or a name; -1 if unknown."""
    if "0" <= text[:1] <= "9":
        return atoi(text)
    return _PRESENTATION_VALUES.get(text.lower(), -1)


def _presentation_of(channel: Channel) -> int:
    # The exact value last written, if it still agrees with the channel's presentation.
    exact = extras(channel).presentation
    current = channel.caller.presentation
    if exact is not None and _to_presentation(exact) is current:
        return exact
    return {Presentation.ALLOWED: 0x00, Presentation.RESTRICTED: 0x20, Presentation.UNAVAILABLE: 0x43}[current]


def _to_presentation(value: int) -> Presentation:
    restriction = value & PRES_RESTRICTION
    if restriction == PRES_ALLOWED:
        return Presentation.ALLOWED
    if restriction == PRES_RESTRICTED:
        return Presentation.RESTRICTED
    return Presentation.UNAVAILABLE


def _id_presentation(name_valid: bool, number_valid: bool, value: int) -> int:
    # ast_party_id_presentation(): the more restrictive of name and number wins.
    priorities = {PRES_RESTRICTED: 0, PRES_ALLOWED: 1, PRES_UNAVAILABLE: 2}
    name_value, name_priority = PRES_UNAVAILABLE, 3
    if name_valid and (value & PRES_RESTRICTION) in priorities:
        name_value = value & PRES_RESTRICTION
        name_priority = priorities[name_value]
    number_screening, number_value, number_priority = 0, PRES_UNAVAILABLE, 3
    if number_valid and (value & PRES_RESTRICTION) in priorities:
        number_screening = value & PRES_NUMBER_TYPE
        number_value = value & PRES_RESTRICTION
        number_priority = priorities[number_value]
    if name_priority < number_priority:
        number_value = name_value
    if number_value == PRES_UNAVAILABLE:
        return PRES_NUMBER_NOT_AVAILABLE
    return number_value | number_screening


def combined_presentation(channel: Channel) -> int:
    """``ast_party_id_presentation`` of the channel's caller (``${CALLINGPRES}``)."""
    caller = channel.caller
    return _id_presentation(bool(caller.name), bool(caller.number), _presentation_of(channel))


# -- caller ID strings -------------------------------------------------------------------------------------

def is_phone_number(text: str) -> bool:
    """``ast_isphonenumber``: non-empty and only ``0-9*#+``."""
    return bool(text) and all(char in "0123456789*#+" for char in text)


def _trim_blanks(text: str) -> str:
    # ast_trim_blanks(): drop trailing characters below '!' (controls and space).
    end = len(text)
    while end and ord(text[end - 1]) < 33:
        end -= 1
    return text[:end]


def _skip_blanks(text: str) -> str:
    # ast_skip_blanks(): drop leading characters below '!'.
    start = 0
    while start < len(text) and ord(text[start]) < 33:
        start += 1
    return text[start:]


def _strip_quoted(text: str) -> str:
    text = text.strip(" \t\n\r\f\v")
    if text[:1] == '"' and text[-1:] == '"':
        return text[1:-1] if len(text) > 1 else ""
    return text


def _unescape_quoted(text: str) -> str:
    # ast_unescape_quoted(): a backslash makes the next character literal.
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 1
            if i >= len(text):
                break
        out.append(text[i])
        i += 1
    return "".join(out)


def callerid_parse(text: str) -> tuple[str | None, str | None]:
    """``ast_callerid_parse``: ``(name, location)`` of ``"Name" <number>`` and its variants.

    Surrounding quotes are stripped first; the number is in the last ``<...>`` (the ``>`` may be
    missing); without brackets, text that is a phone number once shrunk (and was not quoted) is the
    number, anything else the name.  Backslash escapes in the name are removed.
    """
    stripped = text.strip(" \t\n\r\f\v")
    inner = _strip_quoted(stripped)
    quotes_stripped = inner != stripped
    name: str | None
    location: str | None
    open_bracket = inner.rfind("<")
    if open_bracket >= 0:
        rest = inner[open_bracket + 1:]
        close = rest.rfind(">")
        location = rest[:close] if close >= 0 else rest
        name = _strip_quoted(inner[:open_bracket])
    else:
        shrunk = shrink_phone_number(inner[:255])
        if not quotes_stripped and is_phone_number(shrunk):
            name, location = None, shrunk
        else:
            name, location = _strip_quoted(inner), None
    if name is not None:
        name = _unescape_quoted(name)
    return name, location


def callerid_split(text: str) -> tuple[str, str]:
    """``ast_callerid_split``: ``(name, number)`` with the number shrunk; missing parts are empty."""
    name, location = callerid_parse(text)
    return name or "", shrink_phone_number(location) if location is not None else ""


# -- CALLERID() --------------------------------------------------------------------------------------------

_UNKNOWN = object()


def _party_read(members: list[str], name: str, number: str, presentation: int) -> str | object:
    # party_id_read() on one party: returns the value, or _UNKNOWN for an unknown item.
    if not members:
        return _UNKNOWN
    first = members[0].lower()
    rest = [member.lower() for member in members[1:]]
    if len(members) == 1 and first == "all":
        return f'"{name}" <{number}>'
    if first == "name":
        if not rest:
            return name
        if rest == ["valid"]:
            return "1" if name else "0"
        if rest == ["charset"]:
            return CHARSET_NAMES[1]
        if len(rest) == 1 and rest[0].startswith("pres"):
            return named_presentation(presentation)
        return _UNKNOWN
    if first.startswith("num"):
        if not rest:
            return number
        if rest == ["valid"]:
            return "1" if number else "0"
        if rest == ["plan"]:
            return "0"
        if len(rest) == 1 and rest[0].startswith("pres"):
            return named_presentation(presentation)
        return _UNKNOWN
    if first.startswith("subaddr"):
        if not rest:
            return ""
        if rest in (["valid"], ["type"], ["odd"]):
            return "0"
        return _UNKNOWN
    if len(members) == 1 and first == "ton":
        return "0"
    if len(members) == 1 and first.startswith("pres"):
        return named_presentation(_id_presentation(bool(name), bool(number), presentation))
    return _UNKNOWN


@reader("CALLERID", "Gets or sets Caller*ID data on the channel.")
def callerid_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``CALLERID(item[,caller-id])`` (see the module docstring)."""
    argc, (member_text, cid) = split_args(data, 2)
    if argc == 0:
        return None
    members = separate_args(member_text, "-", True, limit=10)
    if not members or len(members) >= 10:
        return None
    first = members[0].lower()
    if argc == 2:
        name, number = callerid_split(cid or "")
        if len(members) == 1 and first == "all":
            return f'"{name}" <{number}>'
        if len(members) == 1 and first == "name":
            return name
        if len(members) == 1 and first.startswith("num"):
            return number
        log.error("Unknown callerid data type '%s'.", data)
        return ""
    channel = ctx.channel
    result: str | object
    if len(members) == 1 and first == "rdnis":
        result = channel.rdnis
    elif first == "dnid":
        sub = [member.lower() for member in members[1:]] or ["num"]
        if sub[0].startswith("num") and len(sub) == 1:
            result = channel.dnid
        elif sub[0].startswith("num") and sub[1:] == ["plan"]:
            result = "0"
        elif sub[0].startswith("subaddr"):
            result = _party_read(["subaddr", *members[2:]], "", "", 0)
        else:
            result = _UNKNOWN
    elif len(members) == 1 and first == "ani2":
        result = str(extras(channel).ani2)
    elif first == "ani":
        result = _party_read(members[1:] or ["num"], "", channel.ani, PRES_ALLOWED)
    elif first == "priv":
        result = _party_read(members[1:], "", "", PRES_ALLOWED)
    elif len(members) == 1 and first == "tag":
        result = extras(channel).caller_tag
    else:
        caller = channel.caller
        result = _party_read(members, caller.name, caller.number, _presentation_of(channel))
    if result is _UNKNOWN:
        log.error("Unknown callerid data type '%s'.", data)
        return ""
    assert isinstance(result, str)
    return result


def _set_presentation(channel: Channel, text: str, what: str) -> bool:
    value = parse_presentation(_trim_blanks(text))
    if value < 0:
        log.error("Unknown %s presentation '%s', value unchanged", what, _trim_blanks(text))
        return False
    extras(channel).presentation = value
    channel.caller = replace(channel.caller, presentation=_to_presentation(value))
    return True


def _set_field(channel: Channel, field: str, text: str) -> None:
    if field == "name":
        channel.caller = channel.caller.with_name(text)
    else:
        channel.caller = channel.caller.with_number(text)


def _write_caller(channel: Channel, members: list[str], value: str) -> bool | None:
    # party_id_write() on the caller: True/False for valid/invalid values, None for an unknown item.
    first = members[0].lower()
    rest = [member.lower() for member in members[1:]]
    caller = channel.caller
    if len(members) == 1 and first == "all":
        name, number = callerid_split(value)
        channel.caller = CallerId(number=number, name=name, presentation=caller.presentation)
        return True
    if first == "name" or first.startswith("num"):
        field = "name" if first == "name" else "number"
        if not rest:
            _set_field(channel, field, _trim_blanks(value))
            return True
        if rest == ["valid"]:
            if not atoi(value):
                _set_field(channel, field, "")
            return True
        if field == "name" and rest == ["charset"]:
            text = _trim_blanks(value)
            known = "0" <= text[:1] <= "9" or text.lower() in CHARSET_NAMES.values()
            if not known:
                log.error("Unknown name char-set '%s', value unchanged", text)
            return known
        if field == "number" and rest == ["plan"]:
            text = _trim_blanks(value)
            if not "0" <= text[:1] <= "9":
                log.error("Unknown type-of-number/numbering-plan '%s', value unchanged", text)
                return False
            return True
        if len(rest) == 1 and rest[0].startswith("pres"):
            return _set_presentation(channel, value, field)
        return None
    if first.startswith("subaddr"):
        return True if not rest or rest in (["valid"], ["type"], ["odd"]) else None
    if len(members) == 1 and first == "tag":
        extras(channel).caller_tag = _trim_blanks(value)
        return True
    if len(members) == 1 and first == "ton":
        return _write_caller(channel, ["num", "plan"], value)
    if len(members) == 1 and first.startswith("pres"):
        return _set_presentation(channel, value, "combined")
    return None


@writer("CALLERID")
def callerid_write(ctx: EvalContext, cmd: str, data: str | None, value: str | None) -> bool:
    """``Set(CALLERID(item)=value)``: leading blanks of the value are skipped, trailing ones trimmed."""
    if value is None:
        return False
    argc, (member_text, _options, _other) = split_args(data, 3)
    if argc == 0:
        return False
    members = separate_args(member_text, "-", True, limit=10)
    if not members or len(members) >= 10:
        return False
    value = _skip_blanks(value)
    channel = ctx.channel
    first = members[0].lower()
    outcome: bool | None
    if len(members) == 1 and first == "rdnis":
        channel.rdnis = value
        outcome = True
    elif first == "dnid":
        sub = [member.lower() for member in members[1:]] or ["num"]
        if sub[0].startswith("num") and len(sub) == 1:
            channel.dnid = _trim_blanks(value)
            outcome = True
        elif sub[0].startswith("num") and sub[1:] == ["plan"]:
            outcome = "0" <= _trim_blanks(value)[:1] <= "9"
            if not outcome:
                log.error("Unknown type-of-number/numbering-plan '%s', value unchanged", _trim_blanks(value))
        elif sub[0].startswith("subaddr"):
            outcome = True if len(sub) == 1 or sub[1:] in (["valid"], ["type"], ["odd"]) else None
        else:
            outcome = None
    elif len(members) == 1 and first == "ani2":
        text = _trim_blanks(value)
        if "0" <= text[:1] <= "9":
            extras(channel).ani2 = atoi(text)
            outcome = True
        else:
            log.error("Unknown callerid ani2 '%s', value unchanged", text)
            outcome = False
    elif first == "ani":
        sub = members[1:] or ["num"]
        head = sub[0].lower()
        if len(sub) == 1 and head == "all":
            channel.ani = callerid_split(value)[1]
            outcome = True
        elif head.startswith("num") and len(sub) == 1:
            channel.ani = _trim_blanks(value)
            outcome = True
        else:
            outcome = True if head in ("name", "tag") or head.startswith(("num", "subaddr", "pres")) else None
    elif first == "priv":
        outcome = True
    else:
        outcome = _write_caller(channel, members, value)
    if outcome is None:
        log.error("Unknown callerid data type '%s'.", data)
    return True
