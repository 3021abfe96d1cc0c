"""The rows a voice or SMS turn reads and writes, in a handful of statements built once.

A turn is the help line's hot path: a caller waits in silence while it runs. Loading the
conversation as an ORM object and letting the unit of work write it back cost about half of
a turn (docs/benchmarks.md), so a turn reads one row into a plain record, changes it, and
writes it back with one UPDATE (or INSERT), its two log rows with one more, then commits.
The statements are SQLAlchemy Core, compiled once per dialect and run by helpline.prepared.

A turn runs on a connection of its own from the pool, without the ORM session
(own_transaction): the session's bookkeeping cost more than SQLite's commit. An escalation's
callback and texts are plain statements too (callbacks.request_callback) and go in on the same
connection, as does the advice texted after a call. A turn that reaches for the ORM (STOP or
START) is stopped the moment it does (NeedsSession), rolled back, and done again on the session's
connection, where it commits once (conversations._commit_once) together with what the ORM adds.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from operator import attrgetter
from datetime import datetime
from typing import Any, Iterator

from sqlalchemy import Text, bindparam, cast, event, literal_column, select, true, union_all
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from .db import db
from .models import Conversation, Interaction, OptOut
from .prepared import Prepared
from .writer_queue import WriterQueue, for_database

CONVERSATION = Conversation.__table__
INTERACTION = Interaction.__table__
OPT_OUT = OptOut.__table__


@dataclass
class ConversationRecord:
    """One conversation row, as a turn sees it; the same attributes as the ORM model."""

    id: int | None
    channel: str
    caller: str | None
    caller_raw: str | None
    call_sid: str | None
    flow_id: str
    flow_version: str
    state: dict[str, Any]
    answers: dict[str, Any]
    rules_fired: list[str]
    disposition: str | None
    queue: str | None
    status: str
    escalated: bool
    started_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    # The plain columns as last read or written: an UPDATE sets only those that changed since.
    stored: tuple | None = field(default=None, repr=False, compare=False)
    # The row's version as read without a lock (PostgreSQL's xmin, which every UPDATE changes):
    # the UPDATE that writes the record back applies only if the row is still that version.
    version: str | None = field(default=None, repr=False, compare=False)

    @classmethod
    def new(cls, *, channel: str, caller: str | None, caller_raw: str | None, call_sid: str | None,
            flow_id: str, flow_version: str, now: datetime) -> "ConversationRecord":
        return cls(id=None, channel=channel, caller=caller, caller_raw=caller_raw, call_sid=call_sid,
                   flow_id=flow_id, flow_version=flow_version, state={}, answers={}, rules_fired=[],
                   disposition=None, queue=None, status="active", escalated=False, started_at=now,
                   updated_at=now, ended_at=None)


COLUMNS = tuple(column.name for column in CONVERSATION.columns)
# Written by every turn. The other columns are plain values (numbers, text, dates), compared with
# what was read: an UPDATE that leaves the caller and status alone leaves their indexes alone too
# (SQLite rewrites the index entries of every column an UPDATE names, changed or not).
_EVERY_TURN = ("state", "answers", "rules_fired", "updated_at")
_PLAIN = tuple(name for name in COLUMNS if name != "id" and name not in _EVERY_TURN)


_plain = attrgetter(*_PLAIN)  # the record's plain columns, as a tuple (there are more than one)


def _record_from(row: tuple) -> ConversationRecord:
    record = ConversationRecord(*row[:len(COLUMNS)])
    record.stored = _plain(record)
    return record


_REPLAY = (select(INTERACTION.c.reply).where(INTERACTION.c.dedupe_key == bindparam("key"))
           .scalar_subquery())
# A call's conversation and, in the same statement, the answer already given to this very request.
_CALL = Prepared(select(CONVERSATION, _REPLAY.label("replay")).where(CONVERSATION.c.call_sid == bindparam("call_sid")))
_OPTED_OUT = select(OPT_OUT.c.opted_out).where(OPT_OUT.c.phone == bindparam("phone"))
# Before a text: the answer already given to this message, whether the number opted out, and
# the texter's conversation (if any), in one statement: one round trip on a database server.
_KEYS = select(_REPLAY.label("replay"), _OPTED_OUT.scalar_subquery().label("opted_out")).subquery("keys")
# PostgreSQL's row version (xmin, which every UPDATE changes), as text.
_XMIN = cast(literal_column("conversation.xmin"), Text)


def _text_statement(versioned: bool) -> Prepared:
    """The texter's newest active conversation with the keys above. In a transaction it is
    locked (PostgreSQL), so two quick texts take turns; read outside one
    (own_transaction(read_first=True)) it carries its row version instead, which the write checks."""
    texter = (select(CONVERSATION, *([_XMIN.label("version")] if versioned else []))
              .where(CONVERSATION.c.caller == bindparam("caller"), CONVERSATION.c.channel == bindparam("channel"),
                     CONVERSATION.c.status == "active")
              .order_by(CONVERSATION.c.id.desc()).limit(1))
    texter = (texter if versioned else texter.with_for_update()).subquery("texter")
    return Prepared(select(*texter.c, _KEYS.c.replay, _KEYS.c.opted_out).select_from(_KEYS.outerjoin(texter, true())))


_TEXT = _text_statement(versioned=False)
_TEXT_VERSIONED = _text_statement(versioned=True)
_ONLY_REPLAY = Prepared(select(_REPLAY.label("replay")))
_WRITTEN = [name for name in COLUMNS if name != "id"]
_INSERT = Prepared(CONVERSATION.insert().returning(CONVERSATION.c.id), _WRITTEN)


def _update_clause(changed: tuple[str, ...]):
    """UPDATE conversation SET (the columns every turn writes, and those that changed) WHERE id."""
    return (CONVERSATION.update().where(CONVERSATION.c.id == bindparam("record_id"))
            .values({name: bindparam(name, type_=CONVERSATION.c[name].type) for name in (*_EVERY_TURN, *changed)}))


@cache  # by the plain columns that changed: a handful of shapes
def _update(changed: tuple[str, ...]) -> Prepared:
    return Prepared(_update_clause(changed))


def _checked_update_clause(changed: tuple[str, ...]):
    """The UPDATE, applied only to the version of the row that was read; RETURNING its id."""
    return (_update_clause(changed).where(_XMIN == bindparam("version", type_=Text))
            .returning(CONVERSATION.c.id))


@cache
def _checked_update(changed: tuple[str, ...]) -> Prepared:
    return Prepared(_checked_update_clause(changed))


# Every log row names every column, so one compiled statement serves every kind of row; a turn's
# rows go in one INSERT with a VALUES list per row, compiled once for each number of rows (a
# turn logs one, two or three). One statement, not an executemany: psycopg runs an executemany
# in pipeline mode, whose set-up cost more than the INSERT (docs/benchmarks.md).
_LOG_COLUMNS = [column for column in INTERACTION.columns if column.name != "id"]
_NO_INPUT = {column.name: None for column in _LOG_COLUMNS}


@cache
def _log_statement(rows: int) -> Prepared:
    return Prepared(INTERACTION.insert().values([
        {column.name: bindparam(f"{column.name}_{i}", type_=column.type) for column in _LOG_COLUMNS}
        for i in range(rows)]))


class NeedsSession(Exception):
    """A turn on its own connection reached for the ORM: it is rolled back and done in the session."""


class Raced(NeedsSession):
    """The conversation changed between a turn's unlocked read and its write: the write did
    nothing, and the turn is done again in the session, whose read locks the row."""


class WroteAfterItsLastWrite(RuntimeError):
    """A turn whose one write was committed on its own tried to write again: a bug in the turn."""


@dataclass
class _Own:
    """What Prepared needs of a connection: its dialect and the DBAPI connection (a pool checkout);
    whether the turn has written anything on it yet; and, for a turn that reads outside a
    transaction (own_transaction(read_first=True)), whether it still does."""

    dialect: Dialect
    connection: Any
    wrote: bool = False
    autocommit: bool = False  # each statement commits itself
    whole_write: bool = False  # the next write is all the turn writes (turn_store.log)
    sealed: bool = False  # that write ran and committed itself: nothing may follow it
    queue: WriterQueue | None = None  # SQLite: the machine's turns take turns to write (writer_queue)
    queued: bool = False  # this turn holds its place in that queue

    def about_to_write(self) -> None:
        if self.queue is not None and not self.wrote:
            # At the first write only, so the queue always comes before SQLite's write lock: a
            # turn that went on without it holds that lock from its first write, and must not
            # then wait for a place behind a turn that is waiting for the lock.
            self.queued = self.queue.join()
        if self.sealed:
            raise WroteAfterItsLastWrite("a turn wrote again after the write that committed it")
        self.wrote = True
        whole, self.whole_write = self.whole_write, False
        if not self.autocommit:
            return
        if whole:
            self.sealed = True  # one statement: atomic on its own, committed as it runs
        else:  # more than one write to come: they need a transaction, which begins here
            self.connection.dbapi_connection.autocommit = False
            self.autocommit = False


_own: ContextVar[_Own | None] = ContextVar("helpline_turn_connection", default=None)


def connection() -> Connection | _Own:
    """The connection this turn's statements run on: its own, or else the session's."""
    own = _own.get()
    return own if own is not None else db.session.connection()


def need_session() -> None:
    """Called before any ORM work in a turn: stops a turn running on its own connection."""
    if _own.get() is not None:
        raise NeedsSession()


@event.listens_for(Session, "after_begin")
def _session_begun(session, transaction, conn) -> None:
    # The backstop for ORM work that did not call need_session(): stopped before any statement
    # reaches the session's connection (on SQLite it would wait on this turn's write lock).
    need_session()


@contextmanager
def own_transaction(read_first: bool = False) -> Iterator[None]:
    """Run the block on a pool connection of its own and commit it; roll back on any exception.

    `read_first`: the block begins with a read that needs no transaction, and then most often
    writes with one statement (turn_store.log). On PostgreSQL that read runs outside a
    transaction and that write commits itself: two round trips instead of BEGIN, read, write,
    COMMIT. A block that writes more than once has its writes in a transaction, begun at the
    first of them. (SQLite's driver already reads outside a transaction and begins one at the
    first write.)

    A call's turn needs no lock from its read: Twilio sends the requests of one call one after
    another, a retry meets the request's unique key, and read committed gives each statement a
    fresh view whether or not a transaction is open. A text's does (two quick texts from one
    number): read this way, its conversation carries its row version, every UPDATE of it applies
    only to that version, and one that finds the row changed writes nothing and raises Raced, so
    that the turn is done again in the session, whose read locks the row.
    """
    engine = db.engine
    pooled = engine.raw_connection()
    own = _Own(engine.dialect, pooled)
    if engine.dialect.name == "sqlite":
        own.queue = for_database(engine.url.database)
    if read_first and engine.dialect.name == "postgresql":
        pooled.dbapi_connection.autocommit = own.autocommit = True
    token = _own.set(own)
    try:
        yield
        # ORM work the listener could not see yet (objects added, no SQL). A turn that never
        # touched the session has none to look at: making one only to ask would cost more.
        if db.session.registry.has():
            session = db.session()
            if session.new or session.dirty or session.deleted or session.in_transaction():
                raise NeedsSession()
        try:
            pooled.commit()
        except engine.dialect.loaded_dbapi.Error as error:
            raise DBAPIError.instance("COMMIT", None, error, engine.dialect.loaded_dbapi.Error,
                                      hide_parameters=True, dialect=engine.dialect) from error
    except BaseException as error:
        if _connection_lost(engine, pooled, error):
            # As SQLAlchemy does for its own connections: this one is gone, and the others in the
            # pool were most likely dropped with it (a server restart), so the pool starts afresh.
            # The flag tells the caller that the turn may be tried again (_commit_once).
            pooled.invalidate()
            engine.dispose(close=False)
            error.connection_invalidated = True
            raise
        try:
            if isinstance(error, NeedsSession) and not own.wrote:
                # Nothing written: COMMIT ends the transaction as ROLLBACK would (a text's row lock
                # too), and psycopg forgets every statement it prepared on a connection at a ROLLBACK.
                pooled.commit()
            else:
                pooled.rollback()
        except Exception:  # the connection itself failed: the pool must not hand it out again
            pooled.invalidate()
        raise
    finally:
        if own.queued:  # after the COMMIT (or ROLLBACK): the next turn may write
            own.queue.leave()
        _own.reset(token)
        if own.autocommit and pooled.dbapi_connection is not None:
            try:  # the pool's connections begin transactions, as SQLAlchemy expects of them
                pooled.dbapi_connection.autocommit = False
            except Exception:
                pooled.invalidate()
        pooled.close()  # back to the pool


def _connection_lost(engine, pooled, error: BaseException) -> bool:
    """Whether the error says the server's connection is gone (not a failed statement)."""
    original = getattr(error, "orig", None)
    if not isinstance(error, DBAPIError) or original is None:
        return False
    return engine.dialect.is_disconnect(original, pooled.dbapi_connection, None)


def replay(key: str | None) -> dict[str, Any] | None:
    """The answer stored for a request already handled, or None."""
    if key is None:
        return None
    row = _ONLY_REPLAY.first(connection(), {"key": key})
    return row[0] if row else None


def load_call(call_sid: str, key: str) -> tuple[dict[str, Any] | None, ConversationRecord | None]:
    """(the stored answer to this request if any, the call's conversation if any): one statement.

    No conversation means no turn of this call was committed, so nothing to replay either.
    """
    row = _CALL.first(connection(), {"call_sid": call_sid, "key": key})
    if row is None:
        return None, None
    return row[-1], _record_from(row)


def load_text(key: str | None, phone: str | None, channel: str) -> tuple[dict[str, Any] | None, bool, ConversationRecord | None]:
    """(the stored answer to this message if any, whether the number opted out, the number's
    active conversation on this channel if any): one statement.

    On PostgreSQL, in a transaction, the conversation stays locked until the turn commits, so two
    quick texts from one number take turns; read outside one (own_transaction(read_first=True)),
    it carries its row version instead, which the turn's write checks.
    """
    conn = connection()
    versioned = isinstance(conn, _Own) and conn.autocommit  # read outside a transaction
    row = (_TEXT_VERSIONED if versioned else _TEXT).first(
        conn, {"key": key, "phone": phone, "caller": phone, "channel": channel})
    record = _record_from(row) if row[0] is not None else None
    if record is not None and versioned:
        record.version = row[len(COLUMNS)]
    return row[-2], bool(row[-1]), record


def _changed(record: ConversationRecord, plain: tuple) -> tuple[str, ...]:
    if record.stored is None:
        return _PLAIN
    return tuple(name for name, now, before in zip(_PLAIN, plain, record.stored) if now != before)


def _update_values(record: ConversationRecord, changed: tuple[str, ...]) -> dict[str, Any]:
    values = {name: getattr(record, name) for name in (*_EVERY_TURN, *changed)}  # shallow: no deep copy of the JSON
    values["record_id"] = record.id
    return values


def save(record: ConversationRecord) -> None:
    """Write the record: INSERT a new one (its id is set), UPDATE an existing one."""
    conn = connection()
    plain = _plain(record)
    if record.id is None:
        values = {name: getattr(record, name) for name in _WRITTEN}
        record.id = _INSERT.first(conn, values)[0]
    else:
        changed = _changed(record, plain)
        values = _update_values(record, changed)
        if record.version is None:
            _update(changed).execute(conn, values)
        elif _checked_update(changed).first(conn, {**values, "version": record.version}) is None:
            raise Raced()
        record.version = None  # the UPDATE holds the row until the turn commits
    record.stored = plain


def _log_values(rows: list[dict[str, Any]], values: dict[str, Any]) -> dict[str, Any]:
    for i, row in enumerate(rows):
        get = row.get
        for name, key in _row_keys(i):
            values[key] = get(name)
    return values


@cache
def _row_keys(i: int) -> tuple[tuple[str, str], ...]:
    """(column, the statement's name for it in row i): built once, not for every turn."""
    return tuple((name, f"{name}_{i}") for name in _NO_INPUT)


# On PostgreSQL a turn's UPDATE rides in the log rows' INSERT as a data-modifying WITH: one
# statement, one round trip fewer. SQLite has no such WITH; there the two run one after the other.
@cache
def _update_and_log(changed: tuple[str, ...], rows: int) -> Prepared:
    update = _update_clause(changed).cte("turn_update")
    return Prepared(_log_statement(rows).statement.add_cte(update))


@cache
def _checked_update_and_log(changed: tuple[str, ...], rows: int) -> Prepared:
    """The UPDATE applied only to the version read, and the log rows inserted only if it was: one
    row of each comes from the UPDATE's RETURNING, so a stale version inserts nothing either."""
    update = _checked_update_clause(changed).cte("turn_update")
    each = [select(*[cast(bindparam(f"{column.name}_{i}", type_=column.type), column.type) for column in _LOG_COLUMNS])
            .select_from(update) for i in range(rows)]
    return Prepared(INTERACTION.insert()
                    .from_select([column.name for column in _LOG_COLUMNS], each[0] if rows == 1 else union_all(*each))
                    .returning(INTERACTION.c.id))


def log(rows: list[dict[str, Any]], update: ConversationRecord | None = None) -> None:
    """Insert log rows (interaction); each names only the columns it sets.

    `update`: a conversation already in the database whose changes this turn writes too, in the
    same statement where the database allows it.
    """
    if not rows:  # nothing to log (an INSERT needs at least one VALUES list)
        if update is not None:
            save(update)
        return
    conn = connection()
    if isinstance(conn, _Own):
        conn.whole_write = conn.dialect.name == "postgresql"  # one statement, the turn's last write: it may commit itself
    if update is not None and conn.dialect.name == "postgresql":
        plain = _plain(update)
        changed = _changed(update, plain)
        values = _log_values(rows, _update_values(update, changed))
        if update.version is not None:
            if _checked_update_and_log(changed, len(rows)).first(conn, {**values, "version": update.version}) is None:
                raise Raced()
            update.version = None
        else:
            _update_and_log(changed, len(rows)).execute(conn, values)
        update.stored = plain
        return
    if update is not None:
        save(update)
    _log_statement(len(rows)).execute(conn, _log_values(rows, {}))
