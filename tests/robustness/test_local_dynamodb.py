"""The local stack's DynamoDB keeps DynamoDB's promise: a conditional write is all or nothing.

Signoff decisions and the hold on an add-on version rely on it; without it, the race tests
would prove nothing.
"""

import sys
import threading

import boto3
from botocore.exceptions import ClientError

from tests.conftest import unique_name

WRITERS, RECORDS = 8, 120


def test_of_simultaneous_conditional_writes_exactly_one_wins_each_record(stack):
    table = boto3.resource("dynamodb", region_name="us-east-1").Table("sysaddons-ledger")
    prefix = unique_name("contended")
    barrier = threading.Barrier(WRITERS)
    won = []

    def claim(owner):
        barrier.wait()
        for number in range(RECORDS):
            try:
                table.put_item(
                    Item={"record_id": f"{prefix}-{number}", "owner": owner},
                    ConditionExpression="attribute_not_exists(record_id)",
                )
                won.append(number)
            except ClientError as error:
                assert error.response["Error"]["Code"] == "ConditionalCheckFailedException"

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(WRITERS)]
    usual = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so races show
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(usual)

    assert sorted(won) == list(range(RECORDS)), "some record was won twice"
