"""Working the callback queue: list, claim, release, reassign, move, attempts, outcomes and notes.

Each use case checks who may do it, changes the item, writes its audit row and commits once.
A claim is one conditional UPDATE, so exactly one member of staff wins however many web
processes race for the same item.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, select, update
from sqlalchemy.orm import selectinload

from ..db import db, rare
from ..models import Callback
from . import audit, texts
from .models import CallbackAttempt, CallbackOutcome, CaseNote, Staff
from .settings import StaffSettings, tier, tier_name

SUPERVISOR = "supervisor"
WORKING = ("open", "claimed")  # on the queue; "unreachable" items wait for a supervisor

# The fixed list of outcomes; True closes the item, False sends it round for another try.
OUTCOMES: dict[str, tuple[str, bool]] = {
    "reached_advice": ("Reached: advice given", True),
    "reached_gp": ("Reached: sent to GP", True),
    "reached_111": ("Reached: sent to NHS 111", True),
    "reached_ae": ("Reached: sent to A&E", True),
    "physio_booked": ("Physio booked", True),
    "no_answer": ("No answer", False),
    "voicemail": ("Voicemail left without clinical detail", False),
    "wrong_number": ("Wrong number", True),
    "declined": ("Declined", True),
}

# What a try at calling came to. The first five count towards the attempts; the others do not,
# because the patient's phone never rang (staff did not pick up their own, or hung up first).
ATTEMPT_RESULTS = {
    "answered": "Answered",
    "no_answer": "No answer",
    "busy": "Busy",
    "failed": "Failed",
    "voicemail": "Voicemail",
    "staff_unanswered": "Staff phone not answered",
    "cancelled": "Ended before the patient's phone answered",
    "not_placed": "Call could not be placed",
}
COUNTED = {"answered", "no_answer", "busy", "failed", "voicemail"}
NOT_REACHED = {"no_answer", "busy", "failed", "voicemail"}
MANUAL_RESULTS = ("answered", "no_answer", "busy", "failed", "voicemail")
MAX_NOTE = 5000


class QueueError(Exception):
    """A queue action that cannot be done; the message is safe to show to staff."""


class NotFound(QueueError):
    pass


class NotAllowed(QueueError):
    pass


class Taken(QueueError):
    """Someone else holds the item."""


class NotHolder(QueueError):
    """Only the member of staff holding the item may do this."""


class Invalid(QueueError):
    pass


# --- reading the queue ---------------------------------------------------------------

@dataclass(frozen=True)
class QueueFilter:
    queue: str | None = None
    mine: bool = False
    unclaimed: bool = False
    overdue: bool = False
    tier: int | None = None


@dataclass(frozen=True)
class QueueRow:
    item: Callback
    deadline: datetime
    overdue: bool
    waiting: timedelta
    holder: str | None
    tier: int
    tier_name: str
    retry_at: datetime | None  # set while a failed item waits for its next try

    @property
    def id(self) -> int:
        return self.item.id


def visible_statuses(staff: Staff) -> tuple[str, ...]:
    return (*WORKING, "unreachable") if staff.role == SUPERVISOR else WORKING


def list_items(settings: StaffSettings, staff: Staff, flt: QueueFilter, now: datetime) -> list[QueueRow]:
    """The items a member of staff may work, most urgent tier first, then by due (or next-try) time."""
    return queue_page(settings, staff, flt, now, limit=None).rows


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]  # the most urgent, at most the page size
    total: int  # how many match the filters


def queue_page(settings: StaffSettings, staff: Staff, flt: QueueFilter, now: datetime,
               limit: int | None = -1) -> QueuePage:
    """The top of the queue (settings.page_size rows unless told): staff work from the top, and
    the page is polled every few seconds, so only the rows shown are loaded as whole records."""
    limit = settings.page_size if limit == -1 else limit
    queues = [q.name for q in settings.queues_for(staff.role)]
    if flt.queue:
        queues = [q for q in queues if q == flt.queue]
    if not queues:
        return QueuePage([], 0)
    query = (select(Callback.id, Callback.queue, Callback.disposition, Callback.priority, Callback.due_at,
                    Callback.created_at, Callback.next_attempt_at)
             .where(rare(Callback.status.in_(visible_statuses(staff))), Callback.queue.in_(queues)))
    if flt.mine:
        query = query.where(Callback.claimed_by_id == staff.id)
    if flt.unclaimed:
        query = query.where(Callback.claimed_by_id.is_(None))
    # Deadlines and tiers depend on settings, so order in Python over narrow rows, then load the top.
    # The narrow rows come as plain Core rows from the session's connection: through the ORM's
    # execution they cost about twice as much (the page 39 -> 33 ms with 5,445 items waiting).
    narrow = db.session.connection().execute(query)
    ranked = []
    for item_id, queue_name, disposition, priority, due_at, created_at, next_attempt_at in narrow:
        deadline = settings.deadline(queue_name, created_at, due_at)
        level = tier(queue_name, disposition, priority)
        retry_at = next_attempt_at if next_attempt_at and next_attempt_at > now else None
        if (flt.overdue and not deadline < now) or (flt.tier is not None and level != flt.tier):
            continue
        ranked.append((level, retry_at or deadline, item_id, deadline, retry_at))
    ranked.sort(key=lambda r: r[:3])
    shown = ranked if limit is None else ranked[:limit]
    items = {item.id: item for item in db.session.scalars(
        select(Callback).options(selectinload(Callback.claimed_by)).where(Callback.id.in_([r[2] for r in shown])))}
    rows = []
    for level, _, item_id, deadline, retry_at in shown:
        item = items.get(item_id)
        if item is None:  # closed or deleted between the two reads
            continue
        rows.append(QueueRow(
            item=item, deadline=deadline, overdue=deadline < now, waiting=now - item.created_at,
            holder=item.claimed_by.name if item.claimed_by else None, tier=level,
            tier_name=tier_name(item.queue, item.disposition, item.priority), retry_at=retry_at,
        ))
    return QueuePage(rows=rows, total=len(ranked))


def staff_who_may_work(settings: StaffSettings, queue: str) -> list[Staff]:
    """Active staff whose role may work `queue`: the choices when a supervisor reassigns."""
    roles = settings.queues[queue].roles if queue in settings.queues else frozenset()
    return list(db.session.scalars(
        select(Staff).where(Staff.active.is_(True), Staff.role.in_(roles)).order_by(Staff.name)))


# --- claiming ------------------------------------------------------------------------

def claim(settings: StaffSettings, staff: Staff, callback_id: int, now: datetime) -> Callback:
    """Take an item: one conditional UPDATE, so of any number of racing claims exactly one wins."""
    queues = [q.name for q in settings.queues_for(staff.role)]
    claimable = ["open", "unreachable"] if staff.role == SUPERVISOR else ["open"]
    # The UPDATE comes first in the transaction: on SQLite that takes the write lock before any
    # read, and on PostgreSQL a loser waits for the winner's commit and then matches nothing.
    result = db.session.execute(
        update(Callback)
        .where(Callback.id == callback_id, Callback.claimed_by_id.is_(None),
               Callback.status.in_(claimable), Callback.queue.in_(queues or ["-"]))
        .values(claimed_by_id=staff.id, claimed_at=now, updated_at=now,
                status=case((Callback.status == "open", "claimed"), else_=Callback.status))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        item = db.session.get(Callback, callback_id)
        if item is not None and item.claimed_by_id == staff.id:
            return item  # a double click: it is already yours
        raise _why_not(settings, staff, item)
    item = db.session.get(Callback, callback_id, populate_existing=True)
    audit.record("claim", staff, now, item)
    db.session.commit()
    return item


def _why_not(settings: StaffSettings, staff: Staff, item: Callback | None) -> QueueError:
    if item is None:
        return NotFound("That item is not on the queue.")
    if not settings.may_work(staff.role, item.queue):
        return NotAllowed("Your role does not work that queue.")
    if item.claimed_by_id is not None:
        holder = item.claimed_by.name if item.claimed_by else "someone else"
        return Taken(f"{holder} has already taken that item.")
    if item.status == "done":
        return Invalid("That item is already closed.")
    if item.status == "unreachable":
        return NotAllowed("That item is waiting for a supervisor.")
    return Invalid("That item cannot be claimed now.")


def _locked(callback_id: int) -> Callback:
    item = db.session.scalars(select(Callback).where(Callback.id == callback_id).with_for_update()).first()
    if item is None:
        raise NotFound("That item is not on the queue.")
    return item


def _unclaim(item: Callback) -> None:
    item.claimed_by_id, item.claimed_at = None, None
    if item.status == "claimed":
        item.status = "open"


def release(settings: StaffSettings, staff: Staff, callback_id: int, now: datetime) -> Callback:
    """Put a held item back on the queue: the holder, or a supervisor for anyone."""
    item = _locked(callback_id)
    if item.claimed_by_id is None:
        db.session.rollback()
        raise Invalid("Nobody holds that item.")
    if item.claimed_by_id != staff.id and staff.role != SUPERVISOR:
        db.session.rollback()
        raise NotHolder("Only the person holding an item (or a supervisor) can release it.")
    holder = item.claimed_by_id
    _unclaim(item)
    item.updated_at = now
    audit.record("release", staff, now, item, {"holder": holder})
    db.session.commit()
    return item


def reassign(settings: StaffSettings, staff: Staff, callback_id: int, to_staff_id: int, now: datetime) -> Callback:
    """A supervisor gives an item to a named member of staff whose role works its queue."""
    if staff.role != SUPERVISOR:
        raise NotAllowed("Only a supervisor can reassign.")
    item = _locked(callback_id)
    target = db.session.get(Staff, to_staff_id)
    try:
        if item.status not in (*WORKING, "unreachable"):
            raise Invalid("That item is already closed.")
        if target is None or not target.active:
            raise NotFound("No such member of staff.")
        if not settings.may_work(target.role, item.queue):
            raise NotAllowed(f"{target.name} does not work the {item.queue} queue.")
    except QueueError:
        db.session.rollback()
        raise
    before = item.claimed_by_id
    item.claimed_by_id, item.claimed_at, item.updated_at = target.id, now, now
    if item.status == "open":
        item.status = "claimed"
    audit.record("reassign", staff, now, item, {"from": before, "to": target.id})
    db.session.commit()
    return item


def move(settings: StaffSettings, staff: Staff, callback_id: int, queue: str, now: datetime) -> Callback:
    """A supervisor moves an item to another queue; a holder who does not work that queue lets go."""
    if staff.role != SUPERVISOR:
        raise NotAllowed("Only a supervisor can move items between queues.")
    if queue not in settings.queues:
        raise Invalid(f"There is no {queue!r} queue.")
    item = _locked(callback_id)
    if item.status not in (*WORKING, "unreachable"):
        db.session.rollback()
        raise Invalid("That item is already closed.")
    before = item.queue
    item.queue, item.updated_at = queue, now
    if item.claimed_by is not None and not settings.may_work(item.claimed_by.role, queue):
        _unclaim(item)
    audit.record("move", staff, now, item, {"from": before, "to": queue})
    db.session.commit()
    return item


# --- attempts and outcomes -----------------------------------------------------------

def _held(staff: Staff, callback_id: int) -> Callback:
    item = _locked(callback_id)
    if item.claimed_by_id != staff.id or item.status not in ("claimed", "unreachable"):
        db.session.rollback()
        raise NotHolder("Claim the item first.")
    return item


def apply_result(settings: StaffSettings, item: Callback, result: str, staff: Staff | None, now: datetime) -> None:
    """Count an attempt that reached the patient's phone; one that did not reach them goes round again."""
    if result not in COUNTED:
        return
    item.attempts += 1
    item.first_attempt_at = item.first_attempt_at or now
    item.updated_at = now
    if result in NOT_REACHED:
        not_reached(settings, item, staff, now)


def not_reached(settings: StaffSettings, item: Callback, staff: Staff | None, now: datetime) -> None:
    """Back on the queue for the next try, or after the last one to a supervisor as unreachable."""
    _unclaim(item)
    if item.attempts >= settings.max_attempts:
        item.status, item.unreachable_at, item.next_attempt_at = "unreachable", now, None
        audit.record("unreachable", staff, now, item, {"attempts": item.attempts})
        texts.queue_for_missed_callback(item, final=True, now=now)
    else:
        item.status, item.next_attempt_at = "open", now + settings.retry_after
        texts.queue_for_missed_callback(item, final=False, now=now)


def record_attempt(settings: StaffSettings, staff: Staff, callback_id: int, result: str,
                   duration_seconds: int | None, now: datetime) -> CallbackAttempt:
    """Record a call dialled some other way than the dialler."""
    if result not in MANUAL_RESULTS:
        raise Invalid("Choose what happened on the call.")
    if duration_seconds is not None and not 0 <= duration_seconds <= 6 * 3600:
        raise Invalid("The call length must be between 0 seconds and 6 hours.")
    item = _held(staff, callback_id)
    attempt = CallbackAttempt(callback_id=item.id, staff_id=staff.id, method="manual", result=result,
                              duration_seconds=duration_seconds, started_at=now, ended_at=now)
    db.session.add(attempt)
    audit.record("attempt", staff, now, item, {"result": result, "method": "manual"})
    apply_result(settings, item, result, staff, now)
    db.session.commit()
    return attempt


def record_outcome(settings: StaffSettings, staff: Staff, callback_id: int, outcome: str,
                   note: str | None, now: datetime) -> CallbackOutcome:
    """Record what came of the callback: close the item, or (no answer, voicemail) send it round again."""
    if outcome not in OUTCOMES:
        raise Invalid("Choose an outcome from the list.")
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise Invalid(f"A note can be at most {MAX_NOTE} characters.")
    item = _held(staff, callback_id)
    row = CallbackOutcome(callback_id=item.id, staff_id=staff.id, outcome=outcome, note=note, created_at=now)
    db.session.add(row)
    audit.record("outcome", staff, now, item, {"outcome": outcome})
    closes = OUTCOMES[outcome][1]
    if closes:
        item.status, item.outcome, item.closed_at, item.closed_by_id = "done", outcome, now, staff.id
        item.next_attempt_at, item.updated_at = None, now
        item.first_attempt_at = item.first_attempt_at or now
    else:
        _not_reached_by_outcome(settings, item, staff, outcome, now)
    db.session.commit()
    return row


def _not_reached_by_outcome(settings: StaffSettings, item: Callback, staff: Staff, outcome: str, now: datetime) -> None:
    """No answer or voicemail: correct the attempt this claim made, or record one if it made none."""
    since = item.claimed_at or item.created_at
    last = db.session.scalars(
        select(CallbackAttempt).where(CallbackAttempt.callback_id == item.id, CallbackAttempt.started_at >= since,
                                      CallbackAttempt.result == "answered")
        .order_by(CallbackAttempt.id.desc())
    ).first()
    if last is not None:
        # Twilio saw the line answered; staff heard a voicemail greeting or nobody there.
        last.result = outcome
        item.updated_at = now
        not_reached(settings, item, staff, now)
        return
    db.session.add(CallbackAttempt(callback_id=item.id, staff_id=staff.id, method="manual", result=outcome,
                                   started_at=now, ended_at=now))
    apply_result(settings, item, outcome, staff, now)


def add_note(settings: StaffSettings, staff: Staff, callback_id: int, body: str, now: datetime) -> CaseNote:
    """Add a note to a case; anyone who may work its queue may write one."""
    body = (body or "").strip()
    if not body:
        raise Invalid("The note is empty.")
    if len(body) > MAX_NOTE:
        raise Invalid(f"A note can be at most {MAX_NOTE} characters.")
    item = db.session.get(Callback, callback_id)
    if item is None:
        raise NotFound("That item is not on the queue.")
    if not settings.may_work(staff.role, item.queue):
        raise NotAllowed("Your role does not work that queue.")
    note = CaseNote(callback_id=item.id, staff_id=staff.id, body=body, created_at=now)
    db.session.add(note)
    audit.record("note", staff, now, item)
    db.session.commit()
    return note
