"""Fixtures for the whole suite."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support import GatewayProcess


@pytest.fixture
def gateway_factory() -> Iterator[Callable[..., GatewayProcess]]:
    """Start ``centralita run`` processes (``factory(*args, env=...)``); all are cleaned up."""
    started: list[GatewayProcess] = []

    def factory(*args: str, env: dict[str, str] | None = None, wait_ready: bool = True) -> GatewayProcess:
        gateway = GatewayProcess(*args, env=env)
        started.append(gateway)
        return gateway.start(wait_ready=wait_ready)

    yield factory
    for gateway in started:
        gateway.cleanup()


@pytest.fixture
def gateway(gateway_factory: Callable[..., GatewayProcess]) -> GatewayProcess:
    """One gateway on the embedded default configuration, ready."""
    return gateway_factory()
