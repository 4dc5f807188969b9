"""The switch and its channels, driven in memory by a scripted channel technology."""

from __future__ import annotations

import asyncio

import pytest

from core.callerid import CallerId
from core.causes import HangupCause
from core.channel import (
    Answered,
    Channel,
    ChannelDriver,
    ChannelState,
    ChannelUnavailable,
    DigitReceived,
    Direction,
    HungUp,
    Indication,
    IndicationReceived,
    wait_for_events,
)
from core.cli import CommandRegistry
from core.events import ChannelCreated, ChannelHungUp, ChannelStateChanged, Event, EventBus
from core.pbx import Pbx


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ScriptedDriver(ChannelDriver):
    """A technology whose far ends are the test: it records what the PBX asked of it."""

    technology = "Test"
    description = "scripted test legs"

    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self.actions: list[tuple[str, str, object]] = []
        self.unavailable: set[str] = set()

    def incoming(self, resource: str, exten: str, caller: CallerId) -> Channel:
        channel = self.pbx.new_channel(self, resource, direction=Direction.INBOUND, caller=caller,
                                       context="internal", exten=exten, state=ChannelState.RING)
        self.pbx.start_inbound(channel)
        return channel

    async def request(self, resource: str, *, requestor: Channel | None = None) -> Channel:
        if resource in self.unavailable:
            raise ChannelUnavailable(HangupCause.SUBSCRIBER_ABSENT)
        return self.pbx.new_channel(self, resource, direction=Direction.OUTBOUND)

    async def call(self, channel: Channel, *, timeout: float | None = None) -> None:
        self.actions.append(("call", channel.name, timeout))
        channel.set_state(ChannelState.RINGING)

    async def answer(self, channel: Channel) -> None:
        self.actions.append(("answer", channel.name, None))

    async def hangup(self, channel: Channel, cause: HangupCause) -> None:
        self.actions.append(("hangup", channel.name, cause))

    async def indicate(self, channel: Channel, indication: Indication) -> bool:
        self.actions.append(("indicate", channel.name, indication))
        return indication is Indication.RINGING

    async def send_digit(self, channel: Channel, digit: str, duration_ms: int) -> bool:
        self.actions.append(("digit", channel.name, digit))
        return True


class RecordingRunner:
    """A dialplan that answers, waits for one digit, then returns."""

    def __init__(self) -> None:
        self.digits: list[str] = []
        self.started = asyncio.Event()

    async def run(self, channel: Channel) -> None:
        channel.application, channel.app_data = "WaitExten", "5"
        self.started.set()
        await channel.answer()
        event = await channel.next_event(timeout=5)
        if isinstance(event, DigitReceived):
            self.digits.append(event.digit)


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def events(bus: EventBus) -> list[Event]:
    seen: list[Event] = []
    bus.subscribe(seen.append)
    return seen


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_pbx(bus: EventBus, clock: FakeClock, runner: object = None) -> tuple[Pbx, ScriptedDriver]:
    pbx = Pbx(bus, runner=runner, clock=clock, wallclock=lambda: 1_700_000_000.0)  # type: ignore[arg-type]
    driver = ScriptedDriver(pbx)
    pbx.register_driver(driver)
    return pbx, driver


async def test_inbound_leg_runs_the_dialplan_and_is_hung_up_when_it_ends(
        bus: EventBus, events: list[Event], clock: FakeClock) -> None:
    runner = RecordingRunner()
    pbx, driver = make_pbx(bus, clock, runner)
    channel = driver.incoming("1001", "600", CallerId("1001", "Alice"))
    assert channel.name == "Test/1001-00000001"
    assert channel.uniqueid == "1700000000.1"
    await runner.started.wait()
    assert pbx.active_calls == 1
    clock.now += 3
    channel.queue_event(DigitReceived("5"))
    cause = await asyncio.wait_for(channel.wait_hungup(), 2)

    assert runner.digits == ["5"]
    assert cause is HangupCause.NORMAL_CLEARING
    assert [a[0] for a in driver.actions] == ["answer", "hangup"]
    assert channel.billsec == 3.0
    assert pbx.channels == [] and pbx.calls_processed == 1
    assert [type(e) for e in events] == [ChannelCreated, ChannelStateChanged, ChannelStateChanged, ChannelHungUp]
    created = events[0]
    assert isinstance(created, ChannelCreated)
    assert created.caller == CallerId("1001", "Alice") and created.exten == "600"


async def test_far_end_hangup_ends_the_dialplan_wait(bus: EventBus, clock: FakeClock) -> None:
    runner = RecordingRunner()
    pbx, driver = make_pbx(bus, clock, runner)
    channel = driver.incoming("1001", "600", CallerId("1001"))
    await runner.started.wait()
    await asyncio.sleep(0)
    channel.remote_hungup(HangupCause.USER_BUSY)
    await asyncio.sleep(0.01)
    assert channel.hangup_cause is HangupCause.USER_BUSY
    assert ("hangup", channel.name, HangupCause.USER_BUSY) not in driver.actions  # never echoed back
    assert pbx.active_calls == 0
    assert await channel.next_event() == HungUp(HangupCause.USER_BUSY)


async def test_without_a_dialplan_inbound_calls_are_refused_with_congestion(
        bus: EventBus, clock: FakeClock) -> None:
    _pbx, driver = make_pbx(bus, clock, runner=None)
    channel = driver.incoming("1001", "600", CallerId("1001"))
    assert await asyncio.wait_for(channel.wait_hungup(), 2) is HangupCause.NORMAL_CIRCUIT_CONGESTION


async def test_request_and_call_an_outbound_leg(bus: EventBus, events: list[Event], clock: FakeClock) -> None:
    pbx, driver = make_pbx(bus, clock)
    leg = await pbx.request("test/2001")
    await leg.call(timeout=20)
    assert leg.state is ChannelState.RINGING
    assert leg.direction is Direction.OUTBOUND
    leg.queue_event(Answered())
    assert leg.state is ChannelState.UP
    assert await leg.next_event(timeout=1) == Answered()
    assert await leg.indicate(Indication.RINGING) is True
    assert await leg.indicate(Indication.CONGESTION) is False  # the core would play the tone in-band
    assert await leg.send_digit("#") is True
    with pytest.raises(ValueError):
        await leg.send_digit("x")
    assert ("call", leg.name, 20) in driver.actions


@pytest.mark.parametrize(("destination", "cause"), [
    ("Nope/1", HangupCause.CHAN_NOT_IMPLEMENTED),
    ("Test", HangupCause.INVALID_NUMBER_FORMAT),
    ("Test/absent", HangupCause.SUBSCRIBER_ABSENT),
])
async def test_request_failures_carry_a_cause(bus: EventBus, clock: FakeClock, destination: str,
                                             cause: HangupCause) -> None:
    pbx, driver = make_pbx(bus, clock)
    driver.unavailable.add("absent")
    with pytest.raises(ChannelUnavailable) as info:
        await pbx.request(destination)
    assert info.value.cause is cause


async def test_shutdown_hangs_up_everything_with_cause_16(bus: EventBus, clock: FakeClock) -> None:
    runner = RecordingRunner()
    pbx, driver = make_pbx(bus, clock, runner)
    inbound = driver.incoming("1001", "600", CallerId("1001"))
    outbound = await pbx.request("Test/2001")
    await runner.started.wait()
    await pbx.shutdown(timeout=2)
    assert inbound.hangup_cause is HangupCause.NORMAL_CLEARING
    assert outbound.hangup_cause is HangupCause.NORMAL_CLEARING
    assert pbx.channels == [] and pbx.active_calls == 0
    with pytest.raises(ChannelUnavailable):
        await pbx.request("Test/2002")


async def test_hangup_is_idempotent_and_published_once(bus: EventBus, events: list[Event],
                                                      clock: FakeClock) -> None:
    pbx, _driver = make_pbx(bus, clock)
    leg = await pbx.request("Test/2001")
    await leg.hangup(HangupCause.CALL_REJECTED)
    await leg.hangup(HangupCause.NORMAL_CLEARING)
    leg.remote_hungup(HangupCause.USER_BUSY)
    hangups = [e for e in events if isinstance(e, ChannelHungUp)]
    assert hangups == [ChannelHungUp(leg.name, leg.uniqueid, HangupCause.CALL_REJECTED)]


async def test_console_commands_show_and_hang_up_channels(bus: EventBus, clock: FakeClock) -> None:
    runner = RecordingRunner()
    pbx, driver = make_pbx(bus, clock, runner)
    registry = CommandRegistry()
    pbx.register_commands(registry)
    channel = driver.incoming("1001", "600", CallerId("1001", "Alice"))
    await runner.started.wait()
    await asyncio.sleep(0)

    table = (await registry.execute("core show channels")).output.splitlines()
    assert table[1] == f"{'Test/1001-00000001':<20} {'600@internal:1':<20} {'Up':<7} {'WaitExten(5)':<30}"
    assert table[2:] == ["1 active channel", "1 active call", "1 call processed"]

    concise = (await registry.execute("core show channels concise")).output
    assert concise.split("!")[:8] == ["Test/1001-00000001", "internal", "600", "1", "Up", "WaitExten", "5",
                                      "1001"]

    detail = (await registry.execute("core show channel Test/1001")).output
    assert "Caller ID Name: Alice" in detail and "State: Up (6)" in detail

    result = await registry.execute("channel request hangup Test/1001-00000001")
    assert result.output == "Requested hangup on channel 'Test/1001-00000001'"
    assert await asyncio.wait_for(channel.wait_hungup(), 1) is HangupCause.NORMAL_CLEARING
    assert (await registry.execute("core show channel Test/1001")).output == "Test/1001 is not a known channel"
    usage = await registry.execute("core show channels sideways")
    assert not usage.ok and usage.output.startswith("Usage: core show channels")


async def test_wait_for_events_wakes_on_the_first_leg_with_news_and_times_out_otherwise(
        bus: EventBus, clock: FakeClock) -> None:
    pbx, driver = make_pbx(bus, clock)
    first = await driver.request("a")
    second = await driver.request("b")
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await wait_for_events((first, second), 0.05) is False
    assert loop.time() - started >= 0.04
    assert first._waiters == [] and second._waiters == []  # nothing left behind
    loop.call_later(0.01, second.queue_event, IndicationReceived(Indication.RINGING))
    assert await wait_for_events((first, second), 5) is True
    assert second.poll_event() == IndicationReceived(Indication.RINGING)
    assert first.poll_event() is None
    loop.call_later(0.01, first.remote_hungup, HangupCause.USER_BUSY)
    assert await wait_for_events((first, second)) is True  # a hang-up counts, without a timeout too
    assert first.poll_event() == HungUp(HangupCause.USER_BUSY)
    assert await wait_for_events((first,), 0) is True  # a gone leg always has news
    waiter = asyncio.ensure_future(wait_for_events((second,)))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert second._waiters == []
