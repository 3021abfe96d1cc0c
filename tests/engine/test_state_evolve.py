"""State.evolve: what dataclasses.replace gives, for every field."""
from __future__ import annotations

from dataclasses import fields, replace

import pytest

from helpline.engine.runner import State

BASE = State(node="q_legs", disposition="D5", answers={"age": "2"}, rules=("r1",), failures=1, steps=3)
CHANGES = [
    {"node": "q_next"}, {"disposition": "D2", "rules": ("r1", "r2")}, {"answers": {"age": "2", "legs": "yes"}},
    {"failures": 0, "steps": 4}, {"resume": "q_legs"}, {"ended": True, "end_node": "end_d2", "queue": "welfare", "node": None},
    {},
]


@pytest.mark.parametrize("changes", CHANGES)
def test_evolve_is_replace(changes):
    evolved = BASE.evolve(**changes)
    assert evolved == replace(BASE, **changes)
    assert [getattr(evolved, f.name) for f in fields(State)] == [getattr(replace(BASE, **changes), f.name) for f in fields(State)]
    assert BASE == State(node="q_legs", disposition="D5", answers={"age": "2"}, rules=("r1",), failures=1, steps=3)
    with pytest.raises(AttributeError):
        evolved.node = "changed"  # still frozen


def test_an_unknown_field_is_refused_as_replace_refuses_it():
    with pytest.raises(TypeError):
        BASE.evolve(nod="typo")
