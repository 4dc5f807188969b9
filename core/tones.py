"""Call-progress tones: Asterisk's tone lists, a click-free generator, and per-country indications.

**Tone lists** follow Asterisk's ``indications.conf`` syntax (``main/indications.c``,
``ast_tone_zone_part_parse`` and ``ast_playtones_start``)::

    tonelist = element[,element]*        ("|" separates instead when the list contains one)
    element  = [!]freq[+freq2|*freq2][/duration_ms][@level_dbm0]
    freq     = Hz | M<midi note>         (0 Hz is silence; M69 = 440 Hz)

``f1+f2`` is a dual tone, ``f1*f2`` is ``f1`` amplitude-modulated by ``f2`` at the fixed 90 % depth the
sample configuration describes.  No duration (or ``/0``) plays that element for ever.  Elements that start
with ``!`` are played once; the list repeats from the first element without ``!``, and a list made only of
``!`` elements stops (the generator then gives silence).  ``@level`` (dBm0, per frequency) is a centralita
extension for tones whose segments differ in level (e.g. Australian congestion); Asterisk's parser ignores
text after the duration, so such lists still load there.  Errors raise :class:`ToneError` with the
position of the offending character.

**Levels** are in dBm0 per frequency component.  0 dBm0 is the sine whose peak is 32636 / 10^(3.17/20)
(ITU-T G.711: the u-law load capacity is +3.17 dBm0 = 8159 units = 32636 in 16-bit linear), i.e. the
power of G.711's digital milliwatt.  The default is Asterisk's: ``ast_playtones_start`` uses amplitude
7219 per frequency, -9.93 dBm0.

**The generator** keeps every oscillator's phase as an exact integer (a direct digital synthesiser with a
one-second sine table, so integer frequencies never drift) and carries it across frames and across
elements that keep the frequency, so nothing clicks at a frame border.  Where the sound changes between
elements (a tone starts or stops, a frequency changes) the old and new waveforms are cross-faded over
2 ms; Asterisk restarts the oscillators at every element instead, which clicks.

**Indications** per country come from Asterisk's ``configs/samples/indications.conf.sample`` (whose
entries cite ITU-T E.180 Supplement 2 / "Various tones used in national networks", BT SIN 350 for the UK,
ACIF S002 for Australia); Argentina, absent there, comes from DAHDI-tools ``zonedata.c`` (taken from
E.180 Supplement 2).  Lookup falls back to ``us`` as Asterisk's default country does.
"""

from __future__ import annotations

import math
import struct
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

SAMPLE_RATE = 8000
# ITU-T G.711 Table 2a: u-law load capacity +3.17 dBm0 at 8159 units (32636 in 16-bit linear).
ZERO_DBM0_PEAK = 32636 / math.pow(10.0, 3.17 / 20)
ASTERISK_DEFAULT_AMPLITUDE = 7219  # main/indications.c, ast_playtones_start: "Default to -8db"
DEFAULT_LEVEL_DBM0 = 20 * math.log10(ASTERISK_DEFAULT_AMPLITUDE / ZERO_DBM0_PEAK)
MAX_LEVEL_DBM0 = 3.17
MODULATION_DEPTH = 0.9  # indications.conf.sample: "The implicit modulation depth is fixed at 90%"
RAMP_SAMPLES = 16  # 2 ms cross-fade where the sound changes between elements
_MAX_CACHED_PERIODS = 128


class ToneError(ValueError):
    """A tone list that cannot be parsed; ``position`` is the 0-based offset of the offending character."""

    def __init__(self, message: str, text: str, position: int) -> None:
        super().__init__(f"{message} at position {position} of tone list {text!r}")
        self.text = text
        self.position = position


@dataclass(frozen=True, slots=True)
class TonePart:
    """One element of a tone list: frequencies in Hz (0 = none), duration in ms (0 = for ever)."""

    freq1: int
    freq2: int = 0
    modulate: bool = False
    duration_ms: int = 0
    once: bool = False
    level_dbm0: float | None = None


@dataclass(frozen=True, slots=True)
class TonePlan:
    """A parsed tone list: play ``parts`` in order, then repeat from ``repeat_from`` (None: stop)."""

    parts: tuple[TonePart, ...]
    repeat_from: int | None
    text: str = field(default="", compare=False)


def midi_note_hz(note: int) -> int:
    """A MIDI note number as Asterisk's table has it: 440 * 2^((n - 69) / 12), truncated to whole Hz."""
    return int(440.0 * 2.0 ** ((note - 69) / 12.0))


class _Scanner:
    def __init__(self, text: str, start: int, end: int) -> None:
        self.text, self.pos, self.end = text, start, end

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < self.end else ""

    def fail(self, message: str) -> ToneError:
        return ToneError(message, self.text, self.pos)

    def number(self, what: str) -> int:
        start = self.pos
        while self.pos < self.end and self.text[self.pos].isascii() and self.text[self.pos].isdigit():
            self.pos += 1
        if self.pos == start:
            raise self.fail(f"expected {what}")
        return int(self.text[start:self.pos])

    def frequency(self, midi: bool | None, sample_rate: int) -> tuple[int, bool]:
        start = self.pos
        is_midi = self.peek() == "M"
        if midi is not None and is_midi != midi:
            raise self.fail("both frequencies must be MIDI notes or neither")
        if is_midi:
            self.pos += 1
            note = self.number("a MIDI note number")
            if note > 127:
                self.pos = start
                raise self.fail(f"MIDI note {note} is not 0-127")
            hz = midi_note_hz(note)
        else:
            hz = self.number("a frequency in Hz")
        if hz * 2 >= sample_rate:
            self.pos = start
            raise self.fail(f"{hz} Hz is not below half the sample rate ({sample_rate // 2} Hz)")
        return hz, is_midi

    def level(self) -> float:
        start = self.pos
        if self.peek() in "+-":
            self.pos += 1
        while self.pos < self.end and (self.text[self.pos].isdigit() or self.text[self.pos] == "."):
            self.pos += 1
        try:
            value = float(self.text[start:self.pos])
        except ValueError:
            self.pos = start
            raise self.fail("expected a level in dBm0") from None
        if not value <= MAX_LEVEL_DBM0:
            self.pos = start
            raise self.fail(f"level {value} dBm0 is above the G.711 overload point (+3.17 dBm0)")
        return value


def _parse_part(scanner: _Scanner, sample_rate: int) -> TonePart:
    once = scanner.peek() == "!"
    if once:
        scanner.pos += 1
    freq1, midi = scanner.frequency(None, sample_rate)
    freq2, modulate = 0, False
    if scanner.peek() in ("+", "*"):
        modulate = scanner.peek() == "*"
        scanner.pos += 1
        freq2, _ = scanner.frequency(midi, sample_rate)
    duration = 0
    if scanner.peek() == "/":
        scanner.pos += 1
        duration = scanner.number("a duration in ms")
    level = None
    if scanner.peek() == "@":
        scanner.pos += 1
        level = scanner.level()
    if scanner.pos != scanner.end:
        raise scanner.fail(f"unexpected {scanner.peek()!r}")
    return TonePart(freq1, freq2, modulate, duration, once, level)


def parse_tone_list(text: str, sample_rate: int = SAMPLE_RATE) -> TonePlan:
    """Parse an Asterisk tone list (``"!350+440/100,!0/100,350+440"``) into a :class:`TonePlan`."""
    separator = "|" if "|" in text else ","
    parts: list[TonePart] = []
    repeat_from: int | None = None
    start = 0
    while True:
        end = text.find(separator, start)
        if end < 0:
            end = len(text)
        first, last = start, end
        while first < last and text[first].isspace():
            first += 1
        while last > first and text[last - 1].isspace():
            last -= 1
        if first == last:
            raise ToneError("empty tone element", text, first)
        part = _parse_part(_Scanner(text, first, last), sample_rate)
        if not part.once and repeat_from is None:
            repeat_from = len(parts)
        parts.append(part)
        if end == len(text):
            break
        start = end + 1
    return TonePlan(tuple(parts), repeat_from, text)


def level_to_amplitude(level_dbm0: float) -> float:
    """Peak amplitude (16-bit linear) of a sine at ``level_dbm0``."""
    return ZERO_DBM0_PEAK * math.pow(10.0, level_dbm0 / 20.0)


@lru_cache(maxsize=4)
def _sine_table(sample_rate: int) -> tuple[float, ...]:
    return tuple(math.sin(2.0 * math.pi * k / sample_rate) for k in range(sample_rate))


@dataclass(frozen=True, slots=True)
class _Sound:
    """What one element sounds like: (frequency, amplitude) components, or a modulated carrier."""

    components: tuple[tuple[int, float], ...]
    modulator: int = 0  # when non-zero: components[0] is the carrier, amplitude-modulated by this


_SILENCE = _Sound(())


def _sound_of(part: TonePart, amplitude: float) -> _Sound:
    if part.level_dbm0 is not None:
        amplitude = level_to_amplitude(part.level_dbm0)
    if part.modulate:
        if part.freq1 == 0:
            return _SILENCE
        return _Sound(((part.freq1, amplitude),), part.freq2)
    freqs = [f for f in (part.freq1, part.freq2) if f]
    # "425+425" is one oscillator at twice the amplitude, as two in-phase oscillators would be.
    merged: dict[int, float] = {}
    for f in freqs:
        merged[f] = merged.get(f, 0.0) + amplitude
    return _Sound(tuple(merged.items()))


def _frequencies(sound: _Sound) -> tuple[int, ...]:
    return tuple(f for f, _ in sound.components) + ((sound.modulator,) if sound.modulator else ())


def _value(sound: _Sound, phases: Mapping[int, int], offset: int, table: tuple[float, ...], rate: int) -> float:
    """Sample ``offset`` samples after the phases in ``phases`` (integer units of 1/rate cycle)."""
    if sound.modulator:
        (carrier, amplitude), = sound.components
        c = table[(phases[carrier] + carrier * offset) % rate]
        m = table[(phases[sound.modulator] + sound.modulator * offset) % rate]
        return amplitude * c * (1.0 + MODULATION_DEPTH * m) / (1.0 + MODULATION_DEPTH)
    total = 0.0
    for f, amplitude in sound.components:
        total += amplitude * table[(phases[f] + f * offset) % rate]
    return total


def _clip(value: float) -> int:
    v = round(value)
    return 32767 if v > 32767 else -32768 if v < -32768 else v


_PERIODS: OrderedDict[tuple[object, ...], bytes] = OrderedDict()


def _steady_period(sound: _Sound, phases: Mapping[int, int], rate: int) -> bytes:
    """One full period of ``sound`` from ``phases``: every oscillator returns to its phase after it."""
    key = (sound, tuple(phases[f] for f in _frequencies(sound)), rate)
    cached = _PERIODS.get(key)
    if cached is not None:
        _PERIODS.move_to_end(key)
        return cached
    period = 1
    for f in _frequencies(sound):
        p = rate // math.gcd(f, rate)
        period = period * p // math.gcd(period, p)
    table = _sine_table(rate)
    samples = [_clip(_value(sound, phases, n, table, rate)) for n in range(period)]
    rendered = struct.pack(f"<{period}h", *samples)
    _PERIODS[key] = rendered
    if len(_PERIODS) > _MAX_CACHED_PERIODS:
        _PERIODS.popitem(last=False)
    return rendered


class ToneGenerator:
    """Produce a :class:`TonePlan` as 16-bit signed little-endian linear audio, any number of samples at
    a time, phase-continuous across calls (sans-IO: the caller's clock decides when to read)."""

    def __init__(self, plan: TonePlan | str, *, level_dbm0: float = DEFAULT_LEVEL_DBM0,
                 sample_rate: int = SAMPLE_RATE) -> None:
        if isinstance(plan, str):
            plan = parse_tone_list(plan, sample_rate)
        if not plan.parts:
            raise ToneError("empty tone list", plan.text, 0)
        if not level_dbm0 <= MAX_LEVEL_DBM0:
            raise ValueError(f"level {level_dbm0} dBm0 is above the G.711 overload point")
        self.plan = plan
        self.sample_rate = sample_rate
        self._amplitude = level_to_amplitude(level_dbm0)
        self._table = _sine_table(sample_rate)
        self._sounds = [_sound_of(p, self._amplitude) for p in plan.parts]
        self._lengths = [p.duration_ms * sample_rate // 1000 for p in plan.parts]
        self._index = -1  # -1 before the first element, len(parts) after a plan that stops
        self._previous = _SILENCE
        self._previous_phases: dict[int, int] = {}
        self._phases: dict[int, int] = {}
        self._position = 0
        self._length = 0  # samples in the current element, 0 = for ever
        self._sound = _SILENCE
        self.samples_generated = 0
        self._enter(0)

    @property
    def finished(self) -> bool:
        """True once a plan made only of ``!`` elements has played out (reads then give silence)."""
        return self._index >= len(self.plan.parts)

    def _enter(self, index: int) -> None:
        """Start element ``index`` (or the silence after the end), keeping shared oscillators' phase."""
        rate = self.sample_rate
        old_sound, old_phases, elapsed = self._sound, self._phases, self._position
        # Phase of every old oscillator at the boundary.
        boundary = {f: (old_phases[f] + f * elapsed) % rate for f in _frequencies(old_sound)}
        if index >= len(self.plan.parts):
            new_sound, length = _SILENCE, 0
        else:
            new_sound, length = self._sounds[index], self._lengths[index]
        self._previous, self._previous_phases = old_sound, boundary
        self._phases = {f: boundary.get(f, 0) for f in _frequencies(new_sound)}
        self._sound, self._index, self._position, self._length = new_sound, index, 0, length
        self._ramp = RAMP_SAMPLES if new_sound != old_sound else 0

    def _advance(self) -> None:
        nxt = self._index + 1
        if nxt >= len(self.plan.parts):
            if self.plan.repeat_from is None:
                self._enter(len(self.plan.parts))
                return
            nxt = self.plan.repeat_from
        self._enter(nxt)

    def read(self, samples: int) -> bytes:
        """The next ``samples`` samples (16-bit little-endian)."""
        if samples < 0:
            raise ValueError("sample count must not be negative")
        chunks: list[bytes] = []
        remaining = samples
        while remaining:
            if self._length and self._position >= self._length:
                self._advance()
                continue
            todo = remaining if not self._length else min(remaining, self._length - self._position)
            if self._position < self._ramp:
                todo = min(todo, self._ramp - self._position)
                chunks.append(self._render_ramp(todo))
            else:
                chunks.append(self._render_steady(todo))
            self._position += todo
            remaining -= todo
        self.samples_generated += samples
        return b"".join(chunks)

    def _render_ramp(self, count: int) -> bytes:
        table, rate = self._table, self.sample_rate
        old, new = self._previous, self._sound
        out = []
        for n in range(self._position, self._position + count):
            w = 0.5 - 0.5 * math.cos(math.pi * (n + 1) / (self._ramp + 1))
            a = _value(old, self._previous_phases, n, table, rate) if old.components else 0.0
            b = _value(new, self._phases, n, table, rate) if new.components else 0.0
            out.append(_clip((1.0 - w) * a + w * b))
        return struct.pack(f"<{count}h", *out)

    def _render_steady(self, count: int) -> bytes:
        if not self._sound.components:
            return bytes(2 * count)
        rate = self.sample_rate
        # The period is keyed by the phases where the steady part starts (after any ramp).
        start = self._ramp
        phases = {f: (p + f * start) % rate for f, p in self._phases.items()}
        period = _steady_period(self._sound, phases, rate)
        length = len(period) // 2
        offset = (self._position - start) % length
        out = []
        while count:
            take = min(count, length - offset)
            out.append(period[2 * offset:2 * (offset + take)])
            count -= take
            offset = 0
        return b"".join(out)


# Indications ---------------------------------------------------------------------------------------

INDICATIONS = ("dial", "busy", "ring", "congestion", "callwaiting", "dialrecall", "record", "info", "stutter")
_ALIASES = {"ringback": "ring", "ringing": "ring", "reorder": "congestion", "callwait": "callwaiting",
            "sit": "info", "recall": "dialrecall"}

_AST = "Asterisk configs/samples/indications.conf.sample"


def _stutter(on: str, then: str) -> str:
    return ",".join([f"!{on}/100,!0/100"] * 6 + [then])


def _recall(on: str, then: str, ms: int = 100) -> str:
    return ",".join([f"!{on}/{ms},!0/{ms}"] * 3 + [then])


@dataclass(frozen=True, slots=True)
class ToneZone:
    """A country's indications: tone lists by name, the ring cadence (ms on/off) and where they are from."""

    country: str
    description: str
    ring_cadence: tuple[int, ...]
    tones: Mapping[str, str]
    source: str


def _zone(country: str, description: str, cadence: tuple[int, ...], source: str, **tones: str) -> ToneZone:
    return ToneZone(country, description, cadence, dict(tones), source)


_DE_CALLWAITING = ",".join(["!425/200,!0/200,!425/200,!0/5000"] * 4 + ["!425/200,!0/200,!425/200,0"])
_SIT_3X = ",".join(["!950/330,!1400/330,!1800/330,!0/1000"] * 3 + ["0"])

ZONES: dict[str, ToneZone] = {z.country: z for z in (
    _zone("us", "United States / North America", (2000, 4000), _AST,
          dial="350+440", busy="480+620/500,0/500", ring="440+480/2000,0/4000", congestion="480+620/250,0/250",
          callwaiting="440/300,0/10000", dialrecall=_recall("350+440", "350+440"), record="1400/500,0/15000",
          info="!950/330,!1400/330,!1800/330,0", stutter=_stutter("350+440", "350+440")),
    _zone("uk", "United Kingdom", (400, 200, 400, 2000),
          _AST + " (BT SIN 350); dialrecall from DAHDI-tools zonedata.c",
          dial="350+440", busy="400/375,0/375", ring="400+450/400,0/200,400+450/400,0/2000",
          congestion="400/400,0/350,400/225,0/525", callwaiting="400/100,0/4000", dialrecall="350+440",
          record="1400/500,0/60000", info="950/330,0/15,1400/330,0/15,1800/330,0/1000",
          stutter="350+440/750,440/750"),
    _zone("de", "Germany", (1000, 4000), _AST + " (ITU-T E.180 Supplement 2)",
          dial="425", busy="425/480,0/480", ring="425/1000,0/4000", congestion="425/240,0/240",
          callwaiting=_DE_CALLWAITING, dialrecall=_recall("425", "425"), record="1400/80,0/15000",
          info="950/330,1400/330,1800/330,0/1000", stutter="425+400"),
    _zone("fr", "France", (1500, 3500), _AST + " (ITU-T E.180 Supplement 2)",
          dial="440", busy="440/500,0/500", ring="440/1500,0/3500", congestion="440/250,0/250",
          callwaiting="440/300,0/10000", dialrecall=_recall("350+440", "350+440"), record="1400/500,0/15000",
          info="!950/330,!1400/330,!1800/330", stutter=_stutter("440", "440")),
    _zone("it", "Italy", (1000, 4000), _AST + " (ITU-T E.180 Supplement 2)",
          dial="425/200,0/200,425/600,0/1000", busy="425/500,0/500", ring="425/1000,0/4000",
          congestion="425/200,0/200", callwaiting="425/400,0/100,425/250,0/100,425/150,0/14000",
          dialrecall="470/400,425/400", record="1400/400,0/15000", info=_SIT_3X, stutter="470/400,425/400"),
    _zone("es", "Spain", (1500, 3000), _AST,
          dial="425", busy="425/200,0/200", ring="425/1500,0/3000",
          congestion="425/200,0/200,425/200,0/200,425/200,0/600", callwaiting="425/175,0/175,425/175,0/3500",
          dialrecall=_recall("425", "425", 200), record="1400/500,0/15000", info="950/330,0/1000",
          stutter=_stutter("425", "425")),
    _zone("nl", "Netherlands", (1000, 4000), _AST + " (ITU-T E.180 Supplement 2)",
          dial="425", busy="425/500,0/500", ring="425/1000,0/4000", congestion="425/250,0/250",
          callwaiting="425/500,0/9500", dialrecall="425/500,0/50", record="1400/500,0/15000",
          info="950/330,1400/330,1800/330,0/1000", stutter="425/500,0/50"),
    _zone("au", "Australia", (400, 200, 400, 2000), _AST + " (ACIF S002)",
          dial="413+438", busy="425/375,0/375", ring="413+438/400,0/200,413+438/400,0/2000",
          congestion="425/375,0/375,420/375,0/375", callwaiting="425/200,0/200,425/200,0/4400",
          dialrecall="413+438", record="!425/1000,!0/15000,425/360,0/15000", info="425/2500,0/500",
          stutter="413+438/100,0/40"),
    _zone("br", "Brazil", (1000, 4000), _AST,
          dial="425", busy="425/250,0/250", ring="425/1000,0/4000", congestion="425/250,0/250,425/750,0/250",
          callwaiting="425/50,0/1000", dialrecall="350+440", record="425/250,0/250",
          info="950/330,1400/330,1800/330", stutter="350+440"),
    _zone("mx", "Mexico", (2000, 4000), _AST,
          dial="425", busy="425/250,0/250", ring="425/1000,0/4000", congestion="425/250,0/250",
          callwaiting="425/200,0/600,425/200,0/10000", dialrecall=_recall("350+440", "350+440"),
          record="1400/500,0/15000", info="950/330,0/30,1400/330,0/30,1800/330,0/1000",
          stutter=_stutter("350+440", "425")),
    _zone("ar", "Argentina", (1000, 4500), "DAHDI-tools zonedata.c (ITU-T E.180 Supplement 2)",
          dial="425", busy="425/300,0/300", ring="425/1000,0/4500", congestion="425/200,0/300",
          callwaiting="425/200,0/9000", dialrecall=_recall("425", "425/330,0/330,425/660,0/660"),
          record="1400/500,0/14000", info="425/100,0/100", stutter="425/450,0/50"),
    _zone("cl", "Chile", (1000, 3000), _AST + " (Telefonica CTC Chile)",
          dial="400", busy="400/500,0/500", ring="400/1000,0/3000", congestion="400/200,0/200",
          callwaiting="400/250,0/8750", dialrecall=_recall("400", "400"), record="1400/500,0/15000",
          info="950/333,1400/333,1800/333,0/1000", stutter=_stutter("400", "400")),
    _zone("jp", "Japan", (1000, 2000), _AST,
          dial="400", busy="400/500,0/500", ring="400+15/1000,0/2000", congestion="400/500,0/500",
          callwaiting="400+16/500,0/8000", dialrecall=_recall("400", "400", 200), record="1400/500,0/15000",
          info="!950/330,!1400/330,!1800/330,0", stutter=_stutter("400", "400")),
    _zone("in", "India", (400, 200, 400, 2000), _AST,
          dial="400*25", busy="400/750,0/750", ring="400*25/400,0/200,400*25/400,0/2000",
          congestion="400/250,0/250", callwaiting="400/200,0/100,400/200,0/7500",
          dialrecall=_recall("350+440", "350+440"), record="1400/500,0/15000",
          info="!950/330,!1400/330,!1800/330,0/1000", stutter=_stutter("350+440", "400*25")),
    _zone("ru", "Russian Federation / ex Soviet Union", (1000, 4000), _AST + " (GOST 45-223-2001)",
          dial="425", busy="425/350,0/350", ring="425/1000,0/4000", congestion="425/175,0/175",
          callwaiting="425/200,0/5000", dialrecall="425/400,0/40", record="1400/400,0/15000",
          info="950/330,1400/330,1800/330,0/1000", stutter=_stutter("425", "425")),
)}
_COUNTRY_ALIASES = {"gb": "uk"}
DEFAULT_COUNTRY = "us"


def tone_zone(country: str | None) -> ToneZone:
    """The zone of ``country`` (ISO-style code, case-insensitive, ``gb`` = ``uk``), else the ``us`` zone."""
    code = (country or "").strip().lower()
    code = _COUNTRY_ALIASES.get(code, code)
    return ZONES.get(code, ZONES[DEFAULT_COUNTRY])


def indication(country: str | None, name: str) -> str:
    """The tone list of indication ``name`` (``busy``, ``ringback``...) in ``country``.

    Falls back to the ``us`` zone's list when the zone lacks it; raises ``KeyError`` for unknown names.
    """
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    zone = tone_zone(country)
    if key in zone.tones:
        return zone.tones[key]
    return ZONES[DEFAULT_COUNTRY].tones[key]


def tone_plan(spec: str, country: str | None = None) -> TonePlan:
    """What ``PlayTones(spec)`` plays: an indication of the country's zone by name, else a tone list."""
    key = spec.strip().lower()
    if key.isalpha():
        try:
            return parse_tone_list(indication(country, key))
        except KeyError:
            pass
    return parse_tone_list(spec)
