"""Our encoding and segment counts against an independent one: Twilio's sms-segments-calculator (npm).

The npm package is pinned in tests/notify/oracle/package.json and installed there (git-ignored
node_modules) by this test when Node is present; without Node, npm or the package, the
comparison is skipped with the reason. The expectations written in the table are checked
against our counter whatever happens, so the table itself is never skipped.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from helpline.engine import gsm
from helpline.notify import messages

ORACLE = Path(__file__).resolve().parent / "oracle"

EURO, EMOJI = "\u20ac", "\U0001F600"

# (name, text, expected encoding, expected segments)
TRICKY = [
    ("160 plain", "x" * 160, gsm.GSM7, 1),
    ("161 plain", "x" * 161, gsm.GSM7, 2),
    ("306 plain: two full parts", "x" * 306, gsm.GSM7, 2),
    ("307 plain", "x" * 307, gsm.GSM7, 3),
    ("80 euro signs: 160 septets", EURO * 80, gsm.GSM7, 1),
    ("81 euro signs", EURO * 81, gsm.GSM7, 2),
    ("159 plain and a bracket", "x" * 159 + "[", gsm.GSM7, 2),
    ("every extension character", "|^{}[]~\\" + EURO, gsm.GSM7, 1),
    ("an escape never split across parts", "x" * 152 + "{" + "x" * 152, gsm.GSM7, 3),
    ("GSM accents stay 7-bit", "caf\u00e9 \u00e0 \u00c7a \u00dcber \u00f1", gsm.GSM7, 1),
    ("newlines", "line one\nline two\r\n", gsm.GSM7, 1),
    ("curly apostrophe", "It\u2019s fine", gsm.UCS2, 1),
    ("curly quotes", "\u201cquoted\u201d", gsm.UCS2, 1),
    ("en dash", "2\u20133 days", gsm.UCS2, 1),
    ("lowercase c-cedilla is not GSM-7", "\u00e7" * 70, gsm.UCS2, 1),
    ("71 UCS-2 characters", "\u00e7" * 71, gsm.UCS2, 2),
    ("134 UCS-2: two full parts", "\u00e7" * 134, gsm.UCS2, 2),
    ("135 UCS-2", "\u00e7" * 135, gsm.UCS2, 3),
    ("35 emoji: 70 code units", EMOJI * 35, gsm.UCS2, 1),
    ("36 emoji", EMOJI * 36, gsm.UCS2, 2),
    ("an emoji never split across parts", "a" * 66 + EMOJI + "a" * 66, gsm.UCS2, 3),
    ("one emoji in a long GSM text", "x" * 150 + EMOJI, gsm.UCS2, 3),
    ("a tab is not GSM-7", "a\tb", gsm.UCS2, 1),
]

HELPLINE_TEXTS = [
    ("unreachable safety net", messages.unreachable()),
    ("missed call", messages.missed_call(welfare=False)),
    ("missed welfare call", messages.missed_call(welfare=True)),
    ("confirmation", messages.callback_confirmation("18:00 on Wednesday 25 November", "D5")),
    ("confirmation D3", messages.callback_confirmation("12:00 today", "D3")),
    ("staff alert", messages.alert_sla("https://helpline.example.org/staff/cases/123456", "12:00")),
]


@pytest.mark.parametrize("name, text, encoding, count", TRICKY, ids=[t[0] for t in TRICKY])
def test_our_counter_on_the_tricky_table(name, text, encoding, count):
    assert gsm.segments(text) == (encoding, count)


def _oracle_ready() -> str | None:
    """None when the oracle can run, else the reason it cannot."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "Node.js and npm are not installed"
    if not (ORACLE / "node_modules" / "sms-segments-calculator").is_dir():
        try:
            done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ORACLE,
                                  capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            return "npm install of sms-segments-calculator timed out"
        if done.returncode != 0:
            return f"npm install of sms-segments-calculator failed: {done.stderr.strip()[-300:]}"
    if not (ORACLE / "node_modules" / "sms-segments-calculator").is_dir():
        return "sms-segments-calculator is not installed"
    return None


@pytest.fixture(scope="module")
def oracle():
    reason = _oracle_ready()
    if reason:
        pytest.skip(reason)

    def count(texts: list[str]) -> list[tuple[str, int]]:
        done = subprocess.run(["node", "segments.js"], cwd=ORACLE, input=json.dumps(texts), capture_output=True,
                              text=True, timeout=60, check=True)
        return [(r["encoding"], r["segments"]) for r in json.loads(done.stdout)]

    return count


def test_the_oracle_agrees_on_every_tricky_text(oracle):
    theirs = oracle([text for _, text, _, _ in TRICKY])
    ours = [gsm.segments(text) for _, text, _, _ in TRICKY]
    disagreements = [(name, o, t) for (name, *_), o, t in zip(TRICKY, ours, theirs) if o != t]
    assert disagreements == []


def test_the_oracle_agrees_on_the_help_lines_own_texts(oracle):
    theirs = oracle([text for _, text in HELPLINE_TEXTS])
    assert [gsm.segments(text) for _, text in HELPLINE_TEXTS] == theirs
    assert theirs[0] == (gsm.GSM7, 1)  # the safety net fits one GSM-7 segment by their count too
