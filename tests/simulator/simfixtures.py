"""Fixtures for the simulator tests: the help line as a developer runs it (simulator open)."""
from __future__ import annotations

import pytest

from conftest import BASE, TOKEN
from helpline import create_app


def make_app(database_url: str, clock, **overrides):
    """A second app on the test database (tables come from the `app` fixture's migrations)."""
    config = {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "PUBLIC_BASE_URL": BASE,
        "SECRET_KEY": "test-secret",
        "INSECURE_SKIP_SIGNATURES": False,
        "CLOCK": clock,
        "WTF_CSRF_ENABLED": False,
    }
    config.update(overrides)
    return create_app(config)


@pytest.fixture(scope="session")
def _dev_app(_app, database_url, clock):
    return make_app(database_url, clock, SIMULATOR_OPEN=True)


@pytest.fixture
def dev_app(app, _dev_app):
    """The simulator open to all, as in development; `app` empties the tables after each test."""
    return _dev_app


@pytest.fixture
def dev_client(dev_app):
    return dev_app.test_client()


@pytest.fixture
def new_app(app, database_url, clock):
    """Build another app on the test database with its own settings."""

    def build(**overrides):
        return make_app(database_url, clock, **overrides)

    return build
