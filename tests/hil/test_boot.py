"""First HIL tests: the boot banner, the console, a clean shutdown."""

from __future__ import annotations

import pytest

from tests.hil.conftest import Board

pytestmark = pytest.mark.hil


def test_boot_banner(dut: object, board: Board) -> None:
    if not board.observes_boot:
        pytest.skip("real board without --reset-command: it booted before the port was opened (see README)")
    dut.expect(r"centralita \d+\.\d+\.\d+ starting \(pid \d+\)", timeout=30)  # type: ignore[attr-defined]
    board_line = dut.expect(rb"board (\S+): (\d+) FXS \+ (\d+) FXO \((simulated|hardware)\)",  # type: ignore[attr-defined]
                            timeout=10)
    if board.simulated:
        assert board_line.group(1) == b"sim-2fxs-2fxo"
        assert board_line.group(4) == b"simulated"
    dut.expect(r"centralita ready in \d+\.\d+ s", timeout=30)  # type: ignore[attr-defined]
    dut.expect_exact("centralita*CLI> ", timeout=10)  # type: ignore[attr-defined]


def test_core_show_version(dut: object, board: Board) -> None:
    board.wait_ready(dut)
    dut.write("core show version")  # type: ignore[attr-defined]
    version = dut.expect(rb"centralita (\d+\.\d+\.\d+) on Linux (\S+), Python (\S+), media (\S+)",  # type: ignore[attr-defined]
                         timeout=10)
    from firmware import __version__

    if board.simulated:
        assert version.group(1).decode() == __version__


def test_clean_shutdown(dut: object, board: Board) -> None:
    board.wait_ready(dut)
    dut.write("core stop gracefully")  # type: ignore[attr-defined]
    dut.expect_exact("Shutting down gracefully", timeout=10)  # type: ignore[attr-defined]
    dut.expect_exact("shutdown complete", timeout=20)  # type: ignore[attr-defined]
    if board.process is not None:
        assert board.process.wait(timeout=20) == 0
