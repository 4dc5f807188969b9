"""Echo cancellation over speexdsp's MDF: the compiled binding when available, else its ctypes twin.

:class:`EchoCanceller` (``cancel(near, far) -> frame``, ``reset()``) takes 16-bit signed little-endian
linear frames; both implementations call the same libspeexdsp (``libspeexdsp-dev``) and give identical
output.  A missing library raises :class:`SpeexDspError` naming the Debian package.
"""

from __future__ import annotations

import importlib

from cython_media import NO_EXTENSIONS
from cython_media._speexdsp_py import EchoCanceller, SpeexDspError

ACCELERATED = False
if not NO_EXTENSIONS:
    try:
        _compiled = importlib.import_module("cython_media._speexdsp")
    except ImportError:
        pass
    else:
        # Rebinding by name keeps the twin's signature for type checkers; the compiled class matches it.
        globals()["EchoCanceller"] = _compiled.EchoCanceller
        ACCELERATED = True

__all__ = ["ACCELERATED", "EchoCanceller", "SpeexDspError"]
