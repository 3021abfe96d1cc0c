"""The conversation's webhooks answered in front of Flask (helpline.web.webhooks): the same answers
as Flask's views, the same refusals, logs and metrics, and safe words whatever fails."""
from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from helpline.db import db
from helpline.models import Conversation, Interaction
from helpline.web import webhooks
from helpline.web.webhooks import Webhooks
from support import BASE, TOKEN, sid, sign

NUMBER = "+447911123456"


class FlaskOnly(FlaskClient):
    """A test client whose requests skip the webhooks in front and go straight to Flask's views."""

    def open(self, *args, **kwargs):
        lane = self.application.wsgi_app
        assert isinstance(lane, Webhooks)
        self.application.wsgi_app = lane.flask_wsgi
        try:
            return super().open(*args, **kwargs)
        finally:
            self.application.wsgi_app = lane


def _post(client, path: str, params: dict, **headers):
    return client.post(path, data=params, headers={"X-Twilio-Signature": sign(path, params), **headers})


@pytest.fixture
def flask_only(app):
    return FlaskOnly(app, app.response_class)


def _call(path: str, call_sid: str, **extra) -> dict:
    return {"CallSid": call_sid, "From": NUMBER, "To": "+442380248725", "AccountSid": "AC" + "0" * 32,
            "CallStatus": "in-progress", **extra}


def test_flasks_views_are_not_run_for_them(app, client, monkeypatch):
    def not_here(*args, **kwargs):
        raise AssertionError("answered by Flask's view")

    for endpoint in webhooks.ROUTES.values():
        monkeypatch.setitem(app.view_functions, endpoint, not_here)
    call_sid = sid("CA")
    call = _post(client, "/voice", _call("/voice", call_sid))
    text = _post(client, "/sms", {"MessageSid": sid("SM"), "From": NUMBER, "Body": "hello"})
    ended = _post(client, "/voice/status", _call("/voice/status", call_sid, CallStatus="completed"))
    assert call.status_code == text.status_code == ended.status_code == 200
    assert "<Gather" in call.get_data(as_text=True) and "<Message>" in text.get_data(as_text=True)


def test_the_same_answers_as_flasks_views_turn_by_turn(app, client, flask_only):
    """A whole call and a whole text conversation, once in front of Flask and once through it."""
    presses = [None, "1", "2", "2", "2", "2", "2", "2", "2", "2", "2", "2", "1", "1", "1", "9"]
    sids = {client: sid("CA"), flask_only: sid("CA")}
    actions = {client: "/voice", flask_only: "/voice"}
    for press in presses:
        answers = []
        for c in (client, flask_only):
            params = _call(actions[c], sids[c], **({"Digits": press} if press else {}))
            response = _post(c, actions[c], params)
            body = response.get_data(as_text=True)
            answers.append((response.status_code, response.headers["Content-Type"], body))
            assert len(response.headers["X-Request-ID"]) == 32
            if "<Gather" not in body and "<Redirect" not in body:
                break
            actions[c] = body.split('action="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        assert answers[0] == answers[1]
    for status in ("completed", "completed"):  # the call ends mid-flow, and Twilio sends it again
        ended = [_post(c, "/voice/status", _call("/voice/status", sids[c], CallStatus=status)) for c in (client, flask_only)]
        assert [(r.status_code, r.headers["Content-Type"], r.get_data()) for r in ended][0] == \
            [(r.status_code, r.headers["Content-Type"], r.get_data()) for r in ended][1]
    for c in (client, flask_only):
        conv = db.session.scalars(select(Conversation).where(Conversation.call_sid == sids[c])).one()
        statuses = db.session.scalar(select(func.count()).select_from(Interaction).where(
            Interaction.external_id == sids[c], Interaction.kind == "status"))
        assert (conv.status, statuses) == ("abandoned", 1)
    numbers = {client: "+447911000001", flask_only: "+447911000002"}
    for words in ["my back hurts after deadlifts", "no", "2", "no", "no", "20", "STOP", "START", "HELP"]:
        answers = []
        for c in (client, flask_only):
            response = _post(c, "/sms", {"MessageSid": sid("SM"), "From": numbers[c], "Body": words})
            answers.append((response.status_code, response.headers["Content-Type"], response.get_data(as_text=True)))
        assert answers[0] == answers[1]


def test_the_same_refusals_as_flasks_views(app, client, flask_only):
    params = _call("/voice", sid("CA"))
    cases = [
        ({"X-Twilio-Signature": "forged"}, params, 403),
        ({}, params, 403),
        ({"X-Twilio-Signature": sign("/voice", params)}, {**params, "Digits": "9"}, 403),  # tampered after signing
    ]
    for headers, data, status in cases:
        ours, theirs = (c.post("/voice", data=data, headers=headers) for c in (client, flask_only))
        assert ours.status_code == theirs.status_code == status
        assert ours.get_data() == theirs.get_data()
        assert ours.headers["Content-Type"] == theirs.headers["Content-Type"]
        assert "X-Request-ID" in ours.headers
    big = {"Body": "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)}
    for c in (client, flask_only):
        assert c.post("/sms", data=big, headers={"X-Twilio-Signature": "x"}).status_code == 413


def test_other_requests_go_on_to_flask(app, client):
    assert client.get("/voice").status_code == 405
    params = {"MessageSid": sid("SM"), "From": NUMBER, "Body": "hello"}
    # A multipart body and one without a length are Flask's to read; they are answered the same way.
    multipart = client.post("/sms", data=params, content_type="multipart/form-data",
                            headers={"X-Twilio-Signature": sign("/sms", params)})
    assert multipart.status_code == 200 and "<Message>" in multipart.get_data(as_text=True)
    assert client.post("/sms/status", data={}).status_code == 403  # not one of the conversation's: Flask's


def test_a_request_id_from_a_proxy_is_kept_and_the_request_is_logged_once(app, client, log_lines):
    params = {"MessageSid": sid("SM"), "From": NUMBER, "Body": "hello"}
    response = _post(client, "/sms", params, **{"X-Request-ID": "proxy-id-12345"})
    assert response.headers["X-Request-ID"] == "proxy-id-12345"
    logged = [line for line in log_lines() if line["logger"] == "helpline.request"]
    assert len(logged) == 1
    assert logged[0] | {"duration_ms": 0} == {
        **logged[0], "message": "POST /sms 200", "method": "POST", "path": "/sms", "status": 200, "duration_ms": 0,
        "route": "sms.incoming_text", "request_id": "proxy-id-12345", "twilio_sid": params["MessageSid"]}


def test_what_is_logged_during_the_turn_names_the_request_and_not_the_caller(app, client, log_lines, monkeypatch):
    from helpline import conversations

    def noisy(hl, req, now):
        logging.getLogger("helpline.test").warning("turn for %s said %s", req.caller, req.body)
        raise RuntimeError(f"failed on {req.body}")

    monkeypatch.setattr(conversations, "sms_turn", noisy)
    body = "my back went at the gym today"
    response = _post(client, "/sms", {"MessageSid": sid("SM"), "From": NUMBER, "Body": body})
    assert "999" in response.get_data(as_text=True)  # the safe text
    request_id = response.headers["X-Request-ID"]
    during = [line for line in log_lines() if line["logger"] in ("helpline.test", "helpline.web.sms")]
    assert [line["request_id"] for line in during] == [request_id, request_id]
    assert {line["route"] for line in during} == {"sms.incoming_text"}
    text = json.dumps(during)
    assert body not in text and NUMBER not in text and "[redacted]" in text


@pytest.mark.parametrize("path", ["/voice", "/voice/gather?step=2"])
def test_a_call_hears_safe_words_whatever_fails(app, client, monkeypatch, path):
    from helpline import conversations
    from helpline.observability.metrics import ERRORS

    route = "voice.incoming_call" if path == "/voice" else "voice.gather"
    before = ERRORS.labels(route=route)._value.get()

    def broken(*args, **kwargs):
        raise RuntimeError("the database is on fire")

    monkeypatch.setattr(conversations, "voice_turn", broken)
    response = _post(client, path, _call(path, sid("CA"), Digits="1"))
    assert response.status_code == 200 and "nine nine nine" in response.get_data(as_text=True)
    assert ERRORS.labels(route=route)._value.get() == before + 1
    # Even a failure before the turn (here, the signature check itself) is answered with safe words.
    monkeypatch.setattr(webhooks, "signed", broken)
    response = _post(client, path, _call(path, sid("CA")))
    assert response.status_code == 200 and "nine nine nine" in response.get_data(as_text=True)
    response = _post(client, "/sms", {"MessageSid": sid("SM"), "From": NUMBER, "Body": "hi"})
    assert response.status_code == 200 and "999" in response.get_data(as_text=True)


def test_under_a_path_prefix_the_gather_action_keeps_it(app):
    from twilio.request_validator import RequestValidator

    params = _call("/voice", sid("CA"))
    signature = RequestValidator(TOKEN).compute_signature(BASE + "/voice", params)  # the test client's RAW_URI
    response = app.test_client().post("/voice", data=urlencode(params), content_type="application/x-www-form-urlencoded",
                                      base_url="http://localhost/helpline/", headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200
    assert 'action="/helpline/voice/gather?step=1"' in response.get_data(as_text=True)


def test_a_failed_status_callback_is_an_error_for_twilio_as_flasks_view_makes_it(app, client, flask_only, monkeypatch,
                                                                               log_lines):
    from helpline import conversations

    def broken(*args, **kwargs):
        raise RuntimeError("the database is away")

    monkeypatch.setattr(conversations, "call_status", broken)
    params = _call("/voice/status", sid("CA"), CallStatus="completed")
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: Flask answers 500 rather than raise
    ours, theirs = (_post(c, "/voice/status", params) for c in (client, flask_only))
    assert ours.status_code == theirs.status_code == 500
    assert ours.get_data() == theirs.get_data()
    failed = [line for line in log_lines() if line["level"] == "ERROR" and line["logger"] == "helpline.web.webhooks"]
    assert len(failed) == 1 and "RuntimeError: the database is away" in failed[0]["exception"]
