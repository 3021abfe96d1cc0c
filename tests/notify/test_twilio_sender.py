"""The adapter against the real twilio.rest.Client, with a recording twilio.http.HttpClient underneath."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any

import pytest
import requests
from twilio.http import HttpClient
from twilio.http.response import Response

from helpline.notify import retry
from helpline.notify.twilio_sender import LookupFailed, SendFailed, TwilioSender

ACCOUNT = "AC" + "a" * 32
TOKEN = "secret-token"
FROM = "+442380248725"
TO = "+447911123456"
CALLBACK = "https://helpline.example.org/sms/status"
MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages.json"


@dataclass
class Sent:
    method: str
    url: str
    params: dict | None
    data: dict | None
    headers: dict | None
    auth: Any


class RecordingHttpClient(HttpClient):
    """Records every request the twilio library makes and answers from a script (Response or exception)."""

    def __init__(self, *answers):
        super().__init__(logging.getLogger("test"), is_async=False)
        self.requests: list[Sent] = []
        self.answers = list(answers)

    def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                allow_redirects=False):
        self.requests.append(Sent(method, url, params, data, headers, auth))
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def message(sid="SM" + "1" * 32, body="Hello", to=TO, status="queued", created=None) -> dict:
    created = created or datetime(2026, 11, 18, 10, 0, tzinfo=timezone.utc)
    return {"sid": sid, "status": status, "to": to, "from": FROM, "body": body, "account_sid": ACCOUNT,
            "date_created": format_datetime(created), "direction": "outbound-api", "num_segments": "1"}


def created(**kwargs) -> Response:
    return Response(201, json.dumps(message(**kwargs)))


def error(status: int, code: int | None, text: str = "refused") -> Response:
    payload = {"status": status, "message": text, "more_info": "https://www.twilio.com/docs/errors"}
    if code is not None:
        payload["code"] = code
    return Response(status, json.dumps(payload))


def sender(http: HttpClient, **kwargs) -> TwilioSender:
    return TwilioSender(ACCOUNT, TOKEN, FROM, CALLBACK, http_client=http, **kwargs)


def test_send_posts_to_twilio_with_the_status_callback():
    http = RecordingHttpClient(created(sid="SM" + "2" * 32))
    accepted = sender(http).send(TO, "Hello from the help line.")
    assert (accepted.sid, accepted.status) == ("SM" + "2" * 32, "queued")
    [req] = http.requests
    assert (req.method, req.url) == ("POST", MESSAGES_URL)
    assert req.data == {"To": TO, "From": FROM, "Body": "Hello from the help line.", "StatusCallback": CALLBACK}
    assert req.auth == (ACCOUNT, TOKEN)
    assert req.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_whatsapp_texts_use_whatsapp_addresses():
    http = RecordingHttpClient(created())
    sender(http).send(TO, "Hello", channel="whatsapp")
    assert (http.requests[0].data["To"], http.requests[0].data["From"]) == (f"whatsapp:{TO}", f"whatsapp:{FROM}")


def test_without_a_public_url_there_is_no_status_callback():
    http = RecordingHttpClient(created())
    TwilioSender(ACCOUNT, TOKEN, FROM, None, http_client=http).send(TO, "Hello")
    assert "StatusCallback" not in http.requests[0].data


def test_a_mock_base_url_replaces_twilios_host():
    http = RecordingHttpClient(created())
    sender(http, api_base_url="http://127.0.0.1:4010/").send(TO, "Hello")
    assert http.requests[0].url == f"http://127.0.0.1:4010/2010-04-01/Accounts/{ACCOUNT}/Messages.json"


def test_missing_credentials_are_refused_at_start():
    with pytest.raises(ValueError, match="TWILIO_ACCOUNT_SID"):
        TwilioSender("", "", FROM, CALLBACK)


@pytest.mark.parametrize("answer, outcome, code", [
    (error(400, 21610, "Attempt to send to unsubscribed recipient"), retry.PERMANENT, 21610),
    (error(400, 21211, "Invalid 'To' Phone Number"), retry.PERMANENT, 21211),
    (error(400, 21614, "'To' number is not a valid mobile number"), retry.PERMANENT, 21614),
    (error(429, 20429, "Too Many Requests"), retry.RETRY, 20429),
    (error(401, 20003, "Authenticate"), retry.RETRY, 20003),
    # Without a Twilio code in the answer, the library reports the HTTP status as the code.
    (error(500, None, "Internal Server Error"), retry.UNKNOWN, 500),
    (error(503, None, "Service Unavailable"), retry.UNKNOWN, 503),
    (Response(502, "<html>Bad gateway</html>"), retry.UNKNOWN, 502),
    (error(400, None, "Bad request"), retry.PERMANENT, 400),
])
def test_refusals_are_sorted_into_retry_permanent_or_check(answer, outcome, code):
    with pytest.raises(SendFailed) as caught:
        sender(RecordingHttpClient(answer)).send(TO, "Hello")
    assert (caught.value.outcome, caught.value.code) == (outcome, code)
    assert caught.value.http_status == answer.status_code


def _refused() -> requests.ConnectionError:
    try:
        requests.post("http://127.0.0.1:9/", timeout=2)  # port 9 (discard): nothing listens
    except requests.ConnectionError as exc:
        return exc
    raise AssertionError("something answered on port 9")


@pytest.mark.parametrize("exc, outcome", [
    (requests.exceptions.ConnectTimeout("connect timed out"), retry.RETRY),   # never reached Twilio
    (_refused(), retry.RETRY),
    (requests.exceptions.ReadTimeout("read timed out"), retry.UNKNOWN),      # may have been accepted
    (requests.exceptions.ConnectionError("Connection aborted: RemoteDisconnected"), retry.UNKNOWN),
])
def test_network_failures_retry_only_when_the_request_cannot_have_arrived(exc, outcome):
    with pytest.raises(SendFailed) as caught:
        sender(RecordingHttpClient(exc)).send(TO, "Hello")
    assert caught.value.outcome == outcome


def test_an_unreadable_success_is_treated_as_in_doubt():
    with pytest.raises(SendFailed) as caught:
        sender(RecordingHttpClient(Response(201, "not json"))).send(TO, "Hello")
    assert caught.value.outcome == retry.UNKNOWN


def _page(*messages) -> Response:
    return Response(200, json.dumps({"messages": list(messages), "next_page_uri": None, "page": 0,
                                     "page_size": 50, "uri": "/2010-04-01/Accounts/x/Messages.json"}))


def test_find_asks_for_this_numbers_messages_and_matches_body_and_time():
    since = datetime(2026, 11, 18, 10, 0)
    http = RecordingHttpClient(_page(
        message(sid="SM" + "a" * 32, body="Other words"),
        message(sid="SM" + "b" * 32, body="Hello", created=datetime(2026, 11, 18, 9, 0, tzinfo=timezone.utc)),
        message(sid="SM" + "c" * 32, body="Hello", status="sent"),
    ))
    found = sender(http).find(TO, "Hello", since)
    assert (found.sid, found.status) == ("SM" + "c" * 32, "sent")
    [req] = http.requests
    assert (req.method, req.url) == ("GET", MESSAGES_URL)
    assert req.params["To"] == TO and req.params["From"] == FROM


def test_find_skips_sids_already_matched_and_reports_none():
    http = RecordingHttpClient(_page(message(sid="SM" + "c" * 32, body="Hello")))
    assert sender(http).find(TO, "Hello", datetime(2026, 11, 18, 10, 0), exclude=frozenset({"SM" + "c" * 32})) is None


def test_find_allows_for_a_little_clock_skew():
    created_at = datetime(2026, 11, 18, 9, 59, tzinfo=timezone.utc)  # a minute before our clock said we began
    http = RecordingHttpClient(_page(message(body="Hello", created=created_at)))
    assert sender(http).find(TO, "Hello", datetime(2026, 11, 18, 10, 0)) is not None


def test_a_failed_lookup_is_reported_not_guessed():
    with pytest.raises(LookupFailed):
        sender(RecordingHttpClient(error(503, None))).find(TO, "Hello", datetime(2026, 11, 18, 10, 0))
