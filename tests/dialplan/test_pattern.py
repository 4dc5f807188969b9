"""Extension ordering and matching as Asterisk 20 does it (``main/pbx.c``), and the indexed extension table.

Sources cited per case:
  [ext_cmp]   pbx.c ``ext_cmp`` / ``ext_cmp_exten`` / ``ext_cmp_pattern`` / ``ext_cmp_pattern_pos``
              (plain names first; per position: count << 8 | lowest char, '.' 0x18000, '!' 0x28000,
              end 0x30000, set without ']' 0x40000; equal scores: memcmp of the reversed bitmaps)
  [add]       pbx.c ``ast_add_extension2_lockopt`` (sorted insert; equal names: caller-ID entries first,
              ordered by ``ext_cmp`` of the caller-ID; ``ext_cmp`` 0 = same extension)
  [core]      pbx.c ``_extension_match_core`` (the comment block before ``ext_cmp_pattern_pos`` too)
  [matchcid]  pbx.c ``matchcid``
  [find]      pbx.c ``pbx_find_extension`` (linear walk; '!' in E_MATCHMORE ends the search;
              a found extension without the wanted priority lets the walk go on)
  [doc]       docs.asterisk.org Configuration/Dialplan/Pattern-Matching
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.dialplan import pattern as pattern_module
from core.dialplan.pattern import (
    Entry,
    ExtensionTable,
    MatchMode,
    PatternError,
    Search,
    callerid_matches,
    ext_cmp,
    ext_sort_key,
    extension_matches,
    match_core,
)

MATCH, CANMATCH, MATCHMORE = MatchMode.MATCH, MatchMode.CANMATCH, MatchMode.MATCHMORE


# --- ordering -------------------------------------------------------------------------------------


def test_mixed_list_sorts_as_dialplan_show_lists_it() -> None:
    # [ext_cmp]: plain names first in byte order ('1' < 'h' < 's' < 't'); then per position:
    # '1' 0x0131 < [1-3] 0x0331 < N 0x0832 < X 0x0A30 < '.' 0x18000 < '!' 0x28000 < end 0x30000.
    names = [
        "_X.",
        "_1X.",
        "1234",
        "_[1-3]XX",
        "_NXXNXXXXXX",
        "_!",
        "_.",
        "h",
        "s",
        "t",
        "_X",
        "_XX",
        "i",
        "100",
        "_1XX",
    ]
    expected = [
        "100",
        "1234",
        "h",
        "i",
        "s",
        "t",
        "_1XX",
        "_1X.",
        "_[1-3]XX",
        "_NXXNXXXXXX",
        "_XX",
        "_X.",
        "_X",
        "_.",
        "_!",
    ]
    assert sorted(names, key=functools.cmp_to_key(ext_cmp)) == expected
    assert sorted(names, key=ext_sort_key) == expected
    table: ExtensionTable[int] = ExtensionTable()
    for index, name in enumerate(reversed(names)):
        table.add(name, None, index)
    assert [name for name, _cid, _payload in table] == expected


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        pytest.param("_[5-9]", "_[2-8]", -1, id="ext_cmp-comment:fewer-members-first"),
        pytest.param("_[234]X", "_[345]X", -1, id="doc:same-size-lower-first"),
        pytest.param("_XXX", "333", 1, id="ext_cmp:plain-before-pattern"),
        pytest.param("s", "_.", -1, id="ext_cmp:special-names-are-plain"),
        pytest.param("_N", "_Z", -1, id="ext_cmp_pattern_pos:N(8)<Z(9)"),
        pytest.param("_Z", "_X", -1, id="ext_cmp_pattern_pos:Z(9)<X(10)"),
        pytest.param("_[12]", "_X", -1, id="ext_cmp_pattern_pos:2<10"),
        pytest.param("_X", "_[1-2a-z]", -1, id="ext_cmp_pattern_pos:10<28"),
        pytest.param("_[8-9]", "_[1-9]", -1, id="ext_cmp_pattern_pos:2<9"),
        pytest.param("_[12]", "_[13]", -1, id="ext_cmp_pattern:equal-score-lower-member-first"),
        pytest.param("_[13]", "_[12]", 1, id="ext_cmp_pattern:memcmp-reversed"),
        pytest.param("_X.", "_X!", -1, id="ext_cmp_pattern_pos:dot<bang"),
        pytest.param("_X!", "_X", -1, id="ext_cmp_pattern_pos:bang<end"),
        pytest.param("_XX", "_X.", -1, id="ext_cmp_pattern_pos:set<dot"),
        pytest.param("_XXX", "_XX", -1, id="ext_cmp_pattern_pos:longer-first"),
        pytest.param("_[", "_X", 1, id="ext_cmp_pattern_pos:unterminated-set-last"),
        pytest.param("_[5-19]", "_7", -1, id="ext_cmp_pattern_pos:lowest-of-empty-range-counts"),
        pytest.param("_A", "_a", -1, id="ext_cmp_pattern_pos:literal-case-sensitive"),
        pytest.param("12", "123", -1, id="ext_cmp_exten:prefix-first"),
        pytest.param("123", "13", -1, id="ext_cmp_exten:bytewise"),
        pytest.param("S", "s", -1, id="ext_cmp_exten:case-sensitive"),
        pytest.param("é", "e", -1, id="ext_cmp_exten:x86-signed-char-non-ascii-first"),
        pytest.param("1-800", "1800", 0, id="ext_cmp_exten:dashes-ignored"),
        pytest.param("_1-X", "_1X", 0, id="ext_cmp_pattern_pos:dashes-ignored"),
        pytest.param("_X", "_[0-9]", 0, id="ext_cmp_pattern_pos:X-is-[0-9]"),
        pytest.param("_x", "_X", 0, id="ext_cmp_pattern_pos:x-is-X"),
        pytest.param("_n", "_[2-9]", 0, id="ext_cmp_pattern_pos:n-is-[2-9]"),
        pytest.param("_12[]3", "_123", 0, id="ext_cmp_pattern_pos:empty-set-skipped"),
        pytest.param("_[1-33]", "_[123]", 0, id="ext_cmp_pattern_pos:duplicates-counted-once"),
    ],
)
def test_ext_cmp(left: str, right: str, expected: int) -> None:
    assert ext_cmp(left, right) == expected
    assert ext_cmp(right, left) == -expected
    left_key, right_key = ext_sort_key(left), ext_sort_key(right)
    assert ((left_key > right_key) - (left_key < right_key)) == expected


# --- matching -------------------------------------------------------------------------------------


MATCH_ROWS = [
    # [doc] X 0-9, Z 1-9, N 2-9, sets, '.', '!'; [core] for the modes.
    pytest.param("_NXXXXXX", "5551234", True, True, False, id="doc:NXXXXXX-full"),
    pytest.param("_NXXXXXX", "555", False, True, True, id="doc:NXXXXXX-partial"),
    pytest.param("_NXXXXXX", "1551234", False, False, False, id="doc:N-rejects-1"),
    pytest.param("_NXXXXXX", "55512345", False, False, False, id="core:data-longer-than-pattern"),
    pytest.param("_1NXXNXXXXXX", "18005551234", True, True, False, id="doc:1NXXNXXXXXX"),
    pytest.param("_Z", "0", False, False, False, id="doc:Z-rejects-0"),
    pytest.param("_x", "0", True, True, False, id="doc:lowercase-x"),
    pytest.param("_[1237-9]", "7", True, True, False, id="doc:set-range"),
    pytest.param("_[1237-9]", "5", False, False, False, id="doc:set-miss"),
    pytest.param("_[1237-9]", "9", True, True, False, id="doc:set-range-end-included"),
    pytest.param("_555-1212", "5551212", True, True, False, id="core:dash-in-pattern-ignored"),
    pytest.param("_5551212", "555-1212", True, True, False, id="core:dash-in-data-ignored"),
    pytest.param("_X.", "", False, True, True, id="core:empty-data-is-partial"),
    pytest.param("_X.", "1", False, True, True, id="doc:dot-needs-one-more"),
    pytest.param("_X.", "12", True, True, True, id="core:dot-reached-returns-1-in-every-mode"),
    pytest.param("_.", "h", True, True, True, id="doc:_.-matches-special-names"),
    pytest.param("_X!", "", False, True, True, id="core:partial-before-bang"),
    pytest.param("_X!", "1", True, True, False, id="core:bang-at-end-of-data-is-2"),
    pytest.param("_X!", "123", True, True, False, id="core:bang-reached-is-2"),
    pytest.param("_!", "", True, True, False, id="core:bang-matches-nothing-dialled"),
    pytest.param("_12[]", "12", False, True, True, id="core:trailing-empty-set-is-pattern-left"),
    pytest.param("_12[]", "123", False, False, False, id="core:empty-set-consumes-nothing"),
    pytest.param("_1[]2", "12", True, True, False, id="core:empty-set-skipped-mid-pattern"),
    pytest.param("_[", "", False, True, True, id="core:unterminated-set-partial"),
    pytest.param("_1[2", "12", False, False, False, id="core:unterminated-set-fails"),
    pytest.param("_[9-1]", "5", False, False, False, id="core:reversed-range-matches-nothing"),
    pytest.param("_[9-1]", "", False, True, True, id="core:reversed-range-still-pattern-left"),
    pytest.param("_1/5", "1", True, True, False, id="core:slash-ends-pattern"),
    pytest.param("_", "", True, True, False, id="core:empty-pattern-matches-empty"),
    pytest.param("_", "1", False, False, False, id="core:empty-pattern"),
    pytest.param("1234", "1234", True, True, False, id="core:plain-exact"),
    pytest.param("1234", "12", False, True, True, id="core:plain-prefix"),
    pytest.param("1234", "", False, True, True, id="core:plain-empty-data"),
    pytest.param("1234", "12345", False, False, False, id="core:plain-too-long"),
    pytest.param("1234", "1243", False, False, False, id="core:plain-differs"),
    pytest.param("12-34", "1234", True, True, False, id="core:plain-dash-in-name"),
    pytest.param("1234", "1-2-3-4", True, True, False, id="core:plain-dash-in-data"),
    pytest.param("1X", "12", False, False, False, id="core:plain-X-is-literal"),
    pytest.param("", "", True, True, False, id="extension_match_core:NULL-is-empty"),
]
MATCH_COLUMNS = ("pattern", "data", "match", "canmatch", "matchmore")


@pytest.mark.parametrize(MATCH_COLUMNS, MATCH_ROWS)
def test_match_modes(pattern: str, data: str, match: bool, canmatch: bool, matchmore: bool) -> None:
    assert extension_matches(pattern, data, MATCH) is match
    assert extension_matches(pattern, data, CANMATCH) is canmatch
    assert extension_matches(pattern, data, MATCHMORE) is matchmore


@pytest.mark.parametrize(MATCH_COLUMNS, [row for row in MATCH_ROWS if row.values[0]])  # Asterisk stores no ""
def test_match_modes_through_the_table_index(
    pattern: str, data: str, match: bool, canmatch: bool, matchmore: bool
) -> None:
    table: ExtensionTable[str] = ExtensionTable()
    table.add(pattern, None, pattern)
    assert table.exists(data) is match
    assert table.can_match(data) is canmatch
    assert table.match_more(data) is matchmore


@pytest.mark.parametrize(
    ("pattern", "data", "mode", "result"),
    [
        pytest.param("_X!", "1", MATCHMORE, 2, id="core:bang-returns-2"),
        pytest.param("_X!", "", MATCHMORE, 1, id="core:partial-returns-1"),
        pytest.param("_X.", "12", MATCHMORE, 1, id="core:dot-returns-1"),
        pytest.param("_X", "_X", MATCH, 1, id="core:pattern-compared-as-pattern"),
        pytest.param("_X.", "_[0-9].", MATCH, 1, id="core:_x.-matches-_x."),
        pytest.param("_X", "_X", CANMATCH, 0, id="core:pattern-compare-only-for-MATCH"),
        pytest.param("__1", "_1", MATCH, 1, id="core:underscore-literal-after-prefix"),
    ],
)
def test_match_core_results(pattern: str, data: str, mode: MatchMode, result: int) -> None:
    assert match_core(pattern, data, mode) == result


@pytest.mark.parametrize(
    ("cid", "caller", "expected"),
    [
        pytest.param(None, None, True, id="no-cid-part"),
        pytest.param(None, "123", True, id="no-cid-part-with-number"),
        pytest.param("_100X", "1005", True, id="doc:exten=>123/_100X"),
        pytest.param("_100X", "2005", False, id="doc:cid-pattern-miss"),
        pytest.param("_100X", "", False, id="matchcid:no-number-vs-pattern"),
        pytest.param("_100X", None, False, id="matchcid:no-number-vs-pattern-None"),
        pytest.param("", "", True, id="matchcid:empty-cid-matches-no-number"),
        pytest.param("", None, True, id="matchcid:empty-cid-matches-None"),
        pytest.param("", "123", False, id="matchcid:empty-cid-rejects-number"),
        pytest.param("5551234", "555-1234", True, id="matchcid:plain-dashes-ignored"),
        pytest.param("5551234", "55512345", False, id="matchcid:plain-exact"),
    ],
)
def test_callerid_matches(cid: str | None, caller: str | None, expected: bool) -> None:
    assert callerid_matches(cid, caller) is expected


# --- the table ------------------------------------------------------------------------------------


def test_callerid_entries_sort_before_the_plain_one_and_are_tried_first() -> None:
    table: ExtensionTable[str] = ExtensionTable()
    table.add("1001", None, "everyone")
    table.add("_1XXX", None, "pattern")
    table.add("1001", "_100X", "internal")
    table.add("1001", "1005", "boss")
    table.add("1001", "", "anonymous")
    # [add]: same name -> caller-ID entries first, by ext_cmp of the caller-ID ("" < "1005" < "_100X").
    assert [(name, cid) for name, cid, _ in table] == [
        ("1001", ""),
        ("1001", "1005"),
        ("1001", "_100X"),
        ("1001", None),
        ("_1XXX", None),
    ]
    # [find] + [matchcid]
    assert table.find("1001", "1005") == "boss"
    assert table.find("1001", "1007") == "internal"
    assert table.find("1001", "2000") == "everyone"
    assert table.find("1001", None) == "anonymous"
    assert table.find("1002", "1005") == "pattern"


def test_same_extension_replaces_and_len_counts_extensions() -> None:
    table: ExtensionTable[int] = ExtensionTable()
    table.add("1234", None, 1)
    table.add("12-34", None, 2)  # [add]: ext_cmp 0 -> the same extension
    table.add("_X", None, 3)
    table.add("_[0-9]", None, 4)
    table.add("_X", "_1", 5)
    assert len(table) == 3
    assert table.get("1234") == 2
    assert table.get("_x") == 4
    assert [e.name for e in table.entries()] == ["12-34", "_X", "_[0-9]"]
    table.remove("1-2-3-4")
    assert len(table) == 2 and not table.exists("1234")
    with pytest.raises(KeyError):
        table.remove("1234")
    with pytest.raises(PatternError):
        table.add("", None, 0)


def test_priority_fallthrough_to_a_less_specific_extension() -> None:
    # [find] and the Pattern-Matching doc: a hint-only 1001 does not stop the search for priority 1.
    table: ExtensionTable[set[int]] = ExtensionTable()
    table.add("1001", None, {-1})
    table.add("_1XXX", None, {1, 2})
    assert table.find("1001") == {-1}
    assert table.find("1001", accept=lambda priorities: 1 in priorities) == {1, 2}
    assert table.find("1001", accept=lambda priorities: 3 in priorities) is None


def test_bang_ends_an_overlap_dialling_search() -> None:
    table: ExtensionTable[str] = ExtensionTable()
    table.add("_1!", None, "early")
    table.add("_1", None, "one")
    # [ext_cmp]: '!' sorts before the end of the pattern, so "_1!" is tried first.
    assert table.search("1", None, MATCH) == Search(Entry("_1!", None, "early"))
    # [find]: a '!' reached in E_MATCHMORE is final "no", includes are not tried.
    assert table.search("1", None, MATCHMORE) == Search(None, stop=True)
    assert not table.match_more("1")
    assert table.can_match("1")
    table.add("123", None, "plain")  # plain names come first, so the '!' is never reached
    assert table.search("1", None, MATCHMORE) == Search(Entry("123", None, "plain"))


def test_iter_matches_lists_every_candidate_in_order() -> None:
    table: ExtensionTable[str] = ExtensionTable()
    for name in ["_X.", "_1X.", "1234", "_12!", "_1234", "12345"]:
        table.add(name, None, name)
    # [find]: the linear walk tries these in ext_cmp order.
    assert list(table.iter_matches("1234")) == ["1234", "_1234", "_12!", "_1X.", "_X."]
    assert list(table.iter_matches("123", mode=CANMATCH)) == ["1234", "12345", "_1234", "_12!", "_1X.", "_X."]
    # MATCHMORE: 1234 itself is complete; the walk ends at "_12!".
    assert list(table.iter_matches("1234", mode=MATCHMORE)) == ["12345"]
    assert table.search("1235", mode=MATCHMORE) == Search(None, stop=True)


def test_doc_example_most_specific_pattern_wins() -> None:
    # [doc] "Alice dials 6401": the matching pattern sorted first is used.
    table: ExtensionTable[str] = ExtensionTable()
    for name in ["_6XX1", "_64XX", "_640X", "_6.", "_X."]:
        table.add(name, None, name)
    assert table.find("6401") == "_640X"
    assert table.find("6411") == "_64XX"
    assert table.find("6501") == "_6XX1"
    assert table.find("6599") == "_6."
    assert table.find("7000") == "_X."
    assert table.find("6") is None
    assert table.find("6", mode=CANMATCH) == "_640X"


def test_exten_starting_with_underscore_matches_patterns_as_patterns() -> None:
    table: ExtensionTable[str] = ExtensionTable()
    table.add("_X.", None, "any")
    table.add("_[0-9].", "_1XX", "cid")
    assert table.find("_x.", "100") == "cid"  # [core] ext_cmp_pattern(...) == 0 -> match
    assert table.find("_x.", "200") == "any"


def test_ten_thousand_extensions_keep_asterisks_answers() -> None:
    table: ExtensionTable[str] = ExtensionTable()
    for number in range(20000, 30000):
        table.add(str(number), None, f"plain {number}")
    for prefix in range(100, 300):
        table.add(f"_{prefix}XXXX", None, f"pattern {prefix}")
    table.add("_X.", None, "catch-all")
    assert len(table) == 10_201
    assert table.find("25000") == "plain 25000"
    assert table.find("1234567") == "pattern 123"
    assert table.find("3") is None
    assert table.find("30000") == "catch-all"
    assert table.find("2500", mode=CANMATCH) == "plain 25000"
    assert table.find("25000", mode=MATCHMORE) == "pattern 250"


# --- property: the indexed table answers what Asterisk's linear walk answers ----------------------

_PATTERN_PIECES = ["0", "1", "2", "5", "9", "X", "x", "N", "Z", "-", ".", "!", "[1-3]", "[]", "[9-1]", "[-1]", "["]
_PATTERN_PIECES += ["[15-7]", "*", "#", "a", "/", "_"]

plain_names = st.text(alphabet="0125*#-a", min_size=1, max_size=5)
pattern_names = st.lists(st.sampled_from(_PATTERN_PIECES), max_size=5).map(lambda pieces: "_" + "".join(pieces))
names = st.one_of(plain_names, pattern_names)
cids = st.one_of(st.none(), st.none(), st.sampled_from(["", "100", "_10X", "_1.", "_X!"]))
dialled = st.text(alphabet="0125*#-a_", max_size=7)
callers = st.sampled_from([None, "", "100", "105", "200"])
modes = st.sampled_from(list(MatchMode))


@dataclass(frozen=True)
class _Lookup:
    exten: str
    caller: str | None
    mode: MatchMode
    even_only: bool


lookups = st.builds(_Lookup, dialled, callers, modes, st.booleans())


def _asterisk_cmp(left: Entry[int], right: Entry[int]) -> int:
    """[add]: ext_cmp of names, then caller-ID entries before the plain one, by ext_cmp of caller-IDs."""
    result = ext_cmp(left.name, right.name)
    if result or (left.cid is None and right.cid is None):
        return result
    if left.cid is None or right.cid is None:
        return 1 if left.cid is None else -1
    return ext_cmp(left.cid, right.cid)


def _naive_context(added: list[tuple[str, str | None]]) -> list[Entry[int]]:
    entries: list[Entry[int]] = []
    for payload, (name, cid) in enumerate(added):
        new = Entry(name, cid, payload)
        same = [i for i, old in enumerate(entries) if _asterisk_cmp(old, new) == 0]
        if same:
            entries[same[0]] = new
        else:
            entries.append(new)
    return sorted(entries, key=functools.cmp_to_key(_asterisk_cmp))


def _naive_search(entries: list[Entry[int]], lookup: _Lookup) -> Search[int]:
    """[find]: the linear walk of pbx_find_extension over the sorted context."""
    for entry in entries:
        result = match_core(entry.name, lookup.exten, lookup.mode)
        if not result or not callerid_matches(entry.cid, lookup.caller):
            continue
        if result == 2 and lookup.mode is MATCHMORE:
            return Search(None, stop=True)
        if not lookup.even_only or entry.payload % 2 == 0:
            return Search(entry)
    return Search(None)


@pytest.mark.parametrize("bucket_size", [32, 1], ids=["default-buckets", "large-context-buckets"])
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(names, cids), max_size=14), st.lists(lookups, min_size=1, max_size=12))
def test_table_equals_linear_walk(
    bucket_size: int, added: list[tuple[str, str | None]], queries: list[_Lookup]
) -> None:
    # bucket_size 1 makes every context "large": patterns are split by each dialled character, as they
    # are in contexts of more than 32 patterns.
    with mock.patch.object(pattern_module, "_BUCKET_TARGET", bucket_size):
        table: ExtensionTable[int] = ExtensionTable()
        for payload, (name, cid) in enumerate(added):
            table.add(name, cid, payload)
        expected_order = _naive_context(added)
        assert table.entries() == expected_order
        assert len(table) == len(expected_order)
        for query in queries:
            accept = (lambda payload: payload % 2 == 0) if query.even_only else None
            expected = _naive_search(expected_order, query)
            assert table.search(query.exten, query.caller, query.mode, accept) == expected
            found = expected.entry.payload if expected.entry is not None else None
            assert table.find(query.exten, query.caller, query.mode, accept) == found


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(names, cids), min_size=1, max_size=10), st.data())
def test_table_stays_right_after_changes(added: list[tuple[str, str | None]], data: st.DataObject) -> None:
    table: ExtensionTable[int] = ExtensionTable()
    for payload, (name, cid) in enumerate(added):
        table.add(name, cid, payload)
        table.find("1")  # builds the indexes, which the next add must invalidate
    removed_name, removed_cid = data.draw(st.sampled_from(added))
    table.remove(removed_name, removed_cid)
    remaining = [e for e in _naive_context(added) if _asterisk_cmp(e, Entry(removed_name, removed_cid, -1)) != 0]
    assert table.entries() == remaining
    query = data.draw(lookups)
    assert table.search(query.exten, query.caller, query.mode) == _naive_search(
        remaining, _Lookup(query.exten, query.caller, query.mode, False)
    )


@settings(max_examples=2000, deadline=None)
@given(names, st.one_of(dialled, st.text(alphabet="0125", max_size=6)), modes)
def test_one_extension_table_agrees_with_match_core(name: str, exten: str, mode: MatchMode) -> None:
    table: ExtensionTable[int] = ExtensionTable()
    table.add(name, None, 0)
    result = match_core(name, exten, mode)
    expected = (
        Search(None, stop=True)
        if result == 2 and mode is MATCHMORE
        else Search(Entry(name, None, 0) if result else None)
    )
    assert table.search(exten, None, mode) == expected


@given(names, names, names)
def test_ext_cmp_is_a_total_order_and_the_key_agrees(a: str, b: str, c: str) -> None:
    assert ext_cmp(a, b) == -ext_cmp(b, a)
    key_a, key_b = ext_sort_key(a), ext_sort_key(b)
    assert ext_cmp(a, b) == (key_a > key_b) - (key_a < key_b)
    if ext_cmp(a, b) <= 0 and ext_cmp(b, c) <= 0:
        assert ext_cmp(a, c) <= 0
