"""Start-up benchmark: boot-to-ready time and idle memory of `centralita run` on the default config.

Compared, in the same run, with Kamailio (Debian's `kamailio`, a C SIP server) started with a minimal
configuration on loopback.  Ready means: for centralita, its sd_notify READY=1 (what systemd waits for);
for Kamailio, the first answer to a SIP OPTIONS (it has no READY in Debian's build).  Memory is the
proportional set size (PSS) summed over the process tree, so Kamailio's forked workers are counted
fairly, plus centralita's plain RSS (its target: <= 40 MB).  Targets: ready <= 1 s, RSS <= 40 MB.

    python bench/startup.py            # 7 runs each, medians
    python bench/startup.py --smoke    # 1 run each (CI)
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IDLE_SECONDS = 1.0
PACKAGES = ("firmware", "core", "board", "drivers", "cython_media", "tools")

KAMAILIO_CFG = """#!KAMAILIO
debug=0
log_stderror=yes
children=1
listen=udp:127.0.0.1:{port}
disable_tcp=yes
loadmodule "sl.so"
request_route {{
    sl_send_reply("200", "OK");
}}
"""


@dataclass
class Sample:
    ready_s: float
    rss_mb: float
    pss_mb: float


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree_pids(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, stack = [], [root]
    while stack:
        pid = stack.pop()
        out.append(pid)
        stack.extend(children.get(pid, []))
    return out


def memory_mb(root: int) -> tuple[float, float]:
    """(RSS of the root process, PSS summed over the tree) in MiB."""
    rss = 0
    for line in Path(f"/proc/{root}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    pss = 0
    for pid in tree_pids(root):
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            continue
    return rss / 1024, pss / 1024


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_centralita() -> Sample:
    workdir = Path(tempfile.mkdtemp(prefix="cta-bench-", dir="/tmp"))
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(workdir / "notify.sock"))
    notify.settimeout(10)
    env = {**os.environ, "NOTIFY_SOCKET": str(workdir / "notify.sock")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a deployed gateway starts from compiled bytecode
    command = [sys.executable, "-m", "firmware", "run", "--set", f'system.data_dir="{workdir / "data"}"',
               "--set", "sip.bind=127.0.0.1", "--set", "sip.port=0", "--log-level", "warning"]
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while b"READY=1" not in notify.recv(4096):
            pass
        ready = time.perf_counter() - start
        time.sleep(IDLE_SECONDS)
        rss, pss = memory_mb(process.pid)
    except OSError as exc:
        stop(process)
        raise SystemExit(f"centralita did not become ready: {exc}\n{process.stderr.read().decode()}") from None
    finally:
        notify.close()
    stop(process)
    if process.returncode != 0:
        raise SystemExit(f"centralita exited with {process.returncode} on SIGTERM")
    shutil.rmtree(workdir, ignore_errors=True)
    return Sample(ready, rss, pss)


def options_request(port: int, local_port: int) -> bytes:
    return (f"OPTIONS sip:ping@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};branch=z9hG4bK-bench-{time.monotonic_ns()}\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:bench@127.0.0.1>;tag=b1\r\nTo: <sip:ping@127.0.0.1>\r\n"
            f"Call-ID: {time.monotonic_ns()}@bench\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode()


def run_kamailio(binary: str) -> Sample:
    workdir = Path(tempfile.mkdtemp(prefix="cta-kam-", dir="/tmp"))
    port = free_udp_port()
    cfg = workdir / "kamailio.cfg"
    cfg.write_text(KAMAILIO_CFG.format(port=port))
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    probe.settimeout(0.005)
    local_port = probe.getsockname()[1]
    start = time.perf_counter()
    process = subprocess.Popen([binary, "-f", str(cfg), "-DD", "-E", "-P", str(workdir / "k.pid")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = start + 10
        while True:
            if time.perf_counter() > deadline or process.poll() is not None:
                raise SystemExit("kamailio did not answer OPTIONS within 10 s")
            probe.sendto(options_request(port, local_port), ("127.0.0.1", port))
            try:
                if probe.recv(4096).startswith(b"SIP/2.0 200"):
                    break
            except (TimeoutError, ConnectionRefusedError):
                continue
        ready = time.perf_counter() - start
        time.sleep(IDLE_SECONDS)
        rss, pss = memory_mb(process.pid)
    finally:
        probe.close()
        stop(process)
    shutil.rmtree(workdir, ignore_errors=True)
    return Sample(ready, rss, pss)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="one run each (CI)")
    args = parser.parse_args()
    runs = 1 if args.smoke else args.runs
    kamailio = shutil.which("kamailio") or ("/usr/sbin/kamailio" if Path("/usr/sbin/kamailio").exists() else None)
    if kamailio is None:
        print("kamailio not found: install the Debian package kamailio", file=sys.stderr)
        return 1

    # Compile the bytecode first, as an installed gateway has it (this environment may forbid writing it).
    subprocess.run([sys.executable, "-m", "compileall", "-q", *(str(REPO / p) for p in PACKAGES)], check=True,
                   env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
                   stdout=subprocess.DEVNULL)
    ours = [run_centralita() for _ in range(runs)]
    peer = [run_kamailio(kamailio) for _ in range(runs)]

    def med(samples: list[Sample], attr: str) -> float:
        return statistics.median(getattr(s, attr) for s in samples)

    ready, rss, pss = med(ours, "ready_s"), med(ours, "rss_mb"), med(ours, "pss_mb")
    k_ready, k_pss = med(peer, "ready_s"), med(peer, "pss_mb")
    print(f"start-up, median of {runs} run(s) on {os.cpu_count()} CPU(s)")
    print(f"  centralita  boot-to-ready {ready * 1000:7.1f} ms   idle RSS {rss:5.1f} MiB   PSS {pss:5.1f} MiB"
          f"   (targets: <= 1000 ms, <= 40 MiB RSS)")
    print(f"  kamailio    boot-to-ready {k_ready * 1000:7.1f} ms   idle PSS {k_pss:5.1f} MiB"
          " (main process and its workers)")
    print(f"  ratio centralita/kamailio: ready x{ready / k_ready:.2f}, memory (PSS) x{pss / k_pss:.2f}")
    met = ready <= 1.0 and rss <= 40.0
    print(f"  targets {'met' if met else 'NOT met'}")
    # A smoke run checks that the benchmark works, not the figures (CI machines are shared).
    return 0 if met or args.smoke else 1


if __name__ == "__main__":
    sys.exit(main())
