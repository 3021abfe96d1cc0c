"""SMS: answers by number or word, keywords, free-text red flags, bad input, retries, idle restarts."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from helpline.db import db
from helpline.models import Callback, Conversation, Interaction, OptOut
from support import Texter


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.mark.parametrize("answer,expected", [
    ("1", "yes"), ("yes", "yes"), ("Y", "yes"), ("Yes!", "yes"),
    ("2", "no"), ("no", "no"), ("n", "no"), ("Nope", "no"),
    ("3", "not_sure"), ("not sure", "not_sure"), ("Not sure", "not_sure"), ("dunno", "not_sure"),
])
def test_answers_by_number_or_word(twilio, answer, expected):
    texter = Texter(twilio)
    texter.send("hello")
    texter.send("1")
    texter.send(answer)
    assert db.session.scalar(select(Conversation)).answers["d1_chest"] == expected


def test_first_reply_says_999_before_anything_else(twilio):
    reply = Texter(twilio).send("Can I get some advice")
    assert reply.startswith("Back pain help line. Not for emergencies") and "999" in reply.split("\n")[0]


@pytest.mark.parametrize("word", ["STOP", "stop", "StopAll", "UNSUBSCRIBE", "cancel", "END", "quit"])
def test_opt_out_words_are_kept_and_nothing_more_is_sent(twilio, word):
    texter = Texter(twilio)
    texter.send("hello")
    reply = texter.send(word)
    assert "no more texts" in reply
    assert db.session.get(OptOut, "+447911123456").opted_out is True
    assert texter.send("1") == ""  # nothing is sent after STOP
    assert texter.send("HELP") == ""


def test_start_opts_back_in_and_yes_only_from_an_opted_out_number(twilio):
    texter = Texter(twilio)
    texter.send("STOP")
    assert "again" in texter.send("YES")
    assert db.session.get(OptOut, "+447911123456").opted_out is False
    texter.send("STOP")
    assert "again" in texter.send("start")
    reply = texter.send("hello")
    assert "999" in reply


def test_twilio_advanced_opt_out_is_not_confirmed_twice(twilio):
    texter = Texter(twilio)
    assert texter.send("STOP", OptOutType="STOP") == ""
    assert db.session.get(OptOut, "+447911123456").opted_out is True


@pytest.mark.parametrize("word", ["HELP", "info"])
def test_help_says_what_the_service_is_and_that_it_is_not_for_emergencies(twilio, word):
    reply = Texter(twilio).send(word)
    assert "Not for emergencies" in reply and "999" in reply


@pytest.mark.parametrize("text", [
    "I've wet myself", "I can't feel my bum", "both legs numb", "I have chest pain", "I collapsed at the gym",
])
def test_unmistakable_red_flags_go_straight_to_emergency_advice(twilio, text):
    texter = Texter(twilio)
    texter.send("hello")
    texter.send("1")
    reply = texter.send(text)
    assert "999" in reply and ("A&E" in reply or "ambulance" in reply)
    conv = db.session.scalar(select(Conversation))
    assert conv.disposition in ("D1", "D2") and conv.status == "completed"
    assert db.session.scalar(select(Callback)).queue == "welfare"


def test_a_first_text_with_a_red_flag_gets_the_emergency_advice_at_once(twilio):
    reply = Texter(twilio).send("Hurt my back deadlifting and now I can't feel my bum")
    assert reply.startswith("URGENT: Go to A&E now")


@pytest.mark.parametrize("text,question", [
    ("my leg feels numb", "pins and needles"),
    ("it hurts when I pee", "control your pee"),
    ("some tingling", "pins and needles"),
])
def test_a_possible_red_flag_jumps_to_its_question_then_resumes(twilio, text, question):
    texter = Texter(twilio)
    texter.send("hello")
    texter.send("1")
    reply = texter.send(text)
    assert question in reply
    resumed = texter.send("2")
    assert "chest pain" in resumed  # back to where they were
    conv = db.session.scalar(select(Conversation))
    assert conv.disposition is None


def test_a_negated_symptom_is_not_a_red_flag(twilio):
    texter = Texter(twilio)
    texter.send("hello")
    texter.send("1")
    reply = texter.send("no numbness and I don't have chest pain")
    assert "serious accident" in reply  # read as "no", and no emergency
    conv = db.session.scalar(select(Conversation))
    assert conv.disposition is None and conv.answers["d1_chest"] == "no"
    reply = texter.send("not numb, never had chest pain")
    assert "Sorry, I did not understand" in reply
    assert db.session.scalar(select(Conversation)).disposition is None


@pytest.mark.parametrize("text", ["I want to kill myself", "thinking about suicide", "I might self-harm"])
def test_self_harm_gets_crisis_signposting_first(twilio, text):
    texter = Texter(twilio)
    texter.send("hello")
    reply = texter.send(text)
    assert "Samaritans" in reply and "116 123" in reply and "999" in reply
    assert db.session.scalar(select(Callback)).queue == "welfare"


def test_whatsapp_works_the_same_way(twilio):
    texter = Texter(twilio, number="whatsapp:+447911123456")
    assert "999" in texter.send("hi")
    assert "chest pain" in texter.send("1")
    conv = db.session.scalar(select(Conversation))
    assert conv.channel == "whatsapp" and conv.caller == "+447911123456"


@pytest.mark.parametrize("body", ["🙂🙂🙂", "Ça va? Ñ ü ß", "", "   ", "x" * 1600, "👍"])
def test_odd_input_gets_a_sensible_reply(twilio, body):
    texter = Texter(twilio)
    texter.send("hello")
    texter.send("1")
    reply = texter.send(body)
    assert "Sorry, I did not understand" in reply and "chest pain" in reply
    row = db.session.scalars(select(Interaction).where(Interaction.direction == "in").order_by(Interaction.id.desc())).first()
    assert row.body == body


def test_a_keycap_emoji_digit_is_read_as_the_digit(twilio):
    texter = Texter(twilio)
    texter.send("hello")
    texter.send("1")
    texter.send("2\ufe0f\u20e3")
    assert db.session.scalar(select(Conversation)).answers["d1_chest"] == "no"


def test_a_1600_character_first_text_is_read_for_red_flags(twilio):
    body = ("I lift five times a week. " * 60)[:1500] + " now both legs numb"
    assert len(body) <= 1600
    assert "A&E" in Texter(twilio).send(body)


def test_missing_body_and_missing_from_get_a_reply(twilio):
    response = twilio("/sms", {"MessageSid": "SM" + "a" * 32, "To": "+442380248725"})
    assert response.status_code == 200 and b"999" in response.data
    response = twilio("/sms", {"MessageSid": "SM" + "b" * 32, "From": "+447911123456"})
    assert response.status_code == 200 and b"999" in response.data


def test_a_duplicate_message_gets_the_same_reply_and_is_logged_once(twilio):
    params = {"MessageSid": "SM" + "c" * 32, "From": "+447911123456", "Body": "hello"}
    first = twilio("/sms", params)
    second = twilio("/sms", params, headers={"I-Twilio-Idempotency-Token": "abc"})
    assert first.data == second.data
    assert _count(Interaction, Interaction.direction == "in") == 1
    assert _count(Conversation) == 1


def test_a_retry_without_a_message_sid_is_deduplicated_on_the_idempotency_token(twilio):
    params = {"From": "+447911123456", "Body": "hello"}
    first = twilio("/sms", params, headers={"I-Twilio-Idempotency-Token": "tok-1"})
    second = twilio("/sms", params, headers={"I-Twilio-Idempotency-Token": "tok-1"})
    assert first.data == second.data
    assert _count(Interaction, Interaction.direction == "in") == 1


def test_repeat_on_sms_sends_the_question_again(twilio):
    texter = Texter(twilio)
    texter.send("hello")
    question = texter.send("1")
    assert texter.send("repeat") == question
    assert db.session.scalar(select(Conversation)).answers == {"main_menu": "1"}


def test_an_idle_conversation_starts_afresh_and_a_red_flag_left_behind_is_escalated(twilio, clock):
    texter = Texter(twilio)
    texter.send("hello")
    texter.send("1")
    texter.send("3")  # not sure on chest pain: at least D3
    clock.now += timedelta(hours=3)
    reply = texter.send("hi again")
    assert reply.startswith("Back pain help line")
    convs = db.session.scalars(select(Conversation).order_by(Conversation.id)).all()
    assert [c.status for c in convs] == ["abandoned", "active"]
    assert db.session.scalar(select(Callback)).disposition == "D3"


def test_sweep_escalates_texters_who_stopped_replying(twilio, clock, runner):
    texter = Texter(twilio)
    texter.send("hello")
    texter.send("1")
    texter.send("3")
    clock.now += timedelta(hours=3)
    result = runner.invoke(args=["sweep"])
    assert "closed 1" in result.output
    assert db.session.scalar(select(Callback)).disposition == "D3"


def test_sms_status_callbacks_are_logged_once(twilio):
    params = {"MessageSid": "SM" + "d" * 32, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    twilio("/sms/status", params)
    twilio("/sms/status", params)
    rows = db.session.scalars(select(Interaction).where(Interaction.kind == "status")).all()
    assert [r.body for r in rows] == ["undelivered 30003"]
