"""Structured logs: one JSON object per line, with a request id, and nothing a caller said or is.

The redaction filter sits on the handler, so it covers every logger (the help line's, Flask's,
SQLAlchemy's, the WSGI server's) whatever the record carries: phone numbers in the message or
in a traceback, and any field named like a phone number, a text body or speech.
"""
from __future__ import annotations

import logging
import random
import re
import sys
import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import phonenumbers
from flask import Flask, g, has_request_context, request
from flask.logging import default_handler

from ..jsoncodec import dumps

REDACTED = "[redacted]"
PHONE_MARK = "[phone]"

# Fields that hold what a person said, typed or is: never logged, whatever logger carries them.
SENSITIVE_FIELDS = frozenset({
    "body", "speech", "said", "digits", "from", "to", "caller", "called", "phone", "number",
    "to_number", "from_number", "speechresult", "unstablespeechresult", "forwardedfrom",
    "callername", "form", "answers", "note", "text",
})
# Twilio form fields whose values are scrubbed from the whole line if they turn up anywhere,
# say in an exception message. Short values (a single key press) would scrub innocent text.
REQUEST_SECRETS = ("From", "To", "Caller", "Called", "Body", "SpeechResult", "UnstableSpeechResult",
                   "Digits", "ForwardedFrom", "CallerName")
MIN_SCRUB_LENGTH = 4

# E.164 or bare international digit runs, with or without a whatsapp: prefix; formatted numbers
# (07911 123 456, +44 (0)23 8024 8725) are found by phonenumbers' matcher.
MIN_PHONE_DIGITS = 7  # the shortest number the matcher would find
_DIGIT_RUN = re.compile(r"(?<![\w+])\+?\d{10,15}(?!\d)")

# The attributes every LogRecord has; anything else came in through `extra=`.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
_OURS = frozenset({"request_id", "route", "redacted"})


def redact_text(text: str) -> str:
    """Replace every phone number in free text."""
    if not text:
        return text
    out = _DIGIT_RUN.sub(PHONE_MARK, text)
    if sum(map(str.isdigit, out)) >= MIN_PHONE_DIGITS:  # the matcher is slow: only where a number fits
        spans = [(m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(out, "GB", leniency=phonenumbers.Leniency.VALID)]
        for start, end in reversed(spans):
            out = out[:start] + PHONE_MARK + out[end:]
    return out


def _redact_value(key: str, value: Any) -> Any:
    if key.lower() in SENSITIVE_FIELDS and value not in (None, ""):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_value(key, v) for v in value]
    return value


@dataclass
class Webhook:
    """A request answered in front of Flask (helpline.web.webhooks): what the log filters and the
    error counter would otherwise read from Flask's request context."""

    request_id: str
    route: str
    form: Any = None  # the parsed form, once it is: the secrets scrubbed from any log line


# Set while a webhook is answered in front of Flask. Looked at before Flask's request context: the
# simulator posts webhooks from inside a staff request, whose context is not the webhook's.
current_webhook: ContextVar[Webhook | None] = ContextVar("helpline_webhook", default=None)


def _request_secrets() -> list[str]:
    webhook = current_webhook.get()
    if webhook is not None:
        form = webhook.form
        if form is None:
            return []
    elif not has_request_context():
        return []
    else:
        try:
            form = request.form
        except Exception:  # a body we could not parse: nothing to scrub from it
            return []
    values = {v.strip() for k in REQUEST_SECRETS for v in form.getlist(k)}
    return sorted((v for v in values if len(v) >= MIN_SCRUB_LENGTH), key=len, reverse=True)


def scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return redact_text(text)


class RedactingFilter(logging.Filter):
    """Rewrite a record so that no phone number, text body or speech leaves the process."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "redacted", False):
            return True
        secrets = _request_secrets()
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = str(record.msg)
        record.msg, record.args = scrub(message, secrets), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text, secrets)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info, secrets)
        for key in list(record.__dict__):
            if key not in _STANDARD and key not in _OURS:
                value = _redact_value(key, record.__dict__[key])
                if isinstance(value, str):
                    value = scrub(value, secrets)
                record.__dict__[key] = value
        record.redacted = True
        return True


class RequestIdFilter(logging.Filter):
    """Stamp each record with the request it belongs to."""

    def filter(self, record: logging.LogRecord) -> bool:
        webhook = current_webhook.get()
        if getattr(record, "request_id", None) is not None:  # stamped where it was made (the request line)
            record.route = getattr(record, "route", None)
        elif webhook is not None:
            record.request_id, record.route = webhook.request_id, webhook.route
        elif has_request_context():
            record.request_id = getattr(g, "request_id", None)
            record.route = request.endpoint
        else:
            record.request_id = getattr(record, "request_id", None)
            record.route = getattr(record, "route", None)
        return True


_NOT_EXTRA = _STANDARD | _OURS


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, then any extra fields."""

    # (second, "YYYY-MM-DDTHH:MM:SS") of the last line: the date and time are formatted once a
    # second, the milliseconds on every line (one tuple, replaced whole: safe between threads).
    _second: tuple[int, str] = (-1, "")

    def _time(self, created: float) -> str:
        # Rounded to the microsecond first, as datetime.fromtimestamp rounds it.
        second = int(created)
        micro = round((created - second) * 1e6)
        if micro >= 1_000_000:
            second, micro = second + 1, micro - 1_000_000
        cached, text = self._second
        if cached != second:
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = (second, text)
        return f"{text}.{micro // 1000:03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self._time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = record.__dict__
        for key in ("request_id", "route"):
            if fields.get(key):
                entry[key] = fields[key]
        for key, value in fields.items():
            if key not in _NOT_EXTRA and key[:1] != "_":
                entry[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return dumps(entry, default=str)

    def request_line(self, created: float, message: str, request_id: str, route: str | None,
                     fields: dict[str, Any]) -> str:
        """What format() makes of the request line's record (log_request), without the record."""
        entry: dict[str, Any] = {"time": self._time(created), "level": "INFO", "logger": request_log.name,
                                 "message": message, "request_id": request_id}
        if route:
            entry["route"] = route
        entry.update(fields)
        return dumps(entry, default=str)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def make_handler(stream=None, fmt: str = "json") -> logging.Handler:
    """A handler that redacts and stamps request ids: the app's, or a test's on its own stream."""
    handler: logging.Handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s [%(name)s] %(request_id)s %(message)s"))
    handler._helpline = True  # type: ignore[attr-defined]
    return handler


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# Twilio's identifiers: two letters and 32 hex digits. They name nobody, so they are logged as they are.
_TWILIO_SID = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")

request_log = logging.getLogger("helpline.request")


def _new_request_id() -> str:
    """128 random bits as 32 hex digits. They tell requests apart and guard nothing, so they come
    from the random module (reseeded in each forked worker) without a system call each time."""
    return f"{random.getrandbits(128):032x}"


def init_app(app: Flask) -> None:
    """Send every log record through one redacting JSON handler; log each request once."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_helpline", False)]:
        root.removeHandler(old)
    root.addHandler(make_handler(fmt=app.config.get("LOG_FORMAT", "json")))
    root.setLevel(app.config.get("LOG_LEVEL", "INFO"))
    # Our own loggers keep their level even if a library (Alembic's fileConfig) resets the root.
    logging.getLogger("helpline").setLevel(app.config.get("LOG_LEVEL", "INFO"))
    app.logger.removeHandler(default_handler)
    # No line of ours names the thread (a worker is known by its requests' ids): a record made
    # without looking it up costs less, and every request makes one. The process id stays:
    # gunicorn's own lines in a worker ("Error handling request", "Worker exiting") format it,
    # and without it they fail to print.
    logging.logThreads = logging.logMultiprocessing = False

    @app.before_request
    def _start() -> None:
        state = g._get_current_object()
        # The start time is the metrics' too (observability.metrics).
        state.request_started = time.perf_counter()
        state.request_id = request_id_for(request.environ)

    @app.after_request
    def _finish(response):
        state, req = g._get_current_object(), request._get_current_object()  # past the proxies once
        request_id = getattr(state, "request_id", "")
        response.headers["X-Request-ID"] = request_id
        if request_log.isEnabledFor(logging.INFO):
            try:
                form = req.form
            except Exception:  # a body that could not be read has no SID to name
                form = None
            log_request(req.method, req.path, response.status_code, getattr(state, "request_started", None),
                        form, request_id, req.endpoint)
        return response


def request_id_for(environ: dict[str, Any]) -> str:
    """The caller's X-Request-ID if it is a sensible one (a proxy's), else a new one."""
    incoming = environ.get("HTTP_X_REQUEST_ID", "")
    return incoming if incoming and _REQUEST_ID.match(incoming) else _new_request_id()


def log_request(method: str, path: str, status: int, started: float | None, form: Any,
                request_id: str | None, route: str | None) -> None:
    """The one line each request leaves in the log."""
    if not request_log.isEnabledFor(logging.INFO):
        return
    elapsed_ms = round((time.perf_counter() - started) * 1000, 1) if started else None
    # Redacted here as it is built (every part is known), so that the handler's general filter,
    # slow on long digit runs such as SIDs, can pass it by. The record is made directly:
    # Logger.info would walk the stack for a caller nobody reads.
    path = redact_text(path)
    fields = {"method": method, "path": path, "status": status, "duration_ms": elapsed_ms,
              "twilio_sid": _twilio_sid(form)}
    handlers = _json_handlers_only() if request_id else None
    if handlers is not None:
        _write_request_line(handlers, time.time(), f"{method} {path} {status}", request_id, route, fields)
        return
    request_log.handle(request_log.makeRecord(
        request_log.name, logging.INFO, __file__, 0, "%s %s %s", (method, path, status), None,
        extra={**fields, "redacted": True, "request_id": request_id or None, "route": route},
    ))


def _json_handlers_only() -> list[logging.StreamHandler] | None:
    """The handlers the request line reaches, where each is one of ours writing JSON lines (the
    app's, a test's); None where any other handler, filter or setting could have a say.

    For those, the record's whole journey (made, filtered twice, formatted) ends in the line
    JsonFormatter.request_line builds directly, which costs a turn about 4% fewer instructions
    (docs/benchmarks.md, change 39). The walk is Logger.callHandlers' own.
    """
    logger: logging.Logger | None = request_log
    if request_log.disabled or request_log.filters:
        return None
    found: list[logging.StreamHandler] = []
    while logger is not None:
        for handler in logger.handlers:
            if handler.level > logging.INFO:  # never shown the line (the error counter)
                continue
            if (not getattr(handler, "_helpline", False) or type(handler.formatter) is not JsonFormatter
                    or not isinstance(handler, logging.StreamHandler)):
                return None
            for f in handler.filters:
                if type(f) not in _OUR_FILTERS:
                    return None
            found.append(handler)
        if not logger.propagate:
            break
        logger = logger.parent
    return found or None  # none at all: logging's last resort, the usual way


# Both pass the request line as it is made: stamped with its request id, redacted as it is built.
_OUR_FILTERS = (RequestIdFilter, RedactingFilter)


def _write_request_line(handlers: list[logging.StreamHandler], created: float, message: str,
                        request_id: str, route: str | None, fields: dict[str, Any]) -> None:
    for handler in handlers:
        line = handler.formatter.request_line(created, message, request_id, route, fields)  # type: ignore[union-attr]
        handler.acquire()
        try:
            handler.stream.write(line + handler.terminator)
            handler.flush()
        except Exception:  # as StreamHandler.emit: the handler's own complaint, and the request goes on
            handler.handleError(request_log.makeRecord(request_log.name, logging.INFO, __file__, 0, message, (), None))
        finally:
            handler.release()


def _twilio_sid(form: Any) -> str | None:
    """CallSid or MessageSid: lets an operator find the request in Twilio's console, and names nobody."""
    if form is None:
        return None
    sid = form.get("CallSid") or form.get("MessageSid") or None
    return sid if sid is None or _TWILIO_SID.match(sid) else REDACTED
