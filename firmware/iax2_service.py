"""Assembly of IAX2: the endpoint and its UDP socket, the RSA keys, the IAX2 channel driver and the
``iax2 ...`` console commands, as one service of the gateway (``[iax2]`` of the configuration)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path

from core.callerid import CallerId
from core.cli import CliRequest, CliUsageError, CommandRegistry
from core.iax2.auth import IaxAuthError, RsaKey
from core.iax2.channel import IaxChannelDriver
from core.iax2.constants import IAX_PORT, AuthMethod, MediaFormat
from core.iax2.endpoint import (
    ENCRYPTION_YES,
    IaxEndpoint,
    IaxEndpointSettings,
    IaxPeerSettings,
    IaxRegistrationSettings,
)
from core.iax2.transport import IaxTransport, TransportError
from core.pbx import Pbx
from firmware.config import Config, data_dir
from firmware.config.schema import Iax2Config
from firmware.media_service import MediaService
from firmware.services import ServiceStartError

log = logging.getLogger("centralita.iax2")
trace = logging.getLogger("centralita.iax2.trace")

_CODECS = {"ulaw": int(MediaFormat.ULAW), "alaw": int(MediaFormat.ALAW)}
_AUTH = {"md5": AuthMethod.MD5, "rsa": AuthMethod.RSA, "plaintext": AuthMethod.PLAINTEXT}


def split_host(text: str, default_port: int = IAX_PORT) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[v6]:port`` as (host, port)."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default_port
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, int(port)
    return text, default_port


def _auth(methods: Sequence[str]) -> AuthMethod:
    value = AuthMethod(0)
    for method in methods:
        value |= _AUTH[method]
    return value


def endpoint_settings(iax2: Iax2Config, port: int) -> IaxEndpointSettings:
    """The endpoint's settings from ``[iax2]`` (chan_iax2's iax.conf semantics, see docs/configuration.md)."""
    preference = tuple(_CODECS[c] for c in iax2.codecs)
    formats = 0
    for fmt in preference:
        formats |= fmt
    peers = []
    for p in iax2.peers:
        host, peer_port = split_host(p.host) if p.host != "dynamic" else (None, IAX_PORT)
        peer_formats = 0
        for codec in p.codecs:
            peer_formats |= _CODECS[codec]
        calltoken = iax2.calltoken if p.requirecalltoken == "default" else p.requirecalltoken == "yes"
        peers.append(IaxPeerSettings(
            name=p.name, host=host, port=peer_port, username=p.username, secret=p.secret, auth=_auth(p.auth),
            inkeys=tuple(p.inkeys), outkey=p.outkey, context=p.context, formats=peer_formats, trunk=p.trunk,
            encryption=ENCRYPTION_YES if p.encryption or p.force_encryption else 0,
            force_encryption=p.force_encryption, calltoken=calltoken, qualify_ms=p.qualify,
            callerid=CallerId.parse(p.callerid) if p.callerid else None, description=p.description))
    registrations = []
    for r in iax2.registrations:
        server, server_port = split_host(r.host)
        registrations.append(IaxRegistrationSettings(host=server, port=server_port, username=r.user,
                                                     secret=r.secret, outkey=r.outkey, refresh=r.refresh,
                                                     calltoken=r.calltoken))
    return IaxEndpointSettings(host=iax2.bind, port=port, peers=tuple(peers), registrations=tuple(registrations),
                               formats=formats, preference=preference,
                               guest_context=iax2.guest_context or None, min_reg_expire=iax2.min_reg_expire,
                               max_reg_expire=iax2.max_reg_expire, trunk_freq=iax2.trunk_frequency_ms / 1000.0,
                               trunk_timestamps=iax2.trunk_timestamps,
                               calltoken_optional=tuple(iax2.calltoken_optional),
                               calltoken_secret=secrets.token_bytes(32))


def load_keys(directory: Path) -> dict[str, RsaKey]:
    """Every ``NAME.pub`` and ``NAME.key`` of ``directory`` (a private key also serves as NAME's public key)."""
    keys: dict[str, RsaKey] = {}
    if not directory.is_dir():
        return keys
    for path in sorted(directory.glob("*.pub")) + sorted(directory.glob("*.key")):
        try:
            key = RsaKey.load(path)
        except (OSError, IaxAuthError) as exc:
            log.warning("IAX2 key %s not loaded: %s", path, exc)
            continue
        if key.private is not None or key.name not in keys:
            keys[key.name] = key
    return keys


class Iax2Service:
    """The ``iax2`` service: binds at start (one-line reason when it cannot), stops cleanly."""

    name = "iax2"

    def __init__(self, config: Config, pbx: Pbx, registry: CommandRegistry, *,
                 routable: Callable[[str, str, str], str] | None = None, media: MediaService | None = None) -> None:
        self.config = config
        self.pbx = pbx
        self.registry = registry
        self.routable = routable
        self.media = media
        self.endpoint: IaxEndpoint | None = None
        self.transport: IaxTransport | None = None
        self.driver: IaxChannelDriver | None = None

    async def start(self) -> None:
        iax2 = self.config.iax2
        keys_dir = iax2.keys_dir or data_dir(self.config) / "keys"
        keys = load_keys(keys_dir)
        try:
            settings = endpoint_settings(iax2, iax2.port)
        except ValueError as exc:
            raise ServiceStartError(str(exc)) from None
        endpoint = IaxEndpoint(settings, keys=keys)
        transport = IaxTransport(endpoint, self._events)
        engine = self.media.engine if self.media is not None else None
        self.driver = IaxChannelDriver(self.pbx, endpoint, transport.now, transport.flush, media=engine,
                                       guest_context=iax2.guest_context or None, routable=self.routable)
        try:
            await transport.start(iax2.bind, iax2.port)
        except TransportError as exc:
            raise ServiceStartError(str(exc)) from None
        self.endpoint, self.transport = endpoint, transport
        self.pbx.register_driver(self.driver)
        self._register_commands()
        assert transport.local_address is not None
        log.info("IAX2 on %s:%d (udp), %d peers, %d registrations, %d RSA keys from %s", iax2.bind,
                 transport.local_address[1], len(iax2.peers), len(iax2.registrations), len(keys), keys_dir)

    def _events(self) -> None:
        if self.driver is not None:
            self.driver.process_events()

    async def stop(self) -> None:
        if self.transport is not None:
            await self.transport.stop()

    # -- console --------------------------------------------------------------------------------------

    def _register_commands(self) -> None:
        r = self.registry
        for words in ("iax2 show peers", "iax2 show registry", "iax2 show channels", "iax2 show netstats",
                      "iax2 set debug"):
            r.unregister(words)
        r.register("iax2 show peers", self._peers, "List defined IAX peers", "Usage: iax2 show peers")
        r.register("iax2 show registry", self._registry, "Display IAX registration status",
                   "Usage: iax2 show registry")
        r.register("iax2 show channels", self._channels, "List active IAX channels", "Usage: iax2 show channels")
        r.register("iax2 show netstats", self._netstats, "Show IAX2 datagram counters",
                   "Usage: iax2 show netstats\n       Datagrams in and out: full, mini and trunk frames, "
                   "malformed and dropped ones.")
        r.register("iax2 set debug", self._debug, "Enable/Disable IAX debugging",
                   "Usage: iax2 set debug {on|off}\n       Logs every IAX2 full frame sent and received.")

    def _peers(self, _request: CliRequest) -> str:
        assert self.endpoint is not None
        return self.endpoint.peers_table().rstrip("\n")

    def _registry(self, _request: CliRequest) -> str:
        assert self.endpoint is not None
        return self.endpoint.registry_table().rstrip("\n")

    def _channels(self, _request: CliRequest) -> str:
        assert self.endpoint is not None and self.driver is not None
        text = self.endpoint.channels_table(self.driver.channel_names()).rstrip("\n")
        # What the Asterisk table does not say: whether each call is trunked or encrypted.
        modes = []
        for call in self.endpoint.active_calls():
            flags = [name for name, on in (("trunk", call.trunk and call.cipher is None),
                                           ("encrypted", call.cipher is not None)) if on]
            modes.append(f"  call {call.local:05d}: {', '.join(flags) or 'plain'}")
        return text + ("\n" + "\n".join(modes) if modes else "")

    def _netstats(self, _request: CliRequest) -> str:
        assert self.endpoint is not None
        stats = self.endpoint.stats
        return "\n".join(f"{name:<12} {value}" for name, value in stats.items())

    def _debug(self, request: CliRequest) -> str:
        if request.args not in (("on",), ("off",)):
            raise CliUsageError()
        on = request.args[0] == "on"
        trace.setLevel(logging.DEBUG if on else logging.NOTSET)
        return "IAX2 Debugging Enabled" if on else "IAX2 Debugging Disabled"
