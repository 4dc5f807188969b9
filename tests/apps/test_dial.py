"""Dial through the channel drivers: statuses, forking, options, the bridge; ChanIsAvail; Transfer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core.causes import HangupCause
from core.channel import DeviceState, Indication
from core.events import ChannelsBridged, DialBegin, DialEnd
from tests.apps.harness import Behaviour, make_system

PLAN = """
[test]
exten => 100,1,Dial(${TARGET},${TIMEOUT},${OPTIONS})
 same => n,Set(AFTER=${DIALSTATUS})
 same => n,Hangup(31)
"""


async def dial(tmp_path: Path, target: str, *, timeout: str = "", options: str = "",
               behaviours: dict[str, Behaviour] | None = None, plan: str = PLAN):
    system = make_system(tmp_path, plan)
    system.phones.behaviours.update(behaviours or {})
    channel = await system.run_call("100", variables={"TARGET": target, "TIMEOUT": timeout, "OPTIONS": options})
    return system, channel


@pytest.mark.parametrize(("behaviour", "status"), [
    (Behaviour("busy"), "BUSY"),
    (Behaviour("congestion"), "CONGESTION"),
    (Behaviour("reject", cause=HangupCause.USER_BUSY), "BUSY"),
    (Behaviour("reject", cause=HangupCause.NORMAL_CIRCUIT_CONGESTION), "CONGESTION"),
    (Behaviour("reject", cause=HangupCause.SUBSCRIBER_ABSENT), "CHANUNAVAIL"),
    (Behaviour("unavailable", cause=HangupCause.SUBSCRIBER_ABSENT), "CHANUNAVAIL"),
])
async def test_failed_dials_set_dialstatus_and_continue(tmp_path: Path, behaviour: Behaviour, status: str) -> None:
    system, channel = await dial(tmp_path, "Phone/2001", behaviours={"2001": behaviour})
    assert channel.variables["DIALSTATUS"] == status
    assert channel.variables["AFTER"] == status  # Dial returned 0: the dialplan went on
    assert channel.hangup_cause is HangupCause.NORMAL_UNSPECIFIED


async def test_no_answer_within_the_timeout(tmp_path: Path) -> None:
    system, channel = await dial(tmp_path, "Phone/2001", timeout="0.1", behaviours={"2001": Behaviour("ring", 10)})
    assert channel.variables["DIALSTATUS"] == "NOANSWER"
    legs = [e for e in system.events if isinstance(e, DialEnd)]
    assert [e.dialstatus for e in legs] == ["NOANSWER"]
    # the caller heard ringing while the phone rang
    assert system.phones.indications[channel.name] == [Indication.RINGING]


async def test_unknown_technology_is_chanunavail(tmp_path: Path) -> None:
    _system, channel = await dial(tmp_path, "Nope/1")
    assert channel.variables["DIALSTATUS"] == "CHANUNAVAIL"


async def test_answered_call_is_bridged_until_the_callee_hangs_up(tmp_path: Path) -> None:
    system, channel = await dial(tmp_path, "Phone/2001",
                                 behaviours={"2001": Behaviour("answer", 0.01, hangup_after=0.05)})
    assert channel.variables["DIALSTATUS"] == "ANSWER"
    assert channel.variables["DIALEDPEERNUMBER"] == "2001"
    assert channel.variables["DIALEDPEERNAME"].startswith("Phone/2001-")
    # without 'g' the caller is hung up when the callee hangs up: AFTER never ran
    assert "AFTER" not in channel.variables
    assert channel.hangup_cause is HangupCause.NORMAL_CLEARING
    assert any(isinstance(e, ChannelsBridged) for e in system.events)


async def test_option_g_continues_after_the_callee_hangs_up(tmp_path: Path) -> None:
    _system, channel = await dial(tmp_path, "Phone/2001", options="g",
                                  behaviours={"2001": Behaviour("answer", 0.01, hangup_after=0.02)})
    assert channel.variables["AFTER"] == "ANSWER"


async def test_forked_dial_first_answer_wins_and_the_others_are_answered_elsewhere(tmp_path: Path) -> None:
    system, channel = await dial(tmp_path, "Phone/2001&Phone/2002&Phone/2003", options="g", behaviours={
        "2001": Behaviour("ring", 10), "2002": Behaviour("answer", 0.02, hangup_after=0.02),
        "2003": Behaviour("busy", 0.01)})
    assert channel.variables["DIALSTATUS"] == "ANSWER"
    assert channel.variables["DIALEDPEERNUMBER"] == "2002"
    hangups = {name: cause for action, name, cause in system.phones.actions if action == "hangup"}
    loser = next(n for n in hangups if n.startswith("Phone/2001-"))
    assert hangups[loser] is HangupCause.ANSWERED_ELSEWHERE
    begins = [e.dialstring for e in system.events if isinstance(e, DialBegin)]
    assert begins == ["Phone/2001", "Phone/2002", "Phone/2003"]
    ends = sorted(e.dialstatus for e in system.events if isinstance(e, DialEnd))
    assert ends == ["ANSWER", "BUSY", "CANCEL"]


async def test_everyone_busy_gives_busy_before_congestion(tmp_path: Path) -> None:
    _system, channel = await dial(tmp_path, "Phone/2001&Phone/2002", behaviours={
        "2001": Behaviour("congestion"), "2002": Behaviour("busy", 0.01)})
    assert channel.variables["DIALSTATUS"] == "BUSY"


async def test_caller_hanging_up_while_ringing_is_cancel(tmp_path: Path) -> None:
    system = make_system(tmp_path, PLAN + "exten => h,1,Set(GLOBAL(STATUS)=${DIALSTATUS})\n")
    system.phones.behaviours["2001"] = Behaviour("ring", 10)
    channel = system.phones.call_in("100", variables={"TARGET": "Phone/2001", "TIMEOUT": "", "OPTIONS": ""})
    await asyncio.sleep(0.05)
    channel.remote_hungup(HangupCause.NORMAL_CLEARING)
    await asyncio.sleep(0.05)
    assert system.executor.globals["STATUS"] == "CANCEL"
    leg_hangups = [a for a in system.phones.actions if a[0] == "hangup" and a[1].startswith("Phone/2001-")]
    assert leg_hangups


async def test_limit_option_cuts_the_call(tmp_path: Path) -> None:
    _system, channel = await dial(tmp_path, "Phone/2001", options="gL(100)",
                                  behaviours={"2001": Behaviour("answer", 0.0, hangup_after=30)})
    assert channel.variables["AFTER"] == "ANSWER"
    assert int(channel.variables["ANSWEREDTIME"]) == 0


async def test_dtmf_option_sends_digits_to_both_sides(tmp_path: Path) -> None:
    system, channel = await dial(tmp_path, "Phone/2001", options="gD(12:3)",
                                 behaviours={"2001": Behaviour("answer", 0.0, hangup_after=0.05)})
    callee = next(name for name in system.phones.digits if name.startswith("Phone/2001-"))
    assert system.phones.digits[callee] == ["1", "2"]
    assert system.phones.digits[channel.name] == ["3"]


async def test_dial_through_a_local_channel_into_the_dialplan(tmp_path: Path) -> None:
    plan = PLAN + """
exten => 200,1,Set(GLOBAL(INSIDE)=${CALLERID(num)})
 same => n,Answer()
 same => n,Wait(0.05)
 same => n,Hangup()
exten => 300,1,Busy()
"""
    system, channel = await dial(tmp_path, "Local/200@test", options="g", plan=plan)
    assert channel.variables["DIALSTATUS"] == "ANSWER"
    assert system.executor.globals["INSIDE"] == "1001"  # the caller ID crossed the Local channel
    _system2, busy = await dial(tmp_path, "Local/300@test", plan=plan)
    assert busy.variables["DIALSTATUS"] == "BUSY"
    _system3, missing = await dial(tmp_path, "Local/999@test", plan=plan)
    assert missing.variables["DIALSTATUS"] == "CHANUNAVAIL"


async def test_u_option_runs_a_subroutine_on_the_callee(tmp_path: Path) -> None:
    plan = PLAN + """
[screen]
exten => s,1,Set(GLOBAL(SCREENED)=${ARG1})
 same => n,Set(GOSUB_RESULT=BUSY)
 same => n,Return()
"""
    _system, channel = await dial(tmp_path, "Phone/2001", options="U(screen^vip)", plan=plan,
                                  behaviours={"2001": Behaviour("answer")})
    assert _system.executor.globals["SCREENED"] == "vip"
    assert channel.variables["DIALSTATUS"] == "BUSY"


async def test_dial_without_arguments_is_an_error(tmp_path: Path) -> None:
    system = make_system(tmp_path, "[test]\nexten => 100,1,Dial()\n same => n,Set(NEVER=1)\n")
    channel = await system.run_call("100")
    assert "NEVER" not in channel.variables


async def test_chanisavail_reports_device_states(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[test]
exten => 100,1,ChanIsAvail(Phone/busy&Phone/free,s)
 same => n,Set(R=${AVAILCHAN}|${AVAILORIGCHAN}|${AVAILSTATUS})
""")
    system.phones.states["busy"] = DeviceState.INUSE
    channel = await system.run_call("100")
    assert channel.variables["R"] == "Phone/free|Phone/free|2&1"


async def test_transfer_on_a_technology_without_transfer_is_unsupported(tmp_path: Path) -> None:
    system = make_system(tmp_path, "[test]\nexten => 100,1,Transfer(Phone/2002)\n same => n,Set(R=${TRANSFERSTATUS})\n")
    channel = await system.run_call("100")
    assert channel.variables["R"] == "UNSUPPORTED"
