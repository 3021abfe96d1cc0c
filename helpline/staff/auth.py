"""Staff sign-in: argon2 password hashes, Flask-Login sessions, CSRF, and throttled failures."""
from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import abort
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import select

from .. import phones
from ..db import db
from . import audit
from .models import Staff
from .settings import ROLES, login_delay

login_manager = LoginManager()
csrf = CSRFProtect()
# argon2id with the RFC 9106 low-memory parameters (argon2-cffi's default).
hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 12

WRONG = "Wrong email or password."
LOCKED = "This account is locked after too many failed sign-ins. Ask an admin to unlock it."


class LoginRefused(Exception):
    """A sign-in that did not succeed; the message is safe to show."""


class AccountError(ValueError):
    """An account that cannot be created as asked."""


_dummy_hash: str | None = None


def _burn_time(password: str) -> None:
    """Verify against a throwaway hash so an unknown email takes as long as a wrong password."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hasher.hash("not a real password, only for timing")
    try:
        hasher.verify(_dummy_hash, password)
    except VerificationError:
        pass


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return hasher.hash(password)


def create_staff(email: str, name: str, role: str, password: str, phone: str | None, now: datetime) -> Staff:
    """Make a staff account; the phone is the one the dialler rings before connecting the patient."""
    email = email.strip().lower()
    if "@" not in email:
        raise AccountError("the email address needs an @")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    number = None
    if phone:
        number = phones.to_e164(phone)
        if number is None:
            raise AccountError(f"{phone!r} is not a valid phone number")
    if db.session.scalar(select(Staff.id).where(Staff.email == email)) is not None:
        raise AccountError(f"{email} already has an account")
    staff = Staff(email=email, name=name.strip(), role=role, phone=number, password_hash=hash_password(password),
                  active=True, failed_logins=0, locked=False, session_version=1, created_at=now)
    db.session.add(staff)
    db.session.flush()
    audit.record("staff_created", None, now, detail={"staff_id": staff.id, "role": role})
    db.session.commit()
    return staff


def authenticate(email: str, password: str, now: datetime) -> Staff:
    """Check a sign-in; slow down and then lock an account after repeated failures. Commits once."""
    email = (email or "").strip().lower()
    staff = db.session.scalars(select(Staff).where(Staff.email == email).with_for_update()).first()
    if staff is None or not staff.active:
        _burn_time(password)
        audit.record("login_failed", staff, now, detail={"email": email[:254], "why": "unknown or inactive"})
        db.session.commit()
        raise LoginRefused(WRONG)
    if staff.locked:
        audit.record("login_refused", staff, now, detail={"why": "locked"})
        db.session.commit()
        raise LoginRefused(LOCKED)
    if staff.locked_until is not None and now < staff.locked_until:
        # No password check while waiting: guesses during the wait cost nothing and teach nothing.
        wait = int((staff.locked_until - now).total_seconds()) + 1
        audit.record("login_refused", staff, now, detail={"why": "waiting", "seconds": wait})
        db.session.commit()
        raise LoginRefused(f"Too many failed sign-ins. Try again in {wait} seconds.")
    try:
        hasher.verify(staff.password_hash, password)
    except (VerificationError, InvalidHashError):
        staff.failed_logins += 1
        delay = login_delay(staff.failed_logins)
        if delay is None:
            staff.locked = True
        elif delay:
            staff.locked_until = now + delay
        audit.record("login_failed", staff, now, detail={"failures": staff.failed_logins, "locked": staff.locked})
        db.session.commit()
        raise LoginRefused(LOCKED if staff.locked else WRONG)
    if hasher.check_needs_rehash(staff.password_hash):
        staff.password_hash = hasher.hash(password)
    staff.failed_logins, staff.locked_until, staff.last_login_at = 0, None, now
    audit.record("login", staff, now)
    db.session.commit()
    return staff


def record_logout(staff: Staff, now: datetime) -> None:
    audit.record("logout", staff, now)
    db.session.commit()


def unlock(email: str, now: datetime) -> Staff:
    """Let a locked account sign in again (an admin's command); its old sessions end."""
    staff = db.session.scalar(select(Staff).where(Staff.email == email.strip().lower()))
    if staff is None:
        raise AccountError(f"no account for {email}")
    staff.locked, staff.failed_logins, staff.locked_until = False, 0, None
    staff.session_version += 1
    audit.record("staff_unlocked", None, now, detail={"staff_id": staff.id})
    db.session.commit()
    return staff


@login_manager.user_loader
def load_staff(session_id: str) -> Staff | None:
    staff_id, _, version = session_id.partition(":")
    if not staff_id.isdigit():
        return None
    staff = db.session.get(Staff, int(staff_id))
    if staff is None or not staff.active or staff.locked or str(staff.session_version) != version:
        return None
    return staff


def role_required(*roles: str) -> Callable:
    """Refuse (403) a signed-in member of staff whose role is not one of `roles`."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated or current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorate
