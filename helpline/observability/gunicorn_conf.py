"""gunicorn hooks: Prometheus multiprocess mode (docs/operations.md), and the worker's garbage collector.

Use: `gunicorn --config python:helpline.observability.gunicorn_conf ...` with PROMETHEUS_MULTIPROC_DIR
set to a directory of its own. gunicorn loads this before the app, so it reads that one variable
itself, as prometheus-client does.
"""
from __future__ import annotations

import gc
import os
import shutil
from pathlib import Path


def _directory() -> Path | None:
    value = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(value) if value else None


def on_starting(server) -> None:
    """Empty the directory: figures from an earlier run must not add to this one's."""
    path = _directory()
    if path is None:
        return
    if path.exists():
        for child in path.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    path.mkdir(parents=True, exist_ok=True)


def child_exit(server, worker) -> None:
    """A worker has gone: its live gauges stop counting (its counters and histograms stay in the sums)."""
    if _directory() is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker) -> None:
    """The worker has built the app: what it holds now (modules, flows, compiled statements,
    templates) lives as long as the worker does.

    gc.freeze() moves those objects out of the cyclic collector's sight. Without it, every so
    often a full collection walked all of them: about 120,000 objects, 80 to 140 ms in which the
    worker answered nobody (docs/benchmarks.md). Reference counting still frees
    whatever requests make and drop; the collector still looks at everything made since.
    """
    gc.freeze()
