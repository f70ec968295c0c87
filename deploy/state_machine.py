"""The state machine: a published version per deploy, and the alias release managers start on.

The definition is the repository's ASL with each ``${<Name>FunctionArn}`` replaced by the ARN of
the function version this deploy published, so a state machine version fixes both the workflow
and the code of every step. Rolling back moves the alias to an earlier version, nothing else.

Earlier versions are found with DescribeStateMachine on version ARNs, which are numbered from 1
without reuse; ListStateMachineVersions would do too, but this way one call answers whether a
given version still exists.
"""

import json
from dataclasses import dataclass

from botocore.exceptions import ClientError

from deploy.errors import NotDeployed, NothingToRollBackTo
from deploy.iam import retry_while_role_propagates
from deploy.plan import Plan
from local_stack.definition import render

_MISSING = ("StateMachineDoesNotExist", "ResourceNotFound", "ResourceNotFoundException")


@dataclass(frozen=True)
class StateMachineAddress:
    """The ARNs of one environment's state machine and its alias."""

    arn: str
    alias: str

    @property
    def alias_arn(self) -> str:
        """The alias's ARN: the state machine ARN and the alias name."""
        return f"{self.arn}:{self.alias}"

    def version_arn(self, version: int) -> str:
        """The ARN of one published version."""
        return f"{self.arn}:{version}"


def version_number(version_arn: str) -> int:
    """The version a version ARN names: ...:stateMachine:name:7 -> 7."""
    return int(version_arn.rsplit(":", 1)[1])


def task_functions(definition: str) -> dict[str, str]:
    """The function each Task state invokes, by state name, nested states included.

    A Task names its function as its Resource, or, through the lambda:invoke integration
    (as the signoff steps do, to wait for a task token), as Parameters.FunctionName.
    """
    resources = {}

    def visit(states: dict) -> None:
        for name, state in states.items():
            resource = state.get("Resource", "")
            if state.get("Type") == "Task" and resource.startswith(
                "arn:aws:states:::lambda:invoke"
            ):
                resources[name] = state.get("Parameters", {}).get("FunctionName", "")
            elif state.get("Type") == "Task" and ":function:" in resource:
                resources[name] = resource
            for branch in state.get("Branches", []):
                visit(branch.get("States", {}))
            for key in ("Iterator", "ItemProcessor"):
                if key in state:
                    visit(state[key].get("States", {}))

    visit(json.loads(definition).get("States", {}))
    return resources


def render_definition(function_arns: dict[str, str]) -> str:
    """The definition with each placeholder replaced by its function version's ARN."""
    return render(lambda folder: function_arns[folder])


def _describe(sfn, arn: str) -> dict | None:
    try:
        return sfn.describe_state_machine(stateMachineArn=arn)
    except ClientError as error:
        if error.response["Error"]["Code"] in _MISSING:
            return None
        raise


def alias_version(sfn, address: StateMachineAddress) -> str | None:
    """The version ARN the alias routes every execution to, or None without an alias."""
    try:
        alias = sfn.describe_state_machine_alias(stateMachineAliasArn=address.alias_arn)
    except ClientError as error:
        if error.response["Error"]["Code"] in _MISSING:
            return None
        raise
    routes = sorted(alias["routingConfiguration"], key=lambda route: -route["weight"])
    return routes[0]["stateMachineVersionArn"]


def _same_definition(left: str, right: str) -> bool:
    return json.loads(left) == json.loads(right)


def changed_functions(old_definition: str | None, new_definition: str | None) -> str:
    """Which states run a different function version, in words, for the plan's output."""
    if old_definition is None or new_definition is None:
        return ""
    old, new = task_functions(old_definition), task_functions(new_definition)
    changes = [
        f"{state} {_short(old.get(state))} -> {_short(new.get(state))}"
        for state in sorted(set(old) | set(new))
        if old.get(state) != new.get(state)
    ]
    return "; ".join(changes)


def _short(function_arn: str | None) -> str:
    # arn:aws:lambda:region:account:function:name:7 -> name:7
    if not function_arn:
        return "none"
    return function_arn.split(":function:", 1)[-1]


def ensure_state_machine(
    sfn,
    plan: Plan,
    address: StateMachineAddress,
    name: str,
    role_arn: str,
    function_arns: dict[str, str | None],
    version_description: str = "",
) -> None:
    """Publish a version when the definition or role changed, and point the alias at it."""
    pending = sorted(folder for folder, arn in function_arns.items() if arn is None)
    definition = None if pending else render_definition(function_arns)
    resource = f"state machine {name}"
    described = _describe(sfn, address.arn)

    if described is None:

        def create() -> str:
            created = retry_while_role_propagates(
                lambda: sfn.create_state_machine(
                    name=name,
                    definition=definition,
                    roleArn=role_arn,
                    type="STANDARD",
                    publish=True,
                    **_description(version_description),
                )
            )
            return created["stateMachineVersionArn"]

        version_arn = plan.change("create", resource, "version 1", create)
        plan.change(
            "create",
            f"alias {address.alias}",
            "serves version 1",
            lambda: sfn.create_state_machine_alias(
                name=address.alias,
                routingConfiguration=[{"stateMachineVersionArn": version_arn, "weight": 100}],
            ),
        )
        return

    live_arn = alias_version(sfn, address)
    live = _describe(sfn, live_arn) if live_arn else None
    if (
        definition is not None
        and live is not None
        and _same_definition(live["definition"], definition)
        and live["roleArn"] == role_arn
    ):
        return

    if definition is None:
        detail = "new versions of " + ", ".join(pending)
    else:
        compared = live or described
        detail = changed_functions(compared["definition"], definition) or "definition"
        if compared["roleArn"] != role_arn:
            detail += "; role"

    def publish() -> str:
        updated = retry_while_role_propagates(
            lambda: sfn.update_state_machine(
                stateMachineArn=address.arn,
                definition=definition,
                roleArn=role_arn,
                publish=True,
                **_description(version_description),
            )
        )
        return updated["stateMachineVersionArn"]

    version_arn = plan.change("publish", resource, detail, publish)
    target = f"version {version_number(version_arn)}" if version_arn else "the new version"
    if live_arn is None:
        plan.change(
            "create",
            f"alias {address.alias}",
            f"serves {target}",
            lambda: sfn.create_state_machine_alias(
                name=address.alias,
                routingConfiguration=[{"stateMachineVersionArn": version_arn, "weight": 100}],
            ),
        )
    else:
        plan.change(
            "move",
            f"alias {address.alias}",
            f"version {version_number(live_arn)} -> {target}",
            lambda: _route(sfn, address, version_arn),
        )


def _description(version_description: str) -> dict:
    return {"versionDescription": version_description[:256]} if version_description else {}


def _route(sfn, address: StateMachineAddress, version_arn: str) -> None:
    sfn.update_state_machine_alias(
        stateMachineAliasArn=address.alias_arn,
        routingConfiguration=[{"stateMachineVersionArn": version_arn, "weight": 100}],
    )


def earlier_version(sfn, address: StateMachineAddress, before: int) -> int | None:
    """The highest version below ``before`` that still exists, or None."""
    for candidate in range(before - 1, 0, -1):
        if _describe(sfn, address.version_arn(candidate)) is not None:
            return candidate
    return None


def rollback(sfn, plan: Plan, address: StateMachineAddress, to_version: int | None = None) -> None:
    """Move the alias to an earlier version: the one before the live one, or ``to_version``."""
    live_arn = alias_version(sfn, address)
    if live_arn is None:
        raise NotDeployed(f"{address.alias_arn} does not exist: nothing is deployed to roll back")
    live = version_number(live_arn)

    if to_version is None:
        target = earlier_version(sfn, address, live)
        if target is None:
            raise NothingToRollBackTo(
                f"alias {address.alias} serves version {live}, and no earlier version exists"
            )
    else:
        target = to_version
        if target == live:
            raise NothingToRollBackTo(f"alias {address.alias} already serves version {live}")
        if _describe(sfn, address.version_arn(target)) is None:
            raise NotDeployed(f"version {target} of {address.arn} does not exist")

    old = _describe(sfn, live_arn)["definition"]
    new = _describe(sfn, address.version_arn(target))["definition"]
    functions = changed_functions(old, new)
    detail = f"version {live} -> {target}" + (f" ({functions})" if functions else "")
    plan.change(
        "move",
        f"alias {address.alias}",
        detail,
        lambda: _route(sfn, address, address.version_arn(target)),
    )


def describe_live(sfn, address: StateMachineAddress) -> dict | None:
    """What the alias serves: version number, its description, and its function versions."""
    live_arn = alias_version(sfn, address)
    if live_arn is None:
        return None
    live = _describe(sfn, live_arn)
    number = version_number(live_arn)
    return {
        "version": number,
        "description": live.get("description", ""),
        "functions": {
            state: _short(arn) for state, arn in sorted(task_functions(live["definition"]).items())
        },
        "earlier_version": earlier_version(sfn, address, number),
    }
