"""Signing in: argon2 hashes, throttled and locked failures, sessions, CSRF and security headers."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from helpline.db import db
from helpline.staff.auth import AccountError, LoginRefused, authenticate, create_staff, unlock
from helpline.staff.auth import hasher as PRODUCTION_HASHER  # imported before the tests swap in a cheap one
from helpline.staff.models import AuditEvent
from staffkit import *  # noqa: F401,F403  (fixtures and helpers)


def test_the_production_hasher_is_argon2id_with_rfc_9106_low_memory_parameters():
    encoded = PRODUCTION_HASHER.hash("a long enough password")
    assert encoded.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PRODUCTION_HASHER.verify(encoded, "a long enough password")


def test_passwords_are_stored_hashed(make_staff):
    staff = make_staff()
    assert staff.password_hash.startswith("$argon2id$")
    assert PASSWORD not in staff.password_hash


@pytest.mark.parametrize("email,role,password,phone,message", [
    ("a@b.org", "clinician", "short", None, "at least 12"),
    ("a@b.org", "janitor", PASSWORD, None, "role must be"),
    ("not-an-email", "clinician", PASSWORD, None, "@"),
    ("a@b.org", "clinician", PASSWORD, "12345", "not a valid phone"),
])
def test_accounts_that_cannot_be_made(app, now, email, role, password, phone, message):
    with pytest.raises(AccountError, match=message):
        create_staff(email, "A", role, password, phone, now)


def test_one_account_per_email_whatever_its_case(make_staff, now):
    make_staff(email="Sam@Example.org")
    with pytest.raises(AccountError, match="already has an account"):
        create_staff("sam@example.org", "Sam", "clinician", PASSWORD, None, now)


def test_phone_numbers_are_stored_in_e164(make_staff):
    assert make_staff(phone="07911 123456").phone == "+447911123456"


def test_a_good_password_signs_in_and_clears_failures(make_staff, now):
    staff = make_staff()
    with pytest.raises(LoginRefused):
        authenticate(staff.email, "wrong password", now)
    signed_in = authenticate(staff.email.upper(), PASSWORD, now)
    assert signed_in.id == staff.id
    assert (signed_in.failed_logins, signed_in.last_login_at) == (0, now)


def test_repeated_failures_make_the_account_wait_then_lock(app, make_staff, now):
    staff = make_staff()
    for _ in range(3):
        with pytest.raises(LoginRefused, match="Wrong email or password"):
            authenticate(staff.email, "guess", now)
    # The fourth try comes too soon: refused without even checking the (right) password.
    with pytest.raises(LoginRefused, match="Try again in 31 seconds"):
        authenticate(staff.email, PASSWORD, now)
    moment = later(app, 0.6)
    assert authenticate(staff.email, PASSWORD, moment).id == staff.id

    for n in range(10):
        try:
            authenticate(staff.email, "guess", moment)
        except LoginRefused as refused:
            last = str(refused)
        moment = later(app, 20)  # wait out each back-off
    assert "locked" in last
    db.session.refresh(staff)
    assert staff.locked and staff.failed_logins == 10
    with pytest.raises(LoginRefused, match="locked"):
        authenticate(staff.email, PASSWORD, later(app, 600))

    unlock(staff.email, moment)
    assert authenticate(staff.email, PASSWORD, moment).id == staff.id


def test_an_unknown_email_fails_like_a_wrong_password(app, now):
    with pytest.raises(LoginRefused, match="^Wrong email or password.$"):
        authenticate("nobody@example.org", PASSWORD, now)
    event = db.session.scalar(select(AuditEvent))
    assert (event.action, event.staff_id, event.detail["email"]) == ("login_failed", None, "nobody@example.org")


def test_every_page_but_sign_in_needs_a_signed_in_user(client, make_staff, make_item):
    item = make_item()
    for path in ("/staff/", f"/staff/cases/{item.id}", "/staff/supervisor", "/staff/audit",
                 "/staff/supervisor/time-to-callback.svg"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/staff/login?next="), path
    assert client.get("/staff/queue/rows").status_code == 401  # the polling script reloads on this
    assert client.post(f"/staff/cases/{item.id}/claim").status_code == 302
    assert db.session.get(type(item), item.id).claimed_by_id is None
    assert client.get("/staff/login").status_code == 200


def test_signing_in_through_the_page(app, client, make_staff):
    staff = make_staff()
    bad = client.post("/staff/login", data={"email": staff.email, "password": "nope"})
    assert bad.status_code == 401 and b"Wrong email or password" in bad.data
    good = client.post("/staff/login?next=/staff/supervisor", data={"email": staff.email, "password": PASSWORD},
                       base_url="https://localhost")
    assert good.status_code == 302 and good.headers["Location"] == "/staff/supervisor"
    cookie = good.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert app.permanent_session_lifetime == timedelta(hours=8)
    assert client.get("/staff/").status_code == 200
    assert client.post("/staff/logout").status_code == 302
    assert client.get("/staff/").status_code == 302
    actions = [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions == ["staff_created", "login_failed", "login", "logout"]


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/elsewhere", "javascript:alert(1)"])
def test_sign_in_never_redirects_off_the_dashboard(client, make_staff, target):
    staff = make_staff()
    response = client.post(f"/staff/login?next={target}", data={"email": staff.email, "password": PASSWORD})
    assert response.headers["Location"] == "/staff/"


def test_unlocking_or_changing_the_account_ends_its_sessions(app, login, make_staff, now):
    staff = make_staff()
    browser = login(staff)
    assert browser.get("/staff/").status_code == 200
    unlock(staff.email, now)  # bumps the session version
    assert browser.get("/staff/").status_code == 302


def test_a_deactivated_account_is_signed_out(app, login, make_staff):
    staff = make_staff()
    browser = login(staff)
    staff.active = False
    db.session.commit()
    assert browser.get("/staff/").status_code == 302


@pytest.fixture
def csrf_on(app):
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


def _token(html: bytes) -> str:
    marker = b'name="csrf_token" type="hidden" value="'
    start = html.index(marker) + len(marker)
    return html[start:html.index(b'"', start)].decode()


def test_every_form_needs_its_csrf_token(app, client, make_staff, make_item, csrf_on):
    staff = make_staff()
    item = make_item()
    assert client.post("/staff/login", data={"email": staff.email, "password": PASSWORD}).status_code == 400
    token = _token(client.get("/staff/login").data)
    assert client.post("/staff/login", data={"email": staff.email, "password": PASSWORD,
                                             "csrf_token": token}).status_code == 302
    refused = client.post(f"/staff/cases/{item.id}/claim")
    assert refused.status_code == 400 and b"form expired" in refused.data
    assert db.session.get(type(item), item.id).claimed_by_id is None
    token = _token(client.get("/staff/").data)
    assert client.post(f"/staff/cases/{item.id}/claim", data={"csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert db.session.get(type(item), item.id).claimed_by_id == staff.id


def test_twilio_webhooks_are_not_asked_for_a_csrf_token(twilio, csrf_on):
    from support import Texter

    assert "999" in Texter(twilio).send("hello")


def test_dashboard_pages_carry_security_headers(login, make_staff):
    browser = login(make_staff(role="supervisor"))
    for path in ("/staff/login", "/staff/", "/staff/supervisor"):
        headers = browser.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Cache-Control"] == "no-store"
        assert headers["Referrer-Policy"] == "no-referrer"


def test_pages_have_no_inline_script(login, make_staff, make_item):
    browser = login(make_staff(role="supervisor"))
    item = make_item()
    for path in ("/staff/login", "/staff/", f"/staff/cases/{item.id}", "/staff/supervisor"):
        html = browser.get(path).data.decode()
        for chunk in html.split("<script")[1:]:
            tag, _, rest = chunk.partition(">")
            assert "src=" in tag and rest.startswith("</script>"), path
        assert " onclick=" not in html and "javascript:" not in html


def test_roles_see_only_their_pages(login, make_staff):
    assert login(make_staff(role="clinician")).get("/staff/supervisor").status_code == 403
    assert login(make_staff(role="supervisor")).get("/staff/audit").status_code == 403
    assert login(make_staff(role="admin")).get("/staff/audit").status_code == 200


def test_a_signed_in_session_survives_and_webhooks_get_no_cookie(app, login, make_staff, twilio):
    client = login(make_staff())
    assert client.get("/staff/", base_url="https://localhost").status_code == 200  # the cookie still signs in
    response = twilio("/sms", {"MessageSid": "SM" + "3" * 32, "From": "+447911123456", "Body": "hello"})
    assert response.status_code == 200 and "Set-Cookie" not in response.headers


def test_signing_in_sets_no_remember_me_cookie(client, make_staff):
    """A staff session ends with the browser (and after 8 hours): no long-lived remember-me cookie."""
    staff = make_staff()
    response = client.post("/staff/login", data={"email": staff.email, "password": PASSWORD},
                           base_url="https://localhost")
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    assert cookies and not [c for c in cookies if c.startswith("remember_token=")]

def test_a_webhooks_answer_does_not_depend_on_cookies(app):
    response = app.test_client().post("/voice/fallback")
    assert response.status_code == 200
    assert "Cookie" not in response.headers.get("Vary", "")
    assert "Set-Cookie" not in response.headers
