"""One decision per signoff, recorded before it is sent, and never lost on the way."""

import threading
import time

import boto3
import pytest
from botocore.config import Config

from sysaddons import signoffs
from sysaddons.errors import RemoteUnavailable, SignoffNotDecidable
from tests.conftest import unique_name

TABLE = "sysaddons-signoffs"
QA = signoffs.Reviewer("qa-reviewer@mozilla.com", {"qa"})


def pending(stack, token="no-such-token", expires_in=3600, **fields) -> str:
    signoff = signoffs.signoff_id(unique_name("decide"), "qa")
    signoffs.record_pending(
        {
            "signoff_id": signoff,
            "task_token": token,
            "role": "qa",
            "requested_by": "relman@mozilla.com",
            "requested_at": signoffs.now_iso(),
            "expires_at": int(time.time()) + expires_in,
            **fields,
        },
        table_name=TABLE,
    )
    return signoff


def test_a_decision_for_an_execution_that_stopped_waiting_is_refused(stack):
    signoff = pending(stack, token="a-token-step-functions-does-not-know")
    with pytest.raises(SignoffNotDecidable, match="no longer waits"):
        signoffs.decide(signoff, QA, True, table_name=TABLE)
    assert signoffs.get(signoff, TABLE)["status"] == "expired"


def test_an_expired_signoff_cannot_be_decided(stack):
    signoff = pending(stack, expires_in=-1)
    with pytest.raises(SignoffNotDecidable, match="expired at"):
        signoffs.decide(signoff, QA, True, table_name=TABLE)
    assert signoffs.get(signoff, TABLE)["status"] == "expired"


def test_step_functions_out_of_reach_leaves_the_signoff_decidable(stack):
    signoff = pending(stack)
    unreachable = boto3.client(
        "stepfunctions",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    with pytest.raises(RemoteUnavailable, match="is still pending"):
        signoffs.decide(signoff, QA, True, table_name=TABLE, stepfunctions=unreachable)
    item = signoffs.get(signoff, TABLE)
    assert item["status"] == "pending" and "decided_by" not in item


def test_two_reviewers_at_the_same_moment_record_one_decision(stack):
    signoff = pending(stack)
    sent, outcomes = [], []

    class SlowStepFunctions:
        def send_task_success(self, **kwargs):
            sent.append(kwargs)
            time.sleep(0.2)

    def decide(email):
        try:
            signoffs.decide(
                signoff,
                signoffs.Reviewer(email, {"qa"}),
                True,
                table_name=TABLE,
                stepfunctions=SlowStepFunctions(),
            )
            outcomes.append(email)
        except SignoffNotDecidable:
            pass

    threads = [threading.Thread(target=decide, args=(f"qa{n}@mozilla.com",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(outcomes) == 1 and len(sent) == 1
    assert signoffs.get(signoff, TABLE)["decided_by"] == outcomes[0]


@pytest.mark.parametrize(
    "reviewer, message",
    [
        (
            signoffs.Reviewer("relman-reviewer@mozilla.com", {"relman"}),
            "may not decide a QA signoff",
        ),
        (signoffs.Reviewer("relman@mozilla.com", {"qa"}), "started this release"),
    ],
)
def test_wrong_role_and_own_release_are_refused_and_change_nothing(stack, reviewer, message):
    signoff = pending(stack)
    with pytest.raises(SignoffNotDecidable, match=message):
        signoffs.decide(signoff, reviewer, True, table_name=TABLE)
    assert signoffs.get(signoff, TABLE)["status"] == "pending"


def test_a_rejection_needs_a_reason(stack):
    signoff = pending(stack)
    with pytest.raises(SignoffNotDecidable, match="needs a reason"):
        signoffs.decide(signoff, QA, False, "   ", table_name=TABLE)
    assert signoffs.get(signoff, TABLE)["status"] == "pending"


def test_one_person_cannot_sign_off_both_qa_and_release_management(stack):
    execution = unique_name("both")
    admin = signoffs.Reviewer("admin@mozilla.com", {"admin"})
    for role in ("qa", "relman"):
        signoffs.record_pending(
            {
                "signoff_id": signoffs.signoff_id(execution, role),
                "task_token": "no-such-token",
                "role": role,
                "execution_name": execution,
                "requested_by": "relman@mozilla.com",
                "requested_at": signoffs.now_iso(),
                "expires_at": int(time.time()) + 3600,
            },
            table_name=TABLE,
        )
    signoffs._record(
        signoffs.signoff_id(execution, "qa"),
        {
            "decision": "approved",
            "decided_by": admin.email,
            "reason": "",
            "decided_at": signoffs.now_iso(),
        },
        TABLE,
    )

    with pytest.raises(SignoffNotDecidable, match="already signed off QA for this release"):
        signoffs.decide(signoffs.signoff_id(execution, "relman"), admin, True, table_name=TABLE)
    assert signoffs.get(signoffs.signoff_id(execution, "relman"), TABLE)["status"] == "pending"


def test_a_reason_with_hidden_direction_characters_is_refused(stack):
    signoff = pending(stack)
    with pytest.raises(SignoffNotDecidable, match="control or text-direction characters"):
        signoffs.decide(signoff, QA, False, "looks fine \u202egnorw", table_name=TABLE)
    assert signoffs.get(signoff, TABLE)["status"] == "pending"
