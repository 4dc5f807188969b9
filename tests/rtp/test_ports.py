"""RTP port allocation: even ports, round-robin reuse, bind failures, exhaustion (fake binds, no sockets)."""

from __future__ import annotations

import pytest

from core.rtp.ports import PortAllocationError, RtpPortAllocator


class FakeBinder:
    """Binds the RTP/RTCP pair unless a port of it is taken by "another program"."""

    def __init__(self, taken: set[int] | None = None) -> None:
        self.taken = taken or set()
        self.attempts: list[int] = []

    def __call__(self, port: int) -> str:
        self.attempts.append(port)
        if port in self.taken or port + 1 in self.taken:
            raise OSError(98, "Address already in use")
        return f"sockets@{port}"


def test_defaults_give_even_rtp_ports_with_rtcp_above() -> None:
    allocator = RtpPortAllocator(FakeBinder())
    port, bound = allocator.allocate()
    assert (port, bound) == (10000, "sockets@10000")
    assert allocator.capacity == 5000  # 10000, 10002, ..., 19998 (RTCP 19999 <= 20000)
    assert all(p % 2 == 0 for p in (allocator.allocate()[0] for _ in range(10)))


def test_odd_bounds_are_rounded_inwards() -> None:
    allocator = RtpPortAllocator(FakeBinder(), 10001, 10006)
    assert [allocator.allocate()[0] for _ in range(2)] == [10002, 10004]  # 10006 has no 10007 for RTCP
    with pytest.raises(PortAllocationError, match="exhausted"):
        allocator.allocate()


def test_a_released_port_is_not_reused_at_once() -> None:
    allocator = RtpPortAllocator(FakeBinder(), 20000, 20009)  # 20000 .. 20008: five pairs
    first = [allocator.allocate()[0] for _ in range(3)]
    allocator.release(first[0])
    following = [allocator.allocate()[0] for _ in range(3)]
    assert following == [20006, 20008, 20000]  # the released port comes last
    assert allocator.in_use == 5 and allocator.available == 0


def test_bind_failure_moves_on_to_the_next_port() -> None:
    binder = FakeBinder(taken={10001, 10004})  # another program holds 10001 (RTCP of 10000) and 10004
    allocator = RtpPortAllocator(binder, 10000, 10010)
    assert [allocator.allocate()[0] for _ in range(2)] == [10002, 10006]
    assert binder.attempts == [10000, 10002, 10004, 10006]
    assert allocator.bind_failures == 2


def test_every_port_failing_is_reported() -> None:
    allocator = RtpPortAllocator(FakeBinder(taken=set(range(10000, 10011))), 10000, 10010)
    with pytest.raises(PortAllocationError, match="could be bound after 5 attempts") as caught:
        allocator.allocate()
    assert "Address already in use" in str(caught.value)
    assert allocator.available == 5  # still free as far as we know: the other program may go away


def test_release_errors_and_invalid_ranges() -> None:
    allocator = RtpPortAllocator(FakeBinder(), 10000, 10010)
    with pytest.raises(PortAllocationError, match="not allocated"):
        allocator.release(10000)
    with pytest.raises(PortAllocationError):
        RtpPortAllocator(FakeBinder(), 10000, 10000)
    with pytest.raises(PortAllocationError):
        RtpPortAllocator(FakeBinder(), 20000, 10000)


def test_max_attempts_bounds_the_work() -> None:
    binder = FakeBinder(taken=set(range(10000, 10100)))
    allocator = RtpPortAllocator(binder, 10000, 10200, max_attempts=10)
    with pytest.raises(PortAllocationError, match="after 10 attempts"):
        allocator.allocate()
    assert len(binder.attempts) == 10
