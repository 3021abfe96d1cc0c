"""A conversation's webhooks answered in front of Flask: POST /voice, /voice/gather, /voice/status and /sms.

They are nearly all of the help line's traffic, and a caller waits in silence while one runs.
Flask's machinery around each (request context, URL routing, before and after hooks, session,
the Response object) was about a fifth of a turn (docs/benchmarks.md), so these are
answered here, at the WSGI level, by the code Flask's views use too: the same form parsing and
size limit, signature check, use cases (voice.answer_call and answer_status, sms.answer_text), safe answers on
failure, request id, request log line and metrics. An app context is pushed as Flask would,
for the database session and the settings.

Anything else goes on to Flask untouched: other paths and methods, and a body that is not a
plain urlencoded form with a length (Flask's view reads those as before).
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Iterable

from flask import Flask, current_app, has_app_context
from werkzeug.exceptions import Forbidden, HTTPException, InternalServerError

from ..observability.logs import Webhook, current_webhook, log_request, request_id_for
from ..observability.metrics import observe
from .requests import is_plain_form, parse_pairs, read_form
from .signature import log as signature_log
from .signature import public_url, signed
from .sms import SMS_PATH, SMS_SORRY, answer_text
from .twiml import safe_voice, sms_reply
from .voice import CALL_PATH, GATHER_PATH, STATUS_PATH, answer_call, answer_status, parse_step, safe_voice_answer

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
XML = "text/xml; charset=utf-8"

# path -> the Flask endpoint it stands for (the route in logs and metrics)
ROUTES = {CALL_PATH: "voice.incoming_call", GATHER_PATH: "voice.gather", SMS_PATH: "sms.incoming_text",
          STATUS_PATH: "voice.status"}


class Webhooks:
    """WSGI middleware: the conversation's webhooks here, every other request to `flask_wsgi`."""

    def __init__(self, app: Flask, flask_wsgi: Callable[[dict, StartResponse], Iterable[bytes]]):
        self.app = app
        self.flask_wsgi = flask_wsgi

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        route = ROUTES.get(path) if environ.get("REQUEST_METHOD") == "POST" else None
        if route is None or not is_plain_form(environ):
            return self.flask_wsgi(environ, start_response)
        started = time.perf_counter()
        webhook = Webhook(request_id_for(environ), route)
        token = current_webhook.set(webhook)
        try:
            status, headers, body = self._answer(environ, path, webhook)
        except Exception:  # a failure before the turn's own safety nets (none is expected)
            status, headers, body = _last_resort(path)
        finally:
            current_webhook.reset(token)
        headers.append(("X-Request-ID", webhook.request_id))
        start_response(status, headers)
        code = int(status[:3])
        log_request("POST", path, code, started, webhook.form, webhook.request_id, route)
        observe(route, "POST", code, started)
        return [body]

    def _answer(self, environ: dict[str, Any], path: str, webhook: Webhook) -> tuple[str, list, bytes]:
        app = self.app
        # As Flask does: a context of its own, unless one of this app's is active already (a
        # webhook posted from inside a staff request by the phone simulator).
        context = None if _active_app() is app else app.app_context()
        if context is not None:
            context.push()
        try:
            return self._in_context(environ, path, webhook)
        finally:
            if context is not None:
                context.pop()

    def _in_context(self, environ: dict[str, Any], path: str, webhook: Webhook) -> tuple[str, list, bytes]:
        config = self.app.config
        try:
            webhook.form = read_form(environ, config["MAX_CONTENT_LENGTH"])
            if config["INSECURE_SKIP_SIGNATURES"]:
                signature_log.warning("SIGNATURE CHECK DISABLED: accepting an unsigned webhook (development only)")
            elif not signed(public_url(environ, config["PUBLIC_BASE_URL"]), webhook.form,
                            environ.get("HTTP_X_TWILIO_SIGNATURE", ""), config["TWILIO_AUTH_TOKEN"]):
                signature_log.warning("refused a webhook with a missing or wrong signature", extra={"path": path})
                return _error(Forbidden(), environ)
        except HTTPException as error:
            return _error(error, environ)
        hl = self.app.extensions["helpline"]
        if path == SMS_PATH:  # answer_text answers any failure of the turn with a safe text itself
            twiml = answer_text(hl, webhook.form, environ.get("HTTP_I_TWILIO_IDEMPOTENCY_TOKEN"))
        elif path == STATUS_PATH:  # the call is over: a failure is Twilio's to see, as Flask would answer it
            try:
                twiml = answer_status(hl, webhook.form)
            except Exception:
                log.exception("call status callback failed")
                return _error(InternalServerError(), environ)
        else:
            try:
                step = 0 if path == CALL_PATH else parse_step(_step_argument(environ.get("QUERY_STRING", "")))
                twiml = answer_call(hl, webhook.form, step, environ.get("SCRIPT_NAME", "").rstrip("/"))
            except Exception:
                twiml = safe_voice_answer(config["VOICE_NAME"])
        body = twiml.encode()
        return "200 OK", [("Content-Type", XML), ("Content-Length", str(len(body)))], body


def _active_app() -> Flask | None:
    return current_app._get_current_object() if has_app_context() else None


def _step_argument(query: str) -> str | None:
    for name, value in parse_pairs(query):
        if name == "step":
            return value
    return None


def _error(error: HTTPException, environ: dict[str, Any]) -> tuple[str, list, bytes]:
    """Werkzeug's own page for the error, as Flask would send it."""
    response = error.get_response(environ)
    return response.status, list(response.headers.items()), response.get_data()


def _last_resort(path: str) -> tuple[str, list, bytes]:
    """Safe words without the database or the settings: never Twilio's "application error"."""
    log.exception("webhook failed before its turn; answering with safe words")
    twiml = str(sms_reply({"say": [{"text": SMS_SORRY}]}) if path == SMS_PATH else safe_voice())
    body = twiml.encode()
    return "200 OK", [("Content-Type", XML), ("Content-Length", str(len(body)))], body
