"""Retention: how long each kind of record is kept, and the purge that enforces it.

The purge runs from a scheduler while the help line is live, so it works in small batches, one
short transaction each, and every statement re-checks that its rows are still past their time
and not needed by an open callback (a case can open between the count and the delete).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping

from sqlalchemy import ColumnElement, Select, delete, func, or_, select, update

from ..db import db
from ..models import Callback, Conversation, Interaction, OptOut
from .models import DataProtectionEvent

# A callback in any other status may still be worked (open, claimed, waiting for a retry or a
# supervisor): its conversation, transcript and number are kept whatever their age.
CLOSED_CALLBACK_STATUSES = ("done",)


@dataclass(frozen=True)
class Retention:
    """How long each kind of record is kept (docs/data-protection.md)."""

    transcripts: timedelta  # interactions: every prompt, key press, word and text
    conversations: timedelta  # then anonymised: the number goes, the triage answers stay
    callbacks: timedelta  # closed callbacks and their outcomes, notes and attempts
    audit: timedelta  # the staff audit trail and the data protection log
    outbox: timedelta  # texts sent or given up on
    batch_size: int = 500

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Retention":
        retention = cls(
            transcripts=timedelta(days=config["RETAIN_TRANSCRIPTS_DAYS"]),
            conversations=timedelta(days=config["RETAIN_CONVERSATIONS_DAYS"]),
            callbacks=timedelta(days=config["RETAIN_CALLBACKS_DAYS"]),
            audit=timedelta(days=config["RETAIN_AUDIT_DAYS"]),
            outbox=timedelta(days=config["RETAIN_OUTBOX_DAYS"]),
            batch_size=config["PURGE_BATCH_SIZE"],
        )
        retention.check()
        return retention

    def check(self) -> None:
        """Refuse settings that would keep a transcript after its conversation lost its number."""
        if self.transcripts > self.conversations:
            raise ValueError("transcripts cannot be kept longer than the conversations they belong to "
                             "(HELPLINE_RETAIN_TRANSCRIPTS_DAYS > HELPLINE_RETAIN_CONVERSATIONS_DAYS)")
        if min(self.transcripts, self.conversations, self.callbacks, self.audit, self.outbox) < timedelta(days=1):
            raise ValueError("every retention period must be at least one day")
        if self.batch_size < 1:
            raise ValueError("the purge batch size must be at least 1")

    def as_days(self) -> dict[str, int]:
        return {name: getattr(self, name).days for name in ("transcripts", "conversations", "callbacks", "audit", "outbox")}


def callback_still_needed() -> ColumnElement[bool]:
    return Callback.status.not_in(CLOSED_CALLBACK_STATUSES)


def protected_conversations() -> Select:
    """Conversations an open callback may need: its own, and every other one from the same number."""
    open_items = select(Callback.conversation_id).where(callback_still_needed(), Callback.conversation_id.is_not(None))
    open_numbers = select(Callback.phone).where(callback_still_needed(), Callback.phone.is_not(None))
    return select(Conversation.id).where(or_(
        Conversation.status == "active",
        Conversation.id.in_(open_items),
        Conversation.caller.in_(open_numbers),
    ))


@dataclass(frozen=True)
class Rule:
    """One kind of record past its time: which rows, and what happens to a batch of them."""

    name: str
    action: str  # delete | anonymise
    model: Any
    eligible: Callable[[datetime], ColumnElement[bool]]
    apply: Callable[[list[int], ColumnElement[bool]], int]
    kept: str = ""  # what the rule leaves on purpose, for the summary


@dataclass
class Outcome:
    name: str
    action: str
    rows: int
    kept: str = ""


@dataclass
class PurgeReport:
    retention: Retention
    applied: bool
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(o.rows for o in self.outcomes)

    def counts(self) -> dict[str, int]:
        return {o.name: o.rows for o in self.outcomes}


def _delete(model: Any) -> Callable[[list[int], ColumnElement[bool]], int]:
    def run(ids: list[int], still: ColumnElement[bool]) -> int:
        return db.session.execute(delete(model).where(model.id.in_(ids), still)).rowcount
    return run


def _anonymise_conversations(ids: list[int], still: ColumnElement[bool]) -> int:
    # The transcript goes with the number: both would identify the person.
    targets = select(Conversation.id).where(Conversation.id.in_(ids), still)
    db.session.execute(delete(Interaction).where(Interaction.conversation_id.in_(targets)))
    return db.session.execute(
        update(Conversation).where(Conversation.id.in_(ids), still)
        .values(caller=None, caller_raw=None, call_sid=None, state={})
    ).rowcount


def _anonymise_callbacks(ids: list[int], still: ColumnElement[bool]) -> int:
    return db.session.execute(update(Callback).where(Callback.id.in_(ids), still).values(phone=None)).rowcount


def rules(retention: Retention) -> list[Rule]:
    """Every kind of record the purge looks at, in the order it works through them."""

    def interactions(now: datetime) -> ColumnElement[bool]:
        return (Interaction.created_at < now - retention.transcripts) & or_(
            Interaction.conversation_id.is_(None), Interaction.conversation_id.not_in(protected_conversations()))

    def conversations(now: datetime) -> ColumnElement[bool]:
        ended = func.coalesce(Conversation.ended_at, Conversation.updated_at)
        identifiable = or_(Conversation.caller.is_not(None), Conversation.caller_raw.is_not(None),
                           Conversation.call_sid.is_not(None))
        return (Conversation.status != "active") & (ended < now - retention.conversations) & identifiable & \
            Conversation.id.not_in(protected_conversations())

    def callbacks(now: datetime) -> ColumnElement[bool]:
        return Callback.status.in_(CLOSED_CALLBACK_STATUSES) & (Callback.updated_at < now - retention.callbacks) & \
            Callback.phone.is_not(None)

    def opt_ins(now: datetime) -> ColumnElement[bool]:
        return (OptOut.opted_out.is_(False)) & (OptOut.updated_at < now - retention.conversations)

    def dp_log(now: datetime) -> ColumnElement[bool]:
        return DataProtectionEvent.at < now - retention.audit

    return [
        Rule("interactions", "delete", Interaction, interactions, _delete(Interaction)),
        Rule("conversations", "anonymise", Conversation, conversations, _anonymise_conversations,
             kept="flow version, answers, rules fired and disposition, for clinical safety review"),
        Rule("callbacks", "anonymise", Callback, callbacks, _anonymise_callbacks,
             kept="queue, disposition and times, for service reporting"),
        Rule("opt_ins", "delete", OptOut, opt_ins, _delete_opt_ins,
             kept="numbers still opted out (STOP must be honoured for as long as it stands)"),
        Rule("data_protection_log", "delete", DataProtectionEvent, dp_log, _delete(DataProtectionEvent)),
    ]


def _delete_opt_ins(phones: list[str], still: ColumnElement[bool]) -> int:
    return db.session.execute(delete(OptOut).where(OptOut.phone.in_(phones), still)).rowcount


def _key(rule: Rule):
    return rule.model.phone if rule.model is OptOut else rule.model.id


def plan(retention: Retention, now: datetime) -> PurgeReport:
    """Count what a purge would change, changing nothing."""
    report = PurgeReport(retention, applied=False)
    for rule in rules(retention):
        rows = db.session.scalar(select(func.count()).select_from(rule.model).where(rule.eligible(now)))
        report.outcomes.append(Outcome(rule.name, rule.action, int(rows or 0), rule.kept))
    db.session.rollback()
    return report


def purge(retention: Retention, now: datetime, actor: str,
          progress: Callable[[int], None] | None = None) -> PurgeReport:
    """Delete or anonymise everything past its time, one batch per transaction; log the run."""
    report = PurgeReport(retention, applied=True)
    for rule in rules(retention):
        done = 0
        key = _key(rule)
        last: Any = None
        while True:
            query = select(key).where(rule.eligible(now)).order_by(key).limit(retention.batch_size)
            if last is not None:
                query = query.where(key > last)  # keyset: every batch moves on, even past rows it kept
            ids = list(db.session.scalars(query))
            if not ids:
                break
            last = ids[-1]
            changed = rule.apply(ids, rule.eligible(now))
            db.session.commit()
            done += changed
            if progress is not None:
                progress(len(ids))
        report.outcomes.append(Outcome(rule.name, rule.action, done, rule.kept))
    db.session.add(DataProtectionEvent(action="purge", at=now, actor=actor, forced=False,
                                       counts={"retention_days": retention.as_days(), **report.counts()}))
    db.session.commit()
    return report
