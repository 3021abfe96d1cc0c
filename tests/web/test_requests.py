"""HelplineRequest reads a webhook's urlencoded form itself: the same form as Werkzeug's, faster."""
from __future__ import annotations

import io
from urllib.parse import parse_qsl, urlencode

import werkzeug.urls  # noqa: F401  (registers the "werkzeug.url_quote" error handler)
from hypothesis import given
from hypothesis import strategies as st

import pytest
from flask import Flask, Request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.test import EnvironBuilder

from helpline.web.requests import HelplineRequest, parse_pairs

FORM = "application/x-www-form-urlencoded"

BODIES = [
    pytest.param(b"", id="empty"),
    pytest.param(urlencode({"CallSid": "CA" + "0" * 32, "From": "+447700900123", "Digits": "1"}).encode(), id="voice"),
    pytest.param(b"Digits=&SpeechResult=", id="blank values kept"),
    pytest.param(b"a=1&a=2&b=3", id="repeated keys"),
    pytest.param(b"Body=back+pain+%26+numb%3F", id="plus and escapes"),
    pytest.param(urlencode({"Body": "\U0001F62D" * 1600}).encode(), id="1600 emoji"),
    pytest.param(b"Body=%FF%FEbad", id="escaped invalid utf-8"),
    pytest.param(b"Body=\xff\xfe", id="raw invalid utf-8"),
    pytest.param(b"novalue&=nokey&x=1", id="odd pairs"),
    pytest.param(b"Body=%zz%", id="broken escapes"),
]


def _environ(body: bytes, content_type: str = FORM, length: bool = True) -> dict:
    environ = EnvironBuilder(method="POST", path="/sms", data=body, content_type=content_type).get_environ()
    if not length:
        environ.pop("CONTENT_LENGTH", None)
    return environ


def _werkzeug_form(environ: dict) -> list:
    environ = {**environ, "wsgi.input": io.BytesIO(environ["wsgi.input"].getvalue())}
    return list(Request(environ).form.items(multi=True))


@pytest.fixture()
def app_context():
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    with app.app_context():
        yield app


@pytest.mark.parametrize("body", BODIES)
def test_the_same_form_as_werkzeug(app_context, body):
    environ = _environ(body)
    expected = _werkzeug_form(environ)
    request = HelplineRequest(environ)
    assert list(request.form.items(multi=True)) == expected
    assert not request.files
    assert request.stream.read() == b""  # consumed, as Werkzeug leaves it


@pytest.mark.parametrize("content_type", [f"{FORM}; charset=UTF-8", "Application/X-WWW-Form-Urlencoded"])
def test_content_type_parameters_and_case(app_context, content_type):
    request = HelplineRequest(_environ(b"Body=hello", content_type))
    assert request.form["Body"] == "hello"


def test_a_body_over_the_limit_is_refused_unread(app_context):
    environ = _environ(b"Body=" + b"x" * (64 * 1024))
    request = HelplineRequest(environ)
    with pytest.raises(RequestEntityTooLarge):
        request.form  # noqa: B018
    assert environ["wsgi.input"].tell() == 0


@pytest.mark.parametrize("case", ["multipart", "no length", "data read first"])
def test_other_bodies_go_werkzeugs_way(app_context, case):
    if case == "multipart":
        environ = EnvironBuilder(method="POST", path="/x", data={"Body": "hello"},
                                 content_type="multipart/form-data").get_environ()
        assert environ["CONTENT_TYPE"].startswith("multipart/form-data")
    else:
        environ = _environ(b"Body=hello", length=case != "no length")
    request = HelplineRequest(environ)
    if case == "data read first":
        assert request.get_data() == b"Body=hello"
    form = request.form
    expected = {"multipart": {"Body": "hello"}, "no length": {}, "data read first": {"Body": "hello"}}[case]
    assert form.to_dict() == expected


def test_the_app_uses_it(app):
    assert app.request_class is HelplineRequest
    client = app.test_client()
    response = client.post("/sms", data=b"x" * (2 * 1024 * 1024), content_type=FORM,
                           headers={"X-Twilio-Signature": "anything"})
    assert response.status_code == 413


def test_the_forms_get_answers_as_werkzeugs_does():
    from werkzeug.datastructures import ImmutableMultiDict

    from helpline.web.requests import Form

    items = [("Digits", "1"), ("Digits", "2"), ("Confidence", "0.5"), ("Empty", ""), ("Step", "x")]
    ours, theirs = Form(items), ImmutableMultiDict(items)
    for key, default, type_ in [("Digits", None, None), ("Missing", None, None), ("Missing", "d", None),
                                ("Confidence", None, float), ("Step", 0, int), ("Missing", 7, int), ("Empty", "e", None),
                                ("Confidence", "bad", int), ("Digits", "t", lambda v: None + v), ("Digits", None, str.upper)]:
        assert ours.get(key, default, type_) == theirs.get(key, default, type_)
    assert ours.getlist("Digits") == ["1", "2"] and ours.to_dict() == theirs.to_dict()


# Text built from what matters to the parser: separators, '+', escapes whole, cut short or not
# UTF-8, and characters beyond ASCII.
_PIECES = st.sampled_from(["&", "=", "+", "%", "%2", "%2B", "%26", "%3D", "%E2%82%AC", "%E2%82", "%FF",
                           "%zz", "a", "B", "7", " ", "\u00e9", "\U0001F62D", ";"])


@given(st.lists(_PIECES, max_size=40).map("".join))
def test_the_pairs_are_parse_qsls(text):
    assert parse_pairs(text) == parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote")


@pytest.mark.parametrize("body", BODIES)
def test_the_pairs_of_every_sample_body_are_parse_qsls(body):
    try:
        text = body.decode()
    except ValueError:
        pytest.skip("not UTF-8: read_form gives an empty form before parsing")
    assert parse_pairs(text) == parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote")
