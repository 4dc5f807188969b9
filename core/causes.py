"""ITU-T Q.850 cause values, as carried by ISDN, mapped to SIP (RFC 3398) and shown by Asterisk.

Names follow Asterisk's ``causes.h`` so that dialplans written for Asterisk (``Hangup(USER_BUSY)``,
``${HANGUPCAUSE}`` comparisons) keep working.
"""

from __future__ import annotations

from enum import IntEnum


class HangupCause(IntEnum):
    """A Q.850 cause value with Asterisk's name and a readable description."""

    description: str

    def __new__(cls, value: int, description: str) -> HangupCause:
        member = int.__new__(cls, value)
        member._value_ = value
        member.description = description
        return member

    NOT_DEFINED = 0, "Not defined"
    UNALLOCATED = 1, "Unallocated (unassigned) number"
    NO_ROUTE_TRANSIT_NET = 2, "No route to specified transit network"
    NO_ROUTE_DESTINATION = 3, "No route to destination"
    MISDIALLED_TRUNK_PREFIX = 5, "Misdialled trunk prefix"
    CHANNEL_UNACCEPTABLE = 6, "Channel unacceptable"
    CALL_AWARDED_DELIVERED = 7, "Call awarded and being delivered in an established channel"
    PRE_EMPTED = 8, "Pre-empted"
    NUMBER_PORTED_NOT_HERE = 14, "Number ported but not found here"
    NORMAL_CLEARING = 16, "Normal Clearing"
    USER_BUSY = 17, "User busy"
    NO_USER_RESPONSE = 18, "No user responding"
    NO_ANSWER = 19, "User alerting, no answer"
    SUBSCRIBER_ABSENT = 20, "Subscriber absent"
    CALL_REJECTED = 21, "Call Rejected"
    NUMBER_CHANGED = 22, "Number changed"
    REDIRECTED_TO_NEW_DESTINATION = 23, "Redirected to new destination"
    ANSWERED_ELSEWHERE = 26, "Answered elsewhere"
    DESTINATION_OUT_OF_ORDER = 27, "Destination out of order"
    INVALID_NUMBER_FORMAT = 28, "Invalid number format"
    FACILITY_REJECTED = 29, "Facility rejected"
    RESPONSE_TO_STATUS_ENQUIRY = 30, "Response to STATus ENQuiry"
    NORMAL_UNSPECIFIED = 31, "Normal, unspecified"
    NORMAL_CIRCUIT_CONGESTION = 34, "Circuit/channel congestion"
    NETWORK_OUT_OF_ORDER = 38, "Network out of order"
    NORMAL_TEMPORARY_FAILURE = 41, "Temporary failure"
    SWITCH_CONGESTION = 42, "Switching equipment congestion"
    ACCESS_INFO_DISCARDED = 43, "Access information discarded"
    REQUESTED_CHAN_UNAVAIL = 44, "Requested channel not available"
    RESOURCE_UNAVAILABLE = 47, "Resource unavailable, unspecified"
    FACILITY_NOT_SUBSCRIBED = 50, "Facility not subscribed"
    OUTGOING_CALL_BARRED = 52, "Outgoing call barred"
    INCOMING_CALL_BARRED = 54, "Incoming call barred"
    BEARERCAPABILITY_NOTAUTH = 57, "Bearer capability not authorized"
    BEARERCAPABILITY_NOTAVAIL = 58, "Bearer capability not available"
    SERVICE_UNAVAILABLE = 63, "Service or option not available, unspecified"
    BEARERCAPABILITY_NOTIMPL = 65, "Bearer capability not implemented"
    CHAN_NOT_IMPLEMENTED = 66, "Channel not implemented"
    FACILITY_NOT_IMPLEMENTED = 69, "Facility not implemented"
    SERVICE_NOT_IMPLEMENTED = 79, "Service or option not implemented, unspecified"
    INVALID_CALL_REFERENCE = 81, "Invalid call reference value"
    INCOMPATIBLE_DESTINATION = 88, "Incompatible destination"
    INVALID_MSG_UNSPECIFIED = 95, "Invalid message unspecified"
    MANDATORY_IE_MISSING = 96, "Mandatory information element is missing"
    MESSAGE_TYPE_NONEXIST = 97, "Message type nonexist."
    WRONG_MESSAGE = 98, "Wrong message"
    IE_NONEXIST = 99, "Info. element nonexist or not implemented"
    INVALID_IE_CONTENTS = 100, "Invalid information element contents"
    WRONG_CALL_STATE = 101, "Message not compatible with call state"
    RECOVERY_ON_TIMER_EXPIRE = 102, "Recover on timer expiry"
    MANDATORY_IE_LENGTH_ERROR = 103, "Mandatory IE length error"
    PROTOCOL_ERROR = 111, "Protocol error, unspecified"
    INTERWORKING = 127, "Interworking, unspecified"

    @classmethod
    def parse(cls, text: str) -> HangupCause:
        """A cause from its number (``"17"``) or its name (``"USER_BUSY"``, any case).

        Unknown numbers in 1..127 map to :attr:`NORMAL_UNSPECIFIED`'s class of "unspecified" causes the
        way Q.850 section 2.2.5 tells a receiver to treat them; other text raises ``ValueError``.
        """
        text = text.strip()
        if text.isdigit():
            value = int(text)
            known = _BY_VALUE.get(value)
            if known is not None:
                return known
            if 1 <= value <= 127:
                return _unspecified_in_class(value)
            raise ValueError(f"cause {value} is outside Q.850's range 1..127")
        try:
            return cls[text.upper()]
        except KeyError:
            raise ValueError(f"unknown hangup cause {text!r}") from None


_BY_VALUE: dict[int, HangupCause] = {int(cause): cause for cause in HangupCause}


def _unspecified_in_class(value: int) -> HangupCause:
    # Q.850 2.2.5: an unrecognised cause is treated as the "unspecified" cause of its class.
    if value < 32:
        return HangupCause.NORMAL_UNSPECIFIED
    if value < 48:
        return HangupCause.RESOURCE_UNAVAILABLE
    if value < 64:
        return HangupCause.SERVICE_UNAVAILABLE
    if value < 80:
        return HangupCause.SERVICE_NOT_IMPLEMENTED
    if value < 96:
        return HangupCause.INVALID_MSG_UNSPECIFIED
    if value < 112:
        return HangupCause.PROTOCOL_ERROR
    return HangupCause.INTERWORKING
