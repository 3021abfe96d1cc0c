"""The staff dashboard in Chromium: sign in, see a new urgent case arrive, claim it, record the outcome;
two members of staff race for one case and exactly one wins.

The app runs in a real server thread on 127.0.0.1 against the test database with CSRF, the CSP
and secure cookies on, as in production. New cases arrive through the real, signed /sms webhook.
A screenshot of the queue goes to test-artifacts/.
"""
from __future__ import annotations

import re
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from helpline.db import db
from helpline.models import Callback
from helpline.staff.auth import create_staff
from helpline.staff.models import AuditEvent
from browserkit import ARGS, CHROMIUM, live_server, needs_chromium, screenshot, watched_page

PASSWORD = "correct horse battery staple"
TEXTER = "+447911123456"

pytestmark = needs_chromium


@pytest.fixture
def server(app):
    """The help line on a free port in a thread, sharing the test database, clock and Twilio settings."""
    def secure(live):
        assert live.config["WTF_CSRF_ENABLED"] and live.config["SESSION_COOKIE_SECURE"]

    with live_server(app, check=secure, STAFF_REFRESH_SECONDS=2) as url:
        yield url


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def new_page(browser):
    return watched_page(browser.new_context(viewport={"width": 1400, "height": 900}))


def staff(app, email: str, name: str, role: str = "clinician"):
    return create_staff(email, name, role, PASSWORD, "+447911000001", app.extensions["helpline"].now())


def sign_in(page, server: str, email: str) -> None:
    from playwright.sync_api import expect

    page.goto(server + "/staff/")
    expect(page).to_have_url(re.compile(r"/staff/login\?next="))
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Callback queue")


def text_in(app, server: str, body: str, number: str = TEXTER) -> None:
    """Send a text the way Twilio does: a signed POST to /sms."""
    params = {"MessageSid": f"SM{abs(hash((number, body))):032x}"[:34], "AccountSid": app.config["TWILIO_ACCOUNT_SID"],
              "From": number, "To": "+442380248725", "Body": body, "NumMedia": "0"}
    signature = RequestValidator(app.config["TWILIO_AUTH_TOKEN"]).compute_signature(
        app.config["PUBLIC_BASE_URL"] + "/sms", params)
    request = urllib.request.Request(server + "/sms", data=urllib.parse.urlencode(params).encode(),
                                     headers={"X-Twilio-Signature": signature})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert b"999" in response.read()


def shot(page, name: str, database_url: str) -> Path:
    return screenshot(page, name, database_url)


def test_a_new_urgent_case_appears_without_reload_then_is_claimed_and_closed(app, server, browser, database_url):
    from playwright.sync_api import expect

    staff(app, "dee@example.org", "Dr Dee")
    page = new_page(browser)
    sign_in(page, server, "dee@example.org")
    expect(page.locator("#queue-rows")).to_contain_text("Nothing waiting here.")
    page.evaluate("window.stillTheSamePage = true")

    text_in(app, server, "I collapsed in the gym and my back hurts")  # a 999 red flag: a welfare check
    item = db.session.scalars(select(Callback)).one()
    row = page.locator(f"#item-{item.id}")
    expect(row).to_be_visible(timeout=10_000)  # the page polls every 2 seconds here
    assert page.evaluate("window.stillTheSamePage") is True  # it came without a reload
    expect(row).to_contain_text("D1 called 999")
    expect(row).to_contain_text("•••••••••456")  # masked
    expect(row.locator(".countdown")).to_have_text(re.compile(r"^in 0:59:\d\d$"))  # the welfare SLA, live
    expect(page).to_have_title(re.compile(r"^\(1\) Callback queue"))
    shot(page, "staff-queue", database_url)

    row.locator("button.claim").click()
    expect(page.locator(".flash")).to_contain_text("You hold this case now.")
    expect(page.locator("#case-holder")).to_have_text("Dr Dee")
    expect(page.locator(".timeline")).to_contain_text("sms conversation")
    shot(page, "staff-case", database_url)

    page.select_option("#outcome", "reached_ae")
    page.fill("#outcome-note", "Reached her at A&E, being seen.")
    page.click("#outcome-form button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("Outcome recorded: Reached: sent to A&E.")
    expect(page.locator("#queue-rows")).to_contain_text("Nothing waiting here.")
    db.session.expire_all()
    item = db.session.get(Callback, item.id)
    assert (item.status, item.outcome) == ("done", "reached_ae")
    assert page.problems == []


def test_two_members_of_staff_race_to_claim_one_case_and_exactly_one_wins(app, server, browser, database_url):
    from playwright.sync_api import expect

    staff(app, "ann@example.org", "Ann")
    staff(app, "bob@example.org", "Bob")
    ann, bob = new_page(browser), new_page(browser)  # separate contexts: separate sessions
    sign_in(ann, server, "ann@example.org")
    sign_in(bob, server, "bob@example.org")
    text_in(app, server, "I can't feel my bum and my back hurts", number="+447911123457")  # D2: A&E now
    item = db.session.scalars(select(Callback)).one()
    for tab in (ann, bob):
        expect(tab.locator(f"#item-{item.id} button.claim")).to_be_visible(timeout=10_000)

    # Both submit before either page has its answer: the two POSTs are in flight together.
    ann.locator(f"#item-{item.id} button.claim").click(no_wait_after=True)
    bob.locator(f"#item-{item.id} button.claim").click(no_wait_after=True)
    for tab in (ann, bob):
        expect(tab.locator(".flash")).to_be_visible(timeout=10_000)
    flashes = {name: tab.locator(".flash").inner_text() for name, tab in (("Ann", ann), ("Bob", bob))}
    won = [name for name, text in flashes.items() if text == "You hold this case now."]
    lost = [name for name, text in flashes.items() if "has already taken that item" in text]
    assert len(won) == 1 and len(lost) == 1, flashes
    assert flashes[lost[0]] == f"{won[0]} has already taken that item."
    db.session.expire_all()
    holder = db.session.get(Callback, item.id).claimed_by
    assert holder.name == won[0]
    claims = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "claim")).all()
    assert [c.staff_id for c in claims] == [holder.id]
    assert ann.problems == [] and bob.problems == []


def test_the_supervisor_sees_the_time_to_callback_chart_as_a_picture(app, server, browser, database_url):
    from datetime import timedelta

    from playwright.sync_api import expect

    now = app.extensions["helpline"].now()
    for n, (priority, queue, minutes, days_ago) in enumerate([
        (1, "welfare", 25, 1), (1, "welfare", 50, 12), (2, "welfare", 40, 2), (3, "clinical", 70, 3),
        (4, "clinical", 95, 1), (4, "clinical", 150, 20), (5, "clinical", 1300, 4), (6, "general", 900, 25),
    ]):
        created = now - timedelta(days=days_ago)
        db.session.add(Callback(phone=f"+4479111234{n:02d}", queue=queue, priority=priority, reasons=["seeded"],
                                channel="sms", status="done", due_at=created + timedelta(hours=2), created_at=created,
                                updated_at=created, first_attempt_at=created + timedelta(minutes=minutes)))
    db.session.commit()
    staff(app, "sue@example.org", "Sue", role="supervisor")
    page = new_page(browser)
    sign_in(page, server, "sue@example.org")
    page.click("text=Supervisor")
    chart = page.locator("img[src$='time-to-callback.svg']")
    expect(chart).to_be_visible()
    page.wait_for_function("document.querySelector(\"img[src$='time-to-callback.svg']\").complete")
    assert page.evaluate("document.querySelector(\"img[src$='time-to-callback.svg']\").naturalWidth") == 760
    shot(page, "staff-supervisor", database_url)
    assert page.problems == []
