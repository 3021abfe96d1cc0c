"""Dispositions, their order of urgency and where each one is escalated.

Pure: imports no Flask, SQLAlchemy or Twilio.
"""
from __future__ import annotations

# Most urgent first (clinical brief, "Dispositions").
DISPOSITIONS = ("D1", "D2", "D3", "D4", "D5", "D6")
RANK = {code: rank for rank, code in enumerate(DISPOSITIONS)}

LABELS = {
    "D1": "Emergency: call 999",
    "D2": "A&E now",
    "D3": "GP today or NHS 111",
    "D4": "Urgent callback",
    "D5": "Routine callback",
    "D6": "Self-care",
}

# Which staff queue an ending lands on. D6 lands nowhere unless the person asks.
QUEUE_FOR = {
    "D1": "welfare",
    "D2": "welfare",
    "D3": "clinical",
    "D4": "clinical",
    "D5": "clinical",
}

BASELINE = "D6"


def more_urgent(a: str | None, b: str | None) -> str | None:
    """Return whichever of two dispositions is the more urgent (None counts as none)."""
    if a is None:
        return b
    if b is None:
        return a
    return a if RANK[a] <= RANK[b] else b


def is_more_urgent(a: str, b: str) -> bool:
    """True when disposition a is strictly more urgent than b."""
    return RANK[a] < RANK[b]


def is_emergency(code: str | None) -> bool:
    """D1 and D2 send the person to emergency care now."""
    return code in ("D1", "D2")


def one_level_up(code: str) -> str:
    """The next more urgent disposition (D1 stays D1)."""
    return DISPOSITIONS[max(RANK[code] - 1, 0)]
