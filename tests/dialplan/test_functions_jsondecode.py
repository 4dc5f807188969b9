"""JSON_DECODE (funcs/func_json.c, Asterisk 20): the vectors of the module's own test_JSON_DECODE and more."""

from __future__ import annotations

import pytest

from core.dialplan.runtime import SimpleEvalContext
from core.dialplan.substitute import substitute
from tests.dialplan.test_substitute import make_ctx

PATH = '{ "path": { "to": { "arr": [ "item0", "item1" ] } } }'


@pytest.mark.parametrize(("document", "separator", "item", "expected"), [
    ('{"myboolean": true, "state": "USA"}', "", "myboolean", "1"),
    ('{"myboolean": false, "state": "USA"}', "", "myboolean", "0"),
    ('{"myreal": 1E+2, "state": "USA"}', "", "myreal", "100"),
    ('{"myreal": 0.5, "state": "USA"}', "", "myreal", "0.5"),
    ('{"myreal": 1.23, "state": "USA"}', "", "myreal", "1.23"),
    # "%.17g": 17 significant digits, trailing zeros dropped.
    ('{"myreal": 0.30000000000000004}', "", "myreal", "0.30000000000000004"),
    ('{"myreal": 1e300}', "", "myreal", "1.0000000000000001e+300"),
    ('{"myarray": [[1]], "state": "USA"}', "", "myarray.0.0", "1"),
    ('{"myarray": [null], "state": "USA"}', "", "myarray.0", ""),
    ('{"myarray": [0, 1], "state": "USA"}', "", "myarray", "[0,1]"),
    ("[0, 1]", "", "", ""),
    ("[0, 1]", "", "0", "0"),
    ("[0, 1]", "", "foo", ""),
    ('{"mynull": null, "state": "USA"}', "", "mynull", ""),
    ('{"city": "Anytown", "state": "USA"}', "", "city", "Anytown"),
    ('{"city": "Anytown", "state": "USA"}', "", "blah", ""),
    ('{"key1": "123", "key2": "456"}', "", "key1", "123"),
    ('{"key1": 123, "key2": 456}', "", "key1", "123"),
    ('{ "path": { "to": { "elem": "someVar" } } }', "/", "path/to/elem", "someVar"),
    ('{ "path": { "to": { "elem": "someVar" } } }', "", "path.to.elem2", ""),
    (PATH, "/", "path/to/arr/2", ""),
    (PATH, "/", "path/to/arr/-1", ""),
    (PATH, "/", "path/to/arr/test", ""),
    (PATH, "", "path.to.arr.test.test2.subkey", ""),
    (PATH, ",c", "path.to.arr", "2"),
    (PATH, "", "path.to.arr", '["item0","item1"]'),
    (PATH, ".", "path.to.arr.1", "item1"),
    (PATH, "/", "path/to/arr", '["item0","item1"]'),
    (PATH, "/", "path/to/arr/1", "item1"),
    ('{ "path": { "to": { "arr": [ {"name": "John Smith", "phone": "123"}, '
     '{"name": "Jane Doe", "phone": "234"} ] } } }',
     ",c", "path.to.arr.0.name", "John Smith"),
    ('{ "path": { "to": { "arr": [ {"name": [ "item11", "item12" ], "phone": [ "item13", "item14" ]} ] } } }',
     ",c", "path.to.arr.0.name.1", "item12"),
    ('{ "startId": "foobar", "bcde": { "id": "bcde", "type": "CONDITION" } }', "", "bcde",
     '{"id":"bcde","type":"CONDITION"}'),
    # Beyond the module's vectors: a separator of two characters is ignored (warning); C int wrap-around;
    # a non-JSON document and a bare scalar (jansson without JSON_DECODE_ANY) fail.
    (PATH, "//", "path.to.arr.0", "item0"),
    ('{"big": 4294967297}', "", "big", "1"),
    ('{"a": "ü, €"}', "", "a", "ü, €"),
    ("not json", "", "a", ""),
    ("42", "", "a", ""),
    ('{"a": NaN}', "", "a", ""),
])
def test_json_decode(document: str, separator: str, item: str, expected: str) -> None:
    ctx: SimpleEvalContext = make_ctx()
    ctx.channel.variables["test_string"] = document
    assert substitute(f"${{JSON_DECODE(test_string,{item},{separator})}}", ctx) == expected


@pytest.mark.parametrize("text", [
    "${JSON_DECODE(,a)}", "${JSON_DECODE(doc)}", "${JSON_DECODE(doc,)}", "${JSON_DECODE(unset,a)}",
])
def test_json_decode_failures_substitute_nothing(text: str) -> None:
    ctx = make_ctx()
    ctx.channel.variables["doc"] = '{"a": "x"}'
    assert substitute(f"[{text}]", ctx) == "[]"


def test_json_decode_reads_the_variable_as_substitution_does(caplog: pytest.LogCaptureFixture) -> None:
    ctx = make_ctx()
    ctx.channel.variables["doc"] = '{"who": {"name": "Ann"}}'
    ctx.channel.variables["bad"] = "{oops"
    assert substitute("${JSON_DECODE(doc,who.name)}", ctx) == "Ann"
    assert substitute("${JSON_DECODE(doc,who)}", ctx) == '{"name":"Ann"}'
    substitute("${JSON_DECODE(bad,a)}${JSON_DECODE(doc,a,ab)}", ctx)
    messages = [record.getMessage() for record in caplog.records]
    assert "Failed to parse as JSON: {oops" in messages
    assert "Nesting separator 'ab' has length 2 and is invalid (must be a single character)" in messages
