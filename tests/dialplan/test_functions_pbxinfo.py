"""CHANNELS / CHANNEL_EXISTS (func_channel.c), SHARED (func_global.c), HANGUPCAUSE / HANGUPCAUSE_KEYS
(func_hangupcause.c), run in real calls through the executor and Dial."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.causes import HangupCause
from core.dialplan.runtime import SimpleEvalContext
from core.dialplan.substitute import set_application, substitute
from tests.apps.harness import Behaviour, make_system
from tests.dialplan.test_substitute import make_ctx


async def test_channels_and_channel_exists_see_the_pbx(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[idle]
exten => s,1,Wait(2)
[test]
exten => 100,1,Wait(0.05)
 same => n,Set(ALL=${CHANNELS()})
 same => n,Set(MINE=${CHANNELS(^phone/1001-)})
 same => n,Set(NONE=[${CHANNELS(^SIP/)}])
 same => n,Set(POSIX=${CHANNELS(^phone/[[:digit:]]{4}-0+2$)})
 same => n,Set(BAD=[${CHANNELS(a(b)}])
 same => n,Set(EXISTS=${CHANNEL_EXISTS(${CHANNEL})}${CHANNEL_EXISTS(${TOLOWER(${CHANNEL})})})
 same => n,Set(BYUID=${CHANNEL_EXISTS(${UNIQUEID})})
 same => n,Set(GONE=${CHANNEL_EXISTS(Phone/nobody-00000099)})
 same => n,Set(EMPTY=[${CHANNEL_EXISTS()}])
 same => n,Hangup()
""")
    other = system.phones.call_in("s", caller="2002", context="idle")
    channel = await system.run_call("100")
    assert channel.variables["ALL"].split(" ") == [other.name, channel.name]
    assert channel.variables["MINE"] == channel.name
    assert channel.variables["NONE"] == "[]"
    assert channel.variables["POSIX"] == channel.name  # a POSIX ERE, case-insensitive
    assert channel.variables["BAD"] == "[]"
    assert channel.variables["EXISTS"] == "11"
    assert channel.variables["BYUID"] == "1"
    assert channel.variables["GONE"] == "0"
    assert channel.variables["EMPTY"] == "[]"


async def test_shared_variables_between_channels(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[idle]
exten => s,1,Set(SHARED(status)=waiting)
 same => n,Wait(2)
[test]
exten => 100,1,Wait(0.05)
 same => n,Set(FIRST=${SHARED(status,Phone/2002)})
 same => n,Set(SHARED(status,Phone/2002)=taken)
 same => n,Set(SHARED(note,Phone/2002)=x)
 same => n,Set(SHARED(note,Phone/2002)=)
 same => n,Set(SECOND=${SHARED(status,Phone/2002)}[${SHARED(note,Phone/2002)}])
 same => n,Set(MINE=[${SHARED(status)}])
 same => n,Set(SHARED(mine)=1)
 same => n,Set(MINE2=[${SHARED(status)}])
 same => n,Set(LOST=[${SHARED(status,Phone/nobody)}])
 same => n,Hangup()
""")
    other = system.phones.call_in("s", caller="2002", context="idle")
    channel = await system.run_call("100")
    assert channel.variables["FIRST"] == "waiting"
    assert channel.variables["SECOND"] == "taken[]"
    # Never written on this channel: the read fails; once written, a missing name is empty.
    assert channel.variables["MINE"] == "[]" and channel.variables["MINE2"] == "[]"
    assert channel.variables["LOST"] == "[]"
    assert substitute("${SHARED(status)}", make_ctx(other)) == "taken"


def test_shared_on_a_bare_context() -> None:
    ctx: SimpleEvalContext = make_ctx()
    assert substitute("[${SHARED(x)}][${SHARED()}]", ctx) == "[][]"
    set_application(ctx, "SHARED(x)=1")
    assert substitute("[${SHARED(x)}][${SHARED(y)}][${SHARED(x,${CHANNEL})}]", ctx) == "[1][][1]"


@pytest.mark.parametrize(("action", "cause", "text"), [
    ("busy", HangupCause.USER_BUSY, "User busy"),
    ("congestion", HangupCause.NORMAL_CIRCUIT_CONGESTION, "Circuit/channel congestion"),
    ("reject", HangupCause.CALL_REJECTED, "Call Rejected"),
])
async def test_hangupcause_of_a_dialled_channel(tmp_path: Path, action: str, cause: HangupCause,
                                                text: str) -> None:
    system = make_system(tmp_path, """
[test]
exten => 100,1,Set(BEFORE=[${HANGUPCAUSE_KEYS()}])
 same => n,Dial(Phone/bob,2)
 same => n,Set(KEYS=${HANGUPCAUSE_KEYS()})
 same => n,Set(AST=${HANGUPCAUSE(${KEYS},ast)})
 same => n,Set(TECH=[${HANGUPCAUSE(${KEYS},tech)}])
 same => n,Set(BAD=[${HANGUPCAUSE(${KEYS},AST)}][${HANGUPCAUSE(${KEYS})}][${HANGUPCAUSE(Phone/x,ast)}])
 same => n,HangupCauseClear()
 same => n,Set(CLEARED=[${HANGUPCAUSE_KEYS()}][${HANGUPCAUSE(${KEYS},ast)}])
 same => n,Hangup()
""")
    system.phones.behaviours["bob"] = Behaviour(action=action, cause=HangupCause.CALL_REJECTED)
    channel = await system.run_call("100")
    assert channel.variables["BEFORE"] == "[]"
    assert channel.variables["KEYS"].startswith("Phone/bob-")
    assert "," not in channel.variables["KEYS"]
    assert channel.variables["AST"] == text
    assert int(cause) > 0
    # Test phones carry no technology cause code; SIP legs carry "SIP <status> <reason>".
    assert channel.variables["TECH"] == "[]"
    assert channel.variables["BAD"] == "[][][]"
    assert channel.variables["CLEARED"] == "[][]"


def test_hangupcause_tech_is_the_sip_cause() -> None:
    from core.dialplan.functions.extras import record_dialed_cause

    ctx = make_ctx()
    leg = make_ctx().channel
    leg.name = "SIP/trunk-00000002"
    leg.variables["SIP_CAUSE"] = "SIP 486 Busy Here"
    record_dialed_cause(ctx.channel, leg, HangupCause.USER_BUSY)
    assert substitute("${HANGUPCAUSE_KEYS()}|${HANGUPCAUSE(SIP/trunk-00000002,tech)}|"
                      "${HANGUPCAUSE(SIP/trunk-00000002,ast)}", ctx) == "SIP/trunk-00000002|SIP 486 Busy Here|User busy"
