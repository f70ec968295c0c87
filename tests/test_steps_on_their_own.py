"""Each step's Lambda invoked on its own through the local endpoint, as Step Functions would."""

import json

import boto3
import pytest

from local_stack.example_xpi import build_xpi
from sysaddons import signoffs
from tests.conftest import invoke, make_request, step_event, unique_name


def validated(lambda_client, request, name):
    checked, error = invoke(
        lambda_client, "validate_request", step_event(request, name, "ValidateRequest")
    )
    assert error is None, checked
    return checked


def test_validate_request_reports_the_xpi_facts(stack, lambda_client):
    request = make_request(stack, "facts", version="3.1.4")
    checked = validated(lambda_client, request, unique_name("facts"))

    assert checked["release_name"] == "SystemAddons-facts-3.1.4"
    assert checked["bug_alias"] == "sysaddon-facts-3.1.4"
    assert checked["xpi"]["filename"] == "facts-3.1.4.xpi"
    assert len(checked["xpi"]["sha512"]) == 128 and checked["xpi"]["size"] > 0
    assert checked["signoff_timeout_seconds"] == 604800


@pytest.mark.parametrize(
    "change, message",
    [
        ({"firefox_versions": ["134.0.1", "134.0"]}, "must be listed oldest first"),
        ({"firefox_versions": ["120.0"]}, "older than the add-on's strict_min_version 128.0"),
        (
            {"timeline": {"qa_signoff_by": "2026-12-20", "ship_by": "2026-12-01"}},
            "timeline.ship_by 2026-12-01 is before timeline.qa_signoff_by",
        ),
        ({"requested_by": 42}, "requested_by 42: must be the email address"),
        (
            {"bugzilla": {"product": "Firefox"}},
            "must name an existing bug_id, or the product and component",
        ),
    ],
)
def test_validate_request_names_the_field_at_fault(stack, lambda_client, change, message):
    request = make_request(stack, "faulty", **change)
    answer, error = invoke(
        lambda_client,
        "validate_request",
        step_event(request, unique_name("faulty"), "ValidateRequest"),
    )
    assert error == "InvalidRequest"
    assert message in answer["errorMessage"]


def test_validate_request_refuses_an_unsigned_xpi(stack, lambda_client):
    request = make_request(stack, "unsigned", upload=False)
    stack.upload_signed_xpi(
        "unsigned/unsigned-1.0.0.xpi", build_xpi("unsigned@mozilla.org", "1.0.0", signed=False)
    )
    answer, error = invoke(
        lambda_client,
        "validate_request",
        step_event(request, unique_name("unsigned"), "ValidateRequest"),
    )
    assert error == "InvalidRequest"
    assert "is not signed: META-INF/ lacks" in answer["errorMessage"]


def test_validate_request_refuses_a_bucket_it_does_not_take_xpis_from(stack, lambda_client):
    request = make_request(stack, "elsewhere")
    request["addon"]["xpi_url"] = "s3://someone-elses-bucket/elsewhere-1.0.0.xpi"
    answer, error = invoke(
        lambda_client,
        "validate_request",
        step_event(request, unique_name("elsewhere"), "ValidateRequest"),
    )
    assert error == "InvalidRequest"
    assert (
        "bucket 'someone-elses-bucket' is not one the workflow takes XPIs from"
        in answer["errorMessage"]
    )


def test_create_tracking_bug_twice_files_one_bug(stack, lambda_client):
    request = make_request(stack, "twice")
    name = unique_name("twice")
    checked = validated(lambda_client, request, name)
    event = step_event(request, name, "CreateTrackingBug", checked=checked)

    first, error = invoke(lambda_client, "create_tracking_bug", event)
    second, error_again = invoke(lambda_client, "create_tracking_bug", event)

    assert (error, error_again) == (None, None)
    assert first["filed"] is True and second["filed"] is False
    assert first["id"] == second["id"]
    bug = stack.bugzilla.bugs[first["id"]]
    assert bug["whiteboard"] == "[go-faster-system-addon]"
    assert bug["product"] == "Firefox" and bug["component"] == "System Add-ons"


def test_create_tracking_bug_uses_the_bug_the_request_names(stack, lambda_client):
    request = make_request(stack, "named")
    name = unique_name("named")
    checked = validated(lambda_client, request, name)
    existing, _ = invoke(
        lambda_client,
        "create_tracking_bug",
        step_event(request, name, "CreateTrackingBug", checked=checked),
    )
    bugs_before = len(stack.bugzilla.bugs)

    request["bugzilla"] = {"bug_id": existing["id"]}
    answer, error = invoke(
        lambda_client,
        "create_tracking_bug",
        step_event(request, name, "CreateTrackingBug", checked=checked),
    )
    assert error is None and answer["id"] == existing["id"] and answer["filed"] is False
    assert len(stack.bugzilla.bugs) == bugs_before

    request["bugzilla"] = {"bug_id": 99999999}
    answer, error = invoke(
        lambda_client,
        "create_tracking_bug",
        step_event(request, name, "CreateTrackingBug", checked=checked),
    )
    assert error == "InvalidRequest" and "no such bug" in answer["errorMessage"]


def test_unknown_bugzilla_component_is_an_invalid_request(stack, lambda_client):
    request = make_request(
        stack, "nocomponent", bugzilla={"product": "Firefox", "component": "Nope"}
    )
    name = unique_name("nocomponent")
    checked = validated(lambda_client, request, name)
    answer, error = invoke(
        lambda_client,
        "create_tracking_bug",
        step_event(request, name, "CreateTrackingBug", checked=checked),
    )
    assert error == "InvalidRequest"
    assert "There is no component named 'Nope'" in answer["errorMessage"]


def _through_bug(stack, lambda_client, shortname):
    request = make_request(stack, shortname)
    name = unique_name(shortname)
    checked = validated(lambda_client, request, name)
    bug, _ = invoke(
        lambda_client,
        "create_tracking_bug",
        step_event(request, name, "CreateTrackingBug", checked=checked),
    )
    return request, name, {"checked": checked, "tracking_bug": bug}


def test_intent_to_implement_is_sent_once_however_often_the_step_runs(stack, lambda_client):
    request, name, state = _through_bug(stack, lambda_client, "intent")
    event = step_event(request, name, "SendIntentToImplement", **state)

    answers = [invoke(lambda_client, "send_intent_to_implement", event)[0] for _ in range(3)]

    assert [a["email"] for a in answers] == ["sent", "already sent", "already sent"]
    emails = [e for e in stack.sent_emails() if "intent fix" in e["subject"]]
    assert len(emails) == 1 and emails[0]["to"] == ["release-drivers@mozilla.org"]
    assert state["tracking_bug"]["url"] in emails[0]["body"]
    comments = stack.bugzilla.bugs[state["tracking_bug"]["id"]]["comments"]
    assert sum("Intent to implement sent" in c["text"] for c in comments) == 1


def test_stage_xpi_skips_same_bytes_and_refuses_different_bytes(stack, lambda_client):
    request, name, state = _through_bug(stack, lambda_client, "staged")
    event = step_event(request, name, "StageXpi", **state)

    first, _ = invoke(lambda_client, "stage_xpi", event)
    second, _ = invoke(lambda_client, "stage_xpi", event)
    assert (first["uploaded"], second["uploaded"]) == (True, False)
    key = "pub/system-addons/staged@mozilla.org/staged-1.0.0.xpi"
    assert first["key"] == key

    s3 = boto3.client("s3")
    s3.put_object(
        Bucket="sysaddons-archive", Key=key, Body=b"other bytes", Metadata={"sha512": "0" * 128}
    )
    answer, error = invoke(lambda_client, "stage_xpi", event)
    assert error == "StagingConflict"
    assert "never overwritten" in answer["errorMessage"]
    assert s3.get_object(Bucket="sysaddons-archive", Key=key)["Body"].read() == b"other bytes"


def test_request_signoff_retried_records_one_signoff_and_tells_reviewers_once(
    stack, lambda_client
):
    request, name, state = _through_bug(stack, lambda_client, "asking")
    staged, _ = invoke(lambda_client, "stage_xpi", step_event(request, name, "StageXpi", **state))
    state["staged_xpi"] = staged
    published, error = invoke(
        lambda_client,
        "publish_to_test_channel",
        step_event(request, name, "PublishToTestChannel", **state),
    )
    assert error is None, published
    state["test_channel"] = published

    for token in ("first-token", "token-of-the-retry"):
        event = step_event(request, name, "RequestQaSignoff", **state)
        event.update(task_token=token, role="qa")
        answer, error = invoke(lambda_client, "request_signoff", event)
        assert error is None, answer

    item = signoffs.get(signoffs.signoff_id(name, "qa"), table_name="sysaddons-signoffs")
    assert item["task_token"] == "token-of-the-retry" and item["status"] == "pending"
    assert item["changes"] == published["changes"]
    assert (
        len([e for e in stack.sent_emails() if "QA signoff needed: asking fix" in e["subject"]])
        == 1
    )
    comments = stack.bugzilla.bugs[state["tracking_bug"]["id"]]["comments"]
    assert sum("waits for QA signoff" in c["text"] for c in comments) == 1


def test_the_definition_passes_statelint(tmp_path):
    import subprocess
    import sys

    from local_stack.definition import local_function_arn, render

    rendered = tmp_path / "definition.json"
    rendered.write_text(render(local_function_arn))
    linted = subprocess.run(
        [sys.executable, "-m", "statelint", str(rendered)], capture_output=True, text=True
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr
    states = json.loads(rendered.read_text())["States"]
    assert states["Stopped"]["ErrorPath"] == "$.error.Error"


def test_statelint_catches_a_broken_definition(tmp_path):
    import subprocess
    import sys

    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"StartAt": "Nowhere", "States": {"A": {"Type": "Succeed"}}}))
    linted = subprocess.run(
        [sys.executable, "-m", "statelint", str(broken)], capture_output=True, text=True
    )
    assert linted.returncode != 0
