"""The CPU of one B2BUA call inside the process, without sockets or SIPp: what ``bench/sip_cps.py`` measures from
outside, in a form steady enough to compare two versions of the code.

The gateway is assembled as ``firmware`` runs it for ``sip_cps`` (SIP endpoint, SIP channel driver, PBX, dialplan
``exten => _X.,1,Dial(SIP/uas/${EXTEN})``, direct media, no CDRs) and fed the datagrams SIPp's ``uac`` and ``uas``
scenarios exchange with it: INVITE with SDP, 180 and 200 from the callee, ACK, BYE from the caller and its 200.
The fake clock moves ``1/rate`` per call and the endpoint's timers run as they fall due, so that ended calls wait
out Timers J, L and M as they do at that rate.  Only the time spent in the gateway (feeding it a datagram and
letting its tasks run until they are idle) is counted, not the scripted peers.  For scale, the same calls go
through ``bench/sip_floor.py``'s bare relay in the same run, and the ratio is printed.

Machine noise on a shared host moves ``sip_cps``'s figures by tens of percent (a step is clean or not, and the
rate it reaches depends on the slowest moment); this one has no SIPp and no sockets beside it, and its runs agree
within a few percent on a quiet machine.  For exact comparisons count instructions instead of time: under
``valgrind --tool=callgrind`` with ``PYTHONHASHSEED=0``, the difference between two ``--calls`` values (same
``--runs 1 --only centralita``) is the cost of the calls in between.

    python bench/sip_inproc.py              # 5 runs of 2,000 calls at 1,000 calls/s, medians
    python bench/sip_inproc.py --smoke      # one short run (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.sip_cps import interpreter  # noqa: E402
from bench.sip_floor import _Relay  # noqa: E402
from core.apps import default_applications  # noqa: E402
from core.dialplan.executor import DialplanExecutor  # noqa: E402
from core.dialplan.loader import load_dialplan_text  # noqa: E402
from core.events import EventBus  # noqa: E402
from core.pbx import Pbx  # noqa: E402
from core.sip.channel import SipChannelDriver  # noqa: E402
from core.sip.endpoint import SipEndpoint  # noqa: E402
from core.sip.registrar import LocationService  # noqa: E402
from core.sip.registrar_store import MemoryBindingStore  # noqa: E402
from core.sip.settings import EndpointSettings, SipTrunkSettings  # noqa: E402

GATEWAY = ("127.0.0.1", 5060)
CALLER = ("127.0.0.1", 5061)   # SIPp uac: same host as the trunk, so its calls come in on the trunk, as in sip_cps
CALLEE = ("127.0.0.1", 5070)   # SIPp uas, the trunk "uas"
PLAN = "[bench]\nexten => _X.,1,Dial(SIP/uas/${EXTEN})\n"
SERVICE = "1000"  # sipp -s 1000
SDP = (b"v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       b"m=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")

Datagram = tuple[bytes, tuple[str, int]]


def _headers(data: bytes) -> tuple[str, dict[str, str]]:
    head = data.partition(b"\r\n\r\n")[0].decode()
    lines = head.split("\r\n")
    found: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        found.setdefault(name.strip().lower(), value.strip())
    return lines[0], found


def _message(first: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    lines = [first, *(f"{name}: {value}" for name, value in headers), f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(lines).encode() + body


def _response(status: str, request: dict[str, str], to_tag: str, extra: list[tuple[str, str]],
              body: bytes = b"") -> bytes:
    to = request["to"] if ";tag=" in request["to"] else f"{request['to']};tag={to_tag}"
    return _message(f"SIP/2.0 {status}", [("Via", request["via"]), ("From", request["from"]), ("To", to),
                                         ("Call-ID", request["call-id"]), ("CSeq", request["cseq"]), *extra], body)


class Peers:
    """SIPp's uac and uas scenarios as scripts over raw datagrams (the caller hangs up at once)."""

    def __init__(self) -> None:
        self.numbers = itertools.count(1)

    def invite(self, number: int) -> bytes:
        return _message(f"INVITE sip:{SERVICE}@{GATEWAY[0]}:{GATEWAY[1]} SIP/2.0", [
            ("Via", f"SIP/2.0/UDP {CALLER[0]}:{CALLER[1]};branch=z9hG4bK-{number}-0"),
            ("From", f"sipp <sip:sipp@{CALLER[0]}:{CALLER[1]}>;tag={number}SIPpTag00"),
            ("To", f"sut <sip:{SERVICE}@{GATEWAY[0]}:{GATEWAY[1]}>"), ("Call-ID", f"{number}-bench@{CALLER[0]}"),
            ("CSeq", "1 INVITE"), ("Contact", f"sip:sipp@{CALLER[0]}:{CALLER[1]}"), ("Max-Forwards", "70"),
            ("Subject", "Performance Test"), ("Content-Type", "application/sdp")], SDP)

    def in_dialog(self, method: str, number: int, ok: dict[str, str], cseq: int) -> bytes:
        return _message(f"{method} sip:{SERVICE}@{GATEWAY[0]}:{GATEWAY[1]} SIP/2.0", [
            ("Via", f"SIP/2.0/UDP {CALLER[0]}:{CALLER[1]};branch=z9hG4bK-{number}-{cseq}"),
            ("From", ok["from"]), ("To", ok["to"]), ("Call-ID", ok["call-id"]), ("CSeq", f"{cseq} {method}"),
            ("Contact", f"sip:sipp@{CALLER[0]}:{CALLER[1]}"), ("Max-Forwards", "70"), ("Subject", "Performance Test")])

    def callee(self, data: bytes, number: int) -> list[bytes]:
        """What SIPp's uas sends back for ``data``."""
        first, headers = _headers(data)
        method = first.partition(" ")[0]
        tag = f"{number}SIPpTag01"
        if method == "INVITE":
            return [_response("180 Ringing", headers, tag, []),
                    _response("200 OK", headers, tag, [("Contact", f"<sip:{CALLEE[0]}:{CALLEE[1]};transport=UDP>"),
                                                       ("Content-Type", "application/sdp")], SDP)]
        if method == "BYE":
            return [_response("200 OK", headers, tag, [])]
        return []


class Gateway:
    """centralita's SIP side as the firmware assembles it, fed in memory."""

    name = "centralita"

    def __init__(self, clock: Callable[[], float]) -> None:
        bus = EventBus()
        self.pbx = Pbx(bus)
        executor = DialplanExecutor(self.pbx, bus, default_applications())
        executor.load(load_dialplan_text(PLAN).dialplan)
        self.pbx.runner = executor
        settings = EndpointSettings(host=GATEWAY[0], port=GATEWAY[1], nonce_secret=b"b" * 32,
                                    requests_per_second=1e6, request_burst=10**6,
                                    trunks=(SipTrunkSettings(name="uas", servers=(CALLEE,), context="bench"),))
        self.endpoint = SipEndpoint(settings, LocationService(MemoryBindingStore()))
        self.clock = clock
        self.driver = SipChannelDriver(self.pbx, self.endpoint, clock, lambda: None,
                                       redirect=None, routable=executor.routable)
        self.pbx.register_driver(self.driver)

    async def feed(self, data: bytes, source: tuple[str, int]) -> list[Datagram]:
        self.endpoint.receive_datagram(data, source, "udp", self.clock())
        return await self.settle()

    async def settle(self) -> list[Datagram]:
        """Let the driver and the dialplan tasks run until nothing is ready to run (where the event loop of the
        gateway would wait for a socket or a timer); what the endpoint sent meanwhile."""
        out: list[Datagram] = []
        ready = asyncio.get_running_loop()._ready  # type: ignore[attr-defined]  # the default loop's run queue
        for _ in range(1000):
            self.driver.process_events()
            out += [(data, destination) for data, destination, _transport in self.endpoint.datagrams_to_send()]
            if not ready and not self.endpoint.events:
                return out
            await asyncio.sleep(0)
        raise SystemExit("the gateway never settles")

    def leftovers(self) -> str:
        """What the finished calls left behind that they should not have (empty when all is well)."""
        left = len(self.pbx.channels) + len(self.endpoint.live_calls)
        return f"{left} channels and SIP calls still up" if left else ""

    async def timers(self) -> list[Datagram]:
        deadline = self.endpoint.get_timer()
        if deadline is None or deadline > self.clock():
            return []
        self.endpoint.handle_timer(self.clock())
        return await self.settle()


class Floor:
    """``bench/sip_floor.py``'s bare relay, fed in memory."""

    name = "bare relay (sip_floor)"

    def __init__(self, clock: Callable[[], float]) -> None:
        self.sent: list[Datagram] = []
        self.relay = _Relay(GATEWAY[1], CALLEE[1])
        self.relay._send = lambda data, address: self.sent.append((data, address))  # type: ignore[method-assign]

    async def feed(self, data: bytes, source: tuple[str, int]) -> list[Datagram]:
        self.relay.datagram_received(data, source)
        out, self.sent = self.sent, []
        return out

    async def timers(self) -> list[Datagram]:
        return []

    def leftovers(self) -> str:
        left = len(self.relay.by_caller) + len(self.relay.by_callee)
        return f"{left} calls still up" if left else ""


async def run(kind: type[Gateway] | type[Floor], calls: int, rate: float, warmup: int) -> float:
    """Seconds of the B2BUA's CPU per call over ``calls`` calls after ``warmup`` calls."""
    now = [100.0]
    b2bua = kind(lambda: now[0])
    peers = Peers()
    spent = 0.0
    failures = 0
    for index in range(warmup + calls):
        if index == warmup:
            spent = 0.0
            gc.collect()
        number = next(peers.numbers)
        start = time.perf_counter()
        out = await b2bua.feed(peers.invite(number), CALLER)
        spent += time.perf_counter() - start
        ok: dict[str, str] | None = None
        for _round in range(4):
            to_callee = [data for data, destination in out if destination[1] == CALLEE[1]]
            for data, destination in out:
                if destination[1] == CALLER[1]:
                    first, headers = _headers(data)
                    if first.startswith("SIP/2.0 200"):
                        ok = headers
            out = []
            for data in to_callee:
                for answer in peers.callee(data, number):
                    start = time.perf_counter()
                    out += await b2bua.feed(answer, CALLEE)
                    spent += time.perf_counter() - start
            if ok is not None:
                break
        if ok is None:
            failures += 1
            continue
        start = time.perf_counter()
        out = await b2bua.feed(peers.in_dialog("ACK", number, ok, 1), CALLER)
        out += await b2bua.feed(peers.in_dialog("BYE", number, ok, 2), CALLER)
        spent += time.perf_counter() - start
        for data, destination in out:
            if destination[1] == CALLEE[1]:
                for answer in peers.callee(data, number):
                    start = time.perf_counter()
                    await b2bua.feed(answer, CALLEE)
                    spent += time.perf_counter() - start
        now[0] += 1.0 / rate
        start = time.perf_counter()
        await b2bua.timers()
        spent += time.perf_counter() - start
    if failures:
        raise SystemExit(f"{kind.name}: {failures} of {warmup + calls} calls were not answered")
    if b2bua.leftovers():
        raise SystemExit(f"{kind.name}: {b2bua.leftovers()} after the last BYE")
    return spent / calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="one short run (CI)")
    parser.add_argument("--calls", type=int, default=2000, help="calls per run (default 2000)")
    parser.add_argument("--rate", type=float, default=1000.0, help="calls per second of fake time (default 1000)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", choices=("centralita",), help="skip the bare relay (for callgrind)")
    args = parser.parse_args()
    calls, runs, warmup = (100, 1, 20) if args.smoke else (args.calls, args.runs, 200)
    kinds: list[type[Gateway] | type[Floor]] = [Gateway] if args.only else [Gateway, Floor]
    medians: dict[str, float] = {}
    for kind in kinds:
        figures = [asyncio.run(run(kind, calls, args.rate, warmup)) for _ in range(runs)]
        medians[kind.name] = statistics.median(figures)
        spread = f"  (runs {', '.join(f'{1e6 * f:.0f}' for f in sorted(figures))})" if runs > 1 else ""
        print(f"  {kind.name:<24} {1e6 * medians[kind.name]:8.1f} us CPU per call{spread}")
    if len(medians) == 2:
        print(f"  ratio centralita / bare relay: x{medians[Gateway.name] / medians[Floor.name]:.1f}")
    print(f"  ({calls} calls per run after {warmup} to warm up, {args.rate:g} calls/s of fake time: ended calls wait "
          f"out Timers J/L/M as at that rate; {interpreter()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
