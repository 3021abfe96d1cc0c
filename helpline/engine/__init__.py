"""The flow engine: flow definitions, validation and the runner. Imports no Flask, SQLAlchemy or Twilio."""
from .flow import Flow, FlowFormatError, Node, Text, load_flow, load_flows, parse_flow
from .runner import (
    Ask, Context, Ended, FreeTextMatched, Input, Reprompted, RuleFired, AnswerRecorded,
    State, Turn, Utterance, start, step,
)

__all__ = [
    "Flow", "FlowFormatError", "Node", "Text", "load_flow", "load_flows", "parse_flow",
    "Ask", "Context", "Ended", "FreeTextMatched", "Input", "Reprompted", "RuleFired",
    "AnswerRecorded", "State", "Turn", "Utterance", "start", "step",
]
