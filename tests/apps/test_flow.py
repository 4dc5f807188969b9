"""Gosub/Return/StackPop, Macro, While loops, ExecIf, GotoIfTime: Asterisk's documented behaviour."""

from __future__ import annotations

import datetime
from pathlib import Path

from core.causes import HangupCause
from tests.apps.harness import make_system


async def test_gosub_arguments_return_value_and_scoping(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[test]
exten => 100,1,Set(ARG1=outer)
 same => n,Gosub(sub,s,1(first,"quoted, kept",))
 same => n,Set(RET=${GOSUB_RETVAL})
 same => n,Set(AFTER=${ARG1}|${ARGC}|${LEAK})
[sub]
exten => s,1,Set(SEEN=${ARG1}|${ARG2}|${ARG3}|${ARGC})
 same => n,Set(LOCAL(LEAK)=inside)
 same => n,Set(INNER=${LEAK})
 same => n,Return(${ARG1}-done)
""")
    channel = await system.run_call("100")
    # Gosub arguments are "raw": quotes are kept and commas inside them do not split.
    assert channel.variables["SEEN"] == 'first|"quoted, kept"||3'
    assert channel.variables["INNER"] == "inside"
    assert channel.variables["RET"] == "first-done"
    # ARGn/ARGC and LOCAL() variables are restored on Return: ARG1 is the caller's again, LEAK is gone.
    assert channel.variables["AFTER"] == "outer||"


async def test_nested_gosub_masks_outer_arguments(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[test]
exten => 100,1,Gosub(a,s,1(x,y,z))
[a]
exten => s,1,Gosub(b,s,1(only))
 same => n,Set(BACK=${ARG1}${ARG2}${ARG3})
 same => n,Return()
[b]
exten => s,1,Set(INNER=[${ARG1}][${ARG2}][${ARG3}])
 same => n,Return()
""")
    channel = await system.run_call("100")
    assert channel.variables["INNER"] == "[only][][]"
    assert channel.variables["BACK"] == "xyz"


async def test_gosub_to_missing_destination_and_return_without_gosub_hang_up(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[test]
exten => 100,1,Gosub(nowhere,s,1)
 same => n,Set(NEVER=1)
exten => 200,1,Return()
 same => n,Set(NEVER=1)
""")
    first = await system.run_call("100")
    second = await system.run_call("200")
    assert "NEVER" not in first.variables and "NEVER" not in second.variables


async def test_gosubif_and_stackpop(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[test]
exten => 100,1,GosubIf($[2 > 1]?yes,1(a):no,1(b))
 same => n,Set(DONE=${GOSUB_RETVAL})
 same => n,GosubIf(0?yes,1)
 same => n,Set(SKIPPED=ok)
 same => n,Gosub(pop,1)
 same => n,Set(NEVER=1)
exten => yes,1,Return(yes-${ARG1})
exten => no,1,Return(no-${ARG1})
exten => pop,1,StackPop()
 same => n,Set(POPPED=1)
 same => n,Return()
""")
    channel = await system.run_call("100")
    assert channel.variables["DONE"] == "yes-a" and channel.variables["SKIPPED"] == "ok"
    # After StackPop the Return has nowhere to go: "Return without Gosub", the call ends.
    assert channel.variables["POPPED"] == "1" and "NEVER" not in channel.variables


async def test_macro_sets_macro_variables_and_macroexit_leaves(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[test]
exten => 100,1,Macro(greet,alice,bob)
 same => n,Set(AFTER=${MACRO_EXTEN}|${ARG1})
[macro-greet]
exten => s,1,Set(IN=${ARG1}+${ARG2}@${MACRO_CONTEXT}/${MACRO_EXTEN}/${MACRO_PRIORITY})
 same => n,MacroExit()
 same => n,Set(NEVER=1)
""")
    channel = await system.run_call("100")
    assert channel.variables["IN"] == "alice+bob@test/100/1"
    assert channel.variables["AFTER"] == "|" and "NEVER" not in channel.variables


async def test_while_loop_with_continue_and_exit(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[test]
exten => 100,1,Set(I=0)
 same => n,Set(SEEN=)
 same => n,While($[${I} < 10])
 same => n,Set(I=$[${I} + 1])
 same => n,GotoIf($[${I} = 3]?skip)
 same => n,ExecIf($[${I} = 6]?ExitWhile())
 same => n,Set(SEEN=${SEEN}${I})
 same => n(skip),EndWhile()
 same => n,Set(END=${I})
""")
    channel = await system.run_call("100")
    # I=3 skips to EndWhile (no append), I=6 leaves the loop before appending.
    assert channel.variables["SEEN"] == "1245"
    assert channel.variables["END"] == "6"


async def test_nested_while_loops(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[test]
exten => 100,1,Set(OUT=)
 same => n,Set(I=0)
 same => n,While($[${I} < 2])
 same => n,Set(J=0)
 same => n,While($[${J} < 3])
 same => n,Set(OUT=${OUT}${I}${J})
 same => n,Set(J=$[${J} + 1])
 same => n,EndWhile()
 same => n,Set(I=$[${I} + 1])
 same => n,EndWhile()
""")
    channel = await system.run_call("100")
    assert channel.variables["OUT"] == "000102101112"


async def test_execif_true_false_and_unknown_application(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[test]
exten => 100,1,ExecIf($[1]?Set(A=yes):Set(A=no))
 same => n,ExecIf($[0]?Set(B=yes):Set(B=no))
 same => n,ExecIf(0?Set(C=yes))
 same => n,ExecIf(1?Bogus(x))
 same => n,Set(NEVER=1)
""")
    channel = await system.run_call("100")
    assert channel.variables["A"] == "yes" and channel.variables["B"] == "no" and "C" not in channel.variables
    assert "NEVER" not in channel.variables


async def test_gotoiftime_uses_the_clock(tmp_path: Path) -> None:
    # Wednesday 2026-11-25 10:30 local time
    moment = datetime.datetime(2026, 11, 25, 10, 30).timestamp()
    plan = """
[test]
exten => 100,1,GotoIfTime(09:00-17:00,mon-fri,*,*?open:closed)
 same => n(open),Hangup(16)
 same => n(closed),Hangup(17)
exten => 200,1,GotoIfTime(09:00-17:00,sat-sun,*,*?open)
 same => n,Hangup(18)
 same => n(open),Hangup(16)
"""
    system = make_system(tmp_path, plan, wallclock=moment)
    assert (await system.run_call("100")).hangup_cause is HangupCause.NORMAL_CLEARING
    assert (await system.run_call("200")).hangup_cause is HangupCause.NO_USER_RESPONSE
