"""`flask --app helpline staff ...`: create accounts, list them, unlock a locked one."""
from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from ..db import db
from .auth import AccountError, create_staff, unlock
from .models import Staff
from .settings import ROLES

staff_cli = AppGroup("staff", help="Staff accounts for the callback dashboard.")


def _now():
    return current_app.extensions["helpline"].now()


@staff_cli.command("create")
@click.option("--email", required=True, help="Sign-in name.")
@click.option("--name", required=True, help="Shown to colleagues on the queue.")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--phone", default=None, help="The staff member's own phone: the dialler rings it first.")
@click.password_option(help="At least 12 characters; asked for when not given.")
def create(email: str, name: str, role: str, phone: str | None, password: str) -> None:
    """Make a staff account."""
    try:
        staff = create_staff(email, name, role, password, phone, _now())
    except AccountError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"created {staff.email} ({staff.role})")


@staff_cli.command("list")
def list_staff() -> None:
    """Show every account, its role and whether it is locked."""
    for staff in db.session.scalars(select(Staff).order_by(Staff.email)):
        state = "locked" if staff.locked else ("inactive" if not staff.active else "active")
        click.echo(f"{staff.email}\t{staff.name}\t{staff.role}\t{staff.phone or '-'}\t{state}")


@staff_cli.command("unlock")
@click.argument("email")
def unlock_cmd(email: str) -> None:
    """Let an account locked by failed sign-ins sign in again."""
    try:
        staff = unlock(email, _now())
    except AccountError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"unlocked {staff.email}")


def register(app: Flask) -> None:
    app.cli.add_command(staff_cli)
