"""What the speexdsp echo-canceller bindings share, without ctypes: the argument checks, the error and the
request codes.  ``_speexdsp.pyx`` (compiled) and ``_speexdsp_py.py`` (its ctypes twin) both build on it, so
the compiled build never imports ctypes.
"""

from __future__ import annotations

MISSING_LIBRARY = "libspeexdsp not found: install the Debian package libspeexdsp-dev (runtime libspeexdsp1)"

# speex_echo.h / speex_preprocess.h request codes
SPEEX_ECHO_SET_SAMPLING_RATE = 24
SPEEX_PREPROCESS_SET_DENOISE = 0
SPEEX_PREPROCESS_SET_AGC = 2
SPEEX_PREPROCESS_SET_DEREVERB = 8
SPEEX_PREPROCESS_SET_NOISE_SUPPRESS = 18
SPEEX_PREPROCESS_SET_ECHO_SUPPRESS = 20
SPEEX_PREPROCESS_SET_ECHO_SUPPRESS_ACTIVE = 22
SPEEX_PREPROCESS_SET_ECHO_STATE = 24


class SpeexDspError(Exception):
    """The echo canceller was misused (bad frame or setting) or libspeexdsp is missing."""


def filter_length(frame_size: int, tail_ms: int, sample_rate: int) -> int:
    """Validated adaptive-filter length in samples for a tail of ``tail_ms`` (ITU-T G.168 "tail length")."""
    if sample_rate not in (8000, 16000):
        raise SpeexDspError(f"sample rate must be 8000 or 16000, got {sample_rate}")
    if not sample_rate // 1000 * 4 <= frame_size <= sample_rate // 1000 * 40:
        raise SpeexDspError(f"frame size must be 4 to 40 ms of samples, got {frame_size}")
    if not 8 <= tail_ms <= 512:
        raise SpeexDspError(f"tail must be 8 to 512 ms, got {tail_ms}")
    return tail_ms * sample_rate // 1000


def check_suppression(echo_suppress_db: int, echo_suppress_active_db: int, noise_suppress_db: int) -> None:
    """Attenuations are negative dB figures (speex defaults -40, -15 and -15)."""
    for name, value in (
        ("echo_suppress_db", echo_suppress_db),
        ("echo_suppress_active_db", echo_suppress_active_db),
        ("noise_suppress_db", noise_suppress_db),
    ):
        if not -100 <= value <= 0:
            raise SpeexDspError(f"{name} must be between -100 and 0 dB, got {value}")


def check_frames(near: bytes, far: bytes, frame_size: int) -> None:
    """Both frames must hold exactly ``frame_size`` 16-bit samples."""
    if len(near) != 2 * frame_size or len(far) != 2 * frame_size:
        raise SpeexDspError(
            f"near and far frames must be {frame_size} samples ({2 * frame_size} bytes), "
            f"got {len(near)} and {len(far)} bytes"
        )
