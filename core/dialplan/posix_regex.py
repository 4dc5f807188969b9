"""POSIX extended regular expressions for the ``:`` and ``=~`` operators of ``$[...]``.

``op_colon()`` and ``op_eqtilde()`` in ``main/ast_expr2.y`` (asterisk/asterisk) call
``regcomp(&rp, pattern, REG_EXTENDED)`` and ``regexec(&rp, string, 2, rm, 0)``: POSIX EREs with glibc's GNU
extensions, leftmost-longest matching, byte offsets for the whole match and the first group. On glibc the
C library's own ``regcomp``/``regexec`` are called through ctypes in the "C" locale (what Asterisk calls);
elsewhere a translation to Python's ``re`` is used, which agrees except where leftmost-longest and
leftmost-first matching differ (``(a|ab)``).
"""

from __future__ import annotations

import ctypes
import os
import re
from typing import Protocol

__all__ = ["CompiledRegex", "Match", "RegexError", "compile_regex"]

Match = tuple[int, int, int, int]  # byte offsets: whole match, then group 1 (-1, -1 when unset)


class RegexError(Exception):
    """``regcomp()`` refused a pattern; the message is ``regerror()``'s (``op_colon()`` logs it).

    Neither ``regcomp()`` nor ``regerror()`` reports where in the pattern the error is, so there is no
    position to carry.
    """


class CompiledRegex(Protocol):
    """A compiled pattern: ``nsub`` is ``re_nsub`` (the number of groups)."""

    nsub: int

    def search(self, subject: bytes) -> Match | None:
        """``regexec(nmatch=2)``: offsets of the leftmost match and of group 1, or None without a match."""
        ...


class _RegexT(ctypes.Structure):
    # glibc's struct re_pattern_buffer (regex.h); spare room keeps us safe should it grow.
    _fields_ = [
        ("buffer", ctypes.c_void_p),
        ("allocated", ctypes.c_ulong),
        ("used", ctypes.c_ulong),
        ("syntax", ctypes.c_ulong),
        ("fastmap", ctypes.c_void_p),
        ("translate", ctypes.c_void_p),
        ("re_nsub", ctypes.c_size_t),
        ("flags", ctypes.c_uint),
        ("spare", ctypes.c_char * 64),
    ]


class _RegMatchT(ctypes.Structure):
    _fields_ = [("rm_so", ctypes.c_int), ("rm_eo", ctypes.c_int)]  # glibc's regoff_t is int


class _GlibcRegexApi:
    """glibc's regcomp/regexec/regerror/regfree, run in the "C" locale as in Asterisk's process."""

    REG_EXTENDED = 1
    LC_CTYPE_MASK = 1 << 0
    LC_COLLATE_MASK = 1 << 3

    def __init__(self, libc: ctypes.CDLL) -> None:
        self.regcomp = libc.regcomp
        self.regcomp.argtypes = [ctypes.POINTER(_RegexT), ctypes.c_char_p, ctypes.c_int]
        self.regcomp.restype = ctypes.c_int
        self.regexec = libc.regexec
        self.regexec.argtypes = [
            ctypes.POINTER(_RegexT),
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.POINTER(_RegMatchT),
            ctypes.c_int,
        ]
        self.regexec.restype = ctypes.c_int
        self.regerror = libc.regerror
        self.regerror.argtypes = [ctypes.c_int, ctypes.POINTER(_RegexT), ctypes.c_char_p, ctypes.c_size_t]
        self.regerror.restype = ctypes.c_size_t
        self.regfree = libc.regfree
        self.regfree.argtypes = [ctypes.POINTER(_RegexT)]
        self.regfree.restype = None
        self.uselocale = libc.uselocale
        self.uselocale.argtypes = [ctypes.c_void_p]
        self.uselocale.restype = ctypes.c_void_p
        newlocale = libc.newlocale
        newlocale.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p]
        newlocale.restype = ctypes.c_void_p
        self.c_locale = newlocale(self.LC_CTYPE_MASK | self.LC_COLLATE_MASK, b"C", None)
        if not self.c_locale:
            raise OSError("newlocale(C) failed")


def _load_glibc() -> _GlibcRegexApi | None:
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return None
        return _GlibcRegexApi(ctypes.CDLL("libc.so.6"))  # glibc's soname on every architecture
    except (ValueError, OSError, AttributeError):
        return None


_GLIBC = _load_glibc()


class _GlibcRegex:
    """A pattern compiled by glibc's ``regcomp``; freed by ``regfree`` when the last user lets go."""

    __slots__ = ("_api", "_regex", "nsub")

    def __init__(self, api: _GlibcRegexApi, pattern: bytes) -> None:
        regex = _RegexT()
        previous = api.uselocale(api.c_locale)
        try:
            status = api.regcomp(ctypes.byref(regex), pattern, api.REG_EXTENDED)
            if status != 0:
                message = ctypes.create_string_buffer(256)
                api.regerror(status, ctypes.byref(regex), message, 256)
                raise RegexError(message.value.decode("utf-8", "replace"))
        finally:
            api.uselocale(previous)
        self._api = api
        self._regex = regex
        self.nsub = int(regex.re_nsub)

    def search(self, subject: bytes) -> Match | None:
        api = self._api
        matches = (_RegMatchT * 2)()
        previous = api.uselocale(api.c_locale)
        try:
            status = api.regexec(ctypes.byref(self._regex), subject, 2, matches, 0)
        finally:
            api.uselocale(previous)
        if status != 0:
            return None
        return matches[0].rm_so, matches[0].rm_eo, matches[1].rm_so, matches[1].rm_eo

    def __del__(self) -> None:
        api = getattr(self, "_api", None)  # unset when regcomp() failed: nothing to free then
        if api is not None:
            api.regfree(ctypes.byref(self._regex))


_POSIX_CLASSES = {
    b"alpha": rb"a-zA-Z",
    b"digit": rb"0-9",
    b"alnum": rb"a-zA-Z0-9",
    b"upper": rb"A-Z",
    b"lower": rb"a-z",
    b"space": rb" \t\n\r\f\v",
    b"blank": rb" \t",
    b"punct": rb"!-/:-@\[-`{-~",
    b"print": rb" -~",
    b"graph": rb"!-~",
    b"cntrl": rb"\x00-\x1f\x7f",
    b"xdigit": rb"0-9A-Fa-f",
}


def _translate_bracket(pattern: bytes, start: int) -> tuple[bytes, int]:
    """A POSIX bracket expression at ``pattern[start] == '['`` as a Python class; returns (class, end)."""
    i = start + 1
    negate = i < len(pattern) and pattern[i : i + 1] == b"^"
    if negate:
        i += 1
    items: list[bytes] = []
    first = True
    while i < len(pattern):
        char = pattern[i : i + 1]
        if char == b"]" and not first:
            body = b"".join(items)
            return (b"[^" + body + b"]" if negate else b"[" + body + b"]"), i + 1
        first = False
        if char == b"[" and pattern[i + 1 : i + 2] in (b":", b"=", b"."):
            kind = pattern[i + 1 : i + 2]
            close = pattern.find(kind + b"]", i + 2)
            if close < 0:
                raise RegexError("Unmatched [, [^, [:, [., or [=")
            name = pattern[i + 2 : close]
            if kind == b":":
                if name not in _POSIX_CLASSES:
                    raise RegexError("Invalid character class name")
                items.append(_POSIX_CLASSES[name])
            else:
                items.append(re.escape(name))
            i = close + 2
            continue
        if pattern[i + 1 : i + 2] == b"-" and pattern[i + 2 : i + 3] not in (b"]", b""):
            items.append(re.escape(char) + b"-" + re.escape(pattern[i + 2 : i + 3]))
            i += 3
            continue
        items.append(re.escape(char))
        i += 1
    raise RegexError("Unmatched [, [^, [:, [., or [=")


_INTERVAL = re.compile(rb"\{([0-9]*)(,?)([0-9]*)\}")


def _posix_to_python(pattern: bytes) -> bytes:
    """Translate a POSIX ERE (with glibc's GNU extensions) to Python ``re`` syntax, keeping group numbers."""
    out: list[bytes] = []
    depth = 0
    i = 0
    while i < len(pattern):
        char = pattern[i : i + 1]
        if char == b"\\":
            following = pattern[i + 1 : i + 2]
            if not following:
                raise RegexError("Trailing backslash")
            if following in b"123456789wWsSbB":
                out.append(char + following)
            else:
                out.append(
                    {b"<": rb"\b(?=\w)", b">": rb"\b(?<=\w)", b"`": rb"\A", b"'": rb"\Z"}.get(
                        following, re.escape(following)
                    )
                )
            i += 2
            continue
        if char == b"[":
            translated, i = _translate_bracket(pattern, i)
            out.append(translated)
            continue
        if char in b"*+?":
            end = i
            while end < len(pattern) and pattern[end : end + 1] in (b"*", b"+", b"?"):
                end += 1
            # Stacked POSIX quantifiers apply in turn ("a*?" is "(a*)?"), where Python would read a lazy or
            # possessive one: "++" is "+", "??" is "?", any other mix is "*".
            out.append(pattern[i : i + 1] if len(set(pattern[i:end])) == 1 else b"*")
            i = end
            continue
        if char == b"{":
            interval = _INTERVAL.match(pattern, i)
            if interval is None or not (interval.group(1) or interval.group(3)):
                out.append(rb"\{")
                i += 1
                continue
            low, comma, high = interval.group(1) or b"0", interval.group(2), interval.group(3)
            out.append(b"{" + low + comma + high + b"}")
            i = interval.end()
            continue
        if char == b"(":
            depth += 1
        elif char == b")":
            if depth == 0:
                out.append(rb"\)")  # an unmatched ")" is an ordinary character in glibc's ERE
                i += 1
                continue
            depth -= 1
        elif char == b"$":
            out.append(rb"\Z")
            i += 1
            continue
        elif char not in b"^.|":
            out.append(re.escape(char))
            i += 1
            continue
        out.append(char)
        i += 1
    if depth:
        raise RegexError("Unmatched ( or \\(")
    return b"".join(out)


class _PythonRegex:
    """Fallback where glibc is absent: the same pattern through Python's ``re`` (leftmost-first)."""

    __slots__ = ("_compiled", "nsub")

    def __init__(self, pattern: bytes) -> None:
        try:
            self._compiled = re.compile(_posix_to_python(pattern), re.DOTALL)
        except re.error as exc:
            raise RegexError(str(exc)) from None
        self.nsub = self._compiled.groups

    def search(self, subject: bytes) -> Match | None:
        found = self._compiled.search(subject)
        if found is None:
            return None
        if self.nsub:
            return found.start(), found.end(), found.start(1), found.end(1)
        return found.start(), found.end(), -1, -1


_REGEX_CACHE_SIZE = 512
_regex_cache: dict[bytes, CompiledRegex | str] = {}


def compile_regex(pattern: bytes) -> CompiledRegex:
    """``regcomp(pattern, REG_EXTENDED)``, cached by pattern (failures too); raises :class:`RegexError`."""
    cached = _regex_cache.get(pattern)
    if cached is None:
        try:
            cached = _GlibcRegex(_GLIBC, pattern) if _GLIBC is not None else _PythonRegex(pattern)
        except RegexError as exc:
            cached = str(exc)
        if len(_regex_cache) >= _REGEX_CACHE_SIZE:
            _regex_cache.clear()  # a cleared entry is freed once no evaluation still holds it
        _regex_cache[pattern] = cached
    if isinstance(cached, str):
        raise RegexError(cached)
    return cached
