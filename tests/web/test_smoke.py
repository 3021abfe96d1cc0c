"""The walking skeleton: a call and a text reach the triage, signed and logged."""
from __future__ import annotations

from sqlalchemy import func, select

from helpline.db import db
from helpline.models import Conversation, Interaction
from support import Caller, Texter


def test_healthz_checks_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_a_call_hears_999_first_and_the_menu(twilio):
    caller = Caller(twilio)
    heard = caller.call()
    assert "nine nine nine" in heard.says[0].text
    gather = heard.gather
    assert gather is not None
    assert gather.get("input") == "dtmf speech"
    assert gather.get("language") == "en-GB"
    assert "Press 1 if you have back pain now" in heard.text


def test_a_text_gets_999_first_and_the_menu(twilio):
    reply = Texter(twilio).send("hello")
    assert reply.index("999") < reply.index("Reply 1")
    conv = db.session.scalar(select(Conversation))
    assert conv.flow_version and conv.channel == "sms" and conv.status == "active"
    assert db.session.scalar(select(func.count()).select_from(Interaction)) == 2


def test_unsigned_and_tampered_webhooks_are_refused(client, twilio):
    params = {"CallSid": "CA1", "From": "+447911123456"}
    assert client.post("/voice", data=params).status_code == 403
    assert client.post("/sms", data={"Body": "hi", "From": "+447911123456"},
                       headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}).status_code == 403
    from support import sign
    signature = sign("/sms", {"Body": "hi", "From": "+447911123456"})
    tampered = client.post("/sms", data={"Body": "hi there", "From": "+447911123456"},
                           headers={"X-Twilio-Signature": signature})
    assert tampered.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Interaction)) == 0
