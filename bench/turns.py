"""Whole signed turns straight into the WSGI app: CPU per turn in one process, and in several.

    python -m bench turns [--databases sqlite,postgresql]

No gunicorn, no network, no test client: each request is a prebuilt WSGI environ handed to the
app, so the figure is the help line's own cost of a turn (request log included, written to
/dev/null). Run once in one process, then in four processes side by side on the same database,
as gunicorn's four workers are: the difference is what contention for two cores (and, on
SQLite, re-reading pages another process wrote) adds to each turn. On SQLite, also four
processes each on a database of its own: contention for the cores alone, without the sharing.
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


def _worker(url: str, templates: list, requests: int, seed: int, out) -> None:
    from urllib.parse import urlencode

    from helpline import create_app

    from . import traffic

    sys.stderr = open(os.devnull, "w")  # the request log is written, and goes nowhere
    os.environ.update(traffic.server_env(url))  # the load runs' settings: signatures checked, staff alerts on
    app = create_app()
    sign = Signer()
    stream = traffic.interleave(traffic.conversations(templates, traffic.Numbering(seed)), 256, requests)
    prepared = [(p, urlencode(params).encode(), sign(p, params)) for p, params in stream]
    failed = []

    def start_response(status, headers, exc_info=None):
        if not status.startswith("200"):
            failed.append(status)

    warm = max(requests // 10, 1)
    for p, body, s in prepared[:warm]:
        b"".join(app.wsgi_app(_environ(p, body, s), start_response))
    wall, cpu = time.perf_counter(), time.process_time()
    for p, body, s in prepared[warm:]:
        b"".join(app.wsgi_app(_environ(p, body, s), start_response))
    n = len(prepared) - warm
    out.put({"cpu_us": (time.process_time() - cpu) / n * 1e6, "wall_us": (time.perf_counter() - wall) / n * 1e6,
             "requests": n, "failed": len(failed)})


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
