"""MD5 and SHA1 of ``funcs/func_md5.c`` and ``funcs/func_sha1.c``: the lower-case hex digest of the
argument's bytes (its UTF-8 encoding here).  An empty argument is an error ("missing argument"): nothing
is substituted.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING

from core.dialplan.functions import reader

if TYPE_CHECKING:
    from core.dialplan.runtime import EvalContext

log = logging.getLogger("centralita.dialplan")


@reader("MD5", "Computes an MD5 digest.")
def md5_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``MD5(data)``: 32 hex digits."""
    if not data:
        log.warning("Syntax: MD5(<data>) - missing argument!")
        return None
    return hashlib.md5(data.encode("utf-8", "surrogateescape"), usedforsecurity=False).hexdigest()


@reader("SHA1", "Computes a SHA1 digest.")
def sha1_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``SHA1(data)``: 40 hex digits."""
    if not data:
        log.warning("Syntax: SHA1(<data>) - missing argument!")
        return None
    return hashlib.sha1(data.encode("utf-8", "surrogateescape"), usedforsecurity=False).hexdigest()
