"""RFC 3264 offer/answer for audio: codec choice, m-line handling, directions, hold, versions."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.sip.offer_answer import (
    G722,
    PCMA,
    PCMU,
    Answer,
    Codec,
    LocalMedia,
    NegotiatedAudio,
    NoCommonCodec,
    apply_answer,
    audio_media_index,
    create_answer,
    create_offer,
    is_hold,
    is_unchanged,
)
from core.sip.sdp import Direction, RtpMap, SessionDescription
from tests.sip.test_sdp import BODIES, EXPECTED, crlf

LOCAL = LocalMedia("192.0.2.10", 10000)
HEAD = ("v=0", "o=- 5 5 IN IP4 198.51.100.7", "s=-", "c=IN IP4 198.51.100.7", "t=0 0")


def offer_of(*media_lines: str, head: tuple[str, ...] = HEAD) -> SessionDescription:
    return SessionDescription.parse(crlf(*head, *media_lines))


def answer(offer: SessionDescription, local: LocalMedia = LOCAL, *, prefer: Literal["offer", "local"] = "offer",
           single_codec: bool = False, previous: SessionDescription | None = None) -> Answer:
    result = create_answer(offer, local, session_id=77, prefer=prefer, single_codec=single_codec, previous=previous)
    assert isinstance(result, Answer), result
    return result


# body, codecs we enable -> (answer's formats, codec we send, our telephone-event pt, remote ptime)
@pytest.mark.parametrize(("name", "codecs", "formats", "codec", "dtmf", "ptime"), [
    # every body is answered with our codecs in the offer's order (RFC 3264 §6.1)
    ("asterisk", (PCMU, PCMA), ("0", "8", "101"), PCMU, 101, 20),
    ("freeswitch", (PCMU, PCMA), ("0", "8", "101"), PCMU, 101, 20),
    ("freeswitch", (PCMU, PCMA, G722), ("9", "0", "8", "101"), G722, 101, 20),  # G722 first when enabled
    # Linphone: opus/speex skipped; of three telephone-events only the 8000 Hz one (RFC 4733 §7.1.1)
    ("linphone", (PCMU, PCMA), ("0", "8", "100"), PCMU, 100, None),
    ("polycom", (PCMU, PCMA), ("0", "8", "127"), PCMU, 127, None),
    ("polycom", (PCMA, G722), ("9", "8", "127"), G722, 127, None),
    ("yealink", (PCMU, PCMA), ("0", "8", "101"), PCMU, 101, 20),
    # Cisco SPA: G729a and NSE (100) are not ours; telephone-event is 101
    ("cisco_spa", (PCMU, PCMA), ("0", "101"), PCMU, 101, 30),
    ("sipp_uac_pcap", (PCMU, PCMA), ("8", "101"), PCMA, 101, None),
])
def test_answers_to_real_offers(name: str, codecs: tuple[Codec, ...], formats: tuple[str, ...], codec: Codec,
                                dtmf: int, ptime: int | None) -> None:
    offer = SessionDescription.parse(BODIES[name])
    result = answer(offer, LocalMedia("192.0.2.10", 10000, codecs=codecs))
    media = result.sdp.media[0]
    assert media.formats == formats and media.port == 10000
    assert media.fmtp(dtmf) == "0-16"
    assert media.ptime == 20  # the packetisation we want to receive, whatever the offer asked for
    audio = result.audio
    assert (audio.codec, audio.dtmf_payload_type, audio.remote_ptime) == (codec, dtmf, ptime)
    assert audio.remote_rtp == (EXPECTED[name][1], EXPECTED[name][2])
    assert SessionDescription.parse(result.serialize()) == result.sdp


def test_answer_on_the_wire() -> None:
    result = answer(SessionDescription.parse(BODIES["asterisk"]))
    assert result.serialize() == crlf(
        "v=0",
        "o=- 77 77 IN IP4 192.0.2.10",
        "s=centralita",
        "c=IN IP4 192.0.2.10",
        "t=0 0",
        "m=audio 10000 RTP/AVP 0 8 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=ptime:20",
        "a=sendrecv",
    )


def test_offer_on_the_wire() -> None:
    local = LocalMedia("192.0.2.10", 10000, codecs=(G722, PCMA, PCMU), rtcp_port=10005, maxptime=150)
    assert create_offer(local, session_id=1234).serialize() == crlf(
        "v=0",
        "o=- 1234 1234 IN IP4 192.0.2.10",
        "s=centralita",
        "c=IN IP4 192.0.2.10",
        "t=0 0",
        "m=audio 10000 RTP/AVP 9 8 0 101",
        "a=rtcp:10005",
        "a=rtpmap:9 G722/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=ptime:20",
        "a=maxptime:150",
        "a=sendrecv",
    )


@pytest.mark.parametrize("media_lines", [
    pytest.param(("m=audio 4000 RTP/AVP 18 4", "a=rtpmap:18 G729/8000", "a=rtpmap:4 G723/8000"), id="g729-g723"),
    pytest.param(("m=audio 4000 RTP/AVP 9",), id="g722-not-enabled"),
    pytest.param(("m=audio 4000 RTP/AVP 96", "a=rtpmap:96 opus/48000/2"), id="opus-only"),
    pytest.param(("m=audio 4000 RTP/AVP 101", "a=rtpmap:101 telephone-event/8000"), id="telephone-event-only"),
    pytest.param(("m=audio 4000 RTP/AVP 96",), id="dynamic-pt-without-rtpmap"),
    pytest.param(("m=audio 4000 RTP/AVP 97", "a=rtpmap:97 PCMU/16000"), id="pcmu-wrong-clock-rate"),
    pytest.param(("m=audio 4000 RTP/AVP 97", "a=rtpmap:97 PCMU/8000/2"), id="pcmu-stereo"),
    pytest.param(("m=audio 4000 RTP/SAVP 0",), id="srtp-profile"),
    pytest.param(("m=audio 0 RTP/AVP 0",), id="audio-already-disabled"),
    pytest.param(("m=video 4000 RTP/AVP 96", "a=rtpmap:96 H264/90000"), id="video-only"),
    pytest.param(("m=image 4000 udptl t38",), id="t38-only"),
    pytest.param((), id="no-media"),
])
def test_no_common_codec_is_a_488(media_lines: tuple[str, ...]) -> None:
    result = create_answer(offer_of(*media_lines), LOCAL, session_id=1)
    assert isinstance(result, NoCommonCodec)
    assert (result.status, result.phrase) == (488, "Not Acceptable Here")
    assert result.reason


def test_webrtc_offer_is_not_acceptable() -> None:
    result = create_answer(SessionDescription.parse(BODIES["webrtc"]), LOCAL, session_id=1)
    assert isinstance(result, NoCommonCodec)
    assert "UDP/TLS/RTP/SAVPF" in result.reason


def test_dynamic_payload_types_keep_the_offerers_numbers() -> None:
    # RFC 3264 §6.1: the answer uses the offer's numbers; PCMA here lives at a dynamic number.
    offer = offer_of("m=audio 4000 RTP/AVP 96 97", "a=rtpmap:96 pcma/8000", "a=rtpmap:97 Telephone-Event/8000")
    result = answer(offer)
    media = result.sdp.media[0]
    assert media.formats == ("96", "97")
    assert media.rtpmaps == (RtpMap(96, "PCMA", 8000), RtpMap(97, "telephone-event", 8000))
    assert (result.audio.payload_type, result.audio.codec, result.audio.dtmf_payload_type) == (96, PCMA, 97)


@pytest.mark.parametrize("pt", [96, 100, 101, 127])
def test_telephone_event_numbers(pt: int) -> None:
    offer = offer_of(f"m=audio 4000 RTP/AVP 0 {pt}", f"a=rtpmap:{pt} telephone-event/8000", f"a=fmtp:{pt} 0-15")
    result = answer(offer)
    assert result.sdp.media[0].formats == ("0", str(pt))
    assert result.sdp.media[0].fmtp(pt) == "0-16"  # what we receive, as Asterisk announces it
    assert result.audio.dtmf_payload_type == pt


def test_telephone_event_at_another_clock_rate_is_not_used() -> None:
    offer = offer_of("m=audio 4000 RTP/AVP 0 110", "a=rtpmap:110 telephone-event/48000")
    result = answer(offer)
    assert result.sdp.media[0].formats == ("0",) and result.audio.dtmf_payload_type is None


def test_no_telephone_event_when_we_do_not_want_it() -> None:
    result = answer(SessionDescription.parse(BODIES["asterisk"]), LocalMedia("192.0.2.10", 10000,
                                                                              dtmf_payload_type=None))
    assert result.sdp.media[0].formats == ("0", "8") and result.sdp.media[0].fmtps == ()
    assert result.audio.dtmf_payload_type is None


def test_duplicate_payload_types() -> None:
    # "0" listed twice is answered once; two rtpmaps for 101: the first one counts, as in pjmedia.
    offer = offer_of("m=audio 4000 RTP/AVP 0 101 0 8", "a=rtpmap:101 telephone-event/8000",
                     "a=rtpmap:101 G726-32/8000")
    result = answer(offer)
    assert result.sdp.media[0].formats == ("0", "8", "101")
    assert result.audio.dtmf_payload_type == 101


def test_one_codec_listed_at_two_numbers_is_answered_once() -> None:
    result = answer(offer_of("m=audio 4000 RTP/AVP 96 0", "a=rtpmap:96 PCMU/8000"))
    assert result.sdp.media[0].formats == ("96",)
    assert result.audio.formats == ((96, PCMU),)


@pytest.mark.parametrize(("prefer", "single", "formats"), [
    ("offer", False, ("8", "0", "9")),   # RFC 3264 §6.1: the offer's relative order
    ("local", False, ("0", "9", "8")),   # Asterisk's incoming_call_offer_pref = local
    ("offer", True, ("8",)),             # Asterisk's preferred_codec_only
    ("local", True, ("0",)),
])
def test_codec_order(prefer: Literal["offer", "local"], single: bool, formats: tuple[str, ...]) -> None:
    offer = offer_of("m=audio 4000 RTP/AVP 8 0 9")
    local = LocalMedia("192.0.2.10", 10000, codecs=(PCMU, G722, PCMA), dtmf_payload_type=None)
    result = answer(offer, local, prefer=prefer, single_codec=single)
    assert result.sdp.media[0].formats == formats


@pytest.mark.parametrize(("offer_ptime", "our_ptime", "answer_line"), [
    ("a=ptime:30", 20, "a=ptime:20"),   # each side states what it wants to receive (RFC 4566 §6)
    ("a=ptime:10", 20, "a=ptime:20"),
    ("a=ptime:20", None, None),
])
def test_ptime_mismatch(offer_ptime: str, our_ptime: int | None, answer_line: str | None) -> None:
    result = answer(offer_of("m=audio 4000 RTP/AVP 0", offer_ptime),
                    LocalMedia("192.0.2.10", 10000, ptime=our_ptime))
    lines = result.sdp.serialize().decode().split("\r\n")
    assert [line for line in lines if line.startswith("a=ptime")] == ([answer_line] if answer_line else [])
    assert result.audio.remote_ptime == int(offer_ptime.split(":")[1])


@pytest.mark.parametrize(("media_lines", "expected"), [
    # RFC 3264 §6: same number and order of m-lines; the ones we do not take get port 0 with their formats
    (("m=audio 4000 RTP/AVP 0", "m=video 4002 RTP/AVP 96", "a=rtpmap:96 H264/90000"),
     ["m=audio 10000 RTP/AVP 0", "m=video 0 RTP/AVP 96"]),
    (("m=video 4002 RTP/AVP 96", "a=rtpmap:96 H264/90000", "m=audio 4000 RTP/AVP 8"),
     ["m=video 0 RTP/AVP 96", "m=audio 10000 RTP/AVP 8"]),
    # a second audio stream: we have one RTP port, the first usable stream wins (pjmedia marks it used)
    (("m=audio 4000 RTP/AVP 0", "m=audio 4002 RTP/AVP 8"), ["m=audio 10000 RTP/AVP 0", "m=audio 0 RTP/AVP 8"]),
    # the first audio stream has nothing for us, the second has
    (("m=audio 4000 RTP/AVP 18", "m=audio 4002 RTP/AVP 8"), ["m=audio 0 RTP/AVP 18", "m=audio 10000 RTP/AVP 8"]),
    (("m=audio 4000 RTP/AVP 0", "m=image 4004 udptl t38"), ["m=audio 10000 RTP/AVP 0", "m=image 0 udptl t38"]),
    (("m=audio 0 RTP/AVP 0", "m=audio 4000 RTP/AVP 0"), ["m=audio 0 RTP/AVP 0", "m=audio 10000 RTP/AVP 0"]),
])
def test_m_lines_keep_count_and_order(media_lines: tuple[str, ...], expected: list[str]) -> None:
    result = answer(offer_of(*media_lines))
    lines = [line for line in result.sdp.serialize().decode().split("\r\n") if line.startswith("m=")]
    assert lines == expected
    rejected = [m for m in result.sdp.media if m.port == 0]
    assert all(m.rtpmaps == () and m.direction is None and m.attributes == () for m in rejected)
    assert result.audio.media_index == next(i for i, m in enumerate(result.sdp.media) if m.port)


# RFC 3264 §6.1 and pjmedia's update_media_direction: we send only if we want to and the offerer
# receives; we receive only if we want to and the offerer sends.
@pytest.mark.parametrize(("offered", "ours", "answered"), [
    (Direction.SENDRECV, Direction.SENDRECV, Direction.SENDRECV),
    (Direction.SENDONLY, Direction.SENDRECV, Direction.RECVONLY),
    (Direction.RECVONLY, Direction.SENDRECV, Direction.SENDONLY),
    (Direction.INACTIVE, Direction.SENDRECV, Direction.INACTIVE),
    (Direction.SENDRECV, Direction.SENDONLY, Direction.SENDONLY),
    (Direction.SENDRECV, Direction.RECVONLY, Direction.RECVONLY),
    (Direction.SENDRECV, Direction.INACTIVE, Direction.INACTIVE),
    (Direction.SENDONLY, Direction.SENDONLY, Direction.INACTIVE),
    (Direction.SENDONLY, Direction.RECVONLY, Direction.RECVONLY),
    (Direction.RECVONLY, Direction.SENDONLY, Direction.SENDONLY),
    (Direction.RECVONLY, Direction.RECVONLY, Direction.INACTIVE),
])
def test_direction_negotiation(offered: Direction, ours: Direction, answered: Direction) -> None:
    result = answer(offer_of("m=audio 4000 RTP/AVP 0", f"a={offered.value}"),
                    LocalMedia("192.0.2.10", 10000, direction=ours))
    assert result.sdp.media[0].direction is answered
    assert result.audio.direction is answered
    assert f"a={answered.value}\r\n".encode() in result.serialize()


@pytest.mark.parametrize(("head", "media_lines", "held"), [
    # Asterisk negotiate_incoming_sdp_stream: sendonly, inactive or an any-address connection is hold
    (HEAD, ("m=audio 4000 RTP/AVP 0", "a=sendonly"), True),
    (HEAD, ("m=audio 4000 RTP/AVP 0", "a=inactive"), True),
    (HEAD, ("m=audio 4000 RTP/AVP 0", "a=recvonly"), False),
    (HEAD, ("m=audio 4000 RTP/AVP 0", "a=sendrecv"), False),
    (HEAD, ("m=audio 4000 RTP/AVP 0",), False),
    # RFC 3264 §8.4 / RFC 2543 legacy hold: c=0.0.0.0 with no direction attribute
    (HEAD[:3] + ("c=IN IP4 0.0.0.0", "t=0 0"), ("m=audio 4000 RTP/AVP 0",), True),
    (HEAD, ("m=audio 4000 RTP/AVP 0", "c=IN IP4 0.0.0.0", "a=sendrecv"), True),
    (HEAD[:3] + ("c=IN IP6 ::", "t=0 0"), ("m=audio 4000 RTP/AVP 0",), True),
    # session-level direction applies (pjmedia apply_media_direction), a media-level one overrides it
    (HEAD + ("a=sendonly",), ("m=audio 4000 RTP/AVP 0",), True),
    (HEAD + ("a=sendonly",), ("m=audio 4000 RTP/AVP 0", "a=sendrecv"), False),
    # only an active audio stream counts
    (HEAD, ("m=audio 0 RTP/AVP 0", "a=sendonly"), False),
    (HEAD, ("m=video 4000 RTP/AVP 96", "a=rtpmap:96 H264/90000", "a=sendonly"), False),
])
def test_hold_detection(head: tuple[str, ...], media_lines: tuple[str, ...], held: bool) -> None:
    offer = offer_of(*media_lines, head=head)
    assert is_hold(offer) is held


def test_answer_to_a_hold_reinvite() -> None:
    result = answer(offer_of("m=audio 4000 RTP/AVP 0 101", "a=rtpmap:101 telephone-event/8000", "a=sendonly"))
    assert result.audio.remote_hold and result.audio.direction is Direction.RECVONLY
    legacy = answer(offer_of("m=audio 4000 RTP/AVP 0", head=HEAD[:3] + ("c=IN IP4 0.0.0.0", "t=0 0")))
    assert legacy.audio.remote_hold and legacy.audio.remote_address == "0.0.0.0"


def test_ipv6() -> None:
    offer = offer_of("m=audio 4000 RTP/AVP 0", head=("v=0", "o=- 5 5 IN IP6 2001:db8::7", "s=-",
                                                     "c=IN IP6 2001:db8::7", "t=0 0"))
    result = answer(offer, LocalMedia("2001:db8::10", 10000))
    assert result.audio.remote_rtp == ("2001:db8::7", 4000)
    text = result.serialize()
    assert b"o=- 77 77 IN IP6 2001:db8::10\r\n" in text and b"c=IN IP6 2001:db8::10\r\n" in text


def test_rtcp_port() -> None:
    # RFC 3605: a=rtcp with an address overrides port + 1 and the RTP address.
    result = answer(SessionDescription.parse(BODIES["freeswitch"]))
    assert result.audio.remote_rtcp == ("198.51.100.20", 24581)
    offer = offer_of("m=audio 4000 RTP/AVP 0", "a=rtcp:4100 IN IP4 198.51.100.99")
    assert answer(offer).audio.remote_rtcp == ("198.51.100.99", 4100)
    assert answer(offer_of("m=audio 4000 RTP/AVP 0")).audio.remote_rtcp == ("198.51.100.7", 4001)
    ours = answer(offer, LocalMedia("192.0.2.10", 10000, rtcp_port=10001))
    assert b"a=rtcp:10001\r\n" in ours.serialize()


def test_answer_timing_equals_the_offers() -> None:
    offer = offer_of("m=audio 4000 RTP/AVP 0", head=HEAD[:4] + ("t=3034423619 3042462419",))
    assert answer(offer).sdp.timings == offer.timings  # RFC 3264 §6


# --- versions (RFC 3264 §8) ----------------------------------------------------------------------------

def test_reoffer_without_change_keeps_the_version() -> None:
    first = create_offer(LOCAL, session_id=1000)
    again = create_offer(LOCAL, session_id=999, previous=first)
    assert again == first and again.serialize() == first.serialize()


def test_reoffer_with_change_increments_the_version_only() -> None:
    first = create_offer(LOCAL, session_id=1000, session_version=7)
    hold = create_offer(LocalMedia("192.0.2.10", 10000, direction=Direction.SENDONLY), previous=first)
    assert hold.origin.session_version == 8
    assert (hold.origin.username, hold.origin.session_id, hold.origin.address) == ("-", "1000", "192.0.2.10")
    assert is_hold(hold)
    resume = create_offer(LOCAL, previous=hold)
    assert resume.origin.session_version == 9 and not is_hold(resume)
    moved = create_offer(LocalMedia("192.0.2.99", 10002), previous=resume)
    assert moved.origin.session_version == 10
    assert moved.origin.address == "192.0.2.10"  # the o= line stays as it was
    assert moved.connection is not None and moved.connection.address == "192.0.2.99"


def test_reoffer_keeps_earlier_m_lines_in_place() -> None:
    # Our previous answer took audio at index 1 and rejected video at 0: m-lines never disappear (§8).
    previous = answer(offer_of("m=video 4002 RTP/AVP 96", "a=rtpmap:96 H264/90000", "m=audio 4000 RTP/AVP 0")).sdp
    reoffer = create_offer(LocalMedia("192.0.2.10", 10000, direction=Direction.SENDONLY), previous=previous)
    assert [(m.kind, m.port) for m in reoffer.media] == [("video", 0), ("audio", 10000)]
    assert reoffer.origin.session_version == previous.origin.session_version + 1


def test_reanswer_to_a_session_refresh_keeps_the_version() -> None:
    offer = SessionDescription.parse(BODIES["yealink"])
    first = answer(offer)
    assert is_unchanged(offer, SessionDescription.parse(BODIES["yealink"]))
    again = answer(offer, previous=first.sdp)
    assert again.sdp == first.sdp
    hold = answer(offer_of("m=audio 4000 RTP/AVP 0", "a=sendonly"), previous=first.sdp)
    assert hold.sdp.origin.session_version == first.sdp.origin.session_version + 1


def test_is_unchanged() -> None:
    offer = SessionDescription.parse(BODIES["asterisk"])
    bumped = SessionDescription.parse(BODIES["asterisk"].replace(b"1822154398 1822154398", b"1822154398 1822154399"))
    assert is_unchanged(offer, offer) and not is_unchanged(offer, bumped) and not is_unchanged(None, offer)


# --- our offer, their answer (RFC 3264 §7) ---------------------------------------------------------------

OUR_OFFER = create_offer(LocalMedia("192.0.2.10", 10000, codecs=(PCMA, PCMU, G722)), session_id=5)


def their_answer(*media_lines: str) -> SessionDescription:
    return offer_of(*media_lines, head=("v=0", "o=- 9 9 IN IP4 203.0.113.5", "s=Asterisk",
                                        "c=IN IP4 203.0.113.5", "t=0 0"))


def test_apply_answer() -> None:
    result = apply_answer(OUR_OFFER, their_answer("m=audio 12410 RTP/AVP 0 101", "a=rtpmap:101 telephone-event/8000",
                                                  "a=fmtp:101 0-16", "a=ptime:20", "a=sendrecv"))
    assert isinstance(result, NegotiatedAudio)
    assert (result.codec, result.payload_type, result.dtmf_payload_type) == (PCMU, 0, 101)
    assert result.remote_rtp == ("203.0.113.5", 12410) and result.direction is Direction.SENDRECV


def test_apply_answer_uses_the_answers_numbers() -> None:
    result = apply_answer(OUR_OFFER, their_answer("m=audio 5000 RTP/AVP 8 96", "a=rtpmap:96 telephone-event/8000"))
    assert isinstance(result, NegotiatedAudio) and result.dtmf_payload_type == 96


@pytest.mark.parametrize(("direction", "ours"), [
    ("a=recvonly", Direction.SENDONLY), ("a=sendonly", Direction.RECVONLY), ("a=inactive", Direction.INACTIVE)])
def test_apply_answer_direction(direction: str, ours: Direction) -> None:
    result = apply_answer(OUR_OFFER, their_answer("m=audio 5000 RTP/AVP 8", direction))
    assert isinstance(result, NegotiatedAudio) and result.direction is ours


@pytest.mark.parametrize("media_lines", [
    pytest.param(("m=audio 0 RTP/AVP 8",), id="rejected"),
    pytest.param(("m=audio 5000 RTP/AVP 18",), id="codec-we-did-not-offer"),
    pytest.param((), id="no-m-line"),
])
def test_apply_answer_without_audio(media_lines: tuple[str, ...]) -> None:
    assert isinstance(apply_answer(OUR_OFFER, their_answer(*media_lines)), NoCommonCodec)


def test_telephone_event_in_answer_ignored_when_not_offered() -> None:
    offer = create_offer(LocalMedia("192.0.2.10", 10000, dtmf_payload_type=None), session_id=5)
    result = apply_answer(offer, their_answer("m=audio 5000 RTP/AVP 0 101", "a=rtpmap:101 telephone-event/8000"))
    assert isinstance(result, NegotiatedAudio) and result.dtmf_payload_type is None


def test_offer_answer_between_two_gateways() -> None:
    alice = LocalMedia("192.0.2.1", 20000, codecs=(G722, PCMA))
    bob = LocalMedia("192.0.2.2", 30000, codecs=(PCMA, PCMU), dtmf_payload_type=96)
    offer = SessionDescription.parse(create_offer(alice, session_id=1).serialize())
    result = create_answer(offer, bob, session_id=2)
    assert isinstance(result, Answer)
    assert (result.audio.codec, result.audio.dtmf_payload_type) == (PCMA, 101)  # bob answers alice's 101
    back = apply_answer(offer, SessionDescription.parse(result.serialize()))
    assert isinstance(back, NegotiatedAudio)
    assert (back.codec, back.dtmf_payload_type, back.remote_rtp) == (PCMA, 101, ("192.0.2.2", 30000))


# --- local configuration ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [
    {"port": 0}, {"port": 70000}, {"codecs": ()}, {"codecs": (PCMU, PCMU)}, {"codecs": (Codec("G729", 18),)},
    {"dtmf_payload_type": 13}, {"ptime": 0}, {"rtcp_port": 0},
])
def test_local_media_validation(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        LocalMedia(**{"address": "192.0.2.10", "port": 10000, **kwargs})


def test_audio_media_index() -> None:
    assert audio_media_index(offer_of("m=video 4002 RTP/AVP 96", "a=rtpmap:96 H264/90000",
                                      "m=audio 4000 RTP/AVP 0")) == 1
    assert audio_media_index(offer_of("m=audio 0 RTP/AVP 0")) is None


# --- properties -------------------------------------------------------------------------------------

_FORMATS = {
    "0": None, "8": None, "9": None, "18": None, "3": None, "13": None,
    "96": "opus/48000/2", "97": "PCMA/8000", "98": "telephone-event/8000", "99": "telephone-event/16000",
    "100": "speex/8000", "101": "telephone-event/8000",
}
_CODEC_OF = {"0": PCMU, "8": PCMA, "9": G722, "97": PCMA}
_STREAMS = st.tuples(
    st.sampled_from(["audio", "audio", "video", "image"]),
    st.sampled_from([0, 4000]),
    st.sampled_from(["RTP/AVP", "RTP/AVP", "RTP/SAVP"]),
    st.lists(st.sampled_from(sorted(_FORMATS)), min_size=1, max_size=6),
    st.sampled_from(["", "a=sendonly", "a=recvonly", "a=inactive", "a=sendrecv"]),
)


@settings(max_examples=300)
@given(st.lists(_STREAMS, max_size=4),
       st.sampled_from([(PCMU,), (PCMA, PCMU), (G722, PCMU, PCMA), (PCMA, G722)]))
def test_every_answer_mirrors_the_offer(streams: list[tuple[str, int, str, list[str], str]],
                                        codecs: tuple[Codec, ...]) -> None:
    lines: list[str] = []
    for kind, port, protocol, formats, direction in streams:
        lines.append(f"m={kind} {port} {protocol} {' '.join(formats)}")
        lines += [f"a=rtpmap:{f} {_FORMATS[f]}" for f in dict.fromkeys(formats) if _FORMATS[f]]
        lines += [direction] if direction else []
    offer = offer_of(*lines)
    result = create_answer(offer, LocalMedia("192.0.2.10", 10000, codecs=codecs), session_id=1)
    # What the first usable stream should give: our codecs in the offer's order, one number per codec,
    # then the 8000 Hz telephone-event the offer lists first.
    expected: tuple[int, list[str]] | None = None
    for index, m in enumerate(offer.media):
        if m.kind == "audio" and m.port and m.protocol == "RTP/AVP":
            picked: dict[Codec, str] = {}
            for f in m.formats:
                codec = _CODEC_OF.get(f)
                if codec in codecs and codec not in picked:
                    picked[codec] = f
            if picked:
                dtmf = [f for f in m.formats if f in ("98", "101")][:1]
                expected = (index, [*picked.values(), *dtmf])
                break
    if expected is None:
        assert isinstance(result, NoCommonCodec)
        return
    assert isinstance(result, Answer)
    assert len(result.sdp.media) == len(offer.media)
    assert [i for i, m in enumerate(result.sdp.media) if m.port] == [expected[0]] == [result.audio.media_index]
    assert list(result.sdp.media[expected[0]].formats) == expected[1]
    for ours, theirs in zip(result.sdp.media, offer.media, strict=True):
        assert (ours.kind, ours.protocol) == (theirs.kind, theirs.protocol)
        assert ours.port != 0 or ours.formats == theirs.formats
    assert SessionDescription.parse(result.serialize()) == result.sdp
