"""Constructs met in real, public extensions.conf files, reproduced in small self-written dialplans.

Each case was first seen while loading public dialplans (FreePBX-generated files, the Asterisk sample
and basic-pbx configs, hobby and lab setups) and its expected result was worked out by hand from
Asterisk 20's source: ``config_text_file_load``/``process_text_line`` (main/config.c),
``pbx_load_config`` (pbx/pbx_config.c), ``ast_add_extension2_lockopt``/``add_priority``/
``show_dialplan_helper`` (main/pbx.c).  No third-party file is part of these tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.dialplan.loader import LoadResult, load_dialplan, load_dialplan_text
from core.dialplan.show import render_show, show_counts
from core.dialplan.substitute import load_time_substituter

PLANS = Path(__file__).parent / "plans"


def counts(result: LoadResult) -> tuple[int, int, int]:
    totals = show_counts(result.dialplan)
    return totals.extensions, totals.priorities, totals.contexts


def test_a_generated_dialplan_with_banners_end_markers_and_custom_includes() -> None:
    # ";----...;" is an ordinary comment (";--" followed by a third '-'), and ";--== end of [x] ==--;"
    # opens and closes a block comment on one line: neither swallows the next context.  The
    # #include inside [globals] adds its lines to [globals] (the category opened last), substituted
    # after the ones before it.  verify_includes warns once per context about the first include that
    # names no context; the label of priority 1 is never printed (show_dialplan_helper).
    result = load_dialplan(PLANS / "generated_style.conf")
    assert result.dialplan.globals == {"TRUNK_OPTIONS": "Tt", "NULL": '""', "VMX_CONTEXT": "", "EXTRA": "Ttr"}
    assert [(w.line, w.message) for w in result.warnings] == [
        (15, "Context 'app-block' tries to include nonexistent context 'app-block-custom'")]
    assert counts(result) == (3, 7, 3)
    text = render_show(result.dialplan)
    assert text.startswith("[ Context 'app-block-add-custom' created by 'pbx_config' ]\n\n")
    assert (
        "[ Context 'app-block' created by 'pbx_config' ]\n"
        "  '*30' =>          1. Goto(app-block-add,s,1)                    [generated_style.conf:20]\n"
        "  's' =>            1. GotoIf($[\"${BLACKLIST()}\"=\"1\"]?blocked)    [generated_style.conf:16]\n"
        "                    2. Return()                                   [generated_style.conf:17]\n"
        "     [blocked]      3. Answer()                                   [generated_style.conf:18]\n"
        "                    4. Hangup()                                   [generated_style.conf:19]\n"
        "  Include =>        'app-block-custom'                            [pbx_config]\n"
        "\n"
        "-= 3 extensions (7 priorities) in 3 contexts. =-\n"
    ) in text


def test_extension_names_built_from_globals_are_substituted_at_load() -> None:
    # pbx_load_config substitutes the name part of "exten =>" (pbx_substitute_variables_helper) before
    # ast_add_extension2, so ${OC1} in a name or pattern is the global's value; plain names sort first,
    # patterns by ext_cmp ('1' < '3' < N).
    text = (
        "[globals]\nOC1=393\n"
        "[local]\n"
        "exten => ${OC1}1111,1,Goto(dt,s,1)\n"
        "exten => _${OC1}1XXX,1,Gosub(peer,s,1(${EXTEN}))\n"
        " same => n,Hangup()\n"
        "exten => _NXXXXXX,1,Goto(out,${EXTEN},1)\n"
        "exten => _1NXXXXXXXXX,1,Goto(out,${EXTEN:-10},1)\n"
    )
    result = load_dialplan_text(text)
    local = result.dialplan.context("local")
    assert local is not None
    assert [ext.name for ext in local.extensions] == ["3931111", "_3931XXX", "_NXXXXXX", "_1NXXXXXXXXX"]
    shown = [line.split("=>")[0].strip() for line in render_show(result.dialplan).splitlines() if "' =>" in line]
    assert shown == ["'3931111'", "'_1NXXXXXXXXX'", "'_3931XXX'", "'_NXXXXXX'"]
    assert counts(result) == (4, 5, 1)


def test_empty_contexts_count_and_are_shown() -> None:
    # ast_context_find_or_create makes a context for every section, with or without lines, and
    # show_dialplan_helper prints (and counts) every context when no extension is asked for.
    text = (
        "[general]\nstatic=yes\n[globals] ; nothing yet\n[incoming]\n"
        "[sets]\nexten => 601,1,Dial(PJSIP/6001)\nsame  => n,Hangup()\n[sets1]\n[services]\n"
    )
    result = load_dialplan_text(text)
    assert counts(result) == (1, 2, 4)
    assert render_show(result.dialplan).startswith(
        "[ Context 'services' created by 'pbx_config' ]\n\n[ Context 'sets1' created by 'pbx_config' ]\n\n")


def test_windows_line_endings_change_nothing() -> None:
    # fgets() keeps "\r\n"; ast_strip() removes every byte below 33 at both ends of the line.
    text = "[c]\nexten => 100,1,Answer() ; pick up\nsame => n(main),Playback(hello)\ninclude => d\n[d]\n"
    unix = load_dialplan_text(text)
    dos = load_dialplan_text(text.replace("\n", "\r\n"))
    assert render_show(dos.dialplan) == render_show(unix.dialplan)
    assert counts(dos) == (1, 2, 2)


def test_hash_commented_lines_are_unknown_directives_and_numbering_goes_on() -> None:
    # "#same = n,Voicemail(...)" (a shell-style comment) is a directive to process_text_line:
    # "Unknown directive '#same'", line ignored; the next "n" follows the last priority added.
    text = "[interaction]\nexten = 101,1,Answer()\nsame = n,Dial(PJSIP/101,60)\n#same = n,Voicemail(101@main)\n" \
           "same = n,Hangup()\n"
    result = load_dialplan_text(text, filename="e.conf")
    assert [(w.line, w.message) for w in result.warnings] == [(4, "Unknown directive '#same'")]
    ext = result.dialplan.contexts["interaction"].extensions[0]
    assert [(p.number, p.app) for p in ext.sorted_priorities()] == [(1, "Answer"), (2, "Dial"), (3, "Hangup")]


@pytest.mark.parametrize(("line", "shown"), [
    # Spaces after the commas: the priority is stripped, the application's leading blanks skipped.
    pytest.param("exten => 1000, 1, noOp()", "1. noOp()", id="spaces-after-commas"),
    # The pre-1.6 "App,arg|arg" form has no '(': the whole rest is the application name.
    pytest.param("exten => 1999,1,rpt,1999|X", "1. rpt,1999|X()", id="old-comma-syntax"),
    # Text after the last ')' is dropped with it ("Progress() \"Switch verification\"").
    pytest.param('exten => 1999,1,Progress() "Switch verification"', "1. Progress()", id="trailing-text"),
    # No ')' at all: a warning, and the data runs to the end of the line.
    pytest.param("exten => 1999,1,NoOp(unclosed", "1. NoOp(unclosed)", id="unclosed-parenthesis"),
])
def test_application_text_as_pbx_config_splits_it(line: str, shown: str) -> None:
    result = load_dialplan_text(f"[c]\n{line}\n")
    assert f"  {shown}" in render_show(result.dialplan).splitlines()[1]


def test_a_second_globals_section_sets_nothing() -> None:
    # ast_variable_browse(cfg, "globals") reads the first [globals] only; the context loop skips every
    # section called globals, so variables put in a later one are simply not there.
    result = load_dialplan_text("[globals]\nA=1\n[c]\nexten => s,1,NoOp(${A}${B})\n[globals]\nB=2\n")
    assert result.dialplan.globals == {"A": "1"}
    assert counts(result) == (1, 1, 1)
    assert [(w.line, w.severity) for w in result.warnings] == [(5, "warning")]


def test_too_many_includes_are_reported() -> None:
    # ast_context_verify_includes: "Context %s contains too many includes (%d). Maximum is %d."
    # when a context has AST_PBX_MAX_STACK (128) includes or more.
    text = "[big]\n" + "".join(f"include => c{n}\n" for n in range(128)) + "".join(f"[c{n}]\n" for n in range(128))
    result = load_dialplan_text(text)
    assert [w.message for w in result.warnings] == ["Context big contains too many includes (128). Maximum is 128."]
    assert load_dialplan_text(text.replace("include => c127\n", "")).warnings == []


def test_load_time_substitution_has_no_channel_except_for_hints() -> None:
    # pbx_load_config calls pbx_substitute_variables_helper(NULL, ...): ast_str_retrieve_variable only
    # answers EXTEN, CONTEXT, CHANNEL, UNIQUEID... for a channel, so here they are globals (unset:
    # empty); EPOCH needs no channel.  ast_add_extension2_lockopt substitutes a hint on a dummy channel
    # at the hint's extension and context ("exten => 1001,hint,SIP/${EXTEN}" is a common line).
    text = (
        "[globals]\nTECH=PJSIP\nA=[${EXTEN}][${CONTEXT}][${CHANNEL}][${UNIQUEID}]\nB=${EPOCH}\n"
        "[office]\nexten => 1001,hint,${TECH}/${EXTEN}&Custom:DND${EXTEN:1}@${CONTEXT}\n"
        "exten => 1001,1,Dial(${HINT})\nexten => ${EXTEN}9,1,NoOp()\n"
    )
    result = load_dialplan_text(text, substitute=load_time_substituter())
    dp = result.dialplan
    assert dp.globals["A"] == "[][][][]"
    assert dp.globals["B"].isdigit()
    office = dp.contexts["office"]
    hint = office.extensions[0].hint
    assert hint is not None and hint.app == "PJSIP/1001&Custom:DND001@office"
    assert [ext.name for ext in office.extensions] == ["1001", "9"]
    assert "  '1001' =>         hint: PJSIP/1001&Custom:DND001@office " in render_show(dp)
