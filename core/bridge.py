"""Bridges: legs joined so that they hear each other, until one leaves.

The signalling half lives here: digits and call-progress indications (hold, flash, ...) cross from one
leg to the other, a hang-up on either side ends the bridge, and a time limit (Dial's ``L``) can end it.
Audio is the media engine's business (issue "Media engine"): RTP relay or TDM mixing hooks in here.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.causes import HangupCause
from core.channel import Channel, DigitReceived, HungUp, Indication, IndicationReceived, wait_for_events
from core.events import ChannelsBridged, ChannelsUnbridged, EventBus

log = logging.getLogger("centralita.bridge")

_bridge_ids = itertools.count(1)

# What one leg signals and the other should learn (Answer/Ring belong to call set-up, not to a bridge).
_RELAYED = frozenset({Indication.HOLD, Indication.UNHOLD, Indication.FLASH, Indication.SRCUPDATE,
                      Indication.WINK})


@dataclass(frozen=True, slots=True)
class BridgeResult:
    """Why a bridge ended: the leg that left first (None when the time limit ended it) and its cause."""

    left: Channel | None
    cause: HangupCause
    limit_reached: bool = False


class Bridge:
    """Two legs joined until one hangs up or the limit expires."""

    def __init__(self, bus: EventBus, first: Channel, second: Channel) -> None:
        self.id = f"bridge-{next(_bridge_ids):08x}"
        self.bus = bus
        self.legs = (first, second)

    async def run(self, *, limit_s: float | None = None) -> BridgeResult:
        """Relay between the legs until one of them hangs up or ``limit_s`` seconds pass.

        One loop serves both directions: it takes every queued event of each leg in turn (the first leg
        first), and sleeps on both legs at once (:func:`~core.channel.wait_for_events`) when neither has any.
        """
        first, second = self.legs
        bus = self.bus
        if bus.active:
            bus.publish(ChannelsBridged(self.id, (first.name, second.name)))
        media = _connect_audio(first, second)
        loop = asyncio.get_running_loop()
        deadline = None if limit_s is None else loop.time() + limit_s
        try:
            while True:
                for source, sink in ((first, second), (second, first)):
                    event = source.poll_event()
                    while event is not None:
                        if isinstance(event, HungUp):
                            return BridgeResult(source, event.cause)
                        if isinstance(event, DigitReceived):
                            await sink.send_digit(event.digit, event.duration_ms)
                        elif isinstance(event, IndicationReceived) and event.indication in _RELAYED:
                            await sink.indicate(event.indication)
                        event = source.poll_event()
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    return BridgeResult(None, HangupCause.NORMAL_CLEARING, limit_reached=True)
                await wait_for_events(self.legs, remaining)
        finally:
            if media is not None:
                media()
            if bus.active:
                for leg in self.legs:
                    bus.publish(ChannelsUnbridged(self.id, leg.name))


def _connect_audio(first: Channel, second: Channel) -> Callable[[], None] | None:
    """Join the legs' audio in the media engine they share; returns what undoes it (None: nothing to join,
    e.g. a Local channel or SIP legs whose SDP was passed through)."""
    a, b = first.audio, second.audio
    if a is None or b is None:
        return None  # legs without media of their own (direct media, Local): no getattr() on None
    engine: Any = getattr(a, "engine", None)
    if engine is None or b is None or id(getattr(b, "engine", None)) != id(engine):
        return None
    disconnect: Callable[[Any, Any], None] = engine.disconnect
    engine.connect(a, b)
    return lambda: disconnect(a, b)
