"""The outbox worker: claim a due text, send it through the adapter, record what happened.

Several workers may run at once. A row is claimed by a compare-and-set UPDATE (status pending ->
sending), selected with FOR UPDATE SKIP LOCKED on PostgreSQL so workers pass over each other's
rows instead of queueing behind them; on SQLite, where SKIP LOCKED does not exist and writes are
serialised, the same compare-and-set keeps one process (or a stray second one) safe.

The claim is committed before Twilio is called, with the time the send began, and no database
transaction is open during the call. So a worker that dies mid-send leaves a row in "sending".
Twilio's API takes no idempotency key, so such a row (or one whose request timed out after it
left) is never simply sent again: once it is older than OUTBOX_STALE_SECONDS (far longer than
the HTTP time-out) it becomes "unknown", and a worker searches Twilio's message list for a
message to that number with that body created since the attempt began. Found: the row is
recorded as accepted with that SID. Not found: the row is sent again. The list unreadable: the
row waits and is checked again later; it is never resent blind. See docs/outbound.md.
"""
from __future__ import annotations

import logging
import os
import random
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Optional, Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from ..db import db
from ..service import Helpline
from . import events, retry
from .models import ACCEPTED, CANCELLED, EXPIRED, FAILED, PENDING, SENDING, UNKNOWN, Outbox
from .outbox import catch_up, is_opted_out
from .settings import NotifySettings
from .twilio_sender import Accepted, LookupFailed, SendFailed

log = logging.getLogger(__name__)


class Sender(Protocol):
    def send(self, to: str, body: str, channel: str = "sms") -> Accepted: ...

    def find(self, to: str, body: str, since: datetime, channel: str = "sms",
             exclude: frozenset[str] = frozenset()) -> Optional[Accepted]: ...


@dataclass(frozen=True)
class Job:
    """What the worker needs from a claimed row, copied out so no transaction stays open during the call."""

    id: int
    to: str
    body: str
    channel: str
    attempts: int
    sending_at: datetime


@dataclass
class Tally:
    """What one pass did, for logs and tests."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    expired: int = 0
    unknown: int = 0
    found: int = 0
    resent: int = 0
    sla_alerts: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: "Tally") -> None:
        for name in ("sent", "retried", "failed", "cancelled", "expired", "unknown", "found", "resent", "sla_alerts"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors += other.errors

    @property
    def busy(self) -> bool:
        return bool(self.sent or self.retried or self.failed or self.cancelled or self.expired
                    or self.unknown or self.found or self.resent)


def worker_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


class Worker:
    def __init__(self, hl: Helpline, sender: Sender, settings: NotifySettings, name: str | None = None,
                 rand: Callable[[], float] = random.random):
        self.hl, self.sender, self.settings = hl, sender, settings
        self.name = name or worker_name()
        self.rand = rand

    # --- one pass ----------------------------------------------------------------------

    def run_once(self) -> Tally:
        """Check sends in doubt, alert on SLA breaches, then send up to a batch of due texts."""
        tally = Tally()
        self._guard(tally, self.check_in_doubt, tally)
        self._guard(tally, self._check_sla, tally)
        for _ in range(self.settings.batch_size):
            job = self._guard(tally, self.claim, tally)
            if job is None:
                break
            self._guard(tally, self.send, job, tally)
        return tally

    def drain(self, max_passes: int = 1000) -> Tally:
        """Pass until nothing is left that is due now (for --once and tests)."""
        total = Tally()
        for _ in range(max_passes):
            tally = self.run_once()
            total.add(tally)
            if not tally.busy:
                break
        return total

    def _guard(self, tally: Tally, fn, *args):
        """One failing step (the database restarting, a bug) is logged; the worker carries on."""
        try:
            return fn(*args)
        except OperationalError as exc:  # SQLite busy, PostgreSQL restarting: try again next pass
            db.session.rollback()
            log.warning("outbox worker: database busy or unavailable: %s", exc.__class__.__name__)
            tally.errors.append(str(exc.__class__.__name__))
        except Exception as exc:  # noqa: BLE001
            db.session.rollback()
            log.exception("outbox worker step failed")
            tally.errors.append(repr(exc))
        return None

    def _check_sla(self, tally: Tally) -> None:
        tally.sla_alerts += events.check_sla(self.hl, self.hl.now())
        db.session.commit()

    # --- claim -------------------------------------------------------------------------

    def claim(self, tally: Tally) -> Job | None:
        """Take the oldest due pending row for this worker, or None. Commits."""
        now = self.hl.now()
        while True:
            candidates = db.session.scalars(
                select(Outbox.id).where(Outbox.status == PENDING, Outbox.next_attempt_at <= now)
                # One at a time: locking more would hide rows from other workers while we send.
                .order_by(Outbox.next_attempt_at, Outbox.id).limit(1)
                .with_for_update(skip_locked=True)
            ).all()
            if not candidates:
                db.session.commit()
                return None
            for row_id in candidates:
                taken = db.session.execute(
                    update(Outbox).where(Outbox.id == row_id, Outbox.status == PENDING)
                    .values(status=SENDING, claimed_by=self.name, sending_at=now, updated_at=now,
                            attempts=Outbox.attempts + 1)
                    .execution_options(synchronize_session=False)
                ).rowcount
                if taken != 1:
                    continue  # another worker was quicker (SQLite: no row locks)
                row = db.session.get(Outbox, row_id, populate_existing=True)
                # Checked again at send time: the person may have texted STOP since it was queued.
                if is_opted_out(row.to_number):
                    row.status, row.error, row.claimed_by = CANCELLED, "opted out", None
                    tally.cancelled += 1
                elif row.expires_at is not None and row.expires_at <= now:
                    row.status, row.error, row.claimed_by = EXPIRED, "too late to be useful", None
                    tally.expired += 1
                else:
                    job = Job(row.id, row.to_number, row.body, row.channel, row.attempts, now)
                    db.session.commit()
                    return job
                db.session.commit()
                break
            else:
                db.session.commit()

    # --- send and record -----------------------------------------------------------------

    def send(self, job: Job, tally: Tally) -> None:
        try:
            accepted = self.sender.send(job.to, job.body, job.channel)
        except SendFailed as failure:
            self._failed(job, failure, tally)
        else:
            self._accepted(job, accepted, tally)

    def _mine(self, job: Job) -> Outbox | None:
        row = db.session.get(Outbox, job.id, with_for_update=True, populate_existing=True)
        if row is None:
            return None
        if row.status != SENDING or row.claimed_by != self.name or row.sending_at != job.sending_at:
            log.warning("outbox %s changed while it was being sent (now %s by %s)", row.id, row.status, row.claimed_by)
        return row

    def _accepted(self, job: Job, accepted: Accepted, tally: Tally) -> None:
        now = self.hl.now()
        row = self._mine(job)
        if row is None:
            db.session.rollback()
            return
        if row.message_sid is None:
            row.message_sid = accepted.sid
        if row.status in (SENDING, UNKNOWN, PENDING):
            row.status = ACCEPTED
        row.twilio_status = row.twilio_status or accepted.status
        row.sent_at, row.updated_at, row.claimed_by, row.error = now, now, None, None
        catch_up(row, now)
        db.session.commit()
        tally.sent += 1

    def _failed(self, job: Job, failure: SendFailed, tally: Tally) -> None:
        now = self.hl.now()
        row = self._mine(job)
        if row is None or row.status != SENDING or row.claimed_by != self.name:
            db.session.rollback()
            return
        row.error_code = str(failure.code) if failure.code is not None else None
        row.error, row.updated_at, row.claimed_by = failure.message[:2000], now, None
        if failure.outcome == retry.PERMANENT:
            row.status = FAILED
            tally.failed += 1
            log.warning("outbox %s (%s) failed for good: %s %s", row.id, row.kind, failure.code, failure.message)
        elif failure.outcome == retry.UNKNOWN:
            row.status = UNKNOWN
            row.next_attempt_at = now + timedelta(seconds=self.settings.check_delay_seconds)
            tally.unknown += 1
            log.warning("outbox %s: cannot tell whether Twilio took it (%s); will check", row.id, failure.message)
        else:
            self._retry_or_give_up(row, now, tally)
        db.session.commit()

    def _retry_or_give_up(self, row: Outbox, now: datetime, tally: Tally) -> None:
        if row.attempts >= self.settings.max_attempts:
            row.status = FAILED
            row.error = f"gave up after {row.attempts} attempts: {row.error or ''}"[:2000]
            tally.failed += 1
            log.error("outbox %s (%s) gave up after %s attempts", row.id, row.kind, row.attempts)
            return
        row.status = PENDING
        row.next_attempt_at = now + retry.backoff(row.attempts, self.settings.retry_base_seconds,
                                                  self.settings.retry_max_seconds, self.rand)
        tally.retried += 1

    # --- sends in doubt ------------------------------------------------------------------

    def check_in_doubt(self, tally: Tally) -> None:
        """Settle rows whose send may or may not have reached Twilio, one at a time."""
        for _ in range(self.settings.batch_size):
            claimed = self._claim_in_doubt()
            if claimed is None:
                return
            row_id, to, body, channel, since = claimed
            exclude = frozenset(db.session.scalars(
                select(Outbox.message_sid).where(Outbox.to_number == to, Outbox.message_sid.is_not(None))
            ).all())
            db.session.commit()
            try:
                found = self.sender.find(to, body, since, channel, exclude)
            except LookupFailed as exc:
                self._still_in_doubt(row_id, str(exc))
                tally.errors.append(f"lookup {row_id}: {exc}")
                continue
            self._settle(row_id, found, tally)

    def _claim_in_doubt(self):
        """Take one unknown row, or one "sending" row older than the stale limit, for checking."""
        now = self.hl.now()
        stale_before = now - timedelta(seconds=self.settings.stale_seconds)
        lease = now + timedelta(seconds=max(self.settings.stale_seconds, 60))
        candidates = db.session.execute(
            select(Outbox.id, Outbox.status, Outbox.next_attempt_at, Outbox.sending_at).where(
                ((Outbox.status == UNKNOWN) & (Outbox.next_attempt_at <= now))
                | ((Outbox.status == SENDING) & (Outbox.sending_at < stale_before))
            ).order_by(Outbox.id).limit(5).with_for_update(skip_locked=True)
        ).all()
        for row_id, status, next_at, sending_at in candidates:
            # Compare-and-set on what we read, and a lease: one checker at a time per row.
            taken = db.session.execute(
                update(Outbox).where(Outbox.id == row_id, Outbox.status == status,
                                     Outbox.next_attempt_at == next_at, Outbox.sending_at == sending_at)
                .values(status=UNKNOWN, claimed_by=self.name, next_attempt_at=lease, updated_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            if taken == 1:
                row = db.session.get(Outbox, row_id, populate_existing=True)
                if status == SENDING:
                    log.warning("outbox %s was left mid-send by %s; checking with Twilio", row_id, row.claimed_by)
                result = (row.id, row.to_number, row.body, row.channel, row.sending_at or row.created_at)
                db.session.commit()
                return result
        db.session.commit()
        return None

    def _checked_row(self, row_id: int) -> Outbox | None:
        row = db.session.get(Outbox, row_id, with_for_update=True, populate_existing=True)
        if row is None or row.status != UNKNOWN or row.claimed_by != self.name:
            db.session.rollback()
            return None  # settled meanwhile (a status callback, or another checker after our lease)
        return row

    def _settle(self, row_id: int, found: Accepted | None, tally: Tally) -> None:
        now = self.hl.now()
        row = self._checked_row(row_id)
        if row is None:
            return
        row.claimed_by, row.updated_at = None, now
        if found is not None:
            row.status, row.message_sid, row.sent_at = ACCEPTED, found.sid, row.sending_at or now
            row.twilio_status, row.error = found.status, None
            catch_up(row, now)
            tally.found += 1
            log.info("outbox %s: Twilio already had it as %s; not sent again", row.id, found.sid)
        elif row.attempts >= self.settings.max_attempts:
            row.status, row.error = FAILED, f"gave up after {row.attempts} attempts: {row.error or ''}"[:2000]
            tally.failed += 1
        else:
            row.status, row.next_attempt_at = PENDING, now
            tally.resent += 1
            log.info("outbox %s: Twilio does not have it; sending again", row.id)
        db.session.commit()

    def _still_in_doubt(self, row_id: int, error: str) -> None:
        now = self.hl.now()
        row = self._checked_row(row_id)
        if row is None:
            return
        row.claimed_by, row.updated_at, row.error = None, now, f"lookup failed: {error}"[:2000]
        row.next_attempt_at = now + retry.backoff(row.attempts, self.settings.retry_base_seconds,
                                                  self.settings.retry_max_seconds, self.rand)
        log.error("outbox %s: cannot check with Twilio (%s); not resending blind", row.id, error)
        db.session.commit()
