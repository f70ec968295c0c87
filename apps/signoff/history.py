"""An execution's history read for people: each state's status, the step it is at, what happened
in words, and why it stopped. Plain Python on Step Functions' history events.

A ``.waitForTaskToken`` task's rendered parameters, which hold the task token, are in the
history too; nothing here reads them, so no token reaches a page or a log.
"""

import json
from dataclasses import dataclass
from datetime import datetime

from apps.signoff.graph import DONE, FAILED, RUNNING, WAITING

_FAILURES = {
    "TaskFailed",
    "TaskTimedOut",
    "TaskStartFailed",
    "TaskSubmitFailed",
    "LambdaFunctionFailed",
    "LambdaFunctionTimedOut",
    "LambdaFunctionStartFailed",
    "LambdaFunctionScheduleFailed",
}
_SUCCESSES = {"TaskSucceeded", "LambdaFunctionSucceeded"}
_SCHEDULED = {"TaskScheduled", "LambdaFunctionScheduled"}
_MAX_CAUSE = 1000


@dataclass(frozen=True)
class HistoryLine:
    """One thing that happened, as a release manager would say it."""

    when: datetime
    seconds: float
    step: str
    text: str
    tone: str


def state_statuses(events: list[dict], execution_status: str) -> dict[str, str]:
    """Each entered state's status: done, running, waiting for signoff or failed."""
    statuses: dict[str, str] = {}
    failed_last: dict[str, bool] = {}
    current = None
    for event in _in_order(events):
        kind = event["type"]
        if kind.endswith("StateEntered"):
            current = _details(event)["name"]
            statuses[current] = FAILED if kind == "FailStateEntered" else RUNNING
            failed_last[current] = False
        elif kind.endswith("StateExited"):
            name = _details(event)["name"]
            statuses[name] = FAILED if failed_last.get(name) else DONE
        elif current and kind in _FAILURES:
            failed_last[current] = True
        elif current and kind in _SUCCESSES:
            failed_last[current] = False
            statuses[current] = RUNNING if statuses[current] == WAITING else statuses[current]
        elif current and kind == "TaskSubmitted" and _waits_for_token(event):
            statuses[current] = WAITING

    if execution_status != "RUNNING":
        ended = DONE if execution_status == "SUCCEEDED" else FAILED
        for name, status in statuses.items():
            if status in (RUNNING, WAITING):
                statuses[name] = ended
    return statuses


def current_state(events: list[dict]) -> str | None:
    """The state a running execution is in: the last one entered and not left."""
    entered = None
    for event in _in_order(events):
        if event["type"].endswith("StateEntered"):
            entered = _details(event)["name"]
        elif event["type"].endswith("StateExited") and _details(event)["name"] == entered:
            entered = None
    return entered


def latest_workflow(events: list[dict]) -> dict:
    """The workflow's data as the last state that finished left it (results of every step)."""
    for event in reversed(_in_order(events)):
        if event["type"].endswith("StateExited"):
            output = _json(_details(event).get("output"))
            if isinstance(output, dict):
                return output
    return {}


def result_keys(definition: dict) -> dict[str, str]:
    """Each state's ResultPath as a key of the workflow data ("$.checked" -> "checked")."""
    keys = {}
    for name, state in definition.get("States", {}).items():
        path = state.get("ResultPath")
        if isinstance(path, str) and path.startswith("$.") and "." not in path[2:]:
            keys[name] = path[2:]
    return keys


def readable(events: list[dict], keys: dict[str, str] | None = None) -> list[HistoryLine]:
    """The history as lines to read: steps entered and left, failures, waits and decisions."""
    ordered = _in_order(events)
    if not ordered:
        return []
    started = ordered[0]["timestamp"]
    lines, current, failed = [], "", False
    for index, event in enumerate(ordered):
        kind = event["type"]
        if kind.endswith("StateEntered"):
            current, failed = _details(event)["name"], False
        elif kind in _FAILURES or kind in _SUCCESSES:
            failed = kind in _FAILURES
        if kind.endswith("StateExited") and failed:
            said = ("left with that error, handled by its Catch", "failed")
        else:
            said = _say(event, current, keys or {}, retried=_retried(ordered, index))
        if said:
            text, tone = said
            seconds = (event["timestamp"] - started).total_seconds()
            step = "" if kind.startswith("Execution") else current
            lines.append(HistoryLine(event["timestamp"], seconds, step, text, tone))
    return lines


def readable_cause(cause: str | None) -> str:
    """A failure's cause in words: a rejection says who and why; errors their message."""
    if not cause:
        return ""
    parsed = _json(cause)
    if isinstance(parsed, dict) and "decided_by" in parsed:
        reason = parsed.get("reason") or "no reason given"
        return f"{parsed['decided_by']} {parsed.get('decision', 'decided')}: {reason}"
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        return _trim(str(parsed["errorMessage"]))
    return _trim(str(cause))


def test_channel_outcome(workflow: dict) -> str:
    """What the failure report did to the test channel, in its own words (or "").

    The report is the failure state's result: under ``error`` (where the failure step
    restates the error) or ``failure_report``.
    """
    for key in ("error", "failure_report"):
        outcome = _find_text(workflow.get(key), "test_channel")
        if outcome:
            return outcome
    return ""


def _say(event: dict, step: str, keys: dict, retried: bool) -> tuple[str, str] | None:
    kind, details = event["type"], _details(event)
    if kind == "ExecutionStarted":
        request = _json(details.get("input")) or {}
        by = request.get("requested_by") if isinstance(request, dict) else None
        return (f"started by {by}" if by else "started"), "info"
    if kind.endswith("StateEntered"):
        return "entered", "info"
    if kind.endswith("StateExited"):
        key, output = keys.get(details.get("name", step)), _json(details.get("output"))
        summary = _summary(key, output.get(key) if isinstance(output, dict) else None)
        return ("done" + (f": {summary}" if summary else "")), "done"
    if kind == "TaskSubmitted" and _waits_for_token(event):
        payload = (_json(details.get("output")) or {}).get("Payload") or {}
        signoff = payload.get("signoff_id") if isinstance(payload, dict) else None
        return f"waiting for signoff {signoff}" if signoff else "waiting for a decision", "waiting"
    if kind in _FAILURES:
        error = details.get("error") or kind
        cause = readable_cause(details.get("cause"))
        prefix = "attempt failed, retried" if retried else "failed"
        return f"{prefix}: {error}" + (f": {cause}" if cause else ""), "failed"
    if kind == "ExecutionSucceeded":
        return "execution SUCCEEDED", "done"
    if kind in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"):
        word = {"ExecutionFailed": "FAILED", "ExecutionTimedOut": "TIMED OUT"}.get(kind, "ABORTED")
        cause = readable_cause(details.get("cause"))
        error = details.get("error")
        return f"execution {word}" + (f": {error}" if error else "") + (
            f": {cause}" if cause else ""
        ), "failed"
    return None


def _summary(key: str | None, result) -> str:
    if not key or not isinstance(result, dict):
        return ""
    try:
        if key == "checked":
            xpi = result["xpi"]
            return f"XPI {xpi['filename']}, {xpi['size']} bytes, sha512 {xpi['sha512'][:12]}…"
        if key == "tracking_bug":
            return f"bug {result['id']} {'filed' if result.get('filed') else 'found'}"
        if key == "intent_to_implement":
            return f"intent to implement email {result['email']}"
        if key == "staged_xpi":
            return f"XPI archived at {result['url']}"
        if key in ("test_channel", "release"):
            return f"{result['channel']} serves {result['release']}" + _changes(result)
        if key.endswith("_signoff"):
            return f"{result['decision']} by {result['decided_by']}"
        if key == "closed":
            return f"bug {result['status']}"
        if key in ("error", "failure_report"):
            outcome = test_channel_outcome({key: result})
            return f"test channel: {outcome}" if outcome else ""
    except (KeyError, TypeError):
        return ""
    return ""


def _changes(result: dict) -> str:
    """What the new bundle changes, in brief: the add-ons it adds or updates, the rest kept."""
    changes = result.get("changes") or []
    moved = [
        f"{change['addon']} {change['version_after']} {change['change']}"
        for change in changes
        if change.get("change") in ("added", "updated", "removed")
    ]
    kept = sum(change.get("change") == "unchanged" for change in changes)
    if not moved and not kept:
        return ""
    parts = moved + ([f"{kept} other add-on{'s' if kept != 1 else ''} kept"] if kept else [])
    return f" ({'; '.join(parts)})"


def _retried(events: list[dict], index: int) -> bool:
    """Whether a failure event is followed by another attempt within the same state."""
    for event in events[index + 1 :]:
        if event["type"] in _SCHEDULED:
            return True
        if event["type"].endswith(("StateExited", "StateEntered")):
            return False
    return False


def _waits_for_token(event: dict) -> bool:
    return "waitForTaskToken" in str(_details(event).get("resource", ""))


def _details(event: dict) -> dict:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}


def _in_order(events: list[dict]) -> list[dict]:
    return sorted(events, key=lambda event: event["id"])


def _json(text):
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _find_text(value, key: str) -> str:
    if isinstance(value, dict):
        if isinstance(value.get(key), str):
            return value[key]
        for item in value.values():
            found = _find_text(item, key)
            if found:
                return found
    return ""


def _trim(text: str) -> str:
    return text if len(text) <= _MAX_CAUSE else text[: _MAX_CAUSE - 1] + "…"
