"""Instructions a turn executes, counted by valgrind: a figure this noisy machine cannot move.

    python -m bench instructions [--databases sqlite,postgresql]

Times on a shared machine drift by a fifth from one minute to the next, more than most single
changes to a turn are worth. The number of machine instructions the help line's process runs
for a turn hardly moves (0.1% between runs), so it can tell two versions of the code apart
where a timing cannot. A child process runs under callgrind with counting switched off, warms
up, switches counting on for a fixed number of whole signed turns (prebuilt WSGI requests, as
in the `turns` suite), and off again. It counts the help line's own process only: not the
PostgreSQL server, not the kernel's side of a system call. On PostgreSQL the child also counts
the turn's round trips to the server (each exchange psycopg has with it).

Needs valgrind (Debian package `valgrind`); the suite says so and is skipped without it.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def count(url: str, turns: int, workdir: Path) -> dict[str, Any]:
    """Instructions per turn (and round trips per turn on a database server) for `turns` turns."""
    valgrind = shutil.which("valgrind")
    if valgrind is None or shutil.which("callgrind_control") is None:
        return {"skipped": "valgrind is not installed (Debian package valgrind)"}
    workdir.mkdir(parents=True, exist_ok=True)
    result_file = workdir / "instructions-child.json"
    command = [valgrind, "--tool=callgrind", "--instr-atstart=no",
               f"--callgrind-out-file={workdir / 'callgrind.out.%p'}",
               sys.executable, "-m", "bench.instructions", url, str(turns), str(result_file)]
    # A fixed hash seed: the same dictionaries, the same work, run after run.
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, cwd=Path(__file__).resolve().parent.parent, env=env,
                          capture_output=True, text=True, timeout=1800)
    collected = _COLLECTED.findall(done.stderr)
    if done.returncode != 0 or not collected or not result_file.exists():
        raise RuntimeError(f"the instruction count failed: {done.stderr[-2000:]}")
    child = json.loads(result_file.read_text())
    if child["failed"]:
        raise RuntimeError(f"{child['failed']} turns were not answered with 200")
    out = {"turns": turns, "instructions_per_turn": round(int(collected[-1]) / turns)}
    if child.get("round_trips") is not None:
        out["round_trips_per_turn"] = round(child["round_trips"] / turns, 2)
    return out


def _child(url: str, turns: int, result_file: Path) -> None:
    """Runs under callgrind: warm up uncounted, then count `turns` turns."""
    from urllib.parse import urlencode

    from helpline import create_app

    from . import database, traffic
    from .turns import _environ

    workdir = result_file.parent
    templates = traffic.record_templates(workdir=workdir)
    database.fresh(url)
    sys.stderr = open(os.devnull, "w")  # the request log is written, and goes nowhere
    os.environ.update(traffic.server_env(url))
    app = create_app()
    sign = traffic.Signer()
    warm = max(turns // 5, 50)
    stream = traffic.interleave(traffic.conversations(templates, traffic.Numbering(1000)), 256, warm + turns)
    prepared = [(p, urlencode(params).encode(), sign(p, params)) for p, params in stream]
    failed: list[str] = []

    def start_response(status, headers, exc_info=None):
        if not status.startswith("200"):
            failed.append(status)

    for p, body, signature in prepared[:warm]:
        b"".join(app.wsgi_app(_environ(p, body, signature), start_response))
    round_trips = None
    if not url.startswith("sqlite"):
        # Each exchange with the server goes through psycopg's `execute` generator (it sends what
        # is queued and reads the answers): the cursor's for statements, the connection's for
        # BEGIN, COMMIT and ROLLBACK. (Connection.wait also runs steps that never reach the server.)
        import psycopg._cursor_base
        import psycopg.generators

        round_trips = 0
        execute = psycopg.generators.execute

        def counted(pgconn):
            nonlocal round_trips
            round_trips += 1
            return execute(pgconn)

        psycopg.generators.execute = psycopg._cursor_base.execute = counted
    toggle = ["callgrind_control", "-i"]
    subprocess.run([*toggle, "on", str(os.getpid())], stdout=subprocess.DEVNULL, check=True)
    for p, body, signature in prepared[warm:]:
        b"".join(app.wsgi_app(_environ(p, body, signature), start_response))
    subprocess.run([*toggle, "off", str(os.getpid())], stdout=subprocess.DEVNULL, check=True)
    result_file.write_text(json.dumps({"failed": len(failed), "round_trips": round_trips}))


if __name__ == "__main__":
    _child(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]))
