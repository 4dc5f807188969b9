"""Assembly of SIP: the endpoint, its sockets, the registrar with its database, the SIP channel driver and
the ``sip ...`` console commands, as one service of the gateway."""

from __future__ import annotations

import logging
import secrets
import socket
from pathlib import Path

from core.callerid import CallerId
from core.cli import CliRequest, CliUsageError, CommandRegistry
from core.pbx import Pbx
from core.sip.channel import SipChannelDriver
from core.sip.dns import is_address
from core.sip.endpoint import SipEndpoint
from core.sip.registrar import LocationService
from core.sip.registrar_store import SqliteBindingStore
from core.sip.settings import EndpointSettings, SipTrunkSettings, SipUserSettings
from core.sip.transport import SipTransport, TransportError
from firmware import __version__
from firmware.config import Config, data_dir
from firmware.media_service import MediaService
from firmware.services import ServiceStartError
from firmware.sip_locate import locate_all, split_server

log = logging.getLogger("centralita.sip")
trace = logging.getLogger("centralita.sip.trace")


def primary_address() -> str:
    """This host's address toward the outside (no packet is sent: a UDP socket is only connected)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere, only selects an interface
        return str(probe.getsockname()[0])
    except OSError:
        return "127.0.0.1"
    finally:
        probe.close()


def _server(text: str) -> tuple[str, int]:
    host, port = split_server(text)
    return host, port or 5060


def _domain_of(server: str) -> str:
    """A trunk configured by name keeps the name as its domain (Request-URI, From, To), as providers
    expect; one configured by address leaves the domain to the address."""
    host, _port = split_server(server)
    return "" if is_address(host) else host


def endpoint_settings(config: Config, port: int, located: dict[str, list[tuple[str, int]]] | None = None
                      ) -> EndpointSettings:
    """The endpoint's settings from ``[sip]``; ``located`` has the trunks' servers as addresses (see
    :mod:`firmware.sip_locate`), otherwise they are taken as written."""
    sip = config.sip
    host = sip.external_address or (sip.bind if sip.bind not in ("0.0.0.0", "::") else primary_address())
    users = tuple(
        SipUserSettings(name=u.name, secret=u.secret, context=u.context,
                        callerid=CallerId.parse(u.callerid) if u.callerid else None,
                        max_contacts=u.max_contacts, permit=tuple(u.permit), deny=tuple(u.deny))
        for u in sip.users)
    trunks = tuple(
        SipTrunkSettings(name=t.name, context=t.context,
                         servers=tuple(located[t.name] if located is not None else (_server(s) for s in t.servers)),
                         username=t.username, secret=t.secret, register=t.register, from_user=t.from_user,
                         from_domain=t.from_domain or _domain_of(t.servers[0]), expiry=t.expiry,
                         transport=t.transport,
                         qualify=float(t.qualify), failover_timeout=t.failover_timeout)
        for t in sip.trunks)
    return EndpointSettings(host=host, port=port, realm=sip.realm, user_agent=f"{sip.user_agent}/{__version__}",
                            users=users, trunks=trunks, guest_context=sip.guest_context or None,
                            auth_failures_before_ban=sip.ban_failures, ban_time=float(sip.ban_time),
                            requests_per_second=sip.requests_per_second,
                            request_burst=max(10, int(sip.requests_per_second * 2)),
                            auth_algorithms=tuple(sip.auth_algorithms), force_rport=sip.force_rport,
                            nonce_secret=secrets.token_bytes(32))


class SipService:
    """The ``sip`` service: binds the sockets at start (one-line reason when it cannot), stops cleanly."""

    name = "sip"

    def __init__(self, config: Config, pbx: Pbx, registry: CommandRegistry, redirect: object,
                 routable: object = None, media: MediaService | None = None) -> None:
        self.config = config
        self.pbx = pbx
        self.registry = registry
        self.redirect = redirect
        self.routable = routable
        self.media = media
        self.endpoint: SipEndpoint | None = None
        self.transport: SipTransport | None = None
        self.driver: SipChannelDriver | None = None
        self.located: dict[str, list[tuple[str, int]]] = {}

    async def start(self) -> None:
        sip = self.config.sip
        path: Path = data_dir(self.config) / "sip_registrations.sqlite"
        try:
            store = SqliteBindingStore(path)
        except Exception as exc:
            raise ServiceStartError(f"cannot open {path}: {exc}") from None
        location = LocationService(store, max_contacts=max((u.max_contacts for u in sip.users), default=1))
        located = {t.name: await locate_all(list(t.servers), t.transport) for t in sip.trunks}
        self.located = located
        # The endpoint needs the port actually bound (sip.port = 0 picks one), so bind first.
        settings = endpoint_settings(self.config, sip.port, located)
        endpoint = SipEndpoint(settings, location)
        transport = SipTransport(endpoint, self._events)
        try:
            await transport.start(sip.bind, sip.port, tcp=sip.tcp)
        except TransportError as exc:
            raise ServiceStartError(str(exc)) from None
        assert transport.local_address is not None
        if transport.local_address[1] != sip.port:
            endpoint.settings = endpoint_settings(self.config, transport.local_address[1], located)
        self.endpoint, self.transport = endpoint, transport
        location.restore(transport.now(), endpoint.wallclock())
        engine = None if sip.direct_media or self.media is None else self.media.engine
        self.driver = SipChannelDriver(self.pbx, endpoint, transport.now, transport.flush,
                                       redirect=self.redirect, routable=self.routable,  # type: ignore[arg-type]
                                       media=engine)
        self.pbx.register_driver(self.driver)
        endpoint.start_registrations(transport.now())
        endpoint.start_qualify(transport.now())
        transport.flush()
        self._register_commands()
        log.info("SIP on %s:%d (udp%s), %d users, %d trunks", sip.bind, transport.local_address[1],
                 "+tcp" if sip.tcp else "", len(sip.users), len(sip.trunks))

    def _events(self) -> None:
        if self.driver is not None:
            self.driver.process_events()

    async def stop(self) -> None:
        if self.endpoint is not None and self.transport is not None:
            self.endpoint.stop_registrations(self.transport.now())
            self.transport.flush()
            await self.transport.stop()

    # -- console --------------------------------------------------------------------------------------

    def _register_commands(self) -> None:
        r = self.registry
        for words in ("sip show peers", "sip show registry", "sip show channels", "sip set debug"):
            r.unregister(words)
        r.register("sip show peers", self._peers, "List SIP peers", "Usage: sip show peers")
        r.register("sip show registry", self._registry, "List SIP registration status",
                   "Usage: sip show registry")
        r.register("sip show channels", self._channels, "List active SIP channels", "Usage: sip show channels")
        r.register("sip set debug", self._debug, "Enable/Disable SIP message tracing",
                   "Usage: sip set debug {on|off}\n       Logs every SIP message sent and received.")

    def _peers(self, request: CliRequest) -> str:
        endpoint = self.endpoint
        assert endpoint is not None and self.transport is not None
        now = self.transport.now()
        lines = [f"{'Name/username':<25} {'Host':<39} {'Dyn':<3} {'Port':<8} {'Status':<12} Description"]
        online = offline = 0
        for user in endpoint.settings.users:
            bindings = endpoint.location.lookup(user.name, now)
            if bindings:
                host, port = bindings[0].contact_address
                online += 1
                lines.append(f"{user.name + '/' + user.name:<25} {host:<39} {'D':<3} {port:<8} {'OK':<12}")
            else:
                offline += 1
                lines.append(f"{user.name + '/' + user.name:<25} {'(Unspecified)':<39} {'D':<3} {0:<8} "
                             f"{'UNKNOWN':<12}")
        unmonitored = 0
        for trunk in endpoint.settings.trunks:
            name = trunk.name + "/" + (trunk.username or trunk.name)
            for host, port in trunk.servers:
                status = endpoint.server_status.get((trunk.name, (host, port)))
                if trunk.qualify <= 0 or status is None:
                    unmonitored += 1
                    text = "Unmonitored"
                else:
                    text = status.describe()
                    if status.status in ("OK", "LAGGED"):
                        online += 1
                    else:
                        offline += 1
                lines.append(f"{name:<25} {host:<39} {'':<3} {port:<8} {text:<12} trunk")
        total = len(endpoint.settings.users) + sum(len(t.servers) for t in endpoint.settings.trunks)
        lines.append(f"{total} sip peers [Monitored: {online} online, {offline} offline "
                     f"Unmonitored: {unmonitored} online, 0 offline]")
        return "\n".join(lines)

    def _registry(self, request: CliRequest) -> str:
        endpoint = self.endpoint
        assert endpoint is not None
        import email.utils

        lines = [f"{'Host':<39} {'dnsmgr':<6} {'Username':<14} {'Refresh':>7} {'State':<20} Reg.Time"]
        for registration in endpoint.registrations.values():
            host, port = registration.server
            when = email.utils.formatdate(registration.registered_at, localtime=True) \
                if registration.registered_at else ""
            username = registration.trunk.username or registration.trunk.name
            lines.append(f"{host + ':' + str(port):<39} {'N':<6} {username:<14} {registration.granted:>7} "
                         f"{registration.state:<20} {when}")
        count = len(endpoint.registrations)
        lines.append(f"{count} SIP registration{'' if count == 1 else 's'}.")
        return "\n".join(lines)

    def _channels(self, request: CliRequest) -> str:
        endpoint = self.endpoint
        assert endpoint is not None
        lines = [f"{'Peer':<16} {'User/ANR':<16} {'Call ID':<32} {'State':<12} Channel"]
        calls = [c for c in endpoint.live_calls.values() if not c.ended]
        for call in calls:
            name = getattr(call.channel, "name", "")
            lines.append(f"{call.peer[0]:<16} {(call.user or call.trunk or call.caller.number):<16} "
                         f"{call.call_id[:32]:<32} {call.state.value:<12} {name}")
        lines.append(f"{len(calls)} active SIP dialog{'' if len(calls) == 1 else 's'}")
        return "\n".join(lines)

    def _debug(self, request: CliRequest) -> str:
        if request.args not in (("on",), ("off",)):
            raise CliUsageError()
        on = request.args[0] == "on"
        trace.setLevel(logging.DEBUG if on else logging.NOTSET)
        return "SIP Debugging enabled" if on else "SIP Debugging Disabled"
