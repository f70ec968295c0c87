"""One execution at a time per add-on version: a second start is refused, never shipped twice.

The hold is a ledger record taken by ValidateRequest once the request is known to be good,
and let go by CloseTrackingBug or ReportFailure. A hold whose execution has ended without
letting go (a crash in the failure path) is taken over, so nothing stays stuck.
"""

import boto3
from botocore.exceptions import ClientError

from sysaddons import ledger, log
from sysaddons.errors import ReleaseInProgress


def _record(addon_id: str, version: str) -> str:
    return f"shipping/{addon_id}/{version}"


def hold(addon_id: str, version: str, execution_arn: str) -> None:
    """Take the add-on version for this execution, or refuse naming the one that has it."""
    record = _record(addon_id, version)
    holder = ledger.acquire(record, execution_arn)
    if holder is None:
        return
    other = holder["owner"]
    if _still_running(other):
        raise ReleaseInProgress(
            f"{addon_id} {version} is already being shipped by execution "
            f"{other.rsplit(':', 1)[-1]}; follow that one, or stop it before starting again"
        )
    log.event("taking over the hold of an ended execution", previous=other)
    ledger.release(record, other)
    if ledger.acquire(record, execution_arn) is not None:
        raise ReleaseInProgress(f"{addon_id} {version} was just taken by another execution")


def let_go(addon_id: str, version: str, execution_arn: str) -> None:
    """Free the add-on version for later executions, if this execution holds it."""
    ledger.release(_record(addon_id, version), execution_arn)


def _still_running(execution_arn: str) -> bool:
    try:
        status = boto3.client("stepfunctions").describe_execution(executionArn=execution_arn)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ExecutionDoesNotExist":
            return False
        raise
    return status["status"] == "RUNNING"
