"""A fast bulk loader: a year of help line history for the scale benchmarks.

Default: 100,000 conversations, 1,000,000 interactions and 100,000 callbacks, shaped like the
real thing (dispositions, repeat callers, a few open callbacks, JSON state and replies). It
writes into a schema built by the migrations: executemany in one transaction on SQLite, COPY on
PostgreSQL. Columns the loader does not know (added later by other parts of the help line) are
left to their database or model defaults, so the loader keeps working as the schema grows.

    python -m bench.loader --database-url sqlite:///instance/helpline.db [--scale 0.1]
"""
from __future__ import annotations

import argparse
import json
import random
import time
from datetime import datetime, timedelta
from typing import Any, Iterable, Iterator, Sequence

from sqlalchemy import Table, create_engine, text
from sqlalchemy.engine import Engine

from .database import sqlalchemy_url

DISPOSITIONS = (("D6", 45), ("D5", 25), ("D4", 10), ("D3", 8), ("D2", 2), ("D1", 1), (None, 9))
QUEUE_FOR = {"D1": "welfare", "D2": "welfare", "D3": "clinical", "D4": "clinical", "D5": "clinical"}
PRIORITY = {"D1": 1, "D2": 2, "D3": 3, "D4": 4, "D5": 5, None: 6}
QUESTIONS = ("d1_chest", "d1_accident", "d1_legs", "d2_saddle", "d2_bladder", "d2_bowel", "d2_sexual",
             "d2_both_legs", "d2_dark_urine", "d3_fever", "d3_cancer", "d3_pain_pattern", "d3_cough",
             "d3_steroids", "d3_injecting", "d3_foot_drop", "d4_one_leg", "d4_cannot_move", "d4_severe",
             "one_leg", "coping")
SAID = ("Do you have numbness, tingling or weakness in one leg? Press 1 for yes, 2 for no, or 3 if you "
        "are not sure. Press 9 to hear this again.")
OPEN_CALLBACKS = 0.015  # share of callbacks still waiting for staff


def _columns(table: Table, given: Sequence[str]) -> tuple[list[str], dict[str, Any]]:
    """The columns to write, and constant values for required columns other parts of the help line added."""
    fill: dict[str, Any] = {}
    for c in table.columns:
        if c.name in given or c.nullable or c.server_default is not None or c.primary_key:
            continue
        if c.default is None:
            raise RuntimeError(f"{table.name}.{c.name} is required and the loader cannot fill it")
        fill[c.name] = c.default.arg(None) if c.default.is_callable else c.default.arg
    return [c for c in given if c in table.columns] + list(fill), fill


class History:
    """Generates the rows, deterministic for a seed."""

    def __init__(self, conversations: int, interactions: int, callbacks: int, seed: int, now: datetime):
        self.n_conv, self.n_int, self.n_cb = conversations, interactions, callbacks
        self.rng = random.Random(seed)
        self.now = now
        self.numbers = [f"+4478{self.rng.randrange(10**8):08d}" for _ in range(max(conversations * 6 // 10, 1))]
        self.conv_meta: list[tuple[str | None, str, str | None, datetime, str]] = []

    def conversations(self) -> Iterator[dict[str, Any]]:
        rng, codes, weights = self.rng, [d for d, _ in DISPOSITIONS], [w for _, w in DISPOSITIONS]
        for cid in range(1, self.n_conv + 1):
            channel = rng.choices(("voice", "sms", "whatsapp"), (60, 35, 5))[0]
            caller = None if channel == "voice" and rng.random() < 0.03 else rng.choice(self.numbers)
            disposition = rng.choices(codes, weights)[0]
            # Spread over a year, oldest first; the last few hundred are still going on.
            started = self.now - timedelta(days=365) + timedelta(seconds=cid * 365 * 86400 / self.n_conv)
            live = cid > self.n_conv - max(self.n_conv // 300, 1)
            status = "active" if live else ("abandoned" if rng.random() < 0.06 else "completed")
            ended = None if live else started + timedelta(seconds=rng.randrange(60, 900))
            answers = {q: rng.choice(("no", "no", "no", "yes", "not_sure")) for q in QUESTIONS[: rng.randrange(3, 21)]}
            rules = [f"rule_{q}" for q, a in answers.items() if a != "no"][:4]
            queue = QUEUE_FOR.get(disposition)
            end_node = f"end_{disposition.lower()}" if disposition else None
            state = {"node": None if ended else "d3_fever", "disposition": disposition, "answers": answers,
                     "rules": rules, "failures": 0, "steps": len(answers) + 2, "resume": None,
                     "ended": ended is not None, "end_node": end_node, "queue": queue, "seq": len(answers) + 3,
                     "stage": "after_end" if ended else None}
            self.conv_meta.append((caller, channel, disposition, started, status))
            yield {
                "id": cid, "channel": channel, "caller": caller, "caller_raw": caller or "anonymous",
                "call_sid": f"CAL{cid:031x}" if channel == "voice" else None, "flow_id": "back_pain",
                "flow_version": "2026.11.2", "state": state, "answers": answers, "rules_fired": rules,
                "disposition": disposition, "queue": queue, "status": status,
                "escalated": queue is not None and status != "active", "started_at": started,
                "updated_at": ended or started, "ended_at": ended,
            }

    def interactions(self) -> Iterator[dict[str, Any]]:
        rng = self.rng
        per = self.n_int / max(self.n_conv, 1)
        iid = 0
        for cid, (caller, channel, disposition, started, _status) in enumerate(self.conv_meta, start=1):
            # Whole turns (one in, one out), about `per` rows per conversation on average.
            target = round(cid * per) - iid
            for step in range(0, max(target, 0), 2):
                at = started + timedelta(seconds=step * 6)
                node = QUESTIONS[(step // 2) % len(QUESTIONS)]
                sid = f"L{cid:012x}{step:04x}"
                key = f"voice:CAL{cid:031x}:{step // 2}" if channel == "voice" else f"sms:SML{sid}"
                digits = rng.choice("1223") if channel == "voice" else None
                iid += 1
                yield {"id": iid, "conversation_id": cid, "channel": channel, "direction": "in", "kind": "turn",
                       "node": node, "digits": digits, "body": None if channel == "voice" else "no",
                       "external_id": f"CAL{cid:031x}" if channel == "voice" else f"SML{sid}",
                       "dedupe_key": key, "created_at": at,
                       "reply": {"say": [{"text": SAID, "emergency": False}],
                                 "ask": {"node": node, "kind": "question", "keys": ["1", "2", "3"],
                                         "hints": ["yes", "no", "not sure"], "step": step // 2 + 1},
                                 "hangup": False}}
                if iid >= self.n_int:
                    return
                iid += 1
                yield {"id": iid, "conversation_id": cid, "channel": channel, "direction": "out", "kind": "turn",
                       "node": node, "said": SAID, "created_at": at}
                if iid >= self.n_int:
                    return

    def callbacks(self) -> Iterator[dict[str, Any]]:
        rng = self.rng
        escalated = [i for i, m in enumerate(self.conv_meta, start=1) if m[2] in QUEUE_FOR] or [1]
        open_phones: set[str] = set()
        for cb in range(1, self.n_cb + 1):
            cid = rng.choice(escalated)
            caller, channel, disposition, started, _ = self.conv_meta[cid - 1]
            queue = QUEUE_FOR.get(disposition, "general")
            # The most recent ones are still waiting, one open item per number (the database insists);
            # a few recent ones failed every try and wait for a supervisor; older ones are all closed.
            status = "done"
            recent = cb > self.n_cb * (1 - OPEN_CALLBACKS)
            if recent and caller and caller not in open_phones:
                status = "open"
                open_phones.add(caller)
            elif recent and rng.random() < 0.1:
                status = "unreachable"
            created = started + timedelta(minutes=rng.randrange(1, 15))
            yield {"id": cb, "phone": caller, "conversation_id": cid, "queue": queue, "disposition": disposition,
                   "priority": PRIORITY.get(disposition, 6), "reasons": [f"rule_{queue}"], "channel": channel,
                   "status": status, "due_at": created + timedelta(hours=2), "created_at": created,
                   "updated_at": created + timedelta(hours=1)}


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S.%f}"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, bool):
        return int(value)
    return value


def _pg_value(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


def _write(engine: Engine, table: Table, rows: Iterable[dict[str, Any]], columns: list[str],
           fill: dict[str, Any]) -> int:
    count = 0
    rows = ({**row, **fill} for row in rows) if fill else rows
    raw = engine.raw_connection()
    try:
        if engine.dialect.name == "sqlite":
            sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            batch: list[tuple] = []
            cur = raw.cursor()
            for row in rows:
                batch.append(tuple(_sqlite_value(row.get(c)) for c in columns))
                if len(batch) == 50_000:
                    cur.executemany(sql, batch)
                    count += len(batch)
                    batch.clear()
            cur.executemany(sql, batch)
            count += len(batch)
        else:
            cur = raw.cursor()
            with cur.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(tuple(_pg_value(row.get(c)) for c in columns))
                    count += 1
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"(SELECT max(id) FROM {table.name}))")
        raw.commit()
    finally:
        raw.close()
    return count


def load(url: str, conversations: int = 100_000, interactions: int = 1_000_000, callbacks: int = 100_000,
         seed: int = 7, now: datetime | None = None) -> dict[str, Any]:
    """Load the history into an empty, migrated database; returns row counts and seconds taken."""
    from helpline.db import db
    from helpline.models import Callback, Conversation, Interaction  # noqa: F401  (the live schema)

    engine = create_engine(sqlalchemy_url(url))
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            conn.execute(text("PRAGMA journal_mode=WAL"))
    history = History(conversations, interactions, callbacks, seed, now or datetime(2026, 11, 18, 9, 0))
    tables = db.metadata.tables
    timings: dict[str, Any] = {}
    started = time.perf_counter()
    for name, rows, given in (
        ("conversation", history.conversations, ("id", "channel", "caller", "caller_raw", "call_sid", "flow_id",
                                                 "flow_version", "state", "answers", "rules_fired", "disposition",
                                                 "queue", "status", "escalated", "started_at", "updated_at",
                                                 "ended_at")),
        ("interaction", history.interactions, ("id", "conversation_id", "channel", "direction", "kind", "node",
                                               "digits", "body", "said", "external_id", "dedupe_key", "reply",
                                               "created_at")),
        ("callback", history.callbacks, ("id", "phone", "conversation_id", "queue", "disposition", "priority",
                                         "reasons", "channel", "status", "due_at", "created_at", "updated_at")),
    ):
        t0 = time.perf_counter()
        columns, fill = _columns(tables[name], given)
        count = _write(engine, tables[name], rows(), columns, fill)
        timings[name] = {"rows": count, "seconds": round(time.perf_counter() - t0, 2)}
    timings["seconds"] = round(time.perf_counter() - started, 2)
    engine.dispose()
    return timings


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="an empty database migrated to head")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full history (default 1.0)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    s = args.scale
    print(json.dumps(load(args.database_url, int(100_000 * s), int(1_000_000 * s), int(100_000 * s), args.seed)))


if __name__ == "__main__":
    main()
