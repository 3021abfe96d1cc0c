"""Profile the help line's gunicorn workers under load with py-spy, and summarise where time goes.

    python -m bench profile [--databases sqlite] [--duration 10]

py-spy samples every worker (it attaches by pid: run as root or with ptrace allowed) while wrk
drives the usual signed traffic at c=32. The summary lists the functions most often on the stack
(inclusive) and at the top of it (self), as shares of all samples; the raw folded stacks are kept
beside it for a flame graph.
"""
from __future__ import annotations

import collections
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from . import database


def _frame(frame: str) -> str:
    """'function (path/to/file.py:12)' -> 'function file.py'."""
    name, _, where = frame.partition(" (")
    file = where.rsplit("/", 1)[-1].split(":", 1)[0]
    return f"{name} {file}".strip()


def summarise(folded: Path, top: int = 40) -> dict[str, Any]:
    """Inclusive and self shares of samples per function, from py-spy's raw (folded) output."""
    inclusive: collections.Counter = collections.Counter()
    own: collections.Counter = collections.Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [_frame(f) for f in stack.split(";")]
        for f in set(frames):
            inclusive[f] += n
        own[frames[-1]] += n
    share = lambda c: [(f, round(100 * n / max(total, 1), 1)) for f, n in c.most_common(top)]  # noqa: E731
    return {"samples": total, "inclusive_percent": share(inclusive), "self_percent": share(own)}


def run(bench, kind: str, duration: float) -> dict[str, Any]:
    """Drive the help line at c=32 and sample its workers meanwhile."""
    from .traffic import server_env
    from .servers import HELPLINE_APP, Server

    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    url = database.for_kind(kind, bench.opts.workdir)
    database.fresh(url)
    folded = bench.opts.out / f"profile-{kind}.folded"
    with Server("helpline", HELPLINE_APP, server_env(url), bench.opts.out / "logs" / "profile.log") as helpline:
        bench.warm(helpline, "helpline", kind)
        seconds = max(int(duration), 1)
        sampler = subprocess.Popen(
            [spy, "record", "--pid", str(helpline.process.pid), "--subprocesses", "--rate", "250",
             "--duration", str(seconds), "--format", "raw", "--output", str(folded), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        point = bench.point(helpline, "helpline", kind, 32, seconds, label="under py-spy")
        try:
            _, err = sampler.communicate(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            sampler.kill()
            err = "py-spy overran and was stopped"
    if not folded.exists():
        return {"database": kind, "error": f"py-spy wrote nothing: {err.strip()[-500:]}"}
    return {"database": kind, "point": point.as_dict(), "folded": folded.name, **summarise(folded)}
