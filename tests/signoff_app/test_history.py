"""Reading an execution's history: statuses, the current step, lines a person can read."""

import json
from datetime import UTC, datetime, timedelta

from apps.signoff import graph, history

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
TOKEN = "AAAAKgAAAAIAAAAAAAAAAf+token/with=signs"


def events(*described) -> list[dict]:
    """History events from (type, details) pairs, one second apart."""
    made = []
    for number, (kind, details) in enumerate(described, start=1):
        event = {"id": number, "type": kind, "timestamp": START + timedelta(seconds=number)}
        if details is not None:
            key = kind[0].lower() + kind[1:]
            if kind.endswith("StateEntered"):
                key = "stateEnteredEventDetails"
            elif kind.endswith("StateExited"):
                key = "stateExitedEventDetails"
            event[f"{key}EventDetails" if not key.endswith("Details") else key] = details
        made.append(event)
    return made


WAITING_FOR_QA = events(
    ("ExecutionStarted", {"input": json.dumps({"requested_by": "relman@mozilla.com"})}),
    ("TaskStateEntered", {"name": "StageXpi"}),
    ("LambdaFunctionScheduled", {"resource": "stage"}),
    ("LambdaFunctionFailed", {"error": "RemoteUnavailable", "cause": "archive said 503"}),
    ("LambdaFunctionScheduled", {"resource": "stage"}),
    ("LambdaFunctionSucceeded", {"output": "{}"}),
    (
        "TaskStateExited",
        {
            "name": "StageXpi",
            "output": json.dumps({"staged_xpi": {"url": "https://archive.example/a.xpi"}}),
        },
    ),
    ("TaskStateEntered", {"name": "RequestQaSignoff"}),
    (
        "TaskScheduled",
        {
            "resource": "invoke.waitForTaskToken",
            "parameters": json.dumps({"Payload": {"task_token": TOKEN}}),
        },
    ),
    ("TaskStarted", {"resource": "invoke.waitForTaskToken"}),
    (
        "TaskSubmitted",
        {
            "resource": "invoke.waitForTaskToken",
            "output": json.dumps({"Payload": {"signoff_id": "x-1-qa"}}),
        },
    ),
)
KEYS = {"StageXpi": "staged_xpi"}


def test_a_retried_step_is_done_and_a_signoff_step_waits():
    statuses = history.state_statuses(WAITING_FOR_QA, "RUNNING")

    assert statuses == {"StageXpi": graph.DONE, "RequestQaSignoff": graph.WAITING}
    assert history.current_state(WAITING_FOR_QA) == "RequestQaSignoff"


def test_a_caught_failure_marks_its_state_failed():
    rejected = (
        WAITING_FOR_QA
        + events(
            *[(None, None)] * len(WAITING_FOR_QA),
            (
                "TaskFailed",
                {
                    "error": "SignoffRejected",
                    "cause": json.dumps(
                        {
                            "decision": "rejected",
                            "decided_by": "qa@mozilla.com",
                            "reason": "crashes",
                        }
                    ),
                },
            ),
            ("TaskStateExited", {"name": "RequestQaSignoff", "output": "{}"}),
            ("TaskStateEntered", {"name": "ReportFailure"}),
            (
                "TaskStateExited",
                {
                    "name": "ReportFailure",
                    "output": json.dumps(
                        {
                            "error": {
                                "Error": "SignoffRejected",
                                "report": {"test_channel": "rule 7 points back at Baseline"},
                            }
                        }
                    ),
                },
            ),
            ("FailStateEntered", {"name": "Stopped"}),
            ("ExecutionFailed", {"error": "SignoffRejected", "cause": "qa@mozilla.com rejected"}),
        )[len(WAITING_FOR_QA) :]
    )

    statuses = history.state_statuses(rejected, "FAILED")

    assert statuses["RequestQaSignoff"] == graph.FAILED
    assert statuses["ReportFailure"] == graph.DONE
    assert statuses["Stopped"] == graph.FAILED
    assert history.current_state(rejected) == "Stopped"
    workflow = history.latest_workflow(rejected)
    assert history.test_channel_outcome(workflow) == "rule 7 points back at Baseline"
    texts = [line.text for line in history.readable(rejected, {"ReportFailure": "error"})]
    assert "failed: SignoffRejected: qa@mozilla.com rejected: crashes" in texts
    assert "done: test channel: rule 7 points back at Baseline" in texts
    assert texts[-1] == "execution FAILED: SignoffRejected: qa@mozilla.com rejected"


def test_a_state_still_open_when_the_execution_stopped_is_failed():
    statuses = history.state_statuses(WAITING_FOR_QA, "ABORTED")

    assert statuses["RequestQaSignoff"] == graph.FAILED


def test_the_history_reads_as_sentences_without_the_task_token():
    lines = history.readable(WAITING_FOR_QA, KEYS)

    texts = [(line.step, line.text, line.tone) for line in lines]
    assert texts == [
        ("", "started by relman@mozilla.com", "info"),
        ("StageXpi", "entered", "info"),
        ("StageXpi", "attempt failed, retried: RemoteUnavailable: archive said 503", "failed"),
        ("StageXpi", "done: XPI archived at https://archive.example/a.xpi", "done"),
        ("RequestQaSignoff", "entered", "info"),
        ("RequestQaSignoff", "waiting for signoff x-1-qa", "waiting"),
    ]
    assert lines[2].seconds == 3.0
    assert all(TOKEN not in line.text for line in lines)


def test_result_keys_come_from_result_paths():
    definition = {
        "States": {
            "A": {"ResultPath": "$.checked"},
            "B": {"ResultPath": "$.a.b"},
            "C": {"ResultPath": None},
            "D": {},
        }
    }

    assert history.result_keys(definition) == {"A": "checked"}


def test_causes_read_as_words():
    decision = {"decision": "rejected", "decided_by": "qa@mozilla.com", "reason": ""}

    assert history.readable_cause(json.dumps(decision)) == (
        "qa@mozilla.com rejected: no reason given"
    )
    assert history.readable_cause('{"errorMessage": "bug 5 is closed"}') == "bug 5 is closed"
    assert history.readable_cause("x" * 5000).endswith("…")
    assert history.readable_cause(None) == ""
