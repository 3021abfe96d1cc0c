"""The wording of every outbound text: lock-screen safe, GSM-7, short where it must be, never 'wait for us' after 999."""
from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from helpline.engine import gsm
from helpline.hours import OpeningHours
from helpline.notify import messages
from helpline.notify.outbox import check_text

LONDON = ZoneInfo("Europe/London")
HOURS = OpeningHours.parse("Mon-Fri 08:00-18:00")
LINK = "https://helpline.example.org/staff/cases/4711"

# Words that would tell a reader of a lock screen (or a staff phone) something clinical.
CLINICAL = re.compile(
    r"\b(back|pain|spine|numb|tingl|pee|poo|wee|bladder|bowel|genital|bottom|saddle|chest|breath|leg|"
    r"weak|fever|bleed|suicid|harm|ces|cauda|sciatica|injur|D[1-6]\b)",
    re.IGNORECASE,
)

PEOPLE = {
    "confirmation routine": messages.callback_confirmation("18:00 on Wednesday 25 November", "D5"),
    "confirmation urgent": messages.callback_confirmation("12:00 today", "D4"),
    "confirmation D3": messages.callback_confirmation("12:00 today", "D3"),
    "confirmation enquiry": messages.callback_confirmation("18:00 on Monday 23 November", None),
    "missed call": messages.missed_call(welfare=False),
    "missed welfare call": messages.missed_call(welfare=True),
    "unreachable": messages.unreachable(),
    "advice": messages.advice("Self-care: keep gently active.", "Call 999 if you get numbness around your bottom."),
}
STAFF = {
    "welfare": messages.alert_welfare(LINK),
    "urgent": messages.alert_urgent(LINK, "12:00"),
    "sla": messages.alert_sla(LINK, "12:00"),
}


@pytest.mark.parametrize("name", sorted(PEOPLE))
def test_texts_to_people_keep_symptoms_off_the_first_line(name):
    first_line = PEOPLE[name].split("\n", 1)[0]
    assert first_line.startswith(messages.HEADER)
    assert not CLINICAL.search(first_line), first_line


@pytest.mark.parametrize("name", sorted(STAFF))
def test_staff_alerts_carry_no_clinical_detail_only_a_link(name):
    text = STAFF[name]
    assert not CLINICAL.search(text.replace(LINK, "")), text
    assert LINK in text
    assert not re.search(r"\+?\d{10,}", text.replace(LINK, "")), "no phone numbers in an alert"


@pytest.mark.parametrize("name", sorted(PEOPLE) + [f"staff {n}" for n in sorted(STAFF)])
def test_every_text_is_plain_gsm7(name):
    text = PEOPLE.get(name) or STAFF[name.removeprefix("staff ")]
    assert gsm.is_gsm7(text), gsm.non_gsm7(text)
    check_text(text)  # the queue-time check accepts it


def test_the_unreachable_safety_net_fits_one_gsm7_segment_and_says_where_to_go():
    text = messages.unreachable()
    assert gsm.segments(text) == (gsm.GSM7, 1)
    assert len(text) <= 160
    for must in ("999", "A&E", "111", "numb", "pee or poo", "legs"):
        assert must in text


@pytest.mark.parametrize("name", sorted(STAFF))
def test_staff_alerts_fit_one_segment_with_a_typical_link(name):
    assert gsm.segments(STAFF[name]) == (gsm.GSM7, 1)


def test_no_text_after_999_advice_asks_the_person_to_wait():
    welfare = messages.missed_call(welfare=True)
    assert "999" in welfare and "A&E" in welfare
    assert "try again" not in welfare and "will call" not in welfare


def test_the_d3_confirmation_never_tells_the_person_to_wait_for_us():
    text = messages.callback_confirmation("12:00 today", "D3")
    assert "GP today or call NHS 111 now" in text
    assert "do not wait for our call" in text
    assert "we'll call you by" not in text


def test_the_confirmation_says_when_and_what_to_do_if_worse():
    text = messages.callback_confirmation("14:30 today", "D4")
    assert "we'll call you by 14:30 today" in text
    assert "111" in text and "999" in text


@pytest.mark.parametrize("due_local, now_local, expect", [
    (datetime(2026, 11, 18, 12, 0), datetime(2026, 11, 18, 10, 0), "12:00 today"),
    (datetime(2026, 11, 19, 10, 0), datetime(2026, 11, 18, 17, 30), "10:00 tomorrow"),
    (datetime(2026, 11, 23, 10, 0), datetime(2026, 11, 20, 17, 30), "10:00 on Monday 23 November"),
    # Summer time: 13:00 in London is 12:00 UTC.
    (datetime(2026, 7, 1, 13, 0), datetime(2026, 7, 1, 9, 0), "13:00 today"),
    # Just after midnight in London but still "yesterday" in UTC.
    (datetime(2026, 7, 2, 9, 0), datetime(2026, 7, 2, 0, 30), "09:00 today"),
])
def test_due_times_read_in_uk_time_with_the_day_when_not_today(due_local, now_local, expect):
    due = _utc(due_local)
    now = _utc(now_local)
    assert messages.when(due, now, LONDON, HOURS.local_hhmm(due)) == expect


def _utc(local: datetime) -> datetime:
    from datetime import timezone

    return local.replace(tzinfo=LONDON).astimezone(timezone.utc).replace(tzinfo=None)


@pytest.mark.parametrize("template, variables, expect", [
    ("within {callback_hours} hours", {"callback_hours": "2"}, "within 2 hours"),
    ("within {routine_days} working days", {}, "within {routine_days} working days"),
    ("no fields", {"x": "1"}, "no fields"),
])
def test_flow_variables_are_filled_and_unknown_ones_left_alone(template, variables, expect):
    assert messages.fill(template, variables) == expect


def test_the_advice_text_starts_with_a_neutral_line_then_the_advice_and_safety_net():
    text = messages.advice("Keep gently active.", "Call 999 if it gets much worse.")
    first, rest = text.split("\n", 1)
    assert first == messages.ADVICE_FIRST_LINE
    assert rest == "Keep gently active. Call 999 if it gets much worse."
