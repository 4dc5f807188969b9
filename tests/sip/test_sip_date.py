"""The Date header of registrar responses (RFC 3261 §20.17, RFC 1123 form), independent of the locale."""

from __future__ import annotations

from email.utils import formatdate

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.sip.registrar import http_date


@pytest.mark.parametrize(("wallclock", "expected"), [
    (0.0, "Thu, 01 Jan 1970 00:00:00 GMT"),
    (784111777.0, "Sun, 06 Nov 1994 08:49:37 GMT"),  # RFC 1123's own example date (RFC 2616 §3.3.1)
    (951782400.5, "Tue, 29 Feb 2000 00:00:00 GMT"),
])
def test_known_dates(wallclock: float, expected: str) -> None:
    assert http_date(wallclock) == expected


@given(st.integers(min_value=0, max_value=4_102_444_800), st.integers(min_value=0, max_value=999))
def test_the_same_as_the_standard_library(seconds: int, milliseconds: int) -> None:
    # (to the millisecond: the standard library rounds to the microsecond first, the header truncates)
    wallclock = seconds + milliseconds / 1000
    assert http_date(wallclock) == formatdate(wallclock, usegmt=True)
