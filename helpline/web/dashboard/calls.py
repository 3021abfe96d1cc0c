"""Twilio's webhooks for a callback call: the TwiML that dials the patient, and how each leg went.

Signed like every other webhook; no staff sign-in or CSRF here (Twilio is the caller).
"""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, request, url_for
from twilio.twiml.voice_response import VoiceResponse

from ... import staff as staff_pkg
from ...db import db
from ...staff import calls
from ..signature import twilio_signed
from ..twiml import LANGUAGE, xml

bp = Blueprint("dashboard_calls", __name__, url_prefix="/staff/calls")
log = logging.getLogger(__name__)

NOT_NEEDED = "This callback is no longer waiting for a call. Goodbye."
CONNECTING = "Connecting you to the patient. The help line's number will show on their phone."


def _now():
    return current_app.extensions["helpline"].now()


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


@bp.post("/<int:attempt_id>/connect")
@twilio_signed
def connect(attempt_id: int):
    """The staff member answered: dial the patient with the help line's number as caller ID."""
    voice = current_app.config["VOICE_NAME"]
    response = VoiceResponse()
    try:
        number = calls.patient_number(attempt_id)
    except Exception:
        log.exception("callback connect failed")
        db.session.rollback()
        number = None
    if number is None:
        response.say(NOT_NEEDED, voice=voice, language=LANGUAGE)
        response.hangup()
        return xml(response)
    response.say(CONNECTING, voice=voice, language=LANGUAGE)
    dial = response.dial(caller_id=current_app.config["HELPLINE_NUMBER"], action=url_for("dashboard_calls.dialled",
                         attempt_id=attempt_id), method="POST", timeout=30)
    dial.number(number)
    return xml(response)


@bp.post("/<int:attempt_id>/dialled")
@twilio_signed
def dialled(attempt_id: int):
    """The Dial action: the patient's line answered, was busy, did not answer or failed."""
    form = request.form
    calls.record_dial_result(staff_pkg.settings(), attempt_id, form.get("DialCallStatus", ""),
                             _int(form.get("DialCallDuration")), _now())
    response = VoiceResponse()
    response.hangup()
    return xml(response)


@bp.post("/<int:attempt_id>/status")
@twilio_signed
def staff_leg(attempt_id: int):
    """Status callback for the staff member's own phone."""
    calls.record_staff_leg(attempt_id, request.form.get("CallStatus", ""), _now())
    return xml(VoiceResponse())
