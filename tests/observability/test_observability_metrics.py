"""/metrics: protected by a bearer token; request figures per route; queue figures from the database."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from support import OPEN_TIME
from helpline import conversations
from helpline.db import db
from helpline.models import Callback, Conversation
from helpline.notify.models import Outbox
from helpline.observability import metrics
from support import Caller

TOKEN = "metrics-token-for-tests"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scrape(app, client):
    app.config["METRICS_TOKEN"] = TOKEN

    def get() -> dict[tuple[str, tuple], float]:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200
        assert response.mimetype == "text/plain"
        samples = {}
        for family in text_string_to_metric_families(response.get_data(as_text=True)):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    yield get
    app.config["METRICS_TOKEN"] = ""


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_off_unless_a_token_is_set(app, client):
    app.config["METRICS_TOKEN"] = ""
    assert client.get("/metrics").status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
def test_refused_without_the_right_bearer_token(app, client, header):
    app.config["METRICS_TOKEN"] = TOKEN
    try:
        response = client.get("/metrics", headers={"Authorization": header} if header else {})
    finally:
        app.config["METRICS_TOKEN"] = ""
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert b"helpline_" not in response.data


def test_webhook_latency_and_responses_by_route(twilio, scrape):
    before = scrape()
    caller = Caller(twilio)
    caller.call()
    caller.press("1")
    after = scrape()
    route = {"route": "voice.incoming_call", "method": "POST"}
    assert value(after, "helpline_http_request_duration_seconds_count", **route) == \
        value(before, "helpline_http_request_duration_seconds_count", **route) + 1
    assert value(after, "helpline_http_request_duration_seconds_bucket", le="15.0", **route) >= 1
    assert value(after, "helpline_http_responses_total", route="voice.gather", status="200") == \
        value(before, "helpline_http_responses_total", route="voice.gather", status="200") + 1
    # Scrapes do not count themselves.
    assert value(after, "helpline_http_responses_total", route="metrics.metrics", status="200") == 0


def test_errors_by_route_include_the_ones_answered_with_safe_words(twilio, scrape, monkeypatch):
    before = value(scrape(), "helpline_errors_total", route="voice.incoming_call")

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(conversations, "voice_turn", broken)
    heard = Caller(twilio).call()
    assert "Sorry, something has gone wrong" in heard.text  # the caller still hears safe words, with a 200
    assert value(scrape(), "helpline_errors_total", route="voice.incoming_call") == before + 1


def _conversation(disposition, channel="sms", status="completed"):
    conv = Conversation(channel=channel, caller=None, flow_id="back_pain", flow_version="1", state={}, answers={},
                        rules_fired=[], disposition=disposition, status=status, started_at=OPEN_TIME,
                        updated_at=OPEN_TIME)
    db.session.add(conv)
    return conv


def _callback(queue, disposition, status, waited, due_in, phone):
    db.session.add(Callback(phone=phone, queue=queue, disposition=disposition, priority=4, reasons=[], channel="sms",
                            status=status, created_at=OPEN_TIME - waited, updated_at=OPEN_TIME - waited,
                            due_at=OPEN_TIME - waited + due_in))


def test_queue_depth_oldest_waiting_sla_breaches_dispositions_and_outbox_from_the_database(app, scrape):
    _callback("welfare", "D1", "open", timedelta(minutes=90), timedelta(minutes=60), "+447911000001")  # overdue
    _callback("welfare", "D2", "open", timedelta(minutes=10), timedelta(minutes=60), "+447911000002")
    _callback("clinical", "D4", "claimed", timedelta(hours=3), timedelta(hours=2), "+447911000003")  # overdue
    _callback("clinical", "D4", "unreachable", timedelta(hours=5), timedelta(hours=2), "+447911000004")  # overdue
    _callback("clinical", "D5", "done", timedelta(days=3), timedelta(days=1), "+447911000005")  # closed: not counted
    for disposition, channel in [("D1", "voice"), ("D6", "sms"), ("D6", "sms"), ("D6", "whatsapp"), (None, "sms")]:
        _conversation(disposition, channel)
    _conversation("D4", "voice", status="active")
    for status, age in [("pending", 7), ("pending", 2), ("unknown", 30), ("delivered", 99)]:
        db.session.add(Outbox(kind="missed_call", to_number="+447911000001", body="x", encoding="GSM-7", segments=1,
                              status=status, created_at=OPEN_TIME - timedelta(minutes=age),
                              updated_at=OPEN_TIME - timedelta(minutes=age), next_attempt_at=OPEN_TIME))
    db.session.commit()

    s = scrape()
    assert value(s, "helpline_database_up") == 1
    assert value(s, "helpline_queue_depth", queue="welfare", tier="D1", status="open") == 1
    assert value(s, "helpline_queue_depth", queue="welfare", tier="D2", status="open") == 1
    assert value(s, "helpline_queue_depth", queue="clinical", tier="D4", status="claimed") == 1
    assert value(s, "helpline_queue_depth", queue="clinical", tier="D4", status="unreachable") == 1
    assert value(s, "helpline_queue_depth", queue="clinical", tier="D5", status="done") == 0
    assert value(s, "helpline_queue_oldest_waiting_seconds", queue="welfare", tier="D1") == 90 * 60
    assert value(s, "helpline_queue_oldest_waiting_seconds", queue="welfare", tier="D2") == 10 * 60
    assert value(s, "helpline_callbacks_overdue", queue="welfare", tier="D1") == 1
    assert value(s, "helpline_callbacks_overdue", queue="welfare", tier="D2") == 0
    assert value(s, "helpline_callbacks_overdue", queue="clinical", tier="D4") == 2
    assert value(s, "helpline_dispositions_total", tier="D6", channel="sms") == 2
    assert value(s, "helpline_dispositions_total", tier="D1", channel="voice") == 1
    assert value(s, "helpline_dispositions_total", tier="D4", channel="voice") == 1
    assert value(s, "helpline_conversations_active", channel="voice") == 1
    assert value(s, "helpline_outbox_backlog", status="pending") == 2
    assert value(s, "helpline_outbox_backlog", status="unknown") == 1
    assert value(s, "helpline_outbox_backlog", status="delivered") == 0
    assert value(s, "helpline_outbox_oldest_pending_seconds") == 30 * 60


def test_a_database_failure_is_reported_not_raised(app, scrape, monkeypatch):
    def down(self):
        raise RuntimeError("connection refused")

    monkeypatch.setattr(metrics.DatabaseCollector, "_families", down)
    s = scrape()
    assert value(s, "helpline_database_up") == 0
    assert ("helpline_queue_depth", ()) not in s


def test_multiprocess_mode_adds_up_every_workers_figures(tmp_path):
    """Two processes serve requests (as gunicorn workers would); a third scrapes and sees both."""
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(multiproc), "DATABASE_URL": f"sqlite:///{tmp_path / 'h.db'}",
           "METRICS_TOKEN": TOKEN, "HELPLINE_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    program = textwrap.dedent("""
        import sys
        from flask_migrate import upgrade
        from helpline import create_app
        app = create_app()
        with app.app_context():
            if sys.argv[1] == "migrate":
                upgrade()
            elif sys.argv[1] == "serve":
                for _ in range(3):
                    assert app.test_client().get("/healthz").status_code == 200
            else:
                body = app.test_client().get("/metrics", headers={"Authorization": "Bearer %s"}).get_data(as_text=True)
                print(body)
    """ % TOKEN)

    def run(*args: str) -> str:
        done = subprocess.run([sys.executable, "-c", program, *args], env=env, capture_output=True, text=True,
                              cwd=ROOT, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    run("migrate")
    run("serve")
    run("serve")
    body = run("scrape")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(body) for s in f.samples}
    assert samples[("helpline_http_responses_total", (("route", "health.healthz"), ("status", "200")))] == 6
    assert samples[("helpline_database_up", ())] == 1


def test_gunicorn_start_empties_the_multiprocess_directory(tmp_path, monkeypatch):
    from helpline.observability import gunicorn_conf

    directory = tmp_path / "prom"
    directory.mkdir()
    (directory / "counter_123.db").write_bytes(b"stale")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    gunicorn_conf.on_starting(server=None)
    assert directory.is_dir() and list(directory.iterdir()) == []


def test_a_gunicorn_worker_freezes_what_it_built_out_of_the_collectors_sight():
    import gc

    from helpline.observability import gunicorn_conf

    assert gc.get_freeze_count() == 0
    try:
        gunicorn_conf.post_worker_init(worker=None)
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()
