# cython: language_level=3
"""Echo cancellation with speexdsp's MDF, compiled: the twin of ``_speexdsp_py.py`` (same API and results).

Binds libspeexdsp (``libspeexdsp-dev`` 1.2.1) directly; each frame is one ``speex_echo_cancellation`` call
(and one ``speex_preprocess_run`` with residual suppression) with the GIL released.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport int16_t

from cython_media._speexdsp_common import SpeexDspError, check_frames, check_suppression, filter_length


cdef extern from "speex/speex_echo.h" nogil:
    ctypedef struct SpeexEchoState:
        pass
    SpeexEchoState *speex_echo_state_init(int frame_size, int filter_length)
    void speex_echo_state_destroy(SpeexEchoState *st)
    void speex_echo_cancellation(SpeexEchoState *st, const int16_t *rec, const int16_t *play, int16_t *out)
    void speex_echo_state_reset(SpeexEchoState *st)
    int speex_echo_ctl(SpeexEchoState *st, int request, void *ptr)
    int SPEEX_ECHO_SET_SAMPLING_RATE


cdef extern from "speex/speex_preprocess.h" nogil:
    ctypedef struct SpeexPreprocessState:
        pass
    SpeexPreprocessState *speex_preprocess_state_init(int frame_size, int sampling_rate)
    void speex_preprocess_state_destroy(SpeexPreprocessState *st)
    int speex_preprocess_run(SpeexPreprocessState *st, int16_t *x)
    int speex_preprocess_ctl(SpeexPreprocessState *st, int request, void *ptr)
    int SPEEX_PREPROCESS_SET_DENOISE
    int SPEEX_PREPROCESS_SET_AGC
    int SPEEX_PREPROCESS_SET_DEREVERB
    int SPEEX_PREPROCESS_SET_NOISE_SUPPRESS
    int SPEEX_PREPROCESS_SET_ECHO_SUPPRESS
    int SPEEX_PREPROCESS_SET_ECHO_SUPPRESS_ACTIVE
    int SPEEX_PREPROCESS_SET_ECHO_STATE


cdef class EchoCanceller:
    """Line echo canceller over speexdsp MDF for one channel (the role of an ITU-T G.168 canceller).

    ``cancel(near, far)`` takes the frame received from the echo path (``near``: the hybrid's return, or a
    microphone) and the frame that was sent into it at the same time (``far``), and returns ``near`` with
    the echo of ``far`` removed.  ``tail_ms`` is the echo path length covered (64-128 ms for a hybrid plus
    a PBX).  With ``residual_suppression`` the speex preprocessor also attenuates what the linear filter
    leaves (``echo_suppress_db`` while only the far end talks, ``echo_suppress_active_db`` during
    double-talk); it needs speex's noise suppressor on, whose depth is ``noise_suppress_db``, and its
    overlap-add delays the output by one frame (measured: 160 samples at 160-sample frames).
    """

    cdef SpeexEchoState *_echo
    cdef SpeexPreprocessState *_preprocess
    cdef int _frame_size
    cdef int _tail_ms
    cdef int _sample_rate
    cdef bint _residual
    cdef int _echo_suppress
    cdef int _echo_suppress_active
    cdef int _noise_suppress

    def __cinit__(self, int frame_size=160, int tail_ms=128, *, int sample_rate=8000, residual_suppression=False,
                  int echo_suppress_db=-40, int echo_suppress_active_db=-15, int noise_suppress_db=-15):
        cdef int length = filter_length(frame_size, tail_ms, sample_rate)
        check_suppression(echo_suppress_db, echo_suppress_active_db, noise_suppress_db)
        self._frame_size = frame_size
        self._tail_ms = tail_ms
        self._sample_rate = sample_rate
        self._residual = bool(residual_suppression)
        self._echo_suppress = echo_suppress_db
        self._echo_suppress_active = echo_suppress_active_db
        self._noise_suppress = noise_suppress_db
        self._echo = speex_echo_state_init(frame_size, length)
        if self._echo is NULL:
            raise SpeexDspError("speexdsp could not create the echo canceller state")
        cdef int rate = sample_rate
        speex_echo_ctl(self._echo, SPEEX_ECHO_SET_SAMPLING_RATE, &rate)
        if self._residual:
            self._new_preprocessor()

    cdef _new_preprocessor(self):
        self._preprocess = speex_preprocess_state_init(self._frame_size, self._sample_rate)
        if self._preprocess is NULL:
            raise SpeexDspError("speexdsp could not create the preprocessor state")
        cdef int on = 1
        cdef int off = 0
        cdef int value
        speex_preprocess_ctl(self._preprocess, SPEEX_PREPROCESS_SET_DENOISE, &on)  # else no gain is applied
        value = self._noise_suppress
        speex_preprocess_ctl(self._preprocess, SPEEX_PREPROCESS_SET_NOISE_SUPPRESS, &value)
        speex_preprocess_ctl(self._preprocess, SPEEX_PREPROCESS_SET_AGC, &off)
        speex_preprocess_ctl(self._preprocess, SPEEX_PREPROCESS_SET_DEREVERB, &off)
        value = self._echo_suppress
        speex_preprocess_ctl(self._preprocess, SPEEX_PREPROCESS_SET_ECHO_SUPPRESS, &value)
        value = self._echo_suppress_active
        speex_preprocess_ctl(self._preprocess, SPEEX_PREPROCESS_SET_ECHO_SUPPRESS_ACTIVE, &value)
        speex_preprocess_ctl(self._preprocess, SPEEX_PREPROCESS_SET_ECHO_STATE, self._echo)

    def __dealloc__(self):
        if self._preprocess is not NULL:
            speex_preprocess_state_destroy(self._preprocess)
            self._preprocess = NULL
        if self._echo is not NULL:
            speex_echo_state_destroy(self._echo)
            self._echo = NULL

    @property
    def frame_size(self):
        """Samples per frame."""
        return self._frame_size

    @property
    def tail_ms(self):
        """Echo path length covered, in ms."""
        return self._tail_ms

    @property
    def residual_suppression(self):
        """Whether the speex preprocessor suppresses residual echo."""
        return self._residual

    def cancel(self, near, far):
        """``near`` with the echo of ``far`` removed (both exactly one frame)."""
        cdef Py_ssize_t size = 2 * self._frame_size
        if not (type(near) is bytes and type(far) is bytes and PyBytes_GET_SIZE(near) == size
                and PyBytes_GET_SIZE(far) == size):
            check_frames(near, far, self._frame_size)
            near, far = bytes(near), bytes(far)
        cdef bytes out = PyBytes_FromStringAndSize(NULL, size)
        cdef int16_t *samples = <int16_t *> PyBytes_AS_STRING(out)
        cdef const int16_t *rec = <const int16_t *> PyBytes_AS_STRING(near)
        cdef const int16_t *play = <const int16_t *> PyBytes_AS_STRING(far)
        with nogil:
            speex_echo_cancellation(self._echo, rec, play, samples)
            if self._preprocess is not NULL:
                speex_preprocess_run(self._preprocess, samples)
        return out

    def reset(self):
        """Forget the learned echo path (after a call is transferred or the line changes)."""
        speex_echo_state_reset(self._echo)
        if self._preprocess is not NULL:
            speex_preprocess_state_destroy(self._preprocess)
            self._preprocess = NULL
            self._new_preprocessor()


__all__ = ["EchoCanceller", "SpeexDspError"]
