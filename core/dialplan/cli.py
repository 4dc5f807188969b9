"""Console commands of the dialplan: show, reload, eval, and the application/function references.

``dialplan eval [--set VAR=VALUE ...] TEXT`` substitutes and evaluates TEXT (``${...}``, ``$[...]``,
functions) on a scratch channel that sees the running dialplan's globals and the AstDB, and prints the
result on one line (newlines as ``\\n``).  TEXT is taken verbatim from the command line; one pair of
surrounding single quotes is removed so that shells and scripts can pass leading or trailing blanks.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shlex
from collections.abc import Callable

from core.callerid import CallerId
from core.causes import HangupCause
from core.channel import Channel, ChannelDriver, ChannelState, ChannelUnavailable, Direction, HungUp
from core.cli import CliCommandFailed, CliRequest, CliUsageError, CommandRegistry
from core.dialplan.executor import CallContext, DialplanExecutor
from core.dialplan.functions import all_functions, get_function
from core.dialplan.loader import LoadResult
from core.events import EventBus

log = logging.getLogger("centralita.dialplan")

_SET_OPTION = re.compile(r"""\s*--set\s+('(?:[^']*)'|"(?:[^"\\]|\\.)*"|\S+)""")


class _ScratchDriver(ChannelDriver):
    """The technology of ``dialplan eval``'s scratch channel: it never reaches anything."""

    technology = "Eval"
    description = "scratch channel of dialplan eval"

    async def request(self, resource: str, *, requestor: Channel | None = None) -> Channel:
        raise NotImplementedError("the scratch channel places no calls")

    async def call(self, channel: Channel, *, timeout: float | None = None) -> None:
        return None

    async def answer(self, channel: Channel) -> None:
        return None

    async def hangup(self, channel: Channel, cause: HangupCause) -> None:
        return None


def parse_eval_arguments(text: str) -> tuple[dict[str, str], str]:
    """``--set A=1 --set 'B=two words' TEXT`` -> ({"A": "1", "B": "two words"}, "TEXT")."""
    variables: dict[str, str] = {}
    rest = text
    while True:
        match = _SET_OPTION.match(rest)
        if match is None:
            break
        token = shlex.split(match.group(1))[0] if match.group(1)[0] in "'\"" else match.group(1)
        name, sep, value = token.partition("=")
        if not sep or not name:
            raise CliUsageError(f"--set needs VAR=VALUE, got '{token}'")
        variables[name] = value
        rest = rest[match.end():]
    rest = rest.lstrip(" ")
    if len(rest) >= 2 and rest[0] == "'" and rest[-1] == "'":
        rest = rest[1:-1]
    return variables, rest


class DialplanCommands:
    """The ``dialplan ...`` and ``core show application(s)/function(s)`` commands."""

    def __init__(self, executor: DialplanExecutor, reload: Callable[[], LoadResult]) -> None:
        self.executor = executor
        self.reload = reload
        self._jobs: set[asyncio.Future[HangupCause | None]] = set()

    def register(self, registry: CommandRegistry) -> None:
        """Add the commands to the console."""
        registry.register("dialplan show", self._show, "Show dialplan",
                          "Usage: dialplan show [[exten@]context]\n       Show dialplan")
        registry.register("dialplan reload", self._reload, "Reload extensions and *only* extensions",
                          "Usage: dialplan reload\n       Reloads the dialplan; a file with errors keeps the "
                          "running plan and reports them.")
        registry.register("dialplan eval", self._eval, "Substitute and evaluate text on a scratch channel",
                          "Usage: dialplan eval [--set VAR=VALUE ...] TEXT\n"
                          "       Prints TEXT after ${...}, $[...] and function substitution, on one line.")
        registry.register("channel originate", self._originate, "Originate a call",
                          "Usage: channel originate <tech/data> application <appname> [appdata]\n"
                          "       channel originate <tech/data> extension [exten@][context]\n"
                          "       Calls tech/data; when it answers, runs the application on it or sends it "
                          "into the dialplan.")
        registry.register("core show applications", self._applications, "Shows registered dialplan applications",
                          "Usage: core show applications [like <text>]")
        registry.register("core show application", self._application, "Describe a specific dialplan application",
                          "Usage: core show application <application>")
        registry.register("core show functions", self._functions, "Shows registered dialplan functions",
                          "Usage: core show functions [like <text>]")
        registry.register("core show function", self._function, "Describe a specific dialplan function",
                          "Usage: core show function <function>")

    def _show(self, request: CliRequest) -> str:
        if len(request.args) > 1:
            raise CliUsageError()
        index = self.executor.index
        if index is None:
            return "There is no dialplan loaded."
        from core.dialplan.show import render_show  # loaded with the first 'dialplan show'

        return render_show(index.dialplan, request.args[0] if request.args else None).rstrip("\n")

    def _reload(self, request: CliRequest) -> str:
        try:
            result = self.reload()
        except Exception as exc:  # DialplanSyntaxError and I/O errors: keep the running plan
            log.error("dialplan reload failed: %s", exc)
            raise CliCommandFailed(f"Dialplan reload failed, the running dialplan is unchanged:\n{exc}") from None
        self.executor.load(result.dialplan)
        lines = [str(w) for w in result.warnings]
        lines.append("Dialplan reloaded.")
        return "\n".join(lines)

    async def _eval(self, request: CliRequest) -> str:
        words = request.command.words
        raw = request.line.strip()
        # Take the text after the command's own words verbatim (the console split it for matching only).
        position = 0
        for word in words:
            position = raw.lower().index(word, position) + len(word)
        variables, text = parse_eval_arguments(raw[position:])
        channel = Channel(name="Eval/dialplan-eval", uniqueid="0.0", driver=_ScratchDriver(), resource="eval",
                          direction=Direction.INBOUND, bus=EventBus(), clock=lambda: 0.0,
                          caller=CallerId(), context="default", exten="s", state=ChannelState.UP)
        channel.variables.update(variables)
        context = CallContext(self.executor, channel)
        result = context.substitute(text)
        return result.replace("\r", "\\r").replace("\n", "\\n")

    def _originate(self, request: CliRequest) -> str:
        args = request.args
        if len(args) < 2 or args[1].lower() not in ("application", "extension"):
            raise CliUsageError()
        destination, mode = args[0], args[1].lower()
        if mode == "application":
            if len(args) < 3:
                raise CliUsageError()
            if self.executor.applications.get(args[2]) is None:
                return f"No such application '{args[2]}'"
            job = self.originate(destination, application=args[2], data=" ".join(args[3:]))
        else:
            target = args[2] if len(args) > 2 else ""
            exten, at, context = target.partition("@")
            job = self.originate(destination, exten=exten or "s", context=(context if at else "") or "default")
        task = asyncio.ensure_future(job)
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)
        return ""

    async def originate(self, destination: str, *, application: str | None = None, data: str = "",
                        exten: str = "s", context: str = "default", timeout: float = 30.0) -> HangupCause | None:
        """Call ``destination``; when it answers run ``application`` on it, or ``exten@context``.

        Returns the cause the call ended with (None if it never existed).
        """
        pbx = self.executor.pbx
        try:
            leg = await pbx.request(destination)
            await leg.call(timeout=timeout)
        except ChannelUnavailable as exc:
            log.warning("Unable to request channel %s: %s", destination, exc)
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while leg.state is not ChannelState.UP:
            event = await leg.next_event(max(0.0, deadline - loop.time()))
            if event is None or isinstance(event, HungUp):
                await leg.hangup(HangupCause.NO_ANSWER if event is None else event.cause)
                return leg.hangup_cause
        if application is not None:
            app = self.executor.applications.get(application)
            assert app is not None
            context_ = CallContext(self.executor, leg)
            context_._task = asyncio.current_task()
            await self.executor.call_application(context_, app, context_.substitute(data))
            await leg.hangup(context_.pending_cause or HangupCause.NORMAL_CLEARING)
            return leg.hangup_cause
        leg.context, leg.exten, leg.priority = context, exten, 1
        await pbx.start_inbound(leg)
        return leg.hangup_cause

    def _applications(self, request: CliRequest) -> str:
        like = _like(request)
        apps = [a for a in self.executor.applications if like in a.name.lower()]
        header = "    -= Matching Asterisk Applications =-" if like else "    -= Registered Asterisk Applications =-"
        lines = [header] + [f"{a.name:>20}: {a.synopsis}" for a in apps]
        lines.append(f"    -= {len(apps)} Applications {'Matching' if like else 'Registered'} =-")
        return "\n".join(lines)

    def _application(self, request: CliRequest) -> str:
        if len(request.args) != 1:
            raise CliUsageError()
        app = self.executor.applications.get(request.args[0])
        if app is None:
            return f"Your application {request.args[0]} was not found"
        doc = (app.handler.__doc__ or "").strip()
        return f"  -= Info about Application '{app.name}' =-\n\n[Synopsis]\n{app.synopsis}\n\n[Description]\n{doc}"

    def _functions(self, request: CliRequest) -> str:
        like = _like(request)
        functions = [f for f in all_functions() if like in f.name.lower()]
        lines = [f"{'Matching' if like else 'Installed'} Custom Functions:",
                 "-" * 80]
        lines += [f"{f.name:<20.20} {f.synopsis}" for f in functions]
        lines.append(f"{len(functions)} {'matching' if like else 'installed'} custom functions.")
        return "\n".join(lines)

    def _function(self, request: CliRequest) -> str:
        if len(request.args) != 1:
            raise CliUsageError()
        function = get_function(request.args[0])
        if function is None:
            return "No function by that name registered."
        modes = "read" + ("/write" if function.write is not None else "") if function.read is not None else "write"
        return f"  -= Info about function '{function.name}' =-\n\n[Synopsis]\n{function.synopsis}\n\n[Access]\n{modes}"


def _like(request: CliRequest) -> str:
    if not request.args:
        return ""
    if len(request.args) == 2 and request.args[0].lower() == "like":
        return request.args[1].lower()
    raise CliUsageError()
