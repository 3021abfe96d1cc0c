"""The queries that read the callbacks still waiting reach them through the status index on SQLite,
whatever the planner's statistics say.

A year's history holds about 100,000 callbacks, nearly all of them closed. After an ANALYZE, SQLite
knows only that `status` holds three values or so (its builds in Python keep no histogram), takes
`status IN ('open', 'claimed', 'unreachable')` for most of the table and reads all of it: the staff
queue page, polled every few seconds, read every callback ever made (66 ms in a full benchmark run
on its year of history, 32 ms through the index). PostgreSQL keeps the values' frequencies and needs no telling.
"""
from __future__ import annotations

import pytest
from sqlalchemy import event, select
from sqlalchemy.dialects import postgresql, sqlite

from helpline.db import db, rare
from helpline.models import Callback
from helpline.observability.metrics import DatabaseCollector
from helpline.staff import queue, reports
from staffkit import *  # noqa: F401,F403  (fixtures and helpers)

# What ANALYZE wrote for the callback table on the benchmark's year of history (bench/loader.py):
# 100,000 callbacks, 1,445 of them waiting.
YEAR_OF_STATISTICS = [
    ("callback", "ix_callback_phone", "100000 4"),
    ("callback", "ix_callback_claimed_by_id", "100000 100000"),
    ("callback", "ix_callback_status_priority_due_at", "100000 33334 7143 1"),
    ("callback", "ix_callback_conversation_id", "100000 3"),
    ("callback", "uq_callback_open_phone", "1435 1"),
]


def _waiting_queries(run) -> list[tuple[str, tuple]]:
    """The statements `run` sends that pick callbacks by a list of statuses, with their values."""
    seen: list[tuple[str, tuple]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "FROM callback" in statement and "callback.status IN" in statement:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        run()
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    return seen


def _plans_with_a_years_statistics(statements: list[tuple[str, tuple]]) -> list[str]:
    conn = db.session.connection()
    try:
        conn.exec_driver_sql("ANALYZE")  # makes sqlite_stat1, in this transaction only
        conn.exec_driver_sql("DELETE FROM sqlite_stat1 WHERE tbl = 'callback'")
        for row in YEAR_OF_STATISTICS:
            conn.exec_driver_sql("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)", row)
        conn.exec_driver_sql("ANALYZE sqlite_schema")  # the planner reads the statistics again
        plans = []
        for statement, parameters in statements:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            plans.append(" | ".join(str(row[-1]) for row in rows))
        return plans
    finally:
        db.session.rollback()
        db.session.connection().exec_driver_sql("ANALYZE sqlite_schema")  # back to the statistics as they were
        db.session.rollback()


def test_the_waiting_callbacks_are_read_through_the_status_index(app, settings, make_staff, make_item, now):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's planner statistics; PostgreSQL keeps the frequencies of a column's values")
    boss = make_staff(role="supervisor")
    make_item()

    def screens() -> None:
        queue.queue_page(settings, boss, queue.QueueFilter(), now)
        reports.overview(settings, now)
        list(DatabaseCollector(now).collect())

    statements = _waiting_queries(screens)
    # The queue page's ranking rows, the supervisor's overview counts, the metrics' depth and overdue.
    assert len(statements) == 4, [s for s, _ in statements]
    for (statement, _), plan in zip(statements, _plans_with_a_years_statistics(statements)):
        assert "ix_callback_status_priority_due_at" in plan and "SCAN callback" not in plan, (statement, plan)


@pytest.mark.parametrize("dialect,where", [
    # No `= 1` after it: SQLAlchemy writes one after a Boolean expression where the database has no
    # boolean type (SQLite), and the planner cannot see through it.
    (sqlite.dialect(), "WHERE unlikely(callback.status IN (__[POSTCOMPILE_status_1]))"),
    (postgresql.dialect(), "WHERE (callback.status IN (__[POSTCOMPILE_status_1]))"),
])
def test_a_rare_condition_is_marked_for_sqlites_planner_only(dialect, where):
    statement = select(Callback.id).where(rare(Callback.status.in_(["open", "claimed"])))
    assert str(statement.compile(dialect=dialect)).endswith(where)
