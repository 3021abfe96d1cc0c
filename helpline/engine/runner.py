"""The flow runner: given a flow, a state and an input, what to say next and what happened.

Pure and side-effect free: it returns a Turn (what to say, what to ask, the new state and
the events) and the caller decides what to store, send and escalate.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from .. import triage
from .flow import Flow, Node, Rule
from .interpret import answer_for, is_repeat, scan_free_text

REPEAT_KEY = "9"
MAX_FAILURES = 2  # the first failure repeats the question, the second counts as "not sure" (P5)


@dataclass(frozen=True)
class Input:
    """What arrived: a key press, words (speech or text), silence, or something unclear."""

    kind: str  # "key" | "text" | "silence" | "unclear"
    value: str = ""

    @classmethod
    def key(cls, digits: str) -> "Input":
        return cls("key", digits)

    @classmethod
    def text(cls, words: str) -> "Input":
        return cls("text", words)

    @classmethod
    def silence(cls) -> "Input":
        return cls("silence")

    @classmethod
    def unclear(cls, words: str = "") -> "Input":
        return cls("unclear", words)


@dataclass(frozen=True)
class Context:
    """What the runner needs to know about the world: channel, clock-dependent choices, wording."""

    channel: str
    d4_available: bool = True
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class State:
    node: str | None = None
    disposition: str | None = None
    answers: Mapping[str, str] = field(default_factory=dict)
    rules: tuple[str, ...] = ()
    failures: int = 0
    steps: int = 0
    resume: str | None = None
    ended: bool = False
    end_node: str | None = None
    queue: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "disposition": self.disposition,
            "answers": dict(self.answers),
            "rules": list(self.rules),
            "failures": self.failures,
            "steps": self.steps,
            "resume": self.resume,
            "ended": self.ended,
            "end_node": self.end_node,
            "queue": self.queue,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> "State":
        raw = raw or {}
        return cls(
            node=raw.get("node"),
            disposition=raw.get("disposition"),
            answers=dict(raw.get("answers") or {}),
            rules=tuple(raw.get("rules") or ()),
            failures=int(raw.get("failures") or 0),
            steps=int(raw.get("steps") or 0),
            resume=raw.get("resume"),
            ended=bool(raw.get("ended")),
            end_node=raw.get("end_node"),
            queue=raw.get("queue"),
        )

    def evolve(self, **changes: Any) -> "State":
        """dataclasses.replace(self, **changes) without its generic machinery (a sixth of the time):
        a turn makes a handful of new states (docs/benchmarks.md)."""
        if not changes.keys() <= _STATE_FIELDS:
            raise TypeError(f"State has no field {sorted(changes.keys() - _STATE_FIELDS)}")
        new = object.__new__(State)
        fields_ = new.__dict__  # frozen: the attributes are set past __setattr__, as __init__ does
        fields_.update(self.__dict__)
        fields_.update(changes)
        return new


_STATE_FIELDS = frozenset(f.name for f in fields(State))


@dataclass(frozen=True)
class Utterance:
    """One thing to say or send. Emergency utterances play twice on voice and are never cut short."""

    text: str
    emergency: bool = False


@dataclass(frozen=True)
class Ask:
    """The input the runner waits for next."""

    node: str
    kind: str  # "question" | "menu"
    keys: tuple[str, ...]
    hints: tuple[str, ...]


# Events: what happened in a turn, for the log and for escalation.
@dataclass(frozen=True)
class AnswerRecorded:
    node: str
    answer: str
    how: str  # "key", "text", "failed" (counted as not sure / fallback)


@dataclass(frozen=True)
class RuleFired:
    rule: str
    disposition: str
    source: str
    raised: bool


@dataclass(frozen=True)
class Reprompted:
    node: str
    reason: str  # "repeat", "unrecognised", "silence"


@dataclass(frozen=True)
class FreeTextMatched:
    kind: str  # "crisis" | "emergency" | "possible"
    goto: str


@dataclass(frozen=True)
class Ended:
    node: str
    disposition: str | None
    queue: str | None


@dataclass
class Turn:
    state: State
    say: list[Utterance]
    ask: Ask | None
    events: list[Any]

    @property
    def ended(self) -> bool:
        return self.state.ended


class _Format(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class _Run:
    """One turn in progress: accumulates utterances and events over an immutable state."""

    def __init__(self, flow: Flow, state: State, ctx: Context):
        self.flow, self.state, self.ctx = flow, state, ctx
        self.say: list[Utterance] = []
        self.events: list[Any] = []
        self.ask: Ask | None = None

    def text(self, node_text) -> str:
        return node_text.for_channel(self.ctx.channel).format_map(_Format(self.ctx.variables))

    def fire(self, rule: Rule) -> None:
        raised = self.state.disposition is None or triage.is_more_urgent(rule.disposition, self.state.disposition)
        self.events.append(RuleFired(rule.id, rule.disposition, rule.source, raised))
        self.state = self.state.evolve(
            disposition=triage.more_urgent(self.state.disposition, rule.disposition),
            rules=self.state.rules + ((rule.id,) if rule.id not in self.state.rules else ()),
        )

    def prompt(self, node: Node) -> None:
        text = self.text(node.text)
        if node.type == "question" and self.flow.question_hint.for_channel(self.ctx.channel):
            text = f"{text} {self.text(self.flow.question_hint)}"
        self.say.append(Utterance(text))
        keys = ("1", "2", "3") if node.type == "question" else tuple(o.key for o in node.options)
        hints: tuple[str, ...] = ()
        if node.type == "question":
            hints = ("yes", "no", "not sure")
        else:
            hints = tuple(w for o in node.options for w in o.words)
        self.ask = Ask(node.id, node.type, keys, hints)
        self.state = self.state.evolve(node=node.id)

    def advance(self, node_id: str | None) -> None:
        """Walk from node_id, saying messages, until the flow asks something or ends."""
        while node_id is not None:
            self.state = self.state.evolve(steps=self.state.steps + 1, failures=0)
            if (self.state.steps > self.flow.max_steps and node_id != self.flow.on_step_limit
                    and "step_limit" not in self.state.rules):  # jump once: the nodes after it count steps too
                self.fire(Rule("step_limit", "D4", "design: a conversation that loops is treated as unsure"))
                node_id = self.flow.on_step_limit
                self.state = self.state.evolve(resume=None)
            node = self.flow.node(node_id)
            if node.type == "message":
                self.say.append(Utterance(self.text(node.text)))
                node_id = node.next
            elif node.type == "question" and node.id in self.state.answers:
                node_id = self._after_answer(node, None)  # never ask the same question twice
            elif node.type in ("question", "menu"):
                self.prompt(node)
                return
            elif node.type == "route":
                disposition = self.state.disposition or triage.BASELINE
                if disposition == "D4" and not self.ctx.d4_available:
                    self.fire(Rule("d4_unavailable", "D3", "clinical brief: out of hours or SLA breach, D4 becomes D3"))
                    disposition = "D3"
                node_id = node.routes[disposition]
            elif node.type == "end":
                self.end(node)
                return
            else:  # pragma: no cover - validation rejects unknown types
                raise ValueError(f"unknown node type {node.type}")

    def end(self, node: Node) -> None:
        if node.disposition:
            self.fire(Rule(f"ending_{node.id}", node.disposition, "flow ending"))
        text = self.text(node.text)
        if node.safety_net and self.flow.safety_net.for_channel(self.ctx.channel):
            text = f"{text} {self.text(self.flow.safety_net)}"
        self.say.append(Utterance(text, emergency=node.emergency))
        queue = node.queue
        if queue is None and self.state.disposition is not None:
            queue = triage.QUEUE_FOR.get(self.state.disposition)
        self.state = self.state.evolve(node=None, ended=True, end_node=node.id, queue=queue, resume=None)
        self.events.append(Ended(node.id, self.state.disposition, queue))

    def _after_answer(self, node: Node, answer: str | None) -> str | None:
        resume = self.state.resume
        if answer == "yes" and node.yes and node.yes.goto:
            return node.yes.goto
        if resume and resume != node.id:
            self.state = self.state.evolve(resume=None)
            return resume
        return node.next

    def answer(self, node: Node, answer: str, how: str) -> None:
        self.state = self.state.evolve(answers={**self.state.answers, node.id: answer})
        self.events.append(AnswerRecorded(node.id, answer, how))
        if node.type == "question":
            if answer == "yes" and node.yes:
                self.fire(node.yes)
            elif answer == "not_sure":
                self.fire(not_sure_rule(node))
            self.advance(self._after_answer(node, answer))
        else:
            option = next(o for o in node.options if o.key == answer)
            if option.rule:
                self.fire(option.rule)
            self.advance(option.next)

    def free_text(self, words: str, resume_to: str | None) -> bool:
        """Act on a red flag or crisis in free text (P12). True when it moved the conversation."""
        hit = scan_free_text(self.flow.free_text, words)
        if hit is None:
            return False
        kind, trigger = hit
        self.events.append(FreeTextMatched(kind, trigger.goto))
        if trigger.rule:
            self.fire(trigger.rule)
        target = self.flow.node(trigger.goto)
        if kind == "possible" and target.type == "question":
            if target.id in self.state.answers or target.id == self.state.node:
                return False  # already answered, or the very question being asked: nothing new to ask
            self.state = self.state.evolve(resume=self.state.resume or resume_to)
            self.say = [u for u in self.say if u.text]  # keep what was already said
            self.prompt(target)
            return True
        self.advance(trigger.goto)
        return True


def not_sure_rule(node: Node) -> Rule:
    """The rule a "not sure" fires: the flow's own, or one level above the question's tier (P5)."""
    if node.not_sure:
        return node.not_sure
    tier = node.yes.disposition if node.yes else (node.tier or "D5")
    floor = "D3" if tier in ("D1", "D2") else "D4" if tier == "D3" else tier
    return Rule(f"{node.id}_not_sure", floor, "clinical brief P5: unknown goes up")


def start(flow: Flow, ctx: Context, first_words: str | None = None) -> Turn:
    """Begin a conversation; a first text is read for red flags before anything else (P12)."""
    run = _Run(flow, State(), ctx)
    if first_words:
        hit = scan_free_text(flow.free_text, first_words)
        if hit and hit[0] in ("crisis", "emergency"):
            run.free_text(first_words, None)
            return Turn(run.state, run.say, run.ask, run.events)
    run.advance(flow.start)
    if first_words and run.ask is not None and not run.state.ended:
        asked = run.ask
        if run.free_text(first_words, flow.triage_start or asked.node):
            # the menu prompt is replaced by the red-flag question
            run.say = [u for u in run.say if u.text != _prompt_text(run, flow.node(asked.node))]
    return Turn(run.state, run.say, run.ask, run.events)


def _prompt_text(run: _Run, node: Node) -> str:
    text = run.text(node.text)
    if node.type == "question" and run.flow.question_hint.for_channel(run.ctx.channel):
        text = f"{text} {run.text(run.flow.question_hint)}"
    return text


def _yes_is_more_urgent(node: Node, answer: str | None, trigger) -> bool:
    """ "yes, numb bum" at a 999 question: the yes (D1) outranks the free-text trigger (D2)."""
    if answer != "yes" or node.yes is None:
        return False
    raised = trigger.rule.disposition if trigger.rule else triage.BASELINE
    return triage.is_more_urgent(node.yes.disposition, raised)


_PRE_TRIAGE: dict[int, frozenset[str]] = {}


def _pre_triage(flow: Flow) -> frozenset[str]:
    """Nodes reached from the start without passing the first triage question (the main menu and its branches)."""
    key = id(flow)
    if key not in _PRE_TRIAGE:
        seen: set[str] = set()
        todo = [flow.start]
        while todo:
            node_id = todo.pop()
            if node_id in seen or node_id == flow.triage_start or node_id not in flow.nodes:
                continue
            seen.add(node_id)
            node = flow.nodes[node_id]
            todo.extend(t for t in (node.next, *(o.next for o in node.options), *node.routes.values()) if t)
        _PRE_TRIAGE[key] = frozenset(seen)
    return _PRE_TRIAGE[key]


def _resume_point(flow: Flow, node_id: str) -> str:
    """Where to go back to after a free-text jump: a red flag mentioned at the menu starts the triage."""
    if flow.triage_start and node_id in _pre_triage(flow):
        return flow.triage_start
    return node_id


def step(flow: Flow, state: State, inp: Input, ctx: Context) -> Turn:
    """Take one input at the node the conversation is waiting on."""
    if state.ended or state.node is None:
        raise ValueError("the conversation has ended; start a new one")
    run = _Run(flow, state, ctx)
    node = flow.node(state.node)
    if inp.kind == "key" and inp.value == REPEAT_KEY and REPEAT_KEY not in {o.key for o in node.options}:
        run.events.append(Reprompted(node.id, "repeat"))
        run.prompt(node)
        return Turn(run.state, run.say, run.ask, run.events)
    answer = answer_for(node, inp.value) if inp.kind in ("key", "text") else None
    resume_to = _resume_point(flow, node.id)
    if inp.kind == "text":
        hit = scan_free_text(flow.free_text, inp.value)
        if hit and hit[0] in ("crisis", "emergency") and not _yes_is_more_urgent(node, answer, hit[1]):
            if run.free_text(inp.value, resume_to):
                return Turn(run.state, run.say, run.ask, run.events)
    if answer is None and inp.kind == "text":
        if is_repeat(inp.value):
            run.events.append(Reprompted(node.id, "repeat"))
            run.prompt(node)
            return Turn(run.state, run.say, run.ask, run.events)
        if run.free_text(inp.value, resume_to):
            return Turn(run.state, run.say, run.ask, run.events)
    if answer is None:
        failures = state.failures + 1
        if failures < MAX_FAILURES:
            run.events.append(Reprompted(node.id, "silence" if inp.kind == "silence" else "unrecognised"))
            run.say.append(Utterance(run.text(flow.retry)))
            run.prompt(node)
            run.state = run.state.evolve(failures=failures)
            return Turn(run.state, run.say, run.ask, run.events)
        answer = "not_sure" if node.type == "question" else node.fallback
        run.answer(node, answer, "failed")
    else:
        run.answer(node, answer, inp.kind)
    return Turn(run.state, run.say, run.ask, run.events)
