"""Country profiles (issue 6 item 7): every required country is there as data, a port may override any
field, and -- end to end on the simulated board -- each country's caller ID is captured from the exchange
on an FXO port and sent on to a phone on an FXS port in that country's standard, timing and alert, with the
country's ring cadence."""

from __future__ import annotations

from pathlib import Path

import pytest

from board.sim.peers import LineState
from core.tones import parse_tone_list
from cython_media.spandsp import CallerIdStandard
from drivers.fxs_fxo.countries import COUNTRIES, CallerIdAlert, CallerIdStart, CountryError, country_profile
from drivers.fxs_fxo.daa_countries import OPERMODES
from firmware.analog_service import port_profile
from firmware.config.schema import AnalogConfig, AnalogPortConfig
from tests.analog.rig import make_rig

REQUIRED = ("us", "uk", "de", "fr", "es", "it", "nl", "ar", "br", "mx", "au", "jp", "cn", "in")


@pytest.mark.parametrize("code", REQUIRED)
def test_profile_is_complete(code: str) -> None:
    profile = country_profile(code)
    assert profile.code == code
    for tone in ("dial", "busy", "ring", "congestion", "callwaiting", "stutter"):
        assert parse_tone_list(profile.tone(tone)).parts, f"{code}: {tone}"
    cadence = profile.ring_cadence_ms
    assert cadence and len(cadence) % 2 == 0 and all(ms > 0 for ms in cadence)
    assert profile.daa in OPERMODES
    assert 0 < profile.flash_min_ms < profile.flash_max_ms
    assert profile.disconnect


def test_unknown_country_and_overrides() -> None:
    with pytest.raises(CountryError):
        country_profile("zz")
    assert country_profile("gb") == country_profile("uk")
    custom = country_profile("us").override(callerid="v23", ring_cadence_ms=[1000, 4000], disconnect=["tone"])
    assert custom.callerid is CallerIdStandard.V23
    assert custom.ring_cadence_ms == (1000, 4000)
    assert set(COUNTRIES) >= set(REQUIRED)


def test_port_settings_override_the_country() -> None:
    analog = AnalogConfig(country="de", ports=[AnalogPortConfig(
        number=1, callerid_standard="dtmf", callerid_start="before_ring", callerid_alert="polarity",
        ring_cadence=[400, 200, 400, 2000], flash_min_ms=100, flash_max_ms=600)])
    profile = port_profile(analog, analog.ports[0])
    assert profile.callerid is CallerIdStandard.DTMF
    assert profile.callerid_start is CallerIdStart.BEFORE_RING
    assert profile.callerid_alert is CallerIdAlert.POLARITY
    assert profile.ring_cadence_ms == (400, 200, 400, 2000)
    assert (profile.flash_min_ms, profile.flash_max_ms) == (100, 600)
    assert profile.tone("dial") == country_profile("de").tone("dial")


@pytest.mark.parametrize("code", REQUIRED)
async def test_caller_id_from_the_exchange_to_the_phone(tmp_path: Path, code: str) -> None:
    profile = country_profile(code)
    rig = await make_rig(tmp_path, analog=AnalogConfig(country=code))
    try:
        line, phone = rig.line(3), rig.phone(1)
        line.ring("2001", "BOB")  # [from-pstn]: calls from 2001 ring FXS 1
        await rig.until(lambda: bool(rig.system.ports.fxs[1].calls), 15.0, f"{code}: the call reaches FXS 1")
        (inbound,) = rig.system.ports.fxo[3].calls.values()
        assert inbound.caller.number == "2001", f"{code}: caller ID captured on the FXO line"
        await rig.until(lambda: phone.caller_id is not None and len(phone.ring.cadence) >= 3, 15.0,
                        f"{code}: the phone rings twice and shows the caller")
        assert phone.caller_id is not None and phone.caller_id.number == "2001"
        assert phone.caller_id_standard is profile.callerid, f"{code}: sent in {profile.callerid}"
        if profile.callerid in (CallerIdStandard.BELL202, CallerIdStandard.V23):
            assert phone.caller_id.name == "BOB"
        ons = phone.ring.cadence[0::2]
        assert any(abs(on - ms) <= 40 for on in ons for ms in profile.ring_cadence_ms[0::2]), (code, ons)
        phone.lift()
        await rig.until(lambda: line.state is LineState.CONNECTED, 2.0, f"{code}: answered")
    finally:
        await rig.close()
