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
    from xml.etree import ElementTree

    import requests

    url = (
        f"{stack.balrog_server.url}/update/3/SystemAddons/{firefox_version}/20250101000000/"
        f"WINNT_x86_64-msvc-x64/en-US/{channel}/Windows_NT%2010.0/default/default/update.xml"
    )
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


def test_qa_rejection_restores_the_test_rule_and_says_why_on_the_bug(stack):
    request = make_request(stack, "rejected", firefox_versions=["141.0"])
    test_before = served(stack, "release-sysaddon", "141.0")
    name, described = run(stack, request, decisions=[("qa", False, "breaks video playback")])

    assert described["status"] == "FAILED"
    assert described["error"] == "SignoffRejected"
    assert "breaks video playback" in described["cause"]
    assert served(stack, "release-sysaddon", "141.0") == test_before
    assert "rejected@mozilla.org" not in served(stack, "release", "141.0")
    bug = bugs_for(stack, "rejected@mozilla.org")[0]
    assert bug["status"] != "RESOLVED"
    assert any(
        "a reviewer rejected it" in c["text"] and "breaks video playback" in c["text"]
        for c in bug["comments"]
    )
    item = signoffs.get(signoffs.signoff_id(name, "qa"), table_name="sysaddons-signoffs")
    assert (item["status"], item["decided_by"]) == ("rejected", QA.email)


def test_signoff_timeout_fails_with_its_own_error_and_restores_the_test_rule(stack):
    request = make_request(stack, "sleepy", firefox_versions=["142.0"], signoff_timeout_seconds=2)
    test_before = served(stack, "release-sysaddon", "142.0")
    name, described = run(stack, request, decisions=[])

    assert (described["status"], described["error"]) == ("FAILED", "SignoffTimedOut")
    assert served(stack, "release-sysaddon", "142.0") == test_before
    item = signoffs.get(signoffs.signoff_id(name, "qa"), table_name="sysaddons-signoffs")
    assert item["status"] == "expired"
    bug = bugs_for(stack, "sleepy@mozilla.org")[0]
    assert any("no reviewer decided" in c["text"] for c in bug["comments"])


def test_bugzilla_failing_twice_then_filing_gives_one_bug(stack):
    stack.bugzilla.faults.add("POST", r"^/rest/bug$", "error500", times=2)
    request = make_request(stack, "flaky", firefox_versions=["143.0"])
    _, described = run(stack, request)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert len(bugs_for(stack, "flaky@mozilla.org")) == 1
    failures = [
        e["lambdaFunctionFailedEventDetails"]["error"]
        for e in stack.history(described["executionArn"])
        if e["type"] == "LambdaFunctionFailed"
    ]
    assert failures == ["RemoteUnavailable"] * 2


def test_retry_after_lost_response_files_one_bug(stack):
    stack.bugzilla.faults.add("POST", r"^/rest/bug$", "lost_response", times=1)
    request = make_request(stack, "lost", firefox_versions=["144.0"])
    _, described = run(stack, request)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    bugs = bugs_for(stack, "lost@mozilla.org")
    assert len(bugs) == 1
    assert len(emails_about(stack, "Intent to implement: system add-on lost fix")) == 1
    output = json.loads(described["output"])
    assert output["tracking_bug"]["filed"] is False  # the retry found the bug by its alias


def test_invalid_request_fails_at_once_and_creates_nothing(stack):
    bugs, releases, rules = (
        len(stack.bugzilla.bugs),
        dict(stack.balrog.releases),
        dict(stack.balrog.rules),
    )
    emails = len(stack.sent_emails())
    archive = boto3.client("s3").list_objects_v2(Bucket="sysaddons-archive").get("KeyCount", 0)
    request = make_request(
        stack, "mismatch", version="2.0.0", upload=False, firefox_versions=["145.0"]
    )
    from local_stack.example_xpi import build_xpi

    stack.upload_signed_xpi(
        "mismatch/mismatch-2.0.0.xpi", build_xpi("mismatch@mozilla.org", "1.9.0")
    )
    name, described = run(stack, request)

    assert (described["status"], described["error"]) == ("FAILED", "InvalidRequest")
    assert "addon.version '2.0.0' does not match the XPI" in described["cause"]
    assert len(stack.bugzilla.bugs) == bugs
    assert stack.balrog.releases.keys() == releases.keys() and stack.balrog.rules == rules
    assert len(stack.sent_emails()) == emails
    assert (
        boto3.client("s3").list_objects_v2(Bucket="sysaddons-archive").get("KeyCount", 0)
        == archive
    )
    assert signoffs.get(signoffs.signoff_id(name, "qa"), table_name="sysaddons-signoffs") is None
    states = [
        e["stateEnteredEventDetails"]["name"]
        for e in stack.history(described["executionArn"])
        if e["type"].endswith("StateEntered")
    ]
    assert states == ["CheckRequestIsAnObject", "ValidateRequest", "ReportFailure", "Stopped"]


def test_release_keeps_both_other_add_ons_exactly_as_they_were(stack):
    from local_stack.stack import BASELINE_ADDONS

    request = make_request(stack, "bundled", firefox_versions=["146.0"])
    _, described = run(stack, request)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    release = json.loads(described["output"])["release"]["release"]
    addons = stack.balrog.releases[release]["blob"]["addons"]
    assert {key: addons[key] for key in BASELINE_ADDONS} == BASELINE_ADDONS
    assert addons["formautofill@mozilla.org"]["platforms"]["default"] == {
        "alias": "WINNT_x86_64-msvc-x64"
    }
    assert served(stack, "release", "146.0") == {**BASELINE, "bundled@mozilla.org": "1.0.0"}
    assert served(stack, "release", "139.0") == BASELINE  # other versions are not touched


def test_rerunning_a_shipped_request_files_sends_and_uploads_nothing_again(stack):
    request = make_request(stack, "again", firefox_versions=["147.0"])
    _, first = run(stack, request)
    releases, emails = len(stack.balrog.releases), len(stack.sent_emails())

    _, second = run(stack, request)

    assert (first["status"], second["status"]) == ("SUCCEEDED", "SUCCEEDED")
    output = json.loads(second["output"])
    assert output["tracking_bug"]["filed"] is False
    assert output["intent_to_implement"]["email"] == "already sent"
    assert output["staged_xpi"]["uploaded"] is False
    assert output["test_channel"]["already_served"] is True
    assert output["release"]["already_served"] is True
    assert len(bugs_for(stack, "again@mozilla.org")) == 1
    assert len(stack.balrog.releases) == releases
    # Only the new signoff requests are emailed: one to QA, one to release management.
    assert len(stack.sent_emails()) == emails + 2
    assert served(stack, "release", "147.0") == {**BASELINE, "again@mozilla.org": "1.0.0"}


def test_balrog_conflict_is_re_read_and_re_merged_never_overwritten(stack):
    from local_stack.stack import BASELINE_ADDONS, BASELINE_RELEASE

    rule_id = stack.balrog.seed_rule(
        product="SystemAddons",
        channel="release",
        version="149.0",
        mapping=BASELINE_RELEASE,
        backgroundRate=100,
        priority=60,
        update_type="minor",
    )
    rival = {
        "version": "2.0.0",
        "platforms": {
            "default": {
                "fileUrl": "https://archive.localhost/pub/system-addons/rival@mozilla.org/rival-2.0.0.xpi",
                "hashValue": "c" * 128,
                "filesize": 4242,
            }
        },
    }

    def another_release_manager_ships_rival():
        stack.balrog.seed_release(
            "SystemAddons-rival-2.0.0",
            {
                "name": "SystemAddons-rival-2.0.0",
                "schema_version": 5000,
                "hashFunction": "sha512",
                "addons": {**BASELINE_ADDONS, "rival@mozilla.org": rival},
            },
        )
        rule = stack.balrog.rules[rule_id]
        rule["mapping"], rule["data_version"] = (
            "SystemAddons-rival-2.0.0",
            rule["data_version"] + 1,
        )

    stack.balrog.before_next_write(
        "POST", rf"/api/rules/{rule_id}", another_release_manager_ships_rival
    )
    request = make_request(stack, "racer", firefox_versions=["149.0"])
    _, described = run(stack, request)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert served(stack, "release", "149.0") == {
        **BASELINE,
        "rival@mozilla.org": "2.0.0",
        "racer@mozilla.org": "1.0.0",
    }
    release = json.loads(described["output"])["release"]
    assert release["rule_id"] == rule_id
    assert (
        stack.balrog.releases[release["release"]]["blob"]["addons"]["rival@mozilla.org"] == rival
    )
    refused = [r for r in stack.balrog.requests if r[:2] == ("POST", f"/api/rules/{rule_id}")]
    assert [status for _, _, status in refused] == [400, 200]


def test_a_request_that_is_not_an_object_is_refused_as_invalid(stack):
    for number, text in enumerate(["[1, 2]", '"ship it"', "null", '{"name": "x"}']):
        arn = stack.sfn.start_execution(
            stateMachineArn=stack.state_machine_arn, name=unique_name("shapeless"), input=text
        )["executionArn"]
        described = stack.wait_for(arn, timeout=30)
        assert (described["status"], described["error"]) == ("FAILED", "InvalidRequest"), text
        assert "must be a JSON object with an addon section" in described["cause"]


def test_starting_the_same_request_twice_ships_it_once(stack):
    request = make_request(stack, "doubled", firefox_versions=["151.0"])
    first = stack.start_execution(request, unique_name("doubled"))
    _wait_pending(stack, first, signoffs.signoff_id(first.rsplit(":", 1)[1], "qa"), 60)

    _, second = run(stack, request, decisions=[])

    assert (second["status"], second["error"]) == ("FAILED", "ReleaseInProgress")
    assert first.rsplit(":", 1)[1] in second["cause"]
    name = first.rsplit(":", 1)[1]
    for role, reviewer in (("qa", QA), ("relman", RELMAN)):
        _wait_pending(stack, first, signoffs.signoff_id(name, role), 60)
        signoffs.decide(
            signoffs.signoff_id(name, role), reviewer, True, table_name="sysaddons-signoffs"
        )
    assert stack.wait_for(first)["status"] == "SUCCEEDED"
    assert len(bugs_for(stack, "doubled@mozilla.org")) == 1
    assert served(stack, "release", "151.0") == {**BASELINE, "doubled@mozilla.org": "1.0.0"}
