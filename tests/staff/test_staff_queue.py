"""The queue's use cases: who may claim, release, reassign and move; attempts, retries, outcomes, notes."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from helpline.db import db
from helpline.models import Callback
from helpline.notify import Outbox
from helpline.staff import queue, reports
from helpline.staff.models import AuditEvent, CallbackAttempt, CallbackOutcome, CaseNote
from helpline.staff.queue import Invalid, NotAllowed, NotFound, NotHolder, QueueFilter, Taken
from staffkit import *  # noqa: F401,F403  (fixtures and helpers)


def audit_actions() -> list[str]:
    return [e.action for e in db.session.scalars(select(AuditEvent).where(AuditEvent.callback_id.is_not(None))
                                                 .order_by(AuditEvent.id))]


def fresh(item: Callback) -> Callback:
    db.session.expire_all()
    return db.session.get(Callback, item.id)


def test_a_claim_gives_the_item_to_one_member_of_staff(settings, make_staff, make_item, now):
    sam, kim = make_staff(name="Sam"), make_staff(name="Kim")
    item = make_item()
    queue.claim(settings, sam, item.id, now)
    item = fresh(item)
    assert (item.status, item.claimed_by_id, item.claimed_at) == ("claimed", sam.id, now)
    with pytest.raises(Taken, match="Sam has already taken"):
        queue.claim(settings, kim, item.id, now)
    assert queue.claim(settings, sam, item.id, now).claimed_by_id == sam.id  # a double click is harmless
    assert audit_actions() == ["claim"]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "claim"))
    assert (event.staff_id, event.phone, event.at) == (sam.id, item.phone, now)


@pytest.mark.parametrize("role,queue_name,allowed", [
    ("call_handler", "welfare", True),
    ("call_handler", "general", True),
    ("call_handler", "clinical", False),  # clinical callbacks need a clinician
    ("clinician", "clinical", True),
    ("supervisor", "clinical", True),
    ("admin", "welfare", False),
])
def test_roles_claim_only_the_queues_they_work(settings, make_staff, make_item, now, role, queue_name, allowed):
    staff = make_staff(role=role)
    item = make_item(queue=queue_name)
    if allowed:
        assert queue.claim(settings, staff, item.id, now).claimed_by_id == staff.id
    else:
        with pytest.raises(NotAllowed):
            queue.claim(settings, staff, item.id, now)
        assert fresh(item).claimed_by_id is None


def test_closed_missing_and_unreachable_items_cannot_be_claimed(settings, make_staff, make_item, now):
    staff = make_staff()
    with pytest.raises(NotFound):
        queue.claim(settings, staff, 999999, now)
    done = make_item(status="done")
    with pytest.raises(Invalid, match="closed"):
        queue.claim(settings, staff, done.id, now)
    lost = make_item(status="unreachable", attempts=3)
    with pytest.raises(NotAllowed, match="supervisor"):
        queue.claim(settings, staff, lost.id, now)
    boss = make_staff(role="supervisor")
    taken = queue.claim(settings, boss, lost.id, now)
    assert (taken.status, taken.claimed_by_id) == ("unreachable", boss.id)  # still the supervisor's case


def test_release_puts_it_back_and_only_the_holder_or_a_supervisor_may(settings, make_staff, make_item, now):
    sam, kim, boss = make_staff(), make_staff(), make_staff(role="supervisor")
    item = make_item()
    queue.claim(settings, sam, item.id, now)
    with pytest.raises(NotHolder):
        queue.release(settings, kim, item.id, now)
    queue.release(settings, sam, item.id, now)
    assert (fresh(item).status, fresh(item).claimed_by_id) == ("open", None)
    with pytest.raises(Invalid, match="Nobody holds"):
        queue.release(settings, sam, item.id, now)
    queue.claim(settings, kim, item.id, now)
    queue.release(settings, boss, item.id, now)
    assert fresh(item).claimed_by_id is None
    assert audit_actions() == ["claim", "release", "claim", "release"]


def test_a_supervisor_reassigns_to_someone_who_works_the_queue(settings, make_staff, make_item, now):
    sam, kim, boss = make_staff(), make_staff(), make_staff(role="supervisor")
    handler = make_staff(role="call_handler")
    item = make_item(queue="clinical")
    queue.claim(settings, sam, item.id, now)
    with pytest.raises(NotAllowed, match="Only a supervisor"):
        queue.reassign(settings, sam, item.id, kim.id, now)
    with pytest.raises(NotAllowed, match="does not work the clinical queue"):
        queue.reassign(settings, boss, item.id, handler.id, now)
    queue.reassign(settings, boss, item.id, kim.id, now)
    assert fresh(item).claimed_by_id == kim.id
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "reassign"))
    assert event.detail == {"from": sam.id, "to": kim.id} and event.staff_id == boss.id


def test_a_supervisor_moves_an_item_and_a_holder_who_cannot_work_it_lets_go(settings, make_staff, make_item, now):
    handler, boss = make_staff(role="call_handler"), make_staff(role="supervisor")
    item = make_item(queue="general", priority=6, disposition=None)
    queue.claim(settings, handler, item.id, now)
    with pytest.raises(NotAllowed):
        queue.move(settings, handler, item.id, "clinical", now)
    with pytest.raises(Invalid, match="no 'nowhere' queue"):
        queue.move(settings, boss, item.id, "nowhere", now)
    queue.move(settings, boss, item.id, "clinical", now)
    item = fresh(item)
    assert (item.queue, item.status, item.claimed_by_id) == ("clinical", "open", None)
    queue.move(settings, boss, item.id, "welfare", now)
    assert audit_actions()[-2:] == ["move", "move"]


def test_failed_attempts_come_back_30_minutes_later_then_go_to_a_supervisor(app, settings, make_staff, make_item):
    sam = make_staff()
    item = make_item(queue="clinical")
    moment = app.extensions["helpline"].now()
    for attempt in (1, 2):
        queue.claim(settings, sam, item.id, moment)
        queue.record_attempt(settings, sam, item.id, "no_answer" if attempt == 1 else "busy", None, moment)
        item = fresh(item)
        assert (item.status, item.claimed_by_id, item.attempts) == ("open", None, attempt)
        assert item.next_attempt_at == moment + timedelta(minutes=30)
        moment = later(app, 30)
    queue.claim(settings, sam, item.id, moment)
    queue.record_attempt(settings, sam, item.id, "failed", None, moment)
    item = fresh(item)
    assert (item.status, item.attempts, item.unreachable_at, item.claimed_by_id) == ("unreachable", 3, moment, None)
    assert item.first_attempt_at == app.extensions["helpline"].now() - timedelta(minutes=60)
    # The person hears from us each time: twice "we tried to call you", then the safety net.
    texts = db.session.scalars(select(Outbox).where(Outbox.callback_id == item.id).order_by(Outbox.id)).all()
    assert [t.kind for t in texts] == ["missed_call", "missed_call", "unreachable_safety_net"]
    assert all(t.to_number == item.phone for t in texts)
    assert "999" in texts[-1].body
    assert "unreachable" in audit_actions()


def test_the_number_of_tries_and_the_gap_are_settings(app, make_staff, make_item, now):
    from helpline.staff.settings import StaffSettings

    settings = StaffSettings.from_config({**app.config, "CALLBACK_MAX_ATTEMPTS": 1, "CALLBACK_RETRY_MINUTES": 5})
    sam = make_staff()
    item = make_item()
    queue.claim(settings, sam, item.id, now)
    queue.record_attempt(settings, sam, item.id, "no_answer", None, now)
    assert fresh(item).status == "unreachable"


def test_an_answered_attempt_keeps_the_claim_and_an_outcome_closes_it(settings, make_staff, make_item, now):
    sam = make_staff()
    item = make_item()
    queue.claim(settings, sam, item.id, now)
    queue.record_attempt(settings, sam, item.id, "answered", 240, now)
    item = fresh(item)
    assert (item.status, item.attempts, item.first_attempt_at) == ("claimed", 1, now)
    queue.record_outcome(settings, sam, item.id, "reached_111", "Advised 111 tonight.", now)
    item = fresh(item)
    assert (item.status, item.outcome, item.closed_at, item.closed_by_id) == ("done", "reached_111", now, sam.id)
    row = db.session.scalar(select(CallbackOutcome))
    assert (row.outcome, row.note, row.staff_id) == ("reached_111", "Advised 111 tonight.", sam.id)
    with pytest.raises(NotHolder):
        queue.record_outcome(settings, sam, item.id, "declined", None, now)
    assert audit_actions() == ["claim", "attempt", "outcome"]


def test_voicemail_after_an_answered_call_counts_once_and_goes_round_again(settings, make_staff, make_item, now):
    sam = make_staff()
    item = make_item()
    queue.claim(settings, sam, item.id, now)
    queue.record_attempt(settings, sam, item.id, "answered", 20, now)
    queue.record_outcome(settings, sam, item.id, "voicemail", None, now)
    item = fresh(item)
    assert (item.status, item.attempts, item.claimed_by_id) == ("open", 1, None)
    attempts = db.session.scalars(select(CallbackAttempt)).all()
    assert [a.result for a in attempts] == ["voicemail"]


def test_no_answer_as_an_outcome_records_the_attempt_it_implies(settings, make_staff, make_item, now):
    sam = make_staff()
    item = make_item()
    queue.claim(settings, sam, item.id, now)
    queue.record_outcome(settings, sam, item.id, "no_answer", None, now)
    item = fresh(item)
    assert (item.status, item.attempts) == ("open", 1)
    assert db.session.scalar(select(CallbackAttempt.result)) == "no_answer"


@pytest.mark.parametrize("outcome,closes", [(k, v[1]) for k, v in queue.OUTCOMES.items()])
def test_every_outcome_on_the_list(settings, make_staff, make_item, now, outcome, closes):
    sam = make_staff()
    item = make_item()
    queue.claim(settings, sam, item.id, now)
    queue.record_outcome(settings, sam, item.id, outcome, None, now)
    assert fresh(item).status == ("done" if closes else "open")


def test_outcomes_and_attempts_off_the_list_are_refused(settings, make_staff, make_item, now):
    sam = make_staff()
    item = make_item()
    queue.claim(settings, sam, item.id, now)
    with pytest.raises(Invalid):
        queue.record_outcome(settings, sam, item.id, "cured", None, now)
    with pytest.raises(Invalid):
        queue.record_attempt(settings, sam, item.id, "staff_unanswered", None, now)
    with pytest.raises(Invalid):
        queue.record_attempt(settings, sam, item.id, "answered", -5, now)
    with pytest.raises(Invalid, match="at most"):
        queue.record_outcome(settings, sam, item.id, "declined", "x" * 5001, now)
    assert fresh(item).status == "claimed"


def test_a_supervisor_closes_an_unreachable_case(settings, make_staff, make_item, now):
    boss = make_staff(role="supervisor")
    item = make_item(status="unreachable", attempts=3)
    queue.claim(settings, boss, item.id, now)
    queue.record_outcome(settings, boss, item.id, "wrong_number", "Number belongs to someone else.", now)
    assert fresh(item).status == "done"


def test_notes_go_on_the_case_and_the_audit_trail(settings, make_staff, make_item, now):
    sam, handler = make_staff(), make_staff(role="call_handler")
    item = make_item(queue="clinical")
    queue.add_note(settings, sam, item.id, "  Left a message with her partner.  ", now)
    assert db.session.scalar(select(CaseNote.body)) == "Left a message with her partner."
    with pytest.raises(Invalid, match="empty"):
        queue.add_note(settings, sam, item.id, "   ", now)
    with pytest.raises(NotAllowed):
        queue.add_note(settings, handler, item.id, "I can't see clinical cases", now)
    assert audit_actions() == ["note"]


def test_the_queue_is_ordered_by_tier_then_due_time(settings, make_staff, make_item, now):
    boss = make_staff(role="supervisor")
    d4_soon = make_item(priority=4, due_in=timedelta(minutes=30))
    d4_late = make_item(priority=4, due_in=timedelta(hours=2))
    d1 = make_item(queue="welfare", priority=1, disposition="D1", due_in=timedelta(hours=1))
    d5 = make_item(priority=5, disposition="D5", due_in=timedelta(days=3))
    general = make_item(queue="general", priority=6, disposition=None, due_in=timedelta(days=1))
    make_item(status="done")
    rows = queue.list_items(settings, boss, QueueFilter(), now)
    assert [r.id for r in rows] == [d1.id, d4_soon.id, d4_late.id, d5.id, general.id]


def test_a_crisis_welfare_check_is_worked_as_tier_1(twilio, settings, make_staff, make_item, now):
    """Crisis signposting: a welfare item with no disposition, which the triage stores at priority 1."""
    from support import Texter

    d4 = make_item(priority=4, due_in=timedelta(minutes=30))
    Texter(twilio).send("I want to end my life")
    crisis = db.session.scalars(select(Callback).where(Callback.queue == "welfare")).one()
    assert (crisis.disposition, crisis.priority) == (None, 1)
    rows = queue.list_items(settings, make_staff(), QueueFilter(), now)
    assert [(r.id, r.tier, r.tier_name) for r in rows] == [(crisis.id, 1, "Crisis: welfare check"),
                                                          (d4.id, 4, "D4 urgent callback")]
    assert [r.id for r in queue.list_items(settings, make_staff(), QueueFilter(tier=1), now)] == [crisis.id]
    counts = {t.tier: t.open for t in reports.overview(settings, now).tiers}
    assert counts[1] == 1 and counts[6] == 0


def test_a_failed_item_waits_its_turn_by_next_try_time(settings, make_staff, make_item, now):
    sam = make_staff()
    first = make_item(priority=4, due_in=timedelta(minutes=10))
    second = make_item(priority=4, due_in=timedelta(minutes=20))
    queue.claim(settings, sam, first.id, now)
    queue.record_attempt(settings, sam, first.id, "no_answer", None, now)
    rows = queue.list_items(settings, sam, QueueFilter(), now)
    assert [r.id for r in rows] == [second.id, first.id]
    assert rows[1].retry_at == now + timedelta(minutes=30)


def test_the_welfare_sla_makes_an_item_overdue(settings, make_staff, make_item, now):
    sam = make_staff()
    late = make_item(queue="welfare", priority=1, disposition="D1", due_in=timedelta(hours=3),
                     created_ago=timedelta(minutes=61))
    row = queue.list_items(settings, sam, QueueFilter(), now)[0]
    assert row.id == late.id and row.overdue and row.deadline == late.created_at + timedelta(minutes=60)


def test_filters_mine_unclaimed_overdue_tier_and_queue(settings, make_staff, make_item, now):
    sam, kim = make_staff(), make_staff()
    mine = make_item(priority=4)
    theirs = make_item(priority=4)
    overdue = make_item(priority=5, disposition="D5", due_in=timedelta(minutes=-5))
    welfare = make_item(queue="welfare", priority=2, disposition="D2")
    queue.claim(settings, sam, mine.id, now)
    queue.claim(settings, kim, theirs.id, now)

    def ids(**flt):
        return {r.id for r in queue.list_items(settings, sam, QueueFilter(**flt), now)}

    assert ids() == {mine.id, theirs.id, overdue.id, welfare.id}
    assert ids(mine=True) == {mine.id}
    assert ids(unclaimed=True) == {overdue.id, welfare.id}
    assert ids(overdue=True) == {overdue.id}
    assert ids(tier=4) == {mine.id, theirs.id}
    assert ids(queue="welfare") == {welfare.id}


def test_staff_see_only_the_queues_they_work(settings, make_staff, make_item, now):
    make_item(queue="clinical")
    general = make_item(queue="general", priority=6, disposition=None)
    handler = make_staff(role="call_handler")
    assert [r.id for r in queue.list_items(settings, handler, QueueFilter(), now)] == [general.id]
    assert queue.list_items(settings, make_staff(role="admin"), QueueFilter(), now) == []


def test_unreachable_items_show_to_supervisors_only(settings, make_staff, make_item, now):
    lost = make_item(status="unreachable", attempts=3)
    assert queue.list_items(settings, make_staff(), QueueFilter(), now) == []
    assert [r.id for r in queue.list_items(settings, make_staff(role="supervisor"), QueueFilter(), now)] == [lost.id]


def test_nothing_is_written_when_a_use_case_refuses(settings, make_staff, make_item, now):
    sam, kim = make_staff(), make_staff()
    item = make_item()
    queue.claim(settings, sam, item.id, now)
    before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    for refused in (lambda: queue.claim(settings, kim, item.id, now),
                    lambda: queue.release(settings, kim, item.id, now),
                    lambda: queue.record_outcome(settings, kim, item.id, "declined", None, now),
                    lambda: queue.record_attempt(settings, kim, item.id, "answered", None, now)):
        with pytest.raises(queue.QueueError):
            refused()
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == before
    assert fresh(item).claimed_by_id == sam.id
