"""SIP transaction layer benchmark: one whole call through two ``TransactionLayer`` objects in memory.

Each call is INVITE / 100 / 180 / 200, the ACK of the 2xx, then BYE / 200: five client and server
transactions on each side, every message encoded by one layer and parsed for the other (RFC 3261 §17 with
RFC 6026's Accepted state), at 1,000 calls/s of simulated time with the due timers run every 10 ms the way
the asyncio shell does.  Prints the median over several runs of the CPU time (``time.process_time``: the
machine is shared) of

- the whole exchange, parsing and encoding included, and the timers run meanwhile;
- the floor measured in the same run: the same messages parsed, read and encoded with no transaction layer,
  and the layer's share (whole exchange minus floor, per transaction and per side);
- the timers still due after the last call (Timers L, M, J, K ending what is left), per call;

and the peak number of live transactions (Timers J, L and M keep a finished transaction for 64*T1 = 32 s, so
at a steady 1,000 calls/s about 32 s worth of them are alive).

    python bench/sip_transaction.py            # 7 runs of 20,000 calls, medians
    python bench/sip_transaction.py --smoke    # 1 short run (CI)
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.sip.message import SipRequest, make_response, parse_message  # noqa: E402
from core.sip.transaction import RequestReceived, ResponseReceived, TransactionLayer  # noqa: E402

UAC = ("192.0.2.10", 5060)
UAS = ("192.0.2.20", 5060)
CALL_SPACING = 0.001     # seconds of simulated time between calls: 1,000 calls/s
TIMER_EVERY = 10         # calls between two handle_timer() rounds: every 10 ms

INVITE = (
    "INVITE sip:2001@192.0.2.20 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch={branch};rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: \"Alice\" <sip:1001@192.0.2.10>;tag=ft{n}\r\n"
    "To: <sip:2001@192.0.2.20>\r\n"
    "Call-ID: call{n}@192.0.2.10\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:1001@192.0.2.10:5060>\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 0\r\n\r\n"
)
ACK = (
    "ACK sip:2001@192.0.2.20 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKack{n};rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: \"Alice\" <sip:1001@192.0.2.10>;tag=ft{n}\r\n"
    "To: <sip:2001@192.0.2.20>;tag=uas{n}\r\n"
    "Call-ID: call{n}@192.0.2.10\r\n"
    "CSeq: 1 ACK\r\n"
    "Content-Length: 0\r\n\r\n"
)
BYE = (
    "BYE sip:2001@192.0.2.20 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKbye{n};rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: \"Alice\" <sip:1001@192.0.2.10>;tag=ft{n}\r\n"
    "To: <sip:2001@192.0.2.20>;tag=uas{n}\r\n"
    "Call-ID: call{n}@192.0.2.10\r\n"
    "CSeq: 2 BYE\r\n"
    "Content-Length: 0\r\n\r\n"
)


def _request(text: str) -> SipRequest:
    message = parse_message(text.encode())
    assert isinstance(message, SipRequest)
    return message


def pump(src: TransactionLayer, dst: TransactionLayer, source: tuple[str, int], now: float) -> list[object]:
    """Deliver what ``src`` queued to ``dst`` (parsed from the wire bytes, as a datagram would be)."""
    events: list[object] = []
    for data, _destination, transport in src.datagrams_to_send():
        events.extend(dst.receive(parse_message(data), source, transport, now))
    return events


def one_call(uac: TransactionLayer, uas: TransactionLayer, n: int, now: float) -> None:
    invite = _request(INVITE.format(branch=f"z9hG4bKinv{n}", n=n))
    uac.send_request(invite, UAS, "udp", now)
    (event,) = pump(uac, uas, UAC, now)
    assert isinstance(event, RequestReceived)
    transaction, request = event.transaction, event.request
    uas.send_response(transaction, make_response(request, 100), now)
    uas.send_response(transaction, make_response(request, 180, to_tag=f"uas{n}"), now)
    uas.send_response(transaction, make_response(request, 200, to_tag=f"uas{n}"), now)
    events = pump(uas, uac, UAS, now)
    assert len(events) == 3 and isinstance(events[2], ResponseReceived)
    uac.send_stateless(_request(ACK.format(n=n)), UAS, "udp")
    pump(uac, uas, UAC, now)
    uac.send_request(_request(BYE.format(n=n)), UAS, "udp", now)
    (event,) = pump(uac, uas, UAC, now)
    assert isinstance(event, RequestReceived)
    uas.send_response(event.transaction, make_response(event.request, 200), now)
    pump(uas, uac, UAS, now)


@dataclass
class Run:
    """One run's figures, in seconds of CPU time per call."""

    per_call: float
    timers_after: float
    peak_transactions: int
    floor: float


def run_layers(calls: int) -> tuple[float, float, int]:
    uac, uas = TransactionLayer(), TransactionLayer()
    start = time.process_time()
    peak = 0
    for n in range(calls):
        now = n * CALL_SPACING
        one_call(uac, uas, n, now)
        if n % TIMER_EVERY == TIMER_EVERY - 1:
            uac.handle_timer(now)
            uas.handle_timer(now)
            peak = max(peak, uac.transaction_count + uas.transaction_count)
    middle = time.process_time()
    now = calls * CALL_SPACING
    for _ in range(400):  # 40 s: every Timer K, J, L, M and the 100 Trying timer runs out
        now += 0.1
        uac.handle_timer(now)
        uas.handle_timer(now)
    end = time.process_time()
    assert uac.transaction_count == uas.transaction_count == 0, (uac.transaction_count, uas.transaction_count)
    return (middle - start) / calls, (end - middle) / calls, peak


def run_floor(calls: int) -> float:
    """The same messages parsed, read and encoded without any transaction layer."""
    start = time.process_time()
    for n in range(calls):
        invite = _request(INVITE.format(branch=f"z9hG4bKinv{n}", n=n))
        request = parse_message(invite.encode())
        request.vias, request.cseq, request.from_, request.to, request.call_id  # noqa: B018 - what a TU reads
        assert isinstance(request, SipRequest)
        for status, tag in ((100, None), (180, f"uas{n}"), (200, f"uas{n}")):
            response = parse_message(make_response(request, status, to_tag=tag).encode())
            response.vias, response.cseq  # noqa: B018
        ack = _request(ACK.format(n=n))
        parse_message(ack.encode()).vias  # noqa: B018
        bye = _request(BYE.format(n=n))
        request = parse_message(bye.encode())
        request.vias, request.cseq, request.from_, request.to, request.call_id  # noqa: B018
        assert isinstance(request, SipRequest)
        response = parse_message(make_response(request, 200).encode())
        response.vias, response.cseq  # noqa: B018
    return (time.process_time() - start) / calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--smoke", action="store_true", help="one short run (CI)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--calls", type=int, default=20_000, help="calls per run")
    parser.add_argument("--no-gc", action="store_true", help="with the garbage collector off")
    args = parser.parse_args()
    runs, calls = (1, 1000) if args.smoke else (args.runs, args.calls)
    if args.no_gc:
        gc.disable()
    results = []
    for _ in range(runs):
        per_call, timers_after, peak = run_layers(calls)
        results.append(Run(per_call, timers_after, peak, run_floor(calls)))
    per_call = statistics.median(r.per_call for r in results)
    floor = statistics.median(r.floor for r in results)
    timers_after = statistics.median(r.timers_after for r in results)
    peak = max(r.peak_transactions for r in results)
    share = per_call - floor
    print(f"SIP transaction layer, python {sys.version.split()[0]}, {calls} calls per run, median of {runs} run(s) "
          f"(CPU time), gc {'off' if not gc.isenabled() else gc.get_threshold()}")
    print(f"  whole call incl. parse/encode and timers    {per_call * 1e6:8.1f} us/call   "
          f"-> {1 / per_call:8,.0f} calls/s on one core")
    print(f"  floor: same messages without the layer      {floor * 1e6:8.1f} us/call")
    print(f"  whole call / floor                          {per_call / floor:8.2f} x")
    print(f"  the layer's share                           {share * 1e6:8.1f} us/call   "
          f"({share / 2 * 1e6:.1f} us per transaction, INVITE or BYE, client and server side)")
    print(f"  timers due after the last call (L, M, J, K) {timers_after * 1e6:8.1f} us/call")
    print(f"  peak live transactions                      {peak:8d}   "
          f"({calls * CALL_SPACING:.0f} s of calls at 1,000/s; Timers J, L, M keep each for 32 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
