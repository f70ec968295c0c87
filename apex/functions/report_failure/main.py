"""ReportFailure: after a rejection, a timeout or an error, undo the test channel and tell the bug.

The execution then fails with the original error and cause; this step only cleans up.
"""

import json

from sysaddons import ledger, log, signoffs
from sysaddons.balrog import BalrogClient
from sysaddons.bugzilla import BugzillaClient
from sysaddons.bundles import withdraw_addon
from sysaddons.step import step

_EXPLAINED = {
    "SignoffRejected": "a reviewer rejected it",
    "SignoffTimedOut": "no reviewer decided before the signoff expired",
    "InvalidRequest": "the request was invalid",
}


@step
def handle(event, context):
    workflow = event.workflow
    error = workflow.get("error") or {}
    name, cause = error.get("Error", "States.Unknown"), _readable(error.get("Cause", ""))

    for role in signoffs.ROLES:
        signoffs.mark_expired(signoffs.signoff_id(event.execution_name, role))

    restored = "the test channel was not changed"
    noted = ledger.read(f"test-channel/{event.execution_name}")
    if noted and "release" not in workflow:
        shipment = noted["shipment"]
        restored = withdraw_addon(
            BalrogClient(),
            shipment=shipment,
            addon_id=workflow["addon"]["id"],
            entry=noted["entry"],
            previous_entry=shipment.get("previous_entry"),
            withdrawn_base_name=f"{shipment['release']}-withdrawn",
        )
    log.event("test channel restored", outcome=restored)

    commented = False
    bug = workflow.get("tracking_bug")
    if bug:
        addon = workflow["addon"]
        why = _EXPLAINED.get(name, "a step failed")
        commented = BugzillaClient().comment_once(
            bug["id"],
            f"stopped {addon['version']} {event.execution_name}",
            f"The release of {addon['name']} {addon['version']} stopped: {why}.\n"
            f"Error: {name}\nCause: {cause}\nTest channel: {restored}.",
        )
    return {"error": name, "test_channel": restored, "bug_commented": commented}


def _readable(cause: str) -> str:
    """A rejection's cause is the decision as JSON; anything else is shown as it is."""
    try:
        decision = json.loads(cause)
    except (TypeError, ValueError):
        decision = None
    if isinstance(decision, dict) and "decided_by" in decision:
        return f"{decision['decided_by']} {decision['decision']}: {decision.get('reason') or '-'}"
    if isinstance(decision, dict) and "errorMessage" in decision:
        return str(decision["errorMessage"])
    return str(cause)[:2000]
