"""The dashboard's forms: every POST carries a CSRF token (Flask-WTF)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ...staff.queue import ATTEMPT_RESULTS, MANUAL_RESULTS, MAX_NOTE, OUTCOMES


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class ActionForm(FlaskForm):
    """A button: claim, release, call back. Nothing but the CSRF token."""


class ReassignForm(FlaskForm):
    staff_id = SelectField("Give to", coerce=int, validators=[DataRequired()])


class MoveForm(FlaskForm):
    queue = SelectField("Move to queue", validators=[DataRequired()])


class AttemptForm(FlaskForm):
    result = SelectField("What happened", choices=[SelectChoice(r, ATTEMPT_RESULTS[r]) for r in MANUAL_RESULTS],
                         validators=[DataRequired()])
    duration_minutes = IntegerField("Minutes on the call", validators=[Optional(), NumberRange(0, 360)])


class OutcomeForm(FlaskForm):
    outcome = SelectField("Outcome", choices=[SelectChoice(k, label) for k, (label, _closes) in OUTCOMES.items()],
                          validators=[DataRequired()])
    note = TextAreaField("Note (optional)", validators=[Optional(), Length(max=MAX_NOTE)])


class NoteForm(FlaskForm):
    body = TextAreaField("Note", validators=[DataRequired(), Length(max=MAX_NOTE)])


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search: it changes nothing

    staff_id = SelectField("Member of staff", coerce=int, validators=[Optional()])
    phone = StringField("Patient's phone", validators=[Optional(), Length(max=32)])
