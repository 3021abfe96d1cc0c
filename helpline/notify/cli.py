"""`flask --app helpline worker`: send the outbox, alert on overdue callbacks, close idle conversations."""
from __future__ import annotations

import logging
import signal
import sys
import threading
import time

import click
from flask import current_app

from ..db import db
from .settings import current
from .twilio_sender import TwilioSender
from .worker import Tally, Worker

log = logging.getLogger(__name__)


def _sweep(hl) -> int:
    from ..conversations import sweep_idle

    try:
        return sweep_idle(hl, hl.now())
    except Exception:  # noqa: BLE001 - the sweep failing must not stop texts going out
        db.session.rollback()
        log.exception("sweep of idle conversations failed")
        return 0


def _summary(tally: Tally) -> str:
    return (f"sent {tally.sent}, retry later {tally.retried}, failed {tally.failed}, "
            f"cancelled (opted out) {tally.cancelled}, expired {tally.expired}, in doubt {tally.unknown}, "
            f"found at Twilio {tally.found}, to resend {tally.resent}, SLA alerts {tally.sla_alerts}")


@click.command("worker")
@click.option("--once", is_flag=True, help="Send everything due now, sweep once, and exit.")
def worker_command(once: bool) -> None:
    """Send queued texts through Twilio; alert staff on overdue callbacks; close idle conversations."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    hl = app.extensions["helpline"]
    settings = current()
    try:
        sender = TwilioSender.from_config(app.config)
    except ValueError as exc:
        click.echo(f"worker cannot start: {exc}", err=True)
        sys.exit(2)
    worker = Worker(hl, sender, settings)
    if once:
        tally = worker.drain()
        swept = _sweep(hl)
        click.echo(f"{_summary(tally)}; closed {swept} idle conversation(s)")
        sys.exit(1 if tally.errors else 0)

    stop = threading.Event()

    def _stop(signum, _frame):  # finish the text in hand, then leave
        log.info("worker %s: signal %s, stopping", worker.name, signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("worker %s started: polling every %ss", worker.name, settings.poll_seconds)
    next_sweep = 0.0
    while not stop.is_set():
        if time.monotonic() >= next_sweep:
            _sweep(hl)
            next_sweep = time.monotonic() + settings.sweep_seconds
        tally = worker.run_once()
        if tally.busy or tally.sla_alerts:
            log.info("worker %s: %s", worker.name, _summary(tally))
        db.session.remove()
        if not tally.busy:
            stop.wait(settings.poll_seconds)
    log.info("worker %s stopped", worker.name)

