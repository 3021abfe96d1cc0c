"""The turn's own reads and writes (helpline.turn_store): the same rows the ORM model describes."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from helpline import turn_store
from helpline.db import db
from helpline.models import Conversation, Interaction, OptOut
from helpline.turn_store import ConversationRecord
from support import OPEN_TIME, Caller, Texter


def _record(**changes) -> ConversationRecord:
    record = ConversationRecord.new(channel="voice", caller="+447911123456", caller_raw="+447911123456",
                                    call_sid="CA" + "1" * 32, flow_id="back_pain", flow_version="2026.11.4",
                                    now=OPEN_TIME)
    for name, value in changes.items():
        setattr(record, name, value)
    return record


def test_the_record_has_exactly_the_models_columns_in_the_tables_order():
    # Rows become records by position: a column added to the model must be added here too.
    assert turn_store.COLUMNS == tuple(c.name for c in Conversation.__table__.columns)
    assert tuple(ConversationRecord.__dataclass_fields__)[:-2] == turn_store.COLUMNS
    assert tuple(ConversationRecord.__dataclass_fields__)[-2:] == ("stored", "version")  # bookkeeping, not columns


def test_an_update_names_only_the_columns_a_turn_always_writes_and_those_that_changed(app):
    record = _record()
    turn_store.save(record)
    db.session.commit()
    loaded = turn_store.load_call(record.call_sid, "voice:y:1")[1]
    loaded.state = {"node": "onset", "seq": 1}
    turn_store.save(loaded)
    unchanged = turn_store._update(())
    assert unchanged is turn_store._update(())  # built and compiled once per shape
    sql = unchanged._plan(db.session.connection().dialect).sql
    assert "caller" not in sql and "status" not in sql and "state" in sql and "updated_at" in sql

    loaded.caller, loaded.status = "+447911654321", "completed"  # a number confirmed, the call ended
    turn_store.save(loaded)
    loaded.disposition = "D4"
    turn_store.save(loaded)  # compared with the last write, not the first read
    db.session.commit()
    model = db.session.get(Conversation, record.id)
    assert (model.caller, model.status, model.disposition, model.state["seq"]) == ("+447911654321", "completed", "D4", 1)
    assert model.caller_raw == "+447911123456" and model.call_sid == record.call_sid  # never rewritten


def test_a_saved_record_reads_back_through_the_orm_and_the_store(app):
    record = _record(state={"node": "onset", "seq": 3, "ending": [{"text": "Call 999", "emergency": True}]},
                     answers={"d1_saddle": "no"}, rules_fired=["d3_fever"], disposition="D3", queue="clinical")
    turn_store.save(record)
    assert record.id is not None
    record.status, record.ended_at, record.escalated = "completed", OPEN_TIME + timedelta(minutes=4), True
    turn_store.save(record)  # the second save updates the same row
    db.session.commit()

    model = db.session.get(Conversation, record.id)
    assert (model.state["seq"], model.answers, model.rules_fired) == (3, {"d1_saddle": "no"}, ["d3_fever"])
    assert (model.status, model.escalated, model.ended_at) == ("completed", True, OPEN_TIME + timedelta(minutes=4))
    assert db.session.scalar(select(db.func.count()).select_from(Conversation)) == 1

    answered, loaded = turn_store.load_call(record.call_sid, "voice:never:1")
    assert answered is None and loaded == record


def test_load_call_brings_the_stored_answer_of_a_retried_request(app):
    record = _record()
    turn_store.save(record)
    turn_store.log([{"conversation_id": record.id, "channel": "voice", "direction": "in", "kind": "turn",
                     "dedupe_key": "voice:x:1", "reply": {"say": [{"text": "Hello"}]}, "created_at": OPEN_TIME}])
    db.session.commit()
    answered, loaded = turn_store.load_call(record.call_sid, "voice:x:1")
    assert answered == {"say": [{"text": "Hello"}]} and loaded.id == record.id
    assert turn_store.load_call("CA" + "2" * 32, "voice:x:1") == (None, None)


def test_load_text_reads_the_stored_answer_and_the_opt_out_together(app):
    db.session.add(OptOut(phone="+447911000111", opted_out=True, updated_at=OPEN_TIME))
    turn_store.log([{"channel": "sms", "direction": "in", "kind": "keyword", "dedupe_key": "sms:SMa",
                     "reply": {"say": []}, "created_at": OPEN_TIME}])
    db.session.commit()
    assert turn_store.load_text("sms:SMa", "+447911000111", "sms") == ({"say": []}, True, None)
    assert turn_store.load_text("sms:SMb", "+447911000222", "sms") == (None, False, None)
    assert turn_store.load_text(None, None, "sms") == (None, False, None)


def test_load_text_finds_the_newest_active_conversation_on_that_channel(app):
    old = _record(channel="sms", call_sid=None, status="completed")
    active = _record(channel="sms", call_sid=None, state={"node": "onset", "seq": 2}, answers={"main_menu": "1"})
    whatsapp = _record(channel="whatsapp", call_sid=None)
    for record in (old, active, whatsapp):
        turn_store.save(record)
    db.session.add(OptOut(phone="+447911123456", opted_out=False, updated_at=OPEN_TIME))
    db.session.commit()
    answered, opted_out, loaded = turn_store.load_text("sms:SMc", "+447911123456", "sms")
    assert (answered, opted_out) == (None, False)
    assert loaded == active  # every column, the JSON ones decoded
    assert turn_store.load_text(None, "+447911123456", "whatsapp")[2].id == whatsapp.id
    assert turn_store.load_text(None, "+447911999999", "sms")[2] is None


def test_a_turns_rows_are_logged_once_and_a_retry_writes_nothing(app, twilio):
    caller = Caller(twilio)
    caller.call()
    action = caller._action_path()
    first = caller.press("1")
    again = twilio(action, caller._params(Digits="1"))  # Twilio retries the same Gather action
    assert again.status_code == 200 and first.text in again.get_data(as_text=True)
    rows = db.session.scalars(select(Interaction).where(Interaction.external_id == caller.call_sid)).all()
    assert [(r.direction, r.kind) for r in rows].count(("in", "turn")) == 2  # the call and one key press


def test_an_idle_texters_old_conversation_is_closed_in_the_same_turn(app, twilio, clock):
    texter = Texter(twilio)
    texter.send("hello")
    clock.now = OPEN_TIME + timedelta(days=2)
    texter.send("hello again")
    statuses = db.session.scalars(select(Conversation.status).order_by(Conversation.id)).all()
    assert statuses == ["abandoned", "active"]


def test_log_rows_go_in_one_insert_each_row_with_its_own_values(app):
    record = _record()
    turn_store.save(record)
    rows = [{"conversation_id": record.id, "channel": "sms", "direction": "in", "kind": "turn", "body": "1",
             "dedupe_key": "sms:SM1", "reply": {"say": [{"text": "Thanks", "emergency": False}]}, "created_at": OPEN_TIME},
            {"conversation_id": record.id, "channel": "sms", "direction": "out", "kind": "turn", "said": "Thanks",
             "created_at": OPEN_TIME},
            {"channel": "sms", "direction": "in", "kind": "status", "external_id": "SM2", "created_at": OPEN_TIME}]
    for count in (1, 3):  # one statement per number of rows, compiled once
        turn_store.log(rows[:count] if count == 1 else rows[1:] + [rows[0] | {"dedupe_key": "sms:SM9"}])
    db.session.commit()
    assert turn_store._log_statement(3) is turn_store._log_statement(3)
    sql = turn_store._log_statement(3)._plan(db.session.connection().dialect).sql
    assert sql.count("INSERT") == 1
    logged = db.session.scalars(select(Interaction).order_by(Interaction.id)).all()
    assert [(r.direction, r.kind, r.body, r.said, r.external_id, r.dedupe_key) for r in logged] == [
        ("in", "turn", "1", None, None, "sms:SM1"),
        ("out", "turn", None, "Thanks", None, None),
        ("in", "status", None, None, "SM2", None),
        ("in", "turn", "1", None, None, "sms:SM9"),
    ]
    assert logged[0].reply == {"say": [{"text": "Thanks", "emergency": False}]} and logged[1].reply is None
    assert logged[2].conversation_id is None and logged[3].conversation_id == record.id
    turn_store.log([])  # no rows: no statement, no error


def test_a_turns_update_and_its_log_rows_are_written_together_or_not_at_all(app):
    record = _record(state={"node": "onset", "steps": 1})
    turn_store.save(record)
    db.session.commit()
    record.state, record.disposition = {"node": "d1_saddle", "steps": 2}, "D4"
    rows = [{"conversation_id": record.id, "channel": "voice", "direction": "in", "kind": "turn",
             "dedupe_key": "voice:x:2", "created_at": OPEN_TIME},
            {"conversation_id": record.id, "channel": "voice", "direction": "out", "kind": "turn",
             "said": "Any numbness?", "created_at": OPEN_TIME}]
    turn_store.log(rows, update=record)
    db.session.commit()
    if db.session.connection().dialect.name == "postgresql":  # one statement: the UPDATE rides in the INSERT
        sql = turn_store._update_and_log(("disposition",), 2)._plan(db.session.connection().dialect).sql
        assert sql.startswith("WITH turn_update AS") and sql.count("INSERT") == 1
    model = db.session.get(Conversation, record.id)
    assert (model.state, model.disposition) == ({"node": "d1_saddle", "steps": 2}, "D4")
    assert db.session.scalar(select(db.func.count()).select_from(Interaction)) == 2

    # The same request again (its key is taken): neither the rows nor the conversation change.
    record.state = {"node": "d1_bladder", "steps": 3}
    with pytest.raises(IntegrityError):
        turn_store.log(rows, update=record)
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(Conversation, record.id).state == {"node": "d1_saddle", "steps": 2}
    assert db.session.scalar(select(db.func.count()).select_from(Interaction)) == 2


def _plan(statement) -> str:
    """The database's plan for a turn's prepared statement; on PostgreSQL the generic plan that a
    prepared statement keeps, whatever the parameters."""
    conn = db.session.connection()
    plan = statement._plan(conn.dialect)
    cursor = conn.connection.cursor()
    if conn.dialect.name == "sqlite":
        values = statement._parameters(plan, {"key": "sms:x", "phone": "+447700900001", "caller": "+447700900001",
                                               "channel": "sms", "call_sid": "CA" + "0" * 32})
        cursor.execute("EXPLAIN QUERY PLAN " + plan.sql, values)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())
    names: list[str] = []

    def numbered(match) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
    cursor.execute("PREPARE texter_plan AS " + re.sub(r"%\((\w+)\)s", numbered, plan.sql))
    literal = {"key": "'sms:x'", "phone": "'+447700900001'", "caller": "'+447700900001'", "channel": "'sms'",
               "call_sid": "'CA" + "0" * 32 + "'", **{name: repr(value) for name, value in plan.fixed.items()}}
    cursor.execute(f"EXPLAIN EXECUTE texter_plan({', '.join(literal[n] for n in names)})")
    text = "\n".join(row[0] for row in cursor.fetchall())
    cursor.execute("DEALLOCATE texter_plan")
    return text


@pytest.mark.parametrize("statement", ["_TEXT", "_TEXT_VERSIONED"])
def test_a_texters_conversation_is_one_index_step_with_no_sort(app, statement):
    if statement == "_TEXT_VERSIONED" and db.engine.dialect.name != "postgresql":
        pytest.skip("the row version is PostgreSQL's")
    # PostgreSQL planned this lookup once per connection, on a new table with no statistics, and
    # kept a plan that read every active conversation through the index on status (migration 0007).
    plan = _plan(getattr(turn_store, statement))
    db.session.rollback()
    assert "ix_conversation_caller_channel_status_id" in plan
    assert "Sort" not in plan and "TEMP B-TREE" not in plan
    assert not re.search(r"ix_conversation_status\b(?!_)", plan)


@pytest.mark.parametrize("statement", ["_ONLY_REPLAY", "_CALL", "_TEXT"])
def test_a_requests_earlier_answer_is_found_through_the_partial_key_index(app, statement):
    # The unique index holds only rows with a key (migration 0008); `dedupe_key = ?` must still
    # reach it, or every retry check would read the whole log.
    plan = _plan(getattr(turn_store, statement))
    db.session.rollback()
    assert "ix_interaction_dedupe_key" in plan


def test_the_key_index_leaves_out_the_rows_without_a_key(app):
    index = next(i for i in inspect(db.engine).get_indexes("interaction") if i["name"] == "ix_interaction_dedupe_key")
    assert index["unique"] and index["column_names"] == ["dedupe_key"]
    where = index.get("dialect_options", {}).get(f"{db.engine.dialect.name}_where")
    assert where is not None and "dedupe_key IS NOT NULL" in str(where)
    assert "uq_interaction_dedupe_key" not in {c["name"] for c in inspect(db.engine).get_unique_constraints("interaction")}
