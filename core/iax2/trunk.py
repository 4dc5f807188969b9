"""IAX2 trunking: many calls' voice to one peer multiplexed into meta trunk frames (RFC 5456 §7.1, §8.1.3.2).

As chan_iax2 (``iax2_trunk_queue``, ``send_trunk``, ``calc_txpeerstamp``, ``socket_process_meta``,
``fix_peerts``): the voice a trunked call would send as a mini frame is queued per destination address;
every ``trunkfreq`` (20 ms by default) one meta trunk frame per destination carries everything queued,
or sooner when the frame would outgrow ``trunkmtu`` (1240 bytes).  With ``trunktimestamps`` each entry
keeps its call's 16-bit timestamp (cmddata 1, ``ast_iax2_meta_trunk_mini``); without, entries are
``callno(2) len(2) data`` (cmddata 0) and the receiver places them on the call's timeline from the trunk
frame's own timestamp.  The trunk timestamp counts milliseconds from the first frame after five idle
seconds, predicted from the previous one while within ±160 ms and never repeated.  Call signalling and the
first voice frame of each call still travel as full frames; receiving needs no configuration.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from core.iax2.constants import MetaCommand, TrunkFormat
from core.iax2.reliability import MAX_TIMESTAMP_SKEW

Address = tuple[str, int]

DEFAULT_TRUNK_FREQ = 0.020
"""chan_iax2 ``trunkfreq`` default, seconds."""
DEFAULT_TRUNK_MTU = 1240
"""chan_iax2 ``MAX_TRUNK_MTU``/``trunkmtu`` default, bytes."""
TRUNK_IDLE_RESET = 5.0
"""After this long without sending, the trunk timestamp starts again from 0 (``calc_txpeerstamp``)."""
_HEADER = 8
_HEADER_STRUCT = struct.Struct("!HBBI")
_ENTRY = struct.Struct("!HH")
"""``ast_iax2_meta_trunk_entry``: call number, length."""
_ENTRY_TS = struct.Struct("!HHH")
"""``ast_iax2_meta_trunk_mini``: length, call number, 16-bit timestamp."""


@dataclass(slots=True)
class TrunkPeer:
    """One destination's trunk: what is queued, and the timing of both directions."""

    address: Address
    entries: list[bytes] = field(default_factory=list)
    size: int = _HEADER
    tx_origin: float | None = None
    last_tx: float = 0.0
    last_ts: int = -1
    rx_origin: float | None = None
    frames_sent: int = 0
    entries_sent: int = 0
    frames_received: int = 0

    def stamp(self, now: float, freq_ms: int) -> int:
        """The next trunk timestamp (``calc_txpeerstamp``)."""
        if self.tx_origin is None or now - self.last_tx > TRUNK_IDLE_RESET:
            self.tx_origin = now
            self.last_ts = -1
        self.last_tx = now
        ms = int((now - self.tx_origin) * 1000)
        predicted = self.last_ts + freq_ms
        if self.last_ts >= 0 and abs(ms - predicted) < MAX_TIMESTAMP_SKEW:
            ms = predicted
        if ms <= self.last_ts:
            ms = self.last_ts + 1
        self.last_ts = ms & 0xFFFFFFFF
        return self.last_ts


class TrunkMultiplexer:
    """The trunk queues of one endpoint."""

    def __init__(self, freq: float = DEFAULT_TRUNK_FREQ, mtu: int = DEFAULT_TRUNK_MTU,
                 timestamps: bool = False) -> None:
        if not 0.010 <= freq <= 1.0:
            raise ValueError("trunkfreq is 10 to 1000 ms")
        self.freq = freq
        self.freq_ms = round(freq * 1000)
        self.mtu = mtu
        self.timestamps = timestamps
        self.peers: dict[Address, TrunkPeer] = {}
        self.next_tick: float | None = None

    def peer(self, address: Address) -> TrunkPeer:
        """The trunk state of a destination (created on first use)."""
        trunk = self.peers.get(address)
        if trunk is None:
            trunk = self.peers[address] = TrunkPeer(address)
        return trunk

    def queue(self, address: Address, call: int, timestamp: int, payload: bytes, now: float) -> list[bytes]:
        """Queue one call's voice; returns datagrams to send at once when the MTU is reached."""
        trunk = self.peers.get(address) or self.peer(address)
        if self.timestamps:
            entry = _ENTRY_TS.pack(len(payload), call, timestamp & 0xFFFF) + payload
        else:
            entry = _ENTRY.pack(call, len(payload)) + payload
        out: list[bytes] = []
        if self.mtu and trunk.entries and trunk.size + len(entry) > self.mtu:
            out.append(self._flush(trunk, now))
        trunk.entries.append(entry)
        trunk.size += len(entry)
        if self.next_tick is None:
            self.next_tick = now + self.freq
        return out

    def due(self, now: float) -> list[tuple[bytes, Address]]:
        """The trunk frames of this tick (one per destination with queued voice)."""
        out = [(self._flush(trunk, now), address) for address, trunk in self.peers.items() if trunk.entries]
        self.next_tick = now + self.freq if out else None
        return out

    def _flush(self, trunk: TrunkPeer, now: float) -> bytes:
        cmddata = TrunkFormat.MINI if self.timestamps else TrunkFormat.SUPERMINI
        header = _HEADER_STRUCT.pack(0, MetaCommand.TRUNK, cmddata, trunk.stamp(now, self.freq_ms))
        data = header + b"".join(trunk.entries)
        trunk.frames_sent += 1
        trunk.entries_sent += len(trunk.entries)
        trunk.entries = []
        trunk.size = _HEADER
        return data

    def received(self, address: Address, timestamp: int, now: float) -> float:
        """Note a trunk frame from ``address``; returns the moment its timestamp 0 corresponds to
        (``rxtrunktime``: reset when the peer's trunk timestamp restarts at 0)."""
        trunk = self.peer(address)
        trunk.frames_received += 1
        if trunk.rx_origin is None or timestamp == 0:
            trunk.rx_origin = now - timestamp / 1000.0
        return trunk.rx_origin

    def forget(self, address: Address) -> None:
        """Drop a destination's queue (its last call ended)."""
        self.peers.pop(address, None)
