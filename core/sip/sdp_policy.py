"""The SDP the B2BUA puts in its own answers and offers while no media engine serves the call.

When the PBX itself answers a SIP call (or places one) and no media engine can give an RTP address, the
honest answer is an audio stream on the discard port 9 marked ``a=inactive`` (RFC 3264 section 5.1 allows
an inactive stream; no audio is promised either way).  Bridged SIP legs never use these: they exchange
their own SDP.
"""

from __future__ import annotations

from core.sip.offer_answer import Answer, LocalMedia, create_answer, create_offer, is_hold
from core.sip.sdp import Direction, SdpError, SessionDescription

DISCARD_PORT = 9


def _local(host: str) -> LocalMedia:
    return LocalMedia(address=host, port=DISCARD_PORT, direction=Direction.INACTIVE)


def placeholder_offer(host: str) -> bytes:
    """An offer of PCMU/PCMA + telephone-event, inactive, on the discard port."""
    return create_offer(_local(host)).serialize()


def placeholder_answer(offer: bytes | None, host: str) -> bytes | None:
    """An inactive answer to ``offer`` (our own offer when there was none); None when no codec is common."""
    if offer is None:
        return placeholder_offer(host)
    try:
        parsed = SessionDescription.parse(offer)
    except SdpError:
        return None
    answer = create_answer(parsed, _local(host))
    return answer.serialize() if isinstance(answer, Answer) else None


def hold_state(sdp: bytes | None) -> bool:
    """True when an offer puts the other side on hold (sendonly/inactive, or c=0.0.0.0)."""
    if sdp is None:
        return False
    try:
        return is_hold(SessionDescription.parse(sdp))
    except SdpError:
        return False
