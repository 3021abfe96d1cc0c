"""The staff callback queue, as the triage feeds it: request or raise one open item per number."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, literal_column, select

from . import turn_store
from .models import OPEN_STATUSES, Callback
from .notify import callback_requested
from .prepared import Prepared
from .service import Helpline

# Lower is more urgent. Welfare checks first; general enquiries last.
PRIORITY = {"D1": 1, "D2": 2, "D3": 3, "D4": 4, "D5": 5, None: 6}


def priority_of(queue: str, disposition: str | None) -> int:
    """A crisis welfare check (no disposition: self-harm) is as urgent as a 999 case."""
    if queue == "welfare" and disposition is None:
        return 1
    return PRIORITY[disposition] if queue != "general" else PRIORITY[None]


def due_time(hl: Helpline, queue: str, disposition: str | None, now: datetime) -> datetime:
    """When a callback falls due: welfare checks at once, urgent ones in opening hours, routine in working days."""
    if queue == "welfare":
        return now + hl.welfare_check
    if disposition in ("D3", "D4"):
        return hl.hours.add_open_time(now, hl.urgent_callback)
    return hl.hours.add_working_days(now, hl.routine_days)


@dataclass
class QueuedCallback:
    """The open item a case went to, as the texts and alerts about it need it."""

    id: int | None  # None until inserted
    phone: str | None
    conversation_id: int | None
    queue: str
    disposition: str | None
    priority: int
    reasons: list[str]
    channel: str
    due_at: datetime


CALLBACK = Callback.__table__
_ITEM = ("id", "phone", "conversation_id", "queue", "disposition", "priority", "reasons", "channel", "due_at")
# The statuses are written into the statement, as the one-open-item index's condition is.
_OPEN = CALLBACK.c.status.in_([literal_column(f"'{status}'") for status in OPEN_STATUSES])
# Locked until the turn commits: two cases for one number at once raise the item one after the other.
_OPEN_ITEM = Prepared(select(*(CALLBACK.c[name] for name in _ITEM))
                      .where(CALLBACK.c.phone == bindparam("phone"), _OPEN).with_for_update(), locks=True)
_NEW = ("phone", "conversation_id", "queue", "disposition", "priority", "reasons", "channel", "status",
        "due_at", "attempts", "created_at", "updated_at")
_INSERT = Prepared(CALLBACK.insert().returning(CALLBACK.c.id), _NEW)
_RAISED = ("conversation_id", "queue", "disposition", "priority", "reasons", "due_at", "updated_at")
_RAISE = Prepared(CALLBACK.update().where(CALLBACK.c.id == bindparam("item_id"))
                  .values({name: bindparam(name, type_=CALLBACK.c[name].type) for name in _RAISED}))


def _values(item: QueuedCallback, columns: tuple[str, ...]) -> dict[str, Any]:
    """The item's values for those of `columns` it holds (the rest the caller gives)."""
    return {name: getattr(item, name) for name in columns if name in _ITEM}


def request_callback(
    hl: Helpline, conversation: Any, queue: str, disposition: str | None,
    reasons: list[str], now: datetime, phone: str | None = None,
) -> QueuedCallback:
    """Put a case on the queue, or raise the number's open item when this one is more urgent,
    and queue the texts and staff alerts about it.

    Plain statements on the turn's connection (turn_store.connection()), in its transaction; the
    caller commits. `conversation` is a turn's record or the ORM's row (an idle sweep's), stored.
    Two cases for one number at once: the second waits for the first's lock (the item's row on
    PostgreSQL, the write lock on SQLite), or, on PostgreSQL where both found none, its INSERT
    breaks the one-open-item index and its turn is done again (conversations._commit_once),
    joining the first's item.
    """
    conn = turn_store.connection()
    phone = phone if phone is not None else conversation.caller
    priority = priority_of(queue, disposition)
    due = due_time(hl, queue, disposition, now)
    row = _OPEN_ITEM.first(conn, {"phone": phone}) if phone is not None else None
    if row is not None:
        item = QueuedCallback(*row)
        if priority < item.priority:
            item.priority, item.queue, item.disposition = priority, queue, disposition
            item.conversation_id = conversation.id
        item.due_at = min(item.due_at, due)
        item.reasons = list(dict.fromkeys([*item.reasons, *reasons]))
        _RAISE.execute(conn, {**_values(item, _RAISED), "updated_at": now, "item_id": item.id})
    else:
        item = QueuedCallback(None, phone, conversation.id, queue, disposition, priority, list(reasons),
                              conversation.channel, due)
        item.id = _INSERT.first(conn, {**_values(item, _NEW), "status": "open", "attempts": 0,
                                       "created_at": now, "updated_at": now})[0]
    callback_requested(hl, item, now)  # texts and staff alerts, in this transaction
    return item
