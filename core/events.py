"""The internal event bus and the events the PBX publishes.

Every subsystem that reacts to calls (console, AMI, CDR, CoAP observers) subscribes here instead of
being called by the channel code.  Events are frozen dataclasses; :class:`EventBus` delivers them
synchronously, in publication order, to callbacks, and to bounded async streams for consumers that
run as tasks (a slow consumer loses its oldest events and learns how many, it never stalls a call).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.callerid import CallerId
    from core.causes import HangupCause
    from core.channel import ChannelState

log = logging.getLogger("centralita.events")


@dataclass(frozen=True, slots=True)
class Event:
    """Base class of everything published on the bus."""


@dataclass(frozen=True, slots=True)
class ChannelCreated(Event):
    """A channel (one call leg) came into existence."""

    channel: str
    uniqueid: str
    state: ChannelState
    caller: CallerId
    context: str
    exten: str


@dataclass(frozen=True, slots=True)
class ChannelStateChanged(Event):
    """A channel moved from one state to another (``Ring`` -> ``Up``, ...)."""

    channel: str
    uniqueid: str
    old: ChannelState
    new: ChannelState


@dataclass(frozen=True, slots=True)
class ChannelHungUp(Event):
    """A channel was hung up; ``cause`` is the Q.850 cause it ended with."""

    channel: str
    uniqueid: str
    cause: HangupCause


@dataclass(frozen=True, slots=True)
class ChannelsBridged(Event):
    """Two or more channels were joined so that they hear each other."""

    bridge: str
    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ChannelsUnbridged(Event):
    """A channel left a bridge."""

    bridge: str
    channel: str


@dataclass(frozen=True, slots=True)
class NewExtension(Event):
    """A channel starts executing a dialplan application (what CDR ``lastapp``/``lastdata`` record)."""

    channel: str
    uniqueid: str
    context: str
    exten: str
    priority: int
    application: str
    data: str


@dataclass(frozen=True, slots=True)
class DialBegin(Event):
    """``Dial`` created an outbound leg ``destination`` for ``channel`` and is calling it."""

    channel: str
    uniqueid: str
    destination: str
    destination_uniqueid: str
    dialstring: str


@dataclass(frozen=True, slots=True)
class DialEnd(Event):
    """A dial attempt ended: ``dialstatus`` as Asterisk's DIALSTATUS (ANSWER, BUSY, NOANSWER, ...)."""

    channel: str
    uniqueid: str
    destination: str
    destination_uniqueid: str
    dialstatus: str


@dataclass(frozen=True, slots=True)
class UserEvent(Event):
    """``UserEvent(name,key: value,...)`` from the dialplan."""

    channel: str
    uniqueid: str
    name: str
    fields: tuple[tuple[str, str], ...]


EventCallback = Callable[[Event], None]


class Subscription:
    """A registered callback; :meth:`cancel` removes it."""

    __slots__ = ("_bus", "callback", "types")

    def __init__(self, bus: EventBus, callback: EventCallback, types: tuple[type[Event], ...]) -> None:
        self._bus = bus
        self.callback = callback
        self.types = types

    def cancel(self) -> None:
        """Stop receiving events (idempotent)."""
        self._bus._remove(self)


class EventStream:
    """A bounded queue of events for a consumer task; iterate it with ``async for``.

    When the consumer falls behind by more than ``maxsize`` events the oldest are dropped and counted in
    :attr:`dropped`, so telephony never waits on a slow AMI client.
    """

    def __init__(self, bus: EventBus, types: tuple[type[Event], ...], maxsize: int) -> None:
        self._queue: deque[Event] = deque()
        self._maxsize = maxsize
        self._waiter: asyncio.Future[None] | None = None
        self.dropped = 0
        self._closed = False
        self._subscription = bus.subscribe(self._push, *types)

    def _push(self, event: Event) -> None:
        if len(self._queue) >= self._maxsize:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(event)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def get(self) -> Event:
        """The next event, waiting for one if necessary."""
        while not self._queue:
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self._queue.popleft()

    def close(self) -> None:
        """Unsubscribe; a pending :meth:`get` ends the iteration."""
        self._closed = True
        self._subscription.cancel()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        return await self.get()


class EventBus:
    """Publish/subscribe for :class:`Event` objects, delivered synchronously in order."""

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        # True while anyone subscribes: publishers on a call's path check it before building an event, so a
        # PBX with no CDRs and no AMI builds none (a plain attribute: it is read a dozen times per call).
        self.active = False

    def subscribe(self, callback: EventCallback, *types: type[Event]) -> Subscription:
        """Call ``callback(event)`` for every event of the given types (all events if none given)."""
        subscription = Subscription(self, callback, types)
        self._subscriptions.append(subscription)
        self.active = True
        return subscription

    def stream(self, *types: type[Event], maxsize: int = 1000) -> EventStream:
        """A bounded :class:`EventStream` of the given types for a consumer task."""
        return EventStream(self, types, maxsize)

    def publish(self, event: Event) -> None:
        """Deliver ``event`` to every matching subscriber now.

        A subscriber that raises is logged and skipped; the publisher (a call in progress) never sees
        the exception.
        """
        if not self._subscriptions:
            return
        for subscription in tuple(self._subscriptions):
            if subscription.types and not isinstance(event, subscription.types):
                continue
            try:
                subscription.callback(event)
            except Exception:
                log.exception("event subscriber %r failed on %s", subscription.callback, type(event).__name__)

    def _remove(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)
            self.active = bool(self._subscriptions)
