"""The distribution: wheels with and without the Cython extensions, and the import-time switch."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support import REPO


def build_wheel(tmp_path: Path, *, pure: bool) -> zipfile.ZipFile:
    source = tmp_path / "src"
    # A copy without build products, as a fresh clone would be.
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.so", "*.c", "__pycache__", "*.egg-info", ".mypy_cache", ".ruff_cache"))
    env = {**os.environ}
    env.pop("CENTRALITA_NO_EXTENSIONS", None)
    if pure:
        env["CENTRALITA_NO_EXTENSIONS"] = "1"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
         str(tmp_path / "dist"), str(source)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = (tmp_path / "dist").glob("centralita-*.whl")
    return zipfile.ZipFile(wheel)


def test_compiled_wheel_carries_the_extension_and_the_pure_twin(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, pure=False)
    names = wheel.namelist()
    assert any(n.startswith("cython_media/_g711.") and n.endswith(".so") for n in names)
    assert "cython_media/_g711_py.py" in names
    assert not any(n.endswith((".pyx", ".c")) for n in names)
    assert "firmware/defaults/centralita.toml" in names and "board/profiles/sim-2fxs-2fxo.toml" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "centralita = firmware.cli:main" in wheel.read(entry_points).decode()


def test_pure_wheel_has_no_compiled_code(tmp_path: Path) -> None:
    names = build_wheel(tmp_path, pure=True).namelist()
    assert not any(n.endswith(".so") for n in names)
    assert "cython_media/_g711_py.py" in names


@pytest.mark.parametrize("pure", [True, False])
def test_import_time_switch(pure: bool) -> None:
    env = {**os.environ}
    env.pop("CENTRALITA_NO_EXTENSIONS", None)
    if pure:
        env["CENTRALITA_NO_EXTENSIONS"] = "1"
    out = subprocess.run(
        [sys.executable, "-c", "import cython_media; print(cython_media.implementation())"],
        env=env, capture_output=True, text=True, check=True, cwd=REPO,
    ).stdout.strip()
    assert out == ("pure-python" if pure else "compiled")
