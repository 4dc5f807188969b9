"""RFC 4733 telephone-events: payload, the sender's packet train, and a receiver that reports every digit
exactly once whatever the network lost, duplicated or reordered."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.rtp.packet import parse_rtp
from core.rtp.session import RtpSender
from core.rtp.telephone_event import (
    HOOK_FLASH,
    EndReason,
    EventPacket,
    TelephoneEvent,
    TelephoneEventEnded,
    TelephoneEventError,
    TelephoneEventReceiver,
    TelephoneEventSender,
    TelephoneEventStarted,
    build_telephone_event,
    digit_to_event,
    event_to_digit,
    parse_telephone_event,
)

T0 = 0x12345678


def run(sender: TelephoneEventSender, until: float = 60.0) -> list[tuple[float, EventPacket]]:
    """Drive the sender's timer; every packet with the time it was sent."""
    sent: list[tuple[float, EventPacket]] = []
    while (when := sender.next_time()) is not None and when <= until:
        sent.extend((when, packet) for packet in sender.poll(when))
    return sent


def train(sender: TelephoneEventSender, when: float, packets: list[EventPacket]) -> list[tuple[float, EventPacket]]:
    return [(when, p) for p in packets] + run(sender)


def wire(item: tuple[float, EventPacket]) -> tuple[float, int, bool, bool, int, int]:
    when, packet = item
    return (round(when, 6), packet.timestamp, packet.marker, packet.block.end, packet.block.duration,
            packet.block.event)


# -- payload ---------------------------------------------------------------------------------------------------

def test_payload_bytes() -> None:
    # Digit 5, end, -10 dBm0, 800 units (100 ms at 8 kHz): 05 8a 03 20
    assert build_telephone_event(5, end=True, volume=10, duration=800) == bytes.fromhex("058a0320")
    assert parse_telephone_event(bytes.fromhex("058a0320")) == [TelephoneEvent(5, True, 10, 800)]
    assert parse_telephone_event(bytes.fromhex("0b4a00a0")) == [TelephoneEvent(11, False, 10, 160)]  # R bit ignored
    assert parse_telephone_event(bytes.fromhex("01000320" "02800140")) == [
        TelephoneEvent(1, False, 0, 800), TelephoneEvent(2, True, 0, 320)]


@pytest.mark.parametrize("payload", [b"", b"\x05\x8a\x03", b"\x05\x8a\x03\x20\x00"])
def test_malformed_payloads(payload: bytes) -> None:
    with pytest.raises(TelephoneEventError):
        parse_telephone_event(payload)


def test_digit_codes() -> None:
    assert [digit_to_event(d) for d in "0123456789*#ABCDabcd"] == list(range(16)) + [12, 13, 14, 15]
    assert "".join(event_to_digit(e) or "?" for e in range(18)) == "0123456789*#ABCD??"
    with pytest.raises(TelephoneEventError):
        digit_to_event("E")
    with pytest.raises(TelephoneEventError):
        build_telephone_event(1, volume=64)


# -- sender ----------------------------------------------------------------------------------------------------

def test_a_100_ms_digit_on_the_wire() -> None:
    sender = TelephoneEventSender(interval=0.02)
    sent = train(sender, 0.0, sender.start(digit_to_event("5"), 0.0, T0, duration=0.1))
    assert [wire(item) for item in sent] == [
        (0.0, T0, True, False, 160, 5),  # start: marker, one interval reported
        (0.02, T0, False, False, 320, 5),  # updates: same timestamp, growing duration
        (0.04, T0, False, False, 480, 5),
        (0.06, T0, False, False, 640, 5),
        (0.08, T0, False, True, 800, 5),  # end, then two copies one interval apart
        (0.1, T0, False, True, 800, 5),
        (0.12, T0, False, True, 800, 5),
    ]
    assert all(p.block.volume == 10 for _, p in sent) and not sender.busy


def test_live_digit_ends_when_the_tone_stops() -> None:
    sender = TelephoneEventSender(interval=0.05)  # RFC 4733's customary 50 ms updates
    sent = [(0.0, p) for p in sender.start(1, 0.0, T0)]
    sent += run(sender, until=0.12)
    sent += [(0.13, p) for p in sender.stop(0.13)]
    sent += run(sender)
    assert [wire(item) for item in sent] == [
        (0.0, T0, True, False, 400, 1),
        (0.05, T0, False, False, 800, 1),
        (0.1, T0, False, False, 1200, 1),
        (0.13, T0, False, True, 1200, 1),  # ended at 130 ms = 1040 units, never less than already reported
        (0.18, T0, False, True, 1200, 1),
        (0.23, T0, False, True, 1200, 1),
    ]


def test_hook_flash_has_no_volume() -> None:
    sender = TelephoneEventSender()
    sent = train(sender, 0.0, sender.start(HOOK_FLASH, 0.0, T0, duration=0.05))
    assert {p.block.event for _, p in sent} == {16} and {p.block.volume for _, p in sent} == {0}


def test_queued_digits_follow_each_other_with_their_own_timestamps() -> None:
    sender = TelephoneEventSender(interval=0.02)
    sent = train(sender, 0.0, sender.send_digits("12#", 0.0, T0, duration=0.1))
    starts = [(round(when, 6), p.timestamp, p.block.event) for when, p in sent if p.marker]
    # Each digit starts one interval after the last copy of the previous end (0.12 + 0.02).
    assert starts == [(0.0, T0, 1), (0.14, T0 + 1120, 2), (0.28, T0 + 2240, 11)]
    assert sum(1 for _, p in sent if p.block.end) == 9


def test_short_digit_still_sends_start_and_three_ends() -> None:
    sender = TelephoneEventSender(interval=0.02)
    sent = train(sender, 0.0, sender.start(3, 0.0, T0, duration=0.01))
    assert [wire(item) for item in sent] == [
        (0.0, T0, True, True, 80, 3), (0.02, T0, False, True, 80, 3), (0.04, T0, False, True, 80, 3)]


def test_long_event_is_cut_into_segments() -> None:
    sender = TelephoneEventSender(interval=0.05)
    sent = [(0.0, p) for p in sender.start(0, 0.0, T0)]
    sent += run(sender, until=9.99)
    sent += [(10.0, p) for p in sender.stop(10.0)]
    sent += run(sender)
    segment_ends = [(round(w, 3), p.timestamp, p.block.duration) for w, p in sent
                    if p.block.duration == 0xFFFF and not p.block.end]
    # 65535 units = 8.19 s.  The packet sent at 8.15 s reports 164 x 400 = 65600 units: the first
    # segment closes with 65535 (sent three times, no E bit) and the next one begins at T0 + 65535 with
    # the 65 units beyond.
    assert segment_ends == [(8.15, T0, 65535), (8.2, T0, 65535), (8.25, T0, 65535)]
    second = [(round(w, 3), p.timestamp, p.block.duration, p.marker) for w, p in sent if p.timestamp != T0]
    assert second[0] == (8.15, T0 + 65535, 65, False)
    assert second[-1] == (10.1, T0 + 65535, 80000 - 65535, False) and sent[-1][1].block.end
    assert sum(1 for _, p in sent if p.marker) == 1


def test_event_packets_share_the_audio_stream() -> None:
    # RFC 4733 §2.3.1: the event's timestamp is the media clock at its start, in the audio's SSRC and
    # sequence space.
    audio = RtpSender(0, rng=random.Random(9))
    for i in range(5):
        audio.send(b"\xff" * 160, 0.02 * i)
    events = TelephoneEventSender()
    start = events.start(7, 0.1, audio.timestamp_at(0.1), duration=0.06)
    wire_packet = parse_rtp(audio.send_at(start[0].payload, start[0].timestamp, 0.1, payload_type=101,
                                          marker=start[0].marker))
    assert (wire_packet.payload_type, wire_packet.marker, wire_packet.ssrc) == (101, True, audio.ssrc)
    assert wire_packet.timestamp == audio.timestamp  # the next audio frame's timestamp: 100 ms in


# -- receiver --------------------------------------------------------------------------------------------------

def digit_train(code: int, duration: float = 0.1, ts: int = T0) -> list[tuple[float, EventPacket]]:
    sender = TelephoneEventSender(interval=0.02)
    return train(sender, 0.0, sender.start(code, 0.0, ts, duration=duration))


def receive_all(receiver: TelephoneEventReceiver, arrivals: list[tuple[float, EventPacket]],
                flush_at: float = 100.0) -> list[TelephoneEventStarted | TelephoneEventEnded]:
    reports: list[TelephoneEventStarted | TelephoneEventEnded] = []
    for when, packet in arrivals:
        reports += receiver.handle_timer(when)
        reports += receiver.receive(packet.payload, packet.timestamp, when)
    reports += receiver.handle_timer(flush_at)
    return reports


def test_clean_digit_is_one_start_and_one_end() -> None:
    reports = receive_all(TelephoneEventReceiver(), digit_train(9))
    assert reports == [TelephoneEventStarted(9, T0, 10), TelephoneEventEnded(9, T0, 800, 0.1, EndReason.END)]
    assert reports[0].digit == "9"


@pytest.mark.parametrize("mask", range(1, 1 << 7), ids=lambda m: f"{m:07b}")
def test_every_loss_pattern_of_a_digit(mask: int) -> None:
    # The 7 packets of a 100 ms digit (start, 3 updates, end x3); bit i set: packet i arrives.
    packets = digit_train(4)
    arrived = [item for i, item in enumerate(packets) if mask >> i & 1]
    reports = receive_all(TelephoneEventReceiver(), arrived)
    starts = [r for r in reports if isinstance(r, TelephoneEventStarted)]
    ends = [r for r in reports if isinstance(r, TelephoneEventEnded)]
    assert [(s.event, s.timestamp) for s in starts] == [(4, T0)]
    assert len(ends) == 1 and ends[0].event == 4 and ends[0].timestamp == T0
    if mask >> 4:  # at least one end packet arrived: the exact duration
        assert (ends[0].duration, ends[0].reason) == (800, EndReason.END)
    else:  # all three end packets lost: ended by the timeout with the last duration seen
        last = max(i for i in range(4) if mask >> i & 1)
        assert (ends[0].duration, ends[0].reason) == (160 * (last + 1), EndReason.TIMEOUT)


def test_duplicated_end_packets_report_once() -> None:
    packets = digit_train(2)
    doubled = [item for item in packets for _ in range(3)]
    reports = receive_all(TelephoneEventReceiver(), doubled)
    assert len(reports) == 2


@pytest.mark.parametrize("order", list(itertools.permutations(range(5)))[::7])
def test_reordering_within_a_digit(order: tuple[int, ...]) -> None:
    packets = digit_train(6)[:4] + digit_train(6)[4:5]  # start, 3 updates, first end
    arrivals = [(0.02 * i, packets[j][1]) for i, j in enumerate(order)]
    reports = receive_all(TelephoneEventReceiver(), arrivals)
    assert [type(r).__name__ for r in reports] == ["TelephoneEventStarted", "TelephoneEventEnded"]
    ended = reports[1]
    assert isinstance(ended, TelephoneEventEnded) and ended.duration == 800


def test_same_digit_twice_is_two_digits() -> None:
    first = digit_train(1, ts=T0)
    second = [(when + 0.2, p) for when, p in digit_train(1, ts=T0 + 1600)]
    reports = receive_all(TelephoneEventReceiver(), first + second)
    assert [(type(r).__name__, r.timestamp) for r in reports] == [
        ("TelephoneEventStarted", T0), ("TelephoneEventEnded", T0),
        ("TelephoneEventStarted", T0 + 1600), ("TelephoneEventEnded", T0 + 1600)]


def test_missing_end_is_ended_by_the_next_digit() -> None:
    first = digit_train(1, ts=T0)[:3]  # its end packets are all lost
    second = [(when + 0.08, p) for when, p in digit_train(2, ts=T0 + 640)]
    reports = receive_all(TelephoneEventReceiver(timeout=10.0), first + second)
    assert reports[:3] == [TelephoneEventStarted(1, T0, 10),
                           TelephoneEventEnded(1, T0, 480, 0.06, EndReason.SUPERSEDED),
                           TelephoneEventStarted(2, T0 + 640, 10)]
    assert len(reports) == 4


def test_timeout_is_measured_from_the_last_packet() -> None:
    receiver = TelephoneEventReceiver(timeout=0.5)
    receiver.receive(build_telephone_event(8, duration=160), T0, 1.0)
    receiver.receive(build_telephone_event(8, duration=320), T0, 1.3)
    assert receiver.next_timer() == pytest.approx(1.8)
    assert receiver.handle_timer(1.7) == []
    (ended,) = receiver.handle_timer(1.8)
    assert isinstance(ended, TelephoneEventEnded) and (ended.duration, ended.reason) == (320, EndReason.TIMEOUT)
    # Packets of that event arriving afterwards do not report it again.
    assert receiver.receive(build_telephone_event(8, end=True, duration=800), T0, 1.9) == []


def test_a_digit_overtaken_by_the_next_one_is_still_reported() -> None:
    receiver = TelephoneEventReceiver()
    second = receiver.receive(build_telephone_event(2, duration=160), T0 + 2000, 0.30)
    first = receiver.receive(build_telephone_event(1, end=True, duration=800), T0, 0.31)
    assert [type(r).__name__ for r in second + first] == ["TelephoneEventStarted"] * 2 + ["TelephoneEventEnded"]
    assert receiver.active_event == 2 and receiver.late_events == 1


def test_long_event_segments_are_one_digit() -> None:
    sender = TelephoneEventSender(interval=0.05)
    sent = [(0.0, p) for p in sender.start(0, 0.0, T0)]
    sent += run(sender, until=9.99)
    sent += [(10.0, p) for p in sender.stop(10.0)]
    sent += run(sender)
    reports = receive_all(TelephoneEventReceiver(), sent)
    assert reports == [TelephoneEventStarted(0, T0, 10), TelephoneEventEnded(0, T0, 80000, 10.0, EndReason.END)]


def test_reset_ends_the_event_in_progress() -> None:
    receiver = TelephoneEventReceiver()
    receiver.receive(build_telephone_event(5, duration=160), T0, 0.0)
    (ended,) = receiver.reset()
    assert isinstance(ended, TelephoneEventEnded) and ended.reason is EndReason.RESET


DIGITS = "159#*0"


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), loss=st.floats(0.0, 0.6), duplicate=st.floats(0.0, 0.5),
       jitter=st.floats(0.0, 0.06))
def test_network_of_loss_duplication_and_reordering_reports_each_digit_once(seed: int, loss: float,
                                                                           duplicate: float, jitter: float) -> None:
    rng = random.Random(seed)
    sender = TelephoneEventSender(interval=0.02)
    sent = train(sender, 0.0, sender.send_digits(DIGITS, 0.0, T0, duration=0.08))
    by_digit: dict[int, list[tuple[float, EventPacket]]] = {}
    for item in sent:
        by_digit.setdefault(item[1].timestamp, []).append(item)
    arrivals: list[tuple[float, EventPacket]] = []
    for items in by_digit.values():
        kept = [item for item in items if rng.random() >= loss] or [rng.choice(items)]  # one always survives
        for when, packet in kept:
            for _ in range(2 if rng.random() < duplicate else 1):
                arrivals.append((when + rng.uniform(0.0, jitter), packet))
    arrivals.sort(key=lambda item: item[0])
    reports = receive_all(TelephoneEventReceiver(), arrivals)
    starts = [(r.timestamp, r.digit) for r in reports if isinstance(r, TelephoneEventStarted)]
    ends = [(r.timestamp, r.digit) for r in reports if isinstance(r, TelephoneEventEnded)]
    expected = [(ts, items[0][1].block.event) for ts, items in by_digit.items()]
    assert sorted(starts) == sorted(ends) == sorted((ts, DIGITS[i]) for i, (ts, _) in enumerate(expected))
    assert "".join(d or "?" for _, d in sorted(starts)) == DIGITS
