"""Pending signoffs: recorded by the workflow, decided once by a reviewer of the right role.

A signoff is addressed by its own id (``<execution name>-<role>``); the Step Functions task
token stays in the table and is never shown, because real tokens do not survive URLs.
A decision is written to the table first, with a condition that only a pending, unexpired
signoff passes, and only then sent to Step Functions. If Step Functions cannot be reached
the decision is taken back, so the signoff stays decidable instead of being lost.
"""

import json
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from sysaddons import log
from sysaddons.errors import RemoteUnavailable, SignoffNotDecidable
from sysaddons.ledger import plain
from sysaddons.settings import self_signoff_allowed, signoff_table

ROLES = {"qa": "QA", "relman": "release management"}
PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
EXPIRED = "expired"
_MAX_REASON = 2000
# Control characters and text-direction overrides would make a reason read differently in
# the bug, the app and a terminal than it was written.
_HIDDEN_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def _table(table_name: str | None = None):
    return boto3.resource("dynamodb").Table(table_name or signoff_table())


def signoff_id(execution_name: str, role: str) -> str:
    """The signoff's id: one per execution and role."""
    return f"{execution_name}-{role}"


def now_iso() -> str:
    """The current time, ISO 8601 in UTC, as stored in the table."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def record_pending(item: dict, table_name: str | None = None) -> bool:
    """Store a pending signoff; a retried step refreshes the token. False if already decided.

    A retried step brings a new task token, so an expired record (its old token refused)
    becomes pending again; an approved or rejected one is never reopened.
    """
    table = _table(table_name)
    try:
        table.put_item(
            Item={**item, "status": PENDING},
            ConditionExpression="attribute_not_exists(signoff_id) OR #s IN (:pending, :expired)",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":pending": PENDING, ":expired": EXPIRED},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def get(signoff: str, table_name: str | None = None) -> dict | None:
    """One signoff, or None."""
    item = _table(table_name).get_item(Key={"signoff_id": signoff}, ConsistentRead=True)
    return plain(item["Item"]) if "Item" in item else None


def list_signoffs(status: str | None = None, table_name: str | None = None) -> list[dict]:
    """Every signoff (or those in one status), oldest request first."""
    table = _table(table_name)
    items, start = [], {}
    while True:
        page = table.scan(**start)
        items.extend(plain(item) for item in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            break
        start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
    if status:
        items = [item for item in items if item.get("status") == status]
    return sorted(items, key=lambda item: item.get("requested_at", ""))


def mark_expired(signoff: str, table_name: str | None = None) -> None:
    """Note that the workflow stopped waiting for this signoff (timed out or ended)."""
    _set_status(signoff, EXPIRED, PENDING, table_name)


@dataclass
class Reviewer:
    """Who is deciding, and in which roles they may."""

    email: str
    roles: set[str]


def check_may_decide(item: dict, reviewer: Reviewer, allow_self: bool | None = None) -> None:
    """Refuse a reviewer without the signoff's role, or deciding their own release."""
    role = item["role"]
    if role not in reviewer.roles and "admin" not in reviewer.roles:
        raise SignoffNotDecidable(
            f"{reviewer.email} may not decide a {ROLES.get(role, role)} signoff"
        )
    allow_self = self_signoff_allowed() if allow_self is None else allow_self
    if not allow_self and reviewer.email.lower() == str(item.get("requested_by", "")).lower():
        raise SignoffNotDecidable(
            f"{reviewer.email} started this release and may not sign it off too"
        )


def check_other_reviewer(item: dict, reviewer: Reviewer, table_name: str | None = None) -> None:
    """Refuse one person signing off both QA and release management of the same release."""
    execution = item.get("execution_name")
    if not execution:
        return
    for role in ROLES:
        if role == item["role"]:
            continue
        other = get(signoff_id(execution, role), table_name) or {}
        if str(other.get("decided_by", "")).lower() == reviewer.email.lower():
            raise SignoffNotDecidable(
                f"{reviewer.email} already signed off {ROLES[role]} for this release; "
                f"another person signs off {ROLES[item['role']]}"
            )


def decide(
    signoff: str,
    reviewer: Reviewer,
    approve: bool,
    reason: str = "",
    *,
    table_name: str | None = None,
    stepfunctions=None,
    allow_self: bool | None = None,
) -> dict:
    """Record one decision, then send it to the waiting execution; answers the decision."""
    reason = (reason or "").strip()
    if not approve and not reason:
        raise SignoffNotDecidable("a rejection needs a reason")
    if len(reason) > _MAX_REASON:
        raise SignoffNotDecidable(f"the reason is longer than {_MAX_REASON} characters")
    if _HIDDEN_CHARACTERS.search(reason):
        raise SignoffNotDecidable(
            "the reason holds control or text-direction characters; write it as plain text"
        )

    item = get(signoff, table_name)
    if item is None:
        raise SignoffNotDecidable(f"there is no signoff {signoff}")
    check_may_decide(item, reviewer, allow_self)
    check_other_reviewer(item, reviewer, table_name)
    if item.get("status") != PENDING:
        by = item.get("decided_by")
        raise SignoffNotDecidable(
            f"signoff {signoff} is already {item.get('status')}" + (f" by {by}" if by else "")
        )
    if int(item.get("expires_at", 0)) <= int(time.time()):
        mark_expired(signoff, table_name)
        raise SignoffNotDecidable(f"signoff {signoff} expired at {_when(item['expires_at'])}")

    stepfunctions = stepfunctions or boto3.client("stepfunctions")
    _refuse_if_execution_ended(item, stepfunctions, table_name)

    decision = {
        "signoff_id": signoff,
        "role": item["role"],
        "decision": APPROVED if approve else REJECTED,
        "decided_by": reviewer.email,
        "reason": reason,
        "decided_at": now_iso(),
    }
    _record(signoff, decision, table_name)
    try:
        _send(item["task_token"], decision, stepfunctions)
    except SignoffNotDecidable:
        _set_status(signoff, EXPIRED, decision["decision"], table_name)
        raise
    except (RemoteUnavailable, BotoCoreError):
        _take_back(signoff, decision, table_name)
        raise RemoteUnavailable(
            f"Step Functions could not be reached; signoff {signoff} is still pending"
        ) from None
    log.event(
        "signoff decided",
        signoff=signoff,
        decision=decision["decision"],
        decided_by=reviewer.email,
    )
    return decision


def _refuse_if_execution_ended(item: dict, stepfunctions, table_name: str | None) -> None:
    """Refuse, and mark expired, a signoff whose execution was stopped or ended meanwhile.

    Step Functions would refuse the token anyway, but only after the decision was recorded;
    asking first keeps the record clean (and moto accepts tokens of stopped executions).
    """
    execution_arn = item.get("execution_arn")
    if not execution_arn:
        return
    try:
        status = stepfunctions.describe_execution(executionArn=execution_arn)["status"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ExecutionDoesNotExist":
            raise
        status = "GONE"
    except BotoCoreError:
        raise RemoteUnavailable(
            f"Step Functions could not be reached; signoff {item['signoff_id']} is still pending"
        ) from None
    if status != "RUNNING":
        mark_expired(item["signoff_id"], table_name)
        raise SignoffNotDecidable(
            f"execution {item.get('execution_name')} has ended and no longer waits for this "
            "signoff"
        )


def _record(signoff: str, decision: dict, table_name: str | None) -> None:
    try:
        _table(table_name).update_item(
            Key={"signoff_id": signoff},
            UpdateExpression=(
                "SET #s = :decision, decided_by = :by, reason = :reason, decided_at = :at"
            ),
            ConditionExpression="#s = :pending AND expires_at > :now",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":decision": decision["decision"],
                ":by": decision["decided_by"],
                ":reason": decision["reason"],
                ":at": decision["decided_at"],
                ":pending": PENDING,
                ":now": int(time.time()),
            },
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise SignoffNotDecidable(
                f"signoff {signoff} was decided or expired a moment ago; nothing was changed"
            ) from None
        raise


def _send(token: str, decision: dict, stepfunctions) -> None:
    try:
        if decision["decision"] == APPROVED:
            stepfunctions.send_task_success(taskToken=token, output=json.dumps(decision))
        else:
            stepfunctions.send_task_failure(
                taskToken=token,
                error="SignoffRejected",
                cause=json.dumps(decision)[:32000],
            )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist"):
            raise SignoffNotDecidable(
                f"the execution no longer waits for signoff {decision['signoff_id']} "
                "(it timed out or ended); the decision was not sent"
            ) from None
        if code in ("ThrottlingException", "ServiceUnavailable", "InternalServerError"):
            raise RemoteUnavailable(code) from None
        raise


def _take_back(signoff: str, decision: dict, table_name: str | None) -> None:
    _table(table_name).update_item(
        Key={"signoff_id": signoff},
        UpdateExpression="SET #s = :pending REMOVE decided_by, reason, decided_at",
        ConditionExpression="#s = :decision AND decided_by = :by AND decided_at = :at",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":pending": PENDING,
            ":decision": decision["decision"],
            ":by": decision["decided_by"],
            ":at": decision["decided_at"],
        },
    )


def _set_status(signoff: str, status: str, expected: str, table_name: str | None) -> bool:
    """Move a signoff from one status to another; False if it was not in ``expected``."""
    try:
        _table(table_name).update_item(
            Key={"signoff_id": signoff},
            UpdateExpression="SET #s = :status",
            ConditionExpression="#s = :expected",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":status": status, ":expected": expected},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False
    return True


def _when(epoch) -> str:
    return datetime.fromtimestamp(int(epoch), timezone.utc).isoformat(timespec="seconds")
