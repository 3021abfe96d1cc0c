"""Whole signed turns straight into the WSGI app: CPU per turn in one process, and in several.

    python -m bench turns [--databases sqlite,postgresql]

No gunicorn, no network, no test client: each request is a prebuilt WSGI environ handed to the
app, so the figure is the help line's own cost of a turn (request log included, written to
/dev/null). Run once in one process, then in four processes side by side on the same database,
as gunicorn's four workers are: the difference is what contention for two cores (and, on
SQLite, re-reading pages another process wrote) adds to each turn. On SQLite, also four
processes each on a database of its own: contention for the cores alone, without the sharing.

`interleaved` is the scale suite's turn alone: one process a database, taking turns in short
batches, so that the sizes are compared under the same state of the machine.
"""
from __future__ import annotations

import io
import multiprocessing
import os
import sys
import time
from typing import Any

from .traffic import Signer


def _environ(path: str, body: bytes, signature: str) -> dict[str, Any]:
    path, _, query = path.partition("?")
    return {"REQUEST_METHOD": "POST", "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1", "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "CONTENT_LENGTH": str(len(body)), "HTTP_X_TWILIO_SIGNATURE": signature,
            "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
            "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
            "wsgi.version": (1, 0)}


def _app_and_requests(url: str, templates: list, requests: int, seed: int):
    """The help line with the load runs' settings, and `requests` signed turns ready to post."""
    from urllib.parse import urlencode

    from helpline import create_app

    from . import traffic

    sys.stderr = open(os.devnull, "w")  # the request log is written, and goes nowhere
    os.environ.update(traffic.server_env(url))  # the load runs' settings: signatures checked, staff alerts on
    app = create_app()
    sign = Signer()
    stream = traffic.interleave(traffic.conversations(templates, traffic.Numbering(seed)), 256, requests)
    return app, [(p, urlencode(params).encode(), sign(p, params)) for p, params in stream]


def _post_all(app, prepared: list, failed: list) -> dict[str, Any]:
    """Post the turns one after another; CPU and wall µs a turn."""
    def start_response(status, headers, exc_info=None):
        if not status.startswith("200"):
            failed.append(status)

    wall, cpu = time.perf_counter(), time.process_time()
    for p, body, s in prepared:
        b"".join(app.wsgi_app(_environ(p, body, s), start_response))
    n = max(len(prepared), 1)
    return {"cpu_us": (time.process_time() - cpu) / n * 1e6, "wall_us": (time.perf_counter() - wall) / n * 1e6,
            "requests": len(prepared)}


def _worker(url: str, templates: list, requests: int, seed: int, out) -> None:
    app, prepared = _app_and_requests(url, templates, requests, seed)
    failed: list = []
    warm = max(requests // 10, 1)
    _post_all(app, prepared[:warm], failed)
    out.put({**_post_all(app, prepared[warm:], failed), "failed": len(failed)})


def _batches(url: str, templates: list, warm: int, each: int, rounds: int, seed: int, commands, out) -> None:
    """One database's turns in batches of `each`, one batch each time it is told to go."""
    app, prepared = _app_and_requests(url, templates, warm + each * rounds, seed)
    failed: list = []
    _post_all(app, prepared[:warm], failed)
    out.put("ready")
    for n in range(rounds):
        commands.get()
        start, began = warm + n * each, time.time()
        out.put({**_post_all(app, prepared[start:start + each], failed), "failed": len(failed), "began": began})


def interleaved(urls: list[str], templates: list, rounds: int, each: int, seed: int = 20_000) -> list[list[dict[str, Any]]]:
    """The turn alone on several databases, measured in short batches taken in turn.

    One process for each database stays up and waits; they run one at a time, `each` turns a
    batch, round after round, each round starting one database later. A batch takes a fraction of
    a second, so whatever slows the machine for a while (it comes and goes over tens of seconds
    here) falls on every database alike; separate runs of a few seconds each, one database after
    another, could not ensure that (docs/benchmarks.md). Returns each database's batches, in order.
    """
    context = multiprocessing.get_context("spawn")
    commands = [context.Queue() for _ in urls]
    outs = [context.Queue() for _ in urls]
    workers = [context.Process(target=_batches, args=(url, templates, max(2 * each, 100), each, rounds, seed + i,
                                                     commands[i], outs[i]))
               for i, url in enumerate(urls)]
    for w in workers:
        w.start()
    try:
        for out in outs:
            if out.get(timeout=600) != "ready":
                raise RuntimeError("a turn-alone process did not start")
        batches: list[list[dict[str, Any]]] = [[] for _ in urls]
        for n in range(rounds):
            order = list(range(len(urls)))
            order = order[n % len(urls):] + order[:n % len(urls)]
            for i in order:
                commands[i].put("go")
                batches[i].append(outs[i].get(timeout=600))
    finally:
        for w in workers:
            w.join(timeout=60)
            if w.is_alive():
                w.kill()
    failed = sum(b[-1]["failed"] for b in batches if b)
    if failed:
        raise RuntimeError(f"{failed} turns were not answered with 200")
    return batches


def turns(url: str | list[str], templates: list, requests: int, processes: int, seed: int = 1000) -> dict[str, Any]:
    """CPU and wall µs per turn, averaged over `processes` processes running side by side, all on
    one database or, given a list of them, each on its own. `seed` numbers the conversations:
    another seed for each run on the same database, or its turns would be retries."""
    urls = url if isinstance(url, list) else [url] * processes
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no connection inherited
    out = context.Queue()
    workers = [context.Process(target=_worker, args=(urls[i], templates, requests, seed + i, out))
               for i in range(processes)]
    for w in workers:
        w.start()
    results = [out.get(timeout=600) for _ in workers]
    for w in workers:
        w.join(timeout=60)
    failed = sum(r["failed"] for r in results)
    if failed:
        raise RuntimeError(f"{failed} turns were not answered with 200")
    return {"processes": processes, "databases": len(set(urls)), "requests_each": results[0]["requests"],
            "cpu_us": round(sum(r["cpu_us"] for r in results) / processes, 1),
            "wall_us": round(sum(r["wall_us"] for r in results) / processes, 1)}
