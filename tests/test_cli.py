"""The `sysaddons` command line, run as a release manager runs it, against the local stack."""

import json
import os
import subprocess
import sys

import pytest

from sysaddons import signoffs
from tests.conftest import make_request

TABLE = "sysaddons-signoffs"


def sysaddons(stack, *args, check=None):
    """Run the command line in its own process on the test session's local stack."""
    environment = {**os.environ, "SYSADDONS_LOCAL_STATE": str(stack.state_file)}
    environment.pop("AWS_ENDPOINT_URL_LAMBDA", None)
    done = subprocess.run(
        [sys.executable, "-m", "sysaddons_cli", "--local", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    if check is not None:
        assert done.returncode == check, done.stdout + done.stderr
    return done


def write_request(tmp_path, request) -> str:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    return str(path)


def test_start_watch_approve_and_ship_from_the_command_line(stack, tmp_path):
    request = make_request(stack, "cli", firefox_versions=["152.0"])
    started = sysaddons(stack, "--json", "start", write_request(tmp_path, request), check=0)
    name = json.loads(started.stdout)["execution"]
    assert name.startswith("cli-1-0-0-")

    waiting = sysaddons(stack, "watch", name, check=5)
    assert f"waits for QA signoff {name}-qa from sysaddons-qa@mozilla.com" in waiting.stdout
    assert "PublishToTestChannel" in waiting.stdout

    listed = json.loads(sysaddons(stack, "--json", "signoffs", check=0).stdout)
    assert f"{name}-qa" in [item["signoff_id"] for item in listed]
    assert all("task_token" not in item for item in listed)

    sysaddons(
        stack, "approve", f"{name}-qa", "--as", "qa-reviewer@mozilla.com", "--role", "qa", check=0
    )
    sysaddons(stack, "watch", name, check=5)
    sysaddons(
        stack,
        "approve",
        f"{name}-relman",
        "--as",
        "relman-reviewer@mozilla.com",
        "--role",
        "relman",
        check=0,
    )
    finished = sysaddons(stack, "watch", name, check=0)
    assert f"{name} SUCCEEDED" in finished.stdout

    status = json.loads(sysaddons(stack, "--json", "status", name, check=0).stdout)
    assert status["status"] == "SUCCEEDED"
    assert status["states"]["CloseTrackingBug"] == "done"
    recent = json.loads(sysaddons(stack, "--json", "list", "--limit", "100", check=0).stdout)
    assert {"execution": name, "addon": "cli@mozilla.org", "status": "SUCCEEDED"}.items() <= next(
        row for row in recent if row["execution"] == name
    ).items()


def test_start_refuses_a_version_another_execution_is_shipping(stack, tmp_path):
    request = make_request(stack, "cli-twice", firefox_versions=["155.0"])
    path = write_request(tmp_path, request)
    name = json.loads(sysaddons(stack, "--json", "start", path, check=0).stdout)["execution"]
    sysaddons(stack, "watch", name, check=5)

    second = sysaddons(stack, "--json", "start", path, check=2)
    assert json.loads(second.stdout)["error"] == "ReleaseInProgress"
    assert name in json.loads(second.stdout)["message"]


def test_start_refuses_a_bad_request_with_the_workflows_message(stack, tmp_path):
    request = make_request(stack, "cli-bad", firefox_versions=["153.0", "152.0"])
    refused = sysaddons(stack, "start", write_request(tmp_path, request), check=2)
    assert "firefox_versions ['153.0', '152.0']: must be listed oldest first" in refused.stderr
    executions = stack.sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"]
    assert not [e for e in executions if e["name"].startswith("cli-bad")]


def test_start_refuses_an_xpi_that_does_not_match(stack, tmp_path):
    request = make_request(stack, "cli-xpi", upload=False)
    from local_stack.example_xpi import build_xpi

    stack.upload_signed_xpi("cli-xpi/cli-xpi-1.0.0.xpi", build_xpi("other@mozilla.org", "1.0.0"))
    refused = sysaddons(stack, "--json", "start", write_request(tmp_path, request), check=2)
    assert json.loads(refused.stdout) == {
        "error": "InvalidRequest",
        "message": "addon.id 'cli-xpi@mozilla.org' does not match the XPI, whose manifest says "
        "'other@mozilla.org'",
    }


def test_decisions_refused_from_the_command_line_say_why(stack, tmp_path):
    request = make_request(stack, "cli-refused", firefox_versions=["154.0"])
    name = json.loads(
        sysaddons(stack, "--json", "start", write_request(tmp_path, request), check=0).stdout
    )["execution"]
    sysaddons(stack, "watch", name, check=5)

    wrong_role = sysaddons(
        stack,
        "approve",
        f"{name}-qa",
        "--as",
        "relman-reviewer@mozilla.com",
        "--role",
        "relman",
        check=3,
    )
    assert "may not decide a QA signoff" in wrong_role.stderr
    no_reason = sysaddons(
        stack, "reject", f"{name}-qa", "--as", "qa-reviewer@mozilla.com", "--role", "qa", check=3
    )
    assert "a rejection needs a reason" in no_reason.stderr
    sysaddons(
        stack,
        "reject",
        f"{name}-qa",
        "--as",
        "qa-reviewer@mozilla.com",
        "--role",
        "qa",
        "--reason",
        "crashes on start",
        check=0,
    )
    failed = sysaddons(stack, "watch", name, check=1)
    assert "SignoffRejected" in failed.stdout and "crashes on start" in failed.stdout
    assert signoffs.get(f"{name}-qa", TABLE)["status"] == "rejected"


@pytest.mark.parametrize("suffix", [".svg", ".png"])
def test_graph_draws_the_workflow(stack, tmp_path, suffix):
    output = tmp_path / f"graph{suffix}"
    sysaddons(stack, "graph", "--output", str(output), check=0)
    content = output.read_bytes()
    if suffix == ".svg":
        assert b"ShipToReleaseChannel" in content and content.startswith(b"<svg")
    else:
        assert content.startswith(b"\x89PNG") and len(content) > 10_000


def test_without_a_local_stack_the_command_line_says_how_to_start_one(tmp_path):
    environment = {**os.environ, "SYSADDONS_LOCAL_STATE": str(tmp_path / "none.json")}
    done = subprocess.run(
        [sys.executable, "-m", "sysaddons_cli", "--local", "list"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )
    assert done.returncode == 4
    assert "start one with ./dev ship-example --keep-running" in done.stderr
