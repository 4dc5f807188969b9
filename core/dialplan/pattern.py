"""Extension names and patterns as Asterisk orders and matches them, and the extension table of one context.

Everything here follows ``main/pbx.c`` of Asterisk (``ext_cmp``, ``ext_cmp_pattern_pos``,
``_extension_match_core``, ``matchcid``, ``ast_add_extension2_lockopt`` and the default, linear
search of ``pbx_find_extension``; ``extenpatternmatchnew`` is off unless ``extensions.conf`` turns it
on) and the docs.asterisk.org page *Configuration/Dialplan/Pattern-Matching*:

* A name starting with ``_`` is a pattern: ``X``/``x`` is 0-9, ``Z``/``z`` 1-9, ``N``/``n`` 2-9,
  ``[1-3a]`` a set (``-`` makes a range only between two characters; ``[]`` is ignored), ``.`` one or
  more of anything, ``!`` zero or more of anything (and ends an overlap-dialling search), any other
  character itself, case-sensitively.  ``-`` outside a set is decoration in names *and* in the dialled
  string (``1-800-555`` is ``1800555``).
* A context keeps its extensions sorted by :func:`ext_cmp`: plain names first (byte order, dashes
  ignored), then patterns position by position, the smaller set first, ``.`` before ``!`` before the
  end of the pattern.  The first extension in that order that matches wins, so this order is both what
  ``dialplan show`` prints and the precedence of matching.  Of two entries with the same name, those
  with a caller-ID match come first, ordered by :func:`ext_cmp` of their caller-ID patterns.
* Asterisk works on bytes (``char``): names and numbers are compared as their UTF-8 bytes here too,
  with the signedness of x86's ``char`` where the C code compares plain ``char`` values.

:class:`ExtensionTable` answers "which extension would Asterisk pick" without walking the context:
a dict of plain names, a sorted key list for prefixes (``CANMATCH``/``MATCHMORE``), and for patterns
compiled regular expressions whose alternatives are the patterns in order (grouped by the leading
dialled characters they can accept), so that the first alternative that matches is the first pattern
that can match; :func:`match_core` then confirms it.
"""

from __future__ import annotations

import bisect
import enum
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = [
    "Entry",
    "ExtensionTable",
    "MatchMode",
    "PatternError",
    "Search",
    "SortKey",
    "callerid_matches",
    "ext_cmp",
    "ext_sort_key",
    "extension_matches",
    "match_core",
]

T = TypeVar("T")


class PatternError(ValueError):
    """An extension name Asterisk refuses (``ast_add_extension2_lockopt``: empty names are ignored with an error).

    ``position`` is the character offset in ``name`` the problem is at.
    """

    def __init__(self, message: str, name: str, position: int = 0) -> None:
        super().__init__(f"{message}: {name!r} (at {position})")
        self.message = message
        self.name = name
        self.position = position


class MatchMode(enum.Enum):
    """What a lookup asks for; values are Asterisk's ``enum ext_match_t`` (``E_MATCHMORE`` = 0 ...).

    * ``MATCH`` (``E_MATCH``, ``ast_exists_extension``): the dialled string is a complete extension.
    * ``CANMATCH`` (``E_CANMATCH``, ``ast_canmatch_extension``): it is an extension or the start of one.
    * ``MATCHMORE`` (``E_MATCHMORE``, ``ast_matchmore_extension``): it is the start of an extension that
      needs more digits.  A pattern ending in ``!`` that is reached answers "no, and stop looking".
    """

    MATCHMORE = 0
    CANMATCH = 1
    MATCH = 2

    # Members are singletons that compare by identity: the identity hash is C's, where Enum's own hashes the
    # name in Python (DialplanIndex.find hashes a mode into its memo key on every lookup).
    __hash__ = object.__hash__


# --- bytes ----------------------------------------------------------------------------------------

_TO_SIGNED_ORDER = bytes((b ^ 0x80) for b in range(256))
"""Maps a byte to the rank it has as x86's signed ``char`` (0x80..0xff before 0x00..0x7f)."""

_NUL_RANK = b"\x80"
"""The rank of the terminating NUL in that order (``ext_cmp_exten`` compares the terminator too)."""


def _as_bytes(text: str) -> str:
    """``text`` as one character per UTF-8 byte (identity for ASCII, the usual case)."""
    if text.isascii():
        return text
    return text.encode("utf-8", "surrogateescape").decode("latin-1")


def _signed(ch: str) -> int:
    """The value of one byte as a signed ``char``."""
    value = ord(ch)
    return value - 256 if value >= 128 else value


# --- ordering: ext_cmp ----------------------------------------------------------------------------

_SCORE_DOT = 0x18000
_SCORE_BANG = 0x28000
_SCORE_END = 0x30000
_SCORE_BAD_SET = 0x40000


def _bit(byte: int) -> int:
    # ext_cmp_pattern_pos fills a 256-bit map most significant bit first (character 0 is the top bit)
    # and memcmp()s two maps, i.e. compares them as big-endian integers.
    return 1 << (255 - byte)


def _bits(first: int, last: int) -> int:
    return sum(_bit(b) for b in range(first, last + 1))


_DIGITS = {
    "x": (0x0A00 | ord("0"), _bits(ord("0"), ord("9"))),
    "z": (0x0900 | ord("1"), _bits(ord("1"), ord("9"))),
    "n": (0x0800 | ord("2"), _bits(ord("2"), ord("9"))),
}


def _sort_positions(body: str) -> Iterator[tuple[int, int]]:
    """Score each position of a pattern (after the ``_``) as ``ext_cmp_pattern_pos`` does.

    Yields ``(score, members)``: the score is ``count << 8 | lowest`` for a character or set, then
    ``.`` < ``!`` < end of pattern < a set without ``]``; ``members`` is the set as a 256-bit integer
    (character 0 the most significant bit).  The last item is always the end of the pattern.
    """
    i, n = 0, len(body)
    while True:
        while i < n and body[i] == "-":
            i += 1
        if i == n:
            yield (_SCORE_END, 0)
            return
        ch = body[i]
        i += 1
        lower = ch.lower()
        if lower in _DIGITS:
            yield _DIGITS[lower]
        elif ch == ".":
            yield (_SCORE_DOT, 0)
        elif ch == "!":
            yield (_SCORE_BANG, 0)
        elif ch != "[":
            yield (0x0100 | ord(ch), _bit(ord(ch)))
        else:
            end = body.find("]", i)
            if end < 0:
                # Asterisk warns "Wrong usage of [] in the extension" and scores it last; the
                # characters after the '[' are then scored one by one.
                yield (_SCORE_BAD_SET, 0)
                continue
            members = 0
            lowest = 0xFF
            j = i
            while j < end:
                first = ord(body[j])
                if j + 2 < end and body[j + 1] == "-":
                    last = ord(body[j + 2])
                    j += 3
                else:
                    last = first
                    j += 1
                # The lowest character counts even when its range is empty ("[5-19]" scores as '5').
                lowest = min(lowest, first)
                for byte in range(first, last + 1):
                    members |= _bit(byte)
            i = end + 1
            if members:  # an empty set is skipped: the next position is scored instead
                yield ((members.bit_count() << 8) | lowest, members)


SortKey = tuple[int, bytes, tuple[tuple[int, int], ...]]
"""A value that sorts extension names as :func:`ext_cmp` does (see :func:`ext_sort_key`)."""


def ext_sort_key(name: str) -> SortKey:
    """A sort key equivalent to :func:`ext_cmp`: ``sorted(names, key=ext_sort_key)`` is Asterisk's order.

    Two names whose keys are equal are the same extension to Asterisk (``ast_add_extension2_lockopt``
    merges them): ``1234`` and ``12-34``, ``_X`` and ``_[0-9]``, ``_n`` and ``_N``.
    """
    raw = _as_bytes(name)
    if not raw.startswith("_"):
        plain = raw.replace("-", "").encode("latin-1").translate(_TO_SIGNED_ORDER) + _NUL_RANK
        return (0, plain, ())
    # Equal scores are ordered by the member maps compared right-to-left in memcmp, i.e. the set that
    # holds the smallest character not in the other sorts first: negate the integer.
    return (1, b"", tuple((score, -members) for score, members in _sort_positions(raw[1:])))


def ext_cmp(left: str, right: str) -> int:
    """Asterisk's order of two extension names in a context (``ext_cmp`` / ``ast_extension_cmp`` in pbx.c).

    Returns -1 when ``left`` sorts (and is tried) first, 1 when ``right`` does, 0 when Asterisk treats
    them as the same extension.  Plain names sort before patterns and among themselves by their bytes
    with dashes ignored; patterns compare position by position (smaller set first, then the set holding
    the lower character; ``.`` before ``!`` before the end of the pattern).
    """
    left_raw, right_raw = _as_bytes(left), _as_bytes(right)
    left_pattern, right_pattern = left_raw.startswith("_"), right_raw.startswith("_")
    if not left_pattern or not right_pattern:
        if left_pattern != right_pattern:
            return 1 if left_pattern else -1
        left_key, right_key = ext_sort_key(left)[1], ext_sort_key(right)[1]
        return (left_key > right_key) - (left_key < right_key)
    # Both sequences end with the end-of-pattern score, so they only run out together, when equal.
    positions = zip(_sort_positions(left_raw[1:]), _sort_positions(right_raw[1:]), strict=True)
    for (lscore, lset), (rscore, rset) in positions:
        if lscore != rscore:
            return -1 if lscore < rscore else 1
        if lset != rset:
            return -1 if lset > rset else 1
    return 0


# --- matching: _extension_match_core --------------------------------------------------------------


def _in_set(pattern: str, start: int, end: int, ch: str) -> bool:
    """Whether ``ch`` is in the set ``pattern[start:end]``; ranges compare as signed ``char``."""
    value = _signed(ch)
    j = start
    while j < end:
        if j + 2 < end and pattern[j + 1] == "-":
            if _signed(pattern[j]) <= value <= _signed(pattern[j + 2]):
                return True
            j += 3
        else:
            if pattern[j] == ch:
                return True
            j += 1
    return False


def match_core(pattern: str, data: str, mode: MatchMode = MatchMode.MATCH) -> int:
    """Match one extension name against a dialled string: 0 no, 1 yes, 2 yes through a ``!``.

    This is ``_extension_match_core`` of pbx.c.  A plain name matches when equal (``MATCH``), or when
    ``data`` is a prefix of it (``CANMATCH``; ``MATCHMORE`` also wants it shorter), dashes ignored on
    both sides.  For a pattern the dialled string is walked character by character: ``.`` reached with
    characters left answers 1 in every mode, ``!`` reached answers 2; running out of dialled
    characters answers, by what the pattern has left: nothing -> 1 (0 for ``MATCHMORE``), ``!`` -> 2,
    anything else -> 0 for ``MATCH`` and 1 otherwise.  A ``MATCH`` of a string that itself starts with
    ``_`` first compares the two as patterns (so ``_X.`` matches ``_X.``).
    """
    pattern = _as_bytes(pattern)
    data = _as_bytes(data)
    if not pattern.startswith("_"):
        name = pattern.replace("-", "")
        dialled = data.replace("-", "")
        if len(name) < len(dialled):
            return 0
        if mode is MatchMode.MATCH:
            return int(name == dialled)
        if not name.startswith(dialled):
            return 0
        return int(len(name) > len(dialled)) if mode is MatchMode.MATCHMORE else 1
    if mode is MatchMode.MATCH and data.startswith("_") and ext_cmp(pattern, data) == 0:
        return 1
    dialled = data.replace("-", "")
    i, n = 1, len(pattern)
    k, m = 0, len(dialled)
    while True:
        while i < n and pattern[i] == "-":
            i += 1
        if k == m or i == n or pattern[i] == "/":  # '/' would start a caller-ID match
            break
        token = pattern[i]
        ch = dialled[k]
        if token == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                return 0  # "Wrong usage of [] in the extension"
            if end == i + 1:
                i = end + 1  # an empty set is ignored, it does not consume a character
                continue
            if not _in_set(pattern, i + 1, end, ch):
                return 0
            i = end
        elif token in "xX":
            if not "0" <= ch <= "9":
                return 0
        elif token in "zZ":
            if not "1" <= ch <= "9":
                return 0
        elif token in "nN":
            if not "2" <= ch <= "9":
                return 0
        elif token == ".":
            return 1
        elif token == "!":
            return 2
        elif token != ch:
            return 0
        i += 1
        k += 1
    if k < m:
        return 0  # the pattern ended first
    if i == n or pattern[i] == "/":
        return 0 if mode is MatchMode.MATCHMORE else 1
    if pattern[i] == "!":
        return 2
    return 0 if mode is MatchMode.MATCH else 1


def extension_matches(pattern: str, exten: str, mode: MatchMode = MatchMode.MATCH) -> bool:
    """Whether extension name ``pattern`` matches the dialled ``exten`` in ``mode``.

    ``MATCH`` is ``ast_extension_match``; ``CANMATCH``/``MATCHMORE`` are ``ast_extension_close``.  A
    ``!`` reached in ``MATCHMORE`` mode counts as no match, as it does for ``ast_matchmore_extension``
    (pbx.c's comment: "E_MATCHMORE returns 0 (no match)").
    """
    result = match_core(pattern, exten, mode)
    return result == 1 if mode is MatchMode.MATCHMORE else result != 0


def callerid_matches(cid_pattern: str | None, caller_number: str | None) -> bool:
    """Whether a caller matches an extension's caller-ID part (``exten => 123/_100X,...``); ``matchcid`` in pbx.c.

    ``None`` means the extension has no caller-ID part (everyone matches).  A caller without a number
    (``None`` or empty) matches only an empty caller-ID part (``exten => 123/,...``); otherwise the
    number must ``MATCH`` the caller-ID pattern.
    """
    if cid_pattern is None:
        return True
    if not caller_number:
        return not cid_pattern
    return match_core(cid_pattern, caller_number, MatchMode.MATCH) != 0


# --- regular expressions that find the first matching pattern -------------------------------------

_END, _DOT, _BANG, _BAD_SET = "end", ".", "!", "["
_ANY = r"[\x00-\xff]"
_NEVER = "(?!)"


def _char_class(members: frozenset[int]) -> str:
    if not members:
        return _NEVER
    runs: list[str] = []
    ordered = sorted(members)
    start = prev = ordered[0]
    for byte in [*ordered[1:], -2]:
        if byte != prev + 1:
            runs.append(f"\\x{start:02x}" if start == prev else f"\\x{start:02x}-\\x{prev:02x}")
            start = byte
        prev = byte
    return "[" + "".join(runs) + "]"


_CLASS_BYTES = {
    "x": set(range(ord("0"), ord("9") + 1)),
    "z": set(range(ord("1"), ord("9") + 1)),
    "n": set(range(ord("2"), ord("9") + 1)),
}


def _set_members(body: str) -> set[int]:
    members: set[int] = set()
    j, end = 0, len(body)
    while j < end:
        if j + 2 < end and body[j + 1] == "-":
            low, high = _signed(body[j]), _signed(body[j + 2])
            members.update(b for b in range(256) if low <= (b - 256 if b >= 128 else b) <= high)
            j += 3
        else:
            members.add(ord(body[j]))
            j += 1
    return members


@dataclass(frozen=True, slots=True)
class _Shape:
    """A pattern as ``_extension_match_core`` walks it: the byte sets it consumes, then how it ends.

    ``trailing_empty`` tells whether an ignored ``[]`` follows the last set (it still counts as
    "pattern left" when the dialled string ends there); ``terminal`` is ``.``, ``!``, a set without
    ``]`` or the end (also ``/``).
    """

    sets: tuple[frozenset[int], ...]
    trailing_empty: bool
    terminal: str

    @classmethod
    def of(cls, pattern: str) -> _Shape:
        """The shape of a pattern in bytes form, with its ``_``."""
        sets: list[frozenset[int]] = []
        trailing_empty = False
        i, n = 1, len(pattern)
        while True:
            while i < n and pattern[i] == "-":
                i += 1
            if i == n or pattern[i] == "/":
                return cls(tuple(sets), trailing_empty, _END)
            token = pattern[i]
            if token in ".!":
                return cls(tuple(sets), trailing_empty, token)
            if token == "[":
                end = pattern.find("]", i + 1)
                if end < 0:
                    return cls(tuple(sets), trailing_empty, _BAD_SET)
                if end == i + 1:
                    trailing_empty = True
                    i = end + 1
                    continue
                sets.append(frozenset(_set_members(pattern[i + 1 : end])))
                i = end + 1
            else:
                lower = token.lower()
                sets.append(frozenset(_CLASS_BYTES[lower] if lower in _CLASS_BYTES else {ord(token)}))
                i += 1
            trailing_empty = False

    def admits(self, index: int, byte: int) -> bool:
        """Whether a dialled string with ``byte`` at ``index`` can get a non-zero answer (any mode)."""
        if index < len(self.sets):
            return byte in self.sets[index]
        return self.terminal in (_DOT, _BANG)  # out of sets with characters left: only '.'/'!' match


def _prefixes(classes: list[str], inner: str) -> str:
    """A regex for any proper prefix of ``classes``, or all of them followed by ``inner``."""
    out = inner
    for cls in reversed(classes):
        out = f"(?:{cls}{out})?"
    return out


def _regex_source(shape: _Shape, mode: MatchMode) -> str:
    """A regex (for ``fullmatch`` on the dash-less dialled bytes) true exactly when ``match_core`` is non-zero."""
    classes = [_char_class(members) for members in shape.sets]
    trailing_empty, terminal = shape.trailing_empty, shape.terminal
    wild = terminal in (_DOT, _BANG)
    if mode is MatchMode.MATCH:
        if terminal == _END:
            return _NEVER if trailing_empty else "".join(classes)
        if terminal == _BANG and not trailing_empty:
            return "".join(classes) + _ANY + "*"
        if wild:
            return "".join(classes) + _ANY + "+"
        return _NEVER
    if mode is MatchMode.CANMATCH:
        return _prefixes(classes, _ANY + "*" if wild else "")
    if wild:
        inner = _ANY + "*"
    elif trailing_empty or terminal == _BAD_SET:
        inner = ""
    else:
        inner = _NEVER  # ends exactly with the dialled string: a full match is not "more"
    return _prefixes(classes, inner)


# --- the extension table of a context -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry(Generic[T]):
    """One extension of a context: its name (pattern or not), its caller-ID match (or None) and a payload."""

    name: str
    cid: str | None
    payload: T


@dataclass(frozen=True, slots=True)
class Search(Generic[T]):
    """The answer of :meth:`ExtensionTable.search`.

    ``entry`` is the extension Asterisk would pick, or None.  ``stop`` is True when a ``MATCHMORE``
    search reached a pattern through its ``!`` first: ``pbx_find_extension`` then returns "no" at once,
    without trying this context's switches and includes.
    """

    entry: Entry[T] | None
    stop: bool = False


_EntryKey = tuple[SortKey, tuple[int, SortKey]]
_NO_CID: SortKey = (0, b"", ())


class _Slot(Generic[T]):
    """An entry with what lookups need precomputed."""

    __slots__ = ("entry", "key", "plain", "raw", "shape")

    def __init__(self, entry: Entry[T], key: _EntryKey, raw: str) -> None:
        self.entry = entry
        self.key = key
        self.raw = raw  # the name in bytes form
        self.plain = raw.replace("-", "") if not raw.startswith("_") else None
        self.shape: _Shape | None = None  # patterns only, computed when the table is indexed


_BUCKET_TARGET = 32
"""A bucket holding more patterns than this is split by the next dialled character."""
_BUCKET_DEPTH = 8
_BUCKET_CACHE = 4096


class _Bucket:
    """The patterns (positions, in order) that may match dialled strings with a given prefix.

    ``regex`` holds, per mode, the alternation of their regular expressions, compiled on first use.
    """

    __slots__ = ("positions", "regex")

    def __init__(self, positions: tuple[int, ...]) -> None:
        self.positions = positions
        self.regex: dict[MatchMode, re.Pattern[str]] = {}


class ExtensionTable(Generic[T]):
    """The extensions of one context, in Asterisk's order, with lookups that give Asterisk's answer.

    Order (``__iter__``, ``dialplan show``): :func:`ext_cmp` of the names; entries with equal names
    (``ext_cmp`` 0) keep caller-ID entries first, by :func:`ext_cmp` of their caller-ID patterns, and
    the entry without caller-ID last (``ast_add_extension2_lockopt``).  Adding an entry whose name and
    caller-ID compare equal to an existing one replaces it (Asterisk would merge the two).

    :meth:`find` answers what ``pbx_find_extension``'s linear walk of the context answers: the first
    entry in order whose name matches in the mode and whose caller-ID part matches the caller (see
    :func:`callerid_matches`), and, if ``accept`` is given, whose payload it accepts - Asterisk goes on
    to the next matching extension when the one it found lacks the wanted priority (a hint-only
    ``1001`` falls through to ``_1XXX``), so the executor passes "has this priority/label" here.
    Lookups do not walk the context: plain names are a dict and a sorted key list; patterns are
    grouped by the dialled prefixes they can accept (refined one character at a time while a group
    holds more than 32), and each group is one compiled alternation per mode, in order - the first
    alternative that matches is the first pattern that can match.  The indexes are (re)built lazily
    on the first lookup after a change.
    """

    def __init__(self) -> None:
        self._slots: dict[_EntryKey, _Slot[T]] = {}
        self._dirty = True
        self._order: list[_Slot[T]] = []
        self._groups: dict[str, list[_Slot[T]]] = {}
        self._plain_keys: list[bytes] = []
        self._plain_names: list[str] = []
        self._patterns: list[_Slot[T]] = []
        self._root = _Bucket(())
        self._buckets: dict[str, _Bucket] = {}

    # -- content --

    @staticmethod
    def _key(name: str, cid: str | None) -> _EntryKey:
        return (ext_sort_key(name), (1, _NO_CID) if cid is None else (0, ext_sort_key(cid)))

    def add(self, name: str, cid: str | None, payload: T) -> None:
        """Add extension ``name`` (``cid``: its caller-ID pattern, or None), replacing an equal one."""
        if not name:
            raise PatternError("an extension needs a name", name)
        key = self._key(name, cid)
        self._slots[key] = _Slot(Entry(name, cid, payload), key, _as_bytes(name))
        self._dirty = True

    def remove(self, name: str, cid: str | None = None) -> None:
        """Remove the extension that compares equal to ``name``/``cid``; KeyError if there is none."""
        del self._slots[self._key(name, cid)]
        self._dirty = True

    def get(self, name: str, cid: str | None = None) -> T | None:
        """The payload of the extension that compares equal to ``name``/``cid`` (``12-34`` finds ``1234``)."""
        slot = self._slots.get(self._key(name, cid))
        return slot.entry.payload if slot is not None else None

    def entry(self, name: str, cid: str | None = None) -> Entry[T] | None:
        """The stored entry that compares equal to ``name``/``cid`` (its name as it was added)."""
        slot = self._slots.get(self._key(name, cid))
        return slot.entry if slot is not None else None

    def __len__(self) -> int:
        return len(self._slots)

    def __iter__(self) -> Iterator[tuple[str, str | None, T]]:
        """``(name, cid, payload)`` in Asterisk's order."""
        self._build()
        for slot in self._order:
            yield slot.entry.name, slot.entry.cid, slot.entry.payload

    def entries(self) -> list[Entry[T]]:
        """The entries in Asterisk's order."""
        self._build()
        return [slot.entry for slot in self._order]

    # -- lookups --

    def find(
        self,
        exten: str,
        caller_number: str | None = None,
        mode: MatchMode = MatchMode.MATCH,
        accept: Callable[[T], bool] | None = None,
    ) -> T | None:
        """The payload of the extension Asterisk picks for ``exten`` dialled by ``caller_number``, or None.

        ``accept`` (optional) rules out entries whose payload lacks what the caller needs, e.g. the
        priority to run; the search then goes on as Asterisk's does.
        """
        found = self.search(exten, caller_number, mode, accept).entry
        return found.payload if found is not None else None

    def exists(self, exten: str, caller_number: str | None = None) -> bool:
        """``ast_exists_extension``: some extension matches ``exten`` completely."""
        return self.search(exten, caller_number, MatchMode.MATCH).entry is not None

    def can_match(self, exten: str, caller_number: str | None = None) -> bool:
        """``ast_canmatch_extension``: ``exten`` is an extension or could become one."""
        return self.search(exten, caller_number, MatchMode.CANMATCH).entry is not None

    def match_more(self, exten: str, caller_number: str | None = None) -> bool:
        """``ast_matchmore_extension``: ``exten`` could become an extension with more digits."""
        return self.search(exten, caller_number, MatchMode.MATCHMORE).entry is not None

    def search(
        self,
        exten: str,
        caller_number: str | None = None,
        mode: MatchMode = MatchMode.MATCH,
        accept: Callable[[T], bool] | None = None,
    ) -> Search[T]:
        """Like :meth:`find`, telling also whether Asterisk would stop searching this context (``!``)."""
        for entry in self._candidates(exten, caller_number, mode):
            if entry is None:
                return Search(None, stop=True)
            if accept is None or accept(entry.payload):
                return Search(entry)
        return Search(None)

    def iter_matches(
        self, exten: str, caller_number: str | None = None, mode: MatchMode = MatchMode.MATCH
    ) -> Iterator[T]:
        """The payloads of all entries that match ``exten`` and the caller, in the order Asterisk tries them.

        In ``MATCHMORE`` mode the sequence ends where Asterisk's search ends at a ``!`` (use
        :meth:`search` to tell that apart from running out of extensions).
        """
        for entry in self._candidates(exten, caller_number, mode):
            if entry is None:
                return
            yield entry.payload

    def _candidates(self, exten: str, caller: str | None, mode: MatchMode) -> Iterator[Entry[T] | None]:
        """``pbx_find_extension``'s walk, using the indexes: matching entries in order; None for a stop."""
        if self._dirty:
            self._build()
        data = _as_bytes(exten)
        if mode is MatchMode.MATCH and data.startswith("_"):
            # Rare (only programs ask whether "_X." exists): a pattern may then match by comparing
            # as a pattern, which the indexes do not model, so walk the context.
            yield from self._walk(self._order, range(len(self._order)), exten, caller, mode)
            return
        dialled = data.replace("-", "") if "-" in data else data
        if mode is MatchMode.MATCH:
            group = self._groups.get(dialled)
            if group is not None:
                yield from self._callers_in_group(group, caller)
        else:
            yield from self._with_prefix(dialled, caller, mode)
        if not self._patterns:
            return
        bucket = self._bucket(dialled)
        regex = bucket.regex.get(mode)
        if regex is None:
            alternatives = (f"({_regex_source(self._shape(self._patterns[i]), mode)})" for i in bucket.positions)
            regex = bucket.regex[mode] = re.compile("|".join(alternatives) or _NEVER)
        hit = regex.fullmatch(dialled)
        if hit is not None and hit.lastindex is not None:
            # The first pattern that can match; the walk confirms it with match_core and goes on from
            # there through the bucket.
            yield from self._walk(self._patterns, bucket.positions[hit.lastindex - 1 :], exten, caller, mode)

    def _with_prefix(self, dialled: str, caller: str | None, mode: MatchMode) -> Iterator[Entry[T]]:
        """The plain entries that ``dialled`` is a prefix of (a proper one for ``MATCHMORE``), in order."""
        prefix = dialled.encode("latin-1").translate(_TO_SIGNED_ORDER)
        keys = self._plain_keys
        # In the sorted keys, the names that start with the dialled digits are contiguous.
        index = bisect.bisect_left(keys, prefix)
        while index < len(keys) and keys[index].startswith(prefix):
            name = self._plain_names[index]
            index += 1
            if mode is MatchMode.MATCHMORE and len(name) == len(dialled):
                continue
            yield from self._callers_in_group(self._groups[name], caller)

    @staticmethod
    def _callers_in_group(group: list[_Slot[T]], caller: str | None) -> Iterator[Entry[T]]:
        for slot in group:
            entry = slot.entry
            if entry.cid is None or callerid_matches(entry.cid, caller):
                yield entry

    @staticmethod
    def _walk(
        slots: list[_Slot[T]], positions: Iterable[int], exten: str, caller: str | None, mode: MatchMode
    ) -> Iterator[Entry[T] | None]:
        """The linear walk over ``slots`` at ``positions``; None (and the end) at a ``!`` in ``MATCHMORE``."""
        for index in positions:
            entry = slots[index].entry
            result = match_core(entry.name, exten, mode)
            if not result or (entry.cid is not None and not callerid_matches(entry.cid, caller)):
                continue
            if result == 2 and mode is MatchMode.MATCHMORE:
                yield None
                return
            yield entry

    # -- indexes --

    def _bucket(self, dialled: str) -> _Bucket:
        """The smallest bucket of patterns that may match ``dialled`` (a lazily built prefix trie)."""
        bucket = self._root
        depth, limit = 0, min(len(dialled), _BUCKET_DEPTH)
        while len(bucket.positions) > _BUCKET_TARGET and depth < limit:
            depth += 1
            prefix = dialled[:depth]
            child = self._buckets.get(prefix)
            if child is None:
                byte = ord(prefix[-1])
                patterns = self._patterns
                positions = tuple(i for i in bucket.positions if self._shape(patterns[i]).admits(depth - 1, byte))
                if len(self._buckets) >= _BUCKET_CACHE:
                    self._buckets.clear()  # bounded memory; buckets are cheap to rebuild
                child = self._buckets[prefix] = _Bucket(positions)
            bucket = child
        return bucket

    @staticmethod
    def _shape(slot: _Slot[T]) -> _Shape:
        if slot.shape is None:
            slot.shape = _Shape.of(slot.raw)
        return slot.shape

    def _build(self) -> None:
        if not self._dirty:
            return
        order = sorted(self._slots.values(), key=lambda slot: slot.key)
        groups: dict[str, list[_Slot[T]]] = {}
        plain_keys: list[bytes] = []
        plain_names: list[str] = []
        patterns: list[_Slot[T]] = []
        for slot in order:
            if slot.plain is None:
                patterns.append(slot)
                continue
            group = groups.get(slot.plain)
            if group is None:
                groups[slot.plain] = [slot]
                plain_keys.append(slot.key[0][1])
                plain_names.append(slot.plain)
            else:
                group.append(slot)
        self._order = order
        self._groups = groups
        self._plain_keys = plain_keys
        self._plain_names = plain_names
        self._patterns = patterns
        self._root = _Bucket(tuple(range(len(patterns))))
        self._buckets = {}
        self._dirty = False
