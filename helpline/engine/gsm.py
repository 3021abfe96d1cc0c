"""SMS encoding: is a text GSM-7, and how many segments does it take.

Pure. The tables are the GSM 03.38 default alphabet and its extension table (3GPP TS 23.038).
A text that is all GSM-7 goes as 7-bit characters, 160 to a single message or 153 to each part
of a longer one; an extension character ( | ^ € { } [ ] ~ \\ and form feed) is sent as an
escape plus the character, so it counts twice. Any other character (an emoji, a curly quote,
most accented letters) makes the whole text UCS-2: 70 UTF-16 code units to a single message or
67 to each part, and an emoji outside the Basic Multilingual Plane takes two code units.
"""
from __future__ import annotations

GSM7 = "GSM-7"
UCS2 = "UCS-2"

# The default alphabet, 0x00-0x7F in order, less 0x1B (the escape to the extension table).
BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ" "ÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# The extension table: each costs two septets (escape + character).
EXTENSION = frozenset("\f^{}\\[~]|€")

SINGLE = {GSM7: 160, UCS2: 70}
PART = {GSM7: 153, UCS2: 67}


def is_gsm7(text: str) -> bool:
    """True when every character is in the GSM 03.38 default alphabet or its extension table."""
    return all(ch in BASIC or ch in EXTENSION for ch in text)


def non_gsm7(text: str) -> list[str]:
    """The characters that force UCS-2, each once, in order of appearance."""
    seen: list[str] = []
    for ch in text:
        if ch not in BASIC and ch not in EXTENSION and ch not in seen:
            seen.append(ch)
    return seen


def encoding(text: str) -> str:
    return GSM7 if is_gsm7(text) else UCS2


def _units(text: str, enc: str) -> list[int]:
    """The size of each character in its encoding's units (septets or UTF-16 code units)."""
    if enc == GSM7:
        return [2 if ch in EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def length(text: str) -> int:
    """Length in the units of the text's own encoding: septets for GSM-7, code units for UCS-2."""
    return sum(_units(text, encoding(text)))


def segments(text: str) -> tuple[str, int]:
    """(encoding, number of message segments). An empty text is (GSM-7, 0).

    A long text is cut into parts of 153 septets (GSM-7) or 67 code units (UCS-2); an escaped
    extension character or a surrogate pair is never split across two parts, so a part may
    carry one unit less than its maximum.
    """
    enc = encoding(text)
    units = _units(text, enc)
    total = sum(units)
    if total == 0:
        return enc, 0
    if total <= SINGLE[enc]:
        return enc, 1
    count, used = 1, 0
    for size in units:
        if used + size > PART[enc]:
            count, used = count + 1, 0
        used += size
    return enc, count
