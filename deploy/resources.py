"""What the workflow needs around its functions: tables, archive permissions, secrets, sender.

Tables are created when missing. The archive bucket's policy gets the workflow's statements
when the environment says the deployer manages it. Buckets, SSM parameter values and the SES
sender are never created: people own them, and the deployer says which are missing.
"""

import json

from botocore.exceptions import ClientError

from deploy.iam import ARCHIVE_BUCKET_POLICY, load_document
from deploy.plan import Plan


def ensure_table(dynamodb, plan: Plan, name: str, key: str) -> None:
    """Create the table (on-demand, one string hash key) unless it exists."""
    try:
        described = dynamodb.describe_table(TableName=name)["Table"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        described = None

    if described is None:

        def create() -> None:
            dynamodb.create_table(
                TableName=name,
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            dynamodb.get_waiter("table_exists").wait(TableName=name)

        plan.change("create", f"dynamodb table {name}", f"key {key}", create)
        return

    keys = [part["AttributeName"] for part in described["KeySchema"] if part["KeyType"] == "HASH"]
    if keys != [key]:
        plan.note(f"table {name} is keyed by {', '.join(keys)}, but the workflow expects {key}")


def ensure_archive_bucket_policy(s3, plan: Plan, bucket: str, values: dict) -> None:
    """Add or refresh the workflow's statements in the bucket policy; others stay as they are."""
    ours = load_document(ARCHIVE_BUCKET_POLICY, values)["Statement"]
    our_sids = {statement["Sid"] for statement in ours}
    try:
        current = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "NoSuchBucket":
            return  # said among the missing resources at the end
        if code != "NoSuchBucketPolicy":
            raise
        current = {"Version": "2012-10-17", "Statement": []}

    kept = [
        statement
        for statement in current.get("Statement", [])
        if statement.get("Sid") not in our_sids
    ]
    present = [
        statement for statement in current.get("Statement", []) if statement.get("Sid") in our_sids
    ]
    if sorted(present, key=lambda s: s["Sid"]) == sorted(ours, key=lambda s: s["Sid"]):
        return
    policy = {"Version": current.get("Version", "2012-10-17"), "Statement": kept + ours}
    plan.change(
        "update" if present else "create",
        f"bucket policy of {bucket}",
        f"statements {', '.join(sorted(our_sids))}",
        lambda: s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy)),
    )


def missing_parameters(ssm, names: list[str]) -> list[str]:
    """The SSM parameter names that do not exist; values are never read."""
    found = set()
    for start in range(0, len(names), 10):
        batch = names[start : start + 10]
        paginator = ssm.get_paginator("describe_parameters")
        for page in paginator.paginate(
            ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": batch}]
        ):
            found.update(parameter["Name"] for parameter in page["Parameters"])
    return [name for name in names if name not in found]


def missing_buckets(s3, buckets: list[str]) -> list[str]:
    """The buckets that do not exist (or that these credentials may not see)."""
    missing = []
    for bucket in buckets:
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError:
            missing.append(bucket)
    return missing


def sender_verified(ses, sender: str) -> bool:
    """Whether SES may send from the address, itself or through its verified domain."""
    identities = [sender, sender.rpartition("@")[2]]
    answer = ses.get_identity_verification_attributes(Identities=identities)
    attributes = answer.get("VerificationAttributes", {})
    return any(
        attributes.get(identity, {}).get("VerificationStatus") == "Success"
        for identity in identities
    )
