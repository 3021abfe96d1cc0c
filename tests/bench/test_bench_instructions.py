"""The instruction count works: whole turns run under valgrind, answered, and counted.

It checks the harness, never a figure: how many instructions a turn takes is for the benchmark
report, not a test.
"""
from __future__ import annotations

import os
import shutil

import pytest

from bench import instructions


@pytest.fixture
def needs_valgrind():
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        pytest.skip("valgrind is not installed (Debian package valgrind)")


def test_turns_are_counted_on_sqlite(needs_valgrind, tmp_path):
    point = instructions.count(f"sqlite:///{tmp_path / 'count.db'}", 40, tmp_path / "work")
    assert point["turns"] == 40 and point["instructions_per_turn"] > 0
    assert "round_trips_per_turn" not in point  # a file: no server to wait for


def test_round_trips_are_counted_on_postgresql(needs_valgrind, tmp_path):
    server = os.environ.get("HELPLINE_TEST_DATABASE_URL")
    if not server:
        pytest.skip("PostgreSQL tests need HELPLINE_TEST_DATABASE_URL")
    # A database of its own on the test server: the harness drops and rebuilds its schema.
    url = server.rsplit("/", 1)[0] + "/helpline_instructions_test"
    point = instructions.count(url, 40, tmp_path / "work")
    assert point["instructions_per_turn"] > 0 and point["round_trips_per_turn"] >= 2  # a read and a write at least


def test_without_valgrind_the_suite_says_so(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert instructions.count("sqlite:///unused.db", 10, tmp_path) == {
        "skipped": "valgrind is not installed (Debian package valgrind)"}
