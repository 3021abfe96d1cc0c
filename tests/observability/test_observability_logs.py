"""JSON-lines logs: a request id on every line, and no number, text or speech from a caller in any of them."""
from __future__ import annotations

import json
import logging

import pytest

from helpline import conversations, create_app
from helpline.observability.logs import redact_text
from support import Caller, Texter, walk

NUMBER = "+447911123456"
KEYED = "07911 654 320"  # a withheld caller keys in a number to be called back on
BODY = "Deadlifted 140kg and now my left leg tingles"
SPEECH = "sharp pain low down on the right side"
SECRET_FORMS = [NUMBER, NUMBER[1:], "07911 123456", "07911123456", "7911123456", "0791165432", "07911654320",
                BODY, "140kg and now", "left leg tingles", SPEECH, "low down on the right"]


def _leaks(lines: list[dict]) -> list[str]:
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    return [secret for secret in SECRET_FORMS if secret in text]


def test_a_call_and_texts_leave_no_number_words_or_speech_in_the_logs(app, twilio, log_lines, monkeypatch):
    caller = Caller(twilio, number=NUMBER)
    caller.call()
    caller.say(SPEECH, confidence=0.3)  # unclear: asked again, and logged as a turn
    caller.press("1")
    withheld = Caller(twilio, number="anonymous")
    withheld.call()
    walk(withheld, {"d3_fever": "1"})  # D3: the help line asks for a number to call back on
    assert "key in your phone number" in withheld.last.text
    withheld.press(KEYED.replace(" ", "") + "#")
    withheld.press("1")
    texter = Texter(twilio, number=NUMBER)
    texter.send(BODY)
    texter.send("2")

    # A handler that fails with the text's words in its error: the traceback is logged, scrubbed.
    def broken(hl, req, now):
        raise ValueError(f"could not understand {req.body!r} from {req.caller}")

    monkeypatch.setattr(conversations, "sms_turn", broken)
    texter.send(BODY)
    # And a careless line in our own code, inside a request.
    with app.test_request_context("/sms", method="POST", data={"From": NUMBER, "Body": BODY}):
        logging.getLogger("helpline.test").warning("from %s: %s", NUMBER, BODY, extra={"body": BODY, "phone": NUMBER})

    lines = log_lines()
    assert _leaks(lines) == []
    # The logs are still useful: each request logged once, with an id, route, status and Twilio's SID.
    requests = [line for line in lines if line["logger"] == "helpline.request"]
    assert len(requests) >= 8
    assert all(len(line["request_id"]) == 32 and line["duration_ms"] >= 0 for line in requests)
    assert {line["route"] for line in requests} >= {"voice.incoming_call", "voice.gather", "sms.incoming_text"}
    assert all(line["twilio_sid"].startswith(("CA", "SM")) for line in requests)
    failure = next(line for line in lines if line["message"] == "sms handler failed; answering with a safe text")
    assert failure["level"] == "ERROR" and "ValueError: could not understand '[redacted]' from [redacted]" in failure["exception"]
    careless = next(line for line in lines if line["logger"] == "helpline.test")
    assert careless["message"] == "from [redacted]: [redacted]"
    assert careless["body"] == "[redacted]" and careless["phone"] == "[redacted]"


def test_the_request_id_is_returned_and_an_incoming_one_is_kept(client, log_lines):
    response = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a9c21-aa"})
    assert response.headers["X-Request-ID"] == "lb-7f3a9c21-aa"
    fresh = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"}).headers["X-Request-ID"]
    assert len(fresh) == 32 and fresh != "bad id with spaces"
    ids = [line["request_id"] for line in log_lines() if line["logger"] == "helpline.request"]
    assert ids == ["lb-7f3a9c21-aa", fresh]


@pytest.mark.parametrize("text, expected", [
    ("call from +447911123456 ended", "call from [phone] ended"),
    ("whatsapp:+447911123456", "whatsapp:[phone]"),
    ("From=447911123456&Body=hi", "From=[phone]&Body=hi"),
    ("ring 07911 123456 back", "ring [phone] back"),
    ("the line is 02380 248725", "the line is [phone]"),
    ("+44 (0)23 8024 8725", "[phone]"),
    ("took 1234567 ms at 2026-11-18 10:00:00.123", "took 1234567 ms at 2026-11-18 10:00:00.123"),
    ("CallSid CA0000000000000000000000000000000001 step=12", "CallSid CA0000000000000000000000000000000001 step=12"),
])
def test_phone_numbers_are_found_in_free_text(text, expected):
    assert redact_text(text) == expected


def test_the_app_logs_json_lines_to_stderr(app, capsys):
    """create_app installs the handler on the root logger (the test session's was replaced by Alembic's)."""
    create_app({**app.config, "DATABASE_URL": app.config["DATABASE_URL"]})
    logging.getLogger("helpline").warning("a plain line from %s", NUMBER)
    err = capsys.readouterr().err.strip().splitlines()
    ours = [json.loads(line) for line in err if line.startswith("{")]
    assert any(line["message"] == "a plain line from [phone]" and line["level"] == "WARNING" for line in ours)


def test_gunicorns_own_lines_still_print_in_a_worker_after_the_app_is_built(app, capsys):
    """gunicorn's lines in a worker ("Error handling request", "Worker exiting") carry the process
    id: the app's logging set-up must leave records able to give it."""
    import os

    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    create_app({**app.config, "DATABASE_URL": app.config["DATABASE_URL"]})
    gunicorn_log = Logger(Config())
    gunicorn_log.info("Worker exiting (pid: %s)", 4242)
    err = capsys.readouterr().err
    assert "Logging error" not in err
    assert f"[{os.getpid()}] [INFO] Worker exiting (pid: 4242)" in err


def test_the_request_line_names_twilio_sids_and_nothing_else(app, twilio, client, log_lines):
    Caller(twilio, number=NUMBER).call()
    twilio("/voice", {"CallSid": NUMBER, "From": NUMBER})  # not a SID: a number where one should be
    client.post(f"/callers/{NUMBER}/07911123456")  # a path nobody serves, with numbers in it
    requests = [line for line in log_lines() if line["logger"] == "helpline.request"]
    assert [line["status"] for line in requests] == [200, 200, 404]
    assert requests[0]["twilio_sid"].startswith("CA") and len(requests[0]["twilio_sid"]) == 34
    assert requests[1]["twilio_sid"] == "[redacted]"
    assert requests[2]["path"] == "/callers/[phone]/[phone]" and requests[2]["message"] == "POST /callers/[phone]/[phone] 404"
    assert _leaks(requests) == []


def test_request_ids_differ_between_requests_and_between_forked_workers():
    import os

    from helpline.observability.logs import _new_request_id

    ids = {_new_request_id() for _ in range(10_000)}
    assert len(ids) == 10_000 and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    # gunicorn forks its workers from one process: each must draw its own ids.
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send its next id and leave at once
        os.write(write, _new_request_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read), os.close(write)
    assert len(child) == 32 and child != _new_request_id()



def test_each_line_is_stamped_with_its_utc_time_to_the_millisecond():
    from datetime import datetime, timezone

    from helpline.observability.logs import JsonFormatter

    formatter = JsonFormatter()  # one formatter: the date and time it keeps must follow the clock
    for created in [1795000000.0, 1795000000.25, 1795000000.9994, 1795000000.9999996, 1795000001.001,
                    1795000000.5, 0.0, 1795086400.123]:
        record = logging.LogRecord("helpline.test", logging.INFO, __file__, 1, "hello", None, None)
        record.created = created
        expected = datetime.fromtimestamp(created, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        assert json.loads(formatter.format(record))["time"] == expected


@pytest.mark.parametrize("path, route, form", [
    ("/voice/gather", "voice.gather", {"CallSid": "CA" + "0" * 32, "From": NUMBER}),
    ("/sms/" + NUMBER, None, {"MessageSid": "not a sid " + NUMBER}),
    ("/healthz", "health", None),
])
def test_the_request_line_written_directly_is_the_line_logging_writes(monkeypatch, path, route, form):
    """log_request writes its line itself where every handler is one of ours: the same line."""
    import io
    import time

    from werkzeug.datastructures import MultiDict

    from helpline.observability import logs

    stream = io.StringIO()
    root, ours = logging.getLogger(), logging.getLogger("helpline")
    errors_only = logging.NullHandler()  # as the error counter: never shown an INFO line
    errors_only.setLevel(logging.ERROR)
    monkeypatch.setattr(root, "handlers", [logs.make_handler(stream), errors_only, logs.make_handler(stream)])
    monkeypatch.setattr(ours, "level", logging.INFO)
    monkeypatch.setattr(time, "time", lambda: 1763712000.1234567)
    records = []
    make_record = logs.request_log.makeRecord
    monkeypatch.setattr(logs.request_log, "makeRecord", lambda *a, **k: records.append(a) or make_record(*a, **k))

    def log() -> None:
        logs.log_request("POST", path, 200, None, MultiDict(form) if form else None, "a" * 32, route)

    log()
    assert records == []  # written directly
    root.handlers.append(logging.NullHandler())  # a handler of someone else's: the usual way
    log()
    assert len(records) == 1
    lines = stream.getvalue().splitlines()  # two handlers: two lines directly, then two the usual way
    assert len(lines) == 4 and len(set(lines)) == 1
    usual = lines[-1]
    assert NUMBER not in usual and json.loads(usual)["time"] == "2025-11-21T08:00:00.123Z"
