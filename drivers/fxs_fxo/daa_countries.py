"""Per-country settings of the Si3050 DAA: the facts of DAHDI's ``fxo_modes.h`` (opermode table).

Each entry keeps DAHDI's fields (on-hook speed OHS/OHS2, ringer impedance RZ and threshold RT, current
limit ILIM, DC termination voltage DCV and minimum loop current MINI, AC impedance ACIM, the battery
debounce/alarm/threshold used for disconnect supervision, and the TBR21 ring-generator values DAHDI's
``fxshonormode`` gives the FXS ports).  The register values are assembled exactly as
``wctdm_init_voicedaa`` does: reg16 = OHS<<6 | RZ<<1 | RT, reg26 = DCV<<6 | MINI<<4 | ILIM<<1,
reg30 = ACIM, reg31 = 0xA3 | OHS2<<3 (hardware.md §2.3, §2.5).

Countries are looked up by ISO 3166 code (``"DE"``) or by DAHDI's opermode name (``"GERMANY"``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DaaCountry:
    """One DAHDI opermode."""

    name: str
    ohs: int = 0
    ohs2: int = 0
    rz: int = 0
    rt: int = 0
    ilim: int = 0
    dcv: int = 0
    mini: int = 0
    acim: int = 0
    ring_osc: int = 0
    ring_x: int = 0
    battdebounce_ms: int = 64
    battalarm_ms: int = 1000
    battthresh_v: int = 3

    @property
    def reg16(self) -> int:
        """International control 1: OHS, RZ, RT."""
        return self.ohs << 6 | self.rz << 1 | self.rt

    @property
    def reg26(self) -> int:
        """DC termination: DCV, MINI, ILIM."""
        return self.dcv << 6 | self.mini << 4 | self.ilim << 1

    @property
    def reg30(self) -> int:
        """AC termination (ACIM)."""
        return self.acim

    @property
    def reg31(self) -> int:
        """DAA control 5 with OHS2 (DAHDI writes 0xA3 | OHS2 << 3)."""
        return 0xA3 | self.ohs2 << 3


def _fcc_like(name: str) -> DaaCountry:
    return DaaCountry(name, dcv=3)


def _tbr21(name: str, acim: int = 2, ohs2: int = 1, mini: int = 0) -> DaaCountry:
    return DaaCountry(name, ohs2=ohs2, ilim=1, dcv=3, acim=acim, mini=mini)


def _mini16(name: str) -> DaaCountry:
    return DaaCountry(name, mini=3)


_MODES = [
    DaaCountry("FCC", rt=1, dcv=3),
    DaaCountry("TBR21", ilim=1, dcv=3, acim=2, ring_osc=0x7E6C, ring_x=0x023A),
    _fcc_like("ARGENTINA"),
    DaaCountry("AUSTRALIA", ohs=1, mini=3, acim=3),
    _tbr21("AUSTRIA", acim=3),
    _tbr21("BELGIUM"),
    _mini16("BRAZIL"),
    _fcc_like("CANADA"),
    _fcc_like("CHILE"),
    DaaCountry("CHINA", mini=3, acim=0xF),
    _fcc_like("COLOMBIA"),
    _tbr21("DENMARK"),
    _tbr21("FINLAND"),
    _tbr21("FRANCE"),
    _tbr21("GERMANY", acim=3),
    _tbr21("GREECE"),
    _fcc_like("HONGKONG"),
    DaaCountry("INDIA", dcv=3, acim=4),
    _tbr21("IRELAND"),
    _tbr21("ISRAEL", ohs2=0),
    _tbr21("ITALY"),
    _mini16("JAPAN"),
    _fcc_like("MEXICO"),
    _tbr21("NETHERLANDS"),
    DaaCountry("NEWZEALAND", dcv=3, acim=4),
    _tbr21("NORWAY"),
    DaaCountry("POLAND", rz=1, rt=1, dcv=3),
    _tbr21("PORTUGAL"),
    _mini16("RUSSIA"),
    DaaCountry("SOUTHAFRICA", ohs=1, rz=1, dcv=3, acim=3),
    _fcc_like("SOUTHKOREA"),
    _tbr21("SPAIN"),
    _tbr21("SWEDEN"),
    _tbr21("SWITZERLAND"),
    _mini16("TAIWAN"),
    DaaCountry("UK", ohs2=1, ilim=1, dcv=3, acim=5),
    _fcc_like("USA"),
]

OPERMODES: dict[str, DaaCountry] = {mode.name: mode for mode in _MODES}
"""DAHDI opermode name -> settings."""

ISO_CODES: dict[str, str] = {
    "US": "USA", "CA": "CANADA", "GB": "UK", "UK": "UK", "DE": "GERMANY", "FR": "FRANCE", "ES": "SPAIN",
    "IT": "ITALY", "NL": "NETHERLANDS", "AR": "ARGENTINA", "BR": "BRAZIL", "MX": "MEXICO", "AU": "AUSTRALIA",
    "JP": "JAPAN", "CN": "CHINA", "IN": "INDIA", "AT": "AUSTRIA", "BE": "BELGIUM", "CL": "CHILE",
    "CO": "COLOMBIA", "DK": "DENMARK", "FI": "FINLAND", "GR": "GREECE", "HK": "HONGKONG", "IE": "IRELAND",
    "IL": "ISRAEL", "NZ": "NEWZEALAND", "NO": "NORWAY", "PL": "POLAND", "PT": "PORTUGAL", "RU": "RUSSIA",
    "ZA": "SOUTHAFRICA", "KR": "SOUTHKOREA", "SE": "SWEDEN", "CH": "SWITZERLAND", "TW": "TAIWAN",
}
"""ISO 3166 alpha-2 code -> DAHDI opermode name."""


def daa_country(code: str) -> DaaCountry:
    """Settings for an ISO code or a DAHDI opermode name (case-insensitive); KeyError lists the known ones."""
    key = code.strip().upper()
    name = ISO_CODES.get(key, key)
    try:
        return OPERMODES[name]
    except KeyError:
        known = ", ".join(sorted(ISO_CODES))
        raise KeyError(f"no DAA settings for country {code!r} (known: {known} or a DAHDI opermode name)") from None
