"""The PBX loop: priorities, fall-through, i/t/e/h extensions, digit collection, labels and jumps."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core.causes import HangupCause
from core.channel import ChannelState, Indication
from core.events import NewExtension
from tests.apps.harness import make_system


async def test_priorities_run_in_order_and_hangup_sets_the_cause(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[test]
exten => 100,1,Answer()
 same => n,Set(X=one)
 same => n,Set(Y=${X}-two)
 same => n,Hangup(USER_BUSY)
 same => n,Set(NEVER=reached)
""")
    channel = await system.run_call("100")
    assert channel.hangup_cause is HangupCause.USER_BUSY
    assert channel.variables["Y"] == "one-two" and "NEVER" not in channel.variables
    apps = [(e.priority, e.application, e.data) for e in system.events if isinstance(e, NewExtension)]
    assert apps == [(1, "Answer", ""), (2, "Set", "X=one"), (3, "Set", "Y=one-two"), (4, "Hangup", "USER_BUSY")]
    assert ("answer", channel.name, None) in system.phones.actions


async def test_running_off_the_end_hangs_up_normally(tmp_path: Path) -> None:
    system = make_system(tmp_path, "[test]\nexten => 100,1,Answer()\n")
    channel = await system.run_call("100")
    assert channel.hangup_cause is HangupCause.NORMAL_CLEARING


@pytest.mark.parametrize(("status", "indication"), [
    ("BUSY", Indication.BUSY),            # autofallthrough runs Busy(10)
    ("CONGESTION", Indication.CONGESTION),  # ...Congestion(10)
    ("CHANUNAVAIL", Indication.CONGESTION),
])
async def test_autofallthrough_signals_the_last_dial_status(tmp_path: Path, status: str,
                                                          indication: Indication) -> None:
    system = make_system(tmp_path, f"[test]\nexten => 100,1,Set(DIALSTATUS={status})\n")
    channel = system.phones.call_in("100")
    await asyncio.sleep(0.05)
    assert system.phones.indications.get(channel.name) == [indication]
    assert channel.state is ChannelState.BUSY
    channel.remote_hungup(HangupCause.NORMAL_CLEARING)   # the caller hangs up on the tone
    await asyncio.sleep(0.01)
    assert system.executor.contexts == {}


async def test_busy_on_an_unanswered_call_ends_it_with_cause_17(tmp_path: Path) -> None:
    system = make_system(tmp_path, "[test]\nexten => 100,1,Busy(0.05)\n")
    channel = await system.run_call("100")
    assert channel.hangup_cause is HangupCause.USER_BUSY


async def test_unknown_extension_falls_back_to_s(tmp_path: Path) -> None:
    system = make_system(tmp_path, "[test]\nexten => s,1,Set(WHERE=${EXTEN})\n same => n,Hangup(21)\n")
    channel = await system.run_call("999")
    assert channel.variables["WHERE"] == "s" and channel.hangup_cause is HangupCause.CALL_REJECTED


async def test_invalid_extension_goes_to_i_with_invalid_exten(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[test]
exten => 100,1,Goto(555,1)
exten => i,1,Set(BAD=${INVALID_EXTEN})
 same => n,Hangup(1)
""")
    channel = await system.run_call("100")
    assert channel.variables["BAD"] == "555" and channel.hangup_cause is HangupCause.UNALLOCATED


async def test_invalid_without_i_goes_to_e(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[test]
exten => 100,1,Goto(555,1)
exten => e,1,Set(WHY=${EXCEPTION_REASON})
 same => n,Hangup(31)
""")
    channel = await system.run_call("100")
    assert channel.variables["WHY"] == "INVALID" and channel.hangup_cause is HangupCause.NORMAL_UNSPECIFIED


async def test_h_extension_runs_after_the_caller_hangs_up(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[test]
exten => 100,1,Answer()
 same => n,Wait(10)
exten => h,1,Set(GLOBAL(LAST)=${CHANNEL} ${HANGUPCAUSE})
 same => n,Set(GLOBAL(AFTER)=yes)
""")
    channel = system.phones.call_in("100")
    await asyncio.sleep(0.05)
    channel.remote_hungup(HangupCause.NORMAL_CLEARING)
    await asyncio.sleep(0.05)
    assert system.executor.globals["AFTER"] == "yes"
    assert system.executor.globals["LAST"] == f"{channel.name} 16"


async def test_unknown_application_ends_the_call(tmp_path: Path) -> None:
    system = make_system(tmp_path, "[test]\nexten => 100,1,NoSuchApp(x)\n same => n,Set(NEVER=1)\n")
    channel = await system.run_call("100")
    assert "NEVER" not in channel.variables


async def test_waitexten_collects_digits_until_nothing_more_can_match(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[test]
exten => s,1,Answer()
 same => n,WaitExten(5)
exten => 12,1,Set(GOT=12)
 same => n,Hangup()
exten => 123,1,Set(GOT=123)
 same => n,Hangup()
""")
    channel = system.phones.call_in("s")
    await asyncio.sleep(0.02)
    system.phones.press(channel, "123")
    await asyncio.wait_for(channel.wait_hungup(), 3)
    # "12" exists, but "123" was still possible: Asterisk keeps collecting while more digits could match.
    assert channel.variables["GOT"] == "123"


async def test_waitexten_timeout_goes_to_t(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[test]
exten => s,1,WaitExten(0.05)
exten => t,1,Set(TIMEDOUT=yes)
 same => n,Hangup()
""")
    channel = await system.run_call("s")
    assert channel.variables["TIMEDOUT"] == "yes"


@pytest.mark.parametrize(("pressed", "invalid"), [("19", "19"), ("1", "1")])
async def test_dialled_number_that_cannot_match_goes_to_i(tmp_path: Path, pressed: str, invalid: str) -> None:
    system = make_system(tmp_path, """
[test]
exten => s,1,WaitExten(5)
exten => 123,1,Hangup()
exten => i,1,Set(BAD=${INVALID_EXTEN})
 same => n,Hangup()
""")
    channel = system.phones.call_in("s")
    await asyncio.sleep(0.02)
    system.executor.contexts[channel.name].timeouts.digit = 0.05  # "1" then nothing: digit timeout
    system.phones.press(channel, pressed)
    await asyncio.wait_for(channel.wait_hungup(), 3)
    assert channel.variables["BAD"] == invalid


async def test_goto_labels_and_relative_priorities(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[test]
exten => 100,1,Goto(jump)
 same => n,Set(SKIPPED=1)
 same => n(jump),Set(A=1)
 same => n,Goto(+2)
 same => n,Set(SKIPPED2=1)
 same => n,Goto(other,200,start)
[other]
exten => 200,1,NoOp()
 same => n(start),Set(WHERE=${CONTEXT}/${EXTEN}/${PRIORITY})
""")
    channel = await system.run_call("100")
    assert "SKIPPED" not in channel.variables and "SKIPPED2" not in channel.variables
    assert channel.variables["WHERE"] == "other/200/2"


async def test_gotoif_branches_and_missing_label(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[test]
exten => 100,1,GotoIf($[1 = 1]?yes:no)
 same => n(no),Set(R=no)
 same => n,Hangup()
 same => n(yes),Set(R=yes)
 same => n,GotoIf($[1 = 2]?nowhere)
 same => n,Set(EMPTY_FALSE_BRANCH=continued)
 same => n,GotoIf(1?missinglabel)
 same => n,Set(NEVER=1)
""")
    channel = await system.run_call("100")
    assert channel.variables["R"] == "yes"
    assert channel.variables["EMPTY_FALSE_BRANCH"] == "continued"
    assert "NEVER" not in channel.variables  # Asterisk: "Priority 'missinglabel' must be a number > 0, or valid label"


@pytest.mark.parametrize(("condition", "taken"), [
    ("1", True), ("0", False), ("", False), ("abc", True), (" 2", True), ("-1", True), ("0.9", False),
    ("00", False),
])
async def test_gotoif_condition_truth_follows_pbx_checkcondition(tmp_path: Path, condition: str, taken: bool) -> None:
    system = make_system(tmp_path, f"[test]\nexten => 100,1,GotoIf({condition}?t:f)\n"
                                   " same => n(t),Hangup(16)\n same => n(f),Hangup(17)\n")
    channel = await system.run_call("100")
    assert (channel.hangup_cause is HangupCause.NORMAL_CLEARING) is taken


async def test_absolute_timeout_goes_to_T(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[test]
exten => 100,1,Answer()
 same => n,Set(TIMEOUT(absolute)=0.05)
 same => n,Set(LEFT=${TIMEOUT(absolute)})
 same => n,Wait(5)
 same => n,Set(NEVER=1)
exten => T,1,Set(TIMED=${EXTEN})
 same => n,Hangup()
""")
    channel = await system.run_call("100", timeout=2)
    assert channel.variables["TIMED"] == "T" and "NEVER" not in channel.variables
    assert 0 < float(channel.variables["LEFT"]) <= 0.05


async def test_digit_and_response_timeouts_are_settable(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[test]
exten => s,1,Set(TIMEOUT(response)=0.05)
 same => n,Set(R=${TIMEOUT(response)}/${TIMEOUT(digit)})
 same => n,WaitExten()
exten => t,1,Hangup(18)
""")
    channel = await system.run_call("s")
    assert channel.variables["R"] == "0.050/5.000"
    assert channel.hangup_cause is HangupCause.NO_USER_RESPONSE


async def test_a_priority_loop_does_not_starve_other_calls(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[test]
exten => 100,1,Set(I=$[${I} + 1])
 same => n,GotoIf($[${I} < 3000]?1)
exten => 200,1,Set(GLOBAL(OTHER)=${EPOCH})
""")
    looping = system.phones.call_in("100", variables={"I": "0"})
    other = await system.run_call("200")
    assert other.hangup_cause is HangupCause.NORMAL_CLEARING and "OTHER" in system.executor.globals
    assert not looping.is_hungup  # the loop was still going while the other call ran to its end
    await asyncio.wait_for(looping.wait_hungup(), 10)
    assert looping.variables["I"] == "3000"
