"""Batched datagram I/O of the signalling shells: what arrives, in which order, from whom; what a failing
destination does to the rest of a batch; the compiled module and its twin agree."""

from __future__ import annotations

import errno
import os
import socket
import time
from collections.abc import Iterator
from types import ModuleType

import pytest

from cython_media import _udp_py, udp

IMPLEMENTATIONS: list[ModuleType] = [_udp_py]
try:
    from cython_media import _udp as _compiled  # type: ignore[attr-defined]
except ImportError:
    _compiled = None
else:
    IMPLEMENTATIONS.append(_compiled)


@pytest.fixture(params=IMPLEMENTATIONS, ids=lambda m: "compiled" if m is _compiled else "pure")
def impl(request: pytest.FixtureRequest) -> ModuleType:
    return request.param  # type: ignore[no-any-return]


def _socket(family: socket.AddressFamily = socket.AF_INET) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
    sock.setblocking(False)
    return sock


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = _socket(), _socket()
    yield a, b
    a.close()
    b.close()


def _wait_readable(sock: socket.socket, count: int, impl: ModuleType) -> list[tuple[bytes, tuple[str, int]]]:
    got: list[tuple[bytes, tuple[str, int]]] = []
    deadline = time.monotonic() + 2
    while len(got) < count and time.monotonic() < deadline:
        got += impl.recv_many(sock, count - len(got))
    return got


def test_compiled_build_is_present_unless_pure_mode_is_forced() -> None:
    if os.environ.get("CENTRALITA_NO_EXTENSIONS"):
        assert udp.ACCELERATED is False
    else:
        assert udp.ACCELERATED is True, "the compiled _udp module did not build"


def test_a_batch_arrives_whole_in_order_with_its_sender(impl: ModuleType, pair: tuple[socket.socket, ...]) -> None:
    a, b = pair
    payloads = [f"message {i}".encode() * (i + 1) for i in range(100)]
    assert impl.send_many(b, [(p, a.getsockname()) for p in payloads], errors := []) == 100
    assert errors == []
    got = _wait_readable(a, 100, impl)
    assert [data for data, _ in got] == payloads
    assert {source for _, source in got} == {b.getsockname()}


def test_nothing_waiting_reads_nothing_and_the_limit_is_kept(impl: ModuleType, pair: tuple[socket.socket, ...]) -> None:
    a, b = pair
    assert impl.recv_many(a, 64) == []
    impl.send_many(b, [(bytes([i]), a.getsockname()) for i in range(10)], [])
    first = _wait_readable(a, 4, impl)
    assert [data for data, _ in first] == [bytes([i]) for i in range(4)]
    assert [data for data, _ in _wait_readable(a, 6, impl)] == [bytes([i]) for i in range(4, 10)]


def test_a_large_datagram_is_not_cut(impl: ModuleType, pair: tuple[socket.socket, ...]) -> None:
    a, b = pair
    big = bytes(range(256)) * 200  # 51,200 octets: a SIP message with a large body over UDP
    impl.send_many(b, [(big, a.getsockname())], [])
    assert _wait_readable(a, 1, impl) == [(big, b.getsockname())]


def test_a_bad_destination_is_reported_and_the_others_still_leave(impl: ModuleType,
                                                                   pair: tuple[socket.socket, ...]) -> None:
    a, b = pair
    errors: list[tuple[int, tuple[str, int], OSError]] = []
    items = [(b"one", a.getsockname()), (b"to a name", ("sip.example.com", 5060)), (b"port", ("127.0.0.1", 70000)),
             (bytearray(b"four"), a.getsockname())]
    assert impl.send_many(b, items, errors) == 4
    assert [(index, address, exc.errno) for index, address, exc in errors] == [
        (1, ("sip.example.com", 5060), errno.EINVAL), (2, ("127.0.0.1", 70000), errno.EINVAL)]
    assert [data for data, _ in _wait_readable(a, 2, impl)] == [b"one", b"four"]


def test_ipv6_sources_and_destinations(impl: ModuleType) -> None:
    try:
        a, b = _socket(socket.AF_INET6), _socket(socket.AF_INET6)
    except OSError:
        pytest.fail("IPv6 loopback (::1) is not configured on this machine")
    with a, b:
        impl.send_many(b, [(b"v6", ("::1", a.getsockname()[1]))], [])
        assert _wait_readable(a, 1, impl) == [(b"v6", ("::1", b.getsockname()[1]))]
