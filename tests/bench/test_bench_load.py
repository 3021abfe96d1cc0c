"""The help line's own time a request, read from the slice of its log that one run wrote."""
from __future__ import annotations

import json

from bench.load import handling_times


def _line(duration_ms: float, logger: str = "helpline.request") -> str:
    return json.dumps({"level": "INFO", "logger": logger, "message": "POST /sms 200", "route": "sms.incoming_text",
                       "status": 200, "duration_ms": duration_ms}, separators=(",", ":"))


def test_only_the_request_lines_written_between_the_offsets_count(tmp_path):
    log = tmp_path / "server.log"
    before = "\n".join([_line(500.0), "[INFO] Booting worker with pid: 12"]) + "\n"
    during = "\n".join([_line(float(ms)) for ms in range(1, 101)]
                       + [_line(900.0, logger="helpline.turns"), "not json at all", '{"logger":"helpline.request"}'])
    cut_off = "\n" + _line(700.0)[:40]  # a line still being written when the run ended
    log.write_text(before + during + cut_off)
    start = len(before.encode())
    end = len((before + during + cut_off).encode())

    times = handling_times(log, start, end)

    assert times == {"p50_ms": 51.0, "p99_ms": 100.0, "requests": 100}


def test_a_log_without_request_lines_gives_none(tmp_path):
    log = tmp_path / "minimal.log"
    log.write_text("[INFO] Starting gunicorn 23.0.0\n[INFO] Booting worker with pid: 12\n")
    assert handling_times(log, 0, log.stat().st_size) is None
    assert handling_times(tmp_path / "missing.log", 0, 100) is None
