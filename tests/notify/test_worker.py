"""The worker in one process with a fake adapter: send, record, retry, give up, and settle sends in doubt."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from helpline.db import db
from helpline.models import Callback, Interaction, OptOut
from helpline.notify import queue_text
from helpline.notify.models import (
    ACCEPTED, CANCELLED, DELIVERED, EXPIRED, FAILED, PENDING, SENDING, UNKNOWN, Outbox,
)
from helpline.notify.twilio_sender import SendFailed
from conftest import ON_CALL, PATIENT
from fake_twilio import in_doubt


def _queue(hl, body="A text from the help line.", to=PATIENT, **kwargs) -> int:
    row = queue_text(to, body, "test", hl.now(), **kwargs)
    db.session.commit()
    return row.id


def _row(row_id: int) -> Outbox:
    db.session.expire_all()
    return db.session.get(Outbox, row_id)


def test_a_due_text_is_sent_once_and_recorded(app, hl, worker, sender):
    row_id = _queue(hl)
    tally = worker.drain()
    row = _row(row_id)
    assert tally.sent == 1 and sender.sent == [(PATIENT, "A text from the help line.", "sms")]
    assert row.status == ACCEPTED and row.message_sid == sender.twilio_has[0]["sid"]
    assert row.attempts == 1 and row.sent_at == hl.now() and row.claimed_by is None
    assert worker.drain().sent == 0  # nothing is sent twice
    assert len(sender.sent) == 1


def test_texts_go_oldest_first_and_not_before_they_are_due(app, hl, clock, worker, sender):
    later = queue_text(PATIENT, "later", "test", hl.now())
    later.next_attempt_at = hl.now() + timedelta(minutes=5)
    _queue(hl, "first")
    _queue(hl, "second")
    worker.drain()
    assert [body for _, body, _ in sender.sent] == ["first", "second"]
    clock.now += timedelta(minutes=5)
    worker.drain()
    assert [body for _, body, _ in sender.sent] == ["first", "second", "later"]


def test_a_number_that_opts_out_after_queueing_is_never_sent_to(app, hl, worker, sender):
    row_id = _queue(hl)
    db.session.add(OptOut(phone=PATIENT, opted_out=True, updated_at=hl.now()))
    db.session.commit()
    tally = worker.drain()
    assert sender.sent == [] and tally.cancelled == 1
    assert (_row(row_id).status, _row(row_id).error) == (CANCELLED, "opted out")


def test_a_text_past_its_use_is_not_sent(app, hl, clock, worker, sender):
    row_id = _queue(hl, expires_at=hl.now() + timedelta(hours=2))
    clock.now += timedelta(hours=2)
    worker.drain()
    assert sender.sent == [] and _row(row_id).status == EXPIRED


def test_a_permanent_error_fails_the_text_without_a_retry(app, hl, clock, worker, sender):
    row_id = _queue(hl)
    sender.outcomes = [SendFailed("permanent", "unsubscribed", code=21610, http_status=400)]
    tally = worker.drain()
    row = _row(row_id)
    assert tally.failed == 1 and (row.status, row.error_code) == (FAILED, "21610")
    clock.now += timedelta(days=1)
    worker.drain()
    assert sender.sent == [] and _row(row_id).attempts == 1


def test_a_transient_error_retries_with_backoff_then_gives_up(app, hl, clock, worker, sender):
    row_id = _queue(hl)
    sender.outcomes = [SendFailed("retry", "too many requests", code=20429, http_status=429)] * 3
    start = hl.now()
    worker.drain()
    row = _row(row_id)
    assert (row.status, row.attempts, row.next_attempt_at) == (PENDING, 1, start + timedelta(seconds=30))
    worker.drain()
    assert _row(row_id).attempts == 1  # not due yet
    clock.now = start + timedelta(seconds=30)
    worker.drain()
    assert _row(row_id).next_attempt_at == clock.now + timedelta(seconds=60)
    clock.now += timedelta(seconds=60)
    worker.drain()
    row = _row(row_id)
    assert (row.status, row.attempts) == (FAILED, 3)  # OUTBOX_MAX_ATTEMPTS in these tests
    assert row.error.startswith("gave up after 3 attempts")


def test_a_transient_error_then_success(app, hl, clock, worker, sender):
    row_id = _queue(hl)
    sender.outcomes = [SendFailed("retry", "HTTP 503", http_status=None)]
    worker.drain()
    clock.now += timedelta(seconds=30)
    worker.drain()
    row = _row(row_id)
    assert (row.status, row.attempts, len(sender.sent)) == (ACCEPTED, 2, 1)


def test_a_send_whose_answer_was_lost_is_looked_up_not_resent(app, hl, clock, worker, sender):
    row_id = _queue(hl)
    sender.outcomes = [in_doubt(accepted_anyway=True)]  # Twilio took it; the response never arrived
    tally = worker.drain()
    assert tally.unknown == 1 and _row(row_id).status == UNKNOWN
    clock.now += timedelta(seconds=30)  # OUTBOX_CHECK_DELAY_SECONDS
    tally = worker.drain()
    row = _row(row_id)
    assert tally.found == 1 and sender.finds == [(PATIENT, "A text from the help line.")]
    assert row.status == ACCEPTED and row.message_sid == sender.twilio_has[0]["sid"]
    assert len(sender.twilio_has) == 1 and sender.sent == []


def test_a_send_that_never_reached_twilio_is_sent_again_after_the_look_up(app, hl, clock, worker, sender):
    row_id = _queue(hl)
    sender.outcomes = [in_doubt(accepted_anyway=False)]
    worker.drain()
    clock.now += timedelta(seconds=30)
    tally = worker.drain()
    row = _row(row_id)
    assert tally.resent == 1 and row.status == ACCEPTED and row.attempts == 2
    assert len(sender.twilio_has) == 1


def test_when_twilio_cannot_be_asked_the_text_waits_and_is_never_resent_blind(app, hl, clock, worker, sender):
    row_id = _queue(hl)
    sender.outcomes = [in_doubt(accepted_anyway=False)]
    sender.lookup_fails = True
    worker.drain()
    for _ in range(5):
        clock.now += timedelta(hours=2)
        worker.drain()
    row = _row(row_id)
    assert row.status == UNKNOWN and row.error.startswith("lookup failed")
    assert sender.sent == [] and len(sender.finds) == 5
    sender.lookup_fails = False
    clock.now += timedelta(hours=2)
    worker.drain()
    assert _row(row_id).status == ACCEPTED and len(sender.sent) == 1


def test_a_row_left_sending_by_a_dead_worker_is_checked_after_the_stale_limit(app, hl, clock, worker, sender):
    row_id = _queue(hl)
    row = _row(row_id)
    row.status, row.claimed_by, row.sending_at, row.attempts = SENDING, "dead:1", hl.now(), 1
    db.session.commit()
    sender.twilio_has.append({"sid": "SM" + "d" * 32, "to": PATIENT, "body": row.body, "created": None})
    clock.now += timedelta(seconds=119)
    worker.drain()
    assert _row(row_id).status == SENDING and sender.finds == []  # a live worker may still be on it
    clock.now += timedelta(seconds=2)
    tally = worker.drain()
    row = _row(row_id)
    assert tally.found == 1 and (row.status, row.message_sid) == (ACCEPTED, "SM" + "d" * 32)
    assert sender.sent == []


def test_two_identical_texts_in_doubt_are_told_apart_by_sid(app, hl, clock, worker, sender):
    first, second = _queue(hl, "Same words."), _queue(hl, "Same words.")
    sender.outcomes = [in_doubt(accepted_anyway=True), in_doubt(accepted_anyway=False)]
    worker.drain()
    clock.now += timedelta(seconds=30)
    worker.drain()
    a, b = _row(first), _row(second)
    assert a.status == b.status == ACCEPTED and a.message_sid != b.message_sid
    assert len(sender.twilio_has) == 2  # one accepted before, one sent after the look-up


def test_a_status_callback_that_beat_the_worker_is_applied(app, hl, worker, sender):
    row_id = _queue(hl)

    class Racing:
        def send(self, to, body, channel="sms"):
            accepted = sender.send(to, body, channel)
            # Twilio's callback lands before the worker records the SID.
            db.session.add(Interaction(channel="sms", direction="in", kind="status", external_id=accepted.sid,
                                       body="delivered", created_at=hl.now()))
            db.session.commit()
            return accepted

        find = sender.find

    worker.sender = Racing()
    worker.drain()
    assert _row(row_id).status == DELIVERED


def test_sla_breaches_alert_the_on_call_numbers_once_per_item(app, hl, clock, worker, sender):
    item = Callback(phone=PATIENT, queue="clinical", disposition="D5", priority=5, reasons=["x"], channel="sms",
                    status="open", due_at=hl.now() + timedelta(hours=1), created_at=hl.now(), updated_at=hl.now())
    done = Callback(phone="+447911000009", queue="clinical", disposition="D5", priority=5, reasons=["x"],
                    channel="sms", status="done", due_at=hl.now() - timedelta(hours=1), created_at=hl.now(),
                    updated_at=hl.now())
    db.session.add_all([item, done])
    db.session.commit()
    assert worker.drain().sla_alerts == 0
    clock.now += timedelta(hours=1, minutes=1)
    assert worker.drain().sla_alerts == 1
    assert worker.drain().sla_alerts == 0
    alerts = db.session.scalars(select(Outbox).where(Outbox.kind == "alert_sla")).all()
    assert sorted(a.to_number for a in alerts) == sorted(ON_CALL)
    assert all(f"/staff/cases/{item.id}" in a.body and "overdue" in a.body for a in alerts)
    assert sorted(to for to, _, _ in sender.sent) == sorted(ON_CALL)


def test_no_on_call_numbers_means_no_sla_alerts(app, hl, clock, worker, notify_config):
    notify_config["STAFF_ALERT_NUMBERS"] = ""
    app.extensions.pop("notify", None)
    from helpline.notify.settings import current

    worker.settings = current()
    db.session.add(Callback(phone=PATIENT, queue="clinical", disposition="D5", priority=5, reasons=[], channel="sms",
                            status="open", due_at=hl.now() - timedelta(hours=1), created_at=hl.now(),
                            updated_at=hl.now()))
    db.session.commit()
    assert worker.drain().sla_alerts == 0


def test_a_failing_step_is_logged_and_the_worker_goes_on(app, hl, worker, sender):
    _queue(hl)

    class Broken:
        def send(self, to, body, channel="sms"):
            raise RuntimeError("a bug in the adapter")

        find = sender.find

    worker.sender = Broken()
    tally = worker.run_once()
    assert tally.errors and "a bug in the adapter" in tally.errors[0]
    # The row stays "sending" and will be checked against Twilio once stale: never lost, never resent blind.
    assert db.session.scalar(select(Outbox.status)) == SENDING


@pytest.mark.parametrize("batch", [1, 3])
def test_one_pass_sends_at_most_a_batch(app, hl, worker, sender, batch):
    for n in range(5):
        _queue(hl, f"text {n}")
    worker.settings = type(worker.settings)(**{**worker.settings.__dict__, "batch_size": batch})
    assert worker.run_once().sent == batch
    assert worker.drain().sent == 5 - batch
