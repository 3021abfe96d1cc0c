"""Statements compiled once per dialect by SQLAlchemy and run straight on the DBAPI cursor.

For the few statements of a voice or SMS turn, SQLAlchemy's execution machinery (cache keys,
execution contexts, result objects) cost more than the database work itself (docs/benchmarks.md).
A Prepared statement keeps what matters from SQLAlchemy: the SQL it compiles for the dialect and
its type conversions both ways (JSON, dates, booleans). It runs on the session's connection, in
the session's transaction, and its errors come back as SQLAlchemy's own exceptions, so that an
IntegrityError is an IntegrityError whichever way a statement ran.

A connection-like object may have an `about_to_write()` method: it is called before a statement
that changes rows runs (or locks them: `locks=True`), so that whoever owns the transaction knows
whether it wrote anything, and begins one where the lock must last until its COMMIT.
"""
from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Callable, Sequence

from sqlalchemy import DateTime
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import UpdateBase

Convert = Callable[[Any], Any] | None


_REMEMBERED: dict[tuple[str, str, str], Convert] = {}


def _bind_processor(type_: Any, dialect: Dialect) -> Convert:
    """SQLAlchemy's conversion of a value for the driver; for dates, one that remembers the last.

    A turn writes the same moment several times (the conversation's updated_at, each log row's
    created_at) and SQLite's conversion formats it as text each time. One converter per date
    type is shared by every statement, and keeps the last moment with its text (one tuple,
    replaced whole, so threads cannot see a moment with another's text).
    """
    convert = type_.dialect_impl(dialect).bind_processor(dialect)
    if convert is None or not isinstance(type_, DateTime):
        return convert
    key = (dialect.name, dialect.driver, repr(type_))
    shared = _REMEMBERED.get(key)
    if shared is None:
        last: list[tuple[Any, Any]] = [(_NOTHING, None)]

        def shared(value: Any) -> Any:
            seen, text = last[0]
            if value is not seen:
                text = convert(value)
                last[0] = (value, text)
            return text

        _REMEMBERED[key] = shared
    return shared


_NOTHING = object()


@dataclass
class _Plan:
    sql: str
    positional: bool
    binds: tuple[tuple[str, Convert], ...]  # in the order the SQL takes them
    fixed: dict[str, Any]  # values built into the statement (a literal "active", LIMIT 1)
    columns: tuple[Any, ...]  # what a SELECT or RETURNING gives back
    writes: bool  # an INSERT, UPDATE or DELETE (also one inside a WITH)
    results: tuple[tuple[int, Callable[[Any], Any]], ...] | None = None  # (column, conversion), known
    # from the first result's description; only the columns that have one

    def __post_init__(self) -> None:
        # The values in the SQL's order, fetched by one C call, then only those with a conversion
        # converted: most of a turn's values (ids, names, numbers, text) go to the driver as they are.
        names = tuple(name for name, _ in self.binds)
        self.names = names
        self.take: Callable[[dict[str, Any]], tuple] = (
            itemgetter(*names) if len(names) > 1 else (lambda given: (given[names[0]],)) if names else (lambda given: ()))
        self.converts = tuple((i, convert) for i, (_, convert) in enumerate(self.binds) if convert)


def _writes(compiled: Any) -> bool:
    """Whether a compiled statement changes rows: an INSERT, UPDATE or DELETE, or one in a WITH."""
    return bool(compiled.isinsert or compiled.isupdate or compiled.isdelete
                or any(isinstance(getattr(cte, "element", None), UpdateBase) for cte in compiled.ctes or ()))


class Prepared:
    def __init__(self, statement: Any, column_keys: Sequence[str] | None = None, locks: bool = False):
        """`column_keys`: for an INSERT or UPDATE, the columns every execution sets. `locks`: a
        SELECT ... FOR UPDATE whose lock the rest of the transaction relies on: run as a write
        (on SQLite it takes the write lock, which is what stands in for a row lock there)."""
        self.statement = statement
        self.locks = locks
        self.column_keys = list(column_keys) if column_keys is not None else None
        self._plans: dict[tuple[str, str], _Plan] = {}  # by (dialect, driver): SQL differs between drivers

    def _plan(self, dialect: Dialect) -> _Plan:
        plan = self._plans.get((dialect.name, dialect.driver))
        if plan is None:
            compiled = self.statement.compile(dialect=dialect, column_keys=self.column_keys)
            names = compiled.positiontup if compiled.positional else list(compiled.binds)
            plan = self._plans[(dialect.name, dialect.driver)] = _Plan(
                sql=compiled.string,
                positional=compiled.positional,
                binds=tuple((name, _bind_processor(compiled.binds[name].type, dialect)) for name in names),
                fixed={name: bind.value for name, bind in compiled.binds.items() if bind.value is not None},
                columns=tuple(getattr(self.statement, "exported_columns", ())),
                writes=self.locks or _writes(compiled),
            )
        return plan

    @staticmethod
    def _parameters(plan: _Plan, params: dict[str, Any]) -> tuple | list | dict:
        values = plan.take(plan.fixed | params if plan.fixed else params)
        if plan.converts:
            values = list(values)
            for i, convert in plan.converts:
                values[i] = convert(values[i])
        return values if plan.positional else dict(zip(plan.names, values))

    def run(self, conn: Connection, params: dict[str, Any] | list[dict[str, Any]]):
        """Execute (a list of parameter sets: executemany); returns the DBAPI cursor."""
        plan = self._plan(conn.dialect)
        if plan.writes:
            about_to_write = getattr(conn, "about_to_write", None)
            if about_to_write is not None:
                about_to_write()
        dbapi = conn.dialect.loaded_dbapi
        cursor = conn.connection.cursor()
        try:
            if self.locks and conn.dialect.name == "sqlite" and not conn.connection.dbapi_connection.in_transaction:
                # SQLite has no row locks and its driver begins a transaction only at the first
                # write: the lock a FOR UPDATE stands for is the database's write lock, from here.
                cursor.execute("BEGIN IMMEDIATE")
            if isinstance(params, list):
                cursor.executemany(plan.sql, [self._parameters(plan, p) for p in params])
            else:
                cursor.execute(plan.sql, self._parameters(plan, params))
        except dbapi.Error as error:
            cursor.close()
            # hide_parameters: an error in the logs must not carry a caller's number or words.
            raise DBAPIError.instance(plan.sql, None, error, dbapi.Error, hide_parameters=True,
                                      dialect=conn.dialect) from error
        return cursor

    def execute(self, conn: Connection, params: dict[str, Any] | list[dict[str, Any]]) -> None:
        self.run(conn, params).close()

    def first(self, conn: Connection, params: dict[str, Any]) -> tuple | None:
        """The first row, its values converted as SQLAlchemy would, or None."""
        cursor = self.run(conn, params)
        plan = self._plan(conn.dialect)
        try:
            row = cursor.fetchone()
            if plan.results is None:  # some conversions depend on the type the driver reports
                converts = (column.type.dialect_impl(conn.dialect).result_processor(conn.dialect, described[1])
                            for column, described in zip(plan.columns, cursor.description))
                plan.results = tuple((i, convert) for i, convert in enumerate(converts) if convert)
        finally:
            cursor.close()
        if row is None or not plan.results:
            return row
        values = list(row)
        for i, convert in plan.results:
            values[i] = convert(values[i])
        return tuple(values)
