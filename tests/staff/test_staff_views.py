"""The dashboard through HTTP: the queue and its fragment, a case and its timeline, supervisors, the audit trail."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import select

from helpline.db import db
from helpline.models import Callback
from helpline.staff import queue
from helpline.staff.models import AuditEvent, CaseNote
from staffkit import *  # noqa: F401,F403  (fixtures and helpers)
from support import Caller, Texter, walk

SVG = "{http://www.w3.org/2000/svg}"


def rows(html: bytes) -> list[str]:
    return re.findall(r'<tr class="[^"]*"\s+data-id="(\d+)"', html.decode())


def test_a_text_with_a_red_flag_reaches_the_queue_masked_and_most_urgent_first(twilio, login, make_staff, make_item):
    routine = make_item(queue="clinical", priority=5, disposition="D5", due_in=timedelta(days=2))
    reply = Texter(twilio, number="+447911123456").send("I collapsed at the gym and my back hurts")
    assert "999" in reply
    urgent = db.session.scalars(select(Callback).where(Callback.queue == "welfare")).one()
    browser = login(make_staff())
    page = browser.get("/staff/")
    assert page.status_code == 200
    assert rows(page.data) == [str(urgent.id), str(routine.id)]
    html = page.data.decode()
    assert "+447911123456" not in html and "•••••••••456" in html  # the list shows only the last digits
    assert "D1 called 999" in html and "free text d1" in html


def test_the_fragment_the_page_polls_has_the_same_rows(login, make_staff, make_item):
    first = make_item(priority=4)
    browser = login(make_staff())
    fragment = browser.get("/staff/queue/rows")
    assert fragment.status_code == 200 and "<html" not in fragment.data.decode()
    assert rows(fragment.data) == [str(first.id)]
    assert fragment.headers["X-Queue-Count"] == "1"
    assert fragment.headers["X-Server-Now"] == "2026-11-18T10:00:00Z"
    urgent = make_item(queue="welfare", priority=1, disposition="D1")
    assert rows(browser.get("/staff/queue/rows").data) == [str(urgent.id), str(first.id)]
    assert rows(browser.get("/staff/queue/rows?tier=4").data) == [str(first.id)]


def test_claim_from_the_queue_then_record_the_outcome(login, make_staff, make_item):
    sam = make_staff(name="Sam Jones")
    item = make_item()
    browser = login(sam)
    claimed = browser.post(f"/staff/cases/{item.id}/claim", data={"next": "/staff/?tier=4"})
    assert claimed.headers["Location"] == f"/staff/cases/{item.id}"
    case = browser.get(f"/staff/cases/{item.id}").data.decode()
    assert "You hold this case now." in case and "Record outcome" in case and "+447911" in case
    done = browser.post(f"/staff/cases/{item.id}/outcome", data={"outcome": "reached_advice", "note": "Self-care."},
                        follow_redirects=True)
    assert b"Outcome recorded: Reached: advice given." in done.data
    db.session.expire_all()
    assert db.session.get(Callback, item.id).status == "done"
    assert rows(browser.get("/staff/").data) == []


def test_a_lost_race_sends_the_loser_back_to_the_queue_with_the_winner_named(login, make_staff, make_item):
    item = make_item()
    first, second = login(make_staff(name="Alex")), login(make_staff(name="Bo"))
    first.post(f"/staff/cases/{item.id}/claim")
    lost = second.post(f"/staff/cases/{item.id}/claim", data={"next": "/staff/?unclaimed=1"})
    assert lost.headers["Location"] == "/staff/?unclaimed=1"
    assert "Alex has already taken that item." in second.get("/staff/").data.decode()


def test_the_case_shows_the_timeline_across_channels_and_the_look_is_audited(twilio, login, make_staff):
    number = "+447911123456"
    Texter(twilio, number=number).send("hello")
    caller = Caller(twilio, number=number)
    caller.call()
    walk(caller, {"d4_one_leg": "1"})
    item = db.session.scalars(select(Callback)).one()
    sam = make_staff()
    browser = login(sam)
    browser.post(f"/staff/cases/{item.id}/notes", data={"body": "Tried the mobile, no voicemail set up."})
    page = browser.get(f"/staff/cases/{item.id}").data.decode()
    assert "sms conversation" in page and "voice conversation" in page
    assert "D4 Urgent callback" in page and "d4_one_leg_nerve_symptoms" in page
    assert "pressed 1" in page and "Back pain help line" in page  # the transcript, both ways
    assert "Tried the mobile, no voicemail set up." in page
    views = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "view_case")).all()
    assert [(v.staff_id, v.callback_id, v.phone) for v in views] == [(sam.id, item.id, number)]


def test_staff_cannot_open_cases_on_queues_they_do_not_work(login, make_staff, make_item):
    item = make_item(queue="clinical")
    handler = make_staff(role="call_handler")
    assert login(handler).get(f"/staff/cases/{item.id}").status_code == 403
    refused = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "view_case"))
    assert refused.detail == {"refused": True} and refused.staff_id == handler.id
    assert login(handler).get("/staff/cases/999999").status_code == 404


def test_a_manual_attempt_from_the_case_page(app, login, make_staff, make_item, now):
    sam = make_staff()
    item = make_item()
    browser = login(sam)
    browser.post(f"/staff/cases/{item.id}/claim")
    browser.post(f"/staff/cases/{item.id}/attempts", data={"result": "busy", "duration_minutes": ""})
    db.session.expire_all()
    item = db.session.get(Callback, item.id)
    assert (item.status, item.attempts, item.next_attempt_at) == ("open", 1, now + timedelta(minutes=30))
    page = browser.get("/staff/").data.decode()
    assert "next try 10:30 (tried 1)" in page


def test_a_supervisor_reassigns_and_moves_from_the_case_page(login, make_staff, make_item):
    boss, sam, kim = make_staff(role="supervisor"), make_staff(name="Sam"), make_staff(name="Kim")
    item = make_item(queue="clinical")
    login(sam).post(f"/staff/cases/{item.id}/claim")
    browser = login(boss)
    page = browser.get(f"/staff/cases/{item.id}").data.decode()
    assert "Reassign" in page and "Kim (Clinician)" in page
    browser.post(f"/staff/cases/{item.id}/reassign", data={"staff_id": kim.id})
    db.session.expire_all()
    assert db.session.get(Callback, item.id).claimed_by_id == kim.id
    browser.post(f"/staff/cases/{item.id}/move", data={"queue": "welfare"})
    db.session.expire_all()
    assert db.session.get(Callback, item.id).queue == "welfare"
    assert login(sam).post(f"/staff/cases/{item.id}/reassign", data={"staff_id": sam.id}).status_code == 403


def test_the_supervisor_page_counts_tiers_breaches_and_unreachable_people(app, login, settings, make_staff, make_item,
                                                                         now):
    boss = make_staff(role="supervisor")
    make_item(queue="welfare", priority=1, disposition="D1", due_in=timedelta(hours=3),
              created_ago=timedelta(minutes=90))  # welfare SLA 60 min: missed at 09:30 today
    make_item(priority=4)
    make_item(priority=4, status="unreachable", attempts=3, unreachable_at=now)
    page = login(boss).get("/staff/supervisor").data.decode()
    counts = re.findall(r'<tr class="tier-(\d)"><td>.*?</td><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td></tr>', page)
    assert ("1", "1", "0", "0") in counts and ("4", "1", "0", "1") in counts
    assert re.search(r'id="breaches-today">1<', page)
    assert "1 h 30 min" in page  # the oldest waiting
    assert 'src="/staff/supervisor/time-to-callback.svg"' in page


def test_the_chart_is_an_svg_picture_of_time_to_first_call(app, login, settings, make_staff, make_item, now):
    boss = make_staff(role="supervisor")
    make_item(priority=4, created_ago=timedelta(days=2), first_attempt_at=now - timedelta(days=2) + timedelta(minutes=40))
    make_item(priority=4, created_ago=timedelta(days=20), first_attempt_at=now - timedelta(days=20) + timedelta(minutes=80))
    chart = login(boss).get("/staff/supervisor/time-to-callback.svg")
    assert chart.status_code == 200 and chart.mimetype == "image/svg+xml"
    root = ET.fromstring(chart.data)
    bars = {b.get("data-series"): float(b.get("data-minutes")) for b in root.iter(f"{SVG}rect")
            if b.get("class") == "bar"}
    assert bars == {"last 7 days": 40.0, "last 30 days": 60.0}  # medians: 40; and of 40 and 80


def test_the_admin_reads_the_audit_trail_by_staff_member_and_by_patient(app, login, settings, make_staff, make_item,
                                                                          now):
    sam, kim, admin = make_staff(name="Sam"), make_staff(name="Kim"), make_staff(role="admin", name="Ada")
    one, two = make_item(phone="+447911123456"), make_item(phone="+447911123457")
    queue.claim(settings, sam, one.id, now)
    queue.add_note(settings, sam, one.id, "note", now)
    queue.claim(settings, kim, two.id, now)
    queue.release(settings, kim, two.id, now)
    browser = login(admin)

    def actions(query: str) -> list[str]:
        html = browser.get(f"/staff/audit{query}").data.decode()
        return re.findall(r'data-action="([a-z_]+)"', html)

    assert actions(f"?staff_id={sam.id}") == ["note", "claim"]
    assert actions("?phone=07911+123457") == ["release", "claim"]
    assert actions(f"?staff_id={kim.id}&phone=%2B447911123456") == []
    assert "not a phone number" in browser.get("/staff/audit?phone=12").data.decode()
    reads = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "read_audit").order_by(AuditEvent.id)).all()
    assert [r.phone for r in reads] == [None, "+447911123457", "+447911123456"]


def test_notes_need_words(login, make_staff, make_item):
    item = make_item()
    browser = login(make_staff())
    assert b"Write something" in browser.post(f"/staff/cases/{item.id}/notes", data={"body": ""},
                                              follow_redirects=True).data
    assert db.session.scalar(select(CaseNote)) is None


def test_triage_outcomes_land_on_their_queues_and_each_role_sees_its_own(twilio, login, make_staff):
    Texter(twilio, number="+447911123456").send("I collapsed")  # D1: welfare
    enquiry = Texter(twilio, number="+447911123457")
    enquiry.send("hello")
    enquiry.send("3")  # menu option 3: ask us to call about something else
    caller = Caller(twilio, number="+447911123458")
    caller.call()
    walk(caller, {"d4_one_leg": "1"})  # D4: clinical
    queues = {c.phone: c.queue for c in db.session.scalars(select(Callback))}
    assert queues == {"+447911123456": "welfare", "+447911123457": "general", "+447911123458": "clinical"}
    seen = {}
    for role in ("call_handler", "clinician"):
        html = login(make_staff(role=role)).get("/staff/").data.decode()
        seen[role] = {label for label in ("Welfare checks", "General enquiries", "Clinical callbacks")
                      if f"<small>{label}</small>" in html}
    assert seen == {"call_handler": {"Welfare checks", "General enquiries"},
                    "clinician": {"Welfare checks", "General enquiries", "Clinical callbacks"}}


def test_the_queue_shows_the_most_urgent_rows_and_says_how_many_more(app, settings, login, make_staff, make_item):
    from dataclasses import replace

    items = [make_item(priority=4, due_in=timedelta(minutes=10 * n)) for n in range(1, 6)]
    app.extensions["staff"] = replace(settings, page_size=2)
    try:
        browser = login(make_staff())
        fragment = browser.get("/staff/queue/rows")
        page = browser.get("/staff/").data.decode()
    finally:
        app.extensions["staff"] = settings
    assert rows(fragment.data) == [str(items[0].id), str(items[1].id)]
    assert fragment.headers["X-Queue-Count"] == "5"
    assert "Showing the 2 most urgent of 5 waiting." in page


@pytest.mark.parametrize("role,sees", [("clinician", True), ("supervisor", True), ("call_handler", False)])
def test_clinicians_find_the_flow_map_on_the_dashboard(login, make_staff, role, sees):
    client = login(make_staff(role))
    page = client.get("/staff/", base_url="https://localhost")
    assert (b'href="/flows/map"' in page.data) is sees
    if sees:
        picture = client.get("/flows/map", base_url="https://localhost")
        assert picture.status_code == 200 and picture.mimetype == "image/svg+xml"
