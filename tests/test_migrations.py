"""The schema comes only from the migrations, and the models agree with it."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from helpline.config import ROOT
from helpline.db import db


def test_models_and_migrations_agree(app):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
    assert diff == []


def test_one_head_and_the_database_is_at_it(app):
    script = ScriptDirectory(str(ROOT / "migrations"))
    heads = script.get_heads()
    assert len(heads) == 1
    with db.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == heads[0]


def test_downgrade_to_base_and_back(app):
    db.session.remove()
    downgrade(revision="base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade()
    assert {"conversation", "interaction", "callback", "opt_out"} <= set(inspect(db.engine).get_table_names())


def test_the_partial_key_index_keeps_every_logged_row_and_the_unique_key(app):
    db.session.remove()
    downgrade(revision="0007")
    rows = [{"channel": "sms", "direction": "in", "kind": "turn", "dedupe_key": "sms:SM1", "created_at": "2026-01-01"},
            {"channel": "sms", "direction": "out", "kind": "turn", "dedupe_key": None, "created_at": "2026-01-01"},
            {"channel": "sms", "direction": "out", "kind": "turn", "dedupe_key": None, "created_at": "2026-01-01"}]
    insert = text("INSERT INTO interaction (channel, direction, kind, dedupe_key, created_at) "
                  "VALUES (:channel, :direction, :kind, :dedupe_key, :created_at)")
    with db.engine.begin() as conn:
        conn.execute(insert, rows)
    upgrade()
    with db.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM interaction")) == 3
        with pytest.raises(IntegrityError):
            conn.execute(insert, rows[0])
        conn.rollback()
        conn.execute(insert, rows[1])  # any number of rows without a key
        conn.rollback()


def test_on_postgresql_the_partial_key_index_is_built_without_holding_up_turns(app, capsys):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite rebuilds the table")
    capsys.readouterr()
    upgrade(revision="0007:0008", sql=True)
    sql = capsys.readouterr().out
    built = sql.index("CREATE UNIQUE INDEX CONCURRENTLY ix_interaction_dedupe_key")
    assert built < sql.index("DROP CONSTRAINT uq_interaction_dedupe_key")  # never without a unique key
