"""Every recorded conversation, replayed on voice and on SMS through the signed webhooks (P9, P14)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from helpline.db import db
from helpline.models import Callback, Conversation
from support import Caller, Texter

RECORDED = sorted((Path(__file__).resolve().parents[1] / "conversations").glob("*.yaml"))


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
@pytest.mark.parametrize("channel", ["voice", "sms"])
def test_recorded_conversation(path, channel, twilio, app):
    record = _load(path)
    expect = record["expect"]
    if channel == "voice":
        caller = Caller(twilio)
        caller.call()
        for key in record["inputs"]:
            assert not caller.last.hung_up
            caller.press(key)
        final = caller.last.text
    else:
        texter = Texter(twilio)
        texter.send("Hi, I hurt my back at the gym")
        for key in record["inputs"]:
            final = texter.send(key)
    conv = db.session.scalar(select(Conversation))
    asked = [node for node in _asked(conv)]
    assert asked == expect["asked"]
    assert conv.state["end_node"] == expect["end"]
    assert conv.disposition == expect["disposition"]
    assert conv.flow_version == record["flow_version"]
    assert [r for r in conv.rules_fired if not r.startswith("ending_")] == expect["rules"]
    assert set(conv.answers) == {n for n in expect["asked"] if app.extensions["helpline"].flow.node(n).type != "route"}
    assert conv.status == "completed"
    ending = app.extensions["helpline"].flow.node(expect["end"])
    first_words = ending.text.for_channel("voice" if channel == "voice" else "sms").split("{")[0][:40]
    assert first_words in final
    callbacks = db.session.scalars(select(Callback)).all()
    if expect["queue"] is None:
        assert callbacks == []
    else:
        assert [(c.queue, c.disposition) for c in callbacks] == [(expect["queue"], expect["disposition"] if expect["queue"] != "general" else None)]


def _asked(conv: Conversation) -> list[str]:
    from helpline.models import Interaction

    rows = db.session.scalars(
        select(Interaction.node).where(Interaction.conversation_id == conv.id, Interaction.direction == "out",
                                       Interaction.kind == "turn").order_by(Interaction.id)
    ).all()
    return [n for n in rows if n and not n.startswith(("end_", "after_end")) and n not in ("prevention", "enquiry_end", "crisis_end")]
