"""``${...}``/``$[...]`` substitution, variable scopes and assignment (main/pbx_variables.c semantics).

The helpers at the top (a real :class:`Channel` on a do-nothing driver, fake CDR and AstDB) are shared
by the ``test_functions_*`` modules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from core.callerid import CallerId
from core.causes import HangupCause
from core.channel import Channel, ChannelDriver, Direction
from core.dialplan import substitute as substitute_module
from core.dialplan.model import PRIORITY_HINT, Context, Dialplan, Extension, Include, Priority
from core.dialplan.runtime import DialplanOptions, SimpleEvalContext
from core.dialplan.substitute import (
    assign,
    inherit_variables,
    mset_application,
    set_application,
    substitute,
)
from core.events import EventBus

NOW = 1_141_219_835.25  # 2006-03-01 13:30:35.25 UTC (the STRPTIME documentation example)


class IdleDriver(ChannelDriver):
    """A channel technology whose legs never do anything (functions only read the channel)."""

    technology = "SIP"
    description = "test legs"

    async def request(self, resource: str, *, requestor: Channel | None = None) -> Channel:
        raise NotImplementedError

    async def call(self, channel: Channel, *, timeout: float | None = None) -> None:
        return None

    async def answer(self, channel: Channel) -> None:
        return None

    async def hangup(self, channel: Channel, cause: HangupCause) -> None:
        return None


def make_channel(name: str = "SIP/1001-00000001", *, number: str = "1001", caller_name: str = "Alice",
                 context: str = "internal", exten: str = "6001") -> Channel:
    """A channel as a SIP phone 1001 would create it, dialling ``exten`` in ``context``."""
    return Channel(name=name, uniqueid="1141219835.1", driver=IdleDriver(), resource="1001",
                   direction=Direction.INBOUND, bus=EventBus(), clock=lambda: 1000.0,
                   caller=CallerId(number, caller_name), context=context, exten=exten)


class FakeCdr:
    """A CDR with formatted and raw fields; ``disposition``/``start`` etc. are read-only."""

    READ_ONLY = {"start", "answer", "end", "duration", "billsec", "disposition", "channel", "src", "dst",
                 "uniqueid", "linkedid"}

    def __init__(self, fields: dict[str, str] | None = None, raw: dict[str, str] | None = None) -> None:
        self.fields = dict(fields or {})
        self.raw = dict(raw or {})

    def get(self, name: str, *, raw: bool = False) -> str | None:
        if raw and name in self.raw:
            return self.raw[name]
        return self.fields.get(name)

    def set(self, name: str, value: str) -> None:
        if name in self.READ_ONLY:
            raise ValueError(f"{name} is read-only")
        self.fields[name] = value


class FakeAstDb:
    """An in-memory AstDB."""

    def __init__(self, data: dict[tuple[str, str], str] | None = None) -> None:
        self.data = dict(data or {})

    def get(self, family: str, key: str) -> str | None:
        return self.data.get((family, key))

    def put(self, family: str, key: str, value: str) -> None:
        self.data[(family, key)] = value

    def delete(self, family: str, key: str) -> str | None:
        return self.data.pop((family, key), None)

    def delete_tree(self, family: str, keytree: str | None = None) -> int:
        doomed = [k for k in self.data if k[0] == family and (keytree is None or k[1].startswith(keytree))]
        for k in doomed:
            del self.data[k]
        return len(doomed)

    def keys(self, family: str) -> list[str]:
        return sorted(key for fam, key in self.data if fam == family)


def make_ctx(channel: Channel | None = None, **kwargs: object) -> SimpleEvalContext:
    """An evaluation context on ``channel`` (a fresh one by default) with the clock pinned at NOW."""
    kwargs.setdefault("clock", lambda: NOW)
    return SimpleEvalContext(channel=channel or make_channel(), **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def ctx() -> SimpleEvalContext:
    return make_ctx()


def sub(ctx: SimpleEvalContext, text: str) -> str:
    return substitute(text, ctx)


# -- offsets and lengths ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("expression", "expected"), [
    # docs.asterisk.org "Manipulating Variables Basics" (NUMBER=98765)
    ("${NUMBER:2}", "765"),
    ("${NUMBER:-2}", "65"),
    ("${NUMBER:0:3}", "987"),
    ("${NUMBER:1:3}", "876"),
    # pbx_variables.c substring(): negative length leaves that many off the end
    ("${NUMBER:0:-2}", "987"),
    ("${NUMBER:1:-1}", "876"),
    ("${NUMBER:-3:-1}", "76"),
    ("${NUMBER:2:-5}", ""),
    # offset past the end gives "", a too negative offset starts at the beginning
    ("${NUMBER:5}", ""),
    ("${NUMBER:99}", ""),
    ("${NUMBER:-10}", "98765"),
    ("${NUMBER:-10:2}", "98"),
    ("${NUMBER:1:99}", "8765"),
    ("${NUMBER:0:0}", ""),
    # parse_variable_name(): sscanf("%30d:%30d") - a missing offset keeps everything, blanks are skipped
    ("${NUMBER::3}", "98765"),
    ("${NUMBER:2:}", "765"),
    ("${NUMBER:}", "98765"),
    ("${NUMBER:x}", "98765"),
    ("${NUMBER: 2}", "765"),
    ("${NUMBER:2 :1}", "765"),
    ("${NUMBER:+1:+2}", "87"),
    # glibc stores the strtol() result into an int: 2**32 wraps to 0, 20 nines saturate to -1
    ("${NUMBER:4294967296}", "98765"),
    ("${NUMBER:99999999999999999999}", "5"),
])
def test_offset_and_length(ctx: SimpleEvalContext, expression: str, expected: str) -> None:
    ctx.channel.variables["NUMBER"] = "98765"
    assert sub(ctx, expression) == expected


def test_offsets_count_utf8_bytes_like_asterisk(ctx: SimpleEvalContext) -> None:
    # substring() works on the bytes of the value: "ñ" is two bytes.
    ctx.channel.variables["NAME"] = "ñandú"
    assert sub(ctx, "${NAME:2}") == "andú"
    assert sub(ctx, "${NAME:-2}") == "ú"
    assert sub(ctx, "${LEN(${NAME})}") == "7"


# -- scanning --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("SIP/${EXTEN},${TIMEOUT}", "SIP/6001,20"),
    ("no dollar at all", "no dollar at all"),
    ("$", "$"),
    ("a$b", "a$b"),
    ("$$", "$$"),
    ("price: 5$", "price: 5$"),
    ("${}", ""),
    ("${UNSET}", ""),
    ("[${UNSET}]", "[]"),
    ("${FOO}${FOO}", "barbar"),
    # nesting: the inner reference is substituted first, then looked up
    ("${${WHICH}}", "bar"),
    ("${${WHICH}X}", "nested"),
    ("${FOO:${ONE}}", "ar"),
    ("${CUT(${WHICH2},\\,,2)}", "b"),
    # unterminated: Asterisk warns "missing '}'" and uses the rest of the text as the name
    ("${FOO", "bar"),
    ("x${", "x"),
    ("${FOO{}", ""),
    # braces without $ inside a reference count too
    ("${A{B}C}", ""),
    # names are case-sensitive (Asterisk 12+): exten is an ordinary variable
    ("${exten}", "lower"),
])
def test_substitution(ctx: SimpleEvalContext, text: str, expected: str) -> None:
    variables = ctx.channel.variables
    variables.update({"TIMEOUT": "20", "FOO": "bar", "WHICH": "FOO", "FOOX": "nested", "ONE": "1",
                      "LIST": "a,b,c", "WHICH2": "LIST", "exten": "lower"})
    assert sub(ctx, text) == expected


def test_unterminated_reference_is_reported(ctx: SimpleEvalContext, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "centralita.dialplan"):
        sub(ctx, "${FOO")
    assert "Error in extension logic (missing '}')" in caplog.text


def test_unknown_function_gives_nothing_and_logs(ctx: SimpleEvalContext, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, "centralita.dialplan"):
        assert sub(ctx, "<${NOSUCHFUNC(1)}>") == "<>"
    assert "Function NOSUCHFUNC not registered" in caplog.text


def test_function_names_are_case_sensitive(ctx: SimpleEvalContext) -> None:
    # ast_custom_function_find() compares with strcmp()
    assert sub(ctx, "${len(abc)}") == ""
    assert sub(ctx, "${LEN(abc)}") == "3"


def test_function_arguments_end_at_the_last_parenthesis(ctx: SimpleEvalContext) -> None:
    # func_args(): strchr('(') .. strrchr(')'); text after the last ')' is ignored
    assert sub(ctx, "${LEN(abc)xyz}") == "3"
    assert sub(ctx, "${LEN(a(b)c)}") == "5"


def test_function_result_takes_offsets(ctx: SimpleEvalContext) -> None:
    assert sub(ctx, "${CUT(CHANNEL,-,1):4}") == "1001"
    assert sub(ctx, "${TOUPPER(abcdef):-3:2}") == "DE"


def test_substituted_arguments_split_on_their_commas(ctx: SimpleEvalContext) -> None:
    # The argument text is substituted before the function splits it, as in Asterisk.
    ctx.channel.variables["ARGS"] = "x,-,1"
    ctx.channel.variables["x"] = "a-b"
    assert sub(ctx, "${CUT(${ARGS})}") == "a"


# -- lookup order ----------------------------------------------------------------------------------------


def test_builtins(ctx: SimpleEvalContext) -> None:
    channel = ctx.channel
    channel.priority = 3
    assert sub(ctx, "${EXTEN}|${CONTEXT}|${PRIORITY}|${CHANNEL}|${UNIQUEID}") == \
        "6001|internal|3|SIP/1001-00000001|1141219835.1"
    assert sub(ctx, "${HANGUPCAUSE}") == "0"
    channel.hangup_cause = HangupCause.USER_BUSY
    assert sub(ctx, "${HANGUPCAUSE}") == "17"
    assert sub(ctx, "${EPOCH}") == "1141219835"


def test_systemname_comes_from_the_options() -> None:
    ctx = make_ctx(options=DialplanOptions(system_name="gw1"))
    assert sub(ctx, "${SYSTEMNAME}") == "gw1"


def test_entityid_looks_like_a_mac(ctx: SimpleEvalContext) -> None:
    parts = sub(ctx, "${ENTITYID}").split(":")
    assert len(parts) == 6 and all(len(part) == 2 for part in parts)


def test_builtins_win_over_channel_variables_which_win_over_globals(ctx: SimpleEvalContext) -> None:
    # ast_str_retrieve_variable(): built-ins, then the channel's list, then globals
    ctx.channel.variables["EXTEN"] = "shadow"
    ctx.channel.variables["X"] = "channel"
    ctx.globals["X"] = "global"
    ctx.globals["G"] = "global only"
    assert sub(ctx, "${EXTEN}/${X}/${G}") == "6001/channel/global only"


@pytest.mark.parametrize(("presentation", "expected"), [("allowed_not_screened", "0"), ("prohib", "35"),
                                                         ("unavailable", "67")])
def test_callingpres_is_the_numeric_presentation(ctx: SimpleEvalContext, presentation: str, expected: str) -> None:
    # CALLINGPRES prints ast_party_id_presentation() with %d (callerid.h AST_PRES_* values)
    assign(ctx, "CALLERID(pres)", presentation)
    assert sub(ctx, "${CALLINGPRES}") == expected


def test_hint_and_hintname() -> None:
    # ast_get_hint(): the hint's device list and its data (the part after the second comma)
    hint = Priority(PRIORITY_HINT, "SIP/1001&SIP/1002", "Alice")
    internal = Context("internal", includes=[Include("phones", "phones")])
    phones = Context("phones", extensions=[Extension("6001", priorities={PRIORITY_HINT: hint})])
    dialplan = Dialplan(contexts={"internal": internal, "phones": phones})
    ctx = make_ctx(dialplan=dialplan)
    assert sub(ctx, "${HINT}|${HINTNAME}") == "SIP/1001&SIP/1002|Alice"
    ctx.channel.exten = "6002"
    assert sub(ctx, "${HINT}|${HINTNAME}") == "|"


# -- expressions -----------------------------------------------------------------------------------------


def test_expression_is_substituted_then_evaluated(ctx: SimpleEvalContext, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def fake(text: str, ctx: object = None) -> str:
        seen.append(text)
        return "R"

    monkeypatch.setattr(substitute_module, "evaluate_expression", fake)
    ctx.channel.variables["X"] = "5"
    assert sub(ctx, "a$[${X} + 1]b$[[1]]$[${X:0:1}") == "aRbRR"
    assert seen == ["5 + 1", "[1]", "5"]


def test_expression_with_the_real_evaluator(ctx: SimpleEvalContext) -> None:
    ctx.channel.variables["X"] = "5"
    assert sub(ctx, "$[${X} + 1]") == "6"
    assert sub(ctx, '${IF($["${X}" = "5"]?yes:no)}') == "yes"
    # a function named inside $[...] without ${} runs too (ast_expr2.y op_func)
    assert sub(ctx, "$[LEN(abcd) * 2]") == "8"


# -- variables: names, inheritance -----------------------------------------------------------------------


def test_inheritance_prefixes_are_stored_and_stripped_on_read(ctx: SimpleEvalContext) -> None:
    assign(ctx, "_ONE", "1")
    assign(ctx, "__TWO", "2")
    variables = ctx.channel.variables
    assert variables == {"_ONE": "1", "__TWO": "2"}
    assert sub(ctx, "${ONE}${TWO}") == "12"
    # ast_var_name() strips the underscores, so the prefixed name does not find them
    assert sub(ctx, "${_ONE}${__TWO}") == ""


def test_setting_replaces_whatever_the_name_finds(ctx: SimpleEvalContext) -> None:
    # pbx_builtin_setvar_helper(): the existing variable (compared without underscores) is deleted first
    assign(ctx, "__X", "1")
    assign(ctx, "X", "2")
    assert ctx.channel.variables == {"X": "2"}
    assign(ctx, "_X", "3")
    assert ctx.channel.variables == {"_X": "3"}


def test_empty_value_keeps_the_variable_and_none_deletes_it(ctx: SimpleEvalContext) -> None:
    assign(ctx, "X", "")
    assert ctx.channel.variables == {"X": ""}
    assign(ctx, "X", None)
    assert ctx.channel.variables == {}


def test_inherit_variables() -> None:
    # ast_channel_inherit_variables(): _X arrives as X (once), __X as __X (forever)
    parent, child, grandchild = make_channel(), make_channel("SIP/1002-2"), make_channel("SIP/1003-3")
    parent.variables.update({"PLAIN": "p", "_ONCE": "o", "__ALWAYS": "a"})
    inherit_variables(parent, child)
    assert child.variables == {"ONCE": "o", "__ALWAYS": "a"}
    inherit_variables(child, grandchild)
    assert grandchild.variables == {"__ALWAYS": "a"}


def test_inherited_variables_do_not_shadow_the_childs_own() -> None:
    # Asterisk appends inherited variables after the child's, so the child's keep winning lookups.
    parent, child = make_channel(), make_channel("SIP/1002-2")
    parent.variables.update({"_A": "parent", "__B": "parent"})
    child.variables.update({"A": "child", "B": "child"})
    inherit_variables(parent, child)
    ctx = make_ctx(child)
    assert sub(ctx, "${A}${B}") == "childchild"
    assert child.variables["__B"] == "parent"  # still passed on to the grandchildren


# -- assignment ------------------------------------------------------------------------------------------


def test_assign_writes_functions(ctx: SimpleEvalContext) -> None:
    assign(ctx, "CALLERID(num)", "5551212")
    assert ctx.channel.caller.number == "5551212"
    assign(ctx, "GLOBAL(G)", "1")
    assert ctx.globals == {"G": "1"}
    assert ctx.channel.variables == {}


def test_writing_an_unknown_function_logs(ctx: SimpleEvalContext, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, "centralita.dialplan"):
        assign(ctx, "NOPE(x)", "1")
        assign(ctx, "LEN(x)", "1")
    assert "Function NOPE not registered" in caplog.text
    assert "Function LEN cannot be written to" in caplog.text
    assert ctx.channel.variables == {}


@pytest.mark.parametrize(("data", "expected"), [
    # pbx_builtin_setvar(): split at the first '=', the value is verbatim
    ("X=1", {"X": "1"}),
    ("X=a,b=c", {"X": "a,b=c"}),
    ('X="quoted"', {"X": '"quoted"'}),
    ("X=", {"X": ""}),
    ("X ", {}),
    ("", {}),
])
def test_set_application(ctx: SimpleEvalContext, data: str, expected: dict[str, str]) -> None:
    set_application(ctx, data)
    assert ctx.channel.variables == expected


def test_set_application_warns_about_spaces(ctx: SimpleEvalContext, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "centralita.dialplan"):
        set_application(ctx, "X =1")
    assert ctx.channel.variables == {"X ": "1"}
    assert "Please avoid unnecessary spaces" in caplog.text


@pytest.mark.parametrize(("data", "expected"), [
    # pbx_builtin_setvar_multiple(): arguments split (quotes removed), then each at '='
    ("A=1,B=2", {"A": "1", "B": "2"}),
    ('A="1,2",B=x\\,y', {"A": "1,2", "B": "x,y"}),
    ("A=1,junk,B=2", {"A": "1", "B": "2"}),
    ("A=b=c", {"A": "b=c"}),
])
def test_mset_application(ctx: SimpleEvalContext, data: str, expected: dict[str, str]) -> None:
    mset_application(ctx, data)
    assert ctx.channel.variables == expected


# -- speed sanity ----------------------------------------------------------------------------------------


def test_typical_priority_data_in_a_loop(ctx: SimpleEvalContext) -> None:
    # The fast paths (no '$'; ${NAME} without nesting) give the same result as the general scanner.
    ctx.channel.variables["TIMEOUT"] = "20"
    render: Callable[[str], str] = lambda text: substitute(text, ctx)  # noqa: E731
    results = {render("SIP/${EXTEN},${TIMEOUT},tT") for _ in range(5000)}
    assert results == {"SIP/6001,20,tT"}
    assert render("SIP/${EXTEN:0:4}${UNSET},${TIMEOUT}") == "SIP/6001,20"
