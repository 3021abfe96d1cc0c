"""Statements run on the DBAPI cursor (helpline.prepared): SQLAlchemy's SQL, types and errors."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError

from helpline.db import db
from helpline.models import Callback, Interaction
from helpline.prepared import Prepared

T = Interaction.__table__
COLUMNS = [c.name for c in T.columns if c.name != "id"]
INSERT = Prepared(T.insert(), COLUMNS)
BY_KEY = Prepared(select(T.c.reply, T.c.created_at, T.c.confidence, T.c.said)
                  .where(T.c.dedupe_key == bindparam("key"), T.c.kind == "turn").limit(1))
WHEN = datetime(2026, 11, 18, 10, 0, 0, 123456)


def _row(key: str, **values) -> dict:
    return {**dict.fromkeys(COLUMNS), "channel": "sms", "direction": "in", "kind": "turn",
            "dedupe_key": key, "created_at": WHEN, **values}


def test_values_go_in_and_come_back_as_sqlalchemy_converts_them(app):
    conn = db.session.connection()
    INSERT.execute(conn, [_row("a", reply={"say": [{"text": "Café 999"}]}, confidence=0.5),
                          _row("b", said="hello")])
    assert BY_KEY.first(conn, {"key": "a"}) == ({"say": [{"text": "Café 999"}]}, WHEN, 0.5, None)
    assert BY_KEY.first(conn, {"key": "b"})[1:] == (WHEN, None, "hello")
    assert BY_KEY.first(conn, {"key": "nobody"}) is None
    db.session.commit()
    # The ORM reads the same values: nothing about the rows depends on how they were written.
    orm = db.session.scalars(select(Interaction).order_by(Interaction.dedupe_key)).all()
    assert [(i.dedupe_key, i.reply, i.created_at) for i in orm] == [
        ("a", {"say": [{"text": "Café 999"}]}, WHEN), ("b", None, WHEN)]


@pytest.mark.parametrize("statement, params, expected", [
    (select(func.count()).select_from(T), {}, (2,)),
    (select(T.c.said).where(T.c.dedupe_key == bindparam("key")), {"key": "b"}, ("hello",)),
    (select(T.c.dedupe_key, T.c.confidence).where(T.c.dedupe_key.in_([bindparam("one"), bindparam("two")]),
                                                  T.c.confidence > bindparam("low")),
     {"one": "a", "two": "b", "low": 0.25, "unused": 1}, ("a", 0.5)),
], ids=["no values", "one value", "several, one given but not in the statement"])
def test_statements_take_their_values_by_name_however_many(app, statement, params, expected):
    conn = db.session.connection()
    INSERT.execute(conn, [_row("a", confidence=0.5), _row("b", said="hello")])
    assert Prepared(statement).first(conn, params) == expected
    db.session.rollback()


def test_a_broken_constraint_is_sqlalchemys_integrity_error_without_the_values(app):
    conn = db.session.connection()
    INSERT.execute(conn, _row("same"))
    with pytest.raises(IntegrityError) as caught:
        INSERT.execute(conn, _row("same", body="+447911123456 my leg is numb"))
    assert "+447911123456" not in str(caught.value) and "numb" not in str(caught.value)
    db.session.rollback()


def test_a_statement_is_compiled_once_per_dialect(app):
    statement = Prepared(select(Callback.__table__.c.id).where(Callback.__table__.c.phone == bindparam("phone")))
    conn = db.session.connection()
    assert statement.first(conn, {"phone": "+447911000000"}) is None
    assert statement.first(conn, {"phone": "+447911000001"}) is None
    assert list(statement._plans) == [(conn.dialect.name, conn.dialect.driver)]



def test_dates_are_converted_once_per_moment_and_each_moment_gets_its_own_text(app, monkeypatch):
    from sqlalchemy import DateTime

    from helpline import prepared

    dialect = db.engine.dialect
    real = DateTime().dialect_impl(dialect).bind_processor(dialect) or (lambda v: v)
    calls = []

    def counted(value):
        calls.append(value)
        return real(value)

    monkeypatch.setattr(prepared, "_REMEMBERED", {})
    monkeypatch.setattr(DateTime, "dialect_impl", lambda self, d: self)
    monkeypatch.setattr(DateTime, "bind_processor", lambda self, d: counted)
    first = prepared._bind_processor(DateTime(), dialect)
    second = prepared._bind_processor(DateTime(), dialect)
    assert first is second  # one converter for every date bind of every statement
    later = datetime(2026, 11, 18, 10, 0, 1)
    texts = [first(WHEN), second(WHEN), first(later), second(later), first(WHEN), first(None)]
    assert texts == [real(v) for v in (WHEN, WHEN, later, later, WHEN, None)]
    assert calls == [WHEN, later, WHEN, None]  # converted again only when the moment changed


class _Watching:
    """A connection-like object that counts the writes Prepared announces before running them."""

    def __init__(self, conn):
        self.dialect, self.connection, self.writes = conn.dialect, conn.connection, 0

    def about_to_write(self) -> None:
        self.writes += 1


def test_a_statement_that_changes_rows_is_announced_before_it_runs(app):
    from sqlalchemy import func

    watching = _Watching(db.session.connection())
    BY_KEY.first(watching, {"key": "a"})
    assert watching.writes == 0
    INSERT.execute(watching, _row("a"))
    assert watching.writes == 1
    update = T.update().where(T.c.dedupe_key == bindparam("key")).values(said=bindparam("said"))
    Prepared(update).execute(watching, {"key": "a", "said": "x"})
    assert watching.writes == 2
    if db.engine.dialect.name == "postgresql":  # a data-modifying WITH in a SELECT
        changed = update.returning(T.c.id).cte("changed")
        Prepared(select(func.count()).select_from(changed)).first(watching, {"key": "a", "said": "y"})
        assert watching.writes == 3
    before = watching.writes
    with pytest.raises(IntegrityError):  # announced before it runs, so a failed write counts too
        INSERT.execute(watching, _row("a", channel=None))
    assert watching.writes == before + 1
    db.session.rollback()
