"""Calling back: the dialler rings staff first, the TwiML dials the patient, webhooks record the attempt."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import select

from helpline.db import db
from helpline.models import Callback
from helpline.notify import Outbox
from helpline.staff import queue
from helpline.staff.models import AuditEvent, CallbackAttempt
from staffkit import *  # noqa: F401,F403  (fixtures and helpers)

BASE = "https://helpline.example.org"


@pytest.fixture
def held(settings, make_staff, make_item, now):
    """A clinician holding a D4 callback."""
    staff = make_staff(name="Sam", phone="+447911000001")
    item = make_item(phone="+447911123456")
    queue.claim(settings, staff, item.id, now)
    return staff, item


def place_call(login, staff, item):
    return login(staff).post(f"/staff/cases/{item.id}/call")


def the_attempt() -> CallbackAttempt:
    db.session.expire_all()
    return db.session.scalars(select(CallbackAttempt)).one()


def test_call_back_rings_my_phone_first_from_the_help_line_number(login, dialer, held):
    staff, item = held
    response = place_call(login, staff, item)
    assert response.status_code == 302
    [call] = dialer.calls
    attempt = the_attempt()
    assert call["to"] == "+447911000001" and call["caller_id"] == "+442380248725"
    assert call["twiml_url"] == f"{BASE}/staff/calls/{attempt.id}/connect"
    assert call["status_url"] == f"{BASE}/staff/calls/{attempt.id}/status"
    assert (attempt.method, attempt.call_sid, attempt.result, attempt.staff_id) == ("dialler", call["sid"], None, staff.id)
    assert "call_placed" in [e.action for e in db.session.scalars(select(AuditEvent))]


def test_the_twiml_dials_the_patient_with_the_help_line_as_caller_id(twilio, login, dialer, held):
    staff, item = held
    place_call(login, staff, item)
    attempt = the_attempt()
    response = twilio(f"/staff/calls/{attempt.id}/connect", {"CallSid": attempt.call_sid, "CallStatus": "in-progress"})
    assert response.status_code == 200 and response.mimetype == "text/xml"
    root = ET.fromstring(response.data)
    dial = root.find("Dial")
    assert dial.get("callerId") == "+442380248725"
    assert dial.get("action") == f"/staff/calls/{attempt.id}/dialled"
    assert [n.text for n in dial.findall("Number")] == ["+447911123456"]
    assert root.find("Say").get("language") == "en-GB"


def test_the_call_webhooks_must_be_signed_by_twilio(client, login, dialer, held):
    staff, item = held
    place_call(login, staff, item)
    attempt = the_attempt()
    for path in ("connect", "dialled", "status"):
        assert client.post(f"/staff/calls/{attempt.id}/{path}", data={"CallSid": "CA1"}).status_code == 403
    assert b"+447911123456" not in client.post(f"/staff/calls/{attempt.id}/connect").data


def test_an_answered_call_is_recorded_once_however_often_twilio_repeats_it(twilio, login, dialer, held):
    staff, item = held
    place_call(login, staff, item)
    attempt = the_attempt()
    for _ in range(2):
        response = twilio(f"/staff/calls/{attempt.id}/dialled",
                          {"CallSid": attempt.call_sid, "DialCallStatus": "completed", "DialCallDuration": "95"})
        assert ET.fromstring(response.data).find("Hangup") is not None
    twilio(f"/staff/calls/{attempt.id}/status", {"CallSid": attempt.call_sid, "CallStatus": "completed"})
    attempt = the_attempt()
    assert (attempt.result, attempt.duration_seconds, attempt.staff_leg) == ("answered", 95, "completed")
    item = db.session.get(Callback, item.id)
    assert (item.attempts, item.status, item.claimed_by_id) == (1, "claimed", staff.id)
    # The call is over: the TwiML no longer hands out the patient's number.
    again = twilio(f"/staff/calls/{attempt.id}/connect", {"CallSid": attempt.call_sid})
    assert ET.fromstring(again.data).find("Dial") is None


@pytest.mark.parametrize("dial_status,result", [("no-answer", "no_answer"), ("busy", "busy"), ("failed", "failed")])
def test_a_patient_who_does_not_answer_goes_back_on_the_queue(app, twilio, login, dialer, held, now, dial_status, result):
    staff, item = held
    place_call(login, staff, item)
    attempt = the_attempt()
    twilio(f"/staff/calls/{attempt.id}/dialled", {"CallSid": attempt.call_sid, "DialCallStatus": dial_status,
                                                  "DialCallDuration": "0"})
    assert the_attempt().result == result
    item = db.session.get(Callback, item.id)
    assert (item.status, item.claimed_by_id, item.attempts) == ("open", None, 1)
    assert item.next_attempt_at == now + timedelta(minutes=30)
    text = db.session.scalars(select(Outbox).where(Outbox.callback_id == item.id, Outbox.kind == "missed_call")).one()
    assert text.to_number == "+447911123456" and "tried to call you" in text.body


def test_when_staff_miss_their_own_phone_the_patient_is_not_counted_as_tried(twilio, login, dialer, held):
    staff, item = held
    place_call(login, staff, item)
    attempt = the_attempt()
    twilio(f"/staff/calls/{attempt.id}/status", {"CallSid": attempt.call_sid, "CallStatus": "no-answer"})
    assert the_attempt().result == "staff_unanswered"
    item = db.session.get(Callback, item.id)
    assert (item.attempts, item.status, item.claimed_by_id) == (0, "claimed", staff.id)


def test_the_dial_result_wins_over_an_earlier_completed_status(twilio, login, dialer, held):
    staff, item = held
    place_call(login, staff, item)
    attempt = the_attempt()
    twilio(f"/staff/calls/{attempt.id}/status", {"CallSid": attempt.call_sid, "CallStatus": "completed"})
    assert the_attempt().result == "cancelled"
    twilio(f"/staff/calls/{attempt.id}/dialled", {"CallSid": attempt.call_sid, "DialCallStatus": "busy"})
    assert the_attempt().result == "busy"
    assert db.session.get(Callback, item.id).attempts == 1


def test_when_twilio_refuses_the_call_staff_are_told_and_nothing_is_counted(login, dialer, held):
    staff, item = held
    dialer.fail_with = "HTTP 400 error: invalid To"
    browser = login(staff)
    response = browser.post(f"/staff/cases/{item.id}/call", follow_redirects=True)
    assert b"could not be placed" in response.data
    assert the_attempt().result == "not_placed"
    item = db.session.get(Callback, item.id)
    assert (item.attempts, item.status) == (0, "claimed")
    assert "call_failed" in [e.action for e in db.session.scalars(select(AuditEvent))]


def test_only_the_holder_with_a_phone_can_call_a_number_we_have(settings, login, dialer, make_staff, make_item, now):
    holder, other = make_staff(), make_staff()
    no_phone = make_staff(phone=None)
    item = make_item()
    queue.claim(settings, holder, item.id, now)
    assert b"Claim the item first" in login(other).post(f"/staff/cases/{item.id}/call", follow_redirects=True).data
    withheld = make_item(phone=None)
    queue.claim(settings, holder, withheld.id, now)
    assert b"nobody to call back" in login(holder).post(f"/staff/cases/{withheld.id}/call", follow_redirects=True).data
    mine = make_item()
    queue.claim(settings, no_phone, mine.id, now)
    assert b"no phone number" in login(no_phone).post(f"/staff/cases/{mine.id}/call", follow_redirects=True).data
    assert dialer.calls == []
