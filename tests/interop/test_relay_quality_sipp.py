"""Call quality of a natively relayed call, against real SIPp phones.

Phone 1001 calls 1002 through a running gateway; both legs agree PCMA with RFC 4733, so the bridge goes to
the native RTP relay.  The caller plays SIPp's ``g711a.pcap`` with a few RTP packets cut out of it (a pcap
rewritten here with plain ``struct``: the loss the network would have caused).  What a user sees:
``media show relays`` counts the lost packets on the caller's leg while the call is up, and the call
record (``RTPAUDIOQOS``, written to the CDR's userfield by the ``h`` extension) reports the packets the
gateway received from the caller and exactly the packets cut out.
"""

from __future__ import annotations

import re
import shutil
import struct
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cython_media import NO_EXTENSIONS
from firmware.config import DEFAULT_CONFIG
from tests.interop.sipp import Sipp
from tests.interop.test_sip_sipp import cdr_rows, register
from tests.support import GatewayProcess

pytestmark = pytest.mark.interop

PLAN = """
[internal]
exten => _100X,1,Dial(SIP/${EXTEN},5)
exten => h,1,Set(CDR(userfield)=${RTPAUDIOQOS})
"""

CUT = (20, 21, 22, 100, 150, 200)  # positions of the RTP packets removed from the caller's stream


def pcap_without(source: str, destination: Path, cut: tuple[int, ...]) -> tuple[int, int]:
    """Copy the pcap ``source`` (libpcap format, Ethernet/IPv4/UDP/RTP) to ``destination`` without the RTP
    packets at the positions in ``cut``; returns (packets kept, packets cut)."""
    data = Path(source).read_bytes()
    magic = struct.unpack_from("<I", data)[0]
    order = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    out = bytearray(data[:24])
    offset, index, kept = 24, 0, 0
    while offset + 16 <= len(data):
        captured = struct.unpack_from(order + "I", data, offset + 8)[0]
        record = data[offset:offset + 16 + captured]
        offset += 16 + captured
        if index not in cut:
            out += record
            kept += 1
        index += 1
    destination.write_bytes(bytes(out))
    return kept, index - kept


@pytest.fixture
def gateway(tmp_path: Path, gateway_factory: Callable[..., GatewayProcess]) -> GatewayProcess:
    config = tmp_path / "centralita.toml"
    shutil.copy(DEFAULT_CONFIG, config)
    (tmp_path / "extensions.conf").write_text(PLAN)
    return gateway_factory("--config", str(config))


def relay_row(text: str, phone_port: int) -> tuple[int, int, float] | None:
    """(packets in, lost, jitter ms) of the relayed leg whose phone is at ``phone_port``."""
    for line in text.splitlines()[1:-1]:
        cells = line.split()
        for start in (1, 8):
            leg = cells[start:start + 7]
            if len(leg) == 7 and leg[1].endswith(f":{phone_port}"):
                return int(leg[2]), int(leg[5]), float(leg[6])
    return None


def test_relayed_call_reports_the_loss_in_the_call_record(gateway: GatewayProcess, phones: Callable[[], Sipp],
                                                         tmp_path: Path) -> None:
    from tests.interop.capture import Capture
    from tests.interop.test_media_sipp import free_media_port, pcap

    lossy = tmp_path / "g711a-lossy.pcap"
    kept, cut = pcap_without(pcap("g711a.pcap"), lossy, CUT)
    assert cut == len(CUT) and kept > 200
    callee, caller = phones(), phones()
    register(callee, "1002", "demo-1002")
    callee_media, caller_media = free_media_port(), free_media_port()
    while caller_media == callee_media:
        caller_media = free_media_port()
    capture = Capture(tmp_path / "lossy.pcap", f"udp port {caller_media}").start()
    seen: list[tuple[int, int, float]] = []
    relays = ""
    try:
        callee.start(callee.scenario_with("uas_answer_media.xml", PCAP_FILE=pcap("g711a.pcap")),
                     "-mp", str(callee_media))
        # The pcap lasts 7 s (30 ms packets): the caller hangs up a second after it ends.
        caller.start(caller.scenario_with("uac_media.xml", PCAP_FILE=str(lossy), PAUSE_MS="8000"), "-s", "1002",
                     "-set", "caller", "1001", "-au", "1001", "-ap", "demo-1001", "-mp", str(caller_media),
                     timeout=25)
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline:
            ok, relays = gateway.console("media show relays")
            row = relay_row(relays, caller_media) if ok else None
            if row is not None:
                seen.append(row)
                if row[0] >= kept - 2:
                    break  # the whole stream went through the relay
            time.sleep(0.2)
        result = caller.wait(timeout=25)
        assert result.ok, result.output[-3000:] + result.errors
        answered = callee.wait(timeout=25)
        assert answered.ok, answered.output[-3000:] + answered.errors
    finally:
        capture.stop()
    # On the wire: what the caller sent the gateway, with the gaps in sequence numbers the pcap has.
    sent = [p for p in capture.rtp(caller_media) if p.source_port == caller_media and p.payload_type == 8]
    sequences = [p.sequence for p in sent]
    missing = (sequences[-1] - sequences[0] + 1) - len(set(sequences))
    assert len(sent) == kept and missing == len(CUT), (len(sent), missing)
    # While the call was up: the caller's leg on the native relay, its loss counted by the relay.
    assert seen, f"the caller's leg was never relayed natively:\n{relays}"
    assert seen[-1][1] == len(CUT), seen[-1]
    mode = "pure-python" if NO_EXTENSIONS else "compiled"
    assert re.search(rf"^1 relayed pair \(native relay: {mode}\)$", relays, re.MULTILINE), relays
    # After the call: the call record.  The first packet or two may reach the gateway before the bridge
    # (counted by the leg's own session once valid, RFC 3550 A.1 probation); the loss is exact.
    (row,) = cdr_rows(gateway)
    quality = row["userfield"]
    match = re.search(r"rx loss ([\d.]+)% jitter ([\d.]+) ms rtt \S+(?: ms)? MOS ([\d.]+) packets (\d+) lost (\d+)",
                      quality)
    assert match is not None, quality
    loss, _jitter, mos, packets, lost = match.groups()
    assert int(lost) == len(CUT), quality
    assert kept - 2 <= int(packets) <= kept, (quality, kept)
    assert float(loss) == pytest.approx(100 * len(CUT) / (int(packets) + len(CUT)), abs=0.05)
    assert 3.5 < float(mos) < 4.41, quality  # G.711 with PLC at ~2.6 % random loss (E-model, G.107)
    # And what the gateway sent the caller: the callee's stream, relayed into the caller's leg.
    assert re.search(r"; tx (loss .* )?packets (\d+)", quality), quality
