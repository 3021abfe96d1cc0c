"""Voice webhooks: the call, its Gather actions, status callbacks and the fallback.

The call and its Gather actions are answered by `answer_call`, its status callbacks by
`answer_status`, from Flask's views here or, for nearly every request, in front of Flask
(helpline.web.webhooks).
"""
from __future__ import annotations

import functools
import logging
from typing import Any, Callable

from flask import Blueprint, current_app, request
from werkzeug.exceptions import HTTPException

from .. import conversations
from ..db import db
from ..service import Helpline
from .signature import twilio_signed
from .twiml import empty, safe_voice, voice_xml, xml

bp = Blueprint("voice", __name__)
log = logging.getLogger(__name__)

CALL_PATH = "/voice"
GATHER_PATH = "/voice/gather"
STATUS_PATH = "/voice/status"


def _helpline() -> Helpline:
    return current_app.extensions["helpline"]


def safe_voice_answer(voice_name: str) -> str:
    """After any failure: what the caller hears instead of Twilio's "application error"."""
    log.exception("voice handler failed; answering with safe TwiML")
    try:
        db.session.rollback()
    except Exception:  # the database may be the thing that failed
        log.exception("rollback failed")
    return str(safe_voice(voice_name))


def never_application_error(view: Callable) -> Callable:
    """Whatever fails inside a voice handler, the caller hears safe words, not Twilio's error."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except HTTPException:
            raise
        except Exception:
            return xml(safe_voice_answer(current_app.config["VOICE_NAME"]))

    return wrapped


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def parse_step(value: str | None) -> int:
    """The Gather's ?step=: which turn of the call this answers (0 when missing or garbled)."""
    try:
        return max(int(value or "0"), 0)
    except ValueError:
        return 0


@bp.post(CALL_PATH)
@twilio_signed
@never_application_error
def incoming_call():
    """Answer a call: the 999 warning first, then the main menu."""
    return xml(answer_call(_helpline(), request.form, 0, request.script_root))


@bp.post(GATHER_PATH)
@twilio_signed
@never_application_error
def gather():
    """Take a key press, words or silence from a Gather."""
    return xml(answer_call(_helpline(), request.form, parse_step(request.args.get("step")), request.script_root))


def answer_call(hl: Helpline, form: Any, step: int, script_root: str) -> str:
    """One turn of a call, as TwiML: the form Twilio posted, the turn's step, the app's URL prefix."""
    req = conversations.VoiceRequest(
        call_sid=form.get("CallSid", ""), caller=form.get("From"), step=step,
        digits=form.get("Digits") or None, speech=form.get("SpeechResult") or None,
        confidence=_float(form.get("Confidence")),
    )
    if not req.call_sid:
        raise ValueError("a voice webhook without CallSid")
    reply = conversations.voice_turn(hl, req, hl.now())
    step_next = (reply.get("ask") or {}).get("step", step + 1)
    # What url_for("voice.gather", step=...) builds, without a URL map lookup on every turn.
    action = f"{script_root}{GATHER_PATH}?step={int(step_next)}"
    return voice_xml(reply, action, hl.voice_name)


@bp.post(STATUS_PATH)
@twilio_signed
def status():
    """Status callback: mark the call completed or abandoned; escalate a red flag left mid-flow."""
    return xml(answer_status(_helpline(), request.form))


def answer_status(hl: Helpline, form: Any) -> str:
    """A call's status callback, as (empty) TwiML. Nobody is on the line to hear anything: a
    failure goes back to Twilio as an error, which its console shows."""
    call_sid, call_status = form.get("CallSid", ""), form.get("CallStatus", "")
    if call_sid and call_status:
        conversations.call_status(hl, call_sid, call_status, hl.now())
    return str(empty())


@bp.route("/voice/fallback", methods=["GET", "POST"])
def fallback():
    """Twilio's fallback URL: safe words without touching the database, signed or not."""
    return xml(safe_voice(current_app.config["VOICE_NAME"]))
