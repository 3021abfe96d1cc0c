"""Staff working the callback queue: accounts, claims, calling back, outcomes and the audit trail."""
from __future__ import annotations

from flask import Flask, current_app

from .auth import csrf, login_manager
from .dialer import Dialer, TwilioDialer
from .settings import DEFAULT_QUEUES, StaffSettings


def init_app(app: Flask) -> None:
    """Sign-in, CSRF and the queue settings. CSRF is checked by the dashboard's own blueprint,
    so Twilio's webhooks (signed instead) are untouched."""
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid for the session, which ends itself
    app.config.setdefault("STAFF_QUEUES", DEFAULT_QUEUES)
    login_manager.init_app(app)
    # Flask-Login refreshes its remember-me cookie after every request of the app, looking into
    # the session to do so, which also marked every webhook's answer "Vary: Cookie". Staff sign
    # in and out on the dashboard's pages only: the refresh runs after those.
    app.after_request_funcs[None].remove(login_manager._update_remember_cookie)
    app.after_request_funcs.setdefault("dashboard", []).append(login_manager._update_remember_cookie)
    login_manager.login_view = "dashboard.login"
    login_manager.login_message = "Please sign in."
    login_manager.session_protection = "strong"
    csrf.init_app(app)
    app.extensions["staff"] = StaffSettings.from_config(app.config)
    app.extensions.setdefault("staff_dialer", None)


def settings() -> StaffSettings:
    return current_app.extensions["staff"]


def dialer() -> Dialer:
    """The dialler; built from the Twilio credentials on first use (tests put a fake in its place)."""
    existing = current_app.extensions.get("staff_dialer")
    if existing is None:
        existing = TwilioDialer(current_app.config["TWILIO_ACCOUNT_SID"], current_app.config["TWILIO_AUTH_TOKEN"])
        current_app.extensions["staff_dialer"] = existing
    return existing
