"""CloseTrackingBug: say on the bug what shipped, then resolve it FIXED."""

from sysaddons.bugzilla import BugzillaClient
from sysaddons.inflight import let_go
from sysaddons.step import step


@step
def handle(event, context):
    request, workflow = event.request, event.workflow
    addon, release, bug = request["addon"], workflow["release"], workflow["tracking_bug"]
    qa, relman = workflow["qa_signoff"], workflow["relman_signoff"]
    bugzilla = BugzillaClient()

    text = "\n".join(
        [
            f"Shipped {addon['name']} {addon['version']} ({addon['id']}) to Firefox "
            f"{', '.join(request['firefox_versions'])} on the {release['channel']} channel.",
            f"Balrog release: {release['release']} (rule {release['rule_id']})",
            f"XPI: {workflow['staged_xpi']['url']}",
            f"sha512: {workflow['staged_xpi']['sha512']}",
            f"QA signoff: {qa['decided_by']} at {qa['decided_at']}",
            f"Release management signoff: {relman['decided_by']} at {relman['decided_at']}",
        ]
    )
    commented = bugzilla.comment_once(bug["id"], f"shipped {addon['version']}", text)
    resolved = bugzilla.resolve_fixed(bug["id"])
    let_go(addon["id"], addon["version"], event.execution)
    return {"bug_commented": commented, "resolved": resolved, "status": "RESOLVED FIXED"}
