"""SDP parsing and serialisation (RFC 4566) over bodies shaped like those real phones and servers send."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.sip.sdp import (
    Attribute,
    Bandwidth,
    Connection,
    Direction,
    Fmtp,
    MediaDescription,
    Origin,
    RtcpAttribute,
    RtpMap,
    SdpError,
    SessionDescription,
    Timing,
)


def crlf(*lines: str) -> bytes:
    """A body with CRLF after every line, as RFC 4566 §5 writes it."""
    return "".join(line + "\r\n" for line in lines).encode()


# Bodies written the way each implementation writes them (line order, attributes, numbering).
BODIES: dict[str, bytes] = {
    # Asterisk 20 chan_pjsip (res_pjsip_sdp_rtp.c): o=- N N, s=Asterisk, ptime+maxptime, explicit sendrecv.
    "asterisk": crlf(
        "v=0",
        "o=- 1822154398 1822154398 IN IP4 203.0.113.5",
        "s=Asterisk",
        "c=IN IP4 203.0.113.5",
        "t=0 0",
        "m=audio 12410 RTP/AVP 0 8 3 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:3 GSM/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=ptime:20",
        "a=maxptime:150",
        "a=sendrecv",
    ),
    # FreeSWITCH: G722 first, CN, rtcp with address after the direction.
    "freeswitch": crlf(
        "v=0",
        "o=FreeSWITCH 1700000000 1700000001 IN IP4 198.51.100.20",
        "s=FreeSWITCH",
        "c=IN IP4 198.51.100.20",
        "t=0 0",
        "m=audio 24580 RTP/AVP 9 0 8 101 13",
        "a=rtpmap:9 G722/8000",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=rtpmap:13 CN/8000",
        "a=ptime:20",
        "a=sendrecv",
        "a=rtcp:24581 IN IP4 198.51.100.20",
    ),
    # Linphone: LF-only line ends, dynamic codecs first, three telephone-event clock rates.
    "linphone": (
        b"v=0\n"
        b"o=alice 2187 3366 IN IP4 192.168.1.34\n"
        b"s=Talk\n"
        b"c=IN IP4 192.168.1.34\n"
        b"t=0 0\n"
        b"a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\n"
        b"m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100\n"
        b"a=rtpmap:96 opus/48000/2\n"
        b"a=fmtp:96 useinbandfec=1\n"
        b"a=rtpmap:97 speex/16000\n"
        b"a=fmtp:97 vbr=on\n"
        b"a=rtpmap:98 speex/8000\n"
        b"a=fmtp:98 vbr=on\n"
        b"a=fmtp:18 annexb=yes\n"
        b"a=rtpmap:101 telephone-event/48000\n"
        b"a=rtpmap:99 telephone-event/16000\n"
        b"a=rtpmap:100 telephone-event/8000\n"
        b"a=rtcp-fb:* trr-int 1000\n"
        b"a=rtcp-fb:* ccm tmmbr\n"
    ),
    # Polycom VVX: session-level a=sendrecv, G.722.1 dynamic, telephone-event at 127.
    "polycom": crlf(
        "v=0",
        "o=- 1698765432 1698765432 IN IP4 10.0.0.51",
        "s=Polycom IP Phone",
        "c=IN IP4 10.0.0.51",
        "t=0 0",
        "a=sendrecv",
        "m=audio 2222 RTP/AVP 9 102 0 8 18 127",
        "a=rtpmap:9 G722/8000",
        "a=rtpmap:102 G7221/16000",
        "a=fmtp:102 bitrate=32000",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:18 G729/8000",
        "a=fmtp:18 annexb=no",
        "a=rtpmap:127 telephone-event/8000",
    ),
    # Yealink: fmtp before its rtpmap, 0-15, trailing blanks after some lines.
    "yealink": crlf(
        "v=0",
        "o=- 20010 20010 IN IP4 192.168.10.23",
        "s=SDP data",
        "c=IN IP4 192.168.10.23",
        "t=0 0 ",
        "m=audio 11780 RTP/AVP 0 8 18 9 101 ",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:18 G729/8000",
        "a=fmtp:18 annexb=no",
        "a=rtpmap:9 G722/8000",
        "a=fmtp:101 0-15",
        "a=rtpmap:101 telephone-event/8000",
        "a=ptime:20\t",
        "a=sendrecv",
    ),
    # Cisco SPA112: G729a first, Cisco NSE at 100, ptime 30.
    "cisco_spa": crlf(
        "v=0",
        "o=- 12345 12345 IN IP4 192.168.0.20",
        "s=-",
        "c=IN IP4 192.168.0.20",
        "t=0 0",
        "m=audio 16434 RTP/AVP 18 0 100 101",
        "a=rtpmap:18 G729a/8000",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:100 NSE/8000",
        "a=fmtp:100 192-193",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-15",
        "a=ptime:30",
        "a=sendrecv",
    ),
    # SIPp's uac_pcap scenario: PCMA and telephone-event with an event list.
    "sipp_uac_pcap": crlf(
        "v=0",
        "o=user1 53655765 2353687637 IN IP4 127.0.0.1",
        "s=-",
        "c=IN IP4 127.0.0.1",
        "t=0 0",
        "m=audio 6000 RTP/AVP 8 101",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-11,16",
    ),
    # A browser (WebRTC through a SIP-over-WebSocket library): no session c=, ICE/DTLS, many attributes.
    "webrtc": crlf(
        "v=0",
        "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0",
        "a=extmap-allow-mixed",
        "a=msid-semantic: WMS 3d8f0c4e",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
        "c=IN IP4 0.0.0.0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        "a=ice-ufrag:Xn4q",
        "a=ice-pwd:0s9Xf1cfNn2D7mS4Tq6sYyZz",
        "a=ice-options:trickle",
        "a=fingerprint:sha-256 5B:D2:7C:10:38:0C:6F:1E:AA:21:0B:9E:37:0A:F2:55:4F:1C:3A:9D:6E:2F:0A:17:24:"
        "B9:41:8D:66:C3:2E:01",
        "a=setup:actpass",
        "a=mid:0",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        "a=sendrecv",
        "a=msid:- 6a1d7e52-7c1b-4c8e-8a0e-1c0f7b1f3a2d",
        "a=rtcp-mux",
        "a=rtpmap:111 opus/48000/2",
        "a=rtcp-fb:111 transport-cc",
        "a=fmtp:111 minptime=10;useinbandfec=1",
        "a=rtpmap:63 red/48000/2",
        "a=fmtp:63 111/111",
        "a=rtpmap:9 G722/8000",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:13 CN/8000",
        "a=rtpmap:110 telephone-event/48000",
        "a=rtpmap:126 telephone-event/8000",
        "a=ssrc:1734519632 cname:1qW2e3R4t5Y6u7I8",
    ),
}


# body -> (origin version, RTP address, RTP port, formats, ptime, direction of the audio stream)
EXPECTED = {
    "asterisk": (1822154398, "203.0.113.5", 12410, ("0", "8", "3", "101"), 20, Direction.SENDRECV),
    "freeswitch": (1700000001, "198.51.100.20", 24580, ("9", "0", "8", "101", "13"), 20, Direction.SENDRECV),
    "linphone": (3366, "192.168.1.34", 7078, ("96", "97", "98", "0", "8", "18", "101", "99", "100"), None,
                 Direction.SENDRECV),
    "polycom": (1698765432, "10.0.0.51", 2222, ("9", "102", "0", "8", "18", "127"), None, Direction.SENDRECV),
    "yealink": (20010, "192.168.10.23", 11780, ("0", "8", "18", "9", "101"), 20, Direction.SENDRECV),
    "cisco_spa": (12345, "192.168.0.20", 16434, ("18", "0", "100", "101"), 30, Direction.SENDRECV),
    "sipp_uac_pcap": (2353687637, "127.0.0.1", 6000, ("8", "101"), None, Direction.SENDRECV),
    "webrtc": (2, "0.0.0.0", 9, ("111", "63", "9", "0", "8", "13", "110", "126"), None, Direction.SENDRECV),
}


@pytest.mark.parametrize("name", sorted(BODIES))
def test_real_bodies_parse(name: str) -> None:
    sdp = SessionDescription.parse(BODIES[name])
    version, address, port, formats, ptime, direction = EXPECTED[name]
    (audio,) = sdp.media
    assert sdp.origin.session_version == version
    connection = sdp.connection_for(audio)
    assert connection is not None and connection.address == address
    assert (audio.kind, audio.port, audio.formats, audio.ptime) == ("audio", port, formats, ptime)
    assert sdp.direction_for(audio) is direction


@pytest.mark.parametrize("name", sorted(BODIES))
def test_real_bodies_round_trip(name: str) -> None:
    sdp = SessionDescription.parse(BODIES[name])
    assert SessionDescription.parse(sdp.serialize()) == sdp


def test_asterisk_body_is_written_back_byte_for_byte() -> None:
    # Our canonical order (rtpmaps, fmtps, ptime, maxptime, other attributes, direction) is the order
    # res_pjsip_sdp_rtp.c writes in, so an Asterisk body comes back unchanged.
    assert SessionDescription.parse(BODIES["asterisk"]).serialize() == BODIES["asterisk"]


def test_lf_only_and_trailing_blanks_read_like_crlf() -> None:
    clean = SessionDescription.parse(BODIES["yealink"].replace(b" \r\n", b"\r\n").replace(b"\t\r\n", b"\r\n"))
    assert SessionDescription.parse(BODIES["yealink"]) == clean
    assert SessionDescription.parse(BODIES["asterisk"].replace(b"\r\n", b"\n")) == \
        SessionDescription.parse(BODIES["asterisk"])


def test_a_string_body_parses_like_bytes() -> None:
    assert SessionDescription.parse(BODIES["asterisk"].decode()) == SessionDescription.parse(BODIES["asterisk"])


def test_well_known_attributes_are_typed() -> None:
    sdp = SessionDescription.parse(BODIES["freeswitch"])
    audio = sdp.media[0]
    assert audio.rtpmap(101) == RtpMap(101, "telephone-event", 8000)
    assert audio.rtpmap(9) == RtpMap(9, "G722", 8000)
    assert audio.fmtp(101) == "0-16"
    assert audio.fmtp("0") is None
    assert audio.rtcp == RtcpAttribute(24581, Connection("198.51.100.20"))
    assert audio.rtcp_port == 24581
    assert audio.payload_types == (9, 0, 8, 101, 13)
    linphone = SessionDescription.parse(BODIES["linphone"]).media[0]
    assert linphone.rtpmap(96) == RtpMap(96, "opus", 48000, 2)
    assert linphone.fmtp(18) == "annexb=yes"  # an fmtp without an rtpmap (static payload type) is kept
    assert linphone.rtcp_port == 7079  # no a=rtcp: RTP port + 1 (RFC 3550 §11)


def test_unknown_attributes_are_kept_in_order_and_written_back() -> None:
    sdp = SessionDescription.parse(BODIES["webrtc"])
    assert [a.name for a in sdp.attributes] == ["group", "extmap-allow-mixed", "msid-semantic"]
    assert sdp.attribute("msid-semantic") == Attribute("msid-semantic", " WMS 3d8f0c4e")
    audio = sdp.media[0]
    assert [a.name for a in audio.attributes] == [
        "ice-ufrag", "ice-pwd", "ice-options", "fingerprint", "setup", "mid", "extmap", "msid", "rtcp-mux",
        "rtcp-fb", "ssrc"]
    assert audio.attribute("rtcp-mux") == Attribute("rtcp-mux")
    written = sdp.serialize().split(b"\r\n")
    for line in BODIES["webrtc"].split(b"\r\n"):
        assert line in written


def test_session_level_direction_applies_to_streams_without_their_own() -> None:
    # RFC 4566 §6; pjmedia's apply_media_direction copies it to every stream lacking one.
    sdp = SessionDescription.parse(crlf(
        "v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.1", "t=0 0", "a=sendonly",
        "m=audio 4000 RTP/AVP 0",
        "m=audio 4002 RTP/AVP 0", "a=inactive",
    ))
    assert sdp.direction is Direction.SENDONLY
    assert [sdp.direction_for(m) for m in sdp.media] == [Direction.SENDONLY, Direction.INACTIVE]


@pytest.mark.parametrize(("session_c", "media_c", "expected"), [
    ("c=IN IP4 192.0.2.1", None, "192.0.2.1"),       # session level only (most phones)
    (None, "c=IN IP4 192.0.2.2", "192.0.2.2"),       # media level only (WebRTC, some ITSPs)
    ("c=IN IP4 192.0.2.1", "c=IN IP4 192.0.2.2", "192.0.2.2"),  # media level wins (RFC 4566 §5.7)
    ("c=IN IP6 2001:db8::5", None, "2001:db8::5"),
])
def test_connection_at_either_level(session_c: str | None, media_c: str | None, expected: str) -> None:
    lines = ["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-"]
    lines += [session_c] if session_c else []
    lines += ["t=0 0", "m=audio 4000 RTP/AVP 0"]
    lines += [media_c] if media_c else []
    sdp = SessionDescription.parse(crlf(*lines))
    connection = sdp.connection_for(sdp.media[0])
    assert connection is not None and connection.address == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("IN IP4 192.0.2.1", Connection("192.0.2.1")),
    ("IN IP4 224.2.1.1/127", Connection("224.2.1.1", ttl=127)),          # RFC 4566 §5.7 example
    ("IN IP4 224.2.1.1/127/3", Connection("224.2.1.1", ttl=127, count=3)),
    ("IN IP6 ff15::101/3", Connection("ff15::101", "IP6", count=3)),      # IP6 has no TTL
    ("IN IP4 pbx.example.com", Connection("pbx.example.com")),            # a FQDN is allowed
])
def test_connection_forms(value: str, expected: Connection) -> None:
    assert Connection.parse(value) == expected
    assert Connection.parse(str(expected)) == expected


@pytest.mark.parametrize(("address", "unspecified"), [
    ("0.0.0.0", True), ("::", True), ("0:0:0:0:0:0:0:0", True), ("192.0.2.1", False), ("::1", False),
    ("pbx.example.com", False),
])
def test_unspecified_connection_address(address: str, unspecified: bool) -> None:
    assert Connection.for_address(address).is_unspecified is unspecified


def test_tolerated_oddities() -> None:
    sdp = SessionDescription.parse(crlf(
        "",
        "v=0",
        "o=- 7 8 IN IP4 192.0.2.1",
        "s=",                              # RFC 4566 §5.3: "s= " when there is no name; we strip blanks
        "c=IN IP4 192.0.2.1",
        "y=0100000001",                    # GB28181 SSRC line: pjmedia skips unknown letters
        "",                                # blank line in the middle
        "m=audio 49170/2 RTP/AVP 0",       # port count (RFC 4566 §5.14)
        "a=ptime:20.5",                    # not an integer: kept verbatim
        "a=ptime:30",
        "a=sendrecv",
        "a=recvonly",                      # a second direction: the first counts, the other is kept
        "a=rtcp:53020",
        "b=AS:64",
    ))
    assert sdp.session_name == "" and sdp.timings == (Timing(0, 0),)  # no t=: permanent session
    audio = sdp.media[0]
    assert (audio.port, audio.port_count, audio.ptime) == (49170, 2, 30)
    assert audio.direction is Direction.SENDRECV
    assert audio.attributes == (Attribute("ptime", "20.5"), Attribute("recvonly"))
    assert audio.rtcp == RtcpAttribute(53020) and audio.bandwidths == (Bandwidth("AS", 64),)
    assert SessionDescription.parse(sdp.serialize()) == sdp
    assert b"s= \r\n" in sdp.serialize()


def test_repeated_payload_type_keeps_every_rtpmap_and_looks_up_the_first() -> None:
    sdp = SessionDescription.parse(crlf(
        "v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.1", "t=0 0",
        "m=audio 4000 RTP/AVP 0 101 0",
        "a=rtpmap:101 telephone-event/8000",
        "a=rtpmap:101 G726-32/8000",
    ))
    audio = sdp.media[0]
    assert audio.formats == ("0", "101", "0")
    assert audio.rtpmap(101) == RtpMap(101, "telephone-event", 8000)
    assert len(audio.rtpmaps) == 2
    assert SessionDescription.parse(sdp.serialize()) == sdp


def test_latin1_session_name() -> None:
    body = crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=T\xe9l\xe9phone", "t=0 0").replace(
        "Téléphone".encode(), "Téléphone".encode("latin-1"))
    assert SessionDescription.parse(body).session_name == "Téléphone"


def test_session_fields_and_timing() -> None:
    # RFC 4566 §5 example, abridged.
    sdp = SessionDescription.parse(crlf(
        "v=0",
        "o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5",
        "s=SDP Seminar",
        "i=A Seminar on the session description protocol",
        "u=http://www.example.com/seminars/sdp.pdf",
        "e=j.doe@example.com (Jane Doe)",
        "p=+1 617 555-6011",
        "c=IN IP4 224.2.17.12/127",
        "b=CT:1000",
        "t=2873397496 2873404696",
        "r=7d 1h 0 25h",
        "z=2882844526 -1h 2898848070 0",
        "k=prompt",
        "a=recvonly",
        "m=audio 49170 RTP/AVP 0",
        "i=voice",
        "m=video 51372 RTP/AVP 99",
        "b=AS:256",
        "a=rtpmap:99 h263-1998/90000",
    ))
    assert sdp.origin == Origin("jdoe", "2890844526", 2890842807, "IN", "IP4", "10.47.16.5")
    assert sdp.timings == (Timing(2873397496, 2873404696, ("7d 1h 0 25h",)),)
    assert (sdp.emails, sdp.phones, sdp.encryption_key) == (("j.doe@example.com (Jane Doe)",),
                                                            ("+1 617 555-6011",), "prompt")
    assert sdp.connection == Connection("224.2.17.12", ttl=127)
    assert sdp.media[0].title == "voice" and sdp.media[1].bandwidths == (Bandwidth("AS", 256),)
    assert SessionDescription.parse(sdp.serialize()) == sdp


HEAD = ("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.1", "t=0 0")


@pytest.mark.parametrize(("lines", "line", "message"), [
    (("o=- 1 1 IN IP4 192.0.2.1", "v=0"), 1, "starts with v="),
    (("v=1", *HEAD[1:]), 1, "unsupported SDP version"),
    (("v=0", "s=-", "t=0 0"), None, "no o= line"),
    (("v=0", "o=- 1 1 IN IP4 192.0.2.1", "t=0 0"), None, "no s= line"),
    (("v=0", "o=- 1 IN IP4 192.0.2.1", "s=-"), 2, "o= needs 6 fields"),
    (("v=0", "o=- 1 x IN IP4 192.0.2.1", "s=-"), 2, "session version is not a number"),
    (("v=0", "o=- 1 1 ATM NSAP 47.0005", "s=-"), 2, "unsupported origin network"),
    ((*HEAD[:3], "c=IN IP5 192.0.2.1"), 4, "unsupported connection network"),
    ((*HEAD[:3], "c=IN IP4"), 4, "c= needs 3 fields"),
    ((*HEAD[:3], "c=IN IP4 192.0.2.1/x"), 4, "not a number"),
    ((*HEAD[:4], "t=0"), 5, "t= needs 2 fields"),
    ((*HEAD, "b=AS"), 6, "b= needs"),
    ((*HEAD, "m=audio"), 6, "m= needs"),
    ((*HEAD, "m=audio abc RTP/AVP 0"), 6, "port is not a number"),
    ((*HEAD, "m=audio 70000 RTP/AVP 0"), 6, "port out of range"),
    ((*HEAD, "m=audio 4000 RTP/AVP"), 6, "lists no formats"),
    ((*HEAD, "m=audio 4000 RTP/AVP 0 128"), 6, "payload type out of range"),
    (("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "t=0 0", "m=audio 4000 RTP/AVP 0"), 5, "no c= line"),
    ((*HEAD, "r=7d 1h 0 25h")[:4] + ("r=1d 1h 0",), 5, "r= before any t="),
    ((*HEAD, "X=foo"), 6, "unknown line type"),
    ((*HEAD, "a=:foo"), 6, "malformed attribute name"),
    ((*HEAD, "garbage"), 6, "not a <type>=<value> line"),
    ((*HEAD, "a=x\x00y"), 6, "control character"),
    ((*HEAD, "a=x\ry"), 6, "control character"),
    ((*HEAD, "v=0"), 6, "second v= line"),
    (("",), None, "empty SDP body"),
])
def test_unusable_bodies_raise_sdp_error(lines: tuple[str, ...], line: int | None, message: str) -> None:
    with pytest.raises(SdpError) as caught:
        SessionDescription.parse(crlf(*lines))
    assert caught.value.line == line
    assert message in caught.value.message
    assert str(caught.value).startswith(f"line {line}: " if line is not None else message)


def test_rejected_stream_needs_no_connection_or_formats() -> None:
    # A port-0 stream is never used, so it may lack c= and (pjmedia_sdp_validate) formats.
    sdp = SessionDescription.parse(crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "t=0 0", "m=video 0 RTP/AVP"))
    assert sdp.media[0].is_rejected and sdp.media[0].formats == ()
    assert SessionDescription.parse(sdp.serialize()) == sdp


def test_non_rtp_formats_are_tokens() -> None:
    sdp = SessionDescription.parse(crlf(*HEAD, "m=image 4002 udptl t38", "a=T38FaxVersion:0"))
    image = sdp.media[0]
    assert (image.kind, image.protocol, image.formats, image.payload_types) == ("image", "udptl", ("t38",), ())


@pytest.mark.parametrize(("direction", "sends", "receives", "reversed_"), [
    (Direction.SENDRECV, True, True, Direction.SENDRECV),
    (Direction.SENDONLY, True, False, Direction.RECVONLY),
    (Direction.RECVONLY, False, True, Direction.SENDONLY),
    (Direction.INACTIVE, False, False, Direction.INACTIVE),
])
def test_direction_flags(direction: Direction, sends: bool, receives: bool, reversed_: Direction) -> None:
    assert (direction.sends, direction.receives, direction.reversed()) == (sends, receives, reversed_)
    assert Direction.from_flags(sends=sends, receives=receives) is direction


# --- properties -------------------------------------------------------------------------------------

_TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'+", min_size=1,
                 max_size=12)
# Free text without line ends, NUL, or blanks at the end (which the parser strips like real phones need).
_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x85\u2028\u2029"),
                max_size=20).map(lambda s: s.rstrip(" \t"))
_KNOWN = {"rtpmap", "fmtp", "ptime", "maxptime", "rtcp", "sendrecv", "sendonly", "recvonly", "inactive"}
_NUMBER = st.integers(min_value=0, max_value=2**40)
_ADDRESS4 = st.ip_addresses(v=4).map(str)
_ADDRESS6 = st.ip_addresses(v=6).map(str)


@st.composite
def _connections(draw: st.DrawFn) -> Connection:
    if draw(st.booleans()):
        address = draw(_ADDRESS4)
        ttl = draw(st.none() | st.integers(0, 255))
        count = draw(st.none() | st.integers(1, 9)) if ttl is not None else None
        return Connection(address, "IP4", ttl=ttl, count=count)
    return Connection(draw(_ADDRESS6), "IP6", count=draw(st.none() | st.integers(1, 9)))


_ATTRIBUTES = st.builds(Attribute, _TOKEN.filter(lambda n: n not in _KNOWN), st.none() | _TEXT)
_BANDWIDTHS = st.builds(Bandwidth, _TOKEN, _NUMBER)


@st.composite
def _media(draw: st.DrawFn) -> MediaDescription:
    kind = draw(st.sampled_from(["audio", "video", "image", "application", "text"]))
    protocol = draw(st.sampled_from(["RTP/AVP", "RTP/SAVP", "UDP/TLS/RTP/SAVPF", "udptl", "TCP/MSRP"]))
    rtp = "RTP/" in protocol
    fmt = st.integers(0, 127).map(str) if rtp else _TOKEN
    port = draw(st.integers(0, 65535))
    formats = tuple(draw(st.lists(fmt, min_size=0 if port == 0 else 1, max_size=6)))
    return MediaDescription(
        kind=kind, port=port, protocol=protocol, formats=formats,
        port_count=draw(st.none() | st.integers(1, 4)),
        title=draw(st.none() | _TEXT),
        connection=draw(_connections()),
        bandwidths=tuple(draw(st.lists(_BANDWIDTHS, max_size=2))),
        encryption_key=draw(st.none() | _TEXT),
        rtpmaps=tuple(draw(st.lists(st.builds(RtpMap, st.integers(0, 127), _TOKEN.filter(lambda t: "/" not in t),
                                              st.integers(1, 96000), st.none() | st.integers(1, 8)), max_size=4))),
        fmtps=tuple(draw(st.lists(st.builds(Fmtp, _TOKEN, _TOKEN), max_size=3))),
        ptime=draw(st.none() | st.integers(1, 200)),
        maxptime=draw(st.none() | st.integers(1, 200)),
        rtcp=draw(st.none() | st.builds(RtcpAttribute, st.integers(0, 65535),
                                         st.none() | st.builds(Connection.for_address, _ADDRESS4 | _ADDRESS6))),
        direction=draw(st.none() | st.sampled_from(Direction)),
        attributes=tuple(draw(st.lists(_ATTRIBUTES, max_size=4))),
    )


_SESSIONS = st.builds(
    SessionDescription,
    origin=st.builds(Origin, _TOKEN, _NUMBER.map(str), _NUMBER, st.just("IN"), st.sampled_from(["IP4", "IP6"]),
                     _TOKEN),
    session_name=_TEXT,
    information=st.none() | _TEXT,
    uri=st.none() | _TEXT,
    emails=st.lists(_TEXT, max_size=2).map(tuple),
    phones=st.lists(_TEXT, max_size=2).map(tuple),
    connection=st.none() | _connections(),
    bandwidths=st.lists(_BANDWIDTHS, max_size=2).map(tuple),
    timings=st.lists(st.builds(Timing, _NUMBER, _NUMBER, st.lists(_TEXT.filter(bool), max_size=2).map(tuple)),
                     min_size=1, max_size=2).map(tuple),
    time_zones=st.none() | _TEXT,
    encryption_key=st.none() | _TEXT,
    direction=st.none() | st.sampled_from(Direction),
    attributes=st.lists(_ATTRIBUTES, max_size=4).map(tuple),
    media=st.lists(_media(), max_size=3).map(tuple),
)


@settings(max_examples=150)
@given(_SESSIONS)
def test_parse_of_serialize_is_identity(sdp: SessionDescription) -> None:
    assert SessionDescription.parse(sdp.serialize()) == sdp


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_raise_sdp_error(data: bytes) -> None:
    try:
        SessionDescription.parse(data)
    except SdpError:
        pass


_LINE = st.tuples(st.sampled_from("vosiuepcbtrzkamyXq"), st.sampled_from(["=", "= ", ":"]),
                  st.text(alphabet="0123456789 ./:-abcINPRTVWxyz\t", max_size=25))


@settings(max_examples=500)
@given(st.lists(_LINE, max_size=20), st.sampled_from(["\r\n", "\n"]))
def test_sdp_shaped_garbage_only_raises_sdp_error(lines: list[tuple[str, str, str]], end: str) -> None:
    body = "v=0" + end + end.join(letter + sep + value for letter, sep, value in lines)
    try:
        sdp = SessionDescription.parse(body.encode())
    except SdpError:
        return
    assert SessionDescription.parse(sdp.serialize()) == sdp
