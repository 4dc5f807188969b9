"""Board assembly: module detection by identity registers (as DAHDI), bring-up, ``ports show``, profiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from board.assembly import (
    BoardAssembly,
    BoardError,
    assemble,
    load_description,
    parse_description,
    populate_sim_board,
)
from board.backends.sim import SimBackend
from board.hal import PcmConfig
from drivers.fxs_fxo.si3050 import RingStarted
from drivers.fxs_fxo.si3215 import HookChanged, MemoryCalibrationStore

OAK8X_MIX = {1: "si3215", 2: "si3050", 3: None, 4: "si3215", 5: "si3050", 6: None, 7: "si3210", 8: "si3050"}


async def test_default_simulated_board_comes_up_with_two_fxs_and_two_fxo() -> None:
    board = load_description("sim-2fxs-2fxo")
    backend = SimBackend()
    populate_sim_board(backend, board)
    assembly = await assemble(board, backend)
    assert assembly.ports_show().splitlines() == [
        "Port  Kind  Chip     Slot  Where        State",
        "1     FXS   si3215   0     port1        on hook, forward active, VBAT 74.8 V",
        "2     FXS   si3215   1     port2        on hook, forward active, VBAT 74.8 V",
        "3     FXO   si3050   2     port3        on hook, line 48 V",
        "4     FXO   si3050   3     port4        on hook, line 48 V",
        "4 slots: 2 FXS, 2 FXO, 0 empty, 0 failed (board sim-2fxs-2fxo)",
    ]
    assert backend.violations == []
    assert board.pcm == PcmConfig(clock_hz=2_048_000, slots=32, device="", period_frames=160)


async def test_sip_only_board_comes_up_with_no_ports() -> None:
    board = load_description("sip-only")
    backend = SimBackend()
    populate_sim_board(backend, board)
    assembly = await assemble(board, backend)
    assert assembly.ports_show().splitlines()[-1] == "0 slots: 0 FXS, 0 FXO, 0 empty, 0 failed (board sip-only)"
    assert backend.violations == []


def test_oak8x_profile_describes_two_daisy_chains_of_four() -> None:
    board = load_description("oak8x-pi4")
    assert board.backend == "linux" and board.pcm.slots == 8 and board.pcm.clock_hz == 2_048_000
    assert [c.device for c in board.chains] == ["/dev/spidev0.0", "/dev/spidev0.1"]
    assert all(c.speed_hz == 10_000_000 and c.mode == 3 for c in board.chains)
    assert [(s.number, s.chain, s.position, s.pcm_slot) for s in board.slots] == [
        (n, f"chain{(n - 1) // 4}", (n - 1) % 4, n - 1) for n in range(1, 9)]
    assert board.reset_line == "GPIO17" and board.reset_active_low


async def test_oak8x_detection_with_fxs_fxo_and_empty_slots() -> None:
    board = load_description("oak8x-pi4")
    backend = SimBackend()
    backend.spi.trace.enabled = True
    world = populate_sim_board(backend, board, population=OAK8X_MIX)
    assembly = BoardAssembly(board, backend, store=MemoryCalibrationStore())
    await assembly.start()
    assert {n: (p.kind, p.chip) for n, p in assembly.ports.items()} == {
        1: ("fxs", "si3215"), 2: ("fxo", "si3050"), 3: ("empty", ""), 4: ("fxs", "si3215"),
        5: ("fxo", "si3050"), 6: ("empty", ""), 7: ("fxs", "si3210"), 8: ("fxo", "si3050")}
    text = assembly.ports_show()
    assert "2     FXO   si3050   1     chain0/1     on hook, line 48 V" in text
    assert "3     -     -        2     chain0/2     empty" in text
    assert text.splitlines()[-1] == "8 slots: 3 FXS, 3 FXO, 2 empty, 0 failed (board oak8x-pi4)"
    assert backend.violations == []
    # Framing on the wire: daisy enable first on each chain, then 3-byte frames only.
    for device in ("/dev/spidev0.0", "/dev/spidev0.1"):
        frames = [out for cs, out, _ in backend.spi.trace.accesses if cs == device]
        assert frames[0] == bytes([0x00, 0x80])
        assert all(len(f) == 3 for f in frames[1:])
    daa_reads = {out[0] for cs, out, _ in backend.spi.trace.accesses if out[0] & 0x60 == 0x60 and len(out) == 3}
    assert {0x68, 0x6C} <= daa_reads  # chip IDs 8 (position 1) and 12 (position 3), bit-reversed
    # The ports work: a phone lifted on port 4 and a ring on port 8 arrive as events.
    world.phone(4).lift()
    world.line(8).start_ringing(backend.clock.now())
    events = []
    for _ in range(20):
        await backend.clock.sleep(0.016)
        events += assembly.poll()
    assert any(isinstance(e, HookChanged) and e.port == 4 and e.off_hook for e in events)
    assert any(isinstance(e, RingStarted) and e.port == 8 for e in events)


async def test_reset_line_is_pulsed_before_probing() -> None:
    board = load_description("oak8x-pi4")
    backend = SimBackend()
    populate_sim_board(backend, board, population={1: "si3215"})
    levels: list[bool] = []
    backend.lines["GPIO17"].sinks.append(levels.append)
    await BoardAssembly(board, backend).start()
    assert levels == [True, False]


async def test_a_module_that_fails_bring_up_is_listed_and_the_others_work() -> None:
    board = load_description("sim-2fxs-2fxo")
    backend = SimBackend()
    populate_sim_board(backend, board)
    broken = next(m for m in backend.models if m.name == "si3215@port2")
    broken.supply_present = False  # type: ignore[attr-defined]
    assembly = await assemble(board, backend)
    assert assembly.ports[2].kind == "failed"
    assert "FXS port 2: VBAT reached only" in assembly.ports_show()
    assert assembly.ports[1].fxs.battery_voltage() > 70
    with pytest.raises(BoardError):
        _ = assembly.ports[2].fxs


async def test_profile_declaring_fxs_where_an_fxo_answers() -> None:
    board = load_description("sim-2fxs-2fxo")
    backend = SimBackend()
    populate_sim_board(backend, board, population={1: "si3050", 2: "si3215", 3: "si3050", 4: None})
    assembly = await assemble(board, backend)
    assert assembly.ports[1].kind == "failed" and "declares FXS, found an FXO" in assembly.ports[1].error
    assert assembly.ports[4].kind == "failed" and "none answers" in assembly.ports[4].error
    assert assembly.ports[2].kind == "fxs" and assembly.ports[3].kind == "fxo"
    assert backend.violations == []


def _profile(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "t", "backend": "sim", "pcm": {"clock_hz": 2048000, "slots": 8},
        "spi": [{"name": "c0", "device": "/dev/spidev0.0"}],
        "slots": [{"number": 1, "spi": "c0", "position": 0, "pcm_slot": 0},
                  {"number": 2, "spi": "c0", "position": 1, "pcm_slot": 1}],
    }
    data.update(changes)
    return data


@pytest.mark.parametrize(("changes", "message"), [
    ({"slots": [{"number": 1, "spi": "c9", "pcm_slot": 0}]}, "unknown chip select 'c9'"),
    ({"slots": [{"number": 1, "spi": "c0", "pcm_slot": 0}, {"number": 2, "spi": "c0", "position": 1, "pcm_slot": 0}]},
     "PCM timeslot 0 is used twice"),
    ({"slots": [{"number": 1, "spi": "c0", "pcm_slot": 9}]}, "outside 0..7"),
    ({"slots": [{"number": 1, "spi": "c0", "position": 4, "pcm_slot": 0}]}, "position 4 outside 0..3"),
    ({"slots": [{"number": 1, "spi": "c0", "pcm_slot": "0"}]}, "'pcm_slot' must be int"),
    ({"slots": [{"number": 1, "spi": "c0", "pcm_slot": 0, "kind": "fxo", "chip": "si3215"}]},
     "a fxo module does not carry a si3215"),
])
def test_profile_errors_name_the_problem(changes: dict[str, object], message: str) -> None:
    with pytest.raises(BoardError, match=message):
        parse_description(_profile(**changes), "p.toml")


def test_missing_profile_file(tmp_path: Path) -> None:
    with pytest.raises(BoardError, match="no board profile"):
        load_description(str(tmp_path / "none.toml"))
