"""The media engine: RTP ports for channels, the 20 ms media clock, and the audio services of the
dialplan applications (``Playback``, ``Record``, ``Echo``, ``Milliwatt``, ``Playtones``, ``SendDTMF``).

It implements :class:`core.media.MediaEngine`.  A channel's audio is its ``audio`` attribute, set by its
driver: an :class:`~core.mediaengine.port.RtpPort` for SIP legs.  Applications run on that port;
bridges connect two ports (:meth:`MediaEngineImpl.connect`) so that packets flow between them without
decoding.  When both legs of a bridge use the same codec and neither needs the audio (RFC 4733 digits on
both sides, nothing playing or echoing), their sockets go to the native relay (:mod:`cython_media.relay`:
a loop in its own thread, SSRC/sequence/timestamp rewritten, RFC 4733 events and RTCP forwarded) and come
back to the event loop when the bridge ends or a leg needs media again; its idle events are the legs'
RTP timeout.  Generated audio (prompts, tones, the milliwatt) is written by one clock callback every 20 ms
for all channels together, scheduled on absolute times so that it does not drift.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

from core.channel import Channel, DigitReceived, HungUp
from core.media import MediaUnavailable, PlaybackResult, RecordResult
from core.mediaengine.port import FRAME_BYTES, FRAME_SAMPLES, RtpPort
from core.rtp.ports import PortAllocationError, RtpPortAllocator
from core.rtp.session import RelayedStretch
from core.tones import ToneError, ToneGenerator, tone_plan
from cython_media import g711

if TYPE_CHECKING:
    from core.mediaengine.conference import ConferenceRooms
    from core.sounds import SoundReader
    from cython_media import relay as native

log = logging.getLogger("centralita.media")

FRAME_SECONDS = FRAME_SAMPLES / 8000
# ITU-T G.711 Table 5: the digital milliwatt, 1 kHz at 0 dBm0, as the u-law sequence Asterisk's Milliwatt()
# sends (app_milliwatt.c).
_MILLIWATT = g711.ulaw2lin(bytes([0x1E, 0x0B, 0x0B, 0x1E, 0x9E, 0x8B, 0x8B, 0x9E]) * (FRAME_SAMPLES // 8))
_DTMF_FREQUENCIES = {
    "1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "A": (697, 1633),
    "4": (770, 1209), "5": (770, 1336), "6": (770, 1477), "B": (770, 1633),
    "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "C": (852, 1633),
    "*": (941, 1209), "0": (941, 1336), "#": (941, 1477), "D": (941, 1633),
}
SILENCE = bytes(FRAME_BYTES)

Source = Callable[[], bytes | None]  # the next 20 ms frame of a generator, None when it is done


class AudioPort(Protocol):
    """What the engine needs of a channel's audio, RTP or TDM: 20 ms frames of 16-bit linear audio at
    8 kHz in and out, a place to hand received frames to when connected, and its engine."""

    engine: MediaEngineImpl
    closed: bool
    frame_sink: Callable[[bytes], None] | None
    echo: bool  # Echo(): what is received goes straight back

    async def read_frame(self) -> bytes | None:
        """The next received frame (None once closed)."""

    def write_frame(self, linear: bytes) -> None:
        """Send a frame toward the far end."""

    def drain(self) -> None:
        """Drop frames received and not read yet."""

    def send_digit(self, digit: str, duration_ms: int) -> bool:
        """Send a DTMF digit toward the far end in the port's own way (RFC 4733, in-band tones)."""


class MediaClock:
    """Writes one frame of every running generator to its port every 20 ms."""

    def __init__(self) -> None:
        self._sources: dict[AudioPort, tuple[Source, asyncio.Future[None]]] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._next = 0.0

    def start(self, port: AudioPort, source: Source) -> asyncio.Future[None]:
        """Run ``source`` on ``port`` (replacing what ran there); the future completes when it ends."""
        self.stop(port)
        port.engine.unrelay(port)  # generated audio goes into the port's own stream
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._sources[port] = (source, done)
        if self._handle is None:
            self._next = loop.time()
            self._tick()
        return done

    def stop(self, port: AudioPort) -> None:
        """Stop what runs on ``port`` (its future completes)."""
        entry = self._sources.pop(port, None)
        if entry is not None and not entry[1].done():
            entry[1].set_result(None)
        if entry is not None:
            port.engine.media_changed(port)

    def running(self, port: AudioPort) -> bool:
        """Something is being played on ``port``."""
        return port in self._sources

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        for port, (source, done) in list(self._sources.items()):
            frame = None if port.closed else source()
            if frame is None:
                self._sources.pop(port, None)
                if not done.done():
                    done.set_result(None)
                port.engine.media_changed(port)
                continue
            port.write_frame(frame)
        if not self._sources:
            self._handle = None
            return
        self._next += FRAME_SECONDS
        now = loop.time()
        if self._next < now - 0.2:  # the loop stalled: do not burst to catch up
            self._next = now
        self._handle = loop.call_at(self._next, self._tick)


class MediaEngineImpl:
    """RTP ports from ``[port_min, port_max]`` on ``host``; prompts from ``sounds_dir``; tones of ``country``."""

    def __init__(self, host: str, *, port_min: int = 10000, port_max: int = 20000,
                 sounds_dir: str | Path = "/usr/share/centralita/sounds", country: str = "us",
                 bind: str | None = None, rtp_timeout: float = 0.0, hold_timeout: float = 0.0,
                 native_relay: bool = True, relay_threads: int = 0) -> None:
        self.host = host
        self.native_relay = native_relay
        self.relay_threads = relay_threads  # 0: one per CPU (at most 4)
        self._relay: native.RelayPool | None = None
        self._relay_reader = False
        self.relays: dict[int, tuple[RtpPort, RtpPort]] = {}  # the native relay's pairs
        self.rtp_timeout = rtp_timeout
        self.hold_timeout = hold_timeout
        self._watchdog: asyncio.TimerHandle | None = None
        self.bind = bind if bind is not None else host
        self.sounds_dir = Path(sounds_dir)
        self.country = country
        self.allocator: RtpPortAllocator[tuple[socket.socket, socket.socket]] = RtpPortAllocator(
            self._bind_pair, port_min, port_max)
        self.clock = MediaClock()
        self.ports: set[RtpPort] = set()
        self._conferences: ConferenceRooms | None = None

    # -- ports ------------------------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        return True

    def _bind_pair(self, port: int) -> tuple[socket.socket, socket.socket]:
        family = socket.AF_INET6 if ":" in self.bind else socket.AF_INET
        rtp = socket.socket(family, socket.SOCK_DGRAM)
        rtcp = socket.socket(family, socket.SOCK_DGRAM)
        try:
            rtp.bind((self.bind, port))
            rtcp.bind((self.bind, port + 1))
        except OSError:
            rtp.close()
            rtcp.close()
            raise
        rtp.setblocking(False)
        rtcp.setblocking(False)
        return rtp, rtcp

    async def open_rtp(self) -> RtpPort:
        """A new RTP port (an even port and the odd one above it for RTCP)."""
        try:
            number, (rtp_sock, rtcp_sock) = self.allocator.allocate()
        except PortAllocationError as exc:
            raise MediaUnavailable(str(exc)) from None
        loop = asyncio.get_running_loop()
        port = RtpPort(self, self.host, number)
        try:
            port.attach(rtp_sock, rtcp_sock)
        except (OSError, ValueError) as exc:
            rtp_sock.close()
            rtcp_sock.close()
            self.allocator.release(number)
            raise MediaUnavailable(f"cannot open RTP port {number}: {exc}") from None
        self.ports.add(port)
        if (self.rtp_timeout or self.hold_timeout) and self._watchdog is None:
            self._watchdog = loop.call_later(1.0, self._check_activity)
        return port

    def _check_activity(self) -> None:
        """Asterisk's ``rtptimeout``/``rtpholdtimeout``: a port that has received nothing for that long
        while its call is up (on hold: the longer limit) reports it; its driver hangs the call up."""
        import time

        self._watchdog = None
        now = time.monotonic()
        for port in list(self.ports):
            negotiated = port.negotiated
            if port.closed or negotiated is None or port.on_timeout is None or port.relay_pair is not None:
                continue  # (a relayed port's silence is reported by the relay's idle event)
            held = negotiated.remote_hold or not negotiated.direction.sends
            limit = self.hold_timeout if held else self.rtp_timeout
            if limit and now - port.last_received > limit:
                log.warning("no RTP on port %d for %.0f s: hanging up", port.local_port, now - port.last_received)
                callback, port.on_timeout = port.on_timeout, None
                callback()
        if self.ports:
            self._watchdog = asyncio.get_running_loop().call_later(1.0, self._check_activity)

    def released(self, port: RtpPort) -> None:
        """A port closed: its number goes back to the pool."""
        if port in self.ports:
            self.ports.discard(port)
            self.clock.stop(port)
            self.allocator.release(port.local_port)

    def connect(self, first: AudioPort, second: AudioPort) -> None:
        """Audio both ways between two ports until :meth:`disconnect` (the bridge's media).

        Two RTP ports relay packets (:meth:`RtpPort.forward`); any other pair (an RTP port and a TDM port
        of an analog line) hands decoded 20 ms frames to each other through ``frame_sink``.
        """
        for port in (first, second):
            self.clock.stop(port)
            if isinstance(port, RtpPort):
                self.unrelay(port)
            if hasattr(port, "echo"):
                port.echo = False
            port.drain()
        if isinstance(first, RtpPort) and isinstance(second, RtpPort):
            first.peer, second.peer = second, first
            self.media_changed(first)
            return
        # A port carrying encoded G.711 of its own (IAX2) relays with an RTP port without decoding.
        for own, rtp in ((first, second), (second, first)):
            if isinstance(rtp, RtpPort) and hasattr(own, "join_rtp"):
                own.join_rtp(rtp)
                return
        first.frame_sink = second.write_frame
        second.frame_sink = first.write_frame

    def disconnect(self, first: AudioPort, second: AudioPort) -> None:
        """End :meth:`connect`."""
        if isinstance(first, RtpPort) and isinstance(second, RtpPort):
            self.unrelay(first)
            self.unrelay(second)
            if first.peer is second:
                first.peer = None
            if second.peer is first:
                second.peer = None
            return
        for own, rtp in ((first, second), (second, first)):
            if isinstance(rtp, RtpPort) and hasattr(own, "leave_rtp"):
                own.leave_rtp(rtp)
        first.frame_sink = None
        second.frame_sink = None

    # -- the native relay (same-codec bridges) -----------------------------------------------------------

    def _relayable(self, first: RtpPort, second: RtpPort) -> bool:
        """Two connected ports the relay can take: the same codec, RFC 4733 digits on both (no in-band
        conversion), nothing generated, echoed or decoded on either."""
        if not self.native_relay or first.peer is not second or second.peer is not first:
            return False
        now = asyncio.get_running_loop().time()
        for port in (first, second):
            negotiated, session = port.negotiated, port.session
            if (port.closed or port.sockets is None or negotiated is None or session is None or port.echo
                    or port.frame_sink is not None or self.clock.running(port) or now < port.tones_until
                    or negotiated.dtmf_payload_type is None or session.remote_address is None):
                return False
        return first.codec == second.codec

    def _relay_engine(self) -> native.RelayPool:
        from cython_media import relay as native  # loaded with the first relayed bridge

        relay = self._relay
        if relay is None:
            relay = self._relay = native.RelayPool(self.relay_threads)
        if not self._relay_reader:
            loop = asyncio.get_running_loop()
            for fd in relay.filenos():
                loop.add_reader(fd, self._relay_events)
            self._relay_reader = True
        relay.start()
        return relay

    def _leg(self, port: RtpPort, other: RtpPort) -> native.Leg:
        """``port`` as a relay leg: its sockets, its phone, its outgoing stream continued (RFC 3550 §5.1),
        the other leg's payload types mapped to its own, its RTP timeout."""
        from cython_media import relay as native  # loaded with the first relayed bridge

        negotiated, other_negotiated, session, sockets = port.negotiated, other.negotiated, port.session, port.sockets
        assert negotiated is not None and other_negotiated is not None and session is not None
        assert sockets is not None and negotiated.dtmf_payload_type is not None
        assert other_negotiated.dtmf_payload_type is not None
        sequence, timestamp = port.stream_position()
        held = negotiated.remote_hold or not negotiated.direction.sends
        timeout = (self.hold_timeout if held else self.rtp_timeout) if port.on_timeout is not None else 0.0
        return native.Leg(sockets[0], ssrc=session.sender.ssrc, remote=session.remote_address, latch=True,
                          rtcp_sock=sockets[1], rtcp_remote=session.remote_rtcp_address, next_seq=sequence,
                          next_timestamp=timestamp, rtp_timeout=timeout,
                          event_payload_type=negotiated.dtmf_payload_type,
                          payload_types={other_negotiated.payload_type: negotiated.payload_type,
                                         other_negotiated.dtmf_payload_type: negotiated.dtmf_payload_type})

    def media_changed(self, port: AudioPort) -> None:
        """Something about ``port`` changed (negotiated media, a generator ended, a new peer): relay it
        natively when it can be, with the leg's new remote and payload types (only RTP ports are relayed)."""
        if not isinstance(port, RtpPort):
            return
        peer = port.peer
        if port.relay_pair is not None:
            self.unrelay(port)
        if peer is None or not self._relayable(port, peer):
            return
        from cython_media import relay as native  # loaded with the first relayed bridge

        if peer.relay_pair is not None:
            self.unrelay(peer)
        relay = self._relay_engine()
        port.listen(False)
        peer.listen(False)
        try:
            pair_id = relay.add_pair(self._leg(port, peer), self._leg(peer, port), clock_rate=8000,
                                     rtcp=native.RtcpMode.FORWARD)
        except native.RelayError as exc:
            log.warning("native relay refused ports %d/%d: %s", port.local_port, peer.local_port, exc)
            port.listen(True)
            peer.listen(True)
            return
        port.relay_pair = peer.relay_pair = pair_id
        self.relays[pair_id] = (port, peer)
        log.debug("ports %d and %d relayed natively (pair %d)", port.local_port, peer.local_port, pair_id)

    def unrelay(self, port: AudioPort) -> None:
        """Take ``port`` (and its peer) back from the native relay: the event loop reads its sockets again
        and their streams continue where the relay left them (a port of another kind is never relayed)."""
        from cython_media import relay as native  # loaded with the first relayed bridge

        pair_id = getattr(port, "relay_pair", None)
        if pair_id is None or not isinstance(port, RtpPort):
            return
        ports = self.relays.pop(pair_id, None)
        relay = self._relay
        final: tuple[native.LegStats, native.LegStats] | None = None
        if relay is not None:
            try:
                final = relay.remove_pair(pair_id)
            except native.RelayError as exc:
                log.warning("native relay pair %d: %s", pair_id, exc)
        for index, relayed in enumerate(ports or (port,)):
            stats = final[index] if final is not None else None
            if stats is None:
                relayed.relay_ended(None, None, None, 0, 0)
            else:
                assert final is not None
                relayed.relay_ended(stats.next_seq, stats.next_timestamp, stats.last_seen,
                                    stats.packets_in - stats.rtcp_in, stats.packets_out - stats.rtcp_out,
                                    stretch=relayed_stretch(relayed, stats, final[1 - index]))
        if not self.relays and relay is not None:
            relay.stop()  # no thread while nothing is relayed

    def _relay_events(self) -> None:
        from cython_media import relay as native  # loaded with the first relayed bridge

        relay = self._relay
        if relay is None:
            return
        for event in relay.events():
            ports = self.relays.get(event.pair_id)
            if ports is None:
                continue
            port = ports[event.side]
            if isinstance(event, native.RtpTimeout) and port.on_timeout is not None:
                log.warning("no RTP on port %d for %.0f s (relayed): hanging up", port.local_port, event.idle)
                callback, port.on_timeout = port.on_timeout, None
                callback()
            elif isinstance(event, native.RemoteLatched):
                log.debug("port %d latched %s to %s:%d", port.local_port, "RTCP" if event.rtcp else "RTP",
                          event.address[0], event.address[1])

    def relay_stretch(self, port: RtpPort) -> RelayedStretch | None:
        """The quality counters of ``port``'s stretch on the native relay so far (None when not relayed)."""
        from cython_media import relay as native  # loaded with the first relayed bridge

        pair_id, relay = port.relay_pair, self._relay
        ports = self.relays.get(pair_id) if pair_id is not None else None
        if relay is None or ports is None or pair_id is None:
            return None
        try:
            stats = relay.stats(pair_id)
        except native.RelayError:
            return None
        side = 0 if ports[0] is port else 1
        return relayed_stretch(port, stats[side], stats[1 - side])

    def relay_stats(self) -> list[tuple[int, RtpPort, RtpPort, native.LegStats, native.LegStats]]:
        """The natively relayed pairs with their counters (``media show relays``)."""
        from cython_media import relay as native  # loaded with the first relayed bridge

        relay = self._relay
        rows = []
        for pair_id, (first, second) in sorted(self.relays.items()):
            if relay is None:
                break
            try:
                a, b = relay.stats(pair_id)
            except native.RelayError:
                continue
            rows.append((pair_id, first, second, a, b))
        return rows

    def close(self) -> None:
        """Stop the native relay (the ports are closed by their owners)."""
        for pair_id in list(self.relays):
            first, _ = self.relays[pair_id]
            self.unrelay(first)
        relay, self._relay = self._relay, None
        if relay is not None:
            if self._relay_reader:
                with contextlib.suppress(RuntimeError):
                    loop = asyncio.get_running_loop()
                    for fd in relay.filenos():
                        loop.remove_reader(fd)
                self._relay_reader = False
            relay.close()

    # -- the MediaEngine interface ----------------------------------------------------------------------

    def _port(self, channel: Channel) -> AudioPort:
        # An RtpPort of a SIP leg, an IaxAudioPort, a TdmLeg of an analog line (core.mediaengine.tdm).
        port = getattr(channel, "audio", None)
        if port is None or not callable(getattr(port, "write_frame", None)) or getattr(port, "closed", True):
            raise MediaUnavailable(f"{channel.name} has no audio stream")
        return cast(AudioPort, port)

    def sound_exists(self, name: str, language: str) -> bool:
        from core.sounds import sound_exists  # the prompt code loads with the first prompt

        return sound_exists(name, language, sounds_dir=self.sounds_dir)

    async def play(self, channel: Channel, files: Sequence[str], *, interrupt_digits: str = "",
                   language: str = "en") -> PlaybackResult:
        from core.sounds import SoundFileError, SoundReader, find_sound

        port = self._port(channel)
        for name in files:
            path = find_sound(name, language, sounds_dir=self.sounds_dir)
            if path is None:
                raise MediaUnavailable(f"no sound file {name!r} for language {language!r} in {self.sounds_dir}")
            try:
                reader = SoundReader(path)
            except (OSError, SoundFileError) as exc:
                raise MediaUnavailable(f"cannot read {path}: {exc}") from None
            with contextlib.closing(reader):
                done = self.clock.start(port, _reader_source(reader))
                digit = await self._until(channel, done, interrupt_digits)
                self.clock.stop(port)
            if digit:
                return PlaybackResult(digit, completed=False)
            if channel.is_hungup:
                return PlaybackResult(None, completed=False)
        return PlaybackResult(None)

    async def _until(self, channel: Channel, done: asyncio.Future[None], digits: str) -> str | None:
        """Wait for ``done``; a digit among ``digits`` (returned) or a hang-up ends the wait early."""
        while not done.done():
            waiter = asyncio.ensure_future(channel.wait_event_ready())
            try:
                await asyncio.wait((done, waiter), return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
            while channel.has_event():
                event = channel.poll_event()
                if isinstance(event, HungUp) or event is None:
                    return None
                if isinstance(event, DigitReceived) and event.digit in digits:
                    return event.digit
        return None

    async def record(self, channel: Channel, path: str, *, silence_s: float = 0.0, max_s: float = 0.0,
                     terminators: str = "#", beep: bool = True) -> RecordResult:
        port = self._port(channel)
        if beep:
            beep_done = self.clock.start(port, _tone_source(ToneGenerator("!1000/250"), FRAME_BYTES * 13))
            await self._until(channel, beep_done, "")
        from core.sounds import SoundFileError, SoundWriter

        try:
            writer = SoundWriter(path)
        except (OSError, SoundFileError) as exc:
            log.warning("Record: cannot write %s: %s", path, exc)
            return RecordResult("ERROR")
        port.drain()
        loop = asyncio.get_running_loop()
        started = loop.time()
        quiet_since: float | None = None
        status = "HANGUP"
        try:
            while True:
                if channel.is_hungup:
                    status = "HANGUP"
                    break
                event = channel.poll_event() if channel.has_event() else None
                if isinstance(event, HungUp):
                    break
                if isinstance(event, DigitReceived) and event.digit in terminators:
                    status = "DTMF"
                    break
                try:
                    frame = await asyncio.wait_for(port.read_frame(), timeout=0.1)
                except asyncio.TimeoutError:
                    frame = SILENCE
                if frame is None:
                    break
                writer.write(frame)
                now = loop.time()
                if max_s and now - started >= max_s:
                    status = "TIMEOUT"
                    break
                if silence_s:
                    if _is_silent(frame):
                        quiet_since = quiet_since if quiet_since is not None else now
                        if now - quiet_since >= silence_s:
                            status = "SILENCE"
                            break
                    else:
                        quiet_since = None
        finally:
            writer.close()
        return RecordResult(status, loop.time() - started)

    @property
    def conferences(self) -> ConferenceRooms:
        """The conference rooms (the mixer is loaded with the first ``ConfBridge``)."""
        if self._conferences is None:
            from core.mediaengine.conference import ConferenceRooms

            self._conferences = ConferenceRooms()
        return self._conferences

    async def conference(self, channel: Channel, room: str) -> str:
        """Put the channel in conference ``room`` until it hangs up (``CONFBRIDGE_RESULT``: HANGUP)."""
        port = self._port(channel)
        self.clock.stop(port)
        port.echo = False
        port.drain()
        conference, party = self.conferences.join(room, channel, port)
        try:
            while not channel.is_hungup and not port.closed:
                event = await channel.next_event()
                if isinstance(event, HungUp):
                    break
        finally:
            self.conferences.leave(conference, party)
        return "HANGUP"

    async def echo(self, channel: Channel) -> None:
        port = self._port(channel)
        self.clock.stop(port)
        self.unrelay(port)
        port.echo = True
        try:
            while not channel.is_hungup:
                event = await channel.next_event()
                if isinstance(event, HungUp):
                    return
                if isinstance(event, DigitReceived):
                    if event.digit == "#":  # app_echo.c: '#' ends the echo
                        return
                    port.send_digit(event.digit, event.duration_ms)  # and DTMF goes back too
        finally:
            port.echo = False

    async def milliwatt(self, channel: Channel, *, old_style: bool = False) -> None:
        port = self._port(channel)
        if old_style:
            done = self.clock.start(port, lambda: _MILLIWATT)
        else:
            done = self.clock.start(port, _tone_source(ToneGenerator("1004", level_dbm0=0.0)))
        try:
            await self._until(channel, done, "")
        finally:
            self.clock.stop(port)

    async def start_tones(self, channel: Channel, tones: str) -> None:
        port = self._port(channel)
        try:
            generator = ToneGenerator(tone_plan(tones, self.country))
        except (ToneError, ValueError) as exc:
            raise MediaUnavailable(f"bad tone list {tones!r}: {exc}") from None
        self.clock.start(port, _tone_source(generator))

    async def stop_tones(self, channel: Channel) -> None:
        port = getattr(channel, "audio", None)
        if port is not None and callable(getattr(port, "write_frame", None)):
            self.clock.stop(port)

    def play_dtmf_tone(self, port: RtpPort, digit: str, duration_ms: int) -> bool:
        """Generate one DTMF digit in ``port``'s stream (Q.23 frequencies, -7 dBm0 per tone pair as
        Asterisk sends them); relayed audio into the port pauses meanwhile.  False for a non-DTMF digit."""
        pair = _DTMF_FREQUENCIES.get(digit.upper())
        if pair is None:
            return False
        on = max(40, duration_ms)
        off = 40
        generator = ToneGenerator(f"!{pair[0]}+{pair[1]}/{on},!0/{off}", level_dbm0=-7.0)
        port.tones_until = asyncio.get_running_loop().time() + (on + off) / 1000
        self.clock.start(port, _tone_source(generator, 2 * 8 * (on + off)))
        return True

    async def send_inband_dtmf(self, channel: Channel, digits: str, duration_ms: int) -> None:
        port = self._port(channel)
        for digit in digits.upper():
            pair = _DTMF_FREQUENCIES.get(digit)
            if pair is None:
                continue
            on = max(40, duration_ms)
            generator = ToneGenerator(f"!{pair[0]}+{pair[1]}/{on},!0/{max(40, on // 2)}", level_dbm0=-7.0)
            samples = (on + max(40, on // 2)) * 8
            done = self.clock.start(port, _tone_source(generator, 2 * samples))
            await self._until(channel, done, "")
            if channel.is_hungup:
                return


def relayed_stretch(port: RtpPort, stats: native.LegStats, other: native.LegStats) -> RelayedStretch:
    """``port``'s share of a natively relayed stretch for its RTP session's statistics, from its leg's
    counters (``stats``) and the other leg's (``other``): what its phone sent (received, lost, jitter), what
    the relay sent it in its stream (the other leg's forwarded packets; payload octets taken as the datagrams
    less the 12-byte RTP header) and the phone's last RTCP report about that stream (RFC 3550 §6.4.1)."""
    from core.rtp.rtcp import ReportBlock

    inbound, outbound, report = stats.inbound, other.inbound, stats.report
    sent = outbound.forwarded if outbound is not None else 0
    octets = max(0, outbound.forwarded_bytes - 12 * sent) if outbound is not None else 0
    block = None
    if report is not None and port.session is not None:
        # No LSR/DLSR: they refer to the other phone's sender reports, not ours (no round-trip time here).
        block = ReportBlock(port.session.sender.ssrc, report.fraction_lost, report.cumulative_lost,
                            report.highest_sequence, report.jitter)
    if inbound is None:
        return RelayedStretch(0, 0, 0.0, 0.0, sent, octets, block)
    return RelayedStretch(inbound.received, inbound.lost, inbound.mean_jitter, inbound.max_jitter, sent, octets,
                          block)


def _reader_source(reader: SoundReader) -> Source:
    frames: Iterator[object] = iter(reader.frames())

    def source() -> bytes | None:
        frame = next(frames, None)
        return None if frame is None else frame.audio  # type: ignore[attr-defined]

    return source


def _tone_source(generator: ToneGenerator, total_bytes: int | None = None) -> Source:
    left = [total_bytes]

    def source() -> bytes | None:
        remaining = left[0]
        if remaining is not None:
            if remaining <= 0:
                return None
            left[0] = remaining - FRAME_BYTES
        return generator.read(FRAME_SAMPLES)

    return source


def _is_silent(frame: bytes, threshold: int = 256) -> bool:
    """No sample louder than ``threshold`` (about -42 dBm0): Asterisk's Record silence test is energy-based;
    this is the simple peak version, enough to end a recording after the caller stops talking."""
    import array

    samples = array.array("h", frame)
    return max(samples, default=0) < threshold and -min(samples, default=0) < threshold


__all__ = ["MediaClock", "MediaEngineImpl"]
