"""Flask's signed-cookie sessions, minus the signer for requests that carry no session cookie.

Twilio's webhooks never carry one, and building the signer for each of them was a measurable
part of a turn (docs/benchmarks.md). Staff requests with a cookie go through Flask as before.
"""
from __future__ import annotations

from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class CookieSessions(SecureCookieSessionInterface):
    def open_session(self, app, request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)
