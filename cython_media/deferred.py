"""DSP objects that come into being with the first frame that carries a signal.

An idle gateway's lines, and the simulated phones and exchange lines of its default board, carry digital
silence (or G.711 idle codes a few steps from zero) nearly all the time.  The detectors that watch them
(DTMF, caller-ID FSK, call-progress tones) and the echo cancellers of the lines are wrapped here so that
they are created, and spandsp/speexdsp with their libraries loaded (about 2.5 MiB), only when audio above
:data:`QUIET_PEAK` first arrives.  Nothing is lost: no tone, digit or FSK burst fits below -54 dBm0 peak,
and the frames skipped before creation are added to the sample counts of the events the detector reports
(``DtmfEvent.start``, ``ToneEvent.sample``), so callers see the same clock as with an eager detector.
"""

from __future__ import annotations

import dataclasses
import sys
from array import array
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

QUIET_PEAK = 64
"""Largest sample magnitude (16-bit) of a frame that counts as no signal: -54 dBm0 peak."""


class Feeds(Protocol):
    """A detector: ``feed(frame)`` returns what it recognised in that frame."""

    def feed(self, frame: bytes) -> list[Any]: ...


class Cancels(Protocol):
    """An echo canceller: ``cancel(near, far)`` returns ``near`` without the echo of ``far``."""

    def cancel(self, near: bytes, far: bytes) -> bytes: ...

    def reset(self) -> None: ...


D = TypeVar("D", bound=Feeds)
E = TypeVar("E", bound=Cancels)


def quiet(frame: bytes) -> bool:
    """Whether a frame of 16-bit linear audio carries nothing a detector could recognise."""
    if frame.count(0) == len(frame):
        return True
    samples = array("h")
    samples.frombytes(frame[:len(frame) & ~1])
    if sys.byteorder != "little":
        samples.byteswap()
    return max(samples) <= QUIET_PEAK and min(samples) >= -QUIET_PEAK


def _rebased(event: Any, skipped: int) -> Any:
    """The event with the samples skipped before the detector existed added to its sample count."""
    if dataclasses.is_dataclass(event) and not isinstance(event, type):
        for name in ("start", "sample"):
            if hasattr(event, name):
                return dataclasses.replace(event, **{name: getattr(event, name) + skipped})
    return event


class DeferredDetector(Generic[D]):
    """``factory()`` made at the first frame that is not :func:`quiet`; quiet frames before that give
    nothing (what the detector would have given them)."""

    __slots__ = ("_factory", "_skipped", "real")

    def __init__(self, factory: Callable[[], D]) -> None:
        self._factory = factory
        self._skipped = 0
        self.real: D | None = None

    def feed(self, frame: bytes) -> list[Any]:
        real = self.real
        if real is None:
            if quiet(frame):
                self._skipped += len(frame) // 2
                return []
            real = self.real = self._factory()
        events = real.feed(frame)
        if self._skipped and events:
            return [_rebased(event, self._skipped) for event in events]
        return events

    @property
    def held(self) -> Any:
        """A DTMF detector's digit being held (None before it exists)."""
        real = self.real
        return getattr(real, "held", None) if real is not None else None


class DeferredCanceller(Generic[E]):
    """An echo canceller made when either direction first carries a signal; before that the line's audio
    goes through untouched (there is no echo of silence to remove)."""

    __slots__ = ("_factory", "real")

    def __init__(self, factory: Callable[[], E]) -> None:
        self._factory = factory
        self.real: E | None = None

    def cancel(self, near: bytes, far: bytes) -> bytes:
        real = self.real
        if real is None:
            if quiet(near) and quiet(far):
                return near
            real = self.real = self._factory()
        return real.cancel(near, far)

    def reset(self) -> None:
        if self.real is not None:
            self.real.reset()


__all__ = ["QUIET_PEAK", "DeferredCanceller", "DeferredDetector", "quiet"]
