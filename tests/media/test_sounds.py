"""Sound files: every format written and read back bit-exact, WAV headers as the RIFF specification lays
them out, refusal of what we cannot play, crash-safe recordings, and Asterisk's prompt lookup."""

from __future__ import annotations

import math
import os
import random
import struct
import wave
from pathlib import Path

import pytest

from core import sounds
from core.apps import say
from core.sounds import Encoding, SoundFileError, SoundReader, SoundWriter
from cython_media import g711


def speechlike(n: int, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        v = 9000 * math.sin(2 * math.pi * 300 * i / 8000) + 4000 * math.sin(2 * math.pi * 1150 * i / 8000)
        out.append(max(-32768, min(32767, round(v * (0.3 + 0.7 * abs(math.sin(i / 700))) + rng.gauss(0, 400)))))
    out[:4] = [32767, -32768, 0, -1]  # extremes survive
    return struct.pack(f"<{n}h", *out)


AUDIO = speechlike(8000 + 37)  # not a whole number of 20 ms frames

CASES = [
    ("x.sln", None, lambda pcm: pcm),
    ("x.raw", None, lambda pcm: pcm),
    ("x.ulaw", None, lambda pcm: g711.ulaw2lin(g711.lin2ulaw(pcm))),
    ("x.pcm", None, lambda pcm: g711.ulaw2lin(g711.lin2ulaw(pcm))),
    ("x.alaw", None, lambda pcm: g711.alaw2lin(g711.lin2alaw(pcm))),
    ("x.wav", None, lambda pcm: pcm),
    ("x.wav", Encoding.SLIN, lambda pcm: pcm),
    ("x.wav", Encoding.ULAW, lambda pcm: g711.ulaw2lin(g711.lin2ulaw(pcm))),
    ("x.wav", Encoding.ALAW, lambda pcm: g711.alaw2lin(g711.lin2alaw(pcm))),
]


@pytest.mark.parametrize(("name", "encoding", "expected"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_write_and_read_back_every_format(tmp_path: Path, name: str, encoding: Encoding | None,
                                          expected: object) -> None:
    path = tmp_path / name
    with SoundWriter(path, encoding) as writer:
        for i in range(0, len(AUDIO), 320):
            writer.write(AUDIO[i:i + 320])
    with SoundReader(path) as reader:
        assert reader.samples == len(AUDIO) // 2
        frames = list(reader.frames())
    assert all(len(f.audio) == 320 for f in frames)
    assert [f.last for f in frames] == [False] * (len(frames) - 1) + [True]
    assert frames[-1].padding == 160 - (len(AUDIO) // 2) % 160
    assert frames[-1].audio[-2 * frames[-1].padding:] == bytes(2 * frames[-1].padding)  # silence padding
    audio = b"".join(f.audio for f in frames)[:len(AUDIO)]
    assert audio == expected(AUDIO)  # type: ignore[operator]


def test_raw_files_are_just_the_samples(tmp_path: Path) -> None:
    sounds.write_sound(tmp_path / "a.ulaw", AUDIO)
    sounds.write_sound(tmp_path / "a.alaw", AUDIO)
    sounds.write_sound(tmp_path / "a.sln", AUDIO)
    assert (tmp_path / "a.ulaw").read_bytes() == g711.lin2ulaw(AUDIO)
    assert (tmp_path / "a.alaw").read_bytes() == g711.lin2alaw(AUDIO)
    assert (tmp_path / "a.sln").read_bytes() == AUDIO


def test_pcm_wav_is_readable_by_the_standard_library(tmp_path: Path) -> None:
    sounds.write_sound(tmp_path / "a.wav", AUDIO)
    with wave.open(str(tmp_path / "a.wav"), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, 8000, 8037)
        assert w.readframes(w.getnframes()) == AUDIO
    raw = (tmp_path / "a.wav").read_bytes()
    assert len(raw) == 44 + len(AUDIO)


@pytest.mark.parametrize(("encoding", "tag"), [(Encoding.ULAW, 7), (Encoding.ALAW, 6)])
def test_g711_wav_header_has_fmt_18_and_fact(tmp_path: Path, encoding: Encoding, tag: int) -> None:
    pcm = AUDIO[:2 * 1001]  # odd sample count: the data chunk gets a pad byte
    sounds.write_sound(tmp_path / "a.wav", pcm, encoding)
    raw = (tmp_path / "a.wav").read_bytes()
    body = encoding.encode(pcm)
    expected = (b"RIFF" + struct.pack("<I", 4 + 26 + 12 + 8 + 1001 + 1) + b"WAVE"
                + b"fmt " + struct.pack("<IHHIIHHH", 18, tag, 1, 8000, 8000, 1, 8, 0)
                + b"fact" + struct.pack("<II", 4, 1001)
                + b"data" + struct.pack("<I", 1001) + body + b"\x00")
    assert raw == expected
    assert sounds.read_sound(tmp_path / "a.wav") == (encoding, encoding.decode(body))


def test_encoded_frames_pass_g711_through(tmp_path: Path) -> None:
    sounds.write_sound(tmp_path / "a.wav", AUDIO, Encoding.ALAW)
    with SoundReader(tmp_path / "a.wav") as reader:
        assert reader.encoding is Encoding.ALAW
        frames = list(reader.encoded_frames())
    data = b"".join(f.audio for f in frames)
    assert data[:len(AUDIO) // 2] == g711.lin2alaw(AUDIO)
    assert data[len(AUDIO) // 2:] == b"\xd5" * frames[-1].padding  # A-law silence


def wav_bytes(tag: int, channels: int, rate: int, bits: int, data: bytes = b"\x00" * 320,
              extensible: bool = False) -> bytes:
    align = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 0xFFFE if extensible else tag, channels, rate, rate * align, align, bits)
    if extensible:
        fmt += struct.pack("<HHI", 22, bits, 4) + struct.pack("<H", tag) + sounds._GUID_TAIL
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"LIST" + struct.pack("<I", 4) + b"INFO"
    chunks += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


@pytest.mark.parametrize(("content", "message"), [
    (wav_bytes(1, 2, 8000, 16), "2 channels"),
    (wav_bytes(1, 1, 16000, 16), "16000 Hz"),
    (wav_bytes(1, 1, 44100, 16), "44100 Hz"),
    (wav_bytes(1, 1, 8000, 8), "8-bit"),
    (wav_bytes(0x31, 1, 8000, 0), "GSM 06.10"),
    (wav_bytes(3, 1, 8000, 32), "IEEE float"),
    (b"RIFX" + bytes(40), "not a RIFF/WAVE"),
    (b"RIFF\x04\x00\x00\x00WAVE", "no 'data' chunk"),
])
def test_unsupported_wav_files_are_refused_clearly(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "bad.wav").write_bytes(content)
    with pytest.raises(SoundFileError, match=message):
        SoundReader(tmp_path / "bad.wav")


def test_extensible_wav_and_extra_chunks_are_read(tmp_path: Path) -> None:
    data = g711.lin2ulaw(AUDIO[:640])
    (tmp_path / "ext.wav").write_bytes(wav_bytes(7, 1, 8000, 8, data, extensible=True))
    assert sounds.read_sound(tmp_path / "ext.wav") == (Encoding.ULAW, g711.ulaw2lin(data))


@pytest.mark.parametrize("name", ["prompt.gsm", "prompt.WAV", "prompt.wav49", "prompt.g729", "prompt.sln16",
                                  "prompt.mp3", "prompt"])
def test_other_formats_are_refused_with_a_clear_error(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"\x00" * 33)
    with pytest.raises(SoundFileError, match="not supported|unknown sound file extension"):
        SoundReader(tmp_path / name)
    with pytest.raises(SoundFileError):
        SoundWriter(tmp_path / ("out-" + name))


def test_writer_refuses_conflicting_encoding_and_odd_pcm(tmp_path: Path) -> None:
    with pytest.raises(SoundFileError):
        SoundWriter(tmp_path / "a.ulaw", Encoding.ALAW)
    with SoundWriter(tmp_path / "a.sln") as writer, pytest.raises(SoundFileError):
        writer.write(b"\x00")


def test_recording_is_readable_after_a_crash(tmp_path: Path) -> None:
    """Kill the writer without close(): the header was last rewritten after one second of audio, the
    rest is still read, and repair_wav fixes the header for other programs."""
    path = tmp_path / "rec.wav"
    writer = SoundWriter(path, Encoding.ULAW)
    pcm = speechlike(8000 * 2 + 480, seed=7)
    for i in range(0, len(pcm), 320):
        writer.write(pcm[i:i + 320])
    writer._file.flush()  # what the OS has when the process dies
    raw = path.read_bytes()
    assert struct.unpack_from("<I", raw, 54)[0] == 16000  # header from the last periodic rewrite
    assert len(raw) == 58 + 16480
    expected = g711.ulaw2lin(g711.lin2ulaw(pcm))
    assert sounds.read_sound(path) == (Encoding.ULAW, expected)
    assert sounds.repair_wav(path) is True
    assert sounds.repair_wav(path) is False
    fixed = path.read_bytes()
    assert struct.unpack_from("<I", fixed, 54)[0] == 16480 and struct.unpack_from("<I", fixed, 46)[0] == 16480
    assert struct.unpack_from("<I", fixed, 4)[0] == len(fixed) - 8
    writer._file.close()


def test_placeholder_header_and_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "t.wav"
    sounds.write_sound(path, AUDIO)
    raw = path.read_bytes()
    # A writer that never came back to fill in the sizes (zeros), and one cut mid-sample.
    path.write_bytes(raw[:4] + b"\x00\x00\x00\x00" + raw[8:40] + b"\x00\x00\x00\x00" + raw[44:])
    assert sounds.read_sound(path)[1] == AUDIO
    path.write_bytes(raw[:-1])
    assert sounds.read_sound(path)[1] == AUDIO[:-2]
    assert sounds.repair_wav(path) is True
    with wave.open(str(path), "rb") as w:
        assert w.readframes(w.getnframes()) == AUDIO[:-2]


@pytest.mark.parametrize(("name", "encoding"), [("a.wav", Encoding.SLIN), ("a.wav", Encoding.ALAW), ("a.ulaw", None)])
def test_append_continues_a_recording(tmp_path: Path, name: str, encoding: Encoding | None) -> None:
    path = tmp_path / name
    sounds.write_sound(path, AUDIO[:1000], encoding)
    with SoundWriter(path, encoding, append=True) as writer:
        writer.write(AUDIO[1000:])
    enc, audio = sounds.read_sound(path)
    assert audio == enc.decode(enc.encode(AUDIO))


def test_seek_and_position(tmp_path: Path) -> None:
    sounds.write_sound(tmp_path / "a.sln", AUDIO)
    with SoundReader(tmp_path / "a.sln") as reader:
        reader.seek(4000)
        frame = reader.read_frame()
        assert frame is not None and frame.audio == AUDIO[8000:8320] and reader.position == 4160
        reader.seek(10**9)
        assert reader.read_frame() is None
    assert SoundReader(tmp_path / "a.sln").duration == pytest.approx(8037 / 8000)


# Prompt lookup ------------------------------------------------------------------------------------

def make_tree(root: Path, files: list[str]) -> None:
    for f in files:
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        (root / f).write_bytes(b"\xff" * 160)


def test_lookup_order_language_then_none_then_default(tmp_path: Path) -> None:
    make_tree(tmp_path, ["en/hello.wav", "en/hello.ulaw", "es/hello.alaw", "hello.sln", "es_MX/hola.sln",
                         "es/hola.ulaw", "bye.wav", "fr/only-fr.alaw", "en/only-en.sln"])
    find = sounds.find_sound
    assert find("hello", "en", sounds_dir=tmp_path) == tmp_path / "en/hello.ulaw"  # u-law before wav
    assert find("hello", "es", sounds_dir=tmp_path) == tmp_path / "es/hello.alaw"
    assert find("hello", "de", sounds_dir=tmp_path) == tmp_path / "hello.sln"  # no language before en
    assert find("hola", "es_MX", sounds_dir=tmp_path) == tmp_path / "es_MX/hola.sln"  # language before format
    assert find("hola", "es_AR", sounds_dir=tmp_path) == tmp_path / "es/hola.ulaw"  # dialect stripped
    assert find("bye", "en", sounds_dir=tmp_path) == tmp_path / "bye.wav"
    assert find("only-en", "de", sounds_dir=tmp_path) == tmp_path / "en/only-en.sln"  # default language last
    assert find("only-fr", "en", sounds_dir=tmp_path) is None
    assert find("hello.wav", "en", sounds_dir=tmp_path) == tmp_path / "en/hello.wav"  # extension as given
    assert find("hello.sln", "en", sounds_dir=tmp_path) == tmp_path / "hello.sln"
    assert not sounds.sound_exists("missing", "en", sounds_dir=tmp_path)
    with pytest.raises(SoundFileError):
        find("hello.gsm", "en", sounds_dir=tmp_path)


def test_absolute_paths(tmp_path: Path) -> None:
    make_tree(tmp_path, ["vm/1234/unavail.wav", "vm/1234/es/greet.alaw", "vm/1234/greet.ulaw"])
    base = str(tmp_path / "vm/1234")
    other = tmp_path / "elsewhere"
    assert sounds.find_sound(f"{base}/unavail", "en", sounds_dir=other) == tmp_path / "vm/1234/unavail.wav"
    assert sounds.find_sound(f"{base}/greet", "es", sounds_dir=other) == tmp_path / "vm/1234/es/greet.alaw"
    assert sounds.find_sound(f"{base}/greet", "en", sounds_dir=other) == tmp_path / "vm/1234/greet.ulaw"
    assert sounds.find_sound(f"{base}/unavail.wav", "en", sounds_dir=other) == tmp_path / "vm/1234/unavail.wav"


def test_say_prompts_resolve_in_an_asterisk_sound_tree(tmp_path: Path) -> None:
    names = set(say.number_files(1_234_567) + say.digit_files("0123456789*#") + say.alpha_files("Hello-World@1"))
    make_tree(tmp_path, [f"en/{n}.ulaw" for n in names])
    for name in names:
        assert name.startswith(("digits/", "letters/"))
        assert sounds.find_sound(name, "en", sounds_dir=tmp_path) == tmp_path / f"en/{name}.ulaw"
        assert sounds.find_sound(name, "en_GB", sounds_dir=tmp_path) == tmp_path / f"en/{name}.ulaw"


def test_missing_file_errors(tmp_path: Path) -> None:
    with pytest.raises(SoundFileError):
        SoundReader(tmp_path / "nope.ulaw")
    os.makedirs(tmp_path / "dir.wav")
    with pytest.raises(SoundFileError):
        SoundWriter(tmp_path / "dir.wav")
