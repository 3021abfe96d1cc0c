"""The targets table judges what the issue asks, on the figures the run measured."""
from __future__ import annotations

import pytest

from bench import report


@pytest.mark.parametrize("key, words, verdict", [
    (9.6, 40.9, "met"),
    (19.1, 71.2, "**missed**"),  # a step with words is a step too, though a key press is quicker
    (51.0, 48.0, "**missed**"),
])
def test_the_engine_step_target_is_judged_on_the_dearer_step(key, words, verdict):
    micro = {"engine_step_key": {"best_us": key}, "engine_step_words": {"best_us": words}}
    [row] = [r for r in report._targets({"micro": micro}) if "engine step" in r]
    assert row.endswith(f"| {verdict} |")


def _point(app: str, rps: float, p99: float, own: tuple[float, float] | None) -> dict:
    return {"app": app, "concurrency": 32, "rps": rps, "p50_ms": p99 / 2, "p95_ms": p99 * 0.9, "p99_ms": p99,
            "errors": 0, "server_cpu_us_per_request": 700.0, "database_cpu_us_per_request": 0.0,
            "worker_rss_mb": [90.0] * 4, "generator_cpu_us_per_request": 100.0, "other_cpu_cores": 0.02,
            "handling_p50_ms": own[0] if own else None, "handling_p99_ms": own[1] if own else None}


def test_the_p99_row_says_how_much_of_it_was_the_help_lines_own_time():
    run = {"database": "sqlite", "points": [_point("minimal", 5600, 13.9, None), _point("helpline", 2052, 30.8, (0.4, 9.5))]}
    [row] = [r for r in report._targets({"load": [run]}) if "p99" in r]
    assert row == ("| sqlite: p99 at c=32 at most 25 ms | 30.8 ms (the help line's own time, from the app "
                   "receiving a request to its answer: p99 9.5 ms; the rest is the wait for a free worker and "
                   "gunicorn's reading and writing) | **missed** |")


def test_results_without_the_help_lines_own_time_still_report():
    # Results saved before the request log was read have no handling figures.
    old = {k: v for k, v in _point("helpline", 2052, 24.0, None).items() if not k.startswith("handling")}
    run = {"database": "sqlite", "points": [_point("minimal", 5600, 13.9, None), old]}
    [row] = [r for r in report._targets({"load": [run]}) if "p99" in r]
    assert row == "| sqlite: p99 at c=32 at most 25 ms | 24.0 ms | met |"
    table = report._load_tables({"load": [run]})
    assert any(line.startswith("| 32 | help line | 2052 |") and "| - |" in line for line in table)


def test_every_row_of_a_load_table_has_the_headers_columns():
    run = {"database": "postgresql",
           "points": [_point("minimal", 6600, 12.6, None), _point("helpline", 978, 47.6, (2.1, 14.0))]}
    table = [line for line in report._load_tables({"load": [run]}) if line.startswith("|")]
    header, *rows = table
    assert "own p50 / p99 ms" in header
    assert {line.count("|") for line in rows} == {header.count("|")}
    assert any("| 2.1 / 14.0 |" in line for line in rows)


def test_a_ratio_just_under_its_target_does_not_read_as_the_target():
    run = {"database": "sqlite", "points": [_point("minimal", 7628, 11.8, None), _point("helpline", 2637, 21.8, (0.4, 8.5))]}
    [row] = [r for r in report._targets({"load": [run]}) if "throughput" in r]
    assert "| 34.6% (2637 of 7628 req/s) |" in row and row.endswith("| **missed** |")


def _cpu_point(app: str, rps: float, workers: float, database: float, generator: float) -> dict:
    return {**_point(app, rps, 20.0, None), "server_cpu_us_per_request": workers,
            "database_cpu_us_per_request": database, "generator_cpu_us_per_request": generator}


@pytest.mark.parametrize("base, hl, target, allowed, room, added, cut", [
    # PostgreSQL's c=32 point of one run: the help line keeps 1.90 cores busy at 1,238 req/s.
    ((6934, 231, 0, 54), (1238, 966, 473, 99), 0.30, 916, 586, 1208, 0.515),
    # Already at the target: the whole of the measured CPU is allowed, and the part fits.
    ((7000, 200, 0, 50), (2450, 600, 0, 100), 0.35, 700, 400, 400, 0.0),
    # Above it: room to spare, nothing to cut.
    ((7000, 200, 0, 50), (3000, 500, 0, 100), 0.35, 735, 435, 300, 0.0),
])
def test_the_budget_is_what_the_target_leaves_at_the_cpu_the_run_used(base, hl, target, allowed, room, added, cut):
    b = report.budget(_cpu_point("minimal", *base), _cpu_point("helpline", *hl), target)
    assert b["allowed_us"] == pytest.approx(allowed, abs=1)
    assert b["room_us"] == pytest.approx(room, abs=1)
    assert b["added_us"] == pytest.approx(added, abs=1)
    assert b["cut"] == pytest.approx(cut, abs=0.002)


def test_the_budget_section_names_the_database_server_only_where_there_is_one():
    runs = [{"database": "postgresql", "points": [_cpu_point("minimal", 6934, 231, 0, 54),
                                                  _cpu_point("helpline", 1238, 966, 473, 99)]},
            {"database": "sqlite", "points": [_cpu_point("minimal", 7227, 219, 0, 52),
                                              _cpu_point("helpline", 2192, 745, 0, 96)]}]
    lines = report._budget_table({"load": runs})
    assert lines[0].startswith("### CPU a request at c=32")
    assert "| postgresql | help line | 966 | 473 | 99 | 1538 | 1.90 |" in lines
    [pg] = [line for line in lines if line.startswith("- postgresql")]
    [lite] = [line for line in lines if line.startswith("- sqlite")]
    assert "and the database server's" in pg and "must shrink by 52%" in pg
    assert "database server" not in lite and "must shrink by 21%" in lite


def test_no_load_results_no_budget_section():
    assert report._budget_table({}) == []
    assert "### CPU a request" not in report.figures({})


def test_a_help_line_that_adds_nothing_has_nothing_to_cut():
    b = report.budget(_cpu_point("minimal", 7000, 200, 0, 50), _cpu_point("helpline", 7000, 200, 0, 50), 0.35)
    assert b["added_us"] == 0 and b["cut"] == 0.0
