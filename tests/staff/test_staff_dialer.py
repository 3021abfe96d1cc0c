"""The real dialler against the real twilio library, with a recording HTTP client in place of the network."""
from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs

import pytest
from twilio.http import HttpClient
from twilio.http.response import Response

from helpline.staff.dialer import DialerError, TwilioDialer

ACCOUNT = "AC" + "1" * 32
CALL_SID = "CA" + "f" * 32


class RecordingHttpClient(HttpClient):
    """Keeps each request the twilio library makes and answers with a canned response."""

    def __init__(self, status: int = 201, body: dict | None = None):
        super().__init__(logging.getLogger("test.twilio"), is_async=False)
        self.requests: list[dict] = []
        self.status = status
        self.body = body if body is not None else {"sid": CALL_SID, "account_sid": ACCOUNT, "status": "queued"}

    def request(self, method, uri, params=None, data=None, headers=None, auth=None, timeout=None,
                allow_redirects=False):
        self.requests.append({"method": method, "uri": uri, "params": params, "data": data, "headers": headers,
                              "auth": auth})
        return Response(self.status, json.dumps(self.body))


def place(http: RecordingHttpClient) -> str:
    dialer = TwilioDialer(ACCOUNT, "secret-token", http_client=http)
    return dialer.call(to="+447911000001", caller_id="+442380248725",
                       twiml_url="https://helpline.example.org/staff/calls/7/connect",
                       status_url="https://helpline.example.org/staff/calls/7/status")


def test_calls_create_rings_the_staff_phone_from_the_help_line_number():
    http = RecordingHttpClient()
    assert place(http) == CALL_SID
    [request] = http.requests
    assert request["method"] == "POST"
    assert request["uri"] == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
    assert request["auth"] == (ACCOUNT, "secret-token")
    data = request["data"]
    assert data["To"] == "+447911000001"
    assert data["From"] == "+442380248725"
    assert data["Url"] == "https://helpline.example.org/staff/calls/7/connect"
    assert data["Method"] == "POST"
    assert data["StatusCallback"] == "https://helpline.example.org/staff/calls/7/status"
    assert data["StatusCallbackMethod"] == "POST"
    assert list(data["StatusCallbackEvent"]) == ["initiated", "ringing", "answered", "completed"]
    assert int(data["Timeout"]) == 25
    # Every name is one the API's own spec (twilio_api_v2010.json, CreateCall) lists.
    assert set(data) <= {"To", "From", "Url", "Method", "StatusCallback", "StatusCallbackMethod",
                         "StatusCallbackEvent", "Timeout"}


def test_the_form_body_encodes_the_events_as_repeated_fields():
    from urllib.parse import urlencode

    http = RecordingHttpClient()
    place(http)
    body = urlencode(http.requests[0]["data"], doseq=True)
    assert parse_qs(body)["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]


@pytest.mark.parametrize("status,body", [
    (400, {"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400}),
    (401, {"code": 20003, "message": "Authenticate", "status": 401}),
    (500, {"message": "Internal error", "status": 500}),
])
def test_twilio_refusals_become_dialler_errors(status, body):
    with pytest.raises(DialerError):
        place(RecordingHttpClient(status, body))
