"""What supervisors watch: waiting items per tier, the oldest, today's SLA breaches, time to callback."""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..db import db, rare
from ..models import Callback
from .queue import WORKING
from .settings import TIERS, StaffSettings, tier


@dataclass(frozen=True)
class TierCount:
    tier: int
    label: str
    open: int
    claimed: int
    unreachable: int


@dataclass(frozen=True)
class Breach:
    item: Callback
    deadline: datetime
    first_attempt_at: datetime | None


@dataclass(frozen=True)
class Overview:
    tiers: list[TierCount]
    oldest: Callback | None
    oldest_waiting: timedelta | None
    breaches_today: list[Breach]
    unreachable: list[Callback]


@dataclass(frozen=True)
class Stats:
    count: int
    median_minutes: float
    p90_minutes: float


def local_midnight(now: datetime, tz: str) -> datetime:
    """Naive UTC for the start of today where the help line is."""
    zone = ZoneInfo(tz)
    local = now.replace(tzinfo=timezone.utc).astimezone(zone)
    return datetime.combine(local.date(), time(0), zone).astimezone(timezone.utc).replace(tzinfo=None)


def overview(settings: StaffSettings, now: datetime) -> Overview:
    counts = {p: {"open": 0, "claimed": 0, "unreachable": 0} for p in TIERS}
    rows = db.session.execute(
        select(Callback.queue, Callback.disposition, Callback.priority, Callback.status, func.count())
        .where(rare(Callback.status.in_((*WORKING, "unreachable"))))
        .group_by(Callback.queue, Callback.disposition, Callback.priority, Callback.status))
    for queue, disposition, priority, status, n in rows:
        level = tier(queue, disposition, priority)
        counts.setdefault(level, {"open": 0, "claimed": 0, "unreachable": 0})[status] += n
    tiers = [TierCount(p, TIERS.get(p, f"Tier {p}"), c["open"], c["claimed"], c["unreachable"])
             for p, c in sorted(counts.items())]
    oldest = db.session.scalars(
        select(Callback).where(Callback.status == "open").order_by(Callback.created_at, Callback.id).limit(1)).first()
    midnight = local_midnight(now, settings.timezone)
    # An item's deadline is never later than its due time, so due_at >= midnight finds every candidate.
    candidates = db.session.scalars(
        select(Callback).where(Callback.due_at >= midnight, Callback.created_at <= now)
        .options(selectinload(Callback.claimed_by))).all()
    breaches = []
    for item in candidates:
        deadline = settings.deadline(item.queue, item.created_at, item.due_at)
        if midnight <= deadline <= now and (item.first_attempt_at is None or item.first_attempt_at > deadline):
            breaches.append(Breach(item, deadline, item.first_attempt_at))
    breaches.sort(key=lambda b: (tier(b.item.queue, b.item.disposition, b.item.priority), b.deadline))
    unreachable = sorted(
        db.session.scalars(select(Callback).where(Callback.status == "unreachable")
                           .options(selectinload(Callback.claimed_by))),
        key=lambda i: (tier(i.queue, i.disposition, i.priority), i.unreachable_at or i.created_at))
    return Overview(tiers=tiers, oldest=oldest, oldest_waiting=(now - oldest.created_at) if oldest else None,
                    breaches_today=breaches, unreachable=list(unreachable))


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(rank) - 1]


def time_to_callback(now: datetime, days: int) -> dict[int, Stats]:
    """Per tier: minutes from joining the queue to the first call, for items first called in the last `days`."""
    since = now - timedelta(days=days)
    rows = db.session.execute(
        select(Callback.queue, Callback.disposition, Callback.priority, Callback.created_at,
               Callback.first_attempt_at)
        .where(Callback.first_attempt_at.is_not(None), Callback.first_attempt_at >= since,
               Callback.first_attempt_at <= now))
    minutes: dict[int, list[float]] = {}
    for queue, disposition, priority, created, first in rows:
        waited = max((first - created).total_seconds(), 0) / 60
        minutes.setdefault(tier(queue, disposition, priority), []).append(waited)
    return {p: Stats(len(v), statistics.median(v), percentile(v, 0.9)) for p, v in sorted(minutes.items())}
