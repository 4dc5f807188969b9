"""End to end on the simulated board (issue 6, "Done when"): phones on FXS ports calling each other by DTMF
and by pulse dialling, calls ringing in on an FXO line with caller ID, far-end disconnects, and a call out
through an FXO line.  Everything runs on the board's virtual clock; what is asserted is what a person on the
line would notice: the tone heard, the ring cadence, the caller ID on the display, audio both ways, a call
that clears."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from board.sim.peers import LineState, VirtualPhone
from cython_media.spandsp import CallerIdStandard
from firmware.config.schema import AnalogConfig
from tests.analog.rig import Rig, make_rig


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    built = await make_rig(tmp_path)
    yield built
    await built.close()


def assert_hears(phone_or_line: object, frequencies: tuple[int, ...], what: str) -> None:
    hearing = phone_or_line.hearing()  # type: ignore[attr-defined]
    assert len(hearing.frequencies) == len(frequencies), f"{what}: heard {hearing}"
    for got, expected in zip(hearing.frequencies, frequencies, strict=True):
        assert abs(got - expected) <= 8, f"{what}: heard {hearing}"
    assert hearing.level_dbm0 > -30, f"{what}: heard {hearing}"


async def call_2002_from_2001(rig: Rig, *, pulse: bool) -> tuple[VirtualPhone, VirtualPhone]:
    caller, callee = rig.phone(1), rig.phone(2)
    caller.lift()
    await rig.run(0.4)
    assert_hears(caller, (350, 440), "US dial tone on FXS 1")
    assert caller.hearing().name == "dial"
    caller.dial("2002", pulse=pulse)
    await rig.until(lambda: callee.phone.ringing, 10.0, "FXS 2 rings")
    # Ringback toward the caller while the callee rings (US 440+480).
    await rig.run(0.5)
    assert_hears(caller, (440, 480), "ringback on FXS 1")
    await rig.until(lambda: callee.ring.rings >= 2, 8.0, "the second ring")
    on, off = callee.ring.cadence[:2]
    assert abs(on - 2000) <= 40 and abs(off - 4000) <= 40, f"US cadence 2 s on 4 s off, measured {on}/{off}"
    assert callee.caller_id is not None, "the phone on FXS 2 decoded no caller ID"
    assert callee.caller_id.number == "2001"
    assert callee.caller_id.name == "FXS 1"
    assert callee.caller_id_standard is CallerIdStandard.BELL202
    return caller, callee


async def assert_audio_both_ways(rig: Rig, caller: VirtualPhone, callee: VirtualPhone) -> None:
    caller.play_tone(1004, 1.0)
    callee.play_tone(1633, 1.0)
    await rig.run(0.6)
    assert_hears(callee, (1004,), "the caller's tone at the callee")
    assert_hears(caller, (1633,), "the callee's tone at the caller")


@pytest.mark.parametrize("pulse", [False, True], ids=["dtmf", "pulse"])
async def test_phone_calls_phone(rig: Rig, pulse: bool) -> None:
    caller, callee = await call_2002_from_2001(rig, pulse=pulse)
    callee.lift()
    await rig.until(lambda: len(rig.pbx.bridges) == 1 if hasattr(rig.pbx, "bridges") else True, 1.0)
    await rig.run(0.3)
    assert not callee.phone.ringing
    await assert_audio_both_ways(rig, caller, callee)
    # The callee hangs up: the caller's channel goes and the caller hears the line's busy/congestion.
    callee.hang_up()
    await rig.until(lambda: not rig.system.ports.fxs[1].calls, 3.0, "the caller's channel cleared")
    await rig.run(0.5)
    assert caller.hearing().name in ("busy", "congestion"), caller.hearing()
    caller.hang_up()
    await rig.run(1.5)  # on hook longer than the US flash window (1250 ms): a hang-up
    assert "idle" in rig.system.ports.status().splitlines()[1]


async def test_phone_hangs_up_while_ringing(rig: Rig) -> None:
    caller, callee = await call_2002_from_2001(rig, pulse=False)
    caller.hang_up()
    await rig.until(lambda: not callee.phone.ringing and not rig.system.ports.fxs[2].calls, 3.0,
                    "ringing stops when the caller gives up")


@pytest.mark.parametrize(("country", "before_ring"), [("de", False), ("uk", True)])
async def test_fxo_call_with_etsi_fsk_caller_id_reaches_the_dialplan(tmp_path: Path, country: str,
                                                                     before_ring: bool) -> None:
    rig = await make_rig(tmp_path, analog=AnalogConfig(country=country))
    try:
        line = rig.line(3)
        assert line.signals.callerid is CallerIdStandard.V23
        assert (line.signals.callerid_start == "before_ring") is before_ring
        line.ring("5551234", "ALICE")
        took = await rig.until(lambda: "LAST_CID_NUM" in rig.executor.globals, 10.0, "the call reaches [from-pstn]")
        assert rig.executor.globals["LAST_CID_NUM"] == "5551234"
        assert rig.executor.globals["LAST_CID_NAME"] == "ALICE"
        assert line.rings == 1, "answered in the first silence, after the caller ID"
        assert took < 3.0
        await rig.until(lambda: line.state is LineState.CONNECTED, 1.0, "the gateway answers (loop closed)")
    finally:
        await rig.close()


@pytest.mark.parametrize("country", ["us", "de"])
@pytest.mark.parametrize("method", ["polarity", "busy", "battery"])
async def test_fxo_far_end_disconnect_clears_within_a_second(tmp_path: Path, country: str, method: str) -> None:
    rig = await make_rig(tmp_path, analog=AnalogConfig(country=country))
    try:
        line, port = rig.line(3), rig.system.ports.fxo[3]
        line.ring("5551234")
        await rig.until(lambda: line.state is LineState.CONNECTED and bool(port.calls), 10.0, "answered")
        await rig.run(1.0)
        (channel,) = port.calls.values()
        line.disconnect(method)
        took = await rig.until(lambda: not port.calls, 1.0, f"disconnect by {method}")
        assert took <= 1.0
        assert channel.variables.get("FXO_DISCONNECT") == {"busy": "tone"}.get(method, method) or method == "battery"
        await rig.run(0.3)
        assert not port.chip.off_hook, "the line is released"
    finally:
        await rig.close()


async def test_fxo_incoming_call_rings_a_phone_and_talks(tmp_path: Path) -> None:
    rig = await make_rig(tmp_path, analog=AnalogConfig(country="de"))
    try:
        line, phone = rig.line(3), rig.phone(1)
        line.ring("2001", "BOB")  # [from-pstn] sends calls from 2001 to the phone on FXS 1
        await rig.until(lambda: phone.phone.ringing, 10.0, "the phone rings")
        await rig.until(lambda: phone.caller_id is not None, 8.0, "the phone shows the caller")
        assert phone.caller_id is not None and phone.caller_id.number == "2001" and phone.caller_id.name == "BOB"
        assert phone.caller_id_standard is CallerIdStandard.V23, "a German line sends ETSI V.23 FSK"
        phone.lift()
        await rig.until(lambda: line.state is LineState.CONNECTED, 2.0, "the gateway answers the line")
        await rig.run(0.5)
        phone.play_tone(1004, 1.0)
        line.play_tone(1633, 1.0)
        await rig.run(0.6)
        assert_hears(line, (1004,), "the phone's tone on the line")
        assert_hears(phone, (1633,), "the line's tone at the phone")
        line.disconnect("polarity")
        await rig.until(lambda: not rig.system.ports.fxs[1].calls, 1.0, "the phone's call clears")
    finally:
        await rig.close()


async def test_phone_calls_out_through_an_fxo_line(rig: Rig) -> None:
    phone, line = rig.phone(1), rig.line(3)
    phone.lift()
    await rig.run(0.3)
    phone.dial("3000")  # Dial(FXO/g1/5551234)
    await rig.until(lambda: line.state in (LineState.COLLECTING, LineState.CALLED), 8.0, "seized and dialling")
    await rig.until(lambda: line.digits == "5551234" and line.state is LineState.CALLED, 8.0,
                    "the exchange collected the number")
    await rig.run(0.5)
    assert_hears(phone, (440, 480), "the exchange's ringback reaches the phone")
    line.answer()
    await rig.run(0.5)
    phone.play_tone(1004, 1.0)
    line.play_tone(1633, 1.0)
    await rig.run(0.6)
    assert_hears(line, (1004,), "the phone's tone on the line")
    assert_hears(phone, (1633,), "the line's tone at the phone")
    line.disconnect("battery")
    await rig.until(lambda: not rig.system.ports.fxo[3].calls and not rig.system.ports.fxs[1].calls, 1.5,
                    "both legs clear when the far end hangs up")


async def test_media_applications_on_an_analog_phone(rig: Rig) -> None:
    # (Generators such as Milliwatt() run on the engine's real-time clock: test_tdm covers them on a leg.)
    phone = rig.phone(1)
    phone.lift()
    await rig.run(0.3)
    phone.dial("600")  # Echo: the phone hears itself
    await rig.run(1.0)
    phone.play_tone(852, 1.0)
    await rig.run(0.6)
    assert_hears(phone, (852,), "Echo() returns the phone's own audio")
