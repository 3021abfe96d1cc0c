"""Fixtures for the simulator tests: the help line as a developer runs it (simulator open)."""
from __future__ import annotations

import pytest

from helpline import create_app


# The suite's settings that a second app must share: the same database, token, address and clock.
SHARED = ("DATABASE_URL", "TWILIO_AUTH_TOKEN", "TWILIO_ACCOUNT_SID", "PUBLIC_BASE_URL", "SECRET_KEY", "CLOCK")


def make_app(suite_app, **overrides):
    """A second app on the test database (tables come from the `app` fixture's migrations)."""
    config = {key: suite_app.config[key] for key in SHARED}
    config.update({"TESTING": True, "INSECURE_SKIP_SIGNATURES": False, "WTF_CSRF_ENABLED": False})
    config.update(overrides)
    return create_app(config)


@pytest.fixture(scope="session")
def _dev_app(_app):
    return make_app(_app, SIMULATOR_OPEN=True)


@pytest.fixture
def dev_app(app, _dev_app):
    """The simulator open to all, as in development; `app` empties the tables after each test."""
    return _dev_app


@pytest.fixture
def dev_client(dev_app):
    return dev_app.test_client()


@pytest.fixture
def new_app(app):
    """Build another app on the test database with its own settings."""

    def build(**overrides):
        return make_app(app, **overrides)

    return build


# A small flow for table tests of the map and the coverage report.
SMALL = {
    "spec_version": 1, "flow": "small", "version": "1", "start": "menu", "on_step_limit": "route",
    "nodes": {
        "menu": {"type": "menu", "text": "Press 1 or 2", "options": [
            {"key": "1", "label": "pain", "next": "q_d2"},
            {"key": "2", "label": "advice", "next": "advice"}]},
        "q_d2": {"type": "question", "tier": "D2", "text": "Numb?", "next": "q_d4",
                 "yes": {"rule": "numb", "disposition": "D2", "goto": "end_d2", "source": "s"}},
        "q_d4": {"type": "question", "tier": "D4", "text": "One leg?", "next": "route",
                 "yes": {"rule": "leg", "disposition": "D4", "source": "s"}},
        "route": {"type": "route", "routes": {"D1": "end_d2", "D2": "end_d2", "D3": "end_d4", "D4": "end_d4",
                                              "D5": "end_d6", "D6": "end_d6"}},
        "end_d2": {"type": "end", "disposition": "D2", "emergency": True, "text": "A&E"},
        "end_d4": {"type": "end", "disposition": "D4", "text": "Callback"},
        "end_d6": {"type": "end", "disposition": "D6", "text": "Self-care"},
        "advice": {"type": "end", "text": "Tips"},
    },
}
