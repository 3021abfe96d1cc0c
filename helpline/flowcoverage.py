"""Flow coverage: which nodes and branches the recorded conversations exercise.

Each recorded conversation (tests/conversations/*.yaml) is replayed through the flow engine on
both channels, as the webhooks feed it: on voice a key is pressed and words are spoken; on SMS
both are texted, after the same first text the recorded-conversation tests send. The runner is
given a flow that notes every node it visits, so message and route nodes count too.

A branch is one way out of a node: `node:yes|no|not_sure` for a question, `node:<key>` for a
menu option, `node:<disposition>` for a route, `free_text.<kind>.<index>` for a free-text
trigger. Red-flag branches, which CI requires to be covered on both channels, are every `yes`
of a question whose rule sets D1, D2 or D3, every menu option that sets D1-D3, and every
free-text trigger.

An input is a key (pressed on voice, texted on SMS) or `{say: words}` (spoken on voice with a
confident SpeechResult, texted on SMS). A conversation recorded for another version of its flow
counts for nothing until it is recorded again. Run `python -m helpline.flowcoverage` for the report.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from .engine import Context, Flow, FreeTextMatched, Input, load_flows, start, step
from .engine.runner import AnswerRecorded
from .engine.interpret import scan_free_text

ROOT = Path(__file__).resolve().parent.parent
RECORDED = ROOT / "tests" / "conversations"
RED_FLAG = ("D1", "D2", "D3")
CHANNELS = ("voice", "sms")
# What tests/web/test_recorded.py texts before the recorded inputs on SMS.
SMS_FIRST_TEXT = "Hi, I hurt my back at the gym"
CONTEXT_VARIABLES = {"callback_hours": "2", "routine_days": "3"}


@dataclass(frozen=True)
class Branch:
    node: str
    way: str
    red_flag: bool
    why: str = ""

    @property
    def id(self) -> str:
        return f"{self.node}:{self.way}" if not self.node.startswith("free_text.") else self.node


def _trigger_ids(flow: Flow) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    if flow.free_text.crisis:
        found.append(("free_text.crisis.0", flow.free_text.crisis))
    found += [(f"free_text.emergency.{i}", t) for i, t in enumerate(flow.free_text.emergency)]
    found += [(f"free_text.possible.{i}", t) for i, t in enumerate(flow.free_text.possible)]
    return found


def branches(flow: Flow) -> list[Branch]:
    """Every branch of a flow, red-flag ones marked."""
    found: list[Branch] = []
    for node in flow.nodes.values():
        if node.type == "question":
            red = bool(node.yes and node.yes.disposition in RED_FLAG)
            why = f"yes sets {node.yes.disposition} ({node.yes.id})" if node.yes else ""
            found.append(Branch(node.id, "yes", red, why))
            found.append(Branch(node.id, "no", False))
            found.append(Branch(node.id, "not_sure", False))
        elif node.type == "menu":
            for option in node.options:
                rule = option.rule
                red = bool(rule and rule.disposition in RED_FLAG)
                found.append(Branch(node.id, option.key, red, f"sets {rule.disposition} ({rule.id})" if rule else ""))
        elif node.type == "route":
            found += [Branch(node.id, code, False) for code in node.routes]
    for trigger_id, trigger in _trigger_ids(flow):
        found.append(Branch(trigger_id, "", True, f"free text: {', '.join(trigger.phrases[:4])} -> {trigger.goto}"))
    return found


def red_flag_branches(flow: Flow) -> list[Branch]:
    return [b for b in branches(flow) if b.red_flag]


# --- Replaying a recorded conversation ------------------------------------------------

@dataclass(frozen=True)
class _TracedFlow(Flow):
    """The flow as the runner sees it, noting each node it looks up (every node it visits)."""

    trace: list = field(default_factory=list, compare=False, hash=False)

    def node(self, node_id: str):  # type: ignore[override]
        self.trace.append(node_id)
        return self.nodes[node_id]


def _traced(flow: Flow) -> _TracedFlow:
    return _TracedFlow(**{f.name: getattr(flow, f.name) for f in fields(flow)}, trace=[])


@dataclass
class Exercised:
    nodes: set[str] = field(default_factory=set)
    branches: set[str] = field(default_factory=set)
    ended: str | None = None
    disposition: str | None = None


def _input(raw: Any, channel: str) -> tuple[Input, str | None]:
    """A recorded input as the webhook would hand it to the engine: (input, words if any)."""
    if isinstance(raw, Mapping):
        words = str(raw.get("say", raw.get("text", "")))
        return Input.text(words), words
    key = str(raw)
    return (Input.key(key), None) if channel == "voice" else (Input.text(key), key)


def _free_text_branch(flow: Flow, words: str) -> str | None:
    hit = scan_free_text(flow.free_text, words)
    if hit is None:
        return None
    for trigger_id, trigger in _trigger_ids(flow):
        if trigger is hit[1]:
            return trigger_id
    return None


def _note(flow: Flow, turn, words: str | None, seen: Exercised) -> None:
    for event in turn.events:
        if isinstance(event, AnswerRecorded):
            seen.branches.add(f"{event.node}:{event.answer}")
        elif isinstance(event, FreeTextMatched) and words is not None:
            branch = _free_text_branch(flow, words)
            if branch:
                seen.branches.add(branch)


def _routes_taken(flow: Flow, trace: list[str], seen: Exercised) -> None:
    for here, after in zip(trace, trace[1:]):
        node = flow.nodes.get(here)
        if node is not None and node.type == "route":
            codes = [code for code, target in node.routes.items() if target == after]
            if len(codes) > 1 and seen.disposition in codes:
                codes = [seen.disposition]
            seen.branches.update(f"{here}:{code}" for code in codes)


def replay(flow: Flow, inputs: Iterable[Any], channel: str, first_text: str = SMS_FIRST_TEXT) -> Exercised:
    """Run one recorded conversation through the engine and note what it exercised."""
    traced = _traced(flow)
    ctx = Context(channel, variables=CONTEXT_VARIABLES)
    seen = Exercised()
    words = first_text if channel == "sms" else None
    turn = start(traced, ctx, first_words=words)
    _note(flow, turn, words, seen)
    for raw in inputs:
        if turn.ended:
            break
        inp, words = _input(raw, channel)
        turn = step(traced, turn.state, inp, ctx)
        _note(flow, turn, words, seen)
    seen.ended = turn.state.end_node
    seen.disposition = turn.state.disposition
    seen.nodes = set(traced.trace)
    _routes_taken(flow, traced.trace, seen)
    return seen


# --- The report ----------------------------------------------------------------------

@dataclass
class FlowCoverage:
    flow: Flow
    nodes: dict[str, set[str]] = field(default_factory=dict)      # channel -> nodes
    branches: dict[str, set[str]] = field(default_factory=dict)   # channel -> branch ids
    by: dict[str, set[str]] = field(default_factory=dict)         # branch id -> conversation names
    conversations: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)                # recorded for another flow version

    def covered(self, branch: Branch) -> bool:
        """Covered on every channel."""
        return all(branch.id in self.branches.get(c, set()) for c in CHANNELS)

    def uncovered_red_flags(self) -> list[Branch]:
        return [b for b in red_flag_branches(self.flow) if not self.covered(b)]

    def uncovered_nodes(self) -> list[str]:
        return [n for n in self.flow.nodes if not all(n in self.nodes.get(c, set()) for c in CHANNELS)]


@dataclass
class Report:
    flows: dict[str, FlowCoverage]
    unknown: list[str] = field(default_factory=list)  # conversations for a flow that is not loaded

    def uncovered_red_flags(self) -> list[tuple[str, Branch]]:
        return [(fid, b) for fid, fc in self.flows.items() for b in fc.uncovered_red_flags()]


def load_conversations(directory: str | Path) -> list[dict[str, Any]]:
    """Every recorded conversation under a directory (YAML), each with its file name."""
    found = []
    for path in sorted(Path(directory).rglob("*.yaml")):
        record = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(record, Mapping) and "inputs" in record:
            found.append({**record, "_file": path.name})
    return found


def measure(flows: Mapping[str, Flow], conversations: Iterable[Mapping[str, Any]]) -> Report:
    """Replay every conversation on both channels; collect what each flow had exercised."""
    report = Report({fid: FlowCoverage(flow) for fid, flow in flows.items()})
    for record in conversations:
        name = str(record.get("name") or record.get("_file"))
        flow_id = str(record.get("flow", ""))
        coverage = report.flows.get(flow_id)
        if coverage is None:
            report.unknown.append(name)
            continue
        if str(record.get("flow_version", "")) != coverage.flow.version:
            # Recorded against another version: its keys may mean other answers now, so it proves nothing.
            coverage.stale.append(name)
            continue
        coverage.conversations.append(name)
        for channel in CHANNELS:
            seen = replay(coverage.flow, record.get("inputs") or [], channel,
                          str(record.get("first_text", SMS_FIRST_TEXT)))
            coverage.nodes.setdefault(channel, set()).update(seen.nodes)
            coverage.branches.setdefault(channel, set()).update(seen.branches)
            for branch in seen.branches:
                coverage.by.setdefault(branch, set()).add(name)
    return report


def format_report(report: Report) -> str:
    lines: list[str] = []
    for flow_id, fc in sorted(report.flows.items()):
        all_branches = branches(fc.flow)
        covered = [b for b in all_branches if fc.covered(b)]
        red = red_flag_branches(fc.flow)
        red_covered = [b for b in red if fc.covered(b)]
        nodes_covered = len(fc.flow.nodes) - len(fc.uncovered_nodes())
        lines.append(f"{flow_id} version {fc.flow.version}: {len(fc.conversations)} recorded conversation(s)")
        lines.append(f"  nodes     {nodes_covered}/{len(fc.flow.nodes)} on both channels")
        lines.append(f"  branches  {len(covered)}/{len(all_branches)} on both channels")
        lines.append(f"  red flags {len(red_covered)}/{len(red)} on both channels")
        for node in fc.uncovered_nodes():
            lines.append(f"  - node not reached: {node}")
        for branch in all_branches:
            if fc.covered(branch):
                continue
            channels = [c for c in CHANNELS if branch.id in fc.branches.get(c, set())]
            partly = f" (only on {', '.join(channels)})" if channels else ""
            flag = "RED FLAG NOT COVERED" if branch.red_flag else "not covered"
            lines.append(f"  - {flag}: {branch.id}{partly}{'  ' + branch.why if branch.why else ''}")
        if fc.stale:
            lines.append(f"  ! not counted, recorded for another version of the flow (re-record them): "
                         f"{', '.join(sorted(fc.stale))}")
    for name in report.unknown:
        lines.append(f"! {name}: its flow is not loaded")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """python -m helpline.flowcoverage [conversations dir] [flows dir]: print the report; 1 if a red flag is uncovered."""
    args = list(sys.argv[1:] if argv is None else argv)
    conversations_dir = Path(args[0]) if args else RECORDED
    flows_dir = Path(args[1]) if len(args) > 1 else ROOT / "flows"
    report = measure(load_flows(flows_dir), load_conversations(conversations_dir))
    print(format_report(report))
    return 1 if report.uncovered_red_flags() else 0


if __name__ == "__main__":
    sys.exit(main())
