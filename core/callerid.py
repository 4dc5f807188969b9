"""Caller identification: number, name and presentation, as carried by SIP, ISDN and analog CID."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import IntEnum


class Presentation(IntEnum):
    """Presentation indicator of Q.931 section 4.5.10 (octet 3a, bits 7-6)."""

    ALLOWED = 0
    RESTRICTED = 1
    UNAVAILABLE = 2


_CALLERID_RE = re.compile(r'^\s*(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^<]*?))\s*<(?P<number>[^>]*)>\s*$')


@dataclass(frozen=True, slots=True)
class CallerId:
    """Who is calling (or who answered): ``"Alice" <1001>`` in Asterisk's notation."""

    number: str = ""
    name: str = ""
    presentation: Presentation = Presentation.ALLOWED

    def __str__(self) -> str:
        if self.name:
            escaped = self.name.replace("\\", "\\\\").replace('"', '\\"')
            return f'"{escaped}" <{self.number}>'
        return f"<{self.number}>" if self.number else ""

    @property
    def is_restricted(self) -> bool:
        """True when the number must not be shown to the called party."""
        return self.presentation is not Presentation.ALLOWED

    def with_number(self, number: str) -> CallerId:
        """A copy with another number (used by ``Set(CALLERID(num)=...)``)."""
        return replace(self, number=number)

    def with_name(self, name: str) -> CallerId:
        """A copy with another name."""
        return replace(self, name=name)

    @classmethod
    def parse(cls, text: str) -> CallerId:
        """Parse Asterisk's forms: ``"Name" <number>``, ``Name <number>``, ``<number>`` or ``number``."""
        match = _CALLERID_RE.match(text)
        if match is None:
            stripped = text.strip()
            if stripped and all(c.isdigit() or c in "+*#" for c in stripped):
                return cls(number=stripped)
            return cls(name=stripped)
        quoted = match.group("quoted")
        if quoted is not None:
            name = re.sub(r"\\(.)", r"\1", quoted)
        else:
            name = (match.group("bare") or "").strip()
        return cls(number=match.group("number").strip(), name=name)


def shrink_phone_number(number: str) -> str:
    """``ast_shrink_phone_number``: drop ``( )``, blanks, non-trailing ``.``, and ``-`` outside ``[]``."""
    out: list[str] = []
    bracketed = 0
    last = len(number) - 1
    for i, char in enumerate(number):
        if char == "[":
            bracketed += 1
            out.append(char)
        elif char == "]":
            bracketed -= 1
            out.append(char)
        elif char == "-":
            if bracketed:
                out.append(char)
        elif char == ".":
            if i == last:
                out.append(char)
        elif char not in "( )":
            out.append(char)
    return "".join(out)
