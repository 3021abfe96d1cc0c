"""Voice: keys, speech, silence, withheld numbers, status callbacks, errors and retries."""
from __future__ import annotations

from sqlalchemy import func, select

from helpline.db import db
from helpline.models import Callback, Conversation, Interaction
from support import Caller, parse_voice, waiting_node, walk


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_gather_takes_keys_and_speech_in_british_english(twilio):
    heard = Caller(twilio).call()
    gather = heard.gather
    assert gather.get("input") == "dtmf speech"
    assert gather.get("language") == "en-GB"
    assert gather.get("actionOnEmptyResult") == "true"
    assert all(s.get("voice") == "Polly.Amy" and s.get("language") == "en-GB" for s in heard.says)
    # Silence never leaves dead air: a redirect follows the Gather.
    assert heard.root[-1].tag == "Redirect"


def test_speech_answers_are_understood(twilio):
    caller = Caller(twilio)
    caller.call()
    assert "chest pain" in caller.say("I have back pain now").text
    assert "serious accident" in caller.say("no").text
    assert "weakness in both legs" in caller.say("not sure").text
    conv = db.session.scalar(select(Conversation))
    assert conv.answers == {"main_menu": "1", "d1_chest": "no", "d1_accident": "not_sure"}


def test_low_confidence_speech_is_asked_again(twilio):
    caller = Caller(twilio)
    caller.call()
    heard = caller.say("yes", confidence=0.2)
    assert "Sorry, I did not get that" in heard.text
    assert "Press 1 if you have back pain now" in heard.text
    conv = db.session.scalar(select(Conversation))
    assert conv.answers == {}


def test_silence_repeats_once_then_counts_as_not_sure(twilio):
    caller = Caller(twilio)
    caller.call()
    caller.press("1")
    first = caller.silence()
    assert "Sorry, I did not get that" in first.text and "chest pain" in first.text
    assert not first.hung_up
    second = caller.silence()
    assert "serious accident" in second.text  # moved on; "not sure" recorded
    conv = db.session.scalar(select(Conversation))
    assert conv.answers["d1_chest"] == "not_sure"
    assert conv.disposition == "D3"  # P5: unsure on a D1 question gives at least D3


def test_unknown_key_repeats_and_9_repeats_without_counting(twilio):
    caller = Caller(twilio)
    caller.call()
    caller.press("1")
    assert "chest pain" in caller.press("9").text
    assert "chest pain" in caller.press("9").text
    assert "Sorry" in caller.press("7").text
    conv = db.session.scalar(select(Conversation))
    assert conv.answers == {"main_menu": "1"}


def test_emergency_is_said_twice_outside_any_gather_then_hangs_up(twilio):
    caller = Caller(twilio)
    caller.call()
    caller.press("1")
    heard = caller.press("1")  # chest pain: yes
    assert heard.gather is None
    assert heard.hung_up
    emergency = [s for s in heard.says if "nine nine nine" in (s.text or "")]
    assert emergency and emergency[0].get("loop") == "2"
    assert emergency[0].text.count("nine nine nine") >= 2


def test_withheld_caller_is_asked_for_a_number_read_back_and_escalated(twilio):
    caller = Caller(twilio, number="anonymous")
    caller.call()
    walk(caller, {"d3_fever": "1"})  # temperature: yes -> D3 at the end
    heard = caller.last
    assert "GP today" in heard.text and "key in your phone number" in heard.text
    bad = caller.press("12345#")
    assert "does not look like a UK phone number" in bad.text
    confirm = caller.press("07911123456#")
    assert "0 7 9 1 1, 1 2 3 4 5 6" in confirm.text
    done = caller.press("1")
    assert done.hung_up and "call you on that number" in done.text
    item = db.session.scalar(select(Callback))
    assert item.phone == "+447911123456" and item.disposition == "D3" and item.queue == "clinical"


def test_withheld_caller_who_hangs_up_before_giving_a_number_is_still_on_the_queue(twilio):
    caller = Caller(twilio, number="")
    caller.call()
    walk(caller, {"d3_fever": "1"})
    assert caller.last.gather.get("input") == "dtmf"  # waiting for the number
    caller.hang_up()
    item = db.session.scalar(select(Callback))
    assert item.phone is None and item.disposition == "D3"


def test_hanging_up_after_a_red_flag_still_escalates(twilio):
    caller = Caller(twilio)
    caller.call()
    while waiting_node(call_sid=caller.call_sid) != "d3_fever":
        caller.press("1" if waiting_node(call_sid=caller.call_sid) == "main_menu" else "2")
    caller.press("1")  # D3 yes, then hang up mid-flow
    caller.hang_up()
    conv = db.session.scalar(select(Conversation))
    assert conv.status == "abandoned" and conv.ended_at is not None
    item = db.session.scalar(select(Callback))
    assert item.disposition == "D3" and item.reasons == ["d3_infection_signs"]


def test_hanging_up_without_a_red_flag_is_abandoned_without_a_callback(twilio):
    caller = Caller(twilio)
    caller.call()
    caller.press("1")
    caller.hang_up()
    assert db.session.scalar(select(Conversation)).status == "abandoned"
    assert _count(Callback) == 0


def test_a_finished_call_is_completed_and_the_status_callback_is_logged_once(twilio):
    caller = Caller(twilio)
    caller.call()
    caller.press("2")  # prevention advice: ends
    first = caller.hang_up()
    second = caller.hang_up()  # Twilio retry
    assert first.status_code == second.status_code == 200
    assert db.session.scalar(select(Conversation)).status == "completed"
    statuses = db.session.scalars(select(Interaction).where(Interaction.kind == "status")).all()
    assert len(statuses) == 1


def test_a_status_callback_for_a_call_we_never_answered_is_logged_once(twilio):
    caller = Caller(twilio)  # Twilio reports a call that never reached the help line's first webhook
    assert caller.hang_up(status="no-answer").status_code == 200
    assert caller.hang_up(status="no-answer").status_code == 200  # Twilio retry
    statuses = db.session.scalars(select(Interaction).where(Interaction.kind == "status")).all()
    assert [(s.body, s.conversation_id) for s in statuses] == [("no-answer", None)]
    assert _count(Conversation) == 0


def test_a_retried_gather_gets_the_same_answer_and_logs_nothing_new(twilio):
    caller = Caller(twilio)
    caller.call()
    action = caller.last.action
    params = caller._params(Digits="1")
    path = action.split("helpline.example.org")[-1]
    first = twilio(path, params)
    rows = _count(Interaction)
    second = twilio(path, params, headers={"I-Twilio-Idempotency-Token": "retry-1"})
    assert first.data == second.data
    assert _count(Interaction) == rows


def test_any_error_answers_safe_twiml_and_is_logged(twilio, app, monkeypatch, caplog):
    from helpline import conversations

    def broken(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(conversations, "voice_turn", broken)
    caller = Caller(twilio)
    heard = caller.call()
    assert "nine nine nine" in heard.text and "one one one" in heard.text
    assert "Sorry, something has gone wrong" in heard.text
    assert heard.hung_up
    assert any("voice handler failed" in r.getMessage() for r in caplog.records)


def test_fallback_answers_without_the_database(client, app, monkeypatch):
    from helpline.db import db as database

    def no_database(*args, **kwargs):
        raise AssertionError("the fallback must not touch the database")

    monkeypatch.setattr(database.session, "execute", no_database)
    monkeypatch.setattr(database.session, "scalar", no_database)
    for method in (client.get, client.post):
        heard = parse_voice(method("/voice/fallback", data={"ErrorCode": "11200"} if method == client.post else None))
        assert "nine nine nine" in heard.text and heard.hung_up


def test_signature_survives_percent_encoded_query_strings(twilio, client):
    from support import sign

    params = {"CallSid": "CA" + "e" * 32, "From": "+447911123456"}
    path = "/voice?note=it%27s%20me"
    response = client.post(path, data=params, headers={"X-Twilio-Signature": sign(path, params)})
    assert response.status_code == 200


def test_unknown_parameters_are_accepted(twilio):
    caller = Caller(twilio)
    heard = caller._go("/voice", StirVerstat="TN-Validation-Passed-A", SomethingNew="1")
    assert heard.gather is not None
