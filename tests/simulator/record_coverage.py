"""Record the free-text conversations that cover every free-text trigger: `python tests/simulator/record_coverage.py`.

Each case says (or texts) words that one trigger of the flow catches, then answers "yes" to a
question the trigger brings up and lets the rest of the flow take its defaults, as
tests/conversations/record.py does. The files go to tests/conversations/coverage/ in the same
format as the other recorded conversations, with `{say: words}` inputs: spoken on voice, texted on
SMS. Re-record after a clinical change and review the diff.
"""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from helpline.engine import Context, Input, load_flow, start, step  # noqa: E402
from helpline.flowcoverage import SMS_FIRST_TEXT, CONTEXT_VARIABLES  # noqa: E402

OUT = ROOT / "tests" / "conversations" / "coverage"
# The same defaults as tests/conversations/record.py: "no" to every question, the self-care path.
DEFAULTS = {"main_menu": "1", "age_band": "2", "age_under_20": "2", "age_over_50": "1",
            "onset": "1", "course_recent": "1", "course_longer": "1"}
CTX = Context("sms", variables=CONTEXT_VARIABLES)

# name: the inputs given before the defaults take over. Each sentence is caught by one trigger
# (helpline.flowcoverage names them free_text.<kind>.<index>); "1" answers the question it raises.
CASES: dict[str, list] = {
    "free_text_crisis": [{"say": "I feel like I want to end my life"}],
    "free_text_chest_pain": ["1", {"say": "I have chest pain"}],
    "free_text_wet_myself": ["1", "2", "2", "2", {"say": "I wet myself this morning"}],
    "free_text_numb": ["1", {"say": "my bum feels numb"}, "1"],
    "free_text_pee": ["1", {"say": "it hurts when I pee"}, "1"],
    "free_text_poo": ["1", {"say": "something is odd when I poo"}, "1"],
    "free_text_chest": [{"say": "my chest feels tight"}, "1"],
    "free_text_legs": ["1", {"say": "my legs feel weak"}, "1"],
    "free_text_erections": ["1", {"say": "problems with erections"}, "1"],
    "free_text_fell": ["1", {"say": "I fell off the bench"}, "1"],
    "free_text_fever": ["1", {"say": "I have a fever"}, "1"],
}


def _input(raw) -> Input:
    return Input.text(raw["say"]) if isinstance(raw, dict) else Input.key(str(raw))


def run(flow, scripted: list) -> dict:
    turn = start(flow, CTX, first_words=SMS_FIRST_TEXT)
    inputs, asked = [], []
    queue = list(scripted)
    while not turn.ended:
        node = turn.ask.node
        asked.append(node)
        raw = queue.pop(0) if queue else DEFAULTS.get(node, "2")
        inputs.append(raw)
        turn = step(flow, turn.state, _input(raw), CTX)
    if queue:
        raise SystemExit(f"the conversation ended with inputs left over: {queue}")
    return {
        "inputs": inputs,
        "expect": {
            "asked": asked,
            "end": turn.state.end_node,
            "disposition": turn.state.disposition,
            "queue": turn.state.queue,
            "rules": [r for r in turn.state.rules if not r.startswith("ending_")],
        },
    }


def main() -> None:
    flow = load_flow(ROOT / "flows" / "back_pain.yaml")
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("coverage_*.yaml"):
        old.unlink()
    for name, scripted in CASES.items():
        record = {"name": f"coverage_{name}", "flow": flow.id, "flow_version": flow.version, **run(flow, scripted)}
        (OUT / f"coverage_{name}.yaml").write_text(yaml.safe_dump(record, sort_keys=False, width=100))
    print(f"recorded {len(CASES)} free-text conversations for {flow.id} {flow.version} in {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
