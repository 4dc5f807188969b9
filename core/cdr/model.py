"""What a call detail record is: its fields, dispositions, AMA flags, options and text formats.

Values and names follow Asterisk 12+ (``include/asterisk/cdr.h``, ``main/cdr.c``, ``funcs/func_cdr.c``) and
the docs.asterisk.org page "CDR Specification": a record describes one path of communication between a
Party A (the channel that owns the record) and an optional Party B.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from enum import IntEnum


class Disposition(IntEnum):
    """``enum ast_cdr_disposition``: the numbers ``CDR(disposition,u)`` returns, with the backend text.

    ``NULL`` is "nothing decided yet"; ``ast_cdr_disp2str`` prints it as ``NO ANSWER`` for backward
    compatibility, and ``post_cdr`` treats every value below ``ANSWERED`` as unanswered.
    """

    label: str

    def __new__(cls, value: int, label: str) -> Disposition:
        member = int.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    NO_ANSWER = 0, "NO ANSWER"
    NULL = 1, "NO ANSWER"
    FAILED = 2, "FAILED"
    BUSY = 4, "BUSY"
    ANSWERED = 8, "ANSWERED"
    CONGESTION = 16, "CONGESTION"


def disposition_label(value: int) -> str:
    """``ast_cdr_disp2str``: the text of a disposition number (``UNKNOWN`` for other numbers)."""
    known = _DISPOSITIONS.get(value)
    return known.label if known is not None else "UNKNOWN"


_DISPOSITIONS: dict[int, Disposition] = {int(member): member for member in Disposition}


class AmaFlags(IntEnum):
    """``enum ama_flags`` (``include/asterisk/channel.h``): how billing systems should treat a record."""

    NONE = 0
    OMIT = 1
    BILLING = 2
    DOCUMENTATION = 3

    @classmethod
    def parse(cls, text: str) -> int:
        """The value ``Set(CDR(amaflags)=text)`` / ``CHANNEL(amaflags)`` store (``func_cdr.c`` ``cdr_write``).

        Text starting with a digit is read as a number (``sscanf("%30d")``: leading digits, anything
        after is ignored); otherwise ``ast_channel_string2amaflag``: ``default`` (= DOCUMENTATION),
        ``omit``, ``billing``, ``documentation`` in any case, and NONE (0) for anything else.
        """
        if text[:1].isdigit():
            digits = ""
            for char in text[:30]:
                if not char.isdigit():
                    break
                digits += char
            return int(digits)
        return int(_AMA_BY_NAME.get(text.lower(), cls.NONE))


_AMA_BY_NAME = {
    "default": AmaFlags.DOCUMENTATION,
    "omit": AmaFlags.OMIT,
    "billing": AmaFlags.BILLING,
    "documentation": AmaFlags.DOCUMENTATION,
}


def amaflags_label(value: int) -> str:
    """``ast_channel_amaflags2string``: ``OMIT``, ``BILLING``, ``DOCUMENTATION`` or ``Unknown``."""
    if value in (AmaFlags.OMIT, AmaFlags.BILLING, AmaFlags.DOCUMENTATION):
        return AmaFlags(value).name
    return "Unknown"


def callerid_merge(name: str, number: str) -> str:
    """The ``clid`` field: ``ast_callerid_merge(name, number, "")`` as ``main/cdr.c`` calls it.

    The CDR engine passes the snapshot's name and number, which are strings even when empty, so the
    result is always ``"name" <number>`` (``"" <>`` for a channel without caller ID).  The name is not
    escaped (``main/callerid.c`` formats it with ``"\\"%s\\" <%s>"``).
    """
    return f'"{name}" <{number}>'


TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def split_epoch(epoch: float) -> tuple[int, int]:
    """Epoch seconds as (seconds, microseconds), the ``struct timeval`` Asterisk keeps."""
    micros = round(epoch * 1_000_000)
    return micros // 1_000_000, micros % 1_000_000


def format_time(epoch: float | None, *, utc: bool = False) -> str:
    """``%Y-%m-%d %H:%M:%S`` in local time (or UTC), as the backends and ``CDR(start)`` print; "" for unset."""
    if epoch is None:
        return ""
    seconds, _micros = split_epoch(epoch)
    return time.strftime(TIME_FORMAT, time.gmtime(seconds) if utc else time.localtime(seconds))


def format_raw_time(epoch: float | None) -> str:
    """``CDR(start,u)``: ``seconds.microseconds`` (``0.000000`` when unset), ``cdr_get_tv`` in raw mode."""
    if epoch is None:
        return "0.000000"
    seconds, micros = split_epoch(epoch)
    return f"{seconds}.{micros:06d}"


def whole_seconds(elapsed: float, *, round_up_half: bool = False) -> int:
    """Seconds the way ``cdr_object_get_duration``/``_get_billsec`` count them.

    Asterisk takes the difference in whole milliseconds (``ast_tvdiff_ms`` floors) and divides by 1000
    (truncating); with ``initiatedseconds`` the billsec is rounded up when the remainder is >= 500 ms.
    """
    millis = math.floor(round(elapsed * 1_000_000) / 1000)
    seconds = int(millis / 1000)  # C division truncates toward zero
    if round_up_half and millis % 1000 >= 500:
        seconds += 1
    return seconds


@dataclass(frozen=True, slots=True)
class CdrOptions:
    """The ``[general]`` section of ``cdr.conf`` with Asterisk 20's defaults (``main/cdr.c``).

    ``enabled``: ``enable``; ``unanswered``: post records that were never answered and have no Party B
    (``post_cdr``); ``congestion``: report congestion as ``CONGESTION`` rather than ``FAILED``;
    ``end_before_h_exten``: ``endbeforehexten``, end records when hangup logic (the ``h`` extension)
    starts; ``initiated_seconds``: round billsec up from half a second; ``channel_default_enabled``:
    ``channeldefaultenabled``, whether new channels' records are enabled.  ``default_amaflags`` is
    ``ast_default_amaflags`` (DOCUMENTATION).  Batch mode is not offered: every record is written when its
    channel ends, which is what makes records survive a crash.
    """

    enabled: bool = True
    unanswered: bool = False
    congestion: bool = False
    end_before_h_exten: bool = True
    initiated_seconds: bool = False
    channel_default_enabled: bool = True
    default_amaflags: int = int(AmaFlags.DOCUMENTATION)


@dataclass(frozen=True, slots=True)
class CdrRecord:
    """One dispatched record (``struct ast_cdr``), as backends receive it.

    Times are epoch seconds (None when unset); ``duration``/``billsec`` are whole seconds.  String fields
    are cut to the sizes of ``struct ast_cdr`` (79 characters for most, see ``FIELD_LIMITS``).
    ``variables`` are the custom ``CDR(name)`` variables: Party A's, then Party B's not set on Party A.
    """

    accountcode: str
    src: str
    dst: str
    dcontext: str
    clid: str
    channel: str
    dstchannel: str
    lastapp: str
    lastdata: str
    start: float | None
    answer: float | None
    end: float | None
    duration: int
    billsec: int
    disposition: int
    amaflags: int
    userfield: str
    uniqueid: str
    linkedid: str
    peeraccount: str = ""
    sequence: int = 0
    variables: tuple[tuple[str, str], ...] = field(default=())

    @property
    def disposition_text(self) -> str:
        """``ANSWERED``, ``NO ANSWER``, ``BUSY``, ``FAILED`` or ``CONGESTION``."""
        return disposition_label(self.disposition)

    @property
    def amaflags_text(self) -> str:
        """``OMIT``, ``BILLING``, ``DOCUMENTATION`` or ``Unknown``."""
        return amaflags_label(self.amaflags)


# Sizes of the character arrays in struct ast_cdr (include/asterisk/cdr.h, AST_MAX_EXTENSION = 80,
# AST_MAX_ACCOUNT_CODE = 20, AST_MAX_UNIQUEID = 152, AST_MAX_USER_FIELD = 256); ast_copy_string keeps
# one byte less for the terminating NUL.
FIELD_LIMITS: dict[str, int] = {
    "clid": 80, "src": 80, "dst": 80, "dcontext": 80, "channel": 80, "dstchannel": 80, "lastapp": 80,
    "lastdata": 80, "accountcode": 20, "peeraccount": 20, "uniqueid": 152, "linkedid": 152,
    "userfield": 256,
}


def fit(name: str, value: str) -> str:
    """``value`` cut to what the ``name`` array of ``struct ast_cdr`` holds (bytes, like ``ast_copy_string``)."""
    limit = FIELD_LIMITS[name] - 1
    encoded = value.encode("utf-8")
    if len(encoded) <= limit:
        return value
    return encoded[:limit].decode("utf-8", errors="ignore")
