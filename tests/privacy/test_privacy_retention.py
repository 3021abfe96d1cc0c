"""Retention and purge: what goes, what stays, and that a live case keeps everything it needs."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from support import OPEN_TIME
from helpline.db import db
from helpline.models import Callback, Conversation, Interaction, OptOut
from helpline.privacy import cli as privacy_cli
from helpline.privacy.models import DataProtectionEvent
from helpline.privacy.retention import Retention, plan, purge
from helpline.notify.models import Outbox
from helpline.staff.models import AuditEvent, CallbackAttempt, CallbackOutcome, CaseNote
from privacy_rows import callback, conversation, keyword, make_staff, opt_out, text

NOW = OPEN_TIME
OLD = NOW - timedelta(days=400)  # past every default period but the audit trail's
MIDDLE = NOW - timedelta(days=120)  # past the transcripts' 90 days, within the conversations' 365
RECENT = NOW - timedelta(days=3)


def retention(app, **days) -> Retention:
    config = dict(app.config)
    for name, value in days.items():
        config[f"RETAIN_{name.upper()}_DAYS" if name != "batch" else "PURGE_BATCH_SIZE"] = value
    return Retention.from_config(config)


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.mark.parametrize("days, error", [
    ({"transcripts": 400, "conversations": 365}, "transcripts cannot be kept longer"),
    ({"outbox": 0}, "at least one day"),
    ({"batch": 0}, "batch size"),
])
def test_settings_that_would_keep_too_much_or_nothing_are_refused(app, days, error):
    with pytest.raises(ValueError, match=error):
        retention(app, **days)


def test_defaults_are_the_documented_ones(app):
    assert Retention.from_config(app.config).as_days() == {
        "transcripts": 90, "conversations": 365, "callbacks": 365, "audit": 730, "outbox": 30}


def _world():
    """One of each case the purge must tell apart."""
    rows = {
        "old": conversation("+447700900001", OLD),
        "middle": conversation("+447700900002", MIDDLE),
        "recent": conversation("+447700900003", RECENT),
        "old_voice": conversation("+447700900004", OLD, channel="voice", call_sid="CA" + "4" * 32),
        # An old conversation whose callback is still open: everything stays.
        "open_case": conversation("+447700900005", OLD, disposition="D4"),
        # Same number as an open callback, from an older conversation: staff see the history.
        "history": conversation("+447700900006", OLD - timedelta(days=30)),
        "history_case": conversation("+447700900006", RECENT, disposition="D5"),
        # Waiting for a supervisor after failed tries: still needed.
        "unreachable": conversation("+447700900007", OLD, disposition="D4"),
        "closed_case": conversation("+447700900008", OLD, disposition="D5"),
        "active": conversation("+447700900009", OLD, status="active"),
    }
    callbacks = {
        "open_case": callback(rows["open_case"], status="claimed", disposition="D4"),
        "history_case": callback(rows["history_case"], status="open"),
        "unreachable": callback(rows["unreachable"], status="unreachable", disposition="D4"),
        "closed_case": callback(rows["closed_case"], status="done", updated=OLD + timedelta(days=1)),
    }
    nurse = make_staff("clinician", "Nurse")
    for name in ("closed_case", "open_case"):
        item = callbacks[name]
        db.session.add(CaseNote(callback_id=item.id, staff_id=nurse.id, body=f"note on {name}", created_at=OLD))
        db.session.add(CallbackOutcome(callback_id=item.id, staff_id=nurse.id, outcome="no_answer",
                                       note=f"outcome note on {name}", created_at=OLD))
        db.session.add(CallbackAttempt(callback_id=item.id, staff_id=nurse.id, method="dialler",
                                       call_sid=f"CA{item.id:032d}", result="no_answer", started_at=OLD))
    text("+447700900001", "delivered", OLD)  # sent long ago: goes
    text("+447700900002", "pending", OLD)  # never sent (a worker may yet): stays
    text("+447700900003", "delivered", RECENT)
    db.session.add(AuditEvent(at=NOW - timedelta(days=800), staff_id=nurse.id, action="view_case", phone="+447700900001",
                              detail={}))
    db.session.add(AuditEvent(at=OLD, staff_id=nurse.id, action="view_case", phone="+447700900008", detail={}))
    keyword("STOP", OLD)
    keyword("HELP", RECENT)
    opt_out("+447700900010", True, OLD)  # still opted out: kept however old
    opt_out("+447700900011", False, OLD)  # opted back in long ago: nothing to honour
    opt_out("+447700900012", False, RECENT)
    db.session.commit()
    return rows, callbacks


def _transcript(conv) -> int:
    return count(Interaction, Interaction.conversation_id == conv.id)


def test_dry_run_counts_and_changes_nothing(app):
    _world()
    before = (count(Interaction), count(Conversation, Conversation.caller.is_not(None)), count(OptOut))
    report = plan(retention(app), NOW)
    assert report.applied is False
    assert report.counts() == {
        # old, middle, old_voice: 4 each; the STOP keyword. Not: open_case, history, unreachable, active, recent.
        "interactions": 4 + 4 + 4 + 4 + 1,  # + closed_case's transcript (its callback is done)
        "conversations": 3,  # old, old_voice, closed_case
        "callbacks": 1,  # closed_case
        "opt_ins": 1,
        "outbox": 1,
        "audit_trail": 1,  # 800 days old; the 400-day-old event stays for the 730-day audit period
        "data_protection_log": 0,
    }
    assert (count(Interaction), count(Conversation, Conversation.caller.is_not(None)), count(OptOut)) == before


@pytest.mark.parametrize("batch", [1, 3, 500])
def test_purge_deletes_transcripts_anonymises_and_keeps_what_open_cases_need(app, batch):
    rows, callbacks = _world()
    report = purge(retention(app, batch=batch), NOW, actor="test")
    assert report.counts() == {"interactions": 17, "conversations": 3, "callbacks": 1, "opt_ins": 1, "outbox": 1,
                               "audit_trail": 1, "data_protection_log": 0}

    for name in ("old", "old_voice", "closed_case"):
        conv = db.session.get(Conversation, rows[name].id)
        db.session.refresh(conv)
        assert (conv.caller, conv.caller_raw, conv.call_sid, conv.state) == (None, None, None, {}), name
        assert conv.answers == {"d1_chest": "no"} and conv.disposition and conv.flow_version  # kept for safety review
        assert _transcript(conv) == 0
    middle = db.session.get(Conversation, rows["middle"].id)
    assert middle.caller == "+447700900002" and _transcript(middle) == 0  # number kept, words gone
    for name in ("recent", "open_case", "history", "history_case", "unreachable", "active"):
        conv = db.session.get(Conversation, rows[name].id)
        assert conv.caller is not None and _transcript(conv) == 4, name
    for name in ("open_case", "history_case", "unreachable"):
        assert db.session.get(Callback, callbacks[name].id).phone is not None
    closed = db.session.get(Callback, callbacks["closed_case"].id)
    assert closed.phone is None and closed.status == "done" and closed.disposition == "D5"
    # Staff's free text goes with the closed case's number; the open case keeps all of it.
    assert [n.body for n in db.session.scalars(select(CaseNote))] == ["note on open_case"]
    assert {(o.callback_id, o.note) for o in db.session.scalars(select(CallbackOutcome))} == {
        (closed.id, None), (callbacks["open_case"].id, "outcome note on open_case")}
    assert {(a.callback_id, a.call_sid is None) for a in db.session.scalars(select(CallbackAttempt))} == {
        (closed.id, True), (callbacks["open_case"].id, False)}
    assert sorted(t.to_number for t in db.session.scalars(select(Outbox))) == ["+447700900002", "+447700900003"]
    assert [e.phone for e in db.session.scalars(select(AuditEvent).where(AuditEvent.action == "view_case"))] == [
        "+447700900008"]
    assert count(Interaction, Interaction.conversation_id.is_(None)) == 1  # HELP from 3 days ago
    assert {o.phone for o in db.session.scalars(select(OptOut))} == {"+447700900010", "+447700900012"}

    event = db.session.scalars(select(DataProtectionEvent)).one()
    assert event.action == "purge" and event.actor == "test" and event.counts["interactions"] == 17
    assert event.counts["retention_days"]["transcripts"] == 90


def test_a_second_purge_finds_nothing(app):
    _world()
    purge(retention(app), NOW, actor="test")
    again = plan(retention(app), NOW)
    assert again.total == 0


def test_a_case_opened_after_the_count_still_protects_its_rows(app):
    """The statement re-checks: a callback opened between the plan and the batch keeps its conversation."""
    rows, _ = _world()
    planned = plan(retention(app), NOW)
    assert planned.counts()["conversations"] == 3
    callback(rows["old"], status="open")  # the person rang again and was queued
    db.session.commit()
    report = purge(retention(app), NOW, actor="test")
    assert report.counts()["conversations"] == 2
    conv = db.session.get(Conversation, rows["old"].id)
    assert conv.caller == "+447700900001" and _transcript(conv) == 4


def test_the_data_protection_log_is_kept_for_the_audit_period(app):
    db.session.add(DataProtectionEvent(action="erase", at=NOW - timedelta(days=800), actor="x", counts={}))
    db.session.add(DataProtectionEvent(action="erase", at=NOW - timedelta(days=10), actor="y", counts={}))
    db.session.commit()
    purge(retention(app), NOW, actor="test")
    assert [e.actor for e in db.session.scalars(select(DataProtectionEvent).order_by(DataProtectionEvent.id))] == ["y", "test"]


def test_cli_dry_run_by_default(app, runner):
    _world()
    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    assert "Retention in days: transcripts 90, conversations 365" in result.output
    assert "would delete            17  interactions" in result.output
    assert "would anonymise          3  conversations" in result.output
    assert "keeps numbers still opted out" in result.output
    assert "Dry run: nothing was changed" in result.output
    assert count(DataProtectionEvent) == 0
    assert count(Interaction) == 10 * 4 + 2


def test_cli_apply_with_a_progress_bar(app, runner, monkeypatch):
    _world()
    monkeypatch.setattr(privacy_cli, "PROGRESS_FROM", 5)  # this small run counts as large
    result = runner.invoke(args=["purge", "--apply", "--batch-size", "2", "--by", "nightly job"])
    assert result.exit_code == 0, result.output
    assert "Purging" in result.output  # the bar's label (the runner mixes stderr in)
    assert "deleted                 17  interactions" in result.output
    assert "Purged 24 record(s)." in result.output
    assert db.session.scalars(select(DataProtectionEvent)).one().actor == "nightly job"


def test_cli_refuses_bad_settings(app, runner):
    app.config["RETAIN_TRANSCRIPTS_DAYS"] = 999
    try:
        result = runner.invoke(args=["purge"])
    finally:
        app.config["RETAIN_TRANSCRIPTS_DAYS"] = 90
    assert result.exit_code == 2 and "transcripts cannot be kept longer" in result.output
