"""Escalation: due times in opening hours, one open item per number, D4 out of hours."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from helpline.callbacks import due_time, request_callback
from helpline.db import db
from helpline.hours import OpeningHours
from helpline.models import Callback, Conversation
from support import Caller, Texter, walk

# Naive UTC. London is on GMT in these weeks.
WED_10 = datetime(2026, 11, 18, 10, 0)
WED_17 = datetime(2026, 11, 18, 17, 0)
FRI_19 = datetime(2026, 11, 20, 19, 0)
XMAS_EVE_17 = datetime(2026, 12, 24, 17, 0)
SUMMER_WED_10_BST = datetime(2026, 7, 15, 9, 0)  # 10:00 in London


@pytest.mark.parametrize("now,open_,next_open", [
    (WED_10, True, WED_10),
    (FRI_19, False, datetime(2026, 11, 23, 8, 0)),
    (XMAS_EVE_17, True, XMAS_EVE_17),
    (datetime(2026, 12, 24, 18, 30), False, datetime(2026, 12, 29, 8, 0)),  # 25th, 26th, 28th are holidays
    (SUMMER_WED_10_BST, True, SUMMER_WED_10_BST),
    (datetime(2026, 7, 15, 6, 30), False, datetime(2026, 7, 15, 7, 0)),  # 07:30 BST; opens 08:00 BST
])
def test_opening_hours_and_bank_holidays(now, open_, next_open):
    hours = OpeningHours.parse("Mon-Fri 08:00-18:00", "Europe/London", "GB-ENG")
    assert hours.is_open(now) is open_
    assert hours.next_opening(now) == next_open


@pytest.mark.parametrize("queue,disposition,now,due", [
    ("welfare", "D1", FRI_19, datetime(2026, 11, 20, 20, 0)),  # welfare checks do not wait for opening
    ("clinical", "D4", WED_10, datetime(2026, 11, 18, 12, 0)),
    ("clinical", "D4", WED_17, datetime(2026, 11, 19, 9, 0)),  # 1 hour today, 1 hour tomorrow
    ("clinical", "D3", FRI_19, datetime(2026, 11, 23, 10, 0)),  # due after opening
    ("clinical", "D5", WED_10, datetime(2026, 11, 23, 18, 0)),  # 3 working days
    ("general", None, FRI_19, datetime(2026, 11, 25, 18, 0)),
])
def test_due_times(app, queue, disposition, now, due):
    assert due_time(app.extensions["helpline"], queue, disposition, now) == due


def _d4_caller(twilio):
    caller = Caller(twilio)
    caller.call()
    walk(caller, {"d4_one_leg": "1"})  # numbness in one leg: D4
    return caller


def test_d4_in_hours_is_an_urgent_callback_with_its_time_limit(twilio, clock):
    clock.now = WED_10
    caller = _d4_caller(twilio)
    assert "within 2 hours" in caller.last.text and "one one one" in caller.last.text
    item = db.session.scalar(select(Callback))
    assert (item.disposition, item.queue, item.due_at) == ("D4", "clinical", datetime(2026, 11, 18, 12, 0))


def test_d4_out_of_hours_becomes_d3_and_is_due_after_opening(twilio, clock):
    clock.now = FRI_19
    caller = _d4_caller(twilio)
    assert "GP today" in caller.last.text and "within 2 hours" not in caller.last.text
    item = db.session.scalar(select(Callback))
    assert item.disposition == "D3" and item.due_at == datetime(2026, 11, 23, 10, 0)
    conv = db.session.scalar(select(Conversation))
    assert "d4_unavailable" in conv.rules_fired


def test_d4_when_the_window_cannot_be_met_before_closing_becomes_d3(twilio, clock):
    clock.now = WED_17
    _d4_caller(twilio)
    assert db.session.scalar(select(Callback)).disposition == "D3"


def test_one_open_callback_per_number_raised_by_a_more_urgent_case(twilio):
    texter = Texter(twilio)
    texter.send("hello")
    texter.send("3")  # general enquiry
    first = db.session.scalar(select(Callback))
    assert (first.queue, first.priority) == ("general", 6)
    texter.send("hello again")
    texter.send("1")
    texter.send("1")  # chest pain: D1
    items = db.session.scalars(select(Callback)).all()
    assert len(items) == 1
    assert (items[0].queue, items[0].disposition, items[0].priority) == ("welfare", "D1", 1)
    assert "d1_chest_collapse_breathing" in items[0].reasons


def test_a_less_urgent_case_does_not_lower_the_open_item(app):
    hl = app.extensions["helpline"]
    conv = Conversation(channel="sms", caller="+447911123456", flow_id="back_pain", flow_version="x",
                        state={}, answers={}, rules_fired=[], status="completed", started_at=WED_10, updated_at=WED_10)
    db.session.add(conv)
    db.session.flush()
    request_callback(hl, conv, "clinical", "D3", ["a"], WED_10)
    request_callback(hl, conv, "clinical", "D5", ["b"], WED_10)
    db.session.commit()
    item = db.session.scalar(select(Callback))
    assert (item.disposition, item.reasons) == ("D3", ["a", "b"])


def test_the_database_refuses_two_open_items_for_one_number(app):
    from sqlalchemy.exc import IntegrityError

    for _ in range(2):
        db.session.add(Callback(phone="+447911123456", queue="clinical", disposition="D5", priority=5,
                                reasons=[], channel="sms", status="open", due_at=WED_10))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_a_crisis_welfare_check_is_top_priority(twilio):
    texter = Texter(twilio)
    texter.send("hello")
    texter.send("3")  # a general enquiry first
    texter.send("hi")
    texter.send("I want to end my life")
    item = db.session.scalar(select(Callback))
    assert (item.queue, item.disposition, item.priority) == ("welfare", None, 1)
