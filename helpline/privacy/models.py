"""The data protection log: that an export, an erasure or a purge happened, never what it held."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, Boolean, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db, utcnow
from ..models import BigId


class DataProtectionEvent(db.Model):
    """One export, erasure or purge: who ran it, when, whether forced, and counts of records.

    It holds no phone number and no content, so it can outlive the records it speaks of
    (an erasure must be provable without keeping what was erased).
    """

    __tablename__ = "data_protection_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    action: Mapped[str] = mapped_column(String(16))  # export | erase | purge
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))  # a staff account's email, or the operator named on the CLI
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    reference: Mapped[Optional[str]] = mapped_column(String(64))  # the request's ticket, e.g. SAR-2026-014
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_data_protection_event_action_at", "action", "at"),)
