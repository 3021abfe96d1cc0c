"""SMS (and WhatsApp) webhooks: incoming texts and delivery status callbacks."""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, request

from .. import conversations
from ..db import db
from .signature import twilio_signed
from .twiml import empty, sms_reply, sms_xml, xml

bp = Blueprint("sms", __name__)
log = logging.getLogger(__name__)

SMS_SORRY = ("Sorry, the back pain help line has a problem. If you are seriously ill or injured call 999. "
             "For advice call NHS 111.")


@bp.post("/sms")
@twilio_signed
def incoming_text():
    """Answer a text: start or continue the triage, or handle STOP, START and HELP."""
    form = request.form
    req = conversations.SmsRequest(
        message_sid=form.get("MessageSid") or form.get("SmsMessageSid") or None,
        caller=form.get("From"), body=form.get("Body", ""), opt_out_type=form.get("OptOutType") or None,
        idempotency_token=request.headers.get("I-Twilio-Idempotency-Token") or None,
    )
    try:
        hl = current_app.extensions["helpline"]
        reply = conversations.sms_turn(hl, req, hl.now())
    except Exception:
        log.exception("sms handler failed; answering with a safe text")
        db.session.rollback()
        return xml(sms_reply({"say": [{"text": SMS_SORRY}]}))
    return xml(sms_xml(reply))


@bp.post("/sms/status")
@twilio_signed
def status():
    """Delivery status of a text we sent."""
    form = request.form
    sid, message_status = form.get("MessageSid", ""), form.get("MessageStatus", "")
    if sid and message_status:
        conversations.sms_status(sid, message_status, form.get("ErrorCode") or None, current_app.extensions["helpline"].now())
    return xml(empty())
