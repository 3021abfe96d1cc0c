"""The purge runs while the help line is live: texts are answered as usual while it works."""
from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select

from helpline.db import db
from helpline.models import Interaction
from helpline.privacy.retention import Retention, purge
from privacy_rows import conversation
from support import OPEN_TIME, Texter


def test_texts_are_answered_while_a_purge_runs(app, twilio):
    for n in range(300):  # 1,200 old interactions: many small batches
        conversation(f"+4477009{n:05d}", OPEN_TIME - timedelta(days=200 + n % 50))
    db.session.commit()
    retention = Retention.from_config({**app.config, "PURGE_BATCH_SIZE": 20})
    outcome: dict = {}
    paused, go = threading.Event(), threading.Event()

    def after_batch(rows: int) -> None:
        # After its first batch the purge waits until half the texts are in: the run is certainly
        # under way while they are answered, and goes on while the rest arrive.
        if not paused.is_set():
            paused.set()
            go.wait(timeout=60)

    def run_purge():
        with app.app_context():  # a session of its own, as the scheduler's process would have
            try:
                outcome["report"] = purge(retention, OPEN_TIME, actor="scheduler", progress=after_batch)
            except Exception as exc:  # reported below: a failure here must fail the test
                outcome["error"] = exc
            finally:
                db.session.remove()

    worker = threading.Thread(target=run_purge)
    worker.start()
    assert paused.wait(timeout=60)
    replies = []
    for n in range(12):
        if n == 6:
            go.set()
        texter = Texter(twilio, number=f"+4479111234{n:02d}")
        replies.append(texter.send("Hi, my back hurts"))
        replies.append(texter.send("1"))
    go.set()
    worker.join(timeout=120)

    assert not worker.is_alive() and "error" not in outcome, outcome.get("error")
    assert outcome["report"].counts()["interactions"] == 1200
    assert all(reply for reply in replies)
    assert all("999" in reply for reply in replies[::2])  # every first text still warns first
    # The live conversations' turns are all there (recent: nothing to purge).
    assert db.session.scalar(select(func.count()).select_from(Interaction)) == 12 * 4
