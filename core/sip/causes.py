"""Q.850 cause <-> SIP status mapping (RFC 3398 sections 7.2.4.1 and 8.2.6.1) and the Reason header.

Two entries follow Asterisk instead of RFC 3398 because dialplans depend on them: 480 maps to 19 (no
answer, which maps back to 480 and gives DIALSTATUS NOANSWER) rather than 18, and 503 to 34 (circuit
congestion, DIALSTATUS CONGESTION) rather than 41.

A SIP response that carries ``Reason: Q.850;cause=N`` (RFC 3326) says which cause it stands for; without
one the status maps through RFC 3398's table.  The tables are plain dicts so that a trunk can override
entries (some providers send 503 for "busy").
"""

from __future__ import annotations

import re

from core.causes import HangupCause

# RFC 3398 section 8.2.6.1: SIP final response -> ISUP cause value.
STATUS_TO_CAUSE: dict[int, HangupCause] = {
    400: HangupCause.NORMAL_TEMPORARY_FAILURE,
    401: HangupCause.CALL_REJECTED,
    402: HangupCause.CALL_REJECTED,
    403: HangupCause.CALL_REJECTED,
    404: HangupCause.UNALLOCATED,
    405: HangupCause.SERVICE_UNAVAILABLE,
    406: HangupCause.SERVICE_NOT_IMPLEMENTED,
    407: HangupCause.CALL_REJECTED,
    408: HangupCause.RECOVERY_ON_TIMER_EXPIRE,
    410: HangupCause.NUMBER_CHANGED,
    413: HangupCause.INTERWORKING,
    414: HangupCause.INTERWORKING,
    415: HangupCause.SERVICE_NOT_IMPLEMENTED,
    416: HangupCause.INTERWORKING,
    420: HangupCause.INTERWORKING,
    421: HangupCause.INTERWORKING,
    423: HangupCause.INTERWORKING,
    480: HangupCause.NO_ANSWER,  # RFC 3398 says 18; Asterisk says 19, which maps back to 480 (round trip)
    481: HangupCause.NORMAL_TEMPORARY_FAILURE,
    482: HangupCause.SWITCH_CONGESTION,  # RFC 3398: 25 (exchange routing error); nearest Asterisk name
    483: HangupCause.SWITCH_CONGESTION,
    484: HangupCause.INVALID_NUMBER_FORMAT,
    485: HangupCause.UNALLOCATED,
    486: HangupCause.USER_BUSY,
    487: HangupCause.NORMAL_CLEARING,
    488: HangupCause.INCOMPATIBLE_DESTINATION,
    500: HangupCause.NORMAL_TEMPORARY_FAILURE,
    501: HangupCause.SERVICE_NOT_IMPLEMENTED,
    502: HangupCause.NETWORK_OUT_OF_ORDER,
    503: HangupCause.NORMAL_CIRCUIT_CONGESTION,  # RFC 3398 says 41; Asterisk's 34 makes Dial say CONGESTION
    504: HangupCause.RECOVERY_ON_TIMER_EXPIRE,
    505: HangupCause.INTERWORKING,
    513: HangupCause.INTERWORKING,
    600: HangupCause.USER_BUSY,
    603: HangupCause.CALL_REJECTED,
    604: HangupCause.UNALLOCATED,
    606: HangupCause.INCOMPATIBLE_DESTINATION,
}

# RFC 3398 section 7.2.4.1: ISUP cause -> SIP final response (causes not listed: 500, or 480 in class 1).
CAUSE_TO_STATUS: dict[HangupCause, int] = {
    HangupCause.UNALLOCATED: 404,
    HangupCause.NO_ROUTE_TRANSIT_NET: 404,
    HangupCause.NO_ROUTE_DESTINATION: 404,
    HangupCause.USER_BUSY: 486,
    HangupCause.NO_USER_RESPONSE: 408,
    HangupCause.NO_ANSWER: 480,
    HangupCause.SUBSCRIBER_ABSENT: 480,
    HangupCause.CALL_REJECTED: 403,
    HangupCause.NUMBER_CHANGED: 410,
    HangupCause.REDIRECTED_TO_NEW_DESTINATION: 410,
    HangupCause.ANSWERED_ELSEWHERE: 404,
    HangupCause.DESTINATION_OUT_OF_ORDER: 502,
    HangupCause.INVALID_NUMBER_FORMAT: 484,
    HangupCause.FACILITY_REJECTED: 501,
    HangupCause.NORMAL_UNSPECIFIED: 480,
    HangupCause.NORMAL_CIRCUIT_CONGESTION: 503,
    HangupCause.NETWORK_OUT_OF_ORDER: 503,
    HangupCause.NORMAL_TEMPORARY_FAILURE: 503,
    HangupCause.SWITCH_CONGESTION: 503,
    HangupCause.REQUESTED_CHAN_UNAVAIL: 503,
    HangupCause.RESOURCE_UNAVAILABLE: 503,
    HangupCause.FACILITY_NOT_SUBSCRIBED: 403,
    HangupCause.OUTGOING_CALL_BARRED: 403,
    HangupCause.INCOMING_CALL_BARRED: 403,
    HangupCause.BEARERCAPABILITY_NOTAUTH: 403,
    HangupCause.BEARERCAPABILITY_NOTAVAIL: 503,
    HangupCause.SERVICE_UNAVAILABLE: 503,
    HangupCause.BEARERCAPABILITY_NOTIMPL: 488,
    HangupCause.CHAN_NOT_IMPLEMENTED: 501,
    HangupCause.FACILITY_NOT_IMPLEMENTED: 501,
    HangupCause.SERVICE_NOT_IMPLEMENTED: 501,
    HangupCause.INCOMPATIBLE_DESTINATION: 488,
    HangupCause.RECOVERY_ON_TIMER_EXPIRE: 504,
    HangupCause.INTERWORKING: 500,
    HangupCause.PROTOCOL_ERROR: 500,
}

_REASON_CAUSE = re.compile(r"^\s*q\.850\s*;(?:.*;)?\s*cause\s*=\s*(\d+)", re.IGNORECASE)


def cause_from_status(status: int, reason_header: str | None = None,
                      overrides: dict[int, HangupCause] | None = None) -> HangupCause:
    """The Q.850 cause a final response stands for: the Reason header's (RFC 3326), else the table's.

    Statuses RFC 3398 does not list: 3xx map to 22 (a redirection that was not followed), the rest to 127
    (interworking, unspecified).
    """
    if reason_header:
        for value in reason_header.split(","):
            match = _REASON_CAUSE.match(value)
            if match:
                try:
                    return HangupCause.parse(match.group(1))
                except ValueError:
                    break
    if overrides and status in overrides:
        return overrides[status]
    cause = STATUS_TO_CAUSE.get(status)
    if cause is not None:
        return cause
    if 300 <= status < 400:
        return HangupCause.NUMBER_CHANGED
    return HangupCause.INTERWORKING


def status_from_cause(cause: HangupCause) -> int:
    """The final response to send for a call refused or ended with ``cause`` before answer."""
    status = CAUSE_TO_STATUS.get(cause)
    if status is not None:
        return status
    return 480 if int(cause) < 32 else 500


def reason_header(cause: HangupCause) -> str:
    """``Reason: Q.850;cause=17;text="User busy"`` (RFC 3326)."""
    text = _REASON_HEADERS.get(cause)
    return text if text is not None else f'Q.850;cause={int(cause)};text="{cause.description}"'


# Every BYE, CANCEL and refusal carries one: made once per cause.
_REASON_HEADERS = {cause: f'Q.850;cause={int(cause)};text="{cause.description}"' for cause in HangupCause}
