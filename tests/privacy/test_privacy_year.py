"""A year of synthetic traffic: the purge, an export and an erasure at full size, checked against an oracle.

The rows are bulk-inserted (no webhooks) with a fixed seed; the expected counts are worked out in
Python from the generated rows, independently of the purge's SQL. Timings are printed, not asserted.
"""
from __future__ import annotations

import random
import time
from datetime import timedelta

from sqlalchemy import func, select, text

from support import OPEN_TIME
from helpline.db import db
from helpline.models import Callback, Conversation, Interaction, OptOut
from helpline.privacy import subject
from helpline.privacy.retention import Retention, plan, purge

NOW = OPEN_TIME
DAYS = 365
CONVERSATIONS_PER_DAY = 40  # about 320 interactions a day
FREQUENT = "+447911000001"  # rings every week: the subject whose records we export and erase
OPEN = ("open", "claimed", "unreachable")


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _generate(rng: random.Random):
    """Insert a year of conversations, their turns, callbacks and opt-outs; return what was written."""
    people = [f"+44791{n:07d}" for n in range(100_000, 103_000)]
    convs = []
    for day in reversed(range(DAYS)):  # oldest first, as ids grow in real life
        for n in range(CONVERSATIONS_PER_DAY):
            started = NOW - timedelta(days=day, minutes=rng.randrange(24 * 60))
            channel = rng.choice(("voice", "sms", "sms", "whatsapp"))
            withheld = channel == "voice" and rng.random() < 0.05
            phone = None if withheld else rng.choice(people)
            status = "active" if day == 0 and n < 3 else rng.choice(("completed", "completed", "abandoned"))
            convs.append({
                "channel": channel, "caller": phone, "caller_raw": phone or "anonymous",
                "call_sid": f"CA{day:04d}{n:028d}" if channel == "voice" else None,
                "flow_id": "back_pain", "flow_version": "2026.11.2", "state": {"node": "end"},
                "answers": {"d1_chest": "no", "d2_saddle": rng.choice(("no", "not_sure"))}, "rules_fired": [],
                "disposition": rng.choice(("D3", "D4", "D5", "D6", "D6", "D6")), "queue": None, "status": status,
                "escalated": False, "started_at": started, "updated_at": started + timedelta(minutes=6),
                "ended_at": None if status == "active" else started + timedelta(minutes=6),
            })
    for week in range(52):
        started = NOW - timedelta(days=7 * week + 1, hours=3)
        convs.append({**convs[0], "caller": FREQUENT, "caller_raw": FREQUENT, "call_sid": None, "channel": "sms", "disposition": "D6",
                      "status": "completed", "started_at": started, "updated_at": started + timedelta(minutes=6),
                      "ended_at": started + timedelta(minutes=6)})
    # Core inserts, one executemany each; ids given here, since RETURNING thousands of rows is slow.
    for conv_id, conv in enumerate(convs, start=1):
        conv["id"] = conv_id
    db.session.execute(Conversation.__table__.insert(), convs)
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SELECT setval(pg_get_serial_sequence('conversation', 'id'), :n)"), {"n": len(convs)})

    turns = []
    for conv in convs:
        for step in range(rng.randint(2, 6)):
            at = conv["started_at"] + timedelta(minutes=step)
            # Every row has the same keys, so that the insert goes as one executemany.
            turns.append({"conversation_id": conv["id"], "channel": conv["channel"], "direction": "in", "kind": "turn",
                          "body": "my back hurts" if conv["channel"] != "voice" else None,
                          "digits": "2" if conv["channel"] == "voice" else None, "said": None, "created_at": at})
            turns.append({"conversation_id": conv["id"], "channel": conv["channel"], "direction": "out",
                          "kind": "turn", "body": None, "digits": None, "said": "Do you have chest pain?",
                          "created_at": at})
    db.session.execute(Interaction.__table__.insert(), turns)

    items, open_phones = [], set()
    for conv in convs:
        if conv["disposition"] not in ("D3", "D4", "D5") or conv["caller"] is None or rng.random() > 0.3:
            continue
        age = NOW - conv["started_at"]
        # A few items still open, some of them old (waiting for a supervisor), one per number at most.
        still_open = conv["caller"] not in open_phones and (age < timedelta(days=2) or rng.random() < 0.004)
        status = rng.choice(OPEN) if still_open else "done"
        if still_open:
            open_phones.add(conv["caller"])
        closed = None if still_open else conv["started_at"] + timedelta(hours=rng.randint(1, 48))
        items.append({"phone": conv["caller"], "conversation_id": conv["id"], "queue": "clinical",
                      "disposition": conv["disposition"], "priority": 4, "reasons": ["d4_one_leg"],
                      "channel": conv["channel"], "status": status, "due_at": conv["started_at"] + timedelta(hours=2),
                      "created_at": conv["started_at"], "updated_at": closed or conv["started_at"], "closed_at": closed,
                      "outcome": None if still_open else "reached_advice"})
    db.session.execute(Callback.__table__.insert(), items)
    optouts = [{"phone": p, "opted_out": rng.random() < 0.7, "updated_at": NOW - timedelta(days=rng.randrange(DAYS))}
               for p in rng.sample(people, 400)]
    db.session.execute(OptOut.__table__.insert(), optouts)
    db.session.commit()
    return convs, turns, items, optouts


def _expected(retention: Retention, convs, turns, items, optouts) -> dict[str, int]:
    """The oracle: what the purge must change, from the generated rows alone."""
    open_items = [i for i in items if i["status"] in OPEN]
    open_phones = {i["phone"] for i in open_items}
    protected = {c["id"] for c in convs if c["status"] == "active" or c["caller"] in open_phones}
    protected |= {i["conversation_id"] for i in open_items}
    return {
        "interactions": sum(1 for t in turns if t["created_at"] < NOW - retention.transcripts
                            and t["conversation_id"] not in protected),
        "conversations": sum(1 for c in convs if c["id"] not in protected and c["status"] != "active"
                             and c["ended_at"] < NOW - retention.conversations),
        "callbacks": sum(1 for i in items if i["status"] == "done" and i["closed_at"] < NOW - retention.callbacks),
        "opt_ins": sum(1 for o in optouts if not o["opted_out"] and o["updated_at"] < NOW - retention.conversations),
        "outbox": 0, "audit_trail": 0, "data_protection_log": 0,
    }


def test_a_year_of_traffic(app, tmp_path):
    rng = random.Random(20261118)
    timings = {}
    started = time.perf_counter()
    convs, turns, items, optouts = _generate(rng)
    timings["insert"] = time.perf_counter() - started
    assert len(turns) > DAYS * 250  # "a few hundred interactions a day"

    # Half a year for conversations and callbacks, so that anonymising runs at scale too; batches of
    # 2000 keep the run short (batching itself is checked row by row in test_privacy_retention).
    config = {**app.config, "RETAIN_CONVERSATIONS_DAYS": 180, "RETAIN_CALLBACKS_DAYS": 180, "PURGE_BATCH_SIZE": 2000}
    retention = Retention.from_config(config)
    expected = _expected(retention, convs, turns, items, optouts)
    assert expected["interactions"] > 50_000 and expected["conversations"] > 5_000 and expected["callbacks"] > 500

    # Subject access on the full database, before the purge.
    started = time.perf_counter()
    files = subject.export(app.extensions["helpline"], FREQUENT, tmp_path, NOW, actor="dpo")
    timings["export"] = time.perf_counter() - started
    assert files.counts["conversations"] == 52 + sum(1 for c in convs[:-52] if c["caller"] == FREQUENT)

    started = time.perf_counter()
    planned = plan(retention, NOW)
    timings["plan"] = time.perf_counter() - started
    assert planned.counts() == expected

    open_before = {(i.id, i.conversation_id) for i in db.session.scalars(select(Callback).where(Callback.status.in_(OPEN)))}
    assert open_before, "the year has open callbacks to protect"
    transcripts_of_open = count(Interaction, Interaction.conversation_id.in_([c for _, c in open_before]))

    progress = []
    started = time.perf_counter()
    report = purge(retention, NOW, actor="test", progress=progress.append)
    timings["purge"] = time.perf_counter() - started
    assert report.counts() == expected
    assert sum(progress) == planned.total and max(progress) <= retention.batch_size
    assert plan(retention, NOW).total == 0

    # Nothing an open callback needs has gone.
    for item_id, conv_id in open_before:
        item, conv = db.session.get(Callback, item_id), db.session.get(Conversation, conv_id)
        assert item.phone is not None and conv.caller is not None
    assert count(Interaction, Interaction.conversation_id.in_([c for _, c in open_before])) == transcripts_of_open
    assert count(Interaction, Interaction.created_at < NOW - retention.transcripts) == sum(
        1 for t in turns if t["created_at"] < NOW - retention.transcripts) - expected["interactions"]
    assert count(Conversation) == len(convs)  # anonymised, never deleted: the safety review keeps its counts

    started = time.perf_counter()
    erased = subject.erase(FREQUENT, NOW, actor="dpo")
    timings["erase"] = time.perf_counter() - started
    assert erased.counts["conversations"] == files.counts["conversations"] - sum(
        1 for c in convs if c["caller"] == FREQUENT and c["ended_at"] and c["ended_at"] < NOW - retention.conversations)
    assert count(Conversation, Conversation.caller == FREQUENT) == 0

    dialect = db.engine.dialect.name
    print(f"\n[{dialect}] a year: {len(convs):,} conversations, {len(turns):,} interactions, {len(items):,} callbacks; "
          + ", ".join(f"{name} {seconds:.2f}s" for name, seconds in timings.items())
          + f"; purged {report.total:,} rows in batches of {retention.batch_size}")
