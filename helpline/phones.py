"""Phone numbers: what Twilio sends in From, and numbers keyed in by a caller."""
from __future__ import annotations

import functools
from dataclasses import dataclass

import phonenumbers

# What carriers and Twilio send when the caller withholds the number.
WITHHELD = {"", "anonymous", "restricted", "unknown", "private", "unavailable", "+266696687",
            "+7378742833", "+2562533", "+8656696", "+86282452253"}


@dataclass(frozen=True)
class Sender:
    """Who a request came from: E.164 number (None when withheld) and the transport."""

    number: str | None
    transport: str  # voice | sms | whatsapp
    raw: str


# Parsing is the slow part of a text's turn, and a texter sends the same From every time.
@functools.lru_cache(maxsize=4096)
def to_e164(raw: str | None, region: str = "GB") -> str | None:
    """A valid number in E.164 form, or None."""
    if not raw:
        return None
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def sender(raw_from: str | None, channel: str) -> Sender:
    raw = (raw_from or "").strip()
    transport = channel
    address = raw
    if raw.lower().startswith("whatsapp:"):
        transport, address = "whatsapp", raw.split(":", 1)[1]
    if address.lower() in WITHHELD:
        return Sender(None, transport, raw)
    return Sender(to_e164(address), transport, raw)


def uk_callback_number(digits: str) -> str | None:
    """A number keyed in by a caller, accepted only when it is a valid UK number."""
    number = to_e164(digits, "GB")
    if number is None or not number.startswith("+44"):
        return None
    return number


def spoken(number_e164: str) -> str:
    """Read a UK number back digit by digit in national form: "0 7 7 0 0, 9 0 0, 1 2 3"."""
    national = phonenumbers.format_number(phonenumbers.parse(number_e164, "GB"),
                                          phonenumbers.PhoneNumberFormat.NATIONAL)
    groups = national.split()
    return ", ".join(" ".join(group) for group in groups)


def masked(number: str | None) -> str:
    """Show only the last three digits: staff screens and logs never need the whole number."""
    if not number:
        return "withheld"
    return "•" * max(len(number) - 3, 0) + number[-3:]
