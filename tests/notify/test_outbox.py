"""Queueing a text: checked first, added without a commit, never to an opted-out number, once per key."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from helpline.db import db
from helpline.engine import gsm
from helpline.models import OptOut
from helpline.notify import TextRejected, check_text, queue_text, record_delivery_status
from helpline.notify.models import (
    ACCEPTED, CANCELLED, DELIVERED, FAILED, PENDING, SENT, UNDELIVERED, Outbox,
)
from conftest import PATIENT

NOW = None  # each test uses the app's clock


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(Outbox))


@pytest.mark.parametrize("body, max_segments, problem", [
    ("It\u2019s fine", None, "not GSM-7"),            # a curly apostrophe forces UCS-2
    ("Call us \U0001F600", None, "not GSM-7"),       # an emoji
    ("2\u20133 days", None, "not GSM-7"),            # an en dash
    ("x" * 161, 1, "2 segments"),
    ("x" * 1601, None, "1601 characters"),
    ("   ", None, "empty"),
    ("[" * 81, 1, "2 segments"),                     # extension characters count double
])
def test_check_text_refuses(body, max_segments, problem):
    with pytest.raises(TextRejected, match=problem):
        check_text(body, max_segments)


@pytest.mark.parametrize("body, expect", [
    ("x" * 160, (gsm.GSM7, 1)),
    ("x" * 161, (gsm.GSM7, 2)),
    ("{}" * 40, (gsm.GSM7, 1)),       # 80 characters, 160 septets
    ("{}" * 40 + "x", (gsm.GSM7, 2)),
    ("x" * 1600, (gsm.GSM7, 11)),
])
def test_check_text_counts(body, expect):
    checked = check_text(body)
    assert (checked.encoding, checked.segments) == expect


def test_queue_text_adds_a_pending_row_without_committing(app, hl):
    now = hl.now()
    row = queue_text(PATIENT, "Hello from the help line.", "test", now)
    assert row.status == PENDING and row.encoding == gsm.GSM7 and row.segments == 1
    assert row.next_attempt_at == now and row.attempts == 0
    db.session.flush()
    assert _count() == 1
    db.session.rollback()  # the event did not commit: neither does its text
    assert _count() == 0


def test_a_rejected_text_adds_nothing(app, hl):
    with pytest.raises(TextRejected):
        queue_text(PATIENT, "Don\u2019t wait", "test", hl.now())
    db.session.flush()
    assert _count() == 0


def test_an_opted_out_number_gets_a_cancelled_row_not_a_pending_one(app, hl):
    db.session.add(OptOut(phone=PATIENT, opted_out=True, updated_at=hl.now()))
    row = queue_text(PATIENT, "Hello.", "test", hl.now())
    db.session.commit()
    assert row.status == CANCELLED and row.error == "opted out"


def test_an_opted_back_in_number_gets_texts_again(app, hl):
    db.session.add(OptOut(phone=PATIENT, opted_out=False, updated_at=hl.now()))
    assert queue_text(PATIENT, "Hello.", "test", hl.now()).status == PENDING


def test_the_same_key_queues_once(app, hl):
    first = queue_text(PATIENT, "Hello.", "test", hl.now(), dedupe_key="k1")
    db.session.commit()
    again = queue_text(PATIENT, "Hello again.", "test", hl.now(), dedupe_key="k1")
    db.session.commit()
    assert again.id == first.id and again.body == "Hello."
    assert _count() == 1


def test_a_key_queued_twice_in_one_transaction_is_one_row(app, hl):
    a = queue_text(PATIENT, "Hello.", "test", hl.now(), dedupe_key="k2")
    b = queue_text(PATIENT, "Hello.", "test", hl.now(), dedupe_key="k2")
    db.session.commit()
    assert a.id == b.id and _count() == 1


def _accepted_row(hl, sid="SM" + "1" * 32) -> Outbox:
    row = queue_text(PATIENT, "Hello.", "test", hl.now())
    row.status, row.message_sid = ACCEPTED, sid
    db.session.commit()
    return row


@pytest.mark.parametrize("reports, final, error_code", [
    (["sent", "delivered"], DELIVERED, None),
    (["delivered", "sent"], DELIVERED, None),           # out of order: never backwards
    (["queued", "sent"], SENT, None),
    (["sent", "undelivered"], UNDELIVERED, "30003"),
    (["failed"], FAILED, "30008"),
    (["delivered", "failed"], DELIVERED, None),         # a final status is never replaced
    (["read"], DELIVERED, None),                        # WhatsApp
    (["no-such-status"], ACCEPTED, None),
])
def test_delivery_reports_move_a_row_forward_only(app, hl, reports, final, error_code):
    row = _accepted_row(hl)
    for report in reports:
        code = error_code if report in ("undelivered", "failed") else None
        record_delivery_status(row.message_sid, report, code, hl.now())
        db.session.commit()
    db.session.refresh(row)
    assert row.status == final
    assert row.error_code == error_code
    if final == DELIVERED:
        assert row.delivered_at == hl.now()


def test_a_report_for_a_text_we_did_not_send_changes_nothing(app, hl):
    row = _accepted_row(hl)
    assert record_delivery_status("SM" + "9" * 32, "failed", "30008", hl.now()) is None
    db.session.commit()
    db.session.refresh(row)
    assert row.status == ACCEPTED


def test_the_status_webhook_updates_the_outbox_row(app, hl, twilio):
    row = _accepted_row(hl)
    for status, code in (("sent", None), ("undelivered", "30006")):
        params = {"MessageSid": row.message_sid, "MessageStatus": status, "AccountSid": "AC" + "0" * 32,
                  "To": PATIENT, "From": "+442380248725", "ApiVersion": "2010-04-01"}
        if code:
            params["ErrorCode"] = code
        response = twilio("/sms/status", params)
        assert response.status_code == 200
    db.session.expire_all()
    row = db.session.get(Outbox, row.id)
    assert (row.status, row.error_code, row.twilio_status) == (UNDELIVERED, "30006", "undelivered")


def test_a_retried_status_webhook_is_harmless(app, hl, twilio):
    row = _accepted_row(hl)
    params = {"MessageSid": row.message_sid, "MessageStatus": "delivered", "AccountSid": "AC" + "0" * 32}
    assert twilio("/sms/status", params).status_code == 200
    assert twilio("/sms/status", params).status_code == 200
    db.session.expire_all()
    assert db.session.get(Outbox, row.id).status == DELIVERED


def test_expiry_is_stored(app, hl):
    row = queue_text(PATIENT, "Hello.", "test", hl.now(), expires_at=hl.now() + timedelta(hours=2))
    db.session.commit()
    assert row.expires_at == hl.now() + timedelta(hours=2)
