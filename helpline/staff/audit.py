"""The audit trail: who viewed or changed which case, and when. Rows join the caller's transaction."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..db import db
from ..models import Callback
from .models import AuditEvent, Staff

ACTIONS = {
    "view_case": "viewed the case",
    "claim": "claimed",
    "release": "released",
    "reassign": "reassigned",
    "move": "moved to another queue",
    "call_placed": "placed a call",
    "call_failed": "call could not be placed",
    "attempt": "recorded an attempt",
    "unreachable": "marked unreachable",
    "outcome": "recorded an outcome",
    "note": "added a note",
    "login": "signed in",
    "login_failed": "failed to sign in",
    "login_refused": "sign-in refused",
    "logout": "signed out",
    "read_audit": "read the audit trail",
    "staff_created": "account created",
    "staff_unlocked": "account unlocked",
}


def record(action: str, staff: Staff | None, now: datetime, callback: Callback | None = None,
           detail: dict[str, Any] | None = None, phone: str | None = None) -> AuditEvent:
    """Add one audit row to the session; the use case that calls this commits it with its own change."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    event = AuditEvent(
        at=now, staff_id=staff.id if staff is not None else None, action=action,
        callback_id=callback.id if callback is not None else None,
        phone=callback.phone if callback is not None else phone, detail=dict(detail or {}),
    )
    db.session.add(event)
    return event


@dataclass(frozen=True)
class AuditFilter:
    staff_id: int | None = None
    phone: str | None = None  # E.164
    limit: int = 200


def search(flt: AuditFilter) -> Sequence[AuditEvent]:
    """The newest events first, for one member of staff and/or one patient's number."""
    query = select(AuditEvent).options(selectinload(AuditEvent.staff)).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if flt.staff_id is not None:
        query = query.where(AuditEvent.staff_id == flt.staff_id)
    if flt.phone:
        query = query.where(AuditEvent.phone == flt.phone)
    return db.session.scalars(query.limit(flt.limit)).all()


def read_trail(reader: Staff, flt: AuditFilter, now: datetime) -> Sequence[AuditEvent]:
    """An admin reads the trail; the reading itself goes on the trail. Commits once."""
    events = search(flt)
    # Looking a patient up is itself a look at their records: it shows under their number.
    record("read_audit", reader, now, detail={"staff_id": flt.staff_id}, phone=flt.phone)
    db.session.commit()
    return events


def all_staff() -> Sequence[Staff]:
    """Every account, by name: the choices when filtering the trail or reassigning."""
    return db.session.scalars(select(Staff).order_by(Staff.name, Staff.id)).all()
