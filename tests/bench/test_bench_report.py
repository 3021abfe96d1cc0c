"""The targets table judges what the issue asks, on the figures the run measured."""
from __future__ import annotations

import pytest

from bench import report


@pytest.mark.parametrize("key, words, verdict", [
    (9.6, 40.9, "met"),
    (19.1, 71.2, "**missed**"),  # a step with words is a step too, though a key press is quicker
    (51.0, 48.0, "**missed**"),
])
def test_the_engine_step_target_is_judged_on_the_dearer_step(key, words, verdict):
    micro = {"engine_step_key": {"best_us": key}, "engine_step_words": {"best_us": words}}
    [row] = [r for r in report._targets({"micro": micro}) if "engine step" in r]
    assert row.endswith(f"| {verdict} |")
