"""SIP call rate through the B2BUA: SIPp uac -> centralita -> SIPp uas, against sippy's B2BUA.

Each step offers a call rate for a few seconds (SIPp's built-in ``uac``: INVITE, 100/180/200, ACK, BYE
right away; no media) and counts failed calls and INVITE retransmissions; the highest rate with every call
successful and no retransmission is the clean rate.  After the first failing step, two more steps bisect
between it and the clean rate below (to the nearest 10/s), after a pause that lets the failed step's
retransmissions die down.  centralita routes the calls through its dialplan
(``Dial(SIP/uas/${EXTEN})`` over a trunk, SDP passed through as sippy does: ``sip.direct_media``) with CDRs
off, then on, on the ``sip-only`` board profile: what is measured is signalling, as for sippy, and the simulated
default board's chip models would add ~5 % of a core that a real board does not pay; sippy's ``b2bua_simple``
(PyPI ``sippy``) forwards them to the same SIPp uas; as it sometimes forwards the 180 after the 200, which SIPp's uac
counts as a failed call, its calls run with that check off (``-default_behaviors all,-abortunexp``), ours
with it on.  Also: REGISTERs per second with digest authentication, and the memory
of 1,000 concurrent calls (2,000 dialogs) held open.

    python bench/sip_cps.py            # full ramps
    python bench/sip_cps.py --smoke    # one short step each (CI)
    python bench/sip_cps.py --only register   # the REGISTER ramp alone
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = REPO / "tests" / "interop" / "scenarios"
RATES = [10, 25, 50, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1200, 1500, 2000, 2500]
REGISTER_RATES = [500, 1000, 1500, 2000, 3000, 4000, 5000]


def interpreter() -> str:
    """The Python the figures were measured on: the build matters (docs/testing.md, "The interpreter")."""
    base = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    return f"Python {sys.version.split()[0]} ({base})"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def need(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise SystemExit(f"{binary} not found: install {package}")
    return path


def sipp(*args: str, cwd: Path, timeout: float) -> tuple[bool, int, int, int]:
    """Run SIPp; (clean, successful, failed, retransmissions)."""
    try:
        process = subprocess.run([need("sipp", "the Debian package sip-tester"), *args, "-nostdin"], cwd=cwd,
                                 capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        # SIPp overran its own -timeout (an overloaded step): the step failed, the ramp goes on.
        screen = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return False, _counter(screen, "Successful call"), max(1, _counter(screen, "Failed call")), 0
    screen = process.stdout
    successful = _counter(screen, "Successful call")
    failed = _counter(screen, "Failed call")
    retrans = sum(int(m.group(1)) for m in re.finditer(r"^\s*(?:INVITE|REGISTER) ---------->\s+\d+\s+(\d+)", screen,
                                                       re.MULTILINE))
    return process.returncode == 0 and failed == 0 and retrans == 0, successful, failed, retrans


def _counter(screen: str, name: str) -> int:
    matches = re.findall(rf"{name}\s*\|\s*\d+\s*\|\s*(\d+)", screen)
    return int(matches[-1]) if matches else 0


class Uas:
    """SIPp's built-in uas answering everything."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.process = subprocess.Popen([need("sipp", "sip-tester"), "-sn", "uas", "-i", "127.0.0.1", "-p",
                                         str(self.port), "-nostdin"], cwd=workdir, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        time.sleep(0.3)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_centralita(workdir: Path, uas_port: int, *, cdr: bool) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    config = workdir / "centralita.toml"
    config.write_text(f"""
[system]
data_dir = "{workdir / ('data-cdr' if cdr else 'data')}"
[log]
level = "warning"
[board]
profile = "sip-only"
[sip]
bind = "127.0.0.1"
port = {port}
requests_per_second = 100000
direct_media = true
[cdr]
enabled = {"true" if cdr else "false"}
[dialplan]
file = "extensions.conf"
[[sip.users]]
name = "1001"
secret = "bench-secret"
[[sip.trunks]]
name = "uas"
servers = ["127.0.0.1:{uas_port}"]
context = "bench"
""")
    (workdir / "extensions.conf").write_text("[bench]\nexten => _X.,1,Dial(SIP/uas/${EXTEN})\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    process = subprocess.Popen([sys.executable, "-m", "firmware", "run", "--config", str(config),
                                "--control", str(workdir / "control.sock")], cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_udp(port)
    return process, port


def start_sippy(workdir: Path, uas_port: int) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("b2bua_simple") or str(Path(sys.executable).parent / "b2bua_simple")
    if not Path(binary).exists():
        raise SystemExit("b2bua_simple not found: pip install sippy (the dev extra has it)")
    port = free_port()
    process = subprocess.Popen([binary, "-f", "-l", "127.0.0.1", "-p", str(port), "-n", f"127.0.0.1:{uas_port}",
                                "-L", str(workdir / "sippy.log")], cwd=workdir, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    _wait_udp(port)
    return process, port


def _wait_udp(port: int, timeout: float = 15.0) -> None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    probe.settimeout(0.2)
    options = (f"OPTIONS sip:ping@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{probe.getsockname()[1]};"
               "branch=z9hG4bK-probe\r\nMax-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=p\r\n"
               "To: <sip:ping@127.0.0.1>\r\nCall-ID: probe@bench\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        probe.sendto(options.encode(), ("127.0.0.1", port))
        try:
            probe.recv(4096)
            probe.close()
            return
        except OSError:
            continue
    probe.close()
    raise SystemExit(f"nothing answers on 127.0.0.1:{port}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process ``pid`` has used (``/proc/<pid>/stat`` utime + stime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Ramp:
    """The steps of one ramp: the highest clean rate and the server's CPU milliseconds per successful
    call (or registration) at that rate."""

    def __init__(self) -> None:
        self.best = 0
        self.cpu_ms = 0.0
        self.log: list[str] = []

    def step(self, rate: int, outcome: tuple[bool, int, int, int], expected: int, cpu: float) -> bool:
        clean, ok, failed, retrans = outcome
        per = 1000 * cpu / ok if ok else 0.0
        self.log.append(f"{rate}/s: {ok} ok, {failed} failed, {retrans} retransmitted, {per:.2f} ms CPU each")
        if not clean or ok != expected:
            return False
        self.best, self.cpu_ms = rate, per
        return True


REFINE_STEPS = 2  # bisections between the highest clean rate and the first failing one
SETTLE_SECONDS = 5.0  # pause before a bisection step: the failed step's retransmissions die down


def climb(rates: list[int], run: Callable[[int], tuple[tuple[bool, int, int, int], int, float]]) -> Ramp:
    """Raise the rate through ``rates`` until a step fails, then bisect between the highest clean rate and
    the failing one (to the nearest 10/s) so that the figure is not just the coarse step below.
    ``run(rate)`` returns SIPp's outcome, the count expected and the server's CPU seconds."""
    result = Ramp()
    failed_at = 0
    for rate in rates:
        if not result.step(rate, *run(rate)):
            failed_at = rate
            break
    low, high = result.best, failed_at
    for _ in range(REFINE_STEPS if low and high else 0):
        middle = round((low + high) / 20) * 10
        if not low < middle < high:
            break
        time.sleep(SETTLE_SECONDS)
        if result.step(middle, *run(middle)):
            low = middle
        else:
            high = middle
    return result


# SIPp's uac aborts a call on a message its scenario does not expect. sippy's B2BUA forwards the callee's
# 180 after its 200 at times (seen from 10 calls/s up), which would make its rate that of a race rather
# than of its CPU: its calls are run with that check off, ours keep it.
TOLERANT = ("-default_behaviors", "all,-abortunexp")


def ramp(pid: int, port: int, workdir: Path, rates: list[int], seconds: float, *extra: str) -> Ramp:
    def run(rate: int) -> tuple[tuple[bool, int, int, int], int, float]:
        calls = int(rate * seconds)
        before = cpu_seconds(pid)
        outcome = sipp("-sn", "uac", f"127.0.0.1:{port}", "-s", "1000", "-i", "127.0.0.1", "-p", str(free_port()),
                       "-r", str(rate), "-m", str(calls), "-timeout", f"{int(seconds) + 20}s", *extra, cwd=workdir,
                       timeout=seconds + 60)
        return outcome, calls, cpu_seconds(pid) - before

    return climb(rates, run)


def register_ramp(pid: int, port: int, workdir: Path, rates: list[int], seconds: float) -> Ramp:
    def run(rate: int) -> tuple[tuple[bool, int, int, int], int, float]:
        count = int(rate * seconds)
        before = cpu_seconds(pid)
        outcome = sipp(f"127.0.0.1:{port}", "-sf", str(SCENARIOS / "register.xml"), "-s", "1001", "-au", "1001",
                       "-ap", "bench-secret", "-i", "127.0.0.1", "-p", str(free_port()), "-r", str(rate), "-m",
                       str(count), "-timeout", f"{int(seconds) + 20}s", cwd=workdir, timeout=seconds + 60)
        return outcome, count, cpu_seconds(pid) - before

    return climb(rates, run)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def concurrent_memory(process: subprocess.Popen[bytes], port: int, workdir: Path, calls: int) -> float:
    """MiB per 1,000 dialogs: RSS with ``calls`` calls held open minus RSS before, per 2*calls dialogs."""
    before = rss_mb(process.pid)
    runner = subprocess.Popen([need("sipp", "sip-tester"), "-sn", "uac", f"127.0.0.1:{port}", "-s", "1000",
                               "-i", "127.0.0.1",
                               "-p", str(free_port()), "-r", "500", "-m", str(calls), "-l", str(calls), "-d",
                               "15000", "-nostdin"], cwd=workdir, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    time.sleep(calls / 500 + 3)
    during = rss_mb(process.pid)
    runner.send_signal(signal.SIGTERM)
    try:
        runner.wait(timeout=30)
    except subprocess.TimeoutExpired:
        runner.kill()
    return (during - before) / (2 * calls) * 1000


def register_only(smoke: bool) -> int:
    """The REGISTER ramp alone (``--only register``), on a fresh gateway with CDRs off."""
    register_rates, seconds = ([100], 1.0) if smoke else (REGISTER_RATES, 3.0)
    with tempfile.TemporaryDirectory(prefix="cta-sipbench-") as tmp:
        workdir = Path(tmp)
        uas = Uas(workdir)
        try:
            process, port = start_centralita(workdir, uas.port, cdr=False)
            try:
                reg = register_ramp(process.pid, port, workdir, register_rates, seconds)
            finally:
                stop(process)
        finally:
            uas.stop()
    load = os.getloadavg()
    print(f"SIP REGISTER rate, SIPp -> centralita on 127.0.0.1, {seconds:.0f} s per step, {os.cpu_count()} CPUs, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end, {interpreter()}")
    print(f"  REGISTER with digest (401 challenge + authenticated REGISTER): highest clean rate {reg.best:5d} /s, "
          f"{reg.cpu_ms:5.2f} ms CPU per registration")
    print(f"  {'':<15} steps: {'; '.join(reg.log)}")
    met = reg.best >= 3000
    print(f"  target (>= 3,000 REGISTER/s): {'met' if met else 'NOT met'}")
    return 0 if met or smoke else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="one short step each (CI)")
    parser.add_argument("--only", choices=("register",), help="run only this part: the REGISTER ramp")
    args = parser.parse_args()
    if args.only == "register":
        return register_only(args.smoke)
    rates, register_rates, seconds = (([50], [100], 1.0) if args.smoke else (RATES, REGISTER_RATES, 3.0))
    with tempfile.TemporaryDirectory(prefix="cta-sipbench-") as tmp:
        workdir = Path(tmp)
        uas = Uas(workdir)
        try:
            results: dict[str, Ramp] = {}
            memory = 0.0
            if not args.smoke:
                # On a fresh process: after a ramp, memory freed by ended calls is reused and RSS hardly grows.
                process, port = start_centralita(workdir, uas.port, cdr=False)
                try:
                    memory = concurrent_memory(process, port, workdir, 1000)
                finally:
                    stop(process)
            for label, cdr in (("centralita", False), ("centralita+cdr", True)):
                process, port = start_centralita(workdir, uas.port, cdr=cdr)
                try:
                    results[label] = ramp(process.pid, port, workdir, rates, seconds)
                    if label == "centralita":
                        results["register"] = register_ramp(process.pid, port, workdir, register_rates, seconds)
                finally:
                    stop(process)
            sippy, sippy_port = start_sippy(workdir, uas.port)
            try:
                results["sippy"] = ramp(sippy.pid, sippy_port, workdir, rates, seconds, *TOLERANT)
            finally:
                stop(sippy)
        finally:
            uas.stop()
    load = os.getloadavg()
    print(f"SIP call rate, SIPp uac -> B2BUA -> SIPp uas on 127.0.0.1 (no media), {seconds:.0f} s per step, "
          f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end, {interpreter()}")
    for label in ("centralita", "centralita+cdr", "sippy"):
        r = results[label]
        print(f"  {label:<15} highest clean rate {r.best:5d} calls/s, {r.cpu_ms:5.2f} ms CPU per call")
        print(f"  {'':<15} steps: {'; '.join(r.log)}")
    print(f"  {'':<15} (sippy's calls tolerate out-of-order responses: SIPp {' '.join(TOLERANT)})")
    reg = results["register"]
    print(f"  REGISTER with digest (401 challenge + authenticated REGISTER): highest clean rate {reg.best:5d} /s, "
          f"{reg.cpu_ms:5.2f} ms CPU per registration")
    print(f"  {'':<15} steps: {'; '.join(reg.log)}")
    sippy_best = results["sippy"].best
    ours = results["centralita"].best
    ratio = f"x{ours / sippy_best:.2f}" if sippy_best else "n/a (sippy completed no step)"
    print(f"  ratio centralita/sippy (highest clean call rates): {ratio}")
    if not args.smoke:
        print(f"  memory: {memory:.1f} MiB per 1,000 dialogs (1,000 calls held open = 2,000 dialogs)")
    met = ours >= 1000 and reg.best >= 3000
    print(f"  targets (>= 1,000 calls/s clean, >= 3,000 REGISTER/s): {'met' if met else 'NOT met'}")
    return 0 if met or args.smoke else 1


if __name__ == "__main__":
    sys.exit(main())
