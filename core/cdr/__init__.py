"""Call detail records with Asterisk 12+ semantics, written to Master.csv and SQLite.

* :mod:`core.cdr.model` — record fields, dispositions, AMA flags, options, time formats.
* :mod:`core.cdr.objects` — CDR objects, their states, flags, parties and channel snapshots.
* :mod:`core.cdr.machine` — how channel, dial and bridge activity moves them.
* :mod:`core.cdr.engine` — :class:`CdrEngine`: bus events in, records out; ``CDR()``, ``ForkCDR``,
  ``NoCDR``, ``ResetCDR``, ``CDR_PROP``.
* :mod:`core.cdr.backends` — :class:`CsvCdrBackend` (``cdr_csv``) and :class:`SqliteCdrBackend`.
* :mod:`core.cdr.writer` — :class:`CdrWriter`: group commit on a writer thread in front of them.
"""

from core.cdr.backends import CdrBackendError, CsvCdrBackend, SqliteCdrBackend, csv_line
from core.cdr.engine import CdrBackend, CdrEngine, CdrFieldError, CdrView
from core.cdr.model import AmaFlags, CdrOptions, CdrRecord, Disposition
from core.cdr.writer import CdrWriter

__all__ = [
    "AmaFlags",
    "CdrBackend",
    "CdrBackendError",
    "CdrEngine",
    "CdrFieldError",
    "CdrOptions",
    "CdrRecord",
    "CdrView",
    "CdrWriter",
    "CsvCdrBackend",
    "Disposition",
    "SqliteCdrBackend",
    "csv_line",
]
