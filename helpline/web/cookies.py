"""Flask's signed-cookie sessions, minus the work for requests that have no session at all.

Twilio's webhooks never carry a session cookie, and building the signer for each of them, then
looking up seven cookie settings to decide there was nothing to save, was a measurable part of a
turn (docs/benchmarks.md). Staff requests with a cookie, or that put something in a new session
(sign-in, a form's CSRF token), go through Flask as before.
"""
from __future__ import annotations

from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class CookieSessions(SecureCookieSessionInterface):
    def open_session(self, app, request) -> SecureCookieSession | None:
        # No Cookie header at all (every webhook): no need to parse cookies, which walks every header.
        if app.secret_key and ("HTTP_COOKIE" not in request.environ
                               or not request.cookies.get(self.get_cookie_name(app))):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app, session, response) -> None:
        if not session and not session.modified:  # nothing was, or is, in it: no cookie to set or clear
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)
