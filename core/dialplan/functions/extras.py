"""Per-channel attributes that dialplan functions read and write but :class:`core.channel.Channel` lacks.

``CHANNEL(musicclass)``, ``CHANNEL(amaflags)``, ``CALLERID(tag)`` and friends need somewhere to live.
Until ``Channel`` grows these fields they are kept here, keyed weakly by the channel so they vanish
with it.  Defaults are Asterisk's for a new channel (``amaflags`` is ``ast_default_amaflags``,
DOCUMENTATION = 3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from core.dialplan.args import scan_int_value

if TYPE_CHECKING:
    from core.channel import Channel

AMA_FLAGS = {"DEFAULT": 3, "OMIT": 1, "BILLING": 2, "DOCUMENTATION": 3}
"""``ast_channel_string2amaflag``: names of the AMA flags (anything else is 0, NONE)."""

AMA_NAMES = {1: "OMIT", 2: "BILLING", 3: "DOCUMENTATION"}
"""``ast_channel_amaflags2string`` (any other value is ``Unknown``)."""


@dataclass(slots=True)
class ChannelExtras:
    """The extra per-channel state (see the module docstring)."""

    musicclass: str = ""
    parkinglot: str = ""
    userfield: str = ""
    hangupsource: str = ""
    peeraccount: str = ""
    tenantid: str = ""
    amaflags: int = 3
    caller_tag: str = ""
    ani2: int = 0
    presentation: int | None = None
    max_forwards: int = 20  # main/max_forwards.c DEFAULT_MAX_FORWARDS
    exception: tuple[str, str, str, int] | None = None  # raise_exception: reason, context, exten, priority
    parties: Any = None  # CONNECTEDLINE/REDIRECTING state (core.dialplan.functions.parties.PartyState)
    shared: dict[str, str] | None = None  # SHARED(): None until the first write (no datastore yet)
    dialed_causes: dict[str, tuple[int, str]] = field(default_factory=dict)  # HANGUPCAUSE: name -> (cause, tech)


_extras: WeakKeyDictionary[Channel, ChannelExtras] = WeakKeyDictionary()


def extras(channel: Channel) -> ChannelExtras:
    """The extra state of ``channel`` (created with defaults on first use)."""
    found = _extras.get(channel)
    if found is None:
        found = ChannelExtras()
        _extras[channel] = found
    return found


def amaflag_from_string(value: str) -> int:
    """``CHANNEL(amaflags)=`` / ``CDR(amaflags)=``: a number, or a flag name (case-insensitive), else 0."""
    if "0" <= value[:1] <= "9":
        return scan_int_value(value) or 0
    return AMA_FLAGS.get(value.upper(), 0)


def record_dialed_cause(caller: Channel, dialed: Channel, cause: int) -> None:
    """Remember on ``caller`` how ``dialed`` ended (``ast_channel_dialed_causes_add``, for ``HANGUPCAUSE``).

    The technology's own code is SIP's ``SIP <status> <reason>`` (the ``SIP_CAUSE`` variable the SIP
    driver sets on a failed leg), or empty.
    """
    causes = extras(caller).dialed_causes
    causes.pop(dialed.name, None)
    causes[dialed.name] = (int(cause), dialed.variables.get("SIP_CAUSE", ""))
