"""Two conversations escalating the same number at once: one open callback per number, and
neither caller hears the safe-failure words (the turn that loses the race is done once more)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from helpline import callbacks
from helpline.db import db
from helpline.models import Callback
from support import Caller, walk

KEYED = "07400123456"
E164 = "+447400123456"


def test_a_caller_who_loses_the_race_for_the_numbers_callback_joins_the_other_one(app, twilio, monkeypatch):
    if db.engine.dialect.name != "postgresql":
        # SQLite's lookup takes the write lock (the test below): no other turn can insert an
        # item between it and this turn's INSERT; a rival waits, and then finds this one's.
        pytest.skip("a rival INSERT between the lookup and the INSERT: PostgreSQL only")
    caller = Caller(twilio, number="anonymous")  # withheld: asked for a number to be called back on
    caller.call()
    walk(caller, {"d3_fever": "1"})
    caller.press(KEYED + "#")
    assert "Press 1 if that is right" in caller.last.text

    real = callbacks._OPEN_ITEM
    raced = []

    class AnotherTurnCommitsFirst:
        """After this turn looked for an open callback for the number and found none, another
        conversation's callback for the same number is committed: this turn's INSERT loses."""

        def first(self, conn, params):
            found = real.first(conn, params)
            if not raced and found is None:
                raced.append(params["phone"])
                now = helpline.now()
                with db.engine.begin() as other:
                    other.execute(Callback.__table__.insert().values(
                        phone=params["phone"], queue="clinical", disposition="D5", priority=5, reasons=["other"],
                        channel="sms", status="open", due_at=now, created_at=now, updated_at=now, attempts=0))
            return found

    helpline = app.extensions["helpline"]
    monkeypatch.setattr(callbacks, "_OPEN_ITEM", AnotherTurnCommitsFirst())
    caller.press("1")

    assert raced == [E164]
    assert "We will call you on that number" in caller.last.text  # not the safe-failure words
    db.session.rollback()
    open_items = db.session.scalars(select(Callback).where(Callback.phone == E164)).all()
    assert len(open_items) == 1  # the one committed first, raised to this caller's urgency
    assert open_items[0].disposition == "D3" and open_items[0].priority == 3
    assert set(open_items[0].reasons) >= {"other"} and len(open_items[0].reasons) > 1
    assert db.session.scalar(select(func.count()).select_from(Callback)) == 1


def test_a_turn_that_fails_on_a_unique_row_twice_is_not_tried_a_third_time(app, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    from helpline import conversations

    runs = []

    def always_races():
        runs.append(1)
        raise IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))

    try:
        conversations._commit_once(None, always_races)
    except IntegrityError:
        pass
    else:
        raise AssertionError("the second failure should come through")
    assert len(runs) == 2


def test_a_callers_open_item_stays_locked_from_the_lookup_to_the_commit(app, monkeypatch):
    # A text's turn reads outside a transaction (turn_store.own_transaction); the lookup of the
    # number's open item must begin one that holds the item, or a second case for the number
    # could change it between this lookup and this UPDATE, and one of the two raises be lost
    # (a D3 raise overwritten by a D4 read before it). PostgreSQL locks the row; SQLite, which
    # has no row locks, takes its write lock at the lookup.
    from sqlalchemy.exc import OperationalError

    from helpline import turn_store
    from helpline.turn_store import ConversationRecord

    hl = app.extensions["helpline"]
    now = hl.now()
    db.session.execute(Callback.__table__.insert().values(
        phone=E164, queue="clinical", disposition="D5", priority=5, reasons=["other"], channel="sms",
        status="open", due_at=now, created_at=now, updated_at=now, attempts=0))
    db.session.commit()
    real = callbacks._OPEN_ITEM
    others: list[str] = []
    postgresql = db.engine.dialect.name == "postgresql"

    class AnotherCaseChangesTheItem:
        def first(self, conn, params):
            found = real.first(conn, params)
            with db.engine.connect() as other:
                other.exec_driver_sql("SET lock_timeout = '200ms'" if postgresql else "PRAGMA busy_timeout = 200")
                try:
                    other.execute(Callback.__table__.update().where(Callback.phone == E164).values(priority=4))
                    other.commit()
                    others.append("changed the item")
                except OperationalError:
                    others.append("waited")
            return found

    monkeypatch.setattr(callbacks, "_OPEN_ITEM", AnotherCaseChangesTheItem())
    conv = ConversationRecord.new(channel="sms", caller=E164, caller_raw=E164, call_sid=None,
                                  flow_id="back_pain", flow_version="1", now=now)
    with turn_store.own_transaction():
        turn_store.save(conv)
    with turn_store.own_transaction(read_first=True):  # as a text's turn: read, escalate, then log
        _, _, conv = turn_store.load_text("sms:SM-race", E164, "sms")
        callbacks.request_callback(hl, conv, "clinical", "D3", ["d3"], now)
    assert others == ["waited"]
    db.session.rollback()
    item = db.session.scalar(select(Callback))
    assert (item.disposition, item.priority, item.reasons) == ("D3", 3, ["other", "d3"])
