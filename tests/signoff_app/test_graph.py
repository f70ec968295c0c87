"""The workflow picture: layout from the definition, statuses, legend, escaping."""

import json
import re

from apps.signoff import graph
from local_stack.definition import DEFINITION

DEPLOYED = json.loads(DEFINITION.read_text())
_TASK_CATCH = [{"ErrorEquals": ["States.ALL"], "Next": "ReportFailure"}]
# The workflow's shape in small: a Choice that turns bad input away, steps that each catch
# errors, a signoff with its own timeout path, and the failure report at the side.
WORKFLOW = {
    "StartAt": "CheckInput",
    "States": {
        "CheckInput": {
            "Type": "Choice",
            "Default": "NotARequest",
            "Choices": [{"Variable": "$.addon", "IsPresent": True, "Next": "ValidateRequest"}],
        },
        "NotARequest": {"Type": "Fail"},
        "ValidateRequest": {"Type": "Task", "Next": "PublishToTestChannel", "Catch": _TASK_CATCH},
        "PublishToTestChannel": {"Type": "Task", "Next": "RequestQaSignoff", "Catch": _TASK_CATCH},
        "RequestQaSignoff": {
            "Type": "Task",
            "Next": "ShipToReleaseChannel",
            "Catch": [
                {"ErrorEquals": ["States.Timeout"], "Next": "QaSignoffTimedOut"},
                *_TASK_CATCH,
            ],
        },
        "QaSignoffTimedOut": {"Type": "Pass", "Next": "ReportFailure"},
        "ShipToReleaseChannel": {"Type": "Task", "End": True, "Catch": _TASK_CATCH},
        "ReportFailure": {
            "Type": "Task",
            "Next": "Stopped",
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Stopped"}],
        },
        "Stopped": {"Type": "Fail"},
    },
}


def test_the_success_path_runs_down_the_first_column():
    placed = graph.place_states(WORKFLOW)

    path = graph.success_path(WORKFLOW)
    assert path == [
        "CheckInput",
        "ValidateRequest",
        "PublishToTestChannel",
        "RequestQaSignoff",
        "ShipToReleaseChannel",
    ]
    assert [placed[name] for name in path] == [graph.Placement(row, 0) for row in range(len(path))]


def test_the_failure_path_sits_beside_it():
    placed = graph.place_states(WORKFLOW)

    assert placed["NotARequest"] == graph.Placement(0, 1)
    assert placed["QaSignoffTimedOut"] == graph.Placement(placed["RequestQaSignoff"].row, 1)
    assert placed["ReportFailure"] == graph.Placement(placed["ShipToReleaseChannel"].row, 1)
    assert placed["Stopped"] == graph.Placement(placed["ReportFailure"].row + 1, 1)


def test_the_deployed_definition_gets_one_place_per_state():
    placed = graph.place_states(DEPLOYED)

    assert set(placed) == set(DEPLOYED["States"])
    assert len({(p.row, p.column) for p in placed.values()}) == len(placed)
    assert placed[DEPLOYED["StartAt"]] == graph.Placement(0, 0)
    assert all(DEPLOYED["States"][name]["Type"] != "Fail" for name in graph.success_path(DEPLOYED))


def test_edges_follow_next_choice_and_catch():
    edges = {(edge.source, edge.target): edge for edge in graph.edges_of(WORKFLOW)}

    assert edges[("ValidateRequest", "PublishToTestChannel")].kind == "next"
    assert edges[("ValidateRequest", "ReportFailure")].kind == "catch"
    assert edges[("CheckInput", "NotARequest")] == graph.Edge(
        "CheckInput", "NotARequest", "choice", "default"
    )
    assert edges[("RequestQaSignoff", "QaSignoffTimedOut")].label == "timeout"
    assert edges[("ReportFailure", "Stopped")].kind == "next"


def test_each_state_is_drawn_with_its_status_and_a_legend():
    statuses = {"ValidateRequest": graph.DONE, "RequestQaSignoff": graph.WAITING}

    svg = graph.draw_svg(WORKFLOW, statuses, title="Example")

    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert "<title>ValidateRequest (Task): done</title>" in svg
    assert "<title>RequestQaSignoff (Task): waiting for signoff</title>" in svg
    assert "<title>Stopped (Fail): not reached</title>" in svg
    legend = svg[svg.index('<g class="legend">') :]
    for label in graph.STATUSES + ("next step", "on error (Catch)"):
        assert f">{label}</text>" in legend
    assert "style=" not in svg


def test_choice_states_and_hostile_names_are_drawn_safely():
    definition = {
        "StartAt": "Check",
        "States": {
            "Check": {
                "Type": "Choice",
                "Default": "Ship",
                "Choices": [
                    {"Variable": "$.x", "BooleanEquals": True, "Next": "<script>alert(1)</script>"}
                ],
            },
            "<script>alert(1)</script>": {"Type": "Fail"},
            "Ship": {"Type": "Succeed"},
        },
    }

    svg = graph.draw_svg(definition, {"Check": graph.DONE, "Ship": graph.DONE})

    assert "<script>" not in svg and "&lt;script&gt;" in svg
    placed = graph.place_states(definition)
    assert placed["Ship"] == graph.Placement(1, 0)
    assert placed["<script>alert(1)</script>"].column == 1


def test_the_picture_is_sized_to_hold_every_box():
    svg = graph.draw_svg(DEPLOYED)

    width, height = map(float, re.search(r'viewBox="0 0 (\S+) (\S+)"', svg).groups())
    boxes = re.findall(r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"', svg)
    assert max(float(x) + float(w) for x, _, w, _ in boxes) <= width
    assert max(float(y) + float(h) for _, y, _, h in boxes) <= height
