"""Telephony DSP benchmark: cost per channel per 20 ms frame of DTMF detection and echo cancellation.

Times, per 160-sample frame, what a TDM channel's media tick does to the audio coming from the line:
spandsp DTMF detection (``DtmfDetector.feed``), speexdsp echo cancellation with a 128 ms tail
(``EchoCanceller.cancel``), and both chained (the canceller's output goes to the detector), plus a few
other detectors for scale.  Each is run through the compiled bindings and through the ctypes twins, and
against the same library calls made from C (a small harness compiled here with ``cc``, the floor any
binding can reach), on the same audio: speech-like far end, its echo through a hybrid-like path, a
near-end talker and DTMF digits.  Figures are medians of several runs in microseconds per frame, with the
channels one core could carry at that cost (20 ms / cost).

    python bench/dsp.py            # 11 runs over 10 s of audio
    python bench/dsp.py --smoke    # 1 run over 1 s (CI)
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cython_media import _spandsp_py, _speexdsp_py  # noqa: E402
from cython_media import dsp_signals as sig  # noqa: E402

FRAME = 160
TAIL_MS = 128
ECHO_TAPS = [(96, 0.25), (98, -0.12), (101, 0.08), (110, 0.05), (140, -0.03), (300, 0.02)]
TONES = [
    _spandsp_py.ToneCadence("dial", (350, 440)),
    _spandsp_py.ToneCadence("ringback", (440, 480), (2000, 4000)),
    _spandsp_py.ToneCadence("busy", (480, 620), (500, 500)),
    _spandsp_py.ToneCadence("congestion", (480, 620), (250, 250)),
]

C_HARNESS = r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <spandsp.h>
#include <speex/speex_echo.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static void report(void *u, int code, int level, int delay) { (void) u; (void) code; (void) level; (void) delay; }

int main(int argc, char **argv) {
    FILE *f = fopen(argv[1], "rb");
    int runs = atoi(argv[2]);
    fseek(f, 0, SEEK_END); long bytes = ftell(f); fseek(f, 0, SEEK_SET);
    int16_t *data = malloc(bytes); fread(data, 1, bytes, f); fclose(f);
    int n = (int) (bytes / 4 / 160);             /* near frames, then far frames */
    int16_t *near = data, *far = data + n * 160, out[160];
    for (int r = 0; r < runs; r++) {
        dtmf_rx_state_t *d = dtmf_rx_init(NULL, NULL, NULL);
        dtmf_rx_set_realtime_callback(d, report, NULL);
        double t0 = now();
        for (int i = 0; i < n; i++) dtmf_rx(d, near + i * 160, 160);
        double t1 = now();
        SpeexEchoState *e = speex_echo_state_init(160, 8 * %(tail)d);
        int rate = 8000; speex_echo_ctl(e, SPEEX_ECHO_SET_SAMPLING_RATE, &rate);
        double t2 = now();
        for (int i = 0; i < n; i++) speex_echo_cancellation(e, near + i * 160, far + i * 160, out);
        double t3 = now();
        speex_echo_state_reset(e);
        dtmf_rx_state_t *d2 = dtmf_rx_init(NULL, NULL, NULL);
        dtmf_rx_set_realtime_callback(d2, report, NULL);
        double t4 = now();
        for (int i = 0; i < n; i++) {
            speex_echo_cancellation(e, near + i * 160, far + i * 160, out);
            dtmf_rx(d2, out, 160);
        }
        double t5 = now();
        printf("%%.3f %%.3f %%.3f\n", (t1 - t0) / n * 1e6, (t3 - t2) / n * 1e6, (t5 - t4) / n * 1e6);
        dtmf_rx_free(d); dtmf_rx_free(d2); speex_echo_state_destroy(e);
    }
    return 0;
}
"""


def audio(seconds: int) -> tuple[list[bytes], list[bytes]]:
    """Near-end frames (echo + talker + DTMF) and the far-end frames that caused the echo."""
    n = seconds * 8000
    far = sig.pcm(sig.speech_like(n, -15, 1))
    talker = sig.pcm(sig.speech_like(n, -20, 2))
    digits = b"".join(sig.pcm(sig.dtmf(d, -12, 0, 80)) + sig.silence(8000 - 640) for d in "0123456789"[:seconds])
    near = sig.add(sig.echo_path(far, ECHO_TAPS), talker, digits.ljust(2 * n, b"\x00")[: 2 * n])
    return sig.frames(near), sig.frames(far)


def time_once(make: Callable[[], Callable[[bytes, bytes], object]], near: list[bytes], far: list[bytes]) -> float:
    """Microseconds per frame for one pass over the audio with a fresh instance."""
    step = make()
    t0 = time.perf_counter()
    for a, b in zip(near, far, strict=True):
        step(a, b)
    return (time.perf_counter() - t0) / len(near) * 1e6


def workloads(spandsp: ModuleType, speexdsp: ModuleType) -> dict[str, Callable[[], Callable[[bytes, bytes], object]]]:
    def dtmf() -> Callable[[bytes, bytes], object]:
        detector = spandsp.DtmfDetector()
        return lambda near, far: detector.feed(near)

    def echo() -> Callable[[bytes, bytes], object]:
        return speexdsp.EchoCanceller(FRAME, TAIL_MS).cancel  # type: ignore[no-any-return]

    def both() -> Callable[[bytes, bytes], object]:
        detector, canceller = spandsp.DtmfDetector(), speexdsp.EchoCanceller(FRAME, TAIL_MS)
        return lambda near, far: detector.feed(canceller.cancel(near, far))

    def echo_res() -> Callable[[bytes, bytes], object]:
        return speexdsp.EchoCanceller(FRAME, TAIL_MS, residual_suppression=True).cancel  # type: ignore[no-any-return]

    def progress() -> Callable[[bytes, bytes], object]:
        detector = spandsp.CallProgressDetector(TONES)
        return lambda near, far: detector.feed(near)

    def modem() -> Callable[[bytes, bytes], object]:
        detector = spandsp.ModemToneDetector()
        return lambda near, far: detector.feed(near)

    return {
        "DTMF detect + echo cancel": both,
        "DTMF detect": dtmf,
        f"echo cancel {TAIL_MS} ms": echo,
        f"echo cancel {TAIL_MS} ms + residual supp.": echo_res,
        "call-progress (4 tones)": progress,
        "fax/modem tones (CNG, ANSam)": modem,
    }


class CFloor:
    """The same library calls made from C: a harness compiled once, run once per benchmark round."""

    def __init__(self, near: list[bytes], far: list[bytes], workdir: Path) -> None:
        self.binary = workdir / "dsp_floor"
        self.data = workdir / "audio.raw"
        self.data.write_bytes(b"".join(near) + b"".join(far))
        source = workdir / "dsp_floor.c"
        source.write_text(C_HARNESS % {"tail": TAIL_MS})
        compiler = shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            raise RuntimeError("no C compiler (Debian package build-essential)")
        build = subprocess.run(
            [compiler, "-O2", "-o", str(self.binary), str(source), "-lspandsp", "-lspeexdsp", "-lm"],
            capture_output=True,
            text=True,
        )
        if build.returncode:
            raise RuntimeError(f"harness did not build (libspandsp-dev, libspeexdsp-dev?): {build.stderr[:200]}")

    def run(self) -> dict[str, float]:
        out = subprocess.run([str(self.binary), str(self.data), "1"], capture_output=True, text=True, check=True)
        dtmf, echo, both = (float(x) for x in out.stdout.split())
        return {"DTMF detect + echo cancel": both, "DTMF detect": dtmf, f"echo cancel {TAIL_MS} ms": echo}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="one short run (CI)")
    args = parser.parse_args()
    runs, seconds = (1, 1) if args.smoke else (11, 10)
    near, far = audio(seconds)
    builds: dict[str, tuple[ModuleType, ModuleType]] = {}
    try:
        builds["compiled"] = (
            importlib.import_module("cython_media._spandsp"),
            importlib.import_module("cython_media._speexdsp"),
        )
    except ImportError as exc:
        print(f"compiled: not built ({exc}; run: python setup.py build_ext --inplace)")
    builds["ctypes"] = (_spandsp_py, _speexdsp_py)
    names = list(workloads(*builds["ctypes"]))
    samples: dict[str, dict[str, list[float]]] = {build: {name: [] for name in names} for build in [*builds, "C"]}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            c_floor: CFloor | None = CFloor(near, far, Path(tmp))
        except RuntimeError as exc:
            print(f"C floor: {exc}")
            c_floor = None
        # Rounds interleave every build and workload, so load from other processes spreads over all of them.
        for _ in range(runs):
            if c_floor is not None:
                for name, value in c_floor.run().items():
                    samples["C"][name].append(value)
            for build, mods in builds.items():
                for name, make in workloads(*mods).items():
                    samples[build][name].append(time_once(make, near, far))
    figures = {b: {n: statistics.median(v) for n, v in per.items() if v} for b, per in samples.items() if b != "C"}
    floor = {n: statistics.median(v) for n, v in samples["C"].items() if v} or None
    print(f"DSP cost per channel per 20 ms frame (160 samples), us, median of {runs} run(s) over {len(near)} frames")
    header = f"{'workload':<38}" + "".join(f"{b:>10} {'ch/core':>8}" for b in figures)
    header += f"{'C':>10} {'ch/core':>8}{'compiled/C':>12}" if floor and "compiled" in figures else ""
    header += f"{'ctypes/compiled':>17}" if "compiled" in figures else ""
    print(header)
    for name in names:
        row = f"{name:<38}" + "".join(f"{figures[b][name]:>10.2f} {20000 / figures[b][name]:>8.0f}" for b in figures)
        if floor and "compiled" in figures:
            if name in floor:
                row += (
                    f"{floor[name]:>10.2f} {20000 / floor[name]:>8.0f}{figures['compiled'][name] / floor[name]:>11.2f}x"
                )
            else:
                row += " " * 31
        if "compiled" in figures:
            row += f"{figures['ctypes'][name] / figures['compiled'][name]:>16.2f}x"
        print(row)
    print("ch/core = channels one core could process at that cost (20 ms / cost per frame)")


if __name__ == "__main__":
    main()
