"""RFC 3264 offer/answer for the gateway's one audio stream.

We support PCMU (payload type 0), PCMA (8) and G.722 (9, when enabled) plus RFC 4733 telephone-event.
The rules, and where they come from:

* Codecs are chosen in the offerer's order among ours (RFC 3264 §6.1 recommends keeping the offer's
  relative order; pjproject's negotiator does the same with ``PJMEDIA_SDP_NEG_PREFER_REMOTE_CODEC_ORDER``);
  ``prefer="local"`` orders them like Asterisk's ``incoming_call_offer_pref = local`` instead.
* A format is identified by its number when RFC 3551 assigns that number statically (pjmedia's
  ``match_offer`` compares static payload types by number), otherwise by its rtpmap's encoding name
  (case-insensitive), clock rate and channel count (1 when absent).  The answer uses the offerer's
  numbers, dynamic ones included (RFC 3264 §6.1; pjmedia's ``apply_answer_symmetric_pt``).
* telephone-event is answered at the offerer's payload type with ``a=fmtp:<pt> 0-16``, the events we
  can receive, as Asterisk writes it; only an 8000 Hz telephone-event goes with our 8000 Hz codecs.
* The answer has as many m-lines as the offer, in the same order; every m-line but the first usable
  RTP/AVP audio one is rejected with port 0 and the offered formats (RFC 3264 §6; pjmedia's
  ``sdp_media_clone_deactivate``).  No usable audio stream at all is :class:`NoCommonCodec` (488).
* Directions: we send only if we want to and the offer receives, receive only if we want to and the
  offer sends (RFC 3264 §6.1; the same table as pjmedia's ``update_media_direction``).
* Hold (:func:`is_hold`): a=sendonly, a=inactive or a connection address of 0.0.0.0 / :: -- the test in
  Asterisk's ``negotiate_incoming_sdp_stream`` (res_pjsip_sdp_rtp.c).
* Versions (RFC 3264 §8): given the description we sent last, a new one keeps its ``o=`` line and
  increments the version only when something else changed.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from typing import ClassVar, Literal

from core.sip.sdp import (
    Connection,
    Direction,
    Fmtp,
    MediaDescription,
    Origin,
    RtcpAttribute,
    RtpMap,
    SessionDescription,
    Timing,
)

__all__ = [
    "G722",
    "PCMA",
    "PCMU",
    "SUPPORTED_CODECS",
    "Answer",
    "Codec",
    "LocalMedia",
    "NegotiatedAudio",
    "NoCommonCodec",
    "apply_answer",
    "audio_media_index",
    "create_answer",
    "create_offer",
    "is_hold",
    "is_unchanged",
]

Address = tuple[str, int]

AUDIO_PROTOCOL = "RTP/AVP"
TELEPHONE_EVENT = "telephone-event"
#: The RFC 4733 events we receive: DTMF 0-9 * # A-D (0-15) and flash (16), what Asterisk announces.
DTMF_EVENTS = "0-16"


@dataclass(frozen=True, slots=True)
class Codec:
    """An audio format the gateway sends and receives over RTP (RFC 3551 §6 names and numbers)."""

    name: str
    payload_type: int
    clock_rate: int = 8000
    channels: int = 1

    def matches(self, encoding: str, clock_rate: int, channels: int) -> bool:
        """True when an rtpmap's encoding/rate/channels describe this codec."""
        return (encoding.lower() == self.name.lower() and clock_rate == self.clock_rate
                and channels == self.channels)


PCMU = Codec("PCMU", 0)
PCMA = Codec("PCMA", 8)
#: G.722 samples at 16 kHz but its RTP clock rate is 8000 (RFC 3551 §4.5.2).
G722 = Codec("G722", 9)
SUPPORTED_CODECS: tuple[Codec, ...] = (PCMU, PCMA, G722)

# RFC 3551 Table 4 and 5: statically assigned payload types, (encoding, clock rate, channels).
_STATIC_PAYLOAD_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("PCMU", 8000, 1), 3: ("GSM", 8000, 1), 4: ("G723", 8000, 1), 5: ("DVI4", 8000, 1),
    6: ("DVI4", 16000, 1), 7: ("LPC", 8000, 1), 8: ("PCMA", 8000, 1), 9: ("G722", 8000, 1),
    10: ("L16", 44100, 2), 11: ("L16", 44100, 1), 12: ("QCELP", 8000, 1), 13: ("CN", 8000, 1),
    14: ("MPA", 90000, 1), 15: ("G728", 8000, 1), 16: ("DVI4", 11025, 1), 17: ("DVI4", 22050, 1),
    18: ("G729", 8000, 1), 25: ("CelB", 90000, 1), 26: ("JPEG", 90000, 1), 28: ("nv", 90000, 1),
    31: ("H261", 90000, 1), 32: ("MPV", 90000, 1), 33: ("MP2T", 90000, 1), 34: ("H263", 90000, 1),
}


@dataclass(frozen=True, slots=True)
class LocalMedia:
    """What this end of a call offers or accepts for its audio stream.

    ``address``/``port``: where we receive RTP (an IPv6 literal gives ``c=IN IP6``).  ``codecs``: in our
    order of preference, a subset of :data:`SUPPORTED_CODECS` (list :data:`G722` to enable it).
    ``dtmf_payload_type``: the number we offer telephone-event at (RFC 4733), None for no RFC 4733 DTMF.
    ``ptime``/``maxptime``: the packetisation we want to receive, in ms (RFC 4566 §6).  ``direction``:
    sendonly puts the peer on hold.  ``rtcp_port``: announced with ``a=rtcp`` (RFC 3605) when set.
    """

    address: str
    port: int
    codecs: tuple[Codec, ...] = (PCMU, PCMA)
    dtmf_payload_type: int | None = 101
    ptime: int | None = 20
    direction: Direction = Direction.SENDRECV
    rtcp_port: int | None = None
    maxptime: int | None = None

    def __post_init__(self) -> None:
        if not 0 < self.port <= 65535:
            raise ValueError(f"RTP port out of range: {self.port}")
        if not self.codecs or len(set(self.codecs)) != len(self.codecs):
            raise ValueError("codecs must be a non-empty list without repeats")
        for codec in self.codecs:
            if codec not in SUPPORTED_CODECS:
                raise ValueError(f"unsupported codec {codec.name}")
        if self.dtmf_payload_type is not None and not 96 <= self.dtmf_payload_type <= 127:
            raise ValueError("telephone-event needs a dynamic payload type (96-127, RFC 3551 §3)")
        if self.ptime is not None and self.ptime <= 0:
            raise ValueError("ptime must be positive")
        if self.rtcp_port is not None and not 0 < self.rtcp_port <= 65535:
            raise ValueError(f"RTCP port out of range: {self.rtcp_port}")


@dataclass(frozen=True, slots=True)
class NegotiatedAudio:
    """The outcome for the audio stream, from our point of view.

    ``formats`` are the agreed (payload type, codec) pairs in the order the answer lists them, with the
    numbers the remote side receives; we send the first.  ``direction`` is what we do (sendonly: we
    only send).  ``remote_hold`` is :func:`is_hold` of the remote description.  ``remote_ptime`` is the
    packetisation the remote wants to receive (None: unspecified, 20 ms is customary for G.711).
    """

    media_index: int
    formats: tuple[tuple[int, Codec], ...]
    dtmf_payload_type: int | None
    remote_address: str
    remote_port: int
    remote_rtcp_address: str
    remote_rtcp_port: int
    remote_ptime: int | None
    direction: Direction
    remote_hold: bool

    @property
    def codec(self) -> Codec:
        """The codec we send."""
        return self.formats[0][1]

    @property
    def payload_type(self) -> int:
        """The payload type we send :attr:`codec` with."""
        return self.formats[0][0]

    @property
    def remote_rtp(self) -> Address:
        """Where to send RTP."""
        return (self.remote_address, self.remote_port)

    @property
    def remote_rtcp(self) -> Address:
        """Where to send RTCP (RFC 3605 ``a=rtcp``, else RTP port + 1)."""
        return (self.remote_rtcp_address, self.remote_rtcp_port)


@dataclass(frozen=True, slots=True)
class Answer:
    """A successful answer: the description to send and what was agreed."""

    sdp: SessionDescription
    audio: NegotiatedAudio

    def serialize(self) -> bytes:
        """The answer's body for a 200 OK (or 183) with ``Content-Type: application/sdp``."""
        return self.sdp.serialize()


@dataclass(frozen=True, slots=True)
class NoCommonCodec:
    """No usable audio stream: answer the INVITE with 488 Not Acceptable Here (RFC 3261 §21.4.26).

    ``reason`` says why, for the log and a Warning header.
    """

    reason: str
    status: ClassVar[int] = 488
    phrase: ClassVar[str] = "Not Acceptable Here"


def _payload_type(fmt: str) -> int | None:
    if fmt.isascii() and fmt.isdigit() and int(fmt) <= 127:
        return int(fmt)
    return None


def _describe(media: MediaDescription, payload_type: int) -> tuple[str, int, int] | None:
    """What a payload type carries: the static assignment, else the rtpmap."""
    static = _STATIC_PAYLOAD_TYPES.get(payload_type)
    if static is not None:
        return static
    rtpmap = media.rtpmap(payload_type)
    if rtpmap is None:
        return None
    return (rtpmap.encoding, rtpmap.clock_rate, rtpmap.channels or 1)


def _common_formats(media: MediaDescription, codecs: tuple[Codec, ...]) -> list[tuple[int, Codec]]:
    """Our codecs among a stream's formats, in the stream's order; one payload type per codec."""
    found: list[tuple[int, Codec]] = []
    seen_types: set[int] = set()
    seen_codecs: set[Codec] = set()
    for fmt in media.formats:
        payload_type = _payload_type(fmt)
        if payload_type is None or payload_type in seen_types:
            continue
        seen_types.add(payload_type)
        described = _describe(media, payload_type)
        if described is None:
            continue
        for codec in codecs:
            if codec not in seen_codecs and codec.matches(*described):
                found.append((payload_type, codec))
                seen_codecs.add(codec)
                break
    return found


def _telephone_event(media: MediaDescription, clock_rate: int) -> int | None:
    """The first telephone-event payload type at ``clock_rate`` (RFC 4733 §7.1.1: rate must match)."""
    for fmt in media.formats:
        payload_type = _payload_type(fmt)
        if payload_type is None or payload_type in _STATIC_PAYLOAD_TYPES:
            continue
        rtpmap = media.rtpmap(payload_type)
        if rtpmap is not None and rtpmap.encoding.lower() == TELEPHONE_EVENT and rtpmap.clock_rate == clock_rate:
            return payload_type
    return None


def _usable_audio(media: MediaDescription) -> bool:
    return media.kind == "audio" and media.port != 0 and media.protocol == AUDIO_PROTOCOL


def audio_media_index(sdp: SessionDescription) -> int | None:
    """The index of the first active RTP/AVP audio stream, or None."""
    for index, media in enumerate(sdp.media):
        if _usable_audio(media):
            return index
    return None


def is_hold(sdp: SessionDescription, media_index: int | None = None) -> bool:
    """True when the sender of ``sdp`` puts its audio on hold.

    Asterisk's test (``negotiate_incoming_sdp_stream``, res_pjsip_sdp_rtp.c): the stream's connection
    address is 0.0.0.0 or :: (RFC 3264 §8.4 legacy hold), or its direction -- media-level, else
    session-level, as pjmedia's ``apply_media_direction`` resolves it -- is sendonly or inactive.
    ``media_index`` picks the stream; by default the first active audio one.  No such stream: False.
    """
    if media_index is None:
        for index, media in enumerate(sdp.media):
            if media.kind == "audio" and media.port != 0:
                media_index = index
                break
        else:
            return False
    media = sdp.media[media_index]
    connection = sdp.connection_for(media)
    if connection is not None and connection.is_unspecified:
        return True
    return sdp.direction_for(media) in (Direction.SENDONLY, Direction.INACTIVE)


def is_unchanged(previous: SessionDescription | None, current: SessionDescription) -> bool:
    """True when ``current`` repeats ``previous``: the same ``o=`` line, version included (RFC 3264 §8).

    A re-INVITE or UPDATE carrying it is a session refresh; the answer is the previous answer unchanged.
    """
    return previous is not None and previous.origin == current.origin


def _origin(local: LocalMedia, session_id: int | str | None, session_version: int | None,
            previous: SessionDescription | None) -> Origin:
    if previous is not None:
        return previous.origin
    ident = str(secrets.randbits(31)) if session_id is None else str(session_id)
    version = int(ident) if session_version is None and ident.isdigit() else (session_version or 0)
    connection = Connection.for_address(local.address)
    return Origin("-", ident, version, "IN", connection.addrtype, local.address)


def _versioned(sdp: SessionDescription, previous: SessionDescription | None) -> SessionDescription:
    """RFC 3264 §8: the previous ``o=`` line; the version goes up by one only when the body changed."""
    if previous is None:
        return sdp
    same = replace(sdp, origin=previous.origin)
    if same == previous:
        return previous
    bumped = replace(previous.origin, session_version=previous.origin.session_version + 1)
    return replace(sdp, origin=bumped)


def _audio_description(local: LocalMedia, formats: list[tuple[int, Codec]], dtmf: int | None,
                       direction: Direction) -> MediaDescription:
    payload_types = [str(pt) for pt, _ in formats]
    rtpmaps = [RtpMap(pt, codec.name, codec.clock_rate) for pt, codec in formats]
    fmtps: list[Fmtp] = []
    if dtmf is not None:
        payload_types.append(str(dtmf))
        rtpmaps.append(RtpMap(dtmf, TELEPHONE_EVENT, 8000))
        fmtps.append(Fmtp(str(dtmf), DTMF_EVENTS))
    return MediaDescription(
        kind="audio", port=local.port, protocol=AUDIO_PROTOCOL, formats=tuple(payload_types),
        rtpmaps=tuple(rtpmaps), fmtps=tuple(fmtps), ptime=local.ptime, maxptime=local.maxptime,
        rtcp=None if local.rtcp_port is None else RtcpAttribute(local.rtcp_port), direction=direction,
    )


def _rejected(media: MediaDescription) -> MediaDescription:
    """The stream with port 0 and no attributes (RFC 3264 §6: formats listed, ignored)."""
    return MediaDescription(kind=media.kind, port=0, protocol=media.protocol, formats=media.formats)


def create_offer(local: LocalMedia, *, session_id: int | str | None = None, session_version: int | None = None,
                 previous: SessionDescription | None = None, session_name: str = "centralita") -> SessionDescription:
    """An offer with one audio stream (RFC 3264 §5): our codecs in order, telephone-event, ptime, direction.

    For a new session ``session_id`` names it (random when omitted) and ``session_version`` defaults to
    the same number, as Asterisk writes ``o=- N N``.  For a re-offer pass ``previous``, the description
    we sent last in this session (offer or answer): its ``o=`` line is kept and its version incremented
    only if something changed, and its m-lines keep their places -- the audio in the first audio slot,
    the others disabled with port 0, since m-lines may not disappear (RFC 3264 §8).
    """
    formats = [(codec.payload_type, codec) for codec in local.codecs]
    audio = _audio_description(local, formats, local.dtmf_payload_type, local.direction)
    media: list[MediaDescription] = [audio]
    if previous is not None and previous.media:
        slot = next((i for i, m in enumerate(previous.media) if m.kind == "audio"), None)
        media = [audio if i == slot else _rejected(m) for i, m in enumerate(previous.media)]
        if slot is None:
            media.append(audio)
    offer = SessionDescription(
        origin=_origin(local, session_id, session_version, previous), session_name=session_name,
        connection=Connection.for_address(local.address), timings=(Timing(),), media=tuple(media),
    )
    return _versioned(offer, previous)


def create_answer(offer: SessionDescription, local: LocalMedia, *, session_id: int | str | None = None,
                  session_version: int | None = None, previous: SessionDescription | None = None,
                  session_name: str = "centralita", prefer: Literal["offer", "local"] = "offer",
                  single_codec: bool = False) -> Answer | NoCommonCodec:
    """Answer ``offer`` (RFC 3264 §6), or say why it gets a 488.

    The first RTP/AVP audio stream sharing a codec with ``local`` is accepted; every other m-line is
    rejected in place.  ``single_codec`` answers with the chosen codec only (Asterisk's
    ``preferred_codec_only``).  ``previous``/``session_id``/``session_version`` as for :func:`create_offer`.
    """
    chosen: tuple[int, list[tuple[int, Codec]]] | None = None
    skipped: list[str] = []
    for index, media in enumerate(offer.media):
        if not _usable_audio(media):
            if media.port != 0:
                skipped.append(f"m={media.kind} {media.protocol} not supported")
            continue
        common = _common_formats(media, local.codecs)
        if common:
            chosen = (index, common)
            break
        skipped.append(f"m=audio offers {' '.join(media.formats) or 'nothing'}, "
                       f"we accept {' '.join(c.name for c in local.codecs)}")
    if chosen is None:
        return NoCommonCodec("; ".join(skipped) or "no media streams offered")
    index, common = chosen
    offered = offer.media[index]
    if prefer == "local":
        common.sort(key=lambda pair: local.codecs.index(pair[1]))
    if single_codec:
        common = common[:1]
    dtmf = None
    if local.dtmf_payload_type is not None:
        dtmf = _telephone_event(offered, common[0][1].clock_rate)
    offer_direction = offer.direction_for(offered)
    direction = Direction.from_flags(sends=local.direction.sends and offer_direction.receives,
                                     receives=local.direction.receives and offer_direction.sends)
    audio = _audio_description(local, common, dtmf, direction)
    answer = SessionDescription(
        origin=_origin(local, session_id, session_version, previous), session_name=session_name,
        connection=Connection.for_address(local.address),
        timings=offer.timings,  # RFC 3264 §6: the answer's t= equals the offer's
        media=tuple(audio if i == index else _rejected(m) for i, m in enumerate(offer.media)),
    )
    remote = _remote(offer, index)
    negotiated = NegotiatedAudio(
        media_index=index, formats=tuple(common), dtmf_payload_type=dtmf, remote_address=remote[0],
        remote_port=offered.port, remote_rtcp_address=remote[1], remote_rtcp_port=offered.rtcp_port,
        remote_ptime=offered.ptime, direction=direction, remote_hold=is_hold(offer, index),
    )
    return Answer(_versioned(answer, previous), negotiated)


def _remote(sdp: SessionDescription, index: int) -> tuple[str, str]:
    """RTP and RTCP addresses of a stream (the parser guarantees an active stream has a connection)."""
    media = sdp.media[index]
    connection = sdp.connection_for(media)
    address = connection.address if connection is not None else ""
    rtcp = media.rtcp.connection if media.rtcp is not None else None
    return address, (rtcp.address if rtcp is not None else address)


def apply_answer(offer: SessionDescription, answer: SessionDescription) -> NegotiatedAudio | NoCommonCodec:
    """What the remote accepted of the ``offer`` we sent (RFC 3264 §7).

    The answer's stream at our audio stream's index must be active audio and list at least one codec we
    offered (matched as in :func:`create_answer`); the answer's payload type numbers are the ones we
    send with.  telephone-event counts only if we offered it.  Our direction is the one we offered,
    narrowed by what the answer allows.  A failure means the call has no audio: send BYE/CANCEL.
    """
    index = audio_media_index(offer)
    if index is None:
        return NoCommonCodec("our offer has no audio stream")
    if index >= len(answer.media):
        return NoCommonCodec("the answer has no m-line for our audio stream")
    ours, theirs = offer.media[index], answer.media[index]
    if theirs.kind != "audio" or theirs.port == 0:
        return NoCommonCodec("the answer rejected our audio stream")
    offered_codecs = tuple(codec for _, codec in _common_formats(ours, SUPPORTED_CODECS))
    formats = _common_formats(theirs, offered_codecs)
    if not formats:
        return NoCommonCodec(f"the answer lists {' '.join(theirs.formats)}, none of which we offered")
    dtmf = None
    if _telephone_event(ours, 8000) is not None:
        dtmf = _telephone_event(theirs, formats[0][1].clock_rate)
    our_direction = offer.direction_for(ours)
    their_direction = answer.direction_for(theirs)
    direction = Direction.from_flags(sends=our_direction.sends and their_direction.receives,
                                     receives=our_direction.receives and their_direction.sends)
    remote = _remote(answer, index)
    return NegotiatedAudio(
        media_index=index, formats=tuple(formats), dtmf_payload_type=dtmf, remote_address=remote[0],
        remote_port=theirs.port, remote_rtcp_address=remote[1], remote_rtcp_port=theirs.rtcp_port,
        remote_ptime=theirs.ptime, direction=direction, remote_hold=is_hold(answer, index),
    )
