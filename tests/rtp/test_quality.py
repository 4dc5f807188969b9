"""The quality summary: G.107 E-model for G.711 (G.113 Appendix I values) and the line the CDR prints."""

from __future__ import annotations

import pytest

from core.rtp.quality import (
    CallQuality,
    delay_impairment,
    effective_equipment_impairment,
    mos_from_r,
    r_factor,
    stream_quality,
)


def test_a_clean_g711_call_is_r_93_2_mos_4_41() -> None:
    # G.107 Annex B: 1 + 0.035 x 93.2 + 93.2 x 33.2 x 6.8 x 7e-6 = 4.4093
    assert r_factor(0.0) == pytest.approx(93.2)
    assert mos_from_r(93.2) == pytest.approx(4.4093, abs=1e-4)


@pytest.mark.parametrize(("loss", "plc", "ie_eff", "mos"), [
    (1.0, True, 95 * 1 / (1 + 25.1), 4.3281),  # Bpl 25.1: Ie_eff 3.64, R 89.56
    (1.0, False, 95 * 1 / (1 + 4.3), 3.8337),  # Bpl 4.3: Ie_eff 17.92, R 75.28
    (5.0, True, 95 * 5 / (5 + 25.1), None),
    (100.0, True, 95 * 100 / (100 + 25.1), None),
])
def test_packet_loss_impairment(loss: float, plc: bool, ie_eff: float, mos: float | None) -> None:
    bpl = 25.1 if plc else 4.3
    assert effective_equipment_impairment(loss, bpl=bpl) == pytest.approx(ie_eff)
    assert r_factor(loss, plc=plc) == pytest.approx(93.2 - ie_eff)
    if mos is not None:
        assert mos_from_r(r_factor(loss, plc=plc)) == pytest.approx(mos, abs=1e-4)


@pytest.mark.parametrize(("delay_ms", "idd"), [
    (0.0, 0.0), (100.0, 0.0),
    (200.0, 3.0444),  # X = 1: 25 (2^(1/6) - 3 (1 + 1/729)^(1/6) + 2)
    (400.0, 24.0701),  # X = 2
])
def test_delay_impairment_g107(delay_ms: float, idd: float) -> None:
    assert delay_impairment(delay_ms) == pytest.approx(idd, abs=1e-4)


def test_mos_is_clamped_by_annex_b() -> None:
    assert mos_from_r(-5) == 1.0 and mos_from_r(0) == 1.0 and mos_from_r(100) == 4.5 and mos_from_r(120) == 4.5
    rs = [mos_from_r(r) for r in range(0, 101, 5)]
    assert rs == sorted(rs)


def test_summary_line_for_the_cdr() -> None:
    quality = stream_quality(packets=996, lost=4, mean_jitter_ms=3.14, max_jitter_ms=9.0, rtt_ms=12.4)
    assert quality.loss_percent == pytest.approx(0.4)
    assert str(quality) == "loss 0.4% jitter 3.1 ms rtt 12 ms MOS 4.4 packets 996 lost 4"
    assert "996 packets, 4 lost" in quality.detail() and "max 9.0 ms" in quality.detail()
    unknown_rtt = stream_quality(packets=10, lost=0, mean_jitter_ms=0.0, max_jitter_ms=0.0, rtt_ms=None)
    assert str(unknown_rtt) == "loss 0.0% jitter 0.0 ms rtt n/a MOS 4.4 packets 10 lost 0"
    assert str(CallQuality(quality, None)).startswith("rx loss 0.4%")
    assert str(CallQuality(None, None)) == "no media"
    assert str(CallQuality(None, None, sent=250)) == "tx packets 250"
    assert str(CallQuality(unknown_rtt, quality, sent=250)) == (
        "rx loss 0.0% jitter 0.0 ms rtt n/a MOS 4.4 packets 10 lost 0; "
        "tx loss 0.4% jitter 3.1 ms rtt 12 ms MOS 4.4 packets 996 lost 4")


def test_rtt_counts_as_one_way_delay_in_the_model() -> None:
    far = stream_quality(packets=100, lost=0, mean_jitter_ms=0, max_jitter_ms=0, rtt_ms=800.0)
    assert far.r_factor == pytest.approx(93.2 - delay_impairment(400.0))
    padded = stream_quality(packets=100, lost=0, mean_jitter_ms=0, max_jitter_ms=0, rtt_ms=200.0, extra_delay_ms=100)
    assert padded.r_factor == pytest.approx(93.2 - delay_impairment(200.0))
