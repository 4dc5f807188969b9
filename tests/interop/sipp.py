"""Running SIPp (Debian package ``sip-tester``) against a gateway on loopback."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import free_port

SCENARIOS = Path(__file__).resolve().parent / "scenarios"


def sipp_binary() -> str:
    """The sipp executable, or a test failure naming the package to install."""
    path = shutil.which("sipp")
    if path is None:
        pytest.fail("sipp not found: install the Debian package sip-tester (./dev.sh test does)")
    return path


@dataclass
class SippResult:
    """How a SIPp run ended."""

    returncode: int
    output: str
    errors: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Sipp:
    """One SIPp instance bound to a port of its own, talking to the gateway at ``target``."""

    def __init__(self, target: tuple[str, int], workdir: Path, *, local_ip: str = "127.0.0.1") -> None:
        self.binary = sipp_binary()
        self.target = target
        self.workdir = workdir
        self.local_ip = local_ip
        self.port = free_port(local_ip)
        self._background: subprocess.Popen[str] | None = None

    def _command(self, scenario: str, *args: str, calls: int = 1, timeout: float = 10.0) -> list[str]:
        host, port = self.target
        path = scenario if Path(scenario).is_absolute() else str(SCENARIOS / scenario)
        return [self.binary, f"{host}:{port}", "-sf", path, "-i", self.local_ip,
                "-p", str(self.port), "-m", str(calls), "-nostdin", "-timeout", f"{timeout}s", "-timeout_error",
                "-trace_msg", "-message_file", str(self.workdir / f"sipp-{self.port}-msgs.log"),
                "-trace_err", "-error_file", str(self.workdir / f"sipp-{self.port}-errors.log"), *args]

    def run(self, scenario: str, *args: str, calls: int = 1, timeout: float = 10.0) -> SippResult:
        """Run a scenario to its end."""
        process = subprocess.run(self._command(scenario, *args, calls=calls, timeout=timeout), cwd=self.workdir,
                                 capture_output=True, text=True, timeout=timeout + 10, check=False)
        return SippResult(process.returncode, process.stdout, self._errors())

    def start(self, scenario: str, *args: str, calls: int = 1, timeout: float = 15.0) -> None:
        """Run a scenario in the background (a phone waiting for a call)."""
        self._background = subprocess.Popen(self._command(scenario, *args, calls=calls, timeout=timeout),
                                            cwd=self.workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                            text=True)

    def wait(self, timeout: float = 20.0) -> SippResult:
        """Wait for the background scenario."""
        assert self._background is not None
        try:
            output, _ = self._background.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._background.kill()
            output, _ = self._background.communicate()
        return SippResult(self._background.returncode, output, self._errors())

    def stop(self) -> None:
        if self._background is not None and self._background.poll() is None:
            self._background.kill()
            self._background.communicate()

    def scenario_with(self, name: str, **replacements: str) -> str:
        """A copy of scenario ``name`` with placeholders replaced (SIPp cannot vary a status line)."""
        text = (SCENARIOS / name).read_text()
        for key, value in replacements.items():
            text = text.replace(key, value)
        import hashlib

        tag = hashlib.sha1("|".join(replacements.values()).encode()).hexdigest()[:10]
        path = self.workdir / f"{Path(name).stem}-{tag}.xml"
        path.write_text(text)
        return str(path)

    def _errors(self) -> str:
        path = self.workdir / f"sipp-{self.port}-errors.log"
        msgs = self.workdir / f"sipp-{self.port}-msgs.log"
        errors = path.read_text(errors="replace") if path.exists() else ""
        if msgs.exists():  # the message trace, for the failure report
            errors += "\n-- messages seen by this SIPp --\n" + msgs.read_text(errors="replace")[-8000:]
        return errors
