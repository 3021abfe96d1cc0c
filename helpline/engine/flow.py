"""Flow definitions: the scripted menus as typed, immutable data.

A flow is loaded from YAML (see docs/flows.md for the format) into these types. Loading
only shapes the data; `validate.py` decides whether it is safe to run.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

SPEC_VERSION = 1
CHANNELS = ("voice", "sms")
NODE_TYPES = ("message", "menu", "question", "route", "end")
ANSWERS = ("yes", "no", "not_sure")


@dataclass(frozen=True)
class Text:
    """Wording for both channels; voice and sms differ only where they must."""

    voice: str
    sms: str

    def for_channel(self, channel: str) -> str:
        return self.voice if channel == "voice" else self.sms

    @classmethod
    def parse(cls, raw: Any) -> "Text":
        if raw is None:
            return cls("", "")
        if isinstance(raw, str):
            return cls(raw.strip(), raw.strip())
        if isinstance(raw, Mapping):
            return cls(str(raw.get("voice", "")).strip(), str(raw.get("sms", "")).strip())
        raise FlowFormatError(f"text must be a string or a mapping of voice/sms, not {type(raw).__name__}")


@dataclass(frozen=True)
class Rule:
    """A triage rule: the disposition an answer sets, and where that rule comes from."""

    id: str
    disposition: str
    source: str = ""
    goto: str | None = None


@dataclass(frozen=True)
class Option:
    key: str
    label: str
    words: tuple[str, ...]
    next: str
    rule: Rule | None = None


@dataclass(frozen=True)
class Node:
    id: str
    type: str
    text: Text
    next: str | None = None
    tier: str | None = None
    items: tuple[str, ...] = ()
    yes: Rule | None = None
    not_sure: Rule | None = None
    options: tuple[Option, ...] = ()
    fallback: str | None = None
    routes: Mapping[str, str] = field(default_factory=dict)
    disposition: str | None = None
    queue: str | None = None
    safety_net: bool = True
    emergency: bool = False


@dataclass(frozen=True)
class FreeTextTrigger:
    """Phrases in free text that move the conversation (P12)."""

    phrases: tuple[str, ...]
    goto: str
    rule: Rule | None = None


@dataclass(frozen=True)
class FreeText:
    crisis: FreeTextTrigger | None = None
    emergency: tuple[FreeTextTrigger, ...] = ()
    possible: tuple[FreeTextTrigger, ...] = ()
    negations: tuple[str, ...] = ()


@dataclass(frozen=True)
class Flow:
    id: str
    version: str
    spec_version: int
    title: str
    start: str
    nodes: Mapping[str, Node]
    safety_net: Text
    retry: Text
    free_text: FreeText
    on_step_limit: str
    question_hint: Text = Text("", "")
    triage_start: str | None = None
    max_steps: int = 120
    source_file: str = ""

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]


class FlowFormatError(ValueError):
    """The flow file cannot be read as a flow at all."""

    def __init__(self, reason: str, node: str | None = None, file: str = ""):
        self.reason, self.node, self.file = reason, node, file
        where = ":".join(p for p in (file, node or "") if p)
        super().__init__(f"{where}: {reason}" if where else reason)


def _rule(raw: Any, where: str) -> Rule | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise FlowFormatError(f"{where} must be a mapping with rule, disposition and source")
    try:
        return Rule(
            id=str(raw["rule"]),
            disposition=str(raw["disposition"]),
            source=str(raw.get("source", "")),
            goto=raw.get("goto"),
        )
    except KeyError as missing:
        raise FlowFormatError(f"{where} is missing {missing.args[0]}") from None


def _trigger(raw: Mapping, where: str) -> FreeTextTrigger:
    if "goto" not in raw or "phrases" not in raw:
        raise FlowFormatError(f"{where} needs phrases and goto")
    return FreeTextTrigger(
        phrases=tuple(str(p).lower() for p in raw["phrases"]),
        goto=str(raw["goto"]),
        rule=_rule(raw.get("raises"), f"{where}.raises"),
    )


def _node(node_id: str, raw: Mapping) -> Node:
    if not isinstance(raw, Mapping):
        raise FlowFormatError("a node must be a mapping", node_id)
    node_type = raw.get("type")
    if node_type not in NODE_TYPES:
        raise FlowFormatError(f"unknown node type {node_type!r} (one of {', '.join(NODE_TYPES)})", node_id)
    options = []
    for index, opt in enumerate(raw.get("options") or ()):
        if not isinstance(opt, Mapping) or "key" not in opt or "next" not in opt:
            raise FlowFormatError(f"option {index + 1} needs key and next", node_id)
        options.append(
            Option(
                key=str(opt["key"]),
                label=str(opt.get("label", "")),
                words=tuple(str(w).lower() for w in opt.get("words") or ()),
                next=str(opt["next"]),
                rule=_rule(opt.get("raises"), f"option {opt['key']}.raises"),
            )
        )
    try:
        return Node(
            id=node_id,
            type=node_type,
            text=Text.parse(raw.get("text")),
            next=raw.get("next"),
            tier=raw.get("tier"),
            items=tuple(str(i) for i in raw.get("items") or ()),
            # YAML 1.1 reads a bare `yes:` key as the boolean True.
            yes=_rule(raw.get("yes", raw.get(True)), "yes"),
            not_sure=_rule(raw.get("not_sure"), "not_sure"),
            options=tuple(options),
            fallback=None if raw.get("fallback") is None else str(raw["fallback"]),
            routes={str(k): str(v) for k, v in (raw.get("routes") or {}).items()},
            disposition=raw.get("disposition"),
            queue=raw.get("queue"),
            safety_net=bool(raw.get("safety_net", True)),
            emergency=bool(raw.get("emergency", False)),
        )
    except FlowFormatError as err:
        raise FlowFormatError(err.reason, node_id) from None


def parse_flow(raw: Any, source_file: str = "") -> Flow:
    """Shape a mapping (as read from YAML) into a Flow, or raise FlowFormatError."""
    try:
        if not isinstance(raw, Mapping):
            raise FlowFormatError("a flow file must hold a mapping")
        for key in ("spec_version", "flow", "version", "start", "nodes", "on_step_limit"):
            if key not in raw:
                raise FlowFormatError(f"missing top-level key {key!r}")
        if raw["spec_version"] != SPEC_VERSION:
            raise FlowFormatError(f"spec_version {raw['spec_version']!r} is not supported (expected {SPEC_VERSION})")
        if not isinstance(raw["nodes"], Mapping) or not raw["nodes"]:
            raise FlowFormatError("nodes must be a non-empty mapping")
        nodes = {str(k): _node(str(k), v) for k, v in raw["nodes"].items()}
        ft = raw.get("free_text") or {}
        free_text = FreeText(
            crisis=_trigger(ft["crisis"], "free_text.crisis") if ft.get("crisis") else None,
            emergency=tuple(_trigger(t, f"free_text.emergency[{i}]") for i, t in enumerate(ft.get("emergency") or ())),
            possible=tuple(_trigger(t, f"free_text.possible[{i}]") for i, t in enumerate(ft.get("possible") or ())),
            negations=tuple(str(n).lower() for n in ft.get("negations") or ()),
        )
        return Flow(
            id=str(raw["flow"]),
            version=str(raw["version"]),
            spec_version=int(raw["spec_version"]),
            title=str(raw.get("title", raw["flow"])),
            start=str(raw["start"]),
            nodes=nodes,
            safety_net=Text.parse(raw.get("safety_net")),
            retry=Text.parse(raw.get("retry") or "Sorry, I did not get that."),
            free_text=free_text,
            on_step_limit=str(raw["on_step_limit"]),
            question_hint=Text.parse(raw.get("question_hint")),
            triage_start=raw.get("triage_start"),
            max_steps=int(raw.get("max_steps", 120)),
            source_file=source_file,
        )
    except FlowFormatError as err:
        err.file = err.file or source_file
        raise FlowFormatError(err.reason, err.node, err.file) from None


def load_flow(path: str | Path) -> Flow:
    """Read one flow file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise FlowFormatError(f"not valid YAML: {err}", file=path.name) from None
    return parse_flow(raw, path.name)


def load_flows(directory: str | Path) -> dict[str, Flow]:
    """Read every *.yaml flow in a directory, keyed by flow id."""
    flows: dict[str, Flow] = {}
    for path in sorted(Path(directory).glob("*.yaml")):
        flow = load_flow(path)
        flows[flow.id] = flow
    return flows
