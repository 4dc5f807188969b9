"""Assembly of the call-handling core: AstDB, CDRs, the dialplan and its executor, Local channels.

Each piece with state on disk is a service (opened in ``start``, closed in ``stop``) so that it is
created after the data directory is locked and closed before it is released.
"""

from __future__ import annotations

import logging
import sqlite3

from core.apps import default_applications
from core.astdb import AstDb
from core.cdr import CdrEngine, CdrWriter, CsvCdrBackend, SqliteCdrBackend
from core.cdr.model import CdrOptions
from core.cli import CommandRegistry
from core.dialplan.cli import DialplanCommands
from core.dialplan.executor import DialplanExecutor
from core.dialplan.loader import LoadResult, load_dialplan
from core.dialplan.runtime import DialplanOptions
from core.dialplan.substitute import load_time_substituter
from core.events import EventBus
from core.local import LocalDriver
from core.pbx import Pbx
from firmware.config import Config, data_dir
from firmware.services import Service, ServiceStartError, describe_os_error

log = logging.getLogger("centralita.system")


def dialplan_options(config: Config) -> DialplanOptions:
    """The executor's switches from the configuration."""
    return DialplanOptions(allow_system=config.dialplan.allow_system, allow_exec_include=config.dialplan.allow_exec,
                           system_name=config.system.name)


def load_configured_dialplan(config: Config) -> LoadResult:
    """Load ``dialplan.file`` as configured (raises DialplanSyntaxError, OSError)."""
    return load_dialplan(config.dialplan.file, allow_exec=config.dialplan.allow_exec,
                         substitute=load_time_substituter(dialplan_options(config)))


class Telephony:
    """The switch with its dialplan executor, Local channels, AstDB and CDR engine."""

    def __init__(self, config: Config, bus: EventBus, pbx: Pbx, registry: CommandRegistry,
                 initial: LoadResult) -> None:
        self.config = config
        self.bus = bus
        self.pbx = pbx
        self.registry = registry
        self.initial = initial
        self.astdb: AstDb | None = None
        self.cdr: CdrEngine | None = None
        self.executor = DialplanExecutor(pbx, bus, default_applications(), options=dialplan_options(config))
        pbx.runner = self.executor
        pbx.register_driver(LocalDriver(pbx, exists=self._exists))
        DialplanCommands(self.executor, reload=lambda: load_configured_dialplan(config)).register(registry)

    def _exists(self, context: str, exten: str) -> bool:
        index = self.executor.index
        return index is not None and index.exists(context, exten, 1)

    def services(self) -> list[Service]:
        """The services to start, in order: AstDB, CDRs, then the dialplan."""
        return [AstDbService(self), CdrService(self), DialplanService(self)]


class AstDbService:
    """Opens ``<data_dir>/astdb.sqlite`` and adds the ``database`` console commands."""

    name = "astdb"

    def __init__(self, telephony: Telephony) -> None:
        self.telephony = telephony

    async def start(self) -> None:
        t = self.telephony
        path = data_dir(t.config) / "astdb.sqlite"
        try:
            t.astdb = AstDb(path)
        except (OSError, sqlite3.Error) as exc:
            raise ServiceStartError(f"cannot open {path}: {_reason(exc)}") from None
        t.astdb.register_commands(t.registry)
        t.executor.astdb = t.astdb

    async def stop(self) -> None:
        t = self.telephony
        if t.astdb is not None:
            t.astdb.close()
            t.astdb = None


class CdrService:
    """The CDR engine with its Master.csv and SQLite backends (``[cdr]``)."""

    name = "cdr"

    def __init__(self, telephony: Telephony) -> None:
        self.telephony = telephony
        self.writer: CdrWriter | None = None
        self.backend_names: list[str] = []
        telephony.registry.register("cdr show status", self._cli_status, "Display the CDR status")

    def _cli_status(self, _request: object) -> str:
        """``cdr show status`` laid out as Asterisk's ``handle_cli_status``, plus the records written."""
        settings = self.telephony.config.cdr
        yes_no = {True: "Yes", False: "No"}
        lines = ["", "Call Detail Record (CDR) settings", "----------------------------------",
                 f"  Logging:                    {'Enabled' if settings.enabled else 'Disabled'}"]
        if settings.enabled:
            writer = self.writer
            lines += [
                "  Mode:                       Simple (group commit)",
                "  Log calls by default:       Yes",
                f"  Log unanswered calls:       {yes_no[settings.unanswered]}",
                f"  Log congestion:             {yes_no[settings.congestion]}",
                f"  Records written:            {writer.written if writer else 0}",
                f"  Records pending:            {writer.pending if writer else 0}",
                f"  Records failed:             {writer.failed if writer else 0}",
                "", "* Registered Backends", "  -------------------",
                *(f"    {name}" for name in self.backend_names),
            ]
        return "\n".join(lines)

    async def start(self) -> None:
        t = self.telephony
        settings = t.config.cdr
        if not settings.enabled:
            return
        base = data_dir(t.config)
        backends: list[CsvCdrBackend | SqliteCdrBackend] = []
        try:
            if settings.csv:
                backends.append(CsvCdrBackend(base / "cdr-csv", usegmtime=settings.usegmtime))
            if settings.sqlite:
                backends.append(SqliteCdrBackend(base / "cdr.sqlite", usegmtime=settings.usegmtime))
        except (OSError, sqlite3.Error) as exc:
            raise ServiceStartError(f"cannot open the CDR files in {base}: {_reason(exc)}") from None
        options = CdrOptions(enabled=True, unanswered=settings.unanswered, congestion=settings.congestion,
                             end_before_h_exten=settings.endbeforehexten,
                             initiated_seconds=settings.initiatedseconds)
        # The backends fsync; the writer thread does it for batches, off the event loop.
        self.writer = CdrWriter(backends)
        self.backend_names = [backend.name for backend in backends]
        t.cdr = CdrEngine(t.bus, t.pbx.channel_named, [self.writer], options=options,
                          runs_hangup_logic=lambda name: t.executor.context_of(name) is not None)
        t.executor.cdr_engine = t.cdr

    async def stop(self) -> None:
        t = self.telephony
        if t.cdr is not None:
            t.cdr.close()
            t.cdr = None


class DialplanService:
    """Puts the dialplan loaded (and checked) before start-up into effect."""

    name = "dialplan"

    def __init__(self, telephony: Telephony) -> None:
        self.telephony = telephony

    async def start(self) -> None:
        t = self.telephony
        t.executor.load(t.initial.dialplan)
        plan = t.initial.dialplan
        log.info("dialplan %s: %d contexts, %d extensions, %d priorities", t.config.dialplan.file,
                 len(plan.contexts), plan.extension_count, plan.priority_count)

    async def stop(self) -> None:
        return None


def _reason(exc: BaseException) -> str:
    return describe_os_error(exc) if isinstance(exc, OSError) else str(exc)
