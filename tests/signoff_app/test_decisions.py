"""Approving and rejecting from the app, and every refusal: each leaves the signoff as it was."""

import time

import boto3
from botocore.exceptions import EndpointConnectionError

from local_stack.stack import SIGNOFF_TABLE
from sysaddons import signoffs
from tests.signoff_app.conftest import QA, audit_lines, csrf_token, post_form, sign_in


def approve(client, signoff_id: str):
    """Press Approve on the signoff's page."""
    return post_form(client, f"/signoffs/{signoff_id}", f"/signoffs/{signoff_id}/approve")


def reject(client, signoff_id: str, reason: str):
    """Press Reject on the signoff's page with a reason."""
    return post_form(
        client, f"/signoffs/{signoff_id}", f"/signoffs/{signoff_id}/reject", reason=reason
    )


def test_qa_approval_is_recorded_and_the_workflow_asks_release_management(
    client, waiting_for_qa, capsys
):
    signoff = waiting_for_qa.signoff("qa")
    sign_in(client, "qa-reviewer@mozilla.com")

    answer = approve(client, signoff)

    assert answer.status_code == 303
    assert answer.headers["Location"] == f"/signoffs/{signoff}"
    item = waiting_for_qa.record("qa")
    assert (item["status"], item["decided_by"]) == ("approved", "qa-reviewer@mozilla.com")
    waiting_for_qa.wait_pending("relman")
    page = client.get(answer.headers["Location"]).text
    assert "You approved" in page and "Approved by qa-reviewer@mozilla.com" in page
    decisions = [
        line for line in audit_lines(capsys.readouterr().err) if line["event"] == "decision"
    ]
    assert decisions == [
        {
            **decisions[0],
            "signoff": signoff,
            "decision": "approved",
            "user": "qa-reviewer@mozilla.com",
            "role": "qa",
        }
    ]


def test_rejection_sends_who_why_and_when_to_the_state_machine(client, waiting_for_qa):
    sign_in(client, "qa-reviewer@mozilla.com")

    answer = reject(client, waiting_for_qa.signoff("qa"), "crashes on startup")

    assert answer.status_code == 303
    described = waiting_for_qa.wait_for_end()
    assert described["status"] == "FAILED"
    assert described["error"] == "SignoffRejected"
    item = waiting_for_qa.record("qa")
    assert (item["status"], item["reason"]) == ("rejected", "crashes on startup")
    assert item["decided_at"]


def test_a_rejection_needs_a_reason(client, waiting_for_qa):
    sign_in(client, "qa-reviewer@mozilla.com")

    answer = reject(client, waiting_for_qa.signoff("qa"), "   ")

    assert answer.status_code == 400
    assert "a rejection needs a reason" in answer.text
    assert waiting_for_qa.record("qa")["status"] == "pending"


def test_qa_cannot_decide_a_release_management_signoff(client, waiting_for_relman, capsys):
    sign_in(client, "qa-reviewer@mozilla.com")

    answer = approve(client, waiting_for_relman.signoff("relman"))

    assert answer.status_code == 403
    assert "may not decide a release management signoff" in answer.text
    assert waiting_for_relman.record("relman")["status"] == "pending"
    refusals = [
        line for line in audit_lines(capsys.readouterr().err) if line["event"] == "refusal"
    ]
    assert refusals[-1]["signoff"] == waiting_for_relman.signoff("relman")


def test_release_management_cannot_decide_a_qa_signoff(client, waiting_for_qa):
    sign_in(client, "relman-reviewer@mozilla.com")

    answer = reject(client, waiting_for_qa.signoff("qa"), "not mine to reject")

    assert answer.status_code == 403
    assert waiting_for_qa.record("qa")["status"] == "pending"


def test_whoever_started_the_release_cannot_sign_it_off(client, waiting_for_relman):
    sign_in(client, "relman@mozilla.com")
    page = client.get(f"/signoffs/{waiting_for_relman.signoff('relman')}").text
    assert "started this release and may not sign it off" in page
    assert "/approve" not in page

    answer = approve(client, waiting_for_relman.signoff("relman"))

    assert answer.status_code == 403
    assert waiting_for_relman.record("relman")["status"] == "pending"


def test_self_signoff_is_allowed_when_configured(stack, waiting_for_relman):
    from apps.signoff import create_app
    from apps.signoff.local import local_settings

    client = create_app({**local_settings(stack), "ALLOW_SELF_SIGNOFF": True}).test_client()
    sign_in(client, "relman@mozilla.com")

    answer = approve(client, waiting_for_relman.signoff("relman"))

    assert answer.status_code == 303
    assert waiting_for_relman.wait_for_end()["status"] == "SUCCEEDED"


def test_an_admin_may_decide_either_role(client, waiting_for_qa):
    sign_in(client, "admin@mozilla.com")

    assert approve(client, waiting_for_qa.signoff("qa")).status_code == 303
    assert waiting_for_qa.record("qa")["decided_by"] == "admin@mozilla.com"


def test_a_second_decision_is_refused_and_changes_nothing(client, waiting_for_qa):
    signoff = waiting_for_qa.signoff("qa")
    sign_in(client, "qa-reviewer@mozilla.com")
    page = client.get(f"/signoffs/{signoff}").text
    assert approve(client, signoff).status_code == 303

    # The same page, still open in another tab, submitted again: a rejection this time.
    answer = client.post(
        f"/signoffs/{signoff}/reject",
        data={"csrf_token": csrf_token(page), "reason": "changed my mind"},
    )

    assert answer.status_code == 409
    assert "already approved by qa-reviewer@mozilla.com" in answer.text
    item = waiting_for_qa.record("qa")
    assert (item["status"], item["reason"]) == ("approved", "")


def test_a_decision_after_the_token_expired_is_refused(client, waiting_for_qa):
    signoff = waiting_for_qa.signoff("qa")
    boto3.resource("dynamodb").Table(SIGNOFF_TABLE).update_item(
        Key={"signoff_id": signoff},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": int(time.time()) - 60},
    )
    sign_in(client, "qa-reviewer@mozilla.com")

    answer = approve(client, signoff)

    assert answer.status_code == 409
    assert "expired at" in answer.text
    assert waiting_for_qa.record("qa")["status"] == "expired"
    assert waiting_for_qa.status() == "RUNNING"


def test_a_decision_after_the_execution_ended_is_refused(client, waiting_for_qa):
    # An execution stopped by hand ends without marking its signoffs: the record still says
    # pending. (moto keeps a stopped execution running while it waits for a token, so the
    # test ends the execution by a rejection and then puts the record back to pending.)
    signoff = waiting_for_qa.signoff("qa")
    signoffs.decide(signoff, QA, False, "stop it", table_name=SIGNOFF_TABLE)
    assert waiting_for_qa.wait_for_end()["status"] == "FAILED"
    boto3.resource("dynamodb").Table(SIGNOFF_TABLE).update_item(
        Key={"signoff_id": signoff},
        UpdateExpression="SET #s = :pending REMOVE decided_by, reason, decided_at",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":pending": "pending"},
    )
    sign_in(client, "qa-reviewer@mozilla.com")

    answer = approve(client, signoff)

    assert answer.status_code == 409
    assert "has ended and no longer waits for this signoff" in answer.text
    item = waiting_for_qa.record("qa")
    assert item["status"] == "expired" and "decided_by" not in item


def test_step_functions_out_of_reach_leaves_the_signoff_decidable(app, waiting_for_qa):
    real = app.extensions["signoff_stepfunctions"]
    app.extensions["signoff_stepfunctions"] = _Unreachable(real)
    client = app.test_client()
    sign_in(client, "qa-reviewer@mozilla.com")

    answer = approve(client, waiting_for_qa.signoff("qa"))

    assert answer.status_code == 503
    assert "could not be reached" in answer.text
    assert waiting_for_qa.record("qa")["status"] == "pending"
    app.extensions["signoff_stepfunctions"] = real
    assert approve(client, waiting_for_qa.signoff("qa")).status_code == 303
    waiting_for_qa.wait_pending("relman")


def test_a_post_without_csrf_token_is_refused(client, waiting_for_qa, capsys):
    sign_in(client, "qa-reviewer@mozilla.com")

    answer = client.post(f"/signoffs/{waiting_for_qa.signoff('qa')}/approve")

    assert answer.status_code == 400
    assert "did not come from this site" in answer.text
    assert waiting_for_qa.record("qa")["status"] == "pending"
    refusals = [
        line for line in audit_lines(capsys.readouterr().err) if line["event"] == "refusal"
    ]
    assert "CSRF" in refusals[-1]["reason"]


def test_a_post_with_another_sessions_csrf_token_is_refused(app, waiting_for_qa):
    signoff = waiting_for_qa.signoff("qa")
    mallory = app.test_client()
    sign_in(mallory, "admin@mozilla.com")
    forged = csrf_token(mallory.get(f"/signoffs/{signoff}").text)
    victim = app.test_client()
    sign_in(victim, "qa-reviewer@mozilla.com")

    answer = victim.post(f"/signoffs/{signoff}/approve", data={"csrf_token": forged})

    assert answer.status_code == 400
    assert waiting_for_qa.record("qa")["status"] == "pending"


def test_anonymous_decisions_are_refused(client, waiting_for_qa):
    token = csrf_token(client.get("/login").text)
    for action in ("approve", "reject"):
        answer = client.post(
            f"/signoffs/{waiting_for_qa.signoff('qa')}/{action}",
            data={"csrf_token": token, "reason": "x"},
        )
        assert answer.status_code == 401
        assert "Please sign in first" in answer.text
    assert waiting_for_qa.record("qa")["status"] == "pending"


def test_the_decision_line_names_no_token_and_no_cookie(client, waiting_for_qa, capsys):
    token = waiting_for_qa.record("qa")["task_token"]
    sign_in(client, "qa-reviewer@mozilla.com")
    approve(client, waiting_for_qa.signoff("qa"))

    logged = capsys.readouterr().err
    cookie = client.get_cookie("signoff").value
    assert audit_lines(logged)
    assert token not in logged and cookie not in logged


class _Unreachable:
    """A Step Functions client whose decisions never arrive; everything else works."""

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def send_task_success(self, **kwargs):
        """Fail as a dropped connection does."""
        raise EndpointConnectionError(endpoint_url="https://states.us-east-1.amazonaws.com")

    send_task_failure = send_task_success
