"""Drive the help line as Twilio would: a caller on the phone and a person texting."""
from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable
from urllib.parse import urlsplit

from twilio.request_validator import RequestValidator

TOKEN = "test-auth-token-0123456789abcdef"
BASE = "https://helpline.example.org"
# A Wednesday in November, 10:00 in London: the help line is open.
OPEN_TIME = datetime(2026, 11, 18, 10, 0)


class Clock:
    """A settable clock for the app (naive UTC)."""

    def __init__(self, now: datetime = OPEN_TIME):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def sign(path: str, params: dict[str, Any]) -> str:
    """The X-Twilio-Signature Twilio would send for a POST to this path."""
    return RequestValidator(TOKEN).compute_signature(BASE + path, params)


_ids = itertools.count(1)


def sid(prefix: str) -> str:
    return f"{prefix}{next(_ids):032x}"


@dataclass
class VoiceTurn:
    """What the caller heard: the TwiML parsed back into words and the next action."""

    root: ET.Element
    status: int

    @property
    def says(self) -> list[ET.Element]:
        return list(self.root.iter("Say"))

    @property
    def text(self) -> str:
        return " ".join((s.text or "") for s in self.says)

    @property
    def gather(self) -> ET.Element | None:
        return self.root.find("Gather")

    @property
    def action(self) -> str | None:
        gather = self.gather
        if gather is not None:
            return gather.get("action")
        redirect = self.root.find("Redirect")
        return redirect.text if redirect is not None else None

    @property
    def hung_up(self) -> bool:
        return self.root.find("Hangup") is not None


def parse_voice(response) -> VoiceTurn:
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/xml"
    return VoiceTurn(ET.fromstring(response.data), response.status_code)


@dataclass
class Caller:
    post: Callable[..., Any]
    number: str | None = "+447911123456"
    call_sid: str = field(default_factory=lambda: sid("CA"))
    last: VoiceTurn | None = None
    heard: list[VoiceTurn] = field(default_factory=list)

    def _params(self, **extra: str) -> dict[str, str]:
        params = {"CallSid": self.call_sid, "AccountSid": "AC" + "0" * 32, "From": self.number or "anonymous",
                  "To": "+442380248725", "CallStatus": "in-progress", "Direction": "inbound", "ApiVersion": "2010-04-01"}
        params.update(extra)
        return params

    def _go(self, path: str, **extra: str) -> VoiceTurn:
        self.last = parse_voice(self.post(path, self._params(**extra)))
        self.heard.append(self.last)
        return self.last

    def call(self) -> VoiceTurn:
        return self._go("/voice")

    def _action_path(self) -> str:
        assert self.last is not None and self.last.action, "nothing is waiting for input"
        parts = urlsplit(self.last.action)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def press(self, digits: str) -> VoiceTurn:
        return self._go(self._action_path(), Digits=digits)

    def say(self, words: str, confidence: float = 0.92) -> VoiceTurn:
        return self._go(self._action_path(), SpeechResult=words, Confidence=str(confidence))

    def silence(self) -> VoiceTurn:
        return self._go(self._action_path())

    def hang_up(self, status: str = "completed"):
        return self.post("/voice/status", self._params(CallStatus=status, CallDuration="42"))


@dataclass
class Texter:
    post: Callable[..., Any]
    number: str = "+447911123456"
    replies: list[str] = field(default_factory=list)

    def send(self, body: str, **extra: str) -> str:
        params = {"MessageSid": sid("SM"), "AccountSid": "AC" + "0" * 32, "From": self.number,
                  "To": "+442380248725", "Body": body, "NumMedia": "0", "NumSegments": "1"}
        params.update(extra)
        response = self.post("/sms", params)
        assert response.status_code == 200, response.data
        assert response.mimetype == "text/xml"
        root = ET.fromstring(response.data)
        messages = [m.text or "" for m in root.iter("Message")]
        reply = "\n".join(messages)
        self.replies.append(reply)
        return reply


# Answers that walk the flow towards self-care unless a test says otherwise.
DEFAULT_ANSWERS = {"main_menu": "1", "age_band": "2", "age_under_20": "2", "age_over_50": "1",
                   "onset": "1", "course_recent": "1", "course_longer": "1"}


def waiting_node(call_sid: str | None = None, caller: str | None = None) -> str | None:
    """The node the conversation waits on, read from the database."""
    from sqlalchemy import select

    from helpline.db import db
    from helpline.models import Conversation

    query = select(Conversation).order_by(Conversation.id.desc())
    if call_sid:
        query = query.where(Conversation.call_sid == call_sid)
    if caller:
        query = query.where(Conversation.caller == caller)
    db.session.expire_all()
    conv = db.session.scalars(query).first()
    return None if conv is None or conv.state.get("ended") else conv.state.get("node")


def walk(person, answers: dict[str, str] | None = None, limit: int = 60) -> None:
    """Answer every question by node id (default: no, and the self-care path) until the flow ends."""
    answers = {**DEFAULT_ANSWERS, **(answers or {})}
    for _ in range(limit):
        if isinstance(person, Caller):
            node = waiting_node(call_sid=person.call_sid)
        else:
            node = waiting_node(caller=person.number.replace("whatsapp:", ""))
        if node is None:
            return
        if isinstance(person, Caller):
            person.press(answers.get(node, "2"))
        else:
            person.send(answers.get(node, "2"))
    raise AssertionError("the flow did not end")
