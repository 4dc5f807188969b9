"""The floor under ``bench/sip_cps.py``: how fast the least Python that can relay SIPp's calls goes here.

A bare B2BUA of about a hundred lines (uvloop, one ``sendto`` per datagram, headers split into a dict, calls kept in
two dicts) carries SIPp's built-in ``uac`` calls to SIPp's ``uas`` the way centralita does in ``sip_cps``: 100
to the caller, a new INVITE with its own Call-ID to the callee, the 180 and 200 back, ACK and BYE across.  It
has none of what a gateway needs: no validation, no transactions or retransmissions, no dialplan, channels,
events or CDRs.  Its rate is what this machine, its kernel and the two SIPp processes allow a Python
process; its CPU per call is the cost of the I/O and of touching each message once.  centralita's CPU per call
in ``sip_cps`` minus this figure is what the gateway's own work costs, the budget a faster design must fit.

    python bench/sip_floor.py            # ramp to the first failing rate (3 s steps)
    python bench/sip_floor.py --smoke    # one short step
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.sip_cps import Uas, free_port, ramp  # noqa: E402

# SIPp's uac itself stalls above about 3,000 calls/s here (at 4,000/s it never finishes), so the ramp ends there:
# a floor that is clean at the top step is at least that fast.
RATES = [500, 1000, 1500, 2000, 2500, 3000]


@dataclass(slots=True)
class _Call:
    caller: tuple[str, int]
    via: str
    from_: str
    to: str
    call_id: str
    cseq: str
    number: int
    callee_call_id: str
    callee_tag: str = ""


def _parse(data: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("utf-8", "replace").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), value.strip())
    return lines[0], headers, body


def _build(first: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    lines = [first, *(f"{name}: {value}" for name, value in headers), f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(lines).encode() + body


class _Relay(asyncio.DatagramProtocol):
    def __init__(self, port: int, callee_port: int) -> None:
        self.me = f"127.0.0.1:{port}"
        self.callee = ("127.0.0.1", callee_port)
        self.callee_uri = f"sip:service@127.0.0.1:{callee_port}"
        self.by_caller: dict[str, _Call] = {}
        self.by_callee: dict[str, _Call] = {}
        self.numbers = itertools.count()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # uvloop's is not a subclass

    def _send(self, data: bytes, address: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(data, address)

    def _to_callee(self, call: _Call, method: str, cseq: str, branch: str, extra: list[tuple[str, str]],
                   body: bytes = b"") -> None:
        tag = f";tag={call.callee_tag}" if call.callee_tag else ""
        self._send(_build(f"{method} {self.callee_uri} SIP/2.0", [
            ("Via", f"SIP/2.0/UDP {self.me};branch=z9hG4bK{call.number}{branch};rport"), ("Max-Forwards", "70"),
            ("From", f"<sip:floor@{self.me}>;tag=f{call.number}"), ("To", f"<{self.callee_uri}>{tag}"),
            ("Call-ID", call.callee_call_id), ("CSeq", cseq), *extra], body), self.callee)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        first, headers, body = _parse(data)
        if first.startswith("SIP/2.0 "):
            self._response(int(first[8:11]), first, headers, body)
        else:
            self._request(first.partition(" ")[0], headers, body, addr)

    def _response(self, status: int, first: str, headers: dict[str, str], body: bytes) -> None:
        call = self.by_callee.get(headers.get("call-id", ""))
        if call is None or status == 100:
            return
        if headers.get("cseq", "").endswith("BYE"):
            del self.by_callee[call.callee_call_id]
            return
        call.callee_tag = headers.get("to", "").partition(";tag=")[2]
        relayed = [("Via", call.via), ("From", call.from_), ("To", f"{call.to};tag=c{call.number}"),
                   ("Call-ID", call.call_id), ("CSeq", call.cseq)]
        if status == 200:
            relayed += [("Contact", f"<sip:floor@{self.me}>"), ("Content-Type", "application/sdp")]
            self._send(_build(first, relayed, body), call.caller)
        else:
            self._send(_build(first, relayed), call.caller)

    def _request(self, method: str, headers: dict[str, str], body: bytes, addr: tuple[str, int]) -> None:
        call_id = headers.get("call-id", "")
        if method == "INVITE":
            if call_id in self.by_caller:
                return
            number = next(self.numbers)
            call = _Call(addr, headers["via"], headers["from"], headers["to"], call_id, headers["cseq"], number,
                         f"floor-{number}")
            self.by_caller[call_id] = call
            self.by_callee[call.callee_call_id] = call
            self._send(_build("SIP/2.0 100 Trying", [("Via", call.via), ("From", call.from_), ("To", call.to),
                                                     ("Call-ID", call_id), ("CSeq", call.cseq)]), addr)
            self._to_callee(call, "INVITE", "1 INVITE", "i", [("Contact", f"<sip:floor@{self.me}>"),
                                                              ("Content-Type", "application/sdp")], body)
        elif method == "ACK":
            acked = self.by_caller.get(call_id)
            if acked is not None:
                self._to_callee(acked, "ACK", "1 ACK", "a", [])
        elif method == "BYE":
            ended = self.by_caller.pop(call_id, None)
            self._send(_build("SIP/2.0 200 OK", [("Via", headers["via"]), ("From", headers["from"]),
                                                 ("To", headers["to"]), ("Call-ID", call_id),
                                                 ("CSeq", headers["cseq"])]), addr)
            if ended is not None:
                self._to_callee(ended, "BYE", "2 BYE", "b", [])


async def _serve(port: int, callee_port: int) -> None:
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(lambda: _Relay(port, callee_port), local_addr=("127.0.0.1", port))
    print("ready", flush=True)
    await asyncio.Event().wait()


def _run_relay(port: int, callee_port: int) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(_serve(port, callee_port))
    else:
        uvloop.run(_serve(port, callee_port))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="one short step (CI)")
    parser.add_argument("--relay", nargs=2, type=int, metavar=("PORT", "CALLEE_PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.relay:
        _run_relay(*args.relay)
        return
    rates, seconds = ([100], 1.0) if args.smoke else (RATES, 3.0)
    with tempfile.TemporaryDirectory(prefix="sip-floor-") as tmp:
        workdir = Path(tmp)
        callee = Uas(workdir)
        port = free_port()
        relay = subprocess.Popen([sys.executable, __file__, "--relay", str(port), str(callee.port)],
                                 stdout=subprocess.PIPE, text=True)
        try:
            assert relay.stdout is not None
            if relay.stdout.readline().strip() != "ready":
                raise SystemExit("the floor relay did not start")
            result = ramp(relay.pid, port, workdir, rates, seconds)
        finally:
            relay.kill()
            relay.wait()
            callee.stop()
    print(f"SIP floor: a bare Python B2BUA (no validation, transactions, dialplan or CDRs), SIPp uac -> relay -> "
          f"SIPp uas on 127.0.0.1, {seconds:g} s per step")
    top = " (the top step: the harness's limit, not the relay's)" if result.best == rates[-1] else ""
    print(f"  highest clean rate {result.best:5d} calls/s{top}, {result.cpu_ms:5.2f} ms CPU per call")
    print(f"                  steps: {'; '.join(result.log)}")


if __name__ == "__main__":
    main()
