"""Hot loops of the media path, each compiled with Cython and mirrored by a pure-Python twin.

``CENTRALITA_NO_EXTENSIONS=1`` forces the pure twins, at build time (``setup.py``) and here at import
time.  Each public module (``cython_media.g711``, ...) picks its implementation on import and exposes
``ACCELERATED``; :func:`implementation` summarises them for ``core show version``.
"""

from __future__ import annotations

import os

NO_EXTENSIONS: bool = bool(os.environ.get("CENTRALITA_NO_EXTENSIONS"))


def implementation() -> str:
    """``"compiled"`` when every hot loop is the Cython build, ``"pure-python"`` otherwise."""
    from cython_media import g711

    return "compiled" if g711.ACCELERATED else "pure-python"
