"""Flow coverage: what the recorded conversations exercise; CI fails while a red-flag branch is uncovered."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpline import flowcoverage
from helpline.engine import load_flows, parse_flow
from simfixtures import SMALL

FLOWS = Path(__file__).resolve().parents[2] / "flows"


def test_every_red_flag_branch_is_covered_by_the_recorded_conversations():
    report = flowcoverage.measure(load_flows(FLOWS), flowcoverage.load_conversations(flowcoverage.RECORDED))
    print(flowcoverage.format_report(report))
    assert report.unknown == []
    for coverage in report.flows.values():
        assert coverage.conversations, f"no conversation recorded for {coverage.flow.id} {coverage.flow.version}"
    missing = [f"{flow_id}: {branch.id} ({branch.why})" for flow_id, branch in report.uncovered_red_flags()]
    assert missing == [], "red-flag branches no recorded conversation exercises on both channels:\n" + "\n".join(missing)


def test_red_flag_branches_are_every_d1_to_d3_yes_and_every_free_text_trigger():
    flow = load_flows(FLOWS)["back_pain"]
    red = {b.id for b in flowcoverage.red_flag_branches(flow)}
    for node in flow.nodes.values():
        if node.type == "question" and node.yes:
            assert (f"{node.id}:yes" in red) == (node.yes.disposition in ("D1", "D2", "D3"))
    triggers = len(flow.free_text.emergency) + len(flow.free_text.possible) + (1 if flow.free_text.crisis else 0)
    assert len([b for b in red if b.startswith("free_text.")]) == triggers
    assert "free_text.crisis.0" in red and "d1_chest:yes" in red and "d4_one_leg:yes" not in red


SMALL_FREE_TEXT = {**SMALL, "free_text": {
    "emergency": [{"phrases": ["chest pain"], "goto": "end_d2",
                   "raises": {"rule": "ft", "disposition": "D2", "source": "s"}}],
    "possible": [{"phrases": ["numb*"], "goto": "q_d2"}],
    "negations": ["no", "not"],
}}


@pytest.mark.parametrize("inputs, channel, nodes, branches", [
    (["1", "2", "2"], "voice", {"menu", "q_d2", "q_d4", "route", "end_d6"},
     {"menu:1", "q_d2:no", "q_d4:no", "route:D6"}),
    (["1", "2", "1"], "sms", {"menu", "q_d2", "q_d4", "route", "end_d4"},
     {"menu:1", "q_d2:no", "q_d4:yes", "route:D4"}),
    (["1", "3", "2"], "voice", {"menu", "q_d2", "q_d4", "route", "end_d4"},
     {"menu:1", "q_d2:not_sure", "q_d4:no", "route:D3"}),
    (["1", "1"], "voice", {"menu", "q_d2", "end_d2"}, {"menu:1", "q_d2:yes"}),
    (["2"], "sms", {"menu", "advice"}, {"menu:2"}),
    # Words: texted on SMS, spoken on voice; either way a trigger catches them.
    ([{"say": "I have chest pain"}], "voice", {"menu", "end_d2"}, {"free_text.emergency.0"}),
    ([{"say": "I have chest pain"}], "sms", {"menu", "end_d2"}, {"free_text.emergency.0"}),
    (["1", {"say": "my foot is numb"}, "1"], "sms", {"menu", "q_d2", "end_d2"},
     {"menu:1", "free_text.possible.0", "q_d2:yes"}),
    # A key pressed on voice is never read as words: "chest pain" keyed is no answer at all.
    (["chest pain"], "voice", {"menu"}, set()),
    (["chest pain"], "sms", {"menu", "end_d2"}, {"free_text.emergency.0"}),
    # "no chest pain" is negated: no trigger.
    ([{"say": "no chest pain"}], "sms", {"menu"}, set()),
])
def test_replay_notes_nodes_and_branches(inputs, channel, nodes, branches):
    flow = parse_flow(SMALL_FREE_TEXT)
    seen = flowcoverage.replay(flow, inputs, channel, first_text="hello")
    assert seen.nodes == nodes
    assert seen.branches == branches


def _record(inputs, version="1", name="c"):
    return {"name": name, "flow": "small", "flow_version": version, "inputs": inputs}


def test_the_report_names_uncovered_red_flags_and_which_channel_lacks_them():
    flows = {"small": parse_flow(SMALL_FREE_TEXT)}
    report = flowcoverage.measure(flows, [_record(["1", "1"]), _record(["chest pain"], name="keyed words")])
    uncovered = [b.id for _, b in report.uncovered_red_flags()]
    # Keyed words trigger on SMS only, so the emergency trigger is not covered on both channels.
    assert uncovered == ["free_text.emergency.0", "free_text.possible.0"]
    text = flowcoverage.format_report(report)
    assert "RED FLAG NOT COVERED: free_text.emergency.0 (only on sms)" in text
    assert "red flags 1/3 on both channels" in text
    assert report.flows["small"].by["q_d2:yes"] == {"c"}


def test_a_conversation_recorded_for_another_version_counts_for_nothing():
    flows = {"small": parse_flow(SMALL_FREE_TEXT)}
    report = flowcoverage.measure(flows, [_record(["1", "1"], version="0"), {**_record([]), "flow": "other"}])
    coverage = report.flows["small"]
    assert coverage.stale == ["c"] and coverage.conversations == []
    assert "q_d2:yes" in [b.id for b in coverage.uncovered_red_flags()]
    assert report.unknown == ["c"]
    assert "re-record them" in flowcoverage.format_report(report)


def test_the_report_command_exits_1_while_a_red_flag_is_uncovered(tmp_path, capsys):
    flows_dir, recorded = tmp_path / "flows", tmp_path / "recorded"
    flows_dir.mkdir()
    recorded.mkdir()
    import yaml

    (flows_dir / "small.yaml").write_text(yaml.safe_dump(SMALL_FREE_TEXT))
    (recorded / "a.yaml").write_text(yaml.safe_dump(_record(["1", "1"])))
    assert flowcoverage.main([str(recorded), str(flows_dir)]) == 1
    for name, inputs in {"b": [{"say": "chest pain"}], "c": ["1", {"say": "numb"}, "1"]}.items():
        (recorded / "more").mkdir(exist_ok=True)
        (recorded / "more" / f"{name}.yaml").write_text(yaml.safe_dump(_record(inputs, name=name)))
    assert flowcoverage.main([str(recorded), str(flows_dir)]) == 0
    assert "red flags 3/3 on both channels" in capsys.readouterr().out
