"""The CPU of one REGISTER with digest inside the process, without sockets or SIPp: what ``bench/sip_cps.py``'s
REGISTER ramp measures from outside, in a form steady enough to compare two versions of the code.

Each registration is what SIPp's ``register.xml`` scenario sends: a REGISTER without credentials, answered 401
with a fresh nonce (statelessly), then the same REGISTER with an ``Authorization`` computed here (RFC 7616
§3.4.1, MD5, qop=auth, with :mod:`hashlib`), answered 200 once the binding is committed to the registrar's
SQLite file (a temporary directory: the same store and durability as the gateway's).  Ten users take turns,
the fake clock moves ``1/rate`` per registration and the endpoint's timers run as they fall due.  Only the
time spent in the endpoint is counted, not the scripted phone.

For exact comparisons count instructions instead of time: under ``valgrind --tool=callgrind`` with
``PYTHONHASHSEED=0``, the difference between two ``--registrations`` values (same ``--runs 1``) is the cost of
the registrations in between (docs/testing.md).

    python bench/sip_register_inproc.py            # 5 runs of 3,000 registrations, median
    python bench/sip_register_inproc.py --smoke    # one short run (CI)
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.sip.endpoint import SipEndpoint  # noqa: E402
from core.sip.registrar import LocationService  # noqa: E402
from core.sip.registrar_store import SqliteBindingStore  # noqa: E402
from core.sip.settings import EndpointSettings, SipUserSettings  # noqa: E402

GATEWAY = ("127.0.0.1", 5060)
PHONE = ("127.0.0.1", 5061)
USERS = [str(1001 + k) for k in range(10)]
SECRET = "bench-secret"
REALM = "centralita"
NONCE = re.compile(rb'nonce="([^"]+)", algorithm=MD5')


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def register(number: int, user: str, authorization: str | None) -> bytes:
    """SIPp's REGISTER (the second one carries ``authorization``)."""
    cseq = 2 if authorization else 1
    lines = [f"REGISTER sip:{GATEWAY[0]}:{GATEWAY[1]} SIP/2.0",
             f"Via: SIP/2.0/UDP {PHONE[0]}:{PHONE[1]};branch=z9hG4bK-{number}-{cseq}",
             f"From: <sip:{user}@{GATEWAY[0]}>;tag={number}SIPpTag00{cseq}",
             f"To: <sip:{user}@{GATEWAY[0]}>",
             f"Call-ID: {number}-reg@{PHONE[0]}",
             f"CSeq: {cseq} REGISTER",
             f"Contact: <sip:{user}@{PHONE[0]}:{PHONE[1]}>"]
    if authorization:
        lines.append(f"Authorization: {authorization}")
    lines += ["Max-Forwards: 70", "Expires: 300", "Content-Length: 0", "", ""]
    return "\r\n".join(lines).encode()


def authorization(user: str, nonce: str, number: int) -> str:
    """The digest answer to ``nonce`` (RFC 7616 §3.4.1: MD5, qop=auth, nc=1)."""
    uri = f"sip:{GATEWAY[0]}:{GATEWAY[1]}"
    cnonce = f"{number:08x}"
    response = _md5(f"{_md5(f'{user}:{REALM}:{SECRET}')}:{nonce}:00000001:{cnonce}:auth:{_md5(f'REGISTER:{uri}')}")
    return (f'Digest username="{user}", realm="{REALM}", nonce="{nonce}", uri="{uri}", response="{response}", '
            f'algorithm=MD5, cnonce="{cnonce}", qop=auth, nc=00000001')


def run(registrations: int, rate: float, warmup: int) -> float:
    """Seconds of the endpoint's CPU per registration over ``registrations`` after ``warmup``."""
    with tempfile.TemporaryDirectory(prefix="sip-register-inproc-") as tmp:
        now = [100.0]
        settings = EndpointSettings(host=GATEWAY[0], port=GATEWAY[1], realm=REALM, nonce_secret=b"b" * 32,
                                    requests_per_second=1e6, request_burst=10**6,
                                    users=tuple(SipUserSettings(name=u, secret=SECRET, context="x") for u in USERS))
        location = LocationService(SqliteBindingStore(Path(tmp) / "registrations.sqlite"), max_contacts=1)
        endpoint = SipEndpoint(settings, location, wallclock=lambda: 1.7e9 + now[0])
        location.restore(now[0], 1.7e9 + now[0])
        spent = 0.0
        for number in range(warmup + registrations):
            if number == warmup:
                spent = 0.0
                gc.collect()
            user = USERS[number % len(USERS)]
            request = register(number, user, None)
            start = time.perf_counter()
            endpoint.receive_datagram(request, PHONE, "udp", now[0])
            out = endpoint.datagrams_to_send()
            spent += time.perf_counter() - start
            found = NONCE.search(out[0][0]) if out and out[0][0].startswith(b"SIP/2.0 401 ") else None
            if found is None:
                raise SystemExit(f"REGISTER {number} was not challenged: {out[:1]!r}")
            request = register(number, user, authorization(user, found.group(1).decode(), number))
            start = time.perf_counter()
            endpoint.receive_datagram(request, PHONE, "udp", now[0])
            out = endpoint.datagrams_to_send()
            now[0] += 1.0 / rate
            deadline = endpoint.get_timer()
            if deadline is not None and deadline <= now[0]:
                endpoint.handle_timer(now[0])
                endpoint.datagrams_to_send()
            spent += time.perf_counter() - start
            if not out or not out[0][0].startswith(b"SIP/2.0 200 "):
                raise SystemExit(f"REGISTER {number} with credentials was not accepted: {out[:1]!r}")
        location.store.close()
        return spent / registrations


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="one short run (CI)")
    parser.add_argument("--registrations", type=int, default=3000, help="registrations per run (default 3000)")
    parser.add_argument("--rate", type=float, default=3000.0, help="registrations per second of fake time")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    registrations, runs, warmup = (100, 1, 20) if args.smoke else (args.registrations, args.runs, 200)
    figures = sorted(run(registrations, args.rate, warmup) for _ in range(runs))
    spread = f"  (runs {', '.join(f'{1e6 * f:.0f}' for f in figures)})" if runs > 1 else ""
    print(f"  centralita {1e6 * statistics.median(figures):8.1f} us CPU per registration (401 + 200){spread}")
    print(f"  ({registrations} registrations per run after {warmup} to warm up, {args.rate:g}/s of fake time, "
          "SQLite store in a temporary directory)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
