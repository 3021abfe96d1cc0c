"""What the help line's events put in the outbox, driven through the signed webhooks and the use cases."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from helpline.callbacks import request_callback
from helpline.conversations import VOICE_AFTER_END, VOICE_AFTER_END_TEXT, VOICE_TEXT_QUEUED
from helpline.db import db
from helpline.engine import gsm
from helpline.models import Callback, Conversation, OptOut
from helpline.notify import messages, queue_missed_call_text, queue_unreachable_safety_net
from helpline.notify.models import CANCELLED, PENDING, Outbox
from conftest import ON_CALL, PATIENT
from support import Caller, Texter

# Answers by node, so the walk follows the flow whatever order its questions are in.
ROUTES = {"main_menu": "1", "age_band": "2", "onset": "1", "course_recent": "1", "course_longer": "1"}


def _conversation(**where) -> Conversation:
    db.session.expire_all()
    query = select(Conversation).order_by(Conversation.id.desc())
    for name, value in where.items():
        query = query.where(getattr(Conversation, name) == value)
    return db.session.scalars(query).first()


def call(twilio, yes=(), number: str | None = PATIENT) -> Caller:
    """Ring the help line and answer every question no, except the nodes in `yes`, until the ending."""
    caller = Caller(twilio, number=number)
    caller.call()
    for _ in range(80):
        conv = _conversation(call_sid=caller.call_sid)
        node = conv.state.get("node")
        if node is None or caller.last.hung_up:
            return caller
        caller.press("1" if node in yes else ROUTES.get(node, "2"))
    raise AssertionError("the call never ended")


def text(twilio, yes=(), number: str = PATIENT) -> Texter:
    texter = Texter(twilio, number=number)
    texter.send("Hi, I hurt my back at the gym")
    for _ in range(80):
        conv = _conversation(caller=number, channel="sms")
        node = conv.state.get("node")
        if node is None or conv.status != "active":
            return texter
        texter.send("1" if node in yes else ROUTES.get(node, "2"))
    raise AssertionError("the conversation never ended")


def _outbox(kind: str | None = None) -> list[Outbox]:
    db.session.expire_all()
    query = select(Outbox).order_by(Outbox.id)
    if kind:
        query = query.where(Outbox.kind == kind)
    return db.session.scalars(query).all()


# --- after a call: the advice by text --------------------------------------------------------

def test_the_advice_text_goes_in_with_the_turn_on_its_own_connection(app, hl, twilio):
    caller = call(twilio)
    db.session.commit()  # the test's reads end, as a request's session starts with none
    commits: list[object] = []

    def committed(session):
        commits.append(session)

    event.listen(Session, "after_commit", committed)
    try:
        done = caller.press("1")
    finally:
        event.remove(Session, "after_commit", committed)
    assert VOICE_TEXT_QUEUED in done.text
    assert commits == []  # not stopped and done again in the ORM session
    assert len(_outbox("advice")) == 1


def test_a_self_care_caller_is_offered_the_advice_by_text_and_gets_it_on_1(app, hl, twilio):
    caller = call(twilio)
    assert VOICE_AFTER_END_TEXT in caller.last.text
    assert caller.last.gather is not None and not caller.last.hung_up
    assert _outbox() == []  # nothing until the caller says yes
    done = caller.press("1")
    assert VOICE_TEXT_QUEUED in done.text and done.hung_up
    [row] = _outbox()
    conv = _conversation(call_sid=caller.call_sid)
    assert (row.kind, row.to_number, row.status, row.conversation_id) == ("advice", PATIENT, PENDING, conv.id)
    first_line, rest = row.body.split("\n", 1)
    assert first_line == messages.ADVICE_FIRST_LINE
    ending = hl.flow.node(conv.state["end_node"])
    assert ending.text.sms.split("{")[0][:40] in rest
    assert "999" in rest and "111" in rest  # the safety net (P6)
    assert row.encoding == gsm.GSM7 and row.segments == gsm.segments(row.body)[1] <= 10


def test_9_repeats_the_ending_and_the_offer_and_1_still_texts_once(app, hl, twilio):
    caller = call(twilio)
    again = caller.press("9")
    assert VOICE_AFTER_END_TEXT in again.text
    caller.press("1")
    assert len(_outbox("advice")) == 1


def test_a_retried_press_1_webhook_queues_one_text(app, hl, twilio):
    caller = call(twilio)
    path = caller._action_path()
    first = caller.press("1")
    caller.last = None
    params = caller._params(Digits="1")
    retried = twilio(path, params)
    assert retried.status_code == 200 and VOICE_TEXT_QUEUED in retried.get_data(as_text=True)
    assert VOICE_TEXT_QUEUED in first.text
    assert len(_outbox("advice")) == 1


def test_a_withheld_caller_is_not_offered_a_text(app, hl, twilio):
    caller = call(twilio, number=None)
    assert VOICE_AFTER_END in caller.last.text and "press 1" not in caller.last.text.lower()
    caller.press("1")
    assert _outbox() == []


def test_an_opted_out_caller_is_not_offered_a_text(app, hl, twilio):
    db.session.add(OptOut(phone=PATIENT, opted_out=True, updated_at=hl.now()))
    db.session.commit()
    caller = call(twilio)
    assert "press 1" not in caller.last.text.lower()
    caller.press("1")
    assert _outbox("advice") == []


@pytest.mark.parametrize("red_flag", ["d1_chest", "d2_saddle"])
def test_an_emergency_ending_offers_nothing_and_alerts_staff_without_clinical_detail(app, hl, twilio, red_flag):
    caller = call(twilio, yes={red_flag})
    assert caller.last.hung_up and "press 1" not in caller.last.text.lower()
    assert _outbox("advice") == [] and _outbox("callback_confirmation") == []
    alerts = _outbox("alert_welfare")
    item = db.session.scalar(select(Callback))
    assert sorted(a.to_number for a in alerts) == sorted(ON_CALL)
    for alert in alerts:
        assert alert.body == messages.alert_welfare(f"https://helpline.example.org/staff/cases/{item.id}")
        assert alert.callback_id == item.id and alert.segments == 1


# --- callbacks: confirmation and staff alerts ------------------------------------------------

def test_an_urgent_callback_gets_a_confirmation_by_hhmm_and_alerts_the_on_call_staff(app, hl, twilio):
    call(twilio, yes={"d4_one_leg"})
    item = db.session.scalar(select(Callback))
    assert item.disposition == "D4"
    [confirmation] = _outbox("callback_confirmation")
    # 10:00 on a Wednesday in November (UTC = London time) plus the 2-hour window.
    assert confirmation.body.split("\n")[0] == f"{messages.HEADER}: we'll call you by 12:00 today."
    assert confirmation.to_number == PATIENT and confirmation.expires_at == item.due_at
    alerts = _outbox("alert_urgent")
    assert sorted(a.to_number for a in alerts) == sorted(ON_CALL)
    assert all("due by 12:00" in a.body and f"/staff/cases/{item.id}" in a.body for a in alerts)


def test_a_routine_callback_by_text_names_the_day_and_alerts_nobody(app, hl, twilio):
    text(twilio, yes={"one_leg"})
    item = db.session.scalar(select(Callback))
    assert item.disposition == "D5"
    [confirmation] = _outbox("callback_confirmation")
    # Three working days after Wednesday 18 November: Monday 23 November, at closing time.
    assert "we'll call you by 18:00 on Monday 23 November" in confirmation.body
    assert _outbox("alert_urgent") == [] and _outbox("alert_welfare") == []


def test_a_d3_confirmation_says_not_to_wait(app, hl, twilio):
    call(twilio, yes={"d3_fever"})
    [confirmation] = _outbox("callback_confirmation")
    assert "do not wait for our call" in confirmation.body
    assert len(_outbox("alert_urgent")) == len(ON_CALL)


def test_an_opted_out_number_gets_no_confirmation(app, hl, twilio):
    db.session.add(OptOut(phone=PATIENT, opted_out=True, updated_at=hl.now()))
    db.session.commit()
    call(twilio, yes={"d4_one_leg"})
    [confirmation] = _outbox("callback_confirmation")
    assert confirmation.status == CANCELLED  # recorded, never sent
    assert all(a.status == PENDING for a in _outbox("alert_urgent"))  # staff still hear of it


def _conv(hl, channel="sms") -> Conversation:
    conv = Conversation(channel=channel, caller=PATIENT, flow_id="back_pain", flow_version="x", state={},
                        answers={}, rules_fired=[], status="completed", started_at=hl.now(), updated_at=hl.now())
    db.session.add(conv)
    db.session.flush()
    return conv


def test_raising_an_open_item_confirms_again_only_when_the_time_moves(app, hl):
    now = hl.now()
    request_callback(hl, _conv(hl), "clinical", "D5", ["x"], now)
    db.session.commit()
    request_callback(hl, _conv(hl), "clinical", "D5", ["y"], now)  # same due time: nothing new
    db.session.commit()
    assert len(_outbox("callback_confirmation")) == 1 and _outbox("alert_urgent") == []
    request_callback(hl, _conv(hl), "clinical", "D4", ["z"], now)  # raised: sooner, and urgent
    db.session.commit()
    bodies = [r.body for r in _outbox("callback_confirmation")]
    assert len(bodies) == 2 and "12:00 today" in bodies[1]
    assert len(_outbox("alert_urgent")) == len(ON_CALL)


def test_a_case_raised_to_welfare_gets_the_welfare_alert(app, hl):
    now = hl.now()
    request_callback(hl, _conv(hl), "clinical", "D5", ["x"], now)
    request_callback(hl, _conv(hl), "welfare", "D2", ["d2"], now)
    db.session.commit()
    assert len(_outbox("alert_welfare")) == len(ON_CALL)
    assert len(_outbox("callback_confirmation")) == 1  # the first one; none for the welfare check


def test_a_whatsapp_case_is_confirmed_on_whatsapp(app, hl):
    request_callback(hl, _conv(hl, channel="whatsapp"), "clinical", "D5", ["x"], hl.now())
    db.session.commit()
    assert _outbox("callback_confirmation")[0].channel == "whatsapp"


def test_a_text_that_fails_its_check_never_breaks_the_webhook(app, hl, twilio, monkeypatch):
    monkeypatch.setattr(messages, "alert_urgent", lambda link, due: "Urgent \u2013 see " + link)  # UCS-2
    caller = call(twilio, yes={"d4_one_leg"})
    assert "will call you" in caller.last.text
    assert db.session.scalar(select(Callback)) is not None
    assert _outbox("alert_urgent") == [] and len(_outbox("callback_confirmation")) == 1


# --- failed callback attempts (called from the staff queue) ----------------------------------

def _item(hl, queue="clinical", phone=PATIENT) -> Callback:
    item = Callback(phone=phone, queue=queue, disposition="D4" if queue != "welfare" else "D2", priority=4,
                    reasons=["x"], channel="voice", status="open", due_at=hl.now() + timedelta(hours=2),
                    created_at=hl.now(), updated_at=hl.now())
    db.session.add(item)
    db.session.flush()
    return item


def test_a_missed_call_text_per_failed_attempt(app, hl):
    item = _item(hl)
    first = queue_missed_call_text(item, hl.now(), attempt=1)
    again = queue_missed_call_text(item, hl.now(), attempt=1)  # the same attempt recorded twice
    second = queue_missed_call_text(item, hl.now(), attempt=2)
    db.session.commit()
    assert first.id == again.id != second.id
    assert first.body == messages.missed_call(welfare=False) and first.segments == 1


def test_a_missed_welfare_call_repeats_999_and_promises_nothing(app, hl):
    row = queue_missed_call_text(_item(hl, queue="welfare"), hl.now(), attempt=1)
    assert row.body == messages.missed_call(welfare=True)


def test_the_unreachable_safety_net_goes_once_in_one_gsm7_segment(app, hl):
    item = _item(hl)
    row = queue_unreachable_safety_net(item, hl.now())
    assert queue_unreachable_safety_net(item, hl.now()).id == row.id
    db.session.commit()
    assert (row.body, row.encoding, row.segments) == (messages.unreachable(), gsm.GSM7, 1)


def test_no_number_no_text(app, hl):
    item = _item(hl, phone=None)
    assert queue_missed_call_text(item, hl.now()) is None
    assert queue_unreachable_safety_net(item, hl.now()) is None
