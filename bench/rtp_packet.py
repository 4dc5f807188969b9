"""RTP packet benchmark: per-packet cost of the header helpers, compiled (Cython) against the pure twin.

Prints the median time per packet of ``rtp_header`` (validate and read the fixed header of a 172-byte G.711
packet), ``build_rtp_packet`` (header + 160-byte payload), ``rewrite_rtp`` (SSRC/sequence/timestamp in place,
the relay's rule) one packet per call and ``rewrite_rtp_batch`` over 32 packets (one ``recvmmsg`` worth),
plus ``core.rtp.packet.parse_rtp`` (the dataclass) for scale, for each implementation side by side with the
speed-up.  Packets are distinct (sequence, timestamp and payload vary) so nothing is a repeated input.

    python bench/rtp_packet.py            # 7 runs, medians
    python bench/rtp_packet.py --smoke    # 1 short run (CI)
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cython_media import _rtp_py  # noqa: E402

try:
    from cython_media import _rtp as _compiled  # noqa: E402
except ImportError:
    _compiled = None


def make_packets(module: ModuleType, n: int) -> list[bytes]:
    rng = random.Random(1)
    seq, ts, ssrc = rng.getrandbits(16), rng.getrandbits(32), rng.getrandbits(32)
    return [module.build_rtp_packet(0, i == 0, (seq + i) & 0xFFFF, (ts + 160 * i) & 0xFFFFFFFF, ssrc,
                                    rng.randbytes(160)) for i in range(n)]


def per_packet(fn: Callable[[], int]) -> float:
    fn()  # warm-up: first-call costs and caches are not what a relay pays per packet
    start = time.perf_counter()
    count = fn()
    return (time.perf_counter() - start) / count


def measure(module: ModuleType, n: int) -> dict[str, float]:
    packets = make_packets(module, n)
    buffers = [bytearray(p) for p in packets]
    payloads = [p[12:] for p in packets]
    rtp_header = module.rtp_header
    build = module.build_rtp_packet
    rewrite = module.rewrite_rtp
    batch = module.rewrite_rtp_batch

    def parse_headers() -> int:
        for packet in packets:
            rtp_header(packet)
        return n

    def build_packets() -> int:
        for i, payload in enumerate(payloads):
            build(0, False, i & 0xFFFF, 160 * i, 0x1234, payload)
        return n

    def rewrite_each() -> int:
        for buf in buffers:
            rewrite(buf, 0xCAFE, 7, 1120)
        return n

    def rewrite_batches() -> int:
        for at in range(0, n, 32):
            batch(buffers[at:at + 32], 0xCAFE, 7, 1120)
        return n

    return {
        "rtp_header": per_packet(parse_headers),
        "build_rtp_packet (160 B)": per_packet(build_packets),
        "rewrite_rtp": per_packet(rewrite_each),
        "rewrite_rtp_batch (32)": per_packet(rewrite_batches),
    }


def measure_parse(n: int) -> float:
    from core.rtp.packet import parse_rtp

    packets = make_packets(_rtp_py, n)
    start = time.perf_counter()
    for packet in packets:
        parse_rtp(packet)
    return (time.perf_counter() - start) / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="one short run (CI)")
    args = parser.parse_args()
    runs, n = (1, 2000) if args.smoke else (7, 100_000)
    implementations = {"pure": _rtp_py}
    if _compiled is not None:
        implementations["compiled"] = _compiled
    else:
        print("cython_media._rtp is not built: pure twin only "
              "(build with: python setup.py build_ext --inplace)")
    samples: dict[tuple[str, str], list[float]] = {}
    parse_samples: list[float] = []
    for _ in range(runs):
        for label, module in implementations.items():
            for name, value in measure(module, n).items():
                samples.setdefault((name, label), []).append(value)
        parse_samples.append(measure_parse(n))
    medians = {key: statistics.median(values) for key, values in samples.items()}
    names = list(dict.fromkeys(name for name, _ in medians))
    print(f"per packet, median of {runs} run(s) of {n} packets")
    print(f"{'operation':28s} {'compiled':>12s} {'pure':>12s} {'speed-up':>9s}")
    for name in names:
        pure = medians[(name, "pure")]
        compiled = medians.get((name, "compiled"))
        if compiled is None:
            print(f"{name:28s} {'-':>12s} {pure * 1e9:9.0f} ns {'-':>9s}")
        else:
            print(f"{name:28s} {compiled * 1e9:9.0f} ns {pure * 1e9:9.0f} ns {pure / compiled:8.1f}x")
    label = "compiled" if _compiled is not None else "pure"
    parse_ns = statistics.median(parse_samples) * 1e9
    print(f"{'parse_rtp (dataclass)':28s} {parse_ns:9.0f} ns using the {label} header walk")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
