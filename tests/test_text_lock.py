"""Two quick texts from one number take turns: a text's first read locks the texter's conversation
until the turn commits (PostgreSQL; SQLite has one writer at a time anyway)."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import bindparam, create_engine, select, text

from helpline.db import db
from helpline.models import Conversation
from support import Texter, sign, sid


def test_a_text_waits_for_a_turn_that_holds_its_conversation(app, twilio):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's")
    texter = Texter(twilio)
    texter.send("hello")
    db.session.commit()
    conversation_id = db.session.scalar(select(Conversation.id))
    steps_before = db.session.get(Conversation, conversation_id).state["steps"]
    db.session.commit()

    other = create_engine(db.engine.url)  # another turn, in the middle of its transaction
    holder = other.connect()
    state = holder.execute(text("SELECT state FROM conversation WHERE id = :id FOR UPDATE"),
                           {"id": conversation_id}).scalar()

    answered: list[int] = []

    def second_text() -> None:
        params = {"MessageSid": sid("SM"), "AccountSid": "AC" + "0" * 32, "From": texter.number,
                  "To": "+442380248725", "Body": "1", "NumMedia": "0", "NumSegments": "1"}
        with app.app_context():
            response = app.test_client().post("/sms", data=params, headers={"X-Twilio-Signature": sign("/sms", params)})
            answered.append(response.status_code)

    worker = threading.Thread(target=second_text)
    worker.start()
    worker.join(timeout=1.0)
    assert worker.is_alive() and answered == []  # waiting on the lock
    # The first turn writes its state and commits; the waiting text must build on it, not on
    # what it would have read before the lock was let go.
    holder.execute(text("UPDATE conversation SET state = :state WHERE id = :id").bindparams(
        bindparam("state", type_=Conversation.__table__.c.state.type)),
        {"state": {**state, "steps": steps_before + 5}, "id": conversation_id})
    holder.commit()
    holder.close()
    other.dispose()
    worker.join(timeout=10)
    assert answered == [200]
    db.session.expire_all()
    assert db.session.get(Conversation, conversation_id).state["steps"] == steps_before + 6
