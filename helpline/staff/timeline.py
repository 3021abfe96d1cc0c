"""A case as staff see it: the person's conversations on every channel and earlier callbacks."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import triage
from ..db import db
from ..models import Callback, Conversation, Interaction
from . import audit
from .models import CallbackAttempt, CallbackOutcome, CaseNote, Staff
from .queue import SUPERVISOR, NotAllowed, NotFound
from .settings import StaffSettings

MAX_CONVERSATIONS = 50


@dataclass(frozen=True)
class Line:
    at: datetime
    direction: str  # in | out
    text: str


@dataclass
class ConversationEntry:
    conversation: Conversation
    lines: list[Line]

    @property
    def at(self) -> datetime:
        return self.conversation.started_at

    @property
    def disposition_label(self) -> str | None:
        code = self.conversation.disposition
        return f"{code} {triage.LABELS[code]}" if code in triage.LABELS else code


@dataclass
class CallbackEntry:
    item: Callback
    attempts: list[CallbackAttempt] = field(default_factory=list)
    outcomes: list[CallbackOutcome] = field(default_factory=list)
    notes: list[CaseNote] = field(default_factory=list)

    @property
    def at(self) -> datetime:
        return self.item.created_at


@dataclass
class Case:
    item: Callback
    deadline: datetime
    entries: list[Any]  # ConversationEntry | CallbackEntry, newest first
    holder: Staff | None


def _line(row: Interaction) -> Line | None:
    if row.direction == "out":
        return Line(row.created_at, "out", row.said) if row.said else None
    if row.kind == "status":
        return Line(row.created_at, "in", f"[status: {row.body}]")
    if row.digits:
        return Line(row.created_at, "in", f"pressed {row.digits}")
    if row.speech:
        said = f"said \u201c{row.speech}\u201d"
        if row.confidence is not None:
            said += f" (confidence {row.confidence:.2f})"
        return Line(row.created_at, "in", said)
    if row.body is not None:
        return Line(row.created_at, "in", row.body)
    return Line(row.created_at, "in", "[no input]")


def _conversations(item: Callback) -> list[ConversationEntry]:
    if item.phone:
        convs = db.session.scalars(
            select(Conversation).where(Conversation.caller == item.phone)
            .order_by(Conversation.started_at.desc()).limit(MAX_CONVERSATIONS)).all()
    else:
        convs = [item.conversation] if item.conversation else []
    ids = [c.id for c in convs]
    lines: dict[int, list[Line]] = {i: [] for i in ids}
    if ids:
        for row in db.session.scalars(select(Interaction).where(Interaction.conversation_id.in_(ids))
                                      .order_by(Interaction.created_at, Interaction.id)):
            line = _line(row)
            if line is not None:
                lines[row.conversation_id].append(line)
    return [ConversationEntry(c, lines[c.id]) for c in convs]


def _callbacks(item: Callback) -> list[CallbackEntry]:
    if item.phone:
        items = db.session.scalars(select(Callback).where(Callback.phone == item.phone)
                                   .options(selectinload(Callback.closed_by))).all()
    else:
        items = [item]
    entries = {i.id: CallbackEntry(i) for i in items}
    ids = list(entries)
    for attempt in db.session.scalars(select(CallbackAttempt).options(selectinload(CallbackAttempt.staff))
                                      .where(CallbackAttempt.callback_id.in_(ids)).order_by(CallbackAttempt.id)):
        entries[attempt.callback_id].attempts.append(attempt)
    for outcome in db.session.scalars(select(CallbackOutcome).options(selectinload(CallbackOutcome.staff))
                                      .where(CallbackOutcome.callback_id.in_(ids)).order_by(CallbackOutcome.id)):
        entries[outcome.callback_id].outcomes.append(outcome)
    for note in db.session.scalars(select(CaseNote).options(selectinload(CaseNote.staff))
                                   .where(CaseNote.callback_id.in_(ids)).order_by(CaseNote.id)):
        entries[note.callback_id].notes.append(note)
    return list(entries.values())


def may_view(settings: StaffSettings, staff: Staff, item: Callback) -> bool:
    """Need to know: staff see the cases on the queues their role works."""
    return staff.role == SUPERVISOR or settings.may_work(staff.role, item.queue)


def open_case(settings: StaffSettings, staff: Staff, callback_id: int, now: datetime) -> Case:
    """Everything staff need to call the person back; each look is written to the audit trail. Commits once."""
    item = db.session.get(Callback, callback_id)
    if item is None:
        raise NotFound("That item is not on the queue.")
    if not may_view(settings, staff, item):
        audit.record("view_case", staff, now, item, {"refused": True})
        db.session.commit()
        raise NotAllowed("Your role does not work that queue.")
    entries: list[Any] = [*_conversations(item), *_callbacks(item)]
    entries.sort(key=lambda e: e.at, reverse=True)
    case = Case(item=item, deadline=settings.deadline(item.queue, item.created_at, item.due_at),
                entries=entries, holder=item.claimed_by)
    audit.record("view_case", staff, now, item)
    db.session.commit()
    return case
