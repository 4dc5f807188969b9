"""Analog line features on the simulated board (issue 6 items 5-6): call waiting with type II caller ID and
hook-flash switching, the howler, message waiting (VMWI and stutter dial tone), FXO pulse dialling, answer
by line reversal, hunt groups, and a hook flash sent down an FXO line."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from board.sim.peers import LineState
from core.channel import Indication
from firmware.config.schema import AnalogConfig, AnalogPortConfig
from tests.analog.rig import Rig, make_rig
from tests.analog.test_end_to_end import assert_hears, call_2002_from_2001


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    built = await make_rig(tmp_path)
    yield built
    await built.close()


async def test_call_waiting_with_type2_caller_id_and_flash(rig: Rig) -> None:
    caller, callee = await call_2002_from_2001(rig, pulse=False)
    callee.lift()
    await rig.run(0.5)
    # A call comes in on the FXO line for FXS 1 while it talks to FXS 2.
    line = rig.line(3)
    line.ring("2001", "BOB")
    await rig.until(lambda: caller.waiting_caller_id is not None, 12.0, "type II caller ID on FXS 1")
    assert caller.cas_heard >= 1, "the CPE alerting signal (2130+2750 Hz) was heard"
    assert caller.waiting_caller_id is not None and caller.waiting_caller_id.number == "2001"
    assert "a call waiting" in rig.system.ports.fxs[1].describe()
    # Flash: the line is answered and FXS 2 is on hold.
    caller.flash()
    await rig.until(lambda: line.state is LineState.CONNECTED, 3.0, "the waiting call answered by a flash")
    await rig.run(0.5)
    caller.play_tone(1004, 1.0)
    line.play_tone(1633, 1.0)
    await rig.run(0.6)
    assert_hears(line, (1004,), "FXS 1's tone on the FXO line")
    assert_hears(caller, (1633,), "the line's tone at FXS 1")
    assert callee.hearing().name in ("silence", ""), f"the held FXS 2 hears {callee.hearing()}"
    assert "a call on hold" in rig.system.ports.fxs[1].describe()
    # Flash again: back to FXS 2.
    await rig.run(1.0)
    caller.flash()
    await rig.run(1.0)
    caller.play_tone(700, 1.0)
    await rig.run(0.6)
    assert_hears(callee, (700,), "FXS 1 talks to FXS 2 again")


async def test_howler_after_congestion(tmp_path: Path) -> None:
    rig = await make_rig(tmp_path, analog=AnalogConfig(first_digit_timeout=2.0, howler_after=3.0))
    try:
        phone = rig.phone(1)
        phone.lift()
        await rig.run(0.5)
        assert phone.hearing().name == "dial"
        await rig.run(2.0)
        assert_hears(phone, (480, 620), "US congestion (reorder) after the first-digit timeout")
        assert "cleared" in rig.system.ports.fxs[1].describe()
        await rig.run(3.2)
        hearing = phone.hearing(0.4)
        assert hearing.level_dbm0 > -10, f"the howler is loud: {hearing}"
        assert any(abs(f - 1400) <= 10 for f in hearing.frequencies), hearing
        assert "howler" in rig.system.ports.fxs[1].describe()
    finally:
        await rig.close()


async def test_message_waiting_vmwi_and_stutter_dial_tone(rig: Rig) -> None:
    phone = rig.phone(1)
    rig.system.ports.fxs[1].set_message_waiting(True, 3)
    await rig.until(lambda: phone.message_waiting is not None, 3.0, "VMWI on the idle line")
    assert phone.message_waiting is not None and phone.message_waiting.active
    phone.lift()
    await rig.run(0.3)
    # Stutter dial tone: the dial tone's frequencies, interrupted (US 350+440 100/100 at the start).
    levels = []
    for _ in range(10):
        await rig.run(0.02)
        levels.append(phone.hearing(0.02).level_dbm0)
    assert max(levels) > -20 and min(levels) < -40, f"stutter: {levels}"
    phone.hang_up()
    await rig.run(1.5)
    rig.system.ports.fxs[1].set_message_waiting(False, None)
    await rig.until(lambda: phone.message_waiting is not None and not phone.message_waiting.active, 3.0,
                    "VMWI off")
    phone.lift()
    await rig.run(0.5)
    assert phone.hearing().name == "dial"


async def test_fxo_pulse_dialling_and_answer_by_line_reversal(tmp_path: Path) -> None:
    analog = AnalogConfig(ports=[AnalogPortConfig(number=3, dial_mode="pulse", answer_on_polarity="yes")])
    rig = await make_rig(tmp_path, analog=analog)
    try:
        phone, line = rig.phone(1), rig.line(3)
        line.reverse_on_answer = True
        phone.lift()
        await rig.run(0.3)
        phone.dial("3000")
        await rig.until(lambda: line.digits == "5551234" and line.state is LineState.CALLED, 15.0,
                        "the exchange counted the pulses")
        (fxo,) = rig.system.ports.fxo[3].calls.values()
        await rig.run(1.0)
        assert fxo.state.name != "UP", "not answered before the line reverses"
        line.answer()
        await rig.until(lambda: fxo.state.name == "UP", 1.0, "answered on the reversal")
    finally:
        await rig.close()


async def test_hunt_group_takes_the_next_idle_line(rig: Rig) -> None:
    first, second = rig.phone(1), rig.phone(2)
    first.lift()
    await rig.run(0.3)
    first.dial("3000")
    await rig.until(lambda: rig.line(3).state is LineState.CALLED, 10.0, "FXO 3 seized first")
    second.lift()
    await rig.run(0.3)
    second.dial("3000")
    await rig.until(lambda: rig.line(4).state is LineState.CALLED, 10.0, "FXO 4 seized for the second call")
    assert rig.line(3).state is LineState.CALLED


async def test_hook_flash_down_an_fxo_line(rig: Rig) -> None:
    phone, line = rig.phone(1), rig.line(3)
    phone.lift()
    await rig.run(0.3)
    phone.dial("3000")
    await rig.until(lambda: line.state is LineState.CALLED, 10.0, "dialled")
    line.answer()
    await rig.run(0.5)
    (fxo,) = rig.system.ports.fxo[3].calls.values()
    assert await fxo.driver.indicate(fxo, Indication.FLASH)
    await rig.until(lambda: line.flashes == 1, 2.0, "the exchange saw one flash")
    assert line.state is LineState.CONNECTED, "a flash is not a release"


async def test_fxs_polarity_reversal_on_answer_and_open_loop_on_hang_up(tmp_path: Path) -> None:
    analog = AnalogConfig(ports=[AnalogPortConfig(number=1, answer_polarity_reversal=True,
                                                  disconnect_open_loop_ms=500)])
    rig = await make_rig(tmp_path, analog=analog)
    try:
        caller, callee = await call_2002_from_2001(rig, pulse=False)
        wires = rig.system.world.phone(1)
        assert not wires.feed().reversed, "forward polarity while the call rings"
        callee.lift()
        await rig.until(lambda: wires.feed().reversed, 1.0, "the line reverses when the far end answers")
        callee.hang_up()
        await rig.until(lambda: wires.feed().dc_voltage == 0.0, 2.0, "the loop is opened (kewlstart disconnect)")
        opened = rig.now
        await rig.until(lambda: wires.feed().dc_voltage != 0.0, 2.0, "the feed comes back")
        assert 0.45 <= rig.now - opened <= 0.6
        assert not wires.feed().reversed, "forward polarity again"
    finally:
        await rig.close()


@pytest.mark.parametrize("echo_cancel", ["yes", "no"])
async def test_fxo_echo_canceller_removes_the_line_echo(tmp_path: Path, echo_cancel: str) -> None:
    analog = AnalogConfig(ports=[AnalogPortConfig(number=3, echo_cancel=echo_cancel)])  # type: ignore[arg-type]
    rig = await make_rig(tmp_path, analog=analog)
    try:
        phone, line = rig.phone(1), rig.line(3)
        assert line.echo_return_loss_db == 20.0  # the exchange's hybrid returns what it hears 20 dB down
        phone.lift()
        await rig.run(0.3)
        phone.dial("3000")
        await rig.until(lambda: line.state is LineState.CALLED, 10.0, "dialled")
        line.answer()
        await rig.run(0.5)
        # The phone talks (a mix of tones, like speech it is not one frequency); the far end is silent.
        from board.sim.peers import sine

        talk = [a + b for a, b in zip(sine(440, 4.0, -13.0), sine(1330, 4.0, -13.0), strict=True)]
        phone.speak(talk)
        await rig.run(3.5)
        echo = phone.hearing(0.5).level_dbm0
        if echo_cancel == "yes":
            assert echo < -45, f"residual echo {echo} dBm0"
        else:
            assert -35 < echo < -25, f"uncancelled echo {echo} dBm0 (talk at -10 dBm0, hybrid 20 dB)"
    finally:
        await rig.close()


async def test_calling_a_phone_that_is_off_hook_gives_busy(rig: Rig) -> None:
    busy_one, caller = rig.phone(1), rig.phone(2)
    busy_one.lift()
    await rig.run(0.3)
    caller.lift()
    await rig.run(0.3)
    caller.dial("2001")
    await rig.until(lambda: not rig.system.ports.fxs[2].calls and rig.now > 1.0, 3.0, "the call is refused")
    await rig.until(lambda: caller.hearing().name == "busy", 1.5, "busy tone (480+620 Hz) at the caller")
    assert not busy_one.phone.ringing
    assert busy_one.hearing().name == "dial", "the off-hook phone is left alone"
    assert not rig.system.ports.fxs[1].calls


async def test_caller_giving_up_on_an_fxo_line_stops_the_phone_ringing(rig: Rig) -> None:
    line, phone = rig.line(3), rig.phone(1)
    line.ring("2001")
    await rig.until(lambda: phone.phone.ringing, 10.0, "FXS 1 rings for the line")
    line.stop_ringing()
    took = await rig.until(lambda: not rig.system.ports.fxo[3].calls and not rig.system.ports.fxs[1].calls, 12.0,
                           "the call goes when the line stops ringing")
    assert not phone.phone.ringing
    assert took <= 8.0 + 4.0 + 0.5, "the ring timeout (8 s after the last ring)"


async def _levels(tmp_path: Path, ports: list[AnalogPortConfig]) -> tuple[float, float]:
    """(what the exchange hears of a -30 dBm0 tone from FXS 1, what FXS 1 hears of a -30 dBm0 tone from the
    exchange) in a call out through FXO 3."""
    rig = await make_rig(tmp_path, analog=AnalogConfig(ports=ports))
    try:
        phone, line = rig.phone(1), rig.line(3)
        phone.lift()
        await rig.run(0.3)
        phone.dial("3000")
        await rig.until(lambda: line.state is LineState.CALLED, 10.0, "dialled")
        line.answer()
        await rig.run(0.5)
        phone.play_tone(1004, 1.0, -30.0)
        line.play_tone(1633, 1.0, -30.0)
        await rig.run(0.8)
        return line.hearing().level_dbm0, phone.hearing().level_dbm0
    finally:
        await rig.close()


async def test_port_gains_in_hardware_and_software(tmp_path: Path) -> None:
    flat_out, flat_in = await _levels(tmp_path, [])
    # FXO 3: +20 dB toward the line (12.9 dB in the Si3050, 7.1 dB in software), -6 dB from it;
    # FXS 1: +6 dB from the phone (the Si3215's maximum).
    out, into = await _levels(tmp_path, [AnalogPortConfig(number=3, tx_gain_db=20.0, rx_gain_db=-6.0),
                                         AnalogPortConfig(number=1, rx_gain_db=6.0)])
    assert out - flat_out == pytest.approx(26.0, abs=1.0), (flat_out, out)
    assert into - flat_in == pytest.approx(-6.0, abs=1.0), (flat_in, into)
