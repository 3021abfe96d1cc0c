"""The browser simulator's endpoints: real webhooks, real signatures, the TwiML and the log rows of each step."""
from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from flask_login import LoginManager, UserMixin
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from helpline import simulate
from helpline.db import db
from helpline.models import Callback, Conversation, Interaction
from simfixtures import _dev_app, dev_app, dev_client, new_app  # noqa: F401  (fixtures)

CALLER = "+442079460123"


@pytest.fixture
def signing(dev_app):
    """(the address Twilio calls, the auth token) of the app under test."""
    return dev_app.config["PUBLIC_BASE_URL"], dev_app.config["TWILIO_AUTH_TOKEN"]


class Phone:
    """A person at the simulator page: what its JavaScript posts."""

    def __init__(self, client, caller: str | None = CALLER):
        self.client, self.caller = client, caller
        self.call_sid = simulate.new_sid("CA")
        self.last: dict | None = None

    def _post(self, **data):
        response = self.client.post("/simulator/voice", json={"call_sid": self.call_sid, "from": self.caller or "",
                                                             **data})
        assert response.status_code == 200, response.get_data(as_text=True)
        self.last = response.get_json()
        return self.last

    def dial(self):
        return self._post()

    def press(self, digits: str):
        return self._post(action=self.last["action"], digits=digits)

    def say(self, words: str, confidence: float):
        return self._post(action=self.last["action"], speech=words, confidence=confidence)

    def silence(self):
        return self._post(action=self.last["action"])

    def hang_up(self):
        return self._post(hang_up=True, duration=30)


def _said(step) -> str:
    return " ".join(p["text"] for p in step["prompts"])


def test_front_page_opens_onto_the_simulator_in_development(dev_client):
    response = dev_client.get("/")
    assert response.status_code == 302
    assert response.location.endswith("/simulator/")


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts, self.inline_handlers, self.style_attrs, self.keys, self.ids = [], [], [], [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts.append(attrs.get("src"))
        self.inline_handlers += [name for name in attrs if name.startswith("on")]
        if "style" in attrs:
            self.style_attrs.append(tag)
        if "data-key" in attrs:
            self.keys.append(attrs["data-key"])
        if "id" in attrs:
            self.ids.add(attrs["id"])


def test_the_page_has_a_keypad_a_text_view_and_no_inline_script(dev_client):
    response = dev_client.get("/simulator/")
    assert response.status_code == 200
    page = _Page()
    page.feed(response.get_data(as_text=True))
    assert page.keys == list("123456789*0#")
    assert {"dial", "hangup", "speech", "confidence", "silence", "speak-aloud", "sms-body", "sms-send",
            "voice-steps", "sms-steps"} <= page.ids
    # The app sends a Content-Security-Policy: every script is a file, no handler or style is inline.
    assert page.scripts and all(page.scripts)
    assert page.inline_handlers == [] and page.style_attrs == []
    assert b"<script>" not in response.data
    for src in page.scripts:
        assert dev_client.get(src).status_code == 200


def test_a_call_is_signed_as_twilio_signs_and_answered_by_the_real_webhook(dev_client, signing):
    BASE, TOKEN = signing
    step = Phone(dev_client).dial()
    request = step["request"]
    assert request["url"] == BASE + "/voice"
    assert request["signature"] == RequestValidator(TOKEN).compute_signature(BASE + "/voice", request["params"])
    assert request["params"]["From"] == CALLER and request["params"]["CallStatus"] == "ringing"
    assert step["status"] == 200
    root = ET.fromstring(step["twiml"])
    assert root.tag == "Response" and root.find("Gather") is not None
    assert "nine nine nine" in step["prompts"][0]["text"]  # P1: the 999 warning comes first
    assert step["gather"]["input"] == "dtmf speech" and step["action"].startswith("/voice/gather?step=")
    assert not step["ended"]
    # The log rows that step wrote: the call in, the prompt out.
    assert [(r["direction"], r["kind"], r["external_id"]) for r in step["log"]] == [
        ("in", "turn", request["params"]["CallSid"]), ("out", "turn", None)]
    assert step["log"][1]["node"] == "main_menu"
    assert step["conversation"]["channel"] == "voice" and step["conversation"]["status"] == "active"


def test_red_flag_answers_reach_the_ae_message_said_twice_then_the_status_callback(dev_client):
    phone = Phone(dev_client)
    phone.dial()
    for key in ("1", "2", "2", "2"):
        assert not phone.press(key)["ended"]
    step = phone.press("1")  # new numbness where you would sit on a bike saddle
    assert "Please go to A and E now" in _said(step)
    [prompt] = step["prompts"]
    assert prompt["loop"] == 2 and not prompt["in_gather"]
    assert step["ended"] and step["hangup"] and step["action"] is None
    assert step["status_callback"]["status"] == 200
    assert step["status_callback"]["params"]["CallStatus"] == "completed"
    assert [r["kind"] for r in step["log"]] == ["turn", "turn", "status"]
    assert step["log"][0]["digits"] == "1" and step["log"][0]["node"] == "d2_saddle"
    conv = step["conversation"]
    assert conv["disposition"] == "D2" and conv["status"] == "completed"
    assert "d2_saddle_numbness" in conv["rules_fired"]
    assert [c["queue"] for c in conv["callbacks"]] == ["welfare"]


def test_words_with_low_confidence_are_asked_again_and_logged_as_heard(dev_client):
    phone = Phone(dev_client)
    phone.dial()
    phone.press("1")
    step = phone.say("no", confidence=0.2)
    assert step["request"]["params"]["SpeechResult"] == "no"
    assert step["request"]["params"]["Confidence"] == "0.20"
    assert "Sorry, I did not get that" in _said(step)
    assert step["log"][0]["speech"] == "no" and step["log"][0]["confidence"] == pytest.approx(0.2)
    step = phone.say("no", confidence=0.95)
    assert "serious accident" in _said(step)


def test_silence_is_asked_again_then_counts_as_not_sure(dev_client):
    phone = Phone(dev_client)
    phone.dial()
    phone.press("1")
    first = phone.silence()
    assert "Digits" not in first["request"]["params"] and "SpeechResult" not in first["request"]["params"]
    assert "Sorry, I did not get that" in _said(first)
    second = phone.silence()
    assert "serious accident" in _said(second)
    conv = db.session.scalar(select(Conversation))
    assert conv.answers["d1_chest"] == "not_sure"


def test_hanging_up_sends_the_status_callback_and_a_red_flag_still_escalates(dev_client, signing):
    BASE, _ = signing
    phone = Phone(dev_client)
    phone.dial()
    phone.press("1")
    phone.press("3")  # not sure about chest pain: at least D3
    step = phone.hang_up()
    assert step["request"]["url"] == BASE + "/voice/status"
    assert step["request"]["params"]["CallDuration"] == "30"
    assert [r["kind"] for r in step["log"]] == ["status"]
    assert step["conversation"]["status"] == "abandoned"
    assert db.session.scalar(select(func.count()).select_from(Callback)) == 1


def test_a_withheld_number_is_sent_as_twilio_sends_it(dev_client):
    step = Phone(dev_client, caller=None).dial()
    assert step["request"]["params"]["From"] == "anonymous"
    assert step["conversation"]["caller"] is None


def test_texts_go_through_the_sms_webhook_with_their_log_rows(dev_client, signing):
    BASE, TOKEN = signing
    response = dev_client.post("/simulator/sms", json={"from": CALLER, "body": "hello"})
    step = response.get_json()
    assert step["status"] == 200
    assert step["request"]["url"] == BASE + "/sms"
    assert RequestValidator(TOKEN).validate(step["request"]["url"], step["request"]["params"],
                                            step["request"]["signature"])
    [text] = step["messages"]
    assert text.index("999") < text.index("Reply 1")
    assert [(r["direction"], r["body"] if r["direction"] == "in" else bool(r["said"])) for r in step["log"]] == [
        ("in", "hello"), ("out", True)]
    assert step["segments"]["in"] == {"encoding": "GSM-7", "segments": 1}
    for body in ("1", "no", "no", "no"):
        step = dev_client.post("/simulator/sms", json={"from": CALLER, "body": body}).get_json()
    step = dev_client.post("/simulator/sms", json={"from": CALLER, "body": "yes"}).get_json()
    assert step["messages"][0].startswith("URGENT: Go to A&E now")
    assert step["conversation"]["disposition"] == "D2"
    assert step["segments"]["out"]["segments"] == 1  # P11: the emergency text is one segment


def test_keyword_replies_are_found_though_they_belong_to_no_conversation(dev_client):
    step = dev_client.post("/simulator/sms", json={"from": CALLER, "body": "STOP"}).get_json()
    assert [(r["direction"], r["kind"]) for r in step["log"]] == [("in", "keyword"), ("out", "keyword")]
    assert "no more texts" in step["messages"][0]
    assert step["conversation"] is None


def test_the_webhook_really_checks_the_signature(dev_client, monkeypatch):
    monkeypatch.setattr(simulate, "signing_token", lambda app: "not-the-auth-token")
    response = dev_client.post("/simulator/voice", json={"call_sid": simulate.new_sid("CA"), "from": CALLER})
    step = response.get_json()
    assert step["status"] == 403
    assert step["prompts"] == [] and step["log"] == []
    assert db.session.scalar(select(func.count()).select_from(Interaction)) == 0


@pytest.mark.parametrize("action", ["/flows/map", "/simulator/voice", "https://evil.example/voice", "/sms"])
def test_only_voice_webhooks_can_be_called(dev_client, action):
    response = dev_client.post("/simulator/voice", json={"call_sid": simulate.new_sid("CA"), "action": action,
                                                         "digits": "1"})
    assert response.status_code == 400
    assert "not a voice webhook" in response.get_json()["error"]


@pytest.mark.parametrize("payload, error", [
    ({"call_sid": "XX123"}, "CallSid"),
    ({"call_sid": simulate.new_sid("CA"), "hang_up": True, "duration": "long"}, "duration"),
    ({"call_sid": simulate.new_sid("CA"), "action": "/voice/gather?step=1", "confidence": "high"}, "confidence"),
])
def test_bad_voice_requests_are_refused(dev_client, payload, error):
    response = dev_client.post("/simulator/voice", json=payload)
    assert response.status_code == 400
    assert error in response.get_data(as_text=True)


def test_an_empty_text_is_refused(dev_client):
    response = dev_client.post("/simulator/sms", json={"from": CALLER, "body": "  "})
    assert response.status_code == 400


def test_development_without_a_token_signs_with_a_per_process_one(new_app):
    dev = new_app(TWILIO_AUTH_TOKEN="", SIMULATOR_OPEN=True)
    token = dev.config["TWILIO_AUTH_TOKEN"]
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    client = dev.test_client()
    # Nobody else knows it: an unsigned call is still refused ...
    assert client.post("/voice", data={"CallSid": "CA1", "From": CALLER}).status_code == 403
    # ... while the simulator's signed call passes the same check.
    step = client.post("/simulator/voice", json={"call_sid": simulate.new_sid("CA"), "from": CALLER}).get_json()
    assert step["status"] == 200 and step["prompts"]
    assert new_app(TWILIO_AUTH_TOKEN="").config["TWILIO_AUTH_TOKEN"] == ""  # never outside development


def _without_login(app):
    if hasattr(app, "login_manager"):
        del app.login_manager
    return app


def test_outside_development_without_staff_login_there_is_no_simulator(new_app):
    closed = _without_login(new_app())
    client = closed.test_client()
    for path in ("/simulator/", "/flows/map"):
        assert client.get(path).status_code == 404
    assert client.post("/simulator/voice", json={"call_sid": simulate.new_sid("CA")}).status_code == 404
    assert client.post("/simulator/sms", json={"from": CALLER, "body": "hi"}).status_code == 404
    front = client.get("/")
    assert not (front.status_code == 302 and front.location.endswith("/simulator/"))


class _Staff(UserMixin):
    id = "1"


def test_outside_development_staff_must_sign_in(new_app):
    closed = new_app()
    manager = LoginManager()
    manager.init_app(closed)
    manager.user_loader(lambda user_id: None)
    manager.request_loader(lambda request: _Staff() if request.headers.get("X-Test-Staff") else None)
    client = closed.test_client()
    assert client.get("/simulator/").status_code == 401
    assert client.post("/simulator/sms", json={"from": CALLER, "body": "hi"}).status_code == 401
    signed_in = {"X-Test-Staff": "yes"}
    page = client.get("/simulator/", headers=signed_in)
    assert page.status_code == 200 and b"These are real records" in page.data
    step = client.post("/simulator/sms", json={"from": CALLER, "body": "hello"}, headers=signed_in).get_json()
    assert step["status"] == 200 and "999" in step["messages"][0]
    if shutil.which("dot"):
        assert client.get("/flows/map", headers=signed_in).mimetype == "image/svg+xml"


def test_steps_need_the_pages_csrf_token_when_csrf_is_on(new_app):
    dev = new_app(SIMULATOR_OPEN=True, WTF_CSRF_ENABLED=True)
    if "csrf" not in dev.extensions:
        pytest.skip("CSRF protection is not set up in this app")
    client = dev.test_client()
    assert client.post("/simulator/sms", json={"from": CALLER, "body": "hello"}).status_code == 400
    page = client.get("/simulator/")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.get_data(as_text=True)).group(1)
    step = client.post("/simulator/sms", json={"from": CALLER, "body": "hello"}, headers={"X-CSRFToken": token})
    assert step.status_code == 200 and step.get_json()["status"] == 200
