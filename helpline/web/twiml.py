"""Rendering replies as TwiML with the twilio library's builders."""
from __future__ import annotations

import functools
import re
from typing import Any

from flask import Response
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Gather, VoiceResponse

from ..jsoncodec import dumps, loads

LANGUAGE = "en-GB"

SAFE_VOICE = (
    "Sorry, something has gone wrong with the back pain help line. If this is an emergency, hang up "
    "and call nine nine nine. If you need advice, call NHS one one one. Please try calling us again later."
)


def xml(body: Any) -> Response:
    return Response(str(body), status=200, mimetype="text/xml")


# A turn's reply is mostly the flow's own words, so the same TwiML is rendered again and again:
# keep the last renderings by their reply. A reply that reads out a phone number (six or more
# digits, spaced or not) is rendered afresh and not kept.
_PERSONAL = re.compile(r"\d(?:\s?\d){5,}")
_RENDERED = 2048  # replies kept, per process: a few MB at most


def _key(reply: dict[str, Any]) -> str | None:
    key = dumps(reply)
    return None if _PERSONAL.search(key) else key


def voice_xml(reply: dict[str, Any], action: str, voice: str) -> str:
    """voice_reply(...) as a string, from the renderings kept when the same reply came before."""
    key = _key(reply)
    if key is None:
        return str(voice_reply(reply, action, voice))
    return _voice_xml(key, action, voice)


@functools.lru_cache(maxsize=_RENDERED)
def _voice_xml(key: str, action: str, voice: str) -> str:
    return str(voice_reply(loads(key), action, voice))


def sms_xml(reply: dict[str, Any]) -> str:
    """sms_reply(...) as a string, kept like voice_xml's."""
    key = _key(reply)
    return str(sms_reply(reply)) if key is None else _sms_xml(key)


@functools.lru_cache(maxsize=_RENDERED)
def _sms_xml(key: str) -> str:
    return str(sms_reply(loads(key)))


def voice_reply(reply: dict[str, Any], action: str, voice: str) -> VoiceResponse:
    """One turn of a call: what to say, then a Gather that also answers silence."""
    response = VoiceResponse()
    ask = reply.get("ask")
    parts = reply.get("say", [])
    if ask is None:
        for part in parts:
            # Emergency messages play twice and sit outside any Gather so nothing cuts them short (P13).
            response.say(part["text"], voice=voice, language=LANGUAGE, loop=2 if part.get("emergency") else 1)
        if reply.get("hangup", True):
            response.hangup()
        return response
    leading = [p for p in parts if p.get("emergency")]
    for part in leading:
        response.say(part["text"], voice=voice, language=LANGUAGE, loop=2)
    gather = _gather(ask, action)
    for part in parts:
        if not part.get("emergency"):
            gather.say(part["text"], voice=voice, language=LANGUAGE)
    response.append(gather)
    # Twilio posts the action on silence (actionOnEmptyResult); if it ever runs on, no dead air.
    response.redirect(action, method="POST")
    return response


def _gather(ask: dict[str, Any], action: str) -> Gather:
    kind = ask.get("kind")
    if kind == "digits":
        return Gather(input="dtmf", action=action, method="POST", finish_on_key="#", timeout=10,
                      action_on_empty_result=True)
    hints = ", ".join(ask.get("hints") or ()) or None
    return Gather(
        input="dtmf speech", action=action, method="POST", num_digits=1, timeout=6,
        speech_timeout="auto", language=LANGUAGE, hints=hints, action_on_empty_result=True,
    )


def safe_voice(voice: str = "Polly.Amy") -> VoiceResponse:
    """What a caller hears when anything fails: never Twilio's "application error"."""
    response = VoiceResponse()
    response.say(SAFE_VOICE, voice=voice, language=LANGUAGE)
    response.hangup()
    return response


def sms_reply(reply: dict[str, Any]) -> MessagingResponse:
    response = MessagingResponse()
    texts = [part["text"] for part in reply.get("say", []) if part.get("text")]
    if texts:
        response.message("\n\n".join(texts))
    return response


def empty() -> MessagingResponse:
    return MessagingResponse()
