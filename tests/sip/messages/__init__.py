"""Test messages for the SIP message layer.

``rfc4475/*.sip`` and ``rfc5118/*.sip`` are written for these tests: each one exercises the rule of
the RFC case it is named after, with its own addresses and values. ``sipp/*.msg`` are messages SIPp
3.6.1 really sent and received in its built-in ``uac``/``uas`` scenarios over UDP and TCP on
127.0.0.1 (``sipp -sn uas ... -trace_msg``; ``sipp -sn uac ... -trace_msg``), kept byte for byte.

A ``.sip`` file is text in the notation of RFC 4475 §2: every line break becomes CRLF,
``<hex>0d0a</hex>`` stands for the octets written in hex, ``<repeat count=3>ab</repeat>`` for
``ababab``, and ``<length>`` in the header part is replaced with the length of the body as loaded
(a file that needs a wrong Content-Length writes the number).
"""

from __future__ import annotations

import re
from pathlib import Path

HERE = Path(__file__).parent

_HEX = re.compile(rb"<hex>([0-9A-Fa-f]*)</hex>")
_REPEAT = re.compile(rb"<repeat count=(\d+)>(.*?)</repeat>", re.S)
_LENGTH = b"<length>"


def load(name: str) -> bytes:
    """The message ``name`` (path relative to this directory), as octets on the wire."""
    raw = (HERE / name).read_bytes()
    if name.endswith(".msg"):
        return raw
    text = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    text = _REPEAT.sub(lambda m: m.group(2) * int(m.group(1)), text)
    text = _HEX.sub(lambda m: bytes.fromhex(m.group(1).decode()), text)
    if _LENGTH in text:
        head, _, body = text.partition(b"\r\n\r\n")
        text = head.replace(_LENGTH, b"%d" % len(body)) + b"\r\n\r\n" + body
    return text


def names(folder: str, suffix: str = ".sip") -> list[str]:
    """The message files of ``folder``, sorted."""
    return sorted(f"{folder}/{path.name}" for path in (HERE / folder).glob(f"*{suffix}"))
