"""The relay pool ([media] relay_threads): pairs spread over several relay threads, each call still relayed
both ways with its own ids, events and counters, in the build under test."""

from __future__ import annotations

import select
import time

import pytest

from cython_media import relay
from cython_media._relay_py import Leg, RelayError, RtpTimeout, Side
from tests.rtp.test_relay import SSRC_A, SSRC_B, addr, fields, receive, rtp_packet, udp


def test_calls_are_spread_over_the_threads_and_each_is_relayed_on_its_own() -> None:
    pool = relay.RelayPool(3)
    sockets = []
    try:
        calls = []
        for _index in range(6):
            phone_a, phone_b, leg_a, leg_b = udp(), udp(), udp(), udp()
            sockets += [phone_a, phone_b, leg_a, leg_b]
            pair_id = pool.add_pair(Leg(leg_a, ssrc=SSRC_A, remote=addr(phone_a)),
                                    Leg(leg_b, ssrc=SSRC_B, remote=addr(phone_b)))
            calls.append((pair_id, phone_a, phone_b, leg_a, leg_b))
        assert pool.threads == 3
        assert sorted(pool.pair_ids()) == pool.pair_ids() and len(set(pool.pair_ids())) == 6
        assert sorted(len(ours) for ours in pool._ours) == [2, 2, 2]  # least busy thread first
        pool.start()
        assert pool.running
        for index, (_pair, phone_a, phone_b, leg_a, leg_b) in enumerate(calls):
            for seq in range(5):
                phone_a.sendto(rtp_packet(seq, 160 * seq, 0x1000 + index, payload=bytes([index]) * 160), addr(leg_a))
                phone_b.sendto(rtp_packet(seq, 160 * seq, 0x2000 + index, payload=bytes([100 + index]) * 160),
                               addr(leg_b))
        for index, (pair_id, phone_a, phone_b, _leg_a, _leg_b) in enumerate(calls):
            heard_b, heard_a = receive(phone_b, 5), receive(phone_a, 5)
            assert [p[12:] for p in heard_b] == [bytes([index]) * 160] * 5
            assert [p[12:] for p in heard_a] == [bytes([100 + index]) * 160] * 5
            assert {fields(p)[4] for p in heard_b} == {SSRC_B} and {fields(p)[4] for p in heard_a} == {SSRC_A}
            a, b = pool.stats(pair_id)
            assert (a.packets_in, b.packets_out, b.packets_in, a.packets_out) == (5, 5, 5, 5)
        first = calls[0][0]
        final = pool.remove_pair(first)
        assert final[0].packets_in == 5
        with pytest.raises(RelayError):
            pool.stats(first)
        with pytest.raises(RelayError):
            pool.remove_pair(first)
        assert first not in pool.pair_ids() and len(pool.pair_ids()) == 5
    finally:
        pool.close()
        for sock in sockets:
            sock.close()


def test_events_of_every_thread_carry_the_pool_s_pair_ids() -> None:
    pool = relay.RelayPool(2)
    sockets = [udp() for _ in range(8)]
    try:
        quiet_pair = pool.add_pair(Leg(sockets[0], ssrc=SSRC_A, remote=addr(sockets[1])),
                                   Leg(sockets[2], ssrc=SSRC_B, remote=addr(sockets[3])))
        idle_pair = pool.add_pair(Leg(sockets[4], ssrc=SSRC_A, remote=addr(sockets[5]), rtp_timeout=0.2),
                                  Leg(sockets[6], ssrc=SSRC_B, remote=addr(sockets[7])))
        assert {len(ours) for ours in pool._ours} == {1}  # one pair per thread
        pool.start()
        deadline = time.monotonic() + 3
        events: list[relay.RelayEvent] = []
        while not events and time.monotonic() < deadline:
            select.select(pool.filenos(), [], [], 0.5)
            events = pool.events()
        assert [(type(e), e.pair_id, e.side) for e in events] == [(RtpTimeout, idle_pair, Side.A)]
        assert idle_pair != quiet_pair
    finally:
        pool.close()
        for sock in sockets:
            sock.close()


def test_zero_threads_means_one_per_cpu_at_most_four() -> None:
    pool = relay.RelayPool(0)
    try:
        assert pool.threads == relay.default_threads() and 1 <= pool.threads <= 4
    finally:
        pool.close()
