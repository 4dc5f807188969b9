"""G.711 benchmark: encode/decode/transcode one 20 ms frame (160 samples), side by side.

Implementations, measured in the same run on the same frames:

- ``compiled``: ``cython_media._g711`` (our Cython build);
- ``pure``: ``cython_media._g711_py`` (the pure-Python twin);
- ``audioop``: the standard library's C module (Python <= 3.12), or the ``audioop-lts`` package that
  restores it on 3.13+ (the output says which) — the reference our target is set against;
- ``spandsp``: libspandsp's inline G.711 (Debian ``libspandsp-dev``) in a small C program compiled here
  at run time, timing the same frames in C (no Python call overhead: the floor for a C implementation).

The frames are a few thousand *distinct* 20 ms frames of a speech-like signal (formants with a syllabic
envelope, pitch jitter and noise): timing one repeated frame lets the branch predictor learn it and
overstates table-less encoders several times (``/work/shared/reference/performance.md`` section 5).
Each figure is the median of several runs of one pass over all frames, in ns per frame.

    python bench/g711.py            # 3000 frames, 7 runs
    python bench/g711.py --smoke    # 300 frames, 1 run (CI)
"""

from __future__ import annotations

import argparse
import importlib
import math
import random
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cython_media import _g711_py  # noqa: E402

OPS = ("lin2ulaw", "lin2alaw", "ulaw2lin", "alaw2lin", "ulaw2alaw")

SPANDSP_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <time.h>
#include <spandsp/telephony.h>
#include <spandsp/bit_operations.h>
#include <spandsp/g711.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
int main(int argc, char **argv) {
    int frames = atoi(argv[2]), runs = atoi(argv[3]);
    int16_t *lin = malloc(frames * 320); uint8_t *u = malloc(frames * 160), *a = malloc(frames * 160);
    uint8_t *o8 = malloc(frames * 160); int16_t *o16 = malloc(frames * 320);
    FILE *f = fopen(argv[1], "rb"); if (fread(lin, 320, frames, f) != (size_t) frames) return 1; fclose(f);
    for (int i = 0; i < frames * 160; i++) { u[i] = linear_to_ulaw(lin[i]); a[i] = linear_to_alaw(lin[i]); }
    const char *names[5] = {"lin2ulaw", "lin2alaw", "ulaw2lin", "alaw2lin", "ulaw2alaw"};
    double *t = malloc(runs * sizeof(double)); volatile unsigned sink = 0;
    for (int op = 0; op < 5; op++) {
        for (int r = 0; r < runs; r++) {
            double t0 = now();
            for (int fr = 0; fr < frames; fr++) {
                const int16_t *x = lin + fr * 160; const uint8_t *cu = u + fr * 160, *ca = a + fr * 160;
                uint8_t *y8 = o8 + fr * 160; int16_t *y16 = o16 + fr * 160;
                switch (op) {
                case 0: for (int i = 0; i < 160; i++) y8[i] = linear_to_ulaw(x[i]); break;
                case 1: for (int i = 0; i < 160; i++) y8[i] = linear_to_alaw(x[i]); break;
                case 2: for (int i = 0; i < 160; i++) y16[i] = ulaw_to_linear(cu[i]); break;
                case 3: for (int i = 0; i < 160; i++) y16[i] = alaw_to_linear(ca[i]); break;
                case 4: for (int i = 0; i < 160; i++) y8[i] = ulaw_to_alaw(cu[i]); break;
                }
            }
            t[r] = (now() - t0) / frames * 1e9;
            sink += o8[frames * 80] + o16[frames * 80];
        }
        qsort(t, runs, sizeof(double), cmp);
        printf("%s %.1f\n", names[op], t[runs / 2]);
    }
    return sink == 0xFFFFFFFF;
}
"""


def speech_frames(count: int, seed: int = 711) -> list[bytes]:
    """``count`` distinct 20 ms frames: two formants over a jittered pitch, a syllabic envelope, noise."""
    rng = random.Random(seed)
    frames = []
    phase1 = phase2 = 0.0
    for n in range(count):
        f1 = 300 + 500 * abs(math.sin(n / 17.0)) + rng.uniform(-30, 30)
        f2 = 1100 + 900 * abs(math.sin(n / 23.0 + 1)) + rng.uniform(-60, 60)
        envelope = 200 + 14000 * abs(math.sin(n / 11.0)) ** 2 * (0.6 + 0.4 * rng.random())
        samples = []
        for _ in range(160):
            phase1 += 2 * math.pi * f1 / 8000
            phase2 += 2 * math.pi * f2 / 8000
            v = envelope * (math.sin(phase1) + 0.5 * math.sin(phase2)) + rng.gauss(0, 60 + envelope / 50)
            samples.append(max(-32768, min(32767, int(v))))
        frames.append(struct.pack("<160h", *samples))
    return frames


def audioop_module() -> tuple[ModuleType | None, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            module = importlib.import_module("audioop")
        except ImportError:
            return None, "audioop: not available (Python 3.13+ without the audioop-lts package)"
    origin = getattr(module, "__file__", None) or "built-in"
    kind = "audioop-lts" if "site-packages" in str(origin) else f"stdlib audioop (Python {sys.version.split()[0]})"
    return module, kind


def time_op(fn: Callable[[bytes], bytes], inputs: list[bytes], runs: int) -> float:
    results = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for frame in inputs:
            fn(frame)
        results.append((time.perf_counter() - t0) / len(inputs) * 1e9)
    return statistics.median(results)


def spandsp_figures(frames: list[bytes], runs: int) -> tuple[dict[str, float], str]:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None or not Path("/usr/include/spandsp/g711.h").exists():
        return {}, "spandsp: not measured (install the Debian packages build-essential and libspandsp-dev)"
    with tempfile.TemporaryDirectory() as tmp:
        src, exe, data = Path(tmp, "g711.c"), Path(tmp, "g711"), Path(tmp, "frames.raw")
        src.write_text(SPANDSP_C)
        data.write_bytes(b"".join(frames))
        build = subprocess.run([compiler, "-O2", "-o", str(exe), str(src), "-lspandsp"], capture_output=True,
                               text=True)
        if build.returncode:
            return {}, f"spandsp: build failed: {build.stderr.strip()[:200]}"
        out = subprocess.run([str(exe), str(data), str(len(frames)), str(runs)], capture_output=True, text=True,
                             check=True).stdout
    figures = {name: float(value) for name, value in (line.split() for line in out.splitlines())}
    return figures, "spandsp 0.0.6 inline G.711 (C loop, -O2)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="one short run (CI)")
    args = parser.parse_args()
    count, runs = (300, 1) if args.smoke else (3000, 7)
    frames = speech_frames(count)
    ulaw = [_g711_py.lin2ulaw(f) for f in frames]
    alaw = [_g711_py.lin2alaw(f) for f in frames]
    inputs = {"lin2ulaw": frames, "lin2alaw": frames, "ulaw2lin": ulaw, "alaw2lin": alaw, "ulaw2alaw": ulaw}

    columns: dict[str, dict[str, float]] = {}
    notes = []
    try:
        compiled = importlib.import_module("cython_media._g711")
    except ImportError:
        notes.append("compiled: not built (run: python setup.py build_ext --inplace)")
    else:
        columns["compiled"] = {op: time_op(getattr(compiled, op), inputs[op], runs) for op in OPS}
    columns["pure"] = {op: time_op(getattr(_g711_py, op), inputs[op], max(1, runs // 3)) for op in OPS}
    audioop, audioop_kind = audioop_module()
    notes.append(audioop_kind)
    if audioop is not None:
        fns: dict[str, Callable[[bytes], bytes]] = {
            "lin2ulaw": lambda f: audioop.lin2ulaw(f, 2), "lin2alaw": lambda f: audioop.lin2alaw(f, 2),
            "ulaw2lin": lambda f: audioop.ulaw2lin(f, 2), "alaw2lin": lambda f: audioop.alaw2lin(f, 2),
            # audioop has no direct u-law -> A-law: through linear, as a user of it would.
            "ulaw2alaw": lambda f: audioop.lin2alaw(audioop.ulaw2lin(f, 2), 2),
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            columns["audioop"] = {op: time_op(fns[op], inputs[op], runs) for op in OPS}
    spandsp, spandsp_kind = spandsp_figures(frames, max(runs, 3))
    notes.append(spandsp_kind)
    if spandsp:
        columns["spandsp(C)"] = spandsp

    print(f"G.711 per 20 ms frame (160 samples), ns, median of {runs} run(s) over {count} distinct frames")
    for note in notes:
        print(f"  {note}")
    names = list(columns)
    print(f"{'op':<10}" + "".join(f"{n:>13}" for n in names) + "   compiled/audioop  compiled/spandsp")
    for op in OPS:
        row = f"{op:<10}" + "".join(f"{columns[n][op]:>13.1f}" for n in names)
        c = columns.get("compiled", {}).get(op)
        for ref in ("audioop", "spandsp(C)"):
            r = columns.get(ref, {}).get(op)
            row += f"{c / r:>17.2f}x" if c and r else f"{'-':>18}"
        print(row)
    print("(ratios: time of ours / time of theirs; below 1.00x is faster. ulaw2alaw for audioop goes through "
          "linear.)")


if __name__ == "__main__":
    main()
