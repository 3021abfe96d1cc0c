"""The flow map: every flow drawn as a graph for clinical review (Graphviz, through `graphviz`).

Each node is filled with the colour of the most urgent disposition that its answers, or the
nodes after it, can set when the person arrives with none; an ending with its own disposition.
Route nodes pass on the disposition so far, so nothing is counted through them. Red-flag
edges (an answer that sets D1, D2 or D3, and every free-text trigger) are drawn thick and red;
edge ids name the same branches as helpline.flowcoverage.
"""
from __future__ import annotations

import textwrap
from typing import Iterable, Mapping

import click
import graphviz
from flask import Flask, current_app

from . import triage
from .engine import Flow, Node
from .engine.runner import not_sure_rule

RED_FLAG = ("D1", "D2", "D3")
FILL = {
    "D1": ("#b71c1c", "white"),
    "D2": ("#e65100", "white"),
    "D3": ("#f9a825", "black"),
    "D4": ("#fff176", "black"),
    "D5": ("#90caf9", "black"),
    "D6": ("#a5d6a7", "black"),
    None: ("#eeeeee", "black"),
}
RED = "#d50000"
FORMATS = ("svg", "png")


class GraphvizMissing(RuntimeError):
    """Graphviz's `dot` program is not installed."""


def _rule_dispositions(node: Node) -> set[str]:
    found: set[str] = set()
    if node.type == "question":
        if node.yes:
            found.add(node.yes.disposition)
        found.add(not_sure_rule(node).disposition)
    elif node.type == "menu":
        found |= {o.rule.disposition for o in node.options if o.rule}
    elif node.type == "end" and node.disposition:
        found.add(node.disposition)
    return found


def _successors(node: Node) -> list[str]:
    if node.type == "message":
        return [node.next] if node.next else []
    if node.type == "question":
        targets = [node.next] if node.next else []
        if node.yes and node.yes.goto:
            targets.append(node.yes.goto)
        return targets
    if node.type == "menu":
        return [o.next for o in node.options]
    return []  # route: the disposition so far decides; end: nothing follows


def reachable_dispositions(flow: Flow) -> dict[str, set[str]]:
    """For each node, every disposition it or the nodes after it can set (route nodes stop the walk)."""
    memo: dict[str, set[str]] = {}

    def visit(node_id: str, path: frozenset[str]) -> set[str]:
        if node_id in memo:
            return memo[node_id]
        node = flow.nodes.get(node_id)
        if node is None or node_id in path:
            return set()
        found = set(_rule_dispositions(node))
        for target in _successors(node):
            found |= visit(target, path | {node_id})
        memo[node_id] = found
        return found

    for node_id in flow.nodes:
        visit(node_id, frozenset())
    return memo


def most_urgent(codes: Iterable[str]) -> str | None:
    ranked = sorted(codes, key=lambda c: triage.RANK[c])
    return ranked[0] if ranked else None


def _wrap(text: str, width: int = 30, lines: int = 4) -> str:
    wrapped = textwrap.wrap(" ".join(text.split()), width) or [""]
    if len(wrapped) > lines:
        wrapped = wrapped[:lines]
        wrapped[-1] = wrapped[-1][: width - 3] + "..."
    return "\n".join(wrapped)


def _label(node: Node) -> str:
    if node.type == "question":
        body = "; ".join(node.items) if node.items else node.text.voice
        tier = f" [{node.tier}]" if node.tier else ""
        return f"{node.id}{tier}\n{_wrap(body)}"
    if node.type == "end":
        what = triage.LABELS.get(node.disposition or "", "") or (f"queue: {node.queue}" if node.queue else "advice")
        return f"{node.id}\n{what}"
    if node.type == "route":
        return f"{node.id}\nby disposition so far"
    return f"{node.id}\n{_wrap(node.text.sms or node.text.voice, 34, 3)}"


def _tooltip(node: Node, reach: set[str]) -> str:
    parts = [node.text.voice]
    if node.type == "question" and node.yes:
        parts.append(f"Yes: {node.yes.disposition} ({node.yes.id}; source: {node.yes.source})")
    if reach:
        parts.append("Can set: " + ", ".join(sorted(reach, key=lambda c: triage.RANK[c])))
    return " | ".join(p for p in parts if p)


SHAPES = {"message": "note", "menu": "box", "question": "box", "route": "diamond", "end": "box"}


def _edge_attrs(disposition: str | None, *, dashed: bool = False) -> dict[str, str]:
    if disposition in RED_FLAG:
        return {"color": RED, "fontcolor": RED, "penwidth": "2.5", "class": "redflag"}
    return {"style": "dashed"} if dashed else {}


def _draw_flow(graph: graphviz.Digraph, flow: Flow) -> None:
    reach = reachable_dispositions(flow)
    prefix = f"{flow.id}."
    for node in flow.nodes.values():
        colour = node.disposition if node.type == "end" and node.disposition else most_urgent(reach.get(node.id, ()))
        if node.type == "route":
            colour = None
        fill, font = FILL[colour]
        attrs = {"shape": SHAPES[node.type], "style": "filled,rounded" if node.type == "end" else "filled",
                 "fillcolor": fill, "fontcolor": font, "tooltip": _tooltip(node, reach.get(node.id, set())),
                 "id": f"node:{flow.id}:{node.id}", "class": f"node-{colour or 'none'}"}
        if node.emergency:
            attrs["penwidth"] = "3"
        if node.id == flow.start:
            attrs["peripheries"] = "2"
        graph.node(prefix + node.id, _label(node), **attrs)
    for node in flow.nodes.values():
        for src, dst, label, attrs, branch in _edges(node):
            graph.edge(prefix + src, prefix + dst, label=label, id=f"edge:{flow.id}:{branch}", **attrs)
    _draw_free_text(graph, flow)


def _edges(node: Node) -> Iterable[tuple[str, str, str, dict[str, str], str]]:
    """(from, to, label, attributes, branch id) for every way out of a node."""
    if node.type == "message" and node.next:
        yield node.id, node.next, "", {}, f"{node.id}:next"
    elif node.type == "question":
        ns = not_sure_rule(node)
        if node.yes:
            target = node.yes.goto or node.next
            attrs = _edge_attrs(node.yes.disposition)
            flag = " RED FLAG" if node.yes.disposition in RED_FLAG else ""
            yield node.id, target, f"1 yes: {node.yes.disposition}{flag}", attrs, f"{node.id}:yes"
        else:
            yield node.id, node.next, "1 yes", {}, f"{node.id}:yes"
        yield node.id, node.next, "2 no", {}, f"{node.id}:no"
        yield node.id, node.next, f"3 not sure: {ns.disposition}", {"style": "dashed"}, f"{node.id}:not_sure"
    elif node.type == "menu":
        for option in node.options:
            disposition = option.rule.disposition if option.rule else None
            label = f"{option.key} {option.label}" + (f": {disposition}" if disposition else "")
            if disposition in RED_FLAG:
                label += " RED FLAG"
            yield node.id, option.next, label, _edge_attrs(disposition), f"{node.id}:{option.key}"
    elif node.type == "route":
        for code, target in node.routes.items():
            yield node.id, target, code, {"style": "dotted"}, f"{node.id}:{code}"


def _draw_free_text(graph: graphviz.Digraph, flow: Flow) -> None:
    prefix = f"{flow.id}."
    groups = []
    if flow.free_text.crisis:
        groups.append(("crisis", 0, flow.free_text.crisis))
    groups += [("emergency", i, t) for i, t in enumerate(flow.free_text.emergency)]
    groups += [("possible", i, t) for i, t in enumerate(flow.free_text.possible)]
    for kind, index, trigger in groups:
        trigger_id = f"free_text.{kind}.{index}"
        words = ", ".join(trigger.phrases[:6]) + (", ..." if len(trigger.phrases) > 6 else "")
        graph.node(prefix + trigger_id, f"free text ({kind})\n{_wrap(words, 34, 3)}", shape="cds",
                   style="filled", fillcolor="#ffffff", fontcolor="black", id=f"node:{flow.id}:{trigger_id}",
                   tooltip="Words in any text or speech, at any point: " + ", ".join(trigger.phrases))
        disposition = trigger.rule.disposition if trigger.rule else None
        target = flow.nodes.get(trigger.goto)
        if disposition is None and target is not None and target.type == "end":
            disposition = target.disposition
        # Every trigger is a red flag: it ends in 999, A&E or crisis help, or asks a red-flag question.
        attrs = {"color": RED, "fontcolor": RED, "penwidth": "2.5", "class": "redflag"}
        if kind == "possible":
            attrs.update(style="dashed", penwidth="1.5")
        label = {"crisis": "crisis: 999 / Samaritans", "emergency": f"{disposition} RED FLAG",
                 "possible": "asks at once"}[kind]
        graph.edge(prefix + trigger_id, prefix + trigger.goto, label=label, id=f"edge:{flow.id}:{trigger_id}",
                   **attrs)


def _legend(graph: graphviz.Digraph) -> None:
    with graph.subgraph(name="cluster_legend") as legend:
        legend.attr(label="Colour: the most urgent disposition a node can lead to", fontsize="12", rank="same")
        previous = None
        for code in triage.DISPOSITIONS:
            fill, font = FILL[code]
            legend.node(f"legend.{code}", f"{code}\n{triage.LABELS[code]}", shape="box", style="filled",
                        fillcolor=fill, fontcolor=font, id=f"legend:{code}")
            if previous:
                legend.edge(previous, f"legend.{code}", style="invis")  # keeps D1 to D6 in order
            previous = f"legend.{code}"
        legend.node("legend.redflag", "red-flag answer:\nsets D1, D2 or D3", shape="box", color=RED,
                    fontcolor=RED, penwidth="2.5", id="legend:redflag")


def build(flows: Mapping[str, Flow]) -> graphviz.Digraph:
    """The map of every flow as a Graphviz graph (one cluster per flow, and a legend)."""
    graph = graphviz.Digraph("flows", graph_attr={"rankdir": "TB", "fontname": "DejaVu Sans", "nodesep": "0.3",
                                                  "ranksep": "0.4", "tooltip": "Help line flows"},
                             node_attr={"fontname": "DejaVu Sans", "fontsize": "10"},
                             edge_attr={"fontname": "DejaVu Sans", "fontsize": "9"})
    _legend(graph)
    for flow in sorted(flows.values(), key=lambda f: f.id):
        with graph.subgraph(name=f"cluster_{flow.id}") as sub:
            sub.attr(label=f"{flow.title} ({flow.id}, version {flow.version})", fontsize="16")
            _draw_flow(sub, flow)
        # An invisible edge keeps the legend above the flows rather than beside them.
        graph.edge("legend.D6", f"{flow.id}.{flow.start}", style="invis")
    return graph


def render(flows: Mapping[str, Flow], fmt: str = "svg") -> bytes:
    """Draw the map with Graphviz's dot; GraphvizMissing when dot is not installed."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    try:
        return build(flows).pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise GraphvizMissing("Graphviz's dot is not installed: apt-get install graphviz (make system-packages)") from None


def cached_svg(app: Flask) -> bytes:
    """The SVG map of the app's flows, drawn once per process (flows do not change while it runs)."""
    cache = app.extensions.setdefault("flowmap", {})
    if "svg" not in cache:
        cache["svg"] = render(app.extensions["helpline"].flows, "svg")
    return cache["svg"]


@click.command("map")
@click.option("--out", "out", default=None, help="Where to write the picture (default: flowmap.<format>).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="svg or png (default: from --out, else svg).")
def map_command(out: str | None, fmt: str | None) -> None:
    """Draw every flow as a picture for clinical review: colours by disposition, red flags in red."""
    if fmt is None:
        fmt = "png" if out and out.lower().endswith(".png") else "svg"
    out = out or f"flowmap.{fmt}"
    flows = current_app.extensions["helpline"].flows
    try:
        picture = render(flows, fmt)
    except GraphvizMissing as err:
        raise click.ClickException(str(err)) from None
    from pathlib import Path

    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(picture)
    nodes = sum(len(f.nodes) for f in flows.values())
    click.echo(f"wrote {path} ({fmt}, {len(flows)} flow(s), {nodes} nodes)")
