"""Staff roles, the named queues and the rules for working them, read from app.config."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping

ROLES = ("call_handler", "clinician", "supervisor", "admin")
ROLE_LABELS = {
    "call_handler": "Call handler",
    "clinician": "Clinician",
    "supervisor": "Supervisor",
    "admin": "Admin",
}

# Queues as the triage feeds them (helpline.triage.QUEUE_FOR; menu option 3 is "general").
# sla_minutes caps the due time set by the triage: None leaves the triage's due time alone
# (D3/D4 in opening hours, D5 in working days). Override with app.config["STAFF_QUEUES"].
DEFAULT_QUEUES: dict[str, dict[str, Any]] = {
    "welfare": {
        "label": "Welfare checks",
        "description": "People told to call 999 or go to A&E: check they got help.",
        "roles": ["call_handler", "clinician", "supervisor"],
        "sla_minutes": 60,
    },
    "clinical": {
        "label": "Clinical callbacks",
        "description": "Triage outcomes D3 to D5: a clinician calls back.",
        "roles": ["clinician", "supervisor"],
        "sla_minutes": None,
    },
    "general": {
        "label": "General enquiries",
        "description": "Menu option 3: asked us to call about something else.",
        "roles": ["call_handler", "clinician", "supervisor"],
        "sla_minutes": None,
    },
}

# Urgency tiers as helpline.callbacks.PRIORITY sets them: 1 is the most urgent.
TIERS = {
    1: "D1 called 999 or crisis",
    2: "D2 sent to A&E",
    3: "D3 GP or 111 today",
    4: "D4 urgent callback",
    5: "D5 routine callback",
    6: "General enquiry",
}

# Failed login attempts: the first few are free, then each waits twice as long, then the account locks.
LOGIN_FREE_FAILURES = 3
LOGIN_BASE_DELAY = timedelta(seconds=30)
LOGIN_MAX_DELAY = timedelta(minutes=15)
LOGIN_LOCK_FAILURES = 10


@dataclass(frozen=True)
class Queue:
    name: str
    label: str
    description: str
    roles: frozenset[str]
    sla: timedelta | None

    def deadline(self, created_at: datetime, due_at: datetime) -> datetime:
        """When an item on this queue must have had its first call: the triage's due time, capped by the SLA."""
        if self.sla is None:
            return due_at
        return min(due_at, created_at + self.sla)


@dataclass(frozen=True)
class StaffSettings:
    queues: Mapping[str, Queue]
    max_attempts: int
    retry_after: timedelta
    refresh_seconds: int
    page_size: int
    timezone: str

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "StaffSettings":
        raw = config.get("STAFF_QUEUES") or DEFAULT_QUEUES
        queues = {}
        for name, spec in raw.items():
            unknown = set(spec["roles"]) - set(ROLES)
            if unknown:
                raise ValueError(f"queue {name!r} names unknown roles {sorted(unknown)}")
            minutes = spec.get("sla_minutes")
            queues[name] = Queue(
                name=name, label=spec.get("label", name.title()), description=spec.get("description", ""),
                roles=frozenset(spec["roles"]), sla=timedelta(minutes=minutes) if minutes else None,
            )
        return cls(
            queues=queues,
            max_attempts=int(config.get("CALLBACK_MAX_ATTEMPTS", 3)),
            retry_after=timedelta(minutes=int(config.get("CALLBACK_RETRY_MINUTES", 30))),
            refresh_seconds=int(config.get("STAFF_REFRESH_SECONDS", 4)),
            page_size=int(config.get("STAFF_QUEUE_ROWS", 100)),
            timezone=config.get("TIMEZONE", "Europe/London"),
        )

    def queues_for(self, role: str) -> list[Queue]:
        """The queues a role may work (supervisors every one; admins none: they read the audit)."""
        return [q for q in self.queues.values() if role in q.roles]

    def may_work(self, role: str, queue: str) -> bool:
        spec = self.queues.get(queue)
        return spec is not None and role in spec.roles

    def deadline(self, queue: str, created_at: datetime, due_at: datetime) -> datetime:
        spec = self.queues.get(queue)
        return spec.deadline(created_at, due_at) if spec else due_at


def tier(queue: str, disposition: str | None, priority: int) -> int:
    """The urgency tier staff work to: the priority the triage stored (a crisis welfare check is 1)."""
    return priority


def tier_name(queue: str, disposition: str | None, priority: int) -> str:
    if queue == "welfare" and disposition is None and priority == 1:
        return "Crisis: welfare check"
    return TIERS.get(priority, f"Tier {priority}")


def login_delay(failures: int) -> timedelta | None:
    """How long an account waits after `failures` failed logins in a row; None once it is locked."""
    if failures >= LOGIN_LOCK_FAILURES:
        return None
    if failures < LOGIN_FREE_FAILURES:
        return timedelta(0)
    return min(LOGIN_BASE_DELAY * 2 ** (failures - LOGIN_FREE_FAILURES), LOGIN_MAX_DELAY)
