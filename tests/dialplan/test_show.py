"""``dialplan show`` (core/dialplan/show.py) against Asterisk 20's main/pbx.c and real captures.

The format strings are those of ``show_dialplan_helper`` and ``show_dialplan_helper_extension_output``
(``"  %-17s %-45s [%s:%d]\\n"``, ``"  Include =>        %-45s [%s]\\n"``, ...), the totals line is
``handle_show_dialplan``'s.  Where a test writes an expected line with :func:`ext_line`, it applies
those C format strings with Python's ``%`` operator (identical for ASCII text) so that the spaces are
not counted by hand; the golden tests compare with text captured from real Asterisk servers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.dialplan.loader import load_dialplan, load_dialplan_text
from core.dialplan.model import Context, Dialplan, Extension, Priority
from core.dialplan.show import ShowCounts, render_show, show_counts

PLANS = Path(__file__).parent / "plans"


def ext_line(first: str, second: str, where: str) -> str:
    """One line of ``show_dialplan_helper_extension_output`` (``where`` is ``file:line`` or a registrar)."""
    return "  %-17s %-45s [%s]\n" % (first, second, where)  # noqa: UP031 - Asterisk's printf format


def include_line(name: str) -> str:
    return "  Include =>        %-45s [%s]\n" % (f"'{name}'", "pbx_config")  # noqa: UP031


def ignore_line(pattern: str) -> str:
    return "  Ignore pattern => %-45s [%s]\n" % (f"'{pattern}'", "pbx_config")  # noqa: UP031


def switch_line(switch: str) -> str:
    return "  Alt. Switch =>    %-45s [%s]\n" % (f"'{switch}'", "pbx_config")  # noqa: UP031


def show(text: str, target: str | None = None, filename: str = "extensions.conf") -> str:
    return render_show(load_dialplan_text(text, filename=filename).dialplan, target)


# -- real captures --------------------------------------------------------------------------------


def test_matches_a_real_capture_of_dialplan_show_context() -> None:
    # "dialplan show locals" from a live Asterisk, published in a Czech Asterisk tutorial (README of a
    # public course repository): two extensions at lines 916 and 917 of extensions.conf.
    captured = (
        "[ Context 'locals' created by 'pbx_config' ]\n"
        "  '123' =>          1. dial(SIP/jarmil)                           [extensions.conf:916]\n"
        "  '321' =>          1. dial(SIP/helena)                           [extensions.conf:917]\n"
        "\n"
        "-= 2 extensions (2 priorities) in 1 context. =-\n"
    )
    text = "\n" * 914 + "[locals]\nexten => 123,1,dial(SIP/jarmil)\nexten => 321,1,dial(SIP/helena)\n"
    assert show(text, "locals") == captured


def test_matches_a_real_capture_of_following_priorities() -> None:
    # A blog's capture of "dialplan show" (context internal_users, lines 866-869 of extensions.conf).
    captured = (
        "[ Context 'internal_users' created by 'pbx_config' ]\n"
        "  '6000' =>         1. Answer()                                   [extensions.conf:866]\n"
        "                    2. Wait(1)                                    [extensions.conf:867]\n"
        "                    3. Playback(hello-world)                      [extensions.conf:868]\n"
        "                    4. Hangup()                                   [extensions.conf:869]\n"
        "\n"
    )
    text = "\n" * 864 + "[internal_users]\n" + "".join(
        f"exten => 6000,{n},{app}\n" for n, app in enumerate(["Answer()", "Wait(1)", "Playback(hello-world)",
                                                               "Hangup()"], start=1))
    assert show(text).startswith(captured)


def test_include_switch_and_ignore_lines_match_a_real_capture() -> None:
    # Lines quoted from a live "dialplan show" in a public project's tests (context 'local').
    out = show("[local]\ninclude => default\nswitch => DUNDi/e164\nignorepat => 9\n[default]\n", "local")
    assert out == (
        "[ Context 'local' created by 'pbx_config' ]\n"
        "  Include =>        'default'                                     [pbx_config]\n"
        "  Ignore pattern => '9'                                           [pbx_config]\n"
        "  Alt. Switch =>    'DUNDi/e164'                                  [pbx_config]\n"
        "\n"
        "-= 0 extensions (0 priorities) in 1 context. =-\n"
    )


# -- whole output of small plans --------------------------------------------------------------------


def test_basic_plan_full_output() -> None:
    dp = load_dialplan(PLANS / "basic.conf").dialplan
    expected = (
        # ast_walk_contexts: newest context first
        "[ Context 'outbound' created by 'pbx_config' ]\n"
        + ext_line("'_9.' =>", "1. Dial(${OUTBOUND}/${EXTEN:1})", "basic.conf:25")
        + switch_line("IAX2/user@host/ctx")
        + "\n"
        "[ Context 'internal' created by 'pbx_config' ]\n"
        # ext_cmp: plain names by bytes ('1001' < '600'), then patterns; the hint is the lowest priority
        + ext_line("'1001' =>", "hint: SIP/1001", "basic.conf:14")
        + ext_line("", "1. Dial(SIP/1001,20)", "basic.conf:15")
        + ext_line("   [vm]", "2. VoiceMail(1001@default,u)", "basic.conf:16")
        + ext_line("", "3. Hangup()", "basic.conf:17")
        + ext_line("'600' =>", "1. Answer()", "basic.conf:18")
        + ext_line("", "2. Echo()", "basic.conf:19")
        + ext_line("'_2XXX' =>", "1. NoOp(${EXTEN})", "basic.conf:20")
        + include_line("outbound")
        + ignore_line("9")
        + "\n"
        "-= 4 extensions (8 priorities) in 2 contexts. =-\n"
    )
    assert render_show(dp) == expected
    assert show_counts(dp) == ShowCounts(4, 8, 2)


def test_first_priority_label_is_not_shown_and_cid_column() -> None:
    out = show("[c]\nexten => 100/555,1(start),NoOp()\n same => n(two),NoOp(2)\nexten => 100,1,NoOp(plain)\n"
               "exten => 5,1,NoOp()\nautohints=yes\n", "c")
    assert out == (
        "[ Context 'c' created by 'pbx_config' ]\n"
        "Autohints support enabled\n"
        # "'%s' (CID match '%s') => " keeps its trailing space and is wider than 17 columns; the entry
        # with a caller-ID comes before the plain one, and '100' before '5' (bytes)
        + ext_line("'100' (CID match '555') => ", "1. NoOp()", "extensions.conf:2")
        + ext_line("   [two]", "2. NoOp(2)", "extensions.conf:3")
        + ext_line("'100' =>", "1. NoOp(plain)", "extensions.conf:4")
        + ext_line("'5' =>", "1. NoOp()", "extensions.conf:5")
        + "\n-= 3 extensions (4 priorities) in 1 context. =-\n"
    )


def test_names_keep_their_dashes_and_data_is_printed_as_stored() -> None:
    out = show("[c]\nexten => _1-800-NXX-XXXX,1,Dial,SIP/x|20\nexten => 1 2 3,1,NoOp (x)\n", "c")
    assert out == (
        "[ Context 'c' created by 'pbx_config' ]\n"
        + ext_line("'123' =>", "1. NoOp (x)", "extensions.conf:3")
        + ext_line("'_1-800-NXX-XXXX' =>", "1. Dial,SIP/x|20()", "extensions.conf:2")
        + "\n-= 2 extensions (2 priorities) in 1 context. =-\n"
    )


def test_included_files_are_named_by_base_name_and_repeats_by_their_tilde_name() -> None:
    out = render_show(load_dialplan(PLANS / "include_main.conf").dialplan, "brace")
    assert out == (
        "[ Context 'brace' created by 'pbx_config' ]\n"
        + ext_line("'10' =>", "1. NoOp(first, still in main)", "first.conf~~1:2")
        + ext_line("'30' =>", "1. NoOp(brace a)", "brace_a.conf:2")
        + ext_line("'31' =>", "1. NoOp(brace b)", "brace_b.conf:4")
        + "\n-= 3 extensions (3 priorities) in 1 context. =-\n"
    )


def test_entries_without_a_file_show_their_registrar() -> None:
    con = Context("dyn", registrar="pbx_lua")
    ext = Extension("1")
    ext.priorities[1] = Priority(1, "NoOp", "added at run time", registrar="pbx_lua")
    con.extensions.append(ext)
    out = render_show(Dialplan(contexts={"dyn": con}))
    assert out == (
        "[ Context 'dyn' created by 'pbx_lua' ]\n"
        + ext_line("'1' =>", "1. NoOp(added at run time)", "pbx_lua")
        + "\n-= 1 extension (1 priority) in 1 context. =-\n"
    )


def test_overlong_priority_text_is_cut_like_the_c_buffer() -> None:
    data = "x" * 2000
    out = show(f"[c]\nexten => 1,1,NoOp({data})\n", "c")
    second = out.splitlines()[1]
    # print_ext writes into char buf2[1024]: at most 1023 bytes of "1. NoOp(xxx...".
    assert second == "  " + "%-17s" % "'1' =>" + " " + ("1. NoOp(" + data)[:1023] + " [extensions.conf:2]"  # noqa: UP031


# -- totals (handle_show_dialplan) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param("", "-= 0 extensions (0 priorities) in 0 contexts. =-", id="nothing"),
        pytest.param("[a]\n", "-= 0 extensions (0 priorities) in 1 context. =-", id="empty-context-counts"),
        pytest.param("[a]\nexten => 1,hint,SIP/1\n", "-= 1 extension (1 priority) in 1 context. =-",
                     id="a-hint-is-a-priority"),
        pytest.param("[a]\nexten => 1,1,A\nexten => 1,2,B\n[b]\n",
                     "-= 1 extension (2 priorities) in 2 contexts. =-", id="plural-priorities"),
        pytest.param("[a]\nexten => 1,1,A\nexten => 2,1,B\nexten => 2/5,1,C\n",
                     "-= 3 extensions (3 priorities) in 1 context. =-", id="cid-entry-is-an-extension"),
        pytest.param("[a]\ninclude => ghost\n", "-= 0 extensions (0 priorities) in 1 context. =-",
                     id="included-but-undefined-context-is-not-counted"),
        pytest.param("[a](!)\nexten => 1,1,A\n[general]\n[globals]\n",
                     "-= 0 extensions (0 priorities) in 0 contexts. =-", id="templates-general-globals-not-counted"),
    ],
)
def test_totals_line(text: str, line: str) -> None:
    out = show(text)
    assert out.endswith(line + "\n")
    assert out.count("-=") == 1


def test_contexts_are_listed_newest_first() -> None:
    out = show("[one]\n[two]\n[three]\n[one]\nexten => 1,1,NoOp()\n")
    headers = [line for line in out.splitlines() if line.startswith("[ Context")]
    assert headers == ["[ Context 'three' created by 'pbx_config' ]", "[ Context 'two' created by 'pbx_config' ]",
                       "[ Context 'one' created by 'pbx_config' ]"]


def test_extensions_are_listed_in_ext_cmp_order() -> None:
    # ext_cmp: plain names by their bytes first ('#' < '1' < 'a' < 's'), then patterns position by
    # position: '1' (0x0131) < N (0x0832) < X (0x0A30); a shorter pattern ends (0x30000) after '.'.
    names = ["_X.", "s", "_NXX", "_1X", "a", "#", "100", "_X"]
    text = "[c]\n" + "".join(f"exten => {n},1,NoOp()\n" for n in names)
    shown = [line.split("'")[1] for line in show(text, "c").splitlines() if line.startswith("  '")]
    assert shown == ["#", "100", "a", "s", "_1X", "_NXX", "_X.", "_X"]


# -- dialplan show EXTEN@CONTEXT (show_dialplan_helper with exten) ------------------------------------


def test_extension_filter_uses_pattern_matching() -> None:
    dp = load_dialplan(PLANS / "basic.conf").dialplan
    assert render_show(dp, "2345@internal") == (
        "[ Context 'internal' created by 'pbx_config' ]\n"
        + ext_line("'_2XXX' =>", "1. NoOp(${EXTEN})", "basic.conf:20")
        + "\n-= 1 extension (1 priority) in 1 context. =-\n"
    )
    assert show_counts(dp, "1001@internal") == ShowCounts(1, 4, 1)


def test_extension_filter_follows_includes_and_prints_matching_ignore_patterns() -> None:
    # The include is searched from inside the context's walk (printed as "Included context"), the
    # ignore pattern '9' shows because "_9." matches 912, and the context itself printed nothing, so
    # it gets no header and no blank line.
    dp = load_dialplan(PLANS / "basic.conf").dialplan
    assert render_show(dp, "912@internal") == (
        "[ Included context 'outbound' created by 'pbx_config' ]\n"
        + ext_line("'_9.' =>", "1. Dial(${OUTBOUND}/${EXTEN:1})", "basic.conf:25")
        + "\n"
        + ignore_line("9")
        + "-= 1 extension (1 priority) in 1 context. =-\n"
    )


def test_extension_in_every_context() -> None:
    dp = load_dialplan(PLANS / "basic.conf").dialplan
    assert render_show(dp, "912@") == (
        "[ Context 'outbound' created by 'pbx_config' ]\n"
        + ext_line("'_9.' =>", "1. Dial(${OUTBOUND}/${EXTEN:1})", "basic.conf:25")
        + switch_line("IAX2/user@host/ctx")
        + "\n"
        "[ Included context 'outbound' created by 'pbx_config' ]\n"
        + ext_line("'_9.' =>", "1. Dial(${OUTBOUND}/${EXTEN:1})", "basic.conf:25")
        + "\n"
        + ignore_line("9")
        + "-= 2 extensions (2 priorities) in 2 contexts. =-\n"
    )


def test_timed_includes_are_not_followed_by_the_extension_filter() -> None:
    # The recursion looks for a context named like the whole include ("other,*,*,*,*").
    out = show("[a]\ninclude => other,*,*,*,*\n[other]\nexten => 1,1,NoOp()\n", "1@a")
    assert out == "There is no existence of 1@a extension\n"


def test_circular_includes_are_shown_once_per_path() -> None:
    out = show("[a]\ninclude => b\nexten => 1,1,NoOp(a)\n[b]\ninclude => a\nexten => 1,1,NoOp(b)\n", "1@a")
    headers = [line for line in out.splitlines() if line.startswith("[")]
    # a, then b through a's include, then a again through b's include (the include stack starts empty).
    assert headers == ["[ Context 'a' created by 'pbx_config' ]", "[ Included context 'b' created by 'pbx_config' ]",
                       "[ Included context 'a' created by 'pbx_config' ]"]
    assert out.endswith("-= 3 extensions (3 priorities) in 3 contexts. =-\n")


@pytest.mark.parametrize(
    ("target", "message"),
    [
        pytest.param("nope", "There is no existence of 'nope' context\n", id="unknown-context"),
        pytest.param("Internal", "There is no existence of 'Internal' context\n", id="context-name-is-case-sensitive"),
        pytest.param("555@internal", "There is no existence of 555@internal extension\n", id="unknown-extension"),
        # outbound's switch is printed on the way (it is not searched as an include there)
        pytest.param("555@", switch_line("IAX2/user@host/ctx") + "There is no existence of '555' extension in all "
                     "contexts\n", id="unknown-everywhere"),
        pytest.param("1@nope", "There is no existence of 'nope' context\n", id="context-checked-first"),
    ],
)
def test_unknown_targets(target: str, message: str) -> None:
    dp = load_dialplan(PLANS / "basic.conf").dialplan
    assert render_show(dp, target) == message
    counts = show_counts(dp, target)
    assert (counts.context_found and counts.extension_found) is False


def test_switches_print_even_when_the_extension_is_not_there() -> None:
    # show_dialplan_helper prints a context's switches whenever it is not searching an include.
    out = show("[a]\nswitch => IAX2/box\n", "5@a")
    assert out == switch_line("IAX2/box") + "There is no existence of 5@a extension\n"


@pytest.mark.parametrize(("target", "context"), [("@internal", "internal"), ("", None), ("internal", "internal")])
def test_empty_parts_of_the_target_mean_all(target: str, context: str | None) -> None:
    dp = load_dialplan(PLANS / "basic.conf").dialplan
    expected = render_show(dp, context)
    assert render_show(dp, target) == expected
