"""The free-text scan's patterns: the word-start check once, before the alternatives, finds
exactly what the check repeated in each alternative found."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpline.engine import interpret
from helpline.engine.validate import check_directory

FLOWS, _ = check_directory(str(Path(__file__).resolve().parents[2] / "flows"))


def _old(phrases: tuple[str, ...]) -> re.Pattern[str]:
    def pattern(phrase: str) -> str:
        if phrase.endswith("*"):
            return rf"(?<![\w]){re.escape(phrase[:-1])}"
        return rf"(?<![\w]){re.escape(phrase)}(?![\w])"
    return re.compile("|".join(f"(?:{pattern(p)})" for p in phrases))


TRIGGERS = [t for flow in FLOWS.values() if flow.free_text for t in
            ((flow.free_text.crisis,) if flow.free_text.crisis else ()) + tuple(flow.free_text.emergency)
            + tuple(flow.free_text.possible)]
PHRASES = sorted({p.rstrip("*") for t in TRIGGERS for p in t.phrases})
TEXTS = ["no, nothing like that", "i feel numb in my saddle area", "unnumbed", "numbness", "self-harm",
         "i want to die", "diet", "can't pee", "my legs are weak and numb", "not numb but tingling"]


@pytest.mark.parametrize("text", TEXTS)
def test_the_same_matches_as_before(text):
    assert TRIGGERS
    for trigger in TRIGGERS:
        new, old = interpret._compiled(trigger.phrases), _old(trigger.phrases)
        assert [m.span() for m in new.finditer(text)] == [m.span() for m in old.finditer(text)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PHRASES + ["a", "x", "un", "ness", "-", " ", ",", "'"]), max_size=8))
def test_the_same_matches_for_any_mix_of_phrases_and_word_pieces(pieces):
    text = "".join(pieces)
    for trigger in TRIGGERS:
        new, old = interpret._compiled(trigger.phrases), _old(trigger.phrases)
        assert [m.span() for m in new.finditer(text)] == [m.span() for m in old.finditer(text)]
