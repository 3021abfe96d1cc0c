"""Calling back through the dialler: ring the member of staff, then connect the patient.

Twilio tells us how it went twice: the Dial action reports the patient's line (answered, busy,
no answer, failed, with its duration) and the status callback reports the staff member's own
phone. Both may arrive more than once and in either order; each update is idempotent.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from sqlalchemy import select

from ..db import db
from ..models import Callback
from . import audit
from .dialer import Dialer, DialerError
from .models import CallbackAttempt, Staff
from .queue import Invalid, NotHolder, NotFound, apply_result
from .settings import StaffSettings

# Twilio's DialCallStatus for the patient's line, as attempt results.
DIAL_RESULTS = {
    "completed": "answered",
    "answered": "answered",
    "busy": "busy",
    "no-answer": "no_answer",
    "failed": "failed",
    "canceled": "cancelled",
}
STAFF_LEG_UNANSWERED = {"busy", "no-answer", "failed", "canceled"}


def call_back(settings: StaffSettings, dialer: Dialer, staff: Staff, callback_id: int, caller_id: str,
              urls: Callable[[int], tuple[str, str]], now: datetime) -> CallbackAttempt:
    """Ring the staff member's own phone; when they answer, Twilio dials the patient from the help line's number.

    Commits the attempt before asking Twilio, because Twilio fetches the TwiML for this attempt
    as soon as the staff phone answers, which can be before calls.create returns; then commits
    the CallSid (or the failure).
    """
    item = db.session.get(Callback, callback_id)
    if item is None:
        raise NotFound("That item is not on the queue.")
    if item.claimed_by_id != staff.id or item.status not in ("claimed", "unreachable"):
        raise NotHolder("Claim the item first.")
    if not item.phone:
        raise Invalid("The caller withheld their number: there is nobody to call back.")
    if not staff.phone:
        raise Invalid("Your account has no phone number for the dialler to ring.")
    attempt = CallbackAttempt(callback_id=item.id, staff_id=staff.id, method="dialler", started_at=now)
    db.session.add(attempt)
    db.session.flush()
    audit.record("call_placed", staff, now, item, {"attempt": attempt.id})
    db.session.commit()
    twiml_url, status_url = urls(attempt.id)
    try:
        sid = dialer.call(to=staff.phone, caller_id=caller_id, twiml_url=twiml_url, status_url=status_url)
    except DialerError as exc:
        attempt.result, attempt.ended_at = "not_placed", now
        audit.record("call_failed", staff, now, item, {"attempt": attempt.id, "error": str(exc)[:200]})
        db.session.commit()
        raise Invalid("The call could not be placed. Try again, or dial from your phone and record the attempt.") from exc
    attempt.call_sid = sid
    db.session.commit()
    return attempt


def patient_number(attempt_id: int) -> str | None:
    """The number to dial when the staff phone answers, only while that attempt is still live."""
    attempt = db.session.get(CallbackAttempt, attempt_id)
    if attempt is None or attempt.result is not None or attempt.method != "dialler":
        return None
    item = attempt.callback
    if item.claimed_by_id != attempt.staff_id or item.status not in ("claimed", "unreachable"):
        return None
    return item.phone


def _attempt_for_update(attempt_id: int) -> CallbackAttempt | None:
    return db.session.scalars(
        select(CallbackAttempt).where(CallbackAttempt.id == attempt_id).with_for_update()).first()


def record_dial_result(settings: StaffSettings, attempt_id: int, dial_status: str, duration: int | None,
                       now: datetime) -> None:
    """The Dial action: how the patient's line answered. Counts the attempt once; repeats change nothing."""
    result = DIAL_RESULTS.get(dial_status)
    attempt = _attempt_for_update(attempt_id)
    if result is None or attempt is None or attempt.method != "dialler":
        db.session.rollback()
        return
    # A status callback may have got here first and called it cancelled; the Dial's word is final.
    if attempt.result not in (None, "cancelled"):
        db.session.rollback()
        return
    item = db.session.scalars(select(Callback).where(Callback.id == attempt.callback_id).with_for_update()).one()
    attempt.result, attempt.duration_seconds, attempt.ended_at = result, duration, now
    staff = attempt.staff
    audit.record("attempt", staff, now, item, {"result": result, "method": "dialler", "attempt": attempt.id})
    apply_result(settings, item, result, staff, now)
    db.session.commit()


def record_staff_leg(attempt_id: int, call_status: str, now: datetime) -> None:
    """The status callback for the staff member's own phone."""
    attempt = _attempt_for_update(attempt_id)
    if attempt is None or not call_status:
        db.session.rollback()
        return
    attempt.staff_leg = call_status[:16]
    if attempt.result is None:
        if call_status in STAFF_LEG_UNANSWERED:
            attempt.result, attempt.ended_at = "staff_unanswered", now
        elif call_status == "completed":
            # Ended before any Dial result: staff hung up before the patient's line answered.
            attempt.result, attempt.ended_at = "cancelled", now
    db.session.commit()

