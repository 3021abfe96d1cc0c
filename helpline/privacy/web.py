"""The privacy notice page, and the admins' subject access export from the staff dashboard."""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..staff.auth import csrf
from . import subject
from .retention import Retention

bp = Blueprint("privacy", __name__)


@bp.get("/privacy")
def notice():
    """How people's answers are used, and for how long they are kept."""
    retention = Retention.from_config(current_app.config).as_days()
    return render_template("privacy/notice.html", retention=retention)


@bp.post("/staff/privacy/export")
def staff_export():
    """An admin downloads everything held about a number (a zip of JSON and HTML); the export is audited.

    :raise 401: not signed in.
    :raise 403: not an admin.
    """
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if current_user.role != "admin":
        abort(403)
    hl = current_app.extensions["helpline"]
    try:
        name, data = subject.export_archive(hl, request.form.get("phone", ""), hl.now(), current_user)
    except subject.SubjectError as exc:
        flash(str(exc), "error")
        return redirect(url_for("dashboard.audit_page"))
    return Response(data, mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store",  # health data: never kept by a browser or proxy cache
        "X-Content-Type-Options": "nosniff",
    })
