"""Simulated hardware: register-level models of the Si3215 ProSLIC and the Si3050 DAA, and the analog world.

A model is what sits behind one position of a simulated chip select: it decodes the SPI frames it is sent
(``spi_frame``), keeps the registers the datasheet describes, reacts to time (calibration, the DC-DC
converter ramp, the indirect-register busy bit), to the PCM clock (no clock -> registers read 0) and to
the world (hook switch, battery, ringing), and moves audio through its PCM timeslots.  Whatever the real
chip would not accept is *reported* (:attr:`ChipModel.violations`) and logged, so a test can assert that a
driver never did it.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from array import array

from board.hal import Clock
from cython_media.g711 import alaw2lin, lin2alaw, lin2ulaw, ulaw2lin

log = logging.getLogger("centralita.board")

SAMPLE_RATE_HZ = 8000


class ChipModel(ABC):
    """Common behaviour of the simulated chips."""

    kind: str = "chip"

    def __init__(self, clock: Clock, *, name: str, position: int | None = None) -> None:
        self.clock = clock
        self.name = name
        self.position = position
        self.violations: list[str] = []
        self.pcm_clock = False
        self.pcm_clock_since = 0.0

    def report(self, message: str) -> None:
        """Record something the real chip would not accept (and log it)."""
        self.violations.append(message)
        log.warning("%s: %s", self.name, message)

    def set_pcm_clock(self, running: bool) -> None:
        """PCLK/FSYNC started or stopped."""
        if running and not self.pcm_clock:
            self.pcm_clock_since = self.clock.now()
        self.pcm_clock = running

    @abstractmethod
    def reset(self) -> None:
        """Hardware reset (the /RESET pin pulsed): every register to its reset value."""

    @abstractmethod
    def spi_frame(self, data: bytes) -> list[int | None]:
        """Decode one register access (each byte was its own /CS frame); return what the chip drove on
        MISO for each byte, None where it left the line alone."""

    @abstractmethod
    def pcm_block(self, host_tx: bytes, chips_rx: bytearray, frames: int, slots: int) -> None:
        """Move ``frames`` frames of audio: read this chip's samples from ``host_tx`` (host -> chip) and
        write its own into ``chips_rx`` (chip -> host); both are frame-interleaved, ``slots`` per frame."""


def decode(codes: bytes, ulaw: bool) -> array[int]:
    """G.711 codes -> 16-bit linear samples."""
    out = array("h")
    out.frombytes(ulaw2lin(codes) if ulaw else alaw2lin(codes))
    return out


def encode(samples: array[int], ulaw: bool) -> bytes:
    """16-bit linear samples -> G.711 codes."""
    raw = samples.tobytes()
    return lin2ulaw(raw) if ulaw else lin2alaw(raw)


def scale(samples: array[int], gain: float) -> array[int]:
    """Multiply samples by ``gain`` with saturation to 16 bits."""
    if gain == 1.0:
        return samples
    return array("h", (max(-32768, min(32767, round(s * gain))) for s in samples))


def slot_of(offset_bits: int, slots: int) -> int | None:
    """The timeslot a 10-bit PCM start count selects (None if it is outside the frame)."""
    slot = offset_bits // 8
    return slot if slot < slots else None
