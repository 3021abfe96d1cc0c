"""`flask flows simulate`: a call or a text conversation in the terminal, through the signed webhooks."""
from __future__ import annotations

from sqlalchemy import select

from helpline.db import db
from helpline.models import Callback, Conversation, Interaction


def _simulate(runner, *args: str, input: str):
    result = runner.invoke(args=["flows", "simulate", *args], input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_a_call_answering_the_red_flag_questions_reaches_ae(runner):
    result = _simulate(runner, "--channel", "voice", "--from", "+442079460123", "--log", input="1\n2\n2\n2\n1\n")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.index("nine nine nine") < out.index("Press 1 if you have back pain now")
    assert "help line: Please go to A and E now" in out and "(said twice)" in out
    assert "-- call ended: disposition D2, rules d2_saddle_numbness" in out
    assert "log #" in out and "node=d2_saddle" in out
    conv = db.session.scalar(select(Conversation))
    assert (conv.channel, conv.caller, conv.disposition, conv.status) == ("voice", "+442079460123", "D2", "completed")
    # Twilio's status callback followed the hang-up, as it would on a real call.
    assert db.session.scalar(select(Interaction.body).where(Interaction.kind == "status")) == "completed"


def test_words_silence_and_the_twiml_in_the_terminal(runner):
    result = _simulate(runner, "--twiml", input="'back pain\n\nsay@0.2 no\n?\n")
    out = result.output
    assert "<Gather" in out and 'language="en-GB"' in out
    assert "First, some questions to check it is safe to wait" in out  # "back pain" chose option 1
    assert out.count("Sorry, I did not get that") == 2  # silence, then words heard too faintly
    assert "Keys: type digits" in out  # "?" shows the help again
    assert "-- you hung up" in out  # end of input hangs up
    speech = db.session.scalars(select(Interaction.speech).where(Interaction.speech.is_not(None)).order_by(Interaction.id)).all()
    assert speech == ["back pain", "no"]
    assert db.session.scalar(select(Interaction.confidence).where(Interaction.speech == "no")) == 0.2


def test_hanging_up_after_a_red_flag_still_reaches_the_queue(runner):
    result = _simulate(runner, "--channel", "voice", input="1\n3\nhangup\n")
    assert "-- you hung up" in result.output
    conv = db.session.scalar(select(Conversation))
    assert conv.status == "abandoned" and conv.disposition == "D3"
    assert db.session.scalar(select(Callback.queue)) == "clinical"


def test_a_withheld_caller(runner):
    result = _simulate(runner, "--withheld", input="")
    assert "from a withheld number" in result.output
    assert db.session.scalar(select(Conversation.caller_raw)) == "anonymous"


def test_a_text_conversation_reaches_ae(runner):
    result = _simulate(runner, "--channel", "sms", "--from", "+442079460124", input="hello\n1\nno\nno\nno\nyes\n")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "help line: Back pain help line. Not for emergencies" in out
    assert "help line: URGENT: Go to A&E now" in out
    assert "-- conversation ended: disposition D2" in out
    conv = db.session.scalar(select(Conversation))
    assert (conv.channel, conv.caller, conv.disposition) == ("sms", "+442079460124", "D2")


def test_texts_stop_at_an_empty_line_and_keywords_get_their_reply(runner):
    result = _simulate(runner, "--channel", "sms", "--log", input="STOP\nhello\n\nnever sent\n")
    out = result.output
    assert "help line: You will get no more texts" in out
    assert "help line: (no reply)" in out  # nothing is sent after STOP
    assert "never sent" not in out
    assert db.session.scalars(select(Interaction.body).where(Interaction.direction == "in").order_by(Interaction.id)).all() == ["STOP", "hello"]


def test_the_default_number_is_a_valid_one_from_ofcoms_drama_range():
    from helpline import phones, simulate

    for _ in range(20):
        number = simulate.drama_number()
        assert phones.to_e164(number) == number
        assert number.startswith("+442079460") and len(number) == 13


def test_a_withheld_caller_keys_in_a_number_ending_with_hash(runner):
    result = _simulate(runner, "--withheld", input="3\n07911123456#\n1\n")
    out = result.output
    assert "please key in your phone number" in out
    assert "You entered 0 7 9 1 1, 1 2 3 4 5 6" in out
    assert "Thank you. We will call you on that number" in out
    assert db.session.scalar(select(Interaction.digits).where(Interaction.digits.like("079%"))) == "07911123456"
    assert db.session.scalar(select(Callback.phone)) == "+447911123456"


def test_a_refused_signature_says_what_to_set(runner, monkeypatch):
    from helpline import simulate

    monkeypatch.setattr(simulate, "signing_token", lambda app: "not-the-auth-token")
    result = _simulate(runner, "--channel", "sms", input="hello\n")
    assert "!! the webhook answered 403" in result.output
    assert "set TWILIO_AUTH_TOKEN" in result.output
    assert db.session.scalar(select(Interaction.id)) is None
