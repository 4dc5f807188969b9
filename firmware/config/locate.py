"""Find the line of every key in a TOML document, for ``FILE:LINE: message`` errors.

``tomllib`` parses TOML but forgets where things were.  This scanner walks the same (already
validated) text once and records, for every key path such as ``("sip", "users", 0, "secret")``, the
line it was written on.  It only has to be right on valid TOML: syntax errors are reported by tomllib
before it runs.
"""

from __future__ import annotations

KeyPath = tuple["str | int", ...]

_BARE_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.lines: dict[KeyPath, int] = {}
        self.array_tables: dict[KeyPath, int] = {}

    # -- low level ------------------------------------------------------------------------------------

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos : self.pos + n]

    def advance(self, n: int = 1) -> None:
        chunk = self.text[self.pos : self.pos + n]
        self.line += chunk.count("\n")
        self.pos += n

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def skip_inline_space(self) -> None:
        while self.peek() in (" ", "\t") and not self.at_end():
            self.advance()

    def skip_comment(self) -> None:
        if self.peek() == "#":
            end = self.text.find("\n", self.pos)
            self.advance((len(self.text) if end < 0 else end) - self.pos)

    def skip_space_newlines_comments(self) -> None:
        while not self.at_end():
            c = self.peek()
            if c in " \t\r\n":
                self.advance()
            elif c == "#":
                self.skip_comment()
            else:
                return

    def skip_to_line_end(self) -> None:
        end = self.text.find("\n", self.pos)
        self.advance((len(self.text) if end < 0 else end + 1) - self.pos)

    def record(self, path: KeyPath, line: int) -> None:
        self.lines.setdefault(path, line)

    # -- keys -----------------------------------------------------------------------------------------

    def read_simple_key(self) -> str:
        c = self.peek()
        if c == '"':
            return self.read_basic_string()
        if c == "'":
            self.advance()
            end = self.text.find("'", self.pos)
            value = self.text[self.pos : end]
            self.advance(end + 1 - self.pos)
            return value
        start = self.pos
        while not self.at_end() and self.peek() in _BARE_KEY_CHARS:
            self.advance()
        return self.text[start : self.pos]

    def read_dotted_key(self) -> list[str]:
        parts = [self.read_simple_key()]
        while True:
            self.skip_inline_space()
            if self.peek() != ".":
                return parts
            self.advance()
            self.skip_inline_space()
            parts.append(self.read_simple_key())

    def read_basic_string(self) -> str:
        self.advance()  # opening quote
        out: list[str] = []
        while not self.at_end():
            c = self.peek()
            if c == "\\":
                nxt = self.peek(2)[1:]
                out.append({"n": "\n", "t": "\t", '"': '"', "\\": "\\"}.get(nxt, nxt))
                self.advance(2)
            elif c == '"':
                self.advance()
                break
            else:
                out.append(c)
                self.advance()
        return "".join(out)

    # -- values ---------------------------------------------------------------------------------------

    def skip_value(self, path: KeyPath) -> None:
        c = self.peek()
        if self.peek(3) in ('"""', "'''"):
            quote = self.peek(3)
            self.advance(3)
            while not self.at_end():
                if self.peek() == "\\" and quote == '"""':
                    self.advance(2)
                elif self.peek(3) == quote:
                    self.advance(3)
                    while self.peek() == quote[0]:  # up to two extra quotes belong to the string
                        self.advance()
                    return
                else:
                    self.advance()
        elif c == '"':
            self.read_basic_string()
        elif c == "'":
            self.advance()
            end = self.text.find("'", self.pos)
            self.advance(end + 1 - self.pos)
        elif c == "[":
            self.advance()
            index = 0
            while True:
                self.skip_space_newlines_comments()
                if self.at_end() or self.peek() == "]":
                    self.advance()
                    return
                self.record(path + (index,), self.line)
                self.skip_value(path + (index,))
                self.skip_space_newlines_comments()
                if self.peek() == ",":
                    self.advance()
                    index += 1
        elif c == "{":
            self.advance()
            while True:
                self.skip_inline_space()
                if self.at_end() or self.peek() in "}\n":
                    self.advance()
                    return
                if self.peek() == ",":
                    self.advance()
                    continue
                line = self.line
                key = self.read_dotted_key()
                self.record_dotted(path, key, line)
                self.skip_inline_space()
                if self.peek() == "=":
                    self.advance()
                self.skip_inline_space()
                self.skip_value(path + tuple(key))
        else:
            while not self.at_end() and self.peek() not in ",]}#\n":
                self.advance()

    def record_dotted(self, prefix: KeyPath, key: list[str], line: int) -> None:
        for i in range(1, len(key) + 1):
            self.record(prefix + tuple(key[:i]), line)

    def resolve_table(self, key: list[str]) -> KeyPath:
        """Insert the current index of every array of tables along ``key``."""
        path: KeyPath = ()
        for part in key:
            path = path + (part,)
            if path in self.array_tables:
                path = path + (self.array_tables[path],)
        return path

    # -- document -------------------------------------------------------------------------------------

    def scan(self) -> dict[KeyPath, int]:
        table: KeyPath = ()
        while True:
            self.skip_space_newlines_comments()
            if self.at_end():
                return self.lines
            line = self.line
            if self.peek(2) == "[[":
                self.advance(2)
                self.skip_inline_space()
                key = self.read_dotted_key()
                parent = self.resolve_table(key[:-1])
                array_path = parent + (key[-1],)
                index = self.array_tables.get(array_path, -1) + 1
                self.array_tables[array_path] = index
                table = array_path + (index,)
                for i in range(1, len(parent) + 1):
                    self.record(parent[:i], line)  # [[a.b]] may be the first mention of a
                self.record(array_path, line)
                self.record(table, line)
                self.skip_to_line_end()
            elif self.peek() == "[":
                self.advance()
                self.skip_inline_space()
                key = self.read_dotted_key()
                table = self.resolve_table(key)
                for i in range(1, len(table) + 1):
                    self.record(table[:i], line)
                self.skip_to_line_end()
            else:
                key = self.read_dotted_key()
                self.skip_inline_space()
                if self.peek() != "=":
                    self.skip_to_line_end()  # not a key line; tomllib accepted it, so it is harmless
                    continue
                self.record_dotted(table, key, line)
                self.advance()  # "="
                self.skip_inline_space()
                self.skip_value(table + tuple(key))
                self.skip_inline_space()
                self.skip_comment()


def locate_keys(text: str) -> dict[KeyPath, int]:
    """Map every key path of a valid TOML document to the 1-based line it appears on.

    Tables and arrays of tables map to their header line; array elements map to ``path + (index,)``.
    """
    return _Scanner(text).scan()


def line_of(lines: dict[KeyPath, int], path: KeyPath) -> int | None:
    """The line of ``path`` or of its nearest recorded ancestor."""
    while True:
        if path in lines:
            return lines[path]
        if not path:
            return None
        path = path[:-1]
