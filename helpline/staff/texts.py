"""Texts to the patient when a callback does not reach them."""
from __future__ import annotations

from datetime import datetime

from .. import notify
from ..models import Callback


def queue_for_missed_callback(item: Callback, final: bool, now: datetime) -> None:
    """The one place where a missed callback queues its texts to the patient, in the caller's transaction.

    After a try that did not reach them and will be repeated: "we tried to call you"; after the
    last try: the safety net (we could not reach you; when to call 999, go to A&E or call 111).
    The outbox (helpline.notify) sends them after commit and skips withheld and opted-out numbers.
    """
    if final:
        notify.queue_unreachable_safety_net(item, now)
    else:
        notify.queue_missed_call_text(item, now, attempt=item.attempts)
