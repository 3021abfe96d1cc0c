"""Fixtures: the app on SQLite and, when HELPLINE_TEST_DATABASE_URL is set, on PostgreSQL.

The schema is built by the Alembic migrations (never create_all), once per database per run;
each test starts from empty tables.
"""
from __future__ import annotations

import io
import json
import logging
import os
from pathlib import Path
from typing import Any, Callable

import pytest
from sqlalchemy import text

from helpline import create_app
from helpline.db import db
from support import BASE, OPEN_TIME, TOKEN, Clock, sign  # noqa: F401  (re-exported for older imports)

PG_ENV = "HELPLINE_TEST_DATABASE_URL"


def _database_url(kind: str, tmp_path_factory) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'helpline.db'}"
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    return url


def _reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine

    from helpline.config import database_url

    engine = create_engine(database_url(url, "."))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory) -> str:
    url = _database_url(request.param, tmp_path_factory)
    if request.param == "postgresql":
        _reset_postgres(url)
    return url


@pytest.fixture(scope="session")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def _app(database_url: str, clock: Clock, tmp_path_factory):
    from flask_migrate import upgrade

    app = create_app({
        "TESTING": True,
        "DATABASE_URL": database_url,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "PUBLIC_BASE_URL": BASE,
        "SECRET_KEY": "test-secret",
        "INSECURE_SKIP_SIGNATURES": False,
        "CLOCK": clock,
        "WTF_CSRF_ENABLED": False,
    })
    with app.app_context():
        upgrade()
    return app


@pytest.fixture
def app(_app, clock):
    clock.now = OPEN_TIME
    with _app.app_context():
        yield _app
        db.session.rollback()
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
        db.session.commit()
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def twilio(client) -> Callable[..., Any]:
    """POST a correctly signed Twilio webhook."""

    def post(path: str, params: dict[str, Any], headers: dict[str, str] | None = None):
        signature = sign(path, params)
        return client.post(path, data=params, headers={"X-Twilio-Signature": signature, **(headers or {})})

    return post


@pytest.fixture(scope="session")
def flows_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "flows"


@pytest.fixture
def log_lines(app):
    """Everything logged while the test runs, through the same handler the app installs."""
    from helpline.observability.logs import make_handler

    stream = io.StringIO()
    handler = make_handler(stream)
    root, ours = logging.getLogger(), logging.getLogger("helpline")
    levels = root.level, ours.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)  # Alembic's logging set-up (run by the fixture's upgrade) leaves WARN
    ours.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(levels[0])
        ours.setLevel(levels[1])
