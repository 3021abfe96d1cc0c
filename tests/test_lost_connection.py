"""A database server's connections: pinged only after sitting idle, and a turn that loses its
connection tried once more on a fresh one (PostgreSQL; a SQLite file cannot drop a connection)."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy import create_engine, func, select, text

from helpline.db import db, ping_when_idle
from helpline.models import Conversation, Interaction, OptOut
from support import Texter


@pytest.fixture
def server(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("only a database server drops connections")
    return db.engine


def _kill_other_connections(engine, only: int | None = None) -> int:
    """Terminate every other backend of this database (or only the one given), as a server restart would."""
    killer = create_engine(engine.url)
    with killer.connect() as conn:
        killed = conn.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND (CAST(:only AS integer) IS NULL OR pid = :only)"),
            {"only": only}).scalar()
    killer.dispose()
    return killed


def _pid(conn) -> int:
    return conn.execute(text("SELECT pg_backend_pid()")).scalar()


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_connection_used_recently_is_not_pinged_and_an_idle_one_is(server):
    pings: list[object] = []
    for idle_seconds, expected in ((3600.0, 0), (0.0, 3)):
        engine = create_engine(server.url, pool_size=1)
        ping_when_idle(engine, idle_seconds=idle_seconds)
        original = engine.dialect.do_ping
        engine.dialect.do_ping = lambda dbapi_connection: pings.append(dbapi_connection) or original(dbapi_connection)
        pings.clear()
        for _ in range(3):
            with engine.connect() as conn:
                assert conn.execute(text("SELECT 1")).scalar() == 1
        engine.dispose()
        assert len(pings) == expected


def test_an_idle_connection_the_server_dropped_is_replaced_at_checkout(server):
    engine = create_engine(server.url, pool_size=1)
    ping_when_idle(engine, idle_seconds=0.0)
    with engine.connect() as conn:
        first = _pid(conn)
    assert _kill_other_connections(engine, only=first) == 1
    with engine.connect() as conn:  # the ping fails, the pool connects afresh: no error reaches us
        assert _pid(conn) != first
    engine.dispose()


def test_a_turn_whose_connection_was_dropped_is_done_once_on_a_fresh_one(twilio, server, caplog):
    texter = Texter(twilio)
    assert texter.send("hello")
    db.session.commit()  # the test's session gives its connection back too
    assert _kill_other_connections(server) >= 1  # every pooled connection, used a moment ago: no ping
    caplog.set_level(logging.WARNING, logger="helpline.conversations")

    assert texter.send("1")  # answered, not an error

    assert [r.getMessage() for r in caplog.records if r.name == "helpline.conversations"] == [
        "the database connection was lost during a turn; trying the turn once more"]
    assert _count(Conversation) == 1
    assert _count(Interaction, Interaction.direction == "in") == 2  # each text logged once
    assert _count(Interaction, Interaction.direction == "out") == 2


def test_a_session_turn_whose_connection_was_dropped_is_done_once_on_a_fresh_one(twilio, server, caplog):
    texter = Texter(twilio)
    assert texter.send("hello")
    db.session.commit()
    assert _kill_other_connections(server) >= 1
    caplog.set_level(logging.WARNING, logger="helpline.conversations")

    assert "no more texts" in texter.send("STOP")  # STOP always runs in the ORM session

    assert sum(r.name == "helpline.conversations" for r in caplog.records) == 1
    assert _count(OptOut) == 1
    assert _count(Interaction, Interaction.direction == "in") == 2
