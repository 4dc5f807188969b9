"""Fixtures of the SIPp interop tests: SIPp phones pointed at the module's ``gateway``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.interop.sipp import Sipp
from tests.support import GatewayProcess


@pytest.fixture
def phones(gateway: GatewayProcess, tmp_path: Path) -> Iterator[Callable[[], Sipp]]:
    """``phones()`` makes a SIPp user agent aimed at the gateway's SIP port; all are stopped after the test."""
    made: list[Sipp] = []

    def make() -> Sipp:
        phone = Sipp(("127.0.0.1", gateway.sip_port), tmp_path)
        made.append(phone)
        return phone

    yield make
    for phone in made:
        phone.stop()
