"""Turn an execution's history into one readable line per step, as it happens."""

import json

_SIGNOFF_STATES = {"RequestQaSignoff": "QA", "RequestRelmanSignoff": "release management"}


def summarize(state: str, output: dict) -> str:
    """One short phrase on what a finished step produced."""
    try:
        if state == "ValidateRequest":
            xpi = output["checked"]["xpi"]
            return f"XPI {xpi['filename']}, {xpi['size']} bytes, sha512 {xpi['sha512'][:12]}..."
        if state == "CreateTrackingBug":
            bug = output["tracking_bug"]
            return f"bug {bug['id']} ({'filed' if bug['filed'] else 'found'}) {bug['url']}"
        if state == "SendIntentToImplement":
            return f"email {output['intent_to_implement']['email']}"
        if state == "StageXpi":
            staged = output["staged_xpi"]
            state = "uploaded" if staged["uploaded"] else "already there"
            return f"s3://{staged['bucket']}/{staged['key']} ({state})"
        if state == "PublishToTestChannel":
            test = output["test_channel"]
            return f"{test['channel']} serves {test['release']} ({_changes(test['changes'])})"
        if state in _SIGNOFF_STATES:
            decision = output["qa_signoff" if state == "RequestQaSignoff" else "relman_signoff"]
            return f"{decision['decision']} by {decision['decided_by']}"
        if state == "ShipToReleaseChannel":
            release = output["release"]
            return f"{release['channel']} serves {release['release']} (rule {release['rule_id']})"
        if state == "CloseTrackingBug":
            return f"bug {output['tracking_bug']['id']} {output['closed']['status']}"
        if state == "ReportFailure":
            return output["error"]["report"]["test_channel"]
    except (KeyError, TypeError):
        pass
    return ""


def _changes(changes: list[dict]) -> str:
    parts = []
    for change in changes:
        if change["change"] == "unchanged":
            parts.append(f"{change['addon']} {change['version_after']} kept")
        elif change["change"] == "added":
            parts.append(f"{change['addon']} {change['version_after']} added")
        else:
            parts.append(
                f"{change['addon']} {change['version_before']} -> {change['version_after']}"
            )
    return "; ".join(parts)


class HistoryPrinter:
    """Prints each new history event that a release manager cares about."""

    def __init__(self, write=print):
        self.seen = 0
        self.write = write
        self.entered: dict[str, float] = {}
        self.waiting: set[str] = set()
        self.failing: set[str] = set()
        self.current = ""

    def feed(self, events: list[dict]) -> list[str]:
        """Print the events not printed yet; answers the signoff states now waiting."""
        for event in events[self.seen :]:
            self._print(event)
        self.seen = len(events)
        return sorted(self.waiting)

    def _print(self, event: dict) -> None:
        kind, when = event["type"], event["timestamp"].timestamp()
        if kind.endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            self.entered[name] = when
            self.current = name
            if name in _SIGNOFF_STATES:
                self.waiting.add(name)
        elif kind == "TaskStateExited":
            details = event["stateExitedEventDetails"]
            name = details["name"]
            self.waiting.discard(name)
            took = when - self.entered.get(name, when)
            if name in self.failing:
                self.write(f"  stopped {name:<22} {took:6.1f}s")
                return
            output = json.loads(details.get("output") or "{}")
            self.write(f"  done    {name:<22} {took:6.1f}s  {summarize(name, output)}")
        elif kind in ("TaskSucceeded", "LambdaFunctionSucceeded"):
            self.failing.discard(self.current)
        elif kind in ("TaskFailed", "LambdaFunctionFailed"):
            details = event.get("taskFailedEventDetails") or event.get(
                "lambdaFunctionFailedEventDetails", {}
            )
            self.failing.add(self.current)
            self.write(f"  failed  {details.get('error')}: {_short(details.get('cause'))}")
        elif kind == "TaskTimedOut":
            self.failing.add(self.current)
            self.write("  timed out waiting for a decision")
        elif kind == "ExecutionSucceeded":
            self.write("  SUCCEEDED")
        elif kind == "ExecutionFailed":
            details = event.get("executionFailedEventDetails", {})
            self.write(f"  FAILED  {details.get('error')}: {_short(details.get('cause'))}")


def _short(cause) -> str:
    if not cause:
        return ""
    try:
        parsed = json.loads(cause)
        if isinstance(parsed, dict):
            cause = parsed.get("errorMessage") or parsed.get("reason") or cause
    except ValueError:
        pass
    cause = str(cause)
    return cause if len(cause) < 300 else cause[:297] + "..."
