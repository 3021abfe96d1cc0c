"""Outbound texts: queued as outbox rows in the event's own transaction, sent later by the worker.

The use cases call these; none of them commits or talks to Twilio.
"""
from .events import (
    callback_requested, can_text_advice, check_sla, queue_advice_text, queue_missed_call_text,
    queue_unreachable_safety_net,
)
from .models import Outbox
from .outbox import TextRejected, check_text, enqueue_text, is_opted_out, queue_text, record_delivery_status

__all__ = [
    "Outbox", "TextRejected", "callback_requested", "can_text_advice", "check_sla", "check_text",
    "enqueue_text", "is_opted_out", "queue_advice_text", "queue_missed_call_text", "queue_text",
    "queue_unreachable_safety_net", "record_delivery_status",
]
