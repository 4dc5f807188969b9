"""Configuration: one TOML file, validated against a typed schema before anything starts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from firmware.config.loader import DEFAULT_CONFIG, default_data_dir, load_document
from firmware.config.schema import Config
from firmware.config.typed import ConfigError, ConfigIssue

__all__ = [
    "DEFAULT_CONFIG",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "control_socket_path",
    "data_dir",
    "load_config",
]


def load_config(path: Path | None = None, overrides: Sequence[str] = ()) -> Config:
    """Load ``path`` (the embedded default when None) with ``--set`` overrides applied."""
    return load_document(Config, path or DEFAULT_CONFIG, overrides)


def data_dir(config: Config) -> Path:
    """The state directory in effect."""
    return config.system.data_dir or default_data_dir()


def control_socket_path(config: Config) -> Path:
    """The console's unix socket in effect."""
    return config.control.socket or data_dir(config) / "control.sock"
