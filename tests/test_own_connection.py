"""A turn on a connection of its own, and the turn that needs the ORM done again in the session."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from helpline import turn_store
from helpline.db import db
from helpline.models import Callback, Conversation, Interaction, OptOut
from helpline.notify.models import Outbox
from support import OPEN_TIME, Caller, Texter, sign, sid


@pytest.fixture
def session_commits(app):
    """How many times an ORM session committed while the test ran."""
    commits: list[object] = []

    def committed(session):
        commits.append(session)

    db.session.commit()  # the test's own session ends its transaction, as a request's starts with none
    event.listen(Session, "after_commit", committed)
    yield commits
    event.remove(Session, "after_commit", committed)


def _texters_record() -> turn_store.ConversationRecord:
    return turn_store.ConversationRecord.new(
        channel="sms", caller="+447911123456", caller_raw="+447911123456", call_sid=None,
        flow_id="back_pain", flow_version="1", now=OPEN_TIME)


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_turn_that_needs_no_orm_commits_on_its_own_connection(twilio, session_commits):
    texter = Texter(twilio)
    assert texter.send("hello")
    assert session_commits == []  # the session never began: the turn committed on its own
    db.session.rollback()
    assert _count(Conversation) == 1 and _count(Interaction) == 2


def test_a_plain_turn_outside_any_app_context_never_makes_an_orm_session(app, twilio, monkeypatch):
    Texter(twilio).send("hello")  # the conversation exists: the next text continues it
    db.session.commit()
    registry = db.session.registry
    made: list[int] = []
    make = registry.createfunc
    monkeypatch.setattr(registry, "createfunc", lambda: made.append(1) or make())
    answered: list[int] = []

    def webhook() -> None:  # as under gunicorn: the request brings its own app context
        params = {"MessageSid": sid("SM"), "AccountSid": "AC" + "0" * 32, "From": Texter.number,
                  "To": "+442380248725", "Body": "1", "NumMedia": "0", "NumSegments": "1"}
        response = app.test_client().post("/sms", data=params, headers={"X-Twilio-Signature": sign("/sms", params)})
        answered.append(response.status_code)

    worker = threading.Thread(target=webhook)
    worker.start()
    worker.join(timeout=10)
    assert answered == [200] and made == []
    assert _count(Interaction, Interaction.direction == "in") == 2


def test_an_escalating_turn_commits_on_its_own_connection_and_is_written_once(twilio, session_commits):
    texter = Texter(twilio)
    reply = texter.send("I want to end my life")
    assert "999" in reply
    assert session_commits == []  # the callback and its alerts went in with the turn, on its connection
    db.session.rollback()
    assert _count(Callback) == 1 and _count(Conversation) == 1
    assert _count(Interaction, Interaction.direction == "in") == 1
    assert _count(Interaction, Interaction.direction == "out") == 1
    keys = db.session.scalars(select(Outbox.dedupe_key)).all()
    assert len(keys) == len(set(keys))


def test_stop_takes_the_session_and_a_plain_call_does_not(twilio, session_commits):
    Texter(twilio).send("STOP")
    assert len(session_commits) == 1
    db.session.rollback()
    assert db.session.get(OptOut, "+447911123456").opted_out is True
    db.session.rollback()  # the test's read ends, as a request's session starts with none
    caller = Caller(twilio, number="+447911999888")
    caller.call()
    caller.press("1")
    assert len(session_commits) == 1


def test_orm_work_that_did_not_ask_for_the_session_is_stopped_and_leaves_nothing(app):
    db.session.commit()
    record = _texters_record()
    with pytest.raises(turn_store.NeedsSession):
        with turn_store.own_transaction():
            turn_store.save(record)  # on the turn's own connection
            db.session.add(OptOut(phone="+447911123456", opted_out=True, updated_at=OPEN_TIME))
    db.session.rollback()
    assert _count(Conversation) == 0 and _count(OptOut) == 0

    with pytest.raises(turn_store.NeedsSession):
        with turn_store.own_transaction():
            turn_store.save(record)
            db.session.scalars(select(OptOut)).all()  # a read through the session is stopped at once
    db.session.rollback()
    assert _count(Conversation) == 0


def test_an_error_on_its_own_connection_rolls_the_turn_back(app):
    db.session.commit()
    record = _texters_record()
    with pytest.raises(RuntimeError):
        with turn_store.own_transaction():
            turn_store.save(record)
            raise RuntimeError("the engine failed")
    assert _count(Conversation) == 0
    db.session.rollback()
    record.id = None  # a record does not outlive its transaction: a turn done again builds its own
    with turn_store.own_transaction():
        turn_store.save(record)
    db.session.rollback()
    assert _count(Conversation) == 1


class _Ends:
    """Wraps the pool's raw connections and records how each of the turn's transactions ended."""

    def __init__(self, monkeypatch):
        self.ends: list[str] = []
        engine = db.engine
        take = engine.raw_connection
        ends = self.ends

        class Recording:
            def __init__(self, pooled):
                self._pooled = pooled

            def __getattr__(self, name):
                return getattr(self._pooled, name)

            def commit(self):
                ends.append("commit")
                self._pooled.commit()

            def rollback(self):
                ends.append("rollback")
                self._pooled.rollback()

        monkeypatch.setattr(engine, "raw_connection", lambda: Recording(take()))


def test_a_turn_that_reads_and_then_needs_the_session_ends_with_commit_not_rollback(app, monkeypatch):
    # psycopg forgets every statement it prepared on a connection at a ROLLBACK (it cannot know
    # what the rolled-back work dropped), so each escalation cost every later turn its prepared
    # statements. A transaction that only read ends the same either way.
    db.session.commit()
    ends = _Ends(monkeypatch).ends
    with pytest.raises(turn_store.NeedsSession):
        with turn_store.own_transaction():
            turn_store.load_text("sms:SM1", "+447911123456", "sms")
            turn_store.need_session()
    assert ends == ["commit"]


def test_a_turn_that_wrote_and_then_needs_the_session_is_rolled_back(app, monkeypatch):
    db.session.commit()
    ends = _Ends(monkeypatch).ends
    with pytest.raises(turn_store.NeedsSession):
        with turn_store.own_transaction():
            turn_store.save(_texters_record())
            turn_store.need_session()
    assert ends == ["rollback"]
    db.session.rollback()
    assert _count(Conversation) == 0


def test_an_escalation_keeps_the_statements_postgresql_prepared(twilio):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("psycopg's prepared statements: PostgreSQL only")
    db.session.commit()
    texter = Texter(twilio)
    for _ in range(15):  # psycopg prepares a statement the sixth time it runs on a connection
        texter.send("hello")  # (the pool hands its connections out in turn)
    prepared = {id(c.dbapi_connection): len(c.dbapi_connection._prepared._names)
                for c in _pooled(db.engine)}
    assert any(prepared.values())
    assert "999" in texter.send("I want to end my life")  # a callback and its alerts on the turn's connection
    Texter(twilio, number="+447911000111").send("STOP")  # stopped on its own connection, done in the session
    after = {id(c.dbapi_connection): len(c.dbapi_connection._prepared._names) for c in _pooled(db.engine)}
    assert all(after.get(key, 0) >= count for key, count in prepared.items())


def _pooled(engine):
    """The DBAPI connections resting in the pool."""
    return list(engine.pool._pool.queue)


# --- A call's turn reads outside a transaction (own_transaction(read_first=True)) -------------

def _calls_record(call_sid: str = "CA" + "1" * 32) -> turn_store.ConversationRecord:
    return turn_store.ConversationRecord.new(
        channel="voice", caller="+447911123456", caller_raw="+447911123456", call_sid=call_sid,
        flow_id="back_pain", flow_version="1", now=OPEN_TIME)


def _log_row(record, key: str) -> list[dict]:
    return [{"conversation_id": record.id, "channel": "voice", "direction": "in", "kind": "turn",
             "dedupe_key": key, "reply": {}, "created_at": OPEN_TIME}]


def _round_trips(monkeypatch) -> list[int]:
    """Counts psycopg's exchanges with the server: each sends what is queued and reads the answers."""
    import psycopg._cursor_base
    import psycopg.generators

    counted = [0]
    execute = psycopg.generators.execute

    def counting(pgconn):
        counted[0] += 1
        return execute(pgconn)

    monkeypatch.setattr(psycopg.generators, "execute", counting)  # BEGIN, COMMIT, ROLLBACK
    monkeypatch.setattr(psycopg._cursor_base, "execute", counting)  # statements
    return counted


def _autocommit(pooled) -> bool:
    return getattr(pooled.dbapi_connection, "autocommit", False) is True  # psycopg's; sqlite3 has none here


def test_a_gather_on_postgresql_is_two_round_trips_and_leaves_the_pool_as_it_found_it(twilio, monkeypatch):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("round trips to a database server: PostgreSQL only")
    db.session.commit()
    caller = Caller(twilio)
    caller.call()
    caller.press("1")  # every statement of the turn prepared on the connection it will use
    counted = _round_trips(monkeypatch)
    caller.press("2")
    assert counted[0] == 2  # the read, then the write that commits itself: no BEGIN, no COMMIT
    assert not any(_autocommit(c) for c in _pooled(db.engine))
    db.session.rollback()
    assert _count(Interaction, Interaction.external_id == caller.call_sid, Interaction.direction == "in") == 3


def test_a_turn_that_writes_twice_after_reading_first_is_all_or_nothing(app):
    db.session.commit()
    record = _calls_record()
    with pytest.raises(RuntimeError):
        with turn_store.own_transaction(read_first=True):
            turn_store.load_call(record.call_sid, "voice:x:0")
            turn_store.save(record)  # a new conversation: its INSERT and the log rows' are two writes
            turn_store.log(_log_row(record, "voice:x:0"))
            raise RuntimeError("the turn failed after both writes")
    db.session.rollback()
    assert _count(Conversation) == 0 and _count(Interaction) == 0


def test_a_whole_write_that_fails_leaves_nothing_and_the_retry_is_answered_once(app):
    db.session.commit()
    record = _calls_record()
    with turn_store.own_transaction():
        turn_store.save(record)
        turn_store.log(_log_row(record, "voice:x:1"))
    with pytest.raises(IntegrityError):  # the same request again: its key is taken
        with turn_store.own_transaction(read_first=True):
            _, again = turn_store.load_call(record.call_sid, "voice:x:2")
            again.answers = {"q": "changed"}
            turn_store.log(_log_row(again, "voice:x:1"), update=again)
    db.session.rollback()
    assert db.session.get(Conversation, record.id).answers == {}  # the UPDATE went with the failed INSERT
    assert _count(Interaction) == 1
    assert not any(_autocommit(c) for c in _pooled(db.engine))


def test_nothing_may_be_written_after_the_write_that_committed_itself(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("only PostgreSQL commits a turn's write as it runs")
    db.session.commit()
    record = _calls_record()
    with turn_store.own_transaction():
        turn_store.save(record)
    with pytest.raises(turn_store.WroteAfterItsLastWrite):
        with turn_store.own_transaction(read_first=True):
            _, again = turn_store.load_call(record.call_sid, "voice:y:1")
            turn_store.log(_log_row(again, "voice:y:1"), update=again)
            turn_store.save(again)
    assert not any(_autocommit(c) for c in _pooled(db.engine))


def test_a_text_on_postgresql_is_two_round_trips(twilio, monkeypatch):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("round trips to a database server: PostgreSQL only")
    db.session.commit()
    texter = Texter(twilio)
    for _ in range(12):  # every statement prepared on both of the pool's connections
        texter.send("hello")
    counted = _round_trips(monkeypatch)
    texter.send("hello")
    assert counted[0] == 2  # the read without a lock, then the checked write that commits itself


def test_a_text_whose_conversation_changed_after_its_read_is_done_again_on_the_new_state(
        twilio, monkeypatch, session_commits, log_lines):
    # Two quick texts from one number: the other's turn commits between this one's read and its
    # write. The write finds the row no longer as read and changes nothing; the turn is done
    # again in the session, whose read locks the row, and builds on what the other wrote.
    if db.engine.dialect.name != "postgresql":
        pytest.skip("a read outside a transaction: PostgreSQL only (SQLite has one writer at a time)")
    from sqlalchemy import bindparam, create_engine, text

    texter = Texter(twilio)
    texter.send("hello")
    db.session.commit()
    conversation = db.session.scalars(select(Conversation)).one()
    conversation_id, state = conversation.id, dict(conversation.state)
    steps_before = state["steps"]
    db.session.commit()
    session_commits.clear()

    other = create_engine(db.engine.url)
    load_text = turn_store.load_text
    reads: list[bool] = []

    def read_then_the_other_commits(*args, **kwargs):
        found = load_text(*args, **kwargs)
        reads.append(found[2] is not None and found[2].version is not None)
        if len(reads) == 1:
            with other.begin() as conn:
                conn.execute(text("UPDATE conversation SET state = :state WHERE id = :id").bindparams(
                    bindparam("state", type_=Conversation.__table__.c.state.type)),
                    {"state": {**state, "steps": steps_before + 5}, "id": conversation_id})
        return found

    monkeypatch.setattr(turn_store, "load_text", read_then_the_other_commits)
    try:
        reply = texter.send("1")
    finally:
        other.dispose()
    assert reply
    assert reads == [True, False]  # read without a lock, then again in the session, locked
    assert len(session_commits) == 1
    db.session.expire_all()
    assert db.session.get(Conversation, conversation_id).state["steps"] == steps_before + 6
    assert _count(Interaction, Interaction.direction == "in") == 2  # the second text logged once
    assert [line["message"] for line in log_lines() if line["logger"] == "helpline.conversations"] == [
        "another turn changed this conversation after the turn read it; doing the turn again with the "
        "conversation locked"]
