"""The ``centralita`` command: ``run``, ``check-config`` and ``console``."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from firmware import __version__

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="centralita",
        description="centralita: telephony gateway and small PBX (FXS/FXO/E1, SIP, IAX2, Asterisk dialplan)",
    )
    parser.add_argument("--version", action="version", version=f"centralita {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the gateway in the foreground")
    _config_options(run)
    run.add_argument("--control", metavar="PATH", help="unix socket of the console (control.socket)")
    run.add_argument("--console", metavar="DEVICE", help="serve the console on a UART or pty (console.device)")
    run.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="log.level")

    check = sub.add_parser("check-config", help="validate a configuration and its dialplan; exit 0 or 2")
    check.add_argument("file", nargs="?", type=Path, help="TOML file (default: the embedded default)")
    check.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a key, e.g. --set sip.port=5070 (repeatable)")

    console = sub.add_parser("console", help="talk to a running gateway")
    _config_options(console)
    console.add_argument("--control", metavar="PATH", help="unix socket of the running gateway")
    console.add_argument("-c", "--command", help="run one command, print its output and exit")
    return parser


def _config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE", help="TOML file (default: the embedded default)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a key, e.g. --set sip.port=5070 (repeatable)")


def _load(path: Path | None, overrides: Sequence[str], *, dialplan: bool = True) -> Any:
    from firmware.boards import load_profile
    from firmware.config import ConfigError, load_config

    try:
        config = load_config(path, overrides)
        board = load_profile(config.board.profile)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return None
    if not dialplan:
        return config, board, None
    loaded = _load_dialplan(config)
    if loaded is None:
        return None
    return config, board, loaded


def _load_dialplan(config: Any) -> Any:
    """Load and check the dialplan: errors (and Asterisk's load-time errors) stop start-up."""
    from core.dialplan.config_parser import DialplanSyntaxError
    from firmware.telephony import load_configured_dialplan

    try:
        result = load_configured_dialplan(config)
    except DialplanSyntaxError as exc:
        print(exc, file=sys.stderr)
        return None
    except OSError as exc:
        print(f"{config.dialplan.file}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return None
    # What Asterisk only logs (even at ERROR level, e.g. a broken file it includes) does not stop it from
    # loading the rest, so it does not stop us either: it is printed, and the plan loads as Asterisk's would.
    for diagnostic in result.warnings:
        kind = "error" if diagnostic.severity == "error" else "warning"
        print(f"{diagnostic.file}:{diagnostic.line}: {kind}: {diagnostic.message}", file=sys.stderr)
    return result


def _run_loop(main: Coroutine[Any, Any, int]) -> int:
    if os.environ.get("CENTRALITA_LOOP", "") != "asyncio":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return int(uvloop.run(main))
    return asyncio.run(main)


def cmd_run(args: argparse.Namespace, started_at: float) -> int:
    overrides = list(args.overrides)
    if args.control:
        overrides.append(f"control.socket={_toml_string(args.control)}")
    if args.console:
        overrides.append(f"console.device={_toml_string(args.console)}")
    if args.log_level:
        overrides.append(f"log.level={args.log_level}")
    loaded = _load(args.config, overrides)
    if loaded is None:
        return EXIT_CONFIG
    config, board, dialplan = loaded
    from firmware import logsetup
    from firmware.app import Gateway

    logsetup.configure(config.log.level, config.log.format)
    interactive = sys.stdin.isatty() and not config.console.device
    gateway = Gateway(config, board, dialplan, started_at=started_at, console_on_stdin=interactive)
    _tune_gc()
    return _run_loop(gateway.run())


def _tune_gc() -> None:
    """Make the cyclic garbage collector cheap for a gateway's workload (Python docs, ``gc.freeze`` and
    ``gc.set_threshold``).  Everything loaded so far (modules, configuration, dialplan) lives as long as the
    process: frozen, it is never traversed again.  Each call allocates a few hundred container objects that
    live for the tens of seconds its transactions last, so the default young-generation threshold (700)
    made the collector re-traverse them hundreds of times a second (10 % of the CPU at 200 calls/s);
    collecting every 10,000 allocations costs a third of that and holds at most a few MB of garbage."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 100)


def cmd_check_config(args: argparse.Namespace) -> int:
    from firmware.config import DEFAULT_CONFIG

    loaded = _load(args.file, args.overrides)
    if loaded is None:
        return EXIT_CONFIG
    config, _board, result = loaded
    plan = result.dialplan
    print(f"{args.file or DEFAULT_CONFIG}: configuration OK")
    print(f"{config.dialplan.file}: dialplan OK ({len(plan.contexts)} contexts, {plan.extension_count} extensions, "
          f"{plan.priority_count} priorities)")
    return 0


def cmd_console(args: argparse.Namespace) -> int:
    from firmware.control_client import run_console

    if args.control:
        return run_console(Path(args.control), args.command, "centralita*CLI> ")
    loaded = _load(args.config, args.overrides, dialplan=False)
    if loaded is None:
        return EXIT_CONFIG
    config, _board, _dialplan = loaded
    from firmware.config import control_socket_path

    return run_console(control_socket_path(config), args.command, f"{config.system.name}*CLI> ")


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``centralita`` console script."""
    started_at = time.monotonic()
    args = _parser().parse_args(argv)
    if args.command == "run":
        return cmd_run(args, started_at)
    if args.command == "check-config":
        return cmd_check_config(args)
    return cmd_console(args)


if __name__ == "__main__":
    sys.exit(main())
