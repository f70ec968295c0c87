"""The real definition, executed by moto, through the local Lambda endpoint and the stand-ins."""

import json
import time

import boto3

from sysaddons import signoffs
from tests.conftest import make_request, unique_name

QA = signoffs.Reviewer("qa-reviewer@mozilla.com", {"qa"})
RELMAN = signoffs.Reviewer("relman-reviewer@mozilla.com", {"relman"})
BASELINE = {"webcompat@mozilla.org": "134.1.0", "formautofill@mozilla.org": "1.2.0"}


def run(stack, request, decisions=(("qa", True, ""), ("relman", True, "")), timeout=90):
    """Start an execution, decide each signoff as it comes up, and wait for the end."""
    name = unique_name(request["addon"]["id"].split("@")[0])
    arn = stack.start_execution(request, name)
    for role, approve, reason in decisions:
        signoff = signoffs.signoff_id(name, role)
        if not _wait_pending(stack, arn, signoff, timeout):
            break
        reviewer = QA if role == "qa" else RELMAN
        signoffs.decide(signoff, reviewer, approve, reason, table_name="sysaddons-signoffs")
    return name, stack.wait_for(arn, timeout=timeout)


def _wait_pending(stack, arn, signoff, timeout) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        item = signoffs.get(signoff, table_name="sysaddons-signoffs")
        if item and item["status"] == "pending":
            return True
        if stack.sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
            return False
        time.sleep(0.2)
    raise TimeoutError(f"signoff {signoff} never became pending")


def bugs_for(stack, addon_id):
    return [bug for bug in stack.bugzilla.bugs.values() if addon_id in bug["summary"]]


def emails_about(stack, text):
    return [email for email in stack.sent_emails() if text in email["subject"]]


def served(stack, channel, firefox_version):
    """What Balrog's public endpoint serves a Firefox: add-on id to version."""
    import requests
    from xml.etree import ElementTree

    url = (f"{stack.balrog_server.url}/update/3/SystemAddons/{firefox_version}/20250101000000/"
           f"WINNT_x86_64-msvc-x64/en-US/{channel}/Windows_NT%2010.0/default/default/update.xml")
    root = ElementTree.fromstring(requests.get(url, verify=str(stack.tls.ca_path)).content)
    addons = root.find("addons")
    return {} if addons is None else {a.get("id"): a.get("version") for a in addons}


def test_happy_path_ships_the_add_on_and_closes_the_bug(stack):
    request = make_request(stack, "happy", firefox_versions=["140.0", "140.0.1"])
    name, described = run(stack, request)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    output = json.loads(described["output"])
    bug = stack.bugzilla.bugs[output["tracking_bug"]["id"]]
    assert (bug["status"], bug["resolution"]) == ("RESOLVED", "FIXED")
    assert "[go-faster-system-addon]" in bug["whiteboard"]
    assert any("Shipped happy fix 1.0.0" in c["text"] for c in bug["comments"])
    assert len(emails_about(stack, "Intent to implement: system add-on happy fix")) == 1
    for version in ("140.0", "140.0.1"):
        assert served(stack, "release", version) == {**BASELINE, "happy@mozilla.org": "1.0.0"}
    archive = boto3.client("s3").get_object(
        Bucket="sysaddons-archive", Key="pub/system-addons/happy@mozilla.org/happy-1.0.0.xpi"
    )
    assert archive["Metadata"]["sha512"] == output["checked"]["xpi"]["sha512"]
    assert output["qa_signoff"]["decided_by"] == QA.email
    assert output["relman_signoff"]["decided_by"] == RELMAN.email
