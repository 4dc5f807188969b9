"""Functions that look beyond the channel at the PBX: CHANNELS and CHANNEL_EXISTS (``funcs/func_channel.c``),
SHARED (``funcs/func_global.c``), HANGUPCAUSE and HANGUPCAUSE_KEYS (``funcs/func_hangupcause.c``).

- ``CHANNELS([regex])``: the names of the live channels, separated by spaces, optionally only those a
  POSIX extended regular expression finds (case-insensitive, unanchored); a bad expression fails.
  The order is the PBX's (oldest first); Asterisk's is its hash container's.
- ``CHANNEL_EXISTS(name_or_uid)``: ``1`` when a live channel has that name (case-insensitive) or unique
  ID, else ``0``; an empty argument fails.
- ``SHARED(var[,channel])``: a variable kept with a channel that other channels may read and write (the
  channel given by its full name, its unique ID, or its name before the ``-`` sequence suffix).  Reading a
  channel that never had a shared variable fails; a missing variable reads as an empty string; writing an
  empty value deletes it.
- ``HANGUPCAUSE(channel,type)``: what a dialled channel ended with, recorded on the dialling channel by
  ``Dial``: ``ast`` is the cause's text (``ast_cause2str``), ``tech`` the technology's own code (SIP's
  ``SIP <status> <reason>``; empty where the technology has none).  ``HANGUPCAUSE_KEYS()``: the recorded
  channel names, separated by commas.

Outside a call (``dialplan eval``, tests on a bare context) there is no PBX: no channel is listed and no
other channel is found.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from core.causes import HangupCause
from core.dialplan.args import split_args
from core.dialplan.functions import reader, writer
from core.dialplan.functions.extras import extras
from core.dialplan.functions.strings import posix_ere_to_python

if TYPE_CHECKING:
    from core.channel import Channel
    from core.dialplan.runtime import EvalContext

log = logging.getLogger("centralita.dialplan")

_CAUSE_TEXTS = {int(cause): cause.description for cause in HangupCause}


def live_channels(ctx: EvalContext) -> list[Channel]:
    """The PBX's live channels, reached through the executor of the call being evaluated (else none)."""
    executor = getattr(ctx, "executor", None)
    pbx = getattr(executor, "pbx", None)
    channels: list[Channel] | None = getattr(pbx, "channels", None)
    return list(channels) if channels is not None else []


def find_channel(ctx: EvalContext, name: str) -> Channel | None:
    """``ast_channel_get_by_name``: a live channel named ``name`` (case-insensitive) or with that unique ID."""
    channels = live_channels(ctx)
    if ctx.channel not in channels:
        channels.append(ctx.channel)
    folded = name.lower()
    for channel in channels:
        if channel.name.lower() == folded:
            return channel
    for channel in channels:
        if channel.uniqueid == name:
            return channel
    return None


def _find_by_prefix(ctx: EvalContext, prefix: str) -> Channel | None:
    folded = prefix.lower()
    channels = live_channels(ctx)
    if ctx.channel not in channels:
        channels.append(ctx.channel)
    return next((channel for channel in channels if channel.name.lower().startswith(folded)), None)


@reader("CHANNELS", "Gets the list of channels, optionally filtering by a regular expression.")
def channels_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``CHANNELS([regular expression])`` (see the module docstring)."""
    pattern: re.Pattern[str] | None = None
    if data:
        try:
            pattern = re.compile(posix_ere_to_python(data), re.IGNORECASE | re.DOTALL)
        except (ValueError, re.error) as exc:
            log.warning("Error compiling regular expression for %s(%s): %s", cmd, data, exc)
            return None
    return " ".join(channel.name for channel in live_channels(ctx)
                    if pattern is None or pattern.search(channel.name) is not None)


@reader("CHANNEL_EXISTS", "Checks if the specified channel exists.")
def channel_exists_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``CHANNEL_EXISTS(name_or_uid)``: ``1`` or ``0``."""
    if not data:
        log.warning("%s: Channel name or unique ID required", cmd)
        return None
    return "1" if find_channel(ctx, data) is not None else "0"


def _shared_target(ctx: EvalContext, name: str | None, var: str, verb: str) -> Channel | None:
    if not name:
        return ctx.channel
    channel = find_channel(ctx, name) or _find_by_prefix(ctx, name + "-")
    if channel is None:
        log.error("Channel '%s' not found!  Variable '%s' %s.", name, var, verb)
    return channel


@reader("SHARED", "Gets or sets the shared variable specified.")
def shared_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``SHARED(var[,channel])``: the shared variable (see the module docstring)."""
    _argc, (var, channel_name) = split_args(data, 2)
    if not var:
        log.warning("SHARED() requires an argument: SHARED(<var>[,<chan>])")
        return None
    channel = _shared_target(ctx, channel_name, var, "will be blank")
    if channel is None:
        return None
    shared = extras(channel).shared
    if shared is None:
        return None
    return shared.get(var, "")


@writer("SHARED")
def shared_write(ctx: EvalContext, cmd: str, data: str | None, value: str | None) -> bool:
    """``Set(SHARED(var[,channel])=value)``: set (or with an empty value delete) the shared variable."""
    _argc, (var, channel_name) = split_args(data, 2)
    if not var:
        log.warning("SHARED() requires an argument: SHARED(<var>[,<chan>])")
        return False
    channel = _shared_target(ctx, channel_name, var, f"not set to '{value or ''}'")
    if channel is None:
        return False
    state = extras(channel)
    if state.shared is None:
        state.shared = {}
    state.shared.pop(var, None)
    if value:
        state.shared[var] = value
    return True


def cause_text(cause: int) -> str:
    """``ast_cause2str``: the cause's description, ``Unknown`` for a value without one."""
    return _CAUSE_TEXTS.get(cause, "Unknown")


@reader("HANGUPCAUSE", "Gets per-channel hangupcause information from the channel.")
def hangupcause_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``HANGUPCAUSE(channel,type)``: ``type`` ``ast`` or ``tech`` (see the module docstring)."""
    argc, (channel_name, kind) = split_args(data, 2)
    if argc != 2:
        log.warning("The HANGUPCAUSE function must have 2 parameters, not %d", argc)
        return None
    recorded = extras(ctx.channel).dialed_causes.get(channel_name or "")
    if recorded is None:
        log.warning("Unable to find information for channel %s", channel_name)
        return None
    cause, tech = recorded
    if kind == "ast":
        return cause_text(cause)
    if kind == "tech":
        return tech
    log.warning("Information type not recognized (%s)", kind)
    return None


@reader("HANGUPCAUSE_KEYS", "Gets the list of channels for which hangup causes are available.")
def hangupcause_keys_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``HANGUPCAUSE_KEYS()``: the dialled channels with a recorded cause, comma-separated."""
    return ",".join(extras(ctx.channel).dialed_causes)
