"""The outbox: every text the help line sends on its own, as a row written with the event that caused it."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")

# A row's life: pending -> sending -> accepted -> sent -> delivered | undelivered | failed.
# "unknown" is a send whose outcome we could not see (a crash or a read time-out after the
# request left): it is checked against Twilio before it can be sent again.
PENDING, SENDING, UNKNOWN = "pending", "sending", "unknown"
ACCEPTED, SENT, DELIVERED, UNDELIVERED, FAILED = "accepted", "sent", "delivered", "undelivered", "failed"
CANCELLED, EXPIRED = "cancelled", "expired"

STATUSES = (PENDING, SENDING, UNKNOWN, ACCEPTED, SENT, DELIVERED, UNDELIVERED, FAILED, CANCELLED, EXPIRED)
# Twilio has the message (or refused it for good): no worker may send the row again.
HANDED_OVER = (ACCEPTED, SENT, DELIVERED, UNDELIVERED, FAILED)
FINAL = (DELIVERED, UNDELIVERED, FAILED, CANCELLED, EXPIRED)


class Outbox(db.Model):
    """One text to one number: a reply to nobody's webhook, sent later by the worker."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # what the text is for (see helpline.notify.messages)
    channel: Mapped[str] = mapped_column(String(16), default="sms")  # sms | whatsapp
    to_number: Mapped[str] = mapped_column(String(32))  # E.164
    body: Mapped[str] = mapped_column(Text)
    encoding: Mapped[str] = mapped_column(String(8))  # GSM-7 | UCS-2, checked when queued
    segments: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    # One text per event: e.g. "sla:<callback id>" makes the breach alert go once per item.
    dedupe_key: Mapped[Optional[str]] = mapped_column(String(160), unique=True)
    callback_id: Mapped[Optional[int]] = mapped_column(ForeignKey("callback.id"), index=True)
    conversation_id: Mapped[Optional[int]] = mapped_column(ForeignKey("conversation.id"), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A text that would mislead once late (a "we'll call you by" time) is not sent after this.
    expires_at: Mapped[Optional[datetime]]
    claimed_by: Mapped[Optional[str]] = mapped_column(String(64))
    sending_at: Mapped[Optional[datetime]]  # when the latest request to Twilio began
    message_sid: Mapped[Optional[str]] = mapped_column(String(64), unique=True)
    twilio_status: Mapped[Optional[str]] = mapped_column(String(16))
    error_code: Mapped[Optional[str]] = mapped_column(String(16))
    error: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[Optional[datetime]]  # Twilio accepted it
    delivered_at: Mapped[Optional[datetime]]

    __table_args__ = (
        # The worker's one query: what is due, oldest first.
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    )

    def __repr__(self) -> str:
        return f"<Outbox {self.id} {self.kind} {self.status}>"
