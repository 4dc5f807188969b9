"""CONNECTEDLINE and REDIRECTING of ``funcs/func_callerid.c`` (``connectedline_read/write``,
``redirecting_read/write`` over ``party_id_read/write``).

Each party (the connected line, and the redirecting ``from``, ``to`` and ``orig`` parties, plus their
``priv-`` twins) has a name, a number, a tag, a presentation for each of name and number, a name
character set, a numbering plan, a subaddress and "valid" flags, as ``struct ast_party_id``.  The
connected line's name and number are the channel's :attr:`~core.channel.Channel.connected` and the
redirecting ``from`` number is :attr:`~core.channel.Channel.rdnis` (what ``CALLERID(rdnis)`` shows);
the rest is kept per channel in :mod:`core.dialplan.functions.extras`.

Items are ``-`` separated and case-insensitive: ``all``, ``name[-valid|-charset|-pres]``,
``num[ber][-valid|-plan|-pres]``, ``subaddr[ess][-valid|-type|-odd]``, ``tag``, ``ton``, ``pres``;
CONNECTEDLINE adds ``source`` and ``priv-...``; REDIRECTING reads ``orig-``/``from-``/``to-`` followed by
a party item, ``orig-reason``, ``reason``, ``count``, ``pres`` (the ``from`` party's combined
presentation) and ``priv-orig-``/``priv-from-``/``priv-to-``.  An unknown item logs "Unknown ... data
type" and reads as an empty string; a value that cannot be parsed logs "..., value unchanged".  Writes
take ``(item[,options])`` (option ``i``: do not send the update; centralita sends none either way).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.callerid import CallerId
from core.dialplan.args import atoi, parse_options, separate_args, split_args
from core.dialplan.functions import reader, writer
from core.dialplan.functions.callerid import (
    CHARSET_NAMES,
    _skip_blanks,
    _to_presentation,
    _trim_blanks,
    callerid_split,
    named_presentation,
    parse_presentation,
)
from core.dialplan.functions.extras import extras

if TYPE_CHECKING:
    from core.channel import Channel
    from core.dialplan.runtime import EvalContext

log = logging.getLogger("centralita.dialplan")

CONNECTED_LINE_SOURCES = {"unknown": 0, "answer": 1, "diversion": 2, "transfer_active": 3, "transfer": 3,
                          "transfer_alerting": 4}
"""``connected_line_source_types`` of main/callerid.c (``ast_connected_line_source_parse``)."""

_SOURCE_NAMES = {0: "unknown", 1: "answer", 2: "diversion", 3: "transfer", 4: "transfer_alerting"}

REDIRECTING_REASONS = {0: "unknown", 1: "cfb", 2: "cfnr", 3: "unavailable", 4: "cfu", 5: "time_of_day", 6: "dnd",
                       7: "deflection", 8: "follow_me", 9: "out_of_order", 10: "away", 11: "cf_dte",
                       12: "send_to_vm"}
"""``redirecting_reason_types`` of main/callerid.c (``ast_redirecting_reason_name``; others: ``not-known``)."""

_REASON_CODES = {name: code for code, name in REDIRECTING_REASONS.items()}

_MAX_MEMBERS = 10  # struct ast_party_members: char *subnames[10]


@dataclass(slots=True)
class Party:
    """``struct ast_party_id``: name, number, subaddress and tag, with their attributes."""

    name: str = ""
    name_valid: bool = False
    name_pres: int = 0
    charset: int = 1  # AST_PARTY_CHAR_SET_ISO8859_1
    number: str = ""
    number_valid: bool = False
    number_pres: int = 0
    plan: int = 0
    subaddress: str = ""
    subaddress_valid: bool = False
    subaddress_type: int = 0
    subaddress_odd: bool = False
    tag: str = ""

    def combined_presentation(self) -> int:
        """``ast_party_id_presentation``: the more restrictive of the valid name and number."""
        name_value, name_priority = _restriction(self.name_valid, self.name_pres)
        number_value, number_priority = _restriction(self.number_valid, self.number_pres)
        screening = self.number_pres & 0x03 if self.number_valid else 0
        if name_priority < number_priority:
            number_value = name_value
        if number_value == 0x40:
            return 0x43  # AST_PRES_NUMBER_NOT_AVAILABLE
        return number_value | screening


_RESTRICTION_PRIORITY = {0x20: 0, 0x00: 1, 0x40: 2}  # restricted, allowed, unavailable


def _restriction(valid: bool, presentation: int) -> tuple[int, int]:
    value = presentation & 0x60
    if not valid or value not in _RESTRICTION_PRIORITY:
        return 0x40, 3
    return value, _RESTRICTION_PRIORITY[value]


@dataclass(slots=True)
class PartyState:
    """The connected line and redirecting information of one channel."""

    connected: Party = field(default_factory=Party)
    connected_priv: Party = field(default_factory=Party)
    source: int = 0
    orig: Party = field(default_factory=Party)
    from_: Party = field(default_factory=Party)
    to: Party = field(default_factory=Party)
    priv_orig: Party = field(default_factory=Party)
    priv_from: Party = field(default_factory=Party)
    priv_to: Party = field(default_factory=Party)
    reason: tuple[int, str] = (0, "")
    orig_reason: tuple[int, str] = (0, "")
    count: int = 0


def party_state(channel: Channel) -> PartyState:
    """The channel's party state, with the connected line and ``from`` number synced from the channel."""
    state: PartyState | None = extras(channel).parties
    if state is None:
        state = PartyState()
        extras(channel).parties = state
    connected = channel.connected
    party = state.connected
    if connected.name != party.name:
        party.name, party.name_valid = connected.name, bool(connected.name)
    if connected.number != party.number:
        party.number, party.number_valid = connected.number, bool(connected.number)
    if channel.rdnis != state.from_.number:
        state.from_.number, state.from_.number_valid = channel.rdnis, bool(channel.rdnis)
    return state


def _store(channel: Channel, state: PartyState) -> None:
    party = state.connected
    presentation = _to_presentation(party.combined_presentation()) if party.name_valid or party.number_valid \
        else channel.connected.presentation
    channel.connected = CallerId(number=party.number, name=party.name, presentation=presentation)
    channel.rdnis = state.from_.number


def _reason_name(reason: tuple[int, str]) -> str:
    code, text = reason
    return text or REDIRECTING_REASONS.get(code, "not-known")


# -- party_id_read / party_id_write --------------------------------------------------------------------

def party_read(members: list[str], party: Party) -> str | None:
    """``party_id_read``: the value, or None for an unknown item."""
    if not members:
        return None
    first = members[0].lower()
    rest = [member.lower() for member in members[1:]]
    if len(members) == 1 and first == "all":
        return f'"{party.name if party.name_valid else ""}" <{party.number if party.number_valid else ""}>'
    if first == "name":
        if not rest:
            return party.name if party.name_valid else ""
        if rest == ["valid"]:
            return str(int(party.name_valid))
        if rest == ["charset"]:
            return CHARSET_NAMES.get(party.charset, "unknown")
        if len(rest) == 1 and rest[0].startswith("pres"):
            return named_presentation(party.name_pres)
        return None
    if first.startswith("num"):
        if not rest:
            return party.number if party.number_valid else ""
        if rest == ["valid"]:
            return str(int(party.number_valid))
        if rest == ["plan"]:
            return str(party.plan)
        if len(rest) == 1 and rest[0].startswith("pres"):
            return named_presentation(party.number_pres)
        return None
    if first.startswith("subaddr"):
        if not rest:
            return party.subaddress
        if rest == ["valid"]:
            return str(int(party.subaddress_valid))
        if rest == ["type"]:
            return str(party.subaddress_type)
        if rest == ["odd"]:
            return str(int(party.subaddress_odd))
        return None
    if len(members) == 1 and first == "tag":
        return party.tag
    if len(members) == 1 and first == "ton":
        return str(party.plan)
    if len(members) == 1 and first.startswith("pres"):
        return named_presentation(party.combined_presentation())
    return None


def _parse_number_or(text: str, parse: dict[str, int] | None) -> int:
    if "0" <= text[:1] <= "9":
        return atoi(text)
    if parse is None:
        return -1
    return parse.get(text.lower(), -1)


def party_write(members: list[str], party: Party, value: str) -> bool | None:
    """``party_id_write``: True (set), False (invalid value, unchanged), None (unknown item)."""
    if not members:
        return None
    first = members[0].lower()
    rest = [member.lower() for member in members[1:]]
    if len(members) == 1 and first == "all":
        party.name, party.number = callerid_split(value)
        party.name_valid = party.number_valid = True
        return True
    if first == "name":
        if not rest:
            party.name, party.name_valid = _trim_blanks(value), True
            return True
        if rest == ["valid"]:
            party.name_valid = bool(atoi(value))
            return True
        if rest == ["charset"]:
            text = _trim_blanks(value)
            charset = _parse_number_or(text, {name: code for code, name in CHARSET_NAMES.items()})
            if charset < 0:
                log.error("Unknown name char-set '%s', value unchanged", text)
                return False
            party.charset = charset
            return True
        if len(rest) == 1 and rest[0].startswith("pres"):
            text = _trim_blanks(value)
            pres = parse_presentation(text)
            if pres < 0:
                log.error("Unknown name presentation '%s', value unchanged", text)
                return False
            party.name_pres = pres
            return True
        return None
    if first.startswith("num"):
        if not rest:
            party.number, party.number_valid = _trim_blanks(value), True
            return True
        if rest == ["valid"]:
            party.number_valid = bool(atoi(value))
            return True
        if rest == ["plan"]:
            return _write_plan(party, value)
        if len(rest) == 1 and rest[0].startswith("pres"):
            text = _trim_blanks(value)
            pres = parse_presentation(text)
            if pres < 0:
                log.error("Unknown number presentation '%s', value unchanged", text)
                return False
            party.number_pres = pres
            return True
        return None
    if first.startswith("subaddr"):
        if not rest:
            party.subaddress = _trim_blanks(value)
            return True
        if rest == ["valid"]:
            party.subaddress_valid = bool(atoi(value))
            return True
        if rest == ["type"]:
            party.subaddress_type = 2 if atoi(value) else 0
            return True
        if rest == ["odd"]:
            party.subaddress_odd = bool(atoi(value))
            return True
        return None
    if len(members) == 1 and first == "tag":
        party.tag = _trim_blanks(value)
        return True
    if len(members) == 1 and first == "ton":
        return _write_plan(party, value)
    if len(members) == 1 and first.startswith("pres"):
        text = _trim_blanks(value)
        pres = parse_presentation(text)
        if pres < 0:
            log.error("Unknown combined presentation '%s', value unchanged", text)
            return False
        party.name_pres = party.number_pres = pres
        return True
    return None


def _write_plan(party: Party, value: str) -> bool:
    text = _trim_blanks(value)
    if not "0" <= text[:1] <= "9":
        log.error("Unknown type-of-number/numbering-plan '%s', value unchanged", text)
        return False
    party.plan = atoi(text)
    return True


def _members(text: str | None) -> list[str] | None:
    members = separate_args(text, "-", True, limit=_MAX_MEMBERS)
    if not members or len(members) >= _MAX_MEMBERS:
        return None
    return members


def _write_members(data: str | None, value: str | None) -> list[str] | None:
    # AST_STANDARD_APP_ARGS(member, opts) then the '-' split and ast_app_parse_options (only 'i').
    if value is None:
        return None
    argc, (member_text, options) = split_args(data, 2)
    if argc == 0:
        return None
    members = _members(member_text)
    if members is None:
        return None
    parse_options({"i": False}, options)
    return members


# -- CONNECTEDLINE -------------------------------------------------------------------------------------

@reader("CONNECTEDLINE", "Gets or sets Connected Line data on the channel.")
def connectedline_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``CONNECTEDLINE(item)`` (see the module docstring)."""
    members = _members(data)
    if members is None:
        return None
    state = party_state(ctx.channel)
    first = members[0].lower()
    if len(members) == 1 and first == "source":
        return _SOURCE_NAMES.get(state.source, "unknown")
    if first == "priv":
        result = party_read(members[1:], state.connected_priv)
    else:
        result = party_read(members, state.connected)
    if result is None:
        log.error("Unknown connectedline data type '%s'.", data)
        return ""
    return result


@writer("CONNECTEDLINE")
def connectedline_write(ctx: EvalContext, cmd: str, data: str | None, value: str | None) -> bool:
    """``Set(CONNECTEDLINE(item[,i])=value)``: leading blanks of the value are skipped."""
    members = _write_members(data, value)
    if members is None or value is None:
        return False
    value = _skip_blanks(value)
    channel = ctx.channel
    state = party_state(channel)
    first = members[0].lower()
    if len(members) == 1 and first == "source":
        text = _trim_blanks(value)
        source = _parse_number_or(text, CONNECTED_LINE_SOURCES)
        if source < 0:
            log.error("Unknown connectedline source '%s', value unchanged", text)
        else:
            state.source = source
        return True
    outcome = party_write(members[1:], state.connected_priv, value) if first == "priv" \
        else party_write(members, state.connected, value)
    if outcome is None:
        log.error("Unknown connectedline data type '%s'.", data)
    _store(channel, state)
    return True


# -- REDIRECTING ---------------------------------------------------------------------------------------

def _redirecting_party(state: PartyState, members: list[str]) -> tuple[Party, list[str]] | None:
    first = members[0].lower()
    parties = {"orig": state.orig, "from": state.from_, "to": state.to}
    if first in parties:
        return parties[first], members[1:]
    if len(members) > 1 and first == "priv":
        second = members[1].lower()
        private = {"orig": state.priv_orig, "from": state.priv_from, "to": state.priv_to}
        if second in private:
            return private[second], members[2:]
    return None


@reader("REDIRECTING", "Gets or sets Redirecting data on the channel.")
def redirecting_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``REDIRECTING(item)`` (see the module docstring)."""
    members = _members(data)
    if members is None:
        return None
    state = party_state(ctx.channel)
    first = members[0].lower()
    result: str | None
    if first == "orig" and len(members) == 2 and members[1].lower() == "reason":
        result = _reason_name(state.orig_reason)
    elif len(members) == 1 and first.startswith("pres"):
        result = named_presentation(state.from_.combined_presentation())
    elif len(members) == 1 and first == "reason":
        result = _reason_name(state.reason)
    elif len(members) == 1 and first == "count":
        result = str(state.count)
    else:
        target = _redirecting_party(state, members)
        result = party_read(target[1], target[0]) if target is not None else None
    if result is None:
        log.error("Unknown redirecting data type '%s'.", data)
        return ""
    return result


def _parse_reason(value: str) -> tuple[int, str]:
    text = _trim_blanks(value)
    code = _parse_number_or(text, _REASON_CODES)
    return (0, text) if code < 0 else (code, "")


@writer("REDIRECTING")
def redirecting_write(ctx: EvalContext, cmd: str, data: str | None, value: str | None) -> bool:
    """``Set(REDIRECTING(item[,i])=value)``: leading blanks of the value are skipped."""
    members = _write_members(data, value)
    if members is None or value is None:
        return False
    value = _skip_blanks(value)
    channel = ctx.channel
    state = party_state(channel)
    first = members[0].lower()
    if first == "orig" and len(members) == 2 and members[1].lower() == "reason":
        state.orig_reason = _parse_reason(value)
    elif len(members) == 1 and first.startswith("pres"):
        text = _trim_blanks(value)
        pres = parse_presentation(text)
        if pres < 0:
            log.error("Unknown redirecting combined presentation '%s', value unchanged", text)
        else:
            for party in (state.from_, state.to):
                party.name_pres = party.number_pres = pres
    elif len(members) == 1 and first == "reason":
        state.reason = _parse_reason(value)
    elif len(members) == 1 and first == "count":
        text = _trim_blanks(value)
        if "0" <= text[:1] <= "9":
            state.count = atoi(text)
        else:
            log.error("Unknown redirecting count '%s', value unchanged", text)
    else:
        target = _redirecting_party(state, members)
        outcome = party_write(target[1], target[0], value) if target is not None else None
        if outcome is None:
            log.error("Unknown redirecting data type '%s'.", data)
    _store(channel, state)
    return True
