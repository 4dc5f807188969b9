"""SIP security benchmark: digest verification, challenges, client credentials, ACL and rate-limit checks.

Prints the median time of one ``DigestChallenger.verify`` (SHA-256 and MD5, each on a fresh nonce count),
one ``challenge`` (two nonces), one ``digest_credentials``, one ``Acl.allows`` over 50 rules and one
``RateLimiter.allow``.  For scale it prints the floor measured in the same run: the bare hashlib/hmac
calls a verification cannot avoid (three digest hashes plus the nonce HMAC), and the ratio to it.

    python bench/sip_auth.py            # 7 runs, medians
    python bench/sip_auth.py --smoke    # 1 short run (CI)
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.sip.auth import DigestChallenger, digest_credentials  # noqa: E402
from core.sip.security import Acl, RateLimiter  # noqa: E402

SECRET = b"bench-secret-bench-secret-bench!"


def per_call(fn: Callable[[int], object], n: int) -> float:
    start = time.perf_counter()
    for index in range(n):
        fn(index)
    return (time.perf_counter() - start) / n


def measure(n: int) -> dict[str, float]:
    challenger = DigestChallenger("centralita", SECRET, max_tracked_nonces=10 * n + 10)
    users = {"1001": "s3cret"}
    figures: dict[str, float] = {}
    for index, algorithm in enumerate(("SHA-256", "MD5")):
        challenge = challenger.challenge(0.0)[index]
        headers = [digest_credentials(challenge, method="REGISTER", uri="sip:pbx", username="1001",
                                      password="s3cret", nc=count + 1, cnonce="c") for count in range(n)]

        def verify(count: int, headers: list[str] = headers) -> object:
            result = challenger.verify("REGISTER", headers[count], users.get, 1.0)
            assert result.ok, result
            return result

        figures[f"verify {algorithm}"] = per_call(verify, n)
    figures["challenge (2 nonces)"] = per_call(lambda count: challenger.challenge(float(count)), n)
    challenge = challenger.challenge(0.0)[0]
    figures["digest_credentials SHA-256"] = per_call(
        lambda count: digest_credentials(challenge, method="REGISTER", uri="sip:pbx", username="1001",
                                         password="s3cret", nc=count + 1), n)

    def floor(count: int) -> object:
        ha1 = hashlib.sha256(b"1001:centralita:s3cret").hexdigest()
        ha2 = hashlib.sha256(b"REGISTER:sip:pbx").hexdigest()
        hmac.new(SECRET, b"x" * 60, hashlib.sha256).digest()
        return hashlib.sha256(f"{ha1}:nonce:{count:08x}:c:auth:{ha2}".encode()).hexdigest()

    figures["floor: hashlib+hmac only"] = per_call(floor, n)
    acl = Acl([("deny", "0.0.0.0/0")] + [("permit", f"10.{i}.0.0/16") for i in range(49)])
    figures["Acl.allows (50 rules)"] = per_call(lambda count: acl.allows(f"10.{count % 60}.1.1"), n)
    limiter = RateLimiter(rate=50.0, burst=100)
    figures["RateLimiter.allow"] = per_call(lambda count: limiter.allow(f"192.0.2.{count % 200}", count * 1e-4), n)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="one short run (CI)")
    args = parser.parse_args()
    runs, n = (1, 200) if args.smoke else (7, 5000)
    samples: dict[str, list[float]] = {}
    for _ in range(runs):
        for name, value in measure(n).items():
            samples.setdefault(name, []).append(value)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    floor = medians["floor: hashlib+hmac only"]
    for name, value in medians.items():
        print(f"{name:30s} {value * 1e6:9.2f} us   {value / floor:6.1f} x floor")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
