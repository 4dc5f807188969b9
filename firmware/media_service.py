"""The media engine as a gateway service: RTP ports from ``[rtp]``, prompts and tones from ``[media]``.

Started before SIP (whose channels ask it for RTP ports) and handed to the dialplan executor, which gives
it to the media applications.  With ``sip.direct_media`` SIP legs pass SDP through and never use it.
"""

from __future__ import annotations

import logging

from core.cli import CliCommandFailed, CliRequest, CliUsageError, CommandRegistry
from core.dialplan.executor import DialplanExecutor
from core.mediaengine import MediaEngineImpl
from firmware.config import Config

log = logging.getLogger("centralita.media")


def advertised_host(config: Config) -> str:
    """The address other ends send RTP to: the same one SIP puts in its Contact."""
    from firmware.sip_service import primary_address

    sip = config.sip
    return sip.external_address or (sip.bind if sip.bind not in ("0.0.0.0", "::") else primary_address())


class MediaService:
    """Creates the engine at start; closes every RTP port at stop."""

    name = "media"

    def __init__(self, config: Config, executor: DialplanExecutor, registry: CommandRegistry) -> None:
        self.config = config
        self.executor = executor
        self.registry = registry
        self.engine: MediaEngineImpl | None = None

    async def start(self) -> None:
        config = self.config
        self.engine = MediaEngineImpl(advertised_host(config), port_min=config.rtp.port_min,
                                      port_max=config.rtp.port_max, sounds_dir=config.media.sounds_dir,
                                      country=config.media.country, bind=config.sip.bind,
                                      rtp_timeout=float(config.rtp.timeout),
                                      hold_timeout=float(config.rtp.hold_timeout),
                                      native_relay=config.media.native_relay,
                                      relay_threads=config.media.relay_threads)
        self.executor.media = self.engine
        self.registry.unregister("rtp show stats")
        self.registry.register("rtp show stats", self._stats, "Show the RTP ports in use",
                               "Usage: rtp show stats")
        for command in ("confbridge list", "confbridge mute", "confbridge unmute"):
            self.registry.unregister(command)
        self.registry.register("confbridge list", self._confbridge_list, "List conference bridges and their parties",
                               "Usage: confbridge list [<conference>]")
        self.registry.register("confbridge mute", self._confbridge_mute, "Mute a party of a conference bridge",
                               "Usage: confbridge mute <conference> <channel>")
        self.registry.register("confbridge unmute", self._confbridge_unmute,
                               "Unmute a party of a conference bridge",
                               "Usage: confbridge unmute <conference> <channel>")
        self.registry.unregister("media show relays")
        self.registry.register("media show relays", self._relays, "Show the bridges the native RTP relay forwards",
                               "Usage: media show relays")
        log.info("media: RTP on %s ports %d-%d, tones of %s, prompts in %s", self.engine.host,
                 config.rtp.port_min, config.rtp.port_max, config.media.country, config.media.sounds_dir)

    async def stop(self) -> None:
        if self.engine is not None:
            for port in list(self.engine.ports):
                port.close()
            self.engine.close()

    def _relays(self, _request: CliRequest) -> str:
        from cython_media.relay import ACCELERATED

        engine = self.engine
        assert engine is not None
        # Per leg: datagrams in from its phone and out to it, dropped; the RTP its phone sends (relayed to the
        # other leg): packets lost (RFC 3550 A.3, from the sequence numbers) and the A.8 jitter now, in ms.
        counters = f"{'In':>8} {'Out':>8} {'Drop':>5} {'Lost':>6} {'Jitter':>6}"
        lines = [f"{'Pair':>5} {'Leg A':<6} {'Phone A':<22} {counters}  {'Leg B':<6} {'Phone B':<22} {counters}"]
        rows = engine.relay_stats()
        for pair_id, first, second, a, b in rows:
            cells = []
            for port, stats in ((first, a), (second, b)):
                remote = f"{stats.remote[0]}:{stats.remote[1]}" if stats.remote else "-"
                flow = stats.inbound
                lost, jitter = (flow.lost, f"{flow.jitter_ms:.1f}") if flow is not None else (0, "-")
                cells.append(f"{port.local_port:<6} {remote:<22} {stats.packets_in:>8} {stats.packets_out:>8} "
                             f"{stats.dropped:>5} {lost:>6} {jitter:>6}")
            lines.append(f"{pair_id:>5} " + "  ".join(cells))
        mode = ("compiled" if ACCELERATED else "pure-python") if engine.native_relay else "off"
        lines.append(f"{len(rows)} relayed pair{'s' if len(rows) != 1 else ''} (native relay: {mode})")
        return "\n".join(lines)

    def _confbridge_list(self, request: CliRequest) -> str:
        engine = self.engine
        assert engine is not None
        if request.args:
            room = engine.conferences.get(request.args[0])
            if room is None:
                raise CliCommandFailed(f"No conference bridge named '{request.args[0]}' found!")
            lines = [f"{'Channel':<32} {'Flags':<6} {'Muted':<6} CallerID",
                     f"{'=' * 32} {'=' * 6} {'=' * 6} {'=' * 16}"]
            for party in room.parties:
                lines.append(f"{party.channel.name:<32} {'':<6} {'Yes' if party.muted else 'No':<6} "
                             f"{party.channel.caller.number or '<unknown>'}")
            return "\n".join(lines)
        lines = [f"{'Conference Bridge Name':<32} {'Users':>6} {'Marked':>6} {'Locked':<6} Muted",
                 f"{'=' * 32} {'=' * 6} {'=' * 6} {'=' * 6} {'=' * 5}"]
        for room in engine.conferences:
            muted = "Yes" if room.parties and all(p.muted for p in room.parties) else "No"
            lines.append(f"{room.name:<32} {len(room.parties):>6} {0:>6} {'No':<6} {muted}")
        return "\n".join(lines)

    def _confbridge_set_mute(self, request: CliRequest, muted: bool) -> str:
        engine = self.engine
        assert engine is not None
        if len(request.args) != 2:
            raise CliUsageError()
        room = engine.conferences.get(request.args[0])
        if room is None:
            raise CliCommandFailed(f"No conference bridge named '{request.args[0]}' found!")
        wanted = request.args[1].lower()
        parties = [p for p in room.parties if p.channel.name.lower() == wanted or wanted == "all"
                   or p.channel.name.lower().startswith(wanted + "-")]
        if not parties:
            raise CliCommandFailed(f"No channel named '{request.args[1]}' found in conference {room.name}")
        for party in parties:
            party.muted = muted
        return "\n".join(f"{'Muted' if muted else 'Unmuted'} {p.channel.name}" for p in parties)

    def _confbridge_mute(self, request: CliRequest) -> str:
        return self._confbridge_set_mute(request, True)

    def _confbridge_unmute(self, request: CliRequest) -> str:
        return self._confbridge_set_mute(request, False)

    def _stats(self, _request: CliRequest) -> str:
        engine = self.engine
        assert engine is not None
        lines = [f"{'Local':<22} {'Remote':<22} {'Codec':<6} {'In':>8} {'Out':>8} Quality"]
        for port in sorted(engine.ports, key=lambda p: p.local_port):
            session = port.session
            remote = session.remote_address if session is not None else None
            remote_text = f"{remote[0]}:{remote[1]}" if remote else "-"
            lines.append(f"{port.host + ':' + str(port.local_port):<22} {remote_text:<22} {port.codec:<6} "
                         f"{port.packets_in:>8} {port.packets_out:>8} {port.quality()}")
        allocator = engine.allocator
        lines.append(f"{len(engine.ports)} RTP port{'s' if len(engine.ports) != 1 else ''} in use, "
                     f"{allocator.available} free")
        return "\n".join(lines)
