"""The benchmark harness works end to end in its smoke mode.

It prints the figures and checks that the traffic was real (signed, accepted, walking the flow to
a mix of dispositions) and that every suite produced its results. It never judges the timings:
benchmarks are not tests, and this machine is shared.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[Path, str]:
    from bench.load import WrkMissing, ensure_wrk

    try:
        ensure_wrk()
    except WrkMissing as missing:
        pytest.skip(str(missing))
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out, done.stdout


def _json(out: Path, name: str):
    return json.loads((out / f"{name}.json").read_text())


def test_smoke_prints_the_figures(smoke, capsys):
    out, stdout = smoke
    with capsys.disabled():
        print("\n" + stdout)
    assert "ratio" in stdout and "micro engine_step_key" in stdout


def test_signed_traffic_is_accepted_and_logged(smoke):
    out, _ = smoke
    for run in _json(out, "load"):
        by_app = {p["app"]: p for p in run["points"]}
        assert set(by_app) == {"helpline", "minimal"}
        for point in by_app.values():
            assert point["requests"] > 0
            assert point["errors"] == 0, point  # a 403 (bad signature) or safe-TwiML answer counts here
            assert point["server_cpu_us_per_request"] > 0 and point["worker_rss_mb"]
        assert by_app["helpline"]["wraps"] == 0  # every request the help line saw was new
        # The help line's own time comes from its request log; the baseline logs no requests.
        assert 0 < by_app["helpline"]["handling_p50_ms"] <= by_app["helpline"]["handling_p99_ms"]
        assert by_app["minimal"]["handling_p99_ms"] is None
        census = run["census"]
        assert census["interaction"] >= by_app["helpline"]["requests"]  # every turn was logged
        dispositions = {row["disposition"] for row in census["conversations_by"] if row["disposition"]}
        channels = {row["channel"] for row in census["conversations_by"]}
        assert channels == {"voice", "sms"}
        assert dispositions, census  # some reached an ending in a one-second run (the short ones)


def test_the_baseline_and_the_help_line_are_measured_in_alternated_rounds(smoke):
    out, _ = smoke
    for run in _json(out, "load"):
        rounds = run["rounds"]
        assert [r["round"] for r in rounds] == [1, 2]  # the smoke run's one concurrency, two rounds
        assert all(r["ratio"] == r["helpline_rps"] / r["baseline_rps"] for r in rounds)
        # The point reported is the pair of the round with the median ratio (the lower of two).
        by_app = {p["app"]: p for p in run["points"]}
        chosen = min(rounds, key=lambda r: r["ratio"])
        assert by_app["helpline"]["round"] == by_app["minimal"]["round"] == chosen["round"]
        assert by_app["helpline"]["rps"] == chosen["helpline_rps"]


def test_every_persona_was_recorded_through_the_real_flow(smoke):
    out, _ = smoke
    mix = _json(out, "mix")
    assert {m["channel"] for m in mix} == {"voice", "sms"}
    assert {m["disposition"] for m in mix} >= {"D1", "D2", "D3", "D4", "D5", "D6"}
    assert abs(sum(m["share"] for m in mix) - 1) < 1e-9


def test_scale_loads_history_and_measures_the_turn(smoke):
    out, _ = smoke
    for run in _json(out, "scale"):
        # Every size measured once a round, in alternation; each reports its median round.
        assert [s["interactions"] for s in run["sizes"]] == [0, 2000]
        for s in run["sizes"]:
            assert len(s["rounds"]) == run["rounds"] == 2
            assert s["point"] in s["rounds"] and s["point"]["rps"] == min(r["rps"] for r in s["rounds"])
            assert "url" not in s
            # ... and then the turn alone, in one process, rounds alternated; the median of them.
            assert len(s["alone"]) == 2 and all(r["wall_us"] > 0 and r["cpu_us"] > 0 for r in s["alone"])
            assert s["alone_median"]["wall_us"] == statistics.median(r["wall_us"] for r in s["alone"])
        size = run["sizes"][-1]
        assert size["loaded"]["interaction"]["rows"] == size["interactions"] > 0
        assert size["loaded"]["conversation"]["rows"] > 0 and size["loaded"]["callback"]["rows"] > 0
        assert size["point"]["requests"] > 0 and size["point"]["errors"] == 0
        pages = size["pages"]
        assert pages["available"] in (True, False)
        if pages["available"]:
            assert pages["queue_page"]["status"] == 200 and pages["queue_page"]["n"] > 0


def test_micro_and_soak_report(smoke):
    out, _ = smoke
    micro = _json(out, "micro")
    for name in ("engine_step_key", "flow_load_and_validate", "signature_validate", "twiml_voice_turn"):
        assert micro[name]["best_us"] > 0
    soak = _json(out, "soak")
    assert [s["minute"] for s in soak["samples"]] == list(range(soak["minutes"] + 1))
    assert all(s["rss_mb"] for s in soak["samples"])
    assert all(s["point"]["errors"] == 0 for s in soak["samples"][1:])


def test_turns_in_process_runs_in_one_and_in_four_processes(tmp_path):
    done = subprocess.run([sys.executable, "-m", "bench", "turns", "--smoke", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    print(done.stdout)
    points = _json(tmp_path, "turns")
    assert {(p["database"], p["processes"], p["databases"]) for p in points} >= {
        ("sqlite", 1, 1), ("sqlite", 4, 1), ("sqlite", 4, 4)}
    # Every turn was answered with a 200 (the suite raises otherwise) and timed.
    assert all(p["requests_each"] > 0 and p["cpu_us"] > 0 for p in points)
