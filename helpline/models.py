"""The help line's records: conversations, interactions, callbacks and opt-outs."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import db, utcnow

# Statuses of a callback item that still needs work; one such item per phone number.
OPEN_STATUSES = ("open", "claimed")

BigId = BigInteger().with_variant(Integer(), "sqlite")


class Conversation(db.Model):
    """One call or one SMS conversation, walked through one version of one flow."""

    __tablename__ = "conversation"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # voice | sms | whatsapp
    caller: Mapped[Optional[str]] = mapped_column(String(32))  # E.164, None when withheld
    caller_raw: Mapped[Optional[str]] = mapped_column(String(64))
    call_sid: Mapped[Optional[str]] = mapped_column(String(64), unique=True)
    flow_id: Mapped[str] = mapped_column(String(64))
    flow_version: Mapped[str] = mapped_column(String(32))
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rules_fired: Mapped[list[str]] = mapped_column(JSON, default=list)
    disposition: Mapped[Optional[str]] = mapped_column(String(2))
    queue: Mapped[Optional[str]] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | completed | abandoned
    escalated: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[Optional[datetime]]

    __table_args__ = (
        # A texter's newest active conversation in one backward step, no sort (migration 0007);
        # serves lookups by caller alone too.
        Index("ix_conversation_caller_channel_status_id", "caller", "channel", "status", "id"),
        # Not (status, updated_at): every turn would move that entry (migration 0006).
        Index("ix_conversation_status", "status"),
    )


class Interaction(db.Model):
    """One request in or one prompt or message out: the help line's log of everything said."""

    __tablename__ = "interaction"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[Optional[int]] = mapped_column(ForeignKey("conversation.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    kind: Mapped[str] = mapped_column(String(16))  # turn | status | keyword | error
    node: Mapped[Optional[str]] = mapped_column(String(64))
    digits: Mapped[Optional[str]] = mapped_column(String(64))
    speech: Mapped[Optional[str]] = mapped_column(Text)
    confidence: Mapped[Optional[float]] = mapped_column(Float)
    body: Mapped[Optional[str]] = mapped_column(Text)
    said: Mapped[Optional[str]] = mapped_column(Text)
    external_id: Mapped[Optional[str]] = mapped_column(String(64))  # CallSid / MessageSid
    # The request's key (a retry finds the answer by it); only requests carry one, so the unique
    # index leaves out the rows without (half the log: what we said), which a turn then need not
    # write into it.
    dedupe_key: Mapped[Optional[str]] = mapped_column(String(160))
    reply: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)  # what we answered, for retries
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    __table_args__ = (
        Index("ix_interaction_dedupe_key", "dedupe_key", unique=True,
              sqlite_where=text("dedupe_key IS NOT NULL"), postgresql_where=text("dedupe_key IS NOT NULL")),
    )

    conversation: Mapped[Optional[Conversation]] = relationship()


class Callback(db.Model):
    """An item on the staff callback queue."""

    __tablename__ = "callback"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    phone: Mapped[Optional[str]] = mapped_column(String(32))  # E.164, None when the caller withheld it
    conversation_id: Mapped[Optional[int]] = mapped_column(ForeignKey("conversation.id"), index=True)
    queue: Mapped[str] = mapped_column(String(16))  # welfare | clinical | general
    disposition: Mapped[Optional[str]] = mapped_column(String(2))
    priority: Mapped[int] = mapped_column(Integer)  # 1 most urgent
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")
    due_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Worked by staff (helpline/staff): who holds it, tries so far, and how it ended.
    # Status also takes "done" (an outcome closed it) and "unreachable" (every try failed: a supervisor's).
    claimed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff.id"), index=True)
    claimed_at: Mapped[Optional[datetime]]
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[Optional[datetime]]
    first_attempt_at: Mapped[Optional[datetime]]
    unreachable_at: Mapped[Optional[datetime]]
    outcome: Mapped[Optional[str]] = mapped_column(String(32))
    closed_at: Mapped[Optional[datetime]]
    closed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff.id"))

    conversation: Mapped[Optional[Conversation]] = relationship()
    claimed_by: Mapped[Optional["Staff"]] = relationship(foreign_keys=[claimed_by_id])  # noqa: F821
    closed_by: Mapped[Optional["Staff"]] = relationship(foreign_keys=[closed_by_id])  # noqa: F821

    __table_args__ = (
        # One open item per number (a new case raises the open one): enforced by the database.
        Index(
            "uq_callback_open_phone", "phone", unique=True,
            sqlite_where=text("status IN ('open', 'claimed')"),
            postgresql_where=text("status IN ('open', 'claimed')"),
        ),
        Index("ix_callback_status_priority_due_at", "status", "priority", "due_at"),
        # Escalation and the case timeline look callbacks up by number (migration 0005).
        Index("ix_callback_phone", "phone"),
    )


class OptOut(db.Model):
    """A number that texted STOP: nothing more is sent to it until it texts START."""

    __tablename__ = "opt_out"

    phone: Mapped[str] = mapped_column(String(32), primary_key=True)
    opted_out: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
