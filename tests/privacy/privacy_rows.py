"""Rows for the data protection tests, written straight to the tables (the webhooks are tested elsewhere)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from helpline.db import db
from helpline.models import Callback, Conversation, Interaction, OptOut


def conversation(phone: str | None, started: datetime, *, status: str = "completed", disposition: str | None = "D6",
                 channel: str = "sms", call_sid: str | None = None, answers: dict[str, Any] | None = None,
                 steps: int = 2) -> Conversation:
    """A finished conversation with `steps` turns (two interactions each)."""
    conv = Conversation(
        channel=channel, caller=phone, caller_raw=phone, call_sid=call_sid, flow_id="back_pain",
        flow_version="2026.11.2", state={"node": "end", "pending_number": phone}, answers=answers or {"d1_chest": "no"},
        rules_fired=["ending_end_d6"], disposition=disposition, queue=None, status=status, escalated=False,
        started_at=started, updated_at=started + timedelta(minutes=5),
        ended_at=None if status == "active" else started + timedelta(minutes=5),
    )
    db.session.add(conv)
    db.session.flush()
    for n in range(steps):
        at = started + timedelta(minutes=n)
        db.session.add(Interaction(conversation_id=conv.id, channel=channel, direction="in", kind="turn",
                                   body=f"my back hurts {n}", digits="2", created_at=at))
        db.session.add(Interaction(conversation_id=conv.id, channel=channel, direction="out", kind="turn",
                                   said="Do you have chest pain?", created_at=at))
    return conv


def callback(conv: Conversation, *, status: str = "open", queue: str = "clinical", disposition: str | None = "D5",
             created: datetime | None = None, updated: datetime | None = None) -> Callback:
    created = created or conv.started_at
    item = Callback(phone=conv.caller, conversation_id=conv.id, queue=queue, disposition=disposition,
                    priority={"D1": 1, "D2": 2, "D3": 3, "D4": 4, "D5": 5}.get(disposition or "", 6),
                    reasons=["d4_one_leg"], channel=conv.channel, status=status, due_at=created + timedelta(hours=2),
                    created_at=created, updated_at=updated or created,
                    closed_at=(updated or created) if status == "done" else None)
    db.session.add(item)
    db.session.flush()
    return item


def opt_out(phone: str, opted_out: bool, at: datetime) -> OptOut:
    row = OptOut(phone=phone, opted_out=opted_out, updated_at=at)
    db.session.add(row)
    return row


def keyword(body: str, at: datetime) -> Interaction:
    """A STOP/HELP text: logged with no conversation."""
    row = Interaction(conversation_id=None, channel="sms", direction="in", kind="keyword", body=body, created_at=at)
    db.session.add(row)
    return row


def make_staff(role: str, name: str | None = None):
    """A staff account written directly (the dashboard's own tests cover signing up and in)."""
    from helpline.staff.models import Staff

    staff = Staff(email=f"{role}.{_next_staff()}@helpline.example.org", name=name or role.title(), role=role,
                  phone=None, password_hash="not-a-hash: this account never signs in", active=True,
                  failed_logins=0, locked=False, session_version=1)
    db.session.add(staff)
    db.session.commit()
    return staff


_staff_made = [0]


def _next_staff() -> int:
    _staff_made[0] += 1
    return _staff_made[0]


def text(to: str, status: str, at: datetime, callback_id: int | None = None):
    from helpline.notify.models import Outbox

    row = Outbox(kind="missed_call", to_number=to, body="Help line 02380 248725: we tried to call you.",
                 encoding="GSM-7", segments=1, status=status, callback_id=callback_id, created_at=at, updated_at=at,
                 next_attempt_at=at)
    db.session.add(row)
    return row
