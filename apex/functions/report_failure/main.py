"""ReportFailure: after a rejection, a timeout or an error, undo the test channel and tell the bug.

The step answers the error again, same name, with a cause a person can read (who rejected
and why, rather than the decision's JSON), plus what it cleaned up; the execution then
fails with that error and cause.
"""

import json

from sysaddons import ledger, log, signoffs
from sysaddons.balrog import BalrogClient
from sysaddons.bugzilla import BugzillaClient
from sysaddons.bundles import withdraw_addon
from sysaddons.inflight import let_go
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
    name = error.get("Error", "States.Unknown")
    cause = _readable(error.get("Cause")) or _rejection_from_record(event.execution_name, name)

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
    addon = workflow.get("addon") if isinstance(workflow.get("addon"), dict) else {}
    if isinstance(addon.get("id"), str) and isinstance(addon.get("version"), str):
        let_go(addon["id"], addon["version"], event.execution)
    return {
        "Error": name,
        "Cause": cause,
        "report": {"test_channel": restored, "bug_commented": commented},
    }


def _rejection_from_record(execution_name: str, name: str) -> str:
    """Who rejected and why, from the signoff table, for a rejection that arrived without its
    cause (moto's SendTaskFailure drops the cause; the table always has the decision)."""
    if name != "SignoffRejected":
        return ""
    for role in signoffs.ROLES:
        item = signoffs.get(signoffs.signoff_id(execution_name, role))
        if item and item.get("status") == signoffs.REJECTED:
            return f"{item['decided_by']} rejected: {item.get('reason') or '-'}"
    return ""


def _readable(cause) -> str:
    """A rejection's cause is the decision as JSON; anything else is shown as it is."""
    if not cause:
        return ""
    try:
        decision = json.loads(cause)
    except (TypeError, ValueError):
        decision = None
    if isinstance(decision, dict) and "decided_by" in decision:
        return f"{decision['decided_by']} {decision['decision']}: {decision.get('reason') or '-'}"
    if isinstance(decision, dict) and "errorMessage" in decision:
        return str(decision["errorMessage"])
    return str(cause)[:2000]
