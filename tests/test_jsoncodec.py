"""helpline.jsoncodec: what the standard library's json would store, read back the same."""
from __future__ import annotations

import json
from datetime import datetime

import pytest

from helpline import jsoncodec


@pytest.mark.parametrize("value", [
    {"node": "q_legs", "answers": {"legs": "yes"}, "rules": ["d2_both_legs"], "seq": 3},
    {"say": [{"text": "Call 999 now \u2013 don\u2019t wait \U0001F62D", "emergency": True}], "ask": None},
    [], {}, None, True, 0.5, "plain",
])
def test_reads_back_what_json_would(value):
    text = jsoncodec.dumps(value)
    assert isinstance(text, str)
    assert json.loads(text) == value
    assert jsoncodec.loads(text) == value == jsoncodec.loads(json.dumps(value))


def test_non_string_keys_become_strings_as_with_json():
    assert jsoncodec.loads(jsoncodec.dumps({1: "a", 2.5: "b"})) == json.loads(json.dumps({1: "a", 2.5: "b"}))


def test_unencodable_values_are_a_type_error_unless_a_default_is_given():
    with pytest.raises(TypeError):
        jsoncodec.dumps({"x": {1, 2}})
    assert jsoncodec.dumps({"x": {1}}, default=str) == '{"x":"{1}"}'
    assert jsoncodec.loads(jsoncodec.dumps({"at": datetime(2026, 1, 2, 3, 4, 5)}, default=str)) == {"at": "2026-01-02T03:04:05"}


def test_the_database_stores_json_with_it(app):
    from helpline.db import db

    engine = db.engine
    assert engine.dialect._json_serializer is jsoncodec.dumps
    assert engine.dialect._json_deserializer is jsoncodec.loads
