"""``python -m firmware`` is ``centralita``."""

import sys

from firmware.cli import main

sys.exit(main())
