"""What to do after a failed send: retry later, give up, or check with Twilio first. Pure.

Sources: Twilio's error dictionary (www.twilio.com/docs/api/errors) and its REST API's use of
HTTP status codes (429 too many requests, 5xx its own trouble).
"""
from __future__ import annotations

import random
from datetime import timedelta
from typing import Callable

RETRY = "retry"          # Twilio did not take the message: send it again after a pause
PERMANENT = "permanent"  # sending it again can never work: mark it failed
UNKNOWN = "unknown"      # the message may have been accepted: look it up before any resend

# Errors that no retry can cure: the number, the body or our right to send to it.
PERMANENT_CODES = {
    21211: "invalid 'To' phone number",
    21214: "'To' phone number cannot be reached",
    21408: "permission to send to this region is not enabled",
    21601: "phone number is not a valid SMS-capable number",
    21602: "message body is required",
    21603: "'From' phone number is required",
    21604: "'To' phone number is required",
    21606: "'From' number is not a valid SMS-capable Twilio number",
    21610: "the recipient has unsubscribed (replied STOP)",
    21612: "cannot route from 'From' to 'To'",
    21614: "'To' number is not a mobile number",
    21617: "the body is longer than 1600 characters",
    21635: "'To' number cannot receive this message",
    21659: "'From' is not a Twilio number",
    21660: "'From' number does not belong to this account",
}

# Errors that pass: queues, rate limits, and account settings an operator can fix while we wait.
TRANSIENT_CODES = {
    20003: "authentication failed (check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)",
    20429: "too many requests",
    21611: "the 'From' number has too many messages queued",
}


def classify(http_status: int | None, code: int | None) -> str:
    """Sort a failed request: RETRY, PERMANENT or UNKNOWN. http_status None means no response came back."""
    if code in PERMANENT_CODES:
        return PERMANENT
    if code in TRANSIENT_CODES:
        return RETRY
    if http_status is None:
        return UNKNOWN
    if http_status == 429 or http_status in (401, 403, 408):
        return RETRY
    if http_status >= 500:
        # A gateway error can come after Twilio created the message: check before sending again.
        return UNKNOWN
    if 400 <= http_status < 500:
        return PERMANENT  # the same request would be refused again
    return RETRY


def backoff(attempts: int, base_seconds: float, cap_seconds: float,
            rand: Callable[[], float] = random.random) -> timedelta:
    """The pause before the next try: base * 2^(attempts-1), capped, less up to a fifth at random.

    The random part spreads out workers that failed together (a Twilio outage), so they do
    not all come back in the same second.
    """
    exponent = max(attempts - 1, 0)
    delay = min(base_seconds * (2 ** min(exponent, 30)), cap_seconds)
    return timedelta(seconds=delay * (1 - 0.2 * rand()))
