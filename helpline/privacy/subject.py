"""Subject rights: everything held about one phone number, exported or erased.

Each use case commits exactly once and records itself in the data protection log, which holds
who, when and how many records, never the number or what was said.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import render_template
from sqlalchemy import delete, or_, select

from .. import phones, triage
from ..db import db
from ..models import Callback, Conversation, Interaction, OptOut
from ..service import Helpline
from .models import DataProtectionEvent

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

    def counts(self) -> dict[str, int]:
        return {
            "conversations": len(self.conversations),
            "interactions": len(self.interactions),
            "callbacks": len(self.callbacks),
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
    return Holdings(phone, conversations, interactions, callbacks, db.session.get(OptOut, phone))


# --- Export ---------------------------------------------------------------------------

def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None


def _question(hl: Helpline, flow_id: str, node_id: str) -> str:
    flow = hl.flows.get(flow_id)
    if flow is None or node_id not in flow.nodes:
        return node_id
    return flow.node(node_id).text.sms.split("{")[0].strip() or node_id


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
            "answers": [{"question": _question(hl, c.flow_id, node), "step": node, "answer": answer}
                        for node, answer in (c.answers or {}).items()],
            "rules_fired": list(c.rules_fired or []),
            "outcome": c.disposition, "outcome_meaning": triage.LABELS.get(c.disposition or ""),
            "queue": c.queue, "transcript": by_conv.get(c.id, []),
        })
    callbacks = [{
        "id": cb.id, "number": cb.phone, "queue": cb.queue, "disposition": cb.disposition,
        "reasons": list(cb.reasons or []), "channel": cb.channel, "status": cb.status,
        "created_at": _iso(cb.created_at), "due_at": _iso(cb.due_at), "updated_at": _iso(cb.updated_at),
        "conversation_id": cb.conversation_id,
    } for cb in held.callbacks]
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
        "texts_stopped": opt_out,
    }


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


def export(hl: Helpline, number: str, out_dir: Path, now: datetime, actor: str,
           reference: str | None = None) -> ExportFiles:
    """Write everything held about a number as JSON and as a readable HTML page; log that we did."""
    phone = normalise(number)
    doc = document(hl, find(phone), now, actor)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"subject-{now:%Y%m%dT%H%M%S}-{phone[-3:]}"
    json_path, html_path = out_dir / f"{stem}.json", out_dir / f"{stem}.html"
    _write_private(json_path, json.dumps(doc, indent=2, ensure_ascii=False))
    _write_private(html_path, render_html(doc))
    db.session.add(DataProtectionEvent(action="export", at=now, actor=actor, reference=reference,
                                       counts=doc["counts"]))
    db.session.commit()
    return ExportFiles(json_path, html_path, doc["counts"])


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
        if urgent and cb.status not in ("done",):
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


@dataclass(frozen=True)
class Erasure:
    counts: dict[str, int]
    forced: bool
    event_id: int


def erase(number: str, now: datetime, actor: str, force: bool = False,
          reference: str | None = None) -> Erasure:
    """Remove everything held about a number, except that it said STOP; log that it happened."""
    phone = normalise(number)
    held = find(phone)
    found = blockers(held)
    if found and not force:
        raise ErasureRefused(found)
    conv_ids = [c.id for c in held.conversations]
    cb_ids = [cb.id for cb in held.callbacks]
    counts = held.counts()
    if conv_ids:
        db.session.execute(delete(Interaction).where(Interaction.conversation_id.in_(conv_ids)))
    if cb_ids:
        db.session.execute(delete(Callback).where(Callback.id.in_(cb_ids)))
    if conv_ids:
        db.session.execute(delete(Conversation).where(Conversation.id.in_(conv_ids)))
    # A standing STOP is kept: it is the only way to go on honouring it (a suppression list).
    opt_kept = held.opt_out is not None and held.opt_out.opted_out
    if held.opt_out is not None and not opt_kept:
        db.session.delete(held.opt_out)
    counts["opt_out"] = int(held.opt_out is not None and not opt_kept)
    counts["opt_out_kept"] = int(opt_kept)
    event = DataProtectionEvent(action="erase", at=now, actor=actor, forced=bool(found and force),
                                reference=reference, counts=counts)
    db.session.add(event)
    db.session.commit()
    return Erasure(counts, event.forced, event.id)

