"""Retention: how long each kind of record is kept, and the purge that enforces it.

The purge runs from a scheduler while the help line is live, so it works in small batches, one
short transaction each, and every statement re-checks that its rows are still past their time
and not needed by an open callback (a case can open between the count and the delete).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping

from sqlalchemy import ColumnElement, CompoundSelect, Select, delete, func, or_, select, union, update

from ..db import db
from ..models import Callback, Conversation, Interaction, OptOut
from ..notify import models as outbox
from ..staff.models import AuditEvent, CallbackAttempt, CallbackOutcome, CaseNote
from .models import DataProtectionEvent

# A callback in any other status may still be worked (open, claimed, waiting for a retry or a
# supervisor): its conversation, transcript and number are kept whatever their age.
CLOSED_CALLBACK_STATUSES = ("done",)
# Outbox rows the worker has finished with; pending, sending and in-doubt rows are never purged.
OUTBOX_FINISHED = (*outbox.HANDED_OVER, outbox.CANCELLED, outbox.EXPIRED)


@dataclass(frozen=True)
class Retention:
    """How long each kind of record is kept (docs/data-protection.md)."""

    transcripts: timedelta  # interactions: every prompt, key press, word and text
    conversations: timedelta  # then anonymised: the number goes, the triage answers stay
    callbacks: timedelta  # closed callbacks: then the number and staff notes go, outcomes and times stay
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


def protected_conversations() -> CompoundSelect:
    """Conversations an open callback may need: its own, and every other one from the same number.

    A union of three small indexed look-ups (an OR of them makes PostgreSQL scan the table).
    """
    open_items = select(Callback.conversation_id).where(callback_still_needed(), Callback.conversation_id.is_not(None))
    same_number = (select(Conversation.id).join(Callback, Callback.phone == Conversation.caller)
                   .where(callback_still_needed()))
    live = select(Conversation.id).where(Conversation.status == "active")
    return union(open_items, same_number, live)


@dataclass(frozen=True)
class Rule:
    """One kind of record past its time: which rows, and what happens to a batch of them."""

    name: str
    action: str  # delete | anonymise
    model: Any
    eligible: Callable[[datetime], ColumnElement[bool]]
    apply: Callable[[Select], int]  # given the select of one batch's keys; returns rows changed
    kept: str = ""  # what the rule leaves on purpose, for the summary
    oldest_first: Any = None  # an indexed time column: batches walk the index instead of the table


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


# Bulk statements: the session holds none of these rows, so it need not be kept in step.
NO_SYNC = {"synchronize_session": False}


def _run(statement) -> int:
    return db.session.execute(statement, execution_options=NO_SYNC).rowcount


def _recheck(batch: Select, key: Any, ids: list[Any]) -> Select:
    """The batch's rows that are still eligible, looked up by key (an index lookup, not a scan)."""
    return batch.with_only_columns(key).limit(None).order_by(None).where(key.in_(ids))


def _delete(model: Any) -> Callable[[Select], int]:
    def run(batch: Select) -> int:
        key = _key(model)
        ids = list(db.session.scalars(batch))
        if not ids:
            return 0
        # The delete re-checks eligibility: a case opened since the batch was read keeps its rows.
        return _run(delete(model).where(key.in_(ids), key.in_(_recheck(batch, key, ids))))
    return run


def _anonymise_conversations(batch: Select) -> int:
    # The transcript goes with the number: both would identify the person. One transaction;
    # each statement re-checks the batch, so a callback opened meanwhile keeps all of it.
    ids = list(db.session.scalars(batch))
    if not ids:
        return 0
    again = _recheck(batch, Conversation.id, ids)
    _run(delete(Interaction).where(Interaction.conversation_id.in_(again)))
    return _run(update(Conversation).where(Conversation.id.in_(again))
                .values(caller=None, caller_raw=None, call_sid=None, state={}))


def _anonymise_callbacks(batch: Select) -> int:
    # Free text written by staff goes with the number; outcomes, tries and times stay for reporting.
    ids = list(db.session.scalars(batch))
    if not ids:
        return 0
    again = _recheck(batch, Callback.id, ids)
    _run(delete(CaseNote).where(CaseNote.callback_id.in_(again)))
    _run(update(CallbackOutcome).where(CallbackOutcome.callback_id.in_(again)).values(note=None))
    _run(update(CallbackAttempt).where(CallbackAttempt.callback_id.in_(again)).values(call_sid=None))
    return _run(update(Callback).where(Callback.id.in_(again)).values(phone=None))


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
        closed = func.coalesce(Callback.closed_at, Callback.updated_at)
        return Callback.status.in_(CLOSED_CALLBACK_STATUSES) & (closed < now - retention.callbacks) & \
            Callback.phone.is_not(None)

    def texts(now: datetime) -> ColumnElement[bool]:
        return outbox.Outbox.status.in_(OUTBOX_FINISHED) & (outbox.Outbox.updated_at < now - retention.outbox)

    def audit(now: datetime) -> ColumnElement[bool]:
        return AuditEvent.at < now - retention.audit

    def opt_ins(now: datetime) -> ColumnElement[bool]:
        return (OptOut.opted_out.is_(False)) & (OptOut.updated_at < now - retention.conversations)

    def dp_log(now: datetime) -> ColumnElement[bool]:
        return DataProtectionEvent.at < now - retention.audit

    return [
        Rule("interactions", "delete", Interaction, interactions, _delete(Interaction),
             oldest_first=Interaction.created_at),
        Rule("conversations", "anonymise", Conversation, conversations, _anonymise_conversations,
             kept="flow version, answers, rules fired and disposition, for clinical safety review"),
        Rule("callbacks", "anonymise", Callback, callbacks, _anonymise_callbacks,
             kept="queue, disposition and times, for service reporting"),
        Rule("opt_ins", "delete", OptOut, opt_ins, _delete(OptOut),
             kept="numbers still opted out: a STOP is honoured for as long as it stands"),
        Rule("outbox", "delete", outbox.Outbox, texts, _delete(outbox.Outbox),
             kept="texts not yet sent or still in doubt"),
        Rule("audit_trail", "delete", AuditEvent, audit, _delete(AuditEvent), oldest_first=AuditEvent.at),
        Rule("data_protection_log", "delete", DataProtectionEvent, dp_log, _delete(DataProtectionEvent)),
    ]


def _key(model: Any):
    return model.phone if model is OptOut else model.id


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
    """Delete or anonymise everything past its time, one batch per transaction; log the run.

    A changed row is no longer eligible, so each batch takes the next; the loop is bounded by
    the count at the start in case a row ever failed to change.
    """
    report = PurgeReport(retention, applied=True)
    for rule in rules(retention):
        key = _key(rule.model)
        eligible = select(func.count()).select_from(rule.model).where(rule.eligible(now))
        most_batches = -(-int(db.session.scalar(eligible) or 0) // retention.batch_size)
        done = 0
        for _ in range(most_batches):
            order = (rule.oldest_first, key) if rule.oldest_first is not None else (key,)
            batch = select(key).where(rule.eligible(now)).order_by(*order).limit(retention.batch_size)
            changed = rule.apply(batch)
            db.session.commit()
            if not changed:
                break
            done += changed
            if progress is not None:
                progress(changed)
        db.session.commit()
        report.outcomes.append(Outcome(rule.name, rule.action, done, rule.kept))
    db.session.add(DataProtectionEvent(action="purge", at=now, actor=actor, forced=False,
                                       counts={"retention_days": retention.as_days(), **report.counts()}))
    db.session.commit()
    return report
