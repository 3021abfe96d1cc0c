"""Subject rights: everything held about one phone number, exported or erased.

Each use case commits exactly once and records itself in the data protection log, which holds
who, when and how many records, never the number or what was said.
"""
from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import render_template
from sqlalchemy import delete, or_, select, update

from .. import phones, triage
from ..db import db
from ..models import Callback, Conversation, Interaction, OptOut
from ..notify.models import Outbox
from ..service import Helpline
from ..staff.models import AuditEvent, CallbackAttempt, CallbackOutcome, CaseNote, Staff
from .models import DataProtectionEvent
from .retention import CLOSED_CALLBACK_STATUSES

# What stops an erasure unless an admin forces it: someone may be in danger right now.
BLOCKING_QUEUES = ("welfare",)
BLOCKING_DISPOSITIONS = ("D1", "D2", "D3", "D4")


class SubjectError(ValueError):
    """The request cannot be carried out as asked (a bad number, an open urgent case)."""


def normalise(number: str) -> str:
    """The number as stored (E.164), from what an operator typed."""
    e164 = phones.to_e164(number.strip().removeprefix("whatsapp:"), "GB")
    if e164 is None:
        raise SubjectError(f"not a valid phone number: {phones.masked(number)}")
    return e164


@dataclass
class Holdings:
    """The rows held about one number."""

    phone: str
    conversations: list[Conversation]
    interactions: list[Interaction]
    callbacks: list[Callback]
    opt_out: OptOut | None
    attempts: list[CallbackAttempt]
    outcomes: list[CallbackOutcome]
    notes: list[CaseNote]
    texts: list[Outbox]  # texts sent (or to be sent) about this person's cases or to the number
    access: list[AuditEvent]  # who looked at or worked the case: the staff audit trail

    def counts(self) -> dict[str, int]:
        return {
            "conversations": len(self.conversations),
            "interactions": len(self.interactions),
            "callbacks": len(self.callbacks),
            "attempts": len(self.attempts),
            "outcomes": len(self.outcomes),
            "notes": len(self.notes),
            "texts": len(self.texts),
            "access_events": len(self.access),
            "opt_out": int(self.opt_out is not None),
        }


def find(phone: str) -> Holdings:
    """Every row about a number: its conversations (by caller or by callback), their transcripts, callbacks."""
    by_callback = select(Callback.conversation_id).where(Callback.phone == phone, Callback.conversation_id.is_not(None))
    conversations = list(db.session.scalars(
        select(Conversation).where(or_(Conversation.caller == phone, Conversation.id.in_(by_callback)))
        .order_by(Conversation.started_at, Conversation.id)
    ))
    conv_ids = [c.id for c in conversations]
    interactions = list(db.session.scalars(
        select(Interaction).where(Interaction.conversation_id.in_(conv_ids)).order_by(Interaction.created_at, Interaction.id)
    )) if conv_ids else []
    callbacks = list(db.session.scalars(
        select(Callback).where(or_(Callback.phone == phone, Callback.conversation_id.in_(conv_ids)))
        .order_by(Callback.created_at, Callback.id)
    ))
    cb_ids = [cb.id for cb in callbacks]

    def of_callbacks(model):
        return list(db.session.scalars(select(model).where(model.callback_id.in_(cb_ids)).order_by(model.id)))

    texts = list(db.session.scalars(select(Outbox).where(or_(
        Outbox.to_number == phone, Outbox.callback_id.in_(cb_ids), Outbox.conversation_id.in_(conv_ids),
    )).order_by(Outbox.created_at, Outbox.id)))
    access = list(db.session.scalars(
        select(AuditEvent).where(or_(AuditEvent.phone == phone, AuditEvent.callback_id.in_(cb_ids)))
        .order_by(AuditEvent.at, AuditEvent.id)
    ))
    return Holdings(phone, conversations, interactions, callbacks, db.session.get(OptOut, phone),
                    attempts=of_callbacks(CallbackAttempt), outcomes=of_callbacks(CallbackOutcome),
                    notes=of_callbacks(CaseNote), texts=texts, access=access)


# --- Export ---------------------------------------------------------------------------

def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None


def _question(hl: Helpline, flow_id: str, node_id: str) -> str:
    flow = hl.flows.get(flow_id)
    if flow is None or node_id not in flow.nodes:
        return node_id
    return flow.node(node_id).text.sms.split("{")[0].strip() or node_id


def _answer(hl: Helpline, flow_id: str, node_id: str, answer: Any) -> str:
    """A menu answer in words ("1: back pain now"); yes, no and not sure as they are."""
    flow = hl.flows.get(flow_id)
    node = flow.nodes.get(node_id) if flow is not None else None
    for option in getattr(node, "options", ()):
        if option.key == str(answer):
            return f"{answer}: {option.label}"
    return str(answer).replace("_", " ")


def document(hl: Helpline, held: Holdings, now: datetime, actor: str) -> dict[str, Any]:
    """The export as plain data: what a person is entitled to see, in words where we can."""
    by_conv: dict[int, list[dict[str, Any]]] = {}
    for i in held.interactions:
        by_conv.setdefault(i.conversation_id, []).append({
            "at": _iso(i.created_at), "direction": i.direction, "kind": i.kind, "step": i.node,
            "keys_pressed": i.digits, "words_heard": i.speech, "speech_confidence": i.confidence,
            "text_received": i.body if i.direction == "in" else None,
            "we_said": i.said, "status": i.body if i.kind == "status" else None,
        })
    conversations = []
    for c in held.conversations:
        conversations.append({
            "id": c.id, "channel": c.channel, "number": c.caller, "started_at": _iso(c.started_at),
            "ended_at": _iso(c.ended_at), "status": c.status, "flow": c.flow_id, "flow_version": c.flow_version,
            "answers": [{"question": _question(hl, c.flow_id, node), "step": node,
                         "answer": _answer(hl, c.flow_id, node, answer)}
                        for node, answer in (c.answers or {}).items()],
            "rules_fired": list(c.rules_fired or []),
            "outcome": c.disposition, "outcome_meaning": triage.LABELS.get(c.disposition or ""),
            "queue": c.queue, "transcript": by_conv.get(c.id, []),
        })
    names = _staff_names(held)
    callbacks = [{
        "id": cb.id, "number": cb.phone, "queue": cb.queue, "disposition": cb.disposition,
        "reasons": list(cb.reasons or []), "channel": cb.channel, "status": cb.status, "outcome": cb.outcome,
        "created_at": _iso(cb.created_at), "due_at": _iso(cb.due_at), "updated_at": _iso(cb.updated_at),
        "closed_at": _iso(cb.closed_at), "conversation_id": cb.conversation_id,
        "attempts": [{"at": _iso(a.started_at), "ended_at": _iso(a.ended_at), "method": a.method, "result": a.result,
                      "minutes": round(a.duration_seconds / 60, 1) if a.duration_seconds else None,
                      "by": names.get(a.staff_id)} for a in held.attempts if a.callback_id == cb.id],
        "outcomes": [{"at": _iso(o.created_at), "outcome": o.outcome, "note": o.note, "by": names.get(o.staff_id)}
                     for o in held.outcomes if o.callback_id == cb.id],
        "notes": [{"at": _iso(n.created_at), "text": n.body, "by": names.get(n.staff_id)}
                  for n in held.notes if n.callback_id == cb.id],
    } for cb in held.callbacks]
    texts = [{"at": _iso(t.created_at), "to": t.to_number, "what": t.kind, "text": t.body, "status": t.status,
              "sent_at": _iso(t.sent_at), "delivered_at": _iso(t.delivered_at)}
             for t in held.texts if t.to_number == held.phone]
    access = [{"at": _iso(e.at), "by": names.get(e.staff_id, "the help line's operators"),
               "action": ACCESS_WORDS.get(e.action, e.action.replace("_", " ")), "case": e.callback_id}
              for e in held.access]
    opt_out = None
    if held.opt_out is not None:
        opt_out = {"opted_out": held.opt_out.opted_out, "since": _iso(held.opt_out.updated_at)}
    return {
        "subject": held.phone,
        "generated_at": _iso(now),
        "generated_by": actor,
        "controller": "The back pain help line (02380 248725)",
        "about": ("Everything the back pain help line holds about this phone number: each call or text "
                  "conversation with the answers given and the advice reached, what was said and typed, "
                  "any call back arranged, and whether texts to this number are stopped."),
        "counts": held.counts(),
        "conversations": conversations,
        "callbacks": callbacks,
        "texts_sent": texts,
        "texts_stopped": opt_out,
        "access": access,
    }


# How the audit trail's actions read to the person they are about.
ACCESS_WORDS = {
    "view_case": "looked at your case", "claim": "took on your case", "release": "put your case back on the queue",
    "reassign": "passed your case to a colleague", "move": "moved your case to another queue",
    "call_placed": "called you", "call_failed": "tried to call you", "attempt": "recorded a try to reach you",
    "unreachable": "recorded that you could not be reached", "outcome": "recorded the outcome",
    "note": "added a note", "read_audit": "looked up who has seen your records",
    "subject_export": "exported everything we hold about you", "subject_erase": "erased your records",
}


def _staff_names(held: Holdings) -> dict[int | None, str]:
    ids = {row.staff_id for rows in (held.attempts, held.outcomes, held.notes, held.access) for row in rows}
    ids.discard(None)
    if not ids:
        return {}
    return {s.id: f"{s.name} ({s.role.replace('_', ' ')})" for s in db.session.scalars(select(Staff).where(Staff.id.in_(ids)))}


@dataclass(frozen=True)
class ExportFiles:
    json_path: Path
    html_path: Path
    counts: dict[str, int]


def _write_private(path: Path, text: str) -> None:
    """Health data on disk: readable by the owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def render_html(doc: dict[str, Any]) -> str:
    return render_template("privacy/export.html", doc=doc, masked=phones.masked)


def _log(action: str, now: datetime, actor: str, counts: dict[str, int], phone: str | None,
         staff: Staff | None = None, reference: str | None = None, forced: bool = False) -> DataProtectionEvent:
    """Record an export or erasure twice: in the data protection log, and on the staff audit trail.

    The trail row carries the number for an export (it is a look at the person's records, and shows
    under their number) but never for an erasure, which must not keep it.
    """
    event = DataProtectionEvent(action=action, at=now, actor=actor, forced=forced, reference=reference, counts=counts)
    db.session.add(event)
    db.session.add(AuditEvent(at=now, staff_id=staff.id if staff is not None else None, action=f"subject_{action}",
                              callback_id=None, phone=phone if action == "export" else None,
                              detail={"by": actor, "reference": reference, "forced": forced or None,
                                      "records": sum(counts.values())}))
    return event


def _stem(phone: str, now: datetime) -> str:
    return f"subject-{now:%Y%m%dT%H%M%S}-{phone[-3:]}"


def export(hl: Helpline, number: str, out_dir: Path, now: datetime, actor: str,
           reference: str | None = None) -> ExportFiles:
    """Write everything held about a number as JSON and as a readable HTML page; log that we did."""
    phone = normalise(number)
    doc = document(hl, find(phone), now, actor)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out_dir / f"{_stem(phone, now)}.json", out_dir / f"{_stem(phone, now)}.html"
    _write_private(json_path, json.dumps(doc, indent=2, ensure_ascii=False))
    _write_private(html_path, render_html(doc))
    _log("export", now, actor, doc["counts"], phone, reference=reference)
    db.session.commit()
    return ExportFiles(json_path, html_path, doc["counts"])


def export_archive(hl: Helpline, number: str, now: datetime, staff: Staff) -> tuple[str, bytes]:
    """The same export for an admin's browser: one zip holding the JSON and the HTML. Commits once."""
    phone = normalise(number)
    actor = staff.email
    doc = document(hl, find(phone), now, actor)
    buffer = io.BytesIO()
    stem = _stem(phone, now)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{stem}.json", json.dumps(doc, indent=2, ensure_ascii=False))
        archive.writestr(f"{stem}.html", render_html(doc))
    _log("export", now, actor, doc["counts"], phone, staff=staff)
    db.session.commit()
    return f"{stem}.zip", buffer.getvalue()


# --- Erasure --------------------------------------------------------------------------

@dataclass(frozen=True)
class Blocker:
    what: str
    id: int
    detail: str


def blockers(held: Holdings) -> list[Blocker]:
    """Why erasing now could hurt someone: an open welfare check or urgent callback, a live conversation."""
    found = []
    for cb in held.callbacks:
        urgent = cb.queue in BLOCKING_QUEUES or cb.disposition in BLOCKING_DISPOSITIONS
        if urgent and cb.status not in CLOSED_CALLBACK_STATUSES:
            label = "welfare check" if cb.queue == "welfare" else "urgent callback"
            found.append(Blocker(label, cb.id, f"{label} {cb.id} is {cb.status} ({cb.disposition or cb.queue})"))
    for c in held.conversations:
        if c.status == "active":
            found.append(Blocker("conversation", c.id, f"{c.channel} conversation {c.id} is still in progress"))
    return found


class ErasureRefused(SubjectError):
    def __init__(self, found: list[Blocker]):
        self.blockers = found
        super().__init__("refused: " + "; ".join(b.detail for b in found)
                         + ". Erase only when these are closed, or force it as an admin.")


def authorise_force(email: str) -> Staff:
    """The admin account that authorises a forced erasure (an active account with the admin role)."""
    staff = db.session.scalar(select(Staff).where(Staff.email == email.strip().lower()))
    if staff is None or not staff.active or staff.role != "admin":
        raise SubjectError(f"{email} is not an active admin account: only an admin can force an erasure")
    return staff


@dataclass(frozen=True)
class Erasure:
    counts: dict[str, int]
    forced: bool
    event_id: int


def erase(number: str, now: datetime, actor: str, force_by: Staff | None = None,
          reference: str | None = None) -> Erasure:
    """Remove everything held about a number, except that it said STOP; log that it happened.

    `force_by` (an admin account, see authorise_force) erases even while a welfare check or an
    urgent callback is open. Commits once.
    """
    if force_by is not None and force_by.role != "admin":
        raise SubjectError("only an admin can force an erasure")
    phone = normalise(number)
    held = find(phone)
    found = blockers(held)
    if found and force_by is None:
        raise ErasureRefused(found)
    conv_ids = [c.id for c in held.conversations]
    cb_ids = [cb.id for cb in held.callbacks]
    counts = held.counts()
    # Children first: every foreign key points from these rows to the callbacks and conversations.
    for model, ids in ((CallbackAttempt, held.attempts), (CallbackOutcome, held.outcomes), (CaseNote, held.notes),
                       (Outbox, held.texts), (Interaction, held.interactions)):
        if ids:
            db.session.execute(delete(model).where(model.id.in_([row.id for row in ids])))
    if cb_ids:
        db.session.execute(delete(Callback).where(Callback.id.in_(cb_ids)))
    if conv_ids:
        db.session.execute(delete(Conversation).where(Conversation.id.in_(conv_ids)))
    # The trail of who looked stays, for accountability, but no longer says whose records they were.
    if held.access:
        db.session.execute(update(AuditEvent).where(AuditEvent.id.in_([e.id for e in held.access]))
                           .values(phone=None))
    counts["access_events_kept_without_number"] = counts.pop("access_events")
    # A standing STOP is kept: it is the only way to go on honouring it (a suppression list).
    opt_kept = held.opt_out is not None and held.opt_out.opted_out
    if held.opt_out is not None and not opt_kept:
        db.session.delete(held.opt_out)
    counts["opt_out"] = int(held.opt_out is not None and not opt_kept)
    counts["opt_out_kept"] = int(opt_kept)
    forced = bool(found)
    if force_by is not None:
        actor = f"{actor}, authorised by {force_by.email}"
    event = _log("erase", now, actor, counts, None, staff=force_by, reference=reference, forced=forced)
    db.session.commit()
    return Erasure(counts, forced, event.id)
