"""The staff callback queue, as the triage feeds it: request or raise one open item per number."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from .db import db
from .models import OPEN_STATUSES, Callback, Conversation
from .notify import callback_requested
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


def request_callback(
    hl: Helpline, conversation: Conversation, queue: str, disposition: str | None,
    reasons: list[str], now: datetime, phone: str | None = None,
) -> Callback:
    """Put a case on the queue, or raise the number's open item when this one is more urgent.

    Adds to the session; the caller commits.
    """
    phone = phone if phone is not None else conversation.caller
    priority = priority_of(queue, disposition)
    due = due_time(hl, queue, disposition, now)
    existing = None
    if phone is not None:
        existing = db.session.scalars(
            select(Callback).where(Callback.phone == phone, Callback.status.in_(OPEN_STATUSES))
            .with_for_update()
        ).first()
    if existing is not None:
        if priority < existing.priority:
            existing.priority, existing.queue, existing.disposition = priority, queue, disposition
            existing.conversation_id = conversation.id
        existing.due_at = min(existing.due_at, due)
        existing.reasons = list(dict.fromkeys([*existing.reasons, *reasons]))
        existing.updated_at = now
        callback_requested(hl, existing, now)  # texts and staff alerts, in this transaction
        return existing
    item = Callback(
        phone=phone, conversation_id=conversation.id, queue=queue, disposition=disposition,
        priority=priority, reasons=list(reasons), channel=conversation.channel, status="open",
        due_at=due, created_at=now, updated_at=now,
    )
    db.session.add(item)
    callback_requested(hl, item, now)
    return item
