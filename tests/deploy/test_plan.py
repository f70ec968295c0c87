"""A plan prints each change and makes it, or in a dry run only prints it; a role AWS has not
finished creating is waited for, and any other refusal is not."""

import io

import pytest
from botocore.exceptions import ClientError

from deploy.errors import ConfigurationError
from deploy.iam import fill, retry_while_role_propagates
from deploy.plan import Plan


def test_dry_run_prints_the_change_and_does_not_make_it():
    made = []
    plan = Plan(dry_run=True, out=io.StringIO())

    answer = plan.change(
        "create", "dynamodb table signoffs", "key signoff_id", lambda: made.append("table")
    )

    assert answer is None and made == []
    assert "would create   dynamodb table signoffs: key signoff_id" in plan.out.getvalue()
    assert plan.summary() == "Dry run: 1 change would be made; nothing was changed."


def test_deploy_makes_the_change_and_counts_it():
    plan = Plan(out=io.StringIO())

    answer = plan.change("update", "function f", "code", lambda: "arn:f:2")

    assert answer == "arn:f:2"
    assert plan.summary() == "1 change made."
    assert Plan(out=io.StringIO()).summary() == (
        "Nothing changed: everything is already as configured."
    )


def refused(message: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": "InvalidParameterValueException", "Message": message}}, "CreateFunction"
    )


def test_a_new_role_is_waited_for_until_lambda_may_assume_it():
    answers = [refused("The role defined for the function cannot be assumed by Lambda.")] * 2

    def create():
        if answers:
            raise answers.pop()
        return "created"

    assert retry_while_role_propagates(create, first_delay=0) == "created"


def test_other_refusals_are_not_retried():
    calls = []

    def create():
        calls.append(1)
        raise refused("Unzipped size must be smaller than 262144000 bytes")

    with pytest.raises(ClientError):
        retry_while_role_propagates(create, first_delay=0)
    assert len(calls) == 1


def test_placeholders_fill_whole_lists_and_text():
    document = {"Resource": "${Arns}", "Other": ["${One}", "arn:${Region}:x"]}

    filled = fill(document, {"Arns": ["a", "b"], "One": "c", "Region": "us-west-2"})

    assert filled == {"Resource": ["a", "b"], "Other": ["c", "arn:us-west-2:x"]}
    with pytest.raises(ConfigurationError, match="Unknown"):
        fill({"Resource": "${Unknown}"}, {})
