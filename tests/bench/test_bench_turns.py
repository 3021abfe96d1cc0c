"""The turn alone on several databases: short batches, one database at a time, taken in turn."""
from __future__ import annotations

from sqlalchemy import create_engine, func, select

from bench import database, traffic
from bench.turns import interleaved


def test_each_database_runs_its_batches_in_turn_and_logs_them(tmp_path):
    urls = [database.separate("sqlite", tmp_path, name) for name in ("a", "b", "c")]
    for url in urls:
        database.fresh(url)
    templates = traffic.record_templates(workdir=tmp_path)

    batches = interleaved(urls, templates, rounds=3, each=20)

    assert [len(b) for b in batches] == [3, 3, 3]
    assert all(b["requests"] == 20 and b["wall_us"] > 0 and b["cpu_us"] > 0 and b["failed"] == 0
               for mine in batches for b in mine)
    # One batch at a time, each round starting one database later: a, b, c; b, c, a; c, a, b.
    ran = sorted((b["began"], "abc"[i]) for i, mine in enumerate(batches) for b in mine)
    assert "".join(name for _, name in ran) == "abcbcacab"
    # Every turn reached its own database: the warm-up (100 turns) and the three batches.
    from helpline.models import Interaction

    for url in urls:
        engine = create_engine(url)
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(Interaction)) >= 160
        engine.dispose()
