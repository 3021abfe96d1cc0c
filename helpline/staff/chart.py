"""The time-to-callback chart as an SVG picture, built here so no script or chart library is needed.

Pure: takes numbers, returns SVG text (every label escaped by ElementTree).
"""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Mapping, Sequence

WIDTH, HEIGHT = 760, 340
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 40, 70
COLOURS = ("#1d70b8", "#f47738", "#00703c", "#912b88")  # GOV.UK palette: tells bars apart in print too


@dataclass(frozen=True)
class Series:
    name: str  # "last 7 days"
    values: Mapping[int, float | None]  # tier -> median minutes (None: no calls)


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above value (axis top)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power + 1e-9:
            return step * power
    return 10 * power


def short_span(minutes: float) -> str:
    """A bar's own label, in the unit a person would say: "25 min", "1.6 h", "3.2 d"."""
    if minutes < 90:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / (24 * 60):.1f} d"


def axis_steps(top: float) -> int:
    """Gridlines at round values: 25 in fives, 20 in fives, 10 in twos."""
    leading = top / 10 ** math.floor(math.log10(top))
    return 4 if math.isclose(leading, 2) else 5


def _unit(top_minutes: float) -> tuple[str, float]:
    if top_minutes > 48 * 60:
        return "days", 24 * 60
    if top_minutes > 180:
        return "hours", 60
    return "minutes", 1


def time_to_callback_svg(tiers: Sequence[tuple[int, str]], series: Sequence[Series], title: str) -> str:
    """Grouped bars: one group per tier, one bar per series, height = median time to first call."""
    svg = ET.Element("svg", xmlns="http://www.w3.org/2000/svg", width=str(WIDTH), height=str(HEIGHT),
                     viewBox=f"0 0 {WIDTH} {HEIGHT}", role="img", attrib={"font-family": "sans-serif", "font-size": "12"})
    ET.SubElement(svg, "title").text = title
    ET.SubElement(svg, "text", x=str(LEFT), y="20", attrib={"font-size": "15", "font-weight": "bold"}).text = title
    values = [v for s in series for v in s.values.values() if v is not None]
    unit, per = _unit(max(values) if values else 0)
    top = nice_ceiling(max(values) / per if values else 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    steps = axis_steps(top)
    for i in range(steps + 1):  # gridlines and y labels
        value = top * i / steps
        y = TOP + plot_h - plot_h * i / steps
        ET.SubElement(svg, "line", x1=str(LEFT), x2=str(WIDTH - RIGHT), y1=f"{y:.1f}", y2=f"{y:.1f}", stroke="#b1b4b6",
                      attrib={"stroke-width": "1"})
        ET.SubElement(svg, "text", x=str(LEFT - 6), y=f"{y + 4:.1f}", attrib={"text-anchor": "end"}).text = f"{value:g}"
    label = ET.SubElement(svg, "text", x="14", y=str(TOP + plot_h // 2),
                          transform=f"rotate(-90 14 {TOP + plot_h // 2})", attrib={"text-anchor": "middle"})
    label.text = f"median {unit} to first call"
    if not tiers or not values:
        ET.SubElement(svg, "text", x=str(LEFT + plot_w // 2), y=str(TOP + plot_h // 2),
                      attrib={"text-anchor": "middle", "class": "empty"}).text = "No callbacks in this period"
    group_w = plot_w / max(len(tiers), 1)
    bar_w = min(28.0, group_w * 0.8 / max(len(series), 1))
    for g, (tier, tier_name) in enumerate(tiers):
        x0 = LEFT + g * group_w + (group_w - bar_w * len(series)) / 2
        for s_index, s in enumerate(series):
            value = s.values.get(tier)
            x = x0 + s_index * bar_w
            if value is None:
                ET.SubElement(svg, "text", x=f"{x + bar_w / 2:.1f}", y=str(TOP + plot_h - 4),
                              attrib={"text-anchor": "middle", "font-size": "10"}).text = "-"
                continue
            height = plot_h * (value / per) / top
            bar = ET.SubElement(svg, "rect", x=f"{x:.1f}", y=f"{TOP + plot_h - height:.1f}", width=f"{bar_w - 2:.1f}",
                                height=f"{height:.1f}", fill=COLOURS[s_index % len(COLOURS)],
                                attrib={"class": "bar", "data-tier": str(tier), "data-series": s.name,
                                        "data-minutes": f"{value:.1f}"})
            ET.SubElement(bar, "title").text = f"{tier_name}, {s.name}: {value / per:.1f} {unit}"
            ET.SubElement(svg, "text", x=f"{x + (bar_w - 2) / 2:.1f}", y=f"{TOP + plot_h - height - 3:.1f}",
                          attrib={"text-anchor": "middle", "font-size": "9"}).text = short_span(value)
        ET.SubElement(svg, "text", x=f"{LEFT + g * group_w + group_w / 2:.1f}", y=str(TOP + plot_h + 16),
                      attrib={"text-anchor": "middle", "font-size": "11"}).text = tier_name
    for s_index, s in enumerate(series):  # legend
        x = LEFT + s_index * 150
        y = HEIGHT - 22
        ET.SubElement(svg, "rect", x=str(x), y=str(y - 10), width="12", height="12", fill=COLOURS[s_index % len(COLOURS)])
        ET.SubElement(svg, "text", x=str(x + 18), y=str(y)).text = s.name
    return ET.tostring(svg, encoding="unicode")
