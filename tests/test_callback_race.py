"""Two conversations escalating the same number at once: one open callback per number, and
neither caller hears the safe-failure words (the turn that loses the race is done once more)."""
from __future__ import annotations

from sqlalchemy import func, select

from helpline import callbacks
from helpline.db import db
from helpline.models import Callback
from support import Caller, walk

KEYED = "07400123456"
E164 = "+447400123456"


def test_a_caller_who_loses_the_race_for_the_numbers_callback_joins_the_other_one(app, twilio, monkeypatch):
    caller = Caller(twilio, number="anonymous")  # withheld: asked for a number to be called back on
    caller.call()
    walk(caller, {"d3_fever": "1"})
    caller.press(KEYED + "#")
    assert "Press 1 if that is right" in caller.last.text

    real = callbacks.callback_requested
    raced = []

    def another_turn_commits_first(hl, item, now):
        # After this turn looked for an open callback for the number and found none, another
        # conversation's callback for the same number is committed: this turn's INSERT loses.
        if not raced and item.id is None:
            raced.append(item.phone)
            with db.engine.begin() as other:
                other.execute(Callback.__table__.insert().values(
                    phone=item.phone, queue="clinical", disposition="D5", priority=5, reasons=["other"],
                    channel="sms", status="open", due_at=now, created_at=now, updated_at=now, attempts=0))
        return real(hl, item, now)

    monkeypatch.setattr(callbacks, "callback_requested", another_turn_commits_first)
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
