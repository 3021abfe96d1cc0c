"""Voice webhooks: the call, its Gather actions, status callbacks and the fallback."""
from __future__ import annotations

import functools
import logging
from typing import Any, Callable

from flask import Blueprint, current_app, request
from werkzeug.exceptions import HTTPException

from .. import conversations
from ..db import db
from .signature import twilio_signed
from .twiml import empty, safe_voice, voice_xml, xml

bp = Blueprint("voice", __name__)
log = logging.getLogger(__name__)


def _helpline():
    return current_app.extensions["helpline"]


def never_application_error(view: Callable) -> Callable:
    """Whatever fails inside a voice handler, the caller hears safe words, not Twilio's error."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except HTTPException:
            raise
        except Exception:
            log.exception("voice handler failed; answering with safe TwiML")
            try:
                db.session.rollback()
            except Exception:  # the database may be the thing that failed
                log.exception("rollback failed")
            return xml(safe_voice(current_app.config["VOICE_NAME"]))

    return wrapped


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def _step() -> int:
    try:
        return max(int(request.args.get("step", "0")), 0)
    except ValueError:
        return 0


@bp.post("/voice")
@twilio_signed
@never_application_error
def incoming_call():
    """Answer a call: the 999 warning first, then the main menu."""
    return _turn(step=0)


GATHER_PATH = "/voice/gather"


@bp.post(GATHER_PATH)
@twilio_signed
@never_application_error
def gather():
    """Take a key press, words or silence from a Gather."""
    return _turn(step=_step())


def _turn(step: int):
    form = request.form
    req = conversations.VoiceRequest(
        call_sid=form.get("CallSid", ""), caller=form.get("From"), step=step,
        digits=form.get("Digits") or None, speech=form.get("SpeechResult") or None,
        confidence=_float(form.get("Confidence")),
    )
    if not req.call_sid:
        raise ValueError("a voice webhook without CallSid")
    hl = _helpline()
    reply = conversations.voice_turn(hl, req, hl.now())
    step_next = (reply.get("ask") or {}).get("step", step + 1)
    # What url_for("voice.gather", step=...) builds, without a URL map lookup on every turn.
    action = f"{request.script_root}{GATHER_PATH}?step={int(step_next)}"
    return xml(voice_xml(reply, action, hl.voice_name))


@bp.post("/voice/status")
@twilio_signed
def status():
    """Status callback: mark the call completed or abandoned; escalate a red flag left mid-flow."""
    form = request.form
    call_sid, call_status = form.get("CallSid", ""), form.get("CallStatus", "")
    if call_sid and call_status:
        hl = _helpline()
        conversations.call_status(hl, call_sid, call_status, hl.now())
    return xml(empty())


@bp.route("/voice/fallback", methods=["GET", "POST"])
def fallback():
    """Twilio's fallback URL: safe words without touching the database, signed or not."""
    return xml(safe_voice(current_app.config["VOICE_NAME"]))
