"""The command line's commands: each takes the connection and the parsed options."""

import json
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from botocore.exceptions import ClientError

from apps.signoff import graph as workflow_graph
from apps.signoff.graph import WAITING
from apps.signoff.workflow import ExecutionReader
from sysaddons import signoffs as signoff_records
from sysaddons.errors import ReleaseInProgress, SignoffNotDecidable
from sysaddons.request import check_sense, check_shape, check_xpi_matches, shortname, xpi_filename
from sysaddons.xpi import fetch_xpi, inspect_xpi
from sysaddons_cli.connection import Connection

EXIT_FAILED = 1
EXIT_WAITING = 5
POLL_SECONDS = 1.0
WATCH_LIMIT_SECONDS = 24 * 3600
_SIGNOFF_ROLES = {"RequestQaSignoff": "qa", "RequestRelmanSignoff": "relman"}


class UsageError(Exception):
    """The command line asks for something that cannot be done as asked."""


def start(connection: Connection, args) -> int:
    """Check a request with the workflow's own checks, then start it with a readable name."""
    _need_state_machine(connection)
    try:
        request = json.load(args.request)
    except json.JSONDecodeError as error:
        raise UsageError(f"{args.request.name} is not JSON: {error}") from None
    check_shape(request)
    check_sense(request)
    addon = request["addon"]
    facts = inspect_xpi(fetch_xpi(addon["xpi_url"], connection.xpi), xpi_filename(request))
    check_xpi_matches(request, facts)
    _refuse_if_already_shipping(connection, addon["id"], addon["version"])

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    name = f"{shortname(request)}-{addon['version']}-{stamp}".replace(".", "-")[:80]
    started = connection.client("stepfunctions").start_execution(
        stateMachineArn=connection.state_machine_arn, name=name, input=json.dumps(request)
    )
    arn = started["executionArn"]
    link = connection.console_link(arn)
    _say(
        args,
        {"execution": name, "arn": arn, "console": link, "sha512": facts.sha512},
        f"started {name}\n  {arn}" + (f"\n  {link}" if link else ""),
    )
    if getattr(args, "watch", False):
        args.execution = name
        return watch(connection, args)
    return 0


def _refuse_if_already_shipping(connection: Connection, addon_id: str, version: str) -> None:
    """Say now what ValidateRequest would say: another execution holds this add-on version."""
    held = (
        connection.client("dynamodb")
        .get_item(
            TableName=connection.ledger_table,
            Key={"record_id": {"S": f"shipping/{addon_id}/{version}"}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    if not held:
        return
    owner = held["owner"]["S"]
    try:
        running = connection.client("stepfunctions").describe_execution(executionArn=owner)
    except ClientError:
        return  # the holder is gone: ValidateRequest takes the hold over
    if running["status"] == "RUNNING":
        raise ReleaseInProgress(
            f"{addon_id} {version} is already being shipped by execution "
            f"{owner.rsplit(':', 1)[-1]}; follow that one with `sysaddons watch`"
        )


def status(connection: Connection, args) -> int:
    """Print each step an execution went through, with its state and timing."""
    execution = _read(connection, args.execution)
    _print_execution(args, connection, execution)
    return _exit_code(execution)


def watch(connection: Connection, args) -> int:
    """Follow an execution live until it ends or waits for someone's signoff."""
    reader = _reader(connection)
    name = _name(args.execution)
    shown, deadline = 0, time.monotonic() + WATCH_LIMIT_SECONDS
    while time.monotonic() < deadline:
        execution = reader.get(name)
        if execution is None:
            raise UsageError(f"there is no execution {name}")
        if not args.json:
            for line in execution.lines[shown:]:
                print(f"  {line.seconds:7.1f}s  {line.step:<24} {line.text}", flush=True)
            shown = len(execution.lines)
            if execution.status == "RUNNING" and execution.step and sys.stdout.isatty():
                done = sum(status == "done" for status in execution.statuses.values())
                print(f"  ... {execution.step} ({done} steps done)", end="\r", flush=True)
        if execution.status != "RUNNING" or WAITING in execution.statuses.values():
            if args.json:
                _print_execution(args, connection, execution)
            else:
                print(" " * 60, end="\r")
                print(_ending(connection, execution))
            return _exit_code(execution)
        time.sleep(POLL_SECONDS)
    raise UsageError(f"stopped watching {name} after {WATCH_LIMIT_SECONDS} seconds")


def list_executions(connection: Connection, args) -> int:
    """Print recent executions with their add-on, version, status and current step."""
    _need_state_machine(connection)
    recent = _reader(connection).recent(limit=args.limit)
    rows = [
        {
            "execution": item.name,
            "addon": item.addon_id,
            "version": item.version,
            "status": item.status,
            "step": item.step,
            "started": item.started.astimezone(timezone.utc).isoformat(timespec="seconds"),
        }
        for item in recent
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print("no executions yet")
    for row in [] if args.json else rows:
        print(
            f"{row['started']}  {row['status']:<9} {row['addon']} {row['version']:<10} "
            f"{row['step'] or '-':<22} {row['execution']}"
        )
    return 0


def signoffs(connection: Connection, args) -> int:
    """Print pending signoffs (or all of them), without their task tokens."""
    status_filter = None if args.all else signoff_records.PENDING
    items = signoff_records.list_signoffs(status_filter, table_name=connection.signoff_table)
    shown = [{k: v for k, v in item.items() if k != "task_token"} for item in items]
    if args.json:
        print(json.dumps(shown, indent=2, default=str))
        return 0
    if not shown:
        print("no signoffs" if args.all else "no pending signoffs")
    for item in shown:
        expires = datetime.fromtimestamp(int(item["expires_at"]), timezone.utc)
        print(
            f"{item['signoff_id']}  {item['status']:<8} "
            f"{signoff_records.ROLES.get(item['role'], item['role']):<19} "
            f"{item.get('addon_name', '')} {item.get('version', '')}  bug {item.get('bug_id')}"
            f"  by {item.get('requested_by')}  expires {expires:%Y-%m-%d %H:%M}Z"
        )
    return 0


def approve(connection: Connection, args) -> int:
    """Approve a signoff: recorded once, then sent to the waiting execution."""
    return _decide(connection, args, approve=True)


def reject(connection: Connection, args) -> int:
    """Reject a signoff with a reason: recorded once, then sent to the waiting execution."""
    return _decide(connection, args, approve=False)


def graph(connection: Connection, args) -> int:
    """Draw the workflow as SVG, or as PNG through Debian's chromium."""
    statuses, title = {}, "System add-on workflow"
    if args.definition:
        definition = json.load(args.definition)
    else:
        _need_state_machine(connection)
        definition = _reader(connection).definition()
    if args.execution:
        execution = _read(connection, args.execution)
        statuses, title = execution.statuses, f"{execution.name}: {execution.status}"
    svg = workflow_graph.draw_svg(definition, statuses, title=title)

    output = Path(args.output)
    if output.suffix == ".svg":
        output.write_text(svg)
    elif output.suffix == ".png":
        _render_png(svg, output)
    else:
        raise UsageError(f"{output}: write a .svg or a .png file")
    _say(args, {"output": str(output)}, f"wrote {output}")
    return 0


def _decide(connection: Connection, args, approve: bool) -> int:
    reviewer = signoff_records.Reviewer(args.reviewer, _granted_role(connection, args))
    decision = signoff_records.decide(
        args.signoff,
        reviewer,
        approve,
        args.reason,
        table_name=connection.signoff_table,
        stepfunctions=connection.client("stepfunctions"),
    )
    _say(args, decision, f"{decision['decision']} {args.signoff} as {args.reviewer}")
    return 0


def _granted_role(connection: Connection, args) -> set[str]:
    """The role a reviewer decides in, if the role mapping grants it to them.

    The mapping is the signoff app's: apps/signoff/dev_users.json on the local stack, and
    ROLE_MAPPING (a JSON object from email address to roles) on AWS. It keeps honest mistakes
    out; on AWS the real gate is IAM, since whoever may write the signoff table and send task
    results could decide without this command.
    """
    granted = connection.reviewer_roles().get(args.reviewer.strip().lower())
    if granted is None:
        raise SignoffNotDecidable(
            f"{args.reviewer} is not a reviewer in {connection.role_mapping_source}"
        )
    if args.role not in granted and "admin" not in granted:
        held = ", ".join(sorted(granted)) or "none"
        raise SignoffNotDecidable(
            f"{args.reviewer} does not hold the {args.role} role (roles: {held})"
        )
    return {args.role}


def _reader(connection: Connection) -> ExecutionReader:
    # Executions started on an alias or a version are listed under the state machine itself.
    base = ":".join(connection.state_machine_arn.split(":")[:7])
    return ExecutionReader(base, connection.client("stepfunctions"))


def _read(connection: Connection, execution: str):
    _need_state_machine(connection)
    found = _reader(connection).get(_name(execution))
    if found is None:
        raise UsageError(f"there is no execution {_name(execution)}")
    return found


def _name(execution: str) -> str:
    return execution.rsplit(":", 1)[-1] if execution.startswith("arn:") else execution


def _need_state_machine(connection: Connection) -> None:
    if not connection.state_machine_arn:
        raise UsageError(
            "which state machine? pass --state-machine ARN (the live alias), "
            "set SYSADDONS_STATE_MACHINE_ARN, or use --local"
        )


def _print_execution(args, connection: Connection, execution) -> None:
    if args.json:
        print(
            json.dumps(
                {
                    "execution": execution.name,
                    "arn": execution.arn,
                    "status": execution.status,
                    "step": execution.step,
                    "error": execution.error,
                    "cause": execution.cause,
                    "states": execution.statuses,
                    "waiting_for": _waiting_for(connection, execution),
                    "history": [
                        {"seconds": line.seconds, "step": line.step, "text": line.text}
                        for line in execution.lines
                    ],
                },
                indent=2,
            )
        )
        return
    print(f"{execution.name}: {execution.status}")
    for line in execution.lines:
        print(f"  {line.seconds:7.1f}s  {line.step:<24} {line.text}")
    print(_ending(connection, execution))


def _ending(connection: Connection, execution) -> str:
    if execution.status == "SUCCEEDED":
        return f"{execution.name} SUCCEEDED"
    if execution.status != "RUNNING":
        return f"{execution.name} {execution.status}: {execution.error} {execution.cause}".strip()
    waiting = _waiting_for(connection, execution)
    if waiting:
        return (
            f"{execution.name} waits for {waiting['role']} signoff {waiting['signoff']}"
            f" from {', '.join(waiting['reviewers']) or 'the reviewers'}"
        )
    return f"{execution.name} is at {execution.step}"


def _waiting_for(connection: Connection, execution) -> dict | None:
    for state, role in _SIGNOFF_ROLES.items():
        if execution.statuses.get(state) == WAITING:
            signoff = signoff_records.signoff_id(execution.name, role)
            item = signoff_records.get(signoff, table_name=connection.signoff_table) or {}
            return {
                "signoff": signoff,
                "role": signoff_records.ROLES[role],
                "reviewers": item.get("reviewers", []),
            }
    return None


def _exit_code(execution) -> int:
    if execution.status == "SUCCEEDED":
        return 0
    if execution.status == "RUNNING":
        return EXIT_WAITING if WAITING in execution.statuses.values() else 0
    return EXIT_FAILED


def _render_png(svg: str, output: Path) -> None:
    """Let chromium (installed by ./dev) rasterise the SVG; no other renderer is needed."""
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "graph.svg"
        page.write_text(svg)
        width, height = _svg_size(svg)
        completed = subprocess.run(
            [
                "chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={folder}/profile",
                f"--window-size={width},{height}",
                f"--screenshot={output.resolve()}",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    if completed.returncode != 0 or not output.exists():
        raise UsageError(f"chromium could not draw the PNG: {completed.stderr.strip()[-300:]}")


def _svg_size(svg: str) -> tuple[int, int]:
    width = re.search(r'width="(\d+(?:\.\d+)?)"', svg)
    height = re.search(r'height="(\d+(?:\.\d+)?)"', svg)
    return int(float(width.group(1))) if width else 1200, int(
        float(height.group(1))
    ) if height else 900


def _say(args, value: dict, text: str) -> None:
    print(json.dumps(value, indent=2, default=str) if args.json else text)


BY_NAME = {
    "start": start,
    "status": status,
    "watch": watch,
    "list": list_executions,
    "signoffs": signoffs,
    "approve": approve,
    "reject": reject,
    "graph": graph,
}
