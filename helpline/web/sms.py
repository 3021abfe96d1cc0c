"""SMS (and WhatsApp) webhooks: incoming texts and delivery status callbacks.

An incoming text is answered by `answer_text`, from Flask's view here or, for nearly every
request, in front of Flask (helpline.web.webhooks).
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, request

from .. import conversations
from ..db import db
from ..service import Helpline
from .signature import twilio_signed
from .twiml import empty, sms_reply, sms_xml, xml

bp = Blueprint("sms", __name__)
log = logging.getLogger(__name__)

SMS_PATH = "/sms"
SMS_SORRY = ("Sorry, the back pain help line has a problem. If you are seriously ill or injured call 999. "
             "For advice call NHS 111.")


@bp.post(SMS_PATH)
@twilio_signed
def incoming_text():
    """Answer a text: start or continue the triage, or handle STOP, START and HELP."""
    return xml(answer_text(current_app.extensions["helpline"], request.form,
                           request.headers.get("I-Twilio-Idempotency-Token")))


def answer_text(hl: Helpline, form: Any, idempotency_token: str | None) -> str:
    """One incoming text, answered as TwiML; whatever fails, the texter gets a safe text."""
    req = conversations.SmsRequest(
        message_sid=form.get("MessageSid") or form.get("SmsMessageSid") or None,
        caller=form.get("From"), body=form.get("Body", ""), opt_out_type=form.get("OptOutType") or None,
        idempotency_token=idempotency_token or None,
    )
    try:
        reply = conversations.sms_turn(hl, req, hl.now())
    except Exception:
        log.exception("sms handler failed; answering with a safe text")
        db.session.rollback()
        return str(sms_reply({"say": [{"text": SMS_SORRY}]}))
    return sms_xml(reply)


@bp.post("/sms/status")
@twilio_signed
def status():
    """Delivery status of a text we sent."""
    form = request.form
    sid, message_status = form.get("MessageSid", ""), form.get("MessageStatus", "")
    if sid and message_status:
        conversations.sms_status(sid, message_status, form.get("ErrorCode") or None, current_app.extensions["helpline"].now())
    return xml(empty())
