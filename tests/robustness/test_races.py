"""Races: many add-ons on one rule at once, one request started twice, two reviewers at once."""

import threading

from local_stack.race import race_settings
from local_stack.soak import format_report, run_soak, served_versions
from local_stack.stack import BASELINE_ADDONS
from sysaddons import signoffs
from sysaddons.errors import SignoffNotDecidable
from tests.conftest import make_request, unique_name
from tests.robustness.test_nothing_made_twice import duplicates, family
from tests.test_workflow_end_to_end import QA, RELMAN, _wait_pending, bugs_for, emails_about

TABLE = "sysaddons-signoffs"


def test_twenty_add_ons_on_the_same_rule_at_once_all_end_up_in_the_bundle(stack):
    report = run_soak(stack, race_settings(name="racer", first_firefox=185))

    assert report.exact, format_report(report)
    assert all(len(addon.executions) == 1 for addon in report.addons)
    assert report.conflicts > 0  # the writes did collide, and were re-read and re-merged
    for firefox in ("185.0", "185.0.1"):
        served = served_versions(stack, "release", firefox)
        assert served == {
            **{addon_id: entry["version"] for addon_id, entry in BASELINE_ADDONS.items()},
            **{addon.addon_id: addon.version for addon in report.addons},
        }


def test_the_same_request_started_at_the_same_moment_ships_once(stack):
    request = make_request(stack, "twin", firefox_versions=["186.0"])
    names = [unique_name("twin") for _ in range(4)]
    barrier = threading.Barrier(len(names))
    arns = {}

    def start(name):
        barrier.wait()
        arns[name] = stack.start_execution(request, name)

    threads = [threading.Thread(target=start, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    ended = {}
    for name in names:
        for role, reviewer in (("qa", QA), ("relman", RELMAN)):
            if _wait_pending(stack, arns[name], signoffs.signoff_id(name, role), 60):
                signoffs.decide(signoffs.signoff_id(name, role), reviewer, True, table_name=TABLE)
        ended[name] = stack.wait_for(arns[name], timeout=90)

    shipped = [name for name, described in ended.items() if described["status"] == "SUCCEEDED"]
    assert len(shipped) == 1, {name: d.get("error") for name, d in ended.items()}
    for name, described in ended.items():
        if name in shipped:
            continue
        assert (described["status"], described["error"]) == ("FAILED", "ReleaseInProgress")
        assert f"already being shipped by execution {shipped[0]}" in described["cause"]
    assert len(bugs_for(stack, "twin@mozilla.org")) == 1
    assert len(emails_about(stack, "Intent to implement: system add-on twin fix 1.0.0")) == 1
    assert duplicates(family(stack, "SystemAddons-twin-1.0.0")) == []
    assert served_versions(stack, "release", "186.0")["twin@mozilla.org"] == "1.0.0"


def test_an_approval_and_a_rejection_at_the_same_moment_record_and_send_one(stack):
    request = make_request(stack, "torn", firefox_versions=["187.0"])
    name = unique_name("torn")
    arn = stack.start_execution(request, name)
    signoff = signoffs.signoff_id(name, "qa")
    assert _wait_pending(stack, arn, signoff, 60)
    barrier = threading.Barrier(2)
    outcomes = {}

    def decide(email, approve):
        barrier.wait()
        try:
            signoffs.decide(
                signoff,
                signoffs.Reviewer(email, {"qa"}),
                approve,
                "" if approve else "the video test fails",
                table_name=TABLE,
            )
            outcomes[email] = "recorded"
        except SignoffNotDecidable as refusal:
            outcomes[email] = str(refusal)

    threads = [
        threading.Thread(target=decide, args=("qa-one@mozilla.com", True)),
        threading.Thread(target=decide, args=("qa-two@mozilla.com", False)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [email for email, outcome in outcomes.items() if outcome == "recorded"]
    assert len(winners) == 1, outcomes
    item = signoffs.get(signoff, TABLE)
    assert item["decided_by"] == winners[0]
    if item["status"] == signoffs.REJECTED:
        described = stack.wait_for(arn, timeout=60)
        assert (described["status"], described["error"]) == ("FAILED", "SignoffRejected")
    else:
        relman = signoffs.signoff_id(name, "relman")
        assert _wait_pending(stack, arn, relman, 60)  # the approval went through, once
        signoffs.decide(relman, RELMAN, False, "stop here", table_name=TABLE)
        assert stack.wait_for(arn, timeout=60)["error"] == "SignoffRejected"
