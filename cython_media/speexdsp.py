"""Echo cancellation over speexdsp's MDF: the compiled binding when available, else its ctypes twin.

:class:`EchoCanceller` (``cancel(near, far) -> frame``, ``reset()``) takes 16-bit signed little-endian
linear frames; both implementations call the same libspeexdsp (``libspeexdsp-dev``) and give identical
output.  A missing library raises :class:`SpeexDspError` naming the Debian package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from cython_media import NO_EXTENSIONS
from cython_media._speexdsp_common import SpeexDspError

if TYPE_CHECKING:  # the twin's signature; the compiled class matches it
    from cython_media._speexdsp_py import EchoCanceller

    ACCELERATED: bool
else:
    def __getattr__(name: str) -> object:
        """``EchoCanceller`` (and ``ACCELERATED``) are bound on first use (PEP 562): importing this module
        does not load libspeexdsp."""
        if name not in ("EchoCanceller", "ACCELERATED"):
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        compiled = None
        if not NO_EXTENSIONS:
            try:
                compiled = importlib.import_module("cython_media._speexdsp")
            except ImportError:
                pass
        # The ctypes twin (and ctypes itself) is imported only when the compiled module is not there.
        module = compiled if compiled is not None else importlib.import_module("cython_media._speexdsp_py")
        globals()["EchoCanceller"] = module.EchoCanceller
        globals()["ACCELERATED"] = compiled is not None
        return globals()[name]

__all__ = ["ACCELERATED", "EchoCanceller", "SpeexDspError"]
