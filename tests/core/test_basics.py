"""Hangup causes, caller IDs, the event bus and the command registry."""

from __future__ import annotations

import asyncio

import pytest

from core.callerid import CallerId, Presentation
from core.causes import HangupCause
from core.cli import CliRequest, CliUsageError, CommandRegistry
from core.events import ChannelHungUp, ChannelsBridged, Event, EventBus


@pytest.mark.parametrize(("text", "cause"), [
    ("16", HangupCause.NORMAL_CLEARING),
    ("USER_BUSY", HangupCause.USER_BUSY),
    ("user_busy", HangupCause.USER_BUSY),
    (" 34 ", HangupCause.NORMAL_CIRCUIT_CONGESTION),
    ("4", HangupCause.NORMAL_UNSPECIFIED),          # unassigned cause: its class's "unspecified"
    ("45", HangupCause.RESOURCE_UNAVAILABLE),
    ("90", HangupCause.INVALID_MSG_UNSPECIFIED),
])
def test_hangup_cause_parse(text: str, cause: HangupCause) -> None:
    assert HangupCause.parse(text) is cause


@pytest.mark.parametrize("text", ["128", "busy-ish", ""])
def test_hangup_cause_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        HangupCause.parse(text)


def test_hangup_cause_carries_q850_value_and_description() -> None:
    assert int(HangupCause.USER_BUSY) == 17
    assert HangupCause.NO_ANSWER.description == "User alerting, no answer"


@pytest.mark.parametrize(("text", "expected"), [
    ('"Alice Smith" <1001>', CallerId("1001", "Alice Smith")),
    ("Alice <1001>", CallerId("1001", "Alice")),
    ("<+34911234567>", CallerId("+34911234567")),
    ("1001", CallerId("1001")),
    ('"Say \\"hi\\"" <1>', CallerId("1", 'Say "hi"')),
    ("Reception", CallerId("", "Reception")),
])
def test_callerid_parse(text: str, expected: CallerId) -> None:
    assert CallerId.parse(text) == expected


def test_callerid_round_trip_and_presentation() -> None:
    cid = CallerId("1001", 'Bob "B"', Presentation.RESTRICTED)
    assert str(cid) == '"Bob \\"B\\"" <1001>'
    assert CallerId.parse(str(cid)).name == 'Bob "B"'
    assert cid.is_restricted and not CallerId("1").is_restricted
    assert cid.with_number("2002").number == "2002"


def test_bus_filters_by_type_and_survives_a_failing_subscriber() -> None:
    bus = EventBus()
    seen: list[Event] = []
    only_hangups: list[Event] = []

    def broken(_event: Event) -> None:
        raise RuntimeError("subscriber bug")

    bus.subscribe(broken)
    bus.subscribe(seen.append)
    sub = bus.subscribe(only_hangups.append, ChannelHungUp)
    hangup = ChannelHungUp("SIP/1-1", "1.1", HangupCause.NORMAL_CLEARING)
    bridged = ChannelsBridged("b1", ("SIP/1-1", "FXS/1-2"))
    bus.publish(hangup)
    bus.publish(bridged)
    sub.cancel()
    bus.publish(hangup)
    assert seen == [hangup, bridged, hangup]
    assert only_hangups == [hangup]


async def test_stream_drops_oldest_when_the_consumer_lags() -> None:
    bus = EventBus()
    stream = bus.stream(ChannelHungUp, maxsize=3)
    for i in range(5):
        bus.publish(ChannelHungUp(f"SIP/{i}", str(i), HangupCause.NORMAL_CLEARING))
    got = [await stream.get() for _ in range(3)]
    assert [e.channel for e in got if isinstance(e, ChannelHungUp)] == ["SIP/2", "SIP/3", "SIP/4"]
    assert stream.dropped == 2
    waiter = asyncio.ensure_future(stream.get())
    await asyncio.sleep(0)
    stream.close()
    with pytest.raises(StopAsyncIteration):
        await waiter


async def test_registry_longest_prefix_usage_and_help() -> None:
    registry = CommandRegistry()
    registry.register("sip show peers", lambda r: "peers " + " ".join(r.args), "Show peers")
    registry.register("sip show peer", lambda r: "one", "Show one peer")

    async def needs_arg(request: CliRequest) -> str:
        if not request.args:
            raise CliUsageError("a peer name is required")
        return request.args[0]

    registry.register("sip qualify peer", needs_arg, "Qualify a peer", "Usage: sip qualify peer <name>")
    assert (await registry.execute("SIP SHOW PEERS like 10*")).output == "peers like 10*"
    assert (await registry.execute("sip show peer 1001")).output == "one"
    assert (await registry.execute("sip qualify peer 1001")).output == "1001"
    failed = await registry.execute("sip qualify peer")
    assert not failed.ok and failed.output == "a peer name is required\nUsage: sip qualify peer <name>"
    assert (await registry.execute("help sip show peers")).output == "Usage: sip show peers"
    assert (await registry.execute("help sip show")).output.splitlines() == [
        "sip show peer                  -- Show one peer",
        "sip show peers                 -- Show peers",
    ]
    assert not (await registry.execute('sip show "unterminated')).ok
    with pytest.raises(ValueError):
        registry.register("sip show peers", lambda r: "", "again")


async def test_failing_command_reports_instead_of_crashing() -> None:
    registry = CommandRegistry()

    def broken(_request: CliRequest) -> str:
        raise KeyError("x")

    registry.register("broken", broken, "always fails")
    result = await registry.execute("broken")
    assert not result.ok and result.output == "Command 'broken' failed: 'x'"
