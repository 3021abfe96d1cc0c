"""What each help-line event puts in the outbox. Called inside the event's use case; never commits.

A text that cannot be queued (a wording or settings mistake caught by the encoding check) is
logged and skipped: it must never fail the call or text that caused it.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import exists, select

from ..db import db
from ..models import Callback, Conversation
from ..service import Helpline
from . import messages
from .models import Outbox
from .outbox import TextRejected, enqueue_text, is_opted_out, queue_text
from .settings import current

if TYPE_CHECKING:
    from ..callbacks import QueuedCallback

log = logging.getLogger(__name__)

# Texts people read on their own: advice and confirmations may run to several parts; the
# safety net and staff alerts are short (a long PUBLIC_BASE_URL may push an alert to two).
ADVICE_MAX_SEGMENTS = 10
SAFETY_NET_MAX_SEGMENTS = 1
ALERT_MAX_SEGMENTS = 2
URGENT = ("D3", "D4")


def _refused_is_logged(queue: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A text refused by the checks is logged and skipped: it must never fail its event."""
    try:
        return queue(*args, **kwargs)
    except TextRejected:
        log.exception("a %s text was not queued", kwargs.get("kind") or args[2])
        return None


def _enqueue(*args: Any, **kwargs: Any) -> int | None:
    """Queue a text; the row's id, or None when it was refused."""
    return _refused_is_logged(enqueue_text, *args, **kwargs)


def _queue(*args: Any, **kwargs: Any) -> Outbox | None:
    """Queue a text; the row, for callers that look at it, or None when it was refused."""
    return _refused_is_logged(queue_text, *args, **kwargs)


def _person_channel(callback: Callback | QueuedCallback) -> str:
    # People hear back on the channel they used; callers get a text.
    return "whatsapp" if callback.channel == "whatsapp" else "sms"


# --- The callback queue ------------------------------------------------------------------

def callback_requested(hl: Helpline, callback: QueuedCallback, now: datetime) -> None:
    """A case went on the queue (or an open one was raised): confirm to the person, alert staff.

    `callback` is the stored item: its id goes into keys and links.
    Welfare checks (after 999 or A&E advice) get no confirmation: the person must not wait for us.
    """
    if callback.queue != "welfare" and callback.phone:
        _confirm(hl, callback, now)
    if callback.queue == "welfare":
        _alert_staff(callback, messages.ALERT_WELFARE, f"welfare:{callback.id}", now,
                     lambda link: messages.alert_welfare(link))
    elif callback.disposition in URGENT:
        due = hl.hours.local_hhmm(callback.due_at)
        _alert_staff(callback, messages.ALERT_URGENT, f"urgent:{callback.id}", now,
                     lambda link: messages.alert_urgent(link, due))


def _confirm(hl: Helpline, callback: QueuedCallback, now: datetime) -> None:
    due = messages.when(callback.due_at, now, hl.hours.tz, hl.hours.local_hhmm(callback.due_at))
    # A later request that moves the due time gets a new confirmation; a repeat does not.
    key = f"confirm:{callback.id}:{callback.due_at.isoformat(timespec='minutes')}"
    _enqueue(callback.phone, messages.callback_confirmation(due, callback.disposition),
           messages.CALLBACK_CONFIRMATION, now, channel=_person_channel(callback), dedupe_key=key,
           callback_id=callback.id, conversation_id=callback.conversation_id,
           expires_at=callback.due_at, max_segments=ADVICE_MAX_SEGMENTS)


def _alert_staff(callback: Callback | QueuedCallback, kind: str, key: str, now: datetime, wording) -> int:
    settings = current()
    body = wording(messages.case_link(settings.public_base_url, callback.id))
    queued = 0
    for number in settings.staff_numbers:
        row_id = _enqueue(number, body, kind, now, dedupe_key=f"{key}:{number}", callback_id=callback.id,
                          max_segments=ALERT_MAX_SEGMENTS)
        queued += row_id is not None
    if not settings.staff_numbers:
        log.warning("no HELPLINE_STAFF_ALERT_NUMBERS: no %s alert for case %s", kind, callback.id)
    return queued


def check_sla(hl: Helpline, now: datetime) -> int:
    """Alert staff once for each open callback past its due time. Returns how many items were alerted."""
    if not current().staff_numbers:
        return 0
    overdue = db.session.scalars(
        select(Callback).where(
            Callback.status == "open", Callback.due_at < now,
            ~exists().where(Outbox.callback_id == Callback.id, Outbox.kind == messages.ALERT_SLA),
        ).order_by(Callback.due_at).limit(100)
    ).all()
    for item in overdue:
        due = hl.hours.local_hhmm(item.due_at)
        _alert_staff(item, messages.ALERT_SLA, f"sla:{item.id}", now, lambda link: messages.alert_sla(link, due))
    return len(overdue)


def queue_missed_call_text(callback: Callback, now: datetime, attempt: Any = None) -> Outbox | None:
    """After a callback attempt that nobody answered: "we tried to call you". One per attempt."""
    if not callback.phone:
        return None
    db.session.flush()
    ref = attempt if attempt is not None else now.isoformat(timespec="seconds")
    return _queue(callback.phone, messages.missed_call(welfare=callback.queue == "welfare"),
                  messages.MISSED_CALL, now, channel=_person_channel(callback),
                  dedupe_key=f"missed:{callback.id}:{ref}", callback_id=callback.id,
                  conversation_id=callback.conversation_id, max_segments=2)


def queue_unreachable_safety_net(callback: Callback, now: datetime) -> Outbox | None:
    """When staff give up reaching someone: the safety net, in one GSM-7 segment. Once per item."""
    if not callback.phone:
        return None
    db.session.flush()
    return _queue(callback.phone, messages.unreachable(), messages.UNREACHABLE, now,
                  channel=_person_channel(callback), dedupe_key=f"unreachable:{callback.id}",
                  callback_id=callback.id, conversation_id=callback.conversation_id,
                  max_segments=SAFETY_NET_MAX_SEGMENTS)


# --- After a call: the advice by text ------------------------------------------------------

def _ending(hl: Helpline, conv: Conversation):
    flow = hl.flows.get(conv.flow_id)
    end_node = (conv.state or {}).get("end_node")
    if flow is None or not end_node or end_node not in flow.nodes:
        return None, None
    return flow, flow.node(end_node)


def can_text_advice(hl: Helpline, conv: Conversation) -> bool:
    """Offer "press 1 for a text" only after a non-emergency ending, to a number we have and may text."""
    if conv.channel != "voice" or not conv.caller:
        return False
    flow, node = _ending(hl, conv)
    if node is None or node.emergency or not node.text.sms:
        return False
    return not is_opted_out(conv.caller)


def queue_advice_text(hl: Helpline, conv: Any, now: datetime) -> int | None:
    """The caller pressed 1: text them the advice and the safety net they heard. Once per call.

    The outbox row's id, or None. `conv` is stored (a turn's record): the text goes in on the
    turn's connection."""
    if not can_text_advice(hl, conv):
        return None
    flow, node = _ending(hl, conv)
    variables = hl.context("sms", now).variables
    safety_net = messages.fill(flow.safety_net.sms, variables) if node.safety_net else ""
    body = messages.advice(messages.fill(node.text.sms, variables), safety_net)
    return _enqueue(conv.caller, body, messages.ADVICE, now, dedupe_key=f"advice:{conv.id}",
                    conversation_id=conv.id, max_segments=ADVICE_MAX_SEGMENTS)
