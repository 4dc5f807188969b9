"""Asterisk's config file syntax (core/dialplan/config_parser.py) against what main/config.c does.

Every expectation cites the Asterisk 20 function it comes from (main/config.c unless said otherwise):
``config_text_file_load`` (comments, line reading, globs), ``process_text_line`` (categories,
directives, variables), ``ast_config_internal_load`` (include depth), ``ast_include_new`` (repeated
includes), ``ast_category_browse``/``ast_category_get`` (templates are hidden, names ignore case).
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.dialplan.config_parser import (
    ConfigFile,
    Diagnostic,
    DialplanSyntaxError,
    parse_config,
    parse_config_text,
)

PLANS = Path(__file__).parent / "plans"


def variables(config: ConfigFile, category: str) -> list[tuple[str, str]]:
    cat = config.category(category)
    assert cat is not None, f"no category {category}"
    return [(v.name, v.value) for v in cat.variables]


def parse(text: str, **kwargs: object) -> tuple[ConfigFile, list[Diagnostic]]:
    return parse_config_text(text, **kwargs)  # type: ignore[arg-type]


# -- comments (config_text_file_load's comment scan) ---------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param("a = b ; comment", "b", id="semicolon-starts-a-comment"),
        pytest.param("a = b\\;c ; comment", "b;c", id="escaped-semicolon-is-literal"),
        pytest.param("a = b\\;", "b;", id="escaped-semicolon-at-end"),
        pytest.param("a = b ;-- block --; c", "b  c", id="inline-block-comment-joins-the-rest"),
        pytest.param("a = b ;--- not a block", "b", id="three-dashes-is-a-plain-comment"),
        pytest.param("a = x ;-- one ;-- two --; still --; y", "x  y", id="nested-block-on-one-line"),
        pytest.param("a = \t value \t ", "value", id="blanks-trimmed"),
        pytest.param("a => b", "b", id="arrow-form"),
        pytest.param("a=>", "", id="empty-value"),
    ],
)
def test_comment_and_whitespace_handling_of_one_line(line: str, expected: str) -> None:
    config, _ = parse(f"[c]\n{line}\n")
    assert variables(config, "c") == [("a", expected)]


_VALUE_CHARS = st.characters(blacklist_characters=";\n\r\\\x00", blacklist_categories=("Cs",))


@given(st.text(_VALUE_CHARS, max_size=40), st.text(_VALUE_CHARS, max_size=40))
def test_any_value_without_specials_is_kept_between_blanks_and_a_comment(value: str, comment: str) -> None:
    # ast_strip trims bytes below 33 only; everything after an unescaped ';' is a comment.
    config, _ = parse(f"[c]\nkey = {value} ;{comment}\n")
    assert variables(config, "c") == [("key", value.strip("".join(map(chr, range(33)))))]


@given(st.lists(st.text(_VALUE_CHARS, min_size=1, max_size=10), min_size=1, max_size=5))
def test_escaped_semicolons_are_literal_anywhere(parts: list[str]) -> None:
    value = "\\;".join(parts).strip("".join(map(chr, range(33)))).replace("=", "")
    config, _ = parse(f"[c]\nkey=x{value}y\n")
    assert variables(config, "c") == [("key", f"x{value.replace(chr(92) + ';', ';')}y")]


def test_block_comments_span_lines_and_nest() -> None:
    # config_text_file_load: ";--" opens (nest count up to MAX_NESTED_COMMENTS), "--;" closes; what
    # follows the closing "--;" on its line is read.
    config, warnings = parse_config(PLANS / "comments.conf")
    assert [v.value for v in config.categories[0].variables] == [
        "1,1,NoOp(a;b)",
        "2,1,NoOp(x)",
        "4,1,NoOp(after the block)",
        "6,1,NoOp(visible)",
    ]
    assert [v.line for v in config.categories[0].variables] == [3, 4, 6, 11]
    assert warnings == []


def test_unterminated_block_comment_is_a_warning_and_hides_the_rest() -> None:
    # "Unterminated comment detected beginning on line %d" (config_text_file_load), the rest is a comment.
    config, warnings = parse("[c]\na=1\n;-- open\nb=2\n", filename="x.conf")
    assert variables(config, "c") == [("a", "1")]
    assert [(w.file, w.line) for w in warnings] == [("x.conf", 3)]
    assert "Unterminated comment" in warnings[0].message


def test_stray_block_comment_end_hides_lines_until_the_next_block_start() -> None:
    # "--;" outside a block decrements the nesting below zero: config_text_file_load then treats the
    # following lines as commented until a ";--" brings the count back to zero.
    config, warnings = parse("[c]\na=1 --; x\nb=2\n;-- back\nc=3\n")
    assert variables(config, "c") == [("a", "1 --; x"), ("c", "3")]
    assert len(warnings) == 1 and warnings[0].line == 2


def test_semicolon_opening_a_block_cannot_close_it() -> None:
    # ";--;" : the "--;" test looks before the scan position, which ";--" already moved past.
    config, _ = parse("[c]\n;--;\nhidden=1\n--;\nseen=1\n")
    assert variables(config, "c") == [("seen", "1")]


def test_a_nul_byte_ends_the_line() -> None:
    # fgets() reads it, but every string function after it stops there.
    config, _ = parse("[c]\na=1\x00 ignored\nb=2 \x00;x\n")
    assert variables(config, "c") == [("a", "1"), ("b", "2")]


def test_crlf_line_endings_and_utf8_bom() -> None:
    # ast_strip removes the '\r'; config_text_file_load skips a UTF-8 BOM on line 1.
    config, _ = parse("\ufeff[c]\r\nexten => 1,1,NoOp(é)\r\n")
    assert variables(config, "c") == [("exten", "1,1,NoOp(é)")]


def test_overlong_line_is_skipped_with_a_warning() -> None:
    # fgets into char buf[8192]: a line of 8191 bytes or more is skipped ("Line %d too long, skipping").
    long_value = "x" * 8200
    config, warnings = parse(f"[c]\na={long_value}\nb={'y' * 8000}\n", filename="long.conf")
    assert variables(config, "c") == [("b", "y" * 8000)]
    assert [(w.file, w.line) for w in warnings] == [("long.conf", 2)]
    assert "too long" in warnings[0].message


@pytest.mark.parametrize(("length", "newline", "kept"), [
    # config_text_file_load: a line is "too long" when one fgets() into char buf[8192] returns 8191
    # bytes (the test of buf[sizeof(buf) - 1] always sees the NUL), newline included.
    pytest.param(8189, True, [("x", 2), ("y", 3), ("z", 4)], id="8189-bytes-read"),
    # 8190 bytes + newline fill the buffer: skipped, and the loop that drops the rest of a long line
    # then drops the *next* line (its first read is shorter than 8191 bytes), which is not counted.
    pytest.param(8190, True, [("z", 3)], id="8190-bytes-swallow-the-next-line"),
    pytest.param(8190, False, [("x", 2)], id="8190-bytes-at-end-of-file"),
    pytest.param(8191, True, [("y", 3), ("z", 4)], id="8191-bytes-rest-is-the-newline"),
    # Two full chunks (16381 bytes + newline): the chunk after them, the next line, is dropped.
    pytest.param(16381, True, [("z", 3)], id="two-full-chunks"),
])
def test_overlong_line_boundaries(length: int, newline: bool, kept: list[tuple[str, int]]) -> None:
    line = "x=" + "a" * (length - 2)
    text = "[c]\n" + line + ("\ny=1\nz=2\n" if newline else "")
    config, warnings = parse(text)
    category = config.category("c")
    assert category is not None
    assert [(v.name, v.line) for v in category.variables] == kept
    assert len(warnings) == (0 if ("x", 2) in kept else 1)


# -- categories (process_text_line) ------------------------------------------------------------------


def test_templates_are_not_browsed_and_are_copied_first_in_order() -> None:
    config, warnings = parse_config(PLANS / "templates.conf")
    assert warnings == []
    assert [c.name for c in config.browse()] == ["office", "Lobby"]
    assert [c.name for c in config.categories if c.is_template] == ["common", "extra"]
    office = config.category("office")
    assert office is not None
    # ast_category_inherit appends the base's lines when the header is read: template lines first,
    # in the order the templates are listed, then the category's own, then what (+) appended.
    assert [(v.value, v.line, v.inherited) for v in office.variables] == [
        ("i,1,Playback(invalid)", 3, True),
        ("t,1,Hangup()", 4, True),
        ("h,1,NoOp(hangup)", 7, True),
        ("100,1,Dial(SIP/100)", 10, False),
        ("101,1,Dial(SIP/101)", 13, False),
    ]
    assert office.templates == ["common", "extra"]
    # category_get matches names with strcasecmp: (COMMON) finds [common].
    lobby = config.category("lobby")
    assert lobby is not None and lobby.templates == ["common"]


def test_append_goes_to_the_first_category_of_that_name() -> None:
    # [name](+): ast_category_get returns the first non-template category with the name.
    config, _ = parse("[a]\nx=1\n[a]\nx=2\n[a](+)\nx=3\n")
    assert [[v.value for v in c.variables] for c in config.browse()] == [["1", "3"], ["2"]]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        pytest.param("[a](+)\nx=1\n", 1, "Category addition requested, but category 'a' does not exist",
                     id="append-to-missing"),
        pytest.param("[t](!)\n[t](+)\n", 2, "Category addition requested, but category 't' does not exist",
                     id="append-to-template-only"),
        pytest.param("[a](nope)\n", 1, "Inheritance requested, but category 'nope' does not exist",
                     id="inherit-missing"),
        pytest.param("[t](!)\n[a]( ! )\n", 2, "Inheritance requested, but category ' ! ' does not exist",
                     id="options-are-not-trimmed"),
        pytest.param("[a]\nx=1\n[b\nx=1\n", 3, "parse error: no closing ']'", id="no-closing-bracket"),
        pytest.param("[a](!\nx=1\n", 1, "parse error: no closing ')'", id="no-closing-paren"),
        pytest.param("; c\nx=1\n", 2, "parse error: No category context for line", id="line-before-any-category"),
        pytest.param("[a]\n\\\n", 2, "Invalid escape in line", id="bare-backslash"),
    ],
)
def test_errors_in_the_top_level_file_fail_the_load(text: str, line: int, message: str) -> None:
    # process_text_line returns -1 -> CONFIG_STATUS_FILEINVALID -> pbx_load_config gives up.
    with pytest.raises(DialplanSyntaxError) as info:
        parse(text, filename="plan.conf")
    error = info.value
    assert (error.file, error.line, error.message) == ("plan.conf", line, message)
    assert str(error) == f"plan.conf:{line}: {message}"


def test_syntax_error_reports_file_and_line() -> None:
    with pytest.raises(DialplanSyntaxError) as info:
        parse_config(PLANS / "bad_header.conf")
    assert str(info.value) == f"{PLANS / 'bad_header.conf'}:4: parse error: no closing ']'"


def test_template_marker_needs_the_paren_right_after_the_bracket() -> None:
    # process_text_line: "if (*c++ != '(') c = NULL;" - "[foo] (!)" has no options at all.
    config, _ = parse("[foo] (!)\nx=1\n")
    assert [c.name for c in config.browse()] == ["foo"]


def test_category_names_are_kept_as_written_and_cut_to_79_characters() -> None:
    long_name = "n" * 100
    config, _ = parse(f"[ spaced ]\nx=1\n[{long_name}]\ny=2\n")
    assert [c.name for c in config.browse()] == [" spaced ", "n" * 79]


def test_template_then_plus_marks_the_existing_category_as_template() -> None:
    # (*cat)->ignored |= newcat->ignored
    config, _ = parse("[a]\nx=1\n[a](!,+)\ny=2\n")
    assert list(config.browse()) == []
    assert [v.value for v in config.categories[0].variables] == ["1", "2"]


# -- variables (process_text_line) ---------------------------------------------------------------------


def test_equals_and_arrow_are_both_variables_and_remember_which() -> None:
    config, _ = parse("[c]\nexten => 1,1,NoOp()\nexten = 2,1,NoOp()\nsame=>n,NoOp()\n")
    cat = config.category("c")
    assert cat is not None
    assert [(v.name, v.object) for v in cat.variables] == [("exten", True), ("exten", False), ("same", True)]


def test_first_equals_sign_splits_name_and_value() -> None:
    config, _ = parse("[c]\nexten => 1,1,Set(a=b)\n")
    assert variables(config, "c") == [("exten", "1,1,Set(a=b)")]


def test_plus_equals_appends_to_the_last_line_of_that_name() -> None:
    # "name += value": the old value + the text after '=' (leading blank kept), then trimmed.
    config, _ = parse("[c]\nx = a\nx = b\nx += c\ny += new\n")
    assert variables(config, "c") == [("x", "a"), ("x", "b c"), ("y", "new")]


def test_leading_backslash_escapes_the_first_character_of_a_name() -> None:
    config, _ = parse("[c]\n\\[odd]=1\n\\==2=3\n")
    assert variables(config, "c") == [("[odd]", "1"), ("=", "2=3")]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        pytest.param("no equals here", "No '=' (equal sign) in line", id="no-equals"),
        pytest.param(" = value", "No variable name in line", id="no-name"),
        pytest.param("#bogus foo", "Unknown directive '#bogus'", id="unknown-directive"),
        pytest.param("#include", "Directive '#include / tryinclude' needs an argument (filename)",
                     id="include-without-argument"),
    ],
)
def test_lines_asterisk_only_warns_about_are_skipped(line: str, message: str) -> None:
    config, warnings = parse(f"[c]\n{line}\nok=1\n", filename="w.conf")
    assert variables(config, "c") == [("ok", "1")]
    assert [(w.file, w.line, w.message, w.severity) for w in warnings] == [("w.conf", 2, message, "warning")]
    assert str(warnings[0]) == f"w.conf:2: {message}"


# -- #include / #tryinclude (process_text_line, config_text_file_load) ---------------------------------


def test_include_forms_globs_braces_and_current_category() -> None:
    config, warnings = parse_config(PLANS / "include_main.conf")
    inc = PLANS / "inc"
    seen = [
        (c.name, [(v.value.split(",")[0], Path(v.file).name, v.line, v.origin) for v in c.variables])
        for c in config.browse()
    ]
    assert seen == [
        # An included file starts in the category opened last (cfg->current); after the #include
        # the includer goes on in its own category.
        ("main", [("1", "include_main.conf", 3, ""), ("10", "first.conf", 2, f"{inc}/first.conf"),
                  ("2", "include_main.conf", 5, "")]),
        ("first", [("11", "first.conf", 4, f"{inc}/first.conf"), ("12", "nested.conf", 2, f"{inc}/nested.conf")]),
        # One glob, several files: config_text_file_load does not reset its line counter between
        # them, and its fgets loop counts one line past a final newline (a.conf has 2 lines -> b.conf
        # starts at 4).
        ("glob", [("20", "a.conf", 2, f"{inc}/glob/a.conf"), ("21", "b.conf", 4, f"{inc}/glob/b.conf")]),
        ("brace", [("30", "brace_a.conf", 2, f"{inc}/brace_a.conf"), ("31", "brace_b.conf", 4, f"{inc}/brace_b.conf"),
                   # the second #include of first.conf: ast_include_new names it "inc/first.conf~~1"
                   ("10", "first.conf", 2, "inc/first.conf~~1")]),
        ("first", [("11", "first.conf", 4, "inc/first.conf~~1"), ("12", "nested.conf", 2, "inc/nested.conf~~1")]),
    ]
    assert [Path(f).name for f in config.files] == [
        "include_main.conf", "first.conf", "nested.conf", "a.conf", "b.conf", "brace_a.conf", "brace_b.conf",
        "first.conf", "nested.conf",
    ]
    # #tryinclude of a missing file is silent; a repeated #include is a warning (ast_include_new).
    assert [(Path(w.file).name, w.line, w.message) for w in warnings] == [
        ("include_main.conf", 9,
         "Same File included more than once! This data will be saved in inc/first.conf~~1 if saved back to disk."),
        ("first.conf", 5,
         "Same File included more than once! This data will be saved in inc/nested.conf~~1 if saved back to disk."),
    ]


def test_missing_include_in_the_top_level_file_fails_the_load() -> None:
    with pytest.raises(DialplanSyntaxError) as info:
        parse_config(PLANS / "include_missing.conf")
    assert info.value.line == 4
    assert info.value.message == "The file 'inc/not-there.conf' was listed as a #include but it does not exist."


def test_error_in_an_included_file_stops_only_that_file() -> None:
    # The included file's load returns CONFIG_STATUS_FILEINVALID, which the includer's
    # "ast_config_internal_load(...) ? 1 : 0" counts as success: it goes on after the #include.
    config, warnings = parse_config(PLANS / "include_broken.conf")
    assert variables(config, "outer") == [("exten", "1,1,NoOp(before)"), ("exten", "2,1,NoOp(after)")]
    assert variables(config, "broken") == [("exten", "1,1,NoOp(read)")]
    assert [(Path(w.file).name, w.line, w.severity) for w in warnings] == [
        ("broken.conf", 3, "error"), ("broken.conf", 3, "error")]
    assert warnings[0].message == "parse error: no closing ']'"


def test_missing_include_inside_an_included_file_stops_that_file(tmp_path: Path) -> None:
    (tmp_path / "top.conf").write_text("[a]\n#include mid.conf\nafter=1\n")
    (tmp_path / "mid.conf").write_text("x=1\n#include gone.conf\ny=2\n")
    config, warnings = parse_config(tmp_path / "top.conf")
    assert variables(config, "a") == [("x", "1"), ("after", "1")]
    assert warnings[0].message == "The file 'gone.conf' was listed as a #include but it does not exist."
    assert (Path(warnings[0].file).name, warnings[0].line) == ("mid.conf", 2)


def test_include_loop_stops_at_the_include_depth_limit() -> None:
    # MAX_INCLUDE_LEVEL 10: the top-level file and ten nested includes are read; the eleventh
    # #include fails ("Maximum Include level (10) exceeded", then "... does not exist").
    config, warnings = parse_config(PLANS / "include_loop.conf")
    assert len(list(config.browse())) == 11
    messages = [w.message for w in warnings]
    assert messages.count("Maximum Include level (10) exceeded") == 1
    assert sum(m.startswith("Same File included more than once!") for m in messages) == 10


def test_empty_glob_is_a_missing_include_but_tryinclude_is_fine(tmp_path: Path) -> None:
    # glob() with GLOB_NOMAGIC|GLOB_BRACE matches nothing -> no file read -> NULL.
    (tmp_path / "top.conf").write_text("[a]\n#tryinclude none/*.conf\nx=1\n#include none/*.conf\n")
    with pytest.raises(DialplanSyntaxError) as info:
        parse_config(tmp_path / "top.conf")
    assert info.value.line == 4


def test_relative_includes_resolve_against_the_top_level_directory(tmp_path: Path) -> None:
    # Asterisk resolves every relative #include against its configuration directory, not the
    # directory of the file that holds the #include.
    (tmp_path / "sub").mkdir()
    (tmp_path / "top.conf").write_text("[a]\n#include sub/one.conf\n")
    (tmp_path / "sub" / "one.conf").write_text("#include two.conf\n")
    (tmp_path / "two.conf").write_text("from_top_dir=1\n")
    (tmp_path / "sub" / "two.conf").write_text("from_sub_dir=1\n")
    config, _ = parse_config(tmp_path / "top.conf")
    assert variables(config, "a") == [("from_top_dir", "1")]


def test_absolute_include_and_directory_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "abs.conf").write_text("y=2\n")
    (tmp_path / "adir").mkdir()
    (tmp_path / "top.conf").write_text(f"[a]\n#include \"{tmp_path / 'abs.conf'}\"\n#tryinclude adir\n")
    config, warnings = parse_config(tmp_path / "top.conf")
    assert variables(config, "a") == [("y", "2")]
    assert [w.message for w in warnings] == [f"'{tmp_path / 'adir'}' is not a regular file, ignoring"]


def test_unreadable_top_level_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DialplanSyntaxError) as info:
        parse_config(tmp_path / "nope.conf")
    assert info.value.file == str(tmp_path / "nope.conf")


# -- #exec ------------------------------------------------------------------------------------------


def _script(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "gen.py"
    script.write_text(f"#!{sys.executable}\n{body}")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_exec_is_refused_unless_allowed(tmp_path: Path) -> None:
    # process_text_line (main/config.c): without execincludes Asterisk logs a WARNING and returns 0,
    # so the rest of the file still loads - a warning, not an error that would refuse the dialplan.
    script = _script(tmp_path, "print('[gen]')\nprint('x=1')\n")
    text = f"[a]\n#exec {script}\nafter=1\n"
    config, warnings = parse(text, filename="e.conf", base_dir=tmp_path)
    assert variables(config, "a") == [("after", "1")]
    assert [(w.file, w.line, w.severity) for w in warnings] == [("e.conf", 2, "warning")]
    assert "dialplan.allow_exec" in warnings[0].message


def test_exec_output_is_read_like_an_included_file(tmp_path: Path) -> None:
    script = _script(tmp_path, "import sys\nprint('generated=' + sys.argv[1])\nprint('[gen]')\nprint('x=1')\n")
    text = f'[a]\n#exec "{script} hello"\nafter=1\n'
    config, warnings = parse(text, base_dir=tmp_path, allow_exec=True)
    assert warnings == []
    assert variables(config, "a") == [("generated", "hello"), ("after", "1")]
    assert variables(config, "gen") == [("x", "1")]
    gen = config.category("gen")
    assert gen is not None and gen.variables[0].line == 3


def test_exec_runs_without_a_shell(tmp_path: Path) -> None:
    script = _script(tmp_path, "import sys\nprint('args=' + '|'.join(sys.argv[1:]))\n")
    config, _ = parse(f"[a]\n#exec {script} 'a b' ; $(echo no)\n", base_dir=tmp_path, allow_exec=True)
    # ';' starts a comment before #exec sees it; quotes group words; nothing is shell-expanded.
    assert variables(config, "a") == [("args", "a b")]
    config, _ = parse(f"[a]\n#exec {script} $HOME '*'\n", base_dir=tmp_path, allow_exec=True)
    assert variables(config, "a") == [("args", "$HOME|*")]


def test_exec_failures_are_reported_and_loading_goes_on(tmp_path: Path) -> None:
    slow = _script(tmp_path, "import time\ntime.sleep(5)\n")
    text = f"[a]\n#exec {tmp_path / 'missing-program'}\n#exec {slow}\nafter=1\n"
    config, warnings = parse(text, base_dir=tmp_path, allow_exec=True, exec_timeout=0.5)
    assert variables(config, "a") == [("after", "1")]
    assert [(w.line, w.severity) for w in warnings] == [(2, "error"), (3, "error")]
    assert "no result after 0.5 s" in warnings[1].message


def test_exec_nonzero_exit_is_a_warning_but_output_is_used(tmp_path: Path) -> None:
    script = _script(tmp_path, "import sys\nprint('x=1')\nsys.stderr.write('oops\\n')\nsys.exit(3)\n")
    config, warnings = parse(f"[a]\n#exec {script}\n", base_dir=tmp_path, allow_exec=True)
    assert variables(config, "a") == [("x", "1")]
    assert [w.message.rsplit(": ", 1)[1] for w in warnings] == ["exited with status 3", "oops"]


def test_browse_retrieve_and_category_lookups_ignore_case() -> None:
    config, _ = parse("[General]\nStatic=yes\nstatic=no\n[general]\nstatic=maybe\n")
    # ast_variable_retrieve: first matching line of the first matching category, both without case.
    assert config.retrieve("general", "STATIC") == "yes"
    assert config.retrieve("nothing", "static") is None
    assert config.retrieve("general", "other") is None
