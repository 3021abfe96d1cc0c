"""Fixtures for the outbound tests: settings with on-call numbers, a fake adapter, a worker."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from helpline.notify.settings import current
from helpline.notify.worker import Worker

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_twilio import FakeSender  # noqa: E402

ON_CALL = ("+447911000001", "+447911000002")
PATIENT = "+447911123456"

NOTIFY_CONFIG = {
    "STAFF_ALERT_NUMBERS": ",".join(ON_CALL),
    "OUTBOX_MAX_ATTEMPTS": 3,
    "OUTBOX_RETRY_BASE_SECONDS": 30,
    "OUTBOX_RETRY_MAX_SECONDS": 600,
    "OUTBOX_STALE_SECONDS": 120,
    "OUTBOX_CHECK_DELAY_SECONDS": 30,
}


@pytest.fixture
def notify_config(app):
    """On-call numbers and short retry settings for every outbound test, put back afterwards."""
    saved = {key: app.config.get(key) for key in NOTIFY_CONFIG}
    app.config.update(NOTIFY_CONFIG)
    app.extensions.pop("notify", None)
    yield app.config
    app.config.update(saved)
    app.extensions.pop("notify", None)


@pytest.fixture
def hl(app, notify_config):
    return app.extensions["helpline"]


@pytest.fixture
def sender() -> FakeSender:
    return FakeSender()


@pytest.fixture
def worker(app, hl, sender) -> Worker:
    return Worker(hl, sender, current(), name="test-worker", rand=lambda: 0.0)
