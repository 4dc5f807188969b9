"""Channel groups of ``funcs/func_groupcount.c`` over ``ast_app_group_*`` of ``main/app.c``: the way
dialplans limit concurrent calls (``Set(GROUP(trunk)=itsp)`` then ``GotoIf($[${GROUP_COUNT(itsp@trunk)} >
4]?busy)``).

One process-wide list of ``(channel, group, category)`` entries in insertion order, as Asterisk keeps it:

* ``Set(GROUP([category])=group)`` replaces the channel's entry of that category (categories compare
  without case; no category is its own category) and appends the new one; an empty group only removes.
* ``GROUP([category])`` reads the channel's group in that category — with no category, the channel's
  *first* entry whatever its category; nothing set is a failed read.
* ``GROUP_COUNT([group][@category])``: channels in that group (and category, if given), without case;
  with no group, the group of the channel's first entry (in that category); ``0`` when there is none.
* ``GROUP_MATCH_COUNT(regex[@category-regex])``: entries whose group (and category) match POSIX extended
  regular expressions (searched, not anchored); a bad expression counts 0; an empty argument fails.
* ``GROUP_LIST()``: the channel's entries as ``group@category`` (or ``group``), space separated.

An entry lasts as long as its channel: it stops counting once the channel has hung up (Asterisk drops it
when the channel is destroyed, right after its ``h`` extension).
"""

from __future__ import annotations

import logging
import re
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.dialplan.functions import reader, writer

if TYPE_CHECKING:
    from core.channel import Channel
    from core.dialplan.runtime import EvalContext

log = logging.getLogger("centralita.dialplan")


@dataclass(slots=True)
class _Entry:
    channel: weakref.ref[Channel]
    group: str
    category: str


_entries: list[_Entry] = []


def _live() -> list[_Entry]:
    """The entries of channels still up (dead ones are dropped on the way)."""
    alive = []
    for entry in _entries:
        channel = entry.channel()
        if channel is not None and not channel.is_hungup:
            alive.append(entry)
    _entries[:] = alive
    return alive


def _split(data: str | None) -> tuple[str, str]:
    """``ast_app_group_split_group``: ``group@category`` (either may be empty)."""
    group, _, category = (data or "").partition("@")
    return group, category


def _same_category(entry: _Entry, category: str) -> bool:
    if not category:
        return not entry.category
    return entry.category.lower() == category.lower()


def set_group(channel: Channel, data: str) -> None:
    """``ast_app_group_set_channel``."""
    group, category = _split(data)
    for entry in _live():
        if entry.channel() is channel and _same_category(entry, category):
            _entries.remove(entry)
            break
    if group:
        _entries.append(_Entry(weakref.ref(channel), group, category))


def _mine(channel: Channel) -> list[_Entry]:
    return [entry for entry in _live() if entry.channel() is channel]


@reader("GROUP", "Gets or sets the channel group.")
def group_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``GROUP([category])``."""
    for entry in _mine(ctx.channel):
        if not data or (entry.category and entry.category.lower() == data.lower()):
            return entry.group
    return None


@writer("GROUP")
def group_write(ctx: EvalContext, cmd: str, data: str | None, value: str | None) -> bool:
    """``Set(GROUP([category])=group)``."""
    if value is None:
        return False
    set_group(ctx.channel, f"{value}@{data}" if data else value)
    return True


@reader("GROUP_COUNT", "Counts the number of channels in the specified group.")
def group_count_read(ctx: EvalContext, cmd: str, data: str | None) -> str:
    """``GROUP_COUNT([group][@category])``."""
    group, category = _split(data)
    if not group:
        for entry in _mine(ctx.channel):
            if not category or (entry.category and entry.category.lower() == category.lower()):
                group = entry.group
                category = entry.category or category
                break
    if not group:
        return "0"
    count = sum(1 for entry in _live() if entry.group.lower() == group.lower()
                and (not category or (entry.category and entry.category.lower() == category.lower())))
    return str(count)


@reader("GROUP_MATCH_COUNT", "Counts the number of channels in the groups matching the specified pattern.")
def group_match_count_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``GROUP_MATCH_COUNT(groupmatch[@category])``."""
    group, category = _split(data)
    if not group:
        return None
    try:
        group_re = re.compile(group)
        category_re = re.compile(category) if category else None
    except re.error:
        log.error("Regex compile failed on: %s", data)
        return "0"
    count = sum(1 for entry in _live() if group_re.search(entry.group)
                and (category_re is None or (entry.category and category_re.search(entry.category))))
    return str(count)


@reader("GROUP_LIST", "Gets a list of the groups set on a channel.")
def group_list_read(ctx: EvalContext, cmd: str, data: str | None) -> str:
    """``GROUP_LIST()``."""
    return " ".join(f"{e.group}@{e.category}" if e.category else e.group for e in _mine(ctx.channel))
