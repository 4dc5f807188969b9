"""pbx_config semantics (core/dialplan/loader.py) against Asterisk 20's source.

Expectations come from ``pbx_load_config`` (pbx/pbx_config.c) and, in main/pbx.c,
``ast_add_extension2_lockopt``, ``add_priority``, ``ext_strncpy``, ``ext_cmp``,
``ast_context_add_include2``, ``ast_context_add_ignorepat2``, ``ast_context_add_switch2``,
``ast_context_verify_includes``; ``ast_shrink_phone_number`` (main/callerid.c); ``include_alloc``
(main/pbx_include.c).  Each test names the function whose behaviour it pins down.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.dialplan.loader import (
    LoadResult,
    load_dialplan,
    load_dialplan_text,
    sorted_extensions,
    substitute_plain_variables,
)
from core.dialplan.model import PRIORITY_HINT, Context, Extension

PLANS = Path(__file__).parent / "plans"


def load(text: str, **kwargs: object) -> LoadResult:
    return load_dialplan_text(text, **kwargs)  # type: ignore[arg-type]


def context(result: LoadResult, name: str) -> Context:
    con = result.dialplan.context(name)
    assert con is not None, f"no context {name}"
    return con


def steps(ext: Extension) -> list[tuple[int, str, str, str | None]]:
    return [(p.number, p.app, p.data, p.label) for p in ext.sorted_priorities()]


def messages(result: LoadResult) -> list[str]:
    return [w.message for w in result.warnings]


# -- application and data (pbx_load_config) --------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "app", "data"),
    [
        pytest.param("NoOp(hello)", "NoOp", "hello", id="app-with-data"),
        pytest.param("NoOp()", "NoOp", "", id="empty-parens"),
        pytest.param("NoOp", "NoOp", "", id="no-parens"),
        pytest.param("", "", "", id="empty-application"),
        pytest.param("Dial,SIP/100|20", "Dial,SIP/100|20", "", id="old-comma-style-is-one-app-name"),
        pytest.param("Set(x=$[(1+2)*3])", "Set", "x=$[(1+2)*3]", id="nested-parens-up-to-the-last"),
        pytest.param("NoOp(a(b)", "NoOp", "a(b", id="unbalanced-inner-paren"),
        pytest.param("NoOp(a)trailing", "NoOp", "a", id="text-after-last-paren-dropped"),
        pytest.param("Set(a=b)(c)", "Set", "a=b)(c", id="first-open-last-close"),
        pytest.param("NoOp (x)", "NoOp ", "x", id="blank-before-paren-stays-in-app"),
        pytest.param("   NoOp(x)", "NoOp", "x", id="leading-blanks-skipped"),
        pytest.param("${APP}(arg)", "${APP}(arg)", "", id="variable-app-name-kept-whole"),
        pytest.param("$[1+1](arg)", "$[1+1](arg)", "", id="expression-app-name-kept-whole"),
        pytest.param("Dial(SIP/a\\,b,20)", "Dial", "SIP/a\\,b,20", id="backslash-kept-for-the-app"),
        pytest.param('NoOp("a,b")', "NoOp", '"a,b"', id="quotes-kept"),
        pytest.param("NoOp(a;b)", "NoOp", "a", id="unescaped-semicolon-is-a-comment"),
    ],
)
def test_application_and_data_are_split_as_pbx_config_does(step: str, app: str, data: str) -> None:
    result = load(f"[c]\nexten => 1,1,{step}\n")
    ext = context(result, "c").extensions[0]
    assert steps(ext) == [(1, app, data, None)]


def test_missing_closing_paren_keeps_the_rest_as_data_with_a_warning() -> None:
    result = load("[c]\nexten => 1,1,NoOp(abc\n", filename="p.conf")
    assert steps(context(result, "c").extensions[0]) == [(1, "NoOp", "abc", None)]
    assert [(w.file, w.line, w.message) for w in result.warnings] == [
        ("p.conf", 2, "No closing parenthesis found? 'NoOp(abc'")]


def test_value_is_trimmed_but_inner_blanks_around_fields_follow_the_c_code() -> None:
    result = load("[c]\nexten =>  1 0 0 ,  1  ,  NoOp(x)  ; c\n")
    ext = context(result, "c").extensions[0]
    assert (ext.name, steps(ext)) == ("100", [(1, "NoOp", "x", None)])


@pytest.mark.parametrize(
    ("step", "app"),
    [
        pytest.param("SIP/1001", "SIP/1001", id="device"),
        pytest.param("SIP/1&SIP/2", "SIP/1&SIP/2", id="several-devices"),
        pytest.param("PJSIP/1,CustomPresence:1", "PJSIP/1,CustomPresence:1", id="presence-after-comma"),
        pytest.param("Custom:dnd(x)", "Custom:dnd", id="parens-split-even-for-hints"),
    ],
)
def test_hint_devices_are_the_application(step: str, app: str) -> None:
    result = load(f"[c]\nexten => 1,hint,{step}\n")
    ext = context(result, "c").extensions[0]
    assert ext.hint is not None and ext.hint.app == app and ext.hint.number == PRIORITY_HINT


# -- priorities (pbx_load_config, add_priority) ------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param(["100,1,A", "100,n,B", "100,n,C"], [("100", 1), ("100", 2), ("100", 3)], id="n-counts-on"),
        pytest.param(["100,1,A", "200,n,B"], [("100", 1), ("200", 2)], id="n-continues-across-extensions"),
        pytest.param(["100,5,A", "100,next,B"], [("100", 5), ("100", 6)], id="next-spelled-out"),
        pytest.param(["100,1,A", "100,s+1,B"], [("100", 1), ("100", 2)], id="s-plus-one"),
        pytest.param(["100,1,A", "100,n+2,B"], [("100", 1), ("100", 4)], id="n-plus-two"),
        pytest.param(["100,1+2,A"], [("100", 3)], id="number-plus-offset"),
        pytest.param(["100,2abc,A"], [("100", 2)], id="sscanf-takes-the-leading-number"),
        pytest.param(["100,1(start),A", "100,start+10,B"], [("100", 1), ("100", 11)], id="label-plus-offset"),
        pytest.param(["100,1,A", "100,7(mid),B", "200,mid,C"], [("100", 1), ("100", 7)],
                     id="label-of-another-extension-is-not-found"),
        pytest.param(["100,hint,SIP/100", "100,1,A"], [("100", -1), ("100", 1)], id="hint-then-one"),
        pytest.param(["100,hint,SIP/100", "100,n,A", "100,n,B"], [("100", -1)],
                     id="n-after-hint-is-priority-0-and-skipped"),
    ],
)
def test_priority_forms(lines: list[str], expected: list[tuple[str, int]]) -> None:
    result = load("[c]\n" + "".join(f"exten => {line}\n" for line in lines))
    got = [(ext.name, p.number) for ext in context(result, "c").extensions for p in ext.sorted_priorities()]
    assert got == expected


@pytest.mark.parametrize(
    ("line", "message"),
    [
        pytest.param("100,0,A", "Invalid priority '0'", id="zero"),
        pytest.param("100,-1,A", "Invalid priority '-1'", id="negative"),
        pytest.param("100,nolabel,A", "Invalid priority/label 'nolabel'", id="unknown-label"),
        pytest.param("100,HINT,A", "Invalid priority/label 'HINT'", id="hint-is-case-sensitive"),
        pytest.param("100,n (x),A", "Invalid priority/label 'n '", id="blank-before-label"),
        pytest.param("100,n,A", "Can't use 'next' priority on the first entry!", id="n-on-first-entry"),
        pytest.param("100,s,A", "Can't use 'same' priority on the first entry!", id="s-on-first-entry"),
        pytest.param("100,1(lbl,A", "Label missing trailing ')'", id="unclosed-label"),
        pytest.param("100", "Invalid priority/label ''", id="no-priority"),
    ],
)
def test_invalid_priorities_are_skipped_with_a_warning(line: str, message: str) -> None:
    result = load(f"[c]\nexten => {line}\n", filename="p.conf")
    assert context(result, "c").extensions == []
    assert [(w.file, w.line, w.message) for w in result.warnings] == [("p.conf", 2, message)]


def test_priority_in_use_is_refused_and_the_first_kept() -> None:
    result = load("[c]\nexten => 100,1,First()\nexten => 100,1,Second()\n", filename="p.conf")
    assert steps(context(result, "c").extensions[0]) == [(1, "First", "", None)]
    assert [(w.line, w.message) for w in result.warnings] == [
        (3, "Unable to register extension '100' priority 1 in 'c', already in use")]


def test_refused_priority_still_moves_n_on() -> None:
    # pbx_load_config sets lastpri before ast_add_extension2 and whatever it returns.
    result = load("[c]\nexten => 1,1,A\nexten => 1,1,B\nexten => 1,n,C\n")
    assert steps(context(result, "c").extensions[0]) == [(1, "A", "", None), (2, "C", "", None)]


def test_repeated_label_is_dropped_and_the_first_keeps_it() -> None:
    result = load("[c]\nexten => 1,1(x),A\nexten => 1,n(x),B\nexten => 1,n,Goto(x)\n")
    ext = context(result, "c").extensions[0]
    assert steps(ext) == [(1, "A", "", "x"), (2, "B", "", None), (3, "Goto", "x", None)]
    assert ext.labels == {"x": 1}
    assert messages(result) == ["Extension '1' priority 2 in 'c', label 'x' already in use at priority 1"]


def test_labels_on_numbered_priorities_and_same() -> None:
    result = load("[c]\nexten => s,1(start),Answer()\n same => n(loop),Wait(1)\n same => 5(end),Hangup()\n")
    ext = context(result, "c").extensions[0]
    assert steps(ext) == [(1, "Answer", "", "start"), (2, "Wait", "1", "loop"), (5, "Hangup", "", "end")]
    assert ext.labels == {"start": 1, "loop": 2, "end": 5}


def test_same_continues_the_previous_extension_and_its_caller_id() -> None:
    result = load("[c]\nexten => 100/555,1,A\n same => n,B\n")
    (ext,) = context(result, "c").extensions
    assert (ext.name, ext.cid, [p.number for p in ext.sorted_priorities()]) == ("100", "555", [1, 2])


def test_same_without_a_previous_extension_is_an_error_and_skipped() -> None:
    # "No previous pattern in the first entry of context '%s' to match '%s'": also at the start of a
    # second section of the same context, since pbx_load_config resets per category.
    result = load("[c]\nsame => n,A\nexten => 1,1,B\n[c]\nsame => n,C\n", filename="p.conf")
    assert [e.name for e in context(result, "c").extensions] == ["1"]
    assert [(w.line, w.severity, w.message) for w in result.warnings] == [
        (2, "error", "No previous pattern in the first entry of context 'c' to match 'same'"),
        (5, "error", "No previous pattern in the first entry of context 'c' to match 'same'"),
    ]


def test_empty_extension_name_is_refused() -> None:
    result = load("[c]\nexten => ,1,NoOp()\n same => n,NoOp()\n")
    assert context(result, "c").extensions == []
    assert messages(result) == [
        "You have to be kidding-- add exten '' to context c? Figure out a name and call me back. Action ignored.",
        "No previous pattern in the first entry of context 'c' to match 'same'",
    ]


# -- extension names (ext_strncpy, ext_cmp, ast_shrink_phone_number) ----------------------------------


@pytest.mark.parametrize(
    ("written", "name", "exten"),
    [
        pytest.param("_1-800-NXX-XXXX", "_1-800-NXX-XXXX", "_1800NXXXXXX", id="dashes-are-decoration"),
        pytest.param("555-1234", "555-1234", "5551234", id="plain-name-dashes"),
        pytest.param("_[1-5]XX", "_[1-5]XX", "_[1-5]XX", id="dash-in-a-set-is-a-range"),
        pytest.param("1 2 3", "123", "123", id="spaces-removed"),
        pytest.param("_[1 2]X", "_[1 2]X", "_[1 2]X", id="space-in-a-set-kept"),
        pytest.param("_[1,2]X", "_[1,2]X", "_[1,2]X", id="comma-in-a-set-does-not-split"),
        pytest.param("1\\,2", "1\\,2", "1\\,2", id="escaped-comma-does-not-split"),
        pytest.param("Sales", "Sales", "Sales", id="case-kept"),
    ],
)
def test_extension_names(written: str, name: str, exten: str) -> None:
    result = load(f"[c]\nexten => {written},1,NoOp()\n")
    (ext,) = context(result, "c").extensions
    assert (ext.name, ext.exten) == (name, exten)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param("1-800", "1800", id="dashes-ignored"),
        pytest.param("_X", "_[0-9]", id="same-digit-set"),
        pytest.param("_x.", "_X.", id="case-of-x"),
        pytest.param("_n", "_[2-9]", id="n-is-2-to-9"),
        pytest.param("_1-2", "_12", id="pattern-dashes"),
    ],
)
def test_names_ext_cmp_finds_equal_are_one_extension(first: str, second: str) -> None:
    # ast_add_extension2_lockopt: ext_cmp(e->exten, tmp->exten) == 0 -> add_priority to that extension.
    result = load(f"[c]\nexten => {first},1,A\nexten => {second},2,B\nexten => {second},1,C\n")
    (ext,) = context(result, "c").extensions
    assert ext.name == first
    assert steps(ext) == [(1, "A", "", None), (2, "B", "", None)]
    assert messages(result) == [
        f"Unable to register extension '{second}' priority 1 in 'c', already in use by aliased extension '{first}'"]


@given(st.text("0123456789-", min_size=1, max_size=12).filter(lambda t: t.strip("-")),
       st.text("0123456789-", min_size=1, max_size=12).filter(lambda t: t.strip("-")))
def test_plain_names_are_one_extension_exactly_when_equal_without_dashes(first: str, second: str) -> None:
    result = load(f"[c]\nexten => {first},1,A\nexten => {second},2,B\n")
    exts = context(result, "c").extensions
    same = first.replace("-", "") == second.replace("-", "")
    assert len(exts) == (1 if same else 2)
    assert exts[0].name == first and exts[0].exten == first.replace("-", "")
    assert result.dialplan.context("c") is not None
    found = context(result, "c").extension(second.replace("-", ""))
    assert found is not None and found.exten == second.replace("-", "")


def test_the_lowest_priority_names_the_extension() -> None:
    # The head of the peer list is the lowest priority; dialplan show prints its name.
    result = load("[c]\nexten => 1800,2,B\nexten => 1-800,1,A\n")
    (ext,) = context(result, "c").extensions
    assert ext.name == "1-800" and [p.number for p in ext.sorted_priorities()] == [1, 2]


def test_names_differing_in_case_are_different_extensions() -> None:
    result = load("[c]\nexten => s,1,A\nexten => S,1,B\n")
    assert [e.name for e in context(result, "c").extensions] == ["s", "S"]


@pytest.mark.parametrize(
    ("written", "cid"),
    [
        pytest.param("100/_1-555-XXXX", "_1555XXXX", id="pattern-dashes-shrunk"),
        pytest.param("100/(555) 123-4567", "5551234567", id="punctuation-shrunk"),
        pytest.param("100/555.", "555.", id="trailing-dot-kept"),
        pytest.param("100/5.5", "55", id="inner-dot-dropped"),
        pytest.param("100/_[1-3]X", "_[1-3]X", id="dash-in-set-kept"),
        pytest.param("100/", "", id="empty-cid-is-a-cid"),
        pytest.param("100/a/b", "a/b", id="split-at-first-slash"),
    ],
)
def test_caller_id_part(written: str, cid: str) -> None:
    result = load(f"[c]\nexten => {written},1,NoOp()\n")
    (ext,) = context(result, "c").extensions
    assert (ext.name, ext.cid) == ("100", cid)


def test_caller_id_variants_are_separate_extensions() -> None:
    result = load("[c]\nexten => 100,1,A\nexten => 100/555,1,B\nexten => 100/,1,C\nexten => 100/5-55,2,D\n")
    exts = context(result, "c").extensions
    assert [(e.name, e.cid, [p.number for p in e.sorted_priorities()]) for e in exts] == [
        ("100", None, [1]), ("100", "555", [1, 2]), ("100", "", [1])]
    assert result.warnings == []
    # Asterisk's order: the caller-ID entries first (by ext_cmp of the caller-ID), the plain one last.
    assert [e.cid for e in sorted_extensions(context(result, "c"))] == ["", "555", None]


@pytest.mark.parametrize("name", ["_.", "_!"])
def test_catch_all_patterns_get_asterisks_warning(name: str) -> None:
    result = load(f"[c]\nexten => {name},1,NoOp()\n")
    assert messages(result) == [
        f"The use of '{name}' for an extension is strongly discouraged and can have unexpected behavior.  Please "
        f"use '_X{name[1]}' instead"]
    assert context(result, "c").extensions[0].name == name


# -- contexts ---------------------------------------------------------------------------------------


def test_contexts_general_globals_and_templates() -> None:
    text = (
        "[General]\nstatic=yes\n[GLOBALS]\nA=1\n[tmpl](!)\nexten => 1,1,NoOp()\n"
        "[b]\n[a](tmpl)\n[B]\nexten => 2,1,NoOp()\n[b]\nexten => 3,1,NoOp()\n[empty]\n"
    )
    result = load(text)
    # Categories named general/globals (any case) and templates are not contexts; names are
    # case-sensitive (ast_hashtab_compare_contexts: strcmp); a repeated [b] is the same context.
    assert list(result.dialplan.contexts) == ["b", "a", "B", "empty"]
    assert [e.name for e in context(result, "b").extensions] == ["3"]
    assert [e.name for e in context(result, "a").extensions] == ["1"]
    assert context(result, "empty").extensions == []
    assert result.dialplan.context("B") is not None and result.dialplan.context("nope") is None
    assert result.dialplan.context_count == 4


def test_n_does_not_continue_into_a_new_section() -> None:
    result = load("[a]\nexten => 1,1,A\n[b]\nexten => 2,n,B\n")
    assert context(result, "b").extensions == []
    assert messages(result) == ["Can't use 'next' priority on the first entry!"]


def test_unknown_directive_in_a_context() -> None:
    result = load("[c]\nexteen => 1,1,NoOp()\n", filename="p.conf")
    assert [(w.line, w.message) for w in result.warnings] == [(2, "==!!== Unknown directive: exteen -- IGNORING!!!")]


def test_autohints() -> None:
    result = load("[a]\nautohints = yes\n[b]\nautohints=no\n[c]\n")
    assert [c.autohints for c in result.dialplan.contexts.values()] == [True, False, False]


# -- [general] (pbx_load_config) ---------------------------------------------------------------------


def test_general_defaults() -> None:
    dp = load("[c]\n").dialplan
    assert (dp.static, dp.writeprotect, dp.autofallthrough, dp.clearglobalvars, dp.extenpatternmatchnew,
            dp.userscontext, dp.overrideswitch) == (False, False, True, False, False, "default", None)


@pytest.mark.parametrize("value", ["yes", "YES", "true", "y", "t", "1", "on", "On"])
def test_general_true_values(value: str) -> None:
    # ast_true
    dp = load(f"[general]\nstatic={value}\nwriteprotect={value}\nclearglobalvars={value}\n"
              f"extenpatternmatchnew={value}\n").dialplan
    assert (dp.static, dp.writeprotect, dp.clearglobalvars, dp.extenpatternmatchnew) == (True, True, True, True)


@pytest.mark.parametrize("value", ["no", "false", "0", "off", "", "yes please"])
def test_general_false_values(value: str) -> None:
    dp = load(f"[general]\nautofallthrough={value}\nstatic={value}\n").dialplan
    assert (dp.autofallthrough, dp.static) == (False, False)


def test_general_strings_and_first_section_wins() -> None:
    dp = load("[general]\nuserscontext=users\noverrideswitch=IAX2/box\n[general]\nuserscontext=other\n").dialplan
    assert (dp.userscontext, dp.overrideswitch) == ("users", "IAX2/box")
    assert load("[general]\nuserscontext=\noverrideswitch=\n").dialplan.userscontext == ""


# -- [globals] ------------------------------------------------------------------------------------------


def test_globals_are_substituted_in_order_from_the_first_globals_section_only() -> None:
    # pbx_load_config reads ast_variable_browse(cfg, "globals"), i.e. ast_category_get(): the first
    # non-template category of that name (any case).  A later [Globals] is skipped by the context loop
    # too (strcasecmp(cxt, "globals")), so its lines set nothing and it is not a context.
    text = "[globals]\nA=one\nB=${A}-two\nC=${LATER}x\n[c]\n[Globals]\nLATER=late\nA=redefined\n"
    result = load(text)
    dp = result.dialplan
    assert dp.globals == {"A": "one", "B": "one-two", "C": "x"}
    assert [(g.name, g.value, g.raw, g.line) for g in dp.global_variables] == [
        ("A", "one", "one", 2), ("B", "one-two", "${A}-two", 3), ("C", "x", "${LATER}x", 4)]
    assert list(dp.contexts) == ["c"]
    assert [(w.line, w.severity) for w in result.warnings] == [(6, "warning")]


@pytest.mark.parametrize(("text", "expected"), [
    # [globals](+) appends to the first section (config.c "Category addition"), so it counts.
    pytest.param("[globals]\nA=1\n[c]\n[globals](+)\nB=2\n", {"A": "1", "B": "2"}, id="appended-with-plus"),
    # A template named globals is skipped by ast_category_get (does_category_match: !cat->ignored).
    pytest.param("[globals](!)\nA=1\n[globals]\nB=2\n", {"B": "2"}, id="template-is-not-the-first"),
    # An included file's [globals] after the main one is a second category: ignored.
    pytest.param("[globals]\nA=1\n#include inc/second_globals.conf\n", {"A": "1"}, id="second-in-include"),
])
def test_which_globals_section_asterisk_reads(text: str, expected: dict[str, str]) -> None:
    assert load(text, base_dir=PLANS).dialplan.globals == expected


def test_what_the_fallback_cannot_evaluate_is_kept_with_a_warning() -> None:
    result = load("[globals]\nH=${ENV(HOME)}\nS=${A:1:2}\n")
    assert result.dialplan.globals == {"H": "${ENV(HOME)}", "S": "${A:1:2}"}
    assert len(result.warnings) == 2 and all("substitution engine" in m for m in messages(result))


def test_a_substitution_engine_can_be_plugged_in() -> None:
    seen: list[tuple[str, dict[str, str]]] = []

    def engine(text: str, variables: Mapping[str, str]) -> str:
        seen.append((text, dict(variables)))
        return text.replace("${ENV(HOME)}", "/home/pbx").replace("${EXTEN}", variables.get("EXTEN", "?"))

    result = load("[globals]\nH=${ENV(HOME)}\n[c]\nexten => 10,hint,Custom:${EXTEN}\n", substitute=engine)
    assert result.dialplan.globals == {"H": "/home/pbx"}
    hint = context(result, "c").extensions[0].hint
    assert hint is not None and hint.app == "Custom:10"
    assert seen[1][1]["CONTEXT"] == "c" and seen[1][1]["H"] == "/home/pbx"


def test_fallback_substitution_of_plain_and_nested_names() -> None:
    variables = {"A": "x", "B": "A", "C": "B", "AB": "joined"}
    assert substitute_plain_variables("${A}/${${B}}/${A${C}}/$${A}/$/none:${NONE}.", variables) == \
        "x/x/joined/$x/$/none:."
    with pytest.raises(ValueError):
        substitute_plain_variables("$[1+1]", variables)
    with pytest.raises(ValueError):
        substitute_plain_variables("${A", variables)


# -- load-time substitution of names, includes, switches, hints (pbx_load_config) -------------------


def test_extension_names_includes_ignorepats_and_switches_are_substituted() -> None:
    text = (
        "[globals]\nEXT=700\nCTX=other\nBOX=host\n"
        "[c]\nexten => ${EXT},1,NoOp(${EXT})\ninclude => ${CTX}\nignorepat => ${EXT}\n"
        "switch => IAX2/${BOX}/c\nlswitch => IAX2/${BOX}/l\neswitch => IAX2/${BOX}/e\n[other]\n"
    )
    con = context(load(text), "c")
    # The data is not substituted at load time: the executor does that when the priority runs.
    assert [(e.name, steps(e)) for e in con.extensions] == [("700", [(1, "NoOp", "${EXT}", None)])]
    assert [(i.text, i.context) for i in con.includes] == [("other", "other")]
    assert [p.pattern for p in con.ignorepats] == ["700"]
    assert [(s.kind, s.name, s.data, s.eval) for s in con.switches] == [
        ("switch", "IAX2", "host/c", False), ("lswitch", "IAX2", "${BOX}/l", False),
        ("eswitch", "IAX2", "${BOX}/e", True)]


def test_hint_devices_are_substituted_with_exten_and_context_unless_a_pattern() -> None:
    # ast_add_extension2_lockopt substitutes a hint on a dummy channel whose exten and context are set.
    text = "[globals]\nTECH=PJSIP\n[c]\nexten => 200,hint,${TECH}/${EXTEN}@${CONTEXT}\nexten => _3XX,hint,${TECH}/x\n"
    exts = context(load(text), "c").extensions
    assert [e.hint.app for e in exts if e.hint] == ["PJSIP/200@c", "${TECH}/x"]


# -- includes, ignore patterns, switches (ast_context_add_include2 etc.) --------------------------------


def test_includes_with_timing_and_duplicates() -> None:
    text = (
        "[c]\ninclude => day,09:00-17:00,mon-fri,*,*\ninclude => other\ninclude => OTHER\n"
        "include => other,*,sat-sun,*,*\ninclude => other,\n[day]\n[other]\n"
    )
    result = load(text, filename="p.conf")
    con = context(result, "c")
    # include_alloc: the name is the whole value, the context what precedes the first comma.
    assert [(i.text, i.context, i.timing, i.line) for i in con.includes] == [
        ("day,09:00-17:00,mon-fri,*,*", "day", "09:00-17:00,mon-fri,*,*", 2),
        ("other", "other", None, 3),
        ("other,*,sat-sun,*,*", "other", "*,sat-sun,*,*", 5),
        ("other,", "other", "", 6),
    ]
    # ast_context_add_include2 compares names with strcasecmp.
    assert [(w.line, w.message) for w in result.warnings] == [
        (4, "Context 'OTHER' already included in 'c' context on include")]


def test_ignorepat_and_switch_duplicates() -> None:
    text = "[c]\nignorepat => 9\nignorepat => 9\nignorepat => 8\nswitch => DUNDi/e164\nswitch => dundi/E164\n" \
           "switch => Realtime\n"
    result = load(text)
    con = context(result, "c")
    assert [p.pattern for p in con.ignorepats] == ["9", "8"]
    assert [(s.name, s.data) for s in con.switches] == [("DUNDi", "e164"), ("Realtime", "")]
    assert messages(result) == ["Unable to include ignorepat '9' in context 'c'",
                                "Unable to include switch 'dundi/E164' in context 'c'"]


def test_include_of_a_missing_context_is_reported_once_per_context() -> None:
    # ast_context_verify_includes: the first include naming no context, newest context first.
    text = "[a]\ninclude => b\ninclude => nowhere\ninclude => gone\n[b]\ninclude => Missing,1:00-2:00,*,*,*\n"
    result = load(text, filename="p.conf")
    assert [(w.line, w.message) for w in result.warnings] == [
        (6, "Context 'b' tries to include nonexistent context 'Missing'"),
        (3, "Context 'a' tries to include nonexistent context 'nowhere'"),
    ]


# -- files and positions -----------------------------------------------------------------------------


def test_basic_plan_structure() -> None:
    result = load_dialplan(PLANS / "basic.conf")
    dp = result.dialplan
    assert result.warnings == []
    assert dp.files == [str(PLANS / "basic.conf")]
    assert (dp.static, dp.writeprotect, dp.autofallthrough) == (True, False, False)
    assert dp.globals == {"TRUNK": "SIP/provider", "OUTBOUND": "SIP/provider/out"}
    internal = context(result, "internal")
    assert [e.name for e in internal.extensions] == ["1001", "600", "_2XXX"]
    ext = internal.extensions[0]
    assert steps(ext) == [(-1, "SIP/1001", "", None), (1, "Dial", "SIP/1001,20", None),
                          (2, "VoiceMail", "1001@default,u", "vm"), (3, "Hangup", "", None)]
    assert [(p.file, p.line, p.registrar_file) for p in ext.sorted_priorities()] == [
        (str(PLANS / "basic.conf"), n, "basic.conf") for n in (14, 15, 16, 17)]
    assert (dp.extension_count, dp.priority_count, dp.context_count) == (4, 8, 2)


def test_registrar_file_is_the_base_name_of_the_file_the_line_came_from() -> None:
    # pbx_load_config: "Don't include full path if the configuration file includes slashes".
    dp = load_dialplan(PLANS / "include_main.conf").dialplan
    files = {(c.name, e.name): e.sorted_priorities()[0].registrar_file for c in dp.contexts.values()
             for e in c.extensions}
    assert files == {
        ("main", "1"): "include_main.conf", ("main", "10"): "first.conf", ("main", "2"): "include_main.conf",
        ("first", "11"): "first.conf", ("first", "12"): "nested.conf", ("glob", "20"): "a.conf",
        ("glob", "21"): "b.conf", ("brace", "30"): "brace_a.conf", ("brace", "31"): "brace_b.conf",
        ("brace", "10"): "first.conf~~1",
    }


def test_ten_thousand_extensions_of_three_priorities() -> None:
    lines = ["[big]"]
    for i in range(10_000):
        lines += [f"exten => {100000 + i},1,Answer()", f" same => n,Dial(SIP/{100000 + i},20)",
                  " same => n(end),Hangup()"]
    dp = load("\n".join(lines) + "\n").dialplan
    assert (dp.extension_count, dp.priority_count) == (10_000, 30_000)
    last = context(LoadResult(dp), "big").extensions[-1]
    assert (last.name, last.labels, last.sorted_priorities()[-1].line) == ("109999", {"end": 3}, 30_001)
