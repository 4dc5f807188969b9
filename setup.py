"""Build script for the optional Cython extensions of centralita.

Every extension has a pure-Python twin with the same API, so a board without a compiler still gets a
working (slower) firmware: extensions are marked optional, and ``CENTRALITA_NO_EXTENSIONS=1`` skips them
entirely (the same variable makes ``cython_media`` import the pure twins at run time).
"""

from __future__ import annotations

import os
import sys

from setuptools import Extension, setup

# Every compiled module: (import name, source file, C libraries it links).  Each has a pure twin
# `<name>_py.py`.  A module whose source is not in the tree yet is skipped.
CYTHON_MODULES: list[tuple[str, str, list[str]]] = [
    ("cython_media._g711", "cython_media/_g711.pyx", []),
    ("cython_media._rtp", "cython_media/_rtp.pyx", []),
    ("cython_media._mix", "cython_media/_mix.pyx", []),
    ("cython_media._spandsp", "cython_media/_spandsp.pyx", ["spandsp"]),
    ("cython_media._speexdsp", "cython_media/_speexdsp.pyx", ["speexdsp"]),
    ("cython_media._relay", "cython_media/_relay.pyx", []),  # the RTP relay loop (epoll, recvmmsg; libc only)
    ("cython_media._udp", "cython_media/_udp.pyx", []),  # batched datagram I/O of the SIP/IAX2 shells
    ("cython_media._sipscan", "cython_media/_sipscan.pyx", []),  # SIP datagram framing, the common case
]


def _extensions() -> list[Extension]:
    if os.environ.get("CENTRALITA_NO_EXTENSIONS") or sys.implementation.name != "cpython":
        print("*** centralita: pure-Python build (CENTRALITA_NO_EXTENSIONS set) ***")
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("*** centralita: Cython not available, pure-Python build ***")
        return []
    here = os.path.dirname(os.path.abspath(__file__))
    modules = [
        Extension(name, [source], libraries=libraries, extra_compile_args=["-O3"])
        for name, source, libraries in CYTHON_MODULES
        if os.path.exists(os.path.join(here, source))
    ]
    built = cythonize(
        modules,
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
        quiet=True,
    )
    # cythonize() drops the flag, so set it afterwards: a failed compile must not fail the install.
    for ext in built:
        ext.optional = True
    return built


setup(ext_modules=_extensions())
