"""Queue texts in the caller's transaction, and record what Twilio later says about them.

Nothing here talks to Twilio and nothing here commits: a text is a row added to the same
session as the event that causes it, so it leaves only if that event is committed.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from ..db import db
from ..engine import gsm
from ..models import Interaction, OptOut
from .. import turn_store
from ..prepared import Prepared
from .models import (
    ACCEPTED, CANCELLED, DELIVERED, FAILED, PENDING, SENDING, SENT, UNDELIVERED, UNKNOWN, Outbox,
)

log = logging.getLogger(__name__)

# Twilio refuses a body longer than this (error 21617).
MAX_CHARACTERS = 1600


class TextRejected(ValueError):
    """A text that must not be queued: wrong characters, too long, or more segments than allowed."""


@dataclass(frozen=True)
class Checked:
    encoding: str
    segments: int


def check_text(body: str, max_segments: int | None = None) -> Checked:
    """Check a body before it is queued: GSM-7 only, at most 1600 characters, and within max_segments.

    Every text the help line writes is plain GSM-7, so a UCS-2 character (a curly quote, a dash,
    an emoji) is a wording mistake: it would more than double the segments, so it is refused.
    """
    if not body.strip():
        raise TextRejected("empty text")
    if len(body) > MAX_CHARACTERS:
        raise TextRejected(f"{len(body)} characters: Twilio takes at most {MAX_CHARACTERS}")
    encoding, count = gsm.segments(body)
    if encoding != gsm.GSM7:
        bad = "".join(gsm.non_gsm7(body))
        raise TextRejected(f"not GSM-7 (would be sent as UCS-2) because of {bad!r}")
    if max_segments is not None and count > max_segments:
        raise TextRejected(f"{count} segments, more than the {max_segments} allowed")
    return Checked(encoding, count)


_OPTED_OUT = Prepared(select(OptOut.__table__.c.opted_out).where(OptOut.__table__.c.phone == bindparam("phone")))


def _flush_pending() -> None:
    """Plain statements do not autoflush: let them see what the event has added (a START, a callback).
    A turn on its own connection has no session to look at, and making one only to ask would cost."""
    if not db.session.registry.has():
        return
    session = db.session()
    if session.new or session.dirty or session.deleted:
        session.flush()


def is_opted_out(number: str) -> bool:
    """True when the number texted STOP (and has not texted START since)."""
    _flush_pending()
    row = _OPTED_OUT.first(turn_store.connection(), {"phone": number})  # a turn's own, or the session's
    return bool(row and row[0])


_OUTBOX = Outbox.__table__
# The columns a queued text sets; the rest (claims, Twilio's answers) come later.
_QUEUED = ("kind", "channel", "to_number", "body", "encoding", "segments", "status", "dedupe_key", "callback_id",
           "conversation_id", "attempts", "next_attempt_at", "expires_at", "error", "created_at", "updated_at")
_INSERT = Prepared(_OUTBOX.insert().returning(_OUTBOX.c.id), _QUEUED)


def _insert_once(dialect_insert) -> Prepared:
    """Two requests racing to queue the same text: the database keeps one and the other finds it,
    without failing the caller's transaction (no IntegrityError at commit)."""
    statement = dialect_insert(_OUTBOX).on_conflict_do_nothing(index_elements=["dedupe_key"])
    return Prepared(statement.returning(_OUTBOX.c.id), _QUEUED)


_INSERT_ONCE = {"postgresql": _insert_once(postgresql.insert), "sqlite": _insert_once(sqlite.insert)}
_BY_KEY = Prepared(select(_OUTBOX.c.id).where(_OUTBOX.c.dedupe_key == bindparam("key")))


def enqueue_text(
    to: str, body: str, kind: str, now: datetime, *, channel: str = "sms", dedupe_key: str | None = None,
    callback_id: int | None = None, conversation_id: int | None = None, expires_at: datetime | None = None,
    max_segments: int | None = None,
) -> int:
    """Queue a text in the caller's transaction (the caller commits); returns the row's id.

    With a dedupe key already queued, the earlier row's id. A number that opted out gets a row
    marked cancelled instead of a pending one: the record shows the text was due and deliberately
    not sent. Raises TextRejected before anything is written. Runs as plain statements, because
    escalating a call or a text queues two or three of these inside the caller's wait.
    """
    checked = check_text(body, max_segments)
    opted_out = is_opted_out(to)  # flushes the event's own rows first: the foreign keys need them too
    conn = turn_store.connection()  # a turn's own, or the session's
    values = dict(
        kind=kind, channel=channel, to_number=to, body=body, encoding=checked.encoding,
        segments=checked.segments, status=CANCELLED if opted_out else PENDING, dedupe_key=dedupe_key,
        callback_id=callback_id, conversation_id=conversation_id, attempts=0, next_attempt_at=now,
        expires_at=expires_at, error="opted out" if opted_out else None, created_at=now, updated_at=now,
    )
    if dedupe_key is None:
        return _INSERT.first(conn, values)[0]
    inserted = _INSERT_ONCE[conn.dialect.name].first(conn, values)
    return inserted[0] if inserted is not None else _BY_KEY.first(conn, {"key": dedupe_key})[0]


def queue_text(to: str, body: str, kind: str, now: datetime, **options) -> Outbox:
    """As enqueue_text, returning the row itself (loaded fresh) for callers that look at it."""
    return db.session.get(Outbox, enqueue_text(to, body, kind, now, **options), populate_existing=True)


# Twilio's message statuses, each mapped to ours and ranked: a status never moves backwards
# (callbacks can arrive out of order) and a final one is never replaced.
_FROM_TWILIO = {
    "accepted": ACCEPTED, "scheduled": ACCEPTED, "queued": ACCEPTED, "sending": ACCEPTED,
    "sent": SENT, "delivered": DELIVERED, "read": DELIVERED,
    "undelivered": UNDELIVERED, "failed": FAILED, "canceled": FAILED,
}
_RANK = {SENDING: 0, UNKNOWN: 0, ACCEPTED: 1, SENT: 2, DELIVERED: 3, UNDELIVERED: 3, FAILED: 3}


def apply_twilio_status(row: Outbox, twilio_status: str, error_code: str | None, now: datetime) -> bool:
    """Move a row forward to what Twilio reports; returns False when the report is old news."""
    ours = _FROM_TWILIO.get(twilio_status.lower())
    if ours is None or _RANK.get(row.status, 99) >= _RANK[ours]:
        return False
    row.status, row.twilio_status, row.updated_at = ours, twilio_status.lower(), now
    if error_code:
        row.error_code = str(error_code)
    if ours == DELIVERED:
        row.delivered_at = now
    if ours in (UNDELIVERED, FAILED):
        log.warning("outbox %s (%s) %s with error %s", row.id, row.kind, ours, error_code)
    return True


def record_delivery_status(message_sid: str, twilio_status: str, error_code: str | None, now: datetime) -> Outbox | None:
    """A delivery status callback: update the outbox row with that MessageSid (adds to the session)."""
    row = db.session.scalars(
        select(Outbox).where(Outbox.message_sid == message_sid).with_for_update()
    ).first()
    if row is not None:
        apply_twilio_status(row, twilio_status, error_code, now)
    return row


def catch_up(row: Outbox, now: datetime) -> None:
    """Apply status callbacks that arrived before the worker had stored the row's MessageSid."""
    if not row.message_sid:
        return
    # A callback cannot come before the send began; the time bound keeps this on created_at's index.
    since = (row.sending_at or row.created_at) - timedelta(minutes=5)
    logged = db.session.scalars(
        select(Interaction.body).where(Interaction.created_at >= since, Interaction.kind == "status",
                                       Interaction.external_id == row.message_sid)
        .order_by(Interaction.id)
    ).all()
    for body in logged:
        status, _, code = (body or "").partition(" ")
        apply_twilio_status(row, status, code or None, now)
