"""The SQLAlchemy handle, created unbound and initialised in the app factory."""
from __future__ import annotations

import time
from datetime import datetime, timezone

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Engine, MetaData, event, exc
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.functions import FunctionElement

# Named constraints so that Alembic can alter them on every database.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)


def utcnow() -> datetime:
    """Naive UTC: every timestamp in the database is UTC without a zone, on SQLite and PostgreSQL alike."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


# A pooled connection used this recently is taken as alive without a ping. A ping on every
# checkout is a round trip on every request; under load a connection is used many times a second,
# and a connection that died since its last use (the server restarted) fails its turn, which is
# tried once more on a fresh connection (conversations._commit_once).
PING_AFTER_IDLE_SECONDS = 10.0


def ping_when_idle(engine: Engine, idle_seconds: float = PING_AFTER_IDLE_SECONDS) -> None:
    """Ping a pooled connection at checkout only when it sat unused longer than `idle_seconds`.

    A failed ping raises DisconnectionError, on which the pool drops that connection and tries
    another (SQLAlchemy's "pessimistic disconnect handling" with a custom test).
    """
    dialect = engine.dialect

    @event.listens_for(engine, "connect")
    def _connected(dbapi_connection, record) -> None:
        record.info["last_used"] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection, record) -> None:
        record.info["last_used"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _taken(dbapi_connection, record, proxy) -> None:
        if time.monotonic() - record.info.get("last_used", 0.0) <= idle_seconds:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise exc.DisconnectionError() from error
            raise


class rare(FunctionElement):
    """A condition few rows meet, such as a callback still waiting among all those ever closed.

    SQLite's planner knows only how many distinct values an indexed column holds (ANALYZE keeps no
    histogram in the builds Python ships with), so after an ANALYZE it takes `status IN ('open',
    'claimed')` for two thirds of the callbacks and reads the whole table instead of the index:
    the staff queue page read every callback ever made. On SQLite the condition is wrapped in
    `unlikely()`, which tells the planner it is seldom true; other databases keep statistics of
    the values themselves and get the condition as it is.
    """

    # No Boolean type: on SQLite, which has no boolean type of its own, SQLAlchemy would write a
    # boolean expression in a WHERE as `... = 1`, which the planner cannot see through.
    name = "rare"
    inherit_cache = True


@compiles(rare)
def _rare(element: rare, compiler, **kw) -> str:
    return "(%s)" % compiler.process(element.clauses, **kw)


@compiles(rare, "sqlite")
def _rare_on_sqlite(element: rare, compiler, **kw) -> str:
    return "unlikely(%s)" % compiler.process(element.clauses, **kw)
