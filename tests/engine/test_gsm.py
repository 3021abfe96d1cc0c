"""GSM-7 / UCS-2 detection and SMS segment counting (helpline.engine.gsm)."""
from pathlib import Path

import pytest

from helpline.engine import gsm
from helpline.engine.flow import load_flow

REPO = Path(__file__).resolve().parents[2]


def test_tables_are_the_gsm_03_38_alphabet():
    assert len(gsm.BASIC) == 127  # 128 code points less the escape
    assert gsm.EXTENSION == frozenset("\f^{}\\[~]|€")
    assert not gsm.BASIC & gsm.EXTENSION


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", True),
        ("Call 999 now.", True),
        ("Go to A&E now. If you can't get there safely, call 999.", True),
        ("£5 @ 10% off: ¿¡ ÄÖÑÜ äöñüà é è Δ Ω _", True),
        ("a [b] {c} ~ | ^ \\ €", True),  # extension characters are GSM-7 too
        ("don\u2019t", False),  # curly apostrophe
        ("\u201cquoted\u201d", False),  # curly double quotes
        ("ok \U0001F44D", False),  # emoji
        ("ç", False),  # only the capital Ç is in the table
        ("\u00a0", False),  # no-break space
        ("–", False),  # en dash
        ("`", False),
    ],
)
def test_is_gsm7(text, expected):
    assert gsm.is_gsm7(text) is expected


def test_non_gsm7_lists_each_offender_once_in_order():
    assert gsm.non_gsm7("It\u2019s \U0001F600 \u2019 ok\u2013") == ["\u2019", "\U0001F600", "\u2013"]
    assert gsm.non_gsm7("plain") == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", ("GSM-7", 0)),
        ("a", ("GSM-7", 1)),
        ("a" * 160, ("GSM-7", 1)),
        ("a" * 161, ("GSM-7", 2)),
        ("a" * 306, ("GSM-7", 2)),
        ("a" * 307, ("GSM-7", 3)),
        ("€" * 80, ("GSM-7", 1)),  # 160 septets
        ("€" * 81, ("GSM-7", 2)),  # 162 septets
        ("a" * 159 + "€", ("GSM-7", 2)),  # 161 septets
        ("a" * 152 + "€" + "a" * 8, ("GSM-7", 2)),
        # an escaped character is never split: 152 + 2 does not fit in 153, so it opens part 2
        ("a" * 152 + "€" + "a" * 152, ("GSM-7", 3)),
        ("\u2019" + "a" * 69, ("UCS-2", 1)),
        ("\u2019" + "a" * 70, ("UCS-2", 2)),
        ("\u2019" + "a" * 133, ("UCS-2", 2)),  # 134 = 2 x 67
        ("\u2019" + "a" * 134, ("UCS-2", 3)),
        ("\U0001F600" * 35, ("UCS-2", 1)),  # 70 UTF-16 code units
        ("\U0001F600" * 36, ("UCS-2", 2)),  # 72 units; a surrogate pair is never split
        ("\U0001F600" * 34, ("UCS-2", 1)),
        ("a" * 66 + "\U0001F600" + "a" * 67, ("UCS-2", 3)),  # 66 + 2 > 67: the emoji opens part 2
    ],
)
def test_segments(text, expected):
    assert gsm.segments(text) == expected


def test_length_counts_septets_or_code_units():
    assert gsm.length("a€") == 3
    assert gsm.length("a\U0001F600") == 3
    assert gsm.length("a\u2019") == 2


def test_one_curly_quote_turns_a_single_sms_into_three():
    text = "URGENT: Call 999 now for an ambulance. If you cannot call, ask someone near you to call 999 for you. Do not eat or drink anything until you are seen."
    assert gsm.segments(text) == ("GSM-7", 1)
    assert gsm.segments(text.replace("cannot", "can\u2019t")) == ("UCS-2", 3)


def test_every_emergency_sms_in_the_real_flow_is_one_gsm7_segment():
    flow = load_flow(REPO / "flows" / "back_pain.yaml")
    emergency = [n for n in flow.nodes.values() if n.type == "end" and n.emergency]
    assert {n.id for n in emergency} >= {"end_d1", "end_d2", "crisis_end"}
    for node in emergency:
        assert gsm.segments(node.text.sms) == ("GSM-7", 1), node.id
