"""The phone simulator and the flow map: try every path of the help line in a browser.

Open to all in development (debug, SIMULATOR_OPEN, or unsigned webhooks allowed anyway);
otherwise staff must sign in, and without staff sign-in configured the pages do not exist.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, redirect, render_template, request, url_for

from .. import flowmap, simulate

bp = Blueprint("simulator", __name__)
log = logging.getLogger(__name__)


@bp.record_once
def _setup(state) -> None:
    app: Flask = state.app
    simulate.prepare(app)
    if simulate.is_development(app):
        # `make run` opens onto the simulator: / leads there in development only.
        app.add_url_rule("/", endpoint="simulator.index", view_func=index)
        log.warning("development: try the help line at /simulator (open to all; never expose this server)")


def index():
    """Development only: the front page is the simulator."""
    return redirect(url_for("simulator.phone"))


CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


@bp.before_request
def _guard() -> Any:
    """Development: open. Otherwise signed-in staff only; with no staff sign-in, 404. POSTs carry the CSRF token."""
    app = current_app._get_current_object()
    if not simulate.is_development(app):
        manager = getattr(app, "login_manager", None)
        if manager is None:
            abort(404)
        from flask_login import current_user

        if not current_user.is_authenticated:
            return manager.unauthorized()
    csrf = app.extensions.get("csrf")
    if request.method == "POST" and csrf is not None and app.config.get("WTF_CSRF_ENABLED", True):
        # Each step writes real records: another site must not be able to drive the simulator.
        csrf.protect()
    return None


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.get("/simulator/")
def phone():
    """The phone: a keypad that calls the help line, and a text-message view."""
    return render_template(
        "simulator/phone.html",
        number=current_app.config.get("HELPLINE_NUMBER", ""),
        caller=simulate.drama_number(),
        development=simulate.is_development(current_app),
        confidence=current_app.config.get("SPEECH_CONFIDENCE", 0.5),
    )


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, "send a JSON object")
    return data


def _confidence(value: Any) -> float | None:
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        abort(400, "confidence must be a number from 0 to 1")


def _seconds(value: Any) -> int:
    try:
        return max(int(value or 0), 0)
    except (TypeError, ValueError):
        abort(400, "duration must be a whole number of seconds")


@bp.post("/simulator/voice")
def voice():
    """One step of a simulated call, signed and sent to the real voice webhook."""
    data = _body()
    call_sid = str(data.get("call_sid") or "")
    caller = str(data.get("from") or "").strip() or None
    try:
        step = simulate.voice_step(
            current_app._get_current_object(), call_sid, caller, data.get("action") or None,
            digits=str(data.get("digits") or "") or None, speech=data.get("speech"),
            confidence=_confidence(data.get("confidence")), hang_up=bool(data.get("hang_up")),
            duration=_seconds(data.get("duration")),
        )
    except simulate.SimulatorError as err:
        return jsonify(error=str(err)), 400
    return jsonify(step.to_dict())


@bp.post("/simulator/sms")
def sms():
    """One text to the help line, signed and sent to the real SMS webhook."""
    data = _body()
    sender = str(data.get("from") or "").strip()
    body = str(data.get("body") or "")
    if not body.strip():
        return jsonify(error="type a message first"), 400
    try:
        step = simulate.sms_step(current_app._get_current_object(), sender, body)
    except simulate.SimulatorError as err:
        return jsonify(error=str(err)), 400
    return jsonify(step.to_dict())


@bp.get("/flows/map")
def flow_map():
    """Every flow drawn for clinical review (SVG); 503 when Graphviz's dot is not installed."""
    try:
        svg = flowmap.cached_svg(current_app._get_current_object())
    except flowmap.GraphvizMissing as err:
        return Response(str(err), status=503, mimetype="text/plain")
    return Response(svg, mimetype="image/svg+xml")
