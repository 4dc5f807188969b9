"""Country profiles of the analog ports, as data: what a phone expects from an FXS port and what an FXO
port must expect from the line, per country.

A :class:`CountryProfile` holds the call-progress tones (Asterisk's ``indications.conf`` tone lists, taken
from :mod:`core.tones` zones), the ring cadence, the caller-ID standard and its timing (before the first
ring with a line reversal or an alerting signal, or in the first silence between rings), the DAA's
per-country registers (DAHDI's ``fxo_modes.h`` via :mod:`drivers.fxs_fxo.daa_countries`), the hook-flash
and pulse-dialling timing windows and the ways the far end signals a disconnect.  A port may override
any field (:meth:`CountryProfile.override`).

Sources, per field:

- tones and ring cadences: :mod:`core.tones` (Asterisk ``indications.conf.sample``, ITU-T E.180 Supplement 2,
  BT SIN 350, ACIF S002); China from the same sample file (``[cn]``), which ``core.tones`` has no zone for;
- caller ID: Telcordia GR-30-CORE (Bell 202, after the first ring, >= 500 ms after it ends), ETSI
  EN 300 659-1 (V.23 FSK or DTMF, before the first ring after a line reversal (data >= 100 ms / DTMF >=
  200 ms after it, first ring 200-500 ms after the data) or a ring-pulse/dual-tone alerting signal, or
  between the first and second ring), BT SIN 227 (UK: line reversal + DT-AS 2130+2750 Hz, then V.23 FSK),
  NTT JCLIP (Japan).  Which country uses which mode is the common field knowledge (Asterisk's
  ``cidsignalling``/``cidstart`` advice, "DTMF caller ID: Denmark, Netherlands, India, Brazil...") and is
  marked ``[unverified]`` in :attr:`CountryProfile.notes` where no operator document was at hand;
- hook flash and pulse dialling: DAHDI ``include/dahdi/kernel.h`` (pulse break 15-200 ms, flash up to
  1250 ms, 750 ms generated flash, 10 pps) for North America and most others; a timed-break recall of
  about 100 ms for the ETSI countries (BT SIN 351 "timed break recall", ETSI ES 201 187);
- disconnect supervision: DAHDI kewlstart (battery removal), XPP power denial (loop current),
  ``hanguponpolarityswitch`` and ``busydetect``/``busypattern`` (hardware.md §5.2).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any

from core.tones import ZONES, ToneError, parse_tone_list, tone_zone
from cython_media.spandsp import CallerIdStandard
from drivers.fxs_fxo.daa_countries import DaaCountry, daa_country


class CountryError(ValueError):
    """An unknown country, or an override that does not fit a profile field."""


class CallerIdStart(enum.Enum):
    """When on-hook caller ID is sent relative to ringing."""

    BEFORE_RING = "before_ring"            # EN 300 659-1 §6.1.1: the data, then the first ring
    AFTER_FIRST_RING = "after_first_ring"  # GR-30-CORE; EN 300 659-1 "data associated with ringing"


class CallerIdAlert(enum.Enum):
    """What announces caller ID sent before the first ring (EN 300 659-1 §6.1)."""

    NONE = "none"            # after the first ring: the ring itself is the alert
    POLARITY = "polarity"    # line reversal; normal polarity again after the data
    DTAS = "dtas"            # line reversal + dual-tone alerting signal 2130+2750 Hz (BT SIN 227)
    RPAS = "rpas"            # ring-pulse alerting signal: one short ring burst


class Disconnect(enum.Enum):
    """How an FXO port learns that the far end hung up (hardware.md §5.2)."""

    BATTERY = "battery"            # loop battery removed (CPC / kewlstart), DAHDI battdebounce
    LOOP_CURRENT = "loop_current"  # loop current drop while off hook (XPP power denial, Grandstream)
    POLARITY = "polarity"          # a line reversal after answer (hanguponpolarityswitch)
    TONE = "tone"                  # busy/disconnect tone with a cadence (busydetect, busypattern)


CALLER_ID_STANDARDS: Mapping[str, CallerIdStandard | None] = MappingProxyType({
    "bell202": CallerIdStandard.BELL202, "v23": CallerIdStandard.V23, "v23_jp": CallerIdStandard.V23_JP,
    "dtmf": CallerIdStandard.DTMF, "none": None,
})
"""Names of the caller-ID standards in configuration (Asterisk's ``cidsignalling`` words, ``bell`` = bell202)."""

HOWLER = "!1400+2600/100,!0/100,1400+2060/100,0/100"
"""Receiver off-hook ("howler") tone: Telcordia GR-506's ROH is 1400+2060+2450+2600 Hz, 0.1 s on/off; the
tone generator mixes two frequencies per element, so pairs of the four alternate [approximation]."""

HOWLER_LEVEL_DBM0 = -3.0
"""The ROH tone is loud on purpose (GR-506: up to +3 dBm per frequency); -3 dBm0 keeps G.711 clear of
clipping with two components."""

_CN_TONES = MappingProxyType({
    "dial": "450", "busy": "450/350,0/350", "ring": "450/1000,0/4000", "congestion": "450/700,0/700",
    "callwaiting": "450/400,0/4000", "dialrecall": "450", "record": "950/400,0/10000",
    "info": "450/100,0/100,450/100,0/100,450/100,0/100,450/400,0/400", "stutter": "450+425",
})
"""China (Asterisk indications.conf.sample ``[cn]``)."""


@dataclass(frozen=True, slots=True)
class CountryProfile:
    """Everything country-specific about an analog port (see the module docstring for sources).

    Times are in milliseconds.  ``ring_cadence_ms`` alternates on and off; ``callerid`` is None for no
    caller ID; ``callerid_delay_ms`` is when the data starts: after the end of the first ring
    (``AFTER_FIRST_RING``) or after the alert (``BEFORE_RING``); ``callerid_ring_gap_ms`` is the silence
    between the end of the data and the first ring (``BEFORE_RING``).  ``flash_min_ms``..``flash_max_ms``
    is the on-hook time an FXS port takes as a hook flash during a call (longer is a hang-up); ``flash_ms``
    is the flash an FXO port generates.  ``pulse_*`` describe decadic dialling (10 pps) both ways.
    """

    code: str
    name: str
    tones: Mapping[str, str]
    ring_cadence_ms: tuple[int, ...]
    callerid: CallerIdStandard | None
    callerid_start: CallerIdStart
    callerid_alert: CallerIdAlert = CallerIdAlert.NONE
    callerid_sdmf: bool = False
    callerid_delay_ms: int = 500
    callerid_ring_gap_ms: int = 300
    type2_callerid: bool = False
    daa: str = "FCC"
    flash_min_ms: int = 250
    flash_max_ms: int = 1250
    flash_ms: int = 750
    pulse_min_break_ms: int = 15
    pulse_max_break_ms: int = 200
    pulse_break_ms: int = 60
    pulse_make_ms: int = 40
    pulse_interdigit_ms: int = 700
    pulse_digit_timeout_ms: int = 250
    disconnect: tuple[Disconnect, ...] = (Disconnect.BATTERY, Disconnect.LOOP_CURRENT, Disconnect.POLARITY,
                                          Disconnect.TONE)
    disconnect_tone: str = "busy"
    busy_count: int = 1
    answer_polarity: bool = False
    notes: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        problems = self._problems()
        if problems:
            raise CountryError(f"country profile {self.code}: " + "; ".join(problems))

    def _problems(self) -> list[str]:
        problems = []
        for name in ("dial", "busy", "ring", "congestion", "callwaiting"):
            if name not in self.tones:
                problems.append(f"no '{name}' tone")
        for name, text in self.tones.items():
            try:
                parse_tone_list(text)
            except ToneError as exc:
                problems.append(f"tone '{name}': {exc}")
        if not self.ring_cadence_ms or len(self.ring_cadence_ms) % 2 or any(d <= 0 for d in self.ring_cadence_ms):
            problems.append(f"ring cadence {self.ring_cadence_ms} must be positive on/off pairs")
        if not 0 < self.flash_min_ms < self.flash_max_ms:
            problems.append(f"flash window {self.flash_min_ms}-{self.flash_max_ms} ms is empty")
        if not 0 < self.pulse_min_break_ms < self.pulse_max_break_ms:
            problems.append("pulse break window is empty")
        if self.busy_count < 1:
            problems.append("busy_count must be at least 1")
        if self.disconnect_tone not in self.tones:
            problems.append(f"disconnect tone '{self.disconnect_tone}' is not one of the tones")
        if self.callerid_sdmf and self.callerid is not CallerIdStandard.BELL202:
            problems.append("SDMF caller ID exists only for Bell 202")
        try:
            daa_country(self.daa)
        except KeyError as exc:
            problems.append(str(exc.args[0]))
        return problems

    @property
    def daa_settings(self) -> DaaCountry:
        """The Si3050 registers for this country (DAHDI opermode)."""
        return daa_country(self.daa)

    def tone(self, name: str) -> str:
        """The tone list of indication ``name`` (``dial``, ``busy``, ``ring``, ``congestion``, ``callwaiting``,
        ``stutter``, ``howler``...); the ``us`` list where this country has none."""
        if name == "howler":
            return self.tones.get("howler", HOWLER)
        if name in self.tones:
            return self.tones[name]
        us = ZONES["us"].tones
        if name in us:
            return us[name]
        raise CountryError(f"no tone '{name}' in country {self.code}")

    def override(self, **changes: Any) -> CountryProfile:
        """A copy with some fields replaced (a port's own settings); values in configuration form are
        converted (``callerid="v23"``, ``disconnect=["battery", "tone"]``, ``ring_cadence_ms=[1000, 4000]``,
        a tones mapping merged into the country's)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise CountryError(f"no such country profile field: {', '.join(unknown)}")
        converted: dict[str, Any] = {}
        for name, value in changes.items():
            if value is None and name != "callerid":
                continue
            converted[name] = _convert(name, value, self)
        return replace(self, **converted)

    def describe(self) -> str:
        """One line for the console: name, cadence, caller ID."""
        cadence = "/".join(str(d) for d in self.ring_cadence_ms)
        cid = "none" if self.callerid is None else f"{self.callerid.name.lower()} {self.callerid_start.value}"
        if self.callerid is not None and self.callerid_alert is not CallerIdAlert.NONE:
            cid += f" ({self.callerid_alert.value})"
        return f"{self.name}: ring {cadence} ms, caller ID {cid}"


def _convert(name: str, value: Any, profile: CountryProfile) -> Any:
    try:
        if name == "callerid":
            if value is None or isinstance(value, CallerIdStandard):
                return value
            key = str(value).lower()
            key = "bell202" if key in ("bell", "bell202") else key
            if key not in CALLER_ID_STANDARDS:
                raise CountryError(f"unknown caller ID standard {value!r} (one of {', '.join(CALLER_ID_STANDARDS)})")
            return CALLER_ID_STANDARDS[key]
        if name == "callerid_start":
            return value if isinstance(value, CallerIdStart) else CallerIdStart(str(value))
        if name == "callerid_alert":
            return value if isinstance(value, CallerIdAlert) else CallerIdAlert(str(value))
        if name == "disconnect":
            return tuple(v if isinstance(v, Disconnect) else Disconnect(str(v)) for v in value)
        if name == "ring_cadence_ms":
            return tuple(int(v) for v in value)
        if name == "tones":
            return MappingProxyType({**profile.tones, **dict(value)})
    except ValueError as exc:
        if isinstance(exc, CountryError):
            raise
        raise CountryError(f"{name}: {exc}") from None
    return value


def _zone_tones(zone: str, **extra: str) -> Mapping[str, str]:
    return MappingProxyType({**tone_zone(zone).tones, **extra})


def _profile(code: str, zone: str | None = None, **kwargs: Any) -> CountryProfile:
    z = tone_zone(zone or code)
    kwargs.setdefault("name", z.description)
    kwargs.setdefault("tones", _zone_tones(zone or code))
    kwargs.setdefault("ring_cadence_ms", z.ring_cadence)
    return CountryProfile(code=code, **kwargs)


_ETSI_FLASH: dict[str, Any] = {"flash_min_ms": 60, "flash_max_ms": 400, "flash_ms": 100}

COUNTRIES: Mapping[str, CountryProfile] = MappingProxyType({p.code: p for p in (
    _profile("us", callerid=CallerIdStandard.BELL202, callerid_start=CallerIdStart.AFTER_FIRST_RING,
             type2_callerid=True, daa="USA", notes="GR-30-CORE Bell 202 MDMF after the first ring; DAHDI timing"),
    _profile("uk", callerid=CallerIdStandard.V23, callerid_start=CallerIdStart.BEFORE_RING,
             callerid_alert=CallerIdAlert.DTAS, callerid_delay_ms=60, daa="UK", busy_count=2, **_ETSI_FLASH,
             notes="BT SIN 227: line reversal, DT-AS, V.23 FSK, then ringing; timed break recall 100 ms; "
                   "busy needs two cycles (ringback bursts are 400 Hz too)"),
    _profile("de", callerid=CallerIdStandard.V23, callerid_start=CallerIdStart.AFTER_FIRST_RING,
             daa="GERMANY", **_ETSI_FLASH, notes="EN 300 659-1 V.23 FSK between first and second ring"),
    _profile("fr", callerid=CallerIdStandard.V23, callerid_start=CallerIdStart.BEFORE_RING,
             callerid_alert=CallerIdAlert.RPAS, daa="FRANCE", **_ETSI_FLASH,
             notes="EN 300 659-1 V.23 FSK before the first ring after a ring-pulse alert [unverified]"),
    _profile("es", callerid=CallerIdStandard.V23, callerid_start=CallerIdStart.BEFORE_RING,
             callerid_alert=CallerIdAlert.POLARITY, callerid_delay_ms=250, daa="SPAIN", **_ETSI_FLASH,
             notes="EN 300 659-1 V.23 FSK before the first ring after a line reversal [unverified]"),
    _profile("it", callerid=CallerIdStandard.V23, callerid_start=CallerIdStart.BEFORE_RING,
             callerid_alert=CallerIdAlert.POLARITY, callerid_delay_ms=250, daa="ITALY", **_ETSI_FLASH,
             notes="EN 300 659-1 V.23 FSK before the first ring after a line reversal [unverified]"),
    _profile("nl", callerid=CallerIdStandard.DTMF, callerid_start=CallerIdStart.BEFORE_RING,
             callerid_alert=CallerIdAlert.POLARITY, callerid_delay_ms=250, daa="NETHERLANDS", **_ETSI_FLASH,
             notes="EN 300 659-1 DTMF caller ID before the first ring after a line reversal"),
    _profile("ar", callerid=CallerIdStandard.BELL202, callerid_start=CallerIdStart.AFTER_FIRST_RING,
             daa="ARGENTINA", notes="tones from DAHDI zonedata.c; Bell 202 after the first ring [unverified]"),
    _profile("br", callerid=CallerIdStandard.DTMF, callerid_start=CallerIdStart.AFTER_FIRST_RING,
             daa="BRAZIL", notes="DTMF caller ID between the first and second ring [unverified]"),
    _profile("mx", callerid=CallerIdStandard.BELL202, callerid_start=CallerIdStart.AFTER_FIRST_RING,
             daa="MEXICO", notes="Bell 202 after the first ring [unverified]"),
    _profile("au", callerid=CallerIdStandard.V23, callerid_start=CallerIdStart.AFTER_FIRST_RING,
             daa="AUSTRALIA", busy_count=2, **_ETSI_FLASH,
             notes="V.23 FSK in the first long silence [unverified]; ACIF S002 tones; busy needs two cycles "
                   "(ringback bursts are close to it)"),
    _profile("jp", callerid=CallerIdStandard.V23_JP, callerid_start=CallerIdStart.BEFORE_RING,
             callerid_alert=CallerIdAlert.POLARITY, callerid_delay_ms=250, daa="JAPAN",
             notes="NTT JCLIP framing; the CAR signal and the terminal's off-hook handshake are not modelled"),
    CountryProfile(code="cn", name="China", tones=_CN_TONES, ring_cadence_ms=(1000, 4000),
                   callerid=CallerIdStandard.BELL202, callerid_start=CallerIdStart.AFTER_FIRST_RING, daa="CHINA",
                   notes="tones from indications.conf.sample [cn]; FSK between first and second ring [unverified]"),
    _profile("in", callerid=CallerIdStandard.DTMF, callerid_start=CallerIdStart.BEFORE_RING,
             callerid_alert=CallerIdAlert.POLARITY, callerid_delay_ms=250, daa="INDIA",
             notes="DTMF caller ID before the first ring after a line reversal [unverified]"),
)})
"""The built-in profiles by lower-case ISO 3166 code (``uk``, as Asterisk's zone, for Great Britain)."""

_ALIASES = {"gb": "uk"}


def country_profile(code: str, **overrides: Any) -> CountryProfile:
    """The profile of ``code`` (case-insensitive ISO 3166 alpha-2; ``gb`` = ``uk``) with ``overrides``.

    Raises :class:`CountryError` naming the known countries for an unknown code.
    """
    key = code.strip().lower()
    key = _ALIASES.get(key, key)
    profile = COUNTRIES.get(key)
    if profile is None:
        raise CountryError(f"no analog country profile {code!r} (known: {', '.join(sorted(COUNTRIES))})")
    return profile.override(**overrides) if overrides else profile


__all__ = [
    "CALLER_ID_STANDARDS",
    "COUNTRIES",
    "CallerIdAlert",
    "CallerIdStart",
    "CountryError",
    "CountryProfile",
    "Disconnect",
    "HOWLER",
    "country_profile",
]
