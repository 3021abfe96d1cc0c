"""Fixtures for the staff dashboard: accounts, queue items, a fake dialler, a signed-in browser session.

Imported by each test module (`from staffkit import *`) rather than kept in a conftest.py, so
that the suite's own `conftest` module is never shadowed.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from flask import g
from flask.testing import FlaskClient

from helpline.db import db
from helpline.models import Callback
from helpline.staff import auth
from helpline.staff.auth import create_staff
from helpline.staff.dialer import DialerError
from helpline.staff.models import Staff

__all__ = ["PASSWORD", "FakeDialer", "StaffClient", "later", "cheap_hashes", "settings", "now", "make_staff",
           "make_item", "dialer", "client", "login"]

PASSWORD = "correct horse battery staple"
_phones = itertools.count(900100)


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    """argon2's production cost takes about half a second a hash here; one test checks it separately."""
    monkeypatch.setattr(auth, "hasher", PasswordHasher.from_parameters(CHEAPEST))
    monkeypatch.setattr(auth, "_dummy_hash", None)


@pytest.fixture
def settings(app):
    return app.extensions["staff"]


@pytest.fixture
def now(app):
    return app.extensions["helpline"].now()


@pytest.fixture
def make_staff(app) -> Callable[..., Staff]:
    made = itertools.count(1)

    def make(role: str = "clinician", name: str | None = None, phone: str | None = "+447911000001",
             email: str | None = None, password: str = PASSWORD) -> Staff:
        n = next(made)
        staff = create_staff(email or f"{role}{n}@helpline.example.org", name or f"{role.title()} {n}", role,
                             password, phone, app.extensions["helpline"].now())
        return db.session.get(Staff, staff.id)

    return make


@pytest.fixture
def make_item(app) -> Callable[..., Callback]:
    """A callback item as request_callback leaves it (no conversation needed for queue tests)."""

    def make(queue: str = "clinical", priority: int = 4, disposition: str | None = "D4",
             phone: str | None = "auto", due_in: timedelta = timedelta(hours=2), created_ago: timedelta = timedelta(0),
             reasons: list[str] | None = None, channel: str = "voice", status: str = "open", **extra: Any) -> Callback:
        now = app.extensions["helpline"].now()
        if phone == "auto":
            phone = f"+447911{next(_phones):06d}"
        item = Callback(phone=phone, queue=queue, disposition=disposition, priority=priority,
                        reasons=reasons or ["d4_one_leg_nerve_symptoms"], channel=channel, status=status,
                        due_at=now - created_ago + due_in, created_at=now - created_ago, updated_at=now, **extra)
        db.session.add(item)
        db.session.commit()
        return item

    return make


@dataclass
class FakeDialer:
    """Stands in for Twilio's calls.create: keeps every call it was asked to place."""

    calls: list[dict[str, str]] = field(default_factory=list)
    fail_with: str | None = None

    def call(self, *, to: str, caller_id: str, twiml_url: str, status_url: str) -> str:
        if self.fail_with:
            raise DialerError(self.fail_with)
        sid = f"CA{len(self.calls) + 1:032x}"
        self.calls.append({"sid": sid, "to": to, "caller_id": caller_id, "twiml_url": twiml_url,
                           "status_url": status_url})
        return sid


@pytest.fixture
def dialer(app):
    fake = FakeDialer()
    before = app.extensions.get("staff_dialer")
    app.extensions["staff_dialer"] = fake
    yield fake
    app.extensions["staff_dialer"] = before


class StaffClient(FlaskClient):
    """A browser of its own. The tests hold one app context open, and requests reuse it, so g
    would carry the last request's signed-in user (and CSRF token) into the next client's request."""

    def open(self, *args: Any, **kwargs: Any):
        g.pop("_login_user", None)
        g.pop("csrf_token", None)
        return super().open(*args, **kwargs)


@pytest.fixture
def client(app):
    return StaffClient(app, app.response_class, use_cookies=True)


@pytest.fixture
def login(app) -> Callable[..., Any]:
    """A test client signed in as the given member of staff (over https: the cookie is Secure)."""

    def sign_in(staff: Staff, password: str = PASSWORD):
        client = StaffClient(app, app.response_class, use_cookies=True)
        response = client.post("/staff/login", data={"email": staff.email, "password": password},
                               base_url="https://localhost")
        assert response.status_code == 302, response.data
        return client

    return sign_in


def later(app, minutes: float) -> datetime:
    """Move the app's clock on."""
    clock = app.config["CLOCK"]
    clock.now = clock.now + timedelta(minutes=minutes)
    return clock.now
