"""Exactly one winner when many members of staff claim the same item at the same moment.

Each claimant runs in its own thread with its own app context, so its own database session and
connection, as separate web processes would. A barrier releases them together.
"""
from __future__ import annotations

import threading
from typing import Callable

import pytest
from sqlalchemy import select

from helpline.db import db
from helpline.models import Callback
from helpline.staff import queue
from helpline.staff.models import AuditEvent, Staff
from staffkit import *  # noqa: F401,F403  (fixtures and helpers)

CLAIMANTS = 8
ROUNDS = 10


def race(app, staff_ids: list[int], item_id: int, claim: Callable[[Staff, int], None]) -> list[int]:
    """Run one claim per member of staff at once; return the ids of those whose claim succeeded."""
    barrier = threading.Barrier(len(staff_ids))
    winners: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def attempt(staff_id: int) -> None:
        with app.app_context():
            try:
                staff = db.session.get(Staff, staff_id)
                db.session.commit()  # end the read: each claim starts its own transaction
                barrier.wait(timeout=10)
                try:
                    claim(staff, item_id)
                except queue.Taken:
                    return
                with lock:
                    winners.append(staff_id)
            except BaseException as exc:  # surfaced below: a crash is not a lost race
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt, args=(sid,)) for sid in staff_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    return winners


@pytest.fixture
def racers(make_staff) -> list[int]:
    return [make_staff(name=f"Racer {n}").id for n in range(CLAIMANTS)]


def test_concurrent_claims_have_exactly_one_winner(app, settings, racers, make_item, now):
    for _ in range(ROUNDS):
        item = make_item()
        winners = race(app, racers, item.id, lambda staff, item_id: queue.claim(settings, staff, item_id, now))
        assert len(winners) == 1, winners
        db.session.expire_all()
        assert db.session.get(Callback, item.id).claimed_by_id == winners[0]
        claims = db.session.scalars(select(AuditEvent).where(AuditEvent.callback_id == item.id)).all()
        assert [(e.action, e.staff_id) for e in claims] == [("claim", winners[0])]


def naive_claim(settings, staff: Staff, item_id: int, barrier: threading.Barrier) -> None:
    """Read, then write: the mistake the conditional UPDATE exists to avoid."""
    item = db.session.get(Callback, item_id)
    free = item.claimed_by_id is None
    barrier.wait(timeout=10)  # every claimant has read "free" before anyone writes
    if not free:
        raise queue.Taken("taken")
    item.claimed_by_id, item.status = staff.id, "claimed"
    db.session.commit()


def test_the_race_harness_catches_a_read_then_write_claim(app, database_url, settings, racers, make_item):
    """Proof that the test above can fail: the same race against a naive claim has several winners."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers differently; the naive race is shown on PostgreSQL")
    item = make_item()
    second = threading.Barrier(len(racers))
    winners = race(app, racers, item.id, lambda staff, item_id: naive_claim(settings, staff, item_id, second))
    assert len(winners) > 1


def _claim_in_process(url: str, staff_id: int, item_ids: list[int], barrier, results) -> None:
    """A web process of its own: its own app, engine and connections."""
    from helpline import create_app
    from helpline.db import utcnow

    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "test", "LOG_LEVEL": "WARNING"})
    settings = app.extensions["staff"]
    with app.app_context():
        for item_id in item_ids:
            staff = db.session.get(Staff, staff_id)
            db.session.commit()
            barrier.wait(timeout=120)
            try:
                queue.claim(settings, staff, item_id, utcnow())
                results.put((item_id, staff_id))
            except queue.Taken:
                pass
            except BaseException as exc:
                results.put((item_id, f"error: {exc!r}"))
            db.session.remove()


def test_claims_from_separate_processes_have_exactly_one_winner(app, database_url, racers, make_item):
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    items = [make_item().id for _ in range(5)]
    processes = racers[:4]
    barrier, results = ctx.Barrier(len(processes)), ctx.Queue()
    workers = [ctx.Process(target=_claim_in_process, args=(database_url, sid, items, barrier, results))
               for sid in processes]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=180)
    assert all(w.exitcode == 0 for w in workers)
    outcomes: list[tuple[int, object]] = []
    while not results.empty():
        outcomes.append(results.get())
    assert not [o for o in outcomes if isinstance(o[1], str)], outcomes
    assert sorted(item for item, _ in outcomes) == sorted(items)  # one winner per item, no more, no fewer
    db.session.expire_all()
    for item_id, winner in outcomes:
        assert db.session.get(Callback, item_id).claimed_by_id == winner
