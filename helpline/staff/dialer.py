"""The dialler: an adapter around twilio.rest.Client that rings a member of staff's own phone.

Twilio then fetches our TwiML, which dials the patient with the help line's number as caller ID.
"""
from __future__ import annotations

from typing import Protocol

from twilio.base.exceptions import TwilioException
from twilio.http import HttpClient
from twilio.rest import Client

# Staff-leg events worth recording: ringing their phone, answered, and the end.
STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]


class DialerError(RuntimeError):
    """Twilio would not place the call (bad number, account problem, network)."""


class Dialer(Protocol):
    def call(self, *, to: str, caller_id: str, twiml_url: str, status_url: str) -> str:
        """Ring `to`, fetch `twiml_url` when answered, post call progress to `status_url`; return the CallSid."""


class TwilioDialer:
    """The real dialler: one REST request, calls.create."""

    def __init__(self, account_sid: str, auth_token: str, http_client: HttpClient | None = None):
        self._client = Client(account_sid, auth_token, http_client=http_client)

    def call(self, *, to: str, caller_id: str, twiml_url: str, status_url: str) -> str:
        try:
            call = self._client.calls.create(
                to=to, from_=caller_id, url=twiml_url, method="POST",
                status_callback=status_url, status_callback_method="POST",
                status_callback_event=STATUS_EVENTS,
                # Long enough for staff to reach their phone; short of a voicemail greeting.
                timeout=25,
            )
        except TwilioException as exc:
            raise DialerError(str(exc)) from exc
        return call.sid
