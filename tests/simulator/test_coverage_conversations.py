"""The free-text conversations in tests/conversations/coverage/, replayed through the signed webhooks.

Each is spoken on voice (a confident SpeechResult) and texted on SMS, and must go the way it was
recorded on both (P9, P12). They cover the free-text triggers that keys alone cannot reach.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from helpline.db import db
from helpline.flowcoverage import SMS_FIRST_TEXT
from helpline.models import Callback, Conversation, Interaction
from support import Caller, Texter

COVERAGE = sorted((Path(__file__).resolve().parents[1] / "conversations" / "coverage").glob("coverage_*.yaml"))


def _asked(conv: Conversation) -> list[str]:
    nodes = db.session.scalars(
        select(Interaction.node).where(Interaction.conversation_id == conv.id, Interaction.direction == "out",
                                       Interaction.kind == "turn").order_by(Interaction.id)
    ).all()
    return [n for n in nodes if n and not n.startswith(("end_", "after_end"))
            and n not in ("prevention", "enquiry_end", "crisis_end", "ask_number")]


def test_there_is_a_free_text_conversation_for_every_trigger_it_was_written_for():
    assert len(COVERAGE) >= 11


@pytest.mark.parametrize("path", COVERAGE, ids=[p.stem for p in COVERAGE])
@pytest.mark.parametrize("channel", ["voice", "sms"])
def test_free_text_conversation(path, channel, twilio, app):
    record = yaml.safe_load(path.read_text())
    expect = record["expect"]
    flow = app.extensions["helpline"].flows[record["flow"]]
    assert record["flow_version"] == flow.version, "re-record: python tests/simulator/record_coverage.py"
    if channel == "voice":
        caller = Caller(twilio)
        caller.call()
        for raw in record["inputs"]:
            assert not caller.last.hung_up
            caller.say(raw["say"]) if isinstance(raw, dict) else caller.press(str(raw))
        final = caller.last.text
    else:
        texter = Texter(twilio)
        texter.send(SMS_FIRST_TEXT)
        for raw in record["inputs"]:
            final = texter.send(raw["say"] if isinstance(raw, dict) else str(raw))
    conv = db.session.scalar(select(Conversation))
    assert _asked(conv) == expect["asked"]
    assert conv.state["end_node"] == expect["end"]
    assert conv.disposition == expect["disposition"]
    assert [r for r in conv.rules_fired if not r.startswith("ending_")] == expect["rules"]
    assert conv.status == "completed"
    ending = flow.node(expect["end"]).text.for_channel(channel).split("{")[0][:40]
    assert ending in final
    queues = [c.queue for c in db.session.scalars(select(Callback))]
    assert queues == ([expect["queue"]] if expect["queue"] else [])
    words = [raw["say"] for raw in record["inputs"] if isinstance(raw, dict)]
    column = Interaction.speech if channel == "voice" else Interaction.body
    logged = db.session.scalars(select(column).where(Interaction.direction == "in", column.in_(words))).all()
    assert logged == words  # the words were heard as words, and logged (P14)
