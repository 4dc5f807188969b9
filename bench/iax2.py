"""IAX2 benchmark: frame encode/decode rates and concurrent calls' voice per core, trunking off and on.

Part 1 times the wire format: an IAX NEW with the usual elements (build, parse with its IEs), a full u-law
voice frame, a mini frame, a meta trunk frame of 10 calls (per entry) and AES-128 encryption/decryption of a
full voice frame as chan_iax2 does it.  Each is also compared with ``struct.pack``/``unpack`` of the same
header, the floor any pure-Python codec pays.

Part 2 runs N u-law calls between two in-memory endpoints (``tests/iax2`` network, fake clock), both sides
sending 20 ms frames every tick, everything delivered and turned into events, and measures CPU time per
second of audio.  "Calls per core" is how many such calls one core carries with both gateways' work counted
(each endpoint does half of it, so one gateway alone carries about twice as many).  With trunking the
caller's voice goes in one meta trunk frame per 20 ms; the datagrams per second it saves are counted.  No
IAX2 peer implementation runs here to compare with (no Asterisk in Debian 12); for scale, the published
rule of thumb for Asterisk is ~100 G.711 calls per GHz of CPU (performance.md row 1, TransNexus 2008).

Part 3 is the gateway's real path: two IAX2 endpoints, each behind its asyncio transport (a UDP socket on
loopback) and the IAX2 channel driver with a PBX, in one event loop.  N calls are placed with the driver
(``IAX2/b/600``), answered by the other PBX, and every 20 ms each leg's audio port sends one u-law frame
(``write_encoded``, what a bridge to an RTP leg does) for a few seconds of wall time; the far driver turns
each frame into the channel's audio (decoded to linear, queued).  CPU seconds (process time, both gateways,
sockets and event loop included) per second of two-way call audio give calls per core; the datagrams per
second the caller's gateway sends, with trunking off and on, give what trunking saves on the real path.

    python bench/iax2.py            # 5 runs, medians, 200 calls
    python bench/iax2.py --smoke    # 1 short run (CI)
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.iax2.calls import IncomingCall  # noqa: E402
from core.iax2.constants import FrameType, IaxCommand, InfoElement, MediaFormat  # noqa: E402
from core.iax2.crypto import AesKey, decrypt_datagram, derive_key, encrypt_datagram  # noqa: E402
from core.iax2.endpoint import (  # noqa: E402
    IaxEndpoint,
    IaxEndpointSettings,
    IaxPeerSettings,
    IaxUserSettings,
)
from core.iax2.frames import FullFrame, MiniFrame, TrunkEntry, TrunkFrame, parse_datagram  # noqa: E402
from core.iax2.ies import Ies  # noqa: E402

A, B = ("192.0.2.1", 4569), ("192.0.2.2", 4569)


def rate(fn: Callable[[int], None], n: int) -> float:
    """Operations per second of ``fn(n)`` (which does ``n`` operations)."""
    fn(max(n // 10, 1))
    start = time.perf_counter()
    fn(n)
    return n / (time.perf_counter() - start)


def wire_rates(n: int) -> dict[str, tuple[float, float]]:
    """(ours, struct floor) operations per second for each frame kind."""
    new_ies = Ies.of((InfoElement.VERSION, 2), (InfoElement.CALLED_NUMBER, "5551234"),
                     (InfoElement.CALLING_NUMBER, "1001"), (InfoElement.CALLING_NAME, "Alice"),
                     (InfoElement.CALLINGPRES, 1), (InfoElement.CALLINGTON, 0), (InfoElement.CALLINGTNS, 0),
                     (InfoElement.USERNAME, "gw"), (InfoElement.FORMAT, 4), (InfoElement.CAPABILITY, 12),
                     (InfoElement.DATETIME, 0x357A443C))
    new = FullFrame(1234, 0, 5, 0, 0, FrameType.IAX, IaxCommand.NEW, new_ies.encode()).encode()
    payload = random.Random(1).randbytes(160)
    voice = FullFrame(1234, 4321, 20, 3, 4, FrameType.VOICE, int(MediaFormat.ULAW), payload).encode()
    mini = MiniFrame(1234, 40, payload).encode()
    trunk = TrunkFrame(100, tuple(TrunkEntry(i + 2, payload, i) for i in range(10)), True).encode()
    key = AesKey(derive_key("123456789", "secret"))
    encrypted = encrypt_datagram(key, voice)
    header = struct.Struct("!HHIBBBB")

    def build_new(k: int) -> None:
        for i in range(k):
            FullFrame(i & 0x7FFF, 0, i, 0, 0, FrameType.IAX, IaxCommand.NEW, new_ies.encode()).encode()

    def parse_new(k: int) -> None:
        for _ in range(k):
            frame = parse_datagram(new)
            assert isinstance(frame, FullFrame)
            frame.ies  # noqa: B018

    def struct_new(k: int) -> None:
        for i in range(k):
            header.unpack_from(new)
            header.pack(0x8000 | (i & 0x7FFF), 0, i, 0, 0, 6, 1)

    def build_voice(k: int) -> None:
        for i in range(k):
            FullFrame(1234, 4321, i, 3, 4, FrameType.VOICE, 4, payload).encode()

    def parse_voice(k: int) -> None:
        for _ in range(k):
            parse_datagram(voice)

    def struct_voice(k: int) -> None:
        for i in range(k):
            header.pack(0x8000 | 1234, 4321, i, 3, 4, 2, 4) + payload
            header.unpack_from(voice)

    def mini_both(k: int) -> None:
        for i in range(k):
            MiniFrame(1234, i & 0xFFFF, payload).encode()
            parse_datagram(mini)

    def struct_mini(k: int) -> None:
        for i in range(k):
            struct.pack("!HH", 1234, i & 0xFFFF) + payload
            struct.unpack_from("!HH", mini)

    def trunk_both(k: int) -> None:
        for _ in range(k // 10):
            TrunkFrame(100, tuple(TrunkEntry(i + 2, payload, i) for i in range(10)), True).encode()
            parse_datagram(trunk)

    def struct_trunk(k: int) -> None:
        for _ in range(k // 10):
            b"".join(struct.pack("!HHH", 160, i + 2, i) + payload for i in range(10))
            [struct.unpack_from("!HHH", trunk, 8 + i * 166) for i in range(10)]

    def crypto_both(k: int) -> None:
        for _ in range(k):
            decrypt_datagram(key, encrypt_datagram(key, voice))

    def plain_copy(k: int) -> None:
        for _ in range(k):
            bytes(encrypted)

    return {
        "NEW build (11 IEs)": (rate(build_new, n), rate(struct_new, n)),
        "NEW parse + IEs": (rate(parse_new, n), rate(struct_new, n)),
        "voice full build": (rate(build_voice, n), rate(struct_voice, n)),
        "voice full parse": (rate(parse_voice, n), rate(struct_voice, n)),
        "mini build + parse": (rate(mini_both, n), rate(struct_mini, n)),
        "trunk entry build + parse": (rate(trunk_both, n), rate(struct_trunk, n)),
        "AES encrypt + decrypt": (rate(crypto_both, n), rate(plain_copy, n)),
    }


def _endpoints(calls: int, trunk: bool, timestamps: bool) -> tuple[IaxEndpoint, IaxEndpoint, list[int], list[int]]:
    a = IaxEndpoint(IaxEndpointSettings(
        peers=(IaxPeerSettings("b", host=B[0], username="u", secret="p", trunk=trunk, calltoken=False),),
        trunk_timestamps=timestamps, ping_interval=0, lagrq_interval=0), rng=random.Random(1))
    b = IaxEndpoint(IaxEndpointSettings(users=(IaxUserSettings("u", secret="p", calltoken=False),),
                                        ping_interval=0, lagrq_interval=0), rng=random.Random(2))
    ours, theirs = [], []
    now = 0.0
    for _ in range(calls):
        ours.append(a.call("b", "600", now))
        _exchange(a, b, now)
        while (event := b.next_event()) is not None:
            if isinstance(event, IncomingCall):
                b.answer(event.call, now)
                theirs.append(event.call)
        _exchange(a, b, now)
        while a.next_event() is not None:
            pass
    return a, b, ours, theirs


def _exchange(a: IaxEndpoint, b: IaxEndpoint, now: float, totals: list[int] | None = None) -> int:
    sent_by_a = 0
    for _ in range(50):
        out_a = a.datagrams_to_send()
        out_b = b.datagrams_to_send()
        if not out_a and not out_b:
            break
        sent_by_a += len(out_a)
        if totals is not None:
            totals[0] += len(out_a) + len(out_b)
        for data, _ in out_a:
            b.receive_datagram(data, A, now)
        for data, _ in out_b:
            a.receive_datagram(data, B, now)
    return sent_by_a


def voice_load(calls: int, ticks: int, trunk: bool, timestamps: bool = True) -> tuple[float, float, float]:
    """(CPU seconds per second of one call's audio, datagrams per second sent by the caller side, datagrams per
    second both ways) for ``calls`` two-way u-law calls."""
    a, b, ours, theirs = _endpoints(calls, trunk, timestamps)
    payload = bytes(160)
    now = 1.0
    # The first voice frame of each call is a full frame: sent before the measurement.
    for call, other in zip(ours, theirs, strict=True):
        a.send_voice(call, payload, now)
        b.send_voice(other, payload, now)
    _exchange(a, b, now)
    datagrams = 0
    totals = [0]
    cpu = time.process_time()
    for _tick in range(ticks):
        now += 0.02
        a.handle_timer(now)
        b.handle_timer(now)
        for call in ours:
            a.send_voice(call, payload, now)
        for other in theirs:
            b.send_voice(other, payload, now)
        a.handle_timer(now + 0.02)  # the trunk timer fires at the end of the 20 ms
        datagrams += _exchange(a, b, now, totals)
        while a.next_event() is not None:
            pass
        while b.next_event() is not None:
            pass
    cpu = time.process_time() - cpu
    audio_seconds = calls * ticks * 0.020
    return cpu / audio_seconds, datagrams / (ticks * 0.020), totals[0] / (ticks * 0.020)


def udp_cost(count: int) -> float:
    """Seconds of CPU to send and receive one 172-byte datagram over loopback (blocking sockets, no event loop):
    the part of a packet's cost the in-memory runs leave out."""
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    target = receiver.getsockname()
    data = bytes(172)
    start = time.process_time()
    for _ in range(count // 64):
        for _ in range(64):
            sender.sendto(data, target)
        for _ in range(64):
            receiver.recvfrom(2048)
    elapsed = time.process_time() - start
    sender.close()
    receiver.close()
    return elapsed / (count // 64 * 64)


async def _gateway_path(calls: int, seconds: float, trunk: bool) -> tuple[float, float, int]:
    """(CPU seconds per second of two-way call audio, datagrams/s sent by the caller's gateway, calls up) through
    transport + endpoint + channel driver on loopback."""
    import asyncio

    from core.channel import Channel
    from core.events import EventBus
    from core.iax2.channel import IaxAudioPort, IaxChannelDriver
    from core.iax2.transport import IaxTransport
    from core.pbx import Pbx

    class Answerer:
        async def run(self, channel: Channel) -> None:
            await channel.answer()
            await channel.wait_hungup()

    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    b_port = probe.getsockname()[1]
    probe.close()
    a = IaxEndpoint(IaxEndpointSettings(
        host="127.0.0.1", peers=(IaxPeerSettings("b", host="127.0.0.1", port=b_port, username="u", secret="p",
                                                 trunk=trunk, calltoken=False),),
        trunk_timestamps=True), rng=random.Random(1))
    b = IaxEndpoint(IaxEndpointSettings(host="127.0.0.1", users=(IaxUserSettings("u", secret="p", calltoken=False,
                                                                                 trunk=trunk),)),
                    rng=random.Random(2))
    sides = []
    for endpoint in (a, b):
        pbx = Pbx(EventBus())
        pbx.runner = Answerer()
        holder: list[IaxChannelDriver] = []
        transport = IaxTransport(endpoint, lambda holder=holder: holder[0].process_events())
        driver = IaxChannelDriver(pbx, endpoint, transport.now, transport.flush)
        holder.append(driver)
        pbx.register_driver(driver)
        sides.append((pbx, driver, transport))
    await sides[0][2].start("127.0.0.1", 0)
    await sides[1][2].start("127.0.0.1", b_port)
    channels = []
    for _ in range(calls):
        channel = await sides[0][0].request("IAX2/b/600")
        await channel.call()
        channels.append(channel)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while loop.time() < deadline and not all(c.state.label == "Up" for c in channels):
        await asyncio.sleep(0.02)
    ports = [c.audio for c in channels] + [c.audio for c in sides[1][0].channels]
    ports = [p for p in ports if isinstance(p, IaxAudioPort)]
    up = sum(1 for c in channels if c.state.label == "Up")
    payload = bytes(range(160))
    sent_before = a.stats["sent"]
    frames = 0
    cpu = time.process_time()
    start = loop.time()
    tick = start
    while loop.time() - start < seconds:
        for port in ports:
            port.write_encoded(payload, "PCMU")
        frames += len(ports)
        tick += 0.02
        await asyncio.sleep(max(0.0, tick - loop.time()))
    elapsed = loop.time() - start
    cpu = time.process_time() - cpu
    caller_pps = (a.stats["sent"] - sent_before) / elapsed
    for channel in channels:
        await channel.hangup()
    for _pbx, _driver, transport in sides:
        await transport.stop(release=False)
    call_seconds = frames / 2 * 0.020  # a two-way call second is 50 frames each way
    return cpu / call_seconds, caller_pps, up


def gateway_path(calls: int, seconds: float, trunk: bool) -> tuple[float, float, int]:
    """:func:`_gateway_path` in its own event loop."""
    import asyncio

    return asyncio.run(_gateway_path(calls, seconds, trunk))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="one short run (CI)")
    args = parser.parse_args()
    runs, n, calls, ticks = (1, 2000, 30, 25) if args.smoke else (5, 20000, 200, 150)

    print(f"IAX2 wire format, operations per second (median of {runs} run{'' if runs == 1 else 's'})")
    results = [wire_rates(n) for _ in range(runs)]
    print(f"  {'operation':<28}{'ours':>12}{'struct floor':>14}{'ratio':>8}")
    for name in results[0]:
        ours = statistics.median(r[name][0] for r in results)
        floor = statistics.median(r[name][1] for r in results)
        print(f"  {name:<28}{ours:>12,.0f}{floor:>14,.0f}{ours / floor:>8.2f}")

    print(f"\n{calls} concurrent two-way u-law calls, 20 ms frames, {ticks} ticks (median of {runs})")
    per_datagram = statistics.median(udp_cost(20000 if not args.smoke else 4000) for _ in range(runs))
    print(f"  loopback UDP send + receive measured here: {per_datagram * 1e6:.2f} us of CPU per datagram")
    rows_by_mode = {
        "no trunking": [voice_load(calls, ticks, trunk=False) for _ in range(runs)],
        "trunk, timestamps": [voice_load(calls, ticks, trunk=True) for _ in range(runs)],
        "trunk, no timestamps": [voice_load(calls, ticks, trunk=True, timestamps=False) for _ in range(runs)],
    }
    print(f"  {'mode':<22}{'stack only':>12}{'with UDP':>10}{'caller pps':>12}{'total pps':>11}   (calls per core,"
          " both gateways' work)")
    medians = {}
    for label, rows in rows_by_mode.items():
        cpu = statistics.median(r[0] for r in rows)
        caller_pps = statistics.median(r[1] for r in rows)
        total_pps = statistics.median(r[2] for r in rows)
        with_udp = 1 / (cpu + total_pps / calls * per_datagram)
        medians[label] = caller_pps
        print(f"  {label:<22}{1 / cpu:>12,.0f}{with_udp:>10,.0f}{caller_pps:>12,.0f}{total_pps:>11,.0f}")
    saved = medians["no trunking"] - medians["trunk, timestamps"]
    print(f"  trunking saves {saved:,.0f} of the caller's {medians['no trunking']:,.0f} datagrams/s "
          f"({calls} calls; trunk frames of at most 1240 bytes); one gateway alone carries about twice the "
          "calls per core shown")

    path_calls, seconds = (20, 0.6) if args.smoke else (100, 3.0)
    path_runs = 1 if args.smoke else 3
    print(f"\n{path_calls} calls through transport + endpoint + IAX2 channel driver on loopback, {seconds:.1f} s "
          f"of 20 ms u-law frames both ways (median of {path_runs})")
    print(f"  {'mode':<22}{'calls up':>9}{'calls/core':>12}{'caller pps':>12}   (both gateways in one process)")
    path_pps = {}
    for label, trunk in (("no trunking", False), ("trunk, timestamps", True)):
        rows = [gateway_path(path_calls, seconds, trunk) for _ in range(path_runs)]
        cpu = statistics.median(r[0] for r in rows)
        path_pps[label] = statistics.median(r[1] for r in rows)
        print(f"  {label:<22}{min(r[2] for r in rows):>9}{1 / cpu:>12,.0f}{path_pps[label]:>12,.0f}")
    saved = path_pps["no trunking"] - path_pps["trunk, timestamps"]
    print(f"  trunking saves {saved:,.0f} of the caller's {path_pps['no trunking']:,.0f} datagrams/s on the real path")
    return 0


if __name__ == "__main__":
    sys.exit(main())
