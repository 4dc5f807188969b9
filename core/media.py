"""The interface between call control and media (audio): what dialplan applications and bridges ask for.

The media engine (issue "Media engine": RTP, G.711, tones, file playback, DSP) implements
:class:`MediaEngine`.  Until a build has one, :class:`NoMediaEngine` answers every request with
:class:`MediaUnavailable`, so that media-bound applications fail clearly (an error in the log and
Asterisk's failure status variables) instead of pretending to have played something.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from core.channel import Channel


class MediaUnavailable(Exception):
    """The request needs audio this build or this channel cannot provide; the message says why."""


@dataclass(frozen=True, slots=True)
class PlaybackResult:
    """How a playback ended: ``digit`` is the DTMF digit that interrupted it, if one did."""

    digit: str | None = None
    completed: bool = True


@dataclass(frozen=True, slots=True)
class RecordResult:
    """How a recording ended: ``"DTMF"``, ``"SILENCE"``, ``"TIMEOUT"``, ``"HANGUP"`` or ``"ERROR"``."""

    status: str
    duration: float = 0.0


class MediaEngine(Protocol):
    """Audio services for channels (all coroutines end early when the channel hangs up)."""

    @property
    def available(self) -> bool:
        """False when this build has no media engine at all."""

    def sound_exists(self, name: str, language: str) -> bool:
        """Whether a prompt (``"vm-goodbye"``, ``"digits/5"``, a path) exists in some format."""

    async def play(self, channel: Channel, files: Sequence[str], *, interrupt_digits: str = "",
                   language: str = "en") -> PlaybackResult:
        """Play prompts in order; stop at the first of ``interrupt_digits`` pressed."""

    async def record(self, channel: Channel, path: str, *, silence_s: float = 0.0, max_s: float = 0.0,
                     terminators: str = "#", beep: bool = True) -> RecordResult:
        """Record the caller into ``path`` (the extension gives the format)."""

    async def echo(self, channel: Channel) -> None:
        """Send the channel's own audio back to it until it hangs up (``#`` ends it, as in Asterisk)."""

    async def conference(self, channel: Channel, room: str) -> str:
        """Put the channel in conference ``room`` (each party hears the others) until it leaves; the reason
        it left, as ``CONFBRIDGE_RESULT`` (``HANGUP``)."""

    async def milliwatt(self, channel: Channel, *, old_style: bool = False) -> None:
        """Send the 1004 Hz 0 dBm0 test tone until the channel hangs up (``old_style``: the 1000 Hz
        digital milliwatt of G.711 Table 5, Asterisk's ``Milliwatt(o)``)."""

    async def start_tones(self, channel: Channel, tones: str) -> None:
        """Start a tone list (``"!350+440/100,!0/100"`` or an indication name like ``"busy"``)."""

    async def stop_tones(self, channel: Channel) -> None:
        """Stop what :meth:`start_tones` started."""

    async def send_inband_dtmf(self, channel: Channel, digits: str, duration_ms: int) -> None:
        """Generate DTMF tones into the channel's audio."""


class NoMediaEngine:
    """The media engine of a build without one: every request fails with :class:`MediaUnavailable`."""

    REASON = "no media engine in this build (RTP, prompts and tones arrive with the media engine)"

    @property
    def available(self) -> bool:
        return False

    def sound_exists(self, name: str, language: str) -> bool:
        return False

    async def play(self, channel: Channel, files: Sequence[str], *, interrupt_digits: str = "",
                   language: str = "en") -> PlaybackResult:
        raise MediaUnavailable(self.REASON)

    async def record(self, channel: Channel, path: str, *, silence_s: float = 0.0, max_s: float = 0.0,
                     terminators: str = "#", beep: bool = True) -> RecordResult:
        raise MediaUnavailable(self.REASON)

    async def echo(self, channel: Channel) -> None:
        raise MediaUnavailable(self.REASON)

    async def conference(self, channel: Channel, room: str) -> str:
        raise MediaUnavailable(self.REASON)

    async def milliwatt(self, channel: Channel, *, old_style: bool = False) -> None:
        raise MediaUnavailable(self.REASON)

    async def start_tones(self, channel: Channel, tones: str) -> None:
        raise MediaUnavailable(self.REASON)

    async def stop_tones(self, channel: Channel) -> None:
        raise MediaUnavailable(self.REASON)

    async def send_inband_dtmf(self, channel: Channel, digits: str, duration_ms: int) -> None:
        raise MediaUnavailable(self.REASON)
