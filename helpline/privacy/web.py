"""The privacy notice page, linked from the first text and the voice menu."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template

from .retention import Retention

bp = Blueprint("privacy", __name__)


@bp.get("/privacy")
def notice():
    """How people's answers are used, and for how long they are kept."""
    retention = Retention.from_config(current_app.config).as_days()
    return render_template("privacy/notice.html", retention=retention)
