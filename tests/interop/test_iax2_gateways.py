"""Two gateways trunked to each other over IAX2, each a real ``centralita run`` process on loopback.

Gateway A has SIP phone 1001 (a SIPp UAC playing A-law RTP from sip-tester's g711a.pcap); its dialplan sends
``2XXXX`` to ``IAX2/gwb/XXXX``.  Gateway B has SIP phone 1002 (a SIPp UAS that answers with PCMA) and sends
what comes from gateway A (context ``from-iax2``) to ``SIP/${EXTEN}``, or to Echo() on 600.  Each pair of
gateways runs in one of three modes, as the issue asks (the round trip through B's Echo() on ``20600`` is
checked once, in trunk mode):

* ``trunk``: ``trunk = true`` on both sides: voice travels in meta trunk frames (seen on the wire and in
  ``iax2 show channels``/``iax2 show peers``: ``(T)``);
* ``encryption``: AES-128 (``encryption = true``): ``iax2 show channels`` says encrypted and none of the
  caller's audio appears in clear in the IAX2 datagrams;
* ``rsa``: RSA authentication with Asterisk-style keys (``<keys_dir>/gwa.key`` signs, ``gwa.pub``
  verifies) and call tokens required (``requirecalltoken = "yes"``): the NEW is answered by CALLTOKEN, the
  AUTHREQ asks for RSA and the AUTHREP carries an RSA RESULT.

In every mode the RTP the SIP phone on A sends arrives at the SIP phone on B byte for byte (A-law end to end:
the IAX2 legs repacketise without transcoding), and the IAX2 datagrams decode in tshark's iax2 dissector
without malformed or expert errors (the trunk mode's timestamp-less trunk frames are Wireshark's known false
alarm and are named as such; encrypted frames cannot be dissected and are not checked).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.iax2.auth import RsaKey
from core.iax2.constants import AuthMethod, FrameType, IaxCommand, InfoElement
from core.iax2.frames import FullFrame, parse_datagram
from firmware.config import DEFAULT_CONFIG
from tests.interop.capture import Capture
from tests.interop.iax2_tshark import LoopbackCapture, flagged, is_trunk_without_timestamps, udp_payloads
from tests.interop.sipp import Sipp
from tests.interop.test_media_sipp import free_media_port, pcap
from tests.interop.test_sip_sipp import register
from tests.support import GatewayProcess, free_port

pytestmark = pytest.mark.interop

PLAN_A = """
[internal]
exten => _2XXXX,1,Dial(IAX2/gwb/${EXTEN:1},10)
 same => n,Hangup()
[from-iax2]
exten => 600,1,Answer()
 same => n,Echo()
"""

PLAN_B = """
[from-iax2]
exten => _100X,1,Dial(SIP/${EXTEN},10)
 same => n,Hangup()
exten => 0600,1,Answer()
 same => n,Echo()
[internal]
exten => 600,1,Answer()
 same => n,Echo()
"""


def _peer(name: str, port: int, username: str, mode: str) -> str:
    lines = ['[[iax2.peers]]', f'name = "{name}"', f'host = "127.0.0.1:{port}"', f'username = "{username}"',
             'context = "from-iax2"', 'codecs = ["alaw", "ulaw"]']
    if mode == "rsa":
        me = "gwa" if name == "gwb" else "gwb"
        lines += ['auth = ["rsa"]', f'inkeys = ["{name}"]', f'outkey = "{me}"', 'requirecalltoken = "yes"']
    else:
        lines += ['secret = "trunk-s3cret"', 'auth = ["md5"]', 'requirecalltoken = "no"']
    if mode == "trunk":
        lines.append("trunk = true")
    if mode == "encryption":
        lines.append("encryption = true")
    return "\n".join(lines) + "\n"


@dataclass
class Pair:
    a: GatewayProcess
    b: GatewayProcess
    iax_a: int
    iax_b: int
    mode: str


def _gateway(tmp_path: Path, factory: Callable[..., GatewayProcess], name: str, plan: str, iax_port: int,
             peer: str, rtp: tuple[int, int]) -> GatewayProcess:
    directory = tmp_path / name
    directory.mkdir(exist_ok=True)
    config = directory / "centralita.toml"
    shutil.copy(DEFAULT_CONFIG, config)
    (directory / "extensions.conf").write_text(plan)
    with config.open("a") as out:
        out.write(f'\n[iax2]\nenabled = true\nbind = "127.0.0.1"\nport = {iax_port}\ncodecs = ["alaw", "ulaw"]\n'
                  f'keys_dir = "{directory / "keys"}"\ntrunk_frequency_ms = 20\n\n{peer}')
    return factory("--config", str(config), "--set", f"rtp.port_min={rtp[0]}", "--set", f"rtp.port_max={rtp[1]}")


@pytest.fixture(params=["trunk", "encryption", "rsa"])
def pair(request: pytest.FixtureRequest, tmp_path: Path, gateway_factory: Callable[..., GatewayProcess]) -> Pair:
    mode = str(request.param)
    iax_a, iax_b = free_port(), free_port()
    for name in ("a", "b"):
        (tmp_path / name / "keys").mkdir(parents=True)
    if mode == "rsa":
        for name in ("gwa", "gwb"):
            key = RsaKey.generate(name)
            own, other = ("a", "b") if name == "gwa" else ("b", "a")
            (tmp_path / own / "keys" / f"{name}.key").write_bytes(key.private_pem())
            (tmp_path / other / "keys" / f"{name}.pub").write_bytes(key.public_pem())
    a = _gateway(tmp_path, gateway_factory, "a", PLAN_A, iax_a, _peer("gwb", iax_b, "gwa", mode), (31000, 31999))
    b = _gateway(tmp_path, gateway_factory, "b", PLAN_B, iax_b, _peer("gwa", iax_a, "gwb", mode), (32000, 32999))
    return Pair(a, b, iax_a, iax_b, mode)


@pytest.fixture
def phones(pair: Pair, tmp_path: Path) -> Iterator[tuple[Sipp, Sipp]]:
    caller = Sipp(("127.0.0.1", pair.a.sip_port), tmp_path)
    callee = Sipp(("127.0.0.1", pair.b.sip_port), tmp_path)
    register(caller, "1001", "demo-1001")
    register(callee, "1002", "demo-1002")
    yield caller, callee
    caller.stop()
    callee.stop()


def _frames(path: Path, ports: list[int]) -> list[FullFrame]:
    frames = []
    for payload in udp_payloads(path, ports).values():
        try:
            frame = parse_datagram(payload)
        except Exception:
            continue
        if isinstance(frame, FullFrame):
            frames.append(frame)
    return frames


def test_a_sip_call_crosses_two_gateways_over_iax2_with_its_audio_intact(pair: Pair, phones: tuple[Sipp, Sipp],
                                                                         tmp_path: Path) -> None:
    caller, callee = phones
    ports = [pair.iax_a, pair.iax_b]
    iax_capture = LoopbackCapture(tmp_path / f"iax2-{pair.mode}.pcap", ports, free_port())
    iax_capture.start()
    callee_media = free_media_port()
    caller_media = free_media_port()
    rtp_capture = Capture(tmp_path / f"rtp-{pair.mode}.pcap",
                          f"udp port {callee_media} or udp port {caller_media}").start()
    try:
        uas = callee.scenario_with("uas_answer.xml", **{"RTP/AVP 0": "RTP/AVP 8", "rtpmap:0 PCMU": "rtpmap:8 PCMA"})
        callee.start(uas, "-mp", str(callee_media), timeout=30)
        scenario = caller.scenario_with("uac_media.xml", PCAP_FILE=pcap("g711a.pcap"), PAUSE_MS="6000")
        caller.start(scenario, "-s", "21002", "-set", "caller", "1001", "-au", "1001", "-ap", "demo-1001",
                     "-mp", str(caller_media), timeout=30)
        # While the call is up, the consoles say how it travels.
        channels_a = channels_b = peers_a = ""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ok, channels_a = pair.a.console("iax2 show channels")
            assert ok, channels_a
            if "1 active IAX channel" in channels_a:
                break
            time.sleep(0.2)
        time.sleep(1.0)
        _, channels_a = pair.a.console("iax2 show channels")
        _, channels_b = pair.b.console("iax2 show channels")
        _, peers_a = pair.a.console("iax2 show peers")
        result = caller.wait(timeout=40)
        assert result.ok, result.output[-3000:] + result.errors
        callee_result = callee.wait(timeout=20)
        assert callee_result.ok, callee_result.output[-3000:] + callee_result.errors
    finally:
        rtp_capture.stop()
        pcap_path = iax_capture.stop()
    assert "1 active IAX channel" in channels_a and "1 active IAX channel" in channels_b, (channels_a, channels_b)
    assert "IAX2/gwb-" in channels_a and "alaw" in channels_a, channels_a
    packets = rtp_capture.rtp(callee_media, caller_media)
    sent = [p for p in packets if p.source_port == caller_media and p.payload_type == 8]
    arrived = [p for p in packets if p.destination_port == callee_media and p.payload_type == 8]
    assert len(sent) >= 200, f"SIPp sent only {len(sent)} RTP packets"
    # Byte for byte: the payloads the phone on B receives are the ones the phone on A sent, in order.
    sent_payloads = [p.payload for p in sent]
    arrived_payloads = [p.payload for p in arrived]
    assert len(arrived_payloads) >= 0.95 * len(sent_payloads), (len(arrived_payloads), len(sent_payloads))
    start = sent_payloads.index(arrived_payloads[0])
    matching = sum(1 for x, y in zip(sent_payloads[start:], arrived_payloads, strict=False) if x == y)
    assert matching >= 0.95 * len(arrived_payloads), (matching, len(arrived_payloads))

    frames = _frames(pcap_path, ports)
    payloads = udp_payloads(pcap_path, ports)
    if pair.mode == "trunk":
        assert "(T)" in peers_a, peers_a
        assert "trunk" in channels_a and "trunk" in channels_b, (channels_a, channels_b)
        trunk_frames = [p for p in payloads.values() if p[:2] == b"\x00\x00" and not p[2] & 0x80]
        assert len(trunk_frames) >= 100, len(trunk_frames)
    if pair.mode == "encryption":
        assert "(E)" in peers_a, peers_a
        assert "encrypted" in channels_a and "encrypted" in channels_b, (channels_a, channels_b)
        wire = b"".join(payloads.values())
        assert not any(p in wire for p in sent_payloads[50:60]), "the caller's audio travelled in clear"
    else:
        bad = flagged(pcap_path, ports)
        for number in bad:
            assert pair.mode == "trunk" and is_trunk_without_timestamps(payloads[number]), \
                f"tshark flags frame {number} of {pcap_path}"
    if pair.mode == "rsa":
        iax = [f for f in frames if f.frame_type == FrameType.IAX]
        assert any(f.is_iax(IaxCommand.CALLTOKEN) for f in iax), "no CALLTOKEN exchange"
        news = [f for f in iax if f.is_iax(IaxCommand.NEW)]
        assert news and any(f.ies.raw(InfoElement.CALLTOKEN) for f in news), "no NEW with a token"
        authreqs = [f for f in iax if f.is_iax(IaxCommand.AUTHREQ)]
        assert authreqs and authreqs[0].ies.number(InfoElement.AUTHMETHODS) == int(AuthMethod.RSA)
        authreps = [f for f in iax if f.is_iax(IaxCommand.AUTHREP)]
        assert authreps and authreps[0].ies.text(InfoElement.RSA_RESULT)


@pytest.mark.parametrize("pair", ["trunk"], indirect=True)
def test_echo_through_the_other_gateway_returns_the_callers_audio(pair: Pair, phones: tuple[Sipp, Sipp],
                                                                  tmp_path: Path) -> None:
    caller, _callee = phones
    media = free_media_port()
    capture = Capture(tmp_path / "echo.pcap", f"udp port {media}").start()
    try:
        scenario = caller.scenario_with("uac_media.xml", PCAP_FILE=pcap("g711a.pcap"), PAUSE_MS="5000")
        result = caller.run(scenario, "-s", "20600", "-set", "caller", "1001", "-au", "1001", "-ap", "demo-1001",
                            "-mp", str(media), timeout=30)
    finally:
        capture.stop()
    assert result.ok, result.output[-3000:] + result.errors
    packets = capture.rtp(media)
    sent = [p for p in packets if p.source_port == media and p.payload_type == 8]
    back = [p for p in packets if p.destination_port == media and p.payload_type == 8]
    assert len(sent) >= 150
    sent_payloads = {p.payload for p in sent}
    assert len(back) >= 0.9 * len(sent), (len(back), len(sent))
    echoed = sum(1 for p in back if p.payload in sent_payloads)
    assert echoed >= 0.95 * len(back), (echoed, len(back))
