"""ITU-T G.711 codecs: the compiled module when available, else its pure-Python twin.

``lin2ulaw``, ``lin2alaw`` take 16-bit signed little-endian linear audio and return one code byte per
sample; ``ulaw2lin``, ``alaw2lin`` do the reverse; ``ulaw2alaw``, ``alaw2ulaw`` convert between the two
laws code by code as ITU-T G.711 Tables 3 and 4 do.  Both implementations give identical bytes.
"""

from __future__ import annotations

from cython_media import NO_EXTENSIONS
from cython_media._g711_py import alaw2lin, alaw2ulaw, lin2alaw, lin2ulaw, ulaw2alaw, ulaw2lin

ACCELERATED = False
if not NO_EXTENSIONS:
    try:
        from cython_media._g711 import (  # type: ignore[no-redef]
            alaw2lin,
            alaw2ulaw,
            lin2alaw,
            lin2ulaw,
            ulaw2alaw,
            ulaw2lin,
        )
    except ImportError:
        pass
    else:
        ACCELERATED = True

__all__ = ["ACCELERATED", "alaw2lin", "alaw2ulaw", "lin2alaw", "lin2ulaw", "ulaw2alaw", "ulaw2lin"]
