"""The analog world outside the simulated chips, as electrical state: phones on FXS ports, lines on FXO ports.

There is no call logic here.  A :class:`Phone` is a hook switch, a DC resistance, a ringer load (REN), a
microphone and an earpiece; a :class:`CentralOfficeLine` is a battery behind a feed resistance, a polarity,
a ring generator and the far end's audio.  The chip models read this state whenever the driver touches a
register (so a change is seen at the next access, as a real chip samples its line), and exchange audio
with it as 16-bit linear samples at 8 kHz.  Later layers (the virtual phones and central offices that
dial, ring with cadences and send caller ID) drive these objects from tests and the console.

Electrical figures are typical ones, not measurements: a phone's off-hook DC resistance 150-300 ohm,
REN 1 ~ 7 kohm of ringer, central-office battery -48 V behind 2 x 200-400 ohm, ringing 40-90 Vrms at
16.7-50 Hz (hardware.md §1.8, §2.4-2.6).
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

AUDIO_HISTORY_SAMPLES = 8000 * 30
"""How many received samples a phone or line keeps (30 s at 8 kHz)."""


class AudioPort:
    """Both directions of audio at one analog interface, 16-bit linear at 8 kHz.

    ``speak`` queues samples the chip will digitise (what the phone's microphone or the far end says);
    ``heard`` keeps what the chip played out (what the earpiece or the far end hears), newest last.
    When nothing is queued the chip digitises silence.
    """

    def __init__(self) -> None:
        self._outgoing: deque[int] = deque()
        self.heard: deque[int] = deque(maxlen=AUDIO_HISTORY_SAMPLES)

    def speak(self, samples: array[int] | list[int]) -> None:
        """Queue linear samples to be sent into the chip, one per 125 us frame."""
        self._outgoing.extend(samples)

    def take(self, count: int) -> array[int]:
        """The next ``count`` samples to digitise (silence once the queue runs out)."""
        out = array("h", bytes(2 * count))
        queued = min(count, len(self._outgoing))
        for i in range(queued):
            out[i] = self._outgoing.popleft()
        return out

    @property
    def pending(self) -> int:
        """Samples queued and not yet digitised."""
        return len(self._outgoing)

    def hear(self, samples: array[int]) -> None:
        """Record samples the chip played out."""
        self.heard.extend(samples)

    def take_heard(self) -> array[int]:
        """Everything heard since the last call (and forget it)."""
        out = array("h", self.heard)
        self.heard.clear()
        return out


@dataclass(frozen=True, slots=True)
class FxsFeed:
    """What a phone sees on its two wires, as the ProSLIC model drives them.

    ``dc_voltage`` is tip-to-ring in volts (negative = forward polarity, the usual -48 V idle);
    ``ring_vrms``/``ring_frequency_hz`` are the ringing signal (0 when not ringing); ``loop_current_ma``
    flows when the phone is off hook and the line is fed.
    """

    linefeed: int
    dc_voltage: float
    ring_vrms: float
    ring_frequency_hz: float
    loop_current_ma: float

    @property
    def ringing(self) -> bool:
        """True while a ringing signal is on the line."""
        return self.ring_vrms > 0.0

    @property
    def reversed(self) -> bool:
        """True while tip and ring are reversed (positive tip-to-ring voltage)."""
        return self.dc_voltage > 0.0


def _no_feed() -> FxsFeed:
    return FxsFeed(linefeed=0, dc_voltage=0.0, ring_vrms=0.0, ring_frequency_hz=0.0, loop_current_ma=0.0)


@dataclass(eq=False)
class Phone:
    """A telephone plugged into an FXS port: hook switch, loop resistance, ringer load, audio.

    ``shorted`` puts a short across tip and ring (a faulty cord); with ``ren`` above what the port can
    drive it makes ringing overload the output transistors -- a power alarm.
    """

    off_hook: bool = False
    dc_resistance_ohm: float = 200.0
    ren: float = 1.0
    shorted: bool = False
    audio: AudioPort = field(default_factory=AudioPort)
    feed: Callable[[], FxsFeed] = _no_feed

    def lift(self) -> None:
        """Go off hook."""
        self.off_hook = True

    def hang_up(self) -> None:
        """Go on hook."""
        self.off_hook = False

    @property
    def loop_closed(self) -> bool:
        """True when DC current can flow between tip and ring (off hook or shorted)."""
        return self.off_hook or self.shorted

    @property
    def ringing(self) -> bool:
        """True while the port is ringing this phone."""
        return self.feed().ringing


@dataclass(eq=False)
class CentralOfficeLine:
    """A telephone line from a central office (or a PBX extension) plugged into an FXO port.

    ``battery_v`` is the loop battery (tip-to-ring magnitude when idle); ``polarity`` +1 is normal,
    -1 reversed (answer or disconnect signalling); ``ring_vrms``/``ring_frequency_hz`` describe the ringing
    signal while :attr:`ringing`; ``connected`` False is an unplugged line (no battery, no ringing).
    """

    battery_v: float = 48.0
    polarity: int = 1
    feed_resistance_ohm: float = 1200.0
    current_limit_ma: float = 60.0
    ringing: bool = False
    ring_vrms: float = 75.0
    ring_frequency_hz: float = 25.0
    connected: bool = True
    ring_started_at: float = 0.0
    audio: AudioPort = field(default_factory=AudioPort)

    def start_ringing(self, now: float) -> None:
        """Put the ringing signal on the line (the phase starts at ``now``)."""
        if not self.ringing:
            self.ring_started_at = now
        self.ringing = True

    def stop_ringing(self) -> None:
        """Remove the ringing signal."""
        self.ringing = False

    def reverse_polarity(self) -> None:
        """Swap tip and ring (answer supervision, disconnect, caller-ID alert in some countries)."""
        self.polarity = -self.polarity

    def remove_battery(self) -> None:
        """Drop the loop battery (a far-end disconnect on kewlstart lines)."""
        self.battery_v = 0.0

    def restore_battery(self, volts: float = 48.0) -> None:
        """Put the loop battery back."""
        self.battery_v = volts

    @property
    def battery_present(self) -> bool:
        """True when the line has battery."""
        return self.connected and self.battery_v > 0.0


@dataclass(eq=False)
class World:
    """Everything outside the chips: a phone per FXS port and a line per FXO port, by port number."""

    phones: dict[int, Phone] = field(default_factory=dict)
    lines: dict[int, CentralOfficeLine] = field(default_factory=dict)

    def phone(self, port: int) -> Phone:
        """The phone on FXS ``port`` (created on first use)."""
        return self.phones.setdefault(port, Phone())

    def line(self, port: int) -> CentralOfficeLine:
        """The line on FXO ``port`` (created on first use)."""
        return self.lines.setdefault(port, CentralOfficeLine())
