"""The documentation keeps up with the code: every configuration key and console command is described."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

from firmware.config.schema import Config
from tests.support import REPO

DOCS = REPO / "docs"


def schema_keys(cls: type, prefix: str = "") -> list[str]:
    keys = []
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        tp = hints[field.name]
        args = typing.get_args(tp)
        inner = args[0] if typing.get_origin(tp) is list and args else tp
        if dataclasses.is_dataclass(inner):
            keys.append(prefix + field.name)
            keys.extend(schema_keys(inner, f"{prefix}{field.name}."))  # type: ignore[arg-type]
        else:
            keys.append(prefix + field.name)
    return keys


def test_every_configuration_key_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = []
    for key in schema_keys(Config):
        section, _, name = key.rpartition(".")
        if not section:
            continue  # top-level tables are headings
        leaf_section = section.split(".")[-1]
        documented = f"`{name}`" in text and (f"[{section}]" in text or f"[[{section}]]" in text
                                               or f"[{leaf_section}]" in text)
        if not documented:
            missing.append(key)
    assert missing == []


def test_every_core_console_command_is_documented() -> None:
    from firmware.app import Gateway
    from firmware.boards import load_profile
    from firmware.config import load_config
    from firmware.telephony import load_configured_dialplan

    config = load_config()
    gateway = Gateway(config, load_profile("sim-2fxs-2fxo"), load_configured_dialplan(config))
    gateway._assemble()  # registers every subsystem's commands, starts nothing
    text = (DOCS / "console.md").read_text()
    missing = [c.text for c in gateway.registry.commands if f"`{c.text}" not in text]
    assert missing == []


def test_readme_has_the_two_quickstart_commands_and_ci_runs_the_test_one() -> None:
    readme = (REPO / "README.md").read_text()
    assert "./dev.sh run" in readme and "./dev.sh test" in readme
    ci = [line for line in (REPO / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci[-1] == "exec ./dev.sh test"


def test_docs_named_in_the_readme_exist() -> None:
    readme = (REPO / "README.md").read_text()
    for name in ("architecture", "configuration", "console", "operations", "testing"):
        assert f"docs/{name}.md" in readme
        assert Path(DOCS / f"{name}.md").is_file()
