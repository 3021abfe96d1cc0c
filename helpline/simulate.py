"""Try the help line without Twilio: Twilio-shaped requests, signed, sent to the real webhooks.

The browser simulator (helpline/web/simulator.py) and `flask flows simulate` both play Twilio:
they build the parameters Twilio would send, sign them with the twilio library's
RequestValidator and send them through the app's own WSGI stack, so the same signature check,
the same use cases and the same TwiML run as for a real call or text. What comes back is the
TwiML, the prompts read out of it and the interaction log rows that step wrote.
"""
from __future__ import annotations

import logging
import secrets
import sys
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Iterable, TextIO
from urllib.parse import urlsplit

import click
from flask import Flask, current_app
from sqlalchemy import and_, func, or_, select
from twilio.request_validator import RequestValidator

from .db import db
from .engine import gsm
from .models import Callback, Conversation, Interaction

log = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
TEST_ACCOUNT = "AC" + "0" * 32
# Ofcom keeps 020 7946 0000 to 0999 for drama: a number that looks real and belongs to nobody.
DRAMA_PREFIX = "+442079460"
WITHHELD = "anonymous"
# The webhooks the simulator may call, by endpoint: never an arbitrary path chosen by a browser.
VOICE_ENDPOINTS = ("voice.incoming_call", "voice.gather")
STATUS_ENDPOINT = "voice.status"
SMS_ENDPOINT = "sms.incoming_text"


class SimulatorError(ValueError):
    """A simulator request that cannot be turned into a webhook call."""


def is_development(app: Flask) -> bool:
    """Development: debug mode, SIMULATOR_OPEN, or webhooks that take unsigned requests anyway."""
    config = app.config
    return bool(app.debug or config.get("SIMULATOR_OPEN") or config.get("INSECURE_SKIP_SIGNATURES"))


def prepare(app: Flask) -> None:
    """Give a development app with no auth token a per-process one, so signed simulator calls pass.

    Only when webhooks would otherwise refuse everything (no token, signatures checked): a
    random token known to this process alone lets the simulator through and nobody else.
    """
    if app.config.get("TWILIO_AUTH_TOKEN") or not is_development(app):
        return
    if not app.config.get("INSECURE_SKIP_SIGNATURES"):
        app.config["TWILIO_AUTH_TOKEN"] = secrets.token_hex(16)
        log.warning("no TWILIO_AUTH_TOKEN: webhooks accept only the simulator's per-process development token")


def signing_token(app: Flask) -> str:
    """The token the simulator signs with: the app's own, or a per-process development one."""
    token = app.config.get("TWILIO_AUTH_TOKEN")
    if token:
        return token
    # Signatures are not checked (INSECURE_SKIP_SIGNATURES) or will be refused: sign all the same.
    return app.extensions.setdefault("simulator_token", secrets.token_hex(16))


def drama_number() -> str:
    """A caller number from Ofcom's drama range, different on each page load."""
    return f"{DRAMA_PREFIX}{secrets.randbelow(1000):03d}"


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


# --- Talking to the webhooks ---------------------------------------------------------

@dataclass
class Sent:
    """One request as Twilio would have sent it, and what came back."""

    method: str
    url: str
    params: dict[str, str]
    signature: str
    status: int
    content_type: str
    body: str


class Twilio:
    """Plays Twilio towards this app: signs each request and sends it through the app's WSGI stack."""

    def __init__(self, app: Flask):
        self.app = app
        self.token = signing_token(app)
        self.base = app.config.get("PUBLIC_BASE_URL") or "http://localhost"

    def path_for(self, endpoint: str) -> str:
        rule = next(r for r in self.app.url_map.iter_rules() if r.endpoint == endpoint)
        return rule.rule

    def post(self, path: str, params: dict[str, str]) -> Sent:
        url = self.base + path
        signature = RequestValidator(self.token).compute_signature(url, params)
        client = self.app.test_client()
        response = client.post(
            path, data=params, base_url=self.base,
            headers={"X-Twilio-Signature": signature, "I-Twilio-Idempotency-Token": secrets.token_hex(16)},
        )
        return Sent("POST", url, dict(params), signature, response.status_code, response.mimetype or "",
                    response.get_data(as_text=True))


# --- Reading TwiML back --------------------------------------------------------------

@dataclass
class Prompt:
    """One verb the caller would hear or meet, in order."""

    verb: str
    text: str
    loop: int = 1
    in_gather: bool = False
    voice: str | None = None
    language: str | None = None


@dataclass
class VoiceTwiml:
    prompts: list[Prompt]
    gather: dict[str, str] | None
    action: str | None
    hangup: bool

    @property
    def ended(self) -> bool:
        """The call is over once the TwiML runs out with nothing waiting for input."""
        return self.action is None


def _local(url: str | None) -> str | None:
    """An action URL as a path on this app (Twilio resolves relative URLs against the request)."""
    if not url:
        return None
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _prompt(el: ET.Element, in_gather: bool) -> Prompt:
    text = (el.text or "").strip()
    if el.tag == "Pause":
        text = f"(pause {el.get('length', '1')} s)"
    elif el.tag not in ("Say", "Play"):
        text = f"({el.tag}{': ' + text if text else ''})"
    return Prompt(verb=el.tag, text=text, loop=int(el.get("loop", "1") or "1"), in_gather=in_gather,
                  voice=el.get("voice"), language=el.get("language"))


def parse_voice(twiml: str) -> VoiceTwiml:
    """Read voice TwiML as Twilio would play it: prompts in order, the Gather, what runs next."""
    root = ET.fromstring(twiml)
    if root.tag != "Response":
        raise SimulatorError(f"voice TwiML must be a <Response>, not <{root.tag}>")
    prompts: list[Prompt] = []
    gather: dict[str, str] | None = None
    action: str | None = None
    hangup = False
    for el in root:
        if el.tag == "Gather":
            gather = dict(el.attrib)
            prompts.extend(_prompt(child, True) for child in el)
            action = _local(el.get("action")) or action
            break  # Twilio posts the Gather's action: nothing after it runs unless the action is missing
        if el.tag == "Hangup":
            hangup = True
            break
        if el.tag == "Redirect":
            action = _local(el.text)
            break
        prompts.append(_prompt(el, False))
    return VoiceTwiml(prompts, gather, action, hangup)


def parse_sms(twiml: str) -> list[str]:
    """The texts a messaging TwiML reply sends back."""
    root = ET.fromstring(twiml)
    if root.tag != "Response":
        raise SimulatorError(f"messaging TwiML must be a <Response>, not <{root.tag}>")
    messages = []
    for el in root.iter("Message"):
        body = el.find("Body")
        messages.append(((body.text if body is not None else el.text) or "").strip())
    return messages


# --- What the help line wrote --------------------------------------------------------

def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return value


def _row(obj: Any) -> dict[str, Any]:
    return {c.key: _jsonable(getattr(obj, c.key)) for c in obj.__table__.columns}


def last_interaction_id() -> int:
    """The newest log row's id; ends the read so the next query sees the webhook's commit."""
    newest = db.session.scalar(select(func.max(Interaction.id))) or 0
    db.session.rollback()
    return newest


def interactions_since(after_id: int, external_ids: Iterable[str]) -> list[dict[str, Any]]:
    """Log rows written after `after_id` for these CallSids/MessageSids and their conversations."""
    ids = [e for e in external_ids if e]
    inbound = db.session.scalars(
        select(Interaction).where(Interaction.id > after_id, Interaction.external_id.in_(ids))
    ).all()
    conv_ids = {r.conversation_id for r in inbound if r.conversation_id is not None}
    conv_ids |= set(db.session.scalars(select(Conversation.id).where(Conversation.call_sid.in_(ids))).all())
    # A keyword reply (STOP, HELP) is logged with no conversation and no sid: match it by its moment.
    moments = {r.created_at for r in inbound if r.conversation_id is None}
    clauses = [Interaction.external_id.in_(ids)]
    if conv_ids:
        clauses.append(Interaction.conversation_id.in_(conv_ids))
    if moments:
        clauses.append(and_(Interaction.conversation_id.is_(None), Interaction.external_id.is_(None),
                            Interaction.created_at.in_(moments)))
    rows = db.session.scalars(
        select(Interaction).where(Interaction.id > after_id, or_(*clauses)).order_by(Interaction.id)
    ).all()
    return [_row(r) for r in rows]


def conversation_summary(conversation_id: int | None = None, call_sid: str | None = None) -> dict[str, Any] | None:
    """The conversation a step belongs to, and any staff callback it put on the queue."""
    if conversation_id is not None:
        conv = db.session.get(Conversation, conversation_id)
    elif call_sid:
        conv = db.session.scalar(select(Conversation).where(Conversation.call_sid == call_sid))
    else:
        conv = None
    if conv is None:
        return None
    summary = {k: v for k, v in _row(conv).items() if k not in ("state",)}
    summary["node"] = (conv.state or {}).get("node")
    summary["callbacks"] = [_row(c) for c in db.session.scalars(
        select(Callback).where(Callback.conversation_id == conv.id).order_by(Callback.id))]
    return summary


def _latest_conversation(rows: list[dict[str, Any]]) -> int | None:
    ids = [r["conversation_id"] for r in rows if r.get("conversation_id") is not None]
    return ids[-1] if ids else None


# --- Voice ---------------------------------------------------------------------------

@dataclass
class VoiceStep:
    """One request of a simulated call: what was sent, the TwiML back, and what it meant."""

    request: Sent
    twiml: VoiceTwiml | None
    log: list[dict[str, Any]]
    conversation: dict[str, Any] | None
    status_callback: Sent | None = None

    @property
    def ended(self) -> bool:
        return self.twiml is None or self.twiml.ended

    def to_dict(self) -> dict[str, Any]:
        return {
            "request": asdict(self.request),
            "status": self.request.status,
            "twiml": self.request.body,
            "prompts": [asdict(p) for p in self.twiml.prompts] if self.twiml else [],
            "gather": self.twiml.gather if self.twiml else None,
            "action": self.twiml.action if self.twiml else None,
            "hangup": self.twiml.hangup if self.twiml else True,
            "ended": self.ended,
            "status_callback": asdict(self.status_callback) if self.status_callback else None,
            "log": self.log,
            "conversation": self.conversation,
        }


def _voice_params(call_sid: str, caller: str | None, to: str, account: str, status: str) -> dict[str, str]:
    number = caller or WITHHELD
    params = {
        "CallSid": call_sid, "AccountSid": account, "From": number, "Caller": number, "To": to, "Called": to,
        "CallStatus": status, "Direction": "inbound", "ApiVersion": API_VERSION, "ToCountry": "GB",
    }
    if caller:
        params["FromCountry"] = "GB"
    return params


def voice_step(app: Flask, call_sid: str, caller: str | None, action: str | None = None, *,
               digits: str | None = None, speech: str | None = None, confidence: float | None = None,
               hang_up: bool = False, duration: int = 0) -> VoiceStep:
    """Send one voice webhook: the call (no action), a Gather's action, or the caller hanging up.

    When the TwiML ends the call, the status callback Twilio would send follows at once.
    """
    twilio = Twilio(app)
    account = app.config.get("TWILIO_ACCOUNT_SID") or TEST_ACCOUNT
    to = app.config.get("HELPLINE_NUMBER", "")
    if not call_sid.startswith("CA"):
        raise SimulatorError("a CallSid starts with CA")
    before = last_interaction_id()
    if hang_up:
        sent = _status_callback(twilio, call_sid, caller, to, account, duration)
        rows = interactions_since(before, [call_sid])
        return VoiceStep(sent, None, rows, conversation_summary(call_sid=call_sid))
    if action is None:
        path = twilio.path_for(VOICE_ENDPOINTS[0])
        params = _voice_params(call_sid, caller, to, account, "ringing")
    else:
        path = _allowed_action(twilio, action)
        params = _voice_params(call_sid, caller, to, account, "in-progress")
        if digits:
            params["Digits"] = digits
        elif speech is not None and speech.strip():
            params["SpeechResult"] = speech.strip()
            params["Confidence"] = f"{0.9 if confidence is None else max(0.0, min(1.0, confidence)):.2f}"
    sent = twilio.post(path, params)
    twiml = parse_voice(sent.body) if sent.status == 200 and sent.content_type == "text/xml" else None
    status_sent = None
    if twiml is None or twiml.ended:
        status_sent = _status_callback(twilio, call_sid, caller, to, account, duration)
    rows = interactions_since(before, [call_sid])
    return VoiceStep(sent, twiml, rows, conversation_summary(call_sid=call_sid), status_sent)


def _allowed_action(twilio: Twilio, action: str) -> str:
    parts = urlsplit(action)
    if parts.netloc and f"{parts.scheme}://{parts.netloc}" != twilio.base:
        raise SimulatorError(f"{action!r} is not a voice webhook of this help line")
    path = _local(action) or ""
    allowed = {twilio.path_for(e) for e in VOICE_ENDPOINTS}
    if urlsplit(path).path not in allowed:
        raise SimulatorError(f"{urlsplit(path).path!r} is not a voice webhook")
    return path


def _status_callback(twilio: Twilio, call_sid: str, caller: str | None, to: str, account: str,
                     duration: int) -> Sent:
    params = _voice_params(call_sid, caller, to, account, "completed")
    params.update({"CallDuration": str(max(int(duration), 0)), "CallbackSource": "call-progress-events",
                   "SequenceNumber": "0"})
    return twilio.post(twilio.path_for(STATUS_ENDPOINT), params)


# --- SMS -----------------------------------------------------------------------------

@dataclass
class SmsStep:
    request: Sent
    messages: list[str]
    log: list[dict[str, Any]]
    conversation: dict[str, Any] | None
    segments: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "request": asdict(self.request),
            "status": self.request.status,
            "twiml": self.request.body,
            "messages": self.messages,
            "segments": self.segments,
            "log": self.log,
            "conversation": self.conversation,
        }


def sms_step(app: Flask, sender: str, body: str) -> SmsStep:
    """Send one incoming text to the SMS webhook, as Twilio would."""
    if len(body) > 1600:
        raise SimulatorError("Twilio delivers at most 1600 characters in one message")
    twilio = Twilio(app)
    message_sid = new_sid("SM")
    encoding, count = gsm.segments(body)
    params = {
        "MessageSid": message_sid, "SmsMessageSid": message_sid, "SmsSid": message_sid,
        "AccountSid": app.config.get("TWILIO_ACCOUNT_SID") or TEST_ACCOUNT,
        "From": sender, "To": app.config.get("HELPLINE_NUMBER", ""), "Body": body,
        "NumMedia": "0", "NumSegments": str(max(count, 1)), "SmsStatus": "received",
        "ApiVersion": API_VERSION, "FromCountry": "GB", "ToCountry": "GB",
    }
    before = last_interaction_id()
    sent = twilio.post(twilio.path_for(SMS_ENDPOINT), params)
    messages = parse_sms(sent.body) if sent.status == 200 and sent.content_type == "text/xml" else []
    rows = interactions_since(before, [message_sid])
    conv_id = _latest_conversation(rows)
    replies = {}
    for text in messages:
        enc, parts = gsm.segments(text)
        replies = {"encoding": enc, "segments": parts, "characters": len(text)}
    return SmsStep(sent, messages, rows, conversation_summary(conversation_id=conv_id),
                   {"in": {"encoding": encoding, "segments": count}, "out": replies})


# --- The terminal simulator ----------------------------------------------------------

VOICE_HELP = """Keys: type digits and Enter (e.g. 1, or 07911123456# for a number).
Words: start the line with ' or "say " (e.g. 'yes I have chest pain). Confidence: "say@0.3 words".
Silence: an empty line. 9 repeats. "hangup" or end of input hangs up. "?" shows this help."""
SMS_HELP = 'Type a text and Enter. An empty line or end of input stops. "?" shows this help.'


def _emit(out: TextIO, text: str = "") -> None:
    click.echo(text, file=out)


def _show_log(out: TextIO, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        what = r.get("digits") or r.get("speech") or r.get("body") or r.get("said") or ""
        _emit(out, f"    log #{r['id']} {r['direction']:<3} {r['kind']:<7} node={r.get('node') or '-'} "
                   f"{what[:70]}")


REFUSED = ("   The webhook refused the signature: set TWILIO_AUTH_TOKEN, or run in development "
           "(FLASK_DEBUG=1, or HELPLINE_INSECURE_SKIP_SIGNATURES=1 as `make run` does).")


def _refused(out: TextIO, sent: Sent) -> None:
    _emit(out, f"!! the webhook answered {sent.status}: {sent.body[:200]}")
    if sent.status == 403:
        _emit(out, REFUSED)


def _show_voice(out: TextIO, step: VoiceStep, show_twiml: bool, show_log: bool) -> None:
    if step.request.status != 200:
        _refused(out, step.request)
    if show_twiml:
        _emit(out, step.request.body)
    for prompt in step.twiml.prompts if step.twiml else []:
        times = " (said twice)" if prompt.loop == 2 else f" (said {prompt.loop} times)" if prompt.loop > 2 else ""
        _emit(out, f"help line: {prompt.text}{times}")
    if show_log:
        _show_log(out, step.log)
    if step.ended:
        conv = step.conversation or {}
        _emit(out, f"-- call ended: disposition {conv.get('disposition') or '-'}, "
                   f"rules {', '.join(conv.get('rules_fired') or []) or '-'}")


def _read(inp: TextIO, out: TextIO, prompt: str) -> str | None:
    click.echo(prompt, nl=False, file=out)
    line = inp.readline()
    if not line:
        _emit(out)
        return None
    return line.rstrip("\r\n")


def run_voice(app: Flask, caller: str | None, inp: TextIO, out: TextIO, show_twiml: bool, show_log: bool) -> VoiceStep:
    """A call in the terminal: prompts printed, keys, words and silence read from `inp`."""
    call_sid = new_sid("CA")
    _emit(out, f"Calling {app.config.get('HELPLINE_NUMBER')} from {caller or 'a withheld number'} ({call_sid})")
    _emit(out, VOICE_HELP)
    step = voice_step(app, call_sid, caller)
    _show_voice(out, step, show_twiml, show_log)
    while not step.ended:
        line = _read(inp, out, "you> ")
        if line is None or line.strip().lower() in ("hangup", "hang up", "q", "quit"):
            step = voice_step(app, call_sid, caller, hang_up=True)
            _emit(out, "-- you hung up")
            if show_log:
                _show_log(out, step.log)
            break
        text = line.strip()
        if text == "?":
            _emit(out, VOICE_HELP)
            continue
        action = step.twiml.action if step.twiml else None
        if text.startswith(("'", '"')) or text.lower().startswith("say"):
            words, confidence = _speech(text)
            step = voice_step(app, call_sid, caller, action, speech=words, confidence=confidence)
        elif text:
            step = voice_step(app, call_sid, caller, action, digits=text.rstrip("#") or text)
        else:
            step = voice_step(app, call_sid, caller, action)
        _show_voice(out, step, show_twiml, show_log)
    return step


def _speech(text: str) -> tuple[str, float | None]:
    if text.startswith(("'", '"')):
        return text[1:].strip().strip("'\""), None
    head, _, words = text.partition(" ")
    confidence = None
    if "@" in head:
        try:
            confidence = float(head.split("@", 1)[1])
        except ValueError:
            confidence = None
    return words.strip(), confidence


def run_sms(app: Flask, sender: str, inp: TextIO, out: TextIO, show_twiml: bool, show_log: bool) -> list[SmsStep]:
    """A text conversation in the terminal: each line is a text to the help line."""
    _emit(out, f"Texting {app.config.get('HELPLINE_NUMBER')} from {sender}")
    _emit(out, SMS_HELP)
    steps = []
    while True:
        line = _read(inp, out, "you> ")
        if line is None or not line.strip():
            break
        if line.strip() == "?":
            _emit(out, SMS_HELP)
            continue
        step = sms_step(app, sender, line)
        steps.append(step)
        if step.request.status != 200:
            _refused(out, step.request)
        if show_twiml:
            _emit(out, step.request.body)
        for message in step.messages:
            _emit(out, f"help line: {message}")
        if not step.messages and step.request.status == 200:
            _emit(out, "help line: (no reply)")
        if show_log:
            _show_log(out, step.log)
        conv = step.conversation or {}
        if conv.get("status") == "completed" and conv.get("ended_at"):
            _emit(out, f"-- conversation ended: disposition {conv.get('disposition') or '-'}")
    return steps


@click.command("simulate")
@click.option("--channel", type=click.Choice(["voice", "sms"]), default="voice", show_default=True)
@click.option("--from", "sender", default=None, help="Your number (default: one from Ofcom's drama range).")
@click.option("--withheld", is_flag=True, help="Voice: call with your number withheld.")
@click.option("--twiml", "show_twiml", is_flag=True, help="Print the TwiML of each step.")
@click.option("--log", "show_log", is_flag=True, help="Print the interaction log rows of each step.")
def simulate_command(channel: str, sender: str | None, withheld: bool, show_twiml: bool, show_log: bool) -> None:
    """Call or text the help line in the terminal, through the real signed webhooks."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    inp, out = sys.stdin, sys.stdout
    number = sender or drama_number()
    try:
        if channel == "voice":
            run_voice(app, None if withheld else number, inp, out, show_twiml, show_log)
        else:
            run_sms(app, number, inp, out, show_twiml, show_log)
    except SimulatorError as err:
        click.echo(f"simulator: {err}", err=True)
        sys.exit(1)
