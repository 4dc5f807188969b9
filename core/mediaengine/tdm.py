"""The TDM media path: analog ports' PCM timeslots as media-engine ports, moved by one clock in batches.

A :class:`TdmPort` is one port's 8-bit timeslot on the board's PCM highway (an FXS or FXO port, later an
E1 timeslot).  Every 20 ms the :class:`TdmClock` moves 160 frames of the whole highway in one
:meth:`PcmHighway.exchange` and hands each port its 160 received G.711 codes while taking the 160 it
sends (architecture principle 4: one media tick for every TDM channel, no timer per call).  On the way in
a port decodes (u-law or A-law, as the board's highway is set), applies its gain, cancels the line echo of
what it sent (speexdsp MDF, :class:`cython_media.speexdsp.EchoCanceller`: ITU-T G.168's job), detects DTMF
in software (spandsp ``dtmf_rx``, ITU-T Q.23/Q.24: the Si3215 has no DTMF decoder) and mutes the digit
so that it crosses a bridge once, as a digit event, never also as tones (Asterisk's DSP "mute" digit mode);
on the way out it plays the line's own signals (dial tone, ringback, caller ID, DTMF) or the audio of
the channel that owns the line, from an elastic playout buffer with packet loss concealment (spandsp
``plc``, after ITU-T G.711 Appendix I) for frames that come from RTP with jitter.

A port carries one or more :class:`TdmLeg` objects -- the :class:`~core.mediaengine.engine.AudioPort` a
channel on that line gives the media engine.  Only the *active* leg hears the line and is heard on it;
that is how call waiting keeps a held call on the same pair of wires (chan_dahdi's sub-channels).

Nothing here imports ``board``: the highway is anything with ``slots_per_frame`` and ``exchange()``
(:class:`board.hal.PcmBus` satisfies it).
"""

from __future__ import annotations

import asyncio
import logging
from array import array
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from cython_media import g711, spandsp, speexdsp
from cython_media.deferred import DeferredCanceller, DeferredDetector
from cython_media.mix import gain as apply_gain
from cython_media.mix import mix
from cython_media.spandsp import SpandspError

if TYPE_CHECKING:
    from core.mediaengine.engine import MediaEngineImpl

log = logging.getLogger("centralita.media")

FRAME_SAMPLES = 160          # 20 ms at 8 kHz: one tick
FRAME_BYTES = 2 * FRAME_SAMPLES
SILENCE = bytes(FRAME_BYTES)
ULAW_IDLE = 0xFF             # G.711 Table 2a: positive zero
ALAW_IDLE = 0xD5             # G.711 Table 1a: positive zero (even bits inverted)
MAX_QUEUED_FRAMES = 25       # 0.5 s of received audio waiting for a reader


class TdmError(Exception):
    """A TDM port or clock was misused (a frame of the wrong size, a port on a taken timeslot)."""


class PcmHighway(Protocol):
    """What the clock needs of the board's PCM bus (:class:`board.hal.PcmBus` has it)."""

    @property
    def slots_per_frame(self) -> int:
        """Timeslots per 125 us frame."""
        ...

    async def exchange(self, tx: bytes) -> bytes:
        """Send frames (interleaved, ``slots_per_frame`` bytes each) and return as many received frames."""
        ...


class Signal(Protocol):
    """Audio the line plays by itself (a tone, caller ID, DTMF): ``read(n)`` gives ``n`` samples of 16-bit
    linear audio, or None once finished."""

    def read(self, samples: int) -> bytes | None:
        """The next ``samples`` samples, None when the signal is over."""
        ...


# ------------------------------------------------------------------------------------ playout buffer


class PlayoutBuffer:
    """An elastic buffer between a frame source with its own timing (RTP, the media clock, another port)
    and the TDM clock, which takes exactly one frame per tick.

    It starts playing once ``target`` frames are queued (absorbing that much jitter), conceals a frame
    missing after audio with spandsp's PLC (which fades to silence after 50 ms), and drops the oldest frame
    when more than ``limit`` are queued (the source's clock runs fast, or a burst arrived).
    """

    def __init__(self, *, target: int = 2, limit: int = 8) -> None:
        if not 1 <= target <= limit:
            raise TdmError(f"playout target {target} must be between 1 and the limit {limit}")
        self.target = target
        self.limit = limit
        self._frames: deque[bytes] = deque()
        self._priming = True
        self._concealed = 3  # nothing played yet: nothing to conceal
        self._plc: spandsp.PacketLossConcealer | None = None
        self.underruns = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._frames)

    def put(self, frame: bytes) -> None:
        """Queue one frame (any length is cut or padded to 20 ms)."""
        if len(frame) != FRAME_BYTES:
            frame = (bytes(frame) + SILENCE)[:FRAME_BYTES]
        if len(self._frames) >= self.limit:
            self._frames.popleft()
            self.dropped += 1
        self._frames.append(frame)

    def clear(self) -> None:
        """Forget what is queued; the next frames prime the buffer again."""
        self._frames.clear()
        self._priming = True
        self._concealed = 3

    def get(self) -> bytes:
        """The frame to play now."""
        if self._priming:
            if len(self._frames) < self.target:
                return self._fill()
            self._priming = False
        if not self._frames:
            self.underruns += 1
            self._priming = True
            return self._fill()
        frame = self._frames.popleft()
        plc = self._concealer()
        if plc is not None:
            frame = plc.good(frame)
        self._concealed = 0
        return frame

    def _fill(self) -> bytes:
        plc = self._concealer()
        if plc is None or self._concealed >= 3:  # PLC has faded out after 50 ms: plain silence, no work
            return SILENCE
        self._concealed += 1
        return plc.fill(FRAME_SAMPLES)

    def _concealer(self) -> spandsp.PacketLossConcealer | None:
        if self._plc is None:
            try:
                self._plc = spandsp.PacketLossConcealer()
            except SpandspError as exc:  # no libspandsp: play silence instead of concealing
                log.warning("no packet loss concealment: %s", exc)
                self._plc = None
                self._concealed = 3
        return self._plc


# ---------------------------------------------------------------------------------------------- legs


class TdmLeg:
    """One channel's view of a TDM port: an :class:`~core.mediaengine.engine.AudioPort`.

    When its port makes it active, the line's audio goes to ``frame_sink`` (a connected port), back to
    the line (``echo``) or to :meth:`read_frame`; what is written with :meth:`write_frame` is played on the
    line.  An inactive leg (a call on hold or waiting) hears nothing and is not heard.
    """

    def __init__(self, port: TdmPort, engine: MediaEngineImpl) -> None:
        self.port = port
        self.engine = engine
        self.closed = False
        self.frame_sink: Callable[[bytes], None] | None = None
        self.echo = False
        self.on_digit: Callable[[str, int], None] | None = None
        self.playout = PlayoutBuffer(target=port.playout_target)
        self._frames: deque[bytes] = deque(maxlen=MAX_QUEUED_FRAMES)
        self._reader: asyncio.Future[None] | None = None

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("active" if self.port.active is self else "inactive")
        return f"<TdmLeg {self.port.name} {state}>"

    @property
    def active(self) -> bool:
        """True while this leg owns the line's audio."""
        return self.port.active is self and not self.closed

    # -- the AudioPort contract --------------------------------------------------------------------------

    async def read_frame(self) -> bytes | None:
        """The next 20 ms the line sent (16-bit linear); None once the leg is closed."""
        while not self._frames:
            if self.closed:
                return None
            self._reader = asyncio.get_running_loop().create_future()
            await self._reader
        return None if self.closed else self._frames.popleft()

    def write_frame(self, linear: bytes) -> None:
        """Queue audio for the line (20 ms frames; other lengths are cut into frames)."""
        if self.closed:
            return
        if len(linear) == FRAME_BYTES:
            self.playout.put(linear)
            return
        for offset in range(0, len(linear), FRAME_BYTES):
            self.playout.put(linear[offset:offset + FRAME_BYTES])

    def drain(self) -> None:
        """Drop received audio nobody has read yet."""
        self._frames.clear()

    def send_digit(self, digit: str, duration_ms: int) -> bool:
        """Play a DTMF digit on the line (in-band: an analog line has no other way)."""
        if self.closed:
            return False
        self.port.send_dtmf(digit, on_ms=duration_ms)
        return True

    def close(self) -> None:
        """The channel is gone: stop exchanging audio and wake a reader."""
        if self.closed:
            return
        self.closed = True
        self.frame_sink = None
        self.playout.clear()
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)
        self.port.close_leg(self)
        self.engine.clock.stop(self)

    # -- the port's side ---------------------------------------------------------------------------------

    def _deliver(self, frame: bytes) -> None:
        if self.echo:
            self.playout.put(frame)
            return
        sink = self.frame_sink
        if sink is not None:
            sink(frame)
            return
        self._frames.append(frame)
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)


# ---------------------------------------------------------------------------------------------- port


class _DtmfSignal:
    """In-band DTMF for :meth:`TdmPort.send_dtmf`: spandsp ``dtmf_tx`` at -8 dBm0 per tone (ITU-T Q.23)."""

    def __init__(self, digits: str, on_ms: int, off_ms: int) -> None:
        self.generator = spandsp.DtmfGenerator(level_dbm0=-8, on_ms=on_ms, off_ms=off_ms)
        self.generator.queue(digits)

    def read(self, samples: int) -> bytes | None:
        if self.generator.idle:
            return None
        return self.generator.generate(samples)


class TdmPort:
    """One analog port's PCM timeslot with its DSP (see the module docstring).

    ``slot`` is the timeslot on the highway, ``ulaw`` the board's companding; ``echo_cancel`` runs
    speexdsp over ``echo_tail_ms`` (FXO lines: the hybrid and the far exchange); ``dtmf_detect`` finds
    digits in what the line sends and, with ``dtmf_mute``, keeps their tones out of the channel's audio
    (at the cost of one frame of delay on that path); ``rx_gain_db``/``tx_gain_db`` are software gains
    from/toward the line; ``playout_target`` frames of audio are buffered before playing toward the line.
    """

    def __init__(self, slot: int, *, ulaw: bool = True, name: str = "", engine: MediaEngineImpl | None = None,
                 echo_cancel: bool = False, echo_tail_ms: int = 128, dtmf_detect: bool = True,
                 dtmf_mute: bool = True, rx_gain_db: float = 0.0, tx_gain_db: float = 0.0,
                 playout_target: int = 2) -> None:
        if slot < 0:
            raise TdmError(f"timeslot {slot} is negative")
        self.slot = slot
        self.ulaw = ulaw
        self.name = name or f"TDM/{slot}"
        self.engine = engine
        self.rx_gain_db = rx_gain_db
        self.tx_gain_db = tx_gain_db
        self.playout_target = playout_target
        self._decode = g711.ulaw2lin if ulaw else g711.alaw2lin
        self._encode = g711.lin2ulaw if ulaw else g711.lin2alaw
        self.idle_code = ULAW_IDLE if ulaw else ALAW_IDLE
        # Made when the line first carries a signal (cython_media.deferred): an idle board loads no DSP.
        self.echo_canceller = DeferredCanceller(lambda: speexdsp.EchoCanceller(FRAME_SAMPLES, echo_tail_ms)) \
            if echo_cancel else None
        self.dtmf_detector = DeferredDetector(lambda: spandsp.DtmfDetector()) if dtmf_detect else None
        self.dtmf_mute = dtmf_mute and dtmf_detect
        self.legs: list[TdmLeg] = []
        self.active: TdmLeg | None = None
        self.listeners: list[Callable[[bytes], None]] = []
        self.on_digit: Callable[[str, int], None] | None = None
        self.on_digit_start: Callable[[str], None] | None = None
        self.mute_line_audio = False   # the line logic silences the leg's audio toward the line
        self._signal: Signal | None = None
        self._signal_done: Callable[[], None] | None = None
        self._overlay = False
        self._dtmf: _DtmfSignal | None = None
        self._last_tx = SILENCE
        self._held: bytes | None = None   # the frame delayed by one tick for DTMF muting
        self._held_muted = False
        self.last_rx = SILENCE
        self.frames_in = 0
        self.frames_out = 0
        self.digits_detected = 0

    def __repr__(self) -> str:
        return f"<TdmPort {self.name} slot {self.slot}>"

    # -- legs --------------------------------------------------------------------------------------------

    def open_leg(self, *, activate: bool = False) -> TdmLeg:
        """A new leg for a channel on this line (active at once with ``activate``)."""
        if self.engine is None:
            raise TdmError(f"{self.name}: no media engine to give a channel's audio to")
        leg = TdmLeg(self, self.engine)
        self.legs.append(leg)
        if activate:
            self.activate(leg)
        return leg

    def close_leg(self, leg: TdmLeg) -> None:
        """Forget ``leg`` (its channel is gone); the line goes quiet if it was active."""
        if leg in self.legs:
            self.legs.remove(leg)
        if self.active is leg:
            self.active = None
        if not leg.closed:
            leg.close()

    def activate(self, leg: TdmLeg | None) -> None:
        """Give the line's audio to ``leg`` (None: to nobody).  Audio queued for the leg is dropped so that
        it starts without the delay of what piled up while it was inactive."""
        if leg is not None and leg.closed:
            raise TdmError(f"{leg!r} is closed")
        if leg is self.active:
            return
        self.active = leg
        if leg is not None:
            leg.playout.clear()
            leg.drain()
        self._held = None

    # -- the line's own signals --------------------------------------------------------------------------

    def play(self, signal: Signal | None, on_done: Callable[[], None] | None = None, *,
             overlay: bool = False) -> None:
        """Play ``signal`` on the line instead of the active leg's audio (``overlay``: mixed with it, as a
        call-waiting tone is) until it ends or ``play(None)``; ``on_done`` is called when it ends by itself."""
        self._signal = signal
        self._signal_done = on_done if signal is not None else None
        self._overlay = overlay and signal is not None

    @property
    def playing(self) -> Signal | None:
        """The signal being played, if any."""
        return self._signal

    def send_dtmf(self, digits: str, *, on_ms: int = 100, off_ms: int = 60) -> None:
        """Play DTMF digits on the line (over whatever else would be heard), after any queued ones."""
        on_ms = max(40, min(on_ms, 1000))
        pending = self._dtmf
        if pending is not None and not pending.generator.idle:
            try:
                pending.generator.queue(digits)
                return
            except SpandspError:
                pass
        self._dtmf = _DtmfSignal(digits, on_ms, off_ms)

    @property
    def sending_dtmf(self) -> bool:
        """True while DTMF digits are being played."""
        return self._dtmf is not None and not self._dtmf.generator.idle

    # -- the clock's side --------------------------------------------------------------------------------

    def transmit(self) -> bytes:
        """The next 20 ms toward the line as G.711 codes (called once per tick)."""
        frame = self._next_linear()
        if self.tx_gain_db:
            frame = apply_gain(frame, self.tx_gain_db)
        self._last_tx = frame
        self.frames_out += 1
        return self._encode(frame)

    def _next_linear(self) -> bytes:
        frame: bytes | None = None
        dtmf = self._dtmf
        if dtmf is not None:
            frame = dtmf.read(FRAME_SAMPLES)
            if frame is None:
                self._dtmf = None
        signal = self._signal
        overlay: bytes | None = None
        if signal is not None:
            produced = signal.read(FRAME_SAMPLES)
            if produced is None:
                self._signal = None
                done, self._signal_done = self._signal_done, None
                if done is not None:
                    done()
            elif self._overlay:
                overlay = produced
            elif frame is None:
                frame = produced
        active = self.active
        if active is not None:
            audio = active.playout.get()  # always consumed, so that it does not pile up under a signal
            if frame is None and not self.mute_line_audio:
                frame = audio if overlay is None else mix((audio, overlay))
        if frame is None and overlay is not None:
            frame = overlay
        return frame if frame is not None else SILENCE

    def receive(self, codes: bytes) -> None:
        """The 20 ms the line sent (G.711 codes), called once per tick after :meth:`transmit`."""
        if len(codes) != FRAME_SAMPLES:
            raise TdmError(f"{self.name}: {len(codes)} codes received, one tick is {FRAME_SAMPLES}")
        frame = self._decode(codes)
        if self.rx_gain_db:
            frame = apply_gain(frame, self.rx_gain_db)
        canceller = self.echo_canceller
        if canceller is not None:
            frame = canceller.cancel(frame, self._last_tx)
        self.frames_in += 1
        self.last_rx = frame
        muted = self._detect_digits(frame)
        for listener in self.listeners:
            listener(frame)
        active = self.active
        if not self.dtmf_mute:
            if active is not None:
                active._deliver(frame)
            return
        # One frame of delay: a digit is confirmed ~25 ms after its tones start, so the frame before the
        # confirmation is muted too and no DTMF burst long enough to be detected again crosses a bridge.
        held, held_muted = self._held, self._held_muted
        self._held, self._held_muted = frame, muted
        if held is not None and active is not None:
            active._deliver(SILENCE if (held_muted or muted) else held)

    def _detect_digits(self, frame: bytes) -> bool:
        detector = self.dtmf_detector
        if detector is None:
            return False
        was_held = detector.held is not None
        for event in detector.feed(frame):
            if not event.ended:
                if self.on_digit_start is not None:
                    self.on_digit_start(event.digit)
                continue
            self.digits_detected += 1
            duration_ms = max(1, round(event.duration * 1000 / 8000))
            callback = self.on_digit
            if callback is not None:
                callback(event.digit, duration_ms)
        return was_held or detector.held is not None

    def reset_echo_canceller(self) -> None:
        """Start adapting afresh (a new call on the line: the echo path changed)."""
        if self.echo_canceller is not None:
            self.echo_canceller.reset()


# --------------------------------------------------------------------------------------------- clock


class TdmClock:
    """Moves the whole PCM highway every 20 ms in one batch and runs the ports' DSP.

    ``now`` is the board's clock (virtual on a simulated board in tests).  Hooks run around every exchange:
    ``before_exchange`` (a simulated world speaking into its microphones) and ``after_exchange`` (polling
    the chips and stepping the line logic, with the time after the exchange).  A hook that raises is
    logged and the clock goes on: audio must not stop because one port misbehaved.
    """

    def __init__(self, highway: PcmHighway, now: Callable[[], float], *, ulaw: bool = True,
                 frames_per_tick: int = FRAME_SAMPLES) -> None:
        if frames_per_tick != FRAME_SAMPLES:
            raise TdmError(f"the TDM clock moves {FRAME_SAMPLES} frames per tick")
        self.highway = highway
        self.now = now
        self.ulaw = ulaw
        self.frames_per_tick = frames_per_tick
        self.ports: dict[int, TdmPort] = {}
        self.before_exchange: list[Callable[[float], None]] = []
        self.after_exchange: list[Callable[[float], None]] = []
        self.ticks = 0
        self.errors = 0
        self.last_tick_at = 0.0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._waiters: list[tuple[float, asyncio.Future[None]]] = []

    def add_port(self, port: TdmPort) -> TdmPort:
        """Put ``port`` on its timeslot."""
        slots = self.highway.slots_per_frame
        if port.slot >= slots:
            raise TdmError(f"{port.name}: timeslot {port.slot} is not on a highway of {slots} timeslots")
        if port.slot in self.ports:
            raise TdmError(f"{port.name}: timeslot {port.slot} is already used by {self.ports[port.slot].name}")
        if port.ulaw != self.ulaw:
            raise TdmError(f"{port.name}: the highway is {'u-law' if self.ulaw else 'A-law'}")
        self.ports[port.slot] = port
        return port

    def remove_port(self, port: TdmPort) -> None:
        """Take ``port`` off the highway."""
        if self.ports.get(port.slot) is port:
            del self.ports[port.slot]

    async def tick(self) -> None:
        """One 20 ms exchange of every timeslot, with the hooks around it."""
        self._run_hooks(self.before_exchange, self.now())
        slots = self.highway.slots_per_frame
        frames = self.frames_per_tick
        tx = bytearray([ULAW_IDLE if self.ulaw else ALAW_IDLE]) * (slots * frames)
        ports = list(self.ports.values())
        for port in ports:
            try:
                tx[port.slot::slots] = port.transmit()
            except Exception:
                self.errors += 1
                log.exception("%s: transmit failed", port.name)
        rx = await self.highway.exchange(bytes(tx))
        for port in ports:
            try:
                port.receive(rx[port.slot::slots])
            except Exception:
                self.errors += 1
                log.exception("%s: receive failed", port.name)
        now = self.now()
        self.ticks += 1
        self.last_tick_at = now
        self._run_hooks(self.after_exchange, now)
        self._wake(now)

    def _run_hooks(self, hooks: list[Callable[[float], None]], now: float) -> None:
        for hook in list(hooks):
            try:
                hook(now)
            except Exception:
                self.errors += 1
                log.exception("TDM clock hook %r failed", hook)

    def start(self) -> asyncio.Task[None]:
        """Run :meth:`tick` until :meth:`stop` in a task of the running loop."""
        if self._task is None or self._task.done():
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(self._run(), name="tdm-clock")
        return self._task

    async def _run(self) -> None:
        backoff = 0.0
        while not self._stopping:
            try:
                await self.tick()
                backoff = 0.0
            except asyncio.CancelledError:
                raise
            except Exception:
                self.errors += 1
                backoff = min(1.0, backoff * 2 or 0.02)
                log.exception("TDM clock: the PCM exchange failed; retrying in %.2f s", backoff)
                await asyncio.sleep(backoff)

    async def stop(self) -> None:
        """Stop after the current tick."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        for _, waiter in self._waiters:
            if not waiter.done():
                waiter.cancel()
        self._waiters.clear()

    @property
    def running(self) -> bool:
        """True while the clock's task runs."""
        return self._task is not None and not self._task.done()

    async def wait_until(self, when: float) -> None:
        """Return after the first tick that ends at or after board time ``when`` (the clock must run)."""
        if self.last_tick_at >= when and self.ticks:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((when, waiter))
        await waiter

    def _wake(self, now: float) -> None:
        if not self._waiters:
            return
        keep = []
        for when, waiter in self._waiters:
            if when <= now:
                if not waiter.done():
                    waiter.set_result(None)
            else:
                keep.append((when, waiter))
        self._waiters = keep


def linear_samples(frame: bytes) -> array[int]:
    """16-bit linear audio as an array of samples (for analysis)."""
    samples = array("h")
    samples.frombytes(frame)
    return samples


__all__ = [
    "FRAME_BYTES",
    "FRAME_SAMPLES",
    "PcmHighway",
    "PlayoutBuffer",
    "Signal",
    "TdmClock",
    "TdmError",
    "TdmLeg",
    "TdmPort",
    "linear_samples",
]
