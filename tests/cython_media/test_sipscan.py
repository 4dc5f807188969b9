"""SIP datagram framing: the compiled scanner and its pure-Python twin give the same results, and a message
they frame is the message the careful parser makes of the same octets.

Over the captured and torture messages of ``tests/sip/messages`` and variants made from them: the forms the
scanner takes (CRLF lines, ``name: value``, known names) and every form it leaves to the careful parser
(leading CRLF, bare CR or LF, folding, unknown or malformed names, non-UTF-8 octets, too many or too long
lines, no empty line).
"""

from __future__ import annotations

import os
import random
import re
from types import ModuleType

import pytest

from core.sip import message as message_module
from core.sip.headers import _NAME_INFO, RFC_METHODS
from core.sip.message import MAX_HEADER_LENGTH, MAX_HEADERS, SipParseError, parse_message
from cython_media import _sipscan_py, sipscan
from tests.sip.messages import load, names

IMPLEMENTATIONS: list[ModuleType] = [_sipscan_py]
try:
    from cython_media import _sipscan as _compiled
except ImportError:
    _compiled = None
else:
    IMPLEMENTATIONS.append(_compiled)

SEEDS = [load(name) for name in names("rfc4475") + names("rfc5118") + names("sipp", ".msg")]
SIPP_INVITE = load("sipp/udp_1_invite.msg")
UNKNOWN = {"X-Custom": ("x-custom", "X-Custom"), "P-Charging-Vector": ("p-charging-vector", "P-Charging-Vector")}
SPECIAL = [b"\r\n", b"\r", b"\n", b" ", b"\t", b":", b": ", b";", b",", b"<", b">", b'"', b"\x00", b"\x7f",
           b"\x80", b"\xff", b"\xc3", b"\xc3\xa9", b"\xe2\x82", b"\r\n ", b"\r\n\t", b"\r\n\r\n", b"Via: ",
           b"X-Custom: ", b"x-custom: ", b"Unknown-Name: ", b"v: ", b"V: "]  # fmt: skip


START_LINES = [
    b"INVITE sip:a@b SIP/2.0", b"OPTIONS sip:a@b SIP/2.0", b"REGISTER sip:b SIP/2.0", b"FOO sip:a@b SIP/2.0",
    b"invite sip:a@b SIP/2.0", b"INVITE  sip:a@b SIP/2.0", b"INVITE sip:a@b  SIP/2.0", b"INVITE sip:a@b SIP/2.0 ",
    b"INVITE sip:a@b SIP/2.1", b"INVITE sip:a@b sip/2.0", b"INVITE sip:a@b", b"INVITE", b"INVITE\tsip:a@b\tSIP/2.0",
    b" INVITE sip:a@b SIP/2.0", b"INVITE sip:caf\xc3\xa9@b SIP/2.0", b"INVITE sip:\xff@b SIP/2.0",
    b"INVITE sip:a b SIP/2.0", b"SIP/2.0 200 OK", b"SIP/2.0 200", b"SIP/2.0 200 ", b"SIP/2.0 200  OK  ",
    b"SIP/2.0 100 Trying", b"SIP/2.0 699 x", b"SIP/2.0 700 x", b"SIP/2.0 099 x", b"SIP/2.0 20 x", b"SIP/2.0 2000 x",
    b"SIP/2.0 20x OK", b"SIP/2.0 200OK", b"SIP/2.0  200 OK", b"sip/2.0 200 OK", b"SIP/2.1 200 OK", b"SIP/2.0",
    b"SIP/2.0 ", b"SIP/2.0 180 R\xc3\xa9ponse \xff", b"SIP/2.0 \xd9\xa200 OK", b"\xc5\xbfIP/2.0 200 OK",
    b"SIP/20 200 OK", b"SIP/2.0 200\tOK",
]  # fmt: skip


_CONTENT_LENGTH = re.compile(rb"(?im)^(Content-Length|l) *: *[0-9]+")
LENGTHS = [b"0", b"1", b"5", b"99999", b"0000000001", b"00000000001", b"9999999999", b"x", b"", b"-1", b" 1 ",
           b"\xd9\xa1", b"1 2"]  # fmt: skip


def _variants(data: bytes, generator: random.Random, count: int) -> list[bytes]:
    out = []
    for _ in range(count):
        mutated = bytearray(data)
        for _ in range(generator.randint(1, 4)):
            position = generator.randint(0, len(mutated))
            action = generator.randint(0, 2)
            if action == 0:
                mutated[position:position] = generator.choice(SPECIAL)
            elif action == 1:
                del mutated[position : position + generator.randint(1, 12)]
            else:
                mutated[position:position] = bytes(generator.randrange(256) for _ in range(generator.randint(1, 4)))
        out.append(bytes(mutated))
    return out


def _edited(data: bytes) -> list[bytes]:
    """The same message in the forms a peer may also send, each taking one side of the scanner's boundary."""
    head, _, body = data.partition(b"\r\n\r\n")
    start, _, rest = head.partition(b"\r\n")
    lines = rest.split(b"\r\n")
    return [
        data,
        b"\r\n" + data,
        b"\r\n\r\n" + data,
        data.replace(b"\r\n", b"\n"),
        head,
        head + b"\r\n",
        head + b"\r\n\r\n",
        start + b"\r\n\r\n" + body,
        data.replace(b": ", b":", 1),
        data.replace(b": ", b" : ", 1),
        data.replace(b": ", b":\t", 1),
        data.replace(b": ", b":  \t ", 1),
        data.replace(b"\r\n\r\n", b"  \t\r\n\r\n", 1),
        data.replace(b"\r\n\r\n", b"\r\nX-Custom: yes\r\n\r\n", 1),
        data.replace(b"\r\n\r\n", b"\r\nX-Other: no\r\n\r\n", 1),
        data.replace(b"\r\n\r\n", b"\r\nSubject: \r\n\r\n", 1),
        data.replace(b"\r\n\r\n", b"\r\nSubject:    \r\n\r\n", 1),
        data.replace(b"\r\n\r\n", b"\r\nSubject: caf\xc3\xa9 \xff\xfe ok\r\n\r\n", 1),
        data.replace(b"\r\n\r\n", b"\r\nSubj\xc3\xa9ct: x\r\n\r\n", 1),
        data.replace(b"\r\n\r\n", b"\r\n continued\r\n\r\n", 1),
        data.replace(b"\r\n\r\n", b"\r\nSubject: a\rb\r\n\r\n", 1),
        data.replace(b"\r\n\r\n", b"\r\nSubject: a\nb\r\n\r\n", 1),
        data.replace(b"\r\n\r\n", b"\r\nSubject: a: b: c\r\n\r\n", 1),
        data.replace(b"\r\n\r\n", b"\r\nSub:ject: a\r\n\r\n", 1),
        b"\r\n".join([start, *(line.lower() for line in lines)]) + b"\r\n\r\n" + body,
        b"\r\n".join([start, *(line.upper() for line in lines)]) + b"\r\n\r\n" + body,
        b"\r\n".join([start, *reversed(lines)]) + b"\r\n\r\n" + body,
        b"\r\n".join([start, *lines, *lines]) + b"\r\n\r\n" + body,
        b"\r\n".join([start] + [b"Subject: x"] * MAX_HEADERS) + b"\r\n\r\n",
        b"\r\n".join([start] + [b"Subject: x"] * (MAX_HEADERS + 1)) + b"\r\n\r\n",
        head + b"\r\nSubject: " + b"x" * (MAX_HEADER_LENGTH - len(head) - 11) + b"\r\n\r\n",
        head + b"\r\nSubject: " + b"x" * (MAX_HEADER_LENGTH - len(head) - 10) + b"\r\n\r\n",
        head + b"\r\nSubject: " + b"\xc3\xa9" * (MAX_HEADER_LENGTH // 2) + b"\r\n\r\n",
        *(line + b"\r\n" + rest + b"\r\n\r\n" + body for line in START_LINES),
        data + b"octets beyond Content-Length",
        *(_CONTENT_LENGTH.sub(b"Content-Length: " + length, data, count=1) for length in LENGTHS),
        *(_CONTENT_LENGTH.sub(b"l: " + length, data, count=1) for length in LENGTHS[:3]),
        _CONTENT_LENGTH.sub(lambda found: found.group(0) + b"\r\n" + found.group(0), data, count=1),
        _CONTENT_LENGTH.sub(b"", data, count=1).replace(b"\r\n\r\n\r\n", b"\r\n\r\n", 1),
    ]


def _messages() -> list[bytes]:
    generator = random.Random(4475)
    out: list[bytes] = []
    for seed in SEEDS:
        for edited in _edited(seed):
            out.append(edited)
            out.extend(_variants(edited, generator, 4))
    return out


MESSAGES = _messages()


SCANNERS = {impl: impl.DatagramScanner(_NAME_INFO, UNKNOWN, RFC_METHODS, MAX_HEADERS, MAX_HEADER_LENGTH)
            for impl in IMPLEMENTATIONS}  # fmt: skip


def _scan(impl: ModuleType, data: bytes) -> object:
    return SCANNERS[impl].scan(data)


def test_compiled_build_is_present_unless_pure_mode_is_forced() -> None:
    # CI builds the extension; a silently missing .so would make the comparisons below compare the twin with itself.
    if os.environ.get("CENTRALITA_NO_EXTENSIONS"):
        assert sipscan.ACCELERATED is False and sipscan.DatagramScanner is _sipscan_py.DatagramScanner
    else:
        assert _compiled is not None, "cython_media._sipscan was not built"
        assert sipscan.ACCELERATED is True and sipscan.DatagramScanner is _compiled.DatagramScanner


def test_the_variants_fall_on_both_sides_of_the_boundary() -> None:
    scanned = sum(_scan(_sipscan_py, data) is not None for data in MESSAGES)
    assert 2000 < scanned < len(MESSAGES) - 2000


@pytest.mark.skipif(_compiled is None, reason="cython_media._sipscan not built (CENTRALITA_NO_EXTENSIONS)")
def test_compiled_and_pure_scans_are_equal() -> None:
    for data in MESSAGES:
        expected = _scan(_sipscan_py, data)
        assert _scan(_compiled, data) == expected, data
        if expected is not None:
            assert [type(text) for text in expected[3]] == [str] * len(expected[3])  # type: ignore[index]


@pytest.mark.skipif(_compiled is None, reason="cython_media._sipscan not built (CENTRALITA_NO_EXTENSIONS)")
def test_names_outside_the_compiled_table_are_found_in_the_dicts() -> None:
    # A small table, names it cannot hold (not ASCII, not str, no tuple), and names learned after it was made.
    known: dict[object, object] = {"Via": ("via", "Via"), "Subj\u00e9ct": ("subject", "Subject"), 1: ("x", "X"),
                                   "To": ["to", "To"], "From": None, "Call-ID": ("call-id", "Call-ID")}  # fmt: skip
    unknown: dict[str, tuple[str, str]] = {}
    scanners = [impl.DatagramScanner(known, unknown, RFC_METHODS, MAX_HEADERS, MAX_HEADER_LENGTH)
                for impl in (_sipscan_py, _compiled)]  # fmt: skip
    head = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCall-ID: c1\r\n"
    for extra in (b"", b"Subj\xc3\xa9ct: s\r\n", b"To: <sip:a@b>\r\n", b"From: <sip:a@b>\r\n", b"X-Later: 1\r\n"):
        data = head + extra + b"\r\n"
        assert scanners[0].scan(data) == scanners[1].scan(data), data
    assert scanners[1].scan(head + b"X-Later: 1\r\n\r\n") is None
    unknown["X-Later"] = ("x-later", "X-Later")
    assert scanners[1].scan(head + b"X-Later: 1\r\n\r\n") == scanners[0].scan(head + b"X-Later: 1\r\n\r\n")
    assert scanners[1].scan(head + b"X-Later: 1\r\n\r\n") is not None


@pytest.mark.skipif(_compiled is None, reason="cython_media._sipscan not built (CENTRALITA_NO_EXTENSIONS)")
def test_compiled_and_pure_line_indexes_are_equal() -> None:
    for data in MESSAGES:
        head = data.partition(b"\r\n\r\n")[0].decode("utf-8", "surrogateescape")
        header_lines = head.split("\r\n")[1:]
        expected = _sipscan_py.index_header_lines(header_lines, _NAME_INFO, UNKNOWN)
        assert _compiled.index_header_lines(header_lines, _NAME_INFO, UNKNOWN) == expected, data


@pytest.mark.parametrize("impl", IMPLEMENTATIONS, ids=lambda m: "compiled" if m is _compiled else "pure")
def test_usual_forms_are_scanned_and_the_others_left_to_the_careful_parser(impl: ModuleType) -> None:
    method, uri, status, header_lines, index, body_start, body = _scan(impl, SIPP_INVITE)  # type: ignore[misc]
    assert (method, uri, status) == ("INVITE", "sip:service@127.0.0.1:5080", 0)
    assert body == SIPP_INVITE[body_start:] and len(body) == int(index["content-length"][0])
    assert header_lines[0].startswith("Via: SIP/2.0/UDP 127.0.0.1:5081;branch=")
    assert index["call-id"] == ["1-3794@127.0.0.1"] and header_lines[3] == "Call-ID: 1-3794@127.0.0.1"
    assert SIPP_INVITE[body_start:].startswith(b"v=0\r\n")
    assert _scan(impl, SIPP_INVITE.replace(b"Subject: ", b"s:\t")) is None  # no ": "
    assert _scan(impl, SIPP_INVITE.replace(b"Subject: ", b"s: \t ")) is not None  # a compact form, spaces stripped
    assert _scan(impl, SIPP_INVITE.replace(b"Subject: ", b"X-Custom: ")) is not None  # a name seen before
    for unusual in (b"\r\n" + SIPP_INVITE, SIPP_INVITE.replace(b"\r\n", b"\n"), SIPP_INVITE.partition(b"\r\n\r\n")[0],
                    SIPP_INVITE.replace(b"\r\nSubject: ", b"\r\n Subject: "), SIPP_INVITE.replace(b": ", b":", 1),
                    SIPP_INVITE.replace(b"Subject: ", b"X-Never-Seen: "), bytearray(SIPP_INVITE)):  # fmt: skip
        assert _scan(impl, unusual) is None  # type: ignore[arg-type]


def _outcome(data: bytes) -> object:
    try:
        message = parse_message(data)
    except SipParseError as exc:
        return ("error", str(exc), exc.args)
    return (type(message), message._start_line(), getattr(message, "start_line_error", None), list(message.headers),
            [(key, message.headers.get_all(key)) for key, _value in message.headers], message.body,
            message.framing_error)  # fmt: skip


def test_a_scanned_message_is_what_the_careful_parser_makes(monkeypatch: pytest.MonkeyPatch) -> None:
    scanner = sipscan.DatagramScanner(_NAME_INFO, {}, RFC_METHODS, MAX_HEADERS, MAX_HEADER_LENGTH)
    scanned = [data for data in MESSAGES if scanner.scan(data)]
    fast = [_outcome(data) for data in scanned]
    monkeypatch.setattr(message_module, "_scan_datagram", lambda data: None)
    assert [_outcome(data) for data in scanned] == fast
