"""The flow map: nodes coloured by the disposition they can lead to, red-flag edges marked."""
from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from helpline import flowcoverage, flowmap
from helpline.engine import load_flows, parse_flow
from simfixtures import SMALL, _dev_app, dev_app, dev_client  # noqa: F401  (fixtures)

FLOWS = Path(__file__).resolve().parents[2] / "flows"
SVG = "{http://www.w3.org/2000/svg}"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz's dot is not installed (make system-packages installs it)")

@pytest.mark.parametrize("node, expected", [
    ("menu", {"D2", "D3", "D4"}),   # through q_d2: yes D2, not sure D3; q_d4: yes and not sure D4
    ("q_d2", {"D2", "D3", "D4"}),
    ("q_d4", {"D4"}),               # the route passes on the disposition so far: nothing counted through it
    ("route", set()),
    ("end_d2", {"D2"}),
    ("end_d6", {"D6"}),
    ("advice", set()),
])
def test_what_each_node_can_lead_to(node, expected):
    assert flowmap.reachable_dispositions(parse_flow(SMALL))[node] == expected


@pytest.mark.parametrize("codes, expected", [(set(), None), ({"D4", "D2", "D6"}, "D2"), ({"D5"}, "D5")])
def test_most_urgent(codes, expected):
    assert flowmap.most_urgent(codes) == expected


def _edges(source: str) -> dict[str, str]:
    """Edge id -> its attribute text, from the Graphviz source."""
    found = {}
    for line in source.splitlines():
        match = re.search(r'id="edge:([^"]+)"', line)
        if match and "->" in line:
            found[match.group(1)] = line
    return found


def test_every_red_flag_branch_is_drawn_red_and_no_other():
    flows = load_flows(FLOWS)
    edges = _edges(flowmap.build(flows).source)
    for flow in flows.values():
        red = {b.id for b in flowcoverage.red_flag_branches(flow)}
        drawn = {edge.split(":", 1)[1] for edge in edges if edge.startswith(f"{flow.id}:")}
        # The map and the coverage report name the same branches.
        assert drawn == {b.id for b in flowcoverage.branches(flow)} | {
            f"{n.id}:next" for n in flow.nodes.values() if n.type == "message" and n.next}
        for branch in drawn:
            line = edges[f"{flow.id}:{branch}"]
            assert ('class=redflag' in line) == (branch in red), line
            assert (flowmap.RED in line) == (branch in red), line


def _shape(group: ET.Element) -> ET.Element:
    """The first drawn shape in a node or edge group (a tooltip wraps it in a link; rounded boxes are paths)."""
    return next(e for e in group.iter() if e.tag in (f"{SVG}polygon", f"{SVG}path", f"{SVG}ellipse"))


@needs_dot
def test_the_svg_colours_nodes_and_marks_red_flags():
    flows = load_flows(FLOWS)
    root = ET.fromstring(flowmap.render(flows, "svg"))
    groups = {g.get("id"): g for g in root.iter(f"{SVG}g") if g.get("id")}
    flow = flows["back_pain"]
    reach = flowmap.reachable_dispositions(flow)

    def fill(node_id: str) -> str:
        return _shape(groups[f"node:back_pain:{node_id}"]).get("fill")

    for node in flow.nodes.values():
        if node.type == "end" and node.disposition:
            expected = node.disposition
        elif node.type == "route":
            expected = None
        else:
            expected = flowmap.most_urgent(reach[node.id])
        assert fill(node.id) == flowmap.FILL[expected][0], node.id
    tiers = {n.tier: n.id for n in flow.nodes.values() if n.type == "question" and n.id.startswith(("d1_", "d2_"))}
    assert fill(tiers["D1"]) == flowmap.FILL["D1"][0] and fill(tiers["D2"]) == flowmap.FILL["D2"][0]
    for branch in flowcoverage.red_flag_branches(flow):
        edge = groups[f"edge:back_pain:{branch.id}"]
        assert "redflag" in edge.get("class")
        assert _shape(edge).get("stroke") == flowmap.RED


@needs_dot
@pytest.mark.parametrize("args, name, magic", [
    (["--out", "{dir}/map.svg"], "map.svg", b"<?xml"),
    (["--out", "{dir}/map.png"], "map.png", b"\x89PNG"),
    (["--out", "{dir}/picture", "--format", "png"], "picture", b"\x89PNG"),
])
def test_flows_map_command_writes_the_picture(runner, tmp_path, args, name, magic):
    result = runner.invoke(args=["flows", "map", *[a.format(dir=tmp_path) for a in args]])
    assert result.exit_code == 0, result.output
    assert (tmp_path / name).read_bytes().startswith(magic)
    assert f"wrote {tmp_path / name}" in result.output


def test_flows_map_without_graphviz_says_how_to_install_it(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot on this PATH
    result = runner.invoke(args=["flows", "map", "--out", str(tmp_path / "map.svg")])
    assert result.exit_code == 1
    assert "apt-get install graphviz" in result.output
    assert not (tmp_path / "map.svg").exists()


@needs_dot
def test_the_dashboard_link_serves_the_svg(dev_client):
    response = dev_client.get("/flows/map")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    root = ET.fromstring(response.data)
    ids = {g.get("id") for g in root.iter(f"{SVG}g")}
    assert "node:back_pain:d1_chest" in ids and "node:back_pain:end_d1" in ids
