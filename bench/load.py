"""Drive a server with wrk and the precomputed signed requests; read back rates, latency and costs."""
from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .machine import busy_jiffies
from .servers import CLK_TCK, ROOT, Server, database_server_cpu_seconds

LUA = ROOT / "bench" / "wrk.lua"


class WrkMissing(RuntimeError):
    """wrk is not installed and cannot be installed here."""


def ensure_wrk() -> str:
    """The wrk binary; installed from Debian's package when missing and we may (root)."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, timeout=300,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, check=False, timeout=300,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        found = shutil.which("wrk")
        if found:
            return found
    raise WrkMissing("wrk is not installed: apt-get install wrk (Debian package)")


@dataclass
class Point:
    """One fixed-duration run of one server at one concurrency."""

    app: str  # helpline | minimal
    database: str
    concurrency: int
    duration_s: float
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # socket errors, timeouts and any answer that was not a clean 200
    wraps: int  # times the generator ran out of fresh requests and replayed (0 expected)
    server_cpu_us_per_request: float
    generator_cpu_us_per_request: float
    generator_cpu_share: float  # generator CPU seconds / wall seconds (1.0 = one core)
    worker_rss_mb: list[float]
    worker_restarts: int
    database_cpu_us_per_request: float  # PostgreSQL's server processes (SQLite runs inside the workers)
    other_cpu_cores: float  # CPU the rest of the machine used meanwhile (other work: noise), in cores
    label: str = ""
    # The help line's own time a request, from its request log (from the app receiving the request
    # to its answer being ready): what is left of the latency above is the wait for a free worker
    # and gunicorn's reading and writing. None for the baseline, which logs no requests.
    handling_p50_ms: float | None = None
    handling_p99_ms: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(url: str, prefix: Path, threads: int, connections: int, duration: float) -> tuple[dict[str, Any], float]:
    """Run wrk once; (its summary, its CPU seconds). Bounded: killed if it overruns by 30 s."""
    wrk = ensure_wrk()
    seconds = max(round(duration), 1)  # wrk takes whole seconds
    command = [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "5s",
               "-s", str(LUA), url, "--", str(prefix)]
    before = _children_cpu()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=duration + 30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise RuntimeError(f"wrk overran its {duration:g}s run by 30 s and was stopped")
    used = _children_cpu() - before
    for line in out.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON "):]), used
    raise RuntimeError(f"wrk printed no summary (exit {proc.returncode}): {out}\n{err}")


REQUEST_LOGGER = '"logger":"helpline.request"'


def handling_times(log: Path, start: int, end: int) -> dict[str, float] | None:
    """p50 and p99 of the `duration_ms` of the request lines the server logged between two offsets
    of its log; None where there are none (the baseline logs no requests). A line cut off at
    `end` is left out."""
    try:
        with open(log, "rb") as fh:
            fh.seek(start)
            text = fh.read(max(end - start, 0)).decode("utf-8", "replace")
    except OSError:
        return None
    durations = []
    for line in text.splitlines():
        if REQUEST_LOGGER not in line:
            continue
        try:
            durations.append(float(json.loads(line)["duration_ms"]))
        except (ValueError, KeyError, TypeError):
            continue
    if not durations:
        return None
    durations.sort()
    at = lambda q: durations[min(len(durations) - 1, int(len(durations) * q))]  # noqa: E731
    return {"p50_ms": at(0.50), "p99_ms": at(0.99), "requests": len(durations)}


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def measure(server: Server, app: str, database: str, prefix: Path, threads: int, connections: int,
            duration: float, label: str = "") -> Point:
    """One measured run: wrk's view (rate, latency, errors) and the server's CPU and memory."""
    workers_before = set(server.workers())
    cpu_before = server.cpu_seconds()
    busy_before, _ = busy_jiffies()
    db_before = database_server_cpu_seconds() if database == "postgresql" else 0.0
    log_before = _size(server.log_path)
    summary, generator_cpu = run_wrk(server.url, prefix, threads, connections, duration)
    log_after = _size(server.log_path)
    db_cpu = database_server_cpu_seconds() - db_before if database == "postgresql" else 0.0
    busy_after, _ = busy_jiffies()
    cpu_after = server.cpu_seconds()
    workers_after = set(server.workers())
    seconds = summary["duration_us"] / 1e6
    n = max(summary["requests"], 1)
    lat = summary["latency_us"]
    socket_errors = sum(summary[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    handling = handling_times(server.log_path, log_before, log_after) or {}
    return Point(
        app=app, database=database, concurrency=connections, duration_s=round(seconds, 2),
        requests=summary["requests"], rps=round(summary["requests"] / seconds, 1),
        p50_ms=lat["p50"] / 1000, p90_ms=lat["p90"] / 1000, p95_ms=lat["p95"] / 1000,
        p99_ms=lat["p99"] / 1000, max_ms=lat["max"] / 1000,
        errors=socket_errors + summary["bad_responses"], wraps=summary["wraps"],
        server_cpu_us_per_request=round((cpu_after - cpu_before) / n * 1e6, 1),
        generator_cpu_us_per_request=round(generator_cpu / n * 1e6, 1),
        generator_cpu_share=round(generator_cpu / seconds, 3),
        worker_rss_mb=[round(kb / 1024, 1) for kb in server.worker_memory_kb().values()],
        worker_restarts=len(workers_after - workers_before),
        database_cpu_us_per_request=round(db_cpu / n * 1e6, 1),
        other_cpu_cores=round(max((busy_after - busy_before) / CLK_TCK - (cpu_after - cpu_before) - generator_cpu
                                  - db_cpu, 0) / seconds, 2),
        label=label,
        handling_p50_ms=handling.get("p50_ms"),
        handling_p99_ms=handling.get("p99_ms"),
    )
