"""Operations: structured logs, Prometheus metrics and the readiness check."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Logs first, so that everything after start-up is logged as JSON, then metrics."""
    from . import logs, metrics

    logs.init_app(app)
    metrics.init_app(app)
