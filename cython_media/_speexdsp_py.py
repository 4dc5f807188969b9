"""Acoustic/line echo cancellation with speexdsp's MDF through ctypes: the twin of ``_speexdsp.pyx``.

speexdsp (Debian ``libspeexdsp1``, headers in ``libspeexdsp-dev`` 1.2.1) implements the multidelay block
frequency-domain adaptive filter (MDF, J.-M. Valin, "On Adjusting the Learning Rate in Frequency Domain
Echo Cancellation With Double-Talk", 2007) behind ``speex_echo_state_init(frame_size, filter_length)`` and
``speex_echo_cancellation(st, rec, play, out)``; the optional preprocessor (``speex_preprocess_run`` with
``SPEEX_PREPROCESS_SET_ECHO_STATE``) suppresses the residual echo the linear filter leaves.  Echo
cancellation is done here and not with spandsp because Debian's spandsp 0.0.6 echo canceller prints debug
lines on every sample.

Audio is 16-bit signed little-endian linear PCM as ``bytes``, one frame of ``frame_size`` samples per call.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from typing import Any

from cython_media._speexdsp_common import (
    MISSING_LIBRARY,
    SPEEX_ECHO_SET_SAMPLING_RATE,
    SPEEX_PREPROCESS_SET_AGC,
    SPEEX_PREPROCESS_SET_DENOISE,
    SPEEX_PREPROCESS_SET_DEREVERB,
    SPEEX_PREPROCESS_SET_ECHO_STATE,
    SPEEX_PREPROCESS_SET_ECHO_SUPPRESS,
    SPEEX_PREPROCESS_SET_ECHO_SUPPRESS_ACTIVE,
    SPEEX_PREPROCESS_SET_NOISE_SUPPRESS,
    SpeexDspError,
    check_frames,
    check_suppression,
    filter_length,
)

_vp = ctypes.c_void_p
_int = ctypes.c_int
_bytes = ctypes.c_char_p
_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "speex_echo_state_init": (_vp, [_int, _int]),
    "speex_echo_state_destroy": (None, [_vp]),
    "speex_echo_cancellation": (None, [_vp, _bytes, _bytes, _vp]),
    "speex_echo_state_reset": (None, [_vp]),
    "speex_echo_ctl": (_int, [_vp, _int, _vp]),
    "speex_preprocess_state_init": (_vp, [_int, _int]),
    "speex_preprocess_state_destroy": (None, [_vp]),
    "speex_preprocess_run": (_int, [_vp, _vp]),
    "speex_preprocess_ctl": (_int, [_vp, _int, _vp]),
}
_library: ctypes.CDLL | None = None


def library() -> ctypes.CDLL:
    """The loaded libspeexdsp with the functions used here typed; raises SpeexDspError naming the package."""
    global _library
    if _library is None:
        if sys.byteorder != "little":
            raise SpeexDspError("the speexdsp binding takes little-endian linear audio on little-endian hosts only")
        name = ctypes.util.find_library("speexdsp")
        if name is None:
            raise SpeexDspError(MISSING_LIBRARY)
        try:
            lib = ctypes.CDLL(name)
        except OSError as exc:
            raise SpeexDspError(f"{MISSING_LIBRARY}: {exc}") from exc
        for function, (restype, argtypes) in _SIGNATURES.items():
            entry = getattr(lib, function)
            entry.restype = restype
            entry.argtypes = argtypes
        _library = lib
    return _library


class EchoCanceller:
    """Line echo canceller over speexdsp MDF for one channel (the role of an ITU-T G.168 canceller).

    ``cancel(near, far)`` takes the frame received from the echo path (``near``: the hybrid's return, or a
    microphone) and the frame that was sent into it at the same time (``far``), and returns ``near`` with
    the echo of ``far`` removed.  ``tail_ms`` is the echo path length covered (64-128 ms for a hybrid plus
    a PBX).  With ``residual_suppression`` the speex preprocessor also attenuates what the linear filter
    leaves (``echo_suppress_db`` while only the far end talks, ``echo_suppress_active_db`` during
    double-talk); it needs speex's noise suppressor on, whose depth is ``noise_suppress_db``, and its
    overlap-add delays the output by one frame (measured: 160 samples at 160-sample frames).
    """

    def __init__(
        self,
        frame_size: int = 160,
        tail_ms: int = 128,
        *,
        sample_rate: int = 8000,
        residual_suppression: bool = False,
        echo_suppress_db: int = -40,
        echo_suppress_active_db: int = -15,
        noise_suppress_db: int = -15,
    ) -> None:
        length = filter_length(frame_size, tail_ms, sample_rate)
        check_suppression(echo_suppress_db, echo_suppress_active_db, noise_suppress_db)
        lib = library()
        self._lib = lib
        self._frame_size = frame_size
        self._tail_ms = tail_ms
        self._sample_rate = sample_rate
        self._suppression = (echo_suppress_db, echo_suppress_active_db, noise_suppress_db)
        self._residual = residual_suppression
        self._echo = lib.speex_echo_state_init(frame_size, length)
        if not self._echo:
            raise SpeexDspError("speexdsp could not create the echo canceller state")
        rate = ctypes.c_int(sample_rate)
        lib.speex_echo_ctl(self._echo, SPEEX_ECHO_SET_SAMPLING_RATE, ctypes.byref(rate))
        self._preprocess = 0
        if residual_suppression:
            self._preprocess = self._new_preprocessor()
        self._out = ctypes.create_string_buffer(2 * frame_size)

    def _new_preprocessor(self) -> int:
        lib = self._lib
        state: int | None = lib.speex_preprocess_state_init(self._frame_size, self._sample_rate)
        if not state:
            raise SpeexDspError("speexdsp could not create the preprocessor state")
        echo_suppress, echo_suppress_active, noise_suppress = self._suppression
        for request, value in (
            (SPEEX_PREPROCESS_SET_DENOISE, 1),  # without it speex applies no gain at all
            (SPEEX_PREPROCESS_SET_NOISE_SUPPRESS, noise_suppress),
            (SPEEX_PREPROCESS_SET_AGC, 0),
            (SPEEX_PREPROCESS_SET_DEREVERB, 0),
            (SPEEX_PREPROCESS_SET_ECHO_SUPPRESS, echo_suppress),
            (SPEEX_PREPROCESS_SET_ECHO_SUPPRESS_ACTIVE, echo_suppress_active),
        ):
            setting = ctypes.c_int(value)
            lib.speex_preprocess_ctl(state, request, ctypes.byref(setting))
        lib.speex_preprocess_ctl(state, SPEEX_PREPROCESS_SET_ECHO_STATE, ctypes.c_void_p(self._echo))
        return state

    def __del__(self) -> None:
        lib = getattr(self, "_lib", None)
        if lib is None:
            return
        if getattr(self, "_preprocess", 0):
            lib.speex_preprocess_state_destroy(self._preprocess)
            self._preprocess = 0
        if getattr(self, "_echo", 0):
            lib.speex_echo_state_destroy(self._echo)
            self._echo = 0

    @property
    def frame_size(self) -> int:
        """Samples per frame."""
        return self._frame_size

    @property
    def tail_ms(self) -> int:
        """Echo path length covered, in ms."""
        return self._tail_ms

    @property
    def residual_suppression(self) -> bool:
        """Whether the speex preprocessor suppresses residual echo."""
        return self._residual

    def cancel(self, near: bytes, far: bytes) -> bytes:
        """``near`` with the echo of ``far`` removed (both exactly one frame)."""
        check_frames(near, far, self._frame_size)
        near_data = near if type(near) is bytes else bytes(near)
        far_data = far if type(far) is bytes else bytes(far)
        lib = self._lib
        lib.speex_echo_cancellation(self._echo, near_data, far_data, self._out)
        if self._preprocess:
            lib.speex_preprocess_run(self._preprocess, self._out)
        return self._out.raw

    def reset(self) -> None:
        """Forget the learned echo path (after a call is transferred or the line changes)."""
        self._lib.speex_echo_state_reset(self._echo)
        if self._preprocess:
            self._lib.speex_preprocess_state_destroy(self._preprocess)
            self._preprocess = 0
            self._preprocess = self._new_preprocessor()
