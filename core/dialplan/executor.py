"""Running a channel through the dialplan, as Asterisk's ``__ast_pbx_run`` does.

The executor takes an inbound channel at its context/extension/priority and runs priority after priority:
each priority's data is substituted (``${...}``, ``$[...]``), its application runs, and the next priority
follows when the application returns 0.  An application that returns -1 ends the call; one that returns
a digit (``Background``, ``WaitExten``) starts digit collection for a new extension.  When an extension
runs out of priorities Asterisk's ``autofallthrough`` hangs up (with busy or congestion if ``DIALSTATUS``
says so); unknown extensions go to ``i``, digit timeouts to ``t``, absolute timeouts to ``T``, and
``e`` catches all three when present.  After the call the ``h`` extension runs.

Applications receive a :class:`CallContext`, which is also the :class:`~core.dialplan.runtime.EvalContext`
that substitution and the dialplan functions use.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

from core.causes import HangupCause
from core.channel import Channel, DigitReceived, HungUp
from core.dialplan.args import scan_int_value
from core.dialplan.lookup import DialplanIndex
from core.dialplan.model import Dialplan
from core.dialplan.runtime import AstDbAccess, CdrAccess, CdrControl, DialplanOptions, GosubFrame
from core.dialplan.substitute import substitute
from core.events import EventBus, NewExtension
from core.media import MediaEngine, MediaUnavailable, NoMediaEngine

if TYPE_CHECKING:
    from core.pbx import Pbx

log = logging.getLogger("centralita.dialplan")

AppResult = Union[int, str]
"""0: go on; -1: end the call; a DTMF digit: the caller started dialling a new extension."""

CONTINUE = 0
HANGUP = -1

YIELD_EVERY = 32
"""Priorities run back to back before the executor lets other calls have the event loop."""

AppHandler = Callable[["CallContext", str], Awaitable[AppResult]]


@dataclass(frozen=True, slots=True)
class Application:
    """A dialplan application: its name (matched case-insensitively), code and one-line synopsis."""

    name: str
    handler: AppHandler
    synopsis: str = ""


class ApplicationRegistry:
    """Applications by name, case-insensitively (``answer()`` runs ``Answer``)."""

    def __init__(self) -> None:
        self._apps: dict[str, Application] = {}

    def register(self, name: str, handler: AppHandler, synopsis: str = "") -> None:
        """Add an application; a second registration of the same name replaces the first."""
        self._apps[name.lower()] = Application(name, handler, synopsis)

    def get(self, name: str) -> Application | None:
        """The application called ``name``, if any."""
        return self._apps.get(name.lower())

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(sorted(self._apps.values(), key=lambda a: a.name.lower()))

    def __len__(self) -> int:
        return len(self._apps)


@dataclass(slots=True)
class Timeouts:
    """``TIMEOUT(digit|response|absolute)``: seconds (Asterisk's defaults: 5 s and 10 s)."""

    digit: float = 5.0
    response: float = 10.0
    absolute_deadline: float | None = None  # monotonic time at which the call is cut (``T``)


class SoftHangup(Exception):
    """Raised into a running application when the call is redirected or its time is up."""


class CallContext:
    """The state of one channel running the dialplan (Asterisk's ``chan->pbx`` plus the Gosub stack)."""

    def __init__(self, executor: DialplanExecutor, channel: Channel) -> None:
        self.executor = executor
        self._channel = channel
        self.frames: list[GosubFrame] = []
        self.timeouts = Timeouts()
        self.pending_cause: HangupCause | None = None
        self.async_goto: tuple[str, str, int] | None = None
        self.absolute_timeout_fired = False
        self.loops: dict[str, str] = {}
        self.macro_depth = 0
        self.exception: str | None = None
        self.in_hangup_handler = False
        self._task: asyncio.Task[object] | None = None
        self._in_app = False
        self._interrupts = 0
        self._timer: asyncio.TimerHandle | None = None

    # -- EvalContext ----------------------------------------------------------------------------------

    @property
    def channel(self) -> Channel:
        return self._channel

    @property
    def dialplan(self) -> Dialplan | None:
        index = self.executor.index
        return index.dialplan if index is not None else None

    @property
    def globals(self) -> MutableMapping[str, str]:
        return self.executor.globals

    @property
    def local_frame(self) -> GosubFrame | None:
        return self.frames[-1] if self.frames else None

    @property
    def cdr(self) -> CdrAccess | None:
        engine = self.executor.cdr_engine
        return engine.current(self._channel.name) if engine is not None else None

    @property
    def astdb(self) -> AstDbAccess | None:
        return self.executor.astdb

    @property
    def options(self) -> DialplanOptions:
        return self.executor.options

    def wallclock(self) -> float:
        return self.executor.wallclock()

    def interrupt(self) -> None:
        """Stop the running application now (a redirect or timeout was set); the loop then acts on it."""
        if self._in_app and self._task is not None and not self._task.done():
            self._interrupts += 1
            self._task.cancel()

    # -- helpers for applications ---------------------------------------------------------------------

    @property
    def pbx(self) -> Pbx:
        """The switch (for ``Dial``, ``SoftHangup``, ...)."""
        return self.executor.pbx

    @property
    def media(self) -> MediaEngine:
        """The media engine (or the one that refuses everything)."""
        return self.executor.media

    @property
    def index(self) -> DialplanIndex:
        """The dialplan lookup in effect."""
        index = self.executor.index
        if index is None:
            raise RuntimeError("no dialplan loaded")
        return index

    @property
    def caller_number(self) -> str:
        """The caller ID number used for caller-ID matched extensions."""
        return self._channel.caller.number

    def substitute(self, text: str) -> str:
        """``${...}``/``$[...]`` substitution in this call's context."""
        return substitute(text, self) if "$" in text else text

    def exists(self, context: str, exten: str, priority: int = 1) -> bool:
        """``ast_exists_extension`` for this caller, now."""
        executor = self.executor
        index = executor.index  # the index property and DialplanIndex.exists written out: asked on every call
        if index is None:
            raise RuntimeError("no dialplan loaded")
        return index.find_priority(context, exten, priority, self._channel.caller.number,
                                   executor.wallclock()) is not None

    def set_position(self, context: str | None, exten: str | None, priority: int) -> None:
        """``ast_explicit_goto``: the next priority to run is ``priority`` (the loop adds one afterwards)."""
        channel = self._channel
        if context:
            channel.context = context
        if exten:
            channel.exten = exten
        channel.priority = priority - 1

    def parseable_goto(self, target: str) -> bool:
        """``Goto``-style ``[[context,]exten,]priority`` with labels and ``+n``/``-n``; False if invalid.

        Follows ``ast_parseable_goto``: the priority is a number, a relative ``+n``/``-n``, or a label
        looked up in the target extension.
        """
        parts = target.split(",")
        context: str | None
        exten: str | None
        if len(parts) == 1:
            context, exten, priority_text = None, None, parts[0]
        elif len(parts) == 2:
            context, exten, priority_text = None, parts[0], parts[1]
        else:
            context, exten, priority_text = parts[0], parts[1], ",".join(parts[2:])
        priority_text = priority_text.strip()
        mode = 0
        if priority_text.startswith("+"):
            mode, priority_text = 1, priority_text[1:]
        elif priority_text.startswith("-"):
            mode, priority_text = -1, priority_text[1:]
        number = scan_int_value(priority_text)
        if number is None:
            label = self.index.find_label(context or self._channel.context, exten or self._channel.exten,
                                          priority_text, self.caller_number, self.wallclock())
            if label is None or label < 1:
                log.warning("Priority '%s' must be a number > 0, or valid label", priority_text)
                return False
            number, mode = label, 0
        if mode:
            number = self._channel.priority + number * mode
        self.set_position(context, exten, number)
        return True

    def set_hangup_cause(self, cause: HangupCause) -> None:
        """The cause the call will end with when the executor hangs it up (``Hangup(17)``, ``Busy``)."""
        self.pending_cause = cause

    async def wait(self, seconds: float | None) -> bool:
        """Sleep ``seconds`` (forever when None) discarding digits; False if the caller hung up."""
        loop = asyncio.get_running_loop()
        deadline = None if seconds is None else loop.time() + seconds
        while True:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return not self._channel.is_hungup
            event = await self._channel.next_event(remaining)
            if isinstance(event, HungUp):
                return False

    async def wait_digit(self, seconds: float | None) -> str | None | bool:
        """The next DTMF digit within ``seconds``: the digit, None on timeout, False on hang-up."""
        loop = asyncio.get_running_loop()
        deadline = None if seconds is None else loop.time() + seconds
        while True:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return None
            event = await self._channel.next_event(remaining)
            if event is None:
                return None
            if isinstance(event, HungUp):
                return False
            if isinstance(event, DigitReceived):
                return event.digit

    async def run_application(self, name: str, data: str) -> AppResult:
        """Run another application from inside one (``ExecIf``, ``Macro``), data already substituted."""
        app = self.executor.applications.get(name)
        if app is None:
            log.warning("Could not find application (%s)", name)
            return HANGUP
        return await self.executor.call_application(self, app, data)


class DialplanExecutor:
    """Runs inbound channels through the loaded dialplan; the :class:`~core.pbx.Pbx`'s runner."""

    def __init__(
        self,
        pbx: Pbx,
        bus: EventBus,
        applications: ApplicationRegistry,
        *,
        media: MediaEngine | None = None,
        cdr_engine: CdrControl | None = None,
        astdb: AstDbAccess | None = None,
        options: DialplanOptions | None = None,
        wallclock: Callable[[], float] = time.time,
    ) -> None:
        self.pbx = pbx
        self.bus = bus
        self.applications = applications
        self.media: MediaEngine = media or NoMediaEngine()
        self.cdr_engine = cdr_engine
        self.astdb = astdb
        self.options = options or DialplanOptions()
        self.wallclock = wallclock
        self.index: DialplanIndex | None = None
        self.globals: dict[str, str] = {}
        self.contexts: dict[str, CallContext] = {}

    def load(self, dialplan: Dialplan) -> None:
        """Put a (new) dialplan in effect; calls in progress continue on the new one, as in Asterisk.

        Globals are replaced on load (``clearglobalvars`` semantics are the loader's choice of what the
        new plan's ``[globals]`` contains).
        """
        self.index = DialplanIndex(dialplan)
        self.globals.clear()
        self.globals.update(dialplan.globals)

    def routable(self, context: str, exten: str, caller: str = "") -> str:
        """What an inbound call to ``exten`` in ``context`` would meet: ``"exists"``, ``"incomplete"``
        (more digits could match) or ``"unknown"`` -- what SIP answers 404/484 from."""
        index = self.index
        if index is None:
            return "unknown"
        now = self.wallclock()
        if index.exists(context, exten, 1, caller, now):
            return "exists"
        if index.can_match(context, exten, caller, now):
            return "incomplete"
        return "unknown"

    def context_of(self, channel_name: str) -> CallContext | None:
        """The running dialplan state of a channel (``SoftHangup``, redirects)."""
        return self.contexts.get(channel_name)

    # -- the main loop --------------------------------------------------------------------------------

    async def run(self, channel: Channel) -> None:
        """``__ast_pbx_run``: execute ``channel`` from its position until the call ends, then ``h``."""
        ctx = CallContext(self, channel)
        ctx._task = asyncio.current_task()
        self.contexts[channel.name] = ctx
        try:
            if self.index is None:
                log.warning("%s: no dialplan loaded", channel.name)
                ctx.set_hangup_cause(HangupCause.NORMAL_CIRCUIT_CONGESTION)
            else:
                await self._run_loop(ctx)
                if ctx.exists(channel.context, "h", 1):  # most contexts have none: no coroutine made then
                    await self._run_h_extension(ctx)
        finally:
            self.contexts.pop(channel.name, None)
            if ctx._timer is not None:
                ctx._timer.cancel()
            if channel.hangup_cause is None:  # often gone already: no coroutine made for a no-op hangup()
                await channel.hangup(ctx.pending_cause or HangupCause.NORMAL_CLEARING)
            if self.cdr_engine is not None:
                self.cdr_engine.hangup_logic_done(channel.name)

    def _resolve_start(self, ctx: CallContext) -> None:
        channel = ctx._channel
        if ctx.exists(channel.context, channel.exten, channel.priority):
            return
        log.info("Starting %s at %s,%s,%d failed so falling back to exten 's'",
                 channel.name, channel.context, channel.exten, channel.priority)
        channel.exten, channel.priority = "s", 1
        if not ctx.exists(channel.context, channel.exten, channel.priority):
            log.info("Starting %s at %s,%s,%d still failed so falling back to context 'default'",
                     channel.name, channel.context, channel.exten, channel.priority)
            channel.context = "default"

    async def _run_loop(self, ctx: CallContext) -> None:
        channel = ctx._channel
        self._resolve_start(ctx)
        autofallthrough = bool(getattr(self.index.dialplan if self.index else None, "autofallthrough", True))
        steps = 0
        while True:
            found = False
            result: AppResult = CONTINUE
            digits = ""
            error = False
            # Run priorities of the current extension while applications return 0.
            while True:
                if channel.hangup_cause is not None and not ctx.async_goto:  # is_hungup, per priority
                    error = True
                    break
                hit = self.index.find_priority(channel.context, channel.exten, channel.priority,  # type: ignore[union-attr]
                                               channel.caller.number, self.wallclock())
                if hit is None or hit.priority is None:
                    found = False
                    break
                found = True
                prepared = self._prepare_priority(ctx, hit.priority.app, hit.priority.data)
                result = HANGUP if prepared is None else await self.call_application(ctx, *prepared)
                if result != CONTINUE:
                    break
                if ctx.async_goto is not None:
                    self._take_async_goto(ctx)
                    continue
                if ctx.absolute_timeout_fired:
                    if self._enter_timeout_extension(ctx):
                        continue
                    error = True
                    break
                if channel.hangup_cause is not None:
                    error = True
                    break
                channel.priority += 1
                steps += 1
                if steps % YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # a plan looping on instant applications must not starve the others
            if error:
                return
            if found and result != CONTINUE:
                if isinstance(result, str):
                    digits = result
                elif ctx.async_goto is not None:
                    self._take_async_goto(ctx)
                    continue
                elif ctx.absolute_timeout_fired and not channel.is_hungup:
                    if self._enter_timeout_extension(ctx):
                        continue
                    return
                else:
                    if log.isEnabledFor(logging.DEBUG):
                        log.debug("Spawn extension (%s, %s, %d) exited non-zero on '%s'",
                                  channel.context, channel.exten, channel.priority, channel.name)
                    return
            # Here: the extension ran out of priorities, does not exist, or a digit was pressed.
            if not digits and not ctx.exists(channel.context, channel.exten, 1):
                if not self._enter_invalid(ctx, channel.exten):
                    return
                continue
            if digits:
                waittime = ctx.timeouts.digit
            elif not autofallthrough:
                waittime = ctx.timeouts.response
            else:
                waittime = 0.0
            if waittime <= 0:
                await self._autofallthrough(ctx)
                return
            collected = await self._collect_digits(ctx, waittime, digits)
            if collected is None:
                return  # hung up while collecting
            if collected and ctx.exists(channel.context, collected, 1):
                channel.exten, channel.priority = collected, 1
            elif collected:
                if not self._enter_invalid(ctx, collected):
                    return
            else:
                if ctx.exists(channel.context, "t", 1):
                    log.info("Timeout on %s", channel.name)
                    channel.exten, channel.priority = "t", 1
                elif ctx.exists(channel.context, "e", 1):
                    self._raise_exception(ctx, "RESPONSETIMEOUT")
                else:
                    log.warning("Timeout, but no rule 't' or 'e' in context '%s'", channel.context)
                    return

    async def _collect_digits(self, ctx: CallContext, waittime: float, digits: str) -> str | None:
        """``collect_digits``: read digits while more could still match; None if the caller hung up."""
        channel = ctx.channel
        while self.index is not None and self.index.match_more(channel.context, digits, ctx.caller_number,
                                                               self.wallclock()):
            digit = await ctx.wait_digit(waittime)
            if digit is False:
                return None
            if digit is None:
                break
            assert isinstance(digit, str)
            digits += digit
            waittime = ctx.timeouts.digit
        return digits

    def _enter_invalid(self, ctx: CallContext, exten: str) -> bool:
        channel = ctx.channel
        if ctx.exists(channel.context, "i", 1):
            log.info("Channel '%s' sent to invalid extension: context,exten,priority=%s,%s,%d",
                     channel.name, channel.context, exten, channel.priority)
            channel.variables["INVALID_EXTEN"] = exten
            channel.exten, channel.priority = "i", 1
            return True
        if ctx.exists(channel.context, "e", 1):
            self._raise_exception(ctx, "INVALID")
            return True
        log.warning("Channel '%s' sent to invalid extension but no invalid handler: "
                    "context,exten,priority=%s,%s,%d", channel.name, channel.context, exten, channel.priority)
        return False

    def _enter_timeout_extension(self, ctx: CallContext) -> bool:
        channel = ctx.channel
        ctx.absolute_timeout_fired = False
        if ctx.exists(channel.context, "T", 1):
            channel.exten, channel.priority = "T", 1
            return True
        if ctx.exists(channel.context, "e", 1):
            self._raise_exception(ctx, "ABSOLUTETIMEOUT")
            return True
        return False

    def _raise_exception(self, ctx: CallContext, reason: str) -> None:
        """``raise_exception``: remember the reason for ``EXCEPTION(reason)`` and go to ``e``."""
        channel = ctx.channel
        ctx.exception = reason
        channel.variables["EXCEPTION_REASON"] = reason
        from core.dialplan.functions.extras import extras  # noqa: PLC0415 - rare path

        extras(channel).exception = (reason, channel.context, channel.exten, channel.priority)
        channel.exten, channel.priority = "e", 1

    def _take_async_goto(self, ctx: CallContext) -> None:
        assert ctx.async_goto is not None
        context, exten, priority = ctx.async_goto
        ctx.async_goto = None
        channel = ctx.channel
        channel.context, channel.exten, channel.priority = context, exten, priority

    async def _autofallthrough(self, ctx: CallContext) -> None:
        channel = ctx.channel
        status = channel.variables.get("DIALSTATUS") or "UNKNOWN"
        log.info("Auto fallthrough, channel '%s' status is '%s'", channel.name, status)
        if status.upper() in ("CONGESTION", "CHANUNAVAIL"):
            await self.call_application(ctx, self._require("Congestion"), "10")
        elif status.upper() == "BUSY":
            await self.call_application(ctx, self._require("Busy"), "10")

    def _require(self, name: str) -> Application:
        app = self.applications.get(name)
        if app is None:
            raise RuntimeError(f"built-in application {name} is not registered")
        return app

    async def _run_h_extension(self, ctx: CallContext) -> None:
        """``ast_pbx_h_exten_run``: the ``h`` extension of the current context, after the call."""
        channel = ctx._channel
        if not ctx.exists(channel.context, "h", 1):
            return
        channel.exten, channel.priority = "h", 1
        ctx.in_hangup_handler = True
        await self.run_priorities(ctx)

    async def run_priorities(self, ctx: CallContext, *, until_return: bool = False) -> AppResult:
        """Run from the channel's position while applications return 0 and priorities exist.

        With ``until_return`` it also stops when the Gosub stack empties (a system-run subroutine
        returned).  The nested loops of ``h``, ``Macro`` and Dial's ``U`` option use this.
        """
        channel = ctx.channel
        while True:
            hit = self.index.find_priority(channel.context, channel.exten, channel.priority,  # type: ignore[union-attr]
                                           ctx.caller_number, self.wallclock())
            if hit is None or hit.priority is None:
                return CONTINUE
            prepared = self._prepare_priority(ctx, hit.priority.app, hit.priority.data)
            result = HANGUP if prepared is None else await self.call_application(ctx, *prepared)
            if until_return and not ctx.frames:
                return CONTINUE
            if result != CONTINUE:
                return result
            if channel.is_hungup and not ctx.in_hangup_handler:
                return CONTINUE
            channel.priority += 1

    async def run_subroutine(self, channel: Channel, target: str, args: list[str]) -> AppResult:
        """Run ``context,exten,priority`` as a Gosub on ``channel`` (not in a dialplan) until it returns.

        Dial's ``U`` option runs the called leg through a subroutine this way; ``Return`` ends the run.
        The channel's position is restored afterwards.
        """
        ctx = CallContext(self, channel)
        origin = (channel.context, channel.exten, channel.priority)
        parts = target.split(",")
        if len(parts) != 3 or not self.index or not ctx.exists(parts[0], parts[1], scan_int_value(parts[2]) or 1):
            log.error("Gosub attempted to reach non-existent destination '%s'", target)
            return HANGUP
        frame = GosubFrame(*origin, arg_count=len(args), special=True)
        for i, value in enumerate(args, 1):
            frame.localize(channel.variables, f"ARG{i}")
            channel.variables[f"ARG{i}"] = value
        frame.localize(channel.variables, "ARGC")
        channel.variables["ARGC"] = str(len(args))
        ctx.frames.append(frame)
        channel.context, channel.exten, channel.priority = parts[0], parts[1], scan_int_value(parts[2]) or 1
        try:
            return await self.run_priorities(ctx, until_return=True)
        finally:
            channel.context, channel.exten, channel.priority = origin

    # -- one priority ---------------------------------------------------------------------------------

    async def execute_priority(self, ctx: CallContext, app_name: str, raw_data: str) -> AppResult:
        """Substitute the data, publish ``NewExtension`` and run the application (``pbx_extension_helper``)."""
        prepared = self._prepare_priority(ctx, app_name, raw_data)
        if prepared is None:
            return HANGUP
        return await self.call_application(ctx, *prepared)

    def _prepare_priority(self, ctx: CallContext, app_name: str, raw_data: str) -> tuple[Application, str] | None:
        """What :meth:`execute_priority` does before running the application: None when there is no such
        application (already logged).  The executor's loops call this and then :meth:`call_application`
        themselves, one coroutine less around every application (each step of a call's task passes through
        every coroutine it is awaiting in)."""
        channel = ctx._channel
        app = self.applications.get(app_name)
        if app is None:
            log.warning("No application '%s' for extension (%s, %s, %d)",
                        app_name, channel.context, channel.exten, channel.priority)
            return None
        data = substitute(raw_data, ctx) if "$" in raw_data else raw_data  # ctx.substitute() written out
        channel.application, channel.app_data = app.name, data
        bus = self.bus
        if bus.active:
            bus.publish(NewExtension(channel.name, channel.uniqueid, channel.context, channel.exten,
                                     channel.priority, app.name, data))
        if log.isEnabledFor(logging.DEBUG):
            log.debug('Executing [%s@%s:%d] %s("%s", "%s")', channel.exten, channel.context, channel.priority,
                      app.name, channel.name, data)
        return app, data

    async def call_application(self, ctx: CallContext, app: Application, data: str) -> AppResult:
        """Run ``app``; a redirect or an absolute timeout interrupts it (:meth:`CallContext.interrupt`)."""
        outer = ctx._in_app
        ctx._in_app = True
        try:
            return await app.handler(ctx, data)
        except asyncio.CancelledError:
            if ctx._interrupts:
                ctx._interrupts -= 1
                task = asyncio.current_task()
                if task is not None and hasattr(task, "uncancel"):
                    task.uncancel()
                return HANGUP
            raise
        except MediaUnavailable as exc:
            log.error("%s: %s on %s", app.name, exc, ctx.channel.name)
            return HANGUP
        except Exception:
            log.exception("%s failed on %s", app.name, ctx.channel.name)
            return HANGUP
        finally:
            ctx._in_app = outer

    # -- asynchronous control (console, AMI, Transfer) ------------------------------------------------

    def async_goto(self, channel_name: str, context: str, exten: str, priority: int) -> bool:
        """Redirect a running channel (``ast_async_goto``): the current application is interrupted."""
        ctx = self.contexts.get(channel_name)
        if ctx is None:
            return False
        ctx.async_goto = (context, exten, priority)
        ctx.interrupt()
        return True

    def set_absolute_timeout(self, ctx: CallContext, seconds: float) -> None:
        """``TIMEOUT(absolute)=seconds``: 0 clears it; when it fires the call goes to ``T``."""
        if ctx._timer is not None:
            ctx._timer.cancel()
            ctx._timer = None
        if seconds <= 0:
            ctx.timeouts.absolute_deadline = None
            return
        loop = asyncio.get_running_loop()
        ctx.timeouts.absolute_deadline = loop.time() + seconds

        def fire() -> None:
            ctx.absolute_timeout_fired = True
            ctx.interrupt()

        ctx._timer = loop.call_later(seconds, fire)
