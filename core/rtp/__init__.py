"""RTP and RTCP (RFC 3550), sans-IO: packets, sessions with latching, RTCP reports and RTT, the quality
summary, port allocation and RFC 4733 telephone-events.  The asyncio shells and the native relay loop live
next to these cores and only move bytes.
"""

from core.rtp.packet import RtpError, RtpPacket, build_rtp, parse_rtp
from core.rtp.ports import PortAllocationError, RtpPortAllocator
from core.rtp.quality import CallQuality, StreamQuality
from core.rtp.rtcp import RtcpError, is_rtcp, parse_rtcp
from core.rtp.session import LatchMode, RtpReceiver, RtpSender, RtpSession
from core.rtp.telephone_event import TelephoneEventError, TelephoneEventReceiver, TelephoneEventSender

__all__ = [
    "CallQuality",
    "LatchMode",
    "PortAllocationError",
    "RtcpError",
    "RtpError",
    "RtpPacket",
    "RtpPortAllocator",
    "RtpReceiver",
    "RtpSender",
    "RtpSession",
    "StreamQuality",
    "TelephoneEventError",
    "TelephoneEventReceiver",
    "TelephoneEventSender",
    "build_rtp",
    "is_rtcp",
    "parse_rtcp",
    "parse_rtp",
]
