"""Conference mixer benchmark: cost of one 20 ms mix (every party hears the others) by party count.

For 3, 10 and 30 parties of 160-sample 16-bit frames it times ``mix_minus`` (sum once, subtract each
party's own frame, clamp) with unity gains and with per-party talk/listen gains, for the compiled module
and the pure-Python twin, on frames that change every call (distinct noise-like speech levels, some near
full scale so clamping happens).  Figures are medians of several runs, in microseconds per 20 ms tick,
with the share of one core that a conference of that size costs (tick time / 20 ms).

    python bench/mixer.py            # 7 runs
    python bench/mixer.py --smoke    # 1 short run (CI)
"""

from __future__ import annotations

import argparse
import importlib
import random
import statistics
import struct
import sys
import time
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cython_media import _mix_py  # noqa: E402

PARTIES = (3, 10, 30)


def frames_for(parties: int, ticks: int, seed: int) -> list[list[bytes]]:
    rng = random.Random(seed)
    out = []
    for _ in range(ticks):
        tick = []
        for _ in range(parties):
            level = rng.choice((300, 3000, 12000, 30000))
            tick.append(struct.pack("<160h", *(max(-32768, min(32767, int(rng.gauss(0, level))))
                                               for _ in range(160))))
        out.append(tick)
    return out


def time_mix(module: ModuleType, ticks: list[list[bytes]], gains: bool, runs: int) -> float:
    parties = len(ticks[0])
    talk = [module.gain_q16(-3.0 * (p % 3)) for p in range(parties)] if gains else None
    listen = [module.gain_q16(2.0 - (p % 5)) for p in range(parties)] if gains else None
    results = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for tick in ticks:
            module.mix_minus(tick, talk, listen)
        results.append((time.perf_counter() - t0) / len(ticks) * 1e6)
    return statistics.median(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="one short run (CI)")
    args = parser.parse_args()
    runs, ticks = (1, 20) if args.smoke else (7, 200)
    modules: dict[str, ModuleType] = {}
    try:
        modules["compiled"] = importlib.import_module("cython_media._mix")
    except ImportError:
        print("compiled: not built (run: python setup.py build_ext --inplace)")
    modules["pure"] = _mix_py
    print(f"mix_minus per 20 ms tick (160 samples/party), us, median of {runs} run(s) over {ticks} distinct ticks")
    print(f"{'parties':>7} {'gains':>6}" + "".join(f"{name:>12} {'%core':>6}" for name in modules)
          + "   pure/compiled")
    for parties in PARTIES:
        data = frames_for(parties, ticks, seed=parties)
        for gains in (False, True):
            figures = {name: time_mix(m, data, gains, runs if name == "compiled" else max(1, runs // 3))
                       for name, m in modules.items()}
            row = f"{parties:>7} {'yes' if gains else 'no':>6}"
            row += "".join(f"{figures[n]:>12.2f} {figures[n] / 200:>5.2f}%" for n in modules)
            if "compiled" in figures:
                row += f"{figures['pure'] / figures['compiled']:>17.1f}x"
            print(row)


if __name__ == "__main__":
    main()
