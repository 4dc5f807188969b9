"""Build script for the optional Cython extensions of centralita.

Every extension has a pure-Python twin with the same API, so a board without a compiler still gets a
working (slower) firmware: extensions are marked optional, and ``CENTRALITA_NO_EXTENSIONS=1`` skips them
entirely (the same variable makes ``cython_media`` import the pure twins at run time).
"""

from __future__ import annotations

import os
import sys

from setuptools import Extension, setup

# Every compiled module: (import name, source file).  Each has a pure twin `<name>_py.py`.
CYTHON_MODULES = [
    ("cython_media._g711", "cython_media/_g711.pyx"),
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
    modules = [
        Extension(name, [source], extra_compile_args=["-O3"]) for name, source in CYTHON_MODULES
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
