"""The scale suite's databases: one per size, named apart, and removed afterwards."""
from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import database


def test_each_size_has_its_own_sqlite_file_and_drop_removes_it(tmp_path):
    empty, full = database.separate("sqlite", tmp_path, 0), database.separate("sqlite", tmp_path, 1_000_000)
    assert empty != full and all(u.startswith(f"sqlite:///{tmp_path}") for u in (empty, full))
    path = tmp_path / "helpline-bench-1000000.db"
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / (path.name + suffix)).write_bytes(b"x")
    database.drop(full)
    assert list(tmp_path.iterdir()) == []


def _exists(admin_url, name: str) -> bool:
    engine = create_engine(admin_url)
    try:
        with engine.connect() as conn:
            return bool(conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}))
    finally:
        engine.dispose()


def test_each_size_has_its_own_postgresql_database_and_drop_removes_it(tmp_path, monkeypatch):
    url = os.environ.get("HELPLINE_TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    monkeypatch.setenv(database.PG_ENV, url)
    sized = database.separate("postgresql", tmp_path, 42)
    name = make_url(database.sqlalchemy_url(sized)).database
    assert name == f"{make_url(url).database}_42"
    admin = make_url(database.sqlalchemy_url(url)).set(database="postgres")
    database.create_database(sized)
    assert _exists(admin, name)
    database.drop(sized)
    assert not _exists(admin, name)


def test_settle_writes_sqlites_log_back_and_empties_it(tmp_path):
    url = database.separate("sqlite", tmp_path, "settle")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("PRAGMA journal_mode=WAL"))
        conn.execute(text("PRAGMA wal_autocheckpoint=0"))  # the log keeps what this writes
        conn.execute(text("CREATE TABLE t (x TEXT)"))
        conn.execute(text("INSERT INTO t VALUES (:x)"), [{"x": "y" * 500}] * 200)
    wal = tmp_path / "helpline-bench-settle.db-wal"
    assert wal.stat().st_size > 100_000
    database.settle(url)
    assert wal.stat().st_size == 0
    with engine.connect() as conn:  # nothing lost
        assert conn.scalar(text("SELECT count(*) FROM t")) == 200
    engine.dispose()


def test_settle_runs_a_checkpoint_on_postgresql(monkeypatch):
    url = os.environ.get("HELPLINE_TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    engine = create_engine(database.sqlalchemy_url(url))
    requested = text("SELECT checkpoints_req FROM pg_stat_bgwriter")
    try:
        with engine.connect() as conn:
            before = conn.scalar(requested)
        database.settle(url)
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            assert conn.scalar(requested) > before
    finally:
        engine.dispose()
