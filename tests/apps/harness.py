"""A small telephone system in memory for dialplan tests: the switch, the executor, Local channels and a
scripted "Phone" technology whose far ends the test controls."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from core.apps import default_applications
from core.callerid import CallerId
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
from core.dialplan.executor import DialplanExecutor
from core.dialplan.loader import load_dialplan
from core.events import Event, EventBus
from core.local import LocalDriver
from core.pbx import Pbx


@dataclass
class Behaviour:
    """What a dialled phone does: answer after a delay, be busy, ring forever, refuse..."""

    action: str = "answer"          # answer | busy | congestion | ring | reject | unavailable | hangup
    delay: float = 0.0
    cause: HangupCause = HangupCause.CALL_REJECTED
    hangup_after: float | None = None


class Phones(ChannelDriver):
    """``Phone/<name>``: the test's telephones."""

    technology = "Phone"
    description = "scripted test phones"

    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self.behaviours: dict[str, Behaviour] = {}
        self.actions: list[tuple[str, str, object]] = []
        self.digits: dict[str, list[str]] = {}
        self.indications: dict[str, list[Indication]] = {}
        self.states: dict[str, DeviceState] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def call_in(self, exten: str, *, caller: str = "1001", name: str = "", context: str = "test",
                variables: dict[str, str] | None = None) -> Channel:
        channel = self.pbx.new_channel(self, caller, direction=Direction.INBOUND,
                                       caller=CallerId(caller, name), context=context, exten=exten,
                                       state=ChannelState.RING)
        channel.variables.update(variables or {})
        self.pbx.start_inbound(channel)
        return channel

    async def request(self, resource: str, *, requestor: Channel | None = None) -> Channel:
        behaviour = self.behaviours.get(resource, Behaviour())
        if behaviour.action == "unavailable":
            raise ChannelUnavailable(behaviour.cause)
        return self.pbx.new_channel(self, resource, direction=Direction.OUTBOUND)

    async def call(self, channel: Channel, *, timeout: float | None = None) -> None:
        self.actions.append(("call", channel.name, timeout))
        behaviour = self.behaviours.get(channel.resource, Behaviour())
        task = asyncio.ensure_future(self._far_end(channel, behaviour))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _far_end(self, channel: Channel, behaviour: Behaviour) -> None:
        channel.queue_event(IndicationReceived(Indication.RINGING))
        await asyncio.sleep(behaviour.delay)
        if channel.is_hungup:
            return
        if behaviour.action == "answer":
            channel.remote_answered()
            if behaviour.hangup_after is not None:
                await asyncio.sleep(behaviour.hangup_after)
                channel.remote_hungup(HangupCause.NORMAL_CLEARING)
        elif behaviour.action == "busy":
            channel.queue_event(IndicationReceived(Indication.BUSY))
        elif behaviour.action == "congestion":
            channel.queue_event(IndicationReceived(Indication.CONGESTION))
        elif behaviour.action in ("reject", "hangup"):
            channel.remote_hungup(behaviour.cause)

    async def answer(self, channel: Channel) -> None:
        self.actions.append(("answer", channel.name, None))

    async def hangup(self, channel: Channel, cause: HangupCause) -> None:
        self.actions.append(("hangup", channel.name, cause))

    async def indicate(self, channel: Channel, indication: Indication) -> bool:
        self.indications.setdefault(channel.name, []).append(indication)
        return True

    async def send_digit(self, channel: Channel, digit: str, duration_ms: int) -> bool:
        self.digits.setdefault(channel.name, []).append(digit)
        return True

    def device_state(self, resource: str) -> DeviceState:
        return self.states.get(resource, DeviceState.NOT_INUSE)

    def press(self, channel: Channel, digits: str) -> None:
        for digit in digits:
            channel.queue_event(DigitReceived(digit))


@dataclass
class System:
    bus: EventBus
    pbx: Pbx
    executor: DialplanExecutor
    phones: Phones
    events: list[Event] = field(default_factory=list)

    async def run_call(self, exten: str, *, timeout: float = 5.0, **kwargs: object) -> Channel:
        """Call ``exten`` from a phone and wait until the call is over."""
        channel = self.phones.call_in(exten, **kwargs)  # type: ignore[arg-type]
        await asyncio.wait_for(channel.wait_hungup(), timeout)
        await asyncio.sleep(0)
        return channel

    def hangup_cause(self, channel: Channel) -> HangupCause | None:
        return channel.hangup_cause


def make_system(tmp_path: Path, plan: str, *, wallclock: float | None = None) -> System:
    path = tmp_path / "extensions.conf"
    path.write_text(plan)
    bus = EventBus()
    pbx = Pbx(bus)
    executor = DialplanExecutor(pbx, bus, default_applications(),
                                wallclock=(lambda: wallclock) if wallclock is not None else __import__("time").time)
    executor.load(load_dialplan(path).dialplan)
    pbx.runner = executor
    phones = Phones(pbx)
    pbx.register_driver(phones)
    pbx.register_driver(LocalDriver(pbx, exists=lambda context, exten: executor.index is not None
                                    and executor.index.exists(context, exten, 1)))
    system = System(bus, pbx, executor, phones)
    bus.subscribe(system.events.append)
    return system
