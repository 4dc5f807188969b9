"""The Local channel technology: ``Local/exten@context`` dials into our own dialplan.

A request creates two legs, like Asterisk's ``core_local.c``: ``;1`` is handed to the requester (Dial),
``;2`` runs the dialplan at ``exten@context`` once ``;1`` is called.  What one leg does (answer, hang up,
indicate, send a digit) the other sees from its far end.  Useful on its own (ring groups, follow-me) and
as the way tests place calls through the dialplan without any network.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from core.causes import HangupCause
from core.channel import (
    Channel,
    ChannelDriver,
    ChannelState,
    ChannelUnavailable,
    DeviceState,
    DigitReceived,
    Direction,
    Indication,
    IndicationReceived,
)
from core.pbx import Pbx

log = logging.getLogger("centralita.local")

# Indications that a ;2 leg's dialplan sends and the ;1 requester should see.
_FORWARDED = frozenset(Indication) - {Indication.ANSWER}


def parse_resource(resource: str) -> tuple[str, str, str]:
    """``exten@context/options`` -> (exten, context, options); the context defaults to ``default``."""
    target, _, options = resource.partition("/")
    exten, at, context = target.partition("@")
    return exten, (context if at and context else "default"), options


class LocalDriver(ChannelDriver):
    """``Local/exten@context[/n]``."""

    technology = "Local"
    description = "Local Proxy Channel Driver"

    def __init__(self, pbx: Pbx, *, exists: Callable[[str, str], bool] | None = None) -> None:
        self.pbx = pbx
        self._exists = exists
        self._partner: dict[str, Channel] = {}

    async def request(self, resource: str, *, requestor: Channel | None = None) -> Channel:
        exten, context, _options = parse_resource(resource)
        if not exten:
            raise ChannelUnavailable(HangupCause.INVALID_NUMBER_FORMAT, f"bad Local resource {resource!r}")
        sequence = self.pbx.next_sequence()
        base = f"Local/{exten}@{context}-{sequence:08x}"
        owner = self.pbx.new_channel(self, resource, direction=Direction.OUTBOUND, name=f"{base};1",
                                     context=context, exten=exten)
        caller = requestor.caller if requestor is not None else None
        runner = self.pbx.new_channel(self, resource, direction=Direction.INBOUND, name=f"{base};2",
                                      caller=caller, context=context, exten=exten, state=ChannelState.RING)
        self._partner[owner.name] = runner
        self._partner[runner.name] = owner
        owner.tech = runner.tech = (exten, context)
        owner.add_hangup_callback(self._forget)
        runner.add_hangup_callback(self._forget)
        return owner

    def _forget(self, channel: Channel) -> None:
        partner = self._partner.pop(channel.name, None)
        if partner is not None:
            self._partner.pop(partner.name, None)
            # The other half learns from its far end, with the same cause.
            partner.remote_hungup(channel.hangup_cause or HangupCause.NORMAL_CLEARING)

    async def call(self, channel: Channel, *, timeout: float | None = None) -> None:
        runner = self._partner.get(channel.name)
        if runner is None:
            raise ChannelUnavailable(HangupCause.NORMAL_TEMPORARY_FAILURE, "the other half is gone")
        exten, context, _options = parse_resource(channel.resource)
        if self._exists is not None and not self._exists(context, exten):
            log.info("No such extension/context %s@%s while calling Local channel", exten, context)
            raise ChannelUnavailable(HangupCause.NO_ROUTE_DESTINATION, f"no {exten}@{context}")
        runner.caller = channel.caller
        runner.variables.update(channel.variables)
        self.pbx.start_inbound(runner)

    async def answer(self, channel: Channel) -> None:
        partner = self._partner.get(channel.name)
        if partner is not None:
            partner.remote_answered()

    async def hangup(self, channel: Channel, cause: HangupCause) -> None:
        return None  # the hang-up callback tells the other half

    async def indicate(self, channel: Channel, indication: Indication) -> bool:
        partner = self._partner.get(channel.name)
        if partner is not None and indication in _FORWARDED:
            partner.queue_event(IndicationReceived(indication))
        return True

    async def send_digit(self, channel: Channel, digit: str, duration_ms: int) -> bool:
        partner = self._partner.get(channel.name)
        if partner is not None:
            partner.queue_event(DigitReceived(digit, duration_ms))
        return True

    def device_state(self, resource: str) -> DeviceState:
        return DeviceState.UNKNOWN
