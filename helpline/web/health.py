"""Health checks for the load balancer: liveness (/healthz) and readiness (/readyz)."""
from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from ..db import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """200 when the database answers, 503 when it does not."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        db.session.rollback()
        return jsonify(status="unavailable", database="down"), 503
    return jsonify(status="ok", database="ok")


@bp.get("/readyz")
def readyz():
    """200 when the database answers and is migrated to head; 503 otherwise (take no traffic yet)."""
    from ..observability.health import readiness

    result = readiness()
    return jsonify(result.as_dict()), 200 if result.ready else 503
