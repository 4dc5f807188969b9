"""SIP message layer benchmark: parse a realistic INVITE and read its headers; build and encode a 200.

Prints the median time per operation over several runs:

- parse a 700-byte INVITE (desk phone style, SDP offer) and read the top Via's branch, From (tag),
  To, Call-ID, CSeq and Contact — what a transaction and dialog layer need (target <= 20 us);
- parse only (the header block split into fields, nothing structured yet);
- make_response(INVITE, 200, to_tag=...) and encode it (target <= 10 us);
- encode only, of a response already built.

Every iteration parses a message never parsed before (Call-ID, tags, branch and CSeq vary) so
that no cache flatters the figures; each timed batch is small enough to stay in the CPU caches, as
a datagram just received does. For scale it also times, on the same messages, the standard library's
RFC 5322 header parser (``email.parser.BytesHeaderParser``), which only splits the header block into
unparsed fields, and prints our parse+read figure as a ratio of it.

    python bench/sip_parse.py            # 7 runs, medians
    python bench/sip_parse.py --smoke    # 1 short run (CI)
"""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import gc
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.sip.message import SipRequest, SipResponse, make_response, parse_message  # noqa: E402

T = TypeVar("T")

SDP = (
    b"v=0\r\n"
    b"o=- 20518 0 IN IP4 192.0.2.55\r\n"
    b"s=-\r\n"
    b"c=IN IP4 192.0.2.55\r\n"
    b"t=0 0\r\n"
    b"m=audio 16384 RTP/AVP 0 8 101\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-16\r\n"
    b"a=ptime:20\r\n"
    b"a=sendrecv\r\n"
)


def invite(number: int) -> bytes:
    """A desk phone's INVITE; ``number`` makes its Call-ID, tag, branch and CSeq unique."""
    head = (
        f"INVITE sip:2001@192.0.2.10 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 192.0.2.55:5060;branch=z9hG4bK{number:016x};rport\r\n"
        f"Max-Forwards: 70\r\n"
        f'From: "Desk 1001" <sip:1001@192.0.2.10>;tag={number * 7919:010x}\r\n'
        f"To: <sip:2001@192.0.2.10>\r\n"
        f"Call-ID: {number:08x}-6c1f-4a9e@192.0.2.55\r\n"
        f"CSeq: {number % 100000 + 1} INVITE\r\n"
        f"Contact: <sip:1001@192.0.2.55:5060;transport=udp>;expires=3600\r\n"
        f"Allow: INVITE, ACK, CANCEL, BYE, REFER, NOTIFY, OPTIONS, INFO\r\n"
        f"Supported: replaces, timer\r\n"
        f"User-Agent: Desk/4.1\r\n"
        f"Content-Type: application/sdp\r\n"
        f"Content-Length: {len(SDP)}\r\n"
        f"\r\n"
    )
    return head.encode() + SDP


def parse_and_read(data: bytes) -> object:
    message = parse_message(data)
    return (
        message.vias[0].branch,
        message.from_.tag,
        message.to,
        message.call_id,
        message.cseq,
        message.contacts,
    )


def per_call(fn: Callable[[T], object], inputs: Sequence[T]) -> float:
    """Seconds per call of ``fn`` over ``inputs`` (collector paused, as timeit does)."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        for value in inputs:
            fn(value)
        return (time.perf_counter() - start) / len(inputs)
    finally:
        gc.enable()


def respond(request: SipRequest) -> bytes:
    return make_response(request, 200, to_tag="a8c3f0e1").encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--smoke", action="store_true", help="one short run (CI)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--messages", type=int, default=2000, help="distinct messages per timed batch")
    args = parser.parse_args()
    runs, count = (1, 300) if args.smoke else (args.runs, args.messages)
    peer = email.parser.BytesHeaderParser(policy=email.policy.compat32)

    def peer_parse(data: bytes) -> object:
        return peer.parsebytes(data, headersonly=True).items()

    serial = 0

    def batch() -> list[bytes]:
        """Messages never parsed before (no cache of ours has seen their values)."""
        nonlocal serial
        serial += count
        return [invite(n) for n in range(serial - count, serial)]

    for data in batch():  # warm up
        parse_and_read(data)
    figures: dict[str, list[float]] = {"read": [], "parse": [], "respond": [], "encode": [], "peer": []}
    for _ in range(runs):
        figures["read"].append(per_call(parse_and_read, batch()))
        figures["parse"].append(per_call(parse_message, batch()))
        requests = [message for message in map(parse_message, batch()) if isinstance(message, SipRequest)]
        figures["respond"].append(per_call(respond, requests))
        responses = [make_response(request, 200, to_tag="a8c3f0e1") for request in requests]
        figures["encode"].append(per_call(SipResponse.encode, responses))
        figures["peer"].append(per_call(peer_parse, batch()))
    median = {name: statistics.median(values) * 1e6 for name, values in figures.items()}

    print(f"SIP message layer, {len(invite(0))}-byte INVITE, batches of {count} new messages, median of {runs} run(s)")
    print(f"  parse + read Via/From/To/Call-ID/CSeq/Contact  {median['read']:7.2f} us   (target <= 20 us)")
    print(f"  parse only                                     {median['parse']:7.2f} us")
    print(f"  make_response(200) + encode                    {median['respond']:7.2f} us   (target <= 10 us)")
    print(f"  encode a built 200                             {median['encode']:7.2f} us")
    print(f"  peer: email.parser header split (stdlib)       {median['peer']:7.2f} us")
    print(f"  parse + read / stdlib header split             {median['read'] / median['peer']:7.2f} x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
