"""JSON for the database's JSON columns, the TwiML cache's keys and the log lines: orjson.

A turn encodes JSON half a dozen times (its state, answers, rules and reply for the database, the
reply again as the rendered TwiML's key, the request log line); the standard library's encoder
was about a twentieth of a turn, orjson's is a tenth of that (docs/benchmarks.md). Its output
is compact and UTF-8, and like the standard library's it turns non-string keys into strings.
"""
from __future__ import annotations

from typing import Any, Callable

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS
loads = orjson.loads


def dumps(value: Any, default: Callable[[Any], Any] | None = None) -> str:
    """`value` as JSON text; TypeError for what JSON cannot hold (unless `default` turns it into something)."""
    return orjson.dumps(value, default=default, option=_OPTIONS).decode()
