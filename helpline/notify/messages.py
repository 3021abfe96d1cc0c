"""The wording of every text the help line sends on its own. Pure: no Flask, database or Twilio.

Rules each text keeps (tests check them all):
- the first line names the help line by its number and carries no symptom or condition, because
  phones show it on the lock screen; staff alerts carry no clinical detail at all, only a link;
- plain GSM-7 characters (straight quotes, no dashes or emoji), so nothing is sent as UCS-2;
- the safety-net texts fit one GSM-7 segment and say when to call 999, go to A&E or call 111;
- nothing tells someone who needs emergency care to wait for a call.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from string import Formatter
from typing import Mapping
from zoneinfo import ZoneInfo

# Who the text is from, without saying what it is about: "back pain" on a lock screen is health data.
HEADER = "Help line 02380 248725"
STAFF_HEADER = "Help line staff alert"

# Kinds of outbox row (Outbox.kind).
ADVICE = "advice"
CALLBACK_CONFIRMATION = "callback_confirmation"
MISSED_CALL = "missed_call"
UNREACHABLE = "unreachable_safety_net"
ALERT_WELFARE = "alert_welfare"
ALERT_URGENT = "alert_urgent"
ALERT_SLA = "alert_sla"

ADVICE_FIRST_LINE = f"{HEADER}: the advice from your call today."

# One GSM-7 segment: the CES signs, 999 or A&E, and 111 (P6, P11).
UNREACHABLE_TEXT = (
    f"{HEADER}: we could not reach you.\n"
    "Call 999 or go to A&E now for a numb bottom or genitals, pee or poo problems or weak legs. "
    "Call 111 if worse."
)


def when(due_utc: datetime, now_utc: datetime, tz: ZoneInfo, hhmm: str) -> str:
    """ "14:30 today", "09:15 tomorrow" or "18:00 on Monday 23 November", in UK time.

    `hhmm` is the time as OpeningHours.local_hhmm gives it; the day is worked out here.
    """
    due_day = _local(due_utc, tz).date()
    today = _local(now_utc, tz).date()
    if due_day == today:
        return f"{hhmm} today"
    if due_day == today + timedelta(days=1):
        return f"{hhmm} tomorrow"
    return f"{hhmm} on {_day(due_day)}"


def _local(utc_naive: datetime, tz: ZoneInfo) -> datetime:
    return utc_naive.replace(tzinfo=timezone.utc).astimezone(tz)


def _day(day: date) -> str:
    return f"{day.strftime('%A')} {day.day} {day.strftime('%B')}"


def callback_confirmation(due: str, disposition: str | None) -> str:
    """Tell the person when we will call; for D3 the call is extra, never a reason to wait."""
    if disposition == "D3":
        return (f"{HEADER}: please contact your GP today or call NHS 111 now.\n"
                f"We may also call you by {due}, but do not wait for our call. In an emergency call 999.")
    return (f"{HEADER}: we'll call you by {due}.\n"
            "If your back gets worse before then, call NHS 111, or 999 in an emergency.")


def missed_call(welfare: bool) -> str:
    """After a callback attempt nobody answered."""
    if welfare:
        # The person was told to call 999 or go to A&E: the text repeats that, and promises nothing.
        return (f"{HEADER}: we tried to call you to check you got help.\n"
                "If you have not, call 999 or go to A&E now.")
    return (f"{HEADER}: we tried to call you and will try again.\n"
            "If your back gets worse, call NHS 111, or 999 in an emergency.")


def unreachable() -> str:
    """The safety net for someone we could not reach at all: one GSM-7 segment."""
    return UNREACHABLE_TEXT


def advice(ending: str, safety_net: str) -> str:
    """The advice a caller heard, as a text: a neutral first line, then the advice and safety net."""
    body = ending.strip()
    if safety_net.strip():
        body = f"{body} {safety_net.strip()}"
    return f"{ADVICE_FIRST_LINE}\n{body}"


def fill(template: str, variables: Mapping[str, str]) -> str:
    """Put flow variables such as {callback_hours} into a flow's wording; unknown names stay as they are."""
    out = []
    for literal, name, spec, conversion in Formatter().parse(template):
        out.append(literal)
        if name is not None:
            out.append(str(variables[name]) if name in variables else "{" + name + "}")
    return "".join(out)


def case_link(base_url: str, case_id: int) -> str:
    return f"{base_url.rstrip('/')}/staff/cases/{case_id}"


def alert_welfare(link: str) -> str:
    return f"{STAFF_HEADER}: welfare check needed now.\nCase: {link}"


def alert_urgent(link: str, due_hhmm: str) -> str:
    return f"{STAFF_HEADER}: urgent callback, due by {due_hhmm}.\nCase: {link}"


def alert_sla(link: str, due_hhmm: str) -> str:
    return f"{STAFF_HEADER}: a callback is overdue (was due {due_hhmm}).\nCase: {link}"
