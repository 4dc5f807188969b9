"""Register maps of the Si3210/Si3215 ProSLIC and the Si3050 (+Si3018/19) voice DAA.

Numbers and names follow DAHDI's ``proslic.h``/``wctdm.c`` and the Silicon Labs ProSLIC API headers
(``si321x_registers.h``, ``vdaa_registers.h``) as collected in ``shared/reference/hardware.md`` §1.3-1.6
and §2.2.  The simulator's chip models (``board/sim``) use the same numbers: both sides read them from here
would make a typo invisible, so the models keep their own literal numbers and the tests cross-check.
"""

from __future__ import annotations

import enum


class ProslicReg(enum.IntEnum):
    """Si3210/Si3215 direct registers (DR)."""

    SPI_MODE = 0  # b7 daisy chain, b5:4 part, b3:0 revision
    PCM_MODE = 1  # b5 enable, b4:3 format (00 A-law, 01 u-law, 11 linear); b7 reads 1 on the Si3215 family
    PCM_TX_START_LO = 2
    PCM_TX_START_HI = 3
    PCM_RX_START_LO = 4
    PCM_RX_START_HI = 5
    DIO = 6  # b7:5 sub-part on the Si3215 family
    LOOPBACK = 8  # reset 0x02
    AUDIO_GAIN = 9  # b3:2 TX, b1:0 RX: 0 = 0 dB, 1 = -3.5 dB, 2 = +3.5 dB
    TWO_WIRE_IMPEDANCE = 10
    HYBRID = 11  # reset 0x33
    POWER_DOWN_1 = 14  # 0x10 = DC-DC converter off
    POWER_DOWN_2 = 15
    IRQ_STATUS_1 = 18
    IRQ_STATUS_2 = 19  # b0 ring trip, b1 loop closure, b2-b7 power alarm Q1-Q6
    IRQ_STATUS_3 = 20  # b1 indirect access done, b2 CM balance cal error
    IRQ_ENABLE_1 = 21
    IRQ_ENABLE_2 = 22
    IRQ_ENABLE_3 = 23
    DTMF_DIGIT = 24  # Si3210 only
    IDA_LO = 28
    IDA_HI = 29
    IAA = 30  # indirect address; the write starts the access
    I_STATUS = 31  # != 0 while an indirect access is in progress
    OSC1_CONTROL = 32
    OSC2_CONTROL = 33
    RING_OSC_CONTROL = 34
    RING_ON_LO = 48
    RING_ON_HI = 49
    RING_OFF_LO = 50
    RING_OFF_HI = 51
    LINEFEED = 64  # b2:0 written state; reads the actual state in b6:4
    BIAS_SQUELCH = 65
    BATTERY_FEED = 66
    AUTO_MANUAL = 67
    LOOP_STATUS = 68  # b0 loop closure (off hook), b1 ring trip
    LOOP_DEBOUNCE = 69
    RING_TRIP_DEBOUNCE = 70
    LOOP_CURRENT_LIMIT = 71  # 20 + 3 n mA
    ON_HOOK_VOLTAGE = 72  # 1.5 V/LSB
    COMMON_MODE_VOLTAGE = 73
    VBATH = 74  # 1.5 V/LSB
    VBATL = 75
    LOOP_VOLTAGE_SENSE = 78
    LOOP_CURRENT_SENSE = 79
    TIP_VOLTAGE_SENSE = 80
    RING_VOLTAGE_SENSE = 81
    VBATH_SENSE = 82  # 0.376 V/LSB
    VBATL_SENSE = 83
    IQ5 = 88
    IQ6 = 89
    DCDC_PWM_PERIOD = 92
    DCDC_CONTROL = 93  # 0x19 engage; b7 DC-DC calibration busy
    DCDC_PWM_OFF = 94
    CALIBRATION_1 = 96  # 0x5F all calibrations; self-clears when done
    CALIBRATION_2 = 97
    CAL_RESULT_FIRST = 98
    CAL_DC_PEAK = 107  # must be 2..0x0D
    ENHANCEMENT = 108


class ProslicIndirect(enum.IntEnum):
    """Indirect registers in **Si3210** numbering (DAHDI ``indirect_regs[]``); see :func:`si3215_indirect`."""

    OSC1_COEF = 13
    OSC1X = 14
    OSC1Y = 15
    OSC2_COEF = 16
    OSC2X = 17
    OSC2Y = 18
    RING_V_OFF = 19
    RING_OSC = 20
    RING_X = 21
    RING_Y = 22
    PULSE_ENVEL = 23
    PULSE_X = 24
    PULSE_Y = 25
    RECV_DIGITAL_GAIN = 26
    XMIT_DIGITAL_GAIN = 27
    LOOP_CLOSE_TRES = 28
    RING_TRIP_TRES = 29
    COMMON_MIN_TRES = 30
    COMMON_MAX_TRES = 31
    PWR_ALARM_Q1Q2 = 32
    PWR_ALARM_Q3Q4 = 33
    PWR_ALARM_Q5Q6 = 34
    LOOP_CLOSURE_FILTER = 35
    RING_TRIP_FILTER = 36
    TERM_LP_POLE_Q1Q2 = 37
    TERM_LP_POLE_Q3Q4 = 38
    TERM_LP_POLE_Q5Q6 = 39
    CM_BIAS_RINGING = 40
    DCDC_MIN_V = 41
    DCDC_XTRA = 42
    LOOP_CLOSE_TRES_LOW = 43
    SCRATCH = 97


def si3215_indirect(address: int) -> int | None:
    """Translate a Si3210 indirect-register number to the Si3215's (None: the Si3215 has no such register).

    DAHDI ``translate_3215``/``indirect_regs[]`` and the ProSLIC API: IR13..40 -> -13; IR41 -> 64;
    IR43 -> 66; IR88..98 -> -13; IR99..104 -> -30; IR >= 208 unchanged; IR0..12 (DTMF decoder), IR23..25
    (pulse metering) and IR42 do not exist on the Si3215.
    """
    if 13 <= address <= 40 and not 23 <= address <= 25:
        return address - 13
    if address == 41:
        return 64
    if address == 43:
        return 66
    if 88 <= address <= 98:
        return address - 13
    if 99 <= address <= 104:
        return address - 30
    if address >= 208:
        return address
    return None


class Linefeed(enum.IntEnum):
    """ProSLIC linefeed states (DR64 bits 2:0; DAHDI ``SLIC_LF_*``)."""

    OPEN = 0
    FORWARD_ACTIVE = 1
    FORWARD_OHT = 2  # on-hook transmission: FSK caller ID, VMWI
    TIP_OPEN = 3
    RINGING = 4
    REVERSE_ACTIVE = 5
    REVERSE_OHT = 6
    RING_OPEN = 7

    @property
    def reversed(self) -> bool:
        """True for the reverse-polarity states (value | 0x04 of 1/2, DAHDI ``SLIC_LF_REVMASK``)."""
        return self in (Linefeed.REVERSE_ACTIVE, Linefeed.REVERSE_OHT)

    def with_polarity(self, reverse: bool) -> Linefeed:
        """The same state with forward or reverse polarity (only ACTIVE and OHT have both)."""
        pairs = {Linefeed.FORWARD_ACTIVE: Linefeed.REVERSE_ACTIVE, Linefeed.FORWARD_OHT: Linefeed.REVERSE_OHT}
        for forward, rev in pairs.items():
            if self in (forward, rev):
                return rev if reverse else forward
        return self


class DaaReg(enum.IntEnum):
    """Si3050 host-side registers (the line-side Si3018/19 is reached through them)."""

    CONTROL_1 = 1  # b7 soft reset (self-clearing)
    CONTROL_2 = 2  # reset value 0x03 (DAHDI's sanity check)
    IRQ_MASK = 3
    IRQ_SOURCE = 4  # b7 RDTI, b0 POLI; cleared by writing 0 to the bit
    DAA_CONTROL_1 = 5  # b6 RDTN, b5 RDTP, b3 ONHM, b2 RDT, b0 OH
    DAA_CONTROL_2 = 6  # b4 PDL: 1 = line side powered down
    SAMPLE_RATE = 7
    SYSTEM_REVISION = 11  # b7:4 LSID (0 = ISO link down), b3:0 REVA
    LINE_STATUS = 12  # b4:0 loop current, 3.3 mA/LSB
    LINE_SIDE_REVISION = 13
    DAISY_RPOL = 14
    TX_RX_MUTE = 15
    INTERNATIONAL_1 = 16  # b6 OHS, b1 RZ, b0 RT
    INTERNATIONAL_2 = 17  # b5 CALD
    INTERNATIONAL_3 = 18  # b1 RFWE full-wave ring detect
    INTERNATIONAL_4 = 19
    RING_VALIDATION_1 = 22
    RING_VALIDATION_2 = 23
    RING_VALIDATION_3 = 24
    RESISTOR_CALIBRATION = 25
    DC_TERMINATION = 26  # DCV<<6 | MINI<<4 | ILIM<<1 | DCR
    LOOP_CURRENT_STATUS = 28
    LINE_VOLTAGE_STATUS = 29  # signed, 1 V/LSB
    AC_TERMINATION = 30  # ACIM
    DAA_CONTROL_5 = 31  # 0xA3 | OHS2<<3
    GROUND_START = 32
    PCM_SPI_MODE = 33  # b5 PCME, b4:3 PCMF (00 A-law, 01 u-law, 11 linear)
    PCM_TX_START_LO = 34
    PCM_TX_START_HI = 35
    PCM_RX_START_LO = 36
    PCM_RX_START_HI = 37
    TX_GAIN_2 = 38
    RX_GAIN_2 = 39
    TX_GAIN_3 = 40
    RX_GAIN_3 = 41
    HYBRID_1 = 45
    SPARK_QUENCH = 59


class PcmLaw(enum.Enum):
    """Companding law of an 8-bit timeslot (ITU-T G.711)."""

    ULAW = "ulaw"
    ALAW = "alaw"

    @property
    def pcm_mode(self) -> int:
        """ProSLIC DR1 / DAA reg33 value with PCM enabled (DAHDI/XPP/OAK8X: 0x28 u-law, 0x20 A-law)."""
        return 0x28 if self is PcmLaw.ULAW else 0x20

    @property
    def silence(self) -> int:
        """The code of a zero sample (0xFF u-law, 0xD5 A-law)."""
        return 0xFF if self is PcmLaw.ULAW else 0xD5
