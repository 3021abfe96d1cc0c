"""The privacy notice in the first text and the voice menu: after the 999 warning, never before it."""
from __future__ import annotations

import pytest

from helpline import create_app
from helpline.engine import load_flows
from helpline.engine.validate import check_directory
from helpline.privacy.notice import NOWHERE, privacy_url, spoken, with_privacy_url
from support import BASE, Caller, Texter

SENTENCE_SMS = "We keep your answers to advise you and arrange any call back: see "
SENTENCE_VOICE = "We keep a record of your answers to advise you and arrange any call back; you can read how we use them at "


def test_the_first_text_warns_of_999_first_then_says_where_to_read_more(twilio):
    reply = Texter(twilio).send("Hi, I hurt my back at the gym")
    assert reply.index("999") < reply.index(SENTENCE_SMS)
    assert f"{SENTENCE_SMS}{BASE}/privacy" in reply  # no PRIVACY_URL set: this service's own page


def test_the_voice_menu_warns_of_999_first_then_says_where_to_read_more(twilio):
    heard = Caller(twilio).call()
    first = heard.says[0].text
    assert "nine nine nine" in first and SENTENCE_VOICE not in first.split("nine nine nine")[0]
    assert f"{SENTENCE_VOICE}helpline.example.org/privacy." in heard.text  # said without "https://"


def test_a_configured_privacy_url_is_used(app):
    other = create_app({**app.config, "PRIVACY_URL": "https://www.trust.example/privacy-notice/"})
    welcome = other.extensions["helpline"].flow.node("welcome").text
    assert welcome.sms.endswith(f"{SENTENCE_SMS}https://www.trust.example/privacy-notice/")
    assert welcome.voice.endswith(f"{SENTENCE_VOICE}trust.example/privacy-notice.")


@pytest.mark.parametrize("config, url", [
    ({"PRIVACY_URL": "https://trust.example/p", "PUBLIC_BASE_URL": "https://h.example"}, "https://trust.example/p"),
    ({"PRIVACY_URL": "", "PUBLIC_BASE_URL": "https://h.example/"}, "https://h.example/privacy"),
    ({"PRIVACY_URL": "", "PUBLIC_BASE_URL": ""}, ""),
])
def test_where_the_notice_lives(config, url):
    assert privacy_url(config) == url


@pytest.mark.parametrize("url, said", [
    ("https://www.trust.example/privacy/", "trust.example/privacy"),
    ("http://h.example/p", "h.example/p"),
    ("", NOWHERE),
])
def test_the_address_as_spoken(url, said, flows_dir):
    flows = with_privacy_url(load_flows(str(flows_dir)), url)
    voice = flows["back_pain"].node("welcome").text.voice
    assert voice.endswith(f"at {said}.") and "{privacy_url}" not in voice
    assert spoken(url) == said or url == ""


def test_only_the_welcome_changes_and_emergency_texts_are_untouched(flows_dir):
    raw = load_flows(str(flows_dir))["back_pain"]
    filled = with_privacy_url({"back_pain": raw}, "https://h.example/privacy")["back_pain"]
    changed = [nid for nid in raw.nodes if raw.node(nid).text != filled.node(nid).text]
    assert changed == ["welcome"]
    for nid, node in raw.nodes.items():
        if node.emergency:
            assert "privacy" not in node.text.sms and "answers to advise" not in node.text.sms, nid


def test_the_flow_still_passes_every_check_including_p1(flows_dir):
    flows, errors = check_directory(str(flows_dir))
    assert errors == []
    assert flows["back_pain"].version == "2026.11.4"
