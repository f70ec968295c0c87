"""Run many hostile requests as executions at once, and note what became of each."""

import json
from dataclasses import dataclass

import boto3

from local_stack.stack import ARCHIVE_BUCKET, LEDGER_TABLE, SIGNOFF_TABLE

# Every case must end within this, retries included: a case that waits for a remote is a bug.
CASE_SECONDS = 60
BATCH = 10


@dataclass
class Ending:
    """How one execution of a hostile request ended."""

    described: dict
    states: list[str]
    seconds: float

    @property
    def cause(self) -> str:
        return self.described.get("cause") or ""


def run_all(stack, requests: dict[str, object], prefix: str) -> dict[str, Ending]:
    """Run one execution per request, a batch at a time; answers how each ended, by case id.

    Batches keep a shared two-core machine from queueing every case behind the others, so a
    case's time says what the workflow did with it, not how busy the machine was.
    """
    cases = list(requests.items())
    endings = {}
    for start in range(0, len(cases), BATCH):
        arns = {}
        for number, (case, request) in enumerate(cases[start : start + BATCH], start):
            text = request if isinstance(request, str) else json.dumps(request)
            arns[case] = stack.sfn.start_execution(
                stateMachineArn=stack.state_machine_arn, name=f"{prefix}-{number}", input=text
            )["executionArn"]
        for case, arn in arns.items():
            described = stack.wait_for(arn, timeout=CASE_SECONDS * 2)
            states = [
                event["stateEnteredEventDetails"]["name"]
                for event in stack.history(arn)
                if event["type"].endswith("StateEntered")
            ]
            seconds = (described["stopDate"] - described["startDate"]).total_seconds()
            endings[case] = Ending(described, states, seconds)
    return endings


def everything_created(stack) -> dict:
    """What Bugzilla, Balrog, S3, SES and the tables hold: it must not change for a refusal."""
    dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
    return {
        "bugs": sorted(stack.bugzilla.bugs),
        "releases": sorted(stack.balrog.releases),
        "rules": {rule_id: dict(rule) for rule_id, rule in stack.balrog.rules.items()},
        "emails": len(stack.sent_emails()),
        "archive": sorted(
            item["Key"]
            for item in boto3.client("s3", region_name="us-east-1")
            .list_objects_v2(Bucket=ARCHIVE_BUCKET)
            .get("Contents", [])
        ),
        "signoffs": sorted(
            item["signoff_id"] for item in dynamodb.Table(SIGNOFF_TABLE).scan()["Items"]
        ),
        "ledger": sorted(
            item["record_id"] for item in dynamodb.Table(LEDGER_TABLE).scan()["Items"]
        ),
    }


def readable(message: str) -> bool:
    """Short enough to read, and free of control and invisible characters."""
    return 0 < len(message) <= 2000 and message.isprintable()
