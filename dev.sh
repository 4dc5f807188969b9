#!/usr/bin/env bash
# centralita developer entry point; the README's two commands.
#
#   ./dev.sh run [ARGS]   install what the gateway needs, then run it on the embedded default
#                         configuration (simulated board) in the foreground; ARGS go to `centralita run`
#   ./dev.sh test         install what the tests need (Debian packages, a venv), then run ruff, mypy,
#                         the whole test suite with the compiled media extensions and again in pure
#                         Python, the HIL suite against the simulated board, and the benchmarks' smoke runs
#
# Works on a fresh Debian 12 machine with Python 3.10+ (as root, or with sudo). The venv is .venv
# (override with CENTRALITA_VENV). Apt packages are only installed when missing.
set -euo pipefail
cd "$(dirname "$0")"

# The interpreter (override with PYTHON): the distribution's /usr/bin/python3 where it is 3.10 or newer, as on
# the board's own OS, else the first python3 on PATH. Debian builds its CPython with profile-guided and
# link-time optimisation and libpython inside the executable; one compiled with configure's defaults (pyenv's
# builds are) runs the gateway's signalling about 17 % slower (docs/testing.md, "The interpreter").
if [ -z "${PYTHON:-}" ]; then
  PYTHON=python3
  if /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    PYTHON=/usr/bin/python3
  fi
fi
VENV=${CENTRALITA_VENV:-.venv}
# What the gateway needs: a C compiler for the Cython extensions (they are optional, but fast).
APT_RUN=(build-essential)
# What the tests need besides: the telephony DSP/ISDN libraries and the real peers the suite drives.
APT_TEST=(libspandsp-dev libspeexdsp-dev libpri-dev sip-tester tshark iaxmodem kamailio)

log() { printf '\n== %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

_base_of() {
  # The interpreter a python (a venv's or a base one) runs on, symlinks resolved.
  "$1" -c 'import os, sys; print(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))' 2>/dev/null || true
}

python_packages() {
  # Python headers for the extensions: Debian's python3-dev unless this Python ships its own.
  if ! "$PYTHON" -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
    apt_install python3-dev
  fi
  if [ -x "$VENV/bin/python" ] && [ "$(_base_of "$VENV/bin/python")" != "$(_base_of "$PYTHON")" ]; then
    log "$VENV was made by another interpreter than $PYTHON: making it again"
    rm -rf "$VENV"
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV with $PYTHON"
    if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
      rm -rf "$VENV"
      apt_install python3-venv
      "$PYTHON" -m venv "$VENV"
    fi
  fi
  local spec="."
  [ -n "${1:-}" ] && spec=".[$1]"
  log "installing centralita into $VENV ($spec)"
  # A stale build/ or in-place .so could hide a failed compile (setuptools reuses them).
  rm -rf build cython_media/*.so
  local out
  out=$(mktemp)
  if ! "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$spec" >"$out" 2>&1; then
    grep -v "^WARNING: Location .* is ignored" "$out" >&2 || true
    rm -f "$out"
    echo "pip install failed" >&2
    exit 1
  fi
  grep -v "^WARNING: Location .* is ignored" "$out" || true
  rm -f "$out"
  "$VENV/bin/python" -c 'import firmware' # fail here, not later, if the install did not work
}

cmd_run() {
  apt_install "${APT_RUN[@]}"
  # On a real board add the hardware backends: CENTRALITA_EXTRAS=rpi ./dev.sh run
  python_packages "${CENTRALITA_EXTRAS:-}"
  log "starting centralita (embedded default: simulated board); stop with Ctrl-C"
  exec "$VENV/bin/centralita" run "$@"
}

cmd_test() {
  apt_install "${APT_RUN[@]}" "${APT_TEST[@]}"
  python_packages dev
  local py="$VENV/bin/python"
  log "ruff";  "$VENV/bin/ruff" check .
  log "mypy";  "$VENV/bin/mypy"
  log "tests, compiled media extensions"
  "$py" -m pytest -p no:pytest_embedded --ignore=tests/hil tests
  log "HIL suite against the simulated board (pytest-embedded, serial over a pty)"
  "$py" -m pytest tests/hil
  log "tests, pure-Python media (CENTRALITA_NO_EXTENSIONS=1)"
  # (tests/test_packaging.py builds both kinds of wheel itself: once is enough)
  CENTRALITA_NO_EXTENSIONS=1 "$py" -m pytest -p no:pytest_embedded --ignore=tests/hil \
    --ignore=tests/test_packaging.py tests
  CENTRALITA_NO_EXTENSIONS=1 "$py" -m pytest tests/hil
  log "benchmarks (smoke)"
  for bench in bench/*.py; do "$py" "$bench" --smoke; done
  log "all checks passed"
}

case "${1:-}" in
  run) shift; cmd_run "$@" ;;
  test) shift; cmd_test "$@" ;;
  *) echo "usage: ./dev.sh run [centralita run options] | ./dev.sh test" >&2; exit 2 ;;
esac
