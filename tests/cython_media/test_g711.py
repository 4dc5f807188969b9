"""G.711 against spandsp, exhaustively, for the compiled module and its pure-Python twin."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

import cython_media
from cython_media import _g711_py, g711

IMPLEMENTATIONS: list[ModuleType] = [_g711_py]
try:
    from cython_media import _g711 as _compiled
except ImportError:
    _compiled = None
else:
    IMPLEMENTATIONS.append(_compiled)

ALL_LINEAR = struct.pack("<65536h", *range(-32768, 32768))
ALL_CODES = bytes(range(256))

# spandsp's own inline G.711 (libspandsp-dev) as the independent reference.
REFERENCE_C = r"""
#include <stdio.h>
#include <stdint.h>
#include <inttypes.h>
#include <spandsp/telephony.h>
#include <spandsp/bit_operations.h>
#include <spandsp/g711.h>
int main(void) {
    for (int i = -32768; i < 32768; i++) putchar(linear_to_ulaw(i));
    for (int i = -32768; i < 32768; i++) putchar(linear_to_alaw(i));
    for (int c = 0; c < 256; c++) { int16_t v = ulaw_to_linear((uint8_t) c); fwrite(&v, 2, 1, stdout); }
    for (int c = 0; c < 256; c++) { int16_t v = alaw_to_linear((uint8_t) c); fwrite(&v, 2, 1, stdout); }
    return 0;
}
"""


@pytest.fixture(scope="module")
def spandsp(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    if not Path("/usr/include/spandsp/g711.h").exists():
        pytest.fail("spandsp headers missing: install the Debian package libspandsp-dev")
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.fail("no C compiler: install the Debian package build-essential")
    workdir = tmp_path_factory.mktemp("spandsp")
    (workdir / "ref.c").write_text(REFERENCE_C)
    subprocess.run([compiler, "-O2", "-o", str(workdir / "ref"), str(workdir / "ref.c")], check=True)
    out = subprocess.run([str(workdir / "ref")], check=True, capture_output=True).stdout
    return {"ulaw": out[:65536], "alaw": out[65536:131072], "ulaw_dec": out[131072:131584],
            "alaw_dec": out[131584:]}


@pytest.fixture(params=IMPLEMENTATIONS, ids=lambda m: "compiled" if m is _compiled else "pure")
def impl(request: pytest.FixtureRequest) -> ModuleType:
    return request.param  # type: ignore[no-any-return]


def test_compiled_build_is_present_unless_pure_mode_is_forced() -> None:
    # CI builds the extension; a silently missing .so would make every "compiled" test pure.
    if os.environ.get("CENTRALITA_NO_EXTENSIONS"):
        assert g711.ACCELERATED is False and cython_media.implementation() == "pure-python"
    else:
        assert _compiled is not None, "cython_media._g711 was not built"
        assert g711.ACCELERATED is True and g711.lin2ulaw is _compiled.lin2ulaw


def test_decoders_match_spandsp_for_all_256_codes(impl: ModuleType, spandsp: dict[str, bytes]) -> None:
    assert impl.ulaw2lin(ALL_CODES) == spandsp["ulaw_dec"]
    assert impl.alaw2lin(ALL_CODES) == spandsp["alaw_dec"]


def test_alaw_encoder_matches_spandsp_for_all_65536_inputs(impl: ModuleType, spandsp: dict[str, bytes]) -> None:
    assert impl.lin2alaw(ALL_LINEAR) == spandsp["alaw"]


def test_ulaw_encoder_follows_g191_for_all_65536_inputs(impl: ModuleType, spandsp: dict[str, bytes]) -> None:
    """ITU-T G.191's reference encoder takes negative samples in one's complement (~x); spandsp 0.0.6
    takes -x.  So for x >= 0 the codes are spandsp's, for x < -1 they are spandsp's code of x + 1
    (BIAS - (x + 1) == BIAS + ~x), and -1 is the negative zero code 0x7F."""
    ours = impl.lin2ulaw(ALL_LINEAR)
    ref = spandsp["ulaw"]
    offset = 32768
    assert ours[offset:] == ref[offset:]
    assert ours[offset - 1] == 0x7F
    assert ours[: offset - 1] == ref[1:offset]


def test_known_values(impl: ModuleType) -> None:
    assert struct.unpack("<4h", impl.ulaw2lin(b"\x00\x7f\x80\xff")) == (-32124, 0, 32124, 0)
    assert struct.unpack("<2h", impl.alaw2lin(b"\xd5\x55")) == (8, -8)
    assert impl.lin2ulaw(struct.pack("<3h", 0, 32767, -32768)) == b"\xff\x80\x00"
    assert impl.lin2alaw(struct.pack("<3h", 0, 32767, -32768)) == b"\xd5\xaa\x2a"


def test_input_types_and_lengths(impl: ModuleType) -> None:
    assert impl.lin2ulaw(b"") == b"" and impl.ulaw2lin(b"") == b""
    assert impl.lin2alaw(bytearray(b"\x00\x00")) == b"\xd5"
    assert impl.ulaw2lin(memoryview(b"\xff\xff")) == b"\x00\x00\x00\x00"
    with pytest.raises(ValueError):
        impl.lin2ulaw(b"\x00")


def test_round_trip_is_stable(impl: ModuleType) -> None:
    for encode, decode in ((impl.lin2ulaw, impl.ulaw2lin), (impl.lin2alaw, impl.alaw2lin)):
        decoded = decode(ALL_CODES)
        assert decode(encode(decoded)) == decoded
