"""Wire constants of IAX2: frame types, subclasses, information elements, methods and media formats.

Values are RFC 5456 §8 (frame types §8.2, control subclasses §8.3, IAX subclasses §8.4, information elements
§8.6, media formats §8.7) as registered by RFC 5457, completed with the values Asterisk's chan_iax2 puts on the
wire (``channels/iax2/include/iax2.h``, ``include/asterisk/format_compatibility.h``), which real peers use.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

from core.causes import HangupCause

IAX_PORT = 4569
"""The IANA port of IAX2 (RFC 5456 §3)."""

PROTOCOL_VERSION = 2
"""The VERSION information element of a NEW (RFC 5456 §8.6.10)."""

MAX_CALL_NUMBER = 0x7FFF
"""Call numbers are 15 bits (RFC 5456 §8.1.1)."""

FULL_HEADER_SIZE = 12
MINI_HEADER_SIZE = 4


class FrameType(IntEnum):
    """Frame types of full frames (RFC 5456 §8.2; 11 and 12 are Asterisk's ``AST_FRAME_MODEM``/``DTMF_BEGIN``)."""

    DTMF_END = 1
    VOICE = 2
    VIDEO = 3
    CONTROL = 4
    NULL = 5
    IAX = 6
    TEXT = 7
    IMAGE = 8
    HTML = 9
    CNG = 10
    MODEM = 11
    DTMF_BEGIN = 12


class IaxCommand(IntEnum):
    """Subclasses of IAX frames, the protocol's own messages (RFC 5456 §8.4, Asterisk ``iax2.h``)."""

    NEW = 1
    PING = 2
    PONG = 3
    ACK = 4
    HANGUP = 5
    REJECT = 6
    ACCEPT = 7
    AUTHREQ = 8
    AUTHREP = 9
    INVAL = 10
    LAGRQ = 11
    LAGRP = 12
    REGREQ = 13
    REGAUTH = 14
    REGACK = 15
    REGREJ = 16
    REGREL = 17
    VNAK = 18
    DPREQ = 19
    DPREP = 20
    DIAL = 21
    TXREQ = 22
    TXCNT = 23
    TXACC = 24
    TXREADY = 25
    TXREL = 26
    TXREJ = 27
    QUELCH = 28
    UNQUELCH = 29
    POKE = 30
    PAGE = 31
    MWI = 32
    UNSUPPORT = 33
    TRANSFER = 34
    PROVISION = 35
    FWDOWNL = 36
    FWDATA = 37
    TXMEDIA = 38
    RTKEY = 39
    CALLTOKEN = 40


CauseCode = HangupCause
"""The CAUSECODE element's values: RFC 5456 §8.6.33 takes them from Q.931/Q.850 (``core.causes``)."""


SEQUENCE_NEUTRAL = frozenset({IaxCommand.ACK, IaxCommand.INVAL, IaxCommand.TXCNT, IaxCommand.TXACC, IaxCommand.VNAK})
"""Messages that do not advance OSeqno when sent nor ISeqno when received (RFC 5456 §7)."""


class ControlSubclass(IntEnum):
    """Subclasses of CONTROL frames (RFC 5456 §8.3; the values above 17 are Asterisk's ``ast_control_frame_type``)."""

    HANGUP = 1
    RING = 2
    RINGING = 3
    ANSWER = 4
    BUSY = 5
    TAKEOFFHOOK = 6
    OFFHOOK = 7
    CONGESTION = 8
    FLASH = 9
    WINK = 10
    OPTION = 11
    RADIO_KEY = 12
    RADIO_UNKEY = 13
    PROGRESS = 14
    PROCEEDING = 15
    HOLD = 16
    UNHOLD = 17
    VIDUPDATE = 18
    T38 = 19
    SRCUPDATE = 20
    TRANSFER = 21
    CONNECTED_LINE = 22
    REDIRECTING = 23
    T38_PARAMETERS = 24
    CC = 25
    SRCCHANGE = 26
    READ_ACTION = 27
    AOC = 28
    END_OF_Q = 29
    INCOMPLETE = 30
    MCID = 31
    UPDATE_RTP_PEER = 32
    PVT_CAUSE_CODE = 33


class InfoElement(IntEnum):
    """Information element identifiers (RFC 5456 §8.6 Table 1; 29-37 and 55-57 as Asterisk ``iax2.h``)."""

    CALLED_NUMBER = 1
    CALLING_NUMBER = 2
    CALLING_ANI = 3
    CALLING_NAME = 4
    CALLED_CONTEXT = 5
    USERNAME = 6
    PASSWORD = 7
    CAPABILITY = 8
    FORMAT = 9
    LANGUAGE = 10
    VERSION = 11
    ADSICPE = 12
    DNID = 13
    AUTHMETHODS = 14
    CHALLENGE = 15
    MD5_RESULT = 16
    RSA_RESULT = 17
    APPARENT_ADDR = 18
    REFRESH = 19
    DPSTATUS = 20
    CALLNO = 21
    CAUSE = 22
    IAX_UNKNOWN = 23
    MSGCOUNT = 24
    AUTOANSWER = 25
    MUSICONHOLD = 26
    TRANSFERID = 27
    RDNIS = 28
    PROVISIONING = 29
    AESPROVISIONING = 30
    DATETIME = 31
    DEVICETYPE = 32
    SERVICEIDENT = 33
    FIRMWAREVER = 34
    FWBLOCKDESC = 35
    FWBLOCKDATA = 36
    PROVVER = 37
    CALLINGPRES = 38
    CALLINGTON = 39
    CALLINGTNS = 40
    SAMPLINGRATE = 41
    CAUSECODE = 42
    ENCRYPTION = 43
    ENCKEY = 44
    CODEC_PREFS = 45
    RR_JITTER = 46
    RR_LOSS = 47
    RR_PKTS = 48
    RR_DELAY = 49
    RR_DROPPED = 50
    RR_OOO = 51
    VARIABLE = 52
    OSPTOKEN = 53
    CALLTOKEN = 54
    CAPABILITY2 = 55
    FORMAT2 = 56
    CALLINGANI2 = 57


class AuthMethod(IntFlag):
    """The AUTHMETHODS bitmask (RFC 5456 §8.6.13; plaintext is Asterisk's ``IAX_AUTH_PLAINTEXT``)."""

    NONE = 0
    PLAINTEXT = 0x0001
    MD5 = 0x0002
    RSA = 0x0004


class Encryption(IntFlag):
    """The ENCRYPTION bitmask (RFC 5456 §8.6.34; key rotation is Asterisk's ``IAX_ENCRYPT_KEYROTATE``)."""

    NONE = 0
    AES128 = 0x0001
    KEYROTATE = 0x8000


class MetaCommand(IntEnum):
    """The meta command of a meta frame (RFC 5456 §8.1.3; Asterisk ``IAX_META_*``)."""

    TRUNK = 1
    VIDEO = 2


class TrunkFormat(IntEnum):
    """Command data of a trunk meta frame: bit 0 set means per-call timestamps (RFC 5456 §8.1.3.2)."""

    SUPERMINI = 0
    """Entries are ``callno(2) len(2) data``: no per-call timestamps."""
    MINI = 1
    """Entries are ``len(2) callno(2) ts16(2) data`` (``trunktimestamps=yes``)."""


class DialplanStatus(IntFlag):
    """DPSTATUS bits (RFC 5456 §8.6.19)."""

    EXISTS = 0x0001
    CANEXIST = 0x0002
    NONEXISTENT = 0x0004
    IGNOREPAT = 0x4000
    MATCHMORE = 0x8000


class SamplingRate(IntFlag):
    """SAMPLINGRATE bits (Asterisk ``IAX_RATE_*``; 8 kHz when absent, RFC 5456 §8.6.32)."""

    RATE_8KHZ = 0x01
    RATE_11KHZ = 0x02
    RATE_16KHZ = 0x04
    RATE_22KHZ = 0x08
    RATE_44KHZ = 0x10
    RATE_48KHZ = 0x20


class CallingPresentation(IntEnum):
    """CALLINGPRES values (RFC 5456 §8.6.29, the Q.931 presentation and screening octet)."""

    ALLOWED_NOT_SCREENED = 0x00
    ALLOWED_PASSED_SCREEN = 0x01
    ALLOWED_FAILED_SCREEN = 0x02
    ALLOWED_NETWORK_NUMBER = 0x03
    PROHIBITED_NOT_SCREENED = 0x20
    PROHIBITED_PASSED_SCREEN = 0x21
    PROHIBITED_FAILED_SCREEN = 0x22
    PROHIBITED_NETWORK_NUMBER = 0x23
    NUMBER_NOT_AVAILABLE = 0x43


class MediaFormat(IntFlag):
    """Media format bits of FORMAT/CAPABILITY (32 bits) and FORMAT2/CAPABILITY2 (64 bits).

    Asterisk's legacy bitfield (``include/asterisk/format_compatibility.h``), which is what chan_iax2 sends;
    RFC 5456 §8.7 agrees below bit 13 (it lists AMR at 0x2000 where Asterisk has Siren7).
    """

    NONE = 0
    G723 = 1 << 0
    GSM = 1 << 1
    ULAW = 1 << 2
    ALAW = 1 << 3
    G726_AAL2 = 1 << 4
    ADPCM = 1 << 5
    SLIN = 1 << 6
    LPC10 = 1 << 7
    G729 = 1 << 8
    SPEEX = 1 << 9
    ILBC = 1 << 10
    G726 = 1 << 11
    G722 = 1 << 12
    SIREN7 = 1 << 13
    SIREN14 = 1 << 14
    SLIN16 = 1 << 15
    JPEG = 1 << 16
    PNG = 1 << 17
    H261 = 1 << 18
    H263 = 1 << 19
    H263P = 1 << 20
    H264 = 1 << 21
    MP4 = 1 << 22
    VP8 = 1 << 23
    T140_RED = 1 << 26
    T140 = 1 << 27
    G719 = 1 << 32
    SPEEX16 = 1 << 33
    OPUS = 1 << 34
    CODEC2 = 1 << 42
    TESTLAW = 1 << 47


AUDIO_FORMATS = (MediaFormat.G723 | MediaFormat.GSM | MediaFormat.ULAW | MediaFormat.ALAW | MediaFormat.G726_AAL2
                 | MediaFormat.ADPCM | MediaFormat.SLIN | MediaFormat.LPC10 | MediaFormat.G729 | MediaFormat.SPEEX
                 | MediaFormat.ILBC | MediaFormat.G726 | MediaFormat.G722 | MediaFormat.SIREN7 | MediaFormat.SIREN14
                 | MediaFormat.SLIN16 | MediaFormat.G719 | MediaFormat.SPEEX16 | MediaFormat.OPUS
                 | MediaFormat.CODEC2 | MediaFormat.TESTLAW)

FORMAT_NAMES: dict[int, str] = {
    MediaFormat.G723: "g723", MediaFormat.GSM: "gsm", MediaFormat.ULAW: "ulaw", MediaFormat.ALAW: "alaw",
    MediaFormat.G726_AAL2: "g726aal2", MediaFormat.ADPCM: "adpcm", MediaFormat.SLIN: "slin",
    MediaFormat.LPC10: "lpc10", MediaFormat.G729: "g729", MediaFormat.SPEEX: "speex", MediaFormat.ILBC: "ilbc",
    MediaFormat.G726: "g726", MediaFormat.G722: "g722", MediaFormat.SIREN7: "siren7",
    MediaFormat.SIREN14: "siren14", MediaFormat.SLIN16: "slin16", MediaFormat.G719: "g719",
    MediaFormat.SPEEX16: "speex16", MediaFormat.OPUS: "opus", MediaFormat.CODEC2: "codec2",
    MediaFormat.TESTLAW: "testlaw",
}
"""Asterisk's codec names (``core show codecs``), as ``iax2 show channels`` prints them."""

_SAMPLES_PER_BYTE: dict[int, float] = {
    MediaFormat.ULAW: 1.0, MediaFormat.ALAW: 1.0, MediaFormat.TESTLAW: 1.0, MediaFormat.SLIN: 0.5,
    MediaFormat.SLIN16: 0.5, MediaFormat.G722: 2.0, MediaFormat.G726: 2.0, MediaFormat.G726_AAL2: 2.0,
    MediaFormat.ADPCM: 2.0,
}
_SAMPLE_RATES: dict[int, int] = {MediaFormat.SLIN16: 16000, MediaFormat.G722: 16000, MediaFormat.SPEEX16: 16000,
                                 MediaFormat.SIREN7: 16000, MediaFormat.SIREN14: 32000, MediaFormat.G719: 48000,
                                 MediaFormat.OPUS: 48000}


def format_name(fmt: int) -> str:
    """Asterisk's name of one format bit (``"ulaw"``), or its hex value."""
    return FORMAT_NAMES.get(fmt, f"0x{fmt:x}")


def sample_rate(fmt: int) -> int:
    """Samples per second of an audio format (G.722 counts 16000 as Asterisk does; 8000 otherwise)."""
    return _SAMPLE_RATES.get(fmt, 8000)


def samples_in(fmt: int, payload_size: int) -> int:
    """How many samples ``payload_size`` bytes of ``fmt`` hold (0 for formats of unknown framing).

    For the waveform codecs we carry, the count follows from the size: G.711 one byte per sample, signed
    linear two bytes, G.722/G.726/ADPCM two samples per byte (Asterisk's ``*_samples`` callbacks); this is
    what advances voice timestamps.
    """
    per_byte = _SAMPLES_PER_BYTE.get(fmt)
    if per_byte is None:
        if fmt == MediaFormat.GSM:
            return (payload_size // 33) * 160
        if fmt == MediaFormat.G729:
            return (payload_size // 10) * 80 + (80 if payload_size % 10 == 2 else 0)
        return 0
    return int(payload_size * per_byte)


def lowest_format(mask: int) -> int:
    """The lowest set bit of a format mask (0 for an empty mask)."""
    return mask & -mask


def formats_in(mask: int) -> list[int]:
    """The single-bit formats of a mask, lowest first."""
    out = []
    while mask:
        bit = mask & -mask
        out.append(bit)
        mask ^= bit
    return out
