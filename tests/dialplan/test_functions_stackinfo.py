"""STACK_PEEK (app_stack.c), EVAL_EXTEN (func_evalexten.c) and EXCEPTION (pbx.c acf_exception_read)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.callerid import CallerId
from core.dialplan.loader import load_dialplan_text
from core.dialplan.runtime import GosubFrame, SimpleEvalContext
from core.dialplan.substitute import substitute
from tests.apps.harness import make_system
from tests.dialplan.test_substitute import NOW, make_channel, make_ctx

PLAN = """
[default]
exten => 100,1,NoOp(here ${EXTEN}@${CONTEXT}:${PRIORITY})
 same => n(greet),Return(hello ${CALLERID(num)})
exten => 100,3,Return(a,b,c)
[prompts]
exten => _X!,1,Return(default)
exten => _20X,1,Return(welcome ${EXTEN})
"""


@pytest.fixture
def plan_ctx() -> SimpleEvalContext:
    dialplan = load_dialplan_text(PLAN).dialplan
    channel = make_channel()
    channel.context, channel.exten, channel.priority = "default", "100", 1
    channel.caller = CallerId("5551234", "Bob")
    return make_ctx(channel, dialplan=dialplan)


@pytest.mark.parametrize(("text", "expected"), [
    # func_evalexten.c's example: ${EVAL_EXTEN(prompts,${CALLERID(num)},1)} with Return(...) extensions.
    pytest.param("${EVAL_EXTEN(prompts,203,1)}", "welcome 203", id="context-exten-priority"),
    pytest.param("${EVAL_EXTEN(prompts,5,1)}", "default", id="pattern"),
    # Only extension and priority: the channel's context; only a priority: its extension too.
    pytest.param("${EVAL_EXTEN(100,greet)}", "hello 5551234", id="exten-label"),
    pytest.param("${EVAL_EXTEN(1)}", "here 100@default:1", id="priority-only"),
    pytest.param("${EVAL_EXTEN(,,3)}", "a,b,c", id="empty-fields-are-the-channels"),
    # ${EXTEN}/${CONTEXT}/${PRIORITY} are the target's while it is evaluated.
    pytest.param("${EVAL_EXTEN(prompts,207,1)}|${EXTEN}|${CONTEXT}", "welcome 207|100|default",
                 id="target-location-then-restored"),
    pytest.param("[${EVAL_EXTEN()}]", "[]", id="empty-is-an-error"),
    pytest.param("[${EVAL_EXTEN(prompts,203,2)}]", "[]", id="no-such-priority"),
    pytest.param("[${EVAL_EXTEN(100,nolabel)}]", "[]", id="no-such-label"),
    pytest.param("[${EVAL_EXTEN(nowhere,1,1)}]", "[]", id="no-such-context"),
    pytest.param("[${EXCEPTION(reason)}]", "[]", id="no-exception-is-a-failed-read"),
    pytest.param("[${STACK_PEEK(1,c)}]", "[]", id="stack-peek-without-gosub"),
])
def test_eval_exten_and_friends(plan_ctx: SimpleEvalContext, text: str, expected: str) -> None:
    assert substitute(text, plan_ctx) == expected


class StackContext(SimpleEvalContext):
    """An evaluation context with a Gosub stack, as the executor's CallContext has (``frames``)."""

    frames: list[GosubFrame]


@pytest.fixture
def stack_ctx() -> SimpleEvalContext:
    ctx = StackContext(channel=make_channel(), clock=lambda: NOW)
    # Gosub at outer,s,3 then at inner,100,7: frames keep the return priority (one more).
    ctx.frames = [GosubFrame("outer", "s", 4), GosubFrame("inner", "100", 8)]
    return ctx


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("${STACK_PEEK(1,l)}", "inner,100,7", id="label"),
    pytest.param("${STACK_PEEK(1,c)}/${STACK_PEEK(1,e)}/${STACK_PEEK(1,p)}", "inner/100/7", id="fields"),
    pytest.param("${STACK_PEEK(2,l)}", "outer,s,3", id="two-up"),
    pytest.param("${STACK_PEEK(1, context)}", "inner", id="first-letter-after-blanks"),
    pytest.param("[${STACK_PEEK(1,x)}]", "[]", id="unknown-which-is-empty"),
    pytest.param("[${STACK_PEEK(3,l)}][${STACK_PEEK(3,l,yes)}]", "[][]", id="too-deep"),
    pytest.param("[${STACK_PEEK(0,l)}][${STACK_PEEK(-1,l)}][${STACK_PEEK(x,l)}]", "[][][]", id="not-positive"),
    pytest.param("[${STACK_PEEK(1)}][${STACK_PEEK(,l)}]", "[][]", id="missing-arguments"),
])
def test_stack_peek(stack_ctx: SimpleEvalContext, text: str, expected: str) -> None:
    assert substitute(text, stack_ctx) == expected


def test_stack_peek_logs(stack_ctx: SimpleEvalContext, caplog: pytest.LogCaptureFixture) -> None:
    substitute("${STACK_PEEK(3,l)}${STACK_PEEK(3,l,true)}${STACK_PEEK(1,x)}${STACK_PEEK(0,l)}", stack_ctx)
    messages = [record.getMessage() for record in caplog.records]
    assert messages == ["Stack peek of '3' is more stack frames than I have", "Unknown argument 'x' to STACK_PEEK",
                        "STACK_PEEK must be called with a positive peek value"]


async def test_stack_peek_in_a_running_gosub(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[test]
exten => 100,1,NoOp()
 same => n,Gosub(sub,s,1)
 same => n,Hangup()
[sub]
exten => s,1,Set(CALLER=${STACK_PEEK(1,l)})
 same => n,Gosub(deeper,s,1)
 same => n,Return()
[deeper]
exten => s,1,Set(TOP=${STACK_PEEK(2,c)}:${STACK_PEEK(1,l)})
 same => n,Return()
""")
    channel = await system.run_call("100")
    assert channel.variables["CALLER"] == "test,100,2"
    assert channel.variables["TOP"] == "test:sub,s,2"


async def test_exception_tells_where_an_invalid_extension_was_raised(tmp_path: Path) -> None:
    system = make_system(tmp_path, """
[test]
exten => 100,1,Goto(555,1)
exten => e,1,Set(WHY=${EXCEPTION(reason)}|${EXCEPTION(context)}|${EXCEPTION(exten)}|${EXCEPTION(priority)})
 same => n,Set(BAD=[${EXCEPTION(other)}][${EXCEPTION(EXTENSION)}])
 same => n,Hangup()
""")
    channel = await system.run_call("100")
    assert channel.variables["WHY"] == "INVALID|test|555|1"
    # Unknown fields fail; anything starting with EXTEN (strncasecmp 5) is the extension.
    assert channel.variables["BAD"] == "[][555]"
