"""``CHANNEL(item)`` of ``funcs/func_channel.c``: read and write properties of the current channel.

Items are matched case-insensitively.  Readable: ``name``/``channame``, ``state``, ``channeltype``,
``uniqueid``, ``linkedid``, ``language``, ``accountcode``, ``context``, ``exten``, ``appname``,
``appdata``, ``checkhangup``, ``musicclass``, ``parkinglot``, ``userfield``, ``hangupsource``,
``peeraccount``, ``tenantid``, ``amaflags``, ``onhold``, ``callid``, ``max_forwards``,
``transfercapability``, ``callgroup``, ``pickupgroup``, ``namedcallgroup``, ``namedpickupgroup``,
``lastexten``, ``lastcontext``, ``peer``, ``after_bridge_goto``.  Writable: ``language``, ``accountcode``,
``musicclass``, ``parkinglot``, ``userfield``, ``peeraccount``, ``hangupsource``, ``tenantid``,
``amaflags``, ``max_forwards``.  Anything else logs "Unknown or unavailable item requested" and fails,
as it does in Asterisk when the channel technology does not know the item either.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from core.dialplan.args import scan_int_value
from core.dialplan.functions import reader, writer
from core.dialplan.functions.extras import amaflag_from_string, extras

if TYPE_CHECKING:
    from core.dialplan.runtime import EvalContext

log = logging.getLogger("centralita.dialplan")

@reader("CHANNEL", "Gets/sets various pieces of information about the channel.")
def channel_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``CHANNEL(item)`` (see the module docstring for the items)."""
    channel = ctx.channel
    item = (data or "").lower()
    more = extras(channel)
    if item in ("name", "channame"):
        return channel.name
    if item == "state":
        return channel.state.label
    if item == "channeltype":
        return channel.technology
    if item == "uniqueid":
        return channel.uniqueid
    if item == "linkedid":
        return channel.linkedid or channel.uniqueid
    if item == "language":
        return channel.language
    if item == "accountcode":
        return channel.accountcode
    if item == "context":
        return channel.context
    if item == "exten":
        return channel.exten
    if item == "appname" and channel.application:
        return channel.application
    if item == "appdata" and channel.application:
        return channel.app_data
    if item == "checkhangup":
        return "1" if channel.is_hungup else "0"
    if item in ("musicclass", "parkinglot", "userfield", "hangupsource", "peeraccount", "tenantid"):
        value: str = getattr(more, item)
        return value
    if item == "amaflags":
        return str(more.amaflags)
    if item == "onhold":
        return "0"
    if item == "max_forwards":
        return str(more.max_forwards)
    if item == "transfercapability":
        return "SPEECH"
    if item in ("callid", "callgroup", "pickupgroup", "namedcallgroup", "namedpickupgroup", "lastexten",
                "lastcontext", "peer", "after_bridge_goto"):
        return ""
    log.warning("Unknown or unavailable item requested: '%s'", data)
    return None


@writer("CHANNEL")
def channel_write(ctx: EvalContext, cmd: str, data: str | None, value: str | None) -> bool:
    """``Set(CHANNEL(item)=value)``."""
    channel = ctx.channel
    item = (data or "").lower()
    text = value or ""
    more = extras(channel)
    if item == "language":
        channel.language = text
    elif item == "accountcode":
        channel.accountcode = text
    elif item in ("musicclass", "parkinglot", "userfield", "hangupsource", "peeraccount", "tenantid"):
        setattr(more, item, text)
    elif item == "amaflags":
        more.amaflags = amaflag_from_string(text)
    elif item == "max_forwards":
        number = scan_int_value(text)
        if number is None:
            log.warning("Unable to set max forwards to '%s'", text)
            return False
        more.max_forwards = number
    else:
        log.warning("Unknown or unavailable item requested: '%s'", data)
        return False
    return True
