"""Sound files for prompts and recordings: WAV and raw G.711 / linear, read and written 20 ms at a time.

Formats (8 kHz mono only, as Asterisk's telephony formats are):

- ``.wav`` — RIFF/WAVE (Microsoft "Multimedia Programming Interface and Data Specifications 1.0"):
  ``WAVE_FORMAT_PCM`` (1) 16-bit, ``WAVE_FORMAT_ALAW`` (6) and ``WAVE_FORMAT_MULAW`` (7) 8-bit, the last
  two written with an 18-byte ``fmt `` chunk (``cbSize`` 0) and a ``fact`` chunk holding the sample count
  as the specification requires for non-PCM data; ``WAVE_FORMAT_EXTENSIBLE`` files of those three are
  read too.  Other rates, channel counts or encodings are refused with a :class:`SoundFileError` that
  says what the file is.
- raw ``.ulaw`` (also ``.pcm .ul .mu .ulw``), ``.alaw`` (``.al .alw``), ``.sln`` (``.raw``: 16-bit signed
  little-endian) — Asterisk's ``format_pcm`` and ``format_sln`` extensions.
- ``.gsm`` and ``.WAV``/``.wav49`` (GSM 06.10) and other codecs are refused clearly.

:class:`SoundReader` streams a file as 20 ms frames of 16-bit linear audio (the last one padded with
silence and flagged).  :class:`SoundWriter` appends frames and finalises the WAV sizes on close; it also
rewrites them every second of audio, and readers (and :func:`repair_wav`) take the data to run to the end
of the file when the header is stale, so a recording survives a crash.

:func:`find_sound` looks prompts up as Asterisk's ``main/file.c`` (``fileexists_core``) does: the
language (then without its ``_dialect`` suffixes), no language, then ``en``; relative names under
``sounds/<lang>/<name>`` ("new layout", so ``digits/5`` is ``sounds/en/digits/5.ulaw``), absolute names with
the language inserted before the last component; formats in preference order u-law, A-law, sln, wav.
A name that carries an extension is looked up in exactly that format.
"""

from __future__ import annotations

import enum
import os
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from cython_media import g711

SAMPLE_RATE = 8000
FRAME_SAMPLES = 160  # 20 ms at 8 kHz
DEFAULT_LANGUAGE = "en"

WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_ALAW = 0x0006
WAVE_FORMAT_MULAW = 0x0007
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
# KSDATAFORMAT_SUBTYPE_* GUIDs: the format tag in the first two bytes, then this fixed tail.
_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
_WAVE_TAG_NAMES = {0x0002: "Microsoft ADPCM", 0x0003: "IEEE float", 0x0011: "IMA ADPCM", 0x0031: "GSM 06.10",
                   0x0055: "MPEG layer 3", 0x0064: "G.721 ADPCM", 0x0065: "G.723 ADPCM"}


class SoundFileError(Exception):
    """A sound file that cannot be read or written: unsupported format, bad header, I/O failure."""


class Encoding(enum.Enum):
    """How samples are stored: 16-bit signed little-endian linear, or one G.711 byte per sample."""

    SLIN = "slin"
    ULAW = "ulaw"
    ALAW = "alaw"

    @property
    def sample_bytes(self) -> int:
        return 2 if self is Encoding.SLIN else 1

    @property
    def silence(self) -> bytes:
        """One sample of silence in this encoding (G.711 codes for 0 as the encoders produce them)."""
        return {Encoding.SLIN: b"\x00\x00", Encoding.ULAW: b"\xff", Encoding.ALAW: b"\xd5"}[self]

    def decode(self, data: bytes) -> bytes:
        if self is Encoding.ULAW:
            return g711.ulaw2lin(data)
        if self is Encoding.ALAW:
            return g711.alaw2lin(data)
        return data

    def encode(self, pcm: bytes) -> bytes:
        if self is Encoding.ULAW:
            return g711.lin2ulaw(pcm)
        if self is Encoding.ALAW:
            return g711.lin2alaw(pcm)
        if len(pcm) % 2:
            raise SoundFileError("linear audio must be whole 16-bit samples (odd byte count)")
        return bytes(pcm)


class Container(enum.Enum):
    RAW = "raw"
    WAV = "wav"


@dataclass(frozen=True, slots=True)
class SoundFormat:
    """A file format: its container, its encoding (None for WAV: the header says) and its extensions."""

    name: str
    container: Container
    encoding: Encoding | None
    extensions: tuple[str, ...]


ULAW = SoundFormat("ulaw", Container.RAW, Encoding.ULAW, ("ulaw", "pcm", "ul", "mu", "ulw"))
ALAW = SoundFormat("alaw", Container.RAW, Encoding.ALAW, ("alaw", "al", "alw"))
SLN = SoundFormat("sln", Container.RAW, Encoding.SLIN, ("sln", "raw"))
WAV = SoundFormat("wav", Container.WAV, None, ("wav",))
FORMATS: dict[str, SoundFormat] = {f.name: f for f in (ULAW, ALAW, SLN, WAV)}
DEFAULT_PREFERENCE: tuple[SoundFormat, ...] = (ULAW, ALAW, SLN, WAV)
_BY_EXTENSION = {ext: f for f in FORMATS.values() for ext in f.extensions}
# Asterisk's other file formats (case-sensitive: "WAV" is GSM in WAV, "wav" is PCM).
_REFUSED = {"gsm": "GSM 06.10", "WAV": "GSM 06.10 in WAV", "wav49": "GSM 06.10 in WAV", "g729": "G.729",
            "g722": "G.722 (16 kHz)", "g723": "G.723.1", "g726": "G.726", "ilbc": "iLBC", "siren7": "Siren7",
            "siren14": "Siren14", "speex": "Speex", "ogg": "Ogg Vorbis", "vox": "Dialogic ADPCM",
            "au": "Sun audio", "h263": "H.263 video", "sln12": "12 kHz linear", "sln16": "16 kHz linear",
            "sln24": "24 kHz linear", "sln32": "32 kHz linear", "sln44": "44.1 kHz linear",
            "sln48": "48 kHz linear", "sln96": "96 kHz linear", "sln192": "192 kHz linear"}


def _extension(path: str) -> str:
    base = os.path.basename(path)
    return base.rsplit(".", 1)[1] if "." in base else ""


def format_for_path(path: str | os.PathLike[str]) -> SoundFormat:
    """The format a file name's extension names; :class:`SoundFileError` for refused or unknown ones."""
    ext = _extension(os.fspath(path))
    if ext in _BY_EXTENSION:
        return _BY_EXTENSION[ext]
    if ext in _REFUSED:
        raise SoundFileError(f"{os.fspath(path)}: {_REFUSED[ext]} files are not supported; "
                             "use .wav (PCM 16-bit, u-law or A-law), .ulaw, .alaw or .sln at 8 kHz")
    raise SoundFileError(f"{os.fspath(path)}: unknown sound file extension {ext!r} "
                         "(known: .wav, .ulaw, .alaw, .sln and Asterisk's aliases)")


@dataclass(frozen=True, slots=True)
class SoundFrame:
    """One frame read from a file: ``audio`` (16-bit linear, or the file's encoding when read encoded),
    ``padding`` samples of silence added at the end of the file, ``last`` on the final frame."""

    audio: bytes
    last: bool
    padding: int = 0


# WAV headers ----------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class WavInfo:
    """Where the audio of a WAV file is and how it is coded; ``repaired`` when the header was stale."""

    encoding: Encoding
    data_offset: int
    data_bytes: int
    header_data_bytes: int
    riff_bytes: int
    fact_offset: int | None

    @property
    def samples(self) -> int:
        return self.data_bytes // self.encoding.sample_bytes

    @property
    def repaired(self) -> bool:
        return self.data_bytes != self.header_data_bytes


def _wav_encoding(path: str, fmt: bytes) -> Encoding:
    if len(fmt) < 16:
        raise SoundFileError(f"{path}: WAV 'fmt ' chunk is {len(fmt)} bytes, too short")
    tag, channels, rate, _byte_rate, align, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == WAVE_FORMAT_EXTENSIBLE:
        if len(fmt) < 40 or fmt[26:40] != _GUID_TAIL:
            raise SoundFileError(f"{path}: WAVE_FORMAT_EXTENSIBLE with an unknown sub-format")
        tag = struct.unpack_from("<H", fmt, 24)[0]
    if tag not in (WAVE_FORMAT_PCM, WAVE_FORMAT_ALAW, WAVE_FORMAT_MULAW):
        name = _WAVE_TAG_NAMES.get(tag, f"format tag 0x{tag:04x}")
        raise SoundFileError(f"{path}: WAV encoding {name} is not supported (PCM 16-bit, u-law, A-law only)")
    if channels != 1:
        raise SoundFileError(f"{path}: WAV has {channels} channels; only mono is supported")
    if rate != SAMPLE_RATE:
        raise SoundFileError(f"{path}: WAV sample rate is {rate} Hz; only {SAMPLE_RATE} Hz is supported")
    if tag == WAVE_FORMAT_PCM:
        if bits != 16 or align != 2:
            raise SoundFileError(f"{path}: WAV PCM with {bits}-bit samples; only 16-bit is supported")
        return Encoding.SLIN
    if bits != 8 or align != 1:
        raise SoundFileError(f"{path}: WAV G.711 with {bits}-bit samples; expected 8-bit")
    return Encoding.ULAW if tag == WAVE_FORMAT_MULAW else Encoding.ALAW


def read_wav_info(f: BinaryIO, path: str) -> WavInfo:
    """Parse a WAV header from the start of ``f`` (tolerating sizes left stale by a crash)."""
    f.seek(0, os.SEEK_END)
    file_size = f.tell()
    f.seek(0)
    head = f.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise SoundFileError(f"{path}: not a RIFF/WAVE file")
    riff_bytes = struct.unpack_from("<I", head, 4)[0]
    fmt: bytes | None = None
    fact_offset: int | None = None
    offset = 12
    while True:
        f.seek(offset)
        chunk = f.read(8)
        if len(chunk) < 8:
            raise SoundFileError(f"{path}: WAV file has no 'data' chunk")
        chunk_id, size = chunk[:4], struct.unpack_from("<I", chunk, 4)[0]
        body = offset + 8
        if chunk_id == b"fmt ":
            fmt = f.read(min(size, 64))
        elif chunk_id == b"fact":
            fact_offset = body
        elif chunk_id == b"data":
            if fmt is None:
                raise SoundFileError(f"{path}: WAV 'data' chunk before its 'fmt ' chunk")
            encoding = _wav_encoding(path, fmt)
            data_bytes = size
            to_end = file_size - body
            if body + size > file_size:
                data_bytes = to_end  # truncated file, or a placeholder size never filled in
            elif riff_bytes + 8 < file_size and body + size + (size & 1) >= riff_bytes + 8:
                data_bytes = to_end  # the header describes a shorter file: written before more audio came
            data_bytes -= data_bytes % encoding.sample_bytes
            return WavInfo(encoding, body, data_bytes, size, riff_bytes, fact_offset)
        offset = body + size + (size & 1)


def _wav_header(encoding: Encoding, data_bytes: int, pad: int = 0) -> bytes:
    if encoding is Encoding.SLIN:
        fmt = struct.pack("<HHIIHH", WAVE_FORMAT_PCM, 1, SAMPLE_RATE, 2 * SAMPLE_RATE, 2, 16)
        chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    else:
        tag = WAVE_FORMAT_MULAW if encoding is Encoding.ULAW else WAVE_FORMAT_ALAW
        fmt = struct.pack("<HHIIHHH", tag, 1, SAMPLE_RATE, SAMPLE_RATE, 1, 8, 0)
        chunks = (b"fmt " + struct.pack("<I", len(fmt)) + fmt
                  + b"fact" + struct.pack("<II", 4, data_bytes))
    riff = 4 + len(chunks) + 8 + data_bytes + pad
    return b"RIFF" + struct.pack("<I", riff) + b"WAVE" + chunks + b"data" + struct.pack("<I", data_bytes)


def repair_wav(path: str | os.PathLike[str]) -> bool:
    """Rewrite the sizes of a WAV file whose header is stale (a recording cut by a crash).

    The audio is taken to run to the end of the file; a partial last sample is cut off.  Returns True
    when the file was changed.
    """
    name = os.fspath(path)
    try:
        with open(name, "r+b") as f:
            info = read_wav_info(f, name)
            if not info.repaired:
                return False
            end = info.data_offset + info.data_bytes
            f.truncate(end)
            pad = info.data_bytes & 1
            if pad:
                f.seek(end)
                f.write(b"\x00")
            f.seek(info.data_offset - 4)
            f.write(struct.pack("<I", info.data_bytes))
            f.seek(4)
            f.write(struct.pack("<I", info.data_offset - 8 + info.data_bytes + pad))
            if info.fact_offset is not None:
                f.seek(info.fact_offset)
                f.write(struct.pack("<I", info.samples))
            return True
    except OSError as exc:
        raise SoundFileError(f"{name}: {exc.strerror or exc}") from exc


# Reading --------------------------------------------------------------------------------------------

class SoundReader:
    """Stream a sound file as frames of ``frame_samples`` samples (default 20 ms).

    ``encoding`` says how the file stores samples; :meth:`frames` gives 16-bit linear frames,
    :meth:`encoded_frames` the file's own bytes (to pass G.711 through without transcoding).
    """

    def __init__(self, path: str | os.PathLike[str], *, frame_samples: int = FRAME_SAMPLES) -> None:
        self.path = os.fspath(path)
        if frame_samples <= 0:
            raise ValueError("frame_samples must be positive")
        self.format = format_for_path(self.path)
        self.frame_samples = frame_samples
        try:
            self._file: BinaryIO = open(self.path, "rb")  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise SoundFileError(f"{self.path}: {exc.strerror or exc}") from exc
        try:
            if self.format.container is Container.WAV:
                info = read_wav_info(self._file, self.path)
                self.encoding = info.encoding
                self._start, data_bytes = info.data_offset, info.data_bytes
            else:
                assert self.format.encoding is not None
                self.encoding = self.format.encoding
                self._start = 0
                data_bytes = os.fstat(self._file.fileno()).st_size
                data_bytes -= data_bytes % self.encoding.sample_bytes
        except BaseException:
            self._file.close()
            raise
        self.samples = data_bytes // self.encoding.sample_bytes
        self._file.seek(self._start)
        self._position = 0

    @property
    def duration(self) -> float:
        """Length of the audio in seconds."""
        return self.samples / SAMPLE_RATE

    @property
    def position(self) -> int:
        """Samples read so far."""
        return self._position

    def seek(self, sample: int) -> None:
        """Continue reading at ``sample`` (clamped to the file), e.g. for ControlPlayback's skip."""
        sample = max(0, min(sample, self.samples))
        self._file.seek(self._start + sample * self.encoding.sample_bytes)
        self._position = sample

    def read_encoded(self) -> SoundFrame | None:
        """The next frame in the file's encoding, or None at the end."""
        if self._position >= self.samples:
            return None
        count = min(self.frame_samples, self.samples - self._position)
        width = self.encoding.sample_bytes
        data = self._file.read(count * width)
        if len(data) < count * width:
            raise SoundFileError(f"{self.path}: file shrank while being read")
        self._position += count
        padding = self.frame_samples - count
        if padding:
            data += self.encoding.silence * padding
        return SoundFrame(data, self._position >= self.samples, padding)

    def read_frame(self) -> SoundFrame | None:
        """The next frame as 16-bit linear audio, or None at the end."""
        frame = self.read_encoded()
        if frame is None:
            return None
        real = len(frame.audio) - frame.padding * self.encoding.sample_bytes
        # Pad with true zeros: A-law has no zero code (its silence decodes to +8).
        return SoundFrame(self.encoding.decode(frame.audio[:real]) + bytes(2 * frame.padding), frame.last,
                          frame.padding)

    def frames(self) -> Iterator[SoundFrame]:
        """Every remaining frame as 16-bit linear audio."""
        while (frame := self.read_frame()) is not None:
            yield frame

    def encoded_frames(self) -> Iterator[SoundFrame]:
        """Every remaining frame in the file's encoding."""
        while (frame := self.read_encoded()) is not None:
            yield frame

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> SoundReader:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def read_sound(path: str | os.PathLike[str]) -> tuple[Encoding, bytes]:
    """A whole file: its encoding and its audio as 16-bit linear."""
    with SoundReader(path) as reader:
        return reader.encoding, b"".join(f.audio[:len(f.audio) - 2 * f.padding] for f in reader.frames())


# Writing --------------------------------------------------------------------------------------------

class SoundWriter:
    """Write a sound file frame by frame (``write`` takes 16-bit linear, ``write_encoded`` the file's
    encoding).  WAV sizes are rewritten every ``header_interval`` samples and on :meth:`close`.

    ``encoding`` chooses the WAV encoding (default 16-bit PCM); for raw files the extension decides.
    ``append`` continues an existing file (Record's ``a`` option), repairing a stale WAV header first.
    """

    def __init__(self, path: str | os.PathLike[str], encoding: Encoding | None = None, *, append: bool = False,
                 header_interval: int = SAMPLE_RATE) -> None:
        self.path = os.fspath(path)
        self.format = format_for_path(self.path)
        if self.format.encoding is not None and encoding not in (None, self.format.encoding):
            raise SoundFileError(f"{self.path}: a .{_extension(self.path)} file is {self.format.encoding.value}, "
                                 f"not {encoding.value if encoding else '?'}")
        self.header_interval = header_interval
        self._wav = self.format.container is Container.WAV
        self.samples = 0
        self._since_header = 0
        self._closed = False
        exists = append and os.path.exists(self.path)
        try:
            self._file: BinaryIO = open(self.path, "r+b" if exists else "wb")  # noqa: SIM115
        except OSError as exc:
            raise SoundFileError(f"{self.path}: {exc.strerror or exc}") from exc
        try:
            if exists and self._wav:
                info = read_wav_info(self._file, self.path)
                if encoding is not None and encoding is not info.encoding:
                    raise SoundFileError(f"{self.path}: cannot append {encoding.value} to a "
                                         f"{info.encoding.value} WAV file")
                self.encoding = info.encoding
                if info.data_offset != len(_wav_header(info.encoding, 0)):
                    raise SoundFileError(f"{self.path}: cannot append to a WAV file with extra chunks")
                self.samples = info.samples
                self._file.truncate(info.data_offset + info.data_bytes)
                self._write_header()
                self._file.seek(0, os.SEEK_END)
            else:
                self.encoding = self.format.encoding or encoding or Encoding.SLIN
                if exists:
                    size = self._file.seek(0, os.SEEK_END)
                    self._file.truncate(size - size % self.encoding.sample_bytes)
                    self.samples = (size - size % self.encoding.sample_bytes) // self.encoding.sample_bytes
                    self._file.seek(0, os.SEEK_END)
                elif self._wav:
                    self._file.write(_wav_header(self.encoding, 0))
                    self._file.flush()
        except BaseException:
            self._file.close()
            raise

    def _write_header(self, final: bool = False) -> None:
        data_bytes = self.samples * self.encoding.sample_bytes
        pad = data_bytes & 1 if final else 0
        here = self._file.tell()
        if pad:
            self._file.seek(0, os.SEEK_END)
            self._file.write(b"\x00")
        self._file.seek(0)
        self._file.write(_wav_header(self.encoding, data_bytes, pad))
        self._file.seek(here)
        self._file.flush()
        self._since_header = 0

    def write_encoded(self, data: bytes) -> None:
        """Append audio already in the file's encoding."""
        if self._closed:
            raise SoundFileError(f"{self.path}: write after close")
        if len(data) % self.encoding.sample_bytes:
            raise SoundFileError("linear audio must be whole 16-bit samples (odd byte count)")
        try:
            self._file.write(data)
        except OSError as exc:
            raise SoundFileError(f"{self.path}: {exc.strerror or exc}") from exc
        count = len(data) // self.encoding.sample_bytes
        self.samples += count
        self._since_header += count
        if self._wav and self._since_header >= self.header_interval:
            self._write_header()

    def write(self, pcm: bytes) -> None:
        """Append 16-bit linear audio (encoded to the file's encoding)."""
        self.write_encoded(self.encoding.encode(pcm))

    def close(self) -> None:
        """Finalise the header (WAV) and close; idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._wav:
                self._file.seek(0, os.SEEK_END)
                self._write_header(final=True)
        finally:
            self._file.close()

    def __enter__(self) -> SoundWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def write_sound(path: str | os.PathLike[str], pcm: bytes, encoding: Encoding | None = None) -> None:
    """Write 16-bit linear ``pcm`` as a whole file (format from the extension)."""
    with SoundWriter(path, encoding) as writer:
        writer.write(pcm)


# Prompt lookup -----------------------------------------------------------------------------------

def _languages(language: str) -> list[str | None]:
    """Asterisk's order: the language, then without '_' suffixes, then none, then the default."""
    order: list[str | None] = []
    lang = language
    while lang:
        order.append(lang)
        if "_" not in lang:
            break
        lang = lang.rsplit("_", 1)[0]
    order.append(None)
    if DEFAULT_LANGUAGE not in order:
        order.append(DEFAULT_LANGUAGE)
    return order


def find_sound(name: str, language: str = DEFAULT_LANGUAGE, *, sounds_dir: str | os.PathLike[str],
               preference: Sequence[SoundFormat] = DEFAULT_PREFERENCE) -> Path | None:
    """The file Playback would play for prompt ``name`` (``"vm-goodbye"``, ``"digits/5"``, an absolute
    path, or a name with its extension), or None.  Refused formats raise :class:`SoundFileError`."""
    if not name:
        return None
    explicit: SoundFormat | None = None
    ext = _extension(name)
    if ext in _BY_EXTENSION or ext in _REFUSED:
        explicit = format_for_path(name)
    absolute = os.path.isabs(name)
    root = Path(sounds_dir)
    for lang in _languages(language):
        if absolute:
            head, tail = os.path.split(name)
            base = Path(head, lang, tail) if lang else Path(name)
        else:
            base = root / lang / name if lang else root / name
        if explicit is not None:
            if base.is_file():
                return base
            continue
        for fmt in preference:
            for extension in fmt.extensions:
                candidate = base.with_name(f"{base.name}.{extension}")
                if candidate.is_file():
                    return candidate
    return None


def sound_exists(name: str, language: str = DEFAULT_LANGUAGE, *, sounds_dir: str | os.PathLike[str]) -> bool:
    """Whether :func:`find_sound` finds ``name`` in some supported format."""
    return find_sound(name, language, sounds_dir=sounds_dir) is not None
