"""A DynamoDB table where steps note what they did, so a retried step does not do it again."""

import time
from decimal import Decimal

import boto3
from botocore.exceptions import ClientError

from sysaddons.settings import ledger_table


def _table():
    return boto3.resource("dynamodb").Table(ledger_table())


def plain(value):
    """DynamoDB's numbers come back as Decimal; JSON and comparisons want int or float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def read(record_id: str) -> dict | None:
    """The record, or None if no step wrote it yet."""
    item = _table().get_item(Key={"record_id": record_id}, ConsistentRead=True).get("Item")
    return plain(item) if item else None


def claim(record_id: str, **fields) -> bool:
    """Write the record only if it does not exist yet; True if this call wrote it."""
    item = {"record_id": record_id, "created_at": int(time.time()), **fields}
    try:
        _table().put_item(Item=item, ConditionExpression="attribute_not_exists(record_id)")
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def write(record_id: str, **fields) -> None:
    """Write the record whole, replacing what was there."""
    _table().put_item(Item={"record_id": record_id, "created_at": int(time.time()), **fields})


def forget(record_id: str) -> None:
    """Remove the record, so the step it describes may run again."""
    _table().delete_item(Key={"record_id": record_id})


def acquire(record_id: str, owner: str, **fields) -> dict | None:
    """Hold the record for ``owner``; None if now held, else the record of whoever holds it."""
    try:
        _table().put_item(
            Item={
                "record_id": record_id,
                "owner": owner,
                "created_at": int(time.time()),
                **fields,
            },
            ConditionExpression="attribute_not_exists(record_id) OR #o = :owner",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":owner": owner},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return read(record_id)
        raise
    return None


def release(record_id: str, owner: str) -> None:
    """Let go of a record this owner holds; someone else's hold is left alone."""
    try:
        _table().delete_item(
            Key={"record_id": record_id},
            ConditionExpression="#o = :owner",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":owner": owner},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
