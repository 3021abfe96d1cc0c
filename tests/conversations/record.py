"""Record the expected conversations from the flow: run `python tests/conversations/record.py`.

Each file holds the keys a person presses (or texts), the questions asked in order, the ending,
the disposition and the rules that fired. The tests replay every file on voice and on SMS
through the signed webhooks (P9). Re-record after a clinical change and review the diff.
"""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from helpline.engine import Context, Input, load_flow, start, step  # noqa: E402

HERE = Path(__file__).resolve().parent
# The answer given at each node unless a conversation says otherwise: "no" to every question,
# aged 20 to 49, pain from the last 3 days and getting better: the path to self-care.
DEFAULTS = {"main_menu": "1", "age_band": "2", "age_under_20": "2", "age_over_50": "1",
            "onset": "1", "course_recent": "1", "course_longer": "1"}
CTX = Context("sms", variables={"callback_hours": "2", "routine_days": "3"})


def run(flow, overrides: dict[str, str]) -> dict:
    turn = start(flow, CTX)
    inputs, nodes = [], []
    while not turn.ended:
        node = turn.ask.node
        nodes.append(node)
        answer = overrides.get(node, DEFAULTS.get(node, "2"))
        inputs.append(answer)
        turn = step(flow, turn.state, Input.key(answer), CTX)
    return {
        "inputs": inputs,
        "expect": {
            "asked": nodes,
            "end": turn.state.end_node,
            "disposition": turn.state.disposition,
            "queue": turn.state.queue,
            "rules": [r for r in turn.state.rules if not r.startswith("ending_")],
        },
    }


def cases(flow) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {
        "self_care_d6": {},
        "prevention_advice": {"main_menu": "2"},
        "general_enquiry": {"main_menu": "3"},
        "getting_worse_d5": {"course_recent": "3"},
        "longer_same_d5": {"onset": "2", "course_longer": "2"},
        "longer_better_d6": {"onset": "2", "course_longer": "1"},
        "under_16_d3": {"age_band": "1", "age_under_20": "1"},
        "age_16_19_first_episode_d5": {"age_band": "1", "age_under_20": "2", "first_episode": "1"},
        "age_50_69_first_episode_d5": {"age_band": "3", "age_over_50": "1", "first_episode": "1"},
        "age_70_plus_d3": {"age_band": "3", "age_over_50": "2"},
        "not_sure_d1_gives_d3": {"d1_chest": "3"},
        "not_sure_d2_gives_d3": {"d2_bladder": "3"},
        "not_sure_d3_gives_d4": {"d3_fever": "3"},
        "not_sure_d4_gives_d4": {"d4_severe": "3"},
        "d3_and_d4_yes_gives_d3": {"d3_cough": "1", "d4_one_leg": "1"},
    }
    for node in flow.nodes.values():
        if node.type == "question" and node.yes:
            found[f"red_flag_{node.id}_yes"] = {node.id: "1"}
    return found


def main() -> None:
    flow = load_flow(ROOT / "flows" / "back_pain.yaml")
    for old in HERE.glob("recorded_*.yaml"):
        old.unlink()
    for name, overrides in cases(flow).items():
        record = {"name": name, "flow": flow.id, "flow_version": flow.version, **run(flow, overrides)}
        (HERE / f"recorded_{name}.yaml").write_text(yaml.safe_dump(record, sort_keys=False, width=100))
    print(f"recorded {len(cases(flow))} conversations for {flow.id} {flow.version}")


if __name__ == "__main__":
    main()
