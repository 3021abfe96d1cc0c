"""Flow validation (helpline.engine.validate): broken fixtures, mutations of good flows, the real flows."""
from __future__ import annotations

import copy
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from helpline.engine.flow import Option, load_flow, parse_flow
from helpline.engine.validate import FlowError, check_directory, conclusions, scope_option, validate_flow

REPO = Path(__file__).resolve().parents[2]
FLOWS = REPO / "flows"
BROKEN = REPO / "tests" / "flows" / "broken"
MINIMAL = REPO / "tests" / "flows" / "ok" / "minimal.yaml"
FIXTURES = sorted(BROKEN.glob("*.yaml"))


def _expected() -> dict[str, list[str]]:
    expected: dict[str, list[str]] = defaultdict(list)
    for line in (BROKEN / "expected.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            expected[line.split(":", 1)[0]].append(line)
    return dict(expected)


EXPECTED = _expected()


def _errors(flow) -> list[str]:
    return [str(e) for e in validate_flow(flow)]


# --- the real flows and the minimal good one ------------------------------------------------

def test_the_real_flows_pass_every_check():
    flows, errors = check_directory(FLOWS)
    assert [str(e) for e in errors] == []
    assert "back_pain" in flows


def test_the_minimal_flow_passes_every_check():
    flows, errors = check_directory(MINIMAL.parent)
    assert errors == [] and list(flows) == ["minimal"]


# --- broken fixtures: one per check, each with its exact errors --------------------------------

def test_every_fixture_has_its_expected_errors_and_every_check_has_a_fixture():
    assert {p.name for p in FIXTURES} == set(EXPECTED)
    assert len(FIXTURES) >= 14
    reasons = " ".join(line for lines in EXPECTED.values() for line in lines)
    for check in ("P1 (", "P2:", "P3:", "P4:", "P5:", "P6:", "P7 (", "P8 (", "P10:", "P11:", "P12:",
                  "missing node", "unreachable", "not valid YAML", "unknown node type", "items (at most 3)"):
        assert check in reasons, check


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_a_broken_flow_gives_exactly_its_errors(path, tmp_path):
    shutil.copy(path, tmp_path / path.name)
    flows, errors = check_directory(tmp_path)
    assert [str(e) for e in errors] == EXPECTED[path.name]
    assert all(isinstance(e, FlowError) and e.file == path.name for e in errors)


def test_one_check_reports_every_broken_file_at_once():
    flows, errors = check_directory(BROKEN)
    by_file: dict[str, list[str]] = defaultdict(list)
    for error in errors:
        by_file[error.file].append(str(error))
    assert dict(by_file) == EXPECTED
    unloadable = {"schema_bad_yaml.yaml", "schema_unknown_node_type.yaml"}
    assert {f.source_file for f in flows.values()} == {p.name for p in FIXTURES} - unloadable


# --- mutations of the minimal flow: the checks that have no fixture of their own ---------------------

def _load(path: Path) -> dict[str, Any]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    for node in raw["nodes"].values():
        if True in node:  # YAML 1.1 reads a bare `yes:` key as True; the loader accepts both
            node["yes"] = node.pop(True)
    return raw


def _minimal() -> dict[str, Any]:
    return _load(MINIMAL)


MENU = {"type": "menu", "text": "Press 1 for back pain, 2 for something else.", "fallback": "1",
        "options": [{"key": "1", "label": "back pain", "words": ["pain"], "next": "chest"},
                    {"key": "2", "label": "other", "words": ["other"], "next": "gp_today"}]}


def _with_menu(raw, **changes):
    menu = copy.deepcopy(MENU)
    menu.update(changes)
    raw["nodes"]["welcome"]["next"] = "menu"
    raw["nodes"]["menu"] = menu


def _set(path: str, value):
    def mutate(raw):
        *parents, last = path.split(".")
        target = raw
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if value is DELETE:
            del target[last]
        else:
            target[last] = value
    return mutate


DELETE = object()
MUTATIONS: list[tuple[str, Callable[[dict], None], list[str]]] = [
    ("no sms text", _set("nodes.chest.text", {"voice": "Do you have chest pain?"}),
     ["chest: no sms text"]),
    ("question needs yes", _set("nodes.chest.yes", DELETE),
     ["chest: question needs yes", "call_999: unreachable: not reachable from start or a free-text trigger"]),
    ("question needs next", _set("nodes.chest.next", DELETE), ["chest: question needs next"]),
    ("tier differs from yes", _set("nodes.chest.yes.disposition", "D2"),
     ["chest: tier D1 does not match yes.disposition D2"]),
    ("yes disposition unknown", _set("nodes.chest.yes.disposition", "D9"),
     ["chest: yes.disposition 'D9' is not one of D1-D6"]),
    ("not sure without source", _set("nodes.chest.not_sure", {"rule": "x", "disposition": "D3", "source": " "}),
     ["chest: not_sure rule 'x' has no source"]),
    ("message needs next", lambda raw: raw["nodes"]["welcome"].pop("next"),
     ["welcome: message needs next", "chest: unreachable: not reachable from start or a free-text trigger",
      "call_999: unreachable: not reachable from start or a free-text trigger"]),
    ("end disposition unknown", _set("nodes.gp_today.disposition", "D7"),
     ["gp_today: disposition 'D7' is not one of D1-D6",
      "gp_today: P4: a path with D4 already set can end at 'gp_today' (D7)",
      "chest: P4: a path with D3 already set can end at 'gp_today' (D7)"]),
    ("version empty", _set("version", ""), ["-: version is empty"]),
    ("on_step_limit is a question", _set("on_step_limit", "chest"),
     ["-: on_step_limit 'chest' must be a route or end node"]),
    ("start goes nowhere", _set("start", "nowhere"),
     ["-: start goes to missing node 'nowhere'",
      "welcome: unreachable: not reachable from start or a free-text trigger",
      "chest: unreachable: not reachable from start or a free-text trigger",
      "call_999: unreachable: not reachable from start or a free-text trigger",
      'nowhere: P1 (voice): the opening message does not say "nine nine nine"',
      'nowhere: P1 (sms): the opening message does not contain "999"']),
    ("yes goes nowhere", _set("nodes.chest.yes.goto", "nowhere"),
     ["chest: yes goes to missing node 'nowhere'",
      "call_999: unreachable: not reachable from start or a free-text trigger"]),
    ("P1 voice", _set("nodes.welcome.text.voice", "Welcome to the back pain help line."),
     ['welcome: P1 (voice): the opening message does not say "nine nine nine"']),
    ("P3 yes without goto", _set("nodes.chest.yes.goto", DELETE),
     ["call_999: unreachable: not reachable from start or a free-text trigger",
      "chest: P3: yes must go straight to an emergency ending (goto)",
      "chest: P4: a path with D1 already set can end at 'gp_today' (D3)"]),
    ("P3 yes to a less urgent emergency", _set("nodes.call_999.disposition", "D2"),
     ["chest: P3: yes goes to 'call_999', which is less urgent than D1"]),
    ("P3 yes to a question", lambda raw: raw["nodes"]["chest"]["yes"].update(goto="chest"),
     ["call_999: unreachable: not reachable from start or a free-text trigger",
      "chest: P3: yes goes to 'chest', which is not an end node",
      "chest: P4: a path with D1 already set can end at 'gp_today' (D3)"]),
    ("P6 ending without safety net", _set("nodes.gp_today.safety_net", False),
     ["gp_today: P6: an ending that is not an emergency must have safety_net: true"]),
    ("P6 emergency ending without 999", _set("nodes.call_999.text.voice", "Call an ambulance now."),
     ["call_999: P6 (voice): an emergency ending must say 999"]),
    ("P6 safety net misses everything", _set("safety_net", "Take care."),
     [f"-: P6: safety_net ({channel}) {missing}" for channel in ("voice", "sms") for missing in (
         "does not mention 999", "does not mention A&E", "does not mention 111",
         "does not name numbness around the bottom or genitals", "does not name trouble controlling pee or poo",
         "does not name symptoms in both legs")]),
    ("P7 this is", _set("nodes.gp_today.text.voice", "This is a muscle strain. Contact your GP today."),
     ['gp_today: P7 (voice): "This is a muscle" states a conclusion',
      'gp_today: P7 (voice): names a condition in an ending: "muscle strain"']),
    ("P7 diagnosis in the hint", _set("question_hint", "Our diagnosis depends on your answers."),
     ['-: P7 (question_hint, voice): "diagnosis depends" states a conclusion',
      '-: P7 (question_hint, sms): "diagnosis depends" states a conclusion']),
    ("P7 you've got", _set("nodes.chest.text", "You\u2019ve got a slipped disc. Do you have chest pain?"),
     ['chest: P7 (voice): "You\'ve got a" states a conclusion',
      'chest: P7 (sms): "You\'ve got a" states a conclusion']),
    ("P8 callback on voice", _set("nodes.call_999.text.voice", "Call nine nine nine now. Or wait for a callback."),
     ['call_999: P8 (voice): an emergency ending must not mention a callback ("callback")']),
    ("P11 placeholder", _set("nodes.call_999.text.sms", "URGENT: Call 999 now. Ref {reference}."),
     ["call_999: P11: emergency sms has a placeholder {reference}; its length cannot be checked"]),
    ("P11 emoji", _set("nodes.call_999.text.sms", "\U0001F6A8 URGENT: Call 999 now."),
     ["call_999: P11: emergency sms has characters outside GSM-7 (U+1F6A8)"]),
    ("P11 with the safety net appended", lambda raw: raw["nodes"]["call_999"].pop("safety_net"),
     ["call_999: P11: emergency sms is 185 GSM-7 characters (one segment holds 160)"]),
]


@pytest.mark.parametrize("name, mutate, expected", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_a_mutated_minimal_flow_gives_exactly_these_errors(name, mutate, expected):
    raw = _minimal()
    mutate(raw)
    assert _errors(parse_flow(raw, "minimal.yaml")) == [f"minimal.yaml:{line}" for line in expected]


MENU_MUTATIONS = [
    ("ok", {}, []),
    ("key not a digit", {"options": [{"key": "a", "next": "chest"}, MENU["options"][1]], "fallback": "2"},
     ["menu: option key 'a' is not a single digit"]),
    ("key twice", {"options": [MENU["options"][0], {**MENU["options"][1], "key": "1"}]},
     ["menu: option key '1' is used more than once"]),
    ("word in two options", {"options": [MENU["options"][0], {**MENU["options"][1], "words": ["pain"]}]},
     ["menu: word 'pain' belongs to options 1 and 2"]),
    ("no fallback", {"fallback": None}, ["menu: menu needs fallback"]),
    ("no options", {"options": []},
     ["menu: menu needs options",
      "chest: unreachable: not reachable from start or a free-text trigger",
      "call_999: unreachable: not reachable from start or a free-text trigger"]),
    ("option goes nowhere", {"options": [MENU["options"][0], {**MENU["options"][1], "next": "nowhere"}]},
     ["menu: option 2 goes to missing node 'nowhere'"]),
    ("P5 fallback less urgent", {"options": [
        {**MENU["options"][0], "raises": {"rule": "r", "disposition": "D3", "source": "s"}}, MENU["options"][1]],
        "fallback": "2"},
     ["menu: P5: fallback 2 is less urgent than option 1 (D3)"]),
    ("P10 under 16 without raise", {"options": [MENU["options"][0], {**MENU["options"][1], "label": "under 16"}]},
     ["menu: P10: option 2 (under 16) must raise a disposition more urgent than D6"]),
    ("P10 not worse is not worse", {"options": [MENU["options"][0], {**MENU["options"][1], "label": "no worse"}]}, []),
]


@pytest.mark.parametrize("name, changes, expected", MENU_MUTATIONS, ids=[m[0] for m in MENU_MUTATIONS])
def test_menu_checks(name, changes, expected):
    raw = _minimal()
    _with_menu(raw, **changes)
    assert _errors(parse_flow(raw, "minimal.yaml")) == [f"minimal.yaml:{line}" for line in expected]


def _with_route(raw, routes):
    raw["nodes"]["chest"]["next"] = "outcome"
    raw["nodes"]["outcome"] = {"type": "route", "routes": routes}
    raw["nodes"]["callback"] = {"type": "end", "disposition": "D4", "text": (
        "A clinician will call you within {callback_hours} hours. If it gets worse, call 111, or 999 in an emergency.")}
    raw["nodes"]["selfcare"] = {"type": "end", "disposition": "D6", "text": "Keep gently active."}


ROUTES = {"D1": "call_999", "D2": "call_999", "D3": "gp_today", "D4": "callback", "D5": "gp_today", "D6": "selfcare"}
ROUTE_MUTATIONS = [
    ("ok", {}, []),
    ("key not a disposition", {"D7": "gp_today"}, ["outcome: route key 'D7' is not one of D1-D6"]),
    ("target not an end", {"D5": "chest"}, ["outcome: route D5 goes to 'chest', which is not an end node"]),
    ("target missing", {"D6": "nowhere"},
     ["outcome: route D6 goes to missing node 'nowhere'",
      "selfcare: unreachable: not reachable from start or a free-text trigger"]),
    ("P8 D4 to a D3 ending", {"D4": "gp_today"},
     ["callback: unreachable: not reachable from start or a free-text trigger",
      "outcome: P8: route D4 goes to 'gp_today', which is not a D4 ending"]),
    ("P4 D2 to a D3 ending", {"D2": "gp_today"},
     ["outcome: P4: route D2 goes to 'gp_today' (D3), which is less urgent"]),
]


@pytest.mark.parametrize("name, changes, expected", ROUTE_MUTATIONS, ids=[m[0] for m in ROUTE_MUTATIONS])
def test_route_checks(name, changes, expected):
    raw = _minimal()
    _with_route(raw, {**ROUTES, **changes})
    assert _errors(parse_flow(raw, "minimal.yaml")) == [f"minimal.yaml:{line}" for line in expected]


def test_a_d4_ending_must_say_when_and_what_to_do_if_worse():
    raw = _minimal()
    _with_route(raw, ROUTES)
    raw["nodes"]["callback"]["text"] = "A clinician will call you."
    assert _errors(parse_flow(raw, "minimal.yaml")) == [
        f"minimal.yaml:callback: P8 ({channel}): the D4 ending {what}"
        for channel in ("voice", "sms")
        for what in ("does not state its time limit {callback_hours}", "does not say what to do if it gets worse",
                     "does not say to call 111 if it gets worse", "does not mention 999")
    ]


CRISIS = {"phrases": ["kill myself"], "goto": "crisis"}
FREE_TEXT = [
    ("ok", {"crisis": CRISIS,
            "emergency": [{"phrases": ["chest pain"], "goto": "call_999",
                           "raises": {"rule": "ft", "disposition": "D1", "source": "s"}}],
            "possible": [{"phrases": ["chest"], "goto": "chest"}]}, []),
    ("emergency without a raise", {"crisis": CRISIS, "emergency": [{"phrases": ["chest pain"], "goto": "call_999"}]},
     ["-: P12: free_text.emergency[0] must raise D1 or D2"]),
    ("crisis to a plain ending", {"crisis": {"phrases": ["kill myself"], "goto": "gp_today"}},
     ["crisis: unreachable: not reachable from start or a free-text trigger",
      "-: P12: free_text.crisis goes to 'gp_today', which is not an emergency ending"]),
    ("raise without a source", {"crisis": CRISIS, "emergency": [
        {"phrases": ["x"], "goto": "call_999", "raises": {"rule": "ft", "disposition": "D1"}}]},
     ["-: free_text.emergency[0].raises rule 'ft' has no source"]),
    ("goto missing", {"crisis": CRISIS, "possible": [{"phrases": ["x"], "goto": "nowhere"}]},
     ["-: free_text.possible[0] goes to missing node 'nowhere'"]),
]


@pytest.mark.parametrize("name, free_text, expected", FREE_TEXT, ids=[m[0] for m in FREE_TEXT])
def test_free_text_checks(name, free_text, expected):
    raw = _minimal()
    raw["free_text"] = free_text
    # an ending that only free text leads to is reachable
    raw["nodes"]["crisis"] = {"type": "end", "emergency": True, "safety_net": False,
                              "text": {"voice": "Call nine nine nine now.", "sms": "Call 999 now."}}
    assert _errors(parse_flow(raw, "minimal.yaml")) == [f"minimal.yaml:{line}" for line in expected]


def test_the_path_checks_follow_loops_without_hanging():
    raw = _minimal()
    _with_menu(raw)
    raw["nodes"]["menu"]["options"][1]["next"] = "menu"  # 2 asks again
    raw["nodes"]["menu"]["options"][1]["words"] = ["again"]
    assert _errors(parse_flow(raw, "minimal.yaml")) == []


# --- mutations of the real flow: the checks bite where it matters -------------------------------

def _real() -> dict[str, Any]:
    return _load(FLOWS / "back_pain.yaml")


def _in_order(raw):
    # the order before version 2026.11.3: the age band (with its D5 first-episode question) before the D3 questions
    raw["nodes"]["d2_dark_urine"]["next"] = "age_band"
    raw["nodes"]["d4_severe"]["next"] = "onset"
    for node in ("age_band", "age_under_20", "age_over_50"):
        for option in raw["nodes"][node]["options"]:
            if option["next"] == "onset":
                option["next"] = "d3_fever"
    raw["nodes"]["first_episode"]["next"] = "d3_fever"


def _swap_d1_d2(raw):
    raw["nodes"]["d1_chest"]["next"] = "d2_saddle"
    raw["nodes"]["d2_dark_urine"]["next"] = "d1_accident"
    raw["nodes"]["d1_legs"]["next"] = "d3_fever"


REAL_MUTATIONS = [
    ("age band before the D3 questions", _in_order,
     "d3_fever: P2: D3 question can come after 'first_episode', a less urgent D5 question"),
    ("a D1 question after the D2 ones", _swap_d1_d2,
     "d1_accident: P2: D1 question can come after 'd2_saddle', a less urgent D2 question"),
    ("999 ending not marked emergency", lambda raw: raw["nodes"]["end_d1"].update(emergency=False),
     "d1_chest: P3: yes goes to 'end_d1', which is not an emergency ending"),
    ("welcome without 999 on voice",
     lambda raw: raw["nodes"]["welcome"]["text"].update(voice="Welcome to the back pain help line."),
     'welcome: P1 (voice): the opening message does not say "nine nine nine"'),
    ("route gives D4 the D3 ending", lambda raw: raw["nodes"]["outcome"]["routes"].update(D4="end_d3"),
     "outcome: P8: route D4 goes to 'end_d3', which is not a D4 ending"),
    ("route gives D5 self-care", lambda raw: raw["nodes"]["outcome"]["routes"].update(D5="end_d6"),
     "outcome: P4: route D5 goes to 'end_d6' (D6), which is less urgent"),
    ("under 16 without a raise", lambda raw: raw["nodes"]["age_under_20"]["options"][0].pop("raises"),
     "age_under_20: P10: option 1 (under 16) must raise a disposition more urgent than D6"),
    ("getting worse without a raise", lambda raw: raw["nodes"]["course_recent"]["options"][2].pop("raises"),
     "course_recent: P10: option 3 (worse) must raise a disposition more urgent than D6"),
    ("not sure on a D5 question gives self-care",
     lambda raw: raw["nodes"]["one_leg"].update(not_sure={"rule": "x", "disposition": "D6", "source": "s"}),
     "one_leg: P5: not sure gives D6; a D5 question needs at least D5"),
    ("safety net without A&E", lambda raw: raw["safety_net"].update(sms="Call 999 if numb bottom or genitals, pee or poo trouble, both legs weak. Call 111."),
     "-: P6: safety_net (sms) does not mention A&E"),
    ("curly quote in the 999 text", lambda raw: raw["nodes"]["end_d1"]["text"].update(sms="URGENT: Call 999 now. Don\u2019t wait."),
     "end_d1: P11: emergency sms has characters outside GSM-7 (U+2019)"),
    ("self-care names a condition", lambda raw: raw["nodes"]["end_d6"]["text"].update(sms="You have a muscle strain. Keep active."),
     'end_d6: P7 (sms): "You have a muscle" states a conclusion'),
    ("A&E ending offers a callback", lambda raw: raw["nodes"]["end_d2"]["text"].update(voice="Go to A and E now, or call nine nine nine. We will call you back."),
     'end_d2: P8 (voice): an emergency ending must not mention a callback ("will call you")'),
    ("a D2 yes that carries on asking", lambda raw: raw["nodes"]["d2_bowel"]["yes"].pop("goto"),
     "d2_bowel: P3: yes must go straight to an emergency ending (goto)"),
    ("free-text emergency to a question", lambda raw: raw["free_text"]["emergency"][0].update(goto="d1_chest"),
     "-: P12: free_text.emergency[0] goes to 'd1_chest', which is not an emergency ending"),
]


@pytest.mark.parametrize("name, mutate, expected", REAL_MUTATIONS, ids=[m[0] for m in REAL_MUTATIONS])
def test_a_mutated_real_flow_is_caught(name, mutate, expected):
    raw = _real()
    mutate(raw)
    assert f"back_pain.yaml:{expected}" in _errors(parse_flow(raw, "back_pain.yaml"))


# --- the directory check ------------------------------------------------------------------------

def test_two_files_with_one_flow_id(tmp_path):
    shutil.copy(MINIMAL, tmp_path / "a.yaml")
    shutil.copy(MINIMAL, tmp_path / "b.yaml")
    flows, errors = check_directory(tmp_path)
    assert list(flows) == ["minimal"] and flows["minimal"].source_file == "a.yaml"
    assert [str(e) for e in errors] == ["b.yaml:-: flow id 'minimal' is also used by a.yaml"]


def test_an_empty_directory_is_an_error(tmp_path):
    flows, errors = check_directory(tmp_path)
    assert flows == {} and [e.reason for e in errors] == ["no flow files (*.yaml)"]


def test_a_format_error_names_file_and_node(tmp_path):
    (tmp_path / "x.yaml").write_text("spec_version: 1\nflow: x\nversion: '1'\nstart: a\non_step_limit: a\nnodes:\n"
                                     "  a: {type: menu, text: hi, options: [{key: '1'}]}\n")
    flows, errors = check_directory(tmp_path)
    assert flows == {} and errors == [FlowError("x.yaml", "a", "option 1 needs key and next")]


def test_flow_error_prints_file_node_and_reason():
    assert str(FlowError("f.yaml", "n", "why")) == "f.yaml:n: why"
    assert str(FlowError("f.yaml", None, "why")) == "f.yaml:-: why"


def test_validate_flow_names_a_flow_without_a_file_by_its_id():
    raw = _minimal()
    raw["version"] = ""
    assert [str(e) for e in validate_flow(parse_flow(raw))] == ["minimal.yaml:-: version is empty"]


# --- the P7 wording rule and the P10 scope options -------------------------------------------------

@pytest.mark.parametrize(
    "text, found",
    [
        ("This is an automated service. It gives advice and cannot diagnose you.", []),
        ("This is the back pain help line.", []),
        ("We can't diagnose you over the phone.", []),
        ("Press 1 if you have back pain now.", []),
        ("Do you have chest pain?", []),
        ("Is this the first time you have ever had back pain?", []),
        ("If you have numbness, call 999.", []),
        ("Tell us whether you have a fever.", []),
        ("You have sciatica.", ["You have sciatica"]),
        ("From your answers, you have a sprain.", ["you have a sprain"]),
        ("You've got a pulled muscle.", ["You've got a"]),
        ("This is sciatica.", ["This is sciatica"]),
        ("This is not an emergency.", ["This is not an"]),
        ("The diagnosis is a strain.", ["diagnosis is"]),
        ("We diagnose you with back pain.", ["diagnose you"]),
    ],
)
def test_what_counts_as_a_conclusion(text, found):
    assert conclusions(text) == found


@pytest.mark.parametrize(
    "label, words, why",
    [("under 16", (), "under 16"), ("young", ("under sixteen",), "under 16"), ("worse", (), "worse"),
     ("3", ("getting worse",), "worse"), ("no worse", (), None), ("better", ("improving",), None),
     ("under 20", (), None)],
)
def test_scope_options(label, words, why):
    assert scope_option(Option("1", label, words, "x")) == why


def test_the_real_flow_has_the_scope_options_p10_is_about():
    flow = load_flow(FLOWS / "back_pain.yaml")
    found = {(n.id, o.key, scope_option(o)) for n in flow.nodes.values() for o in n.options if scope_option(o)}
    assert found == {("age_under_20", "1", "under 16"), ("course_recent", "3", "worse"), ("course_longer", "3", "worse")}
