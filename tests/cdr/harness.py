"""A small telephone world for CDR tests: channels of a scripted technology, a fake clock, and helpers
that publish the events the dialplan executor, Dial and bridges publish, in the same order."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from core.callerid import CallerId
from core.causes import HangupCause
from core.cdr import CdrEngine, CdrOptions, CdrRecord
from core.channel import Channel, ChannelDriver, ChannelState, Direction
from core.events import ChannelsBridged, ChannelsUnbridged, DialBegin, DialEnd, EventBus, NewExtension
from core.pbx import Pbx

# 2013-03-04 13:11:18 UTC, the start time of the scenarios of the docs.asterisk.org CDR Specification.
EPOCH = 1362402678.0


class FakeClock:
    """Wall clock and monotonic clock that only move when told to."""

    def __init__(self, wall: float = EPOCH, mono: float = 1000.0) -> None:
        self.wall_now = wall
        self.mono_now = mono

    def wall(self) -> float:
        return self.wall_now

    def mono(self) -> float:
        return self.mono_now

    def advance(self, seconds: float) -> None:
        self.wall_now += seconds
        self.mono_now += seconds


class NullDriver(ChannelDriver):
    """A technology whose legs do nothing by themselves; the test drives them."""

    technology = "SIP"

    async def request(self, resource: str, *, requestor: Channel | None = None) -> Channel:
        raise NotImplementedError

    async def call(self, channel: Channel, *, timeout: float | None = None) -> None:
        return None

    async def answer(self, channel: Channel) -> None:
        return None

    async def hangup(self, channel: Channel, cause: HangupCause) -> None:
        return None


@dataclass
class MemoryBackend:
    """Keeps what the engine writes."""

    records: list[CdrRecord] = field(default_factory=list)
    closed: bool = False

    def write(self, record: CdrRecord) -> None:
        self.records.append(record)

    def close(self) -> None:
        self.closed = True


class World:
    """Channels, the bus and a CDR engine wired like the gateway wires them."""

    def __init__(self, options: CdrOptions | None = None, *, backends: list[object] | None = None,
                 **engine_kwargs: object) -> None:
        self.clock = FakeClock()
        self.bus = EventBus()
        self.pbx = Pbx(self.bus, clock=self.clock.mono, wallclock=self.clock.wall)
        self.driver = NullDriver()
        self.memory = MemoryBackend()
        self.engine = CdrEngine(
            self.bus, self.pbx.find_channel, [self.memory, *(backends or [])],  # type: ignore[list-item]
            wallclock=self.clock.wall, monotonic=self.clock.mono, options=options or CdrOptions(),
            **engine_kwargs,  # type: ignore[arg-type]
        )
        self._bridges = itertools.count(1)

    @property
    def records(self) -> list[CdrRecord]:
        return self.memory.records

    # -- legs ------------------------------------------------------------------------------------------

    def inbound(self, resource: str, number: str = "", name: str = "", exten: str = "s",
                context: str = "default") -> Channel:
        """A phone calls in (channel created in state Ring)."""
        return self.pbx.new_channel(self.driver, resource, direction=Direction.INBOUND,
                                    caller=CallerId(number, name), context=context, exten=exten,
                                    state=ChannelState.RING)

    def outbound(self, resource: str, caller: Channel | None = None) -> Channel:
        """A leg Dial (or an originate) creates; it inherits the caller's linkedid as Dial does."""
        channel = self.pbx.new_channel(self.driver, resource, direction=Direction.OUTBOUND)
        if caller is not None:
            channel.linkedid = caller.linkedid
        return channel

    # -- what the executor publishes ------------------------------------------------------------------

    def app(self, channel: Channel, application: str, data: str = "", *, exten: str | None = None,
            priority: int | None = None, context: str | None = None) -> None:
        """The dialplan starts ``application`` (executor.execute_priority publishes NewExtension)."""
        if context is not None:
            channel.context = context
        if exten is not None:
            channel.exten = exten
            channel.priority = 1 if priority is None else priority
        elif priority is not None:
            channel.priority = priority
        elif channel.application:
            channel.priority += 1
        channel.application, channel.app_data = application, data
        self.bus.publish(NewExtension(channel.name, channel.uniqueid, channel.context, channel.exten,
                                      channel.priority, application, data))

    def answer(self, channel: Channel) -> None:
        channel.set_state(ChannelState.UP)

    def ring(self, channel: Channel) -> None:
        channel.set_state(ChannelState.RINGING)

    def hangup(self, channel: Channel, cause: HangupCause = HangupCause.NORMAL_CLEARING) -> None:
        channel.remote_hungup(cause)

    # -- Dial and bridges -----------------------------------------------------------------------------

    def dial(self, caller: Channel, *resources: str) -> list[Channel]:
        """Dial creates one leg per resource, publishes DialBegin for each and calls them."""
        peers = []
        for resource in resources:
            peer = self.outbound(resource, caller)
            self.bus.publish(DialBegin(caller.name, caller.uniqueid, peer.name, peer.uniqueid,
                                       f"SIP/{resource}"))
            peers.append(peer)
        return peers

    def dial_end(self, caller: Channel | None, peer: Channel, status: str) -> None:
        self.bus.publish(DialEnd(caller.name if caller else "", caller.uniqueid if caller else "",
                                 peer.name, peer.uniqueid, status))

    def bridge(self, *channels: Channel) -> str:
        bridge = f"bridge-{next(self._bridges):08x}"
        self.bus.publish(ChannelsBridged(bridge, tuple(c.name for c in channels)))
        return bridge

    def unbridge(self, bridge: str, *channels: Channel) -> None:
        for channel in channels:
            self.bus.publish(ChannelsUnbridged(bridge, channel.name))

    def basic_call(self, talk: float = 112.0, ring: float = 8.0) -> tuple[Channel, Channel]:
        """The CDR Specification's "Basic Call": Alice calls 200, Dial(SIP/bob,,Tt), Bob answers after
        ``ring`` seconds, they talk ``talk`` seconds, Bob hangs up, then Alice's leg ends."""
        alice = self.inbound("alice", "100", "Alice", exten="200")
        self.app(alice, "Dial", "SIP/bob,,Tt", exten="200")
        (bob,) = self.dial(alice, "bob")
        self.ring(bob)
        self.clock.advance(ring)
        self.answer(bob)
        self.dial_end(alice, bob, "ANSWER")
        self.answer(alice)
        bridge = self.bridge(alice, bob)
        self.clock.advance(talk)
        self.hangup(bob)
        self.unbridge(bridge, alice, bob)
        self.hangup(alice)
        return alice, bob
