"""Rendering a turn's reply: the renderings kept by reply, the Gather action, the signature's form."""
from __future__ import annotations

from flask import url_for
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from helpline.web import twiml
from helpline.web.requests import Form
from helpline.web.signature import _FormValues
from helpline.web.voice import GATHER_PATH
from support import BASE, TOKEN

ASK = {"say": [{"text": "Do you have numbness around your bottom? Press 1 for yes, 2 for no.", "emergency": False}],
       "ask": {"node": "d1_saddle", "kind": "yesno", "keys": ["1", "2"], "hints": ["yes", "no"]}, "hangup": False}
EMERGENCY = {"say": [{"text": "Call nine nine nine now.", "emergency": True}], "ask": None, "hangup": True}
READ_BACK = {"say": [{"text": "You entered 0 7 9 1 1 1 2 3 4 5 6. Press 1 if that is right.", "emergency": False}],
             "ask": {"node": "confirm_number", "kind": "confirm", "keys": ["1", "2"], "hints": ["yes", "no"]},
             "hangup": False}


def test_a_kept_rendering_is_exactly_what_the_twilio_builders_render():
    for reply in (ASK, EMERGENCY):
        for action in ("/voice/gather?step=3", "/voice/gather?step=4"):
            expected = str(twiml.voice_reply(reply, action, "Polly.Amy"))
            assert twiml.voice_xml(reply, action, "Polly.Amy") == expected
            assert twiml.voice_xml(reply, action, "Polly.Amy") == expected  # the second time, from the kept ones
    assert twiml.voice_xml(ASK, "/voice/gather?step=3", "Polly.Brian") != twiml.voice_xml(ASK, "/voice/gather?step=3", "Polly.Amy")
    text = {"say": [{"text": "Rest, keep moving gently.", "emergency": False}]}
    assert twiml.sms_xml(text) == str(twiml.sms_reply(text)) == twiml.sms_xml(text)


def test_the_same_reply_is_rendered_once():
    twiml._voice_xml.cache_clear()
    for _ in range(3):
        twiml.voice_xml(ASK, "/voice/gather?step=5", "Polly.Amy")
    info = twiml._voice_xml.cache_info()
    assert (info.misses, info.hits) == (1, 2)


def test_a_reply_reading_out_a_phone_number_is_not_kept():
    twiml._voice_xml.cache_clear()
    rendered = twiml.voice_xml(READ_BACK, "/voice/gather?step=9", "Polly.Amy")
    assert "0 7 9 1 1 1 2 3 4 5 6" in rendered
    assert twiml._voice_xml.cache_info().currsize == 0
    twiml._sms_xml.cache_clear()
    twiml.sms_xml({"say": [{"text": "We will call you on 07911123456."}]})
    assert twiml._sms_xml.cache_info().currsize == 0


def test_the_gather_action_is_what_url_for_builds_under_a_path_prefix(app):
    for base in ("http://localhost/", "http://localhost/helpline/"):
        with app.test_request_context("/voice/gather", base_url=base, method="POST") as ctx:
            built = f"{ctx.request.script_root}{GATHER_PATH}?step=7"
            assert built == url_for("voice.gather", step=7)


def test_the_validators_view_of_the_form_signs_like_the_form_itself():
    form = MultiDict([("CallSid", "CA" + "1" * 32), ("Digits", "1"), ("Repeated", "b"), ("Repeated", "a"),
                      ("Empty", "")])
    validator = RequestValidator(TOKEN)
    url = BASE + "/voice/gather?step=2"
    assert validator.compute_signature(url, _FormValues(form)) == validator.compute_signature(url, form)
    assert validator.compute_signature(url, _FormValues(MultiDict())) == validator.compute_signature(url, {})
    parsed = Form(form.items(multi=True))  # the webhooks' own form
    assert validator.compute_signature(url, _FormValues(parsed)) == validator.compute_signature(url, form)
    assert parsed.getlist("Repeated") == ["b", "a"]  # the validator sorted a copy, not the form's own list
