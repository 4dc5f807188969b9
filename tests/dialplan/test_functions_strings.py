"""String and list functions: funcs/func_strings.c, func_cut.c and func_sprintf.c results."""

from __future__ import annotations

import logging

import pytest

from core.dialplan.functions import get_function, register, registered_functions, unregister
from core.dialplan.functions.strings import posix_ere_to_python
from core.dialplan.runtime import SimpleEvalContext
from core.dialplan.substitute import assign, substitute
from tests.dialplan.test_substitute import make_ctx


@pytest.fixture
def ctx() -> SimpleEvalContext:
    return make_ctx()


def run(ctx: SimpleEvalContext, text: str, **variables: str) -> str:
    ctx.channel.variables.update(variables)
    return substitute(text, ctx)


def test_registry_lists_the_library() -> None:
    names = {function.name for function in registered_functions()}
    assert {"LEN", "CUT", "IF", "CALLERID", "CDR", "DB", "LOCAL", "MATH", "SPRINTF", "STRFTIME"} <= names
    cut = get_function("CUT")
    assert cut is not None and cut.read is not None and cut.write is None
    assert get_function("cut") is None


def test_registering_a_function(ctx: SimpleEvalContext) -> None:
    written: list[tuple[str | None, str | None]] = []

    def write(context: object, name: str, args: str | None, value: str | None) -> bool:
        written.append((args, value))
        return True

    register("TESTFUNC", read=lambda context, name, args: (args or "").upper(), synopsis="test")
    try:
        register("TESTFUNC", write=write)  # a reader and a writer combine
        with pytest.raises(ValueError, match="already registered"):
            register("TESTFUNC", read=lambda context, name, args: "")
        assert run(ctx, "${TESTFUNC(ab)}") == "AB"
        assign(ctx, "TESTFUNC(key)", "v")
        assert written == [("key", "v")]
    finally:
        unregister("TESTFUNC")
    assert run(ctx, "${TESTFUNC(ab)}") == ""


# -- func_strings.c --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("${LEN(example)}", "7"),  # func_strings.c LEN doc example
    ("${LEN()}", "0"),
    ("${LEN(a,b)}", "3"),  # the whole argument text
    ("${LEN(ñ)}", "2"),  # bytes, as strlen()
    ("${TOUPPER(Example)}", "EXAMPLE"),  # TOUPPER doc example
    ("${TOLOWER(Example)}", "example"),  # TOLOWER doc example
    ("${TOUPPER(straße)}", "STRAßE"),  # C-locale toupper() leaves non-ASCII alone
    ("${QUOTE(ab\"c\"de)}", '"ab\\"c\\"de"'),  # QUOTE doc example (Asterisk 13+)
    ("${QUOTE(a\\b)}", '"a\\\\b"'),
    ("${QUOTE()}", '""'),
    ('${CSV_QUOTE("a,b" 123)}', '"""a,b"" 123"'),  # CSV_QUOTE doc example
    ("${CSV_QUOTE()}", '""'),
    ("${KEYPADHASH(Les)}", "537"),  # KEYPADHASH doc example
    ("${KEYPADHASH(1-800-FLOWERS)}", "18003569377"),
    ("${PASSTHRU(a,b)}", "a,b"),
    ("${PASSTHRU()}", ""),
])
def test_simple_string_functions(ctx: SimpleEvalContext, text: str, expected: str) -> None:
    assert run(ctx, text) == expected


@pytest.mark.parametrize(("allowed", "expected"), [
    # func_strings.c AST_TEST test_FILTER on "0042133333&DAHDI/g1/2212"
    ("A-R", "DAHDI"),
    ("A\\-R", "A"),
    ("\\x41-R", "DAHDI"),
    ("0-9A-Ca-c", "0042133333A12212"),
    ("0-9a-cA-C_+\\-", "0042133333A12212"),
])
def test_filter(ctx: SimpleEvalContext, allowed: str, expected: str) -> None:
    assert run(ctx, f"${{FILTER({allowed},0042133333&DAHDI/g1/2212)}}") == expected


def test_filter_needs_two_arguments(ctx: SimpleEvalContext, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, "centralita.dialplan"):
        assert run(ctx, "${FILTER(0-9)}") == ""
    assert "Usage: FILTER(<allowed-chars>,<string>)" in caplog.text


@pytest.mark.parametrize(("value", "find", "replace", "expected"), [
    # func_strings.c AST_TEST test_REPLACE
    ("abc,def", "\\,", "-", "abc-def"),
    ("abc,abc", "bc", "a", "aaa,aaa"),
    ("abc,def", "x", "?", "abc,def"),
    ("abc,def", "\\,", "", "abcdef"),
])
def test_replace(ctx: SimpleEvalContext, value: str, find: str, replace: str, expected: str) -> None:
    assert run(ctx, f"${{REPLACE(TEST_STRING,{find},{replace})}}", TEST_STRING=value) == expected


def test_replace_fails_on_an_empty_variable(ctx: SimpleEvalContext) -> None:
    assert run(ctx, "${REPLACE(NOPE,a,b)}") == ""


@pytest.mark.parametrize(("value", "arguments", "expected"), [
    # func_strings.c AST_TEST test_STRREPLACE
    ("Weasels have eaten my telephone system", "have eaten my,are eating our,",
     "Weasels are eating our telephone system"),
    ("Did you know twenty plus two is twenty-two?", "twenty,thirty", "Did you know thirty plus two is thirty-two?"),
    ("foofoofoofoofoofoofoo", "foofoo,bar", "barbarbarfoo"),
    ("My pet dog once ate a dog who sat on a dog while eating a corndog.", "dog,cat,3",
     "My pet cat once ate a cat who sat on a cat while eating a corndog."),
    ("One and one and one is three", "and,plus,1", "One plus one and one is three"),
    ("", "fhqwagads,spelunker", ""),
    ("Part of this string is missing.", "missing", "Part of this string is ."),
    ("'Accidentally' left off a bunch of stuff.", "", ""),
    ("This test will also error.", ",,", ""),
    ('This is an "escape character" test.', '\\"escape character\\",evil', "This is an evil test."),
])
def test_strreplace(ctx: SimpleEvalContext, value: str, arguments: str, expected: str) -> None:
    text = "${STRREPLACE(test_string" + ("," + arguments if arguments else "") + ")}"
    assert run(ctx, text, test_string=value) == expected


@pytest.mark.parametrize(("value", "insert", "expected"), [
    # func_strings.c AST_TEST test_STRBETWEEN
    ("0", "w", "0"), ("30", "w", "3w0"), ("212", "w", "2w1w2"), ("212", "55", "2551552"), ("212", " ", "2 1 2"),
    ("", "w", ""), ("555", "", "555"), ("abcdefg", "_", "a_b_c_d_e_f_g"), ("A", "A", "A"), ("AA", "B", "ABA"),
    ("AAA", "B", "ABABA"),
])
def test_strbetween(ctx: SimpleEvalContext, value: str, insert: str, expected: str) -> None:
    assert run(ctx, f"${{STRBETWEEN(test_string,{insert})}}", test_string=value) == expected


def test_eval_substitutes_twice(ctx: SimpleEvalContext) -> None:
    # EVAL doc: MYVAR contains ${OTHERVAR}
    ctx.channel.variables.update({"MYVAR": "${OTHERVAR}", "OTHERVAR": "value"})
    assert run(ctx, "${MYVAR}") == "${OTHERVAR}"
    assert run(ctx, "${EVAL(${MYVAR})}") == "value"
    assert run(ctx, "${EVAL()}") == ""


@pytest.mark.parametrize(("text", "expected"), [
    ('${REGEX("^10" 1001)}', "1"),
    ('${REGEX("^10" 2001)}', "0"),
    ('${REGEX("^10"1001)}', "1"),  # the blank after the quote is optional
    ('${REGEX("^ 1" 1)}', "0"),
    ('${REGEX("^ 1"  1)}', "1"),  # two blanks: the second is data
    ('${REGEX("[[:digit:]]{3}" ab123)}', "1"),
    ('${REGEX("[[:digit:]]{3}" ab12)}', "0"),
    ('${REGEX("^(a|b)+$" abba)}', "1"),
    ('${REGEX("a.c" a\nc)}', "1"),  # '.' matches a newline in POSIX without REG_NEWLINE
    ('${REGEX("x$" x\n)}', "0"),  # '$' only at the very end
    ('${REGEX("[]a]" ])}', "1"),  # ']' first in a bracket is literal
    # argument splitting removed the backslash: "\." is "." and matches anything
    ('${REGEX("^1\\.5$" 1x5)}', "1"),
    ('${REGEX("^1\\\\.5$" 1x5)}', "0"),
    ('${REGEX("abc")}', "0"),  # an empty string to match
    ("${REGEX(abc)}", ""),  # no quotes: "Unexpected arguments"
    ('${REGEX("(" x)}', ""),  # malformed expression
])
def test_regex(ctx: SimpleEvalContext, text: str, expected: str) -> None:
    assert run(ctx, text) == expected


@pytest.mark.parametrize(("pattern", "python"), [
    ("\\d", "d"),  # not special in POSIX
    ("[\\d]", "[\\\\d]"),  # backslash is literal in a bracket expression
    ("\\<a\\>", "\\b(?=\\w)a\\b(?<=\\w)"),
])
def test_posix_translation(pattern: str, python: str) -> None:
    assert posix_ere_to_python(pattern) == python


# -- lists (func_strings.c, func_cut.c) ------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("${FIELDQTY(example,-)}", "3"),  # FIELDQTY doc example: ex-amp-le
    ("${FIELDQTY(example,\\x2D)}", "3"),
    ("${FIELDQTY(example,+)}", "1"),
    ("${FIELDQTY(example)}", "1"),
    ("${FIELDQTY(unset,-)}", "0"),
    ("${FIELDNUM(example,-,amp)}", "2"),  # FIELDNUM doc example
    ("${FIELDNUM(example,-,AMP)}", "2"),  # strcasecmp
    ("${FIELDNUM(example,-)}", ""),  # too few arguments: error
])
def test_field_functions(ctx: SimpleEvalContext, text: str, expected: str) -> None:
    assert run(ctx, text, example="ex-amp-le") == expected


@pytest.mark.parametrize(("fields", "delim", "field", "expected"), [
    # func_strings.c AST_TEST test_FIELDNUM
    ("abc,def,ghi,jkl", "\\,", "ghi", "3"),
    ("abc def ghi jkl", " ", "abc", "1"),
    ("abc/def/ghi/jkl", "\\\\x2f", "def", "2"),
    ("abc$def$ghi$jkl", "", "ghi", "0"),
    ("abc,def,ghi,jkl", "-", "", "0"),
    ("abc-def-ghi-jkl", "-", "mno", "0"),
])
def test_fieldnum(ctx: SimpleEvalContext, fields: str, delim: str, field: str, expected: str) -> None:
    assert run(ctx, f"${{FIELDNUM(FIELDS,{delim},{field})}}", FIELDS=fields) == expected


@pytest.mark.parametrize(("value", "arguments", "expected"), [
    # LISTFILTER(varname,delim,value): remove every field equal to value
    ("SIP/1001-00000001&SIP/1002-00000002", "&,SIP/1001-00000001", "SIP/1002-00000002"),
    ("a,b,c,b", "\\,,b", "a,c"),
    ("a,b,c", "\\,,x", "a,b,c"),
    ("a,bb,b", "\\,,b", "a,bb"),
    ("b", "\\,,b", ""),
    ("a::b::c", "::,b", "a::c"),
    ("a,b", "\\,,", "a,b"),
    ("a,b", ",b", "a"),  # an empty delimiter means ','
])
def test_listfilter(ctx: SimpleEvalContext, value: str, arguments: str, expected: str) -> None:
    assert run(ctx, f"${{LISTFILTER(list,{arguments})}}", list=value) == expected


def test_listfilter_of_an_empty_list_fails(ctx: SimpleEvalContext) -> None:
    assert run(ctx, "${LISTFILTER(none,\\,,a)}|") == "|"


@pytest.mark.parametrize(("text", "expected"), [
    # CUT doc + func_cut.c range forms: N, N-M, -M, N-, and groups with &
    ("${CUT(CHANNEL,-,1)}", "SIP/1001"),
    ("${CUT(CUTME,-,2)}", "b"),
    ("${CUT(CUTME,-,2-3)}", "b-c"),
    ("${CUT(CUTME,-,-2)}", "a-b"),
    ("${CUT(CUTME,-,3-)}", "c-d-e"),
    ("${CUT(CUTME,-,1&3&5)}", "a-c-e"),
    ("${CUT(CUTME,-,1-2&4)}", "a-b-d"),
    ("${CUT(CUTME,-,3&1)}", "c"),  # "We're already past the field you wanted?"
    ("${CUT(CUTME,-,9)}", ""),
    ("${CUT(CUTME,-,0)}", ""),
    ("${CUT(CUTME,,2)}", "b"),  # an empty delimiter means '-'
    ("${CUT(CUTME,x,1)}", "a-b-c-d-e"),
    ("${CUT(CUTME,-,abc)}", ""),  # invalid range: usage error
    ("${CUT(CUTME,-)}", ""),  # missing argument
    ("${CUT(EMPTY,-,abc)}", ""),  # an empty value is not checked
    ("${CUT(PASSTHRU(${CUT(CHANNEL,-,1)}),/,2)}", "1001"),  # PASSTHRU doc example
])
def test_cut(ctx: SimpleEvalContext, text: str, expected: str) -> None:
    assert run(ctx, text, CUTME="a-b-c-d-e", EMPTY="") == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("${SORT(a:3,b:1,c:2)}", "b,c,a"),  # SORT doc: keys sorted by their values as floats
    ("${SORT(a:1.5,b:-2,c:1e1)}", "b,a,c"),
    ("${SORT(a:1,b:1,c:0)}", "c,a,b"),
    ("${SORT(a:1,junk,b:0)}", "b,a"),
])
def test_sort(ctx: SimpleEvalContext, text: str, expected: str) -> None:
    assert run(ctx, text) == expected


def test_shift_and_pop_walk_a_list(ctx: SimpleEvalContext) -> None:
    # SHIFT/POP doc examples: While($["${SET(var=${SHIFT(array)})}" != ""])
    assign(ctx, "array", "one,two,three")
    shifted = [run(ctx, "${SHIFT(array)}") for _ in range(4)]
    assert shifted == ["one", "two", "three", ""]
    assign(ctx, "array", "one,two,three")
    popped = [run(ctx, "${POP(array)}") for _ in range(4)]
    assert popped == ["three", "two", "one", ""]
    assign(ctx, "array", "a|b")
    assert run(ctx, "${SHIFT(array,|)}") == "a"
    assert ctx.channel.variables["array"] == "b"


def test_push_and_unshift(ctx: SimpleEvalContext) -> None:
    # PUSH/UNSHIFT doc examples; the variable keeps its inheritance prefix when set
    assign(ctx, "PUSH(array)", "one,two")
    assign(ctx, "PUSH(array)", "three")
    assert run(ctx, "${array}") == "one,two,three"
    assign(ctx, "UNSHIFT(array)", "zero")
    assert run(ctx, "${array}") == "zero,one,two,three"
    assign(ctx, "PUSH(__list,|)", "a")
    assign(ctx, "PUSH(__list,|)", "b")
    assert ctx.channel.variables["__list"] == "a|b"


def test_hash(ctx: SimpleEvalContext) -> None:
    assign(ctx, "HASH(colors,red)", "ff0000")
    assign(ctx, "HASH(colors,blue)", "0000ff")
    assign(ctx, "HASH(_inherit,key)", "v")
    assert run(ctx, "${HASH(colors,red)}/${HASH(colors,green)}") == "ff0000/"
    assert run(ctx, "${HASHKEYS(colors)}") == "blue,red"  # newest first, as Asterisk walks the list
    assert ctx.channel.variables["_~HASH~inherit~key~"] == "v"
    assert run(ctx, "${HASH(colors)}") == "0000ff,ff0000"
    assert ctx.channel.variables["~ODBCFIELDS~"] == "blue,red"


def test_array(ctx: SimpleEvalContext) -> None:
    # ARRAY doc example: Set(ARRAY(var1,var2)=1,2); names without a value are set empty
    assign(ctx, "ARRAY(var1,var2)", "1,2")
    assign(ctx, "ARRAY(a,b,c)", "x")
    assert ctx.channel.variables == {"var1": "1", "var2": "2", "a": "x", "b": "", "c": ""}


# -- func_sprintf.c --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("${SPRINTF(%05d,42)}", "00042"),
    ("${SPRINTF(%-5d|,42)}", "42   |"),
    ("${SPRINTF(%+d %+d,5,-5)}", "+5 -5"),
    ("${SPRINTF(%x %X %o %#x %#o,255,255,8,255,8)}", "ff FF 10 0xff 010"),
    ("${SPRINTF(%u,-1)}", "4294967295"),
    ("${SPRINTF(%hhd %hu,257,-1)}", "1 65535"),
    ("${SPRINTF(%.2f,3.14159)}", "3.14"),
    ("${SPRINTF(%8.3e,12345.678)}", "1.235e+04"),
    ("${SPRINTF(%g %G,0.0001,1e20)}", "0.0001 1E+20"),
    ("${SPRINTF(%a,3)}", "0x1.8p+1"),
    ("${SPRINTF(%c%c,72,105)}", "Hi"),
    ("${SPRINTF(%s-%5s-%-5s-%.2s,a,b,c,defg)}", "a-    b-c    -de"),
    ("${SPRINTF(100%%)}", "100%"),
    ("${SPRINTF(%d,12abc)}", "12"),  # sscanf("%d") takes the leading number
    ("${SPRINTF(%s)}", "(null)"),  # glibc prints a NULL string as (null)
    ("${SPRINTF(%d,abc)}", ""),  # "is not an integer number"
    ("${SPRINTF(%d)}", ""),  # "more format specifiers than arguments"
    ("${SPRINTF(%k,1)}", ""),  # "Format type not supported"
    ("${SPRINTF(%'d,1234567)}", "1234567"),  # no grouping in the C locale
    ("${SPRINTF(abc%)}", "abc"),
])
def test_sprintf(ctx: SimpleEvalContext, text: str, expected: str) -> None:
    assert run(ctx, text) == expected
