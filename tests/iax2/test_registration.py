"""Registration both ways with MD5 and RSA (RFC 5456 §6.1), expiry, release, qualify with POKE (§6.7.1),
and the ``iax2 show peers`` / ``iax2 show registry`` tables."""

from __future__ import annotations

from core.iax2.auth import RsaKey
from core.iax2.constants import AuthMethod, FrameType, IaxCommand, InfoElement
from core.iax2.endpoint import IaxEndpoint, IaxEndpointSettings, IaxPeerSettings, IaxRegistrationSettings
from core.iax2.frames import FullFrame
from core.iax2.registration import (
    PeerRegistered,
    PeerStatus,
    PeerUnregistered,
    RegistrationChanged,
    RegistrationState,
)
from tests.iax2 import A, B, Network, of_type

SERVER, CLIENT = B, A


def _setup(secret: str = "pw", refresh: int = 60, **peer: object) -> tuple[Network, IaxEndpoint, IaxEndpoint]:
    net = Network()
    server = net.add(SERVER, IaxEndpointSettings(
        peers=(IaxPeerSettings("office", secret="pw", calltoken=False, **peer),),  # type: ignore[arg-type]
        ping_interval=0, lagrq_interval=0), seed=40)
    client = net.add(CLIENT, IaxEndpointSettings(
        registrations=(IaxRegistrationSettings(SERVER[0], "office", secret, refresh=refresh, calltoken=False),),
        ping_interval=0, lagrq_interval=0), seed=41)
    return net, server, client


def _frames(net: Network, source: tuple[str, int]) -> list[FullFrame]:
    return [f for f in (s.frame() for s in net.wire if s.source == source) if isinstance(f, FullFrame)]


def test_md5_registration_and_refresh_at_five_sixths() -> None:
    net, server, client = _setup()
    client.start(net.now)
    net.pump()
    registered = of_type(net.events(server), PeerRegistered)
    assert registered == [PeerRegistered("office", CLIENT, 60)]
    changed = of_type(net.events(client), RegistrationChanged)
    assert changed[-1].state is RegistrationState.REGISTERED and changed[-1].perceived == CLIENT
    sent = [(f.subclass, f.oseqno) for f in _frames(net, CLIENT) if f.frame_type == FrameType.IAX]
    assert sent == [(IaxCommand.REGREQ, 0), (IaxCommand.REGREQ, 1), (IaxCommand.ACK, 2)]
    regack = next(f for f in _frames(net, SERVER) if f.is_iax(IaxCommand.REGACK))
    assert regack.ies.number(InfoElement.REFRESH) == 60 and regack.ies.number(InfoElement.DATETIME)
    assert server.peer_address(server.peers["office"]) == CLIENT
    start = net.now
    net.advance(51)
    regreqs = [s for s in net.wire if s.source == CLIENT and isinstance(s.frame(), FullFrame)
               and s.frame().is_iax(IaxCommand.REGREQ)]
    assert round(regreqs[2].time - start, 3) == 50.0  # 5/6 of 60 s, on a new call number
    assert regreqs[2].frame().source_call != regreqs[0].frame().source_call  # type: ignore[union-attr]


def test_refresh_is_clamped_by_the_server() -> None:
    net, server, client = _setup(refresh=5)
    client.start(net.now)
    net.pump()
    assert of_type(net.events(server), PeerRegistered)[0].expiry == 60  # min_reg_expire
    assert client.registrations[0].refresh == 60


def test_wrong_secret_gets_regrej() -> None:
    net, server, client = _setup(secret="bad")
    client.start(net.now)
    net.pump()
    assert not of_type(net.events(server), PeerRegistered)
    assert of_type(net.events(client), RegistrationChanged)[-1].state is RegistrationState.REJECTED
    regrej = next(f for f in _frames(net, SERVER) if f.is_iax(IaxCommand.REGREJ))
    assert regrej.ies.number(InfoElement.CAUSECODE) == 29 and regrej.ies.text(InfoElement.CAUSE)
    assert not server.calls and not client.calls


def test_unknown_peer_is_challenged_then_refused() -> None:
    net = Network()
    net.add(SERVER, IaxEndpointSettings(calltoken_optional=("0.0.0.0/0",)))
    client = net.add(CLIENT, IaxEndpointSettings(
        registrations=(IaxRegistrationSettings(SERVER[0], "ghost", "pw", calltoken=False),)))
    client.start(net.now)
    net.pump()
    replies = [f.subclass for f in _frames(net, SERVER) if f.frame_type == FrameType.IAX]
    assert replies == [IaxCommand.REGAUTH, IaxCommand.REGREJ]


def test_registration_expires_ten_seconds_after_its_expiry() -> None:
    net, server, client = _setup()
    client.start(net.now)
    net.pump()
    net.events(server)
    del net.endpoints[CLIENT]
    net.advance(69)
    assert not of_type(net.events(server), PeerUnregistered)
    net.advance(2)
    assert of_type(net.events(server), PeerUnregistered) == [PeerUnregistered("office", "expired")]
    assert server.peer_address(server.peers["office"]) is None


def test_release_on_shutdown() -> None:
    net, server, client = _setup()
    client.start(net.now)
    net.pump()
    net.events(server)
    client.stop(net.now)
    net.pump()
    assert of_type(net.events(server), PeerUnregistered) == [PeerUnregistered("office", "released")]
    regrels = [f for f in _frames(net, CLIENT) if f.is_iax(IaxCommand.REGREL)]
    assert len(regrels) == 2 and regrels[1].ies.text(InfoElement.MD5_RESULT)  # authenticated, as a REGREQ


def test_timeout_when_the_server_is_silent() -> None:
    net = Network()
    client = net.add(CLIENT, IaxEndpointSettings(
        registrations=(IaxRegistrationSettings("203.0.113.5", "office", "pw", calltoken=False),)))
    client.start(net.now)
    net.pump()
    net.advance(33)
    states = [e.state for e in of_type(net.events(client), RegistrationChanged)]
    assert states == [RegistrationState.TIMEOUT]
    assert "Timeout" in client.registry_table()


def test_registration_with_call_tokens() -> None:
    net, server, client = _setup()
    net.endpoints[SERVER] = server = net.add(SERVER, IaxEndpointSettings(
        peers=(IaxPeerSettings("office", secret="pw"),), ping_interval=0, lagrq_interval=0), seed=7)
    net.endpoints[CLIENT] = client = net.add(CLIENT, IaxEndpointSettings(
        registrations=(IaxRegistrationSettings(SERVER[0], "office", "pw"),)), seed=8)
    client.start(net.now)
    net.pump()
    assert of_type(net.events(server), PeerRegistered)
    commands = [f.subclass for f in _frames(net, SERVER) if f.frame_type == FrameType.IAX]
    assert commands[:3] == [IaxCommand.CALLTOKEN, IaxCommand.REGAUTH, IaxCommand.REGACK]


def test_rsa_registration() -> None:
    key = RsaKey.generate("office")
    public = RsaKey.from_pem("office", key.public_pem())
    net = Network()
    server = net.add(SERVER, IaxEndpointSettings(
        peers=(IaxPeerSettings("office", auth=AuthMethod.RSA, inkeys=("office",), calltoken=False),)),
        keys={"office": public})
    client = net.add(CLIENT, IaxEndpointSettings(
        registrations=(IaxRegistrationSettings(SERVER[0], "office", outkey="office", calltoken=False),)),
        keys={"office": key})
    client.start(net.now)
    net.pump()
    assert of_type(net.events(server), PeerRegistered)
    regauth = next(f for f in _frames(net, SERVER) if f.is_iax(IaxCommand.REGAUTH))
    assert regauth.ies.number(InfoElement.AUTHMETHODS) == AuthMethod.RSA
    answer = [f for f in _frames(net, CLIENT) if f.is_iax(IaxCommand.REGREQ)][1]
    assert len(answer.ies.text(InfoElement.RSA_RESULT)) == 172  # base64 of 128 bytes


def test_qualify_ok_then_unreachable() -> None:
    net, server, client = _setup(qualify_ms=2000)
    client.start(net.now)
    net.pump()
    net.advance(0.5)
    statuses = of_type(net.events(server), PeerStatus)
    assert statuses and statuses[0].status.startswith("OK")
    pokes = [f for f in _frames(net, SERVER) if f.is_iax(IaxCommand.POKE)]
    assert pokes and pokes[0].dest_call == 0
    pong = next(f for f in _frames(net, CLIENT) if f.is_iax(IaxCommand.PONG))
    assert pong.source_call == 1 and pong.dest_call == pokes[0].source_call  # apathetic reply
    del net.endpoints[CLIENT]
    net.advance(65)
    statuses = of_type(net.events(server), PeerStatus)
    assert statuses[-1].status == "UNREACHABLE"
    assert "UNREACHABLE" in server.peers_table()


def test_show_peers_and_registry_layout() -> None:
    net, server, client = _setup()
    client.start(net.now)
    net.pump()
    peers = server.peers_table().splitlines()
    assert peers[0].startswith("Name/Username    Host")
    assert peers[1].startswith("office           192.0.2.1")
    assert "(D)  255.255.255.255" in peers[1] and "4569" in peers[1] and "Unmonitored" in peers[1]
    assert peers[-1] == "1 iax2 peers [0 online, 0 offline, 1 unmonitored]"
    registry = client.registry_table().splitlines()
    assert registry[0].startswith("Host") and "Perceived" in registry[0]
    assert registry[1].startswith("192.0.2.2:4569") and registry[1].endswith("60  Registered")
    assert "192.0.2.1:4569" in registry[1]
    assert registry[-1] == "1 IAX2 registrations."
