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
