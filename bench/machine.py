"""What the figures were measured on, and how busy the machine was meanwhile."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from typing import Any

from .servers import ROOT


def describe() -> dict[str, Any]:
    """CPU, memory, OS, Python and the versions that matter, plus the commit measured."""
    model = ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as fh:
            mem_kb = int(fh.readline().split()[1])
    except OSError:
        mem_kb = 0
    versions = {}
    for package in ("flask", "sqlalchemy", "gunicorn", "twilio", "psycopg"):
        try:
            from importlib.metadata import version

            versions[package] = version(package)
        except Exception:
            versions[package] = "?"
    sqlite = __import__("sqlite3").sqlite_version
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    pg = ""
    try:
        pg = subprocess.run(["psql", "--version"], capture_output=True, text=True, timeout=5).stdout.strip()
    except Exception:
        pass
    wrk = ""
    try:
        wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=5).stdout.splitlines()[0]
    except Exception:
        pass
    return {
        "when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": model or platform.processor(), "cores": os.cpu_count(), "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "os": f"{platform.system()} {platform.release()}", "python": sys.version.split()[0],
        "sqlite": sqlite, "postgresql": pg, "wrk": wrk, "versions": versions,
        "commit": commit + (" (with uncommitted changes)" if dirty else ""),
        "web_concurrency": os.environ.get("WEB_CONCURRENCY", "the Procfile's default"),
    }


def busy_jiffies() -> tuple[int, int]:
    """(busy, total) CPU jiffies of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)
