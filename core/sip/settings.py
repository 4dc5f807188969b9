"""What the SIP endpoint is configured with (built by the firmware from ``[sip]``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.callerid import CallerId
from core.sip.transaction_messages import Transport

Address = tuple[str, int]


@dataclass(frozen=True, slots=True)
class SipUserSettings:
    """A phone that registers here (``[[sip.users]]``)."""

    name: str
    secret: str
    context: str = "internal"
    callerid: CallerId | None = None
    max_contacts: int = 1
    permit: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SipTrunkSettings:
    """A provider or another PBX (``[[sip.trunks]]``)."""

    name: str
    servers: tuple[Address, ...]
    context: str = "from-trunk"
    username: str = ""
    secret: str = ""
    register: bool = False
    from_user: str = ""
    from_domain: str = ""
    expiry: int = 3600
    qualify: float = 60.0              # seconds between OPTIONS probes of each server; 0: none
    failover_timeout: float = 4.0      # no answer at all to an INVITE within this: try the next server
    transport: Transport = "udp"
    permit: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EndpointSettings:
    """The endpoint as a whole: where it is reachable, who may use it and how hard it defends itself."""

    host: str                       # the address we put in Via/Contact (the bound address, or advertised)
    port: int
    realm: str = "centralita"
    user_agent: str = "centralita"
    users: tuple[SipUserSettings, ...] = ()
    trunks: tuple[SipTrunkSettings, ...] = ()
    guest_context: str | None = None   # context for unauthenticated callers; None refuses them
    auth_failures_before_ban: int = 5
    auth_failure_window: float = 60.0
    ban_time: float = 600.0
    requests_per_second: float = 200.0
    request_burst: int = 400
    session_expires: int = 1800
    min_se: int = 90
    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    min_expires: int = 60
    max_expires: int = 3600
    default_expires: int = 3600
    auth_algorithms: tuple[str, ...] = ("MD5", "SHA-256")
    force_rport: bool = True           # answer UDP requests at their source (Asterisk's force_rport)
    nonce_secret: bytes = field(default=b"", repr=False)
