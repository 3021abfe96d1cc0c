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
