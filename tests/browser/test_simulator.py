"""The simulator in Chromium: dial, answer the red-flag questions, reach the A&E message; the same by text.

The app runs in a real server thread on 127.0.0.1 against the test database, with CSRF on and
the simulator open as in development. Screenshots go to test-artifacts/.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from helpline.db import db
from helpline.models import Callback, Conversation
from browserkit import ARGS, CHROMIUM, live_server, needs_chromium, screenshot, watched_page

pytestmark = needs_chromium


@pytest.fixture
def server(app):
    """The help line as `make run` serves it (simulator open, CSRF on), on a free port, in a thread."""
    with live_server(app, SIMULATOR_OPEN=True) as url:
        yield url


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        tab = watched_page(context)
        yield tab
        context.close()
        browser.close()


def _shot(page, name: str, database_url: str) -> Path:
    return screenshot(page, name, database_url)


def test_dial_answer_the_red_flag_questions_and_reach_ae(server, page, database_url):
    from playwright.sync_api import expect

    page.goto(server + "/")
    expect(page).to_have_url(server + "/simulator/")
    page.check("#speak-aloud")  # the browser's speech synthesis reads the prompts
    prompts = page.locator("#voice-screen .prompt")

    page.click("#dial")
    expect(prompts.first).to_contain_text("call nine nine nine")
    expect(prompts.last).to_contain_text("Press 1 if you have back pain now")
    expect(page.locator("#call-status")).to_contain_text("listening for dtmf speech")

    page.click('.key[data-key="1"]')
    expect(prompts.last).to_contain_text("Do you have chest pain")
    page.fill("#speech", "no")  # said, not pressed
    page.click("#say")
    expect(prompts.last).to_contain_text("serious accident")
    page.click("#silence")  # asked again
    expect(page.locator("#voice-screen .prompt", has_text="serious accident")).to_have_count(2)
    page.click('.key[data-key="2"]')
    expect(prompts.last).to_contain_text("new weakness in both legs")
    page.click('.key[data-key="2"]')
    expect(prompts.last).to_contain_text("where you would sit on a bike saddle")
    page.click('.key[data-key="1"]')

    emergency = page.locator("#voice-screen .prompt.emergency")
    expect(emergency).to_contain_text("Please go to A and E now")
    expect(emergency).to_contain_text("(said twice)")
    expect(page.locator("#call-status")).to_have_text("Call ended: disposition D2.")
    expect(page.locator(".key").first).to_be_disabled()
    # What Twilio got: the TwiML and the log rows of the last step, newest first.
    last = page.locator("#voice-steps .step").first
    expect(last.locator(".twiml").first).to_contain_text('<Say language="en-GB" loop="2"')
    expect(last).to_contain_text("Then Twilio's status callback")
    expect(last.locator("table.log")).to_contain_text("d2_saddle")
    expect(last.locator(".callback")).to_contain_text("Staff queue: welfare")
    _shot(page, "simulator-voice", database_url)
    assert page.problems == []

    conv = db.session.scalar(select(Conversation))
    assert (conv.channel, conv.disposition, conv.status) == ("voice", "D2", "completed")
    assert conv.answers == {"main_menu": "1", "d1_chest": "no", "d1_accident": "no", "d1_legs": "no",
                            "d2_saddle": "yes"}
    assert db.session.scalar(select(Callback.queue)) == "welfare"


def test_text_the_red_flag_answers_and_reach_ae(server, page, database_url):
    from playwright.sync_api import expect

    page.goto(server + "/simulator/")
    page.click("#tab-sms")
    expect(page.locator("#sms-panel")).to_be_visible()
    expect(page.locator("#voice-panel")).to_be_hidden()
    replies = page.locator("#sms-thread .bubble.reply")
    for count, (text, expected) in enumerate([
        ("hello", "call 999 now"),
        ("1", "Do you have chest pain"),
        ("no", "serious accident"),
        ("no", "new weakness in both legs"),
        ("no", "bike saddle"),
        ("yes", "URGENT: Go to A&E now"),
    ], start=1):
        page.fill("#sms-body", text)
        page.click("#sms-send")
        expect(replies).to_have_count(count)
        expect(replies.last).to_contain_text(expected)
    expect(page.locator("#sms-thread .segments").last).to_contain_text("GSM-7, 1 segment")
    last = page.locator("#sms-steps .step").first
    expect(last.locator(".twiml").first).to_contain_text("<Message>URGENT: Go to A&amp;E now")
    expect(last.locator(".conversation")).to_contain_text("disposition D2")
    _shot(page, "simulator-sms", database_url)
    assert page.problems == []

    conv = db.session.scalar(select(Conversation))
    assert (conv.channel, conv.disposition, conv.status) == ("sms", "D2", "completed")


def test_a_withheld_caller_keys_in_a_number_ending_with_hash(server, page, database_url):
    from playwright.sync_api import expect

    page.goto(server + "/simulator/")
    page.check("#withheld")
    prompts = page.locator("#voice-screen .prompt")
    page.click("#dial")
    expect(prompts.last).to_contain_text("Press 3 to ask us to call you")
    page.click('.key[data-key="3"]')
    expect(prompts.last).to_contain_text("please key in your phone number")
    expect(page.locator("#call-status")).to_contain_text("keys ending with #")
    for key in "07911123456":
        page.click(f'.key[data-key="{key}"]')
    expect(page.locator("#keyed")).to_have_text("Keyed: 07911123456 (press # to finish)")
    page.click('.key[data-key="#"]')
    expect(prompts.last).to_contain_text("You entered 0 7 9 1 1, 1 2 3 4 5 6")
    page.click('.key[data-key="1"]')
    expect(prompts.last).to_contain_text("We will call you on that number")
    expect(page.locator("#call-status")).to_have_text("Call ended.")
    first = page.locator("#voice-steps .step").last
    expect(first.locator("table.params")).to_contain_text("anonymous")
    _shot(page, "simulator-withheld", database_url)
    assert page.problems == []
    assert db.session.scalar(select(Callback.phone)) == "+447911123456"
