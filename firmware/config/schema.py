"""The configuration schema: one frozen dataclass per TOML table.

Why dataclasses and not msgspec or pydantic: the schema is small, start-up time and memory on a Pi
matter more than decoding speed, dataclasses are in the standard library (nothing to build on the
board), and none of those libraries knows TOML line numbers anyway -- errors must say ``FILE:LINE``,
which ``firmware.config.typed`` does from the field types.  See docs/configuration.md.
"""

from __future__ import annotations

import ipaddress
import re
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


def _host_port_problem(value: str) -> str | None:
    """``host`` or ``host:port`` (IPv6 in brackets); None when well formed."""
    host, port = value, ""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else rest
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
    if not host:
        return f"{value!r} has no host"
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        return f"bad port in {value!r}"
    return None


IaxCodec = Literal["ulaw", "alaw"]
IaxAuth = Literal["md5", "rsa", "plaintext"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Iax2Peer:
    """[[iax2.peers]]: another IAX2 system (iax.conf ``type=friend``): we call it and it may call us."""

    name: str = setting(doc="peer name, used as Dial(IAX2/name/number); the USERNAME it calls us with",
                        pattern=NAME_PATTERN)
    host: str = setting("dynamic", doc="host[:port] (port 4569 by default), or dynamic: it registers to us")
    username: str = setting("", doc="the USERNAME we call it with (its name for us); empty: none sent")
    secret: str = setting("", doc="shared secret for MD5 (and plaintext); several separated by ';' are accepted")
    auth: list[IaxAuth] = setting(default_factory=lambda: ["md5"],
                                  doc="methods we ask of it and answer it with (plaintext only when listed)")
    inkeys: list[str] = setting(default_factory=list, doc="RSA public keys (<keys_dir>/<name>.pub) it may sign with")
    outkey: str = setting("", doc="our RSA private key (<keys_dir>/<name>.key) to answer its RSA challenges")
    context: str = setting("from-iax2", doc="dialplan context for its calls", pattern=NAME_PATTERN)
    codecs: list[IaxCodec] = setting(default_factory=list, doc="codecs allowed with it; empty: iax2.codecs")
    trunk: bool = setting(False, doc="send its calls' voice in trunk (meta) frames")
    encryption: bool = setting(False, doc="AES-128 encrypt its calls (needs md5 and a secret)")
    force_encryption: bool = setting(False, doc="refuse its calls that are not encrypted")
    requirecalltoken: Literal["default", "yes", "no"] = setting(
        "default", doc="call tokens (RFC 5456 §6.2.2 as chan_iax2): default: iax2.calltoken; no for "
        "old peers such as iaxmodem")
    qualify: int = setting(0, min=0, max=60000, doc="POKE it and call it LAGGED above this many ms; 0: no qualify")
    callerid: str = setting("", doc='caller ID for its calls, e.g. "Branch" <200>; empty: as sent')
    description: str = setting("", doc="shown by iax2 show peers")

    def check(self) -> list[tuple[tuple[str | int, ...], str]]:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.trunk and self.encryption:
            problems.append((("encryption",), f"iax2 peer '{self.name}': trunk and encryption are mutually exclusive "
                             "(as in Asterisk: trunked voice is never encrypted)"))
        if (self.encryption or self.force_encryption) and ("md5" not in self.auth or not self.secret):
            problems.append((("encryption",), f"iax2 peer '{self.name}': encryption needs auth md5 and a secret "
                             "(the key comes from the MD5 challenge)"))
        if "rsa" in self.auth and not (self.inkeys or self.outkey):
            problems.append((("auth",), f"iax2 peer '{self.name}': auth rsa needs inkeys or outkey"))
        if not self.auth:
            problems.append((("auth",), f"iax2 peer '{self.name}': auth must list at least one method"))
        if self.host != "dynamic":
            problem = _host_port_problem(self.host)
            if problem:
                problems.append((("host",), f"iax2 peer '{self.name}': {problem}"))
        return problems


@dataclass(frozen=True, slots=True, kw_only=True)
class Iax2Registration:
    """[[iax2.registrations]]: we register to a server (iax.conf ``register => user:secret@host``)."""

    user: str = setting(doc="the name we register as")
    secret: str = setting("", doc="MD5 secret")
    host: str = setting(doc="server host[:port] (port 4569 by default)")
    outkey: str = setting("", doc="RSA private key (<keys_dir>/<name>.key) when the server asks for RSA")
    refresh: int = setting(60, min=10, max=3600, doc="seconds asked for; refreshed before they run out")
    calltoken: bool = setting(True, doc="send call tokens (false for servers that lack them)")

    def check(self) -> list[tuple[tuple[str | int, ...], str]]:
        problem = _host_port_problem(self.host)
        return [(("host",), f"iax2 registration '{self.user}': {problem}")] if problem else []


@dataclass(frozen=True, slots=True, kw_only=True)
class Iax2Config:
    """[iax2]: the IAX2 listener (RFC 5456), its peers and our registrations."""

    enabled: bool = setting(False, doc="listen for IAX2 and offer Dial(IAX2/...)")
    bind: str = setting("0.0.0.0", doc="local address of the UDP socket")
    port: int = setting(4569, min=0, max=65535, doc="UDP port (0: any free port)")
    guest_context: str = setting("", doc="context for calls that authenticate as no peer; empty: refuse them")
    calltoken: bool = setting(True, doc="require call tokens of peers whose requirecalltoken is default")
    calltoken_optional: list[str] = setting(default_factory=list, doc="networks (CIDR) exempt from call tokens")
    trunk_frequency_ms: int = setting(20, min=10, max=1000, doc="how often trunk frames are sent, ms")
    trunk_timestamps: bool = setting(False, doc="send trunk frames with per-call timestamps")
    codecs: list[IaxCodec] = setting(default_factory=lambda: ["ulaw", "alaw"], doc="codecs, in preference order")
    keys_dir: Path | None = setting(None, doc="RSA keys as Asterisk's /var/lib/asterisk/keys: <name>.pub and "
                                    "<name>.key (PEM); default <data_dir>/keys")
    min_reg_expire: int = setting(60, min=10, max=3600, doc="shortest registration granted to dynamic peers")
    max_reg_expire: int = setting(3600, min=60, max=86400, doc="longest registration granted")
    peers: list[Iax2Peer] = setting(default_factory=list)
    registrations: list[Iax2Registration] = setting(default_factory=list)

    def check(self) -> list[tuple[tuple[str | int, ...], str]]:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        bind_problem = _bind_address_problem(self.bind)
        if bind_problem:
            problems.append((("bind",), f"iax2.bind: {bind_problem}"))
        if not self.codecs:
            problems.append((("codecs",), "iax2.codecs: list at least one codec"))
        problems += _network_problems(self.calltoken_optional, "calltoken_optional")
        seen: set[str] = set()
        for i, peer in enumerate(self.peers):
            if peer.name in seen:
                problems.append((("peers", i, "name"), f"iax2.peers: duplicate name '{peer.name}'"))
            seen.add(peer.name)
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
    relay_threads: int = setting(0, min=0, max=64,
                                 doc="threads of the native relay, each relaying its share of the pairs "
                                     "(0: one per CPU, at most 4)")


_COUNTRIES = r"[a-z]{2}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalogPortConfig:
    """[[analog.ports]]: settings of one FXS or FXO port; empty/zero/"auto" takes the country's or [analog]'s."""

    number: int = setting(min=1, max=64, doc="port number of the board profile")
    country: str = setting("", doc="country profile of this port (tones, ring cadence, caller ID, flash, "
                           "disconnect); empty: analog.country")
    context: str = setting("", pattern=r"(" + NAME_PATTERN + r")?",
                           doc="dialplan context of calls from this port; empty: analog.fxs_context/fxo_context")
    exten: str = setting("", doc="FXO: extension of incoming calls; empty: analog.fxo_exten")
    callerid: str = setting("", doc='FXS: who the phone is, e.g. "Kitchen" <2001>; empty: analog.fxs_callerid')
    groups: list[int] = setting(default_factory=list, doc="FXO: hunt groups (Dial(FXO/g1/...)); empty: [1]")
    callerid_standard: Literal["auto", "bell202", "v23", "v23_jp", "dtmf", "none"] = setting(
        "auto", doc="caller ID sent (FXS) or decoded (FXO)")
    callerid_start: Literal["auto", "before_ring", "after_first_ring"] = setting("auto", doc="when caller ID is sent")
    callerid_alert: Literal["auto", "none", "polarity", "dtas", "rpas"] = setting(
        "auto", doc="what announces caller ID sent before the first ring")
    ring_cadence: list[int] = setting(default_factory=list, doc="FXS ring cadence, ms on/off pairs; empty: country")
    flash_min_ms: int = setting(0, min=0, max=5000, doc="FXS: shortest on-hook taken as a hook flash; 0: country")
    flash_max_ms: int = setting(0, min=0, max=5000, doc="FXS: longest on-hook taken as a hook flash; 0: country")
    flash_ms: int = setting(0, min=0, max=5000, doc="FXO: length of the hook flash generated; 0: country")
    disconnect: list[Literal["battery", "loop_current", "polarity", "tone"]] = setting(
        default_factory=list, doc="FXO: how a far-end hang-up is recognised; empty: country")
    disconnect_tone: str = setting("", doc="FXO: tone list (or indication name) of the disconnect tone; "
                                   "empty: the country's busy tone")
    busy_count: int = setting(0, min=0, max=10, doc="FXO: cycles of the disconnect tone before hanging up; 0: country")
    loop_drop_ms: int = setting(100, min=20, max=5000, doc="FXO: loop current gone this long is a disconnect")
    answer_on_polarity: Literal["auto", "yes", "no"] = setting(
        "auto", doc="FXO: an outgoing call is answered when the line reverses")
    dial_mode: Literal["dtmf", "pulse"] = setting("dtmf", doc="FXO: how numbers are dialled")
    wait_for_dialtone: bool = setting(True, doc="FXO: wait for dial tone (at most 3 s) before dialling")
    immediate: bool = setting(False, doc="FXS: hotline, the dialplan's s extension at off-hook; "
                              "FXO: offer calls at the first ring without waiting for caller ID")
    call_waiting: bool = setting(True, doc="FXS: signal a second call during a call (flash to answer)")
    answer_polarity_reversal: bool = setting(False, doc="FXS: reverse the line when the far end answers")
    disconnect_open_loop_ms: int = setting(0, min=0, max=2000, doc="FXS: open the loop this long when the far "
                                           "end hangs up (KEWL, DAHDI 500); 0: no")
    echo_cancel: Literal["auto", "yes", "no"] = setting("auto", doc="software echo canceller; auto: FXO only")
    echo_tail_ms: int = setting(128, min=16, max=512, doc="echo tail the canceller covers")
    rx_gain_db: float = setting(0.0, min=-24.0, max=24.0, doc="gain of what the line sends, dB")
    tx_gain_db: float = setting(0.0, min=-24.0, max=24.0, doc="gain of what is sent to the line, dB")

    def check(self) -> list[tuple[tuple[str | int, ...], str]]:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.country and not re.fullmatch(_COUNTRIES, self.country):
            problems.append((("country",), f"analog port {self.number}: country must be two lower-case letters"))
        if self.ring_cadence and (len(self.ring_cadence) % 2 or any(ms <= 0 for ms in self.ring_cadence)):
            problems.append((("ring_cadence",), f"analog port {self.number}: ring_cadence takes positive "
                             "on/off pairs in ms"))
        if self.flash_min_ms and self.flash_max_ms and self.flash_min_ms >= self.flash_max_ms:
            problems.append((("flash_max_ms",), f"analog port {self.number}: flash_max_ms must be above "
                             "flash_min_ms"))
        if any(not 1 <= g <= 63 for g in self.groups):
            problems.append((("groups",), f"analog port {self.number}: groups are numbers 1-63"))
        return problems


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalogConfig:
    """[analog]: the FXS and FXO ports of the board."""

    country: str = setting("us", pattern=_COUNTRIES, doc="country profile of every port (tones, ring cadence, "
                           "caller ID, DAA registers, flash, disconnect): us uk de fr es it nl ar br mx au jp cn in")
    fxs_context: str = setting("from-fxs", pattern=NAME_PATTERN, doc="context of calls the FXS phones make")
    fxs_callerid: str = setting('"FXS {port}" <200{port}>', doc="who each FXS phone is ({port}: its number)")
    fxo_context: str = setting("from-pstn", pattern=NAME_PATTERN, doc="context of calls ringing in on FXO lines")
    fxo_exten: str = setting("s", doc="extension of calls ringing in on FXO lines")
    first_digit_timeout: float = setting(16.0, min=1.0, max=120.0, doc="FXS: seconds of dial tone before "
                                         "congestion (Asterisk firstdigittimeout)")
    digit_timeout: float = setting(8.0, min=0.5, max=60.0, doc="FXS: seconds between digits of an incomplete "
                                   "number (gendigittimeout)")
    match_digit_timeout: float = setting(3.0, min=0.2, max=30.0, doc="FXS: seconds to wait for more digits when "
                                         "the number could be longer (matchdigittimeout)")
    howler_after: float = setting(30.0, min=1.0, max=600.0, doc="FXS: seconds of busy/congestion off hook before "
                                  "the howler")
    ports: list[AnalogPortConfig] = setting(default_factory=list)

    def check(self) -> list[tuple[tuple[str | int, ...], str]]:
        from drivers.fxs_fxo.countries import COUNTRIES

        seen: set[int] = set()
        problems: list[tuple[tuple[str | int, ...], str]] = []
        known = ", ".join(sorted(COUNTRIES))
        if self.country not in COUNTRIES and self.country != "gb":
            problems.append((("country",), f"analog.country: no country profile '{self.country}' ({known})"))
        for i, port in enumerate(self.ports):
            if port.country and port.country not in COUNTRIES and port.country != "gb":
                problems.append((("ports", i, "country"), f"analog port {port.number}: no country profile "
                                 f"'{port.country}' ({known})"))
            if port.number in seen:
                problems.append((("ports", i, "number"), f"analog.ports: port {port.number} is listed twice"))
            seen.add(port.number)
        return problems


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
    iax2: Iax2Config = setting(default_factory=Iax2Config)
    rtp: RtpConfig = setting(default_factory=RtpConfig)
    media: MediaConfig = setting(default_factory=MediaConfig)
    analog: AnalogConfig = setting(default_factory=AnalogConfig)
    dialplan: DialplanConfig = setting(default_factory=DialplanConfig)
    cdr: CdrConfig = setting(default_factory=CdrConfig)
