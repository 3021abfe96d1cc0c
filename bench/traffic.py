"""Realistic, correctly signed traffic: whole calls and text conversations through the real flow.

Each kind of caller (a persona: who answers what) is first walked through the real help line
in-process, on a scratch SQLite database, reading the conversation's state after every turn to
decide the next answer. That recording is checked (the disposition the persona should reach)
and becomes a template; the load generator then replays thousands of copies of the templates,
each with its own CallSid, MessageSid and phone number, every request signed with the auth
token through twilio's RequestValidator. Requests are written one file per load-generator
thread, with about a thousand conversations interleaved so that a conversation's next turn is
sent only long after its previous one was answered.
"""
from __future__ import annotations

import itertools
import random
import secrets
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence
from urllib.parse import urlencode, urlsplit
import xml.etree.ElementTree as ET

from twilio.request_validator import RequestValidator

TOKEN = "bench-auth-token-5f0c1d2e3a4b"
BASE = "https://helpline.example.org"
ACCOUNT = "AC" + "b" * 32
HELPLINE = "+442380248725"


def server_env(url: str) -> dict[str, str]:
    """The help line's environment for a run: production settings, signatures on, our token."""
    return {
        "DATABASE_URL": url, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_ACCOUNT_SID": ACCOUNT,
        "PUBLIC_BASE_URL": BASE, "SECRET_KEY": "bench-secret", "HELPLINE_INSECURE_SKIP_SIGNATURES": "0",
        # As in production: welfare cases alert the on-call phone (an outbox row in the same commit).
        "HELPLINE_STAFF_ALERT_NUMBERS": "+447911000001",
    }


# A Wednesday at 10:00 in London: the help line is open when the templates are recorded.
OPEN_TIME = datetime(2026, 11, 18, 10, 0)

# What people press at each menu unless a persona says otherwise (pain now, 20-49, recent, better).
MENU_DEFAULTS = {"main_menu": "1", "age_band": "2", "age_under_20": "2", "age_over_50": "1",
                 "onset": "1", "course_recent": "1", "course_longer": "1"}
SPOKEN = {"1": "yes", "2": "no", "3": "not sure"}


@dataclass(frozen=True)
class Persona:
    """One kind of caller or texter: what they answer, and the disposition that should give."""

    name: str
    channel: str  # voice | sms
    weight: int
    expect: str | None  # disposition the conversation must end with (None: no triage)
    answers: Mapping[str, str] = field(default_factory=dict)
    default: str = "2"  # any other yes/no question: no
    speech: bool = False  # voice: say yes/no instead of pressing keys
    withheld: bool = False  # voice: the caller hides their number
    first_text: str = "hello"
    hang_up_at: str | None = None  # voice: put the phone down when this node is asked
    repeat_at_end: bool = False  # voice: press 9 once to hear the ending again


# The mix: most people reach self-care or a routine callback; a few need 999 or A&E.
PERSONAS: tuple[Persona, ...] = (
    Persona("voice_self_care", "voice", 14, "D6"),
    Persona("voice_self_care_spoken", "voice", 6, "D6", speech=True),
    Persona("voice_routine_one_leg", "voice", 8, "D5", {"one_leg": "1"}, repeat_at_end=True),
    Persona("voice_routine_older", "voice", 4, "D5", {"age_band": "3", "first_episode": "1"}),
    Persona("voice_urgent_one_leg", "voice", 5, "D4", {"d4_one_leg": "1"}),
    Persona("voice_gp_fever", "voice", 4, "D3", {"d3_fever": "1"}),
    Persona("voice_999_chest", "voice", 2, "D1", {"d1_chest": "1"}),
    Persona("voice_ae_saddle", "voice", 2, "D2", {"d2_saddle": "1"}),
    Persona("voice_withheld_urgent", "voice", 2, "D4", {"d4_severe": "1"}, withheld=True),
    Persona("voice_prevention", "voice", 3, None, {"main_menu": "2"}),
    Persona("voice_callback_enquiry", "voice", 2, None, {"main_menu": "3"}),
    Persona("voice_hangs_up_mid_triage", "voice", 3, None, hang_up_at="d3_cancer"),
    Persona("sms_self_care", "sms", 12, "D6", first_text="Hi, hurt my back deadlifting"),
    Persona("sms_self_care_words", "sms", 5, "D6", {"d1_chest": "no", "d1_accident": "nope"}),
    Persona("sms_routine_worse", "sms", 6, "D5", {"course_recent": "3"}),
    Persona("sms_urgent_cannot_move", "sms", 4, "D4", {"d4_cannot_move": "1"}),
    Persona("sms_gp_cancer", "sms", 3, "D3", {"d3_cancer": "yes"}),
    Persona("sms_ae_bladder", "sms", 2, "D2", {"d2_bladder": "1"}),
    Persona("sms_999_free_text", "sms", 1, "D1", first_text="chest pain after squats"),
)


@dataclass(frozen=True)
class Ids:
    """The identifiers that make one copy of a conversation unique."""

    call_sid: str
    number: str
    message_prefix: str


# An action is what one request does, independent of identifiers: rendered with Ids for each copy.
Action = tuple[str, Mapping[str, str]]  # (path, parameters other than identifiers)


def render(action: Action, ids: Ids, index: int) -> tuple[str, dict[str, str]]:
    """(path, full Twilio parameters) of one request of one copy of a conversation."""
    path, extra = action
    if path.startswith("/sms"):
        sid = f"{ids.message_prefix}{index:04x}"
        params = {
            "ToCountry": "GB", "ToState": "", "SmsMessageSid": sid, "NumMedia": "0", "ToCity": "",
            "FromZip": "", "SmsSid": sid, "FromState": "", "SmsStatus": "received", "FromCity": "",
            "FromCountry": "GB", "To": HELPLINE, "ToZip": "", "NumSegments": "1", "MessageSid": sid,
            "AccountSid": ACCOUNT, "From": ids.number, "ApiVersion": "2010-04-01",
        }
    else:
        caller = ids.number or "anonymous"
        params = {
            "AccountSid": ACCOUNT, "ApiVersion": "2010-04-01", "CallSid": ids.call_sid,
            "CallStatus": "in-progress", "Called": HELPLINE, "CalledCountry": "GB", "Caller": caller,
            "CallerCountry": "GB", "Direction": "inbound", "From": caller, "FromCountry": "GB",
            "To": HELPLINE, "ToCountry": "GB",
        }
    params.update(extra)
    return path, params


class Signer:
    """Sign requests exactly as Twilio does, with the configured auth token."""

    def __init__(self, token: str = TOKEN, base: str = BASE):
        self.validator, self.base = RequestValidator(token), base

    def __call__(self, path: str, params: Mapping[str, str]) -> str:
        return self.validator.compute_signature(self.base + path, params)


# --- Recording the templates through the real help line --------------------------------------

@dataclass
class Template:
    persona: Persona
    actions: list[Action]
    disposition: str | None
    status: str


def _answer(persona: Persona, node: str, kind: str) -> dict[str, str]:
    key = persona.answers.get(node)
    if kind == "menu":
        return {"Digits": key or MENU_DEFAULTS.get(node, "1")}
    key = key or persona.default
    if persona.channel == "voice" and persona.speech:
        return {"SpeechResult": SPOKEN.get(key, key), "Confidence": "0.91"}
    return {"Digits": key}


def _action_path(twiml: bytes) -> str | None:
    root = ET.fromstring(twiml)
    gather = root.find("Gather")
    target = gather.get("action") if gather is not None else None
    if target is None and root.find("Redirect") is not None:
        target = root.find("Redirect").text
    if not target:
        return None
    parts = urlsplit(target)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def record_templates(personas: Sequence[Persona] = PERSONAS, workdir: Path | None = None) -> list[Template]:
    """Walk each persona through the real help line in-process and keep what it sent."""
    from helpline import create_app
    from helpline.db import db
    from helpline.models import Conversation
    from flask_migrate import upgrade
    from sqlalchemy import select

    tmp = tempfile.TemporaryDirectory(prefix="helpline-bench-") if workdir is None else None
    folder = Path(tmp.name) if tmp else workdir
    (folder / "record.db").unlink(missing_ok=True)
    app = create_app({
        "DATABASE_URL": f"sqlite:///{folder / 'record.db'}", "TWILIO_AUTH_TOKEN": TOKEN,
        "PUBLIC_BASE_URL": BASE, "INSECURE_SKIP_SIGNATURES": False, "CLOCK": lambda: OPEN_TIME,
        "SECRET_KEY": "bench", "TESTING": True,
    })
    sign = Signer()
    templates = []
    try:
        with app.app_context():
            upgrade()
            client = app.test_client()
            for n, persona in enumerate(personas):
                ids = Ids(f"CA{n:032x}", "" if persona.withheld else f"+4479110{n:05d}", f"SM{n:032x}")
                actions: list[Action] = []

                def post(action: Action):
                    path, params = render(action, ids, len(actions))
                    actions.append(action)
                    resp = client.post(path, data=params, headers={"X-Twilio-Signature": sign(path, params)})
                    if resp.status_code != 200:
                        raise RuntimeError(f"{persona.name}: {path} answered {resp.status_code}")
                    return resp

                kind_of = _kinds(app.extensions["helpline"].flow)
                if persona.channel == "voice":
                    conv = _record_call(persona, post, kind_of, lambda: db.session.scalar(
                        select(Conversation).where(Conversation.call_sid == ids.call_sid)))
                else:
                    conv = _record_texts(persona, post, kind_of, lambda: db.session.scalars(
                        select(Conversation).where(Conversation.caller == ids.number)
                        .order_by(Conversation.id.desc())).first())
                db.session.refresh(conv)
                if conv.disposition != persona.expect and persona.expect is not None:
                    raise RuntimeError(f"persona {persona.name} reached {conv.disposition}, expected {persona.expect}"
                                       f" (answers {conv.answers})")
                templates.append(Template(persona, actions, conv.disposition, conv.status))
                db.session.remove()
    finally:
        with app.app_context():
            db.engine.dispose()
        if tmp:
            tmp.cleanup()
    return templates


def _kinds(flow) -> Any:
    def kind_of(node: str | None) -> str:
        return flow.nodes[node].type if node in flow.nodes else "menu"
    return kind_of


def _record_call(persona: Persona, post, kind_of, conversation) -> Any:
    resp = post(("/voice", {}))
    repeated = False
    for _ in range(200):
        conv = conversation()
        state = dict(conv.state or {})
        path = _action_path(resp.data)
        stage = state.get("stage")
        if path is None or stage == "done":
            break  # the help line hung up
        if stage == "after_end":
            if persona.repeat_at_end and not repeated:
                repeated = True
                resp = post((path, {"Digits": "9"}))
                continue
            break
        if stage == "ask_number":
            resp = post((path, {"Digits": "07911123456#", "FinishedOnKey": "#"}))
            continue
        if stage == "confirm_number":
            resp = post((path, {"Digits": "1"}))
            continue
        node = state.get("node")
        if node == persona.hang_up_at:
            break
        resp = post((path, _answer(persona, node, kind_of(node))))
    else:
        raise RuntimeError(f"persona {persona.name} never finished its call")
    post(("/voice/status", {"CallStatus": "completed", "CallDuration": "97"}))
    return conversation()


def _record_texts(persona: Persona, post, kind_of, conversation) -> Any:
    post(("/sms", {"Body": persona.first_text}))
    for _ in range(200):
        conv = conversation()
        if conv.status != "active":
            return conv
        node = (conv.state or {}).get("node")
        reply = _answer(persona, node, kind_of(node))["Digits"]
        post(("/sms", {"Body": reply}))
    raise RuntimeError(f"persona {persona.name} never finished its texts")


# --- Copies for the load generator -------------------------------------------------------------

class Numbering:
    """Unique CallSids, MessageSids and phone numbers for every copy, across runs on one database."""

    def __init__(self, seed: int | None = None):
        self.run = secrets.token_hex(4) if seed is None else f"{seed:08x}"
        self.counter = itertools.count(1)
        self.rng = random.Random(seed)

    def ids(self, withheld: bool) -> Ids:
        n = next(self.counter)
        # 0790 numbers: all valid UK mobiles, in a range the preloaded data never uses. (Not all
        # of 079 is: phonenumbers rejects 079113-079116 and 079119, and a text from a number that
        # is not valid starts no conversation; a run whose numbers fell there sent texts that did not.)
        number = "" if withheld else f"+44790{(int(self.run, 16) * 7919 + n) % 10**7:07d}"
        return Ids(f"CA{self.run}{n:024x}", number, f"SM{self.run}{n:024x}")


def conversations(templates: Sequence[Template], numbering: Numbering) -> Iterator[list[tuple[str, dict]]]:
    """An endless stream of conversations drawn by weight, each with its own identifiers."""
    weights = [t.persona.weight for t in templates]
    while True:
        template = numbering.rng.choices(templates, weights)[0]
        ids = numbering.ids(template.persona.withheld)
        yield [render(action, ids, i) for i, action in enumerate(template.actions)]


def interleave(stream: Iterator[list[tuple[str, dict]]], slots: int, count: int) -> Iterator[tuple[str, dict]]:
    """`count` requests from `slots` conversations in flight, taking turns.

    A conversation's next request comes `slots` requests after its previous one, so with slots
    well above the number of connections, each turn has been answered before the next is sent.
    """
    active = [iter(next(stream)) for _ in range(slots)]
    sent = 0
    while sent < count:
        for i in range(slots):
            request = next(active[i], None)
            if request is None:
                active[i] = iter(next(stream))
                request = next(active[i])
            yield request
            sent += 1
            if sent >= count:
                return


def write_scripts(templates: Sequence[Template], numbering: Numbering, prefix: Path, threads: int,
                  requests_per_thread: int, connections: int, slots: int | None = None) -> list[Path]:
    """Write one file of signed requests per load-generator thread: path, signature, body.

    `slots`: conversations in flight. By default about a thousand: at a few hundred turns a
    second, a caller's next turn comes a couple of seconds after the last (a person's pause),
    well past the slowest answers. Any number above a thread's connections keeps each turn
    behind the answer to the one before it (Twilio waits for each answer): a connection takes
    the thread's next request only when its own has been answered."""
    sign = Signer()
    per_thread = -(-connections // threads)
    slots = max(slots or 1024, 16 * per_thread)
    paths = []
    stream = conversations(templates, numbering)
    for t in range(1, threads + 1):
        path = Path(f"{prefix}.{t}.txt")
        with open(path, "w") as fh:
            for url_path, params in interleave(stream, slots, requests_per_thread):
                fh.write(f"{url_path}\t{sign(url_path, params)}\t{urlencode(params)}\n")
        paths.append(path)
    return paths


def mix(templates: Sequence[Template]) -> list[dict[str, Any]]:
    """What each persona is and weighs, for the report."""
    total = sum(t.persona.weight for t in templates)
    return [{"persona": t.persona.name, "channel": t.persona.channel, "share": t.persona.weight / total,
             "requests": len(t.actions), "disposition": t.disposition, "status": t.status}
            for t in templates]
