"""Conference mixing: the compiled module when available, else its pure-Python twin.

``mix(frames)`` sums 16-bit linear frames with saturation; ``mix_minus(frames, talk_gains, listen_gains)``
gives every party of a conference the sum of all the others (never itself); ``gain(frame, db)`` scales a
frame.  Gains are Q16 integers from :func:`gain_q16`, so both implementations give identical bytes.
"""

from __future__ import annotations

import importlib

from cython_media import NO_EXTENSIONS
from cython_media._mix_py import GAIN_Q_BITS, MAX_GAIN_DB, UNITY_GAIN, gain, gain_q16, mix, mix_minus

ACCELERATED = False
if not NO_EXTENSIONS:
    try:
        _compiled = importlib.import_module("cython_media._mix")
    except ImportError:
        pass
    else:
        gain, gain_q16, mix, mix_minus = _compiled.gain, _compiled.gain_q16, _compiled.mix, _compiled.mix_minus
        ACCELERATED = True

__all__ = ["ACCELERATED", "GAIN_Q_BITS", "MAX_GAIN_DB", "UNITY_GAIN", "gain", "gain_q16", "mix", "mix_minus"]
