"""The TOML key locator that gives configuration errors their line numbers."""

from __future__ import annotations

import pytest

from firmware.config.loader import tomllib
from firmware.config.locate import line_of, locate_keys

DOCUMENT = '''# comment line
[system]
data_dir = "/x"   # trailing comment
motd = """first
second = not a key
"""

[sip]
port = 5060
"quoted.key" = 1
a.b . c = [1,
  2,
  { x = 1 }]
[[sip.users]]
name = "1001"
[sip.users.acl]
permit = ["10.0.0.0/8"]
[[sip.users]]
name = "1002"
inline = {name = "a", inner = {z = 2}}
'''


@pytest.fixture(scope="module")
def lines() -> dict[tuple[str | int, ...], int]:
    tomllib.loads(DOCUMENT)  # the locator only ever sees valid TOML
    return locate_keys(DOCUMENT)


@pytest.mark.parametrize(("path", "line"), [
    (("system",), 2),
    (("system", "data_dir"), 3),
    (("system", "motd"), 4),
    (("sip", "port"), 9),
    (("sip", "quoted.key"), 10),
    (("sip", "a", "b", "c"), 11),
    (("sip", "a", "b", "c", 1), 12),
    (("sip", "a", "b", "c", 2, "x"), 13),
    (("sip", "users", 0), 14),
    (("sip", "users", 0, "name"), 15),
    (("sip", "users", 0, "acl", "permit"), 17),
    (("sip", "users", 1), 18),
    (("sip", "users", 1, "name"), 19),
    (("sip", "users", 1, "inline", "inner", "z"), 20),
])
def test_every_key_has_its_line(lines: dict[tuple[str | int, ...], int],
                                path: tuple[str | int, ...], line: int) -> None:
    assert lines[path] == line


def test_text_inside_multiline_strings_is_not_a_key(lines: dict[tuple[str | int, ...], int]) -> None:
    assert ("system", "second") not in lines


def test_unknown_path_falls_back_to_nearest_ancestor(lines: dict[tuple[str | int, ...], int]) -> None:
    assert line_of(lines, ("sip", "users", 1, "missing")) == 18
    assert line_of(lines, ("nowhere",)) is None


# -- property: every key of any valid document is found, on a line that names it ------------------------

import tomli_w  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_KEY = st.text(alphabet="abcXYZ019_- .#=\"'[]{}", min_size=1, max_size=8)
_SCALAR = st.one_of(st.integers(-10**6, 10**6), st.booleans(), st.text(max_size=12),
                    st.floats(allow_nan=False, allow_infinity=False))
_VALUE = st.recursive(
    _SCALAR,
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(_KEY, children, max_size=3)),
    max_leaves=12,
)
_DOCUMENT = st.dictionaries(_KEY, _VALUE, min_size=1, max_size=5)


def _paths(node: object, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    out: list[tuple[str | int, ...]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            out.append(prefix + (key,))
            out.extend(_paths(value, prefix + (key,)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out.append(prefix + (index,))
            out.extend(_paths(value, prefix + (index,)))
    return out


@settings(max_examples=300, deadline=None)
@given(_DOCUMENT)
def test_any_valid_document_has_every_key_located(document: dict[str, object]) -> None:
    text = tomli_w.dumps(document)
    assert tomllib.loads(text) == document
    lines = locate_keys(text)
    source_lines = text.split("\n")  # TOML lines end at \n only (splitlines would split at U+0085)
    for path in _paths(document):
        assert path in lines, (path, text)
        line = lines[path]
        assert 1 <= line <= len(source_lines)
        key = path[-1]
        if isinstance(key, str) and key.replace("_", "").replace("-", "").isalnum():
            assert key in source_lines[line - 1], (path, line, text)
