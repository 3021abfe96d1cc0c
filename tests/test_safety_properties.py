"""The clinical brief's safety properties P1-P14, one test each, through the real webhooks or the engine.

The static proofs over every path of the flow graph are in helpline/engine/validate.py (run by
`flask --app helpline flows check` and tests/engine/test_validate.py); these tests show the
running help line keeps the same promises.
"""
from __future__ import annotations

import random
import re

import pytest
from sqlalchemy import select

from helpline import triage
from helpline.engine import Context, Input, load_flow, start, step
from helpline.engine.gsm import is_gsm7, segments
from helpline.models import Callback, Conversation, Interaction
from helpline.db import db
from support import Caller, Texter, waiting_node, walk

CTX = {"voice": Context("voice", variables={"callback_hours": "2", "routine_days": "3"}),
       "sms": Context("sms", variables={"callback_hours": "2", "routine_days": "3"})}


@pytest.fixture(scope="module")
def flow(flows_dir):
    return load_flow(flows_dir / "back_pain.yaml")


def _random_paths(flow, n: int, seed: int = 2380, channel: str = "sms"):
    """Random walks through the flow: keys 1-3 and 9, words, silence and junk."""
    rng = random.Random(seed)
    inputs = [Input.key("1"), Input.key("2"), Input.key("3"), Input.key("9"), Input.key("7"),
              Input.silence(), Input.text("yes"), Input.text("no"), Input.text("not sure"), Input.text("🙂")]
    for _ in range(n):
        turn = start(flow, CTX[channel])
        history = [turn]
        while not turn.ended and len(history) < 200:
            turn = step(flow, turn.state, rng.choice(inputs), CTX[channel])
            history.append(turn)
        yield history


def test_p1_emergency_first_on_both_channels(twilio):
    heard = Caller(twilio).call()
    assert "nine nine nine" in heard.says[0].text
    reply = Texter(twilio).send("Hello, is this the back pain line?")
    assert "999" in reply.split(".")[1] or "999" in reply.split("\n")[0]


def test_p2_tiers_are_asked_most_urgent_first(twilio, flow):
    texter = Texter(twilio)
    texter.send("hi")
    walk(texter)
    asked = db.session.scalars(select(Interaction.node).where(Interaction.direction == "out").order_by(Interaction.id)).all()
    tiers = [flow.node(n).tier for n in asked if n in flow.nodes and flow.node(n).type == "question"]
    assert tiers == sorted(tiers, key=triage.RANK.get) and len(set(tiers)) == 5


@pytest.mark.parametrize("question", ["d1_chest", "d1_accident", "d1_legs", "d2_saddle", "d2_bladder",
                                      "d2_bowel", "d2_sexual", "d2_both_legs", "d2_dark_urine"])
def test_p3_a_d1_or_d2_yes_exits_at_once(twilio, question):
    caller = Caller(twilio)
    caller.call()
    while waiting_node(call_sid=caller.call_sid) != question:
        caller.press("1" if waiting_node(call_sid=caller.call_sid) == "main_menu" else "2")
    heard = caller.press("1")
    assert heard.gather is None and heard.hung_up
    assert "press" not in heard.text.lower()
    assert db.session.scalar(select(Conversation)).status == "completed"
    assert db.session.scalar(select(Callback)).queue == "welfare"  # staff check, never a callback offer


def test_p4_the_disposition_never_falls(flow):
    for history in _random_paths(flow, 400):
        seen = [t.state.disposition or "D6" for t in history]
        for before, after in zip(seen, seen[1:]):
            assert triage.RANK[after] <= triage.RANK[before]


def test_p5_unknown_goes_up(flow):
    for node in flow.nodes.values():
        if node.type != "question" or node.tier not in ("D1", "D2", "D3"):
            continue
        turn = start(flow, CTX["sms"])
        while not turn.ended:
            if turn.ask.node == node.id:
                turn = step(flow, turn.state, Input.silence(), CTX["sms"])
                assert turn.ask.node == node.id  # first failure repeats
                turn = step(flow, turn.state, Input.key("8"), CTX["sms"])  # second counts as not sure
                continue
            key = {"main_menu": "1", "age_band": "2", "onset": "1", "course_recent": "1"}.get(turn.ask.node, "2")
            turn = step(flow, turn.state, Input.key(key), CTX["sms"])
        floor = "D3" if node.tier in ("D1", "D2") else "D4"
        assert triage.RANK[turn.state.disposition] <= triage.RANK[floor], node.id
        assert turn.state.end_node != "end_d6"


ENDINGS_WITH_SAFETY_NET = ["end_d3", "end_d4", "end_d5", "end_d6", "prevention", "enquiry_end"]


@pytest.mark.parametrize("channel", ["voice", "sms"])
def test_p6_every_final_message_carries_the_safety_net(flow, channel):
    for history in _random_paths(flow, 200, channel=channel):
        final = history[-1]
        if not final.ended or final.state.end_node not in ENDINGS_WITH_SAFETY_NET:
            continue
        text = final.say[-1].text.lower()
        if channel == "sms":
            assert "999" in text and "a&e" in text and "111" in text
        else:
            assert "nine nine nine" in text and "a and e" in text and "one one one" in text
        for sign in ("bottom or genitals", "pee or poo", "both legs"):
            assert sign in text


def test_p7_no_diagnosis_anywhere(flow):
    from helpline import conversations
    from helpline.engine.validate import conclusions, named_conditions

    texts = [t for node in flow.nodes.values() for t in (node.text.voice, node.text.sms)]
    texts += [flow.safety_net.voice, flow.safety_net.sms, flow.retry.voice, flow.retry.sms]
    texts += [v for k, v in vars(conversations).items() if k.startswith(("SMS_", "VOICE_")) and isinstance(v, str)]
    for text in texts:
        assert conclusions(text) == [] and named_conditions(text) == [], text
    # the checks themselves catch a conclusion
    assert conclusions("You have sciatica.") and conclusions("This is a muscle strain.")
    assert named_conditions("Sounds like cauda equina")


def test_p8_a_callback_never_replaces_emergency_care(flow):
    for node_id in ("end_d1", "end_d2", "crisis_end"):
        for text in (flow.node(node_id).text.voice, flow.node(node_id).text.sms):
            assert not re.search(r"call you|callback|call back", text.lower())
    d4 = flow.node("end_d4").text
    assert "{callback_hours}" in d4.sms and "111" in d4.sms and "999" in d4.sms
    out_of_hours = Context("sms", d4_available=False, variables={"callback_hours": "2", "routine_days": "3"})
    turn = start(flow, out_of_hours)
    while not turn.ended:
        key = {"main_menu": "1", "age_band": "2", "onset": "1", "course_recent": "1", "d4_one_leg": "1"}.get(turn.ask.node, "2")
        turn = step(flow, turn.state, Input.key(key), out_of_hours)
    assert turn.state.end_node == "end_d3" and "d4_unavailable" in turn.state.rules


def test_p9_channel_parity(flow):
    rng = random.Random(9)
    for _ in range(150):
        keys = [rng.choice("1223") for _ in range(60)]
        ends = {}
        for channel in ("voice", "sms"):
            turn = start(flow, CTX[channel])
            for key in keys:
                if turn.ended:
                    break
                turn = step(flow, turn.state, Input.key(key), CTX[channel])
            ends[channel] = (turn.state.disposition, turn.state.end_node, turn.state.rules)
        assert ends["voice"] == ends["sms"]


def test_p10_under_16s_and_getting_worse_never_reach_self_care(flow):
    for history in _random_paths(flow, 600, seed=10):
        final = history[-1].state
        if not final.ended:
            continue
        if "age_under_16" in final.rules or "getting_worse" in final.rules:
            assert final.disposition != "D6" and final.end_node != "end_d6"


def test_p11_emergency_texts_are_one_gsm7_segment(flow):
    for node in flow.nodes.values():
        if node.type == "end" and node.emergency:
            assert is_gsm7(node.text.sms), node.id
            assert segments(node.text.sms) == ("GSM-7", 1) or segments(node.text.sms)[1] == 1, node.id
            assert len(node.text.sms) <= 160


@pytest.mark.parametrize("words", ["I wet myself", "chest pain", "I collapsed", "999", "both legs numb"])
def test_p12_free_text_red_flags_work_at_every_question(twilio, flow, words):
    questions = [n.id for n in flow.nodes.values() if n.type in ("question", "menu")]
    for target in questions[::3]:
        texter = Texter(twilio, number=f"+4479111{len(target):02d}{questions.index(target):03d}")
        texter.send("hello")
        for _ in range(40):
            node = waiting_node(caller=texter.number)
            if node == target or node is None:
                break
            texter.send({"main_menu": "1", "age_band": "3", "age_over_50": "1", "onset": "2"}.get(node, "2"))
        reply = texter.send(words)
        assert "999" in reply and waiting_node(caller=texter.number) is None, target


def test_p13_every_prompt_can_be_repeated_and_the_emergency_plays_twice(twilio, flow):
    caller = Caller(twilio)
    caller.call()
    while (node := waiting_node(call_sid=caller.call_sid)) is not None:
        before = caller.last.text
        again = caller.press("9")
        assert flow.node(node).text.voice[:30] in again.text and flow.node(node).text.voice[:30] in before
        caller.press({"main_menu": "1", "age_band": "2", "onset": "1", "course_recent": "1"}.get(node, "2"))
    ending = caller.last.text
    assert "hear this again" in ending
    assert caller.press("9").text.startswith(ending.split(".")[0])
    emergency = Caller(twilio)
    emergency.call()
    emergency.press("1")
    heard = emergency.press("1")
    assert heard.says[0].get("loop") == "2" and heard.gather is None


def test_p14_each_contact_logs_version_answers_rules_and_disposition(twilio, flow):
    texter = Texter(twilio)
    texter.send("hi")
    walk(texter, {"d3_cough": "1", "d4_one_leg": "3"})
    conv = db.session.scalar(select(Conversation))
    assert conv.flow_id == flow.id and conv.flow_version == flow.version
    assert conv.answers["d3_cough"] == "yes" and conv.answers["d4_one_leg"] == "not_sure"
    assert {"d3_cough_or_thoracic_pain", "d4_one_leg_not_sure"} <= set(conv.rules_fired)
    assert conv.disposition == "D3"
    rows = db.session.scalars(select(Interaction).where(Interaction.conversation_id == conv.id)).all()
    inbound = [r for r in rows if r.direction == "in"]
    assert len(inbound) == len(texter.replies) and all(r.body is not None for r in inbound)
    assert all(r.said for r in rows if r.direction == "out")
