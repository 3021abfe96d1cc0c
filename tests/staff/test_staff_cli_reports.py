"""`flask staff` commands, and the supervisor's figures: tier counts, SLA breaches today, time to callback."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from helpline.db import db
from helpline.staff import reports
from helpline.staff.auth import authenticate
from helpline.staff.models import Staff
from staffkit import *  # noqa: F401,F403  (fixtures and helpers)


def test_staff_create_makes_an_account_that_can_sign_in(runner, now):
    result = runner.invoke(args=["staff", "create", "--email", "Nia@Example.org", "--name", "Nia Evans",
                                 "--role", "clinician", "--phone", "07911 123456"],
                           input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "created nia@example.org (clinician)" in result.output
    staff = db.session.scalar(select(Staff))
    assert (staff.name, staff.role, staff.phone) == ("Nia Evans", "clinician", "+447911123456")
    assert authenticate("nia@example.org", PASSWORD, now).id == staff.id


def test_staff_create_refuses_a_short_password_and_an_unknown_role(runner):
    short = runner.invoke(args=["staff", "create", "--email", "a@b.org", "--name", "A", "--role", "admin",
                                "--password", "short"])
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    role = runner.invoke(args=["staff", "create", "--email", "a@b.org", "--name", "A", "--role", "janitor",
                               "--password", PASSWORD])
    assert role.exit_code == 2
    assert db.session.scalar(select(Staff)) is None


def test_staff_list_and_unlock(runner, make_staff):
    staff = make_staff(name="Lee")
    staff.locked = True
    db.session.commit()
    assert "locked" in runner.invoke(args=["staff", "list"]).output
    result = runner.invoke(args=["staff", "unlock", staff.email])
    assert result.exit_code == 0 and f"unlocked {staff.email}" in result.output
    db.session.expire_all()
    assert not db.session.get(Staff, staff.id).locked
    assert runner.invoke(args=["staff", "unlock", "nobody@example.org"]).exit_code == 1


def test_tier_counts_and_the_oldest_unclaimed(settings, make_staff, make_item, now):
    make_item(priority=1, queue="welfare", disposition="D1", created_ago=timedelta(minutes=5), due_in=timedelta(hours=1))
    oldest = make_item(priority=4, created_ago=timedelta(hours=3), due_in=timedelta(hours=5))
    claimed = make_item(priority=4)
    make_item(priority=5, status="done")
    from helpline.staff import queue

    queue.claim(settings, make_staff(), claimed.id, now)
    overview = reports.overview(settings, now)
    by_tier = {t.tier: (t.open, t.claimed, t.unreachable) for t in overview.tiers}
    assert by_tier[1] == (1, 0, 0) and by_tier[4] == (1, 1, 0) and by_tier[5] == (0, 0, 0)
    assert overview.oldest.id == oldest.id and overview.oldest_waiting == timedelta(hours=3)


def test_sla_breaches_today_are_deadlines_today_missed_or_still_waiting(settings, make_item, now):
    # now is 10:00 on Wednesday; London midnight is 00:00 UTC in November.
    missed = make_item(due_in=timedelta(hours=2), created_ago=timedelta(hours=3))  # due 09:00, never called
    late = make_item(due_in=timedelta(hours=2), created_ago=timedelta(hours=4),
                     first_attempt_at=now - timedelta(minutes=30))  # due 08:00, called 09:30
    make_item(due_in=timedelta(hours=2), created_ago=timedelta(hours=4),
              first_attempt_at=now - timedelta(hours=2, minutes=30))  # due 08:00, called 07:30: in time
    make_item(due_in=timedelta(hours=2), created_ago=timedelta(hours=12))  # due at midnight: today
    make_item(due_in=timedelta(hours=2), created_ago=timedelta(hours=20))  # due 16:00 yesterday: not today's
    make_item(due_in=timedelta(hours=2))  # due 12:00: not yet
    breaches = reports.overview(settings, now).breaches_today
    assert {b.item.id for b in breaches} >= {missed.id, late.id}
    assert len(breaches) == 3  # the one due at midnight today counts too
    assert all(b.deadline.date() == now.date() for b in breaches)


def test_time_to_callback_per_tier_over_a_window(make_item, now):
    for minutes, days_ago in ((10, 1), (30, 2), (50, 3), (500, 20)):
        created = timedelta(days=days_ago)
        make_item(priority=4, created_ago=created, first_attempt_at=now - created + timedelta(minutes=minutes))
    make_item(priority=1, queue="welfare", disposition="D1", created_ago=timedelta(hours=1),
              first_attempt_at=now - timedelta(minutes=45))
    make_item(priority=5)  # never called: not in the figures
    week = reports.time_to_callback(now, 7)
    assert set(week) == {1, 4}
    assert (week[4].count, week[4].median_minutes, week[4].p90_minutes) == (3, 30, 50)
    assert week[1].median_minutes == 15
    month = reports.time_to_callback(now, 30)
    assert (month[4].count, month[4].median_minutes) == (4, 40)
