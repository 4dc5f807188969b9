"""Dialplan lookup benchmark: one context of 10,000 literal extensions plus 200 patterns.

Prints the time to build the table (adds plus the first lookup, which sorts it and compiles the
pattern index), then the median time of one ``MATCH`` lookup for literal hits, pattern hits and misses,
and of ``CANMATCH``/``MATCHMORE`` lookups (overlap dialling), each over many different numbers.
For scale it also prints the median of the same misses done as Asterisk's default linear walk
(``extenpatternmatchnew=no``) over the same table in Python.

    python bench/dialplan_lookup.py            # 7 runs, medians
    python bench/dialplan_lookup.py --smoke    # 1 short run (CI)
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.dialplan.pattern import ExtensionTable, MatchMode, match_core  # noqa: E402

LITERALS = 10_000
PATTERNS = 200


def make_names(rng: random.Random) -> tuple[list[str], list[str]]:
    literals = sorted({str(rng.randrange(10**7, 10**8)) for _ in range(LITERALS * 2)})[:LITERALS]
    patterns: set[str] = set()
    while len(patterns) < PATTERNS:
        prefix = str(rng.randrange(10, 1000))
        tail = rng.choice(["X.", "XXXX", "NXXXXXX", "[1-5]XX", "ZX!", "XXX"])
        patterns.add(f"_{prefix}{tail}")
    return literals, sorted(patterns)


def build(literals: list[str], patterns: list[str]) -> ExtensionTable[int]:
    table: ExtensionTable[int] = ExtensionTable()
    for index, name in enumerate(literals + patterns):
        table.add(name, None, index)
    table.find("0")  # sorts and indexes
    return table


def per_call(fn: Callable[[str], object], inputs: list[str]) -> float:
    start = time.perf_counter()
    for value in inputs:
        fn(value)
    return (time.perf_counter() - start) / len(inputs)


def linear_walk(table: ExtensionTable[int], exten: str) -> int | None:
    for name, _cid, payload in table:
        if match_core(name, exten, MatchMode.MATCH):
            return payload
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="one short run")
    args = parser.parse_args()
    runs, samples = (1, 200) if args.smoke else (7, 2000)
    rng = random.Random(20240229)
    literals, patterns = make_names(rng)
    pattern_hits = [p[1:].split("X")[0].split("N")[0].split("[")[0].split("Z")[0] for p in patterns]
    pattern_hits = [prefix + "2" * 7 for prefix in pattern_hits]
    misses = ["9" + str(rng.randrange(10**9, 10**10)) for _ in range(samples)]

    figures: dict[str, list[float]] = {}

    def record(label: str, value: float) -> None:
        figures.setdefault(label, []).append(value)

    for _ in range(runs):
        start = time.perf_counter()
        table = build(literals, patterns)
        record("build (10,200 extensions)", time.perf_counter() - start)
        hits = rng.sample(literals, min(samples, len(literals)))
        record("MATCH literal hit", per_call(table.find, hits))
        record("MATCH pattern hit", per_call(table.find, rng.choices(pattern_hits, k=samples)))
        record("MATCH miss", per_call(table.find, misses))
        can_match = partial(table.find, caller_number=None, mode=MatchMode.CANMATCH)
        record("CANMATCH prefix", per_call(can_match, [h[:4] for h in hits]))
        match_more = partial(table.find, caller_number=None, mode=MatchMode.MATCHMORE)
        record("MATCHMORE prefix", per_call(match_more, [h[:5] for h in hits]))
        record("linear walk miss (reference)", per_call(partial(linear_walk, table), misses[:20]))

    for label, values in figures.items():
        median = statistics.median(values)
        shown = f"{median * 1e3:9.1f} ms" if label.startswith("build") else f"{median * 1e6:9.1f} us"
        print(f"{label:32s} {shown}")


if __name__ == "__main__":
    main()
