"""Subject access and erasure, through the CLI, after real calls and texts through the signed webhooks."""
from __future__ import annotations

import json
import stat
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from support import OPEN_TIME
from helpline.db import db
from helpline.models import Callback, Conversation, Interaction, OptOut
from helpline.notify.models import Outbox
from helpline.privacy import subject
from helpline.privacy.models import DataProtectionEvent
from helpline.staff import queue, timeline
from helpline.staff.models import AuditEvent, CallbackAttempt, CallbackOutcome, CaseNote
from privacy_rows import callback, conversation, make_staff
from support import Caller, Texter

NUMBER = "+447911123456"
OTHER = "+447911123457"


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _enquiry_by_text(twilio, number=NUMBER):
    """Texts that end in a general enquiry: an open item on the general queue, not urgent."""
    texter = Texter(twilio, number=number)
    texter.send("Hi, my lower back hurts after deadlifts")
    texter.send("3")  # main menu: ask us to call about something else -> general enquiry, a callback
    return texter


def _d1_by_voice(twilio, number=NUMBER):
    caller = Caller(twilio, number=number)
    caller.call()
    caller.press("1")  # back pain now
    caller.press("1")  # chest pain: D1, a welfare check
    return caller


def _worked(app, item_id: int, close: bool = True):
    """A clinician looks, claims, tries once, writes a note and (optionally) records an outcome that closes it."""
    settings, now = app.extensions["staff"], app.extensions["helpline"].now()
    nurse = make_staff("call_handler", "Nina Nurse")
    timeline.open_case(settings, nurse, item_id, now)
    queue.claim(settings, nurse, item_id, now)
    queue.record_attempt(settings, nurse, item_id, "no_answer", None, now)
    queue.claim(settings, nurse, item_id, now)
    queue.add_note(settings, nurse, item_id, "Spoke to partner: they went to A&E by taxi", now)
    if close:
        queue.record_outcome(settings, nurse, item_id, "reached_ae", "At A&E, being seen", now)
    return nurse


def test_export_writes_json_and_html_with_everything_and_logs_it(app, runner, twilio, tmp_path):
    _d1_by_voice(twilio)
    _enquiry_by_text(twilio)
    _worked(app, db.session.scalar(select(Callback.id)))
    _enquiry_by_text(twilio, number=OTHER)  # someone else: must not appear
    result = runner.invoke(args=["subject", "export", "07911 123456", "--out", str(tmp_path), "--by", "dpo@example.org",
                                 "--reference", "SAR-1"])
    assert result.exit_code == 0, result.output
    assert NUMBER not in result.output and "•••456" in result.output  # the terminal shows a masked number
    files = sorted(tmp_path.iterdir())
    assert [f.suffix for f in files] == [".html", ".json"]
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600  # health data: the owner only

    doc = json.loads(next(f for f in files if f.suffix == ".json").read_text())
    assert doc["subject"] == NUMBER and doc["generated_by"] == "dpo@example.org"
    assert [c["channel"] for c in doc["conversations"]] == ["voice", "sms"]
    voice, sms = doc["conversations"]
    assert voice["outcome"] == "D1" and voice["outcome_meaning"] == "Emergency: call 999"
    assert {"question": "Do you have chest pain, have you collapsed or fainted, or do you have trouble breathing?",
            "step": "d1_chest", "answer": "yes"} in voice["answers"]
    assert {"question": "Reply 1 if you have back pain now, 2 for tips to prevent back pain when lifting, "
                        "3 to ask us to call you about something else.", "step": "main_menu",
            "answer": "1: back pain now"} in voice["answers"]  # a menu key in words
    assert [t["keys_pressed"] for t in voice["transcript"] if t["direction"] == "in"] == [None, "1", "1"]
    assert "nine nine nine" in voice["transcript"][1]["we_said"]
    assert sms["transcript"][0]["text_received"] == "Hi, my lower back hurts after deadlifts"
    assert [c["queue"] for c in doc["callbacks"]] == ["welfare"]  # one open item per number: the enquiry joined it
    assert doc["texts_stopped"] is None
    assert OTHER not in json.dumps(doc)
    assert doc["counts"] == {"conversations": 2, "interactions": count(Interaction, Interaction.conversation_id.in_(
        [c["id"] for c in doc["conversations"]])), "callbacks": 1, "attempts": 1, "outcomes": 1, "notes": 1,
        "texts": 1, "access_events": 6, "opt_out": 0}
    assert [(t["what"], t["status"]) for t in doc["texts_sent"]] == [("missed_call", "pending")]
    assert doc["texts_sent"][0]["text"].startswith("Help line 02380 248725: we tried to call you")
    (item,) = doc["callbacks"]
    assert item["status"] == "done" and item["outcome"] == "reached_ae"
    assert item["attempts"][0]["result"] == "no_answer" and item["attempts"][0]["by"] == "Nina Nurse (call handler)"
    assert item["notes"] == [{"at": "2026-11-18T10:00:00Z", "text": "Spoke to partner: they went to A&E by taxi",
                              "by": "Nina Nurse (call handler)"}]
    assert item["outcomes"][0]["note"] == "At A&E, being seen"
    # Who viewed it: the staff audit trail, in words.
    assert [a["action"] for a in doc["access"]] == [
        "looked at your case", "took on your case", "recorded a try to reach you", "took on your case",
        "added a note", "recorded the outcome"]
    assert {a["by"] for a in doc["access"]} == {"Nina Nurse (call handler)"}

    html = next(f for f in files if f.suffix == ".html").read_text()
    assert "Information held about +447911123456" in html
    assert "Hi, my lower back hurts after deadlifts" in html and "D1: Emergency: call 999" in html
    assert "has not asked us to stop texting" in html and OTHER not in html
    assert "Spoke to partner: they went to A&amp;E by taxi" in html and "Nina Nurse (call handler) looked at your case" in html

    event = db.session.scalars(select(DataProtectionEvent)).one()
    assert (event.action, event.actor, event.reference) == ("export", "dpo@example.org", "SAR-1")
    assert NUMBER not in json.dumps(event.counts)
    # The export is itself a look at the person's records: it shows on the trail under their number.
    trail = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "subject_export")).one()
    assert trail.phone == NUMBER and trail.detail["by"] == "dpo@example.org" and trail.staff_id is None


def test_export_of_a_number_we_do_not_hold_says_so(app, runner, tmp_path):
    result = runner.invoke(args=["subject", "export", "+447911000111", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    doc = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert set(doc["counts"].values()) == {0}
    assert "No conversations are held." in next(tmp_path.glob("*.html")).read_text()


def test_export_refuses_something_that_is_not_a_number(app, runner, tmp_path):
    result = runner.invoke(args=["subject", "export", "12", "--out", str(tmp_path)])
    assert result.exit_code == 1 and "not a valid phone number" in result.output
    assert list(tmp_path.iterdir()) == []


def test_export_shows_a_stop(app, runner, twilio, tmp_path):
    Texter(twilio).send("STOP")
    runner.invoke(args=["subject", "export", NUMBER, "--out", str(tmp_path)])
    doc = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert doc["texts_stopped"]["opted_out"] is True
    assert "Stopped: this number texted STOP" in next(tmp_path.glob("*.html")).read_text()


def test_erase_removes_everything_and_records_only_counts(app, runner, twilio):
    _d1_by_voice(twilio)
    item_id = db.session.scalar(select(Callback.id))
    _worked(app, item_id)  # the welfare check was done
    db.session.add(Outbox(kind="advice", to_number=NUMBER, body="Help line 02380 248725: the advice", encoding="GSM-7",
                          segments=1, status="delivered", callback_id=item_id))
    db.session.commit()
    other = _enquiry_by_text(twilio, number=OTHER)
    before_other = count(Interaction, Interaction.conversation_id.in_(
        select(Conversation.id).where(Conversation.caller == OTHER)))

    result = runner.invoke(args=["subject", "erase", NUMBER, "--yes", "--by", "dpo", "--reference", "ERASE-7"])
    assert result.exit_code == 0, result.output
    assert "Erased" in result.output and NUMBER not in result.output
    assert count(Conversation, Conversation.caller == NUMBER) == 0
    assert count(Callback, Callback.phone == NUMBER) == 0
    for model in (CallbackAttempt, CallbackOutcome, CaseNote):
        assert count(model) == 0, model
    assert count(Outbox, Outbox.to_number == NUMBER) == 0
    assert count(Outbox, Outbox.to_number == OTHER) == 1  # their confirmation text still goes
    # Who looked stays on the trail, without the number.
    assert count(AuditEvent, AuditEvent.phone == NUMBER) == 0
    assert count(AuditEvent, AuditEvent.action == "view_case") == 1
    # The other person is untouched.
    assert count(Conversation, Conversation.caller == OTHER) == 1
    assert count(Interaction, Interaction.conversation_id.in_(
        select(Conversation.id).where(Conversation.caller == OTHER))) == before_other
    assert other.replies[-1]

    event = db.session.scalars(select(DataProtectionEvent)).one()
    assert (event.action, event.actor, event.reference, event.forced) == ("erase", "dpo", "ERASE-7", False)
    assert event.counts["conversations"] == 1 and event.counts["callbacks"] == 1 and event.counts["notes"] == 1
    assert event.counts["texts"] == 2 and event.counts["access_events_kept_without_number"] == 6
    assert NUMBER not in json.dumps(event.counts) and NUMBER[-6:] not in json.dumps(event.counts)
    trail = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "subject_erase")).one()
    assert trail.phone is None and trail.detail["reference"] == "ERASE-7"


def test_erase_keeps_a_standing_stop_and_drops_an_old_one(app, twilio):
    Texter(twilio).send("STOP")
    result = subject.erase(NUMBER, OPEN_TIME, actor="dpo")
    assert result.counts["opt_out_kept"] == 1
    assert db.session.get(OptOut, NUMBER).opted_out is True  # we still must not text them

    Texter(twilio, number=OTHER).send("STOP")
    Texter(twilio, number=OTHER).send("START")
    result = subject.erase(OTHER, OPEN_TIME, actor="dpo")
    assert result.counts["opt_out"] == 1 and db.session.get(OptOut, OTHER) is None


@pytest.mark.parametrize("queue, disposition, status, label", [
    ("welfare", "D1", "open", "welfare check"),
    ("welfare", "D2", "claimed", "welfare check"),
    ("clinical", "D3", "open", "urgent callback"),
    ("clinical", "D4", "unreachable", "urgent callback"),
])
def test_erase_refuses_while_a_welfare_check_or_urgent_callback_is_open(app, runner, queue, disposition, status, label):
    conv = conversation(NUMBER, OPEN_TIME - timedelta(hours=1), disposition=disposition)
    item = callback(conv, queue=queue, disposition=disposition, status=status)
    db.session.commit()
    result = runner.invoke(args=["subject", "erase", NUMBER, "--yes"])
    assert result.exit_code == 1
    assert f"{label} {item.id} is {status}" in result.output and "force it as an admin" in result.output
    assert count(Conversation) == 1 and count(Callback) == 1 and count(DataProtectionEvent) == 0


def test_erase_goes_ahead_with_an_open_routine_callback(app):
    conv = conversation(NUMBER, OPEN_TIME - timedelta(hours=1), disposition="D5")
    callback(conv, disposition="D5", status="open")
    db.session.commit()
    result = subject.erase(NUMBER, OPEN_TIME, actor="dpo")
    assert result.forced is False and count(Callback) == 0  # off the queue: they asked us to forget them


def test_erase_refuses_a_conversation_in_progress(app):
    conversation(NUMBER, OPEN_TIME - timedelta(minutes=3), status="active")
    db.session.commit()
    with pytest.raises(subject.ErasureRefused, match="still in progress"):
        subject.erase(NUMBER, OPEN_TIME, actor="dpo")


def test_force_needs_an_admin(app, runner):
    result = runner.invoke(args=["subject", "erase", NUMBER, "--yes", "--force"])
    assert result.exit_code == 2 and "--force needs --admin" in result.output


@pytest.mark.parametrize("role", ["supervisor", "clinician", None])
def test_force_is_refused_for_anyone_but_an_admin(app, runner, role):
    conv = conversation(NUMBER, OPEN_TIME - timedelta(hours=1), disposition="D1")
    callback(conv, queue="welfare", disposition="D1")
    db.session.commit()
    email = make_staff(role).email if role else "nobody@example.org"
    result = runner.invoke(args=["subject", "erase", NUMBER, "--yes", "--force", "--admin", email])
    assert result.exit_code == 1 and "only an admin can force an erasure" in result.output
    assert count(Callback) == 1 and count(DataProtectionEvent) == 0


def test_an_admin_can_force_it_and_that_is_recorded(app, runner):
    conv = conversation(NUMBER, OPEN_TIME - timedelta(hours=1), disposition="D1")
    callback(conv, queue="welfare", disposition="D1")
    db.session.commit()
    admin = make_staff("admin", "Ada Admin")
    result = runner.invoke(args=["subject", "erase", NUMBER, "--yes", "--force", "--admin", admin.email.upper(),
                                 "--by", "dpo"])
    assert result.exit_code == 0, result.output
    assert "(forced)" in result.output
    assert count(Callback) == 0 and count(Conversation) == 0
    event = db.session.scalars(select(DataProtectionEvent)).one()
    assert event.forced is True and event.actor == f"dpo, authorised by {admin.email}"
    trail = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "subject_erase")).one()
    assert trail.staff_id == admin.id and trail.detail["forced"] is True and trail.phone is None


def test_an_inactive_admin_cannot_force(app):
    conv = conversation(NUMBER, OPEN_TIME - timedelta(hours=1), disposition="D2")
    callback(conv, queue="welfare", disposition="D2")
    admin = make_staff("admin")
    admin.active = False
    db.session.commit()
    with pytest.raises(subject.SubjectError, match="not an active admin"):
        subject.authorise_force(admin.email)


def test_erase_asks_for_confirmation(app, runner):
    conversation(NUMBER, OPEN_TIME - timedelta(days=2))
    db.session.commit()
    result = runner.invoke(args=["subject", "erase", NUMBER], input="n\n")
    assert result.exit_code == 1 and "Aborted" in result.output
    assert count(Conversation) == 1
