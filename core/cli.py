"""The operator console's command registry, shared by every subsystem.

Commands are sequences of words as in Asterisk's CLI (``core show channels``, ``sip show peers``);
each subsystem registers its own.  A handler receives the words after the command and returns the text
to print; it raises :class:`CliUsageError` to have the command's usage printed instead.  The registry
knows nothing about where the text goes (control socket, TTY, UART): ``firmware.console`` serves it.
"""

from __future__ import annotations

import inspect
import logging
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger("centralita.cli")

CliHandler = Callable[["CliRequest"], "str | Awaitable[str]"]


class CliUsageError(Exception):
    """The arguments were wrong; the console prints the message (if any) and the command's usage."""


class CliCommandFailed(Exception):
    """The command ran but did not succeed; the console prints the message and reports a failure."""


@dataclass(frozen=True, slots=True)
class CliRequest:
    """One command invocation: the full line and the words after the command's own words."""

    line: str
    args: tuple[str, ...]
    command: CliCommand


@dataclass(frozen=True, slots=True)
class CliResult:
    """What a command printed and whether it succeeded (the control socket reports both)."""

    output: str
    ok: bool = True


@dataclass(frozen=True, slots=True)
class CliCommand:
    """A registered command: its words, a one-line summary and a usage text."""

    words: tuple[str, ...]
    handler: CliHandler = field(repr=False)
    summary: str
    usage: str

    @property
    def text(self) -> str:
        """The command's words joined, e.g. ``core show channels``."""
        return " ".join(self.words)


class CommandRegistry:
    """All console commands, looked up by their longest matching word prefix."""

    def __init__(self) -> None:
        self._commands: dict[tuple[str, ...], CliCommand] = {}
        self.register("help", self._help, "Display help list, or specific help on a command",
                      "Usage: help [topic]\n       Lists the commands that start with topic.")

    def register(self, words: str, handler: CliHandler, summary: str, usage: str = "") -> CliCommand:
        """Add a command; ``words`` is its text, e.g. ``"core show channels"``."""
        key = tuple(words.split())
        if not key:
            raise ValueError("a command needs at least one word")
        if key in self._commands:
            raise ValueError(f"command {' '.join(key)!r} is already registered")
        command = CliCommand(key, handler, summary, usage or f"Usage: {' '.join(key)}")
        self._commands[key] = command
        return command

    def unregister(self, words: str) -> None:
        """Remove a command (a subsystem that stops)."""
        self._commands.pop(tuple(words.split()), None)

    @property
    def commands(self) -> list[CliCommand]:
        """Every command, sorted by its words."""
        return [self._commands[key] for key in sorted(self._commands)]

    def find(self, words: list[str]) -> tuple[CliCommand, tuple[str, ...]] | None:
        """The command whose words are the longest prefix of ``words``, and the remaining words."""
        lowered = [w.lower() for w in words]
        for length in range(len(lowered), 0, -1):
            command = self._commands.get(tuple(lowered[:length]))
            if command is not None:
                return command, tuple(words[length:])
        return None

    async def execute(self, line: str) -> CliResult:
        """Run one command line and return what it printed."""
        try:
            words = shlex.split(line, comments=False, posix=True)
        except ValueError as exc:
            return CliResult(f"Cannot parse command line: {exc}", ok=False)
        if not words:
            return CliResult("")
        found = self.find(words)
        if found is None:
            return CliResult(f"No such command '{' '.join(words)}' (type 'help' for a list)", ok=False)
        command, args = found
        request = CliRequest(line, args, command)
        try:
            output = command.handler(request)
            if inspect.isawaitable(output):
                output = await output
        except CliUsageError as exc:
            message = f"{exc}\n" if str(exc) else ""
            return CliResult(f"{message}{command.usage}", ok=False)
        except CliCommandFailed as exc:
            return CliResult(str(exc), ok=False)
        except Exception as exc:
            log.exception("console command %r failed", line)
            return CliResult(f"Command '{command.text}' failed: {exc}", ok=False)
        assert isinstance(output, str)
        return CliResult(output)

    def _help(self, request: CliRequest) -> str:
        prefix = tuple(w.lower() for w in request.args)
        if prefix:
            exact = self._commands.get(prefix)
            if exact is not None and exact.words != ("help",):
                return exact.usage
        matching = [c for c in self.commands if c.words[: len(prefix)] == prefix]
        if not matching:
            return f"No such command '{' '.join(prefix)}'."
        width = max(30, max(len(c.text) for c in matching))
        return "\n".join(f"{c.text:<{width}} -- {c.summary}" for c in matching)
