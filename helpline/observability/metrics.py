"""Prometheus metrics: request latency and errors from each process, queue figures from the database.

Latency and errors are counted in the process that served the request. Under gunicorn each
worker is its own process, so set PROMETHEUS_MULTIPROC_DIR (an empty directory, wiped at each
start) and every worker writes its figures there for any worker to serve (docs/operations.md).
Queue depth, waiting times, SLA breaches, dispositions and the outbox backlog are read from
the database at scrape time, so every process reports the same figures and none is stale.
"""
from __future__ import annotations

import hmac
import logging
import time
from datetime import datetime
from typing import Any, Iterable

from flask import Blueprint, Flask, Response, abort, current_app, g, has_request_context, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import func, select

from ..db import db, rare
from ..models import Callback, Conversation
from ..notify.models import PENDING, SENDING, UNKNOWN, Outbox
from .logs import current_webhook

log = logging.getLogger(__name__)

# Twilio gives up on a webhook after 15 s in all; the buckets resolve the range that matters.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0)

# Created unregistered: each scrape builds its own registry (see `registry`).
REQUEST_LATENCY = Histogram(
    "helpline_http_request_duration_seconds", "Time to answer a request, by route (the Flask endpoint).",
    ["route", "method"], buckets=LATENCY_BUCKETS, registry=None,
)
RESPONSES = Counter("helpline_http_responses_total", "Responses sent, by route and status code.",
                    ["route", "status"], registry=None)
ERRORS = Counter(
    "helpline_errors_total",
    "Errors logged while serving a request, by route; the voice and SMS handlers catch their errors and "
    "answer safe words, so a 200 can still be an error.",
    ["route"], registry=None,
)
PROCESS_METRICS = (REQUEST_LATENCY, RESPONSES, ERRORS)

OPEN_STATUSES_FOR_QUEUE = ("open", "claimed", "unreachable")
OUTBOX_WAITING = (PENDING, SENDING, UNKNOWN)

bp = Blueprint("metrics", __name__)


class ErrorCounter(logging.Handler):
    """Counts every ERROR logged during a request against the request's route."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)

    def emit(self, record: logging.LogRecord) -> None:
        webhook = current_webhook.get()
        if webhook is not None:
            ERRORS.labels(route=webhook.route).inc()
        elif has_request_context():
            ERRORS.labels(route=request.endpoint or "unknown").inc()


class DatabaseCollector:
    """Queue and outcome figures computed from the database when Prometheus scrapes."""

    def __init__(self, now: datetime):
        self.now = now

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("helpline_database_up", "1 when the scrape could read the database.")
        try:
            families = list(self._families())
        except Exception:
            log.exception("metrics: could not read the database")
            db.session.rollback()
            up.add_metric([], 0)
            yield up
            return
        finally:
            db.session.rollback()  # read only: end the transaction the scrape opened
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> Iterable[Metric]:
        now = self.now
        tier = func.coalesce(Callback.disposition, "none")
        depth = GaugeMetricFamily("helpline_queue_depth", "Callbacks waiting or being worked, by queue, tier and status.",
                                  labels=["queue", "tier", "status"])
        for queue, t, status, n in db.session.execute(
            select(Callback.queue, tier, Callback.status, func.count())
            .where(rare(Callback.status.in_(OPEN_STATUSES_FOR_QUEUE))).group_by(Callback.queue, tier, Callback.status)
        ):
            depth.add_metric([queue, t, status], n)
        yield depth

        oldest = GaugeMetricFamily("helpline_queue_oldest_waiting_seconds",
                                   "How long the oldest unclaimed callback has waited, by queue and tier.",
                                   labels=["queue", "tier"])
        for queue, t, first in db.session.execute(
            select(Callback.queue, tier, func.min(Callback.created_at))
            .where(Callback.status == "open").group_by(Callback.queue, tier)
        ):
            oldest.add_metric([queue, t], max((now - _naive(first)).total_seconds(), 0.0))
        yield oldest

        overdue = GaugeMetricFamily("helpline_callbacks_overdue",
                                    "Open or claimed callbacks past their due time (SLA breached), by queue and tier.",
                                    labels=["queue", "tier"])
        for queue, t, n in db.session.execute(
            select(Callback.queue, tier, func.count())
            .where(rare(Callback.status.in_(OPEN_STATUSES_FOR_QUEUE)), Callback.due_at < now).group_by(Callback.queue, tier)
        ):
            overdue.add_metric([queue, t], n)
        yield overdue

        dispositions = CounterMetricFamily(
            "helpline_dispositions", "Conversations that reached each disposition, by tier and channel.",
            labels=["tier", "channel"])
        for t, channel, n in db.session.execute(
            select(Conversation.disposition, Conversation.channel, func.count())
            .where(Conversation.disposition.is_not(None)).group_by(Conversation.disposition, Conversation.channel)
        ):
            dispositions.add_metric([t, channel], n)
        yield dispositions

        backlog = GaugeMetricFamily("helpline_outbox_backlog",
                                    "Texts not yet handed to Twilio, by status (pending, sending, unknown).",
                                    labels=["status"])
        waiting = GaugeMetricFamily("helpline_outbox_oldest_pending_seconds",
                                    "How long the oldest text not yet handed to Twilio has waited.")
        oldest_text = None
        for status, n, first in db.session.execute(
            select(Outbox.status, func.count(), func.min(Outbox.created_at))
            .where(Outbox.status.in_(OUTBOX_WAITING)).group_by(Outbox.status)
        ):
            backlog.add_metric([status], n)
            oldest_text = first if oldest_text is None else min(oldest_text, first)
        waiting.add_metric([], max((now - _naive(oldest_text)).total_seconds(), 0.0) if oldest_text else 0.0)
        yield backlog
        yield waiting

        active = GaugeMetricFamily("helpline_conversations_active", "Calls and text conversations in progress, by channel.",
                                   labels=["channel"])
        for channel, n in db.session.execute(
            select(Conversation.channel, func.count()).where(Conversation.status == "active").group_by(Conversation.channel)
        ):
            active.add_metric([channel], n)
        yield active


def _naive(value: datetime) -> datetime:
    return value.replace(tzinfo=None) if value.tzinfo else value


def registry(app: Flask, now: datetime) -> CollectorRegistry:
    """This scrape's registry: the process figures (or every worker's) plus the database's."""
    reg = CollectorRegistry(auto_describe=False)
    if app.config.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(reg, path=app.config["PROMETHEUS_MULTIPROC_DIR"])
    else:
        for metric in PROCESS_METRICS:
            reg.register(metric)
    reg.register(DatabaseCollector(now))
    return reg


def _authorised(token: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@bp.get("/metrics")
def metrics():
    """Prometheus text format; 404 unless METRICS_TOKEN is set, 401 without the bearer token."""
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        abort(404)
    if not _authorised(token):
        return Response("bearer token required\n", status=401, mimetype="text/plain",
                        headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    now = current_app.extensions["helpline"].now()
    return Response(generate_latest(registry(current_app._get_current_object(), now)), mimetype=CONTENT_TYPE_LATEST)


_children: dict[tuple[int, str, str], Any] = {}


def _child(metric, first: str, second: str):
    """metric.labels(first, second), kept: prometheus-client builds the label key on every call."""
    key = (id(metric), first, second)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(first, second)
    return child


def observe(route: str, method: str, status: int, started: float | None) -> None:
    """Count a response by route and status, and time it from `started` (perf_counter)."""
    if started is not None:
        _child(REQUEST_LATENCY, route, method).observe(time.perf_counter() - started)
    _child(RESPONSES, route, str(status)).inc()


def init_app(app: Flask) -> None:
    """Time every request and count its outcome; serve /metrics."""
    # On the app's own logger ("helpline"): the help line's modules and Flask's unhandled-error
    # report both log there, and Alembic's logging setup (which resets the root) leaves it alone.
    app_logger = logging.getLogger(app.import_name.split(".")[0])
    if not any(isinstance(h, ErrorCounter) for h in app_logger.handlers):
        app_logger.addHandler(ErrorCounter())

    @app.after_request
    def _observe(response):
        req = request._get_current_object()  # past the proxy once
        route = req.endpoint or "unmatched"
        if route != "metrics.metrics":
            # The start time is set by the request log (observability.logs).
            observe(route, req.method, response.status_code, g.get("request_started"))
        return response

    app.register_blueprint(bp)
