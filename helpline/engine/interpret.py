"""Reading what a person pressed, said or typed.

Pure: maps keys, words and free text to answers and free-text triggers.
"""
from __future__ import annotations

import functools
import re
import unicodedata

from .flow import FreeText, FreeTextTrigger, Node

YES_NO_KEYS = {"1": "yes", "2": "no", "3": "not_sure"}
YES_NO_WORDS = {
    "yes": ("yes", "y", "yeah", "yep", "yup", "aye", "yes please", "i do", "i have", "one", "1 yes"),
    "no": ("no", "n", "nope", "nah", "none", "neither", "i don't", "i do not", "i haven't", "two", "2 no"),
    "not_sure": ("not sure", "unsure", "don't know", "dont know", "do not know", "i don't know", "maybe",
                 "dunno", "possibly", "three", "i'm not sure", "im not sure", "3 not sure"),
}
# Words that may stand inside a short reply ("yes I do", "no not really"); "not sure" first.
PARTIAL_WORDS = (
    ("not_sure", ("not sure", "unsure", "don't know", "dont know", "dunno", "maybe")),
    ("yes", ("yes", "yeah", "yep")),
    ("no", ("no", "nope", "nah")),
)
_PARTIAL = dict(PARTIAL_WORDS)  # by answer, built once
REPEAT_WORDS = ("repeat", "again", "say that again", "pardon", "what", "nine", "9")

_SPACES = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s'+]")


def normalise(text: str) -> str:
    """Lower-case, fold curly quotes and accents, drop punctuation and emoji, squeeze spaces."""
    text = unicodedata.normalize("NFKC", text or "")
    text = text.replace("\u2019", "'").replace("\u2018", "'").lower()
    text = _PUNCT.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def _whole(phrase: str, text: str) -> bool:
    """Whether the phrase stands in the text as whole words."""
    return _whole_pattern(phrase).search(text) is not None


# The phrases are the word lists above and the flows' option words, a few hundred; bounded all the
# same, so that a caller passing a person's words as the phrase could not grow it without end.
@functools.lru_cache(maxsize=1024)
def _whole_pattern(phrase: str) -> re.Pattern[str]:
    # Built once per phrase: escaping and looking the pattern up in re's cache on every call was
    # over a quarter of a step with words (a reply is tried against a dozen phrases or so).
    return re.compile(rf"(?<![\w]){re.escape(phrase)}(?![\w])")


def is_repeat(text: str) -> bool:
    t = normalise(text)
    return t in REPEAT_WORDS


def answer_for(node: Node, raw: str) -> str | None:
    """The answer a key or short reply gives at a node: yes/no/not_sure, an option key, or None."""
    text = normalise(raw)
    if not text:
        return None
    if node.type == "question":
        if text in YES_NO_KEYS:
            return YES_NO_KEYS[text]
        for answer, words in YES_NO_WORDS.items():
            if text in words:
                return answer
        leading = _leading_answer(text)
        if leading:
            return leading
        if len(text.split()) <= 4:
            for answer, words in PARTIAL_WORDS:
                if any(_whole(w, text) for w in words):
                    # "yes" and "no" in one short reply is no answer at all
                    if answer != "not_sure" and any(_whole(w, text) for w in _PARTIAL["no" if answer == "yes" else "yes"]):
                        return None
                    return answer
        return None
    if node.type == "menu":
        for option in node.options:
            if text == option.key.lower():
                return option.key
        for option in node.options:
            if any(text == w or (len(w) > 2 and _whole(w, text)) for w in option.words):
                return option.key
        return None
    return None


def _leading_answer(text: str) -> str | None:
    """A reply that opens with its answer: "yes I have numbness down there", "not sure really"."""
    if any(_whole(w, text) for w in _PARTIAL["not_sure"]):
        return "not_sure"  # any doubt counts as not sure (P5)
    for answer, words in PARTIAL_WORDS:
        for word in words:
            if text == word or text.startswith(word + " "):
                rest = " ".join(text[len(word):].split())
                opposite = _PARTIAL["no" if answer == "yes" else "yes"]
                if any(_whole(w, rest) for w in opposite):
                    return None  # "yes and no" is no answer at all
                return answer
    return None


def _negated(text: str, start: int, negations: tuple[str, ...], clause_start: int = 0) -> bool:
    """True when one of the three words before a phrase negates it ("no numbness", "not numb").

    A negation does not reach across a clause ("No, I have chest pain") or a "but".
    """
    before = text[clause_start:start].split()
    for breaker in ("but", "and", "now", "though"):
        if breaker in before:
            before = before[len(before) - before[::-1].index(breaker):]
    return any(word in negations for word in before[-3:])


_CLAUSE_BREAK = re.compile(r"[,.;:!?\n]+")


def _clauses(raw: str) -> tuple[str, list[int]]:
    """The normalised text and where each of its clauses starts."""
    parts = [p for p in (normalise(part) for part in _CLAUSE_BREAK.split(raw or "")) if p]
    starts, pos = [], 0
    for part in parts:
        starts.append(pos)
        pos += len(part) + 1
    return " ".join(parts), starts


def _pattern(phrase: str) -> str:
    """A phrase that ends a word; a trailing * matches any ending ("numb*" finds "numbness")."""
    if phrase.endswith("*"):
        return re.escape(phrase[:-1])
    return rf"{re.escape(phrase)}(?![\w])"


@functools.lru_cache(maxsize=256)
def _compiled(phrases: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern per trigger, compiled once: a reply is scanned on every SMS turn.

    The check that a phrase starts a word comes once, before the alternatives: repeated inside
    each one it kept the regular expression engine from skipping ahead, and the scan took four
    times as long (docs/benchmarks.md).
    """
    return re.compile(r"(?<![\w])(?:" + "|".join(f"(?:{_pattern(p)})" for p in phrases) + ")")


def _any_phrase(free_text: FreeText) -> re.Pattern[str]:
    """Every trigger's phrases in one pattern: it matches a text wherever any trigger's does.

    Most texts hold none of the phrases (a number, "yes", "no"); one search tells so, where the
    scan below searches once per trigger. Kept by the FreeText's identity: hashing one hashes
    all its triggers, and a flow's FreeText lives as long as the flow.
    """
    held = _ANY_PHRASE.get(id(free_text))
    if held is not None and held[0] is free_text:
        return held[1]
    triggers = ((free_text.crisis,) if free_text.crisis else ()) + free_text.emergency + free_text.possible
    pattern = _compiled(tuple(phrase for trigger in triggers for phrase in trigger.phrases))
    if len(_ANY_PHRASE) >= 64:  # flows reloaded many times (tests): forget the old ones
        _ANY_PHRASE.clear()
    _ANY_PHRASE[id(free_text)] = (free_text, pattern)
    return pattern


_ANY_PHRASE: dict[int, tuple[FreeText, re.Pattern[str]]] = {}


def scan_free_text(free_text: FreeText, raw: str) -> tuple[str, FreeTextTrigger] | None:
    """Find a red flag or a crisis in free text: ("crisis"|"emergency"|"possible", trigger) or None."""
    text, clause_starts = _clauses(raw)
    if not text or _any_phrase(free_text).search(text) is None:
        return None
    groups: list[tuple[str, tuple[FreeTextTrigger, ...]]] = []
    if free_text.crisis:
        groups.append(("crisis", (free_text.crisis,)))
    groups.append(("emergency", free_text.emergency))
    groups.append(("possible", free_text.possible))
    for kind, triggers in groups:
        for trigger in triggers:
            for match in _compiled(trigger.phrases).finditer(text):
                # Crisis signposting is never suppressed by a negation word.
                clause_start = max(c for c in clause_starts if c <= match.start())
                if kind == "crisis" or not _negated(text, match.start(), free_text.negations, clause_start):
                    return kind, trigger
    return None
