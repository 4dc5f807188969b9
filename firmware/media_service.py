"""The media engine as a gateway service: RTP ports from ``[rtp]``, prompts and tones from ``[media]``.

Started before SIP (whose channels ask it for RTP ports) and handed to the dialplan executor, which gives
it to the media applications.  With ``sip.direct_media`` SIP legs pass SDP through and never use it.
"""

from __future__ import annotations

import logging

from core.cli import CliRequest, CommandRegistry
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
                                      native_relay=config.media.native_relay)
        self.executor.media = self.engine
        self.registry.unregister("rtp show stats")
        self.registry.register("rtp show stats", self._stats, "Show the RTP ports in use",
                               "Usage: rtp show stats")
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
        lines = [f"{'Pair':>5} {'Leg A':<6} {'Phone A':<22} {'In':>8} {'Out':>8} {'Drop':>5}  "
                 f"{'Leg B':<6} {'Phone B':<22} {'In':>8} {'Out':>8} {'Drop':>5}"]
        rows = engine.relay_stats()
        for pair_id, first, second, a, b in rows:
            cells = []
            for port, stats in ((first, a), (second, b)):
                remote = f"{stats.remote[0]}:{stats.remote[1]}" if stats.remote else "-"
                cells.append(f"{port.local_port:<6} {remote:<22} {stats.packets_in:>8} {stats.packets_out:>8} "
                             f"{stats.dropped:>5}")
            lines.append(f"{pair_id:>5} " + "  ".join(cells))
        mode = ("compiled" if ACCELERATED else "pure-python") if engine.native_relay else "off"
        lines.append(f"{len(rows)} relayed pair{'s' if len(rows) != 1 else ''} (native relay: {mode})")
        return "\n".join(lines)

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
