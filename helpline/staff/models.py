"""Staff accounts and the record of work on the callback queue: attempts, outcomes, notes, audit."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from flask_login import UserMixin
from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import db, utcnow
from ..models import BigId, Callback


class Staff(UserMixin, db.Model):
    """A member of staff who signs in to the dashboard."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # lower case; the sign-in name
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16))  # call_handler | clinician | supervisor | admin
    phone: Mapped[Optional[str]] = mapped_column(String(32))  # E.164: the dialler rings this first
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[Optional[datetime]]
    locked: Mapped[bool] = mapped_column(default=False)  # after too many failures, until an admin unlocks
    # Part of the session id: bumping it (new password, unlock) signs out every session.
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    last_login_at: Mapped[Optional[datetime]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:
        return self.active

    def __repr__(self) -> str:
        return f"<Staff {self.id} {self.role}>"


class CallbackAttempt(db.Model):
    """One try at reaching the person: through the dialler (Twilio) or dialled some other way."""

    __tablename__ = "callback_attempt"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    callback_id: Mapped[int] = mapped_column(ForeignKey("callback.id"), index=True)
    staff_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff.id"))
    method: Mapped[str] = mapped_column(String(16))  # dialler | manual
    call_sid: Mapped[Optional[str]] = mapped_column(String(64), unique=True)
    staff_leg: Mapped[Optional[str]] = mapped_column(String(16))  # the staff phone's CallStatus
    # answered | no_answer | busy | failed (count as attempts); staff_unanswered | cancelled (do not); None while ringing
    result: Mapped[Optional[str]] = mapped_column(String(20))
    duration_seconds: Mapped[Optional[int]] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[Optional[datetime]]

    callback: Mapped[Callback] = relationship()
    staff: Mapped[Optional[Staff]] = relationship()


class CallbackOutcome(db.Model):
    """What came of a callback, from the fixed list; some close the item, some send it round again."""

    __tablename__ = "callback_outcome"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    callback_id: Mapped[int] = mapped_column(ForeignKey("callback.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    outcome: Mapped[str] = mapped_column(String(32))
    note: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    callback: Mapped[Callback] = relationship()
    staff: Mapped[Staff] = relationship()


class CaseNote(db.Model):
    """A free-text note on a case, kept with the person's timeline."""

    __tablename__ = "case_note"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    callback_id: Mapped[int] = mapped_column(ForeignKey("callback.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    callback: Mapped[Callback] = relationship()
    staff: Mapped[Staff] = relationship()


class AuditEvent(db.Model):
    """Who did what to which case, and when: views, claims, releases, calls, outcomes, notes, sign-ins.

    No foreign key to the callback: the trail must outlive the records it describes.
    """

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    staff_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff.id"))
    action: Mapped[str] = mapped_column(String(32))
    callback_id: Mapped[Optional[int]] = mapped_column(BigId)
    phone: Mapped[Optional[str]] = mapped_column(String(32))  # the patient's, E.164
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    staff: Mapped[Optional[Staff]] = relationship()

    __table_args__ = (
        Index("ix_audit_event_staff_id_at", "staff_id", "at"),
        Index("ix_audit_event_phone_at", "phone", "at"),
    )
