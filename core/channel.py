"""Channels (call legs) and the interface every channel technology implements.

A :class:`Channel` is one leg of a call (``SIP/1001-00000003``, ``FXS/1-00000004``): who is calling,
where it is in the dialplan, its variables and state, and how it ended (a Q.850 cause).  The technology
behind it is a :class:`ChannelDriver`; the channel calls the driver to act on the leg (answer, hang up,
indicate, send digits) and the driver reports what the far end did (answered, hung up, sent a digit)
through :meth:`Channel.remote_answered`, :meth:`Channel.remote_hungup` and :meth:`Channel.queue_event`,
which whoever owns the leg (a dialplan task, a bridge) reads with :meth:`Channel.next_event`.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Union

from core.callerid import CallerId
from core.causes import HangupCause
from core.events import ChannelHungUp, ChannelStateChanged, EventBus

log = logging.getLogger("centralita.channel")


class ChannelState(IntEnum):
    """Asterisk's channel states (``ast_channel_state``) with the labels its CLI prints."""

    label: str

    def __new__(cls, value: int, label: str) -> ChannelState:
        member = int.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    DOWN = 0, "Down"
    RESERVED = 1, "Rsrvd"
    OFFHOOK = 2, "OffHook"
    DIALING = 3, "Dialing"
    RING = 4, "Ring"
    RINGING = 5, "Ringing"
    UP = 6, "Up"
    BUSY = 7, "Busy"
    DIALING_OFFHOOK = 8, "Dialing Offhook"
    PRERING = 9, "Pre-ring"


class Indication(IntEnum):
    """Call-progress indications a leg sends or receives (Asterisk's ``AST_CONTROL_*`` numbering)."""

    RING = 2
    RINGING = 3
    ANSWER = 4
    BUSY = 5
    CONGESTION = 8
    FLASH = 9
    WINK = 10
    PROGRESS = 14
    PROCEEDING = 15
    HOLD = 16
    UNHOLD = 17
    SRCUPDATE = 20


class DeviceState(IntEnum):
    """State of a device (a phone, a port) for hints and ``ChanIsAvail`` (Asterisk's numbering)."""

    UNKNOWN = 0
    NOT_INUSE = 1
    INUSE = 2
    BUSY = 3
    INVALID = 4
    UNAVAILABLE = 5
    RINGING = 6
    RINGINUSE = 7
    ONHOLD = 8


class Direction(enum.Enum):
    """Whether the leg called us (inbound) or we called out on it (outbound)."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"


@dataclass(frozen=True, slots=True)
class DigitReceived:
    """The far end sent a DTMF digit (``0-9 * # A-D``) lasting ``duration_ms``."""

    digit: str
    duration_ms: int = 100


@dataclass(frozen=True, slots=True)
class IndicationReceived:
    """The far end signalled progress (ringing, busy, hold, flash, ...)."""

    indication: Indication


@dataclass(frozen=True, slots=True)
class Answered:
    """The far end answered an outbound leg."""


@dataclass(frozen=True, slots=True)
class HungUp:
    """The leg is gone; ``cause`` says why."""

    cause: HangupCause


ChannelEvent = Union[DigitReceived, IndicationReceived, Answered, HungUp]

DTMF_DIGITS = frozenset("0123456789*#ABCD")

# Members read on every call, as module globals: in CPython 3.11 reading one off the Enum class goes
# through EnumType's ``__getattr__`` hook, about ten times the cost of a global.
_UP = ChannelState.UP
_DOWN = ChannelState.DOWN

# Immutable values every leg needs: built once instead of once per channel or per hang-up.
_NOBODY = CallerId()
_ANSWERED = Answered()
_HUNG_UP = {cause: HungUp(cause) for cause in HangupCause}


_INDICATIONS = {indication: IndicationReceived(indication) for indication in Indication}


def _hung_up(cause: HangupCause) -> HungUp:
    return _HUNG_UP.get(cause) or HungUp(cause)


def indication_received(indication: Indication) -> IndicationReceived:
    """The event for ``indication`` (a shared immutable instance: drivers report progress with it)."""
    return _INDICATIONS[indication]


class ChannelUnavailable(Exception):
    """A driver cannot provide the requested leg; ``cause`` is what the dialplan sees."""

    def __init__(self, cause: HangupCause, reason: str = "") -> None:
        super().__init__(reason or cause.description)
        self.cause = cause


class ChannelDriver(ABC):
    """A channel technology (SIP, IAX2, FXS, FXO, E1, Local).

    The PBX calls these methods; they return once the action is under way.  What the far end does in
    response arrives later through the channel (:meth:`Channel.remote_answered` and friends).
    """

    technology: str = ""
    description: str = ""

    @abstractmethod
    async def request(self, resource: str, *, requestor: Channel | None = None) -> Channel:
        """Create an outbound leg toward ``resource`` (the part after ``TECH/``) without calling yet.

        Raises :class:`ChannelUnavailable` when the resource does not exist or cannot take a call.
        """

    @abstractmethod
    async def call(self, channel: Channel, *, timeout: float | None = None) -> None:
        """Start calling the destination of an outbound leg (INVITE, ring the port, seize the line)."""

    @abstractmethod
    async def answer(self, channel: Channel) -> None:
        """Answer an inbound leg."""

    @abstractmethod
    async def hangup(self, channel: Channel, cause: HangupCause) -> None:
        """Clear the leg toward the far end with ``cause``."""

    async def indicate(self, channel: Channel, indication: Indication) -> bool:
        """Signal progress to the far end; False when the technology cannot, so the core plays tones."""
        return False

    async def send_digit(self, channel: Channel, digit: str, duration_ms: int) -> bool:
        """Send a DTMF digit out of band; False when it must go in-band instead."""
        return False

    def device_state(self, resource: str) -> DeviceState:
        """State of the device behind ``resource`` for hints and ChanIsAvail."""
        return DeviceState.UNKNOWN

    async def transfer(self, channel: Channel, destination: str) -> bool:
        """Ask the far end to call ``destination`` instead (SIP REFER); False when unsupported."""
        return False


class Channel:
    """One call leg.  Created by a driver through :meth:`core.pbx.Pbx.new_channel`."""

    # Values most legs keep all their life: class attributes, which an assignment on a leg shadows.  Set in
    # __init__ they took a leg past the 30 names of CPython's shared-key instance layout, and every
    # channel had its attribute dict built and resized.
    connected: CallerId = _NOBODY
    ani: str = ""
    rdnis: str = ""
    language: str = "en"
    accountcode: str = ""
    # The leg's audio as the media engine sees it (an RTP port for SIP), set by the driver; None for legs
    # without media (Local channels, SIP in direct-media mode).
    audio: object = None
    _gone: asyncio.Event | None = None  # made by the first wait_hungup()

    def __init__(
        self,
        *,
        name: str,
        uniqueid: str,
        driver: ChannelDriver,
        resource: str,
        direction: Direction,
        bus: EventBus,
        clock: Callable[[], float],
        caller: CallerId | None = None,
        context: str = "default",
        exten: str = "s",
        state: ChannelState = ChannelState.DOWN,
    ) -> None:
        self.name = name
        self.uniqueid = uniqueid
        self.linkedid = uniqueid
        self.driver = driver
        self.resource = resource
        self.direction = direction
        self.caller = caller or _NOBODY
        self.dnid = exten
        self.context = context
        self.exten = exten
        self.priority = 1
        self.application = ""
        self.app_data = ""
        self.variables: dict[str, str] = {}
        self.hangup_cause: HangupCause | None = None
        self.tech: object = None
        self._bus = bus
        self._clock = clock
        self._state = state
        self.created_at = clock()
        self.answered_at: float | None = None
        self.hungup_at: float | None = None
        self._events: deque[ChannelEvent] = deque()
        self._waiters: list[asyncio.Future[bool]] = []  # of wait_for_events(), woken by the next event
        self._on_gone: list[Callable[[Channel], None]] = []

    def __repr__(self) -> str:
        return f"<Channel {self.name} {self._state.label}>"

    @property
    def technology(self) -> str:
        """The technology name, e.g. ``SIP``."""
        return self.driver.technology

    @property
    def state(self) -> ChannelState:
        """Current state; changes are published as :class:`~core.events.ChannelStateChanged`."""
        return self._state

    @property
    def is_hungup(self) -> bool:
        """True once the leg has been cleared from either side."""
        return self.hangup_cause is not None

    @property
    def duration(self) -> float:
        """Seconds since the leg was created (until it was hung up)."""
        end = self.hungup_at if self.hungup_at is not None else self._clock()
        return end - self.created_at

    @property
    def billsec(self) -> float:
        """Seconds since the leg was answered (0 if it never was)."""
        if self.answered_at is None:
            return 0.0
        end = self.hungup_at if self.hungup_at is not None else self._clock()
        return end - self.answered_at

    def add_hangup_callback(self, callback: Callable[[Channel], None]) -> None:
        """Call ``callback(channel)`` once, when the leg is gone."""
        self._on_gone.append(callback)

    def set_state(self, new: ChannelState) -> None:
        """Move to ``new`` and publish the change (drivers and the PBX call this)."""
        old = self._state
        if new == old:
            return
        self._state = new
        if new is _UP and self.answered_at is None:
            self.answered_at = self._clock()
        bus = self._bus
        if bus.active:
            bus.publish(ChannelStateChanged(self.name, self.uniqueid, old, new))

    # -- actions on the leg (dialplan, bridges) -------------------------------------------------------

    async def answer(self) -> None:
        """Answer the leg (no-op when already up)."""
        if self.hangup_cause is not None or self._state is _UP:
            return
        await self.driver.answer(self)
        self.set_state(_UP)

    async def hangup(self, cause: HangupCause = HangupCause.NORMAL_CLEARING) -> None:
        """Clear the leg toward the far end with ``cause`` (no-op when already cleared)."""
        if self.hangup_cause is not None:
            return
        self.hangup_cause = cause
        try:
            await self.driver.hangup(self, cause)
        except Exception:
            log.exception("%s: driver failed to hang up", self.name)
        self._finish(cause)

    async def indicate(self, indication: Indication) -> bool:
        """Signal progress toward the far end; False if the core must play the tone in-band."""
        if self.hangup_cause is not None:
            return False
        return await self.driver.indicate(self, indication)

    async def send_digit(self, digit: str, duration_ms: int = 100) -> bool:
        """Send one DTMF digit toward the far end."""
        if digit not in DTMF_DIGITS:
            raise ValueError(f"not a DTMF digit: {digit!r}")
        if self.is_hungup:
            return False
        return await self.driver.send_digit(self, digit, duration_ms)

    async def call(self, timeout: float | None = None) -> None:
        """Start calling an outbound leg's destination."""
        await self.driver.call(self, timeout=timeout)

    async def next_event(self, timeout: float | None = None) -> ChannelEvent | None:
        """The next thing the far end did, or None after ``timeout`` seconds without one.

        After the leg is gone this returns :class:`HungUp` at once (and keeps doing so).  Safe to cancel:
        an event is only taken from the queue when it is returned.
        """
        if not self._events:
            if self.hangup_cause is not None:
                return _hung_up(self.hangup_cause)
            if not await wait_for_events((self,), timeout):
                return None
        return self.poll_event()

    def poll_event(self) -> ChannelEvent | None:
        """The next queued event without waiting (None when there is none)."""
        if not self._events:
            return _hung_up(self.hangup_cause) if self.hangup_cause is not None else None
        return self._events.popleft()

    def has_event(self) -> bool:
        """True when :meth:`poll_event` would return something."""
        if self._events:
            return True
        return self.hangup_cause is not None

    async def wait_event_ready(self) -> None:
        """Return once an event is queued (without taking it): for waiting on several legs at once."""
        await wait_for_events((self,))

    async def wait_hungup(self) -> HangupCause:
        """Wait until the leg is gone and return its cause."""
        if self.hungup_at is None:
            if self._gone is None:
                self._gone = asyncio.Event()
            await self._gone.wait()
        assert self.hangup_cause is not None
        return self.hangup_cause

    # -- reports from the driver ----------------------------------------------------------------------

    def queue_event(self, event: ChannelEvent) -> None:
        """A driver reports something the far end did (digit, indication)."""
        if isinstance(event, HungUp):
            self.remote_hungup(event.cause)
            return
        if isinstance(event, Answered):
            self.remote_answered()
            return
        self._push(event)

    def _push(self, event: ChannelEvent) -> None:
        self._events.append(event)
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(True)

    def remote_answered(self) -> None:
        """The far end answered an outbound leg."""
        if self.hangup_cause is not None or self._state is _UP:
            return
        self.set_state(_UP)
        self._push(_ANSWERED)

    def remote_hungup(self, cause: HangupCause) -> None:
        """The far end cleared the leg."""
        if self.hangup_cause is not None:
            return
        self.hangup_cause = cause
        self._finish(cause)

    def _finish(self, cause: HangupCause) -> None:
        # Whoever is waiting on the leg (a dialplan application, a bridge) learns at once.
        self._push(_HUNG_UP.get(cause) or HungUp(cause))  # _hung_up() inlined
        self.hungup_at = self._clock()
        self.set_state(_DOWN)
        bus = self._bus
        if bus.active:
            bus.publish(ChannelHungUp(self.name, self.uniqueid, cause))
        if self._gone is not None:
            self._gone.set()
        callbacks, self._on_gone = self._on_gone, []
        for callback in callbacks:
            try:
                callback(self)
            except Exception:
                log.exception("%s: hangup callback failed", self.name)


async def wait_for_events(channels: Sequence[Channel], timeout: float | None = None) -> bool:
    """Return True once one of ``channels`` has an event to poll (or is gone), False after ``timeout``.

    One future for all of them, woken by the first event, instead of a task per channel and
    ``asyncio.wait`` (the asyncio docs' "Futures": ``loop.create_future``); nothing is taken from a queue.
    """
    for channel in channels:
        if channel._events or channel.hangup_cause is not None:  # has_event(), inlined: called per wait
            return True
    if timeout is not None and timeout <= 0:
        return False  # as asyncio.wait_for with a timeout of 0: no waiting at all
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[bool] = loop.create_future()
    for channel in channels:
        channel._waiters.append(waiter)
    handle = None if timeout is None else loop.call_later(timeout, _expire, waiter)
    try:
        return await waiter
    finally:
        if handle is not None:
            handle.cancel()
        for channel in channels:
            # The leg that woke us has already swapped its list out (_push): no ValueError to raise and catch.
            waiters = channel._waiters
            if waiter in waiters:
                waiters.remove(waiter)


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)
