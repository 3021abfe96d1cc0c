"""Flow validation: is a flow well formed, and does it keep the safety properties on every path?

Pure: imports no Flask, SQLAlchemy or Twilio. `validate_flow` returns every problem it finds,
in a fixed order (schema, references, reachability, then the safety properties P1-P12), each
with a stable reason; `check_directory` loads and validates every flow file in a directory.

The path properties (P2, P4, P5, P10) are proved over an exhaustive exploration of the graph:
every state (node, disposition so far, least urgent question asked so far, whether a "not sure"
was given, which scope option was taken) reachable from the start, from a free-text trigger or
from the step limit is visited, so a property that holds here holds for every conversation
that follows the graph. The route node is checked for every disposition it can be given.
See docs/flows.md for the list of checks.
"""
from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from .. import triage
from . import gsm
from .flow import CHANNELS, Flow, FlowFormatError, FreeTextTrigger, Node, Option, Rule, load_flow
from .runner import REPEAT_KEY, not_sure_rule

DISPOSITIONS = triage.DISPOSITIONS
QUESTION_TIERS = DISPOSITIONS[:5]
EMERGENCY = ("D1", "D2")
MAX_ITEMS = 3
MAX_OPTIONS = 4
MAX_STATES = 500_000
# The least urgent "not sure" may give, by the tier of the question (P5).
NOT_SURE_FLOOR = {"D1": "D3", "D2": "D3", "D3": "D4", "D4": "D4", "D5": "D5"}


@dataclass(frozen=True)
class FlowError:
    file: str
    node: str | None
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.node or '-'}: {self.reason}"


# --- wording patterns --------------------------------------------------------------------

def _has(pattern: str, text: str) -> bool:
    return re.search(pattern, text, re.IGNORECASE) is not None


SAYS_999 = r"\b999\b|\bnine nine nine\b"
SAYS_111 = r"\b111\b|\bone one one\b"
SAYS_AE = r"\bA ?& ?E\b|\bA and E\b"
SAFETY_NET_SIGNS = (
    ("999", lambda t: _has(SAYS_999, t), "does not mention 999"),
    ("A&E", lambda t: _has(SAYS_AE, t), "does not mention A&E"),
    ("111", lambda t: _has(SAYS_111, t), "does not mention 111"),
    ("saddle", lambda t: _has(r"numb|pins and needles|tingl", t)
        and _has(r"\b(bottom|bum|buttock|genital|saddle|back passage)", t),
     "does not name numbness around the bottom or genitals"),
    ("pee/poo", lambda t: _has(r"\b(pee|wee|urine|bladder)", t) and _has(r"\b(poo|bowel)", t),
     "does not name trouble controlling pee or poo"),
    ("both legs", lambda t: _has(r"\bboth legs\b", t), "does not name symptoms in both legs"),
)
CALLBACK = re.compile(r"call you back|will call you|callback|call back", re.IGNORECASE)
PLACEHOLDER = re.compile(r"\{\w+\}")

# P7: "you have" is a conclusion unless it is asked ("Do you have ...?") or conditional ("if you have").
_YOU_HAVE = re.compile(r"\byou(?: have|'ve)\b(?:\s+[\w'-]+){0,2}", re.IGNORECASE)
_YOU_HAVE_ALLOWED_AFTER = {"if", "when", "whether", "unless", "once", "until", "case", "do", "did"}
# "this is" may only describe the service ("This is an automated service").
_THIS_IS = re.compile(r"\bthis is\b(?:\s+[\w'-]+){0,2}", re.IGNORECASE)
_THIS_IS_SERVICE = {"service", "automated", "helpline", "line", "message", "recording", "call"}
# "diagnos..." only when denied ("cannot diagnose you").
_DIAGNOS = re.compile(r"\bdiagnos\w*(?:\s+[\w'-]+)?", re.IGNORECASE)
_DENIALS = {"cannot", "can't", "cant", "not", "never", "unable", "won't", "no"}
CONDITIONS = (
    "sciatica", "slipped disc", "herniated disc", "disc herniation", "prolapsed disc", "disc prolapse",
    "cauda equina", "muscle strain", "back strain", "sprain", "spondylolysis", "spondylolisthesis",
    "stress fracture", "rhabdomyolysis", "aortic dissection", "kidney stone", "arthritis",
)
_SCOPE_UNDER_16 = re.compile(r"\bunder (16|sixteen)\b", re.IGNORECASE)
_SCOPE_WORSE = re.compile(r"\b(worse|worsening)\b", re.IGNORECASE)
_NOT_WORSE = re.compile(r"\b(no|not) worse\b", re.IGNORECASE)


def _plain(text: str) -> str:
    return text.replace("\u2019", "'").replace("\u2018", "'")


def _words_before(text: str, start: int, n: int) -> list[str]:
    return re.findall(r"[\w']+", text[:start].lower())[-n:]


def _sentences(text: str) -> Iterator[str]:
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        if sentence.strip():
            yield sentence.strip()


def conclusions(text: str) -> list[str]:
    """Phrases in a text that state a conclusion (P7): "you have sciatica", "this is a sprain", "diagnosis"."""
    text = _plain(text)
    found: list[str] = []
    for sentence in _sentences(text):
        question = sentence.endswith("?")
        for m in _YOU_HAVE.finditer(sentence):
            before = _words_before(sentence, m.start(), 1)
            if not question and not (before and before[0] in _YOU_HAVE_ALLOWED_AFTER):
                found.append(m.group(0))
        for m in _THIS_IS.finditer(sentence):
            following = re.findall(r"[\w']+", sentence[m.start():].lower())[2:8]
            if not any(w in _THIS_IS_SERVICE for w in following):
                found.append(m.group(0))
        for m in _DIAGNOS.finditer(sentence):
            if not any(w in _DENIALS for w in _words_before(sentence, m.start(), 3)):
                found.append(m.group(0))
    return found


def named_conditions(text: str) -> list[str]:
    low = _plain(text).lower()
    return [c for c in CONDITIONS if re.search(rf"\b{re.escape(c)}\b", low)]


def scope_option(option: Option) -> str | None:
    """'under 16' or 'worse' when an option puts the person out of self-care scope (P10)."""
    text = " ".join((option.label, *option.words))
    if _SCOPE_UNDER_16.search(text):
        return "under 16"
    if _SCOPE_WORSE.search(text) and not _NOT_WORSE.search(text):
        return "worse"
    return None


def _urgent(a: str, b: str) -> bool:
    """a is at least as urgent as b."""
    return triage.RANK[a] <= triage.RANK[b]


# --- the validator ---------------------------------------------------------------------

@dataclass(frozen=True)
class _State:
    node: str
    disposition: str | None
    lowest: str | None  # the least urgent question asked so far (P2)
    unsure: bool  # a "not sure" was given, or the step limit fired (P5)
    scope: tuple[str, str, str] | None  # (menu, key, why) of an under-16 or worse option (P10)


class _Validator:
    def __init__(self, flow: Flow):
        self.flow = flow
        self.file = flow.source_file or f"{flow.id}.yaml"
        self.nodes = flow.nodes
        self.found: dict[str, list[tuple[str | None, str]]] = {}

    # bookkeeping
    def add(self, check: str, node: str | None, reason: str) -> None:
        bucket = self.found.setdefault(check, [])
        if (node, reason) not in bucket:
            bucket.append((node, reason))

    ORDER = ("schema", "refs", "reach", "P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P10", "P11", "P12", "size")

    def run(self) -> list[FlowError]:
        self.schema()
        self.references()
        self.reachability()
        self.p1_emergency_first()
        self.explore()
        self.p3_immediate_exit()
        self.p4_route()
        self.p5_static()
        self.p6_safety_net()
        self.p7_no_diagnosis()
        self.p8_callbacks()
        self.p10_scope_static()
        self.p11_sms_form()
        self.p12_free_text()
        return [FlowError(self.file, node, reason) for check in self.ORDER for node, reason in self.found.get(check, ())]

    def node(self, node_id: str | None) -> Node | None:
        return self.nodes.get(node_id) if node_id is not None else None

    def free_text_triggers(self) -> Iterator[tuple[str, str, FreeTextTrigger]]:
        ft = self.flow.free_text
        if ft.crisis:
            yield "crisis", "free_text.crisis", ft.crisis
        for i, t in enumerate(ft.emergency):
            yield "emergency", f"free_text.emergency[{i}]", t
        for i, t in enumerate(ft.possible):
            yield "possible", f"free_text.possible[{i}]", t

    # schema --------------------------------------------------------------------------
    def rule(self, node: str | None, where: str, rule: Rule | None) -> None:
        if rule is None:
            return
        if rule.disposition not in DISPOSITIONS:
            self.add("schema", node, f"{where}.disposition {rule.disposition!r} is not one of D1-D6")
        if not rule.source.strip():
            self.add("schema", node, f"{where} rule {rule.id!r} has no source")

    def schema(self) -> None:
        flow = self.flow
        if not flow.version.strip():
            self.add("schema", None, "version is empty")
        for nid, node in self.nodes.items():
            if node.type != "route":
                for channel in CHANNELS:
                    if not node.text.for_channel(channel).strip():
                        self.add("schema", nid, f"no {channel} text")
            getattr(self, f"schema_{node.type}")(nid, node)
        limit = self.node(flow.on_step_limit)
        if limit is not None and limit.type not in ("route", "end"):
            self.add("schema", None, f"on_step_limit {flow.on_step_limit!r} must be a route or end node")
        for _, where, trigger in self.free_text_triggers():
            if trigger.rule is not None:
                self.rule(None, f"{where}.raises", trigger.rule)

    def schema_message(self, nid: str, node: Node) -> None:
        if node.next is None:
            self.add("schema", nid, "message needs next")

    def schema_question(self, nid: str, node: Node) -> None:
        if node.tier is None:
            self.add("schema", nid, "question needs tier")
        elif node.tier not in QUESTION_TIERS:
            self.add("schema", nid, f"tier {node.tier!r} is not one of D1-D5")
        if node.yes is None:
            self.add("schema", nid, "question needs yes")
        else:
            self.rule(nid, "yes", node.yes)
            if node.tier in QUESTION_TIERS and node.yes.disposition in DISPOSITIONS and node.tier != node.yes.disposition:
                self.add("schema", nid, f"tier {node.tier} does not match yes.disposition {node.yes.disposition}")
        self.rule(nid, "not_sure", node.not_sure)
        if node.next is None:
            self.add("schema", nid, "question needs next")
        if len(node.items) > MAX_ITEMS:
            self.add("schema", nid, f"question has {len(node.items)} items (at most {MAX_ITEMS})")

    def schema_menu(self, nid: str, node: Node) -> None:
        keys = [o.key for o in node.options]
        if not keys:
            self.add("schema", nid, "menu needs options")
        if len(keys) > MAX_OPTIONS:
            self.add("schema", nid, f"menu has {len(keys)} options (at most {MAX_OPTIONS})")
        owner: dict[str, str] = {}
        for option in node.options:
            if option.key == REPEAT_KEY:
                self.add("schema", nid, f"option key {REPEAT_KEY!r} is reserved for repeat")
            elif not re.fullmatch(r"[0-8]", option.key):
                self.add("schema", nid, f"option key {option.key!r} is not a single digit")
            if keys.count(option.key) > 1:
                self.add("schema", nid, f"option key {option.key!r} is used more than once")
            self.rule(nid, f"option {option.key} raises", option.rule)
            for word in option.words:
                if word in owner and owner[word] != option.key:
                    self.add("schema", nid, f"word {word!r} belongs to options {owner[word]} and {option.key}")
                owner.setdefault(word, option.key)
        if node.fallback is None:
            self.add("schema", nid, "menu needs fallback")
        elif keys and node.fallback not in keys:
            self.add("schema", nid, f"fallback {node.fallback!r} is not one of the option keys")

    def schema_route(self, nid: str, node: Node) -> None:
        missing = [d for d in DISPOSITIONS if d not in node.routes]
        if missing:
            self.add("schema", nid, f"route does not cover {', '.join(missing)}")
        for key, target in node.routes.items():
            if key not in DISPOSITIONS:
                self.add("schema", nid, f"route key {key!r} is not one of D1-D6")
            end = self.node(target)
            if end is not None and end.type != "end":
                self.add("schema", nid, f"route {key} goes to {target!r}, which is not an end node")

    def schema_end(self, nid: str, node: Node) -> None:
        if node.disposition is not None and node.disposition not in DISPOSITIONS:
            self.add("schema", nid, f"disposition {node.disposition!r} is not one of D1-D6")

    # references and reachability ---------------------------------------------------------
    def edges(self, node: Node) -> Iterator[tuple[str, str]]:
        """(label, target) for every reference a node makes."""
        if node.next is not None:
            yield "next", node.next
        if node.yes is not None and node.yes.goto is not None:
            yield "yes", node.yes.goto
        for option in node.options:
            yield f"option {option.key}", option.next
        for key, target in node.routes.items():
            yield f"route {key}", target

    def roots(self) -> Iterator[tuple[str, str]]:
        flow = self.flow
        yield "start", flow.start
        if flow.triage_start is not None:
            yield "triage_start", flow.triage_start
        yield "on_step_limit", flow.on_step_limit
        for _, where, trigger in self.free_text_triggers():
            yield where, trigger.goto

    def references(self) -> None:
        for where, target in self.roots():
            if target not in self.nodes:
                self.add("refs", None, f"{where} goes to missing node {target!r}")
        for nid, node in self.nodes.items():
            for label, target in self.edges(node):
                if target not in self.nodes:
                    self.add("refs", nid, f"{label} goes to missing node {target!r}")

    def reachability(self) -> None:
        seen: set[str] = set()
        todo = deque(t for _, t in self.roots() if t in self.nodes)
        while todo:
            nid = todo.popleft()
            if nid in seen:
                continue
            seen.add(nid)
            todo.extend(t for _, t in self.edges(self.nodes[nid]) if t in self.nodes and t not in seen)
        for nid in self.nodes:
            if nid not in seen:
                self.add("reach", nid, "unreachable: not reachable from start or a free-text trigger")

    # P1 -------------------------------------------------------------------------------
    def p1_emergency_first(self) -> None:
        said = {channel: [] for channel in CHANNELS}
        nid, seen = self.flow.start, set()
        while nid in self.nodes and nid not in seen:
            seen.add(nid)
            node = self.nodes[nid]
            if node.type != "message":
                break
            for channel in CHANNELS:
                said[channel].append(node.text.for_channel(channel))
            nid = node.next
        if not _has(r"\bnine nine nine\b|\b999\b", " ".join(said["voice"])):
            self.add("P1", self.flow.start, 'P1 (voice): the opening message does not say "nine nine nine"')
        if not _has(r"\b999\b", " ".join(said["sms"])):
            self.add("P1", self.flow.start, 'P1 (sms): the opening message does not contain "999"')

    # path exploration: P2, P4, P5, P10 ----------------------------------------------------
    def seeds(self) -> Iterator[_State]:
        yield _State(self.flow.start, None, None, False, None)
        for _, _, trigger in self.free_text_triggers():
            disposition = trigger.rule.disposition if trigger.rule and trigger.rule.disposition in DISPOSITIONS else None
            yield _State(trigger.goto, disposition, None, False, None)
        # The runner stops a looping conversation by firing D4 and jumping to on_step_limit.
        yield _State(self.flow.on_step_limit, "D4", None, True, None)

    def fire(self, state: _State, rule: Rule | None) -> str | None:
        if rule is None or rule.disposition not in DISPOSITIONS:
            return state.disposition
        return triage.more_urgent(state.disposition, rule.disposition)

    def successors(self, s: _State) -> Iterator[_State]:
        node = self.nodes[s.node]
        if node.type == "message":
            if node.next is not None:
                yield _State(node.next, s.disposition, s.lowest, s.unsure, s.scope)
        elif node.type == "question":
            lowest = s.lowest
            if node.tier in QUESTION_TIERS:
                low = self.node(s.lowest)
                if low is not None and triage.RANK[low.tier] > triage.RANK[node.tier]:
                    # report the first step back on a path only, then judge the rest from here
                    self.add("P2", s.node, f"P2: {node.tier} question can come after {low.id!r}, a less urgent {low.tier} question")
                    lowest = s.node
                elif low is None or triage.RANK[node.tier] > triage.RANK[low.tier]:
                    lowest = s.node
            yes_to = node.yes.goto if node.yes and node.yes.goto else node.next
            if yes_to is not None:
                yield _State(yes_to, self.fire(s, node.yes), lowest, s.unsure, s.scope)
            if node.next is not None:
                yield _State(node.next, s.disposition, lowest, s.unsure, s.scope)
                yield _State(node.next, self.fire(s, not_sure_rule(node)), lowest, True, s.scope)
        elif node.type == "menu":
            for option in node.options:
                why = scope_option(option)
                scope = s.scope or ((s.node, option.key, why) if why else None)
                yield _State(option.next, self.fire(s, option.rule), s.lowest, s.unsure, scope)
        elif node.type == "route":
            disposition = s.disposition or triage.BASELINE
            choices = [(disposition, disposition)]
            if disposition == "D4":  # out of hours or SLA breach: the runner gives D3 instead
                choices.append(("D3", "D3"))
            for key, fired in choices:
                target = node.routes.get(key)
                if target is not None:
                    yield _State(target, triage.more_urgent(s.disposition, fired), s.lowest, s.unsure, s.scope)

    def arrive(self, came_from: Node | None, s: _State) -> None:
        """Check a path that reaches an ending (routes are proved separately in p4_route)."""
        end = self.nodes[s.node]
        if end.type != "end" or (came_from is not None and came_from.type == "route"):
            return
        at = came_from.id if came_from is not None else end.id
        label = end.disposition or "no disposition"
        self_care = end.disposition == "D6" or (end.disposition is None and not end.emergency)
        if s.unsure and self_care:
            self.add("P5", at, f"P5: a path with a not-sure answer can end at {end.id!r} ({label})")
        elif s.scope and self_care:
            menu, key, why = s.scope
            self.add("P10", at, f"P10: a path through {menu!r} option {key} ({why}) can end at {end.id!r} ({label})")
        elif s.disposition is not None and not end.emergency and (
            end.disposition not in DISPOSITIONS or not _urgent(end.disposition, s.disposition)
        ):
            self.add("P4", at, f"P4: a path with {s.disposition} already set can end at {end.id!r} ({label})")

    def explore(self) -> None:
        seen: set[_State] = set()
        todo: deque[tuple[Node | None, _State]] = deque()
        for seed in self.seeds():
            if seed.node in self.nodes and seed not in seen:
                seen.add(seed)
                todo.append((None, seed))
        while todo:
            came_from, state = todo.popleft()
            self.arrive(came_from, state)
            if len(seen) > MAX_STATES:
                self.add("size", None, f"too many paths to check (more than {MAX_STATES} states)")
                return
            for nxt in self.successors(state):
                if nxt.node in self.nodes and nxt not in seen:
                    seen.add(nxt)
                    todo.append((self.nodes[state.node], nxt))
                elif nxt.node in self.nodes and self.nodes[nxt.node].type == "end":
                    self.arrive(self.nodes[state.node], nxt)

    # P3 -------------------------------------------------------------------------------
    def p3_immediate_exit(self) -> None:
        for nid, node in self.nodes.items():
            if node.type != "question" or node.yes is None:
                continue
            level = node.yes.disposition if node.yes.disposition in EMERGENCY else node.tier
            if level not in EMERGENCY:
                continue
            target = node.yes.goto
            end = self.node(target)
            if target is None:
                self.add("P3", nid, "P3: yes must go straight to an emergency ending (goto)")
            elif end is None:
                continue  # reported as a missing node
            elif end.type != "end":
                self.add("P3", nid, f"P3: yes goes to {target!r}, which is not an end node")
            elif not end.emergency:
                self.add("P3", nid, f"P3: yes goes to {target!r}, which is not an emergency ending")
            elif end.disposition not in DISPOSITIONS or not _urgent(end.disposition, level):
                self.add("P3", nid, f"P3: yes goes to {target!r}, which is less urgent than {level}")

    # P4 (the route) ---------------------------------------------------------------------
    def p4_route(self) -> None:
        for nid, node in self.nodes.items():
            if node.type != "route":
                continue
            for key in DISPOSITIONS:
                end = self.node(node.routes.get(key))
                if end is None or end.type != "end":
                    continue
                if end.disposition is None:
                    self.add("P4", nid, f"P4: route {key} goes to {end.id!r}, which has no disposition")
                elif end.disposition in DISPOSITIONS and not _urgent(end.disposition, key):
                    self.add("P4", nid, f"P4: route {key} goes to {end.id!r} ({end.disposition}), which is less urgent")

    # P5 (static) ------------------------------------------------------------------------
    def p5_static(self) -> None:
        for nid, node in self.nodes.items():
            if node.type == "question" and node.tier in QUESTION_TIERS:
                rule = not_sure_rule(node)
                floor = NOT_SURE_FLOOR[node.tier]
                if rule.disposition in DISPOSITIONS and not _urgent(rule.disposition, floor):
                    self.add("P5", nid, f"P5: not sure gives {rule.disposition}; a {node.tier} question needs at least {floor}")
            elif node.type == "menu" and node.fallback is not None:
                fallback = next((o for o in node.options if o.key == node.fallback), None)
                if fallback is None:
                    continue

                def rank(o: Option) -> int:
                    d = o.rule.disposition if o.rule else None
                    return triage.RANK.get(d, len(DISPOSITIONS))

                worst = min(node.options, key=rank)
                if rank(worst) < rank(fallback):
                    self.add("P5", nid, f"P5: fallback {fallback.key} is less urgent than option {worst.key} ({worst.rule.disposition})")

    # P6 -------------------------------------------------------------------------------
    def p6_safety_net(self) -> None:
        plain_ends = [n for n in self.nodes.values() if n.type == "end" and not n.emergency]
        for node in plain_ends:
            if not node.safety_net:
                self.add("P6", node.id, "P6: an ending that is not an emergency must have safety_net: true")
        if plain_ends:
            for channel in CHANNELS:
                text = self.flow.safety_net.for_channel(channel)
                for _, ok, missing in SAFETY_NET_SIGNS:
                    if not ok(text):
                        self.add("P6", None, f"P6: safety_net ({channel}) {missing}")
        for node in self.nodes.values():
            if node.type == "end" and node.emergency:
                for channel in CHANNELS:
                    if not _has(SAYS_999, node.text.for_channel(channel)):
                        self.add("P6", node.id, f"P6 ({channel}): an emergency ending must say 999")

    # P7 -------------------------------------------------------------------------------
    def texts(self) -> Iterator[tuple[str | None, str, str, bool]]:
        """(node, where, text, is_ending) for every text the flow can say."""
        for nid, node in self.nodes.items():
            if node.type == "route":
                continue
            for channel in CHANNELS:
                yield nid, channel, node.text.for_channel(channel), node.type == "end"
            for option in node.options:
                if option.label:
                    yield nid, f"option {option.key} label", option.label, False
        for name in ("safety_net", "retry", "question_hint"):
            for channel in CHANNELS:
                yield None, f"{name}, {channel}", getattr(self.flow, name).for_channel(channel), name == "safety_net"

    def p7_no_diagnosis(self) -> None:
        for nid, where, text, ending in self.texts():
            for phrase in conclusions(text):
                self.add("P7", nid, f'P7 ({where}): "{phrase}" states a conclusion')
            if ending:
                for name in named_conditions(text):
                    self.add("P7", nid, f'P7 ({where}): names a condition in an ending: "{name}"')

    # P8 -------------------------------------------------------------------------------
    def p8_callbacks(self) -> None:
        crisis = self.flow.free_text.crisis.goto if self.flow.free_text.crisis else None
        for nid, node in self.nodes.items():
            if node.type == "end" and (node.emergency or node.disposition in EMERGENCY or nid == crisis):
                for channel in CHANNELS:
                    m = CALLBACK.search(node.text.for_channel(channel))
                    if m:
                        self.add("P8", nid, f'P8 ({channel}): an emergency ending must not mention a callback ("{m.group(0)}")')
            if node.type == "end" and node.disposition == "D4":
                for channel in CHANNELS:
                    text = node.text.for_channel(channel)
                    if "{callback_hours}" not in text:
                        self.add("P8", nid, f"P8 ({channel}): the D4 ending does not state its time limit {{callback_hours}}")
                    if not _has(r"\bworse\b", text):
                        self.add("P8", nid, f"P8 ({channel}): the D4 ending does not say what to do if it gets worse")
                    if not _has(SAYS_111, text):
                        self.add("P8", nid, f"P8 ({channel}): the D4 ending does not say to call 111 if it gets worse")
                    if not _has(SAYS_999, text):
                        self.add("P8", nid, f"P8 ({channel}): the D4 ending does not mention 999")
            if node.type == "route":
                end = self.node(node.routes.get("D4"))
                if end is not None and (end.type != "end" or end.disposition != "D4"):
                    self.add("P8", nid, f"P8: route D4 goes to {end.id!r}, which is not a D4 ending")

    # P10 ------------------------------------------------------------------------------
    def p10_scope_static(self) -> None:
        for nid, node in self.nodes.items():
            for option in node.options:
                why = scope_option(option)
                if why is None:
                    continue
                if option.rule is None or option.rule.disposition not in DISPOSITIONS or option.rule.disposition == "D6":
                    self.add("P10", nid, f"P10: option {option.key} ({why}) must raise a disposition more urgent than D6")

    # P11 ------------------------------------------------------------------------------
    def p11_sms_form(self) -> None:
        for nid, node in self.nodes.items():
            if node.type != "end" or not node.emergency:
                continue
            sms = node.text.sms
            if node.safety_net and self.flow.safety_net.sms:
                sms = f"{sms} {self.flow.safety_net.sms}"
            for m in PLACEHOLDER.finditer(sms):
                self.add("P11", nid, f"P11: emergency sms has a placeholder {m.group(0)}; its length cannot be checked")
            bad = gsm.non_gsm7(sms)
            if bad:
                codes = ", ".join(f"U+{ord(ch):04X}" for ch in bad)
                self.add("P11", nid, f"P11: emergency sms has characters outside GSM-7 ({codes})")
            elif gsm.length(sms) > gsm.SINGLE[gsm.GSM7]:
                self.add("P11", nid, f"P11: emergency sms is {gsm.length(sms)} GSM-7 characters (one segment holds 160)")

    # P12 ------------------------------------------------------------------------------
    def p12_free_text(self) -> None:
        for kind, where, trigger in self.free_text_triggers():
            if kind == "possible":
                continue
            end = self.node(trigger.goto)
            if end is not None and (end.type != "end" or not end.emergency):
                self.add("P12", None, f"P12: {where} goes to {trigger.goto!r}, which is not an emergency ending")
            if kind == "emergency" and (trigger.rule is None or trigger.rule.disposition not in EMERGENCY):
                self.add("P12", None, f"P12: {where} must raise D1 or D2")


def validate_flow(flow: Flow) -> list[FlowError]:
    """Every problem with a flow, in a fixed order; an empty list means it may run."""
    return _Validator(flow).run()


def _one_line(reason: str) -> str:
    return " ".join(reason.split())


def check_directory(path: str | Path) -> tuple[dict[str, Flow], list[FlowError]]:
    """Load and validate every *.yaml flow in a directory.

    Returns the flows that loaded (keyed by flow id) and every error; a file that cannot be
    loaded at all gives one FlowError and no flow.
    """
    directory = Path(path)
    flows: dict[str, Flow] = {}
    errors: list[FlowError] = []
    files = sorted(directory.glob("*.yaml"))
    if not files:
        errors.append(FlowError(str(directory), None, "no flow files (*.yaml)"))
    for file in files:
        try:
            flow = load_flow(file)
        except FlowFormatError as err:
            errors.append(FlowError(err.file or file.name, err.node, _one_line(err.reason)))
            continue
        if flow.id in flows:
            errors.append(FlowError(file.name, None, f"flow id {flow.id!r} is also used by {flows[flow.id].source_file}"))
            continue
        flows[flow.id] = flow
        errors.extend(validate_flow(flow))
    return flows, errors


def format_errors(errors: Iterable[FlowError]) -> str:
    return "\n".join(str(e) for e in errors)
