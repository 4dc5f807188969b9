"""IAX2 (RFC 5456): a sans-IO protocol stack (:class:`IaxEndpoint`) and its asyncio shell (:class:`IaxTransport`).

Modules: ``constants`` (wire numbers), ``ies`` and ``frames`` (the wire format), ``reliability`` (sequence
numbers, ACK, retransmission, timestamps), ``calls`` (call signalling and the channel driver's events),
``registration`` (registering both ways, qualify), ``auth`` (MD5, RSA, call tokens), ``crypto`` (AES-128 as
chan_iax2), ``trunk`` (meta trunk frames), ``endpoint`` (the core and its settings), ``transport`` (UDP).
"""

from core.iax2.calls import (
    CallAccepted,
    CallAnswered,
    CallControl,
    CallHungUp,
    CallProceeding,
    CallProgress,
    CallQuelched,
    CallRinging,
    DtmfReceived,
    IaxCallError,
    IncomingCall,
    MediaReceived,
    TextReceived,
    VoiceReceived,
)
from core.iax2.endpoint import (
    IaxEndpoint,
    IaxEndpointSettings,
    IaxPeerSettings,
    IaxRegistrationSettings,
    IaxUserSettings,
)
from core.iax2.frames import IaxFrameError
from core.iax2.registration import PeerRegistered, PeerStatus, PeerUnregistered, RegistrationChanged

__all__ = [
    "CallAccepted",
    "CallAnswered",
    "CallControl",
    "CallHungUp",
    "CallProceeding",
    "CallProgress",
    "CallQuelched",
    "CallRinging",
    "DtmfReceived",
    "IaxCallError",
    "IaxEndpoint",
    "IaxEndpointSettings",
    "IaxFrameError",
    "IaxPeerSettings",
    "IaxRegistrationSettings",
    "IaxUserSettings",
    "IncomingCall",
    "MediaReceived",
    "PeerRegistered",
    "PeerStatus",
    "PeerUnregistered",
    "RegistrationChanged",
    "TextReceived",
    "VoiceReceived",
]
