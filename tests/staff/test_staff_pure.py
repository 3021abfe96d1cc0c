"""Pure rules: login back-off, queue deadlines, role access, the chart's numbers and picture."""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import pytest

from helpline.staff.chart import Series, axis_steps, nice_ceiling, short_span, time_to_callback_svg
from helpline.staff.reports import local_midnight, percentile
from helpline.staff.settings import DEFAULT_QUEUES, StaffSettings, login_delay

SVG = "{http://www.w3.org/2000/svg}"
T0 = datetime(2026, 11, 18, 10, 0)


@pytest.mark.parametrize("failures,delay", [
    (0, timedelta(0)),
    (1, timedelta(0)),
    (2, timedelta(0)),
    (3, timedelta(seconds=30)),
    (4, timedelta(seconds=60)),
    (5, timedelta(seconds=120)),
    (8, timedelta(minutes=15)),  # 30 s * 2**5 = 16 min, capped
    (9, timedelta(minutes=15)),
    (10, None),  # locked
    (50, None),
])
def test_failed_logins_slow_down_then_lock(failures, delay):
    assert login_delay(failures) == delay


def settings(**overrides) -> StaffSettings:
    return StaffSettings.from_config({"STAFF_QUEUES": DEFAULT_QUEUES, **overrides})


@pytest.mark.parametrize("queue,created,due,deadline", [
    ("welfare", T0, T0 + timedelta(hours=3), T0 + timedelta(minutes=60)),  # the welfare SLA caps it
    ("welfare", T0, T0 + timedelta(minutes=20), T0 + timedelta(minutes=20)),  # an earlier due time stands
    ("clinical", T0, T0 + timedelta(days=3), T0 + timedelta(days=3)),  # the triage's due time
    ("general", T0, T0 + timedelta(days=5), T0 + timedelta(days=5)),
    ("nonesuch", T0, T0 + timedelta(days=1), T0 + timedelta(days=1)),
])
def test_deadline_is_the_due_time_capped_by_the_queue_sla(queue, created, due, deadline):
    assert settings().deadline(queue, created, due) == deadline


@pytest.mark.parametrize("role,queues", [
    ("call_handler", ["welfare", "general"]),
    ("clinician", ["welfare", "clinical", "general"]),
    ("supervisor", ["welfare", "clinical", "general"]),
    ("admin", []),
])
def test_roles_work_their_queues(role, queues):
    assert [q.name for q in settings().queues_for(role)] == queues
    assert all(settings().may_work(role, q) for q in queues)


def test_retry_settings_come_from_config():
    s = settings(CALLBACK_MAX_ATTEMPTS=5, CALLBACK_RETRY_MINUTES=10)
    assert (s.max_attempts, s.retry_after) == (5, timedelta(minutes=10))


def test_a_queue_naming_an_unknown_role_is_refused():
    with pytest.raises(ValueError, match="unknown roles"):
        StaffSettings.from_config({"STAFF_QUEUES": {"x": {"roles": ["janitor"]}}})


@pytest.mark.parametrize("value,top", [(0, 1), (0.3, 0.5), (1, 1), (7, 10), (12, 20), (21, 25), (26, 50), (180, 200),
                                       (999, 1000)])
def test_axis_tops_are_round_numbers(value, top):
    assert nice_ceiling(value) == pytest.approx(top)


@pytest.mark.parametrize("minutes,label", [(0, "0 min"), (25, "25 min"), (89, "89 min"), (95, "1.6 h"),
                                           (1300, "21.7 h"), (3 * 24 * 60, "3.0 d")])
def test_bars_are_labelled_in_everyday_units(minutes, label):
    assert short_span(minutes) == label


@pytest.mark.parametrize("top,steps", [(1, 5), (2, 4), (2.5, 5), (5, 5), (10, 5), (20, 4), (25, 5), (50, 5), (200, 4)])
def test_gridlines_fall_on_round_values(top, steps):
    assert axis_steps(top) == steps
    step = top / steps
    assert step / 10 ** math.floor(math.log10(step)) in (1, 2, 5)


@pytest.mark.parametrize("values,fraction,expected", [
    ([5], 0.9, 5), ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9, 9), ([10, 1, 5], 0.5, 5), ([1, 2], 0.9, 2),
])
def test_nearest_rank_percentile(values, fraction, expected):
    assert percentile(values, fraction) == expected


@pytest.mark.parametrize("now,midnight", [
    (datetime(2026, 11, 18, 10, 0), datetime(2026, 11, 18, 0, 0)),  # GMT
    (datetime(2026, 7, 15, 9, 0), datetime(2026, 7, 14, 23, 0)),  # BST: London midnight is 23:00 UTC
    (datetime(2026, 7, 14, 23, 30), datetime(2026, 7, 14, 23, 0)),
])
def test_today_starts_at_london_midnight(now, midnight):
    assert local_midnight(now, "Europe/London") == midnight


TIERS = [(1, "D1"), (2, "D2"), (4, "D4"), (6, "General")]


def _bars(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]


def test_the_chart_draws_one_bar_per_tier_and_period_with_heights_in_proportion():
    svg = time_to_callback_svg(TIERS, [Series("last 7 days", {1: 10, 2: 40, 4: 80}),
                                       Series("last 30 days", {1: 20, 4: 100, 6: 50})], "Time to callback")
    bars = _bars(svg)
    assert len(bars) == 6  # tier 2 has no 30-day figure, tier 6 no 7-day one
    height = {(b.get("data-tier"), b.get("data-series")): float(b.get("height")) for b in bars}
    assert height[("4", "last 30 days")] == pytest.approx(height[("1", "last 7 days")] * 10, rel=0.01)
    assert height[("2", "last 7 days")] == pytest.approx(height[("1", "last 30 days")] * 2, rel=0.01)
    colours = {b.get("data-series"): b.get("fill") for b in bars}
    assert colours["last 7 days"] != colours["last 30 days"]
    texts = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]
    assert "last 7 days" in texts and "General" in texts and "median minutes to first call" in texts


def test_long_waits_are_drawn_in_hours_or_days():
    assert "median hours to first call" in time_to_callback_svg(TIERS, [Series("a", {4: 300})], "t")
    assert "median days to first call" in time_to_callback_svg(TIERS, [Series("a", {4: 3 * 24 * 60})], "t")


def test_an_empty_period_says_so_and_draws_no_bars():
    svg = time_to_callback_svg(TIERS, [Series("last 7 days", {}), Series("last 30 days", {})], "Time to callback")
    assert _bars(svg) == []
    assert "No callbacks in this period" in svg


def test_chart_labels_are_escaped():
    svg = time_to_callback_svg([(1, "<script>&")], [Series("a&b", {1: 5})], "x < y")
    ET.fromstring(svg)  # well-formed
    assert "<script>" not in svg
