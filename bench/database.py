"""Benchmark databases: a fresh schema built by the project's own migrations, SQLite or PostgreSQL."""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Connection

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/helpline_bench"
PG_ENV = "HELPLINE_BENCH_DATABASE_URL"


def postgres_url() -> str:
    return os.environ.get(PG_ENV) or DEFAULT_PG


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'helpline-bench.db'}"


def for_kind(kind: str, workdir: Path) -> str:
    """The database a run uses: a SQLite file in the run's folder, or the benchmark PostgreSQL."""
    return sqlite_url(workdir) if kind == "sqlite" else postgres_url()


def separate(kind: str, workdir: Path, suffix: int | str) -> str:
    """A database of its own beside the benchmark one, told apart by `suffix` (each size of the
    scale suite, each process of the turns suite): a SQLite file, or a PostgreSQL database."""
    if kind == "sqlite":
        return f"sqlite:///{workdir / f'helpline-bench-{suffix}.db'}"
    from sqlalchemy.engine import make_url

    base = make_url(postgres_url())
    return base.set(database=f"{base.database}_{suffix}").render_as_string(hide_password=False)


def drop(url: str) -> None:
    """Remove a database `separate` named (the scale suite's are large)."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)
        return
    with _server(url) as (conn, name):
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def _server(url: str) -> Iterator[tuple[Connection, str]]:
    """An autocommit connection to the PostgreSQL server of `url`, and the database `url` names."""
    from sqlalchemy.engine import make_url

    target = make_url(sqlalchemy_url(url))
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            yield conn, target.database
    finally:
        admin.dispose()


def sqlalchemy_url(url: str) -> str:
    from helpline.config import database_url

    return database_url(url, ".")


def fresh(url: str) -> None:
    """Drop everything and build the schema with `flask db upgrade` (the Procfile's release step)."""
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    else:
        create_database(url)
        engine = create_engine(sqlalchemy_url(url))
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    migrate(url)


def create_database(url: str) -> None:
    """Create the PostgreSQL database named in the URL if the server does not have it yet."""
    with _server(url) as (conn, name):
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}):
            conn.execute(text(f'CREATE DATABASE "{name}"'))


def migrate(url: str) -> None:
    from flask_migrate import upgrade

    from helpline import create_app
    from helpline.db import db

    logging.getLogger("alembic").setLevel(logging.WARNING)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    with app.app_context():
        upgrade()
        db.engine.dispose()


def vacuum(url: str) -> None:
    """Fresh planner statistics after a bulk load, as autovacuum would give them on a live system."""
    engine = create_engine(sqlalchemy_url(url))
    if url.startswith("sqlite"):
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def census(url: str) -> dict[str, Any]:
    """What the database holds: rows per table and conversations by channel, disposition and status."""
    from helpline.models import Callback, Conversation, Interaction

    engine = create_engine(sqlalchemy_url(url))
    out: dict[str, Any] = {}
    with engine.connect() as conn:
        for model in (Conversation, Interaction, Callback):
            out[model.__tablename__] = conn.scalar(select(func.count()).select_from(model))
        rows = conn.execute(
            select(Conversation.channel, Conversation.disposition, Conversation.status, func.count())
            .group_by(Conversation.channel, Conversation.disposition, Conversation.status)
        ).all()
        out["conversations_by"] = [
            {"channel": c, "disposition": d, "status": s, "count": n} for c, d, s, n in rows
        ]
        out["callbacks_by_queue"] = dict(conn.execute(
            select(Callback.queue, func.count()).group_by(Callback.queue)).all())
    engine.dispose()
    return out
