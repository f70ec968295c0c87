"""Executions of the system add-on state machine, read through the Step Functions API.

The state machine may be named by an alias or version ARN (a deployed app gets the live
alias): executions are listed and addressed through the unqualified ARN, so every execution
shows, whichever version or alias started it, and each is drawn with the definition it ran.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime

from botocore.exceptions import ClientError

from apps.signoff import history

DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class ExecutionSummary:
    """One line of the executions list."""

    name: str
    status: str
    started: datetime
    stopped: datetime | None
    addon_id: str
    version: str
    step: str


@dataclass
class Execution:
    """Everything an execution's page shows, computed once from its history."""

    name: str
    arn: str
    status: str
    started: datetime
    stopped: datetime | None
    request: dict
    error: str
    cause: str
    statuses: dict[str, str]
    step: str
    workflow: dict
    definition: dict
    lines: list[history.HistoryLine] = field(default_factory=list)


class ExecutionReader:
    """Reads one state machine's executions, their histories and its definition."""

    def __init__(self, state_machine_arn: str, stepfunctions):
        self.state_machine_arn = unqualified(state_machine_arn)
        self.stepfunctions = stepfunctions

    def arn_of(self, name: str) -> str:
        """An execution's ARN from its name, next to the state machine's ARN."""
        prefix, _, machine = self.state_machine_arn.rpartition(":stateMachine:")
        return f"{prefix}:execution:{machine}:{name}"

    def recent(self, limit: int = DEFAULT_LIMIT) -> list[ExecutionSummary]:
        """The newest executions first, each with its add-on and the step it is at."""
        pages = self.stepfunctions.get_paginator("list_executions").paginate(
            stateMachineArn=self.state_machine_arn, PaginationConfig={"MaxItems": limit}
        )
        listed = [item for page in pages for item in page["executions"]]
        listed.sort(key=lambda item: item["startDate"], reverse=True)
        return [self._summary(item) for item in listed[:limit]]

    def get(self, name: str) -> Execution | None:
        """One execution with its history read for people, or None if there is none."""
        try:
            described = self.stepfunctions.describe_execution(executionArn=self.arn_of(name))
        except ClientError as error:
            if error.response["Error"]["Code"] in ("ExecutionDoesNotExist", "InvalidArn"):
                return None
            raise
        events = self.events(described["executionArn"])
        definition = self.definition_of(described["executionArn"])
        status = described["status"]
        return Execution(
            name=described["name"],
            arn=described["executionArn"],
            status=status,
            started=described["startDate"],
            stopped=described.get("stopDate"),
            request=_request(described),
            error=described.get("error", ""),
            cause=history.readable_cause(described.get("cause")),
            statuses=history.state_statuses(events, status),
            step=history.current_state(events) if status == "RUNNING" else "",
            workflow=history.latest_workflow(events),
            definition=definition,
            lines=history.readable(events, history.result_keys(definition)),
        )

    def is_running(self, execution_arn: str) -> bool:
        """Whether the execution still runs (and so may still wait for a decision)."""
        try:
            described = self.stepfunctions.describe_execution(executionArn=execution_arn)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("ExecutionDoesNotExist", "InvalidArn"):
                return False
            raise
        return described["status"] == "RUNNING"

    def definition(self) -> dict:
        """The state machine's current definition (its latest, whatever the alias serves)."""
        described = self.stepfunctions.describe_state_machine(
            stateMachineArn=self.state_machine_arn
        )
        return json.loads(described["definition"])

    def definition_of(self, execution_arn: str) -> dict:
        """The definition the execution ran (the version its alias pointed at then)."""
        described = self.stepfunctions.describe_state_machine_for_execution(
            executionArn=execution_arn
        )
        return json.loads(described["definition"])

    def events(self, execution_arn: str) -> list[dict]:
        """Every history event of an execution, oldest first."""
        pages = self.stepfunctions.get_paginator("get_execution_history").paginate(
            executionArn=execution_arn
        )
        events = [event for page in pages for event in page["events"]]
        return sorted(events, key=lambda event: event["id"])

    def _summary(self, item: dict) -> ExecutionSummary:
        described = self.stepfunctions.describe_execution(executionArn=item["executionArn"])
        request = _request(described)
        addon = request.get("addon") if isinstance(request.get("addon"), dict) else {}
        step = ""
        if item["status"] == "RUNNING":
            step = history.current_state(self.events(item["executionArn"])) or ""
        return ExecutionSummary(
            name=item["name"],
            status=item["status"],
            started=item["startDate"],
            stopped=item.get("stopDate"),
            addon_id=str(addon.get("id", "")),
            version=str(addon.get("version", "")),
            step=step,
        )


def unqualified(state_machine_arn: str) -> str:
    """The state machine's ARN without an alias or version: ...:stateMachine:<name>."""
    prefix, marker, rest = state_machine_arn.partition(":stateMachine:")
    return f"{prefix}{marker}{rest.split(':')[0]}" if marker else state_machine_arn


def _request(described: dict) -> dict:
    try:
        request = json.loads(described.get("input") or "{}")
    except ValueError:
        return {}
    return request if isinstance(request, dict) else {}
