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
    /* G.711 Tables 3 and 4 (library functions, not inline: link -lspandsp). */
    for (int c = 0; c < 256; c++) putchar(ulaw_to_alaw((uint8_t) c));
    for (int c = 0; c < 256; c++) putchar(alaw_to_ulaw((uint8_t) c));
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
    build = subprocess.run([compiler, "-O2", "-o", str(workdir / "ref"), str(workdir / "ref.c"), "-lspandsp"],
                           capture_output=True, text=True)
    if build.returncode:
        pytest.fail(f"cannot build the spandsp reference (install libspandsp-dev): {build.stderr}")
    out = subprocess.run([str(workdir / "ref")], check=True, capture_output=True).stdout
    return {"ulaw": out[:65536], "alaw": out[65536:131072], "ulaw_dec": out[131072:131584],
            "alaw_dec": out[131584:132096], "ulaw_to_alaw": out[132096:132352], "alaw_to_ulaw": out[132352:]}


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


def test_ulaw_to_alaw_is_g711_table_3_for_all_256_codes(impl: ModuleType, spandsp: dict[str, bytes]) -> None:
    assert len(spandsp["ulaw_to_alaw"]) == 256
    assert impl.ulaw2alaw(ALL_CODES) == spandsp["ulaw_to_alaw"]


def test_alaw_to_ulaw_is_g711_table_4_for_all_256_codes(impl: ModuleType, spandsp: dict[str, bytes]) -> None:
    assert len(spandsp["alaw_to_ulaw"]) == 256
    assert impl.alaw2ulaw(ALL_CODES) == spandsp["alaw_to_ulaw"]


def test_transcoding_is_not_decode_then_encode(impl: ModuleType, spandsp: dict[str, bytes]) -> None:
    """G.711's tables differ from decoding to linear and re-encoding on the codes that sit between two
    decoder values, and keep u-law's negative zero negative; a naive transcoder fails here."""
    naive = impl.lin2alaw(impl.ulaw2lin(ALL_CODES))
    differing = [c for c in range(256) if naive[c] != spandsp["ulaw_to_alaw"][c]]
    assert len(differing) > 20
    assert 0x7F in differing and impl.ulaw2alaw(b"\x7f") == b"\x55"  # -0 -> smallest negative A-law (-8)
    assert impl.ulaw2alaw(b"\xff") == b"\xd5"  # +0 -> smallest positive A-law (+8)


@pytest.mark.parametrize("direction", ["ulaw2alaw", "alaw2ulaw"])
def test_transcoding_keeps_sign_and_stays_within_one_step(impl: ModuleType, direction: str) -> None:
    source_decode = impl.ulaw2lin if direction == "ulaw2alaw" else impl.alaw2lin
    target_decode = impl.alaw2lin if direction == "ulaw2alaw" else impl.ulaw2lin
    converted = getattr(impl, direction)(ALL_CODES)
    before = struct.unpack("<256h", source_decode(ALL_CODES))
    after = struct.unpack("<256h", target_decode(converted))
    for code, (a, b) in enumerate(zip(before, after, strict=True)):
        assert (code & 0x80 == 0) == (b < 0), code  # sign kept, also for the zero codes
        # G.711 steps are at most 1024 (16-bit linear) in the top segment; nearest level is within a step.
        assert abs(abs(a) - abs(b)) <= max(16, abs(a) // 16), (code, a, b)


def test_transcoding_input_types(impl: ModuleType) -> None:
    assert impl.ulaw2alaw(b"") == b"" and impl.alaw2ulaw(b"") == b""
    assert impl.ulaw2alaw(bytearray(b"\xff\x7f")) == b"\xd5\x55"
    assert impl.alaw2ulaw(memoryview(b"\xd5\x55")) == b"\xfe\x7e"  # +-8 exists in u-law too
