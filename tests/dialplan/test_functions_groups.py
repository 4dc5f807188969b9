"""GROUP, GROUP_COUNT, GROUP_MATCH_COUNT and GROUP_LIST (func_groupcount.c): call limits across channels."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.causes import HangupCause
from core.dialplan.functions import get_function, groups
from core.dialplan.runtime import SimpleEvalContext
from core.dialplan.substitute import substitute
from tests.dialplan.test_substitute import make_ctx


@pytest.fixture(autouse=True)
def no_groups() -> Iterator[None]:
    groups._entries.clear()
    yield
    groups._entries.clear()


def assign(ctx: SimpleEvalContext, function: str, value: str) -> None:
    """``Set(function=value)``."""
    name, _, args = function.partition("(")
    found = get_function(name)
    assert found is not None and found.write is not None
    assert found.write(ctx, name, args.rstrip(")") or None, value)


def test_counting_calls_on_a_trunk_as_call_limits_do() -> None:
    calls = [make_ctx() for _ in range(3)]
    for ctx in calls:
        assign(ctx, "GROUP(trunk)", "itsp")
    other = make_ctx()
    assign(other, "GROUP(trunk)", "backup")
    assert substitute("${GROUP_COUNT(itsp@trunk)}", other) == "3"
    assert substitute("${GROUP_COUNT(ITSP@TRUNK)}", other) == "3"  # without case
    assert substitute("${GROUP_COUNT(itsp)}", other) == "3"  # any category
    assert substitute("${GROUP_COUNT()}", calls[0]) == "3"  # the channel's own group
    assert substitute("${GROUP_COUNT()}", other) == "1"
    assert substitute("${GROUP_MATCH_COUNT(^(itsp|backup)$@^tr)}", other) == "4"
    assert substitute("${GROUP_MATCH_COUNT(sp)}", other) == "3"  # searched, not anchored
    calls[1].channel.hangup_cause = HangupCause.NORMAL_CLEARING  # a call ended: it stops counting
    assert substitute("${GROUP_COUNT(itsp@trunk)}", other) == "2"


def test_a_channel_has_one_group_per_category_and_the_first_is_the_default() -> None:
    ctx = make_ctx()
    assign(ctx, "GROUP()", "plain")
    assign(ctx, "GROUP(trunk)", "itsp")
    assign(ctx, "GROUP(Trunk)", "other")  # replaces the "trunk" entry and goes last
    assert substitute("${GROUP_LIST()}", ctx) == "plain other@Trunk"
    assert substitute("${GROUP(trunk)}|${GROUP()}", ctx) == "other|plain"
    assign(ctx, "GROUP()", "")  # an empty group removes the entry of that category
    assert substitute("${GROUP_LIST()}|${GROUP()}", ctx) == "other@Trunk|other"
    assert substitute("[${GROUP(nothing)}]", ctx) == "[]"


def test_counts_of_nothing() -> None:
    ctx = make_ctx()
    assert substitute("${GROUP_COUNT()}|${GROUP_COUNT(x@y)}|[${GROUP_MATCH_COUNT()}]|[${GROUP_LIST()}]", ctx) \
        == "0|0|[]|[]"
    assert substitute("${GROUP_MATCH_COUNT(([)}", ctx) == "0"  # a bad expression counts nothing
