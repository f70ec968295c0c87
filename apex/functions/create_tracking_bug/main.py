"""CreateTrackingBug: file the tracking bug once, or use the one the request names."""

from sysaddons.bugzilla import ALIAS_TAKEN, WHITEBOARD, BugzillaClient
from sysaddons.errors import BugzillaRefused, InvalidRequest
from sysaddons.step import step


@step
def handle(event, context):
    request, checked = event.request, event.checked
    bugzilla = BugzillaClient()

    named = request["bugzilla"].get("bug_id")
    if named:
        named = int(named)  # 5.0 passes the schema as an integer; Bugzilla wants 5
        bug = bugzilla.find_bug(named)
        if bug is None:
            raise InvalidRequest(f"bugzilla.bug_id {named}: Bugzilla has no such bug")
        return _answer(bug, filed=False)

    # The alias comes from the add-on id and version, so a retry (or a re-run of the same
    # request) finds the bug the first attempt filed, even if that attempt's answer was lost.
    bug = bugzilla.find_bug(checked["bug_alias"])
    if bug is not None:
        if request["addon"]["id"] not in bug.summary:
            raise BugzillaRefused(
                f"alias {checked['bug_alias']} belongs to bug {bug.id} ({bug.summary!r}), "
                "which is not about this add-on"
            )
        return _answer(bug, filed=False)

    try:
        bug = bugzilla.file_bug(_new_bug(request, checked["bug_alias"]))
    except BugzillaRefused as refusal:
        if refusal.code != ALIAS_TAKEN:
            raise
        # Another run of the same request filed it between our lookup and our POST.
        bug = bugzilla.find_bug(checked["bug_alias"])
        return _answer(bug, filed=False)
    return _answer(bug, filed=True)


def _new_bug(request: dict, alias: str) -> dict:
    addon = request["addon"]
    return {
        "product": request["bugzilla"]["product"],
        "component": request["bugzilla"]["component"],
        "version": "unspecified",
        "type": "task",
        "summary": f"Ship system add-on {addon['name']} {addon['version']} ({addon['id']})",
        "description": _description(request),
        "whiteboard": WHITEBOARD,
        "alias": alias,
    }


def _description(request: dict) -> str:
    addon, timeline = request["addon"], request["timeline"]
    return "\n".join(
        [
            f"Release {addon['name']} {addon['version']} ({addon['id']}) as a system add-on",
            f"to Firefox {', '.join(request['firefox_versions'])}.",
            "",
            addon["overview"],
            "",
            f"XPI: {addon['xpi_url']}",
            f"QA signoff by: {timeline['qa_signoff_by']}",
            f"Ship by: {timeline['ship_by']}",
            f"Requested by: {request['requested_by']}",
        ]
    )


def _answer(bug, filed: bool) -> dict:
    return {"id": bug.id, "alias": bug.alias, "url": bug.url, "filed": filed}
