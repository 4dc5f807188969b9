"""The configuration schema: one frozen dataclass per TOML table.

Why dataclasses and not msgspec or pydantic: the schema is small, start-up time and memory on a Pi
matter more than decoding speed, dataclasses are in the standard library (nothing to build on the
board), and none of those libraries knows TOML line numbers anyway -- errors must say ``FILE:LINE``,
which ``firmware.config.typed`` does from the field types.  See docs/configuration.md.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from firmware.config.typed import setting

NAME_PATTERN = r"[A-Za-z0-9_.+-]+"


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemConfig:
    """[system]: identity and where state lives."""

    name: str = setting("centralita", doc="name shown in the banner and the console prompt")
    data_dir: Path | None = setting(
        None, doc="SQLite databases, registrations, CDRs, voicemail; created if missing. Default: "
        "$STATE_DIRECTORY, else /var/lib/centralita as root, else ~/.local/state/centralita")


@dataclass(frozen=True, slots=True, kw_only=True)
class LogConfig:
    """[log]: what is logged and how it looks."""

    level: Literal["debug", "info", "warning", "error"] = setting("info", doc="minimum level logged")
    format: Literal["auto", "text", "journald"] = setting(
        "auto", doc="journald: syslog priority prefixes, no timestamps; auto: journald when stderr is "
        "the journal, text otherwise")


@dataclass(frozen=True, slots=True, kw_only=True)
class ControlConfig:
    """[control]: the console's unix socket."""

    socket: Path | None = setting(None, doc="unix socket of the console; default <data_dir>/control.sock")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsoleConfig:
    """[console]: a console on a serial port (UART) or pty."""

    device: str = setting("", doc="serial device for the console, e.g. /dev/ttyAMA0; empty: none")
    baud: int = setting(115200, min=1200, max=4_000_000, doc="serial speed in bit/s")


@dataclass(frozen=True, slots=True, kw_only=True)
class BoardConfig:
    """[board]: which hardware (or simulation) this is."""

    profile: str = setting("sim-2fxs-2fxo", doc="a profile name from board/profiles, or a path to one")

    def check(self) -> list[tuple[tuple[str | int, ...], str]]:
        from firmware.boards import available_profiles, profile_path

        if profile_path(self.profile) is None:
            known = ", ".join(available_profiles()) or "none"
            return [(("profile",), f"board.profile: no board profile '{self.profile}' (available: {known})")]
        return []


@dataclass(frozen=True, slots=True, kw_only=True)
class SipUser:
    """[[sip.users]]: a phone that registers here."""

    name: str = setting(doc="user name (the extension)", pattern=NAME_PATTERN)
    secret: str = setting(doc="digest password")
    context: str = setting("internal", doc="dialplan context for calls from this phone", pattern=NAME_PATTERN)
    callerid: str = setting("", doc='caller ID for calls from this phone, e.g. "Alice" <1001>; empty: as sent')
    max_contacts: int = setting(1, min=1, max=20, doc="registrations kept at once (the oldest is replaced)")
    permit: list[str] = setting(default_factory=list, doc="networks this phone may use (CIDR); empty: any")
    deny: list[str] = setting(default_factory=list, doc="networks refused for this phone (CIDR)")

    def check(self) -> list[tuple[tuple[str | int, ...], str]]:
        return _network_problems(self.permit, "permit") + _network_problems(self.deny, "deny")


@dataclass(frozen=True, slots=True, kw_only=True)
class SipTrunk:
    """[[sip.trunks]]: a provider or another PBX."""

    name: str = setting(doc="trunk name, used as Dial(SIP/name/number)", pattern=NAME_PATTERN)
    servers: list[str] = setting(doc="host[:port] of each server, tried in order")
    context: str = setting("from-trunk", doc="dialplan context for inbound calls", pattern=NAME_PATTERN)
    username: str = setting("", doc="authentication user (and From user) toward the trunk")
    secret: str = setting("", doc="digest password toward the trunk")
    register: bool = setting(False, doc="keep an outbound registration with the trunk")
    from_user: str = setting("", doc="user part of From on calls out; empty: the caller's number")
    from_domain: str = setting("", doc="host part of From and of the registration; empty: the server")
    expiry: int = setting(3600, min=60, max=86400, doc="registration time asked for, seconds")
    transport: Literal["udp", "tcp"] = setting("udp", doc="transport toward the trunk")
    qualify: int = setting(60, min=0, max=3600, doc="seconds between OPTIONS probes of each server; 0: none")
    failover_timeout: float = setting(4.0, min=0.5, max=32.0, doc="a server silent this long after an INVITE "
                                      "(not even 100 Trying): the call goes to the next server")

    def check(self) -> list[tuple[tuple[str | int, ...], str]]:
        if not self.servers:
            return [(("servers",), f"sip trunk '{self.name}': servers must list at least one server")]
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for i, server in enumerate(self.servers):
            host, _sep, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "")
            if _sep and not (port.isdigit() and 0 < int(port) < 65536):
                problems.append((("servers", i), f"sip trunk '{self.name}': bad port in '{server}'"))
            if not (host or server):
                problems.append((("servers", i), f"sip trunk '{self.name}': empty server"))
        return problems


def _network_problems(networks: list[str], key: str) -> list[tuple[tuple[str | int, ...], str]]:
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for i, network in enumerate(networks):
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            problems.append(((key, i), f"{key}: {network!r} is not a network (e.g. 192.168.1.0/24)"))
    return problems


def _bind_address_problem(value: str) -> str | None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return f"{value!r} is not an IPv4 or IPv6 address"
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class SipConfig:
    """[sip]: the SIP listener, its users and trunks."""

    bind: str = setting("0.0.0.0", doc="local address for UDP and TCP")
    port: int = setting(5060, min=0, max=65535, doc="UDP and TCP port (0: any free port)")
    tcp: bool = setting(True, doc="also listen on TCP")
    external_address: str = setting("", doc="address to put in Via, Contact and SDP; empty: the bound "
                                    "address, or this host's primary address when bound to all")
    realm: str = setting("centralita", doc="digest authentication realm")
    auth_algorithms: list[Literal["MD5", "SHA-256"]] = setting(
        default_factory=lambda: ["MD5", "SHA-256"],
        doc="digest algorithms challenged with, in order (clients take the first they support)")
    user_agent: str = setting("centralita", doc="User-Agent/Server header")
    guest_context: str = setting("", doc="context for callers that are not users or trunks; empty: refuse them")
    ban_failures: int = setting(5, min=1, max=1000, doc="failed authentications that ban a source")
    ban_time: int = setting(600, min=0, max=86400, doc="how long a ban lasts, seconds")
    requests_per_second: float = setting(200.0, min=1.0, max=100000.0, doc="per source, then requests are dropped")
    direct_media: bool = setting(False, doc="pass SDP between bridged SIP legs instead of anchoring RTP on the "
                                 "gateway (then no media applications on SIP calls)")
    force_rport: bool = setting(True, doc="answer UDP requests at their source address and port, as if they asked "
                                "with rport (RFC 3581); false: where their Via says (RFC 3261 §18.2.2)")
    users: list[SipUser] = setting(default_factory=list)
    trunks: list[SipTrunk] = setting(default_factory=list)

    def check(self) -> list[tuple[tuple[str | int, ...], str]]:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if not self.auth_algorithms:
            problems.append((("auth_algorithms",), "sip.auth_algorithms: list at least one algorithm"))
        bind_problem = _bind_address_problem(self.bind)
        if bind_problem:
            problems.append((("bind",), f"sip.bind: {bind_problem}"))
        if self.external_address:
            external_problem = _bind_address_problem(self.external_address)
            if external_problem:
                problems.append((("external_address",), f"sip.external_address: {external_problem}"))
        groups: tuple[tuple[str, Sequence[SipUser | SipTrunk]], ...] = (
            ("users", self.users), ("trunks", self.trunks))
        for what, entries in groups:
            seen: set[str] = set()
            for i, entry in enumerate(entries):
                if entry.name in seen:
                    problems.append(((what, i, "name"), f"sip.{what}: duplicate name '{entry.name}'"))
                seen.add(entry.name)
        return problems


@dataclass(frozen=True, slots=True, kw_only=True)
class RtpConfig:
    """[rtp]: the UDP port range for media."""

    port_min: int = setting(10000, min=1024, max=65534)
    port_max: int = setting(20000, min=1025, max=65535)
    timeout: int = setting(60, min=0, max=3600, doc="hang up a call whose RTP stopped this many seconds (0: never)")
    hold_timeout: int = setting(300, min=0, max=86400, doc="the same while the call is on hold")

    def check(self) -> list[tuple[tuple[str | int, ...], str]]:
        if self.port_min >= self.port_max:
            return [(("port_max",), f"rtp.port_max ({self.port_max}) must be above rtp.port_min "
                                    f"({self.port_min})")]
        return []


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaConfig:
    """[media]: prompts and tones."""

    sounds_dir: str = setting("/usr/share/centralita/sounds",
                              doc="prompts as Asterisk lays them out: <dir>/<language>/<name>.<ulaw|alaw|sln|wav>")
    country: str = setting("us", pattern=r"[a-z]{2}", doc="tone zone for indications (dial, ring, busy, ...)")
    native_relay: bool = setting(True, doc="relay same-codec bridges between RTP legs in the native relay thread "
                                           "(off: every packet goes through the event loop)")


@dataclass(frozen=True, slots=True, kw_only=True)
class DialplanConfig:
    """[dialplan]: the extensions.conf file and the switches for dangerous features."""

    file: Path = setting(Path("extensions.conf"), doc="extensions.conf, relative to this TOML file")
    allow_exec: bool = setting(False, doc="honour #exec lines (runs programs at load time, no shell)")
    allow_system: bool = setting(False, doc="let System()/TrySystem() run programs (never through a shell)")

    def check(self) -> list[tuple[tuple[str | int, ...], str]]:
        if not self.file.is_file():
            return [(("file",), f"dialplan.file: no such file {self.file}")]
        return []


@dataclass(frozen=True, slots=True, kw_only=True)
class CdrConfig:
    """[cdr]: call detail records (Asterisk's cdr.conf [general] and its csv/sqlite backends)."""

    enabled: bool = setting(True, doc="keep call detail records")
    csv: bool = setting(True, doc="append to <data_dir>/cdr-csv/Master.csv")
    sqlite: bool = setting(True, doc="insert into <data_dir>/cdr.sqlite (table cdr)")
    unanswered: bool = setting(False, doc="also record calls that were never answered and dialled nobody")
    congestion: bool = setting(False, doc="report congestion as CONGESTION instead of FAILED")
    endbeforehexten: bool = setting(True, doc="end the record before the h extension runs")
    initiatedseconds: bool = setting(False, doc="round billsec up from half a second")
    usegmtime: bool = setting(False, doc="write times in UTC instead of local time")


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """The whole configuration file."""

    system: SystemConfig = setting(default_factory=SystemConfig)
    log: LogConfig = setting(default_factory=LogConfig)
    control: ControlConfig = setting(default_factory=ControlConfig)
    console: ConsoleConfig = setting(default_factory=ConsoleConfig)
    board: BoardConfig = setting(default_factory=BoardConfig)
    sip: SipConfig = setting(default_factory=SipConfig)
    rtp: RtpConfig = setting(default_factory=RtpConfig)
    media: MediaConfig = setting(default_factory=MediaConfig)
    dialplan: DialplanConfig = setting(default_factory=DialplanConfig)
    cdr: CdrConfig = setting(default_factory=CdrConfig)
