"""Anchored media for SIP legs: the RTP port of each leg and the SDP offer/answer that configures it.

With a media engine, the B2BUA is a media anchor (Asterisk's default behaviour): every SIP leg has its own
RTP port on the gateway, its own SDP with the gateway's address, and a bridge connects the two ports in
the engine (relayed without decoding when the legs agreed on the same codec).  That is what lets
applications (Echo, Playback, Record, DTMF detection) run on any call, phones behind NAT work (symmetric
RTP latching), and a leg change (transfer, failover) stay invisible to the other side.

:class:`LegMedia` keeps one leg's state: the port, the last description we sent (RFC 3264 §8 versions),
the offer waiting for its answer, and what was agreed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.sip.offer_answer import (
    PCMA,
    PCMU,
    Answer,
    Codec,
    LocalMedia,
    NegotiatedAudio,
    NoCommonCodec,
    apply_answer,
    create_answer,
    create_offer,
)
from core.sip.sdp import Direction, SdpError, SessionDescription

if TYPE_CHECKING:
    from core.mediaengine.port import RtpPort

log = logging.getLogger("centralita.sip")

CODECS: tuple[Codec, ...] = (PCMU, PCMA)


def _preferring(codec: Codec | None) -> tuple[Codec, ...]:
    """Our codecs with ``codec`` first (the other leg's choice: no transcoding when the far end takes it)."""
    if codec is None or codec not in CODECS:
        return CODECS
    return (codec, *(c for c in CODECS if c != codec))


def acceptable(offer: bytes | None) -> NoCommonCodec | None:
    """Whether an INVITE's offer can be answered at all (None: yes, or no offer); checked before the
    dialplan runs so that a call we could never give audio gets 488 at once."""
    if offer is None:
        return None
    try:
        parsed = SessionDescription.parse(offer)
    except SdpError as exc:
        return NoCommonCodec(f"unreadable SDP: {exc}")
    result = create_answer(parsed, LocalMedia(address="0.0.0.0", port=9, codecs=CODECS))
    return result if isinstance(result, NoCommonCodec) else None


@dataclass
class LegMedia:
    """One SIP leg's RTP port and SDP state."""

    port: RtpPort
    local: SessionDescription | None = None       # the last description we sent
    pending_offer: SessionDescription | None = None  # our offer waiting for the answer
    negotiated: NegotiatedAudio | None = None
    held: bool = False
    directions: dict[str, Direction] = field(default_factory=dict)

    def _local_media(self, codecs: tuple[Codec, ...], direction: Direction = Direction.SENDRECV) -> LocalMedia:
        host, number = self.port.local_address
        return LocalMedia(address=host, port=number, codecs=codecs, direction=direction)

    def offer(self, prefer: Codec | None = None, *, direction: Direction = Direction.SENDRECV) -> bytes:
        """An offer for our port (an INVITE, or a re-INVITE that holds/resumes the far end)."""
        sdp = create_offer(self._local_media(_preferring(prefer), direction), previous=self.local)
        self.pending_offer = sdp
        self.local = sdp
        return sdp.serialize()

    def answer(self, offer: bytes, prefer: Codec | None = None) -> bytes | NoCommonCodec:
        """Answer the far end's offer (INVITE or re-INVITE) and configure the port with the result."""
        try:
            parsed = SessionDescription.parse(offer)
        except SdpError as exc:
            return NoCommonCodec(f"unreadable SDP: {exc}")
        result = create_answer(parsed, self._local_media(_preferring(prefer)), previous=self.local,
                               prefer="local" if prefer is not None else "offer")
        if isinstance(result, NoCommonCodec):
            return result
        assert isinstance(result, Answer)
        self.local = result.sdp
        self._apply(result.audio)
        return result.serialize()

    def answered(self, answer: bytes) -> bool:
        """The far end answered our offer (in a 18x or 2xx): configure the port; False if unusable."""
        if self.pending_offer is None:
            return self.negotiated is not None
        try:
            parsed = SessionDescription.parse(answer)
        except SdpError as exc:
            log.warning("unreadable SDP answer from the far end: %s", exc)
            return False
        result = apply_answer(self.pending_offer, parsed)
        if isinstance(result, NoCommonCodec):
            log.warning("the far end's answer is unusable: %s", result.reason)
            return False
        self._apply(result)
        return True

    def _apply(self, audio: NegotiatedAudio) -> None:
        self.negotiated = audio
        self.held = audio.remote_hold
        self.port.configure(audio)

    @property
    def codec(self) -> Codec | None:
        """The codec agreed for this leg, if any."""
        return self.negotiated.codec if self.negotiated is not None else None


__all__ = ["CODECS", "LegMedia", "acceptable"]
