"""Telephony DSP over spandsp: the compiled bindings when available, else their ctypes twin.

Both bind Debian's libspandsp (``libspandsp-dev``) and give identical results on the same input; the
twin exists so that a board without a compiler still has DSP.  Audio is 16-bit signed little-endian
linear PCM at 8 kHz as ``bytes`` (160 samples = 20 ms) and each call processes whole frames.

- :class:`DtmfDetector` / :class:`DtmfGenerator`: DTMF with start, duration and level (ITU-T Q.23/Q.24).
- :class:`CallerIdGenerator` / :class:`CallerIdDecoder`: on-hook caller ID and VMWI in Bell 202 (SDMF and
  MDMF), ETSI V.23, JCLIP and DTMF (:class:`CallerIdStandard`).
- :class:`CallProgressDetector`: busy, congestion, dial tone, ringback... from :class:`ToneCadence` tables;
  :class:`ToneGenerator` plays them.
- :class:`ModemToneDetector` / :class:`ModemToneGenerator`: CNG, CED/ANS, ANSam (:class:`ModemTone`).
- :class:`PacketLossConcealer`; :class:`G722Encoder` / :class:`G722Decoder`; :class:`G726Encoder` /
  :class:`G726Decoder`.

The echo canceller is not here: see :mod:`cython_media.speexdsp` (Debian's spandsp one prints on every
sample).  A missing library raises :class:`SpandspError` naming the Debian package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from cython_media import NO_EXTENSIONS
from cython_media._spandsp_common import (
    CED,
    DTMF_DIGITS,
    FRAME_SAMPLES,
    SAMPLE_RATE,
    Absence,
    CallerIdMessage,
    CallerIdStandard,
    DtmfEvent,
    G726Packing,
    MessageWaiting,
    ModemTone,
    ModemToneEvent,
    SpandspError,
    ToneCadence,
    ToneEvent,
    ToneSegment,
)

# The classes the compiled module replaces; the shared types above are the same in both builds.
COMPILED_CLASSES = (
    "CallProgressDetector",
    "CallerIdDecoder",
    "CallerIdGenerator",
    "DtmfDetector",
    "DtmfGenerator",
    "G722Decoder",
    "G722Encoder",
    "G726Decoder",
    "G726Encoder",
    "ModemToneDetector",
    "ModemToneGenerator",
    "PacketLossConcealer",
    "ToneGenerator",
)

if TYPE_CHECKING:  # the twin's signatures; the compiled classes match them
    from cython_media._spandsp_py import (
        CallerIdDecoder,
        CallerIdGenerator,
        CallProgressDetector,
        DtmfDetector,
        DtmfGenerator,
        G722Decoder,
        G722Encoder,
        G726Decoder,
        G726Encoder,
        ModemToneDetector,
        ModemToneGenerator,
        PacketLossConcealer,
        ToneGenerator,
    )

    ACCELERATED: bool
else:
    def __getattr__(name: str) -> object:
        """The DSP classes (and ``ACCELERATED``) are bound on first use (PEP 562): importing this module
        does not load libspandsp and its libraries (about 2.5 MiB), which an idle board never needs."""
        if name not in COMPILED_CLASSES and name != "ACCELERATED":
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        compiled = None
        if not NO_EXTENSIONS:
            try:
                compiled = importlib.import_module("cython_media._spandsp")
            except ImportError:
                pass
        # The ctypes twin (and ctypes itself) is imported only when the compiled module is not there.
        module = compiled if compiled is not None else importlib.import_module("cython_media._spandsp_py")
        globals().update({cls: getattr(module, cls) for cls in COMPILED_CLASSES})
        globals()["ACCELERATED"] = compiled is not None
        return globals()[name]

__all__ = [
    "ACCELERATED",
    "CED",
    "DTMF_DIGITS",
    "FRAME_SAMPLES",
    "SAMPLE_RATE",
    "Absence",
    "CallProgressDetector",
    "CallerIdDecoder",
    "CallerIdGenerator",
    "CallerIdMessage",
    "CallerIdStandard",
    "DtmfDetector",
    "DtmfEvent",
    "DtmfGenerator",
    "G722Decoder",
    "G722Encoder",
    "G726Decoder",
    "G726Encoder",
    "G726Packing",
    "MessageWaiting",
    "ModemTone",
    "ModemToneDetector",
    "ModemToneEvent",
    "ModemToneGenerator",
    "PacketLossConcealer",
    "SpandspError",
    "ToneCadence",
    "ToneEvent",
    "ToneGenerator",
    "ToneSegment",
]
