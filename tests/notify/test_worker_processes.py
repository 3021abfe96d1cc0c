"""Worker processes (`flask --app helpline worker --once`) against a fake Twilio on 127.0.0.1.

- Two workers at once against PostgreSQL send every text exactly once.
- A worker killed with SIGKILL in the middle of a batch, at the worst moment (Twilio has accepted
  a text and the worker has not recorded it) or just before Twilio saw the request, then
  restarted: every text is sent exactly once.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from helpline.db import db, utcnow
from helpline.notify import queue_text
from helpline.notify.models import ACCEPTED, PENDING, SENDING, Outbox
from fake_twilio import FakeTwilioServer

ROOT = Path(__file__).resolve().parents[2]
WAIT = 180  # seconds a worker process may take before the test gives up on it


def _queue(count: int, prefix: str) -> list[int]:
    now = utcnow()
    rows = [queue_text(f"+4479111{n:05d}", f"{prefix} text number {n}.", "test", now) for n in range(count)]
    db.session.commit()
    return [row.id for row in rows]


def _env(database_url: str, fake: FakeTwilioServer, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HELPLINE_", "TWILIO_"))}
    env.update({
        "DATABASE_URL": database_url, "TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "worker-test",
        "TWILIO_API_BASE_URL": fake.url, "PUBLIC_BASE_URL": "https://helpline.example.org", "SECRET_KEY": "x",
        "HELPLINE_LOG_FORMAT": "text",
    })
    env.update(extra)
    return env


def _worker(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "helpline", "worker", "--once"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0, out[-3000:]
    return out


def _rows(ids: list[int]) -> dict[int, Outbox]:
    db.session.expire_all()
    return {row.id: row for row in db.session.scalars(select(Outbox).where(Outbox.id.in_(ids)))}


def _assert_each_sent_once(fake: FakeTwilioServer, ids: list[int]) -> None:
    rows = _rows(ids)
    counts = Counter(fake.bodies())
    assert sorted(counts) == sorted(row.body for row in rows.values())
    assert [body for body, n in counts.items() if n != 1] == []
    by_body = {c.form["Body"]: c.sid for c in fake.created}
    for row in rows.values():
        assert row.status == ACCEPTED, (row.id, row.status, row.error)
        assert row.message_sid == by_body[row.body]


def test_two_workers_at_once_send_every_text_exactly_once(app, database_url):
    if not database_url.startswith("postgres"):
        pytest.skip("several workers at once is the PostgreSQL set-up (SKIP LOCKED); SQLite runs one worker")
    ids = _queue(200, "Two workers")
    overlap = threading.Barrier(2, timeout=WAIT / 2)
    overlapped = threading.Event()

    def both_sending(n: int, form: dict) -> None:
        # Hold the first request until a second one arrives: one worker sends one text at a
        # time, so the second must come from the other worker, sending while the first waits.
        if n <= 2:
            overlap.wait()
            overlapped.set()

    with FakeTwilioServer() as fake:
        fake.before_create = both_sending
        env = _env(database_url, fake)
        started = time.monotonic()
        first, second = _worker(env), _worker(env)
        outputs = [_finish(first), _finish(second)]
        elapsed = time.monotonic() - started
        assert overlapped.is_set()
        _assert_each_sent_once(fake, ids)
    sent = [int(re.search(r"sent (\d+),", out).group(1)) for out in outputs]
    print(f"two workers: {sent} texts each, 200 in {elapsed:.1f} s including start-up")
    assert sum(sent) == 200 and min(sent) > 0


@pytest.mark.parametrize("moment", ["after Twilio accepted", "before Twilio saw it"])
def test_a_worker_killed_mid_batch_then_restarted_sends_every_text_once(app, database_url, moment):
    ids = _queue(12, f"Killed {moment}")
    held, release = threading.Event(), threading.Event()

    def hold(n: int, form: dict):
        if n == 5:
            held.set()
            release.wait(WAIT)
            return False  # the dead worker's request never reached Twilio
        return None

    def hold_after(n: int, form: dict) -> None:
        if n == 5:
            held.set()
            release.wait(WAIT)  # accepted and recorded by Twilio; the answer never gets back

    with FakeTwilioServer() as fake:
        if moment == "after Twilio accepted":
            fake.after_create = hold_after
        else:
            fake.before_create = hold
        worker = _worker(_env(database_url, fake))
        assert held.wait(WAIT), "the worker never reached its fifth text"
        os.kill(worker.pid, signal.SIGKILL)
        worker.communicate(timeout=WAIT)
        release.set()

        statuses = Counter(row.status for row in _rows(ids).values())
        assert statuses == {ACCEPTED: 4, SENDING: 1, PENDING: 7}, statuses
        assert len(fake.created) == (5 if moment == "after Twilio accepted" else 4)

        # Restarted: with the stale limit at 0 the dead worker's row is in doubt at once.
        out = _finish(_worker(_env(database_url, fake, HELPLINE_OUTBOX_STALE_SECONDS="0")))
        _assert_each_sent_once(fake, ids)
    if moment == "after Twilio accepted":
        assert "found at Twilio 1" in out and "to resend 0" in out
    else:
        assert "found at Twilio 0" in out and "to resend 1" in out


def test_the_long_running_worker_sends_then_stops_cleanly_on_sigterm(app, database_url):
    ids = _queue(3, "Long-running")
    with FakeTwilioServer() as fake:
        sent_all = threading.Event()
        fake.after_create = lambda n, form: sent_all.set() if n == 3 else None
        proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "helpline", "worker"], cwd=ROOT,
                                env=_env(database_url, fake, HELPLINE_WORKER_POLL_SECONDS="0.2"),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            assert sent_all.wait(WAIT), "the worker sent nothing"
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=WAIT)
        assert proc.returncode == 0, out[-3000:]
        assert "stopped" in out
        _assert_each_sent_once(fake, ids)


def test_the_worker_will_not_start_without_twilio_credentials(app, runner):
    saved = app.config["TWILIO_AUTH_TOKEN"]
    app.config["TWILIO_AUTH_TOKEN"] = ""
    try:
        result = runner.invoke(args=["worker", "--once"])
    finally:
        app.config["TWILIO_AUTH_TOKEN"] = saved
    assert result.exit_code == 2
    assert "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN" in result.output
