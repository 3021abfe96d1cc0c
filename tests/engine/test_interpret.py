"""Reading keys, words and free text (helpline.engine.interpret), as tables."""
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpline.engine.flow import FreeText, FreeTextTrigger, load_flow
from helpline.engine.interpret import answer_for, is_repeat, normalise, scan_free_text

REPO = Path(__file__).resolve().parents[2]
FLOW = load_flow(REPO / "flows" / "back_pain.yaml")
QUESTION = FLOW.node("d1_chest")


@pytest.mark.parametrize(
    "raw, expected",
    [
        # keys
        ("1", "yes"), ("2", "no"), ("3", "not_sure"), (" 1 ", "yes"),
        ("4", None), ("0", None), ("12", None), ("9", None),  # 9 is a repeat, handled before answers
        # words
        ("yes", "yes"), ("Yes.", "yes"), ("YES!!!", "yes"), ("y", "yes"), ("yeah", "yes"), ("yep", "yes"),
        ("aye", "yes"), ("I do", "yes"), ("I have", "yes"), ("one", "yes"), ("yes I do", "yes"),
        ("no", "no"), ("No.", "no"), ("n", "no"), ("nope", "no"), ("nah", "no"), ("none", "no"),
        ("I don't", "no"), ("I haven't", "no"), ("two", "no"), ("no not really", "no"),
        # "not sure" is never read as "no"
        ("not sure", "not_sure"), ("Not sure", "not_sure"), ("unsure", "not_sure"), ("maybe", "not_sure"),
        ("dunno", "not_sure"), ("I don't know", "not_sure"), ("dont know", "not_sure"), ("I dont know", "not_sure"),
        ("I'm not sure", "not_sure"), ("im not sure", "not_sure"), ("three", "not_sure"), ("possibly", "not_sure"),
        ("yes but not sure", "not_sure"), ("no, not sure", "not_sure"),
        # yes and no together is no answer at all
        ("yes no", None), ("yes and no", None), ("yeah nah", None), ("no yes", None),
        # emoji and curly quotes
        ("yes \U0001F44D", "yes"), ("\U0001F44D", None), ("\U0001F642", None), ("no \U0001F641", "no"),
        ("I don\u2019t know", "not_sure"), ("I don\u2019t", "no"), ("\u201cyes\u201d", "yes"),
        # empty and unrelated
        ("", None), ("   ", None), ("...", None), ("my back hurts", None),
        # a long reply counts when it opens with its answer
        ("yes I think so but only a little bit", "yes"),  # a reply that opens with its answer
        ("yes I have numbness down there", "yes"),
        ("no, nothing like that at all really", "no"),
    ],
)
def test_answer_for_a_question(raw, expected):
    assert answer_for(QUESTION, raw) == expected


@pytest.mark.parametrize(
    "node, raw, expected",
    [
        ("main_menu", "1", "1"), ("main_menu", "2", "2"), ("main_menu", "3", "3"), ("main_menu", "4", None),
        ("main_menu", "back pain", "1"), ("main_menu", "tips", "2"), ("main_menu", "call me", "3"),
        ("main_menu", "Prevention please", "2"), ("main_menu", "", None), ("main_menu", "yes", None),
        ("age_band", "under 20", "1"), ("age_band", "I'm in my thirties", "2"), ("age_band", "over 50", "3"),
        ("age_under_20", "under sixteen", "1"), ("age_under_20", "seventeen", "2"),
        ("course_recent", "getting worse", "3"), ("course_recent", "Worse\u2026", "3"), ("course_recent", "better", "1"),
        ("course_recent", "about the same", "2"), ("course_recent", "\U0001F44E", None),
    ],
)
def test_answer_for_a_menu(node, raw, expected):
    assert answer_for(FLOW.node(node), raw) == expected


def test_answer_for_a_node_that_takes_no_input():
    assert answer_for(FLOW.node("welcome"), "1") is None
    assert answer_for(FLOW.node("outcome"), "yes") is None


@pytest.mark.parametrize(
    "raw, expected",
    [("repeat", True), ("Again", True), ("pardon?", True), ("what", True), ("9", True), ("nine", True),
     ("say that again", True), ("repeat that please", False), ("yes", False), ("", False)],
)
def test_is_repeat(raw, expected):
    assert is_repeat(raw) is expected


@pytest.mark.parametrize(
    "raw, expected",
    [("  Hello,   WORLD! ", "hello world"), ("don\u2019t", "don't"), ("\u2018ok\u2019", "'ok'"),
     ("yes \U0001F44D", "yes"), ("\uff59\uff45\uff53", "yes"), ("", ""), (None, "")],
)
def test_normalise(raw, expected):
    assert normalise(raw) == expected


# --- free text ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "raw, kind, goto",
    [
        # unmistakable red flags go straight to the emergency endings
        ("I have chest pain", "emergency", "end_d1"),
        ("I collapsed in the gym", "emergency", "end_d1"),
        ("cant breathe properly", "emergency", "end_d1"),
        ("should I call 999?", "emergency", "end_d1"),
        ("I wet myself this morning", "emergency", "end_d2"),
        ("I can\u2019t feel my bum", "emergency", "end_d2"),
        ("pain down both legs", "emergency", "end_d2"),
        ("I cant pee", "emergency", "end_d2"),
        # a negation does not reach across a clause
        ("No, I have chest pain", "emergency", "end_d1"),
        ("no. chest pain since this morning", "emergency", "end_d1"),
        ("I don't have numbness but I can't feel my bum", "emergency", "end_d2"),
        ("no numbness but tingling", "possible", "d2_saddle"),
        # possible red flags jump to the question that asks about them
        ("my leg is numb", "possible", "d2_saddle"),
        ("tingling down there", "possible", "d2_saddle"),
        ("pins and needles", "possible", "d2_saddle"),
        ("it hurts when I pee", "possible", "d2_bladder"),
        ("bowels are odd", "possible", "d2_bowel"),
        ("tight chest", "possible", "d1_chest"),
        ("I felt faint", "possible", "d1_chest"),
        ("my legs feel weird", "possible", "d2_both_legs"),
        ("I dropped the bar on my back", "possible", "d1_accident"),
        ("I have a fever", "possible", "d3_fever"),
        # negated: nothing
        ("no numbness", None, None),
        ("not numb", None, None),
        ("I don't have chest pain", None, None),
        ("I do not have any chest pain", None, None),
        ("never fainted", None, None),
        ("without tingling", None, None),
        ("nope!! no chest pain, thanks", None, None),
        # nothing to see
        ("my lower back hurts after deadlifts", None, None),
        ("", None, None),
        ("\U0001F622", None, None),
        # a crisis is signposted even when it looks negated, and before any red flag
        ("I want to kill myself", "crisis", "crisis_end"),
        ("I'm not suicidal", "crisis", "crisis_end"),
        ("I don't want to kill myself", "crisis", "crisis_end"),
        ("chest pain and I want to end my life", "crisis", "crisis_end"),
        ("thinking about self harming", "crisis", "crisis_end"),
        ("I\u2019d be better off dead", "crisis", "crisis_end"),
    ],
)
def test_scan_free_text_in_the_real_flow(raw, kind, goto):
    hit = scan_free_text(FLOW.free_text, raw)
    got = (hit[0], hit[1].goto) if hit else (None, None)
    assert got == (kind, goto)


def test_emergency_wins_over_possible_and_crisis_over_both():
    ft = FreeText(
        crisis=FreeTextTrigger(("hurt myself",), "crisis"),
        emergency=(FreeTextTrigger(("chest pain",), "call_999"),),
        possible=(FreeTextTrigger(("chest",), "ask_chest"),),
        negations=("no",),
    )
    assert scan_free_text(ft, "chest pain")[1].goto == "call_999"
    assert scan_free_text(ft, "a tight chest")[1].goto == "ask_chest"
    assert scan_free_text(ft, "chest pain, I want to hurt myself")[1].goto == "crisis"
    assert scan_free_text(ft, "no chest pain") is None
    assert scan_free_text(ft, "no, no hurt myself")[0] == "crisis"


@pytest.mark.parametrize(
    "raw, hit",
    [("numb", True), ("numbness", True), ("Numbed", True), ("benumbed", False), ("unnumbered", False)],
)
def test_a_trailing_star_matches_any_ending_but_only_from_a_word_start(raw, hit):
    ft = FreeText(possible=(FreeTextTrigger(("numb*",), "q"),))
    assert (scan_free_text(ft, raw) is not None) is hit


@pytest.mark.parametrize(
    "raw, hit",
    [("no chest pain", False), ("no really bad chest pain", False), ("no it is really bad chest pain", True),
     ("not sure, chest pain", True), ("no; chest pain", True), ("none but chest pain", True)],
)
def test_a_negation_reaches_three_words_within_its_clause(raw, hit):
    ft = FreeText(emergency=(FreeTextTrigger(("chest pain",), "e"),), negations=("no", "not", "none"))
    assert (scan_free_text(ft, raw) is not None) is hit


def _words_of_the_real_flow() -> list[str]:
    ft = FLOW.free_text
    triggers = ((ft.crisis,) if ft.crisis else ()) + ft.emergency + ft.possible
    phrases = [p.rstrip("*") for t in triggers for p in t.phrases]
    # whole phrases, their words alone, endings, negations and the words around them
    return sorted({*phrases, *(w for p in phrases for w in p.split()), *ft.negations,
                   "ness", "ed", "un", "1", "yes", "and", "but", "my", "leg", "back", ",", ".", "!", "\U0001F62D"})


@given(st.lists(st.sampled_from(_words_of_the_real_flow()), max_size=12),
       st.lists(st.sampled_from([" ", "", ", "]), min_size=12, max_size=12))
@settings(max_examples=400, deadline=None)
def test_the_one_search_before_the_scan_never_hides_a_trigger(words, gaps):
    """scan_free_text first asks one pattern of every phrase whether any could match: the answer
    is the scan's own, trigger for trigger, with or without that question."""
    from helpline.engine import interpret

    raw = "".join(word + gap for word, gap in zip(words, gaps))
    quick = scan_free_text(FLOW.free_text, raw)
    always = re.compile("")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(interpret, "_any_phrase", lambda free_text: always)
        assert scan_free_text(FLOW.free_text, raw) == quick
