"""Use cases for voice and SMS turns: dedupe, load state, run the engine, log, escalate, commit once.

A reply is a plain dict (what to say, what to ask next, whether to hang up) so that a retried
webhook gets exactly the answer it got the first time, rendered again from the stored reply.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError

from . import engine, phones, triage, turn_store
from .callbacks import request_callback
from .db import db
from .models import Conversation, OptOut
from .notify import can_text_advice, queue_advice_text, record_delivery_status
from .service import Helpline
from .turn_store import ConversationRecord

Reply = dict[str, Any]
log = logging.getLogger(__name__)

OPT_OUT_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
OPT_IN_WORDS = {"START", "UNSTOP"}
HELP_WORDS = {"HELP", "INFO"}

SMS_HELP = ("Back pain help line: automated advice for back pain after the gym. Not for emergencies: "
            "if you are seriously ill or injured call 999. Text anything to start, STOP to opt out.")
SMS_OPTED_OUT = "You will get no more texts from the back pain help line. Text START to opt back in. In an emergency call 999."
SMS_OPTED_IN = "You can get texts from the back pain help line again. Text anything to start. In an emergency call 999."
SMS_NO_SENDER = ("Back pain help line. Not for emergencies: if you are seriously ill or injured call 999. "
                 "We could not read your number, so please text again.")

VOICE_ASK_NUMBER = ("We do not have your phone number. So that we can call you back, please key in your "
                    "phone number, starting with 0, then press the hash key.")
VOICE_BAD_NUMBER = "Sorry, that does not look like a UK phone number."
VOICE_NO_NUMBER = ("We could not take your number. If you need advice, call NHS one one one. "
                   "In an emergency, call nine nine nine. Goodbye.")
VOICE_THANKS_NUMBER = "Thank you. We will call you on that number. Goodbye."
VOICE_AFTER_END = "Press 9 to hear this again, or you can hang up now."
VOICE_AFTER_END_TEXT = "To get this advice by text message, press 1. Press 9 to hear this again, or you can hang up now."
VOICE_TEXT_QUEUED = "Thank you. We will text you this advice in the next few minutes. Goodbye."
VOICE_TEXT_UNAVAILABLE = "Sorry, we cannot send a text to this number. Goodbye."
VOICE_GOODBYE = "Thank you for calling the back pain help line. Goodbye."


@dataclass(frozen=True)
class VoiceRequest:
    call_sid: str
    caller: str | None
    step: int
    digits: str | None = None
    speech: str | None = None
    confidence: float | None = None


@dataclass(frozen=True)
class SmsRequest:
    message_sid: str | None
    caller: str | None
    body: str
    opt_out_type: str | None = None
    idempotency_token: str | None = None  # I-Twilio-Idempotency-Token, when there is no MessageSid


def _say(turn: engine.Turn) -> list[dict[str, Any]]:
    return [{"text": u.text, "emergency": u.emergency} for u in turn.say if u.text]


class AlreadyAnswered(Exception):
    """A retried webhook: the request was handled before, and this is the answer it got."""

    def __init__(self, reply: Reply):
        super().__init__("already answered")
        self.reply = reply


def _commit_once(key: str | None, work: Callable[[], Reply], own_connection: bool = True,
                 read_first: bool = False) -> Reply:
    """Run a turn and commit it once; once more if it lost a race for a unique row, or on a fresh
    connection if the database's was lost.

    A race: two conversations escalating the same number at once (a number keyed in on a call,
    texts from it meanwhile) both find no open callback for it, and the second INSERT breaks the
    one-open-item-per-number index; done again, the turn finds the first one's item and raises it.
    Connections are not pinged before every use (db.ping_when_idle), so one the server dropped
    since it was last used fails its turn. Either way nothing of the first attempt was
    committed, or, if only the COMMIT's answer was lost, the second attempt finds the request's
    key answered. `read_first`: see turn_store.own_transaction.
    """
    try:
        return _attempt(key, work, own_connection, read_first)
    except IntegrityError:
        log.warning("a turn lost a race for a unique row; trying the turn once more")
        db.session.rollback()
        return _attempt(key, work, own_connection, read_first)
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
        log.warning("the database connection was lost during a turn; trying the turn once more")
        db.session.rollback()
        return _attempt(key, work, own_connection, read_first)


def _attempt(key: str | None, work: Callable[[], Reply], own_connection: bool, read_first: bool = False) -> Reply:
    """Run a turn and commit it once.

    `work` raises AlreadyAnswered when its first read finds the request's key answered; a retry
    that races the first request fails on the unique key instead, and gets the first answer too.
    Most turns run on a connection of their own, without the ORM session (turn_store); one that
    needs the ORM is rolled back there and done again in the session. `work` must be safe to run
    twice: everything it does goes into the database, and the first attempt wrote nothing.
    """
    # A session already in a transaction (a test's, or earlier work in this request) keeps the turn:
    # the ORM would not begin again, so the guard that stops an own-connection turn would not see it.
    if own_connection and not (db.session.registry.has() and db.session().in_transaction()):
        try:
            with turn_store.own_transaction(read_first=read_first):
                return work()
        except turn_store.NeedsSession as stopped:
            if isinstance(stopped, turn_store.Raced):
                log.info("another turn changed this conversation after the turn read it; "
                         "doing the turn again with the conversation locked")
            db.session.rollback()  # whatever the ORM began is dropped
        except AlreadyAnswered as answered:
            return answered.reply
        except IntegrityError as error:
            return _replayed(key, error)
    try:
        reply = work()
        db.session.commit()
    except AlreadyAnswered as answered:
        db.session.rollback()  # nothing was written
        return answered.reply
    except IntegrityError as error:
        db.session.rollback()
        return _replayed(key, error)
    return reply


def _replayed(key: str | None, error: IntegrityError) -> Reply:
    """A race on the request's key: the other request's answer, or the error if it was not that."""
    replayed = turn_store.replay(key)
    if replayed is None:
        raise error
    return replayed


def _record(conv: ConversationRecord, state: engine.State, extra: dict[str, Any], now: datetime) -> None:
    """Copy the engine state onto the conversation: flow version, answers, rules and disposition (P14)."""
    conv.state = {**state.to_dict(), **extra}
    conv.answers = dict(state.answers)
    conv.rules_fired = list(state.rules)
    conv.disposition = state.disposition
    conv.queue = state.queue
    conv.updated_at = now


def _log_turn(conv: ConversationRecord | None, channel: str, key: str | None, node: str | None,
              reply: Reply, now: datetime, external_id: str | None = None, **raw: Any) -> None:
    """Save the conversation and log what came in and what we answered (two rows, one INSERT;
    on PostgreSQL the conversation's UPDATE goes in the same statement).

    The reply is stored as it is now (a retry gets it again), so build it first.
    """
    update = conv
    if conv is not None and conv.id is None:
        turn_store.save(conv)  # a new conversation: the log rows need its id
        update = None
    conv_id = conv.id if conv is not None else None
    said = " ".join(part["text"] for part in reply.get("say", []))
    asked = (reply.get("ask") or {}).get("node")
    turn_store.log([
        {"conversation_id": conv_id, "channel": channel, "direction": "in", "kind": "turn",
         "node": node, "external_id": external_id, "dedupe_key": key, "reply": reply, "created_at": now, **raw},
        {"conversation_id": conv_id, "channel": channel, "direction": "out", "kind": "turn",
         "node": asked or (conv.state.get("end_node") if conv else None), "said": said, "created_at": now},
    ], update=update)


def _escalate(hl: Helpline, conv: ConversationRecord | Conversation, now: datetime, phone: str | None = None) -> None:
    queue = conv.queue or (triage.QUEUE_FOR.get(conv.disposition) if conv.disposition else None)
    if queue is None or conv.escalated:
        return
    # The callback and its texts go in on the turn's connection, as plain statements.
    if conv.id is None:
        turn_store.save(conv)  # a conversation that escalates on its first turn: the callback links to it
    reasons = [r for r in conv.rules_fired if not r.startswith("ending_")] or [queue]
    request_callback(hl, conv, queue, conv.disposition, reasons, now, phone=phone)
    conv.escalated = True


def _finish(conv: ConversationRecord | Conversation, status: str, now: datetime) -> None:
    conv.status, conv.ended_at = status, now


# --- Voice ---------------------------------------------------------------------------

def _voice_input(hl: Helpline, req: VoiceRequest) -> engine.Input:
    if req.digits:
        return engine.Input.key(req.digits.strip())
    if req.speech and req.speech.strip():
        if req.confidence is not None and req.confidence < hl.speech_confidence:
            return engine.Input.unclear(req.speech)
        return engine.Input.text(req.speech)
    return engine.Input.silence()


def voice_turn(hl: Helpline, req: VoiceRequest, now: datetime) -> Reply:
    """Answer one voice webhook: the first request of a call (step 0) or a Gather's action."""
    key = f"voice:{req.call_sid}:{req.step}"
    # A call's turn needs no lock from its read (turn_store.own_transaction): on PostgreSQL most
    # are two round trips.
    return _commit_once(key, lambda: _voice_turn(hl, req, key, now), read_first=True)


def _voice_turn(hl: Helpline, req: VoiceRequest, key: str, now: datetime) -> Reply:
    answered, conv = turn_store.load_call(req.call_sid, key)
    if answered is not None:
        raise AlreadyAnswered(answered)
    ctx = hl.context("voice", now)
    node_before = None
    if conv is None:
        flow = hl.flow
        sender = phones.sender(req.caller, "voice")
        conv = ConversationRecord.new(
            channel="voice", caller=sender.number, caller_raw=sender.raw or None, call_sid=req.call_sid,
            flow_id=flow.id, flow_version=flow.version, now=now)
        turn = engine.start(flow, ctx)
        reply, extra = _after_voice_turn(hl, conv, turn, {"seq": 0}, now)
    else:
        flow = hl.flows.get(conv.flow_id, hl.flow)
        node_before = conv.state.get("node") or conv.state.get("stage")
        reply, extra = _continue_voice(hl, conv, flow, req, ctx, now)
    seq = int(conv.state.get("seq", 0) if conv.state else 0)
    extra["seq"] = seq + 1
    if reply.get("ask"):
        reply["ask"]["step"] = extra["seq"]
    conv.state = {**conv.state, **extra}
    _log_turn(conv, "voice", key, node_before, reply, now, external_id=req.call_sid,
              digits=req.digits, speech=req.speech, confidence=req.confidence)
    return reply


def _continue_voice(hl: Helpline, conv: ConversationRecord, flow: engine.Flow, req: VoiceRequest,
                    ctx: engine.Context, now: datetime) -> tuple[Reply, dict[str, Any]]:
    stage = conv.state.get("stage")
    extra = {k: conv.state.get(k) for k in ("seq", "pending_number", "failures_number", "ending")}
    if stage == "ask_number":
        return _voice_number(hl, conv, req, extra, now)
    if stage == "confirm_number":
        return _voice_confirm(hl, conv, req, extra, now)
    if stage == "after_end" or conv.state.get("ended"):
        offer = bool(conv.state.get("text_offer"))
        if offer and (req.digits or "").strip() == "1":  # consent by keypad to a text of the advice
            said = VOICE_TEXT_QUEUED if queue_advice_text(hl, conv, now) is not None else VOICE_TEXT_UNAVAILABLE
            return {"say": [{"text": said, "emergency": False}], "ask": None, "hangup": True}, {**extra, "stage": "done"}
        if (req.digits or "").strip() == "9" or engine.interpret.is_repeat(req.speech or ""):
            ending = conv.state.get("ending") or []
            again = [*ending, _after_end_prompt(offer)]
            return ({"say": again, "ask": _after_end_ask(offer), "hangup": False}, {**extra, "stage": "after_end"})
        return {"say": [{"text": VOICE_GOODBYE, "emergency": False}], "ask": None, "hangup": True}, extra
    state = engine.State.from_dict(conv.state)
    turn = engine.step(flow, state, _voice_input(hl, req), ctx)
    return _after_voice_turn(hl, conv, turn, extra, now)


def _after_end_ask(text_offer: bool = False) -> dict[str, Any]:
    keys = ["1", "9"] if text_offer else ["9"]
    return {"node": "after_end", "kind": "after_end", "keys": keys, "hints": ["repeat", "again"]}


def _after_end_prompt(text_offer: bool) -> dict[str, Any]:
    return {"text": VOICE_AFTER_END_TEXT if text_offer else VOICE_AFTER_END, "emergency": False}


def _after_voice_turn(hl: Helpline, conv: ConversationRecord, turn: engine.Turn,
                      extra: dict[str, Any], now: datetime) -> tuple[Reply, dict[str, Any]]:
    _record(conv, turn.state, extra, now)
    say = _say(turn)
    if not turn.ended:
        ask = turn.ask
        return {"say": say, "ask": {"node": ask.node, "kind": ask.kind, "keys": list(ask.keys),
                                    "hints": list(ask.hints)}, "hangup": False}, extra
    _finish(conv, "completed", now)
    ending = [part for part in say if part["emergency"]] or say[-1:]
    extra = {**extra, "ending": ending}
    emergency = any(part["emergency"] for part in say)
    if conv.queue and conv.queue != "welfare" and conv.caller is None:
        # A withheld number: the advice comes first, then we ask for a number to call back on.
        say.append({"text": VOICE_ASK_NUMBER, "emergency": False})
        return ({"say": say, "ask": {"node": "ask_number", "kind": "digits", "keys": [], "hints": []},
                 "hangup": False}, {**extra, "stage": "ask_number", "failures_number": 0})
    _escalate(hl, conv, now)
    if emergency:
        # P3 and P13: the emergency message is played in full, twice, and nothing follows it.
        return {"say": say, "ask": None, "hangup": True}, {**extra, "stage": "done"}
    offer = can_text_advice(hl, conv)  # never after an emergency ending, nor to a withheld or opted-out number
    say.append(_after_end_prompt(offer))
    return {"say": say, "ask": _after_end_ask(offer), "hangup": False}, {**extra, "stage": "after_end", "text_offer": offer}


def _voice_number(hl: Helpline, conv: ConversationRecord, req: VoiceRequest, extra: dict[str, Any],
                  now: datetime) -> tuple[Reply, dict[str, Any]]:
    number = phones.uk_callback_number((req.digits or "").strip("#* "))
    if number:
        say = f"You entered {phones.spoken(number)}. Press 1 if that is right, or 2 to enter it again."
        return ({"say": [{"text": say, "emergency": False}],
                 "ask": {"node": "confirm_number", "kind": "confirm", "keys": ["1", "2"], "hints": ["yes", "no"]},
                 "hangup": False}, {**extra, "stage": "confirm_number", "pending_number": number})
    failures = int(extra.get("failures_number") or 0) + 1
    if failures < 2:
        return ({"say": [{"text": VOICE_BAD_NUMBER, "emergency": False},
                         {"text": VOICE_ASK_NUMBER, "emergency": False}],
                 "ask": {"node": "ask_number", "kind": "digits", "keys": [], "hints": []}, "hangup": False},
                {**extra, "stage": "ask_number", "failures_number": failures})
    _escalate(hl, conv, now)  # staff still see the case, without a number
    return {"say": [{"text": VOICE_NO_NUMBER, "emergency": False}], "ask": None, "hangup": True}, {**extra, "stage": "done"}


def _voice_confirm(hl: Helpline, conv: ConversationRecord, req: VoiceRequest, extra: dict[str, Any],
                   now: datetime) -> tuple[Reply, dict[str, Any]]:
    pressed = (req.digits or "").strip()
    spoken_answer = engine.interpret.normalise(req.speech or "")
    if pressed == "2" or spoken_answer in ("no", "two"):
        return ({"say": [{"text": VOICE_ASK_NUMBER, "emergency": False}],
                 "ask": {"node": "ask_number", "kind": "digits", "keys": [], "hints": []}, "hangup": False},
                {**extra, "stage": "ask_number", "failures_number": 0})
    # Yes, or no clear answer: a number read back and not corrected is better than none.
    conv.caller = extra.get("pending_number")
    _escalate(hl, conv, now)
    return ({"say": [{"text": VOICE_THANKS_NUMBER, "emergency": False}], "ask": None, "hangup": True},
            {**extra, "stage": "done"})


def call_status(hl: Helpline, call_sid: str, status: str, now: datetime) -> None:
    """Record a call's status callback; a call that ends mid-flow after a red flag is still escalated."""
    key = f"status:{call_sid}:{status}"

    def work() -> Reply:
        answered, conv = turn_store.load_call(call_sid, key)
        if answered is not None or (conv is None and turn_store.replay(key) is not None):
            raise AlreadyAnswered({})  # (a call we never saw has only its log row to tell)
        if conv is not None and status in ("completed", "busy", "failed", "no-answer", "canceled"):
            if conv.status == "active":
                _finish(conv, "abandoned", now)
                _escalate_abandoned(hl, conv, now)
            elif conv.state.get("stage") in ("ask_number", "confirm_number"):
                conv.caller = conv.caller or conv.state.get("pending_number")
                _escalate(hl, conv, now)
            turn_store.save(conv)
        turn_store.log([{"conversation_id": conv.id if conv else None, "channel": "voice", "direction": "in",
                         "kind": "status", "body": status, "external_id": call_sid, "dedupe_key": key,
                         "reply": {}, "created_at": now}])
        return {}

    _commit_once(key, work)


def _escalate_abandoned(hl: Helpline, conv: ConversationRecord | Conversation, now: datetime) -> None:
    """A red flag answered yes escalates even when the person stops part way through."""
    if conv.disposition and conv.disposition != triage.BASELINE:
        conv.queue = conv.queue or triage.QUEUE_FOR.get(conv.disposition)
        _escalate(hl, conv, now)


def sweep_idle(hl: Helpline, now: datetime, voice_after_minutes: int = 120) -> int:
    """Close conversations nobody finished; escalate those with a red flag. Returns how many."""
    stale = db.session.scalars(
        select(Conversation).where(Conversation.status == "active").where(
            ((Conversation.channel != "voice") & (Conversation.updated_at < now - hl.sms_idle))
            | ((Conversation.channel == "voice") & (Conversation.updated_at < now - timedelta(minutes=voice_after_minutes)))
        ).with_for_update(skip_locked=True)
    ).all()
    for conv in stale:
        _finish(conv, "abandoned", now)
        _escalate_abandoned(hl, conv, now)
    db.session.commit()
    return len(stale)


# --- SMS -----------------------------------------------------------------------------

def _keyword(body: str) -> str | None:
    word = body.strip().strip(".!").upper()
    return word if word.isalpha() and " " not in word else None


def sms_turn(hl: Helpline, req: SmsRequest, now: datetime) -> Reply:
    """Answer one incoming text (or WhatsApp message)."""
    key = f"sms:{req.message_sid}" if req.message_sid else (f"idem:{req.idempotency_token}" if req.idempotency_token else None)
    # Read outside a transaction on PostgreSQL; the write checks that the conversation is still
    # as read, and a text that raced another is done again with the row locked (turn_store).
    return _commit_once(key, lambda: _sms_turn(hl, req, key, now), read_first=True)


def _text(text: str) -> Reply:
    return {"say": [{"text": text, "emergency": False}]}


def _sms_turn(hl: Helpline, req: SmsRequest, key: str | None, now: datetime) -> Reply:
    sender = phones.sender(req.caller, "sms")
    answered, opted_out, conv = turn_store.load_text(key, sender.number, sender.transport)
    if answered is not None:
        raise AlreadyAnswered(answered)
    body = req.body or ""
    raw = {"body": body}
    if sender.number is None:
        reply = _text(SMS_NO_SENDER)
        _log_turn(None, sender.transport, key, None, reply, now, external_id=req.message_sid, **raw)
        return reply

    word = _keyword(body)
    if word in OPT_OUT_WORDS or (req.opt_out_type or "").upper() == "STOP":
        _set_opt_out(sender.number, True, now)
        # Twilio's Advanced Opt-Out has already confirmed when it tells us OptOutType.
        reply = {"say": []} if req.opt_out_type else _text(SMS_OPTED_OUT)
        return _log_keyword(sender, key, reply, now, req, raw)
    if word in OPT_IN_WORDS or (opted_out and word == "YES"):
        _set_opt_out(sender.number, False, now)
        reply = {"say": []} if req.opt_out_type else _text(SMS_OPTED_IN)
        return _log_keyword(sender, key, reply, now, req, raw)
    if opted_out:
        return _log_keyword(sender, key, {"say": []}, now, req, raw)  # nothing is sent after STOP
    if word in HELP_WORDS:
        return _log_keyword(sender, key, _text(SMS_HELP), now, req, raw)

    ctx = hl.context("sms", now)
    if conv is not None and conv.updated_at < now - hl.sms_idle:
        _finish(conv, "abandoned", now)
        _escalate_abandoned(hl, conv, now)
        turn_store.save(conv)
        conv = None
    node_before = None
    if conv is None:
        flow = hl.flow
        conv = ConversationRecord.new(
            channel=sender.transport, caller=sender.number, caller_raw=sender.raw, call_sid=None,
            flow_id=flow.id, flow_version=flow.version, now=now)
        turn = engine.start(flow, ctx, first_words=body)
    else:
        flow = hl.flows.get(conv.flow_id, hl.flow)
        state = engine.State.from_dict(conv.state)
        node_before = state.node
        turn = engine.step(flow, state, engine.Input.text(body), ctx)
    _record(conv, turn.state, {}, now)
    reply: Reply = {"say": _say(turn)}
    if turn.ask is not None:
        reply["ask"] = {"node": turn.ask.node, "kind": turn.ask.kind}
    if turn.ended:
        _finish(conv, "completed", now)
        _escalate(hl, conv, now)
    _log_turn(conv, sender.transport, key, node_before, reply, now, external_id=req.message_sid, **raw)
    return reply


def _set_opt_out(number: str, opted_out: bool, now: datetime) -> None:
    """STOP and START are rare: the ORM keeps the opt-out row (insert or update) simple."""
    turn_store.need_session()
    opt = db.session.get(OptOut, number)
    if opt is None:
        if not opted_out:
            return
        opt = OptOut(phone=number)
        db.session.add(opt)
    opt.opted_out, opt.updated_at = opted_out, now


def _log_keyword(sender: phones.Sender, key: str | None, reply: Reply, now: datetime,
                 req: SmsRequest, raw: dict[str, Any]) -> Reply:
    rows = [{"channel": sender.transport, "direction": "in", "kind": "keyword", "body": raw["body"],
             "external_id": req.message_sid, "dedupe_key": key, "reply": reply, "created_at": now}]
    if reply["say"]:
        rows.append({"channel": sender.transport, "direction": "out", "kind": "keyword",
                     "said": reply["say"][0]["text"], "created_at": now})
    turn_store.log(rows)
    return reply


def sms_status(message_sid: str, status: str, error_code: str | None, now: datetime) -> None:
    """Record a delivery status callback for a text we sent."""
    key = f"smsstatus:{message_sid}:{status}"

    def work() -> Reply:
        answered = turn_store.replay(key)
        if answered is not None:
            raise AlreadyAnswered(answered)
        turn_store.log([{"channel": "sms", "direction": "in", "kind": "status", "external_id": message_sid,
                         "body": status if not error_code else f"{status} {error_code}",
                         "dedupe_key": key, "reply": {}, "created_at": now}])
        record_delivery_status(message_sid, status, error_code, now)  # the outbox row with this MessageSid
        return {}

    _commit_once(key, work, own_connection=False)  # always ORM work: straight to the session
