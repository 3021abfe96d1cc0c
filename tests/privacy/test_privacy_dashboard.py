"""The admins' export button on the audit trail page, and the privacy notice page."""
from __future__ import annotations

import io
import json
import zipfile

import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from flask import g
from flask.testing import FlaskClient
from sqlalchemy import select

from helpline.db import db
from helpline.privacy.models import DataProtectionEvent
from helpline.staff import auth
from helpline.staff.auth import create_staff
from helpline.staff.models import AuditEvent
from support import Texter

PASSWORD = "correct horse battery staple"
NUMBER = "+447911123456"
HTTPS = "https://localhost"


class Browser(FlaskClient):
    """One signed-in browser; the test's open app context must not carry another user's login in g."""

    def open(self, *args, **kwargs):
        g.pop("_login_user", None)
        g.pop("csrf_token", None)
        kwargs.setdefault("base_url", HTTPS)
        return super().open(*args, **kwargs)


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    monkeypatch.setattr(auth, "hasher", PasswordHasher.from_parameters(CHEAPEST))
    monkeypatch.setattr(auth, "_dummy_hash", None)


def signed_in(app, role: str) -> tuple[Browser, object]:
    staff = create_staff(f"{role}@helpline.example.org", f"{role.title()} One", role, PASSWORD, None,
                         app.extensions["helpline"].now())
    browser = Browser(app, app.response_class, use_cookies=True)
    response = browser.post("/staff/login", data={"email": staff.email, "password": PASSWORD})
    assert response.status_code == 302, response.data
    return browser, staff


def test_the_audit_page_offers_admins_an_export_for_the_number_searched(app):
    browser, _ = signed_in(app, "admin")
    page = browser.get("/staff/audit", query_string={"phone": "07911 123456"}).get_data(as_text=True)
    assert 'id="subject-export"' in page and 'name="phone" value="07911 123456"' in page
    assert 'id="subject-export"' not in browser.get("/staff/audit").get_data(as_text=True)  # no number, no button


def test_an_admin_downloads_a_zip_of_json_and_html_and_it_is_audited(app, twilio):
    Texter(twilio).send("Hi, my back hurts")
    browser, admin = signed_in(app, "admin")
    response = browser.post("/staff/privacy/export", data={"phone": "07911 123456"})
    assert response.status_code == 200, response.data
    assert response.mimetype == "application/zip"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"] == 'attachment; filename="subject-20261118T100000-456.zip"'
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert sorted(archive.namelist()) == ["subject-20261118T100000-456.html", "subject-20261118T100000-456.json"]
    doc = json.loads(archive.read("subject-20261118T100000-456.json"))
    assert doc["subject"] == NUMBER and doc["generated_by"] == admin.email
    assert doc["conversations"][0]["transcript"][0]["text_received"] == "Hi, my back hurts"
    assert b"Information held about +447911123456" in archive.read("subject-20261118T100000-456.html")

    trail = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "subject_export")).one()
    assert trail.staff_id == admin.id and trail.phone == NUMBER
    assert db.session.scalars(select(DataProtectionEvent)).one().actor == admin.email


@pytest.mark.parametrize("role", ["supervisor", "clinician", "call_handler"])
def test_no_one_else_may_export(app, role):
    browser, _ = signed_in(app, role)
    assert browser.post("/staff/privacy/export", data={"phone": NUMBER}).status_code == 403
    assert db.session.scalars(select(DataProtectionEvent)).all() == []


def test_signed_out_goes_to_sign_in(app):
    response = Browser(app, app.response_class).post("/staff/privacy/export", data={"phone": NUMBER})
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]


def test_a_bad_number_goes_back_with_a_message(app):
    browser, _ = signed_in(app, "admin")
    response = browser.post("/staff/privacy/export", data={"phone": "12"}, follow_redirects=True)
    assert response.status_code == 200
    assert "not a valid phone number" in response.get_data(as_text=True)
    assert db.session.scalars(select(DataProtectionEvent)).all() == []


def test_the_export_needs_the_forms_csrf_token(app):
    browser, _ = signed_in(app, "admin")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = browser.post("/staff/privacy/export", data={"phone": NUMBER})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 400
    assert db.session.scalars(select(DataProtectionEvent)).all() == []


def test_the_privacy_notice_page_gives_the_retention_periods(client):
    page = client.get("/privacy").get_data(as_text=True)
    assert "not for emergencies" in page and "call 999" in page
    assert "What you said and typed: 90 days" in page and "After 365 days your" in page
